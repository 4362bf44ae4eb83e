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
#include "worker/mcp.h"
#include "worker/attach.h"
#include "worker/compact.h"
#include "worker/link.h"
#include "worker/session.h"
#include "worker/spend.h"
#include "worker/tool_pod.h"
#include "worker/turn.h"
#include "worker/turn_int.h"
#include "worker/turn_item.h"
#include "worker/worker.h"

#define TURN_TEXT_MAX 4096

/* Emit text_done/thinking_done for what is still open. */
void
turn_stream_flush(struct turn *t)
{
	struct json_object *d;

	if (t->thinking_open) {
		t->thinking_open = false;
		d = json_object_new_object();
		json_object_object_add(d, "text",
			json_object_new_string(
				t->thinking.p ? t->thinking.p : ""));
		turn_emit(t, "thinking_done", d);
	}
	if (t->text_open) {
		t->text_open = false;
		d = json_object_new_object();
		json_object_object_add(d, "text",
			json_object_new_string(t->text.p ? t->text.p : ""));
		turn_emit(t, "text_done", d);
	}
}

static void
turn_stream_text_delta_cb(void *arg, const char *text, size_t len)
{
	struct turn *t = arg;
	struct json_object *d;

	if (t->thinking_open) {
		t->thinking_open = false;
		d = json_object_new_object();
		json_object_object_add(d, "text",
			json_object_new_string(
				t->thinking.p ? t->thinking.p : ""));
		turn_emit(t, "thinking_done", d);
	}
	t->text_open = true;
	turn_buf_add(&t->text, text, len);
	d = json_object_new_object();
	json_object_object_add(
		d, "text", json_object_new_string_len(text, (int)len));
	turn_emit(t, "text_delta", d);
}

static void
turn_stream_thinking_delta_cb(void *arg, const char *text, size_t len)
{
	struct turn *t = arg;
	struct json_object *d;

	t->thinking_open = true;
	turn_buf_add(&t->thinking, text, len);
	d = json_object_new_object();
	json_object_object_add(
		d, "text", json_object_new_string_len(text, (int)len));
	turn_emit(t, "thinking_delta", d);
}

static void
turn_stream_tool_call_start_cb(void *arg, const char *id, const char *name)
{
	struct turn *t = arg;
	struct json_object *d;

	turn_stream_flush(t);
	d = json_object_new_object();
	json_object_object_add(d, "id", json_object_new_string(id ? id : ""));
	json_object_object_add(
		d, "name", json_object_new_string(name ? name : ""));
	turn_emit(t, "tool_call_start", d);
}

static void
turn_stream_retry_cb(void *arg, int attempt, int max_attempts, int wait_ms,
	int status, const char *error)
{
	struct turn *t = arg;
	struct json_object *d;

	d = json_object_new_object();
	json_object_object_add(d, "call", json_object_new_int(t->call_no));
	json_object_object_add(d, "attempt", json_object_new_int(attempt));
	json_object_object_add(
		d, "max_attempts", json_object_new_int(max_attempts));
	json_object_object_add(d, "wait_ms", json_object_new_int(wait_ms));
	if (status > 0)
		json_object_object_add(
			d, "status", json_object_new_int(status));
	json_object_object_add(
		d, "error", json_object_new_string(error ? error : ""));
	turn_emit(t, "llm_retry", d);
}

static void
turn_stream_set_last_text(struct turn *t, const char *text)
{
	size_t n;

	free(t->last_text);
	n = strlen(text);
	if (n > TURN_TEXT_MAX)
		n = attach_utf8_prefix(text, TURN_TEXT_MAX);
	t->last_text = xstrndup(text, n);
}

/* Commit what streamed so far as an assistant entry. */
void
turn_stream_commit_partial(struct turn *t)
{
	struct json_object *e;

	turn_stream_flush(t);
	if (t->text.len == 0 && t->thinking.len == 0)
		return;
	e = session_entry_new("assistant");
	if (t->text.len > 0) {
		json_object_object_add(
			e, "text", json_object_new_string(t->text.p));
		turn_stream_set_last_text(t, t->text.p);
	}
	if (t->thinking.len > 0)
		json_object_object_add(
			e, "thinking", json_object_new_string(t->thinking.p));
	json_object_object_add(e, "partial", json_object_new_boolean(1));
	turn_commit(t, e, true);
	turn_buf_reset(&t->text);
	turn_buf_reset(&t->thinking);
}

