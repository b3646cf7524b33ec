"""The fast loop (compiler/syntax/fastloop.py) breaking in any way changes no parse result.

It reads Lark's private tables, so a Lark release may break it anywhere: while reading the
tables, while lexing, reducing or finishing a chunk, after builders have already reported
diagnostics. Here it is broken on purpose at each of those points, and on randomly chosen
chunks, and every example, standard library file and golden input must parse exactly as it
does with the loop intact: equal trees, the same span on every node, the same diagnostics.
"""

from __future__ import annotations

import random

import pytest

from gop.compiler.syntax import fastloop
from gop.compiler.syntax.parser import parse
from test_parser import EXAMPLE_TEXTS, STDLIB_FILES, stdlib_text
from test_parser_loop import GOLDEN_INPUTS, spans

INPUTS = (
    sorted(EXAMPLE_TEXTS.items())
    + [(name, stdlib_text(name)) for name in STDLIB_FILES]
    + GOLDEN_INPUTS
)


def outcome(path: str, text: str):
    result = parse(path, text)
    return result.file, spans(result.file), result.diagnostics


@pytest.fixture(scope="module")
def intact() -> list:
    return [outcome(path, text) for path, text in INPUTS]


def assert_unchanged(intact: list) -> None:
    for (path, text), expected in zip(INPUTS, intact):
        assert outcome(path, text) == expected, path


def failing_on_call(function, calls_before: int, error: Exception):
    """`function`, raising `error` on its call number `calls_before + 1`, and on every one after."""
    calls = 0

    def broken(*arguments):
        nonlocal calls
        calls += 1
        if calls > calls_before:
            raise error
        return function(*arguments)

    return broken


def test_the_inputs_take_the_fast_loop_and_some_report_diagnostics(intact):
    """Without this, breaking the loop would prove nothing."""
    taken = []
    real = fastloop.parse

    def recorded(*arguments):
        value = real(*arguments)
        taken.append(value is not None)
        return value

    fastloop.parse, original = recorded, fastloop.parse
    try:
        assert_unchanged(intact)
    finally:
        fastloop.parse = original
    assert sum(taken) > 100
    assert any(diagnostics for _, _, diagnostics in intact)


# Where a change in Lark would make the loop fail: the point, and how many calls go well first
# (0: the first call fails; more: the loop fails part-way, after builders have run and reported).
BREAKING_POINTS = [
    ("_state_lexer", 0, AttributeError("'BasicLexer' object has no attribute '_mres'")),
    ("_reduction", 3, AttributeError("'Rule' object has no attribute 'alias'")),
    ("parse", 0, TypeError("parse() missing 1 required positional argument")),
    ("Layout", 0, AttributeError("'Token' object has no attribute 'end_pos'")),
    ("Layout", 40, AttributeError("'Token' object has no attribute 'end_pos'")),
    ("_reduce", 0, TypeError("Token.__new__() missing 1 required positional argument")),
    ("_reduce", 25, KeyError("RBRACE")),
    ("_reduce", 500, IndexError("list index out of range")),
    ("_finish", 2, AssertionError()),
    ("_cover", 7, ValueError("not enough values to unpack")),
    ("_splice", 5, RecursionError("maximum recursion depth exceeded")),
]


@pytest.mark.parametrize("name,calls_before,error", BREAKING_POINTS,
                         ids=[f"{name}-after-{calls}" for name, calls, _ in BREAKING_POINTS])
def test_a_fast_loop_broken_at_any_point_changes_no_parse(name, calls_before, error, intact, monkeypatch):
    fastloop._tables.cache_clear()
    monkeypatch.setattr(fastloop, name, failing_on_call(getattr(fastloop, name), calls_before, error))
    try:
        assert_unchanged(intact)
    finally:
        fastloop._tables.cache_clear()


@pytest.mark.parametrize("seed", range(3))
def test_a_fast_loop_that_fails_on_random_chunks_changes_no_parse(seed, intact, monkeypatch):
    """On entry to a chunk, or part-way through it (in one reduction of a few hundred)."""
    rng = random.Random(seed)
    failures = []

    def sometimes_broken(function, probability: float):
        def broken(*arguments):
            if rng.random() < probability:
                failures.append(function.__name__)
                raise rng.choice([KeyError("x"), AttributeError("y"), TypeError("z"), IndexError("w")])
            return function(*arguments)

        return broken

    monkeypatch.setattr(fastloop, "parse", sometimes_broken(fastloop.parse, 0.2))
    monkeypatch.setattr(fastloop, "_reduce", sometimes_broken(fastloop._reduce, 0.003))
    assert_unchanged(intact)
    assert {"parse", "_reduce"} <= set(failures)
