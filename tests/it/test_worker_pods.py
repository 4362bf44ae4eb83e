# SPDX-License-Identifier: ISC
"""podvisor-worker's pod tools and relayed requests: the test plays
podvisord on fd 3 and answers what the worker asks (workerctl.py)."""

import json
import os

import pvtest
from pvtest import check, text_input
from workerctl import Worker, events_after_prelude


def finish(p, result="finished", timeout=None):
    msgs = p.collect_until("run_end", timeout)
    check(msgs[-1]["data"]["result"] == result,
          "run_end %r, expected %s" % (msgs[-1]["data"], result))
    p.wait_event("status")
    return msgs


def tool_results(msgs):
    return [d for ev, d in events_after_prelude(msgs) if ev == "tool_result"]


def serve(w, method):
    """Wait for the worker's next request named method; return it."""
    return w.chan.wait(lambda m: m.get("method") == method, None, method)


KID = {"name": "a.kid", "status": "live", "parent": "a", "children": [],
       "peers": [], "model": "fake-model", "cwd": "/", "scope": [],
       "effective_write": []}


def test_pod_tools(env):
    url = env.start_fakellm()
    w = Worker(env, "a", url)
    p = w.client()
    sub = os.path.join(env.work, "sub")
    spawn = {"name": "a.kid", "task": "@write x.txt hi",
             "scope": [{"target": sub, "permission": "write",
                        "recursive": True}]}
    p.request("run", text_input("@spawn_pod " + json.dumps(spawn) +
                                "\n@send_to_pod a.kid more work"
                                "\n@stop_pod a.kid\n@list_pods"))
    req = serve(w, "spawn_pod")
    prm = req["params"]
    check(prm["name"] == "a.kid" and prm["task"] == "@write x.txt hi" and
          prm["scope"][0]["target"] == sub and prm["cwd"] == env.work,
          "spawn_pod params %r" % prm)
    w.chan.reply_error(req, "write_conflict",
                       "%s is held by pod b" % sub)
    req = serve(w, "send_to_pod")
    check(req["params"] == {"name": "a.kid", "message": "more work"},
          "send_to_pod %r" % req["params"])
    w.chan.reply(req, "sent", {"name": "a.kid", "delivered": False})
    req = serve(w, "stop_pod")
    w.chan.reply(req, "stopped", {"name": "a.kid", "released": []})
    req = serve(w, "list_pods")
    w.chan.reply(req, "pods", {"pods": [KID]})
    msgs = finish(p)
    res = tool_results(msgs)
    check(res[0]["is_error"] and res[0]["output"] ==
          "write_conflict: %s is held by pod b" % sub, "spawn: %r" % res[0])
    check(not res[1]["is_error"] and "queued" in res[1]["output"],
          "send: %r" % res[1])
    check(not res[2]["is_error"] and "stopped" in res[2]["output"],
          "stop: %r" % res[2])
    check("a.kid" in res[3]["output"], "list: %r" % res[3])
    w.shutdown()


def test_read_pod_output(env):
    url = env.start_fakellm()
    w = Worker(env, "a", url)
    p = w.client()
    kid_dir = os.path.join(env.state, "sessions", "a.kid")
    os.makedirs(kid_dir)
    seg = os.path.join(kid_dir, "01JKIDSEGMENT0000000000000.jsonl")
    with open(seg, "w") as f:
        f.write(json.dumps({"kind": "segment_start", "ms": 1}) + "\n")
        f.write(json.dumps({"kind": "assistant", "ms": 2,
                            "text": "first answer"}) + "\n")

    def read_once():
        p.request("run", text_input("@read_pod_output a.kid"))
        req = serve(w, "list_pods")
        w.chan.reply(req, "pods", {"pods": [KID]})
        return tool_results(finish(p))[0]

    r = read_once()
    check(not r["is_error"] and r["output"] == "first answer", "%r" % r)
    r = read_once()
    check("no new assistant output" in r["output"], "nothing new: %r" % r)
    with open(seg, "a") as f:
        f.write(json.dumps({"kind": "assistant", "ms": 3,
                            "text": "second answer"}) + "\n")
    r = read_once()
    check(r["output"] == "second answer", "only new text: %r" % r)
    # Not visible: the supervisor's list does not hold it.
    p.request("run", text_input("@read_pod_output b"))
    req = serve(w, "list_pods")
    w.chan.reply(req, "pods", {"pods": [KID]})
    r = tool_results(finish(p))[0]
    check(r["is_error"] and r["output"].startswith("not_found:"), "%r" % r)
    w.shutdown()


