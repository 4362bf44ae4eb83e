/* SPDX-License-Identifier: ISC */
#include "worker/provider_int.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <json-c/json.h>

#include "common/xmalloc.h"
#include "proto/msg.h"

/*
 * The Anthropic messages wire scheme: POST {base}/v1/messages with
 * stream:true; named SSE events message_start, content_block_*,
 * message_delta, message_stop, ping and error.
 */

#define ANTHROPIC_NO_RESULT "no result (the tool call was interrupted)"
#define ANTHROPIC_DEFAULT_MAX_TOKENS 8192

/*
 * Messages must alternate user/assistant, so blocks are collected into
 * the current message and a role change closes it.  In a user message
 * the tool_result blocks go first (the API wants them right after the
 * assistant's tool_use), then the text blocks.
 */
struct anthropic_hist {
	struct json_object *msgs;
	const char *role; /* of the open message, NULL if none */
	struct json_object *results;
	struct json_object *blocks;
	const char **pending; /* tool_use ids waiting for a result */
	bool *answered;
	size_t npending;
};

static void
anthropic_close(struct anthropic_hist *h)
{
	struct json_object *m, *content;
	size_t i, n;

	if (h->role == NULL)
		return;
	content = h->results;
	n = json_object_array_length(h->blocks);
	for (i = 0; i < n; i++)
		json_object_array_add(content,
			json_object_get(
				json_object_array_get_idx(h->blocks, i)));
	json_object_put(h->blocks);
	if (json_object_array_length(content) > 0) {
		if (json_object_array_length(h->msgs) == 0 &&
			strcmp(h->role, "assistant") == 0) {
			/* The first message must be the user's. */
			m = json_object_new_object();
			json_object_object_add(
				m, "role", json_object_new_string("user"));
			json_object_object_add(m, "content",
				json_object_new_string("(continued)"));
			json_object_array_add(h->msgs, m);
		}
		m = json_object_new_object();
		json_object_object_add(
			m, "role", json_object_new_string(h->role));
		json_object_object_add(m, "content", content);
		json_object_array_add(h->msgs, m);
	} else
		json_object_put(content);
	h->role = NULL;
	h->results = NULL;
	h->blocks = NULL;
}

static void
anthropic_open(struct anthropic_hist *h, const char *role)
{
	if (h->role != NULL && strcmp(h->role, role) == 0)
		return;
	anthropic_close(h);
	h->role = role;
	h->results = json_object_new_array();
	h->blocks = json_object_new_array();
}

static void
anthropic_result_block(struct anthropic_hist *h, const char *id,
	const char *text, bool is_error)
{
	struct json_object *b = json_object_new_object();

	anthropic_open(h, "user");
	json_object_object_add(
		b, "type", json_object_new_string("tool_result"));
	json_object_object_add(b, "tool_use_id", json_object_new_string(id));
	json_object_object_add(b, "content", json_object_new_string(text));
	if (is_error)
		json_object_object_add(
			b, "is_error", json_object_new_boolean(1));
	json_object_array_add(h->results, b);
}

static void
anthropic_text_block(
	struct anthropic_hist *h, const char *role, const char *text)
{
	struct json_object *b;

	if (text == NULL || *text == '\0')
		return;
	anthropic_open(h, role);
	b = json_object_new_object();
	json_object_object_add(b, "type", json_object_new_string("text"));
	json_object_object_add(b, "text", json_object_new_string(text));
	json_object_array_add(h->blocks, b);
}

/* Answer the tool_use blocks that got no result. */
static void
anthropic_settle(struct anthropic_hist *h)
{
	size_t i;

	for (i = 0; i < h->npending; i++)
		if (!h->answered[i])
			anthropic_result_block(
				h, h->pending[i], ANTHROPIC_NO_RESULT, true);
	free(h->pending);
	free(h->answered);
	h->pending = NULL;
	h->answered = NULL;
	h->npending = 0;
}

