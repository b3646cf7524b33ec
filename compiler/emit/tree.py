"""Emit pass: relative paths -> text, written in place into an output directory.

Input: the files to write (a mapping, or (path, text) pairs as a lowering makes them: their bytes
are never all held at once) and the output directory. Output: the directory holds exactly
those files, plus everything gopc did not write there before (user files, symlinks and
directories, empty ones included, are kept), and a manifest `.gopc-manifest.json` listing
the files gopc owns (and the caller's notes for the next build).

Invariants:
- In place, each file atomically: the files are compared with the tree as they pass, a chunk at a
  time (`_CHUNK_FILES`, `_CHUNK_BYTES`), and the bytes of each new or changed one are staged
  (`.gopc-staging/` in the output, `_Staging`; it is gone when the build ends, and a build that
  finds one removes it), so a build holds no more than a chunk of its files' bytes; the whole plan
  (files to write, to remove, user entries to keep or, with `force`, to replace) is made once
  every file has passed, before anything changes (a refusal, or an error from the files' producer,
  leaves the tree as it was, and removes an output directory the build made); then a journal
  (`.gopc-journal` in the output, fsynced) lists every path about to change; each directory the
  tree lacks is renamed into place whole from the staging directory, with its files (a new tree
  takes a rename per top-level directory), and each other new or changed file is renamed over its
  path (a twin is linked beside itself, `.NAME.gopc-new`, then renamed), so a reader never sees a
  half-written file; stale files and the directories they leave empty are removed; the manifest
  is written last, and the journal removed. A build that finds a journal (one failed or was
  killed) trusts the manifest for no path it lists: it takes them as gopc's, removes their
  half-written files, reads them again and repairs them, so its tree is what a build into a new
  directory would make. Builds into the same output take turns (a lock on the directory).
- Every I/O failure (a read-only parent, a path through a file, a full disk, an unreadable
  directory in the old tree) is an `EmitError`, never an `OSError`.
- Owned files only: a file removed from the program disappears; nothing gopc did not write
  is overwritten unless `force` is set. That includes a user file or symlink where gopc needs
  a directory, and a user directory where gopc needs a file: without `force` they are
  reported, so gopc never writes through a user's symlink.
- Paths are relative, normalised, unique, and stay inside the output directory (whose
  `.gopc-staging` is gopc's, as are its manifest and journal).
- Unchanged files keep their inode and mtime, and directories their inode and permissions (a new
  directory gets the usual ones: 0777 minus the umask): a rebuild touches only the files whose
  bytes changed, and when nothing would change (same files, same bytes, same manifest, nothing in
  the way, no journal) nothing is written at all, nor staged. Each file is compared with the tree
  once; the comparing, the staging and the renaming run side by side in a few threads when there
  are many. With a disk cache, the output index (`emit.outputindex`) spares the reads: a file whose
  status is the one the last build recorded is compared by the digest of its bytes, unread; every
  other file is read, and a file found the same is recorded for the next build (when its status
  was settled: an edit in the same clock tick would not show). The index only spares reads: a hand
  edit changes the file's change time (or inode), so it is read and handled as without one. In a
  process that builds again (`indexes`: the build server), the tree is watched after its first
  build (`emit.treewatch`): the next lists again only the directories, and takes the status of only
  the files, that the kernel says changed.
- `compare_tree` reads the same inputs and writes nothing: what `write_tree` would change, as
  lists of paths (`gopc build --check`).
- New files with the same bytes share one inode (hard links: every chart has the same
  templates, and a link costs a fraction of a new inode). Tools that replace a file (git,
  editors, `sed -i`) never see the difference; writing into one in place changes its twins.
"""

from __future__ import annotations

import contextlib
import errno
import hashlib
import json
import os
import shutil
import stat
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import Path

