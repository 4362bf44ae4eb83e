/* SPDX-License-Identifier: ISC */
#include <errno.h>
#include <poll.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cmocka.h>
#include <json-c/json.h>

#include "cli/client.h"
#include "common/clock.h"
#include "common/sock.h"
#include "common/xmalloc.h"
#include "proto/msg.h"

/* A listening socket in a temp dir, a client and the accepted peer. */
struct pair {
	char *dir;
	char *path;
	int lfd;
	int peer;
	struct client *c;
};

static void
pair_open(struct pair *p)
{
	char tmpl[] = "/tmp/podvisor-test-client-XXXXXX";
	struct pollfd pfd;

	assert_non_null(mkdtemp(tmpl));
	p->dir = xstrdup(tmpl);
	p->path = xstrfmt("%s/sock", p->dir);
	p->lfd = sock_listen_unix(p->path, 4);
	assert_true(p->lfd >= 0);
	assert_int_equal(client_connect(p->path, &p->c), 0);
	pfd.fd = p->lfd;
	pfd.events = POLLIN;
	assert_int_equal(poll(&pfd, 1, 5000), 1);
	p->peer = accept4(p->lfd, NULL, NULL, SOCK_CLOEXEC);
	assert_true(p->peer >= 0);
}

static void
pair_close(struct pair *p)
{
	client_free(p->c);
	if (p->peer >= 0)
		close(p->peer);
	close(p->lfd);
	unlink(p->path);
	rmdir(p->dir);
	free(p->path);
	free(p->dir);
}

static void
peer_write(struct pair *p, const char *s)
{
	assert_int_equal(fd_write_all(p->peer, s, strlen(s)), 0);
}

/* Read the peer's next request line (blocking, bounded). */
static struct json_object *
peer_read_request(struct pair *p)
{
	char buf[4096];
	size_t len = 0;
	struct pollfd pfd = { .fd = p->peer, .events = POLLIN };
	ssize_t n;

	while (len == 0 || buf[len - 1] != '\n') {
		assert_int_equal(poll(&pfd, 1, 5000), 1);
		n = read(p->peer, buf + len, sizeof(buf) - 1 - len);
		assert_true(n > 0);
		len += (size_t)n;
	}
	buf[len] = '\0';
	return json_tokener_parse(buf);
}

/* A line split across writes is one message; blank lines are skipped. */
static void
test_split_line(void **state)
{
	struct pair p;
	struct msg m;
	char *err = NULL;

	(void)state;
	pair_open(&p);
	peer_write(&p, "\n{\"event\":\"hello\",\"da");
	assert_int_equal(client_read(p.c, 0, &m, &err), -ETIMEDOUT);
	assert_false(client_has_pending(p.c));
	peer_write(&p, "ta\":{\"pid\":7},\"seq\":1}\r\n\n");
	assert_int_equal(client_read(p.c, 2000, &m, &err), 0);
	assert_string_equal(m.name, "hello");
	assert_int_equal(m.seq, 1);
	msg_clear(&m);
	pair_close(&p);
}

/* Replies find their request by id; other messages stay queued, in order. */
static void
test_call_queues_others(void **state)
{
	struct json_object *req, *id;
	struct pair p;
	struct msg m;
	char *err = NULL, *line;
	int64_t rid;

	(void)state;
	pair_open(&p);
	/* The reply arrives after two events; the peer answers at once. */
	peer_write(&p,
		"{\"event\":\"a\",\"seq\":1}\n{\"event\":\"b\",\"seq\":2}\n");
	rid = 1; /* the first id a client uses */
	line = xstrfmt(
		"{\"event\":\"pong\",\"id\":%lld,\"seq\":3}\n", (long long)rid);
	peer_write(&p, line);
	free(line);
	assert_int_equal(client_call(p.c, "ping", NULL, 2000, &m, &err), 0);
	assert_string_equal(m.name, "pong");
	assert_true(client_msg_has_id(&m, rid));
	msg_clear(&m);
	req = peer_read_request(&p);
	assert_non_null(req);
	assert_true(json_object_object_get_ex(req, "id", &id));
	assert_int_equal(json_object_get_int64(id), rid);
	json_object_put(req);
	assert_true(client_has_pending(p.c));
	assert_int_equal(client_read(p.c, 0, &m, &err), 0);
	assert_string_equal(m.name, "a");
	msg_clear(&m);
	assert_int_equal(client_read(p.c, 0, &m, &err), 0);
	assert_string_equal(m.name, "b");
	msg_clear(&m);
	assert_int_equal(client_read(p.c, 0, &m, &err), -ETIMEDOUT);
	pair_close(&p);
}

/* Bad lines are -EBADMSG with a reason; the connection goes on. */
static void
test_bad_line(void **state)
{
	struct pair p;
	struct msg m;
	char *err = NULL;

	(void)state;
	pair_open(&p);
	peer_write(&p, "not json\n{\"event\":\"ok\",\"seq\":2}\n");
	assert_int_equal(client_read(p.c, 2000, &m, &err), -EBADMSG);
	assert_non_null(err);
	free(err);
	err = NULL;
	assert_int_equal(client_read(p.c, 2000, &m, &err), 0);
	assert_string_equal(m.name, "ok");
	msg_clear(&m);
	pair_close(&p);
}

/* EOF is -EPIPE, after every complete line was returned. */
static void
test_eof(void **state)
{
	struct pair p;
	struct msg m;
	char *err = NULL;

	(void)state;
	pair_open(&p);
	peer_write(&p, "{\"event\":\"last\",\"seq\":1}\n{\"event\":\"torn");
	close(p.peer);
	p.peer = -1;
	assert_int_equal(client_read(p.c, 2000, &m, &err), 0);
	assert_string_equal(m.name, "last");
	msg_clear(&m);
	assert_int_equal(client_read(p.c, 2000, &m, &err), -EPIPE);
	assert_true(client_has_pending(p.c));
	pair_close(&p);
}

/* A wait ends at its timeout, and a wake fd ends it early. */
static void
test_timeout_and_wake(void **state)
{
	struct pair p;
	struct msg m;
	char *err = NULL;
	int64_t t0;
	int pfd[2];

	(void)state;
	pair_open(&p);
	t0 = clock_mono_ms();
	assert_int_equal(client_read(p.c, 100, &m, &err), -ETIMEDOUT);
	assert_true(clock_mono_ms() - t0 >= 90);
	assert_int_equal(pipe(pfd), 0);
	client_set_wake_fd(p.c, pfd[0]);
	assert_int_equal(write(pfd[1], "", 1), 1);
	t0 = clock_mono_ms();
	assert_int_equal(client_read(p.c, 5000, &m, &err), -EINTR);
	assert_true(clock_mono_ms() - t0 < 4000);
	close(pfd[0]);
	close(pfd[1]);
	pair_close(&p);
}

/* Connecting to nothing gives the errno the CLI explains. */
static void
test_connect_missing(void **state)
{
	struct client *c = NULL;

	(void)state;
	assert_int_equal(
		client_connect("/nonexistent/podvisor.sock", &c), -ENOENT);
	assert_null(c);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_split_line),
		cmocka_unit_test(test_call_queues_others),
		cmocka_unit_test(test_bad_line),
		cmocka_unit_test(test_eof),
		cmocka_unit_test(test_timeout_and_wake),
		cmocka_unit_test(test_connect_missing),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
