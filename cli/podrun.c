/* SPDX-License-Identifier: ISC */
#include "cli/podrun.h"

#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <json-c/json.h>

#include "cli/cli.h"
#include "cli/client.h"
#include "cli/render.h"
#include "common/clock.h"
#include "common/xmalloc.h"
#include "proto/msg.h"

volatile sig_atomic_t podrun_sigints;
static int podrun_sigpipe[2] = { -1, -1 };

static void
podrun_sigint_cb(int sig)
{
	int saved = errno;

	(void)sig;
	podrun_sigints++;
	if (podrun_sigpipe[1] >= 0 && write(podrun_sigpipe[1], "", 1) < 0)
		(void)0; /* full: a wake-up is pending anyway */
	errno = saved;
}

/* Catch SIGINT; waits wake through the self-pipe. */
void
podrun_sigint_install(void)
{
	struct sigaction sa;

	if (podrun_sigpipe[0] < 0 &&
		pipe2(podrun_sigpipe, O_CLOEXEC | O_NONBLOCK) < 0)
		podrun_sigpipe[0] = podrun_sigpipe[1] = -1;
	memset(&sa, 0, sizeof(sa));
	sa.sa_handler = podrun_sigint_cb;
	sigemptyset(&sa.sa_mask);
	sa.sa_flags = 0;
	sigaction(SIGINT, &sa, NULL);
}

/* The self-pipe's read end, or -1. */
int
podrun_sigint_fd(void)
{
	return podrun_sigpipe[0];
}

/* Read everything the handler wrote. */
void
podrun_sigint_drain(void)
{
	char buf[64];

	if (podrun_sigpipe[0] < 0)
		return;
	while (read(podrun_sigpipe[0], buf, sizeof(buf)) > 0)
		;
}

/* Deadline from a timeout (-1: none). */
int64_t
podrun_deadline(int timeout_ms)
{
	return timeout_ms < 0 ? -1 : clock_mono_ms() + timeout_ms;
}

static int
podrun_left(int64_t deadline)
{
	int64_t left;

	if (deadline < 0)
		return -1;
	left = deadline - clock_mono_ms();
	return left > 0 ? (int)(left > 1000000 ? 1000000 : left) : 0;
}

/* Why the pod socket did not answer: ask the daemon. */
static int
podrun_explain(struct cli *cli, const char *name, const char *sock, int err)
{
	struct json_object *params = json_object_new_object();
	struct msg reply;
	const char *status;
	int r;

	json_object_object_add(params, "name", json_object_new_string(name));
	r = cli_control_request(cli, "inspect", params, &reply);
	if (r != 0)
		return r;
	status = msg_json_str(reply.params, "status");
	if (status != NULL && strcmp(status, "live") != 0 &&
		strcmp(status, "starting") != 0)
		cli_err("pod %s is %s, not live (start it again with "
			"'podvisor restore %s')",
			name, status, name);
	else
		cli_err("cannot connect to %s: %s (pod %s is %s; try again, "
			"or see 'podvisor logs %s')",
			sock, strerror(err), name,
			status != NULL ? status : "?", name);
	msg_clear(&reply);
	return CLI_EXIT_FAIL;
}

/* Attach to the pod and read the snapshot. */
int
podrun_open(struct cli *cli, const char *name, int timeout_ms,
	struct podrun **ret_pr)
{
	struct podrun *pr;
	struct client *c;
	char *sock, *err = NULL;
	const char *status;
	int r;

	sock = paths_pod_sock(&cli->paths, name);
	r = client_connect(sock, &c);
	if (r < 0) {
		r = podrun_explain(cli, name, sock, -r);
		free(sock);
		return r;
	}
	pr = xcalloc(1, sizeof(*pr));
	pr->cli = cli;
	pr->name = xstrdup(name);
	pr->client = c;
	r = client_expect(c, "snapshot", timeout_ms, &pr->snapshot, &err);
	if (r < 0 || strcmp(pr->snapshot.name, "snapshot") != 0) {
		cli_err("no snapshot from pod %s on %s: %s", name, sock,
			err != NULL     ? err
				: r < 0 ? strerror(-r)
				: msg_json_str(pr->snapshot.params,
					  "message") != NULL
				? msg_json_str(pr->snapshot.params, "message")
				: "error");
		free(err);
		free(sock);
		podrun_free(pr);
		return CLI_EXIT_FAIL;
	}
	free(sock);
	status = msg_json_str(pr->snapshot.params, "status");
	snprintf(pr->status, sizeof(pr->status), "%s",
		status != NULL ? status : "idle");
	*ret_pr = pr;
	return CLI_EXIT_OK;
}

/* Detach and free (NULL-safe). */
void
podrun_free(struct podrun *pr)
{
	if (pr == NULL)
		return;
	client_free(pr->client);
	if (pr->snapshot.root != NULL)
		msg_clear(&pr->snapshot);
	free(pr->name);
	free(pr);
}

