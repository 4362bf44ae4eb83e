# SPDX-License-Identifier: ISC
"""Context compaction (PROTOCOL.md §2a) of a real podvisor-worker against
tests/fakellm with a tiny context window; the test plays podvisord on fd 3
(workerctl.py).  No sleeps: every wait is for an event or a reply."""

import json
import os

import pvtest
from pvtest import check, text_input
from workerctl import Worker

MARK = "You are compacting"   # in the summarising request's system prompt
SUMMARY = "SUMMARY-7731: goals, decisions, files, open work."
SUMMARY_RULE = {"match": {"system_contains": MARK},
                "reply": {"text": SUMMARY, "chunks": 2}}


def record_path(env):
    return os.path.join(env.root, "requests.jsonl")


def recorded(env):
    with open(record_path(env)) as f:
        return [json.loads(line) for line in f if line.strip()]


def is_summary(req):
    return MARK in json.dumps(req["body"])


def body_tokens(req):
    """Request size as fakellm counts it: body bytes / 4."""
    return len(json.dumps(req["body"], separators=(",", ":"),
                          ensure_ascii=False).encode()) / 4


class CWorker(Worker):
    """A Worker whose start config sets the window and compaction."""

    def __init__(self, env, url, scheme, max_turns, model, compaction):
        self.model_extra = model
        self.compaction = compaction
        super().__init__(env, "a", url, scheme=scheme, start=False,
                         max_turns=max_turns)

    def start_params(self):
        p = super().start_params()
        p["model"]["retry_base_ms"] = 10
        p["model"].update(self.model_extra)
        p["compaction"] = self.compaction
        return p


def worker(env, url, window=4000, retain=400, threshold=0.8, enabled=True,
           max_turns=10, scheme="openai_chat", **model):
    model["context_window"] = window
    w = CWorker(env, url, scheme, max_turns, model,
                {"enabled": enabled, "threshold": threshold,
                 "retain_tokens": retain, "model": None})
    w.start()
    return w


def finish(p, result="finished", timeout=None):
    msgs = p.collect_until("run_end", timeout)
    check(msgs[-1]["data"]["result"] == result,
          "run_end %r, expected %s" % (msgs[-1]["data"], result))
    msgs.append(p.wait_event("status"))
    return msgs


def names(msgs):
    return [m.get("event") for m in msgs if "id" not in m]


def turn(p, text, result="finished"):
    p.request("run", text_input(text))
    return finish(p, result)


def compact(p, instruction=None):
    """Manual compaction; returns the events up to compact_done."""
    r = p.call("compact", {"instruction": instruction} if instruction else None)
    check(r["event"] == "accepted", "compact: %r" % r)
    msgs = p.collect_until("compact_done")
    check("compact_failed" not in names(msgs), "failed: %r" % msgs)
    return msgs


def file_entries(w, segment):
    with open(os.path.join(w.session_dir, segment + ".jsonl")) as f:
        return [json.loads(line) for line in f if line.strip()]


def segments(w):
    return sorted(n for n in os.listdir(w.session_dir))


def test_accounting(env):
    nope = {"match": {"user_contains": "ESTIMATE"}, "fail": "auth"}
    url = env.start_fakellm([nope], record=record_path(env))
    w = worker(env, url, window=50000)
    p = w.client()
    g = p.prelude["data"]["greeting"]
    check(g["context_window"] == 50000, "greeting window %r" % g)
    check(g["context_tokens"] > 500, "tool definitions counted: %r" % g)
    msgs = turn(p, "hello there")
    u = [m["data"] for m in msgs if m.get("event") == "usage"][0]
    check(u["context_window"] == 50000, "usage window %r" % u)
    check(u["context_tokens"] == u["input_tokens"] + u["output_tokens"],
          "usage: last call's input + output: %r" % u)
    # What came since the last usage is estimated at 4 bytes a token.
    turn(p, "ESTIMATE " + "n" * 4000, "error")
    g2 = w.client().prelude["data"]["greeting"]
    added = g2["context_tokens"] - u["context_tokens"]
    check(1000 < added < 1300, "estimate added: %r then %r" % (u, g2))
    w.shutdown()


