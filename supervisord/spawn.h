/* SPDX-License-Identifier: ISC */
#ifndef SUPERVISORD_SPAWN_H
#define SUPERVISORD_SPAWN_H

#include <stdbool.h>

struct daemon;
struct pod;
struct json_object;

/*
 * Starting a worker: fork+exec with the channel on fd 3 and a
 * close-on-exec status pipe, then the start request and a 10 s wait for
 * ready.  The pod is already reserved and in status starting; failure at
 * any step goes through spawn_fail().
 */

/*
 * Before p's start transition is written: give p the spare worker, if
 * one can be handed out, so that the one starting state write already
 * names the worker's pid (spawn_worker() then writes nothing more before
 * its start request).  The worker does nothing until it gets start.
 */
void spawn_take_spare(struct pod *p);

/* The start was not written after spawn_take_spare(): kill that worker. */
void spawn_drop_worker(struct pod *p);

/* Start p's worker (p->restoring selects --restore). */
void spawn_worker(struct pod *p);

/*
 * A start failed: kill what was forked, answer the waiters with
 * spawn_failed quoting stderr.log, release the reservation; a fresh
 * spawn is rolled back entirely (p is freed), a restore ends failed, a
 * policy restart counts as a crash.
 */
void spawn_fail(struct pod *p, const char *why);

/* The fakellm came up (ok) or failed: continue or fail waiting pods. */
void spawn_fakellm_ready(struct daemon *d, bool ok);

/* The start config sent to the worker (new reference), or NULL/-EAGAIN. */
int spawn_start_config(
	struct pod *p, struct json_object **ret_obj, char **reterr_msg);

/*
 * In a forked child: reset signals, setsid(), put chan on fd 3, errfd on
 * 1 and 2, /dev/null on 0, close the rest at exec and execv bin; on
 * failure write errno to status_w and _exit(127).  Async-signal-safe.
 */
void spawn_child(int chan, int errfd, int status_w, const char *bin,
	char *const argv[]) __attribute__((noreturn));

/* The last lines of the pod's stderr.log (caller frees; never NULL). */
char *spawn_stderr_tail(struct daemon *d, const char *name);

#endif
