/* SPDX-License-Identifier: ISC */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <getopt.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <sys/stat.h>
#include <unistd.h>

#include <json-c/json.h>

#include "cli/cli.h"
#include "cli/client.h"
#include "cli/podrun.h"
#include "cli/render.h"
#include "common/atomicfile.h"
#include "common/clock.h"
#include "common/xmalloc.h"
#include "proto/msg.h"

/* The whole demo stays under a minute against the fake model. */
#define DEMO_BUDGET_MS 55000
#define DEMO_STEP_MS 20000
#define DEMO_FILE_MAX 2048

/* What the demo saw on the parent's stream. */
struct demo_seen {
	int tool_calls;
	int tool_errors;
	char *last_error; /* summary of the last failed tool */
	char *text; /* assistant text of the last turn */
	const char *child; /* the child's name */
	bool report; /* the child's turn ended and was delivered */
	bool child_failed;
	char *report_text;
	bool run_end_after_report;
};

struct demo {
	struct cli *cli;
	int64_t deadline;
	char *ws;
	char *child_dir;
	char name[32];
	char child[40];
	bool fake; /* the bundled fake model: exact checks */
	char model[128];
	bool keep;
	struct podrun *pr;
	struct demo_seen seen;
	int step;
};

/* One narrative line: " 3. what  text". */
static void demo_say(struct demo *d, const char *what, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));

static void
demo_say(struct demo *d, const char *what, const char *fmt, ...)
{
	va_list ap;

	printf("%2d. %-9s ", ++d->step, what);
	va_start(ap, fmt);
	vprintf(fmt, ap);
	va_end(ap);
	putchar('\n');
	fflush(stdout);
}

/* A failed step: one line on stdout (the narrative) and stderr. */
static int demo_fail(struct demo *d, const char *what, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));

static int
demo_fail(struct demo *d, const char *what, const char *fmt, ...)
{
	va_list ap;
	char *s;

	va_start(ap, fmt);
	if (vasprintf(&s, fmt, ap) < 0)
		s = NULL;
	va_end(ap);
	printf("%2d. %-9s FAILED: %s\n", ++d->step, what, s != NULL ? s : "?");
	fflush(stdout);
	cli_err("demo step '%s' failed: %s", what, s != NULL ? s : "?");
	free(s);
	return CLI_EXIT_FAIL;
}

static int64_t
demo_step_deadline(struct demo *d)
{
	int64_t step = clock_mono_ms() + DEMO_STEP_MS;

	return step < d->deadline ? step : d->deadline;
}

/* A single-line, shortened copy of s; caller frees. */
static char *
demo_short(const char *s, size_t max)
{
	char *out = xstrndup(s != NULL ? s : "", max), *p;

	for (p = out; *p != '\0'; p++)
		if (*p == '\n' || *p == '\r' || *p == '\t' ||
			(unsigned char)*p < 0x20 || *p == 0x7f)
			*p = ' ';
	if (s != NULL && strlen(s) > max) {
		p = xstrfmt("%s...", out);
		free(out);
		out = p;
	}
	return out;
}

static void
demo_seen_reset(struct demo_seen *s)
{
	s->tool_calls = 0;
	s->tool_errors = 0;
	free(s->last_error);
	s->last_error = NULL;
	free(s->text);
	s->text = xstrdup("");
}

