/* SPDX-License-Identifier: ISC */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <json-c/json.h>

#include "common/xmalloc.h"

#include "sse.h"

/*
 * The OpenAI Responses stream (POST /v1/responses, stream:true), shaped
 * like the real recordings in tests/fixtures/responses: every event is
 * "event: TYPE\ndata: {"type":TYPE,...,"sequence_number":N}"; the
 * response object is announced by response.created / in_progress and
 * ends in response.completed (or response.incomplete at max tokens);
 * there is no [DONE].  A reply's thinking becomes a reasoning item with
 * a summary and, when the request asked for it, an encrypted_content.
 */

struct sse_rs {
	const struct reply *r;
	const struct conv *c;
	unsigned seq;
	int n; /* sequence_number of the next event */
	struct json_object *output; /* the items done so far */
};

static void
sse_rs_event(struct sse_rs *s, struct sse_events *out, const char *type,
	struct json_object *o)
{
	struct json_object *e = json_object_new_object();
	struct json_object_iter it;
	char *data;

	/* type first, sequence_number last, as the real server writes. */
	json_object_object_add(e, "type", json_object_new_string(type));
	json_object_object_foreachC(o, it)
	{
		json_object_object_add(e, it.key, json_object_get(it.val));
	}
	json_object_put(o);
	json_object_object_add(
		e, "sequence_number", json_object_new_int(s->n++));
	data = sse_json_take(e);
	sse_events_add(out, xstrfmt("event: %s\ndata: %s\n\n", type, data));
	free(data);
}

static struct json_object *
sse_rs_usage(const struct reply *r)
{
	struct json_object *u = json_object_new_object(), *d;

	json_object_object_add(
		u, "input_tokens", json_object_new_int(r->input_tokens));
	d = json_object_new_object();
	json_object_object_add(
		d, "cached_tokens", json_object_new_int(r->cache_read));
	json_object_object_add(u, "input_tokens_details", d);
	json_object_object_add(
		u, "output_tokens", json_object_new_int(r->output_tokens));
	d = json_object_new_object();
	json_object_object_add(d, "reasoning_tokens",
		json_object_new_int(r->thinking != NULL
				? (int)(strlen(r->thinking) / 4 + 1)
				: 0));
	json_object_object_add(u, "output_tokens_details", d);
	json_object_object_add(u, "total_tokens",
		json_object_new_int(r->input_tokens + r->output_tokens));
	return u;
}

/* The response object; status and output (taken, NULL: []) as given. */
static struct json_object *
sse_rs_response(const struct sse_rs *s, const char *status,
	struct json_object *output, int with_usage)
{
	struct json_object *o = json_object_new_object(), *reason;
	char *id = xstrfmt("resp_fake%04u", s->seq);
	const struct conv *c = s->c;

	json_object_object_add(o, "id", json_object_new_string(id));
	json_object_object_add(o, "object", json_object_new_string("response"));
	json_object_object_add(
		o, "created_at", json_object_new_int64((int64_t)time(NULL)));
	json_object_object_add(o, "status", json_object_new_string(status));
	json_object_object_add(o, "error", NULL);
	if (strcmp(status, "incomplete") == 0) {
		reason = json_object_new_object();
		json_object_object_add(reason, "reason",
			json_object_new_string("max_output_tokens"));
		json_object_object_add(o, "incomplete_details", reason);
	} else
		json_object_object_add(o, "incomplete_details", NULL);
	json_object_object_add(o, "model", json_object_new_string(c->model));
	json_object_object_add(
		o, "output", output != NULL ? output : json_object_new_array());
	json_object_object_add(o, "previous_response_id",
		c->previous_response_id != NULL
			? json_object_new_string(c->previous_response_id)
			: NULL);
	json_object_object_add(o, "prompt_cache_key",
		c->cache_key != NULL ? json_object_new_string(c->cache_key)
				     : NULL);
	json_object_object_add(o, "store", json_object_new_boolean(c->store));
	json_object_object_add(
		o, "usage", with_usage ? sse_rs_usage(s->r) : NULL);
	free(id);
	return o;
}

