/* SPDX-License-Identifier: ISC */
#include <errno.h>
#include <getopt.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <json-c/json.h>

#include "cli/cli.h"
#include "cli/client.h"
#include "cli/podrun.h"
#include "cli/render.h"
#include "common/clock.h"
#include "common/podname.h"
#include "common/xmalloc.h"
#include "proto/msg.h"

/* Entries of the snapshot shown on attach. */
#define CMD_ATTACH_HISTORY 20
#define CMD_ATTACH_DETACH_MS 2000

struct cmd_attach_state {
	struct podrun *pr;
	struct render render;
	int64_t run_id; /* our last run request awaiting its reply */
	char *run_text; /* its text, to resend as a notification */
	int our_turns; /* our runs accepted and not yet ended */
	bool stdin_done;
	bool shutdown_seen;
	struct json_object
		*pending; /* approval ids not decided, oldest first */
	char line[65536];
	size_t line_len;
};

/* A pending approval request: show it and remember its id. */
static void
cmd_attach_approval(struct cmd_attach_state *st, struct json_object *data)
{
	const char *id = msg_json_str(data, "id");

	if (id == NULL)
		return;
	if (!json_object_is_type(st->pending, json_type_array))
		st->pending = json_object_new_array();
	json_object_array_add(st->pending, json_object_new_string(id));
	if (st->pr->render == NULL)
		return;
	render_approval(&st->render, data);
	render_note(&st->render,
		"approve %s? y = allow once, a = allow always, n [REASON] = "
		"deny",
		id);
}

/* Forget a decided request. */
static void
cmd_attach_decided(struct cmd_attach_state *st, const char *id)
{
	size_t i;

	for (i = 0; id != NULL && st->pending != NULL &&
		i < json_object_array_length(st->pending);
		i++)
		if (strcmp(json_object_get_string(
				   json_object_array_get_idx(st->pending, i)),
			    id) == 0) {
			json_object_array_del_idx(st->pending, i, 1);
			return;
		}
}

/*
 * y / a / n [REASON] while a request is pending answers the oldest one;
 * returns false for any other line (a run).
 */
static bool
cmd_attach_answer(struct cmd_attach_state *st, const char *text)
{
	struct json_object *p;
	const char *decision;

	if (st->pending == NULL || json_object_array_length(st->pending) == 0)
		return false;
	if (strcmp(text, "y") == 0)
		decision = "allow_once";
	else if (strcmp(text, "a") == 0)
		decision = "allow_always";
	else if (strcmp(text, "n") == 0 || strncmp(text, "n ", 2) == 0)
		decision = "deny";
	else
		return false;
	p = json_object_new_object();
	json_object_object_add(p, "id",
		json_object_get(json_object_array_get_idx(st->pending, 0)));
	json_object_object_add(p, "decision", json_object_new_string(decision));
	if (text[0] == 'n' && text[1] == ' ' && text[2] != '\0')
		json_object_object_add(
			p, "reason", json_object_new_string(text + 2));
	client_send(st->pr->client, "approve", p);
	return true;
}

/* Show the greeting and the last entries of the snapshot. */
static void
cmd_attach_history(struct cmd_attach_state *st)
{
	struct json_object *entries = NULL;
	size_t i, n, from;

	render_greeting(&st->render, st->pr->snapshot.params);
	json_object_object_get_ex(st->pr->snapshot.params, "entries", &entries);
	n = entries != NULL && json_object_is_type(entries, json_type_array)
		? json_object_array_length(entries)
		: 0;
	from = n > CMD_ATTACH_HISTORY ? n - CMD_ATTACH_HISTORY : 0;
	if (from > 0)
		render_note(&st->render,
			"%zu earlier entries not shown; see 'podvisor logs %s'",
			from, st->pr->name);
	for (i = from; i < n; i++)
		render_entry(
			&st->render, json_object_array_get_idx(entries, i));
	render_note(&st->render,
		"attached to %s: type a line to run it; Ctrl-C cancels, twice "
		"detaches",
		st->pr->name);
	if (json_object_object_get_ex(
		    st->pr->snapshot.params, "pending_approvals", &entries))
		for (i = 0; i < json_object_array_length(entries); i++)
			cmd_attach_approval(
				st, json_object_array_get_idx(entries, i));
	fflush(stdout);
}

static struct json_object *
cmd_attach_input(const char *text)
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

/* One line typed by the user: a run. */
static void
cmd_attach_line(struct cmd_attach_state *st, const char *text)
{
	if (*text == '\0' || cmd_attach_answer(st, text))
		return;
	if (st->run_id > 0) {
		/* The previous line still waits for its reply: notify. */
		struct json_object *p = json_object_new_object();

		json_object_object_add(
			p, "message", json_object_new_string(text));
		client_send(st->pr->client, "notify", p);
		return;
	}
	st->run_id = client_send(st->pr->client, "run", cmd_attach_input(text));
	free(st->run_text);
	st->run_text = xstrdup(text);
	if (st->run_id < 0) {
		render_note(&st->render, "could not send: %s",
			strerror((int)-st->run_id));
		st->run_id = 0;
	}
}

