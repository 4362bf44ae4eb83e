/* SPDX-License-Identifier: ISC */
#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <json-c/json.h>

#include "common/clock.h"
#include "common/id.h"
#include "common/log.h"
#include "common/podname.h"
#include "common/scope.h"
#include "common/xmalloc.h"
#include "proto/conn.h"
#include "proto/msg.h"
#include "supervisord/approvals.h"
#include "supervisord/podmcp.h"
#include "supervisord/conf.h"
#include "supervisord/daemon.h"
#include "supervisord/isolation.h"
#include "supervisord/journal.h"
#include "supervisord/lifecycle.h"
#include "supervisord/model.h"
#include "supervisord/notify.h"
#include "supervisord/podops.h"
#include "supervisord/podstore.h"
#include "supervisord/reap.h"
#include "supervisord/registry.h"
#include "supervisord/route.h"
#include "supervisord/spawn.h"
#include "supervisord/stop.h"
#include "supervisord/summary.h"
#include "supervisord/workerchan.h"
#include "supervisord/worktree.h"

/* A user/peer message is bounded like a control line. */
#define PODOPS_MAX_MESSAGE (1024u * 1024u)

/* Whether viewer may see target (self, descendants, peers). */
bool
podops_visible(
	struct daemon *d, const struct pod *viewer, const struct pod *target)
{
	if (viewer == NULL || viewer == target)
		return true;
	if (registry_is_ancestor(d, viewer, target))
		return true;
	return namelist_has(&viewer->peers, target->name);
}

/* The pod called name as viewer sees it, or an error sent on c. */
struct pod *
podops_lookup(struct daemon *d, struct pod *viewer, struct conn *c,
	struct msg *m, const char *name)
{
	struct pod *p;

	if (name == NULL || !podname_valid(name, NULL)) {
		conn_send_error(c, m->id, PERR_INVALID_NAME, NULL,
			"invalid pod name \"%s\"", name != NULL ? name : "");
		return NULL;
	}
	p = daemon_pod_find(d, name);
	if (p == NULL) {
		conn_send_error(c, m->id, PERR_NOT_FOUND, NULL,
			"no pod named %s", name);
		return NULL;
	}
	if (!podops_visible(d, viewer, p)) {
		conn_send_error(c, m->id, PERR_NOT_VISIBLE, NULL,
			"pod %s is not visible to pod %s", name,
			viewer != NULL ? viewer->name : "(user)");
		return NULL;
	}
	return p;
}

static struct json_object *
podops_names(const struct namelist *l)
{
	struct json_object *a = json_object_new_array();
	size_t i;

	for (i = 0; i < l->n; i++)
		json_object_array_add(a, json_object_new_string(l->v[i]));
	return a;
}

/* pod-summary of PROTOCOL.md. */
struct json_object *
podops_summary(struct daemon *d, struct pod *p)
{
	struct json_object *o = json_object_new_object();
	struct scope_rules eff = { 0 };

	json_object_object_add(o, "name", json_object_new_string(p->name));
	json_object_object_add(o, "status",
		json_object_new_string(pod_status_name(p->status)));
	if (p->status == POD_CORRUPT) {
		json_object_object_add(o, "error",
			json_object_new_string(p->corrupt_msg != NULL
					? p->corrupt_msg
					: "corrupt"));
		json_object_object_add(o, "children", json_object_new_array());
		json_object_object_add(o, "peers", json_object_new_array());
		json_object_object_add(o, "scope", json_object_new_array());
		json_object_object_add(
			o, "effective_write", json_object_new_array());
		return o;
	}
	if (daemon_pod_running(p) && p->pid > 0)
		json_object_object_add(o, "pid", json_object_new_int(p->pid));
	if (p->parent != NULL)
		json_object_object_add(
			o, "parent", json_object_new_string(p->parent));
	json_object_object_add(o, "children", podops_names(&p->children));
	json_object_object_add(o, "peers", podops_names(&p->peers));
	json_object_object_add(o, "model",
		p->model != NULL ? json_object_new_string(p->model) : NULL);
	json_object_object_add(o, "cwd", json_object_new_string(p->cwd));
	isolation_summary(p, o);
	worktree_summary(p, o);
	budget_summary(d, p, o);
	cgroup_summary(p, o);
	if (daemon_pod_running(p)) {
		char *sock = paths_pod_sock(&d->paths, p->name);

		json_object_object_add(
			o, "socket", json_object_new_string(sock));
		free(sock);
	}
	json_object_object_add(o, "scope", scope_rules_to_json(&p->scope));
	if (p->reserved)
		registry_effective_write(d, p, &eff);
	json_object_object_add(o, "effective_write", scope_rules_to_json(&eff));
	scope_rules_clear(&eff);
	json_object_object_add(o, "mcp", podmcp_names_json(p));
	return o;
}

