/* SPDX-License-Identifier: ISC */
#include <sys/socket.h>

#include <errno.h>
#include <fcntl.h>
#include <setjmp.h>
#include <signal.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>
#include <event2/buffer.h>
#include <event2/event.h>
#include <json-c/json.h>

#include "proto/conn.h"
#include "proto/frame.h"
#include "proto/msg.h"

#define CT_LIMIT 64
#define CT_MAX_LINES 64

/* One conn under test on a socketpair; the test plays the peer. */
struct ct {
	struct event_base *base;
	struct conn *c;
	int peer;
	bool peer_eof;
	bool peer_stalled; /* the peer never reads */
	struct evbuffer *rx;
	int closes;
	int close_pending_calls; /* calls still unanswered at on_close */
	int msgs;
	char last_name[64];
	struct json_object *last_id;
	bool echo; /* reply "echo" to each request */
	bool pause_on_msg; /* pause reading after each message */
	bool unref_on_close; /* the owner's on_close drops its ref */
	int replies; /* conn_call callbacks with a message */
	int nulls; /* conn_call callbacks with NULL */
	char reply_name[64];
	int order; /* sequence of callbacks */
	int reply_order, close_order;
};

static void
ct_on_message(struct conn *c, struct msg *m, void *arg)
{
	struct ct *t = arg;

	t->msgs++;
	snprintf(t->last_name, sizeof(t->last_name), "%s", m->name);
	json_object_put(t->last_id);
	t->last_id = json_object_get(m->id);
	if (t->echo && m->kind == MSG_REQUEST)
		conn_send_event(c, "echo", NULL, m->id);
	if (t->pause_on_msg)
		conn_pause_reading(c, true);
}

static void
ct_on_close(struct conn *c, void *arg)
{
	struct ct *t = arg;

	t->closes++;
	t->close_order = ++t->order;
	assert_false(conn_is_open(c));
	assert_int_equal(conn_fd(c), -1);
	if (t->unref_on_close) {
		t->c = NULL;
		conn_unref(c);
	}
}

static const struct conn_ops ct_ops = { ct_on_message, ct_on_close };

static void
ct_reply_cb(struct conn *c, struct msg *m, void *arg)
{
	struct ct *t = arg;

	if (m == NULL) {
		t->nulls++;
	} else {
		t->replies++;
		snprintf(t->reply_name, sizeof(t->reply_name), "%s", m->name);
	}
	t->reply_order = ++t->order;
}

static struct ct *
ct_new(size_t limit)
{
	struct ct *t = calloc(1, sizeof(*t));
	int sv[2];

	signal(SIGPIPE, SIG_IGN);
	assert_int_equal(socketpair(AF_UNIX, SOCK_STREAM, 0, sv), 0);
	t->base = event_base_new();
	t->c = conn_new(t->base, sv[0], limit, &ct_ops, t);
	t->peer = sv[1];
	fcntl(t->peer, F_SETFL, O_NONBLOCK);
	t->rx = evbuffer_new();
	return t;
}

static void
ct_free(struct ct *t)
{
	if (t->c != NULL)
		conn_unref(t->c);
	if (t->peer >= 0)
		close(t->peer);
	json_object_put(t->last_id);
	evbuffer_free(t->rx);
	event_base_free(t->base);
	free(t);
}

static void
ct_peer_read(struct ct *t)
{
	int n;

	while (t->peer >= 0 && !t->peer_eof && !t->peer_stalled) {
		n = evbuffer_read(t->rx, t->peer, 1 << 20);
		if (n == 0)
			t->peer_eof = true;
		if (n <= 0)
			break;
	}
}