/* Read and handle one message. */
int
podrun_pump(struct podrun *pr, int64_t deadline, struct msg *ret)
{
	struct msg m;
	const char *s;
	char *err = NULL;
	int r;

	client_set_wake_fd(pr->client, podrun_sigpipe[0]);
	r = client_read(pr->client, podrun_left(deadline), &m, &err);
	if (r == -EBADMSG) {
		cli_err("pod %s sent a bad message: %s", pr->name,
			err != NULL ? err : "?");
		free(err);
		return r;
	}
	if (r < 0)
		return r;
	if (m.kind == MSG_EVENT && strcmp(m.name, "status") == 0 &&
		(s = msg_json_str(m.params, "status")) != NULL)
		snprintf(pr->status, sizeof(pr->status), "%s", s);
	/* While quiet (someone else's turn) events are read, not shown. */
	if (pr->json && !pr->quiet)
		cli_print_json(m.root);
	else if (pr->render != NULL && !pr->quiet && m.kind == MSG_EVENT &&
		m.id == NULL)
		render_event(pr->render, m.name, m.params);
	if (pr->render != NULL)
		fflush(pr->render->out);
	if (pr->cb != NULL)
		pr->cb(pr->cb_arg, &m);
	if (ret != NULL)
		*ret = m;
	else
		msg_clear(&m);
	return 0;
}

/*
 * Wait for the pod to be idle or paused.  The events of the turn that is
 * running belong to someone else's run: they are read but not shown, so
 * what 'run' prints is its own turn only.
 */
int
podrun_wait_idle(struct podrun *pr, int64_t deadline)
{
	int r = 0;

	pr->quiet = true;
	while (strcmp(pr->status, "running") == 0) {
		r = podrun_pump(pr, deadline, NULL);
		if (r < 0)
			break;
	}
	pr->quiet = false;
	return r < 0 ? r : 0;
}

static struct json_object *
podrun_text_input(const char *text)
{
	struct json_object *params, *input, *seg;

	seg = json_object_new_object();
	json_object_object_add(seg, "kind", json_object_new_string("text"));
	json_object_object_add(seg, "content", json_object_new_string(text));
	input = json_object_new_array();
	json_object_array_add(input, seg);
	params = json_object_new_object();
	json_object_object_add(params, "input", input);
	return params;
}

static int
podrun_wait_error(struct podrun *pr, int r, const char *what)
{
	if (r == -EPIPE)
		cli_err("pod %s closed the connection %s (stopped or crashed? "
			"see 'podvisor inspect %s')",
			pr->name, what, pr->name);
	else if (r == -ETIMEDOUT)
		cli_err("pod %s: timed out %s", pr->name, what);
	else if (r == -EINTR)
		cli_err("interrupted %s", what);
	else if (r != -EBADMSG)
		cli_err("pod %s: %s %s", pr->name, strerror(-r), what);
	return CLI_EXIT_FAIL;
}

/* Run text as one turn and stream it until its run_end. */
int
podrun_turn(struct podrun *pr, const char *text, int64_t deadline,
	char **ret_result, char **ret_error)
{
	struct json_object *err;
	struct msg m;
	const char *code, *result, *msg;
	int64_t id = 0;
	int r, tries = 0, seen_sigints = podrun_sigints;
	bool accepted = false, cancel = false;

	for (;;) {
		if (id == 0) {
			r = podrun_wait_idle(pr, deadline);
			if (r < 0)
				return podrun_wait_error(pr, r,
					"waiting for the pod to be idle");
			id = client_send(
				pr->client, "run", podrun_text_input(text));
			if (id < 0)
				return podrun_wait_error(
					pr, (int)id, "sending the run");
		}
		r = podrun_pump(pr, deadline, &m);
		if (r == -EINTR) {
			podrun_sigint_drain();
			if (podrun_sigints == seen_sigints)
				continue;
			seen_sigints = podrun_sigints;
			if (cancel) {
				/* A second Ctrl-C: stop waiting. */
				cli_err("interrupted; the turn on %s may still "
					"be ending",
					pr->name);
				return CLI_EXIT_FAIL;
			}
			cancel = true;
			if (accepted)
				client_send(pr->client, "cancel", NULL);
			continue;
		}
		if (r < 0)
			return podrun_wait_error(pr, r, "during the run");
		if (client_msg_has_id(&m, id)) {
			if (strcmp(m.name, "error") != 0) {
				/* A Ctrl-C that came before the turn began. */
				if (cancel && !accepted)
					client_send(pr->client, "cancel", NULL);
				accepted = true;
				msg_clear(&m);
				continue;
			}
			code = msg_json_str(m.params, "code");
			if (code != NULL &&
				strcmp(code, "already_running") == 0 &&
				++tries < 20) {
				/* Someone else's turn won the race: wait. */
				snprintf(pr->status, sizeof(pr->status),
					"running");
				id = 0;
				msg_clear(&m);
				continue;
			}
			cli_print_error_reply(pr->cli, "run", &m);
			msg_clear(&m);
			return CLI_EXIT_FAIL;
		}
		if (accepted && m.kind == MSG_EVENT && m.id == NULL &&
			strcmp(m.name, "run_end") == 0) {
			result = msg_json_str(m.params, "result");
			msg = NULL;
			if (json_object_object_get_ex(m.params, "error", &err))
				msg = msg_json_str(err, "message");
			*ret_result =
				xstrdup(result != NULL ? result : "error");
			*ret_error = msg != NULL ? xstrdup(msg) : NULL;
			msg_clear(&m);
			return 0;
		}
		msg_clear(&m);
	}
}
