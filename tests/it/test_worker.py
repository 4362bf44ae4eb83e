# SPDX-License-Identifier: ISC
"""podvisor-worker on its own: the test plays podvisord on fd 3 (see
workerctl.py), the model is the real tests/fakellm, the clients are real
pod-socket clients.  No sleeps: every wait is for an event or a reply."""

import json
import os
import stat

import pvtest
from pvtest import check, text_input
from workerctl import Worker, events_after_prelude

SLOW = {"match": {"user_contains": "slow"},
        "reply": {"text": "x" * 400, "chunks": 40},
        "stream": {"delay_ms": 50}}


def record_path(env):
    return os.path.join(env.root, "requests.jsonl")


def recorded(env):
    with open(record_path(env)) as f:
        return [json.loads(line) for line in f if line.strip()]


def kinds(entries):
    return [e["kind"] for e in entries]


def finish(p, result="finished", timeout=None):
    """Read up to run_end (checking its result) and the status after it."""
    msgs = p.collect_until("run_end", timeout)
    check(msgs[-1]["data"]["result"] == result,
          "run_end %r, expected %s" % (msgs[-1]["data"], result))
    st = p.wait_event("status")
    return msgs + [st]


def test_run_tools_and_clients(env):
    url = env.start_fakellm(record=record_path(env))
    w = Worker(env, "a", url)
    check(w.chan.wait_event("state")["data"]["status"] == "idle",
          "first state is idle")
    g = w.client().prelude["data"]["greeting"]
    for k in ("pod", "cwd", "provider", "model", "tools", "scope_summary",
              "bash_confinement", "context_window", "context_tokens"):
        check(k in g, "greeting lacks %s" % k)
    check("spawn_pod" in g["tools"] and "bash" in g["tools"], "tools listed")
    # Socket and its directory are private.
    check(stat.S_IMODE(os.stat(w.sock_path).st_mode) == 0o600, "sock 0600")
    check(stat.S_IMODE(os.stat(os.path.dirname(w.sock_path)).st_mode) ==
          0o700, "pod dir 0700")
    p1, p2 = w.client(), w.client()
    task = ("@write a.txt hello\n@edit a.txt hello bye\n@bash cat a.txt\n"
            "@write /pvtest-outside-scope.txt nope")
    r = p1.request("run", text_input(task))
    check(r["event"] == "accepted", "run accepted: %r" % r)
    m1 = finish(p1)
    m2 = finish(p2)
    e1, e2 = events_after_prelude(m1), events_after_prelude(m2)
    check(e1 == e2, "clients saw different streams:\n%r\n%r" % (e1, e2))
    check(not any("id" in m for m in m2), "a reply leaked to client 2")
    with open(os.path.join(env.work, "a.txt")) as f:
        check(f.read() == "bye", "a.txt edited")
    check(not os.path.exists("/pvtest-outside-scope.txt"),
          "write outside scope happened")
    results = [d for ev, d in e1 if ev == "tool_result"]
    check([d["is_error"] for d in results] == [False, False, False, True],
          "tool results: %r" % results)
    check("bye" in results[2].get("output", ""), "bash saw the edit")
    names = [ev for ev, _ in e1]
    for ev in ("status", "invoke_start", "user_message", "turn_start",
               "llm_call_start", "tool_call_start", "tool_call_done",
               "llm_call_end", "usage", "text_delta", "text_done",
               "turn_end", "run_end"):
        check(ev in names, "no %s event" % ev)
    check(names.count("run_end") == 1, "exactly one run_end")
    te = w.chan.wait_event("turn_ended")["data"]
    check(te["result"] == "finished" and te["text"].startswith("done:"),
          "turn_ended: %r" % te)
    ents = w.entries()
    check(kinds(ents)[0] == "segment_start", "segment_start first")
    check(kinds(ents).count("tool_result") == 4, "4 tool results logged")
    check(kinds(ents)[-2:] == ["turn_end", "run_end"], "ends with run_end")
    # Snapshot on request: same entries as the file, only to the requester.
    s = p1.request("snapshot")
    check(s["event"] == "snapshot" and
          s["data"]["entries"] == ents and
          s["data"]["last_entry_seq"] == len(ents), "snapshot entries")
    # The api key never reaches the log, the events or stderr.
    with open(w.segment_path) as f:
        check("sk-test-secret" not in f.read(), "key in the session log")
    check("sk-test-secret" not in w.log(), "key in stderr")
    check("sk-test-secret" not in json.dumps(m1), "key in events")
    w.shutdown()