def test_prompt_cache(env):
    """Through the worker: the second turn reads what the first cached,
    on both schemes; prompt_cache=false sends no hints, so nothing is."""
    url = env.start_fakellm([], record=record_path(env))
    for scheme, on in (("anthropic", True), ("openai_chat", True),
                       ("openai_responses", True), ("anthropic", False),
                       ("openai_chat", False), ("openai_responses", False)):
        extra = {} if on else {"prompt_cache": False}
        w = worker(env, url, window=50000, scheme=scheme, **extra)
        p = w.client()
        usage = []
        for text in ("first turn " + "x" * 2000, "second turn"):
            msgs = turn(p, text)
            usage.append([m["data"] for m in msgs
                          if m.get("event") == "usage"][-1])
        read = usage[1].get("cache_read_tokens", 0)
        if on:
            check(read > usage[1]["input_tokens"] * 0.5,
                  "%s: cached %r" % (scheme, usage))
        else:
            check(read == 0 and "cache_write_tokens" not in usage[1],
                  "%s off: cached %r" % (scheme, usage))
        w.shutdown()


def test_manual_compact(env):
    url = env.start_fakellm([SUMMARY_RULE], record=record_path(env))
    w = worker(env, url, window=50000, retain=300)
    p = w.client()
    watcher = w.client()
    for i in range(6):
        turn(p, "request %d: remember the number %d" % (i, i * 7))
    p.expect_error("compact", {"instruction": 5}, "invalid_request")
    old = w.segment
    with open(w.segment_path, "rb") as f:
        old_bytes = f.read()
    msgs = compact(p, "keep the numbers")
    ev = names(msgs)
    check(ev.count("compact_start") == 1, "events %r" % ev)
    start = [m["data"] for m in msgs if m.get("event") == "compact_start"][0]
    check(start["reason"] == "manual" and start["context_window"] == 50000,
          "compact_start %r" % start)
    done = msgs[-1]["data"]
    new = done["segment"]
    check(new != old, "new segment")
    # The summary request: own system prompt, the instruction, no tools run.
    req = [r for r in recorded(env) if is_summary(r)]
    check(len(req) == 1, "one summary request")
    check("keep the numbers" in json.dumps(req[0]["body"]), "instruction")
    check("request 0: remember" in json.dumps(req[0]["body"]),
          "older history summarised")
    # The new segment: segment_start with compacted_from + summary, then
    # the kept tail verbatim; the old segment is untouched.
    ents = file_entries(w, new)
    check(ents[0]["kind"] == "segment_start" and
          ents[0]["compacted_from"] == old and
          ents[0]["summary"].startswith(SUMMARY), "segment_start %r" % ents[0])
    check("request 5: remember the number 35" in json.dumps(ents),
          "newest request kept verbatim")
    check("request 0: remember" not in json.dumps(ents[1:]),
          "oldest request summarised away")
    with open(w.segment_path, "rb") as f:
        check(f.read() == old_bytes, "old segment modified")
    # The supervisor learns the segment; clients get a fresh view.
    st = w.chan.wait(lambda m: m.get("event") == "state" and
                     m["data"].get("segment") == new, None, "state")
    check(st["data"]["status"] == "idle", "state %r" % st)
    snap = p.wait_event("snapshot")["data"]
    check(snap["entries"] == ents, "snapshot = new segment's entries")
    wmsgs = watcher.collect_until("snapshot")
    check(names(wmsgs).count("compact_done") == 1, "watcher saw it once")
    check(wmsgs[-1]["data"]["entries"] == ents, "watcher snapshot")
    fresh = w.client()
    check(fresh.prelude["data"]["entries"] == ents, "new client's snapshot")
    # The next request carries the summary and the tail, not the old part.
    turn(p, "what now?")
    body = json.dumps(recorded(env)[-1]["body"])
    check("Summary of the earlier conversation" in body and SUMMARY in body,
          "summary sent")
    check("request 0: remember" not in body, "old part not sent")
    check("request 5: remember" in body, "tail sent")
    # Busy: a compaction while a turn runs is refused.
    slow = w.client()
    slow.request("run", text_input("@bash sleep 0.5"))
    slow.wait_event("tool_call_done")
    slow.expect_error("compact", None, "already_running")
    finish(slow)
    w.shutdown()


