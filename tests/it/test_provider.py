# SPDX-License-Identifier: ISC
"""The worker's LLM call layer (http.c, sse.c, provider*.c) end to end.

tests/it/llmcall runs ONE llm_call on a real event loop against the real
fakellm and prints each callback as a JSON line; both wire schemes are
checked for streaming, tool calls, retries, cuts, overflow and API keys.
Usage (meson does this): test_provider.py LLMCALL [test names...]
"""

import json
import os
import subprocess
import sys

from pvtest import DEFAULT_TIMEOUT, check, fail, run_tests

LLMCALL = sys.argv.pop(1) if len(sys.argv) > 1 and os.path.isfile(
    sys.argv[1]) else os.environ.get("LLMCALL", "llmcall")

SCHEMES = ("openai_chat", "anthropic")
KEY = "sk-test-SECRET-9f3a"

USER = [{"kind": "user_input", "ms": 1,
         "segments": [{"kind": "text", "content": "hello there"}]}]

TOOLS = [{"name": "bash", "description": "Run a command",
          "parameters": {"type": "object",
                         "properties": {"command": {"type": "string"}}}},
         {"name": "read", "description": "Read a file",
          "parameters": {"type": "object",
                         "properties": {"path": {"type": "string"}}}}]


def base_url(url, scheme):
    return url + "/v1" if scheme == "openai_chat" else url


def llmcall(env, url, scheme, entries=None, model=None, tools=None,
            args=(), timeout=None):
    """Run llmcall; returns (lines, stdout+stderr text)."""
    m = {"provider": "fake-" + scheme, "scheme": scheme,
         "base_url": base_url(url, scheme), "model": "fake-model",
         "context_window": 100000, "max_tokens": 256,
         "retry_base_ms": 10}
    m.update(model or {})
    n = len(os.listdir(env.root))
    mpath = os.path.join(env.root, "model-%d.json" % n)
    epath = os.path.join(env.root, "entries-%d.json" % n)
    with open(mpath, "w") as f:
        json.dump(m, f)
    with open(epath, "w") as f:
        json.dump(entries if entries is not None else USER, f)
    argv = [LLMCALL, mpath, epath]
    if tools is not None:
        tpath = os.path.join(env.root, "tools-%d.json" % n)
        with open(tpath, "w") as f:
            json.dump(tools, f)
        argv += ["--tools", tpath]
    argv += list(args)
    try:
        p = subprocess.run(argv, capture_output=True, env=env.env,
                           timeout=timeout or 4 * DEFAULT_TIMEOUT)
    except subprocess.TimeoutExpired:
        fail("llmcall did not finish in time")
    out = p.stdout.decode()
    err = p.stderr.decode()
    check(p.returncode == 0, "llmcall rc=%d: %s" % (p.returncode, err))
    lines = [json.loads(x) for x in out.splitlines() if x.strip()]
    return lines, out + err


def done_of(lines):
    done = [x for x in lines if x["cb"] == "done"]
    check(len(done) == 1, "expected one done, got %r" % lines)
    check(lines[-1]["cb"] == "done", "done is not last: %r" % lines)
    return done[0]["result"]


def of(lines, cb):
    return [x for x in lines if x["cb"] == cb]


def records(path):
    if not os.path.exists(path):
        return []
    with open(path) as f:
        return [json.loads(x) for x in f if x.strip()]


def test_text_streaming(env):
    text = "Hello from the fake model, streamed in pieces."
    url = env.start_fakellm(scenario={"rules": [
        {"match": {"any": True},
         "reply": {"text": text, "chunks": 5,
                   "usage": {"input_tokens": 11, "output_tokens": 7}},
         "stream": {"fragment": True}}]})
    for scheme in SCHEMES:
        lines, _ = llmcall(env, url, scheme)
        deltas = of(lines, "text_delta")
        check(len(deltas) >= 3, "%s: few deltas %r" % (scheme, deltas))
        check("".join(d["text"] for d in deltas) == text,
              "%s: deltas %r" % (scheme, deltas))
        r = done_of(lines)
        check(not r["failed"], "%s: failed %r" % (scheme, r))
        check(r["text"] == text, "%s: text %r" % (scheme, r["text"]))
        check(r["tool_calls"] == [], "%s: calls %r" % (scheme, r))
        check(r["stop_reason"] in ("stop", "end_turn"),
              "%s: stop %r" % (scheme, r["stop_reason"]))
        check(r["usage"]["input_tokens"] == 11 and
              r["usage"]["output_tokens"] == 7,
              "%s: usage %r" % (scheme, r["usage"]))
        check(r["http_status"] == 200, "%s: status %r" % (scheme, r))
        check(not of(lines, "retry"), "%s: retried" % scheme)


