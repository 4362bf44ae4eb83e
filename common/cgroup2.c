/* SPDX-License-Identifier: ISC */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/statfs.h>
#include <sys/xattr.h>
#include <unistd.h>

#include "common/cgroup2.h"
#include "common/xmalloc.h"

#ifndef CGROUP2_SUPER_MAGIC
#define CGROUP2_SUPER_MAGIC 0x63677270
#endif

#define CG2_PREFIX "cgroup v2 delegation not available: "

static bool
cgroup2_is_v2(const char *path)
{
	struct statfs sf;

	return statfs(path, &sf) == 0 &&
		(unsigned long)sf.f_type == (unsigned long)CGROUP2_SUPER_MAGIC;
}

/* The mount point of the cgroup2 hierarchy (its root), or NULL. */
static char *
cgroup2_mount(void)
{
	char line[4096], root[PATH_MAX], mnt[PATH_MAX];
	char *found = NULL, *sep;
	FILE *f;

	if (cgroup2_is_v2("/sys/fs/cgroup"))
		return xstrdup("/sys/fs/cgroup");
	if ((f = fopen("/proc/self/mountinfo", "re")) == NULL)
		return NULL;
	while (found == NULL && fgets(line, sizeof(line), f) != NULL) {
		/* ID PARENT MAJ:MIN ROOT MOUNTPOINT ... - FSTYPE ... */
		if ((sep = strstr(line, " - cgroup2 ")) == NULL)
			continue;
		if (sscanf(line, "%*s %*s %*s %4095s %4095s", root, mnt) != 2)
			continue;
		if (strcmp(root, "/") == 0 && strchr(mnt, '\\') == NULL)
			found = xstrdup(mnt);
	}
	fclose(f);
	return found;
}

/* The 0:: path of /proc/self/cgroup, or NULL. */
static char *
cgroup2_self_path(void)
{
	char line[4096];
	char *found = NULL;
	size_t n;
	FILE *f;

	if ((f = fopen("/proc/self/cgroup", "re")) == NULL)
		return NULL;
	while (found == NULL && fgets(line, sizeof(line), f) != NULL) {
		if (strncmp(line, "0::", 3) != 0)
			continue;
		n = strcspn(line + 3, "\n");
		found = xstrndup(line + 3, n);
	}
	fclose(f);
	return found;
}

/* Delegated to us: systemd's mark, or our own (non-root) directory. */
static bool
cgroup2_delegated(const char *dir)
{
	char v[8];
	struct stat st;

	if (getxattr(dir, "trusted.delegate", v, sizeof(v)) > 0 ||
		getxattr(dir, "user.delegate", v, sizeof(v)) > 0)
		return true;
	return getuid() != 0 && stat(dir, &st) == 0 && st.st_uid == getuid();
}

static void
cgroup2_fail(struct cgroup2_info *ci, char *msg)
{
	free(ci->root);
	ci->root = NULL;
	free(ci->error);
	ci->error = msg;
}

/* Writable and listing its controllers: the last checks of a root. */
static void
cgroup2_check_root(struct cgroup2_info *ci)
{
	static const char *const files[] = { "cgroup.procs",
		"cgroup.subtree_control", NULL };
	char *path;
	size_t i;
	ssize_t n;

	for (i = 0; files[i] != NULL; i++) {
		path = xstrfmt("%s/%s", ci->root, files[i]);
		if (access(path, W_OK) < 0) {
			cgroup2_fail(ci,
				xstrfmt(CG2_PREFIX "%s is not writable by "
						   "podvisord (%s); " CG2_FIX,
					path, strerror(errno)));
			free(path);
			return;
		}
		free(path);
	}
	if (access(ci->root, W_OK) < 0) {
		cgroup2_fail(ci,
			xstrfmt(CG2_PREFIX "cannot create cgroups in %s (%s); "
					   "" CG2_FIX,
				ci->root, strerror(errno)));
		return;
	}
	n = cgroup2_read(ci->root, "cgroup.controllers", ci->controllers,
		sizeof(ci->controllers));
	if (n < 0) {
		cgroup2_fail(ci,
			xstrfmt(CG2_PREFIX "cannot read %s/cgroup.controllers "
					   "(%s); " CG2_FIX,
				ci->root, strerror((int)-n)));
		return;
	}
	ci->controllers[strcspn(ci->controllers, "\n")] = '\0';
	ci->avail = cgroup2_parse_controllers(ci->controllers);
}

