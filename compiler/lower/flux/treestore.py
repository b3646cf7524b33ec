"""The Flux tree's files across runs: `tree.app_files` and `tree.fleet_files` through the disk cache
(`core.diskcache`, kinds `flux-apps` and `flux-fleet`), so a build after an edit of one app's chart
values makes again only the files of that app's group (as `lower.chartstore` does for its chart).
The apps' files are kept in `GROUPS` entries (`app_groups`, by a hash of the app's name): reading
a thousand entries, and writing them on the first build, took longer than making the files.

Input: a `Fleet`, its `LoweringCaches`, the session's `DiskCache` (or None: `--no-cache`, no cache
directory) and `LoweringMemo`, and the function that makes the files. Output: exactly what that function returns.

The keys (besides gopc itself, which the store's fingerprint covers) hold everything the files
read, found by reading the code of `tree`, `plan`, `overlays`, `objects`, `network`, `releases`,
`resources`, `secrets` and `tenants`; what was unsure is in them:
- An app's files (apps/base/<app>/, apps/<env>/<app>/; a group's entry is keyed by each of its
  apps'): the app as its chart store key sees it (`ChartStore.app_digest`: name, doc, chart
  features, base values, values type; the chart's version is a function of those), its namespace,
  clusters and the layers of its delivery settings; the envs it is in with what each sets for it;
  its NetworkPolicies (they read the apps calling it); every app's namespace (its dependencies
  name theirs: an app added, removed or moved makes every group again); the fleet's settings
  (delivery, registries, sources ...: `_settings`).
- The rest (`flux-fleet`, one entry): the settings, the releases and resources, the envs, the
  clusters with their instances, every app with its values type, and the SOPS secrets (their
  files' text). An instance is its env's patch and its `cluster_values` (with who set each path)
  over its app's base: its values are those merged (`plan`'s invariant, which `fleet.evaluate`
  keeps by correcting `cluster_values`). The app's base and the env's patch leave out the fields
  only the app's chart reads (`CHART_ONLY_FIELDS`), unless a cluster sets that field for the app
  or a selector overlay sets it for any app (the overlay plan compares those fields across
  layers). And the chart version of each app some cluster moves out of its env's namespace (its
  chart source is moved with it). A test sets each hidden field everywhere (the instances' values
  too) and asserts the fleet's files do not change.
Value trees are frozen dataclasses, tuples, dicts and plain scalars whose `repr` shows every field
in order, so equal reprs make equal files (see `lower.chartstore`). The fleet's key is a digest of
digests of its parts (the settings, each env, app, cluster and instance patch), and each part's, like
each app's key, is kept in the `LoweringMemo` (`lower.memo`) by the identity of what it reads: an
analysis after an edit digests only what the edit made anew, and a session finds the files of the
last analyses there by the same keys, without the disk cache. A failing lowering
(`FluxLoweringError`) stores nothing; a key that cannot be worked out (a SOPS file that fails its
check) makes the files without the store, so the error is the one the lowering raises.
"""

from __future__ import annotations

import hashlib
import itertools
import operator
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from gop.compiler.core.diskcache import DiskCache
from gop.compiler.fleet.model import AppModel, Fleet, Instance, Layer
from gop.compiler.language import AppField
from gop.compiler.lower.flux.errors import FluxLoweringError
from gop.compiler.lower.helm import chart_version
from gop.compiler.lower.memo import LoweringMemo

APPS_KIND = "flux-apps"
FLEET_KIND = "flux-fleet"
GROUPS = 64  # the apps' files are kept in this many entries (fewer files to read, and to write first)

# App fields (the prelude's `App`) that only the app's chart reads, never a file of the Flux tree
# outside the app's own (a name in this set appears nowhere in lower/flux).
CHART_ONLY_FIELDS = frozenset({
    "replicas", "env", "envFrom", "volumes", "mounts", "initContainers", "sidecars", "startup", "lifecycle",
    "terminationGracePeriodSeconds", "priorityClassName", "nodeSelector", "tolerations", "affinity",
    "topologySpread", "imagePullSecrets", "security", "disruptionBudget", "resources", "config",
    "statefulSet", "job", "cronJob",
})

