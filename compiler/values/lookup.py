"""Lookup of a value by path in a value tree.

Input: a tree (nested dicts, or anything) and a path of keys. Output: the value there, or
`MISSING` when some step is not a dict or lacks the key. Never changes the tree.
"""

from __future__ import annotations

from typing import Any


class _Missing:
    """The marker of a path with no value (distinct from None, a value of its own)."""

    __slots__ = ()

    def __repr__(self) -> str:
        return "MISSING"


MISSING: Any = _Missing()


def lookup(tree: Any, path: tuple) -> Any:
    """The value at `path` in `tree`, or `MISSING`."""
    for key in path:
        if not isinstance(tree, dict) or key not in tree:
            return MISSING
        tree = tree[key]
    return tree
