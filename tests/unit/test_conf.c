/* SPDX-License-Identifier: ISC */
#include <errno.h>
#include <limits.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>
#include <json-c/json.h>

#include "common/atomicfile.h"
#include "common/xmalloc.h"
#include "supervisord/conf.h"
#include "supervisord/conf_responses.h"

static char conf_path[] = "/tmp/pvconf-XXXXXX";

static void
write_conf(const char *text)
{
	assert_int_equal(
		atomicfile_write(conf_path, text, strlen(text), 0600), 0);
}

static char *
load_err(const char *text)
{
	struct config *c = NULL;
	char *err = NULL;

	write_conf(text);
	assert_int_equal(conf_load(conf_path, &c, &err), -EINVAL);
	assert_null(c);
	assert_non_null(err);
	/* every error names the file and the line */
	assert_int_equal(strncmp(err, conf_path, strlen(conf_path)), 0);
	return err;
}

static void
expect_err(const char *text, int line, const char *needle)
{
	char *err = load_err(text);
	char *prefix = xstrfmt("%s:%d: ", conf_path, line);

	if (strncmp(err, prefix, strlen(prefix)) != 0 ||
		strstr(err, needle) == NULL)
		fail_msg("got \"%s\", want \"%s...%s\"", err, prefix, needle);
	free(prefix);
	free(err);
}

static void
test_missing_file_defaults(void **state)
{
	struct config *c = NULL;
	char *err = NULL;

	(void)state;
	assert_int_equal(
		conf_load("/nonexistent/podvisor/config.ini", &c, &err), 0);
	assert_false(c->from_file);
	assert_int_equal(c->max_pods, 1024);
	assert_int_equal(c->max_depth, 8);
	assert_int_equal(c->max_children, 32);
	assert_int_equal(c->nproviders, 0);
	conf_free(c);
}

static void
test_full_file(void **state)
{
	struct config *c = NULL;
	struct config_provider *p;
	char *err = NULL;

	(void)state;
	write_conf("; comment\n"
		   "[daemon]\nmax_pods = 10\nmax_depth = 3\nmax_children = 4\n"
		   "[defaults]\nmodel = oa/gpt\n"
		   "[provider.oa]\nscheme = openai_chat\n"
		   "base_url = https://api.example/v1\n"
		   "api_key_env = OA_KEY\ncontext_window = 64000\n"
		   "max_tokens = 1000\nmodel.fast = gpt-mini\n"
		   "[provider.an]\nscheme = anthropic\n"
		   "base_url = http://127.0.0.1:1\n"
		   "api_key_file = /etc/key\nprompt_cache = false\n");
	assert_int_equal(conf_load(conf_path, &c, &err), 0);
	assert_true(c->from_file);
	assert_int_equal(c->max_pods, 10);
	assert_int_equal(c->max_depth, 3);
	assert_int_equal(c->max_children, 4);
	assert_string_equal(c->default_model, "oa/gpt");
	assert_int_equal(c->nproviders, 2);
	p = conf_provider_find(c, "oa");
	assert_non_null(p);
	assert_int_equal(p->scheme, SCHEME_OPENAI_CHAT);
	assert_string_equal(p->base_url, "https://api.example/v1");
	assert_string_equal(p->api_key_env, "OA_KEY");
	assert_int_equal(p->context_window, 64000);
	assert_int_equal(p->max_tokens, 1000);
	assert_int_equal(p->naliases, 1);
	assert_string_equal(p->aliases[0].alias, "fast");
	assert_string_equal(p->aliases[0].model, "gpt-mini");
	p = conf_provider_find(c, "an");
	assert_int_equal(p->scheme, SCHEME_ANTHROPIC);
	assert_string_equal(p->api_key_file, "/etc/key");
	assert_true(p->no_prompt_cache);
	assert_false(conf_provider_find(c, "oa")->no_prompt_cache);
	/* providers in the file: the environment adds none */
	setenv("OPENAI_API_KEY", "x", 1);
	conf_add_env_providers(c);
	unsetenv("OPENAI_API_KEY");
	assert_int_equal(c->nproviders, 2);
	conf_free(c);
}

