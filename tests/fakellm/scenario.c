/* SPDX-License-Identifier: ISC */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <json-c/json.h>

#include "common/xmalloc.h"

#include "agent.h"
#include "scenario.h"

#define SCENARIO_MAX_BYTES (4 * 1024 * 1024)

/* Bit masks of the JSON types a key accepts. */
#define T_BOOL (1 << json_type_boolean)
#define T_INT (1 << json_type_int)
#define T_STR (1 << json_type_string)
#define T_OBJ (1 << json_type_object)
#define T_ARR (1 << json_type_array)

struct scenario_key {
	const char *name;
	int types;
};

struct scenario_rule {
	struct json_object *json; /* the rule object */
	int times; /* -1: unlimited */
	int used;
};

struct scenario {
	struct json_object *root;
	struct scenario_rule *rules;
	size_t nrules;
	enum scenario_fallback fallback;
	int validate;
};

static const struct scenario_key scenario_top_keys[] = { { "rules", T_ARR },
	{ "fallback", T_STR }, { "validate", T_BOOL }, { "comment", T_STR },
	{ NULL, 0 } };
static const struct scenario_key scenario_rule_keys[] = { { "match", T_OBJ },
	{ "times", T_INT }, { "reply", T_OBJ }, { "fail", T_STR | T_OBJ },
	{ "stream", T_OBJ }, { "name", T_STR }, { "comment", T_STR },
	{ NULL, 0 } };
static const struct scenario_key scenario_match_keys[] = { { "any", T_BOOL },
	{ "request", T_INT }, { "user_contains", T_STR },
	{ "system_contains", T_STR }, { "tool_result", T_STR },
	{ "tool_result_contains", T_STR }, { "format", T_STR },
	{ "model", T_STR }, { "stream", T_BOOL }, { NULL, 0 } };
static const struct scenario_key scenario_reply_keys[] = { { "text", T_STR },
	{ "chunks", T_INT }, { "thinking", T_STR }, { "signature", T_STR },
	{ "tool_calls", T_ARR }, { "args_chunks", T_INT },
	{ "stop_reason", T_STR }, { "usage", T_OBJ }, { "replay", T_STR },
	{ NULL, 0 } };
static const struct scenario_key scenario_tool_keys[] = { { "name", T_STR },
	{ "arguments", T_OBJ | T_STR }, { "id", T_STR }, { NULL, 0 } };
static const struct scenario_key scenario_usage_keys[] = {
	{ "input_tokens", T_INT }, { "output_tokens", T_INT }, { NULL, 0 }
};
static const struct scenario_key scenario_fail_keys[] = { { "status", T_INT },
	{ "retry_after", T_INT }, { "retry_after_ms", T_INT },
	{ "type", T_STR }, { "code", T_STR }, { "message", T_STR },
	{ NULL, 0 } };
static const struct scenario_key scenario_stream_keys[] = {
	{ "initial_delay_ms", T_INT }, { "delay_ms", T_INT },
	{ "cut_after", T_INT }, { "stall_after", T_INT },
	{ "malformed_after", T_INT }, { "error_after", T_INT },
	{ "error_type", T_STR }, { "error_message", T_STR },
	{ "fragment", T_BOOL }, { "pieces", T_INT }, { "pieces_seed", T_INT },
	{ NULL, 0 }
};

struct scenario_shorthand {
	const char *name;
	int status;
	int retry_after;
};

static const struct scenario_shorthand scenario_shorthands[] = {
	{ "overflow", 400, -1 },
	{ "auth", 401, -1 },
	{ "rate_limit", 429, 1 },
	{ "server_error", 500, -1 },
	{ "overloaded", 529, -1 },
};

static int
scenario_check(struct json_object *o, const struct scenario_key *keys,
	const char *where, char **reterr_msg)
{
	struct json_object_iterator it = json_object_iter_begin(o);
	struct json_object_iterator end = json_object_iter_end(o);
	struct json_object *val;
	const char *key;
	size_t i;

	for (; !json_object_iter_equal(&it, &end); json_object_iter_next(&it)) {
		key = json_object_iter_peek_name(&it);
		val = json_object_iter_peek_value(&it);
		for (i = 0; keys[i].name != NULL; i++)
			if (strcmp(keys[i].name, key) == 0)
				break;
		if (keys[i].name == NULL) {
			*reterr_msg =
				xstrfmt("%s: unknown key \"%s\"", where, key);
			return -EINVAL;
		}
		if (!(keys[i].types & (1 << json_object_get_type(val)))) {
			*reterr_msg = xstrfmt("%s.%s: wrong type (%s)", where,
				key,
				json_type_to_name(json_object_get_type(val)));
			return -EINVAL;
		}
		if ((keys[i].types & T_INT) &&
			json_object_is_type(val, json_type_int) &&
			json_object_get_int64(val) < 0) {
			*reterr_msg = xstrfmt(
				"%s.%s: must not be negative", where, key);
			return -EINVAL;
		}
	}
	return 0;
}

