/* SPDX-License-Identifier: ISC */
#include "worker/turn_item.h"

#include <stdlib.h>
#include <string.h>

#include <json-c/json.h>

#include "common/xmalloc.h"
#include "proto/conn.h"
#include "proto/msg.h"

/* Empty queue. */
void
turn_items_init(struct turn_items *q)
{
	TAILQ_INIT(q);
}

/* Free every queued item (waiters get no answer: the sender resends). */
void
turn_items_clear(struct turn_items *q)
{
	struct turn_item *it;

	while ((it = TAILQ_FIRST(q)) != NULL) {
		TAILQ_REMOVE(q, it, entry);
		turn_item_free(it);
	}
}

/* Nothing queued? */
bool
turn_items_empty(const struct turn_items *q)
{
	return TAILQ_EMPTY(q);
}

/* Number of queued items. */
size_t
turn_items_count(const struct turn_items *q)
{
	struct turn_item *it;
	size_t n = 0;

	TAILQ_FOREACH(it, q, entry)
	n++;
	return n;
}

/* Oldest item or NULL. */
struct turn_item *
turn_items_first(const struct turn_items *q)
{
	return TAILQ_FIRST(q);
}

/* Append it (ownership taken). */
void
turn_items_add(struct turn_items *q, struct turn_item *it)
{
	TAILQ_INSERT_TAIL(q, it, entry);
}

/* Unlink it (the caller frees it). */
void
turn_items_remove(struct turn_items *q, struct turn_item *it)
{
	TAILQ_REMOVE(q, it, entry);
}

/* Find a queued pod event by eid. */
struct turn_item *
turn_items_find(const struct turn_items *q, const char *eid)
{
	struct turn_item *it;

	TAILQ_FOREACH(it, q, entry)
	{
		if (it->eid != NULL && strcmp(it->eid, eid) == 0)
			return it;
	}
	return NULL;
}

/* New queue item. */
struct turn_item *
turn_item_new(struct json_object *item, const char *trigger, const char *eid)
{
	struct turn_item *it;

	it = xcalloc(1, sizeof *it);
	it->item = item;
	it->trigger = trigger;
	it->eid = eid ? xstrdup(eid) : NULL;
	return it;
}

/* Free it and drop its references. NULL-safe. */
void
turn_item_free(struct turn_item *it)
{
	size_t i;

	if (it == NULL)
		return;
	for (i = 0; i < it->nwaiters; i++) {
		conn_unref(it->waiters[i].conn);
		json_object_put(it->waiters[i].id);
	}
	free(it->waiters);
	json_object_put(it->item);
	free(it->eid);
	free(it);
}

/* Remember who to answer. */
void
turn_item_wait(struct turn_item *it, struct conn *c, struct json_object *id)
{
	it->waiters = xreallocarray(
		it->waiters, it->nwaiters + 1, sizeof *it->waiters);
	it->waiters[it->nwaiters].conn = conn_ref(c);
	it->waiters[it->nwaiters].id = json_object_get(id);
	it->nwaiters++;
}

/* Reply accepted {eid} to one request. */
void
turn_item_accept_now(struct conn *c, struct json_object *id, const char *eid)
{
	struct json_object *d;

	if (!conn_is_open(c))
		return;
	d = json_object_new_object();
	if (eid != NULL)
		json_object_object_add(d, "eid", json_object_new_string(eid));
	conn_send_event(c, "accepted", d, id);
}

/* Answer every waiter of it. */
void
turn_item_accept(struct turn_item *it)
{
	size_t i;

	for (i = 0; i < it->nwaiters; i++)
		turn_item_accept_now(
			it->waiters[i].conn, it->waiters[i].id, it->eid);
}

/* What a parent's model reads of a child's approval request. */
static char *
turn_item_approval_text(struct json_object *params, const char *from)
{
	struct json_object *req = NULL;
	const char *id, *tool, *args, *diff;

	json_object_object_get_ex(params, "request", &req);
	id = msg_json_str(req, "id");
	tool = msg_json_str(req, "tool");
	args = msg_json_str(req, "arguments");
	diff = msg_json_str(req, "diff");
	return xstrfmt("Pod %s asks for approval to run %s with arguments "
		       "%.2048s%s%.4096s\n"
		       "Answer with answer_approval {\"pod\": \"%s\", "
		       "\"id\": \"%s\", \"decision\": \"allow_once\" | "
		       "\"allow_always\" | \"deny\", \"reason\": \"...\"}, or "
		       "leave it to your user (podvisor approve %s %s).",
		from ? from : "?", tool ? tool : "?", args ? args : "{}",
		diff ? "\nDiff:\n" : "", diff ? diff : "", from ? from : "?",
		id ? id : "?", from ? from : "?", id ? id : "?");
}

/*
 * The item keeps every field of the event and adds "type" and a "text"
 * line a model can read whatever the provider's translation.
 */
struct json_object *
turn_item_pod_event(struct json_object *params)
{
	struct json_object *item, *v;
	struct json_object_iter it;
	const char *kind, *from, *detail = NULL;
	char *text;

	item = json_object_new_object();
	json_object_object_add(
		item, "type", json_object_new_string("pod_event"));
	json_object_object_foreachC(params, it)
	{
		if (strcmp(it.key, "type") != 0 && strcmp(it.key, "text") != 0)
			json_object_object_add(
				item, it.key, json_object_get(it.val));
	}
	kind = msg_json_str(params, "kind");
	from = msg_json_str(params, "from");
	if (strcmp(kind, "child_turn_ended") == 0) {
		detail = msg_json_str(params, "text");
		v = NULL;
		json_object_object_get_ex(params, "result", &v);
		text = xstrfmt("Pod %s finished a turn (%s)%s%s",
			from ? from : "?", v ? json_object_get_string(v) : "?",
			detail && detail[0] ? ":\n" : ".",
			detail && detail[0] ? detail : "");
	} else if (strcmp(kind, "child_errored") == 0) {
		v = NULL;
		json_object_object_get_ex(params, "error", &v);
		text = xstrfmt("Pod %s failed: %s", from ? from : "?",
			v ? json_object_to_json_string_ext(
				    v, JSON_C_TO_STRING_PLAIN)
			  : "unknown error");
	} else if (strcmp(kind, "child_approval_request") == 0) {
		text = turn_item_approval_text(params, from);
	} else if (strcmp(kind, "child_exited") == 0) {
		text = xstrfmt("Pod %s exited (%s).", from ? from : "?",
			msg_json_str(params, "status")
				? msg_json_str(params, "status")
				: "?");
	} else {
		detail = msg_json_str(params, "message");
		text = xstrfmt("Message from %s%s:\n%s",
			strcmp(kind, "peer_message") == 0 ? "peer " : "",
			from ? from : "the user", detail ? detail : "");
	}
	json_object_object_add(item, "text", json_object_new_string(text));
	free(text);
	return item;
}
