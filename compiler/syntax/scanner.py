"""The layout of .gop text: declaration chunks, comments, and the newline and bracket rules.

The one lexical reading of the text that the compiler does outside Lark's lexer, shared by
every compiler-side reader:
- `scan(text)`: chunk boundaries (a declaration keyword at column 0, at bracket depth 0; if the
  file's brackets do not balance, at every such keyword), the comments, and where brackets
  nest deeper than `limits.MAX_NESTING`. Used by `parser.parse`.
- `STRING_OR_COMMENT`: a string (triple-quoted first, possibly unterminated) or a comment,
  matched at an offset: what bracket counting skips. Used by `scan` and by the formatter.
- `Layout`: the post-lexer rules of grammar/gop.lark, token by token: newlines inside ( ) and
  [ ] are dropped, as are leading and repeated ones; brackets are tracked; a keyword glued to
  the word after it (`letb`) is noted. Used by both parse loops (`fastloop.parse` and Lark's
  loop in `recovery`), so they cannot disagree.

Tokens here are Lark `Token`s (`type`, `value`, `start_pos`, `end_pos`) as Lark's contextual
lexer produces them from grammar/gop.lark; the scanner adds no token kinds of its own.

Invariants: `scan`'s chunks are non-empty, in order, and cover the text exactly; strings and
comments never start or end a chunk or count as brackets. No state outlives a `Layout`.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from lark import Token

from gop.compiler.language import TOP_LEVEL_KEYWORDS
from gop.compiler.syntax.limits import MAX_NESTING

OPENING = {"LPAR": "RPAR", "LSQB": "RSQB", "LBRACE": "RBRACE"}
CLOSING = {closer: opener for opener, closer in OPENING.items()}
# Inside these a newline is not a separator (`{ }` bodies separate their entries by newlines).
NEWLINE_FREE = frozenset({"LPAR", "LSQB"})

_STRING_OR_COMMENT = (
    r'"""(?:[^"\\]|\\[\s\S]|"(?!""))*(?:"""|\Z)'  # triple-quoted string (may be unterminated)
    r'|"(?:[^"\\\n$]|\\.|\$(?!\{)|\$\{(?:[^"}\\\n]|\\.|"(?:[^"\\\n]|\\.)*")*\}?)*"?'  # string (may be unterminated; `${ }` may nest one)
    r"|//[^\n]*"  # comment
)
STRING_OR_COMMENT = re.compile(_STRING_OR_COMMENT)

_CHUNK_LEXEME = re.compile(
    _STRING_OR_COMMENT
    + r"|[{}()\[\]]"
    + r"|\n(?=([a-z]+)\b)?"  # newline, capturing a word at column 0
)


class Layout:
    """The newline and bracket rules of one parse of `text`, fed every token the lexer produces
    in order. It also notes keywords glued to the word after them (`letb`, `truex`): a syntax
    error in both parse loops."""

    __slots__ = ("text", "open_brackets", "previous", "glued")

    def __init__(self, text: str) -> None:
        self.text = text
        self.open_brackets: list[Token] = []  # opening brackets not closed yet, innermost last
        self.previous: str | None = None  # the type of the last token admitted
        self.glued: list[Token] = []

    def admits(self, token: Token) -> bool:
        """Whether the parser sees `token`: False for a newline the grammar does not want."""
        kind = token.type
        if kind == "_NL":
            if self.previous is None or self.previous == "_NL" or (
                self.open_brackets and self.open_brackets[-1].type in NEWLINE_FREE
            ):
                return False
        elif kind in OPENING:
            self.open_brackets.append(token)
        elif kind in CLOSING:
            if self.open_brackets and self.open_brackets[-1].type == CLOSING[kind]:
                self.open_brackets.pop()
        elif kind != "NAME" and token.value.isalpha() and _word_char_at(self.text, token.end_pos):
            self.glued.append(token)
        self.previous = kind
        return True


def _word_char_at(text: str, position: int) -> bool:
    return position < len(text) and (text[position].isalnum() or text[position] == "_")


@dataclass(frozen=True, slots=True)
class Scan:
    chunks: list[tuple[int, int]]  # (start, end) of each declaration chunk
    comments: list[tuple[int, int]]
    too_deep: list[int]  # offsets of brackets opened more than MAX_NESTING deep (the first of each run)


def scan(text: str) -> Scan:
    """Find chunk boundaries and comments, skipping strings."""
    boundaries = [0]
    fallback: list[int] = []
    comments: list[tuple[int, int]] = []
    too_deep: list[int] = []
    depth = 0
    nesting = 0  # depth since the last declaration keyword at column 0 (brackets left open before it do not count)
    for match in _CHUNK_LEXEME.finditer(text):
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
    return Scan(chunks, comments, too_deep)
