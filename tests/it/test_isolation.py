# SPDX-License-Identifier: ISC
"""Pod isolation end to end (docs/isolation.md): the real podvisord,
workers and bash, driven through fakellm directives.

- private /tmp and /var/tmp: what one pod's bash writes there no other
  pod sees, the shared dirs stay untouched, the pod keeps its files
  across turns and restores, `forget` removes them.

Each check runs a bash command that prints a marker with its exit status,
so a refusal is seen as the command failing, never as a missing reply.
"""

import json
import os
import uuid

from pvtest import check, run_tests, text_input


def start(env):
    env.start_fakellm()
    env.use_fakellm()
    env.start_daemon()
    return env.control()


def spawn(c, env, name, **extra):
    params = {"name": name, "cwd": env.mkdir(name)}
    params.update(extra)
    return c.request("spawn", params)["data"]


def greeting(env, name):
    pc = env.pod_client(name)
    g = pc.prelude["data"]["greeting"]
    return pc, g


def bash(pc, command):
    """One turn running `command`; returns (exit status, output)."""
    pc.request("run", text_input("@bash %s; echo \"rc=$?\"" % command))
    msgs = pc.collect_until("run_end", 30)
    pc.wait_event("status")
    end = msgs[-1]["data"]
    check(end["result"] == "finished", "turn %r: %r" % (command, end))
    res = [m["data"] for m in msgs if m.get("event") == "tool_result"]
    check(len(res) == 1, "one tool result expected: %r" % res)
    out = res[0].get("output") or res[0]["summary"]
    lines = [l for l in out.splitlines() if l.startswith("rc=")]
    check(lines, "bash %r printed no status: %r" % (command, out))
    return int(lines[-1][3:]), out


def need_private_tmp(g):
    check(g.get("bash_readonly_mounts") is True,
          "bash does not run in a mount namespace on this machine "
          "(user namespaces disabled?)")
    check(g.get("private_tmp") is True,
          "the greeting says /tmp is not private: %r" % g)


def test_private_tmp(env):
    c = start(env)
    tag = "pvtest-iso-" + uuid.uuid4().hex[:12]
    shared = {"/tmp/" + tag, "/var/tmp/" + tag}
    # A file in the real /tmp the pods must not see.
    visible = "/tmp/%s-user" % tag
    with open(visible, "w") as f:
        f.write("the user's\n")
    try:
        spawn(c, env, "a")
        spawn(c, env, "b")
        pa, g = greeting(env, "a")
        need_private_tmp(g)
        pb, _ = greeting(env, "b")
        rc, out = bash(pa, "echo from-a > /tmp/%s && echo v > /var/tmp/%s "
                       "&& cat /tmp/%s" % (tag, tag, tag))
        check(rc == 0 and "from-a" in out, "a cannot use its /tmp: %s" % out)
        for p in shared:
            check(not os.path.exists(p), "%s appeared in the shared dir" % p)
        detail = c.request("inspect", {"name": "a"})["data"]
        tmp_dir = detail.get("tmp_dir")
        check(tmp_dir == os.path.join(env.state, "tmp", "a"),
              "inspect tmp_dir: %r" % tmp_dir)
        with open(os.path.join(tmp_dir, "tmp", tag)) as f:
            check(f.read() == "from-a\n", "a's /tmp file is not in tmp_dir")
        check(os.path.exists(os.path.join(tmp_dir, "var_tmp", tag)),
              "a's /var/tmp file is not in tmp_dir")
        # b sees neither a's files nor the user's.
        rc, out = bash(pb, "cat /tmp/%s /var/tmp/%s" % (tag, tag))
        check(rc != 0 and "from-a" not in out, "b reads a's /tmp: %s" % out)
        rc, out = bash(pb, "test -e %s" % visible)
        check(rc != 0, "b sees the user's /tmp file %s" % visible)
        # The pod's own cwd (beneath /tmp here) is still there, writable.
        rc, out = bash(pb, "echo ok > here.txt && cat here.txt")
        check(rc == 0 and "ok" in out, "b cannot write its cwd: %s" % out)
        # The files survive a turn, a stop and a restore.
        c.request("stop", {"name": "a"})
        c.request("restore", {"name": "a"})
        pa = env.pod_client("a")
        rc, out = bash(pa, "cat /tmp/%s" % tag)
        check(rc == 0 and "from-a" in out, "a lost its /tmp: %s" % out)
        # forget removes them, even a dir the pod made unreadable.
        rc, out = bash(pa, "mkdir -p /tmp/d/e && touch /tmp/d/e/f && "
                       "chmod 0 /tmp/d/e /tmp/d")
        check(rc == 0, "chmod in the private /tmp: %s" % out)
        c.request("stop", {"name": "a"})
        c.request("forget", {"name": "a"})
        check(not os.path.exists(tmp_dir), "forget left %s" % tmp_dir)
        with open(visible) as f:
            check(f.read() == "the user's\n", "the user's /tmp file changed")
    finally:
        os.unlink(visible)
        for p in shared:
            if os.path.exists(p):
                os.unlink(p)


def test_private_tmp_hostile(env):
    """The pod's tools replace what podvisor made in its private /tmp
    (the mountpoint of its cwd) by a link: the next bash still sees its
    own cwd, never the link's target."""
    c = start(env)
    spawn(c, env, "a")
    pa, g = greeting(env, "a")
    need_private_tmp(g)
    cwd = env.mkdir("a")
    top = "/" + cwd.split("/")[1] + "/" + cwd.split("/")[2]  # /tmp/pvtest-…
    check(top.startswith("/tmp/"), "the test tree is not under /tmp: %s" % cwd)
    victim = env.mkdir("victim")
    with open(os.path.join(victim, "v.txt"), "w") as f:
        f.write("victim\n")
    # In a's namespace `top` is a directory of its private /tmp (the
    # mountpoint path of its cwd): move it away and plant a link.
    rc, out = bash(pa, "cd / && mv %s /tmp/moved && ln -s %s %s" %
                   (top, victim, top))
    check(rc == 0, "a could not plant the link: %s" % out)
    rc, out = bash(pa, "pwd && ls && echo x > mine.txt")
    check(rc == 0 and "v.txt" not in out,
          "a's cwd after the planted link: %s" % out)
    check(os.path.exists(os.path.join(cwd, "mine.txt")),
          "a's write did not land in its cwd")
    check(os.listdir(victim) == ["v.txt"], "the link's target changed")


if __name__ == "__main__":
    run_tests([test_private_tmp, test_private_tmp_hostile])
