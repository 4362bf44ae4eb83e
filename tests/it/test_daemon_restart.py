# SPDX-License-Identifier: ISC
"""podvisord and systemd: sd_notify, socket activation, SIGHUP reload,
crash survival (kill -9 of the daemon, workers re-attach), the
on-failure restart policy, and the supervisor journal."""

import json
import os
import signal
import socket
import subprocess

import pvtest
from pvtest import check, data, fail, wait_daemon, wreq








def w(target):
    return {"target": target, "permission": "write", "recursive": True}


def summary(c, name):
    for p in data(c.request("list"))["pods"]:
        if p["name"] == name:
            return p
    return None


def test_sd_notify(env):
    env.start_daemon_fakeworker()        # waits for READY=1
    c = env.control()
    c.request("spawn", {"name": "a", "cwd": env.work})
    env.notify.wait("STATUS=1 live pods")
    c.request("stop", {"name": "a"})
    env.notify.wait("STATUS=0 live pods")
    c.request("shutdown")
    env.notify.wait("STOPPING=1")
    check(env.daemon.wait(10) == 0, "exit 0")


def test_sd_notify_abstract_and_watchdog(env):
    name = "pvtest-notify-%d" % os.getpid()
    sock = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
    sock.bind("\0" + name)
    n = pvtest.Notify.__new__(pvtest.Notify)
    n.path, n.sock, n.messages = "@" + name, sock, []
    env.start_daemon_fakeworker({"NOTIFY_SOCKET": "@" + name,
                                 "WATCHDOG_USEC": "200000"},
                                wait_ready=False)
    n.wait("READY=1")
    n.wait("WATCHDOG=1")
    n.wait("WATCHDOG=1")     # every WATCHDOG_USEC / 2
    c = env.control()
    c.request("spawn", {"name": "a", "cwd": env.work})
    pc = env.pod_client("a")
    # the worker does not inherit NOTIFY_SOCKET
    cfg = data(pc.request("fw_config"))["config"]
    pid = summary(c, "a")["pid"]
    with open("/proc/%d/environ" % pid, "rb") as f:
        environ = f.read().split(b"\0")
    check(not any(e.startswith(b"NOTIFY_SOCKET=") or
                  e.startswith(b"WATCHDOG_USEC=") for e in environ),
          "worker environment is clean")
    check(cfg["name"] == "a", "config")
    sock.close()


def test_journal(env):
    env.start_daemon_fakeworker()
    c = env.control()
    c.request("spawn", {"name": "a", "cwd": env.work})
    with open(os.path.join(env.state, "supervisor.json")) as f:
        j = json.load(f)
    check(j["version"] == 1 and j["pid"] == env.daemon.pid, "journal %r" % j)
    check([e["pod"] for e in j["registry"]] == ["a"] and
          j["registry"][0]["rules"] == [w(env.work)], "registry snapshot")
    check(j["restarts"]["a"]["count"] == 0, "restart counters")
    c.request("stop", {"name": "a"})
    with open(os.path.join(env.state, "supervisor.json")) as f:
        check(json.load(f)["registry"] == [], "released in the journal")


