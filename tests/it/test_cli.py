# SPDX-License-Identifier: ISC
"""The podvisor CLI against the real podvisord, worker and fakellm.

Every command runs as a subprocess with a bounded timeout; waits are on
output lines and protocol replies, never on time.
"""

import json
import os
import select
import signal
import subprocess
import time

from pvtest import Client, binary, check, fail, run_tests

COMMANDS = ["daemon", "ping", "spawn", "ls", "inspect", "attach", "run",
            "send", "stop", "restore", "peer", "logs", "forget", "doctor",
            "demo"]


def no_escapes(r, what):
    """Output to a pipe must be plain text."""
    for name, text in (("stdout", r.stdout), ("stderr", r.stderr)):
        check("\x1b" not in text,
              "%s: escape code in %s: %r" % (what, name, text[:200]))


def ok(r, what):
    no_escapes(r, what)
    check(r.returncode == 0, "%s: exit %d\nstdout: %s\nstderr: %s" %
          (what, r.returncode, r.stdout, r.stderr))
    return r


def status(r, code, what):
    no_escapes(r, what)
    check(r.returncode == code, "%s: expected exit %d, got %d\nstdout: %s"
          "\nstderr: %s" % (what, code, r.returncode, r.stdout, r.stderr))
    return r


def start(env):
    env.start_fakellm()
    env.use_fakellm()
    env.start_daemon()


def test_help(env):
    r = ok(env.cli("--help"), "--help")
    for cmd in COMMANDS:
        check(cmd in r.stdout, "--help does not list %s" % cmd)
    for line in ("0  ok", "1  failure reported by the daemon",
                 "2  usage", "3  cannot reach the daemon"):
        check(line in r.stdout, "--help does not document exit %r" % line)
    for cmd in COMMANDS:
        r = ok(env.cli(cmd, "--help"), cmd + " --help")
        check(r.stdout.startswith("usage: podvisor %s" % cmd),
              "%s --help: %r" % (cmd, r.stdout[:100]))
    ok(env.cli("--version"), "--version")


def test_usage_errors(env):
    for args in ([], ["frobnicate"], ["--bogus", "ls"], ["spawn"],
                 ["spawn", "a", "b"], ["spawn", "Bad/Name"],
                 ["spawn", "a", "--scope", "execute:/x"],
                 ["spawn", "a", "--restart", "always"],
                 ["spawn", "a", "--cwd"], ["ls", "extra"],
                 ["inspect"], ["run", "a"], ["run", "a", ""],
                 ["send", "a"], ["stop", "a", "b"], ["stop", "--nope", "a"],
                 ["peer", "a"], ["logs"], ["forget"], ["attach"],
                 ["doctor", "x"], ["daemon", "x"], ["demo", "x"],
                 ["--timeout", "0", "ls"]):
        r = status(env.cli(*args), 2, "podvisor %s" % " ".join(args))
        check("podvisor" in r.stderr, "usage error without a message: %r"
              % r.stderr)


def test_unreachable(env):
    for args in (["ls"], ["ping"], ["spawn", "a"], ["inspect", "a"],
                 ["stop", "a"], ["forget", "a"], ["run", "a", "hi"],
                 ["attach", "a"], ["ls", "--json"]):
        r = status(env.cli(*args), 3, "podvisor %s, no daemon" %
                   " ".join(args))
        check("cannot connect to %s" % env.control_sock in r.stderr,
              "no socket path in %r" % r.stderr)
        check("podvisor daemon" in r.stderr and "systemctl" in r.stderr,
              "no fix in %r" % r.stderr)


