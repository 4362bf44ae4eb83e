/* SPDX-License-Identifier: ISC */
#include <errno.h>
#include <getopt.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <json-c/json.h>

#include "cli/cli.h"
#include "cli/client.h"
#include "common/podname.h"
#include "proto/msg.h"

static int64_t
cmd_budget_int(struct json_object *o, const char *key)
{
	struct json_object *v;

	if (o == NULL || !json_object_object_get_ex(o, key, &v))
		return 0;
	return json_object_get_int64(v);
}

static void
cmd_budget_usage(const char *label, struct json_object *u)
{
	if (u == NULL)
		return;
	printf("%-12s input %" PRId64 " (cache read %" PRId64
	       ", cache write %" PRId64 "), output %" PRId64
	       " (reasoning %" PRId64 ")\n",
		label, cmd_budget_int(u, "input_tokens"),
		cmd_budget_int(u, "cache_read_tokens"),
		cmd_budget_int(u, "cache_write_tokens"),
		cmd_budget_int(u, "output_tokens"),
		cmd_budget_int(u, "reasoning_tokens"));
}

static void
cmd_budget_print(const char *name, struct json_object *o)
{
	struct json_object *b = NULL, *v;

	if (json_object_object_get_ex(o, "budget", &b) && b != NULL) {
		printf("%-12s %" PRId64 " tokens, %" PRId64 " spent, %" PRId64
		       " remaining",
			"budget", cmd_budget_int(b, "tokens"),
			cmd_budget_int(b, "spent"),
			cmd_budget_int(b, "remaining"));
		if (json_object_object_get_ex(b, "from", &v))
			printf(" (carved from %s)", json_object_get_string(v));
		printf("\n");
	} else
		printf("%-12s none (pod %s may spend without limit)\n",
			"budget", name);
	if (json_object_object_get_ex(o, "usage", &v))
		cmd_budget_usage("usage", v);
	if (json_object_object_get_ex(o, "usage_total", &v))
		cmd_budget_usage("with kids", v);
}

/* A token count: digits only; -1 if not. */
static long long
cmd_budget_count(const char *s)
{
	char *end;
	long long n;

	if (s[0] < '0' || s[0] > '9')
		return -1;
	errno = 0;
	n = strtoll(s, &end, 10);
	return errno != 0 || *end != '\0' ? -1 : n;
}

/* podvisor budget POD [+N|N] */
int
cmd_budget(struct cli *cli, const struct cli_cmd *cmd, int argc, char **argv)
{
	static const struct option opts[] = {
		{ "json", no_argument, NULL, CLI_OPT_JSON },
		{ "help", no_argument, NULL, CLI_OPT_HELP },
		{ NULL, 0, NULL, 0 },
	};
	struct json_object *params;
	const char *name, *arg = NULL;
	struct msg reply;
	long long n = 0;
	int c, ex = 0, r;

	while ((c = cli_getopt(cli, cmd, argc, argv, "", opts, &ex)) != -2)
		if (c == -1)
			return ex;
	if (argc - optind < 1 || argc - optind > 2)
		return cli_usage_error(cmd, "expected POD [+N|N]");
	name = argv[optind];
	if (!podname_valid(name, NULL))
		return cli_usage_error(cmd, "bad pod name '%s'", name);
	if (argc - optind == 2) {
		arg = argv[optind + 1];
		n = cmd_budget_count(arg[0] == '+' ? arg + 1 : arg);
		if (n < 0)
			return cli_usage_error(cmd,
				"'%s' is not +N (more tokens) or N (the "
				"budget in all)",
				arg);
	}
	params = json_object_new_object();
	json_object_object_add(params, "name", json_object_new_string(name));
	if (arg != NULL)
		json_object_object_add(params, arg[0] == '+' ? "add" : "tokens",
			json_object_new_int64(n));
	r = cli_control_request(
		cli, arg != NULL ? "set_budget" : "inspect", params, &reply);
	if (r != 0)
		return r;
	if (cli->json) {
		struct json_object *b = NULL;

		json_object_object_get_ex(reply.params, "budget", &b);
		cli_print_json(arg != NULL ? b : reply.params);
	} else
		cmd_budget_print(name, reply.params);
	msg_clear(&reply);
	return CLI_EXIT_OK;
}
