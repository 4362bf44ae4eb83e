/* SPDX-License-Identifier: ISC */
#include "common/scope.h"

#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <json.h>

#include "common/xmalloc.h"

/* Symlinks followed while resolving dangling links, as the kernel does. */
#define SCOPE_MAX_HOPS 40
/* Longest piece of user input quoted back in an error sentence. */
#define SCOPE_QUOTE_MAX 200

/* Next component of path p (slashes skipped) and its length, or NULL. */
static const char *
scope_next_comp(const char *p, size_t *ret_len)
{
	while (*p == '/')
		p++;
	if (*p == '\0')
		return NULL;
	*ret_len = strchrnul(p, '/') - p;
	return p;
}

static bool
scope_comp_is(const char *comp, size_t len, const char *what)
{
	return len == strlen(what) && memcmp(comp, what, len) == 0;
}

/* Append "/comp" to the canonical path in buf (PATH_MAX bytes). */
static int
scope_append(char *buf, const char *comp, size_t len)
{
	size_t n = strlen(buf);

	if (n == 1)
		n = 0; /* buf is "/" */
	if (n + 1 + len >= PATH_MAX)
		return -ENAMETOOLONG;
	buf[n] = '/';
	memcpy(buf + n + 1, comp, len);
	buf[n + 1 + len] = '\0';
	return 0;
}

/* Append the missing tail starting at p, refusing "..". */
static int
scope_append_tail(char *buf, const char *p, bool *ret_dotdot)
{
	const char *comp;
	size_t len;
	int r;

	while ((comp = scope_next_comp(p, &len)) != NULL) {
		p = comp + len;
		if (scope_comp_is(comp, len, "."))
			continue;
		if (scope_comp_is(comp, len, "..")) {
			*ret_dotdot = true;
			return -EACCES;
		}
		if ((r = scope_append(buf, comp, len)) < 0)
			return r;
	}
	return 0;
}

/*
 * Resolve the absolute path work into buf.  Components are resolved one at
 * a time against the canonical prefix; the first one that does not exist
 * starts the missing tail, unless it is a dangling symlink, whose target
 * then replaces it (*ret_next receives the new path to restart with).
 */
static int
scope_resolve(const char *work, char *buf, char **ret_next, bool *ret_dotdot)
{
	char cand[PATH_MAX], res[PATH_MAX], link[PATH_MAX];
	const char *p = work, *comp;
	struct stat st;
	size_t len;
	ssize_t n;
	int r;

	strcpy(buf, "/");
	while ((comp = scope_next_comp(p, &len)) != NULL) {
		if (scope_comp_is(comp, len, ".")) {
			p = comp + len;
			continue;
		}
		strcpy(cand, buf);
		if ((r = scope_append(cand, comp, len)) < 0)
			return r;
		if (realpath(cand, res) != NULL) {
			strcpy(buf, res);
			p = comp + len;
			continue;
		}
		r = -errno;
		if (r != -ENOENT && r != -ENOTDIR)
			return r;
		if (r == -ENOENT && lstat(cand, &st) == 0 &&
			S_ISLNK(st.st_mode)) {
			n = readlink(cand, link, sizeof link - 1);
			if (n > 0) {
				link[n] = '\0';
				if (link[0] == '/')
					*ret_next = xstrfmt(
						"%s/%s", link, comp + len);
				else
					*ret_next = xstrfmt("%s/%s/%s", buf,
						link, comp + len);
				return 0;
			}
		}
		return scope_append_tail(buf, comp, ret_dotdot);
	}
	return 0;
}

/*
 * scope_normalize(), also telling an -EACCES for a ".." in the missing
 * tail (*ret_dotdot set) from one for a directory that cannot be searched.
 */
