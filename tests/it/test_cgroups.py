# SPDX-License-Identifier: ISC
"""Per-pod resource limits through cgroup v2 (docs/isolation.md
"Resource limits"), end to end: the real podvisord, workers and bash in
real kernel cgroups.

podvisord uses the subtree named by PODVISOR_CGROUP_ROOT (a directory the
test makes in a cgroup2 hierarchy) instead of its own cgroup: the same
code as under systemd's Delegate=yes, minus the discovery.  What needs a
controller this machine does not give the v2 hierarchy (memory, pids:
bound to cgroup v1 on a v1/hybrid system) is skipped with the reason.

- refused: limits asked for without a usable subtree (or without the
  controller they need) are refused with the cause and the fix; pods
  without limits run as before; the daemon answers on.
- placement: podvisord moves itself into <root>/podvisord; each pod's
  worker and its bash run in <root>/pod-NAME; ls/status show resources
  (cpu_usec from cpu.stat); a re-adopted worker after a daemon crash is
  still there; when a re-adopted worker dies what it left running is
  killed through cgroup.kill; forget removes the cgroup.
- limits (memory, pids, cpu controllers): the files hold the values,
  restore re-applies them, a child only narrows (not_subset).
- fork bomb under pids.max is contained, the pod answers the next turn;
  a memory hog under memory.max is OOM-killed in its own cgroup while
  the worker and another pod live on, the `oom` event is seen and the
  tool result says so.
"""

import json
import os
import select
import subprocess
import time
import uuid

from pvtest import check, run_tests, text_input


def skip(name, why):
    print("skip %s: %s" % (name, why))


def cgroup2_mount():
    """The cgroup2 hierarchy's mount point (root "/"), or None."""
    with open("/proc/self/mountinfo") as f:
        for line in f:
            pre, _, post = line.partition(" - ")
            if post.split(" ", 1)[0] == "cgroup2" and \
                    pre.split()[3] == "/":
                return pre.split()[4]
    return None


def read(dirpath, name):
    with open(os.path.join(dirpath, name)) as f:
        return f.read()


def cgroup_of(pid):
    with open("/proc/%d/cgroup" % pid) as f:
        for line in f:
            if line.startswith("0::"):
                return line[3:].strip()
    return None


def alive(pid):
    """Running (a zombie waiting for its reaper is dead)."""
    try:
        with open("/proc/%d/stat" % pid) as f:
            return f.read().rsplit(")", 1)[1].split()[0] != "Z"
    except FileNotFoundError:
        return False


class TestCgroup:
    """A fresh directory in the cgroup2 hierarchy for one daemon."""

    def __init__(self):
        self.path = None
        self.why = None
        mnt = cgroup2_mount()
        if mnt is None:
            self.why = "no cgroup2 hierarchy mounted"
            return
        path = os.path.join(mnt, "pvtest-" + uuid.uuid4().hex[:10])
        try:
            os.mkdir(path)
        except OSError as e:
            self.why = "cannot create a cgroup in %s: %s" % (mnt, e)
            return
        self.mnt = mnt
        self.path = path
        self.controllers = set(read(path, "cgroup.controllers").split())

    def env(self):
        return {"PODVISOR_CGROUP_ROOT": self.path}

    def rel(self, *parts):
        """The /proc/PID/cgroup spelling of path/parts."""
        return "/" + os.path.relpath(os.path.join(self.path, *parts),
                                     self.mnt)

    def need(self, *ctl):
        miss = [c for c in ctl if c not in self.controllers]
        if miss:
            return ("the %s controller is not available to cgroup v2 here "
                    "(%s lists %r; on a v1/hybrid system it is bound to "
                    "v1)" % (", ".join(miss),
                             os.path.dirname(self.path) +
                             "/cgroup.subtree_control",
                             sorted(self.controllers)))
        return None

    def wait_empty(self, sub, timeout=10):
        """Wait until sub is empty: cgroup.events polls (POLLPRI) on
        every change; bounded by timeout."""
        path = os.path.join(self.path, sub, "cgroup.events")
        deadline = time.monotonic() + timeout
        with open(path) as f:
            p = select.poll()
            p.register(f, select.POLLPRI | select.POLLERR)
            while True:
                f.seek(0)
                if "populated 0" in f.read():
                    return True
                left = deadline - time.monotonic()
                if left <= 0:
                    return False
                p.poll(left * 1000)

    def remove(self):
        if self.path is None:
            return
        try:
            with open(os.path.join(self.path, "cgroup.kill"), "w") as f:
                f.write("1")
        except OSError:
            pass
        self.wait_empty(".")
        for d in sorted(os.listdir(self.path), reverse=True):
            sub = os.path.join(self.path, d)
            if os.path.isdir(sub):
                try:
                    os.rmdir(sub)
                except OSError:
                    pass
        try:
            os.rmdir(self.path)
        except OSError as e:
            print("  cannot remove %s: %s" % (self.path, e))


