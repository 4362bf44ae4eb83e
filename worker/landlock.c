/* SPDX-License-Identifier: ISC */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <linux/landlock.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "common/scope.h"
#include "common/xmalloc.h"
#include "worker/landlock.h"
#include "common/mountns.h"

/* Debian 12's header stops at ABI 2. */
#ifndef LANDLOCK_ACCESS_FS_REFER
#define LANDLOCK_ACCESS_FS_REFER (1ULL << 13)
#endif
#ifndef LANDLOCK_ACCESS_FS_TRUNCATE
#define LANDLOCK_ACCESS_FS_TRUNCATE (1ULL << 14)
#endif

/* ABI 4: TCP bind and connect (not in Debian 12's header). */
#define LANDLOCK_NET_BIND_TCP (1ULL << 0)
#define LANDLOCK_NET_CONNECT_TCP (1ULL << 1)

/* The ruleset attribute up to ABI 4's handled_access_net. */
struct landlock_attr_net {
	uint64_t handled_access_fs;
	uint64_t handled_access_net;
};

/* Rights that make sense on a regular file (the rest need a directory). */
#define LANDLOCK_FILE_RIGHTS \
	(LANDLOCK_ACCESS_FS_WRITE_FILE | LANDLOCK_ACCESS_FS_TRUNCATE)

/* Bound on the entries visited while carving holes out of an allow. */
#define LANDLOCK_MAX_ENTRIES 20000

struct landlock_build {
	int fd;
	uint64_t handled;
	const struct scope *scope;
	const struct mountns_plan *mounted; /* holes it binds read-only */
	size_t entries;
};

static int
landlock_sys_create_ruleset(const void *attr, size_t size, uint32_t flags)
{
	return (int)syscall(SYS_landlock_create_ruleset, attr, size, flags);
}

static int
landlock_sys_add_rule(int fd, const struct landlock_path_beneath_attr *attr)
{
	return (int)syscall(
		SYS_landlock_add_rule, fd, LANDLOCK_RULE_PATH_BENEATH, attr, 0);
}

/* The kernel's Landlock ABI version, 0 if Landlock is unavailable. */
int
landlock_abi(void)
{
	int abi;

	abi = landlock_sys_create_ruleset(
		NULL, 0, LANDLOCK_CREATE_RULESET_VERSION);
	return abi < 0 ? 0 : abi;
}

/* The write-side rights handled for abi. */
uint64_t
landlock_handled_rights(int abi)
{
	uint64_t r;

	if (abi < 1)
		return 0;
	r = LANDLOCK_ACCESS_FS_WRITE_FILE | LANDLOCK_ACCESS_FS_REMOVE_DIR |
		LANDLOCK_ACCESS_FS_REMOVE_FILE | LANDLOCK_ACCESS_FS_MAKE_CHAR |
		LANDLOCK_ACCESS_FS_MAKE_DIR | LANDLOCK_ACCESS_FS_MAKE_REG |
		LANDLOCK_ACCESS_FS_MAKE_SOCK | LANDLOCK_ACCESS_FS_MAKE_FIFO |
		LANDLOCK_ACCESS_FS_MAKE_BLOCK | LANDLOCK_ACCESS_FS_MAKE_SYM;
	if (abi >= 2)
		r |= LANDLOCK_ACCESS_FS_REFER;
	if (abi >= 3)
		r |= LANDLOCK_ACCESS_FS_TRUNCATE;
	return r;
}

/* Allow the handled rights beneath the object fd refers to. */
static int
landlock_allow_fd(struct landlock_build *b, int fd)
{
	struct landlock_path_beneath_attr pb;
	struct stat st;

	if (fstat(fd, &st) < 0)
		return -errno;
	memset(&pb, 0, sizeof(pb));
	pb.parent_fd = fd;
	pb.allowed_access = b->handled;
	if (!S_ISDIR(st.st_mode))
		pb.allowed_access &= LANDLOCK_FILE_RIGHTS;
	if (pb.allowed_access == 0)
		return 0;
	if (landlock_sys_add_rule(b->fd, &pb) < 0)
		return -errno;
	return 0;
}

