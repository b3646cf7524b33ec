"""The session: runs the passes in order over explicit inputs, and owns every cache and the
garbage-collector policy.

Input: paths (and, from an editor, unsaved buffers as overlays). Output: an `Analysis`:
load+parse -> resolve -> typecheck -> evaluate (with its fleet checks) -> the tests' check
(`fleet.assertions`: tests are checked, never part of the fleet), then the plaintext-secret
pass over the syntax trees and, on a program without errors, what the lowering would refuse
(`lower.flux.validate`), so check reports all that build would. Each pass gets the outputs of
the previous ones and returns new side tables; lowering runs only on a program without errors
(`gop.compiler.lower.repository`, which reads the analysis's `lowering` caches). The `Analysis`
is what the commands and the language server share.

Where the caches live, and how long:
- In the `Session`, across its analyses: the parses by (file, text) (`ParseCache`, when the
  session is given one: the language server's, shared with its open documents), and the checked
  app bodies and app bases and each file's plaintext findings of the previous analyses, each unchanged
  app's instances, chart parts, each version's fleet-check findings and each app body's assignment
  findings (`EvaluationMemo`): the language server
  analyses again after each edit and gets the same trees for unchanged files. They keep only what
  the last three analyses used (as many as the parse cache keeps texts of a file), so a program's
  objects go three analyses after the last one that used them. A session that makes one analysis
  (`single_analysis`: `gopc build`, `render` and the other commands of one program) keeps no
  `EvaluationMemo`: nothing would read it, and recording it costs time and memory (each version's
  fleet checks taped, each app's check, base and instances kept). Also each app's schema (`values_type`,
  by its declaration, while the environment is unchanged), so an unchanged app's is the same object.
- In the `Session`, across its analyses, for their lowerings (`lower.memo.LoweringMemo`, given to
  each analysis's `LoweringCaches`; none for `single_analysis`, whose lowering keeps its digests for
  itself): each chart's files, each app group's and the fleet's Flux files (by their disk cache keys'
  parts) and each Flux file's written form (by its text), and the digests of the lowering's keys by
  the identity of what they digest (app bases, values types and their fields, instances, value
  trees: the `EvaluationMemo`'s very objects for unchanged apps) and each instance's keys kustomize
  cannot carry (the lowering checks of every analysis, the language server's too: 27 -> 15 ms at
  (1000,3,60)), for the same three analyses. A
  build server building after a one-line edit at (1000,3,60) lowers in ~0.1 s of CPU, not 0.4-1.1 s,
  with the collector policy below: it digests and unpickles nothing of the unchanged apps. It holds
  the tree's bytes (59 MB there, a chart's built-in files shared: its RSS is ~230 MB, not ~150),
  which the next build hands to `write_tree` again; the source files' paths from the root are kept
  too (strings).
- In the build server (`commands.serve`), across builds: one `Session` per program it builds (the
  last `PROGRAMS_KEPT`), with a `ParseCache` over the disk cache and an `EvaluationMemo`, as the
  language server's, and the output index of each directory it built into (`output_indexes`:
  each file's record, with the bytes it was checked against, so an unchanged file of the next
  build is neither read nor hashed; and the tree's watch, `emit.treewatch`, so its files' statuses
  are not taken again, nor its directories listed, unless the kernel says they changed: an inotify
  descriptor, released when the index is dropped); a build in its own process keeps nothing
  (`single_analysis`).
- On disk, across runs (`core.diskcache`, when the session is given one: the command line's,
  unless `--no-cache`; or through the language server's `ParseCache`, which writes after the
  diagnostics are out): each file's parse by (gopc, path, text). A run whose files are all
  there never loads Lark. And each app's chart files (`lower.chartstore`, through the analysis's
  `LoweringCaches.charts`) by (gopc, everything the Helm lowering reads of the app), so a build
  after an edit makes again only the charts of the apps whose base changed; and the Flux tree's files
  (`lower.flux.treestore`, through `LoweringCaches.tree_parts`): each app's own by what they read of
  it and of the fleet, the rest of the tree in one entry by the whole fleet but the app fields only
  the charts read (`CHART_ONLY_FIELDS`), so an edit of one app's replicas makes again only its files.
  And, by the output's real path, the output index of `gopc build` (`emit.outputindex`, written by
  `emit.tree.write_tree`, read by `compare_tree` too): each file a build found holding its bytes,
  with its status and SHA-256, so the next build compares a file whose status is the one recorded
  (settled when taken, `core.settling`) by digest, without reading it. The language server
  also keeps there the code of the methods attrs writes for the protocol's types
  (`lsp.attrs_code`, by their source text), made at its start; and its parse-ahead helper
  (`lsp.parse_ahead`, a second process) writes there the parses of the prelude and of the
  workspace's files, under `parse_through`'s keys, as the server starts.
- In the `Analysis`, for its program only: `lowering`, the fleet's `LoweringCaches` (the overlay
  plan, each cluster's SOPS secrets and app namespaces, each env's app namespaces, and `helm`: each
  app's chart version, each field's JSON Schema and its UTF-8 texts, the texts of the schemas'
  `properties` and `required` lists made of them, the last values.schema.json with its bytes, and
  what `helm template` printed for releases, also kept on disk), used
  by `check` and then by `build`, `render`, `diff`. Dropping the
  analysis drops them (but the session's `LoweringMemo`); two programs (`gopc diff`) each keep their own.
- Inside the objects of one run: the checker's and renderer's own tables (`Checker`,
  `ClusterRenderer`), which live as long as those objects.
- Process-wide, holding no program object (a pure function of the grammar or of small strings):
  the Lark parser and what is built from its grammar (`syntax.grammar.lark_parser`,
  `terminal_literal`, `syntax.builder.reducer_for`, `syntax.recovery._deferred_callbacks`,
  `syntax.fastloop._tables`, `syntax.limits._child_fields`, `syntax.tokens._lexer`), the code pages
  (`diagnostics.codes.registry`), quantity/duration literals and compiled string patterns
  (`semantic.check._unit_value`, `_compiled`), the vendored Kubernetes and Flux schemas and the
  types converted from them (`semantic.kubeschema._vendored`), the kustomization of a list of file names
  (`lower.flux.tree._kustomization_of`) and the YAML emitter's scalar, key-head and comment texts (`emit.yaml`). Also process-wide, because the collector is the
  process's: the collector policy below.

The collector policy (`core.collector`: `collect_as`, `ANALYSIS_PAUSE`; applied by `Session.analyse`): an analysis allocates about a million
objects and makes almost no cycles; the cyclic collector, left on, would scan them several times
over (a tenth of `gopc check`). So it is off while any analysis runs (counted across threads: the
language server analyses roots in parallel); a command-line session (`keep_analyses`) then
freezes what it built, since the process keeps it until it exits, so the collections during
lowering never scan it again; the language server lets it run after the analysis, once the
diagnostics are out (`lsp.project` holds the pause until it has published them: the collection of
the young objects an analysis leaves, every third analysis or so, takes tens of milliseconds), and
keeps it off while it imports its modules, whose objects it then freezes (`imports_kept`). A session
that builds again (a build server) holds the pause over the whole build (analysis, lowering, writing),
then, once the build's result is out, calls `Session.settle`: what the build left is collected and the
rest frozen (`core.collector.settle`), so the collections of the next build never scan what the
session keeps (its memos and trees: their scans were 0.3-0.5 s of a lowering that now takes ~0.1 s), and
every `FULL_COLLECTION_EVERY` builds everything is unfrozen first, so the cycles among what the memos
let go are found too. The build server (`commands.serve`) turns the collector off for good
(`serving_builds`) and settles the session that built once the client has its reply, while the
next client starts (deferred to idle moments, it measured no faster, 0.54-0.70 s a one-line build at
(1000,3,60), and let the garbage of back-to-back builds pile up).
"""

