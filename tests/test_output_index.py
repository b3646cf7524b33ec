"""The output index (compiler/emit/outputindex.py, disk cache kind `output-index`): a build compares
a file whose status the last build recorded by digest, unread.

- A file recorded, status unchanged, is not read; a file this build wrote, or one read while
  its change was within the file system's tick, is read by the next build.
- A hand edit that keeps the size and puts the modification time back (in place, or replacing the
  file) changes the change time or the inode: the file is read and handled as without an index
  (rewritten when gopc's, reported by `compare_tree`).
- Through any sequence of builds and hand edits, the tree and the reports are those of builds
  without a disk cache.
- The entry is keyed by gopc's fingerprint and the output's real path; a damaged or foreign one is
  not read (every file is); it appears whole (written beside, renamed); `--no-cache` neither reads
  nor writes one.
"""

from __future__ import annotations

import os
import shutil
import time
from pathlib import Path

import pytest

from gop.compiler import cli
from gop.compiler.core import diskcache, settling
from gop.compiler.core.diskcache import DiskCache
from gop.compiler.emit import outputindex
from gop.compiler.emit import tree as emit
from gop.compiler.emit.tree import compare_tree, write_tree
from test_emit import snapshot
from test_runmemo import copy_example, gopc

# More files than `_SIDE_BY_SIDE_FROM`: the reads run in threads too.
FILES = {f"charts/app{n}/values.yaml": f"replicas: {n}\n" for n in range(300)} \
    | {"README.md": "fleet\n", "charts/app0/values.schema.json": "{}" * 3000}
EDITED = "charts/app7/values.yaml"
TICKS = (settling.FINE_SETTLED_NS, settling.SETTLED_NS)  # as they are (one test makes them endless)


@pytest.fixture
def reads(monkeypatch) -> list[str]:
    """The paths emit opened to compare (relative to their output), in order."""
    opened: list[str] = []
    holding = emit._holding

    def counting(path: str, data: bytes):
        opened.append(path.rpartition("/out/")[2])
        return holding(path, data)

    monkeypatch.setattr(emit, "_holding", counting)
    return opened


def settle(out: Path) -> None:
    """Wait out the file system's tick (`core.settling`): what changed within it is not recorded."""
    fine = any(path.lstat().st_mtime_ns % 10**9 for path in out.rglob("*"))
    time.sleep(TICKS[0 if fine else 1] / 1e9 + 0.05)


def recorded(out: Path, disk: DiskCache) -> None:
    """Built twice, settled between: the second build read every file and recorded it."""
    write_tree(FILES, out, disk=disk)
    settle(out)
    write_tree(FILES, out, disk=disk)


def test_a_file_whose_status_is_recorded_is_compared_unread(tmp_path, reads):
    disk, out = DiskCache(tmp_path / "cache", b"gopc"), tmp_path / "out"
    write_tree(FILES, out, disk=disk)
    settle(out)
    assert write_tree(FILES, out, disk=disk).unchanged == sorted(FILES)
    assert sorted(reads) == sorted(FILES)  # nothing recorded yet: every file read
    reads.clear()
    changed = FILES | {"README.md": "a fleet\n", EDITED: "replicas: 8\n"}
    assert write_tree(changed, out, disk=disk).written == ["README.md", EDITED]
    assert reads == []
    assert snapshot(out) == snapshot(out) | {path: data.encode() for path, data in changed.items()}
    settle(out)
    assert write_tree(changed, out, disk=disk).written == []
    assert sorted(reads) == ["README.md", EDITED]  # written by the last build: read once, then recorded
    reads.clear()
    assert write_tree(changed, out, disk=disk).written == [] and reads == []


def test_a_file_changed_within_its_tick_is_read_again(tmp_path, reads, monkeypatch):
    monkeypatch.setattr(settling, "FINE_SETTLED_NS", 10**15)
    monkeypatch.setattr(settling, "SETTLED_NS", 10**15)
    disk, out = DiskCache(tmp_path / "cache", b"gopc"), tmp_path / "out"
    recorded(out, disk)
    reads.clear()
    assert write_tree(FILES, out, disk=disk).unchanged == sorted(FILES)
    assert sorted(reads) == sorted(FILES)


def _edit_in_place(path: Path) -> None:
    with open(path, "r+b") as file:
        file.write(b"REPLICAS")


def _edit_by_replacing(path: Path) -> None:
    beside = path.with_name(path.name + ".swp")
    beside.write_bytes(b"REPLICAS" + path.read_bytes()[8:])
    os.replace(beside, path)


