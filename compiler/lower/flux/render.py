"""Everything Flux would apply on one cluster, computed in-process (`gopc render --cluster`).

Input: a `Fleet`, a cluster name, and whether to include the Flux objects themselves.
Output: a list of Kubernetes objects (plain dicts) in the order Helm installs them
(`kinds.install_key`: Namespaces before what goes in them, Deployments after their ConfigMaps):
the namespaces (and tenant RBAC), the objects of `resource` declarations, the SOPS-encrypted
Secret manifests as they are in the repository, the ExternalSecrets of `external(...)` references, and the objects of
every app's chart rendered with the values the cluster's HelmRelease ends up with, as the
release `delivery.releaseName` names (else the app's name) and without its hooks, and the apps'
derived NetworkPolicies (`network`)
(chart values.yaml = `AppModel.base`, then the env patch, then the cluster patch, merged
as Helm and Kustomize merge them: maps key by key, lists whole), and every `release`'s vendored
chart templated by helm with the release's effective values (`charts`). With `include_flux`, also the GitRepository and Kustomizations of the sync,
the Kustomization of every delivery stage, each HelmRelease as the patches leave it (the
apps' and the releases'), the chart sources, notifications and image automation.

Two forms: `render_cluster` returns the objects; `ClusterRenderer(fleet).text(cluster)`
returns their YAML stream, byte for byte `emit.yaml.dump_all(render_cluster(...))` (`stream`: in
UTF-8, one bytes object for the clusters that list the same objects). A
renderer shares work between the clusters it renders: most clusters run an app with the
same env patch and cluster patch as other clusters (they share the env and the selector
overlays), so it keeps the text of each release's objects per (app, namespace, patches), the text
of every distinct object once (an app's Service is the same on every cluster: the chart's objects
that releases share are made once, `manifests.SharedObjects`, and their text found by identity; a
workload is shared by the releases whose patches differ only in fields no workload reads, such as
a cluster's own ingress host), and the install order of each distinct list
of objects (the clusters of an env under the same overlays share it), with its bytes when asked.

Invariants:
- Equal to building the repository as kustomize-controller does (`clusters/<cluster>`,
  then each Flux Kustomization's path) and rendering every HelmRelease with `helm
  template`, except for what Flux adds at run time (bootstrap's gotk-components.yaml,
  the decryption of secrets, and the ownership labels the controllers set).
- Reads the same selection (`plan`) and builders (`objects`) as the file tree.
- The renderer's keys are exact: the `repr` of plain data or of the model's values tells
  apart everything that prints differently (1, 1.0 and True; "100m" and "0.1" quantities,
  which compare equal), where `==` would not. It keeps only text, so nothing it hands out
  can be changed under it, and it keeps every patch it keyed by identity alive, so an id
  is never reused for another patch. The fleet must not change while a renderer is in use
  (no pass changes it after evaluation).
"""

from __future__ import annotations

import copy
from collections.abc import Sequence
from operator import itemgetter
from typing import Any

from gop.compiler.core.identity import by_identity
from gop.compiler.lower.helm import helm_template
from gop.compiler.lower.helm.parts import FLUX_ONLY_FIELDS, helm_values
from gop.compiler.lower.helm.manifests import NOT_WORKLOAD_FIELDS, SharedObjects, chart_values, helm_template_merged
from gop.compiler.fleet.model import AppModel, Fleet
from gop.compiler.values import merge, plain, plain_merge
from gop.compiler.lower.flux import objects, plan, releases, tenants
from gop.compiler.lower.flux.charts import chart_objects, cluster_chart_objects, render_ahead
from gop.compiler.lower.flux.caches import LoweringCaches, caches_for
from gop.compiler.lower.flux.errors import FluxLoweringError
from gop.compiler.lower.flux.secrets import cluster_external_secrets
from gop.compiler.emit.yaml import dump_yaml
from gop.compiler.lower.kinds import InstallKey, install_key
from gop.compiler.language import RELEASE_NAME, AppField

HELM_HOOK = "helm.sh/hook"  # the annotation of a chart's hooks (its `helm test` pod)

Piece = tuple[InstallKey, str]  # an object's sort key and its YAML text


def render_cluster(fleet: Fleet, cluster: str, *, include_flux: bool = False,
                   caches: LoweringCaches | None = None) -> list[dict[str, Any]]:
    caches = caches_for(fleet, caches)
    docs = infrastructure_objects(fleet, cluster, caches)
    policies = caches.network_policies()
    for release in plan.releases(fleet, cluster):
        if release.app.name in policies:
            docs += copy.deepcopy(policies[release.app.name])
        values = plain(release_values(release))
        docs += applied(helm_template(release.app, values, release_name=helm_release_name(release.app, values),
                                      namespace=release.namespace, caches=caches.helm))
    docs += cluster_chart_objects(fleet, releases.cluster_releases(fleet, cluster), caches.rendered_charts)
    if include_flux:
        docs += flux_objects(fleet, cluster, caches)
    return sorted(docs, key=install_key)


