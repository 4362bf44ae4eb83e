/* SPDX-License-Identifier: ISC */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include "tests/unit/tools_fixture.h"
#include "worker/provider.h"

static void
expect_error(struct tool_result res, const char *needle)
{
	assert_true(res.is_error);
	assert_contains(res.output, needle);
	tool_result_clear(&res);
}

static void
expect_ok(struct tool_result res, const char *needle)
{
	if (res.is_error)
		fail_msg("unexpected tool error: %s", res.output);
	if (needle != NULL)
		assert_contains(res.output, needle);
	tool_result_clear(&res);
}

static struct tool_result
run_path(const char *tool, const char *path)
{
	return fx_run(tool, fx_args("path", path, NULL));
}

static void
test_defs(void **state)
{
	const struct llm_tool_def *defs;
	struct json_object *o;
	size_t n, i;

	defs = tools_builtin_defs(&n);
	assert_int_equal(n, 6);
	for (i = 0; i < n; i++) {
		/* The table is sorted and duplicate-free. */
		if (i > 0)
			assert_true(strcmp(defs[i - 1].name, defs[i].name) < 0);
		assert_true(tools_is_builtin(defs[i].name));
		o = json_tokener_parse(defs[i].schema_json);
		assert_non_null(o);
		assert_true(json_object_is_type(o, json_type_object));
		json_object_put(o);
	}
	assert_false(tools_is_builtin("spawn_pod"));
	assert_null(
		tool_run_start(&fx.env, "spawn_pod", "{}", fx_done_cb, NULL));
}

static void
test_args(void **state)
{
	expect_error(
		fx_run("read", xstrdup("{}")), "missing argument \"path\"");
	expect_error(fx_run("read", xstrdup("{\"path\":1}")),
		"argument \"path\" must be a string");
	expect_error(fx_run("read", xstrdup("{\"path\":\"x\"} trailing")),
		"not valid JSON");
	expect_error(fx_run("read", xstrdup("[1]")), "must be a JSON object");
	expect_error(
		fx_run("edit", fx_args("path", "file.txt", "old", "a", NULL)),
		"missing argument \"new\"");
	expect_error(
		fx_run("bash", xstrdup("{}")), "missing argument \"command\"");
	expect_error(fx_run("grep", fx_args("pattern", "(", NULL)),
		"invalid regular expression");
}

/* Found by fuzz_tool_args: an error quoting a path that is not valid
 * UTF-8 gave a summary and output that were not valid UTF-8 either. */
static void
test_args_bad_utf8(void **state)
{
	struct tool_result res;

	res = fx_run("read", xstrdup("{\"path\":\"a\xff\xc3.txt\"}"));
	assert_true(res.is_error);
	assert_contains(res.summary, "a\xef\xbf\xbd\xef\xbf\xbd.txt");
	assert_contains(res.output, "a\xef\xbf\xbd\xef\xbf\xbd.txt");
	assert_not_contains(res.summary, "\xff");
	tool_result_clear(&res);
}

static void
test_cancel_sync(void **state)
{
	struct fx_wait w = { 0 };
	struct tool_run *run;

	run = tool_run_start(
		&fx.env, "read", "{\"path\":\"file.txt\"}", fx_done_cb, &w);
	assert_non_null(run);
	tool_run_cancel(run);
	event_base_loop(fx.base, EVLOOP_NONBLOCK);
	assert_false(w.done);
}

