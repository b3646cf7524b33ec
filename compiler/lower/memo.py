"""What lowering a program works out by the identity of the evaluation's objects, and the files it
made by what they are made from: kept across a session's analyses (`LoweringMemo.across_rounds`,
the session's, given to each analysis's `LoweringCaches`), or for one analysis only (`one_round`).

Input: the objects of evaluated fleets (app bases, values types and their fields, instances, value
trees), which are never changed once made; the session's `EvaluationMemo` hands the very same objects
back for what an edit left unchanged. Output: their digests (`lower.chartstore`, `lower.flux.treestore`)
without a repr of them made again, and each chart's files, each group of apps' Flux files and the rest
of the Flux tree without a digest of them or a read from the disk cache, and each Flux file's written
form (`lower.repository`, by its path and its text object, checked against its header's origin).

Invariants:
- A digest kept by an object's identity is checked against every other input it reads (names,
  spans, the other objects, by identity) before it is reused; the object is held by the entry, so
  no other object takes its id meanwhile (a written form holds its text likewise).
- Files are kept by everything their disk cache key digests (less gopc's fingerprint, the process's
  own), so files found here are the bytes that making them again would give, and the same the disk
  cache would hand back; a failing lowering keeps nothing.
- Kept for the last `rounds` analyses that made or used them (`next_round` as each analysis
  starts): an unchanged app's entries are the same objects from one analysis to the next, not copies.
- One analysis (`one_round`) keeps no files: a command-line build streams its charts and never
  holds them all (`lower.repository`); and only the digests it reads more than once, which go
  with its analysis.
"""

from __future__ import annotations

import os

from gop.compiler.core.identity import RoundMemo, RoundTable


class LoweringMemo:
    def __init__(self, rounds: int, *, across_analyses: bool) -> None:
        # What one analysis reads more than once (apps share fields, the stores share the app digests,
        # instances share value trees), and a session's later analyses too:
        self.app_digests = RoundMemo(rounds)  # app base -> (name, doc, features, values type, `ChartStore.app_digest`)
        self.type_digests = RoundMemo(rounds)  # values type -> `ChartStore.values_type_digest`
        self.field_digests = RoundMemo(rounds)  # a values type's Field -> its repr's digest
        self.tree_apps = RoundMemo(rounds)  # app base -> (what else it read, `treestore._app_digest`)
        self.fleet_apps = RoundMemo(rounds)  # app base -> (what else it read, its part of `treestore._fleet_digest`)
        self.seen = RoundMemo(rounds)  # a value tree -> (hidden fields, the digest of the rest: `treestore._seen_digest`)
        # What only a later analysis reads again (none kept for one analysis):
        self.patches = RoundMemo(rounds) if across_analyses else _NOTHING_KEPT  # an instance -> its `treestore.Patch`
        # an instance -> its keys kustomize cannot carry (`flux.keys.overlong_keys`)
        self.overlong = RoundMemo(rounds) if across_analyses else _NOTHING_KEPT
        # (kind, digests of what they are made from) -> a chart's entry or a part of the Flux tree's files
        self.files = RoundTable(rounds) if across_analyses else None
        # (a Flux file's path, its text's id) -> (the text, the form it is written in, its written form)
        self.written = RoundTable(rounds) if across_analyses else None
        # A chart's built-in files' written forms, one object for every chart that has each (by content;
        # a few dozen): a thousand charts read from the disk cache held a copy each, 22 MB at (1000,3,60).
        self._built_in: dict[str | bytes, str | bytes] = {}
        # (working directory, program root) -> each source file's path from the root (`LoweringCaches.source_paths`)
        self._source_paths: dict[tuple[str, str], dict[str, str]] = {}

    @classmethod
    def across_rounds(cls, rounds: int) -> LoweringMemo:
        """A session's: the last `rounds` analyses' digests and files."""
        return cls(rounds, across_analyses=True)

    @classmethod
    def one_round(cls) -> LoweringMemo:
        """One analysis's digests, for itself; no files."""
        return cls(1, across_analyses=False)

    def built_in(self, data: str | bytes) -> str | bytes:
        """The one object of a chart's built-in file with this content (kept by a session's memo)."""
        return self._built_in.setdefault(data, data)

    def source_paths(self, root: str) -> dict[str, str]:
        """Each source file's path from `root`, as the files' headers name it (`provenance`): strings
        only, kept for the session's programs at that root (and working directory: a path may be relative)."""
        return self._source_paths.setdefault((os.getcwd(), root), {})

    def next_round(self) -> None:
        for memo in (self.app_digests, self.type_digests, self.field_digests, self.tree_apps, self.fleet_apps,
                     self.seen, self.patches, self.overlong, self.files, self.written):
            if memo is not None:
                memo.next_round()


class _NothingKept:
    """A memo that keeps nothing (what one analysis never reads twice)."""

    def get(self, key: object) -> None:
        return None

    def put(self, key: object, value: object) -> None:
        pass

    def next_round(self) -> None:
        pass


_NOTHING_KEPT = _NothingKept()