static const char *
scenario_str(struct json_object *o, const char *key)
{
	struct json_object *v;

	if (o == NULL || !json_object_object_get_ex(o, key, &v))
		return NULL;
	return json_object_get_string(v);
}

static int
scenario_int(struct json_object *o, const char *key, int def)
{
	struct json_object *v;

	if (o == NULL || !json_object_object_get_ex(o, key, &v))
		return def;
	return json_object_get_int(v);
}

static int
scenario_check_reply(
	struct json_object *reply, const char *where, char **reterr_msg)
{
	struct json_object *v, *tc;
	const char *s;
	char *w;
	size_t i, n;
	int r;

	r = scenario_check(reply, scenario_reply_keys, where, reterr_msg);
	if (r < 0)
		return r;
	s = scenario_str(reply, "stop_reason");
	if (s != NULL && strcmp(s, "end_turn") != 0 &&
		strcmp(s, "tool_use") != 0 && strcmp(s, "max_tokens") != 0) {
		*reterr_msg = xstrfmt("%s.stop_reason: must be end_turn, "
				      "tool_use or max_tokens",
			where);
		return -EINVAL;
	}
	if (json_object_object_get_ex(reply, "usage", &v)) {
		w = xstrfmt("%s.usage", where);
		r = scenario_check(v, scenario_usage_keys, w, reterr_msg);
		free(w);
		if (r < 0)
			return r;
	}
	if (!json_object_object_get_ex(reply, "tool_calls", &v))
		return 0;
	n = json_object_array_length(v);
	for (i = 0; i < n && r == 0; i++) {
		tc = json_object_array_get_idx(v, i);
		w = xstrfmt("%s.tool_calls[%zu]", where, i);
		if (!json_object_is_type(tc, json_type_object)) {
			*reterr_msg = xstrfmt("%s: not an object", w);
			r = -EINVAL;
		} else {
			r = scenario_check(
				tc, scenario_tool_keys, w, reterr_msg);
		}
		if (r == 0 && scenario_str(tc, "name") == NULL) {
			*reterr_msg = xstrfmt("%s: \"name\" is required", w);
			r = -EINVAL;
		}
		free(w);
	}
	return r;
}

static int
scenario_check_fail(
	struct json_object *fail, const char *where, char **reterr_msg)
{
	size_t i;
	int r;

	if (json_object_is_type(fail, json_type_string)) {
		for (i = 0; i < sizeof(scenario_shorthands) /
				sizeof(*scenario_shorthands);
			i++)
			if (strcmp(scenario_shorthands[i].name,
				    json_object_get_string(fail)) == 0)
				return 0;
		*reterr_msg = xstrfmt("%s: unknown failure \"%s\" (overflow, "
				      "auth, rate_limit, server_error, "
				      "overloaded)",
			where, json_object_get_string(fail));
		return -EINVAL;
	}
	r = scenario_check(fail, scenario_fail_keys, where, reterr_msg);
	if (r < 0)
		return r;
	i = (size_t)scenario_int(fail, "status", 0);
	if (i < 400 || i > 599) {
		*reterr_msg = xstrfmt("%s.status: must be 400..599", where);
		return -EINVAL;
	}
	return 0;
}

