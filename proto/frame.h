/* SPDX-License-Identifier: ISC */
#ifndef PROTO_FRAME_H
#define PROTO_FRAME_H

#include <stddef.h>

struct evbuffer;
struct json_object;

/* Inbound line limits of PROTOCOL.md (bytes, not counting the '\n'). */
#define FRAME_LIMIT_CONTROL (1024u * 1024u)
#define FRAME_LIMIT_WORKER (16u * 1024u * 1024u)
#define FRAME_LIMIT_POD (16u * 1024u * 1024u)

/*
 * Take the next non-blank line from in.  Returns 1 and a NUL-terminated
 * copy in *ret_line (caller frees; the '\n' and a trailing '\r' are
 * removed) when a whole line is buffered, 0 when more input is needed,
 * -EMSGSIZE when the line (complete or not) is longer than limit bytes.
 * A line of exactly limit bytes is accepted.
 */
int frame_read_line(
	struct evbuffer *in, size_t limit, char **ret_line, size_t *ret_len);

/*
 * Same, for a reader that receives a long line in many pieces: the search
 * for '\n' resumes at *scanned (0 at first; the number of leading bytes
 * of in already known to hold no '\n'), which is updated.  Nothing but
 * this function may remove bytes from in between calls.  A complete
 * over-long line is removed from in before -EMSGSIZE is returned.
 */
int frame_read_line_from(struct evbuffer *in, size_t limit, size_t *scanned,
	char **ret_line, size_t *ret_len);

/* Append obj serialised compactly plus '\n' to out. */
int frame_write_json(struct evbuffer *out, struct json_object *obj);

#endif