from __future__ import annotations

import gc
import threading
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from gop.compiler.core.collector import ANALYSIS_PAUSE, FULL_COLLECTION_EVERY, settle
from gop.compiler.core.diskcache import DiskCache, open_disk_cache
from gop.compiler.core.identity import RoundMemo
from gop.compiler.core.span import SourceFile
from gop.compiler.diagnostics import Diagnostic, has_errors
from gop.compiler.fleet.assertions import TestSuite, check_tests
from gop.compiler.fleet.evaluate import Evaluation, evaluate
from gop.compiler.lower.memo import LoweringMemo
from gop.compiler.semantic import plaintext
from gop.compiler.semantic.check import Checker
from gop.compiler.semantic.loader import Program, load
from gop.compiler.semantic.resolve import Resolution, resolve
from gop.compiler.syntax import ast
from gop.compiler.syntax.parser import ParseResult, parse as parse_text, parse_key


@dataclass(slots=True)
class Analysis:
    program: Program
    diagnostics: list[Diagnostic] = field(default_factory=list)
    resolution: Resolution | None = None
    checker: Checker | None = None
    evaluation: Evaluation | None = None
    tests: TestSuite | None = None  # the program's `test` declarations, checked (`gopc test` runs them)
    _lowering: Any = field(default=None, repr=False)
    disk: DiskCache | None = field(default=None, repr=False)  # the session's, for the lowering's helm renderings
    lowering_memo: Any = field(default=None, repr=False)  # the session's `LoweringMemo`, for the lowering

    @property
    def fleet(self):
        return self.evaluation.fleet if self.evaluation is not None else None

    @property
    def lowering(self):
        """The fleet's `lower.flux.caches.LoweringCaches`: made on first use, kept with the analysis."""
        if self._lowering is None and self.evaluation is not None:
            from gop.compiler.lower.flux.caches import LoweringCaches

            self._lowering = LoweringCaches(self.evaluation.fleet, disk=self.disk, memo=self.lowering_memo)
        return self._lowering


