"""The watched output tree (compiler/emit/treewatch.py): in the build server, the next build into a
directory lists and takes the status of only what the kernel says changed.

- A build into a watched tree that nothing touched lists nothing and takes no status; one after
  an edit takes the statuses of what changed.
- Through any sequence of builds and hand changes (edits in place that keep size and time, files
  replaced, a write into a twin or through a link from outside the tree, entries added, removed,
  replaced by a directory moved in, moved within the tree, the output itself replaced), the watched tree is written and
  reported exactly as a tree built without index nor watch.
- The watch gives up, and the build lists the tree, when events were lost; it is not started off
  local file systems or beyond its share of the user's watches; its descriptor is released when
  it is closed or dropped.
"""

from __future__ import annotations

import os
import random
import shutil
import struct
import sys

import pytest

from gop.compiler.core.diskcache import DiskCache
from gop.compiler.session import Session
from gop.compiler.emit import outputindex, treewatch
from gop.compiler.emit import tree as emit
from gop.compiler.emit.tree import write_tree
from test_emit import snapshot
from test_output_index import reads, settle  # noqa: F401 (reads: a fixture)

pytestmark = pytest.mark.skipif(not sys.platform.startswith("linux"), reason="inotify is Linux's")

TWIN = b"kind: ServiceAccount\n"  # the same bytes in every chart: its files share an inode
FILES = {f"charts/app{n}/values.yaml": f"replicas: {n}\n".encode() for n in range(40)} \
    | {f"charts/app{n}/templates/account.yaml": TWIN for n in range(40)} | {"README.md": b"fleet\n"}


@pytest.fixture
def statuses(monkeypatch) -> list[str]:
    """The paths whose status the index took itself (not told by a watch), relative to their output."""
    taken: list[str] = []
    regular = outputindex.regular_status

    def counting(path: str):
        taken.append(path.rpartition("/out/")[2])
        return regular(path)

    monkeypatch.setattr(outputindex, "regular_status", counting)
    return taken


def watched(out, disk, indexes, files=FILES):
    """Built into `out` as the build server builds: settled, then built again so that every file
    has a record; the index kept in `indexes` has a watch."""
    write_tree(files, out, disk=disk, indexes=indexes)
    settle(out)
    write_tree(files, out, disk=disk, indexes=indexes)
    assert indexes[os.path.realpath(out)].watch is not None


def test_a_tree_nothing_touched_is_neither_listed_nor_statused(tmp_path, statuses, reads, monkeypatch):
    disk, out, indexes = DiskCache(tmp_path / "cache", b"gopc"), tmp_path / "out", {}
    watched(out, disk, indexes)
    settle(out)
    scan = emit._scan
    monkeypatch.setattr(emit, "_scan", lambda *_: pytest.fail("a watched tree is not listed"))
    statuses.clear()
    reads.clear()
    compared = []
    same = outputindex.OutputIndex.same
    monkeypatch.setattr(outputindex.OutputIndex, "same", lambda self, out, files: compared.extend(files) or same(self, out, files))
    assert write_tree(FILES, out, disk=disk, indexes=indexes).unchanged == sorted(FILES)
    assert statuses == [] and reads == []
    assert compared == []  # the very bytes checked last time, each file untouched since: not even compared one by one
    again = FILES | {"README.md": bytes(bytearray(FILES["README.md"]))}  # equal bytes, another object
    assert write_tree(again, out, disk=disk, indexes=indexes).unchanged == sorted(FILES)
    assert [path for path, _ in compared] == ["README.md"] and statuses == [] and reads == []
    changed = FILES | {"charts/app3/values.yaml": b"replicas: 30\n"}
    assert write_tree(changed, out, disk=disk, indexes=indexes).written == ["charts/app3/values.yaml"]
    statuses.clear()
    reads.clear()
    assert write_tree(changed, out, disk=disk, indexes=indexes).unchanged == sorted(changed)
    assert statuses == [] and reads == ["charts/app3/values.yaml"]  # written by the last build: no record, read
    settle(out)
    (out / "charts/app5/values.yaml").chmod(0o600)
    statuses.clear()
    assert write_tree(changed, out, disk=disk, indexes=indexes).unchanged == sorted(changed)
    assert statuses == ["charts/app5/values.yaml"]  # its attributes changed: its status taken, the record's no longer
    monkeypatch.setattr(emit, "_scan", scan)


def _edit_in_place_keeping_time(path) -> None:
    status = path.lstat()
    with open(path, "r+b") as file:
        file.write(b"X")
    os.utime(path, ns=(status.st_atime_ns, status.st_mtime_ns))


def _replace_keeping_time(path) -> None:
    status = path.lstat()
    beside = path.with_name(".swap")
    beside.write_bytes(b"Y" + path.read_bytes()[1:])
    os.utime(beside, ns=(status.st_atime_ns, status.st_mtime_ns))
    os.replace(beside, path)