from gop.compiler.emit import JOURNAL, MANIFEST, STAGING
from gop.compiler.emit.outputindex import OutputIndex
_NEW_SUFFIX = ".gopc-new"  # `.NAME.gopc-new`: NAME being written, renamed over NAME once whole
_STAGING_MARK = ".made-by-gopc"  # in STAGING from its making: a directory of that name without it is the user's
# A hard link fails with these where a copy does: too many links, another file system under the
# output, or a file system without hard links (FAT, exFAT: EPERM; SMB: EOPNOTSUPP; some FUSE: ENOSYS).
_NO_LINK = frozenset({errno.EMLINK, errno.EXDEV, errno.EPERM, errno.EOPNOTSUPP, errno.ENOSYS})
_CHUNK_FILES = 1024  # files compared (and staged) together: enough for the threads, few bytes held
_CHUNK_BYTES = 8 << 20

try:
    import fcntl
except ImportError:  # not on Windows: builds into one output there do not take turns
    fcntl = None
_O_NOFOLLOW = getattr(os, "O_NOFOLLOW", 0)
_SIDE_BY_SIDE_FROM = 256  # entries; fewer are made faster by one thread
_WORKERS = min(os.cpu_count() or 1, 4)
OUTPUTS_KEPT = 2  # output indexes (and watched trees) a process that builds again keeps: the directories built into last
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
    if parts[-1] in (MANIFEST, JOURNAL) or parts[-1].endswith(_NEW_SUFFIX) or parts[0] == STAGING:
        raise EmitError(f"refusing to write `{path}`: the name is reserved for gopc's manifest, journal and files being written")
    return "/".join(parts)


Files = Mapping[str, str | bytes] | Iterable[tuple[str, str | bytes]]
Notes = dict[str, object] | Callable[[], dict[str, object]] | None


def write_tree(files: Files, out: Path, *, force: bool = False, notes: Notes = None, disk=None,
               indexes: dict | None = None) -> EmitReport:
    """`notes` (JSON data) are kept in the manifest beside the list of files, for the next build
    to read with `manifest_notes`; a function giving them is called once every file has passed,
    before anything changes (what it raises stops the build, the tree as it was). `disk`: the
    `core.diskcache.DiskCache` that keeps the output's index (`emit.outputindex`), or None;
    `indexes`: the output indexes of a process that builds again (the build server's session), by
    output directory: the next build into the same directory takes this one's from memory."""
    shown = Path(out)
    try:
        return _write(files, shown, force, notes, disk, indexes)
    except OSError as error:
        raise EmitError(_io_failure(shown, error)) from error


@dataclass(slots=True)
class TreeDifferences:
    """How an output directory differs from the files a build would write there."""

    differs: list[str] = field(default_factory=list)  # written by the build, other bytes (or not a file) in the tree
    missing: list[str] = field(default_factory=list)  # written by the build, absent from the tree
    stale: list[str] = field(default_factory=list)  # gopc wrote them before; the build would remove them
    manifest: bool = False  # the manifest (files owned, notes) would change
    files: int = 0  # how many files the build writes
    wanted: dict[str, bytes] = field(default_factory=dict)  # with `keep_differing`: the build's bytes of each that differs

    def __bool__(self) -> bool:
        return bool(self.differs or self.missing or self.stale or self.manifest)

    def count(self) -> int:
        return len(self.differs) + len(self.missing) + len(self.stale) + self.manifest


def compare_tree(files: Files, out: Path, *, notes: Notes = None, keep_differing: bool = False,
                 disk=None) -> TreeDifferences:
    """What `write_tree(files, out, notes=notes)` would change in `out`, without writing anything;
    with `keep_differing`, the bytes of each file that differs (not of the missing ones). `disk` as
    `write_tree` takes it: its index is read, not written."""
    shown = Path(out)
    try:
        out = _output_directory(shown)
        existing = _scan(out, shown)
        interrupted = _read_journal(out) if out.is_dir() else None
    except OSError as error:
        raise EmitError(_cannot_read(shown, error)) from error
    differences = TreeDifferences()
    keep = None
    if keep_differing:
        def keep(chunk: list[tuple[str, bytes]]) -> None:
            differences.wanted.update((path, data) for path, data in chunk
                                      if path in existing.entries or path in existing.directories)
    same = _pass_files(_pairs(files), str(out), existing, keep, OutputIndex(disk, str(out)) if disk is not None else None)
    _parent_directories(same)  # the same refusals as a build
    notes = _notes(notes)
    try:
        owned_before, manifest_before = _read_manifest(out, same)
    except OSError as error:
        raise EmitError(_cannot_read(shown, error)) from error
    if interrupted is not None:  # what a build that did not finish was changing is gopc's
        owned_before |= interrupted.files
    differences.manifest = _manifest_text(same, notes) != manifest_before
    differences.files = len(same)
    for relative, unchanged in same.items():
        if relative in existing.entries or relative in existing.directories:
            if not unchanged:
                differences.differs.append(relative)
        else:
            differences.missing.append(relative)
    differences.stale = sorted(p for p in owned_before if p not in same and p in existing.entries)
    return differences


