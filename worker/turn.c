/* SPDX-License-Identifier: ISC */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include <event2/event.h>
#include <json-c/json.h>

#include "common/clock.h"
#include "common/log.h"
#include "common/xmalloc.h"
#include "proto/conn.h"
#include "proto/msg.h"
#include "worker/mcp.h"
#include "worker/approval.h"
#include "worker/attach.h"
#include "worker/compact.h"
#include "worker/link.h"
#include "worker/session.h"
#include "worker/spend.h"
#include "worker/tool_pod.h"
#include "worker/turn.h"
#include "worker/turn_int.h"
#include "worker/turn_item.h"
#include "worker/worker.h"

#define TURN_ITEMS_MAX 1024 /* queued client notifications */
#define TURN_LOG_RETRY_MAX_S 30 /* longest wait between log retries */

/* Append len bytes of s to b (NUL-terminated). */
void
turn_buf_add(struct turn_buf *b, const char *s, size_t len)
{
	if (b->len + len + 1 > b->cap) {
		b->cap = (b->len + len + 1) * 2;
		b->p = xreallocarray(b->p, b->cap, 1);
	}
	memcpy(b->p + b->len, s, len);
	b->len += len;
	b->p[b->len] = '\0';
}

/* Free and empty b. */
void
turn_buf_reset(struct turn_buf *b)
{
	free(b->p);
	memset(b, 0, sizeof *b);
}

/* The status as it appears on the wire. */
const char *
turn_status_name(enum turn_status status)
{
	switch (status) {
	case TURN_RUNNING:
		return "running";
	case TURN_PAUSED:
		return "paused";
	case TURN_IDLE:
		break;
	}
	return "idle";
}

/* The status clients and the supervisor see. */
const char *
turn_wire_status(const struct turn *t)
{
	if (t->status == TURN_RUNNING && approval_npending(t->w->approval) > 0)
		return "waiting_approval";
	return turn_status_name(t->status);
}

/* Current status. */
enum turn_status
turn_status(const struct turn *t)
{
	return t->status;
}

/* Estimated context tokens. */
long long
turn_context_tokens(const struct turn *t)
{
	return compact_context_tokens(t->w);
}

/* Tell the supervisor our status. */
void
turn_report_state(struct turn *t)
{
	struct json_object *d;

	d = json_object_new_object();
	json_object_object_add(
		d, "status", json_object_new_string(turn_wire_status(t)));
	json_object_object_add(d, "segment",
		json_object_new_string(session_segment(t->w->session)));
	link_send_event(t->w->link, "state", d);
}

/* Change the status: status event to clients, state to the supervisor. */
void
turn_set_status(struct turn *t, enum turn_status status)
{
	t->status = status;
	turn_refresh_status(t);
}

/* Send the wire status if it changed. */
void
turn_refresh_status(struct turn *t)
{
	struct json_object *d;
	const char *s;

	if (t == NULL)
		return;
	s = turn_wire_status(t);
	if (t->wire_status != NULL && strcmp(t->wire_status, s) == 0)
		return;
	t->wire_status = s;
	d = json_object_new_object();
	json_object_object_add(d, "status", json_object_new_string(s));
	worker_broadcast(t->w, "status", d);
	turn_report_state(t);
}

/* turn_commit for other modules. */
void
turn_commit_entry(struct turn *t, struct json_object *entry, bool sync)
{
	turn_commit(t, entry, sync);
}

/* Broadcast event (data taken) to the pod's clients. */
void
turn_emit(struct turn *t, const char *event, struct json_object *data)
{
	worker_broadcast(t->w, event, data);
}

/* Broadcast event {key: v}. */
void
turn_emit_int(struct turn *t, const char *event, const char *key, int v)
{
	struct json_object *d = json_object_new_object();

	json_object_object_add(d, key, json_object_new_int(v));
	turn_emit(t, event, d);
}

