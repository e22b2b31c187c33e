"""Load, chaos and the report for scripts/soak (see there). Talks to a `lattice up` stack through
the Python client (clients/python), with the stack's API key; reads pids from its state.json."""
import json, os, random, signal, socket, struct, subprocess, sys, threading, time
from collections import Counter

sys.path.insert(0, os.path.join(os.path.dirname(__file__), "..", "clients", "python"))
import lattice_proto  # noqa: E402

state_dir, minutes, clients, chaos = sys.argv[1], float(sys.argv[2]), int(sys.argv[3]), sys.argv[4] == "chaos"
M = lattice_proto.load()
common, sched, circ = M["common"], M["scheduler"], M["circuit_optimizer"]
key_id, _, secret = open(os.path.join(state_dir, "api.key")).read().strip().partition(".")
KEY = (key_id, secret.encode())
QASM = open(os.path.join(os.path.dirname(__file__), "..", "Shared", "Data", "circuits", "tof_3.qasm")).read()
lock = threading.Lock()
done, errors, latencies, lost = Counter(), Counter(), {"generate": [], "optimize": []}, []
stop_at = time.monotonic() + minutes * 60
events = []          # chaos: {"at", "what", "kind", "recovered"}
plan_samples = []    # (time, scheduler pid, scheduler/Stats figures or None), every PLAN_POLL s
PLAN_POLL = 0.25     # seconds between scheduler/Stats polls: the resolution of the re-plan times


def state():
    return {p["role"]: p for p in json.load(open(os.path.join(state_dir, "state.json")))["processes"]}


def address(role):
    return state()[role]["address"]


def code_name(status):
    return common.Code.Name(status.code) if status is not None else "OK"


def record(kind, outcome, started, chaos_window=False):
    with lock:
        if outcome == "OK":
            done[kind] += 1
            latencies[kind].append(time.monotonic() - started)
        else:
            errors[f"{kind}:{outcome}"] += 1
            if chaos_window:
                # Charged to the latest kill before it failed ("none" before the first).
                lost.append((kind, outcome, events[-1]["kind"] if events else "none"))


RETRIES = 8          # tries per generation when the scheduler connection fails (as Shared/Client)


def generate_once(request, delivered, mode):
    """One try of a Generate: returns (outcome, delivered tokens). Tokens at indices already
    delivered by an earlier try (the same request id) are checked and skipped."""
    connection = lattice_proto.Connection(address("scheduler"), timeout=30, key=KEY)
    try:
        for status, payload in connection.stream("scheduler/Generate", request):
            if status is not None and status.code != common.OK:
                return code_name(status), delivered
            event = sched.GenerateEvent.FromString(payload)
            kind = event.WhichOneof("event")
            if kind == "token":
                index = event.token.index
                if index < len(delivered):
                    if delivered[index] != event.token.token_id:
                        return "retry regenerated different tokens", delivered
                    continue
                if index != len(delivered):
                    return f"token index {index} after {len(delivered)}", delivered
                delivered = delivered + [event.token.token_id]
                if mode < 0.1 and len(delivered) == 2:      # disconnect mid-stream
                    return "disconnected (by design)", delivered
                if mode < 0.2 and len(delivered) == 2:      # cancel mid-stream by request id, reading on to the finish
                    cancel(request.request_id)
            if kind == "finished":
                reason = sched.FinishReason.Name(event.finished.reason)
                if mode < 0.2 and reason == "FINISH_REASON_CANCELLED":
                    return "cancelled (by design)", delivered
                return ("OK" if reason in ("FINISH_REASON_MAX_TOKENS", "FINISH_REASON_STOP") else reason), delivered
        return "no finish", delivered
    finally:
        connection.close()


def cancel(request_id):
    """scheduler/Cancel from another connection, as a client that gave up on a generation would."""
    connection = lattice_proto.Connection(address("scheduler"), timeout=10, key=KEY)
    try:
        status, _ = connection.call("scheduler/Cancel", sched.CancelRequest(request_id=request_id))
        if status is not None and status.code != common.OK:
            with lock:
                errors[f"cancel:{code_name(status)}"] += 1
    finally:
        connection.close()


