/* SPDX-License-Identifier: ISC */
#include "cli/render.h"

#include <stdarg.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <json-c/json.h>

#include "common/xmalloc.h"
#include "proto/msg.h"

#define RENDER_DIM "\033[2m"
#define RENDER_RED "\033[31m"
#define RENDER_GREEN "\033[32m"
#define RENDER_CYAN "\033[36m"
#define RENDER_BOLD "\033[1m"
#define RENDER_RESET "\033[0m"

/* Set up r for out. */
void
render_init(struct render *r, FILE *out, bool tty)
{
	memset(r, 0, sizeof(*r));
	r->out = out;
	r->tty = tty;
	r->status = true;
}

static int64_t
render_int(struct json_object *obj, const char *key, int64_t def)
{
	struct json_object *v;

	if (obj == NULL || !json_object_object_get_ex(obj, key, &v) ||
		!json_object_is_type(v, json_type_int))
		return def;
	return json_object_get_int64(v);
}

static void
render_color(struct render *r, const char *code)
{
	if (r->tty)
		fputs(code, r->out);
}

/* Write text with control characters (but \n and \t) made visible. */
static void
render_text(struct render *r, const char *s, size_t max)
{
	size_t n = 0;

	for (; *s != '\0'; s++, n++) {
		unsigned char ch = (unsigned char)*s;

		if (max > 0 && n >= max) {
			fputs("...", r->out);
			r->mid_line = true;
			return;
		}
		if (ch == '\n' || ch == '\t' || (ch >= 0x20 && ch != 0x7f))
			fputc(ch, r->out);
		else
			fputc('?', r->out);
		r->mid_line = ch != '\n';
	}
}

/* The same on one line: newlines shown as a space. */
static void
render_text_line(struct render *r, const char *s, size_t max)
{
	size_t n = 0;

	for (; *s != '\0'; s++, n++) {
		unsigned char ch = (unsigned char)*s;

		if (max > 0 && n >= max) {
			fputs("...", r->out);
			break;
		}
		if (ch == '\n' || ch == '\r' || ch == '\t')
			fputc(' ', r->out);
		else if (ch >= 0x20 && ch != 0x7f)
			fputc(ch, r->out);
		else
			fputc('?', r->out);
	}
	r->mid_line = true;
}

/* End a partial line. */
void
render_eol(struct render *r)
{
	if (r->mid_line)
		fputc('\n', r->out);
	r->mid_line = false;
}

static void
render_time(struct render *r, struct json_object *entry)
{
	int64_t ms = render_int(entry, "ms", 0);
	time_t t = (time_t)(ms / 1000);
	struct tm tm;
	char buf[32];

	if (!r->times || ms <= 0 || localtime_r(&t, &tm) == NULL)
		return;
	strftime(buf, sizeof(buf), "%Y-%m-%d %H:%M:%S ", &tm);
	render_color(r, RENDER_DIM);
	fputs(buf, r->out);
	render_color(r, RENDER_RESET);
}

/* A bracketed note on its own line. */
void
render_note(struct render *r, const char *fmt, ...)
{
	va_list ap;
	char *s;

	va_start(ap, fmt);
	if (vasprintf(&s, fmt, ap) < 0)
		s = NULL;
	va_end(ap);
	if (s == NULL)
		return;
	render_eol(r);
	render_color(r, RENDER_DIM);
	fputc('[', r->out);
	render_text_line(r, s, 0);
	fputc(']', r->out);
	render_color(r, RENDER_RESET);
	fputc('\n', r->out);
	r->mid_line = false;
	free(s);
}

/* An approval request: the call, its diff, and how to answer. */
void
render_approval(struct render *r, struct json_object *data)
{
	const char *diff = msg_json_str(data, "diff");

	render_note(r, "approval %s needed: %s %.300s",
		msg_json_str(data, "id") ? msg_json_str(data, "id") : "?",
		msg_json_str(data, "tool") ? msg_json_str(data, "tool") : "?",
		msg_json_str(data, "arguments")
			? msg_json_str(data, "arguments")
			: "");
	if (diff != NULL) {
		render_text(r, diff, 4096);
		render_eol(r);
	}
}

