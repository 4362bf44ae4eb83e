/* SPDX-License-Identifier: ISC */
#include "common/scope.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "common/xmalloc.h"

/*
 * The component trie of scope.h.  Node "" is "/", its children the first
 * components, and so on; children are kept sorted by name for a binary
 * search per component.  Every node counts the rules stored at it and in
 * its whole subtree, by kind, so subtree queries only descend into
 * branches that hold something they look for, and empty nodes are pruned
 * on removal.
 */

enum scope_trie_kind {
	SCOPE_TRIE_ALLOW_READ,
	SCOPE_TRIE_ALLOW_WRITE,
	SCOPE_TRIE_DENY_READ,
	SCOPE_TRIE_DENY_WRITE,
	SCOPE_TRIE_KINDS,
};

struct scope_trie_entry {
	struct scope_rule rule;
	const void *owner;
};

struct scope_trie_node {
	char *name;
	struct scope_trie_node *parent;
	struct scope_trie_node **child; /* sorted by name */
	size_t nchild, capchild;
	struct scope_trie_entry *ent;
	size_t nent, capent;
	size_t here[SCOPE_TRIE_KINDS]; /* rules stored at this node */
	size_t sub[SCOPE_TRIE_KINDS]; /* rules here and beneath */
};

struct scope_trie {
	struct scope_trie_node *root;
};

static enum scope_trie_kind
scope_trie_kind(const struct scope_rule *rule)
{
	if (rule->deny)
		return rule->perm == SCOPE_WRITE ? SCOPE_TRIE_DENY_WRITE
						 : SCOPE_TRIE_DENY_READ;
	return rule->perm == SCOPE_WRITE ? SCOPE_TRIE_ALLOW_WRITE
					 : SCOPE_TRIE_ALLOW_READ;
}

/* Next component of p (slashes skipped) and its length, or NULL. */
static const char *
scope_trie_next(const char *p, size_t *ret_len)
{
	while (*p == '/')
		p++;
	if (*p == '\0')
		return NULL;
	*ret_len = strchrnul(p, '/') - p;
	return p;
}

static size_t
scope_trie_depth(const char *path)
{
	const char *comp;
	size_t len, n = 0;

	while ((comp = scope_trie_next(path, &len)) != NULL) {
		path = comp + len;
		n++;
	}
	return n;
}

/* strcmp of a NUL-terminated name against a (comp, len) component. */
static int
scope_trie_cmp(const char *name, const char *comp, size_t len)
{
	int c = strncmp(name, comp, len);

	if (c != 0)
		return c;
	return name[len] == '\0' ? 0 : 1;
}

/* Index of comp among node's children, or where it would be inserted. */
static size_t
scope_trie_search(const struct scope_trie_node *node, const char *comp,
	size_t len, bool *ret_found)
{
	size_t lo = 0, hi = node->nchild, mid;
	int c;

	while (lo < hi) {
		mid = lo + (hi - lo) / 2;
		c = scope_trie_cmp(node->child[mid]->name, comp, len);
		if (c == 0) {
			*ret_found = true;
			return mid;
		}
		if (c < 0)
			lo = mid + 1;
		else
			hi = mid;
	}
	*ret_found = false;
	return lo;
}

static struct scope_trie_node *
scope_trie_find_child(
	const struct scope_trie_node *node, const char *comp, size_t len)
{
	bool found;
	size_t i = scope_trie_search(node, comp, len, &found);

	return found ? node->child[i] : NULL;
}

static struct scope_trie_node *
scope_trie_node_new(
	const char *name, size_t len, struct scope_trie_node *parent)
{
	struct scope_trie_node *node = xcalloc(1, sizeof *node);

	node->name = xstrndup(name, len);
	node->parent = parent;
	return node;
}

