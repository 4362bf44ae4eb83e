/* SPDX-License-Identifier: ISC */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <linux/mount.h>
#include <linux/openat2.h>
#include <net/if.h>
#include <sched.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/mount.h>
#include <sys/socket.h>
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
#ifndef SYS_open_tree
#define SYS_open_tree 428
#endif
#ifndef SYS_move_mount
#define SYS_move_mount 429
#endif
#ifndef OPEN_TREE_CLONE
#define OPEN_TREE_CLONE 1
#endif
#ifndef SYS_openat2
#define SYS_openat2 437
#endif
#ifndef MOVE_MOUNT_T_EMPTY_PATH
#define MOVE_MOUNT_T_EMPTY_PATH 0x00000040
#endif
#ifndef MOVE_MOUNT_F_EMPTY_PATH
#define MOVE_MOUNT_F_EMPTY_PATH 0x00000004
#endif

static const char *const mountns_shared_tmp[MOUNTNS_NTMP] = { "/tmp",
	"/var/tmp" };

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

bool
mountns_is_shared_tmp(const char *path)
{
	char real[PATH_MAX];
	size_t i;

	for (i = 0; i < MOUNTNS_NTMP; i++)
		if (realpath(mountns_shared_tmp[i], real) != NULL &&
			scope_path_under(real, path))
			return true;
	return false;
}

/*
 * An empty regular file comp in dfd, or the regular file already there:
 * never opens what the pod may have put there instead (a FIFO would
 * block, a link would lead elsewhere); that is removed.
 */
static int
mountns_mkfile(int dfd, const char *comp)
{
	struct stat st;
	int fd;

	fd = openat(dfd, comp,
		O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_NONBLOCK |
			O_CLOEXEC,
		0600);
	if (fd >= 0) {
		close(fd);
		return 0;
	}
	if (errno != EEXIST)
		return -errno;
	if (fstatat(dfd, comp, &st, AT_SYMLINK_NOFOLLOW) < 0)
		return -errno;
	if (S_ISREG(st.st_mode))
		return 0;
	/* The pod's tools put something else there: the path is ours. */
	if (unlinkat(dfd, comp, S_ISDIR(st.st_mode) ? AT_REMOVEDIR : 0) < 0)
		return -errno;
	fd = openat(dfd, comp,
		O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_NONBLOCK |
			O_CLOEXEC,
		0600);
	if (fd < 0)
		return -errno;
	close(fd);
	return 0;
}

/*
 * Make the mountpoint for rel (a relative path, no "." or "..") inside
 * the directory root: directories all the way, the last one a file if
 * is_file.  Never follows a symlink: the pod writes in root.
 */
