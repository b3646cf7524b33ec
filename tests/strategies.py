"""Hypothesis strategies that generate syntactically valid .gop source text.

Every strategy follows grammar/gop.lark and returns text that parses without
diagnostics, laid out at random the way people write: optional and extra spaces,
commas or newlines between statements, blank lines, line breaks and comments inside
`( )` and `[ ]`, own-line and end-of-line comments (`//` and `///`) between
declarations, fields and statements and after `{`.

Public strategies (all generate `str`):
  names()                  a NAME that is no keyword (dashes allowed: `dev-us-1`)
  comments()               `// text` or `/// text`
  strings()                a one-line string: escapes, `${...}` interpolations (holding `??` and one
                           level of plain string), non-ASCII
  triple_strings()         a triple-quoted string spanning lines, indented at random
  literals()               numbers, units, booleans, strings
  expressions(depth=2)     literals, refs, lists, maps, calls, binary, `??`, negation, parentheses
  types(depth=2)           named types with refinements, list[...], map[...], literals, unions
  selectors(depth=2)       ==, !=, in, not in, exists, and, or, not, parentheses
  conditions(depth=2)      a test's conditions: the selectors' operators on paths, and <, <=, >, >=
  tests(depth=2)           a `test "name" { }` declaration: expect, every/no cluster/object/PATH
  declarations(depth=2)    one top-level declaration of any kind (templates, defaults, narrowings,
                           `for` comprehensions and `uses` lists included)
  programs(max_decls=4, depth=2)  a whole file: optional package, imports, then declarations

Layout inside brackets may span lines; inside `{ }` newlines separate statements, so
the text of one statement stays on one line unless it is inside brackets. Names are
never keywords, and a line inside brackets never starts at column 0 (the parser would
take a keyword there for the start of a declaration).

The factories are cached: Hypothesis validates each strategy object once, and building
fresh ones per draw made generation ten times slower.
"""

from __future__ import annotations

import functools
import string
from dataclasses import dataclass

from hypothesis import strategies as st

from gop.compiler.language import (
    EXPRESSION_KEYWORDS, HEADER_KEYWORDS, RESOURCE_KINDS, TEST_KEYWORDS, TOP_LEVEL_KEYWORDS, UNIT_KINDS,
)

KEYWORDS = TOP_LEVEL_KEYWORDS | EXPRESSION_KEYWORDS | HEADER_KEYWORDS


@dataclass(frozen=True)
class _Ctx:
    """Where the text goes: may it break lines (inside brackets), and how deep it is indented."""

    in_brackets: bool = False
    indent: str = ""

    def brackets(self) -> _Ctx:
        return _Ctx(True, self.indent + "  ")

    def body(self) -> _Ctx:
        return _Ctx(False, self.indent + "  ")


_TOP = _Ctx()

# ---- names, comments and whitespace ------------------------------------------------------

_LOWER_ALNUM = string.ascii_lowercase + string.digits
_WORD = st.builds(
    str.__add__, st.sampled_from(string.ascii_letters + "_"), st.text(string.ascii_letters + string.digits + "_", max_size=5)
)
_DASHED = st.builds(
    lambda head, tail, parts: head + tail + "".join("-" + part for part in parts),
    st.sampled_from(string.ascii_lowercase),
    st.text(_LOWER_ALNUM, max_size=4),
    st.lists(st.text(_LOWER_ALNUM, min_size=1, max_size=3), min_size=1, max_size=2),
)
_NAMES = st.one_of(_WORD, _DASHED).filter(lambda name: name not in KEYWORDS)
_REFS = st.lists(_NAMES, min_size=1, max_size=3).map(".".join)

# Letters, digits, punctuation, and a few non-ASCII characters (2-byte, CJK, astral).
_TEXT_CHARS = string.ascii_letters + string.digits + " !#%&'()*+,-./:;<=>?@[]^_`{|}~" + "éßЖ日本\U0001F600"

# Trailing spaces are allowed: the formatter drops them.
_COMMENTS = st.builds(str.__add__, st.sampled_from(["//", "///", "// "]), st.text(_TEXT_CHARS + '\t"\\$', max_size=20))


def names() -> st.SearchStrategy[str]:
    return _NAMES