def test_relayed_requests(env):
    url = env.start_fakellm()
    w = Worker(env, "a", url)
    p = w.client()
    rid = p.next_id
    p.send({"method": "list_pods", "id": rid})
    req = serve(w, "list_pods")
    w.chan.reply(req, "pods", {"pods": [KID]})
    r = p.wait(lambda m: m.get("id") == rid)
    check(r["event"] == "pods_listed" and r["data"]["pods"][0]["name"] ==
          "a.kid", "pods_listed %r" % r)
    p.next_id += 1
    rid = p.next_id
    p.send({"method": "restore_pod", "id": rid, "params": {"name": "a.kid"}})
    req = serve(w, "restore_pod")
    check(req["params"] == {"name": "a.kid"}, "restore params")
    w.chan.reply(req, "already_live", {"name": "a.kid", "pid": 1,
                                       "socket": "/s"})
    r = p.wait(lambda m: m.get("id") == rid)
    check(r["event"] == "pod_restored" and
          r["data"] == {"name": "a.kid", "socket": "/s",
                        "action": "already_live"}, "pod_restored %r" % r)
    p.next_id += 1
    rid = p.next_id
    p.send({"method": "register_peer", "id": rid, "params": {"name": "zz"}})
    req = serve(w, "register_peer")
    w.chan.reply_error(req, "not_found", "no pod named zz")
    r = p.wait(lambda m: m.get("id") == rid)
    check(r["event"] == "error" and r["data"]["code"] == "not_found",
          "relayed error %r" % r)
    p.next_id += 1
    p.expect_error("register_peer", {}, "invalid_request")


def test_max_turns(env):
    url = env.start_fakellm()
    w = Worker(env, "a", url, max_turns=1)
    p = w.client()
    p.request("run", text_input("@write a.txt x\n@write b.txt y"))
    msgs = finish(p, "limit_reached")
    check(len(tool_results(msgs)) == 1, "one request, one tool")
    te = w.chan.wait_event("turn_ended")["data"]
    check(te["result"] == "limit_reached", "turn_ended %r" % te)
    # The next run is fine and its history is valid for the model.
    p.request("run", text_input("hello"))
    finish(p)


def test_slow_client_dropped(env):
    url = env.start_fakellm()
    w = Worker(env, "a", url)
    slow = pvtest.Client(w.sock_path)   # never reads
    env.clients.append(slow)
    p = w.client()
    # 3 MiB notifications, one turn each: the reader that keeps up gets
    # them all, the one that does not read falls more than 8 MiB behind.
    big = "q" * (3 << 20)
    for i in range(3):
        p.request("notify", {"message": big + str(i)})
        m = p.wait_event("system_item", 30)
        check(m["data"]["item"]["message"] == big + str(i), "fast client")
        finish(p)
    # The slow one's stream ends (EOF) without the end of that turn.
    events = []
    while True:
        m = slow.read(30)
        if m is None:
            break
        events.append(m.get("event"))
    check(events and events[0] == "snapshot", "slow client saw its snapshot")
    check("run_end" not in events, "slow client was not dropped: %r" %
          events)
    # The pod still serves new clients.
    w.client().request("snapshot")
    w.shutdown()


if __name__ == "__main__":
    pvtest.run_tests([
        test_pod_tools,
        test_read_pod_output,
        test_relayed_requests,
        test_max_turns,
        test_slow_client_dropped,
    ])
