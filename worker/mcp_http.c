/* SPDX-License-Identifier: ISC */
#include <sys/queue.h>

#include <errno.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include <event2/event.h>

#include "common/log.h"
#include "common/xmalloc.h"
#include "worker/curlfn.h"
#include "worker/http.h"
#include "worker/mcp_int.h"
#include "worker/sse.h"

/*
 * The Streamable HTTP transport (MCP 2025-03-26 and later): every
 * message the client sends is a POST of its JSON text to the server's
 * URL; the answer to a request comes back as an application/json body
 * or as a text/event-stream that may carry the server's notifications
 * and requests first.  The session id the server gives with its answer
 * to initialize is sent with every later request, and so is the
 * negotiated protocol version.  A GET opens a stream of the server's
 * own messages (tools/list_changed) when the server offers one (405:
 * none).  A DELETE ends the session when the transport closes.  All of
 * it runs through libcurl's multi interface on the worker's event loop
 * (worker/http.c); nothing blocks.
 *
 * Re-entrancy: a message delivered to mcp.c may close the transport
 * (a protocol error, an expired session), from inside a callback of a
 * request whose SSE parser is still on the stack.  Such a request is
 * only marked dead then and freed once its callback unwinds.
 */

#define MCP_HTTP_GET_RETRY_S 1
#define MCP_HTTP_DELETE_TIMEOUT_S 2
#define MCP_HTTP_IDLE_SLACK_S 30
#define MCP_HTTP_RESUME_MS 1000 /* without a "retry:" */
#define MCP_HTTP_RESUME_MAX_MS 30000
#define MCP_HTTP_RESUMES 5 /* per request */

enum mcp_http_kind {
	MCP_HTTP_POST,
	MCP_HTTP_GET,
	MCP_HTTP_DELETE,
};

struct mcp_http_req {
	TAILQ_ENTRY(mcp_http_req) entry; /* in the pool */
	struct mcp_http_pool *pool;
	struct mcp_http *t; /* NULL: orphaned (a DELETE, or closed) */
	struct http_req *req;
	enum mcp_http_kind kind;
	int64_t id; /* the JSON-RPC request POSTed; 0 for the others */
	int status;
	bool sse; /* text/event-stream */
	bool json; /* application/json */
	struct sse *parser;
	char *body;
	size_t len;
	bool too_long;
	char *last_event_id; /* a GET resuming the answer to id */
	int resumes;
	struct event *resume_ev; /* waiting to resume */
	int in_cb; /* inside one of our callbacks */
	bool dead; /* free when the callback unwinds */
};
TAILQ_HEAD(mcp_http_reqs, mcp_http_req);

struct mcp_http_pool {
	struct http *http;
	struct mcp_http_reqs reqs;
};

struct mcp_http {
	struct mcp_server *s;
	struct mcp_http_pool *pool;
	char *url;
	char *session;
	bool get_refused; /* 405 or another refusal: no GET stream */
	struct mcp_http_req *get;
	struct event *get_retry;
	struct event *fail_ev; /* a POST that could not even start */
	char *fail_cause;
	bool ready;
};

struct mcp_http_pool *
mcp_http_pool_new(struct event_base *base)
{
	struct mcp_http_pool *p = xcalloc(1, sizeof(*p));

	p->http = http_new(base);
	TAILQ_INIT(&p->reqs);
	return p;
}

static void
mcp_http_req_free(struct mcp_http_req *r)
{
	TAILQ_REMOVE(&r->pool->reqs, r, entry);
	if (r->t != NULL && r->t->get == r)
		r->t->get = NULL;
	sse_free(r->parser);
	free(r->body);
	free(r->last_event_id);
	if (r->resume_ev != NULL)
		event_free(r->resume_ev);
	free(r);
}

/* Abort what is in flight (no callbacks) and free. */
void
mcp_http_pool_free(struct mcp_http_pool *p)
{
	struct mcp_http_req *r;

	if (p == NULL)
		return;
	http_free(p->http);
	while ((r = TAILQ_FIRST(&p->reqs)) != NULL)
		mcp_http_req_free(r);
	free(p);
}

/* Requests still in flight (DELETEs at shutdown). */
size_t
mcp_http_pool_pending(const struct mcp_http_pool *p)
{
	return p != NULL ? http_pending(p->http) : 0;
}

