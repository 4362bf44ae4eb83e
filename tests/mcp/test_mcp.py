# SPDX-License-Identifier: ISC
"""MCP tool servers in a pod (worker/mcp*.c), end to end: the real
podvisor-worker (the test plays podvisord on fd 3, workerctl.py), the
real tests/fakellm calling the tools by directive, and as servers the
real @modelcontextprotocol/server-everything and server-filesystem from
npm (pinned by package-lock.json; '.ci/run' runs 'npm ci --prefix
tests/mcp') plus hostile.py.  Skips (exit 77) with the reason when
tests/mcp/node_modules is missing.  No sleeps: every wait is for an
event, a reply or a log line with a bounded timeout."""

import json
import re
import os
import shutil
import signal
import socket
import subprocess
import sys
import time

import pvtest
from pvtest import check, text_input
from workerctl import Worker, events_after_prelude

HERE = os.path.dirname(os.path.abspath(__file__))
MODS = os.path.join(HERE, "node_modules", "@modelcontextprotocol")
EVERYTHING = os.path.join(MODS, "server-everything", "dist", "index.js")
FILESYSTEM = os.path.join(MODS, "server-filesystem", "dist", "index.js")
HOSTILE = os.path.join(HERE, "hostile.py")
HOSTILE_HTTP = os.path.join(HERE, "hostile_http.py")
NODE = shutil.which("node") or "node"


def everything(name="ev", **kw):
    d = {"name": name, "command": NODE, "args": [EVERYTHING, "stdio"]}
    d.update(kw)
    return d


def hostile(name="bad", env=None, **kw):
    d = {"name": name, "command": sys.executable, "args": [HOSTILE],
         "env": env or {}}
    d.update(kw)
    return d


def run(p, task, timeout=30):
    """Run task; returns the (event, data) pairs up to run_end."""
    r = p.request("run", text_input(task))
    check(r["event"] == "accepted", "run accepted: %r" % r)
    msgs = p.collect_until("run_end", timeout)
    return events_after_prelude(msgs)


def results(evs):
    return [d for ev, d in evs if ev == "tool_result"]


def wait_log(w, text, timeout=None):
    """Wait until the worker's stderr holds text (polls the file the
    worker appends to; bounded)."""
    deadline = time.monotonic() + (timeout or pvtest.DEFAULT_TIMEOUT)
    while time.monotonic() < deadline:
        if text in w.log_all():
            return
        time.sleep(0.02)
    pvtest.fail("worker log lacks %r:\n%s" % (text, w.log()))


def log_all(self):
    with open(self.stderr_path, errors="replace") as f:
        return f.read()


Worker.log_all = log_all


def recorded(path):
    with open(path) as f:
        return [json.loads(line) for line in f if line.strip()]


def free_port():
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    port = s.getsockname()[1]
    s.close()
    return port


class HttpServer:
    """A server on 127.0.0.1 whose start-up line (in its output file,
    stdout and stderr together) is awaited, never slept for."""

    def __init__(self, env, argv, ready, extra_env=None, name="srv"):
        self.log_path = os.path.join(env.root, name + ".out")
        for _ in range(3):  # a port taken in between: another one
            self.port = free_port()
            e = dict(env.env)
            e["PORT"] = str(self.port)
            e.update(extra_env or {})
            out = open(self.log_path, "w")
            self.proc = subprocess.Popen(argv, stdout=out, stderr=out,
                                         env=e, cwd=env.root)
            out.close()
            env.procs.append(self.proc)
            deadline = time.monotonic() + pvtest.DEFAULT_TIMEOUT
            while time.monotonic() < deadline:
                if ready in self.log():
                    self.url = "http://127.0.0.1:%d/mcp" % self.port
                    return
                if self.proc.poll() is not None:
                    break
                time.sleep(0.02)
            if "EADDRINUSE" not in self.log() and \
                    "already in use" not in self.log():
                pvtest.fail("server did not start:\n" + self.log())
        pvtest.fail("no free port:\n" + self.log())

    def log(self):
        with open(self.log_path, errors="replace") as f:
            return f.read()

    def wait_log(self, text, timeout=None):
        deadline = time.monotonic() + (timeout or pvtest.DEFAULT_TIMEOUT)
        while time.monotonic() < deadline:
            if text in self.log():
                return
            time.sleep(0.02)
        pvtest.fail("server output lacks %r:\n%s" % (text, self.log()))

    def stop(self):
        if self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait()


