/* SPDX-License-Identifier: ISC */
#ifndef SUPERVISORD_ACTIVATION_H
#define SUPERVISORD_ACTIVATION_H

/*
 * systemd socket activation without libsystemd: when LISTEN_PID is our
 * pid and LISTEN_FDS is 1, fd 3 is the control socket.  The variables
 * are removed from the environment (workers must not see them; their
 * fd 3 is the worker channel).
 */

#define ACTIVATION_FD_START 3

/* The passed listening fd (close-on-exec set), or -ENOENT if none,
 * -EINVAL if the passed fds are unusable. */
int activation_listen_fd(void);

#endif
