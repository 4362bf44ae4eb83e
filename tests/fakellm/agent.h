/* SPDX-License-Identifier: ISC */
#ifndef FAKELLM_AGENT_H
#define FAKELLM_AGENT_H

#include "conv.h"
#include "reply.h"

/*
 * The default "agent": turns "@tool args" directive lines in the latest
 * user message into one tool call per request, then a summary text
 * (README.md describes the language).
 */

/*
 * Parse one line.  Returns 1 and the tool name and JSON arguments text
 * (caller frees) for a directive, 0 for a line that is not one, -EINVAL
 * with *reterr_msg (caller frees) for a malformed directive.
 */
int agent_parse_line(
	const char *line, char **ret_name, char **ret_args, char **reterr_msg);
/*
 * Build the reply to c.  echo_only ignores directives.  *tool_seq numbers
 * tool call ids and is advanced.  The caller frees the reply.
 */
struct reply *agent_reply(
	const struct conv *c, int echo_only, unsigned *tool_seq);
/* A tool call id in the style of the format, numbered n. */
char *agent_call_id(enum reply_format format, unsigned n);

#endif