def test_requests_and_segments(env):
    url = env.start_fakellm(record=record_path(env))
    w = Worker(env, "a", url)
    p = w.client()
    p.send_raw(b"this is not json\n")
    check(p.wait_event("error")["data"]["code"] == "invalid_request",
          "bad JSON")
    p.expect_error("frobnicate", {}, "invalid_request")
    p.expect_error("run", {"input": "text"}, "invalid_request")
    p.expect_error("run", {"input": [{"kind": "text"}]}, "invalid_request")
    p.expect_error("cancel", None, "not_running")
    p.expect_error("pause", None, "not_running")
    p.expect_error("resume", None, "not_paused")
    e = p.call("compact")
    check(e["event"] == "accepted", "compact: %r" % e)
    # An empty segment has nothing to summarise (test_compact.py: the rest).
    p.wait_event("compact_failed")
    with open(os.path.join(env.work, "notes.txt"), "w") as f:
        f.write("the secret word is plover\n")
    os.makedirs(os.path.join(env.root, "outside"))
    outside = os.path.join(env.root, "outside", "x.txt")
    with open(outside, "w") as f:
        f.write("outside\n")
    p.request("run", {"input": [
        {"kind": "text", "content": "look at this"},
        {"kind": "file_ref", "path": "notes.txt"},
        {"kind": "file_ref", "path": outside},
        {"kind": "hologram", "data": 1}]})
    msgs = finish(p)
    evs = events_after_prelude(msgs)
    alerts = [d["message"] for ev, d in evs if ev == "alert"]
    check(len(alerts) == 2 and any("hologram" in a for a in alerts),
          "alerts: %r" % alerts)
    items = [d["item"] for ev, d in evs if ev == "system_item"]
    check(len(items) == 1 and items[0]["type"] == "file_attachment" and
          "plover" in items[0]["content"], "attachment: %r" % items)
    body = json.dumps(recorded(env)[-1]["body"])
    check("plover" in body, "attachment sent to the model")
    check("outside\\n" not in body, "out-of-scope file sent")
    # Attachments are cut at 256 KiB (on a character boundary).
    with open(os.path.join(env.work, "big.txt"), "w") as f:
        f.write("\u00e9" * (150 * 1024))
    p.request("run", {"input": [{"kind": "file_ref", "path": "big.txt"}]})
    item = p.wait_event("system_item")["data"]["item"]
    check(item["truncated"] and
          len(item["content"].encode()) == 256 * 1024, "cut at 256 KiB")
    finish(p)
    # A busy pod refuses a second run.
    w2 = w.client()
    p.request("run", text_input("@bash sleep 30"))
    p.wait_event("tool_call_done")
    w2.expect_error("run", text_input("again"), "already_running")
    w2.expect_error("compact", None, "already_running")
    p.request("cancel")
    finish(p, "cancelled")


