/* SPDX-License-Identifier: ISC */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>
#include <json-c/json.h>

#include "proto/msg.h"

/* Parse s; on failure return the error text (caller frees), else NULL. */
static char *
msg_test_fail(const char *s, size_t len)
{
	struct msg m;
	char *err = NULL;

	if (msg_parse(s, len, &m, &err) == 0) {
		msg_clear(&m);
		return NULL;
	}
	assert_non_null(err);
	return err;
}

static void
msg_test_rejects(const char *s, const char *needle)
{
	char *err = msg_test_fail(s, strlen(s));

	if (err == NULL)
		fail_msg("accepted: %s", s);
	if (needle != NULL && strstr(err, needle) == NULL)
		fail_msg("error for %s is \"%s\", wanted \"%s\"", s, err,
			needle);
	free(err);
}

static void
msg_test_accepts(const char *s)
{
	char *err = msg_test_fail(s, strlen(s));

	if (err != NULL)
		fail_msg("refused %s: %s", s, err);
}

static void
test_msg_request(void **state)
{
	const char *s = "{\"method\":\"spawn\",\"params\":{\"name\":\"a\","
			"\"n\":5,\"b\":true,\"big\":9007199254740993},"
			"\"id\":7}  \t";
	struct msg m;
	char *err = NULL;

	assert_int_equal(msg_parse(s, strlen(s), &m, &err), 0);
	assert_null(err);
	assert_int_equal(m.kind, MSG_REQUEST);
	assert_string_equal(m.name, "spawn");
	assert_non_null(m.params);
	assert_int_equal(json_object_get_int64(m.id), 7);
	assert_string_equal(msg_param_str(&m, "name"), "a");
	assert_null(msg_param_str(&m, "n"));
	assert_null(msg_param_str(&m, "missing"));
	assert_int_equal(msg_param_int(&m, "n", -1), 5);
	assert_int_equal(msg_param_int(&m, "big", -1), 9007199254740993LL);
	assert_int_equal(msg_param_int(&m, "name", -1), -1);
	assert_true(msg_param_bool(&m, "b", false));
	assert_false(msg_param_bool(&m, "n", false));
	assert_true(msg_param_bool(&m, "missing", true));
	assert_non_null(msg_param(&m, "n"));
	assert_null(msg_param(&m, "missing"));
	msg_clear(&m);
	msg_clear(&m);
	msg_clear(NULL);
}

static void
test_msg_event(void **state)
{
	const char *s = "{\"event\":\"pong\",\"seq\":12,\"id\":\"abc\"}";
	struct msg m;
	char *err = NULL;

	assert_int_equal(msg_parse(s, strlen(s), &m, &err), 0);
	assert_int_equal(m.kind, MSG_EVENT);
	assert_string_equal(m.name, "pong");
	assert_null(m.params);
	assert_int_equal(m.seq, 12);
	assert_string_equal(json_object_get_string(m.id), "abc");
	/* No params: getters give defaults. */
	assert_null(msg_param_str(&m, "x"));
	assert_int_equal(msg_param_int(&m, "x", 4), 4);
	msg_clear(&m);
}

static void
test_msg_invalid_utf8(void **state)
{
	msg_test_rejects(
		"{\"method\":\"ping\",\"params\":{\"a\":\"\xff\"}}", "utf-8");
	msg_test_rejects("{\"method\":\"p\xc3\"}", "utf-8");
	/* An overlong encoding of '/'. */
	msg_test_rejects("{\"method\":\"\xc0\xaf\"}", "utf-8");
	msg_test_accepts("{\"method\":\"caf\xc3\xa9\"}");
	/* A UTF-16 surrogate encoded in UTF-8 (CESU) is not UTF-8. */
	msg_test_rejects("{\"method\":\"\xed\xa0\x80\"}", "utf-8");
	msg_test_rejects("{\"method\":\"\xf4\x90\x80\x80\"}", "utf-8");
	msg_test_accepts("{\"method\":\"\xf0\x9f\x98\x80\"}");
}

static void
test_msg_trailing(void **state)
{
	char *err;

	msg_test_rejects("{\"method\":\"ping\"} x", NULL);
	msg_test_rejects("{\"method\":\"ping\"}{}", NULL);
	msg_test_rejects("{\"method\":\"ping\"},", NULL);
	/* An embedded NUL after the object is trailing garbage too. */
	err = msg_test_fail("{\"method\":\"ping\"}\0x", 19);
	assert_non_null(err);
	assert_non_null(strstr(err, "trailing"));
	free(err);
	msg_test_accepts("{\"method\":\"ping\"} \r\n");
	msg_test_rejects("{\"method\":\"ping\"", "incomplete");
	msg_test_rejects("", NULL);
}

