"""The Helm chart, through the real Helm v4 engine (helm-python-sdk): lint, render with
default and non-default values, schema rejections, and an install into the local
kube-apiserver whose objects are then read back."""
import json
import subprocess
import uuid

import helm_python
import pytest
import yaml


def render(chart_dir, values=None, namespace="ops"):
    chart = helm_python.Chart.load(str(chart_dir))
    try:
        out = chart.render(values or {}, name="ebi", namespace=namespace)
    finally:
        chart.close()
    objects = []
    for path, text in out.items():
        if path.endswith("NOTES.txt"):
            continue
        objects += [d for d in yaml.safe_load_all(text) if d]
    return objects


def find(objects, kind, name=None):
    found = [o for o in objects if o["kind"] == kind and (name is None or o["metadata"]["name"] == name)]
    assert found, f"no {kind} {name or ''} in {[(o['kind'], o['metadata']['name']) for o in objects]}"
    return found


def test_lint_is_clean(chart_dir):
    result = helm_python.lint(str(chart_dir), strict=True)
    assert result["errors"] == []
    # Only INFO (severity 1) remains: Helm recommends an icon, which the project has none of.
    assert [m for m in result["messages"] if m["severity"] > 1] == [], result["messages"]


def test_chart_crds_are_the_project_crds(chart_dir, root):
    # The chart installs on every supported API server (>= 1.20), so it carries the CRDs
    # without their CEL rules; on >= 1.25, crds/ (with them) is applied over it (README).
    assert [p.name for p in (chart_dir / "crds").iterdir()] == ["eventbridge.dev.yaml"]
    assert (chart_dir / "crds" / "eventbridge.dev.yaml").read_text() == \
        (root / "crds" / "pre-1.25" / "eventbridge.dev.yaml").read_text(), \
        "charts/…/crds differs from crds/pre-1.25: make crd copies it"


def test_defaults_render_a_hardened_leader_elected_deployment(chart_dir):
    objects = render(chart_dir)
    kinds = sorted((o["kind"], o["metadata"]["name"]) for o in objects)
    print("[figures] rendered objects (defaults):", kinds)
    deploy = find(objects, "Deployment")[0]
    assert deploy["spec"]["replicas"] == 2
    pod = deploy["spec"]["template"]["spec"]
    assert pod["securityContext"]["runAsNonRoot"] is True
    assert pod["securityContext"]["seccompProfile"]["type"] == "RuntimeDefault"
    c = pod["containers"][0]
    sc = c["securityContext"]
    assert sc["readOnlyRootFilesystem"] is True and sc["allowPrivilegeEscalation"] is False
    assert sc["capabilities"]["drop"] == ["ALL"]
    assert c["resources"]["limits"]["memory"] and c["resources"]["requests"]["cpu"]
    assert c["livenessProbe"]["httpGet"]["path"] == "/healthz"
    assert c["readinessProbe"]["httpGet"]["path"] == "/readyz"
    assert "--leader-election" in c["args"]
    assert "--log-format=json" in c["args"]
    assert "--aws-operation-timeout=30s" in c["args"] and "--aws-attempt-timeout=10s" in c["args"]
    assert "--observe-delivery=true" in c["args"], "delivery is observed by default"
    assert "--drift-events=false" in c["args"], "drift events are off by default"
    assert not any(a.startswith("--delivery-window") for a in c["args"]), "the binary's default window"
    assert not any(a.startswith("--watch-namespace") for a in c["args"]), "all namespaces by default"
    env = {e["name"]: e for e in c["env"]}
    assert env["AWS_REGION"]["value"] == "us-east-1"
    assert env["POD_NAMESPACE"]["valueFrom"]["fieldRef"]["fieldPath"] == "metadata.namespace"
    assert find(objects, "PodDisruptionBudget")[0]["spec"]["minAvailable"] == 1
    rules = find(objects, "ClusterRole", "ebi-eventbridge-integration-controller")[0]["rules"]
    by_resource = {r["resources"][0]: set(r["verbs"]) for r in rules}
    assert by_resource["events"] == {"create", "patch"}, "the event recorder also patches"
    assert by_resource["eventbridgeintegrations/finalizers"] == {"update"}
    assert "patch" in by_resource["eventbridgeintegrations/status"]
    assert not any("*" in r["verbs"] or "*" in r["resources"] for r in rules), "no wildcards"
    lease_rules = find(objects, "Role", "ebi-eventbridge-integration-controller-leader-election")[0]["rules"]
    assert lease_rules[0]["resources"] == ["leases"]
    assert not [o for o in objects if o["kind"] in ("ServiceMonitor", "NetworkPolicy")], "optional objects are off by default"
    # Without controller.clusterId, the identity in owner tags is kube-system's UID: read
    # access to exactly that namespace.
    cluster_id = find(objects, "ClusterRole", "ebi-eventbridge-integration-controller-cluster-id")[0]["rules"]
    assert cluster_id == [{"apiGroups": [""], "resources": ["namespaces"], "resourceNames": ["kube-system"], "verbs": ["get"]}]
    assert not any(a.startswith("--cluster-id") for a in c["args"])
    assert "--max-concurrent-reconciles=8" in c["args"]
    # The places written to, for the orphan report, and the resync schedule's heartbeat: two
    # ConfigMaps of the release namespace, by name.
    locations = find(objects, "Role", "ebi-eventbridge-integration-controller-locations")[0]
    assert locations["metadata"]["namespace"] == "ops"
    assert locations["rules"] == [{"apiGroups": [""], "resources": ["configmaps"],
                                   "resourceNames": ["eventbridge-integration-controller-locations"],
                                   "verbs": ["create", "patch"]},
                                  {"apiGroups": [""], "resources": ["configmaps"],
                                   "resourceNames": ["eventbridge-integration-controller-schedule"],
                                   "verbs": ["get", "create", "patch"]},
                                  {"apiGroups": [""], "resources": ["configmaps"],
                                   "resourceNames": ["eventbridge-integration-controller-drift-events"],
                                   "verbs": ["get", "create", "patch"]}]
    binding = find(objects, "RoleBinding", "ebi-eventbridge-integration-controller-locations")[0]
    assert binding["roleRef"]["name"] == locations["metadata"]["name"]
    # Tenancy: enforced by default, no policy installed (nothing is permitted until one is
    # written), the policies and namespaces' labels read cluster-wide, no Secret readable.
    assert "--policy-mode=enforce" in c["args"]
    assert not [o for o in objects if o["kind"] == "EventBridgeIntegrationPolicy"]
    tenancy = find(objects, "ClusterRole", "ebi-eventbridge-integration-controller-tenancy")[0]["rules"]
    assert {r["resources"][0]: set(r["verbs"]) for r in tenancy} == {
        "eventbridgeintegrationpolicies": {"get", "list", "watch"},
        "eventbridgeintegrationpolicies/status": {"get", "patch"},
        "namespaces": {"list", "watch"},
    }
    assert not [o for o in objects if o["kind"] == "Role" and "external-ids" in o["metadata"]["name"]]


