/* SPDX-License-Identifier: ISC */
#include <errno.h>
#include <fnmatch.h>
#include <stdlib.h>
#include <string.h>

#include <json-c/json.h>

#include "common/approval_policy.h"
#include "common/xmalloc.h"

static const char *const approval_policy_levels[] = { "never", "writes", "bash",
	"always" };

/* The wire name of level l. */
const char *
approval_level_name(enum approval_level l)
{
	if ((unsigned)l > APPROVAL_ALWAYS)
		return "never";
	return approval_policy_levels[l];
}

/* Parse a level name. */
int
approval_level_parse(const char *s, enum approval_level *ret)
{
	int i;

	for (i = 0; s != NULL && i <= APPROVAL_ALWAYS; i++)
		if (strcmp(s, approval_policy_levels[i]) == 0) {
			*ret = (enum approval_level)i;
			return 0;
		}
	return -EINVAL;
}

static const char *const approval_policy_asks[] = { "auto", "clients",
	"parent" };

/* The wire name of ask mode a. */
const char *
approval_ask_name(enum approval_ask a)
{
	if ((unsigned)a > APPROVAL_ASK_PARENT)
		return "auto";
	return approval_policy_asks[a];
}

/* Parse an ask mode name. */
int
approval_ask_parse(const char *s, enum approval_ask *ret)
{
	int i;

	for (i = 0; s != NULL && i <= APPROVAL_ASK_PARENT; i++)
		if (strcmp(s, approval_policy_asks[i]) == 0) {
			*ret = (enum approval_ask)i;
			return 0;
		}
	return -EINVAL;
}

/* Check one allow rule's syntax. */
int
approval_rule_check(const char *rule, char **reterr_msg)
{
	if (rule == NULL || strlen(rule) > APPROVAL_MAX_RULE_LEN) {
		*reterr_msg = xstrfmt("an allow rule must be a string of at "
				      "most %d bytes",
			APPROVAL_MAX_RULE_LEN);
		return -EINVAL;
	}
	if ((strncmp(rule, "bash:", 5) == 0 && rule[5] != '\0') ||
		(strncmp(rule, "path:", 5) == 0 && rule[5] == '/') ||
		(strncmp(rule, "tool:", 5) == 0 && rule[5] != '\0'))
		return 0;
	*reterr_msg = xstrfmt("bad allow rule \"%.80s\": write bash:PREFIX, "
			      "path:/ABS/GLOB or tool:GLOB",
		rule);
	return -EINVAL;
}

/* Is rule in p? */
bool
approval_policy_has(const struct approval_policy *p, const char *rule)
{
	size_t i;

	for (i = 0; i < p->nallow; i++)
		if (strcmp(p->allow[i], rule) == 0)
			return true;
	return false;
}

/* Add rule (copied) unless present. */
int
approval_policy_add(
	struct approval_policy *p, const char *rule, char **reterr_msg)
{
	char *err = NULL;
	int r;

	if ((r = approval_rule_check(rule, &err)) == 0 &&
		!approval_policy_has(p, rule) &&
		p->nallow >= APPROVAL_MAX_RULES) {
		err = xstrfmt("more than %d allow rules", APPROVAL_MAX_RULES);
		r = -E2BIG;
	}
	if (r < 0) {
		if (reterr_msg != NULL)
			*reterr_msg = err;
		else
			free(err);
		return r;
	}
	if (approval_policy_has(p, rule))
		return 0;
	p->allow = xreallocarray(p->allow, p->nallow + 1, sizeof *p->allow);
	p->allow[p->nallow++] = xstrdup(rule);
	return 0;
}

/* Copy src into dst (cleared first). */
void
approval_policy_copy(
	struct approval_policy *dst, const struct approval_policy *src)
{
	size_t i;

	approval_policy_clear(dst);
	dst->level = src->level;
	dst->ask = src->ask;
	dst->timeout_s = src->timeout_s;
	if (src->nallow == 0)
		return;
	dst->allow = xcalloc(src->nallow, sizeof *dst->allow);
	for (i = 0; i < src->nallow; i++)
		dst->allow[i] = xstrdup(src->allow[i]);
	dst->nallow = src->nallow;
}

