# SPDX-License-Identifier: ISC
"""Scope security, table driven: every file tool and bash, driven through
fakellm directives, tries to reach outside the pod's effective write
scope (symlinks, `..`, hard links, renames across the boundary, a child
writing its parent's area, a parent writing a delegated area, a TOCTOU
race).  Each attempt must be refused and every file outside the scope
must be unchanged (checksummed before and after).

The tree lives outside /tmp and /var/tmp (in PVTEST_TMPDIR, the build
dir under meson, else the current dir): bash sees private ones there
(docs/isolation.md), so a tree beneath them would be invisible to bash
and every escape through bash would fail for the wrong reason.
"""

import hashlib
import json
import os
import select
import signal
import tempfile
import threading
import time

import pvtest
from pvtest import check, run_tests, text_input

tempfile.tempdir = os.environ.get("PVTEST_TMPDIR") or os.getcwd()


def tree_sums(root):
    """{relative path: (kind, digest)} of everything under root (symlinks
    by target, not followed)."""
    out = {}
    for d, dirs, files in os.walk(root, followlinks=False):
        for n in dirs + files:
            p = os.path.join(d, n)
            rel = os.path.relpath(p, root)
            if os.path.islink(p):
                out[rel] = ("link", os.readlink(p))
            elif os.path.isdir(p):
                out[rel] = ("dir", oct(os.stat(p).st_mode))
            else:
                st = os.stat(p)
                with open(p, "rb") as f:
                    out[rel] = ("file", hashlib.sha256(f.read()).hexdigest(),
                                oct(st.st_mode), st.st_mtime_ns)
    return out


def setup(env):
    w = env.work
    layout = {
        "outside/secret.txt": "top secret\n",
        "outside/linked.txt": "linked\n",
        "outside/sub/deep.txt": "deep\n",
        "a/mine.txt": "mine\n",
        "a/sub/s.txt": "s\n",
        "a/kid/kidfile.txt": "kid's\n",
        "a/parentfile.txt": "parent's\n",
    }
    for rel, text in layout.items():
        p = os.path.join(w, rel)
        os.makedirs(os.path.dirname(p), exist_ok=True)
        with open(p, "w") as f:
            f.write(text)
    os.symlink("../outside", os.path.join(w, "a/link_out"))
    os.symlink(os.path.join(w, "outside/secret.txt"),
               os.path.join(w, "a/link_file"))
    os.symlink("../outside/created.txt", os.path.join(w, "a/dangling"))
    os.symlink("/", os.path.join(w, "a/root"))
    os.link(os.path.join(w, "outside/linked.txt"), os.path.join(w, "a/hard"))
    env.start_fakellm()
    env.use_fakellm()
    env.start_daemon()
    c = env.control()
    c.request("spawn", {"name": "a", "cwd": os.path.join(w, "a")})
    pa = env.pod_client("a")
    g = pa.prelude["data"]["greeting"]
    check(g["bash_confinement"] == "landlock",
          "bash is not confined by Landlock on this machine")
    check(g.get("bash_readonly_mounts") is True,
          "bash does not run under read-only mounts on this machine "
          "(user namespaces disabled?)")
    # a delegates a/kid to its child a.kid
    run(pa, '@spawn_pod {"name":"a.kid","task":"hello","scope":[{"target":'
        '"%s","permission":"write","recursive":true}],"cwd":"%s"}' %
        (os.path.join(w, "a/kid"), os.path.join(w, "a/kid")))
    # the child's task ends with a child_turn_ended event for a
    settle(pa, pod_event("child_turn_ended", "a.kid"), pa.msgs)
    pk = env.pod_client("a.kid")
    return c, pa, pk


def pod_event(kind, frm):
    return lambda d: (d["item"].get("type") == "pod_event" and
                      d["item"].get("kind") == kind and
                      d["item"].get("from") == frm)


def settle(p, pred, msgs=()):
    """Wait until the pod has handled the pod event matching pred (a
    system_item) and the turn holding it has ended."""
    if any(m.get("event") == "system_item" and pred(m["data"])
           for m in msgs):
        return
    p.wait_event("system_item", 30, pred)
    p.wait_event("run_end", 30)
    p.wait_event("status")


def run(p, text, parent=None):
    """One turn; returns the tool results (data dicts) in order.  A
    child's turn end is a pod event for its parent: wait for that too."""
    p.request("run", text_input(text))
    msgs = p.collect_until("run_end", 30)
    p.wait_event("status")
    end = msgs[-1]["data"]
    check(end["result"] == "finished", "turn %r: %r" % (text[:60], end))
    if parent is not None:
        settle(parent, pod_event("child_turn_ended", "a.kid"))
    p.msgs = msgs
    return [m["data"] for m in msgs if m.get("event") == "tool_result"]


