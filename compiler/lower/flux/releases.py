"""Releases of charts gopc does not write (`release` declarations) as Flux objects.

Input: a `Fleet` (its `releases`, each cluster's release `Instance`s, each env's `unit_values`).
Output: the chart sources (`ChartSources`: one HelmRepository, OCIRepository or Git reference per
distinct repository, named once for the fleet), a release's base HelmRelease (`helm_release`), the
patch of one layer (`release_patch`), what selector overlays set as Kustomize Components
(`release_components`), and per cluster the releases it runs (`cluster_releases`), its own patch
of each (`cluster_patch`) and the namespaces gopc creates for them.

Where the objects live (docs/flux.md): a release's HelmRelease is in `flux-system`, named after the
declaration, installing into `targetNamespace` (= `storageNamespace`, so `helm ls -n NS` finds it);
its chart source is in `flux-system` too, shared by every release of that repository. So a
dependency names a release without a namespace, a layer that moves a release to another namespace
patches one field, and no reference crosses namespaces (a cluster running the controllers with
`--no-cross-namespace-refs` accepts them). Releases are the platform's, not a tenant's: they are
applied with Flux's own rights, never impersonating `delivery.serviceAccountName`.

Invariants:
- Layer by layer, the base HelmRelease < the env's patch < the overlays' components < the
  cluster's patch, merged as kustomize merges strategic-merge patches (maps key by key, lists
  whole, null deletes), give exactly the HelmRelease of the release's effective values on the
  cluster (`effective_release`; tests/test_releases.py holds kustomize to it).
- Source names are a function of the source's own settings, never of which clusters exist or of
  the hash seed: a name two different sources would share gets a hash of each one's settings.
"""

from __future__ import annotations

import hashlib
import re
from dataclasses import astuple, dataclass
from typing import Any

from gop.compiler.fleet.model import Fleet, Instance, UnitModel
from gop.compiler.fleet.checks.effective import SYSTEM_NAMESPACES
from gop.compiler.language import unit_key
from gop.compiler.values import merge, plain
from gop.compiler.values import patch as diff_patch
from gop.compiler.lower.flux.overlays import holds_paths, owned_parts
from gop.compiler.lower.flux import objects, tenants
from gop.compiler.lower.flux.objects import FLUX_NAMESPACE, HELM_API, HELM_CHART_LAYER, SOURCE_API
from gop.compiler.lower.kinds import GIT_REPOSITORY, HELM_RELEASE, HELM_REPOSITORY, OCI_REPOSITORY

_EXACT_VERSION = re.compile(r"v?\d+\.\d+\.\d+(-[0-9A-Za-z.-]+)?(\+[0-9A-Za-z.-]+)?")
_NAME_LIMIT = 63


@dataclass(frozen=True, slots=True, order=True)
class SourceKey:
    """A chart source's settings: equal keys are one object."""

    kind: str  # HelmRepository | OCIRepository
    url: str
    oci: bool  # a HelmRepository of type oci
    interval: str
    secret: str  # "" when none
    version: str  # an OCIRepository's ref (its tag or range); "" otherwise


def source_key(fleet: Fleet, chart: dict[str, Any]) -> SourceKey | None:
    """The source of an effective `chart` block; None for a chart in a Git source."""
    repository = chart.get("repository")
    if not repository:
        return None
    chart = plain(chart)
    interval, secret = chart["interval"], chart.get("secretName") or ""
    if not repository.startswith("oci://"):
        return SourceKey(HELM_REPOSITORY, repository, False, interval, secret, "")
    base = repository.rstrip("/")
    if fleet.delivery.values["ociSource"] == OCI_REPOSITORY:
        return SourceKey(OCI_REPOSITORY, f"{base}/{chart['name']}", False, interval, secret, chart.get("version") or "")
    return SourceKey(HELM_REPOSITORY, base, True, interval, secret, "")


