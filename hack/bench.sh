#!/usr/bin/env bash
# make bench: figures, not pass/fail.
#  1. the pure core (cargo bench --bench engine): diagnosis and plan+diff throughput;
#  2. the controller (release build) against the local kube-apiserver and moto: N Step
#     Functions integrations applied at once until all Ready, its memory (RSS idle,
#     converging, in sync), AWS calls per object and per second per service, the time to
#     delete them all; then the latency of one `kubectl apply` → Ready over 20 objects;
#  3. the floor (cargo bench --bench floor): the same writes with a bare SDK client,
#     concurrency 16, against the same emulator in the same run; the ratios to it;
#  4. a plot (PNG) of objects Ready over time and calls per second per service.
# N defaults to 200 (N=1000 make bench for the larger run); the controller resyncs every
# BENCH_RESYNC (60s; 300s above N = 200); `make bench-memory` runs 10,000 objects.
set -euo pipefail
ROOT=$(cd "$(dirname "$0")/.." && pwd); cd "$ROOT"
N=${N:-200}
# Short enough that the in-sync phase sees objects resync within minutes, long enough that
# resyncs do not take the convergence's share of the rate limits (at N = 1000, a pass per
# object every 54 s would use 18 of EventBridge's 20 calls per second).
if [ "$N" -le 200 ]; then RESYNC=${BENCH_RESYNC:-60s}; else RESYNC=${BENCH_RESYNC:-300s}; fi
export ENV_DIR=${ENV_DIR:-$ROOT/.tmp/env}
OUT=${BENCH_OUT:-$ROOT/.tmp/bench}; mkdir -p "$OUT"

cargo bench --locked --bench engine 2>/dev/null | grep figures

hack/test-env.sh start
set -a; source "$ENV_DIR/env"; set +a
"$EBI_PYTHON_VENV/bin/python" hack/seed_aws.py >/dev/null
"$EBI_PYTHON_VENV/bin/python" -c 'import matplotlib' 2>/dev/null \
  || "$EBI_PYTHON_VENV/bin/pip" install -q --disable-pip-version-check matplotlib >/dev/null
cargo build --locked --release -q --bin eventbridge-integration-controller
cargo build --locked --release -q --bench floor 2>/dev/null || true
kubectl apply --server-side --force-conflicts -f crds/pre-1.25/ >/dev/null
kubectl wait --for=condition=Established crd/eventbridgeintegrations.eventbridge.dev --timeout=30s >/dev/null
ns="bench-$$"; kubectl create namespace "$ns" >/dev/null
port=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
./target/release/eventbridge-integration-controller run --watch-namespace "$ns" --policy-mode off --metrics-addr "127.0.0.1:$port" \
  --resync-interval "$RESYNC" --log-level warn > "$OUT/controller.log" 2>&1 &
pid=$!
trap 'kill $pid 2>/dev/null || true; hack/test-env.sh stop' EXIT
until curl -sf "127.0.0.1:$port/readyz" >/dev/null; do sleep 0.2; done
idle=$(awk '/VmRSS/ {print $2}' /proc/$pid/status)

sfn() { # name
  cat <<YAML
---
apiVersion: eventbridge.dev/v1alpha1
kind: EventBridgeIntegration
metadata: {name: $1, namespace: $ns}
spec:
  rule: {scheduleExpression: "rate(5 minutes)"}
  target:
    stepFunctions: {stateMachineArn: "arn:aws:states:us-east-1:123456789012:stateMachine:order-pipeline"}
YAML
}
for i in $(seq 1 "$N"); do sfn "bench-$i"; done > "$OUT/bench.yaml"
rm -f "$OUT/stop"
"$EBI_PYTHON_VENV/bin/python" hack/bench_sample.py "$port" "$OUT/samples.csv" "$OUT/stop" &
sampler=$!
start=$(date +%s.%N)
kubectl apply -f "$OUT/bench.yaml" >/dev/null
kubectl wait --for=condition=Ready ebi --all -n "$ns" --timeout=1800s >/dev/null
converged=$(date +%s.%N)
sleep 1; touch "$OUT/stop"; wait $sampler || true
converging_rss=$(awk '/VmHWM/ {print $2}' /proc/$pid/status)
calls=$(curl -s "127.0.0.1:$port/metrics" | awk '/^ebi_aws_calls_total/ {s+=$NF} END {print s}')
# Drift checks: at N <= 200 every object passes once more, then the calls of the next N
# passes are counted; above, the next N/4 passes straight away (a whole cycle is minutes).
if [ "$N" -le 200 ]; then
  insync=$("$EBI_PYTHON_VENV/bin/python" hack/bench_insync.py "$port" "$N" 1800)
else
  insync=$("$EBI_PYTHON_VENV/bin/python" hack/bench_insync.py "$port" "$N" 1800 $((N / 4)) 0)
fi
insync_rss=$(awk '/VmRSS/ {print $2}' /proc/$pid/status)
echo "$insync"

# Latency of one apply → Ready, objects applied one by one.
lat="$OUT/latency.txt"; : > "$lat"
for i in $(seq 1 20); do
  t0=$(date +%s.%N)
  sfn "one-$i" | kubectl apply -f - >/dev/null
  kubectl wait --for=condition=Ready "ebi/one-$i" -n "$ns" --timeout=120s >/dev/null
  echo "$(date +%s.%N) $t0" | awk '{print $1 - $2}' >> "$lat"
done

