# SPDX-License-Identifier: ISC
"""Token accounting and budgets end to end (docs/budgets.md): the real
podvisord and workers against fakellm, which reports usage (input =
request bytes / 4, with prefix caching) on every call.

- accounting: run_end carries the run's usage and the pod's totals;
  `list` / `inspect` / `podvisor status` show them, the parent's
  usage_total includes its child's; both wire schemes report cache reads
  (openai_chat) and cache writes (anthropic).
- carve-out: a child's budget comes out of its parent's remaining and
  what it does not spend goes back when it is stopped; a child asking for
  more than its parent has left is refused with not_subset.
- exhaustion: a run that would go past the budget stops mid-turn with
  result budget_exhausted; the pod still answers, and runs again after
  `podvisor budget POD +N`.
- durability: kill -9 of the worker + restore, and a podvisord restart,
  keep the totals and the budget.
"""

import json
import os
import signal
import time

from pvtest import check, fail, run_tests, text_input

FIELDS = ("input_tokens", "cache_read_tokens", "cache_write_tokens",
          "output_tokens", "reasoning_tokens")


def start(env, scheme="openai_chat", extra=""):
    env.start_fakellm()
    env.use_fakellm(scheme=scheme, extra=extra)
    env.start_daemon()
    return env.control()


def spawn(c, env, name, **extra):
    params = {"name": name, "cwd": env.mkdir(name)}
    params.update(extra)
    return c.request("spawn", params)["data"]


def inspect(c, name):
    return c.request("inspect", {"name": name})["data"]


def listed(c):
    pods = c.request("list")["data"]["pods"]
    return {p["name"]: p for p in pods}


def run(pc, text, result="finished"):
    """One run; returns (run_end data, the run's messages)."""
    pc.request("run", text_input(text))
    msgs = pc.collect_until("run_end", 30)
    pc.wait_event("status")
    end = msgs[-1]["data"]
    check(end["result"] == result, "run %r ended %r" % (text, end))
    return end, msgs


def cost(u):
    return u["input_tokens"] + u["output_tokens"]


def add(a, b):
    return {k: a[k] + b[k] for k in FIELDS}


def check_usage(u, what):
    check(isinstance(u, dict) and all(isinstance(u.get(k), int)
                                      for k in FIELDS),
          "%s: not the five token counts: %r" % (what, u))


def wait_pod(c, name, pred, what, timeout=15):
    """Poll inspect (one round trip each) until pred(detail); bounded."""
    deadline = time.monotonic() + timeout
    while True:
        d = inspect(c, name)
        if pred(d):
            return d
        if time.monotonic() > deadline:
            fail("%s never became %s: %r" % (name, what, d))


def settled(c, name, total):
    """podvisord hears of a call's usage from the worker, after the pod's
    clients saw it: wait (bounded) until it has the pod's totals."""
    return wait_pod(c, name, lambda d: d["usage"] == total,
                    "told its totals %r" % total)


def test_accounting(env):
    c = start(env)
    spawn(c, env, "a")
    pc = env.pod_client("a")
    g = pc.prelude["data"]["greeting"]
    check_usage(g.get("usage_pod"), "greeting usage_pod")
    check("budget" not in g, "no budget, yet the greeting has %r" % g)
    end1, msgs = run(pc, "@bash echo one")
    calls = [m["data"] for m in msgs if m.get("event") == "usage"]
    check(len(calls) == 2, "two calls, two usage events: %r" % calls)
    check_usage(end1.get("usage"), "run_end usage")
    check(end1["usage"] == end1["usage_pod"], "first run: %r" % end1)
    check(end1["usage"]["input_tokens"] ==
          sum(u["input_tokens"] for u in calls), "run = sum of calls")
    # fakellm caches the prefix shared with the previous request
    # (prompt_cache_key = the pod's session): the second call reads it.
    check(calls[1].get("cache_read_tokens", 0) > 0,
          "no cache read on the second call: %r" % calls)
    end2, _ = run(pc, "@bash echo two")
    check(end2["usage_pod"] == add(end1["usage_pod"], end2["usage"]),
          "pod totals are the sum of the runs: %r %r" % (end1, end2))
    # podvisord has them: list, inspect and the CLI.
    settled(c, "a", end2["usage_pod"])
    s = listed(c)["a"]
    check(s["usage"] == end2["usage_pod"], "list usage %r" % s)
    check(s["usage_total"] == s["usage"], "no children: %r" % s)
    d = inspect(c, "a")
    check(d["usage"] == end2["usage_pod"], "inspect usage %r" % d)
    r = env.cli("ls", "--json")
    check(r.returncode == 0, r.stderr)
    pods = json.loads(r.stdout)["pods"]
    check(pods[0]["usage"] == end2["usage_pod"], "ls --json: %r" % pods)
    r = env.cli("status", "a")
    check(r.returncode == 0 and "usage_total" in r.stdout and
          str(end2["usage_pod"]["input_tokens"]) in r.stdout,
          "status: %s %s" % (r.stdout, r.stderr))
    r = env.cli("budget", "a")
    check(r.returncode == 0 and "none" in r.stdout and
          "input %d" % end2["usage_pod"]["input_tokens"] in r.stdout,
          "budget: %s %s" % (r.stdout, r.stderr))


