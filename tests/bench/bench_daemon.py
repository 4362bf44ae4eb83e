# SPDX-License-Identifier: ISC
"""Benchmarks of podvisord and podvisor-worker, black-box over sockets.

    bench_daemon.py [spawn] [fanout] [restore] [recovery] [approval]
                    [cgroup]                               (default: all)

spawn     4. spawn -> spawned latency (p50/p99 over 200 spawns) against a
             fork+exec+wait of a trivial (static) program from this driver;
          5. idle memory (USS, PSS) of a worker and of podvisord with 0, 100
             and 1,000 live pods, against an idle process loading the same
             shared libraries;
          6. list and spawn p99 with 1,000 live idle pods, against the same
             request with 0 pods / the first 200 spawns.
fanout    7. text_delta events/s delivered to 1, 16, 64 attached clients
             (C reader) against a bare socket fan-out of the same lines, and
             with one stalled client against the same run without it.
restore   8. control restore -> restored for a 100,000-entry session log,
             against the same restore with a fresh (1-entry) log.
approval 10. a pending approval while idle (worker USS, wakeups) and the
             approve -> tool start latency (see bench_approval).
cgroup   11. spawn -> spawned p50/p99 with each worker placed in a cgroup
             of its own (PODVISOR_CGROUP_ROOT: a fresh directory in the
             cgroup2 hierarchy; root only) against a daemon without,
             interleaved (docs/isolation.md "Resource limits").
recovery  9. kill -9 of podvisord with 100 live pods -> every pod re-adopted
             (list shows them live with unchanged pids, and each worker's
             supervisor link answers list_pods again), against the same
             kill/restart with 0 pods.

Every figure is one line `name value unit baseline=B ratio=R`, medians of
repeated runs, baselines measured in the same run.  Nothing sleeps to wait:
every wait is on a reply, an event, a line or a process exit.
"""

import json
import os
import resource
import select
import shutil
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import time

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, "..", "it"))
import pvtest  # noqa: E402

now = time.monotonic


def env_bin(var):
    path = os.environ.get(var)
    if not path or not os.path.exists(path):
        sys.exit("bench_daemon: %s is not set to a built program" % var)
    return path


def figure(name, value, unit, baseline):
    ratio = value / baseline if baseline else 0.0
    print("%-28s %12.3f  %-8s baseline=%.3f ratio=%.3f" %
          (name, value, unit, baseline, ratio))
    sys.stdout.flush()


def note(text):
    print("# " + text)
    sys.stdout.flush()


def quantile(v, q):
    v = sorted(v)
    if not v:
        return 0.0
    return v[min(len(v) - 1, int(q * len(v)))]


def median(v):
    return statistics.median(v) if v else 0.0


def memory(pid):
    """(USS, PSS) in KiB from /proc/PID/smaps_rollup."""
    f = {}
    with open("/proc/%d/smaps_rollup" % pid) as fh:
        for line in fh:
            parts = line.split()
            if len(parts) >= 2 and parts[0].endswith(":"):
                try:
                    f[parts[0][:-1]] = int(parts[1])
                except ValueError:
                    pass
    return f.get("Private_Clean", 0) + f.get("Private_Dirty", 0), f.get("Pss", 0)


def raise_nofile(n=65536):
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    want = n if hard == resource.RLIM_INFINITY else min(n, hard)
    if soft < want:
        resource.setrlimit(resource.RLIMIT_NOFILE, (want, hard))


def start_fakellm(env, scenario=None):
    """pvtest's start_fakellm with fakellm's per-request log lines sent
    to a file instead of the table."""
    argv = [pvtest.binary("FAKELLM", "fakellm"), "--port", "0"]
    if scenario is not None:
        path = os.path.join(env.root, "scenario.json")
        with open(path, "w") as f:
            json.dump(scenario, f)
        argv += ["--scenario", path]
    with open(os.path.join(env.root, "fakellm.log"), "ab") as errf:
        p = subprocess.Popen(argv, stdout=subprocess.PIPE, stderr=errf,
                             env=env.env)
    env.procs.append(p)
    line = pvtest._read_proc_line(p, pvtest.DEFAULT_TIMEOUT)
    pvtest.check(line.startswith("listening "), "fakellm said %r" % line)
    env.fakellm_url = line.split(" ", 1)[1].strip()


