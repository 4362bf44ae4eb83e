/* SPDX-License-Identifier: ISC */
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <json-c/json.h>

#include "proto/msg.h"
#include "worker/provider_int.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/*
 * The body must be one JSON object of valid UTF-8 and nothing else,
 * with its array of messages (or input items) under key.
 */
static void
fuzz_body_check(const char *body, const char *key)
{
	struct json_tokener *tok;
	struct json_object *o, *v;
	size_t len = strlen(body);

	tok = json_tokener_new_ex(256);
	if (tok == NULL)
		__builtin_trap();
	json_tokener_set_flags(
		tok, JSON_TOKENER_STRICT | JSON_TOKENER_VALIDATE_UTF8);
	o = json_tokener_parse_ex(tok, body, (int)len);
	if (o == NULL || json_tokener_get_parse_end(tok) != len ||
		!json_object_is_type(o, json_type_object) ||
		!json_object_object_get_ex(o, key, &v) ||
		!json_object_is_type(v, json_type_array))
		__builtin_trap();
	json_object_put(o);
	json_tokener_free(tok);
}

/*
 * Input: byte 0 holds flags (bit 0: a system prompt, bit 1: tools with a
 * fixed schema, bit 2: a tool whose schema is the input text itself, bit
 * 3: a max_tokens), then JSON text: an array of session log entries (an
 * object is taken as a one-entry array).  Text the worker would not
 * accept as JSON (msg_parse_json) never reaches the providers.
 */
int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static char model[] = "m";
	struct provider_config pc = { 0 };
	struct llm_tool_def tools[3];
	struct llm_request req = { 0 };
	struct json_object *entries, *arr;
	char *text, *err = NULL, *body;
	uint8_t flags;

	if (size < 1)
		return 0;
	flags = data[0];
	text = malloc(size);
	if (text == NULL)
		__builtin_trap();
	memcpy(text, data + 1, size - 1);
	text[size - 1] = '\0';
	entries = msg_parse_json(text, size - 1, &err);
	if (entries == NULL) {
		free(err);
		free(text);
		return 0;
	}
	if (!json_object_is_type(entries, json_type_array)) {
		arr = json_object_new_array();
		json_object_array_add(arr, entries);
		entries = arr;
	}

	tools[0] = (struct llm_tool_def){ "read", "Read a file.",
		"{\"type\":\"object\",\"properties\":{\"path\":"
		"{\"type\":\"string\"}},\"required\":[\"path\"]}" };
	tools[1] = (struct llm_tool_def){ "bash", NULL, "[1,2]" };
	tools[2] = (struct llm_tool_def){ "x", "from input", text };
	req.system = (flags & 1) ? "You are a pod." : NULL;
	req.entries = entries;
	req.tools = (flags & 4) ? tools + 1 : tools;
	req.ntools = (flags & 2) ? 2 : 0;
	if (flags & 4)
		req.ntools = 2;
	pc.model = model;
	pc.max_tokens = (flags & 8) ? 1024 : 0;

	pc.scheme = PROVIDER_OPENAI_CHAT;
	body = provider_openai_body(&pc, &req);
	fuzz_body_check(body, "messages");
	free(body);
	pc.scheme = PROVIDER_ANTHROPIC;
	body = provider_anthropic_body(&pc, &req);
	fuzz_body_check(body, "messages");
	free(body);
	pc.scheme = PROVIDER_OPENAI_RESPONSES;
	pc.store = (flags & 16) != 0;
	pc.previous_response_id = pc.store && (flags & 32) != 0;
	body = provider_responses_body(&pc, &req);
	fuzz_body_check(body, "input");
	free(body);

	json_object_put(entries);
	free(text);
	return 0;
}
