/* SPDX-License-Identifier: ISC */
#ifndef SUPERVISORD_PODOPS_H
#define SUPERVISORD_PODOPS_H

#include <stdbool.h>

struct daemon;
struct pod;
struct conn;
struct msg;
struct json_object;

/*
 * The pod operations behind the control methods and the worker
 * requests.  viewer is the requesting pod (worker channel) or NULL for
 * the user on control.sock, who sees everything.  Each handler sends
 * exactly one reply or error on c with m's id, possibly later.
 */

void podops_spawn(
	struct daemon *d, struct pod *viewer, struct conn *c, struct msg *m);
void podops_restore(
	struct daemon *d, struct pod *viewer, struct conn *c, struct msg *m);
void podops_stop(
	struct daemon *d, struct pod *viewer, struct conn *c, struct msg *m);
void podops_list(
	struct daemon *d, struct pod *viewer, struct conn *c, struct msg *m);
void podops_inspect(
	struct daemon *d, struct pod *viewer, struct conn *c, struct msg *m);
/* Control: params a, b.  Worker: params name (a = viewer). */
void podops_register_peer(
	struct daemon *d, struct pod *viewer, struct conn *c, struct msg *m);
/* kind: "message" (send, send_to_pod) or "peer_message" (send_to_peer). */
void podops_send(struct daemon *d, struct pod *viewer, struct conn *c,
	struct msg *m, const char *kind);
void podops_forget(struct daemon *d, struct conn *c, struct msg *m);

/* True if viewer (NULL = the user) may see target. */
bool podops_visible(
	struct daemon *d, const struct pod *viewer, const struct pod *target);

/* The pod called name as viewer sees it, or NULL with an error on c. */
struct pod *podops_lookup(struct daemon *d, struct pod *viewer, struct conn *c,
	struct msg *m, const char *name);

/* pod-summary / pod-detail of PROTOCOL.md (new references). */
struct json_object *podops_summary(struct daemon *d, struct pod *p);
struct json_object *podops_detail(struct daemon *d, struct pod *p);

#endif
