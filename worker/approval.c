/* SPDX-License-Identifier: ISC */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/queue.h>

#include <event2/event.h>
#include <json-c/json.h>
#include <json-c/json_object_iterator.h>

#include "common/clock.h"
#include "common/id.h"
#include "common/log.h"
#include "common/xmalloc.h"
#include "proto/msg.h"
#include "worker/approval.h"
#include "worker/approval_diff.h"
#include "worker/link.h"
#include "worker/podsock.h"
#include "worker/session.h"
#include "worker/turn.h"
#include "worker/worker.h"

#define APPROVAL_MAX_PENDING 256
#define APPROVAL_REASON_MAX 1024

struct approval_req {
	TAILQ_ENTRY(approval_req) entry;
	struct approval *a;
	char *id;
	char *call_id;
	char *tool;
	char *path; /* write/edit target, else NULL */
	struct json_object *args; /* parsed, may be NULL */
	struct json_object *data; /* the approval_request event data */
	struct event *timer;
	approval_cb cb; /* the waiting call, NULL if none */
	void *cb_arg;
};

struct approval {
	struct worker *w;
	struct approval_policy pol;
	TAILQ_HEAD(, approval_req) pending;
	size_t npending;
	struct json_object *decided; /* id -> decision, every decided id */
	/* call_id -> {allow, reason}: decided with nobody waiting. */
	struct json_object *verdicts;
};

static void approval_timeout_cb(evutil_socket_t fd, short what, void *arg);

/* The policy from the start config. */
int
approval_new(struct worker *w, struct json_object *start_params,
	struct approval **ret, char **reterr_msg)
{
	struct approval *a;
	struct json_object *v;

	a = xcalloc(1, sizeof *a);
	a->w = w;
	TAILQ_INIT(&a->pending);
	a->decided = json_object_new_object();
	a->verdicts = json_object_new_object();
	if (start_params != NULL &&
		json_object_object_get_ex(start_params, "approval", &v) &&
		!json_object_is_type(v, json_type_null) &&
		approval_policy_from_json(&a->pol, v, reterr_msg) < 0) {
		approval_free(a);
		return -EINVAL;
	}
	*ret = a;
	return 0;
}

static void
approval_req_free(struct approval_req *r)
{
	if (r == NULL)
		return;
	if (r->timer != NULL)
		event_free(r->timer);
	free(r->id);
	free(r->call_id);
	free(r->tool);
	free(r->path);
	json_object_put(r->args);
	json_object_put(r->data);
	free(r);
}

/* Free a and its requests (their log entries stay). NULL-safe. */
void
approval_free(struct approval *a)
{
	struct approval_req *r;

	if (a == NULL)
		return;
	while ((r = TAILQ_FIRST(&a->pending)) != NULL) {
		TAILQ_REMOVE(&a->pending, r, entry);
		approval_req_free(r);
	}
	approval_policy_clear(&a->pol);
	json_object_put(a->decided);
	json_object_put(a->verdicts);
	free(a);
}

/* Copy every member of src but skip1/skip2 (may be NULL) into dst. */
static void
approval_copy(struct json_object *dst, struct json_object *src,
	const char *skip1, const char *skip2)
{
	struct json_object_iterator it = json_object_iter_begin(src);
	struct json_object_iterator end = json_object_iter_end(src);
	const char *key;

	for (; !json_object_iter_equal(&it, &end); json_object_iter_next(&it)) {
		key = json_object_iter_peek_name(&it);
		if ((skip1 != NULL && strcmp(key, skip1) == 0) ||
			(skip2 != NULL && strcmp(key, skip2) == 0))
			continue;
		json_object_object_add(dst, key,
			json_object_get(json_object_iter_peek_value(&it)));
	}
}

static struct approval_req *
approval_find(const struct approval *a, const char *id, const char *call_id)
{
	struct approval_req *r;

	TAILQ_FOREACH(r, &a->pending, entry)
	if ((id != NULL && strcmp(r->id, id) == 0) ||
		(call_id != NULL && strcmp(r->call_id, call_id) == 0))
		return r;
	return NULL;
}

