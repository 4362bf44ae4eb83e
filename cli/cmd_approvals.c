/* SPDX-License-Identifier: ISC */
#include <errno.h>
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <json-c/json.h>

#include "cli/cli.h"
#include "cli/client.h"
#include "common/clock.h"
#include "common/paths.h"
#include "common/podname.h"
#include "common/xmalloc.h"
#include "proto/msg.h"

/*
 * podvisor approvals [POD], approve POD ID, deny POD ID [REASON]: the
 * pending approval requests of pods (docs/approvals.md), read from each
 * live pod's snapshot and answered on its socket.
 */

/* The snapshot of pod name, or NULL (a pod not serving its socket). */
static struct client *
cmd_approvals_open(
	struct cli *cli, const char *name, struct msg *ret_snap, bool loud)
{
	struct client *c = NULL;
	char *sock = paths_pod_sock(&cli->paths, name), *err = NULL;
	int r;

	r = client_connect(sock, &c);
	if (r == 0)
		r = client_expect(
			c, "snapshot", cli->timeout_ms, ret_snap, &err);
	if (r < 0 || strcmp(ret_snap->name, "snapshot") != 0) {
		if (loud)
			cli_err("pod %s is not serving %s: %s (is it live? "
				"'podvisor ls')",
				name, sock,
				err != NULL ? err
					    : strerror(r < 0 ? -r : EPROTO));
		if (r == 0)
			msg_clear(ret_snap);
		client_free(c);
		free(err);
		free(sock);
		return NULL;
	}
	free(sock);
	return c;
}

static void
cmd_approvals_add(
	struct json_object *out, const char *pod, struct json_object *snap)
{
	struct json_object *pend, *item, *copy;
	struct json_object_iter it;
	size_t i;

	if (!json_object_object_get_ex(snap, "pending_approvals", &pend))
		return;
	for (i = 0; i < json_object_array_length(pend); i++) {
		item = json_object_array_get_idx(pend, i);
		copy = json_object_new_object();
		json_object_object_add(
			copy, "pod", json_object_new_string(pod));
		json_object_object_foreachC(item, it)
		{
			json_object_object_add(
				copy, it.key, json_object_get(it.val));
		}
		json_object_array_add(out, copy);
	}
}

/* One line per request: POD ID TOOL AGE ARGUMENTS. */
static void
cmd_approvals_print(struct json_object *list)
{
	struct json_object *a, *v;
	int64_t now = clock_now_ms(), age;
	const char *args;
	size_t i, n = json_object_array_length(list);

	if (n == 0) {
		printf("no pending approvals\n");
		return;
	}
	printf("%-20s %-9s %-10s %6s  %s\n", "POD", "ID", "TOOL", "AGE",
		"ARGUMENTS");
	for (i = 0; i < n; i++) {
		a = json_object_array_get_idx(list, i);
		age = json_object_object_get_ex(a, "ms", &v)
			? (now - json_object_get_int64(v)) / 1000
			: 0;
		args = msg_json_str(a, "arguments");
		printf("%-20s %-9s %-10s %5llds  %.100s\n",
			msg_json_str(a, "pod"), msg_json_str(a, "id"),
			msg_json_str(a, "tool"), (long long)age,
			args != NULL ? args : "");
	}
}

/* podvisor approvals [POD] */
int
cmd_approvals(struct cli *cli, const struct cli_cmd *cmd, int argc, char **argv)
{
	static const struct option opts[] = {
		{ "json", no_argument, NULL, CLI_OPT_JSON },
		{ "help", no_argument, NULL, CLI_OPT_HELP },
		{ NULL, 0, NULL, 0 },
	};
	struct json_object *out, *pods, *p, *o;
	struct client *c;
	struct msg reply, snap;
	const char *name;
	size_t i;
	int opt, ex = 0, r;

	while ((opt = cli_getopt(cli, cmd, argc, argv, "", opts, &ex)) != -2)
		if (opt == -1)
			return ex;
	if (argc - optind > 1)
		return cli_usage_error(cmd, "expected at most one POD");
	out = json_object_new_array();
	if (argc - optind == 1) {
		name = argv[optind];
		if (!podname_valid(name, NULL)) {
			json_object_put(out);
			return cli_usage_error(cmd, "bad pod name '%s'", name);
		}
		c = cmd_approvals_open(cli, name, &snap, true);
		if (c == NULL) {
			json_object_put(out);
			return CLI_EXIT_FAIL;
		}
		cmd_approvals_add(out, name, snap.params);
		msg_clear(&snap);
		client_free(c);
	} else {
		r = cli_control_request(cli, "list", NULL, &reply);
		if (r != 0) {
			json_object_put(out);
			return r;
		}
		if (!json_object_object_get_ex(reply.params, "pods", &pods))
			pods = NULL;
		for (i = 0; pods != NULL && i < json_object_array_length(pods);
			i++) {
			p = json_object_array_get_idx(pods, i);
			name = msg_json_str(p, "name");
			if (name == NULL || msg_json_str(p, "socket") == NULL)
				continue;
			/* A pod that stops meanwhile has nothing pending. */
			c = cmd_approvals_open(cli, name, &snap, false);
			if (c == NULL)
				continue;
			cmd_approvals_add(out, name, snap.params);
			msg_clear(&snap);
			client_free(c);
		}
		msg_clear(&reply);
	}
	if (cli->json) {
		o = json_object_new_object();
		json_object_object_add(o, "approvals", out);
		cli_print_json(o);
		json_object_put(o);
	} else {
		cmd_approvals_print(out);
		json_object_put(out);
	}
	return CLI_EXIT_OK;
}