def _cannot_read(shown: Path, error: OSError) -> str:
    return _io_failure(shown, error).replace("cannot write", "cannot read", 1)


@dataclass(slots=True)
class _Journal:
    """What a build that did not finish was changing: files (gopc's, whatever the manifest says)
    and directories (made, or perhaps emptied, by it)."""

    files: set[str] = field(default_factory=set)
    directories: set[str] = field(default_factory=set)


@dataclass(slots=True)
class _Plan:
    """Everything a build changes, worked out before it changes anything."""

    report: EmitReport
    changed: dict[str, str]  # new or changed files -> where their bytes are staged
    cleared: list[str]  # entries removed first: a directory where a file goes, a file where a directory goes
    new_directories: list[str]
    moved: list[str]  # the shallowest new directories: staged whole, renamed into place as one (`_Staging`)
    emptied: list[str]  # directories removed at the end when nothing is left in them
    manifest: bytes | None  # None: the manifest stays as it is


def _write(files: Files, shown: Path, force: bool, notes: Notes, disk, indexes: dict | None) -> EmitReport:
    out = _output_directory(shown)
    while True:
        made = _make_output(out, shown)
        with _taking_turns(out) as locked:
            if not locked:
                continue  # a build that made the directory removed it while this one waited
            changing = False
            index = None if disk is None else OutputIndex(
                disk, str(out), remember=indexes is not None, previous=None if indexes is None else indexes.pop(str(out), None))
            try:
                with _Staging(str(out)) as staging:
                    report = _write_locked(files, out, shown, force, notes, staging, index)
                    changing = True
                    report = report() if callable(report) else report
                if index is not None:
                    index.store()
                    if indexes is not None:
                        _watch(index, str(out))
                        indexes[str(out)] = index
                        drop_indexes(indexes, keep=OUTPUTS_KEPT)
                return report
            finally:
                if not changing:  # nothing was written: the directories made for the output go as they came
                    for directory in made:
                        with contextlib.suppress(OSError):
                            os.rmdir(directory)


def _write_locked(files: Files, out: Path, shown: Path, force: bool, notes: Notes, staging: _Staging,
                  index: OutputIndex | None):
    """The plan, made before anything changes: an `EmitReport` when nothing would change, else the
    function that changes the tree and returns one."""
    interrupted = _read_journal(out)
    _remove_half_written(str(out), {MANIFEST, JOURNAL} | (interrupted.files if interrupted else set()))
    existing = _watched_or_scanned(out, shown, index, interrupted)
    if interrupted is not None:
        existing.empty_directories -= interrupted.directories
    same = _pass_files(_pairs(files), str(out), existing, lambda chunk: staging.stage(chunk, existing.directories), index)
    directories = _parent_directories(same)
    notes = _notes(notes)
    owned_before, manifest_before = _read_manifest(out, same)
    if interrupted is not None:
        owned_before |= interrupted.files
    in_the_way = _user_paths_in_the_way(same, directories, existing, owned_before)
    if in_the_way and not force:
        raise EmitError(
            f"{shown / in_the_way[0]} exists and was not written by gopc"
            + (f" (and {len(in_the_way) - 1} more)" if len(in_the_way) > 1 else "")
            + "; move it away or use --force to overwrite"
        )
    manifest = _manifest_text(same, notes)
    if interrupted is None and not in_the_way and manifest == manifest_before and all(same.values()):
        # The tree already is what this build would make: nothing to write.
        return EmitReport(unchanged=list(same), kept=_kept(same, existing, owned_before, set()))
    plan = _plan(same, staging, directories, existing, owned_before, set(in_the_way),
                 interrupted or _Journal(), None if manifest == manifest_before else manifest)

    def change() -> EmitReport:
        _write_journal(str(out), plan, interrupted or _Journal())
        try:
            _apply(plan, str(out), staging)
        except OSError as error:
            raise EmitError(_io_failure(shown, error) + "; the tree is partly updated, the next build finishes it") from error
        return plan.report

    return change


