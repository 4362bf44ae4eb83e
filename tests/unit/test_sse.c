/* SPDX-License-Identifier: ISC */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "worker/sse.h"

/* Every event as "name|data" plus a 0x1e separator, in one string. */
struct collect {
	char *s;
	size_t len;
	int stop_at; /* return 7 from this event (1-based), 0: never */
	int n;
};

static void
collect_add(struct collect *c, const char *p, size_t len)
{
	c->s = realloc(c->s, c->len + len + 1);
	assert_non_null(c->s);
	memcpy(c->s + c->len, p, len);
	c->len += len;
	c->s[c->len] = '\0';
}

static int
collect_cb(void *arg, const char *event, const char *data, size_t len)
{
	struct collect *c = arg;

	collect_add(c, event, strlen(event));
	collect_add(c, "|", 1);
	collect_add(c, data, len);
	collect_add(c, "\x1e", 1);
	c->n++;
	return c->stop_at == c->n ? 7 : 0;
}

/* Parse s in pieces cut at the given positions; return the events. */
static char *
parse_split(const char *s, size_t len, const size_t *cuts, size_t ncuts,
	size_t max, int *ret)
{
	struct collect c = { 0 };
	struct sse *sse = sse_new(max, collect_cb, &c);
	size_t i, at = 0;
	int r = 0;

	for (i = 0; i <= ncuts && r == 0; i++) {
		size_t end = i < ncuts ? cuts[i] : len;
		r = sse_feed(sse, s + at, end - at);
		at = end;
	}
	sse_free(sse);
	if (ret != NULL)
		*ret = r;
	if (c.s == NULL)
		c.s = strdup("");
	return c.s;
}

static char *
parse_all(const char *s, size_t max, int *ret)
{
	return parse_split(s, strlen(s), NULL, 0, max, ret);
}

static char *
parse_bytes(const char *s)
{
	struct collect c = { 0 };
	struct sse *sse = sse_new(0, collect_cb, &c);
	size_t i, len = strlen(s);

	for (i = 0; i < len; i++)
		assert_int_equal(sse_feed(sse, s + i, 1), 0);
	sse_free(sse);
	if (c.s == NULL)
		c.s = strdup("");
	return c.s;
}

/* Replace every "\n" of s by eol. */
static char *
convert_eol(const char *s, const char *eol)
{
	size_t n = 0, el = strlen(eol);
	const char *p;
	char *out, *o;

	for (p = s; *p != '\0'; p++)
		n += *p == '\n' ? el : 1;
	out = o = malloc(n + 1);
	assert_non_null(out);
	for (p = s; *p != '\0'; p++) {
		if (*p == '\n') {
			memcpy(o, eol, el);
			o += el;
		} else
			*o++ = *p;
	}
	*o = '\0';
	return out;
}

static const char openai_stream[] =
	": keep-alive comment\n"
	"\n"
	"data: {\"id\":\"c1\",\"choices\":[{\"index\":0,\"delta\":"
	"{\"role\":\"assistant\",\"content\":\"\"}}]}\n"
	"\n"
	"data: {\"choices\":[{\"index\":0,\"delta\":{\"content\":\"Hel\"}}]}\n"
	"\n"
	"data: {\"choices\":[{\"index\":0,\"delta\":{\"tool_calls\":[{\"index\""
	":0,\"id\":\"call_1\",\"type\":\"function\",\"function\":{\"name\":"
	"\"bash\",\"arguments\":\"{\\\"com\"}}]}}]}\n"
	"\n"
	"data: {\"choices\":[{\"index\":0,\"delta\":{},\"finish_reason\":"
	"\"tool_calls\"}]}\n"
	"\n"
	"data: {\"choices\":[],\"usage\":{\"prompt_tokens\":9}}\n"
	"\n"
	"data: [DONE]\n"
	"\n";

