# SPDX-License-Identifier: ISC
"""Soak test: many pods, many attached clients, random operations.

Not part of the default meson run.  From the source tree, after a build:

    B=build-rel; PODVISORD=$B/supervisord/podvisord \\
      PODVISOR_WORKER=$B/worker/podvisor-worker \\
      FAKELLM=$B/tests/fakellm/fakellm PYTHONPATH=tests/it \\
      python3 tests/it/soak.py --pods 200 --clients 50 --minutes 10

or `PODVISOR_SOAK=1 meson test -C build-rel --suite soak -v` (100 pods, 20
clients, 3 minutes; SOAK_ARGS="--minutes 10 ..." in the environment adds
or overrides arguments).  Under meson without PODVISOR_SOAK it is skipped.

Operators (--operators threads, each with its own control connection)
pick random operations: spawn or restore a pod, stop one, run a turn on
one (tools included), notify one, register two as peers, send to one.
Attached clients (--clients threads) attach to random live pods and watch
their event streams for a while.  Checked: podvisord never dies and no
worker crashes; every turn a client saw start ends in exactly one run_end
(and every `run` an operator sent ends in exactly one); seq numbers never
gap; at the end `list` agrees with the state files and every live pod's
worker answers.  podvisord's RSS is sampled and reported.
"""

import argparse
import json
import os
import random
import sys
import threading
import time

from pvtest import Client, Env, TestFailure, text_input

SCENARIO = {"rules": [{"match": {"any": True}, "stream": {"delay_ms": 2}}]}

INPUTS = [
    "hello there",
    "@write f.txt soak\n@read f.txt",
    "@bash echo soak; ls",
    "@glob *",
    "@list_pods",
]


class Stats:
    def __init__(self):
        self.lock = threading.Lock()
        self.c = {}
        self.errors = []

    def inc(self, k, n=1):
        with self.lock:
            self.c[k] = self.c.get(k, 0) + n

    def error(self, msg):
        with self.lock:
            self.errors.append(msg)
        print("ERROR:", msg, file=sys.stderr)


def rss_kib(pid):
    try:
        with open("/proc/%d/status" % pid) as f:
            for line in f:
                if line.startswith("VmRSS:"):
                    return int(line.split()[1])
    except OSError:
        return None
    return None


