"""Reductions -> `ast` nodes: the builder both parse loops call at each grammar rule they reduce.

Input: a rule's name, its extent (start, end offsets in the chunk, or None when it covers no
text) and its children: tokens and values of earlier reductions. Output: the rule's value, an
`ast` node, or a tuple/list the parent rule unpacks. There is no intermediate parse tree.

Besides building nodes, the builder decodes strings (escapes, `\\u{...}`, the dedent of
triple-quoted strings, `${...}` interpolations, which it parses through the parser it is
given), attaches doc comments (`///` lines right before a declaration or field), and reports
number literals out of range and bad escapes to the file's `SyntaxReport`.

Two ways in, one builder: the fast loop calls `reducer_for(rule)(builder, extent, children)`
and tracks extents itself; Lark's loop calls the callbacks `LarkCallbacks(builder).bind(...)`
makes of the ones Lark built once from `DeferredTransformer` (building Lark's callbacks per parse
would cost more than most parses), computing extents from the children (recovery's invented
tokens may stand out of order).

Invariants: spans are file offsets (`base` + chunk offset) and lie inside the chunk; a builder
belongs to one chunk (or one interpolation) of one parse; no state is shared between parses.
"""

from __future__ import annotations

import functools
import math
import re
from collections.abc import Callable
from dataclasses import dataclass

from lark import Token, Tree

from gop.compiler.core.span import Span
from gop.compiler.diagnostics import codes
from gop.compiler.syntax import ast
from gop.compiler.syntax.limits import FLOAT_LIMIT, INT_LIMIT, int_in_range
from gop.compiler.syntax.report import SyntaxReport

# A node's extent: its (start, end) offsets in the chunk, or None when it covers no text
# (a rule reduced from nothing but newlines, or only from tokens recovery invented).
Extent = tuple[int, int] | None
# Parses text[start:end] of the file as one expression, reporting to the report given.
ExpressionParser = Callable[[str, str, int, int, SyntaxReport], ast.Expr]

# Terminals a builder method receives; every other token (keywords, punctuation, newlines)
# only contributes to the span of the node being built.
_MEANINGFUL_TOKENS = frozenset(
    "NAME STRING TRIPLE_STRING INT FLOAT UNIT RESOURCE_KIND OPTIONAL RANGE CMP_OP ADD_OP MUL_OP MISSING".split()
    + ["APP", "RELEASE", "RESOURCE"]  # the keywords of `target_kind`, which tell the targets apart
)
class _Uses(list):
    """The names after `uses`, told apart from the other children of a declaration."""


# Rules whose value is their inner node (`( ... )`): its span leaves the parentheses out.
_TRANSPARENT_RULES = frozenset({"primary", "type_atom", "sel_atom"})


@functools.cache
def reducer_for(rule: str) -> Callable[[Builder, Extent, list], object]:
    """`rule`'s builder method, given the builder, the node's extent and all its children
    (punctuation is dropped here)."""
    method = getattr(Builder, rule, None)

    def reduce(builder: Builder, extent: Extent, children: list):
        if method is None:  # only `?rule`s go without a builder, and they pass a lone child up
            raise NotImplementedError(f"no AST builder for grammar rule {rule!r}")
        return method(builder, extent, [c for c in children if not isinstance(c, Token) or c.type in _MEANINGFUL_TOKENS])

    return reduce


@dataclass(frozen=True, slots=True)
class PendingReduction:
    """A rule's children as Lark's tree builder hands them over (helper rules spliced, a `?rule`'s
    lone child passed up): what `LarkCallbacks` builds the rule's value from."""

    rule: str
    children: list