/* Answer the pod events whose system_item is now fsynced. */
static void
turn_log_ack(struct turn *t)
{
	struct turn_item *it, *next;
	size_t durable = session_durable(t->w->session);
	bool all = durable == session_count(t->w->session);

	for (it = turn_items_first(&t->unacked); it != NULL; it = next) {
		next = TAILQ_NEXT(it, entry);
		if (!all && it->idx >= durable)
			continue;
		turn_items_remove(&t->unacked, it);
		turn_item_accept(it);
		turn_item_free(it);
	}
}

/*
 * Account for the result r of a session log write: the first failure
 * alerts and arms the retry timer, success after failures alerts that
 * the log caught up; pod events that became durable are answered.
 */
static void
turn_log_result(struct turn *t, int r)
{
	struct timeval tv = { 0, 0 };

	if (r < 0) {
		if (t->log_err == 0) {
			worker_alert(t->w, "error", "session",
				"writing the session log failed: %s; "
				"retrying (%zu pending)",
				strerror(-r), session_pending(t->w->session));
			t->log_backoff_s = 1;
		}
		t->log_err = r;
		if (!evtimer_pending(t->log_ev, NULL)) {
			tv.tv_sec = t->log_backoff_s;
			evtimer_add(t->log_ev, &tv);
		}
	} else if (t->log_err != 0) {
		t->log_err = 0;
		evtimer_del(t->log_ev);
		worker_alert(t->w, "info", "session",
			"the session log caught up: all %zu entries are "
			"written",
			session_count(t->w->session));
	}
	turn_log_ack(t);
}

static void
turn_log_retry_cb(evutil_socket_t fd, short what, void *arg)
{
	struct turn *t = arg;

	t->log_backoff_s *= 2;
	if (t->log_backoff_s > TURN_LOG_RETRY_MAX_S)
		t->log_backoff_s = TURN_LOG_RETRY_MAX_S;
	turn_log_result(t, session_flush(t->w->session));
}

/* Is every entry in the log file?  Retries the pending ones first. */
bool
turn_log_ok(struct turn *t)
{
	if (t->log_err != 0)
		turn_log_result(t, session_flush(t->w->session));
	return t->log_err == 0;
}

/*
 * Append entry (taken) to the session log, after whatever is pending;
 * alert on the first failure.
 */
void
turn_commit(struct turn *t, struct json_object *entry, bool sync)
{
	turn_log_result(t, session_append(t->w->session, entry, sync));
}

/* Run the next step from the event loop, not from this stack. */
void
turn_schedule(struct turn *t, enum turn_next next)
{
	t->next = next;
	event_active(t->next_ev, EV_TIMEOUT, 0);
}

/*
 * Commit the queued notifications as system_items.  A pod event waits
 * in t->unacked until its entry is fsynced; only then is it accepted.
 */
void
turn_deliver_items(struct turn *t)
{
	struct turn_item *it;
	struct json_object *e, *d;

	while ((it = turn_items_first(&t->items)) != NULL) {
		e = session_entry_new("system_item");
		json_object_object_add(e, "item", json_object_get(it->item));
		d = json_object_new_object();
		json_object_object_add(d, "item", json_object_get(it->item));
		turn_items_remove(&t->items, it);
		it->idx = session_count(t->w->session);
		if (it->eid != NULL)
			turn_items_add(&t->unacked, it);
		else
			turn_item_free(it);
		turn_commit(t, e, true);
		turn_emit(t, "system_item", d);
	}
}

