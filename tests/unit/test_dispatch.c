/* SPDX-License-Identifier: ISC */
#include <sys/socket.h>

#include <errno.h>
#include <fcntl.h>
#include <setjmp.h>
#include <signal.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>
#include <event2/buffer.h>
#include <event2/event.h>
#include <json-c/json.h>

#include "proto/conn.h"
#include "proto/dispatch.h"
#include "proto/frame.h"
#include "proto/msg.h"

struct dt {
	struct event_base *base;
	struct conn *c;
	int peer;
	struct evbuffer *rx;
	int calls;
	const char *last_fn;
	void *last_ctx;
};

static void
dt_fn_a(void *ctx, struct conn *c, struct msg *m)
{
	struct dt *t = ctx;

	t->calls++;
	t->last_fn = "a";
	t->last_ctx = ctx;
	conn_send_event(c, "done", NULL, m->id);
}

static void
dt_fn_b(void *ctx, struct conn *c, struct msg *m)
{
	struct dt *t = ctx;

	t->calls++;
	t->last_fn = "b";
}

static const struct param_spec dt_spawn_params[] = {
	{ "name", PARAM_STRING, false },
	{ "scope", PARAM_ARRAY, false },
	{ "n", PARAM_INT, true },
	{ "recursive", PARAM_BOOL, true },
	{ "opts", PARAM_OBJECT, true },
	{ "any", PARAM_ANY, true },
	{ NULL },
};

static const struct dispatch_entry dt_table[] = {
	{ "alpha", NULL, dt_fn_b },
	{ "list", NULL, dt_fn_b },
	{ "ping", NULL, dt_fn_a },
	{ "spawn", dt_spawn_params, dt_fn_a },
	{ "stop", NULL, dt_fn_b },
};
#define DT_N (sizeof(dt_table) / sizeof(dt_table[0]))

static void
dt_on_message(struct conn *c, struct msg *m, void *arg)
{
	dispatch_request(dt_table, DT_N, arg, c, m);
}

static void
dt_on_close(struct conn *c, void *arg)
{
}

static const struct conn_ops dt_ops = { dt_on_message, dt_on_close };

static int
dt_setup(void **state)
{
	struct dt *t = calloc(1, sizeof(*t));
	int sv[2];

	signal(SIGPIPE, SIG_IGN);
	assert_int_equal(socketpair(AF_UNIX, SOCK_STREAM, 0, sv), 0);
	t->base = event_base_new();
	t->c = conn_new(t->base, sv[0], FRAME_LIMIT_CONTROL, &dt_ops, t);
	t->peer = sv[1];
	fcntl(t->peer, F_SETFL, O_NONBLOCK);
	t->rx = evbuffer_new();
	*state = t;
	return 0;
}

static int
dt_teardown(void **state)
{
	struct dt *t = *state;

	conn_unref(t->c);
	close(t->peer);
	evbuffer_free(t->rx);
	event_base_free(t->base);
	free(t);
	return 0;
}

/* Send line to the conn, run the loop until a line comes back. */
static struct json_object *
dt_request(struct dt *t, const char *line)
{
	struct timeval tv = { 0, 5000 };
	struct json_object *o;
	char *got;
	int i;

	assert_int_equal(
		write(t->peer, line, strlen(line)), (ssize_t)strlen(line));
	assert_int_equal(write(t->peer, "\n", 1), 1);
	for (i = 0; i < 1000; i++) {
		evbuffer_read(t->rx, t->peer, 65536);
		if (frame_read_line(t->rx, 1 << 20, &got, NULL) == 1) {
			o = json_tokener_parse(got);
			free(got);
			assert_non_null(o);
			return o;
		}
		event_base_loopexit(t->base, &tv);
		event_base_dispatch(t->base);
	}
	fail_msg("no reply to %s", line);
	return NULL;
}

static const char *
dt_get(struct json_object *o, const char *path)
{
	struct json_object *v = o;
	char buf[64], *p, *save = NULL;

	strncpy(buf, path, sizeof(buf) - 1);
	buf[sizeof(buf) - 1] = '\0';
	for (p = strtok_r(buf, ".", &save); p != NULL;
		p = strtok_r(NULL, ".", &save)) {
		if (!json_object_object_get_ex(v, p, &v))
			return NULL;
	}
	return json_object_get_string(v);
}

/* The request gets an invalid_request error with id and message. */
static void
dt_expect_error(
	struct dt *t, const char *line, const char *id, const char *message)
{
	struct json_object *o = dt_request(t, line);

	assert_string_equal(dt_get(o, "event"), "error");
	assert_string_equal(dt_get(o, "data.code"), "invalid_request");
	if (id != NULL)
		assert_string_equal(dt_get(o, "id"), id);
	else
		assert_null(dt_get(o, "id"));
	if (strstr(dt_get(o, "data.message"), message) == NULL)
		fail_msg("message \"%s\", wanted \"%s\"",
			dt_get(o, "data.message"), message);
	json_object_put(o);
	assert_int_equal(t->calls, 0);
	assert_true(conn_is_open(t->c));
}

static void
test_dispatch_sorted(void **state)
{
	struct dispatch_entry bad[3];

	assert_true(dispatch_table_valid(dt_table, DT_N));
	assert_true(dispatch_table_valid(dt_table, 0));
	memcpy(bad, dt_table, sizeof(bad));
	bad[0] = dt_table[2];
	bad[2] = dt_table[0];
	assert_false(dispatch_table_valid(bad, 3));
	memcpy(bad, dt_table, sizeof(bad));
	bad[1] = bad[0];
	assert_false(dispatch_table_valid(bad, 3));
	memcpy(bad, dt_table, sizeof(bad));
	bad[2].fn = NULL;
	assert_false(dispatch_table_valid(bad, 3));
}

