"""The protocol's types (lsprotocol, pygls) imported with the methods attrs writes for them compiled
once, not at every start of the server.

Input: the disk cache (`core.diskcache`; None: there is none). Output: `import_protocol(disk)`
imports `lsprotocol.types` and `pygls.server`. attrs writes each class's `__init__`, `__eq__`...
as source text and compiles it as the class is made; lsprotocol.types makes some 550 classes as it
is imported, and those compiles were half of that import's time (about 0.2 s of CPU, a sixth of
the time to a workspace's first diagnostics). The code objects are kept on disk, one entry of
kind `attrs-code` (marshalled `{(file name, source): code}`), and found by their source text: a
newer attrs or lsprotocol compiles what it writes differently, and the entry is written again
with what this import used.

Invariants: a class made from a kept code object is the one attrs would make (the same source,
file name and compiler flags: the `__future__` flags attrs's own `compile` inherits); without a
disk cache, with an unreadable entry, or with an attrs whose `_make._compile_and_eval` is not the
one this knows, the import compiles as usual. attrs is patched only while the import runs (the
server's first thread, before any other starts) and restored after it.
"""

from __future__ import annotations

import __future__
import contextlib
import functools
import marshal
import operator
from types import CodeType

KIND = "attrs-code"
_FUTURE_FLAGS = functools.reduce(operator.or_, (getattr(__future__, name).compiler_flag for name in __future__.all_feature_names))
_KNOWN_SIGNATURE = ("script", "globs", "locs", "filename")  # attrs 22.2 to 26


def import_protocol(disk) -> None:
    """Import lsprotocol's types and pygls's server, with attrs's compiles kept in `disk`."""
    with kept_attrs_code(disk):
        import lsprotocol.types  # noqa: F401
        import pygls.server  # noqa: F401


@contextlib.contextmanager
def kept_attrs_code(disk):
    """While inside: attrs compiles each method's source once per disk cache (see the module doc)."""
    from attr import _make

    original = getattr(_make, "_compile_and_eval", None)
    code = getattr(original, "__code__", None)
    if disk is None or code is None or code.co_varnames[:code.co_argcount] != _KNOWN_SIGNATURE:
        yield
        return
    key = disk.key(KIND)
    kept = _entry(disk.get(KIND, key))
    used: dict[tuple[str, str], CodeType] = {}
    flags = code.co_flags & _FUTURE_FLAGS  # what attrs's `compile` inherits from its module

    def compile_and_eval(script, globs, locs=None, filename=""):
        compiled = kept.get((filename, script))
        if compiled is None:
            compiled = compile(script, filename, "exec", flags=flags, dont_inherit=True)
        used[filename, script] = compiled
        eval(compiled, globs, locs)

    _make._compile_and_eval = compile_and_eval
    try:
        yield
    finally:
        _make._compile_and_eval = original
    if used.keys() - kept.keys():
        disk.put(KIND, key, marshal.dumps(used))


def _entry(value) -> dict[tuple[str, str], CodeType]:
    """The kept code objects, or none when the entry is missing or not what `kept_attrs_code` writes."""
    if not isinstance(value, bytes):
        return {}
    try:
        kept = marshal.loads(value)
    except (EOFError, ValueError, TypeError):
        return {}
    if not isinstance(kept, dict):
        return {}
    return {key: code for key, code in kept.items() if isinstance(code, CodeType)
            and isinstance(key, tuple) and len(key) == 2 and all(isinstance(part, str) for part in key)}
