"""Proves each real-tool helper in realtools.py works, and that each one rejects bad input."""

from __future__ import annotations

import copy
import filecmp
import json
import os
import re
import shutil
import subprocess
import urllib.request
from pathlib import Path

import pytest
import yaml

import realtools as rt
from realtools import ToolError, ToolMissing, ValidationFailed

DEPLOYMENT = {
    "apiVersion": "apps/v1",
    "kind": "Deployment",
    "metadata": {"name": "web", "namespace": "shop"},
    "spec": {
        "replicas": 2,
        "selector": {"matchLabels": {"app": "web"}},
        "template": {
            "metadata": {"labels": {"app": "web"}},
            "spec": {"containers": [{"name": "web", "image": "nginx:1.27", "ports": [{"containerPort": 80}]}]},
        },
    },
}

HELMRELEASE_V2 = {
    "apiVersion": "helm.toolkit.fluxcd.io/v2",
    "kind": "HelmRelease",
    "metadata": {"name": "web", "namespace": "shop"},
    "spec": {
        "interval": "10m",
        "chart": {"spec": {"chart": "./charts/web", "sourceRef": {"kind": "GitRepository", "name": "flux-system",
                                                                    "namespace": "flux-system"}}},
        "values": {"replicaCount": 2},
    },
}


def write(path: Path, text: str) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text)
    return path


def by_kind(docs, kind):
    return [d for d in docs if d.get("kind") == kind]


@pytest.fixture(scope="module")
def starter_chart(tmp_path_factory) -> Path:
    """helm's own starter chart (`helm create web`)."""
    return rt.helm_create("web", tmp_path_factory.mktemp("charts"))


# ---------------------------------------------------------------- tool binaries

def test_tool_versions(helm, kubectl):
    helm_v = subprocess.run([helm, "version", "--short"], capture_output=True, text=True, check=True).stdout
    assert re.match(r"v4\.\d+\.\d+", helm_v), helm_v
    kc = subprocess.run([kubectl, "version", "--client"], capture_output=True, text=True, check=True).stdout
    assert re.search(r"Client Version: v1\.(3[5-9])\.", kc), kc
    assert re.search(r"Kustomize Version: v5\.", kc), kc


def test_missing_tool_is_an_error_not_a_skip(monkeypatch, tmp_path):
    monkeypatch.setattr(rt, "TOOLS_BIN", tmp_path)
    with pytest.raises(ToolMissing, match="make tools"):
        rt.helm_bin()
    with pytest.raises(ToolMissing):
        rt.kubectl_kustomize(tmp_path)


# ---------------------------------------------------------------- helm

def test_helm_lint_and_template_starter_chart(starter_chart, tmp_path):
    out = rt.helm_lint_strict(starter_chart)
    assert "0 chart(s) failed" in out

    values = write(tmp_path / "prod.yaml", "replicaCount: 3\nimage:\n  tag: '1.27'\n")
    docs = rt.helm_template(starter_chart, [values], release="shop", namespace="prod")
    (deploy,) = by_kind(docs, "Deployment")
    assert deploy["spec"]["replicas"] == 3
    assert deploy["metadata"]["name"] == "shop-web"
    assert deploy["spec"]["template"]["spec"]["containers"][0]["image"].endswith(":1.27")
    assert {d["kind"] for d in docs} >= {"Deployment", "Service", "ServiceAccount"}
    # the rendered chart is valid Kubernetes 1.35 in strict mode
    assert rt.kubernetes_validate_strict(docs) == len(docs)


def test_helm_lint_strict_rejects_values_violating_schema(starter_chart, tmp_path):
    chart = tmp_path / "web"
    shutil.copytree(starter_chart, chart)
    write(chart / "values.schema.json", json.dumps({
        "$schema": "https://json-schema.org/draft-07/schema#",
        "type": "object",
        "properties": {"replicaCount": {"type": "integer", "minimum": 1}},
    }))
    assert "0 chart(s) failed" in rt.helm_lint_strict(chart)
    bad = write(tmp_path / "bad.yaml", "replicaCount: three\n")
    with pytest.raises(ToolError, match="replicaCount") as exc:
        rt.helm_lint_strict(chart, [bad])
    assert exc.value.returncode != 0
    with pytest.raises(ToolError, match="replicaCount"):
        rt.helm_template(chart, [bad])


def test_helm_lint_strict_rejects_broken_template(starter_chart, tmp_path):
    chart = tmp_path / "web"
    shutil.copytree(starter_chart, chart)
    write(chart / "templates" / "broken.yaml", "kind: ConfigMap\ndata:\n  x: {{ .Values.image.repository \n")
    with pytest.raises(ToolError) as exc:
        rt.helm_lint_strict(chart)
    assert "broken.yaml" in str(exc.value)


