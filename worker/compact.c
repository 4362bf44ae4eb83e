/* SPDX-License-Identifier: ISC */
#include "worker/compact.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include <event2/event.h>
#include <json-c/json.h>

#include "common/id.h"
#include "common/log.h"
#include "common/xmalloc.h"
#include "worker/compact_plan.h"
#include "worker/compact_seg.h"
#include "worker/podsock.h"
#include "worker/provider.h"
#include "worker/session.h"
#include "worker/spend.h"
#include "worker/tool_pod.h"
#include "worker/tools.h"
#include "worker/turn.h"
#include "worker/turn_int.h"
#include "worker/usage.h"
#include "worker/worker.h"

#define COMPACT_THRESHOLD_DEFAULT 0.8
#define COMPACT_RETAIN_DEFAULT 8000
#define COMPACT_FAILURES_MAX 2
#define COMPACT_MARGIN_TOKENS 256

struct compact {
	struct worker *w;
	struct compact_config cfg;
	struct usage_acct acct;
	uint64_t gen; /* bumped at every segment switch */
	int64_t overhead; /* tool definitions, in tokens */
	struct llm_call *call;
	struct compact_plan plan;
	const char *reason;
	char *instruction; /* of a pending manual compaction */
	struct event *start_ev;
	bool pending; /* manual compaction about to start */
	bool waiting; /* a turn's request waits for the compaction */
	bool overflow; /* started for an overflow: its failure ends the turn */
	bool skip_once; /* send the waiting request without a new check */
	int failures; /* in a row */
	bool auto_off;
	bool fresh; /* compacted, no model call since */
	bool alerted; /* the "cannot compact" alert was given for gen */
};

/* Parse the start config's compaction object (NULL: defaults). */
int
compact_config_from_json(
	struct json_object *obj, struct compact_config *ret, char **reterr_msg)
{
	struct compact_config cc = { true, COMPACT_THRESHOLD_DEFAULT,
		COMPACT_RETAIN_DEFAULT, NULL };
	struct json_object *v;
	double d;

	if (obj == NULL || json_object_is_type(obj, json_type_null)) {
		*ret = cc;
		return 0;
	}
	if (!json_object_is_type(obj, json_type_object)) {
		*reterr_msg = xstrdup("compaction must be an object");
		return -EINVAL;
	}
	if (json_object_object_get_ex(obj, "enabled", &v) && v != NULL) {
		if (!json_object_is_type(v, json_type_boolean)) {
			*reterr_msg = xstrdup(
				"compaction.enabled must be true or false");
			return -EINVAL;
		}
		cc.enabled = json_object_get_boolean(v);
	}
	if (json_object_object_get_ex(obj, "threshold", &v) && v != NULL) {
		d = json_object_get_double(v);
		if ((!json_object_is_type(v, json_type_double) &&
			    !json_object_is_type(v, json_type_int)) ||
			!(d > 0.0 && d <= 1.0)) {
			*reterr_msg = xstrdup("compaction.threshold must be a "
					      "number in (0, 1]");
			return -EINVAL;
		}
		cc.threshold = d;
	}
	if (json_object_object_get_ex(obj, "retain_tokens", &v) && v != NULL) {
		if (!json_object_is_type(v, json_type_int) ||
			json_object_get_int64(v) < 0 ||
			json_object_get_int64(v) > INT64_C(100000000)) {
			*reterr_msg =
				xstrdup("compaction.retain_tokens must be "
					"an integer from 0 to 100000000");
			return -EINVAL;
		}
		cc.retain_tokens = json_object_get_int64(v);
	}
	if (json_object_object_get_ex(obj, "model", &v) && v != NULL) {
		if (!json_object_is_type(v, json_type_string) ||
			json_object_get_string_len(v) == 0) {
			*reterr_msg = xstrdup("compaction.model must be a "
					      "model name or null");
			return -EINVAL;
		}
		cc.model = xstrdup(json_object_get_string(v));
	}
	*ret = cc;
	return 0;
}

/* Free the config's strings. */
void
compact_config_clear(struct compact_config *cc)
{
	free(cc->model);
	cc->model = NULL;
}

static int64_t
compact_defs_tokens(const struct llm_tool_def *defs, size_t n)
{
	size_t i, bytes = 0;

	for (i = 0; defs != NULL && i < n; i++)
		bytes += strlen(defs[i].name) + strlen(defs[i].description) +
			strlen(defs[i].schema_json) + 64;
	return usage_estimate(bytes);
}

static void compact_start_cb(evutil_socket_t fd, short what, void *arg);

