/* SPDX-License-Identifier: ISC */
/*
 * Pod events and session-log entries as ACP session/update payloads,
 * and ACP prompts as pod input segments.  Pure functions of their
 * input, so the unit tests and the live bridge see the same mapping.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <json-c/json.h>

#include "cli/acp.h"
#include "common/xmalloc.h"
#include "proto/msg.h"

/* Longest title we build from a command or pattern. */
#define ACP_MAP_TITLE_MAX 120

/* The ACP kind of a pod tool. */
const char *
acp_map_tool_kind(const char *tool)
{
	static const struct {
		const char *tool;
		const char *kind;
	} kinds[] = {
		{ "bash", "execute" },
		{ "edit", "edit" },
		{ "glob", "search" },
		{ "grep", "search" },
		{ "read", "read" },
		{ "write", "edit" },
	};
	size_t i;

	for (i = 0; tool != NULL && i < sizeof(kinds) / sizeof(kinds[0]); i++)
		if (strcmp(tool, kinds[i].tool) == 0)
			return kinds[i].kind;
	return "other";
}

static struct json_object *
acp_map_update(const char *kind)
{
	struct json_object *u = json_object_new_object();

	json_object_object_add(
		u, "sessionUpdate", json_object_new_string(kind));
	return u;
}

static struct json_object *
acp_map_text_block(const char *text)
{
	struct json_object *b = json_object_new_object();

	json_object_object_add(b, "type", json_object_new_string("text"));
	json_object_object_add(b, "text", json_object_new_string(text));
	return b;
}

/* A content chunk update (user_message_chunk, agent_…_chunk). */
static struct json_object *
acp_map_chunk(const char *kind, struct json_object *block)
{
	struct json_object *u = acp_map_update(kind);

	json_object_object_add(u, "content", block);
	return u;
}

/* path made absolute against cwd (new string). */
static char *
acp_map_abs(const char *path, const char *cwd)
{
	if (path[0] == '/' || cwd == NULL || cwd[0] == '\0')
		return xstrdup(path);
	if (strcmp(path, ".") == 0)
		return xstrdup(cwd);
	return xstrfmt(
		"%s%s%s", cwd, cwd[strlen(cwd) - 1] == '/' ? "" : "/", path);
}

/* The first line of s, cut at ACP_MAP_TITLE_MAX bytes (new string). */
static char *
acp_map_line(const char *s)
{
	size_t n = strcspn(s, "\n");

	if (n > ACP_MAP_TITLE_MAX)
		return xstrfmt("%.*s…", ACP_MAP_TITLE_MAX, s);
	return xstrfmt("%.*s%s", (int)n, s, s[n] != '\0' ? " …" : "");
}

/* A human title for a tool call: "read /w/a.txt", "bash: make". */
static char *
acp_map_title(const char *tool, struct json_object *args, const char *cwd)
{
	const char *path = msg_json_str(args, "path");
	const char *s;
	char *line, *abs, *t;

	if ((s = msg_json_str(args, "command")) != NULL) {
		line = acp_map_line(s);
		t = xstrfmt("%s: %s", tool, line);
		free(line);
		return t;
	}
	if ((s = msg_json_str(args, "pattern")) != NULL) {
		line = acp_map_line(s);
		t = xstrfmt("%s %s", tool, line);
		free(line);
		return t;
	}
	if (path != NULL) {
		abs = acp_map_abs(path, cwd);
		t = xstrfmt("%s %s", tool, abs);
		free(abs);
		return t;
	}
	if ((s = msg_json_str(args, "name")) != NULL)
		return xstrfmt("%s %s", tool, s);
	return xstrdup(tool);
}