def drop_indexes(indexes: dict, keep: int = 0) -> None:
    """Drop the output indexes of `write_tree` but the `keep` most recently used, releasing
    their trees' watches at once."""
    while len(indexes) > keep:
        watch = indexes.pop(next(iter(indexes))).watch
        if watch is not None:
            watch.close()


def _watched_or_scanned(out: Path, shown: Path, index: OutputIndex | None, interrupted: _Journal | None) -> _Existing:
    """What the tree holds: from its watch when the index has one that still vouches for it (then
    the index takes from it the statuses of the files nothing touched), else listed anew."""
    watch = index.watch if index is not None else None
    if watch is not None and (interrupted is not None or not watch.refresh()):
        watch.close()  # it knows nothing of the repairs a journal asks for: this build lists the tree, the next watches it anew
        index.watch = watch = None
    if watch is None:
        return _scan(out, shown)
    return _Existing(*watch.listing())


def _watch(index: OutputIndex, out: str) -> None:
    """In a process that builds into `out` again (the build server): watch its tree from now on
    (`emit.treewatch`), unless it is watched already, or cannot be. Once, after the first build
    into it: listing the tree, taking every status and watching each entry (0.4 s at (1000,3,60))."""
    if index.watch is None and not index.watch_refused:
        from gop.compiler.emit.treewatch import TreeWatch, Unwatched

        try:
            index.watch = TreeWatch.start(out)
        except Unwatched as refusal:
            index.watch_refused = str(refusal)


def _make_output(out: Path, shown: Path) -> list[Path]:
    """The output directory exists; the directories this build made for it, deepest first."""
    if out.is_dir():
        return []
    if out.exists() or out.is_symlink():
        raise EmitError(f"{shown} exists and is not a directory")
    made = [directory for directory in (out, *out.parents) if not os.path.lexists(directory)]
    _make_parent(out)
    try:
        os.mkdir(out)
    except FileExistsError:  # another build made it first
        return []
    return made


@contextlib.contextmanager
def _taking_turns(out: Path):
    """Hold an exclusive lock on the output directory: a second build into it waits for this one.
    Yields False when the directory was removed (or replaced) while this build waited for it."""
    if fcntl is None:
        yield True
        return
    descriptor = os.open(out, os.O_RDONLY | os.O_DIRECTORY | _O_CLOEXEC)
    try:
        fcntl.flock(descriptor, fcntl.LOCK_EX)
        try:
            current = os.stat(out, follow_symlinks=False)
        except FileNotFoundError:
            current = None
        locked = os.fstat(descriptor)
        yield current is not None and (current.st_dev, current.st_ino) == (locked.st_dev, locked.st_ino)
    finally:
        os.close(descriptor)