/* Answer the dangling calls of the last assistant entry with output. */
void
turn_close_dangling(struct turn *t, const char *output)
{
	struct json_object *calls, *call, *id, *e, *d;
	size_t i, n;

	calls = session_dangling_calls(t->w->session);
	n = json_object_array_length(calls);
	for (i = 0; i < n; i++) {
		call = json_object_array_get_idx(calls, i);
		if (!json_object_object_get_ex(call, "id", &id))
			continue;
		approval_withdraw(
			t->w->approval, json_object_get_string(id), output);
		e = session_entry_new("tool_result");
		json_object_object_add(e, "id", json_object_get(id));
		json_object_object_add(
			e, "summary", json_object_new_string(output));
		json_object_object_add(
			e, "output", json_object_new_string(output));
		json_object_object_add(
			e, "is_error", json_object_new_boolean(1));
		turn_commit(t, e, i + 1 == n);
		d = json_object_new_object();
		json_object_object_add(d, "id", json_object_get(id));
		json_object_object_add(
			d, "summary", json_object_new_string(output));
		json_object_object_add(
			d, "output", json_object_new_string(output));
		json_object_object_add(
			d, "is_error", json_object_new_boolean(1));
		turn_emit(t, "tool_result", d);
	}
	json_object_put(calls);
}

static void
turn_begin(struct turn *t, const char *trigger)
{
	struct json_object *d;

	t->requests = 0;
	spend_turn_begin(t->w->spend);
	free(t->last_text);
	t->last_text = NULL;
	turn_set_status(t, TURN_RUNNING);
	d = json_object_new_object();
	json_object_object_add(d, "trigger", json_object_new_string(trigger));
	turn_emit(t, "invoke_start", d);
}

static void
turn_start_turn(struct turn *t)
{
	t->turn_no++;
	turn_emit_int(t, "turn_start", "turn", t->turn_no);
}

/* Start a turn for the queued notifications (from idle). */
static void
turn_start_items(struct turn *t)
{
	struct turn_item *it;

	if (t->status != TURN_IDLE || t->w->exiting)
		return;
	it = turn_items_first(&t->items);
	if (it == NULL)
		return;
	turn_close_dangling(t, "[interrupted]");
	turn_begin(t, it->trigger);
	turn_deliver_items(t);
	turn_start_turn(t);
	turn_stream_request(t);
}

static void
turn_next_cb(evutil_socket_t fd, short what, void *arg)
{
	struct turn *t = arg;
	enum turn_next next = t->next;

	t->next = TURN_NEXT_NONE;
	if (next == TURN_NEXT_REQUEST)
		turn_stream_request(t);
	else if (next == TURN_NEXT_ITEMS)
		turn_start_items(t);
}

/*
 * End the run: stop the call and tools, log turn_end and run_end, set
 * the status, tell the supervisor, and pick up queued notifications.
 */