def test_reattach_after_daemon_kill(env):
    env.start_daemon_fakeworker({"FAKEWORKER_NO_REATTACH": "a.lost"})
    c = env.control()
    a = data(c.request("spawn", {"name": "a", "cwd": env.work}))
    pa = env.pod_client("a")
    ac = wreq(pa, "spawn_pod", {"name": "a.c", "scope": [
        w(os.path.join(env.work, "c"))]})["data"]
    wreq(pa, "spawn_pod", {"name": "a.lost", "scope": [
        w(os.path.join(env.work, "lost"))]})
    pc = env.pod_client("a.c")
    c.close()
    env.kill_daemon(signal.SIGKILL)
    # the workers keep serving their own clients meanwhile
    r = pc.request("fw_config")
    check(data(r)["config"]["name"] == "a.c", "worker alive")
    env.start_daemon_fakeworker({"FAKEWORKER_NO_REATTACH": "a.lost"})
    # re-attached: the daemon talks to a's worker again
    wait_daemon(pa, lambda m: m.get("event") == "scope_changed")
    wait_daemon(pc, lambda m: m.get("event") == "scope_changed")
    c = env.control()
    sa, sc = summary(c, "a"), summary(c, "a.c")
    check(sa["status"] == "live" and sa["pid"] == a["pid"],
          "a re-adopted, not restarted: %r" % sa)
    check(sc["status"] == "live" and sc["pid"] == ac["pid"] and
          sc["parent"] == "a", "a.c re-adopted: %r" % sc)
    # a.lost never came back: crashed after 5 s, its parent told
    m = wait_daemon(pa, lambda m: m.get("method") == "pod_event" and
                    m["params"]["kind"] == "child_exited" and
                    m["params"]["from"] == "a.lost", timeout=10)
    check(m["params"]["status"] == "crashed", "lost: %r" % m["params"])
    check(summary(c, "a.lost")["status"] == "crashed", "a.lost crashed")
    # the re-attached channel carries requests both ways
    r = wreq(pa, "list_pods")
    check([p["name"] for p in r["data"]["pods"]] == ["a", "a.c", "a.lost"],
          "list over the re-attached channel: %r" % r)
    r = wreq(pa, "spawn_pod", {"name": "a.lost2", "scope": [
        w(os.path.join(env.work, "lost"))]})
    check(r["event"] == "spawned", "a.lost's scope was released: %r" % r)
    # the scope registry was rebuilt: a.c's grant still holds
    m = c.expect_error("spawn", {"name": "x", "cwd": env.work, "scope": [
        w(os.path.join(env.work, "c"))]}, "write_conflict")
    # stop works on a re-adopted worker (pidfd sees it exit)
    r = data(c.request("stop", {"name": "a.c"}))
    check(r["name"] == "a.c", "stopped a re-adopted worker")
    check(summary(c, "a.c")["status"] == "stopped", "a.c stopped")
    # a forged reattach is refused: pid must be the peer's
    m = c.expect_error("reattach", {"name": "a", "pid": a["pid"]},
                       "invalid_request")


def test_shutdown_leave(env):
    env.start_daemon_fakeworker()
    c = env.control()
    a = data(c.request("spawn", {"name": "a", "cwd": env.work}))
    pa = env.pod_client("a")
    r = c.request("shutdown", {"pods": "leave"})
    check(r["event"] == "shutting_down", "shutting_down")
    check(env.daemon.wait(10) == 0, "exit 0")
    check(data(pa.request("fw_config"))["config"]["name"] == "a",
          "the worker was left running")
    check(env.read_state("a")["status"] == "live", "state still live")
    env.start_daemon_fakeworker()
    wait_daemon(pa, lambda m: m.get("event") == "scope_changed")
    c = env.control()
    check(summary(c, "a")["pid"] == a["pid"], "re-adopted, same worker")


def test_reattach_wrong_pod(env):
    env.start_daemon_fakeworker()
    c = env.control()
    c.expect_error("reattach", {"name": "nope", "pid": os.getpid()},
                   "not_found")
    c.request("spawn", {"name": "a", "cwd": env.work})
    c.expect_error("reattach", {"name": "a", "pid": os.getpid()},
                   "already_live")
    c.expect_error("reattach", {"name": "a"}, "invalid_request")


