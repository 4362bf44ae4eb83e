/* SPDX-License-Identifier: ISC */
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <json-c/json.h>

#include "common/cgroup2.h"
#include "common/log.h"
#include "common/xmalloc.h"
#include "proto/conn.h"
#include "proto/msg.h"
#include "supervisord/cgroup.h"
#include "supervisord/conf.h"
#include "supervisord/daemon.h"
#include "supervisord/summary.h"

#define CGROUP_CPU_WEIGHT_DEFAULT 100
#define CGROUP_CPU_WEIGHT_MAX 10000

struct podcg {
	struct cgroup2_info info; /* avail: the controllers enabled */
	bool usable;
};

/* Move what runs in root itself (not podvisord) into the leaf. */
static void
cgroup_evacuate(const char *root, const char *leaf)
{
	char buf[4096], *s, *nl;

	if (cgroup2_read(root, "cgroup.procs", buf, sizeof(buf)) <= 0)
		return;
	for (s = buf; *s != '\0'; s = nl + 1) {
		if ((nl = strchr(s, '\n')) == NULL)
			break;
		*nl = '\0';
		(void)cgroup2_write(leaf, "cgroup.procs", s);
	}
}

/* Leaf, controllers: see cgroup.h. */
static int
cgroup_setup(struct podcg *cg)
{
	struct cgroup2_info *ci = &cg->info;
	char *leaf = xstrfmt("%s/podvisord", ci->root), *op, *err;
	char buf[128];
	unsigned bit, want = ci->avail & CG2_ALL;
	int r = 0;

	if (!ci->in_leaf) {
		if (mkdir(leaf, 0755) < 0 && errno != EEXIST)
			r = -errno;
		if (r == 0) {
			snprintf(buf, sizeof(buf), "%d", (int)getpid());
			r = cgroup2_write(leaf, "cgroup.procs", buf);
		}
		if (r < 0) {
			err = xstrfmt("cgroup v2 delegation not available: "
				      "cannot move podvisord into %s: %s; "
				      "" CG2_FIX,
				leaf, strerror(-r));
			free(ci->error);
			ci->error = err;
			free(leaf);
			return r;
		}
	}
	for (bit = 1; bit & CG2_ALL; bit <<= 1) {
		if (!(want & bit))
			continue;
		op = xstrfmt("+%s", cgroup2_controller_name(bit));
		r = cgroup2_write(ci->root, "cgroup.subtree_control", op);
		if (r == -EBUSY) {
			/* No internal processes: whatever else is here. */
			cgroup_evacuate(ci->root, leaf);
			r = cgroup2_write(
				ci->root, "cgroup.subtree_control", op);
		}
		if (r < 0)
			log_warn("cgroups: cannot enable %s in %s: %s", op + 1,
				ci->root, strerror(-r));
		free(op);
	}
	free(leaf);
	if (cgroup2_read(
		    ci->root, "cgroup.subtree_control", buf, sizeof(buf)) >= 0)
		ci->avail &= cgroup2_parse_controllers(buf);
	else
		ci->avail = 0;
	return 0;
}

void
cgroup_init(struct daemon *d)
{
	struct podcg *cg = xcalloc(1, sizeof(*cg));

	d->cg = cg;
	cgroup2_probe(getenv("PODVISOR_CGROUP_ROOT"), &cg->info);
	if (cg->info.root == NULL) {
		log_info("cgroups: %s; pods run without resource limits",
			cg->info.error);
		return;
	}
	if (cgroup_setup(cg) < 0) {
		log_warn("cgroups: %s", cg->info.error);
		free(cg->info.root);
		cg->info.root = NULL;
		return;
	}
	cg->usable = true;
	log_info("cgroups: pods in %s/pod-NAME (controllers: %s%s%s%s)",
		cg->info.root, cg->info.avail & CG2_MEMORY ? "memory " : "",
		cg->info.avail & CG2_PIDS ? "pids " : "",
		cg->info.avail & CG2_CPU ? "cpu" : "",
		cg->info.avail == 0 ? "none" : "");
}

void
cgroup_free(struct daemon *d)
{
	if (d->cg == NULL)
		return;
	cgroup2_info_clear(&d->cg->info);
	free(d->cg);
	d->cg = NULL;
}