/* Cancel and free r, or only mark it while its callback runs. */
static void
mcp_http_req_drop(struct mcp_http_req *r)
{
	http_cancel(r->req);
	r->req = NULL;
	if (r->t != NULL && r->t->get == r)
		r->t->get = NULL;
	r->t = NULL;
	if (r->in_cb > 0) {
		r->dead = true;
		return;
	}
	mcp_http_req_free(r);
}

/* The URL for messages: without its query (it may hold a token). */
static const char *
mcp_http_url_shown(const char *url, char *buf, size_t size)
{
	size_t n = strcspn(url, "?#");

	if (n >= size)
		n = size - 1;
	memcpy(buf, url, n);
	buf[n] = '\0';
	return buf;
}

static void mcp_http_get_open(struct mcp_http *t);
static void mcp_http_fail_cb(evutil_socket_t fd, short what, void *arg);
static int mcp_http_launch(struct mcp_http_req *r, struct mcp_http *t,
	const char *body, size_t len, char **reterr_msg);
static bool mcp_http_resume(struct mcp_http_req *from);

static void
mcp_http_get_retry_cb(evutil_socket_t fd, short what, void *arg)
{
	mcp_http_get_open(arg);
}

/* One SSE event: a JSON-RPC message for mcp.c. */
static int
mcp_http_sse_cb(void *arg, const char *event, const char *data, size_t len)
{
	struct mcp_http_req *r = arg;

	if (r->t == NULL || r->dead)
		return 1;
	if (strcmp(event, "message") != 0 || len == 0)
		return 0;
	if (mcp_server_recv(r->t->s, data, len) < 0)
		return 1; /* the transport was closed */
	return 0;
}

static void
mcp_http_header_cb(void *arg, const char *name, const char *value)
{
	struct mcp_http_req *r = arg;
	struct mcp_http *t = r->t;

	if (t == NULL)
		return;
	if (strcasecmp(name, "content-type") == 0) {
		r->sse = strncasecmp(value, "text/event-stream", 17) == 0;
		r->json = strncasecmp(value, "application/json", 16) == 0;
	} else if (strcasecmp(name, "mcp-session-id") == 0 &&
		t->session == NULL && value[0] != '\0' && strlen(value) < 256) {
		t->session = xstrdup(value);
	}
}

static void
mcp_http_headers_cb(void *arg, int status, long retry_after_ms)
{
	struct mcp_http_req *r = arg;

	r->status = status;
	if (status >= 200 && status < 300 && r->sse && r->parser == NULL)
		r->parser = sse_new(MCP_MAX_MESSAGE, mcp_http_sse_cb, r);
}

static int
mcp_http_data_cb(void *arg, const char *buf, size_t len)
{
	struct mcp_http_req *r = arg;
	int ret = 0;

	if (r->kind == MCP_HTTP_DELETE)
		return 0;
	if (r->t == NULL || r->dead)
		return 1;
	if (r->parser != NULL) {
		r->in_cb++;
		ret = sse_feed(r->parser, buf, len);
		r->in_cb--;
		if (r->dead) {
			mcp_http_req_free(r);
			return 1;
		}
		if (ret == -EMSGSIZE) {
			r->too_long = true;
			return 1;
		}
		return ret != 0;
	}
	/* A JSON body (or an error page): kept whole, up to the bound. */
	if (r->len + len > MCP_MAX_MESSAGE) {
		r->too_long = true;
		return 1;
	}
	r->body = xreallocarray(r->body, r->len + len + 1, 1);
	memcpy(r->body + r->len, buf, len);
	r->len += len;
	r->body[r->len] = '\0';
	return 0;
}

/* A short printable excerpt of an error body. */
static char *
mcp_http_excerpt(const struct mcp_http_req *r)
{
	size_t n = r->len < 120 ? r->len : 120, i;
	char *e;

	if (r->body == NULL || n == 0)
		return xstrdup("");
	e = xstrfmt(": %.*s", (int)n, r->body);
	for (i = 0; e[i] != '\0'; i++)
		if ((unsigned char)e[i] < 0x20)
			e[i] = ' ';
	return e;
}

/* A GET stream ended. */
static void
mcp_http_get_done(
	struct mcp_http_req *r, int code, int status, const char *error)
{
	struct mcp_http *t = r->t;
	const struct mcp_server_config *cfg = mcp_server_config(t->s);
	struct timeval tv = { MCP_HTTP_GET_RETRY_S, 0 };
	char shown[256], *cause;

