/* SPDX-License-Identifier: ISC */
#include "common/sock.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

/* Set or clear O_NONBLOCK on fd. */
int
fd_set_nonblock(int fd, bool on)
{
	int flags, nflags;

	flags = fcntl(fd, F_GETFL);
	if (flags < 0)
		return -errno;
	nflags = on ? (flags | O_NONBLOCK) : (flags & ~O_NONBLOCK);
	if (nflags != flags && fcntl(fd, F_SETFL, nflags) < 0)
		return -errno;
	return 0;
}

/* Set or clear FD_CLOEXEC on fd. */
int
fd_set_cloexec(int fd, bool on)
{
	int flags, nflags;

	flags = fcntl(fd, F_GETFD);
	if (flags < 0)
		return -errno;
	nflags = on ? (flags | FD_CLOEXEC) : (flags & ~FD_CLOEXEC);
	if (nflags != flags && fcntl(fd, F_SETFD, nflags) < 0)
		return -errno;
	return 0;
}

/* Check (and tighten) the final directory: ours, a directory, 0700. */
static int
dir_check_private(const char *path)
{
	struct stat st;
	int fd, r = 0;

	fd = open(path, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
	if (fd < 0)
		return -errno;
	if (fstat(fd, &st) < 0) {
		r = -errno;
		goto out;
	}
	if (!S_ISDIR(st.st_mode)) {
		r = -ENOTDIR;
		goto out;
	}
	if (st.st_uid != geteuid()) {
		r = -EPERM;
		goto out;
	}
	if ((st.st_mode & 07777) != 0700 && fchmod(fd, 0700) < 0)
		r = -errno;
out:
	close(fd);
	return r;
}

/* Create path and any missing parents (0700), then check the final one. */
int
dir_ensure_private(const char *path)
{
	char buf[PATH_MAX];
	size_t len, i;

	if (path == NULL || *path == '\0')
		return -EINVAL;
	len = strlen(path);
	if (len >= sizeof(buf))
		return -ENAMETOOLONG;
	memcpy(buf, path, len + 1);
	while (len > 1 && buf[len - 1] == '/')
		buf[--len] = '\0';

	for (i = 1; i <= len; i++) {
		if (buf[i] != '/' && buf[i] != '\0')
			continue;
		if (buf[i - 1] == '/')
			continue;
		buf[i] = '\0';
		if (mkdir(buf, 0700) < 0 && errno != EEXIST)
			return -errno;
		if (i < len)
			buf[i] = '/';
	}
	return dir_check_private(buf);
}

static int
sock_fill_addr(const char *path, struct sockaddr_un *sun)
{
	size_t len;

	if (path == NULL || *path == '\0')
		return -EINVAL;
	len = strlen(path);
	if (len >= sizeof(sun->sun_path))
		return -ENAMETOOLONG;
	memset(sun, 0, sizeof(*sun));
	sun->sun_family = AF_UNIX;
	memcpy(sun->sun_path, path, len + 1);
	return 0;
}

/*
 * Decide whether the socket file at path is stale.  Returns 1 if it is a
 * socket nobody listens on (connect gives ECONNREFUSED) or whose
 * listening process is dead, 0 if something holds it (a live listener,
 * or not a socket at all), -errno on failure.
 *
 * The second case: a listener killed while a child it had just forked
 * was still on its way to execve holds the listening fd in that child
 * for a moment (longer on a loaded machine).  Connecting then succeeds,
 * but SO_PEERCRED names the process that called listen(), and it is
 * gone: nobody will ever accept, and the path may be taken over.
 */
static int
sock_is_stale(const struct sockaddr_un *sun)
{
	struct ucred cred;
	socklen_t len = sizeof(cred);
	struct stat st;
	int fd, r;

	if (lstat(sun->sun_path, &st) < 0)
		return errno == ENOENT ? 1 : -errno;
	if (!S_ISSOCK(st.st_mode))
		return 0;
	fd = socket(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	if (fd < 0)
		return -errno;
	if (connect(fd, (const struct sockaddr *)sun, sizeof(*sun)) == 0)
		r = getsockopt(fd, SOL_SOCKET, SO_PEERCRED, &cred, &len) == 0 &&
			cred.pid > 0 && kill(cred.pid, 0) < 0 && errno == ESRCH;
	else if (errno == ECONNREFUSED)
		r = 1;
	else if (errno == EAGAIN || errno == EINPROGRESS)
		r = 0; /* alive, backlog full */
	else
		r = -errno;
	close(fd);
	return r;
}

static int
sock_bind_private(int fd, const struct sockaddr_un *sun)
{
	mode_t old;
	int r = 0;

	/*
	 * The mode of a Unix socket file comes from the umask at bind();
	 * fchmod on the fd does not reach the file.  Bind with a 0177 umask
	 * so the file is never visible with a looser mode.
	 */
	old = umask(0177);
	if (bind(fd, (const struct sockaddr *)sun, sizeof(*sun)) < 0)
		r = -errno;
	umask(old);
	return r;
}

/* Bind and listen on a private (0600) Unix socket; returns the fd. */
int
sock_listen_unix(const char *path, int backlog)
{
	struct sockaddr_un sun;
	struct stat st;
	int fd, r, stale;

	r = sock_fill_addr(path, &sun);
	if (r < 0)
		return r;
	fd = socket(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	if (fd < 0)
		return -errno;

	r = sock_bind_private(fd, &sun);
	if (r == -EADDRINUSE) {
		stale = sock_is_stale(&sun);
		if (stale < 0) {
			r = stale;
			goto fail;
		}
		if (stale == 0)
			goto fail;
		if (unlink(path) < 0 && errno != ENOENT) {
			r = -errno;
			goto fail;
		}
		r = sock_bind_private(fd, &sun);
	}
	if (r < 0)
		goto fail;

	if (stat(path, &st) < 0) {
		r = -errno;
		goto fail_unlink;
	}
	if ((st.st_mode & 0777) != 0600 && chmod(path, 0600) < 0) {
		r = -errno;
		goto fail_unlink;
	}
	if (listen(fd, backlog) < 0) {
		r = -errno;
		goto fail_unlink;
	}
	return fd;

fail_unlink:
	unlink(path);
fail:
	close(fd);
	return r;
}

/* Connect to the Unix stream socket at path; returns the fd. */
int
sock_connect_unix(const char *path, bool nonblock)
{
	struct sockaddr_un sun;
	int fd, r, type;

	r = sock_fill_addr(path, &sun);
	if (r < 0)
		return r;
	type = SOCK_STREAM | SOCK_CLOEXEC | (nonblock ? SOCK_NONBLOCK : 0);
	fd = socket(AF_UNIX, type, 0);
	if (fd < 0)
		return -errno;
	for (;;) {
		if (connect(fd, (const struct sockaddr *)&sun, sizeof(sun)) ==
			0)
			break;
		if (errno == EINTR)
			continue;
		if (nonblock && errno == EINPROGRESS)
			break;
		r = -errno;
		close(fd);
		return r;
	}
	return fd;
}

/* Read SO_PEERCRED of a connected Unix socket; each ret_* may be NULL. */
int
sock_peercred(int fd, pid_t *ret_pid, uid_t *ret_uid, gid_t *ret_gid)
{
	struct ucred uc;
	socklen_t len = sizeof(uc);

	if (getsockopt(fd, SOL_SOCKET, SO_PEERCRED, &uc, &len) < 0)
		return -errno;
	if (len != sizeof(uc))
		return -EIO;
	if (ret_pid != NULL)
		*ret_pid = uc.pid;
	if (ret_uid != NULL)
		*ret_uid = uc.uid;
	if (ret_gid != NULL)
		*ret_gid = uc.gid;
	return 0;
}

/* 0 if the peer runs as our effective uid, -EPERM if not. */
int
sock_check_peer_uid(int fd)
{
	uid_t uid;
	int r;

	r = sock_peercred(fd, NULL, &uid, NULL);
	if (r < 0)
		return r;
	return uid == geteuid() ? 0 : -EPERM;
}

/* Write all of buf to fd, retrying on EINTR and short writes. */
int
fd_write_all(int fd, const void *buf, size_t len)
{
	const char *p = buf;
	ssize_t n;

	while (len > 0) {
		n = write(fd, p, len);
		if (n < 0) {
			if (errno == EINTR)
				continue;
			return -errno;
		}
		if (n == 0)
			return -EIO;
		p += n;
		len -= (size_t)n;
	}
	return 0;
}
