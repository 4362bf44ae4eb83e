# SPDX-License-Identifier: ISC
"""Session log durability: a pod event is acknowledged (and so dropped
from the supervisor's pending_events) only once its system_item is in
the worker's session log; while the log cannot be written, the turn ends
in an internal error, a resend of the same event adds nothing, and once
the log is writable again everything is written once and acknowledged.

Session log writes fail through the LD_PRELOAD shim (faultshim.so,
matching only <state>/sessions so podvisord's own state stays writable).
"""

import json
import os
import sys
import time

from pvtest import check, fail, run_tests, text_input

FAULTSHIM = next((os.path.abspath(a) for a in sys.argv[1:]
                  if a.endswith(".so")), None)
sys.argv = [a for a in sys.argv if not a.endswith(".so")]


def finish(p, timeout=30):
    msgs = p.collect_until("run_end", timeout)
    st = p.wait_event("status")
    check(st["data"]["status"] == "idle", "status %r" % st)
    return msgs


def pending(c):
    r = c.request("inspect", {"name": "a"})
    return r["data"]["pending_events"]


def wait_pending(c, pred, what, timeout=10):
    """Poll `inspect` (round trips) until pred(pending_events)."""
    deadline = time.monotonic() + timeout
    while True:
        n = pending(c)
        if pred(n):
            return n
        if time.monotonic() > deadline:
            fail("%s: pending_events is %r" % (what, n))


def settled(c, timeout=15):
    deadline = time.monotonic() + timeout
    while True:
        pods = c.request("list")["data"]["pods"]
        if all(p["status"] == "live" for p in pods):
            return
        if time.monotonic() > deadline:
            fail("pods never settled: %r" % pods)


def start(env, arm):
    env.start_fakellm([])
    env.use_fakellm()
    extra = {"LD_PRELOAD": FAULTSHIM, "FAULTSHIM_ARM": arm,
             "FAULTSHIM_MATCH": os.path.join(env.state, "sessions")}
    env.start_daemon(extra)
    return env.control(), extra


def test_pod_event_acked_when_durable(env):
    if FAULTSHIM is None:
        print("  no faultshim.so given: skipped")
        return
    arm = os.path.join(env.root, "arm")
    c, extra = start(env, arm)
    os.makedirs(os.path.join(env.work, "a"))
    c.request("spawn", {"name": "a", "cwd": env.mkdir("a")})
    p = env.pod_client("a")
    for ops in ("fsync", "write"):
        with open(arm, "w") as f:
            f.write(ops)
        c.request("send", {"name": "a", "message": "ping " + ops})
        msgs = finish(p)
        items = [m["data"]["item"] for m in msgs
                 if m.get("event") == "system_item"]
        check(len(items) == 1, "%s: system_items %r" % (ops, items))
        eid = items[0]["eid"]
        alerts = [m["data"] for m in msgs if m.get("event") == "alert"]
        check(any(a["level"] == "error" and a["source"] == "session" and
                  "Input/output error" in a["message"] for a in alerts),
              "%s: no error alert: %r" % (ops, alerts))
        end = [m for m in msgs if m.get("event") == "run_end"][-1]["data"]
        check(end["result"] == "error" and
              end["error"]["code"] == "internal" and
              end["error"]["message"] == "session log write failed: "
              "Input/output error", "%s: run_end %r" % (ops, end))
        # the turn's run_end came after the event was handled: an ack
        # would have been sent before it
        check(pending(c) == 1, "%s: event acked while not durable" % ops)
        # a podvisord restart resends the event: still not durable, so
        # neither acked nor added again
        env.kill_daemon()
        env.start_daemon(extra)
        c = env.control()
        settled(c)
        # the resend went out on reattach; a second event sent after it
        # starts a turn, so by its run_end the resend was handled too
        c.request("send", {"name": "a", "message": "second " + ops})
        msgs = finish(p)
        items = [m["data"]["item"] for m in msgs
                 if m.get("event") == "system_item"]
        check([i["message"] for i in items] == ["second " + ops],
              "%s: system_items after the resend %r" % (ops, items))
        eids = [eid, items[0]["eid"]]
        check(pending(c) == 2, "%s: resent event acked early" % ops)
        os.unlink(arm)
        if ops == "fsync":
            # idle: the retry timer (1 s, doubling) writes the log
            p.wait_event("alert", 40, lambda d: d["level"] == "info" and
                         d["source"] == "session")
            wait_pending(c, lambda n: n == 0, "event never acked by retry")
        p.request("run", text_input("hello after " + ops))
        msgs = finish(p)
        if ops == "write":
            check(any(m.get("event") == "alert" and
                      m["data"]["level"] == "info" for m in msgs),
                  "%s: no alert that the log caught up" % ops)
        end = [m for m in msgs if m.get("event") == "run_end"][-1]["data"]
        check(end["result"] == "finished", "%s: run after %r" % (ops, end))
        wait_pending(c, lambda n: n == 0, "%s: event never acked" % ops)
        # on disk: every entry once, the event's system_item once
        path = os.path.join(env.state, "sessions", "a",
                            c.request("inspect", {"name": "a"})
                            ["data"]["session"]["segment"] + ".jsonl")
        with open(path) as f:
            lines = [json.loads(ln) for ln in f]
        for e in eids:
            got = [x for x in lines if x["kind"] == "system_item" and
                   x["item"].get("eid") == e]
            check(len(got) == 1, "%s: event %s logged %d times" %
                  (ops, e, len(got)))
        snap = env.pod_client("a").prelude["data"]["entries"]
        check(snap == lines, "%s: the log differs from memory" % ops)
        print("  %s: %d entries, events acked once durable" % (
            ops, len(lines)))


if __name__ == "__main__":
    run_tests([test_pod_event_acked_when_durable])