static struct json_object *
anthropic_input(const char *args)
{
	struct json_object *obj = NULL;

	if (args != NULL)
		obj = provider_json_parse(args, strlen(args));
	if (!json_object_is_type(obj, json_type_object)) {
		json_object_put(obj);
		obj = json_object_new_object();
	}
	return obj;
}

static void
anthropic_assistant(struct anthropic_hist *h, struct json_object *e)
{
	struct json_object *calls, *c, *b;
	const char *thinking, *sig, *id, *name;
	size_t i, n = 0;

	anthropic_settle(h);
	thinking = msg_json_str(e, "thinking");
	sig = msg_json_str(e, "thinking_signature");
	if (sig == NULL)
		sig = msg_json_str(e, "signature");
	/* Thinking is only sent back with its signature. */
	if (thinking != NULL && *thinking != '\0' && sig != NULL &&
		*sig != '\0') {
		anthropic_open(h, "assistant");
		b = json_object_new_object();
		json_object_object_add(
			b, "type", json_object_new_string("thinking"));
		json_object_object_add(
			b, "thinking", json_object_new_string(thinking));
		json_object_object_add(
			b, "signature", json_object_new_string(sig));
		json_object_array_add(h->blocks, b);
	}
	anthropic_text_block(h, "assistant", msg_json_str(e, "text"));
	if (json_object_object_get_ex(e, "tool_calls", &calls) &&
		json_object_is_type(calls, json_type_array))
		n = json_object_array_length(calls);
	if (n > 0) {
		h->pending = xcalloc(n, sizeof(*h->pending));
		h->answered = xcalloc(n, sizeof(*h->answered));
	}
	for (i = 0; i < n; i++) {
		c = json_object_array_get_idx(calls, i);
		id = msg_json_str(c, "id");
		name = msg_json_str(c, "name");
		if (id == NULL || name == NULL)
			continue;
		anthropic_open(h, "assistant");
		b = json_object_new_object();
		json_object_object_add(
			b, "type", json_object_new_string("tool_use"));
		json_object_object_add(b, "id", json_object_new_string(id));
		json_object_object_add(b, "name", json_object_new_string(name));
		json_object_object_add(b, "input",
			anthropic_input(msg_json_str(c, "arguments")));
		json_object_array_add(h->blocks, b);
		h->pending[h->npending++] = id;
	}
}

static void
anthropic_tool_result(struct anthropic_hist *h, struct json_object *e)
{
	const char *id = msg_json_str(e, "id");
	const char *out = msg_json_str(e, "output");
	struct json_object *v;
	bool is_error = false;
	size_t i;

	if (out == NULL)
		out = msg_json_str(e, "summary");
	if (out == NULL || *out == '\0')
		out = "(no output)";
	if (json_object_object_get_ex(e, "is_error", &v))
		is_error = json_object_get_boolean(v);
	for (i = 0; id != NULL && i < h->npending; i++) {
		if (h->answered[i] || strcmp(h->pending[i], id) != 0)
			continue;
		h->answered[i] = true;
		anthropic_result_block(h, id, out, is_error);
		return;
	}
	/* A result for no pending tool_use would be rejected: dropped. */
}

static void
anthropic_entry(struct anthropic_hist *h, struct json_object *e)
{
	const char *kind = msg_json_str(e, "kind");
	struct json_object *v;
	char *text;

	if (kind == NULL)
		return;
	if (strcmp(kind, "user_input") == 0) {
		if (!json_object_object_get_ex(e, "segments", &v))
			return;
		text = provider_segments_text(v);
		anthropic_text_block(h, "user", text);
		free(text);
	} else if (strcmp(kind, "system_item") == 0) {
		if (!json_object_object_get_ex(e, "item", &v))
			return;
		text = provider_item_text(v);
		anthropic_text_block(h, "user", text);
		free(text);
	} else if (strcmp(kind, "assistant") == 0)
		anthropic_assistant(h, e);
	else if (strcmp(kind, "tool_result") == 0)
		anthropic_tool_result(h, e);
}