char *
cgroup2_self_dir(void)
{
	char *mnt = cgroup2_mount(), *self = cgroup2_self_path(), *dir = NULL;

	if (mnt != NULL && self != NULL && self[0] == '/')
		dir = xstrfmt("%s%s", mnt, strcmp(self, "/") == 0 ? "" : self);
	free(mnt);
	free(self);
	return dir;
}

/* See cgroup2.h. */
void
cgroup2_probe(const char *override, struct cgroup2_info *ci)
{
	char *mnt = NULL, *self = NULL, *slash;
	size_t len;

	memset(ci, 0, sizeof(*ci));
	if (override != NULL && *override != '\0') {
		if (override[0] != '/' || !cgroup2_is_v2(override)) {
			cgroup2_fail(ci,
				xstrfmt(CG2_PREFIX "PODVISOR_CGROUP_ROOT=%s is "
						   "not a directory on a "
						   "cgroup2 file system; "
						   "unset it and " CG2_FIX,
					override));
			return;
		}
		ci->root = xstrdup(override);
		len = strlen(ci->root);
		while (len > 1 && ci->root[len - 1] == '/')
			ci->root[--len] = '\0';
		cgroup2_check_root(ci);
		return;
	}
	if ((mnt = cgroup2_mount()) == NULL) {
		cgroup2_fail(ci,
			xstrdup(CG2_PREFIX
				"/sys/fs/cgroup is cgroup v1 and no "
				"cgroup2 hierarchy is mounted; " CG2_FIX));
		return;
	}
	if ((self = cgroup2_self_path()) == NULL || self[0] != '/') {
		cgroup2_fail(ci,
			xstrdup(CG2_PREFIX "/proc/self/cgroup has no cgroup "
					   "v2 (0::) line; " CG2_FIX));
		goto out;
	}
	if (strcmp(self, "/") == 0) {
		cgroup2_fail(ci,
			strcmp(mnt, "/sys/fs/cgroup") == 0
				? xstrdup(CG2_PREFIX
					  "podvisord runs in the root cgroup, "
					  "which is not delegated to it; " CG2_FIX)
				: xstrfmt(CG2_PREFIX
					  "/sys/fs/cgroup is cgroup v1 (the "
					  "v2 hierarchy at %s is the hybrid "
					  "one, without podvisord's "
					  "controllers) and podvisord runs in "
					  "its root cgroup; " CG2_FIX,
					  mnt));
		goto out;
	}
	/* Started in the leaf (again, or by DelegateSubgroup=podvisord). */
	slash = strrchr(self, '/');
	if (strcmp(slash + 1, "podvisord") == 0 && slash != self) {
		*slash = '\0';
		ci->in_leaf = true;
	}
	ci->root = xstrfmt("%s%s", mnt, self);
	if (!cgroup2_delegated(ci->root)) {
		cgroup2_fail(ci,
			xstrfmt(CG2_PREFIX "%s is not delegated to podvisord "
					   "(no trusted.delegate or "
					   "user.delegate mark, not owned "
					   "by uid %d); " CG2_FIX,
				ci->root, (int)getuid()));
		goto out;
	}
	cgroup2_check_root(ci);
out:
	free(mnt);
	free(self);
}

void
cgroup2_info_clear(struct cgroup2_info *ci)
{
	free(ci->root);
	free(ci->error);
	memset(ci, 0, sizeof(*ci));
}

static const struct {
	const char *name;
	unsigned bit;
} cgroup2_names[] = {
	{ "memory", CG2_MEMORY },
	{ "pids", CG2_PIDS },
	{ "cpu", CG2_CPU },
};

unsigned
cgroup2_parse_controllers(const char *s)
{
	unsigned mask = 0;
	size_t i, n;

	while (s != NULL && *s != '\0') {
		s += strspn(s, " \t\n");
		n = strcspn(s, " \t\n");
		for (i = 0; n > 0 &&
			i < sizeof(cgroup2_names) / sizeof(cgroup2_names[0]);
			i++)
			if (strlen(cgroup2_names[i].name) == n &&
				strncmp(s, cgroup2_names[i].name, n) == 0)
				mask |= cgroup2_names[i].bit;
		s += n;
	}
	return mask;
}

