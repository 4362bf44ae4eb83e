/* SPDX-License-Identifier: ISC */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <sys/prctl.h>
#include <unistd.h>

#include "supervisord/daemon.h"
#include "supervisord/peer.h"

/* Enough for any real process tree; a loop cannot hang us. */
#define PEER_MAX_DEPTH 128

/* Become the child subreaper. */
int
peer_init(void)
{
	if (prctl(PR_SET_CHILD_SUBREAPER, 1, 0, 0, 0) < 0)
		return -errno;
	return 0;
}

/* The parent pid of pid from /proc/PID/stat, or -1. */
static pid_t
peer_ppid(pid_t pid)
{
	char path[64], buf[512], *rp;
	ssize_t n;
	int fd, ppid;

	snprintf(path, sizeof(path), "/proc/%d/stat", (int)pid);
	if ((fd = open(path, O_RDONLY | O_CLOEXEC)) < 0)
		return -1;
	n = read(fd, buf, sizeof(buf) - 1);
	close(fd);
	if (n <= 0)
		return -1;
	buf[n] = '\0';
	/* comm may hold spaces and parentheses: parse after the last ')' */
	if ((rp = strrchr(buf, ')')) == NULL ||
		sscanf(rp + 1, " %*c %d", &ppid) != 1)
		return -1;
	return (pid_t)ppid;
}

static struct pod *
peer_worker(struct daemon *d, pid_t pid)
{
	struct pod *p;

	TAILQ_FOREACH(p, &d->pods, entry)
	{
		if (p->pid == pid && daemon_pod_running(p))
			return p;
	}
	return NULL;
}

/* Is pid a descendant of podvisord or of a worker? */
bool
peer_inside(struct daemon *d, pid_t pid, struct pod **ret_pod)
{
	pid_t self = getpid();
	struct pod *p;
	int i;

	*ret_pod = NULL;
	for (i = 0; pid > 1 && i < PEER_MAX_DEPTH; i++) {
		if ((p = peer_worker(d, pid)) != NULL) {
			*ret_pod = p;
			return true;
		}
		if (pid == self)
			return true;
		pid = peer_ppid(pid);
	}
	return false;
}
