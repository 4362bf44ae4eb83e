/* SPDX-License-Identifier: ISC */
#include "worker/worker.h"

#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <event2/event.h>
#include <json-c/json.h>

#include "common/clock.h"
#include "common/log.h"
#include "common/podname.h"
#include "common/xmalloc.h"
#include "proto/msg.h"
#include "worker/approval.h"
#include "worker/compact.h"
#include "worker/confine.h"
#include "worker/http.h"
#include "worker/link.h"
#include "worker/mcp.h"
#include "worker/podsock.h"
#include "worker/session.h"
#include "worker/spend.h"
#include "worker/turn.h"

#define WORKER_ALERTS_MAX 50
#define WORKER_EXIT_POLL_MS 20
#define WORKER_EXIT_GRACE_MS 3000

static char *
worker_dup(struct json_object *obj, const char *key)
{
	const char *s = msg_json_str(obj, key);

	return s ? xstrdup(s) : NULL;
}

static void
worker_rebuild_scope(struct worker *w)
{
	struct scope_rules all = { 0 };
	size_t i;

	for (i = 0; i < w->own_rules.n; i++)
		scope_rules_add(&all, &w->own_rules.v[i]);
	for (i = 0; i < w->effective_write.n; i++)
		scope_rules_add(&all, &w->effective_write.v[i]);
	/* Tools in flight may still look at the previous scope. */
	scope_free(w->old_scope);
	w->old_scope = w->scope;
	w->scope = scope_new(&all);
	scope_rules_clear(&all);
	w->tenv.scope = w->scope;
}

/* Replace the effective write rules; tools see the new scope at once. */
void
worker_set_effective_write(struct worker *w, const struct scope_rules *rules)
{
	scope_rules_clear(&w->effective_write);
	scope_rules_copy(&w->effective_write, rules);
	worker_rebuild_scope(w);
	log_info("scope changed: %zu effective write rules", rules->n);
}

static void
worker_summary_add(char **out, const struct scope_rule *rule)
{
	char *d, *tmp;

	d = scope_rule_describe(rule);
	tmp = xstrfmt("%s%s%s", *out, (*out)[0] ? "; " : "", d);
	free(d);
	free(*out);
	*out = tmp;
}

/* "write /w (recursive); read /x" for greetings and the prompt. */
char *
worker_scope_summary(const struct worker *w)
{
	char *out = xstrdup("");
	size_t i;

	for (i = 0; i < w->own_rules.n; i++)
		worker_summary_add(&out, &w->own_rules.v[i]);
	/* The holes children hold are deny-write rules of the effective set. */
	for (i = 0; i < w->effective_write.n; i++)
		if (w->effective_write.v[i].deny &&
			scope_rules_find(
				&w->own_rules, &w->effective_write.v[i]) < 0)
			worker_summary_add(&out, &w->effective_write.v[i]);
	if (out[0] == '\0') {
		free(out);
		out = xstrdup("no access");
	}
	return out;
}

/* The request's system prompt (caller frees). */
char *
worker_system_prompt(const struct worker *w)
{
	char *scope, *s;

	scope = worker_scope_summary(w);
	s = xstrfmt("%s%sYou are the podvisor pod \"%s\", a long-lived agent. "
		    "Your working directory is %s; relative paths are "
		    "taken against it. Your file access scope: %s. Files "
		    "outside it cannot be read or written, and bash commands "
		    "can only write inside your write scope. Use the tools "
		    "to act; messages from other pods and the supervisor "
		    "arrive as notifications.",
		w->instruction ? w->instruction : "",
		w->instruction && w->instruction[0] ? "\n\n" : "", w->name,
		w->cwd, scope);
	free(scope);
	return s;
}

/* Broadcast an event to every client of the pod socket. */
void
worker_broadcast(struct worker *w, const char *event, struct json_object *data)
{
	podsock_broadcast(w->podsock, event, data);
}

