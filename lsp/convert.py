"""Conversions between the compiler's world and the protocol's.

Input: spans (file key + character offsets), `SourceFile`s, `Diagnostic`s, URIs.
Output: LSP ranges (0-based lines, UTF-16 columns), locations, LSP diagnostics,
and back: an LSP position to an offset, a URI to the compiler's file key.

File keys are the loader's display paths; `<std>/NAME.gop` names a standard
library file, which exists only inside the package. Editors can open only real
files, so the standard library is written once per content to a read-only file
in the user's cache directory, and URIs of that file map back to `<std>/NAME.gop`.

Invariants: a diagnostic converts field by field (code, severity, message,
related spans) from the one `gopc check` prints; notes become related
information at the primary span (the fixes become code actions, see `server`).
A span-less diagnostic (a command's error, about no place) lies at the start of
whichever document it is published on, its notes appended to its message.
"""

from __future__ import annotations

import hashlib
import importlib.resources
import os
import tempfile
from pathlib import Path

from lsprotocol import types as lsp
from pygls.uris import from_fs_path, to_fs_path

from gop.compiler.core.cachedir import user_cache_dir
from gop.compiler.diagnostics import Diagnostic
from gop.compiler.semantic.loader import display_path, is_std_file
from gop.compiler.core.span import SourceFile, Span

STD_DISPLAY_PREFIX = "<std>/"
SOURCE = "gopc"


def std_cache_dir() -> Path:
    """Where the standard library is materialised for editors; one folder per content."""
    base = user_cache_dir() or Path(tempfile.gettempdir()) / f"gopc-{os.getuid()}"
    digest = hashlib.sha256()
    for entry in sorted(_std_entries(), key=lambda e: e.name):
        digest.update(entry.name.encode() + b"\0" + entry.read_bytes())
    return base / f"std-{digest.hexdigest()[:16]}"


def _std_entries():
    return [e for e in importlib.resources.files("gop.stdlib").iterdir() if e.name.endswith(".gop")]


class Paths:
    """File keys <-> URIs for one server process (keys are relative to its working directory)."""

    def __init__(self) -> None:
        self.std_dir = std_cache_dir()
        self._materialised = False

    def materialise_std(self) -> None:
        """Write the standard library files (read-only) so that editors can open them."""
        if self._materialised:
            return
        self.std_dir.mkdir(parents=True, exist_ok=True)
        for entry in _std_entries():
            target = self.std_dir / entry.name
            if not target.exists():
                temporary = target.with_suffix(f".tmp{os.getpid()}")
                temporary.write_bytes(entry.read_bytes())
                temporary.chmod(0o444)
                temporary.replace(target)
        self._materialised = True

    def uri(self, key: str) -> str:
        if is_std_file(key):
            self.materialise_std()
            return from_fs_path(str(self.std_dir / key[len(STD_DISPLAY_PREFIX):]))
        return from_fs_path(str(Path(key).resolve()))

    def key(self, uri: str) -> str | None:
        """The loader's file key for a URI (None for URIs that are not files)."""
        path = to_fs_path(uri) if uri.startswith("file:") else None
        if path is None:
            return None
        resolved = Path(path).resolve()
        if resolved.parent == self.std_dir.resolve():
            return STD_DISPLAY_PREFIX + resolved.name
        return display_path(resolved)

    def is_std_uri(self, uri: str) -> bool:
        key = self.key(uri)
        return key is not None and is_std_file(key)


def position(source: SourceFile, offset: int) -> lsp.Position:
    where = source.utf16_position(offset)
    return lsp.Position(line=where.line, character=where.column)


def range_of(source: SourceFile, start: int, end: int) -> lsp.Range:
    return lsp.Range(start=position(source, start), end=position(source, max(start, end)))


def offset(source: SourceFile, where: lsp.Position) -> int:
    """The offset of a position, clamped to the text (a line past the end is its end, a character past a line's end is that end)."""
    return source.offset_from_utf16(max(where.line, 0), max(where.character, 0))


def location(paths: Paths, sources, span: Span) -> lsp.Location | None:
    source = sources.get(span.file)
    if source is None:
        return None
    return lsp.Location(uri=paths.uri(span.file), range=range_of(source, span.start, span.end))


def diagnostic(diag: Diagnostic, paths: Paths, sources) -> lsp.Diagnostic:
    if diag.span is None:
        return _lsp_diagnostic(diag, lsp.Range(start=lsp.Position(line=0, character=0), end=lsp.Position(line=0, character=0)),
                               diag.message + "".join(f"\nnote: {note}" for note in diag.notes), [])
    source = sources.get(diag.span.file) or SourceFile(diag.span.file, "")
    related = []
    for item in diag.related:
        where = location(paths, sources, item.span)
        if where is not None:
            related.append(lsp.DiagnosticRelatedInformation(location=where, message=item.message))
    here = lsp.Location(uri=paths.uri(diag.span.file), range=range_of(source, diag.span.start, diag.span.end))
    related.extend(lsp.DiagnosticRelatedInformation(location=here, message=f"note: {note}") for note in diag.notes)
    return _lsp_diagnostic(diag, here.range, diag.message, related)


def _lsp_diagnostic(diag: Diagnostic, where: lsp.Range, message: str, related: list) -> lsp.Diagnostic:
    return lsp.Diagnostic(
        range=where,
        severity=lsp.DiagnosticSeverity(int(diag.severity)),
        code=diag.code,
        source=SOURCE,
        message=message,
        related_information=related or None,
    )


def utf16_length(text: str) -> int:
    return len(text) + sum(1 for ch in text if ord(ch) > 0xFFFF)


MAX_UINTEGER = 2**31 - 1  # LSP's `uinteger`: positions beyond it cannot even be decoded


def clamp_positions(params) -> None:
    """Clamp every position's line and character (in raw request params) into 0..MAX_UINTEGER, in place.

    Positions past the end of a document are then clamped to it by `offset`, so a request at
    line 2**40 or at character -1 is answered like one at the end or the start of the text."""
    stack = [params]
    while stack:
        value = stack.pop()
        if isinstance(value, dict):
            if _is_int(value.get("line")) and _is_int(value.get("character")):
                value["line"] = min(max(value["line"], 0), MAX_UINTEGER)
                value["character"] = min(max(value["character"], 0), MAX_UINTEGER)
            stack.extend(v for v in value.values() if isinstance(v, (dict, list)))
        elif isinstance(value, list):
            stack.extend(v for v in value if isinstance(v, (dict, list)))


def _is_int(value) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)