Files = dict[str, str]
_NO_FIELDS: frozenset[str] = frozenset()


class TreeStore:
    """One program's Flux tree files through `disk` and `memo` (`lower.memo`); see the module doc."""

    def __init__(self, disk: DiskCache | None, memo: LoweringMemo | None = None) -> None:
        self._disk = disk
        self._memo = memo if memo is not None else LoweringMemo.one_round()
        self._shared: bytes | None = None  # the digest of what every app's files read of the fleet

    def apps_files(self, fleet: Fleet, apps: list[str], envs: dict[str, list[str]], caches, *,
                   make: Callable[[], Files]) -> Files:
        """The files of `apps`, one of `app_groups`; `envs`: each app's envs."""
        if self._disk is None and self._memo.files is None:
            return make()
        shared = self._shared_digest(fleet)
        return self._through(APPS_KIND, (shared, *(_app_digest(fleet, app, envs[app], caches, self._memo) for app in apps)),
                             make)

    def fleet_files(self, fleet: Fleet, caches, *, make: Callable[[], Files]) -> Files:
        if self._disk is None and self._memo.files is None:
            return make()
        try:
            digest = _fleet_digest(fleet, caches, self._memo)
        except FluxLoweringError:
            return make()
        return self._through(FLEET_KIND, (digest,), make)

    def _through(self, kind: str, parts: tuple[bytes, ...], make: Callable[[], Files]) -> Files:
        kept = self._memo.files
        files = kept.get((kind, *parts)) if kept is not None else None
        if files is None and self._disk is not None:
            found = self._disk.get(kind, self._disk.key(kind, *parts))
            files = found if _well_formed(found) else None
        if files is None:
            files = make()
            if self._disk is not None:
                self._disk.put(kind, self._disk.key(kind, *parts), files)
        if kept is not None:
            kept.put((kind, *parts), files)
        return files

    def _shared_digest(self, fleet: Fleet) -> bytes:
        if self._shared is None:
            namespaces = [(name, app.namespace) for name, app in sorted(fleet.apps.items())]
            self._shared = _digest(_settings(fleet), namespaces)
        return self._shared


def app_groups(fleet: Fleet) -> list[list[str]]:
    """The fleet's apps in at most `GROUPS` groups, each kept in one entry (sorted; an app's group
    is a function of its name alone, so an app added or removed leaves the other groups as they are)."""
    groups: dict[int, list[str]] = {}
    for name in sorted(fleet.apps):
        groups.setdefault(group_of(name), []).append(name)
    return [groups[group] for group in sorted(groups)]


def group_of(app: str) -> int:
    return int.from_bytes(hashlib.sha256(app.encode("utf-8", "surrogateescape")).digest()[:4], "little") % GROUPS


def _app_digest(fleet: Fleet, name: str, envs: list[str], caches, memo: LoweringMemo) -> bytes:
    app = fleet.apps[name]
    env_values = [fleet.envs[env].app_values.get(name) for env in envs]
    policies = caches.network_policies().get(name)
    read = ((name, caches.charts.app_digest(app), app.namespace, app.clusters, tuple(envs)),
            (app.base_origins, policies, *env_values))
    kept = memo.tree_apps.get(app.base)
    if kept is not None and _same_reads(kept[0], read):
        return kept[1]
    digest = _digest(name, read[0][1], app.namespace, app.clusters, _delivery_layers(app), list(zip(envs, env_values)),
                     policies)
    memo.tree_apps.put(app.base, (read, digest))
    return digest


def _same_reads(kept: tuple[tuple, tuple], read: tuple[tuple, tuple]) -> bool:
    """Whether a digest's inputs are the same: (values, objects), the values (names, digests, spans,
    field sets and tuples of those) equal, the objects (value trees, whose equal dicts may differ in
    the order the files follow; types, which compare by name) the very same ones."""
    return kept[0] == read[0] and len(kept[1]) == len(read[1]) and all(map(operator.is_, kept[1], read[1]))