	if (r->id != 0) {
		/* A GET resuming the answer to request r->id. */
		if (code == 0 && status >= 200 && status < 300 &&
			mcp_http_resume(r))
			return;
		if (code != 0)
			cause = xstrfmt("cannot resume the answer from %s: %s",
				mcp_http_url_shown(
					t->url, shown, sizeof(shown)),
				error ? error : "error");
		else
			cause = xstrfmt("the server ended its answer without "
					"a result (resuming it: HTTP %d)",
				status);
		mcp_server_request_ended(t->s, r->id, cause);
		free(cause);
		return;
	}
	t->get = NULL;
	if (code == 0 && (status < 200 || status >= 300)) {
		/* 405: the server offers no stream; any refusal is final. */
		t->get_refused = true;
		log_info("MCP server %s: no stream of server messages (GET: "
			 "HTTP %d)",
			cfg->name, status);
		return;
	}
	if (code != 0)
		log_info("MCP server %s: the stream of server messages "
			 "failed (%s); opening it again",
			cfg->name, error ? error : "error");
	evtimer_add(t->get_retry, &tv);
}

/* A POST ended: deliver a JSON body, or report what went wrong. */
static void
mcp_http_post_done(
	struct mcp_http_req *r, int code, int status, const char *error)
{
	struct mcp_http *t = r->t;
	struct mcp_server *s = t->s;
	const struct mcp_server_config *cfg = mcp_server_config(s);
	char shown[256], *cause, *ex;
	int64_t id = r->id;
	int rc;

	if (r->too_long) {
		mcp_server_lost(s, "sent a message longer than 4 MiB");
		return;
	}
	if (code != 0) {
		cause = xstrfmt("cannot reach %s: %s",
			mcp_http_url_shown(t->url, shown, sizeof(shown)),
			error ? error : "error");
		/* A call that outlived the idle bound fails alone; any other
		 * failure means the server is gone. */
		if (code == CURLE_OPERATION_TIMEDOUT && id != 0)
			mcp_server_request_ended(s, id, cause);
		else
			mcp_server_lost(s, cause);
		free(cause);
		return;
	}
	if (status == 404 && t->session != NULL) {
		mcp_server_session_expired(s, id,
			"the server ended the session (HTTP 404); starting a "
			"new one");
		return;
	}
	/* A body answering a notification or an answer of ours has
	 * nothing to say (202 is due; some servers send {"result":{}}). */
	if (r->len > 0 && id != 0 &&
		(r->json || (status >= 200 && status < 300))) {
		rc = mcp_server_recv(s, r->body, r->len);
		if (rc < 0)
			return; /* closed; r was dropped with it */
	}
	if (status >= 200 && status < 300) {
		if (r->sse && mcp_http_resume(r))
			return;
		mcp_server_request_ended(
			s, id, "the server ended its answer without a result");
		return;
	}
	ex = mcp_http_excerpt(r);
	cause = xstrfmt("HTTP %d from %s%s", status,
		mcp_http_url_shown(t->url, shown, sizeof(shown)), ex);
	free(ex);
	if (id != 0)
		mcp_server_request_ended(s, id, cause);
	else
		log_warn("MCP server %s: %s", cfg->name, cause);
	free(cause);
}

static void
mcp_http_done_cb(void *arg, int code, int status, const char *error)
{
	struct mcp_http_req *r = arg;

	r->req = NULL; /* http.c frees it after this returns */
	if (r->t == NULL || r->dead) {
		if (r->in_cb == 0)
			mcp_http_req_free(r);
		return;
	}
	r->in_cb++;
	if (r->kind == MCP_HTTP_GET)
		mcp_http_get_done(r, code, status, error);
	else if (r->kind == MCP_HTTP_POST)
		mcp_http_post_done(r, code, status, error);
	r->in_cb--;
	mcp_http_req_free(r);
}

/* The headers of one request: "Name: value" strings (secrets: wiped). */
static char **
mcp_http_headers(
	struct mcp_http *t, enum mcp_http_kind kind, const char *last_event_id)
{
	const struct mcp_server_config *cfg = mcp_server_config(t->s);
	const char *ver = mcp_server_version(t->s);
	size_t n = 0, k = 0, i;
	char **h;

