"""The distinct effective values of every app, and one report per problem found in them.

Input: a `Fleet` (or its clusters). Output: `instance_versions(clusters)`: each distinct `Instance`
(clusters whose layers give an app the same values share one) with the clusters that run it;
evaluation finds them once, completes each `AppModel` with them and hands them to the checks.
`versions(fleet, instances)`: each app as written (defaults + app layer, on no cluster), then those. `Findings` collects problems found in versions and makes one
diagnostic of each, naming the clusters it concerns when a layer above the app caused it.

Invariants: every check that looks at values after layering walks `versions` (one walk, each
distinct tree once); app order, then cluster order.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any

from gop.compiler.core.span import Span
from gop.compiler.diagnostics import Diagnostic, Related, diagnostic
from gop.compiler.fleet.model import ClusterModel, Fleet, Layer, Origin


@dataclass(slots=True)
class Version:
    """One distinct set of effective values of an app, and the clusters that run it (none for
    the app as written)."""

    app: str
    values: dict[str, Any]
    origins: dict[tuple, Origin]
    clusters: list[str]


def versions(fleet: Fleet, instances: list[Version]) -> Iterator[Version]:
    """Each app as written, then each distinct instance (`instance_versions(fleet.clusters)`)."""
    for name, app in fleet.apps.items():
        yield Version(name, app.base, app.base_origins, [])
    yield from instances


def instance_versions(clusters: dict[str, ClusterModel],
                      units: Callable[[ClusterModel], dict] = lambda model: model.instances) -> list[Version]:
    """Each distinct `Instance` of the clusters (of `units`: their apps, or their releases), with the
    clusters that run it, in cluster order."""
    shared: dict[int, Version] = {}
    for cluster, model in clusters.items():
        for name, instance in units(model).items():
            version = shared.get(id(instance))
            if version is None:
                version = shared[id(instance)] = Version(name, instance.values, instance.origins, [])
            version.clusters.append(cluster)
    return list(shared.values())


class Findings:
    """Problems of versions, each reported once at the line that caused it."""

    def __init__(self) -> None:
        self.found: dict[tuple, tuple[set[str], bool]] = {}
        self.notes: dict[tuple, tuple[str, ...]] = {}  # by the key of `found`

    def report(self, version: Version, code: str, message: str, notes: tuple[str, ...], primary: Origin | None,
               other: Origin | None = None, fallback: Span | None = None, other_note: str = "the other value") -> None:
        """At the line that set `primary`, or `fallback` when a default did; `other` beside it, as `other_note`."""
        span = primary.span if primary is not None and primary.span is not None else fallback
        if span is None:
            return
        related = (Related(other.span, other_note),) if other is not None and other.span is not None else ()
        above_app = any(origin is not None and origin.layer > Layer.APP for origin in (primary, other))
        key = (code, span, message, related)
        self.notes[key] = notes
        clusters, was_above = self.found.get(key, (set(), False))
        self.found[key] = (clusters | set(version.clusters), was_above or above_app)

    def diagnostics(self) -> list[Diagnostic]:
        result = []
        for key, (clusters, above_app) in self.found.items():
            code, span, message, related = key
            if above_app and clusters:
                message += f" (on {clusters_text(sorted(clusters))})"
            result.append(diagnostic(code, span, message, related=related, notes=self.notes[key]))
        return result


def later(first: Origin | None, second: Origin | None) -> tuple[Origin | None, Origin | None]:
    """(the origin set last, the other): the higher layer, then the later line; defaults count lowest."""
    def rank(origin: Origin | None) -> tuple:
        if origin is None or origin.span is None:
            return (-1, "", -1)
        return (int(origin.layer), origin.span.file, origin.span.start)
    return (second, first) if rank(second) >= rank(first) else (first, second)


def located(origins: dict, *paths: tuple) -> Origin | None:
    """The first of `paths` whose value a line of the program set (defaults have no line)."""
    for path in paths:
        origin = origins.get(path)
        if origin is not None and origin.span is not None:
            return origin
    return None


def clusters_text(names: list[str]) -> str:
    """At most four cluster names, in words."""
    shown = ", ".join(names[:4]) + (f" and {len(names) - 4} more" if len(names) > 4 else "")
    return f"cluster{'s' if len(names) > 1 else ''} {shown}"
