/* SPDX-License-Identifier: ISC */
#ifndef SUPERVISORD_SPARE_H
#define SUPERVISORD_SPARE_H

#include <stdbool.h>
#include <sys/types.h>

struct daemon;

/*
 * One spare worker, already exec'd (`podvisor-worker --spare`, channel on
 * fd 3, stderr on <runtime>/spare-stderr.log) and waiting for a start
 * request: a spawn takes it instead of paying fork+exec+dynamic linking,
 * and a new spare is started in the background.  A spare is not a pod:
 * it is in no list, state file or registry.  It is ready once it sent
 * the line {"event":"spare_ready"} on its channel; one that dies or
 * says anything else is replaced after a backoff (1 s doubling to 60 s),
 * never in a loop.
 */

/* Start a spare soon (after delay_ms) unless one exists or is due. */
void spare_schedule(struct daemon *d, int delay_ms);
/*
 * Take the spare: its pid and the daemon's end of its channel (the
 * caller owns both from now on).  Returns 0, or -ENOENT if there is no
 * spare, or it is not ready and no spare has proven ready before.
 * Schedules the next spare.
 */
int spare_take(struct daemon *d, pid_t *ret_pid, int *ret_fd);
/* pid was reaped: true if it was the spare (then it is replaced). */
bool spare_reaped(struct daemon *d, pid_t pid);
/* Is pid the spare worker? */
bool spare_is(const struct daemon *d, pid_t pid);
/* Kill the spare, cancel any pending start, free everything. */
void spare_stop(struct daemon *d);

#endif