def _write_through_outside_link(path) -> None:
    outside = path.parent.parent.parent.parent / f"outside-{path.parent.name}-{path.name}"
    if outside.exists():
        outside.unlink()
    os.link(path, outside)
    _edit_in_place_keeping_time(outside)


def _replace_directory(directory) -> None:
    """Another directory of the same name moved in: its files copied, one of them edited."""
    moved = directory.with_name(directory.name + ".new")
    shutil.copytree(directory, moved, symlinks=True)
    for path in sorted(moved.rglob("*")):
        if path.is_file() and not path.is_symlink():
            path.write_bytes(b"edited\n")
            break
    shutil.rmtree(directory)
    os.rename(moved, directory)


def _hand_changes(rng: random.Random, out):
    """A hand change to the tree at `out`, picked by `rng` (the same for every tree given the same rng state)."""
    files = sorted(p.relative_to(out).as_posix() for p in out.rglob("*") if p.is_file() and not p.is_symlink()
                   and not p.name.startswith(".gopc"))
    directories = sorted(p.relative_to(out).as_posix() for p in out.rglob("*") if p.is_dir() and not p.is_symlink())
    kind = rng.choice(["in place", "replace", "twin", "outside link", "add file", "add directory", "remove file",
                       "remove directory", "replace directory", "move directory", "chmod", "nothing"])
    file = out / rng.choice(files) if files else None
    directory = out / rng.choice(directories) if directories else None
    twins = [out / f for f in files if f.endswith("account.yaml")]
    return {
        "in place": lambda: file and _edit_in_place_keeping_time(file),
        "replace": lambda: file and _replace_keeping_time(file),
        "twin": lambda: twins and _edit_in_place_keeping_time(rng.choice(twins)),
        "outside link": lambda: twins and _write_through_outside_link(rng.choice(twins)),
        "add file": lambda: directory and (directory / "mine.txt").write_text("mine\n"),
        "add directory": lambda: directory and ((directory / "mine").mkdir(exist_ok=True),
                                                (directory / "mine" / "notes.txt").write_text("notes\n")),
        "remove file": lambda: file and file.unlink(),
        "remove directory": lambda: directory and shutil.rmtree(directory),
        "replace directory": lambda: directory and _replace_directory(directory),
        "move directory": lambda: directory and "/" in str(directory.relative_to(out)) and not (out / "moved").exists()
        and os.rename(directory, out / "moved"),  # to another parent: out of one watched directory into another
        "chmod": lambda: file and file.chmod(0o600),
        "nothing": lambda: None,
    }[kind], kind


@pytest.mark.parametrize("seed", range(6))
def test_a_watched_tree_is_written_and_reported_as_one_built_plainly(tmp_path, seed):
    disk, indexes = DiskCache(tmp_path / "cache", b"gopc"), {}
    trees = {"watched": tmp_path / "w" / "out", "plain": tmp_path / "p" / "out"}
    watched(trees["watched"], disk, indexes)
    write_tree(FILES, trees["plain"])
    rng = random.Random(seed)
    files = dict(FILES)
    for step in range(12):
        if rng.random() < 0.3:
            files[f"charts/app{rng.randrange(45)}/values.yaml"] = f"replicas: {rng.randrange(9)}\n".encode()
        state = rng.getstate()
        for out in trees.values():
            rng.setstate(state)
            change, kind = _hand_changes(rng, out)
            change()
        watch = indexes[os.path.realpath(trees["watched"])].watch
        if watch is not None and watch.refresh():  # what the build will take from it: the listing of a scan
            scanned = emit._scan(trees["watched"], trees["watched"])
            assert watch.listing() == (scanned.entries, scanned.directories, scanned.empty_directories), (step, kind)
        reports = {}
        for name, out in trees.items():
            try:
                reports[name] = write_tree(files, out, force=True, disk=disk if name == "watched" else None,
                                           indexes=indexes if name == "watched" else None)
            except emit.EmitError as error:
                reports[name] = str(error).replace(str(out), "OUT")
        assert reports["watched"] == reports["plain"], (step, kind)
        assert snapshot(trees["watched"]) == snapshot(trees["plain"]), (step, kind)
        if rng.random() < 0.5:
            settle(trees["watched"])
    assert indexes[os.path.realpath(trees["watched"])].watch is not None  # the sequence ran watched


