/* SPDX-License-Identifier: ISC */
#include "worker/sse.h"

#include <errno.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "common/xmalloc.h"

#define SSE_LIKELY(x) __builtin_expect(!!(x), 1)
#define SSE_UNLIKELY(x) __builtin_expect(!!(x), 0)

/* Bytes looked through for CR at a time: well inside L1. */
#define SSE_CR_BLOCK 2048
/* Chunks shorter than this are looked through a byte at a time. */
#define SSE_SMALL 16

struct sse_buf {
	char *p;
	size_t len;
	size_t cap;
};

struct sse {
	size_t max;
	sse_event_cb cb;
	void *arg;
	struct sse_buf line; /* a line cut by the chunk end */
	struct sse_buf data; /* data lines, each followed by '\n' */
	const char *ref; /* or: the only data line so far, in the chunk */
	size_t ref_len;
	struct sse_buf event; /* event name of the pending event, if len */
	size_t event_kept; /* length of the name in event.p (SIZE_MAX: none) */
	struct sse_buf id; /* the last id, valid when has_id */
	size_t count;
	int err;
	bool has_id;
	long retry_ms; /* the last "retry:", -1 for none */
	bool skip_lf; /* last chunk ended in CR: a leading LF is its pair */
	bool first; /* the next line is the stream's first (BOM) */
};

/* Make room for need bytes in b. */
static __attribute__((noinline)) void
sse_buf_grow(struct sse_buf *b, size_t need)
{
	size_t cap = b->cap == 0 ? 256 : b->cap;

	while (cap < need)
		cap *= 2;
	b->p = xreallocarray(b->p, 1, cap);
	b->cap = cap;
}

/* Replace b's contents by p[0..len), NUL-terminated. */
static void
sse_buf_set(struct sse_buf *b, const char *p, size_t len)
{
	if (len + 1 > b->cap)
		sse_buf_grow(b, len + 1);
	memcpy(b->p, p, len);
	b->p[len] = '\0';
	b->len = len;
}

/* Append v[0..n) and a '\n' to the data buffer, unchecked. */
static void
sse_data_copy(struct sse *sse, const char *v, size_t n)
{
	struct sse_buf *b = &sse->data;

	if (b->len + n + 2 > b->cap)
		sse_buf_grow(b, b->len + n + 2);
	memcpy(b->p + b->len, v, n);
	b->p[b->len + n] = '\n';
	b->len += n + 1;
}

/* Copy a data line still referenced in the chunk into the buffer: the
 * chunk is about to go away, or another line joins it. */
static inline void
sse_unref(struct sse *sse)
{
	if (sse->ref != NULL) {
		sse_data_copy(sse, sse->ref, sse->ref_len);
		sse->ref = NULL;
	}
}

static inline int
sse_dispatch(struct sse *sse)
{
	const char *name = "message";
	int r;

	if (sse->event.len > 0)
		name = sse->event.p;
	if (SSE_LIKELY(sse->ref != NULL)) {
		/* One data line in this chunk: no copy at all. */
		sse->count++;
		r = sse->cb(sse->arg, name, sse->ref, sse->ref_len);
		sse->ref = NULL;
	} else if (sse->data.len > 0) {
		sse->data.len--; /* the last '\n' */
		sse->data.p[sse->data.len] = '\0';
		sse->count++;
		r = sse->cb(sse->arg, name, sse->data.p, sse->data.len);
		sse->data.len = 0;
	} else
		r = 0;
	sse->event.len = 0;
	return r;
}

/*
 * A data line's value.  The first one of an event, when it lies whole in
 * the caller's chunk (in_chunk), is only referenced; further ones are
 * copied, each with its '\n', into the data buffer.
 */
static inline int
sse_data(struct sse *sse, const char *v, size_t n, bool in_chunk)
{
	size_t len = sse->data.len + (sse->ref != NULL ? sse->ref_len + 1 : 0);

	/* len <= max holds: every line is checked here. */
	if (SSE_UNLIKELY(n >= sse->max - len))
		return -EMSGSIZE;
	if (SSE_LIKELY(in_chunk && len == 0)) {
		sse->ref = v;
		sse->ref_len = n;
		return 0;
	}
	sse_unref(sse);
	sse_data_copy(sse, v, n);
	return 0;
}

/* Whether v[0..n) holds a NUL: a word at a time, names are short. */
static inline bool
sse_has_nul(const char *v, size_t n)
{
	const uint64_t ones = 0x0101010101010101ull;
	uint64_t w, acc;
	size_t i;

	if (n < 8)
		return memchr(v, '\0', n) != NULL;
	/* A word has a zero byte iff (w - ones) & ~w has a high bit set. */
	memcpy(&w, v + n - 8, 8);
	acc = (w - ones) & ~w;
	for (i = 0; i + 8 < n; i += 8) {
		memcpy(&w, v + i, 8);
		acc |= (w - ones) & ~w;
	}
	return (acc & (ones << 7)) != 0;
}

/*
 * Whether a[0..n) equals b[0..n), for short n (event names) without a
 * call: words compared, the last one overlapping.
 */