static char *
msg_test_nested(int depth, bool in_params)
{
	char *s = malloc(64 + 2 * (size_t)depth);
	size_t k = 0;
	int i, arrays = in_params ? depth - 2 : depth;

	if (in_params)
		k += (size_t)sprintf(s, "{\"method\":\"x\",\"params\":{\"a\":");
	for (i = 0; i < arrays; i++)
		s[k++] = '[';
	for (i = 0; i < arrays; i++)
		s[k++] = ']';
	if (in_params) {
		s[k++] = '}';
		s[k++] = '}';
	}
	s[k] = '\0';
	return s;
}

static void
test_msg_depth(void **state)
{
	struct json_object *o;
	char *s, *err = NULL;

	/* 32 nested arrays are fine, 33 are not. */
	s = msg_test_nested(32, false);
	o = msg_parse_json(s, strlen(s), &err);
	assert_non_null(o);
	json_object_put(o);
	free(s);
	s = msg_test_nested(33, false);
	assert_null(msg_parse_json(s, strlen(s), &err));
	assert_non_null(strstr(err, "nesting too deep"));
	free(err);
	free(s);

	/* The same for a message: object + params + arrays. */
	s = msg_test_nested(32, true);
	assert_null(msg_test_fail(s, strlen(s)));
	free(s);
	s = msg_test_nested(33, true);
	err = msg_test_fail(s, strlen(s));
	assert_non_null(err);
	assert_non_null(strstr(err, "nesting too deep"));
	free(err);
	free(s);

	/* A deep bomb is refused without recursing through it. */
	s = msg_test_nested(100000, true);
	err = msg_test_fail(s, strlen(s));
	assert_non_null(err);
	free(err);
	free(s);
}

static void
test_msg_shape(void **state)
{
	msg_test_rejects("[1,2]", "must be a JSON object");
	msg_test_rejects("\"ping\"", "must be a JSON object");
	msg_test_rejects("42", "must be a JSON object");
	msg_test_rejects("null", "must be a JSON object");
	msg_test_rejects("{\"method\":\"a\",\"event\":\"b\"}", "not both");
	msg_test_rejects("{\"params\":{}}", "needs \"method\" or \"event\"");
	msg_test_rejects("{\"method\":5}", "\"method\" must be a string");
	msg_test_rejects("{\"event\":null}", "\"event\" must be a string");
	msg_test_rejects("{\"event\":[\"x\"]}", "\"event\" must be a string");
	msg_test_rejects("{\"method\":\"\"}", "non-empty");
	msg_test_rejects("{\"method\":\"a\\u0000b\"}", "non-empty");
	msg_test_rejects("{\"method\":\"a\",\"params\":[1]}",
		"\"params\" must be an object");
	msg_test_rejects("{\"event\":\"a\",\"data\":\"x\"}",
		"\"data\" must be an object");
	msg_test_rejects(
		"{\"method\":\"a\",\"params\":{\"x\":NaN}}", "out of range");
	msg_test_rejects(
		"{\"method\":\"a\",\"params\":{\"x\":1e999}}", "out of range");
	/* Unknown fields are allowed; null params/id count as absent. */
	msg_test_accepts("{\"method\":\"a\",\"zzz\":[1]}");
	msg_test_accepts("{\"method\":\"a\",\"params\":null,\"id\":null}");
}

static void
test_msg_ids(void **state)
{
	char s[200], id[80];

	msg_test_rejects("{\"method\":\"a\",\"id\":1.5}",
		"\"id\" must be an integer or a string");
	msg_test_rejects("{\"method\":\"a\",\"id\":7.0}",
		"\"id\" must be an integer or a string");
	msg_test_rejects("{\"method\":\"a\",\"id\":true}", "\"id\" must be");
	msg_test_rejects("{\"method\":\"a\",\"id\":[1]}", "\"id\" must be");
	msg_test_rejects("{\"method\":\"a\",\"id\":{}}", "\"id\" must be");
	msg_test_rejects("{\"method\":\"a\",\"id\":9223372036854775808}",
		"out of range");
	msg_test_accepts("{\"method\":\"a\",\"id\":9223372036854775807}");
	msg_test_accepts("{\"method\":\"a\",\"id\":-3}");
	msg_test_accepts("{\"method\":\"a\",\"id\":\"\"}");

	memset(id, 'x', 64);
	id[64] = '\0';
	snprintf(s, sizeof(s), "{\"method\":\"a\",\"id\":\"%s\"}", id);
	assert_null(msg_test_fail(s, strlen(s)));
	id[64] = 'x';
	id[65] = '\0';
	snprintf(s, sizeof(s), "{\"method\":\"a\",\"id\":\"%s\"}", id);
	msg_test_rejects(s, "longer than 64 bytes");
}