/* Text of a segments array; caller frees. */
char *
render_segments_text(struct json_object *segments)
{
	struct json_object *seg;
	const char *kind, *s;
	char *out = xstrdup(""), *next;
	size_t i, n;

	if (segments == NULL || !json_object_is_type(segments, json_type_array))
		return out;
	n = json_object_array_length(segments);
	for (i = 0; i < n; i++) {
		seg = json_object_array_get_idx(segments, i);
		kind = msg_json_str(seg, "kind");
		if (kind != NULL && strcmp(kind, "file_ref") == 0)
			s = msg_json_str(seg, "path");
		else
			s = msg_json_str(seg, "content");
		if (s == NULL)
			continue;
		next = xstrfmt("%s%s%s%s", out, *out != '\0' ? "\n" : "",
			kind != NULL && strcmp(kind, "file_ref") == 0 ? "@"
								      : "",
			s);
		free(out);
		out = next;
	}
	return out;
}

/* "[kind from X] text" for a system item; caller frees. */
char *
render_item_text(struct json_object *item)
{
	const char *kind, *from, *text;

	if (json_object_is_type(item, json_type_string))
		return xstrfmt("[system] %s", json_object_get_string(item));
	kind = msg_json_str(item, "kind");
	if (kind == NULL)
		kind = msg_json_str(item, "type");
	from = msg_json_str(item, "from");
	text = msg_json_str(item, "text");
	if (text == NULL)
		text = msg_json_str(item, "message");
	if (text == NULL)
		text = msg_json_str(item, "path");
	return xstrfmt("[%s%s%s] %s", kind != NULL ? kind : "system",
		from != NULL ? " from " : "", from != NULL ? from : "",
		text != NULL ? text : "");
}

/* "-> name key=value ..." for a tool call. */
static void
render_tool_call(struct render *r, const char *name, const char *args)
{
	struct json_object *obj;
	bool first = true;

	render_eol(r);
	render_color(r, RENDER_CYAN);
	fprintf(r->out, "  -> %s", name != NULL ? name : "?");
	render_color(r, RENDER_RESET);
	obj = args != NULL ? json_tokener_parse(args) : NULL;
	if (obj != NULL && json_object_is_type(obj, json_type_object)) {
		struct json_object_iterator it = json_object_iter_begin(obj);
		struct json_object_iterator end = json_object_iter_end(obj);

		for (; !json_object_iter_equal(&it, &end);
			json_object_iter_next(&it)) {
			const char *key = json_object_iter_peek_name(&it);
			struct json_object *val =
				json_object_iter_peek_value(&it);

			fprintf(r->out, "%s%s=", first ? " " : ", ", key);
			first = false;
			if (json_object_is_type(val, json_type_string))
				render_text_line(
					r, json_object_get_string(val), 60);
			else
				render_text_line(r,
					json_object_to_json_string_ext(
						val, JSON_C_TO_STRING_PLAIN),
					60);
		}
	} else if (args != NULL) {
		fputc(' ', r->out);
		render_text_line(r, args, 120);
	}
	json_object_put(obj);
	fputc('\n', r->out);
	r->mid_line = false;
}

/* "<- ok summary" / "<- error summary". */
static void
render_tool_result(struct render *r, struct json_object *data)
{
	struct json_object *v;
	const char *summary = msg_json_str(data, "summary");
	bool is_error = false;

	if (json_object_object_get_ex(data, "is_error", &v))
		is_error = json_object_get_boolean(v);
	render_eol(r);
	fputs("  <- ", r->out);
	render_color(r, is_error ? RENDER_RED : RENDER_GREEN);
	fputs(is_error ? "error" : "ok", r->out);
	render_color(r, RENDER_RESET);
	fputc(' ', r->out);
	render_text_line(r, summary != NULL ? summary : "", 200);
	fputc('\n', r->out);
	r->mid_line = false;
}

/* "[run finished]" or the reason it ended otherwise. */
static void
render_run_end(struct render *r, struct json_object *data)
{
	struct json_object *err = NULL;
	const char *result = msg_json_str(data, "result");
	const char *msg = NULL;

	if (json_object_object_get_ex(data, "error", &err))
		msg = msg_json_str(err, "message");
	if (msg != NULL)
		render_note(r, "run %s: %s", result != NULL ? result : "ended",
			msg);
	else
		render_note(r, "run %s", result != NULL ? result : "ended");
}

