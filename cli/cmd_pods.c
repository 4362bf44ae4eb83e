/* SPDX-License-Identifier: ISC */
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <json-c/json.h>

#include "cli/cli.h"
#include "cli/client.h"
#include "common/podname.h"
#include "common/scope.h"
#include "common/xmalloc.h"
#include "proto/msg.h"

static const struct option cmd_pods_json_opts[] = {
	{ "json", no_argument, NULL, CLI_OPT_JSON },
	{ "help", no_argument, NULL, CLI_OPT_HELP },
	{ NULL, 0, NULL, 0 },
};

/*
 * Parse a command that takes only --json/--help and exactly nargs
 * operands; returns -1 to go on, else the exit code.
 */
static int
cmd_pods_simple_args(struct cli *cli, const struct cli_cmd *cmd, int argc,
	char **argv, int nargs)
{
	int c, ex = 0;

	while ((c = cli_getopt(cli, cmd, argc, argv, "", cmd_pods_json_opts,
			&ex)) != -2)
		if (c == -1)
			return ex;
	if (argc - optind != nargs)
		return cli_usage_error(cmd, "expected %d argument%s, got %d",
			nargs, nargs == 1 ? "" : "s", argc - optind);
	return -1;
}

/* A pod name operand; a usage error names the problem. */
static int
cmd_pods_check_name(const struct cli_cmd *cmd, const char *name)
{
	char *err = NULL;
	int r;

	if (podname_valid(name, &err))
		return -1;
	r = cli_usage_error(cmd, "bad pod name '%s': %s", name,
		err != NULL ? err : "invalid");
	free(err);
	return r;
}

static struct json_object *
cmd_pods_name_params(const char *name)
{
	struct json_object *p = json_object_new_object();

	json_object_object_add(p, "name", json_object_new_string(name));
	return p;
}

/* Print the reply data as JSON when --json; returns true if it did. */
static bool
cmd_pods_json_reply(struct cli *cli, const struct msg *reply)
{
	if (!cli->json)
		return false;
	cli_print_json(reply->params);
	return true;
}

static int64_t
cmd_pods_int(struct json_object *obj, const char *key, int64_t def)
{
	struct json_object *v;

	if (obj == NULL || !json_object_object_get_ex(obj, key, &v) ||
		!json_object_is_type(v, json_type_int))
		return def;
	return json_object_get_int64(v);
}

/* podvisor ping */
int
cmd_ping(struct cli *cli, const struct cli_cmd *cmd, int argc, char **argv)
{
	struct client *c;
	struct msg hello, reply;
	char *err = NULL;
	int r;

	if ((r = cmd_pods_simple_args(cli, cmd, argc, argv, 0)) >= 0)
		return r;
	if ((r = cli_control_open(cli, &c, &hello)) != 0)
		return r;
	r = client_call(c, "ping", NULL, cli->timeout_ms, &reply, &err);
	client_free(c);
	if (r < 0) {
		cli_err("ping: no reply from podvisord: %s",
			err != NULL ? err : strerror(-r));
		free(err);
		msg_clear(&hello);
		return CLI_EXIT_UNREACHABLE;
	}
	if (strcmp(reply.name, "pong") != 0) {
		cli_print_error_reply(cli, "ping", &reply);
		r = CLI_EXIT_FAIL;
	} else if (cli->json) {
		cli_print_json(hello.params);
		r = CLI_EXIT_OK;
	} else {
		printf("podvisord %s is running (pid %lld, protocol %lld) on "
		       "%s\n",
			msg_json_str(hello.params, "version")
				? msg_json_str(hello.params, "version")
				: "?",
			(long long)cmd_pods_int(hello.params, "pid", 0),
			(long long)cmd_pods_int(hello.params, "protocol", 0),
			cli->paths.control_sock);
		r = CLI_EXIT_OK;
	}
	msg_clear(&reply);
	msg_clear(&hello);
	return r;
}

