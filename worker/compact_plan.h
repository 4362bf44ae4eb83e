/* SPDX-License-Identifier: ISC */
#ifndef WORKER_COMPACT_PLAN_H
#define WORKER_COMPACT_PLAN_H

#include <stddef.h>
#include <stdint.h>

struct json_object;

/*
 * What one compaction does to a segment's entries (PROTOCOL.md §2a),
 * independent of the worker: where the verbatim tail starts (never
 * between a tool call and its result), which older entries go into the
 * summarising request, and the request itself.
 */
struct compact_plan {
	size_t cut; /* first entry kept verbatim */
	size_t from; /* first entry summarised (≥ 1) */
	size_t nentries; /* entries when planned */
	int64_t tail_tokens;
	int64_t older_tokens;
	struct json_object *request; /* entries of the summary request */
	char *last_user; /* last user request if not in the tail, or NULL */
};

/* Tool outputs are cut to this in the summary request. */
#define COMPACT_PLAN_OUTPUT_MAX 4096

/*
 * Plan a compaction of entries (entry 0 is segment_start): keep the
 * newest retain_tokens verbatim, summarise at most budget_tokens of what
 * comes before (older entries beyond are left out), instruction
 * (optional) is appended to the summarising prompt.  -ENODATA with a
 * sentence when there is nothing older than the tail to summarise.
 */
int compact_plan_make(struct json_object *entries, int64_t retain_tokens,
	int64_t budget_tokens, const char *instruction,
	struct compact_plan *ret, char **reterr_msg);
void compact_plan_clear(struct compact_plan *p);

/* The system prompt of the summarising request (static). */
const char *compact_plan_system(void);

/*
 * The segment summary: the model's text, plus the last user request
 * verbatim when the tail does not hold it.  Caller frees.
 */
char *compact_plan_summary(const struct compact_plan *p, const char *text);

#endif