def test_policies_from_values_and_the_secrets_they_name(chart_dir):
    policy = {"name": "team-a", "spec": {
        "namespaceSelector": {"matchLabels": {"team": "a"}},
        "accounts": [{"accountId": "123456789012", "regions": ["us-east-1"]},
                     {"accountId": "210987654321", "provisioningRoleArn": "arn:aws:iam::210987654321:role/ebi-provisioner",
                      "externalIdSecretRef": {"name": "team-a-ext", "key": "externalId"}}],
        "eventBuses": ["default"], "targets": ["arn:aws:lambda:us-east-1:123456789012:function:team-a-*"],
        "permissionsBoundaryArn": "arn:aws:iam::123456789012:policy/team-a-boundary"}}
    objects = render(chart_dir, {"tenancy": {"policies": [policy], "externalIdSecrets": ["shared-ext"]}})
    rendered = find(objects, "EventBridgeIntegrationPolicy", "team-a")[0]
    assert rendered["spec"] == policy["spec"]
    assert "namespace" not in rendered["metadata"], "cluster-scoped"
    secrets = find(objects, "Role", "ebi-eventbridge-integration-controller-external-ids")[0]
    assert secrets["metadata"]["namespace"] == "ops"
    assert secrets["rules"] == [{"apiGroups": [""], "resources": ["secrets"],
                                 "resourceNames": ["shared-ext", "team-a-ext"], "verbs": ["get"]}]
    # Single-tenant: no policy is read, and the flag says so.
    off = render(chart_dir, {"tenancy": {"policyMode": "off"}})
    args = find(off, "Deployment")[0]["spec"]["template"]["spec"]["containers"][0]["args"]
    assert "--policy-mode=off" in args
    assert not [o for o in off if o["metadata"]["name"].endswith("-tenancy")]


def test_api_destination_secrets_are_read_by_name_only_and_only_when_allowed(chart_dir):
    def secret_rules(values):
        role = find(render(chart_dir, values), "ClusterRole", "ebi-eventbridge-integration-controller")[0]
        return [r for r in role["rules"] if "secrets" in r["resources"]]
    assert secret_rules({}) == [], "no Secret of a team's namespace is readable by default"
    assert secret_rules({"apiDestinations": {"readSecrets": True}}) == [
        {"apiGroups": [""], "resources": ["secrets"], "verbs": ["get"]}], "get by name: no list or watch of every Secret"


