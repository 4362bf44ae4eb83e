/* SPDX-License-Identifier: ISC */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cmocka.h>
#include <json-c/json.h>

#include "common/xmalloc.h"
#include "worker/compact.h"
#include "worker/compact_plan.h"
#include "worker/compact_seg.h"
#include "worker/session.h"
#include "worker/usage.h"

static struct json_object *
entry_user(const char *text)
{
	struct json_object *e, *segs, *seg;

	e = session_entry_new("user_input");
	seg = json_object_new_object();
	json_object_object_add(seg, "kind", json_object_new_string("text"));
	json_object_object_add(seg, "content", json_object_new_string(text));
	segs = json_object_new_array();
	json_object_array_add(segs, seg);
	json_object_object_add(e, "segments", segs);
	return e;
}

static struct json_object *
entry_calls(int turn, int ncalls)
{
	struct json_object *e, *calls, *c;
	char id[32];
	int i;

	e = session_entry_new("assistant");
	calls = json_object_new_array();
	for (i = 0; i < ncalls; i++) {
		snprintf(id, sizeof id, "call_%d_%d", turn, i);
		c = json_object_new_object();
		json_object_object_add(c, "id", json_object_new_string(id));
		json_object_object_add(
			c, "name", json_object_new_string("read"));
		json_object_object_add(c, "arguments",
			json_object_new_string("{\"path\":\"x\"}"));
		json_object_array_add(calls, c);
	}
	json_object_object_add(e, "tool_calls", calls);
	return e;
}

static struct json_object *
entry_result(int turn, int i, size_t outlen)
{
	struct json_object *e;
	char id[32], *out;

	snprintf(id, sizeof id, "call_%d_%d", turn, i);
	out = xmalloc(outlen + 1);
	memset(out, 'o', outlen);
	out[outlen] = '\0';
	e = session_entry_new("tool_result");
	json_object_object_add(e, "id", json_object_new_string(id));
	json_object_object_add(e, "summary", json_object_new_string("ok"));
	json_object_object_add(e, "output", json_object_new_string(out));
	json_object_object_add(e, "is_error", json_object_new_boolean(0));
	free(out);
	return e;
}

static struct json_object *
entry_text(const char *kind, const char *key, const char *text)
{
	struct json_object *e = session_entry_new(kind);

	json_object_object_add(e, key, json_object_new_string(text));
	return e;
}

static struct json_object *
entry_usage(int64_t in, int64_t out)
{
	struct json_object *e = session_entry_new("usage");

	json_object_object_add(e, "input_tokens", json_object_new_int64(in));
	json_object_object_add(e, "output_tokens", json_object_new_int64(out));
	return e;
}

/* segment_start + nturns turns of: user, 2 tool calls, results, text. */
static struct json_object *
history(int nturns, size_t outlen)
{
	struct json_object *a, *e;
	char text[64];
	int t;

	a = json_object_new_array();
	e = session_entry_new("segment_start");
	json_object_object_add(e, "segment", json_object_new_string("s0"));
	json_object_array_add(a, e);
	for (t = 0; t < nturns; t++) {
		snprintf(text, sizeof text, "user request number %d", t);
		json_object_array_add(a, entry_user(text));
		json_object_array_add(a, entry_usage(1000, 10));
		json_object_array_add(a, entry_calls(t, 2));
		json_object_array_add(a, entry_result(t, 0, outlen));
		json_object_array_add(a, entry_result(t, 1, outlen));
		json_object_array_add(
			a, entry_text("assistant", "text", "all done here"));
		e = session_entry_new("turn_end");
		json_object_object_add(e, "turn", json_object_new_int(t + 1));
		json_object_array_add(a, e);
	}
	return a;
}

static const char *
kind_of(struct json_object *e)
{
	struct json_object *v;

	json_object_object_get_ex(e, "kind", &v);
	return json_object_get_string(v);
}

