/* SPDX-License-Identifier: ISC */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include <event2/event.h>
#include <json-c/json.h>

#include "config.h"
#include "common/log.h"
#include "common/sock.h"
#include "common/xmalloc.h"
#include "proto/conn.h"
#include "proto/dispatch.h"
#include "proto/frame.h"
#include "proto/msg.h"
#include "supervisord/approvals.h"
#include "supervisord/control.h"
#include "supervisord/budget.h"
#include "supervisord/daemon.h"
#include "supervisord/peer.h"
#include "supervisord/podops.h"
#include "supervisord/reattach.h"
#include "supervisord/workerchan.h"

static void
control_on_message(struct conn *c, struct msg *m, void *arg)
{
	struct client *cl = arg;

	if (cl == NULL)
		return;
	if (cl->pod != NULL) {
		workerchan_dispatch(cl, m);
		return;
	}
	if (m->kind != MSG_REQUEST)
		return; /* clients' events are ignored */
	(void)dispatch_request(control_table, control_table_len, cl, c, m);
}

static void
control_on_close(struct conn *c, void *arg)
{
	struct client *cl = arg;

	if (cl != NULL) {
		workerchan_closed(cl);
		TAILQ_REMOVE(&cl->d->clients, cl, entry);
		cl->d->nclients--;
		free(cl->as_pod);
		free(cl);
	}
	conn_set_arg(c, NULL);
	conn_unref(c);
}

static const struct conn_ops control_conn_ops = {
	.on_message = control_on_message,
	.on_close = control_on_close,
};

/* Is this client the user, or something running inside a pod? */
static void
control_classify(struct daemon *d, struct client *cl, int fd)
{
	struct pod *p = NULL;
	pid_t pid;
	uid_t uid;
	gid_t gid;

	if (sock_peercred(fd, &pid, &uid, &gid) < 0 || pid <= 0)
		return;
	cl->inside = peer_inside(d, pid, &p);
	if (p != NULL)
		cl->as_pod = xstrdup(p->name);
	if (cl->inside)
		log_info("control client pid %d runs inside %s%s", (int)pid,
			p != NULL ? "pod " : "podvisord",
			p != NULL ? p->name : "");
}

/*
 * The viewer for a request: NULL for the user; for a client inside a
 * pod, that pod (its visibility and delegation rules apply).  -1 with an
 * error sent when the request is refused.
 */
static int
control_viewer(struct client *cl, struct conn *c, struct msg *m, bool user_only,
	struct pod **ret)
{
	*ret = NULL;
	if (!cl->inside)
		return 0;
	if (!user_only && cl->as_pod != NULL &&
		(*ret = daemon_pod_find(cl->d, cl->as_pod)) != NULL)
		return 0;
	conn_send_error(c, m->id, PERR_NOT_VISIBLE, NULL,
		"%s is not available from inside %s%s", m->name,
		cl->as_pod != NULL ? "pod " : "podvisord",
		cl->as_pod != NULL ? cl->as_pod : "");
	return -1;
}

static void
control_accept_cb(evutil_socket_t lfd, short what, void *arg)
{
	struct daemon *d = arg;
	struct json_object *hello;
	struct client *cl;
	int fd, i, r;

	(void)what;
	/* A bounded batch per wakeup keeps the loop fair. */
	for (i = 0; i < 64; i++) {
		fd = accept4(lfd, NULL, NULL, SOCK_NONBLOCK | SOCK_CLOEXEC);
		if (fd < 0) {
			if (errno != EAGAIN && errno != EINTR &&
				errno != ECONNABORTED)
				log_warn("accept: %s", strerror(errno));
			return;
		}
		if ((r = sock_check_peer_uid(fd)) < 0) {
			log_warn("refused a control client: %s",
				r == -EPERM ? "another uid" : strerror(-r));
			close(fd);
			continue;
		}
		if (d->nclients >= CONTROL_MAX_CLIENTS) {
			log_warn("refused a control client: %d clients",
				CONTROL_MAX_CLIENTS);
			close(fd);
			continue;
		}
		cl = xcalloc(1, sizeof(*cl));
		cl->d = d;
		control_classify(d, cl, fd);
		cl->c = conn_new(d->base, fd, FRAME_LIMIT_CONTROL,
			&control_conn_ops, cl);
		conn_set_out_limit(cl->c, CONTROL_OUT_LIMIT);
		TAILQ_INSERT_TAIL(&d->clients, cl, entry);
		d->nclients++;
		hello = json_object_new_object();
		json_object_object_add(
			hello, "protocol", json_object_new_int(1));
		json_object_object_add(hello, "version",
			json_object_new_string(PODVISOR_VERSION));
		json_object_object_add(
			hello, "pid", json_object_new_int(getpid()));
		json_object_object_add(hello, "cgroups", cgroup_hello(cl->d));
		conn_send_event(cl->c, "hello", hello, NULL);
	}
}

