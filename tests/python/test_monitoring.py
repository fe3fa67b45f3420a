"""The chart's monitoring: ServiceMonitor, PrometheusRule and Grafana dashboard, rendered
with every new value on and off through the real Helm engine (helm-python-sdk); the alert
rules checked and unit-tested with promtool (series in, alerts out:
alerts/rules_test.yaml); every alert's runbook in docs/operations.md. test_metric_names.py checks
the metrics they name against the real controller."""
import json
import os
import pathlib
import re
import subprocess
import time

import helm_python
import pytest
import yaml

from test_chart import find, render

HERE = pathlib.Path(__file__).resolve().parent
ALERTS = {  # values key → alert name
    "notReady": "EventBridgeIntegrationsNotReady",
    "accessDeniedFindings": "EventBridgeIntegrationAccessDeniedFindings",
    "notDelivering": "EventBridgeIntegrationsNotDelivering",
    "noLeader": "EventBridgeIntegrationControllerNoLeader",
    "controllerAccessDenied": "EventBridgeIntegrationControllerAccessDenied",
    "awsThrottling": "EventBridgeIntegrationControllerAwsThrottled",
    "reconcileErrors": "EventBridgeIntegrationControllerReconcileErrors",
}
RELEASE_SELECTOR = 'job="ebi-eventbridge-integration-controller-metrics", namespace="ops"'


def rules_of(objects):
    return [r for g in find(objects, "PrometheusRule")[0]["spec"]["groups"] for r in g["rules"]]


def dashboard_of(objects):
    cm = find(objects, "ConfigMap", "ebi-eventbridge-integration-controller-dashboard")[0]
    return cm, json.loads(cm["data"]["eventbridge-integration-controller.json"])


def all_on(chart_dir, extra=None):
    metrics = {"serviceMonitor": {"enabled": True}, "prometheusRule": {"enabled": True},
               "dashboard": {"enabled": True}}
    for k, v in (extra or {}).items():
        metrics[k].update(v)
    return render(chart_dir, {"metrics": metrics})


# --- Rendering, every value on and off -----------------------------------------------------

def test_monitoring_objects_are_off_by_default(chart_dir):
    objects = render(chart_dir)
    assert not [o for o in objects if o["kind"] in ("ServiceMonitor", "PrometheusRule")]
    assert not [o for o in objects if o["kind"] == "ConfigMap"], "no dashboard by default"


def test_lint_is_clean_with_every_monitoring_object_on(chart_dir):
    on = {"metrics": {k: {"enabled": True} for k in ("serviceMonitor", "prometheusRule", "dashboard")}}
    result = helm_python.lint(str(chart_dir), on, strict=True)
    assert result["errors"] == []
    assert [m for m in result["messages"] if m["severity"] > 1] == [], result["messages"]


def test_defaults_when_on(chart_dir):
    objects = all_on(chart_dir)
    monitor = find(objects, "ServiceMonitor")[0]
    assert monitor["spec"]["endpoints"][0]["port"] == "metrics"
    rule = find(objects, "PrometheusRule")[0]
    assert rule["metadata"]["namespace"] == "ops"
    rules = rules_of(objects)
    print("[figures] alerts:", [(r["alert"], r["for"], r["labels"]["severity"]) for r in rules])
    assert [r["alert"] for r in rules] == list(ALERTS.values())
    for r in rules:
        # The release's own series only: two releases in one cluster do not alert for each other.
        assert RELEASE_SELECTOR in r["expr"], r
        assert set(r["annotations"]) == {"summary", "description", "runbook_url"}
        assert r["annotations"]["runbook_url"].endswith("docs/operations.md#" + r["alert"].lower())
    by_name = {r["alert"]: r for r in rules}
    assert by_name["EventBridgeIntegrationsNotReady"]["for"] == "15m"
    assert by_name["EventBridgeIntegrationControllerNoLeader"]["labels"]["severity"] == "critical"
    assert 'code!~"OverlyBroadPermission|ConfusedDeputyUnprotected|DeliveryFailing"' in by_name["EventBridgeIntegrationAccessDeniedFindings"]["expr"]
    assert "[10m]" in by_name["EventBridgeIntegrationControllerAwsThrottled"]["expr"]
    assert "> 0.1" in by_name["EventBridgeIntegrationControllerReconcileErrors"]["expr"]
    cm, dashboard = dashboard_of(objects)
    assert cm["metadata"]["namespace"] == "ops"
    assert cm["metadata"]["labels"]["grafana_dashboard"] == "1", "the label Grafana's sidecar reads"
    assert "annotations" not in cm["metadata"]
    assert dashboard["uid"] == "ebi-controller"


