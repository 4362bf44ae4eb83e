/* SPDX-License-Identifier: ISC */
#ifndef CLI_ACP_H
#define CLI_ACP_H

#include <stdbool.h>
#include <stdint.h>

/*
 * 'podvisor acp': an Agent Client Protocol agent on stdin/stdout
 * (JSON-RPC 2.0, one message a line).  acp.c frames and dispatches the
 * editor's messages; acp_session.c maps each ACP session onto a pod
 * (control.sock for spawn/restore, the pod socket for the stream and
 * run/cancel); acp_map.c turns pod events and log entries into
 * session/update payloads.  stdout carries protocol only.
 */

struct acp;
struct acp_session;
struct cli;
struct conn;
struct event_base;
struct json_object;

/* JSON-RPC 2.0 and ACP error codes. */
#define ACP_PARSE_ERROR (-32700)
#define ACP_INVALID_REQUEST (-32600)
#define ACP_METHOD_NOT_FOUND (-32601)
#define ACP_INVALID_PARAMS (-32602)
#define ACP_INTERNAL_ERROR (-32603)
#define ACP_RESOURCE_NOT_FOUND (-32002)

/* The line limit on stdin, as on a pod socket (a prompt goes there). */
#define ACP_LINE_LIMIT (16u * 1024u * 1024u)

/* The process: its loop, stdio and sessions. */
struct acp {
	struct event_base *base;
	struct cli *cli;
	struct bufferevent *in;
	struct bufferevent *out;
	size_t scanned; /* input bytes known to hold no '\n' */
	bool skipping; /* dropping the rest of an over-long line */
	bool eof;
	char *pod_name; /* --pod: the one pod session/new uses */
	char *model; /* --model */
	struct conn *control; /* NULL until needed, again after a close */
	struct acp_session *sessions;
	struct acp_out_call *calls; /* our requests to the client */
	int64_t next_call_id;
};

/* One ACP session: one pod (acp_session.c). */
enum acp_prompt_state {
	ACP_PROMPT_NONE,
	ACP_PROMPT_WAITING, /* another client's turn runs: run once idle */
	ACP_PROMPT_SENT, /* 'run' sent, no reply yet */
	ACP_PROMPT_RUNNING, /* 'run' accepted: the next run_end is ours */
};

struct acp_session {
	struct acp *acp;
	struct acp_session *next;
	char *name; /* the sessionId and the pod's name */
	char *cwd; /* the pod's, from the snapshot greeting */
	struct conn *pod; /* NULL while not attached */
	bool attached; /* the snapshot arrived */
	bool closing; /* dropped: callbacks must not touch it */
	bool retried; /* a load already tried 'restore' once */

	struct json_object *open_id; /* new/load to answer at the snapshot */
	bool open_load; /* replay the snapshot, answer {} */

	struct json_object *prompt_id; /* the pending session/prompt */
	struct json_object *prompt_input; /* its segments */
	enum acp_prompt_state pstate;
	bool cancel; /* session/cancel arrived for it */
	bool echo_skip; /* our own user_message is not echoed */
	char llm_stop[32]; /* the last llm_call_end stop_reason */

	char status[24]; /* the pod's: idle, running, paused, … */
	char mode[16]; /* its approval level = the ACP mode (acp_mode.c) */
	struct json_object *edits; /* toolCallId → diff (acp_map_keep_diff) */
	struct acp_approval *approvals; /* asked of the editor, unanswered */
	struct json_object *mcp_servers; /* the editor's, for spawn/restore */
};

/* Reply to the request id (borrowed; NULL: a notification, no reply). */
void acp_reply(struct acp *a, struct json_object *id, struct json_object *res);
/* Error reply; data (may be NULL) is taken. */
void acp_error(struct acp *a, struct json_object *id, int code,
	struct json_object *data, const char *fmt, ...)
	__attribute__((format(printf, 5, 6)));
/* A notification to the client (params taken). */
void acp_notify(struct acp *a, const char *method, struct json_object *params);

/*
 * A request to the client (params taken); cb gets the result or NULL
 * (error, or the request was withdrawn) and the error object if any.
 * Returns the request's id.
 */
typedef void (*acp_call_cb)(struct acp *a, struct json_object *result,
	struct json_object *error, void *arg);