@pytest.mark.parametrize("edit", [_edit_in_place, _edit_by_replacing])
def test_an_edit_keeping_size_and_modification_time_is_seen(tmp_path, reads, edit):
    disk, out = DiskCache(tmp_path / "cache", b"gopc"), tmp_path / "out"
    recorded(out, disk)
    path = out / EDITED
    real = os.path.realpath(out)
    index = outputindex.OutputIndex(disk, real)
    assert index.same(real, [(EDITED, FILES[EDITED].encode())]) == [True]  # recorded, and would be trusted
    before = path.lstat()
    edit(path)
    os.utime(path, ns=(before.st_atime_ns, before.st_mtime_ns))
    after = path.lstat()
    assert (after.st_size, after.st_mtime_ns) == (before.st_size, before.st_mtime_ns)
    assert (after.st_ino, after.st_ctime_ns) != (before.st_ino, before.st_ctime_ns)
    assert index.same(real, [(EDITED, FILES[EDITED].encode())]) == [None]  # the record no longer holds: read it
    reads.clear()
    assert compare_tree(FILES, out, disk=disk).differs == [EDITED]
    assert reads == [EDITED]
    reads.clear()
    assert write_tree(FILES, out, disk=disk).written == [EDITED]  # gopc's file: rewritten, as without an index
    assert reads == [EDITED] and path.read_bytes() == FILES[EDITED].encode()


def test_builds_with_the_index_write_and_report_what_builds_without_do(tmp_path):
    disk = DiskCache(tmp_path / "cache", b"gopc")
    indexed, plain = tmp_path / "indexed" / "out", tmp_path / "plain" / "out"

    def both(files: dict[str, str], **options) -> None:
        assert write_tree(files, indexed, disk=disk, **options) == write_tree(files, plain, **options)
        assert snapshot(indexed) == snapshot(plain)

    def by_hand(change) -> None:
        for out in (indexed, plain):
            change(out)

    def same_size_old_time(out: Path) -> None:
        status = (out / EDITED).lstat()
        _edit_in_place(out / EDITED)
        os.utime(out / EDITED, ns=(status.st_atime_ns, status.st_mtime_ns))

    both(FILES)
    settle(indexed)
    both(FILES)
    both(FILES | {"README.md": "a fleet\n"})
    by_hand(same_size_old_time)
    both(FILES)
    by_hand(lambda out: (out / "README.md").unlink())
    by_hand(lambda out: (out / "notes.txt").write_text("mine\n"))
    settle(indexed)
    both(FILES)
    by_hand(lambda out: (out / "notes.txt").write_text("fleet\n"))
    with pytest.raises(emit.EmitError):  # a user's file where gopc writes, even with gopc's bytes
        write_tree(FILES | {"notes.txt": "fleet\n"}, indexed, disk=disk)
    both(FILES | {"notes.txt": "fleet\n"}, force=True)
    by_hand(same_size_old_time)
    settle(indexed)
    both({path: data for path, data in FILES.items() if path != "README.md"})


def test_the_entry_is_by_gopc_and_by_the_outputs_real_path(tmp_path, reads):
    cache, out = tmp_path / "cache", tmp_path / "out"
    recorded(out, DiskCache(cache, b"gopc"))
    (tmp_path / "link").symlink_to(out)
    reads.clear()
    assert write_tree(FILES, tmp_path / "link", disk=DiskCache(cache, b"gopc")).written == []
    assert reads == []  # the same directory
    assert write_tree(FILES, out, disk=DiskCache(cache, b"gopc 2")).written == []
    assert sorted(reads) == sorted(FILES)  # another gopc's: none of its records
    disk = DiskCache(cache, b"gopc")
    shutil.copytree(out, tmp_path / "copy")
    assert not disk.has(outputindex.KIND, disk.key(outputindex.KIND, os.fsencode(str(tmp_path / "copy"))))


