/* SPDX-License-Identifier: ISC */
#ifndef SUPERVISORD_LIFECYCLE_H
#define SUPERVISORD_LIFECYCLE_H

#include "supervisord/daemon.h"

/*
 * The pod lifecycle of DESIGN.md as one state x event table: every
 * status change of a pod goes through lifecycle_apply(), which writes
 * the pod state, the supervisor journal and the readiness STATUS.
 */
enum lifecycle_event {
	LC_START = 0, /* spawn / restore / restart: a worker is forked */
	LC_READY, /* the worker answered start with ready */
	LC_FAIL, /* exec or start failed */
	LC_STOP, /* stop requested */
	LC_EXIT_OK, /* worker exited 0 */
	LC_EXIT_FAIL, /* worker exited non-zero or by a signal */
	LC_LOST, /* worker did not come back after a daemon restart */
	LC_GIVE_UP, /* too many crashes: no more restarts */
	LC_EVENT_COUNT
};

/* The status event ev leads to from s, or POD_NONE if not allowed. */
enum pod_status lifecycle_next(enum pod_status s, enum lifecycle_event ev);

/*
 * Apply ev to p: change its status, write its state file and the
 * journal, update STATUS=.  Returns 0; -EINVAL if the table has no such
 * transition (p is unchanged); or the -errno of writing the state file
 * (the transition is applied in memory, the old file is left intact).
 */
int lifecycle_apply(struct pod *p, enum lifecycle_event ev);

const char *lifecycle_event_name(enum lifecycle_event ev);

#endif