static void
test_errors_name_file_line(void **state)
{
	(void)state;
	expect_err("[daemon]\nmax_pods = 5\n[bogus]\nx = 1\n", 4,
		"unknown section [bogus]");
	expect_err("[daemon]\n\nmax_pods = many\n", 3, "max_pods");
	expect_err("[daemon]\nmax_depth = 0\n", 2, "max_depth");
	expect_err("[daemon]\nflavour = 1\n", 2, "unknown key");
	expect_err("[provider.p]\nbase_url = http://x\nscheme = grpc\n", 3,
		"unknown scheme");
	expect_err("[provider.p]\nbase_url = ftp://x\n", 2, "base_url");
	expect_err("\n[provider.p]\nscheme = anthropic\n", 2, "no base_url");
	expect_err("[provider.p]\nbase_url = http://x\n", 1, "no scheme");
	expect_err("[provider.p]\nscheme = anthropic\nbase_url = http://x\n"
		   "api_key_env = A\napi_key_file = /k\n",
		1, "both set");
	expect_err(
		"[provider.Bad]\nscheme = anthropic\n", 2, "bad provider name");
	expect_err(
		"[daemon]\nthis line has no equals sign\n", 2, "syntax error");
	expect_err("[provider.p]\nscheme = anthropic\nbase_url = http://x\n"
		   "api_key_file = key.txt\n",
		4, "not absolute");
}

static void
test_compaction(void **state)
{
	struct config *c = NULL;
	char *err = NULL;

	(void)state;
	write_conf("[daemon]\n");
	assert_int_equal(conf_load(conf_path, &c, &err), 0);
	assert_true(c->compaction.enabled);
	assert_true(c->compaction.threshold > 0.79 &&
		c->compaction.threshold < 0.81);
	assert_int_equal(c->compaction.retain_tokens, 8000);
	assert_null(c->compaction.model);
	conf_free(c);

	write_conf("[compaction]\nenabled = no\nthreshold = 0.5\n"
		   "retain_tokens = 2000\nmodel = small\n");
	assert_int_equal(conf_load(conf_path, &c, &err), 0);
	assert_false(c->compaction.enabled);
	assert_true(c->compaction.threshold > 0.49 &&
		c->compaction.threshold < 0.51);
	assert_int_equal(c->compaction.retain_tokens, 2000);
	assert_string_equal(c->compaction.model, "small");
	conf_free(c);

	write_conf("[compaction]\nmodel =\n");
	assert_int_equal(conf_load(conf_path, &c, &err), 0);
	assert_null(c->compaction.model);
	conf_free(c);

	expect_err("[compaction]\nthreshold = 1.5\n", 2, "threshold");
	expect_err("[compaction]\nthreshold = x\n", 2, "threshold");
	expect_err("[compaction]\nenabled = maybe\n", 2, "true or false");
	expect_err("[compaction]\nretain_tokens = -1\n", 2, "retain_tokens");
	expect_err("[compaction]\nwindow = 3\n", 2, "unknown key");
}

