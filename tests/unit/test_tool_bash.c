/* SPDX-License-Identifier: ISC */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include <signal.h>
#include <sys/pidfd.h>

#include "tests/unit/tools_fixture.h"
#include "worker/landlock.h"
#include "common/mountns.h"

static struct tool_result
bash(const char *cmd, const char *timeout)
{
	if (timeout != NULL)
		return fx_run("bash",
			fx_args("command", cmd, "=timeout_s", timeout, NULL));
	return fx_run("bash", fx_args("command", cmd, NULL));
}

/* cmd fails, and the file rel still holds content (NULL: does not exist). */
static void
bash_refused(const char *cmd, const char *rel, const char *content)
{
	struct tool_result res = bash(cmd, NULL);
	char *s;

	if (!res.is_error)
		fail_msg("not refused: %s: %s", cmd, res.output);
	tool_result_clear(&res);
	s = fx_slurp(rel);
	if (content == NULL)
		assert_null(s);
	else
		assert_string_equal(s, content);
	free(s);
}

static void
test_exit_and_output(void **state)
{
	struct tool_result res;

	res = bash("echo hi; echo err >&2; exit 3", NULL);
	assert_true(res.is_error);
	assert_string_equal(res.summary, "exit 3, 2 lines");
	assert_contains(res.output, "hi\nerr\n");
	assert_contains(res.output, "[exit 3]");
	tool_result_clear(&res);

	res = bash("pwd", NULL);
	assert_false(res.is_error);
	assert_string_equal(res.summary, "exit 0, 1 line");
	assert_int_equal(strncmp(res.output, fx.in, strlen(fx.in)), 0);
	tool_result_clear(&res);

	/* stdin is /dev/null: cat ends at once. */
	res = bash("cat; printf x", NULL);
	assert_string_equal(res.output, "x");
	assert_string_equal(res.summary, "exit 0, 1 line");
	tool_result_clear(&res);

	res = bash("true", NULL);
	assert_string_equal(res.output, "(no output)");
	assert_string_equal(res.summary, "exit 0, 0 lines");
	tool_result_clear(&res);

	res = bash("kill -9 $$", NULL);
	assert_true(res.is_error);
	assert_contains(res.summary, "killed by signal 9");
	tool_result_clear(&res);
}

static void
test_output_cap(void **state)
{
	struct tool_result res;

	res = bash("head -c 200000 /dev/zero | tr '\\0' a; echo", NULL);
	assert_false(res.is_error);
	assert_contains(res.output,
		"[output truncated: 200001 bytes total, "
		"showing the first 65536]");
	assert_true(strlen(res.output) < 65536 + 100);
	assert_string_equal(res.summary, "exit 0, 1 line");
	tool_result_clear(&res);

	/* Invalid UTF-8 and NULs are made valid. */
	res = bash("printf 'a\\377b\\000c'", NULL);
	assert_string_equal(res.output,
		"a\xef\xbf\xbd"
		"b\xef\xbf\xbd"
		"c");
	tool_result_clear(&res);
}

static void
test_timeout(void **state)
{
	struct tool_result res;

	res = bash("echo before; sleep 30", "1");
	assert_true(res.is_error);
	assert_contains(res.summary, "killed after the 1 s timeout");
	assert_contains(res.output, "before\n");
	tool_result_clear(&res);

	res = bash("true", "0");
	assert_true(res.is_error);
	assert_contains(res.output, "at least 1");
	tool_result_clear(&res);
}

/* bash exits but a background process keeps the output open. */
static void
test_background_holds_output(void **state)
{
	struct tool_result res;

	res = bash("sleep 100 & echo started", NULL);
	assert_contains(res.output, "started\n");
	assert_contains(res.output, "background processes");
	tool_result_clear(&res);

	/* One with its output redirected is left alone. */
	res = bash("sleep 1 >/dev/null 2>&1 & echo ok", NULL);
	assert_false(res.is_error);
	assert_string_equal(res.output, "ok\n");
	tool_result_clear(&res);
}

struct poll_state {
	const char *path;
	pid_t pid;
	bool timed_out;
};

static void
poll_cb(evutil_socket_t fd, short what, void *arg)
{
	struct poll_state *ps = arg;
	FILE *f = fopen(ps->path, "r");
	int pid = 0;

	if (f != NULL) {
		if (fscanf(f, "%d\n", &pid) == 1 && pid > 0)
			ps->pid = pid;
		fclose(f);
	}
}

static void
flag_cb(evutil_socket_t fd, short what, void *arg)
{
	*(bool *)arg = true;
}