class DeferredTransformer:
    """The transformer of the callbacks Lark builds once for its loop (`recovery`): a rule with
    a builder method yields a `PendingReduction`, which each parse's `LarkCallbacks` builds."""

    def __getattr__(self, rule: str):
        if rule.startswith("_") or getattr(Builder, rule, None) is None:
            raise AttributeError(rule)
        return functools.partial(PendingReduction, rule)

    def __default__(self, data, children, meta):
        if data.startswith("_"):  # Lark's helper rules (`_seps`, repetitions): spliced into the parent
            return Tree(data, children)
        raise NotImplementedError(f"no AST builder for grammar rule {data!r}")


class _BoundCallbacks(dict):
    """rule -> callback building with one parse's `LarkCallbacks`, made on a rule's first reduction
    (a chunk reduces few of the grammar's rules)."""

    def __init__(self, deferred: dict, callbacks: LarkCallbacks) -> None:
        super().__init__()
        self._deferred = deferred
        self._build = callbacks.build
        self.__missing__(next(iter(deferred)))  # Lark calls no callback while the mapping is empty

    def __missing__(self, rule):
        deferred_callback, build = self._deferred[rule], self._build

        def callback(children):
            value = deferred_callback(children)
            return build(value) if value.__class__ is PendingReduction else value

        self[rule] = callback
        return callback


class LarkCallbacks:
    """The reductions of one parse by Lark's loop: `bind` turns the shared callbacks (built from
    `DeferredTransformer`) into ones that build with `builder`, the extent computed from the children."""

    def __init__(self, builder: Builder) -> None:
        self._builder = builder
        # Values that carry no span of their own (tuples, the node inside parentheses), by id:
        # their extent, so the parent's span covers `{ }` and `( )`.
        self._extents: dict[int, tuple[object, Extent]] = {}

    def bind(self, deferred: dict) -> dict:
        """Lark's callbacks (rule -> function(children)) that build this parse's values."""
        return _BoundCallbacks(deferred, self)

    def build(self, pending: PendingReduction):
        extent = self._extent(pending.children)
        result = reducer_for(pending.rule)(self._builder, extent, pending.children)
        if pending.rule in _TRANSPARENT_RULES or isinstance(result, (tuple, list)):
            self._extents[id(result)] = (result, extent)
        return result

    def _extent(self, children) -> Extent:
        """From the leftmost to the rightmost child (recovery's invented tokens are empty and may
        stand out of order, so every child is looked at)."""
        start = end = None
        base = self._builder.base
        for child in children:
            if isinstance(child, Token):
                if child.type == "_NL":
                    continue
                low = child.start_pos
                high = low if child.end_pos is None else child.end_pos
            else:
                known = self._extents.get(id(child))
                if known is not None:
                    found = known[1]
                elif isinstance(child, (list, tuple)):
                    found = self._extent(child)
                else:
                    span = getattr(child, "span", None)
                    found = None if span is None else (span.start - base, span.end - base)
                if found is None:
                    continue
                low, high = found
            if start is None:
                start, end = low, high
            else:
                start, end = min(start, low), max(end, high)
        return None if start is None else (start, end)


# ---- doc comments ------------------------------------------------------------------------


class DocIndex:
    """Doc comments (`///`) by the offset of the line that follows them."""

    def __init__(self, text: str, comments: list[tuple[int, int]]) -> None:
        self._docs: dict[int, str] = {}
        lines: list[str] = []
        previous_end = -1
        for start, end in comments:
            comment = text[start:end]
            line_start = text.rfind("\n", 0, start) + 1
            own_line = text[line_start:start].strip() == ""
            if not (comment.startswith("///") and own_line):
                lines, previous_end = [], -1
                continue
            contiguous = previous_end >= 0 and text[previous_end:line_start].strip() == ""
            if not contiguous:
                lines = []
            lines.append(comment[3:].removeprefix(" "))
            previous_end = end
            next_line = text.find("\n", end)
            if next_line != -1:
                following = next_line + 1
                self._docs[following] = "\n".join(lines)
        self._text = text

    def doc_for(self, offset: int) -> str | None:
        line_start = self._text.rfind("\n", 0, offset) + 1
        if self._text[line_start:offset].strip():
            return None
        return self._docs.get(line_start)