/* Broadcast an alert and keep it for snapshots. */
void
worker_alert(struct worker *w, const char *level, const char *source,
	const char *fmt, ...)
{
	struct json_object *a;
	va_list ap;
	char *msg;

	va_start(ap, fmt);
	if (vasprintf(&msg, fmt, ap) == -1)
		msg = NULL;
	va_end(ap);
	if (msg == NULL)
		return;
	log_msg(strcmp(level, "error") == 0          ? LOG_LVL_ERR
			: strcmp(level, "warn") == 0 ? LOG_LVL_WARN
						     : LOG_LVL_INFO,
		"alert (%s): %s", source, msg);
	a = json_object_new_object();
	json_object_object_add(a, "level", json_object_new_string(level));
	json_object_object_add(a, "source", json_object_new_string(source));
	json_object_object_add(a, "message", json_object_new_string(msg));
	json_object_object_add(a, "ms", json_object_new_int64(clock_now_ms()));
	free(msg);
	if (json_object_array_length(w->alerts) >= WORKER_ALERTS_MAX)
		json_object_array_del_idx(w->alerts, 0, 1);
	json_object_array_add(w->alerts, json_object_get(a));
	worker_broadcast(w, "alert", a);
}

static int
worker_parse_paths(
	struct worker *w, struct json_object *paths, char **reterr_msg)
{
	w->runtime_dir = worker_dup(paths, "runtime_dir");
	w->sock_path = worker_dup(paths, "socket");
	w->session_dir = worker_dup(paths, "session_dir");
	w->control_sock = worker_dup(paths, "control_sock");
	if (w->sock_path == NULL || w->session_dir == NULL ||
		w->control_sock == NULL) {
		*reterr_msg = xstrdup("paths needs socket, session_dir and "
				      "control_sock strings");
		return -EINVAL;
	}
	return 0;
}

/*
 * A spare runs as "podvisor-worker --spare <blank padding>": rewrite that
 * argument area (arg_start..arg_end of /proc/self/stat, our own stack)
 * to "podvisor-worker --pod NAME [--restore]" so that ps shows the pod.
 */
static void
worker_spare_title(struct worker *w)
{
	char buf[1024], title[128], *f, *save = NULL;
	unsigned long start = 0, end = 0;
	size_t len = 0, k;
	ssize_t n;
	int fd, i;

	if ((fd = open("/proc/self/stat", O_RDONLY | O_CLOEXEC)) < 0)
		return;
	n = read(fd, buf, sizeof(buf) - 1);
	close(fd);
	if (n <= 0)
		return;
	buf[n] = '\0';
	/* Field 3 follows the comm's closing parenthesis. */
	if ((f = strrchr(buf, ')')) == NULL)
		return;
	f = strtok_r(f + 1, " ", &save);
	for (i = 3; f != NULL && i <= 49; i++) {
		if (i == 48)
			start = strtoul(f, NULL, 10);
		else if (i == 49)
			end = strtoul(f, NULL, 10);
		f = strtok_r(NULL, " ", &save);
	}
	k = strlen(w->name);
	if (start == 0 || end <= start || k > 64)
		return;
	/*
	 * Only rewrite what the kernel shows if it is our own argv: under a
	 * wrapper such as valgrind, /proc/self/stat describes the wrapper's
	 * arguments, not ours.
	 */
	if ((char *)start != program_invocation_name)
		return;
	memcpy(title, "podvisor-worker\0--pod\0", 22);
	len = 22;
	memcpy(title + len, w->name, k + 1);
	len += k + 1;
	if (w->restore) {
		memcpy(title + len, "--restore", 10);
		len += 10;
	}
	if (len > end - start)
		return;
	memset((char *)start, 0, end - start);
	memcpy((char *)start, title, len);
}

/*
 * A spare's stderr is <runtime>/spare-stderr.log: move it (and stdout)
 * onto the pod's stderr.log, where podvisord quotes it from.
 */
