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

#include <cmocka.h>

#include "common/scope.h"
#include "common/xmalloc.h"
#include "supervisord/daemon.h"
#include "supervisord/registry.h"

#include "sup_fixture.h"

struct fx {
	struct daemon d;
	char root[PATH_MAX];
};

static char *
fx_path(struct fx *fx, const char *rel)
{
	return xstrfmt("%s/%s", fx->root, rel);
}

/* rules from specs like "write:a", "read:a/b", "deny-write:a/x" */
static void
fx_rules(struct fx *fx, struct scope_rules *rules, const char *const *specs)
{
	memset(rules, 0, sizeof(*rules));
	for (; *specs != NULL; specs++) {
		const char *colon = strchr(*specs, ':');
		char *kind = xstrndup(*specs, (size_t)(colon - *specs));
		char *path = fx_path(fx, colon + 1);
		char *spec = xstrfmt("%s:%s", kind, path);
		struct scope_rule rule;
		char *err = NULL;

		assert_int_equal(
			scope_rule_parse_spec(spec, NULL, &rule, &err), 0);
		scope_rules_add(rules, &rule);
		scope_rule_clear(&rule);
		free(kind);
		free(path);
		free(spec);
	}
}

static struct pod *
fx_pod(struct fx *fx, const char *name, const char *parent,
	const char *const *specs)
{
	struct pod *p = pod_new(&fx->d, name);

	fx_rules(fx, &p->scope, specs);
	p->cwd = xstrdup(fx->root);
	p->parent = parent != NULL ? xstrdup(parent) : NULL;
	p->status = POD_LIVE;
	if (parent != NULL)
		namelist_add(&daemon_pod_find(&fx->d, parent)->children, name);
	registry_reserve(&fx->d, p);
	return p;
}

static int
fx_check(struct fx *fx, const char *spawner, const char *const *specs,
	struct registry_conflict *rc)
{
	struct scope_rules rules;
	int r;

	fx_rules(fx, &rules, specs);
	r = registry_check(
		&fx->d, daemon_pod_find(&fx->d, spawner), &rules, NULL, rc);
	scope_rules_clear(&rules);
	return r;
}

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

static void
expect_conflict(struct fx *fx, const char *spawner, const char *const *specs,
	const char *pod, const char *target_rel)
{
	struct registry_conflict rc;
	char *target = fx_path(fx, target_rel);

	assert_int_equal(fx_check(fx, spawner, specs, &rc), -EEXIST);
	assert_string_equal(rc.pod, pod);
	assert_string_equal(rc.target, target);
	registry_conflict_clear(&rc);
	free(target);
}

static void
expect_not_subset(struct fx *fx, const char *spawner, const char *const *specs,
	const char *target_rel)
{
	struct registry_conflict rc;
	char *target = fx_path(fx, target_rel);

	assert_int_equal(fx_check(fx, spawner, specs, &rc), -EPERM);
	assert_null(rc.pod);
	assert_string_equal(rc.target, target);
	registry_conflict_clear(&rc);
	free(target);
}

static void
expect_ok(struct fx *fx, const char *spawner, const char *const *specs)
{
	struct registry_conflict rc;

	assert_int_equal(fx_check(fx, spawner, specs, &rc), 0);
	registry_conflict_clear(&rc);
}

#define SPECS(...) ((const char *const[]){ __VA_ARGS__, NULL })

static void
test_top_level(void **state)
{
	struct fx *fx = *state;

	fx_pod(fx, "a", NULL, SPECS("write:a"));
	assert_int_equal(registry_count(fx->d.registry), 1);
	/* overlap below, at and above a's target */
	expect_conflict(fx, NULL, SPECS("write:a/x"), "a", "a");
	expect_conflict(fx, NULL, SPECS("write:a"), "a", "a");
	expect_conflict(fx, NULL, SPECS("write:b", "write:"), "a", "a");
	/* disjoint writes and all reads are fine */
	expect_ok(fx, NULL, SPECS("write:b", "read:a", "read:a/x"));
	/* the user is not limited to any scope */
	expect_ok(fx, NULL, SPECS("write:c/d/e"));
	/* a flat rule on the parent touches a's target itself */
	expect_conflict(fx, NULL, SPECS("write::flat"), "a", "a");
}

