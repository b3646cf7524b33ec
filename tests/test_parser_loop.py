"""The fast LALR loop (compiler/syntax/fastloop.py) builds exactly what Lark's own loop builds.

`parse` tries the fast loop on every chunk and falls back to Lark (with its error
recovery) when the loop declines. Here every text is parsed both ways - normally, and
with the fast loop switched off - and the results must agree: equal trees, the same span
on every node, the same diagnostics. Texts: the examples, the standard library, every
golden input, a generated fleet, generated programs and mutations of them (where some
chunks parse and some need recovery).
"""

from __future__ import annotations

import sys
from pathlib import Path

import pytest
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st

import strategies
import txtar
from gop.compiler.syntax import ast, fastloop as lalr_loop, grammar, parser
from gop.compiler.syntax.parser import parse
from test_parser import EXAMPLE_TEXTS, STDLIB_FILES, mutated, stdlib_text

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO / "bench"))
from fleetgen import generate  # noqa: E402


def parsed_by_lark_alone(path: str, text: str, monkeypatch) -> parser.ParseResult:
    with monkeypatch.context() as patch:
        patch.setattr(lalr_loop, "parse", lambda *arguments: None)
        return parse(path, text)


def spans(file: ast.File) -> list[tuple[str, int, int]]:
    return [(type(node).__name__, node.span.start, node.span.end) for node in file.walk()]


def assert_both_paths_agree(path: str, text: str, monkeypatch) -> None:
    fast = parse(path, text)
    lark = parsed_by_lark_alone(path, text, monkeypatch)
    assert fast.file == lark.file
    assert spans(fast.file) == spans(lark.file)
    assert fast.diagnostics == lark.diagnostics


def golden_inputs() -> list[tuple[str, str]]:
    found = []
    for archive_path in sorted((REPO / "tests" / "golden").rglob("*.txtar")):
        for name, data in txtar.read(archive_path).sections:
            if name.endswith(".gop"):
                found.append((f"{archive_path.parent.name}/{archive_path.stem}/{name}", data))
    return found


GOLDEN_INPUTS = golden_inputs()


def fast_loop_outcomes(text: str, monkeypatch) -> list:
    outcomes: list = []
    real = lalr_loop.parse

    def recorded(*arguments):
        outcomes.append(real(*arguments))
        return outcomes[-1]

    with monkeypatch.context() as patch:
        patch.setattr(lalr_loop, "parse", recorded)
        parse("x.gop", text)
    return outcomes


def test_valid_text_takes_the_fast_loop(monkeypatch):
    outcomes = fast_loop_outcomes('let x = 1\nlet y = "${x}"\n', monkeypatch)
    assert len(outcomes) == 3 and None not in outcomes  # two declarations and an interpolation


@pytest.mark.parametrize("text", ["let x = \n", "letx = 1\n", "let x = 1 ~\n", 'let x = "a\n'])
def test_the_fast_loop_declines_text_with_a_syntax_error(text, monkeypatch):
    assert fast_loop_outcomes(text, monkeypatch)[0] is None


@pytest.mark.parametrize("path", sorted(EXAMPLE_TEXTS))
def test_examples(path, monkeypatch):
    assert_both_paths_agree(path, EXAMPLE_TEXTS[path], monkeypatch)


@pytest.mark.parametrize("name", STDLIB_FILES)
def test_stdlib(name, monkeypatch):
    assert_both_paths_agree(name, stdlib_text(name), monkeypatch)


@pytest.mark.parametrize("name,text", GOLDEN_INPUTS, ids=[name for name, _ in GOLDEN_INPUTS])
def test_golden_inputs(name, text, monkeypatch):
    assert_both_paths_agree(name, text, monkeypatch)


def test_a_generated_fleet(tmp_path, monkeypatch):
    for file in generate(tmp_path, 12, 3, 6):
        assert_both_paths_agree(file.as_posix(), file.read_text(encoding="utf-8"), monkeypatch)


@given(strategies.programs(max_decls=4))
@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture])
def test_generated_programs(monkeypatch, text):
    assert_both_paths_agree("generated.gop", text, monkeypatch)


# An interpolation that needs recovery inside a declaration that needs it too: the error
# reported while trying the fast loop must be reported again, once, by Lark's path.
NESTED_RECOVERY = 'schema a {\n  b: "${f({a.b)}" = -{c\n  d: 0}\n'


@given(mutated(strategies.programs(max_decls=4)))
@example(NESTED_RECOVERY)
@settings(max_examples=200, deadline=None, suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture])
def test_mutated_programs(monkeypatch, text):
    assert_both_paths_agree("mutated.gop", text, monkeypatch)


@given(mutated(st.sampled_from(sorted(EXAMPLE_TEXTS.values()))))
@settings(max_examples=100, deadline=None, suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture])
def test_mutated_examples(monkeypatch, text):
    assert_both_paths_agree("mutated.gop", text, monkeypatch)


def test_the_analysed_grammar_is_cached_where_xdg_says(tmp_path, monkeypatch):
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path))
    cache = grammar.parser_cache("grammar")
    assert cache is not None and cache.parent == tmp_path / "gopc"
    monkeypatch.setenv("XDG_CACHE_HOME", "relative/dir")
    monkeypatch.setenv("HOME", str(tmp_path / "home"))
    assert grammar.parser_cache("grammar").parent == tmp_path / "home" / ".cache" / "gopc"
    monkeypatch.setenv("HOME", "not-absolute")
    assert grammar.parser_cache("grammar") is None


def test_a_damaged_cache_file_is_not_trusted(tmp_path, monkeypatch):
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path))
    built = grammar.lark_parser.__wrapped__()  # writes the cache
    cached = next((tmp_path / "gopc").glob("parser-*.lark"))
    cached.write_bytes(b"not a pickle")
    rebuilt = grammar.lark_parser.__wrapped__()
    states = [lark.parser.parser.parser.parse_table.states for lark in (built, rebuilt)]
    assert states[0] and len(states[0]) == len(states[1])
    assert cached.read_bytes() != b"not a pickle"  # analysed again and written back
