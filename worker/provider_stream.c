/* SPDX-License-Identifier: ISC */
#include "worker/provider_int.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include <json-c/json.h>

#include "common/xmalloc.h"
#include "proto/msg.h"
#include "worker/sse.h"

/* Append len bytes to b, keeping it NUL-terminated. */
void
provider_buf_add(struct provider_buf *b, const char *p, size_t len)
{
	size_t need = b->len + len + 1;

	if (need > b->cap) {
		b->cap = b->cap == 0 ? 128 : b->cap;
		while (b->cap < need)
			b->cap *= 2;
		b->p = xreallocarray(b->p, 1, b->cap);
	}
	if (len > 0)
		memcpy(b->p + b->len, p, len);
	b->len += len;
	b->p[b->len] = '\0';
}

/* Free b's bytes and reset it. */
void
provider_buf_free(struct provider_buf *b)
{
	free(b->p);
	memset(b, 0, sizeof(*b));
}

/*
 * Parse JSON with the rules of every channel (msg_parse_json: depth 32,
 * nothing trailing, strict UTF-8): what a stream carries ends up in JSON
 * lines to clients and in the session log, which must stay valid.
 */
struct json_object *
provider_json_parse(const char *s, size_t len)
{
	struct json_object *obj;
	char *err = NULL;

	obj = msg_parse_json(s, len, &err);
	free(err);
	return obj;
}

/* An integer member, or def. */
int64_t
provider_json_int(struct json_object *obj, const char *key, int64_t def)
{
	struct json_object *v;

	if (obj == NULL || !json_object_object_get_ex(obj, key, &v))
		return def;
	if (!json_object_is_type(v, json_type_int) &&
		!json_object_is_type(v, json_type_double))
		return def;
	return json_object_get_int64(v);
}

/*
 * Render a system_item's item for the model: "[type] text".  The core's
 * items carry "type" and a readable "text" (pod events) or "message"
 * (notifications); file attachments carry "path" and "content".
 */
char *
provider_item_text(struct json_object *item)
{
	const char *kind, *msg, *from, *path, *content;
	struct json_object *v;
	bool truncated = false;

	if (json_object_is_type(item, json_type_string))
		return xstrfmt("[system] %s", json_object_get_string(item));
	if (!json_object_is_type(item, json_type_object))
		return xstrdup("[system]");
	kind = msg_json_str(item, "type");
	if (kind == NULL)
		kind = msg_json_str(item, "kind");
	if (kind == NULL)
		kind = "system";
	path = msg_json_str(item, "path");
	content = msg_json_str(item, "content");
	if (json_object_object_get_ex(item, "truncated", &v))
		truncated = json_object_get_boolean(v);
	if (strcmp(kind, "file_attachment") == 0 && path != NULL)
		return xstrfmt("[file_attachment] %s\n%s%s", path,
			content != NULL ? content : "",
			truncated ? "\n[file truncated]" : "");
	if ((msg = msg_json_str(item, "text")) != NULL)
		return xstrfmt("[%s] %s", kind, msg);
	msg = msg_json_str(item, "message");
	from = msg_json_str(item, "from");
	if (msg != NULL && from != NULL)
		return xstrfmt("[%s from %s] %s", kind, from, msg);
	if (msg == NULL)
		msg = msg_json_str(item, "reason");
	if (msg == NULL)
		msg = content;
	if (msg != NULL)
		return xstrfmt("[%s] %s", kind, msg);
	return xstrfmt("[%s] %s", kind,
		json_object_to_json_string_ext(item, JSON_C_TO_STRING_PLAIN));
}

/* Join text/paste segment contents with blank lines. */
char *
provider_segments_text(struct json_object *segments)
{
	struct provider_buf b = { 0 };
	struct json_object *seg;
	const char *kind, *content;
	size_t i, n;

	if (!json_object_is_type(segments, json_type_array))
		return NULL;
	n = json_object_array_length(segments);
	for (i = 0; i < n; i++) {
		seg = json_object_array_get_idx(segments, i);
		kind = msg_json_str(seg, "kind");
		content = msg_json_str(seg, "content");
		if (kind == NULL || content == NULL)
			continue;
		if (strcmp(kind, "text") != 0 && strcmp(kind, "paste") != 0)
			continue;
		if (b.len > 0)
			provider_buf_add(&b, "\n\n", 2);
		provider_buf_add(&b, content, strlen(content));
	}
	return b.p;
}

