"""Emit pass: a map of relative paths -> text, written atomically into an output directory.

Input: the files to write and the output directory. Output: the directory holds exactly
those files, plus everything gopc did not write there before (user files, symlinks and
directories, empty ones included, are kept), and a manifest `.gopc-manifest.json` listing
the files gopc owns.

Invariants:
- Atomic: the new tree is assembled in a sibling staging directory and swapped in with
  one rename (Linux `renameat2(RENAME_EXCHANGE)`; elsewhere two renames, and a later build
  finishes a swap an interrupted one left half done). A failing or killed build leaves the
  previous tree as it was; the next build removes the staging directory a killed one left
  behind (a running build holds a lock on its own, so it is never taken for a leftover).
- Owned files only: a file removed from the program disappears; nothing gopc did not write
  is overwritten unless `force` is set. That includes a user file or symlink where gopc needs
  a directory, and a user directory where gopc needs a file: without `force` they are
  reported, so gopc never writes through a user's symlink.
- Paths are relative, normalised, unique, and stay inside the output directory.
- Unchanged files keep their inode and mtime (hard-linked from the previous tree), so a
  rebuild changes only the files whose bytes changed. Directories keep their permissions;
  a new output directory gets the usual ones (0777 minus the umask).
"""

from __future__ import annotations

import contextlib
import ctypes
import ctypes.util
import json
import os
import secrets
import shutil
import stat
from dataclasses import dataclass, field
from pathlib import Path, PurePosixPath

MANIFEST = ".gopc-manifest.json"
_OLD_SUFFIX = ".gopc-old"
_STAGING_INFIX = ".gopc-"

try:
    import fcntl
except ImportError:  # not on Windows: leftovers of killed builds are then left in place
    fcntl = None


class EmitError(Exception):
    """The tree cannot be written (unsafe path, a user file in the way, an I/O error)."""


@dataclass(slots=True)
class EmitReport:
    written: list[str] = field(default_factory=list)  # new or changed
    unchanged: list[str] = field(default_factory=list)
    removed: list[str] = field(default_factory=list)  # owned before, gone now
    kept: list[str] = field(default_factory=list)  # user files left in place


@dataclass(slots=True)
class _Existing:
    """What the output directory holds: every non-directory (files, symlinks, ...) and every directory."""

    entries: set[str] = field(default_factory=set)
    directories: set[str] = field(default_factory=set)
    empty_directories: set[str] = field(default_factory=set)


def safe_relative(path: str) -> str:
    pure = PurePosixPath(path)
    if pure.is_absolute() or not pure.parts or any(part in ("..", "") for part in pure.parts) or "\\" in path or "\x00" in path:
        raise EmitError(f"refusing to write `{path}`: it would land outside the output directory")
    if pure.name == MANIFEST:
        raise EmitError(f"refusing to write `{path}`: the name is reserved for gopc's manifest")
    return pure.as_posix()


def write_tree(files: dict[str, str | bytes], out: Path, *, force: bool = False) -> EmitReport:
    shown = Path(out)
    out = _output_directory(shown)
    files = _normalised(files)
    _finish_interrupted_swap(out)
    _remove_leftover_staging(out)
    owned_before = _read_manifest(out)
    existing = _scan(out, shown)
    in_the_way = _user_paths_in_the_way(files, existing, owned_before)
    if in_the_way and not force:
        raise EmitError(
            f"{shown / in_the_way[0]} exists and was not written by gopc"
            + (f" (and {len(in_the_way) - 1} more)" if len(in_the_way) > 1 else "")
            + "; move it away or use --force to overwrite"
        )
    report = EmitReport()
    out.parent.mkdir(parents=True, exist_ok=True)
    staging = _make_staging(out)
    with _locked(staging):
        try:
            _stage(files, out, staging, existing, owned_before, set(in_the_way), report)
            _swap(staging, out)
        except OSError as error:
            shutil.rmtree(staging, ignore_errors=True)
            raise EmitError(f"cannot write {shown}: {error.strerror or error}") from error
        except BaseException:
            shutil.rmtree(staging, ignore_errors=True)
            raise
    return report


