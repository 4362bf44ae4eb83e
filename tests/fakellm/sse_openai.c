/* SPDX-License-Identifier: ISC */
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <json-c/json.h>

#include "common/xmalloc.h"

#include "sse.h"

static const char *
sse_openai_finish(const struct reply *r)
{
	const char *s = reply_stop_reason(r);

	if (strcmp(s, "tool_use") == 0)
		return "tool_calls";
	if (strcmp(s, "max_tokens") == 0)
		return "length";
	return "stop";
}

static struct json_object *
sse_openai_usage(const struct reply *r)
{
	struct json_object *u = json_object_new_object(), *d;

	json_object_object_add(
		u, "prompt_tokens", json_object_new_int(r->input_tokens));
	json_object_object_add(
		u, "completion_tokens", json_object_new_int(r->output_tokens));
	json_object_object_add(u, "total_tokens",
		json_object_new_int(r->input_tokens + r->output_tokens));
	d = json_object_new_object();
	json_object_object_add(
		d, "cached_tokens", json_object_new_int(r->cache_read));
	json_object_object_add(u, "prompt_tokens_details", d);
	return u;
}

static struct json_object *
sse_openai_head(const char *object, const struct conv *c, unsigned seq)
{
	struct json_object *o = json_object_new_object();
	char *id = xstrfmt("chatcmpl-fake%04u", seq);

	json_object_object_add(o, "id", json_object_new_string(id));
	json_object_object_add(o, "object", json_object_new_string(object));
	json_object_object_add(
		o, "created", json_object_new_int64((int64_t)time(NULL)));
	json_object_object_add(o, "model", json_object_new_string(c->model));
	json_object_object_add(
		o, "system_fingerprint", json_object_new_string("fp_fakellm"));
	free(id);
	return o;
}

/* One chunk event: delta (taken) and finish (NULL: null). */
static char *
sse_openai_chunk(const struct conv *c, unsigned seq, struct json_object *delta,
	const char *finish)
{
	struct json_object *o =
		sse_openai_head("chat.completion.chunk", c, seq);
	struct json_object *choices = json_object_new_array(), *ch;
	char *data, *ev;

	ch = json_object_new_object();
	json_object_object_add(ch, "index", json_object_new_int(0));
	json_object_object_add(ch, "delta", delta);
	json_object_object_add(ch, "logprobs", NULL);
	json_object_object_add(ch, "finish_reason",
		finish != NULL ? json_object_new_string(finish) : NULL);
	json_object_array_add(choices, ch);
	json_object_object_add(o, "choices", choices);
	if (c->include_usage)
		json_object_object_add(o, "usage", NULL);
	data = sse_json_take(o);
	ev = xstrfmt("data: %s\n\n", data);
	free(data);
	return ev;
}

static struct json_object *
sse_openai_delta(const char *key, const char *value)
{
	struct json_object *d = json_object_new_object();

	json_object_object_add(d, key, json_object_new_string(value));
	return d;
}

static struct json_object *
sse_openai_tool_delta(
	size_t i, const struct reply_tool *t, const char *frag, int first)
{
	struct json_object *d = json_object_new_object();
	struct json_object *calls = json_object_new_array();
	struct json_object *tc = json_object_new_object();
	struct json_object *fn = json_object_new_object();

	json_object_object_add(tc, "index", json_object_new_int((int)i));
	if (first) {
		json_object_object_add(tc, "id", json_object_new_string(t->id));
		json_object_object_add(
			tc, "type", json_object_new_string("function"));
		json_object_object_add(
			fn, "name", json_object_new_string(t->name));
	}
	json_object_object_add(fn, "arguments", json_object_new_string(frag));
	json_object_object_add(tc, "function", fn);
	json_object_array_add(calls, tc);
	json_object_object_add(d, "tool_calls", calls);
	return d;
}

static void
sse_openai_pieces(const struct conv *c, unsigned seq, const char *key,
	const char *text, int chunks, struct sse_events *out)
{
	char **pieces;
	size_t n, i;

	n = reply_split(text, chunks, &pieces);
	for (i = 0; i < n; i++)
		sse_events_add(out,
			sse_openai_chunk(c, seq,
				sse_openai_delta(key, pieces[i]), NULL));
	reply_split_free(pieces, n);
}

/* The stream of r as chat.completion.chunk events, ending with [DONE]. */
void
sse_openai_events(const struct reply *r, const struct conv *c, unsigned seq,
	struct sse_events *out)
{
	struct json_object *d, *o;
	char **pieces, *data;
	size_t i, j, n;