def test_cancel_pause_resume(env):
    url = env.start_fakellm([SLOW], record=record_path(env))
    w = Worker(env, "a", url)
    p = w.client()
    # Cancel mid-stream: what streamed is kept as a partial assistant entry.
    p.request("run", text_input("slow one"))
    p.wait_event("text_delta")
    p.request("cancel")
    finish(p, "cancelled")
    ents = w.entries()
    check(kinds(ents)[-4:] == ["assistant", "system_item", "turn_end",
                               "run_end"], "after cancel: %r" % kinds(ents))
    check(ents[-4]["text"].startswith("x"), "partial text kept")
    # Pause mid-stream, pause again (no-op), resume to the end.
    p.request("run", text_input("slow two"))
    p.wait_event("text_delta")
    p.request("pause")
    msgs = p.collect_until("run_end")
    check(msgs[-1]["data"]["result"] == "paused", "paused")
    check(p.wait_event("status")["data"]["status"] == "paused", "status")
    check(w.chan.wait_event("state", pred=lambda d: d["status"] ==
                            "paused") is not None, "state paused")
    p.request("pause")
    # A notification while paused waits for the resume (no new turn).
    p.request("notify", {"message": "while paused"})
    p.request("resume")
    msgs = finish(p)
    items = [d["item"] for ev, d in events_after_prelude(msgs)
             if ev == "system_item"]
    check([i.get("message") for i in items] == ["while paused"],
          "notification delivered on resume: %r" % items)
    # Cancel mid-tool: bash is killed, the call answered "[cancelled]".
    p.request("run", text_input("@bash sleep 60"))
    p.wait_event("tool_call_done")
    p.request("cancel")
    msgs = finish(p, "cancelled", timeout=5)
    res = [m["data"] for m in msgs if m.get("event") == "tool_result"]
    check(res and res[-1]["is_error"] and "[cancelled]" in res[-1]["output"],
          "cancelled call answered: %r" % res)
    # Pause mid-tool: resume runs the pending call, then asks the model.
    marker = os.path.join(env.work, "m")
    p.request("run", text_input("@bash sleep 0.3 && echo resumed >> m"))
    p.wait_event("tool_call_done")
    p.request("pause")
    finish(p, "paused")
    p.request("resume")
    msgs = finish(p)
    res = [m["data"] for m in msgs if m.get("event") == "tool_result"]
    check(res and not res[0]["is_error"], "resumed tool ran: %r" % res)
    with open(marker) as f:
        check(f.read() == "resumed\n", "bash ran exactly once")
    # A run while paused starts fresh after closing the open call.
    p.request("run", text_input("@bash sleep 60"))
    p.wait_event("tool_call_done")
    p.request("pause")
    finish(p, "paused")
    p.request("run", text_input("fresh start"))
    msgs = finish(p)
    res = [m["data"] for m in msgs if m.get("event") == "tool_result"]
    check(res and res[0]["output"] == "[interrupted]", "closed: %r" % res)
    # The model accepted that history (fakellm validates tool pairing).
    check(any(ev == "text_done" and "fresh start" in d["text"]
              for ev, d in events_after_prelude(msgs)), "fresh reply")
    w.shutdown()


def test_provider_failure(env):
    scen = [{"match": {"request": 1}, "fail": "auth"},
            {"match": {"request": 2}, "fail": "server_error"},
            {"match": {"request": 3}, "fail": "server_error"}]
    url = env.start_fakellm(scen)
    w = Worker(env, "a", url)
    # Fewer, faster retries than the defaults (start config fields).
    w2 = Worker(env, "b", url, start=False)
    params = w2.start_params()
    params["model"].update({"max_attempts": 2, "retry_base_ms": 10})
    w2.overrides = {"model": params["model"]}
    w2.start()
    p = w.client()
    p.request("run", text_input("hello"))
    msgs = finish(p, "error")
    err = msgs[-2]["data"]["error"]
    check(err["code"] == "provider_error", "error: %r" % err)
    check("sk-test-secret" not in json.dumps(msgs), "key in events")
    te = w.chan.wait_event("turn_errored")["data"]
    check(te["error"]["code"] == "provider_error", "turn_errored %r" % te)
    check(kinds(w.entries())[-1] == "run_end" and
          w.entries()[-1]["error"]["code"] == "provider_error",
          "error logged")
    q = w2.client()
    q.request("run", text_input("hello"))
    msgs = finish(q, "error")
    check(any(m.get("event") == "llm_retry" for m in msgs), "llm_retry")
    # Both pods stay usable.
    p.request("run", text_input("hello again"))
    finish(p)


def test_restore_after_kill(env):
    url = env.start_fakellm([SLOW], record=record_path(env))
    w = Worker(env, "a", url)
    p = w.client()
    p.request("run", text_input("@write r.txt one"))
    finish(p)
    p.request("run", text_input("slow story"))
    p.wait_event("text_delta")
    w.kill()
    w.restart(restore=True)
    p = w.client()
    snap = p.prelude["data"]
    texts = json.dumps(snap["entries"])
    check("@write r.txt one" in texts and "slow story" in texts,
          "history restored")
    check(snap["status"] == "idle", "idle after restore")
    p.request("run", text_input("after restore"))
    finish(p)
    body = json.dumps(recorded(env)[-1]["body"]["messages"])
    for s in ("@write r.txt one", "slow story", "after restore"):
        check(s in body, "request lacks %r" % s)
    # Killed during a tool call: the call is closed with [interrupted].
    p.request("run", text_input("@bash sleep 60"))
    p.wait_event("tool_call_done")
    w.kill()
    # A torn last line (crash mid-write) is cut away with an alert.
    with open(w.segment_path, "a") as f:
        f.write('{"kind":"assistant","te')
    w.restart(restore=True)
    p = w.client()
    alerts = p.prelude["data"]["alerts"]
    check(any("torn" in a["message"] for a in alerts), "alerts %r" % alerts)
    p.request("run", text_input("still there?"))
    msgs = finish(p)
    res = [m["data"] for m in msgs if m.get("event") == "tool_result"]
    check(res and res[0]["output"] == "[interrupted]", "closed: %r" % res)
    msgs_sent = recorded(env)[-1]["body"]["messages"]
    check(any(m.get("role") == "tool" and "[interrupted]" in
              json.dumps(m.get("content")) for m in msgs_sent),
          "interrupted result sent")
    with open(w.segment_path) as f:
        for line in f:
            json.loads(line)


