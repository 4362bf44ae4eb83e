/* SPDX-License-Identifier: ISC */
#ifndef WORKER_SPEND_H
#define WORKER_SPEND_H

#include <stdbool.h>
#include <stdint.h>

#include "worker/provider.h"

struct json_object;
struct msg;
struct worker;

/*
 * Token accounting and the budget gate of one pod (docs/budgets.md).
 * Totals: every provider call's usage is added to the pod's totals and
 * to the current turn's.  They are durable in the session log (usage
 * entries, and segment_start "usage_total" carries the totals of the
 * segments before it across a compaction) and in podvisord's pod state,
 * which each call reports to (worker channel event usage {total}); on
 * start the worker takes the larger of the two, field by field.
 *
 * Budget: podvisord holds the remaining tokens and tells the worker
 * (start "budget", event "budget") as {remaining, cost}: remaining as of
 * when its figures held cost tokens of the pod's own spending; the
 * worker's own remaining is that minus what it spent since.  A call
 * costs input_tokens + output_tokens.
 */
struct spend;

/*
 * Set up from the start params ("usage", "budget"; both optional) and
 * the session log of w (open), then report the totals.
 */
struct spend *spend_new(struct worker *w, struct json_object *params);
void spend_free(struct spend *s);

/* A run starts: the turn's totals start at zero. */
void spend_turn_begin(struct spend *s);
/* One call's usage: into the pod's and the turn's totals; reported. */
void spend_add(struct spend *s, const struct token_usage *u);
/* Send the pod's totals to podvisord (event usage {total}). */
void spend_report(struct spend *s);

/*
 * True if the budget allows a request of about tokens input tokens
 * (always without a budget).  *ret_remaining: what is left (-1: none).
 */
bool spend_allows(
	const struct spend *s, int64_t tokens, int64_t *ret_remaining);

/* The event budget {remaining, cost} (or {budget: null}) from podvisord. */
void spend_budget_event(struct spend *s, struct msg *m);

/* run_end / turn_ended: add "usage" (this turn) and "usage_pod". */
void spend_turn_fields(const struct spend *s, struct json_object *o);
/* The pod's totals (new reference), for segment_start "usage_total". */
struct json_object *spend_pod_json(const struct spend *s);
/* Snapshot / pod detail: "usage" and "budget" {remaining} if set. */
void spend_snapshot_fields(const struct spend *s, struct json_object *o);

#endif