/* Watch the parent's events. */
static void
demo_event_cb(void *arg, const struct msg *m)
{
	struct demo_seen *s = arg;
	struct json_object *v = NULL, *item = NULL;
	const char *str, *kind, *from;
	char *next;

	if (m->kind != MSG_EVENT || m->id != NULL)
		return;
	if (strcmp(m->name, "invoke_start") == 0) {
		/* Count only the last invocation: ours, when a turn ends. */
		demo_seen_reset(s);
	} else if (strcmp(m->name, "tool_call_done") == 0) {
		s->tool_calls++;
	} else if (strcmp(m->name, "tool_result") == 0) {
		if (json_object_object_get_ex(m->params, "is_error", &v) &&
			json_object_get_boolean(v)) {
			s->tool_errors++;
			free(s->last_error);
			str = msg_json_str(m->params, "summary");
			if (str == NULL)
				str = msg_json_str(m->params, "output");
			s->last_error = xstrdup(str != NULL ? str : "error");
		}
	} else if (strcmp(m->name, "text_delta") == 0) {
		str = msg_json_str(m->params, "text");
		next = xstrfmt("%s%s", s->text != NULL ? s->text : "",
			str != NULL ? str : "");
		free(s->text);
		s->text = next;
	} else if (strcmp(m->name, "system_item") == 0) {
		json_object_object_get_ex(m->params, "item", &item);
		kind = msg_json_str(item, "kind");
		from = msg_json_str(item, "from");
		if (kind == NULL || from == NULL || s->child == NULL ||
			strcmp(from, s->child) != 0)
			return;
		if (strcmp(kind, "child_turn_ended") == 0 && !s->report) {
			s->report = true;
			str = msg_json_str(item, "text");
			s->report_text = xstrdup(str != NULL ? str : "");
		} else if (strcmp(kind, "child_errored") == 0 ||
			strcmp(kind, "child_exited") == 0) {
			s->child_failed = true;
		}
	} else if (strcmp(m->name, "run_end") == 0 && s->report) {
		s->run_end_after_report = true;
	}
}

/*
 * A control request without printing: 0 with the reply, 1 with the
 * error's code and message in *ret_err ("code: message"), 3 unreachable.
 */
static int
demo_control(struct demo *d, const char *method, struct json_object *params,
	struct msg *ret, char **ret_err)
{
	struct client *c;
	struct msg hello, reply;
	char *err = NULL;
	int r;

	if (client_connect(d->cli->paths.control_sock, &c) < 0) {
		json_object_put(params);
		*ret_err = xstrdup("cannot connect to podvisord");
		return CLI_EXIT_UNREACHABLE;
	}
	r = client_expect(c, "hello", 5000, &hello, &err);
	if (r == 0) {
		msg_clear(&hello);
		r = client_call(c, method, params, DEMO_STEP_MS, &reply, &err);
	} else {
		json_object_put(params);
	}
	client_free(c);
	if (r < 0) {
		*ret_err = xstrfmt("no reply from podvisord: %s",
			err != NULL ? err : strerror(-r));
		free(err);
		return CLI_EXIT_UNREACHABLE;
	}
	if (strcmp(reply.name, "error") == 0) {
		*ret_err = xstrfmt("%s: %s",
			msg_json_str(reply.params, "code")
				? msg_json_str(reply.params, "code")
				: "error",
			msg_json_str(reply.params, "message")
				? msg_json_str(reply.params, "message")
				: "");
		msg_clear(&reply);
		return CLI_EXIT_FAIL;
	}
	if (ret != NULL)
		*ret = reply;
	else
		msg_clear(&reply);
	return CLI_EXIT_OK;
}

static struct json_object *
demo_name_params(const char *name)
{
	struct json_object *p = json_object_new_object();

	json_object_object_add(p, "name", json_object_new_string(name));
	return p;
}

static struct json_object *
demo_write_rule(const char *target)
{
	struct json_object *rule = json_object_new_object();

	json_object_object_add(rule, "target", json_object_new_string(target));
	json_object_object_add(
		rule, "permission", json_object_new_string("write"));
	json_object_object_add(
		rule, "recursive", json_object_new_boolean(true));
	return rule;
}

