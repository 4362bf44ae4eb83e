/* SPDX-License-Identifier: ISC */
#include "worker/confine.h"
#include "worker/podsock.h"

#include <errno.h>
#include <libgen.h>
#include <stdlib.h>
#include <string.h>
#include <sys/queue.h>
#include <sys/socket.h>
#include <unistd.h>

#include <event2/event.h>
#include <json-c/json.h>

#include "common/log.h"
#include "common/proc.h"
#include "common/sock.h"
#include "common/xmalloc.h"
#include "proto/conn.h"
#include "proto/dispatch.h"
#include "proto/frame.h"
#include "proto/msg.h"
#include "worker/mcp.h"
#include "worker/approval.h"
#include "worker/compact.h"
#include "worker/link.h"
#include "worker/session.h"
#include "worker/spend.h"
#include "worker/tool_pod.h"
#include "worker/turn.h"
#include "worker/worker.h"

#ifndef TAILQ_FOREACH_SAFE
#define TAILQ_FOREACH_SAFE(var, head, field, tvar) \
	for ((var) = TAILQ_FIRST(head); \
		(var) && ((tvar) = TAILQ_NEXT(var, field), 1); (var) = (tvar))
#endif

#define PODSOCK_JSON_FLAGS \
	(JSON_C_TO_STRING_PLAIN | JSON_C_TO_STRING_NOSLASHESCAPE)

struct podsock_client {
	TAILQ_ENTRY(podsock_client) entry;
	struct podsock *ps;
	struct conn *conn;
	size_t limit; /* current out limit: 8 MiB + undrained snapshot */
};

struct podsock {
	struct worker *w;
	char *path;
	int fd;
	struct event *accept_ev;
	TAILQ_HEAD(, podsock_client) clients;
	size_t nclients;
	char *self_exe; /* our executable: other pods' workers too */
	char *daemon_exe; /* podvisord's, when it is our parent; else NULL */
};

/* A request relayed to the supervisor, answered to its client later. */
struct podsock_relay {
	struct worker *w;
	struct conn *conn;
	struct json_object *id;
	const char *method;
	char *name;
};

static void podsock_on_message(struct conn *c, struct msg *m, void *arg);
static void podsock_on_close(struct conn *c, void *arg);

static const struct conn_ops podsock_conn_ops = {
	.on_message = podsock_on_message,
	.on_close = podsock_on_close,
};

/* [{name, state}] of the pod's MCP servers. */
static struct json_object *
podsock_mcp_servers(struct worker *w)
{
	struct json_object *a = json_object_new_array(), *o;
	size_t i;

	for (i = 0; i < mcp_nservers(w->mcp); i++) {
		o = json_object_new_object();
		json_object_object_add(o, "name",
			json_object_new_string(mcp_server_name(w->mcp, i)));
		json_object_object_add(o, "state",
			json_object_new_string(mcp_server_state(w->mcp, i)));
		json_object_array_add(a, o);
	}
	return a;
}

