"""Every command that writes (build, render -o, fmt, init, publish) reports an I/O failure as a
diagnostic with a code (E0702), never as an internal error; the build writer never moves or
removes a directory it did not make, whatever its name.

The failures are real where root can meet them too (a path through a regular file, a loop of
symbolic links); permissions are tested as the user `nobody` (setpriv) where this runs as root,
and in-process by making the system call fail.
"""

from __future__ import annotations

import errno
import os
import shutil
import stat
import subprocess
import sys
import tempfile
from collections.abc import Mapping
from pathlib import Path

import pytest

from gop.compiler import cli
from gop.compiler.emit import tree as emit
from gop.compiler.commands import publish
from gop.compiler.session import analyse
from gop.compiler.emit.tree import EmitError, write_tree
from gop.compiler.commands.init import STARTER

from test_emit import V1, siblings, snapshot

SETPRIV = shutil.which("setpriv")
NOBODY = 65534


def starter(directory: Path) -> Path:
    directory.mkdir(parents=True, exist_ok=True)
    for name, text in STARTER.items():
        (directory / name).write_text(text, encoding="utf-8")
    return directory


def assert_reported(err: str, command: str) -> None:
    assert f"gopc {command}: error[E0702]: " in err
    assert "internal error" not in err and "Traceback" not in err


# ---------------------------------------------------------------- directories gopc did not make

def test_user_directories_named_like_gopc_s_are_never_moved_or_removed(tmp_path):
    out = tmp_path / "out"
    mine = [tmp_path / "out.gopc-old", tmp_path / ".out.gopc-notes", tmp_path / ".out.gopc-12345678"]
    for directory in mine:
        (directory / "sub").mkdir(parents=True)
        (directory / "sub" / "keep.txt").write_text(f"{directory.name}\n")
    before = {directory.name: snapshot(directory) for directory in mine}
    write_tree(V1, out)
    write_tree(V1 | {"x": "1"}, out)
    write_tree(V1, out)
    assert {directory.name: snapshot(directory) for directory in mine} == before
    assert not (out / "x").exists() and not (out / "sub").exists()
    assert siblings(out) == sorted(["out", *before])


def test_a_user_directory_named_like_an_interrupted_swap_is_not_taken_for_the_output(tmp_path):
    out = tmp_path / "out"
    (tmp_path / "out.gopc-old" / "data").mkdir(parents=True)
    write_tree(V1, out)
    assert (tmp_path / "out.gopc-old" / "data").is_dir() and not (out / "data").exists()


# ---------------------------------------------------------------- failures that root meets too

def test_an_output_below_a_regular_file_is_reported(tmp_path):
    (tmp_path / "file").write_text("x")
    with pytest.raises(EmitError, match=r"cannot write .*file/out: Not a directory"):
        write_tree(V1, tmp_path / "file" / "out")
    with pytest.raises(EmitError, match=r"cannot write .*file/a/out: Not a directory"):
        write_tree(V1, tmp_path / "file" / "a" / "out")


def test_a_loop_of_symbolic_links_as_the_output_is_reported(tmp_path):
    (tmp_path / "out").symlink_to("loop")
    (tmp_path / "loop").symlink_to("out")
    with pytest.raises(EmitError, match="a loop of symbolic links"):
        write_tree(V1, tmp_path / "out")
    assert siblings(tmp_path / "out") == ["loop", "out"]


def test_a_symlink_to_a_missing_directory_creates_it(tmp_path):
    (tmp_path / "out").symlink_to("real")
    write_tree(V1, tmp_path / "out")
    assert (tmp_path / "out").is_symlink() and (tmp_path / "real" / emit.MANIFEST).is_file()


# ---------------------------------------------------------------- system calls made to fail

def refuse(monkeypatch, module, name: str, error_number: int, when=lambda *args: True):
    real = getattr(module, name)

    def failing(*args, **kwargs):
        if when(*args):
            raise OSError(error_number, os.strerror(error_number), str(args[0]) if args else None)
        return real(*args, **kwargs)

    monkeypatch.setattr(module, name, failing)


def test_a_journal_that_cannot_be_written_is_reported_and_leaves_the_tree(tmp_path, monkeypatch):
    out = tmp_path / "out"
    write_tree(V1, out)
    before = snapshot(out)
    refuse(monkeypatch, emit, "_write_file", errno.EACCES, when=lambda path, data: emit.JOURNAL in path)
    with pytest.raises(EmitError, match="cannot write .*out: Permission denied"):
        write_tree(V1 | {"x": "1"}, out)
    assert snapshot(out) == before and siblings(out) == ["out"]


