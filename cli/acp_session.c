/* SPDX-License-Identifier: ISC */
/*
 * One ACP session is one pod: the sessionId is the pod's name, so the
 * same id works after the editor, the worker or podvisord restarted.
 * session/new spawns (control.sock), session/load restores if needed;
 * then the session holds a pod-socket connection whose snapshot is
 * replayed (load) and whose live events become session/update, whoever
 * started the turn.  session/prompt is a pod 'run', session/cancel a
 * pod 'cancel'.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <event2/event.h>
#include <json-c/json.h>

#include "cli/acp.h"
#include "cli/cli.h"
#include "common/id.h"
#include "common/podname.h"
#include "common/sock.h"
#include "common/xmalloc.h"
#include "proto/conn.h"
#include "proto/msg.h"

/* The snapshot of a long-lived pod can be large. */
#define ACP_POD_LINE_LIMIT (256u * 1024u * 1024u)
/* Bound on a control request (spawn waits for the worker's ready). */
#define ACP_CONTROL_TIMEOUT_MS 30000

static void acp_session_attach(struct acp_session *s, const char *sock);

/* A turn is running (waiting for an approval counts). */
static bool
acp_session_busy(const struct acp_session *s)
{
	return strcmp(s->status, "running") == 0 ||
		strcmp(s->status, "waiting_approval") == 0;
}
static void acp_session_restore(struct acp_session *s);
static void acp_session_mcp_add(
	struct acp_session *s, struct json_object *params);

struct acp_session *
acp_session_find(struct acp *a, const char *name)
{
	struct acp_session *s;

	for (s = a->sessions; s != NULL; s = s->next)
		if (!s->closing && strcmp(s->name, name) == 0)
			return s;
	return NULL;
}

static struct acp_session *
acp_session_alloc(struct acp *a, const char *name)
{
	struct acp_session *s = xcalloc(1, sizeof(*s));

	s->acp = a;
	s->name = xstrdup(name);
	s->edits = json_object_new_object();
	snprintf(s->status, sizeof(s->status), "idle");
	s->next = a->sessions;
	a->sessions = s;
	return s;
}

static void
acp_session_free_cb(evutil_socket_t fd, short what, void *arg)
{
	struct acp_session *s = arg;

	(void)fd;
	(void)what;
	json_object_put(s->open_id);
	json_object_put(s->prompt_id);
	json_object_put(s->prompt_input);
	json_object_put(s->edits);
	json_object_put(s->mcp_servers);
	free(s->name);
	free(s->cwd);
	free(s);
}

static void
acp_session_detach(struct acp_session *s)
{
	struct conn *c = s->pod;

	s->pod = NULL;
	s->attached = false;
	if (c == NULL)
		return;
	conn_set_arg(c, NULL);
	conn_close_now(c);
	conn_unref(c);
}

/*
 * Take s out of the list and free it from the loop, after every
 * callback that may still name it has seen s->closing.
 */
static void
acp_session_drop(struct acp_session *s)
{
	struct acp_session **pp;
	struct timeval now = { 0, 0 };

	for (pp = &s->acp->sessions; *pp != NULL; pp = &(*pp)->next)
		if (*pp == s) {
			*pp = s->next;
			break;
		}
	s->closing = true;
	acp_approval_drop_all(s);
	acp_session_detach(s);
	if (event_base_once(s->acp->base, -1, EV_TIMEOUT, acp_session_free_cb,
		    s, &now) < 0)
		acp_session_free_cb(-1, 0, s);
}

/* Detach from every pod (they keep running) and free the sessions. */
void
acp_session_free_all(struct acp *a)
{
	while (a->sessions != NULL)
		acp_session_drop(a->sessions);
}

/* Answer the pending new/load with an error and forget the session. */
static void
acp_session_fail_open(struct acp_session *s, int code, struct json_object *data,
	const char *text)
{
	struct json_object *id = s->open_id;

	s->open_id = NULL;
	acp_error(s->acp, id, code, data, "%s", text);
	json_object_put(id);
	acp_session_drop(s);
}