class _Staging:
    """The bytes of the build's new and changed files, on disk until the plan is made (`STAGING` in
    the output), each distinct content written once. A file under a directory the tree lacks is
    staged at its path in `tree/` (a twin is a link to the first), so that directory is renamed into
    place whole (a new tree's files need no rename of their own); any other is staged as `files/N`,
    and renamed over its path (its twins linked to it there). Made when the first file is staged,
    marked gopc's at once (`_STAGING_MARK`); removed, whatever is left in it, when the build ends
    (and first, when an unfinished build left it: marked, or still empty). An entry of that name
    that is not gopc's is refused, never removed."""

    def __init__(self, out: str) -> None:
        self.directory = f"{out}/{STAGING}"
        self.staged: dict[str, str] = {}  # path -> the staged file with its bytes
        self.new_roots: set[str] = set()  # the shallowest directories the tree lacks: tree/ROOT is renamed to ROOT
        self._by_content: dict[bytes, str] = {}  # SHA-256 and size -> the first staged file with those bytes
        self._made: set[str] = set()  # directories made in the staging directory ("": itself)

    def __enter__(self) -> _Staging:
        self._remove_left_over()
        return self

    def __exit__(self, kind, *exception) -> None:
        if "" not in self._made:
            return
        try:
            _remove_entry(self.directory)
        except OSError:
            if kind is None:  # else the error in flight says more than a failed clean-up
                raise

    def stage(self, chunk: list[tuple[str, bytes]], directories: set[str]) -> None:
        """Keep these files' bytes on disk (written side by side); `directories`: those the tree has."""
        new: list[tuple[str, bytes]] = []
        twins: list[tuple[str, str, bytes]] = []
        for relative, data in chunk:
            key = hashlib.sha256(data).digest() + len(data).to_bytes(8, "big")
            first = self._by_content.get(key)
            root = _new_root(relative, directories)
            if root is None and first is not None:
                self.staged[relative] = first  # linked to it once it is in place
                continue
            if root is None:
                self._make("files")
                staged = f"{self.directory}/files/{len(self._by_content)}"
            else:
                self.new_roots.add(root)
                self._make(f"tree/{relative}".rpartition("/")[0])
                staged = f"{self.directory}/tree/{relative}"
            self.staged[relative] = staged
            if first is None:
                self._by_content[key] = staged
                new.append((staged, data))
            else:
                twins.append((first, staged, data))
        _side_by_side(_write_pair, new)
        for first, staged, data in twins:
            _link_or_copy(first, staged, data)

    def placed(self, out: str, staged: str) -> str:
        """Where a file staged in `tree/` is once its directory is renamed into place."""
        return f"{out}/{staged[len(self.directory) + len('/tree/'):]}"

    def _make(self, relative: str) -> None:
        missing = []
        while relative not in self._made:
            missing.append(relative)
            if not relative:
                break
            relative = relative.rpartition("/")[0]
        for directory in reversed(missing):
            os.mkdir(f"{self.directory}/{directory}" if directory else self.directory)
            self._made.add(directory)
            if not directory:
                _write_file(f"{self.directory}/{_STAGING_MARK}", b"")

    def _remove_left_over(self) -> None:
        """Remove what a build that did not finish staged; refuse an entry of the name that is not gopc's."""
        if not os.path.lexists(self.directory):
            return
        if os.path.isdir(self.directory) and not os.path.islink(self.directory):
            if os.path.lexists(f"{self.directory}/{_STAGING_MARK}"):
                shutil.rmtree(self.directory)
                return
            with contextlib.suppress(OSError):
                os.rmdir(self.directory)  # made, not marked yet, when that build stopped
                return
        raise EmitError(f"refusing to remove `{STAGING}` in the output: gopc did not make it, and builds use "
                        f"that name for their staged files; move it away")


def _new_root(relative: str, directories: set[str]) -> str | None:
    """The shallowest directory of the path that the tree lacks (None when it has them all)."""
    parent = relative.rpartition("/")[0]
    if not parent or parent in directories:
        return None
    parts = parent.split("/")
    return next(root for root in ("/".join(parts[:depth]) for depth in range(1, len(parts) + 1))
                if root not in directories)


def _plan(files: dict[str, bool], staging: _Staging, directories: set[str], existing: _Existing,
          owned_before: set[str], overwritten: set[str], interrupted: _Journal, manifest: bytes | None) -> _Plan:
    """`files`: each path, in path order -> the tree holds its bytes; `staging`: where the others' are."""
    report = EmitReport(kept=_kept(files, existing, owned_before, overwritten))
    changed: dict[str, str] = {}
    for relative, unchanged in files.items():
        if unchanged:
            report.unchanged.append(relative)
        else:
            changed[relative] = staging.staged[relative]
            report.written.append(relative)
    report.removed = sorted(p for p in owned_before if p not in files and p in existing.entries)
    cleared = {path for path in directories if path in existing.entries}
    cleared |= {path for path in files if path in existing.directories}
    emptied = interrupted.directories - directories
    for relative in report.removed:
        parent = relative.rpartition("/")[0]
        while parent and parent not in directories:
            emptied.add(parent)
            parent = parent.rpartition("/")[0]
    return _Plan(report, changed, sorted(cleared), sorted(directories - existing.directories), sorted(staging.new_roots),
                 sorted(emptied), manifest)