def everything_http(env):
    """server-everything in its streamableHttp mode; it says 'listening
    on port N' once it accepts connections."""
    return HttpServer(env, [NODE, EVERYTHING, "streamableHttp"],
                      "listening on port", name="everything")


def test_everything_tools(env):
    """server-everything over stdio: its tools reach the model with
    their schemas, text/image/resource/structured results come back."""
    rec = os.path.join(env.root, "req.jsonl")
    url = env.start_fakellm(record=rec)
    w = Worker(env, "a", url, mcp=[everything()])
    p = w.client()
    task = "\n".join([
        '@tool mcp__ev__echo {"message":"hello mcp"}',
        '@tool mcp__ev__get-sum {"a":2,"b":40}',
        '@tool mcp__ev__get-tiny-image {}',
        '@tool mcp__ev__get-structured-content {"location":"Chicago"}',
        '@tool mcp__ev__get-resource-reference '
        '{"resourceType":"Text","resourceId":2}',
        '@tool mcp__ev__no-such-tool {}',
    ])
    evs = run(p, task, 60)
    res = results(evs)
    check(len(res) == 6, "6 results: %r" % res)
    check(not res[0]["is_error"] and "hello mcp" in res[0]["output"],
          "echo: %r" % res[0])
    check("42" in res[1]["output"], "sum: %r" % res[1])
    check("[image image/png" in res[2]["output"], "image: %r" % res[2])
    check("Light rain" in res[3]["output"], "structured: %r" % res[3])
    check("[resource " in res[4]["output"], "resource: %r" % res[4])
    check(res[5]["is_error"] and "MCP server ev" in res[5]["output"],
          "unknown tool: %r" % res[5])
    # The model saw the tools with the server's schema.
    body = recorded(rec)[0]["body"]
    tools = {t["function"]["name"]: t["function"] for t in body["tools"]}
    check("mcp__ev__echo" in tools and "bash" in tools, "tools: %r" %
          sorted(tools))
    check(tools["mcp__ev__get-sum"]["parameters"]["properties"]["a"]
          ["type"] == "number", "schema: %r" % tools["mcp__ev__get-sum"])
    g = w.client().prelude["data"]["greeting"]
    check("mcp__ev__echo" in g["tools"], "greeting tools")
    check(g["mcp"] == [{"name": "ev", "state": "ready"}], "greeting mcp: %r"
          % g["mcp"])
    # The log holds the results; a restore does not re-run anything.
    kinds = [e["kind"] for e in w.entries()]
    check(kinds.count("tool_result") == 6, "logged results")
    w.shutdown()


def test_progress_and_cancel(env):
    """Progress notifications become tool_progress events; cancelling the
    turn sends notifications/cancelled (hostile.py logs it)."""
    url = env.start_fakellm()
    w = Worker(env, "a", url, mcp=[everything(), hostile()])
    p = w.client()
    r = p.request("run", text_input(
        '@tool mcp__ev__trigger-long-running-operation '
        '{"duration":1,"steps":4}'))
    check(r["event"] == "accepted", "run")
    msgs = p.collect_until("run_end", 30)
    evs = events_after_prelude(msgs)
    prog = [d for ev, d in evs if ev == "tool_progress"]
    check(len(prog) >= 3 and prog[-1]["total"] == 4, "progress: %r" % prog)
    check(not results(evs)[0]["is_error"], "long op: %r" % results(evs))
    p.request("run", text_input('@tool mcp__bad__hang {}'))
    p.wait_event("tool_call_done")
    r = p.call("cancel")
    check(r["event"] == "accepted", "cancel: %r" % r)
    end = p.wait_event("run_end")
    check(end["data"]["result"] == "cancelled", "cancelled: %r" % end)
    wait_log(w, "hostile: cancelled")
    w.shutdown()


