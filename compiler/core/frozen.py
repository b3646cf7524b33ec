"""`frozen`: `@dataclass(frozen=True, slots=True)` with a faster `__init__`.

A frozen dataclass's generated `__init__` stores each field through `object.__setattr__`
(the class's own `__setattr__` refuses). Storing through the slots' descriptors does the
same and costs about half, which matters for the classes built by the hundred thousand:
syntax nodes and spans (a 1000-app fleet has about 120,000 of each).

Pickling calls that `__init__` with the fields (`__reduce__`): the dataclass's own
`__setstate__` sets each field through `object.__setattr__`, and unpickling syntax trees (the
parse cache, `core.diskcache`) costs twice as much that way.

Everything else is the dataclass's own: equality, hashing, repr, `replace`, immutability.
Classes with `__post_init__`, default factories, keyword-only or non-init fields keep the
generated `__init__`.
"""

from __future__ import annotations

import dataclasses
from dataclasses import MISSING


def frozen(cls):
    cls = dataclasses.dataclass(frozen=True, slots=True)(cls)
    fields = dataclasses.fields(cls)
    if hasattr(cls, "__post_init__") or any(
        f.default_factory is not MISSING or not f.init or f.kw_only for f in fields
    ):
        return cls
    namespace = {f"_set_{f.name}": getattr(cls, f.name).__set__ for f in fields}
    namespace.update({f"_default_{f.name}": f.default for f in fields if f.default is not MISSING})
    parameters = ", ".join(f.name if f.default is MISSING else f"{f.name}=_default_{f.name}" for f in fields)
    body = "".join(f"    _set_{f.name}(self, {f.name})\n" for f in fields) or "    pass\n"
    values = "".join(f"self.{f.name}, " for f in fields)
    exec(f"def __init__(self, {parameters}):\n{body}\n"
         f"def __reduce__(self):\n    return self.__class__, ({values})\n", namespace)
    for name in ("__init__", "__reduce__"):
        method = namespace[name]
        method.__qualname__ = f"{cls.__qualname__}.{name}"
        setattr(cls, name, method)
    return cls
