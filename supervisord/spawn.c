/* SPDX-License-Identifier: ISC */
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/types.h>
#include <sys/wait.h>
#include <unistd.h>
#include <linux/close_range.h>
#include <sys/syscall.h>

#include <event2/event.h>
#include <json-c/json.h>

#include "common/approval_policy.h"
#include "supervisord/podmcp.h"
#include "common/log.h"
#include "common/paths.h"
#include "common/sock.h"
#include "common/xmalloc.h"
#include "proto/conn.h"
#include "proto/frame.h"
#include "proto/msg.h"
#include "supervisord/conf.h"
#include "supervisord/daemon.h"
#include "supervisord/isolation.h"
#include "supervisord/lifecycle.h"
#include "supervisord/model.h"
#include "supervisord/podstore.h"
#include "supervisord/reap.h"
#include "supervisord/registry.h"
#include "supervisord/route.h"
#include "supervisord/spare.h"
#include "supervisord/spawn.h"
#include "supervisord/stop.h"
#include "supervisord/workerchan.h"
#include "supervisord/worktree.h"

#define SPAWN_READY_TIMEOUT_MS 10000
#define SPAWN_TAIL_BYTES 2048
#define SPAWN_TAIL_LINES 10

/* The last few lines of <runtime>/pods/<name>/stderr.log. */
char *
spawn_stderr_tail(struct daemon *d, const char *name)
{
	char *path = paths_pod_stderr(&d->paths, name);
	char buf[SPAWN_TAIL_BYTES + 1];
	char *start;
	ssize_t n;
	off_t size;
	int fd, lines = 0;

	fd = open(path, O_RDONLY | O_CLOEXEC);
	free(path);
	if (fd < 0)
		return xstrdup("");
	size = lseek(fd, 0, SEEK_END);
	if (size < 0)
		size = 0;
	n = pread(fd, buf, SPAWN_TAIL_BYTES,
		size > SPAWN_TAIL_BYTES ? size - SPAWN_TAIL_BYTES : 0);
	close(fd);
	if (n <= 0)
		return xstrdup("");
	while (n > 0 && (buf[n - 1] == '\n' || buf[n - 1] == '\0'))
		n--;
	buf[n] = '\0';
	for (start = buf + n; start > buf; start--) {
		if (start[-1] == '\n' && ++lines == SPAWN_TAIL_LINES)
			break;
	}
	if (start == buf && size > SPAWN_TAIL_BYTES) {
		char *nl = strchr(buf, '\n');

		if (nl != NULL)
			start = nl + 1;
	}
	return xstrdup(start);
}

static struct json_object *
spawn_paths_json(struct pod *p)
{
	struct daemon *d = p->d;
	struct json_object *o = json_object_new_object();
	char *s;

	s = paths_pod_runtime_dir(&d->paths, p->name);
	json_object_object_add(o, "runtime_dir", json_object_new_string(s));
	free(s);
	s = paths_pod_sock(&d->paths, p->name);
	json_object_object_add(o, "socket", json_object_new_string(s));
	free(s);
	s = paths_session_dir(&d->paths, p->name);
	json_object_object_add(o, "session_dir", json_object_new_string(s));
	free(s);
	json_object_object_add(o, "control_sock",
		json_object_new_string(d->paths.control_sock));
	return o;
}

/* Build the start request's params for p. */
int
spawn_start_config(
	struct pod *p, struct json_object **ret_obj, char **reterr_msg)
{
	struct json_object *o, *model = NULL, *sess, *bash, *comp, *scratch;
	const struct config_compaction *cc;
	struct model_choice mc;
	struct scope_rules eff;
	int r;

