"""Projects: one program root, its open buffers and its cached analyses.

Input: the folders the client opened, the open documents (text + version), and
edits to them. Output: `Snapshot`s (an `Analysis` with the buffer versions it
saw) and the diagnostics to publish for them.

- A project's root is the folder `gopc check` would be given: an opened
  workspace folder that holds `.gop` files, or else the highest directory above
  the file such that it and every directory on the way hold `.gop` files.
- Unsaved buffers are passed to the session as overlays. Each project's analyses
  run one at a time on its own worker thread, so the server keeps answering
  while one runs and a slow root never holds up another.
- Edits are throttled, not delayed: an edit after a quiet moment (no analysis
  started in the last `delay` seconds, none running) is analysed at once; the
  edits that follow it within `delay`, or while it runs, make one analysis after
  it. A result that a newer edit has overtaken is not published, unless it saw
  the very texts of every open buffer and nothing but buffers changed since it
  started (a file opened as it is on disk, the workspace's first analysis still
  running): then it is the current one and is published as such.
- `{uri: (version, snapshot)}` keeps, per document, the last snapshot in which
  that document had no syntax error, so requests on a half-typed file are
  answered from the last good state; `latest` always holds the newest.
- Each project analyses in its own `Session` (compiler/session.py: the caches and the collector
  policy are the session's). Parses are cached by (file, text) in the server's `ParseCache`,
  which every project's session parses through: an edit re-parses only the edited file. The
  trees of first texts the disk cache lacked are written there after each analysis's
  diagnostics are published, not before (and at the latest when the client asks for shutdown).
- A project keeps only the snapshots above (`latest`, and the last good one per document): an
  analysis they no longer hold, and its trees and fleet, can be collected.

Invariants: diagnostics published for a snapshot are exactly `gopc check ROOT`
on the same texts; a file that had diagnostics and has none now gets an empty
list; nothing here raises into the protocol layer (failures are logged).
"""

from __future__ import annotations

import asyncio
import functools
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path

from gop.compiler.core.collector import ANALYSIS_PAUSE
from gop.compiler.session import Analysis, ParseCache, Session, analyse

from gop.compiler.semantic.symbols import SymbolTable
from gop.compiler.semantic.loader import enclosing_program, has_gop_files

SYNTAX_CODE_PREFIX = "E01"


@dataclass(slots=True)
class Snapshot:
    analysis: Analysis
    generation: int
    versions: dict[str, int | None]  # uri -> version of each open buffer the analysis saw
    seconds: float
    _symbols: SymbolTable | None = None

    @property
    def symbols(self) -> SymbolTable:
        """The analysis's symbol table, built on first use."""
        if self._symbols is None:
            self._symbols = symbol_table(self.analysis)
        return self._symbols

    def syntax_errors_in(self, key: str) -> bool:
        return any(d.span.file == key and d.code.startswith(SYNTAX_CODE_PREFIX) for d in self.analysis.diagnostics)


def symbol_table(analysis: Analysis) -> SymbolTable:
    """The symbol table of an analysis, with the fleet's app records and cluster labels."""
    fleet = analysis.fleet
    return SymbolTable(
        analysis.program, analysis.resolution, analysis.checker,
        app_records=fleet.unit_records() if fleet is not None else {},
        labels_type=analysis.evaluation.labels_type if analysis.evaluation is not None else None,
        cluster_labels={name: cluster.labels for name, cluster in fleet.clusters.items()} if fleet is not None else {},
    )


def project_root(file: Path, folders: list[Path]) -> Path:
    """The directory `gopc check` would be given for `file` (see the module doc)."""
    containing = [f for f in folders if f == file or f in file.parents]
    for folder in sorted(containing, key=lambda f: len(f.parts), reverse=True):
        if has_gop_files(folder):
            return folder
    return enclosing_program(file, max(containing, key=lambda f: len(f.parts)) if containing else None)


@dataclass(slots=True)
class Buffer:
    uri: str
    path: Path  # absolute
    key: str  # the loader's file key
    text: str
    version: int | None


