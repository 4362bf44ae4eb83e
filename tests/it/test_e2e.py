# SPDX-License-Identifier: ISC
"""End to end, as a user would: the podvisor CLI and the sockets of the
real podvisord + podvisor-worker + the bundled fakellm, in a temp dir.

Every wait is on a reply, an event or a line of output, each bounded;
nothing sleeps.  Run one test: python3 test_e2e.py test_delegation_tree
"""

import json
import os
import select
import signal
import subprocess
import time

from pvtest import Client, binary, check, fail, run_tests

# Slow streams for the kill tests: every event of a reply to a message
# containing "slowly" is 40 ms apart (the directive agent still answers).
SLOW = {"rules": [{"match": {"user_contains": "slowly"},
                   "stream": {"delay_ms": 40}}]}


def start(env, scenario=None):
    env.start_fakellm(scenario=scenario)
    env.use_fakellm()
    env.start_daemon()


def cli(env, *args, code=0, timeout=20):
    """Run podvisor; check the exit status; return the CompletedProcess."""
    r = env.cli(*args, timeout=timeout)
    check(r.returncode == code, "podvisor %s: exit %d, expected %d\n"
          "stdout: %s\nstderr: %s" % (" ".join(args)[:300], r.returncode,
                                      code, r.stdout[-2000:], r.stderr))
    return r


def cli_json(env, *args, code=0, timeout=20):
    return json.loads(cli(env, "--json", *args, code=code,
                          timeout=timeout).stdout)


def inspect(env, name):
    return cli_json(env, "inspect", name)


def run_events(env, name, text, timeout=30):
    """`podvisor run --json NAME TEXT`: the pod events of that turn."""
    r = cli(env, "run", "--json", name, text, timeout=timeout)
    events = [json.loads(l) for l in r.stdout.splitlines() if l.strip()]
    # It may print the end of a turn it waited for (a notification's):
    # ours starts at our user_message.
    mine = [i for i, e in enumerate(events) if e.get("event") ==
            "user_message" and e["data"]["segments"][0]["content"] == text]
    check(len(mine) == 1, "run %s: no user_message %r" % (name, text))
    events = events[mine[0]:]
    ends = [e for e in events if e.get("event") == "run_end"]
    check(len(ends) == 1 and ends[0]["data"]["result"] == "finished",
          "run %s: %r" % (name, ends))
    return events


def tool_results(events):
    return [e["data"] for e in events if e.get("event") == "tool_result"]


def write_via(env, name, path, content):
    """Pod `name` runs its write tool on path; returns (ok, output)."""
    res = tool_results(run_events(env, name, "@write %s %s" %
                                  (path, content)))
    check(len(res) == 1, "%s: one tool result expected: %r" % (name, res))
    return not res[0]["is_error"], res[0].get("output") or res[0]["summary"]


def rule(target, perm="write"):
    return {"target": target, "permission": perm, "recursive": True}


def rules_of(scope):
    """Comparable set of (target, deny?) for effective_write lists."""
    return {(r["target"], bool(r.get("deny"))) for r in scope}


def wait_pod(env, name, pred, what, timeout=10):
    """Poll `inspect` (one control round trip each) until pred(detail);
    bounded."""
    c = Client(env.control_sock, expect_prelude="hello")
    try:
        deadline = time.monotonic() + timeout
        while True:
            d = c.request("inspect", {"name": name})["data"]
            if pred(d):
                return d
            if time.monotonic() > deadline:
                fail("%s never became %s: %r" % (name, what, d))
    finally:
        c.close()


def popen_cli(env, *args):
    return subprocess.Popen([binary("PODVISOR_CLI", "podvisor")] +
                            list(args), env=env.env,
                            stdin=subprocess.DEVNULL,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE)


def wait_output(p, needle, timeout=15):
    """Read p's stdout until needle appears (bounded); returns all the
    output so far."""
    deadline = time.monotonic() + timeout
    while needle not in p.out:
        left = deadline - time.monotonic()
        r, _, _ = select.select([p.stdout], [], [], max(0, left))
        if not r:
            fail("no %r in the output within %ds: %r" % (needle, timeout,
                                                         p.out[-2000:]))
        data = os.read(p.stdout.fileno(), 65536)
        if not data:
            fail("output ended without %r: %r" % (needle, p.out[-2000:]))
        p.out += data
    return p.out