def test_a_damaged_or_foreign_entry_is_not_read(tmp_path, reads):
    disk, out = DiskCache(tmp_path / "cache", b"gopc"), tmp_path / "out"
    recorded(out, disk)
    key = disk.key(outputindex.KIND, os.fsencode(os.path.realpath(out)))
    good = disk.get(outputindex.KIND, key)
    assert isinstance(good, outputindex._Stored) and good.paths.count("\0") + 1 == len(FILES)
    foreign = [None, {"README.md": good.records[:72]}, tuple(good), outputindex._Stored(good.paths.encode(), good.records),
               outputindex._Stored(good.paths, good.records[:-1]), outputindex._Stored(good.paths + "\0extra", good.records)]
    for wrong in foreign:
        disk.put(outputindex.KIND, key, wrong)
        reads.clear()
        assert write_tree(FILES, out, disk=disk).unchanged == sorted(FILES)
        assert sorted(reads) == sorted(FILES), wrong
        assert disk.get(outputindex.KIND, key) == good  # each build keeps its records again
    entry = tmp_path / "cache" / outputindex.KIND / key[:2] / key[2:]
    entry.write_bytes(entry.read_bytes()[:-9])
    reads.clear()
    assert write_tree(FILES, out, disk=disk).unchanged == sorted(FILES) and sorted(reads) == sorted(FILES)
    reads.clear()
    assert write_tree(FILES, out, disk=disk).unchanged == sorted(FILES) and reads == []


def test_the_entry_appears_whole(tmp_path, monkeypatch):
    """Written beside its name and renamed over it: a run reading it meanwhile finds the last one, whole."""
    disk, out = DiskCache(tmp_path / "cache", b"gopc"), tmp_path / "out"
    recorded(out, disk)
    renamed: list[str] = []
    replace = os.replace

    def watching(source, target) -> None:
        if f"/{outputindex.KIND}/" in str(target):
            assert str(source).endswith(".partial")
            reader = outputindex.OutputIndex(DiskCache(tmp_path / "cache", b"gopc"), os.path.realpath(out))
            assert len(reader._offsets) == len(FILES)  # the last build's records, all of them
            renamed.append(str(target))
        replace(source, target)

    monkeypatch.setattr(diskcache.os, "replace", watching)
    write_tree(FILES | {"README.md": "a fleet\n"}, out, disk=disk)  # README.md written: its record goes
    assert len(renamed) == 1
    assert len(outputindex.OutputIndex(disk, os.path.realpath(out))._offsets) == len(FILES) - 1


def test_no_cache_neither_reads_nor_writes_an_index(tmp_path, monkeypatch):
    program = copy_example("shop", tmp_path)
    cache = tmp_path / "cache"
    assert gopc("build", program, "-o", tmp_path / "out", "--no-cache", cache=cache)[0] == 0
    assert not (cache / "gopc" / "objects" / outputindex.KIND).exists()
    assert gopc("build", program, "-o", tmp_path / "out", cache=cache)[0] == 0  # the tree there: read, recorded
    assert (cache / "gopc" / "objects" / outputindex.KIND).is_dir()

    def untouchable(*_) -> None:
        raise AssertionError("the output index opened under --no-cache")

    monkeypatch.setenv("XDG_CACHE_HOME", str(cache))
    monkeypatch.setattr(outputindex.OutputIndex, "__init__", untouchable)
    for check in ((), ("--check",)):
        assert cli.main(["build", str(program), "-o", str(tmp_path / "out"), "--no-cache", "-q", *check]) == 0


def test_an_index_kept_in_memory_spares_hashing_the_bytes_it_checked(tmp_path, reads, monkeypatch):
    """The build server's: the next build into the directory takes the records from memory, and a
    file whose bytes are the very objects checked last time is not hashed; a hand edit is still
    found (its status differs), and a file whose bytes are other objects is hashed."""
    disk, out, indexes = DiskCache(tmp_path / "cache", b"gopc"), tmp_path / "out", {}
    files = {path: data.encode() for path, data in FILES.items()}
    write_tree(files, out, disk=disk, indexes=indexes)
    settle(out)
    write_tree(files, out, disk=disk, indexes=indexes)  # reads every file: records and bytes remembered
    hashed: list[bytes] = []
    digest = outputindex.content_digest
    monkeypatch.setattr(outputindex, "content_digest", lambda data: hashed.append(data) or digest(data))
    monkeypatch.setattr(disk, "get", lambda *_: pytest.fail("the records come from memory"))
    reads.clear()
    again = dict(files) | {"README.md": bytes(bytearray(files["README.md"]))}  # equal bytes, another object
    assert write_tree(again, out, disk=disk, indexes=indexes).unchanged == sorted(FILES)
    assert reads == [] and hashed == [again["README.md"]]
    path = out / EDITED
    status = path.stat()
    path.write_bytes(b"replicas: 9\n")
    os.utime(path, ns=(status.st_atime_ns, status.st_mtime_ns))
    assert write_tree(again, out, disk=disk, indexes=indexes).written == [EDITED]
    assert reads == [EDITED]
    assert (out / EDITED).read_bytes() == files[EDITED]
