/* SPDX-License-Identifier: ISC */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <netinet/in.h>

#include <event2/buffer.h>
#include <event2/bufferevent.h>
#include <event2/event.h>
#include <event2/http.h>
#include <json-c/json.h>

#include "common/log.h"
#include "common/xmalloc.h"

#include "agent.h"
#include "cache.h"
#include "conv.h"
#include "record.h"
#include "replay.h"
#include "reply.h"
#include "scenario.h"
#include "server.h"
#include "sse.h"

#define SERVER_MAX_BODY (64 * 1024 * 1024)
#define SERVER_TIMEOUT_S 600
#define SERVER_FRAGMENT_DELAY_MS 10
#define SERVER_STORED_MAX 256 /* responses kept for previous_response_id */

/*
 * One response in progress.  Streams are sent event by event from a timer
 * so that slow streams never block the loop.  The connection's close
 * callback marks a response whose client went away; the next step frees
 * the (then detached) request.
 */
struct server_resp {
	struct fakellm *fl;
	struct evhttp_request *req;
	struct evhttp_connection *conn; /* NULL once closed */
	struct event *timer;
	TAILQ_ENTRY(server_resp) entry;
	int status;
	char *body; /* non-stream body */
	struct sse_events ev; /* stream pieces */
	size_t next;
	int stream;
	int started;
	int delay_ms;
	int cut_after;
	int stall_after;
};

static const char *
server_reason(int status)
{
	switch (status) {
	case 200:
		return "OK";
	case 400:
		return "Bad Request";
	case 401:
		return "Unauthorized";
	case 403:
		return "Forbidden";
	case 404:
		return "Not Found";
	case 405:
		return "Method Not Allowed";
	case 413:
		return "Payload Too Large";
	case 429:
		return "Too Many Requests";
	case 500:
		return "Internal Server Error";
	case 502:
		return "Bad Gateway";
	case 503:
		return "Service Unavailable";
	case 529:
		return "Overloaded";
	default:
		return "Error";
	}
}

static void
server_resp_free(struct server_resp *rs)
{
	TAILQ_REMOVE(&rs->fl->resps, rs, entry);
	event_free(rs->timer);
	free(rs->body);
	sse_events_clear(&rs->ev);
	free(rs);
}

/* Forget the connection's close callback; call before the reply ends. */
static void
server_resp_release(struct server_resp *rs)
{
	if (rs->conn != NULL)
		evhttp_connection_set_closecb(rs->conn, NULL, NULL);
	rs->conn = NULL;
}

/* The client went away: free the detached request and the response. */
static void
server_resp_abort(struct server_resp *rs)
{
	if (evhttp_request_get_connection(rs->req) == NULL)
		evhttp_send_reply_end(rs->req); /* frees a detached request */
	log_debug("response %p: client gone after %zu events", (void *)rs,
		rs->next);
	server_resp_free(rs);
}

/* Flush what is queued and close the socket under the stream. */
static void
server_resp_cut(struct server_resp *rs)
{
	struct bufferevent *bev = evhttp_connection_get_bufferevent(rs->conn);
	struct evbuffer *out = bufferevent_get_output(bev);
	evutil_socket_t fd = bufferevent_getfd(bev);

	while (evbuffer_get_length(out) > 0 && evbuffer_write(out, fd) > 0)
		;
	evbuffer_drain(out, evbuffer_get_length(out));
	shutdown(fd, SHUT_RDWR);
	/* the EOF that follows runs the close callback, then abort */
}

static void
server_resp_chunk(struct server_resp *rs, const char *s)
{
	struct evbuffer *b = evbuffer_new();

	evbuffer_add(b, s, strlen(s));
	evhttp_send_reply_chunk(rs->req, b);
	evbuffer_free(b);
}

