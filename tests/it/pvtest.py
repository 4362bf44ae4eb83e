# SPDX-License-Identifier: ISC
"""Harness for podvisor's black-box integration tests.

Everything here talks to the real binaries over real sockets.  Nothing
sleeps to wait: every wait is for a line, a reply, an event or a
notification, each bounded by a timeout that fails the test.

    env = Env()                       # temp runtime/state/config + env vars
    url = env.start_fakellm()         # real HTTP server, waits for its line
    env.write_config(f"[provider.fake]\\nscheme=openai_chat\\nbase_url={url}/v1\\n")
    env.start_daemon()                # waits for READY=1 on our NOTIFY_SOCKET
    c = env.control()                 # reads the hello event
    r = c.request("spawn", {"name": "a", "cwd": env.work})
    p = env.pod_client("a")           # reads the snapshot
    p.request("run", {"input": [{"kind": "text", "content": "hi"}]})
    p.wait_event("run_end")
    env.cleanup()

Binaries are found through the environment the meson test() sets:
PODVISORD, PODVISOR_WORKER, FAKELLM, PODVISOR_CLI.
"""

import json
import os
import select
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time

DEFAULT_TIMEOUT = float(os.environ.get("PVTEST_TIMEOUT", "10"))


class TestFailure(AssertionError):
    pass


def fail(msg):
    raise TestFailure(msg)


def check(cond, msg):
    if not cond:
        fail(msg)


def _deadline(timeout):
    return time.monotonic() + (DEFAULT_TIMEOUT if timeout is None else timeout)


def _remaining(deadline):
    return max(0.0, deadline - time.monotonic())


class LineReader:
    """Reads newline-terminated lines from a socket or fd, with timeouts."""

    def __init__(self, sock):
        self.sock = sock
        self.buf = b""
        self.eof = False

    def _fill(self, deadline):
        while True:
            left = _remaining(deadline)
            r, _, _ = select.select([self.sock], [], [], left)
            if not r:
                return False
            try:
                data = self.sock.recv(1 << 20)
            except (BlockingIOError, InterruptedError):
                continue
            except ConnectionResetError:
                data = b""
            if not data:
                self.eof = True
                return True
            self.buf += data
            return True

    def readline(self, timeout=None):
        """Next line (bytes, without newline); None at EOF; fails on timeout."""
        deadline = _deadline(timeout)
        while True:
            nl = self.buf.find(b"\n")
            if nl >= 0:
                line, self.buf = self.buf[:nl], self.buf[nl + 1:]
                return line
            if self.eof:
                return None
            if not self._fill(deadline):
                fail("timed out after %.1fs waiting for a line" %
                     (DEFAULT_TIMEOUT if timeout is None else timeout))


