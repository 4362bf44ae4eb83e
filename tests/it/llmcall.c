/* SPDX-License-Identifier: ISC */
/*
 * llmcall: run ONE llm_call on a real event loop and print every
 * callback as a JSON line, for tests/it/test_provider.py.
 *
 *   llmcall MODEL.json ENTRIES.json [--tools TOOLS.json] [--system TEXT]
 *           [--cancel-on-delta]
 *
 * MODEL.json is the "model" object of the worker's start config;
 * TOOLS.json an array of {name, description, parameters}.
 */
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <event2/event.h>
#include <json-c/json.h>

#include "worker/http.h"
#include "worker/provider.h"

struct llmcall {
	struct event_base *base;
	struct http *http;
	struct llm_call *call;
	struct event *idle;
	bool cancel_on_delta;
	bool finished;
};

static void
llmcall_emit(struct json_object *obj)
{
	printf("%s\n",
		json_object_to_json_string_ext(obj,
			JSON_C_TO_STRING_PLAIN |
				JSON_C_TO_STRING_NOSLASHESCAPE));
	fflush(stdout);
	json_object_put(obj);
}

static struct json_object *
llmcall_line(const char *cb)
{
	struct json_object *obj = json_object_new_object();

	json_object_object_add(obj, "cb", json_object_new_string(cb));
	return obj;
}

static void
llmcall_idle_cb(evutil_socket_t fd, short what, void *arg)
{
	struct llmcall *lc = arg;
	struct json_object *o;
	struct timeval tv = { 0, 1000 };

	if (http_pending(lc->http) > 0) {
		evtimer_add(lc->idle, &tv);
		return;
	}
	o = llmcall_line("idle");
	json_object_object_add(o, "pending", json_object_new_int(0));
	llmcall_emit(o);
	event_base_loopexit(lc->base, NULL);
}

static void
llmcall_text(void *arg, const char *text, size_t len)
{
	struct llmcall *lc = arg;
	struct json_object *o = llmcall_line("text_delta");
	struct timeval tv = { 0, 0 };

	json_object_object_add(
		o, "text", json_object_new_string_len(text, (int)len));
	llmcall_emit(o);
	if (lc->cancel_on_delta) {
		/* Cancel from inside the call's own callback. */
		llm_call_cancel(lc->call);
		lc->call = NULL;
		lc->cancel_on_delta = false;
		llmcall_emit(llmcall_line("cancelled"));
		evtimer_add(lc->idle, &tv);
	}
}

static void
llmcall_thinking(void *arg, const char *text, size_t len)
{
	struct json_object *o = llmcall_line("thinking_delta");

	json_object_object_add(
		o, "text", json_object_new_string_len(text, (int)len));
	llmcall_emit(o);
}

static void
llmcall_tool_start(void *arg, const char *id, const char *name)
{
	struct json_object *o = llmcall_line("tool_call_start");

	json_object_object_add(o, "id", json_object_new_string(id));
	json_object_object_add(o, "name", json_object_new_string(name));
	llmcall_emit(o);
}

static void
llmcall_retry(void *arg, int attempt, int max_attempts, int wait_ms, int status,
	const char *error)
{
	struct json_object *o = llmcall_line("retry");

	json_object_object_add(o, "attempt", json_object_new_int(attempt));
	json_object_object_add(
		o, "max_attempts", json_object_new_int(max_attempts));
	json_object_object_add(o, "wait_ms", json_object_new_int(wait_ms));
	json_object_object_add(o, "status", json_object_new_int(status));
	json_object_object_add(o, "error", json_object_new_string(error));
	llmcall_emit(o);
}

static struct json_object *
llmcall_str(const char *s)
{
	return s != NULL ? json_object_new_string(s) : NULL;
}

