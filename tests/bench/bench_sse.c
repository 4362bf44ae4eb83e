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
 * The OpenAI Responses stream (typed "event:"/"data:" events shaped like
 * tests/fixtures/responses: a reasoning item with summary deltas and an
 * encrypted_content blob, text deltas with their obfuscation padding,
 * function-call argument deltas, the terminal response.completed that
 * repeats the output) is timed twice against the same baseline:
 *   sse_responses_*    the SSE layer alone, as above;
 *   responses_parse_*  the whole scheme parser (provider_stream_feed():
 *                      SSE, each event's JSON decoded with the channel
 *                      rules, deltas and items assembled, a fresh
 *                      provider_stream per response), with callbacks
 *                      that only count.
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
#include "worker/provider_int.h"
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

/* One Responses event: "event: TYPE\ndata: {"type":TYPE,BODY,seq}". */
static void
rs_event(struct sbuf *b, unsigned *seq, const char *type, const char *body)
{
	sbuf_printf(b,
		"event: %s\ndata: {\"type\":\"%s\",%s,\"sequence_number\":%u}"
		"\n\n",
		type, type, body, (*seq)++);
}

#define RS_ID "resp_01830d662ab3856501693c321345c88190b0de00f3b9975691"
#define RS_ITEM "rs_01830d662ab3856501693c321405c88190be3ab04d5782d5f9"
#define RS_MSG "msg_01830d662ab3856501693c3215a2b88190a6e2d1c0e3f4a5b6"
#define RS_FC "fc_01830d662ab3856501693c32151234819091cfca267e98cc5f"

