/* SPDX-License-Identifier: ISC */
#include "worker/provider_int.h"

#include <errno.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <json-c/json.h>

#include "common/xmalloc.h"
#include "proto/msg.h"

/*
 * The OpenAI Responses wire scheme: POST {base}/responses with
 * stream:true.  The request is "instructions" plus a list of input
 * items; the stream is typed events (event: NAME / data: {"type":NAME})
 * ending in response.completed, response.incomplete or response.failed
 * (no [DONE]).
 *
 * Reasoning is kept across calls: with store:false (the default) the
 * server returns each reasoning item's encrypted_content, the items of
 * a response are kept in order in the assistant log entry ("items") and
 * sent back verbatim; with store:true and previous_response_id the
 * server holds them and only what came after is sent.
 */

#define RESPONSES_NO_RESULT "Error: no result (the tool call was interrupted)"

/* The input being built, with the function calls still unanswered. */
struct responses_hist {
	struct json_object *input;
	const char **pending;
	bool *answered;
	size_t npending;
	struct json_object *deferred; /* user messages held back meanwhile */
};

static void
responses_msg(struct json_object *input, const char *role, const char *text)
{
	struct json_object *m, *content, *part;

	m = json_object_new_object();
	json_object_object_add(m, "type", json_object_new_string("message"));
	json_object_object_add(m, "role", json_object_new_string(role));
	content = json_object_new_array();
	part = json_object_new_object();
	json_object_object_add(part, "type",
		json_object_new_string(strcmp(role, "assistant") == 0
				? "output_text"
				: "input_text"));
	json_object_object_add(part, "text", json_object_new_string(text));
	json_object_array_add(content, part);
	json_object_object_add(m, "content", content);
	json_object_array_add(input, m);
}

static void
responses_output(
	struct json_object *input, const char *call_id, const char *text)
{
	struct json_object *o = json_object_new_object();

	json_object_object_add(
		o, "type", json_object_new_string("function_call_output"));
	json_object_object_add(o, "call_id", json_object_new_string(call_id));
	json_object_object_add(o, "output", json_object_new_string(text));
	json_object_array_add(input, o);
}

/* Answer what is still pending, then release held-back messages. */
static void
responses_flush(struct responses_hist *h)
{
	size_t i, n;

	for (i = 0; i < h->npending; i++)
		if (!h->answered[i])
			responses_output(
				h->input, h->pending[i], RESPONSES_NO_RESULT);
	free(h->pending);
	free(h->answered);
	h->pending = NULL;
	h->answered = NULL;
	h->npending = 0;
	n = json_object_array_length(h->deferred);
	for (i = 0; i < n; i++)
		json_object_array_add(h->input,
			json_object_get(
				json_object_array_get_idx(h->deferred, i)));
	json_object_put(h->deferred);
	h->deferred = json_object_new_array();
}

static void
responses_user_text(
	struct responses_hist *h, const char *role, const char *text)
{
	responses_msg(h->npending > 0 ? h->deferred : h->input, role, text);
}

static void
responses_pending(struct responses_hist *h, const char *call_id)
{
	h->pending =
		xreallocarray(h->pending, h->npending + 1, sizeof(*h->pending));
	h->answered = xreallocarray(
		h->answered, h->npending + 1, sizeof(*h->answered));
	h->pending[h->npending] = call_id;
	h->answered[h->npending] = false;
	h->npending++;
}

static void
responses_copy(
	struct json_object *dst, struct json_object *src, const char *key)
{
	struct json_object *v;

	if (json_object_object_get_ex(src, key, &v) && v != NULL)
		json_object_object_add(dst, key, json_object_get(v));
}

/*
 * One stored output item as an input item.  Reasoning goes back
 * verbatim (id, summary, encrypted_content); messages and function calls
 * without their ids, which name nothing on a server that stores nothing.
 * Returns false for an item that cannot be sent (unknown type).
 */