static void
worker_spare_stderr(struct worker *w)
{
	char *path;
	int fd;

	if (w->runtime_dir == NULL)
		return;
	path = xstrfmt("%s/stderr.log", w->runtime_dir);
	fd = open(path, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0600);
	free(path);
	if (fd < 0)
		return;
	(void)dup2(fd, STDOUT_FILENO);
	(void)dup2(fd, STDERR_FILENO);
	close(fd);
	worker_spare_title(w);
}

/*
 * Remove API keys from our environment, so that no tool child (bash and
 * whatever it runs) inherits them: the well-known names, and any
 * variable holding this pod's own key (its provider's api_key_env).  The
 * worker itself has the key from its start config and needs no copy.
 */
static void
worker_scrub_env(const char *api_key)
{
	static const char *const known[] = { "OPENAI_API_KEY",
		"ANTHROPIC_API_KEY", "PODVISOR_API_KEY" };
	extern char **environ;
	char **e, *name;
	const char *eq;
	size_t i;

	for (i = 0; i < sizeof(known) / sizeof(known[0]); i++)
		unsetenv(known[i]);
	if (api_key == NULL || api_key[0] == '\0')
		return;
	for (e = environ; e != NULL && *e != NULL;) {
		eq = strchr(*e, '=');
		if (eq == NULL || strstr(eq + 1, api_key) == NULL) {
			e++;
			continue;
		}
		name = xstrndup(*e, (size_t)(eq - *e));
		unsetenv(name); /* shifts environ down: look at *e again */
		free(name);
	}
}

static int
worker_parse_config(struct worker *w, struct json_object *p, char **reterr_msg)
{
	struct json_object *v, *bash, *sess;
	const char *name;
	bool spare = false;
	size_t i, n;
	int r;

	name = msg_json_str(p, "name");
	if (w->name == NULL) {
		/* A spare (--spare) becomes the pod that start names. */
		if (name == NULL || !podname_valid(name, NULL)) {
			*reterr_msg = xstrdup("a spare needs a valid \"name\"");
			return -EINVAL;
		}
		w->name = xstrdup(name);
		spare = true;
	} else if (name != NULL && strcmp(name, w->name) != 0) {
		*reterr_msg = xstrfmt(
			"start is for pod \"%s\", not \"%s\"", name, w->name);
		return -EINVAL;
	}
	w->cwd = worker_dup(p, "cwd");
	if (w->cwd == NULL || w->cwd[0] != '/') {
		*reterr_msg = xstrdup("cwd must be an absolute path");
		return -EINVAL;
	}
	w->parent = worker_dup(p, "parent");
	if (json_object_object_get_ex(p, "restore", &v) &&
		json_object_get_boolean(v))
		w->restore = true;
	json_object_object_get_ex(p, "scope", &v);
	r = scope_rules_from_json(v, w->cwd, &w->own_rules, reterr_msg);
	if (r < 0)
		return r;
	if (json_object_object_get_ex(p, "effective_write", &v) &&
		json_object_is_type(v, json_type_array)) {
		r = scope_rules_from_json(
			v, w->cwd, &w->effective_write, reterr_msg);
		if (r < 0)
			return r;
	} else {
		for (i = 0; i < w->own_rules.n; i++)
			if (w->own_rules.v[i].perm == SCOPE_WRITE ||
				w->own_rules.v[i].deny)
				scope_rules_add(&w->effective_write,
					&w->own_rules.v[i]);
	}
	if (json_object_object_get_ex(p, "session", &sess)) {
		w->session_id_cfg = worker_dup(sess, "id");
		w->segment_cfg = worker_dup(sess, "segment");
	}
	json_object_object_get_ex(p, "paths", &v);
	r = worker_parse_paths(w, v, reterr_msg);
	if (r < 0)
		return r;
	if (spare)
		worker_spare_stderr(w);
	json_object_object_get_ex(p, "model", &v);
	r = provider_config_from_json(v, &w->pc, reterr_msg);
	if (r < 0)
		return r;
	worker_scrub_env(w->pc.api_key);
	w->instruction = worker_dup(p, "instruction");
	w->max_turns = 50;
	if (json_object_object_get_ex(p, "max_turns", &v) &&
		json_object_is_type(v, json_type_int) &&
		json_object_get_int(v) > 0)
		w->max_turns = json_object_get_int(v);
	w->bash_timeout_s = 120;
	if (json_object_object_get_ex(p, "bash", &bash)) {
		if (json_object_object_get_ex(bash, "timeout_s", &v) &&
			json_object_get_int(v) > 0)
			w->bash_timeout_s = json_object_get_int(v);
		if (json_object_object_get_ex(bash, "scratch", &v) &&
			json_object_is_type(v, json_type_array)) {
			n = json_object_array_length(v);
			w->scratch = xcalloc(n + 1, sizeof *w->scratch);
			for (i = 0; i < n; i++)
				w->scratch[i] = xstrdup(json_object_get_string(
					json_object_array_get_idx(v, i)));
		}
	}
	if (w->scratch == NULL)
		w->scratch = xcalloc(1, sizeof *w->scratch);
	if (json_object_object_get_ex(p, "cgroup", &v) &&
		json_object_is_type(v, json_type_object)) {
		struct json_object *mm = NULL;

		w->cgroup = worker_dup(v, "path");
		json_object_object_get_ex(v, "memory_max", &mm);
		w->memory_max = mm != NULL ? json_object_get_int64(mm) : 0;
	}
	json_object_object_get_ex(p, "confine", &v);
	return confine_cfg_parse(v, w->control_sock, &w->confine, reterr_msg);
}