static void
scope_trie_node_free(struct scope_trie_node *node)
{
	size_t i;

	if (node == NULL)
		return;
	for (i = 0; i < node->nchild; i++)
		scope_trie_node_free(node->child[i]);
	for (i = 0; i < node->nent; i++)
		free(node->ent[i].rule.target);
	free(node->child);
	free(node->ent);
	free(node->name);
	free(node);
}

/* New empty trie. */
struct scope_trie *
scope_trie_new(void)
{
	struct scope_trie *trie = xcalloc(1, sizeof *trie);

	trie->root = scope_trie_node_new("", 0, NULL);
	return trie;
}

/* Free trie and every rule in it (NULL-safe). */
void
scope_trie_free(struct scope_trie *trie)
{
	if (trie == NULL)
		return;
	scope_trie_node_free(trie->root);
	free(trie);
}

/* Add a copy of rule with owner (borrowed, may be NULL). */
void
scope_trie_add(struct scope_trie *trie, const struct scope_rule *rule,
	const void *owner)
{
	struct scope_trie_node *node = trie->root, *child;
	const char *p = rule->target, *comp;
	enum scope_trie_kind kind = scope_trie_kind(rule);
	size_t len, i;
	bool found;

	while ((comp = scope_trie_next(p, &len)) != NULL) {
		p = comp + len;
		i = scope_trie_search(node, comp, len, &found);
		if (!found) {
			if (node->nchild == node->capchild) {
				node->capchild =
					node->capchild ? node->capchild * 2 : 4;
				node->child = xreallocarray(node->child,
					node->capchild, sizeof *node->child);
			}
			child = scope_trie_node_new(comp, len, node);
			memmove(node->child + i + 1, node->child + i,
				(node->nchild - i) * sizeof *node->child);
			node->child[i] = child;
			node->nchild++;
		}
		node = node->child[i];
	}

	if (node->nent == node->capent) {
		node->capent = node->capent ? node->capent * 2 : 2;
		node->ent = xreallocarray(
			node->ent, node->capent, sizeof *node->ent);
	}
	node->ent[node->nent].rule = *rule;
	node->ent[node->nent].rule.target = xstrdup(rule->target);
	node->ent[node->nent].owner = owner;
	node->nent++;
	node->here[kind]++;
	for (; node != NULL; node = node->parent)
		node->sub[kind]++;
}

static size_t
scope_trie_total(const size_t *counts)
{
	return counts[0] + counts[1] + counts[2] + counts[3];
}

/* Unlink and free node from its parent if nothing is stored beneath. */
static void
scope_trie_prune(struct scope_trie_node *node)
{
	struct scope_trie_node *parent;
	size_t i;
	bool found;

	while (node->parent != NULL && scope_trie_total(node->sub) == 0) {
		parent = node->parent;
		i = scope_trie_search(
			parent, node->name, strlen(node->name), &found);
		if (found) {
			memmove(parent->child + i, parent->child + i + 1,
				(parent->nchild - i - 1) *
					sizeof *parent->child);
			parent->nchild--;
		}
		scope_trie_node_free(node);
		node = parent;
	}
}

/* Find the node of a normalised path, or NULL. */
static struct scope_trie_node *
scope_trie_lookup(const struct scope_trie *trie, const char *path)
{
	struct scope_trie_node *node = trie->root;
	const char *comp;
	size_t len;

	while (node != NULL && (comp = scope_trie_next(path, &len)) != NULL) {
		path = comp + len;
		node = scope_trie_find_child(node, comp, len);
	}
	return node;
}

