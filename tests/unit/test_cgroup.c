/* SPDX-License-Identifier: ISC */
/*
 * supervisord/cgroup.c's spawn params: bad values named, a child wider
 * than its parent refused with not_subset naming the limit, and every
 * limit refused with the cause where podvisord has no delegated cgroup
 * subtree.  The test reads the real error lines off the conn's peer.
 */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cmocka.h>
#include <event2/event.h>
#include <json-c/json.h>

#include "proto/conn.h"
#include "proto/msg.h"
#include "sup_fixture.h"
#include "supervisord/cgroup.h"

static const struct conn_ops tc_ops = { NULL, NULL };

struct tc {
	struct daemon d;
	char root[64];
	struct event_base *base;
	struct conn *c;
	int peer;
};

static int
setup(void **state)
{
	struct tc *t = xcalloc(1, sizeof(*t));
	int sv[2];

	sup_fixture_init(&t->d, t->root, sizeof(t->root));
	/* No delegated subtree: a directory that is no cgroup. */
	setenv("PODVISOR_CGROUP_ROOT", t->root, 1);
	cgroup_init(&t->d);
	assert_false(cgroup_usable(&t->d));
	assert_int_equal(socketpair(AF_UNIX, SOCK_STREAM, 0, sv), 0);
	t->base = event_base_new();
	t->c = conn_new(t->base, sv[0], 1 << 20, &tc_ops, t);
	t->peer = sv[1];
	*state = t;
	return 0;
}

static int
teardown(void **state)
{
	struct tc *t = *state;

	conn_close_now(t->c);
	conn_unref(t->c);
	event_base_loop(t->base, EVLOOP_NONBLOCK);
	event_base_free(t->base);
	close(t->peer);
	cgroup_free(&t->d);
	sup_fixture_free(&t->d, t->root);
	unsetenv("PODVISOR_CGROUP_ROOT");
	free(t);
	return 0;
}

/* Run spawn params with limits (JSON text) for viewer; the reply line. */
static int
run(struct tc *t, const struct pod *viewer, const char *limits,
	struct pod_limits *lim, char *reply, size_t size)
{
	char *line = xstrfmt("{\"method\":\"spawn\",\"id\":1,\"params\":"
			     "{\"name\":\"x\",\"limits\":%s}}",
		limits);
	struct msg m;
	char *err = NULL;
	ssize_t n;
	int r;

	assert_int_equal(msg_parse(line, strlen(line), &m, &err), 0);
	free(line);
	r = cgroup_spawn_params(&t->d, viewer, t->c, &m, lim);
	msg_clear(&m);
	reply[0] = '\0';
	event_base_loop(t->base, EVLOOP_NONBLOCK);
	if (r != 0) {
		n = recv(t->peer, reply, size - 1, 0);
		assert_true(n > 0);
		reply[n] = '\0';
	}
	return r;
}

static void
expect(struct tc *t, const struct pod *viewer, const char *limits,
	const char *code, const char *needle)
{
	struct pod_limits lim;
	char reply[4096];

	assert_int_equal(
		run(t, viewer, limits, &lim, reply, sizeof(reply)), -1);
	if (strstr(reply, code) == NULL || strstr(reply, needle) == NULL)
		fail_msg("%s: got %s, want %s ... %s", limits, reply, code,
			needle);
}

static void
test_values(void **state)
{
	struct tc *t = *state;

	expect(t, NULL, "[1]", "invalid_request", "must be an object");
	expect(t, NULL, "{\"pids\":0}", "invalid_request", "limits.pids");
	expect(t, NULL, "{\"memory\":\"lots\"}", "invalid_request",
		"limits.memory");
	expect(t, NULL, "{\"cpu_weight\":10001}", "invalid_request",
		"limits.cpu_weight");
	expect(t, NULL, "{\"swap\":1}", "invalid_request", "limits.swap");
	/* Good values, no subtree: the cause and the fix. */
	expect(t, NULL, "{\"memory\":\"64M\"}", "invalid_request",
		"cgroup v2 delegation not available");
	expect(t, NULL, "{\"pids\":10}", "invalid_request", "Delegate=yes");
}

static void
test_child_narrows(void **state)
{
	struct tc *t = *state;
	struct pod *parent = pod_new(&t->d, "p");
	struct pod_limits lim;
	char reply[4096];

	parent->limits.memory = 256LL << 20;
	parent->limits.pids = 100;
	parent->limits.cpu_weight = 50;
	expect(t, parent, "{\"pids\":101}", "not_subset", "limits.pids");
	expect(t, parent, "{\"memory\":\"512M\"}", "not_subset",
		"limits.memory");
	expect(t, parent, "{\"cpu_weight\":51}", "not_subset",
		"limits.cpu_weight");
	/* A memory limit means no swap: a child may not ask for some. */
	expect(t, parent, "{\"memory_swap\":1}", "not_subset",
		"limits.memory_swap");
	/* Narrower (or inherited): past the subset check, to the cause. */
	expect(t, parent, "{\"pids\":50}", "invalid_request",
		"delegation not available");
	expect(t, parent, "{}", "invalid_request", "delegation not available");
	/* A parent without limits: the child sets what it likes... */
	memset(&parent->limits, 0, sizeof(parent->limits));
	expect(t, parent, "{\"pids\":100000}", "invalid_request",
		"delegation not available");
	/* ...and without any, it spawns as ever. */
	assert_int_equal(run(t, parent, "{}", &lim, reply, sizeof(reply)), 0);
	assert_int_equal(lim.pids, 0);
	assert_int_equal(lim.memory, 0);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_values, setup, teardown),
		cmocka_unit_test_setup_teardown(
			test_child_narrows, setup, teardown),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