def test_hostile(env):
    """Crash, hang, garbage, a huge line: each is a tool error naming the
    server and the cause, the server restarts with backoff, the worker
    stays up; pagination of tools/list; stderr lines cut."""
    url = env.start_fakellm()
    w = Worker(env, "a", url, mcp=[hostile(timeout_s=2)])
    p = w.client()
    g = p.prelude["data"]["greeting"]
    evs = run(p, '@tool mcp__bad__ok {"text":"first"}')
    check(results(evs)[0]["output"] == "ok: first", "ok: %r" % results(evs))
    g = w.client().prelude["data"]["greeting"]
    names = [t for t in g["tools"] if t.startswith("mcp__bad__")]
    check(len(names) == 12 and "mcp__bad__t4" in names,
          "3 pages of tools: %r" % names)
    cases = [("crash", "exited with status 3"),
             ("garbage", "not JSON-RPC"),
             ("huge", "longer than 4 MiB"),
             ("hang", "2 s timeout")]
    alerts = []
    for tool, cause in cases:
        evs = run(p, '@tool mcp__bad__%s {}\n@tool mcp__bad__ok '
                  '{"text":"after %s"}' % (tool, tool), 40)
        res = results(evs)
        check(res[0]["is_error"] and "MCP server bad" in res[0]["output"]
              and cause in res[0]["output"], "%s: %r" % (tool, res[0]))
        # The next call waits for the restart and works.
        check(not res[1]["is_error"] and
              res[1]["output"] == "ok: after %s" % tool,
              "after %s: %r" % (tool, res[1]))
        alerts += [d["message"] for ev, d in evs if ev == "alert"]
    check(len([a for a in alerts if "restarting in 1 s" in a]) == 3,
          "a restart alert for crash, garbage, huge: %r" % alerts)
    evs = run(p, '@tool mcp__bad__stderr_flood {}')
    check(not results(evs)[0]["is_error"], "flood answered")
    wait_log(w, "E" * 100 + "")
    check(max(len(x) for x in w.log_all().splitlines()) < 4000,
          "stderr line not cut")
    check(w.proc.poll() is None, "worker alive")
    w.shutdown()


def test_list_changed(env):
    """notifications/tools/list_changed over stdio: the tools are listed
    again (all pages) and the next model request offers the new tool."""
    rec = os.path.join(env.root, "req.jsonl")
    url = env.start_fakellm(record=rec)
    w = Worker(env, "a", url, mcp=[hostile()])
    p = w.client()
    evs = run(p, '@tool mcp__bad__add_tool {}')
    check(results(evs)[0]["output"] == "added a tool", "add_tool: %r" %
          results(evs))
    wait_log(w, "MCP server bad: tool list changed (13 tools)")
    evs = run(p, '@tool mcp__bad__added {"text":"new"}')
    check(results(evs)[0]["output"] == "added: new", "added: %r" %
          results(evs))
    names = [t["function"]["name"] for t in recorded(rec)[-2]["body"]["tools"]]
    check("mcp__bad__added" in names and "mcp__bad__t4" in names,
          "the model saw the new list: %r" % names)
    check("mcp__bad__added" not in [
        t["function"]["name"] for t in recorded(rec)[0]["body"]["tools"]],
        "not before the change")
    w.shutdown()


def test_start_failures(env):
    """A server that cannot start, exits at start, answers an old
    protocol version or never answers initialize: the pod runs, its
    tools error naming the server and cause."""
    url = env.start_fakellm()
    w = Worker(env, "a", url, mcp=[
        {"name": "nocmd", "command": "/nonexistent/mcp-server"},
        hostile("quits", env={"HOSTILE_START": "exit"}),
        hostile("old", env={"HOSTILE_START": "badversion"}),
        hostile("mute", env={"HOSTILE_START": "silent"},
                init_timeout_s=1),
        hostile("v0326", env={"HOSTILE_VERSION": "2025-03-26"}),
    ])
    p = w.client()
    evs = run(p, '@tool mcp__v0326__ok {"text":"older protocol"}\n'
              '@tool mcp__quits__ok {}', 30)
    res = results(evs)
    check(res[0]["output"] == "ok: older protocol", "2025-03-26: %r" % res)
    check(res[1]["is_error"] and "quits" in res[1]["output"], "quits: %r"
          % res[1])
    alerts = " | ".join(d["message"] for ev, d in evs if ev == "alert")
    alerts += " | ".join(a["message"] for a in
                         w.client().prelude["data"]["alerts"])
    for frag in ("nocmd: cannot start: command /nonexistent/mcp-server",
                 "quits: exited with status 4",
                 "refusing to start",
                 "old: speaks MCP protocol version 2024-11-05",
                 "mute: no answer to initialize within 1 s"):
        check(frag in alerts, "alert %r missing in %s" % (frag, alerts))
    check(w.proc.poll() is None, "worker alive")
    w.shutdown()