const char *
cgroup2_controller_name(unsigned mask)
{
	size_t i;

	for (i = 0; i < sizeof(cgroup2_names) / sizeof(cgroup2_names[0]); i++)
		if (mask & cgroup2_names[i].bit)
			return cgroup2_names[i].name;
	return "?";
}

char *
cgroup2_missing(const struct cgroup2_info *ci, unsigned need)
{
	unsigned miss;

	if (ci->root == NULL)
		return xstrdup(ci->error != NULL ? ci->error
						 : CG2_PREFIX "not probed");
	if ((miss = need & ~ci->avail) == 0)
		return NULL;
	return xstrfmt(CG2_PREFIX
		"the %s controller is not delegated to %s "
		"(its cgroup.controllers lists \"%s\"; on a "
		"hybrid system it belongs to cgroup v1); " CG2_FIX,
		cgroup2_controller_name(miss), ci->root, ci->controllers);
}

ssize_t
cgroup2_read(const char *dir, const char *file, char *buf, size_t size)
{
	char *path = xstrfmt("%s/%s", dir, file);
	ssize_t n, len = 0;
	int fd;

	fd = open(path, O_RDONLY | O_CLOEXEC);
	free(path);
	if (fd < 0)
		return -errno;
	while ((size_t)len + 1 < size) {
		n = read(fd, buf + len, size - 1 - (size_t)len);
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0) {
			n = -errno;
			close(fd);
			return n;
		}
		if (n == 0)
			break;
		len += n;
	}
	close(fd);
	buf[len] = '\0';
	return len;
}

int
cgroup2_read_int(
	const char *dir, const char *file, const char *key, int64_t *ret)
{
	char buf[4096], *p = buf, *end;
	size_t klen = key != NULL ? strlen(key) : 0;
	long long v;
	ssize_t n;

	if ((n = cgroup2_read(dir, file, buf, sizeof(buf))) < 0)
		return (int)n;
	if (key != NULL) {
		for (p = buf; p != NULL && *p != '\0';) {
			if (strncmp(p, key, klen) == 0 && p[klen] == ' ')
				break;
			p = strchr(p, '\n');
			if (p != NULL)
				p++;
		}
		if (p == NULL || *p == '\0')
			return -ENOENT;
		p += klen + 1;
	}
	if (strncmp(p, "max", 3) == 0) {
		*ret = INT64_MAX;
		return 0;
	}
	errno = 0;
	v = strtoll(p, &end, 10);
	if (end == p || errno != 0)
		return -EINVAL;
	*ret = (int64_t)v;
	return 0;
}

int
cgroup2_write(const char *dir, const char *file, const char *value)
{
	char *path = xstrfmt("%s/%s", dir, file);
	size_t len = strlen(value);
	ssize_t n;
	int fd, r = 0;

	fd = open(path, O_WRONLY | O_CLOEXEC);
	free(path);
	if (fd < 0)
		return -errno;
	do
		n = write(fd, value, len);
	while (n < 0 && errno == EINTR);
	if (n < 0)
		r = -errno;
	else if ((size_t)n != len)
		r = -EIO;
	close(fd);
	return r;
}

int
cgroup2_parse_size(const char *s, int64_t *ret)
{
	unsigned long long v, mul = 1;
	char *end;

	if (s == NULL || *s < '0' || *s > '9')
		return -EINVAL;
	errno = 0;
	v = strtoull(s, &end, 10);
	if (errno != 0)
		return -ERANGE;
	switch (*end) {
	case 'k':
	case 'K':
		mul = 1ULL << 10;
		break;
	case 'm':
	case 'M':
		mul = 1ULL << 20;
		break;
	case 'g':
	case 'G':
		mul = 1ULL << 30;
		break;
	case 't':
	case 'T':
		mul = 1ULL << 40;
		break;
	case '\0':
		break;
	default:
		if (strcmp(end, "B") != 0)
			return -EINVAL;
	}
	if (mul > 1) {
		end++;
		if (strcmp(end, "i") == 0 || strcmp(end, "iB") == 0 ||
			strcmp(end, "B") == 0)
			end += strlen(end);
	} else if (*end == 'B')
		end++;
	if (*end != '\0')
		return -EINVAL;
	if (v > (unsigned long long)INT64_MAX / mul)
		return -ERANGE;
	*ret = (int64_t)(v * mul);
	return 0;
}
