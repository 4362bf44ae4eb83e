/* SPDX-License-Identifier: ISC */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "common/scope.h"
#include "common/xmalloc.h"
#include "supervisord/daemon.h"
#include "supervisord/registry.h"

/* Bound on parent-chain walks, so a corrupt link loop cannot hang us. */
#define REGISTRY_MAX_WALK 256

struct registry {
	struct scope_trie *trie;
};

/* A new, empty registry. */
struct registry *
registry_new(void)
{
	struct registry *r = xcalloc(1, sizeof(*r));

	r->trie = scope_trie_new();
	return r;
}

/* Free the registry (the pods it points to are not owned). */
void
registry_free(struct registry *r)
{
	if (r == NULL)
		return;
	scope_trie_free(r->trie);
	free(r);
}

/* Number of rules currently reserved. */
size_t
registry_count(const struct registry *r)
{
	return scope_trie_count(r->trie);
}

/* Free the strings of a conflict report. */
void
registry_conflict_clear(struct registry_conflict *rc)
{
	free(rc->pod);
	free(rc->target);
	rc->pod = rc->target = NULL;
}

/* The parent of p, looked up by name. */
struct pod *
registry_parent(struct daemon *d, const struct pod *p)
{
	if (p == NULL || p->parent == NULL)
		return NULL;
	return daemon_pod_find(d, p->parent);
}

/* True if anc is p itself or an ancestor of p. */
bool
registry_is_ancestor(
	struct daemon *d, const struct pod *anc, const struct pod *p)
{
	int i;

	for (i = 0; p != NULL && i < REGISTRY_MAX_WALK; i++) {
		if (p == anc)
			return true;
		p = registry_parent(d, p);
	}
	return false;
}

/* Depth of p: 1 for a top-level pod. */
int
registry_depth(struct daemon *d, const struct pod *p)
{
	int depth = 0;

	while (p != NULL && depth < REGISTRY_MAX_WALK) {
		depth++;
		p = registry_parent(d, p);
	}
	return depth;
}

/*
 * True if q, or one of q's ancestors, is listed among p's children while
 * not being p's child now: a child p spawned that was re-parented when p
 * ended.  Restoring p takes such pods back instead of conflicting.
 */
bool
registry_is_former_child(
	struct daemon *d, const struct pod *p, const struct pod *q)
{
	int i;

	for (i = 0; q != NULL && i < REGISTRY_MAX_WALK; i++) {
		if (q == p)
			return false;
		if (namelist_has(&p->children, q->name))
			return true;
		q = registry_parent(d, q);
	}
	return false;
}

struct registry_walk {
	struct daemon *d;
	const struct pod *spawner;
	const struct pod *skip;
	struct registry_conflict *ret;
};

static int
registry_overlap_cb(
	const struct scope_rule *found, const void *owner, void *arg)
{
	struct registry_walk *w = arg;
	const struct pod *q = owner;

	if (q == NULL || q == w->skip)
		return 0;
	if (w->skip != NULL && registry_is_former_child(w->d, w->skip, q))
		return 0;
	if (w->spawner != NULL && registry_is_ancestor(w->d, q, w->spawner))
		return 0;
	w->ret->pod = xstrdup(q->name);
	w->ret->target = xstrdup(found->target);
	return 1;
}

static bool
registry_is_write_allow(const struct scope_rule *rule)
{
	return rule->perm == SCOPE_WRITE && !rule->deny;
}

/*
 * p's effective write; with restoring set, the children of p that
 * restoring had spawned are not subtracted.
 */
static void
registry_effective_write_for(struct daemon *d, const struct pod *p,
	const struct pod *restoring, struct scope_rules *ret_rules)
{
	const struct scope_rules **kids = NULL;
	size_t n = 0, i;
	struct pod *q;

	/*
	 * Every pod whose parent is p is in p->children (spawn and
	 * re-parenting add it there; podstore_load_all() repairs files that
	 * disagree), so this is O(children), not O(pods).
	 */
	for (i = 0; i < p->children.n; i++) {
		q = daemon_pod_find(d, p->children.v[i]);
		if (q == NULL || !q->reserved || q->parent == NULL ||
			strcmp(q->parent, p->name) != 0)
			continue;
		/* Pods that the one being restored spawned, re-parented
		 * here when it ended, go back to it: they are no hole in
		 * what p may give it. */
		if (restoring != NULL &&
			registry_is_former_child(d, restoring, q))
			continue;
		kids = xreallocarray(kids, n + 1, sizeof(*kids));
		kids[n++] = &q->granted;
	}
	memset(ret_rules, 0, sizeof(*ret_rules));
	scope_effective_write(&p->scope, kids, n, ret_rules);
	free(kids);
}

/* Check delegation and conflicts of rules for a new pod of spawner. */
int
registry_check(struct daemon *d, const struct pod *spawner,
	const struct scope_rules *rules, const struct pod *skip,
	struct registry_conflict *ret)
{
	struct registry_walk w = { d, spawner, skip, ret };
	struct scope_rules eff = { 0 };
	struct scope *eff_scope = NULL, *own_scope = NULL;
	size_t i;
	int r = 0;

	memset(ret, 0, sizeof(*ret));
	for (i = 0; i < rules->n; i++) {
		if (!registry_is_write_allow(&rules->v[i]))
			continue;
		if (scope_trie_foreach_overlap(d->registry->trie, &rules->v[i],
			    SCOPE_WRITE, registry_overlap_cb, &w) != 0)
			return -EEXIST;
	}
	if (spawner == NULL)
		return 0;

	registry_effective_write_for(d, spawner, skip, &eff);
	eff_scope = scope_new(&eff);
	own_scope = scope_new(&spawner->scope);
	for (i = 0; i < rules->n && r == 0; i++) {
		const struct scope_rule *rule = &rules->v[i];

		if (rule->deny)
			continue;
		if (rule->perm == SCOPE_WRITE) {
			if (!scope_trie_covers(eff_scope->trie, rule))
				r = -EPERM;
		} else if (!scope_trie_covers(own_scope->trie, rule))
			r = -EPERM;
		if (r != 0)
			ret->target = xstrdup(rule->target);
	}
	scope_free(eff_scope);
	scope_free(own_scope);
	scope_rules_clear(&eff);
	return r;
}

/* Reserve p's write allows in the trie, owned by p. */
void
registry_reserve(struct daemon *d, struct pod *p)
{
	size_t i;

	if (p->reserved)
		return;
	scope_rules_clear(&p->granted);
	for (i = 0; i < p->scope.n; i++) {
		if (!registry_is_write_allow(&p->scope.v[i]))
			continue;
		scope_trie_add(d->registry->trie, &p->scope.v[i], p);
		scope_rules_add(&p->granted, &p->scope.v[i]);
	}
	p->reserved = true;
}

/* Release p's reservation; its write allows return to the parent. */
void
registry_release(struct daemon *d, struct pod *p)
{
	size_t i;

	if (!p->reserved)
		return;
	for (i = 0; i < p->granted.n; i++)
		(void)scope_trie_remove(d->registry->trie, &p->granted.v[i], p);
	scope_rules_clear(&p->granted);
	p->reserved = false;
}

/* Effective write of p: own allows minus denies minus live children. */
void
registry_effective_write(
	struct daemon *d, const struct pod *p, struct scope_rules *ret_rules)
{
	registry_effective_write_for(d, p, NULL, ret_rules);
}
