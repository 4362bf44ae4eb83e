/* SPDX-License-Identifier: ISC */
/*
 * Registry check cost (common/scope.h component trie) with 100, 1,000 and
 * 10,000 write allocations in a realistic tree: rules like
 * /home/u/proj<i>/src/mod<j>[/sub<k>[/pkg<l>[/leaf<m>]]] (depth 5-8),
 * each owned by a pod.  Figures are ns per call, medians of repeated
 * runs; the baseline of each is the same call at 100 allocations, so a
 * ratio near 1 means the cost is flat as allocations grow.  A linear scan
 * of all rules (what a registry file without a trie does) is printed for
 * comparison.
 */
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "bench.h"
#include "common/scope.h"
#include "common/xmalloc.h"

#define NQUERY 4096
#define REPS 9

struct world {
	size_t n;
	struct scope_trie *trie;
	struct scope_rule *rules; /* the allocations */
	char **inside; /* paths beneath an allocation (depth 9-10) */
	struct scope_rule *sub; /* rules beneath an allocation */
	struct scope_rule *fresh; /* new rules overlapping nothing */
	struct scope_rule *wide; /* new rules overlapping many */
};

static unsigned long rng_state = 88172645463325252ul;

static unsigned long
rng(void)
{
	rng_state ^= rng_state << 13;
	rng_state ^= rng_state >> 7;
	rng_state ^= rng_state << 17;
	return rng_state;
}

/* Target of allocation i: 10 per project, depth 5 to 8. */
static char *
alloc_target(size_t i)
{
	size_t proj = i / 10, mod = i % 10, extra = i % 4;
	char buf[256];
	int n;

	n = snprintf(buf, sizeof(buf), "/home/u/proj%zu/src/mod%zu", proj, mod);
	if (extra >= 1)
		n += snprintf(
			buf + n, sizeof(buf) - (size_t)n, "/sub%zu", i % 7);
	if (extra >= 2)
		n += snprintf(
			buf + n, sizeof(buf) - (size_t)n, "/pkg%zu", i % 5);
	if (extra >= 3)
		snprintf(buf + n, sizeof(buf) - (size_t)n, "/leaf%zu", i % 3);
	return xstrdup(buf);
}

static struct scope_rule
mkrule(char *target, bool recursive)
{
	struct scope_rule r;

	r.target = target;
	r.perm = SCOPE_WRITE;
	r.recursive = recursive;
	r.deny = false;
	return r;
}

static void
world_build(struct world *w, size_t n)
{
	char buf[512];
	size_t i, k;

	w->n = n;
	w->trie = scope_trie_new();
	w->rules = xcalloc(n, sizeof(*w->rules));
	for (i = 0; i < n; i++) {
		w->rules[i] = mkrule(alloc_target(i), i % 3 != 2);
		/* owner: one pod per allocation (any distinct pointer) */
		scope_trie_add(w->trie, &w->rules[i], &w->rules[i]);
	}
	w->inside = xcalloc(NQUERY, sizeof(*w->inside));
	w->sub = xcalloc(NQUERY, sizeof(*w->sub));
	w->fresh = xcalloc(NQUERY, sizeof(*w->fresh));
	w->wide = xcalloc(NQUERY, sizeof(*w->wide));
	for (k = 0; k < NQUERY; k++) {
		/* queries beneath an allocation pick a recursive one */
		i = rng() % n;
		i -= i % 3 == 2;
		snprintf(buf, sizeof(buf), "%s/lib/file%zu.c",
			w->rules[i].target, k);
		w->inside[k] = xstrdup(buf);
		i = rng() % n;
		i -= i % 3 == 2;
		snprintf(buf, sizeof(buf), "%s/gen%zu", w->rules[i].target, k);
		w->sub[k] = mkrule(xstrdup(buf), true);
		/* a sibling module nobody holds: must search and find none */
		i = rng() % n;
		snprintf(buf, sizeof(buf), "/home/u/proj%zu/src/new%zu/x",
			i / 10, k);
		w->fresh[k] = mkrule(xstrdup(buf), true);
		/* a whole project: overlaps its allocations (stop at first) */
		snprintf(buf, sizeof(buf), "/home/u/proj%zu", i / 10);
		w->wide[k] = mkrule(xstrdup(buf), true);
	}
}

