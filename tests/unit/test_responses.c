/* SPDX-License-Identifier: ISC */
/*
 * The openai_responses scheme (worker/provider_responses.c): real
 * recorded Responses streams (tests/fixtures/responses, sources in its
 * README) replayed whole, byte by byte and in random pieces; the request
 * body built from what they produced (encrypted reasoning and call ids
 * sent back byte for byte); errors, overflow, config.
 *
 *   test_responses FIXTURES_DIR
 */
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

static const char *fixtures = "tests/fixtures/responses";

/* ---- helpers ---- */

struct sbuf {
	char *p;
	size_t len;
};

static void
sbuf_add(struct sbuf *b, const char *s, size_t len)
{
	b->p = realloc(b->p, b->len + len + 1);
	if (b->p == NULL)
		abort();
	memcpy(b->p + b->len, s, len);
	b->len += len;
	b->p[b->len] = '\0';
}

static void
sbuf_str(struct sbuf *b, const char *s)
{
	sbuf_add(b, s, strlen(s));
}

static struct json_object *
must_parse(const char *s)
{
	struct json_object *obj = json_tokener_parse(s);

	if (obj == NULL)
		fail_msg("bad JSON in test: %.200s", s);
	return obj;
}

/* A fixture's recorded events as the wire carries them. */
static char *
fixture_sse(const char *name, bool crlf)
{
	struct sbuf b = { 0 };
	struct json_object *o, *t;
	char path[4096], *line = NULL;
	size_t cap = 0;
	ssize_t n;
	FILE *f;

	snprintf(path, sizeof(path), "%s/%s", fixtures, name);
	if ((f = fopen(path, "re")) == NULL)
		fail_msg("cannot open %s", path);
	while ((n = getline(&line, &cap, f)) > 0) {
		while (n > 0 && (line[n - 1] == '\n' || line[n - 1] == '\r'))
			line[--n] = '\0';
		if (n == 0)
			continue;
		o = must_parse(line);
		if (!json_object_object_get_ex(o, "type", &t))
			fail_msg("%s: an event without a type", path);
		sbuf_str(&b, "event: ");
		sbuf_str(&b, json_object_get_string(t));
		sbuf_str(&b, crlf ? "\r\ndata: " : "\ndata: ");
		sbuf_add(&b, line, (size_t)n);
		sbuf_str(&b, crlf ? "\r\n\r\n" : "\n\n");
		json_object_put(o);
	}
	free(line);
	fclose(f);
	return b.p;
}

struct rec {
	struct sbuf text;
	struct sbuf thinking;
	struct sbuf starts;
};

static void
rec_text(void *arg, const char *s, size_t len)
{
	sbuf_add(&((struct rec *)arg)->text, s, len);
}

static void
rec_thinking(void *arg, const char *s, size_t len)
{
	sbuf_add(&((struct rec *)arg)->thinking, s, len);
}

static void
rec_start(void *arg, const char *id, const char *name)
{
	struct rec *r = arg;

	sbuf_str(&r->starts, id);
	sbuf_str(&r->starts, "=");
	sbuf_str(&r->starts, name);
	sbuf_str(&r->starts, ";");
}

static const struct llm_stream_cb rec_cb = { rec_text, rec_thinking, rec_start,
	NULL, NULL };

