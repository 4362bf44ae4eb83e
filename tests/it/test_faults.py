# SPDX-License-Identifier: ISC
"""Faults: kill -9 of a worker mid-turn and of podvisord mid-operation,
a full disk under the state dir, and a misbehaving provider.

After each fault: the system answers, nothing a client saw committed is
lost, nothing is duplicated, scopes and peers are consistent, and the
pod is still usable.
"""

import json
import os
import signal
import subprocess
import sys
import time

from pvtest import Client, check, data, fail, run_tests, text_input

# meson passes the LD_PRELOAD fault shim (faultshim.so) as an argument
FAULTSHIM = next((os.path.abspath(a) for a in sys.argv[1:]
                  if a.endswith(".so")), None)
sys.argv = [a for a in sys.argv if not a.endswith(".so")]

STORY = "once upon a time " * 30

SCENARIO = [
    {"match": {"user_contains": "slow story"},
     "reply": {"text": STORY, "chunks": 60}, "stream": {"delay_ms": 100}},
    # provider failures, selected by a word in the user's message
    {"match": {"user_contains": "rl2"}, "times": 2,
     "fail": {"status": 429, "retry_after": 0, "retry_after_ms": 10}},
    {"match": {"user_contains": "srv"},
     "fail": {"status": 500, "retry_after_ms": 10}},
    {"match": {"user_contains": "ovl"},
     "fail": {"status": 529, "retry_after_ms": 10}},
    {"match": {"user_contains": "auth"}, "fail": "auth"},
    {"match": {"user_contains": "cut1"}, "times": 1,
     "stream": {"cut_after": 3}},
    {"match": {"user_contains": "mal1"}, "times": 1,
     "stream": {"malformed_after": 2}},
    {"match": {"user_contains": "err1"}, "times": 1,
     "stream": {"error_after": 2}},
    {"match": {"user_contains": "cutall"}, "stream": {"cut_after": 2}},
    {"match": {"user_contains": "overflow1"}, "times": 1, "fail": "overflow"},
]




def start(env):
    env.start_fakellm(SCENARIO)
    env.use_fakellm()
    env.start_daemon()
    return env.control()


def wait_status(c, name, pred, what, timeout=10):
    """Poll `inspect` (each a round trip) until pred(status)."""
    deadline = time.monotonic() + timeout
    while True:
        r = c.call("inspect", {"name": name})
        st = data(r).get("status") if r["event"] == "pod" else None
        if pred(st):
            return data(r)
        if time.monotonic() > deadline:
            fail("%s: %s is %r" % (what, name, st))


def alive(pid):
    try:
        os.kill(pid, 0)
        return True
    except ProcessLookupError:
        return False


def still_running(pid):
    """Alive and not a zombie (a read of a process going away may fail
    with ESRCH)."""
    try:
        with open("/proc/%d/stat" % pid) as f:
            return f.read().rsplit(")", 1)[1].split()[0] not in ("Z", "X")
    except OSError:
        return False


def finish(p, timeout=30):
    """Read to the run_end (and the status after it); exactly one."""
    msgs = p.collect_until("run_end", timeout)
    st = p.wait_event("status")
    check(st["data"]["status"] in ("idle", "paused"), "status %r" % st)
    check(not any(m.get("event") == "run_end" for m in p.seen),
          "a second run_end before the status")
    return msgs


def entry_key(e):
    return json.dumps(e, sort_keys=True)


def check_restored(before, seen, after, what):
    """Nothing a client saw committed is lost; nothing is duplicated."""
    keys = [entry_key(e) for e in after]
    steps = [k for k, e in zip(keys, after) if e["kind"] != "usage"]
    dups = sorted({k for k in steps if steps.count(k) > 1})
    check(not dups, "%s: duplicate entries %s" % (what, "; ".join(
        k[:200] for k in dups)))
    ids = [e["id"] for e in after if e["kind"] == "tool_result"]
    check(len(ids) == len(set(ids)), "%s: duplicate tool results %r" %
          (what, ids))
    check(keys[:len(before)] == [entry_key(e) for e in before],
          "%s: entries of the old snapshot changed or lost" % what)
    for m in seen:
        ev, d = m.get("event"), data(m)
        if ev == "user_message":
            ok = any(e["kind"] == "user_input" and
                     e["segments"] == d["segments"] for e in after)
        elif ev == "tool_result":
            ok = d["id"] in ids
        elif ev == "turn_end":
            ok = any(e["kind"] == "turn_end" and e["turn"] == d["turn"]
                     for e in after)
        elif ev == "text_done":
            ok = any(e["kind"] == "assistant" and
                     e.get("text") == d["text"] for e in after)
        else:
            continue
        check(ok, "%s: event %s %r was seen but is not in the restored "
              "log" % (what, ev, d))


