/* SPDX-License-Identifier: ISC */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>
#include <json-c/json.h>

#include "worker/provider.h"
#include "worker/provider_int.h"

/* ---- request bodies ---- */

static const char history[] =
	"["
	"{\"kind\":\"segment_start\",\"session\":\"s\",\"segment\":\"g\","
	"\"model\":\"m\",\"system\":\"SYS\",\"summary\":\"earlier stuff\"},"
	"{\"kind\":\"user_input\",\"ms\":1,\"segments\":["
	"{\"kind\":\"text\",\"content\":\"hello\"},"
	"{\"kind\":\"file_ref\",\"path\":\"/x\"},"
	"{\"kind\":\"paste\",\"content\":\"pasted\"}]},"
	"{\"kind\":\"system_item\",\"item\":{\"kind\":\"file_attachment\","
	"\"path\":\"/x\",\"content\":\"X\"}},"
	"{\"kind\":\"assistant\",\"text\":\"let me look\",\"tool_calls\":["
	"{\"id\":\"c1\",\"name\":\"read\",\"arguments\":\"{\\\"path\\\":\\\"/x\\\"}\"},"
	"{\"id\":\"c2\",\"name\":\"bash\",\"arguments\":\"{\\\"command\\\":\\\"ls\\\"}\"}]},"
	"{\"kind\":\"tool_result\",\"id\":\"c1\",\"summary\":\"read 1 line\","
	"\"output\":\"X\",\"is_error\":false},"
	"{\"kind\":\"tool_result\",\"id\":\"c2\",\"summary\":\"failed\","
	"\"output\":\"boom\",\"is_error\":true},"
	"{\"kind\":\"usage\",\"input_tokens\":5,\"output_tokens\":6},"
	"{\"kind\":\"system_item\",\"item\":{\"kind\":\"notification\","
	"\"message\":\"child done\"}},"
	"{\"kind\":\"assistant\",\"text\":\"done\"},"
	"{\"kind\":\"turn_end\",\"turn\":1},"
	"{\"kind\":\"run_end\",\"result\":\"finished\"}"
	"]";

static const struct llm_tool_def tools[] = {
	{ "read", "Read a file",
		"{\"type\":\"object\",\"properties\":{\"path\":{\"type\":"
		"\"string\"}}}" },
};

static struct provider_config
test_config(enum provider_scheme scheme)
{
	static char name[] = "test", url[] = "http://127.0.0.1:1/v1",
		    model[] = "m1";
	struct provider_config pc = { 0 };

	pc.scheme = scheme;
	pc.name = name;
	pc.base_url = url;
	pc.model = model;
	pc.max_tokens = 100;
	return pc;
}

static struct json_object *
must_parse(const char *s)
{
	struct json_object *obj = json_tokener_parse(s);

	if (obj == NULL)
		fail_msg("bad JSON in test: %s", s);
	return obj;
}

/* Assert that member key of obj equals the JSON text want. */
static void
assert_member(struct json_object *obj, const char *key, const char *want)
{
	struct json_object *v = NULL, *w = must_parse(want);

	if (!json_object_object_get_ex(obj, key, &v))
		fail_msg("no member %s", key);
	if (!json_object_equal(v, w))
		fail_msg("%s:\n got  %s\n want %s", key,
			json_object_to_json_string_ext(
				v, JSON_C_TO_STRING_PLAIN),
			json_object_to_json_string_ext(
				w, JSON_C_TO_STRING_PLAIN));
	json_object_put(w);
}

/* body_for() with prompt caching on (and a cache key). */
static bool body_cache;

static struct json_object *
body_for(enum provider_scheme scheme, const char *entries, const char *system,
	size_t ntools)
{
	struct provider_config pc = test_config(scheme);
	struct llm_request req = { 0 };
	struct json_object *obj;
	char *body;

	pc.no_prompt_cache = !body_cache;
	req.cache_key = body_cache ? "pod-1234" : NULL;
	req.system = system;
	req.entries = must_parse(entries);
	req.tools = tools;
	req.ntools = ntools;
	body = scheme == PROVIDER_OPENAI_CHAT
		? provider_openai_body(&pc, &req)
		: provider_anthropic_body(&pc, &req);
	obj = must_parse(body);
	free(body);
	json_object_put(req.entries);
	return obj;
}