void
turn_stop(struct turn *t, const char *result, const char *code,
	const char *message)
{
	struct json_object *e, *d, *err = NULL, *run_end;
	bool paused = strcmp(result, "paused") == 0;
	char *log_msg = NULL;

	if (t->status != TURN_RUNNING)
		return;
	t->next = TURN_NEXT_NONE;
	if (t->call != NULL) {
		llm_call_cancel(t->call);
		t->call = NULL;
		turn_stream_flush(t);
		d = json_object_new_object();
		json_object_object_add(
			d, "call", json_object_new_int(t->call_no));
		json_object_object_add(
			d, "stop_reason", json_object_new_string(result));
		json_object_object_add(d, "ms",
			json_object_new_int64(
				clock_mono_ms() - t->call_start_ms));
		turn_emit(t, "llm_call_end", d);
		turn_stream_commit_partial(t);
		e = session_entry_new("system_item");
		d = json_object_new_object();
		json_object_object_add(
			d, "type", json_object_new_string("interrupt"));
		json_object_object_add(
			d, "reason", json_object_new_string(result));
		json_object_object_add(e, "item", json_object_get(d));
		turn_commit(t, e, true);
		e = json_object_new_object();
		json_object_object_add(e, "item", d);
		turn_emit(t, "system_item", e);
	}
	turn_tools_free(t);
	turn_buf_reset(&t->text);
	turn_buf_reset(&t->thinking);
	t->text_open = t->thinking_open = false;
	if (!paused)
		turn_close_dangling(t,
			strcmp(result, "cancelled") == 0 ? "[cancelled]"
							 : "[interrupted]");
	e = session_entry_new("turn_end");
	json_object_object_add(e, "turn", json_object_new_int(t->turn_no));
	turn_commit(t, e, false);
	turn_emit_int(t, "turn_end", "turn", t->turn_no);
	run_end = session_entry_new("run_end");
	for (;;) {
		if (code != NULL) {
			err = json_object_new_object();
			json_object_object_add(
				err, "code", json_object_new_string(code));
			json_object_object_add(err, "message",
				json_object_new_string(
					message ? message : code));
		}
		json_object_object_add(
			run_end, "result", json_object_new_string(result));
		if (err != NULL)
			json_object_object_add(
				run_end, "error", json_object_get(err));
		if (log_msg != NULL)
			break;
		turn_commit(t, run_end, true);
		if (t->log_err == 0)
			break;
		/*
		 * Entries of this run are not in the file: the run is an
		 * error (they stay in memory and are written once the log
		 * recovers).  run_end is pending too, so it is amended.
		 */
		log_msg = xstrfmt(
			"session log write failed: %s", strerror(-t->log_err));
		result = "error";
		code = "internal";
		message = log_msg;
		paused = false;
		json_object_put(err);
		err = NULL;
	}
	d = json_object_new_object();
	json_object_object_add(d, "result", json_object_new_string(result));
	if (err != NULL)
		json_object_object_add(d, "error", json_object_get(err));
	spend_turn_fields(t->w->spend, d);
	turn_emit(t, "run_end", d);
	turn_set_status(t, paused ? TURN_PAUSED : TURN_IDLE);

	d = json_object_new_object();
	json_object_object_add(d, "turn", json_object_new_int(t->turn_no));
	if (err != NULL) {
		json_object_object_add(d, "error", err);
		link_send_event(t->w->link, "turn_errored", d);
	} else {
		json_object_object_add(
			d, "result", json_object_new_string(result));
		json_object_object_add(d, "text",
			json_object_new_string(
				t->last_text ? t->last_text : ""));
		spend_turn_fields(t->w->spend, d);
		link_send_event(t->w->link, "turn_ended", d);
	}
	if (!paused && !turn_items_empty(&t->items))
		turn_schedule(t, TURN_NEXT_ITEMS);
	free(log_msg);
}

static int
turn_check_input(struct json_object *input, char **reterr_msg)
{
	struct json_object *seg, *v;
	const char *kind;
	size_t i, n;

	n = json_object_array_length(input);
	if (n == 0) {
		*reterr_msg = xstrdup("input must hold at least one segment");
		return -EINVAL;
	}
	for (i = 0; i < n; i++) {
		seg = json_object_array_get_idx(input, i);
		if (!json_object_is_type(seg, json_type_object) ||
			!json_object_object_get_ex(seg, "kind", &v) ||
			!json_object_is_type(v, json_type_string)) {
			*reterr_msg = xstrfmt("input[%zu] must be an object "
					      "with a string \"kind\"",
				i);
			return -EINVAL;
		}
		kind = json_object_get_string(v);
		if ((strcmp(kind, "text") == 0 || strcmp(kind, "paste") == 0) &&
			(!json_object_object_get_ex(seg, "content", &v) ||
				!json_object_is_type(v, json_type_string))) {
			*reterr_msg = xstrfmt("input[%zu] (%s) needs a string "
					      "\"content\"",
				i, kind);
			return -EINVAL;
		}
		if (strcmp(kind, "file_ref") == 0 &&
			(!json_object_object_get_ex(seg, "path", &v) ||
				!json_object_is_type(v, json_type_string))) {
			*reterr_msg = xstrfmt("input[%zu] (file_ref) needs a "
					      "string \"path\"",
				i);
			return -EINVAL;
		}
	}
	return 0;
}

