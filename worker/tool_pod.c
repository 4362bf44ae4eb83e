/* SPDX-License-Identifier: ISC */
#include "worker/tool_pod.h"

#include <dirent.h>
#include <errno.h>
#include <libgen.h>
#include <stdlib.h>
#include <string.h>

#include <event2/event.h>
#include <json-c/json.h>

#include "common/atomicfile.h"
#include "common/podname.h"
#include "common/xmalloc.h"
#include "proto/msg.h"
#include "worker/link.h"
#include "worker/provider.h"
#include "worker/worker.h"

#define TOOL_POD_TIMEOUT_MS 15000
#define TOOL_POD_SPAWN_TIMEOUT_MS 30000
#define TOOL_POD_WORKTREE_TIMEOUT_MS 300000
#define TOOL_POD_LOG_MAX (256L * 1024 * 1024)

struct tool_pod_run {
	struct worker *w;
	char *tool;
	char *name; /* target pod */
	struct json_object *args;
	tool_done_cb cb;
	void *arg;
	bool cancelled;
	struct tool_result res; /* for results delivered from a timer */
};

static const struct llm_tool_def
	tool_pod_table
		[] = {
			{ "answer_approval",
				"Answer a tool-call approval request of one of your child pods (it arrives as a child_approval_request notification): allow_once, allow_always or deny with a reason. Leave it unanswered to let your user decide.",
				"{\"type\":\"object\",\"properties\":{\"pod\":{\"type\":\"string\"},\"id\":{\"type\":\"string\"},\"decision\":{\"type\":\"string\",\"enum\":[\"allow_once\",\"allow_always\",\"deny\"]},\"reason\":{\"type\":\"string\"}},\"required\":[\"pod\",\"id\",\"decision\"]}" },
			{ "list_pods",
				"List the pods you can see (yourself, your children and their descendants, your peers) with status and scope.",
				"{\"type\":\"object\",\"properties\":{}}" },
			{ "read_pod_output",
				"Read the assistant text a pod produced since your last read_pod_output call for it.",
				"{\"type\":\"object\",\"properties\":{\"name\":{\"type\":\"string\"}},\"required\":[\"name\"]}" },
			{ "restore_pod",
				"Restart a stopped or crashed pod you can see, with its history.",
				"{\"type\":\"object\",\"properties\":{\"name\":{\"type\":\"string\"}},\"required\":[\"name\"]}" },
			{ "send_to_peer",
				"Send a message to a registered peer pod; it arrives as a notification.",
				"{\"type\":\"object\",\"properties\":{\"name\":{\"type\":\"string\"},\"message\":{\"type\":\"string\"}},\"required\":[\"name\",\"message\"]}" },
			{ "send_to_pod",
				"Send a message (a new task) to one of your child pods.",
				"{\"type\":\"object\",\"properties\":{\"name\":{\"type\":\"string\"},\"message\":{\"type\":\"string\"}},\"required\":[\"name\",\"message\"]}" },
			{ "spawn_pod",
				"Start a child pod with a task and a scope that must lie within your own write scope; its write scope is taken from yours while it lives. You are notified when its turns end.", "{\"type\":\"object\",\"properties\":{\"name\":{\"type\":\"string\"},\"task\":{\"type\":\"string\"},\"scope\":{\"type\":\"array\",\"items\":{\"type\":\"object\",\"properties\":{\"target\":{\"type\":\"string\"},\"permission\":{\"type\":\"string\",\"enum\":[\"read\",\"write\"]},\"recursive\":{\"type\":\"boolean\"}},\"required\":[\"target\",\"permission\"]}},\"cwd\":{\"type\":\"string\"},\"model\":{\"type\":\"string\"},\"instruction\":{\"type\":\"string\"},\"approval\":{\"type\":\"object\",\"description\":\"the child's approval policy, as strict as yours or stricter\",\"properties\":{\"policy\":{\"type\":\"string\",\"enum\":[\"never\",\"writes\",\"bash\",\"always\"]},\"allow\":{\"type\":\"array\",\"items\":{\"type\":\"string\"}},\"timeout_s\":{\"type\":\"integer\"}}},\"network\":{\"type\":\"string\",\"enum\":[\"on\",\"loopback\",\"off\"],\"description\":\"what the child's tools reach: yours or narrower (off < loopback < on)\"},\"limits\":{\"type\":\"object\",\"description\":\"the child's cgroup limits, yours or lower (default: yours)\",\"properties\":{\"memory\":{\"type\":\"integer\",\"description\":\"bytes\"},\"memory_swap\":{\"type\":\"integer\"},\"pids\":{\"type\":\"integer\"},\"cpu_weight\":{\"type\":\"integer\"}}},\"mcp\":{\"type\":\"array\",\"items\":{\"type\":\"string\"},\"description\":\"names of your MCP servers the child gets (default: all of yours)\"},\"worktree\":{\"type\":\"object\",\"description\":\"give the child its own git worktree of your repository on a new branch (default pod/NAME) from base (default your HEAD, your last commit): its cwd; relative scope targets are inside it\",\"properties\":{\"base\":{\"type\":\"string\"},\"branch\":{\"type\":\"string\"}}},\"budget_tokens\":{\"type\":\"integer\",\"description\":\"tokens the child may spend, taken from your budget and what it leaves returned when it ends (default: half of what you have left)\"}},\"required\":[\"name\",\"task\",\"scope\"]}" },
			{ "stop_pod",
				"Stop a child pod; its write scope returns to you.",
				"{\"type\":\"object\",\"properties\":{\"name\":{\"type\":\"string\"}},\"required\":[\"name\"]}" },
		};

