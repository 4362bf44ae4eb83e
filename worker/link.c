/* SPDX-License-Identifier: ISC */
#include "worker/approval.h"
#include "worker/link.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/queue.h>
#include <unistd.h>

#include <event2/event.h>
#include <json-c/json.h>

#include "common/clock.h"
#include "common/log.h"
#include "common/sock.h"
#include "common/xmalloc.h"
#include "proto/conn.h"
#include "proto/dispatch.h"
#include "proto/frame.h"
#include "proto/msg.h"
#include "worker/session.h"
#include "worker/spend.h"
#include "worker/turn.h"
#include "worker/worker.h"

#define LINK_BACKOFF_MIN_MS 50
#define LINK_BACKOFF_MAX_MS 2000
#define LINK_HELLO_TIMEOUT_MS 5000
#define LINK_HELD_TIMEOUT_MS 30000

enum link_state {
	LINK_ATTACHED, /* conn is the worker channel */
	LINK_DETACHED, /* waiting for the next reconnect attempt */
	LINK_HELLO, /* connected to control.sock, waiting for hello */
	LINK_REATTACH, /* reattach sent, waiting for the reply */
	LINK_CLOSED, /* shutting down: never reconnect */
};

struct link {
	struct worker *w;
	struct conn *conn;
	enum link_state state;
	int backoff_ms;
	struct event *timer;
	struct json_object *queue; /* events waiting for a channel */
	TAILQ_HEAD(, link_pending) held; /* requests waiting for a channel */
};

/* A request: in flight on the conn, or held while detached. */
struct link_pending {
	TAILQ_ENTRY(link_pending) entry;
	struct link *l;
	link_reply_cb cb;
	void *arg;
	char *method; /* held only */
	struct json_object *params; /* held only, owned */
	int64_t deadline_ms; /* held only: monotonic */
	struct event *timer; /* held only: expiry */
};

static void link_on_message(struct conn *c, struct msg *m, void *arg);
static void link_on_close(struct conn *c, void *arg);

static const struct conn_ops link_conn_ops = {
	.on_message = link_on_message,
	.on_close = link_on_close,
};

static void
link_flush_queue(struct link *l)
{
	size_t i, n;

	n = json_object_array_length(l->queue);
	for (i = 0; i < n; i++)
		conn_send(l->conn, json_object_array_get_idx(l->queue, i));
	json_object_put(l->queue);
	l->queue = json_object_new_array();
}

static void link_call_cb(struct conn *c, struct msg *m, void *arg);

static void
link_pending_free(struct link_pending *p)
{
	if (p->timer != NULL)
		event_free(p->timer);
	json_object_put(p->params);
	free(p->method);
	free(p);
}

/* Send the requests held while detached, with what is left of their time. */
static void
link_send_held(struct link *l)
{
	struct link_pending *p;
	struct json_object *params;
	int64_t left;
	char *method;
	int r;

	while ((p = TAILQ_FIRST(&l->held)) != NULL) {
		TAILQ_REMOVE(&l->held, p, entry);
		event_free(p->timer);
		p->timer = NULL;
		left = p->deadline_ms - clock_mono_ms();
		if (left < 1)
			left = 1;
		params = p->params;
		method = p->method;
		p->params = NULL;
		p->method = NULL;
		r = conn_call(
			l->conn, method, params, (int)left, link_call_cb, p);
		free(method);
		if (r < 0) {
			p->cb(NULL, p->arg);
			link_pending_free(p);
		}
	}
}

static void
link_held_expired_cb(evutil_socket_t fd, short what, void *arg)
{
	struct link_pending *p = arg;

	TAILQ_REMOVE(&p->l->held, p, entry);
	p->cb(NULL, p->arg);
	link_pending_free(p);
}

static void
link_schedule(struct link *l, int ms)
{
	struct timeval tv;

	tv.tv_sec = ms / 1000;
	tv.tv_usec = (ms % 1000) * 1000;
	evtimer_add(l->timer, &tv);
}