static const char openai_expect[] =
	"message|{\"id\":\"c1\",\"choices\":[{\"index\":0,\"delta\":"
	"{\"role\":\"assistant\",\"content\":\"\"}}]}\x1e"
	"message|{\"choices\":[{\"index\":0,\"delta\":{\"content\":\"Hel\"}}]}"
	"\x1e"
	"message|{\"choices\":[{\"index\":0,\"delta\":{\"tool_calls\":[{\"index\""
	":0,\"id\":\"call_1\",\"type\":\"function\",\"function\":{\"name\":"
	"\"bash\",\"arguments\":\"{\\\"com\"}}]}}]}\x1e"
	"message|{\"choices\":[{\"index\":0,\"delta\":{},\"finish_reason\":"
	"\"tool_calls\"}]}\x1e"
	"message|{\"choices\":[],\"usage\":{\"prompt_tokens\":9}}\x1e"
	"message|[DONE]\x1e";

static const char anthropic_stream[] =
	"event: message_start\n"
	"data: {\"type\":\"message_start\",\"message\":{\"usage\":"
	"{\"input_tokens\":25}}}\n"
	"\n"
	"event: content_block_start\n"
	"data: {\"type\":\"content_block_start\",\"index\":0,"
	"\"content_block\":{\"type\":\"text\",\"text\":\"\"}}\n"
	"\n"
	"event: ping\n"
	"data: {\"type\": \"ping\"}\n"
	"\n"
	"event: content_block_delta\n"
	"data: {\"type\":\"content_block_delta\",\"index\":0,\"delta\":"
	"{\"type\":\"text_delta\",\"text\":\"Hi\"}}\n"
	"\n"
	"event: content_block_stop\n"
	"data: {\"type\":\"content_block_stop\",\"index\":0}\n"
	"\n"
	"event: message_stop\n"
	"data: {\"type\":\"message_stop\"}\n"
	"\n";

static const char anthropic_expect[] =
	"message_start|{\"type\":\"message_start\",\"message\":{\"usage\":"
	"{\"input_tokens\":25}}}\x1e"
	"content_block_start|{\"type\":\"content_block_start\",\"index\":0,"
	"\"content_block\":{\"type\":\"text\",\"text\":\"\"}}\x1e"
	"ping|{\"type\": \"ping\"}\x1e"
	"content_block_delta|{\"type\":\"content_block_delta\",\"index\":0,"
	"\"delta\":{\"type\":\"text_delta\",\"text\":\"Hi\"}}\x1e"
	"content_block_stop|{\"type\":\"content_block_stop\",\"index\":0}\x1e"
	"message_stop|{\"type\":\"message_stop\"}\x1e";

/* Every two-chunk split and one byte at a time give the same events. */
static void
check_all_chunkings(const char *stream, const char *expect)
{
	size_t i, len = strlen(stream);
	char *got;
	int r;

	got = parse_all(stream, 0, &r);
	assert_int_equal(r, 0);
	assert_string_equal(got, expect);
	free(got);
	for (i = 0; i <= len; i++) {
		got = parse_split(stream, len, &i, 1, 0, &r);
		assert_int_equal(r, 0);
		assert_string_equal(got, expect);
		free(got);
	}
	got = parse_bytes(stream);
	assert_string_equal(got, expect);
	free(got);
}

static void
test_openai_chunkings(void **state)
{
	check_all_chunkings(openai_stream, openai_expect);
}

static void
test_anthropic_chunkings(void **state)
{
	check_all_chunkings(anthropic_stream, anthropic_expect);
}

/* CRLF and lone-CR endings, split everywhere (a CR|LF cut included). */
static void
test_line_endings(void **state)
{
	static const char *eols[] = { "\r\n", "\r" };
	const char *streams[] = { openai_stream, anthropic_stream };
	const char *expects[] = { openai_expect, anthropic_expect };
	size_t i, j;
	char *s;

	for (i = 0; i < 2; i++) {
		for (j = 0; j < 2; j++) {
			s = convert_eol(streams[j], eols[i]);
			check_all_chunkings(s, expects[j]);
			free(s);
		}
	}
}

/* Mixed endings in one stream, and a CR at a chunk end. */
static void
test_mixed_endings(void **state)
{
	const char *s = "data: a\r\ndata: b\rdata: c\n\r\n"
			"event: x\rdata: d\r\r";
	size_t cut = 8; /* right after the first CR */
	char *got;

	got = parse_all(s, 0, NULL);
	assert_string_equal(got, "message|a\nb\nc\x1ex|d\x1e");
	free(got);
	got = parse_split(s, strlen(s), &cut, 1, 0, NULL);
	assert_string_equal(got, "message|a\nb\nc\x1ex|d\x1e");
	free(got);
}

