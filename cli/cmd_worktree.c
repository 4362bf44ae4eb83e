/* SPDX-License-Identifier: ISC */
/*
 * podvisor diff / merge: a worktree pod's work (docs/worktrees.md).  The
 * CLI runs the real git itself, in the pod's worktree and in the tree
 * it came from, with git's own messages on stderr.  Nothing changes
 * unless the merge goes through: the diff and the conflict check use a
 * temporary index, never the worktree's own or the user's.
 */
#include <sys/wait.h>

#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <json-c/json.h>

#include "cli/cli.h"
#include "common/podname.h"
#include "common/xmalloc.h"
#include "proto/msg.h"

/* A tree and its git dir, given to git as --git-dir (NULL: found). */
struct cwt_tree {
	const char *dir, *gd;
};

/* What inspect says of a pod's worktree. */
struct cwt {
	struct msg reply;
	const char *name, *path, *branch, *base, *repo;
	const char *status, *activity;
	struct cwt_tree wt, rt; /* the worktree; the tree it came from */
};

/* git output lines: at most this much is read back. */
#define CWT_MAX_OUT (16u * 1024u * 1024u)

/*
 * Run git -C dir args (with --git-dir and --work-tree: the pod may have
 * changed its worktree's .git file, never the git dirs); stdout into *out (NUL-terminated, may be NULL:
 * inherited), stderr inherited unless quiet.  index: GIT_INDEX_FILE.
 * Returns the exit code, 128+signal, or -errno when git cannot run.
 */
static int
cwt_git(const struct cwt_tree *t, const char *index, bool quiet, char **out,
	const char *const *args)
{
	char **argv;
	size_t n = 0, k, i, len = 0;
	int po[2] = { -1, -1 }, st, e;
	char buf[8192];
	ssize_t r;
	pid_t pid;

	while (args[n] != NULL)
		n++;
	argv = xcalloc(n + 6, sizeof(*argv));
	argv[0] = xstrdup("git");
	argv[1] = xstrdup("-C");
	argv[2] = xstrdup(t->dir);
	k = 3;
	if (t->gd != NULL) {
		argv[k++] = xstrfmt("--git-dir=%s", t->gd);
		argv[k++] = xstrfmt("--work-tree=%s", t->dir);
	}
	for (i = 0; i < n; i++)
		argv[k++] = xstrdup(args[i]);
	if (out != NULL && pipe2(po, O_CLOEXEC) < 0)
		goto fail;
	fflush(stdout);
	if ((pid = fork()) < 0)
		goto fail;
	if (pid == 0) {
		if (po[1] >= 0)
			(void)dup2(po[1], 1);
		if (quiet) {
			int nul = open("/dev/null", O_WRONLY);

			if (nul >= 0)
				(void)dup2(nul, 2);
		}
		/* The pod's trees, whatever a calling hook exported. */
		(void)unsetenv("GIT_DIR");
		(void)unsetenv("GIT_WORK_TREE");
		(void)unsetenv("GIT_INDEX_FILE");
		if (index != NULL)
			(void)setenv("GIT_INDEX_FILE", index, 1);
		execvp("git", argv);
		fprintf(stderr, "podvisor: cannot run git: %s\n",
			strerror(errno));
		_exit(127);
	}
	if (out != NULL) {
		close(po[1]);
		*out = xstrdup("");
		for (;;) {
			r = read(po[0], buf, sizeof(buf));
			if (r < 0 && errno == EINTR)
				continue;
			if (r <= 0)
				break;
			if (len + (size_t)r > CWT_MAX_OUT)
				continue;
			*out = xreallocarray(*out, len + (size_t)r + 1, 1);
			memcpy(*out + len, buf, (size_t)r);
			len += (size_t)r;
			(*out)[len] = '\0';
		}
		close(po[0]);
	}
	for (k = 0; argv[k] != NULL; k++)
		free(argv[k]);
	free(argv);
	while (waitpid(pid, &st, 0) < 0)
		if (errno != EINTR)
			return -errno;
	return WIFEXITED(st) ? WEXITSTATUS(st) : 128 + WTERMSIG(st);
fail:
	e = errno;
	if (po[0] >= 0) {
		close(po[0]);
		close(po[1]);
	}
	for (k = 0; argv[k] != NULL; k++)
		free(argv[k]);
	free(argv);
	return -e;
}