def test_every_monitoring_value_set(chart_dir):
    objects = all_on(chart_dir, {
        "serviceMonitor": {"interval": "15s", "labels": {"release": "prometheus"}},
        "prometheusRule": {
            "labels": {"role": "alert-rules"}, "selector": 'job="ebi"', "rateWindow": "30m",
            "alertLabels": {"team": "platform"}, "runbookBaseUrl": "https://wiki.example/ebi#",
            "alerts": {"notReady": {"for": "1h", "severity": "ticket"},
                       "accessDeniedFindings": {"ignoredCodes": ["RuleDisabled"]},
                       "noLeader": {"for": "2m"},
                       "awsThrottling": {"ratio": 0.25},
                       "reconcileErrors": {"ratio": 0.5, "severity": "critical"}}},
        # Helm merges maps into the defaults: null drops the default sidecar label.
        "dashboard": {"labels": {"dashboards": "ebi", "grafana_dashboard": None}, "annotations": {"grafana_folder": "Controllers"},
                      "namespace": "monitoring"},
    })
    monitor = find(objects, "ServiceMonitor")[0]
    assert monitor["metadata"]["labels"]["release"] == "prometheus"
    assert monitor["spec"]["endpoints"][0]["interval"] == "15s"
    assert find(objects, "PrometheusRule")[0]["metadata"]["labels"]["role"] == "alert-rules"
    rules = {r["alert"]: r for r in rules_of(objects)}
    for r in rules.values():
        assert '{job="ebi", ' in r["expr"] or '{job="ebi"}' in r["expr"], r["expr"]
        assert RELEASE_SELECTOR not in r["expr"]
        assert r["labels"]["team"] == "platform"
        assert r["annotations"]["runbook_url"] == "https://wiki.example/ebi#" + r["alert"].lower()
    assert (rules["EventBridgeIntegrationsNotReady"]["for"], rules["EventBridgeIntegrationsNotReady"]["labels"]["severity"]) == ("1h", "ticket")
    assert "for 1h" in rules["EventBridgeIntegrationsNotReady"]["annotations"]["summary"]
    assert 'code!~"RuleDisabled"' in rules["EventBridgeIntegrationAccessDeniedFindings"]["expr"]
    assert rules["EventBridgeIntegrationControllerNoLeader"]["for"] == "2m"
    assert "[30m]" in rules["EventBridgeIntegrationControllerAccessDenied"]["expr"]
    assert rules["EventBridgeIntegrationControllerAwsThrottled"]["expr"].endswith("> 0.25")
    assert rules["EventBridgeIntegrationControllerReconcileErrors"]["expr"].endswith("> 0.5")
    assert rules["EventBridgeIntegrationControllerReconcileErrors"]["labels"]["severity"] == "critical"
    cm, _ = dashboard_of(objects)
    assert cm["metadata"]["namespace"] == "monitoring"
    assert cm["metadata"]["labels"]["dashboards"] == "ebi" and "grafana_dashboard" not in cm["metadata"]["labels"]
    assert cm["metadata"]["annotations"] == {"grafana_folder": "Controllers"}


@pytest.mark.parametrize("key", list(ALERTS))
def test_each_alert_can_be_turned_off(chart_dir, key):
    objects = all_on(chart_dir, {"prometheusRule": {"alerts": {key: {"enabled": False}}}})
    assert [r["alert"] for r in rules_of(objects)] == [a for k, a in ALERTS.items() if k != key]


def test_all_alerts_off_leaves_an_empty_group(chart_dir):
    objects = all_on(chart_dir, {"prometheusRule": {"alerts": {k: {"enabled": False} for k in ALERTS}}})
    assert rules_of(objects) == []