static void
test_delegation(void **state)
{
	struct fx *fx = *state;

	fx_pod(fx, "a", NULL, SPECS("write:a", "deny-write:a/secret"));
	fx_pod(fx, "b", NULL, SPECS("write:b"));
	/* a may hand out what it may write; its own allow is no conflict */
	expect_ok(fx, "a", SPECS("write:a/x", "read:a/y"));
	expect_not_subset(fx, "a", SPECS("write:a"), "a");
	/* outside a's scope */
	expect_not_subset(fx, "a", SPECS("write:a/x", "write:c"), "c");
	expect_not_subset(fx, "a", SPECS("read:c"), "c");
	/* its deny is a hole */
	expect_not_subset(fx, "a", SPECS("write:a/secret/z"), "a/secret/z");
	/* another tree's scope is a conflict, named */
	expect_conflict(fx, "a", SPECS("write:b/q"), "b", "b");
}

static void
test_children_holes(void **state)
{
	struct fx *fx = *state;
	struct scope_rules eff;
	char *ax = fx_path(fx, "a/x");
	size_t i;
	bool hole = false;

	fx_pod(fx, "a", NULL, SPECS("write:a"));
	fx_pod(fx, "a.c", "a", SPECS("write:a/x"));
	/* a's effective write has a deny-write hole for a.c */
	registry_effective_write(&fx->d, daemon_pod_find(&fx->d, "a"), &eff);
	for (i = 0; i < eff.n; i++)
		if (eff.v[i].deny && strcmp(eff.v[i].target, ax) == 0)
			hole = true;
	assert_true(hole);
	scope_rules_clear(&eff);
	/* a sibling request inside the hole conflicts with the child */
	expect_conflict(fx, "a", SPECS("write:a/x/y"), "a.c", "a/x");
	/* a.c may delegate inside its grant: a and a.c are its ancestors */
	expect_ok(fx, "a.c", SPECS("write:a/x/y"));
	expect_not_subset(fx, "a.c", SPECS("write:a/z"), "a/z");
	/* grandchild reserved: a.c's own hole */
	fx_pod(fx, "a.c.d", "a.c", SPECS("write:a/x/y"));
	expect_conflict(fx, "a.c", SPECS("write:a/x/y/z"), "a.c.d", "a/x/y");
	expect_conflict(fx, NULL, SPECS("write:a/x/y"), "a", "a");
	assert_int_equal(
		registry_depth(&fx->d, daemon_pod_find(&fx->d, "a.c.d")), 3);
	/* release: the scope returns to the parent at once */
	registry_release(&fx->d, daemon_pod_find(&fx->d, "a.c.d"));
	registry_release(&fx->d, daemon_pod_find(&fx->d, "a.c"));
	expect_ok(fx, "a", SPECS("write:a/x/y"));
	registry_effective_write(&fx->d, daemon_pod_find(&fx->d, "a"), &eff);
	assert_int_equal(eff.n, 1);
	assert_false(eff.v[0].deny);
	scope_rules_clear(&eff);
	assert_int_equal(registry_count(fx->d.registry), 1);
	free(ax);
}

static void
test_restore_skips_former_children(void **state)
{
	struct fx *fx = *state;
	struct registry_conflict rc;
	struct pod *a, *c;

	a = fx_pod(fx, "a", NULL, SPECS("write:a"));
	c = fx_pod(fx, "a.c", "a", SPECS("write:a/x"));
	/* a ends; a.c moves to the top level but a still lists it */
	registry_release(&fx->d, a);
	a->status = POD_STOPPED;
	free(c->parent);
	c->parent = NULL;
	assert_true(registry_is_former_child(&fx->d, a, c));
	assert_int_equal(registry_check(&fx->d, NULL, &a->scope, a, &rc), 0);
	/* anyone else still conflicts with a.c */
	expect_conflict(fx, NULL, SPECS("write:a"), "a.c", "a/x");
	registry_conflict_clear(&rc);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(
			test_top_level, setup, teardown),
		cmocka_unit_test_setup_teardown(
			test_delegation, setup, teardown),
		cmocka_unit_test_setup_teardown(
			test_children_holes, setup, teardown),
		cmocka_unit_test_setup_teardown(
			test_restore_skips_former_children, setup, teardown),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
