"""`frozen`: `@dataclass(frozen=True, slots=True)` with a faster `__init__`, made faster.

A frozen dataclass's generated `__init__` stores each field through `object.__setattr__`
(the class's own `__setattr__` refuses). Storing through the slots' descriptors does the
same and costs about half, which matters for the classes built by the hundred thousand:
syntax nodes and spans (a 1000-app fleet has about 120,000 of each).

Pickling calls that `__init__` with the fields (`__reduce__`): the dataclass's own
`__setstate__` sets each field through `object.__setattr__`, and unpickling syntax trees (the
parse cache, `core.diskcache`) costs twice as much that way.

Making the class costs less too, which every `gopc check` pays at import (the syntax tree alone
has 60 classes): `dataclasses` compiles each generated method on its own and computes a
docstring from the signature, about 1 ms a class; here `__init__`, `__reduce__`, `__repr__`,
`__eq__` and `__hash__` are compiled together, as the dataclass would write them (the fields'
`repr`, `compare` and `hash` flags apply; a `__repr__` is not guarded against recursion: these
are trees), and the docstring is the one the dataclass would give.

Everything else is the dataclass's own: the fields (`dataclasses.fields`, `replace`),
immutability, `__match_args__`, the slots. Classes with `__post_init__`, default factories,
keyword-only or non-init fields, or their own `__eq__`, `__hash__` or `__repr__`, are plain
frozen dataclasses (with the generated `__init__`).
"""

from __future__ import annotations

import dataclasses
from dataclasses import MISSING

_OWN_METHODS = ("__eq__", "__hash__", "__repr__")


def frozen(cls):
    if hasattr(cls, "__post_init__") or any(name in cls.__dict__ for name in _OWN_METHODS) or any(
        isinstance(value, dataclasses.Field) and (value.default_factory is not MISSING or not value.init
                                                  or value.kw_only is True)
        for value in cls.__dict__.values()
    ):
        return dataclasses.dataclass(frozen=True, slots=True)(cls)
    documented = bool(cls.__dict__.get("__doc__"))
    if not documented:
        cls.__doc__ = "-"  # the dataclass would compute one from the signature: see below
    cls = dataclasses.dataclass(frozen=True, slots=True, init=False, repr=False, eq=False)(cls)
    fields = dataclasses.fields(cls)
    if any(f.default_factory is not MISSING or not f.init or f.kw_only for f in fields):  # inherited
        raise TypeError(f"{cls.__qualname__}: @frozen takes no default factory, keyword-only or non-init field")
    namespace = {f"_set_{f.name}": getattr(cls, f.name).__set__ for f in fields}
    namespace.update({f"_default_{f.name}": f.default for f in fields if f.default is not MISSING})
    exec(_methods_source(fields), namespace)
    for name in ("__init__", "__reduce__", *_OWN_METHODS):
        method = namespace[name]
        method.__qualname__ = f"{cls.__qualname__}.{name}"
        setattr(cls, name, method)
    if not documented:
        cls.__doc__ = cls.__name__ + "(" + ", ".join(_parameter(f) for f in fields) + ")"
    return cls


def _methods_source(fields) -> str:
    parameters = ", ".join(f.name if f.default is MISSING else f"{f.name}=_default_{f.name}" for f in fields)
    body = "".join(f"    _set_{f.name}(self, {f.name})\n" for f in fields) or "    pass\n"
    values = "".join(f"self.{f.name}, " for f in fields)
    shown = ", ".join(f"{f.name}={{self.{f.name}!r}}" for f in fields if f.repr)
    compared = [f.name for f in fields if f.compare]
    hashed = [f.name for f in fields if f.hash or (f.hash is None and f.compare)]
    return (f"def __init__(self, {parameters}):\n{body}\n"
            f"def __reduce__(self):\n    return self.__class__, ({values})\n"
            f"def __repr__(self):\n    return f\"{{self.__class__.__qualname__}}({shown})\"\n"
            f"def __eq__(self, other):\n    if other.__class__ is self.__class__:\n"
            f"        return ({''.join(f'self.{n}, ' for n in compared)}) == ({''.join(f'other.{n}, ' for n in compared)})\n"
            f"    return NotImplemented\n"
            f"def __hash__(self):\n    return hash(({''.join(f'self.{n}, ' for n in hashed)}))\n")


def _parameter(f) -> str:
    """How `inspect.signature` shows the field's parameter (the dataclass's docstring is that signature)."""
    annotation = f.type if isinstance(f.type, str) else getattr(f.type, "__name__", repr(f.type))
    text = f"{f.name}: {annotation!r}" if isinstance(f.type, str) else f"{f.name}: {annotation}"
    return text if f.default is MISSING else f"{text} = {f.default!r}"
