# SPDX-License-Identifier: ISC
"""A git worktree per pod (docs/worktrees.md), end to end with the real
git, the CLI, podvisord, workers and fakellm: two pods in two worktrees
of one repository edit the same file differently; diff shows each; the
first merges, the second's conflict is refused with nothing changed;
forget removes the worktree; bad input is refused with clear errors.

Every wait is on a reply, an event or a process; nothing sleeps.
Run one test: python3 test_worktree.py test_two_pods_diff_merge_forget
"""

import json
import os
import shutil
import subprocess
import time

from pvtest import binary, check, run_tests

GIT = shutil.which("git")


def start(env):
    env.start_fakellm()
    env.use_fakellm()
    env.start_daemon()


def cli(env, *args, code=0, timeout=30):
    r = env.cli(*args, timeout=timeout)
    check(r.returncode == code, "podvisor %s: exit %d, expected %d\n"
          "stdout: %s\nstderr: %s" % (" ".join(args)[:300], r.returncode,
                                      code, r.stdout[-2000:], r.stderr))
    return r


def cli_json(env, *args, code=0, timeout=30):
    return json.loads(cli(env, "--json", *args, code=code,
                          timeout=timeout).stdout)


def git(cwd, *args, code=0):
    r = subprocess.run([GIT, "-C", cwd] + list(args), capture_output=True,
                       text=True, timeout=30,
                       env=dict(os.environ, GIT_CONFIG_NOSYSTEM="1"))
    check(r.returncode == code, "git %s in %s: exit %d, expected %d: %s%s"
          % (" ".join(args), cwd, r.returncode, code, r.stdout, r.stderr))
    return r.stdout


def make_repo(env, name="repo"):
    """A repository with one commit on main: story.txt of three lines."""
    repo = env.mkdir(name)
    git(repo, "init", "-q", "-b", "main")
    git(repo, "config", "user.name", "Test User")
    git(repo, "config", "user.email", "test@example.com")
    with open(os.path.join(repo, "story.txt"), "w") as f:
        f.write("one\ntwo\nthree\n")
    git(repo, "add", "story.txt")
    git(repo, "commit", "-q", "-m", "first")
    return repo


def run_turn(env, name, text, timeout=30):
    """`podvisor run --json NAME TEXT`: the tool results of that turn."""
    r = cli(env, "run", "--json", name, text, timeout=timeout)
    events = [json.loads(l) for l in r.stdout.splitlines() if l.strip()]
    ends = [e for e in events if e.get("event") == "run_end"]
    check(ends and ends[-1]["data"]["result"] == "finished",
          "run %s: %r" % (name, ends))
    return [e["data"] for e in events if e.get("event") == "tool_result"]


def write_via(env, name, path, content, read_first=False):
    """Pod name's write tool writes content to path (relative: its cwd);
    a file that exists is read first (the write tool wants that)."""
    if read_first:
        res = run_turn(env, name, "@read %s" % path)
        check(len(res) == 1 and not res[0]["is_error"], res)
    res = run_turn(env, name, "@write %s %s" % (path, content))
    check(len(res) == 1 and not res[0]["is_error"],
          "%s could not write %s: %r" % (name, path, res))


def spawn_wt(env, name, repo, *extra, code=0):
    return cli(env, "spawn", name, "--cwd", repo, "--worktree", *extra,
               code=code, timeout=60)


