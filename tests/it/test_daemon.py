# SPDX-License-Identifier: ISC
"""podvisord's control socket: every method's success and error paths,
pod state files, bounded lines, many and misbehaving clients.  The
worker is tests/it/fakeworker.py (PODVISOR_WORKER)."""

import json
import os
import select
import socket
import stat
import time

import pvtest
from pvtest import check, data


def start(env, extra_env=None):
    env.start_daemon_fakeworker(extra_env)
    return env.control()




def test_hello_ping_and_bad_requests(env):
    c = start(env)
    h = data(c.prelude)
    check(h["protocol"] == 1 and h["pid"] == env.daemon.pid, "hello %r" % h)
    check(isinstance(h["version"], str), "hello version")
    r = c.request("ping")
    check(r["event"] == "pong", "pong: %r" % r)
    # ids come back as given, strings too
    c.send({"method": "ping", "id": "abc"})
    r = c.wait(lambda m: m.get("id") == "abc")
    check(r["event"] == "pong", "string id")
    c.expect_error("no_such_method", None, "invalid_request")
    c.send_raw(b"{not json\n")
    r = c.wait_event("error")
    check(data(r)["code"] == "invalid_request", "bad json: %r" % r)
    c.send_raw(b"[1,2]\n\n")
    r = c.wait_event("error")
    check(data(r)["code"] == "invalid_request", "non-object")
    c.expect_error("spawn", {}, "invalid_request")           # no name
    c.expect_error("spawn", {"name": 5}, "invalid_request")  # mistyped
    c.expect_error("stop", {"name": "x", "recursive": "yes"},
                   "invalid_request")
    # still open and serving
    check(c.request("ping")["event"] == "pong", "connection kept")


def test_spawn_list_inspect_stop(env):
    c = start(env)
    r = data(c.request("spawn", {"name": "a", "cwd": env.work}))
    check(r["name"] == "a" and r["pid"] > 0, "spawned %r" % r)
    check(r["socket"] == env.pod_sock("a"), "socket path")
    check(stat.S_ISSOCK(os.stat(r["socket"]).st_mode), "pod socket bound")
    st = env.read_state("a")
    for key in ("version", "name", "created_ms", "cwd", "model", "scope",
                "parent", "children", "peers", "session", "status", "pid",
                "restart", "pending_events"):
        check(key in st, "state file lacks %s: %r" % (key, st))
    check(st["status"] == "live" and st["pid"] == r["pid"], "state %r" % st)
    check(st["scope"] == [{"target": env.work, "permission": "write",
                           "recursive": True}], "default scope %r" % st)
    check(oct(os.stat(env.pod_state("a")).st_mode & 0o777) == "0o600",
          "state mode")
    c.request("spawn", {"name": "b", "cwd": env.work, "scope": [
        {"target": os.path.join(env.root, "b"), "permission": "write"}]})
    pods = data(c.request("list"))["pods"]
    check([p["name"] for p in pods] == ["a", "b"], "sorted list")
    a = pods[0]
    check(a["status"] == "live" and a["pid"] == r["pid"] and
          a["socket"] == r["socket"] and a["cwd"] == env.work and
          a["children"] == [] and a["peers"] == [] and
          a["effective_write"] == a["scope"], "summary %r" % a)
    d = data(c.request("inspect", {"name": "a"}))
    check(d["restart"] == {"policy": "never", "count": 0} and
          d["pending_events"] == 0 and d["session"]["segment"] and
          len(d["session"]["id"]) == 26, "detail %r" % d)
    s = data(c.request("stop", {"name": "a"}))
    check(s["name"] == "a" and s["released"] == a["scope"], "stopped %r" % s)
    check(env.read_state("a")["status"] == "stopped", "state stopped")
    d = data(c.request("inspect", {"name": "a"}))
    check(d["status"] == "stopped" and "pid" not in d and
          "socket" not in d and d["effective_write"] == [] and
          d["last_exit"]["code"] == 0, "stopped detail %r" % d)
    c.expect_error("stop", {"name": "a"}, "not_live")
    c.expect_error("stop", {"name": "zz"}, "not_found")
    c.expect_error("inspect", {"name": "zz"}, "not_found")
    c.expect_error("inspect", {"name": "Bad!"}, "invalid_name")


