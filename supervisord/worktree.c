/* SPDX-License-Identifier: ISC */
#include <sys/stat.h>

#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <json-c/json.h>

#include "common/log.h"
#include "common/scope.h"
#include "common/xmalloc.h"
#include "proto/conn.h"
#include "proto/msg.h"
#include "supervisord/conf.h"
#include "supervisord/daemon.h"
#include "supervisord/gitrun.h"
#include "supervisord/podops.h"
#include "supervisord/registry.h"
#include "supervisord/summary.h"
#include "supervisord/worktree.h"

/* git status for inspect: short, the user is waiting. */
#define WORKTREE_STATUS_TIMEOUT_S 10

enum wt_kind {
	WT_SPAWN,
	WT_FORGET,
	WT_INSPECT,
	WT_ROLLBACK,
};

enum wt_step {
	WT_TOPLEVEL,
	WT_BASE,
	WT_BRANCH,
	WT_DIRTY,
	WT_ADD,
	WT_ADMIN,
	WT_REMOVE,
	WT_DELETE_BRANCH,
	WT_STATUS,
	WT_RB_REMOVE,
	WT_RB_BRANCH,
};

/* One asynchronous worktree operation: a request waiting on git. */
struct wt_op {
	struct daemon *d;
	enum wt_kind kind;
	enum wt_step step;
	struct conn *c; /* referenced */
	char *method; /* spawn / spawn_pod / forget / inspect */
	struct json_object *params; /* owned copy */
	struct json_object *id; /* referenced */
	char *viewer; /* the spawning pod, NULL: the user */
	char *name;
	char *from; /* spawn: where the repository is looked for */
	const char *base_req; /* in params */
	const char *branch_req; /* in params */
	struct pod_worktree wt; /* what is being made / removed */
	bool force, delete_branch;
	bool taken; /* spawn: podops_spawn() took the worktree */
	bool discarded; /* spawn: rolled back already */
	char *remove_err; /* forget --force: what git worktree remove said */
	struct wt_op *next;
};

/* Spawns under way (their names are taken) */
static struct wt_op *worktree_ops;
/* The op whose request podops_spawn()/podops_forget() is re-running. */
static struct wt_op *worktree_rerun;

void
worktree_free(struct pod_worktree *wt)
{
	if (wt == NULL)
		return;
	free(wt->path);
	free(wt->branch);
	free(wt->base);
	free(wt->repo);
	free(wt->git_dir);
	free(wt->common_dir);
	free(wt->repo_git_dir);
	free(wt);
}

static void
worktree_clear(struct pod_worktree *wt)
{
	free(wt->path);
	free(wt->branch);
	free(wt->base);
	free(wt->repo);
	free(wt->git_dir);
	free(wt->common_dir);
	free(wt->repo_git_dir);
	memset(wt, 0, sizeof(*wt));
}

static struct pod_worktree *
worktree_dup(const struct pod_worktree *wt)
{
	struct pod_worktree *n = xcalloc(1, sizeof(*n));

	n->path = xstrdup(wt->path);
	n->branch = xstrdup(wt->branch);
	n->base = xstrdup(wt->base);
	n->repo = xstrdup(wt->repo);
	n->git_dir = xstrdup(wt->git_dir);
	n->common_dir = xstrdup(wt->common_dir);
	n->repo_git_dir = xstrdup(wt->repo_git_dir);
	return n;
}

static struct json_object *
worktree_field(const char *field)
{
	struct json_object *o = json_object_new_object();

	json_object_object_add(o, "field", json_object_new_string(field));
	return o;
}

static void
worktree_op_free(struct wt_op *op)
{
	struct wt_op **pp;

	for (pp = &worktree_ops; *pp != NULL; pp = &(*pp)->next)
		if (*pp == op) {
			*pp = op->next;
			break;
		}
	if (op->c != NULL)
		conn_unref(op->c);
	json_object_put(op->params);
	json_object_put(op->id);
	free(op->method);
	free(op->viewer);
	free(op->name);
	free(op->from);
	free(op->remove_err);
	worktree_clear(&op->wt);
	free(op);
}

static struct wt_op *
worktree_op_new(struct daemon *d, enum wt_kind kind, struct conn *c,
	struct msg *m, const char *name)
{
	struct wt_op *op = xcalloc(1, sizeof(*op));

	op->d = d;
	op->kind = kind;
	if (c != NULL)
		op->c = conn_ref(c);
	if (m != NULL) {
		op->method = xstrdup(m->name);
		if (m->params != NULL)
			(void)json_object_deep_copy(
				m->params, &op->params, NULL);
		op->id = json_object_get(m->id);
	}
	op->name = xstrdup(name);
	op->next = worktree_ops;
	worktree_ops = op;
	return op;
}

