"""Whole-run memos: what a `gopc check` reported, and that a `gopc build` left its output up to
date, kept per run in the disk cache (`core.diskcache`, kind `run`) and replayed when nothing the
run could read has changed.

Input: the command's own inputs (its name, the working directory, the program's paths, and for
`build` the output directory and `--force`), then the run itself: what it reported, the analyses,
and for `build` the tree it left. Output: on a later run with the same inputs, the same reports
(rendered again through the run's reporter, so `--format`, `--color`, NO_COLOR and -q apply as
usual) and the same exit code, without analysing.

What a memo is keyed by (an entry is replayed only when all of it is unchanged):
- gopc itself (the disk cache's fingerprint) and the command's inputs above (the entry's name);
- the SCANNED TREES: every directory a path names (a file's directory for a file), walked without
  following symbolic links, minus hidden directories (which the loader does not search either)
  and the build's output directory: each file's SHA-256, each symbolic link's target, each
  directory's names. Inside a tree `gopc build` wrote (a directory holding its manifest) only
  the names, and the `.gop` files' contents, count: the program lists such directories but reads
  no other file there without the read being recorded;
- every file the run READ (`syntax.readfile.READS`, through which the program's files, modules,
  SOPS files, resource files, charts.lock and vendored charts are read) outside what the scan
  hashes: its SHA-256 (or its absence); and every imported module's directory outside it: its
  `.gop` names;
- for `build`, the output tree as it was left: every entry's type, mode, size, inode and
  modification and change times (a hand edit changes them; the full build then reports or keeps
  it as it always does). A replay lists no directory: an entry added, removed or renamed changes
  its directory's modification time. A tree with an entry changed within its file system's clock
  tick is not recorded (an edit in the same tick would not show; `core.settling`: 2 s for FAT,
  `FINE_SETTLED_NS` where entries have sub-second times, so a no-op build right after one that
  wrote files is recorded): the next build runs in full and records it.

No memo is kept for a run that reported an unreadable file (E09xx) or a missing module (their
messages depend on permissions and on sibling directories), for a program read from standard
input, when the scanned trees hold more than `MAX_SCANNED_ENTRIES` entries or `MAX_SCANNED_BYTES` to
hash (found before reading any: hashing them would cost more than it saves), or when the trees changed while the run read them. The language
server keeps none (it has its own memos). Environment variables: the analysis and the lowering
read none (helm, which `GOPC_HELM` names, runs for `render` only, which is not memoized).
"""

from __future__ import annotations

import contextlib
import hashlib
import os
import stat
import time
from collections import namedtuple

from gop.compiler.core.settling import settled
from gop.compiler.emit import MANIFEST
from gop.compiler.syntax.readfile import READS

TYPE_CHECKING = False  # typing.TYPE_CHECKING, without importing typing
if TYPE_CHECKING:
    from gop.compiler.diagnostics import Diagnostic

KIND = "run"
MAX_SCANNED_ENTRIES = 100_000
MAX_SCANNED_BYTES = 32 << 20
_IO_PREFIX = "E09"

# Plain classes, not dataclasses: a replay imports this module and little else, and importing
# `dataclasses` and `typing` and creating dataclasses would cost a fifth of its time.

_Scan = namedtuple("_Scan", "digest unhashed")  # unhashed: directories whose files' contents the digest does not cover


class _Entry:
    __slots__ = ("scanned", "read", "listed", "events", "exit_code", "output")

    def __init__(self, scanned: bytes, read: tuple[tuple[str, bytes | None], ...],
                 listed: tuple[tuple[str, tuple[str, ...] | None], ...], events: list[tuple], exit_code: int,
                 output: _Output | None) -> None:
        self.scanned = scanned
        self.read = read  # files read outside the scan: (path, SHA-256 or None: absent)
        self.listed = listed  # module directories outside it: their .gop names
        self.events = events  # ("report", diagnostics, sources) and ("say", line), in order
        self.exit_code = exit_code
        self.output = output  # build: the output tree as left