class Project:
    """One root: schedules analyses of it and publishes their diagnostics."""

    def __init__(self, root: Path, host: "Host") -> None:
        self.root = root
        self.host = host
        self.latest: Snapshot | None = None
        self.good: dict[str, tuple[int | None, Snapshot]] = {}  # uri -> (version, last snapshot without syntax errors there)
        self._wanted = 0  # generation of the newest requested analysis
        self._outside = 0  # generation of the newest request for a change that buffers do not show (files, a close)
        self._last_start = float("-inf")  # loop time the last analysis started
        self._timer: asyncio.TimerHandle | None = None
        self._running = False
        self._published: dict[str, tuple[int | None, list]] = {}  # uri -> (version, diagnostics) last sent
        self._settled: asyncio.Event = asyncio.Event()
        self._worker = ThreadPoolExecutor(max_workers=1, thread_name_prefix=f"gop-analysis-{root.name}")
        self.session = Session(parses=host.parses)  # used by the worker thread only

    # ---- scheduling ----------------------------------------------------------------

    def changed(self, delay: float, *, buffers_only: bool = False) -> None:
        """The buffers or files changed: analyse again, at once after a quiet moment, else `delay`
        seconds after the last analysis started (see the module doc). `buffers_only`: the change is
        in open buffers' texts alone (an edit, an open), so an analysis that saw the new texts already
        is current."""
        self._wanted += 1
        if not buffers_only:
            self._outside = self._wanted
        self._settled.clear()
        if self._timer is not None:
            self._timer.cancel()
        loop = asyncio.get_running_loop()
        self._timer = loop.call_later(max(0.0, self._last_start + delay - loop.time()), self._start)

    def _start(self) -> None:
        self._timer = None
        if self._running:
            return  # `_finish` starts the next run
        self._running = True
        self._last_start = asyncio.get_running_loop().time()
        generation = self._wanted
        buffers = self.host.buffers_under(self.root)
        versions = {b.uri: b.version for b in buffers}
        overlays = {str(b.path): b.text for b in buffers}
        asyncio.get_running_loop().create_task(self._run(generation, versions, overlays))

    async def _run(self, generation: int, versions, overlays) -> None:
        snapshot = None
        # The collector waits until the diagnostics are out, not only until the analysis is (as
        # `Session.analyse` has it): its collection of the young objects an analysis leaves comes
        # every third analysis or so and takes tens of milliseconds, which it would add to them.
        with ANALYSIS_PAUSE:
            try:
                started = time.perf_counter()
                job = functools.partial(analyse, [str(self.root)], overlays, session=self.session)
                analysis = await asyncio.get_running_loop().run_in_executor(self._worker, job)
                snapshot = Snapshot(analysis, generation, versions, time.perf_counter() - started)
            except Exception as error:  # a compiler bug must not stop the server
                self.host.analysis_failed(self, error)
            finally:
                self._running = False
            if snapshot is not None:
                self._finish(snapshot)
                generation = snapshot.generation
        # The trees the disk cache lacked, for the next start: written once the diagnostics are out,
        # on the worker (before the next analysis, which waits for it: only after a first analysis).
        self._worker.submit(self.host.parses.write_pending)
        if self._wanted != generation and self._timer is None:
            self._start()

    def _finish(self, snapshot: Snapshot) -> None:
        if self.latest is not None and snapshot.generation < self.latest.generation:
            return
        if snapshot.generation < self._wanted and self._still_current(snapshot):
            if self._timer is not None:
                self._timer.cancel()
                self._timer = None
            snapshot.generation = self._wanted
            snapshot.versions = {b.uri: b.version for b in self.host.buffers_under(self.root)}
        # The snapshots this one replaces are freed only once its diagnostics are out: freeing an
        # analysis (a million objects) takes a while.
        replaced = [self.latest]
        self.latest = snapshot
        for uri, version in snapshot.versions.items():
            key = self.host.paths.key(uri)
            if key is not None and not snapshot.syntax_errors_in(key):
                replaced.append(self.good.get(uri))
                self.good[uri] = (version, snapshot)
        if snapshot.generation == self._wanted:
            self.host.publish(self, snapshot)
            self._settled.set()
        replaced.clear()

    def _still_current(self, snapshot: Snapshot) -> bool:
        """Whether `snapshot` analysed the current texts: only buffers changed since it started,
        and it saw each open buffer's present text."""
        if self._outside > snapshot.generation:
            return False
        sources = snapshot.analysis.program.sources
        for buffer in self.host.buffers_under(self.root):
            seen = sources.get(buffer.key)
            if seen is None or seen.text != buffer.text:
                return False
        return True

    async def settled(self, timeout: float) -> Snapshot | None:
        """The snapshot of the current texts: hurries a pending analysis and waits for it (at most `timeout`)."""
        if self._timer is not None:
            self._timer.cancel()
            self._start()
        if not self._settled.is_set():
            try:
                await asyncio.wait_for(self._settled.wait(), timeout)
            except asyncio.TimeoutError:
                pass
        return self.latest

    def serving(self, uri: str) -> Snapshot | None:
        """The snapshot to answer requests on `uri` from: the newest one in which it parsed cleanly."""
        good = self.good.get(uri)
        latest = self.latest
        if good is None or (latest is not None and latest.generation == good[1].generation):
            return latest
        key = self.host.paths.key(uri)
        if latest is not None and key is not None and not latest.syntax_errors_in(key):
            return latest
        return good[1]

    def forget(self, uri: str) -> None:
        self.good.pop(uri, None)

    # ---- diagnostics ----------------------------------------------------------------

    def diagnostics_by_uri(self, snapshot: Snapshot) -> dict[str, list]:
        by_file: dict[str, list] = {}
        for diag in snapshot.analysis.diagnostics:
            by_file.setdefault(diag.span.file, []).append(diag)
        return {self.host.paths.uri(key): items for key, items in by_file.items()}

    def to_publish(self, diagnostics: dict[str, list], versions: dict[str, int | None]) -> list[tuple[str, list, int | None]]:
        """(uri, diagnostics, version) to send for a snapshot, given its diagnostics by URI (already
        in the protocol's form) and the versions of the open buffers it saw: what differs from what
        was last sent for the URI (an open buffer hears about every new version, even if nothing
        else changed), and an empty list for each URI that had diagnostics and has none now.
        Records them as sent."""
        sending = []
        for uri in sorted(set(diagnostics) | set(self._published)):
            items, version = diagnostics.get(uri, []), versions.get(uri)
            if self._published.get(uri) != (version, items):
                sending.append((uri, items, version))
        self._published = {uri: (versions.get(uri), items) for uri, items in diagnostics.items()}
        return sending


@dataclass
class Host:
    """What projects need from the server: buffers, paths, publishing, error reports, the parses."""

    paths: object
    buffers_under: Callable[[Path], list[Buffer]]
    publish: Callable[[Project, Snapshot], None]
    analysis_failed: Callable[[Project, BaseException], None]
    parses: ParseCache
