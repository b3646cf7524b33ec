"""Dependencies between apps: what would hold a HelmRelease back forever.

Input: a `Fleet`. Output: `dependency_diagnostics(fleet)`: an app that depends on one not
deployed on the same cluster (DEPENDENCY_NOT_ON_CLUSTER, naming the clusters), and dependency
cycles (DEPENDENCY_CYCLE, each cycle once), at the line that set `delivery.dependsOn`. Flux waits
for a HelmRelease's dependencies on its own cluster.

Invariants: deterministic order (by span, then dependency; cycles from the sorted apps).
"""

from __future__ import annotations

from typing import Any

from gop.compiler.diagnostics import Diagnostic, codes, diagnostic
from gop.compiler.fleet.checks.versions import clusters_text
from gop.compiler.fleet.model import Fleet
from gop.compiler.language import AppField

_DEPENDS_ON = (AppField.DELIVERY, AppField.DEPENDS_ON)
_LONGEST_TRAIL = 100  # a cycle is looked for along at most this many edges


def dependency_diagnostics(fleet: Fleet) -> list[Diagnostic]:
    absent: dict[tuple, list[str]] = {}
    edges: dict[str, dict[str, Any]] = {}  # app -> dependency -> the span that set it
    for name, app in fleet.apps.items():
        _add_edges(edges, name, app.base, app.base_origins)
    for cluster, model in fleet.clusters.items():
        for name, instance in model.instances.items():
            depends_on = instance.values[AppField.DELIVERY][AppField.DEPENDS_ON]
            if not depends_on:
                continue
            origin = _add_edges(edges, name, instance.values, instance.origins)
            for dependency in depends_on:
                if str(dependency) not in model.instances and origin is not None:
                    absent.setdefault((name, str(dependency), origin.span), []).append(cluster)
    found = [diagnostic(codes.DEPENDENCY_NOT_ON_CLUSTER, span, f"app `{name}` depends on `{dependency}`, which does not run on "
                        + clusters_text(where),
                        notes=("Flux would wait for it there forever; deploy it there too, or set `dependsOn` "
                               "for those clusters in an env, overlay or cluster block",))
             for (name, dependency, span), where in sorted(absent.items(), key=lambda item: (item[0][2].file, item[0][2].start, item[0][1]))]
    return found + _cycles(edges)


def _add_edges(edges: dict, name: str, values: dict, origins: dict):
    origin = origins.get(_DEPENDS_ON)
    if origin is None or origin.span is None:
        return None
    for dependency in values[AppField.DELIVERY][AppField.DEPENDS_ON]:
        edges.setdefault(name, {}).setdefault(str(dependency), origin.span)
    return origin


def _cycles(edges: dict[str, dict[str, Any]]) -> list[Diagnostic]:
    return [diagnostic(codes.DEPENDENCY_CYCLE, span, "dependency cycle: " + " -> ".join(cycle),
                       notes=("Flux would install none of these apps; remove one `dependsOn` entry",))
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
