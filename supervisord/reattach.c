/* SPDX-License-Identifier: ISC */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include <event2/event.h>
#include <json-c/json.h>

#include "common/log.h"
#include "common/xmalloc.h"
#include "proto/conn.h"
#include "proto/msg.h"
#include "supervisord/daemon.h"
#include "supervisord/journal.h"
#include "supervisord/lifecycle.h"
#include "supervisord/notify.h"
#include "supervisord/podstore.h"
#include "supervisord/reap.h"
#include "supervisord/reattach.h"
#include "supervisord/registry.h"
#include "supervisord/route.h"
#include "supervisord/stop.h"
#include "supervisord/workerchan.h"

static void
reattach_timeout_cb(evutil_socket_t fd, short what, void *arg)
{
	struct daemon *d = arg;
	struct pod *p, *next;

	(void)fd;
	(void)what;
	for (p = TAILQ_FIRST(&d->pods); p != NULL; p = next) {
		next = TAILQ_NEXT(p, entry);
		if (!p->awaiting_reattach)
			continue;
		log_warn("pod %s: worker %d did not re-attach; crashed",
			p->name, (int)p->pid);
		p->awaiting_reattach = false;
		reap_pod_lost(p);
	}
}

/* Reserve pods whose state says a worker runs; wait for them. */
void
reattach_begin(struct daemon *d)
{
	struct timeval tv = { REATTACH_TIMEOUT_MS / 1000,
		(REATTACH_TIMEOUT_MS % 1000) * 1000 };
	struct pod *p;
	size_t n = 0;

	TAILQ_FOREACH(p, &d->pods, entry)
	{
		if (!daemon_pod_running(p))
			continue;
		registry_reserve(d, p);
		p->awaiting_reattach = true;
		p->is_child = false;
		n++;
	}
	if (n == 0)
		return;
	log_info("waiting %d ms for %zu worker(s) to re-attach",
		REATTACH_TIMEOUT_MS, n);
	d->reattach_timer = evtimer_new(d->base, reattach_timeout_cb, d);
	evtimer_add(d->reattach_timer, &tv);
}

/* reattach {name, pid, segment, status}. */
void
reattach_request(void *ctx, struct conn *c, struct msg *m)
{
	struct client *cl = ctx;
	struct daemon *d = cl->d;
	const char *name = msg_param_str(m, "name");
	const char *segment = msg_param_str(m, "segment");
	const char *status = msg_param_str(m, "status");
	int64_t pid = msg_param_int(m, "pid", 0);
	struct pod *p = daemon_pod_find(d, name);
	int r;

	if (p == NULL) {
		conn_send_error(c, m->id, PERR_NOT_FOUND, NULL,
			"no pod named %s", name);
		return;
	}
	if (pid <= 0 || pid != (int64_t)conn_peer_pid(c)) {
		conn_send_error(c, m->id, PERR_INVALID_REQUEST, NULL,
			"pid %lld is not the connecting process",
			(long long)pid);
		return;
	}
	if (!p->awaiting_reattach) {
		if (!daemon_pod_running(p) || p->chan != NULL ||
			p->pid != (pid_t)pid) {
			conn_send_error(c, m->id,
				daemon_pod_running(p) ? PERR_ALREADY_LIVE
						      : PERR_NOT_LIVE,
				NULL, "pod %s is not waiting for its worker",
				p->name);
			return;
		}
	} else if (p->pid > 0 && p->pid != (pid_t)pid) {
		conn_send_error(c, m->id, PERR_INVALID_REQUEST, NULL,
			"pod %s has worker pid %d, not %lld", p->name,
			(int)p->pid, (long long)pid);
		return;
	}
	p->pid = (pid_t)pid;
	/* Our own child (its fd 3 broke) is still reaped by waitpid. */
	if (!p->is_child && (r = reap_watch_pidfd(p)) < 0) {
		conn_send_error(c, m->id, PERR_INTERNAL, NULL,
			"cannot watch pid %d: %s", (int)p->pid, strerror(-r));
		return;
	}
	p->awaiting_reattach = false;
	workerchan_adopt(p, cl);
	cgroup_reattached(p);
	if (segment != NULL && strlen(segment) < 128) {
		free(p->segment);
		p->segment = xstrdup(segment);
	}
	if (status != NULL && strlen(status) < 32) {
		free(p->activity);
		p->activity = xstrdup(status);
	}
	if (p->status == POD_STARTING)
		(void)lifecycle_apply(p, LC_READY);
	else
		(void)podstore_write(d, p);
	journal_write(d);
	notify_status(d);
	log_info("pod %s: worker %d re-attached", p->name, (int)p->pid);
	conn_send_event(c, "reattached", json_object_new_object(), m->id);
	if (p->status == POD_STOPPING) {
		stop_resume(p);
		return;
	}
	if (d->shutting_down && !d->leave_pods) {
		(void)stop_pod(p, false);
		return;
	}
	route_flush(p);
	workerchan_send_scope(p);
}
