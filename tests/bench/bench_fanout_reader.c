/* SPDX-License-Identifier: ISC */
/*
 * Reader side of the event fan-out benchmark (a C reader, so the reader
 * is not the bottleneck the way a Python one would be).
 *
 *   bench_fanout_reader SOCK K STALLED
 *	Connect K reading clients and STALLED clients that never read to the
 *	pod socket SOCK; read every reader's snapshot line, print "ready",
 *	then count text_delta events on each reader until each has seen
 *	run_end; print "events=N first=T0 last=T1" (CLOCK_MONOTONIC seconds
 *	of the first text_delta seen and the last run_end).
 *
 *   bench_fanout_reader --selftest K N
 *	Baseline: a forked writer sends N text_delta lines and a run_end to
 *	each of K socketpairs (batches of lines per client, as a worker's
 *	bufferevents do when busy: 64 lines per write); the same reader code counts
 *	them.  Prints the same line.
 */
#include <errno.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <unistd.h>

#include "bench.h"

#define MAXC 1024
#define BUFSZ (256 * 1024)

struct rd {
	int fd;
	char *buf;
	size_t len;
	int done;
	int skip; /* inside a line longer than the buffer: drop to its end */
};

static void
die(const char *what)
{
	fprintf(stderr, "bench_fanout_reader: %s: %s\n", what, strerror(errno));
	exit(1);
}

static int
connect_to(const char *path)
{
	struct sockaddr_un sun;
	int fd;

	memset(&sun, 0, sizeof(sun));
	sun.sun_family = AF_UNIX;
	if (strlen(path) >= sizeof(sun.sun_path)) {
		errno = ENAMETOOLONG;
		die(path);
	}
	strcpy(sun.sun_path, path);
	if ((fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0)) == -1)
		die("socket");
	if (connect(fd, (struct sockaddr *)&sun, sizeof(sun)) == -1)
		die(path);
	return fd;
}

/* Read one line (the snapshot) from fd and drop it; keep the rest. */
static void
read_prelude(struct rd *r)
{
	ssize_t n;
	char *nl;

	for (;;) {
		if (r->len == BUFSZ) {
			/* a long snapshot: drop what we have, keep looking */
			r->len = 0;
		}
		n = read(r->fd, r->buf + r->len, BUFSZ - r->len);
		if (n <= 0)
			die("read snapshot");
		r->len += (size_t)n;
		if ((nl = memchr(r->buf, '\n', r->len)) != NULL) {
			r->len -= (size_t)(nl + 1 - r->buf);
			memmove(r->buf, nl + 1, r->len);
			return;
		}
	}
}

/* Count events in complete lines; keep a partial tail. */
static void
scan(struct rd *r, size_t *events, double *first, double *last)
{
	char *p = r->buf, *end = r->buf + r->len, *nl;

	if (r->skip) {
		if ((nl = memchr(p, '\n', r->len)) == NULL) {
			r->len = 0;
			return;
		}
		r->skip = 0;
		p = nl + 1;
	}

	while (p < end && (nl = memchr(p, '\n', (size_t)(end - p))) != NULL) {
		/* The quoted name can only be the event's: a quote inside
		 * a text value is escaped. */
		if (memmem(p, (size_t)(nl - p), "\"text_delta\"", 12) != NULL) {
			if (*first == 0)
				*first = bench_now();
			(*events)++;
		} else if (memmem(p, (size_t)(nl - p), "\"event\":\"run_end\"",
				   17) != NULL) {
			r->done = 1;
			*last = bench_now();
		}
		p = nl + 1;
	}
	r->len = (size_t)(end - p);
	if (r->len == BUFSZ) {
		/* A line longer than the buffer (e.g. a snapshot the worker
		 * broadcasts after a compaction): not an event we count. */
		r->skip = 1;
		r->len = 0;
		return;
	}
	memmove(r->buf, p, r->len);
}

