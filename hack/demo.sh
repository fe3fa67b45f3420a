#!/usr/bin/env bash
# make demo: the local API server and AWS emulator, the CRD, the controller, examples/,
# then what was created. Leaves everything running; `make stop` ends it.
# Only the product's steps are printed; the tools' own output goes to .tmp/demo.log.
set -euo pipefail
ROOT=$(cd "$(dirname "$0")/.." && pwd)
cd "$ROOT"
export ENV_DIR=${ENV_DIR:-$ROOT/.tmp/env}
mkdir -p .tmp
LOG=.tmp/demo.log
: > "$LOG"
step() { printf '\n\033[1m== %s\033[0m\n' "$*"; }

# Runs a command with its output in $LOG, showing one progress line that is rewritten in
# place: the elapsed time and the command's latest "[tool] …" status line.
quietly() { # message, command…
  local message=$1; shift
  local started=$SECONDS status="" from
  from=$(stat -c %s "$LOG")
  "$@" >>"$LOG" 2>&1 &
  local pid=$!
  while kill -0 "$pid" 2>/dev/null; do
    status=$(tail -c +$((from + 1)) "$LOG" | grep -a -o '^\[[a-z-]*\] .*' | tail -n 1 | cut -c1-70 || true)
    printf '\r\033[K   %s: %dm%02ds %s' "$message" $(((SECONDS - started) / 60)) $(((SECONDS - started) % 60)) "${status:+ $status}"
    sleep 1
  done
  printf '\r\033[K'
  if ! wait "$pid"; then
    echo "   $message failed; the last lines of $LOG:" >&2
    tail -n 25 "$LOG" >&2
    exit 1
  fi
  printf '   %s: done in %ds\n' "$message" $((SECONDS - started))
}

echo "Tool output (apt, pip, go, cargo) goes to $LOG."
CACHE="${XDG_CACHE_HOME:-$HOME/.cache}/eventbridge-integration-controller/k8s-1.20.2"
if [[ -x "${KUBEBUILDER_ASSETS:-/nonexistent}/kube-apiserver" || -x "$CACHE/kube-apiserver" ]]; then
  step "Starting kube-apiserver 1.20 + etcd and the moto AWS emulator"
  quietly "starting" hack/test-env.sh start
else
  step "Starting kube-apiserver 1.20 + etcd and the moto AWS emulator"
  echo "   First run: kube-apiserver is built once from Debian's kubernetes source package (about 4 minutes on 2 cores), then cached."
  quietly "building kube-apiserver and starting" hack/test-env.sh start
fi
set -a; source "$ENV_DIR/env"; set +a

step "Building the controller"
quietly "cargo build" cargo build --locked

step "Creating the workloads the examples point at (ECS task, state machine, Lambda) and a broken bring-your-own role"
"$EBI_PYTHON_VENV/bin/python" hack/seed_aws.py 222222222222 >>"$LOG" 2>&1
"$EBI_PYTHON_VENV/bin/python" - <<'PY'
import json, boto3
iam = boto3.client("iam", region_name="us-east-1")
trust = {"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Principal": {"Service": "events.amazonaws.com"}, "Action": "sts:AssumeRole",
         "Condition": {"StringEquals": {"aws:SourceAccount": "123456789012"}}}]}
try:
    iam.create_role(RoleName="orders-byo-role", AssumeRolePolicyDocument=json.dumps(trust))
except iam.exceptions.EntityAlreadyExistsException:
    pass
# Trust bound to another rule: the bug examples/broken-trust-other-rule.yaml shows.
other = {"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Principal": {"Service": "events.amazonaws.com"}, "Action": "sts:AssumeRole",
         "Condition": {"ArnEquals": {"aws:SourceArn": "arn:aws:events:us-east-1:123456789012:rule/some-other-rule"}}}]}
try:
    iam.create_role(RoleName="step-functions-byo-role", AssumeRolePolicyDocument=json.dumps(other))
except iam.exceptions.EntityAlreadyExistsException:
    pass
iam.put_role_policy(RoleName="step-functions-byo-role", PolicyName="start", PolicyDocument=json.dumps({"Version": "2012-10-17", "Statement": [
    {"Effect": "Allow", "Action": "states:StartExecution", "Resource": "arn:aws:states:us-east-1:123456789012:stateMachine:order-pipeline"}]}))
