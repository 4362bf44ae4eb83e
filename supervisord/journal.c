/* SPDX-License-Identifier: ISC */
#include <errno.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <event2/event.h>
#include <json-c/json.h>

#include "common/atomicfile.h"
#include "common/clock.h"
#include "common/log.h"
#include "common/scope.h"
#include "common/xmalloc.h"
#include "proto/msg.h"
#include "supervisord/daemon.h"
#include "supervisord/journal.h"
#include "supervisord/summary.h"

#define JOURNAL_MAX_FILE (64u * 1024u * 1024u)

/* Snapshot of the registry and the restart counters. */
struct json_object *
journal_to_json(struct daemon *d)
{
	struct json_object *o = json_object_new_object();
	struct json_object *reg = json_object_new_array();
	struct json_object *rs = json_object_new_object();
	struct pod *p;
	int i;

	json_object_object_add(o, "version", json_object_new_int(1));
	json_object_object_add(o, "pid", json_object_new_int(getpid()));
	json_object_object_add(
		o, "written_ms", json_object_new_int64(clock_now_ms()));
	TAILQ_FOREACH(p, &d->pods, entry)
	{
		struct json_object *e, *crashes;

		if (p->reserved) {
			e = json_object_new_object();
			json_object_object_add(
				e, "pod", json_object_new_string(p->name));
			json_object_object_add(
				e, "pid", json_object_new_int(p->pid));
			json_object_object_add(
				e, "rules", scope_rules_to_json(&p->granted));
			json_object_array_add(reg, e);
		}
		if (p->status == POD_CORRUPT)
			continue;
		e = json_object_new_object();
		json_object_object_add(
			e, "count", json_object_new_int(p->restart_count));
		crashes = json_object_new_array();
		for (i = 0; i < p->ncrash; i++)
			json_object_array_add(
				crashes, json_object_new_int64(p->crash_ms[i]));
		json_object_object_add(e, "crashes", crashes);
		json_object_object_add(rs, p->name, e);
	}
	json_object_object_add(o, "registry", reg);
	json_object_object_add(o, "restarts", rs);
	return o;
}

/*
 * One pod's part of the journal: its registry entry (if reserved) and
 * its restarts entry (unless corrupt), with the fields they were made
 * from.  With 1,000 pods the journal is rebuilt on every spawn; only the
 * pods whose fields changed are formatted again, and an unchanged
 * journal is recognised without formatting (or hashing) anything.
 */
struct journal_cache {
	bool reserved, corrupt;
	pid_t pid;
	int restart_count, ncrash;
	int64_t crash_ms[5];
	struct scope_rules granted;
	struct textbuf reg; /* {"pod":…} or empty */
	struct textbuf rst; /* "name":{…} or empty */
};

/* Free p's cached journal text (pod_free()). */
void
journal_pod_free(struct pod *p)
{
	struct journal_cache *jc = p->jcache;

	if (jc == NULL)
		return;
	scope_rules_clear(&jc->granted);
	free(jc->reg.s);
	free(jc->rst.s);
	free(jc);
	p->jcache = NULL;
}

static bool
journal_rules_equal(const struct scope_rules *a, const struct scope_rules *b)
{
	size_t i;

	if (a->n != b->n)
		return false;
	for (i = 0; i < a->n; i++) {
		if (a->v[i].perm != b->v[i].perm ||
			a->v[i].recursive != b->v[i].recursive ||
			a->v[i].deny != b->v[i].deny ||
			strcmp(a->v[i].target, b->v[i].target) != 0)
			return false;
	}
	return true;
}

static void
journal_shrink(struct textbuf *tb)
{
	if (tb->s == NULL || tb->cap <= tb->len + 1)
		return;
	tb->s = xreallocarray(tb->s, tb->len + 1, 1);
	tb->cap = tb->len + 1;
}