/* pod-detail of PROTOCOL.md. */
struct json_object *
podops_detail(struct daemon *d, struct pod *p)
{
	struct json_object *o = podops_summary(d, p), *s;

	if (p->status == POD_CORRUPT)
		return o;
	s = json_object_new_object();
	json_object_object_add(s, "id", json_object_new_string(p->session_id));
	json_object_object_add(s, "segment",
		p->segment != NULL ? json_object_new_string(p->segment) : NULL);
	json_object_object_add(o, "session", s);
	s = json_object_new_object();
	json_object_object_add(s, "policy",
		json_object_new_string(p->policy == RESTART_ON_FAILURE
				? "on-failure"
				: "never"));
	json_object_object_add(
		s, "count", json_object_new_int(p->restart_count));
	json_object_object_add(o, "restart", s);
	json_object_object_add(
		o, "approval", approval_policy_to_json(&p->approval));
	isolation_detail(d, p, o);
	cgroup_detail(p, o);
	json_object_object_add(o, "pending_events",
		json_object_new_int((int)json_object_array_length(p->pending)));
	json_object_object_add(
		o, "created_ms", json_object_new_int64(p->created_ms));
	if (p->activity != NULL && p->status == POD_LIVE)
		json_object_object_add(
			o, "activity", json_object_new_string(p->activity));
	if (p->has_last_exit) {
		s = json_object_new_object();
		if (p->last_exit_code >= 0)
			json_object_object_add(s, "code",
				json_object_new_int(p->last_exit_code));
		if (p->last_exit_signal > 0)
			json_object_object_add(s, "signal",
				json_object_new_int(p->last_exit_signal));
		json_object_object_add(
			s, "ms", json_object_new_int64(p->last_exit_ms));
		json_object_object_add(o, "last_exit", s);
	}
	return o;
}

static struct json_object *
podops_pod_ref(struct daemon *d, struct pod *p)
{
	struct json_object *o = json_object_new_object();
	char *sock = paths_pod_sock(&d->paths, p->name);

	json_object_object_add(o, "name", json_object_new_string(p->name));
	json_object_object_add(o, "pid", json_object_new_int(p->pid));
	json_object_object_add(o, "socket", json_object_new_string(sock));
	free(sock);
	return o;
}

/* The peer's working directory (/proc/PID/cwd), or NULL. */
static char *
podops_peer_cwd(struct conn *c)
{
	char link[64], buf[PATH_MAX];
	ssize_t n;
	pid_t pid = conn_peer_pid(c);

	if (pid <= 0)
		return NULL;
	snprintf(link, sizeof(link), "/proc/%d/cwd", (int)pid);
	if ((n = readlink(link, buf, sizeof(buf) - 1)) <= 0)
		return NULL;
	buf[n] = '\0';
	return xstrdup(buf);
}

static size_t
podops_count(struct daemon *d)
{
	struct pod *p;
	size_t n = 0;

	TAILQ_FOREACH(p, &d->pods, entry)
	{
		n++;
	}
	return n;
}

static void
podops_conflict_error(
	struct conn *c, struct msg *m, int r, struct registry_conflict *rc)
{
	struct json_object *extra = json_object_new_object();

	if (r == -EEXIST) {
		json_object_object_add(
			extra, "pod", json_object_new_string(rc->pod));
		json_object_object_add(
			extra, "target", json_object_new_string(rc->target));
		conn_send_error(c, m->id, PERR_WRITE_CONFLICT, extra,
			"write scope %s is held by pod %s", rc->target,
			rc->pod);
	} else {
		json_object_object_add(extra, "target",
			json_object_new_string(
				rc->target != NULL ? rc->target : ""));
		conn_send_error(c, m->id, PERR_NOT_SUBSET, extra,
			"%s is not within the spawner's effective scope",
			rc->target != NULL ? rc->target : "a rule");
	}
}