bool
cgroup_usable(const struct daemon *d)
{
	return d->cg != NULL && d->cg->usable;
}

static struct json_object *
cgroup_controllers_json(unsigned mask)
{
	struct json_object *a = json_object_new_array();
	unsigned bit;

	for (bit = 1; bit & CG2_ALL; bit <<= 1)
		if (mask & bit)
			json_object_array_add(a,
				json_object_new_string(
					cgroup2_controller_name(bit)));
	return a;
}

struct json_object *
cgroup_hello(const struct daemon *d)
{
	struct json_object *o = json_object_new_object();
	const struct podcg *cg = d->cg;

	json_object_object_add(
		o, "available", json_object_new_boolean(cgroup_usable(d)));
	if (cgroup_usable(d)) {
		json_object_object_add(
			o, "root", json_object_new_string(cg->info.root));
		json_object_object_add(o, "controllers",
			cgroup_controllers_json(cg->info.avail));
	} else if (cg != NULL && cg->info.error != NULL)
		json_object_object_add(
			o, "error", json_object_new_string(cg->info.error));
	return o;
}

static bool
cgroup_limits_any(const struct pod_limits *l)
{
	return l->memory > 0 || l->swap_set || l->pids > 0 || l->cpu_weight > 0;
}

static unsigned
cgroup_limits_need(const struct pod_limits *l)
{
	return (l->memory > 0 || l->swap_set ? CG2_MEMORY : 0) |
		(l->pids > 0 ? CG2_PIDS : 0) |
		(l->cpu_weight > 0 ? CG2_CPU : 0);
}

/* memory.swap.max as written: set, 0 beside a memory limit, else max. */
static int64_t
cgroup_swap_effective(const struct pod_limits *l)
{
	if (l->swap_set)
		return l->memory_swap;
	return l->memory > 0 ? 0 : INT64_MAX;
}

static struct json_object *
cgroup_field(const char *field)
{
	struct json_object *o = json_object_new_object();

	json_object_object_add(o, "field", json_object_new_string(field));
	return o;
}

/* One value of "limits": a positive integer (sizes also as "512M"). */
static int
cgroup_param_value(struct json_object *v, bool size, bool zero_ok, int64_t max,
	int64_t *ret)
{
	int64_t x;

	if (size && json_object_is_type(v, json_type_string)) {
		if (cgroup2_parse_size(json_object_get_string(v), &x) < 0)
			return -1;
	} else if (json_object_is_type(v, json_type_int))
		x = json_object_get_int64(v);
	else
		return -1;
	if (x < (zero_ok ? 0 : 1) || x > max)
		return -1;
	*ret = x;
	return 0;
}

static int
cgroup_not_subset(struct conn *c, const struct msg *m, const char *field,
	const struct pod *viewer, int64_t want, int64_t have)
{
	conn_send_error(c, m->id, PERR_NOT_SUBSET, cgroup_field(field),
		"\"%s\": a child may only narrow its parent's limits; pod %s "
		"has %" PRId64 ", so %" PRId64 " is not allowed",
		field, viewer->name, have, want);
	return -1;
}

