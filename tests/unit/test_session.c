/* SPDX-License-Identifier: ISC */
#include <errno.h>
#include <fcntl.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <signal.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cmocka.h>
#include <json-c/json.h>

#include "common/xmalloc.h"
#include "worker/session.h"

struct fixture {
	char dir[64];
};

static int
setup(void **state)
{
	struct fixture *f = xcalloc(1, sizeof *f);

	snprintf(f->dir, sizeof f->dir, "/tmp/test_session.XXXXXX");
	assert_non_null(mkdtemp(f->dir));
	*state = f;
	return 0;
}

static int
teardown(void **state)
{
	struct fixture *f = *state;
	char *cmd = xstrfmt("rm -rf '%s'", f->dir);

	assert_int_equal(system(cmd), 0);
	free(cmd);
	free(f);
	return 0;
}

static char *
read_file(const char *path, size_t *ret_len)
{
	FILE *fp = fopen(path, "rb");
	char *buf;
	long n;

	assert_non_null(fp);
	fseek(fp, 0, SEEK_END);
	n = ftell(fp);
	fseek(fp, 0, SEEK_SET);
	buf = xmalloc((size_t)n + 1);
	assert_int_equal(fread(buf, 1, (size_t)n, fp), (size_t)n);
	buf[n] = '\0';
	fclose(fp);
	*ret_len = (size_t)n;
	return buf;
}

static void
append_raw(const char *path, const char *text)
{
	int fd = open(path, O_WRONLY | O_APPEND);

	assert_true(fd >= 0);
	assert_int_equal(write(fd, text, strlen(text)), (ssize_t)strlen(text));
	close(fd);
}

static void
add_text(struct session *s, const char *kind, const char *key, const char *val)
{
	struct json_object *e = session_entry_new(kind);

	json_object_object_add(e, key, json_object_new_string(val));
	assert_int_equal(session_append(s, e, true), 0);
}

static const char *
entry_kind(struct session *s, size_t i)
{
	struct json_object *e, *v;

	e = json_object_array_get_idx(session_entries(s), i);
	assert_non_null(e);
	assert_true(json_object_object_get_ex(e, "kind", &v));
	return json_object_get_string(v);
}

static void
test_create_append_replay(void **state)
{
	struct fixture *f = *state;
	struct session *s = NULL, *r = NULL;
	char *err = NULL, *alert = NULL, *path, *buf, *seg, *sid;
	size_t len, lines = 0, i;

	assert_int_equal(
		session_create(f->dir, NULL, NULL, "m", "sys", &s, &err), 0);
	assert_string_equal(entry_kind(s, 0), "segment_start");
	add_text(s, "user_input", "note", "hello");
	add_text(s, "assistant", "text", "hi there");
	assert_int_equal(session_count(s), 3);
	path = xstrdup(session_path(s));
	seg = xstrdup(session_segment(s));
	sid = xstrdup(session_id(s));
	/* Every entry is a whole line on disk already. */
	buf = read_file(path, &len);
	for (i = 0; i < len; i++)
		lines += buf[i] == '\n';
	assert_int_equal(lines, 3);
	assert_int_equal(buf[len - 1], '\n');
	free(buf);
	session_free(s);

	assert_int_equal(
		session_restore(f->dir, NULL, seg, &r, &alert, &err), 0);
	assert_null(alert);
	assert_string_equal(session_id(r), sid);
	assert_int_equal(session_count(r), 3);
	assert_string_equal(entry_kind(r, 1), "user_input");
	assert_string_equal(entry_kind(r, 2), "assistant");
	assert_string_equal(session_last_text(r), "hi there");
	/* Appending after a restore continues the same file. */
	add_text(r, "user_input", "note", "again");
	session_free(r);
	assert_int_equal(
		session_restore(f->dir, NULL, seg, &r, &alert, &err), 0);
	assert_int_equal(session_count(r), 4);
	session_free(r);
	free(path);
	free(seg);
	free(sid);
}

