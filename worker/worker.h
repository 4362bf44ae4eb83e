/* SPDX-License-Identifier: ISC */
#ifndef WORKER_WORKER_H
#define WORKER_WORKER_H

#include <stdbool.h>
#include <stdint.h>

#include "common/scope.h"
#include "worker/provider.h"
#include "worker/tools.h"

struct event;
struct event_base;
struct json_object;
struct link;
struct podsock;
struct session;
struct turn;
struct http;
struct compact;
struct approval;
struct confine_cfg;
struct mcp;
struct spend;

/*
 * The per-process context of podvisor-worker: one pod.  Everything the
 * start config carries is parsed into it (worker.c); the subsystems
 * (link.c, podsock.c, session.c, turn.c, tool_pod.c) hang off it.
 */
struct worker {
	struct event_base *base;
	char *name;
	bool restore; /* --restore on the command line */
	bool started; /* start handled, ready sent */
	bool exiting;
	int exit_code;
	int64_t exit_deadline;

	/* From the start config. */
	char *cwd;
	char *parent;
	struct scope_rules own_rules;
	struct scope_rules effective_write;
	struct scope *scope; /* own + effective write: what tools check */
	struct scope *old_scope; /* previous one, kept for tools in flight */
	char *session_id_cfg;
	char *segment_cfg;
	char *runtime_dir;
	char *sock_path;
	char *session_dir;
	char *control_sock;
	struct provider_config pc;
	char *instruction;
	int max_turns;
	char **scratch; /* NULL-terminated */
	int bash_timeout_s;
	struct confine_cfg *confine; /* start's "confine" (worker/confine.h) */
	char *cgroup; /* start's "cgroup.path": the pod's cgroup, or NULL */
	int64_t memory_max; /* its memory.max, 0 if none */

	struct tool_env tenv;
	struct http *http;
	struct link *link;
	struct podsock *podsock;
	struct session *session;
	struct turn *turn;
	struct compact *compact; /* compact.c */
	struct approval *approval; /* approval.c */
	struct mcp *mcp; /* MCP servers (mcp.c); none: no servers */
	struct spend *spend; /* token totals and budget (spend.c) */

	struct json_object *alerts; /* recent alerts for the snapshot */
	struct json_object
		*pod_cursors; /* read_pod_output: name → {segment,n} */
	int64_t context_tokens;

	struct event *sigterm_ev;
	struct event *sigint_ev;
	struct event *sigchld_ev; /* reaps adopted orphans of bash runs */
	struct event *exit_ev;
};

/*
 * Parse the start request's params into w and bring the pod up (session,
 * tools, pod socket, turn loop).  Returns 0, or -errno with a sentence.
 */
int worker_start(
	struct worker *w, struct json_object *params, char **reterr_msg);

/* Broadcast event name with data (ownership taken) to all pod clients. */
void worker_broadcast(
	struct worker *w, const char *event, struct json_object *data);

/* Broadcast an alert and keep it for later snapshots. */
void worker_alert(struct worker *w, const char *level, const char *source,
	const char *fmt, ...) __attribute__((format(printf, 4, 5)));

/* Replace the effective write rules and rebuild the checking scope. */
void worker_set_effective_write(
	struct worker *w, const struct scope_rules *rules);

/* One-line description of the scope for greetings and the prompt. */
char *worker_scope_summary(const struct worker *w);

/* The system prompt: instruction + a built-in part naming cwd/scope. */
char *worker_system_prompt(const struct worker *w);

/* Graceful shutdown: cancel the turn, tell clients, exit 0 soon. */
void worker_shutdown(struct worker *w);

/* Leave the event loop with code (after flushing what can be flushed). */
void worker_exit(struct worker *w, int code);

void worker_clear(struct worker *w);

#endif
