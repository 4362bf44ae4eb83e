/* SPDX-License-Identifier: ISC */
#ifndef PROTO_CONN_H
#define PROTO_CONN_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include "proto/msg.h"

struct event_base;
struct json_object;
struct conn;

/*
 * A refcounted JSON-lines connection over a bufferevent, used by all three
 * channels (control socket, pod socket, worker channel).
 *
 * Input: lines are framed with the channel's limit; each parsed message
 * is handed to on_message (borrowed for the call).  A bad line gets an
 * invalid_request error and the connection stays open; a line over the
 * limit gets line_too_long and the connection is closed after that error
 * is flushed.  Replies to calls made with conn_call() are routed to their
 * callback instead of on_message.
 *
 * Output: every message written gets the connection's next "seq".  When
 * the unsent output exceeds the out limit (if set) the connection is
 * dropped at once (on_close runs), so a stalled reader never slows the
 * sender.
 *
 * on_close runs exactly once, from the event loop, whatever the reason;
 * after it the conn is inert (sends are ignored).  The creator holds the
 * first reference and drops it with conn_unref(), typically in on_close.
 * Dropping the last reference before on_close ran closes the conn at
 * once without calling on_close (its owner is gone); outstanding
 * conn_call() callbacks still get NULL, synchronously.
 *
 * EOF from the peer: buffered lines (and a last one without '\n') are
 * handled, then the conn closes as with conn_close(); replies a handler
 * sends later are dropped.  SIGPIPE must be ignored by the process.
 */

struct conn_ops {
	void (*on_message)(struct conn *c, struct msg *m, void *arg);
	void (*on_close)(struct conn *c, void *arg);
};

/* Takes ownership of fd (non-blocking is set here). */
struct conn *conn_new(struct event_base *base, int fd, size_t line_limit,
	const struct conn_ops *ops, void *arg);
struct conn *conn_ref(struct conn *c);
void conn_unref(struct conn *c);

void conn_set_arg(struct conn *c, void *arg);
void *conn_get_arg(const struct conn *c);
/* 0 = unlimited. */
void conn_set_out_limit(struct conn *c, size_t limit);
/* Change the inbound line limit (bytes, not counting the newline). */
void conn_set_line_limit(struct conn *c, size_t limit);
size_t conn_out_pending(const struct conn *c);
bool conn_is_open(const struct conn *c);
int conn_fd(const struct conn *c);
/* Peer credentials, read once at conn_new(). */
pid_t conn_peer_pid(const struct conn *c);
uid_t conn_peer_uid(const struct conn *c);
/* The seq the next outgoing message will get. */
uint64_t conn_next_seq(const struct conn *c);

/*
 * Send obj (borrowed): "seq" is added.  Returns 0, or -EPIPE if closed.
 */
int conn_send(struct conn *c, struct json_object *obj);
/*
 * Send an already serialised object (text of a JSON object, no newline):
 * ",\"seq\":N}" is spliced before its closing brace, so a broadcast is
 * serialised once for all clients.
 */
int conn_send_text(struct conn *c, const char *text, size_t len);

/* Event/reply with name and data (ownership of data taken); id borrowed. */
int conn_send_event(struct conn *c, const char *event, struct json_object *data,
	struct json_object *id);
/* Error reply; extra (may be NULL, ownership taken) adds fields to data. */
int conn_send_error(struct conn *c, struct json_object *id, enum proto_err code,
	struct json_object *extra, const char *fmt, ...)
	__attribute__((format(printf, 5, 6)));

/*
 * Send a request with a fresh integer id and call cb once with the
 * reply (m is the reply or error event; NULL if the connection closed or
 * timeout_ms (0 = none) passed first).  Ownership of params is taken.
 * An error return (-EPIPE: closed or dropped) means cb is never called.
 * A reply arriving after the timeout is dropped.
 */
typedef void (*conn_reply_cb)(struct conn *c, struct msg *m, void *arg);
int conn_call(struct conn *c, const char *method, struct json_object *params,
	int timeout_ms, conn_reply_cb cb, void *arg);

/* Stop/start reading input (backpressure). */
void conn_pause_reading(struct conn *c, bool paused);

/* Close after pending output is flushed (bounded by 5 s). */
void conn_close(struct conn *c);
/* Close now, dropping pending output. */
void conn_close_now(struct conn *c);

#endif
