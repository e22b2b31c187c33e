"""Load driver of scripts/bench-serving: keeps N generations in flight against a `lattice up`
stack (one `lattice generate --json` process each), timestamps every token, and prints one JSON
line: decode tokens/s in the measured window, prompt/decode latency p50/p99, finished requests,
and the scheduler's CPU seconds per generated token (from /proc)."""
import csv, json, os, random, subprocess, sys, threading, time

lattice, state, name, seconds = sys.argv[1], sys.argv[2], sys.argv[3], float(sys.argv[4])
concurrency = int(os.environ.get("BENCH_CONCURRENCY", "40"))
max_prompt = int(os.environ.get("BENCH_MAX_PROMPT", "256"))
max_output = int(os.environ.get("BENCH_MAX_OUTPUT", "64"))
warmup = float(os.environ.get("BENCH_WARMUP", "10"))

def column(path):
    with open(path) as f:
        return [int(float(row["value"])) for row in csv.DictReader(f)]
inputs = column("Shared/Data/helix/workload/azure_conv_input.csv")
outputs = column("Shared/Data/helix/workload/azure_conv_output.csv")
status = json.loads(subprocess.run([lattice, "status", "--json", "--state-dir", state], capture_output=True, text=True).stdout)
scheduler_pid = next(p["pid"] for p in status["processes"] if p["role"] == "scheduler")

def cpu_seconds(pid):
    fields = open("/proc/%d/stat" % pid).read().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")

# Wait until the plan has settled (no new plan for 3 s) and a request goes through.
log = os.path.join(state, "scheduler.log")
settle_deadline = time.monotonic() + 120
last_count, stable_since = -1, time.monotonic()
while time.monotonic() < settle_deadline:
    count = open(log).read().count("new plan")
    if count != last_count: last_count, stable_since = count, time.monotonic()
    probe = subprocess.run([lattice, "generate", "--state-dir", state, "--prompt-ids", "1,2,3", "--max-tokens", "1", "--json"],
                           capture_output=True, text=True, timeout=120)
    if count > 0 and time.monotonic() - stable_since >= 3 and '"maxTokens"' in probe.stdout: break
    time.sleep(0.5)

lock = threading.Lock()
tokens, prompt_lat, decode_lat = [], [], []
finished = [0]
start = time.monotonic()
stop_at = start + warmup + seconds
rng = random.Random(1)

def one_request():
    with lock:
        i = rng.randrange(len(inputs))
    prompt = ",".join(str(1 + (i * 7 + k * 13) % 31000) for k in range(max(1, min(inputs[i], max_prompt))))
    began = time.monotonic()
    proc = subprocess.Popen([lattice, "generate", "--state-dir", state, "--prompt-ids", prompt, "--max-tokens", str(max(2, min(outputs[i], max_output))),
                             "--ignore-eos", "--json"], stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True)
    last = None
    for line in proc.stdout:
        now = time.monotonic()
        event = json.loads(line)
        if event.get("event") == "token":
            with lock:
                tokens.append(now)
                (prompt_lat if last is None else decode_lat).append(now - (began if last is None else last))
            last = now
        elif event.get("event") == "finished":
            with lock: finished[0] += 1
        if now > stop_at + 5:
            proc.kill(); break
    proc.wait()

def worker():
    while time.monotonic() < stop_at:
        one_request()

cpu_before = None
threads = [threading.Thread(target=worker, daemon=True) for _ in range(concurrency)]
for t in threads: t.start()
time.sleep(warmup)
cpu_before, tokens_before = cpu_seconds(scheduler_pid), len(tokens)
time.sleep(seconds)
cpu_after, tokens_after = cpu_seconds(scheduler_pid), len(tokens)
window = [t for t in tokens if start + warmup <= t <= start + warmup + seconds]
def pct(values, q):
    values = sorted(values)
    return values[min(len(values) - 1, int(q * len(values)))] if values else 0.0
generated = max(1, tokens_after - tokens_before)
print(json.dumps({"name": name, "decode_tokens_per_s": len(window) / seconds, "prompt_p50": pct(prompt_lat, 0.5), "prompt_p99": pct(prompt_lat, 0.99),
                  "decode_p50": pct(decode_lat, 0.5), "decode_p99": pct(decode_lat, 0.99), "finished": finished[0],
                  "scheduler_cpu_seconds_per_token": (cpu_after - cpu_before) / generated, "concurrency": concurrency,
                  "max_prompt": max_prompt, "max_output": max_output}))
sys.stdout.flush()
os._exit(0)