def detach(p):
    """Ctrl-C twice detaches an idle attach (the second after the first
    was seen, as two signals sent at once may merge)."""
    try:
        if p.poll() is None:
            p.send_signal(signal.SIGINT)
            wait_output(p, b"Ctrl-C again", 5)
            p.send_signal(signal.SIGINT)
            wait_output(p, b"[detached from", 5)
            check(p.wait(5) == 0, "attach exit %r" % p.returncode)
    finally:
        if p.poll() is None:
            p.kill()
            p.wait()


def is_notification(m):
    return (m.get("event") == "invoke_start" and
            m["data"].get("trigger") in ("pod_event", "notify"))


# 1. The demo: a narrative of spawn, delegation, conflict, restore.

def test_demo_flow(env):
    start(env)
    r = cli(env, "demo", timeout=90)
    out = r.stdout
    for word in ("spawn", "delegate", "conflict", "write_conflict",
                 "restore", "files in the workspace", "report.txt",
                 "notes.txt", "demo finished"):
        check(word in out, "demo output lacks %r:\n%s" % (word, out))
    # "podvisor demo: pods P and P.child in workspace DIR"
    head = out.splitlines()[0].split()
    check(head[:3] == ["podvisor", "demo:", "pods"] and head[4] == "and" and
          head[5] == head[3] + ".child", "demo head line: %r" % head)
    pod, child = head[3], head[5]
    steps = {l.split()[1]: l for l in out.splitlines()
             if len(l.split()) > 1 and l.split()[0].rstrip(".").isdigit()}
    # Both refusals name the pod holding the scope: the child for the
    # parent's intrusion, the parent for a new top-level pod.
    conflicts = [l for l in out.splitlines() if "conflict" in l.split()[:2]]
    check(len(conflicts) == 2, conflicts)
    check("write_conflict with %s" % child in conflicts[0], conflicts[0])
    check("held by pod %s" % pod in conflicts[1], conflicts[1])
    check("%s restored with its" % pod in steps.get("restore", ""),
          "restore step: %r" % out)
    files = out[out.index("files in the workspace"):]
    check("child/report.txt" in files and "written by the child pod" in
          files and "hi from the demo pod" in files, files)
    check(cli_json(env, "ls")["pods"] == [], "the demo left pods behind")


# 2. Top-level write scopes never overlap.

def test_top_level_conflicts(env):
    start(env)
    w = os.path.join(env.work, "w")
    sub = os.path.join(w, "sub")
    os.makedirs(sub)
    cli(env, "spawn", "outer", "--cwd", w)
    for name, cwd in (("inner", sub), ("same", w)):
        r = cli(env, "spawn", name, "--cwd", cwd, code=1)
        check("write_conflict" in r.stderr and "outer" in r.stderr,
              "spawn %s: %r" % (name, r.stderr))
        err = cli_json(env, "spawn", name, "--cwd", cwd, code=1)["error"]
        check(err["code"] == "write_conflict" and err["pod"] == "outer" and
              err["target"] == w, "spawn %s --json: %r" % (name, err))
    # The other direction: the narrower one holds, the wider one is refused.
    cli(env, "stop", "outer")
    cli(env, "spawn", "inner", "--cwd", sub)
    err = cli_json(env, "spawn", "outer2", "--cwd", w, code=1)["error"]
    check(err["code"] == "write_conflict" and err["pod"] == "inner" and
          err["target"] == sub, "wider spawn: %r" % err)
    # A scope beside it is fine; a refused spawn left nothing behind.
    side = os.path.join(env.work, "side")
    os.makedirs(side)
    cli(env, "spawn", "side", "--cwd", side)
    names = [p["name"] for p in cli_json(env, "ls")["pods"]]
    check(names == ["inner", "outer", "side"], names)
    # Once the holder is stopped, the refused scope is granted.
    released = cli_json(env, "stop", "inner")["released"]
    check(rules_of(released) == {(sub, False)}, released)
    cli(env, "restore", "outer")
    check(inspect(env, "outer")["status"] == "live", "outer not live")


# 3. a -> a.b -> a.b.c, each with a narrower write scope.

