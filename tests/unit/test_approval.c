/* SPDX-License-Identifier: ISC */
#include <setjmp.h>
#include <errno.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>
#include <json-c/json.h>

#include "common/approval_policy.h"
#include "worker/approval_diff.h"

static struct approval_policy
pol(const char *json)
{
	struct approval_policy p = { 0 };
	struct json_object *o = json_tokener_parse(json);
	char *err = NULL;

	assert_non_null(o);
	assert_int_equal(approval_policy_from_json(&p, o, &err), 0);
	json_object_put(o);
	return p;
}

static bool
needs(const struct approval_policy *p, const char *tool, const char *args,
	const char *path)
{
	struct json_object *a = json_tokener_parse(args);
	bool r = approval_policy_needs(p, tool, a, path);

	json_object_put(a);
	return r;
}

static void
test_levels(void **state)
{
	struct approval_policy n = pol("{\"policy\":\"never\"}");
	struct approval_policy w = pol("{\"policy\":\"writes\"}");
	struct approval_policy b = pol("{\"policy\":\"bash\"}");
	struct approval_policy a = pol("{\"policy\":\"always\"}");

	assert_false(needs(&n, "write", "{}", "/x"));
	assert_true(needs(&w, "write", "{}", "/x"));
	assert_true(needs(&w, "edit", "{}", "/x"));
	assert_false(needs(&w, "bash", "{\"command\":\"ls\"}", NULL));
	assert_true(needs(&b, "bash", "{\"command\":\"ls\"}", NULL));
	assert_true(needs(&b, "mcp__fs__write", "{}", NULL));
	assert_false(needs(&b, "read", "{}", NULL));
	assert_false(needs(&b, "spawn_pod", "{}", NULL));
	assert_true(needs(&a, "read", "{}", NULL));
	assert_true(needs(&a, "list_pods", "{}", NULL));
	approval_policy_clear(&n);
	approval_policy_clear(&w);
	approval_policy_clear(&b);
	approval_policy_clear(&a);
}

static void
test_rules(void **state)
{
	struct approval_policy p =
		pol("{\"policy\":\"always\",\"allow\":["
		    "\"bash:git status\","
		    "\"path:/w/src/*\",\"tool:mcp__gh__*\"]}");

	assert_false(needs(&p, "bash", "{\"command\":\"git status\"}", NULL));
	assert_false(needs(
		&p, "bash", "{\"command\":\"git status --short\"}", NULL));
	assert_true(needs(&p, "bash", "{\"command\":\"git statusx\"}", NULL));
	assert_true(needs(
		&p, "bash", "{\"command\":\"git status; rm -rf /\"}", NULL));
	assert_true(
		needs(&p, "bash", "{\"command\":\"git status $(id)\"}", NULL));
	assert_true(
		needs(&p, "bash", "{\"command\":\"git status\\nrm x\"}", NULL));
	assert_false(needs(&p, "write", "{}", "/w/src/a/b.c"));
	assert_true(needs(&p, "write", "{}", "/w/other.c"));
	assert_false(needs(&p, "mcp__gh__issue", "{}", NULL));
	assert_true(needs(&p, "mcp__fs__read", "{}", NULL));
	/* A path rule does not open bash, nor a bash rule write. */
	assert_true(needs(&p, "bash", "{\"command\":\"/w/src/x\"}", NULL));
	approval_policy_clear(&p);
}

