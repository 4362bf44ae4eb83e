# SPDX-License-Identifier: ISC
"""Approvals end to end (docs/approvals.md): the real podvisord, workers
and fakellm's directive agent.  A gated call waits as a durable request
on the pod socket; approve from any client (first answer wins), the
parent pod, or the timeout decides it.

Run one test: python3 test_approvals.py test_levels
"""

import json
import os
import signal
import select
import subprocess
import threading
import time

from pvtest import binary, check, data, fail, run_tests


def start(env):
    env.start_fakellm()
    env.use_fakellm()
    env.start_daemon()


def spawn(env, name, approval=None, cwd=None):
    """Spawn name with its own cwd (work/NAME) and the approval object."""
    c = env.control()
    params = {"name": name, "cwd": cwd or env.mkdir(name)}
    if approval is not None:
        params["approval"] = approval
    r = c.call("spawn", params)
    c.close()
    return r


def run(pc, text):
    pc.request("run", {"input": [{"kind": "text", "content": text}]})


def next_of(pc, names, timeout=20):
    """The next event whose name is in names."""
    return pc.wait(lambda m: m.get("event") in names, timeout,
                   "one of %r" % (names,))


def ask(pc, text):
    """Run text; the approval_request it makes (fails if the run ends)."""
    run(pc, text)
    m = next_of(pc, ("approval_request", "run_end"))
    check(m["event"] == "approval_request",
          "no approval_request for %r: %r" % (text, m))
    return data(m)


def finished(pc):
    """Wait for run_end; returns the tool_results seen before it."""
    results = []
    while True:
        m = next_of(pc, ("tool_result", "run_end"), 30)
        if m["event"] == "run_end":
            check(data(m).get("result") == "finished", m)
            return results
        results.append(data(m))


def finished_with_child(pc, kid):
    """Like finished(), for a run that spawns kid with a task: also waits
    for the parent's turn that takes in kid's child_turn_ended (a new
    invoke, or folded into this run), so the parent is idle after it."""
    results, seen = [], False
    while True:
        m = next_of(pc, ("tool_result", "run_end", "system_item"), 30)
        item = data(m).get("item", {})
        if m["event"] == "system_item":
            seen = seen or (item.get("kind") == "child_turn_ended" and
                            item.get("from") == kid)
        elif m["event"] == "tool_result":
            results.append(data(m))
        else:
            check(data(m).get("result") == "finished", m)
            if seen:
                return results