/* The greeting of PROTOCOL.md §2, computed now. */
struct json_object *
podsock_greeting(struct worker *w)
{
	struct json_object *g, *tools;
	const struct llm_tool_def *defs;
	size_t i, n;
	char *summary;

	g = json_object_new_object();
	json_object_object_add(g, "pod", json_object_new_string(w->name));
	json_object_object_add(g, "cwd", json_object_new_string(w->cwd));
	json_object_object_add(g, "provider",
		json_object_new_string(w->pc.name ? w->pc.name : ""));
	json_object_object_add(g, "model",
		json_object_new_string(w->pc.model ? w->pc.model : ""));
	tools = json_object_new_array();
	defs = tools_builtin_defs(&n);
	for (i = 0; defs != NULL && i < n; i++)
		json_object_array_add(
			tools, json_object_new_string(defs[i].name));
	defs = tool_pod_defs(&n);
	for (i = 0; i < n; i++)
		json_object_array_add(
			tools, json_object_new_string(defs[i].name));
	mcp_tool_names(w->mcp, tools);
	json_object_object_add(g, "tools", tools);
	json_object_object_add(g, "mcp", podsock_mcp_servers(w));
	summary = worker_scope_summary(w);
	json_object_object_add(
		g, "scope_summary", json_object_new_string(summary));
	free(summary);
	json_object_object_add(g, "bash_confinement",
		json_object_new_string(tools_bash_confinement(&w->tenv)));
	json_object_object_add(g, "bash_readonly_mounts",
		json_object_new_boolean(tools_bash_mountns(&w->tenv)));
	json_object_object_add(g, "private_tmp",
		json_object_new_boolean(confine_private_tmp(&w->tenv)));
	json_object_object_add(g, "network",
		json_object_new_string(confine_network_name(w->tenv.network)));
	json_object_object_add(g, "network_isolation",
		json_object_new_string(confine_network_how(&w->tenv)));
	if (w->approval != NULL)
		json_object_object_add(g, "approval",
			approval_policy_to_json(approval_policy(w->approval)));
	json_object_object_add(g, "context_window",
		json_object_new_int64(w->pc.context_window));
	json_object_object_add(g, "context_tokens",
		json_object_new_int64(
			w->turn ? turn_context_tokens(w->turn) : 0));
	spend_snapshot_fields(w->spend, g);
	return g;
}

/*
 * Set the out limit for the next message of len bytes.  A client is more
 * than 8 MiB behind when its unsent output beyond what is left of its
 * snapshot exceeds 8 MiB before the message is queued; a single message
 * larger than 8 MiB does not by itself drop a reader that keeps up.
 * Returns false if the client was dropped.
 */
static bool
podsock_make_room(struct podsock_client *cl, size_t len)
{
	size_t pending, limit;

	pending = conn_out_pending(cl->conn);
	/* The snapshot's allowance shrinks as the client drains it. */
	limit = pending + PODSOCK_OUT_LIMIT;
	if (limit < cl->limit)
		cl->limit = limit;
	if (cl->limit < PODSOCK_OUT_LIMIT)
		cl->limit = PODSOCK_OUT_LIMIT;
	if (pending > cl->limit) {
		log_info("pod client %d is %zu bytes behind: dropped",
			conn_fd(cl->conn), pending);
		conn_close_now(cl->conn);
		return false;
	}
	conn_set_out_limit(cl->conn,
		pending + len > cl->limit ? pending + len : cl->limit);
	return true;
}

/*
 * The data of a snapshot event (PROTOCOL.md §2): greeting computed now,
 * status, alerts and the current segment's entries.  New reference.
 */
struct json_object *
podsock_snapshot_data(struct worker *w)
{
	struct json_object *d;

	d = json_object_new_object();
	json_object_object_add(d, "protocol", json_object_new_int(1));
	json_object_object_add(d, "greeting", podsock_greeting(w));
	json_object_object_add(d, "status",
		json_object_new_string(
			w->turn ? turn_wire_status(w->turn) : "idle"));
	json_object_object_add(
		d, "pending_approvals", approval_pending_json(w->approval));
	json_object_object_add(d, "alerts", json_object_get(w->alerts));
	json_object_object_add(
		d, "entries", json_object_get(session_entries(w->session)));
	json_object_object_add(d, "last_entry_seq",
		json_object_new_int64((int64_t)session_count(w->session)));
	return d;
}

