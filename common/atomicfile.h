/* SPDX-License-Identifier: ISC */
#ifndef COMMON_ATOMICFILE_H
#define COMMON_ATOMICFILE_H

#include <stddef.h>
#include <sys/types.h>

/*
 * Replace path with buf atomically and durably: create a temporary file in
 * the same directory, write, fsync, rename over path, fsync the
 * directory.  On a failure up to the rename the temporary file is removed
 * and the old content of path (if any) is left intact; if only the final
 * directory fsync fails, the new content is in place but may not be
 * durable yet, and -EIO is returned.  Returns 0 or -errno.
 */
int atomicfile_write(
	const char *path, const void *buf, size_t len, mode_t mode);

/*
 * The steps of atomicfile_write(), for fault injection in tests: when
 * atomicfile_fail_step is set to a step, that step fails with EIO as if
 * the system call had failed.  0 (the default) injects nothing.
 */
enum atomicfile_step {
	ATOMICFILE_STEP_NONE = 0,
	ATOMICFILE_STEP_OPEN,
	ATOMICFILE_STEP_WRITE,
	ATOMICFILE_STEP_FSYNC,
	ATOMICFILE_STEP_RENAME,
	ATOMICFILE_STEP_DIRSYNC,
};
extern enum atomicfile_step atomicfile_fail_step;

/* Read a whole file (at most max bytes, else -EFBIG). NUL-terminated. */
int atomicfile_read(
	const char *path, size_t max, char **ret_buf, size_t *ret_len);

#endif
