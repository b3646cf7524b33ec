"""Parse pass: source text -> `ast.File` plus syntax diagnostics.

Input: one file's path and text. Output: a `ParseResult` whose `file` is always a
complete tree (never None), and whose `diagnostics` hold every syntax error found.

How errors are survived:
1. The text is split into chunks, one per top-level declaration (a declaration
   keyword at column 0, at brace depth 0). If the file's braces do not balance,
   every column-0 declaration keyword starts a chunk, so an unclosed `{` costs
   one declaration, not the rest of the file.
2. Each chunk is parsed by Lark's LALR parser. On an unexpected token the
   recovery inserts a `Missing` value or the one token that lets parsing go on,
   or else drops the token; each error is reported once, in words.
3. A chunk that still cannot be parsed becomes a `BadDecl` spanning its text.

Invariants: every span lies inside the file; children lie inside their parents;
no exception escapes `parse` for any input text.
"""

from __future__ import annotations

import copy
import dataclasses
import functools
import hashlib
import importlib.resources
import math
import os
import re
import sys
import threading
from dataclasses import dataclass, field
from pathlib import Path

from lark import Lark, Token, Tree
from lark.exceptions import UnexpectedCharacters, UnexpectedInput, UnexpectedToken
from lark.lexer import PatternStr

from gop.compiler.syntax import ast, fastloop as lalr_loop
from gop.compiler.core.cachedir import user_cache_dir
from gop.compiler.diagnostics import Diagnostic, diagnostic
from gop.compiler.core.span import Span
from gop.compiler.diagnostics import codes
from gop.compiler.language import TOP_LEVEL_KEYWORDS

MAX_ERRORS_PER_FILE = 50
# Recoveries one declaration may take (reported or not: errors close together are reported
# once). Each may cost as much as the declaration's text, so without a bound a long
# declaration full of errors took quadratic time; past it the declaration is given up.
MAX_RECOVERIES_PER_CHUNK = 200
# and a file: past it, as past MAX_ERRORS_PER_FILE, the rest of the file is not parsed.
MAX_RECOVERIES_PER_FILE = 500
# How deep a declaration's tree may be (E0330). Every later pass (checker, evaluator,
# formatter, language server) walks trees recursively, a few frames per level; real
# programs stay under 20 levels. Left-associative chains (`1 + 1 + ...`) count too.
MAX_NESTING = 100
# Number literals (E0331): ints are 64-bit, as in Kubernetes and Helm.
INT_MAX = 2**63 - 1

_BRACKETS_OPEN = {"LPAR": "RPAR", "LSQB": "RSQB", "LBRACE": "RBRACE"}
_BRACKETS_CLOSE = {v: k for k, v in _BRACKETS_OPEN.items()}
_NEWLINE_FREE = {"LPAR", "LSQB"}

# Tokens that can start an expression: when one of them is acceptable the parser
# is waiting for a value, which we report as "a value" rather than a token list.
_VALUE_STARTS = {"MISSING", "STRING", "TRIPLE_STRING", "INT", "FLOAT", "UNIT", "TRUE", "FALSE", "LSQB", "LBRACE"}

_TOKEN_WORDS = {
    "NAME": "a name",
    "STRING": "a string",
    "TRIPLE_STRING": "a string",
    "INT": "a number",
    "FLOAT": "a number",
    "UNIT": "a duration or quantity",
    "_NL": "a new line",
    "$END": "the end of the declaration",
    "RESOURCE_KIND": "a declaration keyword",
    "CMP_OP": "`==` or `!=`",
    "ADD_OP": "`+` or `-`",
    "MUL_OP": "`*`, `/` or `%`",
    "MISSING": "a value",
}

_SEPARATORS = frozenset({"_NL", "COMMA"})

# Preference order when inserting one token lets the parser go on.
_INSERTABLE = ("EQUAL", "RBRACE", "RSQB", "RPAR", "COMMA", "_NL", "COLON", "NAME")