#define TOOL_POD_N (sizeof tool_pod_table / sizeof tool_pod_table[0])

/* Definitions of the pod tools for the provider request. */
const struct llm_tool_def *
tool_pod_defs(size_t *ret_n)
{
	*ret_n = TOOL_POD_N;
	return tool_pod_table;
}

/* Is name one of the pod tools? */
bool
tool_pod_is_pod_tool(const char *name)
{
	size_t i;

	for (i = 0; i < TOOL_POD_N; i++)
		if (strcmp(tool_pod_table[i].name, name) == 0)
			return true;
	return false;
}

static void
tool_pod_run_free(struct tool_pod_run *run)
{
	tool_result_clear(&run->res);
	json_object_put(run->args);
	free(run->tool);
	free(run->name);
	free(run);
}

static void
tool_pod_finish(
	struct tool_pod_run *run, bool is_error, char *summary, char *output)
{
	struct tool_result res = { 0 };

	res.is_error = is_error;
	res.summary = summary;
	res.output = output;
	if (!run->cancelled)
		run->cb(run->arg, &res);
	tool_result_clear(&res);
	tool_pod_run_free(run);
}

static void
tool_pod_later_cb(evutil_socket_t fd, short what, void *arg)
{
	struct tool_pod_run *run = arg;
	char *summary = run->res.summary, *output = run->res.output;

	run->res.summary = NULL;
	run->res.output = NULL;
	tool_pod_finish(run, true, summary, output);
}

static void
tool_pod_fail_later(struct tool_pod_run *run, const char *code, const char *msg)
{
	char *text;

	text = xstrfmt("%s: %s", code, msg);
	run->res.is_error = true;
	run->res.summary = xstrdup(text);
	run->res.output = text;
	/* Ownership of the strings passes to tool_pod_later_cb. */
	event_base_once(
		run->w->base, -1, EV_TIMEOUT, tool_pod_later_cb, run, NULL);
}

/* A relative cwd is taken against the pod's own. */
static struct json_object *
tool_pod_rel_path(const char *base, const char *rel)
{
	struct json_object *o;
	char *path;

	path = xstrfmt("%s/%s", base, rel);
	o = json_object_new_string(path);
	free(path);
	return o;
}

