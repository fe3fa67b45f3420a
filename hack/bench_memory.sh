#!/usr/bin/env bash
# make bench-memory: the controller's memory with many objects (N=10000 by default).
# Reaching 10,000 objects under the default rate limits would take AWS's time (IAM at
# 10 calls/s: about 35 minutes), so this run lifts the client-side limits (moto is not AWS)
# and reconciles BENCH_CONCURRENCY objects at once (default 8, the controller's and the
# chart's default): the objects, their status and the shared snapshots are the same as
# under the limits, only sooner. Prints RSS idle, peak while converging, and in sync after
# every object resynced once, plus the in-sync calls per pass; then the same in sync after a
# restart of the controller with the N objects already there (BENCH_RESTART=0 skips it).
set -euo pipefail
ROOT=$(cd "$(dirname "$0")/.." && pwd); cd "$ROOT"
N=${N:-10000}
RESYNC=${BENCH_RESYNC:-120s}
CONCURRENCY=${BENCH_CONCURRENCY:-8}
export ENV_DIR=${ENV_DIR:-$ROOT/.tmp/env}
OUT=${BENCH_OUT:-$ROOT/.tmp/bench}; mkdir -p "$OUT"

hack/test-env.sh start
set -a; source "$ENV_DIR/env"; set +a
"$EBI_PYTHON_VENV/bin/python" hack/seed_aws.py >/dev/null
cargo build --locked --release -q --bin eventbridge-integration-controller
kubectl apply --server-side --force-conflicts -f crds/pre-1.25/ >/dev/null
kubectl wait --for=condition=Established crd/eventbridgeintegrations.eventbridge.dev --timeout=30s >/dev/null
ns="mem-$$"; kubectl create namespace "$ns" >/dev/null
port=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
unlimited=events=100000,iam=100000,lambda=100000,ecs=100000,sts=100000,sqs=100000
start_controller() {
  ./target/release/eventbridge-integration-controller run --watch-namespace "$ns" --policy-mode off --metrics-addr "127.0.0.1:$port" \
    --resync-interval "$RESYNC" --aws-rate-limits "$unlimited" --max-concurrent-reconciles "$CONCURRENCY" \
    --log-level warn >> "$OUT/controller-memory.log" 2>&1 &
  pid=$!
  until curl -sf "127.0.0.1:$port/readyz" >/dev/null; do sleep 0.2; done
}
# Every object passes once in sync, then a quarter of them more are counted. RSS is sampled
# every second meanwhile: in sync is a median and a maximum, not one moment. Sets insync,
# rss_median, rss_max, samples.
measure_in_sync() {
  ( while kill -0 "$pid" 2>/dev/null; do awk '/VmRSS/ {print $2}' /proc/$pid/status; sleep 1; done ) > "$OUT/rss-insync.txt" &
  local rss_sampler=$!
  insync=$("$EBI_PYTHON_VENV/bin/python" hack/bench_insync.py "$port" "$N" 3600 $((N / 4)))
  kill "$rss_sampler" 2>/dev/null || true
  wait "$rss_sampler" 2>/dev/null || true
  [ -s "$OUT/rss-insync.txt" ] || { echo "bench-memory: no RSS sample in sync (did the controller exit? see $OUT/controller-memory.log)" >&2; exit 1; }
  read -r rss_median rss_max < <(sort -n "$OUT/rss-insync.txt" | awk '{v[NR]=$1} END {print int(v[int((NR+1)/2)]/1024), int(v[NR]/1024)}')
  samples=$(wc -l < "$OUT/rss-insync.txt")
}
: > "$OUT/controller-memory.log"
trap 'kill $pid 2>/dev/null || true; hack/test-env.sh stop' EXIT
start_controller
idle=$(awk '/VmRSS/ {print $2}' /proc/$pid/status)
for i in $(seq 1 "$N"); do cat <<YAML
---
apiVersion: eventbridge.dev/v1alpha1
kind: EventBridgeIntegration
metadata: {name: mem-$i, namespace: $ns}
spec:
  rule: {scheduleExpression: "rate(5 minutes)"}
  target:
    stepFunctions: {stateMachineArn: "arn:aws:states:us-east-1:123456789012:stateMachine:order-pipeline"}
YAML
done > "$OUT/memory.yaml"
start=$(date +%s)
kubectl apply -f "$OUT/memory.yaml" >/dev/null
applied=$(date +%s)
until [ "$(curl -s "127.0.0.1:$port/metrics" | awk '/^ebi_integrations\{ready="true"\}/ {print int($NF)}')" = "$N" ]; do sleep 2; done
ready=$(date +%s)
peak=$(awk '/VmHWM/ {print $2}' /proc/$pid/status)
measure_in_sync
echo "$insync"
echo "[figures] memory, $N Step Functions integrations (client-side rate limits lifted, $CONCURRENCY at once): kubectl apply took $((applied - start)) s, all Ready after $((ready - start)) s; RSS $((idle / 1024)) MiB idle, peak $((peak / 1024)) MiB converging; in sync (sampled each second over $samples s) median $rss_median MiB, max $rss_max MiB"
[ "${BENCH_RESTART:-1}" = 1 ] || exit 0
# A restart with the objects already there: kube-runtime hands every cached object to its
# runner at once, unlike objects applied one by one while the controller runs.
kill "$pid"; wait "$pid" 2>/dev/null || true
start_controller
measure_in_sync
echo "$insync"
echo "[figures] memory after a restart with $N objects: RSS peak $(( $(awk '/VmHWM/ {print $2}' /proc/$pid/status) / 1024 )) MiB; sampled each second from the restart while every object passed once and a quarter again ($samples s): median $rss_median MiB, max $rss_max MiB"
