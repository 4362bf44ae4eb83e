# SPDX-License-Identifier: ISC
"""Pod isolation end to end (docs/isolation.md): the real podvisord,
workers and bash, driven through fakellm directives.

- private /tmp and /var/tmp: what one pod's bash writes there no other
  pod sees, the shared dirs stay untouched, the pod keeps its files
  across turns and restores, `forget` removes them.
- network policy: `off` makes a connect to a loopback listener the test
  started fail (and to an outside address), `loopback` lets bash reach
  its own lo but not the host's listener, `on` connects; a child may
  only narrow its parent's policy (`not_subset`).

Each check runs a bash command that prints a marker with its exit status,
so a refusal is seen as the command failing, never as a missing reply.
"""

import json
import os
import socket
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


def listener():
    """A TCP listener on 127.0.0.1 in the test's (the host's) network."""
    srv = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    srv.bind(("127.0.0.1", 0))
    srv.listen(8)
    return srv, srv.getsockname()[1]


CONNECT = "exec 3<>/dev/tcp/127.0.0.1/%d && echo connected"
# bash's own lo: listen and connect in one command.
SELF_LO = ("python3 -c 'import socket; s=socket.socket(); "
           "s.bind((\"127.0.0.1\",0)); s.listen(1); "
           "socket.create_connection(s.getsockname(), 2); print(\"lo-ok\")'")
OUTSIDE = "exec 3<>/dev/tcp/192.0.2.1/80"


def test_network_policy(env):
    c = start(env)
    srv, port = listener()
    try:
        spawn(c, env, "on")
        spawn(c, env, "lo", network="loopback")
        spawn(c, env, "off", network="off")
        for name, want in (("on", "on"), ("lo", "loopback"),
                           ("off", "off")):
            d = c.request("inspect", {"name": name})["data"]
            check(d.get("network") == want,
                  "inspect %s network: %r" % (name, d.get("network")))
        pon, g = greeting(env, "on")
        check(g.get("network") == "on" and
              g.get("network_isolation") == "none", "greeting: %r" % g)
        plo, g = greeting(env, "lo")
        check(g.get("network") == "loopback", "greeting: %r" % g)
        check(g.get("network_isolation") == "netns",
              "no network namespace for bash on this machine: %r" % g)
        poff, g = greeting(env, "off")
        check(g.get("network") == "off" and
              g.get("network_isolation") == "netns", "greeting: %r" % g)

        rc, out = bash(pon, CONNECT % port)
        check(rc == 0 and "connected" in out, "on cannot connect: %s" % out)
        for pc, name in ((plo, "loopback"), (poff, "off")):
            rc, out = bash(pc, CONNECT % port)
            check(rc != 0 and "connected" not in out,
                  "%s reached the host's listener: %s" % (name, out))
            rc, out = bash(pc, "timeout 5 bash -c '%s'" % OUTSIDE)
            check(rc != 0, "%s reached an outside address: %s" % (name, out))
        rc, out = bash(plo, SELF_LO)
        check(rc == 0 and "lo-ok" in out, "loopback: no own lo: %s" % out)
        rc, out = bash(poff, SELF_LO)
        check(rc != 0 and "lo-ok" not in out, "off: lo works: %s" % out)
        # bash cannot widen its own policy: lo stays down.
        rc, out = bash(poff, "ip link set lo up 2>&1; " + SELF_LO)
        check("lo-ok" not in out, "off: bash brought lo up: %s" % out)
        # The worker's own traffic (fakellm on 127.0.0.1) is unaffected:
        # every turn above reached the provider.  A restore keeps it.
        c.request("stop", {"name": "off"})
        c.request("restore", {"name": "off"})
        check(env.read_state("off").get("network") == "off",
              "pod state lost the network policy")
        poff = env.pod_client("off")
        rc, out = bash(poff, CONNECT % port)
        check(rc != 0, "off after a restore connects: %s" % out)
    finally:
        srv.close()


def test_network_narrow_only(env):
    c = start(env)
    spawn(c, env, "p", network="loopback")
    pp, _ = greeting(env, "p")
    base = ('@spawn_pod {"name":"p.%s","task":"hi","scope":[{"target":"%s",'
            '"permission":"write","recursive":true}],"cwd":"%s"%s}')

    def spawn_kid(name, net):
        extra = ',"network":"%s"' % net if net else ""
        kid = env.mkdir("p/" + name)
        pp.request("run", text_input(base % (name, kid, kid, extra)))
        msgs = pp.collect_until("run_end", 30)
        pp.wait_event("status")
        res = [m["data"] for m in msgs if m.get("event") == "tool_result"]
        check(len(res) == 1, "one tool result: %r" % res)
        if not res[0]["is_error"]:
            # The child's first turn end starts a turn of p: wait it out.
            def ended(d):
                it = d["item"]
                return (it.get("type") == "pod_event" and
                        it.get("kind") == "child_turn_ended" and
                        it.get("from") == "p." + name)
            if not any(m.get("event") == "system_item" and
                       ended(m["data"]) for m in msgs):
                pp.wait_event("system_item", 30, ended)
                pp.wait_event("run_end", 30)
                pp.wait_event("status")
        return res[0]

    r = spawn_kid("wide", "on")
    out = r.get("output") or r["summary"]
    check(r["is_error"] and "not_subset" in out and "network" in out,
          "a child wider than its parent: %r" % r)
    r = spawn_kid("same", None)
    check(not r["is_error"], "a child inheriting: %r" % r)
    check(c.request("inspect", {"name": "p.same"})["data"]["network"] ==
          "loopback", "the child did not inherit loopback")
    r = spawn_kid("narrow", "off")
    check(not r["is_error"], "a narrower child: %r" % r)
    check(c.request("inspect", {"name": "p.narrow"})["data"]["network"] ==
          "off", "the child is not off")
    # A bad value from a user: invalid_request naming the field.
    e = c.expect_error("spawn", {"name": "x", "cwd": env.mkdir("x"),
                                 "network": "sometimes"}, "invalid_request")
    check("network" in json.dumps(e), "error does not name network: %r" % e)


def test_network_config_default(env):
    env.start_fakellm()
    env.use_fakellm()
    with open(env.config) as f:
        text = f.read()
    env.write_config(text.replace("[defaults]\n",
                                  "[defaults]\nnetwork = off\n", 1))
    env.start_daemon()
    c = env.control()
    spawn(c, env, "a")
    check(c.request("inspect", {"name": "a"})["data"]["network"] == "off",
          "[defaults] network = off not applied")
    r = env.cli("spawn", "b", "--cwd", env.mkdir("b"), "--network", "on")
    check(r.returncode == 0, "spawn --network on: %s" % r.stderr)
    check(c.request("inspect", {"name": "b"})["data"]["network"] == "on",
          "--network on not applied")


if __name__ == "__main__":
    run_tests([test_private_tmp, test_private_tmp_hostile,
               test_network_policy, test_network_narrow_only,
               test_network_config_default])