def generator(number):
    rng = random.Random(number)
    count = 0
    while time.monotonic() < stop_at:
        started = time.monotonic()
        count += 1
        # The request id names the generation: a retry after the scheduler went away gets its result.
        request = sched.GenerateRequest(prompt_token_ids=[rng.randrange(1, 200) for _ in range(rng.randrange(2, 8))],
                                        max_tokens=rng.randrange(4, 24), ignore_eos=True, request_id=f"soak-{number}-{count}")
        mode = rng.random()
        delivered, outcome = [], "no try"
        for attempt in range(RETRIES):
            try:
                outcome, delivered = generate_once(request, delivered, mode)
            except lattice_proto.CallError as error:
                outcome = "transport: " + str(error)[:40]
            if outcome not in ("no finish", "UNAVAILABLE") and not outcome.startswith("transport: "):
                break
            if attempt + 1 < RETRIES:
                with lock:
                    done["generate-retried-by-id"] += 1
                time.sleep(min(3.0, 0.2 * 2 ** attempt) * rng.uniform(0.5, 1))
        if outcome == "disconnected (by design)":
            with lock:
                done["generate-disconnected"] += 1
        elif outcome == "cancelled (by design)":
            with lock:
                done["generate-cancelled"] += 1
        else:
            record("generate", outcome, started, True)
            if outcome == "OK":
                with lock:
                    for event in events:
                        if event.get("recovered") is None and started > event["at"]:
                            event["recovered"] = time.monotonic() - event["at"]


def optimizer():
    while time.monotonic() < stop_at:
        started = time.monotonic()
        try:
            connection = lattice_proto.Connection(address("circuit"), timeout=60, key=KEY)
            outcome = "no result"
            for status, payload in connection.stream("circuit/Optimize", circ.OptimizeRequest(qasm=QASM)):
                if status is not None and status.code != common.OK:
                    outcome = code_name(status)
                    break
                if circ.OptimizeEvent.FromString(payload).WhichOneof("event") == "result":
                    outcome = "OK"
                    break
            connection.close()
        except lattice_proto.CallError as error:
            outcome = "transport: " + str(error)[:40]
        record("optimize", outcome, started)


def garbage():
    """Bad input of several kinds, none of which may crash a service."""
    rng = random.Random(7)
    while time.monotonic() < stop_at:
        role = rng.choice(["placement", "scheduler", "circuit"])
        host, _, port = address(role).rpartition(":")
        kind = rng.choice(["random bytes", "huge length", "no handshake", "bad key", "truncated"])
        try:
            with socket.create_connection((host, int(port)), timeout=5) as sock:
                if kind == "random bytes":
                    sock.sendall(os.urandom(rng.randrange(1, 600)))
                elif kind == "huge length":
                    sock.sendall(struct.pack(">I", 0xFFFFFFF0) + b"xx")
                elif kind == "no handshake":
                    body = common.Envelope(call_id=1, method=f"{role}/Health", version=1).SerializeToString()
                    sock.sendall(struct.pack(">I", len(body)) + body)
                elif kind == "truncated":
                    sock.sendall(struct.pack(">I", 100) + b"partial")
                if kind == "truncated":
                    outcome = "sent half a frame and left"
                elif kind == "bad key":
                    try:
                        lattice_proto.Connection(address(role), timeout=5, key=("nobody", b"0123456789abcdef0123")).close()
                        outcome = "ACCEPTED (bug)"
                    except lattice_proto.CallError as error:
                        outcome = "refused" if "UNAUTHENTICATED" in str(error) else "other: " + str(error)[:40]
                else:
                    sock.settimeout(5)
                    try:
                        while sock.recv(4096):
                            pass
                        outcome = "answered and closed"
                    except OSError:
                        outcome = "closed"
        except OSError as error:
            outcome = f"connect failed: {error.strerror}"
        with lock:
            errors[f"garbage {kind}: {outcome}"] += 1
        time.sleep(0.05)


def rss(pid):
    try:
        for line in open(f"/proc/{pid}/status"):
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) // 1024
    except OSError:
        return None


def wait_dead(pid, limit=30):
    """Waits until a SIGKILLed process has exited. `lattice up`'s services are not our children
    (they are reparented to init), so waitpid returns at once, yet the kernel unmaps a process's
    memory before it closes its files: for ~100 ms (more on a loaded machine) the dying process still
    holds its listening socket, and a restart on the same port fails with "address already in use".
    A zombie has closed its files."""
    try:
        os.waitpid(pid, 0)
        return
    except ChildProcessError:
        pass
    deadline = time.monotonic() + limit
    while time.monotonic() < deadline:
        try:
            stat = open(f"/proc/{pid}/stat").read()
        except OSError:
            return
        if stat[stat.rindex(")") + 1:].split()[0] in ("Z", "X"):
            return
        time.sleep(0.01)
    raise RuntimeError(f"soak: pid {pid} still running {limit} s after SIGKILL")