static int
scenario_check_rule(struct json_object *rule, size_t i, char **reterr_msg)
{
	struct json_object *v;
	const char *s;
	char *where = xstrfmt("rules[%zu]", i), *w;
	int r = 0;

	if (!json_object_is_type(rule, json_type_object)) {
		*reterr_msg = xstrfmt("%s: not an object", where);
		free(where);
		return -EINVAL;
	}
	r = scenario_check(rule, scenario_rule_keys, where, reterr_msg);
	if (r == 0 && json_object_object_get_ex(rule, "match", &v)) {
		w = xstrfmt("%s.match", where);
		r = scenario_check(v, scenario_match_keys, w, reterr_msg);
		s = scenario_str(v, "format");
		if (r == 0 && s != NULL && strcmp(s, "openai") != 0 &&
			strcmp(s, "anthropic") != 0 &&
			strcmp(s, "responses") != 0) {
			*reterr_msg = xstrfmt("%s.format: must be openai, "
					      "responses or anthropic",
				w);
			r = -EINVAL;
		}
		free(w);
	}
	if (r == 0 && json_object_object_get_ex(rule, "reply", &v)) {
		w = xstrfmt("%s.reply", where);
		r = scenario_check_reply(v, w, reterr_msg);
		free(w);
		if (r == 0 && json_object_object_get_ex(rule, "fail", NULL)) {
			*reterr_msg = xstrfmt("%s: \"reply\" and \"fail\" "
					      "exclude each other",
				where);
			r = -EINVAL;
		}
	}
	if (r == 0 && json_object_object_get_ex(rule, "fail", &v)) {
		w = xstrfmt("%s.fail", where);
		r = scenario_check_fail(v, w, reterr_msg);
		free(w);
	}
	if (r == 0 && json_object_object_get_ex(rule, "stream", &v)) {
		w = xstrfmt("%s.stream", where);
		r = scenario_check(v, scenario_stream_keys, w, reterr_msg);
		free(w);
	}
	free(where);
	return r;
}

static int
scenario_parse(struct scenario *s, char **reterr_msg)
{
	struct json_object *rules = s->root, *v;
	const char *fb;
	size_t i;
	int r;

	if (json_object_is_type(s->root, json_type_object)) {
		r = scenario_check(
			s->root, scenario_top_keys, "scenario", reterr_msg);
		if (r < 0)
			return r;
		if (!json_object_object_get_ex(s->root, "rules", &rules)) {
			*reterr_msg = xstrdup("\"rules\" is required");
			return -EINVAL;
		}
		fb = scenario_str(s->root, "fallback");
		if (fb == NULL || strcmp(fb, "agent") == 0)
			s->fallback = SCENARIO_AGENT;
		else if (strcmp(fb, "echo") == 0)
			s->fallback = SCENARIO_ECHO;
		else if (strcmp(fb, "error") == 0)
			s->fallback = SCENARIO_ERROR;
		else {
			*reterr_msg = xstrfmt("fallback: must be agent, echo "
					      "or error, not \"%s\"",
				fb);
			return -EINVAL;
		}
		if (json_object_object_get_ex(s->root, "validate", &v))
			s->validate = json_object_get_boolean(v);
	} else if (!json_object_is_type(s->root, json_type_array)) {
		*reterr_msg = xstrdup("top level must be an object or an "
				      "array of rules");
		return -EINVAL;
	}
	s->nrules = json_object_array_length(rules);
	s->rules = xcalloc(s->nrules + 1, sizeof(*s->rules));
	for (i = 0; i < s->nrules; i++) {
		struct json_object *rule = json_object_array_get_idx(rules, i);

		r = scenario_check_rule(rule, i, reterr_msg);
		if (r < 0)
			return r;
		s->rules[i].json = rule;
		s->rules[i].times = scenario_int(rule, "times", -1);
	}
	return 0;
}

/*
 * Load and check a scenario file.  Returns 0, or a negative errno with a
 * message naming the problem (and where) in *reterr_msg (caller frees).
 */
int
scenario_load(
	const char *path, struct scenario **ret_scenario, char **reterr_msg)
{
	struct json_tokener *tok;
	struct scenario *s;
	char *buf;
	size_t len;
	FILE *f;
	int r;

	f = fopen(path, "re");
	if (f == NULL) {
		r = -errno;
		*reterr_msg = xstrfmt("%s", strerror(-r));
		return r;
	}
	buf = xmalloc(SCENARIO_MAX_BYTES + 1);
	len = fread(buf, 1, SCENARIO_MAX_BYTES + 1, f);
	buf[len < SCENARIO_MAX_BYTES ? len : SCENARIO_MAX_BYTES] = '\0';
	fclose(f);
	if (len > SCENARIO_MAX_BYTES) {
		free(buf);
		*reterr_msg = xstrdup("file is larger than 4 MiB");
		return -EFBIG;
	}
	s = xcalloc(1, sizeof(*s));
	s->validate = 1;
	tok = json_tokener_new_ex(32);
	s->root = json_tokener_parse_ex(tok, buf, (int)len);
	if (s->root == NULL ||
		json_tokener_get_error(tok) != json_tokener_success) {
		*reterr_msg = xstrfmt("invalid JSON near byte %zu: %s",
			json_tokener_get_parse_end(tok),
			json_tokener_error_desc(json_tokener_get_error(tok)));
		r = -EINVAL;
	} else if (strspn(buf + json_tokener_get_parse_end(tok), " \t\r\n") !=
		len - json_tokener_get_parse_end(tok)) {
		*reterr_msg = xstrfmt("trailing bytes after the JSON value "
				      "at byte %zu",
			json_tokener_get_parse_end(tok));
		r = -EINVAL;
	} else {
		r = scenario_parse(s, reterr_msg);
	}
	json_tokener_free(tok);
	free(buf);
	if (r < 0) {
		scenario_free(s);
		return r;
	}
	*ret_scenario = s;
	return 0;
}

