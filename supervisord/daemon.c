/* SPDX-License-Identifier: ISC */
#include <errno.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <event2/event.h>
#include <json-c/json.h>

#include "common/xmalloc.h"
#include "proto/conn.h"
#include "common/log.h"
#include "supervisord/daemon.h"
#include "supervisord/worktree.h"
#include "supervisord/journal.h"
#include "supervisord/notify.h"
#include "supervisord/spare.h"
#include "supervisord/stop.h"
#include "supervisord/workerchan.h"

static const char *const daemon_status_names[POD_STATUS_COUNT] = {
	[POD_NONE] = "none",
	[POD_STARTING] = "starting",
	[POD_LIVE] = "live",
	[POD_STOPPING] = "stopping",
	[POD_STOPPED] = "stopped",
	[POD_CRASHED] = "crashed",
	[POD_FAILED] = "failed",
	[POD_CORRUPT] = "corrupt",
};

/* The wire name of a status. */
const char *
pod_status_name(enum pod_status s)
{
	if ((unsigned)s >= POD_STATUS_COUNT)
		return "none";
	return daemon_status_names[s];
}

/* Parse a status name; POD_NONE if unknown. */
enum pod_status
pod_status_from_name(const char *s)
{
	int i;

	for (i = 1; i < POD_STATUS_COUNT; i++)
		if (s != NULL && strcmp(s, daemon_status_names[i]) == 0)
			return (enum pod_status)i;
	return POD_NONE;
}

/* Fingerprint buf: FNV-1a and a multiply-xorshift over 8-byte words. */
void
digest_of(struct digest *dg, const char *buf, size_t len)
{
	uint64_t h1 = 0xcbf29ce484222325ULL, h2 = 0x9e3779b97f4a7c15ULL, w;
	size_t i;

	for (i = 0; i < len; i++)
		h1 = (h1 ^ (unsigned char)buf[i]) * 0x100000001b3ULL;
	for (i = 0; i < len; i += 8) {
		w = 0;
		memcpy(&w, buf + i, len - i < 8 ? len - i : 8);
		h2 = (h2 ^ w) * 0xff51afd7ed558ccdULL;
		h2 ^= h2 >> 33;
	}
	dg->len = len;
	dg->h1 = h1;
	dg->h2 = h2 ^ len;
}

/* Compare buf with a known digest. */
bool
digest_same(const struct digest *dg, const char *buf, size_t len)
{
	struct digest now;

	if (dg->len == 0 || dg->len != len)
		return false;
	digest_of(&now, buf, len);
	return now.h1 == dg->h1 && now.h2 == dg->h2;
}

static size_t
daemon_hash(const char *name)
{
	size_t h = 5381;

	while (*name != '\0')
		h = h * 33 + (unsigned char)*name++;
	return h;
}

/* Grow the name index to cap buckets and rehash every pod into it. */
static void
daemon_index_resize(struct daemon *d, size_t cap)
{
	struct pod **v = xcalloc(cap, sizeof(*v));
	struct pod *p;
	size_t h;

	TAILQ_FOREACH(p, &d->pods, entry)
	{
		h = daemon_hash(p->name) & (cap - 1);
		p->hnext = v[h];
		v[h] = p;
	}
	free(d->pod_index);
	d->pod_index = v;
	d->pod_index_cap = cap;
}

static void
daemon_index_remove(struct daemon *d, struct pod *p)
{
	struct pod **pp;

	if (d->pod_index == NULL)
		return;
	pp = &d->pod_index[daemon_hash(p->name) & (d->pod_index_cap - 1)];
	for (; *pp != NULL; pp = &(*pp)->hnext) {
		if (*pp == p) {
			*pp = p->hnext;
			break;
		}
	}
	p->hnext = NULL;
}

/* Allocate a pod named name and append it to d's list. */
struct pod *
pod_new(struct daemon *d, const char *name)
{
	struct pod *p = xcalloc(1, sizeof(*p));

	p->d = d;
	p->name = xstrdup(name);
	p->pending = json_object_new_array();
	p->inflight = json_object_new_object();
	p->pidfd = -1;
	p->exec_fd = -1;
	p->last_exit_code = -1;
	TAILQ_INIT(&p->waiters);
	TAILQ_INSERT_TAIL(&d->pods, p, entry);
	d->npods++;
	if (d->npods > d->pod_index_cap)
		/* Rehashes p too. */
		daemon_index_resize(
			d, d->pod_index_cap == 0 ? 64 : d->pod_index_cap * 2);
	else {
		size_t h = daemon_hash(p->name) & (d->pod_index_cap - 1);

		p->hnext = d->pod_index[h];
		d->pod_index[h] = p;
	}
	return p;
}