def restart(role, same_port):
    """SIGKILLs a process of the stack and starts it again with the same command line (and the
    same port for placement and the scheduler, which others know by address)."""
    process = state()[role]
    pid = process["pid"]
    argv = open(f"/proc/{pid}/cmdline", "rb").read().split(b"\0")[:-1]
    environ = dict(line.split(b"=", 1) for line in open(f"/proc/{pid}/environ", "rb").read().split(b"\0") if b"=" in line)
    os.kill(pid, signal.SIGKILL)
    wait_dead(pid)
    if same_port:
        at = argv.index(b"--listen")
        argv[at + 1] = process["address"].encode()
    log = open(process["logPath"], "ab")
    out_path = process["outputPath"]
    out = open(out_path, "wb")
    started = time.monotonic()
    child = subprocess.Popen(argv, env={k.decode(): v.decode() for k, v in environ.items()}, stdout=out, stderr=log, start_new_session=True)
    while time.monotonic() - started < 30:
        text = open(out_path).read()
        if text.startswith("listening ") or child.poll() is not None:
            break
        time.sleep(0.02)
    if not text.startswith("listening "):
        print(f"soak: restarted {role} did not start listening (exit {child.poll()}); see {process['logPath']}", file=sys.stderr)
    new = json.load(open(os.path.join(state_dir, "state.json")))
    for p in new["processes"]:
        if p["role"] == role:
            p["pid"], p["address"] = child.pid, text.split()[1] if text.startswith("listening ") else p["address"]
    json.dump(new, open(os.path.join(state_dir, "state.json.tmp"), "w"))
    os.replace(os.path.join(state_dir, "state.json.tmp"), os.path.join(state_dir, "state.json"))
    return child


def chaos_monkey():
    rng = random.Random(11)
    start, duration = time.monotonic(), stop_at - time.monotonic()
    did = set()
    while time.monotonic() < stop_at - 10:
        time.sleep(rng.uniform(4, 8))
        elapsed = (time.monotonic() - start) / duration
        if elapsed > 0.33 and "placement" not in did:
            role, same = "placement", True
        elif elapsed > 0.66 and "scheduler" not in did:
            role, same = "scheduler", True
        else:
            role, same = rng.choice([r for r in state() if r.startswith("worker-")]), False
        did.add(role)
        with lock:
            events.append({"at": time.monotonic(), "what": f"SIGKILL {role}", "kind": role.split("-")[0], "recovered": None})
        restart(role, same)


def plan_watcher():
    """Polls scheduler/Stats (its plans_made, workers_serving, plan_last_seconds) every PLAN_POLL s
    over one connection, opened again after the scheduler restarts."""
    connection = None
    while time.monotonic() < stop_at:
        at, process = time.monotonic(), state()["scheduler"]
        figures = None
        try:
            if connection is None:
                connection = lattice_proto.Connection(process["address"], timeout=5, key=KEY)
            status, payload = connection.call("scheduler/Stats", common.StatsRequest())
            if status is None or status.code == common.OK:
                figures = {stat.name: stat.value for stat in common.StatsResponse.FromString(payload).extra}
        except lattice_proto.CallError:
            if connection is not None:
                connection.close()
            connection = None
        with lock:
            plan_samples.append((at, process["pid"], figures))
        time.sleep(max(0.0, PLAN_POLL - (time.monotonic() - at)))
    if connection is not None:
        connection.close()


def replans_after(event, until, workers):
    """From the scheduler/Stats samples between a kill and `until` (the next kill or the end):
    the plans the scheduler made (a restarted scheduler's all count), seconds to the first of
    them, the scheduler's own ask-to-applied time for it, and seconds until all `workers` serve
    again in a plan made after the kill (None: not seen)."""
    before = [(t, pid, f) for t, pid, f in plan_samples if t < event["at"] and f is not None]
    window = [(t, pid, f) for t, pid, f in plan_samples if event["at"] <= t < until and f is not None]
    if not before:
        return 0, None, None, None
    _, base_pid, base = before[-1]
    most = {}                  # the highest plans_made seen per scheduler pid in the window
    first_plan = plan_time = serving = None
    for t, pid, f in window:
        made = int(f.get("plans_made", 0))
        most[pid] = max(most.get(pid, 0), made)
        new_plan = made > base.get("plans_made", 0) if pid == base_pid else made >= 1
        if new_plan and first_plan is None:
            first_plan, plan_time = t - event["at"], f.get("plan_last_seconds")
        if first_plan is not None and serving is None and f.get("workers_serving", 0) >= workers:
            serving = t - event["at"]
    replans = sum(made - int(base.get("plans_made", 0)) if pid == base_pid else made for pid, made in most.items())
    return replans, first_plan, plan_time, serving


samples = []        # (minutes since start, {role: RSS MiB}), to tell warm-up from a leak


def sampler():
    began = time.monotonic()
    while time.monotonic() < stop_at:
        time.sleep(min(60, max(0.1, stop_at - time.monotonic())))
        with lock:
            samples.append(((time.monotonic() - began) / 60, {role: rss(p["pid"]) for role, p in state().items()}))


