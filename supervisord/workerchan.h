/* SPDX-License-Identifier: ISC */
#ifndef SUPERVISORD_WORKERCHAN_H
#define SUPERVISORD_WORKERCHAN_H

#include "proto/dispatch.h"

struct pod;
struct conn;
struct client;
struct msg;
struct conn_ops;

/*
 * The worker channel (docs/worker-channel.md): fd 3 of a forked worker,
 * or a control.sock connection that a re-attached worker turned into
 * one.  Requests from the worker go through a sorted dispatch table;
 * events (state, turn_ended, turn_errored) update the pod and are routed
 * to its parent.
 */

/* The conn callbacks of an fd 3 channel. */
const struct conn_ops *workerchan_ops(void);
/* Make c (fd 3 of p's new worker, reference taken) p's channel. */
void workerchan_attach(struct pod *p, struct conn *c);
/* Make a control client p's channel (after reattach). */
void workerchan_adopt(struct pod *p, struct client *cl);
/* Close p's channel, if any. */
void workerchan_detach(struct pod *p);
/* A channel closed: unlink it from its pod (called from on_close). */
void workerchan_closed(struct client *cl);
/* Handle one message from a worker. */
void workerchan_dispatch(struct client *cl, struct msg *m);
/* Send scope_changed {effective_write} to p's worker, if live. */
void workerchan_send_scope(struct pod *p);

/* The request table (tests check it is sorted). */
extern const struct dispatch_entry workerchan_table[];
extern const unsigned workerchan_table_len;

#endif
