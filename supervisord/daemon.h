/* SPDX-License-Identifier: ISC */
#ifndef SUPERVISORD_DAEMON_H
#define SUPERVISORD_DAEMON_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/queue.h>
#include <sys/types.h>

#include "common/approval_policy.h"
#include "common/paths.h"
#include "common/scope.h"
#include "common/id.h"
#include "supervisord/budget.h"
#include "supervisord/cgroup.h"
#include "supervisord/isolation.h"

struct event;
struct event_base;
struct evconnlistener;
struct conn;
struct json_object;
struct config;
struct registry;
struct spare;

/*
 * The supervisor's context: everything podvisord holds lives in one
 * struct daemon, passed to every handler.  There are no other globals.
 */

/* Pod status: the states of the lifecycle table (lifecycle.c). */
enum pod_status {
	POD_NONE = 0,
	POD_STARTING,
	POD_LIVE,
	POD_STOPPING,
	POD_STOPPED,
	POD_CRASHED,
	POD_FAILED,
	POD_CORRUPT,
	POD_STATUS_COUNT
};

enum restart_policy {
	RESTART_NEVER = 0,
	RESTART_ON_FAILURE,
};

/*
 * A fingerprint of a file's content we wrote (length and two unrelated
 * 64-bit hashes): an unchanged rewrite is skipped without keeping the
 * bytes.  len 0 means "unknown": always write.
 */
struct digest {
	size_t len;
	uint64_t h1, h2;
};

/* The digest of buf (len > 0). */
void digest_of(struct digest *dg, const char *buf, size_t len);
/* True if dg is known and equal to buf's digest. */
bool digest_same(const struct digest *dg, const char *buf, size_t len);

/* A list of names (children, peers), owned strings. */
struct namelist {
	char **v;
	size_t n;
};

/* Someone waiting for a reply about a pod (spawn, restore, stop). */
struct waiter {
	struct conn *c; /* referenced */
	struct json_object *id; /* referenced, may be NULL */
	int kind; /* enum waiter_kind */
	TAILQ_ENTRY(waiter) entry;
};
TAILQ_HEAD(waiter_list, waiter);

enum waiter_kind {
	WAIT_SPAWN, /* spawned {name,pid,socket} */
	WAIT_RESTORE, /* restored {name,pid,socket} */
	WAIT_STOP, /* stopped {name,released} */
};

struct pod_worktree;

struct pod {
	struct daemon *d;
	char *name;
	/* Durable part (pod state file). */
	int64_t created_ms;
	char *cwd;
	char *model; /* "provider/model" as resolved, or requested */
	char *instruction;
	struct scope_rules scope;
	struct approval_policy approval; /* approvals.c */
	struct pod_isolation iso; /* isolation.c: network policy */
	struct pod_budget budget; /* budget.c: usage totals, budget */
	struct pod_limits limits; /* cgroup.c: resource limits */
	struct namelist mcp; /* MCP server names (podmcp.c) */
	struct pod_worktree *wt; /* worktree.c: its git worktree, or NULL */
	char *parent; /* NULL for top-level */
	struct namelist children;
	struct namelist peers;
	char session_id[ID_LEN + 1];
	char *segment; /* NULL before the worker created one */
	enum pod_status status;
	pid_t pid;
	enum restart_policy policy;
	int restart_count;
	struct json_object *pending; /* array of pending pod events, owned */
	bool has_last_exit;
	int last_exit_code; /* -1 if none */
	int last_exit_signal; /* 0 if none */
	int64_t last_exit_ms;

	/* Runtime part. */
	struct json_object *mcp_inline; /* inline servers: secrets, never
					 * in state (podmcp.c) */
	bool reserved; /* write allows are in the registry */
	struct scope_rules granted; /* rules reserved in the registry */
	struct client *chan; /* worker channel (fd 3 or reattached) */
	bool is_child; /* we forked it (waitpid), else pidfd */
	int pidfd;
	struct event *pidfd_ev;
	struct event *exec_ev; /* status pipe of a starting worker */
	int exec_fd;
	struct event *timer; /* stop escalation / restart backoff */
	int stop_stage; /* 0 none, 1 shutdown sent, 2 TERM, 3 KILL */
	bool stop_requested;
	bool restoring; /* this start is a --restore */
	bool fresh; /* first start after spawn: roll back on fail */
	bool auto_restart; /* this start is a policy restart */
	uint64_t gen; /* bumped on every start (stale callbacks) */
	bool awaiting_reattach;
	bool waiting_fakellm; /* start deferred until fakellm listens */
	char *activity; /* idle/running/paused from the worker */
	struct waiter_list waiters;
	struct json_object *inflight; /* object eid -> true, sent this chan */
	char *corrupt_msg; /* status corrupt: the parse error */
	int64_t crash_ms[5]; /* recent crash times (ring) */
	int ncrash;
	struct digest state_digest; /* of the state file last written */
	struct journal_cache *jcache; /* journal.c: p's text in the journal */
	bool state_dirty; /* in d->dirty: written at the iteration's end */
	struct pod *hnext; /* daemon's name index bucket chain */
	TAILQ_ENTRY(pod) entry;
};
TAILQ_HEAD(pod_list, pod);