/* --mcp a,b: each name into names (checked by podvisord). */
static void
cmd_pods_mcp_names(struct json_object *names, const char *arg)
{
	const char *p, *e;

	for (p = arg; *p != '\0'; p = *e ? e + 1 : e) {
		e = strchrnul(p, ',');
		if (e > p)
			json_object_array_add(names,
				json_object_new_string_len(p, (int)(e - p)));
	}
}

/* podvisor spawn NAME [options] */
int
cmd_spawn(struct cli *cli, const struct cli_cmd *cmd, int argc, char **argv)
{
	static const struct option opts[] = {
		{ "cwd", required_argument, NULL, 'C' },
		{ "scope", required_argument, NULL, 's' },
		{ "model", required_argument, NULL, 'm' },
		{ "instruction", required_argument, NULL, 'i' },
		{ "task", required_argument, NULL, 't' },
		{ "restart", required_argument, NULL, 'r' },
		{ "approval", required_argument, NULL, 'A' },
		{ "network", required_argument, NULL, 'N' },
		{ "allow", required_argument, NULL, 'L' },
		{ "approval-timeout", required_argument, NULL, 'T' },
		{ "mcp", required_argument, NULL, 'M' },
		{ "worktree", no_argument, NULL, 'W' },
		{ "base", required_argument, NULL, 'B' },
		{ "branch", required_argument, NULL, 'b' },
		{ "budget-tokens", required_argument, NULL, 'K' },
		{ "memory", required_argument, NULL, 'Y' },
		{ "pids", required_argument, NULL, 'P' },
		{ "cpu-weight", required_argument, NULL, 'Q' },
		{ "json", no_argument, NULL, CLI_OPT_JSON },
		{ "help", no_argument, NULL, CLI_OPT_HELP },
		{ NULL, 0, NULL, 0 },
	};
	const char *cwd_arg = NULL, *model = NULL, *instruction = NULL;
	const char *task = NULL, *restart = NULL, *name;
	const char *approval = NULL, *atimeout = NULL, *network = NULL;
	const char *wt_base = NULL, *wt_branch = NULL;
	bool worktree = false;
	const char *budget = NULL;
	struct json_object *allow = NULL, *appr, *mcp = NULL, *limits = NULL;
	const char **specs = NULL;
	struct scope_rules rules = { 0 };
	struct scope_rule rule;
	struct json_object *params;
	struct msg reply;
	char *cwd = NULL, *err = NULL, *scope_cwd = NULL;
	size_t nspecs = 0, i;
	int c, ex = 0, r;

	while ((c = cli_getopt(cli, cmd, argc, argv, "", opts, &ex)) != -2) {
		switch (c) {
		case -1:
			free(specs);
			json_object_put(allow);
			json_object_put(mcp);
			json_object_put(limits);
			return ex;
		case 'C':
			cwd_arg = optarg;
			break;
		case 's':
			specs = xreallocarray(
				specs, nspecs + 1, sizeof(*specs));
			specs[nspecs++] = optarg;
			break;
		case 'm':
			model = optarg;
			break;
		case 'i':
			instruction = optarg;
			break;
		case 't':
			task = optarg;
			break;
		case 'r':
			restart = optarg;
			break;
		case 'A':
			approval = optarg;
			break;
		case 'L':
			if (allow == NULL)
				allow = json_object_new_array();
			json_object_array_add(
				allow, json_object_new_string(optarg));
			break;
		case 'T':
			atimeout = optarg;
			break;
		case 'N':
			network = optarg;
			break;
		case 'K':
			budget = optarg;
			break;
		case 'M':
			if (mcp == NULL)
				mcp = json_object_new_array();
			cmd_pods_mcp_names(mcp, optarg);
			break;
		case 'W':
			worktree = true;
			break;
		case 'B':
			wt_base = optarg;
			break;
		case 'b':
			wt_branch = optarg;
			break;
		case 'Y':
		case 'P':
		case 'Q':
			if (cli_limits_opt(&limits, c, optarg, &err) < 0) {
				free(specs);
				json_object_put(allow);
				json_object_put(mcp);
				json_object_put(limits);
				r = cli_usage_error(cmd, "%s", err);
				free(err);
				return r;
			}
			break;
		}
	}
	if ((wt_base != NULL || wt_branch != NULL) && !worktree) {
		free(specs);
		json_object_put(allow);
		json_object_put(mcp);
		json_object_put(limits);
		return cli_usage_error(
			cmd, "--base and --branch go with --worktree");
	}
	if (atimeout != NULL &&
		atimeout[strspn(atimeout, "0123456789")] != '\0') {
		free(specs);
		json_object_put(allow);
		json_object_put(mcp);
		json_object_put(limits);
		return cli_usage_error(cmd,
			"--approval-timeout is seconds, not '%s'", atimeout);
	}
	if (argc - optind != 1) {
		free(specs);
		json_object_put(allow);
		json_object_put(mcp);
		json_object_put(limits);
		return cli_usage_error(cmd, "expected one NAME");
	}
	if (budget != NULL &&
		(budget[0] == '\0' ||
			budget[strspn(budget, "0123456789")] != '\0')) {
		free(specs);
		json_object_put(allow);
		json_object_put(mcp);
		return cli_usage_error(cmd,
			"--budget-tokens is a number of tokens, not '%s'",
			budget);
	}
	name = argv[optind];
	if ((r = cmd_pods_check_name(cmd, name)) >= 0)
		goto out;
	if (restart != NULL && strcmp(restart, "never") != 0 &&
		strcmp(restart, "on-failure") != 0) {
		r = cli_usage_error(cmd,
			"--restart is 'never' or 'on-failure', not '%s'",
			restart);
		goto out;
	}
	r = scope_normalize(cwd_arg != NULL ? cwd_arg : ".", cli->cwd, &cwd);
	if (r < 0) {
		r = cli_usage_error(cmd, "bad --cwd '%s': %s",
			cwd_arg != NULL ? cwd_arg : ".", strerror(-r));
		goto out;
	}
	/* With --worktree relative targets are inside the new worktree. */
	if (worktree && nspecs > 0) {
		char *p = xstrfmt("%s/worktrees/%s", cli->paths.state, name);

		if (scope_normalize(p, NULL, &scope_cwd) < 0)
			scope_cwd = xstrdup(p);
		free(p);
	}
	for (i = 0; i < nspecs; i++) {
		if (scope_rule_parse_spec(specs[i],
			    scope_cwd != NULL ? scope_cwd : cwd, &rule,
			    &err) < 0) {
			r = cli_usage_error(cmd, "bad --scope '%s': %s",
				specs[i], err != NULL ? err : "invalid");
			free(err);
			goto out;
		}
		scope_rules_add(&rules, &rule);
		scope_rule_clear(&rule);
	}
	params = cmd_pods_name_params(name);
	json_object_object_add(params, "cwd", json_object_new_string(cwd));
	if (nspecs > 0)
		json_object_object_add(
			params, "scope", scope_rules_to_json(&rules));
	if (model != NULL)
		json_object_object_add(
			params, "model", json_object_new_string(model));
	if (instruction != NULL)
		json_object_object_add(params, "instruction",
			json_object_new_string(instruction));
	if (task != NULL)
		json_object_object_add(
			params, "task", json_object_new_string(task));
	if (restart != NULL)
		json_object_object_add(
			params, "restart", json_object_new_string(restart));
	if (approval != NULL || allow != NULL || atimeout != NULL) {
		/* Checked by podvisord, which names what is wrong. */
		appr = json_object_new_object();
		if (approval != NULL)
			json_object_object_add(appr, "policy",
				json_object_new_string(approval));
		if (allow != NULL)
			json_object_object_add(appr, "allow", allow);
		allow = NULL;
		if (atimeout != NULL)
			json_object_object_add(appr, "timeout_s",
				json_object_new_int64(
					strtoll(atimeout, NULL, 10)));
		json_object_object_add(params, "approval", appr);
	}
	/* Checked by podvisord, which names what is wrong. */
	if (network != NULL)
		json_object_object_add(
			params, "network", json_object_new_string(network));
	if (mcp != NULL)
		json_object_object_add(params, "mcp", mcp);
	mcp = NULL;
	if (worktree) {
		/* Checked by podvisord, which runs git (docs/worktrees.md). */
		struct json_object *w = json_object_new_object();

		if (wt_base != NULL)
			json_object_object_add(
				w, "base", json_object_new_string(wt_base));
		if (wt_branch != NULL)
			json_object_object_add(
				w, "branch", json_object_new_string(wt_branch));
		json_object_object_add(params, "worktree", w);
		/* git worktree add checks out a whole tree: allow for it. */
		if (!cli->timeout_set && cli->timeout_ms < 300000)
			cli->timeout_ms = 300000;
	}
	if (budget != NULL)
		json_object_object_add(params, "budget_tokens",
			json_object_new_int64(strtoll(budget, NULL, 10)));
	if (limits != NULL)
		json_object_object_add(params, "limits", limits);
	limits = NULL;
	r = cli_control_request(cli, "spawn", params, &reply);
	if (r != 0)
		goto out;
	if (worktree && !cli->json) {
		char *b = wt_branch != NULL ? xstrdup(wt_branch)
					    : xstrfmt("pod/%s", name);

		printf("spawned %s (pid %lld) in a git worktree on branch %s\n"
		       "attach with 'podvisor attach %s'; its changes: "
		       "'podvisor diff %s', 'podvisor merge %s'\n",
			name, (long long)cmd_pods_int(reply.params, "pid", 0),
			b, name, name, name);
		free(b);
	} else if (!cmd_pods_json_reply(cli, &reply))
		printf("spawned %s (pid %lld) in %s\nattach with 'podvisor "
		       "attach %s'\n",
			name, (long long)cmd_pods_int(reply.params, "pid", 0),
			cwd, name);
	msg_clear(&reply);
out:
	json_object_put(allow);
	json_object_put(mcp);
	json_object_put(limits);
	scope_rules_clear(&rules);
	free(cwd);
	free(scope_cwd);
	free(specs);
	return r;
}