@functools.cache
def _lark() -> Lark:
    """The parser, built once. The AST builder runs inside the parser at each reduction
    (no intermediate parse tree): all tokens are kept so spans include punctuation, and
    `_Callbacks` drops the punctuation before a builder method sees its children.

    Lark's grammar analysis costs more than parsing a small program, so its result is kept
    in the user's cache directory (see `_parser_cache`)."""
    grammar = importlib.resources.files("gop.grammar").joinpath("gop.lark").read_text(encoding="utf-8")
    options = dict(
        parser="lalr",
        lexer="contextual",
        keep_all_tokens=True,
        maybe_placeholders=False,
        start=["chunk", "expr"],
    )
    cache = _parser_cache(grammar + repr(sorted(options.items())))
    if cache is None:
        return Lark(grammar, postlex=_PostLexer(), transformer=_Callbacks(), **options)
    if cache.exists():
        return Lark(grammar, postlex=_PostLexer(), transformer=_Callbacks(), cache=str(cache), **options)
    # Written beside and renamed: a process reading the cache never sees half a file.
    partial = cache.with_name(f"{cache.name}.{os.getpid()}.{threading.get_ident()}")
    parser = Lark(grammar, postlex=_PostLexer(), transformer=_Callbacks(), cache=str(partial), **options)
    try:
        os.replace(partial, cache)
    except OSError:
        pass
    return parser


def _parser_cache(key: str) -> Path | None:
    """Where the analysed grammar is kept: $XDG_CACHE_HOME/gopc (or ~/.cache/gopc), one file per
    grammar, Lark and Python version (Lark also checks the grammar's hash when loading).
    None when there is no writable place."""
    import lark

    directory = user_cache_dir()
    if directory is None:
        return None
    try:
        directory.mkdir(parents=True, exist_ok=True)
    except OSError:
        return None
    if not os.access(directory, os.W_OK):
        return None
    digest = hashlib.sha256(f"{key}{lark.__version__}{sys.version_info[:2]}".encode()).hexdigest()[:20]
    return directory / f"parser-{digest}.lark"


# Terminals a builder method receives; every other token (keywords, punctuation, newlines)
# only contributes to the span of the node being built.
_MEANINGFUL_TOKENS = frozenset(
    "NAME STRING TRIPLE_STRING INT FLOAT UNIT RESOURCE_KIND OPTIONAL RANGE CMP_OP ADD_OP MUL_OP MISSING".split()
)


# A node's extent: its (start, end) offsets in the chunk, or None when it covers no text
# (a rule reduced from nothing but newlines, or only from tokens recovery invented).
Extent = tuple[int, int] | None

_TRANSPARENT_RULES = frozenset({"primary", "type_atom", "sel_atom"})


class _Callbacks:
    """Routes each reduction to the current chunk's `_Builder` method of the same name."""

    def __getattr__(self, rule: str):
        if rule.startswith("__"):
            raise AttributeError(rule)
        if getattr(_Builder, rule, None) is None or rule.startswith("_"):
            raise AttributeError(rule)
        transparent = rule in _TRANSPARENT_RULES
        build = _reducer_for(rule)

        def reduce(children):
            builder = _current.builder
            extent = _extent(children, builder)
            result = build(extent, children)
            if transparent or isinstance(result, (tuple, list)):
                # Results that carry no span of their own (tuples, the node inside parentheses):
                # remember their extent so the parent's span covers `{ }` and `( )`.
                builder._extents[id(result)] = (result, extent)
            return result

        reduce.__name__ = rule
        return reduce

    def __default__(self, data, children, meta):
        if data.startswith("_"):  # Lark's helper rules (`_seps`, repetitions): spliced into the parent
            return Tree(data, children)
        raise NotImplementedError(f"no AST builder for grammar rule {data!r}")


def _reducer_for(rule: str) -> lalr_loop.Reducer:
    """`rule`'s builder method on the current builder, given the node's extent and its children
    (punctuation dropped). The fast loop tracks extents itself; Lark's loop goes through `_Callbacks`."""
    method = getattr(_Builder, rule, None)

    def reduce(extent, children):
        if method is None:  # only `?rule`s go without a builder, and they pass a lone child up
            raise NotImplementedError(f"no AST builder for grammar rule {rule!r}")
        return method(_current.builder, extent, [c for c in children if not isinstance(c, Token) or c.type in _MEANINGFUL_TOKENS])

    return reduce


def _extent(children, builder) -> Extent:
    """From the leftmost to the rightmost child (recovery's invented tokens are empty and may
    stand out of order, so every child is looked at)."""
    start = end = None
    known_extents = builder._extents
    for child in children:
        if isinstance(child, Token):
            if child.type == "_NL":
                continue
            low = child.start_pos
            high = low if child.end_pos is None else child.end_pos
        else:
            known = known_extents.get(id(child))
            if known is not None:
                found = known[1]
            elif isinstance(child, (list, tuple)):
                found = _extent(child, builder)
            else:
                span = getattr(child, "span", None)
                found = None if span is None else (span.start - builder._base, span.end - builder._base)
            if found is None:
                continue
            low, high = found
        if start is None:
            start, end = low, high
        else:
            start, end = min(start, low), max(end, high)
    return None if start is None else (start, end)