/* Start a user turn. */
int
turn_run(struct turn *t, struct json_object *input, char **reterr_msg)
{
	struct json_object *segs, *seg, *v, *e, *d, *item, *atts;
	const char *kind;
	char *err;
	size_t i, n;
	int r;

	if (t->status == TURN_RUNNING)
		return -EBUSY;
	r = turn_check_input(input, reterr_msg);
	if (r < 0)
		return r;
	turn_close_dangling(t, "[interrupted]");
	turn_begin(t, "user");
	segs = json_object_new_array();
	atts = json_object_new_array();
	n = json_object_array_length(input);
	for (i = 0; i < n; i++) {
		seg = json_object_array_get_idx(input, i);
		json_object_object_get_ex(seg, "kind", &v);
		kind = json_object_get_string(v);
		if (strcmp(kind, "text") == 0 || strcmp(kind, "paste") == 0) {
			json_object_array_add(segs, json_object_get(seg));
		} else if (strcmp(kind, "file_ref") == 0) {
			json_object_array_add(segs, json_object_get(seg));
			json_object_object_get_ex(seg, "path", &v);
			err = NULL;
			item = attach_file(t->w->scope, t->w->cwd,
				json_object_get_string(v), &err);
			if (item != NULL)
				json_object_array_add(atts, item);
			else
				worker_alert(t->w, "warn", "input", "%s",
					err ? err : "file_ref not attached");
			free(err);
		} else {
			d = json_object_new_object();
			json_object_object_add(
				d, "kind", json_object_new_string("unknown"));
			json_object_object_add(d, "original_kind",
				json_object_new_string(kind));
			json_object_array_add(segs, d);
			worker_alert(t->w, "warn", "input",
				"unknown segment kind \"%.64s\" ignored", kind);
		}
	}
	e = session_entry_new("user_input");
	json_object_object_add(e, "segments", json_object_get(segs));
	turn_commit(t, e, json_object_array_length(atts) == 0);
	d = json_object_new_object();
	json_object_object_add(d, "segments", segs);
	turn_emit(t, "user_message", d);
	n = json_object_array_length(atts);
	for (i = 0; i < n; i++) {
		item = json_object_array_get_idx(atts, i);
		e = session_entry_new("system_item");
		json_object_object_add(e, "item", json_object_get(item));
		turn_commit(t, e, i + 1 == n);
		d = json_object_new_object();
		json_object_object_add(d, "item", json_object_get(item));
		turn_emit(t, "system_item", d);
	}
	json_object_put(atts);
	turn_deliver_items(t);
	turn_start_turn(t);
	turn_stream_request(t);
	return 0;
}

/* Queue a notification from a client. */
int
turn_notify(struct turn *t, const char *message)
{
	struct json_object *item;
	char *text;

	if (turn_items_count(&t->items) >= TURN_ITEMS_MAX)
		return -EBUSY;
	item = json_object_new_object();
	json_object_object_add(
		item, "type", json_object_new_string("notification"));
	json_object_object_add(item, "message",
		json_object_new_string(message ? message : ""));
	/* The message on its own lines, as for pod events. */
	text = xstrfmt("Notification:\n%s", message ? message : "");
	json_object_object_add(item, "text", json_object_new_string(text));
	free(text);
	turn_items_add(&t->items, turn_item_new(item, "notify", NULL));
	if (t->status == TURN_IDLE)
		turn_schedule(t, TURN_NEXT_ITEMS);
	return 0;
}

/* A pod_event request from the supervisor. */
void
turn_pod_event(struct turn *t, struct conn *c, struct msg *m)
{
	struct turn_item *it;
	const char *eid;
	size_t idx;

	eid = msg_param_str(m, "eid");
	if (session_has_eid(t->w->session, eid)) {
		turn_item_accept_now(c, m->id, eid);
		return;
	}
	/* Committed but not durable yet: answer once it is, never twice. */
	it = turn_items_find(&t->unacked, eid);
	if (it == NULL && session_find_eid(t->w->session, eid, &idx)) {
		it = turn_item_new(NULL, "pod_event", eid);
		it->idx = idx;
		turn_items_add(&t->unacked, it);
	}
	if (it != NULL) {
		turn_item_wait(it, c, m->id);
		turn_log_ack(t);
		return;
	}
	it = turn_items_find(&t->items, eid);
	if (it == NULL) {
		it = turn_item_new(
			turn_item_pod_event(m->params), "pod_event", eid);
		turn_items_add(&t->items, it);
	}
	turn_item_wait(it, c, m->id);
	if (t->status == TURN_IDLE)
		turn_schedule(t, TURN_NEXT_ITEMS);
}