/* The paths a call touches, as ToolCallLocation[] (NULL: none). */
static struct json_object *
acp_map_locations(const char *tool, struct json_object *args, const char *cwd)
{
	struct json_object *locs, *loc, *v;
	const char *path = msg_json_str(args, "path");
	char *abs;

	if (path == NULL &&
		(strcmp(tool, "glob") == 0 || strcmp(tool, "grep") == 0 ||
			strcmp(tool, "bash") == 0))
		path = cwd;
	if (path == NULL)
		return NULL;
	abs = acp_map_abs(path, cwd);
	loc = json_object_new_object();
	json_object_object_add(loc, "path", json_object_new_string(abs));
	free(abs);
	if (strcmp(tool, "read") == 0 &&
		json_object_object_get_ex(args, "offset", &v) &&
		json_object_is_type(v, json_type_int) &&
		json_object_get_int64(v) > 0 &&
		json_object_get_int64(v) < 4294967295)
		json_object_object_add(loc, "line",
			json_object_new_int64(json_object_get_int64(v)));
	locs = json_object_new_array();
	json_object_array_add(locs, loc);
	return locs;
}

/*
 * The diff of a write or edit as ToolCallContent (NULL for other
 * tools).  A write does not say what the file held before: oldText is
 * left out, which ACP reads as "new content of the whole file".
 */
static struct json_object *
acp_map_diff(const char *tool, struct json_object *args, const char *cwd)
{
	const char *path = msg_json_str(args, "path");
	const char *old = NULL, *new = NULL;
	struct json_object *d;
	char *abs;

	if (path == NULL)
		return NULL;
	if (strcmp(tool, "write") == 0) {
		new = msg_json_str(args, "content");
	} else if (strcmp(tool, "edit") == 0) {
		old = msg_json_str(args, "old");
		new = msg_json_str(args, "new");
		if (old == NULL)
			return NULL;
	}
	if (new == NULL)
		return NULL;
	abs = acp_map_abs(path, cwd);
	d = json_object_new_object();
	json_object_object_add(d, "type", json_object_new_string("diff"));
	json_object_object_add(d, "path", json_object_new_string(abs));
	if (old != NULL)
		json_object_object_add(
			d, "oldText", json_object_new_string(old));
	json_object_object_add(d, "newText", json_object_new_string(new));
	free(abs);
	return d;
}

/*
 * The call announced in full (arguments known): a tool_call_update (or
 * tool_call when announce, for a replay that never saw the start) with
 * status in_progress, title, locations, raw input and the diff.
 */
static struct json_object *
acp_map_call(const char *kind, const char *id, const char *tool,
	const char *arguments, const char *cwd)
{
	struct json_object *u, *args, *locs, *diff, *content;
	char *title, *err = NULL;

	args = arguments != NULL
		? msg_parse_json(arguments, strlen(arguments), &err)
		: NULL;
	free(err);
	if (args != NULL && !json_object_is_type(args, json_type_object)) {
		json_object_put(args);
		args = NULL;
	}
	u = acp_map_update(kind);
	json_object_object_add(u, "toolCallId", json_object_new_string(id));
	title = acp_map_title(tool, args, cwd);
	json_object_object_add(u, "title", json_object_new_string(title));
	free(title);
	json_object_object_add(
		u, "kind", json_object_new_string(acp_map_tool_kind(tool)));
	json_object_object_add(
		u, "status", json_object_new_string("in_progress"));
	if (args == NULL)
		return u;
	if ((locs = acp_map_locations(tool, args, cwd)) != NULL)
		json_object_object_add(u, "locations", locs);
	if ((diff = acp_map_diff(tool, args, cwd)) != NULL) {
		content = json_object_new_array();
		json_object_array_add(content, diff);
		json_object_object_add(u, "content", content);
	}
	json_object_object_add(u, "rawInput", args);
	return u;
}

/* The result: completed/failed with the output as text content. */
static struct json_object *
acp_map_result(struct json_object *data)
{
	struct json_object *u, *v, *content, *c;
	const char *id = msg_json_str(data, "id");
	const char *text = msg_json_str(data, "output");
	bool failed = false;

	if (id == NULL)
		return NULL;
	if (json_object_object_get_ex(data, "is_error", &v))
		failed = json_object_get_boolean(v);
	if (text == NULL)
		text = msg_json_str(data, "summary");
	u = acp_map_update("tool_call_update");
	json_object_object_add(u, "toolCallId", json_object_new_string(id));
	json_object_object_add(u, "status",
		json_object_new_string(failed ? "failed" : "completed"));
	if (text != NULL && text[0] != '\0') {
		c = json_object_new_object();
		json_object_object_add(
			c, "type", json_object_new_string("content"));
		json_object_object_add(c, "content", acp_map_text_block(text));
		content = json_object_new_array();
		json_object_array_add(content, c);
		json_object_object_add(u, "content", content);
	}
	if ((text = msg_json_str(data, "summary")) != NULL) {
		v = json_object_new_object();
		json_object_object_add(
			v, "summary", json_object_new_string(text));
		json_object_object_add(u, "rawOutput", v);
	}
	return u;
}

