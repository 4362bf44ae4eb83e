/* SPDX-License-Identifier: ISC */
#include <errno.h>
#include <limits.h>
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
#include <json.h>

#include "common/scope.h"
#include "common/xmalloc.h"

/* The canonical temp dir of the normalisation tests. */
static char *base;

static char *
path_in(const char *rel)
{
	return xstrfmt("%s/%s", base, rel);
}

static void
make_dir(const char *rel)
{
	char *p = path_in(rel);

	assert_int_equal(mkdir(p, 0700), 0);
	free(p);
}

static void
make_file(const char *rel)
{
	char *p = path_in(rel);
	FILE *f = fopen(p, "w");

	assert_non_null(f);
	fclose(f);
	free(p);
}

static void
make_link(const char *to, const char *rel)
{
	char *p = path_in(rel);

	assert_int_equal(symlink(to, p), 0);
	free(p);
}

static int
setup_tree(void **state)
{
	char tmpl[] = "/tmp/test_scope.XXXXXX";
	char *d = mkdtemp(tmpl);

	(void)state;
	if (d == NULL)
		return -1;
	base = realpath(d, NULL);
	make_dir("in");
	make_dir("in/sub");
	make_dir("out");
	make_file("in/file");
	make_link("../out", "in/esc");
	make_link("in", "link");
	make_link("../out/new", "in/dangle");
	make_link("loop2", "loop1");
	make_link("loop1", "loop2");
	return 0;
}

static int
teardown_tree(void **state)
{
	char *cmd = xstrfmt("rm -rf '%s'", base);
	int r = system(cmd);

	(void)state;
	free(cmd);
	free(base);
	return r == 0 ? 0 : -1;
}

/* Normalise rel (joined to base unless absolute) and compare with want. */
static void
check_norm(const char *in, const char *cwd, const char *want_rel)
{
	char *norm = NULL, *want = path_in(want_rel);

	assert_int_equal(scope_normalize(in, cwd, &norm), 0);
	assert_string_equal(norm, want);
	free(norm);
	free(want);
}

static void
check_norm_err(const char *in, const char *cwd, int err)
{
	char *norm = NULL;

	assert_int_equal(scope_normalize(in, cwd, &norm), err);
	assert_null(norm);
}

static void
test_normalize(void **state)
{
	char *p, *q, *norm;
	size_t i;

	(void)state;
	/* Existing path, "..", ".", trailing and duplicate slashes. */
	p = xstrfmt("%s//in/./sub/", base);
	check_norm(p, NULL, "in/sub");
	free(p);
	p = xstrfmt("%s/in/../out/x", base);
	check_norm(p, NULL, "out/x");
	free(p);
	p = xstrfmt("%s/in/sub/../../out/new/", base);
	check_norm(p, NULL, "out/new");
	free(p);
	/* Missing tail appended, "." dropped, ".." denied. */
	p = xstrfmt("%s/in/a/./b//c", base);
	check_norm(p, NULL, "in/a/b/c");
	free(p);
	p = xstrfmt("%s/in/missing/../file", base);
	check_norm_err(p, NULL, -EACCES);
	free(p);
	p = xstrfmt("%s/in/missing/..", base);
	check_norm_err(p, NULL, -EACCES);
	free(p);
	/* A symlink is judged by what it points to. */
	p = xstrfmt("%s/in/esc/f", base);
	check_norm(p, NULL, "out/f");
	free(p);
	p = xstrfmt("%s/link/sub/x", base);
	check_norm(p, NULL, "in/sub/x");
	free(p);
	p = xstrfmt("%s/in/dangle", base);
	check_norm(p, NULL, "out/new");
	free(p);
	p = xstrfmt("%s/loop1/x", base);
	check_norm_err(p, NULL, -ELOOP);
	free(p);
	/* Beneath a regular file: the rest is the missing tail. */
	p = xstrfmt("%s/in/file/x", base);
	check_norm(p, NULL, "in/file/x");
	free(p);
	/* Relative paths against cwd; none without one. */
	check_norm("in/sub/../file", base, "in/file");
	check_norm("./x", base, "x");
	p = xstrfmt("%s/in", base);
	check_norm("../out", p, "out");
	free(p);
	check_norm_err("x", NULL, -EINVAL);
	check_norm_err("x", "relative/cwd", -EINVAL);
	check_norm_err("", base, -EINVAL);
	/* Root and over-long paths. */
	assert_int_equal(scope_normalize("/", NULL, &norm), 0);
	assert_string_equal(norm, "/");
	free(norm);
	assert_int_equal(scope_normalize("//./", NULL, &norm), 0);
	assert_string_equal(norm, "/");
	free(norm);
	q = xmalloc(PATH_MAX + 10);
	for (i = 0; i < PATH_MAX + 8; i += 2)
		memcpy(q + i, "/a", 2);
	q[PATH_MAX + 8] = '\0';
	check_norm_err(q, NULL, -ENAMETOOLONG);
	free(q);
}