/* "code: message" of an error reply; caller frees. */
static char *
tool_pod_error_text(struct msg *m)
{
	const char *code = "internal", *message = "request failed";
	struct json_object *v;

	if (m == NULL)
		return xstrdup(
			"internal: the supervisor is not reachable (reconnecting); try again shortly");
	if (m->params != NULL &&
		json_object_object_get_ex(m->params, "code", &v))
		code = json_object_get_string(v);
	if (m->params != NULL &&
		json_object_object_get_ex(m->params, "message", &v))
		message = json_object_get_string(v);
	return xstrfmt("%s: %s", code, message);
}

static char *
tool_pod_format_pods(struct json_object *pods)
{
	struct json_object *p, *v;
	char *out, *line, *tmp;
	size_t i, n;

	n = json_object_is_type(pods, json_type_array)
		? json_object_array_length(pods)
		: 0;
	if (n == 0)
		return xstrdup("no pods");
	out = xstrdup("");
	for (i = 0; i < n; i++) {
		p = json_object_array_get_idx(pods, i);
		line = xstrfmt("%s\n",
			json_object_to_json_string_ext(p,
				JSON_C_TO_STRING_PLAIN |
					JSON_C_TO_STRING_NOSLASHESCAPE));
		tmp = xstrfmt("%s%s", out, line);
		free(out);
		free(line);
		out = tmp;
	}
	(void)v;
	return out;
}

/* Newest <segment>.jsonl in dir (ids sort by time); caller frees. */
static char *
tool_pod_newest_segment(const char *dir)
{
	DIR *d;
	struct dirent *de;
	char *best = NULL;
	size_t len;

	d = opendir(dir);
	if (d == NULL)
		return NULL;
	while ((de = readdir(d)) != NULL) {
		len = strlen(de->d_name);
		if (de->d_name[0] == '.' || len <= 6 ||
			strcmp(de->d_name + len - 6, ".jsonl") != 0)
			continue;
		if (best == NULL || strcmp(de->d_name, best) > 0) {
			free(best);
			best = xstrdup(de->d_name);
		}
	}
	closedir(d);
	return best;
}

/* Assistant text after *cursor entries of the segment at path. */
char *
tool_pod_read_output(const char *path, size_t *cursor)
{
	char *buf, *p, *nl, *out, *tmp;
	struct json_object *e, *v;
	size_t len, idx = 0;

	if (atomicfile_read(path, TOOL_POD_LOG_MAX, &buf, &len) < 0)
		return NULL;
	out = xstrdup("");
	for (p = buf; (nl = memchr(p, '\n', (size_t)(buf + len - p))) != NULL;
		p = nl + 1) {
		if (nl == p)
			continue;
		e = msg_parse_json(p, (size_t)(nl - p), NULL);
		if (e == NULL)
			continue;
		if (idx++ >= *cursor &&
			json_object_object_get_ex(e, "kind", &v) &&
			strcmp(json_object_get_string(v), "assistant") == 0 &&
			json_object_object_get_ex(e, "text", &v) &&
			json_object_get_string_len(v) > 0) {
			tmp = xstrfmt("%s%s%s", out, out[0] ? "\n\n" : "",
				json_object_get_string(v));
			free(out);
			out = tmp;
		}
		json_object_put(e);
	}
	*cursor = idx;
	free(buf);
	return out;
}

