/* SPDX-License-Identifier: ISC */
#ifndef SUPERVISORD_FAKELLM_H
#define SUPERVISORD_FAKELLM_H

struct daemon;

/*
 * The bundled fake provider, used when neither config.ini nor the
 * environment names one: podvisord starts `fakellm` on first need and
 * waits for its "listening http://127.0.0.1:PORT" line.
 */

/* The port if it listens; -EAGAIN while it starts (spawns resume via
 * spawn_fakellm_ready()); another -errno if it cannot run. */
int fakellm_ensure(struct daemon *d);
/* The fakellm process was reaped. */
void fakellm_exited(struct daemon *d);
/* Terminate it (daemon exit). */
void fakellm_stop(struct daemon *d);

#endif
