#!/usr/bin/env python3
# SPDX-License-Identifier: ISC
"""A stand-in for podvisor-worker that speaks the fd 3 worker channel
(docs/worker-channel.md), for podvisord's integration tests.

    fakeworker.py --pod NAME [--restore]

It answers `start` with `ready`, binds the pod socket, acknowledges
`pod_event`s, exits 0 on `shutdown`, and re-attaches over control.sock
when fd 3 reaches EOF.  Behaviour per pod, from the environment:

    FAKEWORKER_CRASH=a,b     exit 3 on start, before ready
    FAKEWORKER_HANG=a        never answer start
    FAKEWORKER_REFUSE=a      answer start with an error
    FAKEWORKER_NOACK=a       never acknowledge pod_event
    FAKEWORKER_IGNORE_SHUTDOWN=a  ignore shutdown and SIGTERM
    FAKEWORKER_NO_REATTACH=a exit on fd 3 EOF instead of re-attaching

Tests steer a running fakeworker through its pod socket (prelude
`snapshot`), with these requests:

    fw_request {method, params}  send a request on the channel; reply
                                 fw_reply {reply: <the daemon's reply>}
    fw_event {event, data}       send an event on the channel
    fw_config {}                 reply fw_config {config: <start params>}
    fw_exec {argv}               run a child process (as the bash tool
                                 would); reply fw_exec {code, stdout}
    fw_crash {code}              exit(code) at once
    shutdown {}                  exit 0

Every message from the daemon is broadcast to the pod clients as
`fw_daemon {msg}`.
"""

import json
import os
import select
import signal
import socket
import subprocess
import sys
import time

MAX_LINE = 16 * 1024 * 1024


def names(var):
    return [n for n in os.environ.get(var, "").split(",") if n]


class Peer:
    def __init__(self, sock):
        self.sock = sock
        self.buf = b""
        self.out = b""
        self.seq = 0
        self.backlog = []

    def send(self, obj):
        self.seq += 1
        obj = dict(obj)
        obj["seq"] = self.seq
        self.out += json.dumps(obj).encode() + b"\n"
        self.flush()

    def flush(self):
        while self.out:
            try:
                n = self.sock.send(self.out)
            except BlockingIOError:
                return
            except OSError:
                self.out = b""
                return
            self.out = self.out[n:]

    def read(self):
        """Returns a list of messages, or None at EOF."""
        try:
            data = self.sock.recv(1 << 16)
        except BlockingIOError:
            return []
        except OSError:
            data = b""
        if not data:
            return None
        self.buf += data
        msgs = []
        while b"\n" in self.buf:
            line, self.buf = self.buf.split(b"\n", 1)
            if line.strip():
                msgs.append(json.loads(line))
        if len(self.buf) > MAX_LINE:
            return None
        return msgs


