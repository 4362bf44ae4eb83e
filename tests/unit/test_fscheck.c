/* SPDX-License-Identifier: ISC */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include "tests/unit/tools_fixture.h"
#include "worker/fscheck.h"
#include "worker/landlock.h"

static void
expect_refused(int r, char *err, const char *needle)
{
	assert_true(r < 0);
	assert_contains(err, needle);
	free(err);
}

static void
test_open_in_scope(void **state)
{
	char *abs = NULL, *err = NULL, *want;
	int fd;

	fd = fscheck_open(fx.scope, fx.in, "file.txt", O_RDONLY, &abs, &err);
	assert_true(fd >= 0);
	want = fx_path("in/file.txt");
	assert_string_equal(abs, want);
	free(want);
	free(abs);
	close(fd);
	fd = fscheck_open(fx.scope, fx.in, "file.txt", O_RDWR, NULL, &err);
	assert_true(fd >= 0);
	close(fd);
	/* Read-only areas. */
	fd = fscheck_open(fx.scope, fx.in, "../ro/r.txt", O_RDONLY, NULL, &err);
	assert_true(fd >= 0);
	close(fd);
	fd = fscheck_open(fx.scope, fx.in, "../ro/r.txt", O_RDWR, NULL, &err);
	expect_refused(fd, err, "read-only");
	/* No scope at all: nothing. */
	fd = fscheck_open(NULL, fx.in, "file.txt", O_RDONLY, NULL, &err);
	expect_refused(fd, err, "outside this pod's read scope");
}

static void
test_fd_recheck(void **state)
{
	char *p = fx_path("out/secret.txt"), *err = NULL;
	int fd = open(p, O_RDONLY), r;

	/* What a swapped-in symlink would have opened is caught. */
	assert_true(fd >= 0);
	r = fscheck_fd(fx.scope, fd, SCOPE_READ, &err);
	expect_refused(r, err, "escapes scope through a symlink");
	close(fd);
	free(p);
	p = fx_path("in/file.txt");
	fd = open(p, O_RDONLY);
	assert_int_equal(fscheck_fd(fx.scope, fd, SCOPE_WRITE, &err), 0);
	close(fd);
	free(p);
	p = fx_path("in/child/c.txt");
	fd = open(p, O_RDONLY);
	assert_int_equal(fscheck_fd(fx.scope, fd, SCOPE_READ, &err), 0);
	r = fscheck_fd(fx.scope, fd, SCOPE_WRITE, &err);
	expect_refused(r, err, "outside this pod's write scope");
	close(fd);
	free(p);
}

static void
test_create(void **state)
{
	char *abs = NULL, *err = NULL;
	int fd;

	fd = fscheck_create(fx.scope, fx.in, "n1/n2/f", 0644, &abs, &err);
	assert_true(fd >= 0);
	close(fd);
	assert_contains(abs, "/in/n1/n2/f");
	free(abs);
	fd = fscheck_create(fx.scope, fx.in, "n1/n2/f", 0644, NULL, &err);
	expect_refused(fd, err, "already exists");
	/* A directory in a hole is not created. */
	fd = fscheck_create(fx.scope, fx.in, "child/x/y", 0644, NULL, &err);
	expect_refused(fd, err, "outside this pod's write scope");
	abs = fx_path("in/child/x");
	assert_int_equal(access(abs, F_OK), -1);
	free(abs);
	fd = fscheck_create(fx.scope, fx.in, "a/../../out/z", 0644, NULL, &err);
	expect_refused(fd, err, "'..' in a path that does not exist yet");
}

static void
test_perm(void **state)
{
	char *p = fx_path("flat/sub"), *q = fx_path("flat/sub/b.txt");

	assert_int_equal(fscheck_perm(fx.scope, p), SCOPE_READ);
	assert_int_equal(fscheck_perm(fx.scope, q), SCOPE_NONE);
	assert_int_equal(fscheck_perm(fx.scope, fx.in), SCOPE_WRITE);
	assert_int_equal(fscheck_perm(fx.scope, fx.out), SCOPE_NONE);
	assert_int_equal(fscheck_perm(NULL, fx.in), SCOPE_NONE);
	free(p);
	free(q);
}

static void
test_landlock_rights(void **state)
{
	uint64_t r1 = landlock_handled_rights(1),
		 r3 = landlock_handled_rights(3);

	assert_int_equal(landlock_handled_rights(0), 0);
	assert_true(r1 != 0);
	/* READ_FILE, READ_DIR and EXECUTE are never handled. */
	assert_int_equal(r3 & ((1ULL << 0) | (1ULL << 2) | (1ULL << 3)), 0);
	assert_true(r3 & (1ULL << 14));
	assert_false(r1 & (1ULL << 13));
	assert_true(landlock_handled_rights(2) & (1ULL << 13));
}

int
main(void)
{
#define T(f) cmocka_unit_test_setup_teardown(f, fx_setup, fx_teardown)
	const struct CMUnitTest tests[] = {
		T(test_open_in_scope),
		T(test_fd_recheck),
		T(test_create),
		T(test_perm),
		T(test_landlock_rights),
	};
#undef T

	return cmocka_run_group_tests(tests, NULL, NULL);
}