def test_accounting_anthropic_cache_write(env):
    c = start(env, scheme="anthropic")
    spawn(c, env, "a")
    pc = env.pod_client("a")
    end, msgs = run(pc, "@bash echo one")
    u = end["usage"]
    check(u["cache_write_tokens"] > 0,
          "anthropic: cache_creation_input_tokens not counted: %r" % u)
    check(u["cache_read_tokens"] > 0,
          "anthropic: cache_read_input_tokens not counted: %r" % u)
    check(u["input_tokens"] >= u["cache_read_tokens"] +
          u["cache_write_tokens"], "input includes cached parts: %r" % u)
    settled(c, "a", end["usage_pod"])


def spawn_kid(pc, name, budget=None, task="hello"):
    """The pod's model spawns a child (the spawn_pod tool)."""
    args = {"name": name, "task": task, "scope": [
        {"target": name, "permission": "write", "recursive": True}]}
    if budget is not None:
        args["budget_tokens"] = budget
    pc.request("run", text_input("@spawn_pod " + json.dumps(args)))
    msgs = pc.collect_until("run_end", 30)
    pc.wait_event("status")
    res = [m["data"] for m in msgs if m.get("event") == "tool_result"]
    check(len(res) == 1, "one tool result: %r" % res)
    return res[0]


def conserved(pods, parent, kids):
    """Tokens only move: the parent's grant is what it spent, has left,
    and what its children hold or spent."""
    p = pods[parent]["budget"]
    held = sum(pods[k]["budget"]["tokens"] for k in kids)
    check(p["tokens"] == p["spent"] + p["remaining"] + held,
          "parent %r, children hold %d" % (p, held))


def test_carve_out_and_return(env):
    c = start(env)
    spawn(c, env, "p", budget_tokens=1000000)
    d = inspect(c, "p")
    check(d["budget"] == {"tokens": 1000000, "spent": 0,
                          "remaining": 1000000}, "budget %r" % d)
    pc = env.pod_client("p")
    res = spawn_kid(pc, "p.kid", budget=30000)
    check(not res["is_error"], "spawn_pod refused: %r" % res)
    kid = wait_pod(c, "p.kid", lambda d: d.get("activity") == "idle" and
                   d["usage"]["input_tokens"] > 0, "done with its task")
    b = kid["budget"]
    check(b["tokens"] == 30000 and b.get("from") == "p",
          "the child's budget %r" % b)
    check(b["spent"] == cost(kid["usage"]) and
          b["remaining"] == 30000 - b["spent"], "child spent %r" % kid)
    pods = listed(c)
    conserved(pods, "p", ["p.kid"])
    check(pods["p"]["budget"]["remaining"] <= 1000000 - 30000 -
          pods["p"]["budget"]["spent"], "carved: %r" % pods["p"])
    # usage_total includes the child.
    check(pods["p"]["usage_total"] == add(pods["p"]["usage"],
                                          pods["p.kid"]["usage"]),
          "usage_total %r" % pods["p"])
    # The child ends: what it did not spend goes back.
    before = pods["p"]["budget"]
    c.request("stop", {"name": "p.kid"})
    pods = listed(c)
    kb = pods["p.kid"]["budget"]
    check(kb["remaining"] == 0 and kb["tokens"] == kb["spent"],
          "a stopped child keeps only what it spent: %r" % kb)
    pb = pods["p"]["budget"]
    check(pb["remaining"] - before["remaining"] ==
          30000 - kb["spent"] - (pb["spent"] - before["spent"]),
          "the unspent part came back: %r -> %r" % (before, pb))
    conserved(pods, "p", ["p.kid"])
    # the pod state has it for good
    st, kst = env.read_state("p")["budget"], env.read_state("p.kid")
    check(st["tokens"] == st["spent"] + st["remaining"] +
          kst["budget"]["tokens"], "state %r, child %r" % (st, kst))
    # The parent grants more to its stopped child; it comes out of its own.
    r = c.request("set_budget", {"name": "p.kid", "add": 5000})["data"]
    check(r["budget"]["remaining"] == 5000, "grant %r" % r)
    pods = listed(c)
    nb = pods["p"]["budget"]
    check(nb["remaining"] == pb["remaining"] - 5000 -
          (nb["spent"] - pb["spent"]),
          "the grant came out of the parent: %r -> %r" % (pb, nb))
    conserved(pods, "p", ["p.kid"])


