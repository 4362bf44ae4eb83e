/* SPDX-License-Identifier: ISC */
#include <stdlib.h>
#include <string.h>

#include <json-c/json.h>

#include "common/xmalloc.h"

#include "sse.h"

#define SSE_ANTHROPIC_SIGNATURE "ZmFrZWxsbS1zaWduYXR1cmU="

/* One "event: NAME" block with o (taken) as data. */
static char *
sse_anthropic_event(const char *name, struct json_object *o)
{
	char *data = sse_json_take(o), *ev;

	ev = xstrfmt("event: %s\ndata: %s\n\n", name, data);
	free(data);
	return ev;
}

static struct json_object *
sse_anthropic_typed(const char *type)
{
	struct json_object *o = json_object_new_object();

	json_object_object_add(o, "type", json_object_new_string(type));
	return o;
}

static struct json_object *
sse_anthropic_usage(const struct reply *r, int output)
{
	struct json_object *u = json_object_new_object();

	/* Anthropic's input_tokens is the part neither read nor written. */
	json_object_object_add(u, "input_tokens",
		json_object_new_int(
			r->input_tokens - r->cache_read - r->cache_write));
	json_object_object_add(u, "cache_creation_input_tokens",
		json_object_new_int(r->cache_write));
	json_object_object_add(u, "cache_read_input_tokens",
		json_object_new_int(r->cache_read));
	json_object_object_add(u, "output_tokens", json_object_new_int(output));
	return u;
}

/* The message object; content is taken (NULL: empty array). */
static struct json_object *
sse_anthropic_message(const struct reply *r, const struct conv *c, unsigned seq,
	struct json_object *content, int final)
{
	struct json_object *m = sse_anthropic_typed("message");
	char *id = xstrfmt("msg_fake%04u", seq);

	json_object_object_add(m, "id", json_object_new_string(id));
	json_object_object_add(m, "role", json_object_new_string("assistant"));
	json_object_object_add(m, "model", json_object_new_string(c->model));
	json_object_object_add(m, "content",
		content != NULL ? content : json_object_new_array());
	json_object_object_add(m, "stop_reason",
		final ? json_object_new_string(reply_stop_reason(r)) : NULL);
	json_object_object_add(m, "stop_sequence", NULL);
	json_object_object_add(m, "usage",
		sse_anthropic_usage(r, final ? r->output_tokens : 1));
	free(id);
	return m;
}

static void
sse_anthropic_block_start(
	struct sse_events *out, int index, struct json_object *block)
{
	struct json_object *o = sse_anthropic_typed("content_block_start");

	json_object_object_add(o, "index", json_object_new_int(index));
	json_object_object_add(o, "content_block", block);
	sse_events_add(out, sse_anthropic_event("content_block_start", o));
}

static void
sse_anthropic_delta(struct sse_events *out, int index, const char *type,
	const char *key, const char *value)
{
	struct json_object *o = sse_anthropic_typed("content_block_delta");
	struct json_object *d = sse_anthropic_typed(type);

	json_object_object_add(d, key, json_object_new_string(value));
	json_object_object_add(o, "index", json_object_new_int(index));
	json_object_object_add(o, "delta", d);
	sse_events_add(out, sse_anthropic_event("content_block_delta", o));
}

static void
sse_anthropic_deltas(struct sse_events *out, int index, const char *type,
	const char *key, const char *text, int chunks)
{
	char **pieces;
	size_t n, i;

	n = reply_split(text, chunks, &pieces);
	for (i = 0; i < n; i++)
		sse_anthropic_delta(out, index, type, key, pieces[i]);
	reply_split_free(pieces, n);
}

static void
sse_anthropic_block_stop(struct sse_events *out, int index)
{
	struct json_object *o = sse_anthropic_typed("content_block_stop");

	json_object_object_add(o, "index", json_object_new_int(index));
	sse_events_add(out, sse_anthropic_event("content_block_stop", o));
}

static struct json_object *
sse_anthropic_block(const char *type, const char *key, const char *value)
{
	struct json_object *b = sse_anthropic_typed(type);

	json_object_object_add(b, key, json_object_new_string(value));
	return b;
}

static struct json_object *
sse_anthropic_tool_block(const struct reply_tool *t, int with_input)
{
	struct json_object *b = sse_anthropic_typed("tool_use"), *input;

	json_object_object_add(b, "id", json_object_new_string(t->id));
	json_object_object_add(b, "name", json_object_new_string(t->name));
	input = with_input ? json_tokener_parse(t->args) : NULL;
	json_object_object_add(
		b, "input", input != NULL ? input : json_object_new_object());
	return b;
}

/* The stream of r as message_start … message_stop events. */
void
sse_anthropic_events(const struct reply *r, const struct conv *c, unsigned seq,
	struct sse_events *out)
{
	struct json_object *o, *d;
	const char *sig;
	int index = 0;
	size_t i;

