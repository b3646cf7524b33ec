"""Memos keyed by an object's identity, for objects that are costly to hash or not hashable at all
(app models, value trees, types), and memos that last a few rounds (analyses) of a session.

Input: a table (a dict the caller owns, with the lifetime of its cache), the object, and how to
make its value. Output: the value, made once per object. Invariant: an entry holds its object, so
no other object can take that id while the entry lives; an entry found for another object is
made again. `RoundMemo` (by identity) and `RoundTable` (by a hashable key, such as a digest of
what the value is made from) keep what the last few rounds made or used, and nothing else.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, TypeVar

Value = TypeVar("Value")


def by_identity(table: dict[int, tuple[object, Value]], key: object, make: Callable[[], Value]) -> Value:
    """`make()` for `key`, worked out once while `table` keeps it."""
    known = table.get(id(key))
    if known is None or known[0] is not key:
        known = table[id(key)] = (key, make())
    return known[1]


class RoundTable:
    """Values by a hashable key, for the last `rounds` rounds that made or used them."""

    def __init__(self, rounds: int) -> None:
        self._rounds: list[dict[Any, Any]] = [{} for _ in range(rounds)]  # newest first

    def get(self, key: Any) -> Any | None:
        for kept in self._rounds:
            value = kept.get(key)
            if value is not None:
                self._rounds[0][key] = value
                return value
        return None

    def put(self, key: Any, value: Any) -> None:
        self._rounds[0][key] = value

    def next_round(self) -> None:
        self._rounds = [{}] + self._rounds[:-1]

    def __len__(self) -> int:
        return len(set().union(*self._rounds))


class RoundMemo(RoundTable):
    """Values by the identity of an object, for the last `rounds` rounds (analyses) that made or
    used them: a `RoundTable` by the object's id, each entry with its object. An entry keeps its
    object alive, so an id is never reused while it is here; what none of those rounds used is gone."""

    def get(self, key: object) -> Any | None:  # `RoundTable.get`, inlined: it runs for every app of every analysis
        for kept in self._rounds:
            entry = kept.get(id(key))
            if entry is not None:
                if entry[0] is not key:
                    return None
                self._rounds[0][id(key)] = entry
                return entry[1]
        return None

    def put(self, key: object, value: Any) -> None:
        self._rounds[0][id(key)] = (key, value)