def test_300_turns_small_window(env):
    url = env.start_fakellm([SUMMARY_RULE], record=record_path(env))
    w = worker(env, url, window=4000, retain=400)
    p = w.client()
    starts = dones = 0
    for i in range(300):
        msgs = turn(p, "turn %d: the code word of this turn is w%05d." %
                    (i, i * 13))
        ev = names(msgs)
        starts += ev.count("compact_start")
        dones += ev.count("compact_done")
        check("compact_failed" not in ev, "failed at turn %d" % i)
    reqs = recorded(env)
    biggest = max(body_tokens(r) for r in reqs)
    check(biggest <= 4000, "a request of %d tokens > window 4000" % biggest)
    summaries = [r for r in reqs if is_summary(r)]
    check(starts >= 5 and starts == dones == len(summaries),
          "compactions: %d started, %d done, %d requests" %
          (starts, dones, len(summaries)))
    turns = [r for r in reqs if not is_summary(r)]
    check(len(turns) == 300, "%d turn requests" % len(turns))
    for i, r in enumerate(turns):
        last = r["body"]["messages"][-1]
        check(last["role"] == "user" and
              "turn %d: the code word of this turn is w%05d." % (i, i * 13)
              == last["content"], "turn %d's request verbatim" % i)
    body = json.dumps(turns[-1]["body"])
    check("Summary of the earlier conversation" in body and SUMMARY in body,
          "the summary is in the last request")
    check("turn 0:" not in body, "old turns gone")
    # Pod state and disk: one segment per compaction, the last is current.
    check(len(segments(w)) == starts + 1, "segments %r" % segments(w))
    w.shutdown()


def test_anthropic_small_window(env):
    url = env.start_fakellm([SUMMARY_RULE], record=record_path(env))
    w = worker(env, url, window=4000, retain=400, scheme="anthropic")
    p = w.client()
    done = 0
    for i in range(60):
        done += names(turn(p, "turn %d of sixty: " % i + "word " * 30)
                      ).count("compact_done")
    check(done >= 2, "compacted %d times" % done)
    reqs = recorded(env)
    check(max(body_tokens(r) for r in reqs) <= 4000, "within the window")
    system = reqs[-1]["body"].get("system", "")
    if isinstance(system, list):  # blocks, for cache_control
        system = "".join(b.get("text", "") for b in system)
    check(SUMMARY in system, "summary in system")
    w.shutdown()


def bash_run(n, size):
    lines = ["@bash head -c %d /dev/zero | tr '\\0' %s" % (size, chr(97 + k))
             for k in range(n)]
    return "several outputs please\n" + "\n".join(lines)


def test_mid_turn(env):
    url = env.start_fakellm([SUMMARY_RULE], record=record_path(env))
    w = worker(env, url, window=4000, retain=400, max_turns=20)
    p = w.client()
    text = bash_run(5, 1200)
    msgs = turn(p, text)
    ev = names(msgs)
    check(ev.count("compact_done") >= 1, "compacted mid-turn: %r" % ev)
    i = ev.index("compact_start")
    check("tool_result" in ev[:i] and "llm_call_start" in ev[i:],
          "between a tool result and the next request: %r" % ev)
    # The request after the compaction carries the tool results just made.
    reqs = recorded(env)
    k = max(j for j, r in enumerate(reqs) if is_summary(r))
    after = reqs[k + 1]["body"]["messages"]
    results = [m for m in after if m["role"] == "tool"]
    calls = [c["id"] for m in after if m.get("tool_calls")
             for c in m["tool_calls"]]
    check(results and all(r["tool_call_id"] in calls for r in results),
          "tool results with their calls: %r" % after)
    # Which calls' outputs are kept depends on where the window filled
    # (the size of the tool definitions counts): any of the five.
    check(any(chr(97 + k) * 1200 in r["content"] for r in results
              for k in range(5)), "outputs reach the model")
    # The user's request survives verbatim (in the summary if cut).
    check(any(text in (m.get("content") or "") for m in after),
          "last user request verbatim: %r" % after)
    check(max(body_tokens(r) for r in reqs) <= 4000, "within the window")
    w.shutdown()


def test_paused_pending_tools(env):
    url = env.start_fakellm([SUMMARY_RULE], record=record_path(env))
    w = worker(env, url, window=50000, retain=200)
    p = w.client()
    for i in range(4):
        turn(p, "warm up %d" % i)
    p.request("run", text_input("@bash sleep 0.3; echo resumed-$((6*7))"))
    call = p.wait_event("tool_call_done")["data"]
    p.request("pause")
    finish(p, "paused")
    compact(p)
    p.request("resume")
    msgs = finish(p)
    res = [m["data"] for m in msgs if m.get("event") == "tool_result"]
    check(res and res[0]["id"] == call["id"] and
          "resumed-42" in res[0]["output"], "pending call ran: %r" % res)
    body = recorded(env)[-1]["body"]["messages"]
    check(any(m["role"] == "tool" and m["tool_call_id"] == call["id"] and
              "resumed-42" in m["content"] for m in body),
          "result reached the model")
    w.shutdown()