def _write_journal(out: str, plan: _Plan, interrupted: _Journal) -> None:
    """Every path the plan changes, on disk (fsynced) before the first change: what the next build
    repairs should this one not finish (with what an earlier unfinished build was changing)."""
    files = interrupted.files | set(plan.changed) | set(plan.report.removed) | set(plan.cleared)
    directories = interrupted.directories | set(plan.new_directories) | set(plan.emptied)
    text = json.dumps({"generator": "gopc", "files": sorted(files), "directories": sorted(directories)}, indent=1)
    _replace_file(f"{out}/{JOURNAL}", (text + "\n").encode("utf-8"), durable=True)


def _apply(plan: _Plan, out: str, staging: _Staging) -> None:
    for relative in plan.cleared:
        _remove_entry(f"{out}/{relative}")
    _side_by_side(_move_directory, [(f"{staging.directory}/tree/{root}", f"{out}/{root}") for root in plan.moved])
    moved = set(plan.moved)
    in_place = {staged: staging.placed(out, staged) for relative, staged in plan.changed.items() if _under(relative, moved)}
    _place_new_files([(staged, f"{out}/{relative}") for relative, staged in plan.changed.items()
                      if not _under(relative, moved)], in_place)
    _side_by_side(_remove_file, [f"{out}/{relative}" for relative in plan.report.removed])
    for relative in sorted(plan.emptied, key=lambda path: path.count("/"), reverse=True):  # children first
        try:
            os.rmdir(f"{out}/{relative}")
        except OSError as error:
            if error.errno not in (errno.ENOTEMPTY, errno.EEXIST, errno.ENOENT, errno.ENOTDIR):
                raise  # not empty (a file of the user's), gone, or not a directory: it stays as it is
    if plan.manifest is not None:
        _replace_file(f"{out}/{MANIFEST}", plan.manifest)
    os.unlink(f"{out}/{JOURNAL}")


def _remove_entry(path: str) -> None:
    if os.path.isdir(path) and not os.path.islink(path):
        shutil.rmtree(path)
    else:
        os.unlink(path)


def _remove_file(path: str) -> None:
    with contextlib.suppress(FileNotFoundError):  # under a directory a forced build replaced
        os.unlink(path)


def _read_journal(out: Path) -> _Journal | None:
    """The journal a build that did not finish left (None when there is none; an empty one when it is damaged)."""
    try:
        text = (out / JOURNAL).read_bytes()
    except FileNotFoundError:
        return None
    data = _manifest_data(text)
    try:
        return _Journal({safe_relative(p) for p in data.get("files", [])},
                        {safe_relative(p) for p in data.get("directories", [])})
    except (EmitError, TypeError, AttributeError):
        return _Journal()


def _remove_half_written(out: str, files: set[str]) -> None:
    for relative in files:
        with contextlib.suppress(FileNotFoundError, NotADirectoryError):
            os.unlink(_beside(f"{out}/{relative}"))


def _beside(path: str) -> str:
    """Where `path` is written before it is renamed over `path`."""
    head, _, name = path.rpartition("/")
    return f"{head}/.{name}{_NEW_SUFFIX}"


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


def _pairs(files: Files) -> Iterable[tuple[str, str | bytes]]:
    return files.items() if isinstance(files, Mapping) else files


def _notes(notes: Notes) -> dict[str, object]:
    return (notes() if callable(notes) else notes) or {}


