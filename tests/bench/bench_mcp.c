/* SPDX-License-Identifier: ISC */
/*
 * An MCP tool call round trip (tools/call of server-everything's echo)
 * through the worker's MCP client (worker/mcp.c + mcp_stdio.c: the
 * server started confined like bash, the call on the event loop with
 * its timeout timer, progress token and result conversion) against the
 * same call made by a bare stdio client (a blocking write of the line
 * and read of the answer) to a second instance of the same server, in
 * the same run, the two interleaved call by call.
 *
 *   bench_mcp NODE SERVER_JS [ROUNDS]
 */
#include <errno.h>
#include <signal.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include <event2/event.h>

#include "bench.h"
#include "common/mountns.h"
#include "common/scope.h"
#include "common/xmalloc.h"
#include "worker/mcp.h"
#include "worker/tools.h"

struct bare {
	pid_t pid;
	FILE *in, *out;
	int next_id;
	char *line;
	size_t cap;
};

struct run {
	struct event_base *base;
	struct mcp *m;
	struct bare *bare;
	int rounds, i;
	double *tw, *tb, t0;
	bool failed;
};

static const char *echo_args = "{\"message\":\"hello\"}";

/* Read lines until the answer with id (blocking). */
static int
bare_wait(struct bare *b, int id)
{
	char key[32];

	snprintf(key, sizeof(key), "\"id\":%d", id);
	while (getline(&b->line, &b->cap, b->out) > 0)
		if (strstr(b->line, key) != NULL)
			return 0;
	return -1;
}

static struct bare *
bare_start(const char *node, const char *js)
{
	int in[2], out[2];
	struct bare *b;
	pid_t pid;

	if (pipe(in) < 0 || pipe(out) < 0)
		return NULL;
	pid = fork();
	if (pid < 0)
		return NULL;
	if (pid == 0) {
		dup2(in[0], 0);
		dup2(out[1], 1);
		close(in[0]);
		close(in[1]);
		close(out[0]);
		close(out[1]);
		execlp(node, node, js, "stdio", (char *)NULL);
		_exit(127);
	}
	close(in[0]);
	close(out[1]);
	b = xcalloc(1, sizeof(*b));
	b->pid = pid;
	b->in = fdopen(in[1], "w");
	b->out = fdopen(out[0], "r");
	fprintf(b->in,
		"{\"jsonrpc\":\"2.0\",\"id\":1,\"method\":\"initialize\","
		"\"params\":{\"protocolVersion\":\"2025-06-18\","
		"\"capabilities\":{},\"clientInfo\":{\"name\":\"bare\","
		"\"version\":\"1\"}}}\n");
	fflush(b->in);
	if (bare_wait(b, 1) < 0)
		return NULL;
	fprintf(b->in,
		"{\"jsonrpc\":\"2.0\",\"method\":"
		"\"notifications/initialized\"}\n");
	fflush(b->in);
	b->next_id = 2;
	return b;
}

/* One blocking tools/call round trip; seconds, or -1. */
static double
bare_call(struct bare *b)
{
	double t0 = bench_now();
	int id = b->next_id++;

	fprintf(b->in,
		"{\"jsonrpc\":\"2.0\",\"id\":%d,\"method\":\"tools/call\","
		"\"params\":{\"name\":\"echo\",\"arguments\":%s,"
		"\"_meta\":{\"progressToken\":\"t%d\"}}}\n",
		id, echo_args, id);
	fflush(b->in);
	if (bare_wait(b, id) < 0)
		return -1;
	return bench_now() - t0;
}

static void run_next(struct run *r);

static void
run_done(void *arg, struct tool_result *res)
{
	struct run *r = arg;
	double t = bench_now() - r->t0;

	if (res->is_error || res->output == NULL ||
		strstr(res->output, "hello") == NULL) {
		fprintf(stderr, "bench_mcp: the call failed: %s\n",
			res->output ? res->output : "?");
		r->failed = true;
		event_base_loopexit(r->base, NULL);
		return;
	}
	if (r->i >= 0)
		r->tw[r->i] = t;
	r->tb[r->i >= 0 ? r->i : 0] = bare_call(r->bare);
	if (r->tb[r->i >= 0 ? r->i : 0] < 0) {
		r->failed = true;
		event_base_loopexit(r->base, NULL);
		return;
	}
	if (++r->i >= r->rounds) {
		event_base_loopexit(r->base, NULL);
		return;
	}
	run_next(r);
}

