/* SPDX-License-Identifier: ISC */
#ifndef FAKELLM_REPLY_H
#define FAKELLM_REPLY_H

#include <stddef.h>

/*
 * One answer to one chat request, independent of the wire format: either
 * an HTTP failure (status != 0) or assistant content, plus the stream
 * effects.  The sse_openai / sse_anthropic renderers turn it into bytes.
 */

enum reply_format {
	REPLY_OPENAI,
	REPLY_ANTHROPIC,
	REPLY_RESPONSES, /* OpenAI Responses: OpenAI errors, typed events */
};

struct reply_tool {
	char *id;
	char *name;
	char *args; /* JSON text */
};

struct reply {
	/* failure */
	int status; /* 0: success */
	int retry_after; /* seconds, -1: no header */
	int retry_after_ms; /* -1: no header */
	char *err_type;
	char *err_code;
	char *err_message;

	/* content */
	char *text;
	char *thinking;
	char *signature;
	struct reply_tool *tools;
	size_t ntools;
	int text_chunks;
	int args_chunks;
	char *stop_reason; /* end_turn | tool_use | max_tokens; NULL: derive */
	int input_tokens; /* -1: estimate */
	int output_tokens; /* -1: estimate */
	int cache_read; /* part of input_tokens read from the prefix cache */
	int cache_write; /* part of input_tokens written to it (anthropic) */

	/* stream effects, -1: off */
	int initial_delay_ms;
	int delay_ms;
	int cut_after;
	int stall_after;
	int malformed_after;
	int error_after;
	char *error_type;
	char *error_message;
	int fragment;
	char *replay; /* a recorded stream (.jsonl) sent instead */
	int pieces; /* > 0: the stream's bytes resent in pieces this big */
	int pieces_seed; /* >= 0: random piece sizes 1..pieces */

	const char *source; /* borrowed, for the log: "agent", "rule" … */
	int rule; /* index of the scenario rule, -1: none */
};

/* Allocate a reply with every option off. */
struct reply *reply_new(void);
/* Free a reply; NULL-safe. */
void reply_free(struct reply *r);
/* Set the text (copied). */
void reply_set_text(struct reply *r, const char *text);
/* Append one tool call (all strings copied). */
void reply_add_tool(
	struct reply *r, const char *id, const char *name, const char *args);
/* Make r a failure with that status (copies the strings, NULL: default). */
void reply_set_fail(struct reply *r, int status, const char *type,
	const char *code, const char *message);
/* The stop reason, derived from the content when none was set. */
const char *reply_stop_reason(const struct reply *r);
/* Split s into at most n pieces on UTF-8 boundaries; returns the count. */
size_t reply_split(const char *s, int n, char ***ret_pieces);
/* Free pieces returned by reply_split(). */
void reply_split_free(char **pieces, size_t n);

#endif
