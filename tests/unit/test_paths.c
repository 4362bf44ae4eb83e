/* SPDX-License-Identifier: ISC */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cmocka.h>

#include "config.h"
#include "common/paths.h"
#include "common/xmalloc.h"

static const char *vars[] = {
	"PODVISOR_CONFIG",
	"PODVISOR_RUNTIME_DIR",
	"PODVISOR_STATE_DIR",
	"PODVISOR_WORKER",
	"XDG_CONFIG_HOME",
	"XDG_RUNTIME_DIR",
	"XDG_STATE_HOME",
	"HOME",
};

static int
clear_env(void **state)
{
	size_t i;

	for (i = 0; i < sizeof(vars) / sizeof(vars[0]); i++)
		unsetenv(vars[i]);
	return 0;
}

static void
test_overrides(void **state)
{
	struct paths p;
	char *s;

	setenv("HOME", "/home/u", 1);
	setenv("XDG_CONFIG_HOME", "/xdg/config", 1);
	setenv("XDG_RUNTIME_DIR", "/xdg/run", 1);
	setenv("XDG_STATE_HOME", "/xdg/state", 1);
	setenv("PODVISOR_CONFIG", "/t/conf.ini", 1);
	setenv("PODVISOR_RUNTIME_DIR", "/t/run", 1);
	setenv("PODVISOR_STATE_DIR", "/t/state", 1);
	assert_int_equal(paths_init(&p), 0);
	assert_string_equal(p.config, "/t/conf.ini");
	assert_string_equal(p.runtime, "/t/run");
	assert_string_equal(p.control_sock, "/t/run/control.sock");
	assert_string_equal(p.runtime_pods, "/t/run/pods");
	assert_string_equal(p.state, "/t/state");
	assert_string_equal(p.state_pods, "/t/state/pods");
	assert_string_equal(p.sessions, "/t/state/sessions");
	assert_string_equal(p.supervisor_json, "/t/state/supervisor.json");

	s = paths_pod_runtime_dir(&p, "a.b");
	assert_string_equal(s, "/t/run/pods/a.b");
	free(s);
	s = paths_pod_sock(&p, "a.b");
	assert_string_equal(s, "/t/run/pods/a.b/sock");
	free(s);
	s = paths_pod_stderr(&p, "a.b");
	assert_string_equal(s, "/t/run/pods/a.b/stderr.log");
	free(s);
	s = paths_pod_state(&p, "a.b");
	assert_string_equal(s, "/t/state/pods/a.b.json");
	free(s);
	s = paths_session_dir(&p, "a.b");
	assert_string_equal(s, "/t/state/sessions/a.b");
	free(s);
	s = paths_segment(&p, "a.b", "01ARYZ6S41TSV4RRFFQ69G5FAV");
	assert_string_equal(
		s, "/t/state/sessions/a.b/01ARYZ6S41TSV4RRFFQ69G5FAV.jsonl");
	free(s);
	paths_free(&p);
	assert_null(p.config);
	paths_free(&p); /* twice is harmless */
	paths_free(NULL);
}

static void
test_xdg(void **state)
{
	struct paths p;

	setenv("HOME", "/home/u", 1);
	setenv("XDG_CONFIG_HOME", "/xdg/config", 1);
	setenv("XDG_RUNTIME_DIR", "/run/user/1000", 1);
	setenv("XDG_STATE_HOME", "/xdg/state", 1);
	/* Empty overrides count as unset. */
	setenv("PODVISOR_CONFIG", "", 1);
	assert_int_equal(paths_init(&p), 0);
	assert_string_equal(p.config, "/xdg/config/podvisor/config.ini");
	assert_string_equal(p.runtime, "/run/user/1000/podvisor");
	assert_string_equal(
		p.control_sock, "/run/user/1000/podvisor/control.sock");
	assert_string_equal(p.state, "/xdg/state/podvisor");
	assert_string_equal(
		p.supervisor_json, "/xdg/state/podvisor/supervisor.json");
	paths_free(&p);
}

static void
test_home_fallbacks(void **state)
{
	struct paths p;
	char *run;

	setenv("HOME", "/home/u", 1);
	/* Relative XDG values are ignored, as the spec says. */
	setenv("XDG_CONFIG_HOME", "rel/config", 1);
	setenv("XDG_STATE_HOME", "", 1);
	assert_int_equal(paths_init(&p), 0);
	assert_string_equal(p.config, "/home/u/.config/podvisor/config.ini");
	assert_string_equal(p.state, "/home/u/.local/state/podvisor");
	run = xstrfmt("/tmp/podvisor-%u", (unsigned)getuid());
	assert_string_equal(p.runtime, run);
	free(run);
	paths_free(&p);

	/* No HOME at all: the password database. */
	unsetenv("HOME");
	unsetenv("XDG_CONFIG_HOME");
	assert_int_equal(paths_init(&p), 0);
	assert_true(p.config[0] == '/');
	assert_non_null(strstr(p.config, "/.config/podvisor/config.ini"));
	paths_free(&p);
}

