/* SPDX-License-Identifier: ISC */
/*
 * SSE parser throughput (worker/sse.h): MB/s of a large recorded-style
 * stream of each provider (OpenAI chat chunks with text and tool-call
 * argument fragments; Anthropic message events) fed in 1-byte, 1 KiB and
 * 64 KiB chunks.  Baseline: plain memchr line splitting of the same bytes
 * in one pass, run before each repetition; medians of repeated runs
 * and of the paired ratios.
 *
 * What is timed on each side (the stream is generated beforehand, in
 * memory; nothing is copied or allocated per repetition but the parser):
 *   parser    sse_feed() over the chunks, with a callback that only
 *             counts each event and touches its first bytes: the SSE
 *             layer alone.  The providers' JSON decoding of each event's
 *             data (worker/provider_*.c) is NOT included.
 *   baseline  one memchr('\n') per line over the whole buffer, touching
 *             each line's first byte: no CR handling (the parser must
 *             also find CR and CRLF ends), no fields, no callback.
 * So the ratio is what the SSE framing costs over the least any line
 * splitter must do.  (The baseline runs first in each repetition; the
 * parser may then find part of the 16 MiB still in a large L3.)
 *
 *   bench_sse [REPS [CHUNK]]   (CHUNK: run only that chunk size, e.g. for
 *                               perf record)
 */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "bench.h"
#include "common/xmalloc.h"
#include "worker/sse.h"

#define STREAM_BYTES (16u << 20)
#define SMALL_BYTES (2u << 20) /* 1-byte chunks: a prefix is enough */

struct sbuf {
	char *p;
	size_t len, cap;
};

static void sbuf_printf(struct sbuf *b, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));

static void
sbuf_printf(struct sbuf *b, const char *fmt, ...)
{
	va_list ap;
	int n;

	for (;;) {
		va_start(ap, fmt);
		n = vsnprintf(b->p + b->len, b->cap - b->len, fmt, ap);
		va_end(ap);
		if (n >= 0 && (size_t)n < b->cap - b->len) {
			b->len += (size_t)n;
			return;
		}
		b->cap = b->cap == 0 ? 1 << 20 : b->cap * 2;
		b->p = xreallocarray(b->p, 1, b->cap);
	}
}

static const char *words[] = { "The ", "function ", "returns ", "a ",
	"negative ", "errno ", "when ", "the ", "socket ", "is ", "closed; ",
	"see ", "`conn.c` ", "for ", "details.\\n", "Let ", "me ", "check ",
	"the ", "tests " };
static const char *frags[] = { "{\\\"", "path", "\\\": \\\"", "/home/u/",
	"proj/src", "/mod3/", "conn.c", "\\\", \\\"", "old", "\\\": \\\"",
	"\\tr = -", "errno;", "\\\\n\\\"}" };

#define NWORDS (sizeof(words) / sizeof(words[0]))
#define NFRAGS (sizeof(frags) / sizeof(frags[0]))

