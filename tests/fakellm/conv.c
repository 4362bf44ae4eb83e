/* SPDX-License-Identifier: ISC */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include <json-c/json.h>

#include "common/xmalloc.h"

#include "conv.h"

/* Append s to *text, separated by a newline from what is there. */
static void
conv_append(char **text, const char *s)
{
	char *n;

	if (s == NULL || *s == '\0')
		return;
	if (**text == '\0') {
		free(*text);
		*text = xstrdup(s);
		return;
	}
	n = xstrfmt("%s\n%s", *text, s);
	free(*text);
	*text = n;
}

static const char *
conv_get_str(struct json_object *o, const char *key)
{
	struct json_object *v;

	if (!json_object_object_get_ex(o, key, &v) ||
		!json_object_is_type(v, json_type_string))
		return NULL;
	return json_object_get_string(v);
}

/* Text of a content value: a string or an array of {type:"text"} parts. */
static char *
conv_content_text(struct json_object *content)
{
	char *text = xstrdup("");
	size_t i, n;

	if (content == NULL)
		return text;
	if (json_object_is_type(content, json_type_string)) {
		conv_append(&text, json_object_get_string(content));
		return text;
	}
	if (!json_object_is_type(content, json_type_array))
		return text;
	n = json_object_array_length(content);
	for (i = 0; i < n; i++) {
		struct json_object *part =
			json_object_array_get_idx(content, i);
		const char *type = conv_get_str(part, "type");

		if (type != NULL &&
			(strcmp(type, "text") == 0 ||
				strcmp(type, "input_text") == 0 ||
				strcmp(type, "output_text") == 0))
			conv_append(&text, conv_get_str(part, "text"));
	}
	return text;
}

static struct conv_msg *
conv_add(struct conv *c, enum conv_role role, int index)
{
	struct conv_msg *m;

	c->msgs = xreallocarray(c->msgs, c->nmsgs + 1, sizeof(*c->msgs));
	m = &c->msgs[c->nmsgs++];
	memset(m, 0, sizeof(*m));
	m->role = role;
	m->index = index;
	m->text = xstrdup("");
	return m;
}

static void
conv_add_call(struct conv_msg *m, const char *id, const char *name)
{
	m->calls = xreallocarray(m->calls, m->ncalls + 1, sizeof(*m->calls));
	m->calls[m->ncalls].id = xstrdup(id != NULL ? id : "");
	m->calls[m->ncalls].name = xstrdup(name != NULL ? name : "");
	m->ncalls++;
}

static int
conv_parse_openai_msg(
	struct conv *c, struct json_object *jm, int index, char **reterr_msg)
{
	const char *role = conv_get_str(jm, "role");
	struct json_object *content = NULL, *calls;
	struct conv_msg *m;
	size_t i, n;

	json_object_object_get_ex(jm, "content", &content);
	if (role == NULL) {
		*reterr_msg = xstrfmt("Missing required parameter: "
				      "'messages[%d].role'.",
			index);
		return -EINVAL;
	}
	if (strcmp(role, "system") == 0 || strcmp(role, "developer") == 0) {
		char *t = conv_content_text(content);

		conv_append(&c->system, t);
		free(t);
		m = conv_add(c, CONV_SYSTEM, index);
	} else if (strcmp(role, "user") == 0) {
		m = conv_add(c, CONV_USER, index);
	} else if (strcmp(role, "assistant") == 0) {
		m = conv_add(c, CONV_ASSISTANT, index);
		if (json_object_object_get_ex(jm, "tool_calls", &calls) &&
			json_object_is_type(calls, json_type_array)) {
			n = json_object_array_length(calls);
			for (i = 0; i < n; i++) {
				struct json_object *tc, *fn = NULL;

				tc = json_object_array_get_idx(calls, i);
				json_object_object_get_ex(tc, "function", &fn);
				conv_add_call(m, conv_get_str(tc, "id"),
					conv_get_str(fn, "name"));
			}
		}
	} else if (strcmp(role, "tool") == 0) {
		const char *id = conv_get_str(jm, "tool_call_id");

		if (id == NULL) {
			*reterr_msg = xstrfmt("Missing parameter "
					      "'tool_call_id': messages with "
					      "role 'tool' must have a "
					      "'tool_call_id'.");
			return -EINVAL;
		}
		m = conv_add(c, CONV_TOOL_RESULT, index);
		m->call_id = xstrdup(id);
	} else {
		*reterr_msg = xstrfmt("Invalid value: '%s'. Supported values "
				      "are: 'system', 'assistant', 'user', "
				      "'tool', and 'developer'.",
			role);
		return -EINVAL;
	}
	free(m->text);
	m->text = conv_content_text(content);
	if (m->role == CONV_TOOL_RESULT &&
		strncasecmp(m->text, "error", 5) == 0)
		m->is_error = 1;
	return 0;
}