/* Accept on the listening socket. */
int
control_start(struct daemon *d)
{
	int r;

	if ((r = fd_set_nonblock(d->listen_fd, true)) < 0)
		return r;
	(void)fd_set_cloexec(d->listen_fd, true);
	d->listen_ev = event_new(d->base, d->listen_fd, EV_READ | EV_PERSIST,
		control_accept_cb, d);
	if (d->listen_ev == NULL)
		return -ENOMEM;
	event_add(d->listen_ev, NULL);
	return 0;
}

/* Stop accepting; drop every client. */
void
control_stop(struct daemon *d)
{
	struct client *cl, *next;

	if (d->listen_ev != NULL)
		event_free(d->listen_ev);
	d->listen_ev = NULL;
	for (cl = TAILQ_FIRST(&d->clients); cl != NULL; cl = next) {
		next = TAILQ_NEXT(cl, entry);
		conn_close_now(cl->c);
	}
}

static void
control_ping(void *ctx, struct conn *c, struct msg *m)
{
	(void)ctx;
	conn_send_event(c, "pong", json_object_new_object(), m->id);
}

static void
control_spawn(void *ctx, struct conn *c, struct msg *m)
{
	struct client *cl = ctx;

	struct pod *v;

	if (control_viewer(cl, c, m, false, &v) == 0)
		podops_spawn(cl->d, v, c, m);
}

static void
control_restore(void *ctx, struct conn *c, struct msg *m)
{
	struct client *cl = ctx;

	struct pod *v;

	if (control_viewer(cl, c, m, false, &v) == 0)
		podops_restore(cl->d, v, c, m);
}

static void
control_stop_pod(void *ctx, struct conn *c, struct msg *m)
{
	struct client *cl = ctx;

	struct pod *v;

	if (control_viewer(cl, c, m, false, &v) == 0)
		podops_stop(cl->d, v, c, m);
}

static void
control_list(void *ctx, struct conn *c, struct msg *m)
{
	struct client *cl = ctx;

	struct pod *v;

	if (control_viewer(cl, c, m, false, &v) == 0)
		podops_list(cl->d, v, c, m);
}

static void
control_inspect(void *ctx, struct conn *c, struct msg *m)
{
	struct client *cl = ctx;

	struct pod *v;

	if (control_viewer(cl, c, m, false, &v) == 0)
		podops_inspect(cl->d, v, c, m);
}

static void
control_register_peer(void *ctx, struct conn *c, struct msg *m)
{
	struct client *cl = ctx;

	struct pod *v;

	if (control_viewer(cl, c, m, true, &v) == 0)
		podops_register_peer(cl->d, NULL, c, m);
}

static void
control_send(void *ctx, struct conn *c, struct msg *m)
{
	struct client *cl = ctx;

	struct pod *v;

	if (control_viewer(cl, c, m, false, &v) == 0)
		podops_send(cl->d, v, c, m, "message");
}

static void
control_forget(void *ctx, struct conn *c, struct msg *m)
{
	struct client *cl = ctx;

	struct pod *v;

	if (control_viewer(cl, c, m, true, &v) == 0)
		podops_forget(cl->d, c, m);
}

static void
control_shutdown(void *ctx, struct conn *c, struct msg *m)
{
	struct client *cl = ctx;
	const char *pods = msg_param_str(m, "pods");
	struct pod *v;

	if (control_viewer(cl, c, m, true, &v) != 0)
		return;
	if (pods != NULL && strcmp(pods, "stop") != 0 &&
		strcmp(pods, "leave") != 0) {
		conn_send_error(c, m->id, PERR_INVALID_REQUEST, NULL,
			"\"pods\" must be \"stop\" or \"leave\"");
		return;
	}
	conn_send_event(c, "shutting_down", json_object_new_object(), m->id);
	daemon_shutdown(cl->d, pods != NULL && strcmp(pods, "leave") == 0);
}

