/* SPDX-License-Identifier: ISC */
#include "common/proc.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdlib.h>
#include <limits.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "common/xmalloc.h"

/* Enough for any real process tree; a loop cannot hang us. */
#define PROC_MAX_DEPTH 128

/* The parent and session of pid from /proc/PID/stat; -1 if gone. */
static int
proc_stat(pid_t pid, pid_t *ret_ppid, pid_t *ret_sid)
{
	char path[64], buf[512], *rp;
	ssize_t n;
	int fd, ppid, pgrp, sid;

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
		sscanf(rp + 1, " %*c %d %d %d", &ppid, &pgrp, &sid) != 3)
		return -1;
	*ret_ppid = (pid_t)ppid;
	*ret_sid = (pid_t)sid;
	return 0;
}

/* The parent pid of pid from /proc/PID/stat, or -1. */
pid_t
proc_ppid(pid_t pid)
{
	pid_t ppid, sid;

	if (proc_stat(pid, &ppid, &sid) < 0)
		return -1;
	return ppid;
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

static void
proc_children_add(pid_t **v, size_t *n, pid_t pid)
{
	*v = xreallocarray(*v, *n + 1, sizeof(**v));
	(*v)[(*n)++] = pid;
}

/* Without /proc/PID/task/TID/children: every process whose parent we are. */
static size_t
proc_children_scan(pid_t **ret)
{
	pid_t pid, ppid, sid, self = getpid();
	struct dirent *de;
	size_t n = 0;
	DIR *d;

	if ((d = opendir("/proc")) == NULL)
		return 0;
	while ((de = readdir(d)) != NULL) {
		pid = (pid_t)atoi(de->d_name);
		if (pid > 1 && proc_stat(pid, &ppid, &sid) == 0 && ppid == self)
			proc_children_add(ret, &n, pid);
	}
	closedir(d);
	return n;
}

size_t
proc_children(pid_t **ret)
{
	char path[300], buf[4096], *p, *sp, *end;
	struct dirent *de;
	size_t n = 0;
	ssize_t len;
	long pid;
	DIR *d;
	int fd;

	*ret = NULL;
	if ((d = opendir("/proc/self/task")) == NULL)
		return proc_children_scan(ret);
	while ((de = readdir(d)) != NULL) {
		if (de->d_name[0] == '.')
			continue;
		snprintf(path, sizeof(path), "/proc/self/task/%s/children",
			de->d_name);
		if ((fd = open(path, O_RDONLY | O_CLOEXEC)) < 0) {
			if (errno != ENOENT)
				continue; /* the thread just ended */
			closedir(d);
			free(*ret);
			*ret = NULL;
			return proc_children_scan(ret);
		}
		/* "PID PID ... ": read it all, whatever its length */
		p = buf;
		while ((len = read(fd, p,
				sizeof(buf) - 1 - (size_t)(p - buf))) > 0) {
			p[len] = '\0';
			for (p = buf; (sp = strchr(p, ' ')) != NULL;
				p = sp + 1) {
				*sp = '\0';
				pid = strtol(p, &end, 10);
				if (end != p && *end == '\0' && pid > 0)
					proc_children_add(ret, &n, (pid_t)pid);
			}
			/* keep a number cut at the end of the buffer */
			len = (ssize_t)strlen(p);
			memmove(buf, p, (size_t)len + 1);
			p = buf + (len < (ssize_t)sizeof(buf) - 1 ? len : 0);
		}
		if (p > buf && (pid = strtol(buf, &end, 10)) > 0 &&
			*end == '\0')
			proc_children_add(ret, &n, (pid_t)pid);
		close(fd);
	}
	closedir(d);
	return n;
}
