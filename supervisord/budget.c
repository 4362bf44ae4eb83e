/* SPDX-License-Identifier: ISC */
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <json-c/json.h>

#include "common/log.h"
#include "common/xmalloc.h"
#include "proto/conn.h"
#include "proto/msg.h"
#include "supervisord/budget.h"
#include "supervisord/conf.h"
#include "supervisord/daemon.h"
#include "supervisord/podops.h"
#include "supervisord/podstore.h"
#include "supervisord/summary.h"

/* Larger grants are refused: sums stay far from overflow. */
#define BUDGET_MAX 1000000000000000LL

static void
budget_usage_text(
	struct textbuf *tb, const char *key, const struct token_usage *u)
{
	char buf[256];

	token_usage_format(u, buf, sizeof buf);
	textbuf_puts(tb, key);
	textbuf_puts(tb, buf);
}

void
budget_clear(struct pod_budget *b)
{
	free(b->from);
	b->from = NULL;
}

static struct json_object *
budget_field_extra(const char *field)
{
	struct json_object *o = json_object_new_object();

	json_object_object_add(o, "field", json_object_new_string(field));
	return o;
}

/* "budget_tokens" of spawn; see budget.h. */
int
budget_spawn_params(struct daemon *d, const struct pod *viewer, struct conn *c,
	const struct msg *m, struct pod_budget *b)
{
	struct json_object *v = msg_param(m, "budget_tokens");
	bool carve = viewer != NULL && viewer->budget.set;
	int64_t n = -1, left;

	memset(b, 0, sizeof *b);
	if (v != NULL) {
		if (!json_object_is_type(v, json_type_int) ||
			(n = json_object_get_int64(v)) < 0 || n > BUDGET_MAX) {
			conn_send_error(c, m->id, PERR_INVALID_REQUEST,
				budget_field_extra("budget_tokens"),
				"\"budget_tokens\" must be a whole number of "
				"tokens from 0 to %lld",
				(long long)BUDGET_MAX);
			return -1;
		}
	} else if (d->config->budget_tokens > 0)
		n = d->config->budget_tokens;
	if (!carve) {
		if (n >= 0) {
			b->set = true;
			b->tokens = b->remaining = n;
		}
		return 0;
	}
	/*
	 * A child of a budgeted pod always has a budget, or spawning would
	 * be a way around the parent's: by default half of what is left
	 * (the config default when that is less).
	 */
	left = viewer->budget.remaining > 0 ? viewer->budget.remaining : 0;
	if (v == NULL)
		n = n >= 0 && n < left / 2 ? n : left / 2;
	if (n > left) {
		conn_send_error(c, m->id, PERR_NOT_SUBSET,
			budget_field_extra("budget_tokens"),
			"\"budget_tokens\": a child's budget comes out of its "
			"parent's; pod %s has %lld tokens left, so %lld is "
			"not allowed",
			viewer->name, (long long)left, (long long)n);
		return -1;
	}
	b->set = true;
	b->tokens = b->remaining = n;
	b->from = xstrdup(viewer->name);
	return 0;
}

/* budget {remaining, cost} (or {budget: null}) to p's worker. */
static void
budget_send(struct pod *p)
{
	struct json_object *o = json_object_new_object();

	if (p->chan == NULL) {
		json_object_put(o);
		return;
	}
	if (p->budget.set) {
		json_object_object_add(o, "remaining",
			json_object_new_int64(p->budget.remaining));
		json_object_object_add(o, "cost",
			json_object_new_int64(
				token_usage_cost(&p->budget.usage)));
	} else
		json_object_object_add(o, "budget", NULL);
	conn_send_event(p->chan->c, "budget", o, NULL);
}

/* Take child's grant out of parent's remaining. */
void
budget_carve(struct pod *parent, struct pod *child)
{
	if (parent == NULL || !child->budget.set ||
		child->budget.from == NULL ||
		strcmp(child->budget.from, parent->name) != 0)
		return;
	parent->budget.remaining -= child->budget.tokens;
	budget_send(parent);
}

/* What p did not spend goes back to the pod it was carved from. */
void
budget_return(struct pod *p)
{
	struct pod *from;
	int64_t r = p->budget.remaining;

	if (!p->budget.set || p->budget.from == NULL || r <= 0)
		return;
	from = daemon_pod_find(p->d, p->budget.from);
	if (from == NULL || from == p || !from->budget.set)
		return;
	from->budget.remaining = token_sat_add(from->budget.remaining, r);
	p->budget.tokens -= r;
	p->budget.remaining = 0;
	log_info("pod %s: %lld unspent tokens back to %s", p->name,
		(long long)r, from->name);
	podstore_write_later(p->d, from);
	podstore_write_later(p->d, p);
	budget_send(from);
}