void
acp_session_notify(struct acp_session *s, struct json_object *update)
{
	struct json_object *p = json_object_new_object();

	acp_map_keep_diff(s->edits, update);
	json_object_object_add(p, "sessionId", json_object_new_string(s->name));
	json_object_object_add(p, "update", update);
	acp_notify(s->acp, "session/update", p);
}

/* The prompt is over: forget it. */
static void
acp_session_prompt_clear(struct acp_session *s)
{
	json_object_put(s->prompt_id);
	json_object_put(s->prompt_input);
	s->prompt_id = NULL;
	s->prompt_input = NULL;
	s->pstate = ACP_PROMPT_NONE;
	s->cancel = false;
	s->echo_skip = false;
}

static void
acp_session_prompt_done(struct acp_session *s, const char *stop)
{
	struct json_object *res = json_object_new_object();

	json_object_object_add(res, "stopReason", json_object_new_string(stop));
	acp_reply(s->acp, s->prompt_id, res);
	acp_session_prompt_clear(s);
}

static void
acp_session_prompt_fail(struct acp_session *s, const char *text)
{
	acp_error(s->acp, s->prompt_id, ACP_INTERNAL_ERROR, NULL, "%s", text);
	acp_session_prompt_clear(s);
}

/* The code and message of a podvisor error reply. */
static const char *
acp_session_err(const struct msg *m, const char **ret_code)
{
	const char *code = msg_json_str(m->params, "code");
	const char *text = msg_json_str(m->params, "message");

	*ret_code = code != NULL ? code : "error";
	return text != NULL ? text : "failed";
}

static void acp_session_send_run(struct acp_session *s);

static void
acp_session_cancel_cb(struct conn *c, struct msg *m, void *arg)
{
	/* not_running: the turn ended first; its run_end answers. */
	(void)c;
	(void)m;
	(void)arg;
}

static void
acp_session_send_cancel(struct acp_session *s)
{
	if (s->pod != NULL)
		conn_call(s->pod, "cancel", NULL, 0, acp_session_cancel_cb, s);
}

static void
acp_session_run_cb(struct conn *c, struct msg *m, void *arg)
{
	struct acp_session *s = arg;
	const char *code, *text;
	char *msg;

	(void)c;
	if (s == NULL || s->closing || m == NULL ||
		s->pstate != ACP_PROMPT_SENT)
		return; /* a closed pod is reported by its on_close */
	if (strcmp(m->name, "error") != 0) {
		s->pstate = ACP_PROMPT_RUNNING;
		if (s->cancel)
			acp_session_send_cancel(s);
		return;
	}
	text = acp_session_err(m, &code);
	if (strcmp(code, "already_running") == 0) {
		/* Another client's turn won the race: run after it. */
		s->pstate = ACP_PROMPT_WAITING;
		s->echo_skip = false;
		snprintf(s->status, sizeof(s->status), "running");
		if (s->cancel)
			acp_session_prompt_done(s, "cancelled");
		return;
	}
	msg = xstrfmt(
		"pod %s refused the prompt: %s [%s]", s->name, text, code);
	acp_session_prompt_fail(s, msg);
	free(msg);
}

/* Send the prompt's 'run' (the pod is not running a turn). */
static void
acp_session_send_run(struct acp_session *s)
{
	struct json_object *p = json_object_new_object();

	json_object_object_add(p, "input", json_object_get(s->prompt_input));
	s->pstate = ACP_PROMPT_SENT;
	s->echo_skip = true;
	s->llm_stop[0] = '\0';
	if (conn_call(s->pod, "run", p, 0, acp_session_run_cb, s) < 0)
		acp_session_prompt_fail(s, "the pod connection is closed");
}