/* Parse the config, clean up after a crash, find the newest segment. */
int
compact_setup(struct worker *w, struct json_object *params, char **reterr_msg)
{
	struct json_object *obj = NULL;
	const struct llm_tool_def *defs;
	struct compact *c;
	char *newest;
	size_t n;
	int r;

	c = xcalloc(1, sizeof *c);
	c->w = w;
	json_object_object_get_ex(params, "compaction", &obj);
	r = compact_config_from_json(obj, &c->cfg, reterr_msg);
	if (r < 0) {
		free(c);
		return r;
	}
	defs = tools_builtin_defs(&n);
	c->overhead = compact_defs_tokens(defs, n);
	defs = tool_pod_defs(&n);
	c->overhead += compact_defs_tokens(defs, n);
	c->start_ev = event_new(w->base, -1, 0, compact_start_cb, c);
	w->compact = c;
	compact_seg_tune_malloc();
	compact_seg_cleanup(w->session_dir);
	/*
	 * The supervisor may not have recorded the segment a compaction
	 * switched to before the worker died: the chain on disk decides.
	 */
	if (w->segment_cfg != NULL &&
		(newest = compact_seg_resolve(
			 w->session_dir, w->segment_cfg)) != NULL) {
		log_info("segment %s was compacted into %s; using it",
			w->segment_cfg, newest);
		free(w->segment_cfg);
		w->segment_cfg = newest;
	}
	return 0;
}

/* Free c, cancelling its call. */
void
compact_free(struct compact *c)
{
	if (c == NULL)
		return;
	llm_call_cancel(c->call);
	if (c->start_ev != NULL)
		event_free(c->start_ev);
	compact_plan_clear(&c->plan);
	compact_config_clear(&c->cfg);
	free(c->instruction);
	free(c);
}

/* Context tokens of the current segment, counted incrementally. */
int64_t
compact_context_tokens(struct worker *w)
{
	struct compact *c = w->compact;

	if (c == NULL || w->session == NULL)
		return 0;
	if (c->acct.key != w->session || c->acct.gen != c->gen)
		usage_acct_reset(&c->acct, w->session, c->gen, c->overhead);
	return usage_acct_update(&c->acct, session_entries(w->session));
}

/* usage event: the accounting figures. */
void
compact_usage_fields(struct worker *w, struct json_object *data)
{
	json_object_object_add(data, "context_tokens",
		json_object_new_int64(compact_context_tokens(w)));
	json_object_object_add(data, "context_window",
		json_object_new_int64(w->pc.context_window));
}

static int64_t
compact_limit(const struct compact *c)
{
	return (int64_t)(c->cfg.threshold * (double)c->w->pc.context_window);
}

static int
compact_summary_max_tokens(const struct compact *c)
{
	int64_t m = c->w->pc.context_window / 4;

	if (m < 256)
		m = 256;
	return c->w->pc.max_tokens < m ? c->w->pc.max_tokens : (int)m;
}

static bool
compact_fresh(struct compact *c)
{
	(void)compact_context_tokens(c->w);
	return c->fresh && !c->acct.saw_usage;
}

static void
compact_emit_error(struct compact *c, const char *code, const char *message)
{
	struct json_object *d, *err;

	err = json_object_new_object();
	json_object_object_add(err, "code", json_object_new_string(code));
	json_object_object_add(err, "message", json_object_new_string(message));
	d = json_object_new_object();
	json_object_object_add(d, "error", err);
	worker_broadcast(c->w, "compact_failed", d);
}

/* Let a turn that waited for the compaction go on. */
static void
compact_resume(struct compact *c)
{
	struct turn *t = c->w->turn;

	c->waiting = false;
	c->overflow = false;
	if (t == NULL || c->w->exiting)
		return;
	if (t->status == TURN_RUNNING && t->call == NULL && t->ntools == 0)
		turn_schedule(t, TURN_NEXT_REQUEST);
	else if (t->status == TURN_IDLE && !turn_items_empty(&t->items))
		turn_schedule(t, TURN_NEXT_ITEMS);
}

static void
compact_failed(struct compact *c, const char *code, const char *message)
{
	struct worker *w = c->w;
	struct turn *t = w->turn;

	compact_plan_clear(&c->plan);
	compact_emit_error(c, code, message);
	worker_alert(w, "error", "compaction",
		"compaction failed: %s; the pod stays on segment %s", message,
		session_segment(w->session));
	if (++c->failures >= COMPACT_FAILURES_MAX && !c->auto_off &&
		c->cfg.enabled) {
		c->auto_off = true;
		worker_alert(w, "warn", "compaction",
			"automatic compaction is off for this pod after %d "
			"failed compactions in a row; it is back after the "
			"next successful one (podvisor compact %s)",
			c->failures, w->name);
	}
	if (c->overflow) {
		c->overflow = false;
		c->waiting = false;
		if (t != NULL && t->status == TURN_RUNNING)
			turn_stop(t, "error", "provider_error",
				"the request is too long for the model's "
				"context window and compaction failed");
		return;
	}
	if (c->waiting)
		c->skip_once = true;
	compact_resume(c);
}

