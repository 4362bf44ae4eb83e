/* SPDX-License-Identifier: ISC */
#ifndef SUPERVISORD_WORKTREE_H
#define SUPERVISORD_WORKTREE_H

struct conn;
struct daemon;
struct json_object;
struct msg;
struct pod;
struct registry_conflict;
struct scope_rules;
struct textbuf;

/*
 * A git worktree per pod (docs/worktrees.md): the spawn / spawn_pod
 * parameter "worktree": {"base"?, "branch"?} makes podvisord run the
 * real git (gitrun.h, never blocking the loop) to add a worktree of the
 * repository holding the spawn's cwd (a child: its parent's cwd) on a
 * new branch (default pod/NAME) at <state>/worktrees/NAME, from base
 * (default HEAD), and the pod gets it as its cwd and default write
 * scope.  Persisted in pod state; forget removes the worktree.
 */

/* The pod's durable worktree (struct pod's wt; NULL for none). */
struct pod_worktree {
	char *path; /* <state>/worktrees/NAME */
	char *branch; /* pod/NAME unless asked otherwise */
	char *base; /* the commit it was made from (full hash) */
	char *repo; /* top level of the tree it was made from */
	/*
	 * The git dirs, found when nothing of them was the pod's to change,
	 * and given to git explicitly ever after (--git-dir): the worktree's
	 * own .git file is the pod's, and so is a parent pod's worktree.
	 */
	char *git_dir; /* the worktree's own (<common>/worktrees/ID) */
	char *common_dir; /* the repository's common git dir */
	char *repo_git_dir; /* the git dir of repo's tree */
};

void worktree_free(struct pod_worktree *wt);

/*
 * podops_spawn(), with every other parameter checked: if m has
 * "worktree", check it and start git (1: podops_spawn() is called again
 * with "cwd" set to the new worktree when it is made, or the error goes
 * to c); -1: refused, error sent on c; 0: go on, *ret is the worktree
 * made for this call (ownership to the caller) or NULL.
 */
int worktree_spawn_params(struct daemon *d, struct pod *viewer, struct conn *c,
	struct msg *m, const char *cwd, struct pod_worktree **ret);

/*
 * registry_check() for a pod with worktree wt (may be NULL: the same as
 * registry_check()): a child's rules inside its own new worktree are
 * only checked for conflicts, not against its parent's scope.
 */
int worktree_registry_check(struct daemon *d, const struct pod *spawner,
	const struct pod_worktree *wt, const struct scope_rules *rules,
	const struct pod *skip, struct registry_conflict *ret);

/* A fresh pod that failed to start: remove its worktree and branch. */
void worktree_discard(struct daemon *d, struct pod *p);

/* restore: refuse (error on c, -1) when the worktree is gone. */
int worktree_restore_check(struct pod *p, struct conn *c, struct msg *m);

/* Pod state "worktree" (absent: none). */
void worktree_to_state(const struct pod *p, struct json_object *o);
int worktree_from_state(
	struct pod *p, struct json_object *o, char **reterr_msg);

/*
 * pod-summary "worktree": {path, branch, base, repo, git_dir,
 * repo_git_dir} (object / text).
 */
void worktree_summary(const struct pod *p, struct json_object *o);
void worktree_summary_text(const struct pod *p, struct textbuf *tb);

/*
 * inspect of a pod with a worktree: git status runs first and the
 * detail, with "dirty" in its "worktree", is sent later (1); 0: no
 * worktree, go on.
 */
int worktree_inspect(
	struct daemon *d, struct conn *c, struct msg *m, struct pod *p);

/*
 * forget (params "force", "delete_branch"): git worktree remove runs
 * first (1; podops_forget() is called again when it is done, or the
 * error goes to c); 0: nothing (left) to do, go on.
 */
int worktree_forget(
	struct daemon *d, struct conn *c, struct msg *m, struct pod *p);
/* The forgotten reply's "worktree": {path, branch, branch_deleted}. */
void worktree_forgotten(
	const struct pod *p, const struct msg *m, struct json_object *data);

#endif
