/* SPDX-License-Identifier: ISC */
#include <sys/socket.h>

#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <event2/buffer.h>
#include <event2/event.h>
#include <json-c/json.h>

#include "proto/conn.h"
#include "proto/dispatch.h"
#include "proto/frame.h"
#include "proto/msg.h"

int LLVMFuzzerInitialize(int *argc, char ***argv);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/* One connection for the whole run; its peer end is read and checked. */
static struct event_base *fuzz_dispatch_base;
static struct conn *fuzz_dispatch_conn;
static int fuzz_dispatch_peer = -1;
static struct evbuffer *fuzz_dispatch_replies;
static size_t fuzz_dispatch_handled;

/* Every parameter a spec required with a type must now read back. */
static void
fuzz_dispatch_check(const struct dispatch_entry *e, struct msg *m)
{
	const struct param_spec *ps;
	struct json_object *v, *data;

	for (ps = e->params; ps != NULL && ps->name != NULL; ps++) {
		v = msg_param(m, ps->name);
		if (v == NULL) {
			if (!ps->optional)
				__builtin_trap();
			continue;
		}
		switch (ps->type) {
		case PARAM_STRING:
			if (msg_param_str(m, ps->name) == NULL ||
				strlen(msg_param_str(m, ps->name)) !=
					(size_t)json_object_get_string_len(v))
				__builtin_trap();
			break;
		case PARAM_INT:
			(void)msg_param_int(m, ps->name, 0);
			if (!json_object_is_type(v, json_type_int))
				__builtin_trap();
			break;
		case PARAM_BOOL:
			if (msg_param_bool(m, ps->name, false) !=
				msg_param_bool(m, ps->name, true))
				__builtin_trap();
			break;
		case PARAM_ARRAY:
			if (!json_object_is_type(v, json_type_array))
				__builtin_trap();
			break;
		case PARAM_OBJECT:
			if (!json_object_is_type(v, json_type_object))
				__builtin_trap();
			break;
		case PARAM_ANY:
			break;
		}
	}
	/* Answer with what was received, as the real handlers do. */
	data = json_object_new_object();
	if (m->params != NULL)
		json_object_object_add(
			data, "echo", json_object_get(m->params));
	conn_send_event(fuzz_dispatch_conn, "ok", data, m->id);
	fuzz_dispatch_handled++;
}

static void fuzz_dispatch_h_attach(void *ctx, struct conn *c, struct msg *m);
static void fuzz_dispatch_h_list(void *ctx, struct conn *c, struct msg *m);
static void fuzz_dispatch_h_send(void *ctx, struct conn *c, struct msg *m);
static void fuzz_dispatch_h_spawn(void *ctx, struct conn *c, struct msg *m);
static void fuzz_dispatch_h_stop(void *ctx, struct conn *c, struct msg *m);

static const struct param_spec fuzz_dispatch_p_attach[] = {
	{ "name", PARAM_STRING, false },
	{ "since", PARAM_INT, true },
	{ "follow", PARAM_BOOL, true },
	{ NULL, PARAM_ANY, false },
};
static const struct param_spec fuzz_dispatch_p_send[] = {
	{ "name", PARAM_STRING, false },
	{ "message", PARAM_ANY, false },
	{ "segments", PARAM_ARRAY, true },
	{ NULL, PARAM_ANY, false },
};
static const struct param_spec fuzz_dispatch_p_spawn[] = {
	{ "name", PARAM_STRING, false },
	{ "scope", PARAM_ARRAY, false },
	{ "model", PARAM_OBJECT, true },
	{ "cwd", PARAM_STRING, true },
	{ "max_turns", PARAM_INT, true },
	{ "recursive", PARAM_BOOL, true },
	{ NULL, PARAM_ANY, false },
};
static const struct param_spec fuzz_dispatch_p_stop[] = {
	{ "recursive", PARAM_BOOL, false },
	{ NULL, PARAM_ANY, false },
};

static const struct dispatch_entry fuzz_dispatch_table[] = {
	{ "attach", fuzz_dispatch_p_attach, fuzz_dispatch_h_attach },
	{ "list", NULL, fuzz_dispatch_h_list },
	{ "send", fuzz_dispatch_p_send, fuzz_dispatch_h_send },
	{ "spawn", fuzz_dispatch_p_spawn, fuzz_dispatch_h_spawn },
	{ "stop", fuzz_dispatch_p_stop, fuzz_dispatch_h_stop },
};
#define FUZZ_DISPATCH_N \
	(sizeof(fuzz_dispatch_table) / sizeof(fuzz_dispatch_table[0]))