static bool
responses_item(struct responses_hist *h, struct json_object *item)
{
	const char *type = msg_json_str(item, "type");
	const char *call_id, *name, *args, *role;
	struct json_object *o, *v;

	if (type == NULL)
		return false;
	if (strcmp(type, "reasoning") == 0) {
		o = json_object_new_object();
		json_object_object_add(
			o, "type", json_object_new_string("reasoning"));
		responses_copy(o, item, "id");
		if (json_object_object_get_ex(item, "summary", &v) &&
			json_object_is_type(v, json_type_array))
			json_object_object_add(
				o, "summary", json_object_get(v));
		else
			json_object_object_add(
				o, "summary", json_object_new_array());
		if (msg_json_str(item, "encrypted_content") != NULL)
			responses_copy(o, item, "encrypted_content");
		json_object_array_add(h->input, o);
		return true;
	}
	if (strcmp(type, "message") == 0) {
		role = msg_json_str(item, "role");
		if (!json_object_object_get_ex(item, "content", &v) ||
			!json_object_is_type(v, json_type_array))
			return false;
		o = json_object_new_object();
		json_object_object_add(
			o, "type", json_object_new_string("message"));
		json_object_object_add(o, "role",
			json_object_new_string(
				role != NULL ? role : "assistant"));
		json_object_object_add(o, "content", json_object_get(v));
		json_object_array_add(h->input, o);
		return true;
	}
	if (strcmp(type, "function_call") == 0) {
		call_id = msg_json_str(item, "call_id");
		name = msg_json_str(item, "name");
		args = msg_json_str(item, "arguments");
		if (call_id == NULL || name == NULL)
			return false;
		o = json_object_new_object();
		json_object_object_add(
			o, "type", json_object_new_string("function_call"));
		json_object_object_add(
			o, "call_id", json_object_new_string(call_id));
		json_object_object_add(o, "name", json_object_new_string(name));
		json_object_object_add(o, "arguments",
			json_object_new_string(args != NULL ? args : "{}"));
		json_object_array_add(h->input, o);
		responses_pending(h, call_id);
		return true;
	}
	return false;
}

static void
responses_assistant(struct responses_hist *h, struct json_object *e)
{
	struct json_object *items, *calls, *c, *o;
	const char *text, *id, *name, *args;
	size_t i, n;

	responses_flush(h);
	if (json_object_object_get_ex(e, "items", &items) &&
		json_object_is_type(items, json_type_array) &&
		json_object_array_length(items) > 0) {
		n = json_object_array_length(items);
		for (i = 0; i < n; i++)
			responses_item(h, json_object_array_get_idx(items, i));
		return;
	}
	/* Written by another scheme (or cut short): text and tool calls. */
	text = msg_json_str(e, "text");
	if (text != NULL && *text != '\0')
		responses_msg(h->input, "assistant", text);
	if (!json_object_object_get_ex(e, "tool_calls", &calls) ||
		!json_object_is_type(calls, json_type_array))
		return;
	n = json_object_array_length(calls);
	for (i = 0; i < n; i++) {
		c = json_object_array_get_idx(calls, i);
		id = msg_json_str(c, "id");
		name = msg_json_str(c, "name");
		args = msg_json_str(c, "arguments");
		if (id == NULL || name == NULL)
			continue;
		o = json_object_new_object();
		json_object_object_add(
			o, "type", json_object_new_string("function_call"));
		json_object_object_add(
			o, "call_id", json_object_new_string(id));
		json_object_object_add(o, "name", json_object_new_string(name));
		json_object_object_add(o, "arguments",
			json_object_new_string(args != NULL ? args : "{}"));
		json_object_array_add(h->input, o);
		responses_pending(h, id);
	}
}

static void
responses_tool_result(struct responses_hist *h, struct json_object *e)
{
	const char *id = msg_json_str(e, "id");
	const char *out = msg_json_str(e, "output");
	struct json_object *v;
	char *text;
	size_t i;

	if (out == NULL)
		out = msg_json_str(e, "summary");
	if (out == NULL)
		out = "";
	for (i = 0; id != NULL && i < h->npending; i++) {
		if (h->answered[i] || strcmp(h->pending[i], id) != 0)
			continue;
		h->answered[i] = true;
		if (json_object_object_get_ex(e, "is_error", &v) &&
			json_object_get_boolean(v)) {
			text = xstrfmt("Error: %s", out);
			responses_output(h->input, id, text);
			free(text);
		} else
			responses_output(h->input, id, out);
		break;
	}
	/* An output for no pending call would be rejected: dropped. */
	for (i = 0; i < h->npending; i++)
		if (!h->answered[i])
			return;
	if (h->npending > 0)
		responses_flush(h);
}