static void
acp_session_run_end(struct acp_session *s, struct json_object *data)
{
	struct json_object *err;
	const char *result = msg_json_str(data, "result");
	const char *stop, *text = NULL;
	char *msg;

	if (s->pstate != ACP_PROMPT_RUNNING)
		return; /* another client's turn */
	stop = acp_map_stop_reason(result, s->llm_stop);
	if (s->cancel)
		stop = "cancelled";
	if (stop != NULL) {
		acp_session_prompt_done(s, stop);
		return;
	}
	if (json_object_object_get_ex(data, "error", &err))
		text = msg_json_str(err, "message");
	msg = xstrfmt("the turn on pod %s failed: %s", s->name,
		text != NULL ? text : "unknown error");
	acp_session_prompt_fail(s, msg);
	free(msg);
}

/* A live broadcast event of the pod. */
static void
acp_session_event(struct acp_session *s, const struct msg *m)
{
	struct json_object *u;
	const char *v;

	if (strcmp(m->name, "status") == 0) {
		if ((v = msg_json_str(m->params, "status")) != NULL)
			snprintf(s->status, sizeof(s->status), "%s", v);
		if (s->pstate == ACP_PROMPT_WAITING && !acp_session_busy(s))
			acp_session_send_run(s);
		return;
	}
	if (strcmp(m->name, "llm_call_end") == 0) {
		v = msg_json_str(m->params, "stop_reason");
		snprintf(s->llm_stop, sizeof(s->llm_stop), "%s",
			v != NULL ? v : "");
		return;
	}
	if (strcmp(m->name, "run_end") == 0) {
		acp_session_run_end(s, m->params);
		return;
	}
	if (strcmp(m->name, "approval_request") == 0) {
		acp_approval_ask(s, m->params);
		return;
	}
	if (strcmp(m->name, "approval_decided") == 0) {
		acp_approval_decided(s, m->params);
		return;
	}
	if (strcmp(m->name, "approval_policy") == 0) {
		acp_mode_event(s, m->params);
		return;
	}
	if (strcmp(m->name, "alert") == 0) {
		v = msg_json_str(m->params, "level");
		fprintf(stderr, "podvisor: acp: pod %s: %s: %s\n", s->name,
			v != NULL ? v : "info",
			msg_json_str(m->params, "message") != NULL
				? msg_json_str(m->params, "message")
				: "");
		return;
	}
	if (strcmp(m->name, "user_message") == 0 && s->echo_skip &&
		s->pstate >= ACP_PROMPT_SENT) {
		/* The editor shows its own prompt already. */
		s->echo_skip = false;
		return;
	}
	u = acp_map_event(m->name, m->params, s->cwd);
	if (u != NULL)
		acp_session_notify(s, u);
}

/* The snapshot: the session is attached; replay and answer. */
static void
acp_session_snapshot(struct acp_session *s, const struct msg *m)
{
	struct json_object *g = NULL, *entries, *updates, *res, *id, *appr;
	const char *v;
	size_t i, n;

	s->attached = true;
	if ((v = msg_json_str(m->params, "status")) != NULL)
		snprintf(s->status, sizeof(s->status), "%s", v);
	if (json_object_object_get_ex(m->params, "greeting", &g) &&
		(v = msg_json_str(g, "cwd")) != NULL) {
		free(s->cwd);
		s->cwd = xstrdup(v);
	}
	if (g != NULL && json_object_object_get_ex(g, "approval", &appr))
		(void)acp_mode_note(s, appr);
	if (s->open_id == NULL)
		return; /* a re-sent snapshot */
	if (s->open_load &&
		json_object_object_get_ex(m->params, "entries", &entries) &&
		json_object_is_type(entries, json_type_array)) {
		updates = json_object_new_array();
		n = json_object_array_length(entries);
		for (i = 0; i < n; i++)
			acp_map_entry(json_object_array_get_idx(entries, i),
				s->cwd, updates);
		n = json_object_array_length(updates);
		for (i = 0; i < n; i++)
			acp_session_notify(s,
				json_object_get(
					json_object_array_get_idx(updates, i)));
		json_object_put(updates);
	}
	res = json_object_new_object();
	if (!s->open_load)
		json_object_object_add(
			res, "sessionId", json_object_new_string(s->name));
	json_object_object_add(res, "modes", acp_mode_state(s));
	id = s->open_id;
	s->open_id = NULL;
	acp_reply(s->acp, id, res);
	json_object_put(id);
	/* Questions the pod still waits on, asked after the history. */
	if (json_object_object_get_ex(
		    m->params, "pending_approvals", &entries) &&
		json_object_is_type(entries, json_type_array)) {
		n = json_object_array_length(entries);
		for (i = 0; i < n; i++)
			acp_approval_ask(
				s, json_object_array_get_idx(entries, i));
	}
}