static void
fuzz_dispatch_h_attach(void *ctx, struct conn *c, struct msg *m)
{
	fuzz_dispatch_check(&fuzz_dispatch_table[0], m);
}

static void
fuzz_dispatch_h_list(void *ctx, struct conn *c, struct msg *m)
{
	fuzz_dispatch_check(&fuzz_dispatch_table[1], m);
}

static void
fuzz_dispatch_h_send(void *ctx, struct conn *c, struct msg *m)
{
	fuzz_dispatch_check(&fuzz_dispatch_table[2], m);
}

static void
fuzz_dispatch_h_spawn(void *ctx, struct conn *c, struct msg *m)
{
	fuzz_dispatch_check(&fuzz_dispatch_table[3], m);
}

static void
fuzz_dispatch_h_stop(void *ctx, struct conn *c, struct msg *m)
{
	fuzz_dispatch_check(&fuzz_dispatch_table[4], m);
}

static void
fuzz_dispatch_on_message(struct conn *c, struct msg *m, void *arg)
{
}

static void
fuzz_dispatch_on_close(struct conn *c, void *arg)
{
	__builtin_trap(); /* nothing here may close the connection */
}

static const struct conn_ops fuzz_dispatch_ops = {
	.on_message = fuzz_dispatch_on_message,
	.on_close = fuzz_dispatch_on_close,
};

/* Set up the loop and the connection over a socketpair. */
int
LLVMFuzzerInitialize(int *argc, char ***argv)
{
	int sv[2];

	signal(SIGPIPE, SIG_IGN);
	if (!dispatch_table_valid(fuzz_dispatch_table, FUZZ_DISPATCH_N))
		abort();
	if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv) != 0)
		abort();
	fuzz_dispatch_base = event_base_new();
	fuzz_dispatch_conn = conn_new(fuzz_dispatch_base, sv[0],
		FRAME_LIMIT_CONTROL, &fuzz_dispatch_ops, NULL);
	fuzz_dispatch_peer = sv[1];
	fcntl(sv[1], F_SETFL, O_NONBLOCK);
	fuzz_dispatch_replies = evbuffer_new();
	return 0;
}

/* Flush the conn's output to the peer; every reply must parse. */
static void
fuzz_dispatch_drain(size_t expect)
{
	struct msg m;
	size_t got = 0, len;
	char buf[65536], *line, *err = NULL;
	ssize_t n;
	int r;

	for (;;) {
		event_base_loop(fuzz_dispatch_base, EVLOOP_NONBLOCK);
		n = read(fuzz_dispatch_peer, buf, sizeof(buf));
		if (n > 0) {
			evbuffer_add(fuzz_dispatch_replies, buf, (size_t)n);
			continue;
		}
		if (n == -1 && errno != EAGAIN)
			abort();
		if (conn_out_pending(fuzz_dispatch_conn) == 0)
			break;
	}
	while ((r = frame_read_line(fuzz_dispatch_replies, FRAME_LIMIT_POD,
			&line, &len)) == 1) {
		if (msg_parse(line, len, &m, &err) != 0 ||
			m.kind != MSG_EVENT || m.seq <= 0)
			__builtin_trap();
		msg_clear(&m);
		free(line);
		got++;
	}
	if (r != 0 || evbuffer_get_length(fuzz_dispatch_replies) != 0 ||
		got != expect)
		__builtin_trap();
}

/* The input is what a client writes: lines of requests (or anything). */
int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct evbuffer *in;
	struct msg m;
	size_t len, replies = 0;
	char *line, *err;
	int r;

	in = evbuffer_new();
	evbuffer_add(in, data, size);
	evbuffer_add(in, "\n", 1);
	fuzz_dispatch_handled = 0;
	while ((r = frame_read_line(in, 4096, &line, &len)) != 0) {
		if (r < 0) {
			if (r != -EMSGSIZE)
				__builtin_trap();
			break;
		}
		err = NULL;
		if (msg_parse(line, len, &m, &err) != 0) {
			free(err);
			free(line);
			continue;
		}
		r = dispatch_request(fuzz_dispatch_table, FUZZ_DISPATCH_N, NULL,
			fuzz_dispatch_conn, &m);
		if (r != 0 && r != -EINVAL)
			__builtin_trap();
		replies++;
		msg_clear(&m);
		free(line);
	}
	evbuffer_free(in);
	fuzz_dispatch_drain(replies);
	return 0;
}