static struct scope_rule
rule(const char *target, enum scope_perm perm, bool recursive, bool deny)
{
	struct scope_rule r = { (char *)(uintptr_t)target, perm, recursive,
		deny };

	return r;
}

#define W(t) rule(t, SCOPE_WRITE, true, false)
#define R(t) rule(t, SCOPE_READ, true, false)
#define WF(t) rule(t, SCOPE_WRITE, false, false)
#define RF(t) rule(t, SCOPE_READ, false, false)
#define DW(t) rule(t, SCOPE_WRITE, true, true)
#define DR(t) rule(t, SCOPE_READ, true, true)
#define DWF(t) rule(t, SCOPE_WRITE, false, true)
#define DRF(t) rule(t, SCOPE_READ, false, true)

static struct scope_trie *
trie_of(const struct scope_rule *v, size_t n)
{
	struct scope_trie *t = scope_trie_new();
	size_t i;

	for (i = 0; i < n; i++)
		scope_trie_add(t, &v[i], NULL);
	return t;
}

static void
test_covers_path(void **state)
{
	struct scope_rule w = W("/a/b"), wf = WF("/a/b"), root = W("/");
	struct scope_rule rootf = WF("/");

	(void)state;
	assert_true(scope_rule_covers_path(&w, "/a/b"));
	assert_true(scope_rule_covers_path(&w, "/a/b/c/d"));
	assert_false(scope_rule_covers_path(&w, "/a/bc"));
	assert_false(scope_rule_covers_path(&w, "/a"));
	assert_true(scope_rule_covers_path(&wf, "/a/b"));
	assert_true(scope_rule_covers_path(&wf, "/a/b/c"));
	assert_false(scope_rule_covers_path(&wf, "/a/b/c/d"));
	assert_false(scope_rule_covers_path(&wf, "/a/bc"));
	assert_true(scope_rule_covers_path(&root, "/x/y"));
	assert_true(scope_rule_covers_path(&rootf, "/"));
	assert_true(scope_rule_covers_path(&rootf, "/x"));
	assert_false(scope_rule_covers_path(&rootf, "/x/y"));
}

static void
test_overlap_pairs(void **state)
{
	const struct {
		struct scope_rule a, b;
		bool want;
	} t[] = {
		{ W("/a"), W("/a/b/c"), true },
		{ W("/a/b"), W("/a/bc"), false },
		{ W("/a/b"), W("/a/c"), false },
		{ WF("/a"), W("/a/b"), true },
		{ WF("/a"), W("/a/b/c"), false },
		{ WF("/a"), WF("/a/b"), true },
		{ WF("/a/b"), WF("/a/c"), false },
		{ WF("/a"), WF("/a"), true },
		{ W("/"), WF("/z/y"), true },
		{ WF("/"), W("/z"), true },
		{ WF("/"), W("/z/y"), false },
	};
	size_t i;

	(void)state;
	for (i = 0; i < sizeof t / sizeof t[0]; i++) {
		assert_int_equal(
			scope_rules_overlap(&t[i].a, &t[i].b), t[i].want);
		assert_int_equal(
			scope_rules_overlap(&t[i].b, &t[i].a), t[i].want);
	}
}