static void
test_torn_tail(void **state)
{
	struct fixture *f = *state;
	struct session *s = NULL, *r = NULL;
	char *err = NULL, *alert = NULL, *path, *seg, *buf;
	size_t len;

	assert_int_equal(
		session_create(f->dir, "sid", "seg1", "m", NULL, &s, &err), 0);
	add_text(s, "user_input", "note", "one");
	path = xstrdup(session_path(s));
	seg = xstrdup(session_segment(s));
	session_free(s);

	/* A half-written line (no newline) is cut away with an alert. */
	append_raw(path, "{\"kind\":\"assistant\",\"text\":\"par");
	assert_int_equal(
		session_restore(f->dir, "sid", seg, &r, &alert, &err), 0);
	assert_non_null(alert);
	assert_non_null(strstr(alert, "torn"));
	free(alert);
	alert = NULL;
	assert_int_equal(session_count(r), 2);
	session_free(r);
	buf = read_file(path, &len);
	assert_null(strstr(buf, "par"));
	assert_int_equal(buf[len - 1], '\n');
	free(buf);

	/* An invalid JSON last line (with newline) is cut away too. */
	append_raw(path, "{\"kind\":\"assistant\",\n");
	assert_int_equal(
		session_restore(f->dir, "sid", seg, &r, &alert, &err), 0);
	assert_non_null(alert);
	free(alert);
	alert = NULL;
	assert_int_equal(session_count(r), 2);
	/* The pod keeps working on the repaired file. */
	add_text(r, "assistant", "text", "fine");
	session_free(r);
	assert_int_equal(
		session_restore(f->dir, "sid", seg, &r, &alert, &err), 0);
	assert_null(alert);
	assert_int_equal(session_count(r), 3);
	assert_string_equal(session_last_text(r), "fine");
	session_free(r);
	free(path);
	free(seg);
}

static void
test_missing_segment(void **state)
{
	struct fixture *f = *state;
	struct session *r = NULL;
	char *err = NULL, *alert = NULL;

	assert_int_equal(
		session_restore(f->dir, NULL, "nope", &r, &alert, &err),
		-ENOENT);
	assert_non_null(err);
	free(err);
	err = NULL;
	assert_int_equal(
		session_restore(f->dir, NULL, "../x", &r, &alert, &err),
		-EINVAL);
	free(err);
}

static struct json_object *
tool_call(const char *id)
{
	struct json_object *c = json_object_new_object();

	json_object_object_add(c, "id", json_object_new_string(id));
	json_object_object_add(c, "name", json_object_new_string("read"));
	json_object_object_add(c, "arguments", json_object_new_string("{}"));
	return c;
}

static void
test_dangling(void **state)
{
	struct fixture *f = *state;
	struct session *s = NULL, *r = NULL;
	struct json_object *e, *calls, *v;
	char *err = NULL, *alert = NULL, *seg;

	assert_int_equal(
		session_create(f->dir, NULL, NULL, "m", NULL, &s, &err), 0);
	e = session_entry_new("assistant");
	calls = json_object_new_array();
	json_object_array_add(calls, tool_call("c1"));
	json_object_array_add(calls, tool_call("c2"));
	json_object_object_add(e, "tool_calls", calls);
	assert_int_equal(session_append(s, e, true), 0);
	e = session_entry_new("tool_result");
	json_object_object_add(e, "id", json_object_new_string("c1"));
	json_object_object_add(e, "is_error", json_object_new_boolean(0));
	assert_int_equal(session_append(s, e, true), 0);

	calls = session_dangling_calls(s);
	assert_int_equal(json_object_array_length(calls), 1);
	assert_true(json_object_object_get_ex(
		json_object_array_get_idx(calls, 0), "id", &v));
	assert_string_equal(json_object_get_string(v), "c2");
	json_object_put(calls);
	seg = xstrdup(session_segment(s));
	session_free(s);

	/* After a crash the replayed log still shows the open call... */
	assert_int_equal(
		session_restore(f->dir, NULL, seg, &r, &alert, &err), 0);
	assert_int_equal(session_close_dangling(r, "[interrupted]"), 1);
	/* ...which is answered, on disk too. */
	calls = session_dangling_calls(r);
	assert_int_equal(json_object_array_length(calls), 0);
	json_object_put(calls);
	session_free(r);
	assert_int_equal(
		session_restore(f->dir, NULL, seg, &r, &alert, &err), 0);
	assert_int_equal(session_count(r), 4);
	e = json_object_array_get_idx(session_entries(r), 3);
	assert_true(json_object_object_get_ex(e, "is_error", &v));
	assert_true(json_object_get_boolean(v));
	assert_true(json_object_object_get_ex(e, "output", &v));
	assert_string_equal(json_object_get_string(v), "[interrupted]");
	assert_int_equal(session_close_dangling(r, "[interrupted]"), 0);
	session_free(r);
	free(seg);
}