static void
tool_pod_read_output_step(struct tool_pod_run *run)
{
	struct worker *w = run->w;
	struct json_object *cur, *v;
	char *parent, *dir, *seg, *path, *text;
	size_t cursor = 0;

	parent = xstrdup(w->session_dir);
	dir = xstrfmt("%s/%s", dirname(parent), run->name);
	free(parent);
	seg = tool_pod_newest_segment(dir);
	if (seg == NULL) {
		tool_pod_finish(run, true,
			xstrfmt("no session log for %s", run->name),
			xstrfmt("not_found: pod %s has no session log yet",
				run->name));
		free(dir);
		return;
	}
	path = xstrfmt("%s/%s", dir, seg);
	free(dir);
	if (json_object_object_get_ex(w->pod_cursors, run->name, &cur) &&
		json_object_object_get_ex(cur, "segment", &v) &&
		strcmp(json_object_get_string(v), seg) == 0 &&
		json_object_object_get_ex(cur, "n", &v))
		cursor = (size_t)json_object_get_int64(v);
	text = tool_pod_read_output(path, &cursor);
	free(path);
	if (text == NULL) {
		tool_pod_finish(run, true, xstrdup("session log unreadable"),
			xstrfmt("internal: cannot read the session log of %s",
				run->name));
		free(seg);
		return;
	}
	cur = json_object_new_object();
	json_object_object_add(cur, "segment", json_object_new_string(seg));
	json_object_object_add(
		cur, "n", json_object_new_int64((int64_t)cursor));
	json_object_object_add(w->pod_cursors, run->name, cur);
	free(seg);
	if (text[0] == '\0') {
		free(text);
		tool_pod_finish(run, false,
			xstrfmt("no new output from %s", run->name),
			xstrfmt("(no new assistant output from %s)",
				run->name));
		return;
	}
	tool_pod_finish(run, false, xstrfmt("output of %s", run->name), text);
}

static bool
tool_pod_listed(struct json_object *pods, const char *name)
{
	struct json_object *p, *v;
	size_t i;

	if (!json_object_is_type(pods, json_type_array))
		return false;
	for (i = 0; i < json_object_array_length(pods); i++) {
		p = json_object_array_get_idx(pods, i);
		if (json_object_object_get_ex(p, "name", &v) &&
			strcmp(json_object_get_string(v), name) == 0)
			return true;
	}
	return false;
}

static void
tool_pod_reply_cb(struct msg *m, void *arg)
{
	struct tool_pod_run *run = arg;
	struct json_object *d, *v;
	const char *t = run->tool;
	char *err;

	if (run->cancelled) {
		tool_pod_run_free(run);
		return;
	}
	if (m == NULL || strcmp(m->name, "error") == 0) {
		err = tool_pod_error_text(m);
		tool_pod_finish(run, true, xstrfmt("%s failed", t), err);
		return;
	}
	d = m->params;
	if (strcmp(t, "list_pods") == 0) {
		if (d == NULL || !json_object_object_get_ex(d, "pods", &v))
			v = NULL;
		tool_pod_finish(run, false, xstrdup("listed pods"),
			tool_pod_format_pods(v));
	} else if (strcmp(t, "read_pod_output") == 0) {
		if (d == NULL || !json_object_object_get_ex(d, "pods", &v) ||
			!tool_pod_listed(v, run->name)) {
			tool_pod_finish(run, true,
				xstrfmt("%s not visible", run->name),
				xstrfmt("not_found: no pod named %s is visible "
					"to you",
					run->name));
			return;
		}
		tool_pod_read_output_step(run);
	} else if (strcmp(t, "spawn_pod") == 0) {
		v = NULL;
		if (d != NULL)
			json_object_object_get_ex(d, "pid", &v);
		tool_pod_finish(run, false,
			xstrfmt("spawned pod %s", run->name),
			xstrfmt("spawned pod %s (pid %s); you will be notified "
				"when its turns end",
				run->name,
				v ? json_object_get_string(v) : "?"));
	} else if (strcmp(t, "stop_pod") == 0) {
		v = NULL;
		if (d != NULL)
			json_object_object_get_ex(d, "released", &v);
		tool_pod_finish(run, false, xstrfmt("stopped %s", run->name),
			xstrfmt("stopped pod %s; released scope: %s", run->name,
				v ? json_object_to_json_string_ext(v,
					    JSON_C_TO_STRING_PLAIN |
						    JSON_C_TO_STRING_NOSLASHESCAPE)
				  : "[]"));
	} else if (strcmp(t, "answer_approval") == 0) {
		tool_pod_finish(run, false,
			xstrfmt("answered %s's approval", run->name),
			xstrfmt("answered approval %s of pod %s: %s",
				msg_json_str(run->args, "id"), run->name,
				msg_json_str(run->args, "decision")));
	} else if (strcmp(t, "restore_pod") == 0) {
		tool_pod_finish(run, false,
			xstrfmt("%s %s", m->name, run->name),
			xstrfmt("%s: pod %s is live",
				strcmp(m->name, "already_live") == 0
					? "already_live"
					: "restored",
				run->name));
	} else {
		v = NULL;
		if (d != NULL)
			json_object_object_get_ex(d, "delivered", &v);
		tool_pod_finish(run, false, xstrfmt("sent to %s", run->name),
			xstrfmt(v != NULL && !json_object_get_boolean(v)
					? "queued for %s (not live; delivered "
					  "when it is)"
					: "delivered to %s",
				run->name));
	}
}