/* Remove one rule equal to rule with the same owner; -ENOENT if none. */
int
scope_trie_remove(struct scope_trie *trie, const struct scope_rule *rule,
	const void *owner)
{
	struct scope_trie_node *node, *n;
	struct scope_trie_entry *e;
	enum scope_trie_kind kind = scope_trie_kind(rule);
	size_t i;

	if ((node = scope_trie_lookup(trie, rule->target)) == NULL)
		return -ENOENT;
	for (i = 0; i < node->nent; i++) {
		e = &node->ent[i];
		if (e->owner == owner && e->rule.perm == rule->perm &&
			e->rule.recursive == rule->recursive &&
			e->rule.deny == rule->deny &&
			strcmp(e->rule.target, rule->target) == 0)
			break;
	}
	if (i == node->nent)
		return -ENOENT;
	free(node->ent[i].rule.target);
	memmove(node->ent + i, node->ent + i + 1,
		(node->nent - i - 1) * sizeof *node->ent);
	node->nent--;
	node->here[kind]--;
	for (n = node; n != NULL; n = n->parent)
		n->sub[kind]--;
	scope_trie_prune(node);
	return 0;
}

/* Number of rules in trie. */
size_t
scope_trie_count(const struct scope_trie *trie)
{
	return scope_trie_total(trie->root->sub);
}

/*
 * True if a rule stored at a node of depth i covers a path of depth d
 * whose chain passes through that node (i <= d).
 */
static bool
scope_trie_reaches(const struct scope_rule *rule, size_t i, size_t d)
{
	return rule->recursive || i + 1 >= d;
}

/* The access the rules in trie give to a normalised path. */
enum scope_perm
scope_trie_check(const struct scope_trie *trie, const char *path)
{
	const struct scope_trie_node *node = trie->root;
	const struct scope_rule *rule;
	enum scope_perm allow = SCOPE_NONE;
	const char *comp;
	size_t d = scope_trie_depth(path), i = 0, j, len = 0;
	bool deny_read = false, deny_write = false;

	for (;;) {
		for (j = 0; j < node->nent; j++) {
			rule = &node->ent[j].rule;
			if (!scope_trie_reaches(rule, i, d))
				continue;
			if (!rule->deny) {
				if (rule->perm > allow)
					allow = rule->perm;
			} else if (rule->perm == SCOPE_WRITE)
				deny_write = true;
			else
				deny_read = true;
		}
		if ((comp = scope_trie_next(path, &len)) == NULL)
			break;
		path = comp + len;
		if ((node = scope_trie_find_child(node, comp, len)) == NULL)
			break;
		i++;
	}
	if (deny_read)
		return SCOPE_NONE;
	if (deny_write && allow > SCOPE_READ)
		return SCOPE_READ;
	return allow;
}

/* Denies beneath node (not at it) that lower access below perm. */
static size_t
scope_trie_denies_below(
	const struct scope_trie_node *node, enum scope_perm perm)
{
	size_t n;

	n = node->sub[SCOPE_TRIE_DENY_READ] - node->here[SCOPE_TRIE_DENY_READ];
	if (perm == SCOPE_WRITE)
		n += node->sub[SCOPE_TRIE_DENY_WRITE] -
			node->here[SCOPE_TRIE_DENY_WRITE];
	return n;
}

/*
 * True if every path in rule's coverage gets at least rule->perm: one
 * allow on the chain must hold the whole coverage (a recursive request
 * needs a recursive allow on an ancestor-or-self; names not in the trie
 * get nothing else), and no deny strong enough may meet the coverage.
 * A deny request grants nothing and is always covered.
 */
