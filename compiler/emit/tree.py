"""Emit pass: a map of relative paths -> text, written atomically into an output directory.

Input: the files to write and the output directory. Output: the directory holds exactly
those files, plus everything gopc did not write there before (user files, symlinks and
directories, empty ones included, are kept), and a manifest `.gopc-manifest.json` listing
the files gopc owns (and the caller's notes for the next build).

Invariants:
- Atomic: the new tree is assembled in a staging directory and swapped in with one rename
  (Linux `renameat2(RENAME_EXCHANGE)`; elsewhere two renames, and a later build finishes a
  swap an interrupted one left half done). The staging directory lives in a sibling of the
  output that this build creates under a fresh name (`.DIR.gopc-XXXXXXXX`, never one that
  exists) and marks as gopc's; the old tree of a two-rename swap waits inside it too. A
  failing or killed build leaves the previous tree as it was; the next build removes what a
  killed one left behind, recognised by its mark (a running build holds a lock on its own,
  so it is never taken for a leftover). A directory gopc did not make is never moved or removed.
- Every I/O failure (a read-only parent, a path through a file, a full disk, an unreadable
  directory in the old tree) is an `EmitError`, never an `OSError`.
- Owned files only: a file removed from the program disappears; nothing gopc did not write
  is overwritten unless `force` is set. That includes a user file or symlink where gopc needs
  a directory, and a user directory where gopc needs a file: without `force` they are
  reported, so gopc never writes through a user's symlink.
- Paths are relative, normalised, unique, and stay inside the output directory.
- Unchanged files keep their inode and mtime (hard-linked from the previous tree), so a
  rebuild changes only the files whose bytes changed; when nothing would change (same files,
  same bytes, same manifest, nothing in the way) nothing is staged or swapped at all. Each file
  is compared with the tree once; the comparing, the linking and the removal of the previous
  tree after the swap (subtree by subtree, `shutil.rmtree` each) run side by side in a few threads:
  a rebuild's cost is the kernel's file-system work, which the threads overlap.
  Directories keep their permissions; a new output directory gets the usual ones (0777 minus
  the umask).
- `compare_tree` reads the same inputs and writes nothing: what `write_tree` would change, as
  lists of paths (`gopc build --check`).
- New files with the same bytes share one inode (hard links: every chart has the same
  templates, and a link costs a fraction of a new inode). Tools that replace a file (git,
  editors, `sed -i`) never see the difference; writing into one in place changes its twins.
"""

from __future__ import annotations

import contextlib
import errno
import functools
import json
import os
import re
import shutil
import stat
import sys
import tempfile
from dataclasses import dataclass, field
from pathlib import Path

from gop.compiler.emit import MANIFEST
_STAGING_INFIX = ".gopc-"  # the staging sibling of DIR is `.DIR.gopc-XXXXXXXX`
_STAGING_MARK = ".gopc-staging"  # a file in it that says it is gopc's, and for which output
_STAGED_TREE = "tree"  # the new tree, inside the staging sibling
_OLD_TREE = "old"  # the previous tree between the two renames of a swap without renameat2

try:
    import fcntl
except ImportError:  # not on Windows: leftovers of killed builds are then left in place
    fcntl = None
_O_NOFOLLOW = getattr(os, "O_NOFOLLOW", 0)
_SIDE_BY_SIDE_FROM = 256  # entries; fewer are made faster by one thread
_WORKERS = min(os.cpu_count() or 1, 4)
_SUBTREE_DEPTH = 4  # how deep `_subtrees` looks for directories to remove side by side
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
    files = _normalised(files)
    directories = _parent_directories(files)
    try:
        return _write(files, directories, shown, force, notes or {})
    except OSError as error:
        raise EmitError(_io_failure(shown, error)) from error


@dataclass(slots=True)
class TreeDifferences:
    """How an output directory differs from the files a build would write there."""

    differs: list[str] = field(default_factory=list)  # written by the build, other bytes (or not a file) in the tree
    missing: list[str] = field(default_factory=list)  # written by the build, absent from the tree
    stale: list[str] = field(default_factory=list)  # gopc wrote them before; the build would remove them
    manifest: bool = False  # the manifest (files owned, notes) would change

    def __bool__(self) -> bool:
        return bool(self.differs or self.missing or self.stale or self.manifest)

    def count(self) -> int:
        return len(self.differs) + len(self.missing) + len(self.stale) + self.manifest


