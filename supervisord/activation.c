/* SPDX-License-Identifier: ISC */
#include <errno.h>
#include <stdlib.h>
#include <sys/socket.h>
#include <unistd.h>

#include "common/log.h"
#include "common/sock.h"
#include "supervisord/activation.h"

/* Take the socket systemd passed us, if any. */
int
activation_listen_fd(void)
{
	const char *spid = getenv("LISTEN_PID");
	const char *sfds = getenv("LISTEN_FDS");
	long pid, nfds;
	int type = 0, acc = 0, fd, i;
	socklen_t len;

	if (spid == NULL || sfds == NULL)
		return -ENOENT;
	pid = strtol(spid, NULL, 10);
	nfds = strtol(sfds, NULL, 10);
	unsetenv("LISTEN_PID");
	unsetenv("LISTEN_FDS");
	unsetenv("LISTEN_FDNAMES");
	if (pid != (long)getpid() || nfds <= 0)
		return -ENOENT;
	/* Extra fds are not ours to keep. */
	for (i = 1; i < nfds && i < 64; i++)
		(void)fd_set_cloexec(ACTIVATION_FD_START + i, true);
	fd = ACTIVATION_FD_START;
	len = sizeof(type);
	if (getsockopt(fd, SOL_SOCKET, SO_TYPE, &type, &len) < 0 ||
		type != SOCK_STREAM)
		return -EINVAL;
	len = sizeof(acc);
	if (getsockopt(fd, SOL_SOCKET, SO_ACCEPTCONN, &acc, &len) < 0 ||
		acc == 0)
		return -EINVAL;
	if (nfds > 1)
		log_warn("socket activation passed %ld fds; using fd 3", nfds);
	(void)fd_set_cloexec(fd, true);
	return fd;
}