class ChartSources:
    """Every chart source of the fleet's releases, named once (see the module's invariants)."""

    def __init__(self, fleet: Fleet) -> None:
        self.fleet = fleet
        keys = {key for chart in _every_chart(fleet) if (key := source_key(fleet, chart)) is not None}
        by_name: dict[str, list[SourceKey]] = {}
        for key in sorted(keys):
            by_name.setdefault(_base_name(key), []).append(key)
        self.names: dict[SourceKey, str] = {}
        for name, shared in by_name.items():
            for key in shared:
                self.names[key] = name if len(shared) == 1 else _with_hash(name, key)

    def objects(self, keys: set[SourceKey]) -> list[dict[str, Any]]:
        """The source objects of `keys`, sorted by kind and name."""
        return [self._object(key) for key in sorted(keys, key=lambda key: (key.kind, self.names[key]))]

    def _object(self, key: SourceKey) -> dict[str, Any]:
        spec: dict[str, Any] = {"interval": key.interval}
        if key.kind == OCI_REPOSITORY:
            ref = {"tag": key.version} if _EXACT_VERSION.fullmatch(key.version) else {"semver": key.version or "*"}
            spec.update(url=key.url, ref=ref, layerSelector={"mediaType": HELM_CHART_LAYER, "operation": "copy"})
        else:
            if key.oci:
                spec["type"] = "oci"
            spec["url"] = key.url
        if key.secret:
            spec["secretRef"] = {"name": key.secret}
        return objects.kube_object(SOURCE_API, key.kind, self.names[key], FLUX_NAMESPACE, spec)

    def chart_reference(self, chart: dict[str, Any]) -> dict[str, Any]:
        """The HelmRelease `chart` or `chartRef` of an effective `chart` block."""
        key = source_key(self.fleet, chart)
        if key is not None and key.kind == OCI_REPOSITORY:
            return {"chartRef": {"kind": OCI_REPOSITORY, "name": self.names[key], "namespace": FLUX_NAMESPACE}}
        if key is None:
            git = objects.git_repository_name(self.fleet, chart["git"].name)
            spec = {"chart": chart["path"], "sourceRef": {"kind": GIT_REPOSITORY, "name": git, "namespace": FLUX_NAMESPACE}}
        else:
            spec = {"chart": chart["name"]}
            if chart.get("version"):
                spec["version"] = chart["version"]
            spec["sourceRef"] = {"kind": HELM_REPOSITORY, "name": self.names[key], "namespace": FLUX_NAMESPACE}
        spec["interval"] = str(chart["interval"])
        return {"chart": {"spec": spec}}


def _every_chart(fleet: Fleet):
    """The effective `chart` of every release at every layer of the tree (base, env, cluster)."""
    for name, release in fleet.releases.items():
        yield release.base["chart"]
        for env in fleet.envs.values():
            tree = env.unit_values.get(unit_key("release", name))
            if tree and "chart" in tree:
                yield merge(release.base, tree)["chart"]
    for cluster in fleet.clusters.values():
        for instance in cluster.releases.values():
            yield instance.values["chart"]


def _base_name(key: SourceKey) -> str:
    """A HelmRepository after its URL (`charts.jetstack.io` -> `charts-jetstack-io`), an
    OCIRepository after its chart."""
    text = key.url.rsplit("/", 1)[-1] if key.kind == OCI_REPOSITORY else key.url.split("://", 1)[-1]
    name = re.sub(r"[^a-z0-9]+", "-", text.lower()).strip("-") or "charts"
    return name if len(name) <= _NAME_LIMIT else _with_hash(name, key)


def _with_hash(name: str, key: SourceKey) -> str:
    digest = hashlib.sha256(repr(astuple(key)).encode()).hexdigest()[:8]
    return f"{name[:_NAME_LIMIT - 9].rstrip('-')}-{digest}"


# ---------------------------------------------------------------- HelmReleases

def release_namespace(release: str, values: dict[str, Any]) -> str:
    return values.get("namespace") or release


def release_name(release: str, values: dict[str, Any]) -> str:
    """The Helm release name (Flux's default, `<targetNamespace>-<name>`, is never used)."""
    return values.get("releaseName") or release


def _with_defaults(fleet: Fleet, release: UnitModel) -> dict[str, Any]:
    """The declaration's values with what the base HelmRelease always states filled in."""
    delivery = fleet.delivery.values
    return {**release.base, "releaseName": release_name(release.name, release.base),
            "namespace": release_namespace(release.name, release.base),
            "interval": release.base.get("interval", delivery["interval"]),
            "timeout": release.base.get("timeout", delivery["timeout"])}


def helm_release(fleet: Fleet, sources: ChartSources, name: str) -> dict[str, Any]:
    """The base HelmRelease: releases/base/<release>/release.yaml."""
    tree = _with_defaults(fleet, fleet.releases[name])
    spec = _spec(sources, tree, base=True, chart=tree["chart"])
    account = tenants.release_account(fleet, name)
    if account:
        spec["serviceAccountName"] = account
    return _helm_release(name, spec)


def release_patch(sources: ChartSources, name: str, tree: dict[str, Any], chart: dict[str, Any] | None = None,
                  chart_before: dict[str, Any] | None = None) -> dict[str, Any] | None:
    """A strategic-merge patch of the release's HelmRelease with what one layer sets (`tree`); when
    it sets the `chart`: `chart` and `chart_before`, the effective chart with and without that
    layer. None when the layer sets nothing."""
    spec = _spec(sources, tree, base=False, chart=chart, chart_before=chart_before)
    return _helm_release(name, spec) if spec else None