# ---- tree -> AST -----------------------------------------------------------------------------


def _is_surrogate(code: int) -> bool:
    """A UTF-16 surrogate half: a code point that is no character, and that UTF-8 cannot encode."""
    return 0xD800 <= code <= 0xDFFF


_UNICODE_ESCAPE = re.compile(r"u\{([0-9A-Fa-f]{1,6})\}")
_ESCAPES = {'"': '"', "\\": "\\", "n": "\n", "r": "\r", "t": "\t", "$": "$"}


class Builder:
    """Builds `ast` nodes, one method per grammar rule (a rule without one fails loudly:
    `DeferredTransformer.__default__` and the fast loop's `reducer_for` raise). Methods get the node's extent and its meaningful children.

    `text` is the whole file and `base` the chunk's offset in it; `parse_expression` parses the
    `${...}` of strings."""

    def __init__(self, path: str, text: str, base: int, docs: DocIndex, report: SyntaxReport,
                 parse_expression: ExpressionParser) -> None:
        self.path = path
        self.text = text
        self.base = base
        self._docs = docs
        self.report = report
        self.parse_expression = parse_expression

    # -- spans --

    def _span(self, extent: Extent) -> Span:
        if extent is None:
            return Span(self.path, self.base, self.base)
        return Span(self.path, self.base + extent[0], self.base + extent[1])

    def _tok(self, token: Token) -> Span:
        start = self.base + token.start_pos
        end = self.base + (token.end_pos if token.end_pos is not None else token.start_pos)
        return Span(self.path, start, end)

    def _name(self, token: Token) -> ast.Name:
        return ast.Name(self._tok(token), str(token))

    def _doc(self, meta) -> str | None:
        return self._docs.doc_for(self._span(meta).start)

    # -- parentheses: `(expr)`, `(type)`, `(selector)` are the inner node, spans without the parentheses --

    def primary(self, meta, children):
        return children[0]

    type_atom = sel_atom = primary

    # -- declarations --

    def chunk(self, meta, children):
        return children

    def package_decl(self, meta, children):
        return ast.PackageDecl(self._span(meta), self._name(children[0]))

    def import_decl(self, meta, children):
        alias = self._name(children[1]) if len(children) > 1 else None
        return ast.ImportDecl(self._span(meta), children[0], alias)

    def type_decl(self, meta, children):
        name, type_ = children
        return ast.TypeDecl(self._span(meta), self._name(name), type_, self._doc(meta))

    def schema_decl(self, meta, children):
        name, fields = children
        return ast.SchemaDecl(self._span(meta), self._name(name), fields, self._doc(meta))

    def labels_decl(self, meta, children):
        return ast.LabelsDecl(self._span(meta), children[0], self._doc(meta))

    def let_decl(self, meta, children):
        name = self._name(children[0])
        type_ = children[1] if len(children) == 3 else None
        return ast.LetDecl(self._span(meta), name, type_, children[-1], self._doc(meta))

    def resource_decl(self, meta, children):
        kind = str(children[0])
        rest = children[1:]
        name = rest.pop(0) if rest and isinstance(rest[0], (Token, ast.StringLit)) else None
        if isinstance(name, Token):
            name = self._name(name)
        uses = rest.pop(0) if isinstance(rest[0], _Uses) else _Uses()
        selector = rest.pop(0) if len(rest) == 2 else None
        return ast.ResourceDecl(self._span(meta), kind, name, selector, rest[0], self._doc(meta), tuple(uses))

    for_member = resource_decl

    def where(self, meta, children):
        return children[0]

    def uses(self, meta, children):
        return _Uses(self._name(token) for token in children)

    def template_decl(self, meta, children):
        name, *rest = children
        kind = rest.pop(0) if isinstance(rest[0], str) and not isinstance(rest[0], Token) else "app"
        uses = rest.pop(0) if isinstance(rest[0], _Uses) else _Uses()
        return ast.TemplateDecl(self._span(meta), self._name(name), kind, tuple(uses), rest[0], self._doc(meta))

    def defaults_decl(self, meta, children):
        kind = children[0] if len(children) == 2 else "app"
        return ast.DefaultsDecl(self._span(meta), kind, children[-1], self._doc(meta))

    def unit_kind(self, meta, children):
        return str(children[0])

    def narrow_decl(self, meta, children):
        return ast.NarrowDecl(self._span(meta), children[0], children[1], self._doc(meta))

    def for_decl(self, meta, children):
        *names, iterable, decls = children
        return ast.ForDecl(self._span(meta), tuple(self._name(n) for n in names), iterable, decls, self._doc(meta))

    def for_body(self, meta, children):
        return tuple(children)

    def schema_body(self, meta, children):
        return tuple(children)

    def field_decl(self, meta, children):
        name = self._name(children[0])
        rest = children[1:]
        optional = bool(rest) and isinstance(rest[0], Token) and rest[0].type == "OPTIONAL"
        if optional:
            rest = rest[1:]
        type_ = rest[0]
        default = rest[1] if len(rest) > 1 else None
        return ast.FieldDecl(self._span(meta), name, optional, type_, default, self._doc(meta))

    # -- bodies --

    def body(self, meta, children):
        return ast.Body(self._span(meta), tuple(children))

    def assign(self, meta, children):
        return ast.Assign(self._span(meta), children[0], children[1])

    def block(self, meta, children):
        path = children[0]
        annotation = children[1] if len(children) == 3 else None
        return ast.Block(self._span(meta), path, annotation, children[-1])

    def app_target(self, meta, children):
        return ast.AppTarget(self._span(meta), self._name(children[1]), children[2], str(children[0]))

    def target_kind(self, meta, children):
        return children[0]

    def all_target(self, meta, children):
        return ast.AllTarget(self._span(meta), children[0])

    def path(self, meta, children):
        return ast.Path(self._span(meta), tuple(children))

    def name_key(self, meta, children):
        return ast.Key(self._tok(children[0]), str(children[0]))

    keyword_key = name_key

    def string_key(self, meta, children):
        string = self._string(children[0])
        return ast.Key(string.span, string.plain_value, quoted=True)

    # -- types --

    def union_type(self, meta, children):
        return ast.UnionType(self._span(meta), tuple(children))

    def named_type(self, meta, children):
        refinements = children[1] if len(children) > 1 else ()
        return ast.NamedType(self._span(meta), children[0], refinements)

    def list_type(self, meta, children):
        refinements = children[1] if len(children) > 1 else ()
        return ast.ListType(self._span(meta), children[0], refinements)

    def map_type(self, meta, children):
        return ast.MapType(self._span(meta), children[0], children[1])

    def literal_type(self, meta, children):
        return ast.LiteralType(self._span(meta), children[0])

    def type_name(self, meta, children):
        return ast.TypeName(self._span(meta), tuple(self._name(t) for t in children))

    def refinement(self, meta, children):
        return tuple(children)

    def refine_arg(self, meta, children):
        if len(children) == 2:
            return ast.RefineArg(self._span(meta), self._name(children[0]), children[1])
        return ast.RefineArg(self._span(meta), None, children[0])

    def range(self, meta, children):
        low = high = None
        seen_dots = False
        for child in children:
            if isinstance(child, Token) and child.type == "RANGE":
                seen_dots = True
            elif seen_dots:
                high = child
            else:
                low = child
        return ast.Range(self._span(meta), low, high)

    # -- selectors --

    def sel_or(self, meta, children):
        return ast.SelOr(self._span(meta), children[0], children[1])

    def sel_and(self, meta, children):
        return ast.SelAnd(self._span(meta), children[0], children[1])

    def sel_negate(self, meta, children):
        return ast.SelNot(self._span(meta), children[0])

    def sel_compare(self, meta, children):
        label, op, value = children
        return ast.SelCompare(self._span(meta), self._name(label), str(op), value)

    def sel_in(self, meta, children):
        return ast.SelIn(self._span(meta), self._name(children[0]), children[1])

    def sel_not_in(self, meta, children):
        return ast.SelIn(self._span(meta), self._name(children[0]), children[1], negated=True)

    def sel_exists(self, meta, children):
        return ast.SelExists(self._span(meta), self._name(children[0]))

    # -- expressions --

    def binary(self, meta, children):
        left, op, right = children
        return ast.Binary(self._span(meta), str(op), left, right)

    def fallback(self, meta, children):
        return ast.Fallback(self._span(meta), children[0], children[1])

    def negate(self, meta, children):
        return ast.Negate(self._span(meta), children[0])

    def missing(self, meta, children):
        return ast.Missing(self._tok(children[0]))

    def int_lit(self, meta, children):
        token = children[0]
        digits = token.lstrip("0") or "0"
        if not int_in_range(digits):
            return self._out_of_range(token, INT_LIMIT)
        return ast.IntLit(self._tok(token), int(digits))

    def float_lit(self, meta, children):
        value = float(children[0])
        if not math.isfinite(value):
            return self._out_of_range(children[0], FLOAT_LIMIT)
        return ast.FloatLit(self._tok(children[0]), value, str(children[0]))

    def _out_of_range(self, token: Token, limit: str) -> ast.Missing:
        span = self._tok(token)
        self.report.add(codes.NUMBER_OUT_OF_RANGE, span.start, span.end, f"this number is out of range: {limit}")
        return ast.Missing(span)

    def unit_lit(self, meta, children):
        return ast.UnitLit(self._tok(children[0]), str(children[0]))

    def true_lit(self, meta, children):
        return ast.BoolLit(self._span(meta), True)

    def false_lit(self, meta, children):
        return ast.BoolLit(self._span(meta), False)

    def string(self, meta, children):
        return self._string(children[0])

    def list(self, meta, children):
        return ast.ListLit(self._span(meta), tuple(children))

    def map(self, meta, children):
        return ast.MapLit(self._span(meta), children[0])

    def ref(self, meta, children):
        return ast.Ref(self._span(meta), tuple(self._name(t) for t in children))

    def call(self, meta, children):
        return ast.Call(self._span(meta), self._name(children[0]), tuple(children[1:]))

    def arg(self, meta, children):
        return ast.Arg(self._span(meta), None, children[0])

    def named_arg(self, meta, children):
        return ast.Arg(self._span(meta), self._name(children[0]), children[1])

    # -- strings --

    def _string(self, token: Token) -> ast.StringLit:
        span = self._tok(token)
        raw = str(token)
        triple = token.type == "TRIPLE_STRING"
        quote = 3 if triple else 1
        content_start = span.start + quote
        content = raw[quote:-quote]
        if not triple and "\\" not in content and "${" not in content:
            return ast.StringLit(span, (content,), False)  # most strings: nothing to decode
        kept = _dedent_offsets(content, content_start) if triple else list(range(content_start, content_start + len(content)))
        parts = _StringParts(self, kept)
        return ast.StringLit(span, parts.build(), triple)