# (pod, directive, what).  Every one of them must be refused: a tool
# error, or for bash a failing command (checked by its echo marker).
FILE_CASES = [
    ("a", "@write ../outside/new.txt x", ".. out of scope"),
    ("a", "@write {W}/outside/new.txt x", "absolute out of scope"),
    ("a", "@write {W}/outside/secret.txt x", "overwrite outside"),
    ("a", "@write link_out/new.txt x", "symlinked dir pointing out"),
    ("a", "@write link_file x", "symlinked file pointing out"),
    ("a", "@edit link_file secret public", "edit via symlink"),
    ("a", "@write dangling x", "dangling symlink pointing out"),
    ("a", "@write root/{W}/outside/new.txt x", "symlink to /"),
    ("a", "@write nothere/../../outside/new.txt x", ".. in a missing tail"),
    ("a", "@read hard\n@write hard x", "write through a hard link"),
    ("a", "@read hard\n@edit hard linked public", "edit through a hard link"),
    ("a", "@write kid/new.txt x", "parent into a delegated area"),
    ("a", "@write kid/kidfile.txt x", "parent overwrites delegated file"),
    ("a", "@edit kid/kidfile.txt kid parent", "parent edits delegated"),
    ("a", "@read ../outside/secret.txt", "read outside"),
    ("a", "@read link_file", "read via symlink"),
    ("a", "@grep secret {W}/outside", "grep outside"),
    ("a", "@glob * {W}/outside", "glob outside"),
    ("a", "@read /proc/self/environ", "read /proc"),
    ("a.kid", "@write ../parentfile.txt x", "child into its parent's area"),
    ("a.kid", "@write {W}/a/new.txt x", "child absolute into parent"),
    ("a.kid", "@edit ../mine.txt mine theirs", "child edits parent's"),
    ("a.kid", "@write ../../outside/new.txt x", "child out of everything"),
]

# bash: each command ends with `&& echo ESCAPED`; refused = no ESCAPED.
BASH_CASES = [
    ("a", "echo x > ../outside/secret.txt", "redirect out"),
    ("a", "echo x > link_out/new.txt", "redirect via symlink"),
    ("a", "echo x >> link_file", "append via symlink file"),
    ("a", "echo x > dangling", "dangling symlink"),
    ("a", "mv ../outside/secret.txt ./stolen", "rename in from outside"),
    ("a", "mv mine.txt ../outside/", "rename out"),
    ("a", "mv link_out/sub ./sub", "rename via symlink"),
    ("a", "ln ../outside/secret.txt hl && echo pwn >> hl", "hard link in"),
    ("a", "ln mine.txt ../outside/hl", "hard link out"),
    ("a", "rm -rf ../outside/sub", "remove outside"),
    ("a", "mkdir ../outside/d", "mkdir outside"),
    ("a", "touch kid/new", "parent into delegated (bash)"),
    ("a", "echo x > kid/kidfile.txt", "parent overwrites delegated (bash)"),
    ("a", "mv kid/kidfile.txt ./taken", "parent takes from delegated"),
    ("a", "truncate -s 0 link_file", "truncate via symlink"),
    ("a", "cp /etc/hostname ../outside/", "cp out"),
    ("a", "chmod 777 ../outside/secret.txt", "chmod outside"),
    ("a", "touch -m -d @0 ../outside/secret.txt", "set mtime outside"),
    ("a", "chmod 700 kid/kidfile.txt", "chmod a delegated file"),
    ("a", "touch -m -d @0 kid/kidfile.txt", "set mtime of a delegated file"),
    ("a", "umount -l kid; echo x > kid/kidfile.txt", "unmount the guard"),
    ("a.kid", "echo x > ../parentfile.txt", "child into parent (bash)"),
    ("a.kid", "mv ../mine.txt ./", "child takes parent's file"),
    ("a.kid", "rm ../mine.txt", "child removes parent's file"),
]

# KNOWN GAP (run with PVTEST_KNOWN_BUGS=1): Landlock and the read-only
# mounts are both path based: a hard link the user made inside the scope
# to a file outside is writable by bash (the write tool refuses files with
# more than one link).
BASH_GAPS = [
    ("a", "echo x >> hard", "write through a user's hard link"),
    ("a", "echo x >> ../outside/linked.txt", "write the hard-linked file"),
]
if os.environ.get("PVTEST_KNOWN_BUGS"):
    BASH_CASES += BASH_GAPS


