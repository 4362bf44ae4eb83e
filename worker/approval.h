/* SPDX-License-Identifier: ISC */
#ifndef WORKER_APPROVAL_H
#define WORKER_APPROVAL_H

#include <stdbool.h>
#include <stddef.h>

#include "common/approval_policy.h"

struct json_object;
struct worker;

/*
 * Approvals (docs/approvals.md): the gate every tool call passes.  A
 * call the pod's policy does not let through becomes a pending request,
 * logged (fsynced) as approval_request and broadcast; it runs only once
 * a client (approve on the pod socket) or the parent pod (answer_approval)
 * allows it.  Requests are durable: a restored worker replays them from
 * its session log and waits again.  The decision is logged as
 * approval_decision before the call starts, so nothing runs twice.
 */
struct approval;

/* Called once with the decision for a waiting call (reason may be NULL). */
typedef void (*approval_cb)(void *arg, bool allow, const char *reason);

enum approval_gate {
	APPROVAL_GATE_RUN, /* run it now */
	APPROVAL_GATE_WAIT, /* cb will be called */
	APPROVAL_GATE_DENY, /* refused now: *ret_reason (caller frees) */
};

/* From the start config's "approval" (may be absent: never). */
int approval_new(struct worker *w, struct json_object *start_params,
	struct approval **ret, char **reterr_msg);
void approval_free(struct approval *a);

/* Rebuild pending requests and allow_always rules from the session log. */
void approval_replay(struct approval *a);
/* The worker is ready: continue a turn that waited when it went down. */
void approval_started(struct approval *a);

/*
 * The gate: may tool call call_id (name, arguments JSON text) run?  WAIT
 * keeps (cb, arg) until the decision; approval_detach() forgets it.
 */
enum approval_gate approval_gate(struct approval *a, const char *call_id,
	const char *tool, const char *args, approval_cb cb, void *arg,
	char **ret_reason);
/* The call waiting with arg is gone (turn stopped): keep its request. */
void approval_detach(struct approval *a, void *arg);
/* Call call_id got a result another way (cancelled): withdraw it. */
void approval_withdraw(
	struct approval *a, const char *call_id, const char *reason);

/*
 * Decide request id: decision allow_once|allow_always|deny, by
 * client|parent|timeout.  Returns 0, -ENOENT (no such id), -EALREADY
 * (decided before) or -EINVAL (bad decision), with a sentence.
 */
int approval_decide(struct approval *a, const char *id, const char *decision,
	const char *reason, const char *by, char **reterr_msg);

/* Pending requests. */
size_t approval_npending(const struct approval *a);
/* Their approval_request data, oldest first (new array). */
struct json_object *approval_pending_json(const struct approval *a);
/* The policy in force (start config + allow_always rules). */
/*
 * Replace the policy with o ({policy, allow, timeout_s, ask}) and
 * broadcast approval_policy {…}; -EINVAL with a sentence if o is bad.
 */
int approval_set_policy(
	struct approval *a, const struct json_object *o, char **reterr_msg);
const struct approval_policy *approval_policy(const struct approval *a);

#endif
