"""Emit pass: a map of relative paths -> text, written atomically into an output directory.

Input: the files to write and the output directory. Output: the directory holds exactly
those files, plus everything gopc did not write there before (user files, symlinks and
directories, empty ones included, are kept), and a manifest `.gopc-manifest.json` listing
the files gopc owns (and the caller's notes for the next build).

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
  rebuild changes only the files whose bytes changed; when nothing would change (same files,
  same bytes, same manifest, nothing in the way) nothing is staged or swapped at all.
  Directories keep their permissions; a new output directory gets the usual ones (0777 minus
  the umask).
- New files with the same bytes share one inode (hard links: every chart has the same
  templates, and a link costs a fraction of a new inode). Tools that replace a file (git,
  editors, `sed -i`) never see the difference; writing into one in place changes its twins.
"""

from __future__ import annotations

import contextlib
import ctypes
import ctypes.util
import errno
import functools
import json
import os
import secrets
import shutil
import stat
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path

MANIFEST = ".gopc-manifest.json"
_OLD_SUFFIX = ".gopc-old"
_STAGING_INFIX = ".gopc-"

try:
    import fcntl
except ImportError:  # not on Windows: leftovers of killed builds are then left in place
    fcntl = None
_O_NOFOLLOW = getattr(os, "O_NOFOLLOW", 0)
_SIDE_BY_SIDE_FROM = 256  # entries; fewer are made faster by one thread
_WORKERS = min(os.cpu_count() or 1, 4)
_O_CLOEXEC = getattr(os, "O_CLOEXEC", 0)


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
    """`path` normalised ("./a//b" is "a/b"); refused when it could land outside the output or is the manifest's name."""
    parts = path.split("/")
    if "" in parts or "." in parts:
        parts = [part for part in parts if part not in ("", ".")]
    if path.startswith("/") or not parts or ".." in parts or "\\" in path or "\x00" in path:
        raise EmitError(f"refusing to write `{path}`: it would land outside the output directory")
    if parts[-1] == MANIFEST:
        raise EmitError(f"refusing to write `{path}`: the name is reserved for gopc's manifest")
    return "/".join(parts)


def write_tree(files: dict[str, str | bytes], out: Path, *, force: bool = False,
               notes: dict[str, object] | None = None) -> EmitReport:
    """`notes` (JSON data) are kept in the manifest beside the list of files, for the next build
    to read with `manifest_notes`."""
    shown = Path(out)
    out = _output_directory(shown)
    files = _normalised(files)
    directories = _parent_directories(files)
    _finish_interrupted_swap(out)
    _remove_leftover_staging(out)
    owned_before, manifest_before = _read_manifest(out)
    existing = _scan(out, shown)
    in_the_way = _user_paths_in_the_way(files, directories, existing, owned_before)
    if in_the_way and not force:
        raise EmitError(
            f"{shown / in_the_way[0]} exists and was not written by gopc"
            + (f" (and {len(in_the_way) - 1} more)" if len(in_the_way) > 1 else "")
            + "; move it away or use --force to overwrite"
        )
    manifest = _manifest_text(files, notes or {})
    if not in_the_way and manifest == manifest_before and _all_unchanged(files, out, existing):
        # The tree already is what this build would make: leaving it alone is the atomic write.
        return EmitReport(unchanged=list(files), kept=_kept(files, existing, owned_before, set()))
    report = EmitReport()
    out.parent.mkdir(parents=True, exist_ok=True)
    staging = _make_staging(out)
    with _locked(staging):
        try:
            _stage(files, directories, manifest, str(out), str(staging), existing, owned_before, set(in_the_way), report)
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


def _normalised(files: dict[str, str | bytes]) -> dict[str, bytes]:
    """Normalised path -> bytes, in path order."""
    normalised: dict[str, bytes] = {}
    for path, content in files.items():
        relative = safe_relative(path)
        if relative in normalised:
            raise EmitError(f"refusing to write `{path}`: another path names the same file `{relative}`")
        normalised[relative] = content.encode("utf-8") if isinstance(content, str) else content
    return dict(sorted(normalised.items()))