static void
conv_parse_anthropic_user(
	struct conv *c, struct json_object *content, int index)
{
	struct conv_msg *m;
	char *text = xstrdup("");
	int results = 0;
	size_t i, n;

	if (!json_object_is_type(content, json_type_array)) {
		m = conv_add(c, CONV_USER, index);
		free(m->text);
		m->text = conv_content_text(content);
		free(text);
		return;
	}
	n = json_object_array_length(content);
	for (i = 0; i < n; i++) {
		struct json_object *b = json_object_array_get_idx(content, i);
		struct json_object *v = NULL;
		const char *type = conv_get_str(b, "type");

		if (type == NULL)
			continue;
		if (strcmp(type, "text") == 0) {
			conv_append(&text, conv_get_str(b, "text"));
		} else if (strcmp(type, "tool_result") == 0) {
			const char *id = conv_get_str(b, "tool_use_id");

			m = conv_add(c, CONV_TOOL_RESULT, index);
			m->call_id = xstrdup(id != NULL ? id : "");
			json_object_object_get_ex(b, "content", &v);
			free(m->text);
			m->text = conv_content_text(v);
			if (json_object_object_get_ex(b, "is_error", &v))
				m->is_error = json_object_get_boolean(v);
			results++;
		}
	}
	if (results == 0 || *text != '\0') {
		m = conv_add(c, results > 0 ? CONV_ASIDE : CONV_USER, index);
		free(m->text);
		m->text = text;
	} else {
		free(text);
	}
}

static void
conv_parse_anthropic_assistant(
	struct conv *c, struct json_object *content, int index)
{
	struct conv_msg *m = conv_add(c, CONV_ASSISTANT, index);
	size_t i, n;

	free(m->text);
	m->text = conv_content_text(content);
	if (!json_object_is_type(content, json_type_array))
		return;
	n = json_object_array_length(content);
	for (i = 0; i < n; i++) {
		struct json_object *b = json_object_array_get_idx(content, i);
		const char *type = conv_get_str(b, "type");

		if (type != NULL && strcmp(type, "tool_use") == 0)
			conv_add_call(m, conv_get_str(b, "id"),
				conv_get_str(b, "name"));
	}
}

static int
conv_parse_anthropic_msg(
	struct conv *c, struct json_object *jm, int index, char **reterr_msg)
{
	const char *role = conv_get_str(jm, "role");
	struct json_object *content = NULL;

	if (!json_object_object_get_ex(jm, "content", &content)) {
		*reterr_msg =
			xstrfmt("messages.%d.content: Field required", index);
		return -EINVAL;
	}
	if (role != NULL && strcmp(role, "user") == 0) {
		conv_parse_anthropic_user(c, content, index);
	} else if (role != NULL && strcmp(role, "assistant") == 0) {
		conv_parse_anthropic_assistant(c, content, index);
	} else {
		*reterr_msg = xstrfmt("messages.%d.role: Input should be "
				      "'user' or 'assistant'",
			index);
		return -EINVAL;
	}
	return 0;
}

static int
conv_parse_top(struct conv *c, struct json_object *body, char **reterr_msg)
{
	int openai = c->format == REPLY_OPENAI;
	struct json_object *v;

	if (!json_object_is_type(body, json_type_object)) {
		*reterr_msg = xstrdup(openai ? "We could not parse the JSON "
					       "body of your request."
					     : "Input should be a valid "
					       "dictionary");
		return -EINVAL;
	}
	if (conv_get_str(body, "model") == NULL) {
		*reterr_msg = xstrdup(openai ? "you must provide a model "
					       "parameter"
					     : "model: Field required");
		return -EINVAL;
	}
	c->model = xstrdup(conv_get_str(body, "model"));
	if (!json_object_object_get_ex(body, "messages", &v) ||
		!json_object_is_type(v, json_type_array)) {
		*reterr_msg = xstrdup(openai ? "Missing required parameter: "
					       "'messages'."
					     : "messages: Field required");
		return -EINVAL;
	}
	if (!openai && !json_object_object_get_ex(body, "max_tokens", &v)) {
		*reterr_msg = xstrdup("max_tokens: Field required");
		return -EINVAL;
	}
	if (json_object_object_get_ex(body, "stream", &v))
		c->stream = json_object_get_boolean(v);
	if (json_object_object_get_ex(body, "stream_options", &v) &&
		json_object_object_get_ex(v, "include_usage", &v))
		c->include_usage = json_object_get_boolean(v);
	if (!openai && json_object_object_get_ex(body, "system", &v)) {
		char *t = conv_content_text(v);

		conv_append(&c->system, t);
		free(t);
	}
	return 0;
}