def test_restore_interrupted(env):
    """kill -9 of the worker during an MCP call: the restored pod starts
    its servers again and reports the call as interrupted; nothing is
    re-run."""
    rec = os.path.join(env.root, "req.jsonl")
    url = env.start_fakellm(record=rec)
    w = Worker(env, "a", url, mcp=[hostile()])
    p = w.client()
    p.request("run", text_input('@tool mcp__bad__hang {}'))
    call = p.wait_event("tool_call_done")["data"]
    wait_log(w, "hostile: call hang")
    w.kill()
    w.restart(restore=True)
    p = w.client()
    evs = run(p, '@tool mcp__bad__ok {"text":"after restore"}')
    res = results(evs)
    check([r["output"] for r in res] == ["[interrupted]",
                                         "ok: after restore"] and
          res[0]["id"] == call["id"], "interrupted, then the restarted "
          "server answers: %r" % res)
    res = [e for e in w.entries() if e["kind"] == "tool_result" and
           e["id"] == call["id"]]
    check(len(res) == 1 and res[0]["output"] == "[interrupted]" and
          res[0]["is_error"], "interrupted call: %r" % res)
    check(w.log_all().count("hostile: call hang") == 1,
          "the hung call ran once:\n" + w.log())
    check(len(recorded(rec)) == 3, "3 model requests: %d" %
          len(recorded(rec)))
    w.shutdown()


def test_confined(env):
    """server-filesystem given / as its root: the kernel refuses its
    write outside the pod's scope, the write inside works."""
    outside = os.path.join(env.root, "outside")
    os.makedirs(outside)
    url = env.start_fakellm()
    # No /tmp scratch: the test's directories are beneath /tmp.
    w = Worker(env, "a", url, bash={"scratch": [], "timeout_s": 30},
               mcp=[{"name": "fs", "command": NODE,
                     "args": [FILESYSTEM, "/"]}])
    p = w.client()
    inside = os.path.join(env.work, "in.txt")
    out = os.path.join(outside, "out.txt")
    evs = run(p, "\n".join([
        '@tool mcp__fs__write_file %s' % json.dumps(
            {"path": inside, "content": "inside"}),
        '@tool mcp__fs__write_file %s' % json.dumps(
            {"path": out, "content": "outside"}),
        '@tool mcp__fs__read_text_file %s' % json.dumps(
            {"path": "/etc/hostname"}),
    ]), 60)
    res = results(evs)
    check(not res[0]["is_error"], "write inside: %r" % res[0])
    with open(inside) as f:
        check(f.read() == "inside", "inside written")
    check(res[1]["is_error"], "write outside refused: %r" % res[1])
    check("EACCES" in res[1]["output"] or "EROFS" in res[1]["output"] or
          "denied" in res[1]["output"].lower() or
          "read-only" in res[1]["output"].lower(),
          "the kernel's refusal: %r" % res[1])
    check(not os.path.exists(out), "file outside the scope exists")
    check(not res[2]["is_error"], "reads anywhere: %r" % res[2])
    w.shutdown()


def test_secret_env(env):
    """A server's env values reach it but never the log or events."""
    url = env.start_fakellm()
    secret = "mcp-secret-4242-xyzzy"
    w = Worker(env, "a", url, mcp=[everything(env={"API_TOKEN": secret})])
    p = w.client()
    evs = run(p, '@tool mcp__ev__get-env {}', 30)
    check(secret in results(evs)[0]["output"], "env reached the server")
    w.shutdown()
    check(secret not in w.log_all(), "secret in the worker log")


