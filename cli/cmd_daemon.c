/* SPDX-License-Identifier: ISC */
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include <json-c/json.h>

#include "cli/cli.h"
#include "cli/client.h"
#include "common/clock.h"
#include "common/sock.h"
#include "common/xmalloc.h"
#include "proto/msg.h"

#define CMD_DAEMON_WAIT_MS 5000

/* Connect and ping once: 0 if the daemon answers, else -errno. */
static int
cmd_daemon_ping(struct cli *cli, int timeout_ms, int64_t *ret_pid)
{
	struct client *c;
	struct msg hello, reply;
	struct json_object *v;
	char *err = NULL;
	int r;

	r = client_connect(cli->paths.control_sock, &c);
	if (r < 0)
		return r;
	r = client_expect(c, "hello", timeout_ms, &hello, &err);
	free(err);
	err = NULL;
	if (r == 0) {
		if (ret_pid != NULL &&
			json_object_object_get_ex(hello.params, "pid", &v))
			*ret_pid = json_object_get_int64(v);
		msg_clear(&hello);
		r = client_call(c, "ping", NULL, timeout_ms, &reply, &err);
		free(err);
		if (r == 0) {
			if (strcmp(reply.name, "pong") != 0)
				r = -EPROTO;
			msg_clear(&reply);
		}
	}
	client_free(c);
	return r;
}

/* The podvisord binary: $PODVISORD, next to us, or libexec. */
static char *
cmd_daemon_binary(void)
{
	return paths_sibling_binary("podvisord", "PODVISORD");
}

/* Fork, setsid and exec podvisord with stdio on the log file. */
static int
cmd_daemon_spawn(
	struct cli *cli, const char *bin, const char *log, pid_t *ret_pid)
{
	pid_t pid;
	int fd, null;

	fd = open(log, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0600);
	if (fd < 0)
		return -errno;
	pid = fork();
	if (pid < 0) {
		close(fd);
		return -errno;
	}
	if (pid == 0) {
		null = open("/dev/null", O_RDONLY);
		if (null >= 0)
			dup2(null, STDIN_FILENO);
		dup2(fd, STDOUT_FILENO);
		dup2(fd, STDERR_FILENO);
		setsid();
		/* Not ours to pass on: systemd's fds and notify socket. */
		unsetenv("LISTEN_FDS");
		unsetenv("LISTEN_PID");
		unsetenv("LISTEN_FDNAMES");
		unsetenv("NOTIFY_SOCKET");
		if (chdir("/") < 0)
			_exit(127);
		execl(bin, "podvisord", (char *)NULL);
		dprintf(STDERR_FILENO, "podvisor: cannot run %s: %s\n", bin,
			strerror(errno));
		_exit(127);
	}
	close(fd);
	*ret_pid = pid;
	return 0;
}

/* Make sure the daemon answers; start it if it does not. */
int
cli_daemon_ensure(struct cli *cli, bool *ret_started, bool quiet)
{
	int64_t deadline, pid_seen = 0;
	char *bin, *log;
	pid_t pid = -1;
	int r, status, backoff = 10;

	*ret_started = false;
	r = cmd_daemon_ping(cli, 2000, &pid_seen);
	if (r == 0) {
		if (!quiet)
			printf("podvisord is already running (pid %lld)\n",
				(long long)pid_seen);
		return CLI_EXIT_OK;
	}
	if (r != -ENOENT && r != -ECONNREFUSED) {
		cli_err("podvisord on %s does not answer: %s (see 'podvisor "
			"doctor')",
			cli->paths.control_sock, strerror(-r));
		return CLI_EXIT_UNREACHABLE;
	}
	bin = cmd_daemon_binary();
	if (bin == NULL || access(bin, X_OK) != 0) {
		cli_err("cannot find podvisord%s%s (install it next to "
			"podvisor or set PODVISORD)",
			bin != NULL ? " at " : "", bin != NULL ? bin : "");
		free(bin);
		return CLI_EXIT_UNREACHABLE;
	}
	r = paths_ensure_dirs(&cli->paths);
	if (r < 0) {
		cli_err("cannot create %s: %s", cli->paths.runtime,
			strerror(-r));
		free(bin);
		return CLI_EXIT_UNREACHABLE;
	}
	log = xstrfmt("%s/podvisord.log", cli->paths.runtime);
	r = cmd_daemon_spawn(cli, bin, log, &pid);
	if (r < 0) {
		cli_err("cannot start %s: %s", bin, strerror(-r));
		free(bin);
		free(log);
		return CLI_EXIT_UNREACHABLE;
	}
	/* Bounded: connect with backoff while the socket is not there. */
	deadline = clock_mono_ms() + CMD_DAEMON_WAIT_MS;
	for (;;) {
		r = cmd_daemon_ping(cli, 2000, NULL);
		if (r == 0)
			break;
		if (waitpid(pid, &status, WNOHANG) == pid) {
			cli_err("podvisord exited at start-up (%s %d); see %s",
				WIFEXITED(status) ? "status" : "signal",
				WIFEXITED(status) ? WEXITSTATUS(status)
						  : WTERMSIG(status),
				log);
			free(bin);
			free(log);
			return CLI_EXIT_UNREACHABLE;
		}
		if ((r != -ENOENT && r != -ECONNREFUSED) ||
			clock_mono_ms() >= deadline) {
			cli_err("podvisord (pid %d) did not answer on %s within "
				"%d s: %s; see %s",
				(int)pid, cli->paths.control_sock,
				CMD_DAEMON_WAIT_MS / 1000, strerror(-r), log);
			free(bin);
			free(log);
			return CLI_EXIT_UNREACHABLE;
		}
		poll(NULL, 0, backoff);
		backoff = backoff < 200 ? backoff * 2 : 200;
	}
	if (!quiet)
		printf("started podvisord (pid %d), log in %s\n", (int)pid,
			log);
	*ret_started = true;
	free(bin);
	free(log);
	return CLI_EXIT_OK;
}

/* podvisor daemon [--foreground] */
int
cmd_daemon(struct cli *cli, const struct cli_cmd *cmd, int argc, char **argv)
{
	static const struct option opts[] = {
		{ "foreground", no_argument, NULL, 'f' },
		{ "help", no_argument, NULL, CLI_OPT_HELP },
		{ NULL, 0, NULL, 0 },
	};
	bool foreground = false, started;
	char *bin;
	int c, ex = 0;

	while ((c = cli_getopt(cli, cmd, argc, argv, "f", opts, &ex)) != -2) {
		if (c == -1)
			return ex;
		if (c == 'f')
			foreground = true;
	}
	if (argc - optind != 0)
		return cli_usage_error(
			cmd, "unexpected argument '%s'", argv[optind]);
	if (!foreground)
		return cli_daemon_ensure(cli, &started, false);
	bin = cmd_daemon_binary();
	if (bin == NULL) {
		cli_err("cannot find podvisord (install it next to podvisor "
			"or set PODVISORD)");
		return CLI_EXIT_UNREACHABLE;
	}
	fflush(stdout);
	execl(bin, "podvisord", (char *)NULL);
	cli_err("cannot run %s: %s (set PODVISORD to its path)", bin,
		strerror(errno));
	free(bin);
	return CLI_EXIT_UNREACHABLE;
}
