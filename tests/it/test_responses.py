# SPDX-License-Identifier: ISC
"""scheme = openai_responses through a real podvisor-worker against
tests/fakellm: real recorded Responses streams (tests/fixtures/responses)
replayed in small pieces (1 ms apart), and what the worker sends back checked byte for
byte (encrypted reasoning, call ids), across a kill -9 and restore.  The
test plays podvisord on fd 3 (workerctl.py).  No sleeps."""

import json
import os

import pvtest
from pvtest import check, text_input
from workerctl import Worker

FIXTURES = os.path.join(os.path.dirname(os.path.abspath(__file__)),
                        "..", "fixtures", "responses")
SCHEME = "openai_responses"


def fixture(name):
    return os.path.join(FIXTURES, name)


def fixture_lines(name):
    with open(fixture(name)) as f:
        return [json.loads(line) for line in f if line.strip()]


def record_path(env):
    return os.path.join(env.root, "requests.jsonl")


def recorded(env):
    with open(record_path(env)) as f:
        return [json.loads(line) for line in f if line.strip()]


def replay(name, n, pieces=29, seed=None):
    """A rule: request n gets the recorded stream, cut in small pieces."""
    stream = {"pieces": pieces, "delay_ms": 1}
    if seed is not None:
        stream["pieces_seed"] = seed
    return {"match": {"request": n}, "reply": {"replay": fixture(name)},
            "stream": stream}


class RWorker(Worker):
    def __init__(self, env, url, model=None, **kw):
        self.model_extra = model or {}
        super().__init__(env, "a", url, scheme=SCHEME, **kw)

    def start_params(self):
        p = super().start_params()
        p["model"]["retry_base_ms"] = 10
        p["model"].update(self.model_extra)
        return p


def finish(p, result="finished"):
    msgs = p.collect_until("run_end")
    check(msgs[-1]["data"]["result"] == result,
          "run_end %r, expected %s" % (msgs[-1]["data"], result))
    return msgs


def turn(p, text, result="finished"):
    p.request("run", text_input(text))
    return finish(p, result)


def events(msgs, name):
    return [m["data"] for m in msgs if m.get("event") == name]


def input_of(req):
    return req["body"]["input"]


def test_reasoning_round_trip_and_restore(env):
    """A real gpt-5.1 stream (encrypted reasoning + a function call) in
    29-byte pieces: the next request carries the reasoning item exactly as
    output_item.done had it and the call id the model chose, and so does
    the first request after kill -9 and restore."""
    url = env.start_fakellm(
        {"rules": [replay("reasoning_function_call.jsonl", 1)],
         "fallback": "echo"}, record=record_path(env))
    w = RWorker(env, url, {"reasoning_effort": "high",
                           "reasoning_summary": "detailed"})
    p = w.client()
    msgs = turn(p, "compute (12+7)*3*10 with the calculator")
    lines = fixture_lines("reasoning_function_call.jsonl")
    summary = lines[-1]["response"]["output"][0]["summary"][0]["text"]
    thinking = "".join(d["text"] for d in events(msgs, "thinking_delta"))
    check(thinking == summary, "thinking deltas %r" % thinking)
    starts = events(msgs, "tool_call_start")
    check([(s["id"], s["name"]) for s in starts] ==
          [("call_AB6AaRZ1FYZB2RwS6A5vbdqn", "calculator")],
          "tool_call_start %r" % starts)
    u = events(msgs, "usage")[0]
    check((u["input_tokens"], u["output_tokens"]) == (134, 28),
          "usage %r" % u)
    reqs = recorded(env)
    check(len(reqs) == 2, "%d requests" % len(reqs))
    b1 = reqs[0]["body"]
    check(reqs[0]["path"] == "/v1/responses" and b1["stream"] is True and
          b1["store"] is False and
          b1["include"] == ["reasoning.encrypted_content"] and
          b1["reasoning"] == {"effort": "high", "summary": "detailed"} and
          "Be brief." in b1["instructions"] and
          b1["input"][0]["role"] == "user",
          "first request %r" % {k: b1[k] for k in b1 if k != "tools"})
    done = [l["item"] for l in lines
            if l["type"] == "response.output_item.done"]
    inp = input_of(reqs[1])
    check(inp[1] == done[0], "reasoning item sent back:\n%r\nwant\n%r" %
          (inp[1], done[0]))
    check(inp[1]["encrypted_content"] == done[0]["encrypted_content"],
          "encrypted_content byte for byte")
    check(inp[2] == {"type": "function_call",
                     "call_id": "call_AB6AaRZ1FYZB2RwS6A5vbdqn",
                     "name": "calculator",
                     "arguments": '{"a":12,"b":7,"op":"add"}'},
          "function_call %r" % inp[2])
    check(inp[3]["type"] == "function_call_output" and
          inp[3]["call_id"] == "call_AB6AaRZ1FYZB2RwS6A5vbdqn",
          "function_call_output %r" % inp[3])
    # The log holds the items and the response id: they survive restore.
    a = [e for e in w.entries() if e.get("kind") == "assistant"][0]
    check(a["items"] == done and a["response_id"] ==
          "resp_01830d662ab3856501693c321345c88190b0de00f3b9975691",
          "assistant entry %r" % a)
    w.kill()
    w.restart(restore=True)
    p = w.client()
    turn(p, "and again")
    reqs = recorded(env)
    inp = input_of(reqs[-1])
    check(inp[1] == done[0] and inp[2]["call_id"] ==
          "call_AB6AaRZ1FYZB2RwS6A5vbdqn", "after restore: %r" % inp[:4])
    w.shutdown()


