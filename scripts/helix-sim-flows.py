#!/usr/bin/env python3
"""Print the runtime max flow the Helix artifact's own simulator routes a layout over, as
{"arc_flows": [{"from", "to", "tokens_per_s"}]} in our naming (node indices, "source", "sink"),
for `lattice simulate --flows FILE`.

Usage: HELIX_SRC=... scripts/helix-sim-flows.py PATH/TO/helix-sim [helix-sim arguments...] > flows.json

It runs ../shared/tools/helix-sim (unchanged) up to the moment its feeder would start simulating,
reads the max-flow scheduler's flow on every link, and stops: seconds, not minutes. A placement has
many maximum flows; networkx's and ours (Dinic) often differ, and IWRR follows whichever it is given.
"""
import json
import os
import runpy
import sys

if len(sys.argv) < 2 or not os.environ.get("HELIX_SRC"):
    sys.exit("usage: HELIX_SRC=... helix-sim-flows.py PATH/TO/helix-sim [helix-sim arguments...]")
tool = sys.argv[1]
helix_sim = runpy.run_path(tool, run_name="helix_sim_module")  # definitions only; its main() is not run
sys.path.insert(0, helix_sim["resolve_src"](os.environ["HELIX_SRC"]))
helix_sim["stub_optional_modules"]()
from simulator.trace_generator import simulator_query_feeder  # noqa: E402


def name(uid):
    return "source" if uid == 0 else "sink" if uid == 1 else str(uid - 2)  # compute node i has uid i + 2


def report_flows(self, simulator, **_):
    arcs = []
    for link in simulator.links.values():
        a, b = link.node_in.node_uid, link.node_out.node_uid
        flow = simulator.scheduler.flow_graph.get_link_flow(prev_node_uid=a, next_node_uid=b)["transmission"]
        if flow > 1e-9:
            arcs.append({"from": name(a), "to": name(b), "tokens_per_s": flow})
    sys.__stdout__.write(json.dumps({"arc_flows": arcs}) + "\n")
    sys.__stdout__.flush()
    os._exit(0)


simulator_query_feeder.OfflineRequestFeeder.auto_simulate = report_flows
simulator_query_feeder.OnlineRequestFeeder.auto_simulate = report_flows
sys.argv = [tool] + sys.argv[2:]
helix_sim["main"]()