/* Arm r's timeout: what is left of timeout_s since it was asked. */
static void
approval_arm(struct approval_req *r)
{
	struct approval *a = r->a;
	struct json_object *v;
	struct timeval tv = { 0, 0 };
	int64_t asked = 0, left;

	if (a->pol.timeout_s <= 0)
		return;
	if (json_object_object_get_ex(r->data, "ms", &v))
		asked = json_object_get_int64(v);
	left = asked + (int64_t)a->pol.timeout_s * 1000 - clock_now_ms();
	if (left > 0) {
		tv.tv_sec = left / 1000;
		tv.tv_usec = (left % 1000) * 1000;
	}
	r->timer = evtimer_new(a->w->base, approval_timeout_cb, r);
	evtimer_add(r->timer, &tv);
}

/* A request from its approval_request data (taken). */
static struct approval_req *
approval_req_new(struct approval *a, struct json_object *data)
{
	struct approval_req *r = xcalloc(1, sizeof *r);
	const char *s;

	r->a = a;
	r->data = data;
	r->id = xstrdup(msg_json_str(data, "id"));
	r->call_id = xstrdup(msg_json_str(data, "call_id"));
	r->tool = xstrdup(msg_json_str(data, "tool"));
	s = msg_json_str(data, "path");
	r->path = s != NULL ? xstrdup(s) : NULL;
	s = msg_json_str(data, "arguments");
	r->args = s != NULL ? json_tokener_parse(s) : NULL;
	TAILQ_INSERT_TAIL(&a->pending, r, entry);
	a->npending++;
	return r;
}

/* The session log's approval entries: rebuild pending and rules. */
void
approval_replay(struct approval *a)
{
	struct json_object *entries = session_entries(a->w->session), *e, *d;
	struct json_object *results, *v;
	struct approval_req *r;
	const char *kind, *id, *rule;
	size_t i, n = json_object_array_length(entries);

	results = json_object_new_object();
	for (i = 0; i < n; i++) {
		e = json_object_array_get_idx(entries, i);
		if ((kind = msg_json_str(e, "kind")) == NULL)
			continue;
		if (strcmp(kind, "tool_result") == 0 &&
			(id = msg_json_str(e, "id")) != NULL)
			json_object_object_add(
				results, id, json_object_new_boolean(1));
	}
	for (i = 0; i < n; i++) {
		e = json_object_array_get_idx(entries, i);
		kind = msg_json_str(e, "kind");
		id = msg_json_str(e, "id");
		if (kind == NULL || id == NULL)
			continue;
		if (strcmp(kind, "approval_request") == 0 &&
			msg_json_str(e, "call_id") != NULL &&
			msg_json_str(e, "tool") != NULL &&
			approval_find(a, id, NULL) == NULL &&
			!json_object_object_get_ex(a->decided, id, NULL)) {
			d = json_object_new_object();
			approval_copy(d, e, "kind", NULL);
			approval_req_new(a, d);
		} else if (strcmp(kind, "approval_decision") == 0) {
			json_object_object_add(a->decided, id,
				json_object_new_string(
					msg_json_str(e, "decision")
						? msg_json_str(e, "decision")
						: "deny"));
			if ((rule = msg_json_str(e, "rule")) != NULL)
				(void)approval_policy_add(&a->pol, rule, NULL);
			r = approval_find(a, id, NULL);
			if (r == NULL)
				continue;
			/*
			 * Decided, but no result: the call may have started
			 * before the worker went down.  It never runs again.
			 */
			if (!json_object_object_get_ex(
				    results, r->call_id, &v)) {
				d = json_object_new_object();
				json_object_object_add(
					d, "allow", json_object_new_boolean(0));
				json_object_object_add(d, "reason",
					json_object_new_string(
						"[interrupted] the call was "
						"decided before the pod "
						"restarted and is not run "
						"again"));
				json_object_object_add(
					a->verdicts, r->call_id, d);
			}
			TAILQ_REMOVE(&a->pending, r, entry);
			a->npending--;
			approval_req_free(r);
		}
	}
	/* A request whose call has a result is over (e.g. an old log). */
	for (r = TAILQ_FIRST(&a->pending); r != NULL;) {
		struct approval_req *next = TAILQ_NEXT(r, entry);

		if (json_object_object_get_ex(results, r->call_id, NULL)) {
			TAILQ_REMOVE(&a->pending, r, entry);
			a->npending--;
			approval_req_free(r);
		} else {
			approval_arm(r);
		}
		r = next;
	}
	json_object_put(results);
}