/* Free the rules and reset p to never. NULL-safe. */
void
approval_policy_clear(struct approval_policy *p)
{
	size_t i;

	if (p == NULL)
		return;
	for (i = 0; i < p->nallow; i++)
		free(p->allow[i]);
	free(p->allow);
	memset(p, 0, sizeof *p);
}

/* The wire/state form of p. */
struct json_object *
approval_policy_to_json(const struct approval_policy *p)
{
	struct json_object *o = json_object_new_object(), *a;
	size_t i;

	json_object_object_add(o, "policy",
		json_object_new_string(approval_level_name(p->level)));
	a = json_object_new_array();
	for (i = 0; i < p->nallow; i++)
		json_object_array_add(a, json_object_new_string(p->allow[i]));
	json_object_object_add(o, "allow", a);
	if (p->timeout_s > 0)
		json_object_object_add(
			o, "timeout_s", json_object_new_int64(p->timeout_s));
	json_object_object_add(
		o, "ask", json_object_new_string(approval_ask_name(p->ask)));
	return o;
}

/* Overlay the present fields of o on p. */
int
approval_policy_from_json(struct approval_policy *p,
	const struct json_object *o, char **reterr_msg)
{
	struct approval_policy n = { 0 };
	struct json_object *v, *rule;
	enum approval_level l;
	enum approval_ask a;
	char *err = NULL;
	size_t i, len;

	if (!json_object_is_type(o, json_type_object)) {
		*reterr_msg = xstrdup("\"approval\" must be an object "
				      "{policy, allow, timeout_s}");
		return -EINVAL;
	}
	approval_policy_copy(&n, p);
	if (json_object_object_get_ex(o, "policy", &v)) {
		if (!json_object_is_type(v, json_type_string) ||
			approval_level_parse(json_object_get_string(v), &l) <
				0) {
			*reterr_msg = xstrdup("\"approval.policy\" must be "
					      "\"never\", \"writes\", "
					      "\"bash\" or \"always\"");
			goto fail;
		}
		n.level = l;
	}
	if (json_object_object_get_ex(o, "allow", &v)) {
		if (!json_object_is_type(v, json_type_array)) {
			*reterr_msg = xstrdup("\"approval.allow\" must be an "
					      "array of rule strings");
			goto fail;
		}
		for (i = 0; i < n.nallow; i++)
			free(n.allow[i]);
		n.nallow = 0;
		len = json_object_array_length(v);
		for (i = 0; i < len; i++) {
			rule = json_object_array_get_idx(v, i);
			if (!json_object_is_type(rule, json_type_string) ||
				approval_policy_add(&n,
					json_object_get_string(rule),
					&err) < 0) {
				*reterr_msg = xstrfmt(
					"\"approval.allow[%zu]\": "
					"%s",
					i, err ? err : "must be a string");
				free(err);
				goto fail;
			}
		}
	}
	if (json_object_object_get_ex(o, "timeout_s", &v) &&
		!json_object_is_type(v, json_type_null)) {
		if (!json_object_is_type(v, json_type_int) ||
			json_object_get_int64(v) < 0 ||
			json_object_get_int64(v) > 30L * 86400) {
			*reterr_msg = xstrdup("\"approval.timeout_s\" must be "
					      "seconds from 0 (none) to "
					      "2592000");
			goto fail;
		}
		n.timeout_s = (long)json_object_get_int64(v);
	}
	if (json_object_object_get_ex(o, "ask", &v)) {
		if (!json_object_is_type(v, json_type_string) ||
			approval_ask_parse(json_object_get_string(v), &a) < 0) {
			*reterr_msg = xstrdup("\"approval.ask\" must be "
					      "\"auto\", \"clients\" or "
					      "\"parent\"");
			goto fail;
		}
		n.ask = a;
	}
	approval_policy_clear(p);
	*p = n;
	return 0;
fail:
	approval_policy_clear(&n);
	return -EINVAL;
}

/* Does parent's rule pr cover child's rule cr? */
static bool
approval_policy_covers(const char *pr, const char *cr)
{
	size_t n;

	if (strcmp(pr, cr) == 0)
		return true;
	if (strncmp(pr, cr, 5) != 0)
		return false;
	if (strncmp(pr, "bash:", 5) == 0) {
		n = strlen(pr);
		return strncmp(pr, cr, n) == 0 && cr[n] == ' ';
	}
	/* A glob that matches the child's glob as a string covers it. */
	return fnmatch(pr + 5, cr + 5, 0) == 0;
}

