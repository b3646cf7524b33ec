"""Tests of the canonical formatter (gop.compiler.syntax.formatter).

Properties over generated programs (tests/strategies.py) and over the example and
stdlib files: formatting keeps the program (parse trees equal) and every comment (same
texts, same order), is idempotent, and its output obeys the layout rules; any text at
all gives a result, never an exception. Golden files (tests/golden/fmt/*.txtar, each
with `-- input.gop --` and `-- output.gop --`) pin the layout; GOP_UPDATE_GOLDEN=1
rewrites their outputs. Small examples pin one rule each.
"""

from __future__ import annotations

import os
import re
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import strategies
from gop.compiler.syntax import ast
from gop.compiler.diagnostics import has_errors
from gop.compiler.syntax.formatter import WIDTH, format_ast, format_source
from gop.compiler.syntax.parser import parse

REPO_ROOT = Path(__file__).resolve().parent.parent
SOURCE_FILES = sorted(REPO_ROOT.glob("examples/**/*.gop")) + sorted(REPO_ROOT.glob("stdlib/**/*.gop"))
GOLDEN_DIR = Path(__file__).resolve().parent / "golden" / "fmt"
GOLDEN_FILES = sorted(GOLDEN_DIR.glob("*.txtar"))

PROPERTIES = settings(max_examples=200, deadline=None, suppress_health_check=[HealthCheck.too_slow])


# ---- helpers ------------------------------------------------------------------------------------


def fmt(text: str) -> str:
    result = format_source("test.gop", text)
    assert result.text is not None, [d.message for d in result.diagnostics]
    assert result.diagnostics == ()
    return result.text


def parse_clean(text: str) -> ast.File:
    result = parse("test.gop", text)
    assert result.diagnostics == (), [(d.message, d.span.start) for d in result.diagnostics]
    return result.file


def assert_same_program(before: ast.File, after_text: str) -> None:
    after = parse_clean(after_text)
    assert after == before
    assert [c.text for c in after.comments] == [c.text.rstrip() for c in before.comments]


def string_spans(file: ast.File) -> list[tuple[int, int]]:
    return [(n.span.start, n.span.end) for n in file.walk() if isinstance(n, ast.StringLit)]


def layout_problems(text: str) -> list[str]:
    """Breaches of the canonical layout outside string literals."""
    if text == "":
        return []
    spans = string_spans(parse_clean(text))
    inside_string = lambda offset: any(start < offset < end for start, end in spans)  # noqa: E731
    problems = []
    if not text.endswith("\n") or text.endswith("\n\n"):
        problems.append("the text must end with exactly one newline")
    offset = 0
    blank_run = 0
    for number, line in enumerate(text.split("\n")[:-1], start=1):
        line_end = offset + len(line)
        if not inside_string(line_end) and line != line.rstrip():
            problems.append(f"line {number} has trailing whitespace")
        if not inside_string(offset) and line.startswith("\t"):
            problems.append(f"line {number} is indented with a tab")
        blank_run = blank_run + 1 if line == "" and not inside_string(offset) else 0
        if blank_run > 1:
            problems.append(f"line {number} is a second blank line in a row")
        offset = line_end + 1
    if text.startswith("\n"):
        problems.append("the text starts with a blank line")
    return problems


# ---- properties -----------------------------------------------------------------------------------


@PROPERTIES
@given(strategies.programs())
def test_formatting_keeps_the_program_its_comments_and_the_layout_rules(text):
    before = parse_clean(text)
    formatted = fmt(text)
    assert_same_program(before, formatted)
    assert layout_problems(formatted) == []


@PROPERTIES
@given(strategies.programs())
def test_formatting_is_idempotent(text):
    parse_clean(text)
    once = fmt(text)
    assert fmt(once) == once


@pytest.mark.parametrize("path", SOURCE_FILES, ids=lambda p: str(p.relative_to(REPO_ROOT)))
def test_example_and_stdlib_files_format_idempotently_and_keep_their_meaning(path):
    text = path.read_text(encoding="utf-8")
    formatted = fmt(text)
    assert_same_program(parse_clean(text), formatted)
    assert fmt(formatted) == formatted
    assert layout_problems(formatted) == []


def _damaged(program: str, data) -> str:
    """A program with a slice cut out or a troublesome character put in."""
    if not program:
        return program
    start = data.draw(st.integers(0, len(program) - 1))
    if data.draw(st.booleans()):
        return program[:start] + program[start + data.draw(st.integers(1, 5)) :]
    return program[:start] + data.draw(st.sampled_from(list('{}[]()"=,.:|\n/\\$`'))) + program[start:]


@PROPERTIES
@given(st.one_of(st.text(), st.text("{}[]()\"=,.:|\n/\\ abcxyz019app env let type")), st.data())
def test_any_text_gives_a_result_and_never_an_exception(text, data):
    for candidate in (text, _damaged(data.draw(strategies.programs(max_decls=2, depth=1)), data)):
        result = format_source("test.gop", candidate)
        if result.text is None:
            assert result.diagnostics, "a file left unformatted must say why"
        else:
            assert not has_errors(result.diagnostics)
            assert fmt(result.text) == result.text