static void worktree_git_cb(const struct gitrun_result *res, void *arg);

/*
 * Run git for op's next step, bounded by [daemon] git_timeout_s (60 s
 * by default; inspect's git status by less: the user is waiting).
 */
static void
worktree_git(struct wt_op *op, enum wt_step step, const char *dir,
	const char *const *args)
{
	long t = op->d->config->git_timeout_s;

	if (step == WT_STATUS && t > WORKTREE_STATUS_TIMEOUT_S)
		t = WORKTREE_STATUS_TIMEOUT_S;
	op->step = step;
	gitrun_start(op->d, dir, args, (int)t, worktree_git_cb, op);
}

/*
 * The same in tree (NULL: none) with git dir gd given explicitly: no
 * .git file or directory found on the way is consulted.
 */
static void
worktree_git_in(struct wt_op *op, enum wt_step step, const char *gd,
	const char *tree, const char *const *args)
{
	const char **v;
	char *g = xstrfmt("--git-dir=%s", gd), *w = NULL;
	size_t n = 0, i = 0;

	while (args[n] != NULL)
		n++;
	v = xcalloc(n + 3, sizeof(*v));
	v[i++] = g;
	if (tree != NULL)
		v[i++] = w = xstrfmt("--work-tree=%s", tree);
	memcpy(v + i, args, n * sizeof(*v));
	worktree_git(op, step, tree != NULL ? tree : gd, v);
	free(v);
	free(g);
	free(w);
}

static void worktree_error(struct wt_op *op, enum proto_err code,
	const char *field, const char *fmt, ...)
	__attribute__((format(printf, 4, 5)));

/* The error reply to op's request; op is freed. */
static void
worktree_error(struct wt_op *op, enum proto_err code, const char *field,
	const char *fmt, ...)
{
	va_list ap;
	char *s;

	va_start(ap, fmt);
	if (vasprintf(&s, fmt, ap) < 0)
		s = NULL;
	va_end(ap);
	conn_send_error(op->c, op->id, code,
		field != NULL ? worktree_field(field) : NULL, "%s",
		s != NULL ? s : "out of memory");
	free(s);
	worktree_op_free(op);
}

/* Strip the trailing newline of a one-line git answer (in place). */
static char *
worktree_line(char *s)
{
	size_t n = strlen(s);

	while (n > 0 && (s[n - 1] == '\n' || s[n - 1] == '\r'))
		s[--n] = '\0';
	return s;
}

/* Undo a worktree made for a spawn that did not happen (no reply). */
static void
worktree_rollback(struct daemon *d, const struct pod_worktree *wt)
{
	struct wt_op *op = worktree_op_new(d, WT_ROLLBACK, NULL, NULL, "");
	const char *args[] = { "worktree", "remove", "--force", wt->path,
		NULL };

	op->wt.path = xstrdup(wt->path);
	op->wt.branch = xstrdup(wt->branch);
	op->wt.common_dir = xstrdup(wt->common_dir);
	log_info("removing the worktree %s of a spawn that failed", wt->path);
	worktree_git_in(op, WT_RB_REMOVE, op->wt.common_dir, NULL, args);
}

/* A struct msg over op's request, for calling podops again. */
static void
worktree_msg(struct wt_op *op, struct msg *m)
{
	memset(m, 0, sizeof(*m));
	m->kind = MSG_REQUEST;
	m->name = op->method;
	m->params = op->params;
	m->id = op->id;
}

/* The worktree is made: run the spawn again with it as the cwd. */
static void
worktree_spawn_rerun(struct wt_op *op)
{
	struct daemon *d = op->d;
	struct pod *viewer = NULL, *p;
	struct msg m;

	if (op->viewer != NULL &&
		((viewer = daemon_pod_find(d, op->viewer)) == NULL ||
			!daemon_pod_running(viewer))) {
		worktree_rollback(d, &op->wt);
		worktree_error(op, PERR_NOT_LIVE, NULL,
			"pod %s ended while the worktree of its child %s was "
			"made",
			op->viewer, op->name);
		return;
	}
	json_object_object_add(
		op->params, "cwd", json_object_new_string(op->wt.path));
	worktree_msg(op, &m);
	worktree_rerun = op;
	podops_spawn(d, viewer, op->c, &m);
	worktree_rerun = NULL;
	p = daemon_pod_find(d, op->name);
	if (!op->discarded &&
		(!op->taken || p == NULL || p->wt == NULL ||
			strcmp(p->wt->path, op->wt.path) != 0))
		worktree_rollback(d, &op->wt);
	worktree_op_free(op);
}