/* Is child at least as strict as parent? */
int
approval_policy_narrows(const struct approval_policy *child,
	const struct approval_policy *parent, char **reterr_msg)
{
	size_t i, j;

	if (child->level < parent->level) {
		*reterr_msg = xstrfmt("approval policy \"%s\" is looser than "
				      "the parent's \"%s\"",
			approval_level_name(child->level),
			approval_level_name(parent->level));
		return -EPERM;
	}
	for (i = 0; i < child->nallow; i++) {
		for (j = 0; j < parent->nallow; j++)
			if (approval_policy_covers(
				    parent->allow[j], child->allow[i]))
				break;
		if (j == parent->nallow) {
			*reterr_msg = xstrfmt("approval allow rule \"%.80s\" "
					      "is looser than the parent's "
					      "rules",
				child->allow[i]);
			return -EPERM;
		}
	}
	return 0;
}

static const char *
approval_policy_arg(const struct json_object *args, const char *key)
{
	struct json_object *v;

	if (args == NULL || !json_object_object_get_ex(args, key, &v) ||
		!json_object_is_type(v, json_type_string))
		return NULL;
	return json_object_get_string(v);
}

static bool
approval_policy_bash_ok(const char *rule, const char *cmd)
{
	size_t n = strlen(rule);

	if (strcmp(rule, cmd) == 0)
		return true;
	if (strncmp(rule, cmd, n) != 0 || cmd[n] != ' ')
		return false;
	return strpbrk(cmd, ";&|`$()<>\n\r") == NULL;
}

/* Does a call need a yes? */
bool
approval_policy_needs(const struct approval_policy *p, const char *tool,
	const struct json_object *args, const char *path)
{
	bool file = strcmp(tool, "write") == 0 || strcmp(tool, "edit") == 0;
	bool bash = strcmp(tool, "bash") == 0;
	const char *cmd;
	size_t i;

	switch (p->level) {
	case APPROVAL_NEVER:
		return false;
	case APPROVAL_WRITES:
		if (!file)
			return false;
		break;
	case APPROVAL_BASH:
		if (!file && !bash && strncmp(tool, "mcp__", 5) != 0)
			return false;
		break;
	case APPROVAL_ALWAYS:
		break;
	}
	cmd = bash ? approval_policy_arg(args, "command") : NULL;
	for (i = 0; i < p->nallow; i++) {
		const char *r = p->allow[i];

		if (strncmp(r, "tool:", 5) == 0 && fnmatch(r + 5, tool, 0) == 0)
			return false;
		if (cmd != NULL && strncmp(r, "bash:", 5) == 0 &&
			approval_policy_bash_ok(r + 5, cmd))
			return false;
		if (file && path != NULL && strncmp(r, "path:", 5) == 0 &&
			fnmatch(r + 5, path, 0) == 0)
			return false;
	}
	return true;
}

/* The rule allow_always adds for a call. */
char *
approval_rule_for_call(
	const char *tool, const struct json_object *args, const char *path)
{
	const char *cmd, *s;
	char *rule, *o;

	if (strcmp(tool, "bash") == 0) {
		cmd = approval_policy_arg(args, "command");
		if (cmd == NULL || cmd[0] == '\0' ||
			strlen(cmd) > APPROVAL_MAX_RULE_LEN - 5)
			return NULL;
		return xstrfmt("bash:%s", cmd);
	}
	if (strcmp(tool, "write") == 0 || strcmp(tool, "edit") == 0) {
		if (path == NULL || path[0] != '/' ||
			strlen(path) * 2 > APPROVAL_MAX_RULE_LEN - 5)
			return NULL;
		/* The path itself, its glob characters escaped. */
		rule = o = xmalloc(5 + strlen(path) * 2 + 1);
		memcpy(o, "path:", 5);
		o += 5;
		for (s = path; *s != '\0'; s++) {
			if (strchr("*?[\\", *s) != NULL)
				*o++ = '\\';
			*o++ = *s;
		}
		*o = '\0';
		return rule;
	}
	if (strlen(tool) > APPROVAL_MAX_RULE_LEN - 5)
		return NULL;
	return xstrfmt("tool:%s", tool);
}
