"""Layering of value trees, and their plain form.

`merge(lower, higher)`: `higher` over `lower` as Helm and Kustomize merge values: maps merge key
by key, everything else (lists included) is replaced whole. `plain(value)`: the JSON/YAML-ready
form of a runtime value (durations and quantities become strings, secret references
`{secret, key}` maps, resource references names, fractions floats). `plain_merge` is
`plain(merge(...))` when the plain form of the lower tree is known already.

Invariants: inputs are never changed; results share the sub-trees the higher tree leaves alone.
"""

from __future__ import annotations

from fractions import Fraction
from typing import Any

from gop.compiler.semantic.types import Duration, Quantity, ResourceRef, SecretRef


def plain(value: Any) -> Any:
    """JSON/YAML-ready form of a runtime value."""
    if type(value) in _PLAIN_LEAVES:  # the leaves, most of any tree, first
        return value
    if isinstance(value, dict):
        return {key: plain(item) for key, item in value.items()}
    if isinstance(value, (list, tuple)):
        return [plain(item) for item in value]
    if isinstance(value, (Duration, Quantity, ResourceRef)):
        return str(value)
    if isinstance(value, SecretRef):
        return {"secret": value.secret, "key": value.key}
    if isinstance(value, Fraction):
        return float(value)
    return value


_PLAIN_LEAVES = frozenset({str, int, float, bool, type(None)})


def merge(lower: dict[str, Any], higher: dict[str, Any]) -> dict[str, Any]:
    """Deep-merge `higher` over `lower`: maps merge, everything else is replaced."""
    merged = dict(lower)
    for key, value in higher.items():
        if isinstance(value, dict) and isinstance(merged.get(key), dict):
            merged[key] = merge(merged[key], value)
        else:
            merged[key] = value
    return merged


def plain_merge(lower: dict[str, Any], lower_plain: dict[str, Any], higher: dict[str, Any]) -> dict[str, Any]:
    """`plain(merge(lower, higher))` given `lower_plain == plain(lower)`, whose sub-trees that
    `higher` leaves alone become part of the result as they are (shared, not copied)."""
    merged = dict(lower_plain)
    for key, value in higher.items():
        if isinstance(value, dict) and isinstance(lower.get(key), dict):
            merged[key] = plain_merge(lower[key], lower_plain[key], value)
        else:
            merged[key] = plain(value)
    return merged