static bool
has_call(struct json_object *a, size_t from, size_t to, const char *id)
{
	struct json_object *e, *calls, *v;
	size_t i, j;

	for (i = from; i < to; i++) {
		e = json_object_array_get_idx(a, i);
		if (strcmp(kind_of(e), "assistant") != 0 ||
			!json_object_object_get_ex(e, "tool_calls", &calls))
			continue;
		for (j = 0; j < json_object_array_length(calls); j++) {
			json_object_object_get_ex(
				json_object_array_get_idx(calls, j), "id", &v);
			if (strcmp(json_object_get_string(v), id) == 0)
				return true;
		}
	}
	return false;
}

/* Every tool_result in [from, to) has its call in [from, to). */
static void
assert_paired(struct json_object *a, size_t from, size_t to)
{
	struct json_object *e, *v;
	size_t i;

	for (i = from; i < to; i++) {
		e = json_object_array_get_idx(a, i);
		if (strcmp(kind_of(e), "tool_result") != 0)
			continue;
		json_object_object_get_ex(e, "id", &v);
		assert_true(has_call(a, from, i, json_object_get_string(v)));
	}
}

static void
test_estimate(void **state)
{
	struct json_object *e;

	(void)state;
	assert_int_equal(usage_estimate(0), 0);
	assert_int_equal(usage_estimate(1), 1);
	assert_int_equal(usage_estimate(4), 1);
	assert_int_equal(usage_estimate(5), 2);
	assert_int_equal(usage_estimate(4000), 1000);
	e = entry_text("assistant", "text", "abcd");
	assert_int_equal(usage_entry_tokens(e),
		usage_estimate(strlen(json_object_to_json_string_ext(
			e, JSON_C_TO_STRING_PLAIN))));
	json_object_put(e);
}

static void
test_acct(void **state)
{
	struct usage_acct acct;
	struct json_object *a, *r;
	int64_t t0, t1;
	int key;

	(void)state;
	a = json_object_new_array();
	json_object_array_add(a, session_entry_new("segment_start"));
	usage_acct_reset(&acct, &key, 1, 500);
	t0 = usage_acct_update(&acct, a);
	assert_true(t0 > 500);
	assert_false(acct.saw_usage);
	json_object_array_add(a, entry_user("hello"));
	json_object_array_add(a, entry_usage(1200, 30));
	/* The assistant right after the usage is its output: not added. */
	json_object_array_add(a, entry_text("assistant", "text", "hi"));
	assert_int_equal(usage_acct_update(&acct, a), 1230);
	assert_true(acct.saw_usage);
	r = entry_result(1, 0, 400);
	t1 = usage_entry_tokens(r);
	json_object_array_add(a, r);
	assert_int_equal(usage_acct_update(&acct, a), 1230 + t1);
	/* Nothing new: the same figure, nothing counted twice. */
	assert_int_equal(usage_acct_update(&acct, a), 1230 + t1);
	json_object_put(a);
}

static void
test_plan_pairs(void **state)
{
	struct compact_plan p = { 0 };
	struct json_object *a, *last, *v, *segs;
	char *err = NULL;
	size_t n, i;
	int64_t retain;

	(void)state;
	a = history(40, 300);
	n = json_object_array_length(a);
	/* Every retain size: the cut never splits a call from its result. */
	for (retain = 50; retain < 4000; retain += 37) {
		assert_int_equal(compact_plan_make(a, retain, 100000,
					 "keep paths", &p, &err),
			0);
		assert_true(p.cut > 1 && p.cut < n);
		assert_true(p.from >= 1 && p.from < p.cut);
		assert_true(p.tail_tokens >= retain);
		assert_string_not_equal(
			kind_of(json_object_array_get_idx(a, p.cut)),
			"tool_result");
		assert_paired(a, p.cut, n);
		assert_paired(a, p.from, p.cut);
		/* The request: segment_start, the older part, the prompt. */
		assert_string_equal(
			kind_of(json_object_array_get_idx(p.request, 0)),
			"segment_start");
		last = json_object_array_get_idx(
			p.request, json_object_array_length(p.request) - 1);
		assert_string_equal(kind_of(last), "user_input");
		json_object_object_get_ex(last, "segments", &segs);
		json_object_object_get_ex(
			json_object_array_get_idx(segs, 0), "content", &v);
		assert_non_null(
			strstr(json_object_get_string(v), "keep paths"));
		for (i = 1; i + 1 < json_object_array_length(p.request); i++)
			assert_ptr_not_equal(
				json_object_array_get_idx(p.request, i),
				json_object_array_get_idx(a, p.cut));
		compact_plan_clear(&p);
	}
	json_object_put(a);
}

