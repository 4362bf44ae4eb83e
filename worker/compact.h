/* SPDX-License-Identifier: ISC */
#ifndef WORKER_COMPACT_H
#define WORKER_COMPACT_H

#include <stdbool.h>
#include <stdint.h>

struct json_object;
struct worker;
struct compact;

/*
 * Context compaction of a pod (PROTOCOL.md §2a): token accounting, the
 * threshold checks of the turn loop, the summarising model call and the
 * switch to a new segment.  A compaction never runs beside a model
 * request of the turn: a request that comes due meanwhile waits and is
 * sent when the compaction ends, on the new segment or (after a failure)
 * on the old one.
 */

/* The start config's "compaction" object. */
struct compact_config {
	bool enabled; /* default true */
	double threshold; /* of the window, default 0.8 */
	int64_t retain_tokens; /* kept verbatim, default 8000 */
	char *model; /* summary model, NULL = the pod's */
};

/* Parse obj (NULL = all defaults). -EINVAL with a sentence. */
int compact_config_from_json(
	struct json_object *obj, struct compact_config *ret, char **reterr_msg);
void compact_config_clear(struct compact_config *cc);

/*
 * Set up w->compact from the start params, remove temporary files an
 * interrupted compaction left, and move w->segment_cfg to the newest
 * segment of its compaction chain.  -EINVAL with a sentence.
 */
int compact_setup(
	struct worker *w, struct json_object *params, char **reterr_msg);
/* Cancel a running summary call and free. NULL-safe. */
void compact_free(struct compact *c);

/* The context tokens of the next request (PROTOCOL.md §2a). */
int64_t compact_context_tokens(struct worker *w);

/* Add context_tokens and context_window to a usage event's data. */
void compact_usage_fields(struct worker *w, struct json_object *data);

/*
 * Called before each model request of a turn: true if the request must
 * wait (a compaction runs, or one was just started because the context
 * is over the threshold); the turn's request is scheduled again when the
 * compaction ends.
 */
bool compact_before_request(struct worker *w);

/*
 * The provider rejected the turn's request as too long: true if a
 * compaction started and the request will be retried once after it.
 */
bool compact_on_overflow(struct worker *w);

/*
 * A client's compact request (the pod is idle or paused): the compaction
 * starts from the event loop; -EBUSY if one is already running.
 */
int compact_manual(
	struct worker *w, const char *instruction, char **reterr_msg);

#endif
