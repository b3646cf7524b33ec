"""The layer-merge engine: checked leaves of the layers -> effective values with provenance.

Input: the checked leaves (`semantic.check.Leaf`: path, runtime value, span) of one app at each
layer, grouped by the declaration that wrote them (`Targeted`), and the app's `RecordType`.
Output: the effective value tree of a layer stack, the `Origin` of every leaf, what a layer
changed (`layer_patch`), the required fields a record made present by a leaf lacks, and the
conflicts inside one layer (`Conflict`, reported as CONFLICTING_ASSIGNMENTS).

Rules: layering is total, DEFAULT < DEFAULTS < TEMPLATE < APP < ENV < SELECTOR < CLUSTER
(`model.Layer`; the two below APP are chosen by `fleet.templates`). Inside one
layer an `app NAME { }` block beats an `all { }` block; two different values for one path at one
layer and specificity are a conflict (the first one stays). Maps and records merge key by key;
any other value replaces the one below. A record made present by a leaf gets its schema defaults,
and so does each record of a list (a list is one leaf);
record keys stay in schema order, so results do not depend on the order of the leaves.

Invariants: no input tree is changed (only the dicts along a leaf's path are copied; every other
sub-tree is shared with the layer below); deterministic; no diagnostics are made here except by
`Conflict.diagnostic`.
"""

from __future__ import annotations

import functools
from dataclasses import dataclass

from gop.compiler.core.frozen import frozen
from gop.compiler.diagnostics import Diagnostic, Related, codes, diagnostic
from gop.compiler.fleet.model import Layer, Origin
from gop.compiler.language import AppField
from gop.compiler.semantic.check import PRESENT, Leaf
from gop.compiler.semantic.types import AnyType, ListType, MapType, RecordType, Type, describe_value
from gop.compiler.values import lookup, patch, same

Winners = list[tuple[Leaf, Origin]]


@dataclass(slots=True)
class Targeted:
    """Leaves of one declaration aimed at one app (or all apps) at one layer."""

    source: str  # "env prod", "overlay cn-ingress", "cluster prod-eu-1"
    specific: bool  # `app NAME { }` (True) or `all { }` (False)
    leaves: list[Leaf]


@frozen
class Conflict:
    """Two different values for one path at one layer and specificity; `kept` won (it came first)."""

    layer: Layer
    kept: Leaf
    kept_source: str
    other: Leaf
    other_source: str

    @property
    def key(self) -> tuple:
        """The same for the same two assignments, whichever came first."""
        return tuple(sorted([(self.kept.span.file, self.kept.span.start), (self.other.span.file, self.other.span.start)]))

    def diagnostic(self, where: str) -> Diagnostic:
        """Reported at the later of the two in the program text; `where`: the clusters both reach."""
        first, second = sorted([self.kept, self.other], key=_position)
        return diagnostic(
            codes.CONFLICTING_ASSIGNMENTS, second.span,
            f"`{'.'.join(self.other.path)}` is set twice at the {self.layer.label} layer, to {_show(first.value)} and "
            f"{_show(second.value)}" + where,
            related=[Related(first.span, "the other assignment")],
            notes=("a cluster matched by both gets no single value; set it once, or move one assignment to a more specific layer "
                   "(app < env < selector overlay < cluster) or into an `app NAME { }` block",),
        )


def winning_leaves(targeted: list[Targeted], layer: Layer) -> tuple[Winners, list[Conflict]]:
    """The winning leaves of one layer, each with its origin, and the conflicts among them."""
    winners: dict[tuple, tuple[Leaf, Origin, bool]] = {}
    found: list[Conflict] = []
    for group in targeted:
        for leaf in group.leaves:
            origin = Origin(layer, leaf.span, group.source, not group.specific)
            previous = winners.get(leaf.path)
            if previous is None or (group.specific and not previous[2]):
                winners[leaf.path] = (leaf, origin, group.specific)
                continue
            if previous[2] and not group.specific:
                continue
            other = previous[0]
            if other.span == leaf.span:
                continue
            if same(other.value, leaf.value):
                # Agreeing assignments: name the same one whatever the declaration order.
                if (origin.source, _position(leaf)) < (previous[1].source, _position(other)):
                    winners[leaf.path] = (leaf, origin, group.specific)
                continue
            found.append(Conflict(layer, other, previous[1].source, leaf, group.source))
    return [(leaf, origin) for leaf, origin, _ in winners.values()], found