# Deletion ends when the API server lists no object any more (kubectl delete --wait checks
# the objects one at a time and returns seconds after the last one is gone).
rm -f "$OUT/stop-delete"
"$EBI_PYTHON_VENV/bin/python" hack/bench_sample.py "$port" "$OUT/samples-delete.csv" "$OUT/stop-delete" &
sampler=$!
del_start=$(date +%s.%N)
kubectl delete ebi --all -n "$ns" --wait=false >/dev/null
until [ "$(kubectl get ebi -n "$ns" -o name | wc -l)" = 0 ]; do sleep 0.5; done
deleted=$(date +%s.%N)
touch "$OUT/stop-delete"; wait $sampler || true

floor=$(FLOOR_N="$N" FLOOR_PREFIX="floor-$$" FLOOR_TRACE="$OUT/floor.csv" cargo bench --locked --bench floor 2>/dev/null | grep '^\[floor\]')
echo "$floor"
# The same writes under the controller's default rate limits: like with like.
limited=$(FLOOR_RATE_LIMITS=controller FLOOR_N="$N" FLOOR_PREFIX="floorl-$$" FLOOR_TRACE="$OUT/floor-limited.csv" \
  cargo bench --locked --bench floor 2>/dev/null | grep '^\[floor\]')
echo "$limited"
"$EBI_PYTHON_VENV/bin/python" - "$N" "$start" "$converged" "$del_start" "$deleted" "$idle" "$converging_rss" "$insync_rss" "$calls" "$OUT" "$floor" "$limited" <<'PY'
import csv, re, statistics, sys
n, start, conv, dstart, dele, idle, conv_rss, sync_rss, calls, out, floor, limited = sys.argv[1:]
n = int(n); t1 = float(conv) - float(start); t2 = float(dele) - float(dstart)
fc = float(re.search(r"create: .*: ([0-9.]+)s", floor).group(1))
fd = float(re.search(r"delete: .*: ([0-9.]+)s", floor).group(1))
lc = float(re.search(r"create .*: ([0-9.]+)s", limited).group(1))
ld = float(re.search(r"delete .*: ([0-9.]+)s", limited).group(1))
# All Ready: the first sample of the ebi_integrations gauge at n (kubectl wait --all, which
# checks the objects one by one, returns later: t1).
ready_at = min((float(r["t"]) for r in csv.DictReader(open(f"{out}/samples.csv")) if int(r["ready"]) >= n), default=t1)
print(f"[figures] controller (release): {n} Step Functions integrations all Ready after {ready_at:.1f}s (kubectl wait --all returned after {t1:.1f}s); floor {fc:.1f}s (ratio {ready_at / fc:.1f}x); floor under the same rate limits {lc:.1f}s (ratio {ready_at / lc:.2f}x)")
# Calls until all Ready (the sample at ready_at), not until kubectl wait returned: by then
# the first objects may have begun their resyncs.
at_ready = {}
for r in csv.DictReader(open(f"{out}/samples.csv")):
    if float(r["t"]) <= ready_at + 0.01:
        at_ready[r["service"]] = int(r["calls"])
calls_at_ready = sum(at_ready.values()) or float(calls)
print(f"[figures] {int(calls_at_ready)} AWS calls to converge ({calls_at_ready / n:.1f} per object; the floor needs 4)")
print(f"[figures] deleting them: {t2:.1f}s; floor {fd:.1f}s (ratio {t2 / fd:.1f}x); under the same rate limits {ld:.1f}s (ratio {t2 / ld:.1f}x)")
print(f"[figures] controller memory: {int(idle) / 1024:.1f} MiB idle, peak {int(conv_rss) / 1024:.1f} MiB converging, {int(sync_rss) / 1024:.1f} MiB in sync with {n} objects")
lat = sorted(float(x) for x in open(f"{out}/latency.txt"))
print(f"[figures] one apply -> Ready, 20 objects one by one: p50 {statistics.median(lat):.2f}s, p95 {lat[int(0.95 * (len(lat) - 1))]:.2f}s")
def peaks(path, window):
    series = {}
    for r in csv.DictReader(open(path)):
        series.setdefault(r["service"], []).append((float(r["t"]), int(r["calls"])))
    peak = {}
    for s, points in series.items():
        # Calls in every window of at least `window` seconds between two samples (0.5 s apart).
        for i, (t0, c0) in enumerate(points):
            for t1, c1 in points[i + 1:]:
                if t1 - t0 >= window:
                    peak[s] = max(peak.get(s, 0), (c1 - c0) / (t1 - t0))
                    break
    return ", ".join(f"{s} {v:.1f}/s" for s, v in sorted(peak.items()) if v > 0)
limits = "limits: events 20, iam 10, lambda 10, ecs 10, sts 10, sqs 20 per second, each bucket holding one token of burst"
for phase, path in (("converging", f"{out}/samples.csv"), ("deleting", f"{out}/samples-delete.csv")):
    print(f"[figures] peak AWS calls per second while {phase}: over any 5 s, {peaks(path, 5.0)}; over any 1 s, {peaks(path, 1.0)} ({limits})")
PY
"$EBI_PYTHON_VENV/bin/python" hack/bench_plot.py "$OUT/samples.csv" "$OUT/floor.csv" "$OUT/bench-$N.png" \
  "$N Step Functions integrations: controller vs floor ($(nproc) cores, moto, $(date -u +%F))" "$OUT/floor-limited.csv"