/* Everything a stream produced, as one string to compare chunkings. */
static char *
summarize(struct provider_stream *ps, const struct rec *r)
{
	struct llm_result res;
	struct sbuf s = { 0 };
	char num[128];
	size_t i;

	provider_stream_result(ps, &res);
	sbuf_str(&s, "text=");
	sbuf_str(&s, res.text ? res.text : "(null)");
	sbuf_str(&s, "|thinking=");
	sbuf_str(&s, res.thinking ? res.thinking : "(null)");
	sbuf_str(&s, "|calls=");
	for (i = 0; i < res.ntool_calls; i++) {
		sbuf_str(&s, "[");
		sbuf_str(&s, res.tool_calls[i].id);
		sbuf_str(&s, " ");
		sbuf_str(&s, res.tool_calls[i].name);
		sbuf_str(&s, " ");
		sbuf_str(&s, res.tool_calls[i].arguments);
		sbuf_str(&s, "]");
	}
	sbuf_str(&s, "|stop=");
	sbuf_str(&s, res.stop_reason ? res.stop_reason : "(null)");
	snprintf(num, sizeof(num),
		"|in=%lld|out=%lld|cache=%lld|reasoning=%lld|fin=%d|"
		"failed=%d|ovf=%d",
		(long long)res.usage.input_tokens,
		(long long)res.usage.output_tokens,
		(long long)res.usage.cache_read_tokens,
		(long long)res.usage.reasoning_tokens, ps->finished, ps->failed,
		ps->overflow);
	sbuf_str(&s, num);
	sbuf_str(&s, "|err=");
	sbuf_str(&s, ps->error ? ps->error : "(null)");
	sbuf_str(&s, "|id=");
	sbuf_str(&s, res.response_id ? res.response_id : "(null)");
	sbuf_str(&s, "|items=");
	sbuf_str(&s,
		res.items != NULL ? json_object_to_json_string_ext(
					    res.items, JSON_C_TO_STRING_PLAIN)
				  : "(null)");
	sbuf_str(&s, "|cb_text=");
	sbuf_str(&s, r->text.p ? r->text.p : "");
	sbuf_str(&s, "|cb_thinking=");
	sbuf_str(&s, r->thinking.p ? r->thinking.p : "");
	sbuf_str(&s, "|starts=");
	sbuf_str(&s, r->starts.p ? r->starts.p : "");
	return s.p;
}

static void
rec_free(struct rec *r)
{
	free(r->text.p);
	free(r->thinking.p);
	free(r->starts.p);
	memset(r, 0, sizeof(*r));
}

/* Feed s in pieces of piece bytes (0: random 1..64 from seed). */
static char *
run(const char *s, size_t piece, unsigned seed, int *ret_rc)
{
	struct provider_stream ps;
	struct rec r = { 0 };
	size_t off = 0, len = strlen(s), n;
	char *out;
	int rc = 0;

	srandom(seed);
	provider_stream_init(&ps, PROVIDER_OPENAI_RESPONSES, &rec_cb, &r);
	while (off < len && rc == 0) {
		n = piece > 0 ? piece : 1 + (size_t)(random() % 64);
		if (n > len - off)
			n = len - off;
		rc = provider_stream_feed(&ps, s + off, n);
		off += n;
	}
	if (ret_rc != NULL)
		*ret_rc = rc;
	out = summarize(&ps, &r);
	provider_stream_clear(&ps);
	rec_free(&r);
	return out;
}

/* The fixture's result: the same whole, byte by byte, in random pieces
 * and with CRLF line ends.  Returns the whole-stream summary. */
static char *
replay(const char *name)
{
	char *sse = fixture_sse(name, false), *crlf = fixture_sse(name, true);
	char *want, *got;
	unsigned seed;
	int rc;

	want = run(sse, strlen(sse), 0, &rc);
	assert_int_equal(rc, 1); /* the terminal event ends the stream */
	got = run(sse, 1, 0, NULL);
	if (strcmp(got, want) != 0)
		fail_msg("%s byte by byte:\n got  %s\n want %s", name, got,
			want);
	free(got);
	for (seed = 1; seed <= 20; seed++) {
		got = run(sse, 0, seed, NULL);
		if (strcmp(got, want) != 0)
			fail_msg("%s random pieces (seed %u):\n got  %s\n "
				 "want %s",
				name, seed, got, want);
		free(got);
	}
	got = run(crlf, 7, 0, NULL);
	if (strcmp(got, want) != 0)
		fail_msg("%s CRLF:\n got  %s\n want %s", name, got, want);
	free(got);
	free(sse);
	free(crlf);
	return want;
}

static void
assert_contains(const char *hay, const char *needle)
{
	if (strstr(hay, needle) == NULL)
		fail_msg("%s\n  not in\n%s", needle, hay);
}

/* The one parsed result of a fixture, for the body tests. */
struct parsed {
	struct provider_stream ps;
	struct rec r;
	struct llm_result res;
};