/* The last message that is not user text next to tool results. */
static const struct conv_msg *
scenario_last(const struct conv *c)
{
	size_t i;

	for (i = c->nmsgs; i > 0; i--)
		if (c->msgs[i - 1].role != CONV_ASIDE)
			return &c->msgs[i - 1];
	return NULL;
}

static int
scenario_matches(
	struct json_object *match, const struct conv *c, unsigned request_no)
{
	const struct conv_msg *last = scenario_last(c);
	const char *s, *name;
	struct json_object *v;
	int anchor = conv_anchor(c);

	if (match == NULL)
		return 1;
	if (json_object_object_get_ex(match, "any", &v) &&
		!json_object_get_boolean(v))
		return 0;
	if (json_object_object_get_ex(match, "request", &v) &&
		(unsigned)json_object_get_int(v) != request_no)
		return 0;
	s = scenario_str(match, "user_contains");
	if (s != NULL &&
		(anchor < 0 || strstr(c->msgs[anchor].text, s) == NULL))
		return 0;
	s = scenario_str(match, "system_contains");
	if (s != NULL && strstr(c->system, s) == NULL)
		return 0;
	s = scenario_str(match, "tool_result");
	if (s != NULL) {
		if (last == NULL || last->role != CONV_TOOL_RESULT)
			return 0;
		name = conv_call_name(c, last->call_id);
		if (name == NULL || strcmp(name, s) != 0)
			return 0;
	}
	s = scenario_str(match, "tool_result_contains");
	if (s != NULL &&
		(last == NULL || last->role != CONV_TOOL_RESULT ||
			strstr(last->text, s) == NULL))
		return 0;
	s = scenario_str(match, "format");
	if (s != NULL &&
		strcmp(s,
			c->format == REPLY_OPENAI ? "openai"
				: c->format == REPLY_RESPONSES
				? "responses"
				: "anthropic") != 0)
		return 0;
	s = scenario_str(match, "model");
	if (s != NULL && strcmp(s, c->model) != 0)
		return 0;
	if (json_object_object_get_ex(match, "stream", &v) &&
		json_object_get_boolean(v) != c->stream)
		return 0;
	return 1;
}

static void
scenario_fail(struct reply *r, struct json_object *fail)
{
	size_t i;

	if (json_object_is_type(fail, json_type_string)) {
		for (i = 0; i < sizeof(scenario_shorthands) /
				sizeof(*scenario_shorthands);
			i++)
			if (strcmp(scenario_shorthands[i].name,
				    json_object_get_string(fail)) == 0) {
				reply_set_fail(r, scenario_shorthands[i].status,
					NULL, NULL, NULL);
				r->retry_after =
					scenario_shorthands[i].retry_after;
			}
		return;
	}
	reply_set_fail(r, scenario_int(fail, "status", 500),
		scenario_str(fail, "type"), scenario_str(fail, "code"),
		scenario_str(fail, "message"));
	r->retry_after = scenario_int(fail, "retry_after", -1);
	r->retry_after_ms = scenario_int(fail, "retry_after_ms", -1);
}

static struct reply *
scenario_content(
	struct json_object *jr, const struct conv *c, unsigned *tool_seq)
{
	struct reply *r = reply_new();
	struct json_object *calls, *tc, *args, *usage;
	const char *s, *id;
	char *gen;
	size_t i, n;