# ---- post-lexer: newline handling and bracket tracking -------------------------------


@dataclass
class _ChunkState:
    """Per-parse state the post-lexer and the error handler share."""

    text: str
    base: int
    open_brackets: list[Token] = field(default_factory=list)
    last_token: Token | None = None
    last_end: int = 0  # where the last token other than a newline ends
    tokens_seen: int = 0
    glued: list[Token] = field(default_factory=list)  # keywords run into the next word (`letb`)


_current = threading.local()


class _PostLexer:
    """Drops newlines inside ( ) and [ ], collapses runs of newlines, tracks brackets."""

    always_accept = ("_NL",)

    def process(self, stream):
        state: _ChunkState = _current.state
        for token in stream:
            kind = token.type
            if kind == "_NL":
                top = state.open_brackets[-1].type if state.open_brackets else None
                if top in _NEWLINE_FREE or state.last_token is None or state.last_token.type == "_NL":
                    continue
            elif kind in _BRACKETS_OPEN:
                state.open_brackets.append(token)
            elif kind in _BRACKETS_CLOSE and state.open_brackets:
                if state.open_brackets[-1].type == _BRACKETS_CLOSE[kind]:
                    state.open_brackets.pop()
            if kind != "_NL":
                state.last_end = token.end_pos
                if kind != "NAME" and token.value.isalpha() and _word_char_at(state.text, token.end_pos):
                    state.glued.append(token)
            state.last_token = token
            state.tokens_seen += 1
            yield token


def _word_char_at(text: str, position: int) -> bool:
    return position < len(text) and (text[position].isalnum() or text[position] == "_")


# ---- chunking --------------------------------------------------------------------------

_SCAN = re.compile(
    r'"""(?:[^"\\]|\\[\s\S]|"(?!""))*(?:"""|\Z)'  # triple-quoted string
    r'|"(?:[^"\\\n]|\\.)*"?'  # string (may be unterminated)
    r"|//[^\n]*"  # comment
    r"|[{}()\[\]]"
    r"|\n(?=([a-z]+)\b)?"  # newline, capturing a word at column 0
)


@dataclass(frozen=True, slots=True)
class _Scan:
    chunks: list[tuple[int, int]]
    comments: list[tuple[int, int]]
    too_deep: list[int]  # offsets of brackets opened more than MAX_NESTING deep (the first of each run)


def _scan(text: str) -> _Scan:
    """Find chunk boundaries and comments, skipping strings."""
    boundaries = [0]
    fallback: list[int] = []
    comments: list[tuple[int, int]] = []
    too_deep: list[int] = []
    depth = 0
    nesting = 0  # depth since the last declaration keyword at column 0 (brackets left open before it do not count)
    for match in _SCAN.finditer(text):
        lexeme = match.group()
        first = lexeme[0]
        if first == "\n":
            word = match.group(1)
            if word in TOP_LEVEL_KEYWORDS:
                (boundaries if depth == 0 else fallback).append(match.end())
                nesting = 0
        elif first in "{([":
            depth += 1
            nesting += 1
            if nesting == MAX_NESTING + 1:
                too_deep.append(match.start())
        elif first in "})]":
            depth = max(depth - 1, 0)
            nesting = max(nesting - 1, 0)
        elif lexeme.startswith("//"):
            comments.append(match.span())
    if depth > 0:
        boundaries = sorted(set(boundaries) | set(fallback))
    boundaries.append(len(text))
    chunks = [(a, b) for a, b in zip(boundaries, boundaries[1:]) if b > a]
    return _Scan(chunks, comments, too_deep)


# ---- the parser entry points ---------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class ParseResult:
    file: ast.File
    diagnostics: tuple[Diagnostic, ...]