/* Unlink p from its daemon and free everything it holds. */
void
pod_free(struct pod *p)
{
	struct waiter *w;

	if (p == NULL)
		return;
	if (p->state_dirty) {
		size_t i;

		for (i = 0; i < p->d->ndirty; i++)
			if (p->d->dirty[i] == p)
				p->d->dirty[i] = p->d->dirty[--p->d->ndirty];
	}
	daemon_index_remove(p->d, p);
	TAILQ_REMOVE(&p->d->pods, p, entry);
	if (--p->d->npods == 0) {
		free(p->d->pod_index);
		p->d->pod_index = NULL;
		p->d->pod_index_cap = 0;
	}
	while ((w = TAILQ_FIRST(&p->waiters)) != NULL) {
		TAILQ_REMOVE(&p->waiters, w, entry);
		conn_unref(w->c);
		if (w->id != NULL)
			json_object_put(w->id);
		free(w);
	}
	if (p->timer != NULL)
		event_free(p->timer);
	if (p->pidfd_ev != NULL)
		event_free(p->pidfd_ev);
	if (p->pidfd >= 0)
		close(p->pidfd);
	if (p->exec_ev != NULL)
		event_free(p->exec_ev);
	if (p->exec_fd >= 0)
		close(p->exec_fd);
	workerchan_detach(p);
	journal_pod_free(p);
	budget_clear(&p->budget);
	free(p->name);
	free(p->cwd);
	free(p->model);
	free(p->instruction);
	approval_policy_clear(&p->approval);
	namelist_clear(&p->mcp);
	json_object_put(p->mcp_inline);
	worktree_free(p->wt);
	free(p->parent);
	free(p->segment);
	free(p->activity);
	free(p->corrupt_msg);
	scope_rules_clear(&p->scope);
	scope_rules_clear(&p->granted);
	namelist_clear(&p->children);
	namelist_clear(&p->peers);
	json_object_put(p->pending);
	json_object_put(p->inflight);
	free(p);
}

/* A weak reference to p's current start. */
struct podref *
podref_new(struct pod *p)
{
	struct podref *ref = xcalloc(1, sizeof(*ref));

	ref->d = p->d;
	ref->name = xstrdup(p->name);
	ref->gen = p->gen;
	return ref;
}

/* Resolve a weak reference. */
struct pod *
podref_get(const struct podref *ref)
{
	struct pod *p = daemon_pod_find(ref->d, ref->name);

	return p != NULL && p->gen == ref->gen ? p : NULL;
}

/* Free a weak reference (NULL-safe). */
void
podref_free(struct podref *ref)
{
	if (ref == NULL)
		return;
	free(ref->name);
	free(ref);
}

/* Find a pod by name. */
struct pod *
daemon_pod_find(struct daemon *d, const char *name)
{
	struct pod *p;

	if (name == NULL || d->pod_index == NULL)
		return NULL;
	p = d->pod_index[daemon_hash(name) & (d->pod_index_cap - 1)];
	for (; p != NULL; p = p->hnext) {
		if (strcmp(p->name, name) == 0)
			return p;
	}
	return NULL;
}

/* True while a worker process exists for p. */
bool
daemon_pod_running(const struct pod *p)
{
	return p->status == POD_STARTING || p->status == POD_LIVE ||
		p->status == POD_STOPPING;
}

/* Count the pods whose status is live. */
size_t
daemon_live_count(const struct daemon *d)
{
	const struct pod *p;
	size_t n = 0;

	TAILQ_FOREACH(p, &d->pods, entry)
	{
		if (p->status == POD_LIVE)
			n++;
	}
	return n;
}

/* True if name is in l. */
bool
namelist_has(const struct namelist *l, const char *name)
{
	size_t i;

	for (i = 0; i < l->n; i++)
		if (strcmp(l->v[i], name) == 0)
			return true;
	return false;
}

/* Add a copy of name to l unless present. */
void
namelist_add(struct namelist *l, const char *name)
{
	if (namelist_has(l, name))
		return;
	l->v = xreallocarray(l->v, l->n + 1, sizeof(*l->v));
	l->v[l->n++] = xstrdup(name);
}