static void
test_approval(void **state)
{
	struct config *c = NULL;
	char *err = NULL;

	(void)state;
	write_conf("[defaults]\napproval = writes\n"
		   "approval_allow = bash:git status\n"
		   "approval_allow = path:/w/*\napproval_timeout = 60\n"
		   "[pod.deploy]\napproval = always\napproval_ask = clients\n");
	assert_int_equal(conf_load(conf_path, &c, &err), 0);
	assert_int_equal(c->approval.pol.level, APPROVAL_WRITES);
	assert_int_equal(c->approval.pol.nallow, 2);
	assert_string_equal(c->approval.pol.allow[1], "path:/w/*");
	assert_int_equal(c->approval.pol.timeout_s, 60);
	assert_int_equal(c->npod_approvals, 1);
	assert_string_equal(c->pod_approvals[0].pod, "deploy");
	assert_int_equal(c->pod_approvals[0].pol.level, APPROVAL_ALWAYS);
	assert_int_equal(c->pod_approvals[0].pol.ask, APPROVAL_ASK_CLIENTS);
	assert_int_equal(c->pod_approvals[0].set,
		CONF_APPROVAL_LEVEL | CONF_APPROVAL_ASK);
	conf_free(c);

	expect_err("[defaults]\napproval = sometimes\n", 2, "approval");
	expect_err(
		"[defaults]\napproval_allow = git status\n", 2, "bash:PREFIX");
	expect_err(
		"[defaults]\napproval_timeout = -3\n", 2, "approval_timeout");
	expect_err("[pod.x]\nmodel = y\n", 2, "unknown key");
	expect_err("[pod.Bad]\napproval = never\n", 2, "bad pod name");
}

static void
test_long_line(void **state)
{
	struct config *c = NULL;
	char *err = NULL, *text, line[260];

	(void)state;
	/* 198 bytes of text fit inih's buffer */
	memset(line, 'x', 198);
	line[0] = ';';
	line[198] = '\0';
	text = xstrfmt("[daemon]\n%s\nmax_pods = 7\n", line);
	write_conf(text);
	assert_int_equal(conf_load(conf_path, &c, &err), 0);
	assert_int_equal(c->max_pods, 7);
	conf_free(c);
	free(text);
	/* one more is an error naming the line, never a silent cut */
	memset(line, 'x', 199);
	line[0] = ';';
	line[199] = '\0';
	text = xstrfmt("[daemon]\nmax_pods = 7\n%s\n", line);
	expect_err(text, 3, "line longer than 200 bytes");
	free(text);
	/* a long value that inih would have truncated */
	memset(line, 'a', 250);
	line[250] = '\0';
	text = xstrfmt(
		"[provider.p]\nscheme = anthropic\nbase_url = http://%s\n",
		line);
	expect_err(text, 3, "line longer than 200 bytes");
	free(text);
	/* even on the last line without a newline */
	text = xstrfmt("[daemon]\n;%s", line);
	expect_err(text, 2, "line longer");
	free(text);
}

static void
test_env_providers(void **state)
{
	struct config *c;

	(void)state;
	unsetenv("ANTHROPIC_API_KEY");
	unsetenv("OPENAI_API_KEY");
	unsetenv("PODVISOR_BASE_URL");
	c = conf_new();
	conf_add_env_providers(c);
	assert_int_equal(c->nproviders, 1);
	assert_true(c->providers[0].is_fake);
	conf_free(c);

	setenv("ANTHROPIC_API_KEY", "k1", 1);
	setenv("PODVISOR_BASE_URL", "http://127.0.0.1:8080/v1", 1);
	c = conf_new();
	conf_add_env_providers(c);
	assert_int_equal(c->nproviders, 2);
	assert_string_equal(c->providers[0].name, "anthropic");
	assert_int_equal(c->providers[0].scheme, SCHEME_ANTHROPIC);
	assert_string_equal(c->providers[0].api_key_env, "ANTHROPIC_API_KEY");
	assert_string_equal(c->providers[1].name, "local");
	assert_null(c->providers[1].api_key_env);
	assert_string_equal(
		c->providers[1].base_url, "http://127.0.0.1:8080/v1");
	conf_free(c);
	unsetenv("ANTHROPIC_API_KEY");
	unsetenv("PODVISOR_BASE_URL");
}

static int
group_setup(void **state)
{
	int fd = mkstemp(conf_path);

	(void)state;
	if (fd < 0)
		return -1;
	close(fd);
	return 0;
}