/*
 * Allow beneath path.  Entries found while carving holes are opened
 * without following symlinks and a symlink is skipped: following one
 * would grant writing wherever it points.  A regular file with more than
 * one link is skipped too: Landlock ties a rule to the inode, so granting
 * it would make the file writable through its other names, which may lie
 * outside the scope.
 */
static int
landlock_allow_path(struct landlock_build *b, const char *path, bool follow)
{
	struct stat st;
	int fd, r;

	fd = open(path, O_PATH | O_CLOEXEC | (follow ? 0 : O_NOFOLLOW));
	if (fd < 0)
		return errno == ENOENT ? 0 : -errno;
	if (fstat(fd, &st) < 0 || S_ISLNK(st.st_mode) ||
		(!follow && S_ISREG(st.st_mode) && st.st_nlink > 1)) {
		close(fd);
		return 0;
	}
	r = landlock_allow_fd(b, fd);
	close(fd);
	return r;
}

/*
 * How the deny rules of the scope touch path: 2 if a deny covers path
 * itself, 1 if a deny target lies strictly beneath it, 0 if none.  A
 * hole the mount namespace makes read-only needs no carving.
 */
static int
landlock_hole_state(const struct landlock_build *b, const char *path)
{
	const struct scope_rules *rules = &b->scope->rules;
	int state = 0;
	size_t i;

	for (i = 0; i < rules->n; i++) {
		const struct scope_rule *rule = &rules->v[i];

		if (!rule->deny || mountns_covers(b->mounted, rule->target))
			continue;
		if (scope_rule_covers_path(rule, path))
			return 2;
		if (scope_path_under(path, rule->target) &&
			strcmp(rule->target, path) != 0)
			state = 1;
	}
	return state;
}

/*
 * Grant writing beneath the directory path except the holes in it: each
 * entry clear of every hole is granted whole, entries leading to a hole
 * are descended into, entries inside a hole are skipped.
 */
