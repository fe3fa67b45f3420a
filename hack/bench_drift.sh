#!/usr/bin/env bash
# make bench-drift (and a phase of make bench): drift events (issue 20 §2). Figures, not
# pass/fail. N Step Functions integrations (N=200) converge; then, with and without
# `--drift-events`:
#  - the time from a hand edit to its correction, p50/p95 over 20 edits made at once (a
#    rule's target removed; with drift events each edit is announced by a CloudTrail-shaped
#    event on the default bus, which moto routes to the drift queue as EventBridge routes
#    CloudTrail's own);
#  - AWS calls per integration per hour in sync, counted over WINDOW seconds.
# With drift events the resync interval is 1h (polling is the safety net), without it
# RESYNC_OFF seconds (120 by default: the default 10m scaled down so the bench takes
# minutes; the per-hour figures are scaled back to 10m and 6h from the measured cost of a
# pass and of the long polls).
set -euo pipefail
ROOT=$(cd "$(dirname "$0")/.." && pwd); cd "$ROOT"
N=${N:-200}
RESYNC_OFF=${RESYNC_OFF:-120}
WINDOW=${WINDOW:-240}
# BENCH_PROFILE=debug: the debug binary (no release build); KEEP_ENV=1: leave the test env up.
PROFILE=${BENCH_PROFILE:-release}
export ENV_DIR=${ENV_DIR:-$ROOT/.tmp/env}
OUT=${BENCH_OUT:-$ROOT/.tmp/bench}/drift-$N; mkdir -p "$OUT"

hack/test-env.sh start
set -a; source "$ENV_DIR/env"; set +a
PY="$EBI_PYTHON_VENV/bin/python"
"$PY" hack/seed_aws.py >/dev/null
if [ "$PROFILE" = release ]; then
  cargo build --locked --release -q --bin eventbridge-integration-controller
else
  cargo build --locked -q --bin eventbridge-integration-controller
fi
BIN=./target/debug/eventbridge-integration-controller
[ "$PROFILE" = release ] && BIN=./target/release/eventbridge-integration-controller
kubectl apply --server-side --force-conflicts -f crds/pre-1.25/ >/dev/null
kubectl wait --for=condition=Established crd/eventbridgeintegrations.eventbridge.dev --timeout=30s >/dev/null
ns="drift-bench-$$"; kubectl create namespace "$ns" >/dev/null
port=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
unlimited=events=100000,iam=100000,lambda=100000,ecs=100000,sts=100000,sqs=100000
pid=
start_controller() { # resync, extra flags...
  local resync=$1; shift
  "$BIN" run --watch-namespace "$ns" --locations-namespace "$ns" --cluster-id "bench-$ns" \
    --policy-mode off --metrics-addr "127.0.0.1:$port" --resync-interval "$resync" --log-level warn "$@" \
    >> "$OUT/controller.log" 2>&1 &
  pid=$!
  until curl -sf "127.0.0.1:$port/readyz" >/dev/null; do sleep 0.1; done
}
stop_controller() { kill "$pid" 2>/dev/null || true; wait "$pid" 2>/dev/null || true; }
: > "$OUT/controller.log"
trap 'stop_controller; kubectl delete namespace "$ns" --wait=false >/dev/null 2>&1 || true; [ -n "${KEEP_ENV:-}" ] || hack/test-env.sh stop' EXIT
metric() { # name{labels prefix -> summed value
  curl -s "127.0.0.1:$port/metrics" | awk -v p="$1" 'index($0, p) == 1 {s += $NF} END {print s + 0}'
}
calls() { metric 'ebi_aws_calls_total{'; }
for i in $(seq 1 "$N"); do cat <<YAML
---
apiVersion: eventbridge.dev/v1alpha1
kind: EventBridgeIntegration
metadata: {name: obj-$i, namespace: $ns}
spec:
  rule: {scheduleExpression: "rate(5 minutes)"}
  target:
    stepFunctions: {stateMachineArn: "arn:aws:states:us-east-1:123456789012:stateMachine:order-pipeline"}
YAML
done > "$OUT/objects.yaml"

