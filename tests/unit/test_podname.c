/* SPDX-License-Identifier: ISC */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "common/podname.h"

static void
test_table(void **state)
{
	static const struct {
		const char *name;
		bool valid;
		const char *msg_part; /* substring of the error */
	} t[] = {
		{ "a", true, NULL },
		{ "0", true, NULL },
		{ "a.child", true, NULL },
		{ "my_pod-2", true, NULL },
		{ "9lives", true, NULL },
		{ "a..b", true, NULL },
		{ "a.", true, NULL },
		{ "a-", true, NULL },
		{ "", false, "empty" },
		{ ".", false, "\".\"" },
		{ "..", false, "\"..\"" },
		{ ".a", false, "start with" },
		{ "-a", false, "start with" },
		{ "_a", false, "start with" },
		{ "A", false, "'A'" },
		{ "aB", false, "'B' at position 2" },
		{ "a/b", false, "'/' at position 2" },
		{ "/a", false, "'/'" },
		{ "a b", false, "byte 0x20 at position 2" },
		{ "a\tb", false, "byte 0x09" },
		{ "caf\xc3\xa9", false, "byte 0xc3 at position 4" },
		{ "a'b", false, "byte 0x27" },
		{ "a:b", false, "':'" },
	};
	char *msg;
	size_t i;

	for (i = 0; i < sizeof(t) / sizeof(t[0]); i++) {
		msg = NULL;
		if (podname_valid(t[i].name, &msg) != t[i].valid)
			fail_msg("name \"%s\": expected %s", t[i].name,
				t[i].valid ? "valid" : "invalid");
		if (t[i].valid) {
			assert_null(msg);
			continue;
		}
		assert_non_null(msg);
		if (strstr(msg, t[i].msg_part) == NULL)
			fail_msg("name \"%s\": message \"%s\" lacks \"%s\"",
				t[i].name, msg, t[i].msg_part);
		free(msg);
		/* A NULL reterr_msg is allowed. */
		assert_false(podname_valid(t[i].name, NULL));
	}
	assert_false(podname_valid(NULL, NULL));
}

static void
test_length(void **state)
{
	char name[PODNAME_MAX + 2];
	char *msg = NULL;

	memset(name, 'a', sizeof(name));
	name[PODNAME_MAX] = '\0';
	assert_int_equal(strlen(name), 63);
	assert_true(podname_valid(name, &msg));
	assert_null(msg);

	name[PODNAME_MAX] = 'a';
	name[PODNAME_MAX + 1] = '\0';
	assert_int_equal(strlen(name), 64);
	assert_false(podname_valid(name, &msg));
	assert_non_null(strstr(msg, "63"));
	free(msg);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_table),
		cmocka_unit_test(test_length),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