static void
test_read_basic(void **state)
{
	struct tool_result res;

	res = run_path("read", "file.txt");
	assert_false(res.is_error);
	assert_string_equal(
		res.output, "     1\talpha\n     2\tbeta\n     3\tgamma\n");
	assert_contains(res.summary, "lines 1-3 of 3");
	tool_result_clear(&res);

	res = fx_run("read",
		fx_args("path", "file.txt", "=offset", "2", "=limit", "1",
			NULL));
	assert_false(res.is_error);
	assert_contains(res.output, "     2\tbeta\n");
	assert_not_contains(res.output, "alpha");
	assert_not_contains(res.output, "gamma");
	assert_contains(res.output, "(showing lines 2-2 of 3)");
	tool_result_clear(&res);

	expect_ok(fx_run("read",
			  fx_args("path", "file.txt", "=offset", "9", NULL)),
		"past the end");
	fx_write("in/empty", "");
	expect_ok(run_path("read", "empty"), "(empty file)");
	expect_error(run_path("read", "nope.txt"), "does not exist");
	expect_error(run_path("read", "sub"), "is a directory");
	expect_error(fx_run("read",
			     fx_args("path", "file.txt", "=offset", "0", NULL)),
		"at least 1");
}

static void
test_read_binary(void **state)
{
	char *p = fx_path("in/bin");
	FILE *f = fopen(p, "w");

	fwrite("ab\0cd", 1, 5, f);
	fclose(f);
	free(p);
	expect_error(run_path("read", "bin"), "binary file");
}

static void
test_read_fifo(void **state)
{
	char *p = fx_path("in/fifo");

	assert_int_equal(mkfifo(p, 0600), 0);
	free(p);
	/* Must not block the worker. */
	expect_error(run_path("read", "fifo"), "not a regular file");
}

static void
test_output_cap(void **state)
{
	char *big = xmalloc(200 * 1024 + 1), *p;
	struct tool_result res;
	size_t i;

	/* 200 KiB: 2048 lines of 99 characters + newline. */
	for (i = 0; i < 2048; i++) {
		memset(big + i * 100, 'a' + (char)(i % 26), 99);
		big[i * 100 + 99] = '\n';
	}
	big[2048 * 100] = '\0';
	fx_write("in/big.txt", big);
	free(big);
	res = fx_run(
		"read", fx_args("path", "big.txt", "=limit", "5000", NULL));
	assert_false(res.is_error);
	assert_contains(res.output, "[output truncated: ");
	assert_contains(res.output, "bytes total, showing the first 65536]");
	assert_true(strlen(res.output) <= 65536 + 100);
	p = strstr(res.output, "[output truncated: ");
	/* Numbered lines: 2048 * (7 + 100) bytes. */
	assert_true(strtoul(p + strlen("[output truncated: "), NULL, 10) ==
		2048 * 107);
	tool_result_clear(&res);
}

static void
test_write_read_before(void **state)
{
	char *s;

	/* An existing file that was not read. */
	expect_error(
		fx_run("write",
			fx_args("path", "file.txt", "content", "new\n", NULL)),
		"has not been read");
	expect_ok(run_path("read", "file.txt"), "alpha");
	expect_ok(
		fx_run("write",
			fx_args("path", "file.txt", "content", "new\n", NULL)),
		"Replaced");
	s = fx_slurp("in/file.txt");
	assert_string_equal(s, "new\n");
	free(s);
	/* Our own write counts as read: writing again works. */
	expect_ok(fx_run("write",
			  fx_args("path", "file.txt", "content", "newer\n",
				  NULL)),
		NULL);
	/* Changed behind the pod's back. */
	fx_write("in/file.txt", "external\n");
	expect_error(fx_run("write",
			     fx_args("path", "file.txt", "content", "x", NULL)),
		"changed since it was last read");
	s = fx_slurp("in/file.txt");
	assert_string_equal(s, "external\n");
	free(s);
}

static void
test_write_new(void **state)
{
	char *s;

	expect_ok(fx_run("write",
			  fx_args("path", "a/b/c.txt", "content", "deep\n",
				  NULL)),
		"Created");
	s = fx_slurp("in/a/b/c.txt");
	assert_string_equal(s, "deep\n");
	free(s);
	s = fx_path("in/abs.txt");
	expect_ok(fx_run("write", fx_args("path", s, "content", "x", NULL)),
		NULL);
	free(s);
	s = fx_slurp("in/abs.txt");
	assert_string_equal(s, "x");
	free(s);
}