static int
scope_normalize_ex(
	const char *path, const char *cwd, char **ret_path, bool *ret_dotdot)
{
	char buf[PATH_MAX];
	char *work, *next;
	int hops = 0, r;

	if (path == NULL || *path == '\0')
		return -EINVAL;
	if (path[0] != '/') {
		if (cwd == NULL || cwd[0] != '/')
			return -EINVAL;
		work = xstrfmt("%s/%s", cwd, path);
	} else
		work = xstrdup(path);

	for (;;) {
		if (strlen(work) >= PATH_MAX) {
			r = -ENAMETOOLONG;
			break;
		}
		/* Fast path: everything exists. */
		if (realpath(work, buf) != NULL) {
			r = 0;
			break;
		}
		next = NULL;
		r = scope_resolve(work, buf, &next, ret_dotdot);
		if (r < 0 || next == NULL)
			break;
		free(work);
		work = next;
		if (++hops > SCOPE_MAX_HOPS) {
			r = -ELOOP;
			break;
		}
	}
	free(work);
	if (r < 0)
		return r;
	*ret_path = xstrdup(buf);
	return 0;
}

/* Normalise path against cwd; see scope.h. */
int
scope_normalize(const char *path, const char *cwd, char **ret_path)
{
	bool dotdot = false;

	return scope_normalize_ex(path, cwd, ret_path, &dotdot);
}

/* True if path is base or lies beneath it (both normalised). */
bool
scope_path_under(const char *base, const char *path)
{
	size_t n = strlen(base);

	if (n == 1 && base[0] == '/')
		return path[0] == '/';
	if (strncmp(base, path, n) != 0)
		return false;
	return path[n] == '\0' || path[n] == '/';
}

/* True if path is a direct child of base (both normalised). */
static bool
scope_path_child(const char *base, const char *path)
{
	size_t n = strlen(base);

	if (n == 1 && base[0] == '/')
		n = 0;
	else if (strncmp(base, path, n) != 0)
		return false;
	if (path[n] != '/' || path[n + 1] == '\0')
		return false;
	return strchr(path + n + 1, '/') == NULL;
}

/* True if rule's coverage contains the normalised path. */
bool
scope_rule_covers_path(const struct scope_rule *rule, const char *path)
{
	if (rule->recursive)
		return scope_path_under(rule->target, path);
	return strcmp(rule->target, path) == 0 ||
		scope_path_child(rule->target, path);
}

/*
 * Every coverage is closed between its target and any path it holds, so
 * two coverages meet exactly when one holds the other's target.
 */
bool
scope_rules_overlap(const struct scope_rule *a, const struct scope_rule *b)
{
	return scope_rule_covers_path(a, b->target) ||
		scope_rule_covers_path(b, a->target);
}

/* Append a copy of rule (target duplicated). */
void
scope_rules_add(struct scope_rules *rules, const struct scope_rule *rule)
{
	if (rules->n == rules->cap) {
		rules->cap = rules->cap ? rules->cap * 2 : 4;
		rules->v =
			xreallocarray(rules->v, rules->cap, sizeof *rules->v);
	}
	rules->v[rules->n] = *rule;
	rules->v[rules->n].target = xstrdup(rule->target);
	rules->n++;
}

/* Append copies of all of src's rules to dst. */
void
scope_rules_copy(struct scope_rules *dst, const struct scope_rules *src)
{
	size_t i;

	for (i = 0; i < src->n; i++)
		scope_rules_add(dst, &src->v[i]);
}

/* Free every rule and the vector; rules is empty and reusable after. */
void
scope_rules_clear(struct scope_rules *rules)
{
	size_t i;

	if (rules == NULL)
		return;
	for (i = 0; i < rules->n; i++)
		free(rules->v[i].target);
	free(rules->v);
	rules->v = NULL;
	rules->n = rules->cap = 0;
}

static bool
scope_rule_equal(const struct scope_rule *a, const struct scope_rule *b)
{
	return a->perm == b->perm && a->recursive == b->recursive &&
		a->deny == b->deny && strcmp(a->target, b->target) == 0;
}

/* Index of an equal rule in rules, or -1. */
long
scope_rules_find(const struct scope_rules *rules, const struct scope_rule *rule)
{
	size_t i;

	for (i = 0; i < rules->n; i++) {
		if (scope_rule_equal(&rules->v[i], rule))
			return (long)i;
	}
	return -1;
}

