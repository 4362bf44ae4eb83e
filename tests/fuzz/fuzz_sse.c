/* SPDX-License-Identifier: ISC */
#include <errno.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "worker/sse.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/* Every dispatched event, serialised, to compare two runs. */
struct fuzz_sse_log {
	char *p;
	size_t len;
	size_t cap;
	size_t count;
	size_t stop_at; /* return 7 from the callback at this event (0: never) */
};

static void
fuzz_sse_log_add(struct fuzz_sse_log *l, const void *p, size_t len)
{
	if (l->len + len > l->cap) {
		l->cap = (l->len + len) * 2 + 64;
		l->p = realloc(l->p, l->cap);
		if (l->p == NULL)
			__builtin_trap();
	}
	memcpy(l->p + l->len, p, len);
	l->len += len;
}

static int
fuzz_sse_event_cb(void *arg, const char *event, const char *data, size_t len)
{
	struct fuzz_sse_log *l = arg;
	size_t nlen;

	/* data is not NUL-terminated (it may point into the fed piece). */
	if (event == NULL || (data == NULL && len > 0))
		__builtin_trap();
	nlen = strlen(event);
	if (nlen == 0)
		__builtin_trap();
	fuzz_sse_log_add(l, event, nlen + 1);
	fuzz_sse_log_add(l, &len, sizeof(len));
	fuzz_sse_log_add(l, data, len);
	l->count++;
	if (l->stop_at != 0 && l->count == l->stop_at)
		return 7;
	return 0;
}

/*
 * Input: byte 0 picks the event bound (0: the default, else 1..255 * 16
 * bytes) and the callback's stop point, bytes 1..4 the sizes of the
 * pieces the rest is fed in (cycled; 0 = 1 byte), then the stream.  The
 * same stream fed in one piece must give the same events (or, where the
 * piecewise run hit the line bound, a superset of them).
 */
int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct fuzz_sse_log a = { 0 }, b = { 0 };
	struct sse *sse;
	const char *s;
	char *piece;
	size_t max, off, n, k = 0, slen;
	uint8_t pieces[4];
	int ra = 0, rb;

	if (size < 5)
		return 0;
	max = data[0] & 0x1f ? (size_t)(data[0] & 0x1f) * 16 : 0;
	a.stop_at = b.stop_at = data[0] >> 5;
	memcpy(pieces, data + 1, 4);
	s = (const char *)data + 5;
	slen = size - 5;

	sse = sse_new(max, fuzz_sse_event_cb, &a);
	for (off = 0; off < slen; off += n) {
		n = 1 + pieces[k++ % 4] % 64;
		if (n > slen - off)
			n = slen - off;
		/* A piece of its own, freed after the call: a reference
		 * kept into it is a use-after-free ASan reports. */
		piece = malloc(n);
		if (piece == NULL)
			__builtin_trap();
		memcpy(piece, s + off, n);
		ra = sse_feed(sse, piece, n);
		free(piece);
		if (ra != 0)
			break;
	}
	if (ra != 0 && sse_feed(sse, "\n\n", 2) != ra)
		__builtin_trap(); /* errors are sticky */
	if (ra != 0 && ra != -EMSGSIZE && ra != 7)
		__builtin_trap();
	if (sse_count(sse) != a.count)
		__builtin_trap();
	if (sse_last_id(sse) != NULL)
		(void)strlen(sse_last_id(sse));
	sse_free(sse);

	sse = sse_new(max, fuzz_sse_event_cb, &b);
	rb = sse_feed(sse, s, slen);
	sse_free(sse);

	if (ra == 0 || ra == 7) {
		if (rb != ra || a.len != b.len ||
			(a.len > 0 && memcmp(a.p, b.p, a.len) != 0))
			__builtin_trap();
	} else if (a.len > b.len || (a.len > 0 && memcmp(a.p, b.p, a.len) != 0))
		__builtin_trap();
	free(a.p);
	free(b.p);
	return 0;
}