static void
test_edit(void **state)
{
	char *s;

	fx_write("in/e.txt", "one two two three\n");
	expect_error(fx_run("edit",
			     fx_args("path", "e.txt", "old", "one", "new", "1",
				     NULL)),
		"has not been read");
	expect_ok(run_path("read", "e.txt"), NULL);
	expect_ok(fx_run("edit",
			  fx_args("path", "e.txt", "old", "one", "new", "1",
				  NULL)),
		"1 replacement");
	s = fx_slurp("in/e.txt");
	assert_string_equal(s, "1 two two three\n");
	free(s);
	/* Consecutive edits need no new read. */
	expect_error(fx_run("edit",
			     fx_args("path", "e.txt", "old", "two", "new", "2",
				     NULL)),
		"matches 2 times");
	expect_error(fx_run("edit",
			     fx_args("path", "e.txt", "old", "zzz", "new", "2",
				     NULL)),
		"was not found");
	expect_error(fx_run("edit",
			     fx_args("path", "e.txt", "old", "two", "new",
				     "two", NULL)),
		"are the same");
	expect_ok(fx_run("edit",
			  fx_args("path", "e.txt", "old", "two", "new", "2",
				  "=replace_all", "true", NULL)),
		"2 replacements");
	s = fx_slurp("in/e.txt");
	assert_string_equal(s, "1 2 2 three\n");
	free(s);
	/* External modification (same size): refused until read again. */
	fx_write("in/e.txt", "1 2 2 THREE\n");
	expect_error(fx_run("edit",
			     fx_args("path", "e.txt", "old", "THREE", "new",
				     "4", NULL)),
		"changed since it was last read");
	expect_ok(run_path("read", "e.txt"), NULL);
	expect_ok(fx_run("edit",
			  fx_args("path", "e.txt", "old", "THREE", "new", "4",
				  NULL)),
		NULL);
	s = fx_slurp("in/e.txt");
	assert_string_equal(s, "1 2 2 4\n");
	free(s);
}

/* Every file tool refuses an absolute path outside scope. */
static void
test_escape_absolute(void **state)
{
	char *p = fx_path("out/secret.txt"), *d = fx_path("out");

	expect_error(run_path("read", p), "outside this pod's read scope");
	expect_error(fx_run("write", fx_args("path", p, "content", "x", NULL)),
		"outside this pod's write scope");
	expect_error(fx_run("edit",
			     fx_args("path", p, "old", "S", "new", "x", NULL)),
		"outside this pod's write scope");
	expect_error(fx_run("glob", fx_args("pattern", "*", "path", d, NULL)),
		"outside this pod's read scope");
	expect_error(
		fx_run("grep", fx_args("pattern", "SECRET", "path", d, NULL)),
		"outside this pod's read scope");
	expect_error(
		fx_run("grep", fx_args("pattern", "SECRET", "path", p, NULL)),
		"outside this pod's read scope");
	free(p);
	p = fx_path("out/new.txt");
	expect_error(fx_run("write", fx_args("path", p, "content", "x", NULL)),
		"outside this pod's write scope");
	assert_int_equal(access(p, F_OK), -1);
	free(p);
	expect_error(
		fx_run("write",
			fx_args("path", "/etc/passwd", "content", "x", NULL)),
		"/etc/passwd is outside this pod's write scope");
	free(d);
}