def descendants(pid):
    """pids and command lines of pid's descendants (from /proc)."""
    parent = {}
    cmd = {}
    for d in os.listdir("/proc"):
        if not d.isdigit():
            continue
        try:
            with open("/proc/%s/stat" % d) as f:
                parent[int(d)] = int(f.read().rsplit(")", 1)[1].split()[1])
            with open("/proc/%s/cmdline" % d, "rb") as f:
                cmd[int(d)] = f.read().replace(b"\0", b" ").decode()
        except (OSError, ValueError, IndexError):
            pass
    out = {}
    for p in parent:
        q, n = p, 0
        while q in parent and n < 64:
            q, n = parent[q], n + 1
            if q == pid:
                out[p] = cmd.get(p, "")
                break
    return out


def wait_descendant(pid, word, timeout=10):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if any(word in c for c in descendants(pid).values()):
            return True
    fail("no %r process under %d" % (word, pid))


def kill_worker_at(env, c, name, inp, point, running=None):
    """Run inp, kill -9 the worker when `point(msg)` holds, restore, check."""
    pid = data(c.request("inspect", {"name": name}))["pid"]
    p = env.pod_client(name)
    before = p.prelude["data"]["entries"]
    p.request("run", text_input(inp))
    seen = []
    while True:
        m = p.read(30)
        check(m is not None, "pod closed before the kill point")
        seen.append(m)
        if point(m):
            break
    if running is not None:
        wait_descendant(pid, running)   # the tool really runs
    kids = descendants(pid)
    os.kill(pid, signal.SIGKILL)
    # whatever the worker wrote after the kill point may still arrive
    while True:
        m = p.read(10)
        if m is None:
            break
        seen.append(m)
    strays = []
    wait_status(c, name, lambda s: s in ("crashed", "stopped", "failed"),
                "after kill -9")
    r = c.request("restore", {"name": name})
    check(r["event"] == "restored", "restore: %r" % r)
    q = env.pod_client(name)
    snap = q.prelude["data"]
    check(snap["status"] == "idle", "restored pod not idle: %r" %
          snap["status"])
    check_restored(before, seen, snap["entries"], "killed at %s" %
                   (seen[-1].get("event"),))
    q.request("run", text_input("after the crash"))
    msgs = finish(q)
    end = [m for m in msgs if m.get("event") == "run_end"][-1]
    check(end["data"]["result"] == "finished", "run after restore: %r" %
          end)
    # tool children of the killed worker that outlived it
    for k, cmd in kids.items():
        try:
            with open("/proc/%d/stat" % k) as f:
                if f.read().rsplit(")", 1)[1].split()[0] != "Z":
                    strays.append((k, cmd))
        except OSError:
            pass
    for s, _ in strays:
        try:
            os.kill(s, signal.SIGKILL)
        except OSError:
            pass
    return snap, strays


def test_kill_worker_mid_turn(env):
    c = start(env)
    c.request("spawn", {"name": "a", "cwd": env.work})
    # 1. during a slow stream
    kill_worker_at(env, c, "a", "tell a slow story",
                   lambda m: m.get("event") == "text_delta")
    # 2. during a long bash tool
    snap, strays = kill_worker_at(
        env, c, "a", "@bash timeout_s=60 sleep 30; echo never",
        lambda m: m.get("event") == "tool_call_done", running="sleep 30")
    print("  processes left under the killed worker: %r" % strays)
    # 3. right after a tool result (the next tool is running)
    kill_worker_at(env, c, "a", "@write f1.txt one\n@bash sleep 30",
                   lambda m: m.get("event") == "tool_result", running="sleep")
    with open(os.path.join(env.work, "f1.txt")) as f:
        check(f.read() == "one", "f1.txt")
    # 4. right after a finished turn's run_end
    kill_worker_at(env, c, "a", "@write f2.txt two",
                   lambda m: m.get("event") == "run_end")
    # the whole log parses, line by line
    seg_dir = os.path.join(env.state, "sessions", "a")
    for fn in os.listdir(seg_dir):
        with open(os.path.join(seg_dir, fn)) as f:
            for line in f:
                json.loads(line)