static void
link_detach(struct link *l)
{
	if (l->conn != NULL) {
		conn_set_arg(l->conn, NULL);
		conn_close_now(l->conn);
		conn_unref(l->conn);
		l->conn = NULL;
	}
	if (l->state == LINK_CLOSED)
		return;
	l->state = LINK_DETACHED;
	link_schedule(l, l->backoff_ms);
	l->backoff_ms *= 2;
	if (l->backoff_ms > LINK_BACKOFF_MAX_MS)
		l->backoff_ms = LINK_BACKOFF_MAX_MS;
}

static void
link_reattach_cb(struct conn *c, struct msg *m, void *arg)
{
	struct link *l = arg;

	if (l == NULL || l->conn != c || l->state != LINK_REATTACH)
		return;
	if (m == NULL || strcmp(m->name, "error") == 0) {
		log_warn("re-attach refused: %s",
			m != NULL && m->params != NULL
				? json_object_get_string(m->params)
				: "no reply");
		/* Not from inside the conn's own callback: from the timer. */
		link_schedule(l, 0);
		return;
	}
	log_notice("re-attached to the supervisor");
	evtimer_del(l->timer);
	l->state = LINK_ATTACHED;
	l->backoff_ms = LINK_BACKOFF_MIN_MS;
	link_flush_queue(l);
	link_send_held(l);
	spend_report(l->w->spend);
}

static void
link_send_reattach(struct link *l)
{
	struct worker *w = l->w;
	struct json_object *p;

	p = json_object_new_object();
	json_object_object_add(p, "name", json_object_new_string(w->name));
	json_object_object_add(p, "pid", json_object_new_int64(getpid()));
	json_object_object_add(p, "segment",
		w->session ? json_object_new_string(session_segment(w->session))
			   : NULL);
	json_object_object_add(p, "status",
		json_object_new_string(
			w->turn ? turn_wire_status(w->turn) : "idle"));
	l->state = LINK_REATTACH;
	if (conn_call(l->conn, "reattach", p, LINK_HELLO_TIMEOUT_MS,
		    link_reattach_cb, l) < 0)
		link_detach(l);
}

static void
link_timer_cb(evutil_socket_t fd, short what, void *arg)
{
	struct link *l = arg;
	int sfd;

	if (l->state == LINK_HELLO || l->state == LINK_REATTACH) {
		log_warn("no answer from %s; retrying", l->w->control_sock);
		link_detach(l);
		return;
	}
	if (l->state != LINK_DETACHED)
		return;
	sfd = sock_connect_unix(l->w->control_sock, true);
	if (sfd < 0) {
		log_debug("connect %s: %s", l->w->control_sock, strerror(-sfd));
		link_detach(l);
		return;
	}
	l->conn = conn_new(
		l->w->base, sfd, FRAME_LIMIT_WORKER, &link_conn_ops, l);
	l->state = LINK_HELLO;
	link_schedule(l, LINK_HELLO_TIMEOUT_MS);
}

static void
link_reply_accepted(struct conn *c, struct msg *m)
{
	conn_send_event(c, "accepted", json_object_new_object(), m->id);
}

static void
link_start(void *ctx, struct conn *c, struct msg *m)
{
	struct link *l = ctx;
	struct worker *w = l->w;
	struct json_object *data, *sess;
	char *err = NULL;
	int r;

	if (w->started) {
		conn_send_error(c, m->id, PERR_INVALID_REQUEST, NULL,
			"already started");
		return;
	}
	r = worker_start(w, m->params, &err);
	if (r < 0) {
		log_err("start failed: %s", err ? err : strerror(-r));
		conn_send_error(c, m->id,
			r == -EINVAL ? PERR_INVALID_REQUEST : PERR_INTERNAL,
			NULL, "%s", err ? err : strerror(-r));
		free(err);
		worker_exit(w, 1);
		return;
	}
	w->started = true;
	data = json_object_new_object();
	json_object_object_add(
		data, "socket", json_object_new_string(w->sock_path));
	sess = json_object_new_object();
	json_object_object_add(
		sess, "id", json_object_new_string(session_id(w->session)));
	json_object_object_add(sess, "segment",
		json_object_new_string(session_segment(w->session)));
	json_object_object_add(data, "session", sess);
	conn_send_event(c, "ready", data, m->id);
	turn_report_state(w->turn);
	spend_report(w->spend);
	approval_started(w->approval);
}

