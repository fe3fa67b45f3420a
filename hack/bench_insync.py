"""Measures in-sync resyncs: waits until every one of N objects has passed once more after
convergence (so shared snapshots hold them), then counts AWS calls over the next N
successful passes (or PASSES of them). Prints a [figures] line: calls per pass, writes (must
be 0), the calls by operation, and the cost per integration per resync interval (a pass
every 0.9 interval). Usage: bench_insync.py PORT N TIMEOUT_S [PASSES [WARMUP]]: WARMUP
passes (default N) are waited for before counting."""
import re
import sys
import time
import urllib.request

port, n, timeout = sys.argv[1], int(sys.argv[2]), float(sys.argv[3])
measured = int(sys.argv[4]) if len(sys.argv) > 4 else n
warmup = int(sys.argv[5]) if len(sys.argv) > 5 else n
call = re.compile(r'^ebi_aws_calls_total\{service="([^"]+)",operation="([^"]+)",outcome="[^"]+"\} (\S+)')
WRITES = ("Create", "Put", "Update", "Delete", "Add", "Remove", "Tag", "Untag", "Attach",
          "Detach", "Enable", "Disable", "Set")


def read():
    text = urllib.request.urlopen(f"http://127.0.0.1:{port}/metrics", timeout=10).read().decode()
    calls, passes = {}, 0
    for line in text.splitlines():
        m = call.match(line)
        if m:
            calls[m.group(2)] = calls.get(m.group(2), 0) + float(m.group(3))
        if line.startswith('ebi_reconciles_total{result="success"}'):
            passes = int(float(line.split()[-1]))
    return calls, passes


def wait_for(passes_at_least):
    deadline = time.time() + timeout
    while True:
        calls, passes = read()
        if passes >= passes_at_least:
            return calls, passes, time.time()
        if time.time() > deadline:
            sys.exit(f"bench_insync: {passes} passes, waited for {passes_at_least}")
        time.sleep(0.5)


_, base = read()
wait_for(base + warmup)
before, p0, t0 = read() + (time.time(),)
after, p1, t1 = wait_for(p0 + measured)
delta = {op: after[op] - before.get(op, 0) for op in after if after[op] - before.get(op, 0) > 0}
total = sum(delta.values())
writes = sum(v for op, v in delta.items() if op.startswith(WRITES))
per_pass = total / (p1 - p0)
ops = ", ".join(f"{op} {int(v)}" for op, v in sorted(delta.items(), key=lambda kv: -kv[1]))
print(f"[figures] in-sync resync, {n} objects: {int(total)} AWS calls in {p1 - p0} passes "
      f"({t1 - t0:.0f} s) = {per_pass:.2f} per pass, {per_pass / 0.9:.2f} per integration per "
      f"resync interval; {int(writes)} writes ({ops})")