bool
scope_trie_covers(const struct scope_trie *trie, const struct scope_rule *rule)
{
	const struct scope_trie_node *node = trie->root;
	const struct scope_rule *e;
	const char *path = rule->target, *comp;
	size_t d = scope_trie_depth(path), i = 0, j, len = 0;
	bool allowed = false;

	if (rule->deny)
		return true;
	for (;;) {
		for (j = 0; j < node->nent; j++) {
			e = &node->ent[j].rule;
			if (!scope_trie_reaches(e, i, d))
				continue;
			if (e->deny) {
				/* e covers the target itself. */
				if (e->perm == SCOPE_READ ||
					rule->perm == SCOPE_WRITE)
					return false;
			} else if (e->perm >= rule->perm &&
				(e->recursive || (i == d && !rule->recursive)))
				allowed = true;
		}
		if (i == d)
			break;
		if ((comp = scope_trie_next(path, &len)) == NULL)
			break;
		path = comp + len;
		if ((node = scope_trie_find_child(node, comp, len)) == NULL)
			return allowed;
		i++;
	}

	/* node is the target's: look for denies beneath it. */
	if (!allowed || scope_trie_denies_below(node, rule->perm) == 0)
		return allowed;
	if (rule->recursive)
		return false;
	for (j = 0; j < node->nchild; j++) {
		if (node->child[j]->here[SCOPE_TRIE_DENY_READ] > 0)
			return false;
		if (rule->perm == SCOPE_WRITE &&
			node->child[j]->here[SCOPE_TRIE_DENY_WRITE] > 0)
			return false;
	}
	return true;
}

static size_t
scope_trie_allows(const size_t *counts, enum scope_perm min_perm)
{
	size_t n = counts[SCOPE_TRIE_ALLOW_WRITE];

	if (min_perm <= SCOPE_READ)
		n += counts[SCOPE_TRIE_ALLOW_READ];
	return n;
}

/* Report the allows stored at node with perm >= min_perm. */
static int
scope_trie_report(const struct scope_trie_node *node, enum scope_perm min_perm,
	bool chain_only, size_t i, size_t d, scope_overlap_cb cb, void *arg)
{
	const struct scope_trie_entry *e;
	size_t j;
	int r;

	if (scope_trie_allows(node->here, min_perm) == 0)
		return 0;
	for (j = 0; j < node->nent; j++) {
		e = &node->ent[j];
		if (e->rule.deny || e->rule.perm < min_perm)
			continue;
		if (chain_only && !scope_trie_reaches(&e->rule, i, d))
			continue;
		if ((r = cb(&e->rule, e->owner, arg)) != 0)
			return r;
	}
	return 0;
}

/* Report every qualifying allow strictly beneath node. */
static int
scope_trie_report_below(const struct scope_trie_node *node,
	enum scope_perm min_perm, bool recursive, scope_overlap_cb cb,
	void *arg)
{
	const struct scope_trie_node *c;
	size_t j;
	int r;

	if (scope_trie_allows(node->sub, min_perm) ==
		scope_trie_allows(node->here, min_perm))
		return 0;
	for (j = 0; j < node->nchild; j++) {
		c = node->child[j];
		if (scope_trie_allows(c->sub, min_perm) == 0)
			continue;
		r = scope_trie_report(c, min_perm, false, 0, 0, cb, arg);
		if (r != 0)
			return r;
		if (recursive &&
			(r = scope_trie_report_below(
				 c, min_perm, true, cb, arg)) != 0)
			return r;
	}
	return 0;
}

/*
 * Call cb for each allow with perm >= min_perm overlapping rule: those on
 * the chain to the target that reach it, every one at the target, and
 * those beneath the target that lie in rule's coverage (all of them for a
 * recursive rule, the direct children's for a non-recursive one).  cb
 * must not modify the trie.
 */
int
scope_trie_foreach_overlap(const struct scope_trie *trie,
	const struct scope_rule *rule, enum scope_perm min_perm,
	scope_overlap_cb cb, void *arg)
{
	const struct scope_trie_node *node = trie->root;
	const char *path = rule->target, *comp;
	size_t d = scope_trie_depth(path), i = 0, len = 0;
	int r;

	for (;;) {
		if ((r = scope_trie_report(
			     node, min_perm, true, i, d, cb, arg)) != 0)
			return r;
		if (i == d)
			break;
		if ((comp = scope_trie_next(path, &len)) == NULL)
			break;
		path = comp + len;
		if ((node = scope_trie_find_child(node, comp, len)) == NULL)
			return 0;
		i++;
	}
	return scope_trie_report_below(
		node, min_perm, rule->recursive, cb, arg);
}