/* One input segment as an ACP content block (NULL: none). */
static struct json_object *
acp_map_segment(struct json_object *seg)
{
	const char *kind = msg_json_str(seg, "kind");
	const char *s, *base;
	struct json_object *b;
	char *uri;

	if (kind == NULL)
		return NULL;
	if (strcmp(kind, "text") == 0 || strcmp(kind, "paste") == 0) {
		s = msg_json_str(seg, "content");
		return s != NULL ? acp_map_text_block(s) : NULL;
	}
	if (strcmp(kind, "file_ref") == 0 &&
		(s = msg_json_str(seg, "path")) != NULL) {
		base = strrchr(s, '/');
		uri = xstrfmt("file://%s", s);
		b = json_object_new_object();
		json_object_object_add(
			b, "type", json_object_new_string("resource_link"));
		json_object_object_add(b, "uri", json_object_new_string(uri));
		json_object_object_add(b, "name",
			json_object_new_string(base != NULL && base[1] != '\0'
					? base + 1
					: s));
		free(uri);
		return b;
	}
	return NULL;
}

/* user_message_chunk updates for segments, appended to updates. */
static void
acp_map_user(struct json_object *segs, struct json_object *updates)
{
	struct json_object *b;
	size_t i, n;

	if (segs == NULL || !json_object_is_type(segs, json_type_array))
		return;
	n = json_object_array_length(segs);
	for (i = 0; i < n; i++)
		if ((b = acp_map_segment(json_object_array_get_idx(segs, i))) !=
			NULL)
			json_object_array_add(updates,
				acp_map_chunk("user_message_chunk", b));
}

/* A live pod event as a session/update, or NULL. */
struct json_object *
acp_map_event(const char *event, struct json_object *data, const char *cwd)
{
	struct json_object *u, *segs, *arr;
	const char *s, *id, *name;

	if (strcmp(event, "text_delta") == 0 ||
		strcmp(event, "thinking_delta") == 0) {
		s = msg_json_str(data, "text");
		if (s == NULL || s[0] == '\0')
			return NULL;
		return acp_map_chunk(event[1] == 'e' ? "agent_message_chunk"
						     : "agent_thought_chunk",
			acp_map_text_block(s));
	}
	if (strcmp(event, "tool_call_start") == 0) {
		id = msg_json_str(data, "id");
		name = msg_json_str(data, "name");
		if (id == NULL || name == NULL)
			return NULL;
		u = acp_map_update("tool_call");
		json_object_object_add(
			u, "toolCallId", json_object_new_string(id));
		json_object_object_add(
			u, "title", json_object_new_string(name));
		json_object_object_add(u, "kind",
			json_object_new_string(acp_map_tool_kind(name)));
		json_object_object_add(
			u, "status", json_object_new_string("pending"));
		return u;
	}
	if (strcmp(event, "tool_call_done") == 0) {
		id = msg_json_str(data, "id");
		name = msg_json_str(data, "name");
		if (id == NULL || name == NULL)
			return NULL;
		return acp_map_call("tool_call_update", id, name,
			msg_json_str(data, "arguments"), cwd);
	}
	if (strcmp(event, "tool_result") == 0)
		return acp_map_result(data);
	if (strcmp(event, "user_message") == 0) {
		if (!json_object_object_get_ex(data, "segments", &segs))
			return NULL;
		/* A multi-segment message: the first block carries it all. */
		arr = json_object_new_array();
		acp_map_user(segs, arr);
		u = json_object_array_length(arr) > 0
			? json_object_get(json_object_array_get_idx(arr, 0))
			: NULL;
		json_object_put(arr);
		return u;
	}
	return NULL;
}