def _parent_directories(files: dict[str, bytes]) -> set[str]:
    """Every directory the files need (not the output itself); refuses a file that is another's directory."""
    directories: set[str] = set()
    for relative in files:
        parent = relative.rpartition("/")[0]
        while parent and parent not in directories:
            directories.add(parent)
            parent = parent.rpartition("/")[0]
    for relative in files:
        if relative in directories:
            child = next(path for path in files if path.startswith(relative + "/"))
            raise EmitError(f"refusing to write `{child}`: `{relative}` is a file of the output too")
    return directories


def _user_paths_in_the_way(files, directories: set[str], existing: _Existing, owned_before: set[str]) -> list[str]:
    """Paths not written by gopc that the new tree needs: a user entry at a file's path or at
    one of its directories, and a user directory at a file's path."""
    clashes = {path for path in existing.entries - owned_before if path in files or path in directories}
    clashes |= {path for path in existing.directories if path in files}
    return sorted(clashes)


def _manifest_text(files: dict[str, bytes], notes: dict[str, object]) -> bytes:
    return (json.dumps({"generator": "gopc", "files": list(files), **notes}, indent=2) + "\n").encode("utf-8")


def manifest_notes(out: Path) -> dict[str, object]:
    """The notes the previous build of `out` kept in its manifest ({} when there are none)."""
    try:
        data = json.loads((Path(out) / MANIFEST).read_bytes())
    except (OSError, ValueError):
        return {}
    return {key: value for key, value in data.items() if key not in ("generator", "files")} if isinstance(data, dict) else {}


def _all_unchanged(files: dict[str, bytes], out: Path, existing: _Existing) -> bool:
    return files.keys() <= existing.entries and all(_same_bytes(f"{out}/{relative}", data) for relative, data in files.items())


def _kept(files, existing: _Existing, owned_before: set[str], overwritten: set[str]) -> list[str]:
    """User entries that stay: neither written now nor before, nor in the way of what is."""
    return sorted(relative for relative in existing.entries
                  if relative not in files and relative not in owned_before and not _under(relative, overwritten))


def _stage(files: dict[str, bytes], directories: set[str], manifest: bytes, out: str, staging: str, existing: _Existing,
           owned_before: set[str], overwritten: set[str], report: EmitReport) -> None:
    report.kept = _kept(files, existing, owned_before, overwritten)
    kept_directories = {relative for relative in existing.empty_directories if not _under(relative, overwritten)}
    for relative in report.kept + sorted(kept_directories):
        parent = relative.rpartition("/")[0]
        while parent and parent not in kept_directories:
            kept_directories.add(parent)
            parent = parent.rpartition("/")[0]
    _make_directories(staging, directories | kept_directories)
    for relative in report.kept:
        _link_or_copy(f"{out}/{relative}", f"{staging}/{relative}")
    new_files: list[tuple[str, bytes]] = []
    for relative, data in files.items():
        previous = f"{out}/{relative}"
        if relative in existing.entries and _same_bytes(previous, data):
            _link_or_copy(previous, f"{staging}/{relative}")
            report.unchanged.append(relative)
        else:
            new_files.append((f"{staging}/{relative}", data))
            report.written.append(relative)
    _write_new_files(new_files)
    _write_file(f"{staging}/{MANIFEST}", manifest)
    _keep_directory_modes(out, staging, existing.directories)
    report.removed = sorted(p for p in owned_before if p not in files and p in existing.entries)


def _make_directories(staging: str, directories: set[str]) -> None:
    """Parents before children: one depth at a time, the directories of a depth side by side."""
    by_depth: dict[int, list[str]] = {}
    for relative in directories:
        by_depth.setdefault(relative.count("/"), []).append(f"{staging}/{relative}")
    for depth in sorted(by_depth):
        _side_by_side(os.mkdir, sorted(by_depth[depth]))


def _write_new_files(new_files: list[tuple[str, bytes]]) -> None:
    """Each distinct content is written once (side by side); the other files with its bytes are
    hard links to that file (chart templates repeat in every chart: a link costs a fraction of a
    new inode)."""
    first: dict[bytes, str] = {}
    unique: list[tuple[str, bytes]] = []
    twins: list[tuple[str, str, bytes]] = []
    for target, data in new_files:
        twin = first.setdefault(data, target)
        if twin is target:
            unique.append((target, data))
        else:
            twins.append((twin, target, data))
    _side_by_side(_write_pair, unique)
    for twin, target, data in twins:
        try:
            os.link(twin, target)
        except OSError as error:
            if error.errno != errno.EMLINK:  # the twin has as many links as the file system allows
                raise
            _write_file(target, data)