def test_overflow_retry(env, scheme="openai_chat"):
    boom = {"match": {"user_contains": "BOOM"}, "times": 1, "fail": "overflow"}
    url = env.start_fakellm([SUMMARY_RULE, boom], record=record_path(env))
    w = worker(env, url, window=100000, retain=2000, scheme=scheme)
    p = w.client()
    for i in range(6):
        turn(p, "filler %d " % i + "lorem ipsum " * 150)
    msgs = turn(p, "BOOM this is big")
    ev = names(msgs)
    start = [m["data"] for m in msgs if m.get("event") == "compact_start"]
    check(len(start) == 1 and start[0]["reason"] == "overflow", "ev %r" % ev)
    check("compact_done" in ev and ev.count("llm_call_start") == 2,
          "compact, then the request again: %r" % ev)
    reqs = recorded(env)
    check(is_summary(reqs[-2]) and "BOOM" in json.dumps(reqs[-1]["body"]),
          "retried after the summary")
    w.shutdown()


def test_overflow_anthropic(env):
    """Anthropic's "prompt is too long" is an overflow too."""
    test_overflow_retry(env, "anthropic")


def test_overflow_responses(env):
    """Responses' context_length_exceeded is an overflow too."""
    test_overflow_retry(env, "openai_responses")


def test_overflow_responses_chain(env):
    """store + previous_response_id: turns chain on the last response;
    the summary request and the request after the compaction send the
    history itself (a stored response still holds what was summarised),
    and the next turn chains on the new response."""
    boom = {"match": {"user_contains": "BOOM"}, "times": 1, "fail": "overflow"}
    url = env.start_fakellm([SUMMARY_RULE, boom], record=record_path(env))
    w = worker(env, url, window=100000, retain=2000,
               scheme="openai_responses", store=True,
               previous_response_id=True)
    p = w.client()
    for i in range(6):
        turn(p, "filler %d " % i + "lorem ipsum " * 150)
    reqs = recorded(env)
    check("previous_response_id" not in reqs[0]["body"] and
          all(r["body"].get("previous_response_id") for r in reqs[1:]),
          "turns chain: %r" % [r["body"].get("previous_response_id")
                               for r in reqs])
    msgs = turn(p, "BOOM this is big")
    check("compact_done" in names(msgs), "compacted: %r" % names(msgs))
    reqs = recorded(env)
    summary, retry = reqs[-2], reqs[-1]
    check(is_summary(summary) and
          "previous_response_id" not in summary["body"], "summary request")
    check("previous_response_id" not in retry["body"] and
          "Summary of the earlier conversation" in json.dumps(retry["body"])
          and "BOOM" in json.dumps(retry["body"]), "retry sends it all")
    turn(p, "after")
    last = recorded(env)[-1]["body"]
    check(last.get("previous_response_id") and len(last["input"]) == 1,
          "chained again: %r" % last)
    w.shutdown()


def test_overflow_twice(env):
    # Overflow again right after a compaction: an error, never a loop.
    boom2 = {"match": {"user_contains": "BANG"}, "fail": "overflow"}
    url = env.start_fakellm([SUMMARY_RULE, boom2], record=record_path(env))
    w = worker(env, url, window=100000, retain=2000)
    p = w.client()
    for i in range(8):
        turn(p, "more filler %d " % i + "dolor sit " * 150)
    msgs = turn(p, "BANG again", "error")
    ev = names(msgs)
    check(ev.count("compact_start") == 1 and ev.count("compact_done") == 1,
          "one compaction only: %r" % ev)
    check(ev.count("llm_call_start") == 2, "one retry: %r" % ev)
    end = [m["data"] for m in msgs if m.get("event") == "run_end"][0]
    check(end["error"]["code"] == "provider_error", "run_end %r" % end)
    turn(p, "still usable")
    w.shutdown()


