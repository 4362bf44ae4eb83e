#!/usr/bin/env python3
# SPDX-License-Identifier: ISC
"""Worker memory with one MCP server attached: a real podvisor-worker
(tests/it/workerctl.py plays podvisord) with server-everything over stdio,
after a turn that called one of its tools; its USS/PSS, and the server's
own (node) separately.  Baseline, same run: the same worker after the
same kind of turn (a bash call) without a server."""

import os
import sys

HERE = os.path.dirname(os.path.abspath(__file__))
SRC = os.path.dirname(os.path.dirname(HERE))
sys.path.insert(0, os.path.join(SRC, "tests", "it"))

import pvtest  # noqa: E402
from pvtest import check, text_input  # noqa: E402
from workerctl import Worker  # noqa: E402

EV = os.path.join(SRC, "tests", "mcp", "node_modules", "@modelcontextprotocol",
                  "server-everything", "dist", "index.js")


def memory(pid):
    f = {}
    with open("/proc/%d/smaps_rollup" % pid) as fh:
        for line in fh:
            parts = line.split()
            if len(parts) >= 2 and parts[0].endswith(":"):
                try:
                    f[parts[0][:-1]] = int(parts[1])
                except ValueError:
                    pass
    return (f.get("Private_Clean", 0) + f.get("Private_Dirty", 0)) / 1024, \
        f.get("Pss", 0) / 1024


def tree(pid):
    """pid's descendants."""
    kids = []
    for t in os.listdir("/proc/%d/task" % pid):
        try:
            with open("/proc/%d/task/%s/children" % (pid, t)) as f:
                kids += [int(x) for x in f.read().split()]
        except OSError:
            pass
    out = list(kids)
    for k in kids:
        out += tree(k)
    return out


def turn(w, task):
    p = w.client()
    r = p.request("run", text_input(task))
    check(r["event"] == "accepted", "run: %r" % r)
    end = p.wait_event("run_end", 60)
    check(end["data"]["result"] != "error", "turn: %r" % end)
    p.close()


def main():
    if not os.path.isfile(EV):
        print("mcp_worker_uss               unavailable (npm ci --prefix "
              "tests/mcp)")
        return
    import shutil
    node = shutil.which("node")
    env = pvtest.Env("bench-mcp")
    try:
        url = env.start_fakellm()
        base = Worker(env, "plain", url)
        turn(base, '@tool bash {"command":"true"}')
        w = Worker(env, "mcp", url, mcp=[{"name": "ev", "command": node,
                                          "args": [EV, "stdio"]}])
        turn(w, '@tool mcp__ev__echo {"message":"hi"}')
        b_uss, b_pss = memory(base.proc.pid)
        uss, pss = memory(w.proc.pid)
        srv = [memory(k) for k in tree(w.proc.pid)]
        s_uss = sum(u for u, _ in srv)
        s_pss = sum(p for _, p in srv)
        print("%-28s %12.3f  %-8s baseline=%.3f ratio=%.3f" %
              ("mcp_worker_uss", uss, "MiB", b_uss, uss / b_uss))
        print("%-28s %12.3f  %-8s baseline=%.3f ratio=%.3f" %
              ("mcp_worker_pss", pss, "MiB", b_pss, pss / b_pss))
        print("%-28s %12.3f  %-8s (its %d processes; PSS %.1f MiB)" %
              ("mcp_server_uss", s_uss, "MiB", len(srv), s_pss))
        base.shutdown()
        w.shutdown()
    finally:
        env.cleanup()


if __name__ == "__main__":
    main()