def test_two_pods_diff_merge_forget(env):
    if GIT is None:
        print("skip: no git on this machine")
        return
    start(env)
    repo = make_repo(env)
    base = git(repo, "rev-parse", "HEAD").strip()
    out = spawn_wt(env, "left", repo).stdout
    check("pod/left" in out, out)
    spawn_wt(env, "right", repo, "--branch", "try/right")
    spawn_wt(env, "third", repo)

    pods = {p["name"]: p for p in cli_json(env, "ls")["pods"]}
    wl, wr = pods["left"]["worktree"], pods["right"]["worktree"]
    check(wl["branch"] == "pod/left" and wr["branch"] == "try/right",
          (wl, wr))
    check(wl["base"] == base and wl["repo"] == os.path.realpath(repo), wl)
    check(wl["path"] == os.path.join(env.state, "worktrees", "left"), wl)
    # Each pod works in its worktree: its cwd and its write scope.
    check(pods["left"]["cwd"] == wl["path"], pods["left"])
    check([r["target"] for r in pods["left"]["effective_write"]] ==
          [wl["path"]], pods["left"]["effective_write"])
    check(os.path.isfile(os.path.join(wl["path"], "story.txt")), wl)
    st = env.read_state("left")
    check(st["worktree"]["branch"] == "pod/left" and
          st["worktree"]["base"] == base, st)

    # The same file, edited two ways (and a new file on the left).
    write_via(env, "left", "story.txt", "one\\nTWO by left\\nthree\\n",
              read_first=True)
    write_via(env, "left", "notes.txt", "left was here\\n")
    write_via(env, "right", "story.txt", "one\\nTWO by right\\nthree\\n",
              read_first=True)
    write_via(env, "third", "third.txt", "elsewhere\\n")
    check(open(os.path.join(repo, "story.txt")).read() ==
          "one\ntwo\nthree\n", "the user's tree changed")

    d = cli_json(env, "status", "left")
    check(d["worktree"]["dirty"] is True and d["worktree"]["changes"] == 2,
          d["worktree"])
    out = cli(env, "status", "left").stdout
    check("branch           pod/left (from %s" % base[:12] in out and
          "dirty            yes: 2 changed or new files" in out, out)

    dl = cli(env, "diff", "left").stdout
    check("+TWO by left" in dl and "-two" in dl and "notes.txt" in dl and
          "by right" not in dl, dl)
    dr = cli(env, "diff", "right").stdout
    check("+TWO by right" in dr and "notes.txt" not in dr, dr)
    stat = cli(env, "diff", "left", "--", "--stat").stdout
    check("story.txt" in stat and "2 files changed" in stat, stat)
    # diff changed nothing: the worktree is as dirty as before.
    check(git(wl["path"], "status", "--porcelain") ==
          " M story.txt\n?? notes.txt\n",
          git(wl["path"], "status", "--porcelain"))

    cli(env, "merge", "left")
    check(open(os.path.join(repo, "story.txt")).read() ==
          "one\nTWO by left\nthree\n", "left is not merged")
    check(os.path.isfile(os.path.join(repo, "notes.txt")), "no notes.txt")
    check(git(repo, "status", "--porcelain") == "", "repo left dirty")
    check(git(wl["path"], "status", "--porcelain") == "",
          "left's work is not committed on its branch")
    merged_head = git(repo, "rev-parse", "HEAD").strip()

    r = cli(env, "merge", "right", code=1)
    check("conflict" in r.stderr and "story.txt" in r.stderr and
          "nothing was changed" in r.stderr, r.stderr)
    check(git(repo, "rev-parse", "HEAD").strip() == merged_head,
          "the refused merge moved main")
    check(git(repo, "status", "--porcelain") == "", "repo changed")
    check(git(wr["path"], "status", "--porcelain") == " M story.txt\n",
          "the right pod's worktree changed")
    check(git(repo, "rev-parse", "try/right").strip() == base,
          "the right pod's branch moved")
    check("+TWO by right" in cli(env, "diff", "right").stdout, "diff")

    # No conflict, but main moved on since third began: a merge commit.
    cli(env, "merge", "third")
    check(open(os.path.join(repo, "third.txt")).read() == "elsewhere\n" and
          "TWO by left" in open(os.path.join(repo, "story.txt")).read(),
          "third is not merged beside left")
    check(git(repo, "rev-list", "--merges", "HEAD").strip() != "",
          "no merge commit")
    check(git(repo, "rev-parse", "HEAD^1").strip() == merged_head,
          "the merge is not on top of main")

    # forget: a dirty worktree needs --force; the branch is kept.
    cli(env, "stop", "left")
    cli(env, "stop", "right")
    cli(env, "forget", "left")
    check(not os.path.exists(wl["path"]), "left's worktree is still there")
    check(git(repo, "rev-parse", "--verify", "pod/left").strip() != "",
          "branch")
    r = cli(env, "forget", "right", code=1)
    check("podvisor forget --force right" in r.stderr and
          wr["path"] in r.stderr, r.stderr)
    check(os.path.isdir(wr["path"]), "a refused forget removed it")
    cli(env, "forget", "right", "--force", "--delete-branch")
    check(not os.path.exists(wr["path"]), "right's worktree is still there")
    git(repo, "rev-parse", "--verify", "--quiet", "try/right", code=1)
    listed = git(repo, "worktree", "list")
    check("worktrees/left" not in listed and "worktrees/right" not in listed
          and "worktrees/third" in listed, listed)


