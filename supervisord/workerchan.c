/* SPDX-License-Identifier: ISC */
#include <stdlib.h>
#include <string.h>

#include <json-c/json.h>

#include "common/log.h"
#include "common/xmalloc.h"
#include "proto/conn.h"
#include "proto/frame.h"
#include "proto/dispatch.h"
#include "proto/msg.h"
#include "supervisord/approvals.h"
#include "supervisord/budget.h"
#include "supervisord/daemon.h"
#include "supervisord/podops.h"
#include "supervisord/podstore.h"
#include "supervisord/registry.h"
#include "supervisord/route.h"
#include "supervisord/workerchan.h"

/* Longest turn text forwarded to a parent. */
#define WORKERCHAN_MAX_TEXT 4096

static void
workerchan_on_message(struct conn *c, struct msg *m, void *arg)
{
	struct client *cl = arg;

	(void)c;
	if (cl == NULL)
		return;
	workerchan_dispatch(cl, m);
}

static void
workerchan_on_close(struct conn *c, void *arg)
{
	struct client *cl = arg;

	if (cl != NULL) {
		workerchan_closed(cl);
		free(cl);
	}
	conn_set_arg(c, NULL);
	conn_unref(c);
}

static const struct conn_ops workerchan_conn_ops = {
	.on_message = workerchan_on_message,
	.on_close = workerchan_on_close,
};

/* The callbacks for fd 3 connections. */
const struct conn_ops *
workerchan_ops(void)
{
	return &workerchan_conn_ops;
}

/* Attach a fresh fd 3 connection to p. */
void
workerchan_attach(struct pod *p, struct conn *c)
{
	struct client *cl = xcalloc(1, sizeof(*cl));

	workerchan_detach(p);
	cl->d = p->d;
	cl->c = c;
	cl->pod = p;
	conn_set_arg(c, cl);
	p->chan = cl;
	route_reset(p);
}

/* Turn an existing control client into p's channel. */
void
workerchan_adopt(struct pod *p, struct client *cl)
{
	workerchan_detach(p);
	cl->pod = p;
	p->chan = cl;
	/* A worker channel is not a user client: no output cap, and the
	 * worker channel's line limit rather than the control socket's. */
	conn_set_out_limit(cl->c, 0);
	conn_set_line_limit(cl->c, FRAME_LIMIT_WORKER);
	route_reset(p);
}

/* Unlink a closing channel from its pod. */
void
workerchan_closed(struct client *cl)
{
	struct pod *p = cl->pod;

	if (p != NULL && p->chan == cl) {
		p->chan = NULL;
		route_reset(p);
		log_debug("pod %s: worker channel closed", p->name);
	}
	cl->pod = NULL;
}

/* Close p's channel (its on_close frees the client). */
void
workerchan_detach(struct pod *p)
{
	struct client *cl = p->chan;

	if (cl == NULL)
		return;
	p->chan = NULL;
	cl->pod = NULL;
	route_reset(p);
	conn_close_now(cl->c);
}

/* scope_changed {effective_write} to p's worker. */
void
workerchan_send_scope(struct pod *p)
{
	struct json_object *data;
	struct scope_rules eff;

	if (p->chan == NULL || !p->reserved)
		return;
	registry_effective_write(p->d, p, &eff);
	data = json_object_new_object();
	json_object_object_add(
		data, "effective_write", scope_rules_to_json(&eff));
	scope_rules_clear(&eff);
	conn_send_event(p->chan->c, "scope_changed", data, NULL);
}

static void
workerchan_list_pods(void *ctx, struct conn *c, struct msg *m)
{
	struct client *cl = ctx;

	podops_list(cl->d, cl->pod, c, m);
}

static void
workerchan_register_peer(void *ctx, struct conn *c, struct msg *m)
{
	struct client *cl = ctx;

	podops_register_peer(cl->d, cl->pod, c, m);
}

static void
workerchan_restore_pod(void *ctx, struct conn *c, struct msg *m)
{
	struct client *cl = ctx;

	podops_restore(cl->d, cl->pod, c, m);
}

static void
workerchan_send_to_peer(void *ctx, struct conn *c, struct msg *m)
{
	struct client *cl = ctx;

	podops_send(cl->d, cl->pod, c, m, "peer_message");
}

static void
workerchan_send_to_pod(void *ctx, struct conn *c, struct msg *m)
{
	struct client *cl = ctx;

	podops_send(cl->d, cl->pod, c, m, "message");
}

static void
workerchan_answer_approval(void *ctx, struct conn *c, struct msg *m)
{
	struct client *cl = ctx;

	approvals_answer(cl->d, cl->pod, c, m);
}

static void
workerchan_set_budget(void *ctx, struct conn *c, struct msg *m)
{
	struct client *cl = ctx;

	budget_set(cl->d, cl->pod, c, m);
}

static void
workerchan_spawn_pod(void *ctx, struct conn *c, struct msg *m)
{
	struct client *cl = ctx;

	podops_spawn(cl->d, cl->pod, c, m);
}

static void
workerchan_stop_pod(void *ctx, struct conn *c, struct msg *m)
{
	struct client *cl = ctx;

	podops_stop(cl->d, cl->pod, c, m);
}

