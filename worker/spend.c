/* SPDX-License-Identifier: ISC */
#include "worker/spend.h"

#include <stdlib.h>
#include <string.h>

#include <json-c/json.h>

#include "common/xmalloc.h"
#include "proto/msg.h"
#include "worker/link.h"
#include "worker/session.h"
#include "worker/worker.h"

struct spend {
	struct worker *w;
	struct token_usage pod; /* the pod's own totals */
	struct token_usage turn; /* this run's */
	bool has_budget;
	int64_t remaining; /* podvisord's figure ... */
	int64_t cost_at; /* ... when the pod's own cost was this */
};

/* The totals the session log holds: segment_start's base + usage. */
static void
spend_from_log(struct spend *s, struct session *sess)
{
	struct json_object *entries, *e, *v;
	const char *kind;
	size_t i, n;

	if (sess == NULL)
		return;
	entries = session_entries(sess);
	n = json_object_array_length(entries);
	for (i = 0; i < n; i++) {
		e = json_object_array_get_idx(entries, i);
		if (!json_object_object_get_ex(e, "kind", &v))
			continue;
		kind = json_object_get_string(v);
		if (i == 0 && strcmp(kind, "segment_start") == 0 &&
			json_object_object_get_ex(e, "usage_total", &v))
			token_usage_add_json(&s->pod, v);
		else if (strcmp(kind, "usage") == 0)
			token_usage_add_json(&s->pod, e);
	}
}

static void
spend_set_budget(struct spend *s, struct json_object *b)
{
	struct json_object *v;

	s->has_budget = false;
	if (b == NULL || !json_object_is_type(b, json_type_object) ||
		!json_object_object_get_ex(b, "remaining", &v) ||
		!json_object_is_type(v, json_type_int))
		return;
	s->has_budget = true;
	s->remaining = json_object_get_int64(v);
	s->cost_at = json_object_object_get_ex(b, "cost", &v)
		? json_object_get_int64(v)
		: token_usage_cost(&s->pod);
}

/* From the start params and the log. */
struct spend *
spend_new(struct worker *w, struct json_object *params)
{
	struct spend *s = xcalloc(1, sizeof *s);
	struct token_usage daemon = { 0 };
	struct json_object *v;

	s->w = w;
	spend_from_log(s, w->session);
	/* podvisord may know of calls the log lost, or the reverse. */
	if (json_object_object_get_ex(params, "usage", &v))
		token_usage_add_json(&daemon, v);
	token_usage_max(&s->pod, &daemon);
	if (json_object_object_get_ex(params, "budget", &v))
		spend_set_budget(s, v);
	return s;
}

void
spend_free(struct spend *s)
{
	free(s);
}

/* Zero the turn's totals. */
void
spend_turn_begin(struct spend *s)
{
	if (s != NULL)
		memset(&s->turn, 0, sizeof s->turn);
}

/* Account one call. */
void
spend_add(struct spend *s, const struct token_usage *u)
{
	if (s == NULL)
		return;
	token_usage_add(&s->pod, u);
	token_usage_add(&s->turn, u);
	spend_report(s);
}

/* usage {total} to podvisord: cumulative, so a lost one costs nothing. */
void
spend_report(struct spend *s)
{
	struct json_object *d;

	if (s == NULL || s->w->link == NULL)
		return;
	d = json_object_new_object();
	json_object_object_add(d, "total", token_usage_json(&s->pod));
	link_send_event(s->w->link, "usage", d);
}

static int64_t
spend_remaining(const struct spend *s)
{
	int64_t since = token_usage_cost(&s->pod) - s->cost_at;

	if (since < 0)
		since = 0;
	return s->remaining - since;
}

/* The gate before each model request. */
bool
spend_allows(const struct spend *s, int64_t tokens, int64_t *ret_remaining)
{
	int64_t left;

	if (s == NULL || !s->has_budget) {
		*ret_remaining = -1;
		return true;
	}
	left = spend_remaining(s);
	*ret_remaining = left > 0 ? left : 0;
	return left > 0 && tokens <= left;
}

/* budget {remaining, cost} or {budget: null}. */
void
spend_budget_event(struct spend *s, struct msg *m)
{
	struct json_object *v;

	if (s == NULL)
		return;
	if (m->params != NULL &&
		json_object_object_get_ex(m->params, "budget", &v) &&
		v == NULL) {
		s->has_budget = false;
		return;
	}
	spend_set_budget(s, m->params);
}

/* "usage" and "usage_pod". */
void
spend_turn_fields(const struct spend *s, struct json_object *o)
{
	if (s == NULL)
		return;
	json_object_object_add(o, "usage", token_usage_json(&s->turn));
	json_object_object_add(o, "usage_pod", token_usage_json(&s->pod));
}

/* The pod's totals. */
struct json_object *
spend_pod_json(const struct spend *s)
{
	struct token_usage zero = { 0 };

	return token_usage_json(s != NULL ? &s->pod : &zero);
}

/* "usage_pod", and "budget" {remaining} when one is set. */
void
spend_snapshot_fields(const struct spend *s, struct json_object *o)
{
	struct json_object *b;
	int64_t left;

	if (s == NULL)
		return;
	json_object_object_add(o, "usage_pod", token_usage_json(&s->pod));
	if (!s->has_budget)
		return;
	left = spend_remaining(s);
	b = json_object_new_object();
	json_object_object_add(
		b, "remaining", json_object_new_int64(left > 0 ? left : 0));
	json_object_object_add(o, "budget", b);
}