def test_squash_and_restore(env):
    """--squash makes one commit; a pod keeps its worktree across a stop,
    a daemon restart and restore."""
    if GIT is None:
        print("skip: no git on this machine")
        return
    start(env)
    repo = make_repo(env)
    git(repo, "checkout", "-q", "-b", "side")
    git(repo, "commit", "-q", "--allow-empty", "-m", "side base")
    side = git(repo, "rev-parse", "HEAD").strip()
    git(repo, "checkout", "-q", "main")
    spawn_wt(env, "sq", repo, "--base", "side", "--scope", "write:.",
             "--scope", "read:%s" % env.root)
    d = cli_json(env, "status", "sq")
    check(d["worktree"]["base"] == side and d["worktree"]["dirty"] is False,
          d["worktree"])
    # A relative --scope target is inside the worktree.
    check([r["target"] for r in d["effective_write"]] ==
          [d["worktree"]["path"]], d["effective_write"])
    write_via(env, "sq", "new.txt", "hello\\n")
    cli(env, "stop", "sq")
    env.kill_daemon()
    env.start_daemon()
    cli(env, "restore", "sq")
    d = cli_json(env, "status", "sq")
    check(d["cwd"] == d["worktree"]["path"] and d["worktree"]["dirty"],
          d)
    write_via(env, "sq", "more.txt", "again\\n")
    before = int(git(repo, "rev-list", "--count", "HEAD"))
    cli(env, "merge", "sq", "--squash")
    check(int(git(repo, "rev-list", "--count", "HEAD")) == before + 1,
          "squash is not one commit")
    check(git(repo, "rev-list", "--merges", "HEAD") == "", "a merge commit")
    check(os.path.isfile(os.path.join(repo, "new.txt")) and
          os.path.isfile(os.path.join(repo, "more.txt")), "files")
    r = cli(env, "merge", "sq", code=1)
    check("nothing to merge" in r.stderr, r.stderr)


def test_bad_input(env):
    """Outside a repository, a branch that exists, a dirty base, a bad
    base, --base without --worktree: each refused, naming it and the
    fix, with no pod and no worktree left behind."""
    if GIT is None:
        print("skip: no git on this machine")
        return
    start(env)
    plain = env.mkdir("plain")
    r = spawn_wt(env, "p1", plain, code=1)
    check("not inside a git repository" in r.stderr and plain in r.stderr
          and "not a git repository" in r.stderr, r.stderr)

    repo = make_repo(env)
    git(repo, "branch", "pod/p2")
    r = spawn_wt(env, "p2", repo, code=1)
    check("branch pod/p2 exists already" in r.stderr and
          "--branch" in r.stderr, r.stderr)

    r = spawn_wt(env, "p3", repo, "--base", "no-such-ref", code=1)
    check("no-such-ref is not a commit" in r.stderr, r.stderr)

    with open(os.path.join(repo, "story.txt"), "a") as f:
        f.write("four\n")
    r = spawn_wt(env, "p4", repo, code=1)
    check("uncommitted changes" in r.stderr and "story.txt" in r.stderr
          and "--base HEAD" in r.stderr, r.stderr)
    # With the base named the user's uncommitted edit is simply not in it.
    spawn_wt(env, "p4", repo, "--base", "HEAD")
    p4 = cli_json(env, "status", "p4")["worktree"]["path"]
    check(open(os.path.join(p4, "story.txt")).read() == "one\ntwo\nthree\n",
          "the worktree has the uncommitted edit")

    r = cli(env, "spawn", "p5", "--cwd", repo, "--base", "HEAD", code=2)
    check("--worktree" in r.stderr, r.stderr)
    # The daemon checks the parameter's shape itself.
    c = env.control()
    c.expect_error("spawn", {"name": "p6", "cwd": repo,
                             "worktree": {"base": "--help"}},
                   "invalid_request")
    names = {p["name"] for p in cli_json(env, "ls")["pods"]}
    check(names == {"p4"}, names)
    check(sorted(os.listdir(os.path.join(env.state, "worktrees"))) ==
          ["p4"], os.listdir(os.path.join(env.state, "worktrees")))
    r = cli(env, "diff", "nobody", code=1)
    check("no pod named nobody" in r.stderr, r.stderr)