/* Attach to the parent with the event watcher. */
static int
demo_attach(struct demo *d)
{
	struct json_object *g = NULL;
	const char *provider;
	int r;

	r = podrun_open(d->cli, d->name, DEMO_STEP_MS, &d->pr);
	if (r != 0)
		return r;
	d->pr->cb = demo_event_cb;
	d->pr->cb_arg = &d->seen;
	json_object_object_get_ex(d->pr->snapshot.params, "greeting", &g);
	provider = msg_json_str(g, "provider");
	d->fake = provider != NULL && strcmp(provider, "fake") == 0;
	snprintf(d->model, sizeof(d->model), "%s/%s",
		provider != NULL ? provider : "?",
		msg_json_str(g, "model") != NULL ? msg_json_str(g, "model")
						 : "?");
	return 0;
}

/* Run text on the parent; 0 if the turn finished. */
static int
demo_turn(struct demo *d, const char *text, char **reterr)
{
	char *result = NULL, *error = NULL;
	int r;

	demo_seen_reset(&d->seen);
	r = podrun_turn(d->pr, text, demo_step_deadline(d), &result, &error);
	if (r != 0) {
		*reterr = xstrdup("the turn did not complete (see above)");
		return -1;
	}
	if (strcmp(result, "finished") != 0) {
		*reterr = xstrfmt("the turn ended '%s'%s%s", result,
			error != NULL ? ": " : "", error != NULL ? error : "");
		free(result);
		free(error);
		return -1;
	}
	free(result);
	free(error);
	return 0;
}

/* Content of ws/rel, or NULL. */
static char *
demo_read(struct demo *d, const char *rel)
{
	char *path = xstrfmt("%s/%s", d->ws, rel), *buf = NULL;
	size_t len;
	int r;

	r = atomicfile_read(path, 1024 * 1024, &buf, &len);
	free(path);
	return r < 0 ? NULL : buf;
}

/* Steps 2-3: spawn the parent and let it write and edit files. */
static int
demo_parent(struct demo *d)
{
	struct json_object *params, *scope;
	char *err = NULL, *content;
	int r;

	params = demo_name_params(d->name);
	json_object_object_add(params, "cwd", json_object_new_string(d->ws));
	scope = json_object_new_array();
	json_object_array_add(scope, demo_write_rule(d->ws));
	json_object_object_add(params, "scope", scope);
	json_object_object_add(params, "instruction",
		json_object_new_string("You are the podvisor demo pod. Carry "
				       "out each line that starts with @ as "
				       "one tool call, in order."));
	r = demo_control(d, "spawn", params, NULL, &err);
	if (r != 0) {
		demo_fail(d, "spawn", "%s", err);
		free(err);
		return r;
	}
	if ((r = demo_attach(d)) != 0)
		return demo_fail(d, "spawn", "cannot attach to %s", d->name);
	demo_say(d, "spawn", "pod %s is live, write access to %s (model %s%s)",
		d->name, d->ws, d->model,
		d->fake ? ", the bundled fake: no API key needed" : "");
	if (demo_turn(d,
		    "Write notes.txt, read it back, then edit it (one tool "
		    "call per @ line):\n"
		    "@write notes.txt hello from the demo pod\n"
		    "@read notes.txt\n"
		    "@edit notes.txt hello hi\n",
		    &err) < 0) {
		r = demo_fail(d, "task", "%s", err);
		free(err);
		return r;
	}
	content = demo_read(d, "notes.txt");
	if (content == NULL || d->seen.tool_errors > 0 ||
		(d->fake && strcmp(content, "hi from the demo pod") != 0)) {
		r = demo_fail(d, "task",
			"notes.txt is %s%s%s (tool errors: %d%s%s)",
			content != NULL ? "'" : "missing",
			content != NULL ? content : "",
			content != NULL ? "'" : "", d->seen.tool_errors,
			d->seen.last_error != NULL ? ", last: " : "",
			d->seen.last_error != NULL ? d->seen.last_error : "");
		free(content);
		return r;
	}
	demo_say(d, "task",
		"%s wrote notes.txt and edited it (%d tool calls, all ok)",
		d->name, d->seen.tool_calls);
	free(content);
	return 0;
}

