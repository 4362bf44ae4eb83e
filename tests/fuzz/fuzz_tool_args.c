/* SPDX-License-Identifier: ISC */
#include <sys/stat.h>

#include <fcntl.h>
#include <ftw.h>
#include <limits.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <event2/event.h>
#include <json-c/json.h>

#include "common/scope.h"
#include "worker/tools.h"

/*
 * The file tools (everything but bash) run with fuzzer-made arguments in
 * a private tree:
 *
 *   T/in          write (recursive): the pod cwd, reset after each write
 *   T/in/child    deny-write
 *   T/ro          read (recursive)
 *   T/out         no access
 *
 * The target is linked with --wrap for open, openat (and their 64-bit
 * names, which _FILE_OFFSET_BITS=64 selects) and mkdirat: while a
 * tool runs, any of them that could create or modify something outside
 * T/in traps at once, whatever the scope code decided.
 */

int LLVMFuzzerInitialize(int *argc, char ***argv);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int __real_open(const char *path, int flags, ...);
int __real_openat(int dfd, const char *path, int flags, ...);
int __real_open64(const char *path, int flags, ...);
int __real_openat64(int dfd, const char *path, int flags, ...);
int __real_mkdirat(int dfd, const char *path, mode_t mode);
int __wrap_open(const char *path, int flags, ...);
int __wrap_openat(int dfd, const char *path, int flags, ...);
int __wrap_open64(const char *path, int flags, ...);
int __wrap_openat64(int dfd, const char *path, int flags, ...);
int __wrap_mkdirat(int dfd, const char *path, mode_t mode);

static char fuzz_tools_root[PATH_MAX];
static char fuzz_tools_in[PATH_MAX + 8];
static struct event_base *fuzz_tools_base;
static struct scope *fuzz_tools_scope;
static bool fuzz_tools_running;
static struct stat fuzz_tools_st_ro, fuzz_tools_st_out, fuzz_tools_st_secret;

static const char *const fuzz_tools_names[] = {
	"read",
	"write",
	"edit",
	"glob",
	"grep",
};

/* True if path (absolute, as the tools pass it) is inside T/in. */
static bool
fuzz_tools_inside(const char *path)
{
	size_t n = strlen(fuzz_tools_in);

	if (strncmp(path + n, "/child", 6) == 0 &&
		(path[n + 6] == '\0' || path[n + 6] == '/'))
		return false; /* deny-write */
	if (strncmp(path, fuzz_tools_in, n) != 0 ||
		(path[n] != '\0' && path[n] != '/'))
		return false;
	return strstr(path + n, "/../") == NULL &&
		(strlen(path + n) < 3 ||
			strcmp(path + strlen(path) - 3, "/..") != 0);
}

/* Trap if a modifying call on dfd/path would reach outside T/in. */
static void
fuzz_tools_guard(int dfd, const char *path, bool modifies)
{
	char dir[PATH_MAX], link[64], *full;
	ssize_t n;

	if (!fuzz_tools_running || !modifies)
		return;
	if (path[0] == '/' || dfd == AT_FDCWD) {
		if (path[0] != '/')
			__builtin_trap(); /* the tools use absolute paths */
		if (!fuzz_tools_inside(path))
			__builtin_trap();
		return;
	}
	snprintf(link, sizeof(link), "/proc/self/fd/%d", dfd);
	n = readlink(link, dir, sizeof(dir) - 1);
	if (n <= 0)
		__builtin_trap();
	dir[n] = '\0';
	if (strchr(path, '/') != NULL || strcmp(path, "..") == 0)
		__builtin_trap(); /* one component below a checked dir */
	if (asprintf(&full, "%s/%s", dir, path) < 0)
		abort();
	if (!fuzz_tools_inside(full))
		__builtin_trap();
	free(full);
}

static bool
fuzz_tools_modifies(int flags)
{
	return (flags & O_ACCMODE) != O_RDONLY ||
		(flags & (O_CREAT | O_TRUNC)) != 0;
}

/* open() as the tools see it. */
int
__wrap_open(const char *path, int flags, ...)
{
	mode_t mode = 0;
	va_list ap;

	if (flags & (O_CREAT | O_TMPFILE)) {
		va_start(ap, flags);
		mode = va_arg(ap, mode_t);
		va_end(ap);
	}
	fuzz_tools_guard(AT_FDCWD, path, fuzz_tools_modifies(flags));
	return __real_open(path, flags, mode);
}

/* openat() as the tools see it. */
int
__wrap_openat(int dfd, const char *path, int flags, ...)
{
	mode_t mode = 0;
	va_list ap;

	if (flags & (O_CREAT | O_TMPFILE)) {
		va_start(ap, flags);
		mode = va_arg(ap, mode_t);
		va_end(ap);
	}
	fuzz_tools_guard(dfd, path, fuzz_tools_modifies(flags));
	return __real_openat(dfd, path, flags, mode);
}

