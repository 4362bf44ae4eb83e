/* SPDX-License-Identifier: ISC */
#ifndef WORKER_FSCHECK_H
#define WORKER_FSCHECK_H

#include <sys/types.h>

#include "common/scope.h"

/*
 * Scope-checked file access for the file tools (DESIGN.md "Enforcement").
 *
 * A path is normalised against the pod cwd (symlinks and ".." of the
 * existing prefix resolved, so a symlink is judged by what it points to),
 * checked against the scope, opened by its normalised name with O_NOFOLLOW
 * on the last component, and the opened descriptor's real path (from
 * /proc/self/fd) is checked again, so a component swapped for a symlink
 * between the check and the open is caught.  Errors come with a sentence
 * for the model in *reterr_msg (caller frees) and a negative errno:
 * -EACCES for scope refusals, -ENOENT for a missing file, and so on.
 * A NULL scope grants nothing.
 */

/* Normalise path against cwd into *ret_abs (owned) and check it has need. */
int fscheck_path(const struct scope *scope, const char *cwd, const char *path,
	enum scope_perm need, char **ret_abs, char **reterr_msg);

/*
 * Open an existing path: flags are O_RDONLY, O_WRONLY or O_RDWR, possibly
 * with O_DIRECTORY (read a directory) or O_PATH.  Write access needs write
 * scope and refuses regular files with more than one hard link (a hard
 * link can alias a file outside scope).  Anything but a regular file or a
 * directory is refused (so a FIFO never blocks the worker).  Returns the
 * descriptor (O_CLOEXEC) or a negative errno; *ret_abs (optional) gets the
 * normalised path.
 */
int fscheck_open(const struct scope *scope, const char *cwd, const char *path,
	int flags, char **ret_abs, char **reterr_msg);

/*
 * Create a new regular file for writing (O_EXCL): the parent directory is
 * opened checked, missing parent directories are created inside write
 * scope, then the file is made with openat(O_CREAT|O_EXCL|O_NOFOLLOW).
 */
int fscheck_create(const struct scope *scope, const char *cwd, const char *path,
	mode_t mode, char **ret_abs, char **reterr_msg);

/* Check that what fd refers to (its /proc/self/fd path) has need. */
int fscheck_fd(const struct scope *scope, int fd, enum scope_perm need,
	char **reterr_msg);

/* The access scope grants to an already normalised path (NULL: none). */
enum scope_perm fscheck_perm(const struct scope *scope, const char *abs);

#endif