/* The updates replaying one log entry. */
void
acp_map_entry(
	struct json_object *entry, const char *cwd, struct json_object *updates)
{
	struct json_object *segs, *calls, *c, *u;
	const char *kind = msg_json_str(entry, "kind");
	const char *s, *id, *name;
	char *text;
	size_t i, n;

	if (kind == NULL)
		return;
	if (strcmp(kind, "user_input") == 0) {
		if (json_object_object_get_ex(entry, "segments", &segs))
			acp_map_user(segs, updates);
		return;
	}
	if (strcmp(kind, "segment_start") == 0) {
		s = msg_json_str(entry, "summary");
		if (s == NULL)
			return;
		text = xstrfmt("(earlier conversation, compacted)\n%s", s);
		json_object_array_add(updates,
			acp_map_chunk("agent_thought_chunk",
				acp_map_text_block(text)));
		free(text);
		return;
	}
	if (strcmp(kind, "tool_result") == 0) {
		if ((u = acp_map_result(entry)) != NULL)
			json_object_array_add(updates, u);
		return;
	}
	if (strcmp(kind, "assistant") != 0)
		return;
	if ((s = msg_json_str(entry, "thinking")) != NULL && s[0] != '\0')
		json_object_array_add(updates,
			acp_map_chunk(
				"agent_thought_chunk", acp_map_text_block(s)));
	if ((s = msg_json_str(entry, "text")) != NULL && s[0] != '\0')
		json_object_array_add(updates,
			acp_map_chunk(
				"agent_message_chunk", acp_map_text_block(s)));
	if (!json_object_object_get_ex(entry, "tool_calls", &calls) ||
		!json_object_is_type(calls, json_type_array))
		return;
	n = json_object_array_length(calls);
	for (i = 0; i < n; i++) {
		c = json_object_array_get_idx(calls, i);
		id = msg_json_str(c, "id");
		name = msg_json_str(c, "name");
		if (id == NULL || name == NULL)
			continue;
		json_object_array_add(updates,
			acp_map_call("tool_call", id, name,
				msg_json_str(c, "arguments"), cwd));
	}
}

static int
acp_map_hex(char c)
{
	if (c >= '0' && c <= '9')
		return c - '0';
	if (c >= 'a' && c <= 'f')
		return c - 'a' + 10;
	if (c >= 'A' && c <= 'F')
		return c - 'A' + 10;
	return -1;
}

/* The path of a file:// URI, percent-decoded (NULL: not one). */
static char *
acp_map_file_uri(const char *uri)
{
	const char *p;
	char *out, *o;
	int hi, lo;

	if (strncmp(uri, "file://", 7) != 0)
		return NULL;
	p = uri + 7;
	if (strncmp(p, "localhost/", 10) == 0)
		p += 9;
	if (*p != '/')
		return NULL;
	out = o = xmalloc(strlen(p) + 1);
	for (; *p != '\0' && *p != '?' && *p != '#'; p++) {
		if (*p == '%' && (hi = acp_map_hex(p[1])) >= 0 &&
			(lo = acp_map_hex(p[2])) >= 0 && (hi | lo) != 0) {
			*o++ = (char)(hi * 16 + lo);
			p += 2;
		} else {
			*o++ = *p;
		}
	}
	*o = '\0';
	return out;
}

static struct json_object *
acp_map_seg(const char *kind, const char *key, const char *value)
{
	struct json_object *s = json_object_new_object();

	json_object_object_add(s, "kind", json_object_new_string(kind));
	json_object_object_add(s, key, json_object_new_string(value));
	return s;
}