	d = sse_openai_delta("role", "assistant");
	json_object_object_add(d, "content", json_object_new_string(""));
	json_object_object_add(d, "refusal", NULL);
	sse_events_add(out, sse_openai_chunk(c, seq, d, NULL));
	if (r->thinking != NULL)
		sse_openai_pieces(c, seq, "reasoning_content", r->thinking,
			r->text_chunks, out);
	if (r->text != NULL)
		sse_openai_pieces(
			c, seq, "content", r->text, r->text_chunks, out);
	for (i = 0; i < r->ntools; i++) {
		sse_events_add(out,
			sse_openai_chunk(c, seq,
				sse_openai_tool_delta(i, &r->tools[i], "", 1),
				NULL));
		n = reply_split(r->tools[i].args, r->args_chunks, &pieces);
		for (j = 0; j < n; j++)
			sse_events_add(out,
				sse_openai_chunk(c, seq,
					sse_openai_tool_delta(
						i, &r->tools[i], pieces[j], 0),
					NULL));
		reply_split_free(pieces, n);
	}
	sse_events_add(out,
		sse_openai_chunk(c, seq, json_object_new_object(),
			sse_openai_finish(r)));
	if (c->include_usage) {
		o = sse_openai_head("chat.completion.chunk", c, seq);
		json_object_object_add(o, "choices", json_object_new_array());
		json_object_object_add(o, "usage", sse_openai_usage(r));
		data = sse_json_take(o);
		sse_events_add(out, xstrfmt("data: %s\n\n", data));
		free(data);
	}
	sse_events_add(out, xstrdup("data: [DONE]\n\n"));
}

/* The non-stream chat.completion body of r. */
char *
sse_openai_body(const struct reply *r, const struct conv *c, unsigned seq)
{
	struct json_object *o = sse_openai_head("chat.completion", c, seq);
	struct json_object *choices = json_object_new_array(), *ch, *msg;
	struct json_object *calls, *tc, *fn;
	size_t i;

	msg = json_object_new_object();
	json_object_object_add(
		msg, "role", json_object_new_string("assistant"));
	json_object_object_add(msg, "content",
		r->text != NULL ? json_object_new_string(r->text) : NULL);
	if (r->thinking != NULL)
		json_object_object_add(msg, "reasoning_content",
			json_object_new_string(r->thinking));
	if (r->ntools > 0) {
		calls = json_object_new_array();
		for (i = 0; i < r->ntools; i++) {
			tc = json_object_new_object();
			fn = json_object_new_object();
			json_object_object_add(tc, "id",
				json_object_new_string(r->tools[i].id));
			json_object_object_add(
				tc, "type", json_object_new_string("function"));
			json_object_object_add(fn, "name",
				json_object_new_string(r->tools[i].name));
			json_object_object_add(fn, "arguments",
				json_object_new_string(r->tools[i].args));
			json_object_object_add(tc, "function", fn);
			json_object_array_add(calls, tc);
		}
		json_object_object_add(msg, "tool_calls", calls);
	}
	ch = json_object_new_object();
	json_object_object_add(ch, "index", json_object_new_int(0));
	json_object_object_add(ch, "message", msg);
	json_object_object_add(ch, "logprobs", NULL);
	json_object_object_add(ch, "finish_reason",
		json_object_new_string(sse_openai_finish(r)));
	json_object_array_add(choices, ch);
	json_object_object_add(o, "choices", choices);
	json_object_object_add(o, "usage", sse_openai_usage(r));
	return sse_json_take(o);
}

static char *
sse_openai_error_json(const char *type, const char *code, const char *message)
{
	struct json_object *o = json_object_new_object();
	struct json_object *e = json_object_new_object();

	json_object_object_add(e, "message", json_object_new_string(message));
	json_object_object_add(e, "type", json_object_new_string(type));
	json_object_object_add(e, "param", NULL);
	json_object_object_add(
		e, "code", code != NULL ? json_object_new_string(code) : NULL);
	json_object_object_add(o, "error", e);
	return sse_json_take(o);
}

/* The error body of a failed r, filling in the defaults of its status. */
char *
sse_openai_error(const struct reply *r)
{
	const char *type = "server_error", *code = NULL;
	const char *msg = "The server had an error while processing your "
			  "request. Sorry about that!";

	switch (r->status) {
	case 400:
		type = "invalid_request_error";
		code = "context_length_exceeded";
		msg = "This model's maximum context length is 128000 tokens. "
		      "However, your messages resulted in 130000 tokens. "
		      "Please reduce the length of the messages.";
		break;
	case 401:
		type = "invalid_request_error";
		code = "invalid_api_key";
		msg = "Incorrect API key provided.";
		break;
	case 404:
		type = "invalid_request_error";
		code = "unknown_url";
		msg = "Unknown request URL.";
		break;
	case 429:
		type = "requests";
		code = "rate_limit_exceeded";
		msg = "Rate limit reached for requests. Please try again "
		      "later.";
		break;
	case 503:
	case 529:
		msg = "The server is overloaded. Please try again later.";
		break;
	default:
		break;
	}
	if (r->err_type != NULL) {
		type = r->err_type;
		code = NULL;
	}
	if (r->err_code != NULL)
		code = r->err_code;
	if (r->err_message != NULL)
		msg = r->err_message;
	return sse_openai_error_json(type, code, msg);
}

/* An in-stream error event. */
char *
sse_openai_error_event(const char *type, const char *message)
{
	char *data, *ev;

	data = sse_openai_error_json(type != NULL ? type : "server_error", NULL,
		message != NULL ? message
				: "The server had an error while "
				  "processing your request.");
	ev = xstrfmt("data: %s\n\n", data);
	free(data);
	return ev;
}

/* An event whose data is not valid JSON. */
char *
sse_openai_malformed(void)
{
	return xstrdup("data: {\"id\":\"chatcmpl-bad\",\"choices\":[{\"delta\":"
		       "{\"content\":tru\n\n");
}
