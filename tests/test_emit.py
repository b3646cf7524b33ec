"""compiler/emit/tree.py: the in-place writer with its journal and ownership manifest.

- Unsafe paths (escaping, absolute, backslashes, the manifest's name, duplicates after
  normalisation, a file that is another's directory) are refused before anything is written.
- The manifest lists exactly the files gopc wrote; the report says what was written, left
  unchanged (same inode), removed and kept. A rebuild that changes nothing writes nothing; new
  files with the same bytes share an inode (copies when the file system allows no more links);
  big trees are written by several threads, with the same guarantees.
- User files, symlinks, empty directories and permissions survive; a user entry where gopc
  writes (at the path, or where gopc needs a directory) stops the build unless forced, and
  gopc never writes through a user's symlink.
- A build that fails or is killed at any point (after any number of its renames, by an
  exception or a real SIGKILL) leaves each file whole, old or new, and a journal; the next build
  makes the tree a build into a new directory makes, whether the program changed since or not.
"""

from __future__ import annotations

import errno
import fcntl
import json
import os
import signal
import stat
import subprocess
import sys
import tracemalloc
from pathlib import Path

import pytest

from gop.compiler.emit import tree as emit
from gop.compiler.emit.tree import MANIFEST, EmitError, write_tree

V1 = {"charts/web/Chart.yaml": "name: web\n", "charts/web/values.yaml": "replicas: 2\n",
      "apps/base/web/release.yaml": "kind: HelmRelease\n", "apps/base/cart/release.yaml": "kind: HelmRelease\n"}


def snapshot(tree: Path) -> dict[str, bytes | str]:
    """Every entry under tree: file bytes, `-> target` for symlinks, `dir` for directories."""
    found: dict[str, bytes | str] = {}
    for directory, dirs, files in os.walk(tree):
        for name in dirs + files:
            path = Path(directory) / name
            relative = path.relative_to(tree).as_posix()
            if path.is_symlink():
                found[relative] = "-> " + os.readlink(path)
            elif path.is_dir():
                found[relative] = "dir"
            elif stat.S_ISFIFO(path.lstat().st_mode):
                found[relative] = "fifo"
            else:
                found[relative] = path.read_bytes()
    return found


def siblings(out: Path) -> list[str]:
    return sorted(path.name for path in out.parent.iterdir())


# ---------------------------------------------------------------- paths

@pytest.mark.parametrize("path", ["../x", "/abs", "a/../../b", "a/../b", "a\\b", "..\\x", MANIFEST, f"sub/{MANIFEST}",
                                  emit.JOURNAL, "a/.b.gopc-new",
                                  "", ".", "a/\x00b"])
def test_unsafe_paths_are_refused_before_writing(tmp_path, path):
    out = tmp_path / "out"
    with pytest.raises(EmitError, match="refusing to write"):
        write_tree({"ok.txt": "fine", path: "bad"}, out)
    assert siblings(out) == []


@pytest.mark.parametrize("files", [{"a/b": "1", "a//b": "2"}, {"a/b": "1", "./a/b": "2"}, {"a": "1", "a/b": "2"}])
def test_paths_that_collide_are_refused(tmp_path, files):
    with pytest.raises(EmitError, match="refusing to write"):
        write_tree(files, tmp_path / "out")
    assert siblings(tmp_path / "out") == []


def test_paths_are_normalised(tmp_path):
    report = write_tree({"./a//b.txt": "x", "c/./d.txt": b"\x00bytes"}, tmp_path / "out")
    assert report.written == ["a/b.txt", "c/d.txt"]
    assert snapshot(tmp_path / "out")["c/d.txt"] == b"\x00bytes"


# ---------------------------------------------------------------- manifest and report

def test_manifest_lists_exactly_the_written_files(tmp_path):
    out = tmp_path / "out"
    report = write_tree(V1, out)
    assert json.loads((out / MANIFEST).read_text()) == {"generator": "gopc", "files": sorted(V1)}
    assert report.written == sorted(V1) and report.unchanged == report.removed == report.kept == []
    assert {path: text for path, text in snapshot(out).items() if text != "dir"} == {
        **{path: text.encode() for path, text in V1.items()}, MANIFEST: (out / MANIFEST).read_bytes()}