/* One prompt block as a segment, or NULL with *reterr_msg. */
static struct json_object *
acp_map_block(struct json_object *b, size_t i, char **reterr_msg)
{
	struct json_object *res;
	const char *type = msg_json_str(b, "type");
	const char *s, *uri, *name;
	char *path, *text;

	if (type == NULL) {
		*reterr_msg = xstrfmt("prompt[%zu].type must be a string", i);
		return NULL;
	}
	if (strcmp(type, "text") == 0) {
		if ((s = msg_json_str(b, "text")) == NULL)
			goto missing_text;
		return acp_map_seg("text", "content", s);
	}
	if (strcmp(type, "resource_link") == 0) {
		uri = msg_json_str(b, "uri");
		name = msg_json_str(b, "name");
		if (uri == NULL) {
			*reterr_msg =
				xstrfmt("prompt[%zu].uri must be a string", i);
			return NULL;
		}
		if ((path = acp_map_file_uri(uri)) != NULL) {
			res = acp_map_seg("file_ref", "path", path);
			free(path);
			return res;
		}
		text = xstrfmt("[%s](%s)", name != NULL ? name : uri, uri);
		res = acp_map_seg("text", "content", text);
		free(text);
		return res;
	}
	if (strcmp(type, "resource") == 0) {
		if (!json_object_object_get_ex(b, "resource", &res) ||
			(uri = msg_json_str(res, "uri")) == NULL) {
			*reterr_msg =
				xstrfmt("prompt[%zu].resource.uri must be "
					"a string",
					i);
			return NULL;
		}
		if ((s = msg_json_str(res, "text")) == NULL) {
			*reterr_msg = xstrfmt("prompt[%zu].resource: binary "
					      "(blob) resources are not "
					      "supported, only text",
				i);
			return NULL;
		}
		/* The editor's copy (maybe unsaved) is what counts. */
		text = xstrfmt("Context from %s:\n```\n%s%s```", uri, s,
			s[0] != '\0' && s[strlen(s) - 1] != '\n' ? "\n" : "");
		res = acp_map_seg("text", "content", text);
		free(text);
		return res;
	}
	if (strcmp(type, "image") == 0 || strcmp(type, "audio") == 0) {
		*reterr_msg =
			xstrfmt("prompt[%zu]: %s content is not supported "
				"(promptCapabilities.%s is false)",
				i, type, type);
		return NULL;
	}
	*reterr_msg = xstrfmt("prompt[%zu].type \"%.64s\" is not a content "
			      "block type (text, resource, resource_link)",
		i, type);
	return NULL;
missing_text:
	*reterr_msg = xstrfmt("prompt[%zu].text must be a string", i);
	return NULL;
}

/* The pod input for an ACP prompt. */
struct json_object *
acp_map_prompt(struct json_object *prompt, char **reterr_msg)
{
	struct json_object *segs, *s, *b;
	size_t i, n;

	if (prompt == NULL || !json_object_is_type(prompt, json_type_array)) {
		*reterr_msg = xstrdup("prompt must be an array of content "
				      "blocks");
		return NULL;
	}
	n = json_object_array_length(prompt);
	if (n == 0) {
		*reterr_msg = xstrdup("prompt must hold at least one content "
				      "block");
		return NULL;
	}
	segs = json_object_new_array();
	for (i = 0; i < n; i++) {
		b = json_object_array_get_idx(prompt, i);
		if (!json_object_is_type(b, json_type_object)) {
			*reterr_msg = xstrfmt(
				"prompt[%zu] must be a content block object",
				i);
			json_object_put(segs);
			return NULL;
		}
		if ((s = acp_map_block(b, i, reterr_msg)) == NULL) {
			json_object_put(segs);
			return NULL;
		}
		json_object_array_add(segs, s);
	}
	return segs;
}

/* ACP stopReason of a turn; NULL: the turn failed (an error reply). */
const char *
acp_map_stop_reason(const char *result, const char *llm_stop)
{
	if (result == NULL || strcmp(result, "error") == 0)
		return NULL;
	if (strcmp(result, "cancelled") == 0 || strcmp(result, "paused") == 0)
		return "cancelled";
	if (strcmp(result, "limit_reached") == 0)
		return "max_turn_requests";
	/* The pod's token budget (docs/budgets.md): a token limit. */
	if (strcmp(result, "budget_exhausted") == 0)
		return "max_tokens";
	if (llm_stop != NULL &&
		(strcmp(llm_stop, "max_tokens") == 0 ||
			strcmp(llm_stop, "length") == 0))
		return "max_tokens";
	if (llm_stop != NULL &&
		(strcmp(llm_stop, "refusal") == 0 ||
			strcmp(llm_stop, "content_filter") == 0))
		return "refusal";
	return "end_turn";
}