def test_delegation_tree(env):
    start(env)
    w = env.work
    b_dir = os.path.join(w, "b")
    c_dir = os.path.join(b_dir, "c")
    os.makedirs(c_dir)
    cli(env, "spawn", "a", "--cwd", w)
    watch = env.pod_client("a")
    res = tool_results(run_events(env, "a", "@spawn_pod " + json.dumps(
        {"name": "a.b", "task": "hello b", "scope": [rule(b_dir)]})))
    check(not res[0]["is_error"], "spawn a.b: %r" % res)
    res = tool_results(run_events(env, "a.b", "@spawn_pod " + json.dumps(
        {"name": "a.b.c", "task": "hello c", "scope": [rule(c_dir)]})))
    check(not res[0]["is_error"], "spawn a.b.c: %r" % res)
    # A child may not take more than its parent holds.
    away = os.path.join(env.root, "elsewhere")
    res = tool_results(run_events(env, "a.b", "@spawn_pod " + json.dumps(
        {"name": "a.b.x", "task": "hi", "scope": [rule(away)]})))
    check(res[0]["is_error"] and "not_subset" in res[0]["output"], res)

    pods = {p["name"]: p for p in cli_json(env, "ls")["pods"]}
    check(sorted(pods) == ["a", "a.b", "a.b.c"], sorted(pods))
    check(pods["a.b"]["parent"] == "a" and pods["a.b.c"]["parent"] == "a.b"
          and pods["a"]["children"] == ["a.b"], pods)
    check(rules_of(pods["a"]["effective_write"]) ==
          {(w, False), (b_dir, True)}, pods["a"]["effective_write"])
    check(rules_of(pods["a.b"]["effective_write"]) ==
          {(b_dir, False), (c_dir, True)}, pods["a.b"]["effective_write"])

    # Each level writes its own area, not its children's.
    for pod, own, child in (("a", w, b_dir), ("a.b", b_dir, c_dir),
                            ("a.b.c", c_dir, None)):
        ok, out = write_via(env, pod, os.path.join(own, pod + ".txt"), pod)
        check(ok, "%s could not write its own area: %s" % (pod, out))
        if child:
            ok, out = write_via(env, pod, os.path.join(child, "x.txt"), pod)
            check(not ok, "%s wrote into its child's area: %s" % (pod, out))
            check(not os.path.exists(os.path.join(child, "x.txt")),
                  "%s: the refused write happened" % pod)
    for pod, own in (("a", w), ("a.b", b_dir), ("a.b.c", c_dir)):
        with open(os.path.join(own, pod + ".txt")) as f:
            check(f.read() == pod, "%s.txt" % pod)

    # As leaves stop, the write scope returns upward.
    cli(env, "stop", "a.b.c")
    check(rules_of(inspect(env, "a.b")["effective_write"]) ==
          {(b_dir, False)}, inspect(env, "a.b")["effective_write"])
    ok, out = write_via(env, "a.b", os.path.join(c_dir, "x.txt"), "b now")
    check(ok, "a.b still cannot write c/ after a.b.c stopped: %s" % out)
    check(inspect(env, "a")["children"] == ["a.b"], "a's children")
    cli(env, "stop", "a.b")
    check(rules_of(inspect(env, "a")["effective_write"]) == {(w, False)},
          inspect(env, "a")["effective_write"])
    ok, out = write_via(env, "a", os.path.join(b_dir, "x.txt"), "a now")
    check(ok, "a still cannot write b/ after a.b stopped: %s" % out)
    with open(os.path.join(b_dir, "x.txt")) as f:
        check(f.read() == "a now", "b/x.txt")
    # a heard about its children's turns (notifications on its socket).
    check(any(is_notification(m) for m in drain(watch)),
          "a saw no child notification")


def drain(c):
    """Every message already readable on c (no waiting beyond a round
    trip: a snapshot request marks the end)."""
    c.send({"method": "snapshot", "id": "drain"})
    out = []
    while True:
        m = c.read(10)
        if m is None or m.get("id") == "drain":
            return out
        out.append(m)


# 4. Peers message each other; queued while the peer is stopped.

