# SPDX-License-Identifier: ISC
"""`podvisor acp` end to end: the official ACP TypeScript SDK as the
editor (driver.mjs), the real podvisord, workers and fakellm.

Malformed input is written raw to `podvisor acp`'s stdin (an SDK cannot
send it).  Skips (exit 77) with the reason when tests/acp/node_modules
is missing: `npm ci --prefix tests/acp` installs it.
"""

import json
import os
import select
import shutil
import signal
import subprocess
import sys
import time

from pvtest import (DEFAULT_TIMEOUT, Client, binary, check, fail, run_tests)

HERE = os.path.dirname(os.path.abspath(__file__))
DRIVER = os.path.join(HERE, "driver.mjs")

# A reply streamed slowly enough to cancel it in the middle.
SLOW = {"rules": [
    {"match": {"user_contains": "slowly"},
     "reply": {"text": "one two three four five six seven eight nine ten "
               "eleven twelve", "chunks": 12},
     "stream": {"delay_ms": 250}},
]}


class Lines:
    """JSON lines from a child's stdout, read with bounded waits."""

    def __init__(self, p):
        self.p = p
        self.fd = p.stdout.fileno()
        self.buf = b""
        self.eof = False
        self.seen = []

    def read(self, timeout=None):
        deadline = time.monotonic() + (DEFAULT_TIMEOUT if timeout is None
                                       else timeout)
        while b"\n" not in self.buf:
            if self.eof:
                return None
            left = deadline - time.monotonic()
            r, _, _ = select.select([self.fd], [], [], max(0, left))
            if not r:
                fail("timed out waiting for a line (seen %r)" %
                     self.seen[-5:])
            data = os.read(self.fd, 1 << 20)
            if not data:
                self.eof = True
            self.buf += data
        line, self.buf = self.buf.split(b"\n", 1)
        try:
            msg = json.loads(line)
        except ValueError:
            fail("stdout line is not JSON: %r" % line)
        self.seen.append(msg)
        return msg

    def wait(self, pred, timeout=None, what="a line"):
        deadline = time.monotonic() + (DEFAULT_TIMEOUT if timeout is None
                                       else timeout)
        while True:
            msg = self.read(max(0.0, deadline - time.monotonic()))
            if msg is None:
                fail("EOF waiting for %s (seen %r)" % (what, self.seen[-5:]))
            if pred(msg):
                return msg


class Editor:
    """driver.mjs: the SDK's client connected to `podvisor acp`."""

    def __init__(self, env, *args):
        self.env = env
        self.errpath = os.path.join(env.root, "acp-%d.err" % len(env.procs))
        err = open(self.errpath, "ab")
        self.p = subprocess.Popen(
            ["node", DRIVER, binary("PODVISOR_CLI", "podvisor")] + list(args),
            env=env.env, stdin=subprocess.PIPE, stdout=subprocess.PIPE,
            stderr=err, cwd=HERE)
        err.close()
        env.procs.append(self.p)
        self.lines = Lines(self.p)
        self.tag = 0
        self.updates = []

    def send(self, cmd):
        self.p.stdin.write((json.dumps(cmd) + "\n").encode())
        self.p.stdin.flush()

    def start(self, method, params):
        self.tag += 1
        self.send({"op": "request", "tag": self.tag, "method": method,
                   "params": params})
        return self.tag

    def _collect(self, msg):
        if "update" in msg:
            self.updates.append(msg["update"])
        return msg

    def wait_tag(self, tag, timeout=None):
        m = self.lines.wait(lambda m: self._collect(m).get("tag") == tag,
                            timeout, "the answer to request %d" % tag)
        return m

    def call(self, method, params, timeout=None):
        """The result; fails on an error."""
        m = self.wait_tag(self.start(method, params), timeout)
        check("result" in m, "%s failed: %r" % (method, m.get("error")))
        return m["result"]

    def call_error(self, method, params, timeout=None):
        m = self.wait_tag(self.start(method, params), timeout)
        check("error" in m, "%s did not fail: %r" % (method, m))
        return m["error"]

    def wait_update(self, pred, timeout=None, what="an update"):
        for u in self.updates:
            if pred(u):
                return u
        m = self.lines.wait(
            lambda m: "update" in self._collect(m) and pred(m["update"]),
            timeout, what)
        return m["update"]

    def wait_permission(self, timeout=None):
        """The next session/request_permission ({"permission", "tag"})."""
        return self.lines.wait(lambda m: "permission" in self._collect(m),
                               timeout, "a permission request")

    def answer(self, tag, option):
        self.send({"op": "answer", "tag": tag,
                   "outcome": {"outcome": "selected", "optionId": option}})

    def notify(self, method, params):
        self.send({"op": "notify", "method": method, "params": params})

    def stderr(self):
        with open(self.errpath) as f:
            return f.read()

    def close(self):
        """End the editor; `podvisor acp` must exit 0 at the end of its
        input (under ASan a leak would make it fail)."""
        self.send({"op": "exit"})
        self.p.stdin.close()
        m = self.lines.wait(lambda m: "exit" in m, what="podvisor acp's exit")
        check(m["exit"] == 0, "podvisor acp exited %r: %s" %
              (m, self.stderr()[-2000:]))
        self.p.wait(DEFAULT_TIMEOUT)