static int
group_teardown(void **state)
{
	(void)state;
	unlink(conf_path);
	return 0;
}

static void
test_responses_keys(void **state)
{
	struct config *c = NULL;
	struct config_provider *p;
	struct json_object *o;
	char *err = NULL;

	(void)state;
	write_conf("[provider.oa]\nscheme = openai_responses\n"
		   "base_url = https://api.openai.com/v1\n"
		   "reasoning_effort = high\nreasoning_summary = auto\n"
		   "store = true\nprevious_response_id = true\n"
		   "[provider.plain]\nscheme = openai_responses\n"
		   "base_url = http://127.0.0.1:1/v1\n");
	assert_int_equal(conf_load(conf_path, &c, &err), 0);
	p = conf_provider_find(c, "oa");
	assert_int_equal(p->scheme, SCHEME_OPENAI_RESPONSES);
	assert_string_equal(conf_scheme_name(p->scheme), "openai_responses");
	o = json_object_new_object();
	conf_responses_model(p, o);
	assert_string_equal(
		json_object_to_json_string_ext(o, JSON_C_TO_STRING_PLAIN),
		"{\"reasoning_effort\":\"high\",\"reasoning_summary\":"
		"\"auto\",\"store\":true,\"previous_response_id\":true}");
	json_object_put(o);
	o = json_object_new_object();
	conf_responses_model(conf_provider_find(c, "plain"), o);
	assert_string_equal(
		json_object_to_json_string_ext(o, JSON_C_TO_STRING_PLAIN),
		"{}");
	json_object_put(o);
	conf_free(c);
	expect_err("[provider.p]\nscheme = openai_responses\n"
		   "base_url = http://x\nreasoning_effort = max\n",
		4, "reasoning_effort \"max\" is not one of none, minimal");
	expect_err("[provider.p]\nscheme = openai_responses\n"
		   "base_url = http://x\nstore = maybe\n",
		4, "store: expected true or false");
	expect_err("[provider.p]\nscheme = openai_chat\n"
		   "base_url = http://x\nreasoning_summary = auto\n",
		1, "reasoning_summary needs scheme = openai_responses");
	expect_err("[provider.p]\nscheme = openai_responses\n"
		   "base_url = http://x\nprevious_response_id = true\n",
		1, "previous_response_id needs store = true");
}

static void
test_limits(void **state)
{
	struct config *c = NULL;
	char *err = NULL;

	(void)state;
	write_conf("[defaults]\nmemory = 512M\npids = 200\ncpu_weight = 50\n");
	assert_int_equal(conf_load(conf_path, &c, &err), 0);
	assert_int_equal(c->limits.memory, 512LL << 20);
	assert_int_equal(c->limits.pids, 200);
	assert_int_equal(c->limits.cpu_weight, 50);
	assert_false(c->limits.swap_set);
	conf_free(c);
	write_conf("[defaults]\nmemory_swap = 0\n");
	assert_int_equal(conf_load(conf_path, &c, &err), 0);
	assert_true(c->limits.swap_set);
	assert_int_equal(c->limits.memory_swap, 0);
	conf_free(c);
	expect_err("[defaults]\nmemory = lots\n", 2, "memory: expected a size");
	expect_err("[defaults]\nmemory = 0\n", 2, "memory: expected a size");
	expect_err("[defaults]\npids = 0\n", 2, "pids");
	expect_err("[defaults]\ncpu_weight = 10001\n", 2, "cpu_weight");
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_missing_file_defaults),
		cmocka_unit_test(test_full_file),
		cmocka_unit_test(test_errors_name_file_line),
		cmocka_unit_test(test_long_line),
		cmocka_unit_test(test_compaction),
		cmocka_unit_test(test_approval),
		cmocka_unit_test(test_env_providers),
		cmocka_unit_test(test_responses_keys),
		cmocka_unit_test(test_limits),
	};

	return cmocka_run_group_tests(tests, group_setup, group_teardown);
}