	while (cfg->headers != NULL && cfg->headers[n] != NULL)
		n++;
	h = xcalloc(n + 6, sizeof(*h));
	if (last_event_id != NULL)
		h[k++] = xstrfmt("Last-Event-ID: %s", last_event_id);
	if (kind == MCP_HTTP_POST) {
		h[k++] = xstrdup("Content-Type: application/json");
		h[k++] = xstrdup("Accept: application/json, text/event-stream");
	} else if (kind == MCP_HTTP_GET) {
		h[k++] = xstrdup("Accept: text/event-stream");
	}
	if (t->session != NULL)
		h[k++] = xstrfmt("Mcp-Session-Id: %s", t->session);
	if (ver != NULL)
		h[k++] = xstrfmt("MCP-Protocol-Version: %s", ver);
	for (i = 0; i < n; i++)
		h[k++] = xstrdup(cfg->headers[i]);
	return h;
}

static void
mcp_http_headers_free(char **h)
{
	size_t i;

	for (i = 0; h[i] != NULL; i++) {
		explicit_bzero(h[i], strlen(h[i]));
		free(h[i]);
	}
	free(h);
}

/* Start one request of t (or an orphan DELETE when t is given but the
 * request is not to be tied to it). */
static struct mcp_http_req *
mcp_http_start(struct mcp_http *t, enum mcp_http_kind kind, int64_t id,
	const char *body, size_t len, bool orphan, char **reterr_msg)
{
	struct mcp_http_req *r;

	r = xcalloc(1, sizeof(*r));
	r->pool = t->pool;
	r->t = orphan ? NULL : t;
	r->kind = kind;
	r->id = id;
	TAILQ_INSERT_TAIL(&t->pool->reqs, r, entry);
	if (mcp_http_launch(r, t, body, len, reterr_msg) < 0) {
		mcp_http_req_free(r);
		return NULL;
	}
	return r;
}

/* Start the HTTP request of r (of t). */
static int
mcp_http_launch(struct mcp_http_req *r, struct mcp_http *t, const char *body,
	size_t len, char **reterr_msg)
{
	const struct mcp_server_config *cfg = mcp_server_config(t->s);
	struct http_req_cb cb = { mcp_http_headers_cb, mcp_http_data_cb,
		mcp_http_done_cb, mcp_http_header_cb };
	struct http_opts opts = { 0 };
	enum mcp_http_kind kind = r->kind;
	char **h;

	opts.connect_timeout_s = cfg->init_timeout_s;
	if (kind == MCP_HTTP_GET) {
		opts.method = "GET";
		opts.idle_timeout_s = -1;
	} else if (kind == MCP_HTTP_DELETE) {
		opts.method = "DELETE";
		opts.connect_timeout_s = MCP_HTTP_DELETE_TIMEOUT_S;
		opts.idle_timeout_s = MCP_HTTP_DELETE_TIMEOUT_S;
	} else {
		/* mcp.c times calls; this only ends a dead connection. */
		opts.idle_timeout_s = (cfg->timeout_s > cfg->init_timeout_s
						      ? cfg->timeout_s
						      : cfg->init_timeout_s) +
			MCP_HTTP_IDLE_SLACK_S;
	}
	h = mcp_http_headers(t, kind, r->last_event_id);
	r->req = http_request(t->pool->http, t->url, (const char *const *)h,
		body, len, &opts, &cb, r, reterr_msg);
	mcp_http_headers_free(h);
	return r->req != NULL ? 0 : -1;
}

static void
mcp_http_resume_cb(evutil_socket_t fd, short what, void *arg)
{
	struct mcp_http_req *r = arg;
	struct mcp_http *t = r->t;
	char *err = NULL, *cause;
	int64_t id;

	if (t == NULL || !mcp_server_request_pending(t->s, r->id)) {
		mcp_http_req_free(r);
		return;
	}
	if (mcp_http_launch(r, t, NULL, 0, &err) == 0)
		return;
	cause = xstrfmt("cannot resume the answer: %s", err ? err : "error");
	free(err);
	id = r->id;
	mcp_http_req_free(r);
	mcp_server_request_ended(t->s, id, cause);
	free(cause);
}

/*
 * The event stream of request id ended before its answer, after an
 * event with an id: a GET with Last-Event-ID after the stream's
 * "retry:" asks the server for the rest (2025-11-25 resumability).
 * Returns false when it is not worth it (no id, tried enough,
 * answered).
 */
