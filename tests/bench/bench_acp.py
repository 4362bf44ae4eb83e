# SPDX-License-Identifier: ISC
"""Benchmarks of `podvisor acp`, black-box over its stdin/stdout.

    bench_acp.py

acp_first_chunk_p50   ms from writing session/prompt to `podvisor acp` to
                      reading its first agent_message_chunk, against the same
                      turn run directly on a pod socket (`run` -> first
                      text_delta), rounds interleaved on two pods of the same
                      daemon and fakellm.  Aim: ratio <= 1.2.
acp_rss_10_sessions   MiB (VmRSS) of one `podvisor acp` serving 10 sessions
                      that have each run a turn, against the same process
                      after `initialize` with no session.  Aim: <= 3 MiB.
acp_uss_10_sessions,  the same as USS (Private_Clean + Private_Dirty) and as
acp_dirty_10_sessions Private_Dirty alone.  VmRSS counts the resident pages
                      of shared libraries too; Private_Dirty is what the
                      process alone costs.

The editor side is this script writing JSON-RPC lines (no SDK): the figure
is the bridge's, not a client library's.  Every wait is on a line.
"""

import json
import os
import select
import subprocess
import sys
import time

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, "..", "it"))
import pvtest  # noqa: E402
from bench_daemon import (figure, median, memory, new_env, note,  # noqa: E402
                          quantile)

now = time.monotonic
ROUNDS = 40


class Acp:
    """`podvisor acp` with raw JSON-RPC lines."""

    def __init__(self, env):
        self.p = subprocess.Popen(
            [pvtest.binary("PODVISOR_CLI", "podvisor"), "acp"], env=env.env,
            stdin=subprocess.PIPE, stdout=subprocess.PIPE,
            stderr=open(os.path.join(env.root, "acp.err"), "ab"))
        env.procs.append(self.p)
        self.fd = self.p.stdout.fileno()
        self.buf = b""
        self.next_id = 0

    def send(self, method, params):
        self.next_id += 1
        self.p.stdin.write(json.dumps({"jsonrpc": "2.0", "id": self.next_id,
                                       "method": method,
                                       "params": params}).encode() + b"\n")
        self.p.stdin.flush()
        return self.next_id

    def read(self, timeout=30):
        deadline = now() + timeout
        while b"\n" not in self.buf:
            r, _, _ = select.select([self.fd], [], [], max(0, deadline - now()))
            pvtest.check(r, "podvisor acp: no line in %ds" % timeout)
            data = os.read(self.fd, 1 << 16)
            pvtest.check(data, "podvisor acp exited")
            self.buf += data
        line, self.buf = self.buf.split(b"\n", 1)
        return json.loads(line)

    def call(self, method, params):
        rid = self.send(method, params)
        while True:
            m = self.read()
            if m.get("id") == rid and "method" not in m:
                pvtest.check("result" in m, "%s: %r" % (method, m))
                return m["result"]

    def rss_kib(self):
        with open("/proc/%d/status" % self.p.pid) as f:
            for line in f:
                if line.startswith("VmRSS:"):
                    return int(line.split()[1])
        return 0

    def private_dirty_kib(self):
        """Private_Dirty of smaps_rollup: heap, stacks, relocated data —
        what this process alone costs (its clean library pages are shared
        with any other process mapping them)."""
        with open("/proc/%d/smaps_rollup" % self.p.pid) as f:
            for line in f:
                if line.startswith("Private_Dirty:"):
                    return int(line.split()[1])
        return 0

    def close(self):
        self.p.stdin.close()
        self.p.wait(30)


def prompt(acp, sid, text):
    """ms to the first agent_message_chunk; the turn is read to its end."""
    t0 = now()
    rid = acp.send("session/prompt", {"sessionId": sid, "prompt": [
        {"type": "text", "text": text}]})
    first = None
    while True:
        m = acp.read()
        if (first is None and m.get("method") == "session/update" and
                m["params"]["update"]["sessionUpdate"] ==
                "agent_message_chunk"):
            first = (now() - t0) * 1000
        if m.get("id") == rid and "method" not in m:
            pvtest.check(m.get("result", {}).get("stopReason") == "end_turn",
                         "prompt: %r" % m)
            pvtest.check(first is not None, "no agent_message_chunk")
            return first


def direct(pc, text):
    """ms from `run` to the first text_delta on the pod socket."""
    t0 = now()
    pc.send({"method": "run", "params": pvtest.text_input(text), "id": 1})
    first = None
    while True:
        m = pc.read()
        if first is None and m.get("event") == "text_delta":
            first = (now() - t0) * 1000
        if m.get("event") == "run_end":
            pvtest.check(data_result(m) == "finished", "run: %r" % m)
            pvtest.check(first is not None, "no text_delta")
            return first


def data_result(m):
    return m.get("data", {}).get("result")


def bench_acp():
    env = new_env("acp")
    try:
        env.start_daemon()
        cwd = env.mkdir("proj")
        acp = Acp(env)
        acp.call("initialize", {"protocolVersion": 1})
        rss0 = acp.rss_kib()
        uss0 = memory(acp.p.pid)[0]
        dirty0 = acp.private_dirty_kib()
        sid = acp.call("session/new", {"cwd": cwd,
                                       "mcpServers": []})["sessionId"]
        c = env.control()
        c.request("spawn", {"name": "direct", "cwd": env.mkdir("direct")})
        pc = env.pod_client("direct")
        via, raw = [], []
        for i in range(ROUNDS):
            text = "round %d of the latency bench" % i
            via.append(prompt(acp, sid, text))
            raw.append(direct(pc, text))
        figure("acp_first_chunk_p50", median(via), "ms", median(raw))
        figure("acp_first_chunk_p90", quantile(via, 0.9), "ms",
               quantile(raw, 0.9))
        for i in range(9):
            s = acp.call("session/new", {"cwd": env.mkdir("p%d" % i),
                                         "mcpServers": []})["sessionId"]
            prompt(acp, s, "hello %d" % i)
        rss10 = acp.rss_kib()
        uss10 = memory(acp.p.pid)[0]
        dirty10 = acp.private_dirty_kib()
        figure("acp_rss_10_sessions", rss10 / 1024.0, "MiB", rss0 / 1024.0)
        figure("acp_uss_10_sessions", uss10 / 1024.0, "MiB", uss0 / 1024.0)
        figure("acp_dirty_10_sessions", dirty10 / 1024.0, "MiB",
               dirty0 / 1024.0)
        acp.close()
    finally:
        env.cleanup()


def main():
    try:
        bench_acp()
    except Exception as e:  # noqa: BLE001 - report
        note("acp FAILED: %s: %s" % (type(e).__name__, e))
        sys.exit(1)


if __name__ == "__main__":
    main()