static void
read_all(struct rd *rds, int k)
{
	struct pollfd pfd[MAXC];
	double first = 0, last = 0;
	size_t events = 0;
	int i, left = k, n;
	ssize_t got;

	for (i = 0; i < k; i++)
		if (rds[i].len > 0)
			scan(&rds[i], &events, &first, &last);
	while (left > 0) {
		n = 0;
		for (i = 0; i < k; i++) {
			pfd[i].fd = rds[i].done ? -1 : rds[i].fd;
			pfd[i].events = POLLIN;
		}
		if ((n = poll(pfd, (nfds_t)k, 60000)) <= 0) {
			fprintf(stderr, "bench_fanout_reader: timed out\n");
			exit(1);
		}
		for (i = 0; i < k; i++) {
			if (!(pfd[i].revents & (POLLIN | POLLHUP | POLLERR)))
				continue;
			got = read(rds[i].fd, rds[i].buf + rds[i].len,
				BUFSZ - rds[i].len);
			if (got <= 0) {
				fprintf(stderr,
					"bench_fanout_reader: client %d "
					"closed before run_end\n",
					i);
				exit(1);
			}
			rds[i].len += (size_t)got;
			scan(&rds[i], &events, &first, &last);
			if (rds[i].done)
				left--;
		}
	}
	printf("events=%zu first=%.6f last=%.6f\n", events, first, last);
	fflush(stdout);
}

/* Writes batches of BATCH lines per client, like a busy event loop. */
#define BATCH 64

static void
write_all(int fd, const char *p, size_t len)
{
	ssize_t n;

	while (len > 0) {
		if ((n = write(fd, p, len)) <= 0)
			_exit(1);
		p += n;
		len -= (size_t)n;
	}
}

static void
selftest_writer(int *fds, int k, long n)
{
	static char block[BATCH * 128];
	size_t len = 0;
	long j;
	int i;

	for (j = 0; j < n; j++) {
		len += (size_t)snprintf(block + len, sizeof(block) - len,
			"{\"event\":\"text_delta\",\"data\":{\"text\":\"word%ld "
			"\"},\"seq\":%ld}\n",
			j % 1000, j + 10);
		if ((j + 1) % BATCH == 0 || j + 1 == n) {
			for (i = 0; i < k; i++)
				write_all(fds[i], block, len);
			len = 0;
		}
	}
	len = (size_t)snprintf(block, sizeof(block),
		"{\"event\":\"run_end\",\"data\":{\"result\":\"finished\"}}\n");
	for (i = 0; i < k; i++)
		write_all(fds[i], block, len);
	_exit(0);
}

int
main(int argc, char **argv)
{
	static struct rd rds[MAXC];
	int k, stalled, i, sv[2], wfds[MAXC], status;
	pid_t pid;

	if (argc != 4)
		goto usage;
	k = atoi(argv[2]);
	if (k < 1 || k > MAXC)
		goto usage;
	signal(SIGPIPE, SIG_IGN);
	for (i = 0; i < k; i++) {
		rds[i].buf = malloc(BUFSZ);
		if (rds[i].buf == NULL)
			die("malloc");
	}
	if (strcmp(argv[1], "--selftest") == 0) {
		for (i = 0; i < k; i++) {
			if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0,
				    sv) == -1)
				die("socketpair");
			rds[i].fd = sv[0];
			wfds[i] = sv[1];
		}
		if ((pid = fork()) == -1)
			die("fork");
		if (pid == 0)
			selftest_writer(wfds, k, atol(argv[3]));
		for (i = 0; i < k; i++)
			close(wfds[i]);
		read_all(rds, k);
		waitpid(pid, &status, 0);
		return 0;
	}
	stalled = atoi(argv[3]);
	for (i = 0; i < k; i++) {
		rds[i].fd = connect_to(argv[1]);
		read_prelude(&rds[i]);
	}
	for (i = 0; i < stalled; i++)
		(void)connect_to(argv[1]); /* never read */
	printf("ready\n");
	fflush(stdout);
	read_all(rds, k);
	return 0;
usage:
	fprintf(stderr,
		"usage: bench_fanout_reader SOCK K STALLED | "
		"--selftest K N\n");
	return 2;
}
