/* SPDX-License-Identifier: ISC */
#include <stdlib.h>
#include <string.h>

#include <json-c/json.h>

#include "common/xmalloc.h"
#include "proto/msg.h"
#include "worker/mcp_int.h"
#include "worker/tools_impl.h"

/*
 * A tools/call result as the model's tool result.  The providers here
 * carry text only, so content other than text is described: an image
 * or audio block by its type and size, an embedded resource by its URI
 * and its text (a blob by its size), a resource link by its URI.
 * structuredContent is given as JSON text when no text block came with
 * it.  Output is capped at TOOL_OUTPUT_MAX like every tool's.
 */

static size_t
mcp_result_b64_bytes(const char *b64)
{
	size_t n = b64 ? strlen(b64) : 0;

	return n / 4 * 3;
}

static void
mcp_result_block(struct tools_out *out, struct json_object *b, bool *texts)
{
	const char *type = msg_json_str(b, "type"), *s;
	struct json_object *r = NULL;

	if (out->total > 0)
		tools_out_add(out, "\n", 1);
	if (type == NULL) {
		tools_out_printf(out, "[content block without a type]");
	} else if (strcmp(type, "text") == 0) {
		s = msg_json_str(b, "text");
		tools_out_add(out, s ? s : "", s ? strlen(s) : 0);
		*texts = true;
	} else if (strcmp(type, "image") == 0 || strcmp(type, "audio") == 0) {
		s = msg_json_str(b, "mimeType");
		tools_out_printf(out, "[%s %s, %zu bytes, not shown]", type,
			s ? s : "of unknown type",
			mcp_result_b64_bytes(msg_json_str(b, "data")));
	} else if (strcmp(type, "resource") == 0 &&
		json_object_object_get_ex(b, "resource", &r)) {
		s = msg_json_str(r, "uri");
		tools_out_printf(out, "[resource %s", s ? s : "(no uri)");
		if ((s = msg_json_str(r, "text")) != NULL) {
			tools_out_printf(out, "]\n");
			tools_out_add(out, s, strlen(s));
			*texts = true;
		} else {
			tools_out_printf(out, ": %s, %zu bytes, not shown]",
				msg_json_str(r, "mimeType")
					? msg_json_str(r, "mimeType")
					: "binary",
				mcp_result_b64_bytes(msg_json_str(r, "blob")));
		}
	} else if (strcmp(type, "resource_link") == 0) {
		s = msg_json_str(b, "uri");
		tools_out_printf(out, "[resource link %s", s ? s : "(no uri)");
		if ((s = msg_json_str(b, "name")) != NULL)
			tools_out_printf(out, " \"%.200s\"", s);
		if ((s = msg_json_str(b, "description")) != NULL)
			tools_out_printf(out, ": %.500s", s);
		tools_out_printf(out, "]");
	} else {
		tools_out_printf(out, "[%.40s content, not shown]", type);
	}
}

/* Convert result (borrowed) into res. */
void
mcp_result_convert(const char *server, const char *tool,
	struct json_object *result, struct tool_result *res)
{
	struct tools_out out = { 0 };
	struct json_object *content = NULL, *sc = NULL, *v;
	bool texts = false;
	size_t i, n = 0;
	char *text, *nl;

	if (json_object_object_get_ex(result, "content", &content) &&
		json_object_is_type(content, json_type_array))
		n = json_object_array_length(content);
	for (i = 0; i < n && !tools_out_full(&out); i++)
		mcp_result_block(
			&out, json_object_array_get_idx(content, i), &texts);
	if (json_object_object_get_ex(result, "structuredContent", &sc) &&
		sc != NULL && !texts) {
		const char *js = json_object_to_json_string_ext(
			sc, JSON_C_TO_STRING_PLAIN);

		if (out.total > 0)
			tools_out_add(&out, "\n", 1);
		tools_out_add(&out, js, strlen(js));
	}
	res->is_error = json_object_object_get_ex(result, "isError", &v) &&
		json_object_get_boolean(v);
	text = out.total > 0 ? tools_out_finish(&out) : xstrdup("(no output)");
	tools_out_clear(&out);
	nl = strchr(text, '\n');
	res->summary = xstrfmt("%s%s/%s: %.*s%s",
		res->is_error ? "error: " : "", server, tool,
		(int)(nl ? (size_t)(nl - text) : strlen(text)) > 80
			? 80
			: (int)(nl ? (size_t)(nl - text) : strlen(text)),
		text, nl || strlen(text) > 80 ? " …" : "");
	res->output = text;
}