def comments() -> st.SearchStrategy[str]:
    return _COMMENTS


@functools.cache
def _ws(ctx: _Ctx, required: bool = False) -> st.SearchStrategy[str]:
    """Whitespace between two tokens; inside brackets it may break the line or hold a comment."""
    line_start = st.sampled_from(["\n" + ctx.indent, "\n ", "\n" + ctx.indent + "    "])
    options = [] if required else [st.just("")]
    options += [st.just(" "), st.sampled_from(["  ", "\t", " \t "])]
    if ctx.in_brackets:
        options += [
            line_start,
            st.tuples(_COMMENTS, line_start).map(lambda p: " " + p[0] + p[1]),
            st.tuples(line_start, _COMMENTS, line_start).map("".join),
        ]
    return st.one_of(*options)


# ---- literals --------------------------------------------------------------------------------

_ESCAPES = st.sampled_from(["\\\"", "\\\\", "\\n", "\\t", "\\r", "\\$", "\\u{41}", "\\u{1F600}", "\\u{e9}"])
# Inside `${ }` a string may nest one plain string (no escapes, no interpolation; `}` is text there).
_NESTED_STRINGS = st.text(_TEXT_CHARS.replace("$", ""), max_size=6).map(lambda text: '"' + text + '"')
_INTERPOLATION = st.builds(
    lambda ref, shape, nested: "${" + shape.format(ref, nested) + "}",
    _REFS,
    st.sampled_from(["{0}", "{0} + 1", " {0} ", "f({0})", "-{0}", "({0} * 2)", "{0} ?? {1}", "{0}??{1}", "f({1})"]),
    _NESTED_STRINGS,
)
_STRINGS = st.lists(st.one_of(st.text(_TEXT_CHARS, max_size=8), _ESCAPES, _INTERPOLATION), max_size=4).map(
    lambda parts: '"' + "".join(parts) + '"'
)
_TRIPLE_LINE = st.builds(
    lambda indent, parts: indent + "".join(parts),
    st.sampled_from(["", " ", "  ", "    ", "      ", "\t"]),
    st.lists(st.one_of(st.text(_TEXT_CHARS + "\t", max_size=10), _ESCAPES, _INTERPOLATION), max_size=3),
)


@st.composite
def _triple(draw) -> str:
    """An indented block after `\"\"\"`, or text right after the opening quotes."""
    lines = draw(st.lists(_TRIPLE_LINE, min_size=1, max_size=4))
    opening = draw(st.sampled_from(["", "", "  ", "head"]))
    closing = draw(st.sampled_from(["", "  ", "    ", None]))
    if closing is None:  # the last line holds text and the closing quotes
        return '"""' + opening + "\n" + "\n".join(lines) + '"""'
    return '"""' + opening + "\n" + "\n".join(lines) + "\n" + closing + '"""'


_TRIPLES = _triple()
_INTS = st.one_of(st.integers(0, 10**6).map(str), st.sampled_from(["0", "007", "65535"]))
_FLOATS = st.sampled_from(["0.5", "1.0", "3.14159", "10.25"])
_UNITS = st.sampled_from(["250m", "1Gi", "1.5Gi", "30s", "1h30m", "10ms", "2Ki", "100n", "5m"])
_BOOLS = st.sampled_from(["true", "false"])
_ONE_LINE_LITERALS = st.one_of(_INTS, _FLOATS, _UNITS, _BOOLS, _STRINGS)
_LITERALS = st.one_of(_ONE_LINE_LITERALS, _TRIPLES)


def strings() -> st.SearchStrategy[str]:
    return _STRINGS


def triple_strings() -> st.SearchStrategy[str]:
    return _TRIPLES


def literals(triple: bool = True) -> st.SearchStrategy[str]:
    return _LITERALS if triple else _ONE_LINE_LITERALS


# ---- helpers for bracketed sequences and joined text ---------------------------------------------


@functools.cache
def _sequence(ctx: _Ctx, opener: str, closer: str, item, depth: int, min_size: int = 0) -> st.SearchStrategy[str]:
    """`[a, b]`-style: `item(ctx, depth)` between brackets, optional trailing comma, free layout."""
    return _sequence_text(ctx, opener, closer, item, depth, min_size)


