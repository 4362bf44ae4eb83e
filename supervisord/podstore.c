/* SPDX-License-Identifier: ISC */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <event2/event.h>
#include <json-c/json.h>

#include "common/approval_policy.h"
#include "supervisord/podmcp.h"
#include "common/atomicfile.h"
#include "common/id.h"
#include "common/log.h"
#include "common/paths.h"
#include "common/podname.h"
#include "common/scope.h"
#include "common/xmalloc.h"
#include "proto/msg.h"
#include "supervisord/daemon.h"
#include "supervisord/podstore.h"
#include "supervisord/worktree.h"

/* State files are small; anything bigger is refused as corrupt. */
#define PODSTORE_MAX_FILE (64u * 1024u * 1024u)

static struct json_object *
podstore_names_json(const struct namelist *l)
{
	struct json_object *a = json_object_new_array();
	size_t i;

	for (i = 0; i < l->n; i++)
		json_object_array_add(a, json_object_new_string(l->v[i]));
	return a;
}

static struct json_object *
podstore_str_or_null(const char *s)
{
	return s != NULL ? json_object_new_string(s) : NULL;
}

/* Serialise p as its state file object. */
struct json_object *
podstore_to_json(const struct pod *p)
{
	struct json_object *o = json_object_new_object();
	struct json_object *sess, *rs;

	json_object_object_add(o, "version", json_object_new_int(1));
	json_object_object_add(o, "name", json_object_new_string(p->name));
	json_object_object_add(
		o, "created_ms", json_object_new_int64(p->created_ms));
	json_object_object_add(o, "cwd", json_object_new_string(p->cwd));
	json_object_object_add(o, "model", podstore_str_or_null(p->model));
	if (p->instruction != NULL)
		json_object_object_add(o, "instruction",
			json_object_new_string(p->instruction));
	json_object_object_add(o, "scope", scope_rules_to_json(&p->scope));
	if (p->approval.level != APPROVAL_NEVER || p->approval.nallow > 0)
		json_object_object_add(
			o, "approval", approval_policy_to_json(&p->approval));
	if (p->mcp.n > 0)
		json_object_object_add(o, "mcp", podmcp_names_json(p));
	json_object_object_add(o, "parent", podstore_str_or_null(p->parent));
	json_object_object_add(
		o, "children", podstore_names_json(&p->children));
	json_object_object_add(o, "peers", podstore_names_json(&p->peers));
	isolation_to_state(p, o);
	worktree_to_state(p, o);
	budget_to_state(p, o);
	cgroup_to_state(p, o);
	sess = json_object_new_object();
	json_object_object_add(
		sess, "id", json_object_new_string(p->session_id));
	json_object_object_add(
		sess, "segment", podstore_str_or_null(p->segment));
	json_object_object_add(o, "session", sess);
	json_object_object_add(o, "status",
		json_object_new_string(pod_status_name(p->status)));
	json_object_object_add(
		o, "pid", p->pid > 0 ? json_object_new_int(p->pid) : NULL);
	rs = json_object_new_object();
	json_object_object_add(rs, "policy",
		json_object_new_string(p->policy == RESTART_ON_FAILURE
				? "on-failure"
				: "never"));
	json_object_object_add(
		rs, "count", json_object_new_int(p->restart_count));
	json_object_object_add(o, "restart", rs);
	json_object_object_add(
		o, "pending_events", json_object_get(p->pending));
	if (p->has_last_exit) {
		struct json_object *le = json_object_new_object();

		if (p->last_exit_code >= 0)
			json_object_object_add(le, "code",
				json_object_new_int(p->last_exit_code));
		if (p->last_exit_signal > 0)
			json_object_object_add(le, "signal",
				json_object_new_int(p->last_exit_signal));
		json_object_object_add(
			le, "ms", json_object_new_int64(p->last_exit_ms));
		json_object_object_add(o, "last_exit", le);
	}
	return o;
}

static int
podstore_fail(char **reterr_msg, const char *fmt, const char *what)
{
	if (reterr_msg != NULL)
		*reterr_msg = xstrfmt(fmt, what);
	return -EINVAL;
}

static int
podstore_names_from_json(struct json_object *o, const char *key,
	struct namelist *l, char **reterr_msg)
{
	struct json_object *a;
	size_t i, n;