	if ((s = scenario_str(jr, "text")) != NULL)
		reply_set_text(r, s);
	if ((s = scenario_str(jr, "thinking")) != NULL)
		r->thinking = xstrdup(s);
	if ((s = scenario_str(jr, "signature")) != NULL)
		r->signature = xstrdup(s);
	if ((s = scenario_str(jr, "stop_reason")) != NULL)
		r->stop_reason = xstrdup(s);
	if ((s = scenario_str(jr, "replay")) != NULL)
		r->replay = xstrdup(s);
	r->text_chunks = scenario_int(jr, "chunks", r->text_chunks);
	r->args_chunks = scenario_int(jr, "args_chunks", r->args_chunks);
	if (json_object_object_get_ex(jr, "usage", &usage)) {
		r->input_tokens = scenario_int(usage, "input_tokens", -1);
		r->output_tokens = scenario_int(usage, "output_tokens", -1);
	}
	if (json_object_object_get_ex(jr, "tool_calls", &calls)) {
		n = json_object_array_length(calls);
		for (i = 0; i < n; i++) {
			tc = json_object_array_get_idx(calls, i);
			id = scenario_str(tc, "id");
			gen = id == NULL ? agent_call_id(c->format, ++*tool_seq)
					 : NULL;
			if (!json_object_object_get_ex(tc, "arguments", &args))
				s = "{}";
			else if (json_object_is_type(args, json_type_string))
				s = json_object_get_string(args);
			else
				s = json_object_to_json_string_ext(args,
					JSON_C_TO_STRING_PLAIN |
						JSON_C_TO_STRING_NOSLASHESCAPE);
			reply_add_tool(r, id != NULL ? id : gen,
				scenario_str(tc, "name"), s);
			free(gen);
		}
	}
	if (r->text == NULL && r->thinking == NULL && r->ntools == 0)
		reply_set_text(r, "");
	return r;
}

static void
scenario_stream(struct reply *r, struct json_object *st)
{
	const char *s;

	r->initial_delay_ms = scenario_int(st, "initial_delay_ms", -1);
	r->delay_ms = scenario_int(st, "delay_ms", -1);
	r->cut_after = scenario_int(st, "cut_after", -1);
	r->stall_after = scenario_int(st, "stall_after", -1);
	r->malformed_after = scenario_int(st, "malformed_after", -1);
	r->error_after = scenario_int(st, "error_after", -1);
	if ((s = scenario_str(st, "error_type")) != NULL)
		r->error_type = xstrdup(s);
	if ((s = scenario_str(st, "error_message")) != NULL)
		r->error_message = xstrdup(s);
	r->fragment = scenario_int(st, "fragment", 0);
	r->pieces = scenario_int(st, "pieces", 0);
	r->pieces_seed = scenario_int(st, "pieces_seed", -1);
}

/*
 * The reply of the first rule that matches request number request_no
 * (1-based), or NULL when none does.  Counts the rule's use.
 */
struct reply *
scenario_reply(struct scenario *s, const struct conv *c, unsigned request_no,
	unsigned *tool_seq)
{
	struct json_object *match = NULL, *v;
	struct scenario_rule *rule;
	struct reply *r;
	size_t i;

	for (i = 0; i < s->nrules; i++) {
		rule = &s->rules[i];
		if (rule->times >= 0 && rule->used >= rule->times)
			continue;
		match = NULL;
		json_object_object_get_ex(rule->json, "match", &match);
		if (scenario_matches(match, c, request_no))
			break;
	}
	if (i == s->nrules)
		return NULL;
	rule->used++;
	if (json_object_object_get_ex(rule->json, "fail", &v)) {
		r = reply_new();
		scenario_fail(r, v);
	} else if (json_object_object_get_ex(rule->json, "reply", &v)) {
		r = scenario_content(v, c, tool_seq);
	} else {
		r = agent_reply(c, 0, tool_seq);
	}
	if (json_object_object_get_ex(rule->json, "stream", &v))
		scenario_stream(r, v);
	r->source = "rule";
	r->rule = (int)i;
	return r;
}

/* What happens when no rule matched. */
enum scenario_fallback
scenario_fallback(const struct scenario *s)
{
	return s->fallback;
}

/* Whether requests get the tool pairing check. */
int
scenario_validates(const struct scenario *s)
{
	return s->validate;
}

/* Free a scenario; NULL-safe. */
void
scenario_free(struct scenario *s)
{
	if (s == NULL)
		return;
	json_object_put(s->root);
	free(s->rules);
	free(s);
}
