/* SPDX-License-Identifier: ISC */
#include "common/atomicfile.h"

#include <errno.h>
#include <fcntl.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <sys/stat.h>
#include <unistd.h>

#include "common/sock.h"
#include "common/xmalloc.h"

enum atomicfile_step atomicfile_fail_step = ATOMICFILE_STEP_NONE;

/* Fail with EIO if the test asked for this step to fail. */
static bool
atomicfile_inject(enum atomicfile_step step)
{
	if (atomicfile_fail_step != ATOMICFILE_STEP_NONE &&
		atomicfile_fail_step == step) {
		errno = EIO;
		return true;
	}
	return false;
}

/* The directory part of path ("." if none); caller frees. */
static char *
atomicfile_dirname(const char *path)
{
	const char *slash = strrchr(path, '/');

	if (slash == NULL)
		return xstrdup(".");
	if (slash == path)
		return xstrdup("/");
	return xstrndup(path, (size_t)(slash - path));
}

/* Create a fresh temporary file beside path; returns fd, *ret_tmp set. */
static int
atomicfile_open_tmp(const char *path, mode_t mode, char **ret_tmp)
{
	static const char chars[] = "abcdefghijklmnopqrstuvwxyz0123456789";
	const char *slash = strrchr(path, '/');
	size_t dirlen = slash == NULL ? 0 : (size_t)(slash - path) + 1;
	unsigned char rnd[12];
	char suffix[sizeof(rnd) + 1];
	char *tmp;
	int fd, tries;
	size_t i;

	for (tries = 0; tries < 16; tries++) {
		if (getrandom(rnd, sizeof(rnd), 0) != (ssize_t)sizeof(rnd))
			return errno != 0 ? -errno : -EIO;
		for (i = 0; i < sizeof(rnd); i++)
			suffix[i] = chars[rnd[i] % (sizeof(chars) - 1)];
		suffix[sizeof(rnd)] = '\0';
		tmp = xstrfmt("%.*s.%s.tmp-%s", (int)dirlen, path,
			path + dirlen, suffix);
		if (atomicfile_inject(ATOMICFILE_STEP_OPEN)) {
			free(tmp);
			return -EIO;
		}
		fd = open(tmp, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, mode);
		if (fd >= 0) {
			*ret_tmp = tmp;
			return fd;
		}
		free(tmp);
		if (errno != EEXIST)
			return -errno;
	}
	return -EEXIST;
}

/* Open the directory and fsync it so a rename in it is durable. */
static int
atomicfile_sync_dir(const char *dir)
{
	int fd, r = 0;

	fd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (fd < 0)
		return -errno;
	if (atomicfile_inject(ATOMICFILE_STEP_DIRSYNC) || fsync(fd) < 0)
		r = -errno;
	close(fd);
	return r;
}

/* Replace path with buf: tmp file, write, fsync, rename, fsync(dir). */
int
atomicfile_write(const char *path, const void *buf, size_t len, mode_t mode)
{
	char *tmp = NULL, *dir = NULL;
	int fd, r;

	if (path == NULL || *path == '\0' || (buf == NULL && len > 0))
		return -EINVAL;
	fd = atomicfile_open_tmp(path, mode, &tmp);
	if (fd < 0)
		return fd;

	/* open() applied the umask; the caller asked for exactly mode. */
	if (fchmod(fd, mode) < 0) {
		r = -errno;
		goto fail;
	}
	if (atomicfile_inject(ATOMICFILE_STEP_WRITE)) {
		r = -EIO;
		goto fail;
	}
	r = fd_write_all(fd, buf, len);
	if (r < 0)
		goto fail;
	if (atomicfile_inject(ATOMICFILE_STEP_FSYNC) || fsync(fd) < 0) {
		r = -errno;
		goto fail;
	}
	if (close(fd) < 0) {
		fd = -1;
		r = -errno;
		goto fail;
	}
	fd = -1;
	if (atomicfile_inject(ATOMICFILE_STEP_RENAME) ||
		rename(tmp, path) < 0) {
		r = -errno;
		goto fail;
	}
	free(tmp);
	tmp = NULL;

	/*
	 * The rename is done: path now holds the new content and no
	 * temporary file is left.  A failed directory fsync only means the
	 * rename may not survive a power loss; it is reported to the caller.
	 */
	dir = atomicfile_dirname(path);
	r = atomicfile_sync_dir(dir);
	free(dir);
	return r;

fail:
	if (fd >= 0)
		close(fd);
	unlink(tmp);
	free(tmp);
	return r;
}

/* Read the whole file at path (at most max bytes) into a new buffer. */
int
atomicfile_read(const char *path, size_t max, char **ret_buf, size_t *ret_len)
{
	struct stat st;
	char *buf = NULL;
	size_t cap, len = 0;
	ssize_t n;
	int fd, r;

	if (max >= SIZE_MAX - 1)
		max = SIZE_MAX - 2;
	fd = open(path, O_RDONLY | O_CLOEXEC | O_NOCTTY);
	if (fd < 0)
		return -errno;
	if (fstat(fd, &st) < 0) {
		r = -errno;
		goto fail;
	}
	if (S_ISDIR(st.st_mode)) {
		r = -EISDIR;
		goto fail;
	}
	if (S_ISREG(st.st_mode) && (uintmax_t)st.st_size > (uintmax_t)max) {
		r = -EFBIG;
		goto fail;
	}
	cap = S_ISREG(st.st_mode) ? (size_t)st.st_size + 1 : 4096;
	if (cap > max + 1)
		cap = max + 1;
	buf = xmalloc(cap + 1);
	for (;;) {
		if (len == cap) {
			/* Full: one more byte than max means too big. */
			if (len > max) {
				r = -EFBIG;
				goto fail;
			}
			cap = cap * 2 > max + 1 ? max + 1 : cap * 2;
			buf = xreallocarray(buf, cap + 1, 1);
		}
		n = read(fd, buf + len, cap - len);
		if (n < 0) {
			if (errno == EINTR)
				continue;
			r = -errno;
			goto fail;
		}
		if (n == 0)
			break;
		len += (size_t)n;
	}
	if (len > max) {
		r = -EFBIG;
		goto fail;
	}
	close(fd);
	buf[len] = '\0';
	*ret_buf = buf;
	if (ret_len != NULL)
		*ret_len = len;
	return 0;

fail:
	free(buf);
	close(fd);
	return r;
}