/* usage {total}: keep the larger figure of each field; charge the rest. */
void
budget_worker_usage(struct pod *p, struct msg *m)
{
	struct token_usage n, *u = &p->budget.usage;
	int64_t before = token_usage_cost(u), delta;

	if (token_usage_parse(msg_param(m, "total"), &n) < 0) {
		log_debug("pod %s: bad usage event", p->name);
		return;
	}
	if (!token_usage_max(u, &n))
		return;
	delta = token_usage_cost(u) - before;
	if (p->budget.set && delta > 0) {
		p->budget.spent = token_sat_add(p->budget.spent, delta);
		p->budget.remaining -= delta;
	}
	podstore_write_later(p->d, p);
}

/* "usage" and "budget" of the start request. */
void
budget_start_config(const struct pod *p, struct json_object *o)
{
	struct json_object *b = NULL;

	json_object_object_add(o, "usage", token_usage_json(&p->budget.usage));
	if (p->budget.set) {
		b = json_object_new_object();
		json_object_object_add(b, "remaining",
			json_object_new_int64(p->budget.remaining));
		json_object_object_add(b, "cost",
			json_object_new_int64(
				token_usage_cost(&p->budget.usage)));
	}
	json_object_object_add(o, "budget", b);
}

static struct json_object *
budget_json(const struct pod_budget *b, bool with_from)
{
	struct json_object *o = json_object_new_object();

	json_object_object_add(o, "tokens", json_object_new_int64(b->tokens));
	json_object_object_add(o, "spent", json_object_new_int64(b->spent));
	json_object_object_add(o, "remaining",
		json_object_new_int64(b->remaining > 0 ? b->remaining : 0));
	if (with_from && b->from != NULL)
		json_object_object_add(
			o, "from", json_object_new_string(b->from));
	return o;
}

/* Pod state. */
void
budget_to_state(const struct pod *p, struct json_object *o)
{
	const struct pod_budget *b = &p->budget;
	struct json_object *s;

	json_object_object_add(o, "usage", token_usage_json(&b->usage));
	if (!b->set)
		return;
	s = budget_json(b, true);
	/* Overspent (a call went past): kept as is, shown as 0. */
	json_object_object_add(
		s, "remaining", json_object_new_int64(b->remaining));
	json_object_object_add(o, "budget", s);
}

static int
budget_state_int(struct json_object *o, const char *key, int64_t *ret)
{
	struct json_object *v;

	if (!json_object_object_get_ex(o, key, &v) ||
		!json_object_is_type(v, json_type_int))
		return -EINVAL;
	*ret = json_object_get_int64(v);
	return 0;
}

/* Pod state (absent: no usage yet, no budget). */
int
budget_from_state(struct pod *p, struct json_object *o, char **reterr_msg)
{
	struct pod_budget *b = &p->budget;
	struct json_object *v, *f;

	if (json_object_object_get_ex(o, "usage", &v) &&
		token_usage_parse(v, &b->usage) < 0) {
		*reterr_msg = xstrdup("bad \"usage\": not token counts");
		return -EINVAL;
	}
	if (!json_object_object_get_ex(o, "budget", &v) || v == NULL)
		return 0;
	if (!json_object_is_type(v, json_type_object) ||
		budget_state_int(v, "tokens", &b->tokens) < 0 ||
		budget_state_int(v, "spent", &b->spent) < 0 ||
		budget_state_int(v, "remaining", &b->remaining) < 0) {
		*reterr_msg = xstrdup(
			"bad \"budget\": needs tokens, spent and remaining");
		return -EINVAL;
	}
	b->set = true;
	if (json_object_object_get_ex(v, "from", &f) &&
		json_object_is_type(f, json_type_string))
		b->from = xstrdup(json_object_get_string(f));
	return 0;
}

/* Add p's and its descendants' totals to t (the current tree). */
static void
budget_tree(
	struct daemon *d, const struct pod *p, struct token_usage *t, int depth)
{
	struct token_usage own = p->budget.usage;
	struct pod *q;
	size_t i;

	token_usage_add(t, &own);
	if (depth >= 64)
		return;
	for (i = 0; i < p->children.n; i++) {
		q = daemon_pod_find(d, p->children.v[i]);
		/* A re-parented child counts under its parent of now. */
		if (q == NULL || q == p || q->parent == NULL ||
			strcmp(q->parent, p->name) != 0)
			continue;
		budget_tree(d, q, t, depth + 1);
	}
}

/* pod-summary fields. */
void
budget_summary(struct daemon *d, const struct pod *p, struct json_object *o)
{
	struct token_usage t = { 0 };

	json_object_object_add(o, "usage", token_usage_json(&p->budget.usage));
	budget_tree(d, p, &t, 0);
	json_object_object_add(o, "usage_total", token_usage_json(&t));
	if (p->budget.set)
		json_object_object_add(
			o, "budget", budget_json(&p->budget, true));
}

