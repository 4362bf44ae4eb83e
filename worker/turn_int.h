/* SPDX-License-Identifier: ISC */
#ifndef WORKER_TURN_INT_H
#define WORKER_TURN_INT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "worker/turn.h"
#include "worker/turn_item.h"

/*
 * The turn loop's internals, shared by turn.c (states, commits, queue),
 * turn_stream.c (the model request and its stream) and turn_tools.c (the
 * tool calls of one assistant entry).  Not for other modules.
 */

struct event;
struct llm_call;
struct tool_run;
struct tool_pod_run;
struct mcp_call;
struct llm_tool_def;

struct turn_buf {
	char *p;
	size_t len;
	size_t cap;
};

struct turn_tool {
	struct turn *t;
	char *id;
	char *name;
	char *args;
	struct tool_run *run;
	struct tool_pod_run *prun;
	struct mcp_call *mrun;
	bool waiting; /* for an approval */
	bool started;
	bool done;
};

enum turn_next {
	TURN_NEXT_NONE,
	TURN_NEXT_REQUEST, /* send the next model request */
	TURN_NEXT_ITEMS, /* start a turn for queued notifications */
};

struct turn {
	struct worker *w;
	enum turn_status status;
	int turn_no;
	int call_no;
	int requests; /* model requests made in this run */
	struct llm_tool_def *defs;
	size_t ndefs;
	size_t nbase; /* built-in and pod tools; MCP tools follow */

	struct llm_call *call;
	int64_t call_start_ms;
	struct turn_buf text;
	struct turn_buf thinking;
	bool text_open;
	bool thinking_open;

	struct turn_tool *tools;
	size_t ntools;
	size_t tools_next; /* first tool not started */
	size_t tools_running;
	size_t tools_left; /* without result */

	const char *wire_status; /* last status sent (static string) */
	struct turn_items items;
	/* Pod events committed but not yet durable: acked once they are. */
	struct turn_items unacked;
	int log_err; /* session log failing: the last error, else 0 */
	int log_backoff_s; /* retry delay while entries are pending */
	struct event *log_ev; /* retry timer */
	enum turn_next next;
	struct event *next_ev;
	char *last_text; /* last assistant text of this run */
	long long context_tokens;
};

void turn_buf_add(struct turn_buf *b, const char *s, size_t len);
void turn_buf_reset(struct turn_buf *b);
void turn_set_status(struct turn *t, enum turn_status status);
void turn_emit(struct turn *t, const char *event, struct json_object *data);
void turn_emit_int(struct turn *t, const char *event, const char *key, int v);
void turn_commit(struct turn *t, struct json_object *entry, bool sync);
bool turn_log_ok(struct turn *t);
void turn_schedule(struct turn *t, enum turn_next next);
void turn_deliver_items(struct turn *t);
void turn_close_dangling(struct turn *t, const char *output);
void turn_stop(struct turn *t, const char *result, const char *code,
	const char *message);

void turn_tools_free(struct turn *t);
void turn_tools_run(struct turn *t, struct json_object *calls);

void turn_stream_flush(struct turn *t);
void turn_stream_commit_partial(struct turn *t);
void turn_stream_request(struct turn *t);

#endif