def compare_tree(files: dict[str, str | bytes], out: Path, *, notes: dict[str, object] | None = None) -> TreeDifferences:
    """What `write_tree(files, out, notes=notes)` would change in `out`, without writing anything."""
    shown = Path(out)
    files = _normalised(files)
    _parent_directories(files)  # the same refusals as a build
    try:
        out = _output_directory(shown)
        existing = _scan(out, shown)
        owned_before, manifest_before = _read_manifest(out)
    except OSError as error:
        raise EmitError(_io_failure(shown, error).replace("cannot write", "cannot read", 1)) from error
    differences = TreeDifferences(manifest=_manifest_text(files, notes or {}) != manifest_before)
    for (relative, _), same in zip(files.items(), _same_as_before(files, str(out), existing)):
        if relative in existing.entries or relative in existing.directories:
            if not same:
                differences.differs.append(relative)
        else:
            differences.missing.append(relative)
    differences.stale = sorted(p for p in owned_before if p not in files and p in existing.entries)
    return differences


def _write(files: dict[str, bytes], directories: set[str], shown: Path, force: bool,
           notes: dict[str, object]) -> EmitReport:
    out = _output_directory(shown)
    _remove_leftovers(out)
    owned_before, manifest_before = _read_manifest(out)
    existing = _scan(out, shown)
    in_the_way = _user_paths_in_the_way(files, directories, existing, owned_before)
    if in_the_way and not force:
        raise EmitError(
            f"{shown / in_the_way[0]} exists and was not written by gopc"
            + (f" (and {len(in_the_way) - 1} more)" if len(in_the_way) > 1 else "")
            + "; move it away or use --force to overwrite"
        )
    manifest = _manifest_text(files, notes)
    same = _same_as_before(files, str(out), existing)
    if not in_the_way and manifest == manifest_before and all(same):
        # The tree already is what this build would make: leaving it alone is the atomic write.
        return EmitReport(unchanged=list(files), kept=_kept(files, existing, owned_before, set()))
    report = EmitReport()
    _make_parent(out)
    with _staging(out) as staging:
        tree = staging / _STAGED_TREE
        _stage(files, same, directories, manifest, str(out), str(tree), existing, owned_before, set(in_the_way), report)
        _swap(staging, out)
    return report


def _make_parent(out: Path) -> None:
    try:
        out.parent.mkdir(parents=True, exist_ok=True)
    except FileExistsError as error:  # what mkdir says for a path through a file
        raise NotADirectoryError(errno.ENOTDIR, os.strerror(errno.ENOTDIR), error.filename) from None


def _io_failure(shown: Path, error: OSError) -> str:
    """`cannot write OUT: <reason>`, naming the path the system refused when it is not OUT itself."""
    reason = error.strerror or str(error)
    where = error.filename2 if error.filename2 is not None else error.filename
    if where is not None and os.fsdecode(where) not in (str(shown), os.path.abspath(shown)):
        reason += f" ({os.fsdecode(where)})"
    return f"cannot write {shown}: {reason}"


def _output_directory(out: Path) -> Path:
    """The real directory to replace: absolute, with symlinks resolved (a symlink to the
    output is followed, not replaced by a directory)."""
    resolved = Path(os.path.realpath(out))
    if resolved.parent == resolved:
        raise EmitError(f"refusing to replace `{out}`: it is the file system's root")
    if resolved.is_symlink():  # realpath stops at a loop
        raise EmitError(f"cannot write {out}: a loop of symbolic links")
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
    data = _manifest_data(_manifest_bytes(Path(out)))
    return {key: value for key, value in data.items() if key not in ("generator", "files")}


def _same_as_before(files: dict[str, bytes], out: str, existing: _Existing) -> list[bool]:
    """For each file, in order: the tree holds it with these bytes (read side by side)."""
    def same(item: tuple[str, bytes]) -> bool:
        relative, data = item
        return relative in existing.entries and _same_bytes(f"{out}/{relative}", data)

    return _side_by_side(same, list(files.items()))


def _kept(files, existing: _Existing, owned_before: set[str], overwritten: set[str]) -> list[str]:
    """User entries that stay: neither written now nor before, nor in the way of what is."""
    return sorted(relative for relative in existing.entries
                  if relative not in files and relative not in owned_before and not _under(relative, overwritten))