def test_rebuild_reports_written_unchanged_removed_and_kept(tmp_path):
    out = tmp_path / "out"
    write_tree(V1, out)
    (out / "README.md").write_text("mine\n")
    inode = (out / "charts/web/Chart.yaml").stat().st_ino
    v2 = {path: text for path, text in V1.items() if "cart" not in path} | {"charts/web/values.yaml": "replicas: 3\n",
                                                                         "charts/web/extra.yaml": "new\n"}
    report = write_tree(v2, out)
    assert report.written == ["charts/web/extra.yaml", "charts/web/values.yaml"]
    assert report.unchanged == ["apps/base/web/release.yaml", "charts/web/Chart.yaml"]
    assert report.removed == ["apps/base/cart/release.yaml"] and report.kept == ["README.md"]
    assert (out / "charts/web/Chart.yaml").stat().st_ino == inode
    assert not (out / "apps/base/cart").exists()
    assert (out / "charts/web/values.yaml").read_text() == "replicas: 3\n" and (out / "README.md").read_text() == "mine\n"
    assert json.loads((out / MANIFEST).read_text())["files"] == sorted(v2)


def test_new_files_with_the_same_bytes_share_an_inode(tmp_path):
    out = tmp_path / "out"
    write_tree({"a.txt": "same\n", "b/c.txt": "same\n", "d.txt": "other\n"}, out)
    inodes = {path: (out / path).stat().st_ino for path in ("a.txt", "b/c.txt", "d.txt")}
    assert inodes["a.txt"] == inodes["b/c.txt"] != inodes["d.txt"]


def test_a_file_system_out_of_links_gets_copies(tmp_path, monkeypatch):
    def no_more_links(source, target):
        raise OSError(errno.EMLINK, "Too many links")

    monkeypatch.setattr(emit.os, "link", no_more_links)
    out = tmp_path / "out"
    write_tree({"a.txt": "same\n", "b.txt": "same\n"}, out)
    assert (out / "b.txt").read_text() == "same\n" and (out / "a.txt").stat().st_ino != (out / "b.txt").stat().st_ino


def test_a_path_on_another_file_system_gets_a_copy_of_the_staged_file(tmp_path, monkeypatch):
    """A directory of the output that is another mount cannot take a rename from the staging
    directory: a new directory is made there file by file, each file's staged bytes copied beside
    its path and renamed over it."""
    real_replace = os.replace

    def across_mounts(source, target):
        if emit.STAGING in str(source) and (str(target).endswith("/charts") or "/charts/" in str(target)):
            raise OSError(errno.EXDEV, "Invalid cross-device link")
        return real_replace(source, target)

    monkeypatch.setattr(emit.os, "replace", across_mounts)
    out = tmp_path / "out"
    assert write_tree(V1, out).written == sorted(V1)  # charts/ is new: made file by file
    changed = V1 | {"charts/web/values.yaml": "replicas: 9\n"}
    assert write_tree(changed, out).written == ["charts/web/values.yaml"]  # a file of charts/web: copied
    assert {path: data for path, data in snapshot(out).items() if data != "dir" and path != MANIFEST} == {
        path: text.encode() for path, text in changed.items()}


def test_a_directory_the_tree_lacks_is_renamed_into_place_whole(tmp_path, monkeypatch):
    """Staged at their paths, a new directory's files appear with one rename of the directory (a new
    tree of 60 files: 7 renames); a file of a directory the tree has is renamed on its own."""
    real_replace, renamed = os.replace, []

    def recording(source, target):
        renamed.append(os.path.relpath(target, out))
        return real_replace(source, target)

    monkeypatch.setattr(emit.os, "replace", recording)
    out = tmp_path / "out"
    files = {f"d{index % 5}/e{index % 3}/f{index}.txt": f"{index}\n" for index in range(60)} | {"top.txt": "0\n"}
    write_tree(files, out)
    assert sorted(renamed) == sorted([emit.JOURNAL, MANIFEST, "top.txt"] + [f"d{index}" for index in range(5)])
    assert (out / "top.txt").stat().st_ino == (out / "d0/e0/f0.txt").stat().st_ino  # a twin of a file of a new directory
    renamed.clear()
    write_tree(files | {"d0/e0/f0.txt": "changed\n", "d0/new/g.txt": "new\n", "d9/h.txt": "changed\n"}, out)
    assert sorted(renamed) == sorted([emit.JOURNAL, MANIFEST, "d0/e0/f0.txt", "d0/new", "d9"])
    assert (out / "d9/h.txt").stat().st_ino == (out / "d0/e0/f0.txt").stat().st_ino  # staged as a link to it
    assert (out / "d0/new/g.txt").read_text() == "new\n" and (out / "d0/e0/f0.txt").read_text() == "changed\n"
    assert not (out / emit.STAGING).exists()