/* open64() as the tools see it. */
int
__wrap_open64(const char *path, int flags, ...)
{
	mode_t mode = 0;
	va_list ap;

	if (flags & (O_CREAT | O_TMPFILE)) {
		va_start(ap, flags);
		mode = va_arg(ap, mode_t);
		va_end(ap);
	}
	fuzz_tools_guard(AT_FDCWD, path, fuzz_tools_modifies(flags));
	return __real_open64(path, flags, mode);
}

/* openat64() as the tools see it. */
int
__wrap_openat64(int dfd, const char *path, int flags, ...)
{
	mode_t mode = 0;
	va_list ap;

	if (flags & (O_CREAT | O_TMPFILE)) {
		va_start(ap, flags);
		mode = va_arg(ap, mode_t);
		va_end(ap);
	}
	fuzz_tools_guard(dfd, path, fuzz_tools_modifies(flags));
	return __real_openat64(dfd, path, flags, mode);
}

/* mkdirat() as the tools see it. */
int
__wrap_mkdirat(int dfd, const char *path, mode_t mode)
{
	fuzz_tools_guard(dfd, path, true);
	return __real_mkdirat(dfd, path, mode);
}

static void
fuzz_tools_write(const char *rel, const char *content)
{
	char path[PATH_MAX + 64];
	FILE *f;

	snprintf(path, sizeof(path), "%s/%s", fuzz_tools_root, rel);
	f = fopen(path, "w");
	if (f == NULL)
		abort();
	fputs(content, f);
	fclose(f);
}

static void
fuzz_tools_mkdir(const char *rel)
{
	char path[PATH_MAX + 64];

	snprintf(path, sizeof(path), "%s/%s", fuzz_tools_root, rel);
	if (mkdir(path, 0755) != 0)
		abort();
}

/* The writable part of the tree, as it is before each run. */
static void
fuzz_tools_fill_in(void)
{
	fuzz_tools_mkdir("in");
	fuzz_tools_mkdir("in/child");
	fuzz_tools_mkdir("in/sub");
	fuzz_tools_write("in/file.txt", "alpha\nbeta\ngamma\n");
	fuzz_tools_write("in/sub/s.c", "int main(void) { return 0; }\n");
	fuzz_tools_write("in/child/c.txt", "child data\n");
}

static int
fuzz_tools_rm_cb(
	const char *path, const struct stat *st, int type, struct FTW *ftw)
{
	if (type == FTW_DP)
		return rmdir(path) == 0 ? 0 : -1;
	return unlink(path) == 0 ? 0 : -1;
}

static void
fuzz_tools_remove(const char *path)
{
	if (nftw(path, fuzz_tools_rm_cb, 16, FTW_DEPTH | FTW_PHYS) != 0)
		abort();
}

static void
fuzz_tools_cleanup(void)
{
	fuzz_tools_remove(fuzz_tools_root);
}

static void
fuzz_tools_rule(
	struct scope_rules *rules, const char *spec_kind, const char *rel)
{
	struct scope_rule rule;
	char spec[PATH_MAX + 64], *err = NULL;

	snprintf(spec, sizeof(spec), "%s:%s/%s", spec_kind, fuzz_tools_root,
		rel);
	if (scope_rule_parse_spec(spec, NULL, &rule, &err) != 0)
		abort();
	scope_rules_add(rules, &rule);
	scope_rule_clear(&rule);
}

static void
fuzz_tools_stat(const char *rel, struct stat *st)
{
	char path[PATH_MAX + 64];

	snprintf(path, sizeof(path), "%s/%s", fuzz_tools_root, rel);
	if (lstat(path, st) != 0)
		abort();
}

/* Build the tree (on tmpfs when there is one) and the scope over it. */
int
LLVMFuzzerInitialize(int *argc, char ***argv)
{
	struct scope_rules rules = { 0 };
	char tmpl[64];
	struct stat st;

	snprintf(tmpl, sizeof(tmpl), "%s",
		stat("/dev/shm", &st) == 0 ? "/dev/shm/fuzz-tools-XXXXXX"
					   : "/tmp/fuzz-tools-XXXXXX");
	if (mkdtemp(tmpl) == NULL || realpath(tmpl, fuzz_tools_root) == NULL)
		abort();
	snprintf(
		fuzz_tools_in, sizeof(fuzz_tools_in), "%s/in", fuzz_tools_root);
	atexit(fuzz_tools_cleanup);
	fuzz_tools_fill_in();
	fuzz_tools_mkdir("ro");
	fuzz_tools_mkdir("out");
	fuzz_tools_write("ro/r.txt", "read only\n");
	fuzz_tools_write("out/secret.txt", "SECRET\n");
	fuzz_tools_rule(&rules, "write", "in");
	fuzz_tools_rule(&rules, "deny-write", "in/child");
	fuzz_tools_rule(&rules, "read", "ro");
	fuzz_tools_scope = scope_new(&rules);
	scope_rules_clear(&rules);
	fuzz_tools_base = event_base_new();
	if (fuzz_tools_base == NULL)
		abort();
	fuzz_tools_stat("ro", &fuzz_tools_st_ro);
	fuzz_tools_stat("out", &fuzz_tools_st_out);
	fuzz_tools_stat("out/secret.txt", &fuzz_tools_st_secret);
	return 0;
}

