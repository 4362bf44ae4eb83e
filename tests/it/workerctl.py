# SPDX-License-Identifier: ISC
"""Play podvisord towards one real podvisor-worker.

The test owns the other end of the worker's fd 3 socketpair: it sends
`start`, reads `ready`, answers the worker's requests and sends pod events
exactly as docs/worker-channel.md says, then attaches ordinary pod clients
(pvtest.Client) to the pod socket.

    env = pvtest.Env("x")
    url = env.start_fakellm(scenario, record=path)
    w = Worker(env, "a", url)          # spawns, sends start, waits for ready
    p = w.client()                     # pvtest.Client with the snapshot read
    ...
    w.kill()                           # SIGKILL; w.restart(restore=True)
"""

import json
import os
import signal
import socket
import subprocess

import pvtest
from pvtest import check, fail


class Channel(pvtest.Client):
    """A pvtest.Client over an already connected socket (fd 3's peer)."""

    def __init__(self, sock, label="fd3"):
        self.path = label
        self.sock = sock
        self.sock.setblocking(False)
        self.reader = pvtest.LineReader(self.sock)
        self.next_id = 1000
        self.backlog = []
        self.last_seq = 0
        self.prelude = None

    def reply(self, req, event, data=None):
        msg = {"event": event, "id": req.get("id")}
        if data is not None:
            msg["data"] = data
        self.send(msg)

    def reply_error(self, req, code, message):
        self.send({"event": "error", "id": req.get("id"),
                   "data": {"code": code, "message": message}})


def worker_binary():
    return pvtest.binary("PODVISOR_WORKER", "podvisor-worker")


class Worker:
    """One podvisor-worker process with the test as its supervisor."""

    def __init__(self, env, name, url, scheme="openai_chat", restore=False,
                 start=True, **overrides):
        self.env = env
        self.name = name
        self.url = url
        self.scheme = scheme
        self.overrides = overrides
        self.segment = None
        self.session_id = None
        self.proc = None
        self.chan = None
        self.ready = None
        self.spawn(restore)
        if start:
            self.start()

    @property
    def sock_path(self):
        return self.env.pod_sock(self.name)

    @property
    def session_dir(self):
        return os.path.join(self.env.state, "sessions", self.name)

    @property
    def segment_path(self):
        return os.path.join(self.session_dir, self.segment + ".jsonl")

    def spawn(self, restore=False):
        parent, child = socket.socketpair(socket.AF_UNIX, socket.SOCK_STREAM)
        self.stderr_path = os.path.join(self.env.root,
                                        "worker-%s.log" % self.name)
        errf = open(self.stderr_path, "ab")
        argv = [worker_binary(), "--pod", self.name]
        if restore:
            argv.append("--restore")
        fd = child.fileno()
        # Put the channel on fd 3 (and close the original number); bash,
        # since dash takes no fd numbers above 9 in redirections.
        sh = 'exec "$@" 3<&%d %d<&-' % (fd, fd)
        self.proc = subprocess.Popen(["/bin/bash", "-c", sh, "sh"] + argv,
                                     pass_fds=(fd,), env=self.env.env,
                                     stdin=subprocess.DEVNULL,
                                     stdout=errf, stderr=errf)
        errf.close()
        child.close()
        self.env.procs.append(self.proc)
        self.chan = Channel(parent)
        self.restore = restore

    def start_params(self):
        base = (self.url + "/v1" if self.scheme.startswith("openai")
                else self.url)
        runtime = os.path.join(self.env.runtime, "pods", self.name)
        p = {
            "name": self.name, "cwd": self.env.work, "parent": None,
            "restore": self.restore,
            "scope": [{"target": self.env.work, "permission": "write",
                       "recursive": True}],
            "effective_write": [{"target": self.env.work,
                                 "permission": "write", "recursive": True}],
            "session": {"id": self.session_id, "segment": self.segment},
            "paths": {"runtime_dir": runtime, "socket": self.sock_path,
                      "session_dir": self.session_dir,
                      "control_sock": self.env.control_sock},
            "model": {"provider": "fake", "scheme": self.scheme,
                      "base_url": base, "model": "fake-model",
                      "api_key": "sk-test-secret", "context_window": 128000,
                      "max_tokens": 1024},
            "instruction": "Be brief.", "max_turns": 10,
            "bash": {"scratch": ["/tmp"], "timeout_s": 30},
            "compaction": {"enabled": False, "threshold": 0.8,
                           "retain_tokens": 8000, "model": None},
        }
        p.update(self.overrides)
        return p

    def start(self, timeout=None):
        """Send start and wait for ready (fails the test otherwise)."""
        r = self.chan.call("start", self.start_params(), timeout)
        if r.get("event") != "ready":
            fail("start failed: %r\n%s" % (r, self.log()))
        self.ready = r["data"]
        self.session_id = self.ready["session"]["id"]
        self.segment = self.ready["session"]["segment"]
        check(self.ready["socket"] == self.sock_path,
              "ready names socket %r" % self.ready["socket"])
        return r

    def client(self, timeout=None):
        c = pvtest.Client(self.sock_path, timeout, expect_prelude="snapshot")
        self.env.clients.append(c)
        return c

    def entries(self):
        """The segment file's entries as parsed JSON objects."""
        with open(self.segment_path) as f:
            return [json.loads(line) for line in f if line.strip()]

    def kill(self, sig=signal.SIGKILL):
        self.proc.send_signal(sig)
        self.proc.wait(pvtest.DEFAULT_TIMEOUT)
        self.chan.close()

    def restart(self, restore=True):
        self.spawn(restore)
        return self.start()

    def wait_exit(self, timeout=None):
        try:
            return self.proc.wait(pvtest.DEFAULT_TIMEOUT
                                  if timeout is None else timeout)
        except subprocess.TimeoutExpired:
            fail("worker did not exit\n" + self.log())

    def shutdown(self):
        """Ask the worker to stop over fd 3; it must exit 0."""
        r = self.chan.call("shutdown", {})
        check(r.get("event") == "accepted", "shutdown: %r" % r)
        check(self.wait_exit() == 0, "exit status after shutdown\n" +
              self.log())

    def log(self):
        try:
            with open(self.stderr_path, errors="replace") as f:
                return f.read()[-4000:]
        except OSError:
            return ""

    def pod_event(self, eid, kind, sender, **fields):
        """Send a pod_event request; returns the request id."""
        rid = self.chan.next_id
        self.chan.next_id += 1
        params = {"eid": eid, "kind": kind, "from": sender, "ms": 1}
        params.update(fields)
        self.chan.send({"method": "pod_event", "id": rid, "params": params})
        return rid

    def wait_reply(self, rid, timeout=None):
        return self.chan.wait(lambda m: m.get("id") == rid, timeout,
                              "reply %s" % rid)


def events_after_prelude(msgs):
    """(event, data) pairs of broadcast events (no id) in order."""
    return [(m.get("event"), m.get("data")) for m in msgs if "id" not in m]