static void
test_eid_and_turns(void **state)
{
	struct fixture *f = *state;
	struct session *s = NULL;
	struct json_object *e, *item;
	char *err = NULL;

	assert_int_equal(
		session_create(f->dir, NULL, NULL, "m", NULL, &s, &err), 0);
	assert_false(session_has_eid(s, "e1"));
	e = session_entry_new("system_item");
	item = json_object_new_object();
	json_object_object_add(
		item, "type", json_object_new_string("pod_event"));
	json_object_object_add(item, "eid", json_object_new_string("e1"));
	json_object_object_add(e, "item", item);
	assert_int_equal(session_append(s, e, true), 0);
	assert_true(session_has_eid(s, "e1"));
	assert_false(session_has_eid(s, "e2"));
	assert_int_equal(session_last_turn(s), 0);
	e = session_entry_new("turn_end");
	json_object_object_add(e, "turn", json_object_new_int(7));
	assert_int_equal(session_append(s, e, true), 0);
	assert_int_equal(session_last_turn(s), 7);
	session_free(s);
}

static off_t
file_size(const char *path)
{
	struct stat st;

	assert_int_equal(stat(path, &st), 0);
	return st.st_size;
}

/* Files this process writes may not grow past limit (EFBIG, no signal). */
static void
limit_fsize(rlim_t limit)
{
	struct rlimit rl;

	assert_int_equal(getrlimit(RLIMIT_FSIZE, &rl), 0);
	rl.rlim_cur = limit;
	assert_int_equal(setrlimit(RLIMIT_FSIZE, &rl), 0);
}

static struct json_object *
eid_entry(const char *eid)
{
	struct json_object *e, *item;

	e = session_entry_new("system_item");
	item = json_object_new_object();
	json_object_object_add(
		item, "type", json_object_new_string("pod_event"));
	json_object_object_add(item, "eid", json_object_new_string(eid));
	json_object_object_add(e, "item", item);
	return e;
}

static void
assert_same_entries(struct session *a, struct session *b)
{
	size_t i, n = session_count(a);

	assert_int_equal(session_count(b), n);
	for (i = 0; i < n; i++)
		assert_string_equal(
			json_object_to_json_string(json_object_array_get_idx(
				session_entries(a), i)),
			json_object_to_json_string(json_object_array_get_idx(
				session_entries(b), i)));
}

/*
 * A write that fails half-way (RLIMIT_FSIZE: the kernel writes what fits,
 * then EFBIG, like a disk that fills up) leaves no fragment in the file;
 * the entries wait in memory, later appends write them first, in order,
 * and a restore then sees every entry exactly once.
 */