def parse(path: str, text: str) -> ParseResult:
    """Parse one file. Never raises for any text."""
    scan = _scan(text)
    comments = tuple(ast.Comment(Span(path, a, b), text[a:b]) for a, b in scan.comments)
    docs = _DocIndex(text, scan.comments)
    diagnostics = _Diagnostics(path)
    decls: list[ast.Decl] = []
    too_deep = iter(scan.too_deep)
    deep_at = next(too_deep, None)
    for start, end in scan.chunks:
        while deep_at is not None and deep_at < start:
            deep_at = next(too_deep, None)
        if diagnostics.count >= MAX_ERRORS_PER_FILE or diagnostics.recoveries >= MAX_RECOVERIES_PER_FILE:
            decls.append(ast.BadDecl(Span(path, start, end)))
            continue
        if deep_at is not None and deep_at < end:
            # Not parsed at all: error recovery in a stack thousands of brackets deep is slow.
            diagnostics.add(codes.NESTED_TOO_DEEPLY, deep_at, deep_at, *_TOO_DEEP)
            decls.append(ast.BadDecl(Span(path, start, end)))
            continue
        decls.extend(_parse_chunk(path, text, start, end, docs, diagnostics))
    file = ast.File(Span(path, 0, len(text)), tuple(decls), comments)
    return ParseResult(file, tuple(diagnostics.items))


class _Diagnostics:
    def __init__(self, path: str) -> None:
        self._path = path
        self.items: list[Diagnostic] = []
        self._last_error_at = -1
        self.recoveries = 0  # error recoveries in the file, reported or not

    @property
    def count(self) -> int:
        return len(self.items)

    def add(self, code: str, start: int, end: int, message: str, notes: tuple[str, ...] = ()) -> None:
        self.items.append(diagnostic(code, Span(self._path, start, end), message, notes=notes))

    def syntax(self, state: _ChunkState, code: str, start: int, end: int, message: str, notes=()) -> None:
        """Report a parse error unless it follows too closely on the previous one."""
        if self._last_error_at >= 0 and state.tokens_seen - self._last_error_at < 3:
            return
        self._last_error_at = state.tokens_seen
        self.add(code, start, end, message, notes)

    def new_chunk(self) -> None:
        self._last_error_at = -1

    def mark(self) -> tuple[int, int]:
        return len(self.items), self._last_error_at

    def rollback(self, mark: tuple[int, int]) -> None:
        """Forget what was reported since `mark` (a parse that will be done again)."""
        del self.items[mark[0]:]
        self._last_error_at = mark[1]


def _parse_chunk(path, text, start, end, docs, diagnostics: _Diagnostics) -> list[ast.Decl]:
    return [_within_nesting_limit(decl, diagnostics) for decl in _parse_chunk_text(path, text, start, end, docs, diagnostics)]


def _within_nesting_limit(decl: ast.Decl, diagnostics: _Diagnostics) -> ast.Decl:
    """`decl`, or a `BadDecl` (with E0330) when its tree is deeper than MAX_NESTING."""
    deepest = _node_below(decl, MAX_NESTING)
    if deepest is None:
        return decl
    diagnostics.add(codes.NESTED_TOO_DEEPLY, deepest.span.start, deepest.span.start, *_TOO_DEEP)
    return ast.BadDecl(decl.span)


_TOO_DEEP = (f"this declaration is nested more than {MAX_NESTING} levels deep", ("name the inner parts with `let` declarations",))


def _node_below(root: ast.Node, depth_limit: int) -> ast.Node | None:
    """The first node found deeper than `depth_limit` under `root` (iteratively: the tree may be too deep to recurse)."""
    stack = [(root, 1)]
    while stack:
        node, depth = stack.pop()
        if depth > depth_limit:
            return node
        for name in _child_fields(node.__class__):
            value = getattr(node, name)
            if isinstance(value, ast.Node):
                stack.append((value, depth + 1))
            elif value.__class__ is tuple:
                stack.extend((item, depth + 1) for item in value if isinstance(item, ast.Node))
    return None


@functools.cache
def _child_fields(node_class: type) -> tuple[str, ...]:
    return tuple(f.name for f in dataclasses.fields(node_class) if f.name != "span")


def _parse_chunk_text(path, text, start, end, docs, diagnostics: _Diagnostics) -> list[ast.Decl]:
    chunk_text = text[start:end]
    diagnostics.new_chunk()
    decls = _parse_without_errors(chunk_text, "chunk", _Builder(path, text, start, docs, diagnostics))
    if decls is not None:
        return decls
    state = _ChunkState(chunk_text, start)
    recovery = _Recovery(state, diagnostics)
    previous = _enter(state, _Builder(path, text, start, docs, diagnostics))
    try:
        return list(_lark().parse(chunk_text, start="chunk", on_error=recovery.on_error))
    except UnexpectedInput as error:
        recovery.report_fatal(error)
        return [ast.BadDecl(Span(path, start, end))]
    except RecursionError:
        diagnostics.add(codes.UNEXPECTED_TOKEN, start, start, "this declaration is nested too deeply to parse")
        return [ast.BadDecl(Span(path, start, end))]
    finally:
        _leave(previous)
        _report_glued(state, diagnostics)


