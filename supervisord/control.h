/* SPDX-License-Identifier: ISC */
#ifndef SUPERVISORD_CONTROL_H
#define SUPERVISORD_CONTROL_H

#include "proto/dispatch.h"

struct daemon;

/*
 * control.sock: accept (SO_PEERCRED uid check), the hello prelude, and
 * the sorted method table of PROTOCOL.md section 1 plus reattach.
 */

/* Start accepting on d->listen_fd. 0 or -errno. */
int control_start(struct daemon *d);
/* Stop accepting and close every client connection. */
void control_stop(struct daemon *d);

/* Most clients served at once; more are refused. */
#define CONTROL_MAX_CLIENTS 1024
/* Unsent output beyond which a client that does not read is dropped. */
#define CONTROL_OUT_LIMIT (4u * 1024u * 1024u)

extern const struct dispatch_entry control_table[];
extern const unsigned control_table_len;

#endif
