/* SPDX-License-Identifier: ISC */
#include "worker/mcp.h"

#include <errno.h>
#include <inttypes.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <sys/queue.h>

#include <event2/event.h>
#include <json-c/json.h>

#include "common/log.h"
#include "common/xmalloc.h"
#include "worker/mcp_int.h"
#include "worker/provider.h"

enum mcp_state {
	MCP_STOPPED, /* not started yet */
	MCP_STARTING, /* initialize or the first tools/list in flight */
	MCP_READY,
	MCP_BACKOFF, /* lost; restarting when the timer fires */
};

/* One tool as the model sees it. */
struct mcp_tool {
	char *full; /* mcp__<server>__<tool> */
	char *tool; /* the server's name for it */
	char *description;
	char *schema_json; /* inputSchema */
};

struct mcp_toollist {
	struct mcp_tool *v;
	size_t n;
	struct mcp_toollist *next; /* the client's retired lists */
};

struct mcp_call {
	struct mcp_server *s;
	char *full;
	char *tool;
	char *call_id;
	struct json_object *args;
	tool_done_cb cb;
	void *arg;
	int64_t rpc_id; /* 0: not sent yet */
	struct event *timer; /* the call's timeout, or a deferred answer */
	char *error; /* the deferred answer's error */
	bool resent; /* sent again once after an expired session */
	TAILQ_ENTRY(mcp_call) entry;
};
TAILQ_HEAD(mcp_calls, mcp_call);

struct mcp_server {
	struct mcp *m;
	struct mcp_server_config cfg;
	enum mcp_state state;
	struct mcp_stdio *stdio;
	struct mcp_http *http;
	unsigned gen; /* bumped when the transport closes */
	char *version; /* negotiated */
	int64_t next_id;
	int64_t init_id; /* initialize in flight */
	int64_t list_id; /* tools/list in flight */
	int pages;
	bool relist; /* list_changed while a list was in flight */
	struct mcp_toollist *tools; /* current */
	struct mcp_toollist *listing; /* being assembled */
	struct mcp_calls calls; /* sent or waiting for the server */
	struct event *timer; /* initialize/list timeout, or the backoff */
	int fails; /* consecutive failed starts */
	bool first_done; /* ready once, or failed its first start */
	char *last_error;
};

struct mcp {
	struct mcp_host host;
	struct mcp_server *servers;
	size_t n;
	struct mcp_toollist *retired;
	struct mcp_http_pool *pool; /* the HTTP servers' libcurl engine */
	bool stopped;
	mcp_ready_cb wait_cb;
	void *wait_arg;
	struct event *wait_ev;
};

static void mcp_server_begin(struct mcp_server *s);
static struct mcp_call *mcp_call_by_rpc(struct mcp_server *s, int64_t id);
static void mcp_call_send(struct mcp_call *c);

static void
mcp_strv_free(char **v, bool wipe)
{
	size_t i;

	for (i = 0; v != NULL && v[i] != NULL; i++) {
		if (wipe)
			explicit_bzero(v[i], strlen(v[i]));
		free(v[i]);
	}
	free(v);
}

/* Wipe the secrets of c and free its members. */
void
mcp_server_config_clear(struct mcp_server_config *c)
{
	if (c == NULL)
		return;
	free(c->name);
	free(c->command);
	free(c->url);
	mcp_strv_free(c->args, false);
	mcp_strv_free(c->env, true);
	mcp_strv_free(c->headers, true);
	memset(c, 0, sizeof(*c));
}

static void mcp_config_timeouts(
	struct json_object *o, struct mcp_server_config *c);
static int mcp_config_http(
	struct json_object *o, struct mcp_server_config *c, char **reterr_msg);

static int
mcp_config_one(
	struct json_object *o, struct mcp_server_config *c, char **reterr_msg)
{
	struct json_object *v, *a;
	size_t i, n;

	if (!json_object_is_type(o, json_type_object) ||
		!json_object_object_get_ex(o, "name", &v) ||
		!mcp_name_valid(json_object_get_string(v))) {
		*reterr_msg = xstrdup("an MCP server needs a \"name\" of "
				      "letters, digits, '-' and single '_'");
		return -EINVAL;
	}
	c->name = xstrdup(json_object_get_string(v));
	if (json_object_object_get_ex(o, "url", &v) &&
		json_object_is_type(v, json_type_string)) {
		if (strncmp(json_object_get_string(v), "http://", 7) != 0 &&
			strncmp(json_object_get_string(v), "https://", 8) !=
				0) {
			*reterr_msg = xstrfmt("MCP server %s: \"url\" must be "
					      "http:// or https://",
				c->name);
			return -EINVAL;
		}
		c->url = xstrdup(json_object_get_string(v));
		return mcp_config_http(o, c, reterr_msg);
	}
	if (!json_object_object_get_ex(o, "command", &v) ||
		!json_object_is_type(v, json_type_string) ||
		json_object_get_string_len(v) == 0) {
		*reterr_msg = xstrfmt("MCP server %s has neither \"command\" "
				      "nor \"url\"",
			c->name);
		return -EINVAL;
	}
	c->command = xstrdup(json_object_get_string(v));
	n = json_object_object_get_ex(o, "args", &a) &&
			json_object_is_type(a, json_type_array)
		? json_object_array_length(a)
		: 0;
	c->args = xcalloc(n + 1, sizeof(*c->args));
	for (i = 0; i < n; i++) {
		v = json_object_array_get_idx(a, i);
		if (!json_object_is_type(v, json_type_string)) {
			*reterr_msg = xstrfmt(
				"MCP server %s: \"args\" must be strings",
				c->name);
			return -EINVAL;
		}
		c->args[i] = xstrdup(json_object_get_string(v));
	}
	n = json_object_object_get_ex(o, "env", &a) &&
			json_object_is_type(a, json_type_object)
		? (size_t)json_object_object_length(a)
		: 0;
	c->env = xcalloc(n + 1, sizeof(*c->env));
	i = 0;
	if (n > 0) {
		struct json_object_iterator it = json_object_iter_begin(a);
		struct json_object_iterator end = json_object_iter_end(a);
		const char *key;

		for (; !json_object_iter_equal(&it, &end);
			json_object_iter_next(&it)) {
			key = json_object_iter_peek_name(&it);
			if (i < n && key[0] != '\0' && strchr(key, '=') == NULL)
				c->env[i++] = xstrfmt("%s=%s", key,
					json_object_get_string(
						json_object_iter_peek_value(
							&it)));
		}
	}
	mcp_config_timeouts(o, c);
	return 0;
}