/* Wait (bounded) on the loop until fd is readable. */
static bool
wait_readable(int fd, int max_s)
{
	struct timeval tv = { max_s, 0 };
	bool ready = false, timed_out = false;
	struct event *ev = event_new(fx.base, fd, EV_READ, flag_cb, &ready);
	struct event *t = evtimer_new(fx.base, flag_cb, &timed_out);

	event_add(ev, NULL);
	evtimer_add(t, &tv);
	while (!ready && !timed_out)
		event_base_loop(fx.base, EVLOOP_ONCE);
	event_free(ev);
	event_free(t);
	return ready;
}

/* Has pid exited (gone, or a zombie)? */
static bool
proc_gone(pid_t pid)
{
	char path[64], buf[512], *p;
	bool gone = true;
	FILE *f;

	snprintf(path, sizeof(path), "/proc/%d/stat", (int)pid);
	f = fopen(path, "r");
	if (f == NULL)
		return true;
	if (fgets(buf, sizeof(buf), f) != NULL &&
		(p = strrchr(buf, ')')) != NULL)
		gone = p[1] == ' ' && (p[2] == 'Z' || p[2] == 'X');
	fclose(f);
	return gone;
}

struct gone_state {
	pid_t pid;
	bool gone;
};

static void
gone_poll_cb(evutil_socket_t fd, short what, void *arg)
{
	struct gone_state *gs = arg;

	gs->gone = proc_gone(gs->pid);
}

/* Wait (bounded) on the loop until pid exits; pidfd or /proc polling. */
static bool
wait_gone(pid_t pid, int max_s)
{
	struct timeval tv = { 0, 10000 }, max = { max_s, 0 };
	struct gone_state gs = { pid, false };
	bool timed_out = false, r;
	struct event *poll, *t;
	int pidfd = pidfd_open(pid, 0);

	if (pidfd >= 0) {
		r = wait_readable(pidfd, max_s);
		close(pidfd);
		return r;
	}
	poll = event_new(fx.base, -1, EV_PERSIST, gone_poll_cb, &gs);
	event_add(poll, &tv);
	t = evtimer_new(fx.base, flag_cb, &timed_out);
	evtimer_add(t, &max);
	while (!gs.gone && !timed_out)
		event_base_loop(fx.base, EVLOOP_ONCE);
	event_free(poll);
	event_free(t);
	return gs.gone;
}

static void
test_cancel_kills_group(void **state)
{
	struct fx_wait w = { 0 };
	struct poll_state ps = { 0 };
	struct timeval tv = { 0, 10000 }, max = { 10, 0 };
	struct event *poll, *t;
	struct tool_run *run;
	char *pidfile = fx_path("in/sub/bg.pid"), *args;

	args = fx_args(
		"command", "sleep 300 & echo $! > sub/bg.pid; wait", NULL);
	run = tool_run_start(&fx.env, "bash", args, fx_done_cb, &w);
	free(args);
	assert_non_null(run);
	ps.path = pidfile;
	poll = event_new(fx.base, -1, EV_PERSIST, poll_cb, &ps);
	event_add(poll, &tv);
	t = evtimer_new(fx.base, flag_cb, &ps.timed_out);
	evtimer_add(t, &max);
	while (ps.pid == 0 && !ps.timed_out)
		event_base_loop(fx.base, EVLOOP_ONCE);
	event_free(poll);
	event_free(t);
	assert_true(ps.pid > 0);
	assert_false(proc_gone(ps.pid));
	tool_run_cancel(run);
	/* The background sleep dies with the group. */
	assert_true(wait_gone(ps.pid, 10));
	/* No callback after a cancel. */
	event_base_loop(fx.base, EVLOOP_NONBLOCK);
	assert_false(w.done);
	free(pidfile);
}