class Session:
    """Analyses programs; owns the caches that outlive one analysis (see the module doc).

    `parses`: a `ParseCache` to parse through (the language server's); `keep_analyses`: the
    process keeps every analysis until it exits (the command line), so each is frozen out of
    the collector's reach once built; `single_analysis`: the session analyses once, so it keeps
    nothing for a next analysis (no `EvaluationMemo`)."""

    def __init__(self, *, parses: ParseCache | None = None, keep_analyses: bool = False,
                 disk: DiskCache | None = None, single_analysis: bool = False) -> None:
        self.parses = parses
        self.keep_analyses = keep_analyses
        self.disk = disk
        self.evaluation_memo = None if single_analysis else EvaluationMemo()
        self.lowering_memo = None if single_analysis else LoweringMemo.across_rounds(ParseCache.VERSIONS_PER_FILE)
        self._builds_settled = 0
        # The output index of each directory this session built into (`emit.outputindex`), handed to
        # the next build into it: only a session that builds again (the build server's) fills it.
        self.output_indexes: dict[str, object] = {}

    def analyse(self, paths: Iterable[str | Path], overlays: Mapping[str, str] | None = None, *,
                parse: Callable[[str, str], ParseResult] | None = None) -> Analysis:
        source_file = SourceFile
        if parse is None and self.parses is not None:
            parse, source_file = self.parses.parse, self.parses.source
        with ANALYSIS_PAUSE:
            try:
                return self._analyse(paths, overlays, parse or self.parse, source_file)
            finally:
                if self.keep_analyses:
                    gc.freeze()

    def settle(self) -> None:
        """The collector policy of a session that builds again (a build server), applied once a
        build's result is out: what the build left is collected and the rest frozen
        (`core.collector.settle`), with a full collection every `FULL_COLLECTION_EVERY` builds."""
        self._builds_settled += 1
        settle(full=self._builds_settled % FULL_COLLECTION_EVERY == 0)

    def drop_outputs(self) -> None:
        """Forget the output indexes, and release their trees' watches now (a build server drops
        the session: its collector may never free what the session's cycles hold)."""
        from gop.compiler.emit.tree import drop_indexes

        drop_indexes(self.output_indexes)

    def parse(self, path: str, text: str) -> ParseResult:
        """`parse_text`, through the disk cache when the session has one."""
        return parse_through(self.disk, path, text)

    def _analyse(self, paths, overlays, parse, source_file) -> Analysis:
        memo = self.evaluation_memo
        if memo is not None:
            memo.next_round()
        if self.lowering_memo is not None:
            self.lowering_memo.next_round()
        program = load(paths, overlays, parse=parse, source_file=source_file)
        resolution, resolve_diagnostics = resolve(program)
        checker = Checker(program, resolution)
        for module in resolution.module_symbols.values():
            for decl in module.values():
                _check_declaration(checker, decl)
        evaluation = evaluate(program, resolution, checker, program.root, memo=memo)
        tests = check_tests(checker, resolution, evaluation)
        diagnostics = program.diagnostics + resolve_diagnostics + checker.diagnostics + plaintext.check(program, memo.plaintext if memo is not None else None)
        analysis = Analysis(program, [], resolution, checker, evaluation, tests, disk=self.disk,
                            lowering_memo=self.lowering_memo)
        if not has_errors(diagnostics):
            diagnostics += _lowering_checks(analysis)
        analysis.diagnostics = _sorted(diagnostics)
        return analysis