@st.composite
def _sequence_text(draw, ctx: _Ctx, opener: str, closer: str, item, depth: int, min_size: int) -> str:
    inner = ctx.brackets()
    values = draw(st.lists(item(inner, depth), min_size=min_size, max_size=4))
    text = opener + draw(_ws(inner))
    for index, value in enumerate(values):
        text += value + draw(_ws(inner))
        if index + 1 < len(values) or draw(st.booleans()):
            text += "," + draw(_ws(inner))
    return text + closer


def _spaced(ctx: _Ctx, *parts, required: bool = False) -> st.SearchStrategy[str]:
    """Strategies or strings joined by whitespace that may be empty (or not, if `required`)."""
    strategies = [st.just(p) if isinstance(p, str) else p for p in parts]
    joined = [strategies[0]]
    for part in strategies[1:]:
        joined += [_ws(ctx, required), part]
    return st.tuples(*joined).map("".join)


def _wrapped(ctx: _Ctx, opener: str, closer: str, inner_strategy) -> st.SearchStrategy[str]:
    inner = ctx.brackets()
    return st.tuples(st.just(opener), _ws(inner), inner_strategy(inner), _ws(inner), st.just(closer)).map("".join)


# ---- expressions -------------------------------------------------------------------------------


@functools.cache
def _expr(ctx: _Ctx, depth: int) -> st.SearchStrategy[str]:
    leaves = [_LITERALS, _REFS]
    if depth == 0:
        return st.one_of(*leaves)
    smaller = _expr(ctx, depth - 1)
    operator = st.sampled_from(["+", "-", "*", "/", "%"])
    return st.one_of(
        *leaves,
        _sequence(ctx, "[", "]", _expr, depth - 1),
        _body(ctx, depth - 1, _stmt),
        st.tuples(_NAMES, _sequence(ctx, "(", ")", _arg, depth - 1)).map("".join),
        _spaced(ctx, smaller, operator, smaller, required=True),  # spaces keep `a - b` from being one name
        _spaced(ctx, smaller, "??", smaller),
        smaller.map(lambda operand: "-" + operand),
        _wrapped(ctx, "(", ")", lambda inner: _expr(inner, depth - 1)),
    )


@functools.cache
def _arg(ctx: _Ctx, depth: int) -> st.SearchStrategy[str]:
    value = _expr(ctx, depth)
    return st.one_of(value, _spaced(ctx, _NAMES, "=", value))


def expressions(depth: int = 2) -> st.SearchStrategy[str]:
    return _expr(_TOP, depth)


# ---- types ---------------------------------------------------------------------------------------

_BUILTIN_TYPES = st.sampled_from(["int", "float", "bool", "string", "duration", "quantity", "secret", "any", "app"])
_BOUNDS = st.one_of(_INTS, _FLOATS, _UNITS, _INTS.map(lambda n: "-" + n), _REFS)


@functools.cache
def _range(ctx: _Ctx) -> st.SearchStrategy[str]:
    bound = st.one_of(st.just(""), _BOUNDS)
    return _spaced(ctx, bound, "..", bound)


@functools.cache
def _refine_arg(ctx: _Ctx, depth: int) -> st.SearchStrategy[str]:
    return st.one_of(
        _range(ctx),
        _spaced(ctx, _NAMES, ":", _range(ctx)),
        _spaced(ctx, _NAMES, ":", st.one_of(_STRINGS, _INTS, _REFS)),
    )


@functools.cache
def _type_atom(ctx: _Ctx, depth: int) -> st.SearchStrategy[str]:
    refinement = st.one_of(st.just(""), _sequence(ctx, "(", ")", _refine_arg, 0, min_size=1))
    named = st.tuples(st.one_of(_BUILTIN_TYPES, _REFS), refinement).map("".join)
    if depth == 0:
        return st.one_of(named, _ONE_LINE_LITERALS)
    element = lambda inner: _type(inner, depth - 1)  # noqa: E731
    return st.one_of(
        named,
        _ONE_LINE_LITERALS,
        st.tuples(_wrapped(ctx, "list[", "]", element), refinement).map("".join),
        st.tuples(_wrapped(ctx, "map[", "]", element), _type_atom(ctx, depth - 1)).map("".join),
        _wrapped(ctx, "(", ")", element),
    )


