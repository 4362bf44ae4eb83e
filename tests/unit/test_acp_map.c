/* SPDX-License-Identifier: ISC */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>
#include <json-c/json.h>

#include "cli/acp.h"
#include "proto/msg.h"

static struct json_object *
parse(const char *text)
{
	struct json_object *o = msg_parse_json(text, strlen(text), NULL);

	assert_non_null(o);
	return o;
}

static const char *
str(struct json_object *o)
{
	return json_object_to_json_string_ext(
		o, JSON_C_TO_STRING_PLAIN | JSON_C_TO_STRING_NOSLASHESCAPE);
}

/* acp_map_event(event, data) serialised, "null" if it maps to nothing. */
static void
assert_event(const char *event, const char *data, const char *want)
{
	struct json_object *d = parse(data);
	struct json_object *u = acp_map_event(event, d, "/w");

	assert_string_equal(u != NULL ? str(u) : "null", want);
	json_object_put(u);
	json_object_put(d);
}

static void
test_methods_sorted(void **state)
{
	(void)state;
	assert_true(acp_methods_sorted());
}

static void
test_tool_kinds(void **state)
{
	(void)state;
	assert_string_equal(acp_map_tool_kind("read"), "read");
	assert_string_equal(acp_map_tool_kind("write"), "edit");
	assert_string_equal(acp_map_tool_kind("edit"), "edit");
	assert_string_equal(acp_map_tool_kind("bash"), "execute");
	assert_string_equal(acp_map_tool_kind("grep"), "search");
	assert_string_equal(acp_map_tool_kind("glob"), "search");
	assert_string_equal(acp_map_tool_kind("spawn_pod"), "other");
	assert_string_equal(acp_map_tool_kind("mcp__gh__issue"), "other");
}

static void
test_events(void **state)
{
	(void)state;
	assert_event("text_delta", "{\"text\":\"hi\"}",
		"{\"sessionUpdate\":\"agent_message_chunk\",\"content\":"
		"{\"type\":\"text\",\"text\":\"hi\"}}");
	assert_event("thinking_delta", "{\"text\":\"hm\"}",
		"{\"sessionUpdate\":\"agent_thought_chunk\",\"content\":"
		"{\"type\":\"text\",\"text\":\"hm\"}}");
	assert_event("text_delta", "{\"text\":\"\"}", "null");
	assert_event("usage", "{}", "null");
	assert_event("tool_call_start", "{\"id\":\"c1\",\"name\":\"grep\"}",
		"{\"sessionUpdate\":\"tool_call\",\"toolCallId\":\"c1\","
		"\"title\":\"grep\",\"kind\":\"search\",\"status\":"
		"\"pending\"}");
	assert_event("tool_call_done",
		"{\"id\":\"c1\",\"name\":\"read\",\"arguments\":"
		"\"{\\\"path\\\":\\\"a/b.c\\\",\\\"offset\\\":7}\"}",
		"{\"sessionUpdate\":\"tool_call_update\",\"toolCallId\":\"c1\","
		"\"title\":\"read /w/a/b.c\",\"kind\":\"read\",\"status\":"
		"\"in_progress\",\"locations\":[{\"path\":\"/w/a/b.c\","
		"\"line\":7}],\"rawInput\":{\"path\":\"a/b.c\",\"offset\":7}}");
	/* Arguments that are not JSON: the call still shows. */
	assert_event("tool_call_done",
		"{\"id\":\"c2\",\"name\":\"bash\",\"arguments\":\"{oops\"}",
		"{\"sessionUpdate\":\"tool_call_update\",\"toolCallId\":\"c2\","
		"\"title\":\"bash\",\"kind\":\"execute\",\"status\":"
		"\"in_progress\"}");
	assert_event("tool_result",
		"{\"id\":\"c1\",\"summary\":\"no such file\",\"is_error\":"
		"true}",
		"{\"sessionUpdate\":\"tool_call_update\",\"toolCallId\":\"c1\","
		"\"status\":\"failed\",\"content\":[{\"type\":\"content\","
		"\"content\":{\"type\":\"text\",\"text\":\"no such file\"}}],"
		"\"rawOutput\":{\"summary\":\"no such file\"}}");
	assert_event("user_message",
		"{\"segments\":[{\"kind\":\"text\",\"content\":\"yo\"}]}",
		"{\"sessionUpdate\":\"user_message_chunk\",\"content\":"
		"{\"type\":\"text\",\"text\":\"yo\"}}");
}

