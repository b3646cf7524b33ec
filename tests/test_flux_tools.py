"""The Flux lowering's output, checked with the real tools.

For every fleet of `fleet_fixtures.VARIANTS` the repository (charts by the Helm lowering,
the rest by `repository_files`) is written to a temporary directory once per module, as
`flux bootstrap` would leave it: bootstrap's gotk-components.yaml is stood in for by the
Namespace it starts with (the controllers themselves are not needed to build the tree).

- `kubectl kustomize` builds every directory that has a kustomization.yaml.
- Each cluster is built as kustomize-controller builds it: clusters/<cluster>, then the
  path of every Flux Kustomization found there (with its targetNamespace applied); every
  HelmRelease is rendered by `helm template` from the chart its source points at, with the
  HelmRelease's values. Every Flux object passes the Flux CRD schemas (with CEL rules),
  every other object kubernetes-validate --strict, no object appears twice on a cluster,
  and the whole equals `render_cluster(include_flux=True)`.
- Charts pushed with `helm push` to a real OCI registry are found again through the
  OCIRepository / HelmRepository the lowering writes.
"""

from __future__ import annotations

import copy
import json
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import pytest
from e2e import ClusterBuild, Written, build_cluster, canonical, find, kustomize_all, object_id, write_bootstrap_stand_ins
from fleet_fixtures import VARIANTS, overlays_fleet, shop_fleet, write_shop_root
from helm_fixtures import write_chart

import realtools as rt
from gop.compiler.lower.flux import render_cluster, repository_files
from gop.compiler.emit.yaml import dump_yaml
from gop.compiler.lower.helm import chart_version

Doc = dict[str, Any]
# (variant, cluster) pairs built end to end: every cluster of the example, and in each other
# variant the clusters with a cluster-level patch.
END_TO_END = [("shop", cluster) for cluster in sorted(shop_fleet(Path(".")).clusters)] + [
    ("shop-git-tenant", "prod-eu-1"), ("shop-git-tenant", "staging-cn-1"),
    ("shop-helmrepository", "prod-cn-1"), ("shop-helmrepository", "dev-us-1")] + [
    ("overlays", cluster) for cluster in ("eu-1", "eu-2", "cn-1", "cn-2", "cn-3")]


def write_repository(fleet, tree: Path) -> dict[str, str]:
    files = repository_files(fleet)
    for path, text in files.items():
        (tree / path).parent.mkdir(parents=True, exist_ok=True)
        (tree / path).write_text(text, encoding="utf-8")
    for app in fleet.apps.values():
        write_chart(app, tree / "charts")
    write_bootstrap_stand_ins(tree, fleet.clusters)
    return files


@pytest.fixture(scope="module")
def written(tmp_path_factory) -> dict[str, Written]:
    root = write_shop_root(tmp_path_factory.mktemp("program"))
    fleets = {name: shop_fleet(root, **options) for name, options in VARIANTS.items()}
    fleets["overlays"] = overlays_fleet(tmp_path_factory.mktemp("overlays-program"))
    out = {}
    for name, fleet in fleets.items():
        tree = tmp_path_factory.mktemp(name)
        files = write_repository(fleet, tree)
        out[name] = Written(fleet, tree, files, kustomize_all(tree, files))
    return out


# ---------------------------------------------------------------- every kustomization builds

@pytest.mark.parametrize("variant", sorted(VARIANTS))
def test_every_kustomization_directory_builds_and_validates(written, variant):
    builds = written[variant].builds
    assert any(d.startswith("apps/base/") for d in builds) and any(d.startswith("clusters/") for d in builds)
    for directory, docs in builds.items():
        ids = [object_id(doc) for doc in docs]
        assert len(ids) == len(set(ids)), f"{directory} builds an object twice"
    everything = [json.loads(text) for text in set(canonical([doc for docs in builds.values() for doc in docs]))]
    assert rt.flux_validate([doc for doc in everything if rt.is_flux_doc(doc)]) > len(written[variant].fleet.apps)
    core = [{key: value for key, value in doc.items() if key != "sops"} for doc in everything if not rt.is_flux_doc(doc)]
    assert rt.kubernetes_validate_strict(core) == len(core)
    base_release = [d for d in builds["apps/base/checkout"] if d["kind"] == "HelmRelease"]
    assert len(base_release) == 1 and base_release[0]["metadata"]["namespace"] == written[variant].fleet.apps[
        "checkout"].namespace


# ---------------------------------------------------------------- clusters end to end

