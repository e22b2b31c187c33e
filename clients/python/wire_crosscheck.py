#!/usr/bin/env python3
"""Cross-language check of the wire format, run by Tests/WireTests (CrossLanguageTests).

    wire_crosscheck.py roundtrip IN.json   IN: [{"type": "PlanRequest", "hex": "..."}] encoded by Swift.
        Python decodes each, reports fields left at their default, fields it did not know, and
        re-encodes what it understood; also lists service messages no sample covers.
    wire_crosscheck.py samples             Messages built here, in Python, for Swift to decode.
"""
import json
import struct
import sys

import lattice_proto

lattice_proto.ensure_protobuf()
from google.protobuf.descriptor import FieldDescriptor  # noqa: E402

SERVICE_MODULES = ("placement", "scheduler", "worker", "circuit_optimizer")


def message_classes(modules):
    return {name: getattr(modules[m], name) for m in SERVICE_MODULES
            for name in modules[m].DESCRIPTOR.message_types_by_name}


def unset_fields(message, prefix=""):
    """Paths of fields left at their default (oneof members excepted), recursively."""
    missing = []
    for field in message.DESCRIPTOR.fields:
        path = f"{prefix}{field.name}"
        if field.containing_oneof is not None:
            continue
        if field.label == FieldDescriptor.LABEL_REPEATED:
            values = getattr(message, field.name)
            if len(values) == 0:
                missing.append(path)
            elif field.type == FieldDescriptor.TYPE_MESSAGE:
                missing += unset_fields(values[0], f"{path}[0].")
        elif field.type == FieldDescriptor.TYPE_MESSAGE:
            if message.HasField(field.name):
                missing += unset_fields(getattr(message, field.name), f"{path}.")
            else:
                missing.append(path)
        elif getattr(message, field.name) == field.default_value:
            missing.append(path)
    for oneof in message.DESCRIPTOR.oneofs:
        chosen = message.WhichOneof(oneof.name)
        if chosen and message.DESCRIPTOR.fields_by_name[chosen].type == FieldDescriptor.TYPE_MESSAGE:
            missing += unset_fields(getattr(message, chosen), f"{prefix}{chosen}.")
    return missing


def roundtrip(path, modules):
    classes = message_classes(modules)
    with open(path) as handle:
        items = json.load(handle)
    results, seen_types, seen_oneof = [], set(), set()
    for item in items:
        cls = classes.get(item["type"])
        if cls is None:
            results.append({"type": item["type"], "error": "no such message in proto/"})
            continue
        message = cls.FromString(bytes.fromhex(item["hex"]))
        as_read = message.SerializeToString()
        message.DiscardUnknownFields()
        understood = message.SerializeToString()
        seen_types.add(item["type"])
        for oneof in message.DESCRIPTOR.oneofs:
            if message.WhichOneof(oneof.name):
                seen_oneof.add(f"{item['type']}.{message.WhichOneof(oneof.name)}")
        results.append({"type": item["type"], "hex": understood.hex(), "unset": unset_fields(message),
                        "unknown_fields": as_read != understood})
    all_oneof = {f"{name}.{field.name}" for name, cls in classes.items()
                 for oneof in cls.DESCRIPTOR.oneofs for field in oneof.fields}
    return {"results": results, "uncovered_types": sorted(set(classes) - seen_types),
            "uncovered_oneof_members": sorted(all_oneof - seen_oneof)}


def samples(modules):
    p, s, w, c = (modules[m] for m in SERVICE_MODULES)
    plan = p.PlanRequest(
        cluster=p.Cluster(name="geo24", nodes=[p.ClusterNode(name="n0", gpu_type="L4", gpu_count=1,
                                                             gpu_memory_bytes=24 << 30, nic_in_bytes_per_second=1.25e9,
                                                             nic_out_bytes_per_second=1e9, region="asia")],
                          links=[p.ClusterLink(from_node="source", to_node="n0", bandwidth_bytes_per_second=1.25e8,
                                               latency_seconds=0.025, one_way=True)],
                          file_format=p.CLUSTER_FILE_FORMAT_YAML),
        model=p.ModelSpec(name="llama1-30b"), method=p.PLACEMENT_METHOD_HEURISTIC, budget_seconds=2.5,
        seed=(1 << 63) + 5, variant=p.MILP_VARIANT_STRICT)
    token = s.GenerateEvent(request_id="r1", token=s.GenerateToken(token_id=42, text="naïve ✓", index=7, logprob=-0.5))
    finished = s.GenerateEvent(request_id="r1", finished=s.GenerateFinished(
        reason=s.FINISH_REASON_STOP, prompt_tokens=3, generated_tokens=8, total_seconds=1.25, route=["w1", "w2"]))
    forward = w.ForwardRequest(items=[w.ForwardItem(
        request_id="r1", positions=[3], hidden=w.HiddenStates(data=struct.pack("<3e", 1.0, -2.0, 0.5),
                                                              dtype=w.DTYPE_FLOAT16, shape=[1, 3]),
        start=4, end=8, route=[w.RouteHop(address="127.0.0.1:9001", start=8, end=12, worker_id="w3")],
        reply_to="127.0.0.1:9000", sampling=w.SamplingParams(temperature=0.5, top_p=0.75, seed=99))])
    no_logprob = w.ForwardResult(request_id="r1", token_id=5)
    zero_logprob = w.ForwardResult(request_id="r1", token_id=5, logprob=0.0)
    optimized = c.OptimizeEvent(result=c.OptimizeResult(
        qasm="OPENQASM 2.0;\n", counts_before=[c.GateCount(gate="cx", count=4)],
        counts_after=[c.GateCount(gate="cx", count=2)], cost_before=4, cost_after=2,
        verdict=c.OptimizeResult.VERIFIED_EXACT, verdict_detail="unitary, 3 qubits"))
    status = s.ClusterStatusResponse(
        workers=[s.WorkerStatus(worker_id="w9", backend=w.BACKEND_CPU, layers=w.LayerRange(start=0, end=2),
                                health=s.WORKER_HEALTH_DEAD)], queue_length=1)
    messages = {"plan": plan, "token": token, "finished": finished, "forward": forward,
                "no_logprob": no_logprob, "zero_logprob": zero_logprob, "optimized": optimized, "status": status}
    return {key: value.SerializeToString().hex() for key, value in messages.items()}


def main(argv):
    modules = lattice_proto.load()
    if argv[:1] == ["roundtrip"] and len(argv) == 2:
        print(json.dumps(roundtrip(argv[1], modules)))
    elif argv == ["samples"]:
        print(json.dumps(samples(modules)))
    else:
        print(__doc__.strip(), file=sys.stderr)
        return 2
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