def test_many_entries_are_made_side_by_side(tmp_path, monkeypatch):
    monkeypatch.setattr(emit, "_SIDE_BY_SIDE_FROM", 2)  # threads for trees of any size
    files = {f"d{index % 7}/e{index % 3}/f{index}.txt": f"{index % 5}\n" for index in range(60)}
    out = tmp_path / "out"
    assert write_tree(files, out).written == sorted(files)
    assert {path: text for path, text in snapshot(out).items() if text != "dir" and path != MANIFEST} == {
        path: text.encode() for path, text in files.items()}
    assert len({(out / path).stat().st_ino for path in files}) == 5
    before = snapshot(out)
    real_write_file, real_replace, calls = emit._write_file, os.replace, []

    def failing_third(real):
        def failing(*args):
            calls.append(args[0])
            if len(calls) == 3:
                raise OSError(28, "No space left on device")
            return real(*args)
        return failing

    changed = {path: text + "changed\n" for path, text in files.items()}
    monkeypatch.setattr(emit, "_write_file", failing_third(real_write_file))  # while the new bytes are staged
    with pytest.raises(EmitError, match="No space left on device$"):
        write_tree(changed, out)
    assert snapshot(out) == before  # nothing changed, nothing staged is left
    monkeypatch.setattr(emit, "_write_file", real_write_file)
    calls.clear()
    monkeypatch.setattr(emit.os, "replace", failing_third(real_replace))  # while they are renamed into place
    with pytest.raises(EmitError, match="No space left on device.*partly updated, the next build finishes it"):
        write_tree(changed, out)
    monkeypatch.setattr(emit.os, "replace", real_replace)
    assert_repaired(changed, out, tmp_path)


def test_files_that_come_one_at_a_time_are_never_all_held(tmp_path, monkeypatch):
    """Pairs from a generator are compared and staged a chunk at a time: the bytes held at once
    are about a chunk's, not the tree's."""
    monkeypatch.setattr(emit, "_CHUNK_BYTES", 256 << 10)
    size, count = 64 << 10, 100  # 6.4 MB in all

    def files():
        for index in range(count):
            yield f"charts/app{index:03}/values.schema.json", files_at(index, size)

    out = tmp_path / "out"
    tracemalloc.start()
    try:
        report = write_tree(files(), out)
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    assert len(report.written) == count and (out / "charts/app042/values.schema.json").read_bytes() == files_at(42, size)
    assert peak < count * size // 8, peak
    assert write_tree(files(), out).written == []  # compared a chunk at a time too: the same bytes, nothing written