/* approve {id, decision, reason?}: the parent pod's answer. */
static void
link_approve(void *ctx, struct conn *c, struct msg *m)
{
	struct link *l = ctx;
	char *err = NULL;
	int r;

	if (!l->w->started) {
		conn_send_error(
			c, m->id, PERR_INVALID_REQUEST, NULL, "not started");
		return;
	}
	r = approval_decide(l->w->approval, msg_param_str(m, "id"),
		msg_param_str(m, "decision"), msg_param_str(m, "reason"),
		"parent", &err);
	if (r == 0)
		link_reply_accepted(c, m);
	else
		conn_send_error(c, m->id,
			r == -ENOENT             ? PERR_NOT_FOUND
				: r == -EALREADY ? PERR_ALREADY_DECIDED
						 : PERR_INVALID_REQUEST,
			NULL, "%s", err);
	free(err);
}

/* set_approval {approval}: the pod's new policy, already in pod state. */
static void
link_set_approval(void *ctx, struct conn *c, struct msg *m)
{
	struct link *l = ctx;
	char *err = NULL;

	if (!l->w->started) {
		conn_send_error(
			c, m->id, PERR_INVALID_REQUEST, NULL, "not started");
		return;
	}
	if (approval_set_policy(
		    l->w->approval, msg_param(m, "approval"), &err) < 0) {
		conn_send_error(c, m->id, PERR_INVALID_REQUEST, NULL,
			"approval: %s", err != NULL ? err : "invalid");
		free(err);
		return;
	}
	link_reply_accepted(c, m);
}

static void
link_pod_event(void *ctx, struct conn *c, struct msg *m)
{
	struct link *l = ctx;

	if (!l->w->started) {
		conn_send_error(
			c, m->id, PERR_INVALID_REQUEST, NULL, "not started");
		return;
	}
	turn_pod_event(l->w->turn, c, m);
}

static void
link_scope_changed(void *ctx, struct conn *c, struct msg *m)
{
	struct link *l = ctx;
	struct scope_rules rules = { 0 };
	char *err = NULL;

	if (!l->w->started) {
		conn_send_error(
			c, m->id, PERR_INVALID_REQUEST, NULL, "not started");
		return;
	}
	if (scope_rules_from_json(msg_param(m, "effective_write"), l->w->cwd,
		    &rules, &err) < 0) {
		conn_send_error(c, m->id, PERR_INVALID_REQUEST, NULL,
			"effective_write: %s", err ? err : "invalid");
		free(err);
		return;
	}
	worker_set_effective_write(l->w, &rules);
	scope_rules_clear(&rules);
	if (m->id != NULL)
		link_reply_accepted(c, m);
}

static void
link_shutdown(void *ctx, struct conn *c, struct msg *m)
{
	struct link *l = ctx;

	link_reply_accepted(c, m);
	worker_shutdown(l->w);
}

static const struct param_spec link_pod_event_params[] = {
	{ "eid", PARAM_STRING, false },
	{ "kind", PARAM_STRING, false },
	{ NULL, PARAM_ANY, false },
};

static const struct param_spec link_scope_changed_params[] = {
	{ "effective_write", PARAM_ARRAY, false },
	{ NULL, PARAM_ANY, false },
};

static const struct param_spec link_start_params[] = {
	{ "cwd", PARAM_STRING, false },
	{ "scope", PARAM_ARRAY, false },
	{ "paths", PARAM_OBJECT, false },
	{ "model", PARAM_OBJECT, false },
	{ NULL, PARAM_ANY, false },
};