static void
test_openai_body(void **state)
{
	struct json_object *b;

	b = body_for(PROVIDER_OPENAI_CHAT, history, "SYS", 1);
	assert_member(b, "model", "\"m1\"");
	assert_member(b, "stream", "true");
	assert_member(b, "stream_options", "{\"include_usage\":true}");
	assert_member(b, "max_tokens", "100");
	assert_member(b, "tools",
		"[{\"type\":\"function\",\"function\":{\"name\":\"read\","
		"\"description\":\"Read a file\",\"parameters\":{\"type\":"
		"\"object\",\"properties\":{\"path\":{\"type\":\"string\"}}}}}]");
	assert_member(b, "messages",
		"["
		"{\"role\":\"system\",\"content\":\"SYS\"},"
		"{\"role\":\"system\",\"content\":\"Summary of the earlier "
		"conversation:\\n\\nearlier stuff\"},"
		"{\"role\":\"user\",\"content\":\"hello\\n\\npasted\"},"
		"{\"role\":\"user\",\"content\":\"[file_attachment] /x\\nX\"},"
		"{\"role\":\"assistant\",\"content\":\"let me look\","
		"\"tool_calls\":["
		"{\"id\":\"c1\",\"type\":\"function\",\"function\":{\"name\":"
		"\"read\",\"arguments\":\"{\\\"path\\\":\\\"/x\\\"}\"}},"
		"{\"id\":\"c2\",\"type\":\"function\",\"function\":{\"name\":"
		"\"bash\",\"arguments\":\"{\\\"command\\\":\\\"ls\\\"}\"}}]},"
		"{\"role\":\"tool\",\"tool_call_id\":\"c1\",\"content\":\"X\"},"
		"{\"role\":\"tool\",\"tool_call_id\":\"c2\",\"content\":"
		"\"Error: boom\"},"
		"{\"role\":\"user\",\"content\":\"[notification] child done\"},"
		"{\"role\":\"assistant\",\"content\":\"done\"}"
		"]");
	json_object_put(b);
	/* No tools: no "tools" member. */
	b = body_for(PROVIDER_OPENAI_CHAT, "[]", NULL, 0);
	assert_false(json_object_object_get_ex(b, "tools", NULL));
	assert_member(b, "messages", "[]");
	json_object_put(b);
}

/* Interrupted calls get a result, orphan results go, notes wait. */
static void
test_openai_body_repair(void **state)
{
	struct json_object *b;

	b = body_for(PROVIDER_OPENAI_CHAT,
		"[{\"kind\":\"assistant\",\"tool_calls\":["
		"{\"id\":\"a\",\"name\":\"bash\",\"arguments\":\"{}\"},"
		"{\"id\":\"b\",\"name\":\"bash\",\"arguments\":\"{}\"}]},"
		"{\"kind\":\"system_item\",\"item\":{\"kind\":\"interrupt\","
		"\"message\":\"stop\"}},"
		"{\"kind\":\"tool_result\",\"id\":\"a\",\"summary\":\"ok\"},"
		"{\"kind\":\"tool_result\",\"id\":\"zz\",\"summary\":\"orphan\"},"
		"{\"kind\":\"user_input\",\"segments\":[{\"kind\":\"text\","
		"\"content\":\"next\"}]}]",
		NULL, 0);
	assert_member(b, "messages",
		"[{\"role\":\"assistant\",\"content\":null,\"tool_calls\":["
		"{\"id\":\"a\",\"type\":\"function\",\"function\":{\"name\":"
		"\"bash\",\"arguments\":\"{}\"}},"
		"{\"id\":\"b\",\"type\":\"function\",\"function\":{\"name\":"
		"\"bash\",\"arguments\":\"{}\"}}]},"
		"{\"role\":\"tool\",\"tool_call_id\":\"a\",\"content\":\"ok\"},"
		"{\"role\":\"tool\",\"tool_call_id\":\"b\",\"content\":\"Error: "
		"no result (the tool call was interrupted)\"},"
		"{\"role\":\"user\",\"content\":\"[interrupt] stop\"},"
		"{\"role\":\"user\",\"content\":\"next\"}]");
	json_object_put(b);
}

static void
test_anthropic_body(void **state)
{
	struct json_object *b;

	b = body_for(PROVIDER_ANTHROPIC, history, "SYS", 1);
	assert_member(b, "model", "\"m1\"");
	assert_member(b, "stream", "true");
	assert_member(b, "max_tokens", "100");
	assert_member(b, "system",
		"\"SYS\\n\\nSummary of the earlier conversation:\\n\\n"
		"earlier stuff\"");
	assert_member(b, "tools",
		"[{\"name\":\"read\",\"description\":\"Read a file\","
		"\"input_schema\":{\"type\":\"object\",\"properties\":{"
		"\"path\":{\"type\":\"string\"}}}}]");
	assert_member(b, "messages",
		"["
		"{\"role\":\"user\",\"content\":["
		"{\"type\":\"text\",\"text\":\"hello\\n\\npasted\"},"
		"{\"type\":\"text\",\"text\":\"[file_attachment] /x\\nX\"}]},"
		"{\"role\":\"assistant\",\"content\":["
		"{\"type\":\"text\",\"text\":\"let me look\"},"
		"{\"type\":\"tool_use\",\"id\":\"c1\",\"name\":\"read\","
		"\"input\":{\"path\":\"/x\"}},"
		"{\"type\":\"tool_use\",\"id\":\"c2\",\"name\":\"bash\","
		"\"input\":{\"command\":\"ls\"}}]},"
		"{\"role\":\"user\",\"content\":["
		"{\"type\":\"tool_result\",\"tool_use_id\":\"c1\","
		"\"content\":\"X\"},"
		"{\"type\":\"tool_result\",\"tool_use_id\":\"c2\","
		"\"content\":\"boom\",\"is_error\":true},"
		"{\"type\":\"text\",\"text\":\"[notification] child done\"}]},"
		"{\"role\":\"assistant\",\"content\":["
		"{\"type\":\"text\",\"text\":\"done\"}]}"
		"]");
	json_object_put(b);
	/* No system, no tools. */
	b = body_for(PROVIDER_ANTHROPIC, "[]", NULL, 0);
	assert_false(json_object_object_get_ex(b, "system", NULL));
	assert_false(json_object_object_get_ex(b, "tools", NULL));
	json_object_put(b);
}