def _report_glued(state: _ChunkState, diagnostics: _Diagnostics) -> None:
    for token in state.glued:
        at = state.base + token.start_pos
        word = re.match(r"[A-Za-z0-9_-]*", state.text[token.start_pos:]).group()
        diagnostics.add(codes.UNEXPECTED_TOKEN, at, at + len(word),
                        f"`{word}` is not a keyword; put a space after `{token.value}`", (f"`{token.value} {word[len(token.value):]}`",))


def _parse_without_errors(text: str, start: str, builder: _Builder):
    """The fast path (`lalr_loop`) for text without syntax errors; None otherwise, with
    anything the builder reported on the way taken back (Lark's path reports it again)."""
    reported = builder._diagnostics.mark()
    previous = _enter(None, builder)
    try:
        result = lalr_loop.parse(_lark(), text, start, _reducer_for)
    except Exception:  # the loop reads Lark's private tables: on any failure Lark's own loop parses
        result = None
    finally:
        _leave(previous)
    if result is None:
        builder._diagnostics.rollback(reported)
    return result


def _enter(state: _ChunkState, builder: _Builder) -> tuple:
    """Make `state` and `builder` the ones the post-lexer and the callbacks use (parses nest
    for interpolations, so the previous pair is returned for `_leave`)."""
    previous = (getattr(_current, "state", None), getattr(_current, "builder", None))
    _current.state, _current.builder = state, builder
    return previous


def _leave(previous: tuple) -> None:
    _current.state, _current.builder = previous


def parse_expression(path: str, text: str, start: int, end: int, diagnostics: _Diagnostics) -> ast.Expr:
    """Parse text[start:end] as one expression (used for `${...}` interpolations)."""
    builder = _Builder(path, text, start, _DocIndex(text, []), diagnostics)
    expression = _parse_without_errors(text[start:end], "expr", builder)
    if expression is not None:
        return expression
    state = _ChunkState(text[start:end], start)
    recovery = _Recovery(state, diagnostics)
    previous = _enter(state, _Builder(path, text, start, _DocIndex(text, []), diagnostics))
    try:
        return _lark().parse(text[start:end], start="expr", on_error=recovery.on_error)
    except UnexpectedInput as error:
        recovery.report_fatal(error)
        return ast.Missing(Span(path, start, end))
    finally:
        _leave(previous)


# ---- error recovery ----------------------------------------------------------------------