class RunMemo:
    """One run's memo: `replay` it, or `record` the run and `store` what it reported."""

    __slots__ = ("disk", "key", "roots", "output", "events", "_before", "_reads")

    def __init__(self, disk, key: str, roots: tuple[str, ...], output: str | None = None) -> None:
        self.disk = disk  # core.diskcache.DiskCache
        self.key = key
        self.roots = roots
        self.output = output
        self.events: list[tuple] = []
        self._before: _Scan | None = None
        self._reads: list[str] = []

    def replay(self, reporter) -> int | None:
        """The exit code after reporting what the memo holds; None (nothing reported) when there is
        none for these inputs."""
        entry = self.disk.get(KIND, self.key)
        self._before = _scan(self.roots, self.output)
        if not isinstance(entry, _Entry) or self._before is None or entry.scanned != self._before.digest:
            return None
        if any(_file_digest(path) != digest for path, digest in entry.read) \
                or any(_gop_names(path) != names for path, names in entry.listed):
            return None
        if self.output is not None and (entry.output is None or not entry.output.unchanged(self.output)):
            return None
        for event in entry.events:
            if event[0] == "report":
                reporter.report(event[1], event[2])
            else:
                reporter.say(event[1])
        return entry.exit_code

    @contextlib.contextmanager
    def record(self):
        """Around the run: the files it reads are recorded."""
        token = READS.set(self._reads)
        try:
            yield self
        finally:
            READS.reset(token)

    def report(self, reporter, diagnostics: list[Diagnostic], sources) -> None:
        """`reporter.report`, kept for the replay (with the sources the diagnostics point into)."""
        reporter.report(diagnostics, sources)
        self.events.append(("report", list(diagnostics), _sources_of(diagnostics, sources)))

    def say(self, line: str) -> None:
        self.events.append(("say", line))

    def store_build(self, analysis, files: list[str], summary: str) -> None:
        """After a build that wrote `files` (their paths): keep its reports and the summary line a
        build that changes nothing prints (`summary` starts it), with the output tree as left."""
        from gop.compiler.emit.tree import safe_relative

        walked = _output_walk(self.output, now=time.time_ns())
        if walked is None:
            return
        owned = {safe_relative(path) for path in files} | {MANIFEST}
        kept = [path for path, status in walked if path and not stat.S_ISDIR(status.st_mode) and path not in owned]
        self.say(f"{summary} (0 written, {len(files)} unchanged, 0 removed, {len(kept)} of yours kept)")
        # the statuses found settled, not stat'ed again: an entry changed since would be recorded unsettled
        output = _Output("\0".join(path for path, _ in walked), _digest_of(status for _, status in walked))
        self.store([analysis], 0, output)

    def store(self, analyses, exit_code: int, output: _Output | None = None) -> None:
        """Keep the run's events for its inputs, unless the run cannot be replayed (see the module doc)."""
        from gop.compiler.diagnostics import codes

        reported = [event[1] for event in self.events if event[0] == "report"]
        if any(d.code.startswith(_IO_PREFIX) or d.code == codes.MODULE_NOT_FOUND for ds in reported for d in ds):
            return
        after = _scan(self.roots, self.output)
        if self._before is None or after != self._before:
            return
        covered = _Coverage(self.roots, after.unhashed)
        read = tuple((path, _file_digest(path)) for path in sorted(set(self._reads)) if not covered(path))
        modules = {os.path.realpath(key) for analysis in analyses for key, module in analysis.program.modules.items()
                   if not module.is_std}
        listed = tuple((path, _gop_names(path)) for path in sorted(modules)
                       if not covered(path) or path in after.unhashed)
        self.disk.put(KIND, self.key, _Entry(after.digest, read, listed, self.events, exit_code, output))


def check_memo(disk, runs: list[tuple[list, dict, set | None]]) -> RunMemo | None:
    """The memo of a `gopc check` of these (paths, overlays, files) runs; None without a disk
    cache or for text from standard input."""
    if disk is None or any(overlays for _, overlays, _ in runs):
        return None
    described = repr([([str(p) for p in paths], sorted(str(f) for f in files or ())) if files is not None
                      else ([str(p) for p in paths], None) for paths, _, files in runs])
    return _memo(disk, "check", described, [path for paths, _, _ in runs for path in paths])


def build_memo(disk, paths: list[str], out: str, force: bool) -> RunMemo | None:
    """The memo of a `gopc build PATHS -o OUT` (with `--force` or not); None without a disk cache."""
    if disk is None:
        return None
    return _memo(disk, "build", repr((list(paths), out, force)), paths, os.path.realpath(out))


def _memo(disk, command: str, described: str, paths, output: str | None = None) -> RunMemo:
    key = disk.key(KIND, command.encode(), os.getcwd().encode("utf-8", "surrogateescape"),
                   described.encode("utf-8", "surrogateescape"))
    roots = {os.path.realpath(path if os.path.isdir(path) else os.path.dirname(os.path.abspath(path))) for path in paths}
    return RunMemo(disk, key, tuple(sorted(roots)), output)


def _sources_of(diagnostics: list[Diagnostic], sources) -> dict:
    """The sources a rendering of `diagnostics` looks into (their spans', related spans' and fixes')."""
    files = set()
    for d in diagnostics:
        spans = ([d.span] if d.span is not None else []) + [r.span for r in d.related] + [f.span for f in d.fixes]
        files.update(span.file for span in spans)
    return {name: sources[name] for name in sorted(files) if name in sources}


class _Coverage:
    """Whether the scan hashed a (resolved) path: it is below a root and not below an unhashed directory."""

    def __init__(self, roots: tuple[str, ...], unhashed: tuple[str, ...]) -> None:
        self.roots, self.unhashed = roots, unhashed

    def __call__(self, path: str) -> bool:
        return any(_below(path, root) for root in self.roots) and not any(_below(path, skip) for skip in self.unhashed)