def _pass_files(files: Iterable[tuple[str, str | bytes]], out: str, existing: _Existing,
                changed: Callable[[list[tuple[str, bytes]]], None] | None, index: OutputIndex | None) -> dict[str, bool]:
    """Each file's normalised path, in path order -> the tree holds its bytes. The files are compared
    as they come, a chunk at a time (side by side; through `index` when there is one), and their
    bytes dropped: `changed` gets the chunk's files that the tree does not hold."""
    same: dict[str, bool] = {}
    chunk: list[tuple[str, bytes]] = []
    size = 0
    normal = index.paths_before if index is not None else {}  # paths found safe and normal by the last build
    unchanged = index.unchanged if index is not None and index.watch is not None else None
    for path, content in files:
        relative = path if path in normal else safe_relative(path)
        if relative in same:
            raise EmitError(f"refusing to write `{path}`: another path names the same file `{relative}`")
        data = content.encode("utf-8") if isinstance(content, str) else content
        same[relative] = True
        if unchanged is not None and unchanged(relative, data):
            continue  # the same bytes object the last build checked, its file untouched since: no chunk needed
        chunk.append((relative, data))
        size += len(data)
        if len(chunk) >= _CHUNK_FILES or size >= _CHUNK_BYTES:
            _compare_chunk(chunk, out, existing, same, changed, index)
            chunk, size = [], 0
    _compare_chunk(chunk, out, existing, same, changed, index)
    same = dict(sorted(same.items()))
    if index is not None:
        index.paths_before = same
    return same


def _compare_chunk(chunk: list[tuple[str, bytes]], out: str, existing: _Existing, same: dict[str, bool],
                   changed: Callable[[list[tuple[str, bytes]]], None] | None, index: OutputIndex | None) -> None:
    different = [item for item, unchanged in zip(chunk, _same_as_before(chunk, out, existing, index)) if not unchanged]
    for relative, _ in different:
        same[relative] = False
    if different and changed is not None:
        changed(different)


def _parent_directories(files: dict[str, bool]) -> set[str]:
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


def _manifest_text(files: dict[str, bool], notes: dict[str, object]) -> bytes:
    return (json.dumps({"generator": "gopc", "files": list(files), **notes}, indent=2) + "\n").encode("utf-8")


def manifest_notes(out: Path) -> dict[str, object]:
    """The notes the previous build of `out` kept in its manifest ({} when there are none)."""
    data = _manifest_data(_manifest_bytes(Path(out)))
    return {key: value for key, value in data.items() if key not in ("generator", "files")}


def _same_as_before(files: list[tuple[str, bytes]], out: str, existing: _Existing, index: OutputIndex | None) -> list[bool]:
    """For each file, in order: the tree holds it with these bytes. With an `index`, a file whose
    status is recorded is compared by digest, unread (in this thread: a status and a digest cost
    less than handing them to another); the others are read side by side (a new tree's files need
    no threads), and each found the same is kept in the index."""
    there = [position for position, (relative, _) in enumerate(files) if relative in existing.entries]
    same = [False] * len(files)
    unread = []
    told = index.same(out, [files[position] for position in there]) if index is not None else [None] * len(there)
    for position, known in zip(there, told):
        if known is None:
            unread.append(position)
        else:
            same[position] = known
    statuses = _side_by_side(_holding_pair, [(f"{out}/{files[position][0]}", files[position][1]) for position in unread])
    for position, status in zip(unread, statuses):
        if status is not None:
            same[position] = True
            if index is not None:
                index.keep_read(*files[position], status)
    return same


def _holding_pair(pair: tuple[str, bytes]) -> os.stat_result | None:
    return _holding(*pair)


def _kept(files, existing: _Existing, owned_before: set[str], overwritten: set[str]) -> list[str]:
    """User entries that stay: neither written now nor before, nor in the way of what is."""
    return sorted(relative for relative in existing.entries
                  if relative not in files and relative not in owned_before and not _under(relative, overwritten))


def _renamed(staged: str, target: str) -> bool:
    """`os.replace`; False where the target is on another file system, mounted inside the output."""
    try:
        os.replace(staged, target)
    except OSError as error:
        if error.errno != errno.EXDEV:
            raise
        return False
    return True


def _move_directory(pair: tuple[str, str]) -> None:
    """A staged directory renamed to its place; file by file on another file system."""
    staged, target = pair
    if not _renamed(staged, target):
        for directory, _, names in os.walk(staged):  # parents first
            made = target + directory[len(staged):]
            os.mkdir(made)
            for name in names:
                _move_staged((f"{directory}/{name}", f"{made}/{name}"))