/* answer_approval {pod, id, decision, reason?}: podvisord relays it. */
static struct tool_pod_run *
tool_pod_answer(struct tool_pod_run *run)
{
	static const char *const keys[] = { "pod", "id", "decision" };
	struct json_object *p;
	const char *v;
	size_t i;

	p = json_object_new_object();
	for (i = 0; i < 3; i++) {
		if ((v = msg_json_str(run->args, keys[i])) == NULL) {
			json_object_put(p);
			tool_pod_fail_later(run, "invalid_request",
				keys[i][0] == 'p'
					? "missing string argument \"pod\""
					: keys[i][0] == 'i'
					? "missing string argument \"id\""
					: "missing string argument "
					  "\"decision\"");
			return run;
		}
		json_object_object_add(p, keys[i], json_object_new_string(v));
	}
	if ((v = msg_json_str(run->args, "reason")) != NULL)
		json_object_object_add(p, "reason", json_object_new_string(v));
	run->name = xstrdup(msg_json_str(run->args, "pod"));
	link_call(run->w->link, "answer_approval", p, TOOL_POD_TIMEOUT_MS,
		tool_pod_reply_cb, run);
	return run;
}

/* Start pod tool name; the reply arrives through the link. */
struct tool_pod_run *
tool_pod_start(struct worker *w, const char *name, const char *args_json,
	tool_done_cb cb, void *arg)
{
	struct tool_pod_run *run;
	struct json_object *p, *v;
	const char *target, *msg;
	char *err = NULL;
	int timeout = TOOL_POD_TIMEOUT_MS;

	if (!tool_pod_is_pod_tool(name))
		return NULL;
	run = xcalloc(1, sizeof *run);
	run->w = w;
	run->tool = xstrdup(name);
	run->cb = cb;
	run->arg = arg;
	run->args = msg_parse_json(args_json, strlen(args_json), &err);
	if (run->args == NULL ||
		!json_object_is_type(run->args, json_type_object)) {
		tool_pod_fail_later(run, "invalid_request",
			err ? err : "arguments must be a JSON object");
		free(err);
		return run;
	}
	if (strcmp(name, "list_pods") == 0) {
		link_call(w->link, "list_pods", json_object_new_object(),
			timeout, tool_pod_reply_cb, run);
		return run;
	}
	if (strcmp(name, "answer_approval") == 0)
		return tool_pod_answer(run);
	target = msg_json_str(run->args, "name");
	if (target == NULL) {
		tool_pod_fail_later(run, "invalid_request",
			"missing string argument \"name\"");
		return run;
	}
	run->name = xstrdup(target);
	if (!podname_valid(target, &err)) {
		tool_pod_fail_later(
			run, "invalid_name", err ? err : "invalid pod name");
		free(err);
		return run;
	}
	if (strcmp(name, "read_pod_output") == 0) {
		link_call(w->link, "list_pods", json_object_new_object(),
			timeout, tool_pod_reply_cb, run);
		return run;
	}
	p = json_object_new_object();
	json_object_object_add(p, "name", json_object_new_string(target));
	if (strcmp(name, "send_to_pod") == 0 ||
		strcmp(name, "send_to_peer") == 0) {
		msg = msg_json_str(run->args, "message");
		if (msg == NULL) {
			json_object_put(p);
			tool_pod_fail_later(run, "invalid_request",
				"missing string argument \"message\"");
			return run;
		}
		json_object_object_add(
			p, "message", json_object_new_string(msg));
	} else if (strcmp(name, "spawn_pod") == 0) {
		timeout = TOOL_POD_SPAWN_TIMEOUT_MS;
		/* podvisord runs git worktree add first: a whole checkout. */
		if (json_object_object_get_ex(run->args, "worktree", &v))
			timeout = TOOL_POD_WORKTREE_TIMEOUT_MS;
		if (!json_object_object_get_ex(run->args, "scope", &v) ||
			!json_object_is_type(v, json_type_array)) {
			json_object_put(p);
			tool_pod_fail_later(run, "invalid_request",
				"missing array argument \"scope\"");
			return run;
		}
		json_object_object_add(p, "scope", json_object_get(v));
		if (json_object_object_get_ex(run->args, "task", &v) &&
			json_object_is_type(v, json_type_string))
			json_object_object_add(p, "task", json_object_get(v));
		v = NULL;
		if (json_object_object_get_ex(run->args, "cwd", &v) &&
			json_object_is_type(v, json_type_string) &&
			json_object_get_string(v)[0] == '/')
			json_object_object_add(p, "cwd", json_object_get(v));
		else if (v != NULL && json_object_is_type(v, json_type_string))
			json_object_object_add(p, "cwd",
				tool_pod_rel_path(
					w->cwd, json_object_get_string(v)));
		else
			json_object_object_add(
				p, "cwd", json_object_new_string(w->cwd));
		if (json_object_object_get_ex(run->args, "model", &v) &&
			json_object_is_type(v, json_type_string))
			json_object_object_add(p, "model", json_object_get(v));
		if (json_object_object_get_ex(run->args, "instruction", &v) &&
			json_object_is_type(v, json_type_string))
			json_object_object_add(
				p, "instruction", json_object_get(v));
		if (json_object_object_get_ex(run->args, "approval", &v) &&
			json_object_is_type(v, json_type_object))
			json_object_object_add(
				p, "approval", json_object_get(v));
		/* Checked by podvisord: a child only narrows. */
		if (json_object_object_get_ex(run->args, "network", &v))
			json_object_object_add(
				p, "network", json_object_get(v));
		if (json_object_object_get_ex(run->args, "limits", &v))
			json_object_object_add(p, "limits", json_object_get(v));
		if (json_object_object_get_ex(run->args, "mcp", &v) &&
			json_object_is_type(v, json_type_array))
			json_object_object_add(p, "mcp", json_object_get(v));
		/* Made and checked by podvisord (worktree.c). */
		if (json_object_object_get_ex(run->args, "worktree", &v) &&
			json_object_is_type(v, json_type_object))
			json_object_object_add(
				p, "worktree", json_object_get(v));
		/* Checked by podvisord: carved out of this pod's budget. */
		if (json_object_object_get_ex(run->args, "budget_tokens", &v))
			json_object_object_add(
				p, "budget_tokens", json_object_get(v));
	}
	link_call(w->link, name, p, timeout, tool_pod_reply_cb, run);
	return run;
}

/* Forget the caller: the reply (if any) is dropped. NULL-safe. */
void
tool_pod_cancel(struct tool_pod_run *run)
{
	if (run != NULL)
		run->cancelled = true;
}