static void
render_user(struct render *r, struct json_object *segments)
{
	char *text = render_segments_text(segments), *line, *nl;
	int lines = 0;

	render_eol(r);
	render_color(r, RENDER_BOLD);
	/* Each line of the input on its own, at most 8 of them. */
	for (line = text; line != NULL; line = nl != NULL ? nl + 1 : NULL) {
		if ((nl = strchr(line, '\n')) != NULL)
			*nl = '\0';
		if (lines++ == 8) {
			fputs("\n  ...", r->out);
			break;
		}
		fputs(lines == 1 ? "> " : "\n  ", r->out);
		render_text_line(r, line, 200);
	}
	render_color(r, RENDER_RESET);
	fputc('\n', r->out);
	r->mid_line = false;
	free(text);
}

static void
render_system_item(struct render *r, struct json_object *item)
{
	char *text = render_item_text(item);

	render_eol(r);
	render_color(r, RENDER_DIM);
	render_text_line(r, text, 400);
	render_color(r, RENDER_RESET);
	fputc('\n', r->out);
	r->mid_line = false;
	free(text);
}

/* Render one live event. */
void
render_event(struct render *r, const char *name, struct json_object *data)
{
	struct json_object *v = NULL;
	const char *s;

	if (strcmp(name, "text_delta") == 0) {
		if ((s = msg_json_str(data, "text")) != NULL)
			render_text(r, s, 0);
	} else if (strcmp(name, "text_done") == 0) {
		render_eol(r);
	} else if (strcmp(name, "thinking_done") == 0) {
		if ((s = msg_json_str(data, "text")) != NULL && *s != '\0')
			render_note(r, "thinking: %.300s", s);
	} else if (strcmp(name, "tool_call_done") == 0) {
		render_tool_call(r, msg_json_str(data, "name"),
			msg_json_str(data, "arguments"));
	} else if (strcmp(name, "tool_result") == 0) {
		render_tool_result(r, data);
	} else if (strcmp(name, "user_message") == 0) {
		json_object_object_get_ex(data, "segments", &v);
		render_user(r, v);
	} else if (strcmp(name, "system_item") == 0) {
		json_object_object_get_ex(data, "item", &v);
		render_system_item(r, v);
	} else if (strcmp(name, "status") == 0) {
		s = msg_json_str(data, "status");
		if (s == NULL || strcmp(s, r->last_status) == 0)
			return;
		snprintf(r->last_status, sizeof(r->last_status), "%s", s);
		if (r->status)
			render_note(r, "status: %s", s);
	} else if (strcmp(name, "run_end") == 0) {
		render_run_end(r, data);
	} else if (strcmp(name, "llm_retry") == 0) {
		render_note(r,
			"model call failed (%s), retry %lld/%lld in %lld ms",
			msg_json_str(data, "error")
				? msg_json_str(data, "error")
				: "error",
			(long long)render_int(data, "attempt", 0),
			(long long)render_int(data, "max_attempts", 0),
			(long long)render_int(data, "wait_ms", 0));
	} else if (strcmp(name, "compact_start") == 0) {
		render_note(r,
			"compacting the context (%s, %lld of %lld tokens)",
			msg_json_str(data, "reason")
				? msg_json_str(data, "reason")
				: "auto",
			(long long)render_int(data, "context_tokens", 0),
			(long long)render_int(data, "context_window", 0));
	} else if (strcmp(name, "compact_done") == 0) {
		render_note(r, "context compacted to %lld tokens",
			(long long)render_int(data, "context_tokens", 0));
	} else if (strcmp(name, "compact_failed") == 0) {
		json_object_object_get_ex(data, "error", &v);
		render_note(r, "compaction failed: %s",
			msg_json_str(v, "message") ? msg_json_str(v, "message")
						   : "?");
	} else if (strcmp(name, "alert") == 0) {
		render_note(r, "%s %s: %s",
			msg_json_str(data, "level")
				? msg_json_str(data, "level")
				: "info",
			msg_json_str(data, "source")
				? msg_json_str(data, "source")
				: "pod",
			msg_json_str(data, "message")
				? msg_json_str(data, "message")
				: "");
	} else if (strcmp(name, "error") == 0) {
		render_note(r, "error %s: %s",
			msg_json_str(data, "code") ? msg_json_str(data, "code")
						   : "?",
			msg_json_str(data, "message")
				? msg_json_str(data, "message")
				: "");
	} else if (strcmp(name, "approval_request") == 0) {
		render_approval(r, data);
	} else if (strcmp(name, "approval_decided") == 0) {
		render_note(r, "approval %s: %s by %s%s%s",
			msg_json_str(data, "id") ? msg_json_str(data, "id")
						 : "?",
			msg_json_str(data, "decision")
				? msg_json_str(data, "decision")
				: "?",
			msg_json_str(data, "by") ? msg_json_str(data, "by")
						 : "?",
			msg_json_str(data, "reason") ? ": " : "",
			msg_json_str(data, "reason")
				? msg_json_str(data, "reason")
				: "");
	} else if (strcmp(name, "shutdown") == 0) {
		render_note(r, "the pod is shutting down");
	}
	/* Everything else (usage, llm_call_*, turn_*, ...) is quiet. */
}

