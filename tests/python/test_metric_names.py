"""Every metric that the chart's alert rules, dashboard panels and dashboard variables name
is exported by the real controller binary: it runs against the local kube-apiserver and
moto, reconciles one integration (counter families appear with their first series), and its
/metrics is read."""
import re
import socket
import subprocess
import time
import urllib.request
import uuid

import pytest
import yaml

from test_monitoring import all_on, dashboard_of, rules_of


KEYWORDS = {"by", "without", "on", "ignoring", "group_left", "group_right", "and", "or",
            "unless", "bool", "offset", "inf", "nan"}


def metric_names(expr):
    """The series a PromQL expression reads: identifiers that are neither functions
    (followed by '('), keywords, label names (inside {} or by/without/on/ignoring lists),
    nor parts of numbers and durations."""
    e = re.sub(r'"(?:[^"\\]|\\.)*"', '""', expr)
    e = re.sub(r"\{[^{}]*\}", " ", e)
    e = re.sub(r"\[[^\]]*\]", " ", e)
    e = re.sub(r"\b(by|without|on|ignoring|group_left|group_right)\s*\([^)]*\)", " ", e)
    names = set()
    for m in re.finditer(r"(?<![\w.$])[a-zA-Z_:][a-zA-Z0-9_:]*", e):
        if m.group(0).lower() in KEYWORDS or e[m.end():].lstrip().startswith("("):
            continue
        names.add(m.group(0))
    return names


def test_metric_names_are_read_from_promql():
    assert metric_names('histogram_quantile(0.95, sum by (le) (rate(x_bucket{a="b{c}"}[$__rate_interval])))') == {"x_bucket"}
    assert metric_names("(max by (namespace, job) (up{job=\"a\"}) < 1)\nor\nabsent(y{job=\"a\"})") == {"up", "y"}
    assert metric_names("sum(a) / ignoring (result) group_left sum by (job) (b offset 5m) > 1e3") == {"a", "b"}
    assert metric_names("c_total") == {"c_total"}


def queries(chart_dir):
    """Every PromQL expression the chart ships: alert rules, dashboard panels and variables."""
    objects = all_on(chart_dir)
    out = [("alert " + r["alert"], r["expr"]) for r in rules_of(objects)]
    _, dashboard = dashboard_of(objects)
    out += [(f"panel {p['title']}", t["expr"]) for p in dashboard["panels"] for t in p["targets"]]
    for v in dashboard["templating"]["list"]:
        if v["type"] == "query":
            m = re.fullmatch(r"label_values\((.*),\s*\w+\)", v["query"]["query"])
            out.append((f"variable {v['name']}", m.group(1)))
    return out


def exported_names(text):
    """Sample names of a /metrics text: each family's (from its TYPE line: counters as
    NAME_total, histograms as NAME_bucket/_sum/_count), and each sample's."""
    suffixes = {"counter": ["_total"], "histogram": ["_bucket", "_sum", "_count"]}
    names = set()
    for line in text.splitlines():
        if line.startswith("# TYPE "):
            _, _, family, kind = line.split()
            names |= {family + s for s in suffixes.get(kind, [""])}
        elif line and not line.startswith("#"):
            names.add(re.match(r"[a-zA-Z_:][a-zA-Z0-9_:]*", line).group(0))
    return names


def kubectl(*args, input=None, check=True):
    return subprocess.run(["kubectl", *args], input=input, capture_output=True, text=True, check=check)


@pytest.fixture(scope="module")
def controller_binary(root):
    """The debug binary the Rust end-to-end tests run. Building an integration-test target
    has cargo build it as `make test`'s `cargo test` does (with the dev-dependencies'
    features, which `cargo build` would leave out, rebuilding most of the dependencies): after
    `make test`'s cargo step this is a no-op."""
    built = subprocess.run(["cargo", "test", "--locked", "--no-run", "--test", "simulate"],
                           cwd=root, capture_output=True, text=True)
    assert built.returncode == 0, built.stderr[-3000:]
    return root / "target" / "debug" / "eventbridge-integration-controller"


def scrape(port):
    try:
        with urllib.request.urlopen(f"http://127.0.0.1:{port}/metrics", timeout=2) as r:
            return r.read().decode()
    except OSError:
        return None


def test_every_metric_named_is_exported_by_the_controller(root, chart_dir, kubeconfig, controller_binary, tmp_path):
    """The real binary, against the local API server and moto, reconciles one integration
    (the counters' families appear with their first series), then its /metrics is read."""
    used = {}
    for where, expr in queries(chart_dir):
        for name in metric_names(expr):
            used.setdefault(name, []).append(where)
    assert used and all(n.startswith("ebi_") for n in used), used
    kubectl("apply", "--server-side", "--force-conflicts", "-f", str(root / "crds" / "pre-1.25"))
    kubectl("wait", "--for=condition=Established", "crd/eventbridgeintegrations.eventbridge.dev", "--timeout=30s")
    ns = f"monitoring-{uuid.uuid4().hex[:6]}"
    kubectl("create", "namespace", ns)
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    log = open(tmp_path / "controller.log", "w")
    proc = subprocess.Popen([str(controller_binary), "run", "--watch-namespace", ns, "--locations-namespace", ns,
                             "--metrics-addr", f"127.0.0.1:{port}", "--resync-interval", "30s",
                             "--policy-mode", "off"],
                            stdout=subprocess.DEVNULL, stderr=log)
    try:
        doc = yaml.safe_load((root / "examples" / "stepfunctions.yaml").read_text())
        doc["metadata"] = {"name": "metrics-names", "namespace": ns}
        kubectl("apply", "-f", "-", input=yaml.safe_dump(doc))
        deadline, text = time.time() + 60, None
        while time.time() < deadline:
            text = scrape(port)
            if text and "\nebi_reconciles_total{" in text and "\nebi_aws_calls_total{" in text:
                break
            time.sleep(0.5)
        assert text and "\nebi_reconciles_total{" in text, f"no reconciliation counted in 60 s:\n{text}\n" + \
            (tmp_path / "controller.log").read_text()[-3000:]
        exported = exported_names(text)
        missing = {n: w for n, w in used.items() if n not in exported}
        print(f"[figures] metric names in the chart's queries: {sorted(used)}")
        assert not missing, f"named in the chart, not on /metrics: {missing}"
        kubectl("delete", "ebi/metrics-names", "-n", ns, "--timeout=60s")
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            proc.kill()
        log.close()
        kubectl("delete", "namespace", ns, "--wait=false", check=False)