def kinds(updates, sid=None):
    return [u["update"]["sessionUpdate"] for u in updates
            if sid is None or u["sessionId"] == sid]


def text_of(updates, kind, sid=None):
    return "".join(u["update"]["content"]["text"] for u in updates
                   if u["update"]["sessionUpdate"] == kind and
                   u["update"]["content"]["type"] == "text" and
                   (sid is None or u["sessionId"] == sid))


def prompt(text):
    return [{"type": "text", "text": text}]


def start(env, scenario=None):
    env.start_fakellm(scenario)
    env.use_fakellm()
    env.start_daemon()


def inspect(env, name):
    c = Client(env.control_sock, expect_prelude="hello")
    try:
        return c.request("inspect", {"name": name})["data"]
    finally:
        c.close()


def wait_pod(env, name, pred, what, timeout=10):
    """inspect (one control round trip each) until pred(detail); bounded."""
    c = Client(env.control_sock, expect_prelude="hello")
    try:
        deadline = time.monotonic() + timeout
        while True:
            d = c.request("inspect", {"name": name})["data"]
            if pred(d):
                return d
            if time.monotonic() > deadline:
                fail("%s never became %s: %r" % (name, what, d))
    finally:
        c.close()


def open_session(env, ed, sub="proj"):
    init = ed.call("initialize", {"protocolVersion": 1,
                                  "clientCapabilities": {}})
    cwd = env.mkdir(sub)
    sid = ed.call("session/new", {"cwd": cwd, "mcpServers": []})["sessionId"]
    return init, cwd, sid


def run_prompt(ed, sid, text, timeout=None):
    n = len(ed.updates)
    r = ed.call("session/prompt", {"sessionId": sid, "prompt": prompt(text)},
                timeout)
    return r["stopReason"], ed.updates[n:]


# --- the tests ---------------------------------------------------------

