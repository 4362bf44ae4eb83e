/* SPDX-License-Identifier: ISC */
#ifndef COMMON_SOCK_H
#define COMMON_SOCK_H

#include <stdbool.h>
#include <sys/types.h>

/*
 * File descriptor and Unix socket helpers.  All return 0 (or an fd) on
 * success and a negative errno on failure.
 */

int fd_set_nonblock(int fd, bool on);
int fd_set_cloexec(int fd, bool on);

/*
 * Create a directory (and missing parents) with mode 0700 and verify
 * that the final directory is owned by us and not group/other
 * accessible; a looser existing directory is tightened with chmod, one
 * owned by another uid is refused with -EPERM.
 */
int dir_ensure_private(const char *path);

/*
 * Bind and listen on a Unix stream socket at path, non-blocking and
 * close-on-exec, mode 0600.  A stale socket file (nobody accepts on it:
 * connect gives ECONNREFUSED) is unlinked first; a socket a live process
 * still listens on is never unlinked and gives -EADDRINUSE.  A path longer
 * than sun_path gives -ENAMETOOLONG.  Returns the fd.
 */
int sock_listen_unix(const char *path, int backlog);

/* Connect to a Unix stream socket; non-blocking if nonblock. Returns fd. */
int sock_connect_unix(const char *path, bool nonblock);

/* Peer credentials of a connected Unix socket (SO_PEERCRED). */
int sock_peercred(int fd, pid_t *ret_pid, uid_t *ret_uid, gid_t *ret_gid);

/* 0 if the peer's uid equals ours, -EPERM if not, -errno on failure. */
int sock_check_peer_uid(int fd);

/* Write all of buf to a blocking fd, retrying on EINTR. */
int fd_write_all(int fd, const void *buf, size_t len);

#endif