/* Check the spawn parameters that need no registry; error sent on c. */
static int
podops_spawn_params(struct daemon *d, struct pod *viewer, struct conn *c,
	struct msg *m, char **ret_cwd, struct scope_rules *ret_rules)
{
	const char *cwd = msg_param_str(m, "cwd");
	struct json_object *scope = msg_param(m, "scope");
	char *raw = NULL, *norm = NULL, *err = NULL;
	struct scope_rule def = { 0 };
	struct stat st;
	int r;

	if (cwd != NULL)
		raw = xstrdup(cwd);
	else if (viewer != NULL)
		raw = xstrdup(viewer->cwd);
	else
		raw = podops_peer_cwd(c);
	if (raw == NULL || raw[0] != '/') {
		conn_send_error(c, m->id, PERR_INVALID_REQUEST, NULL,
			"\"cwd\" must be an absolute path");
		free(raw);
		return -EINVAL;
	}
	r = scope_normalize(raw, NULL, &norm);
	free(raw);
	if (r < 0) {
		conn_send_error(c, m->id, PERR_INVALID_REQUEST, NULL,
			"\"cwd\" cannot be used: %s", strerror(-r));
		return r;
	}
	/* A pod in a directory that is not there fails every tool call. */
	r = stat(norm, &st) < 0 ? errno : S_ISDIR(st.st_mode) ? 0 : ENOTDIR;
	if (r != 0) {
		conn_send_error(c, m->id, PERR_INVALID_REQUEST, NULL,
			"\"cwd\" %s %s", norm,
			r == ENOENT ? "does not exist: create it first"
				: r == ENOTDIR ? "is not a directory"
					       : strerror(r));
		free(norm);
		return -EINVAL;
	}
	if (scope != NULL) {
		if (json_object_array_length(scope) > SCOPE_MAX_RULES) {
			conn_send_error(c, m->id, PERR_INVALID_REQUEST, NULL,
				"\"scope\" has more than %d rules",
				SCOPE_MAX_RULES);
			free(norm);
			return -EINVAL;
		}
		if (scope_rules_from_json(scope, norm, ret_rules, &err) != 0) {
			conn_send_error(c, m->id, PERR_INVALID_REQUEST, NULL,
				"bad \"scope\": %s",
				err != NULL ? err : "invalid rules");
			free(err);
			free(norm);
			return -EINVAL;
		}
	} else {
		def.target = norm;
		def.perm = SCOPE_WRITE;
		def.recursive = true;
		scope_rules_add(ret_rules, &def);
	}
	*ret_cwd = norm;
	return 0;
}

/* spawn / spawn_pod. */
void
podops_spawn(
	struct daemon *d, struct pod *viewer, struct conn *c, struct msg *m)
{
	const char *name = msg_param_str(m, "name");
	const char *model = msg_param_str(m, "model");
	const char *task = msg_param_str(m, "task");
	const char *restart = msg_param_str(m, "restart");
	const char *instr = msg_param_str(m, "instruction");
	struct scope_rules rules = { 0 };
	struct approval_policy apol = { 0 };
	struct json_object *areq;
	struct pod_isolation iso = { 0 };
	struct pod_budget bud = { 0 };
	struct pod_limits limits = { 0 };
	struct namelist mcp = { 0 };
	struct json_object *mcp_inline = NULL;
	struct registry_conflict rc;
	struct model_choice mc;
	struct pod_worktree *wt = NULL;
	char *cwd = NULL, *err = NULL;
	struct pod *p;
	int r;

