/* SPDX-License-Identifier: ISC */
#include "worker/compact_plan.h"

#include <errno.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

#include <json-c/json.h>

#include "common/xmalloc.h"
#include "proto/msg.h"
#include "worker/session.h"
#include "worker/usage.h"

static const char compact_plan_prompt[] =
	"You are compacting the history of a long-running agent so that it "
	"can go on working within its model's context window. The "
	"conversation so far is above. Write a summary of it for the agent "
	"itself, complete enough that it can continue without the original "
	"messages. Include, under short headings: the user's goals and "
	"constraints; decisions made and why; files created, read or changed "
	"(full paths) and their current state; commands run and results that "
	"still matter; open work and the next steps; and the user's most "
	"recent request, quoted verbatim. Be concise, keep names, paths, "
	"numbers and identifiers exact, and do not call tools: answer with "
	"the summary text only.";

/* The summarising request's system prompt. */
const char *
compact_plan_system(void)
{
	return compact_plan_prompt;
}

static const char *
compact_plan_kind(struct json_object *e)
{
	struct json_object *v;

	if (!json_object_object_get_ex(e, "kind", &v) ||
		!json_object_is_type(v, json_type_string))
		return "";
	return json_object_get_string(v);
}

/* Tool result ids seen (walking backwards) without their call yet. */
static void
compact_plan_track(
	struct json_object *open, struct json_object *e, const char *kind)
{
	struct json_object *calls, *call;
	const char *id;
	size_t i;

	if (strcmp(kind, "tool_result") == 0) {
		id = msg_json_str(e, "id");
		json_object_object_add(open, id ? id : "", NULL);
		return;
	}
	if (strcmp(kind, "assistant") != 0 ||
		!json_object_object_get_ex(e, "tool_calls", &calls) ||
		!json_object_is_type(calls, json_type_array))
		return;
	for (i = 0; i < json_object_array_length(calls); i++) {
		call = json_object_array_get_idx(calls, i);
		id = msg_json_str(call, "id");
		json_object_object_del(open, id ? id : "");
	}
}

/* A cut before e keeps every tool call with its results. */
static bool
compact_plan_boundary(struct json_object *open, const char *kind)
{
	return strcmp(kind, "tool_result") != 0 &&
		json_object_object_length(open) == 0;
}

/* An entry's size in the summarising request (outputs cut). */
static int64_t
compact_plan_tokens(struct json_object *e, const char *kind)
{
	const char *out;
	int64_t n;

	if (strcmp(kind, "usage") == 0 || strcmp(kind, "turn_end") == 0 ||
		strcmp(kind, "run_end") == 0)
		return 0;
	n = usage_entry_tokens(e);
	out = msg_json_str(e, "output");
	if (strcmp(kind, "tool_result") == 0 && out != NULL &&
		strlen(out) > COMPACT_PLAN_OUTPUT_MAX)
		n -= usage_estimate(strlen(out) - COMPACT_PLAN_OUTPUT_MAX);
	return n;
}

static struct json_object *
compact_plan_request_entry(struct json_object *e, const char *kind)
{
	struct json_object *c;
	struct json_object_iter it;
	const char *out;
	char *cut;

	out = msg_json_str(e, "output");
	if (strcmp(kind, "tool_result") != 0 || out == NULL ||
		strlen(out) <= COMPACT_PLAN_OUTPUT_MAX)
		return json_object_get(e);
	c = json_object_new_object();
	json_object_object_foreachC(e, it)
	{
		if (strcmp(it.key, "output") != 0)
			json_object_object_add(
				c, it.key, json_object_get(it.val));
	}
	cut = xstrfmt("%.*s\n[output cut for the summary]",
		COMPACT_PLAN_OUTPUT_MAX, out);
	json_object_object_add(c, "output", json_object_new_string(cut));
	free(cut);
	return c;
}

static char *
compact_plan_user_text(struct json_object *e)
{
	struct json_object *segs, *seg;
	const char *s;
	char *out = NULL, *tmp;
	size_t i;

	if (!json_object_object_get_ex(e, "segments", &segs) ||
		!json_object_is_type(segs, json_type_array))
		return NULL;
	for (i = 0; i < json_object_array_length(segs); i++) {
		seg = json_object_array_get_idx(segs, i);
		s = msg_json_str(seg, "content");
		if (s == NULL)
			s = msg_json_str(seg, "path");
		if (s == NULL)
			continue;
		tmp = xstrfmt("%s%s%s", out ? out : "", out ? "\n\n" : "", s);
		free(out);
		out = tmp;
	}
	return out;
}

static struct json_object *
compact_plan_item(const char *type, const char *text)
{
	struct json_object *e, *item;

	item = json_object_new_object();
	json_object_object_add(item, "type", json_object_new_string(type));
	json_object_object_add(item, "text", json_object_new_string(text));
	e = session_entry_new("system_item");
	json_object_object_add(e, "item", item);
	return e;
}

