"""Diagnostic renderers: human text, JSON and SARIF 2.1.0.

Input: diagnostics plus the `SourceFile`s they point into. Output: a string.
Text looks like `file:line:col: error[E0101]: message`, then the source line,
a caret under the span, notes and suggested fixes. Columns are 1-based and
count characters. Colour is used only when the caller asks (a terminal).

A span-less diagnostic (a command's error about no place in the program) shows
`origin` (e.g. `gopc build`) where the location would be, has null location
fields in JSON, and a SARIF result without `locations`. The JSON document is
produced by the pydantic models of `jsonmodel` (imported only here, lazily:
pydantic's import time is paid by the JSON path alone).
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence

from gop.compiler.diagnostics.codes import lookup
from gop.compiler.diagnostics import Diagnostic, Severity
from gop.compiler.core.span import SourceFile, Span

_COLOURS = {Severity.ERROR: "31", Severity.WARNING: "33", Severity.INFO: "36", Severity.HINT: "36"}


def _where(span: Span, sources: Mapping[str, SourceFile]) -> tuple[int, int]:
    source = sources.get(span.file)
    if source is None:
        return (1, 1)
    position = source.position(span.start)
    return (position.line + 1, position.column + 1)


def _region(span: Span, sources: Mapping[str, SourceFile]) -> tuple[int, int, int, int]:
    """1-based start line and column, then end line and column."""
    return (*_where(span, sources), *_where(Span(span.file, span.end, span.end), sources))


def render(fmt: str, diagnostics: Sequence[Diagnostic], sources: Mapping[str, SourceFile], *,
           colour: bool = False, origin: str = "gopc", version: str = "") -> str:
    """The diagnostics as text, json or sarif (text: '' when there are none; json and sarif: always a document)."""
    if fmt == "json":
        return render_json(diagnostics, sources)
    if fmt == "sarif":
        return render_sarif(diagnostics, sources, version=version)
    return render_text(diagnostics, sources, colour=colour, origin=origin)


def render_text(diagnostics: Sequence[Diagnostic], sources: Mapping[str, SourceFile], *, colour: bool = False,
                origin: str = "gopc") -> str:
    def paint(code: str, text: str) -> str:
        return f"\x1b[{code}m{text}\x1b[0m" if colour else text

    out: list[str] = []
    for diag in diagnostics:
        head = paint("1;" + _COLOURS[diag.severity], f"{diag.severity.label}[{diag.code}]")
        if diag.span is None:
            out.append(f"{origin}: {head}: {diag.message}")
        else:
            line, column = _where(diag.span, sources)
            out.append(f"{diag.span.file}:{line}:{column}: {head}: {diag.message}")
            out.extend(_excerpt(diag.span, sources, paint))
        for note in diag.notes:
            out.append(f"  = note: {note}")
        for related in diag.related:
            r_line, r_column = _where(related.span, sources)
            out.append(f"  = {related.message}: {related.span.file}:{r_line}:{r_column}")
        for fix in diag.fixes:
            out.append(f"  = help: {fix.title}")
    if diagnostics:
        out.append(_summary(diagnostics))
    return "\n".join(out) + ("\n" if out else "")


def _excerpt(span: Span, sources: Mapping[str, SourceFile], paint) -> list[str]:
    source = sources.get(span.file)
    if source is None or not source.text:
        return []
    start = source.position(span.start)
    end = source.position(max(span.end, span.start))
    text = source.line_text(start.line).expandtabs(1)
    if len(text) > 200:
        return []
    width = (end.column - start.column) if end.line == start.line else len(text) - start.column
    gutter = f"{start.line + 1:>4} | "
    caret = " " * (len(gutter) - 2) + "| " + " " * start.column + paint("1;32", "^" * max(width, 1))
    return [gutter + _printable(text), caret]


def _printable(text: str) -> str:
    return "".join(ch if ch.isprintable() or ch == "\t" else "\ufffd" for ch in text)


def _summary(diagnostics: Sequence[Diagnostic]) -> str:
    errors = sum(1 for d in diagnostics if d.severity is Severity.ERROR)
    warnings = sum(1 for d in diagnostics if d.severity is Severity.WARNING)
    parts = [f"{errors} error{'s' if errors != 1 else ''}"]
    if warnings:
        parts.append(f"{warnings} warning{'s' if warnings != 1 else ''}")
    return ", ".join(parts)


def render_json(diagnostics: Sequence[Diagnostic], sources: Mapping[str, SourceFile]) -> str:
    from gop.compiler.diagnostics.jsonmodel import DiagnosticsDocument

    document = DiagnosticsDocument(diagnostics=[_json_item(diag, sources) for diag in diagnostics],
                                   errors=sum(d.is_error for d in diagnostics))
    return json.dumps(document.model_dump(by_alias=True), indent=2, ensure_ascii=False) + "\n"


def _json_item(diag: Diagnostic, sources: Mapping[str, SourceFile]):
    from gop.compiler.diagnostics.jsonmodel import DiagnosticJSON, FixJSON, RelatedJSON

    if diag.span is None:
        where = dict.fromkeys(("file", "start", "end", "line", "column", "endLine", "endColumn"))
    else:
        line, column, end_line, end_column = _region(diag.span, sources)
        where = {"file": diag.span.file, "start": diag.span.start, "end": diag.span.end,
                 "line": line, "column": column, "endLine": end_line, "endColumn": end_column}
    return DiagnosticJSON(
        code=diag.code, severity=diag.severity.label, message=diag.message, **where, notes=list(diag.notes),
        related=[RelatedJSON(file=r.span.file, start=r.span.start, end=r.span.end, message=r.message) for r in diag.related],
        fixes=[FixJSON(file=f.span.file, start=f.span.start, end=f.span.end, replacement=f.replacement, title=f.title)
               for f in diag.fixes],
    )


_SARIF_LEVEL = {Severity.ERROR: "error", Severity.WARNING: "warning", Severity.INFO: "note", Severity.HINT: "note"}


def render_sarif(diagnostics: Sequence[Diagnostic], sources: Mapping[str, SourceFile], *, version: str) -> str:
    codes = sorted({d.code for d in diagnostics})
    rules = []
    for code in codes:
        info = lookup(code)
        rule = {"id": code, "shortDescription": {"text": info.title if info else code}}
        if info:
            rule["fullDescription"] = {"text": info.doc}
            rule["defaultConfiguration"] = {"level": _SARIF_LEVEL[info.severity]}
        rules.append(rule)
    results = []
    for diag in diagnostics:
        result = {
            "ruleId": diag.code,
            "ruleIndex": codes.index(diag.code),
            "level": _SARIF_LEVEL[diag.severity],
            "message": {"text": diag.message + "".join(f"\n{note}" for note in diag.notes)},
        }
        if diag.span is not None:
            result["locations"] = [_sarif_location(diag.span, *_region(diag.span, sources))]
        if diag.related:
            result["relatedLocations"] = [
                {**_sarif_location(r.span, *_region(r.span, sources)),
                 "id": index, "message": {"text": r.message}}
                for index, r in enumerate(diag.related)
            ]
        if diag.fixes:
            result["fixes"] = [_sarif_fix(fix, sources) for fix in diag.fixes]
        results.append(result)
    log = {
        "$schema": "https://json.schemastore.org/sarif-2.1.0.json",
        "version": "2.1.0",
        "runs": [
            {
                "tool": {"driver": {"name": "gopc", "version": version, "informationUri": "https://github.com/gopc/gopc", "rules": rules}},
                "results": results,
                "columnKind": "unicodeCodePoints",
            }
        ],
    }
    return json.dumps(log, indent=2, ensure_ascii=False) + "\n"


def _sarif_location(span: Span, line: int, column: int, end_line: int, end_column: int) -> dict:
    return {
        "physicalLocation": {
            "artifactLocation": {"uri": span.file},
            "region": {
                "startLine": line,
                "startColumn": column,
                "endLine": end_line,
                "endColumn": end_column,
                "charOffset": span.start,
                "charLength": span.end - span.start,
            },
        }
    }


def _sarif_fix(fix, sources) -> dict:
    line, column, end_line, end_column = _region(fix.span, sources)
    return {
        "description": {"text": fix.title},
        "artifactChanges": [
            {
                "artifactLocation": {"uri": fix.span.file},
                "replacements": [
                    {
                        "deletedRegion": {"startLine": line, "startColumn": column, "endLine": end_line, "endColumn": end_column},
                        "insertedContent": {"text": fix.replacement},
                    }
                ],
            }
        ],
    }