def files_at(index: int, size: int) -> bytes:
    return index.to_bytes(2, "big") * (size // 2)


@pytest.mark.parametrize("failing", ["files", "notes"])
def test_a_build_whose_files_or_notes_fail_midway_changes_nothing(tmp_path, failing):
    """The producer of the files (a lowering) or of the notes fails after some files have passed:
    the tree is as it was, nothing staged is left, and an output the build made is gone."""
    def files(version):
        yield from version.items()
        if failing == "files":
            raise Boom("the lowering failed after its charts")

    def notes():
        raise Boom("a problem found once every file has passed")

    out = tmp_path / "out"
    write_tree(BEFORE, out)
    (out / "README.md").write_text("mine\n")
    before = snapshot(out)
    with pytest.raises(Boom):
        write_tree(files(V2), out, notes=notes)
    assert snapshot(out) == before
    with pytest.raises(Boom):
        write_tree(files(V2), tmp_path / "new" / "deeper" / "out", notes=notes)
    assert siblings(out) == ["out"]


def test_a_rebuild_that_changes_nothing_writes_nothing(tmp_path, monkeypatch):
    out = tmp_path / "out"
    write_tree(V1, out)
    (out / "README.md").write_text("mine\n")
    before = {path: (out / path).lstat() for path in [".", MANIFEST, *V1]}
    monkeypatch.setattr(emit, "_write_journal", lambda *args: pytest.fail("changes a tree that was already there"))
    report = write_tree(V1, out)
    assert report.unchanged == sorted(V1) and report.written == report.removed == [] and report.kept == ["README.md"]
    assert {path: (out / path).lstat() for path in before} == before


def test_a_removed_file_is_reported_only_when_it_was_there(tmp_path):
    out = tmp_path / "out"
    write_tree(V1, out)
    (out / "apps/base/cart/release.yaml").unlink()
    (out / "apps/base/web/release.yaml").unlink()
    report = write_tree({"charts/web/Chart.yaml": "name: web\n"}, out)
    assert report.removed == ["charts/web/values.yaml"]


def test_an_owned_file_the_user_changed_is_rewritten(tmp_path):
    out = tmp_path / "out"
    write_tree(V1, out)
    (out / "charts/web/values.yaml").write_text("edited by hand\n")
    report = write_tree(V1, out)
    assert report.written == ["charts/web/values.yaml"] and (out / "charts/web/values.yaml").read_text() == "replicas: 2\n"


# ---------------------------------------------------------------- what is not gopc's

def test_user_entries_empty_directories_and_permissions_survive(tmp_path):
    out = tmp_path / "out"
    write_tree(V1, out)
    (out / "notes" / "empty").mkdir(parents=True)
    (out / "notes").chmod(0o750)
    (out / "charts" / "web").chmod(0o700)
    (out / "sub").mkdir()
    (out / "sub" / MANIFEST).write_text("a file of the user's that has the manifest's name\n")
    (out / "link").symlink_to("charts/web")
    os.mkfifo(out / "fifo")
    out.chmod(0o750)
    before = {path: value for path, value in snapshot(out).items() if path != MANIFEST}
    report = write_tree(V1, out)
    assert {path: value for path, value in snapshot(out).items() if path != MANIFEST} == before
    assert report.kept == ["fifo", "link", f"sub/{MANIFEST}"]
    assert stat.S_ISFIFO((out / "fifo").lstat().st_mode)
    modes = {path: stat.S_IMODE((out / path).stat().st_mode) for path in (".", "notes", "charts/web")}
    assert modes == {".": 0o750, "notes": 0o750, "charts/web": 0o700}


def test_a_new_output_directory_gets_the_umasks_permissions(tmp_path):
    mask = os.umask(0o022)
    try:
        write_tree(V1, tmp_path / "out")
    finally:
        os.umask(mask)
    assert stat.S_IMODE((tmp_path / "out").stat().st_mode) == 0o755


@pytest.mark.parametrize("in_the_way", ["file", "symlink-dir", "directory"])
def test_a_user_entry_where_gopc_writes_is_refused_unless_forced(tmp_path, in_the_way):
    out, elsewhere = tmp_path / "out", tmp_path / "elsewhere"
    elsewhere.mkdir()
    out.mkdir()
    if in_the_way == "file":  # at the path of a file
        (out / "charts" / "web").mkdir(parents=True)
        (out / "charts" / "web" / "values.yaml").write_text("mine\n")
        shown = "charts/web/values.yaml"
    elif in_the_way == "symlink-dir":  # where gopc needs a directory
        (out / "charts").symlink_to(elsewhere)
        shown = "charts"
    else:  # a directory at the path of a file
        (out / "charts" / "web" / "values.yaml").mkdir(parents=True)
        (out / "charts" / "web" / "values.yaml" / "x").write_text("mine\n")
        shown = "charts/web/values.yaml"
    before = snapshot(out)
    with pytest.raises(EmitError, match=f"{shown} exists and was not written by gopc.*--force"):
        write_tree(V1, out)
    assert snapshot(out) == before and siblings(out) == ["elsewhere", "out"]
    write_tree(V1, out, force=True)
    assert (out / "charts/web/values.yaml").read_text() == "replicas: 2\n"
    assert not (out / "charts").is_symlink() and list(elsewhere.iterdir()) == []


def test_refuses_an_output_that_is_a_file(tmp_path):
    (tmp_path / "out").write_text("not a directory")
    with pytest.raises(EmitError, match="not a directory"):
        write_tree(V1, tmp_path / "out")


def test_an_output_reached_through_a_symlink_stays_a_symlink(tmp_path):
    (tmp_path / "real").mkdir()
    (tmp_path / "out").symlink_to("real")
    write_tree(V1, tmp_path / "out")
    write_tree(V1 | {"x": "1"}, tmp_path / "out")
    assert (tmp_path / "out").is_symlink() and (tmp_path / "real" / "x").read_text() == "1"
    assert siblings(tmp_path / "out") == ["out", "real"]


# ---------------------------------------------------------------- crashes and kills

# From BEFORE to V2: a file changed, two new twins in new directories and a third in an old one, a
# file removed beside an empty directory of the user's, and one removed with the directories it leaves empty.
BEFORE = V1 | {"apps/old/x/y.yaml": "old\n"}
V2 = {"charts/web/Chart.yaml": "name: web\n", "charts/web/values.yaml": "replicas: 3\n",
      "apps/base/web/release.yaml": "kind: HelmRelease\n", "apps/prod/web/a.yaml": "twin\n",
      "apps/prod/web/b.yaml": "twin\n", "charts/web/twin.yaml": "twin\n"}
V2_RENAMES = 5  # the journal, the new directory apps/prod (whole), 2 files (one a link to a file of it), the manifest


def assert_repaired(files: dict[str, str], out: Path, tmp_path: Path, mine: dict[str, bytes | str] | None = None) -> None:
    """The next build of `files` into `out` makes what a build into a new directory makes (plus `mine`,
    the user's entries), and leaves no journal."""
    write_tree(files, out)
    fresh = tmp_path / f"fresh-{len(list(tmp_path.iterdir()))}"
    write_tree(files, fresh)
    assert snapshot(out) == snapshot(fresh) | (mine or {})


def whole_files(out: Path, *versions: dict[str, str]) -> None:
    """Every file gopc writes in `out` holds all the bytes of one of the versions: none is half written."""
    for path, data in snapshot(out).items():
        if path not in (MANIFEST, emit.JOURNAL, "README.md") and data != "dir" and not path.endswith(".gopc-new") \
                and not path.startswith(emit.STAGING + "/"):  # what a killed build staged: the next removes it
            assert any(data == version.get(path, "").encode() for version in versions), path


class Boom(Exception):
    pass


@pytest.mark.parametrize("failure", [OSError(28, "No space left on device"), Boom("bug"), KeyboardInterrupt()])
@pytest.mark.parametrize("renames", range(V2_RENAMES + 1))  # fails at each rename, or never
@pytest.mark.parametrize("then", ["V2", "V1"])  # the next build: of the same program, or of the one before
def test_a_build_that_fails_after_any_rename_is_repaired_by_the_next(tmp_path, monkeypatch, failure, renames, then):
    out = tmp_path / "out"
    write_tree(BEFORE, out)
    (out / "README.md").write_text("mine\n")
    (out / "apps" / "base" / "cart" / "notes").mkdir()  # an empty directory of the user's, beside a stale file
    real_replace, done = os.replace, []

    def failing_replace(source, target):
        if len(done) == renames:
            raise failure
        done.append(target)
        return real_replace(source, target)

    monkeypatch.setattr(emit.os, "replace", failing_replace)
    try:
        write_tree(V2, out)
        finished = True
    except (EmitError, Boom, KeyboardInterrupt):
        finished = False
    assert finished == (renames >= V2_RENAMES) and (out / emit.JOURNAL).is_file() == (0 < renames < V2_RENAMES)
    monkeypatch.setattr(emit.os, "replace", real_replace)
    whole_files(out, BEFORE, V2)
    mine = {"README.md": b"mine\n", "apps/base/cart": "dir", "apps/base/cart/notes": "dir"}
    assert_repaired(V2 if then == "V2" else BEFORE, out, tmp_path, mine)
    if then == "V2":
        assert not (out / "apps" / "old").exists()


def killed_build(out: Path, files: dict[str, str], renames: int) -> None:
    """A process writes `files` into `out` and kills itself (SIGKILL) after `renames` renames."""
    program = ("import os, signal, sys, json\nfrom pathlib import Path\nfrom gop.compiler.emit import tree as emit\n"
               "real, done = os.replace, []\n"
               "def replace(source, target):\n"
               "    if len(done) == int(sys.argv[2]):\n        os.kill(os.getpid(), signal.SIGKILL)\n"
               "    done.append(target)\n    real(source, target)\n"
               "emit.os.replace = replace\n"
               "emit.write_tree(json.loads(sys.argv[3]), Path(sys.argv[1]))\n")
    run = subprocess.run([sys.executable, "-c", program, str(out), str(renames), json.dumps(files)],
                         capture_output=True, text=True)
    assert run.returncode == -signal.SIGKILL, run.stderr


@pytest.mark.parametrize("renames", [0, 1, 3, V2_RENAMES - 1])
def test_a_build_killed_midway_is_repaired_by_the_next(tmp_path, renames):
    out = tmp_path / "out"
    write_tree(BEFORE, out)
    killed_build(out, V2, renames)
    whole_files(out, BEFORE, V2)
    if renames:
        assert (out / emit.JOURNAL).is_file()
    assert_repaired(BEFORE, out, tmp_path)  # the program went back: what the killed build made goes
    killed_build(out, V2, renames)
    killed_build(out, V2, 1)  # killed twice: the second journal keeps the first's paths too
    assert_repaired(V2, out, tmp_path)


def test_a_journal_an_older_build_left_half_written_is_ignored(tmp_path):
    out = tmp_path / "out"
    write_tree(V1, out)
    (out / f".{emit.JOURNAL}.gopc-new").write_text('{"files": ["charts/w')  # killed while writing it
    (out / f".{MANIFEST}.gopc-new").write_text('{"gener')
    assert write_tree(V1, out).written == []
    assert_repaired(V2, out, tmp_path)


def test_a_damaged_journal_is_repaired_as_if_empty(tmp_path):
    out = tmp_path / "out"
    write_tree(V1, out)
    (out / emit.JOURNAL).write_text("not json")
    assert write_tree(V1, out).written == [] and not (out / emit.JOURNAL).exists()


def test_builds_into_one_output_take_turns(tmp_path):
    out = tmp_path / "out"
    write_tree(V1, out)
    descriptor = os.open(out, os.O_RDONLY)
    fcntl.flock(descriptor, fcntl.LOCK_EX)
    waiting = subprocess.Popen([sys.executable, "-c", "import sys; from pathlib import Path\n"
                                "from gop.compiler.emit.tree import write_tree\nwrite_tree({'x': '1'}, Path(sys.argv[1]))",
                                str(out)])
    try:
        with pytest.raises(subprocess.TimeoutExpired):
            waiting.wait(timeout=1)
        assert not (out / "x").exists()
    finally:
        os.close(descriptor)
    assert waiting.wait(timeout=60) == 0 and (out / "x").read_text() == "1"


@pytest.mark.parametrize("code", [errno.EPERM, errno.EOPNOTSUPP, errno.EXDEV, errno.ENOSYS])
def test_where_no_hard_link_can_be_made_twins_are_copies(tmp_path, monkeypatch, code):
    """FAT and exFAT (EPERM), SMB (EOPNOTSUPP), some FUSE (ENOSYS), another mount under the output
    (EXDEV): a build there writes a copy of each twin, in a new directory and in one the tree has."""
    def no_links(source, target):
        raise OSError(code, os.strerror(code))

    monkeypatch.setattr(emit.os, "link", no_links)
    out = tmp_path / "out"
    first = {"new/a.txt": "same\n", "new/b.txt": "same\n", "top.txt": "same\n"}
    write_tree(first, out)
    second = first | {"new/c.txt": "same\n", "other/d.txt": "same\n", "top2.txt": "same\n"}
    assert write_tree(second, out).written == ["new/c.txt", "other/d.txt", "top2.txt"]
    assert all((out / path).read_text() == "same\n" for path in second)
    assert len({(out / path).stat().st_ino for path in second}) == len(second)


def test_a_staging_directory_of_the_users_is_refused_never_removed(tmp_path):
    out = tmp_path / "out"
    write_tree(V1, out)
    mine = out / emit.STAGING / "notes.md"
    mine.parent.mkdir()
    mine.write_text("mine\n")
    with pytest.raises(EmitError, match="gopc did not make it"):
        write_tree(V1 | {"x.txt": "x\n"}, out)
    assert mine.read_text() == "mine\n" and not (out / "x.txt").exists()
    mine.unlink()  # empty, as a build stopped between making the directory and marking it leaves it
    assert write_tree(V1 | {"x.txt": "x\n"}, out).written == ["x.txt"]
    assert not (out / emit.STAGING).exists()