static void
mcp_config_timeouts(struct json_object *o, struct mcp_server_config *c)
{
	struct json_object *v;

	c->timeout_s = MCP_DEFAULT_TIMEOUT_S;
	if (json_object_object_get_ex(o, "timeout_s", &v) &&
		json_object_get_int(v) > 0)
		c->timeout_s = json_object_get_int(v);
	c->init_timeout_s = MCP_INIT_TIMEOUT_S;
	if (json_object_object_get_ex(o, "init_timeout_s", &v) &&
		json_object_get_int(v) > 0)
		c->init_timeout_s = json_object_get_int(v);
}

/* The rest of an HTTP server: headers {Name: value} (secrets). */
static int
mcp_config_http(
	struct json_object *o, struct mcp_server_config *c, char **reterr_msg)
{
	struct json_object *a;
	size_t i = 0, n;

	n = json_object_object_get_ex(o, "headers", &a) &&
			json_object_is_type(a, json_type_object)
		? (size_t)json_object_object_length(a)
		: 0;
	c->headers = xcalloc(n + 1, sizeof(*c->headers));
	if (n > 0) {
		struct json_object_iterator it = json_object_iter_begin(a);
		struct json_object_iterator end = json_object_iter_end(a);
		const char *key, *val;

		for (; !json_object_iter_equal(&it, &end);
			json_object_iter_next(&it)) {
			key = json_object_iter_peek_name(&it);
			val = json_object_get_string(
				json_object_iter_peek_value(&it));
			if (key[0] == '\0' || strpbrk(key, ": \t\r\n") ||
				strpbrk(val, "\r\n")) {
				*reterr_msg = xstrfmt("MCP server %s: a bad "
						      "header name or value",
					c->name);
				return -EINVAL;
			}
			if (i < n)
				c->headers[i++] = xstrfmt("%s: %s", key, val);
		}
	}
	mcp_config_timeouts(o, c);
	return 0;
}

/* Parse the start config's "mcp" array. */
int
mcp_configs_from_json(struct json_object *arr, struct mcp_server_config **ret,
	size_t *ret_n, char **reterr_msg)
{
	struct mcp_server_config *v;
	size_t i, j, n;
	int r;

	n = arr != NULL && json_object_is_type(arr, json_type_array)
		? json_object_array_length(arr)
		: 0;
	if (arr != NULL && !json_object_is_type(arr, json_type_array)) {
		*reterr_msg = xstrdup("\"mcp\" must be an array of servers");
		return -EINVAL;
	}
	if (n > MCP_MAX_SERVERS) {
		*reterr_msg =
			xstrfmt("more than %d MCP servers", MCP_MAX_SERVERS);
		return -EINVAL;
	}
	v = xcalloc(n + 1, sizeof(*v));
	for (i = 0; i < n; i++) {
		r = mcp_config_one(
			json_object_array_get_idx(arr, i), &v[i], reterr_msg);
		for (j = 0; r == 0 && j < i; j++)
			if (strcmp(v[j].name, v[i].name) == 0) {
				*reterr_msg = xstrfmt(
					"MCP server %s given twice", v[i].name);
				r = -EINVAL;
			}
		if (r < 0) {
			for (j = 0; j <= i; j++)
				mcp_server_config_clear(&v[j]);
			free(v);
			return r;
		}
	}
	*ret = v;
	*ret_n = n;
	return 0;
}

static void
mcp_toollist_free(struct mcp_toollist *l)
{
	size_t i;

	if (l == NULL)
		return;
	for (i = 0; i < l->n; i++) {
		free(l->v[i].full);
		free(l->v[i].tool);
		free(l->v[i].description);
		free(l->v[i].schema_json);
	}
	free(l->v);
	free(l);
}

/* l is replaced: keep it until the next mcp_defs (defs point into it). */
static void
mcp_toollist_retire(struct mcp *m, struct mcp_toollist *l)
{
	if (l == NULL)
		return;
	l->next = m->retired;
	m->retired = l;
}

/* Server i of m. */
struct mcp_server *
mcp_server_at(struct mcp *m, size_t i)
{
	return i < m->n ? &m->servers[i] : NULL;
}

/* The server as the transports see it. */
const struct mcp_server_config *
mcp_server_config(const struct mcp_server *s)
{
	return &s->cfg;
}

struct tool_env *
mcp_server_tenv(const struct mcp_server *s)
{
	return s->m->host.tenv;
}

struct event_base *
mcp_server_base(const struct mcp_server *s)
{
	return s->m->host.base;
}

const char *
mcp_server_version(const struct mcp_server *s)
{
	return s->version;
}