def apply_leaves(record: RecordType, values: dict, origins: dict, winners: Winners,
                 missing: list | None = None) -> tuple[dict, dict]:
    """`values` (complete, never mutated) with the winning leaves of higher layers applied, and
    their origins; appends (path, span) to `missing` for each required field of a record a leaf
    made present that nothing sets."""
    if not winners:
        return values, origins
    values, origins = dict(values), dict(origins)
    copied: set[tuple] = {()}
    created: list[tuple[tuple, Type, Leaf]] = []
    touched: list[tuple[tuple, Type]] = []
    for leaf, origin in winners:
        node, type_ = values, record
        for depth, key in enumerate(leaf.path):
            path = leaf.path[: depth + 1]
            child_type = _child_type(type_, key)
            last = depth == len(leaf.path) - 1
            if last and leaf.value is not PRESENT:
                if key not in node:
                    touched.append((leaf.path[:depth], type_))
                node[key] = list_with_defaults(child_type, leaf.value)
                break
            child = node.get(key)
            if not isinstance(child, dict):
                child = {}
                created.append((path, child_type, leaf))
                touched.append((leaf.path[:depth], type_))
            elif path not in copied:
                child = dict(child)
            copied.add(path)
            node[key] = child
            node, type_ = child, child_type
        origins[leaf.path] = origin
    for path, type_, leaf in created:
        if isinstance(type_, RecordType) and not type_.open:
            node = lookup(values, path)
            found: list = []
            filled, _ = fill_defaults(type_, node, origins, path, found)
            node.clear()
            node.update(filled)
            if missing is not None:
                missing.extend((lack, leaf.span) for lack in found)
    for path, type_ in touched:
        if isinstance(type_, RecordType) and not type_.open:
            node = lookup(values, path)
            ordered = {name: node[name] for name in type_.fields if name in node}
            node.clear()
            node.update(ordered)
    return values, origins


# The lowering puts the fleet's `delivery` defaults where the schema's defaults stand: a timing
# a layer sets explicitly must reach its patch even when it equals the value below.
_DELIVERY_TIMINGS = frozenset({(AppField.DELIVERY, "interval"), (AppField.DELIVERY, "timeout"), (AppField.DELIVERY, "retries")})


def layer_patch(values: dict, lower: dict, winners: Winners) -> dict:
    """What a layer changed: `values.patch(values, lower)`, looking only under the top-level keys
    the winners touched (nothing else can differ), plus the delivery timings the winners set."""
    touched = {leaf.path[0] for leaf, _ in winners}
    changed = patch({key: values[key] for key in values if key in touched}, lower)
    for leaf, _ in winners:
        if leaf.path in _DELIVERY_TIMINGS:
            field_name = leaf.path[1]
            changed[AppField.DELIVERY] = {**changed.get(AppField.DELIVERY, {}), field_name: values[AppField.DELIVERY][field_name]}
    return changed


def fill_defaults(record: RecordType, tree: dict, origins: dict, prefix: tuple, missing: list | None = None) -> tuple[dict, dict]:
    """Apply schema defaults to a value tree, in the schema's field order; adds the defaults'
    origins to `origins` and appends the paths of required fields nothing sets to `missing`."""
    result: dict = {}
    for name, info in record.fields.items():
        path = prefix + (name,)
        if name in tree:
            result[name] = _fill_value(info.type, tree[name], origins, path, missing)
        elif info.has_default:
            result[name] = _fill_value(info.type, _copy(info.default), origins, path, missing)
            origins.setdefault(path, default_origin(record.name, name))
        elif not info.optional and missing is not None:
            missing.append(path)
    if record.open:
        for name, value in tree.items():
            result.setdefault(name, value)
    return result, origins


@functools.cache
def default_origin(record: str, field: str) -> Origin:
    """The origin of a schema default, one object per field (Origins are immutable): every app's
    defaults share them."""
    return Origin(Layer.DEFAULT, None, f"{record}.{field}")


def list_with_defaults(type_: Type, value):
    """`value`, and when it is a list of records, each record with its schema defaults (a list is one
    leaf, replaced whole: its records' defaults have no origins of their own, the list's stands for them)."""
    if isinstance(type_, ListType) and isinstance(value, tuple) and isinstance(type_.element, RecordType) and not type_.element.open:
        return tuple(fill_defaults(type_.element, item, {}, ())[0] if isinstance(item, dict) else item for item in value)
    return value


def _fill_value(type_: Type, value, origins, path, missing):
    if isinstance(type_, RecordType) and isinstance(value, dict) and not type_.open:
        return fill_defaults(type_, value, origins, path, missing)[0]
    if isinstance(type_, ListType):
        return list_with_defaults(type_, value)
    if isinstance(type_, MapType) and isinstance(value, dict) and isinstance(type_.value, RecordType):
        return {k: _fill_value(type_.value, v, origins, path + (k,), missing) for k, v in value.items()}
    return value


def _copy(value):
    if isinstance(value, dict):
        return {k: _copy(v) for k, v in value.items()}
    return value


def _child_type(type_: Type, key: str) -> Type:
    if isinstance(type_, RecordType) and key in type_.fields:
        return type_.fields[key].type
    if isinstance(type_, MapType):
        return type_.value
    return AnyType()


def _position(leaf: Leaf) -> tuple[str, int]:
    return (leaf.span.file, leaf.span.start)


def _show(value) -> str:
    return "{...}" if value is PRESENT else describe_value(value)
