/* SPDX-License-Identifier: ISC */
#include <errno.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/syscall.h>
#include <sys/types.h>
#include <sys/wait.h>
#include <unistd.h>

#include <event2/event.h>
#include <json-c/json.h>

#include "common/proc.h"
#include "common/clock.h"
#include "common/log.h"
#include "common/xmalloc.h"
#include "proto/msg.h"
#include "supervisord/daemon.h"
#include "supervisord/fakellm.h"
#include "supervisord/gitrun.h"
#include "supervisord/journal.h"
#include "supervisord/lifecycle.h"
#include "supervisord/podstore.h"
#include "supervisord/reap.h"
#include "supervisord/registry.h"
#include "supervisord/route.h"
#include "supervisord/spare.h"
#include "supervisord/spawn.h"
#include "supervisord/stop.h"
#include "supervisord/workerchan.h"

#define REAP_CRASH_WINDOW_MS 60000
#define REAP_MAX_CRASHES 5
#define REAP_BACKOFF_MIN_MS 1000
#define REAP_BACKOFF_MAX_MS 60000

static struct pod *
reap_find_child(struct daemon *d, pid_t pid)
{
	struct pod *p;

	TAILQ_FOREACH(p, &d->pods, entry)
	{
		if (p->pid == pid && p->is_child)
			return p;
	}
	return NULL;
}

static int
reap_cmp_pid(const void *a, const void *b)
{
	pid_t x = *(const pid_t *)a, y = *(const pid_t *)b;

	return x < y ? -1 : x > y;
}

/*
 * Kill every child of podvisord that is not a worker, the spare or the
 * bundled fakellm, with its process group: what a pod's tools left
 * running, handed to us (the child subreaper) because their worker died
 * without killing them (kill -9; a worker that ends kills them itself):
 * a bash run's leader (a group of its own) or a process that left for a
 * session of its own.  They must not outlive the scope they were
 * confined to.  Their own orphans come to us as they die, and
 * reap_children() calls this again.  (Our own children only: no scan of
 * /proc, which with 1,000 pods costs tens of ms per reaped worker.)
 */
static void
reap_kill_strays(struct daemon *d)
{
	pid_t *kids, *known;
	size_t i, n, nknown = 0;
	struct pod *p;

	if ((n = proc_children(&kids)) == 0)
		return;
	known = xreallocarray(NULL, d->npods + 1, sizeof(*known));
	TAILQ_FOREACH(p, &d->pods, entry)
	{
		if (p->is_child && p->pid > 0 && nknown < d->npods)
			known[nknown++] = p->pid;
	}
	qsort(known, nknown, sizeof(*known), reap_cmp_pid);
	for (i = 0; i < n; i++) {
		if (kids[i] == d->fakellm_pid || spare_is(d, kids[i]) ||
			gitrun_owns(kids[i]) ||
			bsearch(&kids[i], known, nknown, sizeof(*known),
				reap_cmp_pid) != NULL)
			continue;
		log_info("killing pid %d, left running by a pod's tools",
			(int)kids[i]);
		if (kill(-kids[i], SIGKILL) < 0) /* not a group leader */
			(void)kill(kids[i], SIGKILL);
	}
	free(known);
	free(kids);
}

/* waitpid(-1, WNOHANG) until nothing is left to reap. */
void
reap_children(struct daemon *d)
{
	bool strays = false;
	struct pod *p;
	pid_t pid;
	int st;

	while ((pid = waitpid(-1, &st, WNOHANG)) > 0) {
		if (pid == d->fakellm_pid) {
			fakellm_exited(d);
			continue;
		}
		if (gitrun_reaped(pid, st))
			continue;
		if ((p = reap_find_child(d, pid)) == NULL) {
			/* a stray's death may hand us its own orphans */
			if (!spare_reaped(d, pid))
				strays = true;
			continue;
		}
		if (WIFEXITED(st))
			reap_pod_exited(p, WEXITSTATUS(st), 0);
		else if (WIFSIGNALED(st))
			reap_pod_exited(p, -1, WTERMSIG(st));
	}
	if (strays)
		reap_kill_strays(d);
}

static void
reap_pidfd_cb(evutil_socket_t fd, short what, void *arg)
{
	struct pod *p = arg;

	(void)fd;
	(void)what;
	reap_pod_exited(p, -1, 0);
}

static void
reap_poll_cb(evutil_socket_t fd, short what, void *arg)
{
	struct pod *p = arg;

	(void)fd;
	(void)what;
	if (p->pid > 0 && kill(p->pid, 0) < 0 && errno == ESRCH)
		reap_pod_exited(p, -1, 0);
}