static void
acp_session_pod_message_cb(struct conn *c, struct msg *m, void *arg)
{
	struct acp_session *s = arg;

	(void)c;
	if (s == NULL || s->closing || m->kind != MSG_EVENT || m->id != NULL)
		return;
	if (!s->attached) {
		if (strcmp(m->name, "snapshot") == 0)
			acp_session_snapshot(s, m);
		return;
	}
	acp_session_event(s, m);
}

static void
acp_session_pod_close_cb(struct conn *c, void *arg)
{
	struct acp_session *s = arg;
	char *msg;

	if (s == NULL || s->closing || s->pod != c)
		return; /* detached: the session already dropped its ref */
	s->pod = NULL;
	s->attached = false;
	conn_unref(c);
	fprintf(stderr, "podvisor: acp: pod %s closed its socket\n", s->name);
	acp_approval_drop_all(s);
	if (s->open_id != NULL) {
		msg = xstrfmt("pod %s closed its socket before its snapshot "
			      "(see 'podvisor logs %s')",
			s->name, s->name);
		acp_session_fail_open(s, ACP_INTERNAL_ERROR, NULL, msg);
		free(msg);
		return;
	}
	if (s->prompt_id != NULL) {
		msg = xstrfmt("pod %s went away during the turn (its worker "
			      "exited); session/load %s restores it",
			s->name, s->name);
		acp_session_prompt_fail(s, msg);
		free(msg);
	}
}

static const struct conn_ops acp_session_pod_ops = {
	.on_message = acp_session_pod_message_cb,
	.on_close = acp_session_pod_close_cb,
};

/* Connect to the pod socket; the snapshot completes the open. */
static void
acp_session_attach(struct acp_session *s, const char *sock)
{
	char *path, *msg;
	int fd;

	path = sock != NULL ? xstrdup(sock)
			    : paths_pod_sock(&s->acp->cli->paths, s->name);
	fd = sock_connect_unix(path, false);
	if (fd < 0) {
		if (s->open_load && !s->retried) {
			/* Listed live, but the worker just died: restore. */
			free(path);
			acp_session_restore(s);
			return;
		}
		msg = xstrfmt("cannot connect to pod %s on %s: %s", s->name,
			path, strerror(-fd));
		free(path);
		acp_session_fail_open(s, ACP_INTERNAL_ERROR, NULL, msg);
		free(msg);
		return;
	}
	free(path);
	s->pod = conn_new(
		s->acp->base, fd, ACP_POD_LINE_LIMIT, &acp_session_pod_ops, s);
}

/* podvisord's answer to spawn or restore. */
static void
acp_session_started_cb(struct conn *c, struct msg *m, void *arg)
{
	struct acp_session *s = arg;
	const char *code, *text;
	struct json_object *data;
	char *msg;

	(void)c;
	if (s->closing)
		return;
	if (m == NULL) {
		msg = xstrfmt("podvisord did not answer about pod %s (it "
			      "closed the connection or took over %d s)",
			s->name, ACP_CONTROL_TIMEOUT_MS / 1000);
		acp_session_fail_open(s, ACP_INTERNAL_ERROR, NULL, msg);
		free(msg);
		return;
	}
	if (strcmp(m->name, "error") != 0) {
		acp_session_attach(s, msg_json_str(m->params, "socket"));
		return;
	}
	text = acp_session_err(m, &code);
	if (strcmp(code, "already_exists") == 0 && s->acp->pod_name != NULL &&
		!s->retried) {
		/* --pod NAME: the editor's sessions all drive that pod. */
		acp_session_restore(s);
		return;
	}
	data = json_object_new_object();
	json_object_object_add(data, "code", json_object_new_string(code));
	msg = xstrfmt("podvisord: %s of pod %s: %s [%s]",
		s->open_load || s->retried ? "restore" : "spawn", s->name, text,
		code);
	acp_session_fail_open(s, ACP_INTERNAL_ERROR, data, msg);
	free(msg);
}