def mcp_config(env):
    secret = "mcp-config-secret-31337"
    env.start_fakellm()
    env.use_fakellm(extra=(
        "\n[defaults]\nmcp = ev\n\n"
        "[mcp.ev]\ncommand = %s\nargs = %s stdio\n"
        "env_env.API_TOKEN = PVTEST_MCP_SECRET\nenv.PLAIN = visible\n\n"
        "[mcp.bad]\ncommand = %s\narg = %s\ntimeout_s = 5\n" %
        (NODE, EVERYTHING, sys.executable, HOSTILE)))
    env.start_daemon({"PVTEST_MCP_SECRET": secret})
    return secret


def test_daemon_config(env):
    """config.ini [mcp.NAME] + [defaults] mcp + spawn's mcp: the worker
    gets the servers, ls --json and the state show their names, a child
    gets only a subset of its parent's (not_subset otherwise), an
    env_env secret reaches the server and nowhere else."""
    secret = mcp_config(env)
    c = env.control()
    r = c.call("spawn", {"name": "dflt", "cwd": env.mkdir("dflt")})
    check(r["event"] == "spawned", "spawn: %r" % r)
    r = c.call("spawn", {"name": "a", "cwd": env.mkdir("a"),
                         "mcp": ["ev", "bad"]})
    check(r["event"] == "spawned", "spawn a: %r" % r)
    e = c.call("spawn", {"name": "x", "cwd": env.mkdir("x"),
                         "mcp": ["nope"]})
    check(e["event"] == "error" and "[mcp.nope]" in e["data"]["message"],
          "unknown server: %r" % e)
    ls = json.loads(env.cli("ls", "--json").stdout)
    pods = {p["name"]: p for p in (ls["pods"] if isinstance(ls, dict)
                                   else ls)}
    check(pods["dflt"]["mcp"] == ["ev"], "default mcp: %r" % pods["dflt"])
    check(pods["a"]["mcp"] == ["ev", "bad"], "a's mcp: %r" % pods["a"])
    check(env.read_state("a")["mcp"] == ["ev", "bad"], "state mcp")
    pc = env.pod_client("a")
    evs = run(pc, '@tool mcp__ev__get-env {}\n'
              '@tool mcp__bad__ok {"text":"via config"}\n'
              '@spawn_pod {"name":"a.kid","task":"@tool mcp__bad__ok {}",'
              '"scope":[{"target":"%s","permission":"write"}],'
              '"mcp":["bad"]}\n'
              '@spawn_pod {"name":"a.kid2","task":"hi",'
              '"scope":[{"target":"%s","permission":"write"}],'
              '"mcp":["ev","other"]}' % (env.mkdir("a/k1"),
                                         env.mkdir("a/k2")), 60)
    res = results(evs)
    check(secret in res[0]["output"] and "visible" in res[0]["output"],
          "env reached the server: %r" % res[0]["summary"])
    check(res[1]["output"] == "ok: via config", "bad/ok: %r" % res[1])
    check(not res[2]["is_error"], "child spawned: %r" % res[2])
    check(res[3]["is_error"] and "not_subset" in res[3]["output"] and
          "other" in res[3]["output"], "subset refused: %r" % res[3])
    check(env.read_state("a.kid")["mcp"] == ["bad"], "child's mcp")
    kid = json.loads(env.cli("status", "a.kid", "--json").stdout)
    kid = kid.get("pod", kid)
    check(kid["mcp"] == ["bad"], "status shows mcp: %r" % kid)
    # The secret is nowhere but in what the server printed.
    for name in ("a", "a.kid", "dflt"):
        with open(env.pod_state(name)) as f:
            check(secret not in f.read(), "secret in state of " + name)
    check(secret not in env.daemon_log(), "secret in the daemon log")
    for root, _, files in os.walk(env.runtime):
        for fn in files:
            if fn.endswith(".log"):
                with open(os.path.join(root, fn), errors="replace") as f:
                    check(secret not in f.read(), "secret in " + fn)