static void
responses_entry(struct responses_hist *h, struct json_object *e)
{
	const char *kind = msg_json_str(e, "kind");
	const char *summary;
	struct json_object *v;
	char *text;

	if (kind == NULL)
		return;
	if (strcmp(kind, "segment_start") == 0) {
		summary = msg_json_str(e, "summary");
		if (summary == NULL || *summary == '\0')
			return;
		text = xstrfmt(
			"Summary of the earlier conversation:\n\n%s", summary);
		responses_user_text(h, "developer", text);
		free(text);
	} else if (strcmp(kind, "user_input") == 0) {
		if (!json_object_object_get_ex(e, "segments", &v))
			return;
		text = provider_segments_text(v);
		if (text != NULL)
			responses_user_text(h, "user", text);
		free(text);
	} else if (strcmp(kind, "system_item") == 0) {
		if (!json_object_object_get_ex(e, "item", &v))
			return;
		text = provider_item_text(v);
		responses_user_text(h, "user", text);
		free(text);
	} else if (strcmp(kind, "assistant") == 0)
		responses_assistant(h, e);
	else if (strcmp(kind, "tool_result") == 0)
		responses_tool_result(h, e);
}

static struct json_object *
responses_tools(const struct llm_request *req)
{
	struct json_object *tools, *t;
	const struct llm_tool_def *d;
	size_t i;

	tools = json_object_new_array();
	for (i = 0; i < req->ntools; i++) {
		d = &req->tools[i];
		t = json_object_new_object();
		json_object_object_add(
			t, "type", json_object_new_string("function"));
		json_object_object_add(
			t, "name", json_object_new_string(d->name));
		json_object_object_add(t, "description",
			json_object_new_string(
				d->description != NULL ? d->description : ""));
		json_object_object_add(
			t, "parameters", provider_tool_schema(d));
		json_object_array_add(tools, t);
	}
	return tools;
}

/*
 * With previous_response_id: the last assistant entry the server
 * stored (a complete one with its response id, right after its call's
 * usage entry).  Its index, or -1.  A compaction keeps recent entries
 * but not their usage: such a copy is no base to chain on, since the
 * stored response's context holds what was summarised.
 */
static int
responses_chain(const struct provider_config *pc, struct json_object *entries,
	size_t n, const char **ret_id)
{
	struct json_object *e;
	const char *kind, *id;
	size_t i;

	*ret_id = NULL;
	if (!pc->store || !pc->previous_response_id)
		return -1;
	for (i = n; i > 0; i--) {
		e = json_object_array_get_idx(entries, i - 1);
		kind = msg_json_str(e, "kind");
		if (kind == NULL || strcmp(kind, "assistant") != 0)
			continue;
		id = msg_json_str(e, "response_id");
		if (id == NULL || *id == '\0' ||
			json_object_object_get_ex(e, "partial", NULL) || i < 2)
			return -1;
		kind = msg_json_str(
			json_object_array_get_idx(entries, i - 2), "kind");
		if (kind == NULL || strcmp(kind, "usage") != 0)
			return -1;
		*ret_id = id;
		return (int)(i - 1);
	}
	return -1;
}