def _dedent_offsets(content: str, start: int) -> list[int]:
    """File offsets of the characters a triple-quoted string keeps.

    The newline right after the opening quotes and the whitespace-only last line
    are dropped, then the indentation common to all non-blank lines.
    """
    lines = content.split("\n")
    starts: list[int] = []  # file offset where each line begins
    position = start
    for line in lines:
        starts.append(position)
        position += len(line) + 1
    if len(lines) > 1 and lines[0].strip() == "":
        lines, starts = lines[1:], starts[1:]
    if len(lines) > 1 and lines[-1].strip() == "":
        lines, starts = lines[:-1], starts[:-1]
    indents = [len(line) - len(line.lstrip(" \t")) for line in lines if line.strip()]
    indent = min(indents) if indents else 0
    kept: list[int] = []
    for index, (line, line_start) in enumerate(zip(lines, starts)):
        if index > 0:
            kept.append(line_start - 1)  # the newline that ends the previous line
        if line.strip():
            kept.extend(range(line_start + indent, line_start + len(line)))
    return kept


class _StringParts:
    """Decodes escapes and `${...}` interpolations over the kept characters of a string."""

    def __init__(self, builder: Builder, kept: list[int]) -> None:
        self.builder = builder
        self._text = builder.text
        self.kept = kept

    def build(self) -> tuple:
        parts: list = []
        literal: list[str] = []
        kept, text = self.kept, self._text
        index = 0
        while index < len(kept):
            offset = kept[index]
            ch = text[offset]
            if ch == "\\":
                decoded, index = self._escape(index)
                literal.append(decoded)
                continue
            if ch == "$" and index + 1 < len(kept) and text[kept[index + 1]] == "{":
                if literal:
                    parts.append("".join(literal))
                    literal = []
                interpolation, index = self._interpolation(index)
                parts.append(interpolation)
                continue
            literal.append(ch)
            index += 1
        if literal or not parts:
            parts.append("".join(literal))
        return tuple(parts)

    def _escape(self, index: int) -> tuple[str, int]:
        kept, text = self.kept, self._text
        offset = kept[index]
        if index + 1 >= len(kept):
            self._bad_escape(offset, offset + 1, "a backslash must be followed by an escape")
            return "\\", index + 1
        code = text[kept[index + 1]]
        if code in _ESCAPES:
            return _ESCAPES[code], index + 2
        if code == "u":
            match = _UNICODE_ESCAPE.match(text, kept[index + 1])
            if match and int(match.group(1), 16) <= 0x10FFFF:
                consumed = match.end() - offset
                if not _is_surrogate(int(match.group(1), 16)):
                    return chr(int(match.group(1), 16)), index + consumed
                self._bad_escape(offset, match.end(), f"`\\{match.group(0)}` is not a character: D800 to DFFF are "
                                 "surrogate halves, which UTF-8 cannot encode")
                return "", index + consumed
        self._bad_escape(offset, kept[index + 1] + 1, f"`\\{code}` is not a valid escape")
        return code, index + 2

    def _bad_escape(self, start: int, end: int, message: str) -> None:
        self.builder.report.add(codes.INVALID_ESCAPE, start, end, message, ("valid escapes: \\\" \\\\ \\n \\r \\t \\$ \\u{...}",))

    def _interpolation(self, index: int) -> tuple[ast.Interpolation, int]:
        kept, text = self.kept, self._text
        open_at = kept[index]
        expr_start = kept[index + 1] + 1
        close = index + 2
        quoted = False  # inside a string nested in the interpolation, where `}` does not close it
        while close < len(kept) and (quoted or text[kept[close]] != "}"):
            if text[kept[close]] == "\\" and quoted:
                close += 1
            elif text[kept[close]] == '"':
                quoted = not quoted
            close += 1
        path = self.builder.path
        if close >= len(kept):
            end = kept[-1] + 1
            self.builder.report.add(codes.INVALID_INTERPOLATION, open_at, end, "`${` is not closed by `}`")
            return ast.Interpolation(Span(path, open_at, end), ast.Missing(Span(path, expr_start, end))), len(kept)
        expr_end = kept[close]
        span = Span(path, open_at, expr_end + 1)
        if text[expr_start:expr_end].strip() == "":
            self.builder.report.add(codes.INVALID_INTERPOLATION, open_at, expr_end + 1, "`${}` holds no expression")
            return ast.Interpolation(span, ast.Missing(Span(path, expr_start, expr_end))), close + 1
        expr = self.builder.parse_expression(path, text, expr_start, expr_end, self.builder.report)
        return ast.Interpolation(span, expr), close + 1