/* Continue the turn a restored request belongs to. */
void
approval_started(struct approval *a)
{
	if (a->npending > 0 || json_object_object_length(a->verdicts) > 0)
		turn_resume_approvals(a->w->turn);
}

/* The absolute path a file tool's "path" argument names, or NULL. */
static char *
approval_abs_path(struct approval *a, struct json_object *args)
{
	const char *p = msg_json_str(args, "path");

	if (p == NULL || p[0] == '\0')
		return NULL;
	if (p[0] == '/')
		return xstrdup(p);
	return xstrfmt("%s/%s", a->w->cwd, p);
}

/* Should the parent pod be asked (docs/approvals.md "Who is asked")? */
static bool
approval_ask_parent(struct approval *a)
{
	if (a->w->parent == NULL)
		return false;
	switch (a->pol.ask) {
	case APPROVAL_ASK_PARENT:
		return true;
	case APPROVAL_ASK_CLIENTS:
		return false;
	case APPROVAL_ASK_AUTO:
		break;
	}
	return podsock_nclients(a->w->podsock) == 0;
}

/* Log, broadcast and route a new request for a call. */
static struct approval_req *
approval_ask(struct approval *a, const char *call_id, const char *tool,
	const char *args, struct json_object *pargs, char *path)
{
	struct json_object *d, *paths, *e;
	struct approval_req *r;
	char id[ID_LEN + 1], *diff;
	const char *p;

	/* The random tail of a ULID: short, and unique in practice. */
	do {
		id_new(id);
		p = id + ID_LEN - 8;
	} while (approval_find(a, p, NULL) != NULL ||
		json_object_object_get_ex(a->decided, p, NULL));
	d = json_object_new_object();
	json_object_object_add(d, "id", json_object_new_string(p));
	json_object_object_add(d, "call_id", json_object_new_string(call_id));
	json_object_object_add(d, "tool", json_object_new_string(tool));
	json_object_object_add(d, "arguments", json_object_new_string(args));
	paths = json_object_new_array();
	if (path != NULL)
		json_object_array_add(paths, json_object_new_string(path));
	else if (strcmp(tool, "bash") == 0)
		json_object_array_add(paths, json_object_new_string(a->w->cwd));
	json_object_object_add(d, "paths", paths);
	if (path != NULL)
		json_object_object_add(d, "path", json_object_new_string(path));
	diff = approval_diff(tool, path, pargs);
	if (diff != NULL)
		json_object_object_add(d, "diff", json_object_new_string(diff));
	free(diff);
	json_object_object_add(d, "ms", json_object_new_int64(clock_now_ms()));
	e = session_entry_new("approval_request");
	approval_copy(e, d, "ms", NULL);
	turn_commit_entry(a->w->turn, e, true);
	r = approval_req_new(a, d);
	free(path);
	worker_broadcast(a->w, "approval_request", json_object_get(r->data));
	if (approval_ask_parent(a))
		link_send_event(a->w->link, "approval_request",
			json_object_get(r->data));
	approval_arm(r);
	return r;
}