	if (!json_object_object_get_ex(o, key, &a) ||
		!json_object_is_type(a, json_type_array))
		return podstore_fail(reterr_msg, "\"%s\" is not an array", key);
	n = json_object_array_length(a);
	for (i = 0; i < n; i++) {
		struct json_object *e = json_object_array_get_idx(a, i);

		if (!json_object_is_type(e, json_type_string) ||
			!podname_valid(json_object_get_string(e), NULL))
			return podstore_fail(reterr_msg,
				"\"%s\" holds an invalid pod name", key);
		namelist_add(l, json_object_get_string(e));
	}
	return 0;
}

static const char *
podstore_get_str(struct json_object *o, const char *key, bool *ok)
{
	struct json_object *v;

	if (!json_object_object_get_ex(o, key, &v) || v == NULL)
		return NULL;
	if (!json_object_is_type(v, json_type_string)) {
		*ok = false;
		return NULL;
	}
	return json_object_get_string(v);
}

/* Fill p from a parsed state file. */
int
podstore_from_json(struct pod *p, struct json_object *o, char **reterr_msg)
{
	struct json_object *v, *sess, *rs;
	const char *s;
	bool ok = true;
	char *err = NULL;

	if (!json_object_is_type(o, json_type_object))
		return podstore_fail(reterr_msg, "%s", "not a JSON object");
	if (!json_object_object_get_ex(o, "version", &v) ||
		json_object_get_int(v) != 1)
		return podstore_fail(reterr_msg, "%s", "unknown \"version\"");
	s = podstore_get_str(o, "name", &ok);
	if (s == NULL || strcmp(s, p->name) != 0)
		return podstore_fail(reterr_msg, "%s",
			"\"name\" does not match the file name");
	s = podstore_get_str(o, "cwd", &ok);
	if (s == NULL || s[0] != '/')
		return podstore_fail(
			reterr_msg, "%s", "\"cwd\" is not an absolute path");
	p->cwd = xstrdup(s);
	if (json_object_object_get_ex(o, "created_ms", &v))
		p->created_ms = json_object_get_int64(v);
	s = podstore_get_str(o, "model", &ok);
	p->model = s != NULL ? xstrdup(s) : NULL;
	s = podstore_get_str(o, "instruction", &ok);
	p->instruction = s != NULL ? xstrdup(s) : NULL;
	s = podstore_get_str(o, "parent", &ok);
	if (s != NULL && !podname_valid(s, NULL))
		return podstore_fail(reterr_msg, "%s", "bad \"parent\"");
	p->parent = s != NULL ? xstrdup(s) : NULL;
	if (!ok)
		return podstore_fail(
			reterr_msg, "%s", "a string field has another type");
	if (!json_object_object_get_ex(o, "scope", &v) ||
		scope_rules_from_json(v, p->cwd, &p->scope, &err) != 0) {
		int r = podstore_fail(reterr_msg, "bad \"scope\": %s",
			err != NULL ? err : "not an array");

		free(err);
		return r;
	}
	/* Optional (older state files have none: never). */
	if (json_object_object_get_ex(o, "approval", &v) &&
		approval_policy_from_json(&p->approval, v, &err) != 0) {
		int r = podstore_fail(reterr_msg, "bad \"approval\": %s",
			err != NULL ? err : "not an object");

		free(err);
		return r;
	}
	if (podmcp_from_state(p, o, &err) != 0) {
		int r = podstore_fail(reterr_msg, "bad \"mcp\": %s", err);

		free(err);
		return r;
	}
	if (podstore_names_from_json(o, "children", &p->children, reterr_msg) !=
			0 ||
		podstore_names_from_json(o, "peers", &p->peers, reterr_msg) !=
			0)
		return -EINVAL;
	if (isolation_from_state(p, o, reterr_msg) != 0 ||
		worktree_from_state(p, o, reterr_msg) != 0 ||
		budget_from_state(p, o, reterr_msg) != 0 ||
		cgroup_from_state(p, o, reterr_msg) != 0)
		return -EINVAL;
	if (!json_object_object_get_ex(o, "session", &sess) ||
		!json_object_is_type(sess, json_type_object))
		return podstore_fail(reterr_msg, "%s", "bad \"session\"");
	s = podstore_get_str(sess, "id", &ok);
	if (s == NULL || strlen(s) != ID_LEN)
		return podstore_fail(reterr_msg, "%s", "bad \"session.id\"");
	memcpy(p->session_id, s, ID_LEN + 1);
	s = podstore_get_str(sess, "segment", &ok);
	p->segment = s != NULL ? xstrdup(s) : NULL;
	s = podstore_get_str(o, "status", &ok);
	p->status = pod_status_from_name(s);
	if (p->status == POD_NONE || p->status == POD_CORRUPT)
		return podstore_fail(reterr_msg, "%s", "bad \"status\"");
	if (json_object_object_get_ex(o, "pid", &v) && v != NULL)
		p->pid = json_object_get_int(v);
	if (json_object_object_get_ex(o, "restart", &rs) &&
		json_object_is_type(rs, json_type_object)) {
		s = podstore_get_str(rs, "policy", &ok);
		p->policy = s != NULL && strcmp(s, "on-failure") == 0
			? RESTART_ON_FAILURE
			: RESTART_NEVER;
		if (json_object_object_get_ex(rs, "count", &v))
			p->restart_count = json_object_get_int(v);
	}
	if (json_object_object_get_ex(o, "pending_events", &v) &&
		json_object_is_type(v, json_type_array)) {
		json_object_put(p->pending);
		p->pending = json_object_get(v);
	}
	if (json_object_object_get_ex(o, "last_exit", &v) &&
		json_object_is_type(v, json_type_object)) {
		struct json_object *f;

		p->has_last_exit = true;
		if (json_object_object_get_ex(v, "code", &f))
			p->last_exit_code = json_object_get_int(f);
		if (json_object_object_get_ex(v, "signal", &f))
			p->last_exit_signal = json_object_get_int(f);
		if (json_object_object_get_ex(v, "ms", &f))
			p->last_exit_ms = json_object_get_int64(f);
	}
	if (!ok)
		return podstore_fail(
			reterr_msg, "%s", "a string field has another type");
	return 0;
}

