/* SPDX-License-Identifier: ISC */
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include <event2/event.h>

#include "common/log.h"
#include "common/sock.h"
#include "common/xmalloc.h"
#include "supervisord/daemon.h"
#include "supervisord/spare.h"
#include "supervisord/spawn.h"

#define SPARE_READY_TIMEOUT_S 10
#define SPARE_BACKOFF_MIN_MS 1000
#define SPARE_BACKOFF_MAX_MS 60000
#define SPARE_TITLE_ROOM 80
#define SPARE_READY_LINE "{\"event\":\"spare_ready\""

struct spare {
	struct daemon *d;
	pid_t pid;
	int fd; /* the daemon's end of the channel */
	struct event *ev; /* the ready line, EOF, or the ready timeout */
	bool ready;
	char buf[64];
	size_t len;
};

static void
spare_free(struct spare *s, bool kill_it)
{
	if (s == NULL)
		return;
	if (kill_it && s->pid > 0)
		(void)kill(s->pid, SIGKILL);
	if (s->ev != NULL)
		event_free(s->ev);
	if (s->fd >= 0)
		close(s->fd);
	free(s);
}

static void spare_timer_cb(evutil_socket_t fd, short what, void *arg);

/* Schedule a start after delay_ms. */
void
spare_schedule(struct daemon *d, int delay_ms)
{
	struct timeval tv = { delay_ms / 1000, (delay_ms % 1000) * 1000 };

	if (d->shutting_down || d->spare != NULL || d->base == NULL)
		return;
	if (d->spare_timer == NULL)
		d->spare_timer = evtimer_new(d->base, spare_timer_cb, d);
	if (evtimer_pending(d->spare_timer, NULL))
		return;
	evtimer_add(d->spare_timer, &tv);
}

/* The spare failed (died, refused, timed out): replace it later. */
static void
spare_failed(struct daemon *d, const char *why)
{
	int delay = SPARE_BACKOFF_MIN_MS, i;

	spare_free(d->spare, true);
	d->spare = NULL;
	if (d->spare_failures < 16)
		d->spare_failures++;
	for (i = 1; i < d->spare_failures && delay < SPARE_BACKOFF_MAX_MS; i++)
		delay *= 2;
	if (delay > SPARE_BACKOFF_MAX_MS)
		delay = SPARE_BACKOFF_MAX_MS;
	log_info("spare worker %s; next one in %d ms", why, delay);
	spare_schedule(d, delay);
}

static void
spare_read_cb(evutil_socket_t fd, short what, void *arg)
{
	struct daemon *d = arg;
	struct spare *s = d->spare;
	ssize_t n;
	char *nl;

	if (s == NULL)
		return;
	if (what & EV_TIMEOUT) {
		spare_failed(d, "sent no ready line in time");
		return;
	}
	n = read(fd, s->buf + s->len, sizeof(s->buf) - 1 - s->len);
	if (n < 0 && (errno == EAGAIN || errno == EINTR))
		return;
	if (n <= 0) {
		spare_failed(d, "exited before it was used");
		return;
	}
	s->len += (size_t)n;
	s->buf[s->len] = '\0';
	if ((nl = memchr(s->buf, '\n', s->len)) == NULL) {
		if (s->len == sizeof(s->buf) - 1)
			spare_failed(d, "sent an over-long line");
		return;
	}
	/* Nothing may follow the line: the start request comes first. */
	if (strncmp(s->buf, SPARE_READY_LINE, strlen(SPARE_READY_LINE)) != 0 ||
		nl != s->buf + s->len - 1) {
		spare_failed(d, "sent something other than its ready line");
		return;
	}
	event_free(s->ev);
	s->ev = NULL;
	s->ready = true;
	log_debug("spare worker pid %d ready", (int)s->pid);
	d->spare_failures = 0;
	d->spare_proven = true;
}