def test_the_output_replaced_is_listed_anew(tmp_path, monkeypatch):
    disk, out, indexes = DiskCache(tmp_path / "cache", b"gopc"), tmp_path / "out", {}
    watched(out, disk, indexes)
    first = indexes[str(out)].watch
    shutil.rmtree(out)
    out.mkdir()
    (out / "README.md").write_text("mine\n")
    with pytest.raises(emit.EmitError, match="was not written by gopc"):
        write_tree(FILES, out, disk=disk, indexes=indexes)
    assert first._descriptor is None  # it could not vouch: closed
    assert write_tree(FILES, out, force=True, disk=disk, indexes=indexes).written == sorted(FILES)


def test_lost_events_make_the_build_list_the_tree(tmp_path, monkeypatch):
    disk, out, indexes = DiskCache(tmp_path / "cache", b"gopc"), tmp_path / "out", {}
    watched(out, disk, indexes)
    watch = indexes[str(out)].watch
    overflow = struct.pack("iIII", -1, 0x4000, 0, 0)
    monkeypatch.setattr(treewatch.TreeWatch, "_read", lambda self: overflow)
    (out / "README.md").write_bytes(b"edited\n")  # the event lost with the others
    scanned = []
    scan = emit._scan
    monkeypatch.setattr(emit, "_scan", lambda *a: scanned.append(a) or scan(*a))
    assert write_tree(FILES, out, disk=disk, indexes=indexes).written == ["README.md"]
    assert scanned and watch._descriptor is None


def test_not_watched_off_local_file_systems(tmp_path, monkeypatch):
    mounts = tmp_path / "mountinfo"
    mounts.write_text(f"36 25 0:32 / / rw - ext4 /dev/sda1 rw\n"
                      f"37 36 0:40 / {tmp_path} rw,relatime - nfs4 server:/export rw\n")
    assert treewatch.file_system(str(tmp_path / "out"), str(mounts)) == "nfs4"
    assert treewatch.file_system("/elsewhere", str(mounts)) == "ext4"
    spaced = tmp_path / "nä me"  # the table writes a space as \040, other bytes as they are
    mounts.write_text(mounts.read_text() + f"38 37 0:41 / {str(spaced).replace(' ', chr(92) + '040')} rw - tmpfs tmpfs rw\n")
    assert treewatch.file_system(str(spaced / "out"), str(mounts)) == "tmpfs"  # not the NFS mount it is in
    monkeypatch.setattr(treewatch, "file_system", lambda path: "nfs4")
    disk, out, indexes = DiskCache(tmp_path / "cache", b"gopc"), tmp_path / "out", {}
    write_tree(FILES, out, disk=disk, indexes=indexes)
    assert indexes[str(out)].watch is None
    assert indexes[str(out)].watch_refused == "on a file system (nfs4) whose changes made elsewhere are not notified"
    monkeypatch.setattr(treewatch.TreeWatch, "start", lambda *_: pytest.fail("not tried again"))
    assert write_tree(FILES, out, disk=disk, indexes=indexes).unchanged == sorted(FILES)


def _descriptors() -> int:
    return len(os.listdir("/proc/self/fd"))


def test_beyond_its_share_of_watches_it_is_not_started_and_holds_nothing(tmp_path, monkeypatch):
    (tmp_path / "out").mkdir()
    for n in range(10):
        (tmp_path / "out" / f"file{n}").write_text("x\n")
    before = _descriptors()
    monkeypatch.setattr(treewatch, "_watch_budget", lambda: 5)
    with pytest.raises(treewatch.Unwatched, match="more than 5 watches"):
        treewatch.TreeWatch.start(str(tmp_path / "out"))
    assert _descriptors() == before


def test_the_descriptor_is_released_when_closed_or_dropped(tmp_path):
    (tmp_path / "out").mkdir()
    before = _descriptors()
    watch = treewatch.TreeWatch.start(str(tmp_path / "out"))
    assert watch.watches() == 1 and _descriptors() == before + 1
    watch.close()
    watch.close()
    assert _descriptors() == before and watch.watches() == 0
    watch = treewatch.TreeWatch.start(str(tmp_path / "out"))
    assert _descriptors() == before + 1
    del watch
    assert _descriptors() == before


def test_a_process_keeps_the_indexes_and_watches_of_its_last_two_outputs(tmp_path):
    disk, indexes = DiskCache(tmp_path / "cache", b"gopc"), {}
    outs = [tmp_path / f"out{n}" for n in range(3)]
    for out in outs[:2]:
        write_tree(FILES, out, disk=disk, indexes=indexes)
    first = indexes[str(outs[0])].watch
    write_tree(FILES, outs[2], disk=disk, indexes=indexes)
    assert list(indexes) == [str(outs[1]), str(outs[2])]
    assert first._descriptor is None  # released at once, not when the collector finds it
    kept = [index.watch for index in indexes.values()]
    session = Session(disk=disk)
    session.output_indexes = indexes
    session.drop_outputs()  # the build server drops a session
    assert indexes == {} and all(watch._descriptor is None for watch in kept)
