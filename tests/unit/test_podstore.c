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
#include "common/id.h"
#include "common/scope.h"
#include "common/xmalloc.h"
#include "supervisord/daemon.h"
#include "supervisord/podstore.h"
#include "supervisord/worktree.h"

#include "sup_fixture.h"

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

	atomicfile_fail_step = ATOMICFILE_STEP_NONE;
	sup_fixture_free(&fx->d, fx->root);
	free(fx);
	return 0;
}

static struct pod *
fx_pod(struct fx *fx, const char *name)
{
	struct pod *p = pod_new(&fx->d, name);
	struct scope_rule rule;
	char *spec = xstrfmt("write:%s/%s", fx->root, name), *err = NULL;

	p->cwd = xstrdup(fx->root);
	p->created_ms = 1234;
	p->model = xstrdup("dummy/m");
	assert_int_equal(scope_rule_parse_spec(spec, NULL, &rule, &err), 0);
	scope_rules_add(&p->scope, &rule);
	scope_rule_clear(&rule);
	free(spec);
	id_new(p->session_id);
	p->status = POD_STOPPED;
	assert_int_equal(podstore_write(&fx->d, p), 0);
	return p;
}

static char *
slurp(const char *path, size_t *len)
{
	char *buf = NULL;

	assert_int_equal(atomicfile_read(path, 1 << 20, &buf, len), 0);
	return buf;
}

static void
test_round_trip(void **state)
{
	struct fx *fx = *state;
	struct pod *p = fx_pod(fx, "a"), *q;
	struct json_object *ev = json_object_new_object();
	struct daemon d2;
	char root2[PATH_MAX];

	p->parent = xstrdup("top");
	namelist_add(&p->children, "a.c");
	namelist_add(&p->peers, "b");
	p->segment = xstrdup("seg1");
	p->policy = RESTART_ON_FAILURE;
	p->restart_count = 2;
	p->status = POD_CRASHED;
	p->has_last_exit = true;
	p->last_exit_signal = 9;
	p->last_exit_ms = 99;
	json_object_object_add(ev, "eid", json_object_new_string("e1"));
	json_object_array_add(p->pending, ev);
	p->wt = xcalloc(1, sizeof(*p->wt));
	p->wt->path = xstrdup("/state/worktrees/a");
	p->wt->branch = xstrdup("pod/a");
	p->wt->base = xstrdup("0123456789abcdef0123456789abcdef01234567");
	p->wt->repo = xstrdup("/home/me/repo");
	p->wt->git_dir = xstrdup("/home/me/repo/.git/worktrees/a");
	p->wt->common_dir = xstrdup("/home/me/repo/.git");
	p->wt->repo_git_dir = xstrdup("/home/me/repo/.git");
	assert_int_equal(podstore_write(&fx->d, p), 0);

	/* a second daemon on the same state dir reads it back */
	sup_fixture_init(&d2, root2, sizeof(root2));
	free(d2.paths.state_pods);
	d2.paths.state_pods = xstrdup(fx->d.paths.state_pods);
	assert_int_equal(podstore_load_all(&d2), 0);
	q = daemon_pod_find(&d2, "a");
	assert_non_null(q);
	assert_int_equal(q->status, POD_CRASHED);
	assert_string_equal(q->cwd, fx->root);
	assert_string_equal(q->model, "dummy/m");
	assert_string_equal(q->parent, "top");
	assert_true(namelist_has(&q->children, "a.c"));
	assert_true(namelist_has(&q->peers, "b"));
	assert_string_equal(q->session_id, p->session_id);
	assert_string_equal(q->segment, "seg1");
	assert_int_equal(q->policy, RESTART_ON_FAILURE);
	assert_int_equal(q->restart_count, 2);
	assert_int_equal(q->created_ms, 1234);
	assert_int_equal(q->last_exit_signal, 9);
	assert_int_equal(json_object_array_length(q->pending), 1);
	assert_int_equal(q->scope.n, 1);
	assert_string_equal(q->scope.v[0].target, p->scope.v[0].target);
	assert_non_null(q->wt);
	assert_string_equal(q->wt->path, "/state/worktrees/a");
	assert_string_equal(q->wt->branch, "pod/a");
	assert_string_equal(q->wt->base, p->wt->base);
	assert_string_equal(q->wt->repo, "/home/me/repo");
	assert_string_equal(q->wt->git_dir, "/home/me/repo/.git/worktrees/a");
	assert_string_equal(q->wt->common_dir, "/home/me/repo/.git");
	assert_string_equal(q->wt->repo_git_dir, "/home/me/repo/.git");
	sup_fixture_free(&d2, root2);
}