def new_env(name, max_pods=1200, scenario=None, provider_extra=""):
    env = pvtest.Env("bench-" + name)
    # The runtime dir (sockets, stderr.log) lives on tmpfs, as
    # /run/user/UID does under systemd; state and session logs stay on
    # the disk ($TMPDIR) and keep paying for their fsyncs.
    env.runtime_on_tmpfs()
    start_fakellm(env, scenario)
    env.use_fakellm(extra=provider_extra +
                    "\n[daemon]\nmax_pods = %d\n" % max_pods)
    return env


def data(msg):
    return msg.get("data", {})


def timed_call(c, method, params=None, timeout=30):
    t0 = now()
    msg = c.call(method, params, timeout)
    dt = now() - t0
    if msg.get("event") == "error":
        pvtest.fail("%s failed: %s" % (method, json.dumps(data(msg))))
    return dt, msg


def spawn_params(env, name):
    cwd = os.path.join(env.work, name)
    os.makedirs(cwd, exist_ok=True)
    return {"name": name, "cwd": cwd}


def idle_baseline():
    """USS/PSS of an idle process with the worker's shared libraries."""
    p = subprocess.Popen([env_bin("BENCH_IDLE")], stdout=subprocess.PIPE)
    try:
        line = p.stdout.readline()
        if line.strip() != b"ready":
            pvtest.fail("bench_idle said %r" % line)
        return memory(p.pid)
    finally:
        p.kill()
        p.wait()


def fork_exec_wait(path, n, args=()):
    out = []
    for _ in range(n):
        t0 = now()
        pid = os.fork()
        if pid == 0:
            try:
                os.execv(path, [path] + list(args))
            finally:
                os._exit(127)
        _, status = os.waitpid(pid, 0)
        out.append(now() - t0)
        if status != 0:
            pvtest.fail("bench_true exited with status %d" % status)
    return out


class RawClient:
    """Times a request to its complete reply line without decoding it
    (the driver's JSON parsing of a large reply is not the daemon's)."""

    def __init__(self, path):
        self.sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        self.sock.settimeout(30)
        self.sock.connect(path)
        self.buf = b""
        self.line()  # hello

    def line(self):
        while b"\n" not in self.buf:
            chunk = self.sock.recv(1 << 20)
            if not chunk:
                pvtest.fail("control socket closed")
            self.buf += chunk
        line, self.buf = self.buf.split(b"\n", 1)
        return line

    def call(self, method):
        req = json.dumps({"method": method, "id": 1}).encode() + b"\n"
        t0 = now()
        self.sock.sendall(req)
        parts = []
        while True:
            chunk = self.sock.recv(1 << 20)
            if not chunk:
                pvtest.fail("control socket closed")
            nl = chunk.find(b"\n")
            if nl >= 0:
                parts.append(chunk[:nl])
                self.buf = chunk[nl + 1:]
                break
            parts.append(chunk)
        dt = now() - t0
        return dt, b"".join(parts)

    def close(self):
        self.sock.close()


def fsync_once(path):
    """Seconds for one bare append + fsync of a state-sized line."""
    with open(path, "ab") as f:
        t0 = now()
        f.write(b"x" * 699 + b"\n")
        f.flush()
        os.fsync(f.fileno())
        return now() - t0