/* Is a transport open? */
static bool
mcp_connected(const struct mcp_server *s)
{
	return s->stdio != NULL || s->http != NULL;
}

static void
mcp_close_transport(struct mcp_server *s)
{
	mcp_stdio_close(s->stdio);
	s->stdio = NULL;
	mcp_http_close(s->http);
	s->http = NULL;
	s->gen++;
}

static void mcp_alert(struct mcp *m, const char *level, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));

static void
mcp_alert(struct mcp *m, const char *level, const char *fmt, ...)
{
	va_list ap;
	char *msg;

	va_start(ap, fmt);
	if (vasprintf(&msg, fmt, ap) < 0)
		msg = NULL;
	va_end(ap);
	if (msg == NULL)
		return;
	if (m->host.alert != NULL)
		m->host.alert(m->host.arg, level, msg);
	else
		log_warn("%s", msg);
	free(msg);
}

/* Send one JSON-RPC message (o taken over). */
static void
mcp_send(struct mcp_server *s, struct json_object *o)
{
	struct json_object *id, *method;
	size_t len;
	const char *text;
	int64_t rid = 0;

	json_object_object_add(o, "jsonrpc", json_object_new_string("2.0"));
	if (json_object_object_get_ex(o, "method", &method) &&
		json_object_object_get_ex(o, "id", &id))
		rid = json_object_get_int64(id);
	text = json_object_to_json_string_length(o,
		JSON_C_TO_STRING_PLAIN | JSON_C_TO_STRING_NOSLASHESCAPE, &len);
	if (s->stdio != NULL)
		mcp_stdio_send(s->stdio, text, len);
	else if (s->http != NULL)
		mcp_http_send(s->http, text, len, rid);
	json_object_put(o);
}

/* A request (params taken over, may be NULL); returns its id. */
static int64_t
mcp_request(
	struct mcp_server *s, const char *method, struct json_object *params)
{
	struct json_object *o = json_object_new_object();
	int64_t id = ++s->next_id;

	json_object_object_add(o, "id", json_object_new_int64(id));
	json_object_object_add(o, "method", json_object_new_string(method));
	if (params != NULL)
		json_object_object_add(o, "params", params);
	mcp_send(s, o);
	return id;
}

static void
mcp_notify(struct mcp_server *s, const char *method, struct json_object *params)
{
	struct json_object *o = json_object_new_object();

	json_object_object_add(o, "method", json_object_new_string(method));
	if (params != NULL)
		json_object_object_add(o, "params", params);
	mcp_send(s, o);
}

static void
mcp_timer(struct mcp_server *s, int seconds)
{
	struct timeval tv = { seconds, 0 };

	evtimer_del(s->timer);
	evtimer_add(s->timer, &tv);
}

/* The first start of every server is over: wake the waiter. */
static void
mcp_check_first(struct mcp *m)
{
	struct timeval tv = { 0, 0 };
	size_t i;

	if (m->wait_cb == NULL)
		return;
	for (i = 0; i < m->n; i++)
		if (!m->servers[i].first_done)
			return;
	event_add(m->wait_ev, &tv);
}

static void
mcp_wait_cb(evutil_socket_t fd, short what, void *arg)
{
	struct mcp *m = arg;
	mcp_ready_cb cb = m->wait_cb;

	m->wait_cb = NULL;
	if (cb != NULL)
		cb(m->wait_arg);
}

/* Finish a call: cb gets the result; c is freed. */
static void
mcp_call_finish(struct mcp_call *c, struct tool_result *res)
{
	tool_done_cb cb = c->cb;
	void *arg = c->arg;

	TAILQ_REMOVE(&c->s->calls, c, entry);
	c->cb = NULL;
	mcp_call_cancel(c);
	cb(arg, res);
	tool_result_clear(res);
}

static void mcp_call_fail(struct mcp_call *c, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));

static void
mcp_call_fail(struct mcp_call *c, const char *fmt, ...)
{
	struct tool_result res = { 0 };
	va_list ap;
	char *msg;

	va_start(ap, fmt);
	if (vasprintf(&msg, fmt, ap) < 0)
		msg = NULL;
	va_end(ap);
	res.is_error = true;
	res.summary = xstrfmt(
		"MCP server %s: %s", c->s->cfg.name, msg ? msg : "failed");
	res.output = xstrfmt("tool_error: %s (MCP server %s): %s", c->full,
		c->s->cfg.name, msg ? msg : "failed");
	free(msg);
	mcp_call_finish(c, &res);
}

/* Fail every call of s but keep (the server is gone); new calls may
 * come in from the callbacks and stay queued. */
static void
mcp_fail_calls(struct mcp_server *s, const char *cause, struct mcp_call *keep)
{
	struct mcp_calls old;
	struct mcp_call *c;

	TAILQ_INIT(&old);
	TAILQ_CONCAT(&old, &s->calls, entry);
	while ((c = TAILQ_FIRST(&old)) != NULL) {
		TAILQ_REMOVE(&old, c, entry);
		TAILQ_INSERT_TAIL(&s->calls, c, entry);
		if (c != keep)
			mcp_call_fail(c, "%s", cause);
	}
}

static void mcp_server_down(struct mcp_server *s, const char *cause,
	struct mcp_call *keep, bool now);

/* The transport failed: fail the calls, close, back off. */
void
mcp_server_lost(struct mcp_server *s, const char *cause)
{
	mcp_server_down(s, cause, NULL, false);
}

/*
 * The HTTP server does not know the session any more (404): a new one
 * is made at once (the first time since the server was ready; later
 * ones back off), and the request that met the 404, which the server
 * did not run, is sent again once on it.
 */