def test_initialize_new_prompt(env):
    start(env)
    ed = Editor(env)
    init, cwd, sid = open_session(env, ed, "My Project")
    check(init["protocolVersion"] == 1, init)
    caps = init["agentCapabilities"]
    check(caps["loadSession"] is True, caps)
    check(caps["promptCapabilities"]["embeddedContext"] is True, caps)
    check(init["agentInfo"]["name"] == "podvisor" and
          init["agentInfo"]["version"], init)
    check(sid.startswith("my-project-") and len(sid) == len("my-project-") + 6,
          "sessionId %r: cwd basename + short id" % sid)
    d = inspect(env, sid)
    check(d["status"] == "live" and d["cwd"] == cwd, d)
    check(d["scope"] == [{"target": cwd, "permission": "write",
                          "recursive": True}], d["scope"])
    stop, ups = run_prompt(ed, sid, "hello there")
    check(stop == "end_turn", stop)
    check(text_of(ups, "agent_message_chunk") ==
          'fakellm: you said "hello there"', ups)
    check("user_message_chunk" not in kinds(ups),
          "the editor's own prompt was echoed back: %r" % ups)
    # Embedded context (a resource block) reaches the model.
    n = len(ed.updates)
    r = ed.call("session/prompt", {"sessionId": sid, "prompt": [
        {"type": "text", "text": "see"},
        {"type": "resource", "resource": {"uri": "file:///w/a.c",
                                          "text": "int x;"}}]})
    check(r["stopReason"] == "end_turn", r)
    said = text_of(ed.updates[n:], "agent_message_chunk")
    check("int x;" in said and "file:///w/a.c" in said, said)
    ed.close()
    # The pod outlives the editor.
    check(inspect(env, sid)["status"] == "live", "pod stopped with the editor")


def test_prompt_tool_calls(env):
    start(env)
    ed = Editor(env)
    _, cwd, sid = open_session(env, ed)
    stop, ups = run_prompt(ed, sid, "@write hello.txt hi there\n"
                           "@read hello.txt\n@bash echo from-bash")
    check(stop == "end_turn", stop)
    path = os.path.join(cwd, "hello.txt")
    with open(path) as f:
        check(f.read() == "hi there", "file content")
    calls = {}
    for u in ups:
        v = u["update"]
        if v["sessionUpdate"] in ("tool_call", "tool_call_update"):
            calls.setdefault(v["toolCallId"], []).append(v)
    check(len(calls) == 3, calls)
    by_kind = {}
    for cid, seq in calls.items():
        check(seq[0]["sessionUpdate"] == "tool_call" and
              seq[0]["status"] == "pending", seq)
        check([s["status"] for s in seq] ==
              ["pending", "in_progress", "completed"], seq)
        by_kind[seq[0]["kind"]] = seq
    check(set(by_kind) == {"edit", "read", "execute"}, by_kind.keys())
    w = by_kind["edit"]
    check(w[1]["locations"] == [{"path": path}], w[1])
    diff = w[1]["content"][0]
    check(diff == {"type": "diff", "path": path, "newText": "hi there"}, diff)
    check(w[2]["content"][0]["type"] == "diff", "the diff was dropped: %r"
          % w[2])
    r = by_kind["read"]
    check(r[1]["locations"] == [{"path": path}], r[1])
    check("hi there" in r[2]["content"][0]["content"]["text"], r[2])
    b = by_kind["execute"]
    check(b[1]["title"] == "bash: echo from-bash", b[1])
    check("from-bash" in b[2]["content"][0]["content"]["text"], b[2])
    check(text_of(ups, "agent_message_chunk").startswith("done: write ok"),
          text_of(ups, "agent_message_chunk"))
    # A failing tool: status failed.
    stop, ups = run_prompt(ed, sid, "@read /nonexistent/x")
    st = [u["update"].get("status") for u in ups
          if u["update"]["sessionUpdate"] == "tool_call_update"]
    check(st and st[-1] == "failed", st)
    # An edit: the diff carries old and new text.
    stop, ups = run_prompt(ed, sid, "@edit hello.txt hi bye")
    d = [u["update"]["content"][0] for u in ups
         if u["update"]["sessionUpdate"] == "tool_call_update" and
         u["update"].get("status") == "in_progress"]
    check(d == [{"type": "diff", "path": path, "oldText": "hi",
                 "newText": "bye"}], d)
    ed.close()