/* A connection on control.sock (or a reattached worker). */
struct client {
	struct daemon *d;
	struct conn *c;
	struct pod *pod; /* set when this is a worker channel */
	bool inside; /* descends from podvisord: not the user */
	char *as_pod; /* then: the pod it speaks for (NULL: none) */
	TAILQ_ENTRY(client) entry;
};
TAILQ_HEAD(client_list, client);

struct daemon {
	struct event_base *base;
	struct paths paths;
	char *config_path; /* --config, else paths.config */
	struct config *config;
	struct registry *registry;
	struct pod_list pods;
	struct pod **pod_index; /* hash of pods by name (chained) */
	size_t pod_index_cap; /* buckets, a power of two */
	size_t npods;
	bool journal_dirty; /* supervisor.json must be rewritten */
	struct event *journal_ev; /* deferred journal write */
	bool journal_written; /* supervisor.json holds every jcache */
	size_t journal_npods; /* pods in the journal last written */
	struct pod **dirty; /* pods whose state file is due (batched) */
	size_t ndirty;
	struct event *dirty_ev; /* deferred podstore_flush() */
	struct podcg *cg; /* cgroup.c: the delegated cgroup subtree */
	struct spare *spare; /* the exec'd worker waiting for a spawn */
	struct event *spare_timer; /* start the next spare */
	int spare_failures; /* in a row: the backoff */
	bool spare_proven; /* a spare of this worker binary said ready */
	struct client_list clients;
	size_t nclients;
	int listen_fd;
	bool socket_activated;
	struct event *listen_ev;
	struct event *sig_ev[4];
	struct event *watchdog_ev;
	struct event *reattach_timer;
	struct event *exit_ev;
	uint64_t watchdog_usec;
	char *notify_socket; /* $NOTIFY_SOCKET, taken from the env */
	char *worker_bin;
	bool shutting_down;
	bool leave_pods;
	int exit_code;
	pid_t fakellm_pid;
	int fakellm_fd;
	struct event *fakellm_ev;
	int fakellm_port;
	uint64_t gen_counter;
};

/*
 * A weak reference to a pod for asynchronous callbacks: resolves to the
 * pod only while it exists and has not been restarted since.
 */
struct podref {
	struct daemon *d;
	char *name;
	uint64_t gen;
};

/* A new pod (status POD_NONE) appended to d->pods; name copied. */
struct pod *pod_new(struct daemon *d, const char *name);
/* Unlink and free a pod (its events, timers, waiters). NULL-safe. */
void pod_free(struct pod *p);

/* A new weak reference to p (caller frees with podref_free()). */
struct podref *podref_new(struct pod *p);
/* The pod, or NULL if it is gone or was restarted. */
struct pod *podref_get(const struct podref *ref);
void podref_free(struct podref *ref);

/* Find a pod by name (NULL if none). */
struct pod *daemon_pod_find(struct daemon *d, const char *name);
/* True if the pod has a running worker (starting, live or stopping). */
bool daemon_pod_running(const struct pod *p);
/* Number of live pods (for STATUS=). */
size_t daemon_live_count(const struct daemon *d);
/*
 * Shut down: stop every running pod (or, with leave_pods, leave them
 * running for the next daemon to re-adopt) and leave the loop once none
 * is left.
 */
void daemon_shutdown(struct daemon *d, bool leave_pods);
/* During shutdown: leave the loop if no worker is left. */
void daemon_check_exit(struct daemon *d);

/* namelist helpers (daemon.c). */
bool namelist_has(const struct namelist *l, const char *name);
void namelist_add(struct namelist *l, const char *name);
void namelist_remove(struct namelist *l, const char *name);
void namelist_clear(struct namelist *l);

/* Waiter helpers (daemon.c). */
void waiter_add(
	struct pod *p, struct conn *c, struct json_object *id, int kind);
/* Answer and drop every waiter of kind with an event (data owned). */
void waiter_reply(
	struct pod *p, int kind, const char *event, struct json_object *data);
/* Answer every waiter of kind with an error. */
void waiter_error(struct pod *p, int kind, int code, struct json_object *extra,
	const char *msg);

const char *pod_status_name(enum pod_status s);
/* The pod by name status string; POD_NONE if unknown. */
enum pod_status pod_status_from_name(const char *s);

#endif
