/* SPDX-License-Identifier: ISC */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <linux/mount.h>
#include <sched.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include "common/scope.h"
#include "common/xmalloc.h"
#include "common/mountns.h"

#ifndef SYS_mount_setattr
#define SYS_mount_setattr 442
#endif

static void
mountns_add(char ***v, size_t *n, const char *path)
{
	*v = xreallocarray(*v, *n + 1, sizeof(**v));
	(*v)[(*n)++] = xstrdup(path);
}

/* Drop every entry of v that equals or lies beneath another one. */
static void
mountns_outermost(char **v, size_t *n)
{
	bool *drop = xcalloc(*n + 1, sizeof(*drop));
	size_t i, j, k = 0;

	/* Decide first, compact after: every comparison sees all paths. */
	for (i = 0; i < *n; i++) {
		for (j = 0; j < *n && !drop[i]; j++) {
			/* beneath another, or a duplicate after the first */
			drop[i] = j != i && scope_path_under(v[j], v[i]) &&
				(strcmp(v[i], v[j]) != 0 || j < i);
		}
	}
	for (i = 0; i < *n; i++) {
		if (drop[i])
			free(v[i]);
		else
			v[k++] = v[i];
	}
	free(drop);
	*n = k;
}

/* Exists, and is not a symlink (targets are normalised: a swap raced). */
static bool
mountns_exists(const char *path)
{
	struct stat st;

	return lstat(path, &st) == 0 && !S_ISLNK(st.st_mode);
}

void
mountns_plan_build(struct mountns_plan *plan, const struct scope *scope,
	const char *const *scratch)
{
	const struct scope_rules *rules = scope != NULL ? &scope->rules : NULL;
	char real[PATH_MAX];
	size_t i, j;

	memset(plan, 0, sizeof(*plan));
	plan->userns = geteuid() != 0;
	snprintf(plan->uid_map, sizeof(plan->uid_map), "%u %u 1",
		(unsigned)geteuid(), (unsigned)geteuid());
	snprintf(plan->gid_map, sizeof(plan->gid_map), "%u %u 1",
		(unsigned)getegid(), (unsigned)getegid());
	for (i = 0; rules != NULL && i < rules->n; i++) {
		const struct scope_rule *rule = &rules->v[i];

		if (!rule->deny && rule->perm == SCOPE_WRITE &&
			mountns_exists(rule->target))
			mountns_add(&plan->rw, &plan->nrw, rule->target);
	}
	for (i = 0; scratch != NULL && scratch[i] != NULL; i++) {
		if (realpath(scratch[i], real) != NULL)
			mountns_add(&plan->rw, &plan->nrw, real);
	}
	mountns_outermost(plan->rw, &plan->nrw);
	for (i = 0; rules != NULL && i < rules->n; i++) {
		const struct scope_rule *rule = &rules->v[i];

		if (!rule->deny || !mountns_exists(rule->target))
			continue;
		for (j = 0; j < plan->nrw; j++)
			if (scope_path_under(plan->rw[j], rule->target))
				break;
		if (j < plan->nrw)
			mountns_add(&plan->ro, &plan->nro, rule->target);
	}
	mountns_outermost(plan->ro, &plan->nro);
}

void
mountns_plan_clear(struct mountns_plan *plan)
{
	size_t i;

	for (i = 0; i < plan->nrw; i++)
		free(plan->rw[i]);
	for (i = 0; i < plan->nro; i++)
		free(plan->ro[i]);
	free(plan->rw);
	free(plan->ro);
	memset(plan, 0, sizeof(*plan));
}

bool
mountns_covers(const struct mountns_plan *plan, const char *path)
{
	size_t i;

	for (i = 0; plan != NULL && i < plan->nro; i++)
		if (scope_path_under(plan->ro[i], path))
			return true;
	return false;
}

/* The rest runs in a forked child: system calls only. */

static int
mountns_write(const char *path, const char *text)
{
	ssize_t n, len = (ssize_t)strlen(text);
	int fd;

	fd = open(path, O_WRONLY | O_CLOEXEC);
	if (fd < 0)
		return -errno;
	n = write(fd, text, (size_t)len);
	if (n != len) {
		n = n < 0 ? -errno : -EIO;
		close(fd);
		return (int)n;
	}
	close(fd);
	return 0;
}