/* spawn's "limits"; see cgroup.h. */
int
cgroup_spawn_params(struct daemon *d, const struct pod *viewer, struct conn *c,
	const struct msg *m, struct pod_limits *lim)
{
	static const struct {
		const char *key, *field;
		bool size, zero_ok;
		int64_t max;
	} keys[] = {
		{ "memory", "limits.memory", true, false, INT64_MAX / 2 },
		{ "memory_swap", "limits.memory_swap", true, true,
			INT64_MAX / 2 },
		{ "pids", "limits.pids", false, false, 1 << 22 },
		{ "cpu_weight", "limits.cpu_weight", false, false,
			CGROUP_CPU_WEIGHT_MAX },
	};
	struct json_object *req = msg_param(m, "limits");
	const struct pod_limits *base =
		viewer != NULL ? &viewer->limits : &d->config->limits;
	int64_t x[4] = { 0, 0, 0, 0 };
	bool given[4] = { false, false, false, false };
	char *err;
	size_t i;

	*lim = *base;
	if (req != NULL && !json_object_is_type(req, json_type_object)) {
		conn_send_error(c, m->id, PERR_INVALID_REQUEST,
			cgroup_field("limits"),
			"\"limits\" must be an object {memory, memory_swap, "
			"pids, cpu_weight}");
		return -1;
	}
	if (req != NULL) {
		struct json_object_iterator it = json_object_iter_begin(req);
		struct json_object_iterator end = json_object_iter_end(req);

		for (; !json_object_iter_equal(&it, &end);
			json_object_iter_next(&it)) {
			const char *key = json_object_iter_peek_name(&it);
			struct json_object *val =
				json_object_iter_peek_value(&it);

			for (i = 0; i < 4 && strcmp(keys[i].key, key) != 0; i++)
				;
			if (i == 4) {
				err = xstrfmt("limits.%s", key);
				conn_send_error(c, m->id, PERR_INVALID_REQUEST,
					cgroup_field(err),
					"unknown limit \"%s\" (memory, "
					"memory_swap, pids, cpu_weight)",
					key);
				free(err);
				return -1;
			}
			if (val == NULL)
				continue;
			if (cgroup_param_value(val, keys[i].size,
				    keys[i].zero_ok, keys[i].max, &x[i]) < 0) {
				conn_send_error(c, m->id, PERR_INVALID_REQUEST,
					cgroup_field(keys[i].field),
					"\"%s\" must be a %s", keys[i].field,
					i == 3 ? "weight from 1 to 10000"
						: keys[i].size
						? "size in bytes (or \"512M\")"
						: "positive integer");
				return -1;
			}
			given[i] = true;
		}
	}
	if (viewer != NULL) {
		int64_t have;

		if (given[0] && base->memory > 0 && x[0] > base->memory)
			return cgroup_not_subset(c, m, "limits.memory", viewer,
				x[0], base->memory);
		have = cgroup_swap_effective(base);
		if (given[1] && x[1] > have)
			return cgroup_not_subset(
				c, m, "limits.memory_swap", viewer, x[1], have);
		if (given[2] && base->pids > 0 && x[2] > base->pids)
			return cgroup_not_subset(
				c, m, "limits.pids", viewer, x[2], base->pids);
		have = base->cpu_weight > 0 ? base->cpu_weight
					    : CGROUP_CPU_WEIGHT_DEFAULT;
		if (given[3] && x[3] > have)
			return cgroup_not_subset(
				c, m, "limits.cpu_weight", viewer, x[3], have);
		/* A child's own memory limit keeps the parent's swap. */
		if (given[0] && !base->swap_set && base->memory > 0 &&
			!given[1]) {
			lim->swap_set = true;
			lim->memory_swap = 0;
		}
	}
	if (given[0])
		lim->memory = x[0];
	if (given[1]) {
		lim->swap_set = true;
		lim->memory_swap = x[1];
	}
	if (given[2])
		lim->pids = x[2];
	if (given[3])
		lim->cpu_weight = x[3];
	if (!cgroup_limits_any(lim))
		return 0;
	if (!cgroup_usable(d))
		err = xstrdup(d->cg != NULL && d->cg->info.error != NULL
				? d->cg->info.error
				: "cgroup v2 delegation not available");
	else
		err = cgroup2_missing(&d->cg->info, cgroup_limits_need(lim));
	if (err == NULL)
		return 0;
	conn_send_error(c, m->id, PERR_INVALID_REQUEST, cgroup_field("limits"),
		"resource limits refused: %s", err);
	free(err);
	return -1;
}

static struct json_object *
cgroup_limits_json(const struct pod_limits *l)
{
	struct json_object *o = json_object_new_object();

	if (l->memory > 0)
		json_object_object_add(
			o, "memory", json_object_new_int64(l->memory));
	if (l->swap_set)
		json_object_object_add(o, "memory_swap",
			json_object_new_int64(l->memory_swap));
	if (l->pids > 0)
		json_object_object_add(
			o, "pids", json_object_new_int64(l->pids));
	if (l->cpu_weight > 0)
		json_object_object_add(
			o, "cpu_weight", json_object_new_int64(l->cpu_weight));
	return o;
}

void
cgroup_to_state(const struct pod *p, struct json_object *o)
{
	if (cgroup_limits_any(&p->limits))
		json_object_object_add(
			o, "limits", cgroup_limits_json(&p->limits));
}