static void
parse_fixture(const char *name, struct parsed *p)
{
	char *sse = fixture_sse(name, false);

	memset(p, 0, sizeof(*p));
	provider_stream_init(&p->ps, PROVIDER_OPENAI_RESPONSES, &rec_cb, &p->r);
	assert_int_equal(provider_stream_feed(&p->ps, sse, strlen(sse)), 1);
	provider_stream_result(&p->ps, &p->res);
	free(sse);
}

static void
parsed_free(struct parsed *p)
{
	provider_stream_clear(&p->ps);
	rec_free(&p->r);
}

/* The assistant log entry turn_stream.c writes for res. */
static struct json_object *
assistant_entry(const struct llm_result *res)
{
	struct json_object *e = json_object_new_object(), *calls, *c;
	size_t i;

	json_object_object_add(e, "kind", json_object_new_string("assistant"));
	if (res->text != NULL)
		json_object_object_add(
			e, "text", json_object_new_string(res->text));
	if (res->thinking != NULL)
		json_object_object_add(
			e, "thinking", json_object_new_string(res->thinking));
	calls = json_object_new_array();
	for (i = 0; i < res->ntool_calls; i++) {
		c = json_object_new_object();
		json_object_object_add(
			c, "id", json_object_new_string(res->tool_calls[i].id));
		json_object_object_add(c, "name",
			json_object_new_string(res->tool_calls[i].name));
		json_object_object_add(c, "arguments",
			json_object_new_string(res->tool_calls[i].arguments));
		json_object_array_add(calls, c);
	}
	if (res->ntool_calls > 0)
		json_object_object_add(e, "tool_calls", calls);
	else
		json_object_put(calls);
	if (res->items != NULL)
		json_object_object_add(e, "items", json_object_get(res->items));
	if (res->response_id != NULL)
		json_object_object_add(e, "response_id",
			json_object_new_string(res->response_id));
	return e;
}

static struct json_object *
user_entry(const char *text)
{
	char *s;
	struct json_object *o;

	if (asprintf(&s,
		    "{\"kind\":\"user_input\",\"segments\":[{\"kind\":"
		    "\"text\",\"content\":\"%s\"}]}",
		    text) < 0)
		abort();
	o = must_parse(s);
	free(s);
	return o;
}

static struct provider_config
test_config(void)
{
	static char name[] = "oa", url[] = "http://127.0.0.1:1/v1",
		    model[] = "gpt-5.1-codex-max";
	struct provider_config pc = { 0 };

	pc.scheme = PROVIDER_OPENAI_RESPONSES;
	pc.name = name;
	pc.base_url = url;
	pc.model = model;
	pc.max_tokens = 1000;
	return pc;
}

static const struct llm_tool_def calc_tool[] = {
	{ "calculator", "A minimal calculator",
		"{\"type\":\"object\",\"properties\":{\"a\":{\"type\":"
		"\"number\"}}}" },
};

static struct json_object *
body_of(const struct provider_config *pc, struct json_object *entries,
	const char *system, const char *cache_key)
{
	struct llm_request req = { 0 };
	struct json_object *b;
	char *s;

	req.system = system;
	req.entries = entries;
	req.tools = calc_tool;
	req.ntools = 1;
	req.cache_key = cache_key;
	s = provider_responses_body(pc, &req);
	b = must_parse(s);
	free(s);
	return b;
}

static void
assert_member(struct json_object *obj, const char *key, const char *want)
{
	struct json_object *v = NULL, *w = must_parse(want);

	if (!json_object_object_get_ex(obj, key, &v))
		fail_msg("no member %s in %s", key,
			json_object_to_json_string(obj));
	if (!json_object_equal(v, w))
		fail_msg("%s:\n got  %s\n want %s", key,
			json_object_to_json_string_ext(
				v, JSON_C_TO_STRING_PLAIN),
			json_object_to_json_string_ext(
				w, JSON_C_TO_STRING_PLAIN));
	json_object_put(w);
}