int64_t acp_call(struct acp *a, const char *method, struct json_object *params,
	acp_call_cb cb, void *arg);
/* Forget the call id: its answer will be dropped, cb is not called. */
void acp_call_forget(struct acp *a, int64_t id);

/*
 * The control connection (connects on first use, after the hello it
 * is ready).  NULL with *reterr_msg set (caller frees) if podvisord is
 * unreachable; the message names the fix.
 */
struct conn *acp_control(struct acp *a, char **reterr_msg);

/* True if acp.c's method table is strictly sorted (unit test). */
bool acp_methods_sorted(void);

/* The session handlers (acp_session.c). id is borrowed. */
void acp_session_new(
	struct acp *a, struct json_object *id, struct json_object *params);
void acp_session_load(
	struct acp *a, struct json_object *id, struct json_object *params);
void acp_session_prompt(
	struct acp *a, struct json_object *id, struct json_object *params);
void acp_session_cancel(
	struct acp *a, struct json_object *id, struct json_object *params);
/* Detach from every pod (they keep running) and free the sessions. */
void acp_session_set_mode(
	struct acp *a, struct json_object *id, struct json_object *params);
void acp_session_free_all(struct acp *a);
/* The open session called name, or NULL. */
struct acp_session *acp_session_find(struct acp *a, const char *name);
/* The open session params.sessionId names, or NULL after an error. */
struct acp_session *acp_session_lookup(struct acp *a, struct json_object *id,
	const char *method, struct json_object *params);
/* Send session/update {sessionId, update} (update taken). */
void acp_session_notify(struct acp_session *s, struct json_object *update);

/* acp_mode.c: ACP session modes = the pod's approval levels. */
bool acp_mode_note(struct acp_session *s, struct json_object *approval);
struct json_object *acp_mode_state(const struct acp_session *s);
void acp_mode_event(struct acp_session *s, struct json_object *approval);

/*
 * acp_approval.c: a pod's approval_request becomes a
 * session/request_permission; the editor's choice a pod 'approve'.
 * Another client deciding first withdraws the question
 * ($/cancel_request).
 */
void acp_approval_ask(struct acp_session *s, struct json_object *data);
void acp_approval_decided(struct acp_session *s, struct json_object *data);
/* Withdraw every open question of s (the pod went away, s is dropped). */
void acp_approval_drop_all(struct acp_session *s);

/*
 * Checked parameter access: the string member key of params, or NULL
 * after an -32602 error naming the field was sent (when required).
 */
const char *acp_param_str(struct acp *a, struct json_object *id,
	const char *method, struct json_object *params, const char *key,
	bool required);

/* --- acp_map.c: pod → ACP shapes; every result is a new object --- */

/* ACP tool kind of a pod tool name: read, edit, execute, search, other. */
const char *acp_map_tool_kind(const char *tool);
/*
 * The session/update "update" for a live pod event, or NULL if the
 * event has no ACP form.  cwd resolves relative paths.
 */
struct json_object *acp_map_event(
	const char *event, struct json_object *data, const char *cwd);
/*
 * The updates replaying one session-log entry (snapshot entries), in
 * order, appended to updates (an array).
 */
void acp_map_entry(struct json_object *entry, const char *cwd,
	struct json_object *updates);
/*
 * The pod input segments for an ACP prompt (an array of ContentBlock),
 * or NULL with *reterr_msg (caller frees) naming the bad block.
 */
struct json_object *acp_map_prompt(
	struct json_object *prompt, char **reterr_msg);
/* Keep a write/edit diff across the call's updates (edits: id → diff). */
void acp_map_keep_diff(struct json_object *edits, struct json_object *update);
/*
 * session/request_permission params (all but sessionId) for a pod's
 * approval_request data: the tool call (pending, with its diff) and the
 * options allow_once, allow_always, deny (kinds allow_once,
 * allow_always, reject_once).  NULL if data lacks id/call_id/tool.
 */
struct json_object *acp_map_permission(
	struct json_object *data, const char *cwd);
/* The pod's approve decision for a chosen optionId, or NULL. */
const char *acp_map_decision(const char *option_id);
/* ACP stopReason for a run_end result and the last llm stop_reason. */
const char *acp_map_stop_reason(const char *result, const char *llm_stop);

#endif