/* The gate every tool call passes. */
enum approval_gate
approval_gate(struct approval *a, const char *call_id, const char *tool,
	const char *args, approval_cb cb, void *arg, char **ret_reason)
{
	struct json_object *pargs, *v;
	struct approval_req *r;
	char *path;
	bool allow;

	if ((r = approval_find(a, NULL, call_id)) != NULL) {
		r->cb = cb;
		r->cb_arg = arg;
		return APPROVAL_GATE_WAIT;
	}
	if (json_object_object_get_ex(a->verdicts, call_id, &v)) {
		allow = json_object_get_boolean(
			json_object_object_get(v, "allow"));
		if (!allow)
			*ret_reason = xstrdup(msg_json_str(v, "reason")
					? msg_json_str(v, "reason")
					: "denied");
		json_object_object_del(a->verdicts, call_id);
		return allow ? APPROVAL_GATE_RUN : APPROVAL_GATE_DENY;
	}
	if (a->pol.level == APPROVAL_NEVER)
		return APPROVAL_GATE_RUN;
	pargs = json_tokener_parse(args);
	path = strcmp(tool, "write") == 0 || strcmp(tool, "edit") == 0
		? approval_abs_path(a, pargs)
		: NULL;
	if (!approval_policy_needs(&a->pol, tool, pargs, path)) {
		json_object_put(pargs);
		free(path);
		return APPROVAL_GATE_RUN;
	}
	if (a->npending >= APPROVAL_MAX_PENDING) {
		json_object_put(pargs);
		free(path);
		*ret_reason = xstrfmt("denied: %d approval requests are "
				      "already pending",
			APPROVAL_MAX_PENDING);
		return APPROVAL_GATE_DENY;
	}
	r = approval_ask(a, call_id, tool, args, pargs, path);
	json_object_put(pargs);
	r->cb = cb;
	r->cb_arg = arg;
	turn_refresh_status(a->w->turn);
	return APPROVAL_GATE_WAIT;
}

/* Forget the waiter arg; its request stays pending. */
void
approval_detach(struct approval *a, void *arg)
{
	struct approval_req *r;

	if (a == NULL)
		return;
	TAILQ_FOREACH(r, &a->pending, entry)
	if (r->cb_arg == arg) {
		r->cb = NULL;
		r->cb_arg = NULL;
	}
}

/* Record the decision for r, tell everyone, run or refuse the call. */
static void
approval_finish(struct approval_req *r, const char *decision,
	const char *reason, const char *by, bool kick)
{
	struct approval *a = r->a;
	struct json_object *e, *d, *rd;
	bool allow = strcmp(decision, "deny") != 0;
	char *rule = NULL;
	approval_cb cb = r->cb;
	void *arg = r->cb_arg;
	char *why = NULL;

	if (strcmp(decision, "allow_always") == 0) {
		rule = approval_rule_for_call(r->tool, r->args, r->path);
		if (rule != NULL &&
			approval_policy_add(&a->pol, rule, NULL) < 0) {
			free(rule);
			rule = NULL;
		}
	}
	e = session_entry_new("approval_decision");
	json_object_object_add(e, "id", json_object_new_string(r->id));
	json_object_object_add(e, "decision", json_object_new_string(decision));
	if (reason != NULL)
		json_object_object_add(
			e, "reason", json_object_new_string(reason));
	json_object_object_add(e, "by", json_object_new_string(by));
	if (rule != NULL)
		json_object_object_add(e, "rule", json_object_new_string(rule));
	d = json_object_new_object();
	approval_copy(d, e, "kind", "ms");
	/* Durable before the call may start: a restart never runs it. */
	turn_commit_entry(a->w->turn, e, true);
	if (allow && session_pending(a->w->session) > 0) {
		/*
		 * Not on disk: after a crash the request would be pending
		 * again and could be allowed twice.  Refuse this time.
		 */
		allow = false;
		why = xstrdup("not run: the session log cannot be written, "
			      "so the approval would not survive a restart; "
			      "ask again later");
	}
	json_object_object_add(
		a->decided, r->id, json_object_new_string(decision));
	TAILQ_REMOVE(&a->pending, r, entry);
	a->npending--;
	worker_broadcast(a->w, "approval_decided", d);
	if (rule != NULL) {
		rd = json_object_new_object();
		json_object_object_add(
			rd, "rule", json_object_new_string(rule));
		link_send_event(a->w->link, "approval_rule", rd);
	}
	if (!allow && why == NULL)
		why = xstrfmt("denied by the %s%s%s",
			strcmp(by, "parent") == 0 ? "parent pod"
				: strcmp(by, "timeout") == 0
				? "approval timeout"
				: "user",
			reason != NULL ? ": " : "", reason ? reason : "");
	if (cb == NULL) {
		d = json_object_new_object();
		json_object_object_add(
			d, "allow", json_object_new_boolean(allow));
		if (why != NULL)
			json_object_object_add(
				d, "reason", json_object_new_string(why));
		json_object_object_add(a->verdicts, r->call_id, d);
	}
	approval_req_free(r);
	turn_refresh_status(a->w->turn);
	if (cb != NULL)
		cb(arg, allow, why);
	else if (kick)
		approval_started(a);
	free(why);
	free(rule);
}