def test_socket_activation(env):
    os.makedirs(env.runtime)
    os.chmod(env.runtime, 0o700)
    env.write_config("[provider.dummy]\nscheme = openai_chat\n"
                     "base_url = http://127.0.0.1:9/v1\n")
    notify_path = os.path.join(env.root, "notify-sa.sock")
    env.notify = pvtest.Notify(notify_path)
    fw = os.path.join(os.path.dirname(os.path.abspath(__file__)),
                      "fakeworker.py")
    argv = ["systemd-socket-activate", "-l", env.control_sock]
    for k, v in (("PODVISOR_RUNTIME_DIR", env.runtime),
                 ("PODVISOR_STATE_DIR", env.state),
                 ("PODVISOR_CONFIG", env.config),
                 ("PODVISOR_WORKER", fw),
                 ("NOTIFY_SOCKET", notify_path),
                 ("PATH", os.environ.get("PATH", "/usr/bin:/bin"))):
        argv += ["-E", "%s=%s" % (k, v)]
    argv.append(pvtest.binary("PODVISORD", "podvisord"))
    env.stderr_path = os.path.join(env.root, "podvisord-sa.log")
    errf = open(env.stderr_path, "ab+")
    p = subprocess.Popen(argv, stdin=subprocess.DEVNULL,
                         stdout=subprocess.DEVNULL, stderr=subprocess.PIPE,
                         env=env.env)
    env.procs.append(p)
    env.daemon = p
    line = pvtest._read_proc_line(
        type("P", (), {"stdout": p.stderr, "poll": p.poll})(), 10)
    check("Listening on" in line, "socket-activate said %r" % line)
    # the first connection starts podvisord on the passed socket
    c = env.control()
    env.notify.wait("READY=1")
    check(data(c.prelude)["pid"] == p.pid, "podvisord runs as that pid")
    c.request("spawn", {"name": "a", "cwd": env.work})
    pc = env.pod_client("a")
    cfg = data(pc.request("fw_config"))["config"]
    check(cfg["paths"]["control_sock"] == env.control_sock, "paths")
    c.request("shutdown")
    check(p.wait(10) == 0, "exit 0")
    check(os.path.exists(env.control_sock),
          "a socket systemd owns is not unlinked")
    errf.close()


def test_sighup_reload(env):
    base = ("[provider.dummy]\nscheme = openai_chat\n"
            "base_url = http://127.0.0.1:9/v1\n")
    env.write_config("[defaults]\nmodel = dummy/m1\n" + base)
    env.start_daemon_fakeworker()
    c = env.control()
    c.request("spawn", {"name": "a", "cwd": env.mkdir("a")})
    check(summary(c, "a")["model"] == "dummy/m1", "default model")
    env.write_config("[defaults]\nmodel = dummy/m2\n" + base +
                     "# " + "x" * 250 + "\n")
    env.notify.drain()
    env.daemon.send_signal(signal.SIGHUP)
    env.notify.wait("READY=1")
    check("config.ini:6: line longer than 200 bytes" in env.daemon_log(),
          "error names file:line")
    c.request("spawn", {"name": "b", "cwd": env.mkdir("b")})
    check(summary(c, "b")["model"] == "dummy/m1", "old config kept")
    env.write_config("[defaults]\nmodel = two/big\n" + base +
                     "[provider.two]\nscheme = anthropic\n"
                     "base_url = http://127.0.0.1:9\n"
                     "model.fast = real-fast\n")
    env.notify.drain()
    env.daemon.send_signal(signal.SIGHUP)
    env.notify.wait("READY=1")
    c.request("spawn", {"name": "c", "cwd": env.mkdir("c"),
                        "model": "fast"})
    check(summary(c, "c")["model"] == "two/real-fast", "alias resolved")
    pc = env.pod_client("c")
    m = data(pc.request("fw_config"))["config"]["model"]
    check(m["provider"] == "two" and m["scheme"] == "anthropic" and
          m["model"] == "real-fast", "start config model %r" % m)
    c.request("spawn", {"name": "d", "cwd": env.mkdir("d")})
    check(summary(c, "d")["model"] == "two/big", "new default")
    c.request("spawn", {"name": "e", "cwd": env.mkdir("e"),
                        "model": "dummy/other"})
    check(summary(c, "e")["model"] == "dummy/other", "provider/model")