/* Bring p's cached text up to date; true if it changed. */
static bool
journal_cache_update(struct pod *p)
{
	struct journal_cache *jc = p->jcache;
	bool corrupt = p->status == POD_CORRUPT;
	char num[48];
	int i, ncrash = p->ncrash < 0 ? 0 : p->ncrash > 5 ? 5 : p->ncrash;

	if (jc != NULL && jc->reserved == p->reserved &&
		jc->corrupt == corrupt && jc->pid == p->pid &&
		jc->restart_count == p->restart_count &&
		jc->ncrash == p->ncrash &&
		memcmp(jc->crash_ms, p->crash_ms,
			(size_t)ncrash * sizeof(jc->crash_ms[0])) == 0 &&
		(!p->reserved ||
			journal_rules_equal(&jc->granted, &p->granted)))
		return false;
	if (jc == NULL)
		jc = p->jcache = xcalloc(1, sizeof(*jc));
	jc->reserved = p->reserved;
	jc->corrupt = corrupt;
	jc->pid = p->pid;
	jc->restart_count = p->restart_count;
	jc->ncrash = p->ncrash;
	memcpy(jc->crash_ms, p->crash_ms,
		(size_t)ncrash * sizeof(jc->crash_ms[0]));
	scope_rules_clear(&jc->granted);
	jc->reg.len = jc->rst.len = 0;
	if (p->reserved) {
		scope_rules_copy(&jc->granted, &p->granted);
		textbuf_puts(&jc->reg, "{\"pod\":");
		textbuf_json_str(&jc->reg, p->name);
		snprintf(num, sizeof(num), ",\"pid\":%d", (int)p->pid);
		textbuf_puts(&jc->reg, num);
		summary_rules(&jc->reg, ",\"rules\":", &p->granted);
		textbuf_add(&jc->reg, "}", 1);
	}
	if (!corrupt) {
		textbuf_json_str(&jc->rst, p->name);
		snprintf(num, sizeof(num), ":{\"count\":%d,\"crashes\":[",
			p->restart_count);
		textbuf_puts(&jc->rst, num);
		for (i = 0; i < p->ncrash; i++) {
			snprintf(num, sizeof(num), "%s%lld", i > 0 ? "," : "",
				(long long)p->crash_ms[i]);
			textbuf_puts(&jc->rst, num);
		}
		textbuf_puts(&jc->rst, "]}");
	}
	/* A textbuf starts at 4 KiB: keep 1,000 pods' parts small. */
	journal_shrink(&jc->reg);
	journal_shrink(&jc->rst);
	return true;
}

/*
 * The journal's body (everything after "written_ms") as text, or false
 * if it is the body last written.
 */
static bool
journal_body(struct daemon *d, struct textbuf *tb)
{
	struct pod *p;
	bool first = true, changed = !d->journal_written;
	size_t n = 0;

	TAILQ_FOREACH(p, &d->pods, entry)
	{
		if (journal_cache_update(p))
			changed = true;
		n++;
	}
	/* Pods only ever join at the tail; one that left changes n. */
	if (n != d->journal_npods)
		changed = true;
	if (!changed)
		return false;
	d->journal_npods = n;
	textbuf_puts(tb, ",\"registry\":[");
	TAILQ_FOREACH(p, &d->pods, entry)
	{
		if (p->jcache->reg.len == 0)
			continue;
		if (!first)
			textbuf_add(tb, ",", 1);
		first = false;
		textbuf_add(tb, p->jcache->reg.s, p->jcache->reg.len);
	}
	textbuf_puts(tb, "],\"restarts\":{");
	first = true;
	TAILQ_FOREACH(p, &d->pods, entry)
	{
		if (p->jcache->rst.len == 0)
			continue;
		if (!first)
			textbuf_add(tb, ",", 1);
		first = false;
		textbuf_add(tb, p->jcache->rst.s, p->jcache->rst.len);
	}
	textbuf_puts(tb, "}}\n");
	return true;
}

