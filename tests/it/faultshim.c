/* SPDX-License-Identifier: ISC */

/*
 * faultshim: an LD_PRELOAD library that makes file writes fail with EIO,
 * for black-box fault tests (tests/it/test_faults.py).
 *
 *	FAULTSHIM_MATCH=substring	paths to fail (fd paths via /proc/self/fd)
 *	FAULTSHIM_ARM=/path		fail only while this file exists; it
 *					names the calls to fail ("fsync write
 *					rename"; empty: all of them)
 *
 * fsync/fdatasync/write/pwrite on a matching fd and rename/renameat into a
 * matching path return -1 with errno EIO while armed.  Nothing else
 * changes, so the code under test runs unmodified.
 */

#include <dlfcn.h>
#include <errno.h>
#include <fcntl.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/types.h>
#include <unistd.h>

int fsync(int);
int fdatasync(int);
ssize_t write(int, const void *, size_t);
ssize_t pwrite(int, const void *, size_t, off_t);
int rename(const char *, const char *);
int renameat(int, const char *, int, const char *);

static bool
faultshim_armed(const char *op)
{
	const char *arm = getenv("FAULTSHIM_ARM");
	int saved = errno, fd;
	char ops[128];
	bool armed = false;
	ssize_t n;

	if (arm == NULL || getenv("FAULTSHIM_MATCH") == NULL)
		return false;
	fd = open(arm, O_RDONLY | O_CLOEXEC);
	if (fd != -1) {
		n = read(fd, ops, sizeof(ops) - 1);
		close(fd);
		if (n >= 0) {
			ops[n] = '\0';
			armed = n == 0 || strstr(ops, op) != NULL;
		}
	}
	errno = saved;
	return armed;
}

static bool
faultshim_path_matches(const char *path)
{
	const char *m = getenv("FAULTSHIM_MATCH");

	return path != NULL && m != NULL && strstr(path, m) != NULL;
}

static bool
faultshim_fd_matches(int fd)
{
	char link[64], path[4096];
	int saved = errno;
	ssize_t n;

	snprintf(link, sizeof(link), "/proc/self/fd/%d", fd);
	n = readlink(link, path, sizeof(path) - 1);
	errno = saved;
	if (n <= 0)
		return false;
	path[n] = '\0';
	return faultshim_path_matches(path);
}

/* dlsym() returns an object pointer; copy it into a function pointer. */
#define FAULTSHIM_NEXT(fn, name) \
	do { \
		if ((fn) == NULL) { \
			void *sym_ = dlsym(RTLD_NEXT, (name)); \
			memcpy(&(fn), &sym_, sizeof(fn)); \
		} \
	} while (0)

int
fsync(int fd)
{
	static int (*next)(int);

	if (faultshim_armed("fsync") && faultshim_fd_matches(fd)) {
		errno = EIO;
		return -1;
	}
	FAULTSHIM_NEXT(next, "fsync");
	return next(fd);
}

int
fdatasync(int fd)
{
	static int (*next)(int);

	if (faultshim_armed("fsync") && faultshim_fd_matches(fd)) {
		errno = EIO;
		return -1;
	}
	FAULTSHIM_NEXT(next, "fdatasync");
	return next(fd);
}

ssize_t
write(int fd, const void *buf, size_t len)
{
	static ssize_t (*next)(int, const void *, size_t);

	if (faultshim_armed("write") && faultshim_fd_matches(fd)) {
		errno = EIO;
		return -1;
	}
	FAULTSHIM_NEXT(next, "write");
	return next(fd, buf, len);
}

ssize_t
pwrite(int fd, const void *buf, size_t len, off_t off)
{
	static ssize_t (*next)(int, const void *, size_t, off_t);

	if (faultshim_armed("write") && faultshim_fd_matches(fd)) {
		errno = EIO;
		return -1;
	}
	FAULTSHIM_NEXT(next, "pwrite");
	return next(fd, buf, len, off);
}

int
rename(const char *from, const char *to)
{
	static int (*next)(const char *, const char *);

	if (faultshim_armed("rename") && faultshim_path_matches(to)) {
		errno = EIO;
		return -1;
	}
	FAULTSHIM_NEXT(next, "rename");
	return next(from, to);
}

int
renameat(int fromfd, const char *from, int tofd, const char *to)
{
	static int (*next)(int, const char *, int, const char *);

	if (faultshim_armed("rename") && faultshim_path_matches(to)) {
		errno = EIO;
		return -1;
	}
	FAULTSHIM_NEXT(next, "renameat");
	return next(fromfd, from, tofd, to);
}
