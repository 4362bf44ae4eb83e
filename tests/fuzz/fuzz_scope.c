/* SPDX-License-Identifier: ISC */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <json.h>

#include "common/scope.h"
#include "common/xmalloc.h"

/*
 * libFuzzer target for the scope engine.  The input is read twice: as
 * one JSON document (a rule array or a single rule), and as lines, each
 * of which is parsed as a CLI spec and normalised as a path.  The rules
 * gathered go into a trie whose answers are compared with a brute-force
 * evaluation over the rule list; any disagreement aborts.
 */

#define FUZZ_CWD "/tmp/fuzz-scope-cwd"
#define FUZZ_MAX_ITEMS 48

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void
fuzz_fail(const char *what, const char *detail)
{
	fprintf(stderr, "fuzz_scope: %s: %s\n", what, detail);
	abort();
}

/* The access rules give to path, by scanning every rule. */
static enum scope_perm
fuzz_brute_check(const struct scope_rules *rules, const char *path)
{
	enum scope_perm allow = SCOPE_NONE;
	bool deny_read = false, deny_write = false;
	size_t i;

	for (i = 0; i < rules->n; i++) {
		if (!scope_rule_covers_path(&rules->v[i], path))
			continue;
		if (!rules->v[i].deny) {
			if (rules->v[i].perm > allow)
				allow = rules->v[i].perm;
		} else if (rules->v[i].perm == SCOPE_WRITE)
			deny_write = true;
		else
			deny_read = true;
	}
	if (deny_read)
		return SCOPE_NONE;
	if (deny_write && allow > SCOPE_READ)
		return SCOPE_READ;
	return allow;
}

/* True if one of the child's write allows covers path. */
static bool
fuzz_child_writes(const struct scope_rules *child, const char *path)
{
	size_t i;

	for (i = 0; i < child->n; i++) {
		if (!child->v[i].deny && child->v[i].perm == SCOPE_WRITE &&
			scope_rule_covers_path(&child->v[i], path))
			return true;
	}
	return false;
}

struct fuzz_seen {
	unsigned char *hits;
	size_t n;
	int stop;
	int calls;
};

static int
fuzz_overlap_cb(const struct scope_rule *found, const void *owner, void *arg)
{
	struct fuzz_seen *s = arg;
	uintptr_t i = (uintptr_t)owner;

	if (i == 0 || i > s->n)
		fuzz_fail("overlap owner", found->target);
	s->hits[i - 1]++;
	if (++s->calls == s->stop)
		return 1;
	return 0;
}

static void
fuzz_trie(const struct scope_rules *rules, char **paths, size_t npaths,
	unsigned flags)
{
	struct scope_trie *trie = scope_trie_new();
	struct fuzz_seen seen;
	enum scope_perm min;
	size_t i, j, k;
	int r;

	for (i = 0; i < rules->n; i++)
		scope_trie_add(trie, &rules->v[i], (const void *)(i + 1));
	if (scope_trie_count(trie) != rules->n)
		fuzz_fail("count", "after add");

	for (i = 0; i < npaths; i++) {
		if (scope_trie_check(trie, paths[i]) !=
			fuzz_brute_check(rules, paths[i]))
			fuzz_fail("check", paths[i]);
	}

	seen.hits = xcalloc(rules->n + 1, 1);
	seen.n = rules->n;
	for (i = 0; i < rules->n; i++) {
		const struct scope_rule *req = &rules->v[i];

		/* A covered rule gives its perm to every path it covers. */
		if (scope_trie_covers(trie, req) && !req->deny) {
			if (fuzz_brute_check(rules, req->target) < req->perm)
				fuzz_fail("covers target", req->target);
			for (j = 0; j < npaths; j++) {
				if (scope_rule_covers_path(req, paths[j]) &&
					fuzz_brute_check(rules, paths[j]) <
						req->perm)
					fuzz_fail("covers path", paths[j]);
			}
		}
		for (min = SCOPE_READ; min <= SCOPE_WRITE; min++) {
			memset(seen.hits, 0, rules->n);
			seen.stop = -1;
			seen.calls = 0;
			r = scope_trie_foreach_overlap(
				trie, req, min, fuzz_overlap_cb, &seen);
			if (r != 0)
				fuzz_fail("overlap", "non-zero return");
			for (k = 0; k < rules->n; k++) {
				const struct scope_rule *o = &rules->v[k];
				bool want = !o->deny && o->perm >= min &&
					scope_rules_overlap(o, req);

				if (seen.hits[k] != (want ? 1 : 0))
					fuzz_fail("overlap set", o->target);
			}
			if (seen.calls > 1) {
				seen.stop = seen.calls - 1;
				seen.calls = 0;
				r = scope_trie_foreach_overlap(
					trie, req, min, fuzz_overlap_cb, &seen);
				if (r != 1)
					fuzz_fail("overlap", "stop ignored");
			}
		}
	}
	free(seen.hits);

	/* Remove in an order chosen by the input; the trie must empty. */
	for (i = 0; i < rules->n; i++) {
		j = (flags & 1) ? rules->n - 1 - i : i;
		if (scope_trie_remove(
			    trie, &rules->v[j], (const void *)(j + 1)) != 0)
			fuzz_fail("remove", rules->v[j].target);
	}
	if (scope_trie_count(trie) != 0)
		fuzz_fail("count", "after remove");
	scope_trie_free(trie);
}