/* A tool child's run saw OOM kills in the pod's cgroup: tell clients. */
static void
worker_on_oom(void *arg, int64_t killed)
{
	struct worker *w = arg;
	struct json_object *o = json_object_new_object();

	json_object_object_add(o, "killed", json_object_new_int64(killed));
	json_object_object_add(o, "cgroup", json_object_new_string(w->cgroup));
	if (w->memory_max > 0)
		json_object_object_add(
			o, "memory_max", json_object_new_int64(w->memory_max));
	worker_broadcast(w, "oom", o);
	worker_alert(w, "warn", "cgroup",
		"%lld process(es) of this pod killed by the OOM killer in %s",
		(long long)killed, w->cgroup);
}

static int
worker_open_session(struct worker *w, char **reterr_msg)
{
	struct stat st;
	char *system, *path, *alert = NULL;
	bool exists;
	int r;

	system = worker_system_prompt(w);
	path = w->segment_cfg
		? xstrfmt("%s/%s.jsonl", w->session_dir, w->segment_cfg)
		: NULL;
	exists = path != NULL && stat(path, &st) == 0;
	/*
	 * An empty file is a segment whose first line never became durable
	 * (session_create() leaves that to the first durable append): no
	 * log, like a missing one.
	 */
	if (exists && st.st_size == 0 && unlink(path) == 0)
		exists = false;
	/*
	 * An existing segment is always replayed (restore, or a resend of
	 * start); --restore without one starts a new segment with an
	 * alert rather than failing the pod.
	 */
	if (exists) {
		r = session_restore(w->session_dir, w->session_id_cfg,
			w->segment_cfg, &w->session, &alert, reterr_msg);
		if (alert != NULL) {
			worker_alert(w, "warn", "session", "%s", alert);
			free(alert);
		}
	} else {
		if (w->restore)
			worker_alert(w, "warn", "session",
				"no session log to restore (%s); starting a "
				"new segment",
				path ? path : "no segment given");
		r = session_create(w->session_dir, w->session_id_cfg,
			w->segment_cfg, w->pc.model, system, &w->session,
			reterr_msg);
	}
	free(path);
	free(system);
	return r;
}

