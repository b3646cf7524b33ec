"""Memos keyed by an object's identity, for objects that are costly to hash or not hashable at all
(app models, value trees, types).

Input: a table (a dict the caller owns, with the lifetime of its cache), the object, and how to
make its value. Output: the value, made once per object. Invariant: an entry holds its object, so
no other object can take that id while the entry lives; an entry found for another object is
made again.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TypeVar

Value = TypeVar("Value")


def by_identity(table: dict[int, tuple[object, Value]], key: object, make: Callable[[], Value]) -> Value:
    """`make()` for `key`, worked out once while `table` keeps it."""
    known = table.get(id(key))
    if known is None or known[0] is not key:
        known = table[id(key)] = (key, make())
    return known[1]