/* The responses request body; caller frees. */
char *
provider_responses_body(
	const struct provider_config *pc, const struct llm_request *req)
{
	struct responses_hist h = { 0 };
	struct json_object *root, *r, *inc;
	const char *prev = NULL;
	size_t i, n;
	int from;
	char *s;

	root = json_object_new_object();
	json_object_object_add(root, "model",
		json_object_new_string(pc->model != NULL ? pc->model : ""));
	json_object_object_add(root, "stream", json_object_new_boolean(1));
	if (req->system != NULL && *req->system != '\0')
		json_object_object_add(root, "instructions",
			json_object_new_string(req->system));
	if (pc->max_tokens > 0)
		json_object_object_add(root, "max_output_tokens",
			json_object_new_int(pc->max_tokens));
	json_object_object_add(
		root, "store", json_object_new_boolean(pc->store));
	if (!pc->store) {
		inc = json_object_new_array();
		json_object_array_add(inc,
			json_object_new_string("reasoning.encrypted_content"));
		json_object_object_add(root, "include", inc);
	}
	if (pc->reasoning_effort != NULL || pc->reasoning_summary != NULL) {
		r = json_object_new_object();
		if (pc->reasoning_effort != NULL)
			json_object_object_add(r, "effort",
				json_object_new_string(pc->reasoning_effort));
		if (pc->reasoning_summary != NULL)
			json_object_object_add(r, "summary",
				json_object_new_string(pc->reasoning_summary));
		json_object_object_add(root, "reasoning", r);
	}
	h.input = json_object_new_array();
	h.deferred = json_object_new_array();
	n = json_object_is_type(req->entries, json_type_array)
		? json_object_array_length(req->entries)
		: 0;
	from = responses_chain(pc, req->entries, n, &prev);
	if (prev != NULL) {
		json_object_object_add(root, "previous_response_id",
			json_object_new_string(prev));
		/* The server holds that response's calls: answer them. */
		responses_assistant(&h,
			json_object_array_get_idx(req->entries, (size_t)from));
		json_object_put(h.input);
		h.input = json_object_new_array();
	}
	for (i = (size_t)(from + 1); i < n; i++)
		responses_entry(&h, json_object_array_get_idx(req->entries, i));
	responses_flush(&h);
	json_object_put(h.deferred);
	json_object_object_add(root, "input", h.input);
	if (req->ntools > 0)
		json_object_object_add(root, "tools", responses_tools(req));
	if (!pc->no_prompt_cache && req->cache_key != NULL &&
		*req->cache_key != '\0')
		json_object_object_add(root, "prompt_cache_key",
			json_object_new_string(req->cache_key));
	s = xstrdup(json_object_to_json_string_ext(
		root, JSON_C_TO_STRING_PLAIN | JSON_C_TO_STRING_NOSLASHESCAPE));
	json_object_put(root);
	return s;
}

static bool
responses_is_overflow(const char *code, const char *msg)
{
	if (code != NULL && strcmp(code, "context_length_exceeded") == 0)
		return true;
	return msg != NULL &&
		(strstr(msg, "context window") != NULL ||
			strstr(msg, "maximum context length") != NULL ||
			strstr(msg, "context_length_exceeded") != NULL);
}

/* Sentence of an error object {code, message, type}; or NULL. */
static char *
responses_error_of(struct json_object *err, bool *ret_overflow)
{
	const char *msg, *code;

	if (json_object_is_type(err, json_type_string)) {
		msg = json_object_get_string(err);
		*ret_overflow = responses_is_overflow(NULL, msg);
		return xstrdup(msg);
	}
	if (!json_object_is_type(err, json_type_object))
		return NULL;
	msg = msg_json_str(err, "message");
	code = msg_json_str(err, "code");
	if (code == NULL)
		code = msg_json_str(err, "type");
	*ret_overflow = responses_is_overflow(code, msg);
	return provider_error_text(msg, code);
}

/* {"error": {...}} of a non-2xx body. */
static char *
responses_error_obj(struct json_object *obj, bool *ret_overflow)
{
	struct json_object *err;

	if (!json_object_object_get_ex(obj, "error", &err))
		return NULL;
	return responses_error_of(err, ret_overflow);
}

/* Error sentence of a non-2xx body. */
char *
provider_responses_error(const char *body, size_t len, bool *ret_overflow)
{
	return provider_error_body(
		body, len, ret_overflow, responses_error_obj);
}