static bool
acp_session_control_call(
	struct acp_session *s, const char *method, struct json_object *params)
{
	struct conn *ctl;
	char *err = NULL;

	ctl = acp_control(s->acp, &err);
	if (ctl == NULL ||
		conn_call(ctl, method, params, ACP_CONTROL_TIMEOUT_MS,
			acp_session_started_cb, s) < 0) {
		if (ctl == NULL)
			json_object_put(params);
		acp_session_fail_open(s, ACP_INTERNAL_ERROR, NULL,
			err != NULL ? err : "the control connection closed");
		free(err);
		return false;
	}
	return true;
}

/* Ask podvisord to restore the pod (already_live counts as done). */
static void
acp_session_restore(struct acp_session *s)
{
	struct json_object *p = json_object_new_object();

	s->retried = true;
	json_object_object_add(p, "name", json_object_new_string(s->name));
	acp_session_mcp_add(s, p);
	acp_session_control_call(s, "restore", p);
}

/* mcpServers: must be an array; non-empty is refused for now. */
static bool
acp_session_mcp_ok(struct acp *a, struct json_object *id, const char *method,
	struct json_object *params)
{
	struct json_object *v;

	if (!json_object_object_get_ex(params, "mcpServers", &v) ||
		json_object_is_type(v, json_type_null))
		return true;
	if (!json_object_is_type(v, json_type_array)) {
		acp_error(a, id, ACP_INVALID_PARAMS, NULL,
			"%s: params.mcpServers must be an array", method);
		return false;
	}
	return true;
}

/*
 * The editor's servers go to podvisord as spawn/restore mcp_servers
 * (the same shape; docs/mcp.md): podvisord checks them, keeps their env
 * values out of pod state, and refuses transports pods lack by name.
 */
static void
acp_session_mcp_keep(struct acp_session *s, struct json_object *params)
{
	struct json_object *v;

	json_object_put(s->mcp_servers);
	s->mcp_servers = NULL;
	if (json_object_object_get_ex(params, "mcpServers", &v) &&
		json_object_is_type(v, json_type_array) &&
		json_object_array_length(v) > 0)
		s->mcp_servers = json_object_get(v);
}

static void
acp_session_mcp_add(struct acp_session *s, struct json_object *params)
{
	if (s->mcp_servers != NULL)
		json_object_object_add(
			params, "mcp_servers", json_object_get(s->mcp_servers));
}

/* cwd: required, absolute. */
static const char *
acp_session_cwd(struct acp *a, struct json_object *id, const char *method,
	struct json_object *params)
{
	const char *cwd = acp_param_str(a, id, method, params, "cwd", true);

	if (cwd != NULL && cwd[0] != '/') {
		acp_error(a, id, ACP_INVALID_PARAMS, NULL,
			"%s: params.cwd must be an absolute path, not \"%.200s\"",
			method, cwd);
		return NULL;
	}
	return cwd;
}

/* A pod name from the cwd's last component and a short random id. */
static char *
acp_session_name(const char *cwd)
{
	const char *base = strrchr(cwd, '/');
	char id[ID_LEN + 1], stem[41];
	size_t i, n = 0;
	char ch;

	base = base != NULL ? base + 1 : cwd;
	if (*base == '\0')
		base = "root";
	for (i = 0; base[i] != '\0' && n < sizeof(stem) - 1; i++) {
		ch = base[i];
		if (ch >= 'A' && ch <= 'Z')
			ch = (char)(ch - 'A' + 'a');
		if (!((ch >= 'a' && ch <= 'z') || (ch >= '0' && ch <= '9') ||
			    ch == '.' || ch == '_' || ch == '-'))
			ch = '-';
		if (n == 0 &&
			!((ch >= 'a' && ch <= 'z') || (ch >= '0' && ch <= '9')))
			continue;
		stem[n++] = ch;
	}
	stem[n] = '\0';
	id_new(id);
	for (i = 0; i < 6; i++) {
		ch = id[ID_LEN - 6 + i];
		id[ID_LEN - 6 + i] =
			(char)(ch >= 'A' && ch <= 'Z' ? ch - 'A' + 'a' : ch);
	}
	return xstrfmt("%s-%s", n > 0 ? stem : "pod", id + ID_LEN - 6);
}