static void
test_ensure_dirs(void **state)
{
	char tmpl[] = "/tmp/podvisor-test-paths-XXXXXX";
	struct paths p;
	struct stat st;
	char *dir, *cmd;
	const char **d;
	mode_t old;

	dir = mkdtemp(tmpl);
	assert_non_null(dir);
	{
		char *run = xstrfmt("%s/run/x", dir);
		char *st_dir = xstrfmt("%s/state", dir);
		setenv("PODVISOR_RUNTIME_DIR", run, 1);
		setenv("PODVISOR_STATE_DIR", st_dir, 1);
		setenv("PODVISOR_CONFIG", "/nonexistent.ini", 1);
		free(run);
		free(st_dir);
	}
	assert_int_equal(paths_init(&p), 0);
	old = umask(0);
	assert_int_equal(paths_ensure_dirs(&p), 0);
	umask(old);
	{
		const char *dirs[] = { p.runtime, p.runtime_pods, p.state,
			p.state_pods, p.sessions, NULL };
		for (d = dirs; *d != NULL; d++) {
			assert_int_equal(stat(*d, &st), 0);
			assert_true(S_ISDIR(st.st_mode));
			assert_int_equal(st.st_mode & 07777, 0700);
		}
	}
	paths_free(&p);
	cmd = xstrfmt("rm -rf '%s'", dir);
	assert_int_equal(system(cmd), 0);
	free(cmd);
}

static char *
self_dir(void)
{
	char buf[PATH_MAX];
	ssize_t n = readlink("/proc/self/exe", buf, sizeof(buf) - 1);

	assert_true(n > 0);
	buf[n] = '\0';
	*strrchr(buf, '/') = '\0';
	return xstrdup(buf);
}

static void
test_binary_lookup(void **state)
{
	char *dir = self_dir(), *sib, *s, *want;
	int fd;

	setenv("PODVISOR_WORKER", "/opt/w/podvisor-worker", 1);
	s = paths_worker_binary();
	assert_string_equal(s, "/opt/w/podvisor-worker");
	free(s);
	unsetenv("PODVISOR_WORKER");

	/* Next to our own executable, if it is there and executable. */
	sib = xstrfmt("%s/podvisor-test-sibling-%d", dir, (int)getpid());
	fd = open(sib, O_CREAT | O_WRONLY | O_EXCL, 0755);
	assert_true(fd >= 0);
	close(fd);
	s = paths_sibling_binary(strrchr(sib, '/') + 1, "PODVISOR_TEST_BIN");
	assert_string_equal(s, sib);
	free(s);
	setenv("PODVISOR_TEST_BIN", "/x/y", 1);
	s = paths_sibling_binary(strrchr(sib, '/') + 1, "PODVISOR_TEST_BIN");
	assert_string_equal(s, "/x/y");
	free(s);
	unsetenv("PODVISOR_TEST_BIN");
	s = paths_sibling_binary(strrchr(sib, '/') + 1, NULL);
	assert_string_equal(s, sib);
	free(s);

	/* Not executable: not taken; libexecdir instead. */
	assert_int_equal(chmod(sib, 0644), 0);
	s = paths_sibling_binary(strrchr(sib, '/') + 1, NULL);
	want = xstrfmt("%s/%s", PODVISOR_LIBEXECDIR, strrchr(sib, '/') + 1);
	assert_string_equal(s, want);
	free(s);
	free(want);
	assert_int_equal(unlink(sib), 0);
	s = paths_sibling_binary(strrchr(sib, '/') + 1, NULL);
	want = xstrfmt("%s/%s", PODVISOR_LIBEXECDIR, strrchr(sib, '/') + 1);
	assert_string_equal(s, want);
	free(s);
	free(want);

	s = paths_worker_binary();
	want = xstrfmt("%s/podvisor-worker", dir);
	if (access(want, X_OK) != 0) {
		free(want);
		want = xstrfmt("%s/podvisor-worker", PODVISOR_LIBEXECDIR);
	}
	assert_string_equal(s, want);
	free(s);
	free(want);
	free(sib);
	free(dir);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup(test_overrides, clear_env),
		cmocka_unit_test_setup(test_xdg, clear_env),
		cmocka_unit_test_setup(test_home_fallbacks, clear_env),
		cmocka_unit_test_setup(test_ensure_dirs, clear_env),
		cmocka_unit_test_setup(test_binary_lookup, clear_env),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