/* Watch a worker we did not fork (a pidfd; polling where unsupported). */
int
reap_watch_pidfd(struct pod *p)
{
	struct timeval tv = { 0, 250 * 1000 };
	int fd = (int)syscall(SYS_pidfd_open, p->pid, 0);

	if (fd < 0 && errno != ENOSYS)
		return -errno;
	if (p->pidfd_ev != NULL)
		event_free(p->pidfd_ev);
	if (p->pidfd >= 0)
		close(p->pidfd);
	p->pidfd = fd;
	if (fd < 0) {
		/* No pidfd_open (old kernel, valgrind): poll kill(pid, 0). */
		p->pidfd_ev =
			event_new(p->d->base, -1, EV_PERSIST, reap_poll_cb, p);
		event_add(p->pidfd_ev, &tv);
		return 0;
	}
	p->pidfd_ev = event_new(p->d->base, fd, EV_READ, reap_pidfd_cb, p);
	event_add(p->pidfd_ev, NULL);
	return 0;
}

static void
reap_unwatch(struct pod *p)
{
	if (p->pidfd_ev != NULL)
		event_free(p->pidfd_ev);
	p->pidfd_ev = NULL;
	if (p->pidfd >= 0)
		close(p->pidfd);
	p->pidfd = -1;
}

/* Move p's live children up to p's parent; they keep their grants. */
static void
reap_reparent(struct pod *p)
{
	struct daemon *d = p->d;
	struct pod *q, *gp = registry_parent(d, p);
	bool changed = false;

	TAILQ_FOREACH(q, &d->pods, entry)
	{
		if (!daemon_pod_running(q) || q->parent == NULL ||
			strcmp(q->parent, p->name) != 0)
			continue;
		log_info("pod %s: re-parented from %s to %s", q->name, p->name,
			gp != NULL ? gp->name : "(top level)");
		free(q->parent);
		q->parent = gp != NULL ? xstrdup(gp->name) : NULL;
		/* p keeps q in its children: restoring p takes q back. */
		if (gp != NULL)
			namelist_add(&gp->children, q->name);
		(void)podstore_write(d, q);
		changed = true;
	}
	if (changed && gp != NULL)
		(void)podstore_write(d, gp);
}

static struct json_object *
reap_stopped_data(struct pod *p, const struct scope_rules *released)
{
	struct json_object *o = json_object_new_object();

	json_object_object_add(o, "name", json_object_new_string(p->name));
	json_object_object_add(o, "released", scope_rules_to_json(released));
	return o;
}

/* Everything that happens when a worker is gone (or lost). */
static void
reap_gone(struct pod *p, int code, int sig, bool lost)
{
	struct daemon *d = p->d;
	struct scope_rules released = { 0 };
	struct json_object *ev;
	struct pod *parent;
	enum lifecycle_event lev;

	reap_unwatch(p);
	if (p->status == POD_STARTING && !lost) {
		char *why = sig > 0
			? xstrfmt("the worker was killed by signal %d", sig)
			: xstrfmt("the worker exited with code %d", code);

		spawn_fail(p, why);
		free(why);
		return;
	}
	if (!daemon_pod_running(p))
		return;
	stop_cancel(p);
	workerchan_detach(p);
	p->awaiting_reattach = false;
	/*
	 * What its tools left running (bash runs in process groups of their
	 * own, and what those started) dies with the worker, before its
	 * scope is given to anyone else: they are our children now (we are
	 * the subreaper).
	 */
	if (!lost && p->is_child)
		reap_kill_strays(d);
	cgroup_pod_exited(p);
	scope_rules_copy(&released, &p->granted);
	registry_release(d, p);
	p->has_last_exit = true;
	p->last_exit_code = code;
	p->last_exit_signal = sig;
	p->last_exit_ms = clock_now_ms();
	p->pid = 0;
	p->is_child = false;
	reap_reparent(p);
	if (p->status == POD_STOPPING || (code == 0 && sig == 0))
		lev = LC_EXIT_OK;
	else if (lost)
		lev = LC_LOST;
	else
		lev = LC_EXIT_FAIL;
	log_info("pod %s: worker ended (code %d, signal %d)", p->name, code,
		sig);
	(void)lifecycle_apply(p, lev);
	waiter_reply(p, WAIT_STOP, "stopped", reap_stopped_data(p, &released));
	waiter_error(p, WAIT_SPAWN, PERR_SPAWN_FAILED, NULL,
		"the pod was stopped before it was ready");
	waiter_error(p, WAIT_RESTORE, PERR_SPAWN_FAILED, NULL,
		"the pod was stopped before it was ready");
	scope_rules_clear(&released);
	parent = registry_parent(d, p);
	if (parent != NULL) {
		ev = json_object_new_object();
		if (code >= 0)
			json_object_object_add(
				ev, "code", json_object_new_int(code));
		if (sig > 0)
			json_object_object_add(
				ev, "signal", json_object_new_int(sig));
		json_object_object_add(ev, "status",
			json_object_new_string(pod_status_name(p->status)));
		route_event(d, parent, "child_exited", p->name, ev);
		workerchan_send_scope(parent);
	}
	if (p->status == POD_CRASHED && !lost)
		reap_crashed(p);
	daemon_check_exit(d);
}