	if ((r = model_resolve(p->d, p->model, &mc, reterr_msg)) != 0)
		return r;
	r = model_start_json(p->d, &mc, &model, reterr_msg);
	if (r == 0) {
		free(p->model);
		p->model = xstrdup(mc.resolved);
	}
	model_choice_clear(&mc);
	if (r != 0)
		return r;
	o = json_object_new_object();
	json_object_object_add(o, "name", json_object_new_string(p->name));
	json_object_object_add(o, "cwd", json_object_new_string(p->cwd));
	json_object_object_add(o, "parent",
		p->parent != NULL ? json_object_new_string(p->parent) : NULL);
	json_object_object_add(
		o, "restore", json_object_new_boolean(p->restoring));
	json_object_object_add(o, "scope", scope_rules_to_json(&p->scope));
	registry_effective_write(p->d, p, &eff);
	json_object_object_add(o, "effective_write", scope_rules_to_json(&eff));
	scope_rules_clear(&eff);
	sess = json_object_new_object();
	json_object_object_add(
		sess, "id", json_object_new_string(p->session_id));
	json_object_object_add(sess, "segment",
		p->segment != NULL ? json_object_new_string(p->segment) : NULL);
	json_object_object_add(o, "session", sess);
	json_object_object_add(o, "paths", spawn_paths_json(p));
	json_object_object_add(o, "model", model);
	json_object_object_add(o, "instruction",
		p->instruction != NULL ? json_object_new_string(p->instruction)
				       : NULL);
	json_object_object_add(o, "max_turns", json_object_new_int(50));
	json_object_object_add(
		o, "approval", approval_policy_to_json(&p->approval));
	json_object_object_add(o, "mcp", podmcp_start_json(p));
	bash = json_object_new_object();
	scratch = json_object_new_array();
	json_object_array_add(scratch, json_object_new_string("/tmp"));
	json_object_object_add(bash, "scratch", scratch);
	json_object_object_add(bash, "timeout_s", json_object_new_int(120));
	json_object_object_add(o, "bash", bash);
	comp = json_object_new_object();
	cc = &p->d->config->compaction;
	json_object_object_add(
		comp, "enabled", json_object_new_boolean(cc->enabled));
	json_object_object_add(
		comp, "threshold", json_object_new_double(cc->threshold));
	json_object_object_add(comp, "retain_tokens",
		json_object_new_int64(cc->retain_tokens));
	json_object_object_add(comp, "model",
		cc->model != NULL ? json_object_new_string(cc->model) : NULL);
	json_object_object_add(o, "compaction", comp);
	json_object_object_add(o, "confine", isolation_start_config(p->d, p));
	budget_start_config(p, o);
	json_object_object_add(o, "cgroup", cgroup_start_json(p));
	*ret_obj = o;
	return 0;
}

static struct json_object *
spawn_reply_data(struct pod *p)
{
	struct json_object *o = json_object_new_object();
	char *sock = paths_pod_sock(&p->d->paths, p->name);

	json_object_object_add(o, "name", json_object_new_string(p->name));
	json_object_object_add(o, "pid", json_object_new_int(p->pid));
	json_object_object_add(o, "socket", json_object_new_string(sock));
	free(sock);
	return o;
}

static void
spawn_exec_close(struct pod *p)
{
	if (p->exec_ev != NULL)
		event_free(p->exec_ev);
	p->exec_ev = NULL;
	if (p->exec_fd >= 0)
		close(p->exec_fd);
	p->exec_fd = -1;
}

/* The worker is ready: live, answer the waiters, deliver events. */
static void
spawn_ready(struct pod *p, struct msg *m)
{
	struct json_object *sess, *v;

	if (m->params != NULL &&
		json_object_object_get_ex(m->params, "session", &sess) &&
		json_object_object_get_ex(sess, "segment", &v) &&
		json_object_is_type(v, json_type_string)) {
		free(p->segment);
		p->segment = xstrdup(json_object_get_string(v));
	}
	p->fresh = false;
	p->auto_restart = false;
	p->restoring = false;
	if (lifecycle_apply(p, LC_READY) != 0)
		return;
	waiter_reply(p, WAIT_SPAWN, "spawned", spawn_reply_data(p));
	waiter_reply(p, WAIT_RESTORE, "restored", spawn_reply_data(p));
	route_flush(p);
	if (p->stop_requested)
		stop_pod(p, false);
}

