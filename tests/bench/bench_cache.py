# SPDX-License-Identifier: ISC
"""What prompt caching saves: uncached input tokens of a 50-turn
conversation with tool calls, caching on against caching off.

    bench_cache.py [openai_chat anthropic openai_responses]

For each wire scheme one podvisord and one fakellm (which models prefix
caching as the providers do: cached tokens = the prefix shared with the
previous request of the same cache key, up to the last cache_control
breakpoint for anthropic) serve two pods, one on a provider with
prompt caching on (the default) and one on the same endpoint with
`prompt_cache = false`.  Both run the same 50 turns, interleaved turn by
turn; every turn is a bash tool call and its answer (two requests).  The
figures come from the pods' own accounting (run_end usage, podvisord's
pod totals, which must agree):

cache_uncached_input_SCHEME   input tokens not read from the cache
                              (input - cache_read) with caching on;
                              baseline: the same with caching off.
                              Aim: ratio <= 0.15.
cache_write_SCHEME            tokens written to the cache (anthropic
                              bills them at 1.25x); baseline: all input
                              tokens with caching on.

A figure fails (exit 1) only when the accounting is inconsistent or a
turn does not finish.
"""

import os
import sys

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, "..", "it"))
import pvtest  # noqa: E402
from bench_daemon import figure, note, start_fakellm  # noqa: E402

TURNS = 50
# fakellm keys its anthropic cache by model and keeps the last request of
# each key (a real provider keeps many prefixes): each pod its own model,
# or the interleaved pods would evict each other's prefix.
MODELS = {"on": "on/fake-model", "off": "off/fake-model-nocache"}
SCHEMES = ("openai_chat", "anthropic", "openai_responses")


def turn(pc, i):
    pc.request("run", pvtest.text_input(
        "@bash echo turn %d: the tests of module %d pass\n"
        "step %d of the plan: look at the output and go on." % (i, i, i)))
    msgs = pc.collect_until("run_end", 60)
    pc.wait_event("status")
    end = msgs[-1]["data"]
    pvtest.check(end["result"] == "finished", "turn %d: %r" % (i, end))
    return end


def run_scheme(scheme):
    env = pvtest.Env("bench-cache-" + scheme)
    try:
        env.runtime_on_tmpfs()
        start_fakellm(env)
        url = env.fakellm_url
        base = url + "/v1" if scheme != "anthropic" else url
        env.write_config(
            "[defaults]\nmodel = on/fake-model\n\n"
            "[provider.on]\nscheme = %s\nbase_url = %s\n\n"
            "[provider.off]\nscheme = %s\nbase_url = %s\n"
            "prompt_cache = false\n" % (scheme, base, scheme, base))
        env.start_daemon()
        c = env.control()
        pods = {}
        for mode in ("on", "off"):
            c.request("spawn", {"name": mode, "cwd": env.mkdir(mode),
                                "model": MODELS[mode]})
            pods[mode] = env.pod_client(mode)
        ends = {}
        for i in range(TURNS):
            for mode in ("on", "off"):
                ends[mode] = turn(pods[mode], i)
        tot = {m: ends[m]["usage_pod"] for m in ends}
        for m in ("on", "off"):
            d = c.request("inspect", {"name": m})["data"]
            pvtest.check(d["usage"]["input_tokens"] <=
                         tot[m]["input_tokens"],
                         "podvisord counts more than the pod: %r" % d)
        pvtest.check(tot["off"]["cache_read_tokens"] == 0 and
                     tot["off"]["cache_write_tokens"] == 0,
                     "caching off still cached: %r" % tot["off"])
        unc = {m: tot[m]["input_tokens"] - tot[m]["cache_read_tokens"]
               for m in tot}
        note("%s: %d turns, input on %d (cache read %d, write %d), off %d"
             % (scheme, TURNS, tot["on"]["input_tokens"],
                tot["on"]["cache_read_tokens"],
                tot["on"]["cache_write_tokens"], tot["off"]["input_tokens"]))
        figure("cache_uncached_input_" + scheme, unc["on"], "tokens",
               unc["off"])
        figure("cache_write_" + scheme, tot["on"]["cache_write_tokens"],
               "tokens", tot["on"]["input_tokens"])
        return True
    except Exception as e:  # noqa: BLE001 - report, go on with the next
        note("cache %s FAILED: %s: %s" % (scheme, type(e).__name__, e))
        return False
    finally:
        env.cleanup()


def main():
    want = sys.argv[1:] or SCHEMES
    ok = all([run_scheme(s) for s in want])
    sys.exit(0 if ok else 1)


if __name__ == "__main__":
    main()