static void
test_dispatch_find(void **state)
{
	size_t i;

	for (i = 0; i < DT_N; i++)
		assert_ptr_equal(
			dispatch_find(dt_table, DT_N, dt_table[i].name),
			&dt_table[i]);
	assert_null(dispatch_find(dt_table, DT_N, "a"));
	assert_null(dispatch_find(dt_table, DT_N, "zzz"));
	assert_null(dispatch_find(dt_table, DT_N, "pin"));
	assert_null(dispatch_find(dt_table, 0, "ping"));
	assert_null(dispatch_find(dt_table, DT_N, NULL));
}

static void
test_dispatch_runs_handler(void **state)
{
	struct dt *t = *state;
	struct json_object *o;

	o = dt_request(t, "{\"method\":\"ping\",\"id\":\"r1\"}");
	assert_int_equal(t->calls, 1);
	assert_ptr_equal(t->last_ctx, t);
	assert_string_equal(dt_get(o, "event"), "done");
	assert_string_equal(dt_get(o, "id"), "r1");
	json_object_put(o);

	o = dt_request(t,
		"{\"method\":\"spawn\",\"id\":3,\"params\":{"
		"\"name\":\"a\",\"scope\":[],\"n\":null}}");
	assert_int_equal(t->calls, 2);
	assert_string_equal(dt_get(o, "id"), "3");
	json_object_put(o);

	o = dt_request(t,
		"{\"method\":\"spawn\",\"params\":{\"name\":\"a\","
		"\"scope\":[],\"n\":1,\"recursive\":false,"
		"\"opts\":{},\"any\":[1],\"extra\":1}}");
	assert_int_equal(t->calls, 3);
	assert_null(dt_get(o, "id"));
	json_object_put(o);
}

static void
test_dispatch_unknown(void **state)
{
	struct dt *t = *state;

	dt_expect_error(t, "{\"method\":\"nope\",\"id\":7}", "7",
		"unknown method \"nope\"");
	dt_expect_error(
		t, "{\"method\":\"nope\",\"id\":\"x\"}", "x", "unknown method");
	dt_expect_error(t, "{\"method\":\"nope\"}", NULL, "unknown method");
	dt_expect_error(t, "{\"event\":\"ping\",\"id\":\"e\"}", "e",
		"expected a request");
}

/* Found by fuzz_dispatch: quoting cut a long method name inside a UTF-8
 * sequence, and the error reply was no longer valid UTF-8. */
static void
test_dispatch_unknown_utf8(void **state)
{
	struct dt *t = *state;
	char line[256], want[128];
	int i;

	strcpy(line, "{\"method\":\"a");
	strcpy(want, "unknown method \"a");
	for (i = 0; i < 40; i++) {
		strcat(line, "\xc3\xa9");
		if (i < 31)
			strcat(want, "\xc3\xa9");
	}
	strcat(line, "\",\"id\":1}");
	strcat(want, "\"");
	dt_expect_error(t, line, "1", want);
	dt_expect_error(t, "{\"event\":\"\xc3\xa9\",\"id\":2}", "2",
		"unexpected event \"\xc3\xa9\": expected a request");
}

static void
test_dispatch_params(void **state)
{
	struct dt *t = *state;

	dt_expect_error(t, "{\"method\":\"spawn\",\"id\":1}", "1",
		"missing parameter \"name\"");
	dt_expect_error(t,
		"{\"method\":\"spawn\",\"id\":2,\"params\":{\"name\":\"a\"}}",
		"2", "missing parameter \"scope\"");
	dt_expect_error(t,
		"{\"method\":\"spawn\",\"id\":3,\"params\":{\"name\":\"a\","
		"\"scope\":{}}}",
		"3", "parameter \"scope\" must be an array");
	dt_expect_error(t,
		"{\"method\":\"spawn\",\"id\":4,\"params\":{\"name\":5,"
		"\"scope\":[]}}",
		"4", "parameter \"name\" must be a string");
	dt_expect_error(t,
		"{\"method\":\"spawn\",\"id\":5,\"params\":{\"name\":\"a\\u0000b\","
		"\"scope\":[]}}",
		"5", "parameter \"name\" must be a string");
	dt_expect_error(t,
		"{\"method\":\"spawn\",\"id\":6,\"params\":{\"name\":\"a\","
		"\"scope\":[],\"n\":1.5}}",
		"6", "parameter \"n\" must be an integer");
	dt_expect_error(t,
		"{\"method\":\"spawn\",\"id\":7,\"params\":{\"name\":\"a\","
		"\"scope\":[],\"recursive\":\"yes\"}}",
		"7", "parameter \"recursive\" must be a boolean");
	dt_expect_error(t,
		"{\"method\":\"spawn\",\"id\":8,\"params\":{\"name\":\"a\","
		"\"scope\":[],\"opts\":[]}}",
		"8", "parameter \"opts\" must be an object");
	dt_expect_error(t,
		"{\"method\":\"spawn\",\"id\":9,\"params\":{\"name\":null,"
		"\"scope\":[]}}",
		"9", "missing parameter \"name\"");
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_dispatch_sorted),
		cmocka_unit_test(test_dispatch_find),
		cmocka_unit_test_setup_teardown(
			test_dispatch_runs_handler, dt_setup, dt_teardown),
		cmocka_unit_test_setup_teardown(
			test_dispatch_unknown, dt_setup, dt_teardown),
		cmocka_unit_test_setup_teardown(
			test_dispatch_unknown_utf8, dt_setup, dt_teardown),
		cmocka_unit_test_setup_teardown(
			test_dispatch_params, dt_setup, dt_teardown),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
