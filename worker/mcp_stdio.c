/* SPDX-License-Identifier: ISC */
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/pidfd.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <event2/buffer.h>
#include <event2/bufferevent.h>
#include <event2/event.h>

#include "common/log.h"
#include "common/xmalloc.h"
#include "worker/confine.h"
#include "worker/mcp_int.h"

/*
 * The stdio transport: the server is the worker's child in its own
 * process group, confined exactly like a bash run (worker/confine.h),
 * with JSON-RPC messages as lines on its stdin/stdout and its stderr
 * copied to the pod log one (truncated) line at a time.
 */

/* After stdout closed, how long to wait for the exit status. */
#define MCP_STDIO_EXIT_GRACE_MS 1000
#define MCP_STDIO_POLL_MS 20

extern char **environ;

struct mcp_stdio {
	struct mcp_server *s;
	pid_t pid;
	int pidfd;
	struct bufferevent *in; /* the server's stdin */
	struct bufferevent *out; /* its stdout */
	struct bufferevent *err; /* its stderr */
	struct event *ev_pid;
	struct event *ev_grace;
	bool exited;
	bool eof;
	int status;
	char *last_stderr;
};

static void mcp_stdio_report(struct mcp_stdio *t);

/* The program's path: as given with a '/', else searched in PATH. */
static char *
mcp_stdio_which(const char *cmd, char **env)
{
	const char *path = NULL, *p, *e;
	char *cand;
	size_t i;

	if (strchr(cmd, '/') != NULL)
		return access(cmd, X_OK) == 0 ? xstrdup(cmd) : NULL;
	for (i = 0; env[i] != NULL; i++)
		if (strncmp(env[i], "PATH=", 5) == 0)
			path = env[i] + 5;
	if (path == NULL)
		path = "/usr/local/bin:/usr/bin:/bin";
	for (p = path; *p != '\0'; p = *e ? e + 1 : e) {
		e = strchrnul(p, ':');
		cand = xstrfmt("%.*s/%s", (int)(e - p), p, cmd);
		if (e > p && access(cand, X_OK) == 0)
			return cand;
		free(cand);
	}
	return NULL;
}

/* environ with the server's variables over it (a fresh array). */
static char **
mcp_stdio_env(const struct mcp_server_config *cfg)
{
	size_t n = 0, k = 0, i, j, len;
	char **env;

	while (environ[n] != NULL)
		n++;
	while (cfg->env != NULL && cfg->env[k] != NULL)
		k++;
	env = xcalloc(n + k + 1, sizeof(*env));
	k = 0;
	for (i = 0; i < n; i++) {
		len = strcspn(environ[i], "=");
		for (j = 0; cfg->env != NULL && cfg->env[j] != NULL; j++)
			if (strncmp(cfg->env[j], environ[i], len) == 0 &&
				cfg->env[j][len] == '=')
				break;
		if (cfg->env == NULL || cfg->env[j] == NULL)
			env[k++] = environ[i];
	}
	for (j = 0; cfg->env != NULL && cfg->env[j] != NULL; j++)
		env[k++] = cfg->env[j];
	return env;
}

static void __attribute__((noreturn))
mcp_stdio_child_fail(const char *what, const char *arg)
{
	static const char prefix[] = "podvisor: cannot start the MCP server: ";
	ssize_t r;

	r = write(STDERR_FILENO, prefix, sizeof(prefix) - 1);
	r = write(STDERR_FILENO, what, strlen(what));
	if (arg != NULL) {
		r = write(STDERR_FILENO, " ", 1);
		r = write(STDERR_FILENO, arg, strlen(arg));
	}
	r = write(STDERR_FILENO, "\n", 1);
	(void)r;
	_exit(127);
}