static bool
worktree_path_under(const char *base, const char *path)
{
	return base != NULL && path != NULL && scope_path_under(base, path);
}

/* May pod v write anything at or beneath path? (Any write allow.) */
static bool
worktree_writable(const struct pod *v, const char *path)
{
	struct scope_rule dir = { 0 };
	size_t i;

	dir.target = (char *)(uintptr_t)path;
	dir.perm = SCOPE_WRITE;
	dir.recursive = true;
	for (i = 0; i < v->scope.n; i++) {
		const struct scope_rule *r = &v->scope.v[i];

		if (!r->deny && r->perm == SCOPE_WRITE &&
			scope_rules_overlap(r, &dir))
			return true;
	}
	return false;
}

/*
 * rev-parse said the tree, its git dir and the common dir (one a line;
 * out is changed).  For a child in a parent without a worktree: refused
 * if the parent may write either git dir, whose config and hooks git
 * would follow.  0, or -1 with the error sent (op freed).
 */
static int
worktree_found(struct wt_op *op, char *out)
{
	char *top = out, *gd, *common;
	struct pod *v;

	if ((gd = strchr(top, '\n')) == NULL ||
		(common = strchr(gd + 1, '\n')) == NULL) {
		worktree_error(op, PERR_INTERNAL, "worktree",
			"git rev-parse said: %s", out);
		return -1;
	}
	*gd++ = '\0';
	*common++ = '\0';
	worktree_line(common);
	if (top[0] != '/' || gd[0] != '/' || common[0] != '/') {
		worktree_error(op, PERR_INTERNAL, "worktree",
			"git rev-parse gave relative paths: %s, %s, %s", top,
			gd, common);
		return -1;
	}
	op->wt.repo = xstrdup(top);
	op->wt.repo_git_dir = xstrdup(gd);
	op->wt.common_dir = xstrdup(common);
	v = op->viewer != NULL ? daemon_pod_find(op->d, op->viewer) : NULL;
	if (v != NULL && v->wt == NULL &&
		(worktree_writable(v, gd) || worktree_writable(v, common))) {
		worktree_error(op, PERR_NOT_SUBSET, "worktree",
			"\"worktree\": pod %s may write the git dir %s of its "
			"repository %s, and podvisord runs git on nothing a "
			"pod can change (its config and hooks run as the "
			"user); a pod spawned with --worktree can give its "
			"children worktrees",
			v->name, worktree_writable(v, gd) ? gd : common, top);
		return -1;
	}
	return 0;
}

/* Every check passed: git worktree add. */
static void
worktree_add(struct wt_op *op)
{
	const char *args[] = { "worktree", "add", "-b", op->wt.branch,
		op->wt.path, op->wt.base, NULL };
	char *s = xstrfmt("%s/worktrees", op->d->paths.state);

	if (mkdir(s, 0700) < 0 && errno != EEXIST) {
		worktree_error(op, PERR_SPAWN_FAILED, "worktree",
			"cannot make %s: %s", s, strerror(errno));
		free(s);
		return;
	}
	free(s);
	worktree_git_in(op, WT_ADD, op->wt.repo_git_dir, op->wt.repo, args);
}

