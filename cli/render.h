/* SPDX-License-Identifier: ISC */
#ifndef CLI_RENDER_H
#define CLI_RENDER_H

#include <stdbool.h>
#include <stdio.h>

struct json_object;

/*
 * Human rendering of pod events (PROTOCOL.md §2) and log entries (§4):
 * assistant text streamed as it comes, tool calls and results on one
 * compact line each, notes in brackets.  Escape codes (colour) only when
 * tty is set; control characters from the model are never passed
 * through.
 */
struct render {
	FILE *out;
	bool tty; /* colour allowed */
	bool status; /* print status transitions */
	bool times; /* prefix entries with their time (logs) */
	bool mid_line; /* the last output did not end a line */
	char last_status[24];
};

void render_init(struct render *r, FILE *out, bool tty);
/* Render one live event (data borrowed, may be NULL). */
void render_event(struct render *r, const char *name, struct json_object *data);
/* Render one log entry (borrowed). */
void render_entry(struct render *r, struct json_object *entry);
/* The greeting of a snapshot's data: one line. */
void render_greeting(struct render *r, struct json_object *snapshot);
/* A bracketed note line (dim on a tty). */
void render_note(struct render *r, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));
/* An approval_request's data: the call and its diff. */
void render_approval(struct render *r, struct json_object *data);
/* End a partial line, if any. */
void render_eol(struct render *r);

/* Text of a segments array (text/paste contents, file refs); caller frees. */
char *render_segments_text(struct json_object *segments);
/* "[kind from X] text" for a system item; caller frees. */
char *render_item_text(struct json_object *item);

#endif
