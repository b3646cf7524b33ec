"""Dependencies between apps, and between releases: what would hold a HelmRelease back forever.

Input: a `Fleet` and its apps' distinct instances. Output: `dependency_diagnostics(fleet, instances)`: an app (a release) that depends on one
not deployed on the same cluster (DEPENDENCY_NOT_ON_CLUSTER, naming the clusters), and dependency
cycles (DEPENDENCY_CYCLE, each cycle once), at the line that set `delivery.dependsOn` (a
release's `dependsOn`). Flux waits for a HelmRelease's dependencies on its own cluster.

Invariants: deterministic order (by span, then dependency; cycles from the sorted apps).
"""

from __future__ import annotations

from typing import Any

from gop.compiler.diagnostics import Diagnostic, codes, diagnostic
from gop.compiler.fleet.checks.versions import Version, clusters_text, instance_versions
from gop.compiler.fleet.model import ClusterModel, Fleet
from gop.compiler.language import AppField
from gop.compiler.values import lookup

_DEPENDS_ON = {"app": (AppField.DELIVERY, AppField.DEPENDS_ON), "release": ("dependsOn",)}
_LONGEST_TRAIL = 100  # a cycle is looked for along at most this many edges


def dependency_diagnostics(fleet: Fleet, instances: list[Version]) -> list[Diagnostic]:
    """Apps depend on apps (`delivery.dependsOn`), releases on releases (`dependsOn`). `instances`:
    the apps' distinct instances with their clusters (`versions.instance_versions`)."""
    app_bases = {name: (app.base, app.base_origins) for name, app in fleet.apps.items()}
    release_bases = {name: (release.base, release.base_origins) for name, release in fleet.releases.items()}
    releases = instance_versions(fleet.clusters, _releases_of)
    return (_kind_diagnostics(fleet, "app", app_bases, instances, lambda model: model.instances)
            + _kind_diagnostics(fleet, "release", release_bases, releases, _releases_of))


def _releases_of(model: ClusterModel) -> dict:
    return model.releases


def _kind_diagnostics(fleet: Fleet, kind: str, bases: dict, placed: list[Version], on_cluster) -> list[Diagnostic]:
    """`placed`: each distinct instance with the clusters that run it, in the order the clusters
    first show it (so edges are added in cluster order); each is looked at once."""
    path = _DEPENDS_ON[kind]
    absent: dict[tuple, list[str]] = {}
    edges: dict[str, dict[str, Any]] = {}  # app -> dependency -> the span that set it
    for name, (values, origins) in bases.items():
        _add_edges(edges, name, values, origins, path)
    for version in placed:
        depends_on = lookup(version.values, path)
        if not depends_on:
            continue
        origin = _add_edges(edges, version.app, version.values, version.origins, path)
        if origin is None:
            continue
        for cluster in version.clusters:
            deployed = on_cluster(fleet.clusters[cluster])
            for dependency in depends_on:
                if str(dependency) not in deployed:
                    absent.setdefault((version.app, str(dependency), origin.span), []).append(cluster)
    order = {name: index for index, name in enumerate(fleet.clusters)}
    found = [diagnostic(codes.DEPENDENCY_NOT_ON_CLUSTER, span, f"{kind} `{name}` depends on `{dependency}`, which does not run on "
                        + clusters_text(sorted(where, key=order.__getitem__)),
                        notes=("Flux would wait for it there forever; deploy it there too, or set `dependsOn` "
                               "for those clusters in an env, overlay or cluster block",))
             for (name, dependency, span), where in sorted(absent.items(), key=lambda item: (item[0][2].file, item[0][2].start, item[0][1]))]
    return found + _cycles(edges, kind)


def _add_edges(edges: dict, name: str, values: dict, origins: dict, path: tuple[str, ...]):
    origin = origins.get(path)
    if origin is None or origin.span is None:
        return None
    for dependency in lookup(values, path):
        edges.setdefault(name, {}).setdefault(str(dependency), origin.span)
    return origin


def _cycles(edges: dict[str, dict[str, Any]], kind: str) -> list[Diagnostic]:
    return [diagnostic(codes.DEPENDENCY_CYCLE, span, "dependency cycle: " + " -> ".join(cycle),
                       notes=(f"Flux would install none of these {kind}s; remove one `dependsOn` entry",))
            for cycle, span in cycles(edges)]


def cycles(edges: dict[str, dict[str, Any]]) -> list[tuple[list[str], Any]]:
    """Each cycle of a dependency graph once (node -> dependency -> the span that set the edge):
    its nodes from the first back to it (`[a, b, a]`) and the span of its first edge; from the
    sorted nodes, dependencies in sorted order."""
    found: list[tuple[list[str], Any]] = []
    reported: set[frozenset] = set()
    for start in sorted(edges):
        _walk(edges, start, [start], reported, found)
    return found


def _walk(edges, node: str, trail: list[str], reported: set, found: list) -> None:
    for dependency, _ in sorted(edges.get(node, {}).items()):
        if dependency in trail:
            cycle = trail[trail.index(dependency):] + [dependency]
            if frozenset(cycle) not in reported:
                reported.add(frozenset(cycle))
                found.append((cycle, edges[cycle[0]][cycle[1]]))
        elif len(trail) < _LONGEST_TRAIL:
            _walk(edges, dependency, trail + [dependency], reported, found)