def test_summary_failure(env):
    bad = {"match": {"system_contains": MARK}, "times": 3,
           "fail": "server_error"}
    url = env.start_fakellm([bad, SUMMARY_RULE], record=record_path(env))
    w = worker(env, url, window=50000, retain=200, max_attempts=1)
    p = w.client()
    for i in range(5):
        turn(p, "fact %d is kept" % i)
    old = w.segment
    r = p.call("compact")
    check(r["event"] == "accepted", "accepted")
    msgs = p.collect_until("compact_failed")
    err = msgs[-1]["data"]["error"]
    check(err["code"] == "provider_error", "compact_failed %r" % err)
    p.wait_event("alert", pred=lambda d: "compaction failed" in d["message"])
    check(segments(w) == [old + ".jsonl"], "no new segment: %r" % segments(w))
    # Still usable on the old segment.
    turn(p, "after the failure")
    body = json.dumps(recorded(env)[-1]["body"])
    check("fact 0 is kept" in body and "after the failure" in body,
          "old history still sent")
    # A second failure in a row turns auto-compaction off, with an alert.
    p.call("compact")
    p.wait_event("compact_failed")
    a = p.wait_event("alert", pred=lambda d: "automatic" in d["message"])
    check("off" in a["data"]["message"], "alert %r" % a)
    # Auto-compaction is off: runs above the threshold do not compact.
    w2 = w.client()
    g = w2.prelude["data"]
    check(any("automatic compaction is off" in x["message"]
              for x in g["alerts"]), "alert kept for snapshots")
    p.call("compact")
    p.wait_event("compact_failed")   # third failure (rule used up now)
    msgs = compact(p)                 # success turns it back on
    check(any(m.get("event") == "alert" and "on again" in
              m["data"]["message"] for m in msgs), "back on: %r" % msgs)
    check(w.segment != msgs[-1]["data"]["segment"], "switched")
    w.shutdown()


def test_auto_off_after_failures(env):
    bad = {"match": {"system_contains": MARK}, "fail": "server_error"}
    url = env.start_fakellm([bad], record=record_path(env))
    w = worker(env, url, window=4000, retain=300, max_attempts=1)
    p = w.client()
    failed = 0
    alerts = []
    for i in range(30):
        msgs = turn(p, "turn %d with words: " % i + "word " * 40)
        failed += names(msgs).count("compact_failed")
        alerts += [m["data"]["message"] for m in msgs
                   if m.get("event") == "alert"]
    check(failed == 2, "two failures, then auto-compaction off: %d" % failed)
    check(any("automatic compaction is off" in a for a in alerts),
          "alert says so: %r" % alerts)
    summ = [r for r in recorded(env) if is_summary(r)]
    check(len(summ) == 2, "%d summary requests" % len(summ))
    w.shutdown()


def test_kill_during_summary(env):
    slow = {"match": {"system_contains": MARK},
            "reply": {"text": SUMMARY + " " + "z" * 200, "chunks": 50},
            "stream": {"delay_ms": 100}}
    url = env.start_fakellm([slow], record=record_path(env))
    w = worker(env, url, window=50000, retain=200)
    p = w.client()
    for i in range(5):
        turn(p, "entry %d" % i)
    old = w.segment
    p.request("compact")
    p.wait_event("compact_start")
    # A pod event acknowledged during the summary call must survive.
    rid = w.pod_event("e-during", "message", "user", message="during it")
    acc = w.wait_reply(rid)
    check(acc["event"] == "accepted", "accepted %r" % acc)
    before = w.entries()
    w.kill()
    # As if the kill had come while the new segment was being written.
    tmp = os.path.join(w.session_dir, ".NEWSEG.jsonl.tmp-x1")
    with open(tmp, "w") as f:
        f.write('{"kind":"segment_start","compacted_from":"%s","summ' % old)
    w.restart(restore=True)
    check(w.segment == old, "old segment still current")
    check(not os.path.exists(tmp), "temp file of the crash removed")
    q = w.client()
    ents = q.prelude["data"]["entries"]
    check(ents[:len(before)] == before, "nothing lost, nothing changed")
    check("e-during" in json.dumps(ents), "acknowledged event kept")
    check(all(n.endswith(".jsonl") and not n.startswith(".")
              for n in segments(w)), "no temp files left: %r" % segments(w))
    turn(q, "after the crash")
    w.shutdown()


