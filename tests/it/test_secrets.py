# SPDX-License-Identifier: ISC
"""Secrets: a pod runs with an API key (fakellm --require-key, config
api_key_env naming an env var of podvisord); the key must appear nowhere
a user, a client, a tool or a log can see: podvisord's stderr, every file
under the state and runtime dirs (stderr.log, state files,
supervisor.json, session logs), every event a client received, `podvisor
inspect --json` / `ls --json`, and the environment and /proc view of a
bash tool child.
"""

import json
import os
import secrets
import sys

from pvtest import check, run_tests, text_input

KEY = "sk-pvtest-" + secrets.token_hex(16)
KEY_VAR = "PVTEST_SECRET_API_KEY"


def run(p, text, log):
    p.request("run", text_input(text))
    msgs = p.collect_until("run_end", 30)
    p.wait_event("status")
    log.extend(msgs)
    end = msgs[-1]["data"]
    check(end["result"] == "finished", "turn %r: %r" % (text[:40], end))
    return [m["data"] for m in msgs if m.get("event") == "tool_result"]


def files_under(root):
    for d, _, files in os.walk(root):
        for n in files:
            p = os.path.join(d, n)
            if os.path.isfile(p) and not os.path.islink(p):
                yield p


def key_search(env, probe_env):
    env.start_fakellm(args=["--require-key", KEY])
    env.use_fakellm(extra="api_key_env = %s\n" % KEY_VAR)
    env.env[KEY_VAR] = KEY          # podvisord's (the user's) environment
    env.start_daemon()
    c = env.control()
    seen = [c.prelude]
    a = os.path.join(env.work, "a")
    os.makedirs(os.path.join(a, "kid"))
    seen.append(c.request("spawn", {"name": "a", "cwd": a}))
    p = env.pod_client("a")
    seen.append(p.prelude)
    # the key works (fakellm answers only with it)
    if probe_env:
        cmd = ("env; cat /proc/self/environ | tr '\\0' '\\n'; "
               "cat /proc/$PPID/cmdline | tr '\\0' ' '; echo ENV_DONE")
    else:
        cmd = "echo ENV_DONE"
    res = run(p, "@bash %s\n@write f.txt hello\n@read f.txt" % cmd, seen)
    env_out = res[0].get("output", "")
    check("ENV_DONE" in env_out, "bash env ran: %r" % res[0])
    leaked_env = KEY in env_out
    # pod tools, a child, a peer, notifications, stop and restore
    run(p, '@spawn_pod {"name":"a.kid","task":"@bash echo hi","scope":'
        '[{"target":"%s","permission":"write","recursive":true}]}' %
        os.path.join(a, "kid"), seen)
    k = env.pod_client("a.kid")
    seen.append(k.prelude)
    b = os.path.join(env.work, "b")
    os.makedirs(b)
    seen.append(c.request("spawn", {"name": "b", "cwd": b}))
    seen.append(c.request("register_peer", {"a": "a", "b": "b"}))
    seen.append(c.request("send", {"name": "b", "message": "hi b"}))
    seen.append(c.request("list"))
    for n in ("a", "a.kid", "b"):
        seen.append(c.request("inspect", {"name": n}))
    seen.append(c.request("stop", {"name": "b"}))
    seen.append(c.request("restore", {"name": "b"}))
    # a provider error message must not echo the key either
    seen += p.seen if hasattr(p, "seen") else []
    cli_out = []
    for args in (["ls", "--json"], ["inspect", "--json", "a"],
                 ["inspect", "a"], ["ls"], ["doctor"], ["logs", "a"]):
        r = env.cli(*args)
        cli_out.append((args, r.stdout + r.stderr))
    # where it must not be
    places = {}
    events = "\n".join(json.dumps(m) for m in seen)
    places["client events"] = events
    places["podvisord stderr"] = env.daemon_log()
    for root in (env.state, env.runtime):
        for path in files_under(root):
            with open(path, "rb") as f:
                places[path] = f.read().decode("utf-8", "replace")
    for args, out in cli_out:
        places["podvisor " + " ".join(args)] = out
    for n in ("a", "a.kid", "b"):
        pid = c.request("inspect", {"name": n})["data"].get("pid")
        if pid:
            with open("/proc/%d/cmdline" % pid, "rb") as f:
                places["cmdline of %s" % n] = f.read().decode()
            with open("/proc/%d/environ" % pid, "rb") as f:
                places["environ of worker %s" % n] = f.read().decode()
    found = sorted(w for w, text in places.items() if KEY in text)
    checked = len(places)
    print("  key searched in %d places (%d session/state/log files)" %
          (checked, sum(1 for w in places if w.startswith("/"))))
    print("  bash tool env shows the key: %s" % leaked_env)
    print("  worker environ holds the key: %s" % [
        w for w in found if w.startswith("environ of")])
    # the worker's own environ is not a leak by itself (only root or the
    # user can read it), but everything else is
    found = [w for w in found if not w.startswith("environ of")]
    check(not found, "the API key leaked into: %r" % found)
    check(not leaked_env, "the API key is in a bash tool's environment")


