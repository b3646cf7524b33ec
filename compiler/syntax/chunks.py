"""The parse pass's work on one file (`parser.parse`), with Lark: the file split into chunks, each
chunk parsed by the fast loop or, when it declines, by Lark's loop with error recovery.

Input: one file's path and text. Output: the parts of its `parser.ParseResult`, the tree and the
syntax diagnostics (see `parser` for the steps and invariants). `parser.parse` imports this module on its first real parse, once: a run whose parses
all come from the cache never loads Lark, and a run that parses imports nothing per chunk.
"""

from __future__ import annotations

from gop.compiler.core.span import Span
from gop.compiler.diagnostics import Diagnostic, codes
from gop.compiler.syntax import ast, fastloop, recovery
from gop.compiler.syntax.builder import Builder, DocIndex, reducer_for
from gop.compiler.syntax.grammar import lark_parser
from gop.compiler.syntax.limits import (
    MAX_ERRORS_PER_FILE, MAX_RECOVERIES_PER_FILE, TOO_DEEP_MESSAGE, TOO_DEEP_NOTES, node_below,
)
from gop.compiler.syntax.report import SyntaxReport
from gop.compiler.syntax.scanner import scan


def parse_file(path: str, text: str) -> tuple[ast.File, tuple[Diagnostic, ...]]:
    """`parser.parse`'s tree and diagnostics: one file parsed chunk by chunk. Never raises for any text."""
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
    return file, tuple(report.items)


def _within_nesting_limit(decl: ast.Decl, report: SyntaxReport) -> ast.Decl:
    """`decl`, or a `BadDecl` (with E0330) when its tree is deeper than MAX_NESTING."""
    deepest = node_below(decl)
    if deepest is None:
        return decl
    report.add(codes.NESTED_TOO_DEEPLY, deepest.span.start, deepest.span.start, TOO_DEEP_MESSAGE, TOO_DEEP_NOTES)
    return ast.BadDecl(decl.span)


def _parse_chunk(builder: Builder, end: int) -> list[ast.Decl]:
    """The declarations of the chunk from `builder.base` to `end`."""
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
    builder = Builder(path, text, start, DocIndex(text, []), report, parse_expression)
    expression = _parse_without_errors(text[start:end], "expr", builder)
    if expression is not None:
        return expression
    expression = recovery.parse(recovery.ChunkState(text[start:end], start), "expr", builder, report)
    return ast.Missing(Span(path, start, end)) if expression is None else expression


def _parse_without_errors(text: str, start: str, builder: Builder):
    """The fast loop's value for text without syntax errors; None otherwise, with anything the
    builder reported on the way taken back (Lark's loop reports it again)."""
    reported = builder.report.mark()
    try:
        result = fastloop.parse(lark_parser(), text, start, reducer_for, builder)
    except Exception:  # the loop reads Lark's private tables: on any failure Lark's own loop parses
        result = None
    if result is None:
        builder.report.rollback(reported)
    return result