def test_levels(env):
    """Which calls wait under each level, and allow rules."""
    start(env)
    f = os.path.join(env.work, "f.txt")
    cases = {
        "never": (),
        "writes": ("write", "edit"),
        "bash": ("write", "edit", "bash"),
        "always": ("write", "edit", "bash", "read", "glob"),
    }
    for level, gated in cases.items():
        name = "p-" + level
        r = spawn(env, name, {"policy": level})
        check(r["event"] == "spawned", r)
        pc = env.pod_client(name)
        w = os.path.join(env.work, name)
        f = os.path.join(w, "f.txt")
        with open(f, "w") as fh:
            fh.write("one\n")
        for tool, text in (("read", "@read %s" % f),
                           ("glob", "@glob *.txt"),
                           ("bash", "@bash echo hi"),
                           ("write", "@write %s/n.txt x" % w),
                           ("edit", "@edit %s one ONE" % f)):
            run(pc, text)
            m = next_of(pc, ("approval_request", "run_end"))
            if tool in gated:
                check(m["event"] == "approval_request",
                      "%s: %s did not wait: %r" % (level, tool, m))
                d = data(m)
                check(d["tool"] == tool and d["call_id"] and d["id"], d)
                check(isinstance(d["arguments"], str), d)
                check(isinstance(d["paths"], list) and
                      all(p.startswith("/") for p in d["paths"]), d)
                if tool in ("write", "edit"):
                    check(d.get("diff", "").startswith("--- "), d)
                st = next_of(pc, ("status",))
                check(data(st)["status"] == "waiting_approval", st)
                pc.request("approve", {"id": d["id"],
                                       "decision": "allow_once"})
                finished(pc)
            else:
                check(m["event"] == "run_end", "%s: %s waited: %r" %
                      (level, tool, m))
    # The pod state and the detail carry the policy.
    c = env.control()
    pod = data(c.request("inspect", {"name": "p-bash"}))
    check(pod["approval"]["policy"] == "bash", pod)
    check(env.read_state("p-bash")["approval"]["policy"] == "bash",
          env.read_state("p-bash"))
    # Allow rules: a bash prefix, a path glob, a tool glob.
    r = spawn(env, "rules", {"policy": "always", "allow": [
        "bash:echo", "path:%s/rules/ok/*" % env.work, "tool:gl*"]})
    check(r["event"] == "spawned", r)
    w = os.path.join(env.work, "rules")
    pc = env.pod_client("rules")
    os.makedirs(os.path.join(env.work, "rules", "ok"))
    for text in ("@bash echo fine", "@write %s/ok/a.txt x" % w,
                 "@glob *.txt"):
        run(pc, text)
        m = next_of(pc, ("approval_request", "run_end"))
        check(m["event"] == "run_end", "%r waited: %r" % (text, m))
    for text in ("@bash echo a; rm -rf /tmp/nothing", "@bash echoes",
                 "@write %s/no.txt x" % w, "@read %s" % f):
        d = ask(pc, text)
        pc.request("approve", {"id": d["id"], "decision": "deny"})
        finished(pc)
    # Bad policies are refused with a sentence.
    for bad in ({"policy": "sometimes"}, {"allow": ["git status"]},
                {"timeout_s": -1}, {"allow": "bash:x"}):
        r = spawn(env, "bad", bad)
        check(r["event"] == "error" and
              data(r)["code"] == "invalid_request" and
              "approval" in data(r)["message"], r)


def test_decisions(env):
    """allow_once runs the call; deny returns the reason to the model;
    allow_always adds a rule that survives a restore."""
    start(env)
    spawn(env, "a", {"policy": "bash"})
    pc = env.pod_client("a")
    d = ask(pc, "@bash echo once > %s/a/once.txt" % env.work)
    check(not os.path.exists(os.path.join(env.work, "a", "once.txt")),
          "the call ran before its approval")
    pc.request("approve", {"id": d["id"], "decision": "allow_once"})
    dec = next_of(pc, ("approval_decided",))
    check(data(dec) == {"id": d["id"], "decision": "allow_once",
                        "by": "client"}, dec)
    res = finished(pc)
    check(res and not res[0]["is_error"], res)
    check(os.path.exists(os.path.join(env.work, "a", "once.txt")),
          "not run")
    # Once only: the same command asks again.
    d = ask(pc, "@bash echo once > %s/a/once.txt" % env.work)
    pc.request("approve", {"id": d["id"], "decision": "deny",
                           "reason": "not today"})
    dec = next_of(pc, ("approval_decided",))
    check(data(dec).get("reason") == "not today", dec)
    res = finished(pc)
    check(res[0]["is_error"] and "not today" in res[0]["output"], res)
    # allow_always: the exact command passes from now on.
    d = ask(pc, "@bash echo always")
    pc.request("approve", {"id": d["id"], "decision": "allow_always"})
    finished(pc)
    run(pc, "@bash echo always")
    m = next_of(pc, ("approval_request", "run_end"))
    check(m["event"] == "run_end", "allow_always did not stick: %r" % m)
    c = env.control()
    c.request("stop", {"name": "a"})
    check("bash:echo always" in env.read_state("a")["approval"]["allow"],
          env.read_state("a"))
    c.request("restore", {"name": "a"})
    pc = env.pod_client("a")
    run(pc, "@bash echo always")
    m = next_of(pc, ("approval_request", "run_end"))
    check(m["event"] == "run_end", "rule lost by restore: %r" % m)
    # The log has both entries of each request.
    kinds = [e["kind"] for e in pc.prelude["data"]["entries"]]
    check(kinds.count("approval_request") == 3 and
          kinds.count("approval_decision") == 3, kinds)