static void
test_check(void **state)
{
	struct scope_rule v[] = {
		R("/r"),
		W("/r/w"),
		WF("/flat"),
		DR("/r/w/secret"),
		DW("/r/w/ro"),
		W("/a/b"),
		RF("/n"),
		W("/n/deep/er"),
		DWF("/r/w/dflat"),
	};
	struct scope_trie *t = trie_of(v, sizeof v / sizeof v[0]);
	struct scope_trie *rev = scope_trie_new();
	static const struct {
		const char *path;
		enum scope_perm want;
	} c[] = {
		{ "/", SCOPE_NONE },
		{ "/r", SCOPE_READ },
		{ "/r/x/y", SCOPE_READ },
		{ "/r/w", SCOPE_WRITE }, /* max of read and write */
		{ "/r/w/x/y", SCOPE_WRITE },
		{ "/r/w/secret", SCOPE_NONE }, /* deny-read removes */
		{ "/r/w/secret/x", SCOPE_NONE },
		{ "/r/w/ro/x", SCOPE_READ }, /* deny-write caps */
		{ "/r/w/dflat", SCOPE_READ }, /* flat deny: self */
		{ "/r/w/dflat/x", SCOPE_READ }, /* and children */
		{ "/r/w/dflat/x/y", SCOPE_WRITE }, /* not grandchildren */
		{ "/flat", SCOPE_WRITE },
		{ "/flat/child", SCOPE_WRITE },
		{ "/flat/child/grand", SCOPE_NONE },
		{ "/a/b", SCOPE_WRITE },
		{ "/a/bc", SCOPE_NONE },
		{ "/a", SCOPE_NONE },
		{ "/n/deep", SCOPE_READ },
		{ "/n/deep/x", SCOPE_NONE },
		{ "/n/deep/er/x", SCOPE_WRITE },
	};
	size_t i;

	(void)state;
	/* The order rules are added in does not matter. */
	for (i = sizeof v / sizeof v[0]; i > 0; i--)
		scope_trie_add(rev, &v[i - 1], NULL);
	for (i = 0; i < sizeof c / sizeof c[0]; i++) {
		if (scope_trie_check(t, c[i].path) != c[i].want)
			fail_msg("check %s: got %d want %d", c[i].path,
				scope_trie_check(t, c[i].path), c[i].want);
		assert_int_equal(scope_trie_check(rev, c[i].path), c[i].want);
	}
	scope_trie_free(t);
	scope_trie_free(rev);
}

static void
test_deny_without_allow(void **state)
{
	struct scope_rule v[] = { DW("/x"), W("/y"), DR("/y") };
	struct scope_trie *t = trie_of(v, 3);

	(void)state;
	assert_int_equal(scope_trie_check(t, "/x/a"), SCOPE_NONE);
	assert_int_equal(scope_trie_check(t, "/y/a"), SCOPE_NONE);
	scope_trie_free(t);
}

static void
test_trie_covers(void **state)
{
	struct scope_rule v[] = {
		W("/w"),
		R("/r"),
		WF("/f"),
		DW("/w/ro"),
		DR("/w/hidden/deep/er"),
		DR("/r/sub/x"),
		W("/r/sub/wr"),
		DWF("/w/flat"),
	};
	struct scope_trie *t = trie_of(v, sizeof v / sizeof v[0]);
	const struct {
		struct scope_rule req;
		bool want;
	} c[] = {
		{ W("/w/a/b"), true }, /* write under write */
		{ W("/w"), false }, /* covers the deny-write /w/ro */
		{ R("/w"), false }, /* covers the deny-read */
		{ WF("/w"), false }, /* deny-write /w/ro is a child */
		{ RF("/w"), true }, /* read is not lowered by deny-write */
		{ WF("/w/hidden"), true }, /* deny is a grandchild */
		{ W("/w/hidden"), false }, { R("/w/hidden"), false },
		{ W("/w/ro/x"), false }, /* beneath a deny-write */
		{ R("/w/ro/x"), true },
		{ W("/r/a"), false }, /* write under read-only */
		{ R("/r/a"), true },
		{ R("/r/sub"), false }, /* covers a deny-read */
		{ RF("/r/sub"), false }, /* deny at a direct child */
		{ W("/r/sub/wr/x"), true }, { WF("/f"), true },
		{ W("/f"), false }, /* recursive under flat */
		{ WF("/f/c"), false }, /* children of a child */
		{ R("/f/c"), false }, { W("/other"), false },
		{ W("/wx"), false }, /* "/w" does not cover "/wx" */
		{ W("/w/flat"), false }, /* flat deny on target */
		{ W("/w/flat/x"), false }, { W("/w/flat/x/y"), true },
		{ DR("/anything"), true }, /* a deny grants nothing */
	};
	size_t i;

	(void)state;
	for (i = 0; i < sizeof c / sizeof c[0]; i++) {
		if (scope_trie_covers(t, &c[i].req) != c[i].want)
			fail_msg("covers %s %s rec=%d: want %d",
				c[i].req.perm == SCOPE_WRITE ? "write" : "read",
				c[i].req.target, c[i].req.recursive, c[i].want);
	}
	scope_trie_free(t);
}

