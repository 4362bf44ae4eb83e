/* SPDX-License-Identifier: ISC */
#include <sys/queue.h>

#include <errno.h>
#include <inttypes.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <event2/buffer.h>
#include <event2/bufferevent.h>
#include <event2/event.h>
#include <json-c/json.h>

#include "common/log.h"
#include "common/sock.h"
#include "common/xmalloc.h"
#include "proto/conn.h"
#include "proto/frame.h"

/* How long conn_close() waits for pending output to drain. */
#define CONN_CLOSE_TIMEOUT_MS 5000
/* Timed-out call ids remembered so that their late replies are dropped. */
#define CONN_MAX_EXPIRED 256

enum conn_state {
	CONN_OPEN,
	CONN_CLOSING, /* flushing output, then closed */
	CONN_CLOSED,
};

struct conn_pending {
	TAILQ_ENTRY(conn_pending) entry;
	struct conn *c;
	int64_t id;
	conn_reply_cb cb; /* NULL once expired */
	void *arg;
	struct event *timer;
};
TAILQ_HEAD(conn_pending_list, conn_pending);

struct conn {
	int refs;
	enum conn_state state;
	struct event_base *base;
	struct bufferevent *bev; /* NULL once closed */
	int fd;
	const struct conn_ops *ops;
	void *arg;

	size_t line_limit;
	size_t scanned; /* input bytes known to hold no '\n' */
	size_t out_limit;
	bool paused;
	bool eof;

	pid_t peer_pid;
	uid_t peer_uid;
	uint64_t seq;

	int64_t last_call_id;
	struct conn_pending_list pending;
	size_t nexpired;

	struct event *close_ev; /* runs on_close from the loop */
	struct event *close_timer; /* bounds conn_close() */
	struct event *process_ev; /* resumes input after a pause */
	bool close_delivered;
};

static void conn_process_input(struct conn *c);
static void conn_finish_close(struct conn *c);

static void
conn_pending_free(struct conn *c, struct conn_pending *p)
{
	TAILQ_REMOVE(&c->pending, p, entry);
	if (p->cb == NULL)
		c->nexpired--;
	if (p->timer != NULL)
		event_free(p->timer);
	free(p);
}

/* Fail every outstanding call with NULL (each callback exactly once). */
static void
conn_fail_pending(struct conn *c)
{
	struct conn_pending *p;
	conn_reply_cb cb;
	void *arg;

	while ((p = TAILQ_FIRST(&c->pending)) != NULL) {
		cb = p->cb;
		arg = p->arg;
		conn_pending_free(c, p);
		if (cb != NULL)
			cb(c, NULL, arg);
	}
}

static void
conn_close_ev_cb(evutil_socket_t fd, short what, void *arg)
{
	struct conn *c = arg;

	conn_ref(c);
	conn_fail_pending(c);
	if (!c->close_delivered) {
		c->close_delivered = true;
		if (c->ops != NULL && c->ops->on_close != NULL)
			c->ops->on_close(c, c->arg);
	}
	conn_unref(c);
}

static void
conn_close_timer_cb(evutil_socket_t fd, short what, void *arg)
{
	struct conn *c = arg;

	log_debug("conn fd %d: output not flushed in time, dropped", c->fd);
	conn_finish_close(c);
}

static void
conn_process_ev_cb(evutil_socket_t fd, short what, void *arg)
{
	conn_process_input(arg);
}

/* Release the socket now and schedule on_close for the loop. */
static void
conn_finish_close(struct conn *c)
{
	struct conn_pending *p;

	if (c->state == CONN_CLOSED)
		return;
	c->state = CONN_CLOSED;
	if (c->close_timer != NULL)
		evtimer_del(c->close_timer);
	if (c->process_ev != NULL)
		event_del(c->process_ev);
	if (c->bev != NULL) {
		bufferevent_free(c->bev);
		c->bev = NULL;
	}
	c->fd = -1;
	TAILQ_FOREACH(p, &c->pending, entry)
	{
		if (p->timer != NULL)
			evtimer_del(p->timer);
	}
	if (c->close_ev != NULL)
		event_active(c->close_ev, EV_TIMEOUT, 1);
}

/* Drop the connection if its unsent output is over the out limit. */
static int
conn_check_out_limit(struct conn *c)
{
	struct evbuffer *out;
	int n;

	if (c->out_limit == 0 || c->bev == NULL)
		return 0;
	out = bufferevent_get_output(c->bev);
	if (evbuffer_get_length(out) <= c->out_limit)
		return 0;
	/* Give the kernel what it takes before judging the peer stalled. */
	while (evbuffer_get_length(out) > c->out_limit) {
		n = evbuffer_write(out, c->fd);
		if (n <= 0)
			break;
	}
	if (evbuffer_get_length(out) <= c->out_limit)
		return 0;
	log_debug("conn fd %d: %zu bytes unsent (limit %zu), dropped", c->fd,
		evbuffer_get_length(out), c->out_limit);
	conn_finish_close(c);
	return -EPIPE;
}