static void
test_write_failure_heals(void **state)
{
	struct fixture *f = *state;
	struct session *s = NULL, *r = NULL;
	struct json_object *e;
	char *err = NULL, *alert = NULL, *seg, *big;
	size_t idx;
	off_t synced;

	signal(SIGXFSZ, SIG_IGN);
	assert_int_equal(
		session_create(f->dir, NULL, NULL, "m", NULL, &s, &err), 0);
	add_text(s, "user_input", "text", "first");
	synced = file_size(session_path(s));
	/* Written, not fsynced: rolled back and rewritten with the rest. */
	e = session_entry_new("usage");
	assert_int_equal(session_append(s, e, false), 0);
	assert_int_equal(session_pending(s), 0);
	assert_int_equal(session_durable(s), 2);

	limit_fsize((rlim_t)file_size(session_path(s)) + 100);
	big = xmalloc(5001);
	memset(big, 'z', 5000);
	big[5000] = '\0';
	e = session_entry_new("user_input");
	json_object_object_add(e, "text", json_object_new_string(big));
	assert_int_equal(session_append(s, e, true), -EFBIG);
	assert_int_equal(file_size(session_path(s)), synced);
	assert_int_equal(session_count(s), 4);
	assert_int_equal(session_pending(s), 2);
	assert_int_equal(session_durable(s), 2);
	assert_int_equal(session_error(s), -EFBIG);

	/* A pod event while failing: in memory, not durable, not acked. */
	assert_int_equal(session_append(s, eid_entry("e1"), true), -EFBIG);
	assert_int_equal(file_size(session_path(s)), synced);
	assert_false(session_has_eid(s, "e1"));
	assert_true(session_find_eid(s, "e1", &idx));
	assert_int_equal(idx, 4);
	assert_true(idx >= session_durable(s));
	assert_int_equal(session_flush(s), -EFBIG);
	assert_int_equal(file_size(session_path(s)), synced);

	/* Space again: the next append writes everything, in order. */
	limit_fsize(RLIM_INFINITY);
	add_text(s, "assistant", "text", "after");
	assert_int_equal(session_pending(s), 0);
	assert_int_equal(session_error(s), 0);
	assert_int_equal(session_durable(s), 6);
	assert_true(session_has_eid(s, "e1"));
	assert_int_equal(session_flush(s), 0);

	seg = xstrdup(session_segment(s));
	assert_int_equal(
		session_restore(f->dir, NULL, seg, &r, &alert, &err), 0);
	assert_null(alert);
	assert_same_entries(s, r);
	assert_string_equal(entry_kind(r, 3), "user_input");
	assert_true(session_has_eid(r, "e1"));
	session_free(r);
	session_free(s);
	free(seg);
	free(big);
}

/* session_flush() alone catches up once space is back. */
static void
test_flush_retries(void **state)
{
	struct fixture *f = *state;
	struct session *s = NULL, *r = NULL;
	struct json_object *e;
	char *err = NULL, *alert = NULL, *seg;
	off_t created;

	signal(SIGXFSZ, SIG_IGN);
	assert_int_equal(
		session_create(f->dir, NULL, NULL, "m", NULL, &s, &err), 0);
	/* segment_start is written, not yet durable (session_create) */
	created = file_size(session_path(s));
	assert_true(created > 0);
	assert_int_equal(session_durable(s), 0);
	limit_fsize((rlim_t)created + 10);
	e = session_entry_new("turn_end");
	json_object_object_add(e, "turn", json_object_new_int(1));
	assert_int_equal(session_append(s, e, false), -EFBIG);
	assert_int_equal(session_append(s, eid_entry("e2"), true), -EFBIG);
	/* cut back to what is durable: nothing; all three are pending */
	assert_int_equal(file_size(session_path(s)), 0);
	assert_int_equal(session_pending(s), 3);
	limit_fsize(RLIM_INFINITY);
	assert_int_equal(session_flush(s), 0);
	assert_int_equal(session_pending(s), 0);
	assert_int_equal(session_durable(s), 3);
	assert_true(session_has_eid(s, "e2"));
	assert_int_equal(session_last_turn(s), 1);

	seg = xstrdup(session_segment(s));
	assert_int_equal(
		session_restore(f->dir, NULL, seg, &r, &alert, &err), 0);
	assert_null(alert);
	assert_same_entries(s, r);
	session_free(r);
	session_free(s);
	free(seg);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(
			test_create_append_replay, setup, teardown),
		cmocka_unit_test_setup_teardown(
			test_torn_tail, setup, teardown),
		cmocka_unit_test_setup_teardown(
			test_missing_segment, setup, teardown),
		cmocka_unit_test_setup_teardown(test_dangling, setup, teardown),
		cmocka_unit_test_setup_teardown(
			test_eid_and_turns, setup, teardown),
		cmocka_unit_test_setup_teardown(
			test_write_failure_heals, setup, teardown),
		cmocka_unit_test_setup_teardown(
			test_flush_retries, setup, teardown),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