def patch_target(name: str) -> dict[str, Any]:
    group, version = HELM_API.split("/")
    return {"group": group, "version": version, "kind": HELM_RELEASE, "name": name, "namespace": FLUX_NAMESPACE}


def _helm_release(name: str, spec: dict[str, Any]) -> dict[str, Any]:
    return objects.kube_object(HELM_API, HELM_RELEASE, name, FLUX_NAMESPACE, spec)


def _spec(sources: ChartSources, tree: dict[str, Any], *, base: bool, chart: dict[str, Any] | None,
          chart_before: dict[str, Any] | None = None) -> dict[str, Any]:
    """HelmRelease spec fields for what `tree` (a release's values: the base's whole, or what one
    layer sets) sets."""
    spec: dict[str, Any] = {}
    if "releaseName" in tree:
        spec["releaseName"] = tree["releaseName"]
    if "namespace" in tree:
        spec["targetNamespace"] = spec["storageNamespace"] = tree["namespace"]
    if "chart" in tree:
        reference = sources.chart_reference(chart)
        if not base and chart_before is not None:
            for other in set(sources.chart_reference(chart_before)) - set(reference):
                reference[other] = None  # a strategic-merge patch deletes what it sets to null
        spec.update(reference)
    for field in ("interval", "timeout"):
        if field in tree:
            spec[field] = str(tree[field])
    if "install" in tree:
        spec["install"] = _action(tree["install"], {"crds": "crds", "createNamespace": "createNamespace"}, {})
    if "upgrade" in tree:
        spec["upgrade"] = _action(tree["upgrade"], {"crds": "crds"}, {"remediation": "strategy"})
    if "test" in tree:
        spec["test"] = {"enable": tree["test"]["enable"]} if "enable" in tree["test"] else {}
    if "dependsOn" in tree and (tree["dependsOn"] or not base):  # the base leaves out none
        spec["dependsOn"] = [{"name": ref.name} for ref in tree["dependsOn"]]
    if tree.get("values"):
        spec["values"] = plain(tree["values"])
    return spec


def _action(settings: dict[str, Any], fields: dict[str, str], remediation: dict[str, str]) -> dict[str, Any]:
    """`install` or `upgrade` of a HelmRelease from the release's settings of that name."""
    out: dict[str, Any] = {target: settings[field] for field, target in fields.items() if field in settings}
    if "strategy" in settings:
        out["strategy"] = {"name": settings["strategy"]}
    fix = {target: settings[field] for field, target in (("retries", "retries"), *remediation.items()) if field in settings}
    if fix:
        out["remediation"] = fix
    return out


# ---------------------------------------------------------------- per cluster

@dataclass(frozen=True, slots=True)
class ClusterRelease:
    """One release on one cluster, as its layers of the tree carry it."""

    name: str
    instance: Instance
    env_values: dict[str, Any]  # releases/<env>/<release>/: what the env sets

    @property
    def values(self) -> dict[str, Any]:
        return self.instance.values

    @property
    def namespace(self) -> str:
        return release_namespace(self.name, self.values)


def cluster_releases(fleet: Fleet, cluster: str) -> list[ClusterRelease]:
    model = fleet.clusters[cluster]
    env = fleet.envs[model.env].unit_values if model.env in fleet.envs else {}
    return [ClusterRelease(name, instance, env.get(unit_key("release", name), {}))
            for name, instance in sorted(model.releases.items())]


def env_releases(fleet: Fleet, env: str) -> list[str]:
    """Releases deployed on at least one cluster of the env."""
    return sorted({name for cluster in fleet.envs[env].clusters for name in fleet.clusters[cluster].releases})


@dataclass(frozen=True, slots=True)
class ReleaseComponents:
    """What selector overlays set for releases, written once per overlay as a Kustomize Component
    (components/<overlay>/releases/) that the infrastructure stage of each cluster it selects lists."""

    trees: dict[str, dict[str, dict[str, Any]]]  # overlay -> release -> what its component patches in
    listed: dict[str, tuple[str, ...]]  # cluster -> the overlays whose component it lists, by name

    def layers(self, cluster: str, release: str) -> list[dict[str, Any]]:
        """The component trees that reach the release on the cluster, in the order kustomize applies them."""
        return [self.trees[overlay][release] for overlay in self.listed.get(cluster, ()) if release in self.trees[overlay]]