static void
control_set_approval(void *ctx, struct conn *c, struct msg *m)
{
	struct client *cl = ctx;
	struct pod *v;

	if (control_viewer(cl, c, m, false, &v) == 0)
		approvals_set(cl->d, v, c, m);
}

static void
control_set_budget(void *ctx, struct conn *c, struct msg *m)
{
	struct client *cl = ctx;
	struct pod *v;

	if (control_viewer(cl, c, m, false, &v) == 0)
		budget_set(cl->d, v, c, m);
}

static void
control_reattach(void *ctx, struct conn *c, struct msg *m)
{
	reattach_request(ctx, c, m);
}

static const struct param_spec control_p_name[] = {
	{ "name", PARAM_STRING, false },
	{ NULL, PARAM_ANY, false },
};
static const struct param_spec control_p_spawn[] = {
	{ "name", PARAM_STRING, false },
	{ "cwd", PARAM_STRING, true },
	{ "scope", PARAM_ARRAY, true },
	{ "model", PARAM_STRING, true },
	{ "instruction", PARAM_STRING, true },
	{ "task", PARAM_STRING, true },
	{ "restart", PARAM_STRING, true },
	{ "approval", PARAM_OBJECT, true },
	{ "network", PARAM_STRING, true },
	{ "limits", PARAM_OBJECT, true },
	{ "mcp", PARAM_ARRAY, true },
	{ "mcp_servers", PARAM_ARRAY, true },
	{ "worktree", PARAM_OBJECT, true },
	{ "budget_tokens", PARAM_INT, true },
	{ NULL, PARAM_ANY, false },
};
static const struct param_spec control_p_set_budget[] = {
	{ "name", PARAM_STRING, false },
	{ "tokens", PARAM_INT, true },
	{ "add", PARAM_INT, true },
	{ NULL, PARAM_ANY, false },
};
static const struct param_spec control_p_forget[] = {
	{ "name", PARAM_STRING, false },
	{ "force", PARAM_BOOL, true },
	{ "delete_branch", PARAM_BOOL, true },
	{ NULL, PARAM_ANY, false },
};
static const struct param_spec control_p_restore[] = {
	{ "name", PARAM_STRING, false },
	{ "mcp_servers", PARAM_ARRAY, true },
	{ NULL, PARAM_ANY, false },
};
static const struct param_spec control_p_stop[] = {
	{ "name", PARAM_STRING, false },
	{ "recursive", PARAM_BOOL, true },
	{ NULL, PARAM_ANY, false },
};
static const struct param_spec control_p_peer[] = {
	{ "a", PARAM_STRING, false },
	{ "b", PARAM_STRING, false },
	{ NULL, PARAM_ANY, false },
};
static const struct param_spec control_p_send[] = {
	{ "name", PARAM_STRING, false },
	{ "message", PARAM_STRING, false },
	{ NULL, PARAM_ANY, false },
};
static const struct param_spec control_p_shutdown[] = {
	{ "pods", PARAM_STRING, true },
	{ NULL, PARAM_ANY, false },
};
static const struct param_spec control_p_set_approval[] = {
	{ "name", PARAM_STRING, false },
	{ "approval", PARAM_OBJECT, false },
	{ NULL, PARAM_ANY, false },
};
static const struct param_spec control_p_reattach[] = {
	{ "name", PARAM_STRING, false },
	{ "pid", PARAM_INT, false },
	{ "segment", PARAM_ANY, true },
	{ "status", PARAM_STRING, true },
	{ NULL, PARAM_ANY, false },
};

/* Sorted by name (dispatch_table_valid() is unit-tested). */
const struct dispatch_entry control_table[] = {
	{ "forget", control_p_forget, control_forget },
	{ "inspect", control_p_name, control_inspect },
	{ "list", NULL, control_list },
	{ "ping", NULL, control_ping },
	{ "reattach", control_p_reattach, control_reattach },
	{ "register_peer", control_p_peer, control_register_peer },
	{ "restore", control_p_restore, control_restore },
	{ "send", control_p_send, control_send },
	{ "set_approval", control_p_set_approval, control_set_approval },
	{ "set_budget", control_p_set_budget, control_set_budget },
	{ "shutdown", control_p_shutdown, control_shutdown },
	{ "spawn", control_p_spawn, control_spawn },
	{ "stop", control_p_stop, control_stop_pod },
};
const unsigned control_table_len =
	sizeof(control_table) / sizeof(control_table[0]);