/* One line of git output: trailing newline stripped, in place. */
static char *
cwt_chomp(char *s)
{
	size_t n = s != NULL ? strlen(s) : 0;

	while (n > 0 && (s[n - 1] == '\n' || s[n - 1] == '\r'))
		s[--n] = '\0';
	return s;
}

/* inspect NAME and pick out its worktree; exit code on failure, else -1. */
static int
cwt_lookup(struct cli *cli, const struct cli_cmd *cmd, const char *name,
	struct cwt *ret)
{
	struct json_object *params = json_object_new_object(), *w;
	char *err = NULL;
	int r;

	memset(ret, 0, sizeof(*ret));
	if (!podname_valid(name, &err)) {
		r = cli_usage_error(cmd, "bad pod name '%s': %s", name,
			err != NULL ? err : "invalid");
		free(err);
		json_object_put(params);
		return r;
	}
	json_object_object_add(params, "name", json_object_new_string(name));
	if ((r = cli_control_request(cli, "inspect", params, &ret->reply)) != 0)
		return r;
	ret->name = name;
	ret->status = msg_json_str(ret->reply.params, "status");
	ret->activity = msg_json_str(ret->reply.params, "activity");
	if (!json_object_object_get_ex(ret->reply.params, "worktree", &w) ||
		(ret->path = msg_json_str(w, "path")) == NULL ||
		(ret->branch = msg_json_str(w, "branch")) == NULL ||
		(ret->base = msg_json_str(w, "base")) == NULL ||
		(ret->repo = msg_json_str(w, "repo")) == NULL) {
		cli_err("pod %s has no git worktree (spawn one with "
			"'podvisor spawn NAME --worktree')",
			name);
		msg_clear(&ret->reply);
		return CLI_EXIT_FAIL;
	}
	ret->wt.dir = ret->path;
	ret->wt.gd = msg_json_str(w, "git_dir");
	ret->rt.dir = ret->repo;
	ret->rt.gd = msg_json_str(w, "repo_git_dir");
	return -1;
}

/*
 * A temporary index holding everything in the pod's worktree (what a
 * commit of all of it would hold): a copy of its own index (so git
 * reuses its stat data), then git add -A.  Returns the path (caller
 * unlinks and frees) or NULL after saying why.
 */
static char *
cwt_temp_index(const struct cwt *w)
{
	const char *a_path[] = { "rev-parse", "--path-format=absolute",
		"--git-path", "index", NULL };
	const char *a_add[] = { "add", "-A", NULL };
	char *own = NULL, *tmp, buf[65536];
	const char *dir = getenv("TMPDIR");
	int in, fd, r;
	ssize_t n;

	if (cwt_git(&w->wt, NULL, false, &own, a_path) != 0) {
		cli_err("pod %s: git cannot read its worktree %s", w->name,
			w->path);
		free(own);
		return NULL;
	}
	cwt_chomp(own);
	tmp = xstrfmt("%s/podvisor-index-XXXXXX",
		dir != NULL && dir[0] == '/' ? dir : "/tmp");
	if ((fd = mkstemp(tmp)) < 0) {
		cli_err("cannot make a temporary index %s: %s", tmp,
			strerror(errno));
		free(own);
		free(tmp);
		return NULL;
	}
	if ((in = open(own, O_RDONLY | O_CLOEXEC)) >= 0) {
		while ((n = read(in, buf, sizeof(buf))) > 0)
			if (write(fd, buf, (size_t)n) != n)
				break;
		close(in);
	}
	close(fd);
	free(own);
	if ((r = cwt_git(&w->wt, tmp, false, NULL, a_add)) != 0) {
		cli_err("pod %s: git add -A in %s failed (exit %d)", w->name,
			w->path, r);
		unlink(tmp);
		free(tmp);
		return NULL;
	}
	return tmp;
}