static void
test_fields(void **state)
{
	char *got;

	/* Comments, "data:" without a space, a bare "data" line. */
	got = parse_all(": hi\ndata:x\ndata\ndata:  two spaces\n\n", 0, NULL);
	assert_string_equal(got, "message|x\n\n two spaces\x1e");
	free(got);
	/* An event without data lines is not dispatched. */
	got = parse_all("event: lonely\n\nevent: e\ndata: 1\n\n", 0, NULL);
	assert_string_equal(got, "e|1\x1e");
	free(got);
	/* "data:" with an empty value is an empty event. */
	got = parse_all("data:\n\n", 0, NULL);
	assert_string_equal(got, "message|\x1e");
	free(got);
	/* The event name is reset after each dispatch. */
	got = parse_all("event: a\ndata: 1\n\ndata: 2\n\n", 0, NULL);
	assert_string_equal(got, "a|1\x1emessage|2\x1e");
	free(got);
	/* Unknown fields and "retry" are ignored; a BOM is skipped. */
	got = parse_all(
		"\xEF\xBB\xBFretry: 10\nfoo: bar\ndata: z\n\n", 0, NULL);
	assert_string_equal(got, "message|z\x1e");
	free(got);
	/* An unterminated last event is not dispatched. */
	got = parse_all("data: 1\n\ndata: 2\n", 0, NULL);
	assert_string_equal(got, "message|1\x1e");
	free(got);
}

static void
test_id(void **state)
{
	struct collect c = { 0 };
	struct sse *sse = sse_new(0, collect_cb, &c);

	assert_null(sse_last_id(sse));
	assert_int_equal(sse_feed(sse, "id: 42\ndata: a\n\n", 16), 0);
	assert_string_equal(sse_last_id(sse), "42");
	assert_int_equal(sse_count(sse), 1);
	sse_free(sse);
	free(c.s);
}

/* Found by fuzz_sse: an event name holding a NUL reached the callback
 * as "" (cut at the NUL); such a field is now ignored. */
static void
test_event_nul(void **state)
{
	static const char s[] = "event: \0ab\ndata: x\n\n"
				"event: p\ndata: y\n\n";
	static const char t[] = "event: ab\ndata: 1\n\nevent: ab\ndata: 2\n\n"
				"event: a\0\ndata: 3\n\nevent: ab\ndata: 4\n\n";
	char *got;
	int r;

	got = parse_split(s, sizeof(s) - 1, NULL, 0, 0, &r);
	assert_int_equal(r, 0);
	assert_string_equal(got, "message|x\x1ep|y\x1e");
	free(got);
	/* Names repeat (the parser reuses the checked copy): a NUL name
	 * of the same length in between still counts as no name. */
	got = parse_split(t, sizeof(t) - 1, NULL, 0, 0, &r);
	assert_int_equal(r, 0);
	assert_string_equal(got,
		"ab|1\x1e"
		"ab|2\x1emessage|3\x1e"
		"ab|4\x1e");
	free(got);
}

/*
 * Repeated event names (recognised with their LF, without looking for
 * the line end) and near misses: a longer or shorter name, no space, a
 * CR or CRLF end, a name that is a prefix, split everywhere.
 */
static void
test_event_repeat(void **state)
{
	static const char s[] = "event: content_block_delta\ndata: 1\n\n"
				"event: content_block_delta\ndata: 2\n\n"
				"event:content_block_delta\ndata: 3\n\n"
				"event: content_block_deltax\ndata: 4\n\n"
				"event: content_block_delt\ndata: 5\n\n"
				"event: content_block_delta\rdata: 6\r\r"
				"event: content_block_delta\r\ndata: 7\n\n"
				"event: content_block_delta\n\ndata: 8\n\n"
				"event: ab\ndata: 9\n\nevent: ab\ndata: 10\n\n"
				"event: a\ndata: 11\n\nevent: ab\ndata: 12\n\n"
				"event: content_block_delta\ndata: 13\n\n";
	static const char expect[] = "content_block_delta|1\x1e"
				     "content_block_delta|2\x1e"
				     "content_block_delta|3\x1e"
				     "content_block_deltax|4\x1e"
				     "content_block_delt|5\x1e"
				     "content_block_delta|6\x1e"
				     "content_block_delta|7\x1e"
				     "message|8\x1e"
				     "ab|9\x1e"
				     "ab|10\x1e"
				     "a|11\x1e"
				     "ab|12\x1e"
				     "content_block_delta|13\x1e";

	check_all_chunkings(s, expect);
}