@pytest.fixture(scope="module")
def cluster_builds(written, tmp_path_factory) -> dict[tuple[str, str], ClusterBuild]:
    def build(pair):
        variant, cluster = pair
        return build_cluster(written[variant], cluster, tmp_path_factory.mktemp(f"{variant}-{cluster}"))

    with ThreadPoolExecutor(max_workers=3) as pool:
        return dict(zip(END_TO_END, pool.map(build, END_TO_END)))


@pytest.mark.parametrize("variant,cluster", END_TO_END)
def test_cluster_build_equals_render(written, cluster_builds, variant, cluster):
    fleet = written[variant].fleet
    build = cluster_builds[variant, cluster]
    assert set(build.layers) == {"infrastructure", "apps"}
    releases = sorted(d["metadata"]["name"] for d in build.everything if d["kind"] == "HelmRelease")
    assert releases == sorted(fleet.clusters[cluster].instances)
    assert canonical(build.everything) == canonical(render_cluster(fleet, cluster, include_flux=True))


@pytest.mark.parametrize("variant,cluster", END_TO_END)
def test_cluster_objects_validate(written, cluster_builds, variant, cluster):
    everything = cluster_builds[variant, cluster].everything
    ids = [object_id(doc) for doc in everything]
    assert len(ids) == len(set(ids)), "an object is applied twice on the cluster"
    flux = [doc for doc in everything if rt.is_flux_doc(doc)]
    # at least the sync's GitRepository and Kustomization, infrastructure, apps and a HelmRelease per app
    assert rt.flux_validate(flux) >= 4 + len(written[variant].fleet.clusters[cluster].instances)
    core = []
    for doc in everything:
        if not rt.is_flux_doc(doc):
            core.append(copy.deepcopy(doc))
            core[-1].pop("sops", None)  # kustomize-controller decrypts and drops the SOPS metadata
    assert rt.kubernetes_validate_strict(core) == len(core)


def test_effective_values_reach_the_cluster(cluster_builds):
    """Layering reaches the objects: env (prod replicas 6), cluster override (prod-eu-1
    checkout 8), selector overlay (cn ingress class) and the app layer (staging cart 2)."""
    def deployment(cluster, name):
        return find(cluster_builds["shop", cluster].rendered, "Deployment", name, "shop")

    assert deployment("prod-eu-1", "checkout")["spec"]["replicas"] == 8
    assert deployment("prod-us-1", "checkout")["spec"]["replicas"] == 6
    assert deployment("staging-eu-1", "cart")["spec"]["replicas"] == 2
    ingress = find(cluster_builds["shop", "prod-cn-1"].rendered, "Ingress", "web", "shop")
    assert ingress["spec"]["ingressClassName"] == "nginx-cn"
    recommendations = [d for d in cluster_builds["shop", "prod-cn-1"].rendered if d["metadata"]["name"] == "recommendations"]
    assert recommendations == []


def test_selector_overlay_values_reach_the_cluster(cluster_builds):
    """The overlays' components and the clusters' own patches, as kustomize and helm apply them:
    an overlay's `all` (cn replicas 5), its `app` block beating another's `all` (gold api 4), a
    cluster beating an overlay (cn-2 web 1), a record an overlay makes present (gold autoscaling),
    map entries merged (cn-3 api env), and an overlay setting what the env set (cn worker 5)."""
    def rendered(cluster, kind, name):
        return find(cluster_builds["overlays", cluster].rendered, kind, name, name)

    def release(cluster, name):
        return find(cluster_builds["overlays", cluster].everything, "HelmRelease", name, name)

    assert [rendered(c, "Deployment", "api")["spec"]["replicas"] for c in ("eu-1", "cn-1", "cn-3")] == [2, 5, 5]
    assert rendered("cn-1", "Deployment", "worker")["spec"]["replicas"] == 5
    # with autoscaling on, the Deployment leaves replicas to the autoscaler: the release still says them
    assert [release("cn-2", name)["spec"]["values"]["replicas"] for name in ("api", "web", "worker")] == [4, 1, 5]
    assert rendered("cn-1", "Ingress", "web")["spec"]["ingressClassName"] == "nginx-cn"
    assert rendered("eu-1", "Ingress", "web")["spec"]["ingressClassName"] == "nginx"
    for cluster in ("eu-2", "cn-2"):
        assert {name: rendered(cluster, "HorizontalPodAutoscaler", name)["spec"]["maxReplicas"]
                for name in ("api", "web", "worker")} == {"api": 9, "web": 9, "worker": 9}
    (container,) = rendered("cn-3", "Deployment", "api")["spec"]["template"]["spec"]["containers"]
    assert {item["name"]: item["value"] for item in container["env"]} == {"MODE": "cluster", "TIER": "silver"}
    assert release("cn-3", "web")["spec"]["dependsOn"] == [{"name": "api", "namespace": "api"}]


