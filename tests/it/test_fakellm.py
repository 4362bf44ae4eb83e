#!/usr/bin/env python3
# SPDX-License-Identifier: ISC
"""Black-box tests of tests/fakellm: raw HTTP against the real binary."""

import http.client
import json
import os
import select
import signal
import subprocess
import sys
import tempfile
import threading
import time
import unittest

FAKELLM = os.environ.get("FAKELLM", "fakellm")
KEY = "sk-test-SECRET-4242"
TIMEOUT = 10


class Server:
    """One fakellm process; waits on its `listening` line, never sleeps."""

    def __init__(self, *args):
        self.proc = subprocess.Popen(
            [FAKELLM, "--port", "0", *args],
            stdout=subprocess.PIPE, stderr=subprocess.PIPE)
        ready, _, _ = select.select([self.proc.stdout], [], [], TIMEOUT)
        if not ready:
            self.proc.kill()
            raise RuntimeError("fakellm did not print its listening line")
        line = self.proc.stdout.readline().decode()
        if not line.startswith("listening http://127.0.0.1:"):
            self.proc.kill()
            raise RuntimeError("unexpected first line: %r (stderr %r)" % (
                line, self.proc.stderr.read()))
        self.port = int(line.strip().rsplit(":", 1)[1])

    def conn(self, timeout=TIMEOUT):
        return http.client.HTTPConnection("127.0.0.1", self.port,
                                          timeout=timeout)

    def post(self, path, body, headers=None, timeout=TIMEOUT):
        """POST JSON; returns (status, headers, body bytes, complete)."""
        c = self.conn(timeout)
        h = {"Content-Type": "application/json"}
        h.update(headers or {})
        c.request("POST", path, json.dumps(body).encode(), h)
        r = c.getresponse()
        try:
            data, complete = r.read(), True
        except http.client.IncompleteRead as e:
            data, complete = e.partial, False
        c.close()
        return r.status, r, data, complete

    def stop(self):
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
        rc = self.proc.wait(TIMEOUT)
        self.proc.stdout.close()
        self.proc.stderr.close()
        return rc


def sse(data):
    """Parse an SSE body into [(event name or None, data text)]."""
    events = []
    for block in data.decode().split("\n\n"):
        if not block.strip():
            continue
        name, lines = None, []
        for line in block.split("\n"):
            if line.startswith("event: "):
                name = line[len("event: "):]
            elif line.startswith("data: "):
                lines.append(line[len("data: "):])
            else:
                raise AssertionError("bad SSE line %r" % line)
        events.append((name, "\n".join(lines)))
    return events


def openai_req(text=None, messages=None, stream=True, usage=True):
    body = {"model": "gpt-test", "stream": stream,
            "messages": messages or [{"role": "user", "content": text}]}
    if usage:
        body["stream_options"] = {"include_usage": True}
    return body


def anthropic_req(text=None, messages=None, stream=True):
    return {"model": "claude-test", "max_tokens": 1024, "stream": stream,
            "system": "you are a test",
            "messages": messages or [{"role": "user", "content": text}]}


def openai_collect(test, data):
    """Check the chunk framing; returns (text, calls, finish, usage)."""
    events = sse(data)
    test.assertEqual(events[-1], (None, "[DONE]"))
    chunks = [json.loads(d) for _, d in events[:-1]]
    ids = {c["id"] for c in chunks}
    test.assertEqual(len(ids), 1)
    test.assertEqual(chunks[0]["choices"][0]["delta"]["role"], "assistant")
    text, calls, finish, usage = "", {}, None, None
    for c in chunks:
        test.assertEqual(c["object"], "chat.completion.chunk")
        if not c["choices"]:
            test.assertIsNotNone(finish, "usage chunk before finish")
            test.assertIs(c, chunks[-1], "usage chunk is not the last")
            usage = c["usage"]
            continue
        test.assertIsNone(finish, "chunk after finish_reason")
        ch = c["choices"][0]
        d = ch["delta"]
        text += d.get("content") or ""
        for tc in d.get("tool_calls", []):
            if "id" in tc:
                test.assertNotIn(tc["index"], calls)
                test.assertEqual(tc["type"], "function")
                calls[tc["index"]] = {"id": tc["id"], "frags": [],
                                      "name": tc["function"]["name"]}
            calls[tc["index"]]["frags"].append(tc["function"]["arguments"])
        if ch["finish_reason"] is not None:
            finish = ch["finish_reason"]
    out = []
    for i in sorted(calls):
        out.append((calls[i]["name"], calls[i]["id"],
                    json.loads("".join(calls[i]["frags"])),
                    len([f for f in calls[i]["frags"] if f])))
    return text, out, finish, usage