/* session/new {cwd, mcpServers}: spawn a pod whose write scope is cwd. */
void
acp_session_new(struct acp *a, struct json_object *id, struct json_object *p)
{
	struct acp_session *s;
	struct json_object *sp;
	const char *cwd;
	char *name;

	if ((cwd = acp_session_cwd(a, id, "session/new", p)) == NULL ||
		!acp_session_mcp_ok(a, id, "session/new", p))
		return;
	if (a->pod_name != NULL &&
		(s = acp_session_find(a, a->pod_name)) != NULL) {
		acp_error(a, id, ACP_INVALID_REQUEST, NULL,
			"session/new: pod %s (--pod) is already this "
			"process's session %s",
			a->pod_name, s->name);
		return;
	}
	name = a->pod_name != NULL ? xstrdup(a->pod_name)
				   : acp_session_name(cwd);
	s = acp_session_alloc(a, name);
	free(name);
	s->open_id = json_object_get(id);
	s->cwd = xstrdup(cwd);
	acp_session_mcp_keep(s, p);
	sp = json_object_new_object();
	json_object_object_add(sp, "name", json_object_new_string(s->name));
	json_object_object_add(sp, "cwd", json_object_new_string(cwd));
	if (a->model != NULL)
		json_object_object_add(
			sp, "model", json_object_new_string(a->model));
	acp_session_mcp_add(s, sp);
	acp_session_control_call(s, "spawn", sp);
}

/* podvisord's inspect for a load: restore unless it is live. */
static void
acp_session_inspected_cb(struct conn *c, struct msg *m, void *arg)
{
	struct acp_session *s = arg;
	const char *code, *status;
	char *msg;

	(void)c;
	if (s->closing)
		return;
	if (m == NULL) {
		acp_session_fail_open(s, ACP_INTERNAL_ERROR, NULL,
			"podvisord did not answer inspect (closed or timed "
			"out)");
		return;
	}
	if (strcmp(m->name, "error") == 0) {
		acp_session_err(m, &code);
		msg = strcmp(code, "not_found") == 0
			? xstrfmt("unknown session %s: podvisord has no pod "
				  "of that name (see 'podvisor ls')",
				  s->name)
			: xstrfmt("session/load %s: podvisord: %s [%s]",
				  s->name, acp_session_err(m, &code), code);
		acp_session_fail_open(s, ACP_RESOURCE_NOT_FOUND, NULL, msg);
		free(msg);
		return;
	}
	status = msg_json_str(m->params, "status");
	if (status != NULL && strcmp(status, "live") == 0)
		acp_session_attach(s, msg_json_str(m->params, "socket"));
	else
		acp_session_restore(s);
}