static void
server_resp_step(struct server_resp *rs)
{
	struct evbuffer *b;

	if (rs->conn == NULL ||
		evhttp_request_get_connection(rs->req) == NULL) {
		server_resp_abort(rs);
		return;
	}
	if (!rs->stream) {
		b = evbuffer_new();
		evbuffer_add(b, rs->body, strlen(rs->body));
		server_resp_release(rs);
		evhttp_send_reply(
			rs->req, rs->status, server_reason(rs->status), b);
		evbuffer_free(b);
		server_resp_free(rs);
		return;
	}
	if (!rs->started) {
		evhttp_send_reply_start(rs->req, 200, "OK");
		rs->started = 1;
	}
	for (;;) {
		if (rs->cut_after >= 0 && rs->next == (size_t)rs->cut_after) {
			server_resp_cut(rs);
			return;
		}
		if (rs->stall_after >= 0 && rs->next == (size_t)rs->stall_after)
			return; /* until the client goes */
		if (rs->next == rs->ev.n) {
			server_resp_release(rs);
			evhttp_send_reply_end(rs->req);
			server_resp_free(rs);
			return;
		}
		server_resp_chunk(rs, rs->ev.v[rs->next++]);
		if (rs->delay_ms > 0 && rs->next < rs->ev.n) {
			struct timeval tv = { rs->delay_ms / 1000,
				(rs->delay_ms % 1000) * 1000 };

			evtimer_add(rs->timer, &tv);
			return;
		}
	}
}

static void
server_resp_timer_cb(evutil_socket_t fd, short what, void *arg)
{
	server_resp_step(arg);
}

static void
server_resp_close_cb(struct evhttp_connection *conn, void *arg)
{
	struct server_resp *rs = arg;

	rs->conn = NULL;
	event_active(rs->timer, EV_TIMEOUT, 1);
}

static struct server_resp *
server_resp_new(struct fakellm *fl, struct evhttp_request *req, int status)
{
	struct server_resp *rs = xcalloc(1, sizeof(*rs));

	rs->fl = fl;
	rs->req = req;
	rs->status = status;
	rs->cut_after = -1;
	rs->stall_after = -1;
	rs->conn = evhttp_request_get_connection(req);
	rs->timer = evtimer_new(fl->base, server_resp_timer_cb, rs);
	TAILQ_INSERT_TAIL(&fl->resps, rs, entry);
	evhttp_connection_set_closecb(rs->conn, server_resp_close_cb, rs);
	return rs;
}

/* Start sending rs, after initial_delay_ms when that is > 0. */
static void
server_resp_go(struct server_resp *rs, int initial_delay_ms)
{
	struct timeval tv;

	if (initial_delay_ms <= 0) {
		server_resp_step(rs);
		return;
	}
	tv.tv_sec = initial_delay_ms / 1000;
	tv.tv_usec = (initial_delay_ms % 1000) * 1000;
	evtimer_add(rs->timer, &tv);
}

static void
server_header(struct evhttp_request *req, const char *key, const char *value)
{
	evhttp_add_header(evhttp_request_get_output_headers(req), key, value);
}

/* Reply with a JSON body (taken). */
static void
server_json(struct fakellm *fl, struct evhttp_request *req, int status,
	char *body, int initial_delay_ms)
{
	struct server_resp *rs = server_resp_new(fl, req, status);

	server_header(req, "Content-Type", "application/json");
	rs->body = body;
	server_resp_go(rs, initial_delay_ms);
}

static void
server_error(struct fakellm *fl, struct evhttp_request *req,
	enum reply_format format, int status, const char *type,
	const char *code, const char *message)
{
	struct reply *r = reply_new();

	reply_set_fail(r, status, type, code, message);
	server_json(fl, req, status,
		format != REPLY_ANTHROPIC ? sse_openai_error(r)
					  : sse_anthropic_error(r),
		0);
	reply_free(r);
}

static int
server_check_key(struct fakellm *fl, struct evhttp_request *req,
	enum reply_format format)
{
	struct evkeyvalq *h = evhttp_request_get_input_headers(req);
	const char *v;
	char *want;
	int ok;

	if (fl->require_key == NULL)
		return 0;
	if (format != REPLY_ANTHROPIC) {
		v = evhttp_find_header(h, "Authorization");
		want = xstrfmt("Bearer %s", fl->require_key);
		ok = v != NULL && strcmp(v, want) == 0;
		free(want);
		if (!ok)
			server_error(fl, req, format, 401,
				"invalid_request_error", "invalid_api_key",
				v == NULL ? "You didn't provide an API key. "
					    "You need to provide your API key "
					    "in an Authorization header using "
					    "Bearer auth."
					  : "Incorrect API key provided.");
		return ok ? 0 : -EACCES;
	}
	v = evhttp_find_header(h, "x-api-key");
	if (v == NULL || strcmp(v, fl->require_key) != 0) {
		server_error(fl, req, format, 401, "authentication_error", NULL,
			v == NULL ? "x-api-key header is required"
				  : "invalid x-api-key");
		return -EACCES;
	}
	if (evhttp_find_header(h, "anthropic-version") == NULL) {
		server_error(fl, req, format, 401, "authentication_error", NULL,
			"anthropic-version: header is required");
		return -EACCES;
	}
	return 0;
}