class _Recovery:
    def __init__(self, state: _ChunkState, diagnostics: _Diagnostics) -> None:
        self.state = state
        self._diagnostics = diagnostics
        self._recoveries = 0

    def on_error(self, error: UnexpectedInput) -> bool:
        self._recoveries += 1
        self._diagnostics.recoveries += 1
        if (self._diagnostics.count >= MAX_ERRORS_PER_FILE or self._recoveries > MAX_RECOVERIES_PER_CHUNK
                or self._diagnostics.recoveries > MAX_RECOVERIES_PER_FILE):
            return False
        if isinstance(error, UnexpectedCharacters):
            return self._bad_character(error)
        if isinstance(error, UnexpectedToken):
            return self._bad_token(error)
        return False

    def report_fatal(self, error: UnexpectedInput) -> None:
        position = getattr(error, "pos_in_stream", None) or 0
        if isinstance(error, UnexpectedToken) and error.token.type == "$END":
            position = len(self.state.text)
        if self._diagnostics.count == 0 or not self._reported_here():
            at = self.state.base + position
            self._diagnostics.add(codes.UNEXPECTED_TOKEN, at, at, "cannot make sense of this declaration")

    def _reported_here(self) -> bool:
        last = self._diagnostics.items[-1].span if self._diagnostics.items else None
        return last is not None and self.state.base <= last.start <= self.state.base + len(self.state.text)

    # -- characters the lexer cannot read --

    def _bad_character(self, error: UnexpectedCharacters) -> bool:
        text = self.state.text
        position = error.pos_in_stream
        lexer_state = error.interactive_parser.lexer_thread.state
        at = self.state.base + position
        if text[position] == '"':
            line_end = text.find("\n", position)
            line_end = len(text) if line_end == -1 else line_end
            self._diagnostics.syntax(
                self.state, codes.UNTERMINATED_STRING, at, self.state.base + line_end, "this string is not closed before the end of the line",
                ("strings that span lines use triple quotes: \"\"\"...\"\"\"",),
            )
            lexer_state.line_ctr.feed(text[position:line_end])
            parser = error.interactive_parser
            if "MISSING" in parser.accepts():
                parser.feed_token(Token("MISSING", "", start_pos=position, end_pos=line_end))
            return True
        run = _bad_run(text, position)
        shown = text[position]
        self._diagnostics.syntax(
            self.state, codes.UNEXPECTED_CHARACTER, at, at + run, f"unexpected character {_show_char(shown)}",
        )
        lexer_state.line_ctr.feed(text[position : position + run])
        return True

    # -- tokens the parser cannot use --

    def _bad_token(self, error: UnexpectedToken) -> bool:
        token = error.token
        if token.type == "$END":  # Lark places it at the last token's start; we want just after it
            at = self.state.last_end
            token = Token("$END", "", start_pos=at, end_pos=at)
        return self._recover(error.interactive_parser, token)

    def _recover(self, parser, token: Token) -> bool:
        accepts = parser.accepts()
        if token.type == "$END":
            return self._close_unfinished(parser, token, accepts)
        if "MISSING" in accepts:
            self._report_missing_value(token)
            parser.feed_token(_fake("MISSING", token))
            return self._refeed(parser, token)
        glued = token.start_pos > 0 and not self.state.text[token.start_pos - 1].isspace()
        for candidate in _INSERTABLE:
            if glued and candidate in _SEPARATORS:
                continue  # `5x`: a stray tail of the previous token, not the start of a new statement
            if candidate in accepts and _would_accept(parser, _fake(candidate, token), token):
                self._report_unexpected(token, accepts)
                parser.feed_token(_fake(candidate, token))
                parser.feed_token(token)
                return True
        if "EQUAL" in accepts and _would_accept(parser, _fake("EQUAL", token), _fake("MISSING", token), token):
            # `name` alone on a line: take it as `name = <missing>` rather than joining it to the next line
            self._report_unexpected(token, accepts)
            for kind in ("EQUAL", "MISSING"):
                parser.feed_token(_fake(kind, token))
            parser.feed_token(token)
            return True
        self._report_unexpected(token, accepts)
        if token.type in _BRACKETS_OPEN and self.state.open_brackets and self.state.open_brackets[-1] is token:
            self.state.open_brackets.pop()
        return True  # drop the token

    def _refeed(self, parser, token: Token) -> bool:
        try:
            parser.feed_token(token)
        except UnexpectedToken:
            return self._recover(parser, token)
        return True

    def _close_unfinished(self, parser, token: Token, accepts: set[str]) -> bool:
        if "$END" in accepts:
            return True
        opener = self.state.open_brackets[-1] if self.state.open_brackets else None
        if opener is not None and _BRACKETS_OPEN[opener.type] in accepts:
            start = self.state.base + opener.start_pos
            self._diagnostics.add(
                codes.UNCLOSED_BRACKET, start, start + 1, f"this `{opener.value}` is never closed",
                (f"add `{_closing(opener.value)}` at the end of the declaration",),
            )
        elif "MISSING" in accepts:
            self._report_missing_value(token)
        else:
            self._report_unexpected(token, accepts)
        for _ in range(200):
            # One terminal at a time: `accepts()` tries them all, once per bracket left open.
            if _accepts(parser, "$END"):
                return True
            choice = next((c for c in ("MISSING", "RPAR", "RSQB", "RBRACE", "_NL") if _accepts(parser, c)), None)
            if choice is None:
                choice = next((c for c in _INSERTABLE if _accepts(parser, c)), None)
            if choice is None:
                return False
            if choice in _BRACKETS_CLOSE and self.state.open_brackets:
                self.state.open_brackets.pop()
            parser.feed_token(_fake(choice, token))
        return False

    def _report_missing_value(self, token: Token) -> None:
        previous = _previous_symbol(self.state.text, token.start_pos)
        after = f" after `{previous}`" if previous else ""
        at = self.state.base + token.start_pos
        self._diagnostics.syntax(self.state, codes.MISSING_VALUE, at, at, f"expected a value{after}")

    def _report_unexpected(self, token: Token, accepts: set[str]) -> None:
        expected = _describe_expected(accepts)
        found = _describe_token(token)
        previous = _previous_symbol(self.state.text, token.start_pos)
        after = f" after `{previous}`" if previous else ""
        start = self.state.base + token.start_pos
        end = self.state.base + max(token.end_pos or token.start_pos, token.start_pos)
        if token.type == "_NL":
            end = start
        self._diagnostics.syntax(self.state, codes.UNEXPECTED_TOKEN, start, end, f"expected {expected}{after}, found {found}")