def test_spawn_errors(env):
    c = start(env)
    for bad in ("Bad", "", ".", "..", "a/b", "x" * 64, "-a"):
        c.expect_error("spawn", {"name": bad, "cwd": env.work},
                       "invalid_name")
    c.request("spawn", {"name": "a", "cwd": env.work})
    c.expect_error("spawn", {"name": "a", "cwd": env.work}, "already_exists")
    c.expect_error("spawn", {"name": "b", "cwd": "rel/dir"},
                   "invalid_request")
    m = c.expect_error("spawn", {"name": "b", "cwd": env.work + "/nosuch"},
                       "invalid_request")
    check("does not exist: create it first" in data(m)["message"],
          "missing cwd: %r" % m)
    with open(os.path.join(env.root, "file"), "w"):
        pass
    m = c.expect_error("spawn", {"name": "b", "cwd": env.root + "/file"},
                       "invalid_request")
    check("is not a directory" in data(m)["message"], "file cwd: %r" % m)
    c.expect_error("spawn", {"name": "b", "cwd": env.work,
                             "scope": [{"target": "/x/../..",
                                        "permission": "write"}]},
                   "invalid_request")
    c.expect_error("spawn", {"name": "b", "cwd": env.work,
                             "scope": [{"target": "/x",
                                        "permission": "exec"}]},
                   "invalid_request")
    c.expect_error("spawn", {"name": "b", "cwd": env.work,
                             "restart": "always"}, "invalid_request")
    c.expect_error("spawn", {"name": "b", "cwd": env.work,
                             "model": "nosuch/provider/x" * 30},
                   "invalid_request")
    m = c.expect_error("spawn", {"name": "b", "cwd": env.work},
                       "write_conflict")
    check(data(m)["pod"] == "a" and data(m)["target"] == env.work,
          "conflict names pod+target: %r" % m)
    # the failed spawns left nothing behind
    names = [p["name"] for p in data(c.request("list"))["pods"]]
    check(names == ["a"], "only a: %r" % names)


def test_restore_forget(env):
    c = start(env)
    r1 = data(c.request("spawn", {"name": "a", "cwd": env.work}))
    seg = data(c.request("inspect", {"name": "a"}))["session"]["segment"]
    r = c.request("restore", {"name": "a"})
    check(r["event"] == "already_live" and data(r)["pid"] == r1["pid"],
          "already_live %r" % r)
    c.expect_error("forget", {"name": "a"}, "already_live")
    c.request("stop", {"name": "a"})
    r = c.request("restore", {"name": "a"})
    check(r["event"] == "restored" and data(r)["pid"] != r1["pid"],
          "restored %r" % r)
    pc = env.pod_client("a")
    cfg = data(pc.request("fw_config"))["config"]
    check(cfg["restore"] is True and cfg["session"]["segment"] == seg,
          "restore reopens the segment: %r" % cfg["session"])
    check(cfg["paths"]["control_sock"] == env.control_sock and
          cfg["model"]["provider"] == "dummy" and
          cfg["scope"] == cfg["effective_write"], "start config %r" % cfg)
    c.request("stop", {"name": "a"})
    sess_dir = os.path.join(env.state, "sessions", "a")
    check(os.path.isdir(sess_dir), "session dir exists")
    r = c.request("forget", {"name": "a"})
    check(r["event"] == "forgotten" and data(r)["name"] == "a", "forgotten")
    check(not os.path.exists(env.pod_state("a")), "state deleted")
    check(not os.path.exists(sess_dir), "logs deleted")
    check(not os.path.exists(os.path.dirname(env.pod_sock("a"))),
          "runtime dir deleted")
    check(data(c.request("list"))["pods"] == [], "list empty")
    c.expect_error("forget", {"name": "a"}, "not_found")
    c.expect_error("restore", {"name": "a"}, "not_found")
    # the name is free again
    c.request("spawn", {"name": "a", "cwd": env.work})


def test_send_queues_until_live(env):
    c = start(env)
    c.request("spawn", {"name": "a", "cwd": env.work})
    c.request("stop", {"name": "a"})
    r = data(c.request("send", {"name": "a", "message": "while away"}))
    check(r == {"name": "a", "delivered": False}, "queued %r" % r)
    st = env.read_state("a")
    check(len(st["pending_events"]) == 1 and
          st["pending_events"][0]["kind"] == "message" and
          st["pending_events"][0]["message"] == "while away" and
          st["pending_events"][0]["from"] == "user", "pending %r" % st)
    check(data(c.request("inspect", {"name": "a"}))["pending_events"] == 1,
          "inspect counts pending")
    c.request("restore", {"name": "a"})
    pc = env.pod_client("a")
    r = data(c.request("send", {"name": "a", "message": "now"}))
    check(r["delivered"] is True, "delivered live")
    ev = pc.wait_event("fw_daemon", pred=lambda d: d["msg"].get("method") ==
                       "pod_event" and d["msg"]["params"]["message"] == "now")
    check(ev["data"]["msg"]["params"]["eid"], "eid present")
    # A request on the same channel orders after the acks.
    pc.request("fw_request", {"method": "list_pods"})
    check(data(c.request("inspect", {"name": "a"}))["pending_events"] == 0,
          "acked events removed")
    check(env.read_state("a")["pending_events"] == [], "state emptied")
    c.expect_error("send", {"name": "zz", "message": "x"}, "not_found")
    c.expect_error("send", {"name": "a"}, "invalid_request")