@functools.cache
def _type(ctx: _Ctx, depth: int) -> st.SearchStrategy[str]:
    atom = _type_atom(ctx, depth)
    return st.one_of(atom, _spaced(ctx, atom, "|", atom), _spaced(ctx, atom, "|", atom, "|", atom))


def types(depth: int = 2) -> st.SearchStrategy[str]:
    return _type(_TOP, depth)


# ---- selectors -----------------------------------------------------------------------------------


def _in_value(ctx: _Ctx, depth: int) -> st.SearchStrategy[str]:
    return st.one_of(_STRINGS, _INTS)


def _label_value(ctx: _Ctx) -> st.SearchStrategy[str]:
    return st.one_of(_ONE_LINE_LITERALS, _REFS)


@functools.cache
def _predicate(ctx: _Ctx, depth: int, subject, operators: tuple[str, ...], value) -> st.SearchStrategy[str]:
    """A selector (`subject` a label name) or a test's condition (a path): comparisons with
    `value(ctx)`, `in`, `not in`, `exists`, combined by `and`, `or`, `not` and parentheses."""
    values = _sequence(ctx, "[", "]", _in_value, 0)
    atoms = [
        _spaced(ctx, subject, st.sampled_from(operators), value(ctx)),
        st.tuples(_spaced(ctx, subject, "in", required=True), _ws(ctx), values).map("".join),
        st.tuples(_spaced(ctx, subject, "not", "in", required=True), _ws(ctx), values).map("".join),
        _spaced(ctx, subject, "exists", required=True),
    ]
    if depth == 0:
        return st.one_of(*atoms)
    smaller = _predicate(ctx, depth - 1, subject, operators, value)
    return st.one_of(
        *atoms,
        _spaced(ctx, smaller, st.sampled_from(["and", "or"]), smaller, required=True),
        _spaced(ctx, "not", smaller, required=True),
        _wrapped(ctx, "(", ")", lambda inner: _predicate(inner, depth - 1, subject, operators, value)),
    )


def _selector(ctx: _Ctx, depth: int) -> st.SearchStrategy[str]:
    return _predicate(ctx, depth, _NAMES, ("==", "!="), _label_value)


def selectors(depth: int = 2) -> st.SearchStrategy[str]:
    return _selector(_TOP, depth)


# ---- tests: conditions and test bodies ----------------------------------------------------------

# A test's paths: no key is a keyword of test bodies (`every object` is the quantifier, not a path).
_TEST_PATHS = st.lists(st.one_of(_NAMES.filter(lambda n: n not in TEST_KEYWORDS), _NAMES.map(lambda n: f'"{n}.txt"')),
                       min_size=1, max_size=3).map(".".join)


def _condition_value(ctx: _Ctx) -> st.SearchStrategy[str]:
    return _expr(ctx, 0)


def _condition(ctx: _Ctx, depth: int) -> st.SearchStrategy[str]:
    return _predicate(ctx, depth, _TEST_PATHS, ("==", "!=", "<", "<=", ">", ">="), _condition_value)


def conditions(depth: int = 2) -> st.SearchStrategy[str]:
    return _condition(_TOP, depth)


@functools.cache
def _test_stmt(ctx: _Ctx, depth: int) -> st.SearchStrategy[str]:
    expect = _spaced(ctx, "expect", _condition(ctx, depth), required=True)
    if depth == 0:
        return expect
    body = _body(ctx, depth - 1, _test_stmt)
    quantifier = st.sampled_from(["every", "no"])
    selector = st.one_of(st.just(""), _spaced(ctx, "", "where", _selector(ctx, depth - 1), required=True))
    condition = st.one_of(st.just(""), _spaced(ctx, "", "where", _condition(ctx, depth - 1), required=True))
    return st.one_of(
        expect,
        st.tuples(_spaced(ctx, quantifier, "cluster", required=True), selector, _ws(ctx), body).map("".join),
        st.tuples(_spaced(ctx, quantifier, "object", required=True), condition, _ws(ctx), body).map("".join),
        st.tuples(_spaced(ctx, quantifier, _TEST_PATHS, required=True), condition, _ws(ctx), body).map("".join),
    )