int
cgroup_from_state(struct pod *p, struct json_object *o, char **reterr)
{
	struct json_object *l, *v;

	memset(&p->limits, 0, sizeof(p->limits));
	if (!json_object_object_get_ex(o, "limits", &l) || l == NULL)
		return 0;
	if (!json_object_is_type(l, json_type_object)) {
		*reterr = xstrdup("bad \"limits\": not an object");
		return -EINVAL;
	}
	if (json_object_object_get_ex(l, "memory", &v))
		p->limits.memory = json_object_get_int64(v);
	if (json_object_object_get_ex(l, "memory_swap", &v)) {
		p->limits.swap_set = true;
		p->limits.memory_swap = json_object_get_int64(v);
	}
	if (json_object_object_get_ex(l, "pids", &v))
		p->limits.pids = json_object_get_int64(v);
	if (json_object_object_get_ex(l, "cpu_weight", &v))
		p->limits.cpu_weight = json_object_get_int64(v);
	if (p->limits.memory < 0 || p->limits.memory_swap < 0 ||
		p->limits.pids < 0 || p->limits.cpu_weight < 0 ||
		p->limits.cpu_weight > CGROUP_CPU_WEIGHT_MAX) {
		*reterr = xstrdup("bad \"limits\": a negative or out of "
				  "range value");
		return -EINVAL;
	}
	return 0;
}

char *
cgroup_pod_dir(const struct daemon *d, const char *name)
{
	if (!cgroup_usable(d))
		return NULL;
	return xstrfmt("%s/pod-%s", d->cg->info.root, name);
}

/* The pod's cgroup if it exists (caller frees), else NULL. */
static char *
cgroup_existing(const struct pod *p)
{
	char *dir = cgroup_pod_dir(p->d, p->name);
	struct stat st;

	if (dir != NULL && stat(dir, &st) < 0) {
		free(dir);
		return NULL;
	}
	return dir;
}

static void
cgroup_add_int(struct json_object *o, const char *key, const char *dir,
	const char *file, const char *fkey)
{
	int64_t v;

	json_object_object_add(o, key,
		cgroup2_read_int(dir, file, fkey, &v) == 0
			? json_object_new_int64(v)
			: NULL);
}

/* "resources", new reference, or NULL without a cgroup. */
static struct json_object *
cgroup_resources(const struct pod *p)
{
	char *dir = cgroup_existing(p);
	struct json_object *o;

	if (dir == NULL)
		return NULL;
	o = json_object_new_object();
	cgroup_add_int(o, "memory_current", dir, "memory.current", NULL);
	cgroup_add_int(o, "pids_current", dir, "pids.current", NULL);
	cgroup_add_int(o, "cpu_usec", dir, "cpu.stat", "usage_usec");
	cgroup_add_int(o, "oom_kills", dir, "memory.events", "oom_kill");
	json_object_object_add(o, "limits", cgroup_limits_json(&p->limits));
	free(dir);
	return o;
}

void
cgroup_summary(const struct pod *p, struct json_object *o)
{
	struct json_object *r;

	if (p->status != POD_CORRUPT && (r = cgroup_resources(p)) != NULL)
		json_object_object_add(o, "resources", r);
}

void
cgroup_summary_text(const struct pod *p, struct textbuf *tb)
{
	struct json_object *r;

	if ((r = cgroup_resources(p)) == NULL)
		return;
	textbuf_puts(tb, ",\"resources\":");
	textbuf_puts(
		tb, json_object_to_json_string_ext(r, JSON_C_TO_STRING_PLAIN));
	json_object_put(r);
}

void
cgroup_detail(const struct pod *p, struct json_object *o)
{
	char *dir = cgroup_existing(p);

	if (dir != NULL)
		json_object_object_add(
			o, "cgroup", json_object_new_string(dir));
	free(dir);
}

/* Write one limit; a missing file is an error only if wanted. */
static int
cgroup_set(const char *dir, const char *file, int64_t v, bool wanted,
	char **reterr_msg)
{
	char buf[32];
	int r;

	if (v == INT64_MAX)
		snprintf(buf, sizeof(buf), "max");
	else
		snprintf(buf, sizeof(buf), "%" PRId64, v);
	r = cgroup2_write(dir, file, buf);
	if (r == -ENOENT && !wanted)
		return 0;
	if (r < 0)
		*reterr_msg = xstrfmt("cannot set %s/%s to %s: %s", dir, file,
			buf, strerror(-r));
	return r;
}

