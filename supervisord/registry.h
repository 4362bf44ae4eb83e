/* SPDX-License-Identifier: ISC */
#ifndef SUPERVISORD_REGISTRY_H
#define SUPERVISORD_REGISTRY_H

#include <stdbool.h>
#include <stddef.h>

struct daemon;
struct pod;
struct scope_rules;
struct scope_rule;

/*
 * The scope-lock registry: one component trie holding the write allows
 * of every pod with a running worker, each owned by its pod.  It answers
 * delegation and conflict checks in O(depth x rules on the path).
 */
struct registry;

struct registry *registry_new(void);
void registry_free(struct registry *r);
/* Number of rules held (tests, journal). */
size_t registry_count(const struct registry *r);

/* What a failed check found; strings owned by the struct. */
struct registry_conflict {
	char *pod; /* write_conflict: the competing pod */
	char *target; /* the competitor's target / the uncovered target */
};
void registry_conflict_clear(struct registry_conflict *rc);

/*
 * Check whether spawner (NULL = the user) may hand rules to a new pod.
 * Returns 0; -EEXIST for a write rule overlapping the write allows of a
 * live pod that is neither the spawner nor one of its ancestors (the
 * competitor in *ret); -EPERM when a rule is not covered by the
 * spawner's scope (read: any allow; write: its effective write), the
 * uncovered requested target in ret->target.  Skip is a pod being
 * restored (may be NULL): its own reservation and those of the children
 * it spawned that were re-parented when it ended are ignored.
 */
int registry_check(struct daemon *d, const struct pod *spawner,
	const struct scope_rules *rules, const struct pod *skip,
	struct registry_conflict *ret);

/* Enter p's write allows into the registry (p->reserved = true). */
void registry_reserve(struct daemon *d, struct pod *p);
/* Remove p's write allows; a no-op if p holds nothing. */
void registry_release(struct daemon *d, struct pod *p);

/*
 * p's effective write scope: its write allows, its denies as
 * deny-write, and deny-write holes for its reserved direct children.
 */
void registry_effective_write(
	struct daemon *d, const struct pod *p, struct scope_rules *ret_rules);

/* The parent pod of p (NULL if top-level or unknown). */
struct pod *registry_parent(struct daemon *d, const struct pod *p);
/* True if anc is p or one of p's ancestors. */
bool registry_is_ancestor(
	struct daemon *d, const struct pod *anc, const struct pod *p);
/* True if q descends from a child p spawned that p no longer parents. */
bool registry_is_former_child(
	struct daemon *d, const struct pod *p, const struct pod *q);
/* Depth of p in its tree: 1 for a top-level pod. */
int registry_depth(struct daemon *d, const struct pod *p);

#endif