/* Paused turns: turn_end/run_end between a call and its result. */
static void
test_plan_paused(void **state)
{
	struct compact_plan p = { 0 };
	struct json_object *a, *e;
	char *err = NULL;
	size_t n;
	int64_t retain;
	int t;

	(void)state;
	a = json_object_new_array();
	e = session_entry_new("segment_start");
	json_object_array_add(a, e);
	for (t = 0; t < 30; t++) {
		json_object_array_add(a, entry_user("go on"));
		json_object_array_add(a, entry_calls(t, 1));
		json_object_array_add(a, session_entry_new("turn_end"));
		json_object_array_add(
			a, entry_text("run_end", "result", "paused"));
		json_object_array_add(a, entry_result(t, 0, 100));
		json_object_array_add(a, entry_text("assistant", "text", "ok"));
	}
	n = json_object_array_length(a);
	for (retain = 10; retain < 2000; retain += 7) {
		assert_int_equal(
			compact_plan_make(a, retain, 100000, NULL, &p, &err),
			0);
		assert_paired(a, p.cut, n);
		assert_paired(a, p.from, p.cut);
		compact_plan_clear(&p);
	}
	json_object_put(a);
}

static void
test_plan_nothing(void **state)
{
	struct compact_plan p = { 0 };
	struct json_object *a;
	char *err = NULL;

	(void)state;
	a = history(2, 10);
	assert_int_equal(
		compact_plan_make(a, 100000, 100000, NULL, &p, &err), -ENODATA);
	assert_non_null(strstr(err, "nothing to compact"));
	free(err);
	json_object_put(a);
}

static void
test_plan_budget_and_cap(void **state)
{
	struct compact_plan p = { 0 };
	struct json_object *a, *e, *v, *orig;
	char *err = NULL, *s;
	size_t i;
	bool capped = false;

	(void)state;
	a = history(50, 10000);
	assert_int_equal(compact_plan_make(a, 3000, 6000, NULL, &p, &err), 0);
	/* Only the newest part of the older history fits the budget. */
	assert_true(p.from > 1);
	assert_true(p.older_tokens <= 6000);
	s = xstrdup(json_object_to_json_string(p.request));
	assert_non_null(strstr(s, "left out"));
	free(s);
	/* Big outputs are cut in the request, never in the log. */
	for (i = 1; i < json_object_array_length(p.request); i++) {
		e = json_object_array_get_idx(p.request, i);
		if (strcmp(kind_of(e), "tool_result") != 0)
			continue;
		json_object_object_get_ex(e, "output", &v);
		assert_true(json_object_get_string_len(v) <
			COMPACT_PLAN_OUTPUT_MAX + 64);
		capped = true;
	}
	assert_true(capped);
	orig = json_object_array_get_idx(a, 4);
	json_object_object_get_ex(orig, "output", &v);
	assert_int_equal(json_object_get_string_len(v), 10000);
	compact_plan_clear(&p);
	json_object_put(a);
}