static bool
fuzz_tools_same(const struct stat *a, const struct stat *b)
{
	return a->st_ino == b->st_ino && a->st_size == b->st_size &&
		a->st_nlink == b->st_nlink &&
		a->st_mtim.tv_sec == b->st_mtim.tv_sec &&
		a->st_mtim.tv_nsec == b->st_mtim.tv_nsec &&
		a->st_mode == b->st_mode;
}

/* Strict UTF-8 (RFC 3629): no overlong forms, surrogates or > U+10FFFF. */
static bool
fuzz_tools_utf8(const unsigned char *p)
{
	unsigned int c, n, i;

	while (*p != '\0') {
		c = *p;
		if (c < 0x80) {
			p++;
			continue;
		}
		if (c >= 0xC2 && c <= 0xDF)
			n = 1;
		else if (c >= 0xE0 && c <= 0xEF)
			n = 2;
		else if (c >= 0xF0 && c <= 0xF4)
			n = 3;
		else
			return false;
		c &= 0x3F >> n;
		for (i = 1; i <= n; i++) {
			if ((p[i] & 0xC0) != 0x80)
				return false;
			c = (c << 6) | (p[i] & 0x3F);
		}
		if ((n == 2 && (c < 0x800 || (c >= 0xD800 && c <= 0xDFFF))) ||
			(n == 3 && (c < 0x10000 || c > 0x10FFFF)))
			return false;
		p += n + 1;
	}
	return true;
}

struct fuzz_tools_wait {
	bool done;
};

static void
fuzz_tools_done_cb(void *arg, struct tool_result *res)
{
	struct fuzz_tools_wait *w = arg;

	if (w->done || res->summary == NULL)
		__builtin_trap();
	w->done = true;
	/* Both go to clients and the model inside JSON lines. */
	if (!fuzz_tools_utf8((const unsigned char *)res->summary) ||
		(res->output != NULL &&
			!fuzz_tools_utf8((const unsigned char *)res->output)))
		__builtin_trap();
	/* The cap plus room for the truncation note. */
	if (res->output != NULL && strlen(res->output) > TOOL_OUTPUT_MAX + 512)
		__builtin_trap();
}

/*
 * Input: byte 0 picks the tool (and, bit 7, a read of file.txt first so
 * write/edit may change it), the rest is the arguments' JSON text.
 */
int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct fuzz_tools_wait w = { 0 }, w0 = { 0 };
	struct tool_env env;
	struct tool_run *run;
	const char *name;
	struct stat st;
	char *args;
	int i;

	if (size < 1)
		return 0;
	name = fuzz_tools_names[(data[0] & 0x7f) %
		(sizeof(fuzz_tools_names) / sizeof(fuzz_tools_names[0]))];
	args = malloc(size);
	if (args == NULL)
		abort();
	memcpy(args, data + 1, size - 1);
	args[size - 1] = '\0';

	tool_env_init(&env, fuzz_tools_base, fuzz_tools_in);
	env.scope = fuzz_tools_scope;
	fuzz_tools_running = true;
	if (data[0] & 0x80) {
		run = tool_run_start(&env, "read", "{\"path\":\"file.txt\"}",
			fuzz_tools_done_cb, &w0);
		for (i = 0; run != NULL && !w0.done && i < 1000; i++)
			event_base_loop(fuzz_tools_base, EVLOOP_ONCE);
	}
	run = tool_run_start(&env, name, args, fuzz_tools_done_cb, &w);
	if (run == NULL)
		__builtin_trap();
	/* Every file tool answers from the loop's first turn. */
	for (i = 0; !w.done && i < 1000; i++)
		event_base_loop(fuzz_tools_base, EVLOOP_ONCE);
	fuzz_tools_running = false;
	if (!w.done)
		__builtin_trap();
	tool_env_clear(&env);
	free(args);

	/* Nothing outside T/in changed. */
	fuzz_tools_stat("ro", &st);
	if (!fuzz_tools_same(&st, &fuzz_tools_st_ro))
		__builtin_trap();
	fuzz_tools_stat("out", &st);
	if (!fuzz_tools_same(&st, &fuzz_tools_st_out))
		__builtin_trap();
	fuzz_tools_stat("out/secret.txt", &st);
	if (!fuzz_tools_same(&st, &fuzz_tools_st_secret))
		__builtin_trap();
	if (strcmp(name, "write") == 0 || strcmp(name, "edit") == 0) {
		fuzz_tools_remove(fuzz_tools_in);
		fuzz_tools_fill_in();
	}
	return 0;
}
