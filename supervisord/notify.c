/* SPDX-License-Identifier: ISC */
#include <errno.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include <event2/event.h>

#include "common/log.h"
#include "common/xmalloc.h"
#include "supervisord/daemon.h"
#include "supervisord/notify.h"

/* Take $NOTIFY_SOCKET / $WATCHDOG_USEC out of the environment. */
void
notify_init(struct daemon *d)
{
	const char *s = getenv("NOTIFY_SOCKET");
	const char *wd = getenv("WATCHDOG_USEC");
	const char *wpid = getenv("WATCHDOG_PID");

	free(d->notify_socket);
	d->notify_socket = NULL;
	if (s != NULL && (s[0] == '/' || s[0] == '@') && s[1] != '\0')
		d->notify_socket = xstrdup(s);
	d->watchdog_usec = 0;
	if (wd != NULL &&
		(wpid == NULL || strtol(wpid, NULL, 10) == (long)getpid()))
		d->watchdog_usec = strtoull(wd, NULL, 10);
	unsetenv("NOTIFY_SOCKET");
	unsetenv("WATCHDOG_USEC");
	unsetenv("WATCHDOG_PID");
}

/* Send one notification datagram. */
int
notify_send(struct daemon *d, const char *text)
{
	struct sockaddr_un sa;
	socklen_t salen;
	size_t len;
	int fd, r = 0;

	if (d->notify_socket == NULL)
		return 0;
	len = strlen(d->notify_socket);
	if (len >= sizeof(sa.sun_path))
		return -ENAMETOOLONG;
	memset(&sa, 0, sizeof(sa));
	sa.sun_family = AF_UNIX;
	memcpy(sa.sun_path, d->notify_socket, len);
	if (sa.sun_path[0] == '@')
		sa.sun_path[0] = '\0';
	salen = (socklen_t)(offsetof(struct sockaddr_un, sun_path) + len);
	if ((fd = socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0)) < 0)
		return -errno;
	if (sendto(fd, text, strlen(text), MSG_NOSIGNAL | MSG_DONTWAIT,
		    (struct sockaddr *)&sa, salen) < 0) {
		r = -errno;
		log_debug("sd_notify %s: %s", text, strerror(errno));
	}
	close(fd);
	return r;
}

/* STATUS=<n> live pods. */
void
notify_status(struct daemon *d)
{
	char buf[64];

	snprintf(
		buf, sizeof(buf), "STATUS=%zu live pods", daemon_live_count(d));
	(void)notify_send(d, buf);
}

static void
notify_watchdog_cb(evutil_socket_t fd, short what, void *arg)
{
	(void)fd;
	(void)what;
	(void)notify_send(arg, "WATCHDOG=1");
}

/* Ping the watchdog every WATCHDOG_USEC / 2. */
void
notify_watchdog_start(struct daemon *d)
{
	struct timeval tv;
	uint64_t half;

	if (d->watchdog_usec == 0 || d->watchdog_ev != NULL)
		return;
	half = d->watchdog_usec / 2;
	tv.tv_sec = (time_t)(half / 1000000);
	tv.tv_usec = (suseconds_t)(half % 1000000);
	d->watchdog_ev =
		event_new(d->base, -1, EV_PERSIST, notify_watchdog_cb, d);
	event_add(d->watchdog_ev, &tv);
	(void)notify_send(d, "WATCHDOG=1");
}

/* Release the notification state. */
void
notify_free(struct daemon *d)
{
	if (d->watchdog_ev != NULL)
		event_free(d->watchdog_ev);
	d->watchdog_ev = NULL;
	free(d->notify_socket);
	d->notify_socket = NULL;
}
