/* SPDX-License-Identifier: ISC */
#include "worker/provider_int.h"

#include <stdlib.h>
#include <string.h>

#include <json-c/json.h>

#include "common/xmalloc.h"
#include "proto/msg.h"

/*
 * The OpenAI chat-completions wire scheme: POST {base}/chat/completions
 * with stream:true; the stream is "data: {chunk}" events ending in
 * "data: [DONE]".
 */

#define OPENAI_NO_RESULT "Error: no result (the tool call was interrupted)"

/* Tool calls of the last assistant message still waiting for results. */
struct openai_hist {
	struct json_object *msgs;
	const char **pending;
	bool *answered;
	size_t npending;
	struct json_object *deferred; /* user messages held back meanwhile */
};

static void
openai_add_msg(struct json_object *msgs, const char *role, const char *text)
{
	struct json_object *m = json_object_new_object();

	json_object_object_add(m, "role", json_object_new_string(role));
	json_object_object_add(m, "content", json_object_new_string(text));
	json_object_array_add(msgs, m);
}

static void
openai_add_tool_msg(struct json_object *msgs, const char *id, const char *text)
{
	struct json_object *m = json_object_new_object();

	json_object_object_add(m, "role", json_object_new_string("tool"));
	json_object_object_add(m, "tool_call_id", json_object_new_string(id));
	json_object_object_add(m, "content", json_object_new_string(text));
	json_object_array_add(msgs, m);
}

/* Answer what is still pending, then release held-back messages. */
static void
openai_flush(struct openai_hist *h)
{
	size_t i, n;

	for (i = 0; i < h->npending; i++)
		if (!h->answered[i])
			openai_add_tool_msg(
				h->msgs, h->pending[i], OPENAI_NO_RESULT);
	free(h->pending);
	free(h->answered);
	h->pending = NULL;
	h->answered = NULL;
	h->npending = 0;
	n = json_object_array_length(h->deferred);
	for (i = 0; i < n; i++)
		json_object_array_add(h->msgs,
			json_object_get(
				json_object_array_get_idx(h->deferred, i)));
	json_object_put(h->deferred);
	h->deferred = json_object_new_array();
}

/* A user-side message: held back while tool results are outstanding. */
static void
openai_user_text(struct openai_hist *h, const char *role, const char *text)
{
	openai_add_msg(h->npending > 0 ? h->deferred : h->msgs, role, text);
}

static void
openai_assistant(struct openai_hist *h, struct json_object *e)
{
	struct json_object *calls, *c, *out = NULL, *oc, *fn, *m;
	const char *text, *id, *name, *args;
	size_t i, n = 0;

	openai_flush(h);
	text = msg_json_str(e, "text");
	if (text != NULL && *text == '\0')
		text = NULL;
	if (json_object_object_get_ex(e, "tool_calls", &calls) &&
		json_object_is_type(calls, json_type_array))
		n = json_object_array_length(calls);
	if (n > 0) {
		out = json_object_new_array();
		h->pending = xcalloc(n, sizeof(*h->pending));
		h->answered = xcalloc(n, sizeof(*h->answered));
	}
	for (i = 0; i < n; i++) {
		c = json_object_array_get_idx(calls, i);
		id = msg_json_str(c, "id");
		name = msg_json_str(c, "name");
		args = msg_json_str(c, "arguments");
		if (id == NULL || name == NULL)
			continue;
		oc = json_object_new_object();
		fn = json_object_new_object();
		json_object_object_add(oc, "id", json_object_new_string(id));
		json_object_object_add(
			oc, "type", json_object_new_string("function"));
		json_object_object_add(
			fn, "name", json_object_new_string(name));
		json_object_object_add(fn, "arguments",
			json_object_new_string(args != NULL ? args : "{}"));
		json_object_object_add(oc, "function", fn);
		json_object_array_add(out, oc);
		h->pending[h->npending++] = id;
	}
	if (text == NULL && h->npending == 0) {
		json_object_put(out);
		return;
	}
	m = json_object_new_object();
	json_object_object_add(m, "role", json_object_new_string("assistant"));
	json_object_object_add(m, "content",
		text != NULL ? json_object_new_string(text) : NULL);
	if (h->npending > 0)
		json_object_object_add(m, "tool_calls", out);
	else
		json_object_put(out);
	json_object_array_add(h->msgs, m);
}

static void
openai_tool_result(struct openai_hist *h, struct json_object *e)
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
			openai_add_tool_msg(h->msgs, id, text);
			free(text);
		} else
			openai_add_tool_msg(h->msgs, id, out);
		break;
	}
	/* A result for no pending call would be rejected: dropped. */
	for (i = 0; i < h->npending; i++)
		if (!h->answered[i])
			return;
	if (h->npending > 0)
		openai_flush(h);
}