/*
 * Prompt caching: the last tool, the system block, the newest message and
 * the previous request's newest carry the breakpoints (4 at most).
 */
static void
test_anthropic_body_cache(void **state)
{
	struct json_object *b, *msgs, *v;
	const char *eph = "{\"type\":\"ephemeral\"}";
	size_t i, n, marks = 0;

	body_cache = true;
	b = body_for(PROVIDER_ANTHROPIC, history, "SYS", 1);
	body_cache = false;
	assert_member(b, "system",
		"[{\"type\":\"text\",\"text\":\"SYS\\n\\nSummary of the "
		"earlier conversation:\\n\\nearlier stuff\",\"cache_control\":"
		"{\"type\":\"ephemeral\"}}]");
	assert_true(json_object_object_get_ex(b, "tools", &v));
	v = json_object_array_get_idx(v, json_object_array_length(v) - 1);
	assert_true(json_object_object_get_ex(v, "cache_control", &v));
	assert_string_equal(
		json_object_to_json_string_ext(v, JSON_C_TO_STRING_PLAIN), eph);
	assert_true(json_object_object_get_ex(b, "messages", &msgs));
	n = json_object_array_length(msgs);
	assert_int_equal(n, 4);
	for (i = 0; i < n; i++) {
		struct json_object *c, *last;

		json_object_object_get_ex(
			json_object_array_get_idx(msgs, i), "content", &c);
		last = json_object_array_get_idx(
			c, json_object_array_length(c) - 1);
		if (json_object_object_get_ex(last, "cache_control", NULL)) {
			marks++;
			assert_true(i == n - 1 || i == n - 3);
		}
	}
	assert_int_equal(marks, 2);
	json_object_put(b);
}

/* OpenAI chat: prompt_cache_key is the pod's id, unless turned off. */
static void
test_openai_body_cache_key(void **state)
{
	struct json_object *b;

	body_cache = true;
	b = body_for(PROVIDER_OPENAI_CHAT, history, "SYS", 1);
	body_cache = false;
	assert_member(b, "prompt_cache_key", "\"pod-1234\"");
	json_object_put(b);
	b = body_for(PROVIDER_OPENAI_CHAT, history, "SYS", 1);
	assert_false(json_object_object_get_ex(b, "prompt_cache_key", NULL));
	json_object_put(b);
}

/* Thinking with its signature; results merge before later text. */
static void
test_anthropic_body_thinking(void **state)
{
	struct json_object *b;

	b = body_for(PROVIDER_ANTHROPIC,
		"[{\"kind\":\"assistant\",\"thinking\":\"hmm\","
		"\"thinking_signature\":\"SIG\",\"text\":\"\",\"tool_calls\":["
		"{\"id\":\"t1\",\"name\":\"bash\",\"arguments\":\"not json\"}]},"
		"{\"kind\":\"system_item\",\"item\":\"note\"},"
		"{\"kind\":\"tool_result\",\"id\":\"t1\",\"summary\":\"ok\"},"
		"{\"kind\":\"assistant\",\"thinking\":\"unsigned\","
		"\"tool_calls\":[{\"id\":\"t2\",\"name\":\"bash\","
		"\"arguments\":\"{}\"}]}]",
		NULL, 0);
	assert_member(b, "messages",
		"["
		"{\"role\":\"user\",\"content\":\"(continued)\"},"
		"{\"role\":\"assistant\",\"content\":["
		"{\"type\":\"thinking\",\"thinking\":\"hmm\","
		"\"signature\":\"SIG\"},"
		"{\"type\":\"tool_use\",\"id\":\"t1\",\"name\":\"bash\","
		"\"input\":{}}]},"
		"{\"role\":\"user\",\"content\":["
		"{\"type\":\"tool_result\",\"tool_use_id\":\"t1\","
		"\"content\":\"ok\"},"
		"{\"type\":\"text\",\"text\":\"[system] note\"}]},"
		"{\"role\":\"assistant\",\"content\":["
		"{\"type\":\"tool_use\",\"id\":\"t2\",\"name\":\"bash\","
		"\"input\":{}}]},"
		"{\"role\":\"user\",\"content\":["
		"{\"type\":\"tool_result\",\"tool_use_id\":\"t2\",\"content\":"
		"\"no result (the tool call was interrupted)\","
		"\"is_error\":true}]}"
		"]");
	json_object_put(b);
}

