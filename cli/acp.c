/* SPDX-License-Identifier: ISC */
/*
 * 'podvisor acp': JSON-RPC 2.0 over stdin/stdout on libevent, the
 * method table, initialize, and the connection to podvisord.  Nothing
 * an editor sends ends the process: a bad line gets its error and the
 * next line is read.  Only end of input (or SIGTERM/SIGINT) ends it;
 * the pods keep running.
 */
#include <errno.h>
#include <getopt.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <event2/buffer.h>
#include <event2/bufferevent.h>
#include <event2/event.h>
#include <json-c/json.h>

#include "config.h"
#include "cli/acp.h"
#include "cli/cli.h"
#include "common/podname.h"
#include "common/sock.h"
#include "common/xmalloc.h"
#include "proto/conn.h"
#include "proto/frame.h"
#include "proto/msg.h"

/* A request we sent to the client, waiting for its response. */
struct acp_out_call {
	int64_t id;
	acp_call_cb cb;
	void *arg;
	struct acp_out_call *next;
};

/* Serialise msg (taken) as one line on stdout. */
static void
acp_send(struct acp *a, struct json_object *msg)
{
	if (a->out != NULL)
		frame_write_json(bufferevent_get_output(a->out), msg);
	json_object_put(msg);
}

static struct json_object *
acp_envelope(struct json_object *id)
{
	struct json_object *m = json_object_new_object();

	json_object_object_add(m, "jsonrpc", json_object_new_string("2.0"));
	json_object_object_add(
		m, "id", id != NULL ? json_object_get(id) : NULL);
	return m;
}

/* A result for request id (res taken; NULL result = JSON null). */
void
acp_reply(struct acp *a, struct json_object *id, struct json_object *res)
{
	struct json_object *m;

	if (id == NULL) {
		json_object_put(res);
		return;
	}
	m = acp_envelope(id);
	json_object_object_add(m, "result", res);
	acp_send(a, m);
}

static void
acp_verror(struct acp *a, struct json_object *id, bool always, int code,
	struct json_object *data, const char *fmt, va_list ap)
{
	struct json_object *m, *e;
	char *text;

	if (id == NULL && !always) {
		json_object_put(data);
		return;
	}
	if (vasprintf(&text, fmt, ap) < 0)
		text = NULL;
	fprintf(stderr, "podvisor: acp: %s\n", text != NULL ? text : "error");
	e = json_object_new_object();
	json_object_object_add(e, "code", json_object_new_int(code));
	json_object_object_add(e, "message",
		json_object_new_string(text != NULL ? text : "error"));
	if (data != NULL)
		json_object_object_add(e, "data", data);
	free(text);
	m = acp_envelope(id);
	json_object_object_add(m, "error", e);
	acp_send(a, m);
}

/* An error response (none for a notification: id NULL). */
void
acp_error(struct acp *a, struct json_object *id, int code,
	struct json_object *data, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	acp_verror(a, id, false, code, data, fmt, ap);
	va_end(ap);
}

/* An error about a line that has no usable id (id: null). */
static void acp_error_noid(struct acp *a, int code, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));

static void
acp_error_noid(struct acp *a, int code, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	acp_verror(a, NULL, true, code, NULL, fmt, ap);
	va_end(ap);
}

/* A notification (params taken). */
void
acp_notify(struct acp *a, const char *method, struct json_object *params)
{
	struct json_object *m = json_object_new_object();

	json_object_object_add(m, "jsonrpc", json_object_new_string("2.0"));
	json_object_object_add(m, "method", json_object_new_string(method));
	json_object_object_add(m, "params", params);
	acp_send(a, m);
}