class Soak:
    def __init__(self, args):
        self.args = args
        self.env = Env("soak")
        self.stats = Stats()
        self.names = ["p%03d" % i for i in range(args.pods)]
        self.locks = {n: threading.Lock() for n in self.names}
        self.stop = threading.Event()
        self.rng = random.Random(args.seed)
        self.rss = []

    def setup(self):
        env = self.env
        env.start_fakellm(SCENARIO)
        env.use_fakellm(extra="\n[daemon]\nmax_pods = %d\n" %
                        (self.args.pods + 10))
        env.start_daemon()
        for n in self.names:
            os.makedirs(os.path.join(env.work, n))
        c = env.control(60)
        t0 = time.monotonic()
        for n in self.names:
            c.request("spawn", {"name": n, "cwd": os.path.join(env.work, n)},
                      60)
        print("spawned %d pods in %.1fs" % (len(self.names),
                                            time.monotonic() - t0))
        c.close()

    # -- operators --------------------------------------------------------

    def op_run(self, c, rng, name, notify=False):
        try:
            p = Client(self.env.pod_sock(name), 30, expect_prelude="snapshot")
        except (OSError, TestFailure):
            self.stats.inc("attach_failed")
            return
        try:
            tag = "soak-%d-%d" % (id(p), rng.randrange(1 << 30))
            if notify:
                r = p.call("notify", {"message": tag + "\n" +
                                      rng.choice(INPUTS)}, 30)
            else:
                r = p.call("run", text_input(rng.choice(INPUTS)), 30)
            if r.get("event") == "error":
                self.stats.inc("run_refused_" + r["data"]["code"])
                return
            in_turn = p.prelude["data"]["status"] == "running"
            starts = ends = 0
            # a notification may be taken into the running turn (no new
            # invoke_start): then wait for its system_item instead
            got_item = False
            trace = [("prelude", p.prelude["data"]["status"]), r]
            while True:
                m = p.read(60)
                trace.append(m)
                if m is None:
                    self.stats.error("%s: pod closed during a turn" % name)
                    return
                ev = m.get("event")
                if ev == "invoke_start":
                    if in_turn:
                        self.stats.error("%s: a turn started before the "
                                         "last one's run_end" % name)
                    in_turn = True
                    starts += 1
                elif ev == "run_end":
                    if not in_turn:
                        self.stats.error("%s: run_end outside a turn" %
                                         name)
                    in_turn = False
                    ends += 1
                elif ev == "system_item" and tag in json.dumps(m["data"]):
                    got_item = True
                elif ev == "status" and m["data"]["status"] == "idle" \
                        and not in_turn and \
                        (got_item if notify else starts >= 1):
                    break
            self.stats.inc("notifies" if notify else "runs")
            self.stats.inc("run_ends", ends)
        except TestFailure as e:
            self.stats.error("%s: %s" % (name, e))
            try:
                q = Client(self.env.pod_sock(name), 10,
                           expect_prelude="snapshot")
                snap = q.prelude["data"]
                q.close()
                print("DIAG %s %s: status now %s; events %s; last entries "
                      "%s" % (name, "notify" if notify else "run",
                              snap["status"], json.dumps(trace)[-3000:],
                              json.dumps(snap["entries"][-6:])[-3000:]),
                      file=sys.stderr)
            except Exception as e2:  # noqa: BLE001 - diagnostics only
                print("DIAG %s: %s" % (name, e2), file=sys.stderr)
        finally:
            p.close()

    def operator(self, idx):
        rng = random.Random(self.args.seed * 100 + idx)
        c = Client(self.env.control_sock, 60, expect_prelude="hello")
        try:
            while not self.stop.is_set():
                name = rng.choice(self.names)
                lock = self.locks[name]
                if not lock.acquire(blocking=False):
                    continue
                try:
                    self.one_op(c, rng, name)
                except TestFailure as e:
                    self.stats.error("operator %d on %s: %s" % (idx, name, e))
                    c.close()
                    c = Client(self.env.control_sock, 60,
                               expect_prelude="hello")
                finally:
                    lock.release()
        finally:
            c.close()

    def one_op(self, c, rng, name):
        op = rng.choices(["run", "notify", "stop", "restore", "peer",
                          "send", "list"],
                         [40, 10, 8, 10, 0 if self.args.no_peers else 5,
                          10, 5])[0]
        if op in ("run", "notify"):
            self.op_run(c, rng, name, op == "notify")
        elif op == "stop":
            r = c.call("stop", {"name": name}, 30)
            self.stats.inc("stop_" + (r["data"].get("code", "ok")
                                      if r["event"] == "error" else "ok"))
        elif op == "restore":
            r = c.call("restore", {"name": name}, 30)
            self.stats.inc("restore_" + r["event"])
        elif op == "peer":
            other = rng.choice(self.names)
            r = c.call("register_peer", {"a": name, "b": other}, 30)
            self.stats.inc("peer_" + (r["data"].get("code", "ok")
                                      if r["event"] == "error" else "ok"))
        elif op == "send":
            r = c.call("send", {"name": name, "message": "soak ping"}, 30)
            self.stats.inc("send_" + r["event"])
        else:
            r = c.call("list", None, 30)
            self.stats.inc("lists")

    # -- attached clients -------------------------------------------------

    def watcher(self, idx):
        rng = random.Random(self.args.seed * 1000 + idx)
        while not self.stop.is_set():
            name = rng.choice(self.names)
            try:
                p = Client(self.env.pod_sock(name), 10,
                           expect_prelude="snapshot")
            except (OSError, TestFailure):
                continue
            self.stats.inc("attaches")
            in_turn = p.prelude["data"]["status"] == "running"
            deadline = time.monotonic() + rng.uniform(1, 10)
            try:
                while time.monotonic() < deadline and \
                        not self.stop.is_set():
                    try:
                        m = p.read(1)
                    except TestFailure as e:
                        if "timed out" in str(e):
                            continue
                        raise
                    if m is None:
                        break
                    ev = m.get("event")
                    if ev == "invoke_start":
                        if in_turn:
                            self.stats.error("%s: invoke_start inside a "
                                             "turn (missing run_end)" % name)
                        in_turn = True
                    elif ev == "run_end":
                        in_turn = False
                        self.stats.inc("watched_run_ends")
                    self.stats.inc("watched_events")
            except TestFailure as e:
                self.stats.error("watcher %s: %s" % (name, e))
            finally:
                p.close()

    def sampler(self):
        pid = self.env.daemon.pid
        while not self.stop.wait(self.args.sample_s):
            r = rss_kib(pid)
            self.rss.append(r)
            with self.stats.lock:
                c = dict(self.stats.c)
            print("t=%4.0fs podvisord RSS %s KiB; runs %d notifies %d "
                  "watched run_ends %d errors %d" % (
                      time.monotonic() - self.t0, r, c.get("runs", 0),
                      c.get("notifies", 0), c.get("watched_run_ends", 0),
                      len(self.stats.errors)))
            sys.stdout.flush()
            if self.env.daemon.poll() is not None:
                self.stats.error("podvisord exited with %s" %
                                 self.env.daemon.returncode)
                self.stop.set()

    def final_checks(self):
        env = self.env
        check = self.stats.error
        if env.daemon.poll() is not None:
            check("podvisord died (rc %s)" % env.daemon.returncode)
            return
        c = Client(env.control_sock, 60, expect_prelude="hello")
        # let stopping/starting settle (bounded)
        deadline = time.monotonic() + 30
        while True:
            pods = c.request("list", None, 60)["data"]["pods"]
            if all(p["status"] not in ("starting", "stopping")
                   for p in pods) or time.monotonic() > deadline:
                break
        files = {f[:-5] for f in os.listdir(os.path.join(env.state, "pods"))
                 if f.endswith(".json")}
        listed = {p["name"] for p in pods}
        if listed != files:
            check("list %d pods != %d state files" % (len(listed),
                                                      len(files)))
        statuses = {}
        for p in pods:
            statuses[p["status"]] = statuses.get(p["status"], 0) + 1
            st = json.load(open(env.pod_state(p["name"])))
            if st.get("status") != p["status"]:
                check("%s: list says %s, state file %s" % (
                    p["name"], p["status"], st.get("status")))
            if p["status"] in ("crashed", "failed"):
                check("%s %s" % (p["name"], p["status"]))
            if p["status"] == "live":
                try:
                    Client(p["socket"], 30, expect_prelude="snapshot").close()
                except (OSError, TestFailure) as e:
                    check("%s live but its socket fails: %s" % (p["name"], e))
            for q in p["peers"]:
                other = [x for x in pods if x["name"] == q]
                if not other or p["name"] not in other[0]["peers"]:
                    check("half peer %s -> %s" % (p["name"], q))
        self.statuses = statuses
        logs = {"podvisord": env.daemon_log()}
        pods_dir = os.path.join(env.runtime, "pods")
        for n in os.listdir(pods_dir):
            try:
                with open(os.path.join(pods_dir, n, "stderr.log")) as f:
                    logs["worker " + n] = f.read()
            except OSError:
                pass
        for who, log in logs.items():
            for bad in ("AddressSanitizer", "runtime error:", "LeakSanitizer"):
                if bad in log:
                    check("%s's log has %r" % (who, bad))
        c.close()

    def main(self):
        a = self.args
        self.setup()
        self.t0 = time.monotonic()
        base = rss_kib(self.env.daemon.pid)
        threads = [threading.Thread(target=self.operator, args=(i,))
                   for i in range(a.operators)]
        threads += [threading.Thread(target=self.watcher, args=(i,))
                    for i in range(a.clients)]
        threads.append(threading.Thread(target=self.sampler))
        for t in threads:
            t.daemon = True
            t.start()
        self.stop.wait(a.minutes * 60)
        self.stop.set()
        for t in threads:
            t.join(120)
        self.final_checks()
        s = self.stats.c
        rss = [r for r in self.rss if r]
        print("soak: %d pods, %d clients, %d operators, %.1f minutes" %
              (a.pods, a.clients, a.operators,
               (time.monotonic() - self.t0) / 60))
        print("  runs %d, notifies %d, run_ends seen by operators %d, by "
              "attached clients %d, events watched %d, attaches %d" %
              (s.get("runs", 0), s.get("notifies", 0), s.get("run_ends", 0),
               s.get("watched_run_ends", 0), s.get("watched_events", 0),
               s.get("attaches", 0)))
        print("  ops: %s" % json.dumps({k: v for k, v in sorted(s.items())
                                        if "_" in k}))
        print("  final statuses: %s" % json.dumps(getattr(self, "statuses",
                                                          {})))
        print("  podvisord RSS: start %s KiB, min %s, max %s, end %s" %
              (base, min(rss) if rss else None, max(rss) if rss else None,
               rss[-1] if rss else None))
        print("  errors: %d" % len(self.stats.errors))
        for e in self.stats.errors[:20]:
            print("    " + e)
        return 0 if not self.stats.errors else 1


def main():
    if "--meson" in sys.argv:
        sys.argv.remove("--meson")
        if not os.environ.get("PODVISOR_SOAK"):
            print("set PODVISOR_SOAK=1 to run the soak test")
            sys.exit(77)            # meson: skipped
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--pods", type=int, default=200)
    ap.add_argument("--clients", type=int, default=50)
    ap.add_argument("--operators", type=int, default=8)
    ap.add_argument("--minutes", type=float, default=10)
    ap.add_argument("--sample-s", type=float, default=10)
    ap.add_argument("--seed", type=int, default=1)
    ap.add_argument("--no-peers", action="store_true",
                    help="no register_peer (peer lists grow by design)")
    argv = sys.argv[1:] + os.environ.get("SOAK_ARGS", "").split()
    args = ap.parse_args(argv)
    s = Soak(args)
    try:
        rc = s.main()
    finally:
        s.env.cleanup()
    sys.exit(rc)


if __name__ == "__main__":
    main()