def test_restore_of_a_log_lost_at_birth(env):
    """A new segment's first line is made durable with the first durable
    append, not at spawn; a crash before that leaves an empty file (or
    none).  Restore treats it as no log: an alert, a fresh segment, a
    working pod."""
    url = env.start_fakellm()
    w = Worker(env, "a", url)
    w.client().close()
    w.kill()
    with open(w.segment_path, "w"):
        pass  # what a power loss right after the spawn may leave
    w.restart(restore=True)
    p = w.client()
    alerts = p.prelude["data"]["alerts"]
    check(any("no session log to restore" in a["message"] for a in alerts),
          "alerts %r" % alerts)
    p.request("run", text_input("after the loss"))
    finish(p)
    with open(w.segment_path) as f:
        kinds = [json.loads(line)["kind"] for line in f]
    check(kinds[0] == "segment_start" and "user_input" in kinds,
          "the segment anew: %r" % kinds)


def test_pod_events(env):
    url = env.start_fakellm([SLOW], record=record_path(env))
    w = Worker(env, "a", url)
    w.chan.wait_event("state")
    p = w.client()
    rid = w.pod_event("e1", "message", "user", message="hello from user")
    acc = w.wait_reply(rid)
    check(acc["event"] == "accepted" and acc["data"]["eid"] == "e1",
          "accepted %r" % acc)
    # Durable before the answer.
    check("e1" in json.dumps(w.entries()), "system_item fsynced first")
    inv = p.wait_event("invoke_start")
    check(inv["data"]["trigger"] == "pod_event", "trigger %r" % inv)
    item = p.wait_event("system_item")["data"]["item"]
    check(item["eid"] == "e1" and item["kind"] == "message", "item")
    finish(p)
    # A resend of the same eid is acknowledged, not added again.
    rid = w.pod_event("e1", "message", "user", message="hello from user")
    check(w.wait_reply(rid)["data"]["eid"] == "e1", "dup accepted")
    check(json.dumps(w.entries()).count('"e1"') == 1, "dup not logged")
    # Arriving mid-turn: delivered at the end of that turn, never lost.
    p.request("run", text_input("slow work"))
    p.wait_event("text_delta")
    rid = w.pod_event("e2", "child_turn_ended", "a.kid", turn=3,
                      result="finished", text="kid done")
    p.request("notify", {"message": "note from a client"})
    finish(p)
    # Both arrived during that turn (on two sockets, in either order).
    inv = p.wait_event("invoke_start")
    check(inv["data"]["trigger"] in ("pod_event", "notify"),
          "second turn %r" % inv)
    acc = w.wait_reply(rid)
    check(acc["data"]["eid"] == "e2", "e2 accepted")
    msgs = finish(p)
    items = [d["item"] for ev, d in events_after_prelude(msgs)
             if ev == "system_item"]
    check(sorted(i["type"] for i in items) == ["notification", "pod_event"],
          "both delivered in one turn: %r" % items)
    body = json.dumps(recorded(env)[-1]["body"]["messages"])
    check("kid done" in body and "note from a client" in body,
          "model saw both")
    # Arriving during a tool call: delivered before the next request of
    # the same turn (after the tool result), not in a new turn.
    p.request("run", text_input("@bash sleep 0.3"))
    p.wait_event("tool_call_done")
    rid = w.pod_event("e3", "peer_message", "b", message="peer says hi")
    msgs = finish(p)
    evs = [ev for ev, _ in events_after_prelude(msgs)]
    check(evs.count("invoke_start") == 0 and
          evs.index("tool_result") < evs.index("system_item") <
          evs.index("llm_call_start"), "mid-turn delivery: %r" % evs)
    check(w.wait_reply(rid)["data"]["eid"] == "e3", "e3 accepted")
    # scope_changed narrows what the tools may write at once.
    sub = os.path.join(env.work, "sub")
    os.makedirs(sub)
    w.chan.send({"event": "scope_changed", "data": {"effective_write": [
        {"target": env.work, "permission": "write", "recursive": True},
        {"target": sub, "permission": "write", "recursive": True,
         "deny": True}]}})
    p.request("run", text_input("@write sub/x.txt no"))
    msgs = finish(p)
    res = [m["data"] for m in msgs if m.get("event") == "tool_result"]
    check(res and res[0]["is_error"], "write into a child's area: %r" % res)
    check(not os.path.exists(os.path.join(sub, "x.txt")), "file written")
    w.shutdown()


