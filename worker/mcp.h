/* SPDX-License-Identifier: ISC */
#ifndef WORKER_MCP_H
#define WORKER_MCP_H

#include <stdbool.h>
#include <stddef.h>

#include "common/podname.h"
#include "worker/tools.h"

struct event_base;
struct json_object;
struct llm_tool_def;

/*
 * The client side of the Model Context Protocol (2025-06-18, down to
 * 2025-03-26): JSON-RPC 2.0 over a transport (mcp_stdio.c: a child on
 * pipes, confined like bash by worker/confine.c; mcp_http.c: Streamable
 * HTTP through libcurl).  Per server:
 * initialize / initialized, tools/list with pagination, tools/call with
 * progress, timeout and cancellation, notifications/tools/list_changed,
 * ping answered, restart with backoff after a failure.  A server's fault
 * never reaches further than a tool error naming it and the cause.
 * Tools are offered to the model as mcp__<server>__<tool>.
 */

#define MCP_PROTOCOL_LATEST "2025-06-18"
#define MCP_PROTOCOL_OLDEST "2025-03-26"
#define MCP_MAX_MESSAGE (4 * 1024 * 1024) /* one JSON-RPC message */
#define MCP_MAX_TOOLS 256 /* per server */
#define MCP_MAX_PAGES 32 /* tools/list pages */
#define MCP_MAX_SCHEMA (64 * 1024)
#define MCP_MAX_DESCRIPTION 4096
#define MCP_MAX_SERVERS 32
#define MCP_TOOL_NAME_MAX 64 /* the full mcp__<server>__<tool> */
#define MCP_INIT_TIMEOUT_S 20
#define MCP_DEFAULT_TIMEOUT_S 60
#define MCP_STDERR_LINE_MAX 512
#define MCP_BACKOFF_MAX_S 30

struct mcp_server_config {
	char *name;
	char *command; /* stdio: program (PATH searched) */
	char **args; /* NULL-terminated, without the program */
	char **env; /* "NAME=value", NULL-terminated; secrets */
	char *url; /* Streamable HTTP: the endpoint (instead of command) */
	char **headers; /* "Name: value", NULL-terminated; secrets */
	int timeout_s; /* per call */
	int init_timeout_s; /* initialize and tools/list */
};

/*
 * Parse the start config's "mcp" array of {name, command, args:[…],
 * env:{NAME:value}, timeout_s?, init_timeout_s?} or {name, url,
 * headers:{Name:value}, …} (NULL: none).  Returns
 * 0 with the configs (caller frees each with mcp_server_config_clear,
 * then the array), or -EINVAL with a sentence naming the entry.
 */
int mcp_configs_from_json(struct json_object *arr,
	struct mcp_server_config **ret, size_t *ret_n, char **reterr_msg);
/* Wipe the secrets and free the members.  NULL-safe members. */
void mcp_server_config_clear(struct mcp_server_config *c);

/* What the pod gives the client. */
struct mcp_host {
	struct event_base *base;
	struct tool_env *tenv; /* confinement of stdio servers */
	void *arg;
	/* Something the pod's clients should see (start failures). */
	void (*alert)(void *arg, const char *level, const char *msg);
	/* notifications/progress of the call call_id.  Optional. */
	void (*progress)(void *arg, const char *call_id, double progress,
		double total, const char *message);
};

struct mcp;
struct mcp_call;

/* A client for the servers (configs taken over, n may be 0); nothing
 * starts before mcp_start(). */
struct mcp *mcp_new(const struct mcp_host *host,
	struct mcp_server_config *configs, size_t n);
/* Start every server (asynchronously). */
void mcp_start(struct mcp *m);
/* Kill every server; no callbacks afterwards.  NULL-safe. */
void mcp_free(struct mcp *m);
/* Shutting down: stop every server for good (HTTP sessions are
 * DELETEd); mcp_flushed() tells when those requests are done. */
void mcp_stop(struct mcp *m);
bool mcp_flushed(const struct mcp *m);

size_t mcp_nservers(const struct mcp *m);
const char *mcp_server_name(const struct mcp *m, size_t i);
/* "stopped" | "starting" | "ready" | "backoff". */
const char *mcp_server_state(const struct mcp *m, size_t i);
/* Is pid the leader of one of the stdio servers (not to be reaped by
 * the orphan reaper)? */
bool mcp_owns_pid(const struct mcp *m, int pid);

/*
 * Are servers still in their first start?  Then cb(arg) runs once every
 * server is ready or has failed its first start (from the loop, never
 * inside this call) and true is returned; else false.  One waiter at a
 * time: a new one replaces the old; mcp_wait_cancel forgets it.
 */
typedef void (*mcp_ready_cb)(void *arg);
bool mcp_wait_first(struct mcp *m, mcp_ready_cb cb, void *arg);
void mcp_wait_cancel(struct mcp *m);

/*
 * The tool definitions for the next model request: *io_defs holds nbase
 * definitions (allocated); the MCP tools are appended (reallocated) and
 * the new count returned.  The strings are the client's, valid until the
 * next call of mcp_defs (lists replaced since the previous call are
 * freed now).
 */
size_t mcp_defs(struct mcp *m, struct llm_tool_def **io_defs, size_t nbase);
/* Add the names of the MCP tools to the JSON array names. */
void mcp_tool_names(const struct mcp *m, struct json_object *names);

/* Does full name an MCP tool (mcp__ with a configured server)? */
bool mcp_is_mcp_tool(const struct mcp *m, const char *full);
/*
 * Call tool full (mcp__<server>__<tool>) with args (JSON text); call_id
 * is the model's id for progress reports.  cb runs exactly once from the
 * event loop unless the call is cancelled first; a failure is a tool
 * error naming the server and the cause.  NULL if full is no MCP tool.
 */
struct mcp_call *mcp_call_start(struct mcp *m, const char *full,
	const char *args_json, const char *call_id, tool_done_cb cb, void *arg);
/* Cancel (notifications/cancelled to the server); no callback.
 * NULL-safe. */
void mcp_call_cancel(struct mcp_call *c);

#endif