def start(env, cg=None, config_extra=""):
    env.start_fakellm()
    env.use_fakellm()
    if config_extra:
        with open(env.config) as f:
            text = f.read()
        env.write_config(text.replace("[defaults]\n",
                                      "[defaults]\n" + config_extra, 1))
    env.start_daemon(cg.env() if cg is not None else None)
    return env.control()


def spawn(c, env, name, **extra):
    params = {"name": name, "cwd": env.mkdir(name)}
    params.update(extra)
    return c.request("spawn", params)["data"]


def turn(pc, command, timeout=60):
    """One turn running bash `command`: (tool_result data, messages)."""
    pc.request("run", text_input("@bash %s" % command))
    msgs = pc.collect_until("run_end", timeout)
    pc.wait_event("status")
    end = msgs[-1]["data"]
    check(end["result"] == "finished", "turn %r: %r" % (command, end))
    res = [m["data"] for m in msgs if m.get("event") == "tool_result"]
    check(len(res) == 1, "one tool result expected: %r" % res)
    return res[0], msgs


def output(res):
    return res.get("output") or res["summary"]


def test_refused_without_delegation(env):
    """No usable subtree: limits are refused with the cause and the fix;
    pods without limits work; the daemon answers on; doctor explains."""
    notcg = env.mkdir("not-a-cgroup")
    env.start_fakellm()
    env.use_fakellm()
    env.start_daemon({"PODVISOR_CGROUP_ROOT": notcg})
    c = env.control()
    hello = c.prelude["data"]
    check(hello["cgroups"]["available"] is False and
          "not a directory on a cgroup2" in hello["cgroups"]["error"],
          "hello cgroups: %r" % hello.get("cgroups"))
    for limits in ({"memory": 64 << 20}, {"pids": 50}, {"cpu_weight": 50}):
        e = c.expect_error("spawn", {"name": "x", "cwd": env.mkdir("x"),
                                     "limits": limits}, "invalid_request")
        msg = json.dumps(e)
        check("cgroup v2 delegation not available" in msg and
              "Delegate=yes" in msg and notcg in msg,
              "the refusal names neither cause nor fix: %r" % e)
    # A bad value is named before anything else.
    e = c.expect_error("spawn", {"name": "x", "cwd": env.mkdir("x"),
                                 "limits": {"pids": -3}}, "invalid_request")
    check("limits.pids" in json.dumps(e), "bad value not named: %r" % e)
    e = c.expect_error("spawn", {"name": "x", "cwd": env.mkdir("x"),
                                 "limits": {"swap": 1}}, "invalid_request")
    check("limits.swap" in json.dumps(e), "unknown limit not named: %r" % e)
    r = env.cli("spawn", "y", "--cwd", env.mkdir("y"), "--memory", "64M")
    check(r.returncode != 0 and "Delegate=yes" in r.stderr,
          "spawn --memory without delegation: rc %d %r" %
          (r.returncode, r.stderr))
    r = env.cli("spawn", "y", "--cwd", env.mkdir("y"), "--memory", "lots")
    check(r.returncode != 0 and "--memory" in r.stderr,
          "spawn --memory lots: %r" % r.stderr)
    # Without limits: as before, no resources, no cgroup.
    spawn(c, env, "a")
    pa = env.pod_client("a")
    res, _ = turn(pa, "echo hello")
    check(not res["is_error"] and "hello" in output(res), "bash: %r" % res)
    d = c.request("inspect", {"name": "a"})["data"]
    check("resources" not in d and "cgroup" not in d, "inspect: %r" % d)
    check(c.request("ping")["event"] == "pong", "the daemon stopped")
    r = env.cli("doctor")
    check("cgroup v2 delegation not available" in r.stdout,
          "doctor says nothing of cgroups: %s" % r.stdout)