def test_non_default_values(chart_dir):
    values = {
        "replicaCount": 1,
        "serviceAccount": {"annotations": {"eks.amazonaws.com/role-arn": "arn:aws:iam::123456789012:role/ebi-controller"}},
        "aws": {"region": "eu-west-1"},
        "controller": {
            "resyncInterval": "5m",
            "clusterId": "prod-eu",
            "maxConcurrentReconciles": 4,
            "awsOperationTimeout": "2m",
            "awsAttemptTimeout": "45s",
            "observeDelivery": False,
            "deliveryWindow": "1h",
            "driftEvents": True,
            "awsRateLimits": {"lambda": 8, "iam": 5, "organizations": 1, "cloudwatch": 2},
            "organizationRoleArn": "arn:aws:iam::111111111111:role/organization-reader",
            "watchNamespaces": ["team-a", "team-b"],
            "guardrails": {"allowedAccountIds": ["123456789012", "210987654321"], "roleNamePrefix": "ebi-",
                           "rolePath": "/eventbridge/", "permissionsBoundaryArn": "arn:aws:iam::123456789012:policy/ebi-boundary"},
        },
        "logging": {"format": "text", "level": "debug"},
        "metrics": {"port": 9090, "serviceMonitor": {"enabled": True, "labels": {"release": "prometheus"}}},
        "networkPolicy": {"enabled": True},
    }
    objects = render(chart_dir, values)
    print("[figures] rendered objects (namespaced, 1 replica, monitors):", sorted((o["kind"], o["metadata"].get("namespace", ""), o["metadata"]["name"]) for o in objects))
    c = find(objects, "Deployment")[0]["spec"]["template"]["spec"]["containers"][0]
    args = c["args"]
    for expected in ["--resync-interval=5m", "--watch-namespace=team-a,team-b", "--allowed-account-ids=123456789012,210987654321",
                     "--role-name-prefix=ebi-", "--role-path=/eventbridge/", "--permissions-boundary-arn=arn:aws:iam::123456789012:policy/ebi-boundary",
                     "--metrics-addr=0.0.0.0:9090", "--log-format=text", "--log-level=debug",
                     "--cluster-id=prod-eu", "--max-concurrent-reconciles=4", "--aws-rate-limits=cloudwatch=2,iam=5,lambda=8,organizations=1",
                     "--organization-role-arn=arn:aws:iam::111111111111:role/organization-reader",
                     "--aws-operation-timeout=2m", "--aws-attempt-timeout=45s",
                     "--observe-delivery=false", "--delivery-window=1h", "--drift-events=true"]:
        assert expected in args, (expected, args)
    assert "--leader-election" not in args, "one replica needs no election"
    assert not [o for o in objects if o["kind"] == "PodDisruptionBudget"]
    # Policies are cluster-scoped: reading them (and namespaces' labels) is the only
    # cluster-wide grant left when the namespaces watched are listed.
    assert sorted(o["metadata"]["name"] for o in objects if o["kind"] in ("ClusterRole", "ClusterRoleBinding")) == [
        "ebi-eventbridge-integration-controller-tenancy", "ebi-eventbridge-integration-controller-tenancy"]
    roles = find(objects, "Role")
    assert sorted((r["metadata"]["namespace"], r["metadata"]["name"]) for r in roles) == [
        ("ops", "ebi-eventbridge-integration-controller-locations"),
        ("team-a", "ebi-eventbridge-integration-controller"),
        ("team-b", "ebi-eventbridge-integration-controller")]
    assert find(objects, "ServiceAccount")[0]["metadata"]["annotations"]["eks.amazonaws.com/role-arn"].endswith("role/ebi-controller")
    assert find(objects, "ServiceMonitor")[0]["metadata"]["labels"]["release"] == "prometheus"
    assert find(objects, "NetworkPolicy")[0]["spec"]["ingress"][0]["ports"][0]["port"] == "metrics"


