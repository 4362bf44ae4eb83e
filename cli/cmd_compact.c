/* SPDX-License-Identifier: ISC */
#include <errno.h>
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <json-c/json.h>

#include "cli/cli.h"
#include "cli/client.h"
#include "cli/podrun.h"
#include "cli/render.h"
#include "common/podname.h"
#include "proto/msg.h"

static int
cmd_compact_fail(const char *name, int r)
{
	if (r == -EPIPE)
		cli_err("pod %s closed the connection (stopped or crashed? see "
			"'podvisor inspect %s')",
			name, name);
	else if (r == -ETIMEDOUT)
		cli_err("pod %s: timed out waiting for the compaction", name);
	else if (r == -EINTR)
		cli_err("interrupted; the compaction of %s goes on", name);
	else if (r != -EBADMSG)
		cli_err("pod %s: %s", name, strerror(-r));
	return CLI_EXIT_FAIL;
}

/* Send compact {instruction?} and stream until compact_done/failed. */
static int
cmd_compact_run(struct podrun *pr, const char *instruction, int64_t deadline)
{
	struct json_object *params = NULL, *err;
	struct msg m;
	const char *msg;
	int64_t id;
	int r;

	r = podrun_wait_idle(pr, deadline);
	if (r < 0)
		return cmd_compact_fail(pr->name, r);
	if (instruction != NULL) {
		params = json_object_new_object();
		json_object_object_add(params, "instruction",
			json_object_new_string(instruction));
	}
	id = client_send(pr->client, "compact", params);
	if (id < 0)
		return cmd_compact_fail(pr->name, (int)id);
	for (;;) {
		r = podrun_pump(pr, deadline, &m);
		if (r < 0)
			return cmd_compact_fail(pr->name, r);
		if (client_msg_has_id(&m, id) && strcmp(m.name, "error") == 0) {
			cli_print_error_reply(pr->cli, "compact", &m);
			msg_clear(&m);
			return CLI_EXIT_FAIL;
		}
		if (m.kind == MSG_EVENT && m.id == NULL &&
			strcmp(m.name, "compact_done") == 0) {
			msg_clear(&m);
			return CLI_EXIT_OK;
		}
		if (m.kind == MSG_EVENT && m.id == NULL &&
			strcmp(m.name, "compact_failed") == 0) {
			msg = NULL;
			if (json_object_object_get_ex(m.params, "error", &err))
				msg = msg_json_str(err, "message");
			cli_err("compaction of %s failed: %s", pr->name,
				msg != NULL ? msg : "unknown error");
			msg_clear(&m);
			return CLI_EXIT_FAIL;
		}
		msg_clear(&m);
	}
}

/* podvisor compact NAME [INSTRUCTION]: compact a pod's context now. */
int
cmd_compact(struct cli *cli, const struct cli_cmd *cmd, int argc, char **argv)
{
	static const struct option opts[] = {
		{ "json", no_argument, NULL, CLI_OPT_JSON },
		{ "help", no_argument, NULL, CLI_OPT_HELP },
		{ NULL, 0, NULL, 0 },
	};
	struct render render;
	struct podrun *pr;
	int c, ex = 0, r;

	while ((c = cli_getopt(cli, cmd, argc, argv, "", opts, &ex)) != -2)
		if (c == -1)
			return ex;
	if (argc - optind < 1 || argc - optind > 2)
		return cli_usage_error(cmd, "expected NAME [INSTRUCTION]");
	if (!podname_valid(argv[optind], NULL))
		return cli_usage_error(cmd, "bad pod name '%s'", argv[optind]);
	r = podrun_open(cli, argv[optind], cli->timeout_ms, &pr);
	if (r != 0)
		return r;
	render_init(&render, stdout, cli->tty);
	render.status = false;
	pr->render = &render;
	pr->json = cli->json;
	r = cmd_compact_run(pr, argc - optind == 2 ? argv[optind + 1] : NULL,
		podrun_deadline(cli->timeout_set ? cli->timeout_ms : 600000));
	render_eol(&render);
	fflush(stdout);
	podrun_free(pr);
	return r;
}
