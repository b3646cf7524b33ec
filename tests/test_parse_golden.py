"""Golden tests of syntax errors: tests/golden/parse/*.txtar.

Each archive holds one or more `NAME.gop` inputs, a `diagnostics` section with the
expected syntax diagnostics (`file:line:col: severity[CODE]: message`, one per line, in
the order the parser reports them), and optionally a `decls` section listing the
top-level declarations the parser recovered (`file: kind name`, one per line), which
shows that the declarations after an error still parse. The comment header says what
the golden is about. GOP_UPDATE_GOLDEN=1 rewrites the expected sections.
"""

from __future__ import annotations

from pathlib import Path

import pytest

import txtar
from gop.compiler.syntax import ast
from gop.compiler.syntax.parser import parse
from gop.compiler.core.span import SourceFile

GOLDEN_DIR = Path(__file__).parent / "golden" / "parse"
GOLDENS = sorted(GOLDEN_DIR.glob("*.txtar"))
EXPECTED_SECTIONS = ("diagnostics", "decls")


def is_known_section(name: str) -> bool:
    return name.endswith(".gop") or name in EXPECTED_SECTIONS


def render_line(diagnostic, source: SourceFile) -> str:
    position = source.position(diagnostic.span.start)
    return f"{diagnostic.span.file}:{position.line + 1}:{position.column + 1}: {diagnostic.severity.label}[{diagnostic.code}]: {diagnostic.message}"


def describe_decl(decl: ast.Decl) -> str:
    if isinstance(decl, ast.ResourceDecl):
        return f"{decl.kind} {decl.name.text}" if decl.name else decl.kind
    if isinstance(decl, ast.PackageDecl):
        return f"package {decl.name.text}"
    if isinstance(decl, ast.ImportDecl):
        return f"import {decl.path.plain_value}"
    if isinstance(decl, ast.LabelsDecl):
        return "labels"
    if isinstance(decl, ast.BadDecl):
        return "<bad declaration>"
    keyword = {ast.TypeDecl: "type", ast.SchemaDecl: "schema", ast.LetDecl: "let"}[type(decl)]
    return f"{keyword} {decl.name.text}"


def test_the_golden_directory_covers_every_syntax_code():
    codes = set()
    for path in GOLDENS:
        archive = txtar.read(path)
        codes |= {line.split("[", 1)[1].split("]", 1)[0] for line in (archive.get("diagnostics") or "").splitlines()}
    assert {"E0100", "E0101", "E0102", "E0103", "E0104", "E0105", "E0106"} <= codes


@pytest.mark.parametrize("path", GOLDENS, ids=lambda p: p.stem)
def test_parse_golden(path: Path):
    archive = txtar.read(path)
    txtar.check_sections(archive, is_known_section, "`NAME.gop` inputs, `diagnostics` and optionally `decls`")
    inputs = [(name, data) for name, data in archive.sections if name.endswith(".gop")]
    assert inputs, f"{path.name} has no .gop section"
    assert archive.comment.strip(), f"{path.name} needs a comment header saying what it tests"
    rendered, decls = [], []
    for name, text in inputs:
        result = parse(name, text)
        source = SourceFile(name, text)
        for diagnostic in result.diagnostics:
            assert 0 <= diagnostic.span.start <= diagnostic.span.end <= len(text), diagnostic
            rendered.append(render_line(diagnostic, source))
        decls.extend(f"{name}: {describe_decl(decl)}" for decl in result.file.decls)
    txtar.expect_section(path, archive, "diagnostics", "\n".join(rendered))
    if archive.get("decls") is not None:
        txtar.expect_section(path, archive, "decls", "\n".join(decls))


def test_txtar_round_trip_and_unknown_sections():
    text = "what this is about\n-- a.gop --\nlet x = 1\n-- diagnostics --\n-- decls --\na.gop: let x\n"
    archive = txtar.parse(text)
    assert archive.comment == "what this is about\n"
    assert archive.sections == [("a.gop", "let x = 1\n"), ("diagnostics", ""), ("decls", "a.gop: let x\n")]
    assert txtar.format(archive) == text
    txtar.check_sections(archive, is_known_section, "inputs")
    archive.set("diagnostic", "typo in the section name\n")
    with pytest.raises(AssertionError, match="unknown txtar section"):
        txtar.check_sections(archive, is_known_section, "inputs")
    with pytest.raises(ValueError, match="appears twice"):
        txtar.parse("-- a.gop --\n-- a.gop --\n")


def test_expect_section_fails_with_a_diff_and_updates_on_request(tmp_path, monkeypatch):
    path = tmp_path / "case.txtar"
    path.write_text("c\n-- a.gop --\nlet x = 1\n-- diagnostics --\nold\n", encoding="utf-8")
    archive = txtar.read(path)
    monkeypatch.delenv("GOP_UPDATE_GOLDEN", raising=False)
    with pytest.raises(AssertionError, match=r"(?s)-old.*\+new"):
        txtar.expect_section(path, archive, "diagnostics", "new")
    monkeypatch.setenv("GOP_UPDATE_GOLDEN", "1")
    txtar.expect_section(path, archive, "diagnostics", "new")
    assert path.read_text(encoding="utf-8") == "c\n-- a.gop --\nlet x = 1\n-- diagnostics --\nnew\n"