static void
check_item(const char *item, const char *want)
{
	struct json_object *o = must_parse(item);
	char *got = provider_item_text(o);

	assert_string_equal(got, want);
	free(got);
	json_object_put(o);
}

/* How the core's system items read to the model. */
static void
test_item_text(void **state)
{
	check_item("{\"type\":\"pod_event\",\"kind\":\"peer_message\","
		   "\"from\":\"b\",\"message\":\"hi\",\"text\":"
		   "\"Message from peer b: hi\"}",
		"[pod_event] Message from peer b: hi");
	check_item("{\"type\":\"notification\",\"message\":\"ping\"}",
		"[notification] ping");
	check_item("{\"type\":\"interrupt\",\"reason\":\"cancelled\"}",
		"[interrupt] cancelled");
	check_item("{\"type\":\"file_attachment\",\"path\":\"/w/a\","
		   "\"content\":\"abc\",\"bytes\":9,\"truncated\":true}",
		"[file_attachment] /w/a\nabc\n[file truncated]");
	check_item("{\"type\":\"odd\",\"n\":1}",
		"[odd] {\"type\":\"odd\",\"n\":1}");
	check_item("\"plain\"", "[system] plain");
}

static void
test_headers(void **state)
{
	static char key[] = "sk-test";
	struct provider_config pc = test_config(PROVIDER_OPENAI_CHAT);
	char *h[8];
	int i;

	provider_openai_headers(&pc, h);
	for (i = 0; h[i] != NULL; i++)
		assert_null(strstr(h[i], "Authorization"));
	for (i = 0; h[i] != NULL; i++)
		free(h[i]);
	pc.api_key = key;
	provider_openai_headers(&pc, h);
	assert_string_equal(h[2], "Authorization: Bearer sk-test");
	assert_null(h[3]);
	for (i = 0; h[i] != NULL; i++)
		free(h[i]);
	provider_anthropic_headers(&pc, h);
	assert_string_equal(h[2], "anthropic-version: 2023-06-01");
	assert_string_equal(h[3], "x-api-key: sk-test");
	assert_null(h[4]);
	for (i = 0; h[i] != NULL; i++)
		free(h[i]);
}

/* ---- stream parsing ---- */

struct rec {
	char text[4096];
	char thinking[4096];
	char starts[1024];
};

static void
rec_text(void *arg, const char *s, size_t len)
{
	struct rec *r = arg;

	strncat(r->text, s, len);
}

static void
rec_thinking(void *arg, const char *s, size_t len)
{
	struct rec *r = arg;

	strncat(r->thinking, s, len);
}

static void
rec_start(void *arg, const char *id, const char *name)
{
	struct rec *r = arg;

	strcat(r->starts, id);
	strcat(r->starts, "=");
	strcat(r->starts, name);
	strcat(r->starts, ";");
}

static const struct llm_stream_cb rec_cb = { rec_text, rec_thinking, rec_start,
	NULL, NULL };

/* Result summary as one string, to compare chunkings. */
static char *
summarize(struct provider_stream *ps, const struct rec *r)
{
	struct llm_result res;
	char *s, *calls = strdup("");
	size_t i;

	provider_stream_result(ps, &res);
	for (i = 0; i < res.ntool_calls; i++) {
		char *n;
		if (asprintf(&n, "%s[%s %s %s]", calls, res.tool_calls[i].id,
			    res.tool_calls[i].name,
			    res.tool_calls[i].arguments) < 0)
			abort();
		free(calls);
		calls = n;
	}
	if (asprintf(&s,
		    "text=%s|thinking=%s|sig=%s|calls=%s|stop=%s|in=%lld|"
		    "out=%lld|cache=%lld|fin=%d|failed=%d|err=%s|ovf=%d|"
		    "cb_text=%s|cb_thinking=%s|starts=%s",
		    res.text ? res.text : "(null)",
		    res.thinking ? res.thinking : "(null)",
		    res.thinking_signature ? res.thinking_signature : "(null)",
		    calls, res.stop_reason ? res.stop_reason : "(null)",
		    (long long)res.usage.input_tokens,
		    (long long)res.usage.output_tokens,
		    (long long)res.usage.cache_read_tokens, ps->finished,
		    ps->failed, ps->error ? ps->error : "(null)", ps->overflow,
		    r->text, r->thinking, r->starts) < 0)
		abort();
	free(calls);
	return s;
}