static inline bool
sse_same(const char *a, const char *b, size_t n)
{
	uint64_t x, y;
	size_t i;

	if (n < 8)
		return memcmp(a, b, n) == 0;
	for (i = 0; i + 8 < n; i += 8) {
		memcpy(&x, a + i, 8);
		memcpy(&y, b + i, 8);
		if (x != y)
			return false;
	}
	memcpy(&x, a + n - 8, 8);
	memcpy(&y, b + n - 8, 8);
	return x == y;
}

/* Set the pending event's name; one holding a NUL is no name (the
 * callback could not see it whole). */
static inline int
sse_event(struct sse *sse, const char *v, size_t n)
{
	struct sse_buf *b = &sse->event;

	/* Streams repeat names: the one kept in b is checked already. */
	if (n == sse->event_kept && sse_same(b->p, v, n))
		b->len = n;
	else if (sse_has_nul(v, n))
		b->len = 0;
	else {
		sse_buf_set(b, v, n);
		sse->event_kept = n;
	}
	return 0;
}

/* Every line but a blank or a "data:" one: other fields, comments. */
static __attribute__((noinline)) int
sse_field(struct sse *sse, const char *line, size_t len)
{
	const char *colon, *value, *end = line + len;
	size_t nlen, vlen;

	if (line[0] == ':')
		return 0;
	colon = memchr(line, ':', len);
	if (colon != NULL) {
		nlen = (size_t)(colon - line);
		value = colon + 1;
		if (value < end && *value == ' ')
			value++;
	} else {
		nlen = len;
		value = end;
	}
	vlen = (size_t)(end - value);
	if (nlen == 4 && memcmp(line, "data", 4) == 0)
		return sse_data(sse, value, vlen, false);
	if (nlen == 5 && memcmp(line, "event", 5) == 0)
		return sse_event(sse, value, vlen);
	if (nlen == 2 && memcmp(line, "id", 2) == 0 &&
		memchr(value, '\0', vlen) == NULL) {
		sse_buf_set(&sse->id, value, vlen);
		sse->has_id = true;
	}
	if (nlen == 5 && memcmp(line, "retry", 5) == 0 && vlen > 0 &&
		vlen < 10) {
		long v = 0;
		size_t i;

		for (i = 0; i < vlen && value[i] >= '0' && value[i] <= '9'; i++)
			v = v * 10 + (value[i] - '0');
		if (i == vlen)
			sse->retry_ms = v;
	}
	/* Unknown fields are ignored. */
	return 0;
}

/* One complete line (without its end), parsed in place. */
static inline int
sse_line(struct sse *sse, const char *line, size_t len, bool in_chunk)
{
	const char *v;

	if (SSE_UNLIKELY(sse->first)) {
		sse->first = false;
		if (len >= 3 && memcmp(line, "\xEF\xBB\xBF", 3) == 0) {
			line += 3;
			len -= 3;
		}
	}
	if (len == 0)
		return sse_dispatch(sse);
	if (SSE_LIKELY(len >= 5 && memcmp(line, "data:", 5) == 0)) {
		v = line + 5;
		if (v < line + len && *v == ' ')
			v++;
		return sse_data(sse, v, (size_t)(line + len - v), in_chunk);
	}
	if (len >= 6 && memcmp(line, "event:", 6) == 0) {
		v = line + 6;
		if (v < line + len && *v == ' ')
			v++;
		return sse_event(sse, v, (size_t)(line + len - v));
	}
	return sse_field(sse, line, len);
}

/*
 * If p starts an "event:" line naming the event kept in sse->event,
 * ended by an LF before end, that LF: the line is then known without
 * looking for its end (the name holds no CR, LF or NUL).  Else NULL.
 */
static inline const char *
sse_event_repeat(const struct sse *sse, const char *p, const char *end)
{
	size_t n = sse->event_kept;
	const char *v;

	if (n == SIZE_MAX || (size_t)(end - p) < n + 7 ||
		memcmp(p, "event:", 6) != 0)
		return NULL;
	v = p + 6;
	if (*v == ' ')
		v++;
	if ((size_t)(end - v) <= n || v[n] != '\n' ||
		!sse_same(v, sse->event.p, n))
		return NULL;
	return v + n;
}

/* Create a parser calling cb for each event. */
struct sse *
sse_new(size_t max_event, sse_event_cb cb, void *arg)
{
	struct sse *sse;

	sse = xcalloc(1, sizeof(*sse));
	sse->retry_ms = -1;
	sse->max = max_event != 0 ? max_event : SSE_MAX_EVENT;
	sse->cb = cb;
	sse->arg = arg;
	sse->first = true;
	sse->event_kept = SIZE_MAX;
	return sse;
}

/* Free the parser. NULL-safe. */
void
sse_free(struct sse *sse)
{
	if (sse == NULL)
		return;
	free(sse->line.p);
	free(sse->data.p);
	free(sse->event.p);
	free(sse->id.p);
	free(sse);
}