/* The fixture's raw line of the given type (and output_index), parsed. */
static struct json_object *
fixture_event(const char *name, const char *type, int output_index)
{
	char path[4096], *line = NULL;
	struct json_object *o, *v, *found = NULL;
	size_t cap = 0;
	FILE *f;

	snprintf(path, sizeof(path), "%s/%s", fixtures, name);
	if ((f = fopen(path, "re")) == NULL)
		fail_msg("cannot open %s", path);
	while (found == NULL && getline(&line, &cap, f) > 0) {
		o = must_parse(line);
		if (json_object_object_get_ex(o, "type", &v) &&
			strcmp(json_object_get_string(v), type) == 0 &&
			(output_index < 0 ||
				(json_object_object_get_ex(
					 o, "output_index", &v) &&
					json_object_get_int(v) ==
						output_index)))
			found = o;
		else
			json_object_put(o);
	}
	free(line);
	fclose(f);
	if (found == NULL)
		fail_msg("%s: no %s", name, type);
	return found;
}

/* ---- streams ---- */

static void
test_reasoning_function_call(void **state)
{
	char *got = replay("reasoning_function_call.jsonl");

	assert_contains(got,
		"|thinking=**Calculating step-by-step using calculator**\n\n"
		"I'll compute 12 plus 7, then multiply the result by 3, and "
		"finally multiply that by 10, reporting the final product.|");
	assert_contains(got,
		"|calls=[call_AB6AaRZ1FYZB2RwS6A5vbdqn calculator "
		"{\"a\":12,\"b\":7,\"op\":\"add\"}]|stop=tool_use|in=134|"
		"out=28|cache=0|reasoning=0|fin=1|failed=0|ovf=0|");
	assert_contains(got, "text=(null)|");
	assert_contains(got,
		"|id=resp_01830d662ab3856501693c321345c88190b0de00f3b9975691|");
	assert_contains(
		got, "|starts=call_AB6AaRZ1FYZB2RwS6A5vbdqn=calculator;");
	/* The done item's encrypted_content (not the added one's). */
	assert_contains(got, "\"encrypted_content\":\"gAAAAABpPDIVOKrs");
	assert_null(strstr(got, "gAAAAABpPDIUph8c"));
	free(got);
}

static void
test_two_messages(void **state)
{
	char *got = replay("two_messages.jsonl");

	assert_contains(got,
		"text=I'm going to search for that\n\nThe capital of France "
		"is Paris.|thinking=(null)|calls=|stop=end_turn|in=50|"
		"out=100|cache=0|reasoning=20|fin=1|failed=0|");
	assert_contains(got,
		"|cb_text=I'm going to search for that\n\nThe capital of "
		"France is Paris.|");
	/* Both items, in order, phase and all. */
	assert_contains(got,
		"|items=[{\"id\":\"msg_phase_commentary\",\"type\":"
		"\"message\",\"status\":\"completed\",\"content\":[{\"type\":"
		"\"output_text\",\"annotations\":[],\"text\":\"I'm going to "
		"search for that\"}],\"role\":\"assistant\",\"phase\":"
		"\"commentary\"},{\"id\":\"msg_phase_final\"");
	free(got);
}

static void
test_error_then_failed(void **state)
{
	char *got = replay("error_failed.jsonl");

	assert_contains(got,
		"|fin=0|failed=1|ovf=0|err=You exceeded your "
		"current quota");
	assert_contains(got, "(insufficient_quota)|");
	free(got);
	got = replay("failed.jsonl");
	assert_contains(got,
		"|failed=1|ovf=0|err=Request too large for gpt-4o-mini in "
		"organization on tokens per min (TPM): Limit 30000, "
		"Requested 35364. (rate_limit_exceeded)|");
	free(got);
}

static void
test_incomplete(void **state)
{
	char *got = replay("incomplete.jsonl");

	/* No deltas streamed: the terminal response's output is used. */
	assert_contains(got,
		"text=Rivers are vital components of Earth's hydrological "
		"system, serving as lifelines for|thinking=(null)|calls=|"
		"stop=max_tokens|in=16|out=16|cache=0|reasoning=0|fin=1|"
		"failed=0|");
	free(got);
}