/* One item of a Responses input array. */
static int
conv_parse_responses_item(
	struct conv *c, struct json_object *it, int index, char **reterr_msg)
{
	const char *type = conv_get_str(it, "type");
	const char *role = conv_get_str(it, "role");
	struct json_object *content = NULL;
	struct conv_msg *m;
	const char *s;

	if (type == NULL && role != NULL)
		type = "message";
	if (type == NULL) {
		*reterr_msg = xstrfmt(
			"Missing required parameter: 'input[%d].type'.", index);
		return -EINVAL;
	}
	if (strcmp(type, "message") == 0) {
		json_object_object_get_ex(it, "content", &content);
		if (role == NULL) {
			*reterr_msg = xstrfmt("Missing required parameter: "
					      "'input[%d].role'.",
				index);
			return -EINVAL;
		}
		if (strcmp(role, "system") == 0 ||
			strcmp(role, "developer") == 0) {
			char *t = conv_content_text(content);

			conv_append(&c->system, t);
			free(t);
			m = conv_add(c, CONV_SYSTEM, index);
		} else if (strcmp(role, "user") == 0)
			m = conv_add(c, CONV_USER, index);
		else if (strcmp(role, "assistant") == 0)
			m = conv_add(c, CONV_ASSISTANT, index);
		else {
			*reterr_msg = xstrfmt("Invalid value: '%s'. Supported "
					      "values are: 'assistant', "
					      "'system', 'developer', and "
					      "'user'.",
				role);
			return -EINVAL;
		}
		free(m->text);
		m->text = conv_content_text(content);
		return 0;
	}
	if (strcmp(type, "function_call") == 0) {
		s = conv_get_str(it, "call_id");
		if (s == NULL || conv_get_str(it, "name") == NULL) {
			*reterr_msg = xstrfmt("Missing required parameter: "
					      "'input[%d].%s'.",
				index, s == NULL ? "call_id" : "name");
			return -EINVAL;
		}
		/* Calls right after the assistant's text are its calls. */
		if (c->nmsgs > 0 &&
			c->msgs[c->nmsgs - 1].role == CONV_ASSISTANT)
			m = &c->msgs[c->nmsgs - 1];
		else
			m = conv_add(c, CONV_ASSISTANT, index);
		conv_add_call(m, s, conv_get_str(it, "name"));
		return 0;
	}
	if (strcmp(type, "function_call_output") == 0) {
		s = conv_get_str(it, "call_id");
		if (s == NULL) {
			*reterr_msg = xstrfmt("Missing required parameter: "
					      "'input[%d].call_id'.",
				index);
			return -EINVAL;
		}
		m = conv_add(c, CONV_TOOL_RESULT, index);
		m->call_id = xstrdup(s);
		json_object_object_get_ex(it, "output", &content);
		free(m->text);
		m->text = conv_content_text(content);
		if (strncasecmp(m->text, "error", 5) == 0)
			m->is_error = 1;
		return 0;
	}
	if (strcmp(type, "reasoning") == 0) {
		/* Without the blob a reasoning item names a stored one. */
		if (!c->store &&
			conv_get_str(it, "encrypted_content") == NULL) {
			s = conv_get_str(it, "id");
			*reterr_msg = xstrfmt("Item with id '%s' not found. "
					      "Items are not persisted when "
					      "`store` is set to false. Try "
					      "again with `store` set to true, "
					      "or remove this item from your "
					      "input.",
				s != NULL ? s : "");
			return -EINVAL;
		}
		if (c->nmsgs == 0 ||
			c->msgs[c->nmsgs - 1].role != CONV_ASSISTANT)
			conv_add(c, CONV_ASSISTANT, index);
		return 0;
	}
	*reterr_msg = xstrfmt("Invalid value: '%s'. Supported values are: "
			      "'message', 'reasoning', 'function_call' and "
			      "'function_call_output'.",
		type);
	return -EINVAL;
}