static void
conn_route(struct conn *c, struct msg *m)
{
	struct conn_pending *p;
	conn_reply_cb cb;
	void *arg;
	int64_t id;

	if (m->kind == MSG_EVENT && m->id != NULL &&
		json_object_is_type(m->id, json_type_int)) {
		id = json_object_get_int64(m->id);
		TAILQ_FOREACH(p, &c->pending, entry)
		{
			if (p->id == id)
				break;
		}
		if (p != NULL) {
			cb = p->cb;
			arg = p->arg;
			conn_pending_free(c, p);
			if (cb != NULL)
				cb(c, m, arg);
			else
				log_debug(
					"conn fd %d: late reply to call %" PRId64
					" dropped",
					c->fd, id);
			return;
		}
	}
	if (c->ops != NULL && c->ops->on_message != NULL)
		c->ops->on_message(c, m, c->arg);
}

static void
conn_handle_line(struct conn *c, const char *line, size_t len)
{
	struct json_object *id;
	struct msg m;
	char *err = NULL;

	if (msg_parse(line, len, &m, &err) != 0) {
		id = msg_salvage_id(line, len);
		conn_send_error(c, id, PERR_INVALID_REQUEST, NULL, "%s", err);
		json_object_put(id);
		free(err);
		return;
	}
	conn_route(c, &m);
	msg_clear(&m);
}

/* The bytes left at EOF without a '\n' count as a last line. */
static void
conn_handle_eof(struct conn *c)
{
	struct evbuffer *in = bufferevent_get_input(c->bev);
	size_t len = evbuffer_get_length(in);
	char *line;

	if (len > 0 && len <= c->line_limit) {
		line = xmalloc(len + 1);
		evbuffer_remove(in, line, len);
		line[len] = '\0';
		while (len > 0 &&
			(line[len - 1] == '\r' || line[len - 1] == ' ' ||
				line[len - 1] == '\t'))
			line[--len] = '\0';
		if (len > 0)
			conn_handle_line(c, line, len);
		free(line);
	}
	conn_close(c);
}

static void
conn_process_input(struct conn *c)
{
	struct evbuffer *in;
	char *line;
	size_t len;
	int r;

	conn_ref(c);
	while (c->state == CONN_OPEN && !c->paused) {
		in = bufferevent_get_input(c->bev);
		r = frame_read_line_from(
			in, c->line_limit, &c->scanned, &line, &len);
		if (r == 0) {
			if (c->eof)
				conn_handle_eof(c);
			break;
		}
		if (r == -EMSGSIZE) {
			evbuffer_drain(in, evbuffer_get_length(in));
			c->scanned = 0;
			conn_send_error(c, NULL, PERR_LINE_TOO_LONG, NULL,
				"line longer than %zu bytes", c->line_limit);
			conn_close(c);
			break;
		}
		if (r < 0) {
			conn_close_now(c);
			break;
		}
		conn_handle_line(c, line, len);
		free(line);
	}
	conn_unref(c);
}

static void
conn_read_cb(struct bufferevent *bev, void *arg)
{
	conn_process_input(arg);
}

static void
conn_write_cb(struct bufferevent *bev, void *arg)
{
	struct conn *c = arg;

	if (c->state == CONN_CLOSING &&
		evbuffer_get_length(bufferevent_get_output(bev)) == 0)
		conn_finish_close(c);
}

static void
conn_event_cb(struct bufferevent *bev, short what, void *arg)
{
	struct conn *c = arg;

	if (what & BEV_EVENT_ERROR) {
		log_debug("conn fd %d: %s", c->fd, strerror(errno));
		conn_close_now(c);
		return;
	}
	if (what & BEV_EVENT_EOF) {
		if (what & BEV_EVENT_WRITING) {
			conn_close_now(c);
			return;
		}
		c->eof = true;
		conn_process_input(c);
	}
}