static void
podsock_send_snapshot(struct podsock_client *cl, struct json_object *id)
{
	struct worker *w = cl->ps->w;
	struct json_object *ev;

	/*
	 * A snapshot is exempt from the 8 MiB limit, but only for a client
	 * that keeps up: one already more than 8 MiB behind that asks for
	 * another is dropped, or a client repeating "snapshot" without
	 * reading would grow our memory without bound.
	 */
	if (conn_out_pending(cl->conn) > PODSOCK_OUT_LIMIT) {
		log_info("pod client %d asked for a snapshot while %zu bytes "
			 "behind: dropped",
			conn_fd(cl->conn), conn_out_pending(cl->conn));
		conn_close_now(cl->conn);
		return;
	}
	ev = msg_new_event("snapshot", podsock_snapshot_data(w), id);
	/* The snapshot itself does not count against the 8 MiB. */
	conn_set_out_limit(cl->conn, 0);
	conn_send(cl->conn, ev);
	json_object_put(ev);
	cl->limit = conn_out_pending(cl->conn) + PODSOCK_OUT_LIMIT;
	conn_set_out_limit(cl->conn, cl->limit);
}

/* Serialise the event once and send it to every client. */
void
podsock_broadcast(
	struct podsock *ps, const char *event, struct json_object *data)
{
	struct podsock_client *cl, *next;
	struct json_object *ev;
	const char *text;
	size_t len;

	ev = msg_new_event(event, data, NULL);
	if (ps == NULL) {
		json_object_put(ev);
		return;
	}
	text = json_object_to_json_string_ext(ev, PODSOCK_JSON_FLAGS);
	len = strlen(text);
	TAILQ_FOREACH_SAFE(cl, &ps->clients, entry, next)
	{
		if (!conn_is_open(cl->conn) || !podsock_make_room(cl, len + 32))
			continue;
		conn_send_text(cl->conn, text, len);
	}
	json_object_put(ev);
}

static void
podsock_relay_free(struct podsock_relay *r)
{
	conn_unref(r->conn);
	json_object_put(r->id);
	free(r->name);
	free(r);
}

static void
podsock_relay_error(struct podsock_relay *r, struct msg *m)
{
	struct json_object *extra, *v;
	struct json_object_iter it;
	const char *code_name = "internal", *message = "error";
	int code;

	if (json_object_object_get_ex(m->params, "code", &v))
		code_name = json_object_get_string(v);
	if (json_object_object_get_ex(m->params, "message", &v))
		message = json_object_get_string(v);
	code = proto_err_from_name(code_name);
	if (code < 0)
		code = PERR_INTERNAL;
	extra = json_object_new_object();
	json_object_object_foreachC(m->params, it)
	{
		if (strcmp(it.key, "code") != 0 &&
			strcmp(it.key, "message") != 0)
			json_object_object_add(
				extra, it.key, json_object_get(it.val));
	}
	conn_send_error(
		r->conn, r->id, (enum proto_err)code, extra, "%s", message);
}

static void
podsock_relay_cb(struct msg *m, void *arg)
{
	struct podsock_relay *r = arg;
	struct json_object *d, *v;
	struct worker *w;

	if (!conn_is_open(r->conn))
		goto out;
	if (m == NULL) {
		conn_send_error(r->conn, r->id, PERR_INTERNAL, NULL,
			"the supervisor is not reachable right now");
		goto out;
	}
	if (strcmp(m->name, "error") == 0 && m->params != NULL) {
		podsock_relay_error(r, m);
		goto out;
	}
	w = r->w;
	d = json_object_new_object();
	if (strcmp(r->method, "list_pods") == 0) {
		if (m->params == NULL ||
			!json_object_object_get_ex(m->params, "pods", &v))
			v = NULL;
		json_object_object_add(d, "pods",
			v ? json_object_get(v) : json_object_new_array());
		conn_send_event(r->conn, "pods_listed", d, r->id);
	} else if (strcmp(r->method, "restore_pod") == 0) {
		json_object_object_add(
			d, "name", json_object_new_string(r->name));
		if (m->params != NULL &&
			json_object_object_get_ex(m->params, "socket", &v))
			json_object_object_add(d, "socket", json_object_get(v));
		json_object_object_add(d, "action",
			json_object_new_string(
				strcmp(m->name, "already_live") == 0
					? "already_live"
					: "restored"));
		conn_send_event(r->conn, "pod_restored", d, r->id);
	} else {
		json_object_object_add(d, "a", json_object_new_string(w->name));
		json_object_object_add(d, "b", json_object_new_string(r->name));
		conn_send_event(r->conn, "peer_registered", d, r->id);
	}
out:
	podsock_relay_free(r);
}