/* In the forked child: never returns. */
static void __attribute__((noreturn)) mcp_stdio_child(int fds[3],
	const struct confine *cf, const char *path, char **argv, char **env)
{
	struct sigaction sa;
	const char *what;
	sigset_t set;
	int sig, i;

	setpgid(0, 0);
	memset(&sa, 0, sizeof(sa));
	sa.sa_handler = SIG_DFL;
	for (sig = 1; sig < NSIG; sig++)
		sigaction(sig, &sa, NULL);
	sigemptyset(&set);
	sigprocmask(SIG_SETMASK, &set, NULL);
	for (i = 0; i < 3; i++)
		if (dup2(fds[i], i) < 0)
			_exit(127);
	if (confine_child(cf, &what) < 0)
		mcp_stdio_child_fail(what, NULL);
	close_range(3, ~0U, 0);
	execve(path, argv, env);
	mcp_stdio_child_fail("cannot execute", path);
}

static void
mcp_stdio_read_cb(struct bufferevent *bev, void *arg)
{
	struct mcp_stdio *t = arg;
	struct evbuffer *in = bufferevent_get_input(bev);
	struct evbuffer_ptr p;
	char *line;
	size_t len;

	for (;;) {
		p = evbuffer_search_eol(in, NULL, &len, EVBUFFER_EOL_LF);
		if (p.pos < 0)
			break;
		if ((size_t)p.pos > MCP_MAX_MESSAGE)
			goto too_long;
		line = xmalloc((size_t)p.pos + 1);
		evbuffer_remove(in, line, (size_t)p.pos);
		evbuffer_drain(in, 1);
		line[p.pos] = '\0';
		len = (size_t)p.pos;
		if (len > 0 && line[len - 1] == '\r')
			len--;
		if (len > 0 && mcp_server_recv(t->s, line, len) < 0) {
			free(line);
			return; /* t was closed */
		}
		free(line);
	}
	if (evbuffer_get_length(in) <= MCP_MAX_MESSAGE)
		return;
too_long:
	mcp_server_lost(t->s, "sent a line longer than 4 MiB on stdout");
}

/* stderr: each line (cut at MCP_STDERR_LINE_MAX) to the pod log. */
static void
mcp_stdio_err_cb(struct bufferevent *bev, void *arg)
{
	struct mcp_stdio *t = arg;
	struct evbuffer *in = bufferevent_get_input(bev);
	const struct mcp_server_config *cfg = mcp_server_config(t->s);
	char buf[MCP_STDERR_LINE_MAX + 1];
	struct evbuffer_ptr p;
	size_t n, len, i;

	for (;;) {
		p = evbuffer_search_eol(in, NULL, &len, EVBUFFER_EOL_LF);
		if (p.pos < 0) {
			/* A line with no end yet: cut it once it is long. */
			if (evbuffer_get_length(in) < MCP_STDERR_LINE_MAX)
				return;
			n = MCP_STDERR_LINE_MAX;
			evbuffer_remove(in, buf, n);
		} else {
			n = (size_t)p.pos < MCP_STDERR_LINE_MAX
				? (size_t)p.pos
				: MCP_STDERR_LINE_MAX;
			evbuffer_remove(in, buf, n);
			evbuffer_drain(in, (size_t)p.pos - n + len);
		}
		buf[n] = '\0';
		for (i = 0; i < n; i++)
			if ((unsigned char)buf[i] < 0x20 && buf[i] != '\t')
				buf[i] = ' ';
		log_info("MCP server %s stderr: %s%s", cfg->name, buf,
			p.pos < 0 || (size_t)p.pos > n ? " [cut]" : "");
		free(t->last_stderr);
		t->last_stderr = xstrdup(buf);
	}
}

static void
mcp_stdio_close_bev(struct bufferevent **bev)
{
	if (*bev != NULL) {
		bufferevent_free(*bev);
		*bev = NULL;
	}
}

static void
mcp_stdio_grace_cb(evutil_socket_t fd, short what, void *arg)
{
	mcp_stdio_report(arg);
}