def test_kill_worker_tool_orphans(env):
    """When a worker dies (kill -9) during a bash tool, the tool's
    processes (own process group, same session as the worker) are killed
    by podvisord before the pod's scope is released (supervisord/reap.c
    reap_kill_strays: the run's leader is podvisord's child then, the
    subreaper's, and its group is killed), so no other pod can take the scope
    while they still write in it."""
    c = start(env)
    pid = data(c.request("spawn", {"name": "a", "cwd": env.work}))["pid"]
    p = env.pod_client("a")
    p.request("run", text_input("@bash timeout_s=60 sleep 30; echo never"))
    wait_descendant(pid, "sleep 30")
    kids = descendants(pid)
    os.kill(pid, signal.SIGKILL)
    wait_status(c, "a", lambda s: s == "crashed", "after kill -9")
    deadline = time.monotonic() + 5
    left = kids
    while left and time.monotonic() < deadline:
        left = {k: v for k, v in kids.items() if still_running(k)}
    for k in left:
        os.kill(k, signal.SIGKILL)
    check(not left, "tool processes outlived their crashed worker: %r" %
          left)


def daemon_restart(env):
    env.start_daemon()
    return env.control()


def settled(c, timeout=15):
    """List once no pod is starting/stopping (a restarted daemon waits up
    to 5 s for workers to re-attach); polls with `list` round trips."""
    deadline = time.monotonic() + timeout
    while True:
        pods = {p["name"]: p for p in data(c.request("list"))["pods"]}
        if all(p["status"] not in ("starting", "stopping")
               for p in pods.values()):
            return pods
        if time.monotonic() > deadline:
            fail("pods never settled: %r" % {
                n: p["status"] for n, p in pods.items()})


def check_consistent(env, c, names):
    """list == state files; live pods answer; peers symmetric."""
    pods = settled(c)
    files = {f[:-5] for f in os.listdir(os.path.join(env.state, "pods"))
             if f.endswith(".json")}
    check(set(pods) == files, "list %r != state files %r" %
          (sorted(pods), sorted(files)))
    for n, p in pods.items():
        check(p["status"] in ("live", "stopped", "crashed", "failed"),
              "%s left in %s" % (n, p["status"]))
        st = env.read_state(n)
        if p["status"] == "live":
            check(alive(p["pid"]), "%s live but pid %d gone" % (n, p["pid"]))
            Client(p["socket"], expect_prelude="snapshot").close()
        for q in p["peers"]:
            check(q in pods and n in pods[q]["peers"],
                  "half-registered peer %s -> %s" % (n, q))
        check(sorted(st.get("peers", [])) == sorted(p["peers"]),
              "%s: state peers %r != listed %r" % (n, st.get("peers"),
                                                   p["peers"]))
    return pods


def wait_path(path, timeout=10):
    deadline = time.monotonic() + timeout
    while not os.path.exists(path):
        if time.monotonic() > deadline:
            return False
    return True


