/* SPDX-License-Identifier: ISC */
#ifndef SUPERVISORD_ISOLATION_H
#define SUPERVISORD_ISOLATION_H

struct conn;
struct daemon;
struct json_object;
struct msg;
struct pod;

/*
 * Per-pod isolation that podvisord decides and the worker's confinement
 * (worker/confine.h) enforces on every tool child: the pod's private
 * temp dirs, <state>/tmp/<name>/{tmp,var_tmp}, bound over /tmp and
 * /var/tmp in the child's mount namespace; kept across turns, stops and
 * restores, removed by forget; and its network policy (on | loopback |
 * off; a child may only narrow its parent's).  docs/isolation.md.
 */

/* Network policies, least to most narrow (the worker's enum mountns_net). */
enum iso_network {
	ISO_NET_ON = 0,
	ISO_NET_LOOPBACK = 1,
	ISO_NET_OFF = 2,
};

/* The pod's durable isolation (struct pod's iso). */
struct pod_isolation {
	enum iso_network network;
};

/* "on"/"loopback"/"off" -> policy, or -1 (isolation_conf.c). */
int isolation_network_parse(const char *s);
const char *isolation_network_name(enum iso_network net);

/*
 * The spawn / spawn_pod parameter "network": fill iso from m, the
 * parent (viewer, NULL for a user's spawn) and the config default.  On
 * a refusal sends the error on c (not_subset naming the field for a
 * child wider than its parent) and returns -1.
 */
int isolation_spawn_params(struct daemon *d, const struct pod *viewer,
	struct conn *c, const struct msg *m, struct pod_isolation *iso);

/* Pod state: add the fields to o / read them (absent: network on). */
void isolation_to_state(const struct pod *p, struct json_object *o);
int isolation_from_state(
	struct pod *p, struct json_object *o, char **reterr_msg);

/* pod-summary (list, inspect): "network". */
void isolation_summary(const struct pod *p, struct json_object *o);

/* <state>/tmp/<name> (caller frees). */
char *isolation_tmp_dir(const struct daemon *d, const char *name);

/* pod-summary and pod-detail (list, inspect/status): "tmp_dir". */
void isolation_detail(
	const struct daemon *d, const struct pod *p, struct json_object *o);

/*
 * The start request's "confine" object (new reference), making
 * <state>/tmp (the worker makes the pod's own dirs beneath it).
 */
struct json_object *isolation_start_config(
	const struct daemon *d, const struct pod *p);

/* forget: remove the pod's temp dirs and whatever its tools left there. */
void isolation_forget(const struct daemon *d, const struct pod *p);

#endif