def test_refused_default_config(env):
    """[defaults] memory without delegation: every spawn is refused (the
    config asks for a limit), and the daemon starts and answers."""
    c = start(env, None, "memory = 256M\npids = 100\n")
    if c.prelude["data"]["cgroups"]["available"]:
        skip("test_refused_default_config",
             "this podvisord has a delegated cgroup subtree")
        return
    e = c.expect_error("spawn", {"name": "a", "cwd": env.mkdir("a")},
                       "invalid_request")
    check("Delegate=yes" in json.dumps(e), "refusal: %r" % e)
    r = env.cli("doctor")
    check("cgroup" in r.stdout, "doctor: %s" % r.stdout)


def test_placement(env):
    cg = TestCgroup()
    if cg.path is None:
        skip("test_placement", cg.why)
        return
    try:
        c = start(env, cg)
        hello = c.prelude["data"]["cgroups"]
        check(hello["available"] is True and hello["root"] == cg.path,
              "hello cgroups: %r" % hello)
        check(cgroup_of(env.daemon.pid) == cg.rel("podvisord"),
              "podvisord is in %r" % cgroup_of(env.daemon.pid))
        a = spawn(c, env, "a")
        spawn(c, env, "b")
        check(cgroup_of(a["pid"]) == cg.rel("pod-a"),
              "a's worker is in %r" % cgroup_of(a["pid"]))
        pa = env.pod_client("a")
        res, _ = turn(pa, "cat /proc/self/cgroup; "
                      "for i in $(seq 20000); do :; done")
        check("0::" + cg.rel("pod-a") in output(res),
              "a's bash is not in pod-a: %r" % res)
        d = c.request("inspect", {"name": "a"})["data"]
        check(d.get("cgroup") == os.path.join(cg.path, "pod-a"),
              "inspect cgroup: %r" % d.get("cgroup"))
        r = d.get("resources")
        check(isinstance(r, dict) and isinstance(r.get("cpu_usec"), int) and
              r["cpu_usec"] > 0 and r.get("limits") == {},
              "inspect resources: %r" % r)
        ls = json.loads(env.cli("ls", "--json").stdout)
        pods = {p["name"]: p for p in ls} if isinstance(ls, list) else \
            {p["name"]: p for p in ls["pods"]}
        check("cpu_usec" in pods["a"].get("resources", {}),
              "ls --json resources: %r" % pods["a"])
        # Controllers this hierarchy lacks: refused by name.
        for ctl, limits in (("memory", {"memory": 64 << 20}),
                            ("pids", {"pids": 64}), ("cpu", {"cpu_weight": 50})):
            if ctl in cg.controllers:
                continue
            e = c.expect_error("spawn", {"name": "x", "cwd": env.mkdir("x"),
                                         "limits": limits},
                               "invalid_request")
            check(("the %s controller is not delegated" % ctl) in
                  json.dumps(e), "refusal for %s: %r" % (ctl, e))

        # A daemon crash: the re-adopted worker is still in its cgroup.
        res, _ = turn(pa, "setsid sleep 600 >/dev/null 2>&1 & echo pid=$!")
        stray = int(output(res).split("pid=")[1].split()[0])
        check(cgroup_of(stray) == cg.rel("pod-a"), "the stray is elsewhere")
        env.kill_daemon()
        # What the unit's ExecStartPre runs before systemd restarts it.
        env_rel = dict(env.env)
        env_rel.update(cg.env())
        r = subprocess.run([os.environ["PODVISORD"], "--release-cgroup"],
                           env=env_rel, capture_output=True, text=True,
                           timeout=30)
        check(r.returncode == 0, "--release-cgroup: %r" % r)
        check(read(cg.path, "cgroup.subtree_control").strip() == "",
              "controllers still on: %r" %
              read(cg.path, "cgroup.subtree_control"))
        env.start_daemon(cg.env())
        c = env.control()
        # A message reaches a's worker only once it has re-attached.
        c.request("send", {"name": "a", "message": "are you there"})
        pa.wait_event("run_end", 30)
        pa.wait_event("status")
        res, _ = turn(pa, "echo again")
        check("again" in output(res), "a after the re-adoption: %r" % res)
        check(cgroup_of(a["pid"]) == cg.rel("pod-a"),
              "a's worker moved: %r" % cgroup_of(a["pid"]))
        check(cgroup_of(env.daemon.pid) == cg.rel("podvisord"),
              "the new podvisord is in %r" % cgroup_of(env.daemon.pid))
        # The re-adopted worker dies: what it left runs on outside its
        # process groups, and cgroup.kill ends it.
        os.kill(a["pid"], 9)
        check(cg.wait_empty("pod-a"), "pod-a kept running processes")
        check(not alive(stray), "the stray sleep survived")
        # b was not touched.
        pb = env.pod_client("b")
        res, _ = turn(pb, "echo b-lives")
        check("b-lives" in output(res), "b: %r" % res)
        c.request("forget", {"name": "a"})
        check(not os.path.exists(os.path.join(cg.path, "pod-a")),
              "forget left the cgroup")
    finally:
        env.cleanup()
        cg.remove()