static void
worktree_spawn_step(struct wt_op *op, const struct gitrun_result *res)
{
	char why[256], *s;
	const char *msg = gitrun_why(res, why, sizeof(why));
	bool ok = res->start_errno == 0 && !res->timed_out && res->code == 0;

	switch (op->step) {
	case WT_TOPLEVEL: {
		const char *args[] = { "rev-parse", "--verify", "--quiet",
			op->base_req != NULL ? op->base_req : "HEAD", NULL };

		if (!ok) {
			worktree_error(op, PERR_INVALID_REQUEST, "worktree",
				"\"worktree\": %s is not inside a git "
				"repository (git: %s); run the spawn from a "
				"directory of a repository (or git init one), "
				"or spawn without --worktree",
				op->from, msg);
			return;
		}
		if (worktree_found(op, res->out) != 0)
			return;
		/* the commit itself: "^{commit}" peels tags */
		s = xstrfmt("%s^{commit}",
			op->base_req != NULL ? op->base_req : "HEAD");
		args[3] = s;
		worktree_git_in(
			op, WT_BASE, op->wt.repo_git_dir, op->wt.repo, args);
		free(s);
		return;
	}
	case WT_BASE: {
		const char *args[] = { "show-ref", "--verify", "--quiet", NULL,
			NULL };

		if (!ok || res->out[0] == '\0') {
			if (op->base_req == NULL)
				worktree_error(op, PERR_INVALID_REQUEST,
					"worktree",
					"\"worktree\": the repository %s has "
					"no commit yet (HEAD is not a "
					"commit); make a first commit, or "
					"pass --base REF",
					op->wt.repo);
			else
				worktree_error(op, PERR_INVALID_REQUEST,
					"worktree",
					"\"worktree\": base %s is not a commit "
					"in %s; pass a branch, tag or commit "
					"of it with --base",
					op->base_req, op->wt.repo);
			return;
		}
		op->wt.base = xstrdup(worktree_line(res->out));
		s = xstrfmt("refs/heads/%s", op->wt.branch);
		args[3] = s;
		worktree_git_in(
			op, WT_BRANCH, op->wt.repo_git_dir, op->wt.repo, args);
		free(s);
		return;
	}
	case WT_BRANCH: {
		const char *args[] = { "status", "--porcelain",
			"--untracked-files=no", NULL };

		if (res->start_errno != 0 || res->timed_out || res->code > 1) {
			worktree_error(op, PERR_INTERNAL, "worktree",
				"git show-ref failed in %s: %s", op->wt.repo,
				msg);
			return;
		}
		if (res->code == 0) {
			worktree_error(op, PERR_INVALID_REQUEST, "worktree",
				"\"worktree\": branch %s exists already in "
				"%s; pick another with --branch NAME, or "
				"delete it first (git branch -D %s)",
				op->wt.branch, op->wt.repo, op->wt.branch);
			return;
		}
		/* Only HEAD by default can surprise: a --base is chosen. */
		if (op->base_req == NULL && op->viewer == NULL)
			worktree_git_in(op, WT_DIRTY, op->wt.repo_git_dir,
				op->wt.repo, args);
		else
			worktree_add(op);
		return;
	}
	case WT_DIRTY:
		if (!ok) {
			worktree_error(op, PERR_INTERNAL, "worktree",
				"git status failed in %s: %s", op->wt.repo,
				msg);
			return;
		}
		if (res->out[0] != '\0') {
			worktree_error(op, PERR_INVALID_REQUEST, "worktree",
				"\"worktree\": %s has uncommitted changes, "
				"which a worktree made from HEAD (%.12s) would "
				"not have:\n%scommit or stash them first, or "
				"pass --base HEAD to start from the last "
				"commit without them",
				op->wt.repo, op->wt.base, res->out);
			return;
		}
		worktree_add(op);
		return;
	case WT_ADD:
		/* Killed half-way: take back what it made (git did not). */
		if (!ok && (res->timed_out || res->sig != 0))
			worktree_rollback(op->d, &op->wt);
		if (!ok) {
			worktree_error(op, PERR_INVALID_REQUEST, "worktree",
				"git worktree add failed in %s: %s",
				op->wt.repo, msg);
			return;
		}
		log_info("pod %s: worktree %s on branch %s from %.12s of %s",
			op->name, op->wt.path, op->wt.branch, op->wt.base,
			op->wt.repo);
		{
			/* Read before the pod runs there: still git's own. */
			const char *args[] = { "rev-parse",
				"--absolute-git-dir", NULL };

			worktree_git(op, WT_ADMIN, op->wt.path, args);
		}
		return;
	case WT_ADMIN:
		s = ok ? worktree_line(res->out) : NULL;
		if (s == NULL || !worktree_path_under(op->wt.common_dir, s)) {
			worktree_rollback(op->d, &op->wt);
			worktree_error(op, PERR_INTERNAL, "worktree",
				"the new worktree %s has no git dir in %s: %s",
				op->wt.path, op->wt.common_dir,
				ok ? res->out : msg);
			return;
		}
		op->wt.git_dir = xstrdup(s);
		worktree_spawn_rerun(op);
		return;
	default:
		break;
	}
	worktree_op_free(op);
}

static void worktree_forget_step(
	struct wt_op *op, const struct gitrun_result *res);
static void worktree_inspect_done(
	struct wt_op *op, const struct gitrun_result *res);

