"""Context interpolation: strings that read the unit, env and cluster a value is resolved for.

`"ghcr.io/acme/${app.name}"`, `"${env.name}"`, `"${cluster.name}"`, `"${cluster.labels.region}"`,
`"${cluster.labels.zone ?? "a"}"` (also `${release.name}`, `${resource.name}`) in a string of an
app, release or resource body, at any layer. The checker types such a string (`ContextText`:
its parts, the type it must have once resolved, its span) while checking a unit body
(`UnitContext`, which the evaluator sets); the evaluator resolves it per (unit, env, cluster)
with a `Context`, the mapping from each context path to its text there (None: an optional label
the cluster lacks).

Invariants: values are immutable and hashable (equal texts conflict and share like strings);
nothing here reports diagnostics: the checker and the evaluator do, at the string's span.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from gop.compiler.core.frozen import frozen
from gop.compiler.core.span import Span
from gop.compiler.semantic.types import MapType, RecordType, Type

ContextPath = tuple[str, ...]  # ("app", "name"), ("cluster", "labels", "region")
Context = dict[ContextPath, "str | None"]


@frozen
class ContextRef:
    """`${cluster.labels.zone ?? "a"}`: a context path, the text used where it is absent, and the
    span of the interpolation."""

    path: ContextPath
    fallback: str | None
    span: Span

    def __str__(self) -> str:
        fallback = f' ?? "{self.fallback}"' if self.fallback is not None else ""
        return "${" + ".".join(self.path) + fallback + "}"


@frozen
class ContextText:
    """A string with context references, to be resolved per (unit, env, cluster) and then
    checked against `expected` (a string or enum type, with its refinements)."""

    parts: tuple[str | ContextRef, ...]
    expected: Type
    span: Span

    def __str__(self) -> str:
        return '"' + "".join(str(part) for part in self.parts) + '"'

    @property
    def reads(self) -> tuple[ContextPath, ...]:
        return tuple(part.path for part in self.parts if isinstance(part, ContextRef))


@dataclass(frozen=True, slots=True)
class UnitContext:
    """What a unit body being checked may read: `${KIND.name}` of its kind ("app", "release",
    "resource"), the env and the cluster, and the labels of the label schema."""

    kind: str
    labels: RecordType | MapType


def reads_of(value: Any) -> frozenset[ContextPath]:
    """Every context path a checked value (a string, list, map) reads."""
    if type(value) in _PLAIN:  # most values: nothing to look into
        return _NOTHING
    found: set[ContextPath] = set()
    _collect(value, found)
    return frozenset(found)


def _collect(value: Any, found: set[ContextPath]) -> None:
    if isinstance(value, ContextText):
        found.update(value.reads)
    elif isinstance(value, dict):
        for item in value.values():
            _collect(item, found)
    elif isinstance(value, (list, tuple)):
        for item in value:
            _collect(item, found)


_PLAIN = frozenset({str, int, float, bool, type(None)})
_NOTHING: frozenset[ContextPath] = frozenset()


def label_may_be_absent(labels: RecordType | MapType, key: str) -> bool:
    """Whether a cluster may lack label `key` (an optional label without a default, or any key of
    labels without a schema)."""
    if isinstance(labels, MapType):
        return True
    field = labels.fields[key]
    return field.optional and not field.has_default