void
mcp_server_session_expired(struct mcp_server *s, int64_t id, const char *cause)
{
	struct mcp_call *c = id != 0 ? mcp_call_by_rpc(s, id) : NULL;

	if (c != NULL && !c->resent) {
		c->resent = true;
		c->rpc_id = 0;
	} else {
		c = NULL;
	}
	mcp_server_down(s, cause, c, s->fails == 0);
}

static void
mcp_server_down(struct mcp_server *s, const char *cause, struct mcp_call *keep,
	bool now)
{
	int delay;

	mcp_close_transport(s);
	s->init_id = s->list_id = 0;
	if (s->m->stopped) {
		s->state = MCP_STOPPED;
		mcp_fail_calls(s, cause, NULL);
		return;
	}
	mcp_toollist_retire(s->m, s->listing);
	s->listing = NULL;
	free(s->last_error);
	s->last_error = xstrdup(cause);
	s->fails++;
	delay = 1 << (s->fails - 1 < 5 ? s->fails - 1 : 5);
	if (delay > MCP_BACKOFF_MAX_S)
		delay = MCP_BACKOFF_MAX_S;
	if (now)
		delay = 0;
	s->state = MCP_BACKOFF;
	log_warn("MCP server %s: %s; restarting in %d s", s->cfg.name, cause,
		delay);
	mcp_alert(s->m, "warn", "MCP server %s: %s; restarting in %d s",
		s->cfg.name, cause, delay);
	mcp_timer(s, delay);
	mcp_fail_calls(s, cause, keep);
	if (!s->first_done) {
		s->first_done = true;
		mcp_check_first(s->m);
	}
}

static void
mcp_server_timer_cb(evutil_socket_t fd, short what, void *arg)
{
	struct mcp_server *s = arg;
	char *cause;

	if (s->state == MCP_BACKOFF) {
		mcp_server_begin(s);
		return;
	}
	if (s->state == MCP_STARTING) {
		cause = xstrfmt("no answer to %s within %d s",
			s->init_id != 0 ? "initialize" : "tools/list",
			s->cfg.init_timeout_s);
		mcp_server_lost(s, cause);
		free(cause);
	}
}

static void
mcp_server_begin(struct mcp_server *s)
{
	struct json_object *p, *ci;
	char *err = NULL;

	s->state = MCP_STARTING;
	free(s->version);
	s->version = NULL;
	if (s->cfg.url != NULL) {
		if (s->m->pool == NULL)
			s->m->pool = mcp_http_pool_new(s->m->host.base);
		s->http = mcp_http_open(s, s->m->pool, &err);
	} else {
		s->stdio = mcp_stdio_open(s, &err);
	}
	if (!mcp_connected(s)) {
		mcp_server_lost(s, err ? err : "cannot start");
		free(err);
		return;
	}
	if (s->stdio != NULL)
		log_info("MCP server %s: started (pid %d)", s->cfg.name,
			mcp_stdio_pid(s->stdio));
	else
		log_info("MCP server %s: connecting (Streamable HTTP)",
			s->cfg.name);
	p = json_object_new_object();
	json_object_object_add(p, "protocolVersion",
		json_object_new_string(MCP_PROTOCOL_LATEST));
	json_object_object_add(p, "capabilities", json_object_new_object());
	ci = json_object_new_object();
	json_object_object_add(ci, "name", json_object_new_string("podvisor"));
	json_object_object_add(ci, "version", json_object_new_string("0.1"));
	json_object_object_add(p, "clientInfo", ci);
	s->init_id = mcp_request(s, "initialize", p);
	mcp_timer(s, s->cfg.init_timeout_s);
}

static void
mcp_list_request(struct mcp_server *s, const char *cursor)
{
	struct json_object *p = NULL;

	if (cursor != NULL) {
		p = json_object_new_object();
		json_object_object_add(
			p, "cursor", json_object_new_string(cursor));
	}
	s->list_id = mcp_request(s, "tools/list", p);
}

static void
mcp_list_start(struct mcp_server *s)
{
	if (s->list_id != 0) {
		s->relist = true;
		return;
	}
	mcp_toollist_retire(s->m, s->listing);
	s->listing = xcalloc(1, sizeof(*s->listing));
	s->pages = 0;
	s->relist = false;
	mcp_list_request(s, NULL);
}

/* The model's name for a server tool: invalid characters become '_'. */
static char *
mcp_full_name(const char *server, const char *tool)
{
	char *full = xstrfmt("mcp__%s__%s", server, tool), *p;

	for (p = full; *p; p++)
		if (!((*p >= 'a' && *p <= 'z') || (*p >= 'A' && *p <= 'Z') ||
			    (*p >= '0' && *p <= '9') || *p == '-' || *p == '_'))
			*p = '_';
	return full;
}

