/* SPDX-License-Identifier: ISC */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cmocka.h>

#include "common/atomicfile.h"
#include "common/xmalloc.h"

static char *
mktmp(void)
{
	char tmpl[] = "/tmp/podvisor-test-af-XXXXXX";

	assert_non_null(mkdtemp(tmpl));
	return xstrdup(tmpl);
}

static void
rmtree(const char *dir)
{
	char *cmd = xstrfmt("rm -rf '%s'", dir);

	assert_int_equal(system(cmd), 0);
	free(cmd);
}

/* Number of entries in dir other than "." and "..". */
static int
count_entries(const char *dir)
{
	DIR *d = opendir(dir);
	struct dirent *de;
	int n = 0;

	assert_non_null(d);
	while ((de = readdir(d)) != NULL) {
		if (strcmp(de->d_name, ".") != 0 &&
			strcmp(de->d_name, "..") != 0)
			n++;
	}
	closedir(d);
	return n;
}

static void
assert_content(const char *path, const char *want)
{
	char *buf = NULL;
	size_t len = 0;

	assert_int_equal(atomicfile_read(path, 1 << 20, &buf, &len), 0);
	assert_int_equal(len, strlen(want));
	assert_string_equal(buf, want);
	free(buf);
}

static void
test_write_read(void **state)
{
	char *dir = mktmp(), *path = xstrfmt("%s/state.json", dir);
	struct stat st;
	mode_t old = umask(077);

	assert_int_equal(atomicfile_write(path, "one", 3, 0640), 0);
	umask(old);
	assert_content(path, "one");
	assert_int_equal(stat(path, &st), 0);
	assert_int_equal(st.st_mode & 07777, 0640);
	assert_int_equal(atomicfile_write(path, "second", 6, 0600), 0);
	assert_content(path, "second");
	assert_int_equal(stat(path, &st), 0);
	assert_int_equal(st.st_mode & 07777, 0600);
	assert_int_equal(atomicfile_write(path, NULL, 0, 0600), 0);
	assert_content(path, "");
	assert_int_equal(count_entries(dir), 1);
	rmtree(dir);
	free(path);
	free(dir);
}

static void
test_relative_path(void **state)
{
	char *dir = mktmp();
	int cwd = open(".", O_RDONLY | O_DIRECTORY);

	assert_true(cwd >= 0);
	assert_int_equal(chdir(dir), 0);
	assert_int_equal(atomicfile_write("rel.txt", "r", 1, 0600), 0);
	assert_content("rel.txt", "r");
	assert_int_equal(fchdir(cwd), 0);
	close(cwd);
	assert_int_equal(count_entries(dir), 1);
	rmtree(dir);
	free(dir);
}

static void
test_injected_failures(void **state)
{
	static const enum atomicfile_step steps[] = {
		ATOMICFILE_STEP_OPEN,
		ATOMICFILE_STEP_WRITE,
		ATOMICFILE_STEP_FSYNC,
		ATOMICFILE_STEP_RENAME,
	};
	char *dir = mktmp(), *path = xstrfmt("%s/pod.json", dir);
	char *fresh = xstrfmt("%s/fresh.json", dir);
	size_t i;

	assert_int_equal(atomicfile_write(path, "old content", 11, 0600), 0);
	for (i = 0; i < sizeof(steps) / sizeof(steps[0]); i++) {
		atomicfile_fail_step = steps[i];
		assert_int_equal(atomicfile_write(path, "NEW", 3, 0600), -EIO);
		/* A new file is not created half-way either. */
		assert_int_equal(atomicfile_write(fresh, "NEW", 3, 0600), -EIO);
		atomicfile_fail_step = ATOMICFILE_STEP_NONE;
		assert_content(path, "old content");
		assert_int_equal(access(fresh, F_OK), -1);
		if (count_entries(dir) != 1)
			fail_msg(
				"step %d left a temporary file", (int)steps[i]);
	}

	/*
	 * After the rename the new content is in place; a failed fsync of
	 * the directory is reported, and no temporary file remains.
	 */
	atomicfile_fail_step = ATOMICFILE_STEP_DIRSYNC;
	assert_int_equal(atomicfile_write(path, "NEW", 3, 0600), -EIO);
	atomicfile_fail_step = ATOMICFILE_STEP_NONE;
	assert_content(path, "NEW");
	assert_int_equal(count_entries(dir), 1);

	/* Without injection everything works again. */
	assert_int_equal(atomicfile_write(path, "final", 5, 0600), 0);
	assert_content(path, "final");
	assert_int_equal(count_entries(dir), 1);
	rmtree(dir);
	free(path);
	free(fresh);
	free(dir);
}