def test_an_unreadable_directory_in_the_old_tree_is_reported(tmp_path, monkeypatch):
    out = tmp_path / "out"
    write_tree(V1, out)
    refuse(monkeypatch, emit.os, "scandir", errno.EACCES, when=lambda path: str(path).endswith("/charts"))
    with pytest.raises(EmitError, match=r"cannot write .*out: Permission denied \(.*out/charts\)"):
        write_tree(V1 | {"x": "1"}, out)
    assert siblings(out) == ["out"]


def test_cli_build_reports_a_full_disk_as_e0702(tmp_path, monkeypatch, capsys):
    program = starter(tmp_path / "program")
    refuse(monkeypatch, emit, "_write_file", errno.ENOSPC, when=lambda path, data: emit.STAGING in path)
    assert cli.main(["build", str(program), "-o", str(tmp_path / "out")]) == cli.EXIT_ERRORS
    err = capsys.readouterr().err
    assert_reported(err, "build")
    assert "No space left on device" in err and not (tmp_path / "out").exists()  # full while staging: nothing changed
    monkeypatch.undo()
    refuse(monkeypatch, emit.os, "replace", errno.EIO, when=lambda source, target: str(target).endswith("/out/charts"))
    assert cli.main(["build", str(program), "-o", str(tmp_path / "out")]) == cli.EXIT_ERRORS
    err = capsys.readouterr().err
    assert_reported(err, "build")
    assert "Input/output error" in err and "the next build finishes it" in err
    assert (tmp_path / "out" / emit.JOURNAL).is_file()
    monkeypatch.undo()
    assert cli.main(["build", str(program), "-o", str(tmp_path / "out")]) == cli.EXIT_OK
    assert not (tmp_path / "out" / emit.JOURNAL).exists()


def test_cli_build_hands_the_files_over_as_they_are_made(tmp_path, monkeypatch):
    """`gopc build` never holds every chart's bytes at once: `write_tree` gets the lowering's files
    as an iterator (it compares and stages them as they come), not a mapping of them all."""
    program = starter(tmp_path / "program")
    real, given = emit.write_tree, []

    def recording(files, out, **options):
        given.append(files)
        return real(files, out, **options)

    monkeypatch.setattr(emit, "write_tree", recording)
    assert cli.main(["build", str(program), "-o", str(tmp_path / "out")]) == cli.EXIT_OK
    assert len(given) == 1 and not isinstance(given[0], Mapping) and iter(given[0]) is given[0]
    assert (tmp_path / "out" / "charts").is_dir()


def test_cli_render_reports_an_output_below_a_file_as_e0702(tmp_path, capsys):
    program = starter(tmp_path / "program")
    (tmp_path / "file").write_text("x")
    code = cli.main(["render", str(program), "--all-clusters", "-o", str(tmp_path / "file" / "out")])
    assert code == cli.EXIT_ERRORS
    assert_reported(capsys.readouterr().err, "render")


def test_cli_fmt_reports_a_file_it_cannot_replace_as_e0702(tmp_path, monkeypatch, capsys):
    source = tmp_path / "a.gop"
    source.write_text("let   x = 1\n")
    refuse(monkeypatch, tempfile, "mkstemp", errno.EROFS)
    assert cli.main(["fmt", str(source)]) == cli.EXIT_ERRORS
    err = capsys.readouterr().err
    assert_reported(err, "fmt")
    assert "Read-only file system" in err and source.read_text() == "let   x = 1\n"


def test_cli_fmt_keeps_a_symlink_and_formats_its_target(tmp_path, capsys):
    (tmp_path / "real.gop").write_text("let   x = 1\n")
    (tmp_path / "link.gop").symlink_to("real.gop")
    assert cli.main(["fmt", str(tmp_path / "link.gop")]) == cli.EXIT_OK
    assert (tmp_path / "link.gop").is_symlink() and (tmp_path / "real.gop").read_text() == "let x = 1\n"


def test_cli_init_below_a_file_is_e0702(tmp_path, capsys):
    (tmp_path / "file").write_text("x")
    assert cli.main(["init", str(tmp_path / "file" / "fleet")]) == cli.EXIT_USAGE
    assert_reported(capsys.readouterr().err, "init")


def test_publish_reports_a_temporary_directory_it_cannot_write(tmp_path, monkeypatch):
    analysis = analyse([starter(tmp_path / "program")])
    monkeypatch.setenv("GOPC_HELM", sys.executable)  # found; never run, the writing fails first
    refuse(monkeypatch, publish.tempfile, "mkdtemp", errno.ENOSPC)
    with pytest.raises(publish.PublishError, match="cannot write the charts to package: No space left on device"):
        publish.publish_charts(analysis.fleet, "oci://registry.test/charts")