def echo_rtt(n):
    """The driver's own cost of one JSON-lines request/reply: a forked
    echo peer on a socketpair, the same Client code path."""
    a, b = socket.socketpair(socket.AF_UNIX, socket.SOCK_STREAM)
    pid = os.fork()
    if pid == 0:
        a.close()
        seq = 0
        f = b.makefile("rb")
        for line in f:
            seq += 1
            req = json.loads(line)
            rep = {"event": "pong", "data": {}, "id": req.get("id"),
                   "seq": seq}
            b.sendall(json.dumps(rep).encode() + b"\n")
        os._exit(0)
    b.close()
    c = pvtest.Client.__new__(pvtest.Client)
    c.path = "socketpair"
    c.sock = a
    a.setblocking(False)
    c.reader = pvtest.LineReader(a)
    c.next_id = 1
    c.backlog = []
    c.last_seq = 0
    out = [timed_call(c, "ping")[0] for _ in range(n)]
    a.close()
    os.waitpid(pid, 0)
    return out


# --- 4, 5, 6 -----------------------------------------------------------

def bench_spawn():
    raise_nofile()
    true_path = env_bin("BENCH_TRUE")
    static = os.environ.get("BENCH_TRUE_STATIC") == "1"
    base_spawn = fork_exec_wait(true_path, 200)
    exec_libs = fork_exec_wait(env_bin("BENCH_IDLE"), 200, ["exit"])
    base_rtt = echo_rtt(200)
    idle_uss, idle_pss = idle_baseline()
    note("baseline program: %s (%s)" %
         (os.path.basename(true_path), "static" if static else "dynamic"))

    env = new_env("spawn", max_pods=1200)
    try:
        env.start_daemon()
        dpid = env.daemon.pid
        c = env.control(timeout=30)
        ping = [timed_call(c, "ping")[0] for _ in range(200)]
        figure("control_ping_p50", median(ping) * 1e6, "us",
               median(base_rtt) * 1e6)
        raw = RawClient(env.control_sock)
        list0 = [raw.call("list")[0] for _ in range(200)]
        d_uss0, d_pss0 = memory(dpid)

        lat, pids, fsyncs = [], [], []
        d100 = None
        probe = os.path.join(env.state, "bench-fsync-probe")
        for i in range(1000):
            dt, msg = timed_call(c, "spawn", spawn_params(env, "p%04d" % i))
            lat.append(dt)
            if i < 200:
                fsyncs.append(fsync_once(probe))
            pids.append(data(msg)["pid"])
            if i == 99:
                d100 = memory(dpid)
                wm = [memory(pid) for pid in pids]
        first = lat[:200]
        figure("spawn_ready_p50", median(first) * 1e3, "ms",
               median(base_spawn) * 1e3)
        figure("spawn_ready_p99", quantile(first, 0.99) * 1e3, "ms",
               quantile(base_spawn, 0.99) * 1e3)
        figure("exec_worker_libs_p50", median(exec_libs) * 1e3, "ms",
               median(base_spawn) * 1e3)
        figure("spawn_ready_p50_in_fsyncs", median(first) * 1e3, "ms",
               median(fsyncs) * 1e3)
        os.unlink(probe)

        figure("worker_idle_uss", median([m[0] for m in wm]) / 1024, "MiB",
               idle_uss / 1024)
        figure("worker_idle_pss", median([m[1] for m in wm]) / 1024, "MiB",
               idle_pss / 1024)
        figure("daemon_uss_0", d_uss0 / 1024, "MiB", idle_uss / 1024)
        figure("daemon_pss_0", d_pss0 / 1024, "MiB", idle_pss / 1024)
        figure("daemon_uss_100", d100[0] / 1024, "MiB", d_uss0 / 1024)
        figure("daemon_pss_100", d100[1] / 1024, "MiB", d_pss0 / 1024)
        d1000 = memory(dpid)
        figure("daemon_uss_1000", d1000[0] / 1024, "MiB", d_uss0 / 1024)
        figure("daemon_pss_1000", d1000[1] / 1024, "MiB", d_pss0 / 1024)

        # 6: scale with 1,000 live idle pods.
        r = data(c.request("list", timeout=30))
        live = sum(1 for p in r["pods"] if p["status"] == "live")
        if live != 1000:
            pvtest.fail("%d pods live, not 1000" % live)
        list1000 = []
        for _ in range(100):
            dt, reply = raw.call("list")
            list1000.append(dt)
        note("list reply with 1,000 pods: %d bytes" % len(reply))
        figure("list_1000_p50", median(list1000) * 1e3, "ms",
               median(list0) * 1e3)
        figure("list_1000_p99", quantile(list1000, 0.99) * 1e3, "ms",
               quantile(list0, 0.99) * 1e3)
        more = [timed_call(c, "spawn",
                           spawn_params(env, "q%04d" % i))[0]
                for i in range(100)]
        figure("spawn_at_1000_p50", median(more) * 1e3, "ms",
               median(first) * 1e3)
        figure("spawn_at_1000_p99", quantile(more, 0.99) * 1e3, "ms",
               quantile(first, 0.99) * 1e3)
        ping1000 = [timed_call(c, "ping")[0] for _ in range(200)]
        figure("control_ping_1000_p50", median(ping1000) * 1e6, "us",
               median(ping) * 1e6)
        # The first 20 pods after one turn each (after the scale figures:
        # their state writes must not fall into those): libcurl is loaded by a pod's
        # first provider call (worker/curlfn.h), so this is a pod that has
        # worked and waits again.
        for i in range(20):
            pc = pvtest.Client(env.pod_sock("p%04d" % i), 30,
                               expect_prelude="snapshot")
            pc.request("run", pvtest.text_input("hello"), 30)
            pc.wait_event("run_end", 30)
            pc.close()
        wt = [memory(pid) for pid in pids[:20]]
        figure("worker_uss_after_turn", median([m[0] for m in wt]) / 1024,
               "MiB", idle_uss / 1024)
        figure("worker_pss_after_turn", median([m[1] for m in wt]) / 1024,
               "MiB", idle_pss / 1024)
        t0 = now()
        c.call("shutdown", {"pods": "stop"}, 120)
        env.daemon.wait(120)
        figure("shutdown_1100_pods", (now() - t0) * 1e3, "ms",
               median(lat) * 1e3)
    finally:
        env.cleanup()