def test_kill_after_compact_done(env):
    url = env.start_fakellm([SUMMARY_RULE], record=record_path(env))
    w = worker(env, url, window=50000, retain=200)
    p = w.client()
    for i in range(5):
        turn(p, "entry %d" % i)
    old = w.segment
    new = compact(p)[-1]["data"]["segment"]
    rid = w.pod_event("e-after", "message", "user", message="after it")
    check(w.wait_reply(rid)["event"] == "accepted", "accepted")
    w.kill()
    # The supervisor may not have recorded the new segment: restore with
    # the old id still finds the newest one.
    w.segment = old
    w.restart(restore=True)
    check(w.segment == new, "restored %s, expected %s" % (w.segment, new))
    q = w.client()
    ents = q.prelude["data"]["entries"]
    check(ents[0]["compacted_from"] == old, "compacted segment")
    check("e-after" in json.dumps(ents), "acknowledged event kept")
    # Restore continues from the new segment.
    turn(q, "continue please")
    body = json.dumps(recorded(env)[-1]["body"])
    check(SUMMARY in body and "after it" in body and "entry 0" not in body,
          "continued on the compacted segment")
    w.shutdown()


def test_tail_over_threshold(env):
    url = env.start_fakellm([SUMMARY_RULE], record=record_path(env))
    w = worker(env, url, window=4000, retain=300, max_turns=5)
    p = w.client()
    for i in range(3):
        turn(p, "small %d" % i)
    msgs = turn(p, "@bash head -c 9000 /dev/zero | tr '\\0' q")
    ev = names(msgs)
    check(ev.count("compact_start") == 1, "one compaction, no loop: %r" % ev)
    alerts = [m["data"]["message"] for m in msgs if m.get("event") == "alert"]
    check(any("right after a compaction" in a for a in alerts),
          "clear message: %r" % alerts)
    w.shutdown()


def test_disabled(env):
    url = env.start_fakellm([SUMMARY_RULE], record=record_path(env))
    w = worker(env, url, window=4000, enabled=False)
    p = w.client()
    for i in range(15):
        check("compact_start" not in names(turn(p, "turn %d" % i)),
              "auto-compaction disabled")
    compact(p)   # manual still works
    w.shutdown()


def test_cli_compact(env):
    """podvisor compact NAME through podvisord (its default compaction
    config); the daemon records the new segment and restore uses it."""
    url = env.start_fakellm([SUMMARY_RULE], record=record_path(env))
    env.use_fakellm(url)
    env.start_daemon()
    r = env.cli("spawn", "a", "--cwd", env.work)
    check(r.returncode == 0, "spawn: %s" % r.stderr)
    for text in ("@bash head -c 20000 /dev/zero | tr '\\0' a",
                 "@bash head -c 20000 /dev/zero | tr '\\0' b",
                 "remember the number 42"):
        r = env.cli("run", "a", text)
        check(r.returncode == 0, "run: %s %s" % (r.stdout, r.stderr))
    old = env.read_state("a")["session"]["segment"]
    r = env.cli("compact", "a", "keep the numbers")
    check(r.returncode == 0 and "compacted" in r.stdout,
          "compact: %r %r" % (r.stdout, r.stderr))
    check("keep the numbers" in json.dumps(
        [q for q in recorded(env) if is_summary(q)][-1]["body"]),
        "instruction sent")
    r = env.cli("stop", "a")
    check(r.returncode == 0, "stop: %s" % r.stderr)
    new = env.read_state("a")["session"]["segment"]
    check(new != old, "pod state records the new segment")
    with open(os.path.join(env.state, "sessions", "a", new + ".jsonl")) as f:
        first = json.loads(f.readline())
    check(first.get("compacted_from") == old, "segment_start %r" % first)
    r = env.cli("compact", "a")
    check(r.returncode == 1, "compact on a stopped pod: %d" % r.returncode)
    r = env.cli("restore", "a")
    check(r.returncode == 0, "restore: %s" % r.stderr)
    r = env.cli("run", "a", "what was the number?")
    check(r.returncode == 0, "run after restore: %s" % r.stderr)
    body = json.dumps(recorded(env)[-1]["body"])
    check(SUMMARY in body and "remember the number 42" in body,
          "continued on the compacted segment")


if __name__ == "__main__":
    pvtest.run_tests([
        test_accounting, test_prompt_cache, test_manual_compact, test_300_turns_small_window,
        test_anthropic_small_window, test_mid_turn, test_paused_pending_tools,
        test_overflow_retry, test_overflow_anthropic,
        test_overflow_responses, test_overflow_responses_chain,
        test_overflow_twice,
        test_summary_failure,
        test_auto_off_after_failures, test_kill_during_summary,
        test_kill_after_compact_done, test_tail_over_threshold, test_disabled,
        test_cli_compact,
    ])