def test_bad_input(env):
    """Unknown id, another pod's id, a malformed decision: clear errors,
    the request stays pending."""
    start(env)
    spawn(env, "a", {"policy": "bash"})
    spawn(env, "b", {"policy": "bash"})
    pa = env.pod_client("a")
    pb = env.pod_client("b")
    da = ask(pa, "@bash echo a")
    db = ask(pb, "@bash echo b")
    pa.expect_error("approve", {"id": "nope", "decision": "deny"},
                    "not_found")
    m = pa.expect_error("approve", {"id": db["id"], "decision": "deny"},
                        "not_found")
    check("pod a" in data(m)["message"], m)
    for bad in ({"id": da["id"], "decision": "yes"},
                {"id": da["id"]},
                {"id": da["id"], "decision": 3},
                {"id": da["id"], "decision": "deny", "reason": "x" * 5000}):
        pa.expect_error("approve", bad, "invalid_request")
    snap = data(pa.request("snapshot"))
    check([p["id"] for p in snap["pending_approvals"]] == [da["id"]], snap)
    check(snap["status"] == "waiting_approval", snap)
    pa.request("approve", {"id": da["id"], "decision": "allow_once"})
    pa.expect_error("approve", {"id": da["id"], "decision": "deny"},
                    "already_decided")
    finished(pa)
    pb.request("approve", {"id": db["id"], "decision": "allow_once"})
    finished(pb)


def test_two_clients(env):
    """Two clients answer at the same moment: exactly one wins."""
    start(env)
    spawn(env, "a", {"policy": "bash"})
    clients = [env.pod_client("a") for _ in range(2)]
    for round_ in range(5):
        d = ask(clients[0], "@bash echo r%d" % round_)
        for c in clients[1:]:
            c.wait_event("approval_request", 10)
        lines = [json.dumps({"method": "approve", "id": 900 + i, "params":
                             {"id": d["id"], "decision": "allow_once"}})
                 .encode() + b"\n" for i in range(2)]
        barrier = threading.Barrier(2)

        def send(c, line):
            barrier.wait()
            c.send_raw(line)
        ts = [threading.Thread(target=send, args=(clients[i], lines[i]))
              for i in range(2)]
        for t in ts:
            t.start()
        for t in ts:
            t.join()
        replies = [c.wait(lambda m, i=i: m.get("id") == 900 + i, 10)
                   for i, c in enumerate(clients)]
        events = sorted(r["event"] for r in replies)
        codes = sorted(data(r).get("code", "") for r in replies)
        check(events == ["accepted", "error"] and
              codes == ["", "already_decided"], replies)
        res = finished(clients[0])
        check(len(res) == 1, "ran %d times: %r" % (len(res), res))


def test_kill_worker_pending(env):
    """kill -9 of the worker while a request is pending: after restore
    the same request is pending, the call has not run, and once allowed
    it runs exactly once."""
    start(env)
    spawn(env, "a", {"policy": "bash"})
    pc = env.pod_client("a")
    out = os.path.join(env.work, "a", "count.txt")
    d = ask(pc, "@bash echo x >> %s" % out)
    c = env.control()
    pid = data(c.request("inspect", {"name": "a"}))["pid"]
    os.kill(pid, signal.SIGKILL)
    # The pod socket closes when the worker is gone; then the daemon has
    # reaped it (or will: restore waits for nothing else).
    while pc.read(10) is not None:
        pass
    r = restore_when_dead(c, "a")
    check(r["event"] == "restored", r)
    pc = env.pod_client("a")
    snap = pc.prelude["data"]
    check([p["id"] for p in snap["pending_approvals"]] == [d["id"]], snap)
    check(not os.path.exists(out), "the call ran before its approval")
    if snap["status"] != "waiting_approval":
        st = next_of(pc, ("status",))
        check(data(st)["status"] == "waiting_approval", st)
    act = data(c.request("inspect", {"name": "a"})).get("activity")
    check(act == "waiting_approval", "activity %r" % act)
    pc.request("approve", {"id": d["id"], "decision": "allow_once"})
    finished(pc)
    with open(out) as f:
        check(f.read() == "x\n", "ran more or less than once")
    # Restore again: nothing runs twice, nothing is pending.
    c.request("stop", {"name": "a"})
    c.request("restore", {"name": "a"})
    pc = env.pod_client("a")
    check(pc.prelude["data"]["pending_approvals"] == [], pc.prelude)
    with open(out) as f:
        check(f.read() == "x\n", "ran again after a restore")