static void
test_overflow_and_errors(void **state)
{
	static const char failed[] =
		"event: response.created\n"
		"data: {\"type\":\"response.created\",\"response\":{\"id\":"
		"\"resp_1\"}}\n\n"
		"event: response.failed\n"
		"data: {\"type\":\"response.failed\",\"response\":{\"id\":"
		"\"resp_1\",\"status\":\"failed\",\"error\":{\"code\":"
		"\"context_length_exceeded\",\"message\":\"Your input exceeds "
		"the context window of this model. Please adjust your input "
		"and try again.\"}}}\n\n";
	static const char top_error[] =
		"event: error\n"
		"data: {\"type\":\"error\",\"code\":\"server_error\",\"message\":"
		"\"boom\",\"param\":null,\"sequence_number\":1}\n\n";
	static const char body[] =
		"{\"error\":{\"message\":\"Your input exceeds the context "
		"window of this model. Please adjust your input and try "
		"again.\",\"type\":\"invalid_request_error\",\"param\":"
		"\"input\",\"code\":\"context_length_exceeded\"}}";
	char *got, *m;
	bool ovf;

	got = run(failed, 3, 0, NULL);
	assert_contains(got, "|failed=1|ovf=1|err=Your input exceeds");
	free(got);
	got = run(top_error, 1, 0, NULL);
	assert_contains(got, "|failed=1|ovf=0|err=boom (server_error)|");
	free(got);
	m = provider_responses_error(body, strlen(body), &ovf);
	assert_true(ovf);
	assert_non_null(strstr(m, "context_length_exceeded"));
	free(m);
	got = run("data: {\"type\":\"response.output_text.delta\",\"delta\""
		  ":tru\n\n",
		1, 0, NULL);
	assert_contains(got, "|failed=1|ovf=0|err=invalid JSON in stream|");
	free(got);
}

/* ---- what goes back ---- */