static const struct param_spec link_approve_params[] = {
	{ "id", PARAM_STRING, false },
	{ "decision", PARAM_STRING, false },
	{ "reason", PARAM_STRING, true },
	{ NULL, PARAM_ANY, false },
};

static const struct param_spec link_set_approval_params[] = {
	{ "approval", PARAM_OBJECT, false },
	{ NULL, PARAM_ANY, false },
};

static const struct dispatch_entry link_table[] = {
	{ "approve", link_approve_params, link_approve },
	{ "pod_event", link_pod_event_params, link_pod_event },
	{ "scope_changed", link_scope_changed_params, link_scope_changed },
	{ "set_approval", link_set_approval_params, link_set_approval },
	{ "shutdown", NULL, link_shutdown },
	{ "start", link_start_params, link_start },
};

/* The supervisor's method table (tests check it is sorted). */
const struct dispatch_entry *
link_dispatch_table(size_t *ret_n)
{
	*ret_n = sizeof link_table / sizeof link_table[0];
	return link_table;
}

static void
link_on_message(struct conn *c, struct msg *m, void *arg)
{
	struct link *l = arg;

	if (l == NULL)
		return;
	if (l->state == LINK_HELLO) {
		if (m->kind == MSG_EVENT && strcmp(m->name, "hello") == 0)
			link_send_reattach(l);
		return;
	}
	if (l->state != LINK_ATTACHED)
		return;
	if (m->kind == MSG_EVENT) {
		/* scope_changed is an event on the channel. */
		if (strcmp(m->name, "scope_changed") == 0 && l->w->started)
			link_scope_changed(l, c, m);
		else if (strcmp(m->name, "budget") == 0)
			spend_budget_event(l->w->spend, m);
		else if (strcmp(m->name, "shutdown") == 0)
			worker_shutdown(l->w);
		return;
	}
	dispatch_request(
		link_table, sizeof link_table / sizeof link_table[0], l, c, m);
}

static void
link_on_close(struct conn *c, void *arg)
{
	struct link *l = arg;

	if (l == NULL || l->conn != c)
		return;
	conn_unref(l->conn);
	l->conn = NULL;
	if (l->state == LINK_CLOSED)
		return;
	if (!l->w->started) {
		log_err("supervisor channel closed before start");
		worker_exit(l->w, 1);
		l->state = LINK_CLOSED;
		return;
	}
	if (l->state == LINK_ATTACHED) {
		log_warn("supervisor channel lost; re-attaching via %s",
			l->w->control_sock);
		l->backoff_ms = LINK_BACKOFF_MIN_MS;
	}
	evtimer_del(l->timer);
	link_detach(l);
}

/* Wrap the channel fd (taken) into the link. */
struct link *
link_new(struct worker *w, int fd)
{
	struct link *l;

	l = xcalloc(1, sizeof *l);
	l->w = w;
	l->backoff_ms = LINK_BACKOFF_MIN_MS;
	l->queue = json_object_new_array();
	TAILQ_INIT(&l->held);
	l->timer = evtimer_new(w->base, link_timer_cb, l);
	l->conn = conn_new(w->base, fd, FRAME_LIMIT_WORKER, &link_conn_ops, l);
	l->state = LINK_ATTACHED;
	return l;
}

/* Free the link and its connection. NULL-safe. */
void
link_free(struct link *l)
{
	struct link_pending *p;

	if (l == NULL)
		return;
	l->state = LINK_CLOSED;
	if (l->conn != NULL) {
		conn_set_arg(l->conn, NULL);
		conn_close_now(l->conn);
		conn_unref(l->conn);
	}
	while ((p = TAILQ_FIRST(&l->held)) != NULL) {
		TAILQ_REMOVE(&l->held, p, entry);
		p->cb(NULL, p->arg);
		link_pending_free(p);
	}
	if (l->timer != NULL)
		event_free(l->timer);
	json_object_put(l->queue);
	free(l);
}

