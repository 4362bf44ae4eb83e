/* SPDX-License-Identifier: ISC */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>

#include "common/cgroup2.h"
#include "common/xmalloc.h"

static void
test_parse_size(void **state)
{
	static const struct {
		const char *s;
		int r;
		int64_t v;
	} t[] = {
		{ "4096", 0, 4096 },
		{ "512M", 0, 512LL << 20 },
		{ "512m", 0, 512LL << 20 },
		{ "2G", 0, 2LL << 30 },
		{ "2GiB", 0, 2LL << 30 },
		{ "2GB", 0, 2LL << 30 },
		{ "1T", 0, 1LL << 40 },
		{ "64k", 0, 64LL << 10 },
		{ "100B", 0, 100 },
		{ "0", 0, 0 },
		{ "", -EINVAL, 0 },
		{ "-1", -EINVAL, 0 },
		{ "M", -EINVAL, 0 },
		{ "12X", -EINVAL, 0 },
		{ "1.5G", -EINVAL, 0 },
		{ "5M ", -EINVAL, 0 },
		{ "99999999999T", -ERANGE, 0 },
		{ "99999999999999999999", -ERANGE, 0 },
	};
	size_t i;
	int64_t v;

	(void)state;
	for (i = 0; i < sizeof(t) / sizeof(t[0]); i++) {
		v = -7;
		if (cgroup2_parse_size(t[i].s, &v) != t[i].r)
			fail_msg("\"%s\": want %d", t[i].s, t[i].r);
		if (t[i].r == 0 && v != t[i].v)
			fail_msg("\"%s\": got %lld", t[i].s, (long long)v);
	}
}

static void
test_controllers(void **state)
{
	(void)state;
	assert_int_equal(cgroup2_parse_controllers(""), 0);
	assert_int_equal(cgroup2_parse_controllers("cpuset cpu io memory "
						   "hugetlb pids rdma misc\n"),
		CG2_ALL);
	assert_int_equal(
		cgroup2_parse_controllers("hugetlb cpuset"), 0); /* not cpu */
	assert_int_equal(cgroup2_parse_controllers("memory"), CG2_MEMORY);
	assert_string_equal(cgroup2_controller_name(CG2_PIDS), "pids");
}

static void
write_file(const char *dir, const char *name, const char *text)
{
	char *p = xstrfmt("%s/%s", dir, name);
	FILE *f = fopen(p, "w");

	assert_non_null(f);
	fputs(text, f);
	fclose(f);
	free(p);
}

static void
remove_file(const char *dir, const char *name)
{
	char *p = xstrfmt("%s/%s", dir, name);

	assert_int_equal(unlink(p), 0);
	free(p);
}

/* The readers on files shaped like the kernel's. */
static void
test_read_int(void **state)
{
	char dir[] = "/tmp/pvcg-XXXXXX";
	int64_t v = 0;

	(void)state;
	assert_non_null(mkdtemp(dir));
	write_file(dir, "memory.events",
		"low 0\nhigh 0\nmax 12\noom 3\noom_kill 2\noom_group_kill 0\n");
	write_file(dir, "memory.max", "max\n");
	write_file(dir, "pids.current", "17\n");
	assert_int_equal(
		cgroup2_read_int(dir, "memory.events", "oom_kill", &v), 0);
	assert_int_equal(v, 2);
	assert_int_equal(cgroup2_read_int(dir, "memory.events", "oom", &v), 0);
	assert_int_equal(v, 3);
	assert_int_equal(
		cgroup2_read_int(dir, "memory.events", "oo", &v), -ENOENT);
	assert_int_equal(cgroup2_read_int(dir, "memory.max", NULL, &v), 0);
	assert_true(v == INT64_MAX);
	assert_int_equal(cgroup2_read_int(dir, "pids.current", NULL, &v), 0);
	assert_int_equal(v, 17);
	assert_int_equal(cgroup2_read_int(dir, "nope", NULL, &v), -ENOENT);
	write_file(dir, "cgroup.procs", "");
	assert_int_equal(cgroup2_write(dir, "cgroup.procs", "5"), 0);
	assert_int_equal(cgroup2_read_int(dir, "cgroup.procs", NULL, &v), 0);
	assert_int_equal(v, 5);
	assert_int_equal(cgroup2_write(dir, "nope", "5"), -ENOENT);
	remove_file(dir, "cgroup.procs");
	remove_file(dir, "memory.events");
	remove_file(dir, "memory.max");
	remove_file(dir, "pids.current");
	assert_int_equal(rmdir(dir), 0);
}

/* A directory that is not a cgroup: refused, naming it and the fix. */
static void
test_probe_override(void **state)
{
	struct cgroup2_info ci;

	(void)state;
	cgroup2_probe("/tmp", &ci);
	assert_null(ci.root);
	assert_non_null(strstr(ci.error, "PODVISOR_CGROUP_ROOT=/tmp"));
	assert_non_null(strstr(ci.error, "Delegate=yes"));
	cgroup2_info_clear(&ci);
	/* Without an override: whatever this machine has, never a crash. */
	cgroup2_probe(NULL, &ci);
	assert_true((ci.root == NULL) != (ci.error == NULL));
	if (ci.root == NULL) {
		assert_non_null(strstr(ci.error, "delegation not available"));
		char *m = cgroup2_missing(&ci, CG2_MEMORY);

		assert_string_equal(m, ci.error);
		free(m);
	}
	cgroup2_info_clear(&ci);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_parse_size),
		cmocka_unit_test(test_controllers),
		cmocka_unit_test(test_read_int),
		cmocka_unit_test(test_probe_override),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