def test_kill_daemon_during_spawn(env):
    c = start(env)
    points = ["now", "state", "rundir", "sock", "spawned"]
    for i, point in enumerate(points):
        name = "s%d" % i
        d = os.path.join(env.work, name)
        os.makedirs(d)
        c.send({"method": "spawn", "id": 99, "params": {"name": name,
                                                         "cwd": d}})
        spawned = None
        if point == "state":
            wait_path(env.pod_state(name))
        elif point == "rundir":
            wait_path(os.path.join(env.runtime, "pods", name))
        elif point == "sock":
            wait_path(env.pod_sock(name))
        elif point == "spawned":
            spawned = c.wait(lambda m: m.get("id") == 99, 10, "spawned")
            check(spawned["event"] == "spawned", "spawn: %r" % spawned)
        env.kill_daemon()
        c = daemon_restart(env)
        pods = check_consistent(env, c, None)
        if spawned is not None:
            # an answered spawn is a pod: its worker is re-adopted
            p = pods.get(name)
            check(p is not None and p["status"] == "live" and
                  p["pid"] == data(spawned)["pid"],
                  "spawned %s not re-adopted after kill -9: %r" % (name, p))
        # no leaked scope: once the pod is not live, another takes it
        if name in pods and pods[name]["status"] == "live":
            c.request("stop", {"name": name})
        r = c.call("spawn", {"name": name + "x", "cwd": d})
        check(r["event"] == "spawned", "%s's scope leaked (killed at %s): "
              "%r" % (name, point, r))
        c.request("stop", {"name": name + "x"})
        print("  killed during spawn at %s: %s" % (
            point, pods[name]["status"] if name in pods else "no pod"))
    check_consistent(env, c, None)


def test_kill_daemon_during_stop(env):
    c = start(env)
    for i, point in enumerate(["now", "exit"]):
        name = "t%d" % i
        d = os.path.join(env.work, name)
        os.makedirs(d)
        pid = data(c.request("spawn", {"name": name, "cwd": d}))["pid"]
        c.send({"method": "stop", "id": 99, "params": {"name": name}})
        if point == "exit":
            deadline = time.monotonic() + 10
            while alive(pid) and time.monotonic() < deadline:
                try:
                    with open("/proc/%d/stat" % pid) as f:
                        if f.read().split(") ")[1].startswith("Z"):
                            break
                except OSError:
                    break
        env.kill_daemon()
        c = daemon_restart(env)
        # an un-reattached worker is given up after its grace period
        st = wait_status(c, name, lambda s: s != "starting" and
                         s != "stopping", "after restart", 15)
        pods = check_consistent(env, c, None)
        if st["status"] == "live":
            c.request("stop", {"name": name})
        r = c.call("spawn", {"name": name + "x", "cwd": d})
        check(r["event"] == "spawned", "%s's scope leaked: %r" % (name, r))
        c.request("stop", {"name": name + "x"})
        print("  killed during stop (%s): %s" % (point, st["status"]))


def test_kill_daemon_during_register_peer(env):
    c = start(env)
    names = ["p%d" % i for i in range(6)]
    for n in names:
        d = os.path.join(env.work, n)
        os.makedirs(d)
        c.request("spawn", {"name": n, "cwd": d})
    outcomes = []
    for i in range(0, 6, 2):
        a, b = names[i], names[i + 1]
        c.send({"method": "register_peer", "id": 99,
                "params": {"a": a, "b": b}})
        if i == 2:
            wait_path(env.pod_state(a) + ".tmp", 2)
        elif i == 4:
            c.read(5)           # the reply: both written
        env.kill_daemon()
        c = daemon_restart(env)
        pods = check_consistent(env, c, None)
        outcomes.append(b in pods[a]["peers"])
        if i == 4:
            check(outcomes[-1], "acknowledged peer registration lost")
    print("  register_peer outcomes (registered?): %r" % outcomes)
    # the pods still work and can (re-)register
    c.request("register_peer", {"a": "p0", "b": "p1"})
    check_consistent(env, c, None)


def test_provider_failures(env):
    c = start(env)
    c.request("spawn", {"name": "a", "cwd": env.work})
    p = env.pod_client("a")
    cases = [("rl2 please", "finished", True),
             ("srv please", "error", True),
             ("ovl please", "error", True),
             ("auth please", "error", False),
             ("cut1 please", None, None),
             ("mal1 please", None, None),
             ("err1 please", None, None),
             ("overflow1 please", None, None),
             ("cutall please", "error", None)]
    for text, result, retried in cases:
        p.request("run", text_input(text))
        msgs = finish(p, 60)
        ends = [m for m in msgs if m.get("event") == "run_end"]
        check(len(ends) == 1, "%s: %d run_ends" % (text, len(ends)))
        got = ends[0]["data"]["result"]
        retries = sum(1 for m in msgs if m.get("event") == "llm_retry")
        if result is not None:
            check(got == result, "%s: run_end %r" % (text, ends[0]["data"]))
        if got == "error":
            err = ends[0]["data"]["error"]
            check(err["code"] == "provider_error" and err["message"],
                  "%s: error %r" % (text, err))
        if retried is not None:
            check((retries > 0) == retried, "%s: %d retries" % (text,
                                                                retries))
        print("  %-17s -> %s, %d retries" % (text, got, retries))
        # still usable
        p.request("run", text_input("hello again"))
        end = [m for m in finish(p) if m.get("event") == "run_end"][0]
        check(end["data"]["result"] == "finished", "after %s: %r" %
              (text, end))
    check(c.request("ping")["event"] == "pong", "daemon alive")