static void
responses_usage(struct provider_stream *ps, struct json_object *u)
{
	struct json_object *d;

	if (!json_object_is_type(u, json_type_object))
		return;
	ps->usage.input_tokens = provider_json_int(u, "input_tokens", 0);
	ps->usage.output_tokens = provider_json_int(u, "output_tokens", 0);
	ps->usage.cache_read_tokens = 0;
	ps->usage.reasoning_tokens = 0;
	if (json_object_object_get_ex(u, "input_tokens_details", &d))
		ps->usage.cache_read_tokens =
			provider_json_int(d, "cached_tokens", 0);
	if (json_object_object_get_ex(u, "output_tokens_details", &d))
		ps->usage.reasoning_tokens =
			provider_json_int(d, "reasoning_tokens", 0);
}

static int
responses_index(struct json_object *obj)
{
	int64_t i = provider_json_int(obj, "output_index", -1);

	return i < 0 || i > 1000000 ? -1 : (int)i;
}

/* The function call at output index i, made from item when asked. */
static struct provider_tool *
responses_tool(struct provider_stream *ps, int i, struct json_object *item)
{
	struct provider_tool *t;
	const char *s;

	if (i < 0)
		return NULL;
	t = provider_stream_tool(ps, i, item != NULL);
	if (t == NULL || item == NULL)
		return t;
	s = msg_json_str(item, "call_id");
	if (s != NULL && *s != '\0' && t->id == NULL)
		t->id = xstrdup(s);
	s = msg_json_str(item, "name");
	if (s != NULL && *s != '\0' && t->name == NULL)
		t->name = xstrdup(s);
	provider_stream_tool_start(ps, t);
	return t;
}

/* Set a call's arguments to the final text the server sent. */
static void
responses_tool_args(struct provider_tool *t, const char *args)
{
	if (t == NULL || args == NULL)
		return;
	t->args.len = 0;
	provider_buf_add(&t->args, args, strlen(args));
	t->closed = true;
}

/* A text delta; a new message item is set off by a blank line. */
static void
responses_text(struct provider_stream *ps, int index, const char *s)
{
	if (s == NULL || *s == '\0')
		return;
	if (ps->text_index != index && ps->text.len > 0)
		provider_stream_text(ps, "\n\n", 2);
	ps->text_index = index;
	provider_stream_text(ps, s, strlen(s));
}

static void
responses_thinking(
	struct provider_stream *ps, int index, int part, const char *s)
{
	if (s == NULL || *s == '\0')
		return;
	if ((ps->thinking_index != index || ps->thinking_part != part) &&
		ps->thinking.len > 0)
		provider_stream_thinking(ps, "\n\n", 2);
	ps->thinking_index = index;
	ps->thinking_part = part;
	provider_stream_thinking(ps, s, strlen(s));
}

/* Texts of a done item that streamed no deltas (some servers). */
static void
responses_item_text(
	struct provider_stream *ps, int index, struct json_object *item)
{
	const char *type = msg_json_str(item, "type");
	const char *key = NULL;
	struct json_object *arr, *part;
	size_t i, n;

	if (type == NULL)
		return;
	if (strcmp(type, "message") == 0 && ps->text_index != index)
		key = "content";
	else if (strcmp(type, "reasoning") == 0 && ps->thinking_index != index)
		key = "summary";
	if (key == NULL || !json_object_object_get_ex(item, key, &arr) ||
		!json_object_is_type(arr, json_type_array))
		return;
	n = json_object_array_length(arr);
	for (i = 0; i < n; i++) {
		part = json_object_array_get_idx(arr, i);
		type = msg_json_str(part, "type");
		if (type == NULL)
			continue;
		if (strcmp(type, "output_text") == 0)
			responses_text(ps, index, msg_json_str(part, "text"));
		else if (strcmp(type, "summary_text") == 0)
			responses_thinking(
				ps, index, (int)i, msg_json_str(part, "text"));
	}
}

static void
responses_item_done(struct provider_stream *ps, struct json_object *obj)
{
	struct json_object *item;
	const char *type;
	int i = responses_index(obj);

	if (!json_object_object_get_ex(obj, "item", &item) ||
		!json_object_is_type(item, json_type_object) ||
		(type = msg_json_str(item, "type")) == NULL)
		return;
	if (ps->items == NULL)
		ps->items = json_object_new_array();
	if (json_object_array_length(ps->items) >= 4096)
		return;
	json_object_array_add(ps->items, json_object_get(item));
	if (strcmp(type, "function_call") == 0)
		responses_tool_args(responses_tool(ps, i, item),
			msg_json_str(item, "arguments"));
	else
		responses_item_text(ps, i, item);
}

