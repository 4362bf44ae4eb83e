/* SPDX-License-Identifier: ISC */
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cmocka.h>

#include "common/sock.h"
#include "common/xmalloc.h"

static char *
mktmp(void)
{
	char tmpl[] = "/tmp/podvisor-test-sock-XXXXXX";

	assert_non_null(mkdtemp(tmpl));
	return xstrdup(tmpl);
}

static void
rmtree(const char *dir)
{
	char *cmd = xstrfmt("rm -rf '%s'", dir);

	assert_int_equal(system(cmd), 0);
	free(cmd);
}

static mode_t
mode_of(const char *path)
{
	struct stat st;

	assert_int_equal(lstat(path, &st), 0);
	return st.st_mode;
}

/* Accept one pending connection on a non-blocking listener. */
static int
accept_one(int lfd)
{
	struct pollfd pfd = { .fd = lfd, .events = POLLIN };

	assert_int_equal(poll(&pfd, 1, 5000), 1);
	return accept4(lfd, NULL, NULL, SOCK_CLOEXEC);
}

/* A client of path is accepted on lfd. */
static void
assert_serves(int lfd, const char *path)
{
	int cfd, afd;

	cfd = sock_connect_unix(path, false);
	assert_true(cfd >= 0);
	afd = accept_one(lfd);
	assert_true(afd >= 0);
	close(afd);
	close(cfd);
}

static void
test_listen_mode_and_flags(void **state)
{
	char *dir = mktmp(), *path = xstrfmt("%s/s.sock", dir);
	mode_t old = umask(0);
	int lfd, cfd, afd;

	lfd = sock_listen_unix(path, 16);
	umask(old);
	assert_true(lfd >= 0);
	assert_true(S_ISSOCK(mode_of(path)));
	assert_int_equal(mode_of(path) & 07777, 0600);
	assert_true(fcntl(lfd, F_GETFL) & O_NONBLOCK);
	assert_true(fcntl(lfd, F_GETFD) & FD_CLOEXEC);

	cfd = sock_connect_unix(path, false);
	assert_true(cfd >= 0);
	assert_false(fcntl(cfd, F_GETFL) & O_NONBLOCK);
	assert_true(fcntl(cfd, F_GETFD) & FD_CLOEXEC);
	afd = accept_one(lfd);
	assert_true(afd >= 0);
	assert_int_equal(fd_write_all(cfd, "hi", 2), 0);
	{
		char b[2];
		assert_int_equal(read(afd, b, 2), 2);
		assert_memory_equal(b, "hi", 2);
	}
	close(afd);
	close(cfd);

	cfd = sock_connect_unix(path, true);
	assert_true(cfd >= 0);
	assert_true(fcntl(cfd, F_GETFL) & O_NONBLOCK);
	close(cfd);
	close(lfd);
	rmtree(dir);
	free(path);
	free(dir);
}

static void
test_live_socket_never_unlinked(void **state)
{
	char *dir = mktmp(), *path = xstrfmt("%s/s.sock", dir);
	struct stat st1, st2;
	int lfd;

	lfd = sock_listen_unix(path, 16);
	assert_true(lfd >= 0);
	assert_int_equal(stat(path, &st1), 0);

	assert_int_equal(sock_listen_unix(path, 16), -EADDRINUSE);
	/* Same inode, and the first listener still works. */
	assert_int_equal(stat(path, &st2), 0);
	assert_int_equal(st1.st_ino, st2.st_ino);
	assert_serves(lfd, path);
	close(lfd);
	rmtree(dir);
	free(path);
	free(dir);
}

static void
test_stale_socket_replaced(void **state)
{
	char *dir = mktmp(), *path = xstrfmt("%s/s.sock", dir);
	struct sockaddr_un sun = { .sun_family = AF_UNIX };
	int fd, lfd, cfd;

	/* A socket file nobody listens on (its owner died). */
	fd = socket(AF_UNIX, SOCK_STREAM, 0);
	assert_true(fd >= 0);
	strcpy(sun.sun_path, path);
	assert_int_equal(bind(fd, (struct sockaddr *)&sun, sizeof(sun)), 0);
	assert_int_equal(listen(fd, 1), 0);
	close(fd);
	assert_true(S_ISSOCK(mode_of(path)));
	assert_int_equal(sock_connect_unix(path, false), -ECONNREFUSED);

	lfd = sock_listen_unix(path, 16);
	assert_true(lfd >= 0);
	assert_int_equal(mode_of(path) & 07777, 0600);
	cfd = sock_connect_unix(path, false);
	assert_true(cfd >= 0);
	close(cfd);
	close(lfd);
	rmtree(dir);
	free(path);
	free(dir);
}

/*
 * The listener died, but a child it forked still holds the listening fd
 * (on its way to execve): connecting succeeds, yet nobody will accept.
 * The socket is stale and is taken over.
 */