/*
 * A tool_call_update replaces the call's content: keep the diff of a
 * write/edit (remembered in edits, an object keyed by toolCallId) in
 * front of the result's text so the editor still shows it.
 */
void
acp_map_keep_diff(struct json_object *edits, struct json_object *update)
{
	struct json_object *content, *first, *diff, *merged;
	const char *id = msg_json_str(update, "toolCallId");
	const char *status = msg_json_str(update, "status");
	const char *type;
	size_t i, n;

	if (id == NULL || status == NULL)
		return;
	content = NULL;
	json_object_object_get_ex(update, "content", &content);
	if (strcmp(status, "in_progress") == 0) {
		if (content == NULL || json_object_array_length(content) == 0)
			return;
		first = json_object_array_get_idx(content, 0);
		type = msg_json_str(first, "type");
		if (type != NULL && strcmp(type, "diff") == 0)
			json_object_object_add(
				edits, id, json_object_get(first));
		return;
	}
	if (!json_object_object_get_ex(edits, id, &diff))
		return;
	merged = json_object_new_array();
	json_object_array_add(merged, json_object_get(diff));
	n = content != NULL ? json_object_array_length(content) : 0;
	for (i = 0; i < n; i++)
		json_object_array_add(merged,
			json_object_get(json_object_array_get_idx(content, i)));
	json_object_object_add(update, "content", merged);
	json_object_object_del(edits, id);
}

static struct json_object *
acp_map_option(const char *id, const char *name, const char *kind)
{
	struct json_object *o = json_object_new_object();

	json_object_object_add(o, "optionId", json_object_new_string(id));
	json_object_object_add(o, "name", json_object_new_string(name));
	json_object_object_add(o, "kind", json_object_new_string(kind));
	return o;
}

/* session/request_permission params (but sessionId) for a request. */
struct json_object *
acp_map_permission(struct json_object *data, const char *cwd)
{
	struct json_object *p, *call, *options, *content, *c;
	const char *call_id = msg_json_str(data, "call_id");
	const char *tool = msg_json_str(data, "tool");
	const char *diff = msg_json_str(data, "diff");
	char *text;

	if (call_id == NULL || tool == NULL || msg_json_str(data, "id") == NULL)
		return NULL;
	call = acp_map_call("tool_call_update", call_id, tool,
		msg_json_str(data, "arguments"), cwd);
	json_object_object_del(call, "sessionUpdate");
	json_object_object_add(
		call, "status", json_object_new_string("pending"));
	if (diff != NULL && diff[0] != '\0') {
		/* What a write would change in the file as it is now. */
		if (!json_object_object_get_ex(call, "content", &content)) {
			content = json_object_new_array();
			json_object_object_add(call, "content", content);
		}
		text = xstrfmt("```diff\n%s%s```", diff,
			diff[strlen(diff) - 1] == '\n' ? "" : "\n");
		c = json_object_new_object();
		json_object_object_add(
			c, "type", json_object_new_string("content"));
		json_object_object_add(c, "content", acp_map_text_block(text));
		json_object_array_add(content, c);
		free(text);
	}
	options = json_object_new_array();
	json_object_array_add(options,
		acp_map_option("allow_once", "Allow once", "allow_once"));
	json_object_array_add(options,
		acp_map_option("allow_always",
			"Always allow (this command, file or tool)",
			"allow_always"));
	json_object_array_add(
		options, acp_map_option("deny", "Deny", "reject_once"));
	p = json_object_new_object();
	json_object_object_add(p, "toolCall", call);
	json_object_object_add(p, "options", options);
	return p;
}

/* The pod's approve decision for an ACP optionId, or NULL. */
const char *
acp_map_decision(const char *option_id)
{
	if (option_id == NULL)
		return NULL;
	if (strcmp(option_id, "allow_once") == 0 ||
		strcmp(option_id, "allow_always") == 0 ||
		strcmp(option_id, "deny") == 0)
		return option_id;
	return NULL;
}
