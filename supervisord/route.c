/* SPDX-License-Identifier: ISC */
#include <stdlib.h>
#include <string.h>

#include <json-c/json.h>

#include "common/clock.h"
#include "common/id.h"
#include "common/log.h"
#include "common/xmalloc.h"
#include "proto/conn.h"
#include "proto/msg.h"
#include "supervisord/daemon.h"
#include "supervisord/podstore.h"
#include "supervisord/route.h"

/* How long a worker may take to make an event durable. */
#define ROUTE_ACK_TIMEOUT_MS 30000

struct route_ack {
	struct podref *ref;
	char *eid;
};

static const char *
route_eid(struct json_object *ev)
{
	struct json_object *v;

	if (!json_object_object_get_ex(ev, "eid", &v))
		return NULL;
	return json_object_get_string(v);
}

static void
route_remove(struct pod *p, const char *eid)
{
	size_t i, n = json_object_array_length(p->pending);

	for (i = 0; i < n; i++) {
		const char *e =
			route_eid(json_object_array_get_idx(p->pending, i));

		if (e != NULL && strcmp(e, eid) == 0) {
			json_object_array_del_idx(p->pending, i, 1);
			(void)podstore_write(p->d, p);
			return;
		}
	}
}

static void
route_ack_cb(struct conn *c, struct msg *m, void *arg)
{
	struct route_ack *ack = arg;
	struct pod *p = podref_get(ack->ref);

	(void)c;
	if (p != NULL) {
		json_object_object_del(p->inflight, ack->eid);
		if (m != NULL && m->kind == MSG_EVENT &&
			strcmp(m->name, "accepted") == 0)
			route_remove(p, ack->eid);
		else if (m != NULL)
			log_warn("pod %s: pod_event %s not accepted (%s)",
				p->name, ack->eid, m->name);
	}
	podref_free(ack->ref);
	free(ack->eid);
	free(ack);
}

/* Send queued events to p's worker. */
void
route_flush(struct pod *p)
{
	size_t i, n;

	if (p->status != POD_LIVE || p->chan == NULL)
		return;
	n = json_object_array_length(p->pending);
	for (i = 0; i < n; i++) {
		struct json_object *ev =
			json_object_array_get_idx(p->pending, i);
		const char *eid = route_eid(ev);
		struct route_ack *ack;
		struct json_object *copy = NULL;

		if (eid == NULL ||
			json_object_object_get_ex(p->inflight, eid, NULL))
			continue;
		if (json_object_deep_copy(ev, &copy, NULL) != 0)
			continue;
		ack = xcalloc(1, sizeof(*ack));
		ack->ref = podref_new(p);
		ack->eid = xstrdup(eid);
		json_object_object_add(
			p->inflight, eid, json_object_new_boolean(1));
		conn_call(p->chan->c, "pod_event", copy, ROUTE_ACK_TIMEOUT_MS,
			route_ack_cb, ack);
	}
}

/* Forget what was in flight (the channel closed). */
void
route_reset(struct pod *p)
{
	json_object_put(p->inflight);
	p->inflight = json_object_new_object();
}

/* Queue (durably) and, if possible, deliver one pod event. */
bool
route_event(struct daemon *d, struct pod *target, const char *kind,
	const char *from, struct json_object *fields)
{
	struct json_object *ev = json_object_new_object();
	char eid[ID_LEN + 1];

	id_new(eid);
	json_object_object_add(ev, "eid", json_object_new_string(eid));
	json_object_object_add(ev, "kind", json_object_new_string(kind));
	json_object_object_add(ev, "from",
		json_object_new_string(from != NULL ? from : "user"));
	json_object_object_add(ev, "ms", json_object_new_int64(clock_now_ms()));
	if (fields != NULL) {
		struct json_object_iterator it = json_object_iter_begin(fields);
		struct json_object_iterator end = json_object_iter_end(fields);

		for (; !json_object_iter_equal(&it, &end);
			json_object_iter_next(&it)) {
			const char *key = json_object_iter_peek_name(&it);
			struct json_object *val =
				json_object_iter_peek_value(&it);

			if (strcmp(key, "eid") == 0 ||
				strcmp(key, "kind") == 0 ||
				strcmp(key, "from") == 0 ||
				strcmp(key, "ms") == 0)
				continue;
			json_object_object_add(ev, key, json_object_get(val));
		}
		json_object_put(fields);
	}
	if (target == NULL || target->status == POD_CORRUPT) {
		log_warn("pod event %s from %s has no target; dropped", kind,
			from != NULL ? from : "user");
		json_object_put(ev);
		return false;
	}
	json_object_array_add(target->pending, ev);
	(void)podstore_write(d, target);
	if (target->status != POD_LIVE || target->chan == NULL)
		return false;
	route_flush(target);
	return true;
}