class Client:
    """A JSON-lines client of a podvisor socket (control or pod)."""

    def __init__(self, path, timeout=None, expect_prelude=None):
        self.path = path
        self.sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        self.sock.settimeout(DEFAULT_TIMEOUT if timeout is None else timeout)
        self.sock.connect(path)
        self.sock.setblocking(False)
        self.reader = LineReader(self.sock)
        self.next_id = 1
        self.backlog = []       # messages read but not yet consumed
        self.last_seq = 0
        self.prelude = None
        if expect_prelude:
            self.prelude = self.wait_event(expect_prelude, timeout)

    def close(self):
        try:
            self.sock.close()
        except OSError:
            pass

    def send_raw(self, data):
        """Write bytes as they are (blocking until written)."""
        self.sock.setblocking(True)
        try:
            self.sock.sendall(data)
        finally:
            self.sock.setblocking(False)

    def send(self, obj):
        self.send_raw(json.dumps(obj).encode() + b"\n")

    def read(self, timeout=None):
        """Next message from the socket; None at EOF.  Checks seq order."""
        if self.backlog:
            return self.backlog.pop(0)
        line = self.reader.readline(timeout)
        if line is None:
            return None
        try:
            msg = json.loads(line)
        except ValueError:
            fail("not JSON from %s: %r" % (self.path, line[:200]))
        seq = msg.get("seq")
        check(isinstance(seq, int), "message without seq: %r" % msg)
        check(seq == self.last_seq + 1,
              "seq gap on %s: %d after %d" % (self.path, seq, self.last_seq))
        self.last_seq = seq
        return msg

    def wait(self, pred, timeout=None, what="a message"):
        """Read until pred(msg) is true; earlier messages are kept in
        self.seen.  Fails on EOF or timeout."""
        deadline = _deadline(timeout)
        skipped = []
        while True:
            msg = self.read(_remaining(deadline) or 0.001)
            if msg is None:
                fail("connection closed while waiting for %s" % what)
            if pred(msg):
                self.seen = skipped
                return msg
            skipped.append(msg)

    def wait_event(self, name, timeout=None, pred=None):
        return self.wait(lambda m: m.get("event") == name and
                         (pred is None or pred(m.get("data", {}))),
                         timeout, "event %r" % name)

    def collect_until(self, name, timeout=None):
        """All messages up to and including the first event `name`."""
        out = []
        deadline = _deadline(timeout)
        while True:
            msg = self.read(_remaining(deadline) or 0.001)
            if msg is None:
                fail("connection closed while waiting for %r" % name)
            out.append(msg)
            if msg.get("event") == name:
                return out

    def call(self, method, params=None, timeout=None):
        """Send a request and return its reply or error (the message whose
        id matches).  Other messages read meanwhile are kept in order."""
        rid = self.next_id
        self.next_id += 1
        req = {"method": method, "id": rid}
        if params is not None:
            req["params"] = params
        self.send(req)
        deadline = _deadline(timeout)
        others = []
        while True:
            msg = self.read(_remaining(deadline) or 0.001)
            if msg is None:
                fail("connection closed waiting for the reply to %s" % method)
            if msg.get("id") == rid:
                self.backlog = others + self.backlog
                return msg
            others.append(msg)

    def request(self, method, params=None, timeout=None):
        """call() that fails the test on an error reply; returns the reply."""
        msg = self.call(method, params, timeout)
        if msg.get("event") == "error":
            fail("%s failed: %s" % (method, json.dumps(msg.get("data"))))
        return msg

    def expect_error(self, method, params, code, timeout=None):
        msg = self.call(method, params, timeout)
        check(msg.get("event") == "error",
              "%s: expected error %s, got %r" % (method, code, msg))
        got = msg.get("data", {}).get("code")
        check(got == code, "%s: expected error %s, got %s (%s)" %
              (method, code, got, msg.get("data", {}).get("message")))
        return msg


class Notify:
    """A NOTIFY_SOCKET the test owns: collects sd_notify datagrams."""

    def __init__(self, path):
        self.path = path
        self.sock = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
        self.sock.bind(path)
        self.messages = []

    def wait(self, key, timeout=None):
        """Wait for a datagram holding a line starting with key (e.g.
        'READY=1'); returns the whole datagram's fields as a dict."""
        deadline = _deadline(timeout)
        while True:
            for fields in self.messages:
                for k, v in fields.items():
                    if ("%s=%s" % (k, v)).startswith(key):
                        self.messages.remove(fields)
                        return fields
            r, _, _ = select.select([self.sock], [], [], _remaining(deadline))
            if not r:
                fail("no %s from sd_notify within the timeout" % key)
            data = self.sock.recv(65536).decode()
            fields = {}
            for line in data.splitlines():
                if "=" in line:
                    k, v = line.split("=", 1)
                    fields[k] = v
            self.messages.append(fields)

    def drain(self):
        """Forget the notifications sent so far."""
        self.messages = []
        self.sock.setblocking(False)
        try:
            while True:
                self.sock.recv(65536)
        except BlockingIOError:
            pass
        finally:
            self.sock.setblocking(True)

    def close(self):
        self.sock.close()


def binary(var, name):
    path = os.environ.get(var)
    if path and os.path.exists(path):
        return path
    found = shutil.which(name)
    if found:
        return found
    fail("%s not found: set %s" % (name, var))