def test_pods(env):
    start(env)
    r = ok(env.cli("ping"), "ping")
    check("running" in r.stdout, r.stdout)
    data = json.loads(ok(env.cli("ping", "--json"), "ping --json").stdout)
    check(data.get("protocol") == 1 and data.get("pid") == env.daemon.pid,
          "ping --json: %r" % data)

    a_dir = os.path.join(env.work, "a")
    b_dir = os.path.join(env.work, "b")
    os.makedirs(a_dir)
    os.makedirs(b_dir)
    r = ok(env.cli("spawn", "a", "--cwd", a_dir), "spawn a")
    check("spawned a" in r.stdout, r.stdout)
    r = ok(env.cli("spawn", "b", "--cwd", b_dir, "--scope", "write:.",
                   "--scope", "read:" + env.work + ":flat", "--json",
                   "--restart", "on-failure"), "spawn b --json")
    data = json.loads(r.stdout)
    check(data.get("name") == "b" and data.get("pid") > 0, data)

    # The daemon's own errors: exit 1, the code and a fix.
    r = status(env.cli("spawn", "a", "--cwd", a_dir), 1, "spawn a again")
    check("already_exists" in r.stderr, r.stderr)
    r = status(env.cli("spawn", "c", "--cwd", env.work), 1,
               "spawn overlapping")
    check("write_conflict" in r.stderr, r.stderr)
    r = status(env.cli("spawn", "c", "--cwd", env.work, "--json"), 1,
               "spawn overlapping --json")
    check(json.loads(r.stdout)["error"]["code"] == "write_conflict",
          r.stdout)

    r = ok(env.cli("ls"), "ls")
    lines = r.stdout.splitlines()
    check(lines[0].split() == ["NAME", "STATUS", "PARENT", "MODEL", "CWD",
                               "WRITE"], lines[0])
    row = {l.split()[0]: l.split() for l in lines[1:]}
    check(row["a"][1] == "live" and row["a"][4] == a_dir and
          row["a"][5] == a_dir, "ls row a: %r" % row.get("a"))
    check(row["b"][1] == "live", "ls row b: %r" % row.get("b"))
    pods = json.loads(ok(env.cli("ls", "--json"), "ls --json").stdout)["pods"]
    check([p["name"] for p in pods] == ["a", "b"], pods)

    r = ok(env.cli("inspect", "b"), "inspect b")
    check("read %s (flat)" % env.work in r.stdout or
          "read %s" % env.work in r.stdout, r.stdout)
    detail = json.loads(ok(env.cli("inspect", "--json", "b"),
                           "inspect --json").stdout)
    check(detail["restart"]["policy"] == "on-failure", detail)
    check(detail["session"]["segment"], detail)
    r = status(env.cli("inspect", "nope"), 1, "inspect nope")
    check("not_found" in r.stderr, r.stderr)

    data = json.loads(ok(env.cli("peer", "a", "b", "--json"), "peer").stdout)
    check(data == {"a": "a", "b": "b"}, data)
    check("b" in json.loads(env.cli("inspect", "a", "--json").stdout)["peers"],
          "peer not recorded")
    r = ok(env.cli("send", "a", "hello from the cli"), "send a")
    check("delivered to a" in r.stdout, r.stdout)

    r = ok(env.cli("stop", "a"), "stop a")
    check("stopped a" in r.stdout and a_dir in r.stdout, r.stdout)
    r = status(env.cli("stop", "a"), 1, "stop a again")
    data = json.loads(ok(env.cli("send", "a", "later", "--json"),
                         "send to stopped").stdout)
    check(data.get("delivered") is False, data)
    r = status(env.cli("run", "a", "hi"), 1, "run on a stopped pod")
    check("restore" in r.stderr, r.stderr)
    data = json.loads(ok(env.cli("restore", "a", "--json"),
                         "restore a").stdout)
    check(data.get("name") == "a" and data.get("pid") > 0, data)
    r = ok(env.cli("restore", "a"), "restore a again")
    check("already live" in r.stdout, r.stdout)
    data = json.loads(ok(env.cli("stop", "--json", "--recursive", "a"),
                         "stop --recursive --json").stdout)
    check(data.get("name") == "a" and isinstance(data.get("released"), list),
          data)
    r = ok(env.cli("forget", "a"), "forget a")
    check("forgot a" in r.stdout, r.stdout)
    check(not os.path.exists(env.pod_state("a")), "state of a left")
    data = json.loads(ok(env.cli("--json", "ls"), "ls after forget").stdout)
    check([p["name"] for p in data["pods"]] == ["b"], data)
    r = status(env.cli("forget", "b"), 1, "forget a live pod")


def test_run(env):
    start(env)
    ok(env.cli("spawn", "a", "--cwd", env.work), "spawn")
    r = ok(env.cli("run", "a", "@write hello.txt hi there\n@read hello.txt"),
           "run with tools")
    check("-> write" in r.stdout and "<- ok" in r.stdout, r.stdout)
    check("done: write ok" in r.stdout, r.stdout)
    check("[run finished]" in r.stdout, r.stdout)
    with open(os.path.join(env.work, "hello.txt")) as f:
        check(f.read() == "hi there", "hello.txt content")
    r = ok(env.cli("run", "a", "just talking"), "run text")
    check('fakellm: you said "just talking"' in r.stdout, r.stdout)
    # --json: the pod's events, one per line, ending with run_end.
    r = ok(env.cli("run", "--json", "a", "json please"), "run --json")
    events = [json.loads(l) for l in r.stdout.splitlines()]
    names = [e.get("event") for e in events]
    check("text_delta" in names and "run_end" in names, names)
    # A tool error is reported but the turn still finishes.
    r = ok(env.cli("run", "a", "@read /nonexistent/file"), "tool error")
    check("<- error" in r.stdout, r.stdout)
    r = status(env.cli("run", "nope", "hi"), 1, "run on a missing pod")
    check("not_found" in r.stderr, r.stderr)


