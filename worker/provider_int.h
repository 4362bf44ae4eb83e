/* SPDX-License-Identifier: ISC */
#ifndef WORKER_PROVIDER_INT_H
#define WORKER_PROVIDER_INT_H

/*
 * Internals shared by provider.c and the wire schemes, and the entry
 * points the unit tests feed recorded byte streams into.
 */

#include <stdbool.h>
#include <stddef.h>

#include "worker/provider.h"

struct sse;

/* A growable NUL-terminated byte string. */
struct provider_buf {
	char *p;
	size_t len;
	size_t cap;
};

void provider_buf_add(struct provider_buf *b, const char *p, size_t len);
void provider_buf_free(struct provider_buf *b);

/* A tool call being assembled from stream fragments. */
struct provider_tool {
	int index; /* the scheme's index (openai tool index, block index) */
	char *id;
	char *name;
	struct provider_buf args;
	bool started; /* tool_call_start was reported */
	bool closed; /* all fragments arrived */
};

/* The parse state of one 2xx streaming response. */
struct provider_stream {
	enum provider_scheme scheme;
	const struct llm_stream_cb *cb;
	void *arg;
	struct sse *sse;
	struct provider_buf text;
	struct provider_buf thinking;
	struct provider_buf signature;
	struct provider_tool *tools;
	size_t ntools;
	struct llm_tool_call *calls; /* built by provider_stream_result() */
	size_t ncalls;
	char *stop_reason;
	struct token_usage usage;
	bool finished; /* [DONE] / message_stop seen */
	bool failed; /* in-stream error or bad stream */
	char *error;
	bool overflow;
	bool cancelled; /* set by the call: report nothing more */
	int sse_err;
	/* openai_responses (provider_responses.c). */
	struct json_object *items; /* output_item.done items, in order */
	char *response_id;
	int text_index; /* output_index of the last text delta, -1 none */
	int thinking_index; /* same for reasoning summary deltas */
	int thinking_part; /* summary_index of the last summary delta */
};

/* Start parsing a stream of scheme; cb and arg are borrowed. */
void provider_stream_init(struct provider_stream *ps,
	enum provider_scheme scheme, const struct llm_stream_cb *cb, void *arg);
void provider_stream_clear(struct provider_stream *ps);
/*
 * Feed body bytes.  Returns 0 to go on, 1 once the stream ended ([DONE],
 * message_stop, in-stream error), -EMSGSIZE for an oversized event.
 */
int provider_stream_feed(
	struct provider_stream *ps, const char *buf, size_t len);
/*
 * Fill res (pointers borrowed from ps, valid until it is cleared) from
 * what was streamed.  A stream that did not finish keeps only complete
 * tool calls.  failed/error are left for the caller to decide.
 */
void provider_stream_result(struct provider_stream *ps, struct llm_result *res);

/* Helpers for the scheme parsers. */
void provider_stream_text(
	struct provider_stream *ps, const char *s, size_t len);
void provider_stream_thinking(
	struct provider_stream *ps, const char *s, size_t len);
struct provider_tool *provider_stream_tool(
	struct provider_stream *ps, int index, bool create);
/* Report tool_call_start once the tool has a name. */
void provider_stream_tool_start(
	struct provider_stream *ps, struct provider_tool *t);
void provider_stream_fail(
	struct provider_stream *ps, const char *msg, bool overflow);
void provider_stream_stop_reason(struct provider_stream *ps, const char *s);

/* Parse a JSON text of len bytes (depth <= 32, nothing trailing). */
struct json_object *provider_json_parse(const char *s, size_t len);
/* Integer member of obj, or def when absent or not a number. */
int64_t provider_json_int(
	struct json_object *obj, const char *key, int64_t def);
/* Render a system_item's item as the text the model sees; caller frees. */
char *provider_item_text(struct json_object *item);
/* Join a user_input's text/paste segments; NULL if none. Caller frees. */
char *provider_segments_text(struct json_object *segments);

/* Scheme parsers: one SSE event; return 0 to go on, 1 to stop. */
int provider_openai_event(struct provider_stream *ps, const char *event,
	const char *data, size_t len);
int provider_anthropic_event(struct provider_stream *ps, const char *event,
	const char *data, size_t len);
int provider_responses_event(struct provider_stream *ps, const char *event,
	const char *data, size_t len);

/* Error sentence and overflow flag from a non-2xx body; caller frees. */
char *provider_openai_error(const char *body, size_t len, bool *ret_overflow);
char *provider_anthropic_error(
	const char *body, size_t len, bool *ret_overflow);
char *provider_responses_error(
	const char *body, size_t len, bool *ret_overflow);

/* Request headers ("Name: value"), NULL-terminated, at most 8. */
void provider_openai_headers(const struct provider_config *pc, char *ret[8]);
void provider_anthropic_headers(const struct provider_config *pc, char *ret[8]);

/* The openai_responses keys of the start config's model object. */
int provider_responses_config(
	struct json_object *obj, struct provider_config *pc, char **reterr_msg);

/* "message (code)" from an error body's parts; caller frees. */
char *provider_error_text(const char *msg, const char *code);

/* A tool's argument schema as a JSON object; new reference. */
struct json_object *provider_tool_schema(const struct llm_tool_def *d);

/* A non-2xx body's error sentence via the scheme's reader; caller frees. */
char *provider_error_body(const char *body, size_t len, bool *ret_overflow,
	char *(*from_obj)(struct json_object *obj, bool *ret_overflow));

#endif