def test_helm_lint_strict_fails_on_warnings(starter_chart, tmp_path, helm):
    chart = tmp_path / "web"
    shutil.copytree(starter_chart, chart)
    shutil.rmtree(chart / "templates")
    plain = subprocess.run([helm, "lint", chart], capture_output=True, text=True, env=rt.tool_env())
    assert plain.returncode == 0 and "[WARNING]" in plain.stdout  # a warning only...
    with pytest.raises(ToolError, match="templates/: directory does not exist"):
        rt.helm_lint_strict(chart)  # ...fails under --strict


# ---------------------------------------------------------------- kustomize

def test_kubectl_kustomize_overlay(tmp_path):
    write(tmp_path / "base" / "kustomization.yaml", "resources:\n- deploy.yaml\n")
    write(tmp_path / "base" / "deploy.yaml", yaml.safe_dump(DEPLOYMENT))
    write(tmp_path / "prod" / "kustomization.yaml",
          "resources:\n- ../base\nnamePrefix: prod-\npatches:\n- path: replicas.yaml\n")
    write(tmp_path / "prod" / "replicas.yaml",
          "apiVersion: apps/v1\nkind: Deployment\nmetadata:\n  name: web\n  namespace: shop\nspec:\n  replicas: 5\n")
    docs = rt.kubectl_kustomize(tmp_path / "prod")
    assert len(docs) == 1
    assert docs[0]["metadata"]["name"] == "prod-web"
    assert docs[0]["spec"]["replicas"] == 5
    assert rt.kubernetes_validate_strict(docs) == 1


def test_kubectl_kustomize_rejects_missing_resource(tmp_path):
    write(tmp_path / "kustomization.yaml", "resources:\n- nope.yaml\n")
    with pytest.raises(ToolError, match="nope.yaml"):
        rt.kubectl_kustomize(tmp_path)


# ---------------------------------------------------------------- kubernetes-validate

def test_kubernetes_validate_knows_target_version():
    versions = rt.kubernetes_versions()
    assert any(v.startswith(rt.K8S_VERSION + ".") for v in versions), versions


def test_kubernetes_validate_strict_accepts_valid_deployment():
    assert rt.kubernetes_validate_strict([DEPLOYMENT]) == 1


@pytest.mark.parametrize("mutate, expected", [
    (lambda d: d["spec"].update(replica=3), "'replica' was unexpected"),
    (lambda d: d["spec"]["template"]["spec"]["containers"][0].update(imagePullPolicys="Always"),
     "'imagePullPolicys' was unexpected"),
    (lambda d: d["spec"].update(replicas="2"), "is not of type 'integer'"),
    (lambda d: d["spec"].pop("selector"), "'selector' is a required property"),
])
def test_kubernetes_validate_strict_rejects(mutate, expected):
    bad = copy.deepcopy(DEPLOYMENT)
    mutate(bad)
    with pytest.raises(ValidationFailed) as exc:
        rt.kubernetes_validate_strict([DEPLOYMENT, bad])
    assert len(exc.value.errors) == 1
    assert expected in exc.value.errors[0]


def test_kubernetes_validate_strict_unknown_kind_is_failure():
    # kubernetes-validate's CLI only WARNs for a kind without schema; here it is an error.
    with pytest.raises(ValidationFailed, match="Couldn't find schema for kind HelmRelease"):
        rt.kubernetes_validate_strict([HELMRELEASE_V2])


# ---------------------------------------------------------------- Flux schemas

SAMPLES = rt.VENDORED_FLUX_SCHEMAS / "samples"


def _expects(path: Path) -> list[str]:
    return [ln.split("# expect:", 1)[1].strip() for ln in path.read_text().splitlines() if ln.startswith("# expect:")]


def test_flux_validate_accepts_valid():
    assert rt.flux_validate([HELMRELEASE_V2]) == 1
    valid = sorted((SAMPLES / "valid").glob("*.yaml"))
    assert len(valid) >= 10
    for path in valid:
        assert rt.flux_validate(rt.parse_docs(path.read_text())) >= 1, path.name


@pytest.mark.parametrize("path", sorted((SAMPLES / "invalid").glob("*.yaml")), ids=lambda p: p.name)
def test_flux_validate_rejects_invalid_samples(path):
    expects = _expects(path)
    assert expects
    with pytest.raises(ValidationFailed) as exc:
        rt.flux_validate(rt.parse_docs(path.read_text()))
    for want in expects:
        assert any(want in e for e in exc.value.errors), (want, exc.value.errors)