/* Parse stream in two pieces cut at cut (len = one piece). */
static char *
run_stream(enum provider_scheme scheme, const char *s, size_t cut, int *ret)
{
	struct provider_stream ps;
	struct rec r;
	size_t len = strlen(s);
	char *out;
	int rc;

	memset(&r, 0, sizeof(r));
	provider_stream_init(&ps, scheme, &rec_cb, &r);
	if (cut > len)
		cut = len;
	rc = provider_stream_feed(&ps, s, cut);
	if (rc == 0)
		rc = provider_stream_feed(&ps, s + cut, len - cut);
	if (ret != NULL)
		*ret = rc;
	out = summarize(&ps, &r);
	provider_stream_clear(&ps);
	return out;
}

static char *
run_bytes(enum provider_scheme scheme, const char *s)
{
	struct provider_stream ps;
	struct rec r;
	size_t i, len = strlen(s);
	char *out;

	memset(&r, 0, sizeof(r));
	provider_stream_init(&ps, scheme, &rec_cb, &r);
	for (i = 0; i < len; i++)
		if (provider_stream_feed(&ps, s + i, 1) != 0)
			break;
	out = summarize(&ps, &r);
	provider_stream_clear(&ps);
	return out;
}

/* Same result for the whole stream, every 2-split, byte by byte. */
static void
check_stream(enum provider_scheme scheme, const char *s, const char *want)
{
	size_t i, len = strlen(s);
	char *got;

	for (i = 0; i <= len; i++) {
		got = run_stream(scheme, s, i, NULL);
		if (strcmp(got, want) != 0)
			fail_msg("cut at %zu:\n got  %s\n want %s", i, got,
				want);
		free(got);
	}
	got = run_bytes(scheme, s);
	assert_string_equal(got, want);
	free(got);
}

#define OAI(x) "data: {\"choices\":[{\"index\":0,\"delta\":" x "}]}\n\n"
#define OAI_TC(x) OAI("{\"tool_calls\":[" x "]}")

/* Two tool calls whose fragments interleave: assembled by index. */
static const char openai_tools_stream[] = OAI(
	"{\"role\":\"assistant\",\"content\":\"\"}")
	OAI("{\"content\":\"Let me \"}") OAI("{\"content\":\"check.\"}") OAI_TC(
		"{\"index\":0,\"id\":\"call_a\",\"type\":\"function\","
		"\"function\":{\"name\":\"read\",\"arguments\":\"\"}}")
		OAI_TC("{\"index\":0,\"function\":{\"arguments\":\"{\\\"pa\"}}") OAI_TC(
			"{\"index\":1,\"id\":\"call_b\",\"type\":\"function\","
			"\"function\":{\"name\":\"bash\",\"arguments\":\"{\\\"command\"}}")
			OAI_TC("{\"index\":0,\"function\":{\"arguments\":\"th\\\":\\\"/x\\\"}\"}}") OAI_TC(
				"{\"index\":1,\"function\":{\"arguments\":\"\\\":\\\"ls\\\"}\"}}") "data: {\"choices\":[{\"index\":0,\"delta\":{},\"finish_reason\":"
												   "\"tool_calls\"}]}\n\n"
												   "data: {\"choices\":[],\"usage\":{\"prompt_tokens\":120,"
												   "\"completion_tokens\":30,\"prompt_tokens_details\":"
												   "{\"cached_tokens\":64}}}\n\n"
												   "data: [DONE]\n\n";

static void
test_openai_stream_tools(void **state)
{
	check_stream(PROVIDER_OPENAI_CHAT, openai_tools_stream,
		"text=Let me check.|thinking=(null)|sig=(null)|"
		"calls=[call_a read {\"path\":\"/x\"}][call_b bash "
		"{\"command\":\"ls\"}]|stop=tool_calls|in=120|out=30|cache=64|"
		"fin=1|failed=0|err=(null)|ovf=0|cb_text=Let me check.|"
		"cb_thinking=|starts=call_a=read;call_b=bash;");
}

/* Cut before [DONE]: text kept, only complete tool calls kept. */
static void
test_openai_stream_cut(void **state)
{
	const char *s = OAI("{\"content\":\"partial\"}") OAI_TC(
		"{\"index\":0,\"id\":\"call_a\",\"function\":{\"name\":"
		"\"read\",\"arguments\":\"{}\"}}")
		OAI_TC("{\"index\":1,\"id\":\"call_b\",\"function\":{\"name\":"
		       "\"bash\",\"arguments\":\"{\\\"comm\"}}") "data: {\"choices\":[{\"index\":0,\"del";

	check_stream(PROVIDER_OPENAI_CHAT, s,
		"text=partial|thinking=(null)|sig=(null)|"
		"calls=[call_a read {}]|stop=(null)|in=0|out=0|cache=0|"
		"fin=0|failed=0|err=(null)|ovf=0|cb_text=partial|"
		"cb_thinking=|starts=call_a=read;call_b=bash;");
}