static void
test_corrupt(void **state)
{
	struct fx *fx = *state;
	static const char *const bad[] = {
		"{\"version\":1,\"name\":\"bad\"", /* torn */
		"[]", /* not an object */
		"{\"version\":2,\"name\":\"bad\"}", /* version */
		"{\"version\":1,\"name\":\"other\",\"cwd\":\"/\"}", /* name */
		"\xff\xfe", /* not UTF-8 */
	};
	size_t i;

	for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		char *path = xstrfmt("%s/bad.json", fx->d.paths.state_pods);
		struct pod *p;
		char *after;
		size_t len;

		assert_int_equal(
			atomicfile_write(path, bad[i], strlen(bad[i]), 0600),
			0);
		assert_int_equal(podstore_load_all(&fx->d), 0);
		p = daemon_pod_find(&fx->d, "bad");
		assert_non_null(p);
		assert_int_equal(p->status, POD_CORRUPT);
		assert_non_null(p->corrupt_msg);
		/* never written */
		assert_int_equal(podstore_write(&fx->d, p), -EPERM);
		after = slurp(path, &len);
		assert_int_equal(len, strlen(bad[i]));
		assert_memory_equal(after, bad[i], len);
		free(after);
		pod_free(p);
		free(path);
	}
}

static void
test_register_peer_both_or_neither(void **state)
{
	struct fx *fx = *state;
	struct pod *a = fx_pod(fx, "a"), *b = fx_pod(fx, "b");
	char *pa = xstrfmt("%s/a.json", fx->d.paths.state_pods);
	char *pb = xstrfmt("%s/b.json", fx->d.paths.state_pods);
	char *before, *after;
	size_t blen, alen;

	/* b's state file cannot be replaced: a must keep its old bytes */
	before = slurp(pa, &blen);
	assert_int_equal(unlink(pb), 0);
	assert_int_equal(mkdir(pb, 0700), 0);
	assert_int_not_equal(podstore_register_peer(&fx->d, a, b), 0);
	after = slurp(pa, &alen);
	assert_int_equal(alen, blen);
	assert_memory_equal(after, before, alen);
	assert_false(namelist_has(&a->peers, "b"));
	assert_false(namelist_has(&b->peers, "a"));
	free(after);

	/* writing a fails: nothing changes either */
	assert_int_equal(rmdir(pb), 0);
	assert_int_equal(podstore_write(&fx->d, b), 0);
	atomicfile_fail_step = ATOMICFILE_STEP_RENAME;
	assert_int_not_equal(podstore_register_peer(&fx->d, a, b), 0);
	atomicfile_fail_step = ATOMICFILE_STEP_NONE;
	assert_false(namelist_has(&a->peers, "b"));
	after = slurp(pa, &alen);
	assert_memory_equal(after, before, alen);
	free(after);

	/* success: both */
	assert_int_equal(podstore_register_peer(&fx->d, a, b), 0);
	assert_true(namelist_has(&a->peers, "b"));
	assert_true(namelist_has(&b->peers, "a"));
	after = slurp(pb, &alen);
	assert_non_null(strstr(after, "\"peers\":[\"a\"]"));
	free(after);
	after = slurp(pa, &alen);
	assert_non_null(strstr(after, "\"peers\":[\"b\"]"));
	free(after);
	free(before);
	free(pa);
	free(pb);
}

static void
test_write_failure_keeps_old(void **state)
{
	struct fx *fx = *state;
	struct pod *a = fx_pod(fx, "a");
	char *pa = xstrfmt("%s/a.json", fx->d.paths.state_pods);
	char *before, *after;
	size_t blen, alen;

	before = slurp(pa, &blen);
	a->status = POD_LIVE;
	atomicfile_fail_step = ATOMICFILE_STEP_FSYNC;
	assert_int_not_equal(podstore_write(&fx->d, a), 0);
	atomicfile_fail_step = ATOMICFILE_STEP_NONE;
	after = slurp(pa, &alen);
	assert_int_equal(alen, blen);
	assert_memory_equal(after, before, alen);
	free(before);
	free(after);
	free(pa);
}

static void
test_remove(void **state)
{
	struct fx *fx = *state;
	struct pod *a = fx_pod(fx, "a");
	char *pa = xstrfmt("%s/a.json", fx->d.paths.state_pods);
	char *sdir = xstrfmt("%s/a", fx->d.paths.sessions);
	char *seg = xstrfmt("%s/a/s1.jsonl", fx->d.paths.sessions);
	struct stat st;

	assert_int_equal(mkdir(sdir, 0700), 0);
	assert_int_equal(atomicfile_write(seg, "{}\n", 3, 0600), 0);
	assert_int_equal(podstore_remove(&fx->d, a), 0);
	assert_int_equal(stat(pa, &st), -1);
	assert_int_equal(stat(sdir, &st), -1);
	free(pa);
	free(sdir);
	free(seg);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(
			test_round_trip, setup, teardown),
		cmocka_unit_test_setup_teardown(test_corrupt, setup, teardown),
		cmocka_unit_test_setup_teardown(
			test_register_peer_both_or_neither, setup, teardown),
		cmocka_unit_test_setup_teardown(
			test_write_failure_keeps_old, setup, teardown),
		cmocka_unit_test_setup_teardown(test_remove, setup, teardown),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