def test_cancel_mid_turn(env):
    start(env, SLOW)
    ed = Editor(env)
    _, cwd, sid = open_session(env, ed)
    tag = ed.start("session/prompt", {"sessionId": sid,
                                      "prompt": prompt("slowly please")})
    ed.wait_update(lambda u: u["update"]["sessionUpdate"] ==
                   "agent_message_chunk", 15, "the first chunk")
    ed.notify("session/cancel", {"sessionId": sid})
    m = ed.wait_tag(tag, 15)
    check(m.get("result", {}).get("stopReason") == "cancelled", m)
    said = text_of(ed.updates, "agent_message_chunk")
    check(len(said) < len("one two three four five six seven eight nine "
                          "ten eleven twelve"), "not cut: %r" % said)
    # The pod is idle again and takes the next prompt.
    stop, ups = run_prompt(ed, sid, "again")
    check(stop == "end_turn", stop)
    check(text_of(ups, "agent_message_chunk") == 'fakellm: you said "again"',
          ups)
    ed.close()


def check_replay(ed, sid, turns):
    """The load replayed the conversation as updates, in order: each
    (user text, start of the reply) a user_message_chunk then chunks."""
    ups = [u["update"] for u in ed.updates if u["sessionId"] == sid]
    got, said = [], None
    for u in ups:
        if u["sessionUpdate"] == "user_message_chunk":
            said = ""
            got.append([u["content"]["text"], ""])
        elif u["sessionUpdate"] == "agent_message_chunk" and got:
            got[-1][1] += u["content"]["text"]
    check([g[0] for g in got] == [t[0] for t in turns],
          "replayed user messages %r" % got)
    for (text, reply), (_, have) in zip(turns, got):
        check(have.startswith(reply), "reply to %r: %r" % (text, have))


def test_load_after_kill9(env):
    start(env)
    ed = Editor(env)
    _, cwd, sid = open_session(env, ed)
    run_prompt(ed, sid, "first")
    run_prompt(ed, sid, "@write f.txt x")
    ed.close()
    pid = inspect(env, sid)["pid"]
    os.kill(pid, signal.SIGKILL)
    wait_pod(env, sid, lambda d: d["status"] == "crashed", "crashed")
    ed = Editor(env)
    ed.call("initialize", {"protocolVersion": 1})
    r = ed.call("session/load", {"sessionId": sid, "cwd": cwd,
                                 "mcpServers": []})
    check(set(r) == {"modes"} and r["modes"]["currentModeId"] == "never", r)
    check_replay(ed, sid, [("first", 'fakellm: you said "first"'),
                           ("@write f.txt x", "done: write ok")])
    tools = [u["update"] for u in ed.updates
             if u["update"]["sessionUpdate"].startswith("tool_call")]
    check([t["sessionUpdate"] for t in tools] ==
          ["tool_call", "tool_call_update"], tools)
    check(tools[0]["kind"] == "edit" and tools[1]["status"] == "completed",
          tools)
    d = inspect(env, sid)
    check(d["status"] == "live" and d["pid"] != pid, d)
    stop, ups = run_prompt(ed, sid, "second")
    check(stop == "end_turn" and
          text_of(ups, "agent_message_chunk") == 'fakellm: you said "second"',
          ups)
    ed.close()


def test_load_after_daemon_restart(env):
    start(env)
    ed = Editor(env)
    _, cwd, sid = open_session(env, ed)
    run_prompt(ed, sid, "before")
    ed.close()
    c = Client(env.control_sock, expect_prelude="hello")
    c.call("shutdown", {"pods": "stop"})
    c.close()
    env.daemon.wait(15)
    env.start_daemon()
    check(inspect(env, sid)["status"] == "stopped", "pod not stopped")
    ed = Editor(env)
    ed.call("initialize", {"protocolVersion": 1})
    ed.call("session/load", {"sessionId": sid, "cwd": cwd, "mcpServers": []})
    check_replay(ed, sid, [("before", 'fakellm: you said "before"')])
    stop, ups = run_prompt(ed, sid, "after")
    check(stop == "end_turn", stop)
    ed.close()


def test_several_clients(env):
    """A prompt typed in the CLI shows in the editor, with its turn."""
    start(env)
    ed = Editor(env)
    _, cwd, sid = open_session(env, ed)
    r = env.cli("run", sid, "typed in the terminal")
    check(r.returncode == 0, r.stderr)
    ed.wait_update(lambda u: u["update"]["sessionUpdate"] ==
                   "user_message_chunk" and u["update"]["content"]["text"] ==
                   "typed in the terminal", what="the CLI's prompt")
    want = 'fakellm: you said "typed in the terminal"'
    ed.wait_update(lambda u: text_of(ed.updates, "agent_message_chunk") ==
                   want, what="the CLI's turn, streamed")
    ed.close()