/* An assistant entry: its text, then one line per tool call. */
static void
render_assistant(struct render *r, struct json_object *entry)
{
	struct json_object *calls, *call;
	const char *s;
	size_t i, n;

	if ((s = msg_json_str(entry, "thinking")) != NULL && *s != '\0')
		render_note(r, "thinking: %.300s", s);
	if ((s = msg_json_str(entry, "text")) != NULL && *s != '\0') {
		render_text(r, s, 0);
		render_eol(r);
	}
	if (!json_object_object_get_ex(entry, "tool_calls", &calls) ||
		!json_object_is_type(calls, json_type_array))
		return;
	n = json_object_array_length(calls);
	for (i = 0; i < n; i++) {
		call = json_object_array_get_idx(calls, i);
		render_tool_call(r, msg_json_str(call, "name"),
			msg_json_str(call, "arguments"));
	}
}

/* Render one log entry. */
void
render_entry(struct render *r, struct json_object *entry)
{
	struct json_object *v = NULL;
	const char *kind = msg_json_str(entry, "kind");

	if (kind == NULL)
		return;
	if (strcmp(kind, "usage") == 0 || strcmp(kind, "turn_end") == 0)
		return;
	render_eol(r);
	render_time(r, entry);
	if (strcmp(kind, "segment_start") == 0) {
		const char *segment = msg_json_str(entry, "segment");
		const char *model = msg_json_str(entry, "model");

		render_note(r, "segment %s, model %s%s",
			segment != NULL ? segment : "?",
			model != NULL ? model : "?",
			msg_json_str(entry, "compacted_from")
				? " (compacted from the previous segment)"
				: "");
		if (msg_json_str(entry, "summary") != NULL)
			render_note(r, "summary: %.400s",
				msg_json_str(entry, "summary"));
	} else if (strcmp(kind, "user_input") == 0) {
		json_object_object_get_ex(entry, "segments", &v);
		render_user(r, v);
	} else if (strcmp(kind, "system_item") == 0) {
		json_object_object_get_ex(entry, "item", &v);
		render_system_item(r, v);
	} else if (strcmp(kind, "assistant") == 0) {
		render_assistant(r, entry);
	} else if (strcmp(kind, "tool_result") == 0) {
		render_tool_result(r, entry);
	} else if (strcmp(kind, "run_end") == 0) {
		render_run_end(r, entry);
	} else {
		render_note(r, "%s", kind);
	}
}

/* One line about the pod from a snapshot's greeting. */
void
render_greeting(struct render *r, struct json_object *snapshot)
{
	struct json_object *g = NULL;
	const char *conf;

	json_object_object_get_ex(snapshot, "greeting", &g);
	conf = msg_json_str(g, "bash_confinement");
	render_note(r, "pod %s, %s/%s, cwd %s, status %s, bash %s",
		msg_json_str(g, "pod") ? msg_json_str(g, "pod") : "?",
		msg_json_str(g, "provider") ? msg_json_str(g, "provider") : "?",
		msg_json_str(g, "model") ? msg_json_str(g, "model") : "?",
		msg_json_str(g, "cwd") ? msg_json_str(g, "cwd") : "?",
		msg_json_str(snapshot, "status")
			? msg_json_str(snapshot, "status")
			: "?",
		conf != NULL && strcmp(conf, "landlock") == 0
			? "confined by Landlock"
			: "unconfined");
}
