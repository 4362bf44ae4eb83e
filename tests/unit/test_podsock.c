/* SPDX-License-Identifier: ISC */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>
#include <json-c/json.h>

#include "proto/dispatch.h"
#include "worker/attach.h"
#include "worker/link.h"
#include "worker/podsock.h"
#include "worker/provider.h"
#include "worker/tool_pod.h"

static void
test_tables_sorted(void **state)
{
	const struct dispatch_entry *t;
	size_t n;

	t = podsock_dispatch_table(&n);
	assert_int_equal(n, 12);
	assert_true(dispatch_table_valid(t, n));
	t = link_dispatch_table(&n);
	assert_int_equal(n, 6);
	assert_true(dispatch_table_valid(t, n));
}

static void
test_pod_tool_defs(void **state)
{
	const struct llm_tool_def *d;
	struct json_object *schema;
	size_t n, i;

	d = tool_pod_defs(&n);
	assert_int_equal(n, 8);
	for (i = 0; i < n; i++) {
		assert_true(tool_pod_is_pod_tool(d[i].name));
		schema = json_tokener_parse(d[i].schema_json);
		assert_non_null(schema);
		assert_true(json_object_is_type(schema, json_type_object));
		json_object_put(schema);
	}
	assert_false(tool_pod_is_pod_tool("bash"));
}

static void
test_utf8(void **state)
{
	static const char ok[] =
		"plain \xc3\xa9t\xc3\xa9 \xe2\x82\xac \xf0\x9f\x98\x80";
	static const char bad[] = "a\xc3(b";

	assert_true(attach_utf8_valid(ok, strlen(ok)));
	assert_false(attach_utf8_valid(bad, strlen(bad)));
	assert_int_equal(attach_utf8_prefix(bad, strlen(bad)), 1);
	/* A sequence cut short is not part of the prefix. */
	assert_int_equal(
		attach_utf8_prefix(ok, strlen(ok) - 1), strlen(ok) - 4);
	/* Overlong encodings and surrogates are refused; NUL too. */
	assert_false(attach_utf8_valid("\xc0\xaf", 2));
	assert_false(attach_utf8_valid("\xed\xa0\x80", 3));
	assert_false(attach_utf8_valid("a\0b", 3));
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_tables_sorted),
		cmocka_unit_test(test_pod_tool_defs),
		cmocka_unit_test(test_utf8),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