# --- 7 -----------------------------------------------------------------

FANOUT_DELTAS = 50000


def run_reader(env, pod, k, stalled):
    """Start the C reader on pod with k readers; returns the process
    once all its clients have read their snapshots."""
    p = subprocess.Popen([env_bin("BENCH_FANOUT_READER"), env.pod_sock(pod),
                          str(k), str(stalled)], stdout=subprocess.PIPE)
    line = p.stdout.readline()
    if line.strip() != b"ready":
        p.kill()
        pvtest.fail("fanout reader said %r" % line)
    return p


def reader_result(p):
    out, _ = p.communicate(timeout=300)
    if p.returncode != 0:
        pvtest.fail("fanout reader failed (rc %d)" % p.returncode)
    f = dict(x.split("=") for x in out.decode().split())
    return int(f["events"]), float(f["first"]), float(f["last"])


def fanout_once(env, c, pod, k, stalled):
    p = run_reader(env, pod, k, stalled)
    c.request("send", {"name": pod, "message": "go"}, timeout=30)
    events, first, last = reader_result(p)
    if events != k * FANOUT_DELTAS:
        note("fanout k=%d: %d text_delta delivered, expected %d" %
             (k, events, k * FANOUT_DELTAS))
    return events / (last - first)


def selftest_rate(k):
    out = subprocess.run([env_bin("BENCH_FANOUT_READER"), "--selftest",
                          str(k), str(FANOUT_DELTAS)], capture_output=True,
                         check=True, timeout=300).stdout.decode()
    f = dict(x.split("=") for x in out.split())
    return int(f["events"]) / (float(f["last"]) - float(f["first"]))


