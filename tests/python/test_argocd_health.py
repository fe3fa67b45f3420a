"""The Argo CD health check, run by a real Lua interpreter (lupa) against sample objects."""
import copy

import lupa
import pytest
import yaml


@pytest.fixture(scope="module")
def health(root):
    script = (root / "gitops" / "argocd" / "health.lua").read_text()
    lua = lupa.LuaRuntime(unpack_returned_tuples=True)
    fn = lua.eval("function(obj) " + script + " end")

    def run(obj):
        result = fn(to_lua(lua, obj))
        return result["status"], result["message"]
    return run


def to_lua(lua, value):
    if isinstance(value, dict):
        return lua.table_from({k: to_lua(lua, v) for k, v in value.items()})
    if isinstance(value, list):
        return lua.table_from([to_lua(lua, v) for v in value])
    return value


def cond(type_, status, reason, message=""):
    return {"type": type_, "status": status, "reason": reason, "message": message, "lastTransitionTime": "2026-01-01T00:00:00Z"}


BASE = {"apiVersion": "eventbridge.dev/v1alpha1", "kind": "EventBridgeIntegration", "metadata": {"name": "x", "generation": 2}}


def obj(conditions, findings=(), observed=2):
    o = copy.deepcopy(BASE)
    o["status"] = {"observedGeneration": observed, "conditions": conditions, "findings": list(findings)}
    return o


def test_ready_is_healthy(health):
    status, message = health(obj([cond("Ready", "True", "Converged", "ECS integration in sync"), cond("Stalled", "False", "Converged")]))
    assert (status, message) == ("Healthy", "ECS integration in sync")


def test_stalled_is_degraded_with_the_finding_and_its_fix(health):
    finding = {"code": "PassRoleMissing", "severity": "error", "message": "Role r is not allowed iam:PassRole on exec.", "remediation": "aws iam put-role-policy …"}
    warning = {"code": "OverlyBroadPermission", "severity": "warning", "message": "broad", "remediation": "narrow"}
    status, message = health(obj([cond("Ready", "False", "PassRoleMissing"), cond("Stalled", "True", "PassRoleMissing", "…")], [warning, finding]))
    assert status == "Degraded"
    assert message == "PassRoleMissing: Role r is not allowed iam:PassRole on exec. Fix: aws iam put-role-policy …"


def test_stalled_without_findings_uses_the_condition(health):
    status, message = health(obj([cond("Ready", "False", "InvalidSpec"), cond("Stalled", "True", "InvalidSpec", "spec.role: remove it")]))
    assert (status, message) == ("Degraded", "InvalidSpec: spec.role: remove it")


def test_everything_else_is_progressing(health):
    assert health(copy.deepcopy(BASE))[0] == "Progressing", "no status yet"
    retrying = obj([cond("Ready", "False", "AwsError", "throttled"), cond("Reconciling", "True", "AwsError"), cond("Stalled", "False", "AwsError")])
    assert health(retrying) == ("Progressing", "AwsError: throttled")
    stale = obj([cond("Ready", "True", "Converged")], observed=1)
    assert health(stale) == ("Progressing", "Waiting for the controller to observe generation 2"), "a Ready from an older generation does not count"


def test_the_argocd_configmap_carries_the_same_script(root):
    cm = yaml.safe_load((root / "gitops" / "argocd" / "argocd-cm.yaml").read_text())
    script = cm["data"]["resource.customizations.health.eventbridge.dev_EventBridgeIntegration"]
    assert script.strip() == (root / "gitops" / "argocd" / "health.lua").read_text().strip()