static void
spawn_start_reply_cb(struct conn *c, struct msg *m, void *arg)
{
	struct podref *ref = arg;
	struct pod *p = podref_get(ref);
	char *why;

	podref_free(ref);
	if (p == NULL || p->status != POD_STARTING)
		return;
	if (m != NULL && m->kind == MSG_EVENT &&
		strcmp(m->name, "ready") == 0) {
		spawn_ready(p, m);
		return;
	}
	if (m != NULL && strcmp(m->name, "error") == 0) {
		const char *text = m->params != NULL
			? json_object_get_string(
				  json_object_object_get(m->params, "message"))
			: NULL;

		why = xstrfmt("worker refused start: %s",
			text != NULL ? text : "no reason given");
	} else if (m != NULL)
		why = xstrfmt("worker answered start with \"%s\"", m->name);
	else if (conn_is_open(c))
		why = xstrdup("no ready from the worker within 10 s");
	else
		why = xstrdup("the worker closed its channel before ready");
	spawn_fail(p, why);
	free(why);
}

static void
spawn_exec_cb(evutil_socket_t fd, short what, void *arg)
{
	struct pod *p = arg;
	int err = 0;
	ssize_t n;

	(void)what;
	n = read(fd, &err, sizeof(err));
	if (n < 0 && (errno == EAGAIN || errno == EINTR))
		return;
	spawn_exec_close(p);
	if (n == (ssize_t)sizeof(err) && p->status == POD_STARTING) {
		char *why = xstrfmt("cannot execute %s: %s", p->d->worker_bin,
			strerror(err));

		spawn_fail(p, why);
		free(why);
	}
}

/* Only async-signal-safe calls between fork and exec. */
void
spawn_child(
	int chan, int errfd, int status_w, const char *bin, char *const argv[])
{
	sigset_t all;
	int sig, nul, ch, er, st, e;

	for (sig = 1; sig < NSIG; sig++)
		(void)signal(sig, SIG_DFL);
	sigemptyset(&all);
	(void)sigprocmask(SIG_SETMASK, &all, NULL);
	(void)setsid();
	/* Move everything above the fds we are about to fill. */
	ch = fcntl(chan, F_DUPFD_CLOEXEC, 10);
	er = fcntl(errfd, F_DUPFD_CLOEXEC, 10);
	st = fcntl(status_w, F_DUPFD_CLOEXEC, 10);
	nul = open("/dev/null", O_RDWR | O_CLOEXEC);
	if (ch < 0 || er < 0 || st < 0 || nul < 0)
		goto fail;
	if (dup2(nul, 0) < 0 || dup2(er, 1) < 0 || dup2(er, 2) < 0 ||
		dup2(ch, 3) < 0)
		goto fail;
	/* fd 4 and up close at exec; the status pipe stays until then. */
	(void)syscall(SYS_close_range, 4U, ~0U, CLOSE_RANGE_CLOEXEC);
	execv(bin, argv);
fail:
	e = errno;
	if (st >= 0)
		(void)write(st, &e, sizeof(e));
	_exit(127);
}

static int
spawn_prepare_dirs(struct pod *p, int *ret_errfd)
{
	struct daemon *d = p->d;
	char *rdir = paths_pod_runtime_dir(&d->paths, p->name);
	char *sdir = paths_session_dir(&d->paths, p->name);
	char *errpath = paths_pod_stderr(&d->paths, p->name);
	int r, fd = -1;

	if ((r = dir_ensure_private(rdir)) == 0 &&
		(r = dir_ensure_private(sdir)) == 0) {
		fd = open(errpath, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC,
			0600);
		if (fd < 0)
			r = -errno;
	}
	free(rdir);
	free(sdir);
	free(errpath);
	*ret_errfd = fd;
	return r;
}

/*
 * A worker is only told what to be by start, sent after its pod's
 * starting state (reservation, scope, pid) is durable.  A daemon that
 * dies between the take and that write leaves no state naming the
 * worker, and the worker, not started, exits at EOF on its channel.
 */