def test_api_key_only_in_start_config(env):
    secret = "sk-test-SECRET-123456"
    env.write_config("[provider.dummy]\nscheme = openai_chat\n"
                     "base_url = http://127.0.0.1:9/v1\n"
                     "api_key_env = PV_TEST_KEY\n")
    env.start_daemon_fakeworker({"PV_TEST_KEY": secret})
    c = env.control()
    c.request("spawn", {"name": "a", "cwd": env.work})
    pc = env.pod_client("a")
    cfg = data(pc.request("fw_config"))["config"]
    check(cfg["model"]["api_key"] == secret, "key in the start config")
    c.request("inspect", {"name": "a"})
    c.request("stop", {"name": "a"})
    for root, _, files in os.walk(env.state):
        for f in files:
            with open(os.path.join(root, f), "rb") as fh:
                check(secret.encode() not in fh.read(),
                      "key written to %s" % f)
    check(secret not in env.daemon_log(), "key in the daemon log")


def test_restart_on_failure(env):
    env.start_daemon_fakeworker()
    c = env.control()
    a = data(c.request("spawn", {"name": "a", "cwd": env.work,
                                 "restart": "on-failure"}))
    pa = env.pod_client("a")
    env.notify.drain()
    pa.send({"method": "fw_crash", "params": {"code": 3}})
    env.notify.wait("STATUS=0 live pods")
    env.notify.wait("STATUS=1 live pods")    # restarted after 1 s
    d = data(c.request("inspect", {"name": "a"}))
    check(d["status"] == "live" and d["pid"] != a["pid"] and
          d["restart"]["count"] == 1 and d["last_exit"]["code"] == 3,
          "restarted: %r" % d)
    pa = env.pod_client("a")
    cfg = data(pa.request("fw_config"))["config"]
    check(cfg["restore"] is True, "a restart restores the session")
    # a pod without the policy stays crashed
    b = data(c.request("spawn", {"name": "b", "cwd": env.mkdir(env.root + "/b")}))
    env.notify.drain()
    os.kill(b["pid"], signal.SIGKILL)
    env.notify.wait("STATUS=1 live pods")
    d = data(c.request("inspect", {"name": "b"}))
    check(d["status"] == "crashed" and d["last_exit"]["signal"] == 9 and
          d["restart"]["count"] == 0, "crashed, not restarted: %r" % d)


def test_fake_provider_autostart(env):
    """No config and no provider in the environment: podvisord starts the
    bundled fakellm on first need and points the worker at it."""
    fakellm = os.environ.get("FAKELLM")
    if not fakellm or not os.path.exists(fakellm):
        fail("FAKELLM is not set (meson sets it)")
    fw = os.path.join(os.path.dirname(os.path.abspath(__file__)),
                      "fakeworker.py")
    env.start_daemon({"PODVISOR_WORKER": fw, "PODVISOR_FAKELLM": fakellm})
    c = env.control()
    c.request("spawn", {"name": "a", "cwd": env.mkdir("a")})
    c.request("spawn", {"name": "b", "cwd": env.mkdir("b")})
    check(summary(c, "a")["model"].startswith("fake/"), "fake provider")
    urls = set()
    for n in ("a", "b"):
        m = data(env.pod_client(n).request("fw_config"))["config"]["model"]
        check(m["provider"] == "fake" and m["scheme"] == "openai_chat" and
              m["base_url"].startswith("http://127.0.0.1:"), "model %r" % m)
        urls.add(m["base_url"])
    check(len(urls) == 1, "one fakellm for all pods: %r" % urls)
    port = int(urls.pop().split(":")[2].split("/")[0])
    s = socket.create_connection(("127.0.0.1", port), timeout=5)
    s.close()


if __name__ == "__main__":
    pvtest.run_tests([
        test_sd_notify,
        test_sd_notify_abstract_and_watchdog,
        test_journal,
        test_reattach_after_daemon_kill,
        test_reattach_wrong_pod,
        test_shutdown_leave,
        test_socket_activation,
        test_sighup_reload,
        test_api_key_only_in_start_config,
        test_restart_on_failure,
        test_fake_provider_autostart,
    ])