/* Cancel the running turn. */
int
turn_cancel(struct turn *t)
{
	if (t->status != TURN_RUNNING)
		return -ENOENT;
	turn_stop(t, "cancelled", NULL, NULL);
	return 0;
}

/* Pause the running turn. */
int
turn_pause(struct turn *t)
{
	if (t->status == TURN_PAUSED)
		return 0;
	if (t->status != TURN_RUNNING)
		return -ENOENT;
	turn_stop(t, "paused", NULL, NULL);
	return 0;
}

/* Continue a paused turn: answer pending tool calls, then ask again. */
int
turn_resume(struct turn *t)
{
	struct json_object *calls;

	if (t->status != TURN_PAUSED)
		return -ENOENT;
	turn_begin(t, "user");
	turn_start_turn(t);
	calls = session_dangling_calls(t->w->session);
	turn_tools_run(t, calls);
	json_object_put(calls);
	return 0;
}

/* Idle with calls waiting for approvals: run them (restored pod). */
void
turn_resume_approvals(struct turn *t)
{
	struct json_object *calls;

	if (t->status != TURN_IDLE || t->w->exiting)
		return;
	calls = session_dangling_calls(t->w->session);
	if (json_object_array_length(calls) > 0) {
		turn_begin(t, "user");
		turn_start_turn(t);
		turn_tools_run(t, calls);
	}
	json_object_put(calls);
}

/*
 * Cancel whatever runs; used on shutdown.  A turn that waits for an
 * approval is paused instead, so its request is still pending (and the
 * turn continues) when the pod is restored.
 */
void
turn_shutdown(struct turn *t)
{
	if (t->status == TURN_RUNNING)
		turn_stop(t,
			approval_npending(t->w->approval) > 0 ? "paused"
							      : "cancelled",
			NULL, NULL);
	t->next = TURN_NEXT_NONE;
	(void)turn_log_ok(t);
}

/* A turn loop for w (session and tools must be set up). */
struct turn *
turn_new(struct worker *w)
{
	const struct llm_tool_def *b, *p;
	struct turn *t;
	size_t nb = 0, np = 0;

	t = xcalloc(1, sizeof *t);
	t->w = w;
	t->status = TURN_IDLE;
	t->wire_status = "idle";
	t->turn_no = session_last_turn(w->session);
	turn_items_init(&t->items);
	turn_items_init(&t->unacked);
	b = tools_builtin_defs(&nb);
	p = tool_pod_defs(&np);
	t->defs = xcalloc(nb + np + 1, sizeof *t->defs);
	if (nb > 0 && b != NULL)
		memcpy(t->defs, b, nb * sizeof *b);
	memcpy(t->defs + nb, p, np * sizeof *p);
	t->ndefs = t->nbase = nb + np;
	t->next_ev = event_new(w->base, -1, 0, turn_next_cb, t);
	t->log_ev = evtimer_new(w->base, turn_log_retry_cb, t);
	return t;
}

/* Free the loop, cancelling what runs. NULL-safe. */
void
turn_free(struct turn *t)
{
	if (t == NULL)
		return;
	llm_call_cancel(t->call);
	mcp_wait_cancel(t->w->mcp);
	turn_tools_free(t);
	turn_items_clear(&t->items);
	turn_items_clear(&t->unacked);
	if (t->next_ev != NULL)
		event_free(t->next_ev);
	if (t->log_ev != NULL)
		event_free(t->log_ev);
	turn_buf_reset(&t->text);
	turn_buf_reset(&t->thinking);
	free(t->defs);
	free(t->last_text);
	free(t);
}
