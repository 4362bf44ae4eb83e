#!/usr/bin/env python3
# SPDX-License-Identifier: ISC
"""The spare worker (supervisord/spare.c): podvisord keeps one
`podvisor-worker --spare` exec'd and waiting; a spawn (or restore) takes
it and becomes the pod named in `start`.  A spare is no pod: not listed,
replaced when it dies, killed on shutdown."""
import os
import signal
import time

import pvtest
from pvtest import check, data, fail




def cmdline(pid):
    try:
        with open("/proc/%d/cmdline" % pid, "rb") as f:
            return f.read().split(b"\0")
    except OSError:
        return []


def ppid(pid):
    try:
        with open("/proc/%d/stat" % pid) as f:
            return int(f.read().rsplit(")", 1)[1].split()[1])
    except (OSError, ValueError, IndexError):
        return -1


def spare_pid(env, timeout=10):
    """The daemon's spare once the daemon has its ready line (podvisord
    logs "spare worker pid N ready" at debug level: start_daemon() with
    DEBUG)."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        for d in os.listdir("/proc"):
            if not d.isdigit() or ppid(int(d)) != env.daemon.pid:
                continue
            argv = cmdline(int(d))
            if (len(argv) > 1 and argv[1] == b"--spare" and
                    "spare worker pid %s ready" % d in env.daemon_log()):
                return int(d)
    fail("no ready spare worker under podvisord %d" % env.daemon.pid)


DEBUG = {"PODVISOR_LOG": "debug"}


def spawn(env, c, name):
    d = os.path.join(env.work, name)
    os.makedirs(d, exist_ok=True)
    return data(c.request("spawn", {"name": name, "cwd": d}))


def gone(pid, timeout=10):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            with open("/proc/%d/stat" % pid) as f:
                if f.read().rsplit(")", 1)[1].split()[0] == "Z":
                    return True
        except OSError:
            return True
    return False


def test_spawn_takes_the_spare(env):
    env.start_fakellm()
    env.use_fakellm()
    env.start_daemon(DEBUG)
    c = env.control()
    a = spawn(env, c, "a")       # no spare yet: fork+exec; starts one
    s = spare_pid(env)
    check(s != a["pid"], "the spare is a new process")
    b = spawn(env, c, "b")
    check(b["pid"] == s, "spawn took the spare: %r vs %d" % (b, s))
    argv = cmdline(s)
    check(argv[:3] == [b"podvisor-worker", b"--pod", b"b"],
          "ps shows the pod: %r" % argv[:4])
    # b is a working pod: its socket answers, its stderr is its own
    pc = env.pod_client("b")
    r = pc.request("run", pvtest.text_input("hello"))
    check(r["event"] == "accepted", "run on b: %r" % r)
    with open(os.path.join(env.runtime, "pods", "b", "stderr.log")) as f:
        check("pod b up" in f.read(), "b's stderr.log is b's")
    # the next spare is no pod
    s2 = spare_pid(env)
    names = [p["name"] for p in data(c.request("list"))["pods"]]
    check(names == ["a", "b"], "list shows pods only: %r" % names)
    # a dead spare is replaced (after a backoff); spawns work meanwhile
    os.kill(s2, signal.SIGKILL)
    check(gone(s2), "spare killed")
    d = spawn(env, c, "d")
    check(d["pid"] != s2, "spawn after the spare died")
    s3 = spare_pid(env, timeout=15)
    check(s3 not in (s2, d["pid"]), "a new spare")
    # restore takes the spare too
    c.request("stop", {"name": "a"})
    r = data(c.request("restore", {"name": "a"}))
    check(r["pid"] == s3, "restore took the spare: %r vs %d" % (r, s3))
    check(cmdline(s3)[:4] == [b"podvisor-worker", b"--pod", b"a",
                              b"--restore"], "restore title")
    # shutdown kills the spare
    s4 = spare_pid(env)
    c.request("shutdown")
    check(env.daemon.wait(20) == 0, "daemon exit 0")
    check(gone(s4), "shutdown killed the spare")


def test_spare_refused_by_worker(env):
    """A worker binary without --spare (the fake worker): spares die at
    once, spawns fall back to fork+exec and keep working, no loop."""
    env.start_daemon_fakeworker(DEBUG)
    c = env.control()
    pids = [spawn(env, c, "p%d" % i)["pid"] for i in range(3)]
    check(len(set(pids)) == 3, "three pods")
    for pid in pids:
        argv = cmdline(pid)
        check(b"--pod" in argv and b"--spare" not in argv,
              "fork+exec'd: %r" % argv)
    log = env.daemon_log()
    n = log.count("spare worker exited before it was used")
    check(1 <= n <= 2, "spares tried, with a backoff, not a loop: %d" % n)


if __name__ == "__main__":
    pvtest.run_tests([test_spawn_takes_the_spare,
                      test_spare_refused_by_worker])