void
spawn_take_spare(struct pod *p)
{
	struct daemon *d = p->d;
	pid_t pid;
	int fd;

	if (p->chan != NULL || p->pid > 0 || spare_take(d, &pid, &fd) != 0)
		return;
	p->pid = pid;
	p->is_child = true;
	workerchan_attach(p,
		conn_new(d->base, fd, FRAME_LIMIT_WORKER, workerchan_ops(),
			NULL));
}

void
spawn_drop_worker(struct pod *p)
{
	workerchan_detach(p);
	/* Reaped later: no pod has the pid any more, so it is ignored. */
	if (p->pid > 0 && p->is_child)
		(void)kill(p->pid, SIGKILL);
	p->pid = 0;
	p->is_child = false;
}

/* Fork+exec the worker of p (or use the one taken) and send it start. */
void
spawn_worker(struct pod *p)
{
	struct daemon *d = p->d;
	struct json_object *cfg = NULL;
	char *err = NULL, *why;
	int sv[2] = { -1, -1 }, pfd[2] = { -1, -1 }, errfd = -1, r;
	char arg0[] = "podvisor-worker", arg1[] = "--pod", arg3[] = "--restore";
	char *argv[5];
	int argc = 0;
	pid_t pid;

	p->gen = ++d->gen_counter;
	p->waiting_fakellm = false;
	r = spawn_start_config(p, &cfg, &err);
	if (r == -EAGAIN) {
		p->waiting_fakellm = true;
		return;
	}
	if (r != 0) {
		spawn_fail(p, err != NULL ? err : "bad model");
		free(err);
		return;
	}
	if ((r = spawn_prepare_dirs(p, &errfd)) < 0) {
		why = xstrfmt("cannot create the pod's directories: %s",
			strerror(-r));
		goto fail;
	}
	if (cgroup_prepare(p, &err) < 0) {
		why = err;
		goto fail;
	}
	/*
	 * A spare worker is exec'd already: it reopens its stderr onto
	 * stderr.log (created above) and becomes the pod named in start.
	 * spawn_take_spare() may have handed it over before the starting
	 * state was written (with its pid: the write below is then a no-op).
	 */
	if (p->chan != NULL && p->pid > 0 && p->is_child) {
		close(errfd);
		errfd = -1;
		pid = p->pid;
		goto placed;
	}
	if (spare_take(d, &pid, &r) == 0) {
		close(errfd);
		errfd = -1;
		p->pid = pid;
		p->is_child = true;
		workerchan_attach(p,
			conn_new(d->base, r, FRAME_LIMIT_WORKER,
				workerchan_ops(), NULL));
		goto placed;
	}
	if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv) < 0 ||
		pipe2(pfd, O_CLOEXEC) < 0) {
		why = xstrfmt("socketpair/pipe: %s", strerror(errno));
		goto fail;
	}
	argv[argc++] = arg0;
	argv[argc++] = arg1;
	argv[argc++] = p->name;
	if (p->restoring)
		argv[argc++] = arg3;
	argv[argc] = NULL;
	pid = fork();
	if (pid < 0) {
		why = xstrfmt("fork: %s", strerror(errno));
		goto fail;
	}
	if (pid == 0)
		spawn_child(sv[1], errfd, pfd[1], d->worker_bin, argv);
	close(sv[1]);
	close(pfd[1]);
	close(errfd);
	p->pid = pid;
	p->is_child = true;
	p->exec_fd = pfd[0];
	(void)fd_set_nonblock(p->exec_fd, true);
	p->exec_ev = event_new(
		d->base, p->exec_fd, EV_READ | EV_PERSIST, spawn_exec_cb, p);
	event_add(p->exec_ev, NULL);
	workerchan_attach(p,
		conn_new(d->base, sv[0], FRAME_LIMIT_WORKER, workerchan_ops(),
			NULL));
	spare_schedule(d, 0);