# A rule's role reused for a schedule (examples/broken-schedule-role.yaml): it trusts
# events.amazonaws.com, not scheduler.amazonaws.com.
try:
    iam.create_role(RoleName="nightly-byo-role", AssumeRolePolicyDocument=json.dumps(trust))
except iam.exceptions.EntityAlreadyExistsException:
    pass
iam.put_role_policy(RoleName="nightly-byo-role", PolicyName="start", PolicyDocument=json.dumps({"Version": "2012-10-17", "Statement": [
    {"Effect": "Allow", "Action": "states:StartExecution", "Resource": "arn:aws:states:us-east-1:123456789012:stateMachine:order-pipeline"}]}))
# RunTask, but no iam:PassRole for the task's roles: the bug the diagnosis must name.
iam.put_role_policy(RoleName="orders-byo-role", PolicyName="run-task", PolicyDocument=json.dumps({"Version": "2012-10-17", "Statement": [
    {"Effect": "Allow", "Action": "ecs:RunTask", "Resource": "arn:aws:ecs:us-east-1:123456789012:task-definition/orders-worker:*"}]}))
PY

step "Installing the CRDs, and labelling the default namespace for the demo's policy"
kubectl apply --server-side --force-conflicts -f crds/pre-1.25/ >>"$LOG"
kubectl wait --for=condition=Established crd/eventbridgeintegrations.eventbridge.dev crd/eventbridgeintegrationpolicies.eventbridge.dev --timeout=30s >/dev/null
kubectl label namespace default eventbridge.dev/tenant=demo --overwrite >>"$LOG"

step "Running the controller (log: .tmp/demo-controller.log)"
[ -f .tmp/demo-controller.pid ] && kill "$(cat .tmp/demo-controller.pid)" 2>/dev/null || true
./target/debug/eventbridge-integration-controller run --resync-interval 30s --metrics-addr 127.0.0.1:18080 > .tmp/demo-controller.log 2>&1 &
echo $! > .tmp/demo-controller.pid

step "kubectl apply -f examples/ (the policy first: without one, --policy-mode enforce permits nothing)"
kubectl apply -f examples/tenancy-policy.yaml
kubectl apply -f examples/
for n in orders-to-ecs nightly-pipeline orders-to-lambda orders-to-queue orders-to-topic orders-to-stream orders-to-api orders-to-log orders-to-webhook orders-to-other-account orders-to-other-account-lambda orders-to-other-account-stream orders-fan-out weekday-report nightly-digest; do
  kubectl wait --for=condition=Ready "ebi/$n" --timeout=60s >/dev/null
done
for n in orders-byo-role pipeline-byo-role nightly-byo-role; do
  kubectl wait --for=jsonpath='{.status.observedGeneration}'=1 "ebi/$n" --timeout=60s >/dev/null
done
kubectl wait --for=condition=Stalled ebi/orders-to-payments --timeout=60s >/dev/null
# Its policy is written, but the stage serves the one it was deployed with (shown below).
kubectl wait --for=jsonpath='{.status.conditions[?(@.type=="Ready")].reason}'=ApiGatewayStageNotDeployed \
  ebi/orders-to-other-account-api --timeout=60s >/dev/null

step "kubectl get ebipolicy"
kubectl get ebipolicy

step "kubectl get ebi"
kubectl get ebi

step "What the controller created in AWS"
"$EBI_PYTHON_VENV/bin/python" - <<'PY'
import json, urllib.parse, boto3
events, iam, lam = (boto3.client(s, region_name="us-east-1") for s in ("events", "iam", "lambda"))
for r in events.list_rules(NamePrefix="ebi-")["Rules"]:
    print(f"rule {r['Name']}  state={r['State']}  {r.get('EventPattern') or r.get('ScheduleExpression')}")
    for t in events.list_targets_by_rule(Rule=r["Name"])["Targets"]:
        print(f"  target {t['Id']} -> {t['Arn']}" + (f"\n    roleArn {t['RoleArn']}" if t.get("RoleArn") else ""))