/* The write targets of a rule array, comma-joined; caller frees. */
static char *
cmd_pods_write_targets(struct json_object *rules)
{
	struct json_object *rule, *v;
	const char *perm, *target;
	char *out = xstrdup(""), *next;
	bool deny;
	size_t i, n;

	if (rules == NULL || !json_object_is_type(rules, json_type_array))
		return out;
	n = json_object_array_length(rules);
	for (i = 0; i < n; i++) {
		rule = json_object_array_get_idx(rules, i);
		perm = msg_json_str(rule, "permission");
		target = msg_json_str(rule, "target");
		deny = json_object_object_get_ex(rule, "deny", &v) &&
			json_object_get_boolean(v);
		if (perm == NULL || target == NULL ||
			strcmp(perm, "write") != 0)
			continue;
		next = xstrfmt("%s%s%s%s", out, *out != '\0' ? "," : "",
			deny ? "-" : "", target);
		free(out);
		out = next;
	}
	return *out != '\0' ? out : (free(out), xstrdup("-"));
}

/* podvisor ls */
int
cmd_ls(struct cli *cli, const struct cli_cmd *cmd, int argc, char **argv)
{
	static const char *const heads[6] = { "NAME", "STATUS", "PARENT",
		"MODEL", "CWD", "WRITE" };
	struct json_object *pods = NULL, *pod, *scope;
	struct msg reply;
	char ***rows;
	size_t widths[6], i, j, n;
	const char *s;
	int r;

	if ((r = cmd_pods_simple_args(cli, cmd, argc, argv, 0)) >= 0)
		return r;
	if ((r = cli_control_request(cli, "list", NULL, &reply)) != 0)
		return r;
	if (cmd_pods_json_reply(cli, &reply)) {
		msg_clear(&reply);
		return CLI_EXIT_OK;
	}
	json_object_object_get_ex(reply.params, "pods", &pods);
	n = pods != NULL && json_object_is_type(pods, json_type_array)
		? json_object_array_length(pods)
		: 0;
	if (n == 0) {
		printf("no pods (start one with 'podvisor spawn NAME')\n");
		msg_clear(&reply);
		return CLI_EXIT_OK;
	}
	for (j = 0; j < 6; j++)
		widths[j] = strlen(heads[j]);
	rows = xcalloc(n, sizeof(*rows));
	for (i = 0; i < n; i++) {
		pod = json_object_array_get_idx(pods, i);
		rows[i] = xcalloc(6, sizeof(char *));
		s = msg_json_str(pod, "name");
		rows[i][0] = xstrdup(s != NULL ? s : "?");
		s = msg_json_str(pod, "status");
		rows[i][1] = xstrdup(s != NULL ? s : "?");
		s = msg_json_str(pod, "parent");
		rows[i][2] = xstrdup(s != NULL ? s : "-");
		s = msg_json_str(pod, "model");
		rows[i][3] = xstrdup(s != NULL ? s : "-");
		s = msg_json_str(pod, "cwd");
		rows[i][4] = xstrdup(s != NULL ? s : "-");
		scope = NULL;
		if (!json_object_object_get_ex(pod, "effective_write", &scope))
			json_object_object_get_ex(pod, "scope", &scope);
		rows[i][5] = cmd_pods_write_targets(scope);
		for (j = 0; j < 5; j++)
			if (strlen(rows[i][j]) > widths[j])
				widths[j] = strlen(rows[i][j]);
	}
	for (j = 0; j < 6; j++)
		printf(j < 5 ? "%-*s  " : "%-*s\n",
			(int)(j < 5 ? widths[j] : 0), heads[j]);
	for (i = 0; i < n; i++) {
		for (j = 0; j < 6; j++) {
			printf(j < 5 ? "%-*s  " : "%-*s\n",
				(int)(j < 5 ? widths[j] : 0), rows[i][j]);
			free(rows[i][j]);
		}
		free(rows[i]);
	}
	free(rows);
	msg_clear(&reply);
	return CLI_EXIT_OK;
}