/* The terminal event's response: usage, id, and its output if no item
 * was streamed. */
static void
responses_end(struct provider_stream *ps, struct json_object *resp)
{
	struct json_object *out, *item, *o;
	const char *s;
	size_t i, n;

	if (json_object_object_get_ex(resp, "usage", &o))
		responses_usage(ps, o);
	s = msg_json_str(resp, "id");
	if (s != NULL && ps->response_id == NULL)
		ps->response_id = xstrdup(s);
	if (ps->items != NULL ||
		!json_object_object_get_ex(resp, "output", &out) ||
		!json_object_is_type(out, json_type_array))
		return;
	n = json_object_array_length(out);
	for (i = 0; i < n && i < 4096; i++) {
		item = json_object_array_get_idx(out, i);
		o = json_object_new_object();
		json_object_object_add(
			o, "output_index", json_object_new_int((int)i));
		json_object_object_add(o, "item", json_object_get(item));
		responses_item_done(ps, o);
		json_object_put(o);
	}
}

static void
responses_close_tools(struct provider_stream *ps)
{
	size_t i;

	for (i = 0; i < ps->ntools; i++)
		ps->tools[i].closed = true;
}

/* response.failed / error: the stream's end, with the error's words. */
static int
responses_fail(struct provider_stream *ps, struct json_object *err,
	const char *fallback)
{
	bool overflow = false;
	char *msg = err != NULL ? responses_error_of(err, &overflow) : NULL;

	provider_stream_fail(ps, msg != NULL ? msg : fallback, overflow);
	free(msg);
	return 1;
}

/* One typed event of the stream. */
int
provider_responses_event(struct provider_stream *ps, const char *event,
	const char *data, size_t len)
{
	struct json_object *obj, *v, *resp = NULL, *err;
	const char *type, *s;
	int r = 0;

	if (len == 6 && memcmp(data, "[DONE]", 6) == 0) {
		/* Some proxies add it; the real end is response.completed. */
		return ps->finished ? 1 : 0;
	}
	obj = provider_json_parse(data, len);
	if (obj == NULL) {
		provider_stream_fail(ps, "invalid JSON in stream", false);
		return 1;
	}
	type = msg_json_str(obj, "type");
	if (type == NULL)
		type = event;
	json_object_object_get_ex(obj, "response", &resp);
	if (strcmp(type, "response.created") == 0 ||
		strcmp(type, "response.in_progress") == 0) {
		s = msg_json_str(resp, "id");
		if (s != NULL && ps->response_id == NULL)
			ps->response_id = xstrdup(s);
	} else if (strcmp(type, "response.output_item.added") == 0) {
		if (json_object_object_get_ex(obj, "item", &v) &&
			(s = msg_json_str(v, "type")) != NULL &&
			strcmp(s, "function_call") == 0)
			responses_tool(ps, responses_index(obj), v);
	} else if (strcmp(type, "response.output_text.delta") == 0)
		responses_text(
			ps, responses_index(obj), msg_json_str(obj, "delta"));
	else if (strcmp(type, "response.reasoning_summary_text.delta") == 0)
		responses_thinking(ps, responses_index(obj),
			(int)provider_json_int(obj, "summary_index", 0),
			msg_json_str(obj, "delta"));
	else if (strcmp(type, "response.reasoning_text.delta") == 0)
		responses_thinking(ps, responses_index(obj),
			-1 - (int)provider_json_int(obj, "content_index", 0),
			msg_json_str(obj, "delta"));
	else if (strcmp(type, "response.function_call_arguments.delta") == 0) {
		struct provider_tool *t =
			responses_tool(ps, responses_index(obj), NULL);

		s = msg_json_str(obj, "delta");
		if (t != NULL && s != NULL && !t->closed)
			provider_buf_add(&t->args, s, strlen(s));
	} else if (strcmp(type, "response.function_call_arguments.done") == 0)
		responses_tool_args(
			responses_tool(ps, responses_index(obj), NULL),
			msg_json_str(obj, "arguments"));
	else if (strcmp(type, "response.output_item.done") == 0)
		responses_item_done(ps, obj);
	else if (strcmp(type, "response.completed") == 0) {
		responses_end(ps, resp);
		provider_stream_stop_reason(
			ps, ps->ntools > 0 ? "tool_use" : "end_turn");
		responses_close_tools(ps);
		ps->finished = true;
		r = 1;
	} else if (strcmp(type, "response.incomplete") == 0) {
		responses_end(ps, resp);
		s = NULL;
		if (json_object_object_get_ex(resp, "incomplete_details", &v))
			s = msg_json_str(v, "reason");
		provider_stream_stop_reason(ps,
			s == NULL || strcmp(s, "max_output_tokens") == 0
				? "max_tokens"
				: s);
		ps->finished = true;
		r = 1;
	} else if (strcmp(type, "response.failed") == 0) {
		if (json_object_object_get_ex(resp, "usage", &v))
			responses_usage(ps, v);
		err = NULL;
		json_object_object_get_ex(resp, "error", &err);
		r = responses_fail(ps, err, "response failed");
	} else if (strcmp(type, "error") == 0) {
		/* {"type":"error","code","message"}, or nested in "error". */
		if (!json_object_object_get_ex(obj, "error", &err) ||
			!json_object_is_type(err, json_type_object))
			err = obj;
		r = responses_fail(ps, err, "error event");
	}
	/* Other events (content_part.*, *.done, summary_part.*): nothing. */
	json_object_put(obj);
	return r;
}