/* OpenAI chat completion chunks: 200 text deltas then one tool call. */
static void
gen_openai(struct sbuf *b, size_t target)
{
	const char *head =
		"\"id\":\"chatcmpl-B9xYzQ1w2e3r4t5y6u7i8o9p\","
		"\"object\":\"chat.completion.chunk\","
		"\"created\":1732300000,\"model\":\"gpt-4.1-2025-04-14\","
		"\"system_fingerprint\":\"fp_b4c2d1e0f9\"";
	unsigned call = 0, i;

	while (b->len < target) {
		sbuf_printf(b,
			"data: {%s,\"choices\":[{\"index\":0,\"delta\":"
			"{\"role\":\"assistant\",\"content\":\"\",\"refusal\":"
			"null},\"logprobs\":null,\"finish_reason\":null}]}\n\n",
			head);
		for (i = 0; i < 200; i++)
			sbuf_printf(b,
				"data: {%s,\"choices\":[{\"index\":0,\"delta\":"
				"{\"content\":\"%s\"},\"logprobs\":null,"
				"\"finish_reason\":null}]}\n\n",
				head, words[i % NWORDS]);
		sbuf_printf(b,
			"data: {%s,\"choices\":[{\"index\":0,\"delta\":"
			"{\"tool_calls\":[{\"index\":0,\"id\":\"call_%08u\","
			"\"type\":\"function\",\"function\":{\"name\":\"edit\","
			"\"arguments\":\"\"}}]},\"logprobs\":null,"
			"\"finish_reason\":null}]}\n\n",
			head, call++);
		for (i = 0; i < 60; i++)
			sbuf_printf(b,
				"data: {%s,\"choices\":[{\"index\":0,\"delta\":"
				"{\"tool_calls\":[{\"index\":0,\"function\":"
				"{\"arguments\":\"%s\"}}]},\"logprobs\":null,"
				"\"finish_reason\":null}]}\n\n",
				head, frags[i % NFRAGS]);
		sbuf_printf(b,
			"data: {%s,\"choices\":[{\"index\":0,\"delta\":{},"
			"\"logprobs\":null,\"finish_reason\":\"tool_calls\"}],"
			"\"usage\":{\"prompt_tokens\":18230,"
			"\"completion_tokens\":412,\"total_tokens\":18642}}\n\n",
			head);
	}
	sbuf_printf(b, "data: [DONE]\n\n");
}

/* Anthropic messages events: text block, ping, tool_use block. */
static void
gen_anthropic(struct sbuf *b, size_t target)
{
	unsigned call = 0, i;

	while (b->len < target) {
		sbuf_printf(b,
			"event: message_start\ndata: {\"type\":\"message_start\","
			"\"message\":{\"id\":\"msg_01XFDUDYJgAACzvnptvVoYEL\","
			"\"type\":\"message\",\"role\":\"assistant\",\"content\":[],"
			"\"model\":\"claude-sonnet-4-5\",\"stop_reason\":null,"
			"\"stop_sequence\":null,\"usage\":{\"input_tokens\":18230,"
			"\"output_tokens\":1}}}\n\n"
			"event: content_block_start\ndata: {\"type\":"
			"\"content_block_start\",\"index\":0,\"content_block\":"
			"{\"type\":\"text\",\"text\":\"\"}}\n\n"
			"event: ping\ndata: {\"type\": \"ping\"}\n\n");
		for (i = 0; i < 200; i++)
			sbuf_printf(b,
				"event: content_block_delta\ndata: {\"type\":"
				"\"content_block_delta\",\"index\":0,\"delta\":"
				"{\"type\":\"text_delta\",\"text\":\"%s\"}}\n\n",
				words[i % NWORDS]);
		sbuf_printf(b,
			"event: content_block_stop\ndata: {\"type\":"
			"\"content_block_stop\",\"index\":0}\n\n"
			"event: content_block_start\ndata: {\"type\":"
			"\"content_block_start\",\"index\":1,\"content_block\":"
			"{\"type\":\"tool_use\",\"id\":\"toolu_%08u\",\"name\":"
			"\"edit\",\"input\":{}}}\n\n",
			call++);
		for (i = 0; i < 60; i++)
			sbuf_printf(b,
				"event: content_block_delta\ndata: {\"type\":"
				"\"content_block_delta\",\"index\":1,\"delta\":"
				"{\"type\":\"input_json_delta\",\"partial_json\":"
				"\"%s\"}}\n\n",
				frags[i % NFRAGS]);
		sbuf_printf(b,
			"event: content_block_stop\ndata: {\"type\":"
			"\"content_block_stop\",\"index\":1}\n\n"
			"event: message_delta\ndata: {\"type\":\"message_delta\","
			"\"delta\":{\"stop_reason\":\"tool_use\",\"stop_sequence\":"
			"null},\"usage\":{\"output_tokens\":412}}\n\n"
			"event: message_stop\ndata: {\"type\":\"message_stop\"}\n\n");
	}
}