static void
compact_broadcast_snapshot(struct worker *w)
{
	worker_broadcast(w, "snapshot", podsock_snapshot_data(w));
}

/* Write the new segment, switch to it, tell everyone. */
static void
compact_commit(struct compact *c, const char *text)
{
	struct worker *w = c->w;
	struct compact_seg cs = { 0 };
	struct json_object *d;
	char seg[ID_LEN + 1], *summary, *system, *err = NULL;
	size_t cut;
	int r;

	id_new(seg);
	summary = compact_plan_summary(&c->plan, text);
	system = worker_system_prompt(w);
	cs.dir = w->session_dir;
	cs.session_id = session_id(w->session);
	cs.segment = seg;
	cs.compacted_from = session_segment(w->session);
	cs.model = w->pc.model;
	cs.system = system;
	cs.summary = summary;
	cs.usage_total = spend_pod_json(w->spend);
	/* The plan holds references to the old entries: drop it first. */
	cut = c->plan.cut;
	compact_plan_clear(&c->plan);
	r = compact_seg_switch(&cs, &w->session, cut, &err);
	json_object_put(cs.usage_total);
	free(system);
	free(summary);
	if (r < 0) {
		compact_failed(c, "internal", err ? err : "cannot write");
		free(err);
		return;
	}
	c->gen++;
	c->failures = 0;
	c->fresh = true;
	c->alerted = false;
	if (c->auto_off) {
		c->auto_off = false;
		worker_alert(w, "info", "compaction",
			"automatic compaction is on again");
	}
	log_info("compacted into segment %s (%zu entries)", seg,
		session_count(w->session));
	d = json_object_new_object();
	json_object_object_add(d, "segment", json_object_new_string(seg));
	json_object_object_add(d, "context_tokens",
		json_object_new_int64(compact_context_tokens(w)));
	worker_broadcast(w, "compact_done", d);
	compact_broadcast_snapshot(w);
	if (w->turn != NULL)
		turn_report_state(w->turn);
	compact_resume(c);
}

static void
compact_nop_text_cb(void *arg, const char *text, size_t len)
{
}

static void
compact_nop_call_cb(void *arg, const char *id, const char *name)
{
}

static void
compact_nop_retry_cb(void *arg, int attempt, int max_attempts, int wait_ms,
	int status, const char *error)
{
}

static void
compact_done_cb(void *arg, const struct llm_result *res)
{
	struct compact *c = arg;

	c->call = NULL;
	/* The summary costs tokens too: counted before the switch. */
	spend_add(c->w->spend, &res->usage);
	if (res->failed)
		compact_failed(c, "provider_error",
			res->error ? res->error : "the summary request failed");
	else if (res->text == NULL || res->text[0] == '\0')
		compact_failed(c, "provider_error",
			"the model returned no summary text");
	else
		compact_commit(c, res->text);
}

static const struct llm_stream_cb compact_cbs = {
	.text_delta = compact_nop_text_cb,
	.thinking_delta = compact_nop_text_cb,
	.tool_call_start = compact_nop_call_cb,
	.retry = compact_nop_retry_cb,
	.done = compact_done_cb,
};

/*
 * Plan and send the summarising request.  A plan that cannot be made
 * returns -errno before anything was announced; after compact_start every
 * outcome is compact_done or compact_failed.
 */
