/* SPDX-License-Identifier: ISC */
#include "common/proc.h"

#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "common/xmalloc.h"

/* Enough for any real process tree; a loop cannot hang us. */
#define PROC_MAX_DEPTH 128

/* The parent pid of pid from /proc/PID/stat, or -1. */
pid_t
proc_ppid(pid_t pid)
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

/* readlink of /proc/PID/exe; caller frees. */
char *
proc_exe(pid_t pid)
{
	char path[64], buf[PATH_MAX];
	ssize_t n;

	snprintf(path, sizeof(path), "/proc/%d/exe", (int)pid);
	n = readlink(path, buf, sizeof(buf) - 1);
	if (n <= 0)
		return NULL;
	buf[n] = '\0';
	return xstrdup(buf);
}

/* Walk pid's ancestry up to init, asking match() of each process. */
bool
proc_descends_from(pid_t pid, proc_match_fn match, void *arg)
{
	int i;

	if (pid <= 0)
		return true;
	for (i = 0; i < PROC_MAX_DEPTH; i++) {
		if (pid == 1)
			return false;
		if (match(pid, arg))
			return true;
		if ((pid = proc_ppid(pid)) <= 0)
			return true;
	}
	return true;
}