def bench_fanout():
    text = "".join("w%03d " % (i % 1000) for i in range(FANOUT_DELTAS))
    scenario = {"rules": [{"match": {"any": True},
                           "reply": {"text": text, "chunks": FANOUT_DELTAS}}]}
    # A context window large enough that the 250 KB replies never start
    # an automatic compaction, and a fresh pod for each group of runs so
    # the snapshots the readers take stay small.
    env = new_env("fanout", scenario=scenario,
                  provider_extra="context_window = 100000000\n")
    try:
        env.start_daemon()
        c = env.control(timeout=30)

        def group(pod, k, stalled):
            c.request("spawn", spawn_params(env, pod))
            out = [fanout_once(env, c, pod, k, stalled) for _ in range(3)]
            c.request("stop", {"name": pod}, timeout=30)
            return median(out)

        group("warm", 1, 0)
        rates = {}
        for k in (1, 16, 64):
            base = median([selftest_rate(k) for _ in range(3)])
            rates[k] = group("k%d" % k, k, 0)
            figure("fanout_%d_clients" % k, rates[k] / 1e3, "kev/s",
                   base / 1e3)
        stalled = group("k64s", 64, 1)
        figure("fanout_64_plus_stalled", stalled / 1e3, "kev/s",
               rates[64] / 1e3)
    finally:
        env.cleanup()


# --- 8 -----------------------------------------------------------------

RESTORE_ENTRIES = 100000


def session_lines(n, t0ms):
    """n realistic log entries (PROTOCOL.md §4): turns of user_input,
    assistant with a tool call, tool_result, assistant text, usage,
    turn_end, run_end."""
    out = []
    turn = 0
    ms = t0ms
    text = ("I looked at conn.c: the read callback drains every complete "
            "line, then checks the remaining buffer length against the line "
            "limit, so a line without a newline can no longer stall it.")
    while len(out) < n:
        turn += 1
        ms += 7
        cid = "call_%08d" % turn
        out += [
            {"kind": "user_input", "ms": ms, "segments": [
                {"kind": "text", "content": "step %d: fix the next bug" % turn}]},
            {"kind": "assistant", "ms": ms + 1, "text": "Reading the file.",
             "tool_calls": [{"id": cid, "name": "read", "arguments":
                             json.dumps({"path": "/w/src/conn%d.c" % turn})}]},
            {"kind": "tool_result", "ms": ms + 2, "id": cid,
             "summary": "read 120 lines", "output": "int\nconn_read(void)\n{"
             "\n\treturn 0;\n}\n" * 4, "is_error": False},
            {"kind": "assistant", "ms": ms + 3, "text": text},
            {"kind": "usage", "ms": ms + 4, "input_tokens": 1200 + turn,
             "output_tokens": 80},
            {"kind": "turn_end", "ms": ms + 5, "turn": turn},
            {"kind": "run_end", "ms": ms + 6, "result": "finished"},
        ]
    return [json.dumps(e, separators=(",", ":")) for e in out[:n]]


def restore_once(c, name):
    dt, msg = timed_call(c, "restore", {"name": name}, timeout=60)
    if msg.get("event") != "restored":
        pvtest.fail("restore gave %r" % msg)
    c.request("stop", {"name": name}, timeout=60)
    return dt


def bench_restore():
    env = new_env("restore")
    try:
        env.start_daemon()
        c = env.control(timeout=60)
        c.request("spawn", spawn_params(env, "r"))
        c.request("stop", {"name": "r"}, timeout=60)
        base = median([restore_once(c, "r") for _ in range(5)])
        st = env.read_state("r")
        seg = os.path.join(env.state, "sessions", "r",
                           st["session"]["segment"] + ".jsonl")
        with open(seg) as f:
            have = sum(1 for line in f if line.strip())
        lines = session_lines(RESTORE_ENTRIES - have,
                              int(time.time() * 1000))
        with open(seg, "a") as f:
            f.write("\n".join(lines) + "\n")
            f.flush()
            os.fsync(f.fileno())
        note("session log: %d entries, %.1f MiB" %
             (RESTORE_ENTRIES, os.path.getsize(seg) / 2**20))
        big = [restore_once(c, "r") for _ in range(5)]
        figure("restore_100k_entries", median(big) * 1e3, "ms", base * 1e3)
        # The replay really happened: the snapshot holds every entry.
        c.request("restore", {"name": "r"}, timeout=60)
        p = env.pod_client("r", timeout=120)
        n = len(p.prelude["data"]["entries"])
        if n < RESTORE_ENTRIES:
            pvtest.fail("snapshot after restore has %d entries" % n)
        p.close()
    finally:
        env.cleanup()


