/* SPDX-License-Identifier: ISC */
#ifndef TESTS_UNIT_TOOLS_FIXTURE_H
#define TESTS_UNIT_TOOLS_FIXTURE_H

/*
 * Shared fixture of the tool tests: a real temporary tree, a scope over
 * it, a tool_env on a real event base, and a helper that runs one tool and
 * waits for its callback on the loop under a bounded timer.
 *
 *   T/in            write (recursive): the pod cwd
 *   T/in/child      deny-write (a child's delegated area)
 *   T/ro            read (recursive)
 *   T/flat          read (non-recursive)
 *   T/out           no access
 */

#include <errno.h>
#include <event2/event.h>
#include <fcntl.h>
#include <json-c/json.h>
#include <limits.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "common/scope.h"
#include "common/xmalloc.h"
#include "worker/tools.h"

struct fx {
	char root[PATH_MAX];
	char in[PATH_MAX + 8];
	char out[PATH_MAX + 8];
	struct event_base *base;
	struct scope *scope;
	struct tool_env env;
};

static struct fx fx;

static __attribute__((unused)) char *
fx_path(const char *rel)
{
	return xstrfmt("%s/%s", fx.root, rel);
}

static __attribute__((unused)) void
fx_write(const char *rel, const char *content)
{
	char *p = fx_path(rel);
	FILE *f = fopen(p, "w");

	assert_non_null(f);
	fputs(content, f);
	fclose(f);
	free(p);
}

static __attribute__((unused)) char *
fx_slurp(const char *rel)
{
	char *p = fx_path(rel), *buf;
	FILE *f = fopen(p, "r");
	long n;

	free(p);
	if (f == NULL)
		return NULL;
	fseek(f, 0, SEEK_END);
	n = ftell(f);
	fseek(f, 0, SEEK_SET);
	buf = xmalloc((size_t)n + 1);
	buf[fread(buf, 1, (size_t)n, f)] = '\0';
	fclose(f);
	return buf;
}

static __attribute__((unused)) void
fx_mkdir(const char *rel)
{
	char *p = fx_path(rel);

	assert_int_equal(mkdir(p, 0755), 0);
	free(p);
}

static __attribute__((unused)) void
fx_symlink(const char *target_rel, const char *rel)
{
	char *t = fx_path(target_rel), *p = fx_path(rel);

	assert_int_equal(symlink(t, p), 0);
	free(t);
	free(p);
}

static __attribute__((unused)) void
fx_add_rule(struct scope_rules *rules, const char *kind, const char *rel)
{
	struct scope_rule rule;
	char *spec = xstrfmt("%s:%s/%s", kind, fx.root, rel), *err = NULL;

	assert_int_equal(scope_rule_parse_spec(spec, NULL, &rule, &err), 0);
	scope_rules_add(rules, &rule);
	scope_rule_clear(&rule);
	free(spec);
}

static __attribute__((unused)) int
fx_setup(void **state)
{
	struct scope_rules rules = { 0 };
	char tmpl[] = "/tmp/pvtools.XXXXXX";

	assert_non_null(mkdtemp(tmpl));
	assert_non_null(realpath(tmpl, fx.root));
	snprintf(fx.in, sizeof(fx.in), "%s/in", fx.root);
	snprintf(fx.out, sizeof(fx.out), "%s/out", fx.root);
	fx_mkdir("in");
	fx_mkdir("in/child");
	fx_mkdir("in/sub");
	fx_mkdir("ro");
	fx_mkdir("flat");
	fx_mkdir("flat/sub");
	fx_mkdir("out");
	fx_write("in/file.txt", "alpha\nbeta\ngamma\n");
	fx_write("in/child/c.txt", "child data\n");
	fx_write("ro/r.txt", "read only\n");
	fx_write("flat/a.txt", "flat a\n");
	fx_write("flat/sub/b.txt", "flat b\n");
	fx_write("out/secret.txt", "SECRET\n");
	fx_add_rule(&rules, "write", "in");
	fx_add_rule(&rules, "deny-write", "in/child");
	fx_add_rule(&rules, "read", "ro");
	fx_add_rule(&rules, "read", "flat:flat");
	fx.scope = scope_new(&rules);
	scope_rules_clear(&rules);
	fx.base = event_base_new();
	assert_non_null(fx.base);
	tool_env_init(&fx.env, fx.base, fx.in);
	fx.env.scope = fx.scope;
	(void)state;
	return 0;
}