def test_daemon_inline(env):
    """control spawn's inline mcp_servers (what ACP's mcpServers map to):
    used by the pod, names in state, env values nowhere; restore without
    them leaves the server out, restore with them brings it back."""
    mcp_config(env)
    c = env.control()
    token = "inline-secret-777"
    inline = [{"name": "inl", "command": sys.executable, "args": [HOSTILE],
               "env": [{"name": "TOKEN", "value": token}]}]
    e = c.call("spawn", {"name": "b", "cwd": env.mkdir("b"),
                         "mcp_servers": [{"name": "ev", "command": "x"}]})
    check(e["event"] == "error" and "defined twice" in
          e["data"]["message"], "clash with config: %r" % e)
    e = c.call("spawn", {"name": "b", "cwd": env.mkdir("b"),
                         "mcp_servers": [{"name": "h", "type": "sse",
                                          "url": "http://127.0.0.1:9/"}]})
    check(e["event"] == "error" and "not supported" in
          e["data"]["message"], "sse refused clearly: %r" % e)
    r = c.call("spawn", {"name": "b", "cwd": env.mkdir("b"),
                         "mcp_servers": inline})
    check(r["event"] == "spawned", "spawn: %r" % r)
    check(env.read_state("b")["mcp"] == ["ev", "inl"], "names in state: %r"
          % env.read_state("b").get("mcp"))
    pc = env.pod_client("b")
    evs = run(pc, '@tool mcp__inl__ok {"text":"inline"}')
    check(results(evs)[0]["output"] == "ok: inline", "inline server")
    r = c.call("stop", {"name": "b"})
    check(r["event"] == "stopped", "stop: %r" % r)
    with open(env.pod_state("b")) as f:
        check(token not in f.read(), "inline secret in state")
    check(token not in env.daemon_log(), "inline secret in daemon log")
    # The daemon keeps inline definitions in memory only: after its
    # restart a restore must be given them again.
    c.close()
    env.kill_daemon(signal.SIGTERM)
    env.start_daemon({"PVTEST_MCP_SECRET": "x"})
    c = env.control()
    r = c.call("restore", {"name": "b"})
    check(r["event"] == "restored", "restore: %r" % r)
    g = env.pod_client("b").prelude["data"]["greeting"]
    check([m["name"] for m in g["mcp"]] == ["ev"], "restored without the "
          "inline definition: %r" % g["mcp"])
    c.call("stop", {"name": "b"})
    r = c.call("restore", {"name": "b", "mcp_servers": inline})
    check(r["event"] == "restored", "restore: %r" % r)
    pc = env.pod_client("b")
    evs = run(pc, '@tool mcp__inl__ok {"text":"again"}')
    check(results(evs)[0]["output"] == "ok: again", "inline after restore")


def test_http_everything(env):
    """server-everything over Streamable HTTP: tools/list, text, image,
    structuredContent and progress results (SSE responses), the session
    id from initialize sent after, the GET stream's notifications, the
    DELETE at shutdown; the secret header reaches nothing but the
    server."""
    srv = everything_http(env)
    secret = "http-header-secret-8080"
    rec = os.path.join(env.root, "req.jsonl")
    url = env.start_fakellm(record=rec)
    w = Worker(env, "a", url, mcp=[{
        "name": "evh", "url": srv.url,
        "headers": {"Authorization": "Bearer " + secret}}])
    p = w.client()
    evs = run(p, "\n".join([
        '@tool mcp__evh__echo {"message":"hello over http"}',
        '@tool mcp__evh__get-sum {"a":20,"b":22}',
        '@tool mcp__evh__get-tiny-image {}',
        '@tool mcp__evh__get-structured-content {"location":"Chicago"}',
        '@tool mcp__evh__trigger-long-running-operation '
        '{"duration":1,"steps":4}',
        '@tool mcp__evh__toggle-simulated-logging {}',
    ]), 60)
    res = results(evs)
    check(len(res) == 6 and not any(r["is_error"] for r in res),
          "6 results: %r" % res)
    check("hello over http" in res[0]["output"], "echo: %r" % res[0])
    check("42" in res[1]["output"], "sum: %r" % res[1])
    check("[image image/png" in res[2]["output"], "image: %r" % res[2])
    check("Light rain" in res[3]["output"], "structured: %r" % res[3])
    g = w.client().prelude["data"]["greeting"]
    check(g["mcp"] == [{"name": "evh", "state": "ready"}], "greeting: %r"
          % g["mcp"])
    check("mcp__evh__echo" in g["tools"], "tools: %r" % g["tools"])
    prog = [d for ev, d in evs if ev == "tool_progress"]
    check(len(prog) >= 3 and prog[-1]["total"] == 4, "progress: %r" % prog)
    body = recorded(rec)[0]["body"]
    tools = {t["function"]["name"]: t["function"] for t in body["tools"]}
    check(tools["mcp__evh__get-sum"]["parameters"]["properties"]["a"]
          ["type"] == "number", "schema: %r" % tools["mcp__evh__get-sum"])
    # The simulated log messages come on the GET stream (no request of
    # ours is open then): they reach the pod log.
    wait_log(w, "MCP server evh says:")
    # One session, from initialize to the DELETE at shutdown.
    sids = re.findall(r"Session initialized with ID: (\S+)", srv.log())
    check(len(sids) == 1, "one session: %r" % sids)
    check("with a session" in w.log_all(), "session in the log")
    w.shutdown()
    srv.wait_log("Received session termination request for session " +
                 sids[0])
    check(secret not in w.log_all(), "secret header in the worker log")
    for ev, d in evs:
        check(secret not in json.dumps(d), "secret in event " + ev)
    srv.stop()