/* stdout closed (or failed): the exit status tells the cause. */
static void
mcp_stdio_event_cb(struct bufferevent *bev, short what, void *arg)
{
	struct mcp_stdio *t = arg;
	struct timeval tv = { 0, MCP_STDIO_EXIT_GRACE_MS * 1000 };

	if (!(what & (BEV_EVENT_EOF | BEV_EVENT_ERROR)))
		return;
	if (bev == t->err) {
		mcp_stdio_err_cb(bev, t);
		bufferevent_disable(bev, EV_READ);
		return;
	}
	if (bev == t->in) {
		bufferevent_disable(bev, EV_WRITE);
		return;
	}
	t->eof = true;
	bufferevent_disable(bev, EV_READ);
	if (t->exited) {
		mcp_stdio_report(t);
		return;
	}
	evtimer_add(t->ev_grace, &tv);
}

static int
mcp_stdio_waitid(struct mcp_stdio *t, siginfo_t *si, int options)
{
	memset(si, 0, sizeof(*si));
	if (t->pidfd >= 0)
		return waitid(P_PIDFD, (id_t)t->pidfd, si, options);
	return waitid(P_PID, (id_t)t->pid, si, options);
}

static void
mcp_stdio_pid_cb(evutil_socket_t fd, short what, void *arg)
{
	struct mcp_stdio *t = arg;
	struct timeval tv = { 0, MCP_STDIO_EXIT_GRACE_MS * 1000 };
	siginfo_t si;

	/* Learn the status but keep the zombie: it holds the group id. */
	if (mcp_stdio_waitid(t, &si, WEXITED | WNOHANG | WNOWAIT) == 0 &&
		si.si_pid == 0)
		return;
	t->exited = true;
	event_del(t->ev_pid);
	if (si.si_pid == 0)
		t->status = -1;
	else if (si.si_code == CLD_EXITED)
		t->status = si.si_status << 8;
	else
		t->status = si.si_status & 0x7f;
	if (!t->eof) {
		/* What it wrote before it exited is read first. */
		evtimer_add(t->ev_grace, &tv);
		return;
	}
	mcp_stdio_report(t);
}

/* The server ended (or closed its stdout and did not exit in time). */
static void
mcp_stdio_report(struct mcp_stdio *t)
{
	char *cause, *what;

	if (t->err != NULL)
		mcp_stdio_err_cb(t->err, t);
	if (!t->exited)
		what = xstrdup("closed its stdout");
	else if (t->status < 0)
		what = xstrdup("exited");
	else if (WIFEXITED(t->status))
		what = xstrfmt("exited with status %d", WEXITSTATUS(t->status));
	else
		what = xstrfmt("was killed by signal %d (%s)",
			WTERMSIG(t->status), strsignal(WTERMSIG(t->status)));
	cause = t->last_stderr != NULL
		? xstrfmt("%s (its last stderr line: %.200s)", what,
			  t->last_stderr)
		: xstrdup(what);
	free(what);
	mcp_server_lost(t->s, cause);
	free(cause);
}

static struct bufferevent *
mcp_stdio_bev(struct mcp_stdio *t, int fd, short enable)
{
	struct bufferevent *bev;

	evutil_make_socket_nonblocking(fd);
	bev = bufferevent_socket_new(
		mcp_server_base(t->s), fd, BEV_OPT_CLOSE_ON_FREE);
	bufferevent_setcb(bev,
		enable == EV_READ && t->out == NULL ? mcp_stdio_read_cb
			: enable == EV_READ         ? mcp_stdio_err_cb
						    : NULL,
		NULL, mcp_stdio_event_cb, t);
	bufferevent_enable(bev, enable);
	return bev;
}