def test_a_file_with_syntax_errors_is_not_formatted_and_the_parse_errors_are_returned():
    text = "app web {\n  replicas = \n}\n"
    result = format_source("bad.gop", text)
    assert result.text is None
    assert result.diagnostics == parse("bad.gop", text).diagnostics
    assert result.diagnostics


def test_a_file_nested_too_deeply_is_reported_not_raised():
    result = format_source("deep.gop", "let x = " + "[" * 400 + "]" * 400)
    assert result.text is None
    assert [(d.code, d.span.start) for d in result.diagnostics] == [("E0330", 8 + 100)]  # the parser's nesting limit


def test_format_ast_formats_a_parsed_tree():
    text = "let   x=[1,2]\n"
    assert format_ast(parse_clean(text), text) == "let x = [1, 2]\n"


@pytest.mark.parametrize("text", ["", "\n\n", "   \n"])
def test_an_empty_file_formats_to_nothing(text):
    assert fmt(text) == ""


# ---- golden files --------------------------------------------------------------------------------


def read_txtar(path: Path) -> dict[str, str]:
    sections: dict[str, str] = {}
    name = None
    for line in path.read_text(encoding="utf-8").splitlines(keepends=True):
        header = re.fullmatch(r"-- (\S+) --\n?", line)
        if header:
            name = header.group(1)
            sections[name] = ""
        elif name is not None:
            sections[name] += line
    return sections


def write_txtar(path: Path, comment: str, sections: dict[str, str]) -> None:
    parts = [comment]
    for name, content in sections.items():
        parts.append(f"-- {name} --\n{content}")
    path.write_text("".join(parts), encoding="utf-8")


@pytest.mark.parametrize("path", GOLDEN_FILES, ids=lambda p: p.stem)
def test_golden(path):
    sections = read_txtar(path)
    formatted = fmt(sections["input.gop"])
    if os.environ.get("GOP_UPDATE_GOLDEN") == "1":
        comment = path.read_text(encoding="utf-8").split("-- input.gop --")[0]
        write_txtar(path, comment, {"input.gop": sections["input.gop"], "output.gop": formatted})
        sections["output.gop"] = formatted
    assert formatted == sections["output.gop"]
    assert fmt(formatted) == formatted
    assert_same_program(parse_clean(sections["input.gop"]), formatted)


def test_there_are_golden_files():
    assert len(GOLDEN_FILES) >= 3


# ---- one rule at a time ----------------------------------------------------------------------------


@pytest.mark.parametrize(
    "source, expected",
    [
        # a one-line body stays on one line; a multi-line one stays expanded
        ("app a { ports { http = 80,metrics=9100 } }", "app a {\n  ports { http = 80, metrics = 9100 }\n}\n"),
        ("app a {\n  ports {\n    http = 80 }\n}", "app a {\n  ports {\n    http = 80\n  }\n}\n"),
        # a one-line body holding a non-empty body is expanded; empty bodies print as {}
        ("app a { values: X { f { a = true } } }", "app a {\n  values: X {\n    f { a = true }\n  }\n}\n"),
        ("app a { values: X {   } }", "app a { values: X {} }\n"),
        # statements separated by commas on several lines go one per line
        ("app a {\n  x = 1, y = 2\n}", "app a {\n  x = 1\n  y = 2\n}\n"),
        # blank lines: runs collapse to one, none after { or before }
        ("app a {\n\n  x = 1\n\n\n\n  y = 2\n\n}", "app a {\n  x = 1\n\n  y = 2\n}\n"),
        # schemas: `name: Type = default`, `name?: Type`
        ("schema S{a:int(1..5)=3,b ?:string}", "schema S { a: int(1..5) = 3, b?: string }\n"),
        # spaces around operators; parentheses only where precedence needs them
        ("let x=((1+2))*3-(4-5)-(6*7)", "let x = (1 + 2) * 3 - (4 - 5) - 6 * 7\n"),
        ("let x=-(a+b)", "let x = -(a + b)\n"),
        ("type T=map[string](a|b)|(c|d)", "type T = map[string](a | b) | (c | d)\n"),
        ("app a where not(x exists and y==\"1\")or(z in[1,2]) {}", 'app a where not (x exists and y == "1") or z in [1, 2] {}\n'),
        ("app a where x exists and (y exists or z exists) {}", "app a where x exists and (y exists or z exists) {}\n"),
        # numbers, units and strings as written
        ('let x = [007, 1.50, 1h30m, "a\\u{41}${b}\\n"]', 'let x = [007, 1.50, 1h30m, "a\\u{41}${b}\\n"]\n'),
        # calls: `name = value` arguments
        ('let x = sops( "f",secret="s" )', 'let x = sops("f", secret = "s")\n'),
    ],
)
def test_layout_rule(source, expected):
    assert fmt(source) == expected


def test_top_level_declarations_are_separated_by_one_blank_line_but_imports_keep_theirs():
    source = 'package p\nimport "a"\nimport "b"\n\n\nimport "c"\nlet x = 1\n\n\n\nlet y = 2\n'
    assert fmt(source) == 'package p\n\nimport "a"\nimport "b"\n\nimport "c"\n\nlet x = 1\n\nlet y = 2\n'