def test_send_unacked_stays_pending(env):
    c = start(env, {"FAKEWORKER_NOACK": "a"})
    c.request("spawn", {"name": "a", "cwd": env.work})
    pc = env.pod_client("a")
    c.request("send", {"name": "a", "message": "m1"})
    pc.wait_event("fw_daemon", pred=lambda d: d["msg"].get("method") ==
                  "pod_event")
    pc.request("fw_request", {"method": "list_pods"})
    check(len(env.read_state("a")["pending_events"]) == 1,
          "an unacknowledged event stays in pod state")


def test_register_peer(env):
    c = start(env)
    c.request("spawn", {"name": "a", "cwd": env.mkdir("a")})
    c.request("spawn", {"name": "b", "cwd": env.mkdir("b")})
    c.request("stop", {"name": "b"})
    r = data(c.request("register_peer", {"a": "a", "b": "b"}))
    check(r == {"a": "a", "b": "b"}, "peer_registered %r" % r)
    check(env.read_state("a")["peers"] == ["b"] and
          env.read_state("b")["peers"] == ["a"], "both files written")
    c.expect_error("register_peer", {"a": "a", "b": "zz"}, "not_found")
    c.expect_error("register_peer", {"a": "a", "b": "a"}, "invalid_request")
    c.expect_error("register_peer", {"a": "a"}, "invalid_request")


def test_corrupt_state_listed_and_untouched(env):
    pods = os.path.join(env.state, "pods")
    os.makedirs(pods)
    os.chmod(env.state, 0o700)
    bad = os.path.join(pods, "bad.json")
    raw = b'{"version":1,"name":"bad", "cwd": tru'
    with open(bad, "wb") as f:
        f.write(raw)
    with open(os.path.join(pods, "wrong.json"), "w") as f:
        json.dump({"version": 1, "name": "other"}, f)
    c = start(env)
    pods = data(c.request("list"))["pods"]
    check([(p["name"], p["status"]) for p in pods] ==
          [("bad", "corrupt"), ("wrong", "corrupt")], "corrupt listed %r" % pods)
    check(data(c.request("inspect", {"name": "bad"}))["status"] == "corrupt",
          "inspect corrupt")
    c.expect_error("spawn", {"name": "bad", "cwd": env.work},
                   "already_exists")
    c.expect_error("restore", {"name": "bad"}, "invalid_request")
    c.request("spawn", {"name": "ok", "cwd": env.work})
    c.expect_error("register_peer", {"a": "ok", "b": "bad"},
                   "invalid_request")
    c.expect_error("send", {"name": "bad", "message": "x"}, "invalid_request")
    c.request("stop", {"name": "ok"})
    with open(bad, "rb") as f:
        check(f.read() == raw, "corrupt file left byte-identical")
    check(c.request("ping")["event"] == "pong", "daemon alive")


def test_line_too_long(env):
    c = start(env)
    other = env.control()
    c.send_raw(b'{"method":"ping","params":{"x":"' + b"a" * (1 << 20) +
               b'"}}\n')
    r = c.wait_event("error")
    check(data(r)["code"] == "line_too_long", "line_too_long %r" % r)
    check(c.read(5) is None, "connection closed after line_too_long")
    check(other.request("ping")["event"] == "pong", "others still served")
    # exactly at the limit is fine
    line = b'{"method":"ping","id":1,"params":{"x":"'
    tail = b'"}}'
    pad = (1 << 20) - len(line) - len(tail)
    c2 = env.control()
    c2.send_raw(line + b"b" * pad + tail + b"\n")
    r = c2.wait(lambda m: m.get("id") == 1)
    check(r["event"] == "pong", "1 MiB line accepted: %r" % r)