def test_peers(env):
    start(env)
    for n in ("pa", "pb"):
        os.makedirs(os.path.join(env.work, n))
        cli(env, "spawn", n, "--cwd", os.path.join(env.work, n))
    check(cli_json(env, "peer", "pa", "pb") == {"a": "pa", "b": "pb"},
          "peer reply")
    check(inspect(env, "pb")["peers"] == ["pa"], "pb peers")
    b = env.pod_client("pb")
    res = tool_results(run_events(env, "pa", "@send_to_peer pb first note"))
    check(not res[0]["is_error"], "send_to_peer: %r" % res)
    b.wait(is_notification, 15)
    item = b.wait_event("system_item", 10)["data"]["item"]
    check("first note" in json.dumps(item) and "pa" in json.dumps(item),
          "pb's notification: %r" % item)
    b.wait_event("run_end", 15)
    # Not a peer: refused.
    os.makedirs(os.path.join(env.work, "pc"))
    cli(env, "spawn", "pc", "--cwd", os.path.join(env.work, "pc"))
    res = tool_results(run_events(env, "pc", "@send_to_peer pb intruder"))
    check(res[0]["is_error"] and "not_" in res[0]["output"],
          "a non-peer sent a message: %r" % res)

    # To a stopped peer: queued, delivered on restore.
    b.close()
    cli(env, "stop", "pb")
    res = tool_results(run_events(env, "pa", "@send_to_peer pb second note"))
    check(not res[0]["is_error"], "send_to_peer to a stopped peer: %r" % res)
    d = inspect(env, "pb")
    check(d["status"] == "stopped" and d["pending_events"] >= 1,
          "pb: %s, pending %r" % (d["status"], d["pending_events"]))
    # The queue is durable: it survives a crash of podvisord.
    env.kill_daemon()
    env.start_daemon()
    d = inspect(env, "pb")
    check(d["pending_events"] == 1, "pending after a daemon crash: %r" % d)
    cli(env, "restore", "pb")
    b = env.pod_client("pb")
    text = json.dumps(b.prelude["data"]["entries"])
    if "second note" not in text:
        b.wait(lambda m: "second note" in json.dumps(m), 15)
    # Cleared once pb acknowledged it (right after it committed it).
    wait_pod(env, "pb", lambda d: d["pending_events"] == 0, "acknowledged")
    r = cli(env, "logs", "pb")
    check("second note" in r.stdout and "first note" in r.stdout, r.stdout)
    check("intruder" not in r.stdout, "a non-peer's message arrived")


# 5. kill -9 of a worker mid-turn: nothing acknowledged is lost.

def test_kill_worker(env):
    start(env, SLOW)
    cli(env, "spawn", "a", "--cwd", env.work)
    pid = inspect(env, "a")["pid"]
    p = env.pod_client("a")
    p.request("run", {"input": [{"kind": "text", "content":
              "@write one.txt 1\n@write two.txt 2\nslowly please"}]})
    seen = []
    while True:
        m = p.read(15)
        check(m is not None, "pod socket closed before the kill")
        seen.append(m)
        if (m.get("event") == "text_delta" and
                len([s for s in seen if s.get("event") == "tool_result"])
                == 2):
            break
    os.kill(pid, signal.SIGKILL)
    d = wait_pod(env, "a", lambda d: d["status"] == "crashed", "crashed")
    check(d.get("last_exit", {}).get("signal") == 9, "last_exit %r" % d)
    rows = [l.split() for l in cli(env, "ls").stdout.splitlines()[1:]]
    check(rows and rows[0][:2] == ["a", "crashed"], rows)
    r = cli_json(env, "restore", "a")
    check(r["pid"] != pid, "same pid after restore")
    snap = env.pod_client("a").prelude["data"]
    entries = snap["entries"]
    calls = {c["id"] for e in entries if e["kind"] == "assistant"
             for c in e.get("tool_calls", [])}
    results = {e["id"] for e in entries if e["kind"] == "tool_result"}
    for m in seen:
        ev, data = m.get("event"), m.get("data", {})
        if ev == "tool_call_done":
            check(data["id"] in calls, "restored log lost call %s" %
                  data["id"])
        if ev == "tool_result":
            check(data["id"] in results, "restored log lost result %s" %
                  data["id"])
    check(len(results) == 2, "tool results: %r" % results)
    check(any(e["kind"] == "user_input" and "slowly please" in
              json.dumps(e) for e in entries), "user input lost")
    check(snap["status"] == "idle", "restored status %r" % snap["status"])
    # The conversation continues: the agent sees the earlier tool results.
    r = cli(env, "run", "a", "and now?")
    check('you said "and now?"' in r.stdout, r.stdout)
    for f, v in (("one.txt", "1"), ("two.txt", "2")):
        with open(os.path.join(env.work, f)) as fh:
            check(fh.read() == v, f)