static void
run_next(struct run *r)
{
	char id[32];

	snprintf(id, sizeof(id), "call-%d", r->i);
	r->t0 = bench_now();
	if (mcp_call_start(r->m, "mcp__ev__echo", echo_args, id, run_done, r) ==
		NULL) {
		fprintf(stderr, "bench_mcp: no tool mcp__ev__echo\n");
		r->failed = true;
		event_base_loopexit(r->base, NULL);
	}
}

static void
run_ready(void *arg)
{
	struct run *r = arg;

	if (strcmp(mcp_server_state(r->m, 0), "ready") != 0) {
		fprintf(stderr, "bench_mcp: the server did not start\n");
		r->failed = true;
		event_base_loopexit(r->base, NULL);
		return;
	}
	r->i = -20; /* warm-up calls, not counted */
	run_next(r);
}

int
main(int argc, char **argv)
{
	struct mcp_server_config *cfg;
	struct mcp_host host = { 0 };
	struct scope_rules rules = { 0 };
	struct scope_rule rule;
	char tmpl[] = "/tmp/pvbench-mcp.XXXXXX", *spec, *err = NULL;
	struct tool_env env;
	struct scope *scope;
	struct run r = { 0 };
	double w50, b50, w90, b90;
	int status;

	if (argc < 3) {
		fprintf(stderr, "usage: bench_mcp NODE SERVER_JS [ROUNDS]\n");
		return 2;
	}
	r.rounds = argc > 3 ? atoi(argv[3]) : 2000;
	if (r.rounds < 10)
		r.rounds = 10;
	signal(SIGPIPE, SIG_IGN);
	if (mkdtemp(tmpl) == NULL)
		return 1;
	spec = xstrfmt("write:%s", tmpl);
	if (scope_rule_parse_spec(spec, NULL, &rule, &err) < 0) {
		fprintf(stderr, "bench_mcp: %s\n", err);
		return 1;
	}
	scope_rules_add(&rules, &rule);
	scope_rule_clear(&rule);
	scope = scope_new(&rules);
	scope_rules_clear(&rules);
	r.base = event_base_new();
	tool_env_init(&env, r.base, tmpl);
	env.scope = scope;
	env.mountns = env.landlock && mountns_available();

	r.bare = bare_start(argv[1], argv[2]);
	if (r.bare == NULL) {
		fprintf(stderr,
			"bench_mcp: the bare client's server did not "
			"start\n");
		return 1;
	}
	cfg = xcalloc(1, sizeof(*cfg));
	cfg->name = xstrdup("ev");
	cfg->command = xstrdup(argv[1]);
	cfg->args = xcalloc(3, sizeof(*cfg->args));
	cfg->args[0] = xstrdup(argv[2]);
	cfg->args[1] = xstrdup("stdio");
	cfg->env = xcalloc(1, sizeof(*cfg->env));
	cfg->timeout_s = 30;
	cfg->init_timeout_s = 30;
	host.base = r.base;
	host.tenv = &env;
	r.m = mcp_new(&host, cfg, 1);
	r.tw = xcalloc((size_t)r.rounds, sizeof(double));
	r.tb = xcalloc((size_t)r.rounds, sizeof(double));
	mcp_start(r.m);
	if (!mcp_wait_first(r.m, run_ready, &r))
		run_ready(&r);
	event_base_dispatch(r.base);
	if (r.failed)
		return 1;
	w90 = bench_quantile(r.tw, (size_t)r.rounds, 0.9) * 1e3;
	b90 = bench_quantile(r.tb, (size_t)r.rounds, 0.9) * 1e3;
	w50 = bench_median(r.tw, (size_t)r.rounds) * 1e3;
	b50 = bench_median(r.tb, (size_t)r.rounds) * 1e3;
	printf("# %d interleaved tools/call echo round trips, %s\n", r.rounds,
		env.mountns ? "server confined (Landlock + read-only mounts)"
			: env.landlock ? "server confined (Landlock)"
				       : "server unconfined (no Landlock)");
	bench_print("mcp_call_worker_p50", w50, "ms", b50);
	bench_print("mcp_call_worker_p90", w90, "ms", b90);
	bench_print("mcp_call_overhead_p50", w50 - b50, "ms", 0.2);
	mcp_free(r.m);
	fclose(r.bare->in);
	fclose(r.bare->out);
	kill(r.bare->pid, SIGKILL);
	waitpid(r.bare->pid, &status, 0);
	free(r.bare->line);
	free(r.bare);
	free(r.tw);
	free(r.tb);
	tool_env_clear(&env);
	tool_bash_kill_orphans(&env);
	event_base_free(r.base);
	scope_free(scope);
	free(spec);
	rmdir(tmpl);
	return 0;
}