/* A symlink inside scope that points out is judged by its target. */
static void
test_escape_symlink_out(void **state)
{
	struct tool_result res;
	char *s;

	fx_symlink("out/secret.txt", "in/link_out");
	fx_symlink("out", "in/linkdir");
	fx_symlink("out/dangling", "in/dangle");
	expect_error(run_path("read", "link_out"), "outside this pod's read");
	expect_error(run_path("read", "linkdir/secret.txt"),
		"outside this pod's read");
	expect_error(fx_run("write",
			     fx_args("path", "link_out", "content", "x", NULL)),
		"outside this pod's write scope");
	expect_error(
		fx_run("write",
			fx_args("path", "linkdir/new", "content", "x", NULL)),
		"outside this pod's write scope");
	expect_error(fx_run("write",
			     fx_args("path", "dangle", "content", "x", NULL)),
		"outside this pod's write scope");
	expect_error(fx_run("edit",
			     fx_args("path", "link_out", "old", "S", "new", "x",
				     NULL)),
		"outside this pod's write scope");
	expect_error(fx_run("glob",
			     fx_args("pattern", "*", "path", "linkdir", NULL)),
		"outside this pod's read scope");
	/* A recursive grep does not follow the links out. */
	res = fx_run("grep", fx_args("pattern", "SECRET", NULL));
	assert_false(res.is_error);
	assert_not_contains(res.output, "SECRET\n");
	assert_contains(res.output, "no matches");
	tool_result_clear(&res);
	s = fx_path("out/dangling");
	assert_int_equal(access(s, F_OK), -1);
	free(s);
	s = fx_slurp("out/secret.txt");
	assert_string_equal(s, "SECRET\n");
	free(s);
}

/* A symlink outside that points in reaches the in-scope file. */
static void
test_symlink_in(void **state)
{
	char *p;

	fx_symlink("in/file.txt", "out/link_in");
	p = fx_path("out/link_in");
	expect_ok(run_path("read", p), "alpha");
	free(p);
}

static void
test_escape_dotdot(void **state)
{
	expect_error(run_path("read", "../out/secret.txt"),
		"outside this pod's read scope");
	expect_error(run_path("read", "sub/../../out/secret.txt"),
		"outside this pod's read scope");
	expect_error(fx_run("write",
			     fx_args("path", "nodir/../../out/x", "content",
				     "x", NULL)),
		"'..' in a path that does not exist yet is refused");
	expect_error(fx_run("write",
			     fx_args("path", "../out/x", "content", "x", NULL)),
		"outside this pod's write scope");
}

static void
test_escape_hardlink(void **state)
{
	char *o = fx_path("out/secret.txt"), *h = fx_path("in/hard"), *s;

	assert_int_equal(link(o, h), 0);
	expect_ok(run_path("read", "hard"), "SECRET");
	expect_error(
		fx_run("write", fx_args("path", "hard", "content", "x", NULL)),
		"hard link");
	expect_error(fx_run("edit",
			     fx_args("path", "hard", "old", "SECRET", "new",
				     "x", NULL)),
		"hard link");
	s = fx_slurp("out/secret.txt");
	assert_string_equal(s, "SECRET\n");
	free(s);
	free(o);
	free(h);
}

static void
test_escape_parent(void **state)
{
	expect_error(run_path("read", fx.root), "outside this pod's read");
	expect_error(fx_run("write",
			     fx_args("path", "../x.txt", "content", "x", NULL)),
		"outside this pod's write scope");
	expect_error(
		fx_run("glob", fx_args("pattern", "*", "path", "..", NULL)),
		"outside this pod's read scope");
	expect_error(
		fx_run("grep", fx_args("pattern", "a", "path", "..", NULL)),
		"outside this pod's read scope");
}

static void
test_flat_read_rule(void **state)
{
	struct tool_result res;
	char *a = fx_path("flat/a.txt"), *b = fx_path("flat/sub/b.txt");
	char *d = fx_path("flat");

	expect_ok(run_path("read", a), "flat a");
	expect_error(run_path("read", b), "outside this pod's read scope");
	expect_error(fx_run("write", fx_args("path", a, "content", "x", NULL)),
		"read-only");
	res = fx_run("glob", fx_args("pattern", "**", "path", d, NULL));
	assert_false(res.is_error);
	assert_contains(res.output, "flat/a.txt\n");
	assert_contains(res.output, "flat/sub/\n");
	assert_not_contains(res.output, "b.txt");
	tool_result_clear(&res);
	res = fx_run("grep", fx_args("pattern", "flat", "path", d, NULL));
	assert_contains(res.output, "a.txt:1:flat a");
	assert_not_contains(res.output, "flat b");
	tool_result_clear(&res);
	free(a);
	free(b);
	free(d);
}