class FullDisk:
    """The state dir on a 1 MiB tmpfs that can be filled and freed."""

    def __init__(self, env):
        self.env = env
        self.filler = os.path.join(env.state, "filler")
        os.makedirs(env.state)
        subprocess.check_call(["mount", "-t", "tmpfs", "-o",
                               "size=1m,mode=0700", "tmpfs", env.state])

    def fill(self):
        with open(self.filler, "ab", buffering=0) as f:
            try:
                while True:
                    f.write(b"x" * 4096)
            except OSError:
                pass
            try:
                while True:
                    f.write(b"x")
            except OSError:
                pass

    def free(self):
        os.unlink(self.filler)

    def close(self):
        subprocess.call(["umount", "-l", self.env.state])


def state_bytes(env):
    out = {}
    for d in (os.path.join(env.state, "pods"), env.state):
        for fn in os.listdir(d):
            p = os.path.join(d, fn)
            if fn.endswith(".json") and os.path.isfile(p):
                with open(p, "rb") as f:
                    out[p] = f.read()
    return out


def full_disk_run(env, disk):
    """Shared part of the disk-full tests; returns (control, pod client,
    entries seen after the space came back)."""
    c = start(env)
    for n in ("a", "b"):
        os.makedirs(os.path.join(env.work, n))
        c.request("spawn", {"name": n, "cwd": env.mkdir(n)})
    p = env.pod_client("a")
    p.request("run", text_input("hello"))
    total = finish(p)[-1]["data"]["usage_pod"]
    # The worker reports the run's usage to podvisord (a state write) on
    # its own channel: wait for it before taking the state as it is.
    deadline = time.monotonic() + 10
    while c.request("inspect", {"name": "a"})["data"]["usage"] != total:
        check(time.monotonic() < deadline, "usage never reached podvisord")
    before = state_bytes(env)
    disk.fill()
    os.makedirs(os.path.join(env.work, "c"))
    r = c.expect_error("spawn", {"name": "c", "cwd": os.path.join(
        env.work, "c")}, "spawn_failed")
    check("No space left" in r["data"]["message"], "spawn error: %r" % r)
    r = c.call("register_peer", {"a": "a", "b": "b"})
    check(r["event"] == "error" and "No space left" in
          r["data"]["message"], "register_peer on a full disk: %r" % r)
    check(state_bytes(env) == before, "state files changed on a full disk")
    # a turn on a full disk: alerts name the problem, exactly one run_end
    p.request("run", text_input("@write x.txt hello\nfull " + "z" * 20000))
    msgs = finish(p)
    alerts = [m for m in msgs if m.get("event") == "alert" and
              "No space left" in m["data"]["message"]]
    check(alerts, "no alert about the full disk")
    check(c.request("ping")["event"] == "pong", "daemon alive")
    for path, _ in before.items():
        with open(path) as f:
            json.load(f)
    # space again: everything works
    disk.free()
    seen = []
    for text in ("after one", "after two"):
        p.request("run", text_input(text))
        seen += finish(p)
    c.request("spawn", {"name": "c", "cwd": env.mkdir("c")})
    c.request("register_peer", {"a": "a", "b": "b"})
    check_consistent(env, c, None)
    c.request("stop", {"name": "a"})
    c.request("restore", {"name": "a"})
    q = env.pod_client("a")
    q.request("run", text_input("after restore"))
    end = [m for m in finish(q) if m.get("event") == "run_end"][0]
    check(end["data"]["result"] == "finished", "run after restore %r" % end)
    return c, q, seen


