#!/usr/bin/env python3
"""Run ../shared/tools/helix-sim (the Helix artifact's own simulator, unchanged) and add p99 to the
latencies it reports (it prints mean, p50 and p95).

Usage: scripts/helix-sim-tails.py PATH/TO/helix-sim [helix-sim arguments...]

helix-sim sorts the finished prompt and decode latencies once each to take its percentiles; this
wrapper keeps the last float lists it sorts, picks the two whose lengths match the counts it prints
(prompts_finished, decode_tokens), and adds "p99" (same index rule: s[int(n * 0.99)]) to its one
JSON line. Run it with a Python that has networkx (helix-sim re-executes itself otherwise, which
would drop the wrapper).
"""
import builtins
import io
import json
import os
import runpy
import sys

if len(sys.argv) < 2:
    sys.exit("usage: helix-sim-tails.py PATH/TO/helix-sim [helix-sim arguments...]")
tool = sys.argv[1]
sys.argv = [tool] + sys.argv[2:]

kept = []


def watching_sorted(xs, *args, **kwargs):
    s = builtins.sorted(xs, *args, **kwargs)
    if s and isinstance(s[0], float):
        kept.append(s)
        del kept[:-4]
    return s


real_stdout, real_exit = sys.stdout, os._exit
captured = io.StringIO()


def finish(code):
    lines = captured.getvalue().strip().splitlines()
    if code != 0 or not lines:
        real_stdout.write(captured.getvalue())
        real_stdout.flush()
        real_exit(code)
    out = json.loads(lines[-1])
    for key, count in (("prompt_latency_s", out["prompts_finished"]), ("decode_latency_s", out["decode_tokens"])):
        match = [s for s in kept if len(s) == count]
        out[key]["p99"] = round(match[-1][int(count * 0.99)], 4) if match and count else None
    real_stdout.write(json.dumps(out) + "\n")
    real_stdout.flush()
    real_exit(0)


os._exit = finish
sys.stdout = captured
try:
    runpy.run_path(tool, init_globals={"sorted": watching_sorted}, run_name="__main__")
except SystemExit as e:
    sys.stdout = real_stdout
    real_stdout.write(captured.getvalue())
    raise