/* A request to the client; its response goes to cb. */
int64_t
acp_call(struct acp *a, const char *method, struct json_object *params,
	acp_call_cb cb, void *arg)
{
	struct acp_out_call *c = xcalloc(1, sizeof(*c));
	struct json_object *m, *id;

	c->id = ++a->next_call_id;
	c->cb = cb;
	c->arg = arg;
	c->next = a->calls;
	a->calls = c;
	id = json_object_new_int64(c->id);
	m = acp_envelope(id);
	json_object_put(id);
	json_object_object_add(m, "method", json_object_new_string(method));
	json_object_object_add(m, "params", params);
	acp_send(a, m);
	return c->id;
}

static struct acp_out_call *
acp_call_take(struct acp *a, int64_t id)
{
	struct acp_out_call **pp, *c;

	for (pp = &a->calls; (c = *pp) != NULL; pp = &c->next)
		if (c->id == id) {
			*pp = c->next;
			return c;
		}
	return NULL;
}

/* Drop a pending call: its response will be ignored. */
void
acp_call_forget(struct acp *a, int64_t id)
{
	free(acp_call_take(a, id));
}

/* A response from the client to one of our requests. */
static void
acp_handle_response(struct acp *a, struct json_object *msg)
{
	struct json_object *id, *result = NULL, *error = NULL;
	struct acp_out_call *c;

	if (!json_object_object_get_ex(msg, "id", &id) ||
		!json_object_is_type(id, json_type_int))
		return; /* not ours: ignored, as responses get no answer */
	c = acp_call_take(a, json_object_get_int64(id));
	if (c == NULL)
		return;
	json_object_object_get_ex(msg, "result", &result);
	json_object_object_get_ex(msg, "error", &error);
	c->cb(a, error == NULL ? result : NULL, error, c->arg);
	free(c);
}

/* The string member key of params, or NULL after an error naming it. */
const char *
acp_param_str(struct acp *a, struct json_object *id, const char *method,
	struct json_object *params, const char *key, bool required)
{
	struct json_object *v;

	if (params == NULL || !json_object_object_get_ex(params, key, &v) ||
		json_object_is_type(v, json_type_null)) {
		if (required)
			acp_error(a, id, ACP_INVALID_PARAMS, NULL,
				"%s: params.%s is missing (a string)", method,
				key);
		return NULL;
	}
	if (!json_object_is_type(v, json_type_string)) {
		acp_error(a, id, ACP_INVALID_PARAMS, NULL,
			"%s: params.%s must be a string", method, key);
		return NULL;
	}
	return json_object_get_string(v);
}

static void
acp_control_message_cb(struct conn *c, struct msg *m, void *arg)
{
	/* hello and broadcasts: nothing to do; replies go to callbacks. */
	(void)c;
	(void)m;
	(void)arg;
}

static void
acp_control_close_cb(struct conn *c, void *arg)
{
	struct acp *a = arg;

	if (a->control == c)
		a->control = NULL;
	conn_unref(c);
}

static const struct conn_ops acp_control_ops = {
	.on_message = acp_control_message_cb,
	.on_close = acp_control_close_cb,
};

/* The control connection, connected on first use. */
struct conn *
acp_control(struct acp *a, char **reterr_msg)
{
	int fd;

	if (a->control != NULL && conn_is_open(a->control))
		return a->control;
	fd = sock_connect_unix(a->cli->paths.control_sock, false);
	if (fd < 0) {
		*reterr_msg =
			cli_connect_error(a->cli->paths.control_sock, -fd);
		return NULL;
	}
	a->control =
		conn_new(a->base, fd, FRAME_LIMIT_POD, &acp_control_ops, a);
	return a->control;
}

