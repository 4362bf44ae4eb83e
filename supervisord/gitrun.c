/* SPDX-License-Identifier: ISC */
#include <sys/queue.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/wait.h>

#include <errno.h>
#include <fcntl.h>
#include <linux/close_range.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <event2/event.h>

#include "common/log.h"
#include "common/sock.h"
#include "common/xmalloc.h"
#include "supervisord/daemon.h"
#include "supervisord/gitrun.h"

#define GITRUN_MAX_OUT (4u * 1024u * 1024u)
#define GITRUN_MAX_ERR (64u * 1024u)

extern char **environ;

static char gitrun_prompt_env[] = "GIT_TERMINAL_PROMPT=0";

struct gitrun {
	pid_t pid;
	int fd[2]; /* stdout, stderr; -1 at EOF */
	struct event *ev[2];
	struct event *timer; /* time limit, then "done" */
	bool exited, done;
	struct gitrun_result res;
	size_t errlen;
	gitrun_cb cb;
	void *arg;
	LIST_ENTRY(gitrun) entry;
};

static LIST_HEAD(, gitrun) gitrun_all = LIST_HEAD_INITIALIZER(gitrun_all);

/* git from PATH (caller frees), or NULL. */
static char *
gitrun_find(void)
{
	const char *path = getenv("PATH"), *p, *e;
	char *cand;

	if (path == NULL || *path == '\0')
		path = "/usr/local/bin:/usr/bin:/bin";
	for (p = path; *p != '\0'; p = *e != '\0' ? e + 1 : e) {
		e = strchrnul(p, ':');
		if (e == p || *p != '/')
			continue; /* only absolute directories */
		cand = xstrfmt("%.*s/git", (int)(e - p), p);
		if (access(cand, X_OK) == 0)
			return cand;
		free(cand);
	}
	return NULL;
}

static void
gitrun_free(struct gitrun *g)
{
	int i;

	for (i = 0; i < 2; i++) {
		if (g->ev[i] != NULL)
			event_free(g->ev[i]);
		if (g->fd[i] >= 0)
			close(g->fd[i]);
	}
	if (g->timer != NULL)
		event_free(g->timer);
	free(g->res.out);
	free(g->res.err);
	free(g);
}

/* Deliver from the loop once git exited and both pipes ended. */
static void
gitrun_maybe_done(struct gitrun *g)
{
	if (g->done || !g->exited || g->fd[0] >= 0 || g->fd[1] >= 0)
		return;
	g->done = true;
	event_del(g->timer);
	event_active(g->timer, EV_TIMEOUT, 1);
}

static void
gitrun_eof(struct gitrun *g, int i)
{
	event_free(g->ev[i]);
	g->ev[i] = NULL;
	close(g->fd[i]);
	g->fd[i] = -1;
}

static void
gitrun_read_cb(evutil_socket_t fd, short what, void *arg)
{
	struct gitrun *g = arg;
	int i = fd == g->fd[0] ? 0 : 1;
	char buf[16384];
	size_t *len = i == 0 ? &g->res.outlen : &g->errlen;
	size_t cap = i == 0 ? GITRUN_MAX_OUT : GITRUN_MAX_ERR, take;
	char **dst = i == 0 ? &g->res.out : &g->res.err;
	ssize_t n;

	(void)what;
	for (;;) {
		n = read(fd, buf, sizeof(buf));
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0 && errno == EAGAIN)
			return;
		if (n <= 0) {
			gitrun_eof(g, i);
			gitrun_maybe_done(g);
			return;
		}
		take = *len + (size_t)n > cap ? cap - *len : (size_t)n;
		if (take > 0) {
			*dst = xreallocarray(*dst, *len + take + 1, 1);
			memcpy(*dst + *len, buf, take);
			*len += take;
			(*dst)[*len] = '\0';
		}
	}
}

static void
gitrun_timer_cb(evutil_socket_t fd, short what, void *arg)
{
	struct gitrun *g = arg;
	int i;

	(void)fd;
	(void)what;
	if (g->done) {
		LIST_REMOVE(g, entry);
		if (g->res.out == NULL)
			g->res.out = xstrdup("");
		if (g->res.err == NULL)
			g->res.err = xstrdup("");
		g->cb(&g->res, g->arg);
		gitrun_free(g);
		return;
	}
	/* The time limit: kill the group, stop waiting for its output. */
	log_warn("git (pid %d) ran past its time limit: killed", (int)g->pid);
	g->res.timed_out = true;
	if (g->pid > 0 && !g->exited && kill(-g->pid, SIGKILL) < 0)
		(void)kill(g->pid, SIGKILL);
	for (i = 0; i < 2; i++)
		if (g->fd[i] >= 0)
			gitrun_eof(g, i);
	gitrun_maybe_done(g);
}

static void
gitrun_free_argv(char **argv)
{
	size_t i;

	for (i = 0; argv[i] != NULL; i++)
		free(argv[i]);
	free(argv);
}

/* Only async-signal-safe calls between fork and exec. */
static void
gitrun_child(const char *bin, char *const argv[], char *const envp[], int out,
	int err)
{
	static const char msg[] = "podvisord: cannot execute git\n";
	sigset_t none;
	int sig, nul;

	for (sig = 1; sig < NSIG; sig++)
		(void)signal(sig, SIG_DFL);
	sigemptyset(&none);
	(void)sigprocmask(SIG_SETMASK, &none, NULL);
	(void)setpgid(0, 0);
	nul = open("/dev/null", O_RDONLY | O_CLOEXEC);
	if (nul < 0 || dup2(nul, 0) < 0 || dup2(out, 1) < 0 || dup2(err, 2) < 0)
		_exit(127);
	(void)syscall(SYS_close_range, 3U, ~0U, CLOSE_RANGE_CLOEXEC);
	execve(bin, argv, envp);
	(void)write(2, msg, sizeof(msg) - 1);
	_exit(127);
}

