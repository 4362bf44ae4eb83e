/* SPDX-License-Identifier: ISC */
#ifndef SUPERVISORD_CGROUP_H
#define SUPERVISORD_CGROUP_H

#include <stdbool.h>
#include <stdint.h>
#include <sys/types.h>

struct conn;
struct daemon;
struct json_object;
struct msg;
struct pod;
struct textbuf;

/*
 * Per-pod resource limits through cgroup v2 (docs/isolation.md
 * "Resource limits").  At start podvisord finds the subtree delegated to
 * it (common/cgroup2.h), moves itself into the leaf <root>/podvisord and
 * enables memory, pids and cpu for its children; every pod's worker, and
 * so everything it starts, runs in <root>/pod-NAME with the pod's
 * memory.max, memory.swap.max, pids.max and cpu.weight.  Without a
 * delegated subtree pods run as before and limits are refused.
 */

/*
 * A pod's limits; 0 = not set (no limit, cpu.weight 100).  Without
 * swap_set, a pod with a memory limit gets memory.swap.max 0.
 */
struct pod_limits {
	int64_t memory; /* bytes: memory.max */
	int64_t memory_swap; /* bytes: memory.swap.max, if swap_set */
	int64_t pids; /* pids.max */
	int64_t cpu_weight; /* cpu.weight, 1..10000 */
	bool swap_set;
};

/* At start: probe (PODVISOR_CGROUP_ROOT, else own cgroup), set up. */
void cgroup_init(struct daemon *d);
void cgroup_free(struct daemon *d);
/* Pods get cgroups here. */
bool cgroup_usable(const struct daemon *d);
/* The hello event's "cgroups" object (new reference). */
struct json_object *cgroup_hello(const struct daemon *d);

/*
 * spawn / spawn_pod "limits": the config's (user) or the parent's
 * (child) limits, narrowed by the request.  A refusal is sent on c
 * (bad_params / not_subset naming the field, or the reason cgroups
 * cannot hold the limits) and returns -1.
 */
int cgroup_spawn_params(struct daemon *d, const struct pod *viewer,
	struct conn *c, const struct msg *m, struct pod_limits *lim);

/* Pod state "limits" (absent: none). */
void cgroup_to_state(const struct pod *p, struct json_object *o);
int cgroup_from_state(struct pod *p, struct json_object *o, char **reterr);

/* pod-summary "resources" / pod-detail "cgroup" (when the pod has one). */
void cgroup_summary(const struct pod *p, struct json_object *o);
void cgroup_detail(const struct pod *p, struct json_object *o);
/* The same "resources" as list's text (summary.c). */
void cgroup_summary_text(const struct pod *p, struct textbuf *tb);

/* <root>/pod-NAME (caller frees), or NULL without cgroups. */
char *cgroup_pod_dir(const struct daemon *d, const char *name);

/*
 * Before a worker starts: make the pod's cgroup and (re)write its
 * limits.  -errno with a sentence (limits set where cgroups are not
 * usable: the refusal).
 */
int cgroup_prepare(struct pod *p, char **reterr_msg);
/* Put pid (the new worker, before start) in the pod's cgroup. */
int cgroup_place(struct pod *p, pid_t pid, char **reterr_msg);
/* The start request's "cgroup" object (new reference) or NULL. */
struct json_object *cgroup_start_json(const struct pod *p);
/* podvisord --release-cgroup: see cgroup.c.  Always 0. */
int cgroup_release(void);
/* A re-attached worker: keep (or put) it in its pod's cgroup, rewrite
 * its limits. */
void cgroup_reattached(struct pod *p);
/* Kill everything in the pod's cgroup (cgroup.kill); false if none. */
bool cgroup_kill(struct pod *p);
/* The worker is gone: kill what it left behind, note OOM kills. */
void cgroup_pod_exited(struct pod *p);
/* forget: remove the pod's cgroup. */
void cgroup_forget(struct daemon *d, const struct pod *p);

#endif