def test_limits_applied(env):
    cg = TestCgroup()
    if cg.path is None:
        skip("test_limits_applied", cg.why)
        return
    why = cg.need("memory", "pids", "cpu")
    if why:
        cg.remove()
        skip("test_limits_applied", why)
        return
    try:
        c = start(env, cg)
        spawn(c, env, "p", limits={"memory": 256 << 20, "pids": 200,
                                   "cpu_weight": 50})
        pod = os.path.join(cg.path, "pod-p")
        check(read(pod, "memory.max").strip() == str(256 << 20),
              "memory.max: %r" % read(pod, "memory.max"))
        check(read(pod, "pids.max").strip() == "200", "pids.max")
        check(read(pod, "cpu.weight").strip() == "50", "cpu.weight")
        if os.path.exists(os.path.join(pod, "memory.swap.max")):
            check(read(pod, "memory.swap.max").strip() == "0",
                  "memory.swap.max beside a memory limit")
        st = c.request("inspect", {"name": "p"})["data"]["resources"]
        check(st["limits"] == {"memory": 256 << 20, "pids": 200,
                               "cpu_weight": 50}, "limits: %r" % st)
        check(isinstance(st["memory_current"], int) and
              isinstance(st["pids_current"], int) and st["pids_current"] > 0,
              "resources: %r" % st)
        check(env.read_state("p")["limits"]["pids"] == 200, "pod state")
        # restore re-applies what the state says.
        c.request("stop", {"name": "p"})
        with open(os.path.join(pod, "pids.max"), "w") as f:
            f.write("max")
        c.request("restore", {"name": "p"})
        check(read(pod, "pids.max").strip() == "200", "restore: pids.max")
        # A crash, the unit's --release-cgroup, a new podvisord: the
        # re-adopted pod gets its limits written again.
        pp = env.pod_client("p")
        env.kill_daemon()
        env_rel = dict(env.env)
        env_rel.update(cg.env())
        r = subprocess.run([os.environ["PODVISORD"], "--release-cgroup"],
                           env=env_rel, capture_output=True, text=True,
                           timeout=30)
        check(r.returncode == 0 and
              not os.path.exists(os.path.join(pod, "pids.max")),
              "--release-cgroup left pids on: %r" % r)
        env.start_daemon(cg.env())
        c = env.control()
        c.request("send", {"name": "p", "message": "are you there"})
        pp.wait_event("run_end", 30)
        pp.wait_event("status")
        check(read(pod, "pids.max").strip() == "200" and
              read(pod, "memory.max").strip() == str(256 << 20),
              "limits after the re-adoption: %r" % read(pod, "pids.max"))
        # A child only narrows (spawn_pod from p's worker).
        pp = env.pod_client("p")
        base = ('@spawn_pod {"name":"p.%s","task":"hi","scope":[{"target":'
                '"%s","permission":"write","recursive":true}],"cwd":"%s",'
                '"limits":%s}')
        for kid, lim, ok in (("wide", {"pids": 500}, False),
                             ("narrow", {"pids": 50}, True)):
            cwd = env.mkdir("p/" + kid)
            pp.request("run", text_input(base % (kid, cwd, cwd,
                                                  json.dumps(lim))))
            msgs = pp.collect_until("run_end", 30)
            res = [m["data"] for m in msgs if m.get("event") == "tool_result"]
            check(len(res) == 1, "one tool result: %r" % res)
            if ok:
                check(not res[0]["is_error"], "narrower child: %r" % res)
                kd = c.request("inspect", {"name": "p." + kid})["data"]
                check(kd["resources"]["limits"]["pids"] == 50 and
                      kd["resources"]["limits"]["memory"] == 256 << 20,
                      "the child's limits: %r" % kd["resources"])
            else:
                check(res[0]["is_error"] and "not_subset" in output(res[0])
                      and "limits.pids" in output(res[0]),
                      "a wider child: %r" % res)
    finally:
        env.cleanup()
        cg.remove()