def anthropic_collect(test, data):
    """Check the event grammar; returns a dict of what the stream said."""
    events = sse(data)
    test.assertEqual(events[0][0], "message_start")
    test.assertEqual(events[-1][0], "message_stop")
    msg = json.loads(events[0][1])["message"]
    out = {"input_tokens": msg["usage"]["input_tokens"], "blocks": [],
           "stop_reason": None, "output_tokens": None}
    open_block = None
    for name, d in events:
        obj = json.loads(d)
        test.assertEqual(obj["type"], name)
        if name == "content_block_start":
            test.assertIsNone(open_block)
            test.assertEqual(obj["index"], len(out["blocks"]))
            open_block = dict(obj["content_block"], deltas=[])
            out["blocks"].append(open_block)
        elif name == "content_block_delta":
            test.assertEqual(obj["index"], len(out["blocks"]) - 1)
            open_block["deltas"].append(obj["delta"])
        elif name == "content_block_stop":
            open_block = None
        elif name == "message_delta":
            test.assertIsNone(open_block)
            out["stop_reason"] = obj["delta"]["stop_reason"]
            out["output_tokens"] = obj["usage"]["output_tokens"]
    return out


def joined(block, dtype, key):
    return "".join(d[key] for d in block["deltas"] if d["type"] == dtype)


SCENARIO = {
    "rules": [
        {"match": {"user_contains": "greet"},
         "reply": {"text": "Hello there, friend!", "chunks": 3}},
        {"match": {"user_contains": "use tools"},
         "reply": {"text": "Working.", "args_chunks": 4, "tool_calls": [
             {"name": "bash", "arguments": {"command": "ls -l /tmp"}},
             {"name": "write", "arguments": {"path": "h\u00e9.txt",
                                             "content": "h\u00e9llo \u2713\n"}}]}},
        {"match": {"user_contains": "think", "format": "anthropic"},
         "reply": {"thinking": "Let me think about it.", "text": "Sure.",
                   "tool_calls": [{"name": "read", "id": "toolu_X",
                                   "arguments": {"path": "a.txt"}}],
                   "usage": {"input_tokens": 1234, "output_tokens": 56}}},
        {"match": {"user_contains": "flaky"}, "times": 1,
         "fail": "rate_limit"},
        {"match": {"user_contains": "busy"}, "fail": "overloaded"},
        {"match": {"user_contains": "too long"}, "fail": "overflow"},
        {"match": {"user_contains": "cut me"},
         "reply": {"text": "abcdefghijklmnop", "chunks": 8},
         "stream": {"cut_after": 3}},
        {"match": {"user_contains": "die in stream"},
         "reply": {"text": "abcdefghijklmnop", "chunks": 8},
         "stream": {"error_after": 4}},
        {"match": {"user_contains": "garble"},
         "stream": {"malformed_after": 1}},
        {"match": {"user_contains": "slow"},
         "reply": {"text": "s-l-o-w", "chunks": 4},
         "stream": {"delay_ms": 150}},
        {"match": {"user_contains": "stall"}, "stream": {"stall_after": 2}},
        {"match": {"user_contains": "fragment"},
         "reply": {"text": "pieces of text", "chunks": 3},
         "stream": {"fragment": True}},
        {"match": {"tool_result": "bash"},
         "reply": {"text": "saw the bash result"}},
    ]
}


