/* SPDX-License-Identifier: ISC */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>
#include <event2/buffer.h>
#include <json-c/json.h>

#include "proto/frame.h"

#define LIMIT 16

/* Read one line; returns frame_read_line()'s result. */
static int
frame_test_read(struct evbuffer *in, size_t limit, char **line)
{
	size_t len = 0;
	int r;

	*line = NULL;
	r = frame_read_line(in, limit, line, &len);
	if (r == 1)
		assert_int_equal(len, strlen(*line));
	return r;
}

static void
test_frame_simple(void **state)
{
	struct evbuffer *in = evbuffer_new();
	char *line;

	evbuffer_add_printf(in, "{\"a\":1}\n");
	assert_int_equal(frame_test_read(in, LIMIT, &line), 1);
	assert_string_equal(line, "{\"a\":1}");
	free(line);
	assert_int_equal(frame_test_read(in, LIMIT, &line), 0);
	assert_int_equal(evbuffer_get_length(in), 0);
	evbuffer_free(in);
}

static void
test_frame_byte_by_byte(void **state)
{
	const char *text = "abc\r\n\n{\"x\":[1,2]}\n  \r\nlast\n";
	const char *want[] = { "abc", "{\"x\":[1,2]}", "last" };
	struct evbuffer *in = evbuffer_new();
	size_t i, got = 0, scanned = 0, len;
	char *line;
	int r;

	for (i = 0; text[i] != '\0'; i++) {
		evbuffer_add(in, &text[i], 1);
		while ((r = frame_read_line_from(
				in, LIMIT, &scanned, &line, &len)) == 1) {
			assert_true(got < 3);
			assert_string_equal(line, want[got]);
			assert_int_equal(len, strlen(want[got]));
			got++;
			free(line);
		}
		assert_int_equal(r, 0);
	}
	assert_int_equal(got, 3);
	/* The same through the stateless call. */
	for (i = 0; text[i] != '\0'; i++) {
		evbuffer_add(in, &text[i], 1);
		while (frame_test_read(in, LIMIT, &line) == 1) {
			got++;
			free(line);
		}
	}
	assert_int_equal(got, 6);
	evbuffer_free(in);
}

static void
test_frame_several_per_read(void **state)
{
	struct evbuffer *in = evbuffer_new();
	char *line;

	evbuffer_add_printf(in, "one\ntwo\n\n\nthree\npart");
	assert_int_equal(frame_test_read(in, LIMIT, &line), 1);
	assert_string_equal(line, "one");
	free(line);
	assert_int_equal(frame_test_read(in, LIMIT, &line), 1);
	assert_string_equal(line, "two");
	free(line);
	assert_int_equal(frame_test_read(in, LIMIT, &line), 1);
	assert_string_equal(line, "three");
	free(line);
	assert_int_equal(frame_test_read(in, LIMIT, &line), 0);
	assert_int_equal(evbuffer_get_length(in), 4);
	evbuffer_add_printf(in, "ial\n");
	assert_int_equal(frame_test_read(in, LIMIT, &line), 1);
	assert_string_equal(line, "partial");
	free(line);
	evbuffer_free(in);
}

static void
test_frame_blank_and_crlf(void **state)
{
	struct evbuffer *in = evbuffer_new();
	char *line;

	evbuffer_add_printf(in, "\n\r\n \t \n\r\n");
	assert_int_equal(frame_test_read(in, LIMIT, &line), 0);
	assert_int_equal(evbuffer_get_length(in), 0);
	evbuffer_add_printf(in, "a b\r\n");
	assert_int_equal(frame_test_read(in, LIMIT, &line), 1);
	assert_string_equal(line, "a b");
	free(line);
	/* Only one trailing '\r' is framing. */
	evbuffer_add_printf(in, "x\r\r\n");
	assert_int_equal(frame_test_read(in, LIMIT, &line), 1);
	assert_string_equal(line, "x\r");
	free(line);
	evbuffer_free(in);
}