def analyse(paths: Iterable[str | Path], overlays: Mapping[str, str] | None = None, *,
            parse: Callable[[str, str], ParseResult] | None = None, session: Session | None = None) -> Analysis:
    """`session.analyse(paths, overlays)`; without a session, in a new one (nothing is kept)."""
    return (session or Session()).analyse(paths, overlays, parse=parse)


def analyse_and_keep(paths: Iterable[str | Path], *, session: Session | None = None, cache: bool = True) -> Analysis:
    """`analyse` for a process that keeps the analysis until it exits (the command line), through
    the disk cache unless `cache` is false (`--no-cache`)."""
    return analyse(paths, session=session or command_line_session(cache))


def command_line_session(cache: bool = True) -> Session:
    """A session for one analysis, which the process keeps until it exits, with the user's disk
    cache (`core.diskcache`) unless `cache` is false or there is no writable cache directory."""
    return Session(keep_analyses=True, disk=open_disk_cache() if cache else None, single_analysis=True)


class EvaluationMemo:
    """What `evaluate` may reuse from the previous analyses: each app body's (and app template's
    and defaults block's) check (by its declaration), each app's base (by its checked leaves, kept
    with the template and defaults leaves under it, which must be the very same objects for the
    base to be reused), what each app body's leaves gave the assignment checks (by the leaves) and
    each vendored chart's values type;
    see `fleet.evaluate`; also each file's plaintext-secret findings (by its tree). Kept for as
    many analyses as the parse cache keeps texts of a file: an edit undone, or toggled, finds its
    trees (the parse cache's) checked already."""

    def __init__(self) -> None:
        self.app_checks = RoundMemo(ParseCache.VERSIONS_PER_FILE)
        self.app_bases = RoundMemo(ParseCache.VERSIONS_PER_FILE)
        # The values type of each vendored chart by its lock entry (its package's digest), made
        # once per session: a function of the package, which each analysis checks against the lock.
        self.chart_types: dict = {}
        self.plaintext = RoundMemo(ParseCache.VERSIONS_PER_FILE)
        # Each app's instances (by its base values; `fleet.evaluate._kept_instances`) and each
        # version's fleet-check calls (by its values; `fleet.checks.VersionTapes`).
        self.instances = RoundMemo(ParseCache.VERSIONS_PER_FILE)
        self.environment: tuple | None = None  # the last analysis's `fleet.evaluate._environment`
        self.fleet_checks = RoundMemo(ParseCache.VERSIONS_PER_FILE)
        self.features = RoundMemo(ParseCache.VERSIONS_PER_FILE)  # each app's chart parts (by its base values), with the trees they come from
        self.assignments = RoundMemo(ParseCache.VERSIONS_PER_FILE)  # what each app body's leaves gave `checks.assignments` (by its leaves)
        # The prelude's App schema (with the environment it was checked in) and each app's schema
        # made from it (by its declaration): one object across analyses while the environment is
        # unchanged, by which the lowering finds an unchanged app's digests (`lower.memo`).
        self.app_record: tuple | None = None
        self.app_records = RoundMemo(ParseCache.VERSIONS_PER_FILE)

    def next_round(self) -> None:
        for memo in (self.app_checks, self.app_bases, self.plaintext, self.instances, self.fleet_checks, self.features,
                     self.assignments, self.app_records):
            memo.next_round()