/* The system text: the instruction plus the latest segment summary. */
static char *
anthropic_system(const struct llm_request *req)
{
	struct json_object *e;
	const char *kind, *summary = NULL;
	size_t i, n;

	n = json_object_is_type(req->entries, json_type_array)
		? json_object_array_length(req->entries)
		: 0;
	for (i = 0; i < n; i++) {
		e = json_object_array_get_idx(req->entries, i);
		kind = msg_json_str(e, "kind");
		if (kind != NULL && strcmp(kind, "segment_start") == 0 &&
			msg_json_str(e, "summary") != NULL)
			summary = msg_json_str(e, "summary");
	}
	if (summary != NULL && *summary != '\0')
		return xstrfmt("%s%sSummary of the earlier conversation:\n\n%s",
			req->system != NULL ? req->system : "",
			req->system != NULL && *req->system != '\0' ? "\n\n"
								    : "",
			summary);
	if (req->system != NULL && *req->system != '\0')
		return xstrdup(req->system);
	return NULL;
}

static struct json_object *
anthropic_tools(const struct llm_request *req)
{
	struct json_object *tools, *t, *schema;
	const struct llm_tool_def *d;
	size_t i;

	tools = json_object_new_array();
	for (i = 0; i < req->ntools; i++) {
		d = &req->tools[i];
		schema = provider_tool_schema(d);
		t = json_object_new_object();
		json_object_object_add(
			t, "name", json_object_new_string(d->name));
		json_object_object_add(t, "description",
			json_object_new_string(
				d->description != NULL ? d->description : ""));
		json_object_object_add(t, "input_schema", schema);
		json_object_array_add(tools, t);
	}
	return tools;
}

/* Mark obj as the end of a cached prefix. */
static void
anthropic_cache_mark(struct json_object *obj)
{
	struct json_object *cc = json_object_new_object();

	json_object_object_add(cc, "type", json_object_new_string("ephemeral"));
	json_object_object_add(obj, "cache_control", cc);
}

/* Mark the last block of message i, when its content is blocks. */
static void
anthropic_cache_msg(struct json_object *msgs, size_t i)
{
	struct json_object *content;
	size_t n;

	if (!json_object_object_get_ex(
		    json_object_array_get_idx(msgs, i), "content", &content) ||
		!json_object_is_type(content, json_type_array) ||
		(n = json_object_array_length(content)) == 0)
		return;
	anthropic_cache_mark(json_object_array_get_idx(content, n - 1));
}

/*
 * Prompt caching: four breakpoints (the API's limit).  Tools and system
 * each end a prefix of their own, so a compaction (which rewrites the
 * system's summary and the messages) leaves the tools cached and costs
 * one cache write.  The newest message ends this request's prefix, and
 * the one two back (the previous request's newest) is the prefix this
 * request reads, whatever the number of blocks in between.
 */
static void
anthropic_cache(struct json_object *root, struct json_object *msgs)
{
	struct json_object *v;
	size_t n;

	if (json_object_object_get_ex(root, "tools", &v) &&
		(n = json_object_array_length(v)) > 0)
		anthropic_cache_mark(json_object_array_get_idx(v, n - 1));
	if (json_object_object_get_ex(root, "system", &v))
		anthropic_cache_mark(json_object_array_get_idx(v, 0));
	n = json_object_array_length(msgs);
	if (n > 0)
		anthropic_cache_msg(msgs, n - 1);
	if (n > 2)
		anthropic_cache_msg(msgs, n - 3);
}