/* p's worker ended with code (-1 unknown) or signal. */
void
reap_pod_exited(struct pod *p, int code, int sig)
{
	reap_gone(p, code, sig, false);
}

/* p's worker did not come back after a daemon restart. */
void
reap_pod_lost(struct pod *p)
{
	reap_gone(p, -1, 0, true);
}

/* p is starting again: its re-parented children come back to it. */
void
reap_readopt(struct pod *p)
{
	struct daemon *d = p->d;
	struct pod *q, *old;
	size_t i;

	for (i = 0; i < p->children.n; i++) {
		q = daemon_pod_find(d, p->children.v[i]);
		if (q == NULL || !daemon_pod_running(q) ||
			(q->parent != NULL && strcmp(q->parent, p->name) == 0))
			continue;
		old = registry_parent(d, q);
		/* Only take back what moved up our own chain. */
		if (old != NULL && !registry_is_ancestor(d, old, p))
			continue;
		log_info("pod %s: back to its parent %s", q->name, p->name);
		if (old != NULL) {
			namelist_remove(&old->children, q->name);
			(void)podstore_write(d, old);
		}
		free(q->parent);
		q->parent = xstrdup(p->name);
		(void)podstore_write(d, q);
		if (old != NULL)
			workerchan_send_scope(old);
	}
}

static void
reap_restart_cb(evutil_socket_t fd, short what, void *arg)
{
	struct pod *p = arg;
	struct daemon *d = p->d;
	struct registry_conflict rc;
	struct pod *parent;
	int r;

	(void)fd;
	(void)what;
	if (p->status != POD_CRASHED || d->shutting_down)
		return;
	parent = registry_parent(d, p);
	if (parent != NULL && !parent->reserved)
		parent = NULL;
	if (registry_check(d, parent, &p->scope, p, &rc) != 0) {
		log_warn("pod %s: not restarted: its scope is taken (%s)",
			p->name, rc.target != NULL ? rc.target : "?");
		registry_conflict_clear(&rc);
		(void)lifecycle_apply(p, LC_GIVE_UP);
		return;
	}
	p->restart_count++;
	registry_reserve(d, p);
	reap_readopt(p);
	p->restoring = p->segment != NULL;
	p->auto_restart = true;
	p->stop_requested = false;
	spawn_take_spare(p);
	if ((r = lifecycle_apply(p, LC_START)) != 0) {
		spawn_drop_worker(p);
		registry_release(d, p);
		if (r != -EINVAL) {
			log_err("pod %s: not restarted: %s", p->name,
				strerror(-r));
			p->status = POD_CRASHED;
		}
		return;
	}
	if (parent != NULL)
		workerchan_send_scope(parent);
	spawn_worker(p);
}

/* The on-failure policy: backoff 1 s doubling to 60 s, 5 in 60 s fail. */
void
reap_crashed(struct pod *p)
{
	int64_t wall = clock_now_ms();
	int i, recent = 0, delay;
	struct timeval tv;

	if (p->ncrash == REAP_MAX_CRASHES) {
		memmove(&p->crash_ms[0], &p->crash_ms[1],
			(REAP_MAX_CRASHES - 1) * sizeof(p->crash_ms[0]));
		p->ncrash--;
	}
	p->crash_ms[p->ncrash++] = wall;
	for (i = 0; i < p->ncrash; i++)
		if (wall - p->crash_ms[i] < REAP_CRASH_WINDOW_MS)
			recent++;
	journal_write(p->d);
	if (p->policy != RESTART_ON_FAILURE || p->d->shutting_down)
		return;
	if (recent >= REAP_MAX_CRASHES) {
		log_warn("pod %s: %d crashes within 60 s, giving up", p->name,
			recent);
		(void)lifecycle_apply(p, LC_GIVE_UP);
		return;
	}
	delay = REAP_BACKOFF_MIN_MS << (recent > 0 ? recent - 1 : 0);
	if (delay > REAP_BACKOFF_MAX_MS)
		delay = REAP_BACKOFF_MAX_MS;
	if (p->timer != NULL)
		event_free(p->timer);
	p->timer = evtimer_new(p->d->base, reap_restart_cb, p);
	tv.tv_sec = delay / 1000;
	tv.tv_usec = (delay % 1000) * 1000;
	evtimer_add(p->timer, &tv);
	log_info("pod %s: restart in %d ms", p->name, delay);
}