class Env:
    """A private podvisor installation in a temp dir."""

    def __init__(self, name="pvtest"):
        self.root = tempfile.mkdtemp(prefix=name + "-")
        os.chmod(self.root, 0o700)
        self.runtime = os.path.join(self.root, "run")
        self.state = os.path.join(self.root, "state")
        self.work = os.path.join(self.root, "work")
        os.makedirs(self.work)
        self.config = os.path.join(self.root, "config.ini")
        self.env = dict(os.environ)
        self.env.update({
            "PODVISOR_RUNTIME_DIR": self.runtime,
            "PODVISOR_STATE_DIR": self.state,
            "PODVISOR_CONFIG": self.config,
        })
        for k in ("OPENAI_API_KEY", "ANTHROPIC_API_KEY", "PODVISOR_BASE_URL",
                  "NOTIFY_SOCKET", "LISTEN_FDS", "LISTEN_PID"):
            self.env.pop(k, None)
        if os.environ.get("PODVISOR_WORKER"):
            self.env["PODVISOR_WORKER"] = os.environ["PODVISOR_WORKER"]
        self.procs = []
        self.daemon = None
        self.notify = None
        self.clients = []
        self.fakellm_url = None

    @property
    def control_sock(self):
        return os.path.join(self.runtime, "control.sock")

    def pod_sock(self, name):
        return os.path.join(self.runtime, "pods", name, "sock")

    def mkdir(self, path):
        """path (relative: under work/) created if missing; returns it
        absolute.  A pod's cwd must exist."""
        path = os.path.join(self.work, path)
        os.makedirs(path, exist_ok=True)
        return path

    def pod_state(self, name):
        return os.path.join(self.state, "pods", name + ".json")

    def read_state(self, name):
        with open(self.pod_state(name)) as f:
            return json.load(f)

    def write_config(self, text):
        with open(self.config, "w") as f:
            f.write(text)

    def start_fakellm(self, scenario=None, record=None, args=()):
        """Start tests/fakellm; returns its base URL (http://127.0.0.1:P)."""
        argv = [binary("FAKELLM", "fakellm"), "--port", "0"]
        if scenario is not None:
            path = os.path.join(self.root, "scenario-%d.json" % len(self.procs))
            with open(path, "w") as f:
                f.write(scenario if isinstance(scenario, str)
                        else json.dumps(scenario))
            argv += ["--scenario", path]
        if record:
            argv += ["--record", record]
        argv += list(args)
        p = subprocess.Popen(argv, stdout=subprocess.PIPE, env=self.env)
        self.procs.append(p)
        line = _read_proc_line(p, DEFAULT_TIMEOUT)
        check(line.startswith("listening "), "fakellm said %r" % line)
        self.fakellm_url = line.split(" ", 1)[1].strip()
        return self.fakellm_url

    def use_fakellm(self, url=None, scheme="openai_chat", extra=""):
        """Write a config whose default provider is the fakellm at url."""
        url = url or self.fakellm_url
        base = url + "/v1" if scheme.startswith("openai") else url
        self.write_config(
            "[defaults]\nmodel = fake/fake-model\n\n"
            "[provider.fake]\nscheme = %s\nbase_url = %s\n%s" %
            (scheme, base, extra))

    def start_daemon(self, extra_env=None, args=(), wait_ready=True):
        """Start podvisord; waits for READY=1 on a NOTIFY_SOCKET we own."""
        notify_path = os.path.join(self.root, "notify-%d.sock" % len(self.procs))
        self.notify = Notify(notify_path)
        env = dict(self.env)
        env["NOTIFY_SOCKET"] = notify_path
        if extra_env:
            env.update(extra_env)
        self.stderr_path = os.path.join(self.root, "podvisord-%d.log" % len(self.procs))
        errf = open(self.stderr_path, "ab")
        p = subprocess.Popen([binary("PODVISORD", "podvisord")] + list(args),
                             env=env, stdin=subprocess.DEVNULL, stderr=errf,
                             stdout=errf)
        errf.close()
        self.procs.append(p)
        self.daemon = p
        if wait_ready:
            self.notify.wait("READY=1")
        return p

    def start_daemon_fakeworker(self, extra_env=None, args=(),
                                wait_ready=True):
        """Start podvisord with tests/it/fakeworker.py as its worker and a
        provider nobody calls (unless a config was written already)."""
        if not os.path.exists(self.config):
            self.write_config("[provider.dummy]\nscheme = openai_chat\n"
                              "base_url = http://127.0.0.1:9/v1\n")
        env = {"PODVISOR_WORKER": os.path.join(
            os.path.dirname(os.path.abspath(__file__)), "fakeworker.py")}
        env.update(extra_env or {})
        return self.start_daemon(env, args, wait_ready)

    def kill_daemon(self, sig=signal.SIGKILL):
        self.daemon.send_signal(sig)
        self.daemon.wait(DEFAULT_TIMEOUT)

    def control(self, timeout=None):
        c = Client(self.control_sock, timeout, expect_prelude="hello")
        self.clients.append(c)
        return c

    def pod_client(self, name, timeout=None):
        c = Client(self.pod_sock(name), timeout, expect_prelude="snapshot")
        self.clients.append(c)
        return c

    def cli(self, *args, input=None, timeout=None):
        """Run the podvisor CLI; returns CompletedProcess (text)."""
        return subprocess.run([binary("PODVISOR_CLI", "podvisor")] + list(args),
                              env=self.env, input=input, capture_output=True,
                              text=True,
                              timeout=DEFAULT_TIMEOUT if timeout is None else timeout)

    def daemon_log(self):
        try:
            with open(self.stderr_path) as f:
                return f.read()
        except (OSError, AttributeError):
            return ""

    def cleanup(self):
        for c in self.clients:
            c.close()
        # Ask a live daemon to stop its pods; then make sure nothing is left.
        if self.daemon is not None and self.daemon.poll() is None:
            try:
                c = Client(self.control_sock, 2, expect_prelude="hello")
                c.call("shutdown", {"pods": "stop"}, 2)
                c.close()
                self.daemon.wait(15)
            except Exception:
                pass
        for p in self.procs:
            if p.poll() is None:
                p.kill()
                p.wait()
        _kill_leftover_workers(self.runtime)
        if self.notify:
            self.notify.close()
        if os.environ.get("PVTEST_KEEP"):
            print("kept", self.root, file=sys.stderr)
        else:
            shutil.rmtree(self.root, ignore_errors=True)
            if not self.runtime.startswith(self.root + "/"):
                shutil.rmtree(self.runtime, ignore_errors=True)

    def runtime_on_tmpfs(self):
        """Move the runtime dir to /dev/shm: a tmpfs, as /run/user/UID
        is under systemd (the state dir stays on the disk)."""
        if not os.path.isdir("/dev/shm"):
            return
        self.runtime = tempfile.mkdtemp(prefix="pvtest-run-", dir="/dev/shm")
        os.chmod(self.runtime, 0o700)
        self.env["PODVISOR_RUNTIME_DIR"] = self.runtime