# ---------------------------------------------------------------- real permissions, as nobody

needs_nobody = pytest.mark.skipif(os.geteuid() != 0 or SETPRIV is None,
                                  reason="runs gopc as `nobody`: needs root and setpriv")


@pytest.fixture
def shared_tmp():
    """A directory of `nobody`'s (pytest's own are private to root)."""
    directory = Path(tempfile.mkdtemp(prefix="gopc-io-"))
    os.chown(directory, NOBODY, NOBODY)
    os.chmod(directory, 0o755)
    yield directory
    for path, dirs, _ in os.walk(directory):
        for name in dirs:
            os.chmod(os.path.join(path, name), 0o755)
    shutil.rmtree(directory)


def entries(directory: Path) -> list[str]:
    return sorted(name for name in os.listdir(directory) if name != ".cache")  # gopc's parser cache in $HOME


def as_nobody(*args: str, cwd: Path) -> subprocess.CompletedProcess:
    command = [SETPRIV, f"--reuid={NOBODY}", f"--regid={NOBODY}", "--clear-groups",
               sys.executable, "-m", "gop.compiler.cli", *args]
    environment = {"PATH": os.environ.get("PATH", ""), "HOME": str(cwd), "LANG": "C.UTF-8"}
    return subprocess.run(command, cwd=cwd, env=environment, capture_output=True, text=True, timeout=120)


def owned_by_nobody(path: Path, mode: int) -> Path:
    """`path` (a new directory unless it exists) made nobody's, with `mode`."""
    if not path.exists():
        path.mkdir()
    os.chown(path, NOBODY, NOBODY)
    os.chmod(path, mode)
    return path


@needs_nobody
def test_build_into_a_read_only_output_as_nobody_is_e0702(shared_tmp):
    """The tree is updated in place: a read-only parent does not matter, a read-only output does."""
    program = starter(shared_tmp / "program")
    parent = owned_by_nobody(shared_tmp / "site", 0o755)
    run = as_nobody("build", str(program), "-o", str(parent / "out"), cwd=shared_tmp)
    assert run.returncode == cli.EXIT_OK, run.stderr
    os.chmod(parent, 0o555)
    (program / "envs.gop").write_text(STARTER["envs.gop"].replace("replicas = 3", "replicas = 4"))
    run = as_nobody("build", str(program), "-o", str(parent / "out"), cwd=shared_tmp)
    assert run.returncode == cli.EXIT_OK, run.stderr
    before = snapshot(parent)
    os.chmod(parent / "out", 0o555)
    (program / "envs.gop").write_text(STARTER["envs.gop"].replace("replicas = 3", "replicas = 5"))
    run = as_nobody("build", str(program), "-o", str(parent / "out"), cwd=shared_tmp)
    assert run.returncode == cli.EXIT_ERRORS
    assert_reported(run.stderr, "build")
    assert "Permission denied" in run.stderr and snapshot(parent) == before


@needs_nobody
def test_an_unreadable_directory_in_the_old_tree_as_nobody_is_e0702(shared_tmp):
    program = starter(shared_tmp / "program")
    out = owned_by_nobody(shared_tmp / "out", 0o755)
    owned_by_nobody(out / "notes", 0o000)
    run = as_nobody("build", str(program), "-o", str(out), cwd=shared_tmp)
    assert run.returncode == cli.EXIT_ERRORS
    assert_reported(run.stderr, "build")
    assert "Permission denied" in run.stderr and entries(shared_tmp) == ["out", "program"]


@needs_nobody
def test_a_kept_read_only_directory_does_not_leave_staging_behind_as_nobody(shared_tmp):
    program = starter(shared_tmp / "program")
    out = owned_by_nobody(shared_tmp / "out", 0o755)
    (out / "notes").mkdir()
    (out / "notes" / "todo.txt").write_text("mine\n")
    owned_by_nobody(out / "notes" / "todo.txt", 0o644)
    owned_by_nobody(out / "notes", 0o555)
    for replicas in ("3", "4"):
        (program / "envs.gop").write_text(STARTER["envs.gop"].replace("replicas = 3", f"replicas = {replicas}"))
        run = as_nobody("build", str(program), "-o", str(out), cwd=shared_tmp)
        assert run.returncode == cli.EXIT_OK, run.stderr
    assert entries(shared_tmp) == ["out", "program"]
    assert stat.S_IMODE((out / "notes").stat().st_mode) == 0o555 and (out / "notes" / "todo.txt").read_text() == "mine\n"
