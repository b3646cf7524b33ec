"""compiler/emit/tree.py: the atomic writer with its ownership manifest.

- Unsafe paths (escaping, absolute, backslashes, the manifest's name, duplicates after
  normalisation, a file that is another's directory) are refused before anything is written.
- The manifest lists exactly the files gopc wrote; the report says what was written, left
  unchanged (same inode), removed and kept. A rebuild that changes nothing stages nothing; new
  files with the same bytes share an inode (copies when the file system allows no more links);
  big trees are written by several threads, with the same guarantees.
- User files, symlinks, empty directories and permissions survive; a user entry where gopc
  writes (at the path, or where gopc needs a directory) stops the build unless forced, and
  gopc never writes through a user's symlink.
- A crash while staging, or a build killed before or during the swap, leaves the previous
  tree; leftovers of killed builds are cleaned up, a running build's are not.
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


def test_many_entries_are_made_side_by_side(tmp_path, monkeypatch):
    monkeypatch.setattr(emit, "_SIDE_BY_SIDE_FROM", 2)  # threads for trees of any size
    files = {f"d{index % 7}/e{index % 3}/f{index}.txt": f"{index % 5}\n" for index in range(60)}
    out = tmp_path / "out"
    assert write_tree(files, out).written == sorted(files)
    assert {path: text for path, text in snapshot(out).items() if text != "dir" and path != MANIFEST} == {
        path: text.encode() for path, text in files.items()}
    assert len({(out / path).stat().st_ino for path in files}) == 5
    before = snapshot(out)
    real_write_file, writes = emit._write_file, []

    def failing_write_file(path, data):
        writes.append(path)
        if len(writes) == 3:
            raise OSError(28, "No space left on device")
        return real_write_file(path, data)

    monkeypatch.setattr(emit, "_write_file", failing_write_file)
    with pytest.raises(EmitError, match="No space left on device"):
        write_tree({path: text + "changed\n" for path, text in files.items()}, out)
    assert snapshot(out) == before and siblings(out) == ["out"]


def test_a_rebuild_that_changes_nothing_stages_nothing(tmp_path, monkeypatch):
    out = tmp_path / "out"
    write_tree(V1, out)
    (out / "README.md").write_text("mine\n")
    before = {path: (out / path).lstat() for path in [".", MANIFEST, *V1]}
    monkeypatch.setattr(emit, "_staging", lambda out: pytest.fail("staged a tree that was already there"))
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

class Boom(Exception):
    pass


@pytest.mark.parametrize("failure", [OSError(28, "No space left on device"), Boom("bug"), KeyboardInterrupt()])
def test_a_crash_while_staging_leaves_the_old_tree(tmp_path, monkeypatch, failure):
    out = tmp_path / "out"
    write_tree(V1, out)
    (out / "README.md").write_text("mine\n")
    before = snapshot(out)
    writes = []
    real_write_file = emit._write_file

    def failing_write_file(path, data):
        writes.append(path)
        if len(writes) == 2:
            raise failure
        return real_write_file(path, data)

    monkeypatch.setattr(emit, "_write_file", failing_write_file)
    changed = {path: text + "# changed\n" for path, text in V1.items()}
    with pytest.raises(EmitError if isinstance(failure, OSError) else type(failure)) as raised:
        write_tree(changed, out)
    if isinstance(failure, OSError):
        assert "No space left on device" in str(raised.value)
    assert len(writes) == 2 and snapshot(out) == before and siblings(out) == ["out"]


def test_a_failing_swap_leaves_the_old_tree(tmp_path, monkeypatch):
    out = tmp_path / "out"
    write_tree(V1, out)
    before = snapshot(out)
    monkeypatch.setattr(emit, "_exchange", lambda a, b: (_ for _ in ()).throw(OSError(5, "Input/output error")))
    with pytest.raises(EmitError, match="Input/output error"):
        write_tree({"other": "x"}, out)
    assert snapshot(out) == before and siblings(out) == ["out"]


def test_without_an_atomic_exchange_two_renames_do(tmp_path, monkeypatch):
    monkeypatch.setattr(emit, "_exchange", lambda a, b: False)
    out = tmp_path / "out"
    write_tree(V1, out)
    report = write_tree({"charts/web/Chart.yaml": "name: web\n"}, out)
    assert report.unchanged == ["charts/web/Chart.yaml"] and len(report.removed) == 3
    assert siblings(out) == ["out"]


def killed_staging(out: Path, then: str = "") -> Path:
    """What a build killed (SIGKILL) while staging leaves behind: a process opens a staging
    sibling of `out`, runs `then` (Python, with `staging` and `out` bound) and kills itself."""
    program = ("import os, signal, sys\nfrom pathlib import Path\nfrom gop.compiler.emit import tree as emit\n"
               "out = Path(sys.argv[1])\nopened = emit._staging(out)\nstaging = opened.__enter__()\n"
               f"{then}\nprint(staging, flush=True)\nos.kill(os.getpid(), signal.SIGKILL)\n")
    run = subprocess.run([sys.executable, "-c", program, str(out)], capture_output=True, text=True)
    assert run.returncode == -signal.SIGKILL, run.stderr
    return Path(run.stdout.strip())


def test_a_swap_killed_between_its_two_renames_is_finished_by_the_next_build(tmp_path):
    out = tmp_path / "out"
    write_tree(V1, out)
    (out / "README.md").write_text("mine\n")
    killed_staging(out, then='os.rename(out, staging / "old")')  # the first rename happened, the second did not
    report = write_tree(V1, out)
    assert report.unchanged == sorted(V1) and report.kept == ["README.md"] and siblings(out) == ["out"]


def test_leftovers_of_killed_builds_go_but_a_running_builds_staging_stays(tmp_path):
    out = tmp_path / "out"
    write_tree(V1, out)
    dead = killed_staging(out)
    (dead / "tree" / "half-written").write_text("...")
    with emit._staging(out) as running:
        write_tree(V1, out)
        assert siblings(out) == [running.name, "out"]
    write_tree(V1, out)
    assert siblings(out) == ["out"]