/* One "key: value" line of inspect; arrays and objects as JSON. */
static void
cmd_inspect_field(const char *key, struct json_object *val)
{
	size_t i, n;

	if (strcmp(key, "worktree") == 0 && cmd_worktree_status(val))
		return;
	if (json_object_is_type(val, json_type_string)) {
		printf("%-16s %s\n", key, json_object_get_string(val));
	} else if (json_object_is_type(val, json_type_array) &&
		(n = json_object_array_length(val)) > 0 &&
		json_object_is_type(
			json_object_array_get_idx(val, 0), json_type_object)) {
		printf("%-16s\n", key);
		for (i = 0; i < n; i++) {
			struct scope_rule rule;
			char *err = NULL, *text;

			if (scope_rule_from_json(
				    json_object_array_get_idx(val, i), NULL,
				    &rule, &err) == 0) {
				text = scope_rule_describe(&rule);
				printf("  %s\n", text);
				free(text);
				scope_rule_clear(&rule);
			} else {
				printf("  %s\n",
					json_object_to_json_string_ext(
						json_object_array_get_idx(
							val, i),
						JSON_C_TO_STRING_PLAIN));
				free(err);
			}
		}
	} else {
		printf("%-16s %s\n", key,
			val == NULL
				? "-"
				: json_object_to_json_string_ext(val,
					  JSON_C_TO_STRING_PLAIN |
						  JSON_C_TO_STRING_NOSLASHESCAPE));
	}
}