/* The messages request body; caller frees. */
char *
provider_anthropic_body(
	const struct provider_config *pc, const struct llm_request *req)
{
	struct anthropic_hist h = { 0 };
	struct json_object *root;
	char *s, *system;
	size_t i, n;

	root = json_object_new_object();
	json_object_object_add(root, "model",
		json_object_new_string(pc->model != NULL ? pc->model : ""));
	json_object_object_add(root, "max_tokens",
		json_object_new_int(pc->max_tokens > 0
				? pc->max_tokens
				: ANTHROPIC_DEFAULT_MAX_TOKENS));
	json_object_object_add(root, "stream", json_object_new_boolean(1));
	system = anthropic_system(req);
	if (system != NULL && !pc->no_prompt_cache) {
		/* As a block: only a block carries cache_control. */
		struct json_object *sys = json_object_new_array();
		struct json_object *b = json_object_new_object();

		json_object_object_add(
			b, "type", json_object_new_string("text"));
		json_object_object_add(
			b, "text", json_object_new_string(system));
		json_object_array_add(sys, b);
		json_object_object_add(root, "system", sys);
	} else if (system != NULL)
		json_object_object_add(
			root, "system", json_object_new_string(system));
	free(system);
	h.msgs = json_object_new_array();
	n = json_object_is_type(req->entries, json_type_array)
		? json_object_array_length(req->entries)
		: 0;
	for (i = 0; i < n; i++)
		anthropic_entry(&h, json_object_array_get_idx(req->entries, i));
	anthropic_settle(&h);
	anthropic_close(&h);
	json_object_object_add(root, "messages", h.msgs);
	if (req->ntools > 0)
		json_object_object_add(root, "tools", anthropic_tools(req));
	if (!pc->no_prompt_cache)
		anthropic_cache(root, h.msgs);
	s = xstrdup(json_object_to_json_string_ext(
		root, JSON_C_TO_STRING_PLAIN | JSON_C_TO_STRING_NOSLASHESCAPE));
	json_object_put(root);
	return s;
}

/* x-api-key only when a key is set. */
void
provider_anthropic_headers(const struct provider_config *pc, char *ret[8])
{
	int n = 0;

	ret[n++] = xstrdup("content-type: application/json");
	ret[n++] = xstrdup("accept: text/event-stream");
	ret[n++] = xstrdup("anthropic-version: 2023-06-01");
	if (pc->api_key != NULL && *pc->api_key != '\0')
		ret[n++] = xstrfmt("x-api-key: %s", pc->api_key);
	ret[n] = NULL;
}

/* Message of {"type":"error","error":{"type","message"}}; or NULL. */
static char *
anthropic_error_obj(struct json_object *obj, bool *ret_overflow)
{
	struct json_object *err;
	const char *type, *msg;

	if (!json_object_object_get_ex(obj, "error", &err))
		return NULL;
	if (json_object_is_type(err, json_type_string))
		return xstrdup(json_object_get_string(err));
	type = msg_json_str(err, "type");
	msg = msg_json_str(err, "message");
	if (msg != NULL && strstr(msg, "prompt is too long") != NULL)
		*ret_overflow = true;
	return provider_error_text(msg, type);
}

/* Error sentence of a non-2xx body. */
char *
provider_anthropic_error(const char *body, size_t len, bool *ret_overflow)
{
	return provider_error_body(
		body, len, ret_overflow, anthropic_error_obj);
}

static void
anthropic_usage(struct provider_stream *ps, struct json_object *u)
{
	int64_t in, cache_read, cache_new;

	in = provider_json_int(u, "input_tokens", -1);
	cache_read = provider_json_int(u, "cache_read_input_tokens", 0);
	cache_new = provider_json_int(u, "cache_creation_input_tokens", 0);
	/* input_tokens counts the whole prompt, cached parts included. */
	if (in >= 0) {
		/* Saturate: a hostile count must not overflow. */
		if (cache_read < 0)
			cache_read = 0;
		if (cache_new < 0)
			cache_new = 0;
		if (__builtin_add_overflow(in, cache_read, &in) ||
			__builtin_add_overflow(in, cache_new, &in))
			in = INT64_MAX;
		ps->usage.input_tokens = in;
		ps->usage.cache_read_tokens = cache_read;
		ps->usage.cache_write_tokens = cache_new;
	}
	ps->usage.output_tokens =
		provider_json_int(u, "output_tokens", ps->usage.output_tokens);
}