/* Send approve {id, decision, reason?} to pod name. */
static int
cmd_approvals_answer(struct cli *cli, const char *name, const char *id,
	const char *decision, const char *reason)
{
	struct json_object *params;
	struct client *c;
	struct msg snap, reply;
	char *err = NULL;
	int r;

	c = cmd_approvals_open(cli, name, &snap, true);
	if (c == NULL)
		return CLI_EXIT_FAIL;
	msg_clear(&snap);
	params = json_object_new_object();
	json_object_object_add(params, "id", json_object_new_string(id));
	json_object_object_add(
		params, "decision", json_object_new_string(decision));
	if (reason != NULL)
		json_object_object_add(
			params, "reason", json_object_new_string(reason));
	r = client_call(c, "approve", params, cli->timeout_ms, &reply, &err);
	client_free(c);
	if (r < 0) {
		cli_err("pod %s: %s", name, err != NULL ? err : strerror(-r));
		free(err);
		return CLI_EXIT_FAIL;
	}
	if (strcmp(reply.name, "error") == 0) {
		cli_print_error_reply(cli, "approve", &reply);
		msg_clear(&reply);
		return CLI_EXIT_FAIL;
	}
	if (cli->json && reply.params != NULL)
		cli_print_json(reply.params);
	else if (cli->json)
		printf("{}\n");
	else
		printf("%s: %s %s\n", name, id, decision);
	msg_clear(&reply);
	return CLI_EXIT_OK;
}

/* podvisor approve POD ID [--always] [--reason TEXT] */
int
cmd_approve(struct cli *cli, const struct cli_cmd *cmd, int argc, char **argv)
{
	static const struct option opts[] = {
		{ "always", no_argument, NULL, 'a' },
		{ "reason", required_argument, NULL, 'r' },
		{ "json", no_argument, NULL, CLI_OPT_JSON },
		{ "help", no_argument, NULL, CLI_OPT_HELP },
		{ NULL, 0, NULL, 0 },
	};
	const char *reason = NULL;
	bool always = false;
	int opt, ex = 0;

	while ((opt = cli_getopt(cli, cmd, argc, argv, "", opts, &ex)) != -2) {
		if (opt == -1)
			return ex;
		if (opt == 'a')
			always = true;
		else if (opt == 'r')
			reason = optarg;
	}
	if (argc - optind != 2)
		return cli_usage_error(cmd, "expected POD ID");
	if (!podname_valid(argv[optind], NULL))
		return cli_usage_error(cmd, "bad pod name '%s'", argv[optind]);
	return cmd_approvals_answer(cli, argv[optind], argv[optind + 1],
		always ? "allow_always" : "allow_once", reason);
}

/* podvisor deny POD ID [REASON] */
int
cmd_deny(struct cli *cli, const struct cli_cmd *cmd, int argc, char **argv)
{
	static const struct option opts[] = {
		{ "json", no_argument, NULL, CLI_OPT_JSON },
		{ "help", no_argument, NULL, CLI_OPT_HELP },
		{ NULL, 0, NULL, 0 },
	};
	int opt, ex = 0;

	while ((opt = cli_getopt(cli, cmd, argc, argv, "", opts, &ex)) != -2)
		if (opt == -1)
			return ex;
	if (argc - optind < 2 || argc - optind > 3)
		return cli_usage_error(cmd, "expected POD ID [REASON]");
	if (!podname_valid(argv[optind], NULL))
		return cli_usage_error(cmd, "bad pod name '%s'", argv[optind]);
	return cmd_approvals_answer(cli, argv[optind], argv[optind + 1], "deny",
		argc - optind == 3 ? argv[optind + 2] : NULL);
}