static void
test_frame_exact_limit(void **state)
{
	struct evbuffer *in = evbuffer_new();
	char buf[LIMIT + 2], *line;

	memset(buf, 'a', sizeof(buf));
	/* Exactly LIMIT bytes without the newline yet: wait for more. */
	evbuffer_add(in, buf, LIMIT);
	assert_int_equal(frame_test_read(in, LIMIT, &line), 0);
	evbuffer_add(in, "\n", 1);
	assert_int_equal(frame_test_read(in, LIMIT, &line), 1);
	assert_int_equal(strlen(line), LIMIT);
	free(line);
	/* LIMIT bytes plus CRLF, the '\r' arriving before the '\n'. */
	evbuffer_add(in, buf, LIMIT);
	evbuffer_add(in, "\r", 1);
	assert_int_equal(frame_test_read(in, LIMIT, &line), 0);
	evbuffer_add(in, "\n", 1);
	assert_int_equal(frame_test_read(in, LIMIT, &line), 1);
	assert_int_equal(strlen(line), LIMIT);
	free(line);
	assert_int_equal(evbuffer_get_length(in), 0);
	evbuffer_free(in);
}

static void
test_frame_over_limit_complete(void **state)
{
	struct evbuffer *in = evbuffer_new();
	char buf[LIMIT + 1], *line;

	memset(buf, 'a', sizeof(buf));
	evbuffer_add(in, buf, LIMIT + 1);
	evbuffer_add_printf(in, "\nok\n");
	/* Checked on a whole buffer, as when both arrive in one read. */
	assert_int_equal(frame_test_read(in, LIMIT, &line), -EMSGSIZE);
	assert_null(line);
	/* The over-long line was removed; the next one is intact. */
	assert_int_equal(frame_test_read(in, LIMIT, &line), 1);
	assert_string_equal(line, "ok");
	free(line);
	evbuffer_free(in);
}

static void
test_frame_over_limit_partial(void **state)
{
	struct evbuffer *in = evbuffer_new();
	size_t i, scanned = 0;
	char *line = NULL;
	int r = 0;

	/* No newline ever: the error comes at byte LIMIT + 1. */
	for (i = 0; i < LIMIT + 1; i++) {
		evbuffer_add(in, "a", 1);
		r = frame_read_line_from(in, LIMIT, &scanned, &line, NULL);
		if (i < LIMIT)
			assert_int_equal(r, 0);
	}
	assert_int_equal(r, -EMSGSIZE);
	assert_null(line);
	evbuffer_free(in);

	/* LIMIT bytes and a '\r' not followed by '\n' is one byte over. */
	in = evbuffer_new();
	for (i = 0; i < LIMIT; i++)
		evbuffer_add(in, "a", 1);
	evbuffer_add(in, "\r", 1);
	assert_int_equal(frame_test_read(in, LIMIT, &line), 0);
	evbuffer_add(in, "b", 1);
	assert_int_equal(frame_test_read(in, LIMIT, &line), -EMSGSIZE);
	evbuffer_free(in);
}

static void
test_frame_big_line_in_pieces(void **state)
{
	struct evbuffer *in = evbuffer_new();
	size_t limit = 4u << 20, chunk = 4096, i, scanned = 0, len = 0;
	char *piece, *line = NULL;

	piece = malloc(chunk);
	memset(piece, 'z', chunk);
	for (i = 0; i < limit / chunk; i++) {
		evbuffer_add(in, piece, chunk);
		assert_int_equal(
			frame_read_line_from(in, limit, &scanned, &line, &len),
			0);
	}
	evbuffer_add(in, "\n", 1);
	assert_int_equal(
		frame_read_line_from(in, limit, &scanned, &line, &len), 1);
	assert_int_equal(len, limit);
	free(line);
	free(piece);
	evbuffer_free(in);
}

static void
test_frame_write_json(void **state)
{
	struct evbuffer *out = evbuffer_new();
	struct json_object *o = json_object_new_object();
	char buf[64];
	size_t n;

	json_object_object_add(o, "path", json_object_new_string("/a/b"));
	json_object_object_add(o, "n", json_object_new_int(3));
	assert_int_equal(frame_write_json(out, o), 0);
	n = evbuffer_remove(out, buf, sizeof(buf) - 1);
	buf[n] = '\0';
	assert_string_equal(buf, "{\"path\":\"/a/b\",\"n\":3}\n");
	json_object_put(o);
	evbuffer_free(out);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_frame_simple),
		cmocka_unit_test(test_frame_byte_by_byte),
		cmocka_unit_test(test_frame_several_per_read),
		cmocka_unit_test(test_frame_blank_and_crlf),
		cmocka_unit_test(test_frame_exact_limit),
		cmocka_unit_test(test_frame_over_limit_complete),
		cmocka_unit_test(test_frame_over_limit_partial),
		cmocka_unit_test(test_frame_big_line_in_pieces),
		cmocka_unit_test(test_frame_write_json),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