static int
landlock_allow_carved(struct landlock_build *b, const char *path, int depth)
{
	struct dirent *de;
	char *child;
	DIR *d;
	int fd, state, r = 0;

	if (depth > 64)
		return 0;
	fd = open(path, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
	if (fd < 0)
		return 0;
	d = fdopendir(fd);
	if (d == NULL) {
		close(fd);
		return 0;
	}
	while (r == 0 && (de = readdir(d)) != NULL) {
		if (strcmp(de->d_name, ".") == 0 ||
			strcmp(de->d_name, "..") == 0)
			continue;
		if (++b->entries > LANDLOCK_MAX_ENTRIES)
			break;
		child = strcmp(path, "/") == 0
			? xstrfmt("/%s", de->d_name)
			: xstrfmt("%s/%s", path, de->d_name);
		state = landlock_hole_state(b, child);
		if (state == 0)
			r = landlock_allow_path(b, child, false);
		else if (de->d_type == DT_DIR || de->d_type == DT_UNKNOWN)
			r = landlock_allow_carved(b, child, depth + 1);
		free(child);
	}
	closedir(d);
	return r;
}

/* A non-recursive write rule on a directory: its existing direct files. */
static int
landlock_allow_flat(struct landlock_build *b, const char *path)
{
	struct landlock_path_beneath_attr pb;
	struct dirent *de;
	struct stat st;
	DIR *d;
	int dfd, fd, r = 0;

	dfd = open(path, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
	if (dfd < 0)
		return 0;
	d = fdopendir(dfd);
	if (d == NULL) {
		close(dfd);
		return 0;
	}
	while (r == 0 && (de = readdir(d)) != NULL) {
		char *child;

		if (++b->entries > LANDLOCK_MAX_ENTRIES)
			break;
		child = xstrfmt("%s/%s", path, de->d_name);
		if (landlock_hole_state(b, child) != 0) {
			free(child);
			continue;
		}
		free(child);
		fd = openat(
			dirfd(d), de->d_name, O_PATH | O_NOFOLLOW | O_CLOEXEC);
		if (fd < 0)
			continue;
		if (fstat(fd, &st) == 0 && S_ISREG(st.st_mode) &&
			st.st_nlink == 1) {
			memset(&pb, 0, sizeof(pb));
			pb.parent_fd = fd;
			pb.allowed_access = b->handled & LANDLOCK_FILE_RIGHTS;
			if (landlock_sys_add_rule(b->fd, &pb) < 0)
				r = -errno;
		}
		close(fd);
	}
	closedir(d);
	return r;
}

static int
landlock_allow_rule(struct landlock_build *b, const struct scope_rule *rule)
{
	struct stat st;
	int state;

	if (stat(rule->target, &st) < 0)
		return 0;
	state = landlock_hole_state(b, rule->target);
	if (state == 2)
		return 0;
	if (!S_ISDIR(st.st_mode))
		return landlock_allow_path(b, rule->target, true);
	if (!rule->recursive)
		return landlock_allow_flat(b, rule->target);
	if (state == 1)
		return landlock_allow_carved(b, rule->target, 0);
	return landlock_allow_path(b, rule->target, true);
}

/* Build the ruleset fd for a bash child. */
int
landlock_ruleset_build(int abi, const struct scope *scope,
	const char *const *scratch, const struct mountns_plan *mounted,
	bool deny_tcp, char **reterr_msg)
{
	struct landlock_attr_net attr;
	struct landlock_build b;
	size_t i;
	int r = 0;

	memset(&b, 0, sizeof(b));
	b.handled = landlock_handled_rights(abi);
	b.scope = scope;
	b.mounted = mounted;
	if (b.handled == 0) {
		*reterr_msg = xstrdup("Landlock is not available");
		return -EOPNOTSUPP;
	}
	if (deny_tcp && abi < 4) {
		*reterr_msg = xstrdup("the network policy needs a network "
				      "namespace or Landlock ABI 4 (kernel "
				      ">= 6.7), and neither is available");
		return -EOPNOTSUPP;
	}
	memset(&attr, 0, sizeof(attr));
	attr.handled_access_fs = b.handled;
	/* Handled and never allowed: every TCP bind and connect fails. */
	if (deny_tcp)
		attr.handled_access_net =
			LANDLOCK_NET_BIND_TCP | LANDLOCK_NET_CONNECT_TCP;
	b.fd = landlock_sys_create_ruleset((const void *)&attr,
		deny_tcp ? sizeof(attr) : sizeof(attr.handled_access_fs), 0);
	if (b.fd < 0) {
		r = -errno;
		*reterr_msg = xstrfmt(
			"cannot create a Landlock ruleset: %s", strerror(-r));
		return r;
	}
	for (i = 0; scope != NULL && r == 0 && i < scope->rules.n; i++) {
		const struct scope_rule *rule = &scope->rules.v[i];

		if (rule->deny || rule->perm != SCOPE_WRITE)
			continue;
		r = landlock_allow_rule(&b, rule);
	}
	for (i = 0; scratch != NULL && r == 0 && scratch[i] != NULL; i++)
		r = landlock_allow_path(&b, scratch[i], true);
	if (r == 0)
		r = landlock_allow_path(&b, "/dev/null", true);
	if (r < 0) {
		*reterr_msg =
			xstrfmt("cannot add a Landlock rule: %s", strerror(-r));
		close(b.fd);
		return r;
	}
	return b.fd;
}

/* Confine the calling process; async-signal-safe. */
int
landlock_restrict(int ruleset_fd)
{
	if (prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) < 0)
		return -errno;
	if (syscall(SYS_landlock_restrict_self, ruleset_fd, 0) < 0)
		return -errno;
	return 0;
}