static void
test_rule_for_call(void **state)
{
	struct json_object *a = json_tokener_parse("{\"command\":\"a; b\"}");
	struct approval_policy p = pol("{\"policy\":\"always\"}");
	char *r;

	r = approval_rule_for_call("bash", a, NULL);
	assert_string_equal(r, "bash:a; b");
	assert_int_equal(approval_policy_add(&p, r, NULL), 0);
	free(r);
	/* The exact command passes, even with control characters. */
	assert_false(approval_policy_needs(&p, "bash", a, NULL));
	json_object_put(a);
	assert_true(needs(&p, "bash", "{\"command\":\"a; b; c\"}", NULL));
	r = approval_rule_for_call("write", NULL, "/w/a*b[1].txt");
	assert_string_equal(r, "path:/w/a\\*b\\[1].txt");
	assert_int_equal(approval_policy_add(&p, r, NULL), 0);
	free(r);
	assert_false(needs(&p, "write", "{}", "/w/a*b[1].txt"));
	assert_true(needs(&p, "write", "{}", "/w/aXXb1.txt"));
	r = approval_rule_for_call("mcp__x__y", NULL, NULL);
	assert_string_equal(r, "tool:mcp__x__y");
	free(r);
	assert_null(approval_rule_for_call("bash", NULL, NULL));
	approval_policy_clear(&p);
}

static void
test_narrows(void **state)
{
	struct approval_policy parent = pol(
		"{\"policy\":\"bash\",\"allow\":[\"bash:git\",\"path:/w/*\"]}");
	struct approval_policy c1 = pol("{\"policy\":\"writes\"}");
	struct approval_policy c2 =
		pol("{\"policy\":\"always\",\"allow\":["
		    "\"bash:git status\",\"path:/w/a/*\"]}");
	struct approval_policy c3 =
		pol("{\"policy\":\"bash\",\"allow\":[\"bash:gi\"]}");
	struct approval_policy c4 =
		pol("{\"policy\":\"bash\",\"allow\":[\"tool:*\"]}");
	char *err = NULL;

	assert_int_equal(approval_policy_narrows(&c1, &parent, &err), -EPERM);
	assert_non_null(strstr(err, "writes"));
	free(err);
	err = NULL;
	assert_int_equal(approval_policy_narrows(&c2, &parent, &err), 0);
	assert_int_equal(approval_policy_narrows(&c3, &parent, &err), -EPERM);
	assert_non_null(strstr(err, "bash:gi"));
	free(err);
	err = NULL;
	assert_int_equal(approval_policy_narrows(&c4, &parent, &err), -EPERM);
	free(err);
	approval_policy_clear(&parent);
	approval_policy_clear(&c1);
	approval_policy_clear(&c2);
	approval_policy_clear(&c3);
	approval_policy_clear(&c4);
}

static void
test_bad_json(void **state)
{
	static const char *const bad[] = { "[]", "{\"policy\":\"x\"}",
		"{\"policy\":3}", "{\"allow\":\"bash:x\"}",
		"{\"allow\":[\"nokind\"]}", "{\"allow\":[\"path:rel/*\"]}",
		"{\"allow\":[\"bash:\"]}", "{\"timeout_s\":-1}",
		"{\"timeout_s\":\"1\"}", "{\"ask\":\"nobody\"}" };
	struct approval_policy p = pol("{\"policy\":\"bash\"}");
	struct json_object *o;
	char *err;
	size_t i;

	for (i = 0; i < sizeof bad / sizeof bad[0]; i++) {
		o = json_tokener_parse(bad[i]);
		err = NULL;
		assert_int_equal(
			approval_policy_from_json(&p, o, &err), -EINVAL);
		assert_non_null(err);
		free(err);
		json_object_put(o);
		/* Unchanged on error. */
		assert_int_equal(p.level, APPROVAL_BASH);
	}
	approval_policy_clear(&p);
}

static void
test_diff(void **state)
{
	char *d = approval_diff_text("/f", "a\nb\nc\n", "a\nB\nc\n", 1);

	assert_string_equal(d,
		"--- /f\n+++ /f\n@@ -1,3 +1,3 @@\n"
		" a\n-b\n+B\n c\n");
	free(d);
	d = approval_diff_text("/n", "", "x\ny", 0);
	assert_string_equal(d,
		"--- /dev/null\n+++ /n\n@@ -0,0 +1,2 @@\n"
		"+x\n+y\n\\ No newline at end of file\n");
	free(d);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_levels),
		cmocka_unit_test(test_rules),
		cmocka_unit_test(test_rule_for_call),
		cmocka_unit_test(test_narrows),
		cmocka_unit_test(test_bad_json),
		cmocka_unit_test(test_diff),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