/* A Responses request: model, input, instructions, store, include. */
static int
conv_parse_responses(
	struct conv *c, struct json_object *body, char **reterr_msg)
{
	struct json_object *v, *input;
	size_t i, n;
	int r;

	if (!json_object_is_type(body, json_type_object)) {
		*reterr_msg = xstrdup("We could not parse the JSON body of "
				      "your request.");
		return -EINVAL;
	}
	if (conv_get_str(body, "model") == NULL) {
		*reterr_msg = xstrdup("Missing required parameter: 'model'.");
		return -EINVAL;
	}
	c->model = xstrdup(conv_get_str(body, "model"));
	if (json_object_object_get_ex(body, "stream", &v))
		c->stream = json_object_get_boolean(v);
	/* The API's default is to store. */
	c->store = !json_object_object_get_ex(body, "store", &v) ||
		json_object_get_boolean(v);
	if (json_object_object_get_ex(body, "include", &v) &&
		json_object_is_type(v, json_type_array)) {
		n = json_object_array_length(v);
		for (i = 0; i < n; i++)
			if (strcmp(json_object_get_string(
					   json_object_array_get_idx(v, i)),
				    "reasoning.encrypted_content") == 0)
				c->include_encrypted = 1;
	}
	if (conv_get_str(body, "prompt_cache_key") != NULL)
		c->cache_key = xstrdup(conv_get_str(body, "prompt_cache_key"));
	if (conv_get_str(body, "previous_response_id") != NULL)
		c->previous_response_id =
			xstrdup(conv_get_str(body, "previous_response_id"));
	if (conv_get_str(body, "instructions") != NULL)
		conv_append(&c->system, conv_get_str(body, "instructions"));
	if (!json_object_object_get_ex(body, "input", &input)) {
		*reterr_msg = xstrdup("Missing required parameter: 'input'.");
		return -EINVAL;
	}
	if (json_object_is_type(input, json_type_string)) {
		struct conv_msg *m = conv_add(c, CONV_USER, 0);

		free(m->text);
		m->text = xstrdup(json_object_get_string(input));
		return 0;
	}
	if (!json_object_is_type(input, json_type_array)) {
		*reterr_msg = xstrdup("Invalid type for 'input': expected a "
				      "string or an array.");
		return -EINVAL;
	}
	n = json_object_array_length(input);
	for (i = 0; i < n; i++) {
		v = json_object_array_get_idx(input, i);
		if (!json_object_is_type(v, json_type_object)) {
			*reterr_msg = xstrfmt("Invalid type for 'input[%zu]': "
					      "expected an object.",
				i);
			return -EINVAL;
		}
		if ((r = conv_parse_responses_item(c, v, (int)i, reterr_msg)) <
			0)
			return r;
	}
	return 0;
}

/*
 * Parse a request body.  Returns 0, or -EINVAL with a message in the style
 * of the real API in *reterr_msg (caller frees).  body is borrowed.
 */
int
conv_parse(enum reply_format format, struct json_object *body,
	struct conv **ret_conv, char **reterr_msg)
{
	struct conv *c = xcalloc(1, sizeof(*c));
	struct json_object *msgs;
	size_t i, n;
	int r;

	c->format = format;
	c->system = xstrdup("");
	if (format == REPLY_RESPONSES) {
		r = conv_parse_responses(c, body, reterr_msg);
		if (r < 0)
			goto fail;
		*ret_conv = c;
		return 0;
	}
	r = conv_parse_top(c, body, reterr_msg);
	if (r < 0)
		goto fail;
	json_object_object_get_ex(body, "messages", &msgs);
	n = json_object_array_length(msgs);
	for (i = 0; i < n; i++) {
		struct json_object *jm = json_object_array_get_idx(msgs, i);

		if (!json_object_is_type(jm, json_type_object)) {
			*reterr_msg = xstrfmt("messages.%zu: Input should be "
					      "a valid dictionary",
				i);
			r = -EINVAL;
			goto fail;
		}
		if (format == REPLY_OPENAI)
			r = conv_parse_openai_msg(c, jm, (int)i, reterr_msg);
		else
			r = conv_parse_anthropic_msg(c, jm, (int)i, reterr_msg);
		if (r < 0)
			goto fail;
	}
	*ret_conv = c;
	return 0;
fail:
	conv_free(c);
	return r;
}

static char *
conv_join_ids(char **ids, size_t n)
{
	char *s = xstrdup(""), *t;
	size_t i;

	for (i = 0; i < n; i++) {
		if (ids[i] == NULL)
			continue;
		t = xstrfmt("%s%s%s", s, *s != '\0' ? ", " : "", ids[i]);
		free(s);
		s = t;
	}
	return s;
}