def test_child_budget_refused(env):
    c = start(env)
    spawn(c, env, "p", budget_tokens=200000)
    pc = env.pod_client("p")
    res = spawn_kid(pc, "p.big", budget=10 ** 7)
    check(res["is_error"], "a child larger than its parent: %r" % res)
    text = res.get("output") or res["summary"]
    check("not_subset" in text and "budget_tokens" in text,
          "the refusal names the code and the field: %r" % text)
    check("p.big" not in listed(c), "the refused child exists")
    # set_budget asking the parent for more than it has: the same refusal.
    # (no task: the child runs no turn, so the parent is not woken)
    res = spawn_kid(pc, "p.small", budget=1000, task="")
    check(not res["is_error"], "a small child: %r" % res)
    left = inspect(c, "p")["budget"]["remaining"]
    m = c.expect_error("set_budget", {"name": "p.small",
                                      "add": left + 1}, "not_subset")
    check("budget" in m["data"]["message"], "message %r" % m)
    # A child of a budgeted pod always has a budget (half of what is left).
    res = spawn_kid(pc, "p.dflt", task="")
    check(not res["is_error"], "default child: %r" % res)
    b = inspect(c, "p.dflt")["budget"]
    check(b["from"] == "p" and 0 < b["tokens"] < left, "default %r" % b)
    # Bad values are invalid_request naming the field.
    m = c.expect_error("spawn", {"name": "x", "cwd": env.work,
                                 "budget_tokens": -1}, "invalid_request")
    check(m["data"].get("field") == "budget_tokens", "field: %r" % m)


def test_exhausted_mid_turn(env):
    c = start(env)
    spawn(c, env, "a")
    pc = env.pod_client("a")
    end, msgs = run(pc, "@bash echo warm")
    warm = end["usage_pod"]
    first = [m["data"] for m in msgs if m.get("event") == "usage"][0]
    # Enough for about one more request, not three.
    grant = first["input_tokens"] * 3 // 2
    r = env.cli("budget", "a", "+%d" % grant)
    check(r.returncode == 0, "budget +N: %s %s" % (r.stdout, r.stderr))
    d = inspect(c, "a")["budget"]
    check(d == {"tokens": grant, "spent": 0, "remaining": grant},
          "budget %r" % d)
    end, msgs = run(pc, "@bash echo 1\n@bash echo 2\n@bash echo 3",
                    result="budget_exhausted")
    results = [m for m in msgs if m.get("event") == "tool_result"]
    check(1 <= len(results) < 3, "stopped mid-turn: %d tool results" %
          len(results))
    check(any(m.get("event") == "alert" and
              m["data"].get("source") == "budget" for m in msgs),
          "no budget alert")
    check(end["usage"]["input_tokens"] > 0, "run usage %r" % end)
    # The pod is still live and answers.
    check(c.request("ping")["event"] == "pong", "daemon ping")
    d = settled(c, "a", end["usage_pod"])
    check(d["status"] == "live" and d["budget"]["remaining"] <
          first["input_tokens"], "after exhaustion %r" % d)
    pc.request("snapshot")
    # More, and the pod goes on.
    r = env.cli("budget", "a", "+1000000")
    check(r.returncode == 0, r.stderr)
    end, _ = run(pc, "@bash echo again")
    d = settled(c, "a", end["usage_pod"])
    check(d["budget"]["tokens"] == grant + 1000000 and
          d["budget"]["spent"] == cost(d["usage"]) - cost(warm),
          "figures %r (before the budget: %r)" % (d, warm))
    d = d["budget"]
    # Absolute: the budget in all; lower takes back what is unspent.
    r = env.cli("budget", "a", str(d["spent"]), "--json")
    check(r.returncode == 0, r.stderr)
    b = json.loads(r.stdout)
    check(b["remaining"] == 0 and b["tokens"] == d["spent"],
          "absolute budget %r" % b)
    run(pc, "@bash echo no", result="budget_exhausted")


