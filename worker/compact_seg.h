/* SPDX-License-Identifier: ISC */
#ifndef WORKER_COMPACT_SEG_H
#define WORKER_COMPACT_SEG_H

#include <stddef.h>

struct json_object;

/*
 * The segment switch of a compaction (PROTOCOL.md §2a, §4).  The new
 * segment is written whole to a temporary file, fsynced, renamed to
 * <dir>/<segment>.jsonl and the directory fsynced: before the rename the
 * old segment is the pod's newest, after it the new one.  The old
 * segment is never touched.  On restore the worker follows the chain of
 * segment_start.compacted_from links from the segment it was given to
 * the newest one.
 */

struct compact_seg {
	const char *dir;
	const char *session_id;
	const char *segment; /* the new segment's id */
	const char *compacted_from;
	const char *model;
	const char *system;
	const char *summary;
	struct json_object *usage_total; /* the pod's totals, borrowed */
};

/*
 * Write the new segment: segment_start (with compacted_from and summary),
 * then entries[from..] except usage entries (their figures describe the
 * old context).  Returns 0 or -errno with a sentence.
 */
int compact_seg_write(const struct compact_seg *cs, struct json_object *entries,
	size_t from, char **reterr_msg);

struct session;

/*
 * The whole switch: write the new segment (entries of *sessionp from
 * cut), open it, free the old session and give its memory back to the
 * system; *sessionp is the new session on success.  On failure the old
 * session stays and the new file is removed.  -errno with a sentence.
 */
int compact_seg_switch(const struct compact_seg *cs, struct session **sessionp,
	size_t cut, char **reterr_msg);

/*
 * Tune malloc so that a freed history goes back to the system quickly:
 * no fast bins (their chunks would stay unmerged until a trim walks them
 * all).  Called once at start-up.
 */
void compact_seg_tune_malloc(void);

/*
 * The newest segment of the chain starting at segment in dir, or NULL if
 * segment has no successor.  Caller frees.
 */
char *compact_seg_resolve(const char *dir, const char *segment);

/* Remove temporary segment files a crash left in dir. */
void compact_seg_cleanup(const char *dir);

#endif
