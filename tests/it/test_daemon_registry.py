# SPDX-License-Identifier: ISC
"""podvisord's scope-lock registry, pod tree and event routing, driven
through fakeworker pods (their fd 3 requests go through fw_request)."""

import os
import signal

import pvtest
from pvtest import check, data, wait_daemon, wevent, wreq










def is_pod_event(kind, **fields):
    def pred(m):
        if m.get("method") != "pod_event":
            return False
        p = m.get("params", {})
        return p.get("kind") == kind and all(p.get(k) == v
                                             for k, v in fields.items())
    return pred


def is_scope_changed(m):
    return m.get("event") == "scope_changed"


def w(target, recursive=True):
    return {"target": target, "permission": "write", "recursive": recursive}


def deny_w(target):
    return {"target": target, "permission": "write", "recursive": True,
            "deny": True}


def setup(env, extra_env=None):
    env.start_daemon_fakeworker(extra_env)
    c = env.control()
    c.request("spawn", {"name": "a", "cwd": env.work})
    return c, env.pod_client("a")


def summary(c, name):
    for p in data(c.request("list"))["pods"]:
        if p["name"] == name:
            return p
    return None


def test_delegation_and_scope_changed(env):
    c, pa = setup(env)
    sub = os.path.join(env.work, "sub")
    r = wreq(pa, "spawn_pod", {"name": "a.c", "scope": [w(sub)],
                               "task": "do it"})
    check(r["event"] == "spawned" and r["data"]["name"] == "a.c",
          "child spawned: %r" % r)
    m = wait_daemon(pa, is_scope_changed)
    eff = m["data"]["effective_write"]
    check(w(env.work) in eff and deny_w(sub) in eff,
          "parent's effective write has the child's hole: %r" % eff)
    ch = summary(c, "a.c")
    check(ch["parent"] == "a" and ch["cwd"] == env.work and
          ch["scope"] == [w(sub)], "child summary %r" % ch)
    check(summary(c, "a")["children"] == ["a.c"], "a's children")
    check(env.read_state("a")["children"] == ["a.c"], "a's state")
    check(env.read_state("a.c")["parent"] == "a", "child's state")
    # the task arrived as a message event from the parent
    pc = env.pod_client("a.c")
    cfg = data(pc.request("fw_config"))["config"]
    check(cfg["parent"] == "a", "start config parent")
    # read-only delegation of something a can write is fine too
    r = wreq(pa, "spawn_pod", {"name": "a.r", "scope": [
        {"target": sub, "permission": "read"}]})
    check(r["event"] == "spawned", "read delegation: %r" % r)


def test_not_subset(env):
    c, pa = setup(env)
    outside = os.path.join(env.root, "outside")
    r = wreq(pa, "spawn_pod", {"name": "a.x", "scope": [w(outside)]})
    check(r["event"] == "error" and r["data"]["code"] == "not_subset" and
          r["data"]["target"] == outside, "not_subset: %r" % r)
    r = wreq(pa, "spawn_pod", {"name": "a.x", "scope": [
        {"target": "/", "permission": "read"}, w(env.work)]})
    check(r["data"]["code"] == "not_subset", "read of / is not a subset")
    # a hole held by a live child is no longer a's to give
    sub = os.path.join(env.work, "sub")
    wreq(pa, "spawn_pod", {"name": "a.c", "scope": [w(sub)]})
    r = wreq(pa, "spawn_pod", {"name": "a.d", "scope": [
        w(os.path.join(sub, "x"))]})
    check(r["event"] == "error" and r["data"]["code"] == "write_conflict" and
          r["data"]["pod"] == "a.c" and r["data"]["target"] == sub,
          "sibling conflict names the child: %r" % r)
    check(summary(c, "a.x") is None and summary(c, "a.d") is None,
          "nothing left from failed spawns")