def _delivery_layers(app: AppModel) -> list[tuple]:
    """The layer that set each delivery setting of the app (its HelmRelease takes the fleet's
    defaults for those the schema set); the only origins an app's files read."""
    return [(path, origin.layer) for path, origin in app.base_origins.items() if path[0] == AppField.DELIVERY]


@dataclass(frozen=True, slots=True)
class Patch:
    """What the fleet's files read of an instance's `cluster_values` and of who set each of its paths."""

    cluster_values: dict[str, Any]  # the instance's
    selector_fields: frozenset[str]  # the fields of the paths a selector overlay set
    head: bytes  # the instance's app and env, and a digest of the rest


def _fleet_digest(fleet: Fleet, caches, memo: LoweringMemo) -> bytes:
    """A digest of everything the fleet's files read: one sha256 over digests of its parts (the
    settings, each env, app, cluster, instance), each part's digest kept by the identity of what it
    reads (`memo`), so an analysis after an edit digests again only what the edit made anew."""
    instances = _distinct_instances(fleet)
    patches = {key: _patch(instance, memo) for key, instance in instances.items()}
    hidden = _hidden_fields(fleet, instances, patches)
    digest = hashlib.sha256(_digest(_settings(fleet), fleet.releases, fleet.resources))
    for name, env in sorted(fleet.envs.items()):
        env_digest = hashlib.sha256(_digest(name, env.doc, env.span, env.clusters, env.unit_values))
        env_digest.update(len(env.app_values).to_bytes(8, "little"))
        for app, values in env.app_values.items():
            seen = _seen_digest(values, hidden.get(app, _NO_FIELDS), memo)
            env_digest.update(app.encode("utf-8", "surrogateescape") + b"\0" + seen)
        digest.update(env_digest.digest())
    for name, app in sorted(fleet.apps.items()):
        digest.update(_fleet_app_digest(app, hidden[name], caches, memo))
    env_values = {name: env.app_values for name, env in fleet.envs.items()}
    of_instance = {}
    for key, instance in instances.items():
        values = instance.env_values
        of_instance[key] = patches[key].head + (
            b"the env's" if values is env_values[instance.env].get(instance.app)  # digested above
            else _seen_digest(values, hidden[instance.app], memo))
    for name, cluster in sorted(fleet.clusters.items()):
        digest.update(_digest(name, cluster.doc, cluster.span, cluster.labels, cluster.env, cluster.releases,
                              cluster.resources, caches.sops_secrets(name)))
        digest.update(hashlib.sha256(b"".join(map(of_instance.__getitem__, map(id, cluster.instances.values())))).digest())
    digest.update(_digest(sorted((name, chart_version(fleet.apps[name], caches.helm)) for name in _moved_apps(fleet, instances))))
    return digest.digest()


def _patch(instance: Instance, memo: LoweringMemo) -> Patch:
    kept = memo.patches.get(instance)
    if kept is not None and kept.cluster_values is instance.cluster_values:
        return kept
    origins = _cluster_origins(instance)
    patch = Patch(instance.cluster_values,
                  frozenset(origin[0][0] for origin in origins if origin[1:2] == (Layer.SELECTOR,)) or _NO_FIELDS,
                  f"{instance.app}\0{instance.env}\0".encode() + _digest(instance.cluster_values, origins))
    memo.patches.put(instance, patch)
    return patch


def _seen_digest(values: dict[str, Any], hidden: frozenset[str], memo: LoweringMemo) -> bytes:
    """The digest of a value tree less its `hidden` fields."""
    kept = memo.seen.get(values)
    if kept is not None and kept[0] == hidden:
        return kept[1]
    digest = _digest(_seen(values, hidden))
    memo.seen.put(values, (hidden, digest))
    return digest