def test_a_list_that_fits_stays_on_one_line_and_loses_its_trailing_comma():
    assert fmt("let x = [\n  1,\n  2,\n]\n") == "let x = [1, 2]\n"


def test_a_list_too_long_for_one_line_gets_one_item_per_line_and_a_trailing_comma():
    items = [f'"item-number-{i:02}"' for i in range(8)]
    one_line = f"let x = [{', '.join(items)}]"
    assert len(one_line) > WIDTH
    expected = "let x = [\n" + "".join(f"  {item},\n" for item in items) + "]\n"
    assert fmt(one_line) == expected


def test_a_call_at_exactly_the_width_stays_on_one_line():
    line = 'let x = f("' + "a" * (WIDTH - len('let x = f("")')) + '")'
    assert len(line) == WIDTH
    assert fmt(line) == line + "\n"
    assert fmt(line[:-2] + 'a")') == 'let x = f(\n  "' + "a" * (WIDTH - len('let x = f("")') + 1) + '",\n)\n'


def test_a_one_line_body_too_long_for_one_line_is_expanded():
    source = "app a { " + ", ".join(f"field{i} = {i * 1000}" for i in range(10)) + " }"
    assert len(source) > WIDTH
    assert fmt(source) == "app a {\n" + "".join(f"  field{i} = {i * 1000}\n" for i in range(10)) + "}\n"


def test_a_triple_quoted_string_is_reindented_without_changing_its_value():
    source = 'app a {\n        config {\n "robots.txt" = """\n      User-agent: *\n\n        Disallow: /x\n      """\n }\n}\n'
    expected = (
        'app a {\n  config {\n    "robots.txt" = """\n      User-agent: *\n\n        Disallow: /x\n      """\n  }\n}\n'
    )
    assert fmt(source) == expected
    value = lambda text: parse_clean(text).decls[0].body.stmts[0].body.stmts[0].value  # noqa: E731
    assert value(expected).parts == value(source).parts == ("User-agent: *\n\n  Disallow: /x",)


def test_a_triple_quoted_string_with_text_after_the_opening_quotes_is_printed_as_written():
    source = 'let s = """first\n    second"""\n'
    assert fmt(source) == source


def test_comments_keep_their_place():
    source = (
        "// about the file\n"
        "package p // the package\n"
        "/// Doc of a.\n"
        "app a { // after the brace\n"
        "  // before x\n"
        "  x = 1 // after x\n"
        "  l = [ // after the bracket\n"
        "    1, // after 1\n"
        "    // before 2\n"
        "    2\n"
        "    // before ]\n"
        "  ]\n"
        "  // before }\n"
        "}\n"
        "// at the end\n"
    )
    expected = (
        "// about the file\n"
        "package p // the package\n"
        "\n"
        "/// Doc of a.\n"
        "app a { // after the brace\n"
        "  // before x\n"
        "  x = 1 // after x\n"
        "  l = [ // after the bracket\n"
        "    1, // after 1\n"
        "    // before 2\n"
        "    2,\n"
        "    // before ]\n"
        "  ]\n"
        "  // before }\n"
        "}\n"
        "// at the end\n"
    )
    assert fmt(source) == expected
    assert parse_clean(expected).decls[1].doc == "Doc of a."


def test_a_comment_inside_an_expression_outside_brackets_gets_parentheses_around_the_value():
    source = "let x = ((1) + // one\n  2)\n"
    expected = "let x = (\n  1 + // one\n  2\n)\n"
    formatted = fmt(source)
    assert formatted == expected
    assert_same_program(parse_clean(source), formatted)
    # where precedence keeps parentheses, they hold the line break
    assert fmt("let x = (1 + // one\n  2) * 3\n") == "let x = (\n  1 + // one\n  2\n) * 3\n"


def test_trailing_spaces_in_comments_are_dropped():
    assert fmt("let x = 1 // note   \n") == "let x = 1 // note\n"


# ---- the strategies themselves generate clean programs (they serve the parser tests too) --------


@settings(max_examples=100, deadline=None)
@given(
    st.one_of(
        strategies.programs(),
        strategies.expressions().map(lambda e: f"let x = {e}"),
        st.one_of(strategies.literals(), strategies.triple_strings()).map(lambda s: f"let x = {s}"),
        st.tuples(strategies.names(), strategies.comments()).map(lambda p: f"app {p[0]} {{}} {p[1]}"),
        strategies.types().map(lambda t: f"type T = {t}"),
        strategies.selectors().map(lambda s: f"app a where {s} {{}}"),
        strategies.declarations(),
    )
)
def test_generated_text_parses_without_diagnostics(text):
    parse_clean(text)


# ---- the parser's chunking respects ( ) and [ ], which the formatter relies on --------------------


def test_parser_accepts_a_keyword_at_the_start_of_a_line_inside_brackets():
    parse_clean("let x = f(a,\nsource = 1)")
    parse_clean("let x: list[\napp] = []")