static int cgroup_apply(struct pod *p, const char *dir, char **reterr_msg);

int
cgroup_prepare(struct pod *p, char **reterr_msg)
{
	const struct pod_limits *l = &p->limits;
	struct daemon *d = p->d;
	char *dir, *err = NULL;
	int r = 0;

	if (!cgroup_usable(d) ||
		(err = cgroup2_missing(&d->cg->info, cgroup_limits_need(l))) !=
			NULL) {
		if (!cgroup_limits_any(l))
			return 0;
		*reterr_msg = xstrfmt("resource limits refused: %s",
			cgroup_usable(d) ? err
				: d->cg != NULL && d->cg->info.error != NULL
				? d->cg->info.error
				: "cgroup v2 delegation not available");
		if (cgroup_usable(d))
			free(err);
		return -EOPNOTSUPP;
	}
	dir = cgroup_pod_dir(d, p->name);
	if (mkdir(dir, 0755) < 0 && errno != EEXIST) {
		r = -errno;
		*reterr_msg = xstrfmt(
			"cannot create the cgroup %s: %s", dir, strerror(-r));
		free(dir);
		return r;
	}
	r = cgroup_apply(p, dir, reterr_msg);
	free(dir);
	return r;
}

/*
 * --release-cgroup (the unit's ExecStartPre, in systemd's <unit>/.control):
 * turn podvisord's controllers off in the unit's cgroup, so that systemd
 * (before 254, without DelegateSubgroup=) can put the restarted podvisord
 * there after a crash.  The new podvisord enables them again and writes
 * every re-adopted pod's limits anew (cgroup_reattached).
 */
int
cgroup_release(void)
{
	const char *env = getenv("PODVISOR_CGROUP_ROOT");
	char *dir =
		env != NULL && *env != '\0' ? xstrdup(env) : cgroup2_self_dir();
	size_t len;
	unsigned bit;
	char op[16];
	int r;

	if (dir == NULL)
		return 0;
	len = strlen(dir);
	if (len > 9 && strcmp(dir + len - 9, "/.control") == 0)
		dir[len - 9] = '\0';
	for (bit = 1; bit & CG2_ALL; bit <<= 1) {
		snprintf(op, sizeof(op), "-%s", cgroup2_controller_name(bit));
		r = cgroup2_write(dir, "cgroup.subtree_control", op);
		if (r < 0 && r != -EINVAL && r != -ENOENT)
			log_info("cgroups: %s in %s/cgroup.subtree_control: %s",
				op, dir, strerror(-r));
	}
	free(dir);
	return 0;
}

/* Write p's limits into dir: every file, also to lift an old limit. */
static int
cgroup_apply(struct pod *p, const char *dir, char **reterr_msg)
{
	const struct pod_limits *l = &p->limits;
	unsigned avail = p->d->cg->info.avail;
	int r = 0;

	if (avail & CG2_MEMORY) {
		r = cgroup_set(dir, "memory.max",
			l->memory > 0 ? l->memory : INT64_MAX, l->memory > 0,
			reterr_msg);
		if (r == 0)
			r = cgroup_set(dir, "memory.swap.max",
				cgroup_swap_effective(l), l->swap_set,
				reterr_msg);
	}
	if (r == 0 && (avail & CG2_PIDS))
		r = cgroup_set(dir, "pids.max",
			l->pids > 0 ? l->pids : INT64_MAX, l->pids > 0,
			reterr_msg);
	if (r == 0 && (avail & CG2_CPU))
		r = cgroup_set(dir, "cpu.weight",
			l->cpu_weight > 0 ? l->cpu_weight
					  : CGROUP_CPU_WEIGHT_DEFAULT,
			l->cpu_weight > 0, reterr_msg);
	return r;
}

int
cgroup_place(struct pod *p, pid_t pid, char **reterr_msg)
{
	char *dir = cgroup_pod_dir(p->d, p->name);
	char buf[24];
	int r;

	if (dir == NULL)
		return 0;
	snprintf(buf, sizeof(buf), "%d", (int)pid);
	r = cgroup2_write(dir, "cgroup.procs", buf);
	if (r < 0)
		*reterr_msg = xstrfmt("cannot put the worker in the cgroup "
				      "%s: %s",
			dir, strerror(-r));
	free(dir);
	return r;
}