def _fleet_app_digest(app: AppModel, hidden: frozenset[str], caches, memo: LoweringMemo) -> bytes:
    """What the fleet's files read of an app: all but its `hidden` fields, and its values type."""
    read = ((app.name, app.namespace, app.doc, app.span, app.features, app.clusters, hidden), (app.values_type,))
    kept = memo.fleet_apps.get(app.base)
    if kept is not None and _same_reads(kept[0], read):
        return kept[1]
    digest = hashlib.sha256(_digest(app.name, app.namespace, app.doc, app.span, sorted(app.features), app.clusters,
                                    _seen(app.base, hidden)))
    digest.update(caches.charts.values_type_digest(app))
    memo.fleet_apps.put(app.base, (read, digest.digest()))
    return digest.digest()


def _distinct_instances(fleet: Fleet) -> dict[int, Instance]:
    """The apps' instances by identity (clusters whose layers give an app the same values share one)."""
    every = list(itertools.chain.from_iterable(cluster.instances.values() for cluster in fleet.clusters.values()))
    return dict(zip(map(id, every), every))


def _cluster_origins(instance: Instance) -> list[tuple]:
    """Who set each path of the instance's `cluster_values` (the overlay plan splits them by it,
    reading the origins of those paths only); the spans are left out: no file of the tree shows them."""
    found: list[tuple] = []
    _walk_origins(instance.cluster_values, instance.origins, (), found)
    return found


def _walk_origins(tree: dict[str, Any], origins: dict[tuple[str, ...], Any], path: tuple[str, ...],
                  found: list[tuple]) -> None:
    for key, value in tree.items():
        here = path + (key,)
        origin = origins.get(here)
        found.append((here, None) if origin is None else (here, origin.layer, origin.source, origin.all_apps))
        if isinstance(value, dict):
            _walk_origins(value, origins, here, found)


def _hidden_fields(fleet: Fleet, instances: dict[int, Instance], patches: dict[int, Patch]) -> dict[str, frozenset[str]]:
    """App -> the `CHART_ONLY_FIELDS` the fleet's files do not read of it: all but those a cluster
    sets for the app (its own patch compares them with the layers below) and those any selector
    overlay sets (an overlay's patch for every release is checked against each release's values)."""
    overlaid: set[str] = set()
    per_app: dict[str, set[str]] = {name: set() for name in fleet.apps}
    for key, instance in instances.items():
        per_app[instance.app].update(instance.cluster_values)
        if patches[key].selector_fields:
            overlaid.update(patches[key].selector_fields)
    shown = CHART_ONLY_FIELDS - overlaid
    return {name: shown.difference(fields) if fields else shown for name, fields in per_app.items()}


def _moved_apps(fleet: Fleet, instances: dict[int, Instance]) -> set[str]:
    """The apps some cluster puts in another namespace than their env's (`tree._stage_apps` moves them)."""
    moved = set()
    for instance in instances.values():
        own = fleet.apps[instance.app].namespace
        if instance.values.get("namespace", own) != fleet.envs[instance.env].app_values.get(instance.app, {}).get("namespace", own):
            moved.add(instance.app)
    return moved


def _seen(tree: dict[str, Any], hidden: frozenset[str]) -> dict[str, Any]:
    return {key: value for key, value in tree.items() if key not in hidden}


def _settings(fleet: Fleet) -> tuple:
    """What every part of the tree may read of the fleet besides its units: its package, root and settings."""
    return (fleet.package, str(fleet.root), fleet.delivery, fleet.sources, fleet.registries, fleet.receivers,
            fleet.providers, fleet.alerts, fleet.automations, fleet.stages, fleet.namespaces, fleet.tenants)


def _digest(*parts: object) -> bytes:
    return hashlib.sha256(repr(parts).encode("utf-8", "surrogateescape")).digest()


def _well_formed(files) -> bool:
    return isinstance(files, dict) and all(isinstance(path, str) and isinstance(text, str) for path, text in files.items())