static void
mcp_list_add(struct mcp_server *s, struct json_object *t)
{
	struct mcp_toollist *l = s->listing;
	struct json_object *v, *schema;
	const char *name, *desc;
	struct mcp_tool *mt;
	size_t i, len;
	char *full;
	const char *js;

	if (!json_object_object_get_ex(t, "name", &v) ||
		!json_object_is_type(v, json_type_string))
		return;
	name = json_object_get_string(v);
	full = mcp_full_name(s->cfg.name, name);
	if (strlen(full) > MCP_TOOL_NAME_MAX || l->n >= MCP_MAX_TOOLS) {
		log_warn("MCP server %s: tool %.80s left out (%s)", s->cfg.name,
			name,
			l->n >= MCP_MAX_TOOLS ? "too many tools"
					      : "name longer than 64");
		free(full);
		return;
	}
	for (i = 0; i < l->n; i++)
		if (strcmp(l->v[i].full, full) == 0) {
			log_warn("MCP server %s: tool %.80s left out (its "
				 "name clashes with %s)",
				s->cfg.name, name, l->v[i].tool);
			free(full);
			return;
		}
	if (!json_object_object_get_ex(t, "inputSchema", &schema) ||
		!json_object_is_type(schema, json_type_object))
		schema = NULL;
	js = schema != NULL ? json_object_to_json_string_length(schema,
				      JSON_C_TO_STRING_PLAIN |
					      JSON_C_TO_STRING_NOSLASHESCAPE,
				      &len)
			    : "{\"type\":\"object\"}";
	if (schema != NULL && len > MCP_MAX_SCHEMA) {
		log_warn("MCP server %s: tool %.80s left out (schema over "
			 "64 KiB)",
			s->cfg.name, name);
		free(full);
		return;
	}
	desc = json_object_object_get_ex(t, "description", &v) &&
			json_object_is_type(v, json_type_string)
		? json_object_get_string(v)
		: "";
	l->v = xreallocarray(l->v, l->n + 1, sizeof(*l->v));
	mt = &l->v[l->n++];
	mt->full = full;
	mt->tool = xstrdup(name);
	mt->description = xstrndup(desc, MCP_MAX_DESCRIPTION);
	mt->schema_json = xstrdup(js);
}

static void
mcp_became_ready(struct mcp_server *s)
{
	struct mcp_call *c;

	evtimer_del(s->timer);
	s->state = MCP_READY;
	s->fails = 0;
	log_info("MCP server %s: ready (protocol %s, %zu tools%s)", s->cfg.name,
		s->version, s->tools ? s->tools->n : 0,
		mcp_http_session(s->http) != NULL ? ", with a session" : "");
	mcp_http_ready(s->http);
	if (!s->first_done) {
		s->first_done = true;
		mcp_check_first(s->m);
	}
	TAILQ_FOREACH(c, &s->calls, entry)
	{
		if (c->rpc_id == 0 && c->error == NULL)
			mcp_call_send(c);
	}
}

static void
mcp_on_list(struct mcp_server *s, struct json_object *result)
{
	struct json_object *tools, *cur;
	size_t i, n;

	s->list_id = 0;
	if (s->listing == NULL)
		return;
	if (json_object_object_get_ex(result, "tools", &tools) &&
		json_object_is_type(tools, json_type_array)) {
		n = json_object_array_length(tools);
		for (i = 0; i < n; i++)
			mcp_list_add(s, json_object_array_get_idx(tools, i));
	}
	s->pages++;
	if (json_object_object_get_ex(result, "nextCursor", &cur) &&
		json_object_is_type(cur, json_type_string) &&
		json_object_get_string_len(cur) > 0) {
		if (s->pages < MCP_MAX_PAGES) {
			mcp_list_request(s, json_object_get_string(cur));
			return;
		}
		log_warn("MCP server %s: tools/list cut after %d pages",
			s->cfg.name, MCP_MAX_PAGES);
	}
	mcp_toollist_retire(s->m, s->tools);
	s->tools = s->listing;
	s->listing = NULL;
	if (s->relist) {
		mcp_list_start(s);
		return;
	}
	if (s->state == MCP_STARTING)
		mcp_became_ready(s);
	else
		log_info("MCP server %s: tool list changed (%zu tools)",
			s->cfg.name, s->tools->n);
}

static int
mcp_on_init(struct mcp_server *s, struct json_object *result)
{
	struct json_object *v;
	const char *ver;
	char *cause;

	s->init_id = 0;
	ver = json_object_object_get_ex(result, "protocolVersion", &v)
		? json_object_get_string(v)
		: NULL;
	if (ver == NULL ||
		(strcmp(ver, MCP_PROTOCOL_LATEST) != 0 &&
			strcmp(ver, MCP_PROTOCOL_OLDEST) != 0)) {
		cause = xstrfmt("speaks MCP protocol version %.40s; podvisor "
				"supports %s and %s",
			ver ? ver : "(none)", MCP_PROTOCOL_LATEST,
			MCP_PROTOCOL_OLDEST);
		mcp_server_lost(s, cause);
		free(cause);
		return -EPROTO;
	}
	s->version = xstrdup(ver);
	mcp_notify(s, "notifications/initialized", NULL);
	mcp_list_start(s);
	return 0;
}

static struct mcp_call *
mcp_call_by_rpc(struct mcp_server *s, int64_t id)
{
	struct mcp_call *c;

	TAILQ_FOREACH(c, &s->calls, entry)
	{
		if (c->rpc_id == id)
			return c;
	}
	return NULL;
}

static void
mcp_on_response(struct mcp_server *s, int64_t id, struct json_object *result,
	struct json_object *error)
{
	struct tool_result res = { 0 };
	struct json_object *v;
	struct mcp_call *c;
	const char *msg;

	msg = error != NULL && json_object_object_get_ex(error, "message", &v)
		? json_object_get_string(v)
		: "error without a message";
	if (id == s->init_id && s->init_id != 0) {
		if (error != NULL || result == NULL) {
			char *cause = xstrfmt("initialize failed: %.200s", msg);

			mcp_server_lost(s, cause);
			free(cause);
			return;
		}
		mcp_on_init(s, result);
		return;
	}
	if (id == s->list_id && s->list_id != 0) {
		if (error != NULL || result == NULL) {
			s->list_id = 0;
			log_warn("MCP server %s: tools/list failed: %.200s",
				s->cfg.name, msg);
			result = NULL;
		}
		mcp_on_list(s, result);
		return;
	}
	c = mcp_call_by_rpc(s, id);
	if (c == NULL) {
		log_debug("MCP server %s: answer to unknown id %" PRId64,
			s->cfg.name, id);
		return;
	}
	if (error != NULL || result == NULL) {
		mcp_call_fail(c, "the call failed: %.500s", msg);
		return;
	}
	mcp_result_convert(s->cfg.name, c->tool, result, &res);
	mcp_call_finish(c, &res);
}