static char *
podstore_text(const struct pod *p, size_t *ret_len)
{
	struct json_object *o = podstore_to_json(p);
	const char *s = json_object_to_json_string_ext(
		o, JSON_C_TO_STRING_PLAIN | JSON_C_TO_STRING_NOSLASHESCAPE);
	char *text = xstrfmt("%s\n", s);

	json_object_put(o);
	*ret_len = strlen(text);
	return text;
}

/* Atomically write p's state file. */
int
podstore_write(struct daemon *d, struct pod *p)
{
	char *path, *text;
	size_t len;
	int r;

	if (p->status == POD_CORRUPT || p->status == POD_NONE)
		return -EPERM;
	text = podstore_text(p, &len);
	/*
	 * The file already holds exactly these bytes (we wrote them and
	 * only podvisord writes it): nothing to make durable.
	 */
	if (digest_same(&p->state_digest, text, len)) {
		free(text);
		return 0;
	}
	path = paths_pod_state(&d->paths, p->name);
	r = atomicfile_write(path, text, len, 0600);
	memset(&p->state_digest, 0, sizeof(p->state_digest));
	if (r < 0)
		log_err("cannot write %s: %s", path, strerror(-r));
	else
		digest_of(&p->state_digest, text, len);
	free(text);
	free(path);
	return r;
}

struct podstore_batch {
	struct pod *p;
	char *path, *tmp;
	struct digest dg;
	int fd;
};

static void
podstore_batch_drop(struct podstore_batch *b, const char *what, int err)
{
	log_err("cannot write %s (%s): %s", b->path, what, strerror(err));
	if (b->fd >= 0)
		close(b->fd);
	b->fd = -1;
	(void)unlink(b->tmp);
	memset(&b->p->state_digest, 0, sizeof(b->p->state_digest));
	b->p = NULL;
}

static void
podstore_batch_open(struct daemon *d, struct podstore_batch *b)
{
	size_t len, off = 0;
	char *text = podstore_text(b->p, &len);
	ssize_t n;

	b->fd = -1;
	if (digest_same(&b->p->state_digest, text, len)) {
		free(text);
		b->p = NULL;
		return;
	}
	digest_of(&b->dg, text, len);
	b->path = paths_pod_state(&d->paths, b->p->name);
	b->tmp = xstrfmt("%s.tmp", b->path);
	b->fd = open(b->tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
	if (b->fd < 0) {
		podstore_batch_drop(b, "open", errno);
		free(text);
		return;
	}
	while (off < len) {
		n = write(b->fd, text + off, len - off);
		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0) {
			podstore_batch_drop(b, "write", n < 0 ? errno : EIO);
			break;
		}
		off += (size_t)n;
	}
	free(text);
}

