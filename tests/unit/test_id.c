/* SPDX-License-Identifier: ISC */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "common/clock.h"
#include "common/id.h"

#define N 20000

static void
test_format(void **state)
{
	char id[ID_LEN + 1];
	int64_t before, after;
	size_t i;

	before = clock_now_ms();
	id_new(id);
	after = clock_now_ms();
	assert_int_equal(strlen(id), ID_LEN);
	assert_true(id_valid(id));
	for (i = 0; i < ID_LEN; i++)
		assert_non_null(
			strchr("0123456789ABCDEFGHJKMNPQRSTVWXYZ", id[i]));
	assert_true(id_time_ms(id) >= before);
	assert_true(id_time_ms(id) <= after);
}

static void
test_known_time(void **state)
{
	char id[ID_LEN + 1];

	/* ULID spec example: 1469918176385 ms encodes as 01ARYZ6S41. */
	id_new_at(id, 1469918176385);
	assert_memory_equal(id, "01ARYZ6S41", 10);
	assert_int_equal(id_time_ms(id), 1469918176385);
	id_new_at(id, 0);
	assert_memory_equal(id, "0000000000", 10);
	assert_int_equal(id_time_ms(id), 0);
	id_new_at(id, 0xffffffffffff);
	assert_memory_equal(id, "7ZZZZZZZZZ", 10);
	assert_int_equal(id_time_ms(id), 0xffffffffffff);
}

static void
test_monotonic_same_ms(void **state)
{
	char(*ids)[ID_LEN + 1] = calloc(N, ID_LEN + 1);
	size_t i;

	assert_non_null(ids);
	for (i = 0; i < N; i++) {
		id_new_at(ids[i], 1700000000000);
		assert_true(id_valid(ids[i]));
		assert_int_equal(id_time_ms(ids[i]), 1700000000000);
		if (i > 0 && strcmp(ids[i - 1], ids[i]) >= 0)
			fail_msg("%s !< %s", ids[i - 1], ids[i]);
	}
	free(ids);
}

static void
test_monotonic_now(void **state)
{
	char prev[ID_LEN + 1], cur[ID_LEN + 1];
	size_t i;

	id_new(prev);
	for (i = 0; i < N; i++) {
		id_new(cur);
		if (strcmp(prev, cur) >= 0)
			fail_msg("%s !< %s", prev, cur);
		memcpy(prev, cur, sizeof(cur));
	}
}

static void
test_random_part_differs(void **state)
{
	char a[ID_LEN + 1], b[ID_LEN + 1];

	id_new_at(a, 1000);
	id_new_at(b, 2000);
	id_new_at(b, 1000); /* new ms: fresh randomness */
	assert_string_not_equal(a + 10, b + 10);
}

static void
test_invalid(void **state)
{
	static const char *bad[] = {
		"",
		"01ARYZ6S41TSV4RRFFQ69G5FA", /* 25 */
		"01ARYZ6S41TSV4RRFFQ69G5FAVV", /* 27 */
		"01aryz6s41tsv4rrffq69g5fav", /* lowercase */
		"01ARYZ6S41TSV4RRFFQ69G5FAI", /* I */
		"01ARYZ6S41TSV4RRFFQ69G5FAL", /* L */
		"01ARYZ6S41TSV4RRFFQ69G5FAO", /* O */
		"01ARYZ6S41TSV4RRFFQ69G5FAU", /* U */
		"81ARYZ6S41TSV4RRFFQ69G5FAV", /* > 128 bits */
		"01ARYZ6S41TSV4RRFF-69G5FAV",
	};
	size_t i;

	assert_true(id_valid("01ARYZ6S41TSV4RRFFQ69G5FAV"));
	assert_true(id_valid("7ZZZZZZZZZZZZZZZZZZZZZZZZZ"));
	for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		if (id_valid(bad[i]))
			fail_msg("\"%s\" accepted", bad[i]);
		assert_int_equal(id_time_ms(bad[i]), -1);
	}
	assert_false(id_valid(NULL));
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_format),
		cmocka_unit_test(test_known_time),
		cmocka_unit_test(test_monotonic_same_ms),
		cmocka_unit_test(test_monotonic_now),
		cmocka_unit_test(test_random_part_differs),
		cmocka_unit_test(test_invalid),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