class Worker:
    def __init__(self, name, restore):
        self.name = name
        self.restore = restore
        self.chan = Peer(socket.socket(fileno=3))
        self.chan.sock.setblocking(False)
        self.config = None
        self.listener = None
        self.clients = []
        self.next_id = 1000
        self.pending = {}   # our request id -> client waiting for it
        self.segment = None
        self.status = "idle"

    def log(self, *a):
        print("fakeworker[%s]:" % self.name, *a, file=sys.stderr, flush=True)

    # --- the channel ---------------------------------------------------
    def on_chan(self, m):
        for c in self.clients:
            c.send({"event": "fw_daemon", "data": {"msg": m}})
        if "id" in m and m.get("id") in self.pending and "event" in m:
            client = self.pending.pop(m["id"])
            client[0].send({"event": "fw_reply", "data": {"reply": m},
                            "id": client[1]})
            return
        method = m.get("method")
        if method == "start":
            self.on_start(m)
        elif method == "pod_event":
            if self.name not in names("FAKEWORKER_NOACK"):
                eid = m.get("params", {}).get("eid")
                self.chan.send({"event": "accepted", "data": {"eid": eid},
                                "id": m.get("id")})
        elif method == "shutdown":
            if self.name in names("FAKEWORKER_IGNORE_SHUTDOWN"):
                return
            self.chan.send({"event": "accepted", "data": {},
                            "id": m.get("id")})
            self.exit(0)
        elif method is not None:
            self.chan.send({"event": "error", "id": m.get("id"), "data": {
                "code": "invalid_request",
                "message": "unknown method %s" % method}})

    def on_start(self, m):
        p = m.get("params", {})
        self.config = p
        if self.name in names("FAKEWORKER_CRASH"):
            self.log("crashing at start as told")
            self.exit(3)
        if self.name in names("FAKEWORKER_HANG"):
            self.log("hanging at start as told")
            return
        if self.name in names("FAKEWORKER_REFUSE"):
            self.chan.send({"event": "error", "id": m.get("id"), "data": {
                "code": "internal", "message": "refused as told"}})
            return
        path = p["paths"]["socket"]
        try:
            os.unlink(path)
        except OSError:
            pass
        self.listener = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        self.listener.bind(path)
        os.chmod(path, 0o600)
        self.listener.listen(16)
        self.listener.setblocking(False)
        seg = p.get("session", {}).get("segment")
        self.segment = seg or "seg-%d" % int(time.time() * 1000)
        self.chan.send({"event": "ready", "id": m.get("id"), "data": {
            "socket": path,
            "session": {"id": p.get("session", {}).get("id"),
                        "segment": self.segment}}})
        self.chan.send({"event": "state",
                        "data": {"status": "idle", "segment": self.segment}})

    def lost_channel(self):
        if self.config is None or \
                self.name in names("FAKEWORKER_NO_REATTACH"):
            self.exit(1)
        self.chan = None
        self.delay = 0.05
        self.reconnect_at = time.monotonic()
        self.give_up_at = time.monotonic() + 60

    def try_reattach(self):
        """One connection attempt (the real worker's backoff between)."""
        if time.monotonic() > self.give_up_at:
            self.exit(1)
        s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        try:
            s.connect(self.config["paths"]["control_sock"])
        except OSError:
            s.close()
            self.reconnect_at = time.monotonic() + self.delay
            self.delay = min(self.delay * 2, 2.0)
            return
        peer = Peer(s)
        s.setblocking(False)
        hello = self.wait_reply(peer, None, "hello")
        if hello is None:
            s.close()
            self.reconnect_at = time.monotonic() + self.delay
            return
        peer.send({"method": "reattach", "id": 1, "params": {
            "name": self.name, "pid": os.getpid(),
            "segment": self.segment, "status": self.status}})
        r = self.wait_reply(peer, 1, None)
        if r is None or r.get("event") != "reattached":
            self.log("reattach refused: %r" % (r,))
            self.exit(1)
        self.log("re-attached")
        self.chan = peer
        for m in peer.backlog:
            self.on_chan(m)

    def wait_reply(self, peer, rid, event):
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline:
            r, _, _ = select.select([peer.sock], [], [], 0.5)
            if not r:
                continue
            msgs = peer.read()
            if msgs is None:
                return None
            for i, m in enumerate(msgs):
                if (event is not None and m.get("event") == event) or \
                        (rid is not None and m.get("id") == rid):
                    peer.backlog = msgs[i + 1:]
                    return m
        return None

    # --- pod clients ---------------------------------------------------
    def on_client(self, c, m):
        method = m.get("method")
        rid = m.get("id")
        p = m.get("params", {})
        if method in ("fw_request", "fw_event") and self.chan is None:
            c.send({"event": "error", "id": rid, "data": {
                "code": "not_live", "message": "no supervisor channel"}})
        elif method == "fw_request":
            self.next_id += 1
            self.pending[self.next_id] = (c, rid)
            req = {"method": p["method"], "id": self.next_id}
            if p.get("params") is not None:
                req["params"] = p["params"]
            self.chan.send(req)
        elif method == "fw_event":
            ev = {"event": p["event"]}
            if p.get("data") is not None:
                ev["data"] = p["data"]
            self.chan.send(ev)
            c.send({"event": "accepted", "data": {}, "id": rid})
        elif method == "fw_exec":
            # like the bash tool: a child of the worker, in its cwd
            try:
                r = subprocess.run(p["argv"], capture_output=True,
                                   text=True, timeout=20,
                                   cwd=self.config["cwd"])
            except (OSError, subprocess.SubprocessError) as e:
                c.send({"event": "error", "id": rid, "data": {
                    "code": "tool_error", "message": str(e)}})
                return
            c.send({"event": "fw_exec", "id": rid, "data": {
                "code": r.returncode, "stdout": r.stdout,
                "stderr": r.stderr}})
        elif method == "fw_config":
            c.send({"event": "fw_config", "data": {"config": self.config},
                    "id": rid})
        elif method == "fw_crash":
            self.exit(int(p.get("code", 1)))
        elif method == "shutdown":
            c.send({"event": "accepted", "data": {}, "id": rid})
            self.exit(0)
        else:
            c.send({"event": "error", "id": rid, "data": {
                "code": "invalid_request", "message": "unknown method"}})

    def exit(self, code):
        for c in self.clients:
            c.flush()
        if self.chan is not None:
            self.chan.flush()
        os._exit(code)

    def run(self):
        while True:
            timeout = 1.0
            if self.chan is None:
                left = self.reconnect_at - time.monotonic()
                if left <= 0:
                    self.try_reattach()
                    continue
                timeout = left
            rl = [c.sock for c in self.clients]
            if self.chan is not None:
                rl.append(self.chan.sock)
            if self.listener is not None:
                rl.append(self.listener)
            r, _, _ = select.select(rl, [], [], timeout)
            for s in r:
                if s is self.listener:
                    try:
                        cs, _ = self.listener.accept()
                    except OSError:
                        continue
                    cs.setblocking(False)
                    c = Peer(cs)
                    self.clients.append(c)
                    c.send({"event": "snapshot", "data": {
                        "protocol": 1, "status": self.status,
                        "greeting": {"pod": self.name}, "alerts": [],
                        "entries": [], "last_entry_seq": 0}})
                elif self.chan is not None and s is self.chan.sock:
                    msgs = self.chan.read()
                    if msgs is None:
                        self.log("channel EOF")
                        self.lost_channel()
                        break
                    for m in msgs:
                        self.on_chan(m)
                else:
                    c = next(x for x in self.clients if x.sock is s)
                    msgs = c.read()
                    if msgs is None:
                        self.clients.remove(c)
                        c.sock.close()
                        continue
                    for m in msgs:
                        self.on_client(c, m)


def main():
    args = sys.argv[1:]
    if len(args) < 2 or args[0] != "--pod":
        print("usage: fakeworker.py --pod NAME [--restore]", file=sys.stderr)
        return 2
    name = args[1]
    if name in names("FAKEWORKER_IGNORE_SHUTDOWN"):
        signal.signal(signal.SIGTERM, signal.SIG_IGN)
    Worker(name, "--restore" in args[2:]).run()
    return 0


if __name__ == "__main__":
    sys.exit(main())