static void
podsock_relay(struct podsock_client *cl, struct msg *m, const char *method,
	struct json_object *params)
{
	struct podsock_relay *r;
	const char *name;

	r = xcalloc(1, sizeof *r);
	r->w = cl->ps->w;
	r->conn = conn_ref(cl->conn);
	r->id = json_object_get(m->id);
	r->method = method;
	name = msg_param_str(m, "name");
	r->name = xstrdup(name ? name : "");
	link_call(cl->ps->w->link, method, params, 30000, podsock_relay_cb, r);
}

static void
podsock_accepted(struct conn *c, struct msg *m)
{
	conn_send_event(c, "accepted", json_object_new_object(), m->id);
}

static void
podsock_m_cancel(void *ctx, struct conn *c, struct msg *m)
{
	struct podsock_client *cl = ctx;

	if (turn_cancel(cl->ps->w->turn) < 0) {
		conn_send_error(
			c, m->id, PERR_NOT_RUNNING, NULL, "no turn is running");
		return;
	}
	podsock_accepted(c, m);
}

static void
podsock_m_compact(void *ctx, struct conn *c, struct msg *m)
{
	struct podsock_client *cl = ctx;
	char *err;

	if (turn_status(cl->ps->w->turn) == TURN_RUNNING) {
		conn_send_error(c, m->id, PERR_ALREADY_RUNNING, NULL,
			"a turn is running");
		return;
	}
	err = NULL;
	if (compact_manual(cl->ps->w, msg_param_str(m, "instruction"), &err) <
		0)
		conn_send_error(c, m->id, PERR_BUSY, NULL, "%s",
			err ? err : "cannot compact now");
	else
		podsock_accepted(c, m);
	free(err);
}

static void
podsock_m_list_pods(void *ctx, struct conn *c, struct msg *m)
{
	podsock_relay(ctx, m, "list_pods", json_object_new_object());
}

static void
podsock_m_notify(void *ctx, struct conn *c, struct msg *m)
{
	struct podsock_client *cl = ctx;

	if (turn_notify(cl->ps->w->turn, msg_param_str(m, "message")) < 0) {
		conn_send_error(c, m->id, PERR_BUSY, NULL,
			"too many notifications are waiting");
		return;
	}
	podsock_accepted(c, m);
}

static void
podsock_m_pause(void *ctx, struct conn *c, struct msg *m)
{
	struct podsock_client *cl = ctx;

	if (turn_pause(cl->ps->w->turn) < 0) {
		conn_send_error(
			c, m->id, PERR_NOT_RUNNING, NULL, "no turn is running");
		return;
	}
	podsock_accepted(c, m);
}

static struct json_object *
podsock_name_params(struct msg *m)
{
	struct json_object *p;

	p = json_object_new_object();
	json_object_object_add(
		p, "name", json_object_new_string(msg_param_str(m, "name")));
	return p;
}

static void
podsock_m_register_peer(void *ctx, struct conn *c, struct msg *m)
{
	podsock_relay(ctx, m, "register_peer", podsock_name_params(m));
}

static void
podsock_m_restore_pod(void *ctx, struct conn *c, struct msg *m)
{
	podsock_relay(ctx, m, "restore_pod", podsock_name_params(m));
}

static void
podsock_m_resume(void *ctx, struct conn *c, struct msg *m)
{
	struct podsock_client *cl = ctx;

	if (turn_resume(cl->ps->w->turn) < 0) {
		conn_send_error(c, m->id, PERR_NOT_PAUSED, NULL,
			"the pod is not paused");
		return;
	}
	podsock_accepted(c, m);
}