def test_kill_daemon_pending(env):
    """kill -9 of podvisord while a request is pending: the worker keeps
    it; after re-adoption it is still pending and answerable."""
    start(env)
    spawn(env, "a", {"policy": "writes"})
    pc = env.pod_client("a")
    d = ask(pc, "@write %s/a/f.txt hello" % env.work)
    env.kill_daemon()
    env.start_daemon()
    pc2 = env.pod_client("a")
    check([p["id"] for p in pc2.prelude["data"]["pending_approvals"]] ==
          [d["id"]], pc2.prelude)
    pc2.request("approve", {"id": d["id"], "decision": "allow_once"})
    finished(pc)
    with open(os.path.join(env.work, "a", "f.txt")) as f:
        check(f.read() == "hello", "f.txt")


def test_parent_answers(env):
    """A child with no client attached asks its parent: the request comes
    as a child_approval_request pod event, the parent's model answers with
    answer_approval; nobody else's parent may."""
    start(env)
    spawn(env, "a")
    spawn(env, "b")
    kid = os.path.join(env.work, "a", "kid")
    os.makedirs(kid)
    out = os.path.join(kid, "out.txt")
    pa = env.pod_client("a")
    run(pa, "@spawn_pod " + json.dumps(
        {"name": "a.kid", "task": "@bash echo kid > %s" % out,
         "scope": [{"target": kid, "permission": "write",
                    "recursive": True}],
         "approval": {"policy": "bash"}}))
    item = pa.wait_event("system_item", 20, pred=lambda d: d["item"].get(
        "kind") == "child_approval_request")["data"]["item"]
    req = item["request"]
    check(item["from"] == "a.kid" and req["tool"] == "bash" and
          "answer_approval" in item["text"] and req["id"] in item["text"],
          item)
    check(not os.path.exists(out), "the child's call ran unasked")
    pa.wait_event("run_end", 20)
    # Another pod tree may not answer it.
    pb = env.pod_client("b")
    answer = "@tool answer_approval " + json.dumps(
        {"pod": "a.kid", "id": req["id"], "decision": "allow_once"})
    run(pb, answer)
    res = finished(pb)
    check(res[0]["is_error"] and "not_visible" in res[0]["output"], res)
    # Bad input from the parent: the request stays pending.
    run(pa, "@tool answer_approval " + json.dumps(
        {"pod": "a.kid", "id": req["id"], "decision": "maybe"}))
    res = finished(pa)
    check(res[0]["is_error"] and "invalid_request" in res[0]["output"], res)
    run(pa, answer)
    res = finished(pa)
    check(not res[0]["is_error"], res)
    # The child ran it, once; a second answer is too late.
    pa.wait_event("system_item", 20, pred=lambda d: d["item"].get(
        "kind") == "child_turn_ended")
    pa.wait_event("run_end", 20)
    with open(out) as f:
        check(f.read() == "kid\n", "the child's bash did not run once")
    run(pa, answer)
    res = finished(pa)
    check(res[0]["is_error"] and "already_decided" in res[0]["output"], res)
    pk = env.pod_client("a.kid")
    kinds = [(e["kind"], e.get("by")) for e in pk.prelude["data"]["entries"]
             if e["kind"].startswith("approval_")]
    check(kinds == [("approval_request", None),
                    ("approval_decision", "parent")], kinds)