def test_unknown_session_and_bad_params(env):
    start(env)
    ed = Editor(env)
    ed.call("initialize", {"protocolVersion": 1})
    e = ed.call_error("session/prompt", {"sessionId": "nope",
                                         "prompt": prompt("x")})
    check(e["code"] == -32002 and "unknown session" in e["message"], e)
    e = ed.call_error("session/load", {"sessionId": "nope", "cwd": env.work,
                                       "mcpServers": []})
    check(e["code"] == -32002 and "unknown session nope" in e["message"], e)
    e = ed.call_error("session/load", {"sessionId": "Not/A/Pod",
                                       "cwd": env.work, "mcpServers": []})
    check(e["code"] == -32002, e)
    e = ed.call_error("session/new", {"cwd": env.work, "mcpServers": {}})
    check(e["code"] == -32602 and "mcpServers" in e["message"], e)
    # The process keeps serving.
    _, cwd, sid = open_session(env, ed, "after")
    e = ed.call_error("session/prompt", {"sessionId": sid, "prompt": [
        {"type": "image", "data": "AA==", "mimeType": "image/png"}]})
    check(e["code"] == -32602 and "prompt[0]" in e["message"], e)
    stop, _ = run_prompt(ed, sid, "still fine")
    check(stop == "end_turn", stop)
    ed.close()