static void
acp_m_initialize(struct acp *a, struct json_object *id, struct json_object *p)
{
	struct json_object *v, *res, *caps, *prompt, *mcp, *info;
	char *err = NULL;

	if (p == NULL || !json_object_object_get_ex(p, "protocolVersion", &v) ||
		!json_object_is_type(v, json_type_int)) {
		acp_error(a, id, ACP_INVALID_PARAMS, NULL,
			"initialize: params.protocolVersion must be an integer "
			"(1)");
		return;
	}
	if (acp_control(a, &err) == NULL) {
		v = json_object_new_object();
		json_object_object_add(v, "fix",
			json_object_new_string(
				"start podvisord: 'podvisor daemon' or "
				"'systemctl --user start podvisord.socket'"));
		acp_error(a, id, ACP_INTERNAL_ERROR, v, "%s", err);
		free(err);
		return;
	}
	res = json_object_new_object();
	json_object_object_add(res, "protocolVersion", json_object_new_int(1));
	caps = json_object_new_object();
	json_object_object_add(caps, "loadSession", json_object_new_boolean(1));
	prompt = json_object_new_object();
	json_object_object_add(prompt, "image", json_object_new_boolean(0));
	json_object_object_add(prompt, "audio", json_object_new_boolean(0));
	json_object_object_add(
		prompt, "embeddedContext", json_object_new_boolean(1));
	json_object_object_add(caps, "promptCapabilities", prompt);
	mcp = json_object_new_object();
	json_object_object_add(mcp, "http", json_object_new_boolean(1));
	json_object_object_add(mcp, "sse", json_object_new_boolean(0));
	json_object_object_add(caps, "mcpCapabilities", mcp);
	json_object_object_add(res, "agentCapabilities", caps);
	info = json_object_new_object();
	json_object_object_add(
		info, "name", json_object_new_string("podvisor"));
	json_object_object_add(
		info, "title", json_object_new_string("podvisor"));
	json_object_object_add(
		info, "version", json_object_new_string(PODVISOR_VERSION));
	json_object_object_add(res, "agentInfo", info);
	json_object_object_add(res, "authMethods", json_object_new_array());
	acp_reply(a, id, res);
}

typedef void (*acp_method_fn)(
	struct acp *a, struct json_object *id, struct json_object *params);

/* The methods, sorted by name (checked by the unit test). */
static const struct acp_method {
	const char *name;
	acp_method_fn fn;
} acp_methods[] = {
	{ "initialize", acp_m_initialize },
	{ "session/cancel", acp_session_cancel },
	{ "session/load", acp_session_load },
	{ "session/new", acp_session_new },
	{ "session/prompt", acp_session_prompt },
	{ "session/set_mode", acp_session_set_mode },
};

#define ACP_NMETHODS (sizeof(acp_methods) / sizeof(acp_methods[0]))

static int
acp_method_cmp(const void *key, const void *elem)
{
	return strcmp(key, ((const struct acp_method *)elem)->name);
}

/* True if the method table is strictly sorted (for the unit test). */
bool
acp_methods_sorted(void)
{
	size_t i;

	for (i = 1; i < ACP_NMETHODS; i++)
		if (strcmp(acp_methods[i - 1].name, acp_methods[i].name) >= 0)
			return false;
	return true;
}

