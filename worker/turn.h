/* SPDX-License-Identifier: ISC */
#ifndef WORKER_TURN_H
#define WORKER_TURN_H

#include <stdbool.h>

struct conn;
struct json_object;
struct msg;
struct worker;
struct turn;

/*
 * The turn loop (PROTOCOL.md §2): input → committed user_input or
 * system_item → model request → streamed events → assistant entry →
 * tool calls → tool results → next request, until the model stops
 * calling tools or max_turns requests were made.  Every turn that starts
 * ends with exactly one run_end, then a status event.
 */

enum turn_status {
	TURN_IDLE,
	TURN_RUNNING,
	TURN_PAUSED,
};

struct turn *turn_new(struct worker *w);
void turn_free(struct turn *t);

enum turn_status turn_status(const struct turn *t);
const char *turn_status_name(enum turn_status status);

/*
 * Start a user turn with input (array of segments, borrowed).  -EBUSY if
 * running, -EINVAL with a sentence if the input is malformed.
 */
int turn_run(struct turn *t, struct json_object *input, char **reterr_msg);
/* Queue a notification; starts a turn when idle. -EBUSY if too many. */
int turn_notify(struct turn *t, const char *message);
/* -ENOENT when not running. */
int turn_cancel(struct turn *t);
/* -ENOENT when idle; 0 (no-op) when already paused. */
int turn_pause(struct turn *t);
/* -ENOENT when not paused. */
int turn_resume(struct turn *t);

/*
 * A pod_event request from the supervisor on conn c: answered with
 * accepted {eid} once its system_item is fsynced (at once if the eid is
 * already in the log).
 */
void turn_pod_event(struct turn *t, struct conn *c, struct msg *m);

/* Stop whatever runs (as cancel) without starting anything new. */
void turn_shutdown(struct turn *t);

/* Send the supervisor a state event for the current status. */
void turn_report_state(struct turn *t);

/*
 * The status on the wire: turn_status_name(), or "waiting_approval"
 * while a running turn waits for an approval (worker/approval.h).
 */
const char *turn_wire_status(const struct turn *t);
/* Emit status (clients) and state (supervisor) if the wire status moved. */
void turn_refresh_status(struct turn *t);
/* Append entry (taken) to the session log as the turn does (approval.c). */
void turn_commit_entry(struct turn *t, struct json_object *entry, bool sync);
/*
 * Idle with dangling tool calls that have approval requests or verdicts
 * (a restored pod): start a turn that runs them, as resume does.
 */
void turn_resume_approvals(struct turn *t);

/* Estimated context size in tokens (last usage + what came since). */
long long turn_context_tokens(const struct turn *t);

#endif