@pytest.mark.parametrize("metrics, complaint", [
    ({"prometheusRule": {"enabled": "yes"}}, "/metrics/prometheusRule/enabled"),
    ({"prometheusRule": {"rateWindow": "10 minutes"}}, "/metrics/prometheusRule/rateWindow"),
    ({"prometheusRule": {"selector": '{job="ebi"}'}}, "/metrics/prometheusRule/selector"),
    ({"prometheusRule": {"alertLabels": {"team-name": "platform"}}}, "'team-name' does not match"),
    ({"prometheusRule": {"alerts": {"notReady": {"for": "a while"}}}}, "/metrics/prometheusRule/alerts/notReady/for"),
    ({"prometheusRule": {"alerts": {"noLeader": {"severity": ""}}}}, "/metrics/prometheusRule/alerts/noLeader/severity"),
    ({"prometheusRule": {"alerts": {"awsThrottling": {"ratio": 0}}}}, "/metrics/prometheusRule/alerts/awsThrottling/ratio"),
    ({"prometheusRule": {"alerts": {"reconcileErrors": {"ratio": 2}}}}, "/metrics/prometheusRule/alerts/reconcileErrors/ratio"),
    ({"prometheusRule": {"alerts": {"accessDeniedFindings": {"ignoredCodes": ["A|B"]}}}}, "/metrics/prometheusRule/alerts/accessDeniedFindings/ignoredCodes/0"),
    ({"prometheusRule": {"alerts": {"deliveryFailing": {"enabled": True}}}}, "deliveryFailing"),
    ({"dashboard": {"namespace": "Monitoring"}}, "/metrics/dashboard/namespace"),
    ({"dashboard": {"labels": {"grafana_dashboard": 1}}}, "/metrics/dashboard/labels/grafana_dashboard"),
    ({"dashboard": {"folder": "x"}}, "folder"),
])
def test_schema_rejects_bad_monitoring_values(chart_dir, metrics, complaint):
    with pytest.raises(helm_python.HelmValuesError) as err:
        render(chart_dir, {"metrics": metrics})
    assert complaint in str(err.value), str(err.value)


# --- The dashboard ------------------------------------------------------------------------

def test_dashboard_panels(chart_dir):
    _, dashboard = dashboard_of(all_on(chart_dir))
    panels = dashboard["panels"]
    titles = [p["title"] for p in panels]
    print("[figures] dashboard panels:", titles)
    for wanted in ["Readiness over time", "Findings by code", "AWS calls by service and outcome",
                   "AWS throttles by service", "Reconcile latency", "Queue depth of the gate"]:
        assert wanted in titles
    assert len(set(titles)) == len(titles)
    assert len({p["id"] for p in panels}) == len(panels)
    # Sidecar-loaded dashboards get no import prompt: the data source is a variable.
    variables = {v["name"]: v for v in dashboard["templating"]["list"]}
    assert variables["datasource"]["type"] == "datasource" and variables["datasource"]["query"] == "prometheus"
    cells = set()
    for p in panels:
        assert p["datasource"]["uid"] == "${datasource}", p["title"]
        assert p["description"] and p["targets"], p["title"]
        for t in p["targets"]:
            assert 'namespace="$namespace", job=~"$job"' in t["expr"], (p["title"], t["expr"])
        g = p["gridPos"]
        assert g["x"] + g["w"] <= 24, p["title"]
        mine = {(x, y) for x in range(g["x"], g["x"] + g["w"]) for y in range(g["y"], g["y"] + g["h"])}
        assert not cells & mine, f"{p['title']} overlaps another panel"
        cells |= mine


def test_dashboard_configmap_is_accepted_by_the_api_server(chart_dir, kubeconfig):
    cm, _ = dashboard_of(all_on(chart_dir))
    cm["metadata"]["namespace"] = "default"
    got = subprocess.run(["kubectl", "create", "--dry-run=server", "-o", "name", "-f", "-"],
                         input=json.dumps(cm), capture_output=True, text=True)
    assert got.returncode == 0, got.stderr


# --- promtool: the rules are valid, and fire when (and only when) they should --------------

@pytest.fixture(scope="module")
def promtool(root):
    path = os.environ.get("EBI_PROMTOOL")
    if not path:
        got = subprocess.run([str(root / "hack" / "install-promtool.sh")], capture_output=True, text=True)
        if got.returncode == 3:
            pytest.skip(f"promtool unavailable here: {got.stderr.strip()}")
        assert got.returncode == 0, got.stderr
        path = got.stdout.strip().splitlines()[-1]
    version = subprocess.run([path, "--version"], capture_output=True, text=True).stdout.splitlines()[0]
    print(f"[figures] {version}")
    return path


