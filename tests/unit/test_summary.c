/* SPDX-License-Identifier: ISC */
#include <errno.h>
#include <limits.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cmocka.h>
#include <json-c/json.h>

#include "common/atomicfile.h"
#include "common/paths.h"
#include "common/scope.h"
#include "common/xmalloc.h"
#include "proto/msg.h"
#include "supervisord/daemon.h"
#include "supervisord/journal.h"
#include "supervisord/podops.h"
#include "supervisord/podstore.h"
#include "supervisord/registry.h"
#include "supervisord/summary.h"
#include "supervisord/worktree.h"

#include "sup_fixture.h"

/*
 * The performance paths of podvisord against their plain versions:
 * summary_text() == podops_summary(), the pod name index == a scan,
 * digests and the batched state writes == podstore_write().
 */

struct fx {
	struct daemon d;
	char root[PATH_MAX];
};

static int
setup(void **state)
{
	struct fx *fx = xcalloc(1, sizeof(*fx));

	sup_fixture_init(&fx->d, fx->root, sizeof(fx->root));
	*state = fx;
	return 0;
}

static int
teardown(void **state)
{
	struct fx *fx = *state;

	sup_fixture_free(&fx->d, fx->root);
	free(fx);
	return 0;
}

static struct pod *
fx_pod(struct fx *fx, const char *name, const char *parent, const char *spec)
{
	struct pod *p = pod_new(&fx->d, name);
	struct scope_rule rule;
	char *err = NULL;

	p->cwd = xstrdup(fx->root);
	assert_int_equal(scope_rule_parse_spec(spec, NULL, &rule, &err), 0);
	scope_rules_add(&p->scope, &rule);
	scope_rule_clear(&rule);
	p->parent = parent != NULL ? xstrdup(parent) : NULL;
	p->status = POD_LIVE;
	p->pid = 4242;
	memset(p->session_id, 'A', ID_LEN);
	if (parent != NULL)
		namelist_add(&daemon_pod_find(&fx->d, parent)->children, name);
	registry_reserve(&fx->d, p);
	return p;
}

static void
expect_same_summary(struct fx *fx, struct pod *p)
{
	struct textbuf tb = { 0 };
	struct json_object *want = podops_summary(&fx->d, p), *got;
	char *err = NULL;

	summary_text(&fx->d, p, &tb);
	got = msg_parse_json(tb.s, tb.len, &err);
	assert_non_null(got);
	if (!json_object_equal(want, got))
		fail_msg("summary_text %s\n!= podops_summary %s", tb.s,
			json_object_to_json_string(want));
	json_object_put(want);
	json_object_put(got);
	free(tb.s);
}

static void
test_summary_text_matches(void **state)
{
	struct fx *fx = *state;
	struct pod *a, *b, *c;
	char *spec;

	spec = xstrfmt("write:%s/a", fx->root);
	a = fx_pod(fx, "a", NULL, spec);
	free(spec);
	spec = xstrfmt("write:%s/a/b", fx->root);
	b = fx_pod(fx, "a.b", "a", spec);
	free(spec);
	namelist_add(&a->peers, "x");
	a->model = xstrdup("openai/\"quoted\"\\ \t\n\x01 é");
	b->wt = xcalloc(1, sizeof(*b->wt));
	b->wt->path = xstrdup("/state/worktrees/a \"b\"");
	b->wt->branch = xstrdup("pod/a.b");
	b->wt->base = xstrdup("0123456789abcdef0123456789abcdef01234567");
	b->wt->repo = xstrdup("/home/me/r\u00e9po");
	b->wt->git_dir = xstrdup("/home/me/repo/.git/worktrees/a");
	b->wt->common_dir = xstrdup("/home/me/repo/.git");
	b->wt->repo_git_dir = xstrdup("/home/me/repo/.git");
	expect_same_summary(fx, a); /* effective write has b's hole */
	expect_same_summary(fx, b);
	b->status = POD_STOPPED;
	registry_release(&fx->d, b);
	expect_same_summary(fx, a);
	expect_same_summary(fx, b);
	c = pod_new(&fx->d, "c");
	c->status = POD_CORRUPT;
	c->corrupt_msg = xstrdup("bad \"status\"");
	expect_same_summary(fx, c);
}

static void
test_textbuf_escapes(void **state)
{
	struct textbuf tb = { 0 };
	struct json_object *o;
	char *err = NULL;

	(void)state;
	textbuf_json_str(&tb, "a\"b\\c\x1f/d\n");
	o = msg_parse_json(tb.s, tb.len, &err);
	assert_non_null(o);
	assert_string_equal(json_object_get_string(o), "a\"b\\c\x1f/d\n");
	json_object_put(o);
	free(tb.s);
}

static void
test_name_index(void **state)
{
	struct fx *fx = *state;
	char name[32];
	struct pod *p;
	int i;

	for (i = 0; i < 1000; i++) {
		snprintf(name, sizeof(name), "p%d", i);
		p = pod_new(&fx->d, name);
		p->status = POD_STOPPED;
	}
	assert_int_equal(fx->d.npods, 1000);
	for (i = 0; i < 1000; i += 2) {
		snprintf(name, sizeof(name), "p%d", i);
		p = daemon_pod_find(&fx->d, name);
		assert_non_null(p);
		assert_string_equal(p->name, name);
		pod_free(p);
	}
	for (i = 0; i < 1000; i++) {
		snprintf(name, sizeof(name), "p%d", i);
		p = daemon_pod_find(&fx->d, name);
		if (i % 2 == 0)
			assert_null(p);
		else
			assert_non_null(p);
	}
	assert_null(daemon_pod_find(&fx->d, "nope"));
	assert_null(daemon_pod_find(&fx->d, NULL));
}