static void
test_msg_salvage_id(void **state)
{
	const char *s = "{\"method\":5,\"id\":\"r1\"}";
	struct json_object *id;

	id = msg_salvage_id(s, strlen(s));
	assert_non_null(id);
	assert_string_equal(json_object_get_string(id), "r1");
	json_object_put(id);
	s = "{\"method\":5,\"id\":1.5}";
	assert_null(msg_salvage_id(s, strlen(s)));
	s = "{\"method\":5,\"id\":1";
	assert_null(msg_salvage_id(s, strlen(s)));
	s = "[1]";
	assert_null(msg_salvage_id(s, strlen(s)));
}

static void
test_msg_parse_json(void **state)
{
	struct json_object *o;
	char *err = NULL;

	o = msg_parse_json("123", 3, &err);
	assert_non_null(o);
	assert_int_equal(json_object_get_int(o), 123);
	json_object_put(o);
	o = msg_parse_json(" [true] ", 8, &err);
	assert_non_null(o);
	json_object_put(o);
	assert_null(msg_parse_json("12 3", 4, &err));
	free(err);
	assert_null(msg_parse_json("{\"a\":}", 6, &err));
	assert_non_null(strstr(err, "invalid JSON"));
	free(err);
}

static void
test_msg_builders(void **state)
{
	struct json_object *o, *id, *extra, *data;
	const char *s;

	id = json_object_new_int(7);
	o = msg_new_request("ping", NULL, id);
	assert_string_equal(
		json_object_to_json_string_ext(o, JSON_C_TO_STRING_PLAIN),
		"{\"method\":\"ping\",\"id\":7}");
	json_object_put(o);

	data = json_object_new_object();
	json_object_object_add(data, "name", json_object_new_string("a"));
	o = msg_new_event("spawned", data, id);
	assert_string_equal(
		json_object_to_json_string_ext(o, JSON_C_TO_STRING_PLAIN),
		"{\"event\":\"spawned\",\"data\":{\"name\":\"a\"},\"id\":7}");
	json_object_put(o);

	/* Empty data is omitted, as is a NULL id. */
	o = msg_new_event("pong", json_object_new_object(), NULL);
	assert_string_equal(
		json_object_to_json_string_ext(o, JSON_C_TO_STRING_PLAIN),
		"{\"event\":\"pong\"}");
	json_object_put(o);

	extra = json_object_new_object();
	json_object_object_add(extra, "pod", json_object_new_string("b"));
	json_object_object_add(extra, "code", json_object_new_string("x"));
	o = msg_new_error(id, PERR_WRITE_CONFLICT, extra, "taken");
	s = json_object_to_json_string_ext(o, JSON_C_TO_STRING_PLAIN);
	assert_string_equal(s,
		"{\"event\":\"error\",\"data\":{\"code\":\"write_conflict\","
		"\"message\":\"taken\",\"pod\":\"b\"},\"id\":7}");
	json_object_put(o);
	/* The id was only referenced by the builders. */
	assert_int_equal(json_object_put(id), 1);
}

static void
test_msg_err_names(void **state)
{
	static const char *const want[] = { "invalid_request", "line_too_long",
		"invalid_name", "not_found", "not_visible", "already_exists",
		"already_live", "not_live", "not_subset", "write_conflict",
		"spawn_failed", "already_running", "not_running", "not_paused",
		"provider_error", "tool_error", "busy", "internal",
		"already_decided" };
	int i;

	assert_int_equal(PERR__COUNT, sizeof(want) / sizeof(want[0]));
	for (i = 0; i < PERR__COUNT; i++) {
		assert_string_equal(proto_err_name((enum proto_err)i), want[i]);
		assert_int_equal(proto_err_from_name(want[i]), i);
	}
	assert_int_equal(proto_err_from_name("nope"), -1);
	assert_int_equal(proto_err_from_name(NULL), -1);
	assert_string_equal(proto_err_name(PERR__COUNT), "internal");
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_msg_request),
		cmocka_unit_test(test_msg_event),
		cmocka_unit_test(test_msg_invalid_utf8),
		cmocka_unit_test(test_msg_trailing),
		cmocka_unit_test(test_msg_depth),
		cmocka_unit_test(test_msg_shape),
		cmocka_unit_test(test_msg_ids),
		cmocka_unit_test(test_msg_salvage_id),
		cmocka_unit_test(test_msg_parse_json),
		cmocka_unit_test(test_msg_builders),
		cmocka_unit_test(test_msg_err_names),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