def test_run_error(env):
    env.start_fakellm(scenario={"rules": [
        {"match": {"user_contains": "boom"}, "fail": "auth"}]})
    env.use_fakellm()
    env.start_daemon()
    ok(env.cli("spawn", "a", "--cwd", env.work), "spawn")
    r = status(env.cli("run", "a", "boom"), 1, "run with a provider error")
    check("ended: error" in r.stderr, r.stderr)
    ok(env.cli("run", "a", "fine now"), "run after the error")


SLOW = {"rules": [
    {"match": {"user_contains": "slow"},
     "reply": {"text": "partial answer that never ends", "chunks": 4},
     "stream": {"stall_after": 3}}]}


def cli_popen(env, *args):
    return subprocess.Popen([binary("PODVISOR_CLI", "podvisor")] +
                            list(args), env=env.env, stdin=subprocess.PIPE,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE)


def test_run_cancel(env):
    """Ctrl-C during 'run' cancels the turn: exit 1 with the reason."""
    env.start_fakellm(scenario=SLOW)
    env.use_fakellm()
    env.start_daemon()
    ok(env.cli("spawn", "a", "--cwd", env.work), "spawn")
    p = cli_popen(env, "run", "a", "slow please")
    try:
        wait_output(p, b"partial")
        p.send_signal(signal.SIGINT)
        check(p.wait(10) == 1, "run after Ctrl-C: exit %r" % p.returncode)
        err = p.stderr.read().decode()
        check("ended: cancelled" in err, err)
    finally:
        if p.poll() is None:
            p.kill()
            p.wait()
    r = ok(env.cli("run", "a", "fine"), "run after the cancel")
    check('you said "fine"' in r.stdout, r.stdout)


def test_attach_interrupt(env):
    """attach: Ctrl-C cancels a running turn; twice detaches; the pod
    keeps running."""
    env.start_fakellm(scenario=SLOW)
    env.use_fakellm()
    env.start_daemon()
    ok(env.cli("spawn", "a", "--cwd", env.work), "spawn")
    p = cli_popen(env, "attach", "a")
    try:
        wait_output(p, b"[attached to a")
        p.stdin.write(b"slow please\n")
        p.stdin.flush()
        wait_output(p, b"partial")
        p.send_signal(signal.SIGINT)
        wait_output(p, b"[cancelling the turn")
        wait_output(p, b"[run cancelled]")
        p.send_signal(signal.SIGINT)
        wait_output(p, b"[detached from a; it keeps running]")
        check(p.wait(10) == 0, "attach exit %r" % p.returncode)
    finally:
        if p.poll() is None:
            p.kill()
            p.wait()
    check(json.loads(env.cli("inspect", "a", "--json").stdout)["status"] ==
          "live", "the pod did not survive the detach")
    # Idle pod: one Ctrl-C only warns, the second detaches.
    p = cli_popen(env, "attach", "--no-input", "a")
    try:
        wait_output(p, b"[attached to a")
        p.send_signal(signal.SIGINT)
        wait_output(p, b"Ctrl-C again within 2 s to detach")
        p.send_signal(signal.SIGINT)
        wait_output(p, b"[detached from a")
        check(p.wait(10) == 0, "attach exit %r" % p.returncode)
    finally:
        if p.poll() is None:
            p.kill()
            p.wait()


def test_attach(env):
    start(env)
    ok(env.cli("spawn", "a", "--cwd", env.work), "spawn")
    ok(env.cli("run", "a", "first"), "run")
    r = ok(env.cli("attach", "a", input="second line\n"), "attach")
    out = r.stdout
    check('fakellm: you said "first"' in out, "history not shown: " + out)
    check('fakellm: you said "second line"' in out, out)
    check("[detached from a; it keeps running]" in out, out)
    check(json.loads(env.cli("inspect", "a", "--json").stdout)["status"] ==
          "live", "attach stopped the pod")
    # Empty stdin: shows the pod and detaches at once.
    r = ok(env.cli("attach", "a", input=""), "attach, empty stdin")
    check("second line" in r.stdout, r.stdout)