/* New connection on fd (taken), reading lines of at most line_limit. */
struct conn *
conn_new(struct event_base *base, int fd, size_t line_limit,
	const struct conn_ops *ops, void *arg)
{
	struct conn *c;
	gid_t gid;

	c = xcalloc(1, sizeof(*c));
	c->refs = 1;
	c->state = CONN_OPEN;
	c->base = base;
	c->fd = fd;
	c->ops = ops;
	c->arg = arg;
	c->line_limit = line_limit;
	c->seq = 1;
	TAILQ_INIT(&c->pending);
	if (sock_peercred(fd, &c->peer_pid, &c->peer_uid, &gid) != 0) {
		c->peer_pid = 0;
		c->peer_uid = 0;
	}
	fd_set_nonblock(fd, true);
	fd_set_cloexec(fd, true);

	c->close_ev = event_new(base, -1, 0, conn_close_ev_cb, c);
	c->close_timer = evtimer_new(base, conn_close_timer_cb, c);
	c->process_ev = event_new(base, -1, 0, conn_process_ev_cb, c);
	c->bev = bufferevent_socket_new(base, fd, BEV_OPT_CLOSE_ON_FREE);
	if (c->close_ev == NULL || c->close_timer == NULL ||
		c->process_ev == NULL || c->bev == NULL) {
		log_err("conn: cannot set up events for fd %d", fd);
		if (c->bev == NULL)
			close(fd);
		c->fd = -1;
		conn_finish_close(c);
		return c;
	}
	bufferevent_setcb(
		c->bev, conn_read_cb, conn_write_cb, conn_event_cb, c);
	bufferevent_enable(c->bev, EV_READ | EV_WRITE);
	return c;
}

/* Take a reference. */
struct conn *
conn_ref(struct conn *c)
{
	c->refs++;
	return c;
}

/*
 * Drop a reference; the last one frees the conn.  If it is dropped
 * before on_close ran, the conn is closed without calling on_close (its
 * owner is gone) but outstanding call callbacks still get NULL.
 */
void
conn_unref(struct conn *c)
{
	if (c == NULL || --c->refs > 0)
		return;

	c->refs = 1; /* for the callbacks below */
	c->close_delivered = true;
	if (c->state != CONN_CLOSED)
		conn_finish_close(c);
	conn_fail_pending(c);
	if (c->close_ev != NULL)
		event_free(c->close_ev);
	if (c->close_timer != NULL)
		event_free(c->close_timer);
	if (c->process_ev != NULL)
		event_free(c->process_ev);
	free(c);
}

/* Replace the callback argument. */
void
conn_set_arg(struct conn *c, void *arg)
{
	c->arg = arg;
}

/* The callback argument. */
void *
conn_get_arg(const struct conn *c)
{
	return c->arg;
}

/* Set the unsent-output limit (0 = none); may drop the conn at once. */
void
conn_set_out_limit(struct conn *c, size_t limit)
{
	c->out_limit = limit;
	conn_check_out_limit(c);
}

/*
 * Change the inbound line limit, e.g. when a control connection becomes a
 * worker channel after reattach.  Lines already buffered are judged by the
 * new limit.
 */
void
conn_set_line_limit(struct conn *c, size_t limit)
{
	c->line_limit = limit;
}

/* Bytes written but not yet taken by the kernel. */
size_t
conn_out_pending(const struct conn *c)
{
	if (c->bev == NULL)
		return 0;
	return evbuffer_get_length(bufferevent_get_output(c->bev));
}

/* True until the conn is closing or closed. */
bool
conn_is_open(const struct conn *c)
{
	return c->state == CONN_OPEN;
}

/* The socket, or -1 once closed. */
int
conn_fd(const struct conn *c)
{
	return c->fd;
}

/* The peer's pid from SO_PEERCRED (0 if unknown). */
pid_t
conn_peer_pid(const struct conn *c)
{
	return c->peer_pid;
}

/* The peer's uid from SO_PEERCRED (0 if unknown). */
uid_t
conn_peer_uid(const struct conn *c)
{
	return c->peer_uid;
}

/* The seq of the next outgoing message. */
uint64_t
conn_next_seq(const struct conn *c)
{
	return c->seq;
}

/* Write the serialised object text with "seq" spliced in. */
int
conn_send_text(struct conn *c, const char *text, size_t len)
{
	struct evbuffer *out;
	char tail[48];
	size_t end, k;
	int n;

	if (c->state != CONN_OPEN)
		return -EPIPE;
	end = len;
	while (end > 0 &&
		(text[end - 1] == ' ' || text[end - 1] == '\n' ||
			text[end - 1] == '\r' || text[end - 1] == '\t'))
		end--;
	if (end < 2 || text[0] != '{' || text[end - 1] != '}')
		return -EINVAL;
	k = end - 1;
	while (k > 0 &&
		(text[k - 1] == ' ' || text[k - 1] == '\n' ||
			text[k - 1] == '\r' || text[k - 1] == '\t'))
		k--;
	n = snprintf(tail, sizeof(tail), "%s\"seq\":%" PRIu64 "}\n",
		text[k - 1] == '{' ? "" : ",", c->seq);
	out = bufferevent_get_output(c->bev);
	if (evbuffer_expand(out, k + (size_t)n) != 0 ||
		evbuffer_add(out, text, k) != 0 ||
		evbuffer_add(out, tail, (size_t)n) != 0) {
		conn_close_now(c);
		return -ENOMEM;
	}
	c->seq++;
	return conn_check_out_limit(c);
}

