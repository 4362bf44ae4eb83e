/* SPDX-License-Identifier: ISC */
#include <errno.h>
#include <getopt.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "config.h"
#include "cli/cli.h"
#include "common/log.h"
#include "common/xmalloc.h"

static const char main_json_help[] =
	"  --json     print the reply data as one line of JSON\n";

/* The command table, in the order 'podvisor --help' lists it. */
static const struct cli_cmd main_cmds[] = {
	{ "daemon", cmd_daemon, "[--foreground]",
		"Start podvisord (in the background unless --foreground).",
		"  --foreground  exec podvisord in this terminal (logs on "
		"stderr)\n\n"
		"Without --foreground the daemon is started detached with its "
		"output in\n<runtime>/podvisord.log, and the command returns "
		"once control.sock\nanswers (at most 5 s). If the daemon "
		"already runs, nothing happens.\n" },
	{ "ping", cmd_ping, "[--json]", "Check that podvisord answers.", NULL },
	{ "spawn", cmd_spawn,
		"NAME [--cwd DIR] [--scope SPEC]... [--model M] "
		"[--instruction TEXT] [--task TEXT] [--restart on-failure] "
		"[--approval POLICY] [--allow RULE]... [--approval-timeout S] "
		"[--network on|loopback|off] [--mcp NAME[,NAME]] "
		"[--worktree [--base REF] [--branch B]] [--budget-tokens N]"
		" [--memory SIZE] [--pids N] [--cpu-weight W] [--json]",
		"Start a new pod.",
		"  --cwd DIR           the pod's working directory (default: "
		"here)\n"
		"  --scope SPEC        write:PATH | read:PATH[:flat] | "
		"deny-write:PATH |\n"
		"                      deny-read:PATH; repeatable (default: "
		"write:DIR)\n"
		"  --model M           PROVIDER/MODEL, an alias, or a bare "
		"model\n"
		"  --instruction TEXT  extra system instruction\n"
		"  --task TEXT         first task, run at once\n"
		"  --restart POLICY    never (default) | on-failure\n"
		"  --approval POLICY   never | writes | bash | always: which "
		"tool calls\n"
		"                      wait for 'podvisor approve' (default: "
		"config)\n"
		"  --allow RULE        bash:PREFIX | path:GLOB | tool:GLOB, "
		"passes\n"
		"                      without asking; repeatable\n"
		"  --approval-timeout S  deny a request after S seconds\n"
		"  --network POLICY    on | loopback | off: what the pod's "
		"tools reach\n"
		"                      (default: config [defaults] network, "
		"else on)\n"
		"  --mcp NAME[,NAME]   the MCP servers ([mcp.NAME] of "
		"config.ini) the pod\n"
		"                      gets; repeatable; --mcp '' for none "
		"(default:\n"
		"                      [defaults] mcp)\n"
		"  --worktree          run the pod in a new git worktree of "
		"the repository\n"
		"                      holding --cwd, on its own branch: its "
		"cwd and write\n"
		"                      scope (docs/worktrees.md)\n"
		"  --base REF          the worktree's starting commit "
		"(default: HEAD, which\n"
		"                      must have no uncommitted changes)\n"
		"  --branch B          the worktree's new branch (default: "
		"pod/NAME)\n"
		"  --budget-tokens N   the tokens (input + output) the pod and "
		"its children\n"
		"                      may spend; a child's comes out of its "
		"parent's\n"
		"                      (default: config [defaults] "
		"budget_tokens, else none)\n"
		"  --memory SIZE       memory.max of the pod's cgroup (512M, "
		"2G; no swap\n"
		"                      unless [defaults] memory_swap)\n"
		"  --pids N            pids.max: processes and threads of the "
		"pod\n"
		"  --cpu-weight W      cpu.weight, 1-10000 (default 100)\n"
		"                      (limits need a delegated cgroup v2 "
		"subtree:\n"
		"                      see 'podvisor doctor')\n" },
	{ "ls", cmd_ls, "[--json]",
		"List pods: name, status, parent, model, cwd, write scope.",
		NULL },
	{ "inspect", cmd_inspect, "NAME [--json]",
		"Show everything about "
		"a pod.",
		NULL },
	{ "status", cmd_inspect, "NAME [--json]",
		"The same as inspect: a pod's status and everything about it.",
		NULL },
	{ "attach", cmd_attach, "NAME [--no-input]",
		"Watch and steer a pod interactively.",
		"Streams the pod's text, tool calls and status. Each line typed "
		"is sent as\na 'run' (a new turn). Ctrl-C once cancels the "
		"running turn, twice within\n2 s detaches; the pod keeps "
		"running. At the end of standard input the\ncommand waits "
		"for a running turn to end, then detaches.\n"
		"  --no-input  ignore standard input; stream until Ctrl-C "
		"twice\n" },
	{ "run", cmd_run, "NAME TEXT [--json]",
		"Run one turn with TEXT and stream it until it ends.",
		"Waits for the pod to be idle first. Exit status: 0 finished, "
		"1 error,\ncancelled, paused or limit reached (the reason is "
		"printed), 2 usage.\n"
		"  --json  print every pod event as a line of JSON\n" },
	{ "send", cmd_send, "NAME TEXT [--json]",
		"Queue a message for a pod (delivered when it is live).",
		NULL },
	{ "stop", cmd_stop, "NAME [--recursive] [--json]",
		"Stop a pod (its children keep running unless --recursive).",
		NULL },
	{ "restore", cmd_restore, "NAME [--json]",
		"Start a stopped pod again; its conversation continues.",
		NULL },
	{ "peer", cmd_peer, "A B [--json]",
		"Make two pods peers (they may message each other).", NULL },
	{ "logs", cmd_logs, "NAME [--follow]",
		"Print a pod's session log, human readable.",
		"  --follow, -f  keep printing new entries (and new segments) "
		"until Ctrl-C\n" },
	{ "compact", cmd_compact, "NAME [INSTRUCTION] [--json]",
		"Compact a pod's context now (summary + new log segment).",
		"Waits for the pod to be idle, asks it to summarise the older "
		"part of its\nhistory (INSTRUCTION is added to the summary "
		"prompt) and waits for the\nresult. Exit status: 0 compacted, "
		"1 failed (the pod keeps its old segment).\n" },
	{ "budget", cmd_budget, "POD [+N|N] [--json]",
		"Show a pod's token usage and budget, or give it more.",
		"  +N  N more tokens; N  the budget in all (lower takes back "
		"what is unspent)\n\n"
		"A child's budget comes out of the budget of the pod that "
		"spawned it, and\nwhat it does not spend goes back when it "
		"ends. A run that would go\npast the budget stops with "
		"budget_exhausted; the pod stays live and goes\non once it "
		"has more (docs/budgets.md).\n" },
	{ "approvals", cmd_approvals, "[POD] [--json]",
		"List pending approval requests (of every live pod, or one).",
		"One line per request: pod, id, tool, age, arguments. Answer "
		"with\n'podvisor approve POD ID' or 'podvisor deny POD ID "
		"[REASON]'.\n" },
	{ "approve", cmd_approve, "POD ID [--always] [--reason TEXT] [--json]",
		"Allow a pending tool call of a pod.",
		"  --always       also allow such calls for the rest of the "
		"pod's life\n"
		"                 (the same bash command, file or tool)\n"
		"  --reason TEXT  a note kept with the decision\n" },
	{ "deny", cmd_deny, "POD ID [REASON] [--json]",
		"Refuse a pending tool call; REASON reaches the model.", NULL },
	{ "policy", cmd_policy,
		"POD [LEVEL] [--allow RULE]... [--no-allow] "
		"[--approval-timeout S] [--ask WHO] [--json]",
		"Show or change a pod's approval policy, live and for good.",
		"LEVEL is never, writes, bash or always (docs/approvals.md). "
		"Options change\nonly what they name; --allow replaces the "
		"allow rules, --no-allow drops\nthem. A child's policy must "
		"stay at least as strict as its parent's, and a\npod's no "
		"looser than its children's. Every client attached to the "
		"pod\nsees the change as an approval_policy event.\n"
		"  --allow RULE          bash:PREFIX, path:GLOB or tool:GLOB "
		"(repeat)\n"
		"  --approval-timeout S  deny requests older than S seconds "
		"(0 = never)\n"
		"  --ask WHO             auto, clients or parent\n" },
	{ "acp", cmd_acp, "[--pod NAME] [--model M]",
		"Serve the Agent Client Protocol on stdin/stdout (editors).",
		"An ACP agent for editors (Zed, Neovim, Emacs): JSON-RPC on "
		"stdin/stdout,\ndiagnostics on stderr. Each ACP session is a "
		"pod; its sessionId is the\npod's name, so session/load "
		"works after the editor, the worker or\npodvisord restarted. "
		"It needs a running podvisord and starts none.\n"
		"  --pod NAME  session/new uses this pod (spawned once, then "
		"restored)\n"
		"  --model M   the model of the pods session/new spawns\n" },
	{ "forget", cmd_forget, "NAME [--force] [--delete-branch] [--json]",
		"Delete a stopped pod's state and session logs.",
		"A pod with a git worktree: the worktree is removed first "
		"(git worktree\nremove), its branch kept.\n"
		"  --force          remove the worktree even with uncommitted "
		"changes\n"
		"  --delete-branch  delete the pod's branch too (git branch "
		"-D)\n" },
	{ "diff", cmd_diff, "NAME [-- GIT-DIFF-OPTION...]",
		"Show a worktree pod's changes against its base.",
		"Committed and uncommitted, new files included (git diff "
		"BASE of what\n'podvisor merge' would commit). Options after "
		"'--' go to git diff:\n'podvisor diff NAME -- --stat'. "
		"Nothing in either repository changes.\n" },
	{ "merge", cmd_merge, "NAME [--squash] [--json]",
		"Merge a worktree pod's work into its repository's branch.",
		"The pod's uncommitted changes are committed on its branch "
		"first. Refused,\nwith both sides left as they were, when "
		"the merge would conflict (checked\nwith git merge-tree), "
		"when the target has uncommitted changes, or while\nthe pod "
		"is in a turn.\n"
		"  --squash  one commit on the target instead of a merge\n" },
	{ "doctor", cmd_doctor, "",
		"Check the installation; one line per "
		"check.",
		NULL },
	{ "demo", cmd_demo, "[--keep]",
		"Show what podvisor does, end to end (no API key needed).",
		"Starts the daemon if needed, runs a pod that writes files, "
		"delegates a\nsub-directory to a child pod, shows a write "
		"conflict, stops and restores\nthe pod, then cleans up. "
		"Without an API key or config the daemon uses\nthe bundled "
		"fake model.\n"
		"  --keep  keep the demo workspace and pods\n" },
};