static void
test_plan_last_user(void **state)
{
	struct compact_plan p = { 0 };
	struct json_object *a;
	char *err = NULL, *sum;
	int t;

	(void)state;
	a = history(3, 10);
	json_object_array_add(a, entry_user("THE LAST REQUEST\nverbatim"));
	/* A long tool loop after it: the user request ends up summarised. */
	for (t = 100; t < 130; t++) {
		json_object_array_add(a, entry_calls(t, 1));
		json_object_array_add(a, entry_result(t, 0, 200));
	}
	assert_int_equal(compact_plan_make(a, 300, 100000, NULL, &p, &err), 0);
	assert_non_null(p.last_user);
	sum = compact_plan_summary(&p, "model summary");
	assert_non_null(strstr(sum, "model summary"));
	assert_non_null(strstr(sum, "THE LAST REQUEST\nverbatim"));
	free(sum);
	compact_plan_clear(&p);
	json_object_put(a);
	/* In the tail: nothing appended. */
	a = history(30, 10);
	json_object_array_add(a, entry_user("newest"));
	assert_int_equal(compact_plan_make(a, 100, 100000, NULL, &p, &err), 0);
	assert_null(p.last_user);
	sum = compact_plan_summary(&p, "only this");
	assert_string_equal(sum, "only this");
	free(sum);
	compact_plan_clear(&p);
	json_object_put(a);
}

static char *
tmpdir(void)
{
	char *d = xstrdup("/tmp/test_compact.XXXXXX");

	assert_non_null(mkdtemp(d));
	return d;
}

static void
rmdir_all(char *d)
{
	char *cmd = xstrfmt("rm -rf '%s'", d);

	assert_int_equal(system(cmd), 0);
	free(cmd);
	free(d);
}

static char *
write_seg(const char *dir, const char *from, const char *to,
	struct json_object *entries, size_t cut)
{
	struct compact_seg cs = { 0 };
	char *err = NULL;

	cs.dir = dir;
	cs.session_id = "sess";
	cs.segment = to;
	cs.compacted_from = from;
	cs.model = "m";
	cs.system = "sys";
	cs.summary = "the summary";
	assert_int_equal(compact_seg_write(&cs, entries, cut, &err), 0);
	return xstrdup(to);
}

static void
test_seg_write_resolve(void **state)
{
	struct session *s, *r;
	struct json_object *a, *e, *v;
	char *dir, *err = NULL, *alert = NULL, *got, *path, *s1, *s2;
	size_t i;
	FILE *f;

	(void)state;
	dir = tmpdir();
	assert_int_equal(
		session_create(dir, "sess", "old", "m", "sys", &s, &err), 0);
	a = history(5, 20);
	for (i = 1; i < json_object_array_length(a); i++)
		session_append(s,
			json_object_get(json_object_array_get_idx(a, i)),
			false);
	s1 = write_seg(dir, "old", "new1", session_entries(s), 8);
	assert_int_equal(
		session_restore(dir, "sess", "new1", &r, &alert, &err), 0);
	assert_null(alert);
	e = json_object_array_get_idx(session_entries(r), 0);
	assert_string_equal(kind_of(e), "segment_start");
	json_object_object_get_ex(e, "compacted_from", &v);
	assert_string_equal(json_object_get_string(v), "old");
	json_object_object_get_ex(e, "summary", &v);
	assert_string_equal(json_object_get_string(v), "the summary");
	/* The tail without usage entries (their figures are stale). */
	for (i = 1; i < session_count(r); i++)
		assert_string_not_equal(kind_of(json_object_array_get_idx(
						session_entries(r), i)),
			"usage");
	assert_true(session_count(r) > 1);
	/* Chains: old → new1 → new2; the newest wins from anywhere. */
	s2 = write_seg(dir, "new1", "new2", session_entries(r), 3);
	got = compact_seg_resolve(dir, "old");
	assert_string_equal(got, "new2");
	free(got);
	got = compact_seg_resolve(dir, "new1");
	assert_string_equal(got, "new2");
	free(got);
	assert_null(compact_seg_resolve(dir, "new2"));
	assert_null(compact_seg_resolve(dir, "unknown"));
	/* A temp file of a crashed compaction is not a segment; cleaned. */
	path = xstrfmt("%s/.new3.jsonl.tmp-abc", dir);
	f = fopen(path, "w");
	assert_non_null(f);
	fputs("{\"kind\":\"segment_start\",\"compacted_from\":\"new2\"}\n", f);
	fclose(f);
	assert_null(compact_seg_resolve(dir, "new2"));
	compact_seg_cleanup(dir);
	assert_int_equal(access(path, F_OK), -1);
	free(path);
	free(s1);
	free(s2);
	session_free(r);
	session_free(s);
	json_object_put(a);
	rmdir_all(dir);
}