static __attribute__((unused)) int
fx_teardown(void **state)
{
	char *cmd;

	tool_env_clear(&fx.env);
	event_base_free(fx.base);
	scope_free(fx.scope);
	cmd = xstrfmt("rm -rf '%s'", fx.root);
	if (system(cmd) != 0)
		fprintf(stderr, "cannot remove %s\n", fx.root);
	free(cmd);
	(void)state;
	return 0;
}

/*
 * Arguments as JSON: pairs of key, value; a key starting with '=' takes
 * its value as raw JSON (numbers, booleans).  NULL ends the list.
 */
static __attribute__((unused)) char *
fx_args(const char *key, ...)
{
	struct json_object *obj = json_object_new_object(), *v;
	const char *k, *val;
	char *s;
	va_list ap;

	va_start(ap, key);
	for (k = key; k != NULL; k = va_arg(ap, const char *)) {
		val = va_arg(ap, const char *);
		if (k[0] == '=') {
			v = json_tokener_parse(val);
			assert_non_null(v);
			json_object_object_add(obj, k + 1, v);
		} else
			json_object_object_add(
				obj, k, json_object_new_string(val));
	}
	va_end(ap);
	s = xstrdup(
		json_object_to_json_string_ext(obj, JSON_C_TO_STRING_PLAIN));
	json_object_put(obj);
	return s;
}

struct fx_wait {
	bool done;
	bool timed_out;
	struct tool_result res;
};

static __attribute__((unused)) void
fx_done_cb(void *arg, struct tool_result *res)
{
	struct fx_wait *w = arg;

	assert_false(w->done);
	w->done = true;
	w->res = *res;
	/* Steal the strings. */
	res->summary = NULL;
	res->output = NULL;
}

static __attribute__((unused)) void
fx_timeout_cb(evutil_socket_t fd, short what, void *arg)
{
	struct fx_wait *w = arg;

	w->timed_out = true;
}

/* Loop until w->done or max_s seconds; returns true if done. */
static __attribute__((unused)) bool
fx_wait_done(struct fx_wait *w, int max_s)
{
	struct timeval tv = { max_s, 0 };
	struct event *t = evtimer_new(fx.base, fx_timeout_cb, w);

	evtimer_add(t, &tv);
	while (!w->done && !w->timed_out)
		event_base_loop(fx.base, EVLOOP_ONCE);
	event_free(t);
	return w->done;
}

/* Run tool name with args (taken over) and return its result. */
static __attribute__((unused)) struct tool_result
fx_run(const char *name, char *args)
{
	struct fx_wait w = { 0 };
	struct tool_run *run;

	run = tool_run_start(&fx.env, name, args, fx_done_cb, &w);
	free(args);
	assert_non_null(run);
	/* Never called back from inside tool_run_start. */
	assert_false(w.done);
	assert_true(fx_wait_done(&w, 60));
	assert_non_null(w.res.summary);
	return w.res;
}

#define assert_contains(hay, needle) \
	do { \
		const char *h_ = (hay); \
		if (h_ == NULL || strstr(h_, (needle)) == NULL) \
			fail_msg("\"%s\" does not contain \"%s\"", \
				h_ != NULL ? h_ : "(null)", (needle)); \
	} while (0)

#define assert_not_contains(hay, needle) \
	do { \
		const char *h_ = (hay); \
		if (h_ != NULL && strstr(h_, (needle)) != NULL) \
			fail_msg("\"%s\" contains \"%s\"", h_, (needle)); \
	} while (0)

#endif