/* See gitrun.h. */
void
gitrun_start(struct daemon *d, const char *dir, const char *const *args,
	int timeout_s, gitrun_cb cb, void *arg)
{
	struct timeval tv = { timeout_s, 0 };
	struct gitrun *g = xcalloc(1, sizeof(*g));
	char **argv, **envp, *bin;
	int po[2] = { -1, -1 }, pe[2] = { -1, -1 }, i;
	size_t n = 0, ne = 0, k;

	g->fd[0] = g->fd[1] = -1;
	g->res.code = -1;
	g->cb = cb;
	g->arg = arg;
	g->exited = true; /* until a child runs */
	g->timer = evtimer_new(d->base, gitrun_timer_cb, g);
	LIST_INSERT_HEAD(&gitrun_all, g, entry);
	if ((bin = gitrun_find()) == NULL) {
		g->res.start_errno = ENOENT;
		gitrun_maybe_done(g);
		return;
	}
	while (args[n] != NULL)
		n++;
	argv = xcalloc(n + 4, sizeof(*argv));
	argv[0] = xstrdup("git");
	argv[1] = xstrdup("-C");
	argv[2] = xstrdup(dir);
	for (k = 0; k < n; k++)
		argv[k + 3] = xstrdup(args[k]);
	while (environ[ne] != NULL)
		ne++;
	envp = xcalloc(ne + 3, sizeof(*envp));
	for (k = 0, ne = 0; environ[k] != NULL; k++)
		if (strncmp(environ[k], "GIT_TERMINAL_PROMPT=", 20) != 0 &&
			strncmp(environ[k], "GIT_DIR=", 8) != 0 &&
			strncmp(environ[k], "GIT_WORK_TREE=", 14) != 0 &&
			strncmp(environ[k], "GIT_INDEX_FILE=", 15) != 0)
			envp[ne++] = environ[k];
	envp[ne++] = gitrun_prompt_env;
	if (pipe2(po, O_CLOEXEC) < 0 || pipe2(pe, O_CLOEXEC) < 0 ||
		(g->pid = fork()) < 0) {
		g->res.start_errno = errno;
		for (i = 0; i < 2; i++) {
			if (po[i] >= 0)
				close(po[i]);
			if (pe[i] >= 0)
				close(pe[i]);
		}
		g->pid = 0;
		gitrun_free_argv(argv);
		free(envp);
		free(bin);
		gitrun_maybe_done(g);
		return;
	}
	if (g->pid == 0)
		gitrun_child(bin, argv, envp, po[1], pe[1]);
	gitrun_free_argv(argv);
	free(envp);
	free(bin);
	close(po[1]);
	close(pe[1]);
	g->exited = false;
	g->fd[0] = po[0];
	g->fd[1] = pe[0];
	for (i = 0; i < 2; i++) {
		(void)fd_set_nonblock(g->fd[i], true);
		g->ev[i] = event_new(d->base, g->fd[i], EV_READ | EV_PERSIST,
			gitrun_read_cb, g);
		event_add(g->ev[i], NULL);
	}
	event_add(g->timer, &tv);
	log_debug("git (pid %d) in %s: %s ...", (int)g->pid, dir, args[0]);
}

/* See gitrun.h. */
bool
gitrun_reaped(pid_t pid, int status)
{
	struct gitrun *g;

	LIST_FOREACH(g, &gitrun_all, entry)
	{
		if (g->pid != pid || g->exited)
			continue;
		g->exited = true;
		if (WIFEXITED(status))
			g->res.code = WEXITSTATUS(status);
		else if (WIFSIGNALED(status))
			g->res.sig = WTERMSIG(status);
		gitrun_maybe_done(g);
		return true;
	}
	return false;
}

/* See gitrun.h. */
bool
gitrun_owns(pid_t pid)
{
	struct gitrun *g;

	LIST_FOREACH(g, &gitrun_all, entry)
	{
		if (g->pid == pid && !g->exited)
			return true;
	}
	return false;
}

/* See gitrun.h. */
const char *
gitrun_why(const struct gitrun_result *res, char *buf, size_t n)
{
	size_t len;

	if (res->start_errno != 0) {
		snprintf(buf, n, "cannot run git: %s%s",
			strerror(res->start_errno),
			res->start_errno == ENOENT
				? " (is git installed and in "
				  "podvisord's PATH?)"
				: "");
		return buf;
	}
	if (res->timed_out) {
		snprintf(buf, n, "git ran past its time limit and was killed");
		return buf;
	}
	len = res->err != NULL ? strlen(res->err) : 0;
	while (len > 0 &&
		(res->err[len - 1] == '\n' || res->err[len - 1] == ' '))
		len--;
	if (len == 0) {
		if (res->sig != 0)
			snprintf(buf, n, "git was killed by signal %d",
				res->sig);
		else
			snprintf(
				buf, n, "git exited with status %d", res->code);
		return buf;
	}
	res->err[len] = '\0';
	return res->err;
}