/* podvisor diff NAME [-- GIT-DIFF-OPTION...] */
int
cmd_diff(struct cli *cli, const struct cli_cmd *cmd, int argc, char **argv)
{
	static const struct option opts[] = {
		{ "help", no_argument, NULL, CLI_OPT_HELP },
		{ NULL, 0, NULL, 0 },
	};
	const char **args;
	struct cwt w;
	char *index;
	int c, ex = 0, r, i, n;

	while ((c = cli_getopt(cli, cmd, argc, argv, "", opts, &ex)) != -2)
		if (c == -1)
			return ex;
	if (argc - optind < 1)
		return cli_usage_error(cmd, "expected NAME");
	if ((r = cwt_lookup(cli, cmd, argv[optind], &w)) >= 0)
		return r;
	if ((index = cwt_temp_index(&w)) == NULL) {
		msg_clear(&w.reply);
		return CLI_EXIT_FAIL;
	}
	n = argc - optind - 1;
	args = xcalloc((size_t)n + 5, sizeof(*args));
	args[0] = "diff";
	args[1] = "--cached";
	for (i = 0; i < n; i++)
		args[2 + i] = argv[optind + 1 + i];
	args[2 + n] = w.base;
	args[3 + n] = "--";
	r = cwt_git(&w.wt, index, false, NULL, args);
	free(args);
	unlink(index);
	free(index);
	msg_clear(&w.reply);
	if (r < 0) {
		cli_err("cannot run git: %s", strerror(-r));
		return CLI_EXIT_FAIL;
	}
	return r == 0 ? CLI_EXIT_OK : CLI_EXIT_FAIL;
}

/* Commits by podvisor need a name even where git has none configured. */
static void
cwt_ident(const struct cwt_tree *dir)
{
	const char *a[] = { "config", "user.email", NULL };
	char *out = NULL;

	if (getenv("GIT_COMMITTER_EMAIL") == NULL &&
		cwt_git(dir, NULL, true, &out, a) != 0) {
		(void)setenv("GIT_AUTHOR_NAME", "podvisor", 0);
		(void)setenv("GIT_AUTHOR_EMAIL", "podvisor@localhost", 0);
		(void)setenv("GIT_COMMITTER_NAME", "podvisor", 0);
		(void)setenv("GIT_COMMITTER_EMAIL", "podvisor@localhost", 0);
	}
	free(out);
}

/* The one line a git command prints, or NULL (exit status non-zero). */
static char *
cwt_git_line(
	const struct cwt_tree *dir, const char *index, const char *const *args)
{
	char *out = NULL;

	if (cwt_git(dir, index, true, &out, args) != 0) {
		free(out);
		return NULL;
	}
	return cwt_chomp(out);
}

/* The merge once every check passed; exit code. */
static int
cwt_do_merge(struct cli *cli, struct cwt *w, const char *target,
	const char *commit, const char *tip, bool squash)
{
	const char *a_upd[] = { "update-ref", "-m",
		"podvisor merge: the pod's uncommitted work", "HEAD", commit,
		tip, NULL };
	const char *a_reset[] = { "reset", "-q", NULL };
	const char *a_merge[] = { "merge", "--no-edit", w->branch, NULL };
	const char *a_squash[] = { "merge", "--squash", "-q", w->branch, NULL };
	const char *a_commit[] = { "commit", "-q", "-m", NULL, NULL };
	const char *a_head[] = { "rev-parse", "HEAD", NULL };
	char *msg, *head;
	int r;

	if (strcmp(commit, tip) != 0) {
		/* Exactly the commit the check merged; the files stay. */
		if (cwt_git(&w->wt, NULL, false, NULL, a_upd) != 0 ||
			cwt_git(&w->wt, NULL, false, NULL, a_reset) != 0) {
			cli_err("pod %s: cannot commit its changes on %s",
				w->name, w->branch);
			return CLI_EXIT_FAIL;
		}
	}
	if (squash) {
		msg = xstrfmt("pod %s: the work of branch %s, squashed",
			w->name, w->branch);
		a_commit[3] = msg;
		r = cwt_git(&w->rt, NULL, false, NULL, a_squash);
		if (r == 0)
			r = cwt_git(&w->rt, NULL, false, NULL, a_commit);
	} else {
		msg = NULL;
		r = cwt_git(&w->rt, NULL, false, NULL, a_merge);
	}
	free(msg);
	if (r != 0) {
		cli_err("git merge into %s in %s failed (exit %d); if it "
			"stopped half-way: git -C %s merge --abort",
			target, w->repo, r, w->repo);
		return CLI_EXIT_FAIL;
	}
	head = cwt_git_line(&w->rt, NULL, a_head);
	if (cli->json) {
		struct json_object *o = json_object_new_object();

		json_object_object_add(
			o, "name", json_object_new_string(w->name));
		json_object_object_add(
			o, "branch", json_object_new_string(w->branch));
		json_object_object_add(
			o, "into", json_object_new_string(target));
		json_object_object_add(
			o, "repo", json_object_new_string(w->repo));
		json_object_object_add(o, "commit",
			head != NULL ? json_object_new_string(head) : NULL);
		json_object_object_add(
			o, "squash", json_object_new_boolean(squash));
		cli_print_json(o);
		json_object_put(o);
	} else
		printf("merged pod %s (branch %s) into %s in %s%s%.12s\n",
			w->name, w->branch, target, w->repo,
			head != NULL ? ", now at " : "",
			head != NULL ? head : "");
	free(head);
	return CLI_EXIT_OK;
}

