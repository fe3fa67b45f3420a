"""The CRD as users read it: `kubectl explain` on the local kube-apiserver (1.20) walks every
field of crds/ and must show its type, and for an object its fields. The API server publishes
a CRD to OpenAPI v2 (what `kubectl explain` reads) only as far as the schema allows: a field
marked `nullable` lost its type and its fields there. Also the printer columns of `kubectl get`."""
import concurrent.futures
import re
import subprocess
import time
import uuid

import pytest
import yaml

CRD_NAME = "eventbridgeintegrations.eventbridge.dev"
FIELD = re.compile(r"^   (\S+)\t<(.*?)>", re.M)


def kubectl(*args, check=True):
    return subprocess.run(["kubectl", *args], capture_output=True, text=True, check=check)


@pytest.fixture(scope="module")
def crd(root, kubeconfig):
    # The local API server is 1.20: the CRDs without CEL rules (crds/pre-1.25/).
    path = root / "crds" / "pre-1.25" / "eventbridge.dev.yaml"
    kubectl("apply", "--server-side", "--force-conflicts", "-f", str(path))
    kubectl("wait", "--for=condition=Established", f"crd/{CRD_NAME}", "--timeout=30s")
    doc = next(d for d in yaml.safe_load_all(path.read_text()) if d["metadata"]["name"] == CRD_NAME)
    top = doc["spec"]["versions"][0]["schema"]["openAPIV3Schema"]["description"].split()[0:4]
    # The server publishes the schema to OpenAPI asynchronously: wait for this very CRD.
    deadline = time.time() + 60
    while True:
        out = kubectl("explain", "ebi", check=False)
        if out.returncode == 0 and " ".join(out.stdout.split()).find(" ".join(top)) >= 0:
            return doc
        assert time.time() < deadline, f"kubectl explain ebi never showed this CRD:\n{out.stdout}{out.stderr}"
        time.sleep(1)


def expected_type(schema):
    """What kubectl prints for a schema's type (kubectl's OpenAPI v2 type names)."""
    t = schema.get("type", "")
    if t == "object":
        if "properties" in schema or "additionalProperties" not in schema:
            return "Object"
        return "map[string]" + expected_type(schema["additionalProperties"])
    if t == "array":
        return "[]" + expected_type(schema["items"])
    return t


def paths(schema, prefix=()):
    """Every field of the schema, as `kubectl explain` addresses it (array items are
    addressed through the array's own name)."""
    for name, sub in sorted(schema.get("properties", {}).items()):
        yield prefix + (name,), sub
        inner = sub.get("items", sub) if sub.get("type") == "array" else sub
        yield from paths(inner, prefix + (name,))


def untyped_any_json(schema):
    return "type" not in schema and schema.get("x-kubernetes-preserve-unknown-fields") is True


def test_kubectl_explain_shows_every_field_with_its_type(crd):
    schema = crd["spec"]["versions"][0]["schema"]["openAPIV3Schema"]
    walk = [(("",), schema)] + list(paths(schema))

    def explain(item):
        path, sub = item
        resource = "ebi" + "".join("." + p for p in path if p)
        return resource, sub, kubectl("explain", resource, check=False)

    with concurrent.futures.ThreadPoolExecutor(8) as pool:
        results = list(pool.map(explain, walk))

    problems = []
    for resource, sub, out in results:
        if out.returncode != 0:
            problems.append(f"{resource}: kubectl explain failed: {out.stderr.strip()}")
            continue
        text = " ".join(out.stdout.split())
        if resource != "ebi" and not sub.get("description"):
            problems.append(f"{resource}: no description")
        elif resource != "ebi" and " ".join(sub["description"].split())[:60] not in text:
            problems.append(f"{resource}: kubectl explain does not show its description")
        inner = sub.get("items", sub) if sub.get("type") == "array" else sub
        if not inner.get("properties"):
            continue
        # An object: kubectl lists every field of the schema, each with the schema's type.
        listing = out.stdout.split("FIELDS:", 1)[1] if "FIELDS:" in out.stdout else ""
        shown = dict(FIELD.findall(listing))
        declared = set(inner["properties"]) | ({"apiVersion", "kind", "metadata"} if resource == "ebi" else set())
        if set(shown) != declared:
            problems.append(f"{resource}: fields {sorted(shown)}, schema has {sorted(declared)}")
        for name, field in inner["properties"].items():
            if name not in shown:
                continue
            if untyped_any_json(field):
                # Any JSON value (an object, array, string or number): no single type exists,
                # kubectl shows none, so the description must say so.
                if "any JSON value" not in " ".join(field.get("description", "").split()):
                    problems.append(f"{resource}.{name}: untyped, and its description does not say 'any JSON value'")
            elif shown[name] != expected_type(field):
                problems.append(f"{resource}.{name}: listed as <{shown[name]}>, schema says <{expected_type(field)}>")
    print(f"[figures] kubectl explain walked {len(results)} paths of the CRD")
    assert not problems, "\n".join(problems)


def test_top_level_description_is_a_real_one(crd):
    out = kubectl("explain", "ebi").stdout
    assert "Auto-generated" not in out
    assert "EventBridge" in out


def test_printer_columns(crd, root):
    ns = f"columns-{uuid.uuid4().hex[:6]}"
    kubectl("create", "namespace", ns)
    try:
        kubectl("apply", "-n", ns, "-f", str(root / "examples" / "stepfunctions.yaml"))
        plain = kubectl("get", "ebi", "-n", ns).stdout.splitlines()[0].split()
        wide = kubectl("get", "ebi", "-n", ns, "-o", "wide").stdout.splitlines()[0].split()
        assert plain == ["NAME", "READY", "REASON", "TARGET", "RULE", "AGE"], plain
        assert wide == plain + ["ROLE", "ACCOUNT"], wide
    finally:
        kubectl("delete", "namespace", ns, "--wait=false", check=False)
