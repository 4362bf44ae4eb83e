/* SPDX-License-Identifier: ISC */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include <signal.h>
#include <stdlib.h>
#include <sys/wait.h>
#include <unistd.h>

#include "common/proc.h"

/* A child that waits for its pipe to close; returns its pid. */
static pid_t
child_waiting(int *ret_wfd)
{
	int pfd[2];
	char c;
	pid_t pid;

	assert_int_equal(pipe(pfd), 0);
	pid = fork();
	assert_true(pid >= 0);
	if (pid == 0) {
		/* only its own read end: the write ends of the others close */
		dup2(pfd[0], 0);
		close_range(3, ~0U, 0);
		(void)!read(0, &c, 1);
		_exit(0);
	}
	close(pfd[0]);
	*ret_wfd = pfd[1];
	return pid;
}

static bool
has(const pid_t *v, size_t n, pid_t pid)
{
	size_t i;

	for (i = 0; i < n; i++)
		if (v[i] == pid)
			return true;
	return false;
}

static void
test_children(void **state)
{
	pid_t a, b, *v;
	int wa, wb, status;
	size_t n;

	n = proc_children(&v);
	assert_int_equal(n, 0);
	assert_null(v);
	a = child_waiting(&wa);
	b = child_waiting(&wb);
	n = proc_children(&v);
	assert_int_equal(n, 2);
	assert_true(has(v, n, a) && has(v, n, b));
	free(v);
	assert_int_equal(proc_ppid(a), getpid());
	/* Once reaped, a child is no longer listed. */
	close(wa);
	assert_int_equal(waitpid(a, &status, 0), a);
	n = proc_children(&v);
	assert_int_equal(n, 1);
	assert_int_equal(v[0], b);
	free(v);
	close(wb);
	assert_int_equal(waitpid(b, &status, 0), b);
	assert_int_equal(proc_ppid(b), -1);
}

/* Many children: the list is read whole, whatever its length. */
static void
test_many_children(void **state)
{
	enum { N = 600 };
	pid_t pids[N], *v;
	int w[N], i, status;
	size_t n;

	for (i = 0; i < N; i++)
		pids[i] = child_waiting(&w[i]);
	n = proc_children(&v);
	assert_int_equal(n, N);
	for (i = 0; i < N; i++)
		assert_true(has(v, n, pids[i]));
	free(v);
	for (i = 0; i < N; i++) {
		close(w[i]);
		assert_int_equal(waitpid(pids[i], &status, 0), pids[i]);
	}
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_children),
		cmocka_unit_test(test_many_children),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