def own(pod, rel):
    """Is the work-tree path rel in pod's effective write area?"""
    kid = rel == "a/kid" or rel.startswith("a/kid/")
    if pod == "a.kid":
        return kid
    return rel.startswith("a/") and not kid


def test_file_tools_and_bash(env):
    c, pa, pk = setup(env)
    w = env.work
    pods = {"a": pa, "a.kid": pk}
    # protected: everything outside, the parent's files for the child,
    # the child's files for the parent
    before = tree_sums(w)
    refused = 0
    for pod, directive, what in FILE_CASES:
        res = run(pods[pod], directive.replace("{W}", w),
                  pa if pod == "a.kid" else None)
        check(len(res) == directive.count("@"), "%s: %d tool results" %
              (what, len(res)))
        check(res[-1]["is_error"], "%s: NOT refused: %r" % (what, res[-1]))
        refused += 1
    after = tree_sums(w)
    check(after == before, "files changed by refused file tools: %r" %
          sorted(k for k in set(before) | set(after)
                 if before.get(k) != after.get(k)))
    for pod, cmd, what in BASH_CASES:
        snap = tree_sums(w)
        res = run(pods[pod], "@bash %s && echo ESCAPED" % cmd,
                  pa if pod == "a.kid" else None)
        check(len(res) == 1, "%s: %d tool results" % (what, len(res)))
        check("ESCAPED" not in json.dumps(res[0]),
              "bash %s: NOT refused: %r" % (what, res[0]))
        # A refused mv across the boundary may leave a copy in the
        # pod's own area (rename gives EXDEV, mv copies, the unlink
        # fails): reading is allowed.  Nothing else may change.
        now = tree_sums(w)
        changed = [k for k in set(snap) | set(now)
                   if snap.get(k) != now.get(k) and not own(pod, k)]
        check(not changed, "bash %s changed %r" % (what, sorted(changed)))
        refused += 1
    # every file there was is unchanged, nothing new outside the areas
    after = {k: v for k, v in tree_sums(w).items()
             if k in before or not (own("a", k) or own("a.kid", k))}
    changed = sorted(k for k in set(before) | set(after)
                     if before.get(k) != after.get(k))
    check(not changed, "files changed by refused attempts: %r" % changed)
    # and the legitimate ones do work (the test is not vacuous)
    res = run(pa, "@write new_in_scope.txt fine\n@bash echo ok > sub/b.txt "
              "&& echo WROTE")
    check(not res[0]["is_error"] and "WROTE" in json.dumps(res[1]),
          "in-scope writes refused: %r" % res)
    res = run(pk, "@write mine_too.txt fine\n@bash echo ok > k.txt && "
              "echo WROTE", pa)
    check(not res[0]["is_error"] and "WROTE" in json.dumps(res[1]),
          "child's in-scope writes refused: %r" % res)
    # once the child is gone, its area returns to the parent
    c.request("stop", {"name": "a.kid"})
    settle(pa, pod_event("child_exited", "a.kid"))
    res = run(pa, "@bash echo back > kid/back.txt && echo WROTE")
    check("WROTE" in json.dumps(res[0]), "released area not writable: %r"
          % res)
    print("  %d escape attempts refused, outside tree unchanged (%d "
          "entries checked)" % (refused, len(before)))


def test_toctou_symlink_swap(env):
    """The test swaps a/race between a real directory and a symlink to
    outside/ as fast as it can while the pod writes a/race/f<N>.txt and
    bash appends to a/race/g.txt; nothing may ever land outside."""
    c, pa, pk = setup(env)
    w = env.work
    race = os.path.join(w, "a", "race")
    real = os.path.join(w, "a", "race.real")
    link = os.path.join(w, "a", "race.link")
    os.makedirs(real)
    os.symlink(os.path.join(w, "outside"), link)
    os.rename(real, race)
    outside_before = tree_sums(os.path.join(w, "outside"))
    stop = threading.Event()
    swaps = [0]

    def swapper():
        # race is the dir; alternate it with the symlink atomically
        while not stop.is_set():
            try:
                os.rename(race, real)
                os.rename(link, race)
                os.rename(race, link)
                os.rename(real, race)
                swaps[0] += 1
            except OSError:
                pass

    t = threading.Thread(target=swapper)
    t.start()
    try:
        directives = "\n".join("@write race/f%d.txt x" % i for i in range(40))
        res = run(pa, directives)
        res += run(pa, "@bash for i in $(seq 2000); do echo x >> race/g.txt "
                   "2>/dev/null; done; echo done")
        res += run(pa, "\n".join("@edit race/f%d.txt x y" % i
                                 for i in range(10)))
    finally:
        stop.set()
        t.join()
    ok = sum(1 for r in res if not r["is_error"])
    after = tree_sums(os.path.join(w, "outside"))
    check(after == outside_before, "TOCTOU: outside changed: %r" %
          sorted(k for k in set(after) | set(outside_before)
                 if after.get(k) != outside_before.get(k)))
    print("  TOCTOU: %d swaps during %d tool calls (%d succeeded in the "
          "real dir); outside unchanged" % (swaps[0], len(res), ok))