def test_http_faults(env):
    """Connection refused, HTTP errors, an expired session, a server
    that goes away and comes back: tool errors naming the server, a
    reconnect with backoff, the worker stays up."""
    bad = HttpServer(env, [sys.executable, HOSTILE_HTTP], "listening",
                     extra_env={"HOSTILE_TOKEN": "tok-123"}, name="bad")
    dead = free_port()
    url = env.start_fakellm()
    w = Worker(env, "a", url, mcp=[
        {"name": "gone", "url": "http://127.0.0.1:%d/mcp" % dead,
         "init_timeout_s": 2},
        {"name": "noauth", "url": bad.url},
        {"name": "bad", "url": bad.url, "timeout_s": 2,
         "headers": {"Authorization": "Bearer tok-123"}}])
    p = w.client()
    evs = run(p, "\n".join([
        '@tool mcp__bad__ok {"text":"json answer"}',
        '@tool mcp__bad__sse {"text":"sse answer"}',
        '@tool mcp__bad__http500 {}',
        '@tool mcp__bad__hang {}',
        '@tool mcp__bad__add_tool {}',
    ]), 40)
    res = results(evs)
    # The first model request waited for every first start.
    alerts = " | ".join(a["message"] for a in
                        w.client().prelude["data"]["alerts"])
    check("MCP server gone: cannot reach http://127.0.0.1:%d/mcp" % dead
          in alerts, "connection refused: %s" % alerts)
    check("MCP server noauth: HTTP 401" in alerts, "401: %s" % alerts)
    check(res[0]["output"] == "ok: json answer", "json: %r" % res[0])
    check(res[1]["output"] == "sse: sse answer", "sse: %r" % res[1])
    check(res[2]["is_error"] and "MCP server bad" in res[2]["output"] and
          "HTTP 500" in res[2]["output"], "500: %r" % res[2])
    check(res[3]["is_error"] and "2 s timeout" in res[3]["output"],
          "timeout: %r" % res[3])
    # add_tool sends tools/list_changed on the GET stream: the next
    # model request sees the new tool.
    wait_log(w, "MCP server bad: tool list changed")
    evs = run(p, '@tool mcp__bad__added {"text":"new tool"}')
    check(results(evs)[0]["output"] == "added: new tool",
          "list_changed: %r" % results(evs))
    # The server forgets the session: 404, a new session, the call works
    # after the reconnect (it waits for it).
    evs = run(p, '@tool mcp__bad__forget {}\n'
              '@tool mcp__bad__ok {"text":"new session"}', 40)
    res = results(evs)
    check(res[1]["output"] == "ok: new session", "after 404: %r" % res)
    check("ended the session (HTTP 404)" in w.log_all(), "404 logged")
    # The server dies: calls fail naming it; it comes back on the same
    # port: the worker reconnects with backoff.
    port = bad.port
    readies = w.log_all().count("MCP server bad: ready")
    bad.stop()
    evs = run(p, '@tool mcp__bad__ok {"text":"down"}', 40)
    res = results(evs)
    check(res[0]["is_error"] and "MCP server bad" in res[0]["output"] and
          "cannot reach" in res[0]["output"], "down: %r" % res[0])
    again = subprocess.Popen([sys.executable, HOSTILE_HTTP],
                             stdout=subprocess.DEVNULL,
                             stderr=subprocess.DEVNULL,
                             env=dict(env.env, PORT=str(port),
                                      HOSTILE_TOKEN="tok-123"))
    env.procs.append(again)
    deadline = time.monotonic() + 40
    while w.log_all().count("MCP server bad: ready") == readies:
        check(time.monotonic() < deadline, "no reconnect:\n" + w.log())
        time.sleep(0.05)
    evs = run(p, '@tool mcp__bad__ok {"text":"back"}', 40)
    check(results(evs)[0]["output"] == "ok: back", "back: %r" %
          results(evs))
    check("tok-123" not in w.log_all(), "token in the worker log")
    check(w.proc.poll() is None, "worker alive")
    w.shutdown()


