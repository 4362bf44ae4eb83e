/* SPDX-License-Identifier: ISC */
#include <ctype.h>
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include <json-c/json.h>

#include "common/xmalloc.h"

#include "agent.h"

#define AGENT_MAX_DIRECTIVES 64
#define AGENT_ECHO_MAX 200
#define AGENT_SUMMARY_MAX 80

enum agent_kind {
	AGENT_STR, /* one word or a JSON string */
	AGENT_REST, /* rest of the line, \n \t \\ decoded */
	AGENT_RAW, /* rest of the line, verbatim */
	AGENT_INT,
	AGENT_BOOL,
};

struct agent_param {
	const char *name;
	enum agent_kind kind;
};

struct agent_directive {
	const char *name;
	struct agent_param params[6];
};

/* Parameters in positional order; a NULL name ends the list. */
static const struct agent_directive agent_directives[] = {
	{ "bash", { { "command", AGENT_RAW }, { "timeout_s", AGENT_INT } } },
	{ "edit",
		{ { "path", AGENT_STR }, { "old", AGENT_STR },
			{ "new", AGENT_REST },
			{ "replace_all", AGENT_BOOL } } },
	{ "glob", { { "pattern", AGENT_STR }, { "path", AGENT_STR } } },
	{ "grep",
		{ { "pattern", AGENT_STR }, { "path", AGENT_STR },
			{ "glob", AGENT_STR }, { "max", AGENT_INT } } },
	{ "list_pods", { { NULL, AGENT_STR } } },
	{ "read",
		{ { "path", AGENT_STR }, { "offset", AGENT_INT },
			{ "limit", AGENT_INT } } },
	{ "read_pod_output", { { "name", AGENT_STR } } },
	{ "restore_pod", { { "name", AGENT_STR } } },
	{ "send_to_peer",
		{ { "name", AGENT_STR }, { "message", AGENT_REST } } },
	{ "send_to_pod", { { "name", AGENT_STR }, { "message", AGENT_REST } } },
	{ "spawn_pod",
		{ { "name", AGENT_STR }, { "task", AGENT_REST },
			{ "cwd", AGENT_STR }, { "model", AGENT_STR },
			{ "instruction", AGENT_STR } } },
	{ "stop_pod", { { "name", AGENT_STR } } },
	{ "tool", { { NULL, AGENT_STR } } },
	{ "write", { { "path", AGENT_STR }, { "content", AGENT_REST } } },
};

static const struct agent_directive *
agent_find(const char *name, size_t len)
{
	size_t i;

	for (i = 0; i < sizeof(agent_directives) / sizeof(*agent_directives);
		i++)
		if (strlen(agent_directives[i].name) == len &&
			strncmp(agent_directives[i].name, name, len) == 0)
			return &agent_directives[i];
	return NULL;
}

static const char *
agent_skip_ws(const char *p)
{
	while (*p == ' ' || *p == '\t')
		p++;
	return p;
}

static size_t
agent_word_len(const char *p)
{
	size_t n = 0;

	while (p[n] != '\0' && p[n] != ' ' && p[n] != '\t')
		n++;
	return n;
}

/* Parse a JSON value that must fill the rest of s; NULL if it does not. */
static struct json_object *
agent_parse_json(const char *s, size_t len)
{
	struct json_tokener *tok = json_tokener_new_ex(32);
	struct json_object *o;
	size_t end;

	o = json_tokener_parse_ex(tok, s, (int)len);
	if (o == NULL || json_tokener_get_error(tok) != json_tokener_success) {
		json_object_put(o);
		json_tokener_free(tok);
		return NULL;
	}
	end = json_tokener_get_parse_end(tok);
	json_tokener_free(tok);
	while (end < len && isspace((unsigned char)s[end]))
		end++;
	if (end != len) {
		json_object_put(o);
		return NULL;
	}
	return o;
}

/* A JSON string literal at *p; advances *p past it. NULL if malformed. */
static char *
agent_quoted(const char **p)
{
	const char *s = *p, *e = s + 1;
	struct json_object *o;
	char *v;

	while (*e != '\0' && *e != '"') {
		if (*e == '\\' && e[1] != '\0')
			e++;
		e++;
	}
	if (*e != '"')
		return NULL;
	o = agent_parse_json(s, (size_t)(e - s + 1));
	if (o == NULL || !json_object_is_type(o, json_type_string)) {
		json_object_put(o);
		return NULL;
	}
	v = xstrdup(json_object_get_string(o));
	json_object_put(o);
	*p = e + 1;
	return v;
}

static char *
agent_decode(const char *s, size_t len)
{
	char *v = xmalloc(len + 1), *o = v;
	size_t i;

	for (i = 0; i < len; i++) {
		if (s[i] == '\\' && i + 1 < len) {
			char c = s[i + 1];

			if (c == 'n' || c == 't' || c == '\\') {
				*o++ = c == 'n' ? '\n' : c == 't' ? '\t' : '\\';
				i++;
				continue;
			}
		}
		*o++ = s[i];
	}
	*o = '\0';
	return v;
}