def test_anthropic_thinking(env):
    scen = [{"match": {"request": 1},
             "reply": {"thinking": "let me think", "signature": "sig-123",
                       "tool_calls": [{"name": "bash",
                                       "arguments": {"command": "echo hi"}}]}}]
    url = env.start_fakellm(scen, record=record_path(env))
    w = Worker(env, "a", url, scheme="anthropic")
    p = w.client()
    p.request("run", text_input("think first"))
    msgs = finish(p)
    evs = events_after_prelude(msgs)
    done = [d["text"] for ev, d in evs if ev == "thinking_done"]
    check(done == ["let me think"], "thinking_done %r" % done)
    asst = [e for e in w.entries() if e["kind"] == "assistant"][0]
    check(asst.get("thinking") == "let me think" and
          asst.get("thinking_signature") == "sig-123", "logged %r" % asst)
    body = recorded(env)[1]["body"]
    check("sig-123" in json.dumps(body["messages"]), "signature sent back")


def test_large_snapshot(env):
    """A 10 MiB history; a client that writes requests before reading."""
    url = env.start_fakellm()
    w = Worker(env, "a", url, start=False)
    seg, sid = "01JSEGMENTBIG0000000000000", "01JSESSIONBIG0000000000000"
    os.makedirs(w.session_dir, mode=0o700)
    big = "y" * (10 << 20)
    with open(os.path.join(w.session_dir, seg + ".jsonl"), "w") as f:
        for e in ({"kind": "segment_start", "ms": 1, "session": sid,
                   "segment": seg, "model": "fake-model", "system": None},
                  {"kind": "user_input", "ms": 2,
                   "segments": [{"kind": "paste", "content": big}]},
                  {"kind": "assistant", "ms": 3, "text": "ok"}):
            f.write(json.dumps(e) + "\n")
    w.segment, w.session_id = seg, sid
    w.restore = True
    w.start()
    other = w.client()
    raw = pvtest.Client(w.sock_path)
    env.clients.append(raw)
    n = 300
    # ~5 MB of requests, far more than the socket buffers hold: this only
    # completes if the worker reads while its snapshot is still unsent.
    pad = "z" * 16000
    raw.send_raw(b"".join(json.dumps({"method": "resume", "id": i,
                                      "params": {"pad": pad}}).encode()
                          + b"\n" for i in range(n)))
    # Another client is served meanwhile (nobody waits for the slow one).
    other.request("notify", {"message": "hi"})
    finish(other)
    snap = raw.read(30)
    check(snap["event"] == "snapshot" and
          len(snap["data"]["entries"][1]["segments"][0]["content"]) ==
          len(big), "big snapshot")
    ids = []
    while len(ids) < n:
        m = raw.read(10)
        check(m is not None, "connection closed")
        if "id" in m:
            check(m["data"]["code"] == "not_paused", "reply %r" % m)
            ids.append(m["id"])
    check(ids == list(range(n)), "all requests answered in order: %r" %
          ids[:20])


