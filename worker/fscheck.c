/* SPDX-License-Identifier: ISC */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "common/xmalloc.h"
#include "worker/fscheck.h"

static const char *
fscheck_perm_name(enum scope_perm need)
{
	return need == SCOPE_WRITE ? "write" : "read";
}

static void
fscheck_set_err(char **reterr_msg, char *msg)
{
	if (reterr_msg != NULL)
		*reterr_msg = msg;
	else
		free(msg);
}

/* The access scope grants to an already normalised path (NULL: none). */
enum scope_perm
fscheck_perm(const struct scope *scope, const char *abs)
{
	if (scope == NULL || scope->trie == NULL)
		return SCOPE_NONE;
	return scope_trie_check(scope->trie, abs);
}

/* Normalise path against cwd into *ret_abs (owned) and check it has need. */
int
fscheck_path(const struct scope *scope, const char *cwd, const char *path,
	enum scope_perm need, char **ret_abs, char **reterr_msg)
{
	char *abs = NULL;
	enum scope_perm perm;
	int r;

	if (path == NULL || *path == '\0') {
		fscheck_set_err(reterr_msg, xstrdup("empty path"));
		return -EINVAL;
	}
	r = scope_normalize(path, cwd, &abs);
	if (r == -EACCES && strstr(path, "..") != NULL) {
		fscheck_set_err(reterr_msg,
			xstrfmt("'..' in a path that does not exist yet is "
				"refused: %s",
				path));
		return r;
	}
	if (r == -ENAMETOOLONG) {
		fscheck_set_err(reterr_msg, xstrfmt("path is too long"));
		return r;
	}
	if (r < 0) {
		fscheck_set_err(reterr_msg,
			xstrfmt("cannot resolve %s: %s", path, strerror(-r)));
		return r;
	}
	perm = fscheck_perm(scope, abs);
	if (perm < need) {
		if (need == SCOPE_WRITE && perm == SCOPE_READ)
			fscheck_set_err(reterr_msg,
				xstrfmt("%s is outside this pod's write scope "
					"(it is read-only for this pod)",
					abs));
		else
			fscheck_set_err(reterr_msg,
				xstrfmt("%s is outside this pod's %s scope",
					abs, fscheck_perm_name(need)));
		free(abs);
		return -EACCES;
	}
	*ret_abs = abs;
	return 0;
}

/* Check that what fd refers to (its /proc/self/fd path) has need. */
int
fscheck_fd(const struct scope *scope, int fd, enum scope_perm need,
	char **reterr_msg)
{
	char link[64], real[PATH_MAX + 1];
	static const char deleted[] = " (deleted)";
	size_t dlen = sizeof(deleted) - 1;
	ssize_t n;
	int r;

	snprintf(link, sizeof(link), "/proc/self/fd/%d", fd);
	n = readlink(link, real, sizeof(real) - 1);
	if (n < 0) {
		r = -errno;
		fscheck_set_err(reterr_msg,
			xstrfmt("cannot verify the opened file: %s",
				strerror(-r)));
		return r;
	}
	real[n] = '\0';
	if ((size_t)n > dlen && strcmp(real + n - dlen, deleted) == 0) {
		fscheck_set_err(reterr_msg,
			xstrfmt("%s was removed while it was being opened",
				real));
		return -ENOENT;
	}
	if (real[0] != '/' || fscheck_perm(scope, real) < need) {
		fscheck_set_err(reterr_msg,
			xstrfmt("path escapes scope through a symlink (it "
				"resolves to %s, outside this pod's %s scope)",
				real, fscheck_perm_name(need)));
		return -EACCES;
	}
	return 0;
}

static int
fscheck_open_error(int r, const char *abs, char **reterr_msg)
{
	switch (r) {
	case -ELOOP:
		fscheck_set_err(reterr_msg,
			xstrfmt("%s: path escapes scope through a symlink",
				abs));
		return -EACCES;
	case -ENOENT:
		fscheck_set_err(reterr_msg, xstrfmt("%s does not exist", abs));
		break;
	case -EISDIR:
		fscheck_set_err(reterr_msg, xstrfmt("%s is a directory", abs));
		break;
	case -ENOTDIR:
		fscheck_set_err(
			reterr_msg, xstrfmt("%s is not a directory", abs));
		break;
	default:
		fscheck_set_err(reterr_msg,
			xstrfmt("cannot open %s: %s", abs, strerror(-r)));
		break;
	}
	return r;
}