static void
sse_rs_head(struct sse_rs *s, struct sse_events *out, const char *type)
{
	struct json_object *o = json_object_new_object();

	json_object_object_add(
		o, "response", sse_rs_response(s, "in_progress", NULL, 0));
	sse_rs_event(s, out, type, o);
}

/* An event about the item at output index i. */
static struct json_object *
sse_rs_at(int i, const char *item_id)
{
	struct json_object *o = json_object_new_object();

	if (item_id != NULL)
		json_object_object_add(
			o, "item_id", json_object_new_string(item_id));
	json_object_object_add(o, "output_index", json_object_new_int(i));
	return o;
}

static void
sse_rs_item(struct sse_rs *s, struct sse_events *out, const char *type, int i,
	struct json_object *item)
{
	struct json_object *o = sse_rs_at(i, NULL);

	json_object_object_add(o, "item", item);
	sse_rs_event(s, out, type, o);
}

/* The deterministic opaque blob of the reasoning of response seq. */
static char *
sse_rs_encrypted(unsigned seq, const char *thinking)
{
	uint32_t h = 2166136261u;
	const unsigned char *p;

	for (p = (const unsigned char *)thinking; *p != '\0'; p++)
		h = (h ^ *p) * 16777619u;
	return xstrfmt("gAAAAB-fakellm-%04u-%08x==", seq, (unsigned)h);
}

static struct json_object *
sse_rs_reasoning_item(const struct sse_rs *s, const char *id, int done)
{
	struct json_object *item = json_object_new_object(), *sum, *part;
	char *enc;

	json_object_object_add(item, "id", json_object_new_string(id));
	json_object_object_add(
		item, "type", json_object_new_string("reasoning"));
	if (s->c->include_encrypted) {
		enc = sse_rs_encrypted(s->seq, s->r->thinking);
		json_object_object_add(
			item, "encrypted_content", json_object_new_string(enc));
		free(enc);
	}
	sum = json_object_new_array();
	if (done) {
		part = json_object_new_object();
		json_object_object_add(
			part, "type", json_object_new_string("summary_text"));
		json_object_object_add(
			part, "text", json_object_new_string(s->r->thinking));
		json_object_array_add(sum, part);
	}
	json_object_object_add(item, "summary", sum);
	return item;
}

static void
sse_rs_reasoning(struct sse_rs *s, struct sse_events *out, int i)
{
	char *id = xstrfmt("rs_fake%04u_%d", s->seq, i), **pieces;
	struct json_object *o, *part;
	size_t n, k;

	sse_rs_item(s, out, "response.output_item.added", i,
		sse_rs_reasoning_item(s, id, 0));
	o = sse_rs_at(i, id);
	json_object_object_add(o, "summary_index", json_object_new_int(0));
	part = json_object_new_object();
	json_object_object_add(
		part, "type", json_object_new_string("summary_text"));
	json_object_object_add(part, "text", json_object_new_string(""));
	json_object_object_add(o, "part", part);
	sse_rs_event(s, out, "response.reasoning_summary_part.added", o);
	n = reply_split(s->r->thinking, s->r->text_chunks, &pieces);
	for (k = 0; k < n; k++) {
		o = sse_rs_at(i, id);
		json_object_object_add(
			o, "summary_index", json_object_new_int(0));
		json_object_object_add(
			o, "delta", json_object_new_string(pieces[k]));
		sse_rs_event(
			s, out, "response.reasoning_summary_text.delta", o);
	}
	reply_split_free(pieces, n);
	o = sse_rs_at(i, id);
	json_object_object_add(o, "summary_index", json_object_new_int(0));
	json_object_object_add(
		o, "text", json_object_new_string(s->r->thinking));
	sse_rs_event(s, out, "response.reasoning_summary_text.done", o);
	json_object_array_add(s->output, sse_rs_reasoning_item(s, id, 1));
	sse_rs_item(s, out, "response.output_item.done", i,
		sse_rs_reasoning_item(s, id, 1));
	free(id);
}