struct sink {
	size_t events;
	size_t bytes;
};

static int
count_cb(void *arg, const char *event, const char *data, size_t data_len)
{
	struct sink *s = arg;

	s->events++;
	s->bytes += data_len + (unsigned char)event[0] +
		(data_len > 0 ? (unsigned char)data[0] : 0);
	return 0;
}

static volatile size_t sink_total;

/* Seconds to feed buf[0..len) in chunks of chunk bytes (not inlined, so
 * valgrind --toggle-collect=run_sse can count it alone). */
static __attribute__((noinline)) double
run_sse(const char *buf, size_t len, size_t chunk, size_t *ret_events)
{
	struct sink s = { 0, 0 };
	struct sse *sse;
	double t0, t1;
	size_t off, n;

	sse = sse_new(0, count_cb, &s);
	t0 = bench_now();
	for (off = 0; off < len; off += n) {
		n = len - off < chunk ? len - off : chunk;
		if (sse_feed(sse, buf + off, n) != 0) {
			fprintf(stderr, "bench_sse: sse_feed failed\n");
			exit(1);
		}
	}
	t1 = bench_now();
	sse_free(sse);
	sink_total += s.bytes;
	*ret_events = s.events;
	return t1 - t0;
}

/* The baseline: split the same bytes into lines with memchr. */
static __attribute__((noinline)) double
run_memchr(const char *buf, size_t len)
{
	const char *p = buf, *end = buf + len, *nl;
	size_t lines = 0, bytes = 0;
	double t0, t1;

	t0 = bench_now();
	while (p < end && (nl = memchr(p, '\n', (size_t)(end - p))) != NULL) {
		lines++;
		bytes += (size_t)(nl - p) + (unsigned char)*p;
		p = nl + 1;
	}
	t1 = bench_now();
	sink_total += lines + bytes;
	return t1 - t0;
}

static long only_chunk; /* argv[2]: run only this chunk size */

/*
 * Each repetition runs the baseline and then the parser over the same
 * bytes, so both see the same machine; the ratio printed is the median
 * of the per-repetition ratios.
 */
static void
bench_stream(const char *name, const struct sbuf *b, int reps)
{
	static const size_t chunks[] = { 1, 1024, 65536 };
	static const char *cnames[] = { "1b", "1k", "64k" };
	double tb[32], ts[32], tr[32];
	size_t ci, events, len;
	char label[64];
	int i;

	for (ci = 0; ci < 3; ci++) {
		if (only_chunk != 0 && (size_t)only_chunk != chunks[ci])
			continue;
		len = chunks[ci] == 1 ? SMALL_BYTES : b->len;
		for (i = 0; i < reps; i++) {
			tb[i] = (double)len / 1e6 / run_memchr(b->p, len);
			ts[i] = (double)len / 1e6 /
				run_sse(b->p, len, chunks[ci], &events);
			tr[i] = ts[i] / tb[i];
		}
		snprintf(label, sizeof(label), "sse_%s_%s", name, cnames[ci]);
		bench_print_ratio(label, bench_median(ts, (size_t)reps), "MB/s",
			bench_median(tb, (size_t)reps),
			bench_median(tr, (size_t)reps));
	}
}

int
main(int argc, char **argv)
{
	struct sbuf oa = { 0 }, an = { 0 };
	int reps = argc > 1 ? atoi(argv[1]) : 9;

	if (reps < 1 || reps > 32)
		reps = 9;
	if (argc > 2)
		only_chunk = atol(argv[2]);
	gen_openai(&oa, STREAM_BYTES);
	gen_anthropic(&an, STREAM_BYTES);
	bench_stream("openai", &oa, reps);
	bench_stream("anthropic", &an, reps);
	free(oa.p);
	free(an.p);
	return sink_total == 42 ? 1 : 0;
}
