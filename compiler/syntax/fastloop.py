"""A tight LALR loop over Lark's own tables, for text that has no syntax error.

Input: the built `Lark` parser (its contextual lexer and parse table), a start symbol, a
text, `reducer_for`: rule name -> function(builder, extent, children) building that rule's
value, and the builder of this parse, handed to every reduction. Output: the start rule's value, or `None` as soon as anything is off the happy
path: a character no terminal of the state matches, a token the state has no action for,
or a keyword glued to the word after it (`letb`).

Why: Lark's general loop (lexer thread, post-lexer generator, line counters, error hooks,
callback wrappers) costs about three times what parsing needs, and parsing is most of
`gopc check`. This loop reads the same tables and reduces like Lark's tree builder (helper
rules `_x` spliced into their parent, `?rule` of one child replaced by the child), so for
every text it accepts it builds the same tree as `Lark.parse` with the same builders; on
`None` the caller parses with Lark, whose error recovery reports the problem.
`tests/test_parser_loop.py` checks that both paths agree on trees, spans and diagnostics.

The post-lexer rules of grammar/gop.lark (newlines inside ( ) and [ ] are dropped, as are
leading and repeated ones; a keyword glued to a word is an error) are `scanner.Layout`, which
Lark's loop applies too.

Lark's internals are private: pyproject.toml bounds lark to the minor versions this loop is
tested with (tests/test_lark_version.py), and whatever fails in here, `parser.py` parses with
Lark's loop instead (tests/test_fastloop_fallback.py breaks this loop on purpose).

Invariants: no state survives between calls. A rule's extent is (start, end) of its first
and last token that is not a newline, or None; tokens carry `type`, `value`, `start_pos`
and `end_pos` (what the builders read).
"""

from __future__ import annotations

import functools
import re
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from lark import Lark, Token
from lark.lexer import UnlessCallback
from lark.parsers.lalr_analysis import Shift

from gop.compiler.syntax.scanner import Layout

Extent = tuple[int, int] | None
# (builder, extent, children) -> the rule's value; the builder is opaque to the loop.
Reducer = Callable[[Any, Extent, list], Any]

# Skipped in front of every token, so a run of blanks costs no turn of the loop.
_BLANKS = r"[\t \f]*"


@dataclass(frozen=True, slots=True)
class _StateLexer:
    """What the contextual lexer matches in one parser state."""

    pattern: re.Pattern  # blanks, then Lark's alternation of the state's terminals
    keywords: dict[str, dict[str, str]]  # regex terminal -> {literal: keyword terminal} (Lark's "unless")
    ignored: frozenset[str]


@dataclass(frozen=True, slots=True)
class _Reduction:
    """One grammar rule's reduction, as Lark's tree builder performs it."""

    size: int  # symbols popped
    goto: str  # the rule's nonterminal
    spliced: tuple[int, ...]  # children that are helper rules (`_seps`, repetitions): their children take their place
    expand_single: bool  # `?rule`: a lone child stands for the node
    build: Reducer | None  # None for helper rules, whose value is the list of their children
    passthrough: bool  # `?rule` of one symbol: only the state changes (most reductions of an expression)


class _Lexers(dict):
    """The state -> `_StateLexer` map, each built the first time a parse reaches its state
    (compiling every state's regex up front costs more than parsing a small program); a state
    whose lexer the loop cannot drive maps to None, and the loop declines text that reaches it."""

    def __init__(self, basics: dict[int, Any]):
        super().__init__()
        self._basics = basics
        self._by_lexer: dict[int, _StateLexer | None] = {}

    def __missing__(self, state: int) -> _StateLexer | None:
        basic = self._basics[state]
        if id(basic) not in self._by_lexer:
            try:
                self._by_lexer[id(basic)] = _state_lexer(basic)
            except Exception:  # Lark's private attributes changed: Lark's own loop parses
                self._by_lexer[id(basic)] = None
        lexer = self[state] = self._by_lexer[id(basic)]
        return lexer


@dataclass(frozen=True, slots=True)
class _Tables:
    lexers: _Lexers
    actions: dict[int, dict[str, int | _Reduction]]  # terminal or nonterminal -> next state, or the reduction
    start_states: dict[str, int]
    end_states: dict[str, int]


@functools.cache
def _tables(lark: Lark, reducer_for: Callable[[str], Reducer]) -> _Tables | None:
    """Lark's tables in the shape the loop reads; None if this Lark build is not one we can drive.

    They are read from Lark's private attributes: a Lark release that changes them makes
    this fail in any way at all, and then Lark's own loop parses everything."""
    try:
        return _read_tables(lark, reducer_for)
    except Exception:
        return None


