#!/usr/bin/env bash
# make bench-restart (and the last phase of make bench): what a user waits for while N
# objects in sync resync after a restart (issue 22). Figures, not pass/fail.
#  1. N Step Functions integrations converge with the client-side limits lifted (moto is not
#     AWS: only sooner, the same objects); the controller stops.
#  2. Restart with no heartbeat (a first install of this version, or a downtime longer than
#     the interval), with --drift-events: every object is overdue, a backlog in the
#     background lane. 20 objects are applied one by one meanwhile (apply -> Ready); one
#     object's rule target removed by hand before the restart (unannounced: corrected by its
#     overdue pass); then, still during the backlog, the target of one of the 20 removed by
#     hand and announced as CloudTrail would (a drift event): when each is corrected.
#  3. The same controller, the backlog drained and a period of heartbeats kept: 20 objects
#     applied one by one (the controller idle but for its resyncs).
#  4. Restart again, at once (heartbeat kept): 20 objects applied one by one; the first
#     passes by kind (at_slot, overdue, urgent).
# For 2 and 4: AWS calls per second per service over the first period after the restart
# (peak over any 1 s, against the default limits), and when the last object found at
# start-up had its first pass. Default limits throughout 2-4.
# BENCH_QUICK=1: the apply -> Ready and announced-drift figures only (no wait for the last
# first pass, the unannounced drift or a period; the call rates cover those minutes only).
# N=1000 by default (resync 2m: at 1,000 objects in sync a pass each 108 s is ~9 EventBridge
# calls/s); N=10000 uses the default 10m (a shorter interval alone would exceed EventBridge's
# 20 calls/s).
set -euo pipefail
ROOT=$(cd "$(dirname "$0")/.." && pwd); cd "$ROOT"
N=${N:-1000}
if [ "$N" -le 2000 ]; then RESYNC=${BENCH_RESYNC:-120}; else RESYNC=${BENCH_RESYNC:-600}; fi
PERIOD=$((RESYNC * 9 / 10))
export ENV_DIR=${ENV_DIR:-$ROOT/.tmp/env}
OUT=${BENCH_OUT:-$ROOT/.tmp/bench}/restart-$N; mkdir -p "$OUT"

hack/test-env.sh start
set -a; source "$ENV_DIR/env"; set +a
PY="$EBI_PYTHON_VENV/bin/python"
"$PY" hack/seed_aws.py >/dev/null
cargo build --locked --release -q --bin eventbridge-integration-controller
kubectl apply --server-side --force-conflicts -f crds/pre-1.25/ >/dev/null
kubectl wait --for=condition=Established crd/eventbridgeintegrations.eventbridge.dev --timeout=30s >/dev/null
ns="restart-$$"; kubectl create namespace "$ns" >/dev/null
port=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
unlimited=events=100000,iam=100000,lambda=100000,ecs=100000,sts=100000,sqs=100000
pid=
start_controller() { # extra flags...
  ./target/release/eventbridge-integration-controller run --watch-namespace "$ns" --locations-namespace "$ns" \
    --policy-mode off --metrics-addr "127.0.0.1:$port" --resync-interval "${RESYNC}s" --log-level "${BENCH_LOG_LEVEL:-warn}" "$@" \
    >> "$OUT/controller.log" 2>&1 &
  pid=$!
  until curl -sf "127.0.0.1:$port/readyz" >/dev/null; do sleep 0.1; done
}
stop_controller() { kill "$pid" 2>/dev/null || true; wait "$pid" 2>/dev/null || true; }
: > "$OUT/controller.log"
trap 'stop_controller; hack/test-env.sh stop' EXIT
metric() { # name{labels} prefix -> summed value
  curl -s "127.0.0.1:$port/metrics" | awk -v p="$1" 'index($0, p) == 1 {s += $NF} END {print s + 0}'
}
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
latency() { # prefix -> file of 20 apply->Ready seconds
  local f="$OUT/latency-$1.txt"; : > "$f"
  for i in $(seq 1 20); do
    local t0; t0=$(date +%s.%N)
    sfn "$1-$i" | kubectl apply -f - >/dev/null
    kubectl wait --for=condition=Ready "ebi/$1-$i" -n "$ns" --timeout=300s >/dev/null
    echo "$(date +%s.%N) $t0" | awk '{print $1 - $2}' >> "$f"
  done
}
sample() { # name: samples calls per service until $OUT/stop-name exists
  rm -f "$OUT/stop-$1"
  "$PY" hack/bench_sample.py "$port" "$OUT/samples-$1.csv" "$OUT/stop-$1" &
  sampler=$!
}
# When every object found at start-up has had its first pass: the successful passes reach
# the objects there were (plus the 20 applied meanwhile), in seconds since `$1`.
last_first_pass() { # t0 expected
  if [ -n "${BENCH_QUICK:-}" ]; then echo skipped; return; fi
  until [ "$(metric 'ebi_reconciles_total{result="success"}' | cut -d. -f1)" -ge "$2" ]; do sleep 0.5; done
  echo "$(date +%s.%N) $1" | awk '{print $1 - $2}'
}