/* Read what stdin has; run each complete line. */
static void
cmd_attach_stdin(struct cmd_attach_state *st)
{
	ssize_t n;
	char *nl;

	n = read(STDIN_FILENO, st->line + st->line_len,
		sizeof(st->line) - 1 - st->line_len);
	if (n < 0 && (errno == EINTR || errno == EAGAIN))
		return;
	if (n <= 0) {
		st->stdin_done = true;
		if (st->line_len > 0) {
			st->line[st->line_len] = '\0';
			st->line_len = 0;
			cmd_attach_line(st, st->line);
		}
		return;
	}
	st->line_len += (size_t)n;
	st->line[st->line_len] = '\0';
	while ((nl = strchr(st->line, '\n')) != NULL) {
		*nl = '\0';
		cmd_attach_line(st, st->line);
		st->line_len -= (size_t)(nl + 1 - st->line);
		memmove(st->line, nl + 1, st->line_len + 1);
	}
	if (st->line_len == sizeof(st->line) - 1) {
		cmd_attach_line(st, st->line);
		st->line_len = 0;
	}
}

/* A message from the pod: replies to our requests, run ends. */
static void
cmd_attach_msg(struct cmd_attach_state *st, const struct msg *m)
{
	struct json_object *p;
	const char *code;

	if (st->run_id > 0 && client_msg_has_id(m, st->run_id)) {
		st->run_id = 0;
		if (strcmp(m->name, "error") != 0) {
			st->our_turns++;
			return;
		}
		code = msg_json_str(m->params, "code");
		if (code != NULL && strcmp(code, "already_running") == 0) {
			render_note(&st->render,
				"the pod is busy; your line was queued as a "
				"notification");
			p = json_object_new_object();
			json_object_object_add(p, "message",
				json_object_new_string(st->run_text));
			client_send(st->pr->client, "notify", p);
			return;
		}
		render_note(&st->render, "run refused: %s",
			msg_json_str(m->params, "message")
				? msg_json_str(m->params, "message")
				: "error");
		return;
	}
	if (m->id != NULL && strcmp(m->name, "error") == 0) {
		render_note(&st->render, "%s",
			msg_json_str(m->params, "message")
				? msg_json_str(m->params, "message")
				: "error");
		return;
	}
	if (m->id != NULL)
		return;
	if (strcmp(m->name, "run_end") == 0 && st->our_turns > 0)
		st->our_turns--;
	if (strcmp(m->name, "shutdown") == 0)
		st->shutdown_seen = true;
	if (strcmp(m->name, "approval_request") == 0) {
		/* podrun rendered it: only remember it, then prompt. */
		st->pr->render = NULL;
		cmd_attach_approval(st, m->params);
		st->pr->render = &st->render;
		render_note(&st->render,
			"approve %s? y = allow once, a = allow always, n "
			"[REASON] = deny",
			msg_json_str(m->params, "id")
				? msg_json_str(m->params, "id")
				: "?");
	}
	if (strcmp(m->name, "approval_decided") == 0)
		cmd_attach_decided(st, msg_json_str(m->params, "id"));
}

/* Ctrl-C: cancel a running turn; twice within 2 s: detach. */
static bool
cmd_attach_sigint(struct cmd_attach_state *st, int64_t *last)
{
	int64_t now = clock_mono_ms();

	if (*last > 0 && now - *last <= CMD_ATTACH_DETACH_MS)
		return true;
	*last = now;
	if (strcmp(st->pr->status, "running") == 0 ||
		strcmp(st->pr->status, "waiting_approval") == 0) {
		client_send(st->pr->client, "cancel", NULL);
		render_note(&st->render,
			"cancelling the turn (Ctrl-C again within 2 s to "
			"detach)");
	} else {
		render_note(&st->render, "Ctrl-C again within 2 s to detach");
	}
	fflush(stdout);
	return false;
}

