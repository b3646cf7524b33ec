"""The disk cache (compiler/core/diskcache.py) and the parse results the command line keeps in it.

- An entry is found again by the same kind and content only; a changed compiler, grammar or
  prelude (the fingerprint) finds nothing.
- Truncated, corrupt, foreign (another key's) and unpicklable entries are ignored, and the
  value is computed again; an unwritable cache directory is no cache at all.
- A reader running beside a writer never sees a half-written entry.
- `gopc` output is byte-identical with and without the cache (cold and warm), under two
  PYTHONHASHSEEDs, and with every entry damaged; `--no-cache` neither reads nor writes it (Lark's
  tables of the grammar, a function of gopc alone, are kept beside it all the same).
"""

from __future__ import annotations

import hashlib
import multiprocessing
import os
import pickle
import shutil
import subprocess
import sys
import time
from pathlib import Path

import pytest

import realtools as rt
from gop.compiler.core.diskcache import DiskCache, fingerprint, gopc_fingerprint, open_disk_cache
from gop.compiler.session import Session
from gop.compiler.syntax.parser import parse

GOPC = Path(sys.executable).with_name("gopc")
EXAMPLE = rt.REPO_ROOT / "examples" / "shop"
TEXT = 'package fleet\n\n/// A web server.\napp hello {\n  image { repository = "r", tag = "1.0.0" }\n}\n'


def entries(directory: Path) -> list[Path]:
    return sorted(path for path in directory.rglob("*") if path.is_file())


def test_a_value_is_found_by_its_kind_and_content_only(tmp_path):
    cache = DiskCache(tmp_path, b"gopc")
    key = cache.key("parse", b"a.gop", b"text")
    assert cache.get("parse", key) is None
    cache.put("parse", key, {"tree": [1, 2]})
    assert cache.get("parse", key) == {"tree": [1, 2]}
    assert cache.key("parse", b"a.gop", b"text") == key
    assert len({key, cache.key("parse", b"a.gop", b"text2"), cache.key("parse", b"a.gopt", b"ext"),
                cache.key("lower", b"a.gop", b"text"), DiskCache(tmp_path, b"gopc 2").key("parse", b"a.gop", b"text")}) == 5
    assert cache.get("lower", key) is None
    assert [p.name for p in entries(tmp_path)] == [key[2:]]  # nothing half-written left beside it


def test_the_fingerprint_follows_the_version_the_code_and_the_grammar(tmp_path):
    code, data = tmp_path / "code", tmp_path / "data"
    (code / "pkg").mkdir(parents=True)
    (code / "pkg" / "m.py").write_text("x = 1\n")
    data.mkdir()
    (data / "gop.lark").write_text("start: A\n")
    (data / "prelude.gop").write_text("package std\n")
    seen = [fingerprint("1", [code], [data])]
    seen.append(fingerprint("2", [code], [data]))
    (code / "pkg" / "m.py").write_text("x = 22\n")
    seen.append(fingerprint("2", [code], [data]))
    (data / "gop.lark").write_text("start: B\n")
    seen.append(fingerprint("2", [code], [data]))
    (data / "prelude.gop").write_text("package st\n")
    seen.append(fingerprint("2", [code], [data]))
    (code / "pkg" / "__pycache__").mkdir()
    (code / "pkg" / "__pycache__" / "m.pyc").write_bytes(b"compiled")
    seen.append(fingerprint("2", [code], [data]))
    assert len(set(seen)) == 5 and seen[-1] == seen[-2]  # compiled files are not the code
    assert gopc_fingerprint() == gopc_fingerprint()


@pytest.mark.parametrize("damage", ["truncated", "flipped", "garbage", "empty", "foreign", "unpicklable"])
def test_a_damaged_or_foreign_entry_is_ignored_and_replaced(tmp_path, damage):
    cache = DiskCache(tmp_path, b"gopc")
    session = Session(disk=cache)
    expected = parse("a.gop", TEXT)
    assert session.parse("a.gop", TEXT) == expected
    [entry] = entries(tmp_path)
    data = entry.read_bytes()
    if damage == "truncated":
        entry.write_bytes(data[:-10])
    elif damage == "flipped":
        entry.write_bytes(data[:-10] + bytes([data[-10] ^ 1]) + data[-9:])
    elif damage == "garbage":
        entry.write_bytes(os.urandom(len(data)))
    elif damage == "empty":
        entry.write_bytes(b"")
    elif damage == "foreign":  # another text's entry under this one's name
        other = cache.key("parse", b"a.gop", TEXT.replace("hello", "world").encode())
        cache.put("parse", other, parse("a.gop", TEXT.replace("hello", "world")))
        shutil.copy(cache._path("parse", other), entry)
    else:  # a well-formed entry whose pickle names a class that does not exist (any more)
        key = entry.parent.name + entry.name
        payload = b"\x80\x04\x95\x1a\x00\x00\x00\x00\x00\x00\x00\x8c\x0bnot_a_module\x94\x8c\x05Thing\x94\x93\x94."
        entry.write_bytes(b"gopc-cache 1\n" + key.encode() + hashlib.blake2b(payload, digest_size=16).digest() + payload)
    assert cache.get("parse", entry.parent.name + entry.name) is None
    assert session.parse("a.gop", TEXT) == expected
    assert cache.get("parse", entry.parent.name + entry.name) == expected  # computed again, and kept