/* Steps 4-5: the parent delegates child/ to a child pod. */
static int
demo_delegate(struct demo *d)
{
	struct json_object *args, *scope;
	char *text, *err = NULL, *report, *content;
	int64_t deadline;
	int r;

	args = demo_name_params(d->child);
	json_object_object_add(args, "task",
		json_object_new_string("Write report.txt in your directory "
				       "and report back:\n"
				       "@write report.txt written by the "
				       "child pod in its own directory\n"));
	scope = json_object_new_array();
	json_object_array_add(scope, demo_write_rule(d->child_dir));
	json_object_object_add(args, "scope", scope);
	json_object_object_add(
		args, "cwd", json_object_new_string(d->child_dir));
	text = xstrfmt("Delegate the child/ directory to a child pod with "
		       "this spawn_pod call:\n@spawn_pod %s\n",
		json_object_to_json_string_ext(args,
			JSON_C_TO_STRING_PLAIN |
				JSON_C_TO_STRING_NOSLASHESCAPE));
	json_object_put(args);
	d->seen.child = d->child;
	r = demo_turn(d, text, &err);
	free(text);
	if (r < 0 || d->seen.tool_errors > 0) {
		r = demo_fail(d, "delegate", "%s",
			err != NULL ? err
				: d->seen.last_error != NULL
				? d->seen.last_error
				: "spawn_pod failed");
		free(err);
		return r;
	}
	demo_say(d, "delegate",
		"%s spawned child pod %s with write access to %s only", d->name,
		d->child, d->child_dir);
	/* The child's report arrives as a pod event and starts a turn. */
	deadline = demo_step_deadline(d);
	while (!d->seen.run_end_after_report && !d->seen.child_failed) {
		r = podrun_pump(d->pr, deadline, NULL);
		if (r < 0)
			return demo_fail(d, "report", "no report from %s: %s",
				d->child,
				r == -ETIMEDOUT ? "timed out" : strerror(-r));
	}
	if (d->seen.child_failed)
		return demo_fail(d, "report", "%s failed or exited", d->child);
	content = demo_read(d, "child/report.txt");
	if (content == NULL)
		return demo_fail(d, "report", "child/report.txt is missing");
	report = demo_short(d->seen.report_text, 100);
	demo_say(d, "report",
		"%s wrote child/report.txt and reported back to %s: \"%s\"",
		d->child, d->name, report);
	free(report);
	free(content);
	return 0;
}

/* Step 6: the parent may no longer write into the child's directory. */
static int
demo_conflict(struct demo *d)
{
	struct json_object *params, *scope;
	char *err = NULL, *content, *summary;
	char intruder[48];
	int r;

	if (demo_turn(d,
		    "Try to write into the child's directory (this must be "
		    "refused):\n"
		    "@write child/intrude.txt the parent should not be able "
		    "to write this\n",
		    &err) < 0) {
		r = demo_fail(d, "conflict", "%s", err);
		free(err);
		return r;
	}
	content = demo_read(d, "child/intrude.txt");
	if (content != NULL || d->seen.tool_errors == 0) {
		free(content);
		return demo_fail(d, "conflict",
			"%s could write into %s while the child holds it",
			d->name, d->child_dir);
	}
	summary = demo_short(d->seen.last_error, 160);
	demo_say(d, "conflict",
		"%s tried to write child/intrude.txt: refused, write_conflict "
		"with %s; the tool error it got: \"%s\"",
		d->name, d->child, summary);
	free(summary);
	/* The same check at the daemon: a new pod asking for child/. */
	snprintf(intruder, sizeof(intruder), "%s-x", d->name);
	params = demo_name_params(intruder);
	json_object_object_add(params, "cwd", json_object_new_string(d->ws));
	scope = json_object_new_array();
	json_object_array_add(scope, demo_write_rule(d->child_dir));
	json_object_object_add(params, "scope", scope);
	r = demo_control(d, "spawn", params, NULL, &err);
	if (r == 0) {
		demo_control(d, "stop", demo_name_params(intruder), NULL, &err);
		free(err);
		err = NULL;
		demo_control(
			d, "forget", demo_name_params(intruder), NULL, &err);
		free(err);
		return demo_fail(d, "conflict",
			"the daemon let a second pod write into %s",
			d->child_dir);
	}
	if (r != CLI_EXIT_FAIL || strncmp(err, "write_conflict", 14) != 0) {
		r = demo_fail(
			d, "conflict", "expected write_conflict, got %s", err);
		free(err);
		return r;
	}
	summary = demo_short(err, 160);
	demo_say(d, "conflict",
		"a new pod asking for write access to child/ was refused: %s",
		summary);
	free(summary);
	free(err);
	return 0;
}

