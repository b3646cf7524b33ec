"""The tokens of any text, as the parser's own Lark lexer reads them, for editors.

Input: a text, possibly half-typed (an unterminated string, a stray character).
Output: `Token`s in order, spaces left out, comments and newlines kept; each has a
coarse `kind`: name (identifiers and keywords alike), string, triple, number,
comment, nl, op, other.

The terminals are the grammar's (`grammar/gop.lark`), matched by the scanner of
Lark's basic lexer over the parser's lexer configuration (without Lark's line
counting and token objects, which cost four times the matching), so the language
server reads a name, a string or a number exactly where the parser does. Where the lexer stops at a
character no terminal matches, lexing resumes after it: an opening triple quote makes a
triple-quoted string to the end of the text, a `"` a string to the end of its
line (what the user is typing), anything else one `other` character.

Invariants: never raises; tokens are sorted, do not overlap and cover every
character that is not a space or a tab.
"""

from __future__ import annotations

import functools
from dataclasses import dataclass

from lark.lexer import BasicLexer
from lark.utils import TextSlice

from gop.compiler.syntax.grammar import lark_parser

_KINDS = {"STRING": "string", "TRIPLE_STRING": "triple", "INT": "number", "FLOAT": "number", "UNIT": "number",
          "COMMENT": "comment", "_NL": "nl"}


@dataclass(frozen=True, slots=True)
class Token:
    kind: str  # name, string, triple, number, comment, nl, op, other
    text: str
    start: int
    end: int


@functools.cache
def _lexer() -> BasicLexer:
    """The parser's lexer, keeping what the parser ignores (comments); built once."""
    return lark_parser()._build_lexer(dont_ignore=True)


def tokens(text: str) -> list[Token]:
    """All tokens of `text` but spaces (see the module doc)."""
    lexer = _lexer()
    whole = TextSlice(text, 0, len(text))
    out: list[Token] = []
    start = 0
    while start < len(text):
        found = lexer.match(whole, start)
        if found is None:
            if out and out[-1].text == '""' and out[-1].end == start and text.startswith('"', start):
                start = out.pop().start  # an unterminated triple quote: the lexer took its first two quotes for `""`
            token = _unlexable(text, start)
        else:
            token = _token(found[1], found[0], start)
            if token is None:  # a space
                start += len(found[0])
                continue
        out.append(token)
        start = token.end
    return out


def _token(terminal: str, value: str, start: int) -> Token | None:
    kind = _KINDS.get(terminal)
    if kind is None:
        if terminal.startswith("__IGNORE"):
            return None
        kind = "name" if value[:1].isalpha() or value[:1] == "_" else "op"
    return Token(kind, value, start, start + len(value))


def _unlexable(text: str, at: int) -> Token:
    if text.startswith('"""', at):
        return Token("triple", text[at:], at, len(text))
    if text.startswith('"', at):
        end = text.find("\n", at)
        end = len(text) if end == -1 else end
        return Token("string", text[at:end], at, end)
    return Token("other", text[at], at, at + 1)