static void
worktree_git_cb(const struct gitrun_result *res, void *arg)
{
	struct wt_op *op = arg;
	char why[256];

	switch (op->kind) {
	case WT_SPAWN:
		worktree_spawn_step(op, res);
		break;
	case WT_FORGET:
		worktree_forget_step(op, res);
		break;
	case WT_INSPECT:
		worktree_inspect_done(op, res);
		break;
	case WT_ROLLBACK:
		if (res->code != 0)
			log_warn("rolling back the worktree %s: %s",
				op->wt.path, gitrun_why(res, why, sizeof(why)));
		if (op->step == WT_RB_REMOVE) {
			const char *args[] = { "branch", "-D", op->wt.branch,
				NULL };

			worktree_git_in(op, WT_RB_BRANCH, op->wt.common_dir,
				NULL, args);
			return;
		}
		worktree_op_free(op);
		break;
	}
}

/* A ref-ish string git must not take for an option. */
static bool
worktree_ref_ok(const char *s)
{
	return s != NULL && s[0] != '\0' && s[0] != '-' && strlen(s) < 256 &&
		strpbrk(s, "\n\r") == NULL;
}

/* See worktree.h. */
int
worktree_spawn_params(struct daemon *d, struct pod *viewer, struct conn *c,
	struct msg *m, const char *cwd, struct pod_worktree **ret)
{
	struct json_object *w = msg_param(m, "worktree"), *v;
	const char *name = msg_param_str(m, "name");
	const char *base = NULL, *branch = NULL;
	char *norm = NULL;
	struct wt_op *op;

	*ret = NULL;
	if (worktree_rerun != NULL && worktree_rerun->kind == WT_SPAWN &&
		m->params == worktree_rerun->params) {
		*ret = worktree_dup(&worktree_rerun->wt);
		worktree_rerun->taken = true;
		return 0;
	}
	if (w == NULL)
		return 0;
	if (!json_object_is_type(w, json_type_object)) {
		conn_send_error(c, m->id, PERR_INVALID_REQUEST,
			worktree_field("worktree"),
			"\"worktree\" must be an object {\"base\"?, "
			"\"branch\"?}");
		return -1;
	}
	if (json_object_object_get_ex(w, "base", &v) && v != NULL) {
		base = json_object_is_type(v, json_type_string)
			? json_object_get_string(v)
			: NULL;
		if (!worktree_ref_ok(base)) {
			conn_send_error(c, m->id, PERR_INVALID_REQUEST,
				worktree_field("worktree.base"),
				"\"worktree\": \"base\" must be a branch, tag "
				"or commit (a string not starting with '-')");
			return -1;
		}
	}
	if (json_object_object_get_ex(w, "branch", &v) && v != NULL) {
		branch = json_object_is_type(v, json_type_string)
			? json_object_get_string(v)
			: NULL;
		if (!worktree_ref_ok(branch)) {
			conn_send_error(c, m->id, PERR_INVALID_REQUEST,
				worktree_field("worktree.branch"),
				"\"worktree\": \"branch\" must be a branch "
				"name (a string not starting with '-')");
			return -1;
		}
	}
	for (op = worktree_ops; op != NULL; op = op->next)
		if (op->kind == WT_SPAWN && strcmp(op->name, name) == 0) {
			conn_send_error(c, m->id, PERR_ALREADY_EXISTS, NULL,
				"a pod named %s is being spawned", name);
			return -1;
		}
	op = worktree_op_new(d, WT_SPAWN, c, m, name);
	op->viewer = viewer != NULL ? xstrdup(viewer->name) : NULL;
	/* A child's worktree is of its parent's repository. */
	op->from = xstrdup(viewer != NULL ? viewer->cwd : cwd);
	if (json_object_object_get_ex(op->params, "worktree", &w)) {
		if (json_object_object_get_ex(w, "base", &v) && v != NULL)
			op->base_req = json_object_get_string(v);
		if (json_object_object_get_ex(w, "branch", &v) && v != NULL)
			op->branch_req = json_object_get_string(v);
	}
	op->wt.branch = op->branch_req != NULL ? xstrdup(op->branch_req)
					       : xstrfmt("pod/%s", name);
	op->wt.path = xstrfmt("%s/worktrees/%s", d->paths.state, name);
	/* As the pod's cwd will be (podops_spawn normalises it). */
	if (scope_normalize(op->wt.path, NULL, &norm) == 0) {
		free(op->wt.path);
		op->wt.path = norm;
	}
	if (viewer != NULL && viewer->wt != NULL) {
		/* The parent's worktree: its git dirs as recorded. */
		char *known = xstrfmt("%s\n%s\n%s\n", viewer->wt->path,
			viewer->wt->git_dir, viewer->wt->common_dir);
		struct gitrun_result res = { 0 };

		res.out = known;
		worktree_spawn_step(op, &res);
		free(known);
	} else {
		const char *args[] = { "rev-parse", "--path-format=absolute",
			"--show-toplevel", "--absolute-git-dir",
			"--git-common-dir", NULL };

		worktree_git(op, WT_TOPLEVEL, op->from, args);
	}
	return 1;
}