struct seen {
	char buf[512];
	int stop_after;
	int n;
};

static int
collect_cb(const struct scope_rule *found, const void *owner, void *arg)
{
	struct seen *s = arg;
	size_t len = strlen(s->buf);

	snprintf(s->buf + len, sizeof s->buf - len, "%s%s=%s", len ? " " : "",
		found->target, (const char *)owner);
	if (++s->n == s->stop_after)
		return 42;
	return 0;
}

/* Sorted space-separated list of what foreach_overlap reported. */
static char *
overlaps(const struct scope_trie *t, struct scope_rule req, enum scope_perm min,
	int *ret)
{
	struct seen s = { "", 0, 0 };
	char *words[32], *save = NULL, *w, *out;
	size_t n = 0, i, j;

	*ret = scope_trie_foreach_overlap(t, &req, min, collect_cb, &s);
	for (w = strtok_r(s.buf, " ", &save); w != NULL && n < 32;
		w = strtok_r(NULL, " ", &save))
		words[n++] = w;
	for (i = 1; i < n; i++)
		for (j = i; j > 0 && strcmp(words[j - 1], words[j]) > 0; j--) {
			w = words[j];
			words[j] = words[j - 1];
			words[j - 1] = w;
		}
	out = xstrdup("");
	for (i = 0; i < n; i++) {
		w = xstrfmt("%s%s%s", out, i ? " " : "", words[i]);
		free(out);
		out = w;
	}
	return out;
}

static void
test_trie_overlap(void **state)
{
	struct scope_trie *t = scope_trie_new();
	struct scope_rule wa = W("/p/a"), wb = WF("/p/b"), rc = R("/p/c");
	struct scope_rule wroot = WF("/"), wdeep = W("/p/a/x/y");
	struct scope_rule deny = DW("/p/a/z"), wsib = W("/p/ab");
	const struct {
		struct scope_rule req;
		enum scope_perm min;
		const char *want;
	} c[] = {
		{ W("/p"), SCOPE_WRITE,
			"/=R /p/a/x/y=D /p/a=A /p/ab=E /p/b=B" },
		{ W("/p"), SCOPE_READ,
			"/=R /p/a/x/y=D /p/a=A /p/ab=E /p/b=B /p/c=C" },
		{ WF("/p"), SCOPE_READ, "/=R /p/a=A /p/ab=E /p/b=B /p/c=C" },
		{ W("/p/a/x"), SCOPE_WRITE, "/p/a/x/y=D /p/a=A" },
		{ WF("/p/b/q"), SCOPE_WRITE, "/p/b=B" },
		{ W("/p/b/q/r"), SCOPE_WRITE, "" },
		{ W("/p/a"), SCOPE_WRITE, "/p/a/x/y=D /p/a=A" },
		{ W("/q"), SCOPE_WRITE, "/=R" },
		{ W("/"), SCOPE_WRITE, "/=R /p/a/x/y=D /p/a=A /p/ab=E /p/b=B" },
		{ WF("/"), SCOPE_WRITE, "/=R" },
	};
	size_t i;
	char *got;
	int r;

	(void)state;
	scope_trie_add(t, &wa, "A");
	scope_trie_add(t, &wb, "B");
	scope_trie_add(t, &rc, "C");
	scope_trie_add(t, &wdeep, "D");
	scope_trie_add(t, &wsib, "E");
	scope_trie_add(t, &wroot, "R");
	scope_trie_add(t, &deny, "A");
	for (i = 0; i < sizeof c / sizeof c[0]; i++) {
		got = overlaps(t, c[i].req, c[i].min, &r);
		assert_int_equal(r, 0);
		if (strcmp(got, c[i].want) != 0)
			fail_msg("overlap %s: got \"%s\" want \"%s\"",
				c[i].req.target, got, c[i].want);
		free(got);
	}
	/* The callback's non-zero return stops the walk. */
	{
		struct seen s = { "", 2, 0 };
		struct scope_rule req = W("/");

		assert_int_equal(scope_trie_foreach_overlap(
					 t, &req, SCOPE_READ, collect_cb, &s),
			42);
		assert_int_equal(s.n, 2);
	}
	scope_trie_free(t);
}