static void
test_diff_kept(void **state)
{
	struct json_object *edits = json_object_new_object();
	struct json_object *d, *u;

	(void)state;
	d = parse("{\"id\":\"e\",\"name\":\"edit\",\"arguments\":"
		  "\"{\\\"path\\\":\\\"/x\\\",\\\"old\\\":\\\"a\\\","
		  "\\\"new\\\":\\\"b\\\"}\"}");
	u = acp_map_event("tool_call_done", d, "/w");
	acp_map_keep_diff(edits, u);
	json_object_put(d);
	json_object_put(u);
	d = parse("{\"id\":\"e\",\"summary\":\"edited\",\"is_error\":false}");
	u = acp_map_event("tool_result", d, "/w");
	acp_map_keep_diff(edits, u);
	assert_string_equal(str(u),
		"{\"sessionUpdate\":\"tool_call_update\",\"toolCallId\":\"e\","
		"\"status\":\"completed\",\"content\":[{\"type\":\"diff\","
		"\"path\":\"/x\",\"oldText\":\"a\",\"newText\":\"b\"},"
		"{\"type\":\"content\",\"content\":{\"type\":\"text\","
		"\"text\":\"edited\"}}],\"rawOutput\":{\"summary\":"
		"\"edited\"}}");
	assert_int_equal(json_object_object_length(edits), 0);
	json_object_put(d);
	json_object_put(u);
	json_object_put(edits);
}

static void
test_entries(void **state)
{
	struct json_object *e, *ups = json_object_new_array();

	(void)state;
	e = parse("{\"kind\":\"user_input\",\"segments\":[{\"kind\":"
		  "\"file_ref\",\"path\":\"/w/x.c\"}]}");
	acp_map_entry(e, "/w", ups);
	json_object_put(e);
	e = parse("{\"kind\":\"assistant\",\"thinking\":\"t\",\"text\":"
		  "\"a\",\"tool_calls\":[{\"id\":\"c\",\"name\":\"write\","
		  "\"arguments\":\"{\\\"path\\\":\\\"y\\\",\\\"content\\\":"
		  "\\\"z\\\"}\"}]}");
	acp_map_entry(e, "/w", ups);
	json_object_put(e);
	e = parse("{\"kind\":\"turn_end\",\"turn\":1}");
	acp_map_entry(e, "/w", ups);
	json_object_put(e);
	assert_string_equal(str(ups),
		"[{\"sessionUpdate\":\"user_message_chunk\",\"content\":"
		"{\"type\":\"resource_link\",\"uri\":\"file:///w/x.c\","
		"\"name\":\"x.c\"}},"
		"{\"sessionUpdate\":\"agent_thought_chunk\",\"content\":"
		"{\"type\":\"text\",\"text\":\"t\"}},"
		"{\"sessionUpdate\":\"agent_message_chunk\",\"content\":"
		"{\"type\":\"text\",\"text\":\"a\"}},"
		"{\"sessionUpdate\":\"tool_call\",\"toolCallId\":\"c\","
		"\"title\":\"write /w/y\",\"kind\":\"edit\",\"status\":"
		"\"in_progress\",\"locations\":[{\"path\":\"/w/y\"}],"
		"\"content\":[{\"type\":\"diff\",\"path\":\"/w/y\","
		"\"newText\":\"z\"}],\"rawInput\":{\"path\":\"y\","
		"\"content\":\"z\"}}]");
	json_object_put(ups);
}

static void
assert_prompt(const char *prompt, const char *want)
{
	struct json_object *p = parse(prompt), *segs;
	char *err = NULL;

	segs = acp_map_prompt(p, &err);
	assert_string_equal(segs != NULL ? str(segs) : err, want);
	json_object_put(segs);
	json_object_put(p);
	free(err);
}