def rule(target, perm="write"):
    return {"target": target, "permission": perm, "recursive": True}


def wait_gone(env, path, timeout=10):
    """Until path is gone: one control round trip per look (bounded)."""
    c = env.control()
    deadline = time.monotonic() + timeout
    while os.path.exists(path):
        check(time.monotonic() < deadline, "%s is still there" % path)
        c.request("ping")
    c.close()


def test_child_worktree(env):
    """spawn_pod with "worktree": the child gets a worktree of its
    parent's repository, from the parent's HEAD, as its own scope (not
    taken from the parent's); merging it lands on the parent's branch.
    A child still gets nothing else outside its parent's scope."""
    if GIT is None:
        print("skip: no git on this machine")
        return
    start(env)
    repo = make_repo(env)
    spawn_wt(env, "lead", repo)
    lead = cli_json(env, "status", "lead")["worktree"]
    res = run_turn(env, "lead", "@spawn_pod " + json.dumps(
        {"name": "lead.kid", "task": "hello", "scope": [rule(".")],
         "worktree": {}}))
    check(len(res) == 1 and not res[0]["is_error"], res)
    kid = cli_json(env, "status", "lead.kid")
    w = kid["worktree"]
    check(w["path"] == os.path.join(env.state, "worktrees", "lead.kid") and
          w["branch"] == "pod/lead.kid" and w["repo"] == lead["path"] and
          w["base"] == lead["base"], w)
    check(kid["cwd"] == w["path"] and kid["parent"] == "lead", kid)
    check([r["target"] for r in kid["effective_write"]] == [w["path"]],
          kid["effective_write"])
    write_via(env, "lead.kid", "kid.txt", "from the kid\\n")
    check("+from the kid" in cli(env, "diff", "lead.kid").stdout, "diff")
    cli(env, "merge", "lead.kid")
    check(open(os.path.join(lead["path"], "kid.txt")).read() ==
          "from the kid\n", "not merged into the parent's worktree")
    check(git(repo, "log", "--format=%s", "pod/lead") != "" and
          git(repo, "rev-parse", "main") == git(repo, "rev-parse",
                                                lead["base"]),
          "the user's main moved")

    # A rule outside both the new worktree and the parent's scope.
    away = env.mkdir("away")
    res = run_turn(env, "lead", "@spawn_pod " + json.dumps(
        {"name": "lead.bad", "task": "hi",
         "scope": [rule("."), rule(away)], "worktree": {}}))
    check(res[0]["is_error"] and "not_subset" in res[0]["output"], res)
    # Its worktree and branch are rolled back.
    wait_gone(env, os.path.join(env.state, "worktrees", "lead.bad"))
    c = env.control()
    deadline = time.monotonic() + 10
    while git(repo, "branch", "--list", "pod/lead.bad") != "":
        check(time.monotonic() < deadline, "pod/lead.bad is still there")
        c.request("ping")
    names = {p["name"] for p in cli_json(env, "ls")["pods"]}
    check(names == {"lead", "lead.kid"}, names)


