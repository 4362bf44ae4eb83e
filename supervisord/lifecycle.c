/* SPDX-License-Identifier: ISC */
#include <errno.h>

#include "common/log.h"
#include "supervisord/daemon.h"
#include "supervisord/journal.h"
#include "supervisord/lifecycle.h"
#include "supervisord/notify.h"
#include "supervisord/podstore.h"

#define S_ POD_NONE

/* next[status][event]; POD_NONE = not allowed. */
static const enum pod_status
	lifecycle_table[POD_STATUS_COUNT][LC_EVENT_COUNT] = {
		/*                START         READY     FAIL        STOP
	 *                EXIT_OK       EXIT_FAIL LOST        GIVE_UP */
		[POD_NONE] = { POD_STARTING, S_, S_, S_, S_, S_, S_, S_ },
		[POD_STARTING] = { S_, POD_LIVE, POD_FAILED, POD_STOPPING,
			POD_FAILED, POD_CRASHED, POD_CRASHED, POD_FAILED },
		[POD_LIVE] = { S_, S_, S_, POD_STOPPING, POD_STOPPED,
			POD_CRASHED, POD_CRASHED, S_ },
		[POD_STOPPING] = { S_, S_, POD_STOPPED, S_, POD_STOPPED,
			POD_STOPPED, POD_STOPPED, S_ },
		[POD_STOPPED] = { POD_STARTING, S_, S_, S_, S_, S_, S_, S_ },
		[POD_CRASHED] = { POD_STARTING, S_, S_, S_, S_, S_, S_,
			POD_FAILED },
		[POD_FAILED] = { POD_STARTING, S_, S_, S_, S_, S_, S_, S_ },
		[POD_CORRUPT] = { S_, S_, S_, S_, S_, S_, S_, S_ },
	};

static const char *const lifecycle_event_names[LC_EVENT_COUNT] = {
	"start",
	"ready",
	"fail",
	"stop",
	"exit_ok",
	"exit_fail",
	"lost",
	"give_up",
};

/* The name of a lifecycle event (logs). */
const char *
lifecycle_event_name(enum lifecycle_event ev)
{
	if ((unsigned)ev >= LC_EVENT_COUNT)
		return "?";
	return lifecycle_event_names[ev];
}

/* Look up a transition. */
enum pod_status
lifecycle_next(enum pod_status s, enum lifecycle_event ev)
{
	if ((unsigned)s >= POD_STATUS_COUNT || (unsigned)ev >= LC_EVENT_COUNT)
		return POD_NONE;
	return lifecycle_table[s][ev];
}

/* Apply a transition to p and persist it. */
int
lifecycle_apply(struct pod *p, enum lifecycle_event ev)
{
	enum pod_status next = lifecycle_next(p->status, ev);
	int r;

	if (next == POD_NONE) {
		log_debug("pod %s: no transition %s on %s", p->name,
			pod_status_name(p->status), lifecycle_event_name(ev));
		return -EINVAL;
	}
	log_info("pod %s: %s -> %s (%s)", p->name, pod_status_name(p->status),
		pod_status_name(next), lifecycle_event_name(ev));
	p->status = next;
	/* Ended for good (not crashed, to be restarted): unspent goes back. */
	if (next == POD_STOPPED || next == POD_FAILED)
		budget_return(p);
	/*
	 * A start's write decides whether the start happens, and ready is
	 * answered with "spawned": both are written now.  Every other
	 * transition is batched to the end of the loop iteration (a
	 * shutdown of 1,000 pods then costs a few fsync rounds, not
	 * thousands); what the daemon does next (replies, shutdown
	 * requests) leaves on the sockets after that write.
	 */
	if (ev == LC_START || ev == LC_READY)
		r = podstore_write(p->d, p);
	else {
		podstore_write_later(p->d, p);
		r = 0;
	}
	journal_write(p->d);
	notify_status(p->d);
	return r;
}