static void
test_trie_add_remove(void **state)
{
	struct scope_trie *t = scope_trie_new();
	struct scope_rule w = W("/a/b"), w2 = W("/a/b/c"), d = DR("/a/b");
	int o1, o2;

	(void)state;
	scope_trie_add(t, &w, &o1);
	scope_trie_add(t, &w, &o2);
	scope_trie_add(t, &w2, &o1);
	scope_trie_add(t, &d, &o2);
	assert_int_equal(scope_trie_count(t), 4);
	assert_int_equal(scope_trie_check(t, "/a/b/x"), SCOPE_NONE);
	assert_int_equal(scope_trie_remove(t, &d, &o1), -ENOENT);
	assert_int_equal(scope_trie_remove(t, &d, &o2), 0);
	assert_int_equal(scope_trie_remove(t, &d, &o2), -ENOENT);
	assert_int_equal(scope_trie_check(t, "/a/b/x"), SCOPE_WRITE);
	assert_int_equal(scope_trie_remove(t, &w, &o1), 0);
	assert_int_equal(scope_trie_check(t, "/a/b/x"), SCOPE_WRITE);
	assert_int_equal(scope_trie_remove(t, &w, &o2), 0);
	assert_int_equal(scope_trie_check(t, "/a/b/x"), SCOPE_NONE);
	assert_int_equal(scope_trie_check(t, "/a/b/c/x"), SCOPE_WRITE);
	assert_int_equal(scope_trie_remove(t, &w2, &o1), 0);
	assert_int_equal(scope_trie_count(t), 0);
	assert_int_equal(scope_trie_remove(t, &w2, &o1), -ENOENT);
	/* Pruned branches come back when re-added. */
	scope_trie_add(t, &w2, NULL);
	assert_int_equal(scope_trie_check(t, "/a/b/c"), SCOPE_WRITE);
	assert_true(scope_trie_covers(t, &w2));
	scope_trie_free(t);
	scope_trie_free(NULL);
}

static void
test_many_rules(void **state)
{
	struct scope_trie *t = scope_trie_new();
	struct scope_rule r = W("/x");
	char *p;
	size_t i;

	(void)state;
	/* Thousands of siblings: lookups stay exact through the sort. */
	for (i = 0; i < 5000; i++) {
		p = xstrfmt("/many/d%zu", (i * 7919) % 5000);
		r.target = p;
		scope_trie_add(t, &r, NULL);
		free(p);
	}
	assert_int_equal(scope_trie_count(t), 5000);
	assert_int_equal(scope_trie_check(t, "/many/d4999/x"), SCOPE_WRITE);
	assert_int_equal(scope_trie_check(t, "/many/d0"), SCOPE_WRITE);
	assert_int_equal(scope_trie_check(t, "/many/d5000"), SCOPE_NONE);
	assert_int_equal(scope_trie_check(t, "/many"), SCOPE_NONE);
	scope_trie_free(t);
}