def _test(depth: int) -> st.SearchStrategy[str]:
    return st.tuples(_spaced(_TOP, "test", _STRINGS, required=True), _ws(_TOP), _body(_TOP, depth, _test_stmt)).map("".join)


def tests(depth: int = 2) -> st.SearchStrategy[str]:
    return _test(depth)


# ---- bodies: statements and fields ----------------------------------------------------------------


@functools.cache
def _separator(ctx: _Ctx) -> st.SearchStrategy[str]:
    """Between two statements: commas and/or newlines, maybe blank lines and comments."""
    line = "\n" + ctx.indent
    return st.one_of(
        st.sampled_from([line, ", ", ",", "," + line, line + line, "\n\n\n" + ctx.indent]),
        _COMMENTS.map(lambda c: " " + c + line),
        _COMMENTS.map(lambda c: line + c + line),
        st.tuples(_COMMENTS, _COMMENTS).map(lambda cs: ", " + cs[0] + line + line + cs[1] + line),
    )


@functools.cache
def _body(ctx: _Ctx, depth: int, item) -> st.SearchStrategy[str]:
    """`{ ... }` holding `item(inner, depth)`s: statements or fields."""
    return _body_text(ctx, depth, item)


@st.composite
def _body_text(draw, ctx: _Ctx, depth: int, item) -> str:
    inner = ctx.body()
    items = draw(st.lists(item(inner, depth), max_size=4))
    if not items:
        empty = ["{}", "{ }", "{\n" + ctx.indent + "}", "{ " + draw(_COMMENTS) + "\n}"]
        return draw(st.sampled_from(empty))
    opening = draw(st.sampled_from(["", " ", "\n" + inner.indent, " " + draw(_COMMENTS) + "\n" + inner.indent]))
    closing = draw(st.sampled_from(["", " ", "\n" + ctx.indent, ",", "\n\n" + ctx.indent, " " + draw(_COMMENTS) + "\n"]))
    text = "{" + opening + items[0]
    for value in items[1:]:
        text += draw(_separator(inner)) + value
    return text + closing + "}"


_PATHS = st.lists(st.one_of(_NAMES, _NAMES.map(lambda n: f'"{n}.txt"')), min_size=1, max_size=3).map(".".join)


@functools.cache
def _stmt(ctx: _Ctx, depth: int) -> st.SearchStrategy[str]:
    assign = _spaced(ctx, _PATHS, "=", _expr(ctx, depth))
    if depth == 0:
        return assign
    body = _body(ctx, depth - 1, _stmt)
    annotation = st.one_of(st.just(""), _spaced(ctx, "", ":", _REFS))
    return st.one_of(
        assign,
        st.tuples(_PATHS, annotation, _ws(ctx), body).map("".join),
        st.tuples(_spaced(ctx, "app", _NAMES, required=True), _ws(ctx), body).map("".join),
        _spaced(ctx, "all", body),
    )


@functools.cache
def _field(ctx: _Ctx, depth: int) -> st.SearchStrategy[str]:
    head = st.tuples(_NAMES, st.sampled_from(["", "?", " ?"])).map("".join)
    declared = _spaced(ctx, head, ":", _type(ctx, depth))
    return st.one_of(declared, _spaced(ctx, declared, "=", _expr(ctx, depth)))


# ---- declarations and programs ----------------------------------------------------------------------


_UNIT_KINDS = st.sampled_from(UNIT_KINDS)
# `uses a, b` (a list of template names; its commas take spaces but no line break).
_USES = st.one_of(st.just(""), st.lists(_NAMES, min_size=1, max_size=3).map(lambda names: " uses " + ", ".join(names)))
_FOR_KIND = st.one_of(st.just(""), _UNIT_KINDS.map(lambda kind: " for " + kind))
_MEMBER_NAMES = st.one_of(_NAMES, _STRINGS).map(lambda name: " " + name)  # in a `for`, a name may be a string


@functools.cache
def _where(ctx: _Ctx, depth: int) -> st.SearchStrategy[str]:
    return st.one_of(st.just(""), _spaced(ctx, "", "where", _selector(ctx, depth), required=True))


