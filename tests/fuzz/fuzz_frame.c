/* SPDX-License-Identifier: ISC */
#include <errno.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <event2/buffer.h>
#include <json-c/json.h>

#include "proto/frame.h"
#include "proto/msg.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/* Everything a connection does with one framed line. */
static void
fuzz_frame_line(const char *line, size_t len, size_t limit)
{
	struct json_object *o, *id, *again;
	struct evbuffer *out;
	struct msg m;
	char *err = NULL, *copy;
	size_t n;

	if (len > limit || memchr(line, '\n', len) != NULL || line[len] != '\0')
		__builtin_trap();
	if (msg_parse(line, len, &m, &err) != 0) {
		if (err == NULL)
			__builtin_trap();
		free(err);
		id = msg_salvage_id(line, len);
		json_object_put(id);
		return;
	}
	if (err != NULL || m.root == NULL || m.name == NULL)
		__builtin_trap();
	(void)msg_param_str(&m, "name");
	(void)msg_param_int(&m, "n", 0);
	(void)msg_param_bool(&m, "b", false);

	/* What we write must be what we accept. */
	out = evbuffer_new();
	if (frame_write_json(out, m.root) != 0)
		__builtin_trap();
	n = evbuffer_get_length(out);
	copy = malloc(n + 1);
	evbuffer_remove(out, copy, n);
	copy[n] = '\0';
	again = msg_parse_json(copy, n - 1, &err);
	if (again == NULL)
		__builtin_trap();
	json_object_put(again);
	free(copy);
	evbuffer_free(out);

	o = msg_new_error(m.id, PERR_INVALID_REQUEST, NULL, "x");
	json_object_put(o);
	msg_clear(&m);
}

/*
 * data[0] picks the line limit (1..256), data[1] the size of the pieces
 * in which the rest arrives, as a socket would deliver it, and whether
 * the resumable or the stateless reader is used.
 */
int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct evbuffer *in;
	size_t limit, piece, off, n, scanned = 0, len;
	bool stateless;
	char *line;
	int r;

	if (size < 2)
		return 0;
	limit = 1 + data[0];
	piece = 1 + data[1] % 32;
	stateless = (data[1] & 0x80) != 0;
	data += 2;
	size -= 2;

	in = evbuffer_new();
	for (off = 0; off < size; off += n) {
		n = size - off < piece ? size - off : piece;
		evbuffer_add(in, data + off, n);
		for (;;) {
			if (stateless)
				r = frame_read_line(in, limit, &line, &len);
			else
				r = frame_read_line_from(
					in, limit, &scanned, &line, &len);
			if (r == 0)
				break;
			if (r == -EMSGSIZE) {
				evbuffer_drain(in, evbuffer_get_length(in));
				scanned = 0;
				break;
			}
			if (r != 1)
				__builtin_trap();
			fuzz_frame_line(line, len, limit);
			free(line);
		}
		if (evbuffer_get_length(in) > limit + 1)
			__builtin_trap();
	}
	evbuffer_free(in);
	return 0;
}
