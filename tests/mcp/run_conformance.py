#!/usr/bin/env python3
# SPDX-License-Identifier: ISC
"""The client scenarios of the official MCP conformance suite
(@modelcontextprotocol/conformance, pinned in package-lock.json) against
tests/mcp/conformance_client (the worker's MCP client code).  Runs the
scenarios listed in PASSING and fails when one of them does not pass;
'run_conformance.py --all' runs every client scenario and prints which
pass (the table in docs/mcp.md).  Skips (77) without node_modules."""

import json
import os
import shutil
import subprocess
import sys
import tempfile

HERE = os.path.dirname(os.path.abspath(__file__))
SUITE = os.path.join(HERE, "node_modules", "@modelcontextprotocol",
                     "conformance", "dist", "index.js")
SHIM = os.path.join(HERE, "node20-fs.mjs")
# auth/resource-mismatch passes because the client does no OAuth at all
# (it never sends a token to the wrong resource).
# sse-retry passes when the client's own GET stream reaches the server
# after its tools/call (the usual order); under load the GET can come
# first and the server hands it the answer, which the scenario does not
# expect: it is left out of the registered run (run it with --all).
PASSING = ["initialize", "tools_call", "auth/resource-mismatch"]


def node():
    return shutil.which("node")


def suite_argv(*args):
    return [node(), "--import", SHIM, SUITE] + list(args)


def run(client, scenario, outdir):
    """Run one scenario; returns (passed, summary lines)."""
    out = os.path.join(outdir, scenario.replace("/", "_"))
    p = subprocess.run(suite_argv("client", "--command", client,
                                  "--scenario", scenario, "--timeout",
                                  "30000", "-o", out),
                       stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                       text=True, timeout=120, cwd=HERE)
    checks = []
    for root, _, files in os.walk(out):
        if "checks.json" in files:
            with open(os.path.join(root, "checks.json")) as f:
                checks += json.load(f)
    bad = [c for c in checks if c.get("status") in ("FAILURE", "ERROR")]
    ok = p.returncode == 0 and checks and not bad
    lines = ["%s %s%s" % (c["status"], c["id"],
                          (": " + c["errorMessage"]) if c.get("errorMessage")
                          else "")
             for c in checks if c.get("status") != "INFO"]
    if not checks:
        lines.append(p.stdout[-2000:])
    return ok, lines


def scenarios():
    p = subprocess.run(suite_argv("list"), stdout=subprocess.PIPE,
                       text=True, timeout=60, cwd=HERE, check=True)
    names, client = [], False
    for line in p.stdout.splitlines():
        if line.startswith("Client scenarios"):
            client = True
        elif client and line.strip().startswith("- "):
            names.append(line.strip()[2:].split(" ")[0])
    return names


def main():
    if not os.path.isfile(SUITE) or node() is None:
        print("SKIP: the conformance suite is missing (run "
              "'npm ci --prefix tests/mcp')")
        sys.exit(77)
    client = os.environ.get("CONFORMANCE_CLIENT")
    if not client or not os.access(client, os.X_OK):
        print("SKIP: CONFORMANCE_CLIENT (the built driver) is not set")
        sys.exit(77)
    names = scenarios() if "--all" in sys.argv else PASSING
    outdir = tempfile.mkdtemp(prefix="conformance-")
    failed = 0
    try:
        for name in names:
            ok, lines = run(client, name, outdir)
            print("%s %s" % ("pass" if ok else "FAIL", name))
            for line in lines:
                print("    " + line)
            failed += not ok
    finally:
        shutil.rmtree(outdir, ignore_errors=True)
    print("%d passed, %d failed" % (len(names) - failed, failed))
    if "--all" not in sys.argv and failed:
        sys.exit(1)


if __name__ == "__main__":
    main()