/* Serialise obj (borrowed) and send it with the next seq. */
int
conn_send(struct conn *c, struct json_object *obj)
{
	const char *s;
	size_t len;

	if (c->state != CONN_OPEN)
		return -EPIPE;
	s = json_object_to_json_string_length(obj,
		JSON_C_TO_STRING_PLAIN | JSON_C_TO_STRING_NOSLASHESCAPE, &len);
	if (s == NULL)
		return -ENOMEM;
	return conn_send_text(c, s, len);
}

/* Send event (data taken, id borrowed). */
int
conn_send_event(struct conn *c, const char *event, struct json_object *data,
	struct json_object *id)
{
	struct json_object *obj;
	int r;

	if (c->state != CONN_OPEN) {
		json_object_put(data);
		return -EPIPE;
	}
	obj = msg_new_event(event, data, id);
	r = conn_send(c, obj);
	json_object_put(obj);
	return r;
}

/* Send an error event with a formatted message (extra taken). */
int
conn_send_error(struct conn *c, struct json_object *id, enum proto_err code,
	struct json_object *extra, const char *fmt, ...)
{
	struct json_object *obj;
	va_list ap;
	char *text;
	int r;

	if (c->state != CONN_OPEN) {
		json_object_put(extra);
		return -EPIPE;
	}
	va_start(ap, fmt);
	if (vasprintf(&text, fmt, ap) < 0)
		text = NULL;
	va_end(ap);
	obj = msg_new_error(id, code, extra, text != NULL ? text : "error");
	free(text);
	r = conn_send(c, obj);
	json_object_put(obj);
	return r;
}

static void
conn_call_timeout_cb(evutil_socket_t fd, short what, void *arg)
{
	struct conn_pending *p = arg, *old;
	struct conn *c = p->c;
	conn_reply_cb cb = p->cb;

	/* Keep the id so that a late reply is not taken for an event. */
	event_free(p->timer);
	p->timer = NULL;
	p->cb = NULL;
	c->nexpired++;
	if (c->nexpired > CONN_MAX_EXPIRED) {
		TAILQ_FOREACH(old, &c->pending, entry)
		{
			if (old->cb == NULL)
				break;
		}
		if (old != NULL)
			conn_pending_free(c, old);
	}
	conn_ref(c);
	cb(c, NULL, p->arg);
	conn_unref(c);
}

/* Send a request with a fresh integer id; cb gets the reply or NULL. */
int
conn_call(struct conn *c, const char *method, struct json_object *params,
	int timeout_ms, conn_reply_cb cb, void *arg)
{
	struct conn_pending *p;
	struct json_object *id, *obj;
	struct timeval tv;
	int r;

	if (c->state != CONN_OPEN) {
		json_object_put(params);
		return -EPIPE;
	}
	id = json_object_new_int64(++c->last_call_id);
	obj = msg_new_request(method, params, id);
	r = conn_send(c, obj);
	json_object_put(obj);
	if (r < 0) {
		json_object_put(id);
		return r;
	}
	p = xcalloc(1, sizeof(*p));
	p->c = c;
	p->id = json_object_get_int64(id);
	p->cb = cb;
	p->arg = arg;
	json_object_put(id);
	if (timeout_ms > 0) {
		p->timer = evtimer_new(c->base, conn_call_timeout_cb, p);
		if (p->timer != NULL) {
			tv.tv_sec = timeout_ms / 1000;
			tv.tv_usec = (timeout_ms % 1000) * 1000;
			evtimer_add(p->timer, &tv);
		}
	}
	TAILQ_INSERT_TAIL(&c->pending, p, entry);
	return 0;
}

/* Stop or resume reading input; buffered lines resume from the loop. */
void
conn_pause_reading(struct conn *c, bool paused)
{
	if (c->paused == paused)
		return;
	c->paused = paused;
	if (c->state != CONN_OPEN)
		return;
	if (paused) {
		bufferevent_disable(c->bev, EV_READ);
	} else {
		if (!c->eof)
			bufferevent_enable(c->bev, EV_READ);
		event_active(c->process_ev, EV_TIMEOUT, 1);
	}
}

/* Stop reading and close once pending output is written (or after 5 s). */
void
conn_close(struct conn *c)
{
	struct timeval tv = { CONN_CLOSE_TIMEOUT_MS / 1000,
		(CONN_CLOSE_TIMEOUT_MS % 1000) * 1000 };

	if (c->state != CONN_OPEN)
		return;
	c->state = CONN_CLOSING;
	bufferevent_disable(c->bev, EV_READ);
	if (evbuffer_get_length(bufferevent_get_output(c->bev)) == 0) {
		conn_finish_close(c);
		return;
	}
	evtimer_add(c->close_timer, &tv);
}

/* Close at once, dropping pending output. */
void
conn_close_now(struct conn *c)
{
	conn_finish_close(c);
}