/* The attach loop; returns the exit code. */
static int
cmd_attach_loop(struct cmd_attach_state *st, bool no_input)
{
	struct pollfd pfd[3];
	struct msg m;
	int64_t last_sigint = 0;
	int seen = 0, r, n;

	if (no_input)
		st->stdin_done = true;
	for (;;) {
		podrun_sigint_drain();
		if (podrun_sigints != seen) {
			seen = podrun_sigints;
			if (cmd_attach_sigint(st, &last_sigint))
				break;
		}
		if (st->stdin_done && !no_input && st->run_id == 0 &&
			st->our_turns == 0 &&
			strcmp(st->pr->status, "running") != 0 &&
			strcmp(st->pr->status, "waiting_approval") != 0)
			break;
		if (client_has_pending(st->pr->client)) {
			r = podrun_pump(st->pr, clock_mono_ms(), &m);
		} else {
			pfd[0].fd = client_fd(st->pr->client);
			pfd[0].events = POLLIN;
			pfd[1].fd = st->stdin_done ? -1 : STDIN_FILENO;
			pfd[1].events = POLLIN;
			pfd[2].fd = podrun_sigint_fd();
			pfd[2].events = POLLIN;
			n = poll(pfd, 3, -1);
			if (n < 0)
				continue;
			if (pfd[1].revents != 0)
				cmd_attach_stdin(st);
			if (pfd[0].revents == 0)
				continue;
			r = podrun_pump(st->pr, clock_mono_ms(), &m);
		}
		if (r == -ETIMEDOUT || r == -EINTR)
			continue;
		if (r < 0) {
			render_eol(&st->render);
			if (st->shutdown_seen || r == -EPIPE) {
				render_note(&st->render, "pod %s %s",
					st->pr->name,
					st->shutdown_seen ? "stopped"
							  : "went away");
				return st->shutdown_seen ? CLI_EXIT_OK
							 : CLI_EXIT_FAIL;
			}
			return CLI_EXIT_FAIL;
		}
		cmd_attach_msg(st, &m);
		msg_clear(&m);
		fflush(stdout);
	}
	render_note(&st->render, "detached from %s; it keeps running",
		st->pr->name);
	return CLI_EXIT_OK;
}

/* podvisor attach NAME */
int
cmd_attach(struct cli *cli, const struct cli_cmd *cmd, int argc, char **argv)
{
	static const struct option opts[] = {
		{ "no-input", no_argument, NULL, 'n' },
		{ "help", no_argument, NULL, CLI_OPT_HELP },
		{ NULL, 0, NULL, 0 },
	};
	struct cmd_attach_state st;
	bool no_input = false;
	int c, ex = 0, r;

	while ((c = cli_getopt(cli, cmd, argc, argv, "n", opts, &ex)) != -2) {
		if (c == -1)
			return ex;
		if (c == 'n')
			no_input = true;
	}
	if (argc - optind != 1)
		return cli_usage_error(cmd, "expected one NAME");
	if (!podname_valid(argv[optind], NULL))
		return cli_usage_error(cmd, "bad pod name '%s'", argv[optind]);
	memset(&st, 0, sizeof(st));
	r = podrun_open(cli, argv[optind], cli->timeout_ms, &st.pr);
	if (r != 0)
		return r;
	render_init(&st.render, stdout, cli->tty);
	st.pr->render = &st.render;
	/* Before the "attached" line: a Ctrl-C after it must not kill us. */
	podrun_sigint_install();
	cmd_attach_history(&st);
	snprintf(st.render.last_status, sizeof(st.render.last_status), "%s",
		st.pr->status);
	r = cmd_attach_loop(&st, no_input);
	json_object_put(st.pending);
	free(st.run_text);
	podrun_free(st.pr);
	return r;
}

/* podvisor run NAME TEXT */
int
cmd_run(struct cli *cli, const struct cli_cmd *cmd, int argc, char **argv)
{
	static const struct option opts[] = {
		{ "json", no_argument, NULL, CLI_OPT_JSON },
		{ "help", no_argument, NULL, CLI_OPT_HELP },
		{ NULL, 0, NULL, 0 },
	};
	struct render render;
	struct podrun *pr;
	char *result = NULL, *error = NULL;
	int c, ex = 0, r;

	while ((c = cli_getopt(cli, cmd, argc, argv, "", opts, &ex)) != -2)
		if (c == -1)
			return ex;
	if (argc - optind != 2)
		return cli_usage_error(cmd, "expected NAME and TEXT");
	if (!podname_valid(argv[optind], NULL))
		return cli_usage_error(cmd, "bad pod name '%s'", argv[optind]);
	if (argv[optind + 1][0] == '\0')
		return cli_usage_error(cmd, "TEXT is empty");
	r = podrun_open(cli, argv[optind], cli->timeout_ms, &pr);
	if (r != 0)
		return r;
	render_init(&render, stdout, cli->tty);
	render.status = false;
	pr->render = &render;
	pr->json = cli->json;
	podrun_sigint_install();
	r = podrun_turn(pr, argv[optind + 1],
		cli->timeout_set ? podrun_deadline(cli->timeout_ms) : -1,
		&result, &error);
	render_eol(&render);
	fflush(stdout);
	if (r == 0) {
		if (strcmp(result, "finished") != 0) {
			cli_err("run on %s ended: %s%s%s", argv[optind], result,
				error != NULL ? ": " : "",
				error != NULL ? error : "");
			r = CLI_EXIT_FAIL;
		}
	}
	free(result);
	free(error);
	podrun_free(pr);
	return r;
}