/* Run the loop in 5 ms slices until cond holds (bounded by 10 s). */
#define ct_pump_until(t, cond) \
	do { \
		struct timeval tv_ = { 0, 5000 }; \
		bool ok_ = false; \
		int i_; \
		for (i_ = 0; i_ < 2000 && !ok_; i_++) { \
			ct_peer_read(t); \
			if ((ok_ = (cond))) \
				break; \
			event_base_loopexit((t)->base, &tv_); \
			event_base_dispatch((t)->base); \
		} \
		if (!ok_) \
			fail_msg("timed out waiting for %s", #cond); \
	} while (0)

/* Run the loop n slices of 5 ms (for things that must NOT happen). */
static void
ct_pump_slices(struct ct *t, int n)
{
	struct timeval tv = { 0, 5000 };
	int i;

	for (i = 0; i < n; i++) {
		ct_peer_read(t);
		event_base_loopexit(t->base, &tv);
		event_base_dispatch(t->base);
	}
	ct_peer_read(t);
}

static void
ct_pump_briefly(struct ct *t)
{
	ct_pump_slices(t, 10);
}

static void
ct_write(struct ct *t, const char *s)
{
	assert_int_equal(write(t->peer, s, strlen(s)), (ssize_t)strlen(s));
}

/* The next line the peer received, parsed (or NULL if none yet). */
static struct json_object *
ct_peer_line(struct ct *t)
{
	struct json_object *o;
	char *line;

	if (frame_read_line(t->rx, 1 << 24, &line, NULL) != 1)
		return NULL;
	o = json_tokener_parse(line);
	free(line);
	assert_non_null(o);
	return o;
}

/* Wait for the next line the peer receives. */
static struct json_object *
ct_expect_line(struct ct *t)
{
	struct json_object *o = NULL;

	ct_pump_until(t, (o = ct_peer_line(t)) != NULL || t->peer_eof);
	if (o == NULL)
		fail_msg("peer got EOF instead of a line");
	return o;
}

static const char *
ct_get(struct json_object *o, const char *path)
{
	struct json_object *v = o;
	char buf[64], *p, *save = NULL;

	snprintf(buf, sizeof(buf), "%s", path);
	for (p = strtok_r(buf, ".", &save); p != NULL;
		p = strtok_r(NULL, ".", &save)) {
		if (!json_object_object_get_ex(v, p, &v))
			return NULL;
	}
	return json_object_get_string(v);
}

static void
test_conn_seq(void **state)
{
	struct ct *t = ct_new(CT_LIMIT);
	struct json_object *o, *id = json_object_new_int(5);
	const char *text;
	int i;

	assert_int_equal(conn_next_seq(t->c), 1);
	for (i = 0; i < 3; i++)
		assert_int_equal(conn_send_event(t->c, "tick", NULL, NULL), 0);
	assert_int_equal(conn_send_event(t->c, "reply", NULL, id), 0);
	/* One serialised text for all clients: seq spliced per conn. */
	text = "{\"event\":\"b\",\"data\":{\"x\":{}}}  \n";
	assert_int_equal(conn_send_text(t->c, text, strlen(text)), 0);
	assert_int_equal(conn_send_text(t->c, "{}", 2), 0);
	assert_int_equal(conn_send_text(t->c, "[1]", 3), -EINVAL);
	assert_int_equal(conn_send_text(t->c, "{\"a\":1", 6), -EINVAL);
	assert_int_equal(conn_next_seq(t->c), 7);
	for (i = 1; i <= 6; i++) {
		o = ct_expect_line(t);
		assert_int_equal(
			json_object_get_int(json_object_object_get(o, "seq")),
			i);
		if (i <= 3) {
			assert_string_equal(ct_get(o, "event"), "tick");
			assert_null(ct_get(o, "id"));
			assert_null(ct_get(o, "data"));
		} else if (i == 4) {
			assert_string_equal(ct_get(o, "id"), "5");
		} else if (i == 5) {
			assert_string_equal(ct_get(o, "event"), "b");
			assert_non_null(ct_get(o, "data.x"));
		} else {
			assert_int_equal(json_object_object_length(o), 1);
		}
		json_object_put(o);
	}
	json_object_put(id);
	ct_free(t);
}

static void
test_conn_reply_ids(void **state)
{
	struct ct *t = ct_new(CT_LIMIT);
	struct json_object *o;

	t->echo = true;
	ct_write(t,
		"{\"method\":\"a\",\"id\":41}\n{\"method\":\"b\",\"id\":"
		"\"s\"}\n{\"method\":\"c\"}\n");
	o = ct_expect_line(t);
	assert_string_equal(ct_get(o, "id"), "41");
	json_object_put(o);
	o = ct_expect_line(t);
	assert_string_equal(ct_get(o, "id"), "s");
	json_object_put(o);
	o = ct_expect_line(t);
	assert_null(ct_get(o, "id"));
	assert_string_equal(ct_get(o, "seq"), "3");
	json_object_put(o);
	assert_int_equal(t->msgs, 3);
	ct_free(t);
}

static void
test_conn_split_reads(void **state)
{
	struct ct *t = ct_new(CT_LIMIT);
	const char *s = "\n{\"method\":\"one\"}\r\n\n{\"event\":\"two\"}\n";
	size_t i;

	for (i = 0; s[i] != '\0'; i++) {
		assert_int_equal(write(t->peer, &s[i], 1), 1);
		ct_pump_slices(t, 1);
		if (i < 17)
			assert_int_equal(t->msgs, 0);
	}
	ct_pump_until(t, t->msgs == 2);
	assert_string_equal(t->last_name, "two");
	ct_free(t);
}

static void
test_conn_invalid_stays_open(void **state)
{
	struct ct *t = ct_new(CT_LIMIT);
	struct json_object *o;

	t->echo = true;
	ct_write(t, "garbage\n");
	o = ct_expect_line(t);
	assert_string_equal(ct_get(o, "event"), "error");
	assert_string_equal(ct_get(o, "data.code"), "invalid_request");
	assert_non_null(strstr(ct_get(o, "data.message"), "invalid JSON"));
	assert_null(ct_get(o, "id"));
	json_object_put(o);
	/* A shape error still answers with the request's id. */
	ct_write(t, "{\"method\":5,\"id\":9}\n[1]\n");
	o = ct_expect_line(t);
	assert_string_equal(ct_get(o, "data.code"), "invalid_request");
	assert_string_equal(ct_get(o, "id"), "9");
	assert_non_null(strstr(
		ct_get(o, "data.message"), "\"method\" must be a string"));
	json_object_put(o);
	o = ct_expect_line(t);
	assert_non_null(strstr(ct_get(o, "data.message"), "JSON object"));
	json_object_put(o);

	ct_write(t, "{\"method\":\"ok\",\"id\":1}\n");
	o = ct_expect_line(t);
	assert_string_equal(ct_get(o, "event"), "echo");
	assert_string_equal(ct_get(o, "seq"), "4");
	json_object_put(o);
	assert_true(conn_is_open(t->c));
	assert_int_equal(t->closes, 0);
	ct_free(t);
}

/* A request padded to exactly n bytes. */
static char *
ct_request_of_len(size_t n)
{
	const char *head = "{\"method\":\"x\",\"params\":{\"p\":\"";
	char *s = malloc(n + 2);
	size_t k = strlen(head);

	memcpy(s, head, k);
	memset(s + k, 'a', n - k - 3);
	memcpy(s + n - 3, "\"}}", 3);
	s[n] = '\n';
	s[n + 1] = '\0';
	return s;
}

static void
test_conn_exact_limit(void **state)
{
	struct ct *t = ct_new(CT_LIMIT);
	char *s = ct_request_of_len(CT_LIMIT);

	/* The line arrives in two pieces, the first exactly the limit. */
	assert_int_equal(write(t->peer, s, CT_LIMIT), CT_LIMIT);
	ct_pump_briefly(t);
	assert_true(conn_is_open(t->c));
	ct_write(t, "\n");
	ct_pump_until(t, t->msgs == 1);
	assert_true(conn_is_open(t->c));
	free(s);
	ct_free(t);
}

static void
ct_too_long(bool newline)
{
	struct ct *t = ct_new(CT_LIMIT);
	char *s = ct_request_of_len(CT_LIMIT + 1);
	struct json_object *o;

	if (!newline)
		s[CT_LIMIT + 1] = '\0';
	ct_write(t, s);
	o = ct_expect_line(t);
	assert_string_equal(ct_get(o, "event"), "error");
	assert_string_equal(ct_get(o, "data.code"), "line_too_long");
	assert_string_equal(ct_get(o, "seq"), "1");
	json_object_put(o);
	ct_pump_until(t, t->peer_eof && t->closes == 1);
	assert_int_equal(t->msgs, 0);
	assert_int_equal(evbuffer_get_length(t->rx), 0);
	ct_pump_briefly(t);
	assert_int_equal(t->closes, 1);
	free(s);
	ct_free(t);
}

static void
test_conn_too_long_complete(void **state)
{
	ct_too_long(true);
}

static void
test_conn_too_long_partial(void **state)
{
	ct_too_long(false);
}

static void
test_conn_out_limit(void **state)
{
	struct ct *t = ct_new(CT_LIMIT);
	char text[1024];
	int i, r = 0;

	memset(text, ' ', sizeof(text));
	memcpy(text, "{\"event\":\"x\"", 12);
	text[sizeof(text) - 1] = '}';
	conn_set_out_limit(t->c, 64 * 1024);
	t->peer_stalled = true;
	/* The peer never reads: the kernel buffer fills, then ours. */
	for (i = 0; i < 100000; i++) {
		r = conn_send_text(t->c, text, sizeof(text));
		if (r != 0)
			break;
		assert_true(conn_out_pending(t->c) <= 64 * 1024);
	}
	assert_int_equal(r, -EPIPE);
	assert_false(conn_is_open(t->c));
	assert_int_equal(conn_out_pending(t->c), 0);
	assert_int_equal(conn_send_event(t->c, "y", NULL, NULL), -EPIPE);
	/* on_close comes from the loop, never from inside the send. */
	assert_int_equal(t->closes, 0);
	t->peer_stalled = false;
	ct_pump_until(t, t->closes == 1 && t->peer_eof);
	ct_pump_briefly(t);
	assert_int_equal(t->closes, 1);
	ct_free(t);
}

static void
test_conn_call_routing(void **state)
{
	struct ct *t = ct_new(1024);
	struct json_object *o, *params = json_object_new_object();

	json_object_object_add(params, "name", json_object_new_string("a"));
	assert_int_equal(
		conn_call(t->c, "start", params, 0, ct_reply_cb, t), 0);
	assert_int_equal(conn_call(t->c, "stop", NULL, 0, ct_reply_cb, t), 0);
	o = ct_expect_line(t);
	assert_string_equal(ct_get(o, "method"), "start");
	assert_string_equal(ct_get(o, "id"), "1");
	assert_string_equal(ct_get(o, "params.name"), "a");
	assert_string_equal(ct_get(o, "seq"), "1");
	json_object_put(o);
	o = ct_expect_line(t);
	assert_string_equal(ct_get(o, "id"), "2");
	json_object_put(o);

	/* Events without (or with a foreign) id go to on_message. */
	ct_write(t,
		"{\"event\":\"state\"}\n{\"event\":\"x\",\"id\":99}\n"
		"{\"method\":\"ask\",\"id\":1}\n");
	ct_pump_until(t, t->msgs == 3);
	assert_int_equal(t->replies, 0);
	/* An error event answers a call too; replies in any order. */
	ct_write(t,
		"{\"event\":\"error\",\"id\":2,\"data\":{\"code\":\"busy\","
		"\"message\":\"m\"}}\n");
	ct_pump_until(t, t->replies == 1);
	assert_string_equal(t->reply_name, "error");
	ct_write(t, "{\"event\":\"ready\",\"id\":1}\n");
	ct_pump_until(t, t->replies == 2);
	assert_string_equal(t->reply_name, "ready");
	/* A second reply with the same id is just an event. */
	ct_write(t, "{\"event\":\"ready\",\"id\":1}\n");
	ct_pump_until(t, t->msgs == 4);
	assert_int_equal(t->replies, 2);
	assert_int_equal(t->nulls, 0);
	ct_free(t);
}

static void
test_conn_call_timeout(void **state)
{
	struct ct *t = ct_new(1024);

	assert_int_equal(conn_call(t->c, "slow", NULL, 30, ct_reply_cb, t), 0);
	assert_int_equal(
		conn_call(t->c, "other", NULL, 5000, ct_reply_cb, t), 0);
	ct_pump_until(t, t->nulls == 1);
	assert_int_equal(t->replies, 0);
	/* The late reply is dropped, not taken for an event. */
	ct_write(t,
		"{\"event\":\"done\",\"id\":1}\n{\"event\":\"done\","
		"\"id\":2}\n");
	ct_pump_until(t, t->replies == 1);
	ct_pump_briefly(t);
	assert_int_equal(t->msgs, 0);
	assert_int_equal(t->nulls, 1);
	assert_int_equal(t->replies, 1);
	assert_true(conn_is_open(t->c));
	ct_free(t);
}

static void
test_conn_call_close(void **state)
{
	struct ct *t = ct_new(1024);

	assert_int_equal(conn_call(t->c, "a", NULL, 0, ct_reply_cb, t), 0);
	assert_int_equal(conn_call(t->c, "b", NULL, 1000, ct_reply_cb, t), 0);
	close(t->peer);
	t->peer = -1;
	ct_pump_until(t, t->closes == 1);
	assert_int_equal(t->nulls, 2);
	assert_int_equal(t->replies, 0);
	assert_true(t->reply_order < t->close_order);
	/* Calls on a closed conn fail at once; cb is never called. */
	assert_int_equal(conn_call(t->c, "c", NULL, 0, ct_reply_cb, t), -EPIPE);
	ct_pump_briefly(t);
	assert_int_equal(t->nulls, 2);
	assert_int_equal(t->closes, 1);
	ct_free(t);
}

static void
test_conn_close_not_reentrant(void **state)
{
	struct ct *t = ct_new(1024);

	assert_int_equal(conn_call(t->c, "a", NULL, 0, ct_reply_cb, t), 0);
	conn_close_now(t->c);
	conn_close_now(t->c);
	conn_close(t->c);
	assert_false(conn_is_open(t->c));
	assert_int_equal(t->closes, 0);
	assert_int_equal(t->nulls, 0);
	assert_int_equal(
		conn_send_event(t->c, "x", json_object_new_object(), NULL),
		-EPIPE);
	assert_int_equal(conn_send_error(t->c, NULL, PERR_BUSY,
				 json_object_new_object(), "x"),
		-EPIPE);
	ct_pump_until(t, t->closes == 1);
	assert_int_equal(t->nulls, 1);
	ct_pump_briefly(t);
	assert_int_equal(t->closes, 1);
	ct_free(t);
}

static void
test_conn_refcount(void **state)
{
	struct ct *t = ct_new(1024);
	struct conn *c = conn_ref(t->c);
	int x;

	/* The owner drops its reference in on_close; ours survives. */
	t->unref_on_close = true;
	close(t->peer);
	t->peer = -1;
	ct_pump_until(t, t->closes == 1);
	assert_null(t->c);
	assert_ptr_equal(conn_get_arg(c), t);
	conn_set_arg(c, &x);
	assert_ptr_equal(conn_get_arg(c), &x);
	assert_false(conn_is_open(c));
	assert_int_equal(conn_fd(c), -1);
	assert_int_equal(conn_send_event(c, "late", NULL, NULL), -EPIPE);
	conn_unref(c);
	ct_free(t);

	/* Without the owner's unref the conn lives on after on_close. */
	t = ct_new(1024);
	close(t->peer);
	t->peer = -1;
	ct_pump_until(t, t->closes == 1);
	assert_false(conn_is_open(t->c));
	ct_free(t);

	/*
	 * Dropping the last reference of an open conn frees it without
	 * on_close; its pending calls are still answered with NULL.
	 */
	t = ct_new(1024);
	assert_int_equal(conn_call(t->c, "a", NULL, 100, ct_reply_cb, t), 0);
	conn_unref(t->c);
	t->c = NULL;
	assert_int_equal(t->nulls, 1);
	ct_pump_until(t, t->peer_eof);
	ct_pump_briefly(t);
	assert_int_equal(t->closes, 0);
	assert_int_equal(t->nulls, 1);
	ct_free(t);
}

static void
test_conn_close_flushes(void **state)
{
	struct ct *t = ct_new(1024);
	struct json_object *o, *data;
	char *big = malloc(100001);
	int i, n = 0;

	memset(big, 'b', 100000);
	big[100000] = '\0';
	/* More than the socket buffer: conn_close must wait for it. */
	for (i = 0; i < 20; i++) {
		data = json_object_new_object();
		json_object_object_add(data, "b", json_object_new_string(big));
		assert_int_equal(conn_send_event(t->c, "big", data, NULL), 0);
	}
	assert_true(conn_out_pending(t->c) > 0);
	conn_close(t->c);
	assert_false(conn_is_open(t->c));
	assert_int_equal(conn_send_event(t->c, "after", NULL, NULL), -EPIPE);
	ct_pump_until(t, t->peer_eof);
	while ((o = ct_peer_line(t)) != NULL) {
		n++;
		assert_int_equal(
			json_object_get_int(json_object_object_get(o, "seq")),
			n);
		json_object_put(o);
	}
	assert_int_equal(n, 20);
	ct_pump_until(t, t->closes == 1);
	free(big);
	ct_free(t);
}

static void
test_conn_close_bounded(void **state)
{
	struct ct *t = ct_new(1024);
	struct json_object *data;
	char *big = malloc(100001);
	int i;

	memset(big, 'b', 100000);
	big[100000] = '\0';
	for (i = 0; i < 20; i++) {
		data = json_object_new_object();
		json_object_object_add(data, "b", json_object_new_string(big));
		assert_int_equal(conn_send_event(t->c, "big", data, NULL), 0);
	}
	/* The peer never reads: the close gives up after 5 s. */
	t->peer_stalled = true;
	conn_close(t->c);
	ct_pump_slices(t, 10);
	assert_int_equal(t->closes, 0);
	assert_true(conn_out_pending(t->c) > 0);
	ct_pump_until(t, t->closes == 1);
	assert_int_equal(conn_out_pending(t->c), 0);
	free(big);
	ct_free(t);
}

static void
test_conn_eof_last_line(void **state)
{
	struct ct *t = ct_new(1024);
	struct json_object *o;

	/* printf '{"method":"ping"}' | socat - UNIX:sock */
	t->echo = true;
	ct_write(t, "{\"method\":\"ping\",\"id\":3}");
	shutdown(t->peer, SHUT_WR);
	o = ct_expect_line(t);
	assert_string_equal(ct_get(o, "event"), "echo");
	assert_string_equal(ct_get(o, "id"), "3");
	json_object_put(o);
	ct_pump_until(t, t->peer_eof && t->closes == 1);
	ct_free(t);
}

static void
test_conn_pause(void **state)
{
	struct ct *t = ct_new(1024);

	t->pause_on_msg = true;
	ct_write(t, "{\"event\":\"a\"}\n{\"event\":\"b\"}\n");
	ct_pump_until(t, t->msgs == 1);
	ct_pump_briefly(t);
	assert_int_equal(t->msgs, 1);
	ct_write(t, "{\"event\":\"c\"}\n");
	ct_pump_briefly(t);
	assert_int_equal(t->msgs, 1);
	t->pause_on_msg = false;
	conn_pause_reading(t->c, false);
	ct_pump_until(t, t->msgs == 3);
	assert_string_equal(t->last_name, "c");
	ct_free(t);
}

static void
test_conn_peercred(void **state)
{
	struct ct *t = ct_new(1024);
	struct event_base *base = event_base_new();
	struct conn *c;
	int p[2];

	assert_int_equal(conn_peer_pid(t->c), getpid());
	assert_int_equal(conn_peer_uid(t->c), getuid());
	assert_true(conn_fd(t->c) >= 0);
	ct_free(t);

	assert_int_equal(pipe(p), 0);
	c = conn_new(base, p[0], 1024, &ct_ops, NULL);
	assert_int_equal(conn_peer_pid(c), 0);
	assert_int_equal(conn_peer_uid(c), 0);
	conn_unref(c);
	close(p[1]);
	event_base_free(base);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_conn_seq),
		cmocka_unit_test(test_conn_reply_ids),
		cmocka_unit_test(test_conn_split_reads),
		cmocka_unit_test(test_conn_invalid_stays_open),
		cmocka_unit_test(test_conn_exact_limit),
		cmocka_unit_test(test_conn_too_long_complete),
		cmocka_unit_test(test_conn_too_long_partial),
		cmocka_unit_test(test_conn_out_limit),
		cmocka_unit_test(test_conn_call_routing),
		cmocka_unit_test(test_conn_call_timeout),
		cmocka_unit_test(test_conn_call_close),
		cmocka_unit_test(test_conn_close_not_reentrant),
		cmocka_unit_test(test_conn_refcount),
		cmocka_unit_test(test_conn_close_flushes),
		cmocka_unit_test(test_conn_close_bounded),
		cmocka_unit_test(test_conn_eof_last_line),
		cmocka_unit_test(test_conn_pause),
		cmocka_unit_test(test_conn_peercred),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