static void
turn_stream_usage(struct turn *t, const struct token_usage *u)
{
	struct json_object *d, *e;
	struct json_object_iter it;

	d = json_object_new_object();
	json_object_object_add(
		d, "input_tokens", json_object_new_int64(u->input_tokens));
	json_object_object_add(
		d, "output_tokens", json_object_new_int64(u->output_tokens));
	if (u->cache_read_tokens > 0)
		json_object_object_add(d, "cache_read_tokens",
			json_object_new_int64(u->cache_read_tokens));
	if (u->cache_write_tokens > 0)
		json_object_object_add(d, "cache_write_tokens",
			json_object_new_int64(u->cache_write_tokens));
	if (u->reasoning_tokens > 0)
		json_object_object_add(d, "reasoning_tokens",
			json_object_new_int64(u->reasoning_tokens));
	e = session_entry_new("usage");
	json_object_object_foreachC(d, it)
	{
		json_object_object_add(e, it.key, json_object_get(it.val));
	}
	turn_commit(t, e, false);
	spend_add(t->w->spend, u);
	compact_usage_fields(t->w, d);
	turn_emit(t, "usage", d);
}

static void
turn_stream_done_cb(void *arg, const struct llm_result *res)
{
	struct turn *t = arg;
	struct json_object *d, *e, *calls, *c;
	size_t i;

	t->call = NULL;
	turn_stream_flush(t);
	d = json_object_new_object();
	json_object_object_add(d, "call", json_object_new_int(t->call_no));
	json_object_object_add(d, "stop_reason",
		json_object_new_string(res->failed ? "error"
				: res->stop_reason ? res->stop_reason
						   : "stop"));
	json_object_object_add(d, "ms",
		json_object_new_int64(clock_mono_ms() - t->call_start_ms));
	turn_emit(t, "llm_call_end", d);
	if (res->failed) {
		/* Too long: compact, then this request is sent again. */
		if (res->overflow && compact_on_overflow(t->w))
			return;
		turn_stream_commit_partial(t);
		worker_alert(t->w, "error", "provider", "%s",
			res->error ? res->error : "model request failed");
		turn_stop(t, "error", "provider_error",
			res->error ? res->error : "model request failed");
		return;
	}
	turn_stream_usage(t, &res->usage);
	e = session_entry_new("assistant");
	if (res->text != NULL && res->text[0] != '\0') {
		json_object_object_add(
			e, "text", json_object_new_string(res->text));
		turn_stream_set_last_text(t, res->text);
	}
	if (res->thinking != NULL && res->thinking[0] != '\0')
		json_object_object_add(
			e, "thinking", json_object_new_string(res->thinking));
	if (res->thinking_signature != NULL)
		json_object_object_add(e, "thinking_signature",
			json_object_new_string(res->thinking_signature));
	/* openai_responses: the output items go back verbatim next call. */
	if (res->items != NULL && json_object_array_length(res->items) > 0)
		json_object_object_add(e, "items", json_object_get(res->items));
	if (res->response_id != NULL)
		json_object_object_add(e, "response_id",
			json_object_new_string(res->response_id));
	calls = json_object_new_array();
	for (i = 0; i < res->ntool_calls; i++) {
		c = json_object_new_object();
		json_object_object_add(c, "id",
			json_object_new_string(res->tool_calls[i].id
					? res->tool_calls[i].id
					: ""));
		json_object_object_add(c, "name",
			json_object_new_string(res->tool_calls[i].name
					? res->tool_calls[i].name
					: ""));
		json_object_object_add(c, "arguments",
			json_object_new_string(res->tool_calls[i].arguments
					? res->tool_calls[i].arguments
					: "{}"));
		json_object_array_add(calls, c);
	}
	if (res->ntool_calls > 0)
		json_object_object_add(e, "tool_calls", json_object_get(calls));
	turn_commit(t, e, true);
	turn_buf_reset(&t->text);
	turn_buf_reset(&t->thinking);
	for (i = 0; i < res->ntool_calls; i++) {
		c = json_object_array_get_idx(calls, i);
		turn_emit(t, "tool_call_done", json_object_get(c));
	}
	if (res->ntool_calls > 0)
		turn_tools_run(t, calls);
	else
		turn_stop(t, "finished", NULL, NULL);
	json_object_put(calls);
}