def release_components(fleet: Fleet) -> ReleaseComponents:
    """Each overlay's part of its releases' values (read off the instances' origins, as for apps),
    but never the `chart` (its reference depends on the env's chart too: the cluster's own patch
    carries it). A tree goes into the component only if every release it reaches on every cluster
    listing the component holds each path it sets, so the cluster's patch never has to take
    anything away; otherwise the cluster's own patch carries that overlay's part."""
    gathered: dict[tuple[str, str], dict[str, Any]] = {}
    for cluster in sorted(fleet.clusters):
        for name, instance in fleet.clusters[cluster].releases.items():
            for overlay, tree in owned_parts(instance).items():
                tree = {key: value for key, value in tree.items() if key != "chart"}
                if tree:
                    gathered[overlay, name] = merge(gathered.get((overlay, name), {}), tree)
    listed = _listing(fleet, gathered)
    kept = {(overlay, name): tree for (overlay, name), tree in gathered.items()
            if all(holds_paths(fleet.clusters[cluster].releases[name].values, tree) for cluster, overlays in listed.items()
                   if overlay in overlays and name in fleet.clusters[cluster].releases)}
    trees: dict[str, dict[str, dict[str, Any]]] = {}
    for (overlay, name), tree in sorted(kept.items()):
        trees.setdefault(overlay, {})[name] = tree
    return ReleaseComponents(trees, _listing(fleet, kept))


def _listing(fleet: Fleet, trees: dict[tuple[str, str], dict[str, Any]]) -> dict[str, tuple[str, ...]]:
    """cluster -> the overlays with a tree for a release it runs, among those that set anything on it."""
    listed: dict[str, set[str]] = {}
    for cluster in sorted(fleet.clusters):
        for name, instance in fleet.clusters[cluster].releases.items():
            for overlay in owned_parts(instance):
                if (overlay, name) in trees:
                    listed.setdefault(cluster, set()).add(overlay)
    return {cluster: tuple(sorted(overlays)) for cluster, overlays in sorted(listed.items())}


def env_patch(fleet: Fleet, sources: ChartSources, env: str, name: str) -> dict[str, Any] | None:
    base = fleet.releases[name].base
    tree = fleet.envs[env].unit_values.get(unit_key("release", name), {})
    return release_patch(sources, name, tree, merge(base, tree)["chart"], base["chart"])


def component_patches(sources: ChartSources, components: ReleaseComponents, overlay: str) -> dict[str, dict[str, Any]]:
    """release -> the HelmRelease patch of the overlay's component (which never sets the chart)."""
    return {name: patch for name, tree in components.trees[overlay].items()
            if (patch := release_patch(sources, name, tree)) is not None}


def cluster_patch(fleet: Fleet, sources: ChartSources, components: ReleaseComponents, cluster: str,
                  release: ClusterRelease) -> dict[str, Any] | None:
    """The cluster's own patch: whatever the env and the components leave to do, so that all of
    them give the release's effective values on the cluster."""
    composed = merge(fleet.releases[release.name].base, release.env_values)
    for layer in components.layers(cluster, release.name):
        composed = merge(composed, layer)
    return release_patch(sources, release.name, diff_patch(release.values, composed), release.values["chart"],
                         composed["chart"])


def effective_release(fleet: Fleet, sources: ChartSources, components: ReleaseComponents, cluster: str,
                      release: ClusterRelease) -> dict[str, Any]:
    """The HelmRelease as kustomize leaves it on the cluster: the base, the env's patch, the
    components' patches, the cluster's own."""
    patches = [env_patch(fleet, sources, release.instance.env, release.name)]
    patches += [release_patch(sources, release.name, tree) for tree in components.layers(cluster, release.name)]
    patches.append(cluster_patch(fleet, sources, components, cluster, release))
    doc = helm_release(fleet, sources, release.name)
    for patch in patches:
        if patch:
            doc = _apply_patch(doc, patch)
    return doc


def _apply_patch(doc: dict[str, Any], patch: dict[str, Any]) -> dict[str, Any]:
    """A strategic-merge patch of a custom resource: maps merge, lists are replaced, null deletes."""
    out = dict(doc)
    for key, value in patch.items():
        if value is None:
            out.pop(key, None)
        elif isinstance(value, dict) and isinstance(out.get(key), dict):
            out[key] = _apply_patch(out[key], value)
        else:
            out[key] = value
    return out


def cluster_sources(fleet: Fleet, sources: ChartSources, cluster: str) -> list[dict[str, Any]]:
    """The chart sources the cluster's releases read (in clusters/<cluster>/sources.yaml)."""
    keys = {key for release in fleet.clusters[cluster].releases.values()
            if (key := source_key(fleet, release.values["chart"])) is not None}
    return sources.objects(keys)


def created_namespaces(fleet: Fleet, cluster: str) -> list[str]:
    """The namespaces gopc creates for the cluster's releases: not a system namespace (Kubernetes
    and Flux have those) and not one Helm creates (`install.createNamespace`)."""
    return sorted({release_namespace(name, instance.values) for name, instance in fleet.clusters[cluster].releases.items()
                   if not instance.values["install"]["createNamespace"]
                   and release_namespace(name, instance.values) not in SYSTEM_NAMESPACES})