static void
test_body_round_trip(void **state)
{
	struct provider_config pc = test_config();
	struct parsed p;
	struct json_object *entries, *b, *input, *it, *done, *want;
	char *tr;

	parse_fixture("reasoning_function_call.jsonl", &p);
	entries = json_object_new_array();
	json_object_array_add(entries, user_entry("compute it"));
	json_object_array_add(entries,
		must_parse("{\"kind\":\"usage\",\"input_tokens\":134,"
			   "\"output_tokens\":28}"));
	json_object_array_add(entries, assistant_entry(&p.res));
	if (asprintf(&tr,
		    "{\"kind\":\"tool_result\",\"id\":\"%s\",\"summary\":"
		    "\"19\",\"output\":\"19\",\"is_error\":false}",
		    p.res.tool_calls[0].id) < 0)
		abort();
	json_object_array_add(entries, must_parse(tr));
	free(tr);
	/* Through the session log's text form, as a restore reads it. */
	tr = strdup(json_object_to_json_string_ext(
		entries, JSON_C_TO_STRING_PLAIN));
	json_object_put(entries);
	entries = must_parse(tr);
	free(tr);
	static char effort[] = "high", summary[] = "detailed";

	pc.reasoning_effort = effort;
	pc.reasoning_summary = summary;
	b = body_of(&pc, entries, "SYS", "pod-1");
	assert_member(b, "model", "\"gpt-5.1-codex-max\"");
	assert_member(b, "stream", "true");
	assert_member(b, "store", "false");
	assert_member(b, "include", "[\"reasoning.encrypted_content\"]");
	assert_member(b, "instructions", "\"SYS\"");
	assert_member(b, "max_output_tokens", "1000");
	assert_member(b, "reasoning",
		"{\"effort\":\"high\",\"summary\":"
		"\"detailed\"}");
	assert_member(b, "prompt_cache_key", "\"pod-1\"");
	assert_member(b, "tools",
		"[{\"type\":\"function\",\"name\":\"calculator\","
		"\"description\":\"A minimal calculator\",\"parameters\":"
		"{\"type\":\"object\",\"properties\":{\"a\":{\"type\":"
		"\"number\"}}}}]");
	assert_false(
		json_object_object_get_ex(b, "previous_response_id", NULL));
	json_object_object_get_ex(b, "input", &input);
	assert_int_equal(json_object_array_length(input), 4);
	assert_member(json_object_array_get_idx(input, 0), "content",
		"[{\"type\":\"input_text\",\"text\":\"compute it\"}]");
	/* The reasoning item exactly as output_item.done carried it. */
	done = fixture_event("reasoning_function_call.jsonl",
		"response.output_item.done", 0);
	json_object_object_get_ex(done, "item", &want);
	it = json_object_array_get_idx(input, 1);
	if (!json_object_equal(it, want))
		fail_msg("reasoning item:\n got  %s\n want %s",
			json_object_to_json_string(it),
			json_object_to_json_string(want));
	assert_string_equal(json_object_get_string(json_object_object_get(
				    it, "encrypted_content")),
		json_object_get_string(
			json_object_object_get(want, "encrypted_content")));
	json_object_put(done);
	assert_member(json_object_array_get_idx(input, 2), "call_id",
		"\"call_AB6AaRZ1FYZB2RwS6A5vbdqn\"");
	assert_member(json_object_array_get_idx(input, 2), "type",
		"\"function_call\"");
	assert_member(json_object_array_get_idx(input, 2), "arguments",
		"\"{\\\"a\\\":12,\\\"b\\\":7,\\\"op\\\":\\\"add\\\"}\"");
	assert_false(json_object_object_get_ex(
		json_object_array_get_idx(input, 2), "id", NULL));
	assert_member(json_object_array_get_idx(input, 3), "type",
		"\"function_call_output\"");
	assert_member(json_object_array_get_idx(input, 3), "call_id",
		"\"call_AB6AaRZ1FYZB2RwS6A5vbdqn\"");
	assert_member(json_object_array_get_idx(input, 3), "output", "\"19\"");
	json_object_put(b);

	/* store + previous_response_id: only what came after is sent. */
	pc.store = true;
	pc.previous_response_id = true;
	b = body_of(&pc, entries, "SYS", NULL);
	assert_member(b, "store", "true");
	assert_false(json_object_object_get_ex(b, "include", NULL));
	assert_member(b, "previous_response_id",
		"\"resp_01830d662ab3856501693c321345c88190b0de00f3b9975691\"");
	assert_member(b, "input",
		"[{\"type\":\"function_call_output\",\"call_id\":"
		"\"call_AB6AaRZ1FYZB2RwS6A5vbdqn\",\"output\":\"19\"}]");
	assert_false(json_object_object_get_ex(b, "prompt_cache_key", NULL));
	json_object_put(b);
	/* A compaction's copy (no usage before it) is no base: all is sent. */
	json_object_array_del_idx(entries, 1, 1);
	b = body_of(&pc, entries, "SYS", NULL);
	assert_false(
		json_object_object_get_ex(b, "previous_response_id", NULL));
	json_object_object_get_ex(b, "input", &input);
	assert_int_equal(json_object_array_length(input), 4);
	json_object_put(b);
	json_object_put(entries);
	parsed_free(&p);
}

static void
test_body_two_messages_and_pairing(void **state)
{
	struct provider_config pc = test_config();
	struct parsed p;
	struct json_object *entries, *b;

	parse_fixture("two_messages.jsonl", &p);
	entries = json_object_new_array();
	json_object_array_add(entries, user_entry("capital?"));
	json_object_array_add(entries, assistant_entry(&p.res));
	json_object_array_add(entries, user_entry("thanks"));
	/* From another scheme: a call never answered, a stray result. */
	json_object_array_add(entries,
		must_parse("{\"kind\":\"assistant\",\"text\":\"look\","
			   "\"tool_calls\":[{\"id\":\"c9\",\"name\":\"read\","
			   "\"arguments\":\"{}\"}]}"));
	json_object_array_add(entries,
		must_parse("{\"kind\":\"system_item\",\"item\":{\"type\":"
			   "\"notification\",\"message\":\"hi\"}}"));
	json_object_array_add(entries,
		must_parse("{\"kind\":\"tool_result\",\"id\":\"zz\","
			   "\"output\":\"x\"}"));
	b = body_of(&pc, entries, NULL, NULL);
	assert_false(json_object_object_get_ex(b, "instructions", NULL));
	assert_member(b, "input",
		"[{\"type\":\"message\",\"role\":\"user\",\"content\":"
		"[{\"type\":\"input_text\",\"text\":\"capital?\"}]},"
		"{\"type\":\"message\",\"role\":\"assistant\",\"content\":"
		"[{\"type\":\"output_text\",\"annotations\":[],\"text\":"
		"\"I'm going to search for that\"}]},"
		"{\"type\":\"message\",\"role\":\"assistant\",\"content\":"
		"[{\"type\":\"output_text\",\"annotations\":[],\"text\":"
		"\"The capital of France is Paris.\"}]},"
		"{\"type\":\"message\",\"role\":\"user\",\"content\":"
		"[{\"type\":\"input_text\",\"text\":\"thanks\"}]},"
		"{\"type\":\"message\",\"role\":\"assistant\",\"content\":"
		"[{\"type\":\"output_text\",\"text\":\"look\"}]},"
		"{\"type\":\"function_call\",\"call_id\":\"c9\",\"name\":"
		"\"read\",\"arguments\":\"{}\"},"
		"{\"type\":\"function_call_output\",\"call_id\":\"c9\","
		"\"output\":\"Error: no result (the tool call was "
		"interrupted)\"},"
		"{\"type\":\"message\",\"role\":\"user\",\"content\":"
		"[{\"type\":\"input_text\",\"text\":\"[notification] hi\"}]}]");
	json_object_put(b);
	json_object_put(entries);
	parsed_free(&p);
}