/* One line from the editor. */
static void
acp_handle_line(struct acp *a, const char *line, size_t len)
{
	struct json_object *msg, *v, *id = NULL, *params = NULL;
	const struct acp_method *m;
	const char *method;
	char *err = NULL;

	msg = msg_parse_json(line, len, &err);
	if (msg == NULL) {
		acp_error_noid(a, ACP_PARSE_ERROR, "parse error: %s",
			err != NULL ? err : "not JSON");
		free(err);
		return;
	}
	if (!json_object_is_type(msg, json_type_object)) {
		acp_error_noid(a, ACP_INVALID_REQUEST,
			"invalid request: a message must be a JSON object "
			"(batches are not used by ACP)");
		goto out;
	}
	if (json_object_object_get_ex(msg, "id", &v)) {
		if (!json_object_is_type(v, json_type_int) &&
			!json_object_is_type(v, json_type_string) &&
			!json_object_is_type(v, json_type_null)) {
			acp_error_noid(a, ACP_INVALID_REQUEST,
				"invalid request: id must be a number or a "
				"string");
			goto out;
		}
		id = v;
	}
	if (!json_object_object_get_ex(msg, "method", &v)) {
		if (json_object_object_get_ex(msg, "result", NULL) ||
			json_object_object_get_ex(msg, "error", NULL))
			acp_handle_response(a, msg);
		else
			acp_error(a, id, ACP_INVALID_REQUEST, NULL,
				"invalid request: no method");
		goto out;
	}
	if (!json_object_is_type(v, json_type_string)) {
		acp_error(a, id, ACP_INVALID_REQUEST, NULL,
			"invalid request: method must be a string");
		goto out;
	}
	method = json_object_get_string(v);
	if (json_object_object_get_ex(msg, "params", &params) &&
		!json_object_is_type(params, json_type_object) &&
		!json_object_is_type(params, json_type_null)) {
		acp_error(a, id, ACP_INVALID_PARAMS, NULL,
			"%.64s: params must be an object", method);
		goto out;
	}
	if (params != NULL && json_object_is_type(params, json_type_null))
		params = NULL;
	m = bsearch(method, acp_methods, ACP_NMETHODS, sizeof(acp_methods[0]),
		acp_method_cmp);
	if (m == NULL) {
		if (id != NULL)
			acp_error(a, id, ACP_METHOD_NOT_FOUND, NULL,
				"method not found: %.64s", method);
		goto out;
	}
	m->fn(a, id, params);
out:
	json_object_put(msg);
}

/* Drop the rest of an over-long line; true once its end was found. */
static bool
acp_skip(struct acp *a, struct evbuffer *in)
{
	struct evbuffer_ptr nl = evbuffer_search(in, "\n", 1, NULL);

	if (nl.pos < 0) {
		evbuffer_drain(in, evbuffer_get_length(in));
		return false;
	}
	evbuffer_drain(in, (size_t)nl.pos + 1);
	a->skipping = false;
	a->scanned = 0;
	return true;
}

static void
acp_too_long(struct acp *a)
{
	acp_error_noid(a, ACP_INVALID_REQUEST,
		"invalid request: a message line is longer than %u MiB; it "
		"was dropped",
		ACP_LINE_LIMIT >> 20);
}

static void
acp_read_cb(struct bufferevent *bev, void *arg)
{
	struct acp *a = arg;
	struct evbuffer *in = bufferevent_get_input(bev);
	char *line;
	size_t len;
	int r;

	for (;;) {
		if (a->skipping) {
			if (!acp_skip(a, in))
				return;
			acp_too_long(a);
		}
		r = frame_read_line_from(
			in, ACP_LINE_LIMIT, &a->scanned, &line, &len);
		if (r == 0)
			return;
		if (r == -EMSGSIZE) {
			if (evbuffer_search(in, "\n", 1, NULL).pos < 0 ||
				evbuffer_get_length(in) > ACP_LINE_LIMIT) {
				a->skipping = true;
				continue;
			}
			acp_too_long(a);
			continue;
		}
		if (r < 0)
			return;
		acp_handle_line(a, line, len);
		free(line);
	}
}

static void
acp_in_event_cb(struct bufferevent *bev, short what, void *arg)
{
	struct acp *a = arg;
	struct evbuffer *in = bufferevent_get_input(bev);

	(void)what;
	/* A last line without '\n' still counts. */
	if (!a->skipping && evbuffer_get_length(in) > 0 &&
		evbuffer_get_length(in) <= ACP_LINE_LIMIT) {
		evbuffer_add(in, "\n", 1);
		acp_read_cb(bev, arg);
	}
	a->eof = true;
	bufferevent_disable(bev, EV_READ);
	if (evbuffer_get_length(bufferevent_get_output(a->out)) == 0)
		event_base_loopexit(a->base, NULL);
}

static void
acp_out_write_cb(struct bufferevent *bev, void *arg)
{
	struct acp *a = arg;

	(void)bev;
	if (a->eof)
		event_base_loopexit(a->base, NULL);
}

