/* SPDX-License-Identifier: ISC */
#include <errno.h>
#include <event2/event.h>
#include <fcntl.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/pidfd.h>
#include <sys/wait.h>
#include <unistd.h>

#include "common/cgroup2.h"
#include "common/xmalloc.h"
#include "common/proc.h"
#include "worker/confine.h"
#include "worker/tools_impl.h"

#define TOOL_BASH_MAX_TIMEOUT_S 600
/*
 * After bash exits, how long to wait for the end of its output: a
 * background process that still holds the pipe is killed with the group
 * when this runs out.
 */
#define TOOL_BASH_GRACE_MS 500
/* Exit polling interval where pidfd_open is not available. */
#define TOOL_BASH_POLL_MS 20

extern char **environ;

struct tool_bash {
	struct tool_env *env;
	struct tool_result *res;
	tool_bash_done_cb done;
	void *arg;
	pid_t pid;
	int pidfd;
	int outfd;
	struct event *ev_out;
	struct event *ev_pid;
	struct event *ev_timer; /* timeout, then the grace after exit */
	struct tools_out out;
	size_t newlines;
	char last;
	int timeout_s;
	int status;
	bool exited;
	bool eof;
	bool timed_out;
	bool grace_kill;
	bool oom_known; /* the pod's memory.events was read at the start */
	int64_t oom_before; /* its oom_kill then */
	struct tool_bash *next; /* env->bash_dying */
	struct tool_bash *all_next; /* env->bash_all: every one not freed */
};

static void tool_bash_maybe_finish(struct tool_bash *b);

static void
tool_bash_kill(struct tool_bash *b)
{
	/* The leader is never reaped before this, so the group id is ours. */
	if (kill(-b->pid, SIGKILL) < 0)
		kill(b->pid, SIGKILL);
}

static void
tool_bash_close_out(struct tool_bash *b)
{
	if (b->ev_out != NULL) {
		event_free(b->ev_out);
		b->ev_out = NULL;
	}
	if (b->outfd >= 0) {
		close(b->outfd);
		b->outfd = -1;
	}
	b->eof = true;
}

static void
tool_bash_free(struct tool_bash *b)
{
	struct tool_bash **pp;

	for (pp = &b->env->bash_all; *pp != NULL; pp = &(*pp)->all_next)
		if (*pp == b) {
			*pp = b->all_next;
			break;
		}
	tool_bash_close_out(b);
	if (b->ev_pid != NULL)
		event_free(b->ev_pid);
	if (b->ev_timer != NULL)
		event_free(b->ev_timer);
	if (b->pidfd >= 0)
		close(b->pidfd);
	tools_out_clear(&b->out);
	free(b);
}

/* waitid on the child: through its pidfd, or its pid without one. */
static int
tool_bash_waitid(struct tool_bash *b, siginfo_t *si, int options)
{
	memset(si, 0, sizeof(*si));
	if (b->pidfd >= 0)
		return waitid(P_PIDFD, (id_t)b->pidfd, si, options);
	return waitid(P_PID, (id_t)b->pid, si, options);
}

/*
 * Watch for the child's exit: its pidfd becoming readable, or (no pidfd:
 * an old kernel, valgrind) a short repeating timer.
 */
static void
tool_bash_watch(struct tool_bash *b, event_callback_fn cb)
{
	struct timeval tv = { 0, TOOL_BASH_POLL_MS * 1000 };

	if (b->ev_pid != NULL)
		event_free(b->ev_pid);
	b->ev_pid = event_new(b->env->base, b->pidfd,
		EV_PERSIST | (b->pidfd >= 0 ? EV_READ : 0), cb, b);
	event_add(b->ev_pid, b->pidfd >= 0 ? NULL : &tv);
}

/* Reap the child; returns true once it is gone (or was reaped elsewhere). */
static bool
tool_bash_reap(struct tool_bash *b, bool block)
{
	siginfo_t si;

	while (tool_bash_waitid(b, &si, WEXITED | (block ? 0 : WNOHANG)) < 0) {
		if (errno != EINTR)
			return true; /* ECHILD: someone else reaped it */
	}
	return si.si_pid != 0;
}

static void
tool_bash_out_cb(evutil_socket_t fd, short what, void *arg)
{
	struct tool_bash *b = arg;
	char buf[65536];
	const char *p;
	ssize_t n;

	for (;;) {
		n = read(b->outfd, buf, sizeof(buf));
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0 && errno == EAGAIN)
			return;
		if (n <= 0)
			break;
		tools_out_add(&b->out, buf, (size_t)n);
		for (p = buf; (p = memchr(p, '\n', (size_t)(buf + n - p))); p++)
			b->newlines++;
		b->last = buf[n - 1];
	}
	tool_bash_close_out(b);
	tool_bash_maybe_finish(b);
}

