/* SPDX-License-Identifier: ISC */
#include "common/paths.h"

#include <errno.h>
#include <limits.h>
#include <pwd.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "config.h"
#include "common/sock.h"
#include "common/xmalloc.h"

/* An environment variable, or NULL if unset or empty. */
static const char *
paths_env(const char *name)
{
	const char *v = getenv(name);

	return v != NULL && *v != '\0' ? v : NULL;
}

/* An XDG base variable: used only if set to an absolute path. */
static const char *
paths_xdg_env(const char *name)
{
	const char *v = paths_env(name);

	return v != NULL && v[0] == '/' ? v : NULL;
}

/* The home directory: $HOME, else the password database. */
static char *
paths_home(void)
{
	const char *home = paths_env("HOME");
	struct passwd pw, *res = NULL;
	char buf[4096];

	if (home != NULL)
		return xstrdup(home);
	if (getpwuid_r(getuid(), &pw, buf, sizeof(buf), &res) != 0 ||
		res == NULL || res->pw_dir == NULL || res->pw_dir[0] != '/')
		return NULL;
	return xstrdup(res->pw_dir);
}

/* $var, else $xdg/podvisor<tail>, else $HOME/<home_rel>/podvisor<tail>. */
static int
paths_resolve(const char *var, const char *xdg, const char *home_rel,
	const char *tail, char **ret)
{
	const char *v;
	char *home;

	if ((v = paths_env(var)) != NULL) {
		*ret = xstrdup(v);
		return 0;
	}
	if ((v = paths_xdg_env(xdg)) != NULL) {
		*ret = xstrfmt("%s/podvisor%s", v, tail);
		return 0;
	}
	home = paths_home();
	if (home == NULL)
		return -ENOENT;
	*ret = xstrfmt("%s/%s/podvisor%s", home, home_rel, tail);
	free(home);
	return 0;
}

/* Fill p from PODVISOR_* overrides and the XDG variables. */
int
paths_init(struct paths *p)
{
	const char *v;
	int r;

	memset(p, 0, sizeof(*p));
	r = paths_resolve("PODVISOR_CONFIG", "XDG_CONFIG_HOME", ".config",
		"/config.ini", &p->config);
	if (r < 0)
		goto fail;
	if ((v = paths_env("PODVISOR_RUNTIME_DIR")) != NULL)
		p->runtime = xstrdup(v);
	else if ((v = paths_xdg_env("XDG_RUNTIME_DIR")) != NULL)
		p->runtime = xstrfmt("%s/podvisor", v);
	else
		p->runtime = xstrfmt("/tmp/podvisor-%u", (unsigned)getuid());
	r = paths_resolve("PODVISOR_STATE_DIR", "XDG_STATE_HOME",
		".local/state", "", &p->state);
	if (r < 0)
		goto fail;

	p->control_sock = xstrfmt("%s/control.sock", p->runtime);
	p->runtime_pods = xstrfmt("%s/pods", p->runtime);
	p->state_pods = xstrfmt("%s/pods", p->state);
	p->sessions = xstrfmt("%s/sessions", p->state);
	p->supervisor_json = xstrfmt("%s/supervisor.json", p->state);
	return 0;

fail:
	paths_free(p);
	return r;
}

/* Free the strings of p (NULL-safe; p itself is not freed). */
void
paths_free(struct paths *p)
{
	if (p == NULL)
		return;
	free(p->config);
	free(p->runtime);
	free(p->control_sock);
	free(p->runtime_pods);
	free(p->state);
	free(p->state_pods);
	free(p->sessions);
	free(p->supervisor_json);
	memset(p, 0, sizeof(*p));
}

/* Create the runtime and state directories and their subdirectories. */
int
paths_ensure_dirs(const struct paths *p)
{
	const char *dirs[] = { p->runtime, p->runtime_pods, p->state,
		p->state_pods, p->sessions };
	size_t i;
	int r;

	for (i = 0; i < sizeof(dirs) / sizeof(dirs[0]); i++) {
		r = dir_ensure_private(dirs[i]);
		if (r < 0)
			return r;
	}
	return 0;
}

/* <runtime>/pods/<name>; caller frees. */
char *
paths_pod_runtime_dir(const struct paths *p, const char *name)
{
	return xstrfmt("%s/%s", p->runtime_pods, name);
}

/* <runtime>/pods/<name>/sock; caller frees. */
char *
paths_pod_sock(const struct paths *p, const char *name)
{
	return xstrfmt("%s/%s/sock", p->runtime_pods, name);
}

/* <runtime>/pods/<name>/stderr.log; caller frees. */
char *
paths_pod_stderr(const struct paths *p, const char *name)
{
	return xstrfmt("%s/%s/stderr.log", p->runtime_pods, name);
}

/* <state>/pods/<name>.json; caller frees. */
char *
paths_pod_state(const struct paths *p, const char *name)
{
	return xstrfmt("%s/%s.json", p->state_pods, name);
}

/* <state>/sessions/<name>; caller frees. */
char *
paths_session_dir(const struct paths *p, const char *name)
{
	return xstrfmt("%s/%s", p->sessions, name);
}

/* <state>/sessions/<name>/<segment>.jsonl; caller frees. */
char *
paths_segment(const struct paths *p, const char *name, const char *segment)
{
	return xstrfmt("%s/%s/%s.jsonl", p->sessions, name, segment);
}

/* The directory holding the running executable, or NULL; caller frees. */
static char *
paths_self_dir(void)
{
	char buf[PATH_MAX];
	ssize_t n;
	char *slash;

	n = readlink("/proc/self/exe", buf, sizeof(buf) - 1);
	if (n <= 0 || (size_t)n >= sizeof(buf) - 1)
		return NULL;
	buf[n] = '\0';
	slash = strrchr(buf, '/');
	if (slash == NULL)
		return NULL;
	if (slash == buf)
		return xstrdup("/");
	*slash = '\0';
	return xstrdup(buf);
}

/*
 * name next to the running executable, or, when running from a meson build
 * tree (each program in its own folder), in a sibling folder of the tree.
 */
static char *
paths_find_near(const char *dir, const char *name)
{
	static const char *const build_dirs[] = { "", "/../supervisord",
		"/../worker", "/../cli", "/../tests/fakellm" };
	const char *base = strcmp(dir, "/") == 0 ? "" : dir;
	size_t i;
	char *path;

	for (i = 0; i < sizeof(build_dirs) / sizeof(build_dirs[0]); i++) {
		path = xstrfmt("%s%s/%s", base, build_dirs[i], name);
		if (access(path, X_OK) == 0)
			return path;
		free(path);
	}
	return NULL;
}

/* $env_override, else name beside our executable, else libexecdir/name. */
char *
paths_sibling_binary(const char *name, const char *env_override)
{
	const char *v;
	char *dir, *path;

	if (env_override != NULL && (v = paths_env(env_override)) != NULL)
		return xstrdup(v);
	dir = paths_self_dir();
	if (dir != NULL) {
		path = paths_find_near(dir, name);
		free(dir);
		if (path != NULL)
			return path;
	}
	return xstrfmt("%s/%s", PODVISOR_LIBEXECDIR, name);
}

/* The podvisor-worker binary to exec; caller frees. */
char *
paths_worker_binary(void)
{
	return paths_sibling_binary("podvisor-worker", "PODVISOR_WORKER");
}
