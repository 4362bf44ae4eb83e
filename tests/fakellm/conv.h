/* SPDX-License-Identifier: ISC */
#ifndef FAKELLM_CONV_H
#define FAKELLM_CONV_H

#include <stddef.h>

#include "reply.h"

struct json_object;

/*
 * A chat request reduced to what the scenario matcher and the agent need,
 * the same for both wire formats.
 */

enum conv_role {
	CONV_SYSTEM,
	CONV_USER, /* user text: a possible anchor */
	CONV_ASIDE, /* user text next to tool results: never an anchor */
	CONV_ASSISTANT,
	CONV_TOOL_RESULT,
};

struct conv_call {
	char *id;
	char *name;
};

struct conv_msg {
	enum conv_role role;
	char *text; /* never NULL */
	struct conv_call *calls; /* assistant tool calls */
	size_t ncalls;
	char *call_id; /* tool result: the call it answers */
	int is_error; /* tool result */
	int index; /* index in the request's messages array */
};

struct conv {
	enum reply_format format;
	char *model;
	int stream;
	int include_usage;
	char *system;
	/* responses */
	int store;
	int include_encrypted; /* include: reasoning.encrypted_content */
	char *cache_key; /* prompt_cache_key */
	char *previous_response_id;
	struct conv_msg *msgs;
	size_t nmsgs;
};

/*
 * Parse a request body.  Returns 0, or -EINVAL with a message in the style
 * of the real API in *reterr_msg (caller frees).  body is borrowed.
 */
int conv_parse(enum reply_format format, struct json_object *body,
	struct conv **ret_conv, char **reterr_msg);
/*
 * Check that every tool call is answered right after it and every result
 * answers a call; 0 or -EINVAL with the real API's message in *reterr_msg.
 */
int conv_validate(const struct conv *c, char **reterr_msg);
/* Index of the latest user text message, or -1. */
int conv_anchor(const struct conv *c);
/* Name of the tool whose call has that id, or NULL (borrowed). */
const char *conv_call_name(const struct conv *c, const char *call_id);
/* Free a conversation; NULL-safe. */
void conv_free(struct conv *c);

#endif
