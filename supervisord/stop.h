/* SPDX-License-Identifier: ISC */
#ifndef SUPERVISORD_STOP_H
#define SUPERVISORD_STOP_H

#include <stdbool.h>

struct pod;

/*
 * Stopping a worker without ever blocking: shutdown over its channel,
 * 5 s later SIGTERM to its process group, 5 s later SIGKILL.  The pod
 * becomes stopped when the worker is reaped.
 */

/* Begin stopping p (and, if recursive, its descendants first). */
int stop_pod(struct pod *p, bool recursive);
/* Re-send shutdown to a stopping pod whose worker re-attached. */
void stop_resume(struct pod *p);
/* Drop p's stop/restart timer. */
void stop_cancel(struct pod *p);

#endif
