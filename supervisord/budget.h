/* SPDX-License-Identifier: ISC */
#ifndef SUPERVISORD_BUDGET_H
#define SUPERVISORD_BUDGET_H

#include <stdbool.h>
#include <stdint.h>

#include "common/tokens.h"

struct conn;
struct daemon;
struct json_object;
struct msg;
struct pod;
struct textbuf;

/*
 * Token accounting and budgets (docs/budgets.md).  podvisord is the
 * durable authority: a pod's own usage totals (reported by its worker
 * after every provider call, cumulative) and its budget live in its pod
 * state.  A budget is tokens granted in all, spent (own calls since the
 * budget was set) and remaining; a child's budget is carved out of its
 * parent's remaining at spawn (a child of a budgeted pod always has
 * one) and what it did not spend goes back to that parent when it
 * ends.  A call costs input_tokens + output_tokens.
 */

/* struct pod's durable accounting. */
struct pod_budget {
	struct token_usage usage; /* the pod's own totals */
	bool set; /* a budget applies */
	int64_t tokens; /* granted in all */
	int64_t spent; /* by its own calls, since the budget was set */
	int64_t remaining;
	char *from; /* the pod it was carved out of (NULL: none) */
};

/* Free what b holds (from). */
void budget_clear(struct pod_budget *b);

/*
 * The spawn / spawn_pod parameter "budget_tokens" (and the config's
 * default): fill b for a pod that viewer (NULL: the user) spawns.  A
 * refusal is sent on c (not_subset naming the field when the parent has
 * less left; invalid_request for a bad value) and returns -1.
 */
int budget_spawn_params(struct daemon *d, const struct pod *viewer,
	struct conn *c, const struct msg *m, struct pod_budget *b);
/* The spawn went through: take child's budget out of its parent's. */
void budget_carve(struct pod *parent, struct pod *child);
/* p ended (stopped, failed, forgotten): its unspent goes back. */
void budget_return(struct pod *p);

/* Worker event usage {total}: the pod's cumulative own totals. */
void budget_worker_usage(struct pod *p, struct msg *m);

/* Start params: "usage" and "budget" {remaining, cost}. */
void budget_start_config(const struct pod *p, struct json_object *o);

/* Pod state: "usage", "budget" (absent: zeros, none). */
void budget_to_state(const struct pod *p, struct json_object *o);
int budget_from_state(struct pod *p, struct json_object *o, char **reterr_msg);

/* pod-summary: "usage", "usage_total" and "budget" when set. */
void budget_summary(
	struct daemon *d, const struct pod *p, struct json_object *o);
void budget_summary_text(
	struct daemon *d, const struct pod *p, struct textbuf *tb);

/*
 * set_budget {name, tokens? | add?} from viewer (NULL: the user): a
 * pod's budget set to tokens in all, or add more (negative: take back).
 * A grant to a child comes out of the pod it was carved from.  Replies
 * budget_set {name, budget}.
 */
void budget_set(
	struct daemon *d, struct pod *viewer, struct conn *c, struct msg *m);

#endif