/* Fill in token estimates the reply does not set. */
static void
server_usage(struct reply *r, size_t body_len)
{
	size_t out = 0, i;

	if (r->input_tokens < 0)
		r->input_tokens = (int)(body_len / 4);
	if (r->output_tokens >= 0)
		return;
	if (r->text != NULL)
		out += strlen(r->text);
	if (r->thinking != NULL)
		out += strlen(r->thinking);
	for (i = 0; i < r->ntools; i++)
		out += strlen(r->tools[i].name) + strlen(r->tools[i].args);
	r->output_tokens = (int)(out / 4 + 1);
}

/* Apply the stream effects of r to the rendered events of rs. */
static void
server_effects(
	struct server_resp *rs, const struct reply *r, enum reply_format format)
{
	struct sse_events halves = { NULL, 0 };
	size_t i, len;

	if (r->error_after >= 0) {
		sse_events_truncate(&rs->ev, (size_t)r->error_after);
		sse_events_add(&rs->ev,
			format == REPLY_OPENAI
				? sse_openai_error_event(
					  r->error_type, r->error_message)
				: format == REPLY_RESPONSES
				? sse_responses_error_event(
					  r->error_type, r->error_message)
				: sse_anthropic_error_event(
					  r->error_type, r->error_message));
	}
	if (r->malformed_after >= 0)
		sse_events_insert(&rs->ev, (size_t)r->malformed_after,
			format == REPLY_OPENAI ? sse_openai_malformed()
				: format == REPLY_RESPONSES
				? sse_responses_malformed()
				: sse_anthropic_malformed());
	rs->delay_ms = r->delay_ms;
	rs->cut_after = r->cut_after;
	rs->stall_after = r->stall_after;
	if (r->pieces > 0) {
		/* The same bytes in pieces: counts are pieces now. */
		replay_pieces(&rs->ev, r->pieces, r->pieces_seed);
		return;
	}
	if (!r->fragment)
		return;
	for (i = 0; i < rs->ev.n; i++) {
		len = strlen(rs->ev.v[i]) / 2;
		sse_events_add(&halves, xstrndup(rs->ev.v[i], len));
		sse_events_add(&halves, xstrdup(rs->ev.v[i] + len));
	}
	sse_events_clear(&rs->ev);
	rs->ev = halves;
	if (rs->cut_after >= 0)
		rs->cut_after *= 2;
	if (rs->stall_after >= 0)
		rs->stall_after *= 2;
	if (rs->delay_ms < SERVER_FRAGMENT_DELAY_MS)
		rs->delay_ms = SERVER_FRAGMENT_DELAY_MS;
}

static void
server_send_reply(struct fakellm *fl, struct evhttp_request *req,
	struct reply *r, const struct conv *c)
{
	enum reply_format format = c->format;
	struct server_resp *rs;
	char *v;
	unsigned seq = ++fl->msg_seq;