static void
tool_bash_timer_cb(evutil_socket_t fd, short what, void *arg)
{
	struct tool_bash *b = arg;

	if (b->exited) {
		/* Grace after exit ran out: a background process holds the
		 * output open. */
		b->grace_kill = true;
		tool_bash_kill(b);
		tool_bash_close_out(b);
		tool_bash_maybe_finish(b);
		return;
	}
	b->timed_out = true;
	tool_bash_kill(b);
}

static void
tool_bash_pid_cb(evutil_socket_t fd, short what, void *arg)
{
	struct tool_bash *b = arg;
	struct timeval tv;
	siginfo_t si;

	/* Learn the status but leave the zombie: it keeps the group id. */
	if (tool_bash_waitid(b, &si, WEXITED | WNOHANG | WNOWAIT) == 0 &&
		si.si_pid == 0)
		return; /* spurious */
	b->exited = true;
	event_del(b->ev_pid);
	if (si.si_code == CLD_EXITED)
		b->status = si.si_status << 8;
	else if (si.si_pid != 0)
		b->status = si.si_status & 0x7f;
	else
		b->status = -1; /* reaped by someone else */
	if (!b->eof) {
		evtimer_del(b->ev_timer);
		tv.tv_sec = 0;
		tv.tv_usec = TOOL_BASH_GRACE_MS * 1000;
		evtimer_add(b->ev_timer, &tv);
		return;
	}
	tool_bash_maybe_finish(b);
}

/*
 * OOM kills in the pod's cgroup while b ran (0 if none or unknown): the
 * new ones since the last report go to env->on_oom (an `oom` event).
 */
static int64_t
tool_bash_oom_kills(struct tool_bash *b)
{
	struct tool_env *env = b->env;
	int64_t now;

	if (!b->oom_known ||
		cgroup2_read_int(
			env->cgroup, "memory.events", "oom_kill", &now) < 0 ||
		now <= b->oom_before)
		return 0;
	if (now > env->oom_seen && env->on_oom != NULL)
		env->on_oom(env->on_oom_arg,
			now -
				(env->oom_seen >= 0 ? env->oom_seen
						    : b->oom_before));
	env->oom_seen = now;
	return now - b->oom_before;
}

/* "the pod's memory limit (memory.max 512 MiB)" (caller frees). */
static char *
tool_bash_oom_what(const struct tool_env *env)
{
	if (env->memory_max <= 0)
		return xstrdup("the pod's memory limit");
	if (env->memory_max % (1 << 20) == 0)
		return xstrfmt("the pod's memory limit (memory.max %lld MiB)",
			(long long)(env->memory_max >> 20));
	return xstrfmt("the pod's memory limit (memory.max %lld bytes)",
		(long long)env->memory_max);
}

static void
tool_bash_result(struct tool_bash *b)
{
	struct tool_result *res = b->res;
	size_t lines = b->newlines;
	int64_t ooms = tool_bash_oom_kills(b);
	char *text, *what, *lim;

	if (b->out.total > 0 && b->last != '\n')
		lines++;
	text = b->out.total > 0 ? tools_out_finish(&b->out)
				: xstrdup("(no output)");
	if (b->timed_out)
		what = xstrfmt("killed after the %d s timeout", b->timeout_s);
	else if (b->status < 0)
		what = xstrdup("exit status unknown");
	else if (WIFEXITED(b->status))
		what = xstrfmt("exit %d", WEXITSTATUS(b->status));
	else
		what = xstrfmt("killed by signal %d (%s)", WTERMSIG(b->status),
			strsignal(WTERMSIG(b->status)));
	if (ooms > 0) {
		/* The model must know why: not a crash of its program. */
		char *old = text;

		lim = tool_bash_oom_what(b->env);
		text = xstrfmt("%s%s[podvisor: %lld process%s of this command "
			       "killed by the kernel OOM killer: it reached "
			       "%s]",
			old,
			old[0] == '\0' || old[strlen(old) - 1] == '\n' ? ""
								       : "\n",
			(long long)ooms, ooms == 1 ? "" : "es", lim);
		free(old);
		free(lim);
		if (!b->timed_out && b->status >= 0 && WIFSIGNALED(b->status) &&
			WTERMSIG(b->status) == SIGKILL) {
			free(what);
			what = xstrdup("killed by the OOM killer");
		}
	}
	res->is_error = ooms > 0 || b->timed_out || b->status < 0 ||
		!WIFEXITED(b->status) || WEXITSTATUS(b->status) != 0;
	res->summary =
		xstrfmt("%s, %zu line%s", what, lines, lines == 1 ? "" : "s");
	if (res->is_error || b->grace_kill)
		res->output = xstrfmt("%s%s[%s%s]", text,
			*text == '\0' || text[strlen(text) - 1] == '\n' ? ""
									: "\n",
			what,
			b->grace_kill ? "; background processes that kept the "
					"output open were killed"
				      : "");
	else
		res->output = xstrdup(text);
	free(text);
	free(what);
}