# --- 9 -----------------------------------------------------------------

RECOVERY_PODS = 100
RECOVERY_REPS = 3


def readopted(clients, deadline):
    """Wait until every pod's worker answers list_pods through the daemon
    (its supervisor link is re-attached): each request waits for its
    reply; a pod whose worker is still reconnecting answers with an error
    and is asked again."""
    pending = list(clients)
    while pending:
        if now() > deadline:
            pvtest.fail("%d pods not re-adopted in time" % len(pending))
        ids = {}
        for p in pending:
            rid = p.next_id
            p.next_id += 1
            p.send({"method": "list_pods", "id": rid})
            ids[p] = rid
        still = []
        for p in pending:
            msg = p.wait(lambda m, r=ids[p]: m.get("id") == r,
                         deadline - now() + 0.001, "list_pods reply")
            if msg.get("event") != "pods_listed":
                still.append(p)
        pending = still


def kill_restart(env, c, want):
    """kill -9 the daemon, restart it, wait for READY and for every pod in
    want (name -> pid) to be live with the same pid; returns (seconds to
    ready, to list showing all live, the new control client)."""
    t0 = now()
    env.kill_daemon()
    env.start_daemon()
    t_ready = now() - t0
    c.close()
    c = env.control(timeout=30)
    deadline = now() + 30
    while True:
        pods = {p["name"]: p for p in data(c.request("list"))["pods"]}
        ok = all(n in pods and pods[n]["status"] == "live" and
                 pods[n].get("pid") == pid for n, pid in want.items())
        if ok:
            break
        changed = [n for n, pid in want.items()
                   if n in pods and pods[n].get("pid") not in (None, pid)]
        if changed:
            pvtest.fail("pods restarted instead of re-adopted: %s" %
                        changed[:5])
        if now() > deadline:
            pvtest.fail("pods not live after restart")
    return t_ready, now() - t0, c


def bench_recovery():
    raise_nofile()
    env = new_env("recovery")
    try:
        env.start_daemon()
        c = env.control(timeout=30)
        base = []
        for _ in range(RECOVERY_REPS):
            _, t, c = kill_restart(env, c, {})
            base.append(t)
        want = {}
        for i in range(RECOVERY_PODS):
            name = "p%03d" % i
            want[name] = data(c.request("spawn", spawn_params(env, name),
                                        timeout=30))["pid"]
        clients = [env.pod_client(n, timeout=30) for n in want]
        readies, lists, adopted = [], [], []
        for _ in range(RECOVERY_REPS):
            t0 = now()
            t_ready, t_list, c = kill_restart(env, c, want)
            readopted(clients, now() + 30)
            adopted.append(now() - t0)
            readies.append(t_ready)
            lists.append(t_list)
        pods = data(c.request("list"))["pods"]
        same = sum(1 for p in pods if want.get(p["name"]) == p.get("pid") and
                   p["status"] == "live")
        figure("recovery_100_ready", median(readies) * 1e3, "ms",
               median(base) * 1e3)
        figure("recovery_100_list_live", median(lists) * 1e3, "ms",
               median(base) * 1e3)
        figure("recovery_100_readopted", median(adopted) * 1e3, "ms",
               median(base) * 1e3)
        figure("recovery_pods_restarted", float(RECOVERY_PODS - same),
               "pods", 0.0)
    finally:
        env.cleanup()


def ctxt_switches(pid):
    """Voluntary + involuntary context switches of pid (its wakeups)."""
    n = 0
    with open("/proc/%d/status" % pid) as f:
        for line in f:
            key, _, val = line.partition(":")
            if key.endswith("ctxt_switches"):
                n += int(val)
    return n


