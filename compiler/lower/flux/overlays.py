"""Selector overlays as Kustomize Components, and what each cluster still has to patch itself.

Input: a `Fleet`. Output: an `OverlayPlan`:
- `components[overlay]`: what `components/<overlay>/` patches into the HelmReleases of every
  cluster that lists it: a values tree for every release (`common`, when the overlay sets the
  same for all the apps of its clusters) and values trees for single apps (`per_app`);
- `cluster_components[cluster]`: the components the cluster's apps kustomization lists, in order;
- `layers(cluster, app)`: the component trees that reach the app's release there, in the order
  kustomize applies them; `residual(cluster, app)`: the values tree of the cluster's own patch.

What an overlay sets is read off the instances: the paths of `Instance.cluster_values` whose
`Origin` is the overlay (with the defaults of a record it made present), gathered over every
cluster where it is in effect. Trees are runtime values; `objects.release_patch` turns them into
HelmRelease patches.

Invariants:
- Exact: for every cluster and app, env values < components (in listed order) < residual, merged
  as kustomize merges patches (maps key by key, lists whole), give the instance's effective values.
  The residual is computed as exactly that difference; a component tree only reaches an app whose
  effective values hold every path it sets on every cluster listing it, so the residual never has
  to take anything away (a patch cannot; `Instance.cluster_values` never needs to either). A
  release may carry a value twice over (an overlay setting what the chart already says): Helm
  merges it to the same result.
- Without overlays the residual is `Instance.cluster_values`, what the cluster itself sets.
- Deterministic: overlays, clusters and apps in sorted order.
- Built anew at each call (no cache here): `caches.LoweringCaches.overlay_plan` keeps one
  plan per fleet for the file tree and every cluster's render.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass
from typing import Any

from gop.compiler.fleet.model import Fleet, Instance, Layer
from gop.compiler.values import MISSING, lookup, merge, patch, same

_OVERLAY_SOURCE = "overlay "  # Origin.source of a selector overlay: "overlay <name>"
_CLUSTER = "\0cluster"  # owner of what the cluster layer sets (never an overlay name: those are DNS labels)


@dataclass(slots=True)
class Component:
    name: str
    clusters: tuple[str, ...]
    common: dict[str, Any] | None  # patched into every release of a listing cluster
    per_app: dict[str, dict[str, Any]]  # app -> patched into that app's release, after `common`


@dataclass(slots=True)
class OverlayPlan:
    components: dict[str, Component]
    cluster_components: dict[str, tuple[str, ...]]
    residuals: dict[tuple[str, str], dict[str, Any]]  # (cluster, app) -> its own patch, when not empty

    def layers(self, cluster: str, app: str) -> list[dict[str, Any]]:
        return _layers(_listed(self.components, self.cluster_components, cluster), app)

    def residual(self, cluster: str, app: str) -> dict[str, Any]:
        return self.residuals.get((cluster, app), {})


def overlay_plan(fleet: Fleet) -> OverlayPlan:
    """The plan of `fleet`, built anew (ask `LoweringCaches.overlay_plan` for the fleet's one plan)."""
    trees, clusters = _overlay_trees(fleet)
    components = {name: _component(fleet, name, clusters[name], trees[name]) for name in sorted(trees)}
    listed: dict[str, list[str]] = {}
    for name, component in components.items():
        for cluster in component.clusters:
            listed.setdefault(cluster, []).append(name)
    cluster_components = {cluster: tuple(names) for cluster, names in sorted(listed.items())}
    return OverlayPlan(components, cluster_components, _residuals(fleet, components, cluster_components))


# ---------------------------------------------------------------- what each overlay sets

def _overlay_trees(fleet: Fleet) -> tuple[dict[str, dict[str, dict]], dict[str, list[str]]]:
    """overlay -> app -> what the overlay sets for the app; overlay -> clusters where it sets anything."""
    trees: dict[str, dict[str, dict]] = {}
    clusters: dict[str, list[str]] = {}
    parts_by_patch: dict[tuple[int, int], dict[str, dict]] = {}  # clusters share their patch objects
    merged: set[tuple[str, str, int]] = set()
    owners_of: dict[int, tuple[str, ...]] = {}  # id(instance) -> its overlays: clusters share instances too
    for cluster in sorted(fleet.clusters):
        for app, instance in fleet.clusters[cluster].instances.items():  # each app once: order does not matter
            owners = owners_of.get(id(instance))
            if owners is None:
                owners = owners_of[id(instance)] = _merge_owned_parts(instance, app, parts_by_patch, merged, trees)
            for name in owners:
                if not clusters.setdefault(name, []) or clusters[name][-1] != cluster:
                    clusters[name].append(cluster)
    return trees, clusters


def _merge_owned_parts(instance: Instance, app: str, parts_by_patch: dict[tuple[int, int], dict[str, dict]],
                       merged: set[tuple[str, str, int]], trees: dict[str, dict[str, dict]]) -> tuple[str, ...]:
    """Merge what each overlay sets in the instance into the overlay's tree of the app (once per
    tree object); the overlays that set anything."""
    if not instance.cluster_values:
        return ()
    key = (id(instance.cluster_values), id(instance.origins))
    if key not in parts_by_patch:
        parts_by_patch[key] = owned_parts(instance)
    for name, tree in parts_by_patch[key].items():
        if (name, app, id(tree)) not in merged:
            merged.add((name, app, id(tree)))
            per_app = trees.setdefault(name, {})
            per_app[app] = merge(per_app.get(app, {}), tree)
    return tuple(parts_by_patch[key])


def owned_parts(instance: Instance) -> dict[str, dict]:
    """`cluster_values` split by the overlay that set each value (what the cluster set is left out)."""
    parts: dict[str, dict] = {}
    _split(instance.cluster_values, instance.origins, (), None, parts)
    parts.pop(_CLUSTER, None)
    parts.pop(None, None)
    return parts


def _split(node: dict, origins: dict, path: tuple, inherited: str | None, parts: dict) -> None:
    for key, value in node.items():
        here = path + (key,)
        owner = _owner(origins.get(here)) or inherited
        if isinstance(value, dict) and value:
            # A record made present by a deeper assignment has no origin of its own: its
            # defaults belong to whoever set what is inside, when that is one overlay.
            _split(value, origins, here, owner or _sole_owner(value, origins, here), parts)
        else:
            _put(parts.setdefault(owner, {}), here, value)


def _owner(origin) -> str | None:
    if origin is None or origin.layer < Layer.SELECTOR:
        return None
    if origin.layer is Layer.SELECTOR and origin.source.startswith(_OVERLAY_SOURCE):
        return origin.source[len(_OVERLAY_SOURCE):]
    return _CLUSTER


def _sole_owner(node: dict, origins: dict, path: tuple) -> str | None:
    owners = {owner for owner in _owners_below(node, origins, path) if owner is not None}
    return owners.pop() if len(owners) == 1 else None


def _owners_below(node: dict, origins: dict, path: tuple):
    for key, value in node.items():
        here = path + (key,)
        yield _owner(origins.get(here))
        if isinstance(value, dict):
            yield from _owners_below(value, origins, here)


def _put(tree: dict, path: tuple, value: Any) -> None:
    for key in path[:-1]:
        tree = tree.setdefault(key, {})
    tree[path[-1]] = value


# ---------------------------------------------------------------- one component

def _component(fleet: Fleet, name: str, clusters: list[str], trees: dict[str, dict]) -> Component:
    """Every release of the overlay's clusters takes what most of its apps get alike (its `all`
    block), when each of them sets that too, overrides it, or already has those values; then
    each app takes the rest of its own tree. Otherwise each app takes its own tree."""
    values = _effective_values(fleet, clusters)
    common = _common_tree(trees)
    if common and _fits_every_release(common, trees, values):
        extras = {app: _extra(tree, common) for app, tree in sorted(trees.items())}
        return Component(name, tuple(clusters), common, {app: tree for app, tree in extras.items() if tree})
    per_app = {app: tree for app, tree in sorted(trees.items())
               if all(holds_paths(values_of, tree) for values_of in values.get(app, []))}
    return Component(name, tuple(clusters), None, per_app)


def _effective_values(fleet: Fleet, clusters: list[str]) -> dict[str, list[dict]]:
    """app -> its distinct effective values on the given clusters."""
    found: dict[str, dict[int, dict]] = {}
    for cluster in clusters:
        for app, instance in fleet.clusters[cluster].instances.items():
            found.setdefault(app, {})[id(instance.values)] = instance.values
    return {app: list(by_id.values()) for app, by_id in sorted(found.items())}


def _common_tree(trees: dict[str, dict]) -> dict:
    """The values that more than half of the apps' trees set alike. Never a dependency: its patch
    names the namespace only when it is not the app's own, so it differs from app to app."""
    alike = [tree for _, tree in sorted(trees.items()) if tree]
    counts: Counter = Counter()
    leaves: dict[tuple, tuple] = {}  # in the order they are first met: the output is deterministic
    for tree in alike:
        for path, value in _leaves(tree):
            key = (path, repr(value))  # repr tells 1, 1.0 and True apart
            counts[key] += 1
            leaves.setdefault(key, (path, value))
    common: dict = {}
    for key, (path, value) in leaves.items():
        if counts[key] * 2 > len(alike) and path[:2] != ("delivery", "dependsOn"):
            _put(common, path, value)  # two majorities share a tree, so they never collide
    return common


def _fits_every_release(common: dict, trees: dict[str, dict], values: dict[str, list[dict]]) -> bool:
    """Whether `common` can reach every release: on each, each value it sets is one the release
    has anyway, or one the app's own tree sets again (after it) - and the own tree fits too."""
    for app, versions in values.items():
        own = trees.get(app, {})
        extra = _extra(own, common)
        for effective in versions:
            if not holds_paths(effective, extra):
                return False
            for path, value in _leaves(common):
                actual = lookup(effective, path)
                if actual is MISSING or not (_agrees(actual, value) or lookup(own, path) is not MISSING):
                    return False
    return True


def _extra(tree: dict, common: dict) -> dict:
    """What `tree` sets beyond what `common` sets to the same value."""
    extra: dict = {}
    for path, value in _leaves(tree):
        if not same(lookup(common, path), value):
            _put(extra, path, value)
    return extra


def holds_paths(effective: dict, tree: dict) -> bool:
    return all(lookup(effective, path) is not MISSING for path, _ in _leaves(tree))


def _agrees(actual: Any, value: Any) -> bool:
    return same(actual, value) or (value == {} and isinstance(actual, dict))


# ---------------------------------------------------------------- what each cluster patches itself

def _listed(components: dict[str, Component], cluster_components: dict[str, tuple[str, ...]],
            cluster: str) -> list[Component]:
    return [components[name] for name in cluster_components.get(cluster, ())]


def _layers(components: list[Component], app: str) -> list[dict]:
    trees = []
    for component in components:
        if component.common is not None:
            trees.append(component.common)
        if app in component.per_app:
            trees.append(component.per_app[app])
    return trees


def _residuals(fleet: Fleet, components: dict[str, Component],
               cluster_components: dict[str, tuple[str, ...]]) -> dict[tuple[str, str], dict]:
    residuals: dict[tuple[str, str], dict] = {}
    known: dict[tuple, dict] = {}  # clusters share their instances' values, and lists of components
    layers_of: dict[tuple[str, ...], dict[str, list[dict]]] = {}
    for cluster, model in fleet.clusters.items():
        names = cluster_components.get(cluster, ())
        by_app = layers_of.setdefault(names, {})
        for app, instance in model.instances.items():
            layers = by_app.get(app)
            if layers is None:
                layers = by_app[app] = _layers(_listed(components, cluster_components, cluster), app)
            if not layers:
                residual = instance.cluster_values
            else:
                key = (app, instance.env, id(instance.values), id(instance.cluster_values), id(layers))
                if key not in known:
                    known[key] = _residual(fleet, instance, layers)
                residual = known[key]
            if residual:
                residuals[cluster, app] = residual
    return residuals


def _residual(fleet: Fleet, instance: Instance, layers: list[dict]) -> dict:
    """What the cluster's patch must set so that env values < `layers` < it == the instance's values."""
    keys = set(instance.cluster_values).union(*layers)
    env = fleet.envs[instance.env].app_values.get(instance.app, {})
    composed = _env_effective(fleet.apps[instance.app].base, env, keys)
    for layer in layers:
        composed = merge(composed, layer)
    # In the order of the effective values, never the set's (which changes with the hash seed).
    target = {key: value for key, value in instance.values.items() if key in keys}
    return patch(target, composed)


def _env_effective(base: dict, env: dict, keys: set[str]) -> dict:
    """merge(base, env), on the given top-level keys only."""
    out = {}
    for key in keys:
        if key in env:
            lower = base.get(key)
            out[key] = merge(lower, env[key]) if isinstance(lower, dict) and isinstance(env[key], dict) else env[key]
        elif key in base:
            out[key] = base[key]
    return out


# ---------------------------------------------------------------- trees

def _leaves(tree: dict, path: tuple = ()):
    """(path, value) of every value that is not a non-empty map."""
    for key, value in tree.items():
        here = path + (key,)
        if isinstance(value, dict) and value:
            yield from _leaves(value, here)
        else:
            yield here, value