def test_install_promtool_takes_the_machines_own_first(root, tmp_path):
    """A promtool on PATH (or $PROMTOOL) is used as is: nothing is fetched, nothing cached."""
    script = str(root / "hack" / "install-promtool.sh")
    own = tmp_path / "bin" / "promtool"
    own.parent.mkdir()
    own.write_text("#!/bin/sh\n")
    own.chmod(0o755)
    env = {"PATH": f"{own.parent}:/usr/bin:/bin", "HOME": str(tmp_path / "home")}
    got = subprocess.run([script], env=env, capture_output=True, text=True)
    assert (got.returncode, got.stdout.strip()) == (0, str(own)), got.stderr
    got = subprocess.run([script], env={**env, "PROMTOOL": "/bin/true"}, capture_output=True, text=True)
    assert got.stdout.strip() == "/bin/true"
    got = subprocess.run([script], env={**env, "PROMTOOL": str(tmp_path / "none")}, capture_output=True, text=True)
    assert got.returncode == 3 and "not an executable" in got.stderr
    assert not (tmp_path / "home").exists(), "nothing cached"


def rule_file(chart_dir, tmp_path, prometheus_rule):
    objects = render(chart_dir, {"metrics": {"prometheusRule": {"enabled": True, **prometheus_rule}}})
    path = tmp_path / "rules.yaml"
    # What the Prometheus Operator hands Prometheus: the PrometheusRule's spec.
    path.write_text(yaml.safe_dump(find(objects, "PrometheusRule")[0]["spec"], sort_keys=False))
    return path


def unit_tests(rules, tmp_path):
    spec = yaml.safe_load((HERE / "alerts" / "rules_test.yaml").read_text())
    spec["rule_files"] = [str(rules)]
    path = tmp_path / f"{rules.stem}_test.yaml"
    path.write_text(yaml.safe_dump(spec, sort_keys=False))
    return spec, path


def test_promtool_checks_the_rendered_rules(chart_dir, tmp_path, promtool):
    got = subprocess.run([promtool, "check", "rules", str(rule_file(chart_dir, tmp_path, {}))],
                         capture_output=True, text=True)
    assert got.returncode == 0, got.stdout + got.stderr
    assert f"SUCCESS: {len(ALERTS)} rules found" in got.stdout, got.stdout


def test_promtool_unit_tests_every_alert(chart_dir, tmp_path, promtool):
    spec, tests = unit_tests(rule_file(chart_dir, tmp_path, {}), tmp_path)
    started = time.time()
    got = subprocess.run([promtool, "test", "rules", str(tests)], capture_output=True, text=True)
    assert got.returncode == 0, got.stdout + got.stderr
    fire, quiet = set(), set()
    for case in spec["tests"]:
        for check in case["alert_rule_test"]:
            (fire if check["exp_alerts"] else quiet).add(check["alertname"])
    print(f"[figures] promtool test rules: {len(spec['tests'])} cases in {time.time() - started:.1f} s")
    assert fire == quiet == set(ALERTS.values()), "each alert has a firing and a quiet case"


def test_the_quiet_cases_sit_close_to_the_thresholds(chart_dir, tmp_path, promtool):
    """With shorter for-durations, lower ratios and no ignored codes, every case where no
    alert is expected fails: each one tests a threshold, not an input nothing would alert on."""
    loose = {"alerts": {"notReady": {"for": "5m"}, "notDelivering": {"for": "5m"},
                        "accessDeniedFindings": {"for": "1m", "ignoredCodes": []},
                        "noLeader": {"for": "1m"}, "controllerAccessDenied": {"for": "1m"},
                        "awsThrottling": {"ratio": 0.01}, "reconcileErrors": {"ratio": 0.001}}}
    spec, tests = unit_tests(rule_file(chart_dir, tmp_path, loose), tmp_path)
    got = subprocess.run([promtool, "test", "rules", str(tests)], capture_output=True, text=True)
    failed = set(re.findall(r"name: (.*?),\n", got.stdout + got.stderr))
    quiet = {c["name"] for c in spec["tests"] if not any(ch["exp_alerts"] for ch in c["alert_rule_test"])}
    assert quiet and quiet <= failed, f"quiet cases that still pass with loose rules: {quiet - failed}"


# --- The runbooks (docs/operations.md) -------------------------------------------------------

def test_every_alert_has_a_runbook_in_the_readme(root, chart_dir):
    readme = (root / "docs" / "operations.md").read_text()
    section = readme.split("\n### Alerts and runbooks\n", 1)[1].split("\n## ", 1)[0]
    runbooks = dict(re.findall(r"\n#### (\w+)\n(.*?)(?=\n#### |\Z)", section, re.S))
    for r in rules_of(all_on(chart_dir)):
        text = runbooks.get(r["alert"])
        assert text, f"no runbook for {r['alert']}"
        for part in ("Means", "First checks", "Fix"):
            assert f"**{part}" in text, (r["alert"], part)
    assert set(runbooks) == set(ALERTS.values()), "a runbook for an alert the chart lacks"
