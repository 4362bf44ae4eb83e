/* SPDX-License-Identifier: ISC */
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <event2/event.h>

#include "common/log.h"
#include "common/paths.h"
#include "common/sock.h"
#include "common/xmalloc.h"
#include "supervisord/daemon.h"
#include "supervisord/fakellm.h"
#include "supervisord/spawn.h"

#define FAKELLM_LINE_MAX 256

static void
fakellm_close_pipe(struct daemon *d)
{
	if (d->fakellm_ev != NULL)
		event_free(d->fakellm_ev);
	d->fakellm_ev = NULL;
	if (d->fakellm_fd >= 0)
		close(d->fakellm_fd);
	d->fakellm_fd = -1;
}

static void
fakellm_fail(struct daemon *d, const char *why)
{
	log_err("fakellm: %s", why);
	fakellm_close_pipe(d);
	if (d->fakellm_pid > 0)
		(void)kill(d->fakellm_pid, SIGTERM);
	d->fakellm_port = -1;
	spawn_fakellm_ready(d, false);
}

static void
fakellm_read_cb(evutil_socket_t fd, short what, void *arg)
{
	struct daemon *d = arg;
	char buf[FAKELLM_LINE_MAX];
	const char *s;
	ssize_t n;
	int port;

	if (what & EV_TIMEOUT) {
		fakellm_fail(d, "no \"listening\" line within 10 s");
		return;
	}
	n = read(fd, buf, sizeof(buf) - 1);
	if (n < 0 && (errno == EAGAIN || errno == EINTR))
		return;
	if (n <= 0) {
		fakellm_fail(d, "exited before listening");
		return;
	}
	buf[n] = '\0';
	s = strstr(buf, "listening http://127.0.0.1:");
	if (s == NULL ||
		sscanf(s, "listening http://127.0.0.1:%d", &port) != 1 ||
		port <= 0 || port > 65535) {
		fakellm_fail(d, "unexpected output");
		return;
	}
	/* Keep the pipe open: fakellm may write more and must not EPIPE. */
	event_del(d->fakellm_ev);
	d->fakellm_port = port;
	log_info("fakellm listening on port %d", port);
	spawn_fakellm_ready(d, true);
}

/* Start (once) or report the bundled fakellm. */
int
fakellm_ensure(struct daemon *d)
{
	struct timeval tv = { 10, 0 };
	char *bin, *errpath;
	int pfd[2], errfd;
	pid_t pid;

	if (d->fakellm_port > 0)
		return d->fakellm_port;
	if (d->fakellm_pid > 0)
		return -EAGAIN;
	bin = paths_sibling_binary("fakellm", "PODVISOR_FAKELLM");
	if (bin == NULL || access(bin, X_OK) != 0) {
		log_err("fakellm: no executable found (%s)",
			bin != NULL ? bin : "?");
		free(bin);
		return -ENOENT;
	}
	if (pipe2(pfd, O_CLOEXEC) < 0) {
		free(bin);
		return -errno;
	}
	errpath = xstrfmt("%s/fakellm.log", d->paths.runtime);
	errfd = open(errpath, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0600);
	free(errpath);
	pid = fork();
	if (pid < 0) {
		int r = -errno;

		close(pfd[0]);
		close(pfd[1]);
		if (errfd >= 0)
			close(errfd);
		free(bin);
		return r;
	}
	if (pid == 0) {
		int sig;

		for (sig = 1; sig < NSIG; sig++)
			(void)signal(sig, SIG_DFL);
		(void)setsid();
		(void)dup2(pfd[1], 1);
		if (errfd >= 0)
			(void)dup2(errfd, 2);
		execl(bin, "fakellm", (char *)NULL);
		_exit(127);
	}
	free(bin);
	close(pfd[1]);
	if (errfd >= 0)
		close(errfd);
	d->fakellm_pid = pid;
	d->fakellm_fd = pfd[0];
	(void)fd_set_nonblock(pfd[0], true);
	d->fakellm_ev = event_new(
		d->base, pfd[0], EV_READ | EV_PERSIST, fakellm_read_cb, d);
	event_add(d->fakellm_ev, &tv);
	log_info("fakellm started (pid %d)", (int)pid);
	return -EAGAIN;
}

/* fakellm is gone: forget it (the next need starts it again). */
void
fakellm_exited(struct daemon *d)
{
	bool was_starting = d->fakellm_port <= 0;

	log_warn("fakellm (pid %d) exited", (int)d->fakellm_pid);
	d->fakellm_pid = 0;
	d->fakellm_port = 0;
	fakellm_close_pipe(d);
	if (was_starting)
		spawn_fakellm_ready(d, false);
}

/* Terminate fakellm at daemon exit. */
void
fakellm_stop(struct daemon *d)
{
	fakellm_close_pipe(d);
	if (d->fakellm_pid > 0)
		(void)kill(d->fakellm_pid, SIGTERM);
	d->fakellm_pid = 0;
	d->fakellm_port = 0;
}