/* See worktree.h. */
void
worktree_discard(struct daemon *d, struct pod *p)
{
	if (p->wt == NULL)
		return;
	if (worktree_rerun != NULL && worktree_rerun->kind == WT_SPAWN &&
		strcmp(worktree_rerun->name, p->name) == 0)
		worktree_rerun->discarded = true;
	worktree_rollback(d, p->wt);
	worktree_free(p->wt);
	p->wt = NULL;
}

/* Is rule's target wt's path or beneath it? */
static bool
worktree_inside(const struct pod_worktree *wt, const char *target)
{
	size_t n = strlen(wt->path);

	return strncmp(target, wt->path, n) == 0 &&
		(target[n] == '\0' || target[n] == '/');
}

/* See worktree.h. */
int
worktree_registry_check(struct daemon *d, const struct pod *spawner,
	const struct pod_worktree *wt, const struct scope_rules *rules,
	const struct pod *skip, struct registry_conflict *ret)
{
	struct scope_rules in = { 0 }, out = { 0 };
	size_t i;
	int r;

	if (wt == NULL || spawner == NULL)
		return registry_check(d, spawner, rules, skip, ret);
	for (i = 0; i < rules->n; i++)
		scope_rules_add(
			worktree_inside(wt, rules->v[i].target) ? &in : &out,
			&rules->v[i]);
	r = registry_check(d, NULL, &in, skip, ret);
	if (r == 0)
		r = registry_check(d, spawner, &out, skip, ret);
	scope_rules_clear(&in);
	scope_rules_clear(&out);
	return r;
}

/* See worktree.h. */
int
worktree_restore_check(struct pod *p, struct conn *c, struct msg *m)
{
	struct stat st;

	if (p->wt == NULL || stat(p->wt->path, &st) == 0)
		return 0;
	conn_send_error(c, m->id, PERR_INVALID_REQUEST, NULL,
		"the worktree %s of pod %s is gone (%s); forget the pod "
		"(podvisor forget %s), its branch %s is kept",
		p->wt->path, p->name, strerror(errno), p->name, p->wt->branch);
	return -1;
}

static struct json_object *
worktree_json(const struct pod_worktree *wt, bool state)
{
	struct json_object *o = json_object_new_object();

	json_object_object_add(o, "path", json_object_new_string(wt->path));
	json_object_object_add(o, "branch", json_object_new_string(wt->branch));
	json_object_object_add(o, "base", json_object_new_string(wt->base));
	json_object_object_add(o, "repo", json_object_new_string(wt->repo));
	json_object_object_add(
		o, "git_dir", json_object_new_string(wt->git_dir));
	json_object_object_add(
		o, "repo_git_dir", json_object_new_string(wt->repo_git_dir));
	if (state)
		json_object_object_add(o, "common_dir",
			json_object_new_string(wt->common_dir));
	return o;
}

/* See worktree.h. */
void
worktree_to_state(const struct pod *p, struct json_object *o)
{
	if (p->wt != NULL)
		json_object_object_add(
			o, "worktree", worktree_json(p->wt, true));
}

static const char *
worktree_state_str(struct json_object *o, const char *key)
{
	struct json_object *v;

	if (!json_object_object_get_ex(o, key, &v) ||
		!json_object_is_type(v, json_type_string) ||
		json_object_get_string(v)[0] == '\0')
		return NULL;
	return json_object_get_string(v);
}

/* See worktree.h. */
int
worktree_from_state(struct pod *p, struct json_object *o, char **reterr_msg)
{
	static const char *const keys[] = { "path", "branch", "base", "repo",
		"git_dir", "common_dir", "repo_git_dir" };
	const char *v[7];
	struct pod_worktree *wt;
	struct json_object *w;
	size_t i;

	if (!json_object_object_get_ex(o, "worktree", &w) || w == NULL)
		return 0;
	for (i = 0; i < 7; i++)
		if (!json_object_is_type(w, json_type_object) ||
			(v[i] = worktree_state_str(w, keys[i])) == NULL ||
			(i != 1 && i != 2 && v[i][0] != '/')) {
			*reterr_msg = xstrfmt("bad \"worktree\": no %s%s",
				i == 1 || i == 2 ? "" : "absolute ", keys[i]);
			return -EINVAL;
		}
	wt = xcalloc(1, sizeof(*wt));
	wt->path = xstrdup(v[0]);
	wt->branch = xstrdup(v[1]);
	wt->base = xstrdup(v[2]);
	wt->repo = xstrdup(v[3]);
	wt->git_dir = xstrdup(v[4]);
	wt->common_dir = xstrdup(v[5]);
	wt->repo_git_dir = xstrdup(v[6]);
	p->wt = wt;
	return 0;
}

