#!/usr/bin/env python3
# SPDX-License-Identifier: ISC
"""A small hostile MCP server (stdio) for the worker's MCP client tests.

Tools: ok (echoes its text), crash (exits 3 after a stderr line), hang
(never answers; logs a cancellation on stderr), garbage (a line that is
not JSON), huge (a 5 MiB line), stderr_flood (one 100 KiB stderr line,
then answers), add_tool (adds the tool "added" and sends
notifications/tools/list_changed), plus t0..t4 listed over three pages of
tools/list.
HOSTILE_START=exit|badversion|silent misbehaves at start instead;
HOSTILE_VERSION sets the protocol version it answers with.
"""

import json
import os
import sys

start = os.environ.get("HOSTILE_START", "")
version = os.environ.get("HOSTILE_VERSION", "")


def send(obj):
    sys.stdout.write(json.dumps(obj) + "\n")
    sys.stdout.flush()


def tool(name, desc):
    return {"name": name, "description": desc,
            "inputSchema": {"type": "object",
                            "properties": {"text": {"type": "string"}}}}


PAGES = [
    [tool("ok", "echo text"), tool("crash", "exit"), tool("hang", "hang")],
    [tool("garbage", "not json"), tool("huge", "5 MiB line"),
     tool("stderr_flood", "long stderr line"), tool("t0", "x")],
    [tool("t%d" % i, "x") for i in range(1, 5)] +
    [tool("add_tool", "adds the tool 'added', says list_changed")],
]

if start == "exit":
    sys.stderr.write("hostile: refusing to start\n")
    sys.exit(4)

for line in sys.stdin:
    try:
        msg = json.loads(line)
    except ValueError:
        continue
    method, mid = msg.get("method"), msg.get("id")
    if method == "initialize":
        if start == "silent":
            continue
        v = version or msg["params"]["protocolVersion"]
        if start == "badversion":
            v = "2024-11-05"
        send({"jsonrpc": "2.0", "id": mid, "result": {
            "protocolVersion": v, "capabilities": {"tools": {}},
            "serverInfo": {"name": "hostile", "version": "1"}}})
    elif method == "notifications/initialized":
        sys.stderr.write("hostile: initialized\n")
        sys.stderr.flush()
    elif method == "notifications/cancelled":
        sys.stderr.write("hostile: cancelled %s\n" %
                         msg["params"]["requestId"])
        sys.stderr.flush()
    elif method == "tools/list":
        page = int((msg.get("params") or {}).get("cursor") or 0)
        res = {"tools": PAGES[page]}
        if page + 1 < len(PAGES):
            res["nextCursor"] = str(page + 1)
        send({"jsonrpc": "2.0", "id": mid, "result": res})
    elif method == "tools/call":
        name = msg["params"]["name"]
        args = msg["params"].get("arguments") or {}
        sys.stderr.write("hostile: call %s\n" % name)
        sys.stderr.flush()
        if name == "crash":
            sys.stderr.write("hostile: crashing on purpose\n")
            sys.stderr.flush()
            sys.exit(3)
        elif name == "hang":
            continue
        elif name == "garbage":
            sys.stdout.write("this is {not json\n")
            sys.stdout.flush()
        elif name == "add_tool":
            PAGES[2].append(tool("added", "added at run time"))
            send({"jsonrpc": "2.0", "id": mid, "result": {
                "content": [{"type": "text", "text": "added a tool"}]}})
            send({"jsonrpc": "2.0",
                  "method": "notifications/tools/list_changed"})
        elif name == "huge":
            sys.stdout.write('{"x":"' + "a" * (5 << 20) + '"}\n')
            sys.stdout.flush()
        else:
            if name == "stderr_flood":
                sys.stderr.write("E" * 100000 + "\n")
                sys.stderr.flush()
            send({"jsonrpc": "2.0", "id": mid, "result": {
                "content": [{"type": "text",
                             "text": "%s: %s" % (name, args.get("text"))}]}})
    elif mid is not None:
        send({"jsonrpc": "2.0", "id": mid,
              "error": {"code": -32601, "message": "no " + str(method)}})