static void
tool_bash_maybe_finish(struct tool_bash *b)
{
	tool_bash_done_cb done = b->done;
	void *arg = b->arg;

	if (!b->exited || !b->eof)
		return;
	tool_bash_reap(b, false);
	tool_bash_result(b);
	tool_bash_free(b);
	done(arg);
}

static void
tool_bash_child_fail(const char *what)
{
	static const char prefix[] = "podvisor: cannot start bash: ";
	ssize_t r;

	r = write(STDOUT_FILENO, prefix, sizeof(prefix) - 1);
	r = write(STDOUT_FILENO, what, strlen(what));
	r = write(STDOUT_FILENO, "\n", 1);
	(void)r;
	_exit(126);
}

/* In the forked child: never returns. */
static void __attribute__((noreturn)) tool_bash_child(int outfd,
	const struct confine *cf, const char *command, bool oom_first)
{
	char *argv[] = { (char *)(uintptr_t) "bash", (char *)(uintptr_t) "-c",
		(char *)(uintptr_t)command, NULL };
	struct sigaction sa;
	const char *what;
	sigset_t set;
	int sig, nullfd, adj;

	setpgid(0, 0);
	memset(&sa, 0, sizeof(sa));
	sa.sa_handler = SIG_DFL;
	for (sig = 1; sig < NSIG; sig++)
		sigaction(sig, &sa, NULL);
	sigemptyset(&set);
	sigprocmask(SIG_SETMASK, &set, NULL);
	if (dup2(outfd, STDOUT_FILENO) < 0 || dup2(outfd, STDERR_FILENO) < 0)
		_exit(126);
	nullfd = open("/dev/null", O_RDONLY);
	if (nullfd < 0 || dup2(nullfd, STDIN_FILENO) < 0)
		tool_bash_child_fail("cannot open /dev/null");
	/* Under a memory limit the OOM killer takes tools before the worker. */
	if (oom_first &&
		(adj = open("/proc/self/oom_score_adj",
			 O_WRONLY | O_CLOEXEC)) >= 0) {
		ssize_t w = write(adj, "500", 3); /* best effort */

		(void)w;
		close(adj);
	}
	if (confine_child(cf, &what) < 0)
		tool_bash_child_fail(what);
	close_range(3, ~0U, 0);
	execve("/bin/bash", argv, environ);
	tool_bash_child_fail("cannot execute /bin/bash");
	_exit(127);
}

static int
tool_bash_args(struct tool_env *env, struct json_object *args,
	const char **ret_cmd, int *ret_timeout, struct tool_result *res)
{
	long long t = env->bash_timeout_default_s > 0
		? env->bash_timeout_default_s
		: 120;

	if (tools_arg_string(args, "command", true, ret_cmd, res) < 0 ||
		tools_arg_int(args, "timeout_s", false, &t, res) < 0)
		return -EINVAL;
	if (**ret_cmd == '\0') {
		tools_result_error(res, "argument \"command\" is empty");
		return -EINVAL;
	}
	if (t < 1) {
		tools_result_error(
			res, "argument \"timeout_s\" must be at least 1");
		return -EINVAL;
	}
	if (t > TOOL_BASH_MAX_TIMEOUT_S)
		t = TOOL_BASH_MAX_TIMEOUT_S;
	*ret_timeout = (int)t;
	return 0;
}

/* Start a bash run; see tools_impl.h. */
struct tool_bash *
tool_bash_start(struct tool_env *env, struct json_object *args,
	struct tool_result *res, tool_bash_done_cb done, void *arg)
{
	struct confine cf;
	struct tool_bash *b;
	const char *command = NULL;
	char *err = NULL;
	int64_t oom_before = 0;
	bool oom_known = false;
	int pfd[2], timeout_s;
	struct timeval tv;
	pid_t pid;