def _read_proc_line(p, timeout):
    deadline = _deadline(timeout)
    buf = b""
    fd = p.stdout.fileno()
    while b"\n" not in buf:
        r, _, _ = select.select([fd], [], [], _remaining(deadline))
        if not r:
            fail("no start-up line within %.1fs" % timeout)
        data = os.read(fd, 4096)
        if not data:
            fail("process exited before its start-up line (rc=%s)" % p.poll())
        buf += data
    return buf.split(b"\n", 1)[0].decode()


def _kill_leftover_workers(runtime):
    """Workers outlive the daemon by design: kill any whose command line
    names a pod of this test's runtime dir (found by their socket dirs)."""
    pods = os.path.join(runtime, "pods")
    if not os.path.isdir(pods):
        return
    names = set(os.listdir(pods))
    for pid in os.listdir("/proc"):
        if not pid.isdigit():
            continue
        try:
            with open("/proc/%s/cmdline" % pid, "rb") as f:
                argv = f.read().split(b"\0")
            with open("/proc/%s/environ" % pid, "rb") as f:
                environ = f.read()
        except OSError:
            continue
        if not argv or not (argv[0].endswith(b"podvisor-worker") or
                            any(a.endswith(b"fakeworker.py") for a in argv[:2])):
            continue
        if ("PODVISOR_RUNTIME_DIR=%s" % runtime).encode() not in environ:
            continue
        try:
            os.kill(int(pid), signal.SIGKILL)
        except OSError:
            pass


def data(msg):
    """The data of an event or reply ({} when it has none)."""
    return msg.get("data", {})


# Driving tests/it/fakeworker.py through its pod socket: it relays what
# the test asks over its fd 3 channel to podvisord and reports back.

def wreq(pc, method, params=None):
    """A request from the pod's worker over fd 3; the daemon's reply."""
    p = {"method": method}
    if params is not None:
        p["params"] = params
    return data(pc.request("fw_request", p, timeout=15))["reply"]


def wevent(pc, event, d=None):
    """An event from the pod's worker to the daemon over fd 3."""
    pc.request("fw_event", {"event": event, "data": d})


def wait_daemon(pc, pred, timeout=None):
    """Wait for a message from the daemon to the pod's worker."""
    return pc.wait_event("fw_daemon", timeout,
                         pred=lambda d: pred(d["msg"]))["data"]["msg"]


def text_input(text):
    return {"input": [{"kind": "text", "content": text}]}


def run_tests(tests):
    """Run test functions (each taking an Env) and print a summary line
    that CI understands: 'N passed, N failed'."""
    only = sys.argv[1:]
    passed = failed = 0
    for fn in tests:
        if only and fn.__name__ not in only:
            continue
        env = Env(fn.__name__)
        t0 = time.monotonic()
        try:
            fn(env)
            passed += 1
            print("ok   %s (%.2fs)" % (fn.__name__, time.monotonic() - t0))
        except Exception as e:  # noqa: BLE001 - report every failure
            failed += 1
            print("FAIL %s: %s: %s" % (fn.__name__, type(e).__name__, e))
            log = env.daemon_log()
            if log:
                print("--- podvisord stderr (tail) ---")
                print("\n".join(log.splitlines()[-30:]))
        finally:
            env.cleanup()
        sys.stdout.flush()
    print("%d passed, %d failed" % (passed, failed))
    sys.exit(1 if failed or not passed else 0)