static int
agent_set(struct json_object *args, const struct agent_param *pm,
	const char *value, char **reterr_msg)
{
	struct json_object *v;
	char *end;
	long long n;

	switch (pm->kind) {
	case AGENT_INT:
		errno = 0;
		n = strtoll(value, &end, 10);
		if (*value == '\0' || *end != '\0' || errno != 0) {
			*reterr_msg = xstrfmt(
				"%s: not an integer: %s", pm->name, value);
			return -EINVAL;
		}
		v = json_object_new_int64(n);
		break;
	case AGENT_BOOL:
		if (strcmp(value, "true") != 0 && strcmp(value, "false") != 0) {
			*reterr_msg = xstrfmt(
				"%s: not true or false: %s", pm->name, value);
			return -EINVAL;
		}
		v = json_object_new_boolean(strcmp(value, "true") == 0);
		break;
	default:
		v = json_object_new_string(value);
		break;
	}
	json_object_object_add(args, pm->name, v);
	return 0;
}

/* Fill args from "key=value" and positional arguments at p. */
static int
agent_parse_args(const struct agent_directive *d, const char *p,
	struct json_object *args, char **reterr_msg)
{
	int filled[6] = { 0 };
	size_t np = 0, next = 0, i, wl;
	const struct agent_param *pm;
	char *value;
	int r;

	while (np < 6 && d->params[np].name != NULL)
		np++;
	for (p = agent_skip_ws(p); *p != '\0'; p = agent_skip_ws(p)) {
		const char *eq = NULL;

		pm = NULL;
		wl = agent_word_len(p);
		eq = memchr(p, '=', wl);
		for (i = 0; eq != NULL && i < np; i++)
			if (strlen(d->params[i].name) == (size_t)(eq - p) &&
				strncmp(d->params[i].name, p,
					(size_t)(eq - p)) == 0) {
				pm = &d->params[i];
				filled[i] = 1;
				p = eq + 1;
			}
		if (pm == NULL) {
			while (next < np && filled[next])
				next++;
			if (next == np) {
				*reterr_msg = xstrfmt("too many arguments at: "
						      "%s",
					p);
				return -EINVAL;
			}
			pm = &d->params[next];
			filled[next] = 1;
		}
		if (*p == '"') {
			value = agent_quoted(&p);
			if (value == NULL) {
				*reterr_msg = xstrfmt(
					"%s: bad JSON string", pm->name);
				return -EINVAL;
			}
		} else if (pm->kind == AGENT_REST || pm->kind == AGENT_RAW) {
			wl = strlen(p);
			while (wl > 0 && isspace((unsigned char)p[wl - 1]))
				wl--;
			value = pm->kind == AGENT_REST ? agent_decode(p, wl)
						       : xstrndup(p, wl);
			p += strlen(p);
		} else {
			wl = agent_word_len(p);
			value = xstrndup(p, wl);
			p += wl;
		}
		r = agent_set(args, pm, value, reterr_msg);
		free(value);
		if (r < 0)
			return r;
	}
	return 0;
}

/*
 * Parse one line.  Returns 1 and the tool name and JSON arguments text
 * (caller frees) for a directive, 0 for a line that is not one, -EINVAL
 * with *reterr_msg (caller frees) for a malformed directive.
 */
int
agent_parse_line(
	const char *line, char **ret_name, char **ret_args, char **reterr_msg)
{
	const struct agent_directive *d;
	struct json_object *args = NULL;
	const char *p = agent_skip_ws(line);
	char *name;
	size_t n, len;
	int r = 0;

	if (*p != '@')
		return 0;
	p++;
	for (n = 0; p[n] == '_' || islower((unsigned char)p[n]); n++)
		;
	if (p[n] != '\0' && p[n] != ' ' && p[n] != '\t')
		return 0;
	d = agent_find(p, n);
	if (d == NULL)
		return 0;
	name = xstrndup(p, n);
	p = agent_skip_ws(p + n);
	if (strcmp(name, "tool") == 0) {
		n = agent_word_len(p);
		if (n == 0) {
			*reterr_msg = xstrdup("@tool needs a tool name");
			free(name);
			return -EINVAL;
		}
		free(name);
		name = xstrndup(p, n);
		p = agent_skip_ws(p + n);
		if (*p == '\0')
			args = json_object_new_object();
	}
	len = strlen(p);
	while (len > 0 && isspace((unsigned char)p[len - 1]))
		len--;
	if (args == NULL && *p == '{') {
		args = agent_parse_json(p, len);
		if (args == NULL ||
			!json_object_is_type(args, json_type_object)) {
			*reterr_msg = xstrdup("arguments are not a valid "
					      "JSON object");
			r = -EINVAL;
		}
	} else if (args == NULL) {
		if (d->params[0].name == NULL && len > 0) {
			*reterr_msg = xstrfmt("@%s takes a JSON object", name);
			r = -EINVAL;
		} else {
			args = json_object_new_object();
			r = agent_parse_args(d, p, args, reterr_msg);
		}
	}
	if (r < 0) {
		json_object_put(args);
		free(name);
		return r;
	}
	*ret_name = name;
	*ret_args = xstrdup(json_object_to_json_string_ext(
		args, JSON_C_TO_STRING_PLAIN | JSON_C_TO_STRING_NOSLASHESCAPE));
	json_object_put(args);
	return 1;
}

