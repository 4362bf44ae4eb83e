/* SPDX-License-Identifier: ISC */
#ifndef WORKER_TURN_ITEM_H
#define WORKER_TURN_ITEM_H

#include <stdbool.h>
#include <stddef.h>
#include <sys/queue.h>

struct conn;
struct json_object;

/*
 * Notifications and pod events waiting for a safe point of the turn loop
 * (before the next model request, or a new turn when idle).  A pod event
 * remembers every supervisor request that carried its eid; each gets
 * accepted {eid} once the system_item is fsynced.
 */

struct turn_waiter {
	struct conn *conn; /* referenced */
	struct json_object *id; /* referenced, may be NULL */
};

struct turn_item {
	TAILQ_ENTRY(turn_item) entry;
	struct json_object *item; /* the system_item's item (owned) */
	const char *trigger; /* "notify" or "pod_event" (static) */
	char *eid; /* NULL for notifications */
	size_t idx; /* its system_item's index, once committed */
	struct turn_waiter *waiters;
	size_t nwaiters;
};

TAILQ_HEAD(turn_items, turn_item);

void turn_items_init(struct turn_items *q);
void turn_items_clear(struct turn_items *q);
bool turn_items_empty(const struct turn_items *q);
size_t turn_items_count(const struct turn_items *q);
struct turn_item *turn_items_first(const struct turn_items *q);
void turn_items_add(struct turn_items *q, struct turn_item *it);
void turn_items_remove(struct turn_items *q, struct turn_item *it);
/* The queued item with this eid, or NULL. */
struct turn_item *turn_items_find(const struct turn_items *q, const char *eid);

/* New item taking ownership of item; eid copied (may be NULL). */
struct turn_item *turn_item_new(
	struct json_object *item, const char *trigger, const char *eid);
void turn_item_free(struct turn_item *it);
/* Remember a request (conn and id referenced) to answer later. */
void turn_item_wait(
	struct turn_item *it, struct conn *c, struct json_object *id);
/* Send accepted {eid} to every waiter still connected. */
void turn_item_accept(struct turn_item *it);
/* Send accepted {eid} on c now. */
void turn_item_accept_now(
	struct conn *c, struct json_object *id, const char *eid);

/* The system_item item for a pod_event's params (new reference). */
struct json_object *turn_item_pod_event(struct json_object *params);

#endif