static void
test_listener_gone_fd_inherited(void **state)
{
	char *dir = mktmp(), *path = xstrfmt("%s/s.sock", dir);
	int hold[2], status, lfd, cfd;
	pid_t a;
	char c;

	assert_int_equal(pipe(hold), 0);
	a = fork();
	assert_true(a >= 0);
	if (a == 0) {
		/* A listens, forks B (which keeps the fd) and exits. */
		lfd = sock_listen_unix(path, 16);
		if (lfd < 0)
			_exit(1);
		if (fork() == 0) {
			close(hold[1]);
			(void)!read(hold[0], &c, 1);
			_exit(0);
		}
		_exit(0);
	}
	close(hold[0]);
	assert_int_equal(waitpid(a, &status, 0), a);
	assert_true(WIFEXITED(status) && WEXITSTATUS(status) == 0);
	/* B still holds it: a connect is queued, though nobody accepts. */
	cfd = sock_connect_unix(path, false);
	assert_true(cfd >= 0);
	close(cfd);

	lfd = sock_listen_unix(path, 16);
	assert_true(lfd >= 0);
	assert_serves(lfd, path);
	close(lfd);
	close(hold[1]); /* B exits (reparented: not ours to reap) */
	rmtree(dir);
	free(path);
	free(dir);
}

static void
test_non_socket_not_unlinked(void **state)
{
	char *dir = mktmp(), *path = xstrfmt("%s/s.sock", dir);
	int fd;

	fd = open(path, O_CREAT | O_WRONLY, 0600);
	assert_true(fd >= 0);
	close(fd);
	assert_int_equal(sock_listen_unix(path, 16), -EADDRINUSE);
	assert_true(S_ISREG(mode_of(path)));
	rmtree(dir);
	free(path);
	free(dir);
}

static void
test_errors(void **state)
{
	char *dir = mktmp(), *path = xstrfmt("%s/none.sock", dir);
	char longpath[200];

	memset(longpath, 'x', sizeof(longpath));
	longpath[0] = '/';
	longpath[sizeof(longpath) - 1] = '\0';
	assert_int_equal(sock_listen_unix(longpath, 1), -ENAMETOOLONG);
	assert_int_equal(sock_connect_unix(longpath, false), -ENAMETOOLONG);
	assert_int_equal(sock_connect_unix(path, false), -ENOENT);
	assert_int_equal(sock_listen_unix("", 1), -EINVAL);
	rmtree(dir);
	free(path);
	free(dir);
}

static void
test_max_path(void **state)
{
	struct sockaddr_un sun;
	char *dir = mktmp(), *path;
	size_t room = sizeof(sun.sun_path) - 1 - strlen(dir) - 1;
	int lfd;

	path = xmalloc(sizeof(sun.sun_path) + 1);
	snprintf(path, sizeof(sun.sun_path) + 1, "%s/", dir);
	memset(path + strlen(dir) + 1, 'a', room);
	path[strlen(dir) + 1 + room] = '\0';
	assert_int_equal(strlen(path), sizeof(sun.sun_path) - 1);
	lfd = sock_listen_unix(path, 1);
	assert_true(lfd >= 0);
	close(lfd);
	strcat(path, "a");
	assert_int_equal(sock_listen_unix(path, 1), -ENAMETOOLONG);
	rmtree(dir);
	free(path);
	free(dir);
}

static void
test_dir_ensure_private(void **state)
{
	char *dir = mktmp(), *deep = xstrfmt("%s/a/b/c/", dir);
	char *a = xstrfmt("%s/a", dir), *c = xstrfmt("%s/a/b/c", dir);
	char *link = xstrfmt("%s/link", dir), *file = xstrfmt("%s/f", dir);
	mode_t old = umask(0);
	int fd;

	assert_int_equal(dir_ensure_private(deep), 0);
	umask(old);
	assert_true(S_ISDIR(mode_of(c)));
	assert_int_equal(mode_of(c) & 07777, 0700);
	assert_int_equal(mode_of(a) & 07777, 0700);
	/* Idempotent. */
	assert_int_equal(dir_ensure_private(c), 0);

	/* A looser existing directory is tightened. */
	assert_int_equal(chmod(c, 0755), 0);
	assert_int_equal(dir_ensure_private(c), 0);
	assert_int_equal(mode_of(c) & 07777, 0700);

	/* A symlink or file in place of the directory is refused. */
	assert_int_equal(symlink(c, link), 0);
	assert_true(dir_ensure_private(link) < 0);
	fd = open(file, O_CREAT | O_WRONLY, 0600);
	assert_true(fd >= 0);
	close(fd);
	assert_true(dir_ensure_private(file) < 0);

	/* Owned by someone else: -EPERM, mode untouched. */
	if (geteuid() == 0) {
		assert_int_equal(chmod(c, 0755), 0);
		assert_int_equal(chown(c, 65534, 65534), 0);
		assert_int_equal(dir_ensure_private(c), -EPERM);
		assert_int_equal(mode_of(c) & 07777, 0755);
	}
	assert_int_equal(dir_ensure_private(""), -EINVAL);

	rmtree(dir);
	free(dir);
	free(deep);
	free(a);
	free(c);
	free(link);
	free(file);
}