def test_disk_full(env):
    disk = FullDisk(env)
    try:
        full_disk_run(env, disk)
    finally:
        env.cleanup()
        disk.close()


def test_disk_full_log_recovers(env):
    """A session log append that fails half-way on ENOSPC must leave no
    torn fragment for the next entry (written once space is back) to be
    glued to: on restore every entry a client saw committed is there."""
    disk = FullDisk(env)
    try:
        c, q, seen = full_disk_run(env, disk)
        snap = q.prelude["data"]
        check_restored([], seen, snap["entries"], "after a full disk")
    finally:
        env.cleanup()
        disk.close()


def eio_run(env, spawn_ops):
    """fsync/rename/write fail with EIO (LD_PRELOAD shim) on state and
    log writes: clear errors, old state intact, everything recovers.  A
    spawn while `op` in spawn_ops fails must be refused (or leave a state
    file behind)."""
    if FAULTSHIM is None:
        print("  no faultshim.so given: skipped")
        return
    arm = os.path.join(env.root, "arm")
    env.start_fakellm(SCENARIO)
    env.use_fakellm()
    env.start_daemon({"LD_PRELOAD": FAULTSHIM, "FAULTSHIM_MATCH": env.state,
                      "FAULTSHIM_ARM": arm})
    c = env.control()
    for n in ("a", "b", "c0", "c1", "c2"):
        os.makedirs(os.path.join(env.work, n))
    for n in ("a", "b"):
        c.request("spawn", {"name": n, "cwd": env.mkdir(n)})
    p = env.pod_client("a")
    faults = 0
    for i, ops in enumerate(("fsync", "rename", "write")):
        before = state_bytes(env)
        with open(arm, "w") as f:
            f.write(ops)
        r = c.call("register_peer", {"a": "a", "b": "b"})
        if ops != "write":
            check(r["event"] == "error" and
                  "Input/output error" in r["data"]["message"],
                  "register_peer with %s failing: %r" % (ops, r))
            faults += 1
            check(state_bytes(env) == before,
                  "%s: state files changed by failed writes" % ops)
        if ops in spawn_ops:
            name = "c%d" % i
            r = c.call("spawn", {"name": name, "cwd": os.path.join(
                env.work, name)})
            print("  %s EIO: spawn -> %s %s" % (ops, r["event"], r["data"].get(
                "message", "")[:90]))
            check(r["event"] == "error" or os.path.exists(
                env.pod_state(name)), "%s failing: spawn %s answered %s "
                "but %s.json was never written" % (ops, name, r["event"],
                                                   name))
            faults += 1
        p.request("run", text_input("@write e.txt x\nhello"))
        msgs = finish(p)
        if ops != "rename":
            check(any(m.get("event") == "alert" and "Input/output" in
                      m["data"]["message"] for m in msgs),
                  "%s: no alert about the failed log write" % ops)
            faults += 1
        os.unlink(arm)
        check(c.request("ping")["event"] == "pong", "daemon alive")
        for path in state_bytes(env):
            with open(path) as f:
                json.load(f)
        r = c.call("register_peer", {"a": "a", "b": "b"})
        check(r["event"] == "peer_registered", "peer after %s: %r" %
              (ops, r))
        check_consistent(env, c, None)
        p.request("run", text_input("hello after"))
        end = [m for m in finish(p) if m.get("event") == "run_end"][0]
        check(end["data"]["result"] == "finished", "%r" % end)
    c.request("stop", {"name": "a"})
    c.request("restore", {"name": "a"})
    q = env.pod_client("a")
    q.request("run", text_input("after restore"))
    finish(q)
    print("  EIO faults injected and reported: %d" % faults)


def test_eio(env):
    eio_run(env, ("fsync", "rename", "write"))


if __name__ == "__main__":
    tests = [test_kill_worker_mid_turn, test_kill_daemon_during_spawn,
             test_kill_daemon_during_stop,
             test_kill_daemon_during_register_peer,
             test_provider_failures, test_disk_full,
             test_disk_full_log_recovers, test_eio,
             test_kill_worker_tool_orphans]
    run_tests(tests)
