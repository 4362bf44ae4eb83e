/* SPDX-License-Identifier: ISC */
#ifndef WORKER_MCP_INT_H
#define WORKER_MCP_INT_H

/*
 * Between mcp.c (the protocol), its transport mcp_stdio.c and
 * mcp_result.c (tools/call results as tool results).  Not for the rest
 * of the worker: use mcp.h.
 */

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "worker/mcp.h"

struct json_object;
struct mcp_server;
struct mcp_http;
struct mcp_http_pool;
struct mcp_stdio;
struct tool_result;

/* Server i of m (the fuzz target feeds it messages). */
struct mcp_server *mcp_server_at(struct mcp *m, size_t i);
/* The server as the transport sees it. */
const struct mcp_server_config *mcp_server_config(const struct mcp_server *s);
struct tool_env *mcp_server_tenv(const struct mcp_server *s);
struct event_base *mcp_server_base(const struct mcp_server *s);
/* The negotiated protocol version, NULL before initialize's answer. */
const char *mcp_server_version(const struct mcp_server *s);

/*
 * The transport delivers each JSON-RPC message text (borrowed, len
 * bytes, not NUL-terminated) here.  Returns 0, or -EPROTO when the text
 * is not JSON-RPC: the server was failed then and the transport closed,
 * so the caller must return without touching it again.
 */
int mcp_server_recv(struct mcp_server *s, const char *data, size_t len);
/*
 * The transport failed (EOF, exit, I/O error, over-long line): cause is
 * a sentence without the server's name.  Calls in flight fail naming
 * the server and cause, the transport is closed from inside this call
 * and the server restarts with backoff.
 */
void mcp_server_lost(struct mcp_server *s, const char *cause);

/*
 * The request id ended without its answer (HTTP: the POST failed or
 * its stream closed): the call fails with cause, initialize or
 * tools/list lose the server.  Nothing when it was answered.
 */
void mcp_server_request_ended(
	struct mcp_server *s, int64_t id, const char *cause);

/* Is request id still waiting for its answer? */
bool mcp_server_request_pending(struct mcp_server *s, int64_t id);
/* HTTP 404 on the session (the request id met it, 0: none). */
void mcp_server_session_expired(
	struct mcp_server *s, int64_t id, const char *cause);

/* Start the program confined; NULL with a sentence. */
struct mcp_stdio *mcp_stdio_open(struct mcp_server *s, char **reterr_msg);
/* Queue one message (a newline is added). */
void mcp_stdio_send(struct mcp_stdio *t, const char *json, size_t len);
/* Kill the process group and close; the leader is reaped here or, when
 * it takes longer, by the worker's orphan reaper.  NULL-safe. */
void mcp_stdio_close(struct mcp_stdio *t);
int mcp_stdio_pid(const struct mcp_stdio *t);

/*
 * The Streamable HTTP transport (mcp_http.c).  The pool is the client's
 * libcurl engine, shared by its HTTP servers; freeing it aborts what is
 * still in flight (the DELETEs of closed sessions).
 */
struct mcp_http_pool *mcp_http_pool_new(struct event_base *base);
void mcp_http_pool_free(struct mcp_http_pool *p);
size_t mcp_http_pool_pending(const struct mcp_http_pool *p);
struct mcp_http *mcp_http_open(
	struct mcp_server *s, struct mcp_http_pool *pool, char **reterr_msg);
/* POST one message; id: the request's (0: notification, answer). */
void mcp_http_send(
	struct mcp_http *t, const char *json, size_t len, int64_t id);
/* initialize is done: open the GET stream if the server has one. */
void mcp_http_ready(struct mcp_http *t);
const char *mcp_http_session(const struct mcp_http *t);
/* Drop the requests, DELETE the session.  NULL-safe. */
void mcp_http_close(struct mcp_http *t);

/* A tools/call result (borrowed) as the model's tool result. */
void mcp_result_convert(const char *server, const char *tool,
	struct json_object *result, struct tool_result *res);

#endif