static void
test_oversize(void **state)
{
	char *big, *got;
	int r;

	big = malloc(200);
	assert_non_null(big);
	memset(big, 'x', 199);
	big[199] = '\0';
	memcpy(big, "data: ", 6);
	/* A single line longer than the bound, even unterminated. */
	got = parse_all(big, 100, &r);
	assert_int_equal(r, -EMSGSIZE);
	free(got);
	/* Many short data lines adding up past the bound. */
	got = parse_all("data: 0123456789\ndata: 0123456789\n"
			"data: 0123456789\n\n",
		30, &r);
	assert_int_equal(r, -EMSGSIZE);
	assert_string_equal(got, "");
	free(got);
	/* Just under the bound works. */
	got = parse_all("data: 0123456789\ndata: 0123456789\n\n", 30, &r);
	assert_int_equal(r, 0);
	free(got);
	free(big);
}

/*
 * The fed buffer is the caller's only during sse_feed(): a data line
 * kept for a later blank line (the parser passes data lines that lie in
 * the chunk without copying them) must not be read from it afterwards.
 */
static void
test_buffer_reuse(void **state)
{
	static const char *pieces[] = { "data: first\n", "data: 2nd\n", "\n",
		"event: e\ndata: x", "yz\n", "\ndata: last\n\n" };
	struct collect c = { 0 };
	struct sse *sse = sse_new(0, collect_cb, &c);
	char buf[64];
	size_t i, n;

	for (i = 0; i < sizeof(pieces) / sizeof(pieces[0]); i++) {
		n = strlen(pieces[i]);
		memcpy(buf, pieces[i], n);
		assert_int_equal(sse_feed(sse, buf, n), 0);
		memset(buf, '#', sizeof(buf));
	}
	assert_string_equal(c.s,
		"message|first\n2nd\x1e"
		"e|xyz\x1emessage|last\x1e");
	sse_free(sse);
	free(c.s);
}

/* A non-zero callback value stops parsing and sticks. */
static void
test_stop(void **state)
{
	struct collect c = { 0 };
	struct sse *sse = sse_new(0, collect_cb, &c);
	const char *s = "data: 1\n\ndata: 2\n\ndata: 3\n\n";

	c.stop_at = 2;
	assert_int_equal(sse_feed(sse, s, strlen(s)), 7);
	assert_int_equal(sse_feed(sse, s, strlen(s)), 7);
	assert_string_equal(c.s, "message|1\x1emessage|2\x1e");
	sse_free(sse);
	free(c.s);
}

/* A large stream in one buffer: each event arrives intact. */
static void
test_large(void **state)
{
	size_t n = 20000, i;
	char *s, *p;
	struct collect c = { 0 };
	struct sse *sse;

	s = malloc(n * 12 + 1);
	assert_non_null(s);
	p = s;
	for (i = 0; i < n; i++) {
		memcpy(p, "data: abc\r\n\n", 12);
		p += 12;
	}
	*p = '\0';
	sse = sse_new(0, collect_cb, &c);
	assert_int_equal(sse_feed(sse, s, strlen(s)), 0);
	assert_int_equal(sse_count(sse), n);
	assert_int_equal(c.len, n * strlen("message|abc\x1e"));
	sse_free(sse);
	free(c.s);
	free(s);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_openai_chunkings),
		cmocka_unit_test(test_anthropic_chunkings),
		cmocka_unit_test(test_line_endings),
		cmocka_unit_test(test_mixed_endings),
		cmocka_unit_test(test_fields),
		cmocka_unit_test(test_id),
		cmocka_unit_test(test_event_nul),
		cmocka_unit_test(test_event_repeat),
		cmocka_unit_test(test_oversize),
		cmocka_unit_test(test_buffer_reuse),
		cmocka_unit_test(test_stop),
		cmocka_unit_test(test_large),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