	if (name == NULL || !podname_valid(name, &err)) {
		conn_send_error(c, m->id, PERR_INVALID_NAME, NULL, "%s",
			err != NULL ? err : "invalid pod name");
		free(err);
		return;
	}
	if (daemon_pod_find(d, name) != NULL) {
		conn_send_error(c, m->id, PERR_ALREADY_EXISTS, NULL,
			"a pod named %s already exists", name);
		return;
	}
	if (d->shutting_down) {
		conn_send_error(c, m->id, PERR_BUSY, NULL,
			"the supervisor is shutting down");
		return;
	}
	if ((long)podops_count(d) >= d->config->max_pods) {
		conn_send_error(c, m->id, PERR_BUSY, NULL,
			"too many pods (max_pods = %ld)", d->config->max_pods);
		return;
	}
	if (viewer != NULL &&
		registry_depth(d, viewer) + 1 > d->config->max_depth) {
		conn_send_error(c, m->id, PERR_INVALID_REQUEST, NULL,
			"pod tree deeper than max_depth = %ld",
			d->config->max_depth);
		return;
	}
	if (viewer != NULL &&
		(long)viewer->children.n >= d->config->max_children) {
		conn_send_error(c, m->id, PERR_BUSY, NULL,
			"pod %s has max_children = %ld children", viewer->name,
			d->config->max_children);
		return;
	}
	if (restart != NULL && strcmp(restart, "never") != 0 &&
		strcmp(restart, "on-failure") != 0) {
		conn_send_error(c, m->id, PERR_INVALID_REQUEST, NULL,
			"\"restart\" must be \"never\" or \"on-failure\"");
		return;
	}
	if ((task != NULL && strlen(task) > PODOPS_MAX_MESSAGE) ||
		(instr != NULL && strlen(instr) > PODOPS_MAX_MESSAGE)) {
		conn_send_error(c, m->id, PERR_INVALID_REQUEST, NULL,
			"\"task\" or \"instruction\" is too long");
		return;
	}
	if (model == NULL && viewer != NULL)
		model = viewer->model;
	if (model_resolve(d, model, &mc, &err) != 0) {
		conn_send_error(c, m->id, PERR_INVALID_REQUEST, NULL,
			"bad \"model\": %s", err);
		free(err);
		return;
	}
	r = approvals_resolve(d, viewer, name,
		m->params != NULL &&
				json_object_object_get_ex(
					m->params, "approval", &areq)
			? areq
			: NULL,
		&apol, &err);
	if (r < 0) {
		conn_send_error(c, m->id,
			r == -EPERM ? PERR_NOT_SUBSET : PERR_INVALID_REQUEST,
			NULL, "%s", err != NULL ? err : "bad \"approval\"");
		free(err);
		model_choice_clear(&mc);
		return;
	}
	r = podmcp_resolve(d, viewer, msg_param(m, "mcp"),
		msg_param(m, "mcp_servers"), &mcp, &mcp_inline, &err);
	if (r < 0) {
		conn_send_error(c, m->id,
			r == -EPERM ? PERR_NOT_SUBSET : PERR_INVALID_REQUEST,
			NULL, "%s", err != NULL ? err : "bad \"mcp\"");
		free(err);
		approval_policy_clear(&apol);
		model_choice_clear(&mc);
		return;
	}
	if (isolation_spawn_params(d, viewer, c, m, &iso) != 0 ||
		budget_spawn_params(d, viewer, c, m, &bud) != 0 ||
		cgroup_spawn_params(d, viewer, c, m, &limits) != 0 ||
		podops_spawn_params(d, viewer, c, m, &cwd, &rules) != 0) {
		budget_clear(&bud);
		namelist_clear(&mcp);
		json_object_put(mcp_inline);
		approval_policy_clear(&apol);
		model_choice_clear(&mc);
		return;
	}
	/* 1: git makes the worktree first, then this runs again. */
	if (worktree_spawn_params(d, viewer, c, m, cwd, &wt) != 0) {
		scope_rules_clear(&rules);
		namelist_clear(&mcp);
		json_object_put(mcp_inline);
		approval_policy_clear(&apol);
		model_choice_clear(&mc);
		free(cwd);
		return;
	}
	if ((r = worktree_registry_check(d, viewer, wt, &rules, NULL, &rc)) !=
		0) {
		podops_conflict_error(c, m, r, &rc);
		registry_conflict_clear(&rc);
		worktree_free(wt);
		scope_rules_clear(&rules);
		budget_clear(&bud);
		namelist_clear(&mcp);
		json_object_put(mcp_inline);
		approval_policy_clear(&apol);
		model_choice_clear(&mc);
		free(cwd);
		return;
	}