def test_logs(env):
    start(env)
    ok(env.cli("spawn", "a", "--cwd", env.work), "spawn")
    ok(env.cli("run", "a", "@write f.txt abc"), "run")
    r = ok(env.cli("logs", "a"), "logs")
    check("> @write f.txt abc" in r.stdout and "-> write" in r.stdout and
          "done: write ok" in r.stdout, r.stdout)
    status(env.cli("logs", "nope"), 1, "logs nope")
    # --follow: new entries appear; Ctrl-C ends it with 0.
    p = subprocess.Popen([binary("PODVISOR_CLI", "podvisor"), "logs", "-f",
                          "a"], env=env.env, stdout=subprocess.PIPE,
                         stderr=subprocess.PIPE)
    try:
        wait_output(p, b"done: write ok")
        ok(env.cli("run", "a", "followed text"), "run while following")
        wait_output(p, b'you said "followed text"')
        # A compaction starts a new segment: --follow moves on to it.
        # Enough history (2 x ~10k tokens) that there is something to
        # compact beyond the 8000 tokens kept verbatim.
        for i in range(2):
            ok(env.cli("run", "a", ("big%d " % i) + "lorem ipsum " * 3500),
               "big run")
            wait_output(p, b'you said "big%d' % i)
        c = env.pod_client("a")
        reply = c.call("compact")
        end = reply
        if reply.get("event") != "error":
            end = c.wait(lambda m: m.get("event") in
                         ("compact_done", "compact_failed"), 30)
        if end.get("event") != "compact_done":
            # Not every worker build compacts yet; say so, do not hide it.
            print("note: no compaction (%r); segment follow not tested" %
                  end.get("data"))
        else:
            ok(env.cli("run", "a", "after compaction"), "run after compact")
            wait_output(p, b'you said "after compaction"')
        p.send_signal(signal.SIGINT)
        check(p.wait(10) == 0, "logs -f exit %r" % p.returncode)
    finally:
        if p.poll() is None:
            p.kill()
            p.wait()


def wait_output(p, needle, timeout=10):
    """Read p's stdout until needle shows up (bounded)."""
    deadline = time.monotonic() + timeout
    buf = getattr(p, "seen_out", b"")
    while needle not in buf:
        left = deadline - time.monotonic()
        r, _, _ = select.select([p.stdout], [], [], max(0, left))
        if not r:
            fail("no %r in the output within %ds: %r" % (needle, timeout, buf))
        data = os.read(p.stdout.fileno(), 65536)
        if not data:
            fail("output ended without %r: %r" % (needle, buf))
        buf += data
    p.seen_out = buf[buf.index(needle) + len(needle):]


def test_doctor(env):
    r = status(env.cli("doctor"), 1, "doctor without a daemon")
    check("fail  control socket" in r.stdout, r.stdout)
    start(env)
    r = ok(env.cli("doctor"), "doctor")
    lines = r.stdout.splitlines()
    for line in lines[:-1]:
        check(line.split()[0] in ("ok", "warn", "fail"), "line %r" % line)
    check(any("provider fake reachable" in l for l in lines), r.stdout)
    check(any("Landlock" in l for l in lines), r.stdout)
    check(any("namespaces" in l for l in lines), r.stdout)


def test_demo(env):
    start(env)
    t0 = time.monotonic()
    r = ok(env.cli("demo", timeout=90), "demo")
    check(time.monotonic() - t0 < 60, "demo took too long")
    out = r.stdout
    check("conflict" in out and "write_conflict" in out, out)
    check("demo finished" in out and "restored" in out, out)
    check("child/report.txt" in out, out)
    # A podvisord that was running before the demo keeps running.
    check("keeps running" in out and "as it was before" in out, out)
    ok(env.cli("ping"), "ping after the demo")
    pods = json.loads(env.cli("ls", "--json").stdout)["pods"]
    check(pods == [], "demo left pods: %r" % pods)


def test_demo_fresh(env):
    """No daemon, no config, no key: the demo starts everything."""
    check(not os.path.exists(env.config), "config exists")
    try:
        r = ok(env.cli("demo", timeout=90), "demo on a fresh machine")
        check("podvisord started" in r.stdout, r.stdout)
        check("write_conflict" in r.stdout, r.stdout)
        # The demo stops the podvisord it started, and says so.
        check("stopped podvisord" in r.stdout and "which the demo started"
              in r.stdout, r.stdout)
        status(env.cli("ping"), 3, "ping after the demo stopped podvisord")
    finally:
        shutdown_started_daemon(env)


def test_daemon_start(env):
    try:
        r = ok(env.cli("daemon"), "daemon")
        check("started podvisord" in r.stdout, r.stdout)
        check(os.path.exists(os.path.join(env.runtime, "podvisord.log")),
              "no log file")
        ok(env.cli("ping"), "ping after daemon")
    finally:
        shutdown_started_daemon(env)


def shutdown_started_daemon(env):
    """Stop a daemon the CLI started (not ours to wait for): shut it down
    and wait for its control connection to close."""
    try:
        c = Client(env.control_sock, 5, expect_prelude="hello")
    except OSError:
        return
    c.call("shutdown", {"pods": "stop"}, 15)
    while c.read(15) is not None:
        pass
    c.close()


if __name__ == "__main__":
    run_tests([test_help, test_usage_errors, test_unreachable, test_pods,
               test_run, test_run_error, test_run_cancel, test_attach,
               test_attach_interrupt, test_logs,
               test_doctor, test_demo, test_demo_fresh, test_daemon_start])