def test_write_conflict_top_level(env):
    c, pa = setup(env)
    x = os.path.join(env.root, "x")
    c.request("spawn", {"name": "b", "cwd": env.work, "scope": [w(x)]})
    m = c.expect_error("spawn", {"name": "c", "cwd": env.work,
                                 "scope": [w(os.path.join(x, "y"))]},
                       "write_conflict")
    check(data(m)["pod"] == "b" and data(m)["target"] == x,
          "names pod and target: %r" % data(m))
    m = c.expect_error("spawn", {"name": "c", "cwd": env.work,
                                 "scope": [w(env.root)]}, "write_conflict")
    check(data(m)["pod"] in ("a", "b"), "covering rule conflicts")
    # read rules never conflict
    c.request("spawn", {"name": "r", "cwd": env.work, "scope": [
        {"target": x, "permission": "read"}]})
    # a non-recursive rule on x's parent touches x itself
    m = c.expect_error("spawn", {"name": "c", "cwd": env.work, "scope": [
        w(env.root, recursive=False)]}, "write_conflict")
    # from a worker, a pod of another tree is a conflict as well
    r = wreq(pa, "spawn_pod", {"name": "a.y", "scope": [w(x)]})
    check(r["data"]["code"] in ("write_conflict", "not_subset"),
          "other tree: %r" % r)


def test_release_on_kill9(env):
    c, pa = setup(env)
    sub = os.path.join(env.work, "sub")
    r = wreq(pa, "spawn_pod", {"name": "a.c", "scope": [w(sub)]})
    wait_daemon(pa, is_scope_changed)
    os.kill(r["data"]["pid"], signal.SIGKILL)
    m = wait_daemon(pa, is_pod_event("child_exited", **{"from": "a.c"}))
    check(m["params"]["signal"] == 9 and m["params"]["status"] == "crashed",
          "child_exited %r" % m["params"])
    m = wait_daemon(pa, is_scope_changed)
    check(m["data"]["effective_write"] == [w(env.work)],
          "scope returned to the parent: %r" % m["data"])
    ch = summary(c, "a.c")
    check(ch["status"] == "crashed" and ch["effective_write"] == [],
          "crashed, nothing held: %r" % ch)
    # the released scope can be handed out again
    r = wreq(pa, "spawn_pod", {"name": "a.d", "scope": [w(sub)]})
    check(r["event"] == "spawned", "reuse released scope: %r" % r)
    # a top-level pod killed: its scope is free for others at once
    x = os.path.join(env.root, "x")
    b = data(c.request("spawn", {"name": "b", "cwd": env.work,
                                 "scope": [w(x)]}))
    c.expect_error("spawn", {"name": "c", "cwd": env.work,
                             "scope": [w(x)]}, "write_conflict")
    n = env.notify
    n.drain()
    os.kill(b["pid"], signal.SIGKILL)
    # STATUS drops to 2 live pods (a, a.d) once b is reaped
    n.wait("STATUS=2 live pods")
    c.request("spawn", {"name": "c", "cwd": env.work, "scope": [w(x)]})


def test_reparenting(env):
    c, pa = setup(env)
    sub = os.path.join(env.work, "sub")
    deep = os.path.join(sub, "deep")
    wreq(pa, "spawn_pod", {"name": "a.c", "scope": [w(sub)]})
    pc = env.pod_client("a.c")
    r = wreq(pc, "spawn_pod", {"name": "a.c.d", "scope": [w(deep)]})
    check(r["event"] == "spawned", "grandchild: %r" % r)
    m = wait_daemon(pc, is_scope_changed)
    check(deny_w(deep) in m["data"]["effective_write"], "a.c's hole")
    c.request("stop", {"name": "a.c"})
    g = summary(c, "a.c.d")
    check(g["status"] == "live" and g["parent"] == "a" and
          g["scope"] == [w(deep)] and g["effective_write"] == [w(deep)],
          "re-parented with its grant: %r" % g)
    a = summary(c, "a")
    check("a.c.d" in a["children"], "a adopted a.c.d: %r" % a["children"])
    check(deny_w(deep) in a["effective_write"] and
          deny_w(sub) not in a["effective_write"],
          "a got a.c's scope back minus the grandchild: %r" %
          a["effective_write"])
    check(env.read_state("a.c.d")["parent"] == "a", "state re-parented")
    m = wait_daemon(pa, is_pod_event("child_exited", **{"from": "a.c"}))
    check(m["params"]["status"] == "stopped", "stopped child reported")
    # recursive stop takes the whole tree
    wreq(pa, "spawn_pod", {"name": "a.e", "scope": [
        w(os.path.join(env.work, "e"))]})
    c.request("stop", {"name": "a", "recursive": True}, timeout=15)
    for n in ("a", "a.c.d", "a.e"):
        check(summary(c, n)["status"] == "stopped", "%s stopped" % n)


