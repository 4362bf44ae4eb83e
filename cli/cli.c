/* SPDX-License-Identifier: ISC */
#include "cli/cli.h"

#include <errno.h>
#include <getopt.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <json-c/json.h>

#include "cli/client.h"
#include "common/xmalloc.h"
#include "proto/msg.h"

/* "podvisor: ..." on stderr. */
void
cli_err(const char *fmt, ...)
{
	va_list ap;

	fflush(stdout);
	fputs("podvisor: ", stderr);
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fputc('\n', stderr);
}

/* Print a usage error for cmd; returns the usage exit code. */
int
cli_usage_error(const struct cli_cmd *cmd, const char *fmt, ...)
{
	va_list ap;

	fflush(stdout);
	fputs("podvisor: ", stderr);
	if (cmd != NULL)
		fprintf(stderr, "%s: ", cmd->name);
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fputc('\n', stderr);
	if (cmd != NULL)
		fprintf(stderr,
			"usage: podvisor %s %s\n(see 'podvisor %s --help')\n",
			cmd->name, cmd->usage, cmd->name);
	else
		fputs("(see 'podvisor --help')\n", stderr);
	return CLI_EXIT_USAGE;
}

/* The command's help text on stdout. */
int
cli_cmd_help(const struct cli_cmd *cmd)
{
	printf("usage: podvisor %s %s\n\n%s\n", cmd->name, cmd->usage,
		cmd->summary);
	if (cmd->help != NULL && *cmd->help != '\0')
		printf("\n%s", cmd->help);
	return CLI_EXIT_OK;
}

/* getopt_long with --json and --help handled here. */
int
cli_getopt(struct cli *cli, const struct cli_cmd *cmd, int argc, char **argv,
	const char *shortopts, const struct option *longopts, int *ret_exit)
{
	char opts[64];
	int c;

	/* Options may follow operands; "--" ends them (TEXT with '-'). */
	snprintf(opts, sizeof(opts), ":h%s", shortopts);
	c = getopt_long(argc, argv, opts, longopts, NULL);
	switch (c) {
	case -1:
		return -2;
	case CLI_OPT_JSON:
		cli->json = true;
		return c;
	case CLI_OPT_HELP:
		*ret_exit = cli_cmd_help(cmd);
		return -1;
	case ':':
		*ret_exit = cli_usage_error(
			cmd, "option %s needs a value", argv[optind - 1]);
		return -1;
	case '?':
		*ret_exit = cli_usage_error(
			cmd, "unknown option %s", argv[optind - 1]);
		return -1;
	default:
		return c;
	}
}

/* The errno of a connect as words a user reads. */
static const char *
cli_errno_words(int err)
{
	switch (err) {
	case ENOENT:
		return "no such file";
	case ECONNREFUSED:
		return "connection refused";
	case EACCES:
		return "permission denied";
	case ETIMEDOUT:
		return "timed out";
	case EPIPE:
		return "the daemon closed the connection";
	default:
		return strerror(err);
	}
}

/* Human message for a failed connect to path. */
char *
cli_connect_error(const char *path, int err)
{
	const char *fix;

	switch (err) {
	case EACCES:
	case EPERM:
		fix = "the socket or its directory belongs to another user; "
		      "check PODVISOR_RUNTIME_DIR";
		break;
	case ENAMETOOLONG:
		fix = "the path is too long for a Unix socket; set "
		      "PODVISOR_RUNTIME_DIR to a shorter directory";
		break;
	default:
		fix = "is podvisord running? start it with 'podvisor daemon' "
		      "or 'systemctl --user start podvisord.socket'";
		break;
	}
	return xstrfmt("cannot connect to %s: %s (%s)", path,
		cli_errno_words(err), fix);
}

/* Connect to control.sock and read the hello. */
int
cli_control_open(
	struct cli *cli, struct client **ret_client, struct msg *ret_hello)
{
	struct client *c;
	struct msg hello;
	char *err = NULL, *text;
	int r;