/* Start the program confined. */
struct mcp_stdio *
mcp_stdio_open(struct mcp_server *s, char **reterr_msg)
{
	const struct mcp_server_config *cfg = mcp_server_config(s);
	int in[2] = { -1, -1 }, out[2] = { -1, -1 }, err[2] = { -1, -1 };
	struct timeval tv = { 0, MCP_STDIO_POLL_MS * 1000 };
	char **env, **argv, *path, *cerr = NULL;
	struct mcp_stdio *t;
	struct confine cf;
	size_t i, n = 0;
	int fds[3];
	pid_t pid;

	env = mcp_stdio_env(cfg);
	path = mcp_stdio_which(cfg->command, env);
	if (path == NULL) {
		*reterr_msg = xstrfmt("cannot start: command %s not found "
				      "or not executable",
			cfg->command);
		free(env);
		return NULL;
	}
	if (confine_prepare(&cf, mcp_server_tenv(s), &cerr) < 0) {
		*reterr_msg = xstrfmt("cannot start: %s", cerr);
		free(cerr);
		free(env);
		free(path);
		return NULL;
	}
	while (cfg->args != NULL && cfg->args[n] != NULL)
		n++;
	argv = xcalloc(n + 2, sizeof(*argv));
	argv[0] = cfg->command;
	for (i = 0; i < n; i++)
		argv[i + 1] = cfg->args[i];
	if (pipe2(in, O_CLOEXEC) < 0 || pipe2(out, O_CLOEXEC) < 0 ||
		pipe2(err, O_CLOEXEC) < 0 || (pid = fork()) < 0) {
		*reterr_msg = xstrfmt("cannot start: %s", strerror(errno));
		for (i = 0; i < 2; i++) {
			if (in[i] >= 0)
				close(in[i]);
			if (out[i] >= 0)
				close(out[i]);
			if (err[i] >= 0)
				close(err[i]);
		}
		confine_clear(&cf);
		free(argv);
		free(env);
		free(path);
		return NULL;
	}
	if (pid == 0) {
		fds[0] = in[0];
		fds[1] = out[1];
		fds[2] = err[1];
		mcp_stdio_child(fds, &cf, path, argv, env);
	}
	setpgid(pid, pid);
	confine_clear(&cf);
	free(argv);
	free(env);
	free(path);
	close(in[0]);
	close(out[1]);
	close(err[1]);
	t = xcalloc(1, sizeof(*t));
	t->s = s;
	t->pid = pid;
	t->pidfd = pidfd_open(pid, 0);
	t->in = mcp_stdio_bev(t, in[1], EV_WRITE);
	t->out = mcp_stdio_bev(t, out[0], EV_READ);
	t->err = mcp_stdio_bev(t, err[0], EV_READ);
	t->ev_grace = evtimer_new(mcp_server_base(s), mcp_stdio_grace_cb, t);
	/* Without pidfds (old kernel, valgrind) the exit is polled for. */
	t->ev_pid = event_new(mcp_server_base(s), t->pidfd,
		EV_PERSIST | (t->pidfd >= 0 ? EV_READ : 0), mcp_stdio_pid_cb,
		t);
	event_add(t->ev_pid, t->pidfd >= 0 ? NULL : &tv);
	return t;
}

/* Queue one message and its newline. */
void
mcp_stdio_send(struct mcp_stdio *t, const char *json, size_t len)
{
	if (t == NULL || t->in == NULL)
		return;
	bufferevent_write(t->in, json, len);
	bufferevent_write(t->in, "\n", 1);
}

/* Kill the group, close the pipes, reap if it is gone already. */
void
mcp_stdio_close(struct mcp_stdio *t)
{
	siginfo_t si;

	if (t == NULL)
		return;
	if (kill(-t->pid, SIGKILL) < 0)
		kill(t->pid, SIGKILL);
	mcp_stdio_close_bev(&t->in);
	mcp_stdio_close_bev(&t->out);
	mcp_stdio_close_bev(&t->err);
	if (t->ev_pid != NULL)
		event_free(t->ev_pid);
	if (t->ev_grace != NULL)
		event_free(t->ev_grace);
	/* Not reaped now: the orphan reaper takes it on SIGCHLD. */
	(void)mcp_stdio_waitid(t, &si, WEXITED | WNOHANG);
	if (t->pidfd >= 0)
		close(t->pidfd);
	free(t->last_stderr);
	free(t);
}

int
mcp_stdio_pid(const struct mcp_stdio *t)
{
	return t != NULL ? (int)t->pid : -1;
}
