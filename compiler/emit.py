"""Emit pass: a map of relative paths -> text, written atomically into an output directory.

Input: the files to write and the output directory. Output: the directory holds exactly
those files, plus every file gopc did not write there before (user files are kept), and a
manifest `.gopc-manifest.json` listing the files gopc owns.

Invariants:
- Atomic: the new tree is assembled in a sibling temporary directory and swapped in with
  one rename (Linux `renameat2(RENAME_EXCHANGE)`; elsewhere two renames, and a later build
  finishes a swap an interrupted one left half done). A failing or killed build leaves the
  previous tree as it was.
- Owned files only: a file removed from the program disappears; a file gopc did not write
  is never overwritten unless `force` is set.
- Paths are relative, normalised, and stay inside the output directory.
- Unchanged files keep their inode and mtime (hard-linked from the previous tree), so a
  rebuild changes only the files whose bytes changed.
"""

from __future__ import annotations

import ctypes
import ctypes.util
import json
import os
import shutil
import tempfile
from dataclasses import dataclass, field
from pathlib import Path, PurePosixPath

MANIFEST = ".gopc-manifest.json"
_OLD_SUFFIX = ".gopc-old"


class EmitError(Exception):
    """The tree cannot be written (unsafe path, a user file in the way, an I/O error)."""


@dataclass(slots=True)
class EmitReport:
    written: list[str] = field(default_factory=list)  # new or changed
    unchanged: list[str] = field(default_factory=list)
    removed: list[str] = field(default_factory=list)  # owned before, gone now
    kept: list[str] = field(default_factory=list)  # user files left in place


def safe_relative(path: str) -> str:
    pure = PurePosixPath(path)
    if pure.is_absolute() or not pure.parts or any(part in ("..", "") for part in pure.parts) or "\\" in path or "\x00" in path:
        raise EmitError(f"refusing to write `{path}`: it would land outside the output directory")
    if pure.name == MANIFEST:
        raise EmitError(f"refusing to write `{path}`: the name is reserved for gopc's manifest")
    return pure.as_posix()


def write_tree(files: dict[str, str | bytes], out: Path, *, force: bool = False) -> EmitReport:
    out = Path(out)
    files = {safe_relative(path): content for path, content in files.items()}
    _finish_interrupted_swap(out)
    owned_before = _read_manifest(out)
    existing = _existing_files(out)
    report = EmitReport()
    clashes = sorted(p for p in files if p in existing and p not in owned_before)
    if clashes and not force:
        raise EmitError(
            f"{out}/{clashes[0]} exists and was not written by gopc"
            + (f" (and {len(clashes) - 1} more)" if len(clashes) > 1 else "")
            + "; move it away or use --force to overwrite"
        )
    out.parent.mkdir(parents=True, exist_ok=True)
    staging = Path(tempfile.mkdtemp(prefix=f".{out.name}.gopc-", dir=out.parent))
    try:
        for relative in sorted(existing):
            if relative not in files and relative not in owned_before:
                _link_or_copy(out / relative, staging / relative)
                report.kept.append(relative)
        for relative in sorted(files):
            data = files[relative].encode("utf-8") if isinstance(files[relative], str) else files[relative]
            target = staging / relative
            target.parent.mkdir(parents=True, exist_ok=True)
            previous = out / relative
            if previous.is_file() and not previous.is_symlink() and _same_bytes(previous, data):
                _link_or_copy(previous, target)
                report.unchanged.append(relative)
            else:
                target.write_bytes(data)
                report.written.append(relative)
        manifest = {"generator": "gopc", "files": sorted(files)}
        (staging / MANIFEST).write_text(json.dumps(manifest, indent=2) + "\n", encoding="utf-8")
        report.removed = sorted(p for p in owned_before if p not in files)
        _swap(staging, out)
    except OSError as error:
        shutil.rmtree(staging, ignore_errors=True)
        raise EmitError(f"cannot write {out}: {error.strerror or error}") from error
    except BaseException:
        shutil.rmtree(staging, ignore_errors=True)
        raise
    return report


def _read_manifest(out: Path) -> set[str]:
    try:
        data = json.loads((out / MANIFEST).read_text(encoding="utf-8"))
        return {safe_relative(p) for p in data.get("files", [])}
    except (OSError, ValueError, EmitError, AttributeError):
        return set()


def _existing_files(out: Path) -> set[str]:
    if not out.is_dir():
        if out.exists():
            raise EmitError(f"{out} exists and is not a directory")
        return set()
    found = set()
    for path in out.rglob("*"):
        if (path.is_file() or path.is_symlink()) and path.name != MANIFEST:
            found.add(path.relative_to(out).as_posix())
    return found


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