/* The same as text (list). */
void
budget_summary_text(struct daemon *d, const struct pod *p, struct textbuf *tb)
{
	const struct pod_budget *b = &p->budget;
	struct token_usage t = { 0 };
	char num[128];

	budget_usage_text(tb, ",\"usage\":", &b->usage);
	budget_tree(d, p, &t, 0);
	budget_usage_text(tb, ",\"usage_total\":", &t);
	if (!b->set)
		return;
	snprintf(num, sizeof num,
		",\"budget\":{\"tokens\":%" PRId64 ",\"spent\":%" PRId64
		",\"remaining\":%" PRId64,
		b->tokens, b->spent, b->remaining > 0 ? b->remaining : 0);
	textbuf_puts(tb, num);
	if (b->from != NULL) {
		textbuf_puts(tb, ",\"from\":");
		textbuf_json_str(tb, b->from);
	}
	textbuf_puts(tb, "}");
}

/* The figures of set_budget's params: -1 with an error sent. */
static int
budget_set_delta(struct conn *c, struct msg *m, const struct pod_budget *b,
	int64_t *ret_delta)
{
	struct json_object *tok = msg_param(m, "tokens");
	struct json_object *add = msg_param(m, "add");
	int64_t n;

	if ((tok == NULL) == (add == NULL)) {
		conn_send_error(c, m->id, PERR_INVALID_REQUEST, NULL,
			"give exactly one of \"tokens\" (the budget in all) "
			"and \"add\" (more, or fewer when negative)");
		return -1;
	}
	n = json_object_get_int64(tok != NULL ? tok : add);
	if (!json_object_is_type(tok != NULL ? tok : add, json_type_int) ||
		n > BUDGET_MAX || n < -BUDGET_MAX || (tok != NULL && n < 0)) {
		conn_send_error(c, m->id, PERR_INVALID_REQUEST,
			budget_field_extra(tok != NULL ? "tokens" : "add"),
			"\"%s\" must be a whole number of tokens%s",
			tok != NULL ? "tokens" : "add",
			tok != NULL ? " from 0" : "");
		return -1;
	}
	*ret_delta = tok != NULL ? n - (b->set ? b->tokens : 0) : n;
	return 0;
}

static void
budget_set_reply(struct conn *c, struct msg *m, const struct pod *p)
{
	struct json_object *o = json_object_new_object();

	json_object_object_add(o, "name", json_object_new_string(p->name));
	json_object_object_add(o, "budget", budget_json(&p->budget, true));
	conn_send_event(c, "budget_set", o, m->id);
}

/* set_budget; see budget.h. */
void
budget_set(struct daemon *d, struct pod *viewer, struct conn *c, struct msg *m)
{
	struct pod *p, *from = NULL;
	struct pod_budget *b;
	int64_t delta, left;
	int r;

	p = podops_lookup(d, viewer, c, m, msg_param_str(m, "name"));
	if (p == NULL)
		return;
	b = &p->budget;
	if (p->status == POD_CORRUPT) {
		conn_send_error(c, m->id, PERR_INVALID_REQUEST, NULL,
			"the state file of %s is corrupt", p->name);
		return;
	}
	if (budget_set_delta(c, m, b, &delta) < 0)
		return;
	if (b->from != NULL)
		from = daemon_pod_find(d, b->from);
	if (from != NULL && (!from->budget.set || from == p))
		from = NULL;
	/* A pod gives only what it has, and only to children it budgets. */
	if (viewer != NULL && from != viewer) {
		conn_send_error(c, m->id, PERR_NOT_SUBSET,
			budget_field_extra("tokens"),
			"pod %s can change only the budgets of children it gave "
			"one to; %s is not one",
			viewer->name, p->name);
		return;
	}
	left = b->set && b->remaining > 0 ? b->remaining : 0;
	if (delta < -left)
		delta = -left; /* what is spent stays spent */
	if (from != NULL && delta > 0 &&
		delta > (from->budget.remaining > 0 ? from->budget.remaining
						    : 0)) {
		conn_send_error(c, m->id, PERR_NOT_SUBSET,
			budget_field_extra("tokens"),
			"a child's budget comes out of its parent's; pod %s "
			"has %lld tokens left, so %lld more for %s is not "
			"allowed",
			from->name,
			(long long)(from->budget.remaining > 0
					? from->budget.remaining
					: 0),
			(long long)delta, p->name);
		return;
	}
	if (!b->set) {
		b->set = true;
		b->tokens = b->spent = b->remaining = 0;
	}
	b->tokens += delta;
	b->remaining = (b->remaining > 0 ? b->remaining : 0) + delta;
	if (from != NULL) {
		from->budget.remaining -= delta;
		(void)podstore_write(d, from);
		budget_send(from);
	}
	if ((r = podstore_write(d, p)) < 0)
		log_warn("pod %s: cannot write its budget: %s", p->name,
			strerror(-r));
	budget_send(p);
	budget_set_reply(c, m, p);
}