def _stage(files: dict[str, bytes], same: list[bool], directories: set[str], manifest: bytes, out: str, staging: str,
           existing: _Existing, owned_before: set[str], overwritten: set[str], report: EmitReport) -> None:
    """The new tree in `staging`: the files the tree holds already (`same`) hard-linked from it
    (side by side), the others written, the user's kept entries linked."""
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
    for (relative, data), unchanged in zip(files.items(), same):
        if unchanged:
            report.unchanged.append(relative)
        else:
            new_files.append((f"{staging}/{relative}", data))
            report.written.append(relative)
    _side_by_side(_link_pair, [(f"{out}/{relative}", f"{staging}/{relative}") for relative in report.unchanged])
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


def _link_pair(pair: tuple[str, str]) -> None:
    _link_or_copy(*pair)


def _side_by_side(function, items: list) -> list:
    """`function` on every item, its results in the items' order; in a few threads when there
    are many. Reading, creating and removing files is the kernel's work (the calls release the
    GIL), so the threads spread it over the cores and overlap its waits for the disk."""
    if len(items) < _SIDE_BY_SIDE_FROM:
        return [function(item) for item in items]
    from concurrent.futures import ThreadPoolExecutor  # here: a replayed build (commands/runmemo.py) writes nothing

    results: list = [None] * len(items)
    with ThreadPoolExecutor(max_workers=_WORKERS) as pool:
        shares = pool.map(lambda share: [function(item) for item in share],
                          [items[start::_WORKERS] for start in range(_WORKERS)])
        for start, share in enumerate(shares):
            results[start::_WORKERS] = share
    return results


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
    text = _manifest_bytes(out)
    try:
        return {safe_relative(p) for p in _manifest_data(text).get("files", [])}, text
    except (EmitError, TypeError):
        return set(), text


def _manifest_bytes(out: Path) -> bytes | None:
    try:
        return (out / MANIFEST).read_bytes()
    except OSError:
        return None


def _manifest_data(text: bytes | None) -> dict[str, object]:
    """The manifest's JSON object; {} for none, or for one that is damaged (then nothing is owned)."""
    try:
        data = json.loads(text) if text is not None else {}
    except ValueError:
        return {}
    return data if isinstance(data, dict) else {}


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


@contextlib.contextmanager
def _staging(out: Path):
    """A new sibling of `out` that only this build uses, locked while it does, with an empty
    `tree` in it that has the permissions `out` has (or the umask's for a new one); removed
    afterwards, unless a failed swap left the previous tree in it (the next build restores it)."""
    staging = Path(tempfile.mkdtemp(prefix=f".{out.name}{_STAGING_INFIX}", dir=out.parent))
    try:
        with _locked(staging):
            _write_file(str(staging / _STAGING_MARK), _mark(out))  # after locking: see _remove_leftovers
            os.mkdir(staging / _STAGED_TREE, 0o777)
            if out.is_dir():
                shutil.copymode(out, staging / _STAGED_TREE)
            yield staging
    finally:
        if not _holds_the_only_old_tree(staging, out):
            _remove_tree(staging)


def _mark(out: Path) -> bytes:
    return f"gopc staging directory of {out.name}\n".encode("utf-8", "surrogateescape")


def _holds_the_only_old_tree(staging: Path, out: Path) -> bool:
    return os.path.isdir(staging / _OLD_TREE) and not os.path.lexists(out)


def _remove_tree(path: Path) -> None:
    """Remove a tree gopc made, also where a kept directory's permissions forbid it (what is
    left, the next build removes). Its subtrees first, side by side (`_subtrees`), each with
    `shutil.rmtree` (which never follows a symbolic link); then what is left, one by one."""
    _side_by_side(_remove_quietly, _subtrees(path))

    def allow_and_retry(function, failed, _error):
        parent = os.path.dirname(failed)
        if parent != str(path) and not parent.startswith(f"{path}/"):
            return  # never change a directory outside the tree
        with contextlib.suppress(OSError):
            os.chmod(parent, 0o700)
            function(failed)

    if sys.version_info >= (3, 12):  # `onerror` is deprecated there
        shutil.rmtree(path, onexc=allow_and_retry)
    else:
        shutil.rmtree(path, onerror=allow_and_retry)