roles_at_start = {role: (p["pid"], rss(p["pid"])) for role, p in state().items()}
threads = [threading.Thread(target=generator, args=(n,)) for n in range(clients)]
threads += [threading.Thread(target=optimizer), threading.Thread(target=garbage), threading.Thread(target=sampler)]
if chaos:
    threads += [threading.Thread(target=chaos_monkey), threading.Thread(target=plan_watcher)]
began = time.monotonic()
for thread in threads:
    thread.start()
for thread in threads:
    thread.join()
elapsed = time.monotonic() - began


def pct(values, q):
    values = sorted(values)
    return values[min(len(values) - 1, int(len(values) * q))] * 1000 if values else float("nan")


print(f"\nsoak: {elapsed / 60:.1f} min, {clients} generate clients + 1 optimize + 1 garbage, chaos {'on' if chaos else 'off'}")
print(f"machine: {os.cpu_count()} cores, load {open('/proc/loadavg').read().split()[:3]}")
for kind in ("generate", "optimize"):
    print(f"{kind:9s} done {done[kind]:6d}   p50 {pct(latencies[kind], 0.5):8.1f} ms   p99 {pct(latencies[kind], 0.99):8.1f} ms")
print(f"generate streams dropped mid-stream on purpose: {done['generate-disconnected']}")
print(f"generate streams cancelled mid-stream on purpose (scheduler/Cancel, finished CANCELLED): {done['generate-cancelled']}")
print(f"generate tries repeated under the same request id (connection lost): {done['generate-retried-by-id']}")
print("errors and bad inputs by kind:")
for name, count in sorted(errors.items()):
    print(f"  {count:6d}  {name}")
print("RSS (MiB) at start and end:")
now = state()
for role, (pid, before) in roles_at_start.items():
    after_pid = now[role]["pid"]
    after = rss(after_pid)
    note = "" if after_pid == pid else f"  (restarted: pid {pid} -> {after_pid})"
    print(f"  {role:10s} {before!s:>6} -> {after!s:>6}{note}")
if samples:
    roles = list(roles_at_start)
    print("RSS (MiB) every minute: " + "  ".join(f"{role:>10s}" for role in roles))
    for minute, values in samples:
        print(f"  {minute:5.1f} min             " + "  ".join(f"{values.get(role)!s:>10}" for role in roles))
def seconds(value):
    return f"{value:.2f} s" if value is not None else "not seen"


def spread(values):
    seen = sorted(v for v in values if v is not None)
    missing = len(values) - len(seen)
    text = f"median {seen[len(seen) // 2]:.2f} s, max {seen[-1]:.2f} s" if seen else "none seen"
    return text + (f" ({missing} not seen)" if missing else "")


if chaos:
    worker_count = len([role for role in now if role.startswith("worker-")])
    print(f"chaos (re-plans from scheduler/Stats polled every {PLAN_POLL:g} s; 'all serving': all {worker_count} workers serve a plan made after the kill):")
    ends = [event["at"] for event in events[1:]] + [time.monotonic()]
    for event, until in zip(events, ends):
        event["replans"], event["to_plan"], event["plan_time"], event["to_serving"] = replans_after(event, until, worker_count)
        asked = f" (scheduler: ask to applied {event['plan_time']:.2f} s)" if event["plan_time"] is not None else ""
        print(f"  {event['what']:20s} re-plans {event['replans']:2d}, first after {seconds(event['to_plan'])}{asked}; "
              f"all serving after {seconds(event['to_serving'])}; first finished generation after {seconds(event['recovered'])}")
    print("chaos by kill kind:")
    for kind in ("worker", "placement", "scheduler"):
        mine = [event for event in events if event["kind"] == kind]
        if not mine:
            continue
        print(f"  {kind:9s} kills {len(mine):2d}  re-plans {sum(e['replans'] for e in mine):3d}  "
              f"lost {sum(1 for *_, cause in lost if cause == kind):2d}")
        planned = [e for e in mine if e["replans"]]
        if len(planned) < len(mine):
            print(f"            kills with no re-plan before the next kill: {len(mine) - len(planned)}")
        if planned:
            print(f"            to the first re-plan: {spread([e['to_plan'] for e in planned])}")
            print(f"            to all serving again: {spread([e['to_serving'] for e in planned])}")
        print(f"            to a finished generation: {spread([e['recovered'] for e in mine])}")
    print(f"requests lost during the run (failed generations after {RETRIES} tries by request id): {len(lost)}"
          + (f" ({', '.join(f'{k} after {c}' for k, c in Counter(cause for *_, cause in lost).items())})" if lost else ""))
crashed = [role for role, p in now.items() if rss(p["pid"]) is None]
print("processes not running at the end:", ", ".join(crashed) or "none")
sys.exit(1 if crashed else 0)