/* Write the journal now if its content changed since the last write. */
void
journal_flush(struct daemon *d)
{
	struct textbuf body = { 0 }, tb = { 0 };
	char head[96];
	int r;

	d->journal_dirty = false;
	if (!journal_body(d, &body))
		return;
	d->journal_written = false;
	snprintf(head, sizeof(head),
		"{\"version\":1,\"pid\":%d,\"written_ms\":%lld", (int)getpid(),
		(long long)clock_now_ms());
	textbuf_puts(&tb, head);
	textbuf_add(&tb, body.s, body.len);
	free(body.s);
	r = atomicfile_write(d->paths.supervisor_json, tb.s, tb.len, 0600);
	free(tb.s);
	if (r < 0)
		log_err("cannot write %s: %s", d->paths.supervisor_json,
			strerror(-r));
	else
		d->journal_written = true; /* the content without written_ms */
}

static void
journal_deferred_cb(evutil_socket_t fd, short what, void *arg)
{
	(void)fd;
	(void)what;
	if (((struct daemon *)arg)->journal_dirty)
		journal_flush(arg);
}

/*
 * Mark the journal dirty; it is rewritten once, on the next loop
 * iteration (a zero timer: after the poll that sends what this iteration
 * queued, e.g. a start request, so that a new worker starts up while the
 * journal is written), however many state changes came before.
 *
 * Why deferring is safe: supervisor.json is a snapshot derived from the
 * pods (their reservations and crash times), never the authority.  A
 * restarted daemon rebuilds the registry from the pod state files (each
 * written durably before the daemon acts on a change) and the
 * re-attaching workers; it reads back only the crash times, which steer
 * the "5 crashes in 60 s" give-up and at worst miss the crash of the
 * iteration in progress.  Replies about a pod's lifecycle (spawned,
 * restored, stopped and their errors, all sent by waiter_reply() and
 * waiter_error()) flush a dirty journal first, so a client that saw
 * "spawned" or "stopped" also sees the journal that matches it.
 */
void
journal_write(struct daemon *d)
{
	static const struct timeval now = { 0, 0 };

	d->journal_dirty = true;
	if (d->base == NULL) {
		journal_flush(d);
		return;
	}
	if (d->journal_ev == NULL)
		d->journal_ev = evtimer_new(d->base, journal_deferred_cb, d);
	if (!evtimer_pending(d->journal_ev, NULL))
		evtimer_add(d->journal_ev, &now);
}

/* Flush a pending write and free the journal's runtime state. */
void
journal_close(struct daemon *d)
{
	if (d->journal_dirty)
		journal_flush(d);
	if (d->journal_ev != NULL)
		event_free(d->journal_ev);
	d->journal_ev = NULL;
}

/* Load the restart counters of the journal into the pods. */
int
journal_load(struct daemon *d)
{
	struct json_object *o, *rs, *v;
	char *buf = NULL, *err = NULL;
	size_t len;
	struct pod *p;
	int r;

	r = atomicfile_read(
		d->paths.supervisor_json, JOURNAL_MAX_FILE, &buf, &len);
	if (r == -ENOENT)
		return 0;
	if (r < 0)
		return r;
	o = msg_parse_json(buf, len, &err);
	free(buf);
	if (o == NULL) {
		log_warn("%s is unreadable (%s); restart counters reset",
			d->paths.supervisor_json, err != NULL ? err : "?");
		free(err);
		return -EINVAL;
	}
	if (json_object_object_get_ex(o, "restarts", &rs) &&
		json_object_is_type(rs, json_type_object)) {
		TAILQ_FOREACH(p, &d->pods, entry)
		{
			struct json_object *e, *cr;
			size_t i, n;

			if (p->status == POD_CORRUPT ||
				!json_object_object_get_ex(rs, p->name, &e) ||
				!json_object_is_type(e, json_type_object))
				continue;
			if (!json_object_object_get_ex(e, "crashes", &cr) ||
				!json_object_is_type(cr, json_type_array))
				continue;
			n = json_object_array_length(cr);
			for (i = 0; i < n && p->ncrash < 5; i++) {
				v = json_object_array_get_idx(cr, i);
				p->crash_ms[p->ncrash++] =
					json_object_get_int64(v);
			}
		}
	}
	json_object_put(o);
	return 0;
}