static void
podsock_m_run(void *ctx, struct conn *c, struct msg *m)
{
	struct podsock_client *cl = ctx;
	char *err = NULL;
	int r;

	r = turn_run(cl->ps->w->turn, msg_param(m, "input"), &err);
	if (r == -EBUSY)
		conn_send_error(c, m->id, PERR_ALREADY_RUNNING, NULL,
			"a turn is already running");
	else if (r < 0)
		conn_send_error(c, m->id, PERR_INVALID_REQUEST, NULL, "%s",
			err ? err : "invalid input");
	else
		podsock_accepted(c, m);
	free(err);
}

static void
podsock_m_shutdown(void *ctx, struct conn *c, struct msg *m)
{
	struct podsock_client *cl = ctx;

	podsock_accepted(c, m);
	worker_shutdown(cl->ps->w);
}

static void
podsock_m_snapshot(void *ctx, struct conn *c, struct msg *m)
{
	podsock_send_snapshot(ctx, m->id);
}

/* approve {id, decision, reason?} from any client: first answer wins. */
static void
podsock_m_approve(void *ctx, struct conn *c, struct msg *m)
{
	struct podsock_client *cl = ctx;
	char *err = NULL;
	int r;

	r = approval_decide(cl->ps->w->approval, msg_param_str(m, "id"),
		msg_param_str(m, "decision"), msg_param_str(m, "reason"),
		"client", &err);
	if (r == -ENOENT)
		conn_send_error(c, m->id, PERR_NOT_FOUND, NULL, "%s", err);
	else if (r == -EALREADY)
		conn_send_error(
			c, m->id, PERR_ALREADY_DECIDED, NULL, "%s", err);
	else if (r < 0)
		conn_send_error(
			c, m->id, PERR_INVALID_REQUEST, NULL, "%s", err);
	else
		podsock_accepted(c, m);
	free(err);
}

static const struct param_spec podsock_approve_spec[] = {
	{ "id", PARAM_STRING, false },
	{ "decision", PARAM_STRING, false },
	{ "reason", PARAM_STRING, true },
	{ NULL, PARAM_ANY, false },
};

static const struct param_spec podsock_name_spec[] = {
	{ "name", PARAM_STRING, false },
	{ NULL, PARAM_ANY, false },
};

static const struct param_spec podsock_run_spec[] = {
	{ "input", PARAM_ARRAY, false },
	{ NULL, PARAM_ANY, false },
};

static const struct param_spec podsock_notify_spec[] = {
	{ "message", PARAM_STRING, false },
	{ NULL, PARAM_ANY, false },
};

static const struct param_spec podsock_compact_spec[] = {
	{ "instruction", PARAM_STRING, true },
	{ NULL, PARAM_ANY, false },
};

static const struct dispatch_entry podsock_table[] = {
	{ "approve", podsock_approve_spec, podsock_m_approve },
	{ "cancel", NULL, podsock_m_cancel },
	{ "compact", podsock_compact_spec, podsock_m_compact },
	{ "list_pods", NULL, podsock_m_list_pods },
	{ "notify", podsock_notify_spec, podsock_m_notify },
	{ "pause", NULL, podsock_m_pause },
	{ "register_peer", podsock_name_spec, podsock_m_register_peer },
	{ "restore_pod", podsock_name_spec, podsock_m_restore_pod },
	{ "resume", NULL, podsock_m_resume },
	{ "run", podsock_run_spec, podsock_m_run },
	{ "shutdown", NULL, podsock_m_shutdown },
	{ "snapshot", NULL, podsock_m_snapshot },
};

/* The pod socket's method table. */
const struct dispatch_entry *
podsock_dispatch_table(size_t *ret_n)
{
	*ret_n = sizeof podsock_table / sizeof podsock_table[0];
	return podsock_table;
}