class ScenarioTests(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.tmp = tempfile.TemporaryDirectory()
        path = os.path.join(cls.tmp.name, "scenario.json")
        with open(path, "w") as f:
            json.dump(SCENARIO, f)
        cls.srv = Server("--scenario", path)

    @classmethod
    def tearDownClass(cls):
        rc = cls.srv.stop()
        cls.tmp.cleanup()
        if rc != 0:
            raise AssertionError("fakellm exited %d on SIGTERM" % rc)

    def test_openai_text_stream(self):
        st, r, data, done = self.srv.post("/v1/chat/completions",
                                          openai_req("please greet me"))
        self.assertEqual(st, 200)
        self.assertTrue(done)
        self.assertTrue(r.getheader("Content-Type").startswith(
            "text/event-stream"))
        text, calls, finish, usage = openai_collect(self, data)
        self.assertEqual(text, "Hello there, friend!")
        self.assertEqual(calls, [])
        self.assertEqual(finish, "stop")
        self.assertGreater(usage["prompt_tokens"], 0)
        self.assertGreater(usage["completion_tokens"], 0)
        contents = [json.loads(d)["choices"][0]["delta"].get("content")
                    for _, d in sse(data)[:-1] if json.loads(d)["choices"]]
        self.assertEqual(len([c for c in contents if c]), 3)

    def test_openai_without_usage_option(self):
        st, _, data, _ = self.srv.post(
            "/chat/completions", openai_req("greet", usage=False))
        self.assertEqual(st, 200)
        for _, d in sse(data)[:-1]:
            obj = json.loads(d)
            self.assertNotIn("usage", obj)
            self.assertEqual(len(obj["choices"]), 1)

    def test_openai_tool_calls(self):
        st, _, data, _ = self.srv.post("/v1/chat/completions",
                                       openai_req("use tools now"))
        self.assertEqual(st, 200)
        text, calls, finish, _ = openai_collect(self, data)
        self.assertEqual(text, "Working.")
        self.assertEqual(finish, "tool_calls")
        self.assertEqual([c[0] for c in calls], ["bash", "write"])
        self.assertEqual(calls[0][2], {"command": "ls -l /tmp"})
        self.assertEqual(calls[1][2], {"path": "h\u00e9.txt",
                                       "content": "h\u00e9llo \u2713\n"})
        for _, cid, _, nfrags in calls:
            self.assertTrue(cid.startswith("call_"))
            self.assertGreater(nfrags, 1)
        self.assertNotEqual(calls[0][1], calls[1][1])

    def test_anthropic_thinking_text_tool(self):
        st, _, data, done = self.srv.post(
            "/v1/messages", anthropic_req("think hard"))
        self.assertEqual(st, 200)
        self.assertTrue(done)
        out = anthropic_collect(self, data)
        self.assertEqual(out["input_tokens"], 1234)
        self.assertEqual(out["output_tokens"], 56)
        self.assertEqual(out["stop_reason"], "tool_use")
        kinds = [b["type"] for b in out["blocks"]]
        self.assertEqual(kinds, ["thinking", "text", "tool_use"])
        th, tx, tu = out["blocks"]
        self.assertEqual(joined(th, "thinking_delta", "thinking"),
                         "Let me think about it.")
        self.assertTrue(joined(th, "signature_delta", "signature"))
        self.assertEqual(joined(tx, "text_delta", "text"), "Sure.")
        self.assertEqual((tu["id"], tu["name"], tu["input"]),
                         ("toolu_X", "read", {}))
        pieces = [d["partial_json"] for d in tu["deltas"]
                  if d["type"] == "input_json_delta"]
        self.assertGreater(len([p for p in pieces if p]), 1)
        self.assertEqual(json.loads("".join(pieces)), {"path": "a.txt"})
        self.assertIn("ping", [n for n, _ in sse(data)])

    def test_anthropic_non_stream(self):
        st, _, data, _ = self.srv.post(
            "/v1/messages", anthropic_req("think", stream=False))
        self.assertEqual(st, 200)
        msg = json.loads(data)
        self.assertEqual(msg["type"], "message")
        self.assertEqual([b["type"] for b in msg["content"]],
                         ["thinking", "text", "tool_use"])
        self.assertEqual(msg["content"][2]["input"], {"path": "a.txt"})

    def test_rate_limit_once_then_fall_through(self):
        st, r, data, _ = self.srv.post("/v1/chat/completions",
                                       openai_req("flaky one"))
        self.assertEqual(st, 429)
        self.assertEqual(r.getheader("Retry-After"), "1")
        err = json.loads(data)["error"]
        self.assertEqual(err["code"], "rate_limit_exceeded")
        self.assertTrue(err["message"])
        st, _, data, _ = self.srv.post("/v1/chat/completions",
                                       openai_req("flaky one"))
        self.assertEqual(st, 200)
        text, _, _, _ = openai_collect(self, data)
        self.assertEqual(text, 'fakellm: you said "flaky one"')

    def test_overloaded_529(self):
        st, _, data, _ = self.srv.post("/v1/messages",
                                       anthropic_req("busy?"))
        self.assertEqual(st, 529)
        self.assertEqual(json.loads(data), {"type": "error", "error": {
            "type": "overloaded_error", "message": "Overloaded"}})

    def test_overflow_both_formats(self):
        st, _, data, _ = self.srv.post("/v1/chat/completions",
                                       openai_req("too long"))
        self.assertEqual(st, 400)
        err = json.loads(data)["error"]
        self.assertEqual(err["code"], "context_length_exceeded")
        self.assertEqual(err["type"], "invalid_request_error")
        st, _, data, _ = self.srv.post("/v1/messages",
                                       anthropic_req("too long"))
        self.assertEqual(st, 400)
        err = json.loads(data)["error"]
        self.assertEqual(err["type"], "invalid_request_error")
        self.assertTrue(err["message"].startswith("prompt is too long"))

    def test_mid_stream_cut(self):
        for path, req in (("/v1/chat/completions", openai_req("cut me")),
                          ("/v1/messages", anthropic_req("cut me"))):
            st, _, data, done = self.srv.post(path, req)
            self.assertEqual(st, 200)
            self.assertFalse(done, "stream was not cut")
            events = sse(data)
            self.assertEqual(len(events), 3)
            self.assertNotIn((None, "[DONE]"), events)
            self.assertNotIn("message_stop", [n for n, _ in events])
        # the server is still fine
        st, _, _, done = self.srv.post("/v1/messages", anthropic_req("greet"))
        self.assertEqual((st, done), (200, True))

    def test_in_stream_error(self):
        st, _, data, done = self.srv.post("/v1/messages",
                                          anthropic_req("die in stream"))
        self.assertEqual((st, done), (200, True))
        events = sse(data)
        self.assertEqual(len(events), 5)
        self.assertEqual(events[-1][0], "error")
        self.assertEqual(json.loads(events[-1][1])["error"]["type"],
                         "overloaded_error")
        st, _, data, _ = self.srv.post("/v1/chat/completions",
                                       openai_req("die in stream"))
        events = sse(data)
        self.assertIn("error", json.loads(events[-1][1]))
        self.assertNotIn((None, "[DONE]"), events)

    def test_malformed_event(self):
        st, _, data, _ = self.srv.post("/v1/chat/completions",
                                       openai_req("garble"))
        events = sse(data)
        json.loads(events[0][1])
        with self.assertRaises(ValueError):
            json.loads(events[1][1])
        self.assertEqual(events[-1], (None, "[DONE]"))

    def test_fragmented_events_parse(self):
        st, _, data, _ = self.srv.post("/v1/chat/completions",
                                       openai_req("fragment"))
        self.assertEqual(openai_collect(self, data)[0], "pieces of text")

    def test_slow_stream_does_not_block_others(self):
        started, done = threading.Event(), threading.Event()
        result = {}

        def slow():
            c = self.srv.conn()
            c.request("POST", "/v1/chat/completions",
                      json.dumps(openai_req("slow please")).encode())
            r = c.getresponse()
            t0 = time.monotonic()
            started.set()
            result["data"] = r.read()
            result["elapsed"] = time.monotonic() - t0
            c.close()
            done.set()

        th = threading.Thread(target=slow)
        th.start()
        self.assertTrue(started.wait(TIMEOUT))
        st, _, data, _ = self.srv.post("/v1/messages", anthropic_req("greet"))
        self.assertEqual(st, 200)
        self.assertFalse(done.is_set(), "fast request waited for slow one")
        th.join(TIMEOUT)
        self.assertEqual(openai_collect(self, result["data"])[0], "s-l-o-w")
        self.assertGreaterEqual(result["elapsed"], 0.5)

    def test_stall_keeps_connection_open(self):
        c = self.srv.conn(timeout=0.5)
        c.request("POST", "/v1/messages",
                  json.dumps(anthropic_req("stall")).encode())
        r = c.getresponse()
        self.assertEqual(r.status, 200)
        first = r.readline()
        self.assertEqual(first, b"event: message_start\n")
        got = b""
        with self.assertRaises(OSError):  # socket.timeout
            while True:
                line = r.readline()
                if not line:
                    break
                got += line
        self.assertIn(b"ping", got)
        self.assertNotIn(b"content_block", got)
        c.close()

    def test_tool_result_rule(self):
        msgs = [{"role": "user", "content": "go"},
                {"role": "assistant", "content": None, "tool_calls": [
                    {"id": "c1", "type": "function",
                     "function": {"name": "bash", "arguments": "{}"}}]},
                {"role": "tool", "tool_call_id": "c1", "content": "ok"}]
        st, _, data, _ = self.srv.post("/v1/chat/completions",
                                       openai_req(messages=msgs))
        self.assertEqual(openai_collect(self, data)[0], "saw the bash result")

    def test_unpaired_tool_call_rejected(self):
        msgs = [{"role": "user", "content": "go"},
                {"role": "assistant", "content": None, "tool_calls": [
                    {"id": "c9", "type": "function",
                     "function": {"name": "bash", "arguments": "{}"}}]},
                {"role": "user", "content": "next"}]
        st, _, data, _ = self.srv.post("/v1/chat/completions",
                                       openai_req(messages=msgs))
        self.assertEqual(st, 400)
        self.assertIn("c9", json.loads(data)["error"]["message"])
        msgs = [{"role": "user", "content": [
            {"type": "tool_result", "tool_use_id": "nope", "content": "x"}]}]
        st, _, data, _ = self.srv.post("/v1/messages",
                                       anthropic_req(messages=msgs))
        self.assertEqual(st, 400)
        self.assertIn("nope", json.loads(data)["error"]["message"])

    def test_bad_requests(self):
        c = self.srv.conn()
        c.request("POST", "/v1/messages", b"{not json",
                  {"Content-Type": "application/json"})
        r = c.getresponse()
        self.assertEqual(r.status, 400)
        self.assertEqual(json.loads(r.read())["type"], "error")
        c.close()
        st, _, data, _ = self.srv.post("/v1/messages", {"model": "m",
                                       "messages": []})
        self.assertEqual(st, 400)
        self.assertIn("max_tokens", data.decode())
        st, _, data, _ = self.srv.post("/v2/nothing", {})
        self.assertEqual(st, 404)


class AgentTests(unittest.TestCase):
    """Default mode: the directive agent, driven like a worker would."""

    @classmethod
    def setUpClass(cls):
        cls.srv = Server()

    @classmethod
    def tearDownClass(cls):
        if cls.srv.stop() != 0:
            raise AssertionError("fakellm did not exit 0 on SIGTERM")

    def openai_turn(self, messages):
        st, _, data, _ = self.srv.post("/v1/chat/completions",
                                       openai_req(messages=messages))
        self.assertEqual(st, 200)
        return openai_collect(self, data)

    def test_openai_directives(self):
        task = ("Please do this:\n"
                "@write path=hello.txt content=hi there\\nsecond line\n"
                "  @edit hello.txt \"hi there\" bye now\n"
                "@bash echo done | tr a-z A-Z\n"
                "@unknown is just text\n")
        msgs = [{"role": "system", "content": "sys"},
                {"role": "user", "content": task}]
        expect = [("write", {"path": "hello.txt",
                             "content": "hi there\nsecond line"}),
                  ("edit", {"path": "hello.txt", "old": "hi there",
                            "new": "bye now"}),
                  ("bash", {"command": "echo done | tr a-z A-Z"})]
        results = ["wrote 20 bytes to hello.txt", "edited hello.txt",
                   "DONE"]
        for (name, args), res in zip(expect, results):
            text, calls, finish, _ = self.openai_turn(msgs)
            self.assertEqual(finish, "tool_calls")
            self.assertEqual(len(calls), 1)
            self.assertEqual((calls[0][0], calls[0][2]), (name, args))
            cid = calls[0][1]
            msgs.append({"role": "assistant", "content": None,
                         "tool_calls": [{"id": cid, "type": "function",
                                         "function": {"name": name,
                                                      "arguments": json.dumps(args)}}]})
            msgs.append({"role": "tool", "tool_call_id": cid, "content": res})
        text, calls, finish, _ = self.openai_turn(msgs)
        self.assertEqual((calls, finish), ([], "stop"))
        self.assertEqual(text, "done: write ok: wrote 20 bytes to hello.txt;"
                         " edit ok: edited hello.txt; bash ok: DONE")
        # a new user message starts over with its own directives
        msgs.append({"role": "assistant", "content": text})
        msgs.append({"role": "user", "content": "@read notes.md limit=5"})
        _, calls, _, _ = self.openai_turn(msgs)
        self.assertEqual((calls[0][0], calls[0][2]),
                         ("read", {"path": "notes.md", "limit": 5}))

    def test_anthropic_directives(self):
        spawn = {"name": "a.kid", "task": "@write x.txt hi",
                 "scope": [{"target": "/w/x", "permission": "write",
                            "recursive": True}]}
        task = ("@spawn_pod " + json.dumps(spawn) + "\n"
                "@tool list_pods\n"
                "@send_to_pod a.kid please hurry\n")
        msgs = [{"role": "user", "content": [{"type": "text", "text": task}]}]
        expect = [("spawn_pod", spawn), ("list_pods", {}),
                  ("send_to_pod", {"name": "a.kid", "message": "please hurry"})]
        for i, (name, args) in enumerate(expect):
            st, _, data, _ = self.srv.post("/v1/messages",
                                           anthropic_req(messages=msgs))
            self.assertEqual(st, 200)
            out = anthropic_collect(self, data)
            self.assertEqual(out["stop_reason"], "tool_use")
            (blk,) = out["blocks"]
            self.assertEqual(blk["name"], name)
            self.assertTrue(blk["id"].startswith("toolu_"))
            self.assertEqual(json.loads(joined(blk, "input_json_delta",
                                               "partial_json")), args)
            msgs.append({"role": "assistant", "content": [
                {"type": "tool_use", "id": blk["id"], "name": name,
                 "input": args}]})
            msgs.append({"role": "user", "content": [
                {"type": "tool_result", "tool_use_id": blk["id"],
                 "content": [{"type": "text", "text": "result %d" % i}],
                 "is_error": i == 1}]})
        st, _, data, _ = self.srv.post("/v1/messages",
                                       anthropic_req(messages=msgs))
        out = anthropic_collect(self, data)
        self.assertEqual(out["stop_reason"], "end_turn")
        self.assertEqual(joined(out["blocks"][0], "text_delta", "text"),
                         "done: spawn_pod ok: result 0; list_pods failed: "
                         "result 1; send_to_pod ok: result 2")

    def test_echo_and_bad_directive(self):
        text, calls, _, _ = self.openai_turn(
            [{"role": "user", "content": "hello\nworld"}])
        self.assertEqual((text, calls), ('fakellm: you said "hello world"', []))
        text, _, _, _ = self.openai_turn(
            [{"role": "user", "content": "x\n@read a.txt offset=abc"}])
        self.assertTrue(text.startswith("fakellm: bad directive on line 2"),
                        text)


class CacheTests(unittest.TestCase):
    """Prefix caching: what the previous request of a key shares is read."""

    def setUp(self):
        self.srv = Server()

    def tearDown(self):
        self.assertEqual(self.srv.stop(), 0)

    def anthropic_usage(self, body):
        st, _, data, _ = self.srv.post(
            "/v1/messages", body, {"anthropic-version": "2023-06-01"})
        self.assertEqual(st, 200, data)
        return json.loads(sse(data)[0][1])["message"]["usage"]

    def openai_usage(self, body):
        st, _, data, _ = self.srv.post("/v1/chat/completions", body)
        self.assertEqual(st, 200, data)
        return openai_collect(self, data)[3]

    def test_anthropic_breakpoints(self):
        eph = {"type": "ephemeral"}
        hist = [{"role": "user", "content": [
            {"type": "text", "text": "word " * 400, "cache_control": eph}]}]
        body = anthropic_req(messages=hist)
        u1 = self.anthropic_usage(body)
        self.assertEqual(u1["cache_read_input_tokens"], 0)
        self.assertGreater(u1["cache_creation_input_tokens"], 400)
        hist2 = hist + [
            {"role": "assistant", "content": [{"type": "text", "text": "ok"}]},
            {"role": "user", "content": [
                {"type": "text", "text": "more", "cache_control": eph}]}]
        u2 = self.anthropic_usage(anthropic_req(messages=hist2))
        # what the first request wrote is read, the rest written
        self.assertGreaterEqual(u2["cache_read_input_tokens"],
                                u1["cache_creation_input_tokens"] - 1)
        self.assertGreater(u2["cache_creation_input_tokens"], 0)
        self.assertLess(u2["input_tokens"], 100)  # the envelope
        # no breakpoint: nothing is cached
        u3 = self.anthropic_usage(anthropic_req("word " * 400))
        self.assertEqual((u3["cache_read_input_tokens"],
                          u3["cache_creation_input_tokens"]), (0, 0))

    def test_openai_prompt_cache_key(self):
        msgs = [{"role": "user", "content": "word " * 400}]
        body = dict(openai_req(messages=msgs), prompt_cache_key="pod-a")
        u1 = self.openai_usage(body)
        self.assertEqual(u1["prompt_tokens_details"]["cached_tokens"], 0)
        msgs2 = msgs + [{"role": "assistant", "content": "ok"},
                        {"role": "user", "content": "next"}]
        u2 = self.openai_usage(
            dict(openai_req(messages=msgs2), prompt_cache_key="pod-a"))
        cached = u2["prompt_tokens_details"]["cached_tokens"]
        self.assertGreater(cached, 400)
        self.assertLess(cached, u2["prompt_tokens"])
        # another key shares nothing; no key caches nothing
        u3 = self.openai_usage(
            dict(openai_req(messages=msgs2), prompt_cache_key="pod-b"))
        self.assertEqual(u3["prompt_tokens_details"]["cached_tokens"], 0)
        u4 = self.openai_usage(openai_req(messages=msgs2))
        self.assertEqual(u4["prompt_tokens_details"]["cached_tokens"], 0)


FIXTURES = os.path.join(os.path.dirname(os.path.abspath(__file__)),
                        "..", "fixtures", "responses")


def responses_req(input, stream=True, **extra):
    body = {"model": "gpt-test", "stream": stream, "input": input}
    body.update(extra)
    return body


def user_item(text):
    return {"type": "message", "role": "user",
            "content": [{"type": "input_text", "text": text}]}


def responses_collect(test, data):
    """Check the typed-event framing; returns (events, terminal response)."""
    events = sse(data)
    out = []
    for i, (name, d) in enumerate(events):
        o = json.loads(d)
        test.assertEqual(name, o["type"], "event: line = data.type")
        test.assertEqual(o["sequence_number"], i)
        out.append(o)
    test.assertEqual([o["type"] for o in out[:2]],
                     ["response.created", "response.in_progress"])
    test.assertIn(out[-1]["type"],
                  ("response.completed", "response.incomplete"))
    # Each item: added, then its deltas, then done, in output order.
    done = [o["item"] for o in out if o["type"] == "response.output_item.done"]
    test.assertEqual(done, out[-1]["response"]["output"])
    return out, out[-1]["response"]


class ResponsesTests(unittest.TestCase):
    """POST /v1/responses: the typed stream, items, store, caching, replay."""

    def setUp(self):
        self.srv = Server()
        self.tmp = tempfile.TemporaryDirectory()
        self.addCleanup(self.tmp.cleanup)

    def tearDown(self):
        self.assertEqual(self.srv.stop(), 0)

    def post(self, body, status=200):
        st, _, data, complete = self.srv.post("/v1/responses", body)
        self.assertEqual(st, status, data)
        self.assertTrue(complete)
        return data

    def test_text_and_tool_call(self):
        out, resp = responses_collect(
            self, self.post(responses_req([user_item("@bash echo hi")])))
        self.assertEqual(resp["status"], "completed")
        fc = resp["output"][0]
        self.assertEqual((fc["type"], fc["name"], fc["call_id"]),
                         ("function_call", "bash", "call_fake_0001"))
        args = "".join(o["delta"] for o in out if o["type"] ==
                       "response.function_call_arguments.delta")
        self.assertEqual(json.loads(args), {"command": "echo hi"})
        self.assertEqual(args, fc["arguments"])
        # The output goes back as input; its call must be answered.
        hist = [user_item("@bash echo hi"),
                {"type": "function_call", "call_id": fc["call_id"],
                 "name": "bash", "arguments": fc["arguments"]}]
        data = self.post(responses_req(hist), 400)
        self.assertIn(b"No tool output found for function call "
                      b"call_fake_0001.", data)
        hist.append({"type": "function_call_output",
                     "call_id": fc["call_id"], "output": "hi"})
        out, resp = responses_collect(self, self.post(responses_req(hist)))
        text = "".join(o["delta"] for o in out
                       if o["type"] == "response.output_text.delta")
        self.assertEqual(text, "done: bash ok: hi")
        self.assertEqual(resp["output"][0]["content"][0]["text"], text)
        data = self.post(responses_req(
            [user_item("x"), {"type": "function_call_output",
                              "call_id": "call_nope", "output": "x"}]), 400)
        self.assertIn(b"No tool call found for function call output with "
                      b"call_id call_nope.", data)

    def test_reasoning_store_false(self):
        scen = os.path.join(self.tmp.name, "s.json")
        with open(scen, "w") as f:
            json.dump([{"match": {"format": "responses"},
                        "reply": {"thinking": "Plan: say hi.",
                                  "text": "hi", "chunks": 2}}], f)
        self.srv.stop()
        self.srv = Server("--scenario", scen)
        body = responses_req([user_item("hello")], store=False,
                             include=["reasoning.encrypted_content"])
        out, resp = responses_collect(self, self.post(body))
        rs = resp["output"][0]
        self.assertEqual(rs["type"], "reasoning")
        self.assertTrue(rs["encrypted_content"].startswith("gAAAAB"))
        self.assertEqual(rs["summary"][0]["text"], "Plan: say hi.")
        self.assertEqual("".join(
            o["delta"] for o in out
            if o["type"] == "response.reasoning_summary_text.delta"),
            "Plan: say hi.")
        self.assertGreater(resp["usage"]["output_tokens_details"]
                           ["reasoning_tokens"], 0)
        # store:false without the blob: the id names nothing.
        bad = {"type": "reasoning", "id": rs["id"], "summary": []}
        data = self.post(responses_req(
            [user_item("hello"), bad, user_item("more")], store=False), 400)
        self.assertIn(b"Items are not persisted when `store` is set to "
                      b"false", data)
        ok = dict(bad, encrypted_content=rs["encrypted_content"])
        self.post(responses_req(
            [user_item("hello"), ok, resp["output"][1], user_item("more")],
            store=False, stream=False))

    def test_previous_response_id(self):
        r1 = json.loads(self.post(responses_req("first", stream=False)))
        self.assertTrue(r1["store"])
        r2 = json.loads(self.post(responses_req(
            "second", stream=False, previous_response_id=r1["id"])))
        self.assertEqual(r2["previous_response_id"], r1["id"])
        self.assertGreater(r2["usage"]["input_tokens"],
                           r1["usage"]["input_tokens"])
        data = self.post(responses_req(
            "x", previous_response_id="resp_missing"), 400)
        self.assertIn(b"previous_response_not_found", data)
        # store:false responses are not kept.
        r3 = json.loads(self.post(responses_req("x", stream=False,
                                                store=False)))
        self.post(responses_req("y", previous_response_id=r3["id"]), 400)

    def test_prefix_cache(self):
        hist = [user_item("word " * 400)]
        body = responses_req(hist, prompt_cache_key="pod-a",
                             instructions="be brief")
        _, u1 = responses_collect(self, self.post(body))
        self.assertEqual(u1["usage"]["input_tokens_details"]
                         ["cached_tokens"], 0)
        hist2 = hist + [u1["output"][0], user_item("next")]
        _, u2 = responses_collect(self, self.post(
            dict(body, input=hist2)))
        cached = u2["usage"]["input_tokens_details"]["cached_tokens"]
        self.assertGreater(cached, 400)
        self.assertLess(cached, u2["usage"]["input_tokens"])
        _, u3 = responses_collect(self, self.post(responses_req(hist2)))
        self.assertEqual(u3["usage"]["input_tokens_details"]
                         ["cached_tokens"], 0)

    def test_incomplete_and_errors(self):
        scen = os.path.join(self.tmp.name, "s.json")
        with open(scen, "w") as f:
            json.dump([
                {"match": {"user_contains": "long"},
                 "reply": {"text": "cut", "stop_reason": "max_tokens"}},
                {"match": {"user_contains": "huge"}, "fail": "overflow"},
                {"match": {"user_contains": "boom"},
                 "stream": {"error_after": 3, "error_type": "server_error"}},
            ], f)
        self.srv.stop()
        self.srv = Server("--scenario", scen)
        out, resp = responses_collect(self, self.post(
            responses_req([user_item("long")])))
        self.assertEqual(out[-1]["type"], "response.incomplete")
        self.assertEqual(resp["incomplete_details"],
                         {"reason": "max_output_tokens"})
        self.assertEqual(resp["output"][0]["status"], "incomplete")
        data = json.loads(self.post(responses_req([user_item("huge")]), 400))
        self.assertEqual(data["error"]["code"], "context_length_exceeded")
        ev = sse(self.post(responses_req([user_item("boom")])))
        self.assertEqual([n for n, _ in ev][-2:],
                         ["error", "response.failed"])
        self.assertEqual(json.loads(ev[-1][1])["response"]["error"]["code"],
                         "server_error")

    def test_replay_in_pieces(self):
        fixture = os.path.join(FIXTURES, "reasoning_function_call.jsonl")
        with open(fixture) as f:
            lines = [l.rstrip("\n") for l in f if l.strip()]
        want = "".join("event: %s\ndata: %s\n\n" % (json.loads(l)["type"], l)
                       for l in lines).encode()
        scen = os.path.join(self.tmp.name, "s.json")
        with open(scen, "w") as f:
            json.dump([{"match": {"request": 1}, "reply": {"replay": fixture},
                        "stream": {"pieces": 1}},
                       {"match": {"request": 2}, "reply": {"replay": fixture},
                        "stream": {"pieces": 200, "pieces_seed": 7,
                                   "delay_ms": 1}},
                       {"match": {"request": 3},
                        "reply": {"replay": "/nonexistent.jsonl"}}], f)
        self.srv.stop()
        self.srv = Server("--scenario", scen)
        for _ in range(2):
            # Byte for byte what was recorded, however it is cut.
            self.assertEqual(self.post(responses_req([user_item("go")])),
                             want)
        data = self.post(responses_req([user_item("go")]))
        self.assertIn(b"/nonexistent.jsonl", data)



class MiscTests(unittest.TestCase):
    def test_record_and_require_key(self):
        with tempfile.TemporaryDirectory() as tmp:
            rec = os.path.join(tmp, "rec.jsonl")
            srv = Server("--record", rec, "--require-key", KEY)
            try:
                st, _, data, _ = srv.post("/v1/chat/completions",
                                          openai_req("hi"))
                self.assertEqual(st, 401)
                self.assertEqual(json.loads(data)["error"]["code"],
                                 "invalid_api_key")
                st, _, data, _ = srv.post(
                    "/v1/messages", anthropic_req("hi"), {"x-api-key": KEY})
                self.assertEqual(st, 401)  # no anthropic-version
                self.assertEqual(json.loads(data)["error"]["type"],
                                 "authentication_error")
                body = openai_req("hi there")
                st, _, _, _ = srv.post("/v1/chat/completions", body,
                                       {"Authorization": "Bearer " + KEY})
                self.assertEqual(st, 200)
                st, _, _, _ = srv.post(
                    "/v1/messages", anthropic_req("yo"),
                    {"x-api-key": KEY, "anthropic-version": "2023-06-01"})
                self.assertEqual(st, 200)
            finally:
                self.assertEqual(srv.stop(), 0)
            with open(rec) as f:
                raw = f.read()
            self.assertNotIn(KEY, raw)
            lines = [json.loads(l) for l in raw.splitlines()]
            self.assertEqual([l["n"] for l in lines], [1, 2, 3, 4])
            self.assertEqual(lines[2]["method"], "POST")
            self.assertEqual(lines[2]["path"], "/v1/chat/completions")
            self.assertEqual(lines[2]["headers"]["authorization"], "REDACTED")
            self.assertEqual(lines[2]["body"], body)
            self.assertEqual(lines[3]["headers"]["x-api-key"], "REDACTED")
            self.assertEqual(lines[3]["headers"]["anthropic-version"],
                             "2023-06-01")

    def test_request_number_rule(self):
        with tempfile.TemporaryDirectory() as tmp:
            path = os.path.join(tmp, "s.json")
            with open(path, "w") as f:
                json.dump([{"match": {"request": 2}, "fail": {
                    "status": 500, "message": "boom"}}], f)
            srv = Server("--scenario", path)
            try:
                codes = [srv.post("/v1/messages", anthropic_req("x"))[0]
                         for _ in range(3)]
                self.assertEqual(codes, [200, 500, 200])
            finally:
                srv.stop()

    def test_bad_scenario_exits_2(self):
        with tempfile.TemporaryDirectory() as tmp:
            for content, needle in (
                    ('{"rules":[{"replyy":{}}]}', "replyy"),
                    ('{"rules":[{"reply":{"text":1}}]}', "rules[0].reply.text"),
                    ('{"rules":[{"fail":"nope"}]}', "nope"),
                    ('{"rules": [', "invalid JSON")):
                path = os.path.join(tmp, "bad.json")
                with open(path, "w") as f:
                    f.write(content)
                p = subprocess.run([FAKELLM, "--scenario", path],
                                   capture_output=True, timeout=TIMEOUT)
                self.assertEqual(p.returncode, 2, content)
                err = p.stderr.decode()
                self.assertIn(path, err)
                self.assertIn(needle, err)
                self.assertEqual(p.stdout, b"")

    def test_sigterm_exits_cleanly_mid_stream(self):
        with tempfile.TemporaryDirectory() as tmp:
            path = os.path.join(tmp, "s.json")
            with open(path, "w") as f:
                json.dump([{"stream": {"stall_after": 1}}], f)
            srv = Server("--scenario", path)
            c = srv.conn()
            c.request("POST", "/v1/messages",
                      json.dumps(anthropic_req("x")).encode())
            r = c.getresponse()
            self.assertEqual(r.readline(), b"event: message_start\n")
            self.assertEqual(srv.stop(), 0)
            c.close()


if __name__ == "__main__":
    unittest.main(verbosity=2)