static void
anthropic_block_start(struct provider_stream *ps, struct json_object *obj)
{
	struct json_object *cb;
	struct provider_tool *t;
	const char *type, *s;
	int index = (int)provider_json_int(obj, "index", 0);

	if (!json_object_object_get_ex(obj, "content_block", &cb))
		return;
	type = msg_json_str(cb, "type");
	if (type == NULL)
		return;
	if (strcmp(type, "tool_use") == 0) {
		t = provider_stream_tool(ps, index, true);
		if (t == NULL || t->name != NULL)
			return;
		s = msg_json_str(cb, "id");
		if (s != NULL && *s != '\0' && t->id == NULL)
			t->id = xstrdup(s);
		s = msg_json_str(cb, "name");
		if (s != NULL && *s != '\0')
			t->name = xstrdup(s);
		provider_stream_tool_start(ps, t);
	} else if (strcmp(type, "text") == 0) {
		s = msg_json_str(cb, "text");
		if (s != NULL)
			provider_stream_text(ps, s, strlen(s));
	} else if (strcmp(type, "thinking") == 0) {
		s = msg_json_str(cb, "thinking");
		if (s != NULL)
			provider_stream_thinking(ps, s, strlen(s));
	}
}

static void
anthropic_block_delta(struct provider_stream *ps, struct json_object *obj)
{
	struct json_object *d;
	struct provider_tool *t;
	const char *type, *s;

	if (!json_object_object_get_ex(obj, "delta", &d))
		return;
	type = msg_json_str(d, "type");
	if (type == NULL)
		return;
	if (strcmp(type, "text_delta") == 0) {
		s = msg_json_str(d, "text");
		if (s != NULL)
			provider_stream_text(ps, s, strlen(s));
	} else if (strcmp(type, "input_json_delta") == 0) {
		t = provider_stream_tool(
			ps, (int)provider_json_int(obj, "index", 0), false);
		s = msg_json_str(d, "partial_json");
		if (t != NULL && s != NULL)
			provider_buf_add(&t->args, s, strlen(s));
	} else if (strcmp(type, "thinking_delta") == 0) {
		s = msg_json_str(d, "thinking");
		if (s != NULL)
			provider_stream_thinking(ps, s, strlen(s));
	} else if (strcmp(type, "signature_delta") == 0) {
		s = msg_json_str(d, "signature");
		if (s != NULL)
			provider_buf_add(&ps->signature, s, strlen(s));
	}
}

/* One named event of the stream. */
int
provider_anthropic_event(struct provider_stream *ps, const char *event,
	const char *data, size_t len)
{
	struct json_object *obj, *v;
	struct provider_tool *t;
	const char *type, *s;
	bool overflow = false;
	char *msg;

	obj = provider_json_parse(data, len);
	if (obj == NULL) {
		provider_stream_fail(ps, "invalid JSON in stream", false);
		return 1;
	}
	type = msg_json_str(obj, "type");
	if (type == NULL)
		type = event;
	if (strcmp(type, "message_start") == 0) {
		if (json_object_object_get_ex(obj, "message", &v) &&
			json_object_object_get_ex(v, "usage", &v))
			anthropic_usage(ps, v);
	} else if (strcmp(type, "content_block_start") == 0)
		anthropic_block_start(ps, obj);
	else if (strcmp(type, "content_block_delta") == 0)
		anthropic_block_delta(ps, obj);
	else if (strcmp(type, "content_block_stop") == 0) {
		t = provider_stream_tool(
			ps, (int)provider_json_int(obj, "index", 0), false);
		if (t != NULL)
			t->closed = true;
	} else if (strcmp(type, "message_delta") == 0) {
		if (json_object_object_get_ex(obj, "delta", &v)) {
			s = msg_json_str(v, "stop_reason");
			if (s != NULL)
				provider_stream_stop_reason(ps, s);
		}
		if (json_object_object_get_ex(obj, "usage", &v))
			anthropic_usage(ps, v);
	} else if (strcmp(type, "message_stop") == 0) {
		ps->finished = true;
		json_object_put(obj);
		return 1;
	} else if (strcmp(type, "error") == 0) {
		msg = anthropic_error_obj(obj, &overflow);
		provider_stream_fail(
			ps, msg != NULL ? msg : "error event", overflow);
		free(msg);
		json_object_put(obj);
		return 1;
	}
	/* ping and unknown events: nothing. */
	json_object_put(obj);
	return 0;
}