static void
test_hole(void **state)
{
	char *s;

	expect_ok(run_path("read", "child/c.txt"), "child data");
	expect_error(
		fx_run("write",
			fx_args("path", "child/c.txt", "content", "x", NULL)),
		"outside this pod's write scope");
	expect_error(
		fx_run("write",
			fx_args("path", "child/new.txt", "content", "x", NULL)),
		"outside this pod's write scope");
	expect_error(fx_run("edit",
			     fx_args("path", "child/c.txt", "old", "child",
				     "new", "x", NULL)),
		"outside this pod's write scope");
	s = fx_slurp("in/child/c.txt");
	assert_string_equal(s, "child data\n");
	free(s);
	s = fx_slurp("in/child/new.txt");
	assert_null(s);
}

static void
test_glob(void **state)
{
	struct tool_result res;
	char *pat, name[64];
	int i;

	fx_write("in/a.c", "");
	fx_mkdir("in/src");
	fx_mkdir("in/src/x");
	fx_write("in/src/b.c", "");
	fx_write("in/src/d.h", "");
	fx_write("in/src/x/c.c", "");
	res = fx_run("glob", fx_args("pattern", "**/*.c", NULL));
	assert_false(res.is_error);
	assert_string_equal(res.output, "a.c\nsrc/b.c\nsrc/x/c.c\n");
	assert_contains(res.summary, "3 matches");
	tool_result_clear(&res);
	res = fx_run("glob", fx_args("pattern", "src/*.c", NULL));
	assert_string_equal(res.output, "src/b.c\n");
	tool_result_clear(&res);
	res = fx_run("glob", fx_args("pattern", "./src/*.c", NULL));
	assert_string_equal(res.output, "src/b.c\n");
	tool_result_clear(&res);
	pat = fx_path("in/src/*.h");
	res = fx_run("glob", fx_args("pattern", pat, NULL));
	assert_string_equal(res.output, "src/d.h\n");
	tool_result_clear(&res);
	free(pat);
	res = fx_run("glob", fx_args("pattern", "*.c", "path", "src", NULL));
	assert_string_equal(res.output, "src/b.c\n");
	tool_result_clear(&res);
	res = fx_run("glob", fx_args("pattern", "*.zzz", NULL));
	assert_false(res.is_error);
	assert_contains(res.output, "no paths match");
	tool_result_clear(&res);
	/* The cap. */
	fx_mkdir("in/many");
	for (i = 0; i < 1100; i++) {
		snprintf(name, sizeof(name), "in/many/f%04d", i);
		fx_write(name, "");
	}
	res = fx_run("glob", fx_args("pattern", "many/*", NULL));
	assert_contains(res.output, "many/f0999\n");
	assert_not_contains(res.output, "many/f1000");
	assert_contains(res.output, "[100 more matches not shown]");
	assert_contains(res.summary, "1100 matches");
	tool_result_clear(&res);
}