@pytest.mark.parametrize("values, complaint", [
    ({"replicaCount": 0}, "/replicaCount"),
    ({"aws": {"region": "Europe"}}, "/aws/region"),
    ({"controller": {"resyncInterval": "10 minutes"}}, "/controller/resyncInterval"),
    ({"controller": {"guardrails": {"allowedAccountIds": ["12345"]}}}, "/controller/guardrails/allowedAccountIds/0"),
    ({"controller": {"guardrails": {"permissionsBoundaryArn": "boundary"}}}, "/controller/guardrails/permissionsBoundaryArn"),
    ({"controller": {"watchNamespaces": ["Team_A"]}}, "/controller/watchNamespaces/0"),
    ({"controller": {"organizationRoleArn": "organization-reader"}}, "/controller/organizationRoleArn"),
    ({"controller": {"awsRateLimits": {"organizations": 0}}}, "/controller/awsRateLimits/organizations"),
    ({"controller": {"awsOperationTimeout": "0s"}}, "/controller/awsOperationTimeout"),
    ({"controller": {"awsAttemptTimeout": "10"}}, "/controller/awsAttemptTimeout"),
    ({"controller": {"deliveryWindow": "30s"}}, "/controller/deliveryWindow"),
    ({"controller": {"observeDelivery": "yes"}}, "/controller/observeDelivery"),
    ({"controller": {"driftEvents": "on"}}, "/controller/driftEvents"),
    ({"logging": {"format": "xml"}}, "/logging/format"),
    ({"image": {"repository": "x", "pullPolicy": "Sometimes"}}, "/image/pullPolicy"),
    ({"replicas": 3}, "replicas"),
    ({"tenancy": {"policyMode": "audit"}}, "/tenancy/policyMode"),
    ({"tenancy": {"policies": [{"name": "p", "spec": {"targets": ["*"]}}]}}, "namespaceSelector"),
    ({"tenancy": {"policies": [{"name": "p", "spec": {"namespaceSelector": {}, "accounts": [{"accountId": "12"}]}}]}},
     "/tenancy/policies/0/spec/accounts/0/accountId"),
])
def test_schema_rejects_bad_values(chart_dir, values, complaint):
    with pytest.raises(helm_python.HelmValuesError) as err:
        render(chart_dir, values)
    assert complaint in str(err.value), str(err.value)


@pytest.mark.parametrize("operation, attempt, refused", [
    ("1m", "2m", True), ("1h", "61m", True), ("1h", "3600s", False), ("90s", "1m", False)])
def test_an_attempt_longer_than_its_operation_is_refused(chart_dir, operation, attempt, refused):
    values = {"controller": {"awsOperationTimeout": operation, "awsAttemptTimeout": attempt}}
    if not refused:
        args = find(render(chart_dir, values), "Deployment")[0]["spec"]["template"]["spec"]["containers"][0]["args"]
        assert f"--aws-attempt-timeout={attempt}" in args
        return
    # The binary would exit 2 on these; the chart says so at install time instead of a crash loop.
    with pytest.raises(helm_python.HelmError) as err:
        render(chart_dir, values)
    assert f"controller.awsAttemptTimeout ({attempt}) is longer than controller.awsOperationTimeout ({operation})" in str(err.value)


def test_two_writers_are_refused(chart_dir):
    with pytest.raises(helm_python.HelmError) as err:
        render(chart_dir, {"replicaCount": 2, "controller": {"leaderElection": {"enabled": False}}})
    assert "two writers" in str(err.value)
    with pytest.raises(helm_python.HelmError) as err:
        render(chart_dir, {"controller": {"leaderElection": {"leaseDurationSeconds": 5, "renewGraceSeconds": 5}}})
    assert "renewGraceSeconds must be below" in str(err.value)


def test_dead_letters_are_read_only_with_delivery_observed(chart_dir):
    args = find(render(chart_dir, {"controller": {"readDeadLetters": True}}), "Deployment")[0]["spec"]["template"]["spec"]["containers"][0]["args"]
    assert "--read-dead-letters=true" in args
    # The binary would exit 2: the chart refuses at install time instead of a crash loop.
    with pytest.raises(helm_python.HelmError) as err:
        render(chart_dir, {"controller": {"readDeadLetters": True, "observeDelivery": False}})
    assert "controller.readDeadLetters needs controller.observeDelivery" in str(err.value)


def kubectl(*args):
    return subprocess.run(["kubectl", *args], check=True, capture_output=True, text=True).stdout


