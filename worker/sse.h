/* SPDX-License-Identifier: ISC */
#ifndef WORKER_SSE_H
#define WORKER_SSE_H

#include <stddef.h>

/*
 * Incremental parser for text/event-stream (the WHATWG SSE format):
 * bytes may arrive in any chunking; LF, CRLF and CR end lines; ":"
 * starts a comment; "data:" lines (with or without the space) join with
 * "\n"; "event:" names the event (default "message"); "id:" and
 * "retry:" are kept; a
 * blank line dispatches.  Events larger than the bound are an error.
 */

struct sse;

/*
 * One dispatched event: name is NUL-terminated; data is data_len bytes
 * and NOT NUL-terminated (it may point into the buffer being fed, with
 * no copy).  Both are valid only during the call.  Return 0 to go on,
 * anything else to stop: sse_feed() then returns that value, now and on
 * every later call.
 */
typedef int (*sse_event_cb)(
	void *arg, const char *event, const char *data, size_t data_len);

#define SSE_MAX_EVENT (16 * 1024 * 1024)

/* New parser; max_event 0 means SSE_MAX_EVENT. arg is borrowed. */
struct sse *sse_new(size_t max_event, sse_event_cb cb, void *arg);
void sse_free(struct sse *sse);
/*
 * Parse len bytes (borrowed for the call only: what is still needed
 * afterwards is copied).  Returns 0, -EMSGSIZE when a line or event
 * outgrew the bound, or the callback's non-zero value.
 */
int sse_feed(struct sse *sse, const char *buf, size_t len);
/* The last "id:" seen, or NULL. Borrowed. */
const char *sse_last_id(const struct sse *sse);
/* The last "retry:" field in ms (digits only), or -1. */
long sse_retry_ms(const struct sse *sse);
/* Events dispatched so far. */
size_t sse_count(const struct sse *sse);

#endif