def test_parent_bash_after_delegation(env):
    """Fixed bug, kept as a regression test (worker/mountns.c): after a
    pod delegated a/kid to a child, its bash could no longer create or
    remove entries directly in a/, its own scope root, because Landlock
    cannot carve a subtree out of a grant.  The delegated area is now a
    read-only bind mount in bash's mount namespace instead."""
    c, pa, pk = setup(env)
    res = run(pa, "@write via_tool.txt fine\n@bash echo ok > via_bash.txt "
              "&& rm mine.txt && echo WROTE")
    check(not res[0]["is_error"], "write tool refused: %r" % res[0])
    check("WROTE" in json.dumps(res[1]), "bash in the scope root after a "
          "delegation: %r" % res[1])


def ppid_of(pid):
    """The parent of pid, None once it is gone (a zombie counts as gone)."""
    try:
        with open("/proc/%d/stat" % pid) as f:
            stat = f.read()
    except (FileNotFoundError, ProcessLookupError):
        return None  # gone, or going: a read can fail with ESRCH
    fields = stat[stat.rindex(")") + 2:].split()
    return None if fields[0] in ("Z", "X") else int(fields[1])


def test_orphans_die_with_their_pod(env):
    """What a pod's bash leaves running in a session of its own (setsid,
    a double fork) escapes the run's process group and the worker's
    session: it must still not outlive the pod, whose scope it was
    confined to.  The worker adopts such orphans (child subreaper) and
    kills them when it ends; after a kill -9 of the worker, podvisord
    (their subreaper then) kills them before the scope is released."""
    env.start_fakellm()
    env.use_fakellm()
    env.start_daemon()
    c = env.control()
    a = os.path.join(env.work, "a")
    os.makedirs(a)
    for how in ("stop", "kill -9"):
        wpid = c.request("spawn", {"name": "a", "cwd": a})["data"]["pid"]
        pa = env.pod_client("a")
        run(pa, "@bash rm -f s1.pid s2.pid; "
            "setsid sh -c 'echo $$ > s1.pid; exec sleep 300' "
            "</dev/null >/dev/null 2>&1 & "
            "(sh -c 'echo $$ > s2.pid; exec sleep 300' </dev/null "
            ">/dev/null 2>&1 &); "
            "while [ ! -s s1.pid ] || [ ! -s s2.pid ]; do :; done; echo up")
        pids = []
        for n in ("s1.pid", "s2.pid"):
            with open(os.path.join(a, n)) as f:
                pids.append(int(f.read()))
        check(all(ppid_of(p) == wpid for p in pids),
              "orphans %r not adopted by the worker %d: parents %r" %
              (pids, wpid, [ppid_of(p) for p in pids]))
        env.notify.drain()
        if how == "stop":
            c.request("stop", {"name": "a"})
        else:
            os.kill(wpid, signal.SIGKILL)
            env.notify.wait("STATUS=0 live pods")
        # podvisord kills them as it reaps the worker: wait (bounded) for
        # their exit through pidfds, which need not be our children
        fds = []
        for p in pids:
            try:
                fds.append(os.pidfd_open(p))
            except ProcessLookupError:
                pass
        deadline = time.monotonic() + pvtest.DEFAULT_TIMEOUT
        while fds and time.monotonic() < deadline:
            ready, _, _ = select.select(fds, [], [],
                                        deadline - time.monotonic())
            for fd in ready:
                os.close(fd)
                fds.remove(fd)
        for fd in fds:
            os.close(fd)
        alive = [p for p in pids if ppid_of(p) is not None]
        check(not alive, "%s: tool processes outlived the pod: %r" %
              (how, alive))
        c.request("forget", {"name": "a"})
        print("  %s: %d orphans (own session, double fork) gone with the "
              "pod" % (how, len(pids)))


