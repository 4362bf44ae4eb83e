/* SPDX-License-Identifier: ISC */
#include <errno.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

#include <event2/buffer.h>
#include <json-c/json.h>

#include "common/xmalloc.h"
#include "proto/frame.h"

static bool
frame_blank(const char *s, size_t len)
{
	size_t i;

	for (i = 0; i < len; i++) {
		if (s[i] != ' ' && s[i] != '\t' && s[i] != '\r')
			return false;
	}
	return true;
}

/*
 * True if the n bytes buffered without a '\n' already make a line longer
 * than limit: one extra byte is tolerated only if it is the '\r' of a
 * CRLF whose '\n' has not arrived yet.
 */
static bool
frame_partial_too_long(struct evbuffer *in, size_t n, size_t limit)
{
	struct evbuffer_ptr p;
	char last;

	if (n <= limit)
		return false;
	if (n > limit + 1)
		return true;
	if (evbuffer_ptr_set(in, &p, n - 1, EVBUFFER_PTR_SET) != 0)
		return true;
	if (evbuffer_copyout_from(in, &p, &last, 1) != 1)
		return true;
	return last != '\r';
}

/* Read the next non-blank line, resuming the '\n' search at *scanned. */
int
frame_read_line_from(struct evbuffer *in, size_t limit, size_t *scanned,
	char **ret_line, size_t *ret_len)
{
	struct evbuffer_ptr start, nl;
	size_t buffered, n, len;
	char *line;

	for (;;) {
		buffered = evbuffer_get_length(in);
		if (*scanned > buffered)
			*scanned = 0;
		if (*scanned == buffered)
			nl.pos = -1;
		else if (evbuffer_ptr_set(
				 in, &start, *scanned, EVBUFFER_PTR_SET) != 0)
			nl = evbuffer_search(in, "\n", 1, NULL);
		else
			nl = evbuffer_search(in, "\n", 1, &start);
		if (nl.pos < 0) {
			*scanned = buffered;
			if (frame_partial_too_long(in, buffered, limit))
				return -EMSGSIZE;
			return 0;
		}
		n = (size_t)nl.pos;
		*scanned = 0;

		if (n > limit + 1) {
			evbuffer_drain(in, n + 1);
			return -EMSGSIZE;
		}
		line = xmalloc(n + 1);
		if (n > 0 && evbuffer_remove(in, line, n) != (int)n) {
			free(line);
			return -EIO;
		}
		evbuffer_drain(in, 1);
		line[n] = '\0';
		len = n;
		if (len > 0 && line[len - 1] == '\r')
			line[--len] = '\0';
		if (len > limit) {
			free(line);
			return -EMSGSIZE;
		}
		if (frame_blank(line, len)) {
			free(line);
			continue;
		}
		*ret_line = line;
		if (ret_len != NULL)
			*ret_len = len;
		return 1;
	}
}

/* Read the next non-blank line of in (see frame.h). */
int
frame_read_line(
	struct evbuffer *in, size_t limit, char **ret_line, size_t *ret_len)
{
	size_t scanned = 0;

	return frame_read_line_from(in, limit, &scanned, ret_line, ret_len);
}

/* Serialise obj compactly and append it with a '\n' to out. */
int
frame_write_json(struct evbuffer *out, struct json_object *obj)
{
	const char *s;
	size_t len;

	s = json_object_to_json_string_length(obj,
		JSON_C_TO_STRING_PLAIN | JSON_C_TO_STRING_NOSLASHESCAPE, &len);
	if (s == NULL)
		return -ENOMEM;
	if (evbuffer_expand(out, len + 1) != 0 ||
		evbuffer_add(out, s, len) != 0 ||
		evbuffer_add(out, "\n", 1) != 0)
		return -ENOMEM;
	return 0;
}
