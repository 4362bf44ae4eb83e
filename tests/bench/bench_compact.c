/* SPDX-License-Identifier: ISC */
/*
 * Context compaction cost (worker/compact_plan.h, compact_seg.h) on the
 * disk of DIR (argv[1], default $TMPDIR or /var/tmp), the model call
 * excluded:
 *   compact_100k_ms        ms to plan the compaction of a 100,000-entry
 *                          history, write the new segment (tmp + fsync +
 *                          rename + fsync dir), reopen it and free the old
 *                          history; baseline: replaying the same 100,000
 *                          entries with session_restore (a pod restart).
 *                          Target < 200 ms.
 *   compact_rss_before_kb  RSS with the 100,000 entries in memory;
 *                          baseline: a fresh pod's (the worker's
 *                          libraries set up and an empty segment open).
 *   compact_rss_after_kb   RSS after the compaction (the kept tail still
 *                          in memory); baseline: the fresh pod's.  Target
 *                          ratio ≤ 1.10.
 * Medians of repeated runs (each on a history built afresh).
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <event2/event.h>
#include <json-c/json.h>

#include "bench.h"
#include "common/xmalloc.h"
#include "worker/compact_plan.h"
#include "worker/compact_seg.h"
#include "worker/curlfn.h"
#include "worker/http.h"
#include "worker/session.h"

#define ENTRIES 100000
#define REPS 5
#define RETAIN 8000
#define BUDGET 90000

static const char *lorem =
	"I looked at conn.c: the read callback drains every complete line, "
	"then checks the remaining buffer length against the line limit, so "
	"a line without a newline can no longer stall the connection.";

static long
rss_kb(void)
{
	long pages = 0, rss = 0;
	FILE *f = fopen("/proc/self/statm", "r");

	if (f == NULL)
		return 0;
	if (fscanf(f, "%ld %ld", &pages, &rss) != 2)
		rss = 0;
	fclose(f);
	return rss * (sysconf(_SC_PAGESIZE) / 1024);
}

/* A realistic mix: user, assistant with a call, its result, text. */
static struct json_object *
make_entry(unsigned i)
{
	struct json_object *e, *calls, *call, *segs, *seg;
	char id[32];

	snprintf(id, sizeof(id), "call_%08u", i / 4);
	switch (i % 4) {
	case 0:
		e = session_entry_new("user_input");
		seg = json_object_new_object();
		json_object_object_add(
			seg, "kind", json_object_new_string("text"));
		json_object_object_add(
			seg, "content", json_object_new_string(lorem));
		segs = json_object_new_array();
		json_object_array_add(segs, seg);
		json_object_object_add(e, "segments", segs);
		return e;
	case 1:
		e = session_entry_new("assistant");
		calls = json_object_new_array();
		call = json_object_new_object();
		json_object_object_add(call, "id", json_object_new_string(id));
		json_object_object_add(
			call, "name", json_object_new_string("read"));
		json_object_object_add(call, "arguments",
			json_object_new_string("{\"path\":\"src/conn.c\"}"));
		json_object_array_add(calls, call);
		json_object_object_add(e, "tool_calls", calls);
		return e;
	case 2:
		e = session_entry_new("tool_result");
		json_object_object_add(e, "id", json_object_new_string(id));
		json_object_object_add(
			e, "summary", json_object_new_string("read 40 lines"));
		json_object_object_add(
			e, "output", json_object_new_string(lorem));
		json_object_object_add(
			e, "is_error", json_object_new_boolean(0));
		return e;
	default:
		e = session_entry_new("assistant");
		json_object_object_add(
			e, "text", json_object_new_string(lorem));
		return e;
	}
}

static struct session *
build(const char *dir, const char *seg)
{
	struct session *s;
	char *err = NULL;
	unsigned i;

	if (session_create(dir, "bench", seg, "m", "system", &s, &err) < 0) {
		fprintf(stderr, "bench_compact: %s\n", err);
		exit(1);
	}
	for (i = 0; i < ENTRIES; i++)
		(void)session_append(s, make_entry(i), false);
	return s;
}

static void
bench_die(const char *what, char *err)
{
	fprintf(stderr, "bench_compact: %s: %s\n", what, err ? err : "?");
	exit(1);
}

/* One compaction of s into segment next; returns ms, s replaced. */
static double
bench_compact_once(const char *dir, struct session **s, const char *next)
{
	struct compact_plan p = { 0 };
	struct compact_seg cs = { 0 };
	char *err = NULL;
	double t0;
	size_t cut;

	t0 = bench_now();
	if (compact_plan_make(
		    session_entries(*s), RETAIN, BUDGET, NULL, &p, &err) < 0)
		bench_die("plan", err);
	/* Here the worker sends p.request to the model: not measured. */
	cut = p.cut;
	compact_plan_clear(&p);
	cs.dir = dir;
	cs.session_id = "bench";
	cs.segment = next;
	cs.compacted_from = session_segment(*s);
	cs.model = "m";
	cs.system = "system";
	cs.summary = "a summary of everything before the kept tail";
	if (compact_seg_switch(&cs, s, cut, &err) < 0)
		bench_die("switch", err);
	return (bench_now() - t0) * 1000;
}

int
main(int argc, char **argv)
{
	double tc[REPS], tr[REPS], rb[REPS], ra[REPS], t0;
	const char *base = argc > 1 ? argv[1] : getenv("TMPDIR");
	struct session *s, *fresh;
	struct event_base *evbase;
	struct http *http;
	char *dir, *err = NULL, *cmd, seg[32], next[32];
	double rss_fresh;
	int k;

	dir = xstrfmt("%s/bench_compact.XXXXXX", base ? base : "/var/tmp");
	if (mkdtemp(dir) == NULL) {
		perror("mkdtemp");
		return 1;
	}
	/*
	 * A fresh pod: the worker's libraries set up (libevent, libcurl,
	 * malloc tuned as compact_setup() does) and an empty segment open.
	 */
	compact_seg_tune_malloc();
	if (curlfn_load(&err) < 0) /* a pod that has called its provider */
		bench_die("libcurl", err);
	evbase = event_base_new();
	http = http_new(evbase);
	if (session_create(dir, "bench", "fresh", "m", "system", &fresh, &err) <
		0)
		bench_die("create", err);
	rss_fresh = (double)rss_kb();
	for (k = 0; k < REPS; k++) {
		snprintf(seg, sizeof(seg), "old%d", k);
		snprintf(next, sizeof(next), "new%d", k);
		s = build(dir, seg);
		rb[k] = (double)rss_kb();
		tc[k] = bench_compact_once(dir, &s, next);
		ra[k] = (double)rss_kb();
		session_free(s);
		/* The baseline: replaying the same 100,000 entries. */
		t0 = bench_now();
		if (session_restore(dir, "bench", seg, &s, NULL, &err) < 0)
			bench_die("restore", err);
		tr[k] = (bench_now() - t0) * 1000;
		session_free(s);
	}
	bench_print("compact_100k_ms", bench_median(tc, REPS), "ms",
		bench_median(tr, REPS));
	bench_print("compact_rss_before_kb", bench_median(rb, REPS), "KiB",
		rss_fresh);
	bench_print("compact_rss_after_kb", bench_median(ra, REPS), "KiB",
		rss_fresh);
	session_free(fresh);
	http_free(http);
	event_base_free(evbase);
	curlfn_unload();
	cmd = xstrfmt("rm -rf '%s'", dir);
	if (system(cmd) != 0)
		fprintf(stderr, "bench_compact: cannot remove %s\n", dir);
	free(cmd);
	free(dir);
	return 0;
}