static const struct llm_stream_cb turn_stream_cbs = {
	.text_delta = turn_stream_text_delta_cb,
	.thinking_delta = turn_stream_thinking_delta_cb,
	.tool_call_start = turn_stream_tool_call_start_cb,
	.retry = turn_stream_retry_cb,
	.done = turn_stream_done_cb,
};

/* Deliver queued items, then send the next model request. */
static void
turn_stream_mcp_ready_cb(void *arg)
{
	turn_stream_request(arg);
}

/*
 * The budget gate: a request whose input alone (the context estimate)
 * would go past what is left is not sent; the run ends with
 * budget_exhausted and the pod waits for more (docs/budgets.md).
 */
static bool
turn_stream_budget_stop(struct turn *t)
{
	int64_t need = turn_context_tokens(t), left;

	if (spend_allows(t->w->spend, need, &left))
		return false;
	worker_alert(t->w, "warn", "budget",
		"token budget exhausted: the next request needs about %lld "
		"tokens and %lld are left; the run stops here (podvisor "
		"budget %s +N gives more)",
		(long long)need, (long long)left, t->w->name);
	turn_stop(t, "budget_exhausted", NULL, NULL);
	return true;
}

void
turn_stream_request(struct turn *t)
{
	struct llm_request req = { 0 };
	struct json_object *d;
	char *system, *err = NULL;

	if (t->status != TURN_RUNNING || t->call != NULL)
		return;
	turn_deliver_items(t);
	/* Never ask the model about a history the log does not hold. */
	if (!turn_log_ok(t)) {
		turn_stop(t, "error", "internal", "session log write failed");
		return;
	}
	/* Over the threshold: the request waits for a compaction. */
	if (compact_before_request(t->w))
		return;
	if (t->requests >= t->w->max_turns) {
		worker_alert(t->w, "warn", "turn",
			"max_turns (%d) reached; the run stops here",
			t->w->max_turns);
		turn_stop(t, "limit_reached", NULL, NULL);
		return;
	}
	if (turn_stream_budget_stop(t))
		return;
	/* The first request waits for the MCP servers' first start. */
	if (mcp_wait_first(t->w->mcp, turn_stream_mcp_ready_cb, t))
		return;
	t->ndefs = mcp_defs(t->w->mcp, &t->defs, t->nbase);
	t->requests++;
	t->call_no++;
	system = worker_system_prompt(t->w);
	req.system = system;
	req.entries = session_entries(t->w->session);
	req.tools = t->defs;
	req.ntools = t->ndefs;
	req.cache_key = session_id(t->w->session);
	t->call_start_ms = clock_mono_ms();
	d = json_object_new_object();
	json_object_object_add(d, "call", json_object_new_int(t->call_no));
	json_object_object_add(d, "model",
		json_object_new_string(t->w->pc.model ? t->w->pc.model : ""));
	turn_emit(t, "llm_call_start", d);
	t->call = llm_call_start(
		t->w->http, &t->w->pc, &req, &turn_stream_cbs, t, &err);
	free(system);
	if (t->call == NULL) {
		d = json_object_new_object();
		json_object_object_add(
			d, "call", json_object_new_int(t->call_no));
		json_object_object_add(
			d, "stop_reason", json_object_new_string("error"));
		json_object_object_add(d, "ms", json_object_new_int64(0));
		turn_emit(t, "llm_call_end", d);
		worker_alert(t->w, "error", "provider", "%s",
			err ? err : "model request failed");
		turn_stop(t, "error", "provider_error",
			err ? err : "model request failed");
		free(err);
	}
}