def test_an_unwritable_cache_directory_is_no_cache(tmp_path, monkeypatch):
    (tmp_path / "file").write_text("")
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "file"))
    assert open_disk_cache() is None
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "cache"))
    assert open_disk_cache() is not None
    cache = DiskCache(tmp_path / "file" / "objects", b"gopc")  # where nothing can be written
    cache.put("parse", cache.key("parse", b"x"), 1)
    assert cache.get("parse", cache.key("parse", b"x")) is None


def _write_forever(directory: str, key: str, stop_after: float) -> None:
    cache = DiskCache(Path(directory), b"gopc")
    values = [bytes([n]) * 3_000_000 for n in (1, 2)]
    deadline = time.monotonic() + stop_after
    turn = 0
    while time.monotonic() < deadline:
        cache.put("parse", key, values[turn % 2])
        turn += 1


def test_a_reader_beside_a_writer_never_sees_half_an_entry(tmp_path):
    cache = DiskCache(tmp_path, b"gopc")
    key = cache.key("parse", b"big")
    writer = multiprocessing.get_context("spawn").Process(target=_write_forever, args=(str(tmp_path), key, 3.0))
    writer.start()
    seen = set()
    try:
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline and (len(seen) < 2 or writer.is_alive()):
            value = cache.get("parse", key)
            if value is not None:
                assert value in (b"\x01" * 3_000_000, b"\x02" * 3_000_000)
                seen.add(value[0])
    finally:
        writer.join(timeout=30)
    assert seen == {1, 2}  # both values were read whole, while the other was being written


# ---------------------------------------------------------------- the command line


def gopc(*args, cache: Path, seed: str = "0") -> subprocess.CompletedProcess:
    env = rt.tool_env() | {"XDG_CACHE_HOME": str(cache), "PYTHONHASHSEED": seed}
    done = subprocess.run([str(GOPC), *map(str, args)], capture_output=True, text=True, env=env,
                          stdin=subprocess.DEVNULL, timeout=300)
    assert "Traceback" not in done.stderr
    return done


def tree_bytes(tree: Path) -> dict[str, bytes]:
    return {str(path.relative_to(tree)): path.read_bytes() for path in sorted(tree.rglob("*")) if path.is_file()}