static void
test_scope_check_path(void **state)
{
	struct scope_rules rules = { NULL, 0, 0 };
	struct scope_rule r;
	struct scope *s;
	char *in = path_in("in"), *p;

	(void)state;
	r = W(in);
	scope_rules_add(&rules, &r);
	s = scope_new(&rules);
	scope_rules_clear(&rules);
	assert_int_equal(scope_check_path(s, "file", in), SCOPE_WRITE);
	assert_int_equal(scope_check_path(s, "sub/new", in), SCOPE_WRITE);
	/* The escape through a symlink is judged by its target. */
	assert_int_equal(scope_check_path(s, "esc/f", in), SCOPE_NONE);
	assert_int_equal(scope_check_path(s, "dangle", in), SCOPE_NONE);
	assert_int_equal(scope_check_path(s, "missing/../x", in), SCOPE_NONE);
	assert_int_equal(scope_check_path(s, "x", NULL), SCOPE_NONE);
	/* A symlink into scope is in scope. */
	p = path_in("link/sub/f");
	assert_int_equal(scope_check_path(s, p, NULL), SCOPE_WRITE);
	free(p);
	p = path_in("in/../out/f");
	assert_int_equal(scope_check_path(s, p, NULL), SCOPE_NONE);
	free(p);
	scope_free(s);
	scope_free(NULL);
	free(in);
}

static void
test_effective_write(void **state)
{
	struct scope_rules own = { NULL, 0, 0 }, c1 = { NULL, 0, 0 };
	struct scope_rules c2 = { NULL, 0, 0 }, eff;
	const struct scope_rules *children[3];
	struct scope_rule v[] = { W("/w"), R("/r"), DR("/w/secret"), W("/w/c1"),
		R("/w/c1r"), WF("/w/c2"), W("/w/c1") };
	struct scope *s;

	(void)state;
	scope_rules_add(&own, &v[0]);
	scope_rules_add(&own, &v[1]);
	scope_rules_add(&own, &v[2]);
	scope_rules_add(&c1, &v[3]);
	scope_rules_add(&c1, &v[4]);
	scope_rules_add(&c2, &v[5]);
	scope_rules_add(&c2, &v[6]); /* same hole twice: kept once */
	children[0] = &c1;
	children[1] = NULL;
	children[2] = &c2;
	scope_effective_write(&own, children, 3, &eff);
	assert_int_equal(eff.n, 4);
	s = scope_new(&eff);
	assert_int_equal(scope_trie_check(s->trie, "/w/x"), SCOPE_WRITE);
	assert_int_equal(scope_trie_check(s->trie, "/w/c1/x"), SCOPE_READ);
	assert_int_equal(scope_trie_check(s->trie, "/w/c1r/x"), SCOPE_WRITE);
	assert_int_equal(scope_trie_check(s->trie, "/w/c2/x"), SCOPE_READ);
	assert_int_equal(scope_trie_check(s->trie, "/w/c2/x/y"), SCOPE_WRITE);
	assert_int_equal(scope_trie_check(s->trie, "/w/secret/x"), SCOPE_READ);
	assert_int_equal(scope_trie_check(s->trie, "/r/x"), SCOPE_NONE);
	/* Delegation against the effective write: holes are not subsets. */
	assert_true(scope_trie_covers(s->trie, &v[4]));
	assert_false(scope_trie_covers(s->trie, &v[3]));
	assert_false(scope_trie_covers(s->trie, &v[0]));
	scope_free(s);
	scope_rules_clear(&eff);
	scope_effective_write(&own, NULL, 0, &eff);
	assert_int_equal(eff.n, 2);
	assert_true(eff.v[1].deny);
	assert_int_equal(eff.v[1].perm, SCOPE_WRITE);
	scope_rules_clear(&eff);
	scope_rules_clear(&own);
	scope_rules_clear(&c1);
	scope_rules_clear(&c2);
}

static void
test_rules_vector(void **state)
{
	struct scope_rules a = { NULL, 0, 0 }, b = { NULL, 0, 0 };
	struct scope_rule v[] = { W("/a"), WF("/a"), DW("/a"), R("/a") };
	struct scope_rule missing = DR("/a");
	size_t i;

	(void)state;
	for (i = 0; i < 4; i++)
		scope_rules_add(&a, &v[i]);
	scope_rules_copy(&b, &a);
	assert_int_equal(b.n, 4);
	assert_ptr_not_equal(b.v[0].target, v[0].target);
	for (i = 0; i < 4; i++)
		assert_int_equal(scope_rules_find(&b, &v[i]), (long)i);
	assert_int_equal(scope_rules_find(&b, &missing), -1);
	scope_rules_clear(&a);
	scope_rules_clear(&b);
	scope_rules_clear(&b);
	assert_int_equal(b.n, 0);
}