static void
worker_mcp_alert_cb(void *arg, const char *level, const char *msg)
{
	worker_alert(arg, level, "mcp", "%s", msg);
}

static void
worker_mcp_progress_cb(void *arg, const char *call_id, double progress,
	double total, const char *message)
{
	struct json_object *d = json_object_new_object();

	json_object_object_add(d, "id", json_object_new_string(call_id));
	json_object_object_add(d, "progress", json_object_new_double(progress));
	if (total > 0)
		json_object_object_add(
			d, "total", json_object_new_double(total));
	if (message != NULL)
		json_object_object_add(
			d, "message", json_object_new_string(message));
	worker_broadcast(arg, "tool_progress", d);
}

static bool
worker_mcp_owns_cb(void *arg, int pid)
{
	return mcp_owns_pid(arg, pid);
}

/*
 * A server's secrets from podvisord's environment ("scrub": the names
 * of the variables that hold them) must not reach bash runs or other
 * servers through the environment the worker inherited: the server gets
 * its own copy in its "env".
 */
static void
worker_mcp_scrub(struct json_object *servers)
{
	struct json_object *s, *a;
	size_t i, j, n;

	n = servers != NULL && json_object_is_type(servers, json_type_array)
		? json_object_array_length(servers)
		: 0;
	for (i = 0; i < n; i++) {
		s = json_object_array_get_idx(servers, i);
		if (!json_object_object_get_ex(s, "scrub", &a) ||
			!json_object_is_type(a, json_type_array))
			continue;
		for (j = 0; j < json_object_array_length(a); j++)
			unsetenv(json_object_get_string(
				json_object_array_get_idx(a, j)));
	}
}

/* The start config's "mcp" servers, started now (confined like bash). */
static int
worker_mcp_setup(struct worker *w, struct json_object *p, char **reterr_msg)
{
	struct mcp_host host = { 0 };
	struct mcp_server_config *cfgs = NULL;
	struct json_object *v = NULL;
	size_t n = 0;
	int r;

	json_object_object_get_ex(p, "mcp", &v);
	worker_mcp_scrub(v);
	r = mcp_configs_from_json(v, &cfgs, &n, reterr_msg);
	if (r < 0)
		return r;
	if (n == 0) {
		free(cfgs);
		return 0;
	}
	host.base = w->base;
	host.tenv = &w->tenv;
	host.arg = w;
	host.alert = worker_mcp_alert_cb;
	host.progress = worker_mcp_progress_cb;
	w->mcp = mcp_new(&host, cfgs, n);
	w->tenv.owns_pid = worker_mcp_owns_cb;
	w->tenv.owns_pid_arg = w->mcp;
	mcp_start(w->mcp);
	return 0;
}

/* Parse the start config and bring the pod up. */
int
worker_start(struct worker *w, struct json_object *params, char **reterr_msg)
{
	int r;

	r = worker_parse_config(w, params, reterr_msg);
	if (r < 0)
		return r;
	r = compact_setup(w, params, reterr_msg);
	if (r < 0)
		return r;
	r = approval_new(w, params, &w->approval, reterr_msg);
	if (r < 0)
		return r;
	tool_env_init(&w->tenv, w->base, w->cwd);
	w->tenv.scratch = (const char *const *)w->scratch;
	confine_cfg_apply(w->confine, &w->tenv);
	w->tenv.cgroup = w->cgroup;
	w->tenv.memory_max = w->memory_max;
	w->tenv.on_oom = worker_on_oom;
	w->tenv.on_oom_arg = w;
	w->tenv.bash_timeout_default_s = w->bash_timeout_s;
	worker_rebuild_scope(w);
	r = worker_open_session(w, reterr_msg);
	if (r < 0)
		return r;
	approval_replay(w->approval);
	w->spend = spend_new(w, params);
	w->http = http_new(w->base);
	if (w->http == NULL) {
		*reterr_msg = xstrdup("cannot initialise the HTTP engine");
		return -ENOMEM;
	}
	r = worker_mcp_setup(w, params, reterr_msg);
	if (r < 0)
		return r;
	w->turn = turn_new(w);
	r = podsock_new(w, w->sock_path, &w->podsock, reterr_msg);
	if (r < 0)
		return r;
	log_info("pod %s up: socket %s, segment %s (%zu entries)", w->name,
		w->sock_path, session_segment(w->session),
		session_count(w->session));
	return 0;
}

