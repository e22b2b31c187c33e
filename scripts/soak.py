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
events = []          # chaos: (time, what)
recoveries = []      # seconds from a kill to the next finished generation


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
                lost.append((kind, outcome))


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
            if kind == "finished":
                reason = sched.FinishReason.Name(event.finished.reason)
                return ("OK" if reason in ("FINISH_REASON_MAX_TOKENS", "FINISH_REASON_STOP") else reason), delivered
        return "no finish", delivered
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
            events.append({"at": time.monotonic(), "what": f"SIGKILL {role}", "recovered": None})
        restart(role, same)


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
    threads.append(threading.Thread(target=chaos_monkey))
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
if chaos:
    print("chaos:")
    for event in events:
        recovered = f"{event['recovered']:.2f} s" if event["recovered"] is not None else "not seen"
        print(f"  {event['what']:24s} first finished generation after it: {recovered}")
    print(f"requests lost during the run (failed generations after {RETRIES} tries by request id): {len(lost)}")
crashed = [role for role, p in now.items() if rss(p["pid"]) is None]
print("processes not running at the end:", ", ".join(crashed) or "none")
sys.exit(1 if crashed else 0)