static void
test_landlock(void **state)
{
	struct tool_result res;
	char *cmd, *s, *symlink_out;

	if (landlock_abi() == 0) {
		assert_string_equal(tools_bash_confinement(&fx.env), "none");
		skip();
	}
	assert_string_equal(tools_bash_confinement(&fx.env), "landlock");
	assert_true(landlock_handled_rights(landlock_abi()) != 0);
	/* Landlock alone: test_mountns covers the mounts. */
	fx.env.mountns = 0;

	/* Outside the write scope: EACCES, nothing written. */
	cmd = xstrfmt("echo x > %s/file", fx.out);
	res = bash(cmd, NULL);
	free(cmd);
	assert_true(res.is_error);
	assert_contains(res.output, "Permission denied");
	tool_result_clear(&res);
	s = fx_slurp("out/file");
	assert_null(s);

	/* Inside: works, also in new directories and by rename. */
	res = bash("cd sub && echo x > inside && mkdir -p d/e && "
		   "echo y > d/e/f && mv inside d/moved && cat d/e/f d/moved",
		NULL);
	if (res.is_error)
		fail_msg("%s", res.output);
	assert_string_equal(res.output, "y\nx\n");
	tool_result_clear(&res);

	/* Reads stay open everywhere; /dev/null is writable. */
	cmd = xstrfmt("cat %s/secret.txt > /dev/null && echo read-ok", fx.out);
	res = bash(cmd, NULL);
	free(cmd);
	assert_string_equal(res.output, "read-ok\n");
	tool_result_clear(&res);

	/* The child's area (a hole) is not writable; its siblings are. */
	res = bash("echo x > child/c.txt", NULL);
	assert_true(res.is_error);
	assert_contains(res.output, "Permission denied");
	tool_result_clear(&res);
	res = bash("rm child/c.txt", NULL);
	assert_true(res.is_error);
	tool_result_clear(&res);
	s = fx_slurp("in/child/c.txt");
	assert_string_equal(s, "child data\n");
	free(s);
	res = bash("echo x > sub/ok && echo x >> file.txt && echo done", NULL);
	if (res.is_error)
		fail_msg("%s", res.output);
	assert_string_equal(res.output, "done\n");
	tool_result_clear(&res);

	/*
	 * The documented limit: no new entries directly in a directory that
	 * contains a hole (in/ holds the child's area).
	 */
	res = bash("echo x > newtop", NULL);
	assert_true(res.is_error);
	tool_result_clear(&res);

	/* A symlink next to the hole is not followed out of scope. */
	symlink_out = fx_path("out/secret.txt");
	cmd = fx_path("in/link_out");
	assert_int_equal(symlink(symlink_out, cmd), 0);
	free(symlink_out);
	free(cmd);
	bash_refused("echo x >> link_out", "out/secret.txt", "SECRET\n");

	/* Moving a file out of scope is refused too. */
	cmd = xstrfmt("mv file.txt %s/stolen", fx.out);
	res = bash(cmd, NULL);
	free(cmd);
	assert_true(res.is_error);
	tool_result_clear(&res);
	s = fx_slurp("in/file.txt");
	assert_non_null(s);
	free(s);
}

/* mode and mtime of a file, to see that nothing changed them */
static void
fx_stat(const char *rel, struct stat *st)
{
	char *p = fx_path(rel);

	assert_int_equal(stat(p, st), 0);
	free(p);
}

/*
 * Both layers: the read-only mounts protect the hole, so the scope's
 * top level stays fully writable, and metadata outside is protected too.
 */
static void
test_mountns(void **state)
{
	struct scope_rules rules = { 0 };
	struct stat before, after;
	struct tool_result res;
	struct scope *scope;
	char *cmd, *s;

	if (!mountns_available() || landlock_abi() == 0)
		skip();
	assert_true(tools_bash_mountns(&fx.env));

	/* New entries next to the delegated area, and removals. */
	res = bash("echo x > newtop && mkdir newdir && rm file.txt && "
		   "mv newtop newdir/ && cat newdir/newtop",
		NULL);
	if (res.is_error)
		fail_msg("%s", res.output);
	assert_string_equal(res.output, "x\n");
	tool_result_clear(&res);

	/* The hole: nothing in it changes, by write, removal or rename. */
	fx_stat("in/child/c.txt", &before);
	res = bash("echo x > child/c.txt; echo y > child/new; rm child/c.txt;"
		   " mv child/c.txt taken; chmod 777 child/c.txt;"
		   " touch -d @0 child/c.txt; ln child/c.txt hl;"
		   " ls child",
		NULL);
	assert_contains(res.output, "Read-only file system");
	assert_string_equal(strstr(res.output, "c.txt\n"), "c.txt\n");
	tool_result_clear(&res);
	s = fx_slurp("in/child/c.txt");
	assert_string_equal(s, "child data\n");
	free(s);
	fx_stat("in/child/c.txt", &after);
	assert_int_equal(before.st_mode, after.st_mode);
	assert_int_equal(before.st_mtime, after.st_mtime);
	assert_int_equal(after.st_nlink, 1);

	/* Outside the scope: no writes, and (beyond Landlock) no chmod,
	 * chown or times. */
	fx_stat("out/secret.txt", &before);
	cmd = xstrfmt("chmod 600 %s/secret.txt; touch -d @0 %s/secret.txt; "
		      "chown 0:0 %s/secret.txt; echo x > %s/new",
		fx.out, fx.out, fx.out, fx.out);
	res = bash(cmd, NULL);
	free(cmd);
	assert_true(res.is_error);
	assert_contains(res.output, "Read-only file system");
	tool_result_clear(&res);
	fx_stat("out/secret.txt", &after);
	assert_int_equal(before.st_mode, after.st_mode);
	assert_int_equal(before.st_mtime, after.st_mtime);
	s = fx_slurp("out/new");
	assert_null(s);

	/* Nothing in bash, root included, can undo the mounts. */
	bash_refused("umount -l child; mount -o remount,rw child; "
		     "echo x > child/c.txt",
		"in/child/c.txt", "child data\n");

	/* Reads and /dev/null as before. */
	cmd = xstrfmt("cat %s/secret.txt > /dev/null && echo read-ok", fx.out);
	res = bash(cmd, NULL);
	free(cmd);
	assert_string_equal(res.output, "read-ok\n");
	tool_result_clear(&res);

	/*
	 * A hole that does not exist yet cannot be bound: Landlock carves
	 * it, so bash cannot create it (nor anything else beside it).
	 */
	fx_add_rule(&rules, "write", "in");
	fx_add_rule(&rules, "deny-write", "in/later");
	scope = scope_new(&rules);
	scope_rules_clear(&rules);
	fx.env.scope = scope;
	res = bash("mkdir later", NULL);
	assert_true(res.is_error);
	tool_result_clear(&res);
	s = fx_path("in/later");
	assert_int_equal(access(s, F_OK), -1);
	free(s);
	fx.env.scope = fx.scope;
	scope_free(scope);
}