/* session/load {sessionId, cwd, mcpServers}: restore, replay, answer. */
void
acp_session_load(struct acp *a, struct json_object *id, struct json_object *p)
{
	struct acp_session *s;
	struct json_object *ip;
	const char *sid;
	char *err = NULL;
	struct conn *ctl;

	if ((sid = acp_param_str(
		     a, id, "session/load", p, "sessionId", true)) == NULL ||
		acp_session_cwd(a, id, "session/load", p) == NULL ||
		!acp_session_mcp_ok(a, id, "session/load", p))
		return;
	if (!podname_valid(sid, NULL)) {
		acp_error(a, id, ACP_RESOURCE_NOT_FOUND, NULL,
			"unknown session \"%.64s\": not a podvisor pod name",
			sid);
		return;
	}
	if ((s = acp_session_find(a, sid)) != NULL) {
		if (s->open_id != NULL || s->prompt_id != NULL) {
			acp_error(a, id, ACP_INVALID_REQUEST, NULL,
				"session/load: session %s is busy in this "
				"process (opening or prompting)",
				sid);
			return;
		}
		/* Loaded again: a fresh attach replays it again. */
		acp_session_drop(s);
	}
	if ((ctl = acp_control(a, &err)) == NULL) {
		acp_error(a, id, ACP_INTERNAL_ERROR, NULL, "%s", err);
		free(err);
		return;
	}
	s = acp_session_alloc(a, sid);
	s->open_id = json_object_get(id);
	s->open_load = true;
	acp_session_mcp_keep(s, p);
	ip = json_object_new_object();
	json_object_object_add(ip, "name", json_object_new_string(sid));
	if (conn_call(ctl, "inspect", ip, ACP_CONTROL_TIMEOUT_MS,
		    acp_session_inspected_cb, s) < 0)
		acp_session_fail_open(s, ACP_INTERNAL_ERROR, NULL,
			"the control connection closed");
}

/* The session a prompt/cancel/set_mode names, or NULL after the error. */
struct acp_session *
acp_session_lookup(struct acp *a, struct json_object *id, const char *method,
	struct json_object *p)
{
	struct acp_session *s;
	const char *sid;

	sid = acp_param_str(a, id, method, p, "sessionId", true);
	if (sid == NULL)
		return NULL;
	s = acp_session_find(a, sid);
	if (s == NULL || s->open_id != NULL)
		acp_error(a, id, ACP_RESOURCE_NOT_FOUND, NULL,
			"%s: unknown session \"%.64s\" (session/new or "
			"session/load it first)",
			method, sid);
	return s != NULL && s->open_id == NULL ? s : NULL;
}

/* session/prompt {sessionId, prompt}: one turn on the pod. */
void
acp_session_prompt(struct acp *a, struct json_object *id, struct json_object *p)
{
	struct acp_session *s;
	struct json_object *prompt = NULL, *input;
	char *err = NULL;

	if ((s = acp_session_lookup(a, id, "session/prompt", p)) == NULL)
		return;
	if (id == NULL)
		return; /* a prompt needs an answer to carry its stopReason */
	if (s->prompt_id != NULL) {
		acp_error(a, id, ACP_INVALID_REQUEST, NULL,
			"session/prompt: session %s already has a prompt "
			"running; wait for it or session/cancel it",
			s->name);
		return;
	}
	if (s->pod == NULL || !s->attached) {
		acp_error(a, id, ACP_INTERNAL_ERROR, NULL,
			"session/prompt: pod %s is not running (its worker "
			"exited); session/load %s restores it",
			s->name, s->name);
		return;
	}
	json_object_object_get_ex(p, "prompt", &prompt);
	if ((input = acp_map_prompt(prompt, &err)) == NULL) {
		acp_error(a, id, ACP_INVALID_PARAMS, NULL,
			"session/prompt: params.%s", err);
		free(err);
		return;
	}
	s->prompt_id = json_object_get(id);
	s->prompt_input = input;
	s->cancel = false;
	if (acp_session_busy(s))
		s->pstate = ACP_PROMPT_WAITING;
	else
		acp_session_send_run(s);
}

/* session/cancel {sessionId} (a notification): cancel the turn. */
void
acp_session_cancel(struct acp *a, struct json_object *id, struct json_object *p)
{
	struct acp_session *s;

	if ((s = acp_session_lookup(a, id, "session/cancel", p)) == NULL)
		return;
	if (id != NULL)
		acp_reply(a, id, NULL);
	if (s->prompt_id == NULL || s->cancel)
		return;
	s->cancel = true;
	if (s->pstate == ACP_PROMPT_WAITING)
		acp_session_prompt_done(s, "cancelled");
	else if (s->pstate == ACP_PROMPT_RUNNING)
		acp_session_send_cancel(s);
	/* SENT: the cancel follows the run's acceptance. */
}
