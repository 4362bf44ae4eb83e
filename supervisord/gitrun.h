/* SPDX-License-Identifier: ISC */
#ifndef SUPERVISORD_GITRUN_H
#define SUPERVISORD_GITRUN_H

#include <stdbool.h>
#include <stddef.h>
#include <sys/types.h>

struct daemon;

/*
 * The real git program run by podvisord without blocking its loop
 * (worktree.c): fork/exec of "git -C DIR ARGS..." from PATH, stdin
 * /dev/null, stdout and stderr read through the event loop, the exit
 * status from reap_children() (SIGCHLD), a time limit after which the
 * process group gets SIGKILL.  One callback per run, from the loop.
 */

struct gitrun_result {
	int code; /* exit code, -1 if it did not exit */
	int sig; /* killing signal, 0 if none */
	bool timed_out;
	int start_errno; /* git could not be started (ENOENT: not in PATH) */
	char *out; /* stdout, NUL-terminated (capped) */
	size_t outlen;
	char *err; /* stderr, NUL-terminated (capped) */
};

typedef void (*gitrun_cb)(const struct gitrun_result *res, void *arg);

/*
 * Start git in dir with args (NULL-terminated, without "git").  cb runs
 * once, later, from the loop (also when git cannot be started).
 */
void gitrun_start(struct daemon *d, const char *dir, const char *const *args,
	int timeout_s, gitrun_cb cb, void *arg);

/* reap_children(): if pid is a git run, record status; true if it was. */
bool gitrun_reaped(pid_t pid, int status);
/* True if pid is a git run still going (not a stray to kill). */
bool gitrun_owns(pid_t pid);

/* git's stderr without the trailing newline, or what went wrong. */
const char *gitrun_why(const struct gitrun_result *res, char *buf, size_t n);

#endif