def parse_through(disk: DiskCache | None, path: str, text: str,
                  keep: Callable[[str, ParseResult], None] | None = None) -> ParseResult:
    """`parse_text`, read from `disk` (when there is one) and, when it lacks the parse, kept there
    at once, or by `keep(key, parse)` when given (the language server writes later)."""
    if disk is None:
        return parse_text(path, text)
    key = parse_key(disk, path, text)
    result = disk.get("parse", key)
    if not isinstance(result, ParseResult):
        result = parse_text(path, text)
        if keep is None:
            disk.put("parse", key, result)
        else:
            keep(key, result)
    return result


class ParseCache:
    """Parse results by (file key, text); keeps the last few texts of each file.

    `disk`: the first text of each file (a workspace as it is opened) is read from it, so a
    server started again reads its trees rather than parsing them; a first text it lacks is
    parsed and written there by `write_pending`, which the server calls once the diagnostics of
    the analysis that parsed it are out (pickling and writing a workspace's trees would delay
    them by a third), and again at shutdown. Later texts (edits) are not kept there, so typing does not fill the cache
    directory."""

    VERSIONS_PER_FILE = 3

    def __init__(self, versions_per_file: int = VERSIONS_PER_FILE, *, disk: DiskCache | None = None) -> None:
        self._per_file = versions_per_file
        self._disk = disk
        self._entries: dict[str, list[tuple[str, ParseResult, SourceFile]]] = {}
        self._unwritten: list[tuple[str, ParseResult]] = []  # (disk key, parse) of first texts the disk lacked
        self._lock = threading.Lock()
        self._writing = threading.Lock()  # held while `write_pending` writes

    def parse(self, path: str, text: str) -> ParseResult:
        return self._entry(path, text)[1]

    def file(self, path: str, text: str) -> tuple[ast.File, SourceFile]:
        """The tree and the line index of one text (the very objects an analysis of that text holds)."""
        _, result, source = self._entry(path, text)
        return result.file, source

    def source(self, path: str, text: str) -> SourceFile:
        """The line index of one text (made once per text kept, for the analyses and the requests)."""
        return self._entry(path, text)[2]

    def _entry(self, path: str, text: str) -> tuple[str, ParseResult, SourceFile]:
        with self._lock:
            first = path not in self._entries
            entries = self._entries.setdefault(path, [])
            for index, entry in enumerate(entries):
                if entry[0] is text or entry[0] == text:
                    if index:
                        entries.insert(0, entries.pop(index))
                    return entry
        result = parse_through(self._disk, path, text, keep=self._write_later) if first else parse_text(path, text)
        entry = (text, result, SourceFile(path, text))
        with self._lock:
            entries = self._entries.setdefault(path, [])
            entries.insert(0, entry)
            del entries[self._per_file:]
        return entry

    def _write_later(self, key: str, result: ParseResult) -> None:
        """A first text's parse the disk cache lacked, left for `write_pending`."""
        with self._lock:
            self._unwritten.append((key, result))

    def write_pending(self) -> None:
        """Write to the disk cache the first texts' parses it lacked; returns once written, also
        those another thread was writing (the server's shutdown: the process may end right after)."""
        with self._writing:
            with self._lock:
                pending, self._unwritten = self._unwritten, []
            for key, result in pending:
                self._disk.put("parse", key, result)


def _lowering_checks(analysis: Analysis) -> list[Diagnostic]:
    """What the lowering would refuse (no sync source, SOPS files, ExternalSecrets ...), reported by `check` too."""
    from gop.compiler.lower.flux.errors import program_lowering_diagnostic
    from gop.compiler.lower.flux.validate import lowering_problems

    return [program_lowering_diagnostic(error, analysis.program)
            for error in lowering_problems(analysis.fleet, analysis.lowering)]


def _check_declaration(checker: Checker, decl) -> None:
    if isinstance(decl, ast.LetDecl):
        checker.let_value(decl)
    else:
        checker.named_type(decl)


def _sorted(diagnostics: list[Diagnostic]) -> list[Diagnostic]:
    unique = {(d.code, d.span, d.message): d for d in diagnostics}
    return sorted(unique.values(), key=Diagnostic.sort_key)
