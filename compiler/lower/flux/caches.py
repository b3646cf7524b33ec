"""What lowering one fleet works out once and reads many times.

Input: one `Fleet` (evaluated, never changed afterwards). Output: a `LoweringCaches` whose
methods answer as the functions they stand for, each worked out at most once:
- `overlay_plan()`: `overlays.overlay_plan(fleet)`, which the file tree and every cluster's
  patches and render read;
- `sops_secrets(cluster)`: `secrets.cluster_sops_secrets(fleet, cluster, ...)`, which the check,
  the file tree and every render ask for, every SOPS file read and checked once for all clusters;
- `cluster_namespaces(cluster)`: `secrets.cluster_namespaces(fleet, cluster)`, which a cluster's
  stages, patches, namespaces and alerts all read (a dict for every app of the cluster);
- `env_namespaces(env)`: app -> `secrets.env_namespace(fleet, env, app)` for every app, which each
  cluster of the env compares its apps' namespaces with;
- `helm`: the Helm lowering's `HelmCaches` for the fleet's apps (chart versions, field schemas);
- `charts`: each app's chart files, a `lower.chartstore.ChartStore` through the session's disk
  cache when it has one (kept across runs) and its `LoweringMemo` when it analyses again (kept
  across its analyses);
- `tree_parts`: the Flux tree's files of each app and of the rest of the fleet, a
  `treestore.TreeStore` through the same disk cache and memo;
- `memo`: the session's `lower.memo.LoweringMemo`, else one of this fleet's own (its digests only);
- `resource_plan()`: `resources.resource_plan(fleet)`, where each resource's objects go.
- `chart_sources()`: `releases.ChartSources(fleet)`, the named chart sources of the releases;
- `release_components()`: `releases.release_components(fleet)`, what overlays set for releases;
- `rendered_charts`: what `helm template` printed for a vendored chart with given values (render),
  a `charts.RenderedCharts` through the session's disk cache when it has one.
- `network_policies()`: `network.app_policies(fleet)`, each app's derived NetworkPolicies.
- `source_paths`: each source file's path from the program's root, as the files' headers name it
  (`provenance.as_written` fills it, once per source for the whole tree).

Invariants:
- One object per fleet, made by whoever holds the fleet (the session puts one in each
  `Analysis`; a lowering called with a bare fleet makes its own): it lives exactly as long
  as that holder, so nothing here outlives the program it came from, and two programs
  lowered side by side (`gopc diff`) never evict each other's answers. Only the session's `memo`
  outlives it: what it keeps is checked against this fleet's objects (`lower.memo`).
- Answers are shared, never changed by their readers; lists are handed out as copies.
- A question that fails (`FluxLoweringError`) is not remembered: asked again, it fails again.
"""

from __future__ import annotations

from gop.compiler.core.diskcache import DiskCache
from gop.compiler.fleet.model import Fleet
from gop.compiler.lower.chartstore import ChartStore
from gop.compiler.lower.flux import network, overlays, releases, resources, secrets
from gop.compiler.lower.flux.charts import RenderedCharts
from gop.compiler.lower.flux.treestore import TreeStore
from gop.compiler.lower.helm.caches import HelmCaches
from gop.compiler.lower.memo import LoweringMemo


class LoweringCaches:
    def __init__(self, fleet: Fleet, disk: DiskCache | None = None, memo: LoweringMemo | None = None) -> None:
        self.fleet = fleet
        # the session's (what its earlier analyses' lowerings worked out), else this fleet's own
        self.memo = memo if memo is not None else LoweringMemo.one_round()
        self._plan: overlays.OverlayPlan | None = None
        self._sops: dict[str, list[secrets.SopsSecret]] = {}  # cluster -> its SOPS secrets
        self._sops_files: dict[str, secrets.SopsSecret] = {}  # file -> the secret it holds (read and checked)
        self._namespaces: dict[str, dict[str, str]] = {}  # cluster -> app -> its namespace there
        self._env_namespaces: dict[str, dict[str, str]] = {}  # env -> app -> its namespace in apps/<env>/
        self.helm = HelmCaches()  # the Helm lowering's, for the fleet's apps
        self.charts = ChartStore(disk, self.memo)  # each app's chart files, across runs
        self.tree_parts = TreeStore(disk, self.memo)  # the Flux tree's files, across runs
        self._resources: resources.ResourcePlan | None = None
        self._chart_sources: releases.ChartSources | None = None
        self._release_components: releases.ReleaseComponents | None = None
        self.rendered_charts = RenderedCharts(disk)  # (chart package, release, namespace, values, crds) -> helm's objects
        self._network_policies: dict[str, list[dict]] | None = None
        self.source_paths = self.memo.source_paths(str(fleet.root))  # source file -> its path from the root (provenance)

    def network_policies(self) -> dict[str, list[dict]]:
        """Each app's NetworkPolicies (read, never changed: render copies)."""
        if self._network_policies is None:
            self._network_policies = network.app_policies(self.fleet)
        return self._network_policies

    def chart_sources(self) -> releases.ChartSources:
        if self._chart_sources is None:
            self._chart_sources = releases.ChartSources(self.fleet)
        return self._chart_sources

    def release_components(self) -> releases.ReleaseComponents:
        if self._release_components is None:
            self._release_components = releases.release_components(self.fleet)
        return self._release_components

    def overlay_plan(self) -> overlays.OverlayPlan:
        if self._plan is None:
            self._plan = overlays.overlay_plan(self.fleet)
        return self._plan

    def resource_plan(self) -> resources.ResourcePlan:
        if self._resources is None:
            self._resources = resources.resource_plan(self.fleet)
        return self._resources

    def cluster_namespaces(self, cluster: str) -> dict[str, str]:
        """App -> its namespace on the cluster (shared: read it, never change it)."""
        known = self._namespaces.get(cluster)
        if known is None:
            known = self._namespaces[cluster] = secrets.cluster_namespaces(self.fleet, cluster)
        return known

    def env_namespaces(self, env: str) -> dict[str, str]:
        """App -> its namespace in apps/<env>/ (shared: read it, never change it)."""
        known = self._env_namespaces.get(env)
        if known is None:
            known = self._env_namespaces[env] = {app: secrets.env_namespace(self.fleet, env, app) for app in self.fleet.apps}
        return known

    def sops_secrets(self, cluster: str) -> list[secrets.SopsSecret]:
        known = self._sops.get(cluster)
        if known is None:
            known = self._sops[cluster] = secrets.cluster_sops_secrets(self.fleet, cluster, self._sops_files)
        return list(known)


def caches_for(fleet: Fleet, caches: LoweringCaches | None) -> LoweringCaches:
    """`caches` when given (they must be the fleet's), else new ones for a lowering of a bare fleet."""
    if caches is None:
        return LoweringCaches(fleet)
    assert caches.fleet is fleet, "lowering caches of another fleet"
    return caches
