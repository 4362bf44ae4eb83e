#!/usr/bin/env python3
# SPDX-License-Identifier: ISC
"""A small Streamable HTTP MCP server that misbehaves on request, for the
worker's HTTP transport tests (test_mcp.py).

POST /mcp takes JSON-RPC; initialize makes a session (Mcp-Session-Id),
every later request must carry it (404 once it is forgotten) and the
MCP-Protocol-Version header.  With HOSTILE_TOKEN set, a request without
"Authorization: Bearer $HOSTILE_TOKEN" gets 401.  GET /mcp is the
stream of server messages; DELETE /mcp ends the session.

Tools: ok (a JSON answer), sse (an SSE answer with a progress
notification first), http500, hang (never answers), add_tool (adds the
tool "added" and sends tools/list_changed on the GET stream), forget
(forgets the session: the next request gets 404).  PORT: the port; it
prints "listening on port N" once it accepts connections.
"""

import json
import os
import queue
import sys
import threading
import uuid
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

TOKEN = os.environ.get("HOSTILE_TOKEN", "")
VERSIONS = ("2025-06-18", "2025-03-26")
sessions = {}  # id -> {"added": bool, "q": Queue for the GET stream}
lock = threading.Lock()


def log(msg):
    sys.stdout.write("hostile_http: %s\n" % msg)
    sys.stdout.flush()


def tool(name):
    return {"name": name, "description": name,
            "inputSchema": {"type": "object",
                            "properties": {"text": {"type": "string"}}}}


class Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"

    def log_message(self, fmt, *args):
        pass

    def reply(self, status, body=b"", ctype="application/json",
              headers=None):
        self.send_response(status)
        if body or status != 202:
            self.send_header("Content-Type", ctype)
        self.send_header("Content-Length", str(len(body)))
        for k, v in (headers or {}).items():
            self.send_header(k, v)
        self.end_headers()
        self.wfile.write(body)

    def reply_json(self, obj, headers=None):
        self.reply(200, json.dumps(obj).encode(), headers=headers)

    def authorized(self):
        if TOKEN and self.headers.get("Authorization") != "Bearer " + TOKEN:
            self.reply(401, b"missing or wrong token", "text/plain")
            return False
        return True

    def session(self):
        sid = self.headers.get("Mcp-Session-Id")
        if sid is None:
            self.reply(400, b"no session id", "text/plain")
            return None
        with lock:
            s = sessions.get(sid)
        if s is None:
            self.reply(404, b"no such session", "text/plain")
            return None
        if self.headers.get("MCP-Protocol-Version") not in VERSIONS:
            self.reply(400, b"no MCP-Protocol-Version", "text/plain")
            return None
        return sid, s

    def do_POST(self):
        body = self.rfile.read(int(self.headers.get("Content-Length", 0)))
        if not self.authorized():
            return
        msg = json.loads(body)
        method, mid = msg.get("method"), msg.get("id")
        if method == "initialize":
            sid = uuid.uuid4().hex
            with lock:
                sessions[sid] = {"added": False, "q": queue.Queue()}
            log("session %s" % sid)
            self.reply_json({"jsonrpc": "2.0", "id": mid, "result": {
                "protocolVersion": msg["params"]["protocolVersion"],
                "capabilities": {"tools": {"listChanged": True}},
                "serverInfo": {"name": "hostile_http", "version": "1"}}},
                {"Mcp-Session-Id": sid})
            return
        got = self.session()
        if got is None:
            return
        sid, s = got
        if mid is None or method is None:
            if method == "notifications/cancelled":
                log("cancelled %s" % msg["params"]["requestId"])
            self.reply(202)
            return
        if method == "tools/list":
            names = ["ok", "sse", "http500", "hang", "add_tool", "forget"]
            if s["added"]:
                names.append("added")
            self.reply_json({"jsonrpc": "2.0", "id": mid, "result": {
                "tools": [tool(n) for n in names]}})
            return
        if method != "tools/call":
            self.reply_json({"jsonrpc": "2.0", "id": mid, "error": {
                "code": -32601, "message": "no " + method}})
            return
        name = msg["params"]["name"]
        text = (msg["params"].get("arguments") or {}).get("text")
        log("call %s" % name)

        def result(t):
            return {"jsonrpc": "2.0", "id": mid, "result": {
                "content": [{"type": "text", "text": t}]}}
        if name == "sse":
            tok = msg["params"].get("_meta", {}).get("progressToken")
            events = [{"jsonrpc": "2.0", "method": "notifications/progress",
                       "params": {"progressToken": tok, "progress": 1,
                                  "total": 2}},
                      result("sse: %s" % text)]
            self.send_response(200)
            self.send_header("Content-Type", "text/event-stream")
            self.send_header("Connection", "close")
            self.end_headers()
            for e in events:
                self.wfile.write(b"event: message\r\ndata: " +
                                 json.dumps(e).encode() + b"\r\n\r\n")
                self.wfile.flush()
            self.close_connection = True
        elif name == "http500":
            self.reply(500, b"internal trouble", "text/plain")
        elif name == "hang":
            threading.Event().wait(30)
            self.reply_json(result("too late"))
        elif name == "add_tool":
            s["added"] = True
            self.reply_json(result("added a tool"))
            s["q"].put({"jsonrpc": "2.0",
                        "method": "notifications/tools/list_changed"})
        elif name == "forget":
            with lock:
                sessions.pop(sid, None)
            s["q"].put(None)
            self.reply_json(result("forgotten"))
        else:
            self.reply_json(result("%s: %s" % (name, text)))

    def do_GET(self):
        if not self.authorized():
            return
        got = self.session()
        if got is None:
            return
        sid, s = got
        self.send_response(200)
        self.send_header("Content-Type", "text/event-stream")
        self.send_header("Connection", "close")
        self.end_headers()
        self.wfile.flush()
        self.close_connection = True
        log("stream %s" % sid)
        while True:
            m = s["q"].get()
            if m is None:
                return
            try:
                self.wfile.write(b"data: " + json.dumps(m).encode() +
                                 b"\n\n")
                self.wfile.flush()
            except OSError:
                return

    def do_DELETE(self):
        if not self.authorized():
            return
        got = self.session()
        if got is None:
            return
        sid, s = got
        with lock:
            sessions.pop(sid, None)
        s["q"].put(None)
        log("deleted %s" % sid)
        self.reply(200, b"")


def main():
    port = int(os.environ.get("PORT", "0"))
    srv = ThreadingHTTPServer(("127.0.0.1", port), Handler)
    srv.daemon_threads = True
    log("listening on port %d" % srv.server_address[1])
    srv.serve_forever()


if __name__ == "__main__":
    main()