/* One streamed response: reasoning, a message, a function call. */
static void
gen_responses_one(struct sbuf *b, unsigned n)
{
	static const char head[] =
		"\"response\":{\"id\":\"" RS_ID "\",\"object\":\"response\","
		"\"created_at\":1765552659,\"status\":\"in_progress\","
		"\"background\":false,\"error\":null,\"incomplete_details\":"
		"null,\"instructions\":null,\"max_output_tokens\":null,"
		"\"model\":\"gpt-5.1-codex-max\",\"output\":[],"
		"\"parallel_tool_calls\":true,\"previous_response_id\":null,"
		"\"prompt_cache_key\":\"01M97Y39P2ACZXTDMPP9P9YJEW\","
		"\"reasoning\":{\"effort\":\"high\",\"summary\":\"detailed\"},"
		"\"service_tier\":\"auto\",\"store\":false,\"temperature\":1,"
		"\"text\":{\"format\":{\"type\":\"text\"},\"verbosity\":"
		"\"medium\"},\"tool_choice\":\"auto\",\"tools\":[],"
		"\"top_p\":0.985,\"truncation\":\"disabled\",\"usage\":null,"
		"\"user\":null,\"metadata\":{}}";
	struct sbuf enc = { 0 }, text = { 0 }, args = { 0 }, ev = { 0 };
	unsigned seq = 0, i;

	for (i = 0; i < 22; i++) /* ~1.4 KB, like a real blob */
		sbuf_printf(&enc,
			"gAAAAABpPDIVOKrsHNZ0GwsoEKA_IGfuJ5f8Ma_6-Ej"
			"oH4yZFL50qlfUzM7FREd");
	rs_event(b, &seq, "response.created", head);
	rs_event(b, &seq, "response.in_progress", head);
	ev.len = 0;
	sbuf_printf(&ev,
		"\"output_index\":0,\"item\":{\"id\":\"" RS_ITEM "\","
		"\"type\":\"reasoning\",\"encrypted_content\":\"%s\","
		"\"summary\":[]}",
		enc.p);
	rs_event(b, &seq, "response.output_item.added", ev.p);
	for (i = 0; i < 40; i++) {
		ev.len = 0;
		sbuf_printf(&ev,
			"\"item_id\":\"" RS_ITEM "\",\"output_index\":0,"
			"\"summary_index\":0,\"delta\":\"%s\","
			"\"obfuscation\":\"2ajSAGID\"",
			words[i % NWORDS]);
		rs_event(
			b, &seq, "response.reasoning_summary_text.delta", ev.p);
		sbuf_printf(&text, "%s", words[i % NWORDS]);
	}
	ev.len = 0;
	sbuf_printf(&ev,
		"\"output_index\":0,\"item\":{\"id\":\"" RS_ITEM "\","
		"\"type\":\"reasoning\",\"encrypted_content\":\"%s\","
		"\"summary\":[{\"type\":\"summary_text\",\"text\":\"%s\"}]}",
		enc.p, text.p);
	rs_event(b, &seq, "response.output_item.done", ev.p);
	rs_event(b, &seq, "response.output_item.added",
		"\"output_index\":1,\"item\":{\"id\":\"" RS_MSG "\",\"type\":"
		"\"message\",\"status\":\"in_progress\",\"content\":[],"
		"\"role\":\"assistant\"}");
	text.len = 0;
	for (i = 0; i < 200; i++) {
		ev.len = 0;
		sbuf_printf(&ev,
			"\"content_index\":0,\"delta\":\"%s\",\"item_id\":"
			"\"" RS_MSG "\",\"logprobs\":[],\"obfuscation\":"
			"\"zb2VZr3uMaj\",\"output_index\":1",
			words[i % NWORDS]);
		rs_event(b, &seq, "response.output_text.delta", ev.p);
		sbuf_printf(&text, "%s", words[i % NWORDS]);
	}
	ev.len = 0;
	sbuf_printf(&ev,
		"\"output_index\":1,\"item\":{\"id\":\"" RS_MSG "\","
		"\"type\":\"message\",\"status\":\"completed\",\"content\":"
		"[{\"type\":\"output_text\",\"annotations\":[],\"text\":"
		"\"%s\"}],\"role\":\"assistant\"}",
		text.p);
	rs_event(b, &seq, "response.output_item.done", ev.p);
	ev.len = 0;
	sbuf_printf(&ev,
		"\"output_index\":2,\"item\":{\"id\":\"" RS_FC "\","
		"\"type\":\"function_call\",\"status\":\"in_progress\","
		"\"arguments\":\"\",\"call_id\":\"call_%08u\",\"name\":"
		"\"edit\"}",
		n);
	rs_event(b, &seq, "response.output_item.added", ev.p);
	for (i = 0; i < 60; i++) {
		ev.len = 0;
		sbuf_printf(&ev,
			"\"item_id\":\"" RS_FC "\",\"output_index\":2,"
			"\"delta\":\"%s\",\"obfuscation\":\"hKtg6o5cWUSdCa\"",
			frags[i % NFRAGS]);
		rs_event(b, &seq, "response.function_call_arguments.delta",
			ev.p);
		sbuf_printf(&args, "%s", frags[i % NFRAGS]);
	}
	ev.len = 0;
	sbuf_printf(&ev,
		"\"item_id\":\"" RS_FC "\",\"output_index\":2,"
		"\"arguments\":\"%s\"",
		args.p);
	rs_event(b, &seq, "response.function_call_arguments.done", ev.p);
	ev.len = 0;
	sbuf_printf(&ev,
		"\"output_index\":2,\"item\":{\"id\":\"" RS_FC "\","
		"\"type\":\"function_call\",\"status\":\"completed\","
		"\"arguments\":\"%s\",\"call_id\":\"call_%08u\",\"name\":"
		"\"edit\"}",
		args.p, n);
	rs_event(b, &seq, "response.output_item.done", ev.p);
	ev.len = 0;
	sbuf_printf(&ev,
		"\"response\":{\"id\":\"" RS_ID "\",\"object\":\"response\","
		"\"status\":\"completed\",\"model\":\"gpt-5.1-codex-max\","
		"\"output\":[{\"id\":\"" RS_ITEM "\",\"type\":\"reasoning\","
		"\"encrypted_content\":\"%s\",\"summary\":[]},{\"id\":"
		"\"" RS_MSG "\",\"type\":\"message\",\"status\":\"completed\","
		"\"content\":[{\"type\":\"output_text\",\"annotations\":[],"
		"\"text\":\"%s\"}],\"role\":\"assistant\"},{\"id\":\"" RS_FC
		"\",\"type\":\"function_call\",\"status\":\"completed\","
		"\"arguments\":\"%s\",\"call_id\":\"call_%08u\",\"name\":"
		"\"edit\"}],\"store\":false,\"usage\":{\"input_tokens\":18230,"
		"\"input_tokens_details\":{\"cached_tokens\":17920},"
		"\"output_tokens\":412,\"output_tokens_details\":"
		"{\"reasoning_tokens\":128},\"total_tokens\":18642}}",
		enc.p, text.p, args.p, n);
	rs_event(b, &seq, "response.completed", ev.p);
	free(enc.p);
	free(text.p);
	free(args.p);
	free(ev.p);
}

