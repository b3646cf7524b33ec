"""Differences between two value trees.

- `patch(upper, lower)`: the tree that, merged over `lower` (`values.merge`), gives `upper`
  where `upper` has keys: what a higher layer adds or changes. Sub-trees `upper` shares with
  `lower` (the same object) are skipped without a walk; an empty map over a non-empty one is
  no change (merging it changes nothing either).
- `changed_paths(old, new)`: the path of every leaf that differs between two plain trees (a list
  of another length counts as one leaf), in sorted key order; list positions are `Position`s.
- `same(a, b)`: equal and of the same type all the way down (1, 1.0 and True differ in the output).

Inputs are never changed.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

from gop.compiler.values.lookup import MISSING


def same(a: Any, b: Any) -> bool:
    """Equal and of the same type all the way down."""
    kind = type(a)
    if kind is not type(b):
        return False
    if kind in _SCALARS:  # most of any tree, first
        return a == b
    if isinstance(a, dict):
        return a.keys() == b.keys() and all(same(value, b[key]) for key, value in a.items())
    if isinstance(a, (list, tuple)):
        return len(a) == len(b) and all(same(x, y) for x, y in zip(a, b))
    return a == b


_SCALARS = frozenset({str, int, float, bool, type(None)})


def patch(upper: dict, lower: dict) -> dict:
    """What `upper` adds to or changes in `lower` (so that merge(lower, patch) == upper where `upper` has keys)."""
    out: dict = {}
    for key, value in upper.items():
        if key not in lower:
            out[key] = value
            continue
        below = lower[key]
        if value is below:
            continue
        if isinstance(value, dict) and isinstance(below, dict):
            inner = patch(value, below)
            if inner:
                out[key] = inner
        elif not same(value, below):
            out[key] = value
    return out


class Position(int):
    """A step of a path into a list (a path's other steps are map keys)."""


def changed_paths(old: Any, new: Any, path: tuple = ()) -> Iterator[tuple]:
    """Paths of the leaves (or of whole lists of another length) that differ."""
    if isinstance(old, dict) and isinstance(new, dict):
        for key in sorted(old.keys() | new.keys(), key=str):
            before, after = old.get(key, MISSING), new.get(key, MISSING)
            if before != after:
                yield from changed_paths(before, after, path + (key,))
    elif isinstance(old, list) and isinstance(new, list) and len(old) == len(new):
        for index, (before, after) in enumerate(zip(old, new)):
            if before != after:
                yield from changed_paths(before, after, path + (Position(index),))
    else:
        yield path