def _fake(kind: str, at: Token) -> Token:
    value = {"NAME": "_", "MISSING": ""}.get(kind, _terminal_text(kind) or "")
    return Token(kind, value, start_pos=at.start_pos, end_pos=at.start_pos)


def _accepts(parser, kind: str) -> bool:
    """Whether `kind` is in `parser.accepts()`, found the way Lark finds it (a feed without callbacks)."""
    if kind not in parser.choices():
        return False
    trial = parser.copy(deepcopy_values=False)
    trial.parser_state.parse_conf = _without_callbacks(trial.parser_state.parse_conf)
    try:
        trial.feed_token(Token(kind, ""))
    except UnexpectedToken:
        return False
    return True


def _without_callbacks(parse_conf):
    quiet = copy.copy(parse_conf)
    quiet.callbacks = {}
    return quiet


def _would_accept(parser, *tokens: Token) -> bool:
    # The values on the stack are shared, not deep-copied: reductions build new values from
    # them and never change them, and a deep copy costs the whole chunk's tree per attempt.
    trial = parser.copy(deepcopy_values=False)
    try:
        for token in tokens:
            trial.feed_token(token)
    except UnexpectedInput:
        return False
    return True


@functools.cache
def _terminal_text(kind: str) -> str | None:
    try:
        pattern = _lark().get_terminal(kind).pattern
    except KeyError:
        return None
    return pattern.value if isinstance(pattern, PatternStr) else None


def _describe_terminal(kind: str) -> str:
    if kind in _TOKEN_WORDS:
        return _TOKEN_WORDS[kind]
    literal = _terminal_text(kind)
    return f"`{literal}`" if literal else kind.lower()


# Continuations that are rarely what the user meant; named only when nothing else fits.
_MINOR = {"DOT", "COLON", "ADD_OP", "MUL_OP", "OPTIONAL", "VBAR", "LPAR", "RANGE", "CMP_OP"}


def _describe_expected(accepts: set[str]) -> str:
    kinds = set(accepts) - {"$END"} if len(accepts) > 1 else set(accepts)
    if kinds - _MINOR:
        kinds -= _MINOR
    if kinds & {"MISSING"}:
        kinds = (kinds - _VALUE_STARTS - {"NAME", "MINUS", "LPAR"}) | {"MISSING"}
    words = sorted({_describe_terminal(k) for k in kinds}, key=lambda w: (w.startswith("a "), w))
    if not words:
        return "nothing more"
    if len(words) > 6:
        words = words[:5] + ["..."]
    if len(words) == 1:
        return words[0]
    return ", ".join(words[:-1]) + " or " + words[-1]


def _describe_token(token: Token) -> str:
    if token.type == "_NL":
        return "the end of the line"
    if token.type == "$END":
        return "the end of the declaration"
    value = str(token.value)
    if len(value) > 30:
        value = value[:27] + "..."
    return f"`{value}`"


def _previous_symbol(text: str, position: int) -> str | None:
    """The token-ish word just before `position` on the same logical line, for messages."""
    head = text[max(0, position - 256):position].rstrip(" \t")  # not all the text before each error
    match = re.search(r'(==|!=|[=:,(\[{.]|[A-Za-z_][A-Za-z0-9_-]*|"[^"\n]*")$', head)
    if match is None:
        return None
    word = match.group(1)
    return word if len(word) <= 30 else None


def _bad_run(text: str, position: int) -> int:
    """How many unreadable characters follow at `position` (reported as one error)."""
    run = 1
    while position + run < len(text) and not (text[position + run].isalnum() or text[position + run] in ' \t\n"{}[]()=,.:'):
        run += 1
    return run


def _show_char(ch: str) -> str:
    if ch.isprintable() and not ch.isspace():
        return f"`{ch}`"
    return f"U+{ord(ch):04X}"


def _closing(opener: str) -> str:
    return {"(": ")", "[": "]", "{": "}"}[opener]


# ---- doc comments ------------------------------------------------------------------------


