/* SPDX-License-Identifier: ISC */
#ifndef SUPERVISORD_ROUTE_H
#define SUPERVISORD_ROUTE_H

#include <stdbool.h>

struct daemon;
struct pod;
struct json_object;

/*
 * Pod events (child_turn_ended, child_errored, child_exited,
 * peer_message, message).  Nothing is dropped: an event is appended to
 * the target's pending_events and written to its state file first, then
 * sent as a pod_event request when the target is live, and removed only
 * when the worker answers accepted {eid}.
 */

/*
 * Queue event kind from (pod name, or "user") for target; fields (may
 * be NULL, ownership taken) are merged into the event.  Returns true if
 * it was sent to a live worker now, false if it waits in the queue.
 */
bool route_event(struct daemon *d, struct pod *target, const char *kind,
	const char *from, struct json_object *fields);

/* Send every queued event of p not yet in flight on its channel. */
void route_flush(struct pod *p);

/* p's channel is gone: nothing is in flight any more. */
void route_reset(struct pod *p);

#endif