static bool
mcp_http_resume(struct mcp_http_req *from)
{
	struct mcp_http *t = from->t;
	struct mcp_http_req *r;
	struct timeval tv;
	long ms;

	if (from->parser == NULL || sse_last_id(from->parser) == NULL ||
		from->resumes >= MCP_HTTP_RESUMES ||
		!mcp_server_request_pending(t->s, from->id))
		return false;
	ms = sse_retry_ms(from->parser);
	if (ms < 0)
		ms = MCP_HTTP_RESUME_MS;
	if (ms > MCP_HTTP_RESUME_MAX_MS)
		ms = MCP_HTTP_RESUME_MAX_MS;
	r = xcalloc(1, sizeof(*r));
	r->pool = t->pool;
	r->t = t;
	r->kind = MCP_HTTP_GET;
	r->id = from->id;
	r->resumes = from->resumes + 1;
	r->last_event_id = xstrdup(sse_last_id(from->parser));
	r->resume_ev =
		evtimer_new(mcp_server_base(t->s), mcp_http_resume_cb, r);
	TAILQ_INSERT_TAIL(&t->pool->reqs, r, entry);
	tv.tv_sec = ms / 1000;
	tv.tv_usec = (ms % 1000) * 1000;
	evtimer_add(r->resume_ev, &tv);
	return true;
}

static void
mcp_http_get_open(struct mcp_http *t)
{
	char *err = NULL;

	if (t->get != NULL || t->get_refused || t->session == NULL)
		return;
	t->get = mcp_http_start(t, MCP_HTTP_GET, 0, NULL, 0, false, &err);
	if (t->get == NULL) {
		log_warn("MCP server %s: cannot open the stream of server "
			 "messages: %s",
			mcp_server_config(t->s)->name, err ? err : "error");
		free(err);
	}
}

/* Connect: nothing is sent before the first message (initialize). */
struct mcp_http *
mcp_http_open(
	struct mcp_server *s, struct mcp_http_pool *pool, char **reterr_msg)
{
	const struct mcp_server_config *cfg = mcp_server_config(s);
	struct mcp_http *t;
	char *err = NULL;

	if (curlfn_load(&err) < 0) {
		*reterr_msg = xstrfmt("cannot start: %s", err);
		free(err);
		return NULL;
	}
	t = xcalloc(1, sizeof(*t));
	t->s = s;
	t->pool = pool;
	t->url = xstrdup(cfg->url);
	t->get_retry =
		evtimer_new(mcp_server_base(s), mcp_http_get_retry_cb, t);
	t->fail_ev = evtimer_new(mcp_server_base(s), mcp_http_fail_cb, t);
	return t;
}

/* A request could not start: the server is lost, from the loop (the
 * sender has not even learnt its request's id yet). */
static void
mcp_http_fail_cb(evutil_socket_t fd, short what, void *arg)
{
	struct mcp_http *t = arg;
	char *cause = t->fail_cause;

	t->fail_cause = NULL;
	mcp_server_lost(t->s, cause != NULL ? cause : "cannot send");
	free(cause);
}

/* POST one message; id is the request's (0: a notification or an
 * answer, which the server acknowledges with 202). */
void
mcp_http_send(struct mcp_http *t, const char *json, size_t len, int64_t id)
{
	struct timeval tv = { 0, 0 };
	char *err = NULL;

	if (t == NULL)
		return;
	if (mcp_http_start(t, MCP_HTTP_POST, id, json, len, false, &err) !=
		NULL)
		return;
	if (t->fail_cause == NULL)
		t->fail_cause = xstrfmt("cannot send: %s", err ? err : "error");
	free(err);
	evtimer_add(t->fail_ev, &tv);
}

/* The server is initialized: open its stream of messages. */
void
mcp_http_ready(struct mcp_http *t)
{
	if (t == NULL || t->ready)
		return;
	t->ready = true;
	mcp_http_get_open(t);
}

const char *
mcp_http_session(const struct mcp_http *t)
{
	return t != NULL ? t->session : NULL;
}

/* Drop what is in flight; DELETE the session (not waited for here). */
void
mcp_http_close(struct mcp_http *t)
{
	struct mcp_http_req *r, *next;
	char *err = NULL;

	if (t == NULL)
		return;
	for (r = TAILQ_FIRST(&t->pool->reqs); r != NULL; r = next) {
		next = TAILQ_NEXT(r, entry);
		if (r->t == t)
			mcp_http_req_drop(r);
	}
	if (t->session != NULL) {
		if (mcp_http_start(
			    t, MCP_HTTP_DELETE, 0, NULL, 0, true, &err) == NULL)
			free(err);
		explicit_bzero(t->session, strlen(t->session));
		free(t->session);
	}
	event_free(t->get_retry);
	event_free(t->fail_ev);
	free(t->fail_cause);
	free(t->url);
	free(t);
}
