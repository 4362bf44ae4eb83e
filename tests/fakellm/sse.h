/* SPDX-License-Identifier: ISC */
#ifndef FAKELLM_SSE_H
#define FAKELLM_SSE_H

#include <stddef.h>

#include "conv.h"
#include "reply.h"

/*
 * Renderers of a reply in one wire format (sse_openai.c, sse_anthropic.c).
 * Every returned string is the caller's to free.
 */

/* A growing list of SSE events, each a complete "event:/data:" block. */
struct sse_events {
	char **v;
	size_t n;
};

/* Append an event (takes ownership of ev). */
void sse_events_add(struct sse_events *e, char *ev);
/* Insert an event at position at (takes ownership of ev). */
void sse_events_insert(struct sse_events *e, size_t at, char *ev);
/* Drop every event from position at on. */
void sse_events_truncate(struct sse_events *e, size_t at);
/* Free the events; the struct itself is the caller's. */
void sse_events_clear(struct sse_events *e);
/* A JSON object as compact text (caller frees); drops the reference. */
char *sse_json_take(struct json_object *o);

/* The stream of r as chat.completion.chunk events, ending with [DONE]. */
void sse_openai_events(const struct reply *r, const struct conv *c,
	unsigned seq, struct sse_events *out);
/* The non-stream chat.completion body of r. */
char *sse_openai_body(
	const struct reply *r, const struct conv *c, unsigned seq);
/* The error body of a failed r, filling in the defaults of its status. */
char *sse_openai_error(const struct reply *r);
/* An in-stream error event. */
char *sse_openai_error_event(const char *type, const char *message);
/* An event whose data is not valid JSON. */
char *sse_openai_malformed(void);

/* The stream of r as response.* events (OpenAI Responses). */
void sse_responses_events(const struct reply *r, const struct conv *c,
	unsigned seq, struct sse_events *out);
/* The non-stream response object of r. */
char *sse_responses_body(
	const struct reply *r, const struct conv *c, unsigned seq);
/* The output items of r's response (a new array). */
struct json_object *sse_responses_output(
	const struct reply *r, const struct conv *c, unsigned seq);
/* An in-stream error event, then response.failed. */
char *sse_responses_error_event(const char *type, const char *message);
/* An event whose data is not valid JSON. */
char *sse_responses_malformed(void);

/* The stream of r as message_start … message_stop events. */
void sse_anthropic_events(const struct reply *r, const struct conv *c,
	unsigned seq, struct sse_events *out);
/* The non-stream message body of r. */
char *sse_anthropic_body(
	const struct reply *r, const struct conv *c, unsigned seq);
/* The error body of a failed r, filling in the defaults of its status. */
char *sse_anthropic_error(const struct reply *r);
/* An in-stream "event: error". */
char *sse_anthropic_error_event(const char *type, const char *message);
/* An event whose data is not valid JSON. */
char *sse_anthropic_malformed(void);

#endif