static void
worker_exit_poll_cb(evutil_socket_t fd, short what, void *arg)
{
	struct worker *w = arg;
	struct timeval tv = { 0, WORKER_EXIT_POLL_MS * 1000 };

	if (w->exit_deadline == 0)
		w->exit_deadline = clock_mono_ms() + WORKER_EXIT_GRACE_MS;
	if ((podsock_nclients(w->podsock) == 0 && link_flushed(w->link) &&
		    mcp_flushed(w->mcp)) ||
		clock_mono_ms() >= w->exit_deadline) {
		event_base_loopexit(w->base, NULL);
		return;
	}
	evtimer_add(w->exit_ev, &tv);
}

/* Flush clients and the link, then leave the loop with code. */
void
worker_exit(struct worker *w, int code)
{
	struct timeval tv = { 0, 0 };

	if (w->exit_ev != NULL)
		return;
	w->exiting = true;
	w->exit_code = code;
	podsock_close_all(w->podsock);
	link_close(w->link);
	w->exit_ev = evtimer_new(w->base, worker_exit_poll_cb, w);
	evtimer_add(w->exit_ev, &tv);
}

/* Stop the turn, tell every client, exit 0 once flushed. */
void
worker_shutdown(struct worker *w)
{
	if (w->exiting)
		return;
	log_info("shutting down");
	if (w->turn != NULL)
		turn_shutdown(w->turn);
	w->exiting = true;
	/* HTTP servers get their sessions DELETEd before the exit. */
	mcp_stop(w->mcp);
	worker_broadcast(w, "shutdown", NULL);
	worker_exit(w, 0);
}

/* Free everything w holds (not w itself). */
void
worker_clear(struct worker *w)
{
	size_t i;

	compact_free(w->compact);
	turn_free(w->turn);
	approval_free(w->approval);
	podsock_free(w->podsock);
	link_free(w->link);
	http_free(w->http);
	session_free(w->session);
	spend_free(w->spend);
	w->spend = NULL;
	/* Its servers are orphans now: killed with the others below. */
	mcp_free(w->mcp);
	w->mcp = NULL;
	w->tenv.owns_pid = NULL;
	if (w->started || w->tenv.base != NULL) {
		tool_env_clear(&w->tenv);
		tool_bash_kill_orphans(&w->tenv);
	}
	scope_free(w->scope);
	scope_free(w->old_scope);
	scope_rules_clear(&w->own_rules);
	scope_rules_clear(&w->effective_write);
	provider_config_clear(&w->pc);
	for (i = 0; w->scratch != NULL && w->scratch[i] != NULL; i++)
		free(w->scratch[i]);
	free(w->scratch);
	json_object_put(w->alerts);
	json_object_put(w->pod_cursors);
	if (w->exit_ev != NULL)
		event_free(w->exit_ev);
	if (w->sigterm_ev != NULL)
		event_free(w->sigterm_ev);
	if (w->sigint_ev != NULL)
		event_free(w->sigint_ev);
	if (w->sigchld_ev != NULL)
		event_free(w->sigchld_ev);
	free(w->name);
	free(w->cwd);
	free(w->parent);
	free(w->session_id_cfg);
	free(w->segment_cfg);
	free(w->runtime_dir);
	free(w->sock_path);
	free(w->session_dir);
	free(w->control_sock);
	free(w->instruction);
	confine_cfg_free(w->confine);
	free(w->cgroup);
}