placed:
	/*
	 * Into the pod's cgroup before start: the worker (spare or new)
	 * starts nothing before start, so all it runs is inside.
	 */
	if (cgroup_place(p, pid, &err) < 0) {
		json_object_put(cfg);
		spawn_fail(p, err);
		free(err);
		return;
	}
	(void)podstore_write(d, p);
	log_info("pod %s: worker pid %d started%s", p->name, (int)pid,
		p->restoring ? " (restore)" : "");
	conn_call(p->chan->c, "start", cfg, SPAWN_READY_TIMEOUT_MS,
		spawn_start_reply_cb, podref_new(p));
	return;
fail:
	if (cfg != NULL)
		json_object_put(cfg);
	if (errfd >= 0)
		close(errfd);
	if (sv[0] >= 0) {
		close(sv[0]);
		close(sv[1]);
	}
	if (pfd[0] >= 0) {
		close(pfd[0]);
		close(pfd[1]);
	}
	spawn_fail(p, why);
	free(why);
}

static struct json_object *
spawn_stopped_data(struct pod *p)
{
	struct json_object *o = json_object_new_object();

	json_object_object_add(o, "name", json_object_new_string(p->name));
	json_object_object_add(o, "released", json_object_new_array());
	return o;
}

/* Roll back or record a failed start. */
void
spawn_fail(struct pod *p, const char *why)
{
	struct daemon *d = p->d;
	struct json_object *extra;
	struct pod *parent;
	char *tail, *msg;

	if (p->status != POD_STARTING)
		return;
	spawn_exec_close(p);
	workerchan_detach(p);
	if (p->pid > 0) {
		/* Not reaped yet: kill it; reap ignores the pid later. */
		if (p->is_child)
			(void)kill(p->pid, SIGKILL);
		p->pid = 0;
	}
	tail = spawn_stderr_tail(d, p->name);
	msg = tail[0] != '\0'
		? xstrfmt("pod %s failed to start: %s; stderr: %s", p->name,
			  why, tail)
		: xstrfmt("pod %s failed to start: %s", p->name, why);
	log_warn("%s", msg);
	extra = json_object_new_object();
	json_object_object_add(extra, "name", json_object_new_string(p->name));
	json_object_object_add(extra, "stderr", json_object_new_string(tail));
	waiter_error(
		p, WAIT_SPAWN, PERR_SPAWN_FAILED, json_object_get(extra), msg);
	waiter_error(p, WAIT_RESTORE, PERR_SPAWN_FAILED, extra, msg);
	free(msg);
	free(tail);
	registry_release(d, p);
	parent = registry_parent(d, p);
	if (p->fresh) {
		if (parent != NULL) {
			namelist_remove(&parent->children, p->name);
			(void)podstore_write(d, parent);
		}
		budget_return(p);
		(void)podstore_remove(d, p);
		waiter_error(p, WAIT_STOP, PERR_NOT_FOUND, NULL,
			"the pod failed to start");
		worktree_discard(d, p);
		pod_free(p);
		if (parent != NULL)
			workerchan_send_scope(parent);
		daemon_check_exit(d);
		return;
	}
	if (p->auto_restart) {
		(void)lifecycle_apply(p, LC_EXIT_FAIL);
		reap_crashed(p);
	} else
		(void)lifecycle_apply(p, LC_FAIL);
	waiter_reply(p, WAIT_STOP, "stopped", spawn_stopped_data(p));
	if (parent != NULL)
		workerchan_send_scope(parent);
	daemon_check_exit(d);
}

/* Continue (or fail) the starts that waited for the fakellm. */
void
spawn_fakellm_ready(struct daemon *d, bool ok)
{
	struct pod *p, *next;

	for (p = TAILQ_FIRST(&d->pods); p != NULL; p = next) {
		next = TAILQ_NEXT(p, entry);
		if (!p->waiting_fakellm || p->status != POD_STARTING)
			continue;
		p->waiting_fakellm = false;
		if (ok)
			spawn_worker(p);
		else
			spawn_fail(p, "the bundled fakellm did not start");
	}
}