static void
test_peercred_socketpair(void **state)
{
	int sv[2];
	pid_t pid;
	uid_t uid;
	gid_t gid;

	assert_int_equal(socketpair(AF_UNIX, SOCK_STREAM, 0, sv), 0);
	assert_int_equal(sock_peercred(sv[0], &pid, &uid, &gid), 0);
	assert_int_equal(pid, getpid());
	assert_int_equal(uid, geteuid());
	assert_int_equal(gid, getegid());
	assert_int_equal(sock_check_peer_uid(sv[1]), 0);
	assert_int_equal(sock_peercred(sv[0], NULL, NULL, NULL), 0);
	close(sv[0]);
	close(sv[1]);

	/* Not a socket. */
	assert_true(pipe(sv) == 0);
	assert_int_equal(sock_check_peer_uid(sv[0]), -ENOTSOCK);
	close(sv[0]);
	close(sv[1]);
}

static void
test_peer_other_uid_refused(void **state)
{
	char *dir, *path;
	int lfd, afd, status;
	uid_t uid;
	pid_t pid;
	char b;

	if (geteuid() != 0)
		skip();
	dir = mktmp();
	path = xstrfmt("%s/s.sock", dir);
	lfd = sock_listen_unix(path, 4);
	assert_true(lfd >= 0);
	/* Let uid 65534 reach the socket for this test only. */
	assert_int_equal(chmod(dir, 0755), 0);
	assert_int_equal(chmod(path, 0666), 0);

	pid = fork();
	assert_true(pid >= 0);
	if (pid == 0) {
		int fd;

		if (setgid(65534) < 0 || setuid(65534) < 0)
			_exit(2);
		fd = sock_connect_unix(path, false);
		if (fd < 0)
			_exit(3);
		/* Wait for the parent to close. */
		(void)!read(fd, &b, 1);
		_exit(0);
	}
	afd = accept_one(lfd);
	assert_true(afd >= 0);
	assert_int_equal(sock_peercred(afd, NULL, &uid, NULL), 0);
	assert_int_equal(uid, 65534);
	assert_int_equal(sock_check_peer_uid(afd), -EPERM);
	close(afd);
	assert_int_equal(waitpid(pid, &status, 0), pid);
	assert_true(WIFEXITED(status));
	assert_int_equal(WEXITSTATUS(status), 0);
	close(lfd);
	rmtree(dir);
	free(path);
	free(dir);
}

static void
test_fd_flags(void **state)
{
	int p[2];

	assert_int_equal(pipe(p), 0);
	assert_int_equal(fd_set_nonblock(p[0], true), 0);
	assert_true(fcntl(p[0], F_GETFL) & O_NONBLOCK);
	assert_int_equal(fd_set_nonblock(p[0], false), 0);
	assert_false(fcntl(p[0], F_GETFL) & O_NONBLOCK);
	assert_int_equal(fd_set_cloexec(p[0], true), 0);
	assert_true(fcntl(p[0], F_GETFD) & FD_CLOEXEC);
	assert_int_equal(fd_set_cloexec(p[0], false), 0);
	assert_false(fcntl(p[0], F_GETFD) & FD_CLOEXEC);
	close(p[0]);
	assert_int_equal(fd_set_nonblock(p[0], true), -EBADF);
	/* Writing to a pipe without a reader: -EPIPE, not a signal death. */
	signal(SIGPIPE, SIG_IGN);
	assert_int_equal(fd_write_all(p[1], "x", 1), -EPIPE);
	close(p[1]);
}

static void
test_write_all_large(void **state)
{
	size_t len = 1 << 20, got = 0;
	char *buf = xmalloc(len), *in = xmalloc(len);
	int sv[2], status;
	ssize_t n;
	pid_t pid;

	memset(buf, 'z', len);
	assert_int_equal(socketpair(AF_UNIX, SOCK_STREAM, 0, sv), 0);
	pid = fork();
	assert_true(pid >= 0);
	if (pid == 0) {
		close(sv[0]);
		_exit(fd_write_all(sv[1], buf, len) == 0 ? 0 : 1);
	}
	close(sv[1]);
	while ((n = read(sv[0], in + got, len - got)) > 0)
		got += (size_t)n;
	assert_int_equal(got, len);
	assert_memory_equal(in, buf, len);
	assert_int_equal(waitpid(pid, &status, 0), pid);
	assert_int_equal(WEXITSTATUS(status), 0);
	close(sv[0]);
	free(buf);
	free(in);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_listen_mode_and_flags),
		cmocka_unit_test(test_live_socket_never_unlinked),
		cmocka_unit_test(test_stale_socket_replaced),
		cmocka_unit_test(test_listener_gone_fd_inherited),
		cmocka_unit_test(test_non_socket_not_unlinked),
		cmocka_unit_test(test_errors),
		cmocka_unit_test(test_max_path),
		cmocka_unit_test(test_dir_ensure_private),
		cmocka_unit_test(test_peercred_socketpair),
		cmocka_unit_test(test_peer_other_uid_refused),
		cmocka_unit_test(test_fd_flags),
		cmocka_unit_test(test_write_all_large),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