static void
fuzz_json(const char *buf, size_t len, struct scope_rules *rules)
{
	struct json_tokener *tok = json_tokener_new_ex(32);
	struct json_object *obj, *back;
	struct scope_rules parsed = { NULL, 0, 0 }, again = { NULL, 0, 0 };
	struct scope_rule rule;
	char *msg = NULL;
	size_t i;

	obj = json_tokener_parse_ex(tok, buf, (int)len);
	json_tokener_free(tok);
	if (obj == NULL)
		return;
	if (json_object_is_type(obj, json_type_array)) {
		if (scope_rules_from_json(obj, FUZZ_CWD, &parsed, &msg) == 0) {
			/* Emitting and re-reading gives the same rules. */
			back = scope_rules_to_json(&parsed);
			if (scope_rules_from_json(back, NULL, &again, &msg) !=
				0)
				fuzz_fail("json round trip", msg);
			if (again.n != parsed.n)
				fuzz_fail("json round trip", "count");
			for (i = 0; i < parsed.n; i++) {
				if (scope_rules_find(&again, &parsed.v[i]) < 0)
					fuzz_fail("json round trip",
						parsed.v[i].target);
			}
			json_object_put(back);
			scope_rules_clear(&again);
			for (i = 0; i < parsed.n && rules->n < FUZZ_MAX_ITEMS;
				i++)
				scope_rules_add(rules, &parsed.v[i]);
			scope_rules_clear(&parsed);
		}
	} else if (scope_rule_from_json(obj, FUZZ_CWD, &rule, &msg) == 0) {
		scope_rules_add(rules, &rule);
		scope_rule_clear(&rule);
	}
	free(msg);
	json_object_put(obj);
}

static void
fuzz_lines(char *buf, struct scope_rules *rules, char **paths, size_t *npaths)
{
	struct scope_rule rule;
	char *line, *save = NULL, *msg, *norm, *d;

	for (line = strtok_r(buf, "\n", &save); line != NULL;
		line = strtok_r(NULL, "\n", &save)) {
		msg = NULL;
		if (scope_rule_parse_spec(line, FUZZ_CWD, &rule, &msg) == 0) {
			d = scope_rule_describe(&rule);
			free(d);
			if (rules->n < FUZZ_MAX_ITEMS)
				scope_rules_add(rules, &rule);
			scope_rule_clear(&rule);
		} else if (msg == NULL)
			fuzz_fail("spec", "error without a message");
		free(msg);
		if (*npaths < FUZZ_MAX_ITEMS &&
			scope_normalize(line, FUZZ_CWD, &norm) == 0) {
			if (norm[0] != '/' || strstr(norm, "//") != NULL ||
				strstr(norm, "/./") != NULL ||
				strstr(norm, "/../") != NULL ||
				(strlen(norm) >= 3 &&
					strcmp(norm + strlen(norm) - 3,
						"/..") == 0) ||
				(strlen(norm) > 1 &&
					norm[strlen(norm) - 1] == '/'))
				fuzz_fail("normalize", norm);
			paths[(*npaths)++] = norm;
		}
	}
}

/* Feed the input to every scope entry point; see the top comment. */
int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct scope_rules rules = { NULL, 0, 0 }, eff;
	char *paths[FUZZ_MAX_ITEMS];
	const struct scope_rules *children[1];
	struct scope_rules child = { NULL, 0, 0 }, own = { NULL, 0, 0 };
	struct scope *scope;
	size_t npaths = 0, i;
	unsigned flags;
	char *buf;

	if (size == 0)
		return 0;
	flags = data[0];
	buf = xmalloc(size);
	memcpy(buf, data + 1, size - 1);
	buf[size - 1] = '\0';

	fuzz_json(buf, size - 1, &rules);
	fuzz_lines(buf, &rules, paths, &npaths);
	for (i = 0; i < rules.n && npaths < FUZZ_MAX_ITEMS; i++)
		paths[npaths++] = xstrdup(rules.v[i].target);
	fuzz_trie(&rules, paths, npaths, flags);

	/* Effective write: odd rules are the child's, even ones own. */
	for (i = 0; i < rules.n; i++)
		scope_rules_add(i % 2 ? &child : &own, &rules.v[i]);
	children[0] = &child;
	scope_effective_write(&own, children, 1, &eff);
	scope = scope_new(&eff);
	for (i = 0; i < npaths; i++) {
		if ((scope_trie_check(scope->trie, paths[i]) == SCOPE_WRITE) !=
			(fuzz_brute_check(&own, paths[i]) == SCOPE_WRITE &&
				!fuzz_child_writes(&child, paths[i])))
			fuzz_fail("effective write", paths[i]);
	}
	scope_free(scope);
	scope_rules_clear(&eff);
	scope_rules_clear(&own);
	scope_rules_clear(&child);

	for (i = 0; i < npaths; i++)
		free(paths[i]);
	scope_rules_clear(&rules);
	free(buf);
	return 0;
}