	if (tool_bash_args(env, args, &command, &timeout_s, res) < 0)
		return NULL;
	if (confine_prepare(&cf, env, &err) < 0) {
		tools_result_error(res, "bash not run: %s", err);
		free(err);
		return NULL;
	}
	if (pipe2(pfd, O_CLOEXEC) < 0) {
		tools_result_error(
			res, "bash not run: pipe: %s", strerror(errno));
		goto fail_rule;
	}
	/* Only with a memory controller: one small read per call. */
	if (env->cgroup != NULL)
		oom_known = cgroup2_read_int(env->cgroup, "memory.events",
				    "oom_kill", &oom_before) == 0;
	pid = fork();
	if (pid < 0) {
		tools_result_error(
			res, "bash not run: fork: %s", strerror(errno));
		close(pfd[0]);
		close(pfd[1]);
		goto fail_rule;
	}
	if (pid == 0)
		tool_bash_child(pfd[1], &cf, command, oom_known);
	close(pfd[1]);
	confine_clear(&cf);
	setpgid(pid, pid);
	b = xcalloc(1, sizeof(*b));
	b->env = env;
	b->res = res;
	b->done = done;
	b->arg = arg;
	b->pid = pid;
	b->outfd = pfd[0];
	b->timeout_s = timeout_s;
	b->oom_known = oom_known;
	b->oom_before = oom_before;
	if (oom_known && env->oom_seen < 0)
		env->oom_seen = oom_before;
	b->all_next = env->bash_all;
	env->bash_all = b;
	/* Without pidfds (old kernel, valgrind) the exit is polled for. */
	b->pidfd = pidfd_open(pid, 0);
	fcntl(b->outfd, F_SETFL, O_NONBLOCK);
	b->ev_out = event_new(
		env->base, b->outfd, EV_READ | EV_PERSIST, tool_bash_out_cb, b);
	b->ev_timer = evtimer_new(env->base, tool_bash_timer_cb, b);
	event_add(b->ev_out, NULL);
	tool_bash_watch(b, tool_bash_pid_cb);
	tv.tv_sec = timeout_s;
	tv.tv_usec = 0;
	evtimer_add(b->ev_timer, &tv);
	return b;
fail_rule:
	confine_clear(&cf);
	return NULL;
}

static void
tool_bash_dying_cb(evutil_socket_t fd, short what, void *arg)
{
	struct tool_bash *b = arg, **pp;

	if (!tool_bash_reap(b, false))
		return;
	for (pp = &b->env->bash_dying; *pp != NULL; pp = &(*pp)->next)
		if (*pp == b) {
			*pp = b->next;
			break;
		}
	tool_bash_free(b);
}

/* Kill the process group; no done callback afterwards. */
void
tool_bash_cancel(struct tool_bash *b)
{
	if (b == NULL)
		return;
	tool_bash_kill(b);
	tool_bash_close_out(b);
	if (b->ev_timer != NULL) {
		event_free(b->ev_timer);
		b->ev_timer = NULL;
	}
	if (tool_bash_reap(b, false)) {
		tool_bash_free(b);
		return;
	}
	/* Still dying: reap it from the loop when it exits. */
	tool_bash_watch(b, tool_bash_dying_cb);
	b->next = b->env->bash_dying;
	b->env->bash_dying = b;
}

/* Kill and reap whatever cancelled runs are still dying. */
void
tool_bash_reap_all(struct tool_env *env)
{
	struct tool_bash *b;

	while ((b = env->bash_dying) != NULL) {
		env->bash_dying = b->next;
		tool_bash_kill(b);
		tool_bash_reap(b, true);
		tool_bash_free(b);
	}
}

/* Is pid the leader of one of env's bash runs? */
static bool
tool_bash_tracked(struct tool_env *env, pid_t pid)
{
	struct tool_bash *b;

	for (b = env->bash_all; b != NULL; b = b->all_next)
		if (b->pid == pid)
			return true;
	return env->owns_pid != NULL && env->owns_pid(env->owns_pid_arg, pid);
}

/*
 * The worker is a child subreaper: what a bash run left running when its
 * parent died (a daemon that called setsid, a double fork) becomes the
 * worker's child.  Reap those that have ended; with kill, kill them all
 * first (the worker is ending, and they must not outlive its scope),
 * again and again as their own orphans arrive.  A run's leader is left to
 * its run.
 */
static size_t
tool_bash_orphans(struct tool_env *env, bool kill_them)
{
	size_t i, n, found = 0;
	pid_t *pids;
	int status;

	n = proc_children(&pids);
	for (i = 0; i < n; i++) {
		if (tool_bash_tracked(env, pids[i]))
			continue;
		found++;
		/* with its group: a setsid'd shell takes its children along */
		if (kill_them && kill(-pids[i], SIGKILL) < 0)
			kill(pids[i], SIGKILL);
		while (waitpid(pids[i], &status, kill_them ? 0 : WNOHANG) < 0 &&
			errno == EINTR)
			;
	}
	free(pids);
	return found;
}

/* On SIGCHLD: reap the adopted orphans that have ended. */
void
tool_bash_reap_orphans(struct tool_env *env)
{
	(void)tool_bash_orphans(env, false);
}

/* Kill and reap every adopted orphan, and the orphans that leaves. */
void
tool_bash_kill_orphans(struct tool_env *env)
{
	int rounds = 0;

	while (rounds++ < 64 && tool_bash_orphans(env, true) > 0)
		;
}