def _subtrees(root: Path) -> list[str]:
    """The directories (not symbolic links) of the first level below `root` with at least
    `_SIDE_BY_SIDE_FROM` of them, or of the deepest level up to `_SUBTREE_DEPTH` (a rebuild's
    previous tree: charts/<app>/ and apps/<env>/<app>/ are its bulk)."""
    level = [str(root)]
    for _ in range(_SUBTREE_DEPTH):
        below = []
        for directory in level:
            with contextlib.suppress(OSError), os.scandir(directory) as entries:
                below.extend(entry.path for entry in entries if entry.is_dir(follow_symlinks=False))
        if not below:
            break
        level = below
        if len(level) >= _SIDE_BY_SIDE_FROM:
            break
    return level if level != [str(root)] else []


def _remove_quietly(directory: str) -> None:
    """What fails (a directory the user made unwritable) is left to `_remove_tree`'s last pass."""
    shutil.rmtree(directory, ignore_errors=True)


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


def _remove_leftovers(out: Path) -> None:
    """Finish or undo what killed builds left: staging siblings of `out` that carry gopc's
    mark and that nobody holds a lock on. A swap killed between its two renames left the
    previous tree in one: it goes back into place."""
    if fcntl is None or not out.parent.is_dir():
        return
    prefix, mark = f".{out.name}{_STAGING_INFIX}", _mark(out)
    for name in sorted(os.listdir(out.parent)):
        candidate = out.parent / name
        if not name.startswith(prefix):
            continue
        if not _same_bytes(str(candidate / _STAGING_MARK), mark):
            _remove_if_unborn(candidate, name[len(prefix):], mark)
            continue  # not gopc's (a symlink in place of the directory fails the check too)
        with _locked_if_free(candidate) as free:
            if not free:
                continue  # a running build's
            if _holds_the_only_old_tree(candidate, out):
                os.rename(candidate / _OLD_TREE, out)
            _remove_tree(candidate)


def _remove_if_unborn(candidate: Path, suffix: str, mark: bytes) -> None:
    """A build killed between making its staging directory and marking it left it empty, or with
    the mark half written (created, not yet filled): a directory with mkdtemp's name that nobody
    holds a lock on and that holds nothing, or only the start of the mark, goes (no data can be
    lost with it; `rmdir` refuses anything else)."""
    if not _MKDTEMP_SUFFIX.fullmatch(suffix) or os.path.islink(candidate):
        return
    with _locked_if_free(candidate) as free, contextlib.suppress(OSError):
        if free:  # else a build starting now
            if os.listdir(candidate) == [_STAGING_MARK] and _starts(str(candidate / _STAGING_MARK), mark):
                os.unlink(candidate / _STAGING_MARK)
            os.rmdir(candidate)  # fails when not empty


def _starts(path: str, data: bytes) -> bool:
    """The path is a regular file holding the start of `data` (a write cut short)."""
    with contextlib.suppress(OSError):
        status = os.lstat(path)
        return stat.S_ISREG(status.st_mode) and status.st_size < len(data) and _same_bytes(path, data[:status.st_size])
    return False


_MKDTEMP_SUFFIX = re.compile(r"[a-z0-9_]{8}")  # tempfile's names: 8 of these characters


@contextlib.contextmanager
def _locked_if_free(directory: Path):
    """Yields True while this process holds the lock on `directory` (a real directory, not a
    symlink, that no other process holds a lock on), else False."""
    try:
        descriptor = os.open(directory, os.O_RDONLY | _O_NOFOLLOW | os.O_DIRECTORY)
    except OSError:
        yield False
        return
    try:
        try:
            fcntl.flock(descriptor, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except OSError:
            yield False
        else:
            yield True
    finally:
        os.close(descriptor)


def _swap(staging: Path, out: Path) -> None:
    """Put `staging`'s tree in place of `out`; the previous tree stays in `staging` (removed with it)."""
    tree = staging / _STAGED_TREE
    if not os.path.lexists(out):
        os.rename(tree, out)
        return
    if _exchange(tree, out):
        return
    os.rename(out, staging / _OLD_TREE)
    try:
        os.rename(tree, out)
    except BaseException:
        os.rename(staging / _OLD_TREE, out)
        raise


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
    import ctypes
    import ctypes.util

    libc_name = ctypes.util.find_library("c")
    if libc_name is None:
        return None
    return getattr(ctypes.CDLL(libc_name, use_errno=True), "renameat2", None)