def test_failed_start_rolls_back(env):
    """A worktree pod whose worker cannot start: the spawn fails and the
    worktree and its branch are removed again."""
    if GIT is None:
        print("skip: no git on this machine")
        return
    bad = os.path.join(env.root, "broken-worker")
    with open(bad, "w") as f:
        f.write("#!/bin/sh\necho broken worker >&2\nexit 3\n")
    os.chmod(bad, 0o755)
    env.start_fakellm()
    env.use_fakellm()
    env.start_daemon({"PODVISOR_WORKER": bad})
    repo = make_repo(env)
    r = spawn_wt(env, "doomed", repo, code=1)
    check("failed to start" in r.stderr, r.stderr)
    wait_gone(env, os.path.join(env.state, "worktrees", "doomed"))
    c = env.control()
    deadline = time.monotonic() + 10
    while git(repo, "branch", "--list", "pod/doomed") != "":
        check(time.monotonic() < deadline, "pod/doomed is still there")
        c.request("ping")
    check(cli_json(env, "ls")["pods"] == [], "a pod is left")


def test_daemon_serves_while_git_runs(env):
    """git runs beside the event loop: while git worktree add is held in
    a post-checkout hook, podvisord answers other clients; the spawn
    completes once the hook returns."""
    if GIT is None:
        print("skip: no git on this machine")
        return
    start(env)
    repo = make_repo(env)
    started = os.path.join(env.root, "hook-started")
    go = os.path.join(env.root, "hook-go")
    os.mkfifo(go)
    hook = os.path.join(repo, ".git", "hooks", "post-checkout")
    with open(hook, "w") as f:
        f.write("#!/bin/sh\n: > '%s'\nread x < '%s'\n" % (started, go))
    os.chmod(hook, 0o755)
    p = subprocess.Popen([binary("PODVISOR_CLI", "podvisor"), "spawn",
                          "slow", "--cwd", repo, "--worktree"],
                         env=env.env, stdout=subprocess.PIPE,
                         stderr=subprocess.PIPE, text=True)
    try:
        c = env.control()
        deadline = time.monotonic() + 20
        while not os.path.exists(started):
            check(time.monotonic() < deadline, "the hook never ran")
            c.request("ping")
        # git is blocked in its hook now: the daemon still answers.
        c.request("ping")
        check([q["name"] for q in c.request("list")["data"]["pods"]] == [],
              "the pod exists before its worktree")
        check(p.poll() is None, "the spawn did not wait for git")
        while True:
            try:
                fd = os.open(go, os.O_WRONLY | os.O_NONBLOCK)
                break
            except OSError:  # the hook has not opened it yet
                check(time.monotonic() < deadline, "the hook never read")
                c.request("ping")
        os.write(fd, b"go\n")
        os.close(fd)
        out, err = p.communicate(timeout=30)
    finally:
        if p.poll() is None:
            p.kill()
            p.wait()
    check(p.returncode == 0, "spawn: %s %s" % (out, err))
    check(cli_json(env, "status", "slow")["worktree"]["branch"] ==
          "pod/slow", "no worktree")


def test_git_time_limit(env):
    """[daemon] git_timeout_s bounds each git run: a git worktree add
    stuck in its hook is killed with its hook, the spawn fails saying so,
    and what it had made is removed."""
    if GIT is None:
        print("skip: no git on this machine")
        return
    env.start_fakellm()
    env.use_fakellm(extra="\n[daemon]\ngit_timeout_s = 2\n")
    env.start_daemon()
    repo = make_repo(env)
    go = os.path.join(env.root, "never")
    os.mkfifo(go)
    marker = os.path.join(env.root, "hook-pid")
    hook = os.path.join(repo, ".git", "hooks", "post-checkout")
    with open(hook, "w") as f:
        f.write("#!/bin/sh\necho $$ > '%s'\nread x < '%s'\n" % (marker, go))
    os.chmod(hook, 0o755)
    r = spawn_wt(env, "stuck", repo, code=1)
    check("time limit" in r.stderr, r.stderr)
    c = env.control()
    deadline = time.monotonic() + 10
    # (On a slow machine git may be killed before it reached the hook.)
    pid = int(open(marker).read()) if os.path.exists(marker) else None
    while pid is not None and os.path.exists("/proc/%d" % pid):
        check(time.monotonic() < deadline, "the hook %d still runs" % pid)
        c.request("ping")
    os.unlink(hook)
    wait_gone(env, os.path.join(env.state, "worktrees", "stuck"))
    while git(repo, "branch", "--list", "pod/stuck") != "":
        check(time.monotonic() < deadline, "pod/stuck is still there")
        c.request("ping")
    check(cli_json(env, "ls")["pods"] == [], "a pod is left")