def _output_directory(out: Path) -> Path:
    """The real directory to replace: absolute, with symlinks resolved (a symlink to the
    output is followed, not replaced by a directory)."""
    resolved = out.resolve()
    if resolved.parent == resolved:
        raise EmitError(f"refusing to replace `{out}`: it is the file system's root")
    return resolved


def _normalised(files: dict[str, str | bytes]) -> dict[str, str | bytes]:
    normalised: dict[str, str | bytes] = {}
    for path, content in files.items():
        relative = safe_relative(path)
        if relative in normalised:
            raise EmitError(f"refusing to write `{path}`: another path names the same file `{relative}`")
        normalised[relative] = content
    for relative in normalised:
        for parent in PurePosixPath(relative).parents:
            if parent.as_posix() in normalised:
                raise EmitError(f"refusing to write `{relative}`: `{parent}` is a file of the output too")
    return normalised


def _user_paths_in_the_way(files, existing: _Existing, owned_before: set[str]) -> list[str]:
    """Paths not written by gopc that the new tree needs: a user entry at a file's path or at
    one of its directories, and a user directory at a file's path."""
    needed_directories = {parent.as_posix() for path in files for parent in PurePosixPath(path).parents} - {"."}
    clashes = {path for path in existing.entries - owned_before if path in files or path in needed_directories}
    clashes |= {path for path in existing.directories if path in files}
    return sorted(clashes)


def _stage(files, out: Path, staging: Path, existing: _Existing, owned_before: set[str], overwritten: set[str],
           report: EmitReport) -> None:
    for relative in sorted(existing.entries):
        if relative not in files and relative not in owned_before and not _under(relative, overwritten):
            _link_or_copy(out / relative, staging / relative)
            report.kept.append(relative)
    for relative in sorted(existing.empty_directories):
        if not _under(relative, overwritten) and not (staging / relative).exists():
            (staging / relative).mkdir(parents=True)
    made: set[Path] = set()
    for relative in sorted(files):
        parent = (staging / relative).parent
        if parent not in made:
            parent.mkdir(parents=True, exist_ok=True)
            made.add(parent)
    for relative in sorted(files):
        unchanged = _stage_file(relative, files[relative], out, staging, existing)
        (report.unchanged if unchanged else report.written).append(relative)
    manifest = {"generator": "gopc", "files": sorted(files)}
    (staging / MANIFEST).write_text(json.dumps(manifest, indent=2) + "\n", encoding="utf-8")
    for relative in sorted(existing.directories):
        if (staging / relative).is_dir():
            shutil.copymode(out / relative, staging / relative)
    report.removed = sorted(p for p in owned_before if p not in files and p in existing.entries)


def _stage_file(relative: str, content: str | bytes, out: Path, staging: Path, existing: _Existing) -> bool:
    """Put one file into the staging tree; True when it is unchanged (linked from the old tree)."""
    data = content.encode("utf-8") if isinstance(content, str) else content
    target, previous = staging / relative, out / relative
    if relative in existing.entries and _is_regular(previous) and _same_bytes(previous, data):
        _link_or_copy(previous, target)
        return True
    target.write_bytes(data)
    return False


def _under(relative: str, roots: set[str]) -> bool:
    return relative in roots or any(parent.as_posix() in roots for parent in PurePosixPath(relative).parents)


def _read_manifest(out: Path) -> set[str]:
    try:
        data = json.loads((out / MANIFEST).read_text(encoding="utf-8"))
        return {safe_relative(p) for p in data.get("files", [])}
    except (OSError, ValueError, EmitError, AttributeError, TypeError):
        return set()