/* Open an existing path with its scope checked before and after. */
int
fscheck_open(const struct scope *scope, const char *cwd, const char *path,
	int flags, char **ret_abs, char **reterr_msg)
{
	int acc = flags & O_ACCMODE, fd, r, fl;
	enum scope_perm need;
	struct stat st;
	char *abs = NULL;

	need = (acc != O_RDONLY || (flags & O_TRUNC)) ? SCOPE_WRITE
						      : SCOPE_READ;
	r = fscheck_path(scope, cwd, path, need, &abs, reterr_msg);
	if (r < 0)
		return r;
	fl = flags | O_NOFOLLOW | O_CLOEXEC;
	if (!(flags & O_PATH))
		fl |= O_NONBLOCK | O_NOCTTY;
	fd = open(abs, fl);
	if (fd < 0) {
		r = fscheck_open_error(-errno, abs, reterr_msg);
		free(abs);
		return r;
	}
	r = fscheck_fd(scope, fd, need, reterr_msg);
	if (r < 0)
		goto fail;
	if (fstat(fd, &st) < 0) {
		r = -errno;
		fscheck_set_err(reterr_msg,
			xstrfmt("cannot stat %s: %s", abs, strerror(-r)));
		goto fail;
	}
	if (S_ISLNK(st.st_mode)) {
		r = fscheck_open_error(-ELOOP, abs, reterr_msg);
		goto fail;
	}
	if (S_ISDIR(st.st_mode) && !(flags & (O_DIRECTORY | O_PATH))) {
		r = fscheck_open_error(-EISDIR, abs, reterr_msg);
		goto fail;
	}
	if (!S_ISDIR(st.st_mode) && !S_ISREG(st.st_mode)) {
		r = -EINVAL;
		fscheck_set_err(
			reterr_msg, xstrfmt("%s is not a regular file", abs));
		goto fail;
	}
	if (need == SCOPE_WRITE && S_ISREG(st.st_mode) && st.st_nlink > 1) {
		r = -EACCES;
		fscheck_set_err(reterr_msg,
			xstrfmt("%s has %lu hard links; writing through a "
				"hard link is refused (it can alias a file "
				"outside this pod's scope)",
				abs, (unsigned long)st.st_nlink));
		goto fail;
	}
	if (!(flags & O_PATH) && fcntl(fd, F_SETFL, fl & ~O_NONBLOCK) < 0) {
		r = -errno;
		fscheck_set_err(reterr_msg,
			xstrfmt("cannot open %s: %s", abs, strerror(-r)));
		goto fail;
	}
	if (ret_abs != NULL)
		*ret_abs = abs;
	else
		free(abs);
	return fd;
fail:
	close(fd);
	free(abs);
	return r;
}

/*
 * Open (creating what is missing, inside write scope) the directory dir,
 * walking from "/" one component at a time with O_NOFOLLOW so no symlink
 * can redirect the walk.  dir is normalised, so it holds no symlinks.
 */
static int
fscheck_mkdirs(const struct scope *scope, const char *dir, char **reterr_msg)
{
	char *copy = xstrdup(dir), *p, *slash, *sofar;
	int dfd, nfd, r;
	size_t end;

	dfd = open("/", O_PATH | O_DIRECTORY | O_CLOEXEC);
	if (dfd < 0) {
		r = -errno;
		free(copy);
		fscheck_set_err(reterr_msg, xstrfmt("cannot open /"));
		return r;
	}
	for (p = copy + 1; *p != '\0'; p = slash + 1) {
		slash = strchr(p, '/');
		if (slash != NULL)
			*slash = '\0';
		nfd = openat(
			dfd, p, O_PATH | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
		if (nfd < 0 && errno == ENOENT) {
			end = (size_t)(p - copy) + strlen(p);
			sofar = xstrndup(dir, end);
			if (fscheck_perm(scope, sofar) < SCOPE_WRITE) {
				fscheck_set_err(reterr_msg,
					xstrfmt("cannot create directory %s: "
						"it is outside this pod's "
						"write scope",
						sofar));
				free(sofar);
				r = -EACCES;
				goto out;
			}
			free(sofar);
			if (mkdirat(dfd, p, 0777) < 0 && errno != EEXIST) {
				r = -errno;
				fscheck_set_err(reterr_msg,
					xstrfmt("cannot create directory "
						"%.*s: %s",
						(int)end, dir, strerror(-r)));
				goto out;
			}
			nfd = openat(dfd, p,
				O_PATH | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
		}
		if (nfd < 0) {
			r = -errno;
			if (r == -ENOTDIR || r == -ELOOP)
				fscheck_set_err(reterr_msg,
					xstrfmt("%s: path escapes scope "
						"through a symlink or is not a "
						"directory",
						dir));
			else
				fscheck_set_err(reterr_msg,
					xstrfmt("cannot open directory %s: %s",
						dir, strerror(-r)));
			goto out;
		}
		close(dfd);
		dfd = nfd;
		if (slash == NULL)
			break;
	}
	free(copy);
	return dfd;
out:
	close(dfd);
	free(copy);
	return r;
}

/* Create a new regular file for writing below a checked parent. */
int
fscheck_create(const struct scope *scope, const char *cwd, const char *path,
	mode_t mode, char **ret_abs, char **reterr_msg)
{
	char *abs = NULL, *parent, *name;
	struct stat st;
	int dfd, fd, r;

	r = fscheck_path(scope, cwd, path, SCOPE_WRITE, &abs, reterr_msg);
	if (r < 0)
		return r;
	name = strrchr(abs, '/');
	if (name == NULL || name[1] == '\0') {
		fscheck_set_err(
			reterr_msg, xstrfmt("%s is not a file name", abs));
		free(abs);
		return -EINVAL;
	}
	parent = name == abs ? xstrdup("/")
			     : xstrndup(abs, (size_t)(name - abs));
	name++;
	dfd = fscheck_mkdirs(scope, parent, reterr_msg);
	free(parent);
	if (dfd < 0) {
		free(abs);
		return dfd;
	}
	fd = openat(dfd, name,
		O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC | O_NOCTTY,
		mode);
	if (fd < 0) {
		r = -errno;
		if (r == -EEXIST &&
			fstatat(dfd, name, &st, AT_SYMLINK_NOFOLLOW) == 0 &&
			S_ISLNK(st.st_mode))
			r = fscheck_open_error(-ELOOP, abs, reterr_msg);
		else if (r == -EEXIST)
			fscheck_set_err(
				reterr_msg, xstrfmt("%s already exists", abs));
		else
			r = fscheck_open_error(r, abs, reterr_msg);
		close(dfd);
		free(abs);
		return r;
	}
	close(dfd);
	r = fscheck_fd(scope, fd, SCOPE_WRITE, reterr_msg);
	if (r < 0) {
		close(fd);
		free(abs);
		return r;
	}
	if (ret_abs != NULL)
		*ret_abs = abs;
	else
		free(abs);
	return fd;
}