def test_pod_git_file_not_followed(env):
    """The worktree's .git file is the pod's to change: pointed at a git
    dir of the pod's making, whose core.fsmonitor runs a command, it
    would run that command as the user, unconfined, whenever git looks at
    the worktree.  podvisord's and the CLI's git runs name the recorded
    git dirs instead: status, diff, merge and forget run nothing of it.
    A parent without a worktree that may write its repository's .git gets
    no worktree children."""
    if GIT is None:
        print("skip: no git on this machine")
        return
    start(env)
    repo = make_repo(env)
    spawn_wt(env, "sly", repo)
    w = cli_json(env, "status", "sly")["worktree"]
    write_via(env, "sly", "work.txt", "honest work\\n")
    # What the pod could do with its write scope (done here directly).
    evil = os.path.join(w["path"], "evil")
    marker = os.path.join(env.root, "pwned")
    git(w["path"], "init", "-q", evil)
    with open(os.path.join(w["path"], ".gitignore"), "w") as f:
        f.write("evil/\n")
    git(evil, "-c", "user.name=x", "-c", "user.email=x@x", "commit", "-q",
        "--allow-empty", "-m", "evil")
    git(evil, "config", "core.fsmonitor",
        "touch %s; echo" % marker)
    git_file = os.path.join(w["path"], ".git")
    honest = open(git_file).read()
    with open(git_file, "w") as f:
        f.write("gitdir: %s/.git\n" % evil)
    # The attack is real: a git that follows the file runs the command.
    subprocess.run([GIT, "-C", w["path"], "status"], capture_output=True,
                   timeout=30)
    check(os.path.exists(marker), "the fsmonitor trick did not work here")
    os.unlink(marker)

    d = cli_json(env, "status", "sly")
    check(d["worktree"]["dirty"] is True, d["worktree"])
    out = cli(env, "diff", "sly").stdout
    check("+honest work" in out, out)
    cli(env, "merge", "sly")
    check(open(os.path.join(repo, "work.txt")).read() == "honest work\n",
          "not merged")
    check(not os.path.exists(marker), "git ran the pod's fsmonitor")
    # forget puts git's own .git file back before git worktree remove,
    # which follows it to check the worktree is clean.
    write_via(env, "sly", "more.txt", "unmerged\\n")
    cli(env, "stop", "sly")
    r = cli(env, "forget", "sly", code=1)
    check("contains modified or untracked files" in r.stderr, r.stderr)
    check(open(git_file).read() == honest, "the .git file is not git's")
    with open(git_file, "w") as f:
        f.write("gitdir: %s/.git\n" % evil)
    out = cli(env, "forget", "sly", "--force").stdout
    check("worktree %s removed" % w["path"] in out, out)
    check(not os.path.exists(w["path"]), "the worktree is still there")
    check(not os.path.exists(marker), "git ran the pod's fsmonitor")

    # A parent whose scope holds the repository's .git: no worktrees.
    cli(env, "spawn", "plain", "--cwd", repo)
    res = run_turn(env, "plain", "@spawn_pod " + json.dumps(
        {"name": "plain.kid", "task": "hi", "scope": [rule(".")],
         "worktree": {}}))
    check(res[0]["is_error"] and "not_subset" in res[0]["output"] and
          "may write the git dir" in res[0]["output"], res)


if __name__ == "__main__":
    run_tests([test_two_pods_diff_merge_forget, test_squash_and_restore,
               test_bad_input, test_child_worktree,
               test_failed_start_rolls_back,
               test_daemon_serves_while_git_runs, test_git_time_limit,
               test_pod_git_file_not_followed])