class _DocIndex:
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


_ESCAPES = {'"': '"', "\\": "\\", "n": "\n", "r": "\r", "t": "\t", "$": "$"}


class _Builder:
    """Builds `ast` nodes, one method per grammar rule (a rule without one fails loudly:
    `_Callbacks.__default__` raises). Methods get the node's extent and its meaningful children."""

    def __init__(self, path: str, text: str, base: int, docs: _DocIndex, diagnostics: _Diagnostics) -> None:
        self._path = path
        self._text = text
        self._base = base
        self._docs = docs
        self._diagnostics = diagnostics
        self._extents: dict[int, tuple[object, Extent]] = {}

    # -- spans --

    def _span(self, extent: Extent) -> Span:
        if extent is None:
            return Span(self._path, self._base, self._base)
        return Span(self._path, self._base + extent[0], self._base + extent[1])

    def _tok(self, token: Token) -> Span:
        start = self._base + token.start_pos
        end = self._base + (token.end_pos if token.end_pos is not None else token.start_pos)
        return Span(self._path, start, end)

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
        name = self._name(rest.pop(0)) if rest and isinstance(rest[0], Token) else None
        selector = rest.pop(0) if len(rest) == 2 else None
        return ast.ResourceDecl(self._span(meta), kind, name, selector, rest[0], self._doc(meta))

    def where(self, meta, children):
        return children[0]

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
        return ast.AppTarget(self._span(meta), self._name(children[0]), children[1])

    def all_target(self, meta, children):
        return ast.AllTarget(self._span(meta), children[0])

    def path(self, meta, children):
        return ast.Path(self._span(meta), tuple(children))

    def name_key(self, meta, children):
        return ast.Key(self._tok(children[0]), str(children[0]))

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

    def negate(self, meta, children):
        return ast.Negate(self._span(meta), children[0])

    def missing(self, meta, children):
        return ast.Missing(self._tok(children[0]))

    def int_lit(self, meta, children):
        token = children[0]
        # Compared as text first: Python refuses to convert more than 4,300 digits.
        digits = token.lstrip("0") or "0"
        if len(digits) > len(str(INT_MAX)) or int(digits) > INT_MAX:
            return self._out_of_range(token, f"an integer is at most {INT_MAX} (64 bits)")
        return ast.IntLit(self._tok(token), int(digits))

    def float_lit(self, meta, children):
        value = float(children[0])
        if not math.isfinite(value):
            return self._out_of_range(children[0], "a decimal is at most about 1.8e308 (64-bit floating point)")
        return ast.FloatLit(self._tok(children[0]), value, str(children[0]))

    def _out_of_range(self, token: Token, limit: str) -> ast.Missing:
        span = self._tok(token)
        self._diagnostics.add(codes.NUMBER_OUT_OF_RANGE, span.start, span.end, f"this number is out of range: {limit}")
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

    def __init__(self, builder: _Builder, kept: list[int]) -> None:
        self.builder = builder
        self._text = builder._text
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
            match = re.compile(r"u\{([0-9A-Fa-f]{1,6})\}").match(text, kept[index + 1])
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
        self.builder._diagnostics.add(codes.INVALID_ESCAPE, start, end, message, ("valid escapes: \\\" \\\\ \\n \\r \\t \\$ \\u{...}",))

    def _interpolation(self, index: int) -> tuple[ast.Interpolation, int]:
        kept, text = self.kept, self._text
        open_at = kept[index]
        expr_start = kept[index + 1] + 1
        close = index + 2
        while close < len(kept) and text[kept[close]] != "}":
            close += 1
        path = self.builder._path
        if close >= len(kept):
            end = kept[-1] + 1
            self.builder._diagnostics.add(codes.INVALID_INTERPOLATION, open_at, end, "`${` is not closed by `}`")
            return ast.Interpolation(Span(path, open_at, end), ast.Missing(Span(path, expr_start, end))), len(kept)
        expr_end = kept[close]
        span = Span(path, open_at, expr_end + 1)
        if text[expr_start:expr_end].strip() == "":
            self.builder._diagnostics.add(codes.INVALID_INTERPOLATION, open_at, expr_end + 1, "`${}` holds no expression")
            return ast.Interpolation(span, ast.Missing(Span(path, expr_start, expr_end))), close + 1
        expr = parse_expression(path, text, expr_start, expr_end, self.builder._diagnostics)
        return ast.Interpolation(span, expr), close + 1