static void
openai_entry(struct openai_hist *h, struct json_object *e)
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
		openai_user_text(h, "system", text);
		free(text);
	} else if (strcmp(kind, "user_input") == 0) {
		if (!json_object_object_get_ex(e, "segments", &v))
			return;
		text = provider_segments_text(v);
		if (text != NULL)
			openai_user_text(h, "user", text);
		free(text);
	} else if (strcmp(kind, "system_item") == 0) {
		if (!json_object_object_get_ex(e, "item", &v))
			return;
		text = provider_item_text(v);
		openai_user_text(h, "user", text);
		free(text);
	} else if (strcmp(kind, "assistant") == 0)
		openai_assistant(h, e);
	else if (strcmp(kind, "tool_result") == 0)
		openai_tool_result(h, e);
}

static struct json_object *
openai_tools(const struct llm_request *req)
{
	struct json_object *tools, *t, *fn, *schema;
	const struct llm_tool_def *d;
	size_t i;

	tools = json_object_new_array();
	for (i = 0; i < req->ntools; i++) {
		d = &req->tools[i];
		schema = provider_tool_schema(d);
		fn = json_object_new_object();
		json_object_object_add(
			fn, "name", json_object_new_string(d->name));
		json_object_object_add(fn, "description",
			json_object_new_string(
				d->description != NULL ? d->description : ""));
		json_object_object_add(fn, "parameters", schema);
		t = json_object_new_object();
		json_object_object_add(
			t, "type", json_object_new_string("function"));
		json_object_object_add(t, "function", fn);
		json_object_array_add(tools, t);
	}
	return tools;
}

/* The chat-completions request body; caller frees. */
char *
provider_openai_body(
	const struct provider_config *pc, const struct llm_request *req)
{
	struct openai_hist h = { 0 };
	struct json_object *root, *so;
	size_t i, n;
	char *s;

	root = json_object_new_object();
	json_object_object_add(root, "model",
		json_object_new_string(pc->model != NULL ? pc->model : ""));
	json_object_object_add(root, "stream", json_object_new_boolean(1));
	so = json_object_new_object();
	json_object_object_add(so, "include_usage", json_object_new_boolean(1));
	json_object_object_add(root, "stream_options", so);
	if (pc->max_tokens > 0)
		json_object_object_add(root, "max_tokens",
			json_object_new_int(pc->max_tokens));
	h.msgs = json_object_new_array();
	h.deferred = json_object_new_array();
	if (req->system != NULL && *req->system != '\0')
		openai_add_msg(h.msgs, "system", req->system);
	n = json_object_is_type(req->entries, json_type_array)
		? json_object_array_length(req->entries)
		: 0;
	for (i = 0; i < n; i++)
		openai_entry(&h, json_object_array_get_idx(req->entries, i));
	openai_flush(&h);
	json_object_put(h.deferred);
	json_object_object_add(root, "messages", h.msgs);
	if (req->ntools > 0)
		json_object_object_add(root, "tools", openai_tools(req));
	/* The pod's id: its requests share a prefix, so a cache shard. */
	if (!pc->no_prompt_cache && req->cache_key != NULL &&
		*req->cache_key != '\0')
		json_object_object_add(root, "prompt_cache_key",
			json_object_new_string(req->cache_key));
	s = xstrdup(json_object_to_json_string_ext(
		root, JSON_C_TO_STRING_PLAIN | JSON_C_TO_STRING_NOSLASHESCAPE));
	json_object_put(root);
	return s;
}

/* Authorization only when a key is set. */
void
provider_openai_headers(const struct provider_config *pc, char *ret[8])
{
	int n = 0;

	ret[n++] = xstrdup("Content-Type: application/json");
	ret[n++] = xstrdup("Accept: text/event-stream");
	if (pc->api_key != NULL && *pc->api_key != '\0')
		ret[n++] = xstrfmt("Authorization: Bearer %s", pc->api_key);
	ret[n] = NULL;
}

static bool
openai_is_overflow(const char *code, const char *msg)
{
	if (code != NULL && strcmp(code, "context_length_exceeded") == 0)
		return true;
	return msg != NULL &&
		(strstr(msg, "maximum context length") != NULL ||
			strstr(msg, "context_length_exceeded") != NULL);
}

