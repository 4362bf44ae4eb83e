/* SPDX-License-Identifier: ISC */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>

#include <json-c/json.h>

#include "cli/acp.h"
#include "proto/msg.h"

/*
 * What the ACP bridge maps from outside input: an editor's prompt
 * (acp_map_prompt), a pod's events and its log entries (acp_map_event,
 * acp_map_entry, acp_map_keep_diff).  The input is one JSON value used
 * as all of them.
 */

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static const char *events[] = { "text_delta", "thinking_delta",
		"tool_call_start", "tool_call_done", "tool_result",
		"user_message", "status" };
	struct json_object *v, *p, *segs, *ups, *edits, *u;
	char *err = NULL;
	size_t i;

	v = msg_parse_json((const char *)data, size, &err);
	free(err);
	if (v == NULL)
		return 0;
	err = NULL;
	p = NULL;
	json_object_object_get_ex(v, "prompt", &p);
	segs = acp_map_prompt(p != NULL ? p : v, &err);
	json_object_put(segs);
	free(err);
	edits = json_object_new_object();
	for (i = 0; i < sizeof(events) / sizeof(events[0]); i++) {
		u = acp_map_event(events[i], v, "/w");
		if (u != NULL)
			acp_map_keep_diff(edits, u);
		json_object_put(u);
	}
	ups = json_object_new_array();
	acp_map_entry(v, "/w", ups);
	for (i = 0; i < json_object_array_length(ups); i++)
		acp_map_keep_diff(edits, json_object_array_get_idx(ups, i));
	json_object_put(ups);
	json_object_put(edits);
	json_object_put(acp_map_permission(v, "/w"));
	json_object_put(v);
	return 0;
}