def test_kill_worker_restart_policy(env):
    start(env, SLOW)
    cli(env, "spawn", "a", "--cwd", env.work, "--restart", "on-failure")
    pid = inspect(env, "a")["pid"]
    cli(env, "run", "a", "@write one.txt 1")
    p = env.pod_client("a")
    p.request("run", {"input": [{"kind": "text", "content": "slowly"}]})
    p.wait_event("text_delta", 15)
    os.kill(pid, signal.SIGKILL)
    d = wait_pod(env, "a", lambda d: d["status"] == "live" and
                 d["pid"] != pid, "live again", 15)
    check(d["pid"] != pid and d["restart"]["count"] == 1, d)
    snap = env.pod_client("a").prelude["data"]
    check(any(e["kind"] == "tool_result" for e in snap["entries"]),
          "the restarted pod lost its conversation")


# 6. kill -9 of podvisord mid-turn: the turn goes on; re-adoption.

def test_kill_daemon(env):
    start(env, SLOW)
    cli(env, "spawn", "a", "--cwd", env.work)
    kid = os.path.join(env.work, "kid")
    os.makedirs(kid)
    watch_a = env.pod_client("a")
    run_events(env, "a", "@spawn_pod " + json.dumps(
        {"name": "a.kid", "task": "hi", "scope": [rule(kid)]}))
    pids = {p["name"]: p["pid"] for p in cli_json(env, "ls")["pods"]}
    k = env.pod_client("a.kid")
    # a hears about a.kid's first turn (the task): consume that.
    watch_a.wait(is_notification, 15)
    watch_a.wait_event("run_end", 15)
    k.request("run", {"input": [{"kind": "text", "content":
              "@write %s/kid.txt done\nslowly" % kid}]})
    # k may have attached while the task's turn still ran: its events are
    # ahead of ours in k's stream.  Skip to this run's own start.
    k.wait_event("user_message", 15,
                 pred=lambda d: "kid.txt" in json.dumps(d))
    k.wait_event("text_delta", 15)
    env.kill_daemon()
    end = k.wait_event("run_end", 30)
    check(end["data"]["result"] == "finished", end)
    with open(os.path.join(kid, "kid.txt")) as f:
        check(f.read() == "done", "kid.txt")
    # The turn ended with no daemon: its child_turn_ended waits for one.
    env.start_daemon()
    watch_a.wait(is_notification, 20)
    item = watch_a.wait_event("system_item", 10)["data"]["item"]
    check("a.kid" in json.dumps(item), "a's notification: %r" % item)
    watch_a.wait_event("run_end", 15)
    pods = {p["name"]: p for p in cli_json(env, "ls")["pods"]}
    for n in ("a", "a.kid"):
        check(pods[n]["status"] == "live" and pods[n]["pid"] == pids[n],
              "%s after re-adoption: %r (pid was %d)" % (n, pods[n],
                                                         pids[n]))
    check(pods["a.kid"]["parent"] == "a", pods["a.kid"])
    # The re-adopted pods still work through the daemon.
    r = cli(env, "run", "a.kid", "still there?")
    check('you said "still there?"' in r.stdout, r.stdout)


# 7. Three attached clients and a fourth running a turn.

MULTI = {"rules": [{"match": {"user_contains": "story"},
                    "reply": {"text": "once upon a time there were three "
                              "clients who all heard the same tale, "
                              "word for word", "chunks": 7}}]}


def test_three_attached(env):
    start(env, MULTI)
    cli(env, "spawn", "a", "--cwd", env.work)
    procs = []
    try:
        for _ in range(3):
            p = popen_cli(env, "attach", "a", "--no-input")
            p.out = b""
            procs.append(p)
        for p in procs:
            wait_output(p, b"[attached to a")
        raw = env.pod_client("a")
        r = cli(env, "run", "a", "tell a story")
        check("word for word" in r.stdout, r.stdout)
        outs = []
        for p in procs:
            out = wait_output(p, b"[run finished]").decode()
            outs.append(out[out.index("> tell a story"):
                            out.index("[run finished]")])
        check("once upon a time" in outs[0] and
              "three clients who all heard" in outs[0].replace("\n", " "),
              outs[0])
        check(outs[0] == outs[1] == outs[2],
              "attached clients saw different things: %r" % outs)
        deltas = "".join(m["data"]["text"] for m in
                         raw.collect_until("run_end")
                         if m.get("event") == "text_delta")
        check(deltas in outs[0], "raw client: %r" % deltas)
        for p in procs:
            check(p.poll() is None, "an attach exited during the run")
    finally:
        for p in procs:
            detach(p)