static int
provider_stream_event_cb(
	void *arg, const char *event, const char *data, size_t len)
{
	struct provider_stream *ps = arg;
	int r;

	if (ps->cancelled)
		return 1;
	if (ps->scheme == PROVIDER_ANTHROPIC)
		r = provider_anthropic_event(ps, event, data, len);
	else if (ps->scheme == PROVIDER_OPENAI_RESPONSES)
		r = provider_responses_event(ps, event, data, len);
	else
		r = provider_openai_event(ps, event, data, len);
	if (ps->cancelled)
		return 1;
	return r;
}

/* Set up ps to parse one stream. */
void
provider_stream_init(struct provider_stream *ps, enum provider_scheme scheme,
	const struct llm_stream_cb *cb, void *arg)
{
	memset(ps, 0, sizeof(*ps));
	ps->scheme = scheme;
	ps->cb = cb;
	ps->arg = arg;
	ps->sse = sse_new(0, provider_stream_event_cb, ps);
	ps->text_index = ps->thinking_index = -1;
}

static void
provider_stream_free_calls(struct provider_stream *ps)
{
	size_t i;

	for (i = 0; i < ps->ncalls; i++) {
		free(ps->calls[i].id);
		free(ps->calls[i].name);
		free(ps->calls[i].arguments);
	}
	free(ps->calls);
	ps->calls = NULL;
	ps->ncalls = 0;
}

/* Free everything ps holds. */
void
provider_stream_clear(struct provider_stream *ps)
{
	size_t i;

	sse_free(ps->sse);
	provider_buf_free(&ps->text);
	provider_buf_free(&ps->thinking);
	provider_buf_free(&ps->signature);
	for (i = 0; i < ps->ntools; i++) {
		free(ps->tools[i].id);
		free(ps->tools[i].name);
		provider_buf_free(&ps->tools[i].args);
	}
	free(ps->tools);
	provider_stream_free_calls(ps);
	free(ps->stop_reason);
	free(ps->error);
	json_object_put(ps->items);
	free(ps->response_id);
	memset(ps, 0, sizeof(*ps));
}

/* Feed body bytes to the SSE parser and the scheme. */
int
provider_stream_feed(struct provider_stream *ps, const char *buf, size_t len)
{
	int r;

	if (ps->sse_err != 0)
		return ps->sse_err;
	r = sse_feed(ps->sse, buf, len);
	if (r == -EMSGSIZE) {
		provider_stream_fail(ps, "stream event exceeds 16 MiB", false);
		ps->sse_err = r;
	} else if (r != 0)
		ps->sse_err = 1;
	return ps->sse_err;
}

/* Append and report a text delta. */
void
provider_stream_text(struct provider_stream *ps, const char *s, size_t len)
{
	if (len == 0 || ps->cancelled)
		return;
	provider_buf_add(&ps->text, s, len);
	if (ps->cb != NULL && ps->cb->text_delta != NULL)
		ps->cb->text_delta(ps->arg, s, len);
}

/* Append and report a thinking delta. */
void
provider_stream_thinking(struct provider_stream *ps, const char *s, size_t len)
{
	if (len == 0 || ps->cancelled)
		return;
	provider_buf_add(&ps->thinking, s, len);
	if (ps->cb != NULL && ps->cb->thinking_delta != NULL)
		ps->cb->thinking_delta(ps->arg, s, len);
}

/* The tool being assembled at index (created if asked). */
struct provider_tool *
provider_stream_tool(struct provider_stream *ps, int index, bool create)
{
	struct provider_tool *t;
	size_t i;

	for (i = 0; i < ps->ntools; i++)
		if (ps->tools[i].index == index)
			return &ps->tools[i];
	if (!create || ps->ntools >= 1024)
		return NULL;
	/* Calls arrive in order: a new one completes the earlier ones. */
	for (i = 0; i < ps->ntools; i++)
		if (ps->scheme == PROVIDER_OPENAI_CHAT)
			ps->tools[i].closed = true;
	ps->tools = xreallocarray(ps->tools, ps->ntools + 1, sizeof(*t));
	t = &ps->tools[ps->ntools++];
	memset(t, 0, sizeof(*t));
	t->index = index;
	return t;
}

