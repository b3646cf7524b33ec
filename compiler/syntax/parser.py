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
`${...}` of strings are parsed the same way (`parse_expression`), with the report of their file.

Invariants: every span lies inside the file; children lie inside their parents;
no exception escapes `parse` for any input text.
"""

from __future__ import annotations

from dataclasses import dataclass

from gop.compiler.core.span import Span
from gop.compiler.diagnostics import Diagnostic, codes
from gop.compiler.syntax import ast
from gop.compiler.syntax.limits import (
    MAX_ERRORS_PER_FILE, MAX_RECOVERIES_PER_FILE, TOO_DEEP_MESSAGE, TOO_DEEP_NOTES, node_below,
)
from gop.compiler.syntax.report import SyntaxReport

# Lark and the modules built on it (builder, scanner, both loops) are imported by `parse`, not
# here: a run whose parses all come from the cache (`session`) never loads them.


@dataclass(frozen=True, slots=True)
class ParseResult:
    file: ast.File
    diagnostics: tuple[Diagnostic, ...]


def parse(path: str, text: str) -> ParseResult:
    """Parse one file. Never raises for any text."""
    from gop.compiler.syntax.builder import Builder, DocIndex
    from gop.compiler.syntax.scanner import scan

    scanned = scan(text)
    comments = tuple(ast.Comment(Span(path, a, b), text[a:b]) for a, b in scanned.comments)
    docs = DocIndex(text, scanned.comments)
    report = SyntaxReport(path)
    decls: list[ast.Decl] = []
    too_deep = iter(scanned.too_deep)
    deep_at = next(too_deep, None)
    for start, end in scanned.chunks:
        while deep_at is not None and deep_at < start:
            deep_at = next(too_deep, None)
        if report.count >= MAX_ERRORS_PER_FILE or report.recoveries >= MAX_RECOVERIES_PER_FILE:
            decls.append(ast.BadDecl(Span(path, start, end)))
            continue
        if deep_at is not None and deep_at < end:
            # Not parsed at all: error recovery in a stack thousands of brackets deep is slow.
            report.add(codes.NESTED_TOO_DEEPLY, deep_at, deep_at, TOO_DEEP_MESSAGE, TOO_DEEP_NOTES)
            decls.append(ast.BadDecl(Span(path, start, end)))
            continue
        builder = Builder(path, text, start, docs, report, parse_expression)
        decls.extend(_within_nesting_limit(decl, report) for decl in _parse_chunk(builder, end))
    file = ast.File(Span(path, 0, len(text)), tuple(decls), comments)
    return ParseResult(file, tuple(report.items))


def _within_nesting_limit(decl: ast.Decl, report: SyntaxReport) -> ast.Decl:
    """`decl`, or a `BadDecl` (with E0330) when its tree is deeper than MAX_NESTING."""
    deepest = node_below(decl)
    if deepest is None:
        return decl
    report.add(codes.NESTED_TOO_DEEPLY, deepest.span.start, deepest.span.start, TOO_DEEP_MESSAGE, TOO_DEEP_NOTES)
    return ast.BadDecl(decl.span)


def _parse_chunk(builder: Builder, end: int) -> list[ast.Decl]:
    """The declarations of the chunk from `builder.base` to `end`."""
    from gop.compiler.syntax import recovery

    chunk_text = builder.text[builder.base:end]
    builder.report.new_chunk()
    decls = _parse_without_errors(chunk_text, "chunk", builder)
    if decls is not None:
        return decls
    state = recovery.ChunkState(chunk_text, builder.base)
    given_up = [ast.BadDecl(Span(builder.path, builder.base, end))]
    try:
        decls = recovery.parse(state, "chunk", builder, builder.report)
        return given_up if decls is None else list(decls)
    except RecursionError:
        builder.report.add(codes.UNEXPECTED_TOKEN, builder.base, builder.base, "this declaration is nested too deeply to parse")
        return given_up
    finally:
        recovery.report_glued(state, builder.report)


def parse_expression(path: str, text: str, start: int, end: int, report: SyntaxReport) -> ast.Expr:
    """Parse text[start:end] as one expression (used for `${...}` interpolations)."""
    from gop.compiler.syntax import recovery
    from gop.compiler.syntax.builder import Builder, DocIndex

    builder = Builder(path, text, start, DocIndex(text, []), report, parse_expression)
    expression = _parse_without_errors(text[start:end], "expr", builder)
    if expression is not None:
        return expression
    expression = recovery.parse(recovery.ChunkState(text[start:end], start), "expr", builder, report)
    return ast.Missing(Span(path, start, end)) if expression is None else expression


def _parse_without_errors(text: str, start: str, builder: Builder):
    """The fast loop's value for text without syntax errors; None otherwise, with anything the
    builder reported on the way taken back (Lark's loop reports it again)."""
    from gop.compiler.syntax import fastloop
    from gop.compiler.syntax.builder import reducer_for
    from gop.compiler.syntax.grammar import lark_parser

    reported = builder.report.mark()
    try:
        result = fastloop.parse(lark_parser(), text, start, reducer_for, builder)
    except Exception:  # the loop reads Lark's private tables: on any failure Lark's own loop parses
        result = None
    if result is None:
        builder.report.rollback(reported)
    return result
