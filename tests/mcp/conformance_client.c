/* SPDX-License-Identifier: ISC */
/*
 * The client the MCP conformance suite (@modelcontextprotocol/conformance,
 * 'client --command ...') runs: the worker's own MCP client code
 * (worker/mcp.c, mcp_http.c, mcp_result.c) against the suite's server at
 * the URL given as the last argument.  It initializes, lists the tools,
 * calls each with arguments made from its input schema (numbers 1, 2, …;
 * strings "x"; booleans true), prints each result, ends the session and
 * exits 0, or 1 when the server never became ready.  MCP_CONFORMANCE_
 * SCENARIO is printed only; every scenario gets the same client.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <event2/event.h>
#include <json-c/json.h>

#include "common/log.h"
#include "common/xmalloc.h"
#include "worker/mcp.h"
#include "worker/provider.h"
#include "worker/tools.h"

struct driver {
	struct event_base *base;
	struct mcp *m;
	struct event *poll;
	int pending;
	int failed_start;
};

static void
driver_alert(void *arg, const char *level, const char *msg)
{
	fprintf(stderr, "alert (%s): %s\n", level, msg);
}

static void
driver_progress(void *arg, const char *call_id, double progress, double total,
	const char *message)
{
	printf("progress %s: %g/%g %s\n", call_id, progress, total,
		message ? message : "");
}

/* Wait for the DELETE of the session, then leave the loop. */
static void
driver_poll_cb(evutil_socket_t fd, short what, void *arg)
{
	struct driver *d = arg;
	struct timeval tv = { 0, 10 * 1000 };

	if (mcp_flushed(d->m)) {
		event_base_loopexit(d->base, NULL);
		return;
	}
	evtimer_add(d->poll, &tv);
}

static void
driver_finish(struct driver *d)
{
	struct timeval tv = { 0, 0 };

	mcp_stop(d->m);
	evtimer_add(d->poll, &tv);
}

static void
driver_done(void *arg, struct tool_result *res)
{
	struct driver *d = arg;

	printf("result%s: %s\n", res->is_error ? " (error)" : "",
		res->output ? res->output : res->summary);
	if (--d->pending == 0)
		driver_finish(d);
}

/* Arguments for a tool from its input schema's properties. */
static char *
driver_args(const char *schema_json)
{
	struct json_object *schema, *props, *args, *t;
	const char *type;
	int n = 0;
	char *out;

	args = json_object_new_object();
	schema = json_tokener_parse(schema_json);
	if (schema != NULL &&
		json_object_object_get_ex(schema, "properties", &props) &&
		json_object_is_type(props, json_type_object)) {
		struct json_object_iterator it = json_object_iter_begin(props);
		struct json_object_iterator e = json_object_iter_end(props);

		for (; !json_object_iter_equal(&it, &e);
			json_object_iter_next(&it)) {
			const char *key = json_object_iter_peek_name(&it);
			struct json_object *p =
				json_object_iter_peek_value(&it);

			type = json_object_object_get_ex(p, "type", &t)
				? json_object_get_string(t)
				: "string";
			if (strcmp(type, "number") == 0 ||
				strcmp(type, "integer") == 0)
				json_object_object_add(
					args, key, json_object_new_int(++n));
			else if (strcmp(type, "boolean") == 0)
				json_object_object_add(
					args, key, json_object_new_boolean(1));
			else if (strcmp(type, "string") == 0)
				json_object_object_add(
					args, key, json_object_new_string("x"));
		}
	}
	out = xstrdup(
		json_object_to_json_string_ext(args, JSON_C_TO_STRING_PLAIN));
	json_object_put(args);
	json_object_put(schema);
	return out;
}

static void
driver_ready(void *arg)
{
	struct driver *d = arg;
	struct llm_tool_def *defs = NULL;
	char *args, *id;
	size_t i, n;

	if (strcmp(mcp_server_state(d->m, 0), "ready") != 0) {
		d->failed_start = 1;
		driver_finish(d);
		return;
	}
	n = mcp_defs(d->m, &defs, 0);
	printf("%zu tools\n", n);
	d->pending = 1;
	for (i = 0; i < n; i++) {
		args = driver_args(defs[i].schema_json);
		id = xstrfmt("call-%zu", i + 1);
		printf("call %s %s\n", defs[i].name, args);
		d->pending++;
		if (mcp_call_start(d->m, defs[i].name, args, id, driver_done,
			    d) == NULL)
			d->pending--;
		free(args);
		free(id);
	}
	free(defs);
	if (--d->pending == 0)
		driver_finish(d);
}

int
main(int argc, char **argv)
{
	struct mcp_host host = { 0 };
	struct mcp_server_config *cfg;
	const char *scenario = getenv("MCP_CONFORMANCE_SCENARIO");
	struct tool_env tenv;
	struct driver d = { 0 };

	if (argc < 2) {
		fprintf(stderr, "usage: conformance_client URL\n");
		return 2;
	}
	log_init("conformance_client");
	setvbuf(stdout, NULL, _IOLBF, 0);
	printf("scenario %s, server %s\n", scenario ? scenario : "(none)",
		argv[argc - 1]);
	d.base = event_base_new();
	tool_env_init(&tenv, d.base, "/");
	cfg = xcalloc(1, sizeof(*cfg));
	cfg->name = xstrdup("srv");
	cfg->url = xstrdup(argv[argc - 1]);
	cfg->headers = xcalloc(1, sizeof(*cfg->headers));
	cfg->timeout_s = 20;
	cfg->init_timeout_s = 20;
	host.base = d.base;
	host.tenv = &tenv;
	host.arg = &d;
	host.alert = driver_alert;
	host.progress = driver_progress;
	d.m = mcp_new(&host, cfg, 1);
	d.poll = evtimer_new(d.base, driver_poll_cb, &d);
	mcp_start(d.m);
	if (!mcp_wait_first(d.m, driver_ready, &d))
		driver_ready(&d);
	event_base_dispatch(d.base);
	mcp_free(d.m);
	event_free(d.poll);
	tool_env_clear(&tenv);
	event_base_free(d.base);
	return d.failed_start ? 1 : 0;
}
