"""lsp/attrs_code.py: attrs's generated methods compiled once, kept on disk, the same code read back."""

from __future__ import annotations

import attr
from attr import _make

from gop.compiler.core.diskcache import DiskCache
from gop.lsp import attrs_code


def make_class():
    @attr.define
    class Point:
        x: int
        y: int = 0

    return Point


def generated(cls) -> dict:
    return {name: value.__code__ for name, value in vars(cls).items()
            if callable(value) and hasattr(value, "__code__") and value.__code__.co_filename.startswith("<attrs generated")}


def entry(disk: DiskCache):
    return disk.get(attrs_code.KIND, disk.key(attrs_code.KIND))


def test_kept_code_is_the_code_attrs_compiles(tmp_path, monkeypatch):
    disk = DiskCache(tmp_path, b"gopc")
    plain = generated(make_class())
    assert plain and entry(disk) is None
    with attrs_code.kept_attrs_code(disk):
        made = generated(make_class())
    assert entry(disk) is not None
    monkeypatch.setattr(attrs_code, "compile", None, raising=False)  # a second start compiles nothing
    with attrs_code.kept_attrs_code(disk):
        cls = make_class()
    kept = generated(cls)
    assert _make._compile_and_eval is not None and _make._compile_and_eval.__module__ == "attr._make"  # restored
    for codes in (made, kept):
        assert codes.keys() == plain.keys()
        for name, code in codes.items():
            assert (code, code.co_filename, code.co_flags) == (plain[name], plain[name].co_filename, plain[name].co_flags)
    assert cls(1, 2) == cls(1, 2) != cls(1) and repr(cls(1)) == "Point(x=1, y=0)"


def test_an_unreadable_entry_is_compiled_again_and_replaced(tmp_path):
    disk = DiskCache(tmp_path, b"gopc")
    disk.put(attrs_code.KIND, disk.key(attrs_code.KIND), b"\x00not marshal")
    with attrs_code.kept_attrs_code(disk):
        cls = make_class()
    assert cls(1) == cls(1)
    assert attrs_code._entry(entry(disk))  # written again, readable


def test_an_attrs_it_does_not_know_or_no_cache_is_left_alone(tmp_path, monkeypatch):
    disk = DiskCache(tmp_path, b"gopc")

    def other(script, globs):  # another signature: another attrs
        exec(compile(script, "", "exec"), globs)

    monkeypatch.setattr(_make, "_compile_and_eval", other)
    with attrs_code.kept_attrs_code(disk):
        assert _make._compile_and_eval is other
    assert entry(disk) is None
    monkeypatch.undo()
    original = _make._compile_and_eval
    with attrs_code.kept_attrs_code(None):
        assert _make._compile_and_eval is original