	v = xstrfmt("req_fake%04u", seq);
	server_header(req,
		format != REPLY_ANTHROPIC ? "x-request-id" : "request-id", v);
	free(v);
	if (r->status != 0) {
		if (r->retry_after >= 0) {
			v = xstrfmt("%d", r->retry_after);
			server_header(req, "Retry-After", v);
			free(v);
		}
		if (r->retry_after_ms >= 0) {
			v = xstrfmt("%d", r->retry_after_ms);
			server_header(req, "retry-after-ms", v);
			free(v);
		}
		server_json(fl, req, r->status,
			format != REPLY_ANTHROPIC ? sse_openai_error(r)
						  : sse_anthropic_error(r),
			r->initial_delay_ms);
		return;
	}
	if (!c->stream) {
		server_json(fl, req, 200,
			format == REPLY_OPENAI ? sse_openai_body(r, c, seq)
				: format == REPLY_RESPONSES
				? sse_responses_body(r, c, seq)
				: sse_anthropic_body(r, c, seq),
			r->initial_delay_ms);
		return;
	}
	rs = server_resp_new(fl, req, 200);
	rs->stream = 1;
	server_header(req, "Content-Type", "text/event-stream; charset=utf-8");
	server_header(req, "Cache-Control", "no-cache");
	if (r->replay != NULL) {
		char *err = NULL;

		if (replay_load(r->replay, &rs->ev, &err) < 0) {
			log_warn("%s", err);
			sse_events_add(&rs->ev,
				format == REPLY_ANTHROPIC
					? sse_anthropic_error_event(NULL, err)
					: sse_openai_error_event(NULL, err));
			free(err);
		}
	} else if (format == REPLY_OPENAI)
		sse_openai_events(r, c, seq, &rs->ev);
	else if (format == REPLY_RESPONSES)
		sse_responses_events(r, c, seq, &rs->ev);
	else
		sse_anthropic_events(r, c, seq, &rs->ev);
	server_effects(rs, r, format);
	server_resp_go(rs, r->initial_delay_ms);
}

static struct reply *
server_pick(struct fakellm *fl, const struct conv *c)
{
	struct reply *r = NULL;
	char *msg;

	if (fl->scenario != NULL) {
		r = scenario_reply(
			fl->scenario, c, fl->requests, &fl->tool_seq);
		if (r != NULL)
			return r;
		switch (scenario_fallback(fl->scenario)) {
		case SCENARIO_ECHO:
			r = agent_reply(c, 1, &fl->tool_seq);
			r->source = "echo";
			return r;
		case SCENARIO_ERROR:
			r = reply_new();
			msg = xstrfmt("fakellm: no scenario rule matched "
				      "request %u",
				fl->requests);
			reply_set_fail(r, 500, NULL, NULL, msg);
			free(msg);
			r->source = "no rule";
			return r;
		default:
			break;
		}
	}
	return agent_reply(c, 0, &fl->tool_seq);
}

/*
 * Responses previous_response_id: the stored response's input and output
 * go before this request's input (in j, in place).  0, or -ENOENT once
 * the error is sent.
 */
static int
server_prev_expand(
	struct fakellm *fl, struct evhttp_request *req, struct json_object *j)
{
	struct json_object *v, *prev, *input, *all, *m;
	const char *id;
	char *msg;
	size_t i, n;

	if (!json_object_object_get_ex(j, "previous_response_id", &v) ||
		!json_object_is_type(v, json_type_string))
		return 0;
	id = json_object_get_string(v);
	if (fl->stored == NULL ||
		!json_object_object_get_ex(fl->stored, id, &prev)) {
		msg = xstrfmt("Previous response with id '%s' not found.", id);
		server_error(fl, req, REPLY_RESPONSES, 400,
			"invalid_request_error", "previous_response_not_found",
			msg);
		free(msg);
		return -ENOENT;
	}
	all = json_object_new_array();
	n = json_object_array_length(prev);
	for (i = 0; i < n; i++)
		json_object_array_add(all,
			json_object_get(json_object_array_get_idx(prev, i)));
	if (json_object_object_get_ex(j, "input", &input) &&
		json_object_is_type(input, json_type_string)) {
		m = json_object_new_object();
		json_object_object_add(
			m, "role", json_object_new_string("user"));
		json_object_object_add(m, "content", json_object_get(input));
		json_object_array_add(all, m);
	} else if (json_object_is_type(input, json_type_array)) {
		n = json_object_array_length(input);
		for (i = 0; i < n; i++)
			json_object_array_add(all,
				json_object_get(
					json_object_array_get_idx(input, i)));
	}
	json_object_object_add(j, "input", all);
	return 0;
}