static void
test_openai_stream_error(void **state)
{
	int rc;
	char *got;

	got = run_stream(PROVIDER_OPENAI_CHAT,
		OAI("{\"content\":\"a\"}") "data: {\"error\":{\"message\":\"This model's maximum context "
					   "length is 10 tokens\",\"code\":\"context_length_exceeded\"}}\n\n" OAI(
						   "{\"content\":\"never\"}"),
		0, &rc);
	assert_int_equal(rc, 1);
	assert_non_null(strstr(got, "text=a|"));
	assert_non_null(strstr(got,
		"failed=1|err=This model's maximum "
		"context length is 10 tokens "
		"(context_length_exceeded)|ovf=1"));
	free(got);
	/* Reasoning deltas and a malformed chunk. */
	got = run_stream(PROVIDER_OPENAI_CHAT,
		OAI("{\"reasoning_content\":\"think\"}") "data: {\"choices\": [tru\n\n",
		0, &rc);
	assert_int_equal(rc, 1);
	assert_non_null(strstr(got, "thinking=think|"));
	assert_non_null(strstr(got, "failed=1|err=invalid JSON in stream"));
	free(got);
}

/* Found by fuzz_provider_stream: invalid UTF-8 inside a chunk's strings
 * was passed on (and so into events and the session log). */
static void
test_openai_stream_bad_utf8(void **state)
{
	char *got;
	int rc;

	got = run_stream(PROVIDER_OPENAI_CHAT,
		OAI("{\"content\":\"ok\"}") OAI("{\"content\":\"a\xff\"}")
			OAI("{\"content\":\"never\"}"),
		0, &rc);
	assert_int_equal(rc, 1);
	assert_non_null(strstr(got, "text=ok|"));
	assert_non_null(strstr(got, "failed=1|err=invalid JSON in stream"));
	free(got);
	/* An overlong '/' is refused the same way. */
	got = run_stream(PROVIDER_OPENAI_CHAT,
		OAI("{\"content\":\"\xc0\xaf\"}"), 0, &rc);
	assert_int_equal(rc, 1);
	assert_non_null(strstr(got, "text=(null)|"));
	free(got);
}

#define ANT(ev, x) "event: " ev "\ndata: " x "\n\n"

static const char anthropic_full[] = ANT("message_start",
	"{\"type\":\"message_start\",\"message\":{"
	"\"id\":\"msg_1\",\"usage\":{\"input_tokens\":25,"
	"\"cache_read_input_tokens\":5,\"output_tokens\":1}}}") ANT("content_block_start",
	"{\"type\":\"content_block_start\","
	"\"index\":0,\"content_block\":{\"type\":"
	"\"thinking\",\"thinking\":\"\"}}") ANT("content_block_delta",
	"{\"type\":\"content_block_delta\","
	"\"index\":0,\"delta\":{\"type\":"
	"\"thinking_delta\",\"thinking\":\"Hmm, \"}}") ANT("content_block_delta",
	"{\"type\":\"content_block_delta\","
	"\"index\":0,\"delta\":{\"type\":"
	"\"thinking_delta\",\"thinking\":\"files.\"}}") ANT("content_block_delta",
	"{\"type\":\"content_block_delta\","
	"\"index\":0,\"delta\":{\"type\":"
	"\"signature_delta\",\"signature\":\"SIG1\"}}") ANT("content_block_stop",
	"{\"type\":\"content_block_stop\","
	"\"index\":0}") ANT("ping",
	"{\"type\":\"ping\"}") ANT("content_block_start",
	"{\"type\":\"content_block_start\","
	"\"index\":1,\"content_block\":{\"type\":"
	"\"text\",\"text\":\"\"}}") ANT("content_block_delta",
	"{\"type\":\"content_block_delta\","
	"\"index\":1,\"delta\":{\"type\":"
	"\"text_delta\",\"text\":\"Listing\"}}") ANT("content_block_stop",
	"{\"type\":\"content_block_stop\","
	"\"index\":1}") ANT("content_block_start",
	"{\"type\":\"content_block_start\","
	"\"index\":2,\"content_block\":{\"type\":"
	"\"tool_use\",\"id\":\"toolu_1\",\"name\":"
	"\"bash\",\"input\":{}}}") ANT("content_block_delta",
	"{\"type\":\"content_block_delta\","
	"\"index\":2,\"delta\":{\"type\":"
	"\"input_json_delta\",\"partial_json\":\"\"}}")
	ANT("content_block_delta",
		"{\"type\":\"content_block_delta\","
		"\"index\":2,\"delta\":{\"type\":"
		"\"input_json_delta\",\"partial_json\":"
		"\"{\\\"command\\\": \\\"l\"}}") ANT("content_block_delta",
		"{\"type\":\"content_block_delta\","
		"\"index\":2,\"delta\":{\"type\":"
		"\"input_json_delta\",\"partial_json\":"
		"\"s\\\"}\"}}") ANT("content_block_stop",
		"{\"type\":\"content_block_stop\","
		"\"index\":2}") ANT("message_delta",
		"{\"type\":\"message_delta\",\"delta\":{"
		"\"stop_reason\":\"tool_use\"},\"usage\":{"
		"\"output_tokens\":42}}")
		ANT("message_stop", "{\"type\":\"message_stop\"}");