def _place_new_files(new_files: list[tuple[str, str]], in_place: dict[str, str]) -> None:
    """(staged file, target) pairs: each staged file is renamed over its first target (side by side);
    the other targets with its bytes are hard links to that one, or to where it already is
    (`in_place`: a file of a directory renamed whole). A link costs a fraction of a new inode.
    Each file appears whole: a link is made beside its path, then renamed over it."""
    first: dict[str, str] = dict(in_place)
    unique: list[tuple[str, str]] = []
    twins: list[tuple[str, str]] = []
    for staged, target in new_files:
        twin = first.setdefault(staged, target)
        if twin is target:
            unique.append((staged, target))
        else:
            twins.append((twin, target))
    _side_by_side(_move_staged, unique)
    for twin, target in twins:
        _link_or_copy(twin, _beside(target))
        os.replace(_beside(target), target)


def _link_or_copy(source: str, target: str, data: bytes | None = None) -> None:
    """`target` a hard link to `source`, or a copy (`data`, else read) where no link can be made (`_NO_LINK`)."""
    try:
        os.link(source, target)
    except OSError as error:
        if error.errno not in _NO_LINK:
            raise
        if data is None:
            with open(source, "rb") as read:
                data = read.read()
        _write_file(target, data)


def _move_staged(pair: tuple[str, str]) -> None:
    """A staged file renamed over its path; on another file system, copied beside it and renamed."""
    staged, target = pair
    if not _renamed(staged, target):
        with open(staged, "rb") as read:
            _write_file(_beside(target), read.read())
        os.replace(_beside(target), target)


def _write_pair(pair: tuple[str, bytes]) -> None:
    _write_file(*pair)


def _replace_file(path: str, data: bytes, durable: bool = False) -> None:
    """`path` holds `data`, whole or not at all for a reader (written beside it, renamed over it);
    `durable`: on disk, name included, when this returns."""
    _write_file(_beside(path), data)
    if durable:
        _sync(_beside(path))
    os.replace(_beside(path), path)
    if durable:
        _sync(os.path.dirname(path))


def _sync(path: str) -> None:
    descriptor = os.open(path, os.O_RDONLY | _O_CLOEXEC)
    try:
        os.fsync(descriptor)
    finally:
        os.close(descriptor)


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


def _under(relative: str, roots: set[str]) -> bool:
    if not roots:
        return False
    while relative:
        if relative in roots:
            return True
        relative = relative.rpartition("/")[0]
    return False


def _read_manifest(out: Path, files: dict[str, bool]) -> tuple[set[str], bytes | None]:
    """The files the previous build wrote, and the manifest's bytes. A path this build writes too
    (`files`, normalised) is safe and normal as it stands: only the others are checked."""
    text = _manifest_bytes(out)
    try:
        return {p if p in files else safe_relative(p) for p in _manifest_data(text).get("files", [])}, text
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
            if relative == STAGING:
                continue  # gopc's: the bytes a build staged (`_Staging`)
            if child.is_dir(follow_symlinks=False):
                existing.directories.add(relative)
                pending.append(relative)
            elif relative not in (MANIFEST, JOURNAL):
                existing.entries.add(relative)
    return existing


def _holding(path: str, data: bytes) -> os.stat_result | None:
    """The status (taken before it is read) of the regular file (not a symlink) at `path`, when it
    holds exactly `data`; None otherwise."""
    try:
        descriptor = os.open(path, os.O_RDONLY | _O_NOFOLLOW | os.O_NONBLOCK | _O_CLOEXEC)  # NONBLOCK: a FIFO
    except OSError:
        return None
    try:
        status = os.fstat(descriptor)
        if not stat.S_ISREG(status.st_mode) or status.st_size != len(data):
            return None
        chunks, size = [], 0
        while size < len(data):
            chunk = os.read(descriptor, len(data) - size)
            if not chunk:
                return None
            chunks.append(chunk)
            size += len(chunk)
        return status if b"".join(chunks) == data else None
    except OSError:
        return None
    finally:
        os.close(descriptor)
