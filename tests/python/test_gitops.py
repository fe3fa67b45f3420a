"""The GitOps documents in gitops/: Flux (GitRepository, HelmRelease, two Kustomizations) and
Argo CD (Application).

What is checked, and against what:
- every document against the upstream API schema of its kind (types, enums, required
  fields, patterns), from the npm packages @kubernetes-models/flux-cd and
  @kubernetes-models/argo-cd, which are generated from the Flux and Argo CD CRDs; a broken
  document is rejected by the same check. The Flux and Argo CD CRDs themselves are not
  installed on the test API server: no package registry reachable here ships them.
- that they fit together and fit this repository: references resolve, the chart path
  exists, and the values they pass install through the real Helm engine with the chart's
  values.schema.json;
- the settings the README promises: CRDs created and replaced on upgrade, `wait: true`
  (kstatus health checks), the integrations applied only after the controller."""
import json
import pathlib
import subprocess

import helm_python
import pytest
import yaml

ROOT = pathlib.Path(__file__).resolve().parents[2]
FLUX = ROOT / "gitops" / "flux"
ARGO = ROOT / "gitops" / "argocd"


def load(*files):
    return [d for f in files for d in yaml.safe_load_all(f.read_text()) if d]


def one(docs, kind, name=None):
    found = [d for d in docs if d["kind"] == kind and (name is None or d["metadata"]["name"] == name)]
    assert len(found) == 1, (kind, name, [(d["kind"], d["metadata"]["name"]) for d in docs])
    return found[0]


@pytest.fixture(scope="module")
def flux():
    return load(*sorted(FLUX.glob("*.yaml")))


@pytest.fixture(scope="module")
def application():
    return one(load(ARGO / "application.yaml"), "Application")


@pytest.fixture(scope="module")
def upstream_validate(root):
    got = subprocess.run([str(root / "hack" / "gitops-schemas.sh")], capture_output=True, text=True)
    if got.returncode == 3:
        pytest.skip(f"upstream Flux/Argo CD schemas unavailable: {got.stderr.strip()}")
    assert got.returncode == 0, got.stderr
    folder = got.stdout.strip()

    def validate(docs):
        out = subprocess.run(["node", str(root / "hack" / "gitops-validate.mjs"), folder],
                             input=json.dumps(docs), capture_output=True, text=True, check=True)
        return json.loads(out.stdout)
    return validate


def test_documents_match_the_upstream_schemas(flux, application, upstream_validate):
    docs = flux + [application]
    results = upstream_validate(docs)
    assert [r["error"] for r in results] == [None] * len(docs), results
    print(f"[figures] gitops documents valid against upstream schemas: {[(r['kind'], r['name']) for r in results]}")


def test_the_schema_check_rejects_a_broken_document(flux, application, upstream_validate):
    release = json.loads(json.dumps(one(flux, "HelmRelease")))
    release["spec"]["install"]["crds"] = "Replace"  # not a Flux CRD policy
    app = json.loads(json.dumps(application))
    del app["spec"]["destination"]["server"]
    app["spec"]["syncPolicy"]["retry"]["limit"] = "five"
    results = upstream_validate([release, app])
    assert "crds" in (results[0]["error"] or ""), results[0]
    assert "limit" in (results[1]["error"] or ""), results[1]


def test_flux_references_resolve_and_crds_are_kept_current(flux):
    repo = one(flux, "GitRepository")
    release = one(flux, "HelmRelease")
    chart = release["spec"]["chart"]["spec"]
    assert chart["sourceRef"] == {"kind": "GitRepository", "name": repo["metadata"]["name"]}
    assert release["metadata"]["namespace"] == repo["metadata"]["namespace"]
    assert (ROOT / chart["chart"]).joinpath("Chart.yaml").is_file()
    assert "!/charts/" in repo["spec"]["ignore"]
    # Helm alone never upgrades CRDs; Flux does with CreateReplace.
    assert release["spec"]["install"]["crds"] == "CreateReplace"
    assert release["spec"]["upgrade"]["crds"] == "CreateReplace"


def test_flux_kustomizations_wait_for_health_and_apply_integrations_after_the_controller(flux):
    controller = one(flux, "Kustomization", "eventbridge-integration-controller")
    integrations = one(flux, "Kustomization", "eventbridge-integrations")
    for k in (controller, integrations):
        assert k["spec"]["wait"] is True, "wait: true is what health-checks every object with kstatus"
        assert k["spec"]["prune"] is True and k["spec"]["timeout"]
    assert integrations["spec"]["dependsOn"] == [{"name": controller["metadata"]["name"]}]
    # kustomize reads a file named kustomization.yaml as its own configuration.
    assert not (FLUX / "kustomization.yaml").exists()


def render(values):
    chart = helm_python.Chart.load(str(ROOT / "charts" / "eventbridge-integration-controller"))
    try:
        out = chart.render(values, name="ebi", namespace="eventbridge-system")
    finally:
        chart.close()
    return [d for path, text in out.items() if not path.endswith("NOTES.txt") for d in yaml.safe_load_all(text) if d]


@pytest.mark.parametrize("source", ["flux", "argocd"])
def test_the_values_they_pass_render_with_the_chart(source, flux, application):
    values = one(flux, "HelmRelease")["spec"]["values"] if source == "flux" else application["spec"]["source"]["helm"]["valuesObject"]
    objects = render(values)  # the chart's values.schema.json rejects unknown or mistyped values
    deploy = one(objects, "Deployment")
    env = {e["name"]: e.get("value") for e in deploy["spec"]["template"]["spec"]["containers"][0]["env"]}
    assert env["AWS_REGION"] == values["aws"]["region"]
    account = one(objects, "ServiceAccount")
    assert account["metadata"]["annotations"] == values["serviceAccount"]["annotations"]


def test_argocd_application_points_at_the_chart(flux, application):
    spec = application["spec"]
    repo = one(flux, "GitRepository")
    assert spec["source"]["repoURL"] == repo["spec"]["url"]
    assert spec["source"]["targetRevision"] == repo["spec"]["ref"]["tag"]
    assert (ROOT / spec["source"]["path"] / "Chart.yaml").is_file()
    assert "ServerSideApply=true" in spec["syncPolicy"]["syncOptions"]
    assert "CreateNamespace=true" in spec["syncPolicy"]["syncOptions"]
    # The health of each EventBridgeIntegration comes from argocd-cm.yaml (test_argocd_health.py).
    cm = one(load(ARGO / "argocd-cm.yaml"), "ConfigMap")
    assert "resource.customizations.health.eventbridge.dev_EventBridgeIntegration" in cm["data"]