static void
podsock_on_message(struct conn *c, struct msg *m, void *arg)
{
	struct podsock_client *cl = arg;

	if (cl == NULL)
		return;
	if (cl->ps->w->exiting) {
		if (m->kind == MSG_REQUEST)
			conn_send_error(c, m->id, PERR_BUSY, NULL,
				"the pod is shutting down");
		return;
	}
	dispatch_request(podsock_table,
		sizeof podsock_table / sizeof podsock_table[0], cl, c, m);
}

static void
podsock_on_close(struct conn *c, void *arg)
{
	struct podsock_client *cl = arg;

	if (cl == NULL)
		return;
	TAILQ_REMOVE(&cl->ps->clients, cl, entry);
	cl->ps->nclients--;
	conn_set_arg(c, NULL);
	conn_unref(c);
	free(cl);
}

static void
podsock_accept_resume_cb(evutil_socket_t fd, short what, void *arg)
{
	struct podsock *ps = arg;

	if (ps->accept_ev != NULL)
		event_add(ps->accept_ev, NULL);
}

/* Out of descriptors: stop accepting for a while instead of spinning. */
static void
podsock_accept_backoff(struct podsock *ps)
{
	struct timeval tv = { 0, 200 * 1000 };

	event_del(ps->accept_ev);
	event_base_once(
		ps->w->base, -1, EV_TIMEOUT, podsock_accept_resume_cb, ps, &tv);
}

static const char *
podsock_basename(const char *path)
{
	const char *slash = strrchr(path, '/');

	return slash != NULL ? slash + 1 : path;
}

static bool
podsock_match_pod(pid_t pid, void *arg)
{
	struct podsock *ps = arg;
	bool match;
	char *exe;

	if (pid == getpid())
		return true;
	if ((exe = proc_exe(pid)) == NULL)
		return false;
	match = (ps->self_exe != NULL && strcmp(exe, ps->self_exe) == 0) ||
		(ps->daemon_exe != NULL && strcmp(exe, ps->daemon_exe) == 0);
	free(exe);
	return match;
}

/*
 * Is the peer on cfd a process inside a pod: a descendant of this or
 * another worker (a tool's bash), or of podvisord (where orphaned tool
 * processes end up)?  Pods steer each other through the pod tools, whose
 * visibility and scope rules the supervisor enforces; a pod socket is
 * for the user.
 */
static bool
podsock_peer_inside(struct podsock *ps, int cfd)
{
	pid_t pid;
	uid_t uid;
	gid_t gid;

	if (sock_peercred(cfd, &pid, &uid, &gid) < 0)
		return true;
	return proc_descends_from(pid, podsock_match_pod, ps);
}

/* Tell a refused client why, best effort, and close it. */
static void
podsock_refuse(int cfd, int r)
{
	static const char inside[] =
		"{\"event\":\"error\",\"data\":{\"code\":\"not_visible\","
		"\"message\":\"connections from inside a pod are refused; "
		"pods talk to each other through the pod tools\"},\"seq\":1}\n";

	if (r == -EACCES)
		(void)!write(cfd, inside, sizeof inside - 1);
	close(cfd);
}