/*
 * The whole switch: the new session holds segment_start + the tail, the
 * old history is released (its entries freed, oldest first) while
 * entries someone else still holds stay intact.
 */
static void
test_seg_switch(void **state)
{
	struct compact_seg cs = { 0 };
	struct session *s, *old;
	struct json_object *a, *e, *v;
	char *dir, *err = NULL;
	size_t i, n, cut = 8;

	(void)state;
	dir = tmpdir();
	assert_int_equal(
		session_create(dir, "sess", "old", "m", "sys", &s, &err), 0);
	a = history(5, 20);
	for (i = 1; i < json_object_array_length(a); i++)
		session_append(s,
			json_object_get(json_object_array_get_idx(a, i)),
			false);
	n = session_count(s);
	cs.dir = dir;
	cs.session_id = "sess";
	cs.segment = "new";
	cs.compacted_from = "old";
	cs.model = "m";
	cs.system = "sys";
	cs.summary = "the summary";
	old = s;
	assert_int_equal(compact_seg_switch(&cs, &s, cut, &err), 0);
	assert_ptr_not_equal(s, old);
	assert_string_equal(session_segment(s), "new");
	e = json_object_array_get_idx(session_entries(s), 0);
	json_object_object_get_ex(e, "compacted_from", &v);
	assert_string_equal(json_object_get_string(v), "old");
	assert_true(session_count(s) > 1);
	assert_true(session_count(s) <= n - cut + 2);
	/* Entries still held here survived the old history's release. */
	for (i = 1; i < json_object_array_length(a); i++)
		assert_string_not_equal(
			kind_of(json_object_array_get_idx(a, i)), "");
	session_free(s);
	json_object_put(a);
	rmdir_all(dir);
}

static void
test_config(void **state)
{
	struct compact_config cc;
	struct json_object *o;
	char *err = NULL;

	(void)state;
	assert_int_equal(compact_config_from_json(NULL, &cc, &err), 0);
	assert_true(cc.enabled);
	assert_true(cc.threshold > 0.79 && cc.threshold < 0.81);
	assert_int_equal(cc.retain_tokens, 8000);
	assert_null(cc.model);
	o = json_tokener_parse("{\"enabled\":false,\"threshold\":0.5,"
			       "\"retain_tokens\":100,\"model\":\"small\"}");
	assert_int_equal(compact_config_from_json(o, &cc, &err), 0);
	assert_false(cc.enabled);
	assert_int_equal(cc.retain_tokens, 100);
	assert_string_equal(cc.model, "small");
	compact_config_clear(&cc);
	json_object_put(o);
	o = json_tokener_parse("{\"threshold\":1.5}");
	assert_int_equal(compact_config_from_json(o, &cc, &err), -EINVAL);
	assert_non_null(strstr(err, "threshold"));
	free(err);
	json_object_put(o);
	o = json_tokener_parse("{\"retain_tokens\":-1}");
	assert_int_equal(compact_config_from_json(o, &cc, &err), -EINVAL);
	free(err);
	json_object_put(o);
	o = json_tokener_parse("{\"enabled\":\"yes\"}");
	assert_int_equal(compact_config_from_json(o, &cc, &err), -EINVAL);
	free(err);
	json_object_put(o);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_estimate),
		cmocka_unit_test(test_acct),
		cmocka_unit_test(test_plan_pairs),
		cmocka_unit_test(test_plan_paused),
		cmocka_unit_test(test_plan_nothing),
		cmocka_unit_test(test_plan_budget_and_cap),
		cmocka_unit_test(test_plan_last_user),
		cmocka_unit_test(test_seg_write_resolve),
		cmocka_unit_test(test_seg_switch),
		cmocka_unit_test(test_config),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