static struct json_object *
sse_rs_message_item(const char *id, const char *status, const char *text)
{
	struct json_object *item = json_object_new_object(), *content, *part;

	json_object_object_add(item, "id", json_object_new_string(id));
	json_object_object_add(item, "type", json_object_new_string("message"));
	json_object_object_add(item, "status", json_object_new_string(status));
	content = json_object_new_array();
	if (text != NULL) {
		part = json_object_new_object();
		json_object_object_add(
			part, "type", json_object_new_string("output_text"));
		json_object_object_add(
			part, "annotations", json_object_new_array());
		json_object_object_add(
			part, "text", json_object_new_string(text));
		json_object_array_add(content, part);
	}
	json_object_object_add(item, "content", content);
	json_object_object_add(
		item, "role", json_object_new_string("assistant"));
	return item;
}

static void
sse_rs_message(
	struct sse_rs *s, struct sse_events *out, int i, const char *status)
{
	char *id = xstrfmt("msg_fake%04u_%d", s->seq, i), **pieces;
	struct json_object *o, *part;
	size_t n, k;

	sse_rs_item(s, out, "response.output_item.added", i,
		sse_rs_message_item(id, "in_progress", NULL));
	o = sse_rs_at(i, id);
	json_object_object_add(o, "content_index", json_object_new_int(0));
	part = json_object_new_object();
	json_object_object_add(
		part, "type", json_object_new_string("output_text"));
	json_object_object_add(part, "annotations", json_object_new_array());
	json_object_object_add(part, "text", json_object_new_string(""));
	json_object_object_add(o, "part", part);
	sse_rs_event(s, out, "response.content_part.added", o);
	n = reply_split(s->r->text, s->r->text_chunks, &pieces);
	for (k = 0; k < n; k++) {
		o = sse_rs_at(i, id);
		json_object_object_add(
			o, "content_index", json_object_new_int(0));
		json_object_object_add(
			o, "delta", json_object_new_string(pieces[k]));
		sse_rs_event(s, out, "response.output_text.delta", o);
	}
	reply_split_free(pieces, n);
	o = sse_rs_at(i, id);
	json_object_object_add(o, "content_index", json_object_new_int(0));
	json_object_object_add(o, "text", json_object_new_string(s->r->text));
	sse_rs_event(s, out, "response.output_text.done", o);
	json_object_array_add(
		s->output, sse_rs_message_item(id, status, s->r->text));
	sse_rs_item(s, out, "response.output_item.done", i,
		sse_rs_message_item(id, status, s->r->text));
	free(id);
}

static struct json_object *
sse_rs_call_item(const char *id, const struct reply_tool *t, const char *status,
	const char *args)
{
	struct json_object *item = json_object_new_object();

	json_object_object_add(item, "id", json_object_new_string(id));
	json_object_object_add(
		item, "type", json_object_new_string("function_call"));
	json_object_object_add(item, "status", json_object_new_string(status));
	json_object_object_add(item, "arguments", json_object_new_string(args));
	json_object_object_add(item, "call_id", json_object_new_string(t->id));
	json_object_object_add(item, "name", json_object_new_string(t->name));
	return item;
}

static void
sse_rs_call(struct sse_rs *s, struct sse_events *out, int i,
	const struct reply_tool *t)
{
	char *id = xstrfmt("fc_fake%04u_%d", s->seq, i), **pieces;
	struct json_object *o;
	size_t n, k;

	sse_rs_item(s, out, "response.output_item.added", i,
		sse_rs_call_item(id, t, "in_progress", ""));
	n = reply_split(t->args, s->r->args_chunks, &pieces);
	for (k = 0; k < n; k++) {
		o = sse_rs_at(i, id);
		json_object_object_add(
			o, "delta", json_object_new_string(pieces[k]));
		sse_rs_event(
			s, out, "response.function_call_arguments.delta", o);
	}
	reply_split_free(pieces, n);
	o = sse_rs_at(i, id);
	json_object_object_add(o, "arguments", json_object_new_string(t->args));
	sse_rs_event(s, out, "response.function_call_arguments.done", o);
	json_object_array_add(
		s->output, sse_rs_call_item(id, t, "completed", t->args));
	sse_rs_item(s, out, "response.output_item.done", i,
		sse_rs_call_item(id, t, "completed", t->args));
	free(id);
}