def test_thinking(env):
    url = env.start_fakellm(scenario={"rules": [
        {"match": {"any": True},
         "reply": {"thinking": "let me think about it", "text": "ok",
                   "signature": "SIG-xyz"}}]})
    for scheme in SCHEMES:
        lines, _ = llmcall(env, url, scheme)
        r = done_of(lines)
        check(not r["failed"], "%s: %r" % (scheme, r))
        check(r["thinking"] == "let me think about it",
              "%s: thinking %r" % (scheme, r))
        check("".join(x["text"] for x in of(lines, "thinking_delta")) ==
              "let me think about it", "%s: deltas" % scheme)
        if scheme == "anthropic":
            check(r["thinking_signature"] == "SIG-xyz",
                  "signature %r" % r["thinking_signature"])


def test_tool_calls_fragmented(env):
    rec = os.path.join(env.root, "rec.jsonl")
    calls = [{"name": "bash", "arguments": {"command": "ls -la /tmp",
                                            "timeout_s": 5}},
             {"name": "read", "arguments": {"path": "/etc/hostname"}}]
    url = env.start_fakellm(record=rec, scenario={"rules": [
        {"match": {"any": True},
         "reply": {"text": "Running.", "tool_calls": calls,
                   "args_chunks": 6},
         "stream": {"fragment": True}}]})
    for scheme in SCHEMES:
        lines, _ = llmcall(env, url, scheme, tools=TOOLS,
                           args=("--system", "You are a test."))
        starts = of(lines, "tool_call_start")
        check([s["name"] for s in starts] == ["bash", "read"],
              "%s: starts %r" % (scheme, starts))
        r = done_of(lines)
        check(not r["failed"], "%s: %r" % (scheme, r))
        got = [(c["name"], json.loads(c["arguments"]))
               for c in r["tool_calls"]]
        check(got == [(c["name"], c["arguments"]) for c in calls],
              "%s: calls %r" % (scheme, r["tool_calls"]))
        check([c["id"] for c in r["tool_calls"]] ==
              [s["id"] for s in starts], "%s: ids differ" % scheme)
        check(r["stop_reason"] in ("tool_calls", "tool_use"),
              "%s: stop %r" % (scheme, r["stop_reason"]))
    bodies = [x["body"] for x in records(rec)]
    check(len(bodies) == 2, "records %r" % bodies)
    oai, ant = bodies
    check(oai["stream"] is True and
          oai["stream_options"] == {"include_usage": True}, "oai %r" % oai)
    check(oai["tools"][0] == {"type": "function", "function": {
        "name": "bash", "description": "Run a command",
        "parameters": TOOLS[0]["parameters"]}}, "oai tools %r" % oai)
    check(oai["messages"][0] == {"role": "system",
                                 "content": "You are a test."},
          "oai system %r" % oai["messages"])
    # Prompt caching: the system as a block and the last tool end
    # cached prefixes (cache_control breakpoints).
    eph = {"type": "ephemeral"}
    check(ant["system"] == [{"type": "text", "text": "You are a test.",
                             "cache_control": eph}] and
          ant["max_tokens"] == 256, "ant %r" % ant)
    check(ant["tools"][1] == {"name": "read", "description": "Read a file",
                              "input_schema": TOOLS[1]["parameters"],
                              "cache_control": eph},
          "ant tools %r" % ant["tools"])
    check(ant["messages"][-1]["content"][-1].get("cache_control") == eph,
          "ant newest message %r" % ant["messages"])


def test_history_accepted(env):
    """A history with tool calls and results passes fakellm's checks."""
    entries = USER + [
        {"kind": "system_item", "item": {"kind": "notification",
                                         "message": "child a finished"}},
        {"kind": "assistant", "text": "Looking.", "tool_calls": [
            {"id": "c1", "name": "bash", "arguments": "{\"command\":\"ls\"}"},
            {"id": "c2", "name": "read", "arguments": "{\"path\":\"/x\"}"}]},
        {"kind": "tool_result", "id": "c1", "summary": "ok",
         "output": "a b", "is_error": False},
        {"kind": "tool_result", "id": "c2", "summary": "no such file",
         "is_error": True},
        {"kind": "turn_end", "turn": 1},
        {"kind": "assistant", "text": "Done."},
        {"kind": "run_end", "result": "finished"},
        {"kind": "user_input", "segments": [
            {"kind": "text", "content": "and now?"}]}]
    url = env.start_fakellm(scenario={"rules": [], "fallback": "echo"})
    for scheme in SCHEMES:
        lines, _ = llmcall(env, url, scheme, entries=entries, tools=TOOLS)
        r = done_of(lines)
        check(not r["failed"], "%s: %r" % (scheme, r))
        check("and now?" in (r["text"] or ""), "%s: %r" % (scheme, r))