def test_two_message_items(env):
    """Two message items in one response (random pieces): shown as one
    text, kept as two items in order, sent back as two."""
    url = env.start_fakellm(
        {"rules": [replay("two_messages.jsonl", 1, pieces=9, seed=5)],
         "fallback": "echo"}, record=record_path(env))
    w = RWorker(env, url)
    p = w.client()
    msgs = turn(p, "capital of France?")
    text = events(msgs, "text_done")[-1]["text"]
    check(text == "I'm going to search for that\n\nThe capital of France "
          "is Paris.", "text %r" % text)
    items = [l["item"] for l in fixture_lines("two_messages.jsonl")
             if l["type"] == "response.output_item.done"]
    turn(p, "thanks")
    inp = input_of(recorded(env)[-1])
    sent = [i for i in inp if i.get("role") == "assistant"]
    check([i["content"] for i in sent] == [i["content"] for i in items],
          "assistant items sent back %r" % sent)
    w.shutdown()


def test_failed_and_incomplete(env):
    url = env.start_fakellm(
        {"rules": [replay("error_failed.jsonl", 1, pieces=5),
                   replay("incomplete.jsonl", 2, pieces=7)],
         "fallback": "echo"}, record=record_path(env))
    w = RWorker(env, url)
    p = w.client()
    msgs = turn(p, "hello", result="error")
    end = events(msgs, "llm_call_end")[-1]
    check(end["stop_reason"] == "error", "llm_call_end %r" % end)
    check(any("insufficient_quota" in json.dumps(m) for m in msgs),
          "the error's code is shown")
    msgs = turn(p, "write an essay on rivers")
    end = events(msgs, "llm_call_end")[-1]
    check(end["stop_reason"] == "max_tokens", "llm_call_end %r" % end)
    text = events(msgs, "text_done")[-1]["text"]
    check(text.startswith("Rivers are vital components"), "text %r" % text)
    w.shutdown()


def test_previous_response_id(env):
    """store + previous_response_id: after the first response only the
    new items go; fakellm (which keeps stored responses) sees the whole
    conversation and checks every call is answered."""
    url = env.start_fakellm([], record=record_path(env))
    w = RWorker(env, url, {"store": True, "previous_response_id": True})
    p = w.client()
    msgs = turn(p, "@bash echo hi")
    check(events(msgs, "text_done")[-1]["text"] == "done: bash ok: hi",
          "agent summary %r" % events(msgs, "text_done"))
    reqs = recorded(env)
    check(len(reqs) == 2, "%d requests" % len(reqs))
    b0, b1 = reqs[0]["body"], reqs[1]["body"]
    check(b0["store"] is True and "include" not in b0 and
          "previous_response_id" not in b0, "first %r" % b0.keys())
    check(b1["previous_response_id"] == "resp_fake0001" and
          [i["type"] for i in b1["input"]] == ["function_call_output"] and
          b1["input"][0]["call_id"] == "call_fake_0001", "second %r" % b1)
    turn(p, "next")
    b2 = recorded(env)[-1]["body"]
    check(b2["previous_response_id"] == "resp_fake0002" and
          len(b2["input"]) == 1 and b2["input"][0]["role"] == "user",
          "third %r" % b2)
    w.shutdown()


if __name__ == "__main__":
    pvtest.run_tests([
        test_reasoning_round_trip_and_restore, test_two_message_items,
        test_failed_and_incomplete, test_previous_response_id,
    ])