/* Steps 7-8: stop the parent, restore it, and continue the chat. */
static int
demo_restore(struct demo *d)
{
	struct json_object *entries = NULL, *e, *segs, *params;
	char *err = NULL, *text, *said;
	size_t i, n, old = 0;
	int r;

	podrun_free(d->pr);
	d->pr = NULL;
	/*
	 * Recursive: a child left running keeps its write scope, which
	 * lies inside the parent's, so the parent could not come back
	 * while the child holds it.
	 */
	params = demo_name_params(d->name);
	json_object_object_add(
		params, "recursive", json_object_new_boolean(true));
	r = demo_control(d, "stop", params, NULL, &err);
	if (r != 0) {
		r = demo_fail(d, "stop", "%s", err);
		free(err);
		return r;
	}
	demo_say(d, "stop",
		"%s and its child stopped; their write scope is released",
		d->name);
	r = demo_control(d, "restore", demo_name_params(d->name), NULL, &err);
	if (r != 0 || demo_attach(d) != 0) {
		r = demo_fail(d, "restore", "%s", err != NULL ? err : "attach");
		free(err);
		return r;
	}
	json_object_object_get_ex(d->pr->snapshot.params, "entries", &entries);
	n = entries != NULL ? json_object_array_length(entries) : 0;
	for (i = 0; i < n; i++) {
		e = json_object_array_get_idx(entries, i);
		if (msg_json_str(e, "kind") == NULL ||
			strcmp(msg_json_str(e, "kind"), "user_input") != 0 ||
			!json_object_object_get_ex(e, "segments", &segs))
			continue;
		text = render_segments_text(segs);
		if (strstr(text, "notes.txt") != NULL)
			old++;
		free(text);
	}
	if (old == 0)
		return demo_fail(d, "restore",
			"the restored pod does not have its earlier "
			"conversation (%zu entries)",
			n);
	if (demo_turn(d,
		    "Continue where you left off: read notes.txt again.\n"
		    "@read notes.txt\n",
		    &err) < 0 ||
		d->seen.tool_errors > 0) {
		r = demo_fail(d, "restore", "%s",
			err != NULL ? err : d->seen.last_error);
		free(err);
		return r;
	}
	said = demo_short(d->seen.text, 100);
	demo_say(d, "restore",
		"%s restored with its %zu log entries and continued: \"%s\"",
		d->name, n, said);
	free(said);
	return 0;
}

/* Print every file under dir (relative to the workspace). */
static void
demo_list(struct demo *d, const char *rel, int depth)
{
	char *dir =
		*rel != '\0' ? xstrfmt("%s/%s", d->ws, rel) : xstrdup(d->ws);
	char *path, *content, *shown, *p;
	struct dirent **names = NULL;
	struct stat st;
	int i, n;

	n = depth > 3 ? -1 : scandir(dir, &names, NULL, alphasort);
	free(dir);
	for (i = 0; i < n; i++) {
		if (names[i]->d_name[0] == '.') {
			free(names[i]);
			continue;
		}
		path = *rel != '\0' ? xstrfmt("%s/%s", rel, names[i]->d_name)
				    : xstrdup(names[i]->d_name);
		free(names[i]);
		content = xstrfmt("%s/%s", d->ws, path);
		if (lstat(content, &st) == 0 && S_ISDIR(st.st_mode)) {
			free(content);
			demo_list(d, path, depth + 1);
			free(path);
			continue;
		}
		free(content);
		content = demo_read(d, path);
		shown = xstrndup(content != NULL ? content : "", DEMO_FILE_MAX);
		/* Indent every line of the content under its name. */
		printf("    %s:\n      ", path);
		for (p = shown; *p != '\0'; p++) {
			if (*p == '\n')
				fputs("\n      ", stdout);
			else
				putchar((unsigned char)*p < 0x20 ? '?' : *p);
		}
		putchar('\n');
		free(shown);
		free(content);
		free(path);
	}
	free(names);
}

