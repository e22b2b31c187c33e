#!/usr/bin/env python3
"""Calls <service>/Health on each address; exits 0 only when every one answers SERVING.

    python3 clients/python/lattice_health.py HOST:PORT [service@HOST:PORT ...]

Without `service@`, the service is discovered by trying placement, scheduler, worker and circuit
in turn until one answers OK (a server answers the others with an error status).
"""
import sys

import lattice_proto

lattice_proto.ensure_protobuf()


def check(target, common):
    """Returns (ok, line) for one `[service@]HOST:PORT`."""
    service, _, address = target.rpartition("@")
    if service and service not in lattice_proto.SERVICES:
        return False, f"{target}: unknown service {service!r} (one of {', '.join(lattice_proto.SERVICES)})"
    refusals = []
    for name in [service] if service else lattice_proto.SERVICES:
        # A fresh connection per try: a server may close one after refusing an unknown method.
        try:
            connection = lattice_proto.Connection(address)
        except lattice_proto.CallError as error:
            return False, f"{target}: {error}"
        try:
            status, payload = connection.call(f"{name}/Health", common.HealthRequest())
        except lattice_proto.CallError as error:
            refusals.append(f"{name}: {error}")
            continue
        finally:
            connection.close()
        if status.code != common.OK:
            refusals.append(f"{name}: {common.Code.Name(status.code)} {status.message}".strip())
            continue
        health = common.HealthResponse.FromString(payload)
        state = common.HealthResponse.ServingStatus.Name(health.status)
        line = (f"{address}  {health.service or name}  {state}  version={health.version or '?'}"
                f"  uptime={health.uptime_ms / 1000:.1f}s  instance={health.instance_id or '?'}")
        return health.status == common.HealthResponse.SERVING, line
    return False, f"{target}: no Health answer ({'; '.join(refusals)})"


def main(argv):
    if not argv or any(arg in ("-h", "--help") for arg in argv):
        print(__doc__.strip(), file=sys.stderr)
        return 2
    common = lattice_proto.load()["common"]
    healthy = True
    for target in argv:
        ok, line = check(target, common)
        print(line, file=sys.stdout if ok else sys.stderr)
        healthy = healthy and ok
    return 0 if healthy else 1


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