/*
 * git merge-tree --name-only said: the tree, the conflicted files, an
 * empty line, its messages.  Say it indented, with what to do.
 */
static void
cwt_conflict(const struct cwt *w, const char *target, char *mout)
{
	char *line, *save = NULL, *s = strchr(mout, '\n');
	bool files = true;

	fflush(stdout);
	fprintf(stderr,
		"podvisor: merging pod %s (branch %s) into %s would "
		"conflict in:\n",
		w->name, w->branch, target);
	if (s != NULL && *++s != '\n') {
		for (line = strtok_r(s, "\n", &save); line != NULL;
			line = strtok_r(NULL, "\n", &save)) {
			if (files && save != NULL && *save == '\n') {
				fprintf(stderr, "  %s\ngit merge-tree says:\n",
					line);
				files = false;
				continue;
			}
			fprintf(stderr, "  %s\n", line);
		}
	}
	fprintf(stderr,
		"nothing was changed on either side; resolve it on the pod's "
		"side (tell the pod, or edit %s),\nor merge by hand: git -C "
		"%s merge %s\n",
		w->path, w->repo, w->branch);
}

/* podvisor merge NAME [--squash] */
int
cmd_merge(struct cli *cli, const struct cli_cmd *cmd, int argc, char **argv)
{
	static const struct option opts[] = {
		{ "squash", no_argument, NULL, 's' },
		{ "json", no_argument, NULL, CLI_OPT_JSON },
		{ "help", no_argument, NULL, CLI_OPT_HELP },
		{ NULL, 0, NULL, 0 },
	};
	const char *a_target[] = { "symbolic-ref", "--quiet", "--short", "HEAD",
		NULL };
	const char *a_dirty[] = { "status", "--porcelain",
		"--untracked-files=no", NULL };
	const char *a_tip[] = { "rev-parse", "--verify", "HEAD", NULL };
	const char *a_tree[] = { "rev-parse", "--verify", "HEAD^{tree}", NULL };
	const char *a_write[] = { "write-tree", NULL };
	const char *a_ctree[] = { "commit-tree", NULL, "-p", NULL, "-m", NULL,
		NULL };
	const char *a_mtree[] = { "merge-tree", "--write-tree", "--name-only",
		"HEAD", NULL, NULL };
	char *target = NULL, *dirty = NULL, *tip = NULL, *tree = NULL;
	char *ntree = NULL, *commit = NULL, *index = NULL, *mout = NULL;
	char *msg = NULL, *head = NULL, *nl;
	bool squash = false;
	struct cwt w;
	int c, ex = 0, r;

	while ((c = cli_getopt(cli, cmd, argc, argv, "", opts, &ex)) != -2) {
		if (c == -1)
			return ex;
		if (c == 's')
			squash = true;
	}
	if (argc - optind != 1)
		return cli_usage_error(cmd, "expected one NAME");
	if ((r = cwt_lookup(cli, cmd, argv[optind], &w)) >= 0)
		return r;
	r = CLI_EXIT_FAIL;
	if (w.activity != NULL && strcmp(w.activity, "running") == 0 &&
		w.status != NULL && strcmp(w.status, "live") == 0) {
		cli_err("pod %s is in a turn: merge when it is done (or stop "
			"it first)",
			w.name);
		goto out;
	}
	target = cwt_git_line(&w.rt, NULL, a_target);
	if (target == NULL) {
		cli_err("%s is not on a branch (detached HEAD, or not a "
			"repository any more): check out the branch to merge "
			"into, e.g. git -C %s switch main",
			w.repo, w.repo);
		goto out;
	}
	if (strcmp(target, w.branch) == 0) {
		cli_err("%s has the pod's own branch %s checked out: check "
			"out the branch to merge into",
			w.repo, w.branch);
		goto out;
	}
	if (cwt_git(&w.rt, NULL, false, &dirty, a_dirty) != 0)
		goto out;
	if (dirty[0] != '\0') {
		cli_err("%s (branch %s) has uncommitted changes:\n%scommit or "
			"stash them first, so that the merge brings in only "
			"the pod's work",
			w.repo, target, dirty);
		goto out;
	}
	cwt_ident(&w.wt);
	/* The pod's whole work as one commit, no ref moved yet. */
	if ((tip = cwt_git_line(&w.wt, NULL, a_tip)) == NULL ||
		(tree = cwt_git_line(&w.wt, NULL, a_tree)) == NULL) {
		cli_err("pod %s: git cannot read the branch of its worktree %s",
			w.name, w.path);
		goto out;
	}
	if ((index = cwt_temp_index(&w)) == NULL ||
		(ntree = cwt_git_line(&w.wt, index, a_write)) == NULL) {
		cli_err("pod %s: cannot record its worktree %s", w.name,
			w.path);
		goto out;
	}
	if (strcmp(ntree, tree) != 0) {
		msg = xstrfmt("pod %s: its uncommitted work\n\nCommitted by "
			      "podvisor merge.",
			w.name);
		a_ctree[1] = ntree;
		a_ctree[3] = tip;
		a_ctree[5] = msg;
		if ((commit = cwt_git_line(&w.wt, NULL, a_ctree)) == NULL) {
			cli_err("pod %s: git commit-tree failed in %s", w.name,
				w.path);
			goto out;
		}
	} else
		commit = xstrdup(tip);
	a_mtree[4] = commit;
	r = cwt_git(&w.rt, NULL, false, &mout, a_mtree);
	if (r == 1) {
		cwt_conflict(&w, target, mout);
		r = CLI_EXIT_FAIL;
		goto out;
	}
	if (r != 0) {
		cli_err("git merge-tree failed in %s (exit %d; git 2.38 or "
			"later is needed)",
			w.repo, r);
		r = CLI_EXIT_FAIL;
		goto out;
	}
	/* Already in (a squash earlier, the same edit made there). */
	if ((nl = strchr(mout, '\n')) != NULL)
		*nl = '\0';
	if ((head = cwt_git_line(&w.rt, NULL, a_tree)) != NULL &&
		strcmp(head, mout) == 0) {
		cli_err("nothing to merge: %s already has everything of pod "
			"%s (branch %s)",
			target, w.name, w.branch);
		r = CLI_EXIT_FAIL;
		goto out;
	}
	r = cwt_do_merge(cli, &w, target, commit, tip, squash);
out:
	if (index != NULL) {
		unlink(index);
		free(index);
	}
	free(target);
	free(dirty);
	free(tip);
	free(tree);
	free(ntree);
	free(commit);
	free(mout);
	free(head);
	free(msg);
	msg_clear(&w.reply);
	return r;
}