def bench_approval():
    """10. a pending approval request while idle: worker USS and wakeups
    against pods idle after the same turn without one; approve -> accepted
    (the reply leaves once the decision is fsynced and the tool started)
    against an approve of an unknown id (the same round trip, no work)."""
    env = new_env("approval", max_pods=100)
    try:
        env.start_daemon()
        c = env.control(timeout=30)
        groups = {"idle": [], "pending": []}
        for i in range(20):
            kind = "pending" if i % 2 else "idle"
            name = "%s%02d" % (kind, i)
            params = spawn_params(env, name)
            params["approval"] = {"policy": "bash" if i % 2 else "never"}
            pid = data(c.request("spawn", params))["pid"]
            pc = env.pod_client(name, timeout=30)
            pc.request("run", pvtest.text_input("@bash true"))
            pc.wait(lambda m: m.get("event") in ("approval_request",
                                                 "run_end"), 30)
            groups[kind].append((pid, pc))
        for kind in groups:  # let the pending ones settle into waiting
            for pid, pc in groups[kind]:
                pc.call("snapshot", None, 30)
        mem = {k: [memory(pid) for pid, _ in v] for k, v in groups.items()}
        sw0 = {k: [ctxt_switches(pid) for pid, _ in v]
               for k, v in groups.items()}
        t0 = now()

        # Latency on another pod, meanwhile (this is the idle window).
        params = spawn_params(env, "lat")
        params["approval"] = {"policy": "always"}
        c.request("spawn", params)
        f = os.path.join(env.work, "lat", "f.txt")
        with open(f, "w") as fh:
            fh.write("x\n")
        pc = env.pod_client("lat", timeout=30)
        lat, base = [], []
        for i in range(200):
            pc.request("run", pvtest.text_input("@read %s" % f))
            req = pc.wait_event("approval_request", 30)["data"]
            t = now()
            r = pc.call("approve", {"id": "unknown%d" % i,
                                    "decision": "allow_once"}, 30)
            base.append(now() - t)
            pvtest.check(data(r).get("code") == "not_found", r)
            t = now()
            r = pc.call("approve", {"id": req["id"],
                                    "decision": "allow_once"}, 30)
            lat.append(now() - t)
            pvtest.check(r.get("event") == "accepted", r)
            pc.wait_event("run_end", 30)
        window = now() - t0
        sw1 = {k: [ctxt_switches(pid) for pid, _ in v]
               for k, v in groups.items()}
        figure("worker_uss_pending_approval",
               median([m[0] for m in mem["pending"]]) / 1024, "MiB",
               median([m[0] for m in mem["idle"]]) / 1024)
        wake = {k: median([b - a for a, b in zip(sw0[k], sw1[k])])
                for k in groups}
        note("wakeups over %.1f s: pending %s, idle %s (context switches "
             "per worker, median)" % (window, wake["pending"],
                                      wake["idle"]))
        figure("worker_wakeups_pending", wake["pending"], "count",
               wake["idle"])
        figure("approve_to_tool_start_p50", median(lat) * 1e3, "ms",
               median(base) * 1e3)
        figure("approve_to_tool_start_p99", quantile(lat, 0.99) * 1e3, "ms",
               quantile(base, 0.99) * 1e3)
    finally:
        env.cleanup()


def cgroup2_dir():
    """A fresh directory in the cgroup2 hierarchy (root only), or None."""
    with open("/proc/self/mountinfo") as f:
        for line in f:
            pre, _, post = line.partition(" - ")
            if post.split(" ", 1)[0] == "cgroup2" and \
                    pre.split()[3] == "/":
                path = os.path.join(pre.split()[4],
                                    "pvbench-%d" % os.getpid())
                try:
                    os.mkdir(path)
                    return path
                except OSError:
                    return None
    return None


def cgroup2_remove(path):
    with open(os.path.join(path, "cgroup.kill"), "w") as f:
        f.write("1")
    ev = os.path.join(path, "cgroup.events")
    with open(ev) as f:
        poll = select.poll()
        poll.register(f, select.POLLPRI | select.POLLERR)
        deadline = now() + 10
        while "populated 0" not in (f.seek(0) or f.read()):
            if now() > deadline:
                break
            poll.poll(1000)
    for d in os.listdir(path):
        if os.path.isdir(os.path.join(path, d)):
            os.rmdir(os.path.join(path, d))
    os.rmdir(path)