static void
test_anthropic_stream(void **state)
{
	check_stream(PROVIDER_ANTHROPIC, anthropic_full,
		"text=Listing|thinking=Hmm, files.|sig=SIG1|"
		"calls=[toolu_1 bash {\"command\": \"ls\"}]|stop=tool_use|"
		"in=30|out=42|cache=5|fin=1|failed=0|err=(null)|ovf=0|"
		"cb_text=Listing|cb_thinking=Hmm, files.|starts=toolu_1=bash;");
}

static void
test_anthropic_stream_cut(void **state)
{
	/* Everything up to the middle of the tool's arguments. */
	const char *end = strstr(anthropic_full, "\"s\\\"}\"}}");
	char *s = strndup(anthropic_full, (size_t)(end - anthropic_full));

	check_stream(PROVIDER_ANTHROPIC, s,
		"text=Listing|thinking=Hmm, files.|sig=SIG1|calls=|"
		"stop=(null)|in=30|out=1|cache=5|fin=0|failed=0|err=(null)|"
		"ovf=0|cb_text=Listing|cb_thinking=Hmm, files.|"
		"starts=toolu_1=bash;");
	free(s);
}

static void
test_anthropic_stream_error(void **state)
{
	char *got;
	int rc;

	got = run_stream(PROVIDER_ANTHROPIC,
		ANT("message_start",
			"{\"type\":\"message_start\",\"message\":"
			"{\"usage\":{\"input_tokens\":3}}}") ANT("content_block_start",
			"{\"type\":\"content_block_start\","
			"\"index\":0,\"content_block\":{"
			"\"type\":\"text\",\"text\":\"\"}}")
			ANT("content_block_delta",
				"{\"type\":\"content_block_delta\","
				"\"index\":0,\"delta\":{\"type\":"
				"\"text_delta\",\"text\":\"Hi\"}}") ANT("error",
				"{\"type\":\"error\",\"error\":{\"type\":"
				"\"overloaded_error\",\"message\":\"Overloaded\"}}")
				ANT("message_stop",
					"{\"type\":\"message_stop\"}"),
		7, &rc);
	assert_int_equal(rc, 1);
	assert_non_null(strstr(got, "text=Hi|"));
	assert_non_null(strstr(got,
		"fin=0|failed=1|err=Overloaded "
		"(overloaded_error)|ovf=0"));
	free(got);
}

/*
 * Found by fuzz_provider_stream: a second tool_use start for a block
 * whose first start had no name leaked the first id, and huge usage
 * counts overflowed the input token sum.
 */
static void
test_anthropic_stream_hostile(void **state)
{
	char *got;
	int rc;

	got = run_stream(PROVIDER_ANTHROPIC,
		ANT("message_start",
			"{\"type\":\"message_start\",\"message\":{\"usage\":"
			"{\"input_tokens\":9223372036854775807,"
			"\"cache_read_input_tokens\":9223372036854775807,"
			"\"cache_creation_input_tokens\":-5}}}")
			ANT("content_block_start",
				"{\"type\":\"content_block_start\","
				"\"index\":0,\"content_block\":{\"type\":"
				"\"tool_use\",\"id\":\"toolu_a\"}}")
				ANT("content_block_start",
					"{\"type\":\"content_block_start\","
					"\"index\":0,\"content_block\":{"
					"\"type\":\"tool_use\",\"id\":"
					"\"toolu_b\",\"name\":\"read\"}}")
					ANT("message_stop",
						"{\"type\":\"message_stop\"}"),
		9, &rc);
	assert_int_equal(rc, 1);
	assert_non_null(strstr(got, "calls=[toolu_a read {}]|"));
	assert_non_null(strstr(got, "|in=9223372036854775807|"));
	free(got);
}