/* See worktree.h. */
void
worktree_summary(const struct pod *p, struct json_object *o)
{
	if (p->wt != NULL)
		json_object_object_add(
			o, "worktree", worktree_json(p->wt, false));
}

/* See worktree.h. */
void
worktree_summary_text(const struct pod *p, struct textbuf *tb)
{
	if (p->wt == NULL)
		return;
	textbuf_puts(tb, ",\"worktree\":{\"path\":");
	textbuf_json_str(tb, p->wt->path);
	textbuf_puts(tb, ",\"branch\":");
	textbuf_json_str(tb, p->wt->branch);
	textbuf_puts(tb, ",\"base\":");
	textbuf_json_str(tb, p->wt->base);
	textbuf_puts(tb, ",\"repo\":");
	textbuf_json_str(tb, p->wt->repo);
	textbuf_puts(tb, ",\"git_dir\":");
	textbuf_json_str(tb, p->wt->git_dir);
	textbuf_puts(tb, ",\"repo_git_dir\":");
	textbuf_json_str(tb, p->wt->repo_git_dir);
	textbuf_add(tb, "}", 1);
}

/* See worktree.h. */
int
worktree_inspect(struct daemon *d, struct conn *c, struct msg *m, struct pod *p)
{
	const char *args[] = { "status", "--porcelain", NULL };
	struct wt_op *op;

	if (p->wt == NULL)
		return 0;
	op = worktree_op_new(d, WT_INSPECT, c, m, p->name);
	op->wt.path = xstrdup(p->wt->path);
	worktree_git_in(op, WT_STATUS, p->wt->git_dir, p->wt->path, args);
	return 1;
}

static void
worktree_inspect_done(struct wt_op *op, const struct gitrun_result *res)
{
	struct json_object *detail, *w;
	struct pod *p = daemon_pod_find(op->d, op->name);
	char why[256];
	size_t n = 0;
	const char *s;

	if (p == NULL) {
		worktree_error(
			op, PERR_NOT_FOUND, NULL, "no pod named %s", op->name);
		return;
	}
	detail = podops_detail(op->d, p);
	if (json_object_object_get_ex(detail, "worktree", &w)) {
		if (res->start_errno == 0 && !res->timed_out &&
			res->code == 0) {
			for (s = res->out; *s != '\0'; s++)
				n += *s == '\n';
			json_object_object_add(
				w, "dirty", json_object_new_boolean(n > 0));
			json_object_object_add(
				w, "changes", json_object_new_int((int)n));
		} else {
			json_object_object_add(w, "dirty", NULL);
			json_object_object_add(w, "error",
				json_object_new_string(
					gitrun_why(res, why, sizeof(why))));
		}
	}
	conn_send_event(op->c, "pod", detail, op->id);
	worktree_op_free(op);
}

/*
 * Before git worktree remove (which follows the worktree's .git file to
 * check it): put back the .git file git wrote, whatever the pod made of
 * it.  The pod is not running; the worktree directory itself is not the
 * pod's to replace (its parent is podvisord's).
 */