def test_rate_limit_retry_after(env):
    rec = os.path.join(env.root, "rec.jsonl")
    url = env.start_fakellm(record=rec, scenario={"rules": [
        {"match": {"format": "openai"}, "times": 1, "fail": "rate_limit"},
        {"match": {"format": "anthropic"}, "times": 2,
         "fail": {"status": 429, "retry_after_ms": 40}},
        {"match": {"any": True}, "reply": {"text": "finally"}}]})
    for scheme, want in (("openai_chat", [1000]), ("anthropic", [40, 40])):
        lines, _ = llmcall(env, url, scheme)
        retries = of(lines, "retry")
        check([x["wait_ms"] for x in retries] == want,
              "%s: waits %r" % (scheme, retries))
        check([x["status"] for x in retries] == [429] * len(want),
              "%s: %r" % (scheme, retries))
        check([x["attempt"] for x in retries] ==
              list(range(1, len(want) + 1)), "%s: attempts" % scheme)
        check(all(x["max_attempts"] == 5 for x in retries), "max_attempts")
        r = done_of(lines)
        check(not r["failed"] and r["text"] == "finally",
              "%s: %r" % (scheme, r))
    check(len(records(rec)) == 5, "requests %d" % len(records(rec)))


def test_overloaded_and_5xx_retry(env):
    url = env.start_fakellm(scenario={"rules": [
        {"match": {"request": 1}, "fail": "overloaded"},
        {"match": {"request": 2}, "fail": "server_error"},
        {"match": {"request": 3}, "fail": {"status": 503}},
        {"match": {"request": 4}, "reply": {"text": "up again"}},
        {"match": {"request": 5}, "fail": {"status": 408}},
        {"match": {"request": 6}, "reply": {"text": "after 408"}}]})
    lines, _ = llmcall(env, url, "anthropic")
    retries = of(lines, "retry")
    check([x["status"] for x in retries] == [529, 500, 503],
          "statuses %r" % retries)
    check("Overloaded" in retries[0]["error"], "error %r" % retries[0])
    # Exponential, jittered: 10 ms then 20 ms then 40 ms, each +-20 %.
    for x, base in zip(retries, (10, 20, 40)):
        check(0.8 * base <= x["wait_ms"] <= 1.2 * base, "wait %r" % x)
    r = done_of(lines)
    check(not r["failed"] and r["text"] == "up again", "%r" % r)
    lines, _ = llmcall(env, url, "openai_chat")
    check([x["status"] for x in of(lines, "retry")] == [408], "%r" % lines)
    check(done_of(lines)["text"] == "after 408", "%r" % lines)


def test_max_attempts_exhausted(env):
    rec = os.path.join(env.root, "rec.jsonl")
    url = env.start_fakellm(record=rec, scenario={"rules": [
        {"match": {"any": True}, "fail": "overloaded"}]})
    for scheme in SCHEMES:
        lines, _ = llmcall(env, url, scheme, model={"max_attempts": 3})
        check(len(of(lines, "retry")) == 2, "%s: %r" % (scheme, lines))
        r = done_of(lines)
        check(r["failed"] and r["http_status"] == 529, "%s: %r" % (scheme, r))
        check(r["error"].startswith("provider fake-%s: HTTP 529 " % scheme)
              and r["error"].endswith("after 3 attempts"),
              "%s: error %r" % (scheme, r["error"]))
        check(not r["overflow"], "overflow")
    check(len(records(rec)) == 6, "requests %d" % len(records(rec)))


def test_not_retried(env):
    """A 400 (bad request) fails at once."""
    url = env.start_fakellm(scenario={"rules": [
        {"match": {"any": True},
         "fail": {"status": 400, "message": "bad thing"}}]})
    for scheme in SCHEMES:
        lines, _ = llmcall(env, url, scheme)
        check(not of(lines, "retry"), "%s retried" % scheme)
        r = done_of(lines)
        check(r["failed"] and r["http_status"] == 400 and
              "bad thing" in r["error"] and "attempts" not in r["error"],
              "%s: %r" % (scheme, r))