static int
demo_rm_cb(const char *path, const struct stat *st, int flag, struct FTW *f)
{
	(void)st;
	(void)flag;
	(void)f;
	remove(path);
	return 0;
}

/*
 * Shut down the podvisord the demo started and wait (bounded) for its
 * control connection to close, so nothing the demo started is left.
 */
static int
demo_stop_daemon(struct demo *d)
{
	struct client *c;
	struct msg hello, reply, m;
	char *err = NULL;
	int64_t deadline;
	int r;

	if (client_connect(d->cli->paths.control_sock, &c) < 0)
		return -1;
	r = client_expect(c, "hello", 5000, &hello, &err);
	if (r == 0) {
		msg_clear(&hello);
		r = client_call(c, "shutdown",
			json_tokener_parse("{\"pods\":\"stop\"}"), DEMO_STEP_MS,
			&reply, &err);
	}
	if (r == 0) {
		if (strcmp(reply.name, "error") == 0)
			r = -1;
		msg_clear(&reply);
	}
	deadline = clock_mono_ms() + DEMO_STEP_MS;
	while (r == 0) {
		int64_t left = deadline - clock_mono_ms();

		if (left <= 0) {
			r = -1;
			break;
		}
		r = client_read(c, (int)left, &m, NULL);
		if (r == -EPIPE) {
			r = 0;
			break;
		}
		if (r < 0)
			break;
		msg_clear(&m);
	}
	free(err);
	client_free(c);
	return r;
}

/* Stop and forget the demo pods; remove the workspace. */
static void
demo_cleanup(struct demo *d, bool started, int64_t daemon_pid, bool ok)
{
	char *err = NULL;

	podrun_free(d->pr);
	d->pr = NULL;
	if (d->keep) {
		printf("%2d. %-9s kept pods %s and %s and the workspace %s\n",
			++d->step, "cleanup", d->name, d->child, d->ws);
	} else {
		/* Errors here are expected (a pod already stopped). */
		demo_control(d, "stop", demo_name_params(d->child), NULL, &err);
		free(err);
		err = NULL;
		demo_control(d, "stop", demo_name_params(d->name), NULL, &err);
		free(err);
		err = NULL;
		demo_control(
			d, "forget", demo_name_params(d->child), NULL, &err);
		free(err);
		err = NULL;
		demo_control(
			d, "forget", demo_name_params(d->name), NULL, &err);
		free(err);
		nftw(d->ws, demo_rm_cb, 16, FTW_DEPTH | FTW_PHYS);
		printf("%2d. %-9s stopped and forgot %s and %s; removed %s\n",
			++d->step, "cleanup", d->name, d->child, d->ws);
	}
	if (started && !d->keep && demo_stop_daemon(d) == 0)
		printf("%2d. %-9s stopped podvisord (pid %lld), which the demo "
		       "started\n",
			++d->step, "daemon", (long long)daemon_pid);
	else if (started)
		printf("podvisord was started for the demo and keeps running "
		       "(pid %lld); stop it with 'kill %lld'\n",
			(long long)daemon_pid, (long long)daemon_pid);
	else
		printf("podvisord keeps running (pid %lld), as it was before "
		       "the demo\n",
			(long long)daemon_pid);
	printf("demo %s\n",
		ok ? "finished: every step did what it should"
		   : "FAILED (see above)");
}