static int
responses_config_word(struct json_object *obj, const char *key,
	const char *const *words, char **ret, char **reterr_msg)
{
	struct json_object *v;
	const char *s;
	size_t i;

	if (!json_object_object_get_ex(obj, key, &v) || v == NULL)
		return 0;
	s = json_object_is_type(v, json_type_string) ? json_object_get_string(v)
						     : NULL;
	for (i = 0; s != NULL && words[i] != NULL; i++)
		if (strcmp(s, words[i]) == 0) {
			*ret = xstrdup(s);
			return 0;
		}
	*reterr_msg = xstrfmt("model.%s must be one of %s", key, words[0]);
	for (i = 1; words[i] != NULL; i++) {
		char *m = xstrfmt("%s, %s", *reterr_msg, words[i]);

		free(*reterr_msg);
		*reterr_msg = m;
	}
	return -EINVAL;
}

static int
responses_config_bool(
	struct json_object *obj, const char *key, bool *ret, char **reterr_msg)
{
	struct json_object *v;

	if (!json_object_object_get_ex(obj, key, &v) || v == NULL)
		return 0;
	if (!json_object_is_type(v, json_type_boolean)) {
		*reterr_msg = xstrfmt("model.%s must be true or false", key);
		return -EINVAL;
	}
	*ret = json_object_get_boolean(v);
	return 0;
}

/*
 * reasoning_effort, reasoning_summary, store, previous_response_id of
 * the model object (ignored by the other schemes).
 */
int
provider_responses_config(
	struct json_object *obj, struct provider_config *pc, char **reterr_msg)
{
	static const char *const efforts[] = { "none", "minimal", "low",
		"medium", "high", "xhigh", NULL };
	static const char *const summaries[] = { "auto", "concise", "detailed",
		NULL };
	int r;

	if ((r = responses_config_word(obj, "reasoning_effort", efforts,
		     &pc->reasoning_effort, reterr_msg)) < 0 ||
		(r = responses_config_word(obj, "reasoning_summary", summaries,
			 &pc->reasoning_summary, reterr_msg)) < 0 ||
		(r = responses_config_bool(
			 obj, "store", &pc->store, reterr_msg)) < 0 ||
		(r = responses_config_bool(obj, "previous_response_id",
			 &pc->previous_response_id, reterr_msg)) < 0)
		return r;
	if (pc->previous_response_id && !pc->store) {
		*reterr_msg = xstrdup("model.previous_response_id needs "
				      "model.store true (the server keeps "
				      "nothing otherwise)");
		return -EINVAL;
	}
	return 0;
}