def test_output_is_the_same_with_and_without_the_cache_under_two_hash_seeds(tmp_path):
    program = tmp_path / "shop"
    shutil.copytree(EXAMPLE, program)
    (program / "apps.gop").write_text((program / "apps.gop").read_text() + "\nlet broken = 1 +\n")
    broken = gopc("check", program, "--no-cache", cache=tmp_path / "none")
    assert broken.returncode == 1 and "apps.gop" in broken.stdout + broken.stderr
    for seed, cache in (("1", tmp_path / "cache"), ("2", tmp_path / "cache"), ("3", tmp_path / "cache3")):
        for _ in ("cold", "warm"):
            again = gopc("check", program, cache=cache, seed=seed)
            assert (again.returncode, again.stdout, again.stderr) == (broken.returncode, broken.stdout, broken.stderr)
    assert not (tmp_path / "none" / "gopc" / "objects").exists()  # --no-cache keeps no parse
    shutil.copy(EXAMPLE / "apps.gop", program / "apps.gop")
    reference = gopc("build", program, "-o", tmp_path / "reference", "--no-cache", cache=tmp_path / "none")
    assert reference.returncode == 0 and not (tmp_path / "none" / "gopc" / "objects").exists()
    expected = tree_bytes(tmp_path / "reference")
    for seed in ("1", "2"):
        for run in ("cold", "warm"):
            out = tmp_path / f"out-{seed}-{run}"
            done = gopc("build", program, "-o", out, cache=tmp_path / "cache-build", seed=seed)
            assert done.returncode == 0 and done.stderr == reference.stderr.replace(str(tmp_path / "reference"), str(out))
            assert tree_bytes(out) == expected, (seed, run)
    kept = entries(tmp_path / "cache-build")
    assert kept and all(".partial" not in path.name for path in kept)
    for entry in kept:  # every entry damaged: each is parsed again, the output does not change
        entry.write_bytes(entry.read_bytes()[: len(entry.read_bytes()) // 2])
    done = gopc("build", program, "-o", tmp_path / "out-damaged", cache=tmp_path / "cache-build")
    assert done.returncode == 0 and tree_bytes(tmp_path / "out-damaged") == expected


def test_a_warm_run_reads_the_parses_it_kept(tmp_path):
    cache = tmp_path / "cache"
    assert gopc("check", EXAMPLE, cache=cache).returncode == 0
    kept = {path: path.stat().st_mtime_ns for path in entries(cache / "gopc" / "objects" / "parse")}
    assert len(kept) == len(list(EXAMPLE.rglob("*.gop"))) + 1  # and the prelude's
    assert gopc("check", EXAMPLE, cache=cache).returncode == 0
    assert {path: path.stat().st_mtime_ns for path in entries(cache / "gopc" / "objects" / "parse")} == kept  # none written again
    probe = ("import sys, gop.compiler.cli as c; c.main(['check', sys.argv[1]]); "
             "print(sorted(m for m in sys.modules if m == 'lark' or m.startswith('lark.')))")
    env = rt.tool_env() | {"XDG_CACHE_HOME": str(cache)}
    done = subprocess.run([sys.executable, "-c", probe, str(EXAMPLE)], capture_output=True, text=True, env=env, timeout=120)
    assert done.stdout.strip().splitlines()[-1] == "[]"  # every parse from the cache: Lark is never loaded


def test_the_language_servers_parse_cache_keeps_first_texts_only(tmp_path, monkeypatch):
    from gop.compiler import session
    from gop.compiler.session import ParseCache

    disk = DiskCache(tmp_path, b"gopc")
    parses = ParseCache(disk=disk)
    first = parses.parse("a.gop", TEXT)
    assert first == parse("a.gop", TEXT) and entries(tmp_path) == []  # written once the diagnostics are out
    parses.write_pending()
    assert len(entries(tmp_path)) == 1  # the workspace as opened
    edited = TEXT.replace("1.0.0", "1.0.1")
    assert parses.parse("a.gop", edited) == parse("a.gop", edited)
    parses.write_pending()
    assert len(entries(tmp_path)) == 1  # an edit stays in memory
    monkeypatch.setattr(session, "parse_text", None)  # a new server parses nothing: it reads the tree back
    assert ParseCache(disk=disk).parse("a.gop", TEXT) == first


def test_entries_unused_for_a_month_are_pruned_once_a_day(tmp_path):
    from gop.compiler.core import diskcache

    cache = DiskCache(tmp_path, b"gopc")
    keys = {name: cache.key("parse", name.encode()) for name in ("fresh", "old", "old-but-read")}
    for name, key in keys.items():
        cache.put("parse", key, name)
    month_ago = time.time() - (diskcache.UNUSED_DAYS + 1) * 24 * 3600
    for name in ("old", "old-but-read"):
        os.utime(cache._path("parse", keys[name]), (month_ago, month_ago))
    partial = tmp_path / "parse" / "ab" / "cd.123-4-5.partial"  # what a killed run left
    partial.parent.mkdir(parents=True)
    partial.write_bytes(b"half")
    os.utime(partial, (time.time() - 2 * 24 * 3600,) * 2)
    assert cache.get("parse", keys["old-but-read"]) == "old-but-read"  # a read marks it used
    diskcache.prune_daily(tmp_path)
    assert [cache.get("parse", key) for key in keys.values()] == ["fresh", None, "old-but-read"]
    assert not partial.exists()
    cache.put("parse", keys["old"], "old")
    os.utime(cache._path("parse", keys["old"]), (month_ago, month_ago))
    diskcache.prune_daily(tmp_path)  # pruned less than a day ago: nothing is walked
    assert cache._path("parse", keys["old"]).exists()
    diskcache.prune_daily(tmp_path, now=time.time() + 2 * 24 * 3600)
    assert cache.get("parse", keys["old"]) is None and cache.get("parse", keys["fresh"]) == "fresh"


def test_every_kind_of_declaration_reads_back_as_parsed():
    """A kept tree is the parsed one: same nodes, spans, docs and diagnostics (every example
    program, the standard library and each newer declaration)."""
    texts = {str(path): path.read_text(encoding="utf-8")
             for path in sorted([*rt.REPO_ROOT.glob("examples/**/*.gop"), *rt.REPO_ROOT.glob("stdlib/*.gop")])}
    texts["new.gop"] = ('package fleet\n\n/// A base.\ntemplate web-service for app uses base { replicas = 2 }\n'
                        'defaults for release { namespace = "x" }\nnarrow App { replicas: int(1..10) }\n'
                        'for name, svc in services {\n  app "${name}" uses web { port = svc.port }\n}\n'
                        'let s = "${zone ?? "a"}"\nlet broken = (1 +\n')
    for path, text in texts.items():
        parsed = parse(path, text)
        kept = pickle.loads(pickle.dumps(parsed, protocol=pickle.HIGHEST_PROTOCOL))
        assert kept == parsed and repr(kept) == repr(parsed), path
    assert len(texts) > 10 and parse("new.gop", texts["new.gop"]).diagnostics  # the broken let is reported
