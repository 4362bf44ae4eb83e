/* SPDX-License-Identifier: ISC */
#ifndef SUPERVISORD_REATTACH_H
#define SUPERVISORD_REATTACH_H

struct daemon;
struct conn;
struct msg;

/*
 * Re-adoption after a daemon restart.  Pods whose state says a worker
 * runs keep their reservation and wait 5 s for that worker to send
 * reattach {name, pid, segment, status} on control.sock (pid verified by
 * SO_PEERCRED); the connection then becomes the pod's worker channel
 * and a pidfd watches the process.  Pods nobody re-attached become
 * crashed, their scope released, nothing restarted.
 */

/* After loading state: reserve running pods and arm the 5 s timer. */
void reattach_begin(struct daemon *d);
/* The control method reattach (ctx is the struct client). */
void reattach_request(void *ctx, struct conn *c, struct msg *m);

#define REATTACH_TIMEOUT_MS 5000

#endif