/* The output items of r, in order, as the terminal response lists them. */
static void
sse_rs_items(struct sse_rs *s, struct sse_events *out, const char *msg_status)
{
	size_t k;
	int i = 0;

	if (s->r->thinking != NULL)
		sse_rs_reasoning(s, out, i++);
	if (s->r->text != NULL && (s->r->text[0] != '\0' || s->r->ntools == 0))
		sse_rs_message(s, out, i++, msg_status);
	for (k = 0; k < s->r->ntools; k++)
		sse_rs_call(s, out, i++, &s->r->tools[k]);
}

/* The stream of r as response.* events, ending in response.completed. */
void
sse_responses_events(const struct reply *r, const struct conv *c, unsigned seq,
	struct sse_events *out)
{
	struct sse_rs s = { r, c, seq, 0, json_object_new_array() };
	int incomplete = strcmp(reply_stop_reason(r), "max_tokens") == 0;
	struct json_object *o;

	sse_rs_head(&s, out, "response.created");
	sse_rs_head(&s, out, "response.in_progress");
	sse_rs_items(&s, out, incomplete ? "incomplete" : "completed");
	o = json_object_new_object();
	json_object_object_add(o, "response",
		sse_rs_response(&s, incomplete ? "incomplete" : "completed",
			s.output, 1));
	sse_rs_event(&s, out,
		incomplete ? "response.incomplete" : "response.completed", o);
}

/* The non-stream response object of r. */
char *
sse_responses_body(const struct reply *r, const struct conv *c, unsigned seq)
{
	struct sse_events ev = { NULL, 0 };
	struct sse_rs s = { r, c, seq, 0, json_object_new_array() };
	int incomplete = strcmp(reply_stop_reason(r), "max_tokens") == 0;

	sse_rs_items(&s, &ev, incomplete ? "incomplete" : "completed");
	sse_events_clear(&ev);
	return sse_json_take(sse_rs_response(
		&s, incomplete ? "incomplete" : "completed", s.output, 1));
}

/* The output items of the stream of r (for previous_response_id). */
struct json_object *
sse_responses_output(const struct reply *r, const struct conv *c, unsigned seq)
{
	struct sse_events ev = { NULL, 0 };
	struct sse_rs s = { r, c, seq, 0, json_object_new_array() };

	sse_rs_items(&s, &ev, "completed");
	sse_events_clear(&ev);
	return s.output;
}

/* An in-stream "event: error" and the response.failed after it. */
char *
sse_responses_error_event(const char *type, const char *message)
{
	const char *code = type != NULL ? type : "server_error";
	const char *msg = message != NULL ? message
					  : "The server had an error while "
					    "processing your request.";
	struct json_object *o = json_object_new_object(), *e, *resp;
	char *a, *b, *ev;

	json_object_object_add(o, "type", json_object_new_string("error"));
	json_object_object_add(o, "code", json_object_new_string(code));
	json_object_object_add(o, "message", json_object_new_string(msg));
	json_object_object_add(o, "param", NULL);
	a = sse_json_take(o);
	o = json_object_new_object();
	json_object_object_add(
		o, "type", json_object_new_string("response.failed"));
	resp = json_object_new_object();
	json_object_object_add(
		resp, "status", json_object_new_string("failed"));
	e = json_object_new_object();
	json_object_object_add(e, "code", json_object_new_string(code));
	json_object_object_add(e, "message", json_object_new_string(msg));
	json_object_object_add(resp, "error", e);
	json_object_object_add(o, "response", resp);
	b = sse_json_take(o);
	ev = xstrfmt("event: error\ndata: %s\n\nevent: response.failed\n"
		     "data: %s\n\n",
		a, b);
	free(a);
	free(b);
	return ev;
}

/* An event whose data is not valid JSON. */
char *
sse_responses_malformed(void)
{
	return xstrdup("event: response.output_text.delta\n"
		       "data: {\"type\":\"response.output_text.delta\","
		       "\"delta\":tru\n\n");
}
