#!/usr/bin/env bash
# make bench: figures, not pass/fail.
#  1. the pure core (cargo bench --bench engine): diagnosis and plan+diff throughput;
#  2. the controller (release build) against the local kube-apiserver and moto: time to
#     converge N Step Functions integrations, its memory (RSS, peak), AWS calls, and the
#     time to delete them all.  N defaults to 200.
set -euo pipefail
ROOT=$(cd "$(dirname "$0")/.." && pwd); cd "$ROOT"
N=${N:-200}
export ENV_DIR=${ENV_DIR:-$ROOT/.tmp/env}

cargo bench --locked --bench engine 2>/dev/null | grep figures

hack/test-env.sh start
set -a; source "$ENV_DIR/env"; set +a
"$EBI_PYTHON_VENV/bin/python" hack/seed_aws.py >/dev/null
cargo build --locked --release -q --bin eventbridge-integration-controller
kubectl apply --server-side --force-conflicts -f crds/ >/dev/null
kubectl wait --for=condition=Established crd/eventbridgeintegrations.eventbridge.dev --timeout=30s >/dev/null
ns="bench-$$"; kubectl create namespace "$ns" >/dev/null
port=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
./target/release/eventbridge-integration-controller run --watch-namespace "$ns" --metrics-addr "127.0.0.1:$port" \
  --resync-interval 10m --log-level warn > "$ENV_DIR/bench-controller.log" 2>&1 &
pid=$!
trap 'kill $pid 2>/dev/null || true; hack/test-env.sh stop' EXIT
until curl -sf "127.0.0.1:$port/readyz" >/dev/null; do sleep 0.2; done
idle=$(awk '/VmRSS/ {print $2}' /proc/$pid/status)

for i in $(seq 1 "$N"); do
  cat <<YAML
---
apiVersion: eventbridge.dev/v1alpha1
kind: EventBridgeIntegration
metadata: {name: bench-$i, namespace: $ns}
spec:
  rule: {scheduleExpression: "rate(5 minutes)"}
  target:
    stepFunctions: {stateMachineArn: "arn:aws:states:us-east-1:123456789012:stateMachine:order-pipeline"}
YAML
done > "$ENV_DIR/bench.yaml"
start=$(date +%s.%N)
kubectl apply -f "$ENV_DIR/bench.yaml" >/dev/null
kubectl wait --for=condition=Ready ebi --all -n "$ns" --timeout=600s >/dev/null
converged=$(date +%s.%N)
rss=$(awk '/VmRSS/ {print $2}' /proc/$pid/status); hwm=$(awk '/VmHWM/ {print $2}' /proc/$pid/status)
calls=$(curl -s "127.0.0.1:$port/metrics" | awk '/^ebi_aws_calls_total/ {s+=$NF} END {print s}')
kubectl delete ebi --all -n "$ns" --wait=true --timeout=600s >/dev/null
deleted=$(date +%s.%N)
python3 - "$N" "$start" "$converged" "$deleted" "$idle" "$rss" "$hwm" "$calls" <<'PY'
import sys
n, start, conv, dele, idle, rss, hwm, calls = sys.argv[1:]
n = int(n); t1 = float(conv) - float(start); t2 = float(dele) - float(conv)
print(f"[figures] controller (release): {n} Step Functions integrations Ready in {t1:.1f}s ({n / t1:.1f}/s); "
      f"{int(calls)} AWS calls ({int(calls) / n:.1f} per object); deleted in {t2:.1f}s")
print(f"[figures] controller memory: {int(idle) / 1024:.1f} MiB idle, {int(rss) / 1024:.1f} MiB with {n} objects, peak {int(hwm) / 1024:.1f} MiB")
PY