static void
llmcall_done(void *arg, const struct llm_result *res)
{
	struct llmcall *lc = arg;
	struct json_object *o = llmcall_line("done"), *r, *calls, *c, *u;
	size_t i;

	r = json_object_new_object();
	json_object_object_add(r, "text", llmcall_str(res->text));
	json_object_object_add(r, "thinking", llmcall_str(res->thinking));
	json_object_object_add(
		r, "thinking_signature", llmcall_str(res->thinking_signature));
	calls = json_object_new_array();
	for (i = 0; i < res->ntool_calls; i++) {
		c = json_object_new_object();
		json_object_object_add(
			c, "id", llmcall_str(res->tool_calls[i].id));
		json_object_object_add(
			c, "name", llmcall_str(res->tool_calls[i].name));
		json_object_object_add(c, "arguments",
			llmcall_str(res->tool_calls[i].arguments));
		json_object_array_add(calls, c);
	}
	json_object_object_add(r, "tool_calls", calls);
	json_object_object_add(r, "stop_reason", llmcall_str(res->stop_reason));
	u = json_object_new_object();
	json_object_object_add(u, "input_tokens",
		json_object_new_int64(res->usage.input_tokens));
	json_object_object_add(u, "output_tokens",
		json_object_new_int64(res->usage.output_tokens));
	json_object_object_add(u, "cache_read_tokens",
		json_object_new_int64(res->usage.cache_read_tokens));
	json_object_object_add(r, "usage", u);
	json_object_object_add(
		r, "failed", json_object_new_boolean(res->failed));
	json_object_object_add(r, "error", llmcall_str(res->error));
	json_object_object_add(
		r, "http_status", json_object_new_int(res->http_status));
	json_object_object_add(
		r, "overflow", json_object_new_boolean(res->overflow));
	json_object_object_add(o, "result", r);
	llmcall_emit(o);
	lc->call = NULL;
	lc->finished = true;
	event_base_loopexit(lc->base, NULL);
}

static struct json_object *
llmcall_load(const char *path)
{
	struct json_object *obj = json_object_from_file(path);

	if (obj == NULL) {
		fprintf(stderr, "llmcall: cannot read JSON from %s\n", path);
		exit(2);
	}
	return obj;
}

int
main(int argc, char **argv)
{
	static const struct llm_stream_cb cb = { llmcall_text, llmcall_thinking,
		llmcall_tool_start, llmcall_retry, llmcall_done };
	struct llmcall lc = { 0 };
	struct provider_config pc;
	struct llm_request req = { 0 };
	struct llm_tool_def *defs = NULL;
	struct json_object *model, *entries, *tools = NULL, *t, *v;
	char *err = NULL;
	size_t i;
	int a;

	if (argc < 3) {
		fprintf(stderr,
			"usage: llmcall MODEL.json ENTRIES.json "
			"[--tools FILE] [--system TEXT] "
			"[--cancel-on-delta]\n");
		return 2;
	}
	model = llmcall_load(argv[1]);
	entries = llmcall_load(argv[2]);
	for (a = 3; a < argc; a++) {
		if (strcmp(argv[a], "--tools") == 0 && a + 1 < argc)
			tools = llmcall_load(argv[++a]);
		else if (strcmp(argv[a], "--system") == 0 && a + 1 < argc)
			req.system = argv[++a];
		else if (strcmp(argv[a], "--cancel-on-delta") == 0)
			lc.cancel_on_delta = true;
		else {
			fprintf(stderr, "llmcall: bad argument %s\n", argv[a]);
			return 2;
		}
	}
	if (provider_config_from_json(model, &pc, &err) < 0) {
		fprintf(stderr, "llmcall: %s\n", err);
		return 2;
	}
	if (tools != NULL) {
		req.ntools = json_object_array_length(tools);
		defs = calloc(req.ntools + 1, sizeof(*defs));
		for (i = 0; i < req.ntools; i++) {
			t = json_object_array_get_idx(tools, i);
			json_object_object_get_ex(t, "name", &v);
			defs[i].name = json_object_get_string(v);
			json_object_object_get_ex(t, "description", &v);
			defs[i].description = json_object_get_string(v);
			json_object_object_get_ex(t, "parameters", &v);
			defs[i].schema_json = json_object_to_json_string(v);
		}
		req.tools = defs;
	}
	req.entries = entries;

	lc.base = event_base_new();
	lc.http = http_new(lc.base);
	lc.idle = evtimer_new(lc.base, llmcall_idle_cb, &lc);
	lc.call = llm_call_start(lc.http, &pc, &req, &cb, &lc, &err);
	if (lc.call == NULL) {
		fprintf(stderr, "llmcall: %s\n", err);
		return 1;
	}
	event_base_dispatch(lc.base);
	llm_call_cancel(lc.call);
	event_free(lc.idle);
	http_free(lc.http);
	event_base_free(lc.base);
	provider_config_clear(&pc);
	free(defs);
	json_object_put(tools);
	json_object_put(entries);
	json_object_put(model);
	return 0;
}