def test_fork_bomb(env):
    cg = TestCgroup()
    if cg.path is None:
        skip("test_fork_bomb", cg.why)
        return
    why = cg.need("pids")
    if why:
        cg.remove()
        skip("test_fork_bomb", why)
        return
    try:
        c = start(env, cg)
        spawn(c, env, "bomb", limits={"pids": 64})
        spawn(c, env, "other")
        pb = env.pod_client("bomb")
        res, _ = turn(pb, "timeout 5 bash -c ':(){ :|:& };:'; "
                      "echo bomb-done", 90)
        check(cgroup_of(env.read_state("bomb")["pid"]) == cg.rel("pod-bomb"),
              "the worker left pod-bomb")
        events = read(os.path.join(cg.path, "pod-bomb"), "pids.events")
        check(int(events.split("max ")[1].split()[0]) > 0,
              "pids.max was never hit: %r" % events)
        res, _ = turn(pb, "echo next-turn")
        check("next-turn" in output(res), "the pod after the bomb: %r" % res)
        po = env.pod_client("other")
        res, _ = turn(po, "echo other-lives")
        check("other-lives" in output(res), "the other pod: %r" % res)
    finally:
        env.cleanup()
        cg.remove()


def test_memory_hog(env):
    cg = TestCgroup()
    if cg.path is None:
        skip("test_memory_hog", cg.why)
        return
    why = cg.need("memory")
    if why:
        cg.remove()
        skip("test_memory_hog", why)
        return
    try:
        c = start(env, cg)
        hog = spawn(c, env, "hog", limits={"memory": 64 << 20,
                                           "memory_swap": 0})
        spawn(c, env, "other")
        ph = env.pod_client("hog")
        res, msgs = turn(ph, "python3 -c 'b = bytearray(1 << 30); "
                         "print(len(b))'; echo rc=$?", 90)
        out = output(res)
        check(res["is_error"] and "OOM killer" in out and
              "memory.max 64 MiB" in out, "the tool result: %r" % res)
        ooms = [m["data"] for m in msgs if m.get("event") == "oom"]
        check(ooms and ooms[0]["killed"] >= 1 and
              ooms[0]["cgroup"] == os.path.join(cg.path, "pod-hog"),
              "no oom event: %r" % ooms)
        events = read(os.path.join(cg.path, "pod-hog"), "memory.events")
        check("oom_kill 0" not in events, "memory.events: %r" % events)
        check(os.path.exists("/proc/%d" % hog["pid"]), "the worker died")
        res, _ = turn(ph, "echo next-turn")
        check("next-turn" in output(res), "the pod after the OOM: %r" % res)
        d = c.request("inspect", {"name": "hog"})["data"]
        check(d["resources"]["oom_kills"] >= 1, "oom_kills: %r" % d)
        po = env.pod_client("other")
        res, _ = turn(po, "echo other-lives")
        check("other-lives" in output(res), "the other pod: %r" % res)
    finally:
        env.cleanup()
        cg.remove()


if __name__ == "__main__":
    run_tests([test_refused_without_delegation, test_refused_default_config,
               test_placement, test_limits_applied, test_fork_bomb,
               test_memory_hog])