/* Report a tool call's start once it has a name (and an id). */
void
provider_stream_tool_start(struct provider_stream *ps, struct provider_tool *t)
{
	if (t->started || t->name == NULL || ps->cancelled)
		return;
	if (t->id == NULL)
		t->id = xstrfmt("call_%d", t->index);
	t->started = true;
	if (ps->cb != NULL && ps->cb->tool_call_start != NULL)
		ps->cb->tool_call_start(ps->arg, t->id, t->name);
}

/* Mark the stream failed with msg (first failure wins). */
void
provider_stream_fail(struct provider_stream *ps, const char *msg, bool overflow)
{
	if (ps->failed)
		return;
	ps->failed = true;
	ps->error = xstrdup(msg);
	ps->overflow = overflow;
}

/* Record the stop reason. */
void
provider_stream_stop_reason(struct provider_stream *ps, const char *s)
{
	free(ps->stop_reason);
	ps->stop_reason = xstrdup(s);
}

static bool
provider_stream_args_valid(const struct provider_buf *args)
{
	struct json_object *obj;
	bool ok;

	if (args->len == 0)
		return true;
	obj = provider_json_parse(args->p, args->len);
	ok = json_object_is_type(obj, json_type_object);
	json_object_put(obj);
	return ok;
}

/* Build the result view of what was streamed. */
void
provider_stream_result(struct provider_stream *ps, struct llm_result *res)
{
	struct provider_tool *t;
	struct llm_tool_call *c;
	bool all = ps->finished && !ps->failed;
	size_t i;

	provider_stream_free_calls(ps);
	ps->calls = xcalloc(ps->ntools + 1, sizeof(*ps->calls));
	for (i = 0; i < ps->ntools; i++) {
		t = &ps->tools[i];
		if (t->name == NULL)
			continue;
		if (!all &&
			(!t->closed || !provider_stream_args_valid(&t->args)))
			continue;
		c = &ps->calls[ps->ncalls++];
		c->id = t->id != NULL ? xstrdup(t->id)
				      : xstrfmt("call_%d", t->index);
		c->name = xstrdup(t->name);
		c->arguments = xstrdup(t->args.len > 0 ? t->args.p : "{}");
	}
	memset(res, 0, sizeof(*res));
	res->text = ps->text.len > 0 ? ps->text.p : NULL;
	res->thinking = ps->thinking.len > 0 ? ps->thinking.p : NULL;
	res->thinking_signature =
		ps->signature.len > 0 ? ps->signature.p : NULL;
	res->tool_calls = ps->calls;
	res->ntool_calls = ps->ncalls;
	res->stop_reason = ps->stop_reason;
	res->usage = ps->usage;
	res->overflow = ps->overflow;
	res->items = ps->items;
	res->response_id = ps->response_id;
}

/* "message (code)" from an error body's parts, whichever are there. */
char *
provider_error_text(const char *msg, const char *code)
{
	if (msg != NULL && code != NULL)
		return xstrfmt("%s (%s)", msg, code);
	if (msg != NULL)
		return xstrdup(msg);
	if (code != NULL)
		return xstrdup(code);
	return xstrdup("unknown error");
}

/* A tool's argument schema as an object ({"type":"object"} if unusable). */
struct json_object *
provider_tool_schema(const struct llm_tool_def *d)
{
	struct json_object *schema = NULL;

	if (d->schema_json != NULL)
		schema = provider_json_parse(
			d->schema_json, strlen(d->schema_json));
	if (!json_object_is_type(schema, json_type_object)) {
		json_object_put(schema);
		schema = json_tokener_parse("{\"type\":\"object\"}");
	}
	return schema;
}

/*
 * The error sentence of a non-2xx body: parsed with the channel rules,
 * then read by the scheme's from_obj (NULL if it finds no error there).
 */
char *
provider_error_body(const char *body, size_t len, bool *ret_overflow,
	char *(*from_obj)(struct json_object *obj, bool *ret_overflow))
{
	struct json_object *obj;
	char *msg;

	*ret_overflow = false;
	obj = provider_json_parse(body, len);
	msg = from_obj(obj, ret_overflow);
	json_object_put(obj);
	return msg;
}
