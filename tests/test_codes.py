"""The diagnostic code pages (compiler/diagnostics/pages/*.md) against the compiler that emits the codes.

Every page parses, every page has its named constant in `diagnostics.codes` and every constant
its page, the compiler source writes codes only through those constants (and uses each one), no
page is a stub, each
page's first ```gop example really produces its code when checked, and `gopc explain CODE`
prints the page.
"""

from __future__ import annotations

import re
from pathlib import Path

import pytest

import gop.compiler
from gop.compiler import cli
from gop.compiler.diagnostics import codes
from gop.compiler.diagnostics.codes import registry
from gop.compiler.diagnostics import Severity
from gop.compiler.session import analyse

COMPILER_DIR = Path(gop.compiler.__file__).parent
CODE_LITERAL = re.compile(r"""["']([EW]\d{4})["']""")
CONSTANT_USE = re.compile(r"\bcodes\.([A-Z][A-Z0-9_]+)\b")
SOURCE_DIRS = [COMPILER_DIR, COMPILER_DIR.parent / "lsp"]
FIRST_GOP_EXAMPLE = re.compile(r"^```gop\n(.*?)^```", re.MULTILINE | re.DOTALL)
# Codes no .gop text can produce: I/O failures and internal errors.
CODES_WITHOUT_EXAMPLE = {"E0901", "E0902", "E0903", "E0904", "E0905", "E0906", "E0702", "E0704", "E0705", "E0824", "E0855"}  # E0704, E0705: only a build over a tree; E0903-E0905: command errors; E0824: only in a YAML file; E0855: only a render
# Vendored charts: the files beside the program (charts.lock, vendor/charts/) or `gopc chart add`.
CODES_WITHOUT_EXAMPLE |= {"E0802", "E0803", "E0804", "E0805", "E0806", "W0807"}
# Only `gopc test` runs tests (tests/test_gop_tests.py covers E1310).
CODES_WITHOUT_EXAMPLE |= {"E1310"}

CODES = sorted(registry())


def _first_example(code: str) -> str | None:
    match = FIRST_GOP_EXAMPLE.search(registry()[code].doc)
    return match.group(1) if match else None


def _sources():
    for directory in SOURCE_DIRS:
        for path in sorted(directory.rglob("*.py")):
            if path != Path(codes.__file__):
                yield path, path.read_text(encoding="utf-8")


def _constants() -> dict[str, str]:
    return {name: value for name, value in vars(codes).items()
            if name.isupper() and isinstance(value, str) and CODE_LITERAL.fullmatch(f'"{value}"')}


def test_registry_loads_every_page():
    pages = sorted(p.stem for p in (COMPILER_DIR / "diagnostics" / "pages").glob("*.md"))
    assert CODES == pages
    for code, info in registry().items():
        assert info.title.strip(), code
        assert info.severity is (Severity.WARNING if code.startswith("W") else Severity.ERROR), code


def test_every_page_has_one_constant_and_every_constant_a_page():
    constants = _constants()
    assert "UNKNOWN_NAME" in constants  # the scan itself works
    assert sorted(constants.values()) == CODES
    assert len(set(constants.values())) == len(constants)


def test_the_compiler_names_codes_only_through_the_constants():
    literals = [(path.name, code) for path, text in _sources() for code in CODE_LITERAL.findall(text)]
    assert literals == []
    used = {name for _, text in _sources() for name in CONSTANT_USE.findall(text)}
    assert "TYPE_MISMATCH" in used
    assert sorted(used - set(_constants())) == []
    assert sorted(set(_constants()) - used) == []


@pytest.mark.parametrize("code", CODES)
def test_page_is_written(code):
    body = registry()[code].doc.split("\n", 2)[2]
    assert "TODO" not in body
    assert len(body.strip().splitlines()) >= 2


def test_only_io_and_internal_errors_lack_an_example():
    assert {code for code in CODES if _first_example(code) is None} == CODES_WITHOUT_EXAMPLE


@pytest.mark.parametrize("code", [c for c in CODES if c not in CODES_WITHOUT_EXAMPLE])
def test_first_example_triggers_its_code(code, tmp_path):
    source = tmp_path / "example.gop"
    source.write_text(_first_example(code), encoding="utf-8")
    analysis = analyse([source])
    emitted = sorted({d.code for d in analysis.diagnostics})
    assert code in emitted, f"{code} example produced {emitted}"


@pytest.mark.parametrize("code", CODES)
def test_explain_prints_the_page(code, capsys):
    assert cli.main(["explain", code]) == cli.EXIT_OK
    out = capsys.readouterr().out
    assert out.rstrip("\n") == registry()[code].doc.rstrip("\n")
    assert out.startswith(f"# {code}: ")


def test_explain_is_case_insensitive_and_rejects_unknown_codes(capsys):
    assert cli.main(["explain", "e0301"]) == cli.EXIT_OK
    assert capsys.readouterr().out.startswith("# E0301: ")
    assert cli.main(["explain", "E9999"]) == cli.EXIT_USAGE
    assert "unknown code `E9999`" in capsys.readouterr().err