/* Free the target of a single rule (not the rule itself). */
void
scope_rule_clear(struct scope_rule *rule)
{
	if (rule == NULL)
		return;
	free(rule->target);
	rule->target = NULL;
}

/* Error sentence for a failed normalisation of what (a field name). */
static char *
scope_normalize_error(const char *what, int r, bool have_cwd, bool dotdot)
{
	switch (r) {
	case -EINVAL:
		if (!have_cwd)
			return xstrfmt("%s must be an absolute path", what);
		return xstrfmt("%s must be a non-empty path", what);
	case -EACCES:
		if (!dotdot)
			return xstrfmt("%s cannot be resolved: a directory on "
				       "it cannot be searched",
				what);
		return xstrfmt("%s has \"..\" below a directory that does "
			       "not exist",
			what);
	case -ENAMETOOLONG:
		return xstrfmt("%s is too long", what);
	case -ELOOP:
		return xstrfmt(
			"%s has too many levels of symbolic links", what);
	default:
		return xstrfmt("%s cannot be resolved: %s", what, strerror(-r));
	}
}

/* Parse one rule named name ("scope[2]") into *ret_rule. */
static int
scope_rule_from_json_named(struct json_object *obj, const char *cwd,
	const char *name, struct scope_rule *ret_rule, char **reterr_msg)
{
	struct json_object *v;
	struct scope_rule rule = { NULL, SCOPE_READ, true, false };
	struct json_object_iterator it, end;
	const char *perm, *key, *target = NULL;
	bool dotdot = false;
	char *field;
	int r;

	if (!json_object_is_type(obj, json_type_object)) {
		*reterr_msg = xstrfmt("%s must be an object", name);
		return -EINVAL;
	}
	it = json_object_iter_begin(obj);
	end = json_object_iter_end(obj);
	for (; !json_object_iter_equal(&it, &end); json_object_iter_next(&it)) {
		key = json_object_iter_peek_name(&it);
		if (strcmp(key, "target") != 0 &&
			strcmp(key, "permission") != 0 &&
			strcmp(key, "recursive") != 0 &&
			strcmp(key, "deny") != 0) {
			*reterr_msg = xstrfmt("%s has unknown field \"%.*s\"",
				name, SCOPE_QUOTE_MAX, key);
			return -EINVAL;
		}
	}

	if (!json_object_object_get_ex(obj, "permission", &v) ||
		!json_object_is_type(v, json_type_string)) {
		*reterr_msg = xstrfmt("%s.permission must be \"read\" or "
				      "\"write\"",
			name);
		return -EINVAL;
	}
	perm = json_object_get_string(v);
	if (strcmp(perm, "read") == 0)
		rule.perm = SCOPE_READ;
	else if (strcmp(perm, "write") == 0)
		rule.perm = SCOPE_WRITE;
	else {
		*reterr_msg = xstrfmt("%s.permission must be \"read\" or "
				      "\"write\"",
			name);
		return -EINVAL;
	}

	if (json_object_object_get_ex(obj, "recursive", &v)) {
		if (!json_object_is_type(v, json_type_boolean)) {
			*reterr_msg =
				xstrfmt("%s.recursive must be a boolean", name);
			return -EINVAL;
		}
		rule.recursive = json_object_get_boolean(v);
	}
	if (json_object_object_get_ex(obj, "deny", &v)) {
		if (!json_object_is_type(v, json_type_boolean)) {
			*reterr_msg =
				xstrfmt("%s.deny must be a boolean", name);
			return -EINVAL;
		}
		rule.deny = json_object_get_boolean(v);
	}

	if (json_object_object_get_ex(obj, "target", &v) &&
		json_object_is_type(v, json_type_string))
		target = json_object_get_string(v);
	if (target == NULL || *target == '\0') {
		*reterr_msg = xstrfmt("%s.target must be a non-empty path "
				      "string",
			name);
		return -EINVAL;
	}
	field = xstrfmt("%s.target", name);
	if (strlen(target) != (size_t)json_object_get_string_len(v)) {
		*reterr_msg = xstrfmt("%s must not contain NUL bytes", field);
		free(field);
		return -EINVAL;
	}
	if ((r = scope_normalize_ex(target, cwd, &rule.target, &dotdot)) < 0) {
		*reterr_msg =
			scope_normalize_error(field, r, cwd != NULL, dotdot);
		free(field);
		return r;
	}
	free(field);
	*ret_rule = rule;
	return 0;
}

