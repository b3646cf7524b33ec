"""Whether one type is a narrowing of another, for `narrow SCHEMA { field: TYPE }`.

Input: the narrowed type and the field's own type (semantic types). Output: `widening(new, old)`:
None when every value `new` accepts `old` accepts too (as far as it can be decided), else why not,
in words ("its maximum 5000 is above 1000"). Ranges and lengths must lie inside the original ones,
an enum must be a subset (of an enum, or of a string, int or float type), list bounds inside and
elements narrower, map keys and values narrower, a union member by member. A string pattern may
be added where there was none, never replaced: one regular expression cannot be proved narrower
than another. Records narrow only to themselves.

Invariants: pure; never raises on any pair of types.
"""

from __future__ import annotations

from typing import Any

from gop.compiler.semantic.types import (AnyType, BoolType, EnumType, FloatType, IntType, ListType, MapType, StringType, Type,
                                         UnionType, compile_pattern, describe_value)

_BOUNDED = (IntType, FloatType)


def widening(new: Type, old: Type) -> str | None:
    """Why `new` accepts a value that `old` refuses; None when it does not."""
    if isinstance(old, AnyType) or new == old or new is old:
        return None
    if isinstance(new, UnionType):
        return next((reason for reason in (widening(member, old) for member in new.members) if reason), None)
    if isinstance(old, UnionType):
        if any(widening(new, member) is None for member in old.members):
            return None
        return f"it is `{new.describe()}`, which fits none of `{old.describe()}`"
    if isinstance(new, EnumType):
        outside = [value for value in new.values if not _accepts(old, value)]
        return f"it allows {', '.join(describe_value(v) for v in outside)}, which the field refuses" if outside else None
    if type(new) is not type(old):
        return f"it is `{new.describe()}`, not `{old.describe()}`"
    if hasattr(old, "minimum"):
        return _bounds(new.minimum, new.maximum, old.minimum, old.maximum, "minimum", "maximum")
    if isinstance(old, StringType):
        if old.pattern is not None and new.pattern is None:
            return f"it drops the pattern {old.pattern!r}"
        if old.pattern is not None and new.pattern != old.pattern:
            return f"it replaces the pattern {old.pattern!r}, which it cannot be proved to narrow"
        return _bounds(new.min_length, new.max_length, old.min_length, old.max_length, "minimum length", "maximum length")
    if isinstance(old, ListType):
        inner = widening(new.element, old.element)
        if inner:
            return "its elements: " + inner
        return _bounds(new.min_length, new.max_length, old.min_length, old.max_length, "minimum length", "maximum length")
    if isinstance(old, MapType):
        inner = widening(new.key, old.key)
        if inner:
            return "its keys: " + inner
        inner = widening(new.value, old.value)
        return "its values: " + inner if inner else None
    return f"it is `{new.describe()}`, not `{old.describe()}`"


def _bounds(new_low, new_high, old_low, old_high, low_words: str, high_words: str) -> str | None:
    if old_low is not None and (new_low is None or new_low < old_low):
        return f"its {low_words} {_bound(new_low)} is below {old_low}"
    if old_high is not None and (new_high is None or new_high > old_high):
        return f"its {high_words} {_bound(new_high)} is above {old_high}"
    return None


def _bound(value) -> str:
    return "(none)" if value is None else str(value)


def _accepts(old: Type, value: Any) -> bool:
    """Whether a type takes one enum value (the kinds an enum can hold: strings, numbers, bools)."""
    if isinstance(old, AnyType):
        return True
    if isinstance(old, EnumType):
        return value in old.values and any(type(value) is type(v) for v in old.values if v == value)
    if isinstance(old, UnionType):
        return any(_accepts(member, value) for member in old.members)
    if isinstance(value, bool) or isinstance(old, BoolType):
        return isinstance(value, bool) and isinstance(old, BoolType)
    if isinstance(old, StringType):
        return (isinstance(value, str) and (old.min_length is None or len(value) >= old.min_length)
                and (old.max_length is None or len(value) <= old.max_length)
                and (old.pattern is None or compile_pattern(old.pattern).search(value) is not None))
    if isinstance(old, _BOUNDED):
        return (isinstance(value, int) or (isinstance(value, float) and isinstance(old, FloatType))) and \
            (old.minimum is None or value >= old.minimum) and (old.maximum is None or value <= old.maximum)
    return False