/* Remove name from l if present, keeping the order. */
void
namelist_remove(struct namelist *l, const char *name)
{
	size_t i;

	for (i = 0; i < l->n; i++) {
		if (strcmp(l->v[i], name) != 0)
			continue;
		free(l->v[i]);
		memmove(&l->v[i], &l->v[i + 1], (l->n - i - 1) * sizeof(*l->v));
		l->n--;
		return;
	}
}

/* Free every name in l. */
void
namelist_clear(struct namelist *l)
{
	size_t i;

	for (i = 0; i < l->n; i++)
		free(l->v[i]);
	free(l->v);
	l->v = NULL;
	l->n = 0;
}

/* Remember that conn c (referenced here) awaits a kind reply about p. */
void
waiter_add(struct pod *p, struct conn *c, struct json_object *id, int kind)
{
	struct waiter *w = xcalloc(1, sizeof(*w));

	w->c = conn_ref(c);
	w->id = id != NULL ? json_object_get(id) : NULL;
	w->kind = kind;
	TAILQ_INSERT_TAIL(&p->waiters, w, entry);
}

/* Reply to every waiter of kind with event/data (data owned). */
void
waiter_reply(
	struct pod *p, int kind, const char *event, struct json_object *data)
{
	struct waiter *w, *next;

	if (p->d->journal_dirty)
		journal_flush(p->d); /* the reply vouches for it */
	for (w = TAILQ_FIRST(&p->waiters); w != NULL; w = next) {
		next = TAILQ_NEXT(w, entry);
		if (w->kind != kind)
			continue;
		TAILQ_REMOVE(&p->waiters, w, entry);
		conn_send_event(w->c, event,
			data != NULL ? json_object_get(data) : NULL, w->id);
		conn_unref(w->c);
		if (w->id != NULL)
			json_object_put(w->id);
		free(w);
	}
	if (data != NULL)
		json_object_put(data);
}

/* Answer every waiter of kind with an error (extra owned). */
void
waiter_error(struct pod *p, int kind, int code, struct json_object *extra,
	const char *msg)
{
	struct waiter *w, *next;

	if (p->d->journal_dirty)
		journal_flush(p->d);
	for (w = TAILQ_FIRST(&p->waiters); w != NULL; w = next) {
		next = TAILQ_NEXT(w, entry);
		if (w->kind != kind)
			continue;
		TAILQ_REMOVE(&p->waiters, w, entry);
		conn_send_error(w->c, w->id, (enum proto_err)code,
			extra != NULL ? json_object_get(extra) : NULL, "%s",
			msg);
		conn_unref(w->c);
		if (w->id != NULL)
			json_object_put(w->id);
		free(w);
	}
	if (extra != NULL)
		json_object_put(extra);
}

static void
daemon_exit_cb(evutil_socket_t fd, short what, void *arg)
{
	struct daemon *d = arg;

	(void)fd;
	(void)what;
	event_base_loopbreak(d->base);
}

/* Leave the loop once nothing is running (a short delay flushes). */
void
daemon_check_exit(struct daemon *d)
{
	struct timeval tv = { 0, 100 * 1000 };
	struct pod *p;

	if (!d->shutting_down || d->exit_ev != NULL)
		return;
	if (!d->leave_pods) {
		TAILQ_FOREACH(p, &d->pods, entry)
		{
			if (daemon_pod_running(p))
				return;
		}
	}
	d->exit_ev = evtimer_new(d->base, daemon_exit_cb, d);
	evtimer_add(d->exit_ev, &tv);
}

/* Begin shutting down. */
void
daemon_shutdown(struct daemon *d, bool leave_pods)
{
	struct pod *p, *next;

	if (d->shutting_down) {
		daemon_check_exit(d);
		return;
	}
	d->shutting_down = true;
	d->leave_pods = leave_pods;
	spare_stop(d);
	log_notice(
		"shutting down (%s pods)", leave_pods ? "leaving" : "stopping");
	(void)notify_send(d, "STOPPING=1");
	for (p = TAILQ_FIRST(&d->pods); p != NULL; p = next) {
		next = TAILQ_NEXT(p, entry);
		if (leave_pods)
			continue;
		if (p->status == POD_CRASHED)
			stop_cancel(p); /* no restart */
		if (daemon_pod_running(p))
			(void)stop_pod(p, false);
	}
	daemon_check_exit(d);
}