def test_install_into_the_api_server(chart_dir, kubeconfig):
    """Every rendered object is accepted by the real API server."""
    ns = "ebi-helm-" + uuid.uuid4().hex[:6]
    config = helm_python.Config(kubeconfig_path=kubeconfig, namespace=ns)
    try:
        policy = {"name": ns, "spec": {"namespaceSelector": {"matchLabels": {"team": ns}},
                                      "accounts": [{"accountId": "123456789012", "externalIdSecretRef": {"name": "ext", "key": "id"}}]}}
        release = config.install(str(chart_dir), "ebi", {"networkPolicy": {"enabled": True}, "tenancy": {"policies": [policy]}},
                                 namespace=ns, create_namespace=True)
        manifest_kinds = sorted({d["kind"] for d in yaml.safe_load_all(release["manifest"] if isinstance(release, dict) else release.manifest) if d})
        print("[figures] installed kinds:", manifest_kinds)
        deploy = json.loads(kubectl("get", "deployment", "-n", ns, "ebi-eventbridge-integration-controller", "-o", "json"))
        assert deploy["spec"]["replicas"] == 2
        assert deploy["spec"]["template"]["spec"]["containers"][0]["securityContext"]["readOnlyRootFilesystem"] is True
        pdb = json.loads(kubectl("get", "pdb", "-n", ns, "-o", "json"))["items"]
        assert len(pdb) == 1
        assert kubectl("get", "clusterrole", "ebi-eventbridge-integration-controller", "-o", "name")
        assert kubectl("get", "networkpolicy", "-n", ns, "-o", "name")
        assert kubectl("get", "serviceaccount", "-n", ns, "ebi-eventbridge-integration-controller", "-o", "name")
        assert kubectl("get", "crd", "eventbridgeintegrations.eventbridge.dev", "-o", "name")
        # The bound service account may do what the controller does, and no more.
        who = f"system:serviceaccount:{ns}:ebi-eventbridge-integration-controller"
        def can(*a):
            return subprocess.run(["kubectl", "auth", "can-i", *a, "--as", who], capture_output=True, text=True).stdout.strip()
        assert can("patch", "eventbridgeintegrations.eventbridge.dev/status", "-n", "default") == "yes"
        assert can("create", "events.events.k8s.io", "-n", "default") == "yes"
        assert can("patch", "leases.coordination.k8s.io", "-n", ns) == "yes"
        assert can("delete", "eventbridgeintegrations.eventbridge.dev", "-n", "default") == "no"
        assert can("get", "secrets", "-n", "default") == "no"
        assert can("get", "namespace/kube-system") == "yes", "the default cluster identity"
        assert can("get", "namespace/default") == "no"
        # Tenancy: policies and namespaces' labels read, the one Secret a policy names.
        assert can("watch", "eventbridgeintegrationpolicies.eventbridge.dev") == "yes"
        assert can("patch", "eventbridgeintegrationpolicies.eventbridge.dev", "--subresource=status") == "yes"
        assert can("patch", "eventbridgeintegrationpolicies.eventbridge.dev") == "no"
        assert can("delete", "eventbridgeintegrationpolicies.eventbridge.dev") == "no"
        assert can("list", "namespaces") == "yes"
        assert can("get", "secret/ext", "-n", ns) == "yes"
        assert can("get", "secret/other", "-n", ns) == "no"
        assert json.loads(kubectl("get", "ebipolicy", ns, "-o", "json"))["spec"]["namespaceSelector"] == {"matchLabels": {"team": ns}}
        # The ConfigMap of places written to: created and updated with server-side apply as
        # the controller does (the create is authorized by name), no other ConfigMap.
        def apply_as(name, key):
            doc = json.dumps({"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": name}, "data": {key: "{}"}})
            return subprocess.run(["kubectl", "apply", "--server-side", "--field-manager", f"ebi.{key}", "-n", ns,
                                   "--as", who, "-f", "-"], input=doc, capture_output=True, text=True)
        for key in ("123456789012.us-east-1", "123456789012.us-west-2"):
            r = apply_as("eventbridge-integration-controller-locations", key)
            assert r.returncode == 0, r.stderr
        data = json.loads(kubectl("get", "configmap", "-n", ns, "eventbridge-integration-controller-locations", "-o", "json"))["data"]
        assert sorted(data) == ["123456789012.us-east-1", "123456789012.us-west-2"], "each key has its own manager"
        # The heartbeat: written the same way, and read back when a replica begins to lead.
        assert apply_as("eventbridge-integration-controller-schedule", "heartbeat.0a1b2c3d4e5f").returncode == 0
        assert can("get", "configmap/eventbridge-integration-controller-schedule", "-n", ns) == "yes"
        assert can("get", "configmap/eventbridge-integration-controller-locations", "-n", ns) == "no"
        assert apply_as("another", "x").returncode != 0
        assert can("get", "configmaps", "-n", ns) == "no"
        assert can("patch", "configmaps/eventbridge-integration-controller-locations", "-n", "default") == "no"
    finally:
        try:
            config.uninstall("ebi")
        except Exception:
            pass
        subprocess.run(["kubectl", "delete", "namespace", ns, "--wait=false"], capture_output=True)
        config.close()