static void
test_grep(void **state)
{
	struct tool_result res;
	char *p, line[64];
	FILE *f;
	int i;

	fx_write("in/g1.c", "int main;\nfoo bar\nxfoo\n");
	fx_write("in/sub/g2.h", "foo\n");
	p = fx_path("in/bin.dat");
	f = fopen(p, "w");
	fwrite("foo\0foo\n", 1, 8, f);
	fclose(f);
	free(p);
	res = fx_run("grep", fx_args("pattern", "^x?foo", NULL));
	assert_false(res.is_error);
	assert_string_equal(
		res.output, "g1.c:2:foo bar\ng1.c:3:xfoo\nsub/g2.h:1:foo\n");
	assert_contains(res.summary, "3 matches in 2 files");
	tool_result_clear(&res);
	res = fx_run("grep", fx_args("pattern", "foo", "glob", "*.h", NULL));
	assert_string_equal(res.output, "sub/g2.h:1:foo\n");
	tool_result_clear(&res);
	res = fx_run("grep", fx_args("pattern", "foo", "path", "g1.c", NULL));
	assert_string_equal(res.output, "g1.c:2:foo bar\ng1.c:3:xfoo\n");
	tool_result_clear(&res);
	res = fx_run("grep", fx_args("pattern", "foo", "=max", "1", NULL));
	assert_contains(res.output, "g1.c:2:foo bar\n");
	assert_not_contains(res.output, "xfoo");
	assert_contains(res.output, "[stopped after 1 matches (max)]");
	tool_result_clear(&res);
	/* The 64 KiB cap. */
	p = fx_path("in/lots.txt");
	f = fopen(p, "w");
	free(p);
	for (i = 0; i < 4000; i++) {
		snprintf(line, sizeof(line), "needle %d %040d\n", i, 0);
		fputs(line, f);
	}
	fclose(f);
	res = fx_run("grep",
		fx_args("pattern", "needle", "path", "lots.txt", "=max", "5000",
			NULL));
	assert_contains(res.output, "showing the first 65536]");
	assert_contains(res.summary, "4000 matches");
	tool_result_clear(&res);
}

/*
 * Patterns whose repetitions would blow glibc's automaton up (found by
 * fuzz_tool_args: "a" and a run of '+' took gigabytes) are refused before
 * regcomp(); ordinary ones, repetitions included, still work.
 */
static void
test_grep_complexity(void **state)
{
	static const char *const refused[] = {
		"a++++++++++++++++++++++++",
		"((((((((((((((((((((a)+)+)+)+)+)+)+)+)+)+)+)+)+)+)+)+)+)+)+)+",
		"a{1,50}{1,50}{1,50}",
		"(x{1,100}){1,100}{1,10}",
		"[[:alpha:]]{30000}{30000}",
	};
	static const char *const fine[] = {
		"fo+[0-9]{1,3}",
		"(foo|bar){2,3}z?",
		"[]a+{]{1,5}",
		"(x{1,100}){1,100}",
	};
	size_t i;

	fx_write("in/c.txt", "foo12\nfoofoo\nbar\n");
	for (i = 0; i < sizeof(refused) / sizeof(refused[0]); i++)
		expect_error(
			fx_run("grep", fx_args("pattern", refused[i], NULL)),
			"pattern too complex");
	for (i = 0; i < sizeof(fine) / sizeof(fine[0]); i++)
		expect_ok(
			fx_run("grep", fx_args("pattern", fine[i], NULL)), "");
	/* Syntax stays regcomp()'s to judge. */
	expect_error(fx_run("grep", fx_args("pattern", "a{1,", NULL)),
		"invalid regular expression");
}

int
main(void)
{
#define T(f) cmocka_unit_test_setup_teardown(f, fx_setup, fx_teardown)
	const struct CMUnitTest tests[] = {
		T(test_defs),
		T(test_args),
		T(test_args_bad_utf8),
		T(test_cancel_sync),
		T(test_read_basic),
		T(test_read_binary),
		T(test_read_fifo),
		T(test_output_cap),
		T(test_write_read_before),
		T(test_write_new),
		T(test_edit),
		T(test_escape_absolute),
		T(test_escape_symlink_out),
		T(test_symlink_in),
		T(test_escape_dotdot),
		T(test_escape_hardlink),
		T(test_escape_parent),
		T(test_flat_read_rule),
		T(test_hole),
		T(test_glob),
		T(test_grep),
		T(test_grep_complexity),
	};
#undef T

	return cmocka_run_group_tests(tests, NULL, NULL);
}