/* Parse one rule from JSON; see scope.h. */
int
scope_rule_from_json(struct json_object *obj, const char *cwd,
	struct scope_rule *ret_rule, char **reterr_msg)
{
	return scope_rule_from_json_named(
		obj, cwd, "scope rule", ret_rule, reterr_msg);
}

/* Parse an array of rules from JSON; *ret_rules is set only on success. */
int
scope_rules_from_json(struct json_object *arr, const char *cwd,
	struct scope_rules *ret_rules, char **reterr_msg)
{
	struct scope_rules rules = { NULL, 0, 0 };
	struct scope_rule rule;
	char name[64];
	size_t i, n;
	int r;

	if (!json_object_is_type(arr, json_type_array)) {
		*reterr_msg = xstrdup("scope must be an array of rules");
		return -EINVAL;
	}
	n = json_object_array_length(arr);
	if (n > SCOPE_MAX_RULES) {
		*reterr_msg = xstrfmt("scope has %zu rules, at most %d are "
				      "allowed",
			n, SCOPE_MAX_RULES);
		return -EINVAL;
	}
	for (i = 0; i < n; i++) {
		snprintf(name, sizeof name, "scope[%zu]", i);
		r = scope_rule_from_json_named(
			json_object_array_get_idx(arr, i), cwd, name, &rule,
			reterr_msg);
		if (r < 0) {
			scope_rules_clear(&rules);
			return r;
		}
		scope_rules_add(&rules, &rule);
		scope_rule_clear(&rule);
	}
	*ret_rules = rules;
	return 0;
}

/* New JSON object for rule; the caller owns the reference. */
struct json_object *
scope_rule_to_json(const struct scope_rule *rule)
{
	struct json_object *obj = json_object_new_object();

	json_object_object_add(
		obj, "target", json_object_new_string(rule->target));
	json_object_object_add(obj, "permission",
		json_object_new_string(
			rule->perm == SCOPE_WRITE ? "write" : "read"));
	json_object_object_add(
		obj, "recursive", json_object_new_boolean(rule->recursive));
	if (rule->deny)
		json_object_object_add(obj, "deny", json_object_new_boolean(1));
	return obj;
}

/* New JSON array for rules; the caller owns the reference. */
struct json_object *
scope_rules_to_json(const struct scope_rules *rules)
{
	struct json_object *arr = json_object_new_array();
	size_t i;

	for (i = 0; i < rules->n; i++)
		json_object_array_add(arr, scope_rule_to_json(&rules->v[i]));
	return arr;
}

/* Parse "write:PATH[:flat]" and friends; see scope.h. */
int
scope_rule_parse_spec(const char *spec, const char *cwd,
	struct scope_rule *ret_rule, char **reterr_msg)
{
	static const struct {
		const char *prefix;
		enum scope_perm perm;
		bool deny;
	} kinds[] = {
		{ "read:", SCOPE_READ, false },
		{ "write:", SCOPE_WRITE, false },
		{ "deny-read:", SCOPE_READ, true },
		{ "deny-write:", SCOPE_WRITE, true },
	};
	struct scope_rule rule = { NULL, SCOPE_READ, true, false };
	const char *path = NULL;
	char *p;
	size_t i, len;
	bool dotdot = false;
	int r;