static void
json_err(const char *text, const char *cwd, const char *want_msg)
{
	struct json_object *j = json_tokener_parse(text);
	struct scope_rules rules = { NULL, 0, 0 };
	char *msg = NULL;

	assert_non_null(j);
	assert_true(scope_rules_from_json(j, cwd, &rules, &msg) < 0);
	assert_null(rules.v);
	if (msg == NULL || strcmp(msg, want_msg) != 0)
		fail_msg("%s: got \"%s\" want \"%s\"", text, msg, want_msg);
	free(msg);
	json_object_put(j);
}

static void
test_json(void **state)
{
	struct json_object *j, *out;
	struct scope_rules rules = { NULL, 0, 0 };
	char *msg = NULL, *big;
	const char *text;
	size_t i;

	(void)state;
	j = json_tokener_parse("[{\"target\":\"/a//b/\",\"permission\":"
			       "\"write\"},{\"target\":\"/c\",\"permission\":"
			       "\"read\",\"recursive\":false,\"deny\":true}]");
	assert_int_equal(scope_rules_from_json(j, NULL, &rules, &msg), 0);
	assert_int_equal(rules.n, 2);
	assert_string_equal(rules.v[0].target, "/a/b");
	assert_int_equal(rules.v[0].perm, SCOPE_WRITE);
	assert_true(rules.v[0].recursive);
	assert_false(rules.v[0].deny);
	assert_false(rules.v[1].recursive);
	assert_true(rules.v[1].deny);
	json_object_put(j);
	out = scope_rules_to_json(&rules);
	text = json_object_to_json_string_ext(
		out, JSON_C_TO_STRING_PLAIN | JSON_C_TO_STRING_NOSLASHESCAPE);
	assert_string_equal(text,
		"[{\"target\":\"/a/b\",\"permission\":\"write\",\"recursive\":"
		"true},{\"target\":\"/c\",\"permission\":\"read\",\"recursive\":"
		"false,\"deny\":true}]");
	json_object_put(out);
	scope_rules_clear(&rules);

	json_err("{}", NULL, "scope must be an array of rules");
	json_err("[1]", NULL, "scope[0] must be an object");
	json_err("[{\"target\":\"/a\",\"permission\":\"write\"},"
		 "{\"target\":\"/a\",\"permission\":\"write\"},"
		 "{\"target\":\"rel\",\"permission\":\"write\"}]",
		NULL, "scope[2].target must be an absolute path");
	json_err("[{\"permission\":\"write\"}]", NULL,
		"scope[0].target must be a non-empty path string");
	json_err("[{\"target\":\"\",\"permission\":\"write\"}]", NULL,
		"scope[0].target must be a non-empty path string");
	json_err("[{\"target\":\"/a\\u0000b\",\"permission\":\"write\"}]", NULL,
		"scope[0].target must not contain NUL bytes");
	json_err("[{\"target\":\"/a\",\"permission\":\"all\"}]", NULL,
		"scope[0].permission must be \"read\" or \"write\"");
	json_err("[{\"target\":\"/a\"}]", NULL,
		"scope[0].permission must be \"read\" or \"write\"");
	json_err("[{\"target\":\"/a\",\"permission\":\"read\","
		 "\"recursive\":1}]",
		NULL, "scope[0].recursive must be a boolean");
	json_err("[{\"target\":\"/a\",\"permission\":\"read\","
		 "\"deny\":\"yes\"}]",
		NULL, "scope[0].deny must be a boolean");
	json_err("[{\"target\":\"/a\",\"permission\":\"read\","
		 "\"Deny\":true}]",
		NULL, "scope[0] has unknown field \"Deny\"");
	json_err("[{\"target\":\"/nonexistent-scope-test/x/../y\","
		 "\"permission\":\"read\"}]",
		NULL,
		"scope[0].target has \"..\" below a directory that does not "
		"exist");
	big = xstrdup("[");
	for (i = 0; i <= SCOPE_MAX_RULES; i++) {
		char *n = xstrfmt("%s%s{\"target\":\"/a\",\"permission\":"
				  "\"read\"}",
			big, i ? "," : "");
		free(big);
		big = n;
	}
	msg = xstrfmt("%s]", big);
	free(big);
	json_err(msg, NULL, "scope has 257 rules, at most 256 are allowed");
	free(msg);

	/* Relative targets against cwd, and the single-rule parser. */
	{
		struct scope_rule r;

		msg = NULL;
		j = json_tokener_parse(
			"{\"target\":\"x/./y\",\"permission\":\"read\"}");
		assert_int_equal(
			scope_rule_from_json(j, "/nonexistent-st", &r, &msg),
			0);
		assert_string_equal(r.target, "/nonexistent-st/x/y");
		scope_rule_clear(&r);
		assert_int_equal(
			scope_rule_from_json(j, NULL, &r, &msg), -EINVAL);
		assert_string_equal(
			msg, "scope rule.target must be an absolute path");
		free(msg);
		json_object_put(j);
	}
}

