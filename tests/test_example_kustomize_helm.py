"""examples/kustomize-helm (fluxcd/flux2-kustomize-helm-example in .gop) works with the real tools.

For every cluster of the example (staging, production):
- `gopc check` reports nothing and `gopc fmt --check` passes;
- `gopc build` writes a tree whose stage paths `kubectl kustomize` builds; every Flux object passes
  the Flux schemas, every core object kubernetes-validate strict, the ClusterIssuer, GatewayClass
  and Gateway the schemas of their CRDs (cert-manager's from crds/, Gateway API's from the vendored
  gateway-helm package);
- the stages depend on each other as upstream's Kustomizations do, and each HelmRelease kustomize
  builds has the values, chart version and issuer server the .gop layers give;
- `helm template` of each vendored package with the built HelmRelease's values, release name and
  namespace is, object by object, what `gopc render` shows; the chart objects pass strict validation;
- `gopc chart add` from a local Helm repository vendors podinfo as the example has it;
- the build is byte-identical under two PYTHONHASHSEEDs.
"""

from __future__ import annotations

import functools
import hashlib
import http.server
import json
import shutil
import subprocess
import sys
import threading
from pathlib import Path

import jsonschema
import pytest
import yaml
from e2e import BOOTSTRAP_STAND_IN, canonical, object_id, write_bootstrap_stand_ins

import realtools as rt
from gop.compiler.lower.flux.render import release_objects, render_cluster
from gop.compiler.semantic.charts import read_lock
from gop.compiler.session import analyse

GOPC = Path(sys.executable).with_name("gopc")
EXAMPLE = rt.REPO_ROOT / "examples" / "kustomize-helm"
GATEWAY_API_CRDS = EXAMPLE / "vendor/charts/gateway-helm/1.8.0/charts/crds/crds/gatewayapi-crds.yaml"
CERT_MANAGER_CRDS = EXAMPLE / "crds/cert-manager.yaml"
CLUSTERS = ("production", "staging")
STAGES = ("infra-controllers", "infra-configs", "apps")
RELEASES = {"cert-manager": "cert-manager", "envoy-gateway": "envoy-gateway-system", "podinfo": "podinfo"}
# the newest vendored version each release's range takes (both of podinfo's take 6.14.1)
PACKAGES = {"cert-manager": "cert-manager/1.19.0/cert-manager-1.19.0.tgz", "envoy-gateway": "gateway-helm/1.8.0/gateway-helm-1.8.0.tgz",
            "podinfo": "podinfo/6.14.1/podinfo-6.14.1.tgz"}
ACME = {"staging": "https://acme-staging-v02.api.letsencrypt.org/directory",
        "production": "https://acme-v02.api.letsencrypt.org/directory"}
CUSTOM_KINDS = {("cert-manager.io", "ClusterIssuer"), ("gateway.networking.k8s.io", "GatewayClass"),
                ("gateway.networking.k8s.io", "Gateway")}


def gopc(*args, seed: str = "0", check: bool = True) -> subprocess.CompletedProcess:
    done = subprocess.run([str(GOPC), *map(str, args)], capture_output=True, text=True, timeout=300,
                          env={**rt.tool_env(), "PYTHONHASHSEED": seed, "GOPC_HELM": str(rt.helm_bin())},
                          stdin=subprocess.DEVNULL)
    assert "Traceback" not in done.stderr, done.stderr
    if check:
        assert done.returncode == 0, done.stdout + done.stderr
    return done


def digests(tree: Path) -> dict[str, str]:
    return {path.relative_to(tree).as_posix(): hashlib.sha256(path.read_bytes()).hexdigest()
            for path in sorted(tree.rglob("*")) if path.is_file()}


def group(doc: dict) -> str:
    return doc["apiVersion"].rpartition("/")[0]


@pytest.fixture(scope="module")
def analysis():
    analysis = analyse([EXAMPLE])
    assert [d.message for d in analysis.diagnostics] == []
    return analysis


@pytest.fixture(scope="module")
def rendered(analysis) -> dict[tuple[str, str], list[dict]]:
    """What `gopc render --cluster C --include-flux` shows, by (cluster, ""), and each release's chart objects
    (`gopc render --release`), by (cluster, release)."""
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("GOPC_HELM", str(rt.helm_bin()))
        shown = {(cluster, ""): render_cluster(analysis.fleet, cluster, include_flux=True, caches=analysis.lowering)
                 for cluster in CLUSTERS}
        shown.update({(cluster, name): release_objects(analysis.fleet, cluster, name, caches=analysis.lowering)
                      for cluster in CLUSTERS for name in RELEASES})
    return shown


