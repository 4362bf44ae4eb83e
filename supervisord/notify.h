/* SPDX-License-Identifier: ISC */
#ifndef SUPERVISORD_NOTIFY_H
#define SUPERVISORD_NOTIFY_H

#include <stdint.h>

struct daemon;

/*
 * sd_notify without libsystemd: one datagram to $NOTIFY_SOCKET (a path
 * or an abstract "@name").  notify_init() takes the variable out of the
 * environment so workers never inherit it.
 */

/* Remember $NOTIFY_SOCKET and $WATCHDOG_USEC; unset them. */
void notify_init(struct daemon *d);
/* Send text (e.g. "READY=1"); 0, or -errno; no socket = 0. */
int notify_send(struct daemon *d, const char *text);
/* Send STATUS=<n> live pods. */
void notify_status(struct daemon *d);
/* Start the WATCHDOG=1 timer if systemd asked for one. */
void notify_watchdog_start(struct daemon *d);
/* Stop the watchdog timer and forget the socket. */
void notify_free(struct daemon *d);

#endif