def raw_acp(env, lines, n_answers):
    """Write lines raw to `podvisor acp`; the n_answers lines it wrote."""
    p = subprocess.Popen([binary("PODVISOR_CLI", "podvisor"), "acp"],
                         env=env.env, stdin=subprocess.PIPE,
                         stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    env.procs.append(p)
    p.stdin.write(b"".join(lines))
    p.stdin.flush()
    rd = Lines(p)
    out = [rd.read() for _ in range(n_answers)]
    p.stdin.close()
    check(rd.read() is None, "more output than expected: %r" % rd.seen)
    p.wait(DEFAULT_TIMEOUT)
    err = p.stderr.read().decode()
    return out, err, p.returncode


def test_malformed_input(env):
    start(env)
    big = b'{"jsonrpc":"2.0","id":9,"method":"x","params":{"a":"' + \
        b"y" * (17 << 20) + b'"}}\n'
    lines = [
        b"this is not json\n",
        b'{"jsonrpc":"2.0","id":1,"method":"no/such"}\n',
        b'{"jsonrpc":"2.0","id":2,"method":"session/new",'
        b'"params":{"cwd":"relative/dir","mcpServers":[]}}\n',
        b'{"jsonrpc":"2.0","id":3,"method":"session/prompt",'
        b'"params":{"prompt":[]}}\n',
        b'{"jsonrpc":"2.0","id":4,"method":"initialize","params":{}}\n',
        b"[1,2]\n",
        big,
        b'{"jsonrpc":"2.0","method":"no/such/notification"}\n',
        b'{"jsonrpc":"2.0","id":5,"method":"initialize",'
        b'"params":{"protocolVersion":1}}\n',
    ]
    out, err, rc = raw_acp(env, lines, 8)
    check(out[0]["error"]["code"] == -32700 and out[0]["id"] is None, out[0])
    check(out[1]["error"]["code"] == -32601 and out[1]["id"] == 1, out[1])
    check(out[2]["error"]["code"] == -32602 and
          "params.cwd" in out[2]["error"]["message"], out[2])
    check(out[3]["error"]["code"] == -32602 and
          "params.sessionId" in out[3]["error"]["message"], out[3])
    check(out[4]["error"]["code"] == -32602 and
          "protocolVersion" in out[4]["error"]["message"], out[4])
    check(out[5]["error"]["code"] == -32600 and out[5]["id"] is None, out[5])
    check(out[6]["error"]["code"] == -32600 and
          "longer than" in out[6]["error"]["message"], out[6])
    check(out[7]["id"] == 5 and out[7]["result"]["protocolVersion"] == 1,
          out[7])
    check(rc == 0, "exit %r: %s" % (rc, err))
    check("parse error" in err, "no diagnostic on stderr: %r" % err)


def test_no_daemon(env):
    env.start_fakellm()
    env.use_fakellm()
    out, err, rc = raw_acp(env, [
        b'{"jsonrpc":"2.0","id":1,"method":"initialize",'
        b'"params":{"protocolVersion":1}}\n'], 1)
    e = out[0]["error"]
    check(out[0]["id"] == 1 and "podvisor daemon" in e["message"], e)
    check("cannot connect" in err and "podvisor daemon" in err, err)
    check(not os.path.exists(env.control_sock), "a daemon was started")


def start_approvals(env):
    """fakellm, and pods that ask before write and edit."""
    url = env.start_fakellm()
    env.write_config("[defaults]\nmodel = fake/fake-model\napproval = writes\n"
                     "\n[provider.fake]\nscheme = openai_chat\n"
                     "base_url = %s/v1\n" % url)
    env.start_daemon()


def statuses(ed, call_id):
    return [u["update"].get("status") for u in ed.updates
            if u["update"].get("toolCallId") == call_id]


def test_permission_allow_deny(env):
    start_approvals(env)
    ed = Editor(env)
    _, cwd, sid = open_session(env, ed)
    tag = ed.start("session/prompt", {"sessionId": sid,
                                      "prompt": prompt("@write a.txt hello")})
    m = ed.wait_permission()
    perm = m["permission"]
    check(perm["sessionId"] == sid, perm)
    call = perm["toolCall"]
    path = os.path.join(cwd, "a.txt")
    check(call["kind"] == "edit" and call["status"] == "pending" and
          call["locations"] == [{"path": path}], call)
    check(call["content"][0] == {"type": "diff", "path": path,
                                 "newText": "hello"}, call)
    check([o["kind"] for o in perm["options"]] ==
          ["allow_once", "allow_always", "reject_once"], perm["options"])
    check(not os.path.exists(path), "written before the answer")
    ed.answer(m["tag"], "allow_once")
    r = ed.wait_tag(tag)
    check(r.get("result", {}).get("stopReason") == "end_turn", r)
    with open(path) as f:
        check(f.read() == "hello", "a.txt")
    check(statuses(ed, call["toolCallId"])[-1] == "completed",
          statuses(ed, call["toolCallId"]))
    # Deny: the call fails, the turn goes on and ends.
    tag = ed.start("session/prompt", {"sessionId": sid,
                                      "prompt": prompt("@write b.txt no")})
    m = ed.wait_permission()
    ed.answer(m["tag"], "deny")
    r = ed.wait_tag(tag)
    check(r.get("result", {}).get("stopReason") == "end_turn", r)
    check(not os.path.exists(os.path.join(cwd, "b.txt")), "denied, written")
    cid = m["permission"]["toolCall"]["toolCallId"]
    check(statuses(ed, cid)[-1] == "failed", statuses(ed, cid))
    # Always: the pod keeps a rule for the file.
    tag = ed.start("session/prompt", {"sessionId": sid,
                                      "prompt": prompt("@write c.txt 1")})
    m = ed.wait_permission()
    ed.answer(m["tag"], "allow_always")
    r = ed.wait_tag(tag)
    check(os.path.exists(os.path.join(cwd, "c.txt")), "c.txt")
    rules = json.dumps(inspect(env, sid).get("approval"))
    check("c.txt" in rules, "no allow_always rule: %s" % rules)
    ed.close()


def test_permission_decided_elsewhere(env):
    """Another client answers first: the editor's question is withdrawn."""
    start_approvals(env)
    ed = Editor(env)
    _, cwd, sid = open_session(env, ed)
    tag = ed.start("session/prompt", {"sessionId": sid,
                                      "prompt": prompt("@write d.txt x")})
    m = ed.wait_permission()
    pc = Client(env.pod_sock(sid), expect_prelude="snapshot")
    pend = pc.prelude["data"]["pending_approvals"]
    check(len(pend) == 1, pend)
    pc.request("approve", {"id": pend[0]["id"], "decision": "allow_once"})
    ed.lines.wait(lambda mm: ed._collect(mm).get("permission_aborted") ==
                  m["tag"], what="the withdrawn question")
    r = ed.wait_tag(tag)
    check(r.get("result", {}).get("stopReason") == "end_turn", r)
    check(os.path.exists(os.path.join(cwd, "d.txt")), "d.txt")
    pc.close()
    ed.close()


def test_permission_after_reload(env):
    """The editor closed while the pod waited: a reopened one is asked."""
    start_approvals(env)
    ed = Editor(env)
    _, cwd, sid = open_session(env, ed)
    ed.start("session/prompt", {"sessionId": sid,
                                "prompt": prompt("@write e.txt y")})
    ed.wait_permission()
    ed.close()
    ed = Editor(env)
    ed.call("initialize", {"protocolVersion": 1})
    ed.call("session/load", {"sessionId": sid, "cwd": cwd, "mcpServers": []})
    m = ed.wait_permission()
    check(m["permission"]["toolCall"]["kind"] == "edit", m)
    ed.answer(m["tag"], "allow_once")
    ed.wait_update(lambda u: u["update"]["sessionUpdate"] ==
                   "agent_message_chunk" and "write ok" in
                   text_of(ed.updates, "agent_message_chunk"),
                   what="the rest of the turn")
    check(os.path.exists(os.path.join(cwd, "e.txt")), "e.txt")
    ed.close()


def test_modes(env):
    """Session modes are the pod's approval levels: session/new and load
    report the current one, set_mode changes the pod's policy for good,
    and a change made by another client arrives as current_mode_update."""
    start_approvals(env)
    ed = Editor(env)
    ed.call("initialize", {"protocolVersion": 1, "clientCapabilities": {}})
    cwd = env.mkdir("proj")
    res = ed.call("session/new", {"cwd": cwd, "mcpServers": []})
    sid = res["sessionId"]
    modes = res.get("modes") or {}
    check(modes.get("currentModeId") == "writes", res)
    check([m["id"] for m in modes["availableModes"]] ==
          ["never", "writes", "bash", "always"], modes)
    check(all(m["name"] for m in modes["availableModes"]), modes)
    # never: a write runs without a question.
    check(ed.call("session/set_mode", {"sessionId": sid,
                                       "modeId": "never"}) in (None, {}),
          "set_mode result")
    check(inspect(env, sid)["approval"]["policy"] == "never",
          inspect(env, sid))
    stop, _ = run_prompt(ed, sid, "@write free.txt ok")
    check(stop == "end_turn" and
          os.path.exists(os.path.join(cwd, "free.txt")), stop)
    # Another client changes the policy: the editor is told.
    r = env.cli("policy", sid, "always")
    check(r.returncode == 0, r.stderr)
    u = ed.wait_update(lambda u: u["update"]["sessionUpdate"] ==
                       "current_mode_update" and
                       u["update"]["currentModeId"] == "always",
                       what="current_mode_update to always")
    check(u["sessionId"] == sid and
          u["update"]["currentModeId"] == "always", u)
    tag = ed.start("session/prompt", {"sessionId": sid,
                                      "prompt": prompt("@read free.txt")})
    m = ed.wait_permission()
    check(m["permission"]["toolCall"]["kind"] == "read", m)
    ed.answer(m["tag"], "allow_once")
    check(ed.wait_tag(tag)["result"]["stopReason"] == "end_turn", "read")
    # Bad modes and unknown sessions change nothing.
    e = ed.call_error("session/set_mode", {"sessionId": sid,
                                           "modeId": "yolo"})
    check(e["code"] == -32602 and "modeId" in e["message"], e)
    e = ed.call_error("session/set_mode", {"sessionId": "nobody",
                                           "modeId": "never"})
    check(e["code"] == -32002, e)
    check(inspect(env, sid)["approval"]["policy"] == "always",
          inspect(env, sid))
    ed.close()
    # A reopened editor sees the mode the pod has.
    ed = Editor(env)
    ed.call("initialize", {"protocolVersion": 1})
    res = ed.call("session/load", {"sessionId": sid, "cwd": cwd,
                                   "mcpServers": []})
    check((res.get("modes") or {}).get("currentModeId") == "always", res)
    ed.close()


def test_mcp_servers(env):
    """session/new's mcpServers become the pod's MCP servers (podvisord's
    inline mcp_servers): the model calls them, their env values stay out
    of pod state, and a transport pods lack is refused by name."""
    ev = os.path.join(HERE, "..", "mcp", "node_modules",
                      "@modelcontextprotocol", "server-everything", "dist",
                      "index.js")
    if not os.path.exists(ev):
        print("skip test_mcp_servers: tests/mcp/node_modules is missing "
              "(run 'npm ci --prefix tests/mcp')")
        return
    start(env)
    ed = Editor(env)
    ed.call("initialize", {"protocolVersion": 1, "clientCapabilities": {}})
    cwd = env.mkdir("proj")
    servers = [{"name": "ev", "command": shutil.which("node"),
                "args": [ev, "stdio"],
                "env": [{"name": "EV_TOKEN", "value": "s3cret-acp-7"}]}]
    sid = ed.call("session/new", {"cwd": cwd,
                                  "mcpServers": servers})["sessionId"]
    check(inspect(env, sid).get("mcp") == ["ev"], inspect(env, sid))
    stop, ups = run_prompt(
        ed, sid, '@tool mcp__ev__echo {"message":"hello from the editor"}')
    check(stop == "end_turn", stop)
    done = [u["update"] for u in ups
            if u["update"].get("sessionUpdate") == "tool_call_update" and
            u["update"].get("status") == "completed"]
    check(done and "hello from the editor" in json.dumps(done), ups)
    with open(env.pod_state(sid)) as f:
        check("s3cret-acp-7" not in f.read(), "the env value is in state")
    # An http server (Streamable HTTP) passes through too; nothing
    # listens on port 9, so the pod only gets an alert naming it.
    sid = ed.call("session/new", {"cwd": env.mkdir("web"), "mcpServers": [
        {"type": "http", "name": "web", "url": "http://127.0.0.1:9/mcp",
         "headers": [{"name": "X-Token", "value": "s3cret-acp-8"}]}]}
    )["sessionId"]
    check(inspect(env, sid).get("mcp") == ["web"], inspect(env, sid))
    with open(env.pod_state(sid)) as f:
        check("s3cret-acp-8" not in f.read(), "the header is in state")
    e = ed.call_error("session/new", {"cwd": env.mkdir("sse"), "mcpServers": [
        {"type": "sse", "name": "old", "url": "http://127.0.0.1:9/sse",
         "headers": []}]})
    check(e["code"] == -32603 and "sse" in e["message"], e)
    ed.close()


def main():
    if not os.path.isdir(os.path.join(HERE, "node_modules",
                                      "@agentclientprotocol", "sdk")):
        print("SKIP: tests/acp/node_modules is missing (run "
              "'npm ci --prefix tests/acp')")
        sys.exit(77)
    if shutil.which("node") is None:
        print("SKIP: node is not installed")
        sys.exit(77)
    run_tests([test_initialize_new_prompt, test_prompt_tool_calls,
               test_cancel_mid_turn, test_load_after_kill9,
               test_load_after_daemon_restart, test_several_clients,
               test_unknown_session_and_bad_params, test_malformed_input,
               test_no_daemon, test_permission_allow_deny,
               test_permission_decided_elsewhere,
               test_permission_after_reload, test_modes,
               test_mcp_servers])


if __name__ == "__main__":
    main()