def test_visibility_and_peers(env):
    c, pa = setup(env)
    wreq(pa, "spawn_pod", {"name": "a.c", "scope": [
        w(os.path.join(env.work, "sub"))]})
    c.request("spawn", {"name": "b", "cwd": env.mkdir(os.path.join(env.root, "b"))})
    r = wreq(pa, "list_pods")
    check(r["event"] == "pods" and
          [p["name"] for p in r["data"]["pods"]] == ["a", "a.c"],
          "a sees itself and its child: %r" % r)
    pc = env.pod_client("a.c")
    r = wreq(pc, "list_pods")
    check([p["name"] for p in r["data"]["pods"]] == ["a.c"],
          "a child does not see its parent")
    for method, params in (("send_to_pod", {"name": "b", "message": "x"}),
                           ("restore_pod", {"name": "b"}),
                           ("stop_pod", {"name": "b"}),
                           ("register_peer", {"name": "b"})):
        r = wreq(pa, method, params)
        check(r["event"] == "error" and r["data"]["code"] == "not_visible",
              "%s on b: %r" % (method, r))
        r = wreq(pa, method, dict(params, name="nope"))
        check(r["data"]["code"] == "not_found", "%s on nope" % method)
    r = wreq(pa, "send_to_peer", {"name": "b", "message": "x"})
    check(r["data"]["code"] == "not_visible", "not a peer yet: %r" % r)
    c.request("register_peer", {"a": "a", "b": "b"})
    r = wreq(pa, "list_pods")
    check([p["name"] for p in r["data"]["pods"]] == ["a", "a.c", "b"],
          "peer visible")
    pb = env.pod_client("b")
    r = wreq(pa, "send_to_peer", {"name": "b", "message": "hello b"})
    check(r["event"] == "sent" and r["data"]["delivered"] is True,
          "sent %r" % r)
    m = wait_daemon(pb, is_pod_event("peer_message", **{"from": "a"}))
    check(m["params"]["message"] == "hello b", "peer message %r" % m)
    r = wreq(pa, "send_to_pod", {"name": "a.c", "message": "child, do"})
    check(r["data"]["delivered"] is True, "send_to_pod child")
    m = wait_daemon(pc, is_pod_event("message", **{"from": "a"}))
    check(m["params"]["message"] == "child, do", "message to child")
    # a pod may stop its own child
    r = wreq(pa, "stop_pod", {"name": "a.c"})
    check(r["event"] == "stopped" and r["data"]["name"] == "a.c",
          "stop_pod: %r" % r)
    r = wreq(pa, "restore_pod", {"name": "a.c"})
    check(r["event"] == "restored", "restore_pod: %r" % r)
    r = wreq(pa, "restore_pod", {"name": "a.c"})
    check(r["event"] == "already_live", "already_live: %r" % r)