@pytest.fixture(scope="module")
def tree(tmp_path_factory) -> tuple[Path, dict[str, str]]:
    """The tree `gopc build` writes (hash seed 1), its files' digests, then bootstrap's stand-ins."""
    out = tmp_path_factory.mktemp("kustomize-helm") / "tree"
    gopc("build", EXAMPLE, "-o", out, seed="1")
    written = digests(out)
    write_bootstrap_stand_ins(out, CLUSTERS)
    return out, written


@pytest.fixture(scope="module")
def built(tree) -> dict[tuple[str, str], list[dict]]:
    """`kubectl kustomize` of clusters/<c> (bootstrap's stand-in dropped) and of each stage path, by (cluster, stage);
    the cluster's own directory under stage ""."""
    root = tree[0]
    builds = {}
    for cluster in CLUSTERS:
        builds[cluster, ""] = [doc for doc in rt.kubectl_kustomize(root / "clusters" / cluster) if doc != BOOTSTRAP_STAND_IN]
        for stage in STAGES:
            builds[cluster, stage] = rt.kubectl_kustomize(root / "clusters" / cluster / stage)
    return builds


def helm_releases(built, cluster: str) -> dict[str, dict]:
    return {doc["metadata"]["name"]: doc for stage in STAGES for doc in built[cluster, stage] if doc["kind"] == "HelmRelease"}


@pytest.fixture(scope="module")
def templated(built, tmp_path_factory) -> dict[tuple[str, str], list[dict]]:
    """`helm template` of each release's vendored package with its built HelmRelease, by (cluster, release);
    each distinct run once."""
    scratch = tmp_path_factory.mktemp("values")
    runs: dict[tuple, list[dict]] = {}
    out = {}
    for cluster in CLUSTERS:
        for name, release in sorted(helm_releases(built, cluster).items()):
            spec = release["spec"]
            package = EXAMPLE / "vendor" / "charts" / PACKAGES[name]
            flags = ["--skip-tests"] + (["--include-crds"] if spec["install"].get("crds") != "Skip" else [])
            values = json.dumps(spec.get("values", {}), sort_keys=True)
            key = (str(package), values, spec["releaseName"], spec["targetNamespace"], tuple(flags))
            if key not in runs:
                values_file = scratch / f"values-{len(runs)}.json"
                values_file.write_text(values, encoding="utf-8")
                runs[key] = rt.helm_template(package, [values_file], release=spec["releaseName"],
                                             namespace=spec["targetNamespace"], extra_args=flags)
            out[cluster, name] = runs[key]
    assert len(runs) == 4  # podinfo's values differ per cluster; the controllers' do not
    return out


def test_check_is_clean_and_the_example_is_formatted():
    done = gopc("check", EXAMPLE)
    assert (done.stdout, done.stderr) == ("", "")
    done = gopc("fmt", "--check", EXAMPLE, check=False)
    assert done.returncode == 0, done.stdout + done.stderr


def test_every_stage_path_builds_with_what_upstream_applies_there(built):
    for cluster in CLUSTERS:
        applied = {stage: sorted((doc["kind"], doc["metadata"]["name"]) for doc in built[cluster, stage]) for stage in STAGES}
        crds = sorted(("CustomResourceDefinition", doc["metadata"]["name"]) for doc in yaml.safe_load_all(CERT_MANAGER_CRDS.read_text()))
        assert applied == {
            "infra-controllers": sorted([*crds, ("HelmRelease", "cert-manager"), ("HelmRelease", "envoy-gateway"),
                                         ("Namespace", "cert-manager"), ("Namespace", "envoy-gateway-system")]),
            "infra-configs": [("ClusterIssuer", "letsencrypt"), ("Gateway", "envoy"), ("GatewayClass", "envoy")],
            "apps": [("HelmRelease", "podinfo"), ("Namespace", "podinfo")]}, cluster
        namespaces = {doc["metadata"]["name"]: doc["metadata"].get("labels") for stage in STAGES
                      for doc in built[cluster, stage] if doc["kind"] == "Namespace"}
        assert namespaces == {"cert-manager": {"toolkit.fluxcd.io/tenant": "sre-team"},
                              "envoy-gateway-system": {"toolkit.fluxcd.io/tenant": "sre-team"},
                              "podinfo": {"toolkit.fluxcd.io/tenant": "dev-team"}}