static void
compact_plan_request(struct compact_plan *p, struct json_object *entries,
	const char *instruction)
{
	struct json_object *req, *e, *segs, *seg;
	const char *kind;
	char *text;
	size_t i;

	req = json_object_new_array();
	/* segment_start carries the previous summary, if any. */
	json_object_array_add(
		req, json_object_get(json_object_array_get_idx(entries, 0)));
	for (i = p->from; i < p->cut; i++) {
		e = json_object_array_get_idx(entries, i);
		kind = compact_plan_kind(e);
		if (i == p->from && strcmp(kind, "assistant") == 0)
			json_object_array_add(req,
				compact_plan_item("compaction",
					"(earlier conversation)"));
		json_object_array_add(req, compact_plan_request_entry(e, kind));
	}
	text = xstrfmt("Summarise the conversation above now, as your "
		       "instructions say.%s%s%s",
		p->from > 1 ? " Its oldest part was left out; the earlier "
			      "summary, if any, covers it."
			    : "",
		instruction && *instruction ? "\n\nAdditional instruction: "
					    : "",
		instruction && *instruction ? instruction : "");
	seg = json_object_new_object();
	json_object_object_add(seg, "kind", json_object_new_string("text"));
	json_object_object_add(seg, "content", json_object_new_string(text));
	free(text);
	segs = json_object_new_array();
	json_object_array_add(segs, seg);
	e = session_entry_new("user_input");
	json_object_object_add(e, "segments", segs);
	json_object_array_add(req, e);
	p->request = req;
}

/* Choose the tail and the summarised part, build the request. */
int
compact_plan_make(struct json_object *entries, int64_t retain_tokens,
	int64_t budget_tokens, const char *instruction,
	struct compact_plan *ret, char **reterr_msg)
{
	struct compact_plan p = { 0 };
	struct json_object *open, *e;
	const char *kind;
	int64_t tok, older = 0;
	size_t i, n, last_user = 0;

	n = json_object_array_length(entries);
	open = json_object_new_object();
	/* The tail: the newest boundary with at least retain_tokens after. */
	for (i = n; i > 1; i--) {
		e = json_object_array_get_idx(entries, i - 1);
		kind = compact_plan_kind(e);
		if (last_user == 0 && strcmp(kind, "user_input") == 0)
			last_user = i - 1;
		if (strcmp(kind, "usage") != 0)
			p.tail_tokens += usage_entry_tokens(e);
		compact_plan_track(open, e, kind);
		if (compact_plan_boundary(open, kind) &&
			p.tail_tokens >= retain_tokens) {
			p.cut = i - 1;
			break;
		}
	}
	if (p.cut <= 1) {
		json_object_put(open);
		*reterr_msg = xstrfmt("nothing to compact: the history "
				      "(%lld tokens) fits the %lld tokens kept "
				      "verbatim",
			(long long)p.tail_tokens, (long long)retain_tokens);
		return -ENODATA;
	}
	/* The older part: as much as the budget allows, newest first. */
	p.from = p.cut;
	for (i = p.cut; i > 1; i--) {
		e = json_object_array_get_idx(entries, i - 1);
		kind = compact_plan_kind(e);
		if (last_user == 0 && strcmp(kind, "user_input") == 0)
			last_user = i - 1;
		tok = compact_plan_tokens(e, kind);
		if (older + tok > budget_tokens)
			break;
		older += tok;
		compact_plan_track(open, e, kind);
		if (compact_plan_boundary(open, kind)) {
			p.from = i - 1;
			p.older_tokens = older;
		}
	}
	json_object_put(open);
	if (p.from == p.cut) {
		*reterr_msg = xstrfmt("nothing to compact: the entry before "
				      "the kept tail alone is over the summary "
				      "budget of %lld tokens",
			(long long)budget_tokens);
		return -ENODATA;
	}
	/* Search further back only if the older part had none either. */
	for (i = p.from; last_user == 0 && i > 1; i--)
		if (strcmp(compact_plan_kind(
				   json_object_array_get_idx(entries, i - 1)),
			    "user_input") == 0)
			last_user = i - 1;
	if (last_user != 0 && last_user < p.cut)
		p.last_user = compact_plan_user_text(
			json_object_array_get_idx(entries, last_user));
	p.nentries = n;
	compact_plan_request(&p, entries, instruction);
	*ret = p;
	return 0;
}

/* Free what the plan holds. */
void
compact_plan_clear(struct compact_plan *p)
{
	json_object_put(p->request);
	free(p->last_user);
	memset(p, 0, sizeof *p);
}

/* The model's summary plus the last user request verbatim if needed. */
char *
compact_plan_summary(const struct compact_plan *p, const char *text)
{
	if (p->last_user == NULL)
		return xstrdup(text);
	return xstrfmt("%s\n\nThe user's most recent request, verbatim:\n%s",
		text, p->last_user);
}