	p = pod_new(d, name);
	p->created_ms = clock_now_ms();
	p->cwd = cwd;
	p->model = xstrdup(mc.resolved);
	model_choice_clear(&mc);
	p->instruction = instr != NULL ? xstrdup(instr) : NULL;
	p->scope = rules;
	p->approval = apol;
	p->iso = iso;
	p->budget = bud;
	p->limits = limits;
	p->mcp = mcp;
	p->mcp_inline = mcp_inline;
	p->wt = wt;
	p->parent = viewer != NULL ? xstrdup(viewer->name) : NULL;
	id_new(p->session_id);
	p->policy = restart != NULL && strcmp(restart, "on-failure") == 0
		? RESTART_ON_FAILURE
		: RESTART_NEVER;
	p->fresh = true;
	registry_reserve(d, p);
	spawn_take_spare(p);
	if ((r = lifecycle_apply(p, LC_START)) < 0) {
		/* No state file, no pod: roll the spawn back. */
		spawn_drop_worker(p);
		registry_release(d, p);
		(void)podstore_remove(d, p);
		pod_free(p);
		journal_write(d);
		notify_status(d);
		conn_send_error(c, m->id, PERR_SPAWN_FAILED, NULL,
			"cannot write the pod state of %s: %s", name,
			strerror(-r));
		return;
	}
	if (viewer != NULL) {
		budget_carve(viewer, p);
		namelist_add(&viewer->children, name);
		(void)podstore_write(d, viewer);
		workerchan_send_scope(viewer);
	}
	if (task != NULL && task[0] != '\0') {
		struct json_object *f = json_object_new_object();

		json_object_object_add(
			f, "message", json_object_new_string(task));
		route_event(d, p, "message",
			viewer != NULL ? viewer->name : "user", f);
	}
	waiter_add(p, c, m->id, WAIT_SPAWN);
	spawn_worker(p); /* may free p on an immediate failure */
}

/* restore / restore_pod. */
void
podops_restore(
	struct daemon *d, struct pod *viewer, struct conn *c, struct msg *m)
{
	struct registry_conflict rc;
	struct pod *p, *parent;
	enum pod_status old;
	char *err = NULL;
	int r;

	if ((p = podops_lookup(d, viewer, c, m, msg_param_str(m, "name"))) ==
		NULL)
		return;
	if (p->status == POD_CORRUPT) {
		conn_send_error(c, m->id, PERR_INVALID_REQUEST, NULL,
			"the state file of %s is corrupt: %s", p->name,
			p->corrupt_msg != NULL ? p->corrupt_msg : "?");
		return;
	}
	if (daemon_pod_running(p)) {
		if (p->status == POD_STARTING) {
			waiter_add(p, c, m->id, WAIT_RESTORE);
			return;
		}
		conn_send_event(c, "already_live", podops_pod_ref(d, p), m->id);
		return;
	}
	if (d->shutting_down) {
		conn_send_error(c, m->id, PERR_BUSY, NULL,
			"the supervisor is shutting down");
		return;
	}
	if (viewer == NULL &&
		podmcp_restore(p, msg_param(m, "mcp_servers"), &err) < 0) {
		conn_send_error(c, m->id, PERR_INVALID_REQUEST, NULL,
			"bad \"mcp_servers\": %s", err);
		free(err);
		return;
	}
	if (worktree_restore_check(p, c, m) != 0)
		return;
	parent = registry_parent(d, p);
	if (parent != NULL && !parent->reserved)
		parent = NULL;
	if ((r = worktree_registry_check(
		     d, parent, p->wt, &p->scope, p, &rc)) != 0) {
		podops_conflict_error(c, m, r, &rc);
		registry_conflict_clear(&rc);
		return;
	}
	stop_cancel(p);
	old = p->status;
	registry_reserve(d, p);
	spawn_take_spare(p);
	if ((r = lifecycle_apply(p, LC_START)) < 0) {
		/* The file still says old: so does the daemon. */
		spawn_drop_worker(p);
		registry_release(d, p);
		p->status = old;
		journal_write(d);
		notify_status(d);
		conn_send_error(c, m->id, PERR_SPAWN_FAILED, NULL,
			"cannot write the pod state of %s: %s", p->name,
			strerror(-r));
		return;
	}
	reap_readopt(p);
	p->restoring = p->segment != NULL;
	p->fresh = false;
	p->auto_restart = false;
	p->stop_requested = false;
	if (parent != NULL)
		workerchan_send_scope(parent);
	waiter_add(p, c, m->id, WAIT_RESTORE);
	spawn_worker(p);
}