def test_flux_validate_rejects_removed_version_and_typo():
    old = copy.deepcopy(HELMRELEASE_V2)
    old["apiVersion"] = "helm.toolkit.fluxcd.io/v2beta1"
    with pytest.raises(ValidationFailed, match=r"no schema for apiVersion='helm.toolkit.fluxcd.io/v2beta1'"):
        rt.flux_validate([old])
    typo = copy.deepcopy(HELMRELEASE_V2)
    typo["spec"]["valuesFrom"] = {"kind": "ConfigMap"}  # must be a list
    typo["spec"]["intervall"] = "5m"
    with pytest.raises(ValidationFailed) as exc:
        rt.flux_validate([typo])
    assert any("'intervall' was unexpected" in e for e in exc.value.errors)
    assert any(".spec.valuesFrom" in e for e in exc.value.errors)


def test_flux_validate_non_flux_docs():
    with pytest.raises(ValidationFailed, match="no schema for apiVersion='apps/v1'"):
        rt.flux_validate([DEPLOYMENT])
    assert rt.flux_validate([DEPLOYMENT, HELMRELEASE_V2], allow_non_flux=True) == 1
    old = dict(HELMRELEASE_V2, apiVersion="helm.toolkit.fluxcd.io/v2beta2")
    with pytest.raises(ValidationFailed):  # a Flux group is never skipped
        rt.flux_validate([DEPLOYMENT, old], allow_non_flux=True)


def test_validate_manifests_routes_and_collects_all_errors():
    rt.validate_manifests([DEPLOYMENT, HELMRELEASE_V2])
    bad_deploy = copy.deepcopy(DEPLOYMENT)
    bad_deploy["spec"]["replica"] = 1
    bad_hr = dict(HELMRELEASE_V2, apiVersion="helm.toolkit.fluxcd.io/v2beta1")
    with pytest.raises(ValidationFailed) as exc:
        rt.validate_manifests([bad_deploy, bad_hr])
    assert len(exc.value.errors) == 2


def test_vendored_flux_schemas_match_shared():
    """The vendored copy must equal ../shared/schemas/flux (refresh: make vendor-flux-schemas)."""
    shared = rt.SHARED_FLUX_SCHEMAS
    if not shared.is_dir():
        if os.environ.get("CI"):
            pytest.fail(f"{shared} missing in CI")
        pytest.skip(f"{shared} not present (clone outside the project workspace)")
    vendored = rt.VENDORED_FLUX_SCHEMAS
    pairs = [("validate.py", "validate.py")]
    pairs += [(f"jsonschema/{p.name}", f"jsonschema/{p.name}") for p in (shared / "jsonschema").glob("*.json")]
    for sub in ("valid", "invalid"):
        pairs += [(f"samples/{sub}/{p.name}",) * 2 for p in (shared / "samples" / sub).glob("*.yaml")]
    stale = [a for a, b in pairs if not (vendored / b).is_file() or not filecmp.cmp(shared / a, vendored / b, False)]
    extra = {p.name for p in (vendored / "jsonschema").glob("*.json")} - {p.name for p in (shared / "jsonschema").glob("*.json")}
    assert not stale and not extra, f"vendored Flux schemas differ from {shared}: {stale + sorted(extra)}"


# ---------------------------------------------------------------- OCI registry

def _registry_json(registry, path):
    opener = urllib.request.build_opener(urllib.request.ProxyHandler({}))
    with opener.open(f"http://{registry.host}{path}", timeout=5) as resp:
        return json.load(resp)


def test_oci_registry_helm_push_and_template(oci_registry, starter_chart, tmp_path):
    chart = tmp_path / "tiny"
    shutil.copytree(starter_chart, chart)
    chart_yaml = (chart / "Chart.yaml").read_text()
    (chart / "Chart.yaml").write_text(chart_yaml.replace("name: web", "name: tiny").replace("version: 0.1.0", "version: 0.3.0"))
    tgz = rt.helm_package(chart, tmp_path)
    assert tgz.name == "tiny-0.3.0.tgz"

    out = rt.helm_push(tgz, oci_registry.url("charts"))
    assert f"{oci_registry.host}/charts/tiny:0.3.0" in out
    assert "charts/tiny" in _registry_json(oci_registry, "/v2/_catalog")["repositories"]
    assert _registry_json(oci_registry, "/v2/charts/tiny/tags/list")["tags"] == ["0.3.0"]

    docs = rt.helm_template(oci_registry.url("charts/tiny"), release="edge", namespace="shop",
                            version="0.3.0", plain_http=True, set_values={"replicaCount": "4"})
    (deploy,) = by_kind(docs, "Deployment")
    assert deploy["spec"]["replicas"] == 4
    assert deploy["metadata"]["labels"]["helm.sh/chart"] == "tiny-0.3.0"

    with pytest.raises(ToolError, match="0.9.9"):
        rt.helm_template(oci_registry.url("charts/tiny"), version="0.9.9", plain_http=True)