/* See cli.h. */
bool
cmd_worktree_status(struct json_object *w)
{
	const char *path = msg_json_str(w, "path");
	const char *branch = msg_json_str(w, "branch");
	const char *base = msg_json_str(w, "base");
	const char *repo = msg_json_str(w, "repo");
	const char *err = msg_json_str(w, "error");
	struct json_object *v;
	int changes = 0;

	if (path == NULL || branch == NULL || base == NULL || repo == NULL)
		return false;
	if (json_object_object_get_ex(w, "changes", &v))
		changes = json_object_get_int(v);
	printf("%-16s %s\n", "worktree", path);
	printf("%-16s %s (from %.12s of %s)\n", "branch", branch, base, repo);
	if (json_object_object_get_ex(w, "dirty", &v) && v != NULL &&
		json_object_get_boolean(v))
		printf("%-16s yes: %d changed or new file%s (podvisor diff)\n",
			"dirty", changes, changes == 1 ? "" : "s");
	else if (v != NULL)
		printf("%-16s no\n", "dirty");
	else if (err != NULL)
		printf("%-16s unknown: %s\n", "dirty", err);
	return true;
}

/* See cli.h. */
char *
cmd_worktree_git_version(void)
{
	const char *a[] = { "--version", NULL };
	struct cwt_tree here = { "/", NULL };

	return cwt_git_line(&here, NULL, a);
}