/* Message and overflow flag of {"error":{"message","code"}}; or NULL. */
static char *
openai_error_obj(struct json_object *obj, bool *ret_overflow)
{
	struct json_object *err;
	const char *msg, *code;

	if (!json_object_object_get_ex(obj, "error", &err))
		return NULL;
	if (json_object_is_type(err, json_type_string)) {
		msg = json_object_get_string(err);
		*ret_overflow = openai_is_overflow(NULL, msg);
		return xstrdup(msg);
	}
	msg = msg_json_str(err, "message");
	code = msg_json_str(err, "code");
	if (code == NULL)
		code = msg_json_str(err, "type");
	*ret_overflow = openai_is_overflow(code, msg);
	return provider_error_text(msg, code);
}

/* Error sentence of a non-2xx body. */
char *
provider_openai_error(const char *body, size_t len, bool *ret_overflow)
{
	return provider_error_body(body, len, ret_overflow, openai_error_obj);
}

static void
openai_tool_delta(struct provider_stream *ps, struct json_object *arr)
{
	struct json_object *tc, *fn;
	struct provider_tool *t;
	const char *id, *name, *args;
	size_t i, n = json_object_array_length(arr);

	for (i = 0; i < n; i++) {
		tc = json_object_array_get_idx(arr, i);
		t = provider_stream_tool(ps,
			(int)provider_json_int(tc, "index", (int64_t)i), true);
		if (t == NULL)
			continue;
		id = msg_json_str(tc, "id");
		if (id != NULL && *id != '\0' && t->id == NULL)
			t->id = xstrdup(id);
		fn = NULL;
		json_object_object_get_ex(tc, "function", &fn);
		name = msg_json_str(fn, "name");
		if (name != NULL && *name != '\0' && t->name == NULL)
			t->name = xstrdup(name);
		provider_stream_tool_start(ps, t);
		args = msg_json_str(fn, "arguments");
		if (args != NULL)
			provider_buf_add(&t->args, args, strlen(args));
	}
}

static void
openai_usage(struct provider_stream *ps, struct json_object *u)
{
	struct json_object *d;

	ps->usage.input_tokens = provider_json_int(u, "prompt_tokens", 0);
	ps->usage.output_tokens = provider_json_int(u, "completion_tokens", 0);
	if (json_object_object_get_ex(u, "prompt_tokens_details", &d))
		ps->usage.cache_read_tokens =
			provider_json_int(d, "cached_tokens", 0);
	if (json_object_object_get_ex(u, "completion_tokens_details", &d))
		ps->usage.reasoning_tokens =
			provider_json_int(d, "reasoning_tokens", 0);
}

/* One chunk of the stream. */
int
provider_openai_event(struct provider_stream *ps, const char *event,
	const char *data, size_t len)
{
	struct json_object *obj, *choices, *ch, *delta, *v;
	const char *s, *fin;
	bool overflow = false;
	char *msg;
	size_t i;

	if (len == 6 && memcmp(data, "[DONE]", 6) == 0) {
		ps->finished = true;
		for (i = 0; i < ps->ntools; i++)
			ps->tools[i].closed = true;
		return 1;
	}
	obj = provider_json_parse(data, len);
	if (obj == NULL) {
		provider_stream_fail(ps, "invalid JSON in stream", false);
		return 1;
	}
	msg = openai_error_obj(obj, &overflow);
	if (msg != NULL) {
		provider_stream_fail(ps, msg, overflow);
		free(msg);
		json_object_put(obj);
		return 1;
	}
	if (json_object_object_get_ex(obj, "choices", &choices) &&
		json_object_is_type(choices, json_type_array) &&
		json_object_array_length(choices) > 0) {
		ch = json_object_array_get_idx(choices, 0);
		if (json_object_object_get_ex(ch, "delta", &delta)) {
			s = msg_json_str(delta, "reasoning_content");
			if (s == NULL)
				s = msg_json_str(delta, "reasoning");
			if (s != NULL)
				provider_stream_thinking(ps, s, strlen(s));
			s = msg_json_str(delta, "content");
			if (s != NULL)
				provider_stream_text(ps, s, strlen(s));
			if (json_object_object_get_ex(
				    delta, "tool_calls", &v) &&
				json_object_is_type(v, json_type_array))
				openai_tool_delta(ps, v);
		}
		fin = msg_json_str(ch, "finish_reason");
		if (fin != NULL) {
			provider_stream_stop_reason(ps, fin);
			for (i = 0; i < ps->ntools; i++)
				ps->tools[i].closed = true;
		}
	}
	if (json_object_object_get_ex(obj, "usage", &v) &&
		json_object_is_type(v, json_type_object))
		openai_usage(ps, v);
	json_object_put(obj);
	return 0;
}