ESCAPE = """import json, os, socket, sys
p = os.path.join(os.environ.get("PODVISOR_RUNTIME_DIR", %(run)r),
                 "control.sock")
race = sys.argv[1] == "race"
for i in range(int(sys.argv[2])):
    s = socket.socket(socket.AF_UNIX)
    if race:
        # connect from a child that is gone (and reaped) before podvisord
        # accepts and looks up the peer's ancestry
        pid = os.fork()
        if pid == 0:
            s.connect(p)
            os._exit(0)
        os.waitpid(pid, 0)
    else:
        s.connect(p)
    f = s.makefile("rwb")
    f.readline()
    req = {"method": "spawn", "id": 1, "params": {"name": "evil%%d" %% i,
           "cwd": %(out)r, "task": "@write %(out)s/pwned.txt pwned",
           "scope": [{"target": %(out)r, "permission": "write",
                      "recursive": True}]}}
    f.write(json.dumps(req).encode() + b"\\n"); f.flush()
    r = f.readline().decode()
    s.close()
    if '"spawned"' in r:
        print("ESCAPED after", i + 1, r)
        break
else:
    print("refused:", r)
"""


def escape(env, mode, tries):
    c, pa, pk = setup(env)
    w = env.work
    with open(os.path.join(w, "a", "escape.py"), "w") as f:
        f.write(ESCAPE % {"run": env.runtime, "out": os.path.join(w,
                                                                 "outside")})
    res = run(pa, "@bash timeout_s=300 python3 escape.py %s %d" %
              (mode, tries))
    out = res[0].get("output", "")
    print("  bash -> control.sock (%s): %s" % (mode, out[:160]))
    pods = [p["name"] for p in c.request("list")["data"]["pods"]]
    check(not any(n.startswith("evil") for n in pods) and
          "ESCAPED" not in out, "a pod's bash spawned a top-level pod "
          "with a scope outside its own via control.sock: %s" % out[:300])


def test_escape_via_control_socket(env):
    """A pod's bash runs as the same uid and can connect to control.sock
    (Landlock does not restrict connect(2) on a pathname socket): podvisord
    must treat it as that pod, not as the user."""
    escape(env, "plain", 1)


def test_escape_via_control_socket_race(env):
    """Fixed bug, kept as a regression test (common/proc.c):
    podvisord classifies a control client by walking the parents of its
    SO_PEERCRED pid (supervisord/peer.c) at accept time; if that process
    has already exited and been reaped, /proc/PID is gone, the walk ends
    and the client is "the user".  bash connects from a forked child that
    exits at once; within a few hundred tries (often ~20) a spawn with a
    scope outside the pod is accepted and the new pod writes there."""
    escape(env, "race", 500)


def test_escape_via_pod_socket(env):
    """Fixed bug, kept as a regression test (worker/podsock.c refuses
    peers inside a pod): a pod's
    bash can connect to another pod's socket (the worker checks only the
    uid) and `run` input there, so a child drives its parent, or any pod
    drives a pod with a wider scope, and writes outside its own scope."""
    c, pa, pk = setup(env)
    w = env.work
    with open(os.path.join(w, "a", "kid", "drive.py"), "w") as f:
        f.write("""import json, socket
s = socket.socket(socket.AF_UNIX); s.connect(%r)
f = s.makefile("rwb"); f.readline()
f.write(json.dumps({"method": "run", "id": 1, "params": {"input": [
    {"kind": "text", "content": "@write %s/outside/driven.txt x\\n"
                                "@write %s/a/driven.txt x"}]}}).encode()
        + b"\\n"); f.flush()
for line in f:
    if b'"id":1' in line or b"run_end" in line:
        print(line.decode()[:200])
    if b"run_end" in line:
        break
""" % (env.pod_sock("a"), w, w))
    res = run(pk, "@bash python3 drive.py", pa)
    print("  a.kid's bash -> a's pod socket: %s" %
          res[0].get("output", "")[:200])
    check(not os.path.exists(os.path.join(w, "a", "driven.txt")),
          "the child made its parent write in the parent's area")


if __name__ == "__main__":
    tests = [test_file_tools_and_bash, test_toctou_symlink_swap,
             test_escape_via_control_socket,
             test_escape_via_control_socket_race, test_escape_via_pod_socket,
             test_parent_bash_after_delegation,
             test_orphans_die_with_their_pod]
    run_tests(tests)
