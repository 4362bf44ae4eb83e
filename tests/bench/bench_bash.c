/* SPDX-License-Identifier: ISC */
/*
 * The cost of confining bash: wall time of a `true` bash tool call
 * through the worker's tool runner (fork, confinement, exec of bash,
 * exit, reaping on the event loop), unconfined, under Landlock, and under
 * Landlock plus the read-only mount namespace, over a scope with one
 * delegated hole, and with that plus a private /tmp and network = off
 * (docs/isolation.md).  Baseline: fork + execve of `/bin/bash -c true` + wait,
 * in the same run.  The modes are interleaved round by round so load on
 * the machine falls on all of them alike.
 *
 *   bench_bash [ROUNDS]      (default 200)
 */
#include <limits.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <event2/event.h>

#include "common/mountns.h"
#include "common/scope.h"
#include "common/xmalloc.h"
#include "tests/bench/bench.h"
#include "worker/tools.h"

extern char **environ;

enum { MODE_NONE, MODE_LANDLOCK, MODE_MOUNTS, MODE_ISOLATED, MODE_N };

static const char *const mode_names[MODE_N] = {
	"bash_true_unconfined",
	"bash_true_landlock",
	"bash_true_landlock_mounts",
	"bash_true_private_tmp_netns",
};

struct done {
	bool done;
	bool error;
};

static void
done_cb(void *arg, struct tool_result *res)
{
	struct done *d = arg;

	d->done = true;
	d->error = res->is_error;
}

/* One `true` through the tool runner; seconds, or -1 on failure. */
static double
run_tool(struct tool_env *env, struct event_base *base)
{
	struct done d = { false, false };
	double t0 = bench_now();

	if (tool_run_start(
		    env, "bash", "{\"command\":\"true\"}", done_cb, &d) == NULL)
		return -1;
	while (!d.done)
		event_base_loop(base, EVLOOP_ONCE);
	return d.error ? -1 : bench_now() - t0;
}

static double
run_baseline(void)
{
	char *argv[] = { (char *)(uintptr_t) "bash", (char *)(uintptr_t) "-c",
		(char *)(uintptr_t) "true", NULL };
	double t0 = bench_now();
	int status;
	pid_t pid;

	pid = fork();
	if (pid == 0) {
		execve("/bin/bash", argv, environ);
		_exit(127);
	}
	if (pid < 0 || waitpid(pid, &status, 0) != pid || status != 0)
		return -1;
	return bench_now() - t0;
}

int
main(int argc, char **argv)
{
	int rounds = argc > 1 ? atoi(argv[1]) : 200, i, m;
	struct scope_rules rules = { 0 };
	struct scope_rule rule;
	char tmpl[] = "/tmp/pvbench-bash.XXXXXX", *spec, *err = NULL, *cmd;
	char *tmp_dir;
	double *t[MODE_N + 1], v, base_p50;
	struct event_base *base;
	struct tool_env env;
	struct scope *scope;
	bool have[MODE_N];

	if (rounds < 10)
		rounds = 10;
	if (mkdtemp(tmpl) == NULL) {
		perror("mkdtemp");
		return 1;
	}
	cmd = xstrfmt("mkdir -p %s/in/child", tmpl);
	if (system(cmd) != 0)
		return 1;
	free(cmd);
	for (i = 0; i < 2; i++) {
		spec = xstrfmt(
			i == 0 ? "write:%s/in" : "deny-write:%s/in/child",
			tmpl);
		if (scope_rule_parse_spec(spec, NULL, &rule, &err) < 0) {
			fprintf(stderr, "bench_bash: %s\n", err);
			return 1;
		}
		scope_rules_add(&rules, &rule);
		scope_rule_clear(&rule);
		free(spec);
	}
	scope = scope_new(&rules);
	scope_rules_clear(&rules);
	base = event_base_new();
	spec = xstrfmt("%s/in", tmpl);
	tool_env_init(&env, base, spec);
	env.scope = scope;

	have[MODE_NONE] = true;
	have[MODE_LANDLOCK] = env.landlock;
	have[MODE_MOUNTS] = env.landlock && mountns_available();
	have[MODE_ISOLATED] = have[MODE_MOUNTS] && mountns_net_available();
	tmp_dir = xstrfmt("%s/podtmp", tmpl);
	for (m = 0; m <= MODE_N; m++)
		t[m] = xcalloc((size_t)rounds, sizeof(double));
	for (i = 0; i < rounds; i++) {
		t[MODE_N][i] = run_baseline();
		for (m = 0; m < MODE_N; m++) {
			if (!have[m])
				continue;
			env.landlock = m != MODE_NONE;
			env.mountns = m >= MODE_MOUNTS;
			env.tmp_dir = m == MODE_ISOLATED ? tmp_dir : NULL;
			env.network = m == MODE_ISOLATED ? MOUNTNS_NET_OFF
							 : MOUNTNS_NET_ON;
			v = run_tool(&env, base);
			if (v < 0) {
				fprintf(stderr, "bench_bash: %s failed\n",
					mode_names[m]);
				return 1;
			}
			t[m][i] = v;
		}
	}
	base_p50 = bench_quantile(t[MODE_N], (size_t)rounds, 0.5) * 1e3;
	for (m = 0; m < MODE_N; m++) {
		if (!have[m]) {
			printf("%-28s unavailable on this machine\n",
				mode_names[m]);
			continue;
		}
		bench_print(mode_names[m],
			bench_quantile(t[m], (size_t)rounds, 0.5) * 1e3, "ms",
			base_p50);
	}
	for (m = 0; m <= MODE_N; m++)
		free(t[m]);
	tool_env_clear(&env);
	event_base_free(base);
	scope_free(scope);
	free(spec);
	free(tmp_dir);
	cmd = xstrfmt("rm -rf %s", tmpl);
	if (system(cmd) != 0)
		fprintf(stderr, "bench_bash: cannot remove %s\n", tmpl);
	free(cmd);
	return 0;
}