struct json_object *
cgroup_start_json(const struct pod *p)
{
	char *dir = cgroup_pod_dir(p->d, p->name);
	struct json_object *o;

	if (dir == NULL)
		return NULL;
	o = json_object_new_object();
	json_object_object_add(o, "path", json_object_new_string(dir));
	if (p->limits.memory > 0)
		json_object_object_add(o, "memory_max",
			json_object_new_int64(p->limits.memory));
	if (p->limits.pids > 0)
		json_object_object_add(
			o, "pids_max", json_object_new_int64(p->limits.pids));
	free(dir);
	return o;
}

/* The cgroup path of pid (0:: line, below the mount), or NULL. */
static char *
cgroup_of_pid(pid_t pid)
{
	char path[64], buf[4096], *s;
	ssize_t n;

	snprintf(path, sizeof(path), "/proc/%d", (int)pid);
	if ((n = cgroup2_read(path, "cgroup", buf, sizeof(buf))) <= 0)
		return NULL;
	for (s = buf; s != NULL; s = strchr(s, '\n'), s = s ? s + 1 : s)
		if (strncmp(s, "0::", 3) == 0)
			return xstrndup(s + 3, strcspn(s + 3, "\n"));
	return NULL;
}

void
cgroup_reattached(struct pod *p)
{
	char *dir = cgroup_existing(p), *cur, *want, *err = NULL;
	const char *tail;

	if (dir == NULL || p->pid <= 0) {
		free(dir);
		return;
	}
	cur = cgroup_of_pid(p->pid);
	want = xstrfmt("/pod-%s", p->name);
	tail = cur != NULL && strlen(cur) >= strlen(want)
		? cur + strlen(cur) - strlen(want)
		: NULL;
	if (tail != NULL && strcmp(tail, want) == 0)
		log_info("pod %s: worker %d is in its cgroup %s", p->name,
			(int)p->pid, dir);
	else if (cgroup_place(p, p->pid, &err) == 0)
		log_warn("pod %s: worker %d was in %s; moved into %s", p->name,
			(int)p->pid, cur != NULL ? cur : "?", dir);
	else {
		log_warn("pod %s: %s", p->name, err);
		free(err);
		err = NULL;
	}
	/* The limits again: a --release-cgroup before this start lifted them. */
	if (cgroup_apply(p, dir, &err) < 0) {
		log_warn("pod %s: %s", p->name, err);
		free(err);
	}
	free(want);
	free(cur);
	free(dir);
}

bool
cgroup_kill(struct pod *p)
{
	char *dir = cgroup_existing(p);
	int r;

	if (dir == NULL)
		return false;
	r = cgroup2_write(dir, "cgroup.kill", "1");
	if (r < 0)
		log_warn("pod %s: cannot write %s/cgroup.kill: %s", p->name,
			dir, strerror(-r));
	free(dir);
	return r == 0;
}

void
cgroup_pod_exited(struct pod *p)
{
	char *dir = cgroup_existing(p);
	int64_t pop = 0, oom = 0;

	if (dir == NULL)
		return;
	if (cgroup2_read_int(dir, "memory.events", "oom_kill", &oom) == 0 &&
		oom > 0)
		log_notice("pod %s: %" PRId64 " process(es) killed by the OOM "
			   "killer in %s so far",
			p->name, oom, dir);
	/* Whatever its tools left (also outside its process groups). */
	if (cgroup2_read_int(dir, "cgroup.events", "populated", &pop) == 0 &&
		pop > 0 && cgroup2_write(dir, "cgroup.kill", "1") == 0)
		log_info("pod %s: killed what was left in %s", p->name, dir);
	free(dir);
}

void
cgroup_forget(struct daemon *d, const struct pod *p)
{
	char *dir = cgroup_pod_dir(d, p->name);

	if (dir == NULL)
		return;
	if (rmdir(dir) < 0 && errno != ENOENT) {
		if (errno == EBUSY)
			(void)cgroup2_write(dir, "cgroup.kill", "1");
		log_warn("pod %s: cannot remove its cgroup %s: %s", p->name,
			dir, strerror(errno));
	}
	free(dir);
}
