/* SPDX-License-Identifier: ISC */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include <event2/event.h>
#include <json-c/json.h>

#include "common/clock.h"
#include "common/log.h"
#include "common/xmalloc.h"
#include "proto/conn.h"
#include "proto/msg.h"
#include "worker/approval.h"
#include "worker/attach.h"
#include "worker/link.h"
#include "worker/mcp.h"
#include "worker/session.h"
#include "worker/tool_pod.h"
#include "worker/turn.h"
#include "worker/turn_int.h"
#include "worker/turn_item.h"
#include "worker/worker.h"

static void turn_tools_advance(struct turn *t);

/* Cancel running tool calls and forget the batch. */
void
turn_tools_free(struct turn *t)
{
	size_t i;

	for (i = 0; i < t->ntools; i++) {
		if (t->tools[i].waiting)
			approval_detach(t->w->approval, &t->tools[i]);
		tool_run_cancel(t->tools[i].run);
		tool_pod_cancel(t->tools[i].prun);
		mcp_call_cancel(t->tools[i].mrun);
		free(t->tools[i].id);
		free(t->tools[i].name);
		free(t->tools[i].args);
	}
	free(t->tools);
	t->tools = NULL;
	t->ntools = t->tools_next = t->tools_running = t->tools_left = 0;
}

static void
turn_tools_done_cb(void *arg, struct tool_result *res)
{
	struct turn_tool *tt = arg;
	struct turn *t = tt->t;
	struct json_object *e, *d;

	tt->run = NULL;
	tt->prun = NULL;
	tt->mrun = NULL;
	tt->done = true;
	t->tools_running--;
	t->tools_left--;
	e = session_entry_new("tool_result");
	d = json_object_new_object();
	json_object_object_add(e, "id", json_object_new_string(tt->id));
	json_object_object_add(d, "id", json_object_new_string(tt->id));
	json_object_object_add(e, "summary",
		json_object_new_string(res->summary ? res->summary : ""));
	json_object_object_add(d, "summary",
		json_object_new_string(res->summary ? res->summary : ""));
	if (res->output != NULL) {
		json_object_object_add(
			e, "output", json_object_new_string(res->output));
		json_object_object_add(
			d, "output", json_object_new_string(res->output));
	}
	json_object_object_add(
		e, "is_error", json_object_new_boolean(res->is_error));
	json_object_object_add(
		d, "is_error", json_object_new_boolean(res->is_error));
	turn_commit(t, e, true);
	turn_emit(t, "tool_result", d);
	turn_tools_advance(t);
}

static bool
turn_tools_readonly(const char *name)
{
	static const char *const ro[] = { "read", "glob", "grep", "list_pods",
		"read_pod_output", NULL };
	size_t i;

	for (i = 0; ro[i] != NULL; i++)
		if (strcmp(ro[i], name) == 0)
			return true;
	return false;
}

/* Start the call itself (it passed the approval gate). */
static void
turn_tools_exec(struct turn *t, struct turn_tool *tt)
{
	struct tool_result res = { 0 };

	if (tools_is_builtin(tt->name))
		tt->run = tool_run_start(&t->w->tenv, tt->name, tt->args,
			turn_tools_done_cb, tt);
	else if (tool_pod_is_pod_tool(tt->name))
		tt->prun = tool_pod_start(
			t->w, tt->name, tt->args, turn_tools_done_cb, tt);
	else if (mcp_is_mcp_tool(t->w->mcp, tt->name))
		tt->mrun = mcp_call_start(t->w->mcp, tt->name, tt->args, tt->id,
			turn_tools_done_cb, tt);
	if (tt->run != NULL || tt->prun != NULL || tt->mrun != NULL)
		return;
	res.is_error = true;
	res.summary = xstrfmt("unknown tool %s", tt->name);
	res.output =
		xstrfmt("tool_error: there is no tool named \"%s\"", tt->name);
	turn_tools_done_cb(tt, &res);
	tool_result_clear(&res);
}

/* The approval for a waiting call came: run it or answer the refusal. */
static void
turn_tools_approved_cb(void *arg, bool allow, const char *reason)
{
	struct turn_tool *tt = arg;
	struct tool_result res = { 0 };

	tt->waiting = false;
	if (allow) {
		turn_tools_exec(tt->t, tt);
		return;
	}
	res.is_error = true;
	res.summary = xstrdup(reason ? reason : "denied");
	res.output = xstrfmt("tool_error: this %s call was not run: %s",
		tt->name, reason ? reason : "denied");
	turn_tools_done_cb(tt, &res);
	tool_result_clear(&res);
}

/*
 * Every tool call passes here (built-in, pod and any later kind): the
 * approval gate decides whether it runs now, waits, or is refused.
 */
static void
turn_tools_start_one(struct turn *t, struct turn_tool *tt)
{
	char *reason = NULL;

	tt->started = true;
	t->tools_running++;
	switch (approval_gate(t->w->approval, tt->id, tt->name, tt->args,
		turn_tools_approved_cb, tt, &reason)) {
	case APPROVAL_GATE_RUN:
		turn_tools_exec(t, tt);
		break;
	case APPROVAL_GATE_WAIT:
		tt->waiting = true;
		break;
	case APPROVAL_GATE_DENY:
		turn_tools_approved_cb(tt, false, reason);
		break;
	}
	free(reason);
}

/*
 * Start the next tools: consecutive read-only calls run concurrently, a
 * call that changes something waits for those before it and runs alone,
 * so a batch behaves as if it ran in order.
 */
static void
turn_tools_advance(struct turn *t)
{
	struct turn_tool *tt;

	while (t->status == TURN_RUNNING && t->tools_next < t->ntools) {
		tt = &t->tools[t->tools_next];
		if (!turn_tools_readonly(tt->name) && t->tools_running > 0)
			return;
		if (t->tools_running > 0 &&
			!turn_tools_readonly(t->tools[t->tools_next - 1].name))
			return;
		t->tools_next++;
		turn_tools_start_one(t, tt);
		if (t->status != TURN_RUNNING)
			return;
	}
	if (t->status == TURN_RUNNING && t->tools_left == 0 && t->ntools > 0) {
		turn_tools_free(t);
		turn_schedule(t, TURN_NEXT_REQUEST);
	}
}

/* Run the calls (array of {id,name,arguments}) of one assistant entry. */
void
turn_tools_run(struct turn *t, struct json_object *calls)
{
	struct json_object *c, *v;
	size_t i, n;

	turn_tools_free(t);
	n = json_object_array_length(calls);
	if (n == 0) {
		turn_schedule(t, TURN_NEXT_REQUEST);
		return;
	}
	t->tools = xcalloc(n, sizeof *t->tools);
	t->ntools = t->tools_left = n;
	for (i = 0; i < n; i++) {
		c = json_object_array_get_idx(calls, i);
		t->tools[i].t = t;
		t->tools[i].id = xstrdup(json_object_object_get_ex(c, "id", &v)
				? json_object_get_string(v)
				: "");
		t->tools[i].name =
			xstrdup(json_object_object_get_ex(c, "name", &v)
					? json_object_get_string(v)
					: "");
		t->tools[i].args =
			xstrdup(json_object_object_get_ex(c, "arguments", &v)
					? json_object_get_string(v)
					: "{}");
	}
	turn_tools_advance(t);
}