def _scan(out: Path, shown: Path) -> _Existing:
    if not out.is_dir():
        if out.exists() or out.is_symlink():
            raise EmitError(f"{shown} exists and is not a directory")
        return _Existing()
    existing = _Existing()
    pending = [out]
    while pending:
        directory = pending.pop()
        with os.scandir(directory) as scan:
            children = list(scan)
        if not children and directory != out:
            existing.empty_directories.add(directory.relative_to(out).as_posix())
        for child in children:
            path = Path(child.path)
            relative = path.relative_to(out).as_posix()
            if child.is_dir(follow_symlinks=False):
                existing.directories.add(relative)
                pending.append(path)
            elif relative != MANIFEST:
                existing.entries.add(relative)
    return existing


def _is_regular(path: Path) -> bool:
    try:
        return stat.S_ISREG(path.lstat().st_mode)
    except OSError:
        return False


def _same_bytes(path: Path, data: bytes) -> bool:
    try:
        return path.stat().st_size == len(data) and path.read_bytes() == data
    except OSError:
        return False


def _link_or_copy(source: Path, target: Path) -> None:
    target.parent.mkdir(parents=True, exist_ok=True)
    if source.is_symlink():
        os.symlink(os.readlink(source), target)
        return
    try:
        os.link(source, target)
    except OSError:
        shutil.copy2(source, target)


def _make_staging(out: Path) -> Path:
    """An empty sibling of `out`, with the permissions `out` has (or the umask's for a new one)."""
    while True:
        staging = out.with_name(f".{out.name}{_STAGING_INFIX}{secrets.token_hex(4)}")
        try:
            os.mkdir(staging, 0o777)
            break
        except FileExistsError:
            continue
    if out.is_dir():
        shutil.copymode(out, staging)
    return staging


@contextlib.contextmanager
def _locked(staging: Path):
    """Hold an exclusive lock on the staging directory while this build uses it."""
    if fcntl is None:
        yield
        return
    descriptor = os.open(staging, os.O_RDONLY)
    try:
        fcntl.flock(descriptor, fcntl.LOCK_EX)
        yield
    finally:
        os.close(descriptor)


def _remove_leftover_staging(out: Path) -> None:
    """Remove staging directories of killed builds: those nobody holds a lock on."""
    if fcntl is None or not out.parent.is_dir():
        return
    prefix = f".{out.name}{_STAGING_INFIX}"
    for candidate in out.parent.iterdir():
        if not candidate.name.startswith(prefix) or candidate.is_symlink() or not candidate.is_dir():
            continue
        try:
            descriptor = os.open(candidate, os.O_RDONLY)
        except OSError:
            continue
        try:
            fcntl.flock(descriptor, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except OSError:
            continue  # a running build's
        else:
            shutil.rmtree(candidate, ignore_errors=True)
        finally:
            os.close(descriptor)


def _swap(staging: Path, out: Path) -> None:
    if not out.exists():
        os.rename(staging, out)
        return
    if _exchange(staging, out):
        shutil.rmtree(staging, ignore_errors=True)  # staging now holds the previous tree
        return
    old = out.with_name(out.name + _OLD_SUFFIX)
    shutil.rmtree(old, ignore_errors=True)
    os.rename(out, old)
    os.rename(staging, out)
    shutil.rmtree(old, ignore_errors=True)


def _finish_interrupted_swap(out: Path) -> None:
    old = out.with_name(out.name + _OLD_SUFFIX)
    if old.is_dir():
        if not out.exists():
            os.rename(old, out)  # the swap stopped between its two renames: restore the old tree
        else:
            shutil.rmtree(old, ignore_errors=True)


_RENAME_EXCHANGE = 2


def _exchange(a: Path, b: Path) -> bool:
    """Atomically exchange two directories (Linux renameat2); False where unsupported."""
    libc_name = ctypes.util.find_library("c")
    if libc_name is None:
        return False
    libc = ctypes.CDLL(libc_name, use_errno=True)
    renameat2 = getattr(libc, "renameat2", None)
    if renameat2 is None:
        return False
    at_fdcwd = -100
    result = renameat2(at_fdcwd, os.fsencode(a), at_fdcwd, os.fsencode(b), _RENAME_EXCHANGE)
    return result == 0