def test_daemon_http(env):
    """config.ini url + header_env: the pod gets the server, the secret
    reaches it (it answers 401 otherwise) and no log, state or event;
    control spawn's inline type http servers (ACP's) work too."""
    token = "cfg-http-secret-5150"
    bad = HttpServer(env, [sys.executable, HOSTILE_HTTP], "listening",
                     extra_env={"HOSTILE_TOKEN": token}, name="bad")
    env.start_fakellm()
    env.use_fakellm(extra=(
        "\n[mcp.web]\nurl = %s\nheader_env.Authorization = PVTEST_H\n"
        "timeout_s = 5\n" % bad.url))
    env.start_daemon({"PVTEST_H": "Bearer " + token})
    c = env.control()
    r = c.call("spawn", {"name": "a", "cwd": env.mkdir("a"),
                         "mcp": ["web"]})
    check(r["event"] == "spawned", "spawn: %r" % r)
    pc = env.pod_client("a")
    evs = run(pc, '@tool mcp__web__ok {"text":"via config"}')
    check(results(evs)[0]["output"] == "ok: via config", "config url: %r"
          % results(evs))
    r = c.call("spawn", {"name": "b", "cwd": env.mkdir("b"),
                         "mcp_servers": [{
                             "type": "http", "name": "inl", "url": bad.url,
                             "headers": [{"name": "Authorization",
                                          "value": "Bearer " + token}]}]})
    check(r["event"] == "spawned", "spawn inline http: %r" % r)
    pc = env.pod_client("b")
    evs = run(pc, '@tool mcp__inl__ok {"text":"inline http"}')
    check(results(evs)[0]["output"] == "ok: inline http", "inline: %r"
          % results(evs))
    for ev, d in evs:
        check(token not in json.dumps(d), "secret in event " + ev)
    e = c.call("spawn", {"name": "x", "cwd": env.mkdir("x"),
                         "mcp_servers": [{"type": "sse", "name": "s",
                                          "url": bad.url}]})
    check(e["event"] == "error" and "sse" in e["data"]["message"],
          "sse refused: %r" % e)
    c.call("stop", {"name": "a"})
    c.call("stop", {"name": "b"})
    for name in ("a", "b"):
        with open(env.pod_state(name)) as f:
            check(token not in f.read(), "secret in state of " + name)
    check(token not in env.daemon_log(), "secret in the daemon log")
    for root, _, files in os.walk(env.runtime):
        for fn in files:
            path = os.path.join(root, fn)
            if not os.path.isfile(path) or os.path.islink(path):
                continue
            with open(path, "rb") as f:
                check(token.encode() not in f.read(), "secret in " + fn)


if __name__ == "__main__":
    if not os.path.isfile(EVERYTHING) or not os.path.isfile(FILESYSTEM):
        print("SKIP: tests/mcp/node_modules is missing (run "
              "'npm ci --prefix tests/mcp')")
        sys.exit(77)
    pvtest.run_tests([test_everything_tools, test_progress_and_cancel,
                      test_hostile, test_list_changed, test_start_failures, test_restore_interrupted,
                      test_confined,
                      test_secret_env, test_daemon_config,
                      test_daemon_inline, test_http_everything,
                      test_http_faults, test_daemon_http])
