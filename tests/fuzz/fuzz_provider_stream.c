/* SPDX-License-Identifier: ISC */
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "worker/provider_int.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/* Strict UTF-8 (RFC 3629): no overlong forms, surrogates or > U+10FFFF. */
static bool
fuzz_ps_utf8(const char *s)
{
	const unsigned char *p = (const unsigned char *)s;
	unsigned int c, n, i;

	while (*p != '\0') {
		c = *p;
		if (c < 0x80) {
			p++;
			continue;
		}
		if (c >= 0xC2 && c <= 0xDF)
			n = 1;
		else if (c >= 0xE0 && c <= 0xEF)
			n = 2;
		else if (c >= 0xF0 && c <= 0xF4)
			n = 3;
		else
			return false;
		c &= 0x3F >> n;
		for (i = 1; i <= n; i++) {
			if ((p[i] & 0xC0) != 0x80)
				return false;
			c = (c << 6) | (p[i] & 0x3F);
		}
		if ((n == 2 && (c < 0x800 || (c >= 0xD800 && c <= 0xDFFF))) ||
			(n == 3 && (c < 0x10000 || c > 0x10FFFF)))
			return false;
		p += n + 1;
	}
	return true;
}

/* Everything a stream hands on goes into JSON lines: valid UTF-8 only. */
static void
fuzz_ps_check_str(const char *s)
{
	if (s != NULL && !fuzz_ps_utf8(s))
		__builtin_trap();
}

/* What the callbacks saw. */
struct fuzz_ps_seen {
	size_t text;
	size_t thinking;
	size_t starts;
};

static void
fuzz_ps_text_cb(void *arg, const char *text, size_t len)
{
	struct fuzz_ps_seen *s = arg;

	if (len == 0 || text[len] != '\0')
		__builtin_trap();
	fuzz_ps_check_str(text);
	s->text += len;
}

static void
fuzz_ps_thinking_cb(void *arg, const char *text, size_t len)
{
	struct fuzz_ps_seen *s = arg;

	if (len == 0 || text[len] != '\0')
		__builtin_trap();
	fuzz_ps_check_str(text);
	s->thinking += len;
}

static void
fuzz_ps_start_cb(void *arg, const char *id, const char *name)
{
	struct fuzz_ps_seen *s = arg;

	if (id == NULL || name == NULL || *name == '\0')
		__builtin_trap();
	fuzz_ps_check_str(id);
	fuzz_ps_check_str(name);
	s->starts++;
}

static const struct llm_stream_cb fuzz_ps_cb = {
	.text_delta = fuzz_ps_text_cb,
	.thinking_delta = fuzz_ps_thinking_cb,
	.tool_call_start = fuzz_ps_start_cb,
};

/* A digest of a result, to compare the piecewise and one-shot runs. */
static char *
fuzz_ps_digest(const struct llm_result *res)
{
	size_t i, n;
	char *d, *p;

	n = 256 + (res->text ? strlen(res->text) : 0) +
		(res->thinking ? strlen(res->thinking) : 0) +
		(res->stop_reason ? strlen(res->stop_reason) : 0);
	fuzz_ps_check_str(res->text);
	fuzz_ps_check_str(res->thinking);
	fuzz_ps_check_str(res->thinking_signature);
	fuzz_ps_check_str(res->stop_reason);
	for (i = 0; i < res->ntool_calls; i++) {
		fuzz_ps_check_str(res->tool_calls[i].id);
		fuzz_ps_check_str(res->tool_calls[i].name);
		fuzz_ps_check_str(res->tool_calls[i].arguments);
		if (res->tool_calls[i].id == NULL ||
			res->tool_calls[i].name == NULL ||
			res->tool_calls[i].arguments == NULL)
			__builtin_trap();
		n += strlen(res->tool_calls[i].id) +
			strlen(res->tool_calls[i].name) +
			strlen(res->tool_calls[i].arguments) + 3;
	}
	d = p = malloc(n);
	if (d == NULL)
		__builtin_trap();
	p += sprintf(p, "%s|%s|%s|%lld|%lld|%lld|%d|",
		res->text != NULL ? res->text : "-",
		res->thinking != NULL ? res->thinking : "-",
		res->stop_reason != NULL ? res->stop_reason : "-",
		(long long)res->usage.input_tokens,
		(long long)res->usage.output_tokens,
		(long long)res->usage.cache_read_tokens, res->overflow);
	for (i = 0; i < res->ntool_calls; i++)
		p += sprintf(p, "%s %s %s|", res->tool_calls[i].id,
			res->tool_calls[i].name, res->tool_calls[i].arguments);
	return d;
}

static char *
fuzz_ps_run(enum provider_scheme scheme, const char *s, size_t len,
	const uint8_t *pieces, size_t *ret_text)
{
	struct fuzz_ps_seen seen = { 0 };
	struct provider_stream ps;
	struct llm_result res;
	size_t off, n, k = 0;
	char *d;
	int r = 0;

	provider_stream_init(&ps, scheme, &fuzz_ps_cb, &seen);
	for (off = 0; off < len; off += n) {
		n = pieces != NULL ? 1 + pieces[k++ % 4] % 96 : len;
		if (n > len - off)
			n = len - off;
		r = provider_stream_feed(&ps, s + off, n);
		if (r != 0)
			break;
	}
	if (r != 0 && provider_stream_feed(&ps, "data: {}\n\n", 10) != r)
		__builtin_trap();
	provider_stream_result(&ps, &res);
	if (ps.failed && ps.error == NULL)
		__builtin_trap();
	if ((res.text != NULL ? strlen(res.text) : 0) != seen.text ||
		(res.thinking != NULL ? strlen(res.thinking) : 0) !=
			seen.thinking)
		__builtin_trap();
	d = fuzz_ps_digest(&res);
	/* A second result() replaces the first's calls cleanly. */
	provider_stream_result(&ps, &res);
	fuzz_ps_check_str(ps.error);
	*ret_text = seen.text;
	provider_stream_clear(&ps);
	return d;
}

/*
 * Input: byte 0 picks the scheme (bits 0-1) and, bytes 1..4 the piece sizes
 * the rest arrives in.  The stream must give the same result however it
 * is cut.  The same bytes also go through both error-body parsers.
 */
int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	enum provider_scheme scheme;
	const char *s;
	size_t len, ta, tb;
	char *da, *db, *m;
	bool ovf;

	if (size < 5)
		return 0;
	scheme = (data[0] & 2)  ? PROVIDER_OPENAI_RESPONSES
		: (data[0] & 1) ? PROVIDER_ANTHROPIC
				: PROVIDER_OPENAI_CHAT;
	s = (const char *)data + 5;
	len = size - 5;

	da = fuzz_ps_run(scheme, s, len, data + 1, &ta);
	db = fuzz_ps_run(scheme, s, len, NULL, &tb);
	if (strcmp(da, db) != 0 || ta != tb)
		__builtin_trap();
	free(da);
	free(db);

	ovf = true;
	m = provider_openai_error(s, len, &ovf);
	if (m == NULL && ovf)
		__builtin_trap();
	fuzz_ps_check_str(m);
	free(m);
	ovf = true;
	m = provider_anthropic_error(s, len, &ovf);
	if (m == NULL && ovf)
		__builtin_trap();
	fuzz_ps_check_str(m);
	free(m);
	return 0;
}