def busy(p, text):
    """Wait until the notification turn for text is streaming."""
    p.wait_event("system_item", 15, lambda d: text in json.dumps(d))
    p.wait_event("text_delta", 15)


def test_run_while_busy(env):
    """`podvisor run` started while another turn runs (here a
    notification's) prints its own turn only: one "[run finished]", and
    with --json one run_end line (cli/podrun.c keeps quiet while waiting
    for the pod to be idle)."""
    start(env, SLOW)
    cli(env, "spawn", "a", "--cwd", env.work)
    p = env.pod_client("a")
    cli(env, "send", "a", "slowly first")
    busy(p, "slowly first")
    r = cli(env, "run", "a", "second")
    check(r.stdout.count("[run finished]") == 1 and
          "slowly first" not in r.stdout,
          "run printed another turn: %r" % r.stdout)
    cli(env, "send", "a", "slowly third")
    busy(p, "slowly third")
    r = cli(env, "run", "--json", "a", "fourth")
    ends = [l for l in r.stdout.splitlines() if '"run_end"' in l]
    check(len(ends) == 1, "run --json printed %d run_end" % len(ends))


def middle_stopped(env):
    """a -> a.b -> a.b.c, then a.b stopped: a.b.c is re-parented to a and
    keeps its grant; a gets b/ back but not b/c/."""
    start(env)
    w = env.work
    b_dir = os.path.join(w, "b")
    c_dir = os.path.join(b_dir, "c")
    os.makedirs(c_dir)
    cli(env, "spawn", "a", "--cwd", w)
    run_events(env, "a", "@spawn_pod " + json.dumps(
        {"name": "a.b", "task": "hello b", "scope": [rule(b_dir)]}))
    run_events(env, "a.b", "@spawn_pod " + json.dumps(
        {"name": "a.b.c", "task": "hello c", "scope": [rule(c_dir)]}))
    cli(env, "stop", "a.b")
    pods = {p["name"]: p for p in cli_json(env, "ls")["pods"]}
    check(pods["a.b.c"]["status"] == "live" and
          pods["a.b.c"]["parent"] == "a" and
          "a.b.c" in pods["a"]["children"], pods)
    check(rules_of(pods["a.b.c"]["effective_write"]) == {(c_dir, False)},
          pods["a.b.c"])
    check(rules_of(pods["a"]["effective_write"]) ==
          {(w, False), (c_dir, True)}, pods["a"]["effective_write"])
    ok, out = write_via(env, "a", os.path.join(b_dir, "x.txt"), "a")
    check(ok, "a cannot write b/ after a.b stopped: %s" % out)
    ok, out = write_via(env, "a", os.path.join(c_dir, "x.txt"), "a")
    check(not ok, "a wrote into a.b.c's area: %s" % out)
    return w, b_dir, c_dir


def test_stop_middle(env):
    middle_stopped(env)


def test_restore_middle(env):
    """Restoring the stopped middle pod a.b while its re-parented child
    a.b.c lives takes a.b.c back (supervisord/registry.c: the delegation
    check does not count the restored pod's former children as holes in
    its parent's scope); a.b writes b/ again, never b/c/."""
    w, b_dir, c_dir = middle_stopped(env)
    cli(env, "restore", "a.b")
    pods = {p["name"]: p for p in cli_json(env, "ls")["pods"]}
    check(pods["a.b.c"]["parent"] == "a.b", pods["a.b.c"])
    check(rules_of(pods["a"]["effective_write"]) ==
          {(w, False), (b_dir, True)}, pods["a"]["effective_write"])
    ok, out = write_via(env, "a.b", os.path.join(b_dir, "y.txt"), "b")
    check(ok, "restored a.b cannot write b/: %s" % out)
    ok, out = write_via(env, "a.b", os.path.join(c_dir, "y.txt"), "b")
    check(not ok, "restored a.b wrote into a.b.c's area: %s" % out)


if __name__ == "__main__":
    tests = [test_demo_flow, test_top_level_conflicts, test_delegation_tree,
             test_peers, test_kill_worker, test_kill_worker_restart_policy,
             test_kill_daemon, test_three_attached, test_stop_middle,
             test_run_while_busy, test_restore_middle]
    run_tests(tests)