/*
 * The shape of the one-NAME commands: parse the arguments, check the
 * name, send {name} as method.  -1 with the reply in *ret, else the exit
 * code to return (--help, a usage error, a failed request).
 */
static int
cmd_pods_name_request(struct cli *cli, const struct cli_cmd *cmd, int argc,
	char **argv, const char *method, struct msg *ret)
{
	int r;

	if ((r = cmd_pods_simple_args(cli, cmd, argc, argv, 1)) >= 0)
		return r;
	if ((r = cmd_pods_check_name(cmd, argv[optind])) >= 0)
		return r;
	r = cli_control_request(
		cli, method, cmd_pods_name_params(argv[optind]), ret);
	return r == 0 ? -1 : r;
}

/* podvisor inspect NAME */
int
cmd_inspect(struct cli *cli, const struct cli_cmd *cmd, int argc, char **argv)
{
	struct msg reply;
	int r;

	if ((r = cmd_pods_name_request(
		     cli, cmd, argc, argv, "inspect", &reply)) >= 0)
		return r;
	if (!cmd_pods_json_reply(cli, &reply) && reply.params != NULL) {
		struct json_object_iterator it, end;

		it = json_object_iter_begin(reply.params);
		end = json_object_iter_end(reply.params);
		for (; !json_object_iter_equal(&it, &end);
			json_object_iter_next(&it))
			cmd_inspect_field(json_object_iter_peek_name(&it),
				json_object_iter_peek_value(&it));
	}
	msg_clear(&reply);
	return CLI_EXIT_OK;
}