/* Is the supervisor reachable right now? */
bool
link_attached(const struct link *l)
{
	return l != NULL && l->state == LINK_ATTACHED && l->conn != NULL;
}

/* Drop the queued event named event (superseded); at most one is queued. */
static void
link_queue_drop(struct link *l, const char *event)
{
	struct json_object *q, *name;
	size_t i;

	for (i = json_object_array_length(l->queue); i-- > 0;) {
		q = json_object_array_get_idx(l->queue, i);
		if (json_object_object_get_ex(q, "event", &name) &&
			strcmp(json_object_get_string(name), event) == 0) {
			json_object_array_del_idx(l->queue, i, 1);
			return;
		}
	}
}

/* Send an event or queue it for after the re-attach. */
void
link_send_event(struct link *l, const char *event, struct json_object *data)
{
	struct json_object *ev;

	ev = msg_new_event(event, data, NULL);
	if (link_attached(l)) {
		conn_send(l->conn, ev);
		json_object_put(ev);
		return;
	}
	if (l->state == LINK_CLOSED) {
		json_object_put(ev);
		return;
	}
	/*
	 * A "state" event supersedes the one queued before it; the turn
	 * events become pod events for the parent and are never dropped
	 * (one per turn: the queue grows with turns, not with time).
	 */
	if (strcmp(event, "state") == 0 || strcmp(event, "usage") == 0)
		link_queue_drop(l, event);
	json_object_array_add(l->queue, ev);
}

static void
link_call_cb(struct conn *c, struct msg *m, void *arg)
{
	struct link_pending *p = arg;

	p->cb(m, p->arg);
	link_pending_free(p);
}

static void
link_call_fail_cb(evutil_socket_t fd, short what, void *arg)
{
	struct link_pending *p = arg;

	p->cb(NULL, p->arg);
	link_pending_free(p);
}

/* Send a request to the supervisor; cb runs exactly once. */
void
link_call(struct link *l, const char *method, struct json_object *params,
	int timeout_ms, link_reply_cb cb, void *arg)
{
	struct link_pending *p;

	struct timeval tv;

	p = xcalloc(1, sizeof *p);
	p->l = l;
	p->cb = cb;
	p->arg = arg;
	if (link_attached(l)) {
		if (conn_call(l->conn, method, params, timeout_ms, link_call_cb,
			    p) == 0)
			return;
	} else if (l->state != LINK_CLOSED) {
		/* Held until the re-attach (or until its time is up). */
		if (timeout_ms <= 0)
			timeout_ms = LINK_HELD_TIMEOUT_MS;
		p->method = xstrdup(method);
		p->params = params;
		p->deadline_ms = clock_mono_ms() + timeout_ms;
		p->timer = evtimer_new(l->w->base, link_held_expired_cb, p);
		tv.tv_sec = timeout_ms / 1000;
		tv.tv_usec = (timeout_ms % 1000) * 1000;
		evtimer_add(p->timer, &tv);
		TAILQ_INSERT_TAIL(&l->held, p, entry);
		return;
	} else
		json_object_put(params);
	event_base_once(l->w->base, -1, EV_TIMEOUT, link_call_fail_cb, p, NULL);
}

/* Flush pending output and stop re-attaching. */
void
link_close(struct link *l)
{
	if (l == NULL)
		return;
	l->state = LINK_CLOSED;
	evtimer_del(l->timer);
	if (l->conn != NULL)
		conn_close(l->conn);
}

/*
 * True when nothing remains to be written to the supervisor.  A closing
 * conn still writes what it holds (link_close() on exit): not flushed
 * until that is out, or the exit would drop the events behind a full
 * socket buffer.
 */
bool
link_flushed(const struct link *l)
{
	return l == NULL || l->conn == NULL || conn_out_pending(l->conn) == 0;
}