@functools.cache
def _resource(ctx: _Ctx, depth: int, name) -> st.SearchStrategy[str]:
    """`KIND NAME uses a, b where SELECTOR { ... }`; `uses` only after a name (`name` may draw none)."""
    named = st.tuples(name, _USES).map(lambda parts: parts[0] + parts[1] if parts[0] else "")
    return st.tuples(st.sampled_from(RESOURCE_KINDS), named, _where(ctx, depth), _ws(ctx),
                     _body(ctx, depth, _stmt)).map("".join)


@st.composite
def _for(draw, depth: int) -> str:
    """`for a, b in EXPR { MEMBERS }`: members one per line, named by a name or an interpolated string."""
    ctx = _TOP
    variables = ", ".join(draw(st.lists(_NAMES, min_size=1, max_size=2)))
    inner = ctx.body()
    smaller = max(depth - 1, 0)
    members = draw(st.lists(_resource(inner, smaller, _MEMBER_NAMES), max_size=3))
    lines = [inner.indent + m for m in members]
    body = "{\n" + "\n".join(lines) + "\n}" if members else draw(st.sampled_from(["{}", "{ }", "{\n}"]))
    return f"for {variables} in " + draw(_expr(ctx, smaller)) + " " + body


@functools.cache
def _decl(depth: int) -> st.SearchStrategy[str]:
    ctx = _TOP
    annotation = st.one_of(st.just(""), _spaced(ctx, "", ":", _type(ctx, depth)))
    name = st.one_of(st.just(""), _NAMES.map(lambda n: " " + n))
    stmts = _body(ctx, depth, _stmt)
    return st.one_of(
        _spaced(ctx, _spaced(ctx, "type", _NAMES, required=True), "=", _type(ctx, depth)),
        _spaced(ctx, _spaced(ctx, "schema", _NAMES, required=True), _body(ctx, depth, _field)),
        _spaced(ctx, "labels", _body(ctx, depth, _field)),
        _spaced(ctx, st.tuples(_spaced(ctx, "let", _NAMES, required=True), annotation).map("".join), "=", _expr(ctx, depth)),
        _resource(ctx, depth, name),
        st.tuples(st.just("template "), _NAMES, _FOR_KIND, _USES, _ws(ctx), stmts).map("".join),
        st.tuples(st.just("defaults"), _FOR_KIND, _ws(ctx), stmts).map("".join),
        st.tuples(_spaced(ctx, "narrow", _REFS, required=True), _ws(ctx), _body(ctx, depth, _field)).map("".join),
        _for(depth),
        _test(depth),
    )


def declarations(depth: int = 2) -> st.SearchStrategy[str]:
    return _decl(depth)


_IMPORTS = st.builds(
    lambda path, alias: "import " + path + alias,
    st.sampled_from(['"./lib"', '"../shared/types"', '"./a-b"']),
    st.one_of(st.just(""), _NAMES.map(lambda n: " as " + n)),
)


@st.composite
def _between_decls(draw) -> str:
    """Newlines between top-level declarations, maybe blank lines and comments."""
    parts = [draw(st.one_of(st.just(""), _COMMENTS.map(lambda c: " " + c)))]
    for _ in range(draw(st.integers(0, 2))):
        parts.append("\n" * draw(st.integers(1, 3)) + draw(_COMMENTS))
    parts.append("\n" * draw(st.integers(1, 3)))
    return "".join(parts)


@st.composite
def programs(draw, max_decls: int = 4, depth: int = 2) -> str:
    decls: list[str] = []
    if draw(st.booleans()):
        decls.append("package " + draw(_NAMES))
    decls += draw(st.lists(_IMPORTS, max_size=2))
    decls += draw(st.lists(_decl(depth), max_size=max_decls))
    text = draw(st.one_of(st.sampled_from(["", "\n", "\n\n"]), _COMMENTS.map(lambda c: c + "\n")))
    for index, decl in enumerate(decls):
        text += decl
        if index + 1 < len(decls):
            text += draw(_between_decls())
    ending = st.one_of(
        st.sampled_from(["", "\n", "\n\n"]), _COMMENTS.map(lambda c: " " + c + "\n"), _COMMENTS.map(lambda c: "\n" + c)
    )
    return text + draw(ending)