	o = sse_anthropic_typed("message_start");
	json_object_object_add(
		o, "message", sse_anthropic_message(r, c, seq, NULL, 0));
	sse_events_add(out, sse_anthropic_event("message_start", o));
	sse_events_add(
		out, sse_anthropic_event("ping", sse_anthropic_typed("ping")));
	if (r->thinking != NULL) {
		sse_anthropic_block_start(out, index,
			sse_anthropic_block("thinking", "thinking", ""));
		sse_anthropic_deltas(out, index, "thinking_delta", "thinking",
			r->thinking, r->text_chunks);
		sig = r->signature != NULL ? r->signature
					   : SSE_ANTHROPIC_SIGNATURE;
		sse_anthropic_delta(
			out, index, "signature_delta", "signature", sig);
		sse_anthropic_block_stop(out, index++);
	}
	if (r->text != NULL) {
		sse_anthropic_block_start(
			out, index, sse_anthropic_block("text", "text", ""));
		sse_anthropic_deltas(out, index, "text_delta", "text", r->text,
			r->text_chunks);
		sse_anthropic_block_stop(out, index++);
	}
	for (i = 0; i < r->ntools; i++) {
		sse_anthropic_block_start(
			out, index, sse_anthropic_tool_block(&r->tools[i], 0));
		sse_anthropic_delta(
			out, index, "input_json_delta", "partial_json", "");
		sse_anthropic_deltas(out, index, "input_json_delta",
			"partial_json", r->tools[i].args, r->args_chunks);
		sse_anthropic_block_stop(out, index++);
	}
	o = sse_anthropic_typed("message_delta");
	d = json_object_new_object();
	json_object_object_add(
		d, "stop_reason", json_object_new_string(reply_stop_reason(r)));
	json_object_object_add(d, "stop_sequence", NULL);
	json_object_object_add(o, "delta", d);
	d = json_object_new_object();
	json_object_object_add(
		d, "output_tokens", json_object_new_int(r->output_tokens));
	json_object_object_add(o, "usage", d);
	sse_events_add(out, sse_anthropic_event("message_delta", o));
	sse_events_add(out,
		sse_anthropic_event(
			"message_stop", sse_anthropic_typed("message_stop")));
}

/* The non-stream message body of r. */
char *
sse_anthropic_body(const struct reply *r, const struct conv *c, unsigned seq)
{
	struct json_object *content = json_object_new_array(), *b;
	size_t i;

	if (r->thinking != NULL) {
		b = sse_anthropic_block("thinking", "thinking", r->thinking);
		json_object_object_add(b, "signature",
			json_object_new_string(r->signature != NULL
					? r->signature
					: SSE_ANTHROPIC_SIGNATURE));
		json_object_array_add(content, b);
	}
	if (r->text != NULL)
		json_object_array_add(
			content, sse_anthropic_block("text", "text", r->text));
	for (i = 0; i < r->ntools; i++)
		json_object_array_add(
			content, sse_anthropic_tool_block(&r->tools[i], 1));
	return sse_json_take(sse_anthropic_message(r, c, seq, content, 1));
}

static char *
sse_anthropic_error_json(const char *type, const char *message)
{
	struct json_object *o = sse_anthropic_typed("error");

	json_object_object_add(
		o, "error", sse_anthropic_block(type, "message", message));
	return sse_json_take(o);
}

/* The error body of a failed r, filling in the defaults of its status. */
char *
sse_anthropic_error(const struct reply *r)
{
	const char *type = "api_error", *msg = "Internal server error";

	switch (r->status) {
	case 400:
		type = "invalid_request_error";
		msg = "prompt is too long: 210000 tokens > 200000 maximum";
		break;
	case 401:
		type = "authentication_error";
		msg = "invalid x-api-key";
		break;
	case 403:
		type = "permission_error";
		msg = "Your API key does not have permission to use the "
		      "specified resource.";
		break;
	case 404:
		type = "not_found_error";
		msg = "Not found";
		break;
	case 413:
		type = "request_too_large";
		msg = "Request exceeds the maximum allowed number of bytes.";
		break;
	case 429:
		type = "rate_limit_error";
		msg = "Number of request tokens has exceeded your per-minute "
		      "rate limit";
		break;
	case 529:
		type = "overloaded_error";
		msg = "Overloaded";
		break;
	default:
		break;
	}
	if (r->err_type != NULL)
		type = r->err_type;
	if (r->err_message != NULL)
		msg = r->err_message;
	return sse_anthropic_error_json(type, msg);
}

/* An in-stream "event: error". */
char *
sse_anthropic_error_event(const char *type, const char *message)
{
	char *data, *ev;

	data = sse_anthropic_error_json(
		type != NULL ? type : "overloaded_error",
		message != NULL ? message : "Overloaded");
	ev = xstrfmt("event: error\ndata: %s\n\n", data);
	free(data);
	return ev;
}

/* An event whose data is not valid JSON. */
char *
sse_anthropic_malformed(void)
{
	return xstrdup(
		"event: content_block_delta\ndata: {\"type\":"
		"\"content_block_delta\",\"index\":0,\"delta\":{\"type\":"
		"\"text_delta\",\"text\":tru\n\n");
}