/* Responses until target bytes; the end of each is kept in ends. */
static void
gen_responses(struct sbuf *b, size_t target, size_t **ret_ends, size_t *ret_n)
{
	size_t *ends = NULL, n = 0;

	while (b->len < target) {
		gen_responses_one(b, (unsigned)n);
		ends = xreallocarray(ends, n + 1, sizeof(*ends));
		ends[n++] = b->len;
	}
	*ret_ends = ends;
	*ret_n = n;
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

static void
rs_count_text(void *arg, const char *s, size_t len)
{
	*(size_t *)arg += len;
}

static void
rs_count_start(void *arg, const char *id, const char *name)
{
	*(size_t *)arg += 1;
}

static const struct llm_stream_cb rs_cb = { rs_count_text, rs_count_text,
	rs_count_start, NULL, NULL };

/*
 * Seconds for the whole Responses parser over buf[0..len): a fresh
 * provider_stream per response (ends[] marks them), fed in chunks.
 */
static __attribute__((noinline)) double
run_responses(const char *buf, size_t len, const size_t *ends, size_t nends,
	size_t chunk, size_t *ret_calls)
{
	struct provider_stream ps;
	struct llm_result res;
	size_t seen = 0, calls = 0, off = 0, i, end, n;
	double t0, t1;
	int r;

	t0 = bench_now();
	for (i = 0; i < nends && ends[i] <= len; i++) {
		end = ends[i];
		provider_stream_init(
			&ps, PROVIDER_OPENAI_RESPONSES, &rs_cb, &seen);
		for (r = 0; off < end && r == 0; off += n) {
			n = end - off < chunk ? end - off : chunk;
			r = provider_stream_feed(&ps, buf + off, n);
		}
		if (r != 1 || !ps.finished) {
			fprintf(stderr, "bench_sse: responses stream %zu: %s\n",
				i,
				ps.error != NULL ? ps.error : "not finished");
			exit(1);
		}
		provider_stream_result(&ps, &res);
		calls += res.ntool_calls;
		provider_stream_clear(&ps);
		off = end;
	}
	t1 = bench_now();
	sink_total += seen;
	*ret_calls = calls;
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

/* The Responses parser against the memchr baseline, paired per rep. */
static void
bench_responses_parse(
	const struct sbuf *b, const size_t *ends, size_t nends, int reps)
{
	static const size_t chunks[] = { 1024, 65536 };
	static const char *cnames[] = { "1k", "64k" };
	double tb[32], ts[32], tr[32];
	size_t ci, calls, len;
	char label[64];
	int i;

	for (ci = 0; ci < 2; ci++) {
		if (only_chunk != 0 && (size_t)only_chunk != chunks[ci])
			continue;
		len = ends[nends - 1];
		for (i = 0; i < reps; i++) {
			tb[i] = (double)len / 1e6 / run_memchr(b->p, len);
			ts[i] = (double)len / 1e6 /
				run_responses(b->p, len, ends, nends,
					chunks[ci], &calls);
			tr[i] = ts[i] / tb[i];
		}
		if (calls != nends) {
			fprintf(stderr,
				"bench_sse: %zu calls in %zu responses\n",
				calls, nends);
			exit(1);
		}
		snprintf(
			label, sizeof(label), "responses_parse_%s", cnames[ci]);
		bench_print_ratio(label, bench_median(ts, (size_t)reps), "MB/s",
			bench_median(tb, (size_t)reps),
			bench_median(tr, (size_t)reps));
	}
}

int
main(int argc, char **argv)
{
	struct sbuf oa = { 0 }, an = { 0 }, rs = { 0 };
	size_t *ends, nends;
	int reps = argc > 1 ? atoi(argv[1]) : 9;

	if (reps < 1 || reps > 32)
		reps = 9;
	if (argc > 2)
		only_chunk = atol(argv[2]);
	gen_openai(&oa, STREAM_BYTES);
	gen_anthropic(&an, STREAM_BYTES);
	bench_stream("openai", &oa, reps);
	bench_stream("anthropic", &an, reps);
	gen_responses(&rs, STREAM_BYTES, &ends, &nends);
	bench_stream("responses", &rs, reps);
	bench_responses_parse(&rs, ends, nends, reps);
	free(oa.p);
	free(an.p);
	free(rs.p);
	free(ends);
	return sink_total == 42 ? 1 : 0;
}