static void
world_free(struct world *w)
{
	size_t i;

	scope_trie_free(w->trie);
	for (i = 0; i < w->n; i++)
		free(w->rules[i].target);
	for (i = 0; i < NQUERY; i++) {
		free(w->inside[i]);
		free(w->sub[i].target);
		free(w->fresh[i].target);
		free(w->wide[i].target);
	}
	free(w->rules);
	free(w->inside);
	free(w->sub);
	free(w->fresh);
	free(w->wide);
}

static int
stop_cb(const struct scope_rule *found, const void *owner, void *arg)
{
	(*(size_t *)arg)++;
	return 1; /* a conflict: the daemon stops at the first */
}

static int
all_cb(const struct scope_rule *found, const void *owner, void *arg)
{
	(*(size_t *)arg)++;
	return 0;
}

static volatile size_t sink;

enum op { OP_CHECK, OP_COVERS, OP_MISS, OP_HIT, OP_LINEAR, OP_COUNT };
static const char *op_names[] = { "check", "covers", "overlap_miss",
	"overlap_hit", "linear_scan" };

/* ns per call of op over the query set, median of REPS. */
static double
measure(const struct world *w, enum op op)
{
	double t[REPS], t0;
	size_t k, j, iters, hits = 0;
	int rep;

	iters = op == OP_LINEAR ? (w->n >= 10000 ? 256 : 2048) : 65536;
	for (rep = 0; rep < REPS; rep++) {
		t0 = bench_now();
		for (j = 0; j < iters; j++) {
			k = j % NQUERY;
			switch (op) {
			case OP_CHECK:
				hits += scope_trie_check(w->trie, w->inside[k]);
				break;
			case OP_COVERS:
				hits += scope_trie_covers(w->trie, &w->sub[k]);
				break;
			case OP_MISS:
				hits += (size_t)scope_trie_foreach_overlap(
					w->trie, &w->fresh[k], SCOPE_WRITE,
					stop_cb, &hits);
				break;
			case OP_HIT:
				hits += (size_t)scope_trie_foreach_overlap(
					w->trie, &w->wide[k], SCOPE_WRITE,
					stop_cb, &hits);
				break;
			case OP_LINEAR:
				for (size_t i = 0; i < w->n; i++)
					hits += scope_rules_overlap(
						&w->rules[i], &w->fresh[k]);
				break;
			case OP_COUNT:
				break;
			}
		}
		t[rep] = (bench_now() - t0) * 1e9 / (double)iters;
	}
	sink += hits;
	return bench_median(t, REPS);
}

int
main(void)
{
	static const size_t sizes[] = { 100, 1000, 10000 };
	double base[OP_COUNT], v;
	struct world w;
	size_t si, hits = 0;
	char label[64];
	int op;

	for (si = 0; si < 3; si++) {
		world_build(&w, sizes[si]);
		hits = 0;
		/* sanity: the queries do what their names say */
		if (scope_trie_check(w.trie, w.inside[0]) != SCOPE_WRITE ||
			!scope_trie_covers(w.trie, &w.sub[0]) ||
			scope_trie_foreach_overlap(w.trie, &w.fresh[0],
				SCOPE_WRITE, all_cb, &hits) != 0 ||
			hits != 0 ||
			scope_trie_foreach_overlap(w.trie, &w.wide[0],
				SCOPE_WRITE, stop_cb, &hits) != 1) {
			fprintf(stderr, "bench_registry: queries are wrong\n");
			return 1;
		}
		for (op = 0; op < OP_COUNT; op++) {
			v = measure(&w, (enum op)op);
			if (si == 0)
				base[op] = v;
			snprintf(label, sizeof(label), "registry_%s_%zu",
				op_names[op], sizes[si]);
			bench_print(label, v, "ns/op", base[op]);
		}
		world_free(&w);
	}
	return sink == 42;
}