	for (i = 0; i < sizeof kinds / sizeof kinds[0]; i++) {
		len = strlen(kinds[i].prefix);
		if (strncmp(spec, kinds[i].prefix, len) == 0) {
			path = spec + len;
			rule.perm = kinds[i].perm;
			rule.deny = kinds[i].deny;
			break;
		}
	}
	if (path == NULL) {
		*reterr_msg = xstrfmt("scope \"%.*s\" must start with read:, "
				      "write:, deny-read: or deny-write:",
			SCOPE_QUOTE_MAX, spec);
		return -EINVAL;
	}
	p = xstrdup(path);
	len = strlen(p);
	if (len >= 5 && strcmp(p + len - 5, ":flat") == 0) {
		p[len - 5] = '\0';
		rule.recursive = false;
	}
	if (*p == '\0') {
		*reterr_msg = xstrfmt(
			"scope \"%.*s\" has no path", SCOPE_QUOTE_MAX, spec);
		free(p);
		return -EINVAL;
	}
	r = scope_normalize_ex(p, cwd, &rule.target, &dotdot);
	free(p);
	if (r < 0) {
		*reterr_msg = scope_normalize_error(
			"scope path", r, cwd != NULL, dotdot);
		return r;
	}
	*ret_rule = rule;
	return 0;
}

/* "write /a/b (recursive)" style text; caller frees. */
char *
scope_rule_describe(const struct scope_rule *rule)
{
	return xstrfmt("%s%s %s (%s)", rule->deny ? "deny-" : "",
		rule->perm == SCOPE_WRITE ? "write" : "read", rule->target,
		rule->recursive ? "recursive" : "flat");
}

/* A checked scope built from a copy of rules. */
struct scope *
scope_new(const struct scope_rules *rules)
{
	struct scope *scope = xcalloc(1, sizeof *scope);
	size_t i;

	scope->trie = scope_trie_new();
	if (rules != NULL) {
		scope_rules_copy(&scope->rules, rules);
		for (i = 0; i < rules->n; i++)
			scope_trie_add(scope->trie, &rules->v[i], NULL);
	}
	return scope;
}

/* Free scope (NULL-safe). */
void
scope_free(struct scope *scope)
{
	if (scope == NULL)
		return;
	scope_rules_clear(&scope->rules);
	scope_trie_free(scope->trie);
	free(scope);
}

/* Access the scope gives to path, normalised against cwd first. */
enum scope_perm
scope_check_path(const struct scope *scope, const char *path, const char *cwd)
{
	enum scope_perm perm;
	char *norm;

	if (scope_normalize(path, cwd, &norm) < 0)
		return SCOPE_NONE;
	perm = scope_trie_check(scope->trie, norm);
	free(norm);
	return perm;
}

static void
scope_add_unique(struct scope_rules *rules, const struct scope_rule *rule)
{
	if (scope_rules_find(rules, rule) < 0)
		scope_rules_add(rules, rule);
}

/*
 * Effective write rules of a pod; *ret_rules is overwritten (not freed
 * first) with a new vector the caller owns.
 */
void
scope_effective_write(const struct scope_rules *own,
	const struct scope_rules *const *children, size_t nchildren,
	struct scope_rules *ret_rules)
{
	struct scope_rules out = { NULL, 0, 0 };
	struct scope_rule r;
	size_t i, j;

	for (i = 0; i < own->n; i++) {
		if (!own->v[i].deny && own->v[i].perm == SCOPE_WRITE)
			scope_add_unique(&out, &own->v[i]);
	}
	for (i = 0; i < own->n; i++) {
		if (own->v[i].deny) {
			r = own->v[i];
			r.perm = SCOPE_WRITE;
			scope_add_unique(&out, &r);
		}
	}
	for (i = 0; i < nchildren; i++) {
		if (children[i] == NULL)
			continue;
		for (j = 0; j < children[i]->n; j++) {
			r = children[i]->v[j];
			if (r.deny || r.perm != SCOPE_WRITE)
				continue;
			r.deny = true;
			scope_add_unique(&out, &r);
		}
	}
	*ret_rules = out;
}