	r = client_connect(cli->paths.control_sock, &c);
	if (r < 0) {
		text = cli_connect_error(cli->paths.control_sock, -r);
		cli_err("%s", text);
		free(text);
		return CLI_EXIT_UNREACHABLE;
	}
	r = client_expect(c, "hello", cli->timeout_ms, &hello, &err);
	if (r == 0 && strcmp(hello.name, "hello") != 0) {
		cli_print_error_reply(cli, "control socket", &hello);
		msg_clear(&hello);
		client_free(c);
		return CLI_EXIT_UNREACHABLE;
	}
	if (r < 0) {
		cli_err("no hello from podvisord on %s: %s (is the daemon "
			"stuck? see 'podvisor doctor')",
			cli->paths.control_sock,
			err != NULL ? err : cli_errno_words(-r));
		free(err);
		client_free(c);
		return CLI_EXIT_UNREACHABLE;
	}
	if (ret_hello != NULL)
		*ret_hello = hello;
	else
		msg_clear(&hello);
	*ret_client = c;
	return CLI_EXIT_OK;
}

/* A fix to suggest for an error code, or NULL. */
static const char *
cli_error_fix(const char *code)
{
	static const struct {
		const char *code;
		const char *fix;
	} fixes[] = {
		{ "already_exists",
			"pick another name, or 'podvisor restore' "
			"the existing pod" },
		{ "already_live", "it is running; 'podvisor attach' to it" },
		{ "invalid_name", "names are [a-z0-9][a-z0-9._-]{0,62}" },
		{ "not_found", "see 'podvisor ls' for the pods that exist" },
		{ "not_live", "start it again with 'podvisor restore NAME'" },
		{ "not_subset", "a child may only get scope its parent has" },
		{ "already_decided", "another answer came first" },
		{ "write_conflict",
			"another pod holds write access there; "
			"stop it or choose another directory" },
		{ "spawn_failed",
			"see the worker's stderr.log under the "
			"runtime dir, and 'podvisor doctor'" },
		{ "already_running",
			"wait for the turn to end, or cancel "
			"it from 'podvisor attach'" },
	};
	size_t i;

	for (i = 0; i < sizeof(fixes) / sizeof(fixes[0]); i++)
		if (code != NULL && strcmp(code, fixes[i].code) == 0)
			return fixes[i].fix;
	return NULL;
}

/* Print an error reply with its code and a fix. */
void
cli_print_error_reply(
	struct cli *cli, const char *what, const struct msg *reply)
{
	const char *code, *message, *fix;
	struct json_object *wrap;

	code = msg_json_str(reply->params, "code");
	message = msg_json_str(reply->params, "message");
	fix = cli_error_fix(code);
	if (cli->json) {
		wrap = json_object_new_object();
		json_object_object_add(wrap, "error",
			reply->params != NULL ? json_object_get(reply->params)
					      : json_object_new_object());
		cli_print_json(wrap);
		json_object_put(wrap);
	}
	cli_err("%s: %s [%s]%s%s%s", what, message != NULL ? message : "failed",
		code != NULL ? code : "error", fix != NULL ? " (" : "",
		fix != NULL ? fix : "", fix != NULL ? ")" : "");
}

/* One request on a fresh control connection. */
int
cli_control_request(struct cli *cli, const char *method,
	struct json_object *params, struct msg *ret)
{
	struct client *c;
	struct msg reply;
	char *err = NULL, *what;
	const char *name;
	int r;

	r = cli_control_open(cli, &c, NULL);
	if (r != 0) {
		json_object_put(params);
		return r;
	}
	name = params != NULL ? msg_json_str(params, "name") : NULL;
	what = name != NULL ? xstrfmt("%s %s", method, name) : xstrdup(method);
	r = client_call(c, method, params, cli->timeout_ms, &reply, &err);
	client_free(c);
	if (r == -ETIMEDOUT) {
		cli_err("%s: no reply from podvisord within %d s (is it "
			"stuck? see 'podvisor doctor'; or allow longer with "
			"--timeout)",
			what, cli->timeout_ms / 1000);
		free(what);
		return CLI_EXIT_UNREACHABLE;
	}
	if (r < 0) {
		cli_err("%s: no reply from podvisord: %s", what,
			err != NULL ? err : cli_errno_words(-r));
		free(err);
		free(what);
		return CLI_EXIT_UNREACHABLE;
	}
	if (strcmp(reply.name, "error") == 0) {
		cli_print_error_reply(cli, what, &reply);
		msg_clear(&reply);
		free(what);
		return CLI_EXIT_FAIL;
	}
	free(what);
	*ret = reply;
	return CLI_EXIT_OK;
}

/* obj as one line of JSON on stdout. */
void
cli_print_json(struct json_object *obj)
{
	puts(obj == NULL ? "{}"
			 : json_object_to_json_string_ext(obj,
				   JSON_C_TO_STRING_PLAIN |
					   JSON_C_TO_STRING_NOSLASHESCAPE));
	fflush(stdout);
}