/* stop / stop_pod. */
void
podops_stop(struct daemon *d, struct pod *viewer, struct conn *c, struct msg *m)
{
	struct pod *p;

	if ((p = podops_lookup(d, viewer, c, m, msg_param_str(m, "name"))) ==
		NULL)
		return;
	if (!daemon_pod_running(p)) {
		conn_send_error(c, m->id, PERR_NOT_LIVE, NULL,
			"pod %s is not live (%s)", p->name,
			pod_status_name(p->status));
		return;
	}
	waiter_add(p, c, m->id, WAIT_STOP);
	(void)stop_pod(p, msg_param_bool(m, "recursive", false));
}

static int
podops_name_cmp(const void *a, const void *b)
{
	const struct pod *const *pa = a, *const *pb = b;

	return strcmp((*pa)->name, (*pb)->name);
}

static const char podops_list_head[] =
	"{\"event\":\"pods\",\"data\":{\"pods\":[";

/* list / list_pods. */
void
podops_list(struct daemon *d, struct pod *viewer, struct conn *c, struct msg *m)
{
	struct textbuf tb = { 0 };
	struct pod **v = NULL, *p;
	const char *s;
	size_t n = 0, i, len;

	v = xreallocarray(NULL, d->npods + 1, sizeof(*v));
	TAILQ_FOREACH(p, &d->pods, entry)
	{
		if (podops_visible(d, viewer, p))
			v[n++] = p;
	}
	if (n > 0)
		qsort(v, n, sizeof(*v), podops_name_cmp);
	/*
	 * With 1,000 pods the reply is ~400 KB: write it as text in one
	 * buffer (summary.c) instead of a tree of ~30,000 json-c objects.
	 */
	textbuf_puts(&tb, podops_list_head);
	for (i = 0; i < n; i++) {
		if (i > 0)
			textbuf_add(&tb, ",", 1);
		summary_text(d, v[i], &tb);
	}
	free(v);
	textbuf_add(&tb, "]}", 2);
	if (m->id != NULL) {
		s = json_object_to_json_string_length(m->id,
			JSON_C_TO_STRING_PLAIN | JSON_C_TO_STRING_NOSLASHESCAPE,
			&len);
		textbuf_puts(&tb, ",\"id\":");
		textbuf_add(&tb, s, len);
	}
	textbuf_add(&tb, "}", 1);
	(void)conn_send_text(c, tb.s, tb.len);
	free(tb.s);
}

/* inspect. */
void
podops_inspect(
	struct daemon *d, struct pod *viewer, struct conn *c, struct msg *m)
{
	struct pod *p;

	if ((p = podops_lookup(d, viewer, c, m, msg_param_str(m, "name"))) ==
		NULL)
		return;
	if (worktree_inspect(d, c, m, p) != 0)
		return; /* after git status */
	conn_send_event(c, "pod", podops_detail(d, p), m->id);
}

/* register_peer (control: a, b; worker: name). */
void
podops_register_peer(
	struct daemon *d, struct pod *viewer, struct conn *c, struct msg *m)
{
	struct pod *a, *b;
	struct json_object *data;
	int r;

	if (viewer != NULL) {
		a = viewer;
		b = podops_lookup(d, viewer, c, m, msg_param_str(m, "name"));
	} else {
		if ((a = podops_lookup(d, NULL, c, m, msg_param_str(m, "a"))) ==
			NULL)
			return;
		b = podops_lookup(d, NULL, c, m, msg_param_str(m, "b"));
	}
	if (b == NULL)
		return;
	if (a == b) {
		conn_send_error(c, m->id, PERR_INVALID_REQUEST, NULL,
			"a pod cannot be its own peer");
		return;
	}
	if (a->status == POD_CORRUPT || b->status == POD_CORRUPT) {
		conn_send_error(c, m->id, PERR_INVALID_REQUEST, NULL,
			"the state file of %s is corrupt",
			a->status == POD_CORRUPT ? a->name : b->name);
		return;
	}
	if ((r = podstore_register_peer(d, a, b)) != 0) {
		conn_send_error(c, m->id, PERR_INTERNAL, NULL,
			"cannot write the pod states: %s", strerror(-r));
		return;
	}
	data = json_object_new_object();
	json_object_object_add(data, "a", json_object_new_string(a->name));
	json_object_object_add(data, "b", json_object_new_string(b->name));
	conn_send_event(c, "peer_registered", data, m->id);
}

