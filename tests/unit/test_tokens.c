/* SPDX-License-Identifier: ISC */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>
#include <json-c/json.h>

#include "common/tokens.h"

static void
test_add_saturates(void **state)
{
	struct token_usage a = { .input_tokens = INT64_MAX - 1,
		.output_tokens = 5 };
	struct token_usage b = {
		.input_tokens = 10, .output_tokens = -3, .reasoning_tokens = 7
	};

	token_usage_add(&a, &b);
	assert_true(a.input_tokens == INT64_MAX);
	assert_int_equal(a.output_tokens, 5); /* negative adds nothing */
	assert_int_equal(a.reasoning_tokens, 7);
	assert_true(token_sat_add(INT64_MAX, 1) == INT64_MAX);
}

static void
test_max_and_cost(void **state)
{
	struct token_usage a = { .input_tokens = 100,
		.output_tokens = 20,
		.cache_read_tokens = 80 };
	struct token_usage b = { .input_tokens = 90, .output_tokens = 30 };

	assert_true(token_usage_max(&a, &b));
	assert_int_equal(a.input_tokens, 100);
	assert_int_equal(a.output_tokens, 30);
	assert_int_equal(a.cache_read_tokens, 80);
	assert_false(token_usage_max(&a, &b));
	/* cached input is charged at full size */
	assert_int_equal(token_usage_cost(&a), 130);
}

static void
test_json_round_trip(void **state)
{
	struct token_usage u = { 1, 2, 3, 4, 5 }, v, w = { 0 };
	struct json_object *o = token_usage_json(&u);
	char buf[256];
	int n;

	assert_int_equal(token_usage_parse(o, &v), 0);
	assert_memory_equal(&u, &v, sizeof u);
	token_usage_add_json(&w, o);
	token_usage_add_json(&w, o);
	assert_int_equal(w.reasoning_tokens, 10);
	n = token_usage_format(&u, buf, sizeof buf);
	assert_int_equal(n, (int)strlen(buf));
	assert_string_equal(buf,
		"{\"input_tokens\":1,\"cache_read_tokens\":3,"
		"\"cache_write_tokens\":4,\"output_tokens\":2,"
		"\"reasoning_tokens\":5}");
	/* too small a buffer: cut, never overrun, the full length told */
	memset(buf, 'x', sizeof buf);
	assert_int_equal(token_usage_format(&u, buf, 10), n);
	assert_int_equal(strlen(buf), 9);
	json_object_put(o);
}

static void
test_parse_refuses_bad_counts(void **state)
{
	struct json_object *o;
	struct token_usage u;

	o = json_tokener_parse("{\"input_tokens\":-1}");
	assert_int_equal(token_usage_parse(o, &u), -EINVAL);
	json_object_put(o);
	o = json_tokener_parse("{\"output_tokens\":\"7\"}");
	assert_int_equal(token_usage_parse(o, &u), -EINVAL);
	json_object_put(o);
	o = json_tokener_parse("[1]");
	assert_int_equal(token_usage_parse(o, &u), -EINVAL);
	json_object_put(o);
	o = json_tokener_parse("{\"output_tokens\":7,\"other\":\"x\"}");
	assert_int_equal(token_usage_parse(o, &u), 0);
	assert_int_equal(u.output_tokens, 7);
	assert_int_equal(u.input_tokens, 0);
	json_object_put(o);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_add_saturates),
		cmocka_unit_test(test_max_and_cost),
		cmocka_unit_test(test_json_round_trip),
		cmocka_unit_test(test_parse_refuses_bad_counts),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