/* Is request id still waiting for its answer? */
bool
mcp_server_request_pending(struct mcp_server *s, int64_t id)
{
	return id != 0 &&
		(id == s->init_id || id == s->list_id ||
			mcp_call_by_rpc(s, id) != NULL);
}

/* The transport says request id ended unanswered. */
void
mcp_server_request_ended(struct mcp_server *s, int64_t id, const char *cause)
{
	struct mcp_call *c;

	if (id == 0)
		return;
	if ((id == s->init_id && s->init_id != 0) ||
		(id == s->list_id && s->list_id != 0)) {
		mcp_server_lost(s, cause);
		return;
	}
	c = mcp_call_by_rpc(s, id);
	if (c != NULL)
		mcp_call_fail(c, "%s", cause);
}

static void
mcp_on_request(struct mcp_server *s, struct json_object *id, const char *method)
{
	struct json_object *o = json_object_new_object(), *e;

	json_object_object_add(o, "id", json_object_get(id));
	if (strcmp(method, "ping") == 0) {
		json_object_object_add(o, "result", json_object_new_object());
	} else {
		e = json_object_new_object();
		json_object_object_add(e, "code", json_object_new_int(-32601));
		json_object_object_add(e, "message",
			json_object_new_string("method not supported by "
					       "podvisor"));
		json_object_object_add(o, "error", e);
	}
	mcp_send(s, o);
}

static void
mcp_on_progress(struct mcp_server *s, struct json_object *params)
{
	struct json_object *v;
	struct mcp_call *c;
	const char *tok, *msg = NULL;
	double progress = 0, total = 0;
	struct timeval tv;

	if (!json_object_object_get_ex(params, "progressToken", &v))
		return;
	tok = json_object_get_string(v);
	TAILQ_FOREACH(c, &s->calls, entry)
	{
		if (c->rpc_id != 0 && strcmp(c->call_id, tok) == 0)
			break;
	}
	if (c == NULL)
		return;
	if (json_object_object_get_ex(params, "progress", &v))
		progress = json_object_get_double(v);
	if (json_object_object_get_ex(params, "total", &v))
		total = json_object_get_double(v);
	if (json_object_object_get_ex(params, "message", &v))
		msg = json_object_get_string(v);
	/* A call that reports progress is alive: its timeout starts over. */
	tv.tv_sec = s->cfg.timeout_s;
	tv.tv_usec = 0;
	evtimer_add(c->timer, &tv);
	if (s->m->host.progress != NULL)
		s->m->host.progress(
			s->m->host.arg, c->call_id, progress, total, msg);
}

static void
mcp_on_notification(
	struct mcp_server *s, const char *method, struct json_object *params)
{
	struct json_object *v;

	if (strcmp(method, "notifications/tools/list_changed") == 0) {
		if (s->state == MCP_READY)
			mcp_list_start(s);
	} else if (strcmp(method, "notifications/progress") == 0) {
		mcp_on_progress(s, params);
	} else if (strcmp(method, "notifications/message") == 0) {
		v = NULL;
		if (params != NULL)
			json_object_object_get_ex(params, "data", &v);
		log_info("MCP server %s says: %.*s", s->cfg.name,
			MCP_STDERR_LINE_MAX,
			v ? json_object_to_json_string_ext(
				    v, JSON_C_TO_STRING_PLAIN)
			  : "");
	}
}

static int
mcp_dispatch(struct mcp_server *s, struct json_object *o)
{
	struct json_object *id = NULL, *method = NULL, *result = NULL,
			   *error = NULL, *params = NULL;
	bool has_id;

	if (!json_object_is_type(o, json_type_object))
		return -EPROTO;
	has_id = json_object_object_get_ex(o, "id", &id) && id != NULL;
	json_object_object_get_ex(o, "method", &method);
	json_object_object_get_ex(o, "result", &result);
	json_object_object_get_ex(o, "error", &error);
	json_object_object_get_ex(o, "params", &params);
	if (method != NULL && json_object_is_type(method, json_type_string)) {
		if (has_id)
			mcp_on_request(s, id, json_object_get_string(method));
		else
			mcp_on_notification(
				s, json_object_get_string(method), params);
		return 0;
	}
	if (has_id && json_object_is_type(id, json_type_int) &&
		(result != NULL || error != NULL)) {
		mcp_on_response(s, json_object_get_int64(id), result, error);
		return 0;
	}
	if (has_id && error != NULL)
		return 0; /* an error about something we sent: logged below */
	return -EPROTO;
}

