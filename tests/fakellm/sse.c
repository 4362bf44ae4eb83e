/* SPDX-License-Identifier: ISC */
#include <stdlib.h>
#include <string.h>

#include <json-c/json.h>

#include "common/xmalloc.h"

#include "sse.h"

/* Append an event (takes ownership of ev). */
void
sse_events_add(struct sse_events *e, char *ev)
{
	sse_events_insert(e, e->n, ev);
}

/* Insert an event at position at (takes ownership of ev). */
void
sse_events_insert(struct sse_events *e, size_t at, char *ev)
{
	if (at > e->n)
		at = e->n;
	e->v = xreallocarray(e->v, e->n + 1, sizeof(*e->v));
	memmove(&e->v[at + 1], &e->v[at], (e->n - at) * sizeof(*e->v));
	e->v[at] = ev;
	e->n++;
}

/* Drop every event from position at on. */
void
sse_events_truncate(struct sse_events *e, size_t at)
{
	while (e->n > at)
		free(e->v[--e->n]);
}

/* Free the events; the struct itself is the caller's. */
void
sse_events_clear(struct sse_events *e)
{
	sse_events_truncate(e, 0);
	free(e->v);
	e->v = NULL;
}

/* A JSON object as compact text (caller frees); drops the reference. */
char *
sse_json_take(struct json_object *o)
{
	char *s = xstrdup(json_object_to_json_string_ext(
		o, JSON_C_TO_STRING_PLAIN | JSON_C_TO_STRING_NOSLASHESCAPE));

	json_object_put(o);
	return s;
}