def test_connect_refused(env):
    import socket
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    port = s.getsockname()[1]
    s.close()  # nobody listens there now
    for scheme in SCHEMES:
        lines, _ = llmcall(env, "http://127.0.0.1:%d" % port, scheme,
                           model={"max_attempts": 2})
        retries = of(lines, "retry")
        check(len(retries) == 1 and retries[0]["status"] == 0,
              "%s: %r" % (scheme, lines))
        r = done_of(lines)
        check(r["failed"] and r["error"].endswith("after 2 attempts") and
              r["http_status"] == 0, "%s: %r" % (scheme, r))


def test_stream_cut(env):
    rec = os.path.join(env.root, "rec.jsonl")
    text = "one two three four five six seven eight"
    url = env.start_fakellm(record=rec, scenario={"rules": [
        {"match": {"any": True},
         "reply": {"text": text, "chunks": 8,
                   "tool_calls": [{"name": "bash",
                                   "arguments": {"command": "ls"}}]},
         "stream": {"cut_after": 5}}]})
    for scheme in SCHEMES:
        lines, _ = llmcall(env, url, scheme)
        check(not of(lines, "retry"), "%s: retried after bytes" % scheme)
        r = done_of(lines)
        got = "".join(x["text"] for x in of(lines, "text_delta"))
        check(r["failed"] and "stream cut" in r["error"],
              "%s: %r" % (scheme, r))
        check(got and r["text"] == got and text.startswith(got) and
              got != text, "%s: partial %r vs %r" % (scheme, r["text"], got))
        check(r["tool_calls"] == [], "%s: incomplete call kept" % scheme)
    check(len(records(rec)) == 2, "requests %d" % len(records(rec)))


def test_stream_cut_keeps_complete_calls(env):
    calls = [{"name": "bash", "arguments": {"command": "ls"}},
             {"name": "read", "arguments": {"path": "/a/long/path/name"}}]
    # Cut after the second call started: the first one is complete.
    url = env.start_fakellm(scenario={"rules": [
        {"match": {"format": "openai"},
         "reply": {"tool_calls": calls, "args_chunks": 3},
         "stream": {"cut_after": 6}},
        {"match": {"format": "anthropic"},
         "reply": {"tool_calls": calls, "args_chunks": 3},
         "stream": {"cut_after": 9}}]})
    for scheme in SCHEMES:
        lines, _ = llmcall(env, url, scheme)
        r = done_of(lines)
        check(r["failed"] and "stream cut" in r["error"],
              "%s: %r" % (scheme, r))
        check([c["name"] for c in r["tool_calls"]] == ["bash"] and
              json.loads(r["tool_calls"][0]["arguments"]) ==
              {"command": "ls"}, "%s: calls %r / %r" % (
                  scheme, r["tool_calls"], of(lines, "tool_call_start")))


def test_stalled_stream(env):
    """A stream that stops sending is cut by the idle bound (timeout_s)."""
    url = env.start_fakellm(scenario={"rules": [
        {"match": {"any": True}, "reply": {"text": "abcdefgh", "chunks": 4},
         "stream": {"stall_after": 4}}]})
    for scheme in SCHEMES:
        lines, _ = llmcall(env, url, scheme, model={"timeout_s": 1})
        check(not of(lines, "retry"), "%s retried" % scheme)
        r = done_of(lines)
        check(r["failed"] and "stream cut" in r["error"] and r["text"],
              "%s: %r" % (scheme, r))


def test_in_stream_error(env):
    # After two text deltas of either format (anthropic: message_start,
    # ping and content_block_start come first).
    err = {"error_type": "overloaded_error",
           "error_message": "Overloaded mid-stream"}
    url = env.start_fakellm(scenario={"rules": [
        {"match": {"format": "openai"},
         "reply": {"text": "abcdefgh", "chunks": 4},
         "stream": dict(err, error_after=3)},
        {"match": {"format": "anthropic"},
         "reply": {"text": "abcdefgh", "chunks": 4},
         "stream": dict(err, error_after=5)}]})
    for scheme in SCHEMES:
        lines, _ = llmcall(env, url, scheme)
        check(not of(lines, "retry"), "%s retried" % scheme)
        r = done_of(lines)
        check(r["failed"] and "Overloaded mid-stream" in r["error"],
              "%s: %r" % (scheme, r))
        check(r["text"] == "abcd", "%s: text %r" % (scheme, r["text"]))