static int
mountns_mkpoint(const char *root, const char *rel, bool is_file)
{
	char comp[NAME_MAX + 1];
	const char *p = rel, *e;
	int dfd, fd, r = 0;

	dfd = open(root, O_PATH | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
	if (dfd < 0)
		return -errno;
	while (*p != '\0') {
		e = strchr(p, '/');
		if (e == NULL)
			e = p + strlen(p);
		if (e == p || (size_t)(e - p) > NAME_MAX) {
			r = -EINVAL;
			break;
		}
		memcpy(comp, p, (size_t)(e - p));
		comp[e - p] = '\0';
		p = *e == '/' ? e + 1 : e;
		if (*p == '\0' && is_file) {
			r = mountns_mkfile(dfd, comp);
			break;
		}
		if (mkdirat(dfd, comp, 0700) < 0 && errno != EEXIST) {
			r = -errno;
			break;
		}
		fd = openat(dfd, comp,
			O_PATH | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
		/* The pod's tools put a link or file there: the path is ours. */
		if (fd < 0 && (errno == ENOTDIR || errno == ELOOP) &&
			unlinkat(dfd, comp, 0) == 0 &&
			mkdirat(dfd, comp, 0700) == 0)
			fd = openat(dfd, comp,
				O_PATH | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
		if (fd < 0) {
			r = -errno;
			break;
		}
		close(dfd);
		dfd = fd;
	}
	close(dfd);
	return r;
}

/* Is path strictly beneath one of the plan's shared temp dirs?  Which. */
static int
mountns_tmp_of(const struct mountns_plan *plan, const char *path)
{
	size_t i;

	for (i = 0; i < MOUNTNS_NTMP; i++)
		if (plan->tmp_dst[i] != NULL &&
			strcmp(plan->tmp_dst[i], path) != 0 &&
			scope_path_under(plan->tmp_dst[i], path))
			return (int)i;
	return -1;
}

int
mountns_plan_private_tmp(struct mountns_plan *plan, const struct scope *scope,
	const char *const tmp[MOUNTNS_NTMP], const char *const *visible,
	char **reterr_msg)
{
	const struct scope_rules *rules = scope != NULL ? &scope->rules : NULL;
	char real[PATH_MAX];
	struct stat st;
	size_t i;
	int t, r;

	for (i = 0; tmp != NULL && i < MOUNTNS_NTMP; i++) {
		if (tmp[i] == NULL ||
			realpath(mountns_shared_tmp[i], real) == NULL)
			continue;
		/* /var/tmp a link to /tmp: one private dir */
		if (i > 0 && plan->tmp_dst[0] != NULL &&
			strcmp(plan->tmp_dst[0], real) == 0)
			continue;
		plan->tmp_src[i] = xstrdup(tmp[i]);
		plan->tmp_dst[i] = xstrdup(real);
	}
	for (i = 0; rules != NULL && i < rules->n; i++) {
		const struct scope_rule *rule = &rules->v[i];

		if (!rule->deny && mountns_tmp_of(plan, rule->target) >= 0 &&
			mountns_exists(rule->target))
			mountns_add(&plan->graft, &plan->ngraft, rule->target);
	}
	for (i = 0; visible != NULL && visible[i] != NULL; i++)
		if (realpath(visible[i], real) != NULL &&
			mountns_tmp_of(plan, real) >= 0)
			mountns_add(&plan->graft, &plan->ngraft, real);
	mountns_outermost(plan->graft, &plan->ngraft);
	for (i = 0; i < plan->ngraft; i++) {
		t = mountns_tmp_of(plan, plan->graft[i]);
		if (lstat(plan->graft[i], &st) < 0)
			st.st_mode = S_IFDIR;
		r = mountns_mkpoint(plan->tmp_src[t],
			plan->graft[i] + strlen(plan->tmp_dst[t]) +
				(strcmp(plan->tmp_dst[t], "/") != 0),
			!S_ISDIR(st.st_mode));
		if (r < 0) {
			*reterr_msg = xstrfmt("cannot make the mountpoint "
					      "for %s in the pod's private "
					      "%s (%s): %s",
				plan->graft[i], mountns_shared_tmp[t],
				plan->tmp_src[t], strerror(-r));
			return r;
		}
	}
	plan->graft_fd = xcalloc(plan->ngraft + 1, sizeof(*plan->graft_fd));
	plan->tmp_fd = xcalloc(MOUNTNS_NTMP, sizeof(*plan->tmp_fd));
	return 0;
}

void
mountns_plan_clear(struct mountns_plan *plan)
{
	size_t i;

	for (i = 0; i < plan->nrw; i++)
		free(plan->rw[i]);
	for (i = 0; i < plan->nro; i++)
		free(plan->ro[i]);
	for (i = 0; i < plan->ngraft; i++)
		free(plan->graft[i]);
	for (i = 0; i < MOUNTNS_NTMP; i++) {
		free(plan->tmp_src[i]);
		free(plan->tmp_dst[i]);
	}
	free(plan->graft);
	free(plan->graft_fd);
	free(plan->tmp_fd);
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

/* Bring lo up in the new network namespace (loopback). */
static int
mountns_lo_up(void)
{
	struct ifreq ifr;
	int fd, r = 0;

	fd = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
	if (fd < 0)
		return -errno;
	memset(&ifr, 0, sizeof(ifr));
	memcpy(ifr.ifr_name, "lo", 3);
	ifr.ifr_flags = IFF_UP | IFF_LOOPBACK | IFF_RUNNING;
	if (ioctl(fd, SIOCSIFFLAGS, &ifr) < 0)
		r = -errno;
	close(fd);
	return r;
}

/* Detach a copy of each graft before the private temp dirs hide it. */
static int
mountns_graft_take(const struct mountns_plan *plan)
{
	size_t i;
	long fd;

	/* The sources first: a private dir may lie beneath a shared one. */
	for (i = 0; i < MOUNTNS_NTMP; i++) {
		if (plan->tmp_src[i] == NULL)
			continue;
		fd = syscall(SYS_open_tree, AT_FDCWD, plan->tmp_src[i],
			OPEN_TREE_CLONE | OPEN_TREE_CLOEXEC);
		if (fd < 0)
			return -errno;
		plan->tmp_fd[i] = (int)fd;
	}
	for (i = 0; i < plan->ngraft; i++) {
		fd = syscall(SYS_open_tree, AT_FDCWD, plan->graft[i],
			OPEN_TREE_CLONE | OPEN_TREE_CLOEXEC | AT_RECURSIVE);
		if (fd < 0)
			return -errno;
		plan->graft_fd[i] = (int)fd;
	}
	return 0;
}

static int
mountns_graft_put(const struct mountns_plan *plan)
{
	struct open_how how;
	size_t i;
	long to;
	int r = 0;

	/*
	 * The mountpoint lies in the pod's own private /tmp: a link its
	 * tools put there since the parent made it must not be followed.
	 */
	memset(&how, 0, sizeof(how));
	how.flags = O_PATH | O_CLOEXEC;
	how.resolve = RESOLVE_NO_SYMLINKS;
	for (i = 0; i < plan->ngraft; i++) {
		to = r == 0 ? syscall(SYS_openat2, AT_FDCWD, plan->graft[i],
				      &how, sizeof(how))
			    : -1;
		if (r == 0 && to < 0)
			r = -errno;
		if (r == 0 &&
			syscall(SYS_move_mount, plan->graft_fd[i], "", (int)to,
				"",
				MOVE_MOUNT_F_EMPTY_PATH |
					MOVE_MOUNT_T_EMPTY_PATH) < 0)
			r = -errno;
		if (to >= 0)
			close((int)to);
		close(plan->graft_fd[i]);
	}
	return r;
}

static int
mountns_cover_tmp(const struct mountns_plan *plan)
{
	size_t i;

	for (i = 0; i < MOUNTNS_NTMP; i++)
		if (plan->tmp_src[i] != NULL &&
			syscall(SYS_move_mount, plan->tmp_fd[i], "", AT_FDCWD,
				plan->tmp_dst[i], MOVE_MOUNT_F_EMPTY_PATH) < 0)
			return -errno;
	return 0;
}

int
mountns_enter(const struct mountns_plan *plan, const char **ret_what)
{
	size_t i;
	int r;

	MOUNTNS_STEP("unshare",
		unshare(CLONE_NEWNS | (plan->userns ? CLONE_NEWUSER : 0) |
			(plan->net != MOUNTNS_NET_ON ? CLONE_NEWNET : 0)) < 0
			? -errno
			: 0);
	if (plan->userns)
		MOUNTNS_STEP("map the user namespace", mountns_map(plan));
	/* Before the lock: its user namespace has no say over this one. */
	if (plan->net == MOUNTNS_NET_LOOPBACK)
		MOUNTNS_STEP("bring lo up", mountns_lo_up());
	MOUNTNS_STEP("make the mounts private",
		mount("none", "/", "none", MS_REC | MS_PRIVATE, NULL) < 0
			? -errno
			: 0);
	/* Nothing is read-only yet: a failure here changes no access. */
	for (i = 0; i < plan->nrw; i++)
		MOUNTNS_STEP("bind a writable path", mountns_bind(plan->rw[i]));
	for (i = 0; i < plan->nro; i++)
		MOUNTNS_STEP("bind a hole", mountns_bind(plan->ro[i]));
	/* The private temp dirs only hide; the grafts keep what is used. */
	MOUNTNS_STEP("copy the paths beneath /tmp", mountns_graft_take(plan));
	MOUNTNS_STEP("bind the private /tmp", mountns_cover_tmp(plan));
	MOUNTNS_STEP(
		"put back the paths beneath /tmp", mountns_graft_put(plan));
	MOUNTNS_STEP("make / read-only",
		mountns_setattr("/", true, MOUNT_ATTR_RDONLY, 0));
	/* From here a failure leaves more read-only, never less. */
	MOUNTNS_STEP("reopen /proc",
		mountns_setattr("/proc", false, 0, MOUNT_ATTR_RDONLY));
	for (i = 0; i < MOUNTNS_NTMP; i++)
		if (plan->tmp_dst[i] != NULL)
			MOUNTNS_STEP("make the private /tmp writable",
				mountns_setattr(plan->tmp_dst[i], false, 0,
					MOUNT_ATTR_RDONLY));
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

/* Can a child of this process build the namespace (with net)? */
static bool
mountns_probe(enum mountns_net net)
{
	struct mountns_plan plan;
	const char *what;
	int status = -1;
	pid_t pid, w = -1;

	mountns_plan_build(&plan, NULL, NULL);
	plan.net = net;
	pid = fork();
	if (pid == 0)
		_exit(mountns_enter(&plan, &what) == 0 ? 0 : 1);
	mountns_plan_clear(&plan);
	if (pid < 0)
		return false;
	while ((w = waitpid(pid, &status, 0)) < 0 && errno == EINTR)
		;
	return w == pid && WIFEXITED(status) && WEXITSTATUS(status) == 0;
}

/* Probe once: can a child of this process build the namespace? */
bool
mountns_available(void)
{
	static int available = -1;

	if (available < 0)
		available = mountns_probe(MOUNTNS_NET_ON);
	return available;
}

/* Probe once: and a network namespace with lo up in it? */
bool
mountns_net_available(void)
{
	static int available = -1;

	if (available < 0)
		available = mountns_available() &&
			mountns_probe(MOUNTNS_NET_LOOPBACK);
	return available;
}
