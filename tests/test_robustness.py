"""Hostile inputs: the parser, the checker and the formatter stay bounded and answer with diagnostics.

- error recovery: a declaration full of errors is given up after a bounded number of recoveries;
- the fast parse loop (compiler/syntax/fastloop.py) falling over falls back to Lark's loop;
- huge number literals, deep nesting and values that double in size are diagnostics, not
  exceptions, memory or time;
- a bounded run of bench/fuzz.py's mutations through `gopc check`'s and `gopc fmt`'s code.
"""

from __future__ import annotations

import sys

import pytest
from pathlib import Path

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from gop.compiler.syntax import builder, fastloop as lalr_loop, grammar, limits, recovery
from gop.compiler.semantic import types
from gop.compiler.syntax.parser import parse


def test_a_declaration_full_of_errors_is_given_up_after_a_bounded_number_of_recoveries(monkeypatch):
    recoveries = []
    on_error = recovery.ErrorHandler.on_error
    monkeypatch.setattr(recovery.ErrorHandler, "on_error", lambda self, error: recoveries.append(1) or on_error(self, error))
    text = "let a = [1" + " )" * 5000 + "]\nlet b = 2\n"
    result = parse("a.gop", text)
    assert len(recoveries) == limits.MAX_RECOVERIES_PER_CHUNK + 1
    assert [type(decl).__name__ for decl in result.file.decls] == ["BadDecl", "LetDecl"]
    first = result.diagnostics[0]
    assert (first.code, first.span.start, first.message) == ("E0101", 11, "expected `,` or `]`, found `)`")


def _codes_at(text: str) -> list[tuple[str, int, int]]:
    return [(d.code, d.span.start, d.span.end) for d in parse("a.gop", text).diagnostics]


def test_an_integer_literal_beyond_64_bits_is_out_of_range_however_many_digits_it_has():
    assert _codes_at("let a = 9223372036854775807\n") == []
    assert _codes_at("let a = 9223372036854775808\n") == [("E0331", 8, 27)]
    assert _codes_at("let a = " + "9" * 4301 + "\n") == [("E0331", 8, 8 + 4301)]


def test_a_decimal_literal_beyond_floating_point_is_out_of_range():
    assert _codes_at("let a = " + "9" * 400 + ".5\n") == [("E0331", 8, 410)]


def test_a_declaration_nested_deeper_than_the_limit_is_reported_and_given_up():
    limit = limits.MAX_NESTING
    at_limit = "let a = " + "[" * (limit - 2) + "1" + "]" * (limit - 2) + "\n"
    assert _codes_at(at_limit) == []
    over = "let a = " + "[" * (limit - 1) + "1" + "]" * (limit - 1) + "\n"
    one_at = 8 + limit - 1
    assert _codes_at(over) == [("E0330", one_at, one_at)]
    chain = "let a = 1" + " + 1" * 3000 + "\nlet b = 2\n"
    result = parse("a.gop", chain)
    assert [type(decl).__name__ for decl in result.file.decls] == ["BadDecl", "LetDecl"]
    assert [d.code for d in result.diagnostics] == ["E0330"]


# ---- the fast loop reads Lark's private attributes: when they change, Lark's loop parses ----

FALLBACK_TEXT = 'package shop\nlet a: int = 1 + 2\napp web {\n  replicas = a\n  values { x = "${a}" }\n}\nlet b = [\n'


def _parse_normally():
    result = parse("a.gop", FALLBACK_TEXT)
    return result.file, [(d.code, d.span, d.message) for d in result.diagnostics]


def test_lark_tables_that_cannot_be_read_leave_the_parsing_to_larks_loop(monkeypatch):
    expected = _parse_normally()
    lalr_loop._tables.cache_clear()

    def changed_lark(*args):
        raise AttributeError("'BasicLexer' object has no attribute '_mres'")

    monkeypatch.setattr(lalr_loop, "_state_lexer", changed_lark)
    try:
        assert lalr_loop._tables(grammar.lark_parser(), builder.reducer_for) is None
        assert _parse_normally() == expected
    finally:
        lalr_loop._tables.cache_clear()


def test_a_fast_loop_that_fails_while_parsing_leaves_the_parsing_to_larks_loop(monkeypatch):
    expected = _parse_normally()

    def changed_token(*args):
        raise TypeError("Token.__new__() missing 1 required positional argument")

    monkeypatch.setattr(lalr_loop, "_reduce", changed_token)
    assert _parse_normally() == expected