static int
compact_begin(struct compact *c, const char *reason, const char *instruction,
	char **reterr_msg)
{
	struct worker *w = c->w;
	struct provider_config pc;
	struct llm_request req = { 0 };
	struct json_object *d;
	int64_t window = w->pc.context_window, retain, budget;
	char *err = NULL;
	int r;

	retain = c->cfg.retain_tokens;
	if (retain > compact_limit(c) / 2)
		retain = compact_limit(c) / 2;
	budget = window - compact_summary_max_tokens(c) - c->overhead -
		usage_estimate(strlen(compact_plan_system())) -
		COMPACT_MARGIN_TOKENS;
	if (budget < window / 8)
		budget = window / 8;
	compact_plan_clear(&c->plan);
	r = compact_plan_make(session_entries(w->session), retain, budget,
		instruction, &c->plan, reterr_msg);
	if (r < 0)
		return r;
	c->reason = reason;
	d = json_object_new_object();
	json_object_object_add(d, "reason", json_object_new_string(reason));
	json_object_object_add(d, "context_tokens",
		json_object_new_int64(compact_context_tokens(w)));
	json_object_object_add(
		d, "context_window", json_object_new_int64(window));
	worker_broadcast(w, "compact_start", d);
	log_info("compacting (%s): summarising entries %zu..%zu, keeping "
		 "%zu.. (%lld tokens)",
		reason, c->plan.from, c->plan.cut, c->plan.cut,
		(long long)c->plan.tail_tokens);

	pc = w->pc;
	if (c->cfg.model != NULL)
		pc.model = c->cfg.model;
	/* The summary request sends the history, never a stored response. */
	pc.previous_response_id = false;
	pc.max_tokens = compact_summary_max_tokens(c);
	req.system = compact_plan_system();
	req.entries = c->plan.request;
	/* Histories with tool calls need the tools defined (Anthropic). */
	req.tools = w->turn ? w->turn->defs : NULL;
	req.ntools = w->turn ? w->turn->ndefs : 0;
	c->call = llm_call_start(w->http, &pc, &req, &compact_cbs, c, &err);
	if (c->call == NULL) {
		compact_failed(c, "provider_error",
			err ? err : "the summary request failed");
		free(err);
	}
	return 0;
}

/* Before a turn's request: compact first when over the threshold. */
bool
compact_before_request(struct worker *w)
{
	struct compact *c = w->compact;
	int64_t tokens;
	char *err = NULL;

	if (c == NULL)
		return false;
	if (c->call != NULL || c->pending) {
		c->waiting = true;
		return true;
	}
	if (c->skip_once) {
		c->skip_once = false;
		return false;
	}
	if (!c->cfg.enabled || c->auto_off)
		return false;
	tokens = compact_context_tokens(w);
	if (tokens < compact_limit(c))
		return false;
	if (compact_fresh(c)) {
		if (!c->alerted)
			worker_alert(w, "error", "compaction",
				"the context is still %lld of %lld tokens "
				"right after a compaction: the kept tail "
				"alone is over the threshold; not compacting "
				"again (lower compaction.retain_tokens)",
				(long long)tokens,
				(long long)w->pc.context_window);
		c->alerted = true;
		return false;
	}
	c->waiting = true;
	if (compact_begin(c, "auto", NULL, &err) < 0) {
		c->waiting = false;
		if (!c->alerted)
			worker_alert(w, "warn", "compaction",
				"cannot compact the context (%lld of %lld "
				"tokens): %s",
				(long long)tokens,
				(long long)w->pc.context_window, err);
		c->alerted = true;
		free(err);
		return false;
	}
	return true;
}

/* The provider said the request is too long: compact, then retry once. */
bool
compact_on_overflow(struct worker *w)
{
	struct compact *c = w->compact;
	char *err = NULL;

	if (c == NULL || w->turn == NULL || !c->cfg.enabled || c->auto_off ||
		c->call != NULL || c->pending)
		return false;
	if (compact_fresh(c)) {
		worker_alert(w, "error", "compaction",
			"the provider rejected the request as too long right "
			"after a compaction; not compacting again");
		return false;
	}
	c->waiting = true;
	c->overflow = true;
	if (compact_begin(c, "overflow", NULL, &err) < 0) {
		c->waiting = false;
		c->overflow = false;
		worker_alert(w, "error", "compaction",
			"cannot compact after the provider's overflow: %s",
			err);
		free(err);
		return false;
	}
	/* The rejected request does not count; its retry does. */
	if (w->turn->requests > 0)
		w->turn->requests--;
	return true;
}

static void
compact_start_cb(evutil_socket_t fd, short what, void *arg)
{
	struct compact *c = arg;
	char *err = NULL, *instruction;

	c->pending = false;
	if (c->w->exiting || c->call != NULL)
		return;
	instruction = c->instruction;
	c->instruction = NULL;
	if (compact_begin(c, "manual", instruction, &err) < 0) {
		compact_emit_error(c, "invalid_request", err);
		free(err);
		compact_resume(c);
	}
	free(instruction);
}

/* A client asked for a compaction now. */
int
compact_manual(struct worker *w, const char *instruction, char **reterr_msg)
{
	struct compact *c = w->compact;

	if (c == NULL) {
		*reterr_msg = xstrdup("compaction is not set up");
		return -EINVAL;
	}
	if (c->call != NULL || c->pending) {
		*reterr_msg = xstrdup("a compaction is already running");
		return -EBUSY;
	}
	free(c->instruction);
	c->instruction = instruction ? xstrdup(instruction) : NULL;
	c->pending = true;
	event_active(c->start_ev, EV_TIMEOUT, 0);
	return 0;
}
