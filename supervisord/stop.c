/* SPDX-License-Identifier: ISC */
#include <errno.h>
#include <signal.h>
#include <string.h>

#include <event2/event.h>
#include <json-c/json.h>

#include "common/log.h"
#include "proto/conn.h"
#include "proto/msg.h"
#include "supervisord/daemon.h"
#include "supervisord/lifecycle.h"
#include "supervisord/podstore.h"
#include "supervisord/reap.h"
#include "supervisord/stop.h"

#define STOP_GRACE_S 5

/* Drop the pending timer of p. */
void
stop_cancel(struct pod *p)
{
	if (p->timer != NULL)
		event_free(p->timer);
	p->timer = NULL;
	p->stop_stage = 0;
}

static void
stop_signal(struct pod *p, int sig)
{
	if (p->pid <= 0)
		return;
	/* Workers are session leaders: their pgid is their pid. */
	if (kill(-p->pid, sig) < 0 && errno == ESRCH)
		(void)kill(p->pid, sig);
}

static void stop_timer_cb(evutil_socket_t fd, short what, void *arg);

static void
stop_arm(struct pod *p, int stage)
{
	struct timeval tv = { STOP_GRACE_S, 0 };

	if (p->timer != NULL)
		event_free(p->timer);
	p->stop_stage = stage;
	p->timer = evtimer_new(p->d->base, stop_timer_cb, p);
	evtimer_add(p->timer, &tv);
}

static void
stop_timer_cb(evutil_socket_t fd, short what, void *arg)
{
	struct pod *p = arg;

	(void)fd;
	(void)what;
	if (p->status != POD_STOPPING)
		return;
	if (p->stop_stage <= 1) {
		log_notice("pod %s: no exit after shutdown, SIGTERM", p->name);
		stop_signal(p, SIGTERM);
		stop_arm(p, 2);
	} else {
		log_warn("pod %s: no exit after SIGTERM, SIGKILL", p->name);
		/* The whole cgroup: also what left the process group. */
		(void)cgroup_kill(p);
		stop_signal(p, SIGKILL);
		stop_arm(p, 3);
	}
}

static void
stop_shutdown_reply_cb(struct conn *c, struct msg *m, void *arg)
{
	(void)c;
	(void)m;
	(void)arg;
}

static void
stop_descendants(struct pod *p, int depth)
{
	struct pod *q, *next;

	if (depth > 64)
		return;
	for (q = TAILQ_FIRST(&p->d->pods); q != NULL; q = next) {
		next = TAILQ_NEXT(q, entry);
		if (q->parent == NULL || strcmp(q->parent, p->name) != 0)
			continue;
		stop_descendants(q, depth + 1);
		if (daemon_pod_running(q))
			(void)stop_pod(q, false);
	}
}

/* Begin stopping p; the reply waits for the exit. */
int
stop_pod(struct pod *p, bool recursive)
{
	if (recursive)
		stop_descendants(p, 0);
	switch (p->status) {
	case POD_STOPPING:
		return 0;
	case POD_STARTING:
		p->stop_requested = true;
		(void)lifecycle_apply(p, LC_STOP);
		podstore_flush(p->d); /* durable before the signal */
		stop_signal(p, SIGTERM);
		stop_arm(p, 2);
		return 0;
	case POD_LIVE:
		break;
	default:
		return -ESRCH;
	}
	p->stop_requested = true;
	(void)lifecycle_apply(p, LC_STOP);
	if (p->awaiting_reattach || p->chan == NULL) {
		/* Nobody to talk to: a lost worker counts as gone. */
		if (p->awaiting_reattach || p->pid <= 0) {
			reap_pod_exited(p, -1, 0);
			return 0;
		}
		stop_signal(p, SIGTERM);
		stop_arm(p, 2);
		return 0;
	}
	conn_call(p->chan->c, "shutdown", json_object_new_object(),
		(STOP_GRACE_S + 1) * 1000, stop_shutdown_reply_cb, NULL);
	stop_arm(p, 1);
	return 0;
}

/* A stopping worker came back on a new channel: ask it again. */
void
stop_resume(struct pod *p)
{
	if (p->status != POD_STOPPING || p->chan == NULL)
		return;
	conn_call(p->chan->c, "shutdown", json_object_new_object(),
		(STOP_GRACE_S + 1) * 1000, stop_shutdown_reply_cb, NULL);
	stop_arm(p, 1);
}