def test_64_concurrent_clients(env):
    start(env)
    clients = [env.control() for _ in range(64)]
    for i, cl in enumerate(clients):
        cl.send({"method": "ping", "id": i})
    for i, cl in enumerate(clients):
        r = cl.wait(lambda m: m.get("id") == i)
        check(r["event"] == "pong", "client %d" % i)
    for i, cl in enumerate(clients):
        cl.send({"method": "list", "id": 100 + i})
    for i, cl in enumerate(clients):
        r = cl.wait(lambda m: m.get("id") == 100 + i)
        check(r["event"] == "pods", "list %d" % i)


def test_flooding_client_dropped(env):
    c = start(env)
    flood = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    flood.connect(env.control_sock)
    flood.setblocking(False)
    chunk = b'{"method":"list","id":1}\n' * 4000
    sent = 0
    dropped = False
    deadline = time.monotonic() + 30
    checks = 0
    while time.monotonic() < deadline and not dropped:
        _, w, _ = select.select([], [flood], [], 0.2)
        if w:
            try:
                sent += flood.send(chunk)
            except BlockingIOError:
                pass
            except (BrokenPipeError, ConnectionResetError):
                dropped = True
        # the others are never stalled by it
        r = c.call("ping", None, 3)
        check(r["event"] == "pong", "ping during flood")
        checks += 1
    check(dropped, "a client that never reads is dropped (sent %d)" % sent)
    check(checks > 0, "pinged during the flood")
    check(env.control().request("ping")["event"] == "pong", "still serving")


def test_spawn_failed_crash_rolls_back(env):
    c = start(env, {"FAKEWORKER_CRASH": "bad"})
    c.request("spawn", {"name": "a", "cwd": env.mkdir("a")})
    bad_dir = env.mkdir("b")
    m = c.expect_error("spawn", {"name": "bad", "cwd": bad_dir},
                       "spawn_failed")
    check("crashing at start as told" in data(m)["message"],
          "stderr quoted: %r" % data(m))
    names = [p["name"] for p in data(c.request("list"))["pods"]]
    check(names == ["a"], "rolled back: %r" % names)
    check(not os.path.exists(env.pod_state("bad")), "no state left")
    # the scope was released: another pod may take it
    c.request("spawn", {"name": "c", "cwd": bad_dir})


def test_spawn_failed_refused(env):
    c = start(env, {"FAKEWORKER_REFUSE": "bad"})
    m = c.expect_error("spawn", {"name": "bad", "cwd": env.work},
                       "spawn_failed")
    check("refused as told" in data(m)["message"], "reason: %r" % data(m))


def test_spawn_failed_exec(env):
    notexec = os.path.join(env.root, "notexec")
    with open(notexec, "w") as f:
        f.write("#!/bin/sh\n")
    os.chmod(notexec, 0o600)
    c = start(env, {"PODVISOR_WORKER": notexec})
    t0 = time.monotonic()
    m = c.expect_error("spawn", {"name": "a", "cwd": env.work},
                       "spawn_failed")
    check("cannot execute" in data(m)["message"], "exec error %r" % data(m))
    check(time.monotonic() - t0 < 5, "exec failure is reported at once")
    check(data(c.request("list"))["pods"] == [], "rolled back")


def test_spawn_hang_times_out(env):
    c = start(env, {"FAKEWORKER_HANG": "slow"})
    t0 = time.monotonic()
    m = c.expect_error("spawn", {"name": "slow", "cwd": env.work},
                       "spawn_failed", timeout=20)
    took = time.monotonic() - t0
    check(9 < took < 15, "10 s ready timeout (took %.1f)" % took)
    check("hanging at start" in data(m)["message"], "stderr %r" % data(m))


def test_stop_escalates_to_kill(env):
    c = start(env, {"FAKEWORKER_IGNORE_SHUTDOWN": "stubborn"})
    c.request("spawn", {"name": "stubborn", "cwd": env.work})
    t0 = time.monotonic()
    r = data(c.request("stop", {"name": "stubborn"}, timeout=20))
    check(r["name"] == "stubborn", "stopped")
    took = time.monotonic() - t0
    check(9 < took < 15, "shutdown, 5 s, SIGTERM, 5 s, SIGKILL (%.1f)" % took)
    d = data(c.request("inspect", {"name": "stubborn"}))
    check(d["status"] == "stopped" and d["last_exit"]["signal"] == 9,
          "killed: %r" % d)