/* Keep p[0..len), the start of a line cut by the chunk end. */
static int
sse_keep(struct sse *sse, const char *p, size_t len)
{
	struct sse_buf *b = &sse->line;

	if (len > sse->max - b->len)
		return -EMSGSIZE;
	if (b->len + len + 1 > b->cap)
		sse_buf_grow(b, b->len + len + 1);
	memcpy(b->p + b->len, p, len);
	b->len += len;
	return 0;
}

/*
 * Parse a chunk in one pass.  The next LF is found with memchr and the
 * next CR with memchr a block ahead, each remembered until the parse
 * passes it, so every byte is looked at once for each whatever the line
 * endings.  Complete lines are parsed in place with no copy; an event's
 * only data line reaches the callback straight from buf when the event
 * ends in the same chunk, and is copied once, into the event, otherwise.
 * Only a line cut by the chunk end is kept for the next chunk.
 */
static __attribute__((noinline)) int
sse_feed_lines(struct sse *sse, const char *buf, size_t len)
{
	const char *p = buf, *end = buf + len, *nl, *cr, *crlim, *eol;
	size_t n;
	int r;

	if (sse->err != 0)
		return sse->err;
	if (len == 0)
		return 0;
	if (sse->skip_lf) {
		sse->skip_lf = false;
		if (*p == '\n')
			p++;
	}
	/*
	 * nl: the next LF at or after p, or end for none.  cr: the next CR,
	 * or crlim when [p, crlim) has none; CRs are looked for a block
	 * ahead of the lines, so both scans read the same cache lines.
	 */
	if ((nl = memchr(p, '\n', (size_t)(end - p))) == NULL)
		nl = end;
	cr = crlim = p;
	while (p < end) {
		if (nl < p) {
			/*
			 * A line was parsed before (sse->first is false,
			 * sse->line is empty).  A blank line, the usual end
			 * of an event, is dispatched at once, as sse_line()
			 * would; a repeated event name is recognised with
			 * its LF; other lines need their end found.
			 */
			if (*p == '\n') {
				r = sse_dispatch(sse);
				p++;
				if (SSE_UNLIKELY(r != 0))
					goto fail;
				continue;
			} else if (*p == 'e' &&
				(eol = sse_event_repeat(sse, p, end)) != NULL) {
				/* What sse_event() does with it. */
				sse->event.len = sse->event_kept;
				p = eol + 1;
				continue;
			} else if ((nl = memchr(p, '\n', (size_t)(end - p))) ==
				NULL)
				nl = end;
		}
		/* Usually no CR is known before the LF: one compare. */
		if (SSE_UNLIKELY(cr <= nl)) {
			if (cr < p)
				cr = crlim = p;
			while (cr == crlim && crlim <= nl && crlim < end) {
				n = (size_t)(end - crlim) < SSE_CR_BLOCK
					? (size_t)(end - crlim)
					: SSE_CR_BLOCK;
				cr = memchr(crlim, '\r', n);
				crlim += n;
				if (cr == NULL)
					cr = crlim;
			}
			eol = cr < nl ? cr : nl;
		} else
			eol = nl;
		if (SSE_UNLIKELY(eol == end)) {
			r = sse_keep(sse, p, (size_t)(end - p));
			if (r != 0)
				goto fail;
			break;
		}
		if (SSE_UNLIKELY(sse->line.len > 0)) {
			r = sse_keep(sse, p, (size_t)(eol - p));
			if (r == 0)
				r = sse_line(
					sse, sse->line.p, sse->line.len, false);
			sse->line.len = 0;
		} else
			r = sse_line(sse, p, (size_t)(eol - p), true);
		p = eol + 1;
		if (SSE_UNLIKELY(eol == cr)) {
			if (p == end)
				sse->skip_lf = true;
			else if (*p == '\n')
				p++;
		}
		if (SSE_UNLIKELY(r != 0))
			goto fail;
	}
	sse_unref(sse); /* buf is the caller's only during the call */
	return 0;
fail:
	sse->ref = NULL;
	sse->err = r;
	return r;
}

/*
 * Parse len bytes.  Tiny pieces (a trickling stream, down to a byte a
 * call) mostly end no line: they are copied onto the kept line while
 * looking for its end, in a loop small enough to need no saved
 * registers.  A piece that ends a line, does not fit, or follows a CR
 * takes sse_feed_lines(), which copies it again.
 */
int
sse_feed(struct sse *sse, const char *buf, size_t len)
{
	struct sse_buf *b = &sse->line;
	size_t i;

	if (len < SSE_SMALL && sse->err == 0 && !sse->skip_lf &&
		b->cap - b->len > len && len <= sse->max - b->len) {
		for (i = 0; i < len && buf[i] != '\n' && buf[i] != '\r'; i++)
			b->p[b->len + i] = buf[i];
		if (i == len) {
			b->len += len;
			return 0;
		}
	}
	return sse_feed_lines(sse, buf, len);
}

/* The last event id seen. */
const char *
sse_last_id(const struct sse *sse)
{
	return sse->has_id ? sse->id.p : NULL;
}

/* The last "retry:" in ms, or -1. */
long
sse_retry_ms(const struct sse *sse)
{
	return sse->retry_ms;
}

/* How many events were dispatched. */
size_t
sse_count(const struct sse *sse)
{
	return sse->count;
}