def test_malformed_stream(env):
    url = env.start_fakellm(scenario={"rules": [
        {"match": {"any": True}, "reply": {"text": "abcdefgh", "chunks": 4},
         "stream": {"malformed_after": 2}}]})
    for scheme in SCHEMES:
        lines, _ = llmcall(env, url, scheme)
        r = done_of(lines)
        check(r["failed"] and "invalid JSON" in r["error"],
              "%s: %r" % (scheme, r))


def test_overflow(env):
    url = env.start_fakellm(scenario={"rules": [
        {"match": {"any": True}, "fail": "overflow"}]})
    for scheme in SCHEMES:
        lines, _ = llmcall(env, url, scheme)
        check(not of(lines, "retry"), "%s retried" % scheme)
        r = done_of(lines)
        check(r["failed"] and r["overflow"] and r["http_status"] == 400,
              "%s: %r" % (scheme, r))


def test_api_key(env):
    rec = os.path.join(env.root, "rec.jsonl")
    url = env.start_fakellm(record=rec, args=("--require-key", KEY),
                            scenario={"rules": [], "fallback": "echo"})
    for scheme in SCHEMES:
        lines, out = llmcall(env, url, scheme, model={"api_key": KEY})
        r = done_of(lines)
        check(not r["failed"], "%s: %r" % (scheme, r))
        # Wrong key: 401, not retried, the key appears nowhere.
        lines, out = llmcall(env, url, scheme,
                             model={"api_key": KEY + "-wrong"})
        r = done_of(lines)
        check(r["failed"] and r["http_status"] == 401 and
              not of(lines, "retry"), "%s: %r" % (scheme, r))
        check(KEY not in out, "%s: key leaked: %s" % (scheme, out))
        # No key: no auth header at all.
        lines, out = llmcall(env, url, scheme)
        check(done_of(lines)["http_status"] == 401, "%s: no key" % scheme)
    recs = records(rec)
    check(len(recs) == 6, "records %d" % len(recs))
    h = [x["headers"] for x in recs]
    check(h[0].get("authorization") == "REDACTED" and
          "x-api-key" not in h[0], "openai headers %r" % h[0])
    check("authorization" not in h[2], "openai no-key headers %r" % h[2])
    check(h[3].get("x-api-key") == "REDACTED" and
          h[3].get("anthropic-version") == "2023-06-01" and
          "authorization" not in h[3], "anthropic headers %r" % h[3])
    check("x-api-key" not in h[5], "anthropic no-key headers %r" % h[5])
    with open(rec) as f:
        check(KEY not in f.read(), "key in the record file")


def test_key_masked_in_errors(env):
    """An error body that echoes the key never carries it further."""
    url = env.start_fakellm(scenario={"rules": [
        {"match": {"any": True},
         "fail": {"status": 503, "message": "bad key " + KEY}}]})
    for scheme in SCHEMES:
        lines, out = llmcall(env, url, scheme,
                             model={"api_key": KEY, "max_attempts": 2})
        r = done_of(lines)
        check(r["failed"] and "bad key ****" in r["error"] and
              len(of(lines, "retry")) == 1, "%s: %r" % (scheme, lines))
        check(KEY not in out, "%s: key leaked: %s" % (scheme, out))


def test_cancel_inside_callback(env):
    url = env.start_fakellm(scenario={"rules": [
        {"match": {"any": True},
         "reply": {"text": "a b c d e f g h", "chunks": 8},
         "stream": {"delay_ms": 20}}]})
    for scheme in SCHEMES:
        lines, _ = llmcall(env, url, scheme, args=("--cancel-on-delta",))
        check([x["cb"] for x in lines] == ["text_delta", "cancelled", "idle"],
              "%s: %r" % (scheme, lines))


if __name__ == "__main__":
    run_tests([test_text_streaming, test_thinking, test_tool_calls_fragmented,
               test_history_accepted, test_rate_limit_retry_after,
               test_overloaded_and_5xx_retry, test_max_attempts_exhausted,
               test_not_retried, test_connect_refused, test_stream_cut,
               test_stream_cut_keeps_complete_calls, test_stalled_stream,
               test_in_stream_error,
               test_malformed_stream, test_overflow, test_api_key,
               test_key_masked_in_errors,
               test_cancel_inside_callback])