def _below(path: str, directory: str) -> bool:
    return path == directory or path.startswith(directory.rstrip(os.sep) + os.sep)


def _scan(roots: tuple[str, ...], output: str | None) -> _Scan | None:
    """The digest of the trees (see the module doc); None when they are too large to be worth it,
    found before any file is read (the walk stops at the first entry over the limits)."""
    digest, unhashed, hashed = hashlib.sha256(), [], []
    budget = [MAX_SCANNED_ENTRIES, MAX_SCANNED_BYTES]
    for root in roots:
        digest.update(f"root\0{root}\n".encode("utf-8", "surrogateescape"))
        pending = [(root, False)]
        while pending:
            directory, names_only = pending.pop()
            try:
                with os.scandir(directory) as listing:
                    entries = sorted(listing, key=lambda entry: entry.name)
            except OSError as error:
                digest.update(f"unlistable\0{directory}\0{error.errno}\n".encode("utf-8", "surrogateescape"))
                continue
            if not names_only and any(entry.name == MANIFEST for entry in entries):
                names_only = True
                unhashed.append(directory)
            budget[0] -= len(entries)
            for entry in entries:
                _scan_entry(entry, names_only, output, digest, pending, unhashed, hashed, budget)
            if budget[0] < 0 or budget[1] < 0:
                return None
    for path in hashed:
        digest.update(_file_digest(path) or b"?")
    return _Scan(digest.digest(), tuple(sorted(unhashed)))


def _scan_entry(entry: os.DirEntry, names_only: bool, output: str | None, digest, pending: list, unhashed: list,
                hashed: list, budget: list[int]) -> None:
    """Adds the entry's kind and name to `digest`, and a file to hash to `hashed`."""
    path = entry.path
    try:
        if entry.is_symlink():
            digest.update(f"L\0{path}\0{os.readlink(path)}\n".encode("utf-8", "surrogateescape"))
        elif entry.is_dir(follow_symlinks=False):
            if entry.name.startswith(".") or path == output:
                unhashed.append(path)
            else:
                digest.update(f"D\0{path}\n".encode("utf-8", "surrogateescape"))
                pending.append((path, names_only))
        elif entry.is_file(follow_symlinks=False):
            digest.update(f"F\0{path}\n".encode("utf-8", "surrogateescape"))
            if not names_only or entry.name.endswith(".gop"):
                budget[1] -= entry.stat(follow_symlinks=False).st_size
                hashed.append(path)
        else:
            digest.update(f"O\0{path}\n".encode("utf-8", "surrogateescape"))
    except OSError as error:
        digest.update(f"unreadable\0{path}\0{error.errno}\n".encode("utf-8", "surrogateescape"))


def _file_digest(path: str) -> bytes | None:
    try:
        with open(path, "rb") as file:
            return hashlib.file_digest(file, "sha256").digest()
    except OSError:
        return None


def _gop_names(directory: str) -> tuple[str, ...] | None:
    try:
        return tuple(sorted(name for name in os.listdir(directory) if name.endswith(".gop")))
    except OSError:
        return None


class _Output(namedtuple("_Output", "paths digest")):
    """The output tree as a build left it: its entries' relative paths ("" for the tree itself),
    joined by NUL (one string pickles and loads far faster than thousands), in the order walked,
    and the digest of their statuses (`_status_digest`)."""

    __slots__ = ()

    def unchanged(self, out: str) -> bool:
        """Each entry has the status it had (no listing: a directory whose entries were added,
        removed or renamed has another modification time)."""
        try:
            return _status_digest(out, self.paths.split("\0")) == self.digest
        except OSError:
            return False


def _output_walk(out: str, now: int) -> list[tuple[str, os.stat_result]] | None:
    """Every entry of the output tree with its status, the tree's own first; None when one
    changed in its device's settling window before `now` (ns) or the tree cannot be read."""
    entries, pending = [], [""]
    try:
        while pending:
            relative = pending.pop()
            path = f"{out}/{relative}" if relative else out
            status = os.lstat(path)
            entries.append((relative, status))
            if stat.S_ISDIR(status.st_mode):
                pending.extend(f"{relative}/{name}" if relative else name for name in sorted(os.listdir(path)))
    except OSError:
        return None
    return entries if settled([status for _, status in entries], now) else None


def _status_digest(out: str, paths: list[str]) -> bytes:
    return _digest_of(os.lstat(f"{out}/{relative}" if relative else out) for relative in paths)


def _digest_of(statuses) -> bytes:
    digest = hashlib.sha256()
    for status in statuses:
        digest.update(b"%d %d %d %d %d\n" % (status.st_mode, status.st_size, status.st_ino, status.st_mtime_ns,
                                              status.st_ctime_ns))
    return digest.digest()