def test_every_object_passes_its_schema(tree, built):
    root = tree[0]
    crd_schemas = {}
    for path in (CERT_MANAGER_CRDS, GATEWAY_API_CRDS):
        for crd in yaml.safe_load_all(path.read_text()):
            for version in crd["spec"]["versions"]:
                if version["served"]:
                    crd_schemas[f"{crd['spec']['group']}/{version['name']}", crd["spec"]["names"]["kind"]] = \
                        version["schema"]["openAPIV3Schema"]
    for cluster in CLUSTERS:
        files = [doc for path in sorted((root / "clusters" / cluster).glob("*.yaml"))
                 if path.name != "kustomization.yaml" for doc in rt.parse_docs(path.read_text())]
        docs = files + [doc for stage in ("", *STAGES) for doc in built[cluster, stage]]
        flux = [doc for doc in docs if rt.is_flux_doc(doc)]
        custom = [doc for doc in docs if (group(doc), doc["kind"]) in CUSTOM_KINDS]
        core = [doc for doc in docs if doc not in flux and doc not in custom]
        # the files' three sources and three stages, the same built with gotk-sync's two, the three releases
        assert rt.flux_validate(flux) == len(flux) == 6 + 2 + 6 + 3
        assert rt.kubernetes_validate_strict(core) == len(core) == 3 + 6  # namespaces and cert-manager's CRDs
        assert len(custom) == 3
        for doc in custom:
            jsonschema.validate(doc, crd_schemas[doc["apiVersion"], doc["kind"]])


def test_the_stages_depend_on_each_other_as_upstream_s_kustomizations(built):
    for cluster in CLUSTERS:
        stages = {doc["metadata"]["name"]: doc["spec"] for doc in built[cluster, ""] if doc["kind"] == "Kustomization"}
        assert {name: [d["name"] for d in spec.get("dependsOn", [])] for name, spec in stages.items()} == {
            "flux-system": [], "infra-controllers": [], "infra-configs": ["infra-controllers"], "apps": ["infra-configs"]}
        assert {name: (spec["path"], spec["interval"], spec["retryInterval"], spec["timeout"], spec["prune"], spec["wait"])
                for name, spec in stages.items() if name != "flux-system"} == {
            stage: (f"./clusters/{cluster}/{stage}", "1h", "2m", "5m", True, True) for stage in STAGES}


@pytest.mark.parametrize("cluster", CLUSTERS)
def test_the_helm_releases_have_the_values_of_the_gop_layers(built, cluster):
    releases = {name: release["spec"] for name, release in helm_releases(built, cluster).items()}
    assert set(releases) == set(RELEASES)
    for name, spec in releases.items():
        assert (spec["releaseName"], spec["targetNamespace"], spec["storageNamespace"]) == (name, RELEASES[name], RELEASES[name])
        assert spec["install"]["strategy"] == spec["upgrade"]["strategy"] == {"name": "RetryOnFailure"}
    assert releases["cert-manager"]["values"] == {"crds": {"enabled": False}, "config": {"enableGatewayAPI": True}}
    assert "values" not in releases["envoy-gateway"]
    assert (releases["cert-manager"]["interval"], releases["envoy-gateway"]["interval"], releases["podinfo"]["interval"]) == \
        ("12h", "12h", "50m")
    assert releases["cert-manager"]["chartRef"] == {"kind": "OCIRepository", "name": "cert-manager", "namespace": "flux-system"}
    assert releases["envoy-gateway"]["chartRef"] == {"kind": "OCIRepository", "name": "gateway-helm", "namespace": "flux-system"}
    podinfo = releases["podinfo"]
    assert podinfo["chart"]["spec"] == {
        "chart": "podinfo", "interval": "5m", "version": {"staging": ">=1.0.0-alpha", "production": ">=1.0.0"}[cluster],
        "sourceRef": {"kind": "HelmRepository", "name": "stefanprodan-github-io-podinfo", "namespace": "flux-system"}}
    assert podinfo["values"] == {
        "redis": {"enabled": True, "repository": "public.ecr.aws/docker/library/redis", "tag": "8.6.2"},
        "httpRoute": {"enabled": True, "hostnames": [f"podinfo.{cluster}"],
                      "parentRefs": [{"name": "envoy", "namespace": "envoy-gateway-system", "sectionName": "http"}],
                      "rules": [{"matches": [{"path": {"type": "PathPrefix", "value": "/"}}]}]}}
    assert podinfo.get("test") == ({"enable": False} if cluster == "staging" else None)
    sources = {doc["metadata"]["name"]: doc["spec"] for doc in built[cluster, ""] if doc["kind"] in ("HelmRepository", "OCIRepository")}
    assert sources == {
        "stefanprodan-github-io-podinfo": {"interval": "5m", "url": "https://stefanprodan.github.io/podinfo"},
        "cert-manager": {"interval": "24h", "url": "oci://quay.io/jetstack/charts/cert-manager", "ref": {"semver": "1.x"},
                         "layerSelector": {"mediaType": "application/vnd.cncf.helm.chart.content.v1.tar+gzip", "operation": "copy"}},
        "gateway-helm": {"interval": "24h", "url": "oci://docker.io/envoyproxy/gateway-helm", "ref": {"semver": ">= 1.8.0-rc.0"},
                         "layerSelector": {"mediaType": "application/vnd.cncf.helm.chart.content.v1.tar+gzip", "operation": "copy"}}}
    issuer = next(doc for doc in built[cluster, "infra-configs"] if doc["kind"] == "ClusterIssuer")
    assert issuer["spec"]["acme"] == {
        "email": "fluxcdbot@users.noreply.github.com", "server": ACME[cluster], "privateKeySecretRef": {"name": "letsencrypt"},
        "solvers": [{"http01": {"gatewayHTTPRoute": {"parentRefs": [
            {"name": "envoy", "namespace": "envoy-gateway-system", "kind": "Gateway"}]}}}]}
    gateway = next(doc for doc in built[cluster, "infra-configs"] if doc["kind"] == "Gateway")
    assert (gateway["metadata"]["namespace"], gateway["spec"]["gatewayClassName"]) == ("envoy-gateway-system", "envoy")


