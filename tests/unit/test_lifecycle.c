/* SPDX-License-Identifier: ISC */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdlib.h>

#include <cmocka.h>

#include "proto/dispatch.h"
#include "supervisord/control.h"
#include "supervisord/daemon.h"
#include "supervisord/lifecycle.h"
#include "supervisord/workerchan.h"

static void
test_table(void **state)
{
	(void)state;
	/* DESIGN.md's diagram, edge by edge */
	assert_int_equal(lifecycle_next(POD_NONE, LC_START), POD_STARTING);
	assert_int_equal(lifecycle_next(POD_STARTING, LC_READY), POD_LIVE);
	assert_int_equal(lifecycle_next(POD_STARTING, LC_FAIL), POD_FAILED);
	assert_int_equal(lifecycle_next(POD_LIVE, LC_STOP), POD_STOPPING);
	assert_int_equal(lifecycle_next(POD_STOPPING, LC_EXIT_OK), POD_STOPPED);
	assert_int_equal(
		lifecycle_next(POD_STOPPING, LC_EXIT_FAIL), POD_STOPPED);
	assert_int_equal(lifecycle_next(POD_LIVE, LC_EXIT_FAIL), POD_CRASHED);
	assert_int_equal(lifecycle_next(POD_LIVE, LC_EXIT_OK), POD_STOPPED);
	assert_int_equal(lifecycle_next(POD_LIVE, LC_LOST), POD_CRASHED);
	assert_int_equal(lifecycle_next(POD_CRASHED, LC_START), POD_STARTING);
	assert_int_equal(lifecycle_next(POD_CRASHED, LC_GIVE_UP), POD_FAILED);
	assert_int_equal(lifecycle_next(POD_STOPPED, LC_START), POD_STARTING);
	assert_int_equal(lifecycle_next(POD_FAILED, LC_START), POD_STARTING);
	/* and what must not happen */
	assert_int_equal(lifecycle_next(POD_LIVE, LC_START), POD_NONE);
	assert_int_equal(lifecycle_next(POD_STOPPED, LC_READY), POD_NONE);
	assert_int_equal(lifecycle_next(POD_STOPPED, LC_STOP), POD_NONE);
	assert_int_equal(lifecycle_next(POD_FAILED, LC_GIVE_UP), POD_NONE);
	for (int ev = 0; ev < LC_EVENT_COUNT; ev++)
		assert_int_equal(
			lifecycle_next(POD_CORRUPT, (enum lifecycle_event)ev),
			POD_NONE);
}

static void
test_status_names(void **state)
{
	(void)state;
	for (int s = 1; s < POD_STATUS_COUNT; s++)
		assert_int_equal(pod_status_from_name(
					 pod_status_name((enum pod_status)s)),
			s);
	assert_int_equal(pod_status_from_name("bogus"), POD_NONE);
}

static void
test_dispatch_tables_sorted(void **state)
{
	(void)state;
	assert_true(dispatch_table_valid(control_table, control_table_len));
	assert_true(
		dispatch_table_valid(workerchan_table, workerchan_table_len));
	assert_int_equal(control_table_len, 13);
	assert_int_equal(workerchan_table_len, 9);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_table),
		cmocka_unit_test(test_status_names),
		cmocka_unit_test(test_dispatch_tables_sorted),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