static char *
conv_unanswered(
	const struct conv *c, char **pending, size_t npending, int at_index)
{
	char *ids = conv_join_ids(pending, npending), *msg;

	if (c->format == REPLY_RESPONSES)
		msg = xstrfmt(
			"No tool output found for function call %s.", ids);
	else if (c->format == REPLY_OPENAI)
		msg = xstrfmt("An assistant message with 'tool_calls' must be "
			      "followed by tool messages responding to each "
			      "'tool_call_id'. The following tool_call_ids did "
			      "not have response messages: %s",
			ids);
	else
		msg = xstrfmt("messages.%d: `tool_use` ids were found without "
			      "`tool_result` blocks immediately after: %s. "
			      "Each `tool_use` block must have a "
			      "corresponding `tool_result` block in the next "
			      "message.",
			at_index, ids);
	free(ids);
	return msg;
}

/*
 * Check that every tool call is answered right after it and every result
 * answers a call; 0 or -EINVAL with the real API's message in *reterr_msg.
 */
int
conv_validate(const struct conv *c, char **reterr_msg)
{
	char **pending = NULL;
	size_t npending = 0, left = 0, i, j;
	int at = 0, r = 0;

	for (i = 0; i < c->nmsgs && r == 0; i++) {
		const struct conv_msg *m = &c->msgs[i];

		if (m->role == CONV_TOOL_RESULT) {
			for (j = 0; j < npending; j++)
				if (pending[j] != NULL &&
					strcmp(pending[j], m->call_id) == 0)
					break;
			if (j == npending) {
				*reterr_msg = c->format == REPLY_RESPONSES
					? xstrfmt("No tool call found for "
						  "function call output with "
						  "call_id %s.",
						  m->call_id)
					: c->format == REPLY_OPENAI
					? xstrdup("Invalid parameter: messages "
						  "with role 'tool' must be a "
						  "response to a preceeding "
						  "message with 'tool_calls'.")
					: xstrfmt("messages.%d.content.0: "
						  "unexpected `tool_use_id` "
						  "found in `tool_result` "
						  "blocks: %s. Each "
						  "`tool_result` block must "
						  "have a corresponding "
						  "`tool_use` block in the "
						  "previous message.",
						  m->index, m->call_id);
				r = -EINVAL;
				break;
			}
			pending[j] = NULL;
			left--;
			continue;
		}
		if (left > 0) {
			*reterr_msg = conv_unanswered(c, pending, npending, at);
			r = -EINVAL;
			break;
		}
		npending = 0;
		if (m->role == CONV_ASSISTANT && m->ncalls > 0) {
			pending = xreallocarray(
				pending, m->ncalls, sizeof(*pending));
			for (j = 0; j < m->ncalls; j++)
				pending[j] = m->calls[j].id;
			npending = left = m->ncalls;
			at = m->index;
		}
	}
	if (r == 0 && left > 0) {
		*reterr_msg = conv_unanswered(c, pending, npending, at);
		r = -EINVAL;
	}
	free(pending);
	return r;
}

/* Index of the latest user text message, or -1. */
int
conv_anchor(const struct conv *c)
{
	size_t i;

	for (i = c->nmsgs; i > 0; i--)
		if (c->msgs[i - 1].role == CONV_USER)
			return (int)(i - 1);
	return -1;
}

/* Name of the tool whose call has that id, or NULL (borrowed). */
const char *
conv_call_name(const struct conv *c, const char *call_id)
{
	size_t i, j;

	if (call_id == NULL)
		return NULL;
	for (i = 0; i < c->nmsgs; i++)
		for (j = 0; j < c->msgs[i].ncalls; j++)
			if (strcmp(c->msgs[i].calls[j].id, call_id) == 0)
				return c->msgs[i].calls[j].name;
	return NULL;
}

/* Free a conversation; NULL-safe. */
void
conv_free(struct conv *c)
{
	size_t i, j;

	if (c == NULL)
		return;
	for (i = 0; i < c->nmsgs; i++) {
		struct conv_msg *m = &c->msgs[i];

		free(m->text);
		for (j = 0; j < m->ncalls; j++) {
			free(m->calls[j].id);
			free(m->calls[j].name);
		}
		free(m->calls);
		free(m->call_id);
	}
	free(c->msgs);
	free(c->model);
	free(c->system);
	free(c->cache_key);
	free(c->previous_response_id);
	free(c);
}