def _read_tables(lark: Lark, reducer_for: Callable[[str], Reducer]) -> _Tables | None:
    if not lark.options.keep_all_tokens or lark.options.maybe_placeholders:
        return None
    contextual = getattr(lark.parser.lexer, "lexer", None)
    lexers = _Lexers(dict(getattr(contextual, "lexers", {})))
    table = lark.parser.parser.parser.parse_table
    if any(lexers[state] is None for state in table.start_states.values()):
        return None  # the lexers are not what this loop reads (the others are read when reached)
    reductions: dict = {}
    actions = {}
    for state, row in table.states.items():
        actions[state] = {
            str.__str__(symbol): arg if action is Shift else reductions.setdefault(arg, _reduction(arg, reducer_for))
            for symbol, (action, arg) in row.items()
        }
    return _Tables(lexers, actions, table.start_states, table.end_states)


def _reduction(rule, reducer_for: Callable[[str], Reducer]) -> _Reduction:
    name = str.__str__(rule.alias or rule.origin.name)
    spliced = tuple(i for i, symbol in enumerate(rule.expansion) if not symbol.is_term and symbol.name.startswith("_"))
    build = None if name.startswith("_") else reducer_for(name)
    expand_single = bool(rule.options.expand1 and not rule.alias)
    passthrough = expand_single and len(rule.expansion) == 1 and not spliced
    return _Reduction(len(rule.expansion), str.__str__(rule.origin.name), spliced, expand_single, build, passthrough)


def _state_lexer(basic) -> _StateLexer | None:
    scanner = basic.scanner  # builds `basic.callback` too
    if len(scanner._mres) != 1:
        return None
    keywords: dict[str, dict[str, str]] = {}
    for terminal, callback in basic.callback.items():
        if not isinstance(callback, UnlessCallback):
            return None
        keywords[terminal] = {t.pattern.value: t.name for t in callback.scanner.terminals}
    pattern = re.compile(_BLANKS + "(?:" + scanner._mres[0].pattern + ")", scanner._mres[0].flags)
    return _StateLexer(pattern, keywords, frozenset(basic.ignore_types))


def parse(lark: Lark, text: str, start: str, reducer_for: Callable[[str], Reducer], builder):
    """The value Lark would build for `text`, or None when the text needs Lark's error handling."""
    tables = _tables(lark, reducer_for)
    if tables is None:
        return None
    lexers, actions = tables.lexers, tables.actions
    state_stack = [tables.start_states[start]]
    value_stack: list = []
    extent_stack: list[Extent] = []
    layout = Layout(text)
    admits, glued = layout.admits, layout.glued
    position, end = 0, len(text)
    new_token = str.__new__
    while position < end:
        lexer = lexers[state_stack[-1]]
        if lexer is None:
            return None
        match = lexer.pattern.match(text, position)
        if match is None:
            return None
        kind = match.lastgroup
        start_pos, position = match.start(kind), match.end()
        if kind in lexer.ignored:
            continue
        value = match.group(kind)
        keywords = lexer.keywords.get(kind)
        if keywords is not None:
            kind = keywords.get(value, kind)
        token = new_token(Token, value)
        token.type, token.value, token.start_pos, token.end_pos = kind, value, start_pos, position
        if not admits(token):
            continue
        if glued:
            return None  # a keyword run into the next word: Lark's path reports it
        while True:
            action = actions[state_stack[-1]].get(kind)
            if action is None:
                return None
            if action.__class__ is int:
                state_stack.append(action)
                value_stack.append(token)
                extent_stack.append(None if kind == "_NL" else (start_pos, position))
                break
            if action.passthrough:
                state_stack[-1] = actions[state_stack[-2]][action.goto]
                continue
            _reduce(action, state_stack, value_stack, extent_stack, actions, builder)
    return _finish(tables.end_states[start], state_stack, value_stack, extent_stack, actions, builder)


def _reduce(rule: _Reduction, state_stack: list, value_stack: list, extent_stack: list, actions, builder) -> None:
    size = rule.size
    if size:
        children = value_stack[-size:]
        extent = _cover(extent_stack[-size:])
        del state_stack[-size:]
        del value_stack[-size:]
        del extent_stack[-size:]
        if rule.spliced:
            children = _splice(children, rule.spliced)
    else:
        children, extent = [], None
    if rule.expand_single and len(children) == 1:
        value = children[0]
    elif rule.build is None:
        value = children
    else:
        value = rule.build(builder, extent, children)
    value_stack.append(value)
    extent_stack.append(extent)
    state_stack.append(actions[state_stack[-1]][rule.goto])


def _cover(extents: list[Extent]) -> Extent:
    """From the first child's start to the last one's end (children come in text order here)."""
    for first in extents:
        if first is not None:
            break
    else:
        return None
    for last in reversed(extents):
        if last is not None:
            return (first[0], last[1])
    return None


def _splice(children: list, spliced: tuple[int, ...]) -> list:
    result: list = []
    for index, child in enumerate(children):
        if index in spliced:
            result.extend(child)
        else:
            result.append(child)
    return result


def _finish(end_state: int, state_stack: list, value_stack: list, extent_stack: list, actions, builder):
    while True:
        action = actions[state_stack[-1]].get("$END")
        if action is None or action.__class__ is int:
            return None
        _reduce(action, state_stack, value_stack, extent_stack, actions, builder)
        if state_stack[-1] == end_state:
            return value_stack[-1]