static void
test_spec(void **state)
{
	static const struct {
		const char *spec;
		const char *target;
		enum scope_perm perm;
		bool recursive, deny;
		const char *desc;
	} ok[] = {
		{ "write:/a/b", "/a/b", SCOPE_WRITE, true, false,
			"write /a/b (recursive)" },
		{ "read:/a/b:flat", "/a/b", SCOPE_READ, false, false,
			"read /a/b (flat)" },
		{ "deny-write:/a", "/a", SCOPE_WRITE, true, true,
			"deny-write /a (recursive)" },
		{ "deny-read:/a/:flat", "/a", SCOPE_READ, false, true,
			"deny-read /a (flat)" },
		{ "write:rel/x", "/nonexistent-st/rel/x", SCOPE_WRITE, true,
			false, "write /nonexistent-st/rel/x (recursive)" },
		{ "write:/a:b", "/a:b", SCOPE_WRITE, true, false,
			"write /a:b (recursive)" },
	};
	static const struct {
		const char *spec, *msg;
	} bad[] = {
		{ "exec:/a",
			"scope \"exec:/a\" must start with read:, write:, "
			"deny-read: or deny-write:" },
		{ "/a",
			"scope \"/a\" must start with read:, write:, "
			"deny-read: or deny-write:" },
		{ "write:", "scope \"write:\" has no path" },
		{ "write::flat", "scope \"write::flat\" has no path" },
		{ "read:/nonexistent-st/../x",
			"scope path has \"..\" below a directory that does "
			"not exist" },
	};
	struct scope_rule r;
	char *msg = NULL, *d;
	size_t i;

	(void)state;
	for (i = 0; i < sizeof ok / sizeof ok[0]; i++) {
		assert_int_equal(scope_rule_parse_spec(ok[i].spec,
					 "/nonexistent-st", &r, &msg),
			0);
		assert_string_equal(r.target, ok[i].target);
		assert_int_equal(r.perm, ok[i].perm);
		assert_int_equal(r.recursive, ok[i].recursive);
		assert_int_equal(r.deny, ok[i].deny);
		d = scope_rule_describe(&r);
		assert_string_equal(d, ok[i].desc);
		free(d);
		scope_rule_clear(&r);
		scope_rule_clear(&r);
	}
	for (i = 0; i < sizeof bad / sizeof bad[0]; i++) {
		msg = NULL;
		assert_true(
			scope_rule_parse_spec(bad[i].spec, "/", &r, &msg) < 0);
		assert_non_null(msg);
		assert_string_equal(msg, bad[i].msg);
		free(msg);
	}
	msg = NULL;
	assert_int_equal(
		scope_rule_parse_spec("write:x", NULL, &r, &msg), -EINVAL);
	assert_string_equal(msg, "scope path must be an absolute path");
	free(msg);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_normalize),
		cmocka_unit_test(test_covers_path),
		cmocka_unit_test(test_overlap_pairs),
		cmocka_unit_test(test_check),
		cmocka_unit_test(test_deny_without_allow),
		cmocka_unit_test(test_trie_covers),
		cmocka_unit_test(test_trie_overlap),
		cmocka_unit_test(test_trie_add_remove),
		cmocka_unit_test(test_many_rules),
		cmocka_unit_test(test_scope_check_path),
		cmocka_unit_test(test_effective_write),
		cmocka_unit_test(test_rules_vector),
		cmocka_unit_test(test_json),
		cmocka_unit_test(test_spec),
	};

	return cmocka_run_group_tests(tests, setup_tree, teardown_tree);
}
