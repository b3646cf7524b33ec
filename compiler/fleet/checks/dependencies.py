"""Dependencies between apps, and between releases: what would hold a HelmRelease back forever.

Input: a `Fleet`. Output: `dependency_diagnostics(fleet)`: an app (a release) that depends on one
not deployed on the same cluster (DEPENDENCY_NOT_ON_CLUSTER, naming the clusters), and dependency
cycles (DEPENDENCY_CYCLE, each cycle once), at the line that set `delivery.dependsOn` (a
release's `dependsOn`). Flux waits for a HelmRelease's dependencies on its own cluster.

Invariants: deterministic order (by span, then dependency; cycles from the sorted apps).
"""

from __future__ import annotations

from typing import Any

from gop.compiler.diagnostics import Diagnostic, codes, diagnostic
from gop.compiler.fleet.checks.versions import clusters_text
from gop.compiler.fleet.model import Fleet
from gop.compiler.language import AppField
from gop.compiler.values import lookup

_DEPENDS_ON = {"app": (AppField.DELIVERY, AppField.DEPENDS_ON), "release": ("dependsOn",)}
_LONGEST_TRAIL = 100  # a cycle is looked for along at most this many edges


def dependency_diagnostics(fleet: Fleet) -> list[Diagnostic]:
    """Apps depend on apps (`delivery.dependsOn`), releases on releases (`dependsOn`)."""
    app_bases = {name: (app.base, app.base_origins) for name, app in fleet.apps.items()}
    release_bases = {name: (release.base, release.base_origins) for name, release in fleet.releases.items()}
    return (_kind_diagnostics(fleet, "app", app_bases, lambda model: model.instances)
            + _kind_diagnostics(fleet, "release", release_bases, lambda model: model.releases))


def _kind_diagnostics(fleet: Fleet, kind: str, bases: dict, on_cluster) -> list[Diagnostic]:
    path = _DEPENDS_ON[kind]
    absent: dict[tuple, list[str]] = {}
    edges: dict[str, dict[str, Any]] = {}  # app -> dependency -> the span that set it
    for name, (values, origins) in bases.items():
        _add_edges(edges, name, values, origins, path)
    looked_up: dict[int, tuple] = {}  # by instance id: (its dependencies, their origin); clusters share instances
    for cluster, model in fleet.clusters.items():
        instances = on_cluster(model)
        for name, instance in instances.items():
            found = looked_up.get(id(instance))
            if found is None:
                depends_on = lookup(instance.values, path)
                origin = _add_edges(edges, name, instance.values, instance.origins, path) if depends_on else None
                found = looked_up[id(instance)] = (depends_on, origin)
            depends_on, origin = found
            if not depends_on:
                continue
            for dependency in depends_on:
                if str(dependency) not in instances and origin is not None:
                    absent.setdefault((name, str(dependency), origin.span), []).append(cluster)
    found = [diagnostic(codes.DEPENDENCY_NOT_ON_CLUSTER, span, f"{kind} `{name}` depends on `{dependency}`, which does not run on "
                        + clusters_text(where),
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