/* podvisor send NAME TEXT */
int
cmd_send(struct cli *cli, const struct cli_cmd *cmd, int argc, char **argv)
{
	struct json_object *params, *v;
	struct msg reply;
	const char *name;
	int r;

	if ((r = cmd_pods_simple_args(cli, cmd, argc, argv, 2)) >= 0)
		return r;
	name = argv[optind];
	if ((r = cmd_pods_check_name(cmd, name)) >= 0)
		return r;
	params = cmd_pods_name_params(name);
	json_object_object_add(
		params, "message", json_object_new_string(argv[optind + 1]));
	if ((r = cli_control_request(cli, "send", params, &reply)) != 0)
		return r;
	if (!cmd_pods_json_reply(cli, &reply)) {
		if (json_object_object_get_ex(reply.params, "delivered", &v) &&
			json_object_get_boolean(v))
			printf("delivered to %s\n", name);
		else
			printf("queued for %s (it is not live; it gets the "
			       "message when restored)\n",
				name);
	}
	msg_clear(&reply);
	return CLI_EXIT_OK;
}

/* podvisor stop NAME [--recursive] */
int
cmd_stop(struct cli *cli, const struct cli_cmd *cmd, int argc, char **argv)
{
	static const struct option opts[] = {
		{ "recursive", no_argument, NULL, 'r' },
		{ "json", no_argument, NULL, CLI_OPT_JSON },
		{ "help", no_argument, NULL, CLI_OPT_HELP },
		{ NULL, 0, NULL, 0 },
	};
	struct json_object *params;
	struct msg reply;
	bool recursive = false;
	char *released;
	int c, ex = 0, r;

	while ((c = cli_getopt(cli, cmd, argc, argv, "r", opts, &ex)) != -2) {
		if (c == -1)
			return ex;
		if (c == 'r')
			recursive = true;
	}
	if (argc - optind != 1)
		return cli_usage_error(cmd, "expected one NAME");
	if ((r = cmd_pods_check_name(cmd, argv[optind])) >= 0)
		return r;
	params = cmd_pods_name_params(argv[optind]);
	if (recursive)
		json_object_object_add(
			params, "recursive", json_object_new_boolean(true));
	if ((r = cli_control_request(cli, "stop", params, &reply)) != 0)
		return r;
	if (!cmd_pods_json_reply(cli, &reply)) {
		struct json_object *rel = NULL;

		json_object_object_get_ex(reply.params, "released", &rel);
		released = cmd_pods_write_targets(rel);
		printf("stopped %s (write scope released: %s)\nrestore it "
		       "with 'podvisor restore %s'\n",
			argv[optind], released, argv[optind]);
		free(released);
	}
	msg_clear(&reply);
	return CLI_EXIT_OK;
}

/* podvisor restore NAME */
int
cmd_restore(struct cli *cli, const struct cli_cmd *cmd, int argc, char **argv)
{
	struct msg reply;
	int r;

	if ((r = cmd_pods_name_request(
		     cli, cmd, argc, argv, "restore", &reply)) >= 0)
		return r;
	if (!cmd_pods_json_reply(cli, &reply))
		printf("%s %s (pid %lld)\n", argv[optind],
			strcmp(reply.name, "already_live") == 0
				? "was already live"
				: "restored",
			(long long)cmd_pods_int(reply.params, "pid", 0));
	msg_clear(&reply);
	return CLI_EXIT_OK;
}