/* One message from the transport. */
int
mcp_server_recv(struct mcp_server *s, const char *data, size_t len)
{
	unsigned cur = s->gen;
	struct json_tokener *tok;
	struct json_object *o;
	char *cause;
	size_t i, n;
	int r = 0;

	tok = json_tokener_new_ex(32);
	o = json_tokener_parse_ex(tok, data, (int)len);
	if (o == NULL || json_tokener_get_parse_end(tok) != len)
		r = -EPROTO;
	json_tokener_free(tok);
	if (r == 0 && json_object_is_type(o, json_type_array)) {
		n = json_object_array_length(o);
		for (i = 0; r == 0 && i < n && s->gen == cur; i++)
			r = mcp_dispatch(s, json_object_array_get_idx(o, i));
	} else if (r == 0) {
		r = mcp_dispatch(s, o);
	}
	json_object_put(o);
	if (r == 0 && s->gen != cur)
		return -EPIPE; /* lost while handling it: the transport is gone */
	if (r < 0 && s->gen != cur)
		return r;
	if (r < 0) {
		cause = xstrfmt("sent something that is not JSON-RPC: "
				"\"%.*s\"",
			(int)(len < 60 ? len : 60), data);
		for (i = 0; cause[i]; i++)
			if ((unsigned char)cause[i] < 0x20)
				cause[i] = ' ';
		mcp_server_lost(s, cause);
		free(cause);
	}
	return r;
}

/* A new client: nothing starts yet. */
struct mcp *
mcp_new(const struct mcp_host *host, struct mcp_server_config *configs,
	size_t n)
{
	struct mcp *m = xcalloc(1, sizeof(*m));
	size_t i;

	m->host = *host;
	m->n = n;
	m->servers = xcalloc(n + 1, sizeof(*m->servers));
	for (i = 0; i < n; i++) {
		struct mcp_server *s = &m->servers[i];

		s->m = m;
		s->cfg = configs[i];
		s->timer = evtimer_new(host->base, mcp_server_timer_cb, s);
		TAILQ_INIT(&s->calls);
	}
	free(configs);
	m->wait_ev = evtimer_new(host->base, mcp_wait_cb, m);
	return m;
}

/* Start every server. */
void
mcp_start(struct mcp *m)
{
	size_t i;

	for (i = 0; m != NULL && i < m->n; i++)
		if (m->servers[i].state == MCP_STOPPED)
			mcp_server_begin(&m->servers[i]);
}

/* Kill every server; no callbacks. */
void
mcp_free(struct mcp *m)
{
	struct mcp_toollist *l;
	struct mcp_call *c;
	size_t i;

	if (m == NULL)
		return;
	for (i = 0; i < m->n; i++) {
		struct mcp_server *s = &m->servers[i];

		while ((c = TAILQ_FIRST(&s->calls)) != NULL) {
			TAILQ_REMOVE(&s->calls, c, entry);
			c->cb = NULL;
			c->s = NULL;
			mcp_call_cancel(c);
		}
		mcp_close_transport(s);
		if (s->timer != NULL)
			event_free(s->timer);
		mcp_toollist_free(s->tools);
		mcp_toollist_free(s->listing);
		mcp_server_config_clear(&s->cfg);
		free(s->version);
		free(s->last_error);
	}
	while ((l = m->retired) != NULL) {
		m->retired = l->next;
		mcp_toollist_free(l);
	}
	if (m->wait_ev != NULL)
		event_free(m->wait_ev);
	mcp_http_pool_free(m->pool);
	free(m->servers);
	free(m);
}

/* Stop every server for good (the worker is shutting down). */
void
mcp_stop(struct mcp *m)
{
	size_t i;

	if (m == NULL || m->stopped)
		return;
	m->stopped = true;
	for (i = 0; i < m->n; i++) {
		struct mcp_server *s = &m->servers[i];

		evtimer_del(s->timer);
		if (mcp_connected(s) || s->state != MCP_STOPPED)
			mcp_server_lost(s, "the pod is shutting down");
	}
}

/* No HTTP request (a DELETE) in flight any more. */
bool
mcp_flushed(const struct mcp *m)
{
	return m == NULL || mcp_http_pool_pending(m->pool) == 0;
}

size_t
mcp_nservers(const struct mcp *m)
{
	return m != NULL ? m->n : 0;
}

const char *
mcp_server_name(const struct mcp *m, size_t i)
{
	return m->servers[i].cfg.name;
}

const char *
mcp_server_state(const struct mcp *m, size_t i)
{
	static const char *const names[] = { "stopped", "starting", "ready",
		"backoff" };

	return names[m->servers[i].state];
}

/* Is pid one of the servers' leaders? */
bool
mcp_owns_pid(const struct mcp *m, int pid)
{
	size_t i;

	for (i = 0; m != NULL && i < m->n; i++)
		if (m->servers[i].stdio != NULL &&
			mcp_stdio_pid(m->servers[i].stdio) == pid)
			return true;
	return false;
}

/* Wait for the first start of every server. */
bool
mcp_wait_first(struct mcp *m, mcp_ready_cb cb, void *arg)
{
	size_t i;

	if (m == NULL)
		return false;
	for (i = 0; i < m->n; i++)
		if (!m->servers[i].first_done)
			break;
	if (i == m->n)
		return false;
	m->wait_cb = cb;
	m->wait_arg = arg;
	return true;
}

void
mcp_wait_cancel(struct mcp *m)
{
	if (m == NULL)
		return;
	m->wait_cb = NULL;
	m->wait_arg = NULL;
	event_del(m->wait_ev);
}

/* Append the MCP tools to the model's definitions. */
size_t
mcp_defs(struct mcp *m, struct llm_tool_def **io_defs, size_t nbase)
{
	struct mcp_toollist *l;
	size_t i, j, n = nbase;

	if (m == NULL)
		return nbase;
	while ((l = m->retired) != NULL) {
		m->retired = l->next;
		mcp_toollist_free(l);
	}
	for (i = 0; i < m->n; i++) {
		l = m->servers[i].tools;
		if (l == NULL || l->n == 0)
			continue;
		*io_defs = xreallocarray(
			*io_defs, n + l->n + 1, sizeof(**io_defs));
		for (j = 0; j < l->n; j++, n++) {
			(*io_defs)[n].name = l->v[j].full;
			(*io_defs)[n].description = l->v[j].description;
			(*io_defs)[n].schema_json = l->v[j].schema_json;
		}
	}
	return n;
}