def test_shutdown_stops_pods(env):
    c = start(env)
    c.request("spawn", {"name": "a", "cwd": env.mkdir("a")})
    c.request("spawn", {"name": "b", "cwd": env.mkdir("b")})
    c.expect_error("shutdown", {"pods": "maybe"}, "invalid_request")
    r = c.request("shutdown")
    check(r["event"] == "shutting_down", "shutting_down %r" % r)
    env.notify.wait("STOPPING=1")
    check(env.daemon.wait(15) == 0, "exit 0")
    for n in ("a", "b"):
        check(env.read_state(n)["status"] == "stopped", "%s stopped" % n)


def test_sigterm_stops_pods(env):
    c = start(env)
    c.request("spawn", {"name": "a", "cwd": env.work})
    env.daemon.terminate()
    check(env.daemon.wait(15) == 0, "exit 0 on SIGTERM")
    check(env.read_state("a")["status"] == "stopped", "a stopped")


ESCAPE = r"""
import json, os, socket, sys, time
def ask(method, params):
    s = socket.socket(socket.AF_UNIX)
    s.connect(sys.argv[1])
    f = s.makefile("rwb")
    f.readline()
    f.write(json.dumps({"method": method, "id": 1,
                        "params": params}).encode() + b"\n")
    f.flush()
    return json.loads(f.readline())
if len(sys.argv) > 3 and sys.argv[3] == "orphan":
    parent = os.getpid()
    if os.fork():
        os._exit(0)          # the child lives on as an orphan
    os.setsid()
    while os.getppid() == parent:
        time.sleep(0.01)     # until it is re-parented
out = {"spawn": ask("spawn", {"name": "evil", "cwd": sys.argv[2],
                              "scope": [{"target": sys.argv[2],
                                         "permission": "write"}]}),
       "list": ask("list", {}),
       "forget": ask("forget", {"name": "b"}),
       "shutdown": ask("shutdown", {}), "ppid": os.getppid()}
print(json.dumps(out))
"""


def test_pod_processes_are_not_the_user(env):
    """A pod's bash can reach control.sock (same uid); there it speaks with
    the pod's rights, never the user's."""
    c = start(env)
    for n in ("a", "b"):
        os.makedirs(os.path.join(env.work, n))
        c.request("spawn", {"name": n, "cwd": env.mkdir(n)})
    pa = env.pod_client("a")
    script = os.path.join(env.root, "escape.py")
    with open(script, "w") as f:
        f.write(ESCAPE)
    outside = env.mkdir(os.path.join(env.root, "outside"))
    r = data(pa.request("fw_exec", {"argv": [
        "python3", script, env.control_sock, outside]}, timeout=25))
    out = json.loads(r["stdout"])
    check(out["spawn"]["data"]["code"] == "not_subset",
          "spawn from inside a is a's delegation: %r" % out["spawn"])
    check([p["name"] for p in out["list"]["data"]["pods"]] == ["a"],
          "a's visibility: %r" % out["list"])
    check(out["forget"]["data"]["code"] == "not_visible", "forget refused")
    check(out["shutdown"]["data"]["code"] == "not_visible",
          "shutdown refused")
    # a double-forked, setsid orphan is re-parented to podvisord (child
    # subreaper): still not the user
    r = data(pa.request("fw_exec", {"argv": [
        "python3", script, env.control_sock, outside, "orphan"]},
        timeout=25))
    out = json.loads(r["stdout"])
    check(out["ppid"] == env.daemon.pid, "re-parented to podvisord")
    for k in ("spawn", "forget", "shutdown"):
        check(out[k]["event"] == "error" and
              out[k]["data"]["code"] == "not_visible", "orphan %s: %r" %
              (k, out[k]))
    names = [p["name"] for p in data(c.request("list"))["pods"]]
    check(names == ["a", "b"], "nothing spawned, nothing forgotten: %r" %
          names)
    check(env.daemon.poll() is None, "still running")


if __name__ == "__main__":
    pvtest.run_tests([
        test_hello_ping_and_bad_requests,
        test_spawn_list_inspect_stop,
        test_spawn_errors,
        test_restore_forget,
        test_send_queues_until_live,
        test_send_unacked_stays_pending,
        test_register_peer,
        test_corrupt_state_listed_and_untouched,
        test_line_too_long,
        test_64_concurrent_clients,
        test_flooding_client_dropped,
        test_spawn_failed_crash_rolls_back,
        test_spawn_failed_refused,
        test_spawn_failed_exec,
        test_spawn_hang_times_out,
        test_stop_escalates_to_kill,
        test_shutdown_stops_pods,
        test_sigterm_stops_pods,
        test_pod_processes_are_not_the_user,
    ])