def helm_release_name(app: AppModel, values: dict[str, Any]) -> str:
    """The Helm release name of an app with these effective values (plain): `delivery.releaseName`, else its name."""
    return values.get(AppField.DELIVERY, {}).get(RELEASE_NAME) or app.name


def applied(docs: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """The objects Helm installs, without its hooks (a `helm test` pod runs only when tests run)."""
    return [doc for doc in docs if HELM_HOOK not in doc["metadata"].get("annotations", {})]


class ClusterRenderer:
    """The YAML text of clusters of one fleet; render as many clusters as you like with one."""

    def __init__(self, fleet: Fleet, caches: LoweringCaches | None = None) -> None:
        self.fleet = fleet
        self.caches = caches_for(fleet, caches)
        self._releases: dict[tuple[str, str, str, str], tuple[Piece, ...]] = {}  # (app, namespace, env patch, cluster patch) -> its objects
        self._policies: dict[str, tuple[Piece, ...]] = {}  # app name -> its NetworkPolicies
        self._texts: dict[str, str] = {}  # repr(object) -> its YAML text
        self._shared = SharedObjects()  # objects of the apps' charts made once for many releases
        self._shared_pieces: dict[int, Piece] = {}  # id(one of those objects) -> its piece
        self._chart_pieces: dict[int, tuple[dict[str, Any], Piece]] = {}  # id(a chart rendering's object) -> it, its piece
        self._patch_reprs: dict[int, tuple[dict[str, Any], str]] = {}  # id(patch) -> (patch, repr(patch))
        self._workload_patch_reads: dict[int, tuple[dict[str, Any], bool]] = {}  # id(patch) -> (patch, see _sets_workload_values)
        self._env_values: dict[tuple[str, str], tuple[dict[str, Any], dict[str, Any]]] = {}  # see _with_env
        self._chart_values: dict[str, dict[str, Any]] = {}  # app name -> chart_values(app); read, never changed
        self._orders: dict[tuple[int, ...], list[str]] = {}  # `_listing_key` of a cluster -> "" and its texts in order
        self._streams: dict[tuple[int, ...], bytes] = {}  # `_listing_key` of a cluster -> `stream`

    def render_charts_ahead(self, clusters: list[str]) -> None:
        """Templates the releases' charts of all these clusters side by side now, rather than a
        cluster's few at a time as `text` meets them."""
        render_ahead(self.fleet, [release for cluster in clusters for release in releases.cluster_releases(self.fleet, cluster)],
                     self.caches.rendered_charts)

    def text(self, cluster: str, *, include_flux: bool = False) -> str:
        """`dump_all(render_cluster(fleet, cluster, include_flux=...))`, byte for byte."""
        return "---\n".join(self._listing(cluster, include_flux)[1])

    def stream(self, cluster: str, *, include_flux: bool = False) -> bytes:
        """`text(cluster, ...)` in UTF-8. Clusters that list the same objects (an env's clusters under
        the same overlays) get the same bytes object, joined and encoded once and kept for the
        renderer's life (`gopc render --all-clusters` keeps every cluster's bytes anyway)."""
        listed, ordered = self._listing(cluster, include_flux)
        data = self._streams.get(listed)
        if data is None:
            data = self._streams[listed] = "---\n".join(ordered).encode("utf-8")
        return data

    def _listing(self, cluster: str, include_flux: bool) -> tuple[tuple[int, ...], list[str]]:
        """The cluster's `_listing_key`, and "" and its texts in order (each goes after a `---` line;
        only "" for no objects)."""
        groups = [[self._piece(doc) for doc in infrastructure_objects(self.fleet, cluster, self.caches)]]
        policies = self.caches.network_policies()
        for release in plan.releases(self.fleet, cluster):
            if release.app.name in policies:
                groups.append(self._policy_pieces(release.app.name, policies))
            groups.append(self._release_pieces(release))
        chart_docs = cluster_chart_objects(self.fleet, releases.cluster_releases(self.fleet, cluster), self.caches.rendered_charts,
                                           shared=True)  # read to make pieces, never changed
        groups.append([self._chart_piece(doc) for doc in chart_docs])
        if include_flux:
            groups.append([self._piece(doc) for doc in flux_objects(self.fleet, cluster, self.caches)])
        # Clusters that run the same objects (an env's clusters under the same overlays) list the
        # same pieces: the order is worked out once for them.
        listed = _listing_key(groups)
        ordered = self._orders.get(listed)
        if ordered is None:
            pieces = [piece for group in groups for piece in group]
            pieces.sort(key=itemgetter(0))  # stable, on the key alone: the order render_cluster sorts into
            ordered = self._orders[listed] = ["", *map(itemgetter(1), pieces)]
        return listed, ordered

    def _release_pieces(self, release: plan.Release) -> tuple[Piece, ...]:
        key = (release.app.name, release.namespace, self._patch_repr(release.env_values),
               self._patch_repr(release.cluster_values))
        pieces = self._releases.get(key)
        if pieces is None:
            pieces = self._releases[key] = tuple(self._release_piece(doc) for doc in self._release_objects(release))
        return pieces

    def _policy_pieces(self, app: str, policies: dict[str, list[dict[str, Any]]]) -> tuple[Piece, ...]:
        """The pieces of the app's NetworkPolicies (the same on every cluster that runs it)."""
        pieces = self._policies.get(app)
        if pieces is None:
            pieces = self._policies[app] = tuple(self._piece(policy) for policy in policies[app])
        return pieces

    def _release_objects(self, release: plan.Release) -> list[dict[str, Any]]:
        """helm_template of the release, with what the clusters of an env share made plain once."""
        app = release.app
        with_env, with_env_plain = self._with_env(release)
        values = plain_merge(with_env, with_env_plain, release.cluster_values)  # plain(release_values(release))
        effective = merge(self._chart_values_of(app), helm_values(values))
        return applied(helm_template_merged(app, effective, release_name=helm_release_name(app, values),
                                            namespace=release.namespace, caches=self.caches.helm,
                                            shared=self._shared, workload_source=self._workload_source(release)))

    def _workload_source(self, release: plan.Release) -> tuple[str] | None:
        """What the values a workload of the release reads are merged from (`helm_template_merged`):
        the env patch, when the cluster patch sets nothing a workload reads (only fields that never
        reach the chart or that no workload reads: the app's values and chart values are the same in
        every release of it); None otherwise: a workload of a cluster's own values is its alone,
        and keeping it for other releases would only hold it (every cluster's, with per-cluster
        values: 1.3 GB, not 0.85, at (1000,3,60))."""
        return None if self._sets_workload_values(release.cluster_values) else (self._patch_repr(release.env_values),)

    def _sets_workload_values(self, patch: dict[str, Any]) -> bool:
        known = self._workload_patch_reads.get(id(patch))  # an entry keeps its patch alive (see _patch_repr)
        if known is None:
            read = any(key not in NOT_WORKLOAD_FIELDS and key not in FLUX_ONLY_FIELDS for key in patch)
            known = self._workload_patch_reads[id(patch)] = (patch, read)
        return known[1]

    def _with_env(self, release: plan.Release) -> tuple[dict[str, Any], dict[str, Any]]:
        """The app's values with the env patch merged in, and their plain form; read, never changed."""
        key = (release.app.name, self._patch_repr(release.env_values))
        known = self._env_values.get(key)
        if known is None:
            values = merge(release.app.base, release.env_values)
            known = self._env_values[key] = (values, plain(values))
        return known

    def _chart_values_of(self, app: AppModel) -> dict[str, Any]:
        known = self._chart_values.get(app.name)
        if known is None:
            known = self._chart_values[app.name] = chart_values(app)
        return known

    def _patch_repr(self, patch: dict[str, Any]) -> str:
        # Clusters share their patch objects, so the repr is worked out once per object; the
        # entry keeps the patch alive, so no other object can take its id meanwhile.
        known = self._patch_reprs.get(id(patch))
        if known is None:
            known = self._patch_reprs[id(patch)] = (patch, repr(patch))
        return known[1]

    def _piece(self, doc: dict[str, Any]) -> Piece:
        shape = repr(doc)
        text = self._texts.get(shape)
        if text is None:
            text = self._texts[shape] = dump_yaml([doc])
        return install_key(doc), text

    def _chart_piece(self, doc: dict[str, Any]) -> Piece:
        """The piece of an object of a `release`'s chart rendering: the rendering's own object,
        shared by every cluster with that rendering (and never changed), so found by identity
        before its shape is written out; the entry keeps it alive, so no other takes its id."""
        return by_identity(self._chart_pieces, doc, lambda: self._piece(doc))

    def _release_piece(self, doc: dict[str, Any]) -> Piece:
        """The piece of an object of a release's chart. The objects several releases share are one
        object each (`SharedObjects`: the workload too, among the releases whose values it reads
        are the same): their text is worked out once and found by identity. The others are written
        out: the release is one not seen before."""
        piece = self._shared_pieces.get(id(doc))
        if piece is None:
            piece = install_key(doc), dump_yaml([doc])
            if id(doc) in self._shared.ids:
                self._shared_pieces[id(doc)] = piece
        return piece


def _listing_key(groups: list[Sequence[Piece]]) -> tuple[int, ...]:
    """What tells apart the lists of texts of clusters: the id of each text, in order, but one id for
    a tuple of pieces (a release's, an app's policies'). The renderer keeps every text and every such
    tuple for its life, so an id stands for one text, or one sequence of texts, while it lives."""
    key: list[int] = []
    for group in groups:
        if type(group) is tuple:
            key.append(id(group))
        else:
            key += map(id, map(itemgetter(1), group))
    return tuple(key)


def release_values(release: plan.Release) -> dict[str, Any]:
    """The values the release's HelmRelease ends up with (runtime values, not yet plain)."""
    return merge(merge(release.app.base, release.env_values), release.cluster_values)


def infrastructure_objects(fleet: Fleet, cluster: str, caches: LoweringCaches) -> list[dict[str, Any]]:
    """The namespaces, tenant objects, resources' objects, encrypted Secrets and ExternalSecrets on the
    cluster (new dicts)."""
    if cluster not in fleet.clusters:
        raise FluxLoweringError(f"no cluster named {cluster!r}; the clusters are {', '.join(sorted(fleet.clusters))}")
    docs = [doc for namespace in plan.infrastructure_namespaces(fleet, cluster, caches)
            for files in [plan.namespace_files(fleet, namespace)] for file_docs in files.values() for doc in file_docs]
    docs += plan.tenant_objects(fleet)
    docs += _tenant_objects(fleet, cluster, tenants.ACCOUNT_FILE)
    docs += [copy.deepcopy(doc) for placed in caches.resource_plan().clusters[cluster] for doc in placed.docs]
    docs += [copy.deepcopy(secret.manifest) for secret in caches.sops_secrets(cluster)]
    docs += cluster_external_secrets(fleet, cluster, caches.sops_secrets)
    return docs


def flux_objects(fleet: Fleet, cluster: str, caches: LoweringCaches) -> list[dict[str, Any]]:
    """The Flux objects on the cluster, each as the kustomize build of the repository leaves it."""
    docs = tenants.locked_sync(fleet, plan.sync_objects(fleet, cluster)) + plan.cluster_source_objects(fleet, cluster, caches)
    docs += plan.kustomization_objects(fleet, cluster, plan.cluster_stages(fleet, cluster, caches)).values()
    docs += plan.notification_objects(fleet, cluster, caches) + plan.image_automation_objects(fleet, cluster)
    docs += _tenant_objects(fleet, cluster, tenants.SYNC_FILE)
    patches = plan.release_patches(fleet, cluster, caches)
    for release in plan.releases(fleet, cluster):
        source = objects.chart_source(fleet, release.app, caches.helm)
        if source is not None:
            source["metadata"]["namespace"] = release.namespace
            docs.append(source)
        helm_release = objects.helm_release(fleet, release.app, caches.helm)
        for patch in patches[release.app.name]:
            helm_release = merge(helm_release, patch)
        helm_release["metadata"] = {**helm_release["metadata"], "namespace": release.namespace}  # kustomize's moves
        docs.append(helm_release)
    sources, components = caches.chart_sources(), caches.release_components()
    docs += [releases.effective_release(fleet, sources, components, cluster, release)
             for release in releases.cluster_releases(fleet, cluster)]
    return docs


def _tenant_objects(fleet: Fleet, cluster: str, file: str) -> list[dict[str, Any]]:
    """One file's objects of the cluster's tenant directories: their accounts, or their Git syncs."""
    env = fleet.clusters[cluster].env
    return [doc for tenant in tenants.cluster_tenants(fleet, cluster) for doc in tenants.tenant_files(fleet, tenant, env).get(file, [])]


def release_objects(fleet: Fleet, cluster: str, name: str, *, include_flux: bool = False,
                    caches: LoweringCaches | None = None) -> list[dict[str, Any]]:
    """One release's chart objects on the cluster (`gopc render --release`), with its HelmRelease
    as kustomize leaves it when `include_flux`; sorted as `render_cluster` sorts."""
    caches = caches_for(fleet, caches)
    release = next(release for release in releases.cluster_releases(fleet, cluster) if release.name == name)
    docs = chart_objects(fleet, release, caches.rendered_charts)
    if include_flux:
        docs.append(releases.effective_release(fleet, caches.chart_sources(), caches.release_components(), cluster, release))
    return sorted(docs, key=install_key)