/* Responses store: keep what the response with this seq saw and said. */
static void
server_store(struct fakellm *fl, struct json_object *j, const struct reply *r,
	const struct conv *c, unsigned seq)
{
	struct json_object *input, *all, *out;
	char *id;
	size_t i, n;

	if (c->format != REPLY_RESPONSES || !c->store || r->status != 0 ||
		r->replay != NULL)
		return;
	if (fl->stored == NULL ||
		json_object_object_length(fl->stored) >= SERVER_STORED_MAX) {
		json_object_put(fl->stored);
		fl->stored = json_object_new_object();
	}
	all = json_object_new_array();
	if (json_object_object_get_ex(j, "input", &input) &&
		json_object_is_type(input, json_type_string)) {
		struct json_object *m = json_object_new_object();

		json_object_object_add(
			m, "role", json_object_new_string("user"));
		json_object_object_add(m, "content", json_object_get(input));
		json_object_array_add(all, m);
	} else if (json_object_is_type(input, json_type_array)) {
		n = json_object_array_length(input);
		for (i = 0; i < n; i++)
			json_object_array_add(all,
				json_object_get(
					json_object_array_get_idx(input, i)));
	}
	out = sse_responses_output(r, c, seq);
	n = json_object_array_length(out);
	for (i = 0; i < n; i++)
		json_object_array_add(all,
			json_object_get(json_object_array_get_idx(out, i)));
	json_object_put(out);
	id = xstrfmt("resp_fake%04u", seq);
	json_object_object_add(fl->stored, id, all);
	free(id);
}

static void
server_chat(struct fakellm *fl, struct evhttp_request *req,
	enum reply_format format, const char *body, size_t len)
{
	struct json_tokener *tok;
	struct json_object *j;
	struct conv *c = NULL;
	struct reply *r;
	char *err = NULL;
	int cache_read, cache_write;

	if (evhttp_request_get_command(req) != EVHTTP_REQ_POST) {
		server_error(fl, req, format, 405, "invalid_request_error",
			NULL, "Only POST is supported on this path.");
		return;
	}
	if (server_check_key(fl, req, format) < 0) {
		log_info("request %u: 401 (API key check)", fl->requests);
		return;
	}
	tok = json_tokener_new_ex(32);
	j = json_tokener_parse_ex(tok, body, (int)len);
	if (j == NULL || json_tokener_get_parse_end(tok) != len) {
		json_tokener_free(tok);
		json_object_put(j);
		server_error(fl, req, format, 400, "invalid_request_error",
			NULL,
			format != REPLY_ANTHROPIC
				? "We could not parse the JSON "
				  "body of your request."
				: "There was an error parsing "
				  "the body of your request.");
		log_info("request %u: 400 (body is not JSON)", fl->requests);
		return;
	}
	json_tokener_free(tok);
	if (format == REPLY_RESPONSES) {
		if (server_prev_expand(fl, req, j) < 0) {
			log_info("request %u: 400 (previous_response_id)",
				fl->requests);
			json_object_put(j);
			return;
		}
		/* The whole context counts, stored part included. */
		len = strlen(json_object_to_json_string_ext(
			j, JSON_C_TO_STRING_PLAIN));
	}
	if (conv_parse(format, j, &c, &err) < 0 ||
		((fl->scenario == NULL || scenario_validates(fl->scenario)) &&
			conv_validate(c, &err) < 0)) {
		server_error(fl, req, format, 400, "invalid_request_error",
			NULL, err);
		log_info("request %u: 400 (%s)", fl->requests, err);
		free(err);
		conv_free(c);
		json_object_put(j);
		return;
	}
	if (fl->cache == NULL)
		fl->cache = cache_new();
	cache_account(fl->cache, format, j, &cache_read, &cache_write);
	r = server_pick(fl, c);
	server_usage(r, len);
	server_store(fl, j, r, c, fl->msg_seq + 1);
	json_object_put(j);
	r->cache_read =
		cache_read < r->input_tokens ? cache_read : r->input_tokens;
	r->cache_write = cache_write < r->input_tokens - r->cache_read
		? cache_write
		: r->input_tokens - r->cache_read;
	if (r->rule >= 0)
		log_info("request %u: %d %s (rule %d)", fl->requests,
			r->status != 0 ? r->status : 200,
			c->stream ? "stream" : "json", r->rule);
	else
		log_info("request %u: %d %s (%s)", fl->requests,
			r->status != 0 ? r->status : 200,
			c->stream ? "stream" : "json", r->source);
	server_send_reply(fl, req, r, c);
	reply_free(r);
	conv_free(c);
}