def bench_cgroup():
    """spawn -> spawned with each pod's worker placed in a cgroup of its
    own (mkdir, limits written, pid moved) against the same daemon code
    without cgroups; two daemons, spawns interleaved one by one."""
    cg = cgroup2_dir()
    if cg is None:
        note("cgroup: skipped (no writable cgroup2 hierarchy)")
        return
    raise_nofile()
    # The cgroup work itself, in this process: mkdir + cgroup.procs
    # write of a waiting process (what spawn adds with no controllers;
    # each limit is one more small write).
    sleeper = subprocess.Popen(["sleep", "600"])
    ops = []
    try:
        for i in range(200):
            d = os.path.join(cg, "ops-%d" % i)
            t0 = now()
            os.mkdir(d)
            with open(os.path.join(d, "cgroup.procs"), "w") as f:
                f.write(str(sleeper.pid))
            ops.append(now() - t0)
    finally:
        sleeper.kill()
        sleeper.wait()
        for i in range(len(ops)):
            os.rmdir(os.path.join(cg, "ops-%d" % i))
    figure("cgroup_mkdir_place_p50", median(ops) * 1e3, "ms",
           median(ops) * 1e3)
    envs = [new_env("cg-on", max_pods=400), new_env("cg-off", max_pods=400)]
    # State on tmpfs: the spawn's fsyncs would drown the difference.
    shm = []
    for e in envs:
        if os.path.isdir("/dev/shm"):
            e.state = tempfile.mkdtemp(prefix="pvbench-state-",
                                       dir="/dev/shm")
            e.env["PODVISOR_STATE_DIR"] = e.state
            shm.append(e.state)
    try:
        envs[0].start_daemon({"PODVISOR_CGROUP_ROOT": cg})
        envs[1].start_daemon()
        cs = [e.control(timeout=30) for e in envs]
        hello = cs[0].prelude["data"].get("cgroups", {})
        pvtest.check(hello.get("available") is True,
                     "no cgroups in the daemon: %r" % hello)
        note("cgroup: pods in %s (controllers: %s)" %
             (cg, ", ".join(hello.get("controllers") or []) or "none"))
        lat = [[], []]
        for i in range(200):
            for k in (0, 1) if i % 2 == 0 else (1, 0):
                dt, _ = timed_call(cs[k], "spawn",
                                   spawn_params(envs[k], "p%04d" % i))
                lat[k].append(dt)
        pvtest.check(len(os.listdir(cg)) >= 201, "pods not in cgroups")
        figure("spawn_cgroup_p50", median(lat[0]) * 1e3, "ms",
               median(lat[1]) * 1e3)
        figure("spawn_cgroup_p99", quantile(lat[0], 0.99) * 1e3, "ms",
               quantile(lat[1], 0.99) * 1e3)
        note("cgroup: p50 difference %+.3f ms" %
             ((median(lat[0]) - median(lat[1])) * 1e3))
    finally:
        for e in envs:
            e.cleanup()
        for d in shm:
            shutil.rmtree(d, ignore_errors=True)
        cgroup2_remove(cg)


BENCHES = {"spawn": bench_spawn, "fanout": bench_fanout,
           "restore": bench_restore, "recovery": bench_recovery,
           "approval": bench_approval, "cgroup": bench_cgroup}


def main():
    names = sys.argv[1:] or list(BENCHES)
    for n in names:
        if n not in BENCHES:
            sys.exit("usage: bench_daemon.py [%s]..." % "|".join(BENCHES))
    signal.signal(signal.SIGPIPE, signal.SIG_DFL)
    failed = 0
    for n in names:
        try:
            BENCHES[n]()
        except Exception as e:  # noqa: BLE001 - report and go on
            failed += 1
            print("# %s FAILED: %s: %s" % (n, type(e).__name__, e))
            sys.stdout.flush()
    sys.exit(1 if failed else 0)


if __name__ == "__main__":
    main()