static void
acp_out_event_cb(struct bufferevent *bev, short what, void *arg)
{
	struct acp *a = arg;

	(void)what;
	/* The editor went away: nobody reads us any more. */
	fprintf(stderr,
		"podvisor: acp: standard output closed; exiting (the "
		"pods keep running)\n");
	bufferevent_free(bev);
	a->out = NULL;
	event_base_loopexit(a->base, NULL);
}

static void
acp_signal_cb(evutil_socket_t sig, short what, void *arg)
{
	struct acp *a = arg;

	(void)sig;
	(void)what;
	event_base_loopexit(a->base, NULL);
}

/* 'podvisor acp [--pod NAME] [--model M]'. */
int
cmd_acp(struct cli *cli, const struct cli_cmd *cmd, int argc, char **argv)
{
	static const struct option opts[] = {
		{ "pod", required_argument, NULL, 'p' },
		{ "model", required_argument, NULL, 'm' },
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 },
	};
	struct event *sigs[2];
	struct acp a;
	char *err = NULL;
	int c, ex = 0;

	memset(&a, 0, sizeof(a));
	a.cli = cli;
	while ((c = cli_getopt(cli, cmd, argc, argv, "", opts, &ex)) != -2) {
		if (c == -1)
			goto out;
		if (c == 'p') {
			if (!podname_valid(optarg, &err)) {
				ex = cli_usage_error(cmd, "--pod: %s", err);
				free(err);
				goto out;
			}
			free(a.pod_name);
			a.pod_name = xstrdup(optarg);
		} else if (c == 'm') {
			free(a.model);
			a.model = xstrdup(optarg);
		}
	}
	if (optind < argc) {
		ex = cli_usage_error(
			cmd, "unexpected argument '%s'", argv[optind]);
		goto out;
	}
	a.base = event_base_new();
	if (a.base == NULL) {
		cli_err("acp: cannot create the event loop");
		ex = CLI_EXIT_FAIL;
		goto out;
	}
	if (acp_control(&a, &err) == NULL) {
		/* Keep serving: initialize answers with the same fix. */
		cli_err("acp: %s", err);
		free(err);
	}
	if (fd_set_nonblock(STDIN_FILENO, true) < 0 ||
		fd_set_nonblock(STDOUT_FILENO, true) < 0) {
		cli_err("acp: cannot make stdin/stdout non-blocking: %s",
			strerror(errno));
		ex = CLI_EXIT_FAIL;
		goto out;
	}
	a.in = bufferevent_socket_new(a.base, STDIN_FILENO, 0);
	a.out = bufferevent_socket_new(a.base, STDOUT_FILENO, 0);
	bufferevent_setcb(a.in, acp_read_cb, NULL, acp_in_event_cb, &a);
	bufferevent_setcb(a.out, NULL, acp_out_write_cb, acp_out_event_cb, &a);
	bufferevent_enable(a.in, EV_READ);
	bufferevent_enable(a.out, EV_WRITE);
	sigs[0] = evsignal_new(a.base, SIGTERM, acp_signal_cb, &a);
	sigs[1] = evsignal_new(a.base, SIGINT, acp_signal_cb, &a);
	event_add(sigs[0], NULL);
	event_add(sigs[1], NULL);
	event_base_dispatch(a.base);
	event_free(sigs[0]);
	event_free(sigs[1]);
	acp_session_free_all(&a);
	while (a.calls != NULL)
		acp_call_forget(&a, a.calls->id);
	if (a.control != NULL)
		conn_close_now(a.control);
	if (a.in != NULL)
		bufferevent_free(a.in);
	if (a.out != NULL)
		bufferevent_free(a.out);
out:
	if (a.base != NULL) {
		/* Let closed conns run their on_close and free. */
		event_base_loop(a.base, EVLOOP_NONBLOCK);
		event_base_free(a.base);
	}
	free(a.pod_name);
	free(a.model);
	return ex;
}