/* send / send_to_pod / send_to_peer. */
void
podops_send(struct daemon *d, struct pod *viewer, struct conn *c, struct msg *m,
	const char *kind)
{
	const char *name = msg_param_str(m, "name");
	const char *text = msg_param_str(m, "message");
	struct json_object *f, *data;
	struct pod *p;
	bool delivered;

	if (strcmp(kind, "peer_message") == 0 && viewer != NULL &&
		name != NULL && !namelist_has(&viewer->peers, name)) {
		if (daemon_pod_find(d, name) != NULL)
			conn_send_error(c, m->id, PERR_NOT_VISIBLE, NULL,
				"pod %s is not a peer of %s", name,
				viewer->name);
		else
			conn_send_error(c, m->id, PERR_NOT_FOUND, NULL,
				"no pod named %s", name);
		return;
	}
	if ((p = podops_lookup(d, viewer, c, m, name)) == NULL)
		return;
	if (text == NULL || strlen(text) > PODOPS_MAX_MESSAGE) {
		conn_send_error(c, m->id, PERR_INVALID_REQUEST, NULL,
			"\"message\" must be a string of at most 1 MiB");
		return;
	}
	if (p->status == POD_CORRUPT) {
		conn_send_error(c, m->id, PERR_INVALID_REQUEST, NULL,
			"the state file of %s is corrupt", p->name);
		return;
	}
	f = json_object_new_object();
	json_object_object_add(f, "message", json_object_new_string(text));
	delivered = route_event(
		d, p, kind, viewer != NULL ? viewer->name : "user", f);
	data = json_object_new_object();
	json_object_object_add(data, "name", json_object_new_string(p->name));
	json_object_object_add(
		data, "delivered", json_object_new_boolean(delivered));
	conn_send_event(c, "sent", data, m->id);
}

/* forget: delete the state and logs of a pod that is not running. */
void
podops_forget(struct daemon *d, struct conn *c, struct msg *m)
{
	struct json_object *data;
	struct pod *p, *q;
	int r;

	if ((p = podops_lookup(d, NULL, c, m, msg_param_str(m, "name"))) ==
		NULL)
		return;
	if (daemon_pod_running(p)) {
		conn_send_error(c, m->id, PERR_ALREADY_LIVE, NULL,
			"pod %s is %s; stop it first", p->name,
			pod_status_name(p->status));
		return;
	}
	if (worktree_forget(d, c, m, p) != 0)
		return; /* after git worktree remove */
	if ((r = podstore_remove(d, p)) != 0) {
		conn_send_error(c, m->id, PERR_INTERNAL, NULL,
			"cannot delete the state of %s: %s", p->name,
			strerror(-r));
		return;
	}
	TAILQ_FOREACH(q, &d->pods, entry)
	{
		bool changed = false;

		if (q == p || q->status == POD_CORRUPT)
			continue;
		if (namelist_has(&q->children, p->name)) {
			namelist_remove(&q->children, p->name);
			changed = true;
		}
		if (namelist_has(&q->peers, p->name)) {
			namelist_remove(&q->peers, p->name);
			changed = true;
		}
		if (q->parent != NULL && strcmp(q->parent, p->name) == 0) {
			free(q->parent);
			q->parent = NULL;
			changed = true;
		}
		if (changed)
			(void)podstore_write(d, q);
	}
	isolation_forget(d, p);
	budget_return(p);
	cgroup_forget(d, p);
	data = json_object_new_object();
	json_object_object_add(data, "name", json_object_new_string(p->name));
	worktree_forgotten(p, m, data);
	pod_free(p);
	journal_write(d);
	conn_send_event(c, "forgotten", data, m->id);
}
