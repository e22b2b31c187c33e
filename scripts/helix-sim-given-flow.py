#!/usr/bin/env python3
"""Run the Helix artifact's own simulator (../shared/tools/helix-sim, unchanged, through
scripts/helix-sim-tails.py for p99) with its max-flow scheduler routing over a GIVEN flow instead of
the one networkx picks: the converse of `lattice simulate --flows` fed scripts/helix-sim-flows.py.

Usage: HELIX_SRC=... scripts/helix-sim-given-flow.py FLOWS.json PATH/TO/helix-sim [helix-sim arguments...]

FLOWS.json: {"arc_flows": [{"from", "to", "tokens_per_s"}]} in our naming (node indices, "source",
"sink"), or a file with "routing_arc_flows" (read first: `lattice plan --json` or `lattice score --json`,
the flow our runtime routes over).
A layout has many maximum flows and IWRR follows whichever it is given; this separates the choice of
flow from the serving model when the two simulators are compared. Only the flow the scheduler reads
is replaced (`FlowGraph.update_flow`'s value and per-edge flows, node-internal edges carrying each
node's inflow); the graph, capacities and everything else are the artifact's.
"""
import json
import os
import runpy
import sys

if len(sys.argv) < 3 or not os.environ.get("HELIX_SRC"):
    sys.exit("usage: HELIX_SRC=... helix-sim-given-flow.py FLOWS.json PATH/TO/helix-sim [helix-sim arguments...]")
flows_path, tool = sys.argv[1], sys.argv[2]
_flows_file = json.load(open(flows_path))
given = _flows_file.get("routing_arc_flows", _flows_file.get("arc_flows"))  # a plan's routing flow where it names one
helix_sim = runpy.run_path(tool, run_name="helix_sim_module")  # definitions only; its main() is not run
sys.path.insert(0, helix_sim["resolve_src"](os.environ["HELIX_SRC"]))
helix_sim["stub_optional_modules"]()
from simulator.scheduler.global_maxflow import network_flow  # noqa: E402


def uid(name, end):
    # compute node i has uid i + 2; the source is uid 0 (its "_out"), the sink uid 1 (its "_in")
    return ("0" if name == "source" else "1" if name == "sink" else str(int(name) + 2)) + end


computed = network_flow.FlowGraph.update_flow


def update_flow(self, time_stamp):
    computed(self, time_stamp)  # builds the graph (and networkx's flow, discarded)
    flow = {u: {v: 0.0 for v in self.flow_graph[u]} for u in self.flow_graph.nodes}
    inflow = {}
    for arc in given:
        u, v = uid(arc["from"], "_out"), uid(arc["to"], "_in")
        if v not in flow.get(u, {}):
            sys.exit(f"helix-sim-given-flow: the layout has no link {arc['from']} -> {arc['to']}")
        flow[u][v] += arc["tokens_per_s"]
        inflow[v] = inflow.get(v, 0.0) + arc["tokens_per_s"]
    for v, f in inflow.items():
        if v == "1_in":
            flow[v]["sink"] = f
            continue
        node = v[:-len("_in")]
        flow[v][f"{node}_start"] = f
        flow[f"{node}_start"][f"{node}_end"] = f
        flow[f"{node}_end"][f"{node}_out"] = f
    flow["source"]["0_out"] = sum(a["tokens_per_s"] for a in given if a["from"] == "source")
    self.flow_value, self.flow_dict = flow["source"]["0_out"], flow
    return self.flow_value, self.flow_dict


network_flow.FlowGraph.update_flow = update_flow
tails = os.path.join(os.path.dirname(os.path.abspath(__file__)), "helix-sim-tails.py")
sys.argv = [tails, tool] + sys.argv[3:]
runpy.run_path(tails, run_name="__main__")