static void
server_models(struct fakellm *fl, struct evhttp_request *req)
{
	server_json(fl, req, 200,
		xstrdup("{\"object\":\"list\",\"data\":[{\"id\":\"fakellm\","
			"\"object\":\"model\",\"created\":0,\"owned_by\":"
			"\"fakellm\",\"type\":\"model\",\"display_name\":"
			"\"fakellm\"}]}"),
		0);
}

static void
server_request_cb(struct evhttp_request *req, void *arg)
{
	struct fakellm *fl = arg;
	const struct evhttp_uri *uri = evhttp_request_get_evhttp_uri(req);
	struct evbuffer *in = evhttp_request_get_input_buffer(req);
	const char *path = uri != NULL ? evhttp_uri_get_path(uri) : NULL;
	enum reply_format format = REPLY_OPENAI;
	size_t len = evbuffer_get_length(in);
	char *body;
	int chat = 0;

	if (path == NULL || *path == '\0')
		path = "/";
	if (strcmp(path, "/v1/chat/completions") == 0 ||
		strcmp(path, "/chat/completions") == 0)
		chat = 1;
	else if (strcmp(path, "/v1/messages") == 0 ||
		strcmp(path, "/messages") == 0) {
		chat = 1;
		format = REPLY_ANTHROPIC;
	} else if (strcmp(path, "/v1/responses") == 0 ||
		strcmp(path, "/responses") == 0) {
		chat = 1;
		format = REPLY_RESPONSES;
	}
	body = xmalloc(len + 1);
	evbuffer_remove(in, body, len);
	body[len] = '\0';
	if (chat)
		fl->requests++;
	record_request(
		fl->record_fd, chat ? fl->requests : 0, req, path, body, len);
	if (chat)
		server_chat(fl, req, format, body, len);
	else if (strcmp(path, "/v1/models") == 0 ||
		strcmp(path, "/models") == 0)
		server_models(fl, req);
	else {
		log_info("%s: 404", path);
		server_error(fl, req, REPLY_OPENAI, 404, NULL, NULL, NULL);
	}
	free(body);
}

/*
 * Bind 127.0.0.1:port (0: ephemeral) and serve on fl->base.  Returns 0
 * and the bound port, or a negative errno.
 */
int
server_start(struct fakellm *fl, int port, int *ret_port)
{
	struct evhttp_bound_socket *bound;
	struct sockaddr_in sin;
	socklen_t slen = sizeof(sin);
	evutil_socket_t fd;

	TAILQ_INIT(&fl->resps);
	fl->http = evhttp_new(fl->base);
	if (fl->http == NULL)
		return -ENOMEM;
	evhttp_set_max_body_size(fl->http, SERVER_MAX_BODY);
	evhttp_set_timeout(fl->http, SERVER_TIMEOUT_S);
	evhttp_set_allowed_methods(fl->http,
		EVHTTP_REQ_GET | EVHTTP_REQ_POST | EVHTTP_REQ_HEAD |
			EVHTTP_REQ_PUT | EVHTTP_REQ_DELETE |
			EVHTTP_REQ_OPTIONS | EVHTTP_REQ_PATCH);
	evhttp_set_gencb(fl->http, server_request_cb, fl);
	bound = evhttp_bind_socket_with_handle(
		fl->http, "127.0.0.1", (ev_uint16_t)port);
	if (bound == NULL)
		return -EADDRINUSE;
	fd = evhttp_bound_socket_get_fd(bound);
	if (getsockname(fd, (struct sockaddr *)&sin, &slen) < 0)
		return -errno;
	*ret_port = ntohs(sin.sin_port);
	return 0;
}

/* Drop every response in progress and free the HTTP server. */
void
server_stop(struct fakellm *fl)
{
	struct server_resp *rs;

	while ((rs = TAILQ_FIRST(&fl->resps)) != NULL) {
		/* the requests go with their connections in evhttp_free() */
		server_resp_release(rs);
		server_resp_free(rs);
	}
	if (fl->http != NULL)
		evhttp_free(fl->http);
	fl->http = NULL;
	cache_free(fl->cache);
	fl->cache = NULL;
	json_object_put(fl->stored);
	fl->stored = NULL;
}
