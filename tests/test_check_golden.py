"""Semantic golden tests with inline expectations: tests/golden/check/*.txtar.

Each archive is a small program: its `PATH.gop` sections (and `PATH.yaml` files its resources
read, whose expectations are `# E: ...` comments) are written to a temporary
directory (sub-directories allowed, e.g. `lib/types.gop`), which is checked with
`analyse(["."])` from inside it. The comment header says what the case is about. A program
that vendors charts also has its `charts.lock` and `vendor/charts/...` files; a binary one (a
chart's package) is the section `PATH.base64`, written decoded to PATH.

Expected diagnostics are comments in the sources, mypy-style, on the line where the
diagnostic starts:

    replicaz = 3   // E: E0304 col 3 "has no field" fix "replicas"

`E:` expects an error, `W:` a warning; then the code, then any of
    col N                 the 1-based column where it starts
    "text"                a substring of the message
    note "text"           a substring of one of its notes
    fix "text"            the replacement of one of its suggested fixes
    related [FILE:]LINE[:COL]   the start of one of its related spans
(strings take "..." or '...'). Several expectations may share a line: `// E: E0402 // E: E0401`.
The test asserts that the expectations and the diagnostics match both ways: every
diagnostic is expected on its line with its code (and column, when given), and every
expectation is met. GOP_UPDATE_GOLDEN=1 rewrites the comments: expectations that met
nothing are dropped, unexpected diagnostics are added as `// E: CODE col N`.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from pathlib import Path

import pytest

import txtar
from gop.compiler.diagnostics import Diagnostic, Severity, codes
from gop.compiler.session import analyse
from gop.compiler.syntax.parser import parse

GOLDEN_DIR = Path(__file__).parent / "golden" / "check"
GOLDENS = sorted(GOLDEN_DIR.glob("*.txtar"))
COMPILER_DIR = Path(__file__).resolve().parent.parent / "compiler"

_CLAUSE = re.compile(r"//\s*(?P<letter>[EW]):\s*(?P<body>.*?)\s*(?=//\s*[EW]:|$)")
_YAML_CLAUSE = re.compile(r"#\s*(?P<letter>[EW]):\s*(?P<body>.*?)\s*(?=#\s*[EW]:|$)")
_WORD = re.compile(r'"(?:[^"\\]|\\.)*"|\'[^\']*\'|\S+')
_RELATED = re.compile(r"^(?:(?P<file>[^:]+\.gop):)?(?P<line>\d+)(?::(?P<col>\d+))?$")
_LETTER = {Severity.ERROR: "E", Severity.WARNING: "W"}


@dataclass
class Expectation:
    file: str
    line: int
    letter: str
    code: str
    text: str  # the clause as written, `E: E0304 col 3`
    col: int | None = None
    message: str | None = None
    note: str | None = None
    fix: str | None = None
    related: list[tuple[str, int, int | None]] = field(default_factory=list)

    def where(self) -> str:
        return f"{self.file}:{self.line}" + (f":{self.col}" if self.col else "")

    def locates(self, actual: Actual) -> bool:
        return (actual.file, actual.line, actual.code) == (self.file, self.line, self.code) and self.col in (None, actual.col)

    def problems_with(self, actual: Actual) -> list[str]:
        diag = actual.diagnostic
        problems = []
        if _LETTER.get(diag.severity) != self.letter:
            problems.append(f"severity is {diag.severity.label}")
        if self.message is not None and self.message not in diag.message:
            problems.append(f"message {diag.message!r} lacks {self.message!r}")
        if self.note is not None and not any(self.note in note for note in diag.notes):
            problems.append(f"no note has {self.note!r} (notes: {list(diag.notes)})")
        if self.fix is not None and self.fix not in [f.replacement for f in diag.fixes]:
            problems.append(f"no fix replaces with {self.fix!r} (fixes: {[f.replacement for f in diag.fixes]})")
        for file, line, col in self.related:
            if not any((f, l) == (file, line) and col in (None, c) for f, l, c in actual.related):
                problems.append(f"no related span at {file}:{line}{f':{col}' if col else ''} (related: {actual.related})")
        return problems


@dataclass
class Actual:
    file: str
    line: int
    col: int
    code: str
    diagnostic: Diagnostic
    related: list[tuple[str, int, int]]

    def show(self) -> str:
        diag = self.diagnostic
        return f"{self.file}:{self.line}:{self.col}: {diag.severity.label}[{self.code}]: {diag.message}"


def _unquote(word: str) -> str:
    if word[:1] == '"':
        return word[1:-1].replace('\\"', '"').replace("\\\\", "\\")
    return word[1:-1]


def parse_clause(file: str, line: int, letter: str, body: str) -> Expectation:
    words = _WORD.findall(body)
    if not words or not re.fullmatch(r"[EW]\d{4}", words[0]):
        raise AssertionError(f"{file}:{line}: expectation `{letter}: {body}` must start with a code like E0304")
    expectation = Expectation(file, line, letter, words[0], f"{letter}: {body}")
    rest = words[1:]
    while rest:
        word = rest.pop(0)
        if word[:1] in "\"'":
            expectation.message = _unquote(word)
        elif word in ("col", "note", "fix", "related") and rest:
            value = rest.pop(0)
            if word == "col":
                expectation.col = int(value)
            elif word in ("note", "fix"):
                setattr(expectation, word, _unquote(value))
            else:
                match = _RELATED.match(value)
                if match is None:
                    raise AssertionError(f"{file}:{line}: `related {value}` is not [FILE:]LINE[:COL]")
                col = int(match["col"]) if match["col"] else None
                expectation.related.append((match["file"] or file, int(match["line"]), col))
        else:
            raise AssertionError(f"{file}:{line}: cannot read `{word}` in expectation `{letter}: {body}`")
    return expectation


def expectations_in(file: str, text: str) -> list[Expectation]:
    if file.endswith(".yaml"):  # a resource's objects: expectations in `# E: ...` comments
        return [parse_clause(file, number, clause["letter"], clause["body"])
                for number, line in enumerate(text.split("\n"), 1) for clause in _YAML_CLAUSE.finditer(line)]
    found = []
    lines_start = [0] + [i + 1 for i, ch in enumerate(text) if ch == "\n"]
    for comment in parse(file, text).file.comments:
        line = sum(1 for start in lines_start if start <= comment.span.start)
        for clause in _CLAUSE.finditer(comment.text):
            found.append(parse_clause(file, line, clause["letter"], clause["body"]))
    return found


def actual_diagnostics(analysis) -> list[Actual]:
    sources = analysis.program.sources

    def where(span) -> tuple[int, int]:
        position = sources[span.file].position(span.start)
        return position.line + 1, position.column + 1

    found = []
    for diag in analysis.diagnostics:
        line, col = where(diag.span)
        related = [(r.span.file, *where(r.span)) for r in diag.related]
        found.append(Actual(diag.span.file, line, col, diag.code, diag, related))
    return found


def compare(expected: list[Expectation], actual: list[Actual]) -> list[str]:
    """Every problem, in words: missing, unexpected and mismatched diagnostics."""
    problems = []
    for expectation in expected:
        located = [a for a in actual if expectation.locates(a)]
        if not located:
            problems.append(f"missing: {expectation.where()}: {expectation.text}")
            continue
        details = [expectation.problems_with(a) for a in located]
        if all(details):
            problems.append(f"mismatch: {expectation.where()}: {expectation.text}: " + "; ".join(details[0]))
    for found in actual:
        if not any(e.locates(found) for e in expected):
            problems.append(f"unexpected: {found.show()}")
    return problems


def run_golden(path: Path, tmp_path: Path, monkeypatch) -> tuple[txtar.Archive, list[Expectation], list[Actual]]:
    archive = txtar.read(path)
    txtar.check_sections(archive, _program_file, "`PATH.gop` program files, `PATH.yaml` files of resources, charts.lock and vendor/charts/ files")
    assert any(name.endswith(".gop") for name in archive.names()), f"{path.name} holds no .gop file"
    assert archive.comment.strip(), f"{path.name} needs a comment header saying what it tests"
    txtar.write_files(archive, tmp_path)
    expected = [expectation for name, text in archive.sections if name.endswith((".gop", ".yaml"))
                for expectation in expectations_in(name, text)]
    monkeypatch.chdir(tmp_path)
    return archive, expected, actual_diagnostics(analyse(["."]))


def _program_file(name: str) -> bool:
    return name.endswith((".gop", ".yaml")) or name == "charts.lock" or name.startswith("vendor/charts/")


@pytest.mark.parametrize("path", GOLDENS, ids=lambda p: p.stem)
def test_check_golden(path: Path, tmp_path: Path, monkeypatch):
    archive, expected, actual = run_golden(path, tmp_path, monkeypatch)
    problems = compare(expected, actual)
    if problems and txtar.update_requested():
        rewrite_expectations(path, archive, expected, actual)
        return
    assert not problems, f"{path.name}:\n  " + "\n  ".join(problems)


def rewrite_expectations(path: Path, archive: txtar.Archive, expected: list[Expectation], actual: list[Actual]) -> None:
    files = dict(archive.sections)
    for name, text in archive.sections:
        lines = text.split("\n")
        for number in range(1, len(lines) + 1):
            kept = [e.text for e in expected if e.file == name and e.line == number and any(e.locates(a) for a in actual)]
            added = [
                f"{_LETTER.get(a.diagnostic.severity, 'E')}: {a.code} col {a.col}"
                for a in actual
                if a.file == name and a.line == number and not any(e.locates(a) for e in expected)
            ]
            original = lines[number - 1]
            code_part = re.split(r"\s*//\s*[EW]:", original, maxsplit=1)[0]
            clauses = kept + added
            lines[number - 1] = code_part + ("  " + " ".join("// " + c for c in clauses) if clauses else "")
        files[name] = "\n".join(lines)
    for name, text in files.items():
        archive.set(name, text)
    path.write_text(txtar.format(archive), encoding="utf-8")


# ---- coverage of the codes ----------------------------------------------------------------


def codes_the_compiler_emits() -> set[str]:
    """Every code the compiler names (test_codes.py checks that it names them all through constants)."""
    named = set()
    for source in COMPILER_DIR.rglob("*.py"):
        named |= set(re.findall(r"\bcodes\.([A-Z][A-Z0-9_]+)\b", source.read_text(encoding="utf-8")))
    return {getattr(codes, name) for name in named}


SYNTAX_CODES = {f"E010{i}" for i in range(7)}  # E0100-E0106: tests/golden/parse
IO_CODES = {"E0901", "E0902", "E0903", "E0904", "E0905", "E0906", "E0702"}  # unreadable input, internal errors, command errors, unwritable output: test_cli.py, test_output_io.py
BUILD_CODES = {"E0704", "E0705",  # only a build over a previous tree: tests/test_image_automation.py, tests/test_chart_versions.py
               "E0855"}  # only a render (a release's chart is not vendored): tests/test_releases.py
CHART_ADD_CODES = {"E0804", "E0805", "E0806"}  # `gopc chart add` and what it pulls: tests/test_chart_add.py
BUILD_CODES |= {"E1310"}  # only `gopc test` runs the tests: tests/test_gop_tests.py


def test_every_semantic_code_has_a_golden():
    expected_codes = set()
    for path in GOLDENS:
        for name, text in txtar.read(path).sections:
            expected_codes |= {e.code for e in expectations_in(name, text)}
    missing = codes_the_compiler_emits() - SYNTAX_CODES - IO_CODES - BUILD_CODES - CHART_ADD_CODES - expected_codes
    assert not missing, f"no check golden expects {sorted(missing)}"


# ---- the expectation reader itself ------------------------------------------------------------


def test_expectation_syntax():
    text = 'let x = y  // E: E0201 col 9 "unknown name" note \'did you mean\' fix "z" related b.gop:3:1 // W: W0306\n'
    first, second = expectations_in("a.gop", text)
    assert (first.file, first.line, first.letter, first.code, first.col) == ("a.gop", 1, "E", "E0201", 9)
    assert (first.message, first.note, first.fix, first.related) == ("unknown name", "did you mean", "z", [("b.gop", 3, 1)])
    assert (second.letter, second.code, second.col) == ("W", "W0306", None)
    with pytest.raises(AssertionError, match="must start with a code"):
        expectations_in("a.gop", "let x = 1 // E: oops\n")
    with pytest.raises(AssertionError, match="cannot read"):
        expectations_in("a.gop", "let x = 1 // E: E0201 colour 3\n")


def test_compare_reports_missing_unexpected_and_mismatched(tmp_path, monkeypatch):
    (tmp_path / "a.gop").write_text("let a = b\nlet c = 1\n", encoding="utf-8")
    monkeypatch.chdir(tmp_path)
    actual = actual_diagnostics(analyse(["."]))
    assert [(a.file, a.line, a.col, a.code) for a in actual] == [("a.gop", 1, 9, "E0201")]
    assert compare(expectations_in("a.gop", "let a = b // E: E0201 col 9\n"), actual) == []
    assert compare([], actual) == ["unexpected: a.gop:1:9: error[E0201]: unknown name `b`"]
    assert compare(expectations_in("a.gop", "\nlet c = 1 // E: E0201\n"), actual)[0].startswith("missing: a.gop:2")
    assert compare(expectations_in("a.gop", 'let a = b // E: E0201 "no such"\n'), actual)[0].startswith("mismatch: a.gop:1")
    assert compare(expectations_in("a.gop", "let a = b // W: E0201\n"), actual)[0].endswith("severity is error")


def test_update_keeps_met_expectations_drops_unmet_and_adds_unexpected(tmp_path, monkeypatch):
    golden = tmp_path / "case.txtar"
    golden.write_text(
        "header\n-- a.gop --\n"
        'let a = b  // E: E0201 col 9 "unknown name"\n'
        "let c = 1  // a plain comment // E: E0301\n"
        "let d = e\n",
        encoding="utf-8",
    )
    work = tmp_path / "work"
    work.mkdir()
    archive, expected, actual = run_golden(golden, work, monkeypatch)
    assert len(compare(expected, actual)) == 2
    monkeypatch.setenv("GOP_UPDATE_GOLDEN", "1")
    rewrite_expectations(golden, archive, expected, actual)
    assert txtar.read(golden).get("a.gop") == (
        'let a = b  // E: E0201 col 9 "unknown name"\n'
        "let c = 1  // a plain comment\n"
        "let d = e  // E: E0201 col 9\n"
    )
    rerun = tmp_path / "rerun"
    rerun.mkdir()
    assert compare(*run_golden(golden, rerun, monkeypatch)[1:]) == []