/* Add the names of the MCP tools to names. */
void
mcp_tool_names(const struct mcp *m, struct json_object *names)
{
	size_t i, j;

	for (i = 0; m != NULL && i < m->n; i++)
		for (j = 0; m->servers[i].tools != NULL &&
			j < m->servers[i].tools->n;
			j++)
			json_object_array_add(names,
				json_object_new_string(
					m->servers[i].tools->v[j].full));
}

static struct mcp_server *
mcp_server_of(const struct mcp *m, const char *full)
{
	size_t i, k;

	if (m == NULL || strncmp(full, "mcp__", 5) != 0)
		return NULL;
	for (i = 0; i < m->n; i++) {
		k = strlen(m->servers[i].cfg.name);
		if (strncmp(full + 5, m->servers[i].cfg.name, k) == 0 &&
			strncmp(full + 5 + k, "__", 2) == 0 &&
			full[7 + k] != '\0')
			return &m->servers[i];
	}
	return NULL;
}

bool
mcp_is_mcp_tool(const struct mcp *m, const char *full)
{
	return mcp_server_of(m, full) != NULL;
}

static void
mcp_call_timer_cb(evutil_socket_t fd, short what, void *arg)
{
	struct mcp_call *c = arg;
	struct json_object *p;

	if (c->error != NULL) {
		char *e = c->error;

		c->error = NULL;
		mcp_call_fail(c, "%s", e);
		free(e);
		return;
	}
	if (c->rpc_id != 0) {
		p = json_object_new_object();
		json_object_object_add(
			p, "requestId", json_object_new_int64(c->rpc_id));
		json_object_object_add(
			p, "reason", json_object_new_string("timeout"));
		mcp_notify(c->s, "notifications/cancelled", p);
	}
	mcp_call_fail(c, "no answer within the %d s timeout%s",
		c->s->cfg.timeout_s,
		c->rpc_id == 0 ? " (the server did not come up)" : "");
}

static void
mcp_call_send(struct mcp_call *c)
{
	struct json_object *p = json_object_new_object(), *meta;

	json_object_object_add(p, "name", json_object_new_string(c->tool));
	json_object_object_add(p, "arguments", json_object_get(c->args));
	meta = json_object_new_object();
	json_object_object_add(
		meta, "progressToken", json_object_new_string(c->call_id));
	json_object_object_add(p, "_meta", meta);
	c->rpc_id = mcp_request(c->s, "tools/call", p);
}

/* Start a tools/call. */
struct mcp_call *
mcp_call_start(struct mcp *m, const char *full, const char *args_json,
	const char *call_id, tool_done_cb cb, void *arg)
{
	struct mcp_server *s = mcp_server_of(m, full);
	struct json_tokener *tok;
	struct mcp_call *c;
	struct timeval tv = { 0, 0 };
	size_t i;

	if (s == NULL)
		return NULL;
	c = xcalloc(1, sizeof(*c));
	c->s = s;
	c->full = xstrdup(full);
	c->call_id = xstrdup(call_id ? call_id : "");
	c->cb = cb;
	c->arg = arg;
	c->timer = evtimer_new(m->host.base, mcp_call_timer_cb, c);
	TAILQ_INSERT_TAIL(&s->calls, c, entry);
	for (i = 0; s->tools != NULL && i < s->tools->n; i++)
		if (strcmp(s->tools->v[i].full, full) == 0)
			c->tool = xstrdup(s->tools->v[i].tool);
	tok = json_tokener_new_ex(32);
	c->args = json_tokener_parse_ex(tok, args_json, (int)strlen(args_json));
	if (c->args == NULL ||
		json_tokener_get_parse_end(tok) != strlen(args_json) ||
		!json_object_is_type(c->args, json_type_object)) {
		json_object_put(c->args);
		c->args = NULL;
		c->error = xstrdup("the arguments are not a JSON object");
	}
	json_tokener_free(tok);
	if (c->error == NULL && c->tool == NULL)
		c->error = xstrfmt("the server has no tool named by %s%s%s",
			full, s->last_error ? "; last failure: " : "",
			s->last_error ? s->last_error : "");
	if (c->error != NULL) {
		evtimer_add(c->timer, &tv);
		return c;
	}
	tv.tv_sec = s->cfg.timeout_s;
	evtimer_add(c->timer, &tv);
	if (s->state == MCP_READY)
		mcp_call_send(c);
	else
		log_info("MCP server %s is %s: %s waits for it", s->cfg.name,
			s->state == MCP_BACKOFF ? "restarting" : "starting",
			full);
	return c;
}

/* Cancel: tell the server when the call was sent; no callback. */
void
mcp_call_cancel(struct mcp_call *c)
{
	struct json_object *p;

	if (c == NULL)
		return;
	if (c->cb != NULL) {
		/* Cancelled by the caller while in flight. */
		TAILQ_REMOVE(&c->s->calls, c, entry);
		if (c->rpc_id != 0 && mcp_connected(c->s)) {
			p = json_object_new_object();
			json_object_object_add(p, "requestId",
				json_object_new_int64(c->rpc_id));
			json_object_object_add(p, "reason",
				json_object_new_string("the turn was "
						       "cancelled"));
			mcp_notify(c->s, "notifications/cancelled", p);
		}
	}
	if (c->timer != NULL)
		event_free(c->timer);
	json_object_put(c->args);
	free(c->full);
	free(c->tool);
	free(c->call_id);
	free(c->error);
	free(c);
}