static void
worktree_repair_gitfile(const struct pod_worktree *wt)
{
	char *text = xstrfmt("gitdir: %s\n", wt->git_dir);
	size_t len = strlen(text);
	int dfd, fd;

	dfd = open(wt->path, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
	if (dfd < 0) {
		free(text);
		return;
	}
	if (unlinkat(dfd, ".git", 0) < 0 && errno != ENOENT)
		log_warn("worktree %s: cannot replace its .git: %s", wt->path,
			strerror(errno));
	fd = openat(dfd, ".git",
		O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0644);
	if (fd >= 0) {
		if (write(fd, text, len) != (ssize_t)len)
			log_warn("worktree %s: cannot write its .git: %s",
				wt->path, strerror(errno));
		close(fd);
	}
	close(dfd);
	free(text);
}

/* See worktree.h. */
int
worktree_forget(struct daemon *d, struct conn *c, struct msg *m, struct pod *p)
{
	struct wt_op *op;
	struct stat st;

	if (worktree_rerun != NULL && worktree_rerun->kind == WT_FORGET &&
		m->params == worktree_rerun->params)
		return 0;
	if (p->wt == NULL)
		return 0;
	for (op = worktree_ops; op != NULL; op = op->next)
		if (op->kind == WT_FORGET && strcmp(op->name, p->name) == 0) {
			conn_send_error(c, m->id, PERR_BUSY, NULL,
				"pod %s is being forgotten", p->name);
			return 1;
		}
	op = worktree_op_new(d, WT_FORGET, c, m, p->name);
	op->force = msg_param_bool(m, "force", false);
	op->delete_branch = msg_param_bool(m, "delete_branch", false);
	op->wt.path = xstrdup(p->wt->path);
	op->wt.branch = xstrdup(p->wt->branch);
	op->wt.repo = xstrdup(p->wt->repo);
	op->wt.common_dir = xstrdup(p->wt->common_dir);
	worktree_repair_gitfile(p->wt);
	if (stat(op->wt.path, &st) < 0 && errno == ENOENT) {
		/* Removed by hand: let git drop its record of it. */
		const char *args[] = { "worktree", "prune", NULL };

		worktree_git_in(op, WT_REMOVE, op->wt.common_dir, NULL, args);
	} else {
		const char *args[] = { "worktree", "remove", op->wt.path, NULL,
			NULL };

		if (op->force) {
			args[2] = "--force";
			args[3] = op->wt.path;
		}
		worktree_git_in(op, WT_REMOVE, op->wt.common_dir, NULL, args);
	}
	return 1;
}

static void
worktree_forget_step(struct wt_op *op, const struct gitrun_result *res)
{
	bool ok = res->start_errno == 0 && !res->timed_out && res->code == 0;
	char why[512];
	struct msg m;

	if (op->step == WT_REMOVE && !ok && !op->force) {
		worktree_error(op, PERR_INVALID_REQUEST, NULL,
			"cannot remove the worktree %s of pod %s: %s\n"
			"see its changes with 'podvisor diff %s', keep them "
			"with 'podvisor merge %s', or discard them with "
			"'podvisor forget --force %s'",
			op->wt.path, op->name,
			gitrun_why(res, why, sizeof(why)), op->name, op->name,
			op->name);
		return;
	}
	if (op->step == WT_REMOVE && !ok) {
		op->remove_err = xstrdup(gitrun_why(res, why, sizeof(why)));
		log_warn("pod %s: git worktree remove --force %s: %s", op->name,
			op->wt.path, op->remove_err);
	}
	if (op->step == WT_REMOVE && op->delete_branch) {
		const char *args[] = { "branch", "-D", op->wt.branch, NULL };

		worktree_git_in(
			op, WT_DELETE_BRANCH, op->wt.common_dir, NULL, args);
		return;
	}
	if (op->step == WT_DELETE_BRANCH && !ok) {
		worktree_error(op, PERR_INVALID_REQUEST, NULL,
			"the worktree of pod %s is removed, but its branch %s "
			"is not deleted: %s\nthe pod is not forgotten: run the "
			"forget again",
			op->name, op->wt.branch,
			gitrun_why(res, why, sizeof(why)));
		return;
	}
	/* The pod may have come back meanwhile: podops_forget() checks. */
	worktree_msg(op, &m);
	worktree_rerun = op;
	podops_forget(op->d, op->c, &m);
	worktree_rerun = NULL;
	worktree_op_free(op);
}

/* See worktree.h. */
void
worktree_forgotten(
	const struct pod *p, const struct msg *m, struct json_object *data)
{
	struct json_object *o;

	if (p->wt == NULL)
		return;
	o = json_object_new_object();
	json_object_object_add(o, "path", json_object_new_string(p->wt->path));
	json_object_object_add(
		o, "branch", json_object_new_string(p->wt->branch));
	json_object_object_add(o, "branch_deleted",
		json_object_new_boolean(
			msg_param_bool(m, "delete_branch", false)));
	/* forget --force went on past a failed git worktree remove */
	if (worktree_rerun != NULL && worktree_rerun->kind == WT_FORGET &&
		worktree_rerun->remove_err != NULL) {
		json_object_object_add(
			o, "removed", json_object_new_boolean(false));
		json_object_object_add(o, "error",
			json_object_new_string(worktree_rerun->remove_err));
	} else
		json_object_object_add(
			o, "removed", json_object_new_boolean(true));
	json_object_object_add(data, "worktree", o);
}