static const struct param_spec workerchan_p_answer[] = {
	{ "pod", PARAM_STRING, false },
	{ "id", PARAM_STRING, false },
	{ "decision", PARAM_STRING, false },
	{ "reason", PARAM_STRING, true },
	{ NULL, PARAM_ANY, false },
};
static const struct param_spec workerchan_p_name[] = {
	{ "name", PARAM_STRING, false },
	{ NULL, PARAM_ANY, false },
};
static const struct param_spec workerchan_p_send[] = {
	{ "name", PARAM_STRING, false },
	{ "message", PARAM_STRING, false },
	{ NULL, PARAM_ANY, false },
};
static const struct param_spec workerchan_p_spawn[] = {
	{ "name", PARAM_STRING, false },
	{ "task", PARAM_STRING, true },
	{ "scope", PARAM_ARRAY, true },
	{ "cwd", PARAM_STRING, true },
	{ "model", PARAM_STRING, true },
	{ "instruction", PARAM_STRING, true },
	{ "restart", PARAM_STRING, true },
	{ "approval", PARAM_OBJECT, true },
	{ "network", PARAM_STRING, true },
	{ "limits", PARAM_OBJECT, true },
	{ "mcp", PARAM_ARRAY, true },
	{ "worktree", PARAM_OBJECT, true },
	{ "budget_tokens", PARAM_INT, true },
	{ NULL, PARAM_ANY, false },
};
static const struct param_spec workerchan_p_budget[] = {
	{ "name", PARAM_STRING, false },
	{ "tokens", PARAM_INT, true },
	{ "add", PARAM_INT, true },
	{ NULL, PARAM_ANY, false },
};
static const struct param_spec workerchan_p_stop[] = {
	{ "name", PARAM_STRING, false },
	{ "recursive", PARAM_BOOL, true },
	{ NULL, PARAM_ANY, false },
};

/* Sorted by name (dispatch_table_valid() is unit-tested). */
const struct dispatch_entry workerchan_table[] = {
	{ "answer_approval", workerchan_p_answer, workerchan_answer_approval },
	{ "list_pods", NULL, workerchan_list_pods },
	{ "register_peer", workerchan_p_name, workerchan_register_peer },
	{ "restore_pod", workerchan_p_name, workerchan_restore_pod },
	{ "send_to_peer", workerchan_p_send, workerchan_send_to_peer },
	{ "send_to_pod", workerchan_p_send, workerchan_send_to_pod },
	{ "set_budget", workerchan_p_budget, workerchan_set_budget },
	{ "spawn_pod", workerchan_p_spawn, workerchan_spawn_pod },
	{ "stop_pod", workerchan_p_stop, workerchan_stop_pod },
};
const unsigned workerchan_table_len =
	sizeof(workerchan_table) / sizeof(workerchan_table[0]);

static void
workerchan_event_state(struct pod *p, struct msg *m)
{
	const char *status = msg_param_str(m, "status");
	const char *segment = msg_param_str(m, "segment");

	if (status != NULL && strlen(status) < 32) {
		free(p->activity);
		p->activity = xstrdup(status);
	}
	if (segment != NULL && strlen(segment) < 128 &&
		(p->segment == NULL || strcmp(p->segment, segment) != 0)) {
		free(p->segment);
		p->segment = xstrdup(segment);
		(void)podstore_write(p->d, p);
	}
}

static void
workerchan_event_turn(struct pod *p, struct msg *m, bool ok)
{
	struct pod *parent = registry_parent(p->d, p);
	struct json_object *f = json_object_new_object(), *v;
	const char *text;

	if (parent == NULL) {
		json_object_put(f);
		return;
	}
	if ((v = msg_param(m, "turn")) != NULL)
		json_object_object_add(f, "turn", json_object_get(v));
	if (ok) {
		if ((v = msg_param(m, "result")) != NULL)
			json_object_object_add(f, "result", json_object_get(v));
		text = msg_param_str(m, "text");
		if (text != NULL) {
			size_t len = strnlen(text, WORKERCHAN_MAX_TEXT);

			/* Never cut a UTF-8 sequence in half. */
			while (len > 0 && text[len] != '\0' &&
				((unsigned char)text[len] & 0xC0) == 0x80)
				len--;
			json_object_object_add(f, "text",
				json_object_new_string_len(text, (int)len));
		}
		route_event(p->d, parent, "child_turn_ended", p->name, f);
	} else {
		if ((v = msg_param(m, "error")) != NULL)
			json_object_object_add(f, "error", json_object_get(v));
		route_event(p->d, parent, "child_errored", p->name, f);
	}
}

/* One message from a worker: a request or an event. */
void
workerchan_dispatch(struct client *cl, struct msg *m)
{
	struct pod *p = cl->pod;

	if (p == NULL)
		return;
	if (m->kind == MSG_REQUEST) {
		(void)dispatch_request(
			workerchan_table, workerchan_table_len, cl, cl->c, m);
		return;
	}
	if (strcmp(m->name, "state") == 0)
		workerchan_event_state(p, m);
	else if (strcmp(m->name, "turn_ended") == 0)
		workerchan_event_turn(p, m, true);
	else if (strcmp(m->name, "turn_errored") == 0)
		workerchan_event_turn(p, m, false);
	else if (strcmp(m->name, "usage") == 0)
		budget_worker_usage(p, m);
	else if (strcmp(m->name, "approval_rule") == 0)
		approvals_worker_rule(p, m);
	else if (strcmp(m->name, "approval_request") == 0)
		approvals_worker_request(p, m);
	else
		log_debug("pod %s: ignoring event %s", p->name, m->name);
}