/* "NAME: approval policy writes (allow: bash:make), timeout 600 s" */
static void
cmd_policy_print(const char *name, struct json_object *pol, const char *tail)
{
	struct json_object *allow, *v;
	const char *level = msg_json_str(pol, "policy");
	const char *ask = msg_json_str(pol, "ask");
	size_t i, n;

	printf("%s: approval policy %s", name, level != NULL ? level : "?");
	if (json_object_object_get_ex(pol, "allow", &allow) &&
		(n = json_object_array_length(allow)) > 0) {
		printf(" (allow:");
		for (i = 0; i < n; i++)
			printf("%s %s", i > 0 ? "," : "",
				json_object_get_string(
					json_object_array_get_idx(allow, i)));
		printf(")");
	}
	if (json_object_object_get_ex(pol, "timeout_s", &v) &&
		json_object_get_int64(v) > 0)
		printf(", timeout %lld s", (long long)json_object_get_int64(v));
	if (ask != NULL && strcmp(ask, "auto") != 0)
		printf(", ask %s", ask);
	printf("%s\n", tail);
}

/*
 * podvisor policy POD [LEVEL] [--allow RULE]… [--no-allow]
 * [--approval-timeout S] [--ask WHO]: show or change a pod's policy.
 */
int
cmd_policy(struct cli *cli, const struct cli_cmd *cmd, int argc, char **argv)
{
	static const struct option opts[] = {
		{ "allow", required_argument, NULL, 'L' },
		{ "no-allow", no_argument, NULL, 'N' },
		{ "approval-timeout", required_argument, NULL, 'T' },
		{ "ask", required_argument, NULL, 'k' },
		{ "json", no_argument, NULL, CLI_OPT_JSON },
		{ "help", no_argument, NULL, CLI_OPT_HELP },
		{ NULL, 0, NULL, 0 },
	};
	struct json_object *allow = NULL, *appr, *params, *pol;
	const char *atimeout = NULL, *ask = NULL, *name;
	struct msg reply;
	bool change;
	int opt, ex = 0, r;

	while ((opt = cli_getopt(cli, cmd, argc, argv, "", opts, &ex)) != -2) {
		switch (opt) {
		case -1:
			json_object_put(allow);
			return ex;
		case 'L':
		case 'N':
			if (allow == NULL)
				allow = json_object_new_array();
			if (opt == 'L')
				json_object_array_add(
					allow, json_object_new_string(optarg));
			break;
		case 'T':
			atimeout = optarg;
			break;
		case 'k':
			ask = optarg;
			break;
		}
	}
	if (argc - optind < 1 || argc - optind > 2) {
		json_object_put(allow);
		return cli_usage_error(cmd, "expected POD [LEVEL]");
	}
	if (atimeout != NULL &&
		(atimeout[0] == '\0' ||
			atimeout[strspn(atimeout, "0123456789")] != '\0')) {
		json_object_put(allow);
		return cli_usage_error(cmd,
			"--approval-timeout is seconds (0 = none), not '%s'",
			atimeout);
	}
	name = argv[optind];
	if (!podname_valid(name, NULL)) {
		json_object_put(allow);
		return cli_usage_error(cmd, "bad pod name '%s'", name);
	}
	params = json_object_new_object();
	json_object_object_add(params, "name", json_object_new_string(name));
	change = argc - optind == 2 || allow != NULL || atimeout != NULL ||
		ask != NULL;
	if (change) {
		/* Checked by podvisord, which names what is wrong. */
		appr = json_object_new_object();
		if (argc - optind == 2)
			json_object_object_add(appr, "policy",
				json_object_new_string(argv[optind + 1]));
		if (allow != NULL)
			json_object_object_add(appr, "allow", allow);
		allow = NULL;
		if (atimeout != NULL)
			json_object_object_add(appr, "timeout_s",
				json_object_new_int64(
					strtoll(atimeout, NULL, 10)));
		if (ask != NULL)
			json_object_object_add(
				appr, "ask", json_object_new_string(ask));
		json_object_object_add(params, "approval", appr);
	}
	r = cli_control_request(
		cli, change ? "set_approval" : "inspect", params, &reply);
	if (r != 0)
		return r;
	if (!json_object_object_get_ex(reply.params, "approval", &pol)) {
		cli_err("%s %s: podvisord's reply has no approval policy",
			change ? "set_approval" : "inspect", name);
		msg_clear(&reply);
		return CLI_EXIT_FAIL;
	}
	if (cli->json)
		cli_print_json(pol);
	else
		cmd_policy_print(name, pol,
			!change ? ""
				: json_object_get_boolean(
					  json_object_object_get(
						  reply.params, "live"))
				? " (in force now)"
				: " (from its next start)");
	msg_clear(&reply);
	return CLI_EXIT_OK;
}