static void
podsock_accept_cb(evutil_socket_t fd, short what, void *arg)
{
	struct podsock *ps = arg;
	struct podsock_client *cl;
	int cfd, r;

	for (;;) {
		cfd = accept4(fd, NULL, NULL, SOCK_NONBLOCK | SOCK_CLOEXEC);
		if (cfd == -1) {
			if (errno != EAGAIN && errno != EWOULDBLOCK &&
				errno != EINTR && errno != ECONNABORTED)
				log_warn("accept on %s: %s", ps->path,
					strerror(errno));
			if (errno == EINTR || errno == ECONNABORTED)
				continue;
			if (errno == EMFILE || errno == ENFILE)
				podsock_accept_backoff(ps);
			return;
		}
		r = sock_check_peer_uid(cfd);
		if (r == 0 && podsock_peer_inside(ps, cfd))
			r = -EACCES;
		if (r < 0) {
			log_warn("refused a client on %s: %s", ps->path,
				r == -EACCES ? "it runs inside a pod"
					     : strerror(-r));
			podsock_refuse(cfd, r);
			continue;
		}
		if (ps->nclients >= PODSOCK_MAX_CLIENTS) {
			static const char busy[] =
				"{\"event\":\"error\",\"data\":{\"code\":\"busy\",\"message\":\"too many clients\"},\"seq\":1}\n";
			(void)!write(cfd, busy, sizeof busy - 1);
			close(cfd);
			continue;
		}
		cl = xcalloc(1, sizeof *cl);
		cl->ps = ps;
		cl->conn = conn_new(ps->w->base, cfd, FRAME_LIMIT_POD,
			&podsock_conn_ops, cl);
		if (cl->conn == NULL) {
			free(cl);
			continue;
		}
		TAILQ_INSERT_TAIL(&ps->clients, cl, entry);
		ps->nclients++;
		podsock_send_snapshot(cl, NULL);
	}
}

/* Bind the pod socket and start accepting clients. */
int
podsock_new(struct worker *w, const char *path, struct podsock **ret,
	char **reterr_msg)
{
	struct podsock *ps;
	char *dir;
	int r;

	dir = xstrdup(path);
	r = dir_ensure_private(dirname(dir));
	if (r < 0) {
		*reterr_msg = xstrfmt(
			"pod socket directory of %s: %s", path, strerror(-r));
		free(dir);
		return r;
	}
	free(dir);
	r = sock_listen_unix(path, 64);
	if (r < 0) {
		*reterr_msg = xstrfmt("listen on %s: %s", path, strerror(-r));
		return r;
	}
	ps = xcalloc(1, sizeof *ps);
	ps->w = w;
	ps->fd = r;
	ps->path = xstrdup(path);
	ps->self_exe = proc_exe(getpid());
	ps->daemon_exe = proc_exe(getppid());
	if (ps->daemon_exe != NULL &&
		strcmp(podsock_basename(ps->daemon_exe), "podvisord") != 0) {
		free(ps->daemon_exe); /* not started by podvisord (tests) */
		ps->daemon_exe = NULL;
	}
	TAILQ_INIT(&ps->clients);
	ps->accept_ev = event_new(
		w->base, ps->fd, EV_READ | EV_PERSIST, podsock_accept_cb, ps);
	event_add(ps->accept_ev, NULL);
	*ret = ps;
	return 0;
}

/* Stop accepting; let each client's pending output drain, then close. */
void
podsock_close_all(struct podsock *ps)
{
	struct podsock_client *cl;

	if (ps == NULL)
		return;
	if (ps->accept_ev != NULL) {
		event_free(ps->accept_ev);
		ps->accept_ev = NULL;
	}
	if (ps->fd != -1) {
		close(ps->fd);
		ps->fd = -1;
		unlink(ps->path);
	}
	TAILQ_FOREACH(cl, &ps->clients, entry)
	conn_close(cl->conn);
}

/* Clients still attached. */
size_t
podsock_nclients(const struct podsock *ps)
{
	return ps == NULL ? 0 : ps->nclients;
}

/* Drop every client now and remove the socket. */
void
podsock_free(struct podsock *ps)
{
	struct podsock_client *cl;

	if (ps == NULL)
		return;
	podsock_close_all(ps);
	while ((cl = TAILQ_FIRST(&ps->clients)) != NULL) {
		TAILQ_REMOVE(&ps->clients, cl, entry);
		conn_set_arg(cl->conn, NULL);
		conn_close_now(cl->conn);
		conn_unref(cl->conn);
		free(cl);
	}
	free(ps->path);
	free(ps->self_exe);
	free(ps->daemon_exe);
	free(ps);
}