/* Map the caller's ids into the user namespace it just entered. */
static int
mountns_map(const struct mountns_plan *plan)
{
	int r;

	if ((r = mountns_write("/proc/self/setgroups", "deny")) < 0 ||
		(r = mountns_write("/proc/self/uid_map", plan->uid_map)) < 0 ||
		(r = mountns_write("/proc/self/gid_map", plan->gid_map)) < 0)
		return r;
	return 0;
}

static int
mountns_setattr(const char *path, bool recursive, uint64_t set, uint64_t clr)
{
	struct mount_attr attr;

	memset(&attr, 0, sizeof(attr));
	attr.attr_set = set;
	attr.attr_clr = clr;
	if (syscall(SYS_mount_setattr, AT_FDCWD, path,
		    recursive ? AT_RECURSIVE : 0, &attr, sizeof(attr)) < 0)
		return -errno;
	return 0;
}

/*
 * The type of a bind or propagation change is ignored; "none" rather
 * than NULL keeps valgrind from reading a string at NULL.
 */
static int
mountns_bind(const char *path)
{
	if (strcmp(path, "/") == 0)
		return 0; /* already a mount root */
	if (mount(path, path, "none", MS_BIND | MS_REC, NULL) < 0)
		return -errno;
	return 0;
}

/* Make path's mounts writable: all of them, or (one is locked) its own. */
static int
mountns_writable(const char *path)
{
	int r;

	r = mountns_setattr(path, true, 0, MOUNT_ATTR_RDONLY);
	if (r == -EPERM)
		r = mountns_setattr(path, false, 0, MOUNT_ATTR_RDONLY);
	return r;
}

#define MOUNTNS_STEP(what_, call_) \
	do { \
		if ((r = (call_)) < 0) { \
			*ret_what = (what_); \
			return r; \
		} \
	} while (0)

int
mountns_enter(const struct mountns_plan *plan, const char **ret_what)
{
	size_t i;
	int r;

	MOUNTNS_STEP("unshare",
		unshare(CLONE_NEWNS | (plan->userns ? CLONE_NEWUSER : 0)) < 0
			? -errno
			: 0);
	if (plan->userns)
		MOUNTNS_STEP("map the user namespace", mountns_map(plan));
	MOUNTNS_STEP("make the mounts private",
		mount("none", "/", "none", MS_REC | MS_PRIVATE, NULL) < 0
			? -errno
			: 0);
	/* Nothing is read-only yet: a failure here changes no access. */
	for (i = 0; i < plan->nrw; i++)
		MOUNTNS_STEP("bind a writable path", mountns_bind(plan->rw[i]));
	for (i = 0; i < plan->nro; i++)
		MOUNTNS_STEP("bind a hole", mountns_bind(plan->ro[i]));
	MOUNTNS_STEP("make / read-only",
		mountns_setattr("/", true, MOUNT_ATTR_RDONLY, 0));
	/* From here a failure leaves more read-only, never less. */
	MOUNTNS_STEP("reopen /proc",
		mountns_setattr("/proc", false, 0, MOUNT_ATTR_RDONLY));
	for (i = 0; i < plan->nrw; i++)
		MOUNTNS_STEP(
			"make a path writable", mountns_writable(plan->rw[i]));
	for (i = 0; i < plan->nro; i++)
		MOUNTNS_STEP("make a hole read-only",
			mountns_setattr(
				plan->ro[i], true, MOUNT_ATTR_RDONLY, 0));
	/*
	 * Lock: mounts copied into a namespace owned by a less privileged
	 * user namespace can be neither unmounted nor made writable again.
	 */
	MOUNTNS_STEP("lock the mounts",
		unshare(CLONE_NEWUSER | CLONE_NEWNS) < 0 ? -errno : 0);
	MOUNTNS_STEP("map the locking user namespace", mountns_map(plan));
	(void)mountns_setattr("/proc", false, MOUNT_ATTR_RDONLY, 0);
	return 0;
}

/* Probe once: can a child of this process build the namespace? */
bool
mountns_available(void)
{
	static int available = -1;
	struct mountns_plan plan;
	const char *what;
	int status = -1;
	pid_t pid, w = -1;

	if (available >= 0)
		return available;
	mountns_plan_build(&plan, NULL, NULL);
	pid = fork();
	if (pid == 0)
		_exit(mountns_enter(&plan, &what) == 0 ? 0 : 1);
	mountns_plan_clear(&plan);
	available = 0;
	if (pid > 0) {
		while ((w = waitpid(pid, &status, 0)) < 0 && errno == EINTR)
			;
		available = w == pid && WIFEXITED(status) &&
			WEXITSTATUS(status) == 0;
	}
	return available;
}