/*
 * The batch keeps atomicfile_write()'s guarantees for each file: the
 * new content is durable before its rename, the renames are durable
 * once the directory is fsynced, and on any failure the old file stays.
 * Writing every file before the first fsync lets one journal commit
 * cover them all.
 */
void
podstore_flush(struct daemon *d)
{
	struct podstore_batch *b;
	size_t i, n = d->ndirty;
	bool renamed = false;
	int dfd;

	if (n == 0)
		return;
	b = xcalloc(n, sizeof(*b));
	for (i = 0; i < n; i++) {
		b[i].p = d->dirty[i];
		b[i].p->state_dirty = false;
		if (b[i].p->status == POD_CORRUPT || b[i].p->status == POD_NONE)
			b[i].p = NULL;
		else
			podstore_batch_open(d, &b[i]);
	}
	d->ndirty = 0;
	for (i = 0; i < n; i++) {
		if (b[i].p != NULL && fsync(b[i].fd) < 0)
			podstore_batch_drop(&b[i], "fsync", errno);
	}
	for (i = 0; i < n; i++) {
		if (b[i].p == NULL)
			continue;
		close(b[i].fd);
		b[i].fd = -1;
		if (rename(b[i].tmp, b[i].path) < 0)
			podstore_batch_drop(&b[i], "rename", errno);
		else
			renamed = true;
	}
	if (renamed) {
		dfd = open(d->paths.state_pods,
			O_RDONLY | O_DIRECTORY | O_CLOEXEC);
		if (dfd < 0 || fsync(dfd) < 0) {
			/* In place but maybe not durable: write again later. */
			log_err("cannot fsync %s: %s", d->paths.state_pods,
				strerror(errno));
			for (i = 0; i < n; i++)
				b[i].p = NULL;
		}
		if (dfd >= 0)
			close(dfd);
	}
	for (i = 0; i < n; i++) {
		if (b[i].p != NULL)
			b[i].p->state_digest = b[i].dg;
		free(b[i].path);
		free(b[i].tmp);
	}
	free(b);
}

static void
podstore_dirty_cb(evutil_socket_t fd, short what, void *arg)
{
	(void)fd;
	(void)what;
	podstore_flush(arg);
}

/* Queue p's state for the end of this iteration. */
void
podstore_write_later(struct daemon *d, struct pod *p)
{
	if (p->state_dirty)
		return;
	if (d->base == NULL) {
		(void)podstore_write(d, p);
		return;
	}
	p->state_dirty = true;
	d->dirty = xreallocarray(d->dirty, d->ndirty + 1, sizeof(*d->dirty));
	d->dirty[d->ndirty++] = p;
	if (d->dirty_ev == NULL)
		d->dirty_ev = event_new(d->base, -1, 0, podstore_dirty_cb, d);
	event_active(d->dirty_ev, EV_TIMEOUT, 0);
}

static void
podstore_load_one(struct daemon *d, const char *name)
{
	struct pod *p;
	char *path = paths_pod_state(&d->paths, name);
	char *buf = NULL, *err = NULL;
	struct json_object *o = NULL;
	size_t len = 0;
	int r;

	p = pod_new(d, name);
	r = atomicfile_read(path, PODSTORE_MAX_FILE, &buf, &len);
	if (r < 0)
		err = xstrfmt("cannot read: %s", strerror(-r));
	else if ((o = msg_parse_json(buf, len, &err)) == NULL) {
		if (err == NULL)
			err = xstrdup("invalid JSON");
	} else if (podstore_from_json(p, o, &err) != 0) {
		if (err == NULL)
			err = xstrdup("invalid pod state");
	} else {
		size_t tlen;
		char *text = podstore_text(p, &tlen);

		/* Known on-disk bytes let an unchanged rewrite be skipped. */
		if (tlen == len && memcmp(text, buf, len) == 0)
			digest_of(&p->state_digest, text, tlen);
		free(text);
	}
	if (err != NULL) {
		struct pod *fresh;

		log_warn("pod state %s is corrupt: %s", path, err);
		/* Start over from a clean pod: only the name survives. */
		pod_free(p);
		fresh = pod_new(d, name);
		fresh->status = POD_CORRUPT;
		fresh->corrupt_msg = err;
	}
	if (o != NULL)
		json_object_put(o);
	free(buf);
	free(path);
}