# 1. With drift events, resync 1h.
start_controller 1h --drift-events --aws-rate-limits "$unlimited"
t0=$(date +%s)
kubectl apply -f "$OUT/objects.yaml" >/dev/null
until [ "$(metric 'ebi_integrations{ready="true"}' | cut -d. -f1)" = "$N" ]; do sleep 2; done
echo "[bench-drift] $N objects Ready after $(( $(date +%s) - t0 )) s (limits lifted)"
until [ "$(metric 'ebi_aws_calls_total{service="SQS",operation="ReceiveMessage"' | cut -d. -f1)" -ge 1 ]; do sleep 1; done
sleep 25  # the passes of creation (finalizer, status) end
on0=$(calls); polls0=$(metric 'ebi_aws_calls_total{service="SQS",operation="ReceiveMessage"')
curl -s "127.0.0.1:$port/metrics" | grep '^ebi_aws_calls_total{' > "$OUT/calls-on-0.txt"
sleep "$WINDOW"
on1=$(calls); polls1=$(metric 'ebi_aws_calls_total{service="SQS",operation="ReceiveMessage"')
curl -s "127.0.0.1:$port/metrics" | grep '^ebi_aws_calls_total{' > "$OUT/calls-on-1.txt"
"$PY" hack/bench_drift.py "$ns" event > "$OUT/latency-on.txt"
requeued=$(metric 'ebi_drift_events_total{outcome="requeued"')
stop_controller

# 2. Without drift events, resync RESYNC_OFF (the drift rule and queue are removed at start).
start_controller "${RESYNC_OFF}s"
sleep "$RESYNC_OFF"  # every object past its first slot after the restart
off0=$(calls); passes0=$(metric 'ebi_reconciles_total{result="success"}')
sleep "$WINDOW"
off1=$(calls); passes1=$(metric 'ebi_reconciles_total{result="success"}')
"$PY" hack/bench_drift.py "$ns" silent > "$OUT/latency-off.txt"
stop_controller

"$PY" - "$N" "$WINDOW" "$RESYNC_OFF" "$on0" "$on1" "$polls0" "$polls1" "$off0" "$off1" "$passes0" "$passes1" "$requeued" "$OUT" <<'PY'
import statistics, sys
n, window, resync = int(sys.argv[1]), float(sys.argv[2]), int(sys.argv[3])
on0, on1, polls0, polls1, off0, off1, passes0, passes1, requeued = map(float, sys.argv[4:13])
out = sys.argv[13]
def lat(name):
    v = sorted(float(x) for x in open(f"{out}/latency-{name}.txt"))
    return f"p50 {statistics.median(v):.2f}s, p95 {v[int(round(0.95 * (len(v) - 1)))]:.2f}s, max {v[-1]:.2f}s"
hour = 3600 / window
polls_per_hour = (polls1 - polls0) * hour          # one place here
on_per_hour = (on1 - on0) * hour / n               # resync 1h: no pass fell in the window
passes = passes1 - passes0
per_pass = (off1 - off0) / passes if passes else float("nan")
off_per_hour = (off1 - off0) * hour / n
print(f"[figures] drift events, {n} Step Functions integrations in sync, one account and region")
print(f"[figures]   hand edit -> corrected, 20 edits at once: with drift events (resync 1h): {lat('on')} ({requeued:.0f} re-queued);"
      f" without (resync {resync}s): {lat('off')}")
print(f"[figures]   with drift events, between resyncs: {on1 - on0:.0f} AWS calls in {window:.0f}s, {polls1 - polls0:.0f} of them ReceiveMessage"
      f" = {polls_per_hour:.0f} long polls/hour per place, {on_per_hour:.3f} calls per integration per hour")
def ops(f):
    out = {}
    for line in open(f):
        labels, v = line.rsplit(" ", 1)
        op = labels.split('operation="')[1].split('"')[0]
        out[op] = out.get(op, 0) + float(v)
    return out
a, b = ops(f"{out}/calls-on-0.txt"), ops(f"{out}/calls-on-1.txt")
diff = {k: b[k] - a.get(k, 0) for k in b if b[k] - a.get(k, 0) > 0}
print("[figures]     of which: " + ", ".join(f"{k} {v:.0f}" for k, v in sorted(diff.items())))
print(f"[figures]   without, resync {resync}s: {off1 - off0:.0f} calls in {window:.0f}s over {passes:.0f} in-sync passes = {per_pass:.2f} calls per pass,"
      f" {off_per_hour:.1f} calls per integration per hour")
for at in (1000,):
    ten = per_pass * 6
    six = per_pass / 6 + polls_per_hour / at
    print(f"[figures]   at {at} integrations, one place: resync 10m without drift events {ten:.2f} calls per integration per hour;"
          f" resync 6h with drift events {six:.2f} ({per_pass / 6:.2f} resync + {polls_per_hour / at:.2f} long polls)")
PY