#define MAIN_NCMDS (sizeof(main_cmds) / sizeof(main_cmds[0]))

static void
main_usage(FILE *f)
{
	size_t i;

	fputs("usage: podvisor [--json] [--timeout S] COMMAND [ARGS]\n\n"
	      "Run and steer long-lived LLM agent pods.\n\ncommands:\n",
		f);
	for (i = 0; i < MAIN_NCMDS; i++)
		fprintf(f, "  %-8s %s\n", main_cmds[i].name,
			main_cmds[i].summary);
	fputs("\noptions:\n", f);
	fputs(main_json_help, f);
	fputs("  --timeout S  bound on each daemon request, seconds "
	      "(default 30)\n"
	      "  --help     this text ('podvisor COMMAND --help' for one "
	      "command)\n"
	      "  --version  print the version\n\n"
	      "exit status:\n"
	      "  0  ok\n"
	      "  1  failure reported by the daemon or the pod\n"
	      "  2  usage error\n"
	      "  3  cannot reach the daemon\n\n"
	      "environment: PODVISOR_RUNTIME_DIR, PODVISOR_STATE_DIR, "
	      "PODVISOR_CONFIG\n",
		f);
}

int
main(int argc, char **argv)
{
	static const struct option opts[] = {
		{ "json", no_argument, NULL, 'j' },
		{ "help", no_argument, NULL, 'h' },
		{ "version", no_argument, NULL, 'V' },
		{ "timeout", required_argument, NULL, 't' },
		{ NULL, 0, NULL, 0 },
	};
	struct cli cli;
	char *end, *cwd;
	size_t i;
	long secs;
	int c, r;

	signal(SIGPIPE, SIG_IGN);
	log_init("podvisor");
	memset(&cli, 0, sizeof(cli));
	cli.tty = isatty(STDOUT_FILENO) == 1;
	cli.timeout_ms = 30000;
	while ((c = getopt_long(argc, argv, "+:hjV", opts, NULL)) != -1) {
		switch (c) {
		case 'j':
			cli.json = true;
			break;
		case 'h':
			main_usage(stdout);
			return CLI_EXIT_OK;
		case 'V':
			printf("podvisor %s\n", PODVISOR_VERSION);
			return CLI_EXIT_OK;
		case 't':
			errno = 0;
			secs = strtol(optarg, &end, 10);
			if (errno != 0 || *end != '\0' || secs <= 0 ||
				secs > 86400)
				return cli_usage_error(NULL,
					"--timeout needs seconds (1-86400), "
					"not '%s'",
					optarg);
			cli.timeout_ms = (int)secs * 1000;
			cli.timeout_set = true;
			break;
		case ':':
			return cli_usage_error(NULL, "option %s needs a value",
				argv[optind - 1]);
		default:
			return cli_usage_error(
				NULL, "unknown option %s", argv[optind - 1]);
		}
	}
	if (optind >= argc) {
		main_usage(stderr);
		return CLI_EXIT_USAGE;
	}
	for (i = 0; i < MAIN_NCMDS; i++)
		if (strcmp(argv[optind], main_cmds[i].name) == 0)
			break;
	if (i == MAIN_NCMDS)
		return cli_usage_error(
			NULL, "unknown command '%s'", argv[optind]);
	r = paths_init(&cli.paths);
	if (r < 0) {
		cli_err("cannot find the podvisor directories: %s (set HOME "
			"or PODVISOR_RUNTIME_DIR and PODVISOR_STATE_DIR)",
			strerror(-r));
		return CLI_EXIT_FAIL;
	}
	cwd = getcwd(NULL, 0);
	cli.cwd = cwd != NULL ? cwd : xstrdup("/");
	argv += optind;
	argc -= optind;
	optind = 0;
	r = main_cmds[i].fn(&cli, &main_cmds[i], argc, argv);
	fflush(stdout);
	paths_free(&cli.paths);
	free(cli.cwd);
	return r;
}