static int
podstore_name_cmp(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

/*
 * A pod names its parent and the parent lists it among its children;
 * when the files disagree (a crash between the two writes, a hand edit),
 * add the child to its parent's list in memory so that every lookup by
 * children (effective write) sees it.
 */
static void
podstore_link_children(struct daemon *d)
{
	struct pod *p, *parent;

	TAILQ_FOREACH(p, &d->pods, entry)
	{
		if (p->status == POD_CORRUPT || p->parent == NULL ||
			(parent = daemon_pod_find(d, p->parent)) == NULL ||
			parent->status == POD_CORRUPT)
			continue;
		namelist_add(&parent->children, p->name);
	}
}

/* Load all state files of <state>/pods. */
int
podstore_load_all(struct daemon *d)
{
	DIR *dir;
	struct dirent *de;
	char **names = NULL;
	size_t n = 0, i;

	if ((dir = opendir(d->paths.state_pods)) == NULL)
		return errno == ENOENT ? 0 : -errno;
	while ((de = readdir(dir)) != NULL) {
		size_t len = strlen(de->d_name);
		char *name;

		if (len <= 5 || strcmp(de->d_name + len - 5, ".json") != 0)
			continue;
		name = xstrndup(de->d_name, len - 5);
		if (!podname_valid(name, NULL) || daemon_pod_find(d, name)) {
			free(name);
			continue;
		}
		names = xreallocarray(names, n + 1, sizeof(*names));
		names[n++] = name;
	}
	closedir(dir);
	if (n > 0)
		qsort(names, n, sizeof(*names), podstore_name_cmp);
	for (i = 0; i < n; i++) {
		podstore_load_one(d, names[i]);
		free(names[i]);
	}
	free(names);
	podstore_link_children(d);
	return 0;
}

static int
podstore_rm_cb(
	const char *path, const struct stat *st, int flag, struct FTW *ftw)
{
	(void)st;
	(void)flag;
	(void)ftw;
	return remove(path) < 0 && errno != ENOENT ? -1 : 0;
}

/* Remove the state file, the session logs and the runtime dir of p. */
int
podstore_remove(struct daemon *d, struct pod *p)
{
	char *path = paths_pod_state(&d->paths, p->name);
	char *sdir = paths_session_dir(&d->paths, p->name);
	char *rdir = paths_pod_runtime_dir(&d->paths, p->name);
	int r = 0;

	memset(&p->state_digest, 0, sizeof(p->state_digest));
	if (unlink(path) < 0 && errno != ENOENT)
		r = -errno;
	if (r == 0 &&
		nftw(sdir, podstore_rm_cb, 16, FTW_DEPTH | FTW_PHYS) < 0 &&
		errno != ENOENT)
		r = -errno;
	/* Only stderr.log and a stale socket live here: best effort. */
	if (r == 0)
		(void)nftw(rdir, podstore_rm_cb, 16, FTW_DEPTH | FTW_PHYS);
	free(path);
	free(sdir);
	free(rdir);
	return r;
}

/* Register a and b as peers, writing both state files or neither. */
int
podstore_register_peer(struct daemon *d, struct pod *a, struct pod *b)
{
	bool a_had = namelist_has(&a->peers, b->name);
	bool b_had = namelist_has(&b->peers, a->name);
	char *old_a, *path_a;
	size_t old_len;
	int r;

	if (a->status == POD_CORRUPT || b->status == POD_CORRUPT)
		return -EPERM;
	old_a = podstore_text(a, &old_len);
	/*
	 * Always write both files, even when they were peers already: the
	 * reply then vouches for durable state (and reports a failing disk).
	 */
	memset(&a->state_digest, 0, sizeof(a->state_digest));
	memset(&b->state_digest, 0, sizeof(b->state_digest));
	namelist_add(&a->peers, b->name);
	namelist_add(&b->peers, a->name);
	if ((r = podstore_write(d, a)) < 0)
		goto undo;
	if ((r = podstore_write(d, b)) < 0) {
		path_a = paths_pod_state(&d->paths, a->name);
		memset(&a->state_digest, 0, sizeof(a->state_digest));
		if (atomicfile_write(path_a, old_a, old_len, 0600) < 0)
			log_err("cannot restore %s after a failed peer write",
				path_a);
		else
			digest_of(&a->state_digest, old_a, old_len);
		free(path_a);
		goto undo;
	}
	free(old_a);
	return 0;
undo:
	if (!a_had)
		namelist_remove(&a->peers, b->name);
	if (!b_had)
		namelist_remove(&b->peers, a->name);
	free(old_a);
	return r;
}