def _write_pair(pair: tuple[str, bytes]) -> None:
    _write_file(*pair)


def _side_by_side(function, items: list) -> None:
    """`function` on every item; in a few threads when there are many. Creating inodes is the
    kernel's work (the calls release the GIL), so the threads spread it over the cores."""
    if len(items) < _SIDE_BY_SIDE_FROM:
        for item in items:
            function(item)
        return
    shares = [items[start::_WORKERS] for start in range(_WORKERS)]
    with ThreadPoolExecutor(max_workers=_WORKERS) as pool:
        for _ in pool.map(lambda share: [function(item) for item in share], shares):
            pass


def _write_file(path: str, data: bytes) -> None:
    descriptor = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL | _O_CLOEXEC, 0o666)
    try:
        view = memoryview(data)
        while view:
            view = view[os.write(descriptor, view):]
    finally:
        os.close(descriptor)


def _keep_directory_modes(out: str, staging: str, directories: set[str]) -> None:
    """Directories of the previous tree keep their permissions in the new one."""
    for relative in sorted(directories):
        try:
            mode = stat.S_IMODE(os.lstat(f"{staging}/{relative}").st_mode)
        except FileNotFoundError:
            continue  # not in the new tree
        wanted = stat.S_IMODE(os.lstat(f"{out}/{relative}").st_mode)
        if wanted != mode:
            os.chmod(f"{staging}/{relative}", wanted)


def _under(relative: str, roots: set[str]) -> bool:
    if not roots:
        return False
    while relative:
        if relative in roots:
            return True
        relative = relative.rpartition("/")[0]
    return False


def _read_manifest(out: Path) -> tuple[set[str], bytes | None]:
    """The files the previous build wrote, and the manifest's bytes."""
    try:
        text = (out / MANIFEST).read_bytes()
    except OSError:
        return set(), None
    try:
        return {safe_relative(p) for p in json.loads(text).get("files", [])}, text
    except (ValueError, EmitError, AttributeError, TypeError):
        return set(), text


def _scan(out: Path, shown: Path) -> _Existing:
    if not out.is_dir():
        if out.exists() or out.is_symlink():
            raise EmitError(f"{shown} exists and is not a directory")
        return _Existing()
    existing = _Existing()
    pending = [""]
    while pending:
        directory = pending.pop()
        with os.scandir(f"{out}/{directory}" if directory else out) as scan:
            children = list(scan)
        if not children and directory:
            existing.empty_directories.add(directory)
        for child in children:
            relative = f"{directory}/{child.name}" if directory else child.name
            if child.is_dir(follow_symlinks=False):
                existing.directories.add(relative)
                pending.append(relative)
            elif relative != MANIFEST:
                existing.entries.add(relative)
    return existing


def _same_bytes(path: str, data: bytes) -> bool:
    """The path is a regular file (not a symlink) holding exactly `data`."""
    try:
        descriptor = os.open(path, os.O_RDONLY | _O_NOFOLLOW | os.O_NONBLOCK | _O_CLOEXEC)  # NONBLOCK: a FIFO
    except OSError:
        return False
    try:
        status = os.fstat(descriptor)
        if not stat.S_ISREG(status.st_mode) or status.st_size != len(data):
            return False
        chunks, size = [], 0
        while size < len(data):
            chunk = os.read(descriptor, len(data) - size)
            if not chunk:
                return False
            chunks.append(chunk)
            size += len(chunk)
        return b"".join(chunks) == data
    except OSError:
        return False
    finally:
        os.close(descriptor)


def _link_or_copy(source: str, target: str) -> None:
    if os.path.islink(source):
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
    renameat2 = _renameat2()
    if renameat2 is None:
        return False
    at_fdcwd = -100
    result = renameat2(at_fdcwd, os.fsencode(a), at_fdcwd, os.fsencode(b), _RENAME_EXCHANGE)
    return result == 0


@functools.cache
def _renameat2():
    """libc's renameat2, or None (finding libc may run a program: done once)."""
    libc_name = ctypes.util.find_library("c")
    if libc_name is None:
        return None
    return getattr(ctypes.CDLL(libc_name, use_errno=True), "renameat2", None)