/* A tool call id in the style of the format, numbered n. */
char *
agent_call_id(enum reply_format format, unsigned n)
{
	return xstrfmt(format != REPLY_ANTHROPIC ? "call_fake_%04u"
						 : "toolu_fake_%04u",
		n);
}

/* First line of s, at most max bytes, newlines cut off. */
static char *
agent_first_line(const char *s, size_t max, int flatten)
{
	size_t n = 0, i;
	char *v;

	while (*s == '\n' || *s == ' ')
		s++;
	while (s[n] != '\0' && (flatten || s[n] != '\n'))
		n++;
	if (n > max) {
		n = max;
		while (n > 0 && ((unsigned char)s[n] & 0xc0) == 0x80)
			n--;
	}
	v = xstrndup(s, n);
	for (i = 0; i < n; i++)
		if (v[i] == '\n' || v[i] == '\r' || v[i] == '\t')
			v[i] = ' ';
	return v;
}

static char *
agent_summary(const struct conv *c, int anchor)
{
	char *s = xstrdup("done:"), *t, *line;
	const char *name;
	size_t i;
	int n = 0;

	for (i = (size_t)anchor + 1; i < c->nmsgs; i++) {
		const struct conv_msg *m = &c->msgs[i];

		if (m->role != CONV_TOOL_RESULT)
			continue;
		name = conv_call_name(c, m->call_id);
		line = agent_first_line(m->text, AGENT_SUMMARY_MAX, 0);
		t = xstrfmt("%s%s %s %s%s%s", s, n > 0 ? ";" : "",
			name != NULL ? name : "tool",
			m->is_error ? "failed" : "ok",
			*line != '\0' ? ": " : "", line);
		free(line);
		free(s);
		s = t;
		n++;
	}
	return s;
}

static struct reply *
agent_text(const char *text)
{
	struct reply *r = reply_new();

	reply_set_text(r, text);
	return r;
}

static struct reply *
agent_echo(const struct conv *c, int anchor)
{
	struct reply *r;
	char *line, *t;

	if (anchor < 0)
		return agent_text("fakellm: there is no user message");
	line = agent_first_line(c->msgs[anchor].text, AGENT_ECHO_MAX, 1);
	t = xstrfmt("fakellm: you said \"%s\"", line);
	r = agent_text(t);
	free(t);
	free(line);
	return r;
}

/*
 * Build the reply to c.  echo_only ignores directives.  *tool_seq numbers
 * tool call ids and is advanced.  The caller frees the reply.
 */
struct reply *
agent_reply(const struct conv *c, int echo_only, unsigned *tool_seq)
{
	int anchor = conv_anchor(c), lineno = 0, ndir = 0, r;
	size_t made = 0, i;
	char *text, *line, *save = NULL, *name, *args, *err = NULL, *t;
	struct reply *rep = NULL;

	if (echo_only || anchor < 0)
		return agent_echo(c, anchor);
	for (i = (size_t)anchor + 1; i < c->nmsgs; i++)
		if (c->msgs[i].role == CONV_ASSISTANT)
			made += c->msgs[i].ncalls;
	text = xstrdup(c->msgs[anchor].text);
	for (line = strtok_r(text, "\n", &save); line != NULL;
		line = strtok_r(NULL, "\n", &save)) {
		lineno++;
		r = agent_parse_line(line, &name, &args, &err);
		if (r == 0)
			continue;
		if (r < 0) {
			t = xstrfmt("fakellm: bad directive on line %d: %s",
				lineno, err);
			rep = agent_text(t);
			free(t);
			free(err);
			break;
		}
		if ((size_t)ndir++ == made && ndir <= AGENT_MAX_DIRECTIVES) {
			char *id = agent_call_id(c->format, ++*tool_seq);

			rep = reply_new();
			reply_add_tool(rep, id, name, args);
			free(id);
		}
		free(name);
		free(args);
		if (rep != NULL)
			break;
	}
	free(text);
	if (rep != NULL)
		return rep;
	if (ndir > 0 || made > 0 || anchor + 1 < (int)c->nmsgs) {
		t = agent_summary(c, anchor);
		rep = agent_text(t);
		free(t);
		return rep;
	}
	return agent_echo(c, anchor);
}