def test_child_events_routed_to_parent(env):
    c, pa = setup(env)
    wreq(pa, "spawn_pod", {"name": "a.c", "scope": [
        w(os.path.join(env.work, "sub"))]})
    pc = env.pod_client("a.c")
    wevent(pc, "turn_ended", {"turn": 1, "result": "finished",
                              "text": "done: 42"})
    m = wait_daemon(pa, is_pod_event("child_turn_ended", **{"from": "a.c"}))
    check(m["params"]["text"] == "done: 42" and m["params"]["turn"] == 1 and
          m["params"]["result"] == "finished", "child_turn_ended %r" % m)
    wevent(pc, "turn_errored", {"turn": 2, "error": {
        "code": "provider_error", "message": "down"}})
    m = wait_daemon(pa, is_pod_event("child_errored", **{"from": "a.c"}))
    check(m["params"]["error"]["code"] == "provider_error", "child_errored")
    # While a is stopped a.c is top-level; restoring a takes it back.
    c.request("stop", {"name": "a"})
    check("parent" not in summary(c, "a.c"), "a.c moved up")
    c.request("restore", {"name": "a"})
    check(summary(c, "a.c")["parent"] == "a", "a took a.c back")
    check(env.read_state("a.c")["parent"] == "a", "state too")
    pa = env.pod_client("a")
    wevent(pc, "turn_ended", {"turn": 3, "result": "finished",
                              "text": "third"})
    m = wait_daemon(pa, is_pod_event("child_turn_ended", **{"from": "a.c"}))
    check(m["params"]["text"] == "third", "routed to the restored parent")


def test_unacked_event_redelivered(env):
    c, pa = setup(env, {"FAKEWORKER_NOACK": "a"})
    wreq(pa, "spawn_pod", {"name": "a.c", "scope": [
        w(os.path.join(env.work, "sub"))]})
    pc = env.pod_client("a.c")
    wevent(pc, "turn_ended", {"turn": 1, "result": "finished",
                              "text": "t1"})
    m = wait_daemon(pa, is_pod_event("child_turn_ended", **{"from": "a.c"}))
    eid = m["params"]["eid"]
    pend = env.read_state("a")["pending_events"]
    check([e["eid"] for e in pend] == [eid], "kept until acked: %r" % pend)
    c.request("stop", {"name": "a"})
    check(env.read_state("a")["pending_events"][0]["eid"] == eid,
          "survives the stop")
    c.request("restore", {"name": "a"})
    pa = env.pod_client("a")
    # the restored worker gets it again, same eid
    r = data(pa.request("fw_config"))
    check(r["config"]["restore"] is True, "restored")
    wreq(pa, "list_pods")
    check(env.read_state("a")["pending_events"][0]["eid"] == eid,
          "still pending (the worker never acks)")


def test_limits(env):
    env.write_config("[daemon]\nmax_depth = 2\nmax_children = 1\n"
                     "[provider.dummy]\nscheme = openai_chat\n"
                     "base_url = http://127.0.0.1:9/v1\n")
    c, pa = setup(env)
    r = wreq(pa, "spawn_pod", {"name": "a.c", "scope": [
        w(os.path.join(env.work, "c"))]})
    check(r["event"] == "spawned", "depth 2 ok")
    r = wreq(pa, "spawn_pod", {"name": "a.d", "scope": [
        w(os.path.join(env.work, "d"))]})
    check(r["event"] == "error", "max_children: %r" % r)
    pc = env.pod_client("a.c")
    r = wreq(pc, "spawn_pod", {"name": "a.c.d", "scope": [
        w(os.path.join(env.work, "c", "d"))]})
    check(r["event"] == "error" and "max_depth" in r["data"]["message"],
          "max_depth: %r" % r)


if __name__ == "__main__":
    pvtest.run_tests([
        test_delegation_and_scope_changed,
        test_not_subset,
        test_write_conflict_top_level,
        test_release_on_kill9,
        test_reparenting,
        test_visibility_and_peers,
        test_child_events_routed_to_parent,
        test_unacked_event_redelivered,
        test_limits,
    ])