def test_brackets_opened_more_than_the_limit_deep_are_reported_where_the_limit_is_passed():
    limit = limits.MAX_NESTING
    text = "let a = 1\nlet b = " + "(" * 3000 + "1" + "\nlet c = 2\n"
    result = parse("a.gop", text)
    assert [type(decl).__name__ for decl in result.file.decls] == ["LetDecl", "BadDecl", "LetDecl"]
    at = len("let a = 1\nlet b = ") + limit
    assert [(d.code, d.span.start, d.span.end) for d in result.diagnostics] == [("E0330", at, at)]


def test_an_import_path_with_a_nul_character_is_a_module_not_found(tmp_path):
    from gop.compiler.session import analyse

    program = tmp_path / "a.gop"
    program.write_text('import "a\0b"\nlet x = 1\n', encoding="utf-8")
    diagnostics = analyse([program]).diagnostics
    assert [(d.code, d.span.start, d.span.end) for d in diagnostics] == [("E0203", 7, 12)]


# ---- bench/fuzz.py's mutations, a bounded run (`make fuzz` runs 100,000) ----

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "bench"))
import fuzz  # noqa: E402

SEEDS = fuzz.seeds()


@settings(max_examples=20, deadline=None, suppress_health_check=[HealthCheck.too_slow], derandomize=True)
@given(base=st.sampled_from(SEEDS), rng=st.randoms(use_true_random=False))
def test_mutated_programs_get_diagnostics_from_check_and_fmt_never_exceptions(base, rng):
    """What `gopc check` and `gopc fmt` run (fmt's output must parse and be stable)."""
    assert fuzz.run_one(base, fuzz.mutate(rng, base.text, SEEDS)) is None


def test_the_inputs_each_fixed_class_came_from_get_diagnostics():
    base = next(seed for seed in SEEDS if seed.path.name == "apps.gop")
    doubling = 'let a0 = "xy"\n' + "".join(f"let a{i} = a{i - 1} + a{i - 1}\n" for i in range(1, 31))
    for text in ("let a = " + "1" * 4301, "let a = 1" + " + 1" * 3000, "let a = " + "(" * 10000,
                 "let a = " + "-" * 5000 + "1", doubling, "let d = " + "9" * 5000 + "h", "let a = [1" + " )" * 5000,
                 'type T = string(pattern: "^[a-' + "1 + (" * 60 + '")'):
        assert fuzz.run_one(base, base.text + "\n" + text + "\n") is None


def test_brackets_left_open_by_earlier_declarations_do_not_count_towards_the_limit():
    text = "".join(f"let a{i} = [[[[[1\n" for i in range(limits.MAX_NESTING // 5 + 5))  # one error each
    assert "E0330" not in {d.code for d in parse("a.gop", text).diagnostics}


def test_a_file_full_of_errors_is_given_up_after_a_bounded_number_of_recoveries():
    chunk = "let a = [1" + " )" * 150 + "]\n"  # 150 recoveries, one error reported
    result = parse("a.gop", chunk * 10 + "let b = 2\n")
    decls = [type(decl).__name__ for decl in result.file.decls]
    assert decls == ["LetDecl"] * 3 + ["BadDecl"] * 8
    assert all(d.code == "E0101" for d in result.diagnostics) and len(result.diagnostics) == 4


def test_an_import_path_too_long_for_the_system_is_a_module_not_found(tmp_path):
    from gop.compiler.session import analyse

    program = tmp_path / "a.gop"
    program.write_text(f'import "{"x" * 5000}"\nlet x = 1\n', encoding="utf-8")
    diagnostics = analyse([program]).diagnostics
    assert [(d.code, d.span.start, d.span.end) for d in diagnostics] == [("E0203", 7, 5009)]


@pytest.mark.parametrize("pattern, as_go_reads_it", [
    (r"^[a-z]+$", r"^[a-z]+\Z"), (r"a$|b$", r"a\Z|b\Z"), (r"^a\$b$", r"^a\$b\Z"), (r"^[$]x$", r"^[$]x\Z"),
    (r"^[^$]$", r"^[^$]\Z"), (r"^[]$]x$", r"^[]$]x\Z"), (r"^[^]$]$", r"^[^]$]\Z"), (r"^[\]$]$", r"^[\]$]\Z"),
    ("^[a-" + "1 + (" * 60, "^[a-" + "1 + (" * 60),  # an unclosed class: no anchor, found in one pass
])
def test_only_end_anchors_become_go_s_end_of_text(pattern, as_go_reads_it):
    assert types._end_anchors_as_go_reads_them(pattern) == as_go_reads_it