def test_key_never_leaks(env):
    key_search(env, False)


def test_key_not_in_tool_env(env):
    """Fixed bug, kept as a regression test: the api_key_env variable
    reached every bash child through the environment, so `env` in a bash
    tool printed the key into the tool result, the session log, events and
    the next request.  The worker now scrubs API keys from its environment
    (worker/worker.c worker_scrub_env)."""
    key_search(env, True)


MCP_TOKEN = "mcp-pvtest-" + secrets.token_hex(16)


def test_mcp_secret_never_leaks(env):
    """An MCP server's secret (config env_env.VAR naming a variable of
    podvisord's environment) reaches that server's environment and
    nothing else: not bash's environment, state, logs, events, CLI
    output.  The server is tests/mcp/hostile.py (python only)."""
    hostile = os.path.join(os.path.dirname(os.path.abspath(__file__)),
                           "..", "mcp", "hostile.py")
    env.start_fakellm()
    env.use_fakellm(extra=(
        "\n[mcp.s]\ncommand = %s\narg = %s\n"
        "env_env.TOKEN = PVTEST_MCP_TOKEN\n" % (sys.executable, hostile)))
    env.env["PVTEST_MCP_TOKEN"] = MCP_TOKEN
    env.start_daemon()
    c = env.control()
    seen = [c.prelude]
    a = os.path.join(env.work, "a")
    os.makedirs(a)
    seen.append(c.request("spawn", {"name": "a", "cwd": a, "mcp": ["s"]}))
    p = env.pod_client("a")
    seen.append(p.prelude)
    res = run(p, '@tool mcp__s__ok {"text":"hi"}\n@bash env; echo ENV_DONE',
              seen)
    check(res[0]["output"] == "ok: hi", "the server answered: %r" % res[0])
    check("ENV_DONE" in res[1]["output"], "bash ran")
    pid = c.request("inspect", {"name": "a"})["data"]["pid"]
    server_env = []
    for child in os.listdir("/proc"):
        try:
            with open("/proc/%s/stat" % child) as f:
                ppid = int(f.read().rsplit(")", 1)[1].split()[1])
            if ppid == pid:
                with open("/proc/%s/environ" % child, "rb") as f:
                    server_env.append(f.read().decode("utf-8", "replace"))
        except (OSError, ValueError, IndexError):
            continue
    check(any(MCP_TOKEN in e for e in server_env),
          "the token reached the server's environment")
    seen.append(c.request("list"))
    seen.append(c.request("inspect", {"name": "a"}))
    places = {"client events": "\n".join(json.dumps(m) for m in seen),
              "podvisord stderr": env.daemon_log(),
              "bash env": res[1]["output"]}
    for root in (env.state, env.runtime):
        for path in files_under(root):
            with open(path, "rb") as f:
                places[path] = f.read().decode("utf-8", "replace")
    for args in (["ls", "--json"], ["inspect", "--json", "a"]):
        r = env.cli(*args)
        places["podvisor " + " ".join(args)] = r.stdout + r.stderr
    found = sorted(w for w, text in places.items() if MCP_TOKEN in text)
    check(not found, "the MCP secret leaked into: %r" % found)


if __name__ == "__main__":
    tests = [test_key_never_leaks, test_key_not_in_tool_env,
             test_mcp_secret_never_leaks]
    run_tests(tests)