def test_kill9_restore_keeps_totals(env):
    c = start(env)
    spawn(c, env, "a", budget_tokens=1000000)
    pc = env.pod_client("a")
    end, _ = run(pc, "@bash echo one")
    total = end["usage_pod"]
    d = settled(c, "a", total)
    os.kill(d["pid"], signal.SIGKILL)
    wait_pod(c, "a", lambda d: d["status"] in ("crashed", "failed"),
             "crashed")
    c.request("restore", {"name": "a"})
    pc = env.pod_client("a")
    g = pc.prelude["data"]["greeting"]
    check(g["usage_pod"] == total, "restored worker's totals %r vs %r" %
          (g["usage_pod"], total))
    check(g["budget"]["remaining"] == 1000000 - cost(total),
          "restored budget %r" % g["budget"])
    end, _ = run(pc, "@bash echo two")
    check(end["usage_pod"] == add(total, end["usage"]),
          "totals go on from the restored ones: %r" % end)
    settled(c, "a", end["usage_pod"])
    # The worker's log alone holds them too (podvisord's copy lost).
    c.request("stop", {"name": "a"})
    st = env.read_state("a")
    st["usage"] = {}
    with open(env.pod_state("a"), "w") as f:
        json.dump(st, f)
    c.close()
    env.kill_daemon(signal.SIGTERM)
    env.start_daemon()
    c = env.control()
    c.request("restore", {"name": "a"})
    pc = env.pod_client("a")
    check(pc.prelude["data"]["greeting"]["usage_pod"] == end["usage_pod"],
          "totals from the session log: %r" % pc.prelude["data"]["greeting"])
    wait_pod(c, "a", lambda d: d["usage"] == end["usage_pod"],
             "told by its worker")


def test_daemon_restart_keeps_totals(env):
    c = start(env)
    spawn(c, env, "a", budget_tokens=1000000)
    pc = env.pod_client("a")
    end, _ = run(pc, "@bash echo one")
    total = end["usage_pod"]
    budget = settled(c, "a", total)["budget"]
    c.close()
    # podvisord dies; the worker lives on and re-attaches.
    env.kill_daemon(signal.SIGKILL)
    env.start_daemon()
    c = env.control()
    d = wait_pod(c, "a", lambda d: d["status"] == "live", "re-adopted")
    check(d["usage"] == total and d["budget"] == budget,
          "after a restart: %r (was %r %r)" % (d, total, budget))
    end, _ = run(pc, "@bash echo two")
    d = wait_pod(c, "a", lambda d: d["usage"] == end["usage_pod"],
                 "counted after the restart")
    check(d["budget"]["spent"] == cost(end["usage_pod"]),
          "budget spent %r" % d["budget"])
    # A clean restart with the pods stopped: the state files hold them.
    c.request("shutdown", {"pods": "stop"})
    env.daemon.wait(30)
    env.start_daemon()
    c = env.control()
    d = inspect(c, "a")
    check(d["status"] == "stopped" and d["usage"] == end["usage_pod"] and
          d["budget"]["spent"] == cost(end["usage_pod"]),
          "after a stop and restart: %r" % d)


run_tests([
    test_accounting,
    test_accounting_anthropic_cache_write,
    test_carve_out_and_return,
    test_child_budget_refused,
    test_exhausted_mid_turn,
    test_kill9_restore_keeps_totals,
    test_daemon_restart_keeps_totals,
])
