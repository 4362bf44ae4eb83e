/* SPDX-License-Identifier: ISC */
#include <setjmp.h>
#include <signal.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <fcntl.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cmocka.h>

#include "common/xmalloc.h"

static void
test_basics(void **state)
{
	char *s, *p;
	int *a;
	size_t i;

	s = xstrdup("hello");
	assert_string_equal(s, "hello");
	free(s);
	s = xstrndup("hello", 3);
	assert_string_equal(s, "hel");
	free(s);
	s = xstrndup("hi", 10);
	assert_string_equal(s, "hi");
	free(s);
	p = xmemdup("a\0b", 3);
	assert_memory_equal(p, "a\0b", 3);
	free(p);
	assert_int_equal(xasprintf(&s, "%d-%s", 7, "x"), 3);
	assert_string_equal(s, "7-x");
	free(s);
	s = xstrfmt("%05d", 42);
	assert_string_equal(s, "00042");
	free(s);
	a = xcalloc(100, sizeof(*a));
	for (i = 0; i < 100; i++)
		assert_int_equal(a[i], 0);
	a = xreallocarray(a, 1000, sizeof(*a));
	a[999] = 1;
	free(a);
	free(xmalloc(0));
	free(xcalloc(0, 0));
}

/* Run fn in a child and return its termination signal (0 if none). */
static int
child_signal(void (*fn)(void))
{
	int status;
	pid_t pid = fork();

	assert_true(pid >= 0);
	if (pid == 0) {
		int fd = open("/dev/null", O_WRONLY);
		dup2(fd, STDERR_FILENO);
		fn();
		_exit(0);
	}
	assert_int_equal(waitpid(pid, &status, 0), pid);
	if (WIFSIGNALED(status))
		return WTERMSIG(status);
	/* A sanitizer's allocator may report and exit instead. */
	return WEXITSTATUS(status) != 0 ? -1 : 0;
}

static void
overflow_calloc(void)
{
	free(xcalloc(SIZE_MAX / 2, 4));
}

static void
overflow_realloc(void)
{
	free(xreallocarray(NULL, SIZE_MAX / 8, 16));
}

static void
huge_malloc(void)
{
	free(xmalloc(SIZE_MAX - 4096));
}

static void
test_aborts(void **state)
{
	assert_int_equal(child_signal(overflow_calloc), SIGABRT);
	assert_int_equal(child_signal(overflow_realloc), SIGABRT);
	assert_int_not_equal(child_signal(huge_malloc), 0);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_basics),
		cmocka_unit_test(test_aborts),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