/* podvisor peer A B */
int
cmd_peer(struct cli *cli, const struct cli_cmd *cmd, int argc, char **argv)
{
	struct json_object *params;
	struct msg reply;
	int r;

	if ((r = cmd_pods_simple_args(cli, cmd, argc, argv, 2)) >= 0)
		return r;
	if ((r = cmd_pods_check_name(cmd, argv[optind])) >= 0 ||
		(r = cmd_pods_check_name(cmd, argv[optind + 1])) >= 0)
		return r;
	params = json_object_new_object();
	json_object_object_add(
		params, "a", json_object_new_string(argv[optind]));
	json_object_object_add(
		params, "b", json_object_new_string(argv[optind + 1]));
	if ((r = cli_control_request(cli, "register_peer", params, &reply)) !=
		0)
		return r;
	if (!cmd_pods_json_reply(cli, &reply))
		printf("%s and %s are peers\n", argv[optind], argv[optind + 1]);
	msg_clear(&reply);
	return CLI_EXIT_OK;
}

/* podvisor forget NAME [--force] [--delete-branch] */
int
cmd_forget(struct cli *cli, const struct cli_cmd *cmd, int argc, char **argv)
{
	static const struct option opts[] = {
		{ "force", no_argument, NULL, 'f' },
		{ "delete-branch", no_argument, NULL, 'D' },
		{ "json", no_argument, NULL, CLI_OPT_JSON },
		{ "help", no_argument, NULL, CLI_OPT_HELP },
		{ NULL, 0, NULL, 0 },
	};
	bool force = false, delete_branch = false;
	struct json_object *params;
	struct msg reply;
	int c, ex = 0, r;

	while ((c = cli_getopt(cli, cmd, argc, argv, "f", opts, &ex)) != -2) {
		if (c == -1)
			return ex;
		if (c == 'f')
			force = true;
		else if (c == 'D')
			delete_branch = true;
	}
	if (argc - optind != 1)
		return cli_usage_error(cmd, "expected one NAME");
	if ((r = cmd_pods_check_name(cmd, argv[optind])) >= 0)
		return r;
	params = cmd_pods_name_params(argv[optind]);
	/* A worktree pod: podvisord runs git worktree remove first. */
	if (force)
		json_object_object_add(
			params, "force", json_object_new_boolean(true));
	if (delete_branch)
		json_object_object_add(
			params, "delete_branch", json_object_new_boolean(true));
	if ((r = cli_control_request(cli, "forget", params, &reply)) != 0)
		return r;
	if (!cmd_pods_json_reply(cli, &reply)) {
		struct json_object *w = NULL, *v;

		json_object_object_get_ex(reply.params, "worktree", &w);
		if (w != NULL && json_object_object_get_ex(w, "removed", &v) &&
			!json_object_get_boolean(v))
			printf("forgot %s (state and session logs deleted); its "
			       "worktree %s is NOT removed: %s\nremove it by "
			       "hand, then: git worktree prune\n",
				argv[optind],
				msg_json_str(w, "path") != NULL
					? msg_json_str(w, "path")
					: "?",
				msg_json_str(w, "error") != NULL
					? msg_json_str(w, "error")
					: "?");
		else if (w != NULL)
			printf("forgot %s (state and session logs deleted; "
			       "worktree %s removed, branch %s %s)\n",
				argv[optind],
				msg_json_str(w, "path") != NULL
					? msg_json_str(w, "path")
					: "?",
				msg_json_str(w, "branch") != NULL
					? msg_json_str(w, "branch")
					: "?",
				delete_branch ? "deleted" : "kept");
		else
			printf("forgot %s (state and session logs deleted)\n",
				argv[optind]);
	}
	msg_clear(&reply);
	return CLI_EXIT_OK;
}
