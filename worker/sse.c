/* SPDX-License-Identifier: ISC */
#include "worker/sse.h"

#include <errno.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

#include "common/xmalloc.h"

struct sse_buf {
	char *p;
	size_t len;
	size_t cap;
};

struct sse {
	size_t max;
	sse_event_cb cb;
	void *arg;
	struct sse_buf line; /* a line not yet ended */
	struct sse_buf data; /* data lines, each followed by '\n' */
	struct sse_buf event; /* event name of the pending event */
	char *id;
	size_t count;
	int err;
	bool skip_lf; /* last chunk ended in CR: a leading LF is its pair */
	bool first; /* the next line is the stream's first (BOM) */
};

static void
sse_buf_add(struct sse_buf *b, const char *p, size_t len)
{
	size_t need = b->len + len + 1;

	if (need > b->cap) {
		b->cap = b->cap == 0 ? 256 : b->cap;
		while (b->cap < need)
			b->cap *= 2;
		b->p = xreallocarray(b->p, 1, b->cap);
	}
	memcpy(b->p + b->len, p, len);
	b->len += len;
	b->p[b->len] = '\0';
}

static int
sse_dispatch(struct sse *sse)
{
	const char *name = "message";
	int r;

	if (sse->data.len == 0) {
		sse->event.len = 0;
		return 0;
	}
	sse->data.len--; /* the last '\n' */
	sse->data.p[sse->data.len] = '\0';
	if (sse->event.len > 0)
		name = sse->event.p;
	sse->count++;
	r = sse->cb(sse->arg, name, sse->data.p, sse->data.len);
	sse->data.len = 0;
	sse->event.len = 0;
	return r;
}

static int
sse_line(struct sse *sse, const char *line, size_t len)
{
	const char *colon, *value, *end = line + len;
	size_t nlen;

	if (sse->first) {
		sse->first = false;
		if (len >= 3 && memcmp(line, "\xEF\xBB\xBF", 3) == 0) {
			line += 3;
			len -= 3;
		}
	}
	if (len == 0)
		return sse_dispatch(sse);
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
	if (nlen == 4 && memcmp(line, "data", 4) == 0) {
		if (sse->data.len + (size_t)(end - value) + 1 > sse->max)
			return -EMSGSIZE;
		sse_buf_add(&sse->data, value, (size_t)(end - value));
		sse_buf_add(&sse->data, "\n", 1);
	} else if (nlen == 5 && memcmp(line, "event", 5) == 0) {
		/* A name the callback cannot see whole is no name. */
		sse->event.len = 0;
		if (memchr(value, '\0', (size_t)(end - value)) == NULL)
			sse_buf_add(&sse->event, value, (size_t)(end - value));
	} else if (nlen == 2 && memcmp(line, "id", 2) == 0) {
		if (memchr(value, '\0', (size_t)(end - value)) == NULL) {
			free(sse->id);
			sse->id = xstrndup(value, (size_t)(end - value));
		}
	}
	/* "retry" and unknown fields are ignored. */
	return 0;
}

/* Create a parser calling cb for each event. */
struct sse *
sse_new(size_t max_event, sse_event_cb cb, void *arg)
{
	struct sse *sse;

	sse = xcalloc(1, sizeof(*sse));
	sse->max = max_event != 0 ? max_event : SSE_MAX_EVENT;
	sse->cb = cb;
	sse->arg = arg;
	sse->first = true;
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
	free(sse->id);
	free(sse);
}

/*
 * Parse a chunk.  The next LF and CR are searched once each with memchr
 * and remembered, so a whole buffer costs O(len) whatever the line
 * endings; complete lines are parsed in place, only a line cut by the
 * chunk boundary is copied.
 */
int
sse_feed(struct sse *sse, const char *buf, size_t len)
{
	const char *p = buf, *end = buf + len, *eol;
	const char *nl = NULL, *cr = NULL;
	bool nl_none = false, cr_none = false;
	int r;

	if (sse->err != 0)
		return sse->err;
	if (sse->skip_lf && p < end) {
		if (*p == '\n')
			p++;
		sse->skip_lf = false;
	}
	while (p < end) {
		if (!nl_none && (nl == NULL || nl < p)) {
			nl = memchr(p, '\n', (size_t)(end - p));
			nl_none = nl == NULL;
		}
		if (!cr_none && (cr == NULL || cr < p)) {
			cr = memchr(p, '\r', (size_t)(end - p));
			cr_none = cr == NULL;
		}
		eol = nl_none ? NULL : nl;
		if (!cr_none && (eol == NULL || cr < eol))
			eol = cr;
		if (eol == NULL) {
			if (sse->line.len + (size_t)(end - p) > sse->max) {
				sse->err = -EMSGSIZE;
				return sse->err;
			}
			sse_buf_add(&sse->line, p, (size_t)(end - p));
			break;
		}
		if (sse->line.len > 0) {
			if (sse->line.len + (size_t)(eol - p) > sse->max) {
				sse->err = -EMSGSIZE;
				return sse->err;
			}
			sse_buf_add(&sse->line, p, (size_t)(eol - p));
			r = sse_line(sse, sse->line.p, sse->line.len);
			sse->line.len = 0;
		} else
			r = sse_line(sse, p, (size_t)(eol - p));
		if (*eol == '\r') {
			if (eol + 1 == end)
				sse->skip_lf = true;
			else if (eol[1] == '\n')
				eol++;
		}
		p = eol + 1;
		if (r != 0) {
			sse->err = r;
			return r;
		}
	}
	return 0;
}

/* The last event id seen. */
const char *
sse_last_id(const struct sse *sse)
{
	return sse->id;
}

/* How many events were dispatched. */
size_t
sse_count(const struct sse *sse)
{
	return sse->count;
}
