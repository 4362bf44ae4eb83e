/* SPDX-License-Identifier: ISC */
#ifndef CLI_CLI_H
#define CLI_CLI_H

#include <stdbool.h>

#include "common/paths.h"

struct client;
struct json_object;
struct msg;
struct option;

/* Exit codes, documented in 'podvisor --help'. */
enum cli_exit {
	CLI_EXIT_OK = 0,
	CLI_EXIT_FAIL = 1, /* the daemon or the pod reported a failure */
	CLI_EXIT_USAGE = 2, /* bad command line */
	CLI_EXIT_UNREACHABLE = 3, /* cannot reach the daemon */
};

/* Long-option values every command shares. */
#define CLI_OPT_JSON 1000
#define CLI_OPT_HELP 'h'

struct cli;

/* One subcommand: the table lives in main.c. */
struct cli_cmd {
	const char *name;
	int (*fn)(struct cli *cli, const struct cli_cmd *cmd, int argc,
		char **argv);
	const char *usage; /* arguments after the name */
	const char *summary; /* one line for 'podvisor --help' */
	const char *help; /* the rest of 'podvisor CMD --help' */
};

/* What every command gets: paths, global options, output mode. */
struct cli {
	struct paths paths;
	bool json; /* --json: print reply data as JSON */
	bool tty; /* stdout is a terminal: escape codes allowed */
	int timeout_ms; /* bound on each control request */
	bool timeout_set; /* --timeout given: also bounds runs */
	char *cwd; /* the process's working directory (owned) */
};

/* "podvisor: ..." on stderr. */
void cli_err(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
/* Print a usage error and the command's usage line; returns 2. */
int cli_usage_error(const struct cli_cmd *cmd, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));
/* Print 'podvisor CMD --help' to stdout; returns 0. */
int cli_cmd_help(const struct cli_cmd *cmd);

/*
 * getopt_long for a command: handles --json and --help itself (on --help
 * it prints the help and returns -1 with *ret_exit = 0) and reports bad
 * options (returns -1, *ret_exit = 2).  Otherwise returns the option
 * like getopt_long, and -2 at the end of the options.
 */
int cli_getopt(struct cli *cli, const struct cli_cmd *cmd, int argc,
	char **argv, const char *shortopts, const struct option *longopts,
	int *ret_exit);

/*
 * Connect to control.sock and read the hello; on failure print the
 * problem with its fix and return 3.  *ret_hello (may be NULL) gets
 * the hello message.
 */
int cli_control_open(
	struct cli *cli, struct client **ret_client, struct msg *ret_hello);

/* The human message for a failed connect to path (caller frees). */
char *cli_connect_error(const char *path, int err);

/*
 * One control request on a fresh connection.  Returns 0 with the reply
 * in ret (not an error), 1 after printing the daemon's error (and, with
 * --json, {"error":data} on stdout), 3 when the daemon cannot be reached.
 */
int cli_control_request(struct cli *cli, const char *method,
	struct json_object *params, struct msg *ret);

/* Print an error reply: "podvisor: what: message" plus a fix. */
void cli_print_error_reply(
	struct cli *cli, const char *what, const struct msg *reply);

/* obj as one line of JSON on stdout. */
void cli_print_json(struct json_object *obj);

/* The subcommands. */
int cmd_ping(struct cli *, const struct cli_cmd *, int, char **);
int cmd_spawn(struct cli *, const struct cli_cmd *, int, char **);
int cmd_ls(struct cli *, const struct cli_cmd *, int, char **);
int cmd_inspect(struct cli *, const struct cli_cmd *, int, char **);
int cmd_send(struct cli *, const struct cli_cmd *, int, char **);
int cmd_stop(struct cli *, const struct cli_cmd *, int, char **);
int cmd_restore(struct cli *, const struct cli_cmd *, int, char **);
int cmd_peer(struct cli *, const struct cli_cmd *, int, char **);
int cmd_forget(struct cli *, const struct cli_cmd *, int, char **);
int cmd_diff(struct cli *, const struct cli_cmd *, int, char **);
int cmd_merge(struct cli *, const struct cli_cmd *, int, char **);
/* "git version X.Y.Z" from git --version, or NULL (caller frees). */
char *cmd_worktree_git_version(void);
/* status/inspect's "worktree" as text lines; false if it is not one. */
bool cmd_worktree_status(struct json_object *w);
int cmd_budget(struct cli *, const struct cli_cmd *, int, char **);
int cmd_attach(struct cli *, const struct cli_cmd *, int, char **);
int cmd_run(struct cli *, const struct cli_cmd *, int, char **);
int cmd_logs(struct cli *, const struct cli_cmd *, int, char **);
int cmd_daemon(struct cli *, const struct cli_cmd *, int, char **);
int cmd_doctor(struct cli *, const struct cli_cmd *, int, char **);
int cmd_demo(struct cli *, const struct cli_cmd *, int, char **);
int cmd_compact(struct cli *, const struct cli_cmd *, int, char **);
int cmd_approvals(struct cli *, const struct cli_cmd *, int, char **);
int cmd_approve(struct cli *, const struct cli_cmd *, int, char **);
int cmd_deny(struct cli *, const struct cli_cmd *, int, char **);
int cmd_policy(struct cli *, const struct cli_cmd *, int, char **);
int cmd_acp(struct cli *, const struct cli_cmd *, int, char **);

/*
 * Make sure podvisord answers on control.sock: if not, start it in the
 * background (stdio to <runtime>/podvisord.log) and wait for it, at most
 * 5 s.  *ret_started says whether we started it.  Returns an exit code.
 */
/* spawn --memory ('Y') / --pids ('P') / --cpu-weight ('Q') into limits. */
int cli_limits_opt(
	struct json_object **limits, int opt, const char *arg, char **reterr);
/* doctor: report the cgroups of podvisord's hello (NULL: probe here). */
void cli_limits_doctor(struct json_object *hello_cgroups,
	void (*line)(void *arg, int level, const char *fix, const char *text),
	void *arg);

int cli_daemon_ensure(struct cli *cli, bool *ret_started, bool quiet);

#endif
