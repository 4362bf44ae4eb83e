/* SPDX-License-Identifier: ISC */
#ifndef COMMON_PROC_H
#define COMMON_PROC_H

#include <stdbool.h>
#include <sys/types.h>

/*
 * Process ancestry from /proc, to tell whether a socket peer runs inside
 * a pod (a descendant of a worker or of podvisord) or is the user.
 */

/* The parent pid of pid, or -1 if pid is gone or unreadable. */
pid_t proc_ppid(pid_t pid);

/* The executable of pid (readlink of /proc/PID/exe); NULL if unknown. */
char *proc_exe(pid_t pid);

/*
 * Does pid descend from a process that match() accepts (pid itself
 * included)?  Walks the parent chain up to init.  A chain that cannot be
 * followed to init (a process exited before we looked, /proc unreadable,
 * absurd depth) answers true: only a peer proven to live outside counts
 * as outside.
 */
typedef bool (*proc_match_fn)(pid_t pid, void *arg);
bool proc_descends_from(pid_t pid, proc_match_fn match, void *arg);

/*
 * The children of the calling process (of all its threads), from
 * /proc/self/task/TID/children, or a scan of /proc where the kernel has
 * no such file.  Returns how many were stored in *ret (caller frees;
 * NULL when none).
 */
size_t proc_children(pid_t **ret);

#endif
