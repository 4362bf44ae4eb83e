/* SPDX-License-Identifier: ISC */
#ifndef WORKER_LINK_H
#define WORKER_LINK_H

#include <stdbool.h>
#include <stddef.h>

struct json_object;
struct msg;
struct worker;
struct link;

/*
 * The supervisor link (docs/worker-channel.md): the fd 3 channel, and
 * after it reaches EOF a re-attached connection on control.sock (backoff
 * 50 ms doubling to 2 s).  Events sent while detached are queued and
 * sent after the re-attach, in order.
 */

/* Take fd (the channel) and start reading it. */
struct link *link_new(struct worker *w, int fd);
void link_free(struct link *l);

/* True while a channel to the supervisor is up. */
bool link_attached(const struct link *l);

/* Send (or queue while detached) event name with data (taken). */
void link_send_event(
	struct link *l, const char *event, struct json_object *data);

/*
 * Send a request; cb runs exactly once, from the event loop, with the
 * reply (an event or an error) or NULL when the link is closed or
 * timeout_ms (0: 30 s) passed.  While detached the request is held and
 * sent after the re-attach if its time is not up.  Ownership of params
 * is taken.
 */
typedef void (*link_reply_cb)(struct msg *m, void *arg);
void link_call(struct link *l, const char *method, struct json_object *params,
	int timeout_ms, link_reply_cb cb, void *arg);

/* Flush and close the channel (shutdown); no re-attach afterwards. */
void link_close(struct link *l);

/* Pending output drained and nothing left to say? */
bool link_flushed(const struct link *l);

struct dispatch_entry;
/* The table of requests the supervisor may send (tests check it). */
const struct dispatch_entry *link_dispatch_table(size_t *ret_n);

#endif