# 1. Converge N, limits lifted.
start_controller --aws-rate-limits "$unlimited"
for i in $(seq 1 "$N"); do sfn "obj-$i"; done > "$OUT/objects.yaml"
t0=$(date +%s)
kubectl apply -f "$OUT/objects.yaml" >/dev/null
until [ "$(metric 'ebi_integrations{ready="true"}' | cut -d. -f1)" = "$N" ]; do sleep 2; done
echo "[bench-restart] $N objects Ready after $(( $(date +%s) - t0 )) s (limits lifted)"
stop_controller

# 2. No heartbeat: every object overdue.
kubectl delete configmap eventbridge-integration-controller-schedule -n "$ns" --ignore-not-found >/dev/null
rule=$(kubectl get ebi obj-1 -n "$ns" -o jsonpath='{.status.ruleName}')
"$PY" - "$rule" <<'PY'
import boto3, os, sys
events = boto3.client("events", region_name="us-east-1", endpoint_url=os.environ.get("AWS_ENDPOINT_URL"))
ids = [t["Id"] for t in events.list_targets_by_rule(Rule=sys.argv[1])["Targets"]]
events.remove_targets(Rule=sys.argv[1], Ids=ids)
PY
drift_t0=$(date +%s.%N)
sample cold
start_controller --drift-events
cold_t0=$(date +%s.%N)
( until [ "$("$PY" - "$rule" <<'PY'
import boto3, os, sys
events = boto3.client("events", region_name="us-east-1", endpoint_url=os.environ.get("AWS_ENDPOINT_URL"))
print(len(events.list_targets_by_rule(Rule=sys.argv[1])["Targets"]))
PY
)" = 1 ]; do sleep 0.5; done; echo "$(date +%s.%N) $drift_t0" | awk '{print $1 - $2}' > "$OUT/drift.txt" ) &
drift_watch=$!
latency cold
cold_sync=$(metric 'ebi_cache_synced_seconds')
# An announced drift during the backlog: the target of cold-1 (Ready, so its next resync is
# up to a period away) removed by hand, and the CloudTrail event AWS would put on the bus.
# This is the first run with --drift-events: its rule and queue are set up once the start-up
# list is read, and an event put before reaches no queue (on AWS they are there from the run
# before), so the edit waits for them.
until [ "$("$PY" - <<'PY'
import boto3, os
events = boto3.client("events", region_name="us-east-1", endpoint_url=os.environ.get("AWS_ENDPOINT_URL"))
rules = events.list_rules(NamePrefix="ebi-drift-")["Rules"]
print(any(t["Id"] == "ebi-drift-queue" for r in rules for t in events.list_targets_by_rule(Rule=r["Name"])["Targets"]))
PY
)" = True ]; do sleep 0.5; done
plumbing_at=$(echo "$(date +%s.%N) $cold_t0" | awk '{print $1 - $2}')
rule1=$(kubectl get ebi cold-1 -n "$ns" -o jsonpath='{.status.ruleName}')
announced_at=$(echo "$(date +%s.%N) $cold_t0" | awk '{print $1 - $2}')
"$PY" - "$rule1" "$port" > "$OUT/drift-announced.txt" 2> "$OUT/drift-announced.log" <<'PY'
import boto3, json, os, sys, time, urllib.request
rule, port = sys.argv[1], sys.argv[2]

def requeued():
    text = urllib.request.urlopen(f"http://127.0.0.1:{port}/metrics").read().decode()
    return sum(float(l.split()[-1]) for l in text.splitlines() if l.startswith('ebi_drift_events_total{outcome="requeued"}'))

events = boto3.client("events", region_name="us-east-1", endpoint_url=os.environ.get("AWS_ENDPOINT_URL"))
ids = [t["Id"] for t in events.list_targets_by_rule(Rule=rule)["Targets"]]
events.remove_targets(Rule=rule, Ids=ids)
t0 = time.time()
detail = {"eventSource": "events.amazonaws.com", "eventName": "RemoveTargets", "awsRegion": "us-east-1",
          "recipientAccountId": "123456789012", "userIdentity": {"arn": "arn:aws:iam::123456789012:user/bench"},
          "requestParameters": {"rule": rule, "ids": ids}}
before = requeued()
events.put_events(Entries=[{"Source": "aws.events", "DetailType": "AWS API Call via CloudTrail", "Detail": json.dumps(detail)}])
put = time.time() - t0
heard = None
while not events.list_targets_by_rule(Rule=rule)["Targets"]:
    if heard is None and requeued() > before:
        heard = time.time() - t0
    if time.time() - t0 > 120:
        print("timeout")
        sys.exit(0)
    time.sleep(0.1)
# On stderr, where the time went: PutEvents itself (the emulator), the controller hearing it
# (moto's routing to the queue and the long poll), and the pass.
print(f"PutEvents returned after {put:.2f}s; re-queued by the drift event after {heard if heard is None else round(heard, 2)}s", file=sys.stderr)
print(f"{time.time() - t0:.2f}")
PY
cold_last=$(last_first_pass "$cold_t0" $((N + 20)))
if [ -n "${BENCH_QUICK:-}" ]; then
  kill "$drift_watch" 2>/dev/null || true; echo skipped > "$OUT/drift.txt"
else
  wait "$drift_watch"
fi
cold_first="urgent $(metric 'ebi_first_passes_total{when="urgent"}'), overdue $(metric 'ebi_first_passes_total{when="overdue"}'), at_slot $(metric 'ebi_first_passes_total{when="at_slot"}')"
[ -n "${BENCH_QUICK:-}" ] || sleep "$PERIOD" || true
touch "$OUT/stop-cold"; wait "$sampler" || true

# 3. Steady state: the backlog drained, a period of heartbeats kept.
latency idle

# 4. Restart at once: the heartbeat covers every object's latest slot but the last seconds'.
stop_controller
sample warm
start_controller
warm_t0=$(date +%s.%N)
latency warm
warm_sync=$(metric 'ebi_cache_synced_seconds')
warm_last=$(last_first_pass "$warm_t0" $((N + 40)))
warm_first="urgent $(metric 'ebi_first_passes_total{when="urgent"}'), overdue $(metric 'ebi_first_passes_total{when="overdue"}'), at_slot $(metric 'ebi_first_passes_total{when="at_slot"}')"
[ -n "${BENCH_QUICK:-}" ] || sleep $(( PERIOD > ${warm_last%.*} ? PERIOD - ${warm_last%.*} : 0 )) || true
touch "$OUT/stop-warm"; wait "$sampler" || true

"$PY" - "$N" "$RESYNC" "$OUT" "$cold_last" "$warm_last" "$cold_first" "$warm_first" "${announced_at:-0}" "$cold_sync" "$warm_sync" "$plumbing_at" <<'PY'
import csv, statistics, sys
n, resync, out, cold_last, warm_last, cold_first, warm_first, announced_at, cold_sync, warm_sync, plumbing_at = sys.argv[1:]
def lat(name):
    v = sorted(float(x) for x in open(f"{out}/latency-{name}.txt"))
    return f"p50 {statistics.median(v):.2f}s, p95 {v[int(0.95 * (len(v) - 1))]:.2f}s, max {v[-1]:.2f}s"
def peaks(name):
    series = {}
    for r in csv.DictReader(open(f"{out}/samples-{name}.csv")):
        series.setdefault(r["service"], []).append((float(r["t"]), int(r["calls"])))
    def over(points, window):
        # The highest rate over any `window` s between two samples (0.5 s apart; the
        # sampler's own timing blurs a 1 s window by up to ~0.2 s either way).
        best = 0.0
        for i, (t0, c0) in enumerate(points):
            for t1, c1 in points[i + 1:]:
                if t1 - t0 >= window:
                    best = max(best, (c1 - c0) / (t1 - t0))
                    break
        return best
    total = sum(points[-1][1] - points[0][1] for points in series.values())
    span = max(points[-1][0] for points in series.values()) - min(points[0][0] for points in series.values())
    one = ", ".join(f"{s} {over(p, 1.0):.1f}/s" for s, p in sorted(series.items()) if over(p, 1.0) > 0)
    five = ", ".join(f"{s} {over(p, 5.0):.1f}/s" for s, p in sorted(series.items()) if over(p, 5.0) > 0)
    return f"{total} AWS calls in the first {span:.0f} s ({total / max(span, 1):.1f}/s); peak over any 5 s: {five}; over any 1 s: {one} (limits: EventBridge 20/s, IAM 10/s, STS 10/s, Organizations 2/s, one token of burst)"
def last(t):
    return "not waited for (BENCH_QUICK)" if t == "skipped" else f"{float(t):.1f}s after the restart"
drift = open(f"{out}/drift.txt").read().strip()
announced = open(f"{out}/drift-announced.txt").read().strip()
print(f"[figures] restart, {n} Step Functions integrations in sync, resync {resync}s, default limits (the first restart with --drift-events)")
print(f"[figures]   idle (steady state, resyncs at their slots): one apply -> Ready, 20 one by one: {lat('idle')}")
print(f"[figures]   restart without a heartbeat (every object overdue): first passes {cold_first}; apply -> Ready during the backlog: {lat('cold')} (no pass before the watch's initial list was cached, {float(cold_sync):.1f}s after the restart); last first pass {last(cold_last)}")
unannounced = "not waited for (BENCH_QUICK)" if drift == "skipped" else f"{float(drift):.1f}s, by its overdue pass"
announced = "not within 120 s" if announced == "timeout" else f"after {float(announced):.2f}s"
split = open(f"{out}/drift-announced.log").read().strip().splitlines()
announced += f" ({split[-1]})" if split else ""
print(f"[figures]     drift: a target removed by hand before the restart (unannounced) restored after {unannounced}; one removed {float(announced_at):.0f}s into the backlog (the drift rule and queue set up {float(plumbing_at):.1f}s after the restart) and announced by a drift event restored {announced}")
print(f"[figures]     {peaks('cold')}")
print(f"[figures]   restart with the heartbeat kept: first passes {warm_first}; apply -> Ready: {lat('warm')} (cache synced after {float(warm_sync):.1f}s); last first pass {last(warm_last)}")
print(f"[figures]     {peaks('warm')}")
PY