def cli(env, *args, code=0):
    r = env.cli(*args)
    check(r.returncode == code, "podvisor %s: exit %d (want %d)\n%s%s" %
          (" ".join(args), r.returncode, code, r.stdout, r.stderr))
    return r


def wait_output(p, needle, timeout=15):
    """Read p's stdout until needle appears (bounded)."""
    deadline = time.monotonic() + timeout
    while needle not in p.out:
        r, _, _ = select.select([p.stdout], [], [],
                                max(0, deadline - time.monotonic()))
        if not r:
            fail("no %r within %ds: %r" % (needle, timeout, p.out[-2000:]))
        chunk = os.read(p.stdout.fileno(), 65536)
        if not chunk:
            fail("output ended without %r: %r" % (needle, p.out[-2000:]))
        p.out += chunk
    return p.out


def test_cli(env):
    """spawn --approval/--allow, approvals, approve, deny, attach y/n."""
    start(env)
    w = env.mkdir("a")
    cli(env, "spawn", "a", "--cwd", w, "--approval", "bash",
        "--allow", "bash:true", "--approval-timeout", "600")
    pol = json.loads(cli(env, "--json", "inspect", "a").stdout)["approval"]
    check(pol == {"policy": "bash", "allow": ["bash:true"],
                  "timeout_s": 600, "ask": "auto"}, pol)
    r = cli(env, "spawn", "b", "--cwd", w, "--approval", "often", code=1)
    check("approval" in r.stderr, r.stderr)
    pc = env.pod_client("a")
    d = ask(pc, "@bash echo from-cli")
    r = cli(env, "approvals")
    check(d["id"] in r.stdout and "a " in r.stdout and "bash" in r.stdout,
          r.stdout)
    lst = json.loads(cli(env, "--json", "approvals", "a").stdout)
    check([(x["pod"], x["id"]) for x in lst["approvals"]] ==
          [("a", d["id"])], lst)
    r = cli(env, "approve", "a", "nope", code=1)
    check("nope" in r.stderr and "not_found" in r.stderr, r.stderr)
    cli(env, "approve", "a", d["id"])
    r = cli(env, "deny", "a", d["id"], code=1)
    check("already_decided" in r.stderr, r.stderr)
    finished(pc)
    d = ask(pc, "@bash echo no")
    cli(env, "deny", "a", d["id"], "use printf")
    res = finished(pc)
    check("use printf" in res[0]["output"], res)
    check("no pending" in cli(env, "approvals").stdout, "empty list")
    # attach: the request is shown, y answers it.
    p = subprocess.Popen([binary("PODVISOR_CLI", "podvisor"), "attach", "a"],
                         env=env.env, stdin=subprocess.PIPE,
                         stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    p.out = b""
    try:
        wait_output(p, b"[attached to a")
        run(pc, "@bash echo via-attach")
        wait_output(p, b"y = allow once")
        check(b"approval " in p.out and b"via-attach" in p.out, p.out)
        p.stdin.write(b"y\n")
        p.stdin.flush()
        res = finished(pc)
        check(res and not res[0]["is_error"] and
              "via-attach" in res[0]["output"], res)
        run(pc, "@bash echo refused")
        p.out = p.out.split(b"y = allow once")[-1]
        wait_output(p, b"y = allow once")
        p.stdin.write(b"n not this one\n")
        p.stdin.flush()
        res = finished(pc)
        check("not this one" in res[0]["output"], res)
    finally:
        p.stdin.close()
        p.wait(15)


def restore_when_dead(c, name):
    """restore, retried while the daemon still calls the killed pod live
    (already_live); bounded by the attempts, each a round trip."""
    for _ in range(500):
        r = c.request("restore", {"name": name})
        if r["event"] == "restored":
            return r
    fail("%s never became restorable: %r" % (name, r))


def test_timeout(env):
    """approval timeout → denied with reason "timed out"."""
    start(env)
    spawn(env, "a", {"policy": "bash", "timeout_s": 1})
    pc = env.pod_client("a")
    d = ask(pc, "@bash echo late")
    dec = next_of(pc, ("approval_decided",), 10)
    check(data(dec) == {"id": d["id"], "decision": "deny",
                        "reason": "timed out", "by": "timeout"}, dec)
    res = finished(pc)
    check(res[0]["is_error"] and "timed out" in res[0]["output"], res)


def test_child_looser_refused(env):
    """A child may not ask for a looser policy than its parent's."""
    start(env)
    spawn(env, "a", {"policy": "bash", "allow": ["bash:git status"]})
    kid = os.path.join(env.work, "a", "kid")
    os.makedirs(kid)
    scope = [{"target": kid, "permission": "write", "recursive": True}]
    pc = env.pod_client("a")
    for appr, word in (({"policy": "writes"}, "looser"),
                       ({"policy": "bash", "allow": ["bash:git"]},
                        "bash:git")):
        run(pc, "@spawn_pod " + json.dumps(
            {"name": "a.kid", "task": "hi", "scope": scope,
             "approval": appr}))
        # spawn_pod is not gated under "bash".
        res = finished(pc)
        check(res and res[0]["is_error"] and "not_subset" in
              res[0]["output"] and word in res[0]["output"], res)
    run(pc, "@spawn_pod " + json.dumps(
        {"name": "a.kid", "task": "hi", "scope": scope,
         "approval": {"policy": "always",
                      "allow": ["bash:git status --short"]}}))
    # a.kid runs "hi"; its turn's end starts a turn of a's that must end
    # before a takes the next run.
    res = finished_with_child(pc, "a.kid")
    check(res and not res[0]["is_error"], res)
    c = env.control()
    pod = data(c.request("inspect", {"name": "a.kid"}))
    check(pod["approval"]["policy"] == "always", pod)
    # A child without "approval" inherits the parent's.
    kid2 = os.path.join(env.work, "a", "kid2")
    os.makedirs(kid2)
    run(pc, "@spawn_pod " + json.dumps(
        {"name": "a.kid2", "task": "hi", "scope": [
            {"target": kid2, "permission": "write", "recursive": True}]}))
    res = finished(pc)
    check(res and not res[0]["is_error"], res)
    pod = data(c.request("inspect", {"name": "a.kid2"}))
    check(pod["approval"]["policy"] == "bash" and
          pod["approval"]["allow"] == ["bash:git status"], pod)


def test_set_policy(env):
    """set_approval: a live pod's policy changes at once for every client,
    is kept in pod state across a restore, and keeps the parent/child
    rule (no child looser than its parent after the change)."""
    start(env)
    spawn(env, "a", {"policy": "never"})
    w = os.path.join(env.work, "a")
    pc, pc2 = env.pod_client("a"), env.pod_client("a")
    check(data(pc.prelude)["greeting"]["approval"]["policy"] == "never",
          pc.prelude)
    run(pc, "@write %s/one.txt 1" % w)
    check(finished(pc) and os.path.exists(os.path.join(w, "one.txt")), w)
    c = env.control()
    r = c.call("set_approval", {"name": "a", "approval": {
        "policy": "writes", "allow": ["path:%s/ok*" % w]}})
    check(r["event"] == "approval_set" and data(r)["live"] and
          data(r)["approval"]["policy"] == "writes", r)
    for client in (pc, pc2):
        m = next_of(client, ("approval_policy",))
        check(data(m)["policy"] == "writes" and
              data(m)["allow"] == ["path:%s/ok*" % w], m)
    check(env.read_state("a")["approval"]["policy"] == "writes",
          env.read_state("a"))
    # In force now: a write waits, an allowed path does not.
    d = ask(pc, "@write %s/two.txt 2" % w)
    pc.request("approve", {"id": d["id"], "decision": "deny"})
    finished(pc)
    check(not os.path.exists(os.path.join(w, "two.txt")), w)
    run(pc, "@write %s/ok.txt 3" % w)
    m = next_of(pc, ("approval_request", "run_end"))
    check(m["event"] == "run_end", m)
    # The CLI: show, then change; fields not named are kept.
    out = cli(env, "policy", "a").stdout
    check("approval policy writes" in out and "path:" in out, out)
    out = cli(env, "policy", "a", "bash", "--approval-timeout", "60").stdout
    check("approval policy bash" in out and "in force now" in out, out)
    pol = json.loads(cli(env, "--json", "policy", "a").stdout)
    check(pol == {"policy": "bash", "allow": ["path:%s/ok*" % w],
                  "timeout_s": 60, "ask": "auto"}, pol)
    r = cli(env, "policy", "a", "sometimes", code=1)
    check("approval.policy" in r.stderr, r.stderr)
    r = cli(env, "policy", "nobody", "bash", code=1)
    check("no pod named nobody" in r.stderr, r.stderr)
    # Kept across stop and restore.
    pc.close()
    pc2.close()
    c.request("stop", {"name": "a"})
    r = c.call("set_approval", {"name": "a", "approval": {
        "policy": "always"}})
    check(r["event"] == "approval_set" and not data(r)["live"], r)
    c.request("restore", {"name": "a"})
    pc = env.pod_client("a")
    check(data(pc.prelude)["greeting"]["approval"]["policy"] == "always",
          pc.prelude)
    d = ask(pc, "@read %s/one.txt" % w)
    pc.request("approve", {"id": d["id"], "decision": "allow_once"})
    finished(pc)
    # A child stays no looser than its parent, and a parent may not
    # become stricter than a child it has.
    cli(env, "policy", "a", "writes", "--no-allow")
    kid = os.path.join(w, "kid")
    os.makedirs(kid)
    run(pc, "@spawn_pod " + json.dumps(
        {"name": "a.kid", "task": "hi", "scope": [
            {"target": kid, "permission": "write", "recursive": True}],
         "approval": {"policy": "writes", "allow": []}}))
    res = finished_with_child(pc, "a.kid")
    check(res and not res[0]["is_error"], res)
    r = c.call("set_approval", {"name": "a.kid", "approval": {
        "policy": "never"}})
    check(r["event"] == "error" and data(r)["code"] == "not_subset" and
          "a.kid is a child of a" in data(r)["message"], r)
    r = c.call("set_approval", {"name": "a", "approval": {
        "policy": "always"}})
    check(r["event"] == "error" and data(r)["code"] == "not_subset" and
          "child pod a.kid" in data(r)["message"], r)
    check(env.read_state("a")["approval"]["policy"] == "writes",
          env.read_state("a"))
    r = c.call("set_approval", {"name": "a.kid", "approval": {
        "policy": "always"}})
    check(r["event"] == "approval_set", r)
    r = c.call("set_approval", {"name": "a", "approval": {
        "policy": "bash"}})
    check(r["event"] == "approval_set", r)
    # Bad input changes nothing.
    for bad in ({"policy": 3}, {"allow": ["nope"]}, {"timeout_s": "x"}):
        r = c.call("set_approval", {"name": "a", "approval": bad})
        check(r["event"] == "error" and
              data(r)["code"] == "invalid_request", r)
    r = c.call("set_approval", {"name": "a"})
    check(r["event"] == "error", r)
    check(data(c.request("inspect", {"name": "a"}))["approval"]["policy"]
          == "bash", "policy changed by bad input")


if __name__ == "__main__":
    run_tests([test_levels, test_decisions, test_bad_input, test_two_clients,
               test_kill_worker_pending, test_kill_daemon_pending,
               test_timeout, test_parent_answers, test_cli,
               test_child_looser_refused, test_set_policy])