static void
test_real_failure(void **state)
{
	char *dir = mktmp(), *path = xstrfmt("%s/x.json", dir);
	char *missing = xstrfmt("%s/nodir/x.json", dir);
	char *asdir = xstrfmt("%s/sub", dir);

	assert_int_equal(atomicfile_write(missing, "x", 1, 0600), -ENOENT);
	/* rename over a directory fails for real: tmp removed. */
	assert_int_equal(mkdir(asdir, 0700), 0);
	assert_int_equal(atomicfile_write(asdir, "x", 1, 0600), -EISDIR);
	assert_int_equal(count_entries(dir), 1);
	assert_int_equal(atomicfile_write("", "x", 1, 0600), -EINVAL);
	rmtree(dir);
	free(path);
	free(missing);
	free(asdir);
	free(dir);
}

static void
test_read_limits(void **state)
{
	char *dir = mktmp(), *path = xstrfmt("%s/f", dir);
	char *empty = xstrfmt("%s/e", dir);
	char *big = xstrfmt("%s/big", dir);
	char *buf = NULL, *data;
	size_t len = 0, biglen = 100000;

	assert_int_equal(atomicfile_write(path, "0123456789", 10, 0600), 0);
	assert_int_equal(atomicfile_read(path, 10, &buf, &len), 0);
	assert_int_equal(len, 10);
	assert_string_equal(buf, "0123456789");
	free(buf);
	buf = NULL;
	assert_int_equal(atomicfile_read(path, 9, &buf, &len), -EFBIG);
	assert_null(buf);
	assert_int_equal(atomicfile_read(path, 0, &buf, &len), -EFBIG);

	assert_int_equal(atomicfile_write(empty, "", 0, 0600), 0);
	assert_int_equal(atomicfile_read(empty, 0, &buf, &len), 0);
	assert_int_equal(len, 0);
	assert_string_equal(buf, "");
	free(buf);

	/* Larger than one read, exactly at the limit, and one past it. */
	data = xmalloc(biglen);
	memset(data, 'q', biglen);
	assert_int_equal(atomicfile_write(big, data, biglen, 0600), 0);
	assert_int_equal(atomicfile_read(big, biglen, &buf, NULL), 0);
	assert_memory_equal(buf, data, biglen);
	assert_int_equal(buf[biglen], '\0');
	free(buf);
	assert_int_equal(atomicfile_read(big, biglen - 1, &buf, &len), -EFBIG);
	free(data);

	/* Not a regular file: the size is only known by reading. */
	assert_int_equal(
		atomicfile_read("/dev/zero", 5000, &buf, &len), -EFBIG);
	assert_int_equal(atomicfile_read("/dev/null", 10, &buf, &len), 0);
	assert_int_equal(len, 0);
	free(buf);

	assert_int_equal(atomicfile_read(dir, 10, &buf, &len), -EISDIR);
	{
		char *none = xstrfmt("%s/none", dir);
		assert_int_equal(
			atomicfile_read(none, 10, &buf, &len), -ENOENT);
		free(none);
	}
	rmtree(dir);
	free(path);
	free(empty);
	free(big);
	free(dir);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_write_read),
		cmocka_unit_test(test_relative_path),
		cmocka_unit_test(test_injected_failures),
		cmocka_unit_test(test_real_failure),
		cmocka_unit_test(test_read_limits),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