static void
test_config_keys(void **state)
{
	struct provider_config pc;
	struct json_object *o;
	char *err = NULL;

	o = must_parse("{\"scheme\":\"openai_responses\",\"model\":\"g\","
		       "\"reasoning_effort\":\"low\",\"reasoning_summary\":"
		       "\"auto\",\"store\":true,\"previous_response_id\":"
		       "true}");
	assert_int_equal(provider_config_from_json(o, &pc, &err), 0);
	assert_int_equal(pc.scheme, PROVIDER_OPENAI_RESPONSES);
	assert_string_equal(
		provider_scheme_name(pc.scheme), "openai_responses");
	assert_string_equal(pc.base_url, "https://api.openai.com/v1");
	assert_string_equal(pc.reasoning_effort, "low");
	assert_string_equal(pc.reasoning_summary, "auto");
	assert_true(pc.store);
	assert_true(pc.previous_response_id);
	provider_config_clear(&pc);
	json_object_put(o);

	o = must_parse("{\"scheme\":\"openai_responses\",\"model\":\"g\"}");
	assert_int_equal(provider_config_from_json(o, &pc, &err), 0);
	assert_null(pc.reasoning_effort);
	assert_false(pc.store);
	provider_config_clear(&pc);
	json_object_put(o);

	o = must_parse("{\"scheme\":\"openai_responses\",\"model\":\"g\","
		       "\"reasoning_effort\":\"max\"}");
	assert_int_equal(provider_config_from_json(o, &pc, &err), -EINVAL);
	assert_contains(err,
		"model.reasoning_effort must be one of none, "
		"minimal, low, medium, high, xhigh");
	free(err);
	json_object_put(o);
	o = must_parse("{\"scheme\":\"openai_responses\",\"model\":\"g\","
		       "\"previous_response_id\":true}");
	assert_int_equal(provider_config_from_json(o, &pc, &err), -EINVAL);
	assert_contains(err, "needs model.store true");
	free(err);
	json_object_put(o);
	o = must_parse("{\"scheme\":\"openai_responses\",\"model\":\"g\","
		       "\"store\":\"yes\"}");
	assert_int_equal(provider_config_from_json(o, &pc, &err), -EINVAL);
	assert_contains(err, "model.store must be true or false");
	free(err);
	json_object_put(o);
}

int
main(int argc, char **argv)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_reasoning_function_call),
		cmocka_unit_test(test_two_messages),
		cmocka_unit_test(test_error_then_failed),
		cmocka_unit_test(test_incomplete),
		cmocka_unit_test(test_overflow_and_errors),
		cmocka_unit_test(test_body_round_trip),
		cmocka_unit_test(test_body_two_messages_and_pairing),
		cmocka_unit_test(test_config_keys),
	};

	if (argc > 1)
		fixtures = argv[1];
	return cmocka_run_group_tests(tests, NULL, NULL);
}