/* The plan: outermost writable paths, holes beneath them only. */
static void
test_mountns_plan(void **state)
{
	const char *scratch[3] = { NULL, NULL, NULL };
	struct mountns_plan plan;
	char *child = fx_path("in/child"), *sub = fx_path("in/sub");

	scratch[0] = fx.in; /* a duplicate of the write allow */
	scratch[1] = sub; /* beneath it */
	mountns_plan_build(&plan, fx.scope, scratch);
	assert_int_equal(plan.nrw, 1);
	assert_string_equal(plan.rw[0], fx.in);
	assert_int_equal(plan.nro, 1);
	assert_string_equal(plan.ro[0], child);
	assert_true(mountns_covers(&plan, child));
	assert_false(mountns_covers(&plan, fx.in));
	assert_false(mountns_covers(&plan, sub));
	mountns_plan_clear(&plan);
	assert_false(mountns_covers(NULL, child));
	free(child);
	free(sub);
}

/* Without a hole the whole allow is granted, top level included. */
static void
test_landlock_no_hole(void **state)
{
	struct scope_rules rules = { 0 };
	struct scope_rule rule = { fx.in, SCOPE_WRITE, true, false };
	struct scope *scope;
	struct tool_result res;

	if (landlock_abi() == 0)
		skip();
	scope_rules_add(&rules, &rule);
	scope = scope_new(&rules);
	scope_rules_clear(&rules);
	fx.env.scope = scope;
	res = bash("echo x > newtop && echo y > child/new && cat newtop", NULL);
	if (res.is_error)
		fail_msg("%s", res.output);
	assert_string_equal(res.output, "x\n");
	tool_result_clear(&res);
	fx.env.scope = fx.scope;
	scope_free(scope);
}

static void
test_landlock_scratch(void **state)
{
	const char *scratch[2] = { NULL, NULL };
	struct tool_result res;
	char *cmd;

	if (landlock_abi() == 0)
		skip();
	scratch[0] = fx.out;
	fx.env.scratch = scratch;
	cmd = xstrfmt("echo x > %s/scratch && echo ok", fx.out);
	res = bash(cmd, NULL);
	free(cmd);
	assert_string_equal(res.output, "ok\n");
	tool_result_clear(&res);
	fx.env.scratch = NULL;
}

int
main(void)
{
#define T(f) cmocka_unit_test_setup_teardown(f, fx_setup, fx_teardown)
	const struct CMUnitTest tests[] = {
		T(test_exit_and_output),
		T(test_output_cap),
		T(test_timeout),
		T(test_background_holds_output),
		T(test_cancel_kills_group),
		T(test_landlock),
		T(test_landlock_no_hole),
		T(test_landlock_scratch),
		T(test_mountns),
		T(test_mountns_plan),
	};
#undef T

	signal(SIGPIPE, SIG_IGN);
	return cmocka_run_group_tests(tests, NULL, NULL);
}
