/* SPDX-License-Identifier: ISC */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <fnmatch.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "common/scope.h"
#include "common/xmalloc.h"
#include "worker/fscheck.h"
#include "worker/tools_impl.h"

/* Paths listed at most; the rest are counted. */
#define TOOL_GLOB_MAX_RESULTS 1000

struct tool_glob_walker {
	struct tool_env *env;
	tool_glob_walk_cb cb;
	void *arg;
	size_t entries;
	bool cut;
	bool stop;
};

static int
tool_glob_any_cb(const struct scope_rule *found, const void *owner, void *arg)
{
	return 1;
}

/* Does any allow rule grant read somewhere beneath the directory abs? */
static bool
tool_glob_scope_beneath(const struct tool_env *env, const char *abs)
{
	struct scope_rule rule;

	if (env->scope == NULL || env->scope->trie == NULL)
		return false;
	memset(&rule, 0, sizeof(rule));
	rule.target = (char *)(uintptr_t)abs;
	rule.perm = SCOPE_READ;
	rule.recursive = true;
	return scope_trie_foreach_overlap(env->scope->trie, &rule, SCOPE_READ,
		       tool_glob_any_cb, NULL) != 0;
}

static int
tool_glob_cmp(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

static void
tool_glob_walk_dir(struct tool_glob_walker *w, int dfd, const char *abs,
	const char *rel, int depth)
{
	char **names = NULL, *cabs, *crel;
	size_t n = 0, i;
	struct dirent *de;
	struct stat st;
	bool is_dir;
	DIR *d;
	int fd, r;

	d = fdopendir(dfd);
	if (d == NULL) {
		close(dfd);
		return;
	}
	while ((de = readdir(d)) != NULL) {
		if (strcmp(de->d_name, ".") == 0 ||
			strcmp(de->d_name, "..") == 0)
			continue;
		if (++w->entries > TOOL_WALK_MAX_ENTRIES) {
			w->cut = true;
			break;
		}
		names = xreallocarray(names, n + 1, sizeof(*names));
		names[n++] = xstrdup(de->d_name);
	}
	if (n > 0)
		qsort(names, n, sizeof(*names), tool_glob_cmp);
	for (i = 0; i < n && !w->stop; i++) {
		if (fstatat(dirfd(d), names[i], &st, AT_SYMLINK_NOFOLLOW) < 0)
			continue;
		is_dir = S_ISDIR(st.st_mode);
		cabs = strcmp(abs, "/") == 0 ? xstrfmt("/%s", names[i])
					     : xstrfmt("%s/%s", abs, names[i]);
		crel = *rel == '\0' ? xstrdup(names[i])
				    : xstrfmt("%s/%s", rel, names[i]);
		r = 0;
		if (fscheck_perm(w->env->scope, cabs) >= SCOPE_READ)
			r = w->cb(
				w->arg, cabs, crel, dirfd(d), names[i], is_dir);
		else if (!is_dir || !tool_glob_scope_beneath(w->env, cabs))
			r = TOOL_WALK_SKIP;
		if (r == TOOL_WALK_STOP)
			w->stop = true;
		else if (r == 0 && is_dir && depth < TOOL_WALK_MAX_DEPTH) {
			fd = openat(dirfd(d), names[i],
				O_RDONLY | O_DIRECTORY | O_NOFOLLOW |
					O_CLOEXEC);
			if (fd >= 0)
				tool_glob_walk_dir(
					w, fd, cabs, crel, depth + 1);
		}
		free(cabs);
		free(crel);
	}
	for (i = 0; i < n; i++)
		free(names[i]);
	free(names);
	closedir(d);
}

/* Walk the readable tree below root; see tools_impl.h. */
int
tool_glob_walk(struct tool_env *env, int rootfd, const char *root,
	tool_glob_walk_cb cb, void *arg)
{
	struct tool_glob_walker w;

	memset(&w, 0, sizeof(w));
	w.env = env;
	w.cb = cb;
	w.arg = arg;
	tool_glob_walk_dir(&w, rootfd, root, "", 0);
	return w.cut ? 1 : 0;
}

/* Length of the first component of s. */
static size_t
tool_glob_comp(const char *s)
{
	const char *slash = strchr(s, '/');

	return slash != NULL ? (size_t)(slash - s) : strlen(s);
}

static const char *
tool_glob_rest(const char *s, size_t n)
{
	return s[n] == '/' ? s + n + 1 : s + n;
}

static bool
tool_glob_comp_match(const char *p, size_t pn, const char *s, size_t sn)
{
	char *pc = xstrndup(p, pn), *sc = xstrndup(s, sn);
	bool ok = fnmatch(pc, sc, 0) == 0;

	free(pc);
	free(sc);
	return ok;
}

/* Match a slash-separated path against a pattern with ** components. */
bool
tool_glob_match(const char *p, const char *s)
{
	size_t pn, sn;

	while (*p == '/')
		p++;
	if (*p == '\0')
		return *s == '\0';
	pn = tool_glob_comp(p);
	if (pn == 2 && strncmp(p, "**", 2) == 0) {
		if (tool_glob_match(tool_glob_rest(p, pn), s))
			return true;
		if (*s == '\0')
			return false;
		return tool_glob_match(p, tool_glob_rest(s, tool_glob_comp(s)));
	}
	if (*s == '\0')
		return false;
	sn = tool_glob_comp(s);
	if (!tool_glob_comp_match(p, pn, s, sn))
		return false;
	return tool_glob_match(tool_glob_rest(p, pn), tool_glob_rest(s, sn));
}

/* Could some path beneath the directory s match pattern p? */
static bool
tool_glob_prefix_ok(const char *p, const char *s)
{
	size_t pn, sn;

	while (*p == '/')
		p++;
	if (*s == '\0')
		return *p != '\0';
	if (*p == '\0')
		return false;
	pn = tool_glob_comp(p);
	if (pn == 2 && strncmp(p, "**", 2) == 0)
		return true;
	sn = tool_glob_comp(s);
	if (!tool_glob_comp_match(p, pn, s, sn))
		return false;
	return tool_glob_prefix_ok(
		tool_glob_rest(p, pn), tool_glob_rest(s, sn));
}

struct tool_glob_state {
	struct tool_env *env;
	const char *pattern;
	bool want_git;
	char **v;
	size_t n;
};

static int
tool_glob_cb(void *arg, const char *abs, const char *rel, int dirfd,
	const char *name, bool is_dir)
{
	struct tool_glob_state *gs = arg;

	if (tool_glob_match(gs->pattern, rel)) {
		gs->v = xreallocarray(gs->v, gs->n + 1, sizeof(*gs->v));
		gs->v[gs->n++] = xstrfmt("%s%s",
			tools_display_path(gs->env, abs), is_dir ? "/" : "");
	}
	if (!is_dir)
		return 0;
	if (strcmp(name, ".git") == 0 && !gs->want_git)
		return TOOL_WALK_SKIP;
	return tool_glob_prefix_ok(gs->pattern, rel) ? 0 : TOOL_WALK_SKIP;
}

/* glob {pattern, path?}: sorted paths matching a wildcard pattern. */
void
tool_glob_run(
	struct tool_env *env, struct json_object *args, struct tool_result *res)
{
	const char *pattern = NULL, *path = NULL, *p, *cut;
	char *base = NULL, *abs = NULL, *err = NULL;
	struct tool_glob_state gs;
	struct tools_out out;
	size_t i;
	int fd, truncated;

	if (tools_arg_string(args, "pattern", true, &pattern, res) < 0 ||
		tools_arg_string(args, "path", false, &path, res) < 0)
		return;
	if (*pattern == '\0') {
		tools_result_error(res, "argument \"pattern\" is empty");
		return;
	}
	if (*pattern == '/') {
		/* Split off the directories before the first wildcard. */
		cut = pattern;
		for (p = pattern; *p != '\0' && strchr("*?[", *p) == NULL; p++)
			if (*p == '/')
				cut = p;
		base = cut == pattern
			? xstrdup("/")
			: xstrndup(pattern, (size_t)(cut - pattern));
		pattern = cut + 1;
	}
	while (pattern[0] == '.' && pattern[1] == '/')
		pattern += 2;
	if (base == NULL)
		base = xstrdup(path != NULL ? path : ".");
	fd = fscheck_open(
		env->scope, env->cwd, base, O_RDONLY | O_DIRECTORY, &abs, &err);
	free(base);
	if (fd < 0) {
		tools_result_error(res, "%s", err);
		free(err);
		return;
	}
	memset(&gs, 0, sizeof(gs));
	gs.env = env;
	gs.pattern = pattern;
	gs.want_git = strstr(pattern, ".git") != NULL;
	truncated = tool_glob_walk(env, fd, abs, tool_glob_cb, &gs);
	if (gs.n > 0)
		qsort(gs.v, gs.n, sizeof(*gs.v), tool_glob_cmp);
	memset(&out, 0, sizeof(out));
	for (i = 0; i < gs.n && i < TOOL_GLOB_MAX_RESULTS; i++)
		tools_out_printf(&out, "%s\n", gs.v[i]);
	if (gs.n > TOOL_GLOB_MAX_RESULTS)
		tools_out_printf(&out, "[%zu more matches not shown]\n",
			gs.n - TOOL_GLOB_MAX_RESULTS);
	if (truncated)
		tools_out_printf(&out,
			"[search stopped after %d entries; narrow the "
			"pattern or path]\n",
			TOOL_WALK_MAX_ENTRIES);
	if (gs.n == 0 && !truncated)
		tools_out_printf(
			&out, "no paths match %s in %s\n", pattern, abs);
	res->output = tools_out_finish(&out);
	res->summary = xstrfmt(
		"%zu match%s for %s", gs.n, gs.n == 1 ? "" : "es", pattern);
	for (i = 0; i < gs.n; i++)
		free(gs.v[i]);
	free(gs.v);
	free(abs);
}