@pytest.mark.parametrize("cluster", CLUSTERS)
def test_render_is_helm_template_of_the_vendored_charts_object_by_object(rendered, built, templated, cluster):
    for name in RELEASES:
        expected = {object_id(doc): doc for doc in templated[cluster, name]}
        shown = {object_id(doc): doc for doc in rendered[cluster, name]}
        assert len(expected) == len(templated[cluster, name]) > 0
        assert sorted(shown) == sorted(expected), name
        for key, doc in expected.items():
            assert shown[key] == doc, (name, key)
    # the whole cluster: what kustomize applies in each stage, and the charts' objects
    applied = built[cluster, ""] + [doc for stage in STAGES for doc in built[cluster, stage]]
    charts = [doc for name in RELEASES for doc in templated[cluster, name]]
    assert canonical(rendered[cluster, ""]) == canonical(applied + charts)
    chart_of = {name: {doc["metadata"].get("labels", {}).get("helm.sh/chart") for doc in templated[cluster, name]} for name in RELEASES}
    assert {name: sorted(filter(None, labels))[-1] for name, labels in chart_of.items()} == {
        "cert-manager": "cert-manager-1.19.0", "envoy-gateway": "gateway-helm-1.8.0", "podinfo": "podinfo-6.14.1"}


@pytest.mark.parametrize("cluster", CLUSTERS)
def test_the_charts_objects_pass_kubernetes_validate_strict(templated, cluster):
    docs = [doc for name in RELEASES for doc in templated[cluster, name]]
    crds = [doc for doc in docs if doc["kind"] == "CustomResourceDefinition"]
    custom_groups = {crd["spec"]["group"] for crd in crds}
    core = [doc for doc in docs if doc not in crds and group(doc) not in custom_groups]
    assert rt.kubernetes_validate_strict(core) == len(core) > 20
    assert len(crds) > 10  # gateway-helm's Gateway API and Envoy Gateway CRDs (cert-manager's: crds.enabled = false)


def test_chart_add_vendors_podinfo_from_a_helm_repository_as_the_example_has_it(tmp_path):
    copy = tmp_path / "example"
    shutil.copytree(EXAMPLE, copy, ignore=shutil.ignore_patterns("vendor", "charts.lock"))
    served = tmp_path / "repository"
    served.mkdir()
    vendored = EXAMPLE / "vendor/charts/podinfo/6.14.1"
    shutil.copy(vendored / "podinfo-6.14.1.tgz", served)
    port = rt.free_port()
    rt.run_tool([rt.helm_bin(), "repo", "index", served, "--url", f"http://127.0.0.1:{port}"])
    server = http.server.ThreadingHTTPServer(
        ("127.0.0.1", port), functools.partial(http.server.SimpleHTTPRequestHandler, directory=str(served)))
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        gopc("chart", "add", f"http://127.0.0.1:{port}", "podinfo", "--version", "6.14.1", "--root", copy)
    finally:
        server.shutdown()
        server.server_close()
    added = copy / "vendor/charts/podinfo/6.14.1"
    assert digests(added) == digests(vendored)
    [entry] = read_lock(copy)
    [upstream] = [entry for entry in read_lock(EXAMPLE) if entry.chart == "podinfo"]
    assert (entry.repository, entry.chart, entry.version, entry.digest) == (
        f"http://127.0.0.1:{port}", "podinfo", "6.14.1", upstream.digest)


def test_the_build_is_byte_identical_under_two_hash_seeds(tree, tmp_path):
    out = tmp_path / "tree"
    gopc("build", EXAMPLE, "-o", out, seed="4242")
    assert digests(out) == tree[1] and len(tree[1]) > 50
