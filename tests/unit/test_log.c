/* SPDX-License-Identifier: ISC */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cmocka.h>

#include "common/log.h"

/* Run fn with stderr redirected into a pipe; returns what it wrote. */
static char *
capture(void (*fn)(void))
{
	static char buf[8192];
	int p[2], saved;
	ssize_t n;
	size_t len = 0;

	assert_int_equal(pipe(p), 0);
	saved = dup(STDERR_FILENO);
	assert_true(saved >= 0);
	assert_int_equal(dup2(p[1], STDERR_FILENO), STDERR_FILENO);
	close(p[1]);
	fn();
	assert_int_equal(dup2(saved, STDERR_FILENO), STDERR_FILENO);
	close(saved);
	while ((n = read(p[0], buf + len, sizeof(buf) - 1 - len)) > 0)
		len += (size_t)n;
	close(p[0]);
	buf[len] = '\0';
	return buf;
}

static void
test_level_parse(void **state)
{
	static const struct {
		const char *s;
		int r;
		enum log_level level;
	} t[] = {
		{ "err", 0, LOG_LVL_ERR },
		{ "warn", 0, LOG_LVL_WARN },
		{ "notice", 0, LOG_LVL_NOTICE },
		{ "info", 0, LOG_LVL_INFO },
		{ "debug", 0, LOG_LVL_DEBUG },
		{ "", -EINVAL, 0 },
		{ "DEBUG", -EINVAL, 0 },
		{ "warning", -EINVAL, 0 },
		{ "7", -EINVAL, 0 },
		{ "info ", -EINVAL, 0 },
	};
	enum log_level level;
	size_t i;

	for (i = 0; i < sizeof(t) / sizeof(t[0]); i++) {
		level = (enum log_level)99;
		assert_int_equal(log_level_parse(t[i].s, &level), t[i].r);
		if (t[i].r == 0)
			assert_int_equal(level, t[i].level);
		else
			assert_int_equal(level, 99);
	}
	assert_int_equal(log_level_parse(NULL, &level), -EINVAL);
}

static void
emit_all(void)
{
	log_err("e %d", 1);
	log_warn("w");
	log_notice("n");
	log_info("i %s", "x");
	log_debug("d");
}

static void
test_prefix_and_threshold(void **state)
{
	char *out;

	log_init("tagx");
	log_set_level(LOG_LVL_INFO);
	out = capture(emit_all);
	assert_string_equal(out,
		"<3>tagx: e 1\n<4>tagx: w\n<5>tagx: n\n"
		"<6>tagx: i x\n");

	log_set_level(LOG_LVL_WARN);
	out = capture(emit_all);
	assert_string_equal(out, "<3>tagx: e 1\n<4>tagx: w\n");

	log_set_level(LOG_LVL_DEBUG);
	out = capture(emit_all);
	assert_non_null(strstr(out, "<7>tagx: d\n"));
}

static void
emit_multiline(void)
{
	log_err("a\nb");
}

static void
test_one_line_per_record(void **state)
{
	log_init("t");
	log_set_level(LOG_LVL_INFO);
	assert_string_equal(capture(emit_multiline), "<3>t: a b\n");
}

static void
emit_init(void)
{
	log_init("envtag");
}

static void
test_env(void **state)
{
	char *out;

	setenv("PODVISOR_LOG", "err", 1);
	log_set_level(LOG_LVL_INFO);
	log_init("envtag");
	assert_int_equal(log_get_level(), LOG_LVL_ERR);
	setenv("PODVISOR_LOG", "debug", 1);
	log_init("envtag");
	assert_int_equal(log_get_level(), LOG_LVL_DEBUG);

	/* A bad value keeps the level and says so. */
	setenv("PODVISOR_LOG", "loud", 1);
	log_set_level(LOG_LVL_INFO);
	out = capture(emit_init);
	assert_int_equal(log_get_level(), LOG_LVL_INFO);
	assert_non_null(strstr(out, "<4>envtag: "));
	assert_non_null(strstr(out, "loud"));
	unsetenv("PODVISOR_LOG");
}

static void
test_fatal_exits_1(void **state)
{
	int p[2], status;
	char buf[256];
	ssize_t n;
	pid_t pid;

	assert_int_equal(pipe(p), 0);
	pid = fork();
	assert_true(pid >= 0);
	if (pid == 0) {
		dup2(p[1], STDERR_FILENO);
		log_init("ft");
		log_set_level(LOG_LVL_ERR);
		fatal("boom %d", 42);
	}
	close(p[1]);
	n = read(p[0], buf, sizeof(buf) - 1);
	assert_true(n > 0);
	buf[n] = '\0';
	close(p[0]);
	assert_int_equal(waitpid(pid, &status, 0), pid);
	assert_true(WIFEXITED(status));
	assert_int_equal(WEXITSTATUS(status), 1);
	assert_string_equal(buf, "<3>ft: boom 42\n");
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_level_parse),
		cmocka_unit_test(test_prefix_and_threshold),
		cmocka_unit_test(test_one_line_per_record),
		cmocka_unit_test(test_env),
		cmocka_unit_test(test_fatal_exits_1),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
