/* SPDX-License-Identifier: ISC */
#ifndef COMMON_SCOPE_H
#define COMMON_SCOPE_H

#include <stdbool.h>
#include <stddef.h>

struct json_object;

/*
 * The scope engine (DESIGN.md "Scope rules").
 *
 * A rule grants (or, with deny set, takes away) read or write access to a
 * target path: recursive rules cover the target and everything beneath,
 * non-recursive rules the target and its direct children.  Allow rules
 * combine by maximum; a matching deny-read removes all access, a matching
 * deny-write caps at read; deny always wins; no matching allow = none.
 *
 * Wire form: {"target":"/abs","permission":"read"|"write",
 * "recursive":true,"deny":false} ("recursive" defaults to true, "deny" to
 * false and is only written when true).  Targets held in rules are always
 * normalised (see scope_normalize()).
 *
 * A pod's effective write scope is its write allows minus its denies minus
 * the write allows of its live children; it is expressed as a rule list
 * of the write allows followed by deny-write rules for the holes, so the
 * one checking mechanism serves both.
 */

enum scope_perm {
	SCOPE_NONE = 0,
	SCOPE_READ = 1,
	SCOPE_WRITE = 2,
};

struct scope_rule {
	char *target; /* absolute, normalised, owned */
	enum scope_perm perm; /* SCOPE_READ or SCOPE_WRITE */
	bool recursive;
	bool deny;
};

/* A growable vector of rules; owns the targets. Zero-initialise. */
struct scope_rules {
	struct scope_rule *v;
	size_t n;
	size_t cap;
};

#define SCOPE_MAX_RULES 256

/*
 * Normalise path: relative paths are taken against cwd (absolute, or
 * NULL to refuse relative paths with -EINVAL); the longest existing
 * prefix is canonicalised (symlinks and ".." resolved, so a symlink is
 * judged by its target) and the missing tail appended with "." and
 * duplicate slashes dropped.  A ".." in the missing tail gives -EACCES,
 * a result longer than PATH_MAX -ENAMETOOLONG.  *ret_path is owned by
 * the caller.
 */
int scope_normalize(const char *path, const char *cwd, char **ret_path);

/* True if path is base or lies beneath it (both normalised). */
bool scope_path_under(const char *base, const char *path);
/* True if rule's coverage contains the normalised path. */
bool scope_rule_covers_path(const struct scope_rule *rule, const char *path);
/* True if the coverages of the two rules share at least one path. */
bool scope_rules_overlap(
	const struct scope_rule *a, const struct scope_rule *b);

/* Append a copy of rule (target duplicated). */
void scope_rules_add(struct scope_rules *rules, const struct scope_rule *rule);
void scope_rules_copy(struct scope_rules *dst, const struct scope_rules *src);
void scope_rules_clear(struct scope_rules *rules);
/* Index of an equal rule (same target, perm, recursive, deny) or -1. */
long scope_rules_find(
	const struct scope_rules *rules, const struct scope_rule *rule);

/*
 * Parse one rule / an array of rules from JSON.  Targets are normalised
 * against cwd.  On error returns -EINVAL (or the normalisation error) and
 * a sentence in *reterr_msg naming the bad field (caller frees).
 */
int scope_rule_from_json(struct json_object *obj, const char *cwd,
	struct scope_rule *ret_rule, char **reterr_msg);
int scope_rules_from_json(struct json_object *arr, const char *cwd,
	struct scope_rules *ret_rules, char **reterr_msg);
/* New JSON object/array for rule(s); the caller owns the reference. */
struct json_object *scope_rule_to_json(const struct scope_rule *rule);
struct json_object *scope_rules_to_json(const struct scope_rules *rules);

/*
 * Parse the CLI/config spelling: "write:PATH", "read:PATH", with an
 * optional ":flat" suffix for non-recursive, and "deny-write:PATH" /
 * "deny-read:PATH".  Relative PATHs are taken against cwd.
 */
int scope_rule_parse_spec(const char *spec, const char *cwd,
	struct scope_rule *ret_rule, char **reterr_msg);

/* "write /a/b (recursive)" style text; caller frees. */
char *scope_rule_describe(const struct scope_rule *rule);

/* Free the target of a single rule (not the rule itself). */
void scope_rule_clear(struct scope_rule *rule);

/*
 * The component trie: every rule is stored at the node of its target's
 * path components, with an owner pointer (NULL when unused).  A check
 * walks one root-to-path chain, so it costs O(path depth) and not
 * O(number of rules).  Each node also counts the rules stored beneath it
 * so subtree queries skip empty branches.
 */
struct scope_trie;

struct scope_trie *scope_trie_new(void);
void scope_trie_free(struct scope_trie *trie);
/* Add rule (copied) with owner (borrowed, may be NULL). */
void scope_trie_add(struct scope_trie *trie, const struct scope_rule *rule,
	const void *owner);
/* Remove one rule equal to rule with the same owner; -ENOENT if none. */
int scope_trie_remove(struct scope_trie *trie, const struct scope_rule *rule,
	const void *owner);
size_t scope_trie_count(const struct scope_trie *trie);

/* The access the rules in trie give to a normalised path. */
enum scope_perm scope_trie_check(
	const struct scope_trie *trie, const char *path);

/*
 * True if every path in rule's coverage gets at least rule->perm from the
 * trie (used for delegation: is the requested rule a subset?).
 */
bool scope_trie_covers(
	const struct scope_trie *trie, const struct scope_rule *rule);

/*
 * Call cb for each allow rule in the trie with perm >= min_perm whose
 * coverage overlaps rule's coverage.  Stops at the first non-zero return
 * of cb and returns it; 0 when all were visited.
 */
typedef int (*scope_overlap_cb)(
	const struct scope_rule *found, const void *owner, void *arg);
int scope_trie_foreach_overlap(const struct scope_trie *trie,
	const struct scope_rule *rule, enum scope_perm min_perm,
	scope_overlap_cb cb, void *arg);

/*
 * A checked scope: a rule list plus its trie.  Built from rules (copied).
 */
struct scope {
	struct scope_rules rules;
	struct scope_trie *trie;
};

struct scope *scope_new(const struct scope_rules *rules);
void scope_free(struct scope *scope);
/* Access to a path that is normalised first (against cwd); on a
 * normalisation error returns SCOPE_NONE. */
enum scope_perm scope_check_path(
	const struct scope *scope, const char *path, const char *cwd);

/*
 * Effective write rules of a pod: the write allows of own, every deny of
 * own as deny-write (deny-read included), and a deny-write for each write
 * allow in each of the children's rule lists.
 */
void scope_effective_write(const struct scope_rules *own,
	const struct scope_rules *const *children, size_t nchildren,
	struct scope_rules *ret_rules);

#endif