static void
test_error_bodies(void **state)
{
	bool ovf;
	char *m;
	const char *oai = "{\"error\":{\"message\":\"This model's maximum "
			  "context length is 8 tokens.\",\"type\":"
			  "\"invalid_request_error\",\"param\":\"messages\","
			  "\"code\":\"context_length_exceeded\"}}";
	const char *ant = "{\"type\":\"error\",\"error\":{\"type\":"
			  "\"invalid_request_error\",\"message\":\"prompt is "
			  "too long: 210000 tokens > 200000 maximum\"}}";
	const char *over = "{\"type\":\"error\",\"error\":{\"type\":"
			   "\"overloaded_error\",\"message\":\"Overloaded\"}}";

	m = provider_openai_error(oai, strlen(oai), &ovf);
	assert_true(ovf);
	assert_string_equal(m,
		"This model's maximum context length is 8 "
		"tokens. (context_length_exceeded)");
	free(m);
	m = provider_anthropic_error(ant, strlen(ant), &ovf);
	assert_true(ovf);
	assert_non_null(strstr(m, "prompt is too long"));
	free(m);
	m = provider_anthropic_error(over, strlen(over), &ovf);
	assert_false(ovf);
	assert_string_equal(m, "Overloaded (overloaded_error)");
	free(m);
	m = provider_openai_error("<html>bad gateway</html>", 24, &ovf);
	assert_null(m);
	assert_false(ovf);
}

static void
test_config_parse(void **state)
{
	struct provider_config pc;
	struct json_object *o;
	char *err = NULL;

	o = must_parse("{\"provider\":\"anthropic\",\"base_url\":"
		       "\"http://h:1//\",\"model\":\"c\",\"api_key\":\"k\"}");
	assert_int_equal(provider_config_from_json(o, &pc, &err), 0);
	assert_int_equal(pc.scheme, PROVIDER_ANTHROPIC);
	assert_string_equal(pc.base_url, "http://h:1");
	assert_string_equal(pc.api_key, "k");
	assert_int_equal(pc.context_window, 128000);
	assert_int_equal(pc.max_tokens, 8192);
	assert_int_equal(pc.max_attempts, 5);
	assert_int_equal(pc.timeout_s, 300);
	assert_int_equal(pc.retry_base_ms, 500);
	assert_string_equal(provider_scheme_name(pc.scheme), "anthropic");
	provider_config_clear(&pc);
	json_object_put(o);

	o = must_parse("{\"provider\":\"x\",\"scheme\":\"openai_chat\","
		       "\"base_url\":\"https://a/v1\",\"model\":\"g\","
		       "\"api_key\":null,\"context_window\":2000,"
		       "\"max_tokens\":10,\"max_attempts\":2}");
	assert_int_equal(provider_config_from_json(o, &pc, &err), 0);
	assert_int_equal(pc.scheme, PROVIDER_OPENAI_CHAT);
	assert_null(pc.api_key);
	assert_string_equal(pc.name, "x");
	assert_int_equal(pc.context_window, 2000);
	assert_int_equal(pc.max_attempts, 2);
	provider_config_clear(&pc);
	json_object_put(o);

	o = must_parse("{\"scheme\":\"gemini\",\"model\":\"g\"}");
	assert_int_equal(provider_config_from_json(o, &pc, &err), -EINVAL);
	assert_non_null(strstr(err, "scheme"));
	free(err);
	json_object_put(o);
	o = must_parse("{\"scheme\":\"anthropic\"}");
	assert_int_equal(provider_config_from_json(o, &pc, &err), -EINVAL);
	assert_non_null(strstr(err, "model.model"));
	free(err);
	json_object_put(o);
	o = must_parse("{\"model\":\"g\",\"max_attempts\":\"5\"}");
	assert_int_equal(provider_config_from_json(o, &pc, &err), -EINVAL);
	assert_non_null(strstr(err, "max_attempts"));
	free(err);
	json_object_put(o);
	o = must_parse("{\"model\":\"g\",\"base_url\":\"file:///etc\"}");
	assert_int_equal(provider_config_from_json(o, &pc, &err), -EINVAL);
	free(err);
	json_object_put(o);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_openai_body),
		cmocka_unit_test(test_openai_body_repair),
		cmocka_unit_test(test_anthropic_body),
		cmocka_unit_test(test_anthropic_body_thinking),
		cmocka_unit_test(test_anthropic_body_cache),
		cmocka_unit_test(test_openai_body_cache_key),
		cmocka_unit_test(test_item_text),
		cmocka_unit_test(test_headers),
		cmocka_unit_test(test_openai_stream_tools),
		cmocka_unit_test(test_openai_stream_cut),
		cmocka_unit_test(test_openai_stream_error),
		cmocka_unit_test(test_openai_stream_bad_utf8),
		cmocka_unit_test(test_anthropic_stream),
		cmocka_unit_test(test_anthropic_stream_cut),
		cmocka_unit_test(test_anthropic_stream_error),
		cmocka_unit_test(test_anthropic_stream_hostile),
		cmocka_unit_test(test_error_bodies),
		cmocka_unit_test(test_config_parse),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