static void
test_digest(void **state)
{
	struct digest dg = { 0 };

	(void)state;
	assert_false(digest_same(&dg, "", 0));
	digest_of(&dg, "hello world, 17 b", 17);
	assert_true(digest_same(&dg, "hello world, 17 b", 17));
	assert_false(digest_same(&dg, "hello world, 17 c", 17));
	assert_false(digest_same(&dg, "hello world, 17 ", 16));
}

static char *
fx_state(struct fx *fx, const char *name)
{
	char *path = paths_pod_state(&fx->d.paths, name), *buf = NULL;
	size_t len;

	assert_int_equal(atomicfile_read(path, 1 << 20, &buf, &len), 0);
	free(path);
	return buf;
}

static void
test_batched_write(void **state)
{
	struct fx *fx = *state;
	struct pod *a, *b;
	char *spec, *sa, *sb;
	struct stat st;
	char *path;

	spec = xstrfmt("write:%s/a", fx->root);
	a = fx_pod(fx, "a", NULL, spec);
	free(spec);
	spec = xstrfmt("write:%s/b", fx->root);
	b = fx_pod(fx, "b", NULL, spec);
	free(spec);
	/* Without a loop, write_later writes at once. */
	podstore_write_later(&fx->d, a);
	sa = fx_state(fx, "a");
	assert_non_null(strstr(sa, "\"status\":\"live\""));
	free(sa);
	/* Batched: both files, and the same bytes as podstore_write(). */
	fx->d.base = (struct event_base *)1; /* never dereferenced below */
	a->status = POD_STOPPED;
	b->status = POD_STOPPED;
	fx->d.dirty_ev = (struct event *)1;
	fx->d.dirty = xreallocarray(NULL, 2, sizeof(*fx->d.dirty));
	fx->d.dirty[0] = a;
	fx->d.dirty[1] = b;
	fx->d.ndirty = 2;
	a->state_dirty = b->state_dirty = true;
	podstore_flush(&fx->d);
	fx->d.base = NULL;
	fx->d.dirty_ev = NULL;
	assert_int_equal(fx->d.ndirty, 0);
	assert_false(a->state_dirty);
	sa = fx_state(fx, "a");
	sb = fx_state(fx, "b");
	assert_non_null(strstr(sa, "\"status\":\"stopped\""));
	assert_non_null(strstr(sb, "\"status\":\"stopped\""));
	/* An unchanged state is not rewritten: remove it, write: absent. */
	path = paths_pod_state(&fx->d.paths, "a");
	assert_int_equal(unlink(path), 0);
	assert_int_equal(podstore_write(&fx->d, a), 0);
	assert_int_equal(stat(path, &st), -1);
	/* A change is. */
	a->restart_count = 3;
	assert_int_equal(podstore_write(&fx->d, a), 0);
	assert_int_equal(stat(path, &st), 0);
	free(path);
	free(fx->d.dirty);
	fx->d.dirty = NULL;
	free(sa);
	free(sb);
}

static void
test_journal_text(void **state)
{
	struct fx *fx = *state;
	struct json_object *want, *got;
	struct pod *a;
	char *spec, *buf = NULL, *err = NULL;
	size_t len;

	spec = xstrfmt("write:%s/a", fx->root);
	a = fx_pod(fx, "a", NULL, spec);
	free(spec);
	spec = xstrfmt("write:%s/a/\"b", fx->root);
	(void)fx_pod(fx, "a.b", "a", spec);
	free(spec);
	a->ncrash = 2;
	a->crash_ms[0] = 1700000000000LL;
	a->crash_ms[1] = 1700000000001LL;
	a->restart_count = 2;
	journal_write(&fx->d); /* no loop: written at once */
	assert_int_equal(atomicfile_read(fx->d.paths.supervisor_json, 1 << 20,
				 &buf, &len),
		0);
	got = msg_parse_json(buf, len, &err);
	assert_non_null(got);
	want = journal_to_json(&fx->d);
	json_object_object_del(got, "written_ms");
	json_object_object_del(want, "written_ms");
	if (!json_object_equal(want, got))
		fail_msg("journal %s != %s", buf,
			json_object_to_json_string(want));
	json_object_put(want);
	json_object_put(got);
	free(buf);
	/* Unchanged: not rewritten. */
	assert_int_equal(unlink(fx->d.paths.supervisor_json), 0);
	journal_write(&fx->d);
	assert_int_equal(access(fx->d.paths.supervisor_json, F_OK), -1);
	a->restart_count = 3;
	journal_write(&fx->d);
	assert_int_equal(access(fx->d.paths.supervisor_json, F_OK), 0);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(
			test_summary_text_matches, setup, teardown),
		cmocka_unit_test(test_textbuf_escapes),
		cmocka_unit_test_setup_teardown(
			test_name_index, setup, teardown),
		cmocka_unit_test(test_digest),
		cmocka_unit_test_setup_teardown(
			test_batched_write, setup, teardown),
		cmocka_unit_test_setup_teardown(
			test_journal_text, setup, teardown),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