/* Withdraw the request of call_id (its call got another result). */
void
approval_withdraw(struct approval *a, const char *call_id, const char *reason)
{
	struct approval_req *r;

	if (a == NULL)
		return;
	json_object_object_del(a->verdicts, call_id);
	if ((r = approval_find(a, NULL, call_id)) == NULL)
		return;
	r->cb = NULL;
	/* Its call has its result: no verdict is kept for it. */
	approval_finish(r, "deny", reason, "client", false);
	json_object_object_del(a->verdicts, call_id);
}

static void
approval_timeout_cb(evutil_socket_t fd, short what, void *arg)
{
	struct approval_req *r = arg;

	approval_finish(r, "deny", "timed out", "timeout", true);
}

/* Decide request id. */
int
approval_decide(struct approval *a, const char *id, const char *decision,
	const char *reason, const char *by, char **reterr_msg)
{
	struct approval_req *r;

	if (decision == NULL ||
		(strcmp(decision, "allow_once") != 0 &&
			strcmp(decision, "allow_always") != 0 &&
			strcmp(decision, "deny") != 0)) {
		*reterr_msg = xstrdup("\"decision\" must be \"allow_once\", "
				      "\"allow_always\" or \"deny\"");
		return -EINVAL;
	}
	if (reason != NULL && strlen(reason) > APPROVAL_REASON_MAX) {
		*reterr_msg = xstrfmt("\"reason\" is longer than %d bytes",
			APPROVAL_REASON_MAX);
		return -EINVAL;
	}
	if (id == NULL || (r = approval_find(a, id, NULL)) == NULL) {
		if (id != NULL &&
			json_object_object_get_ex(a->decided, id, NULL)) {
			*reterr_msg = xstrfmt("approval %s was already "
					      "decided (%s)",
				id,
				json_object_get_string(json_object_object_get(
					a->decided, id)));
			return -EALREADY;
		}
		*reterr_msg = xstrfmt("no approval request %.64s in pod %s "
				      "(podvisor approvals lists them)",
			id ? id : "", a->w->name);
		return -ENOENT;
	}
	approval_finish(r, decision, reason, by, true);
	return 0;
}

/* How many are pending. */
size_t
approval_npending(const struct approval *a)
{
	return a != NULL ? a->npending : 0;
}

/* The pending requests' data. */
struct json_object *
approval_pending_json(const struct approval *a)
{
	struct json_object *arr = json_object_new_array();
	struct approval_req *r;

	if (a == NULL)
		return arr;
	TAILQ_FOREACH(r, &a->pending, entry)
	json_object_array_add(arr, json_object_get(r->data));
	return arr;
}

/*
 * set_approval from podvisord: replace the policy (already in pod
 * state) and tell every client.  Requests already pending stay pending:
 * a looser policy does not answer questions someone may be reading.
 */
int
approval_set_policy(
	struct approval *a, const struct json_object *o, char **reterr_msg)
{
	struct approval_policy pol = { 0 };

	if (approval_policy_from_json(&pol, o, reterr_msg) < 0)
		return -EINVAL;
	approval_policy_clear(&a->pol);
	a->pol = pol;
	log_info("approval policy now %s", approval_level_name(pol.level));
	worker_broadcast(
		a->w, "approval_policy", approval_policy_to_json(&a->pol));
	return 0;
}

/* The policy in force. */
const struct approval_policy *
approval_policy(const struct approval *a)
{
	return &a->pol;
}