def test_reattach(env):
    import socket
    from workerctl import Channel
    url = env.start_fakellm()
    w = Worker(env, "a", url)
    w.chan.wait_event("state")
    os.makedirs(env.runtime, exist_ok=True)
    ls = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    ls.bind(env.control_sock)
    ls.listen(4)
    w.chan.close()  # the "supervisor" dies
    # The pod keeps serving; its events wait for the new channel.
    p = w.client()
    p.request("run", text_input("while detached"))
    finish(p)
    p.request("run", text_input("again detached"))
    finish(p)
    # A pod tool used while detached is held until the re-attach.
    p.request("run", text_input("@list_pods"))
    p.wait_event("tool_call_done")
    ls.settimeout(pvtest.DEFAULT_TIMEOUT)
    # A refused re-attach: the worker drops that connection and retries.
    s0, _ = ls.accept()
    ch0 = Channel(s0, "control.sock")
    ch0.send({"event": "hello", "data": {"protocol": 1}})
    req = ch0.wait(lambda m: m.get("method") == "reattach", None, "reattach")
    ch0.reply_error(req, "not_found", "who are you")
    check(ch0.read() is None, "refused connection closed by the worker")
    s, _ = ls.accept()
    ch = Channel(s, "control.sock")
    ch.send({"event": "hello", "data": {"protocol": 1, "version": "t",
                                         "pid": os.getpid()}})
    req = ch.wait(lambda m: m.get("method") == "reattach", None, "reattach")
    d = req["params"]
    check(d["name"] == "a" and d["pid"] == w.proc.pid and
          d["segment"] == w.segment and d["status"] == "running",
          "reattach %r" % d)
    ch.reply(req, "reattached", {})
    # Every turn's end arrives, in order; the superseded state events
    # queued meanwhile do not (only the newest is kept).
    seen = []
    while sum(1 for m in seen if m.get("event") == "turn_ended") < 2:
        m = ch.read()
        check(m is not None, "channel closed after %r" % seen)
        if "event" in m:
            seen.append(m)
    tes = [m["data"]["text"] for m in seen if m["event"] == "turn_ended"]
    check("while detached" in tes[0] and "again detached" in tes[1],
          "queued turn ends: %r" % tes)
    check(not any(m["event"] == "state" for m in seen),
          "superseded state events were sent: %r" % seen)
    req = ch.wait(lambda m: m.get("method") == "list_pods", None, "held")
    ch.reply(req, "pods", {"pods": [{"name": "a", "status": "live"}]})
    res = [m["data"] for m in finish(p) if m.get("event") == "tool_result"]
    check(res and not res[0]["is_error"] and '"a"' in res[0]["output"],
          "held request answered: %r" % res)
    w.chan = ch
    rid = w.pod_event("r1", "message", "user", message="over the new link")
    check(w.wait_reply(rid)["event"] == "accepted", "new channel works")
    finish(p)
    w.shutdown()
    ls.close()


def test_shutdown(env):
    url = env.start_fakellm([SLOW])
    w = Worker(env, "a", url)
    p = w.client()
    p.request("run", text_input("slow"))
    p.wait_event("text_delta")
    w.proc.terminate()
    msgs = p.collect_until("shutdown")
    check(any(m.get("event") == "run_end" and
              m["data"]["result"] == "cancelled" for m in msgs),
          "turn cancelled on SIGTERM")
    check(w.wait_exit() == 0, "exit 0 on SIGTERM")
    check(not os.path.exists(w.sock_path), "socket removed")
    # shutdown over the channel: accepted, then exit 0.
    w = Worker(env, "b", url)
    r = w.chan.call("shutdown", {})
    check(r["event"] == "accepted", "shutdown accepted")
    check(w.wait_exit() == 0, "exit 0 on shutdown")
    # A client may ask too.
    w = Worker(env, "c", url)
    w.client().request("shutdown")
    check(w.wait_exit() == 0, "exit 0 on client shutdown")


def test_bad_start(env):
    import subprocess
    r = subprocess.run([pvtest.binary("PODVISOR_WORKER", "podvisor-worker"),
                        "--pod", "a"], capture_output=True, text=True,
                       stdin=subprocess.DEVNULL, timeout=10)
    check(r.returncode != 0 and "fd 3" in r.stderr, "no fd 3: %r" % r)
    r = subprocess.run([pvtest.binary("PODVISOR_WORKER", "podvisor-worker"),
                        "--help"], capture_output=True, text=True, timeout=10)
    check(r.returncode == 0 and "--pod" in r.stdout, "--help")
    url = env.start_fakellm()
    w = Worker(env, "a", url, start=False)
    e = w.chan.call("start", {"cwd": "relative", "scope": [], "paths": {},
                              "model": {}})
    check(e["event"] == "error", "bad start refused: %r" % e)
    check(w.wait_exit() != 0, "worker exits after a failed start")


if __name__ == "__main__":
    pvtest.run_tests([
        test_run_tools_and_clients,
        test_requests_and_segments,
        test_cancel_pause_resume,
        test_provider_failure,
        test_restore_after_kill,
        test_restore_of_a_log_lost_at_birth,
        test_pod_events,
        test_anthropic_thinking,
        test_large_snapshot,
        test_reattach,
        test_shutdown,
        test_bad_start,
    ])