static void
spare_start(struct daemon *d)
{
	struct timeval tv = { SPARE_READY_TIMEOUT_S, 0 };
	char arg0[] = "podvisor-worker", arg1[] = "--spare";
	char pad[SPARE_TITLE_ROOM + 1];
	char *argv[] = { arg0, arg1, pad, NULL };
	char *errpath;
	int sv[2] = { -1, -1 }, pfd[2] = { -1, -1 }, errfd;
	struct spare *s;
	pid_t pid;

	if (d->shutting_down || d->spare != NULL)
		return;
	/* Room for the worker to retitle itself "--pod NAME --restore". */
	memset(pad, ' ', SPARE_TITLE_ROOM);
	pad[SPARE_TITLE_ROOM] = '\0';
	errpath = xstrfmt("%s/spare-stderr.log", d->paths.runtime);
	errfd = open(errpath, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
	free(errpath);
	if (errfd < 0 ||
		socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv) < 0 ||
		pipe2(pfd, O_CLOEXEC) < 0 || (pid = fork()) < 0) {
		log_warn("cannot start a spare worker: %s", strerror(errno));
		if (errfd >= 0)
			close(errfd);
		if (sv[0] >= 0) {
			close(sv[0]);
			close(sv[1]);
		}
		if (pfd[0] >= 0) {
			close(pfd[0]);
			close(pfd[1]);
		}
		d->spare_failures++;
		spare_schedule(d, SPARE_BACKOFF_MAX_MS);
		return;
	}
	if (pid == 0)
		spawn_child(sv[1], errfd, pfd[1], d->worker_bin, argv);
	/* An exec failure shows as EOF on the channel: no status pipe. */
	close(pfd[0]);
	close(pfd[1]);
	close(sv[1]);
	close(errfd);
	s = xcalloc(1, sizeof(*s));
	s->d = d;
	s->pid = pid;
	s->fd = sv[0];
	(void)fd_set_nonblock(s->fd, true);
	s->ev = event_new(
		d->base, s->fd, EV_READ | EV_PERSIST, spare_read_cb, d);
	event_add(s->ev, &tv);
	d->spare = s;
	log_debug("spare worker pid %d started", (int)pid);
}

static void
spare_timer_cb(evutil_socket_t fd, short what, void *arg)
{
	(void)fd;
	(void)what;
	spare_start(arg);
}

/* Hand the ready spare over. */
int
spare_take(struct daemon *d, pid_t *ret_pid, int *ret_fd)
{
	struct spare *s = d->spare;
	ssize_t n;
	char c;

	if (s == NULL)
		return -ENOENT;
	/*
	 * A spare still loading is taken too (it is further along than a
	 * fresh fork+exec), once spares have proven to work with this
	 * worker binary: its ready line then reaches the pod's channel,
	 * which ignores unknown events.
	 */
	if (!s->ready && (!d->spare_proven || s->len > 0))
		return -ENOENT;
	/* Died since it said ready (not reaped yet)?  Do not hand out. */
	n = recv(s->fd, &c, 1, MSG_PEEK | MSG_DONTWAIT);
	if (n == 0 || (n < 0 && errno != EAGAIN && errno != EWOULDBLOCK)) {
		spare_failed(d, "exited before it was used");
		return -ENOENT;
	}
	*ret_pid = s->pid;
	*ret_fd = s->fd;
	s->fd = -1;
	s->pid = 0;
	spare_free(s, false);
	d->spare = NULL;
	spare_schedule(d, 0);
	return 0;
}

/* Is pid the spare worker? */
bool
spare_is(const struct daemon *d, pid_t pid)
{
	return d->spare != NULL && d->spare->pid == pid && pid > 0;
}

/* Replace the spare if pid was it. */
bool
spare_reaped(struct daemon *d, pid_t pid)
{
	if (d->spare == NULL || d->spare->pid != pid)
		return false;
	d->spare->pid = 0; /* reaped: nothing to kill */
	spare_failed(d, "exited before it was used");
	return true;
}

/* Kill the spare and stop making new ones until the timer is re-armed. */
void
spare_stop(struct daemon *d)
{
	spare_free(d->spare, true);
	d->spare = NULL;
	if (d->spare_timer != NULL)
		event_free(d->spare_timer);
	d->spare_timer = NULL;
}