# ---------------------------------------------------------------- charts through a real registry

@pytest.mark.parametrize("oci_source", ["OCIRepository", "HelmRepository"])
def test_published_charts_are_found_through_the_chart_source(oci_registry, tmp_path, oci_source):
    root = write_shop_root(tmp_path / "program")
    fleet = shop_fleet(root, delivery={"ociSource": oci_source}, registry_url=oci_registry.url(f"charts-{oci_source.lower()}"))
    tree = tmp_path / "tree"
    write_repository(fleet, tree)
    for app in fleet.apps.values():
        rt.helm_push(rt.helm_package(tree / "charts" / app.name, tmp_path), oci_registry.url(f"charts-{oci_source.lower()}"))
    for app in fleet.apps.values():
        docs = rt.kubectl_kustomize(tree / "apps" / "base" / app.name)
        release = find(docs, "HelmRelease", app.name, app.namespace)
        if oci_source == "OCIRepository":
            source = find(docs, "OCIRepository", release["spec"]["chartRef"]["name"], app.namespace)
            chart, version = source["spec"]["url"], source["spec"]["ref"]["tag"]
        else:
            spec = release["spec"]["chart"]["spec"]
            source = find(docs, "HelmRepository", spec["sourceRef"]["name"], app.namespace)
            chart, version = f"{source['spec']['url']}/{spec['chart']}", spec["version"]
        assert version == chart_version(app)
        pulled = rt.helm_template(chart, release=app.name, namespace=app.namespace, version=version, plain_http=True)
        local = rt.helm_template(tree / "charts" / app.name, release=app.name, namespace=app.namespace)
        assert canonical(pulled) == canonical(local) and pulled


# ---------------------------------------------------------------- the YAML emitter against kustomize and helm

TRICKY_STRINGS = ["yes", "no", "on", "off", "y", "N", "true", "False", "null", "~", "", "0755", "0o17", "0x1F", "1_000",
                  "1e3", ".5", "+1", "12:30", "1.0", "2026-01-15", "*", "&a", "!tag", "- x", "? q", "# c", "a: b", "a #b",
                  "'quoted'", '"double"', "{x}", "[y]", "%p", "@at", "`tick`", "trailing ", " leading", "tab\there",
                  "line\nbreak", "ends with newline\n", "\u00e9t\u00e9", "emoji \U0001F680", "=", "<<", "{{ .Values }}"]
# kustomize writes these back plain: valid YAML that PyYAML (reading its output here) cannot construct.
PLAIN_AFTER_KUSTOMIZE = {"=", "<<"}


def test_strings_survive_kustomize_and_helm(tmp_path):
    """Every tricky string is still the same string after `kubectl kustomize` (kyaml) and
    after `helm template` read it as a values file (YAML 1.1 via sigs.k8s.io/yaml)."""
    data = {f"k{index}": text for index, text in enumerate(TRICKY_STRINGS)}
    readable = {key: text for key, text in data.items() if text not in PLAIN_AFTER_KUSTOMIZE}
    config_map = {"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "tricky"}, "data": readable}
    (tmp_path / "kustomize").mkdir()
    (tmp_path / "kustomize" / "configmap.yaml").write_text(dump_yaml([config_map]))
    (tmp_path / "kustomize" / "kustomization.yaml").write_text(
        dump_yaml([{"apiVersion": "kustomize.config.k8s.io/v1beta1", "kind": "Kustomization",
                    "resources": ["configmap.yaml"]}]))
    assert rt.kubectl_kustomize(tmp_path / "kustomize")[0]["data"] == readable

    chart = tmp_path / "chart"
    (chart / "templates").mkdir(parents=True)
    (chart / "Chart.yaml").write_text("apiVersion: v2\nname: tricky\nversion: 0.1.0\n")
    (chart / "templates" / "values.yaml").write_text("data: {{ toJson .Values.data }}\n")
    values = tmp_path / "values.yaml"
    values.write_text(dump_yaml([{"data": data}]))
    assert rt.helm_template(chart, [values])[0]["data"] == data