scheduler = boto3.client("scheduler", region_name="us-east-1")
for summary in scheduler.list_schedules()["Schedules"]:
    s = scheduler.get_schedule(Name=summary["Name"], GroupName=summary["GroupName"])
    print(f"schedule {s['Name']}  {s['ScheduleExpression']} in {s.get('ScheduleExpressionTimezone', 'UTC')}  window={s['FlexibleTimeWindow']['Mode']}")
    print(f"  target -> {s['Target']['Arn']}\n    roleArn {s['Target']['RoleArn']}")
for role in iam.list_roles()["Roles"]:
    if not role["RoleName"].startswith("ebi-"):
        continue
    print(f"role {role['Arn']}")
    policy = iam.get_role_policy(RoleName=role["RoleName"], PolicyName="eventbridge-integration")["PolicyDocument"]
    if isinstance(policy, str):
        policy = json.loads(urllib.parse.unquote(policy))
    for s in policy["Statement"]:
        print(f"  allow {s['Action']} on {s['Resource']}" + (f" if {json.dumps(s['Condition'])}" if s.get("Condition") else ""))
p = json.loads(lam.get_policy(FunctionName="order-notifier", Qualifier="live")["Policy"])
for s in p["Statement"]:
    print(f"lambda permission {s['Sid']}: {s['Principal']} {s['Action']} on {s['Resource']} if {json.dumps(s.get('Condition'))}")
PY

step "The cross-account integrations (kubectl get ebi -o custom-columns)"
kubectl get ebi orders-to-other-account orders-to-other-account-lambda orders-to-other-account-stream orders-to-other-account-api \
  -o custom-columns='NAME:.metadata.name,READY:.status.conditions[?(@.type=="Ready")].status,CROSS-ACCOUNT:.status.conditions[?(@.type=="CrossAccountReady")].message'

step "A REST API of the other account: its policy names this account's role, but its stage serves the old policy until deployed"
kubectl get ebi orders-to-other-account-api -o jsonpath='{range .status.findings[*]}{.severity} {.code}{"\n"}  Fix: {.remediation}{"\n"}{end}'
echo "   The API's owner deploys the stage (account 222222222222); at its next resync (30 s here) the object is Ready:"
"$EBI_PYTHON_VENV/bin/python" - <<'PY'
import boto3
apigw = boto3.client("apigateway", region_name="us-east-1")
apigw.meta.events.register("before-sign.*.*", lambda request, **_: request.headers.__setitem__("x-moto-account-id", "222222222222"))
apigw.create_deployment(restApiId="a1b2c3d4e5", stageName="prod")
PY
kubectl wait --for=condition=Ready ebi/orders-to-other-account-api --timeout=60s
echo

step "The broken bring-your-own role, diagnosed (kubectl get ebi orders-byo-role -o jsonpath='{.status.findings}')"
kubectl get ebi orders-byo-role -o jsonpath='{range .status.findings[*]}{.severity} {.code} {.resource}{"\n"}  {.message}{"\n"}  Fix: {.remediation}{"\n\n"}{end}'

step "Refused by the policy (kubectl get ebi orders-to-payments -o jsonpath='{.status.conditions[?(@.type==\"Stalled\")]}')"
kubectl get ebi orders-to-payments -o jsonpath='{range .status.conditions[?(@.type=="Stalled")]}{.status} {.reason}{"\n"}  {.message}{"\n"}{end}'

step "The other broken role (kubectl get ebi pipeline-byo-role -o jsonpath='{.status.conditions[?(@.type==\"AccessVerified\")]}')"
kubectl get ebi pipeline-byo-role -o jsonpath='{range .status.conditions[?(@.type=="AccessVerified")]}{.status} {.reason}{"\n"}  {.message}{"\n"}{end}'

step "A rule's role reused for a schedule (kubectl get ebi nightly-byo-role -o jsonpath='{.status.findings}')"
kubectl get ebi nightly-byo-role -o jsonpath='{range .status.findings[*]}{.severity} {.code} {.resource}{"\n"}  {.message}{"\n"}  Fix: {.remediation}{"\n\n"}{end}'

cat <<EOF2

The controller keeps running and corrects drift every 30s. Try:
  source .tmp/env/env; kubectl describe ebi orders-to-ecs
  ./target/debug/eventbridge-integration-controller diagnose --bundle tests/corpus/passrole-missing.json
  curl -s 127.0.0.1:18080/metrics | grep ebi_
Stop everything with: make stop
EOF2