static void
test_prompt(void **state)
{
	(void)state;
	assert_prompt("[{\"type\":\"text\",\"text\":\"hi\"},"
		      "{\"type\":\"resource_link\",\"name\":\"a b\","
		      "\"uri\":\"file:///w/a%20b\"},"
		      "{\"type\":\"resource_link\",\"name\":\"doc\","
		      "\"uri\":\"https://x.org/d\"},"
		      "{\"type\":\"resource\",\"resource\":{\"uri\":"
		      "\"file:///w/c\",\"text\":\"int c;\"}}]",
		"[{\"kind\":\"text\",\"content\":\"hi\"},"
		"{\"kind\":\"file_ref\",\"path\":\"/w/a b\"},"
		"{\"kind\":\"text\",\"content\":\"[doc](https://x.org/d)\"},"
		"{\"kind\":\"text\",\"content\":\"Context from file:///w/c:\\n"
		"```\\nint c;\\n```\"}]");
	assert_prompt("[]", "prompt must hold at least one content block");
	assert_prompt("{}", "prompt must be an array of content blocks");
	assert_prompt(
		"[{\"type\":\"text\"}]", "prompt[0].text must be a string");
	assert_prompt("[{\"type\":\"text\",\"text\":\"a\"},{\"type\":"
		      "\"image\",\"data\":\"\",\"mimeType\":\"image/png\"}]",
		"prompt[1]: image content is not supported "
		"(promptCapabilities.image is false)");
	assert_prompt("[{\"type\":\"resource\",\"resource\":{\"uri\":\"x\","
		      "\"blob\":\"AA==\"}}]",
		"prompt[0].resource: binary (blob) resources are not "
		"supported, only text");
	assert_prompt("[{\"type\":\"video\"}]",
		"prompt[0].type \"video\" is not a content block type "
		"(text, resource, resource_link)");
	assert_prompt("[3]", "prompt[0] must be a content block object");
}

static void
test_stop_reasons(void **state)
{
	(void)state;
	assert_string_equal(
		acp_map_stop_reason("finished", "stop"), "end_turn");
	assert_string_equal(
		acp_map_stop_reason("finished", "end_turn"), "end_turn");
	assert_string_equal(
		acp_map_stop_reason("finished", "length"), "max_tokens");
	assert_string_equal(
		acp_map_stop_reason("finished", "max_tokens"), "max_tokens");
	assert_string_equal(
		acp_map_stop_reason("finished", "refusal"), "refusal");
	assert_string_equal(
		acp_map_stop_reason("finished", "content_filter"), "refusal");
	assert_string_equal(acp_map_stop_reason("cancelled", ""), "cancelled");
	assert_string_equal(acp_map_stop_reason("paused", ""), "cancelled");
	assert_string_equal(
		acp_map_stop_reason("limit_reached", ""), "max_turn_requests");
	assert_string_equal(acp_map_stop_reason("budget_exhausted", "tool_use"),
		"max_tokens");
	assert_null(acp_map_stop_reason("error", ""));
}

static void
test_permission(void **state)
{
	struct json_object *d, *p;

	(void)state;
	d = parse("{\"id\":\"AB12CD34\",\"call_id\":\"c9\",\"tool\":"
		  "\"bash\",\"arguments\":\"{\\\"command\\\":\\\"make\\\"}\","
		  "\"paths\":[\"/w\"],\"ms\":1}");
	p = acp_map_permission(d, "/w");
	assert_string_equal(str(p),
		"{\"toolCall\":{\"toolCallId\":\"c9\",\"title\":"
		"\"bash: make\",\"kind\":\"execute\",\"status\":\"pending\","
		"\"locations\":[{\"path\":\"/w\"}],\"rawInput\":"
		"{\"command\":\"make\"}},\"options\":["
		"{\"optionId\":\"allow_once\",\"name\":\"Allow once\","
		"\"kind\":\"allow_once\"},"
		"{\"optionId\":\"allow_always\",\"name\":\"Always allow "
		"(this command, file or tool)\",\"kind\":\"allow_always\"},"
		"{\"optionId\":\"deny\",\"name\":\"Deny\",\"kind\":"
		"\"reject_once\"}]}");
	json_object_put(p);
	json_object_put(d);
	d = parse("{\"call_id\":\"c9\",\"tool\":\"bash\"}");
	assert_null(acp_map_permission(d, "/w"));
	json_object_put(d);
	assert_string_equal(acp_map_decision("allow_always"), "allow_always");
	assert_string_equal(acp_map_decision("deny"), "deny");
	assert_null(acp_map_decision("reject_always"));
	assert_null(acp_map_decision(NULL));
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_methods_sorted),
		cmocka_unit_test(test_tool_kinds),
		cmocka_unit_test(test_events),
		cmocka_unit_test(test_diff_kept),
		cmocka_unit_test(test_entries),
		cmocka_unit_test(test_prompt),
		cmocka_unit_test(test_stop_reasons),
		cmocka_unit_test(test_permission),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
