"""Parse pass: source text -> `ast.File` plus syntax diagnostics.

Input: one file's path and text. Output: a `ParseResult` whose `file` is always a
complete tree (never None), and whose `diagnostics` hold every syntax error found.

How a file is parsed:
1. `scanner.scan` splits the text into chunks, one per top-level declaration (a declaration
   keyword at column 0, at brace depth 0; if the file's braces do not balance, at every such
   keyword, so an unclosed `{` costs one declaration, not the rest of the file).
2. Each chunk is parsed by the fast loop (`fastloop`), which builds the tree for text without
   a syntax error and declines anything else. When it declines, or fails in any way at all
   (it reads Lark's private tables), what it reported is taken back and Lark's own loop
   parses the chunk with error recovery (`recovery`).
3. A chunk that still cannot be parsed, that nests deeper than `limits.MAX_NESTING`, or that
   comes after the file's error or recovery bounds, becomes a `BadDecl` spanning its text.

The `builder.Builder` of each chunk is passed explicitly to whichever loop parses it; the
`${...}` of strings are parsed the same way (`chunks.parse_expression`), with the report of their
file. The steps are `chunks`' (imported on the first real parse, with Lark).

Invariants: every span lies inside the file; children lie inside their parents;
no exception escapes `parse` for any input text.
"""

from __future__ import annotations

from dataclasses import dataclass

from gop.compiler.diagnostics import Diagnostic
from gop.compiler.syntax import ast


@dataclass(frozen=True, slots=True)
class ParseResult:
    file: ast.File
    diagnostics: tuple[Diagnostic, ...]


def parse_key(disk, path: str, text: str) -> str:
    """The key of `parse(path, text)` in a disk cache (`core.diskcache.DiskCache`: kind "parse")."""
    return disk.key("parse", path.encode("utf-8", "surrogateescape"), text.encode("utf-8", "surrogateescape"))


def parse(path: str, text: str) -> ParseResult:
    """Parse one file. Never raises for any text."""
    from gop.compiler.syntax.chunks import parse_file

    return ParseResult(*parse_file(path, text))