/* The daemon's pid from its hello. */
static int64_t
demo_daemon_pid(struct demo *d)
{
	struct client *c;
	struct msg hello;
	struct json_object *v;
	char *err = NULL;
	int64_t pid = 0;

	if (client_connect(d->cli->paths.control_sock, &c) < 0)
		return 0;
	if (client_expect(c, "hello", 5000, &hello, &err) == 0) {
		if (json_object_object_get_ex(hello.params, "pid", &v))
			pid = json_object_get_int64(v);
		msg_clear(&hello);
	}
	free(err);
	client_free(c);
	return pid;
}

/* Random lowercase suffix for the pod names. */
static void
demo_suffix(char *out, size_t n)
{
	static const char digits[] = "abcdefghijklmnopqrstuvwxyz0123456789";
	unsigned char rnd[8];
	size_t i;

	if (getrandom(rnd, sizeof(rnd), 0) != (ssize_t)sizeof(rnd))
		for (i = 0; i < sizeof(rnd); i++)
			rnd[i] = (unsigned char)(clock_mono_ns() >> (i * 3));
	for (i = 0; i + 1 < n && i < sizeof(rnd); i++)
		out[i] = digits[rnd[i] % (sizeof(digits) - 1)];
	out[i] = '\0';
}

/* podvisor demo */
int
cmd_demo(struct cli *cli, const struct cli_cmd *cmd, int argc, char **argv)
{
	static const struct option opts[] = {
		{ "keep", no_argument, NULL, 'k' },
		{ "help", no_argument, NULL, CLI_OPT_HELP },
		{ NULL, 0, NULL, 0 },
	};
	struct demo d;
	const char *tmp;
	char suffix[7], *tmpl;
	bool started = false;
	int64_t pid;
	int c, ex = 0, r;

	memset(&d, 0, sizeof(d));
	while ((c = cli_getopt(cli, cmd, argc, argv, "k", opts, &ex)) != -2) {
		if (c == -1)
			return ex;
		if (c == 'k')
			d.keep = true;
	}
	if (argc - optind != 0)
		return cli_usage_error(
			cmd, "unexpected argument '%s'", argv[optind]);
	d.cli = cli;
	d.deadline = clock_mono_ms() + DEMO_BUDGET_MS;
	r = cli_daemon_ensure(cli, &started, true);
	if (r != 0)
		return r;
	pid = demo_daemon_pid(&d);
	tmp = getenv("TMPDIR");
	tmpl = xstrfmt("%s/podvisor-demo-XXXXXX",
		tmp != NULL && *tmp == '/' ? tmp : "/tmp");
	if (mkdtemp(tmpl) == NULL) {
		cli_err("cannot create a workspace %s: %s (set TMPDIR)", tmpl,
			strerror(errno));
		free(tmpl);
		return CLI_EXIT_FAIL;
	}
	d.ws = tmpl;
	d.child_dir = xstrfmt("%s/child", d.ws);
	mkdir(d.child_dir, 0700);
	demo_suffix(suffix, sizeof(suffix));
	snprintf(d.name, sizeof(d.name), "demo-%s", suffix);
	snprintf(d.child, sizeof(d.child), "%s.child", d.name);
	printf("podvisor demo: pods %s and %s in workspace %s\n", d.name,
		d.child, d.ws);
	demo_say(&d, "daemon", "podvisord %s (pid %lld)",
		started ? "started" : "already running", (long long)pid);
	r = demo_parent(&d);
	if (r == 0)
		r = demo_delegate(&d);
	if (r == 0)
		r = demo_conflict(&d);
	if (r == 0)
		r = demo_restore(&d);
	printf("files in the workspace:\n");
	demo_list(&d, "", 0);
	demo_cleanup(&d, started, pid, r == 0);
	demo_seen_reset(&d.seen);
	free(d.seen.text);
	free(d.seen.report_text);
	free(d.child_dir);
	free(d.ws);
	return r;
}
