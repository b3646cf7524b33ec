"""The tokens of any text, as the parser's own Lark lexer reads them, for editors.

Input: a text, possibly half-typed (an unterminated string, a stray character).
Output: `Token`s in order, spaces left out, comments and newlines kept; each has a
coarse `kind`: name (identifiers and keywords alike), string, triple, number,
comment, nl, op, other.

The terminals are the grammar's (`grammar/gop.lark`), lexed by Lark's basic lexer
over the parser's lexer configuration, so the language server reads a name, a
string or a number exactly where the parser does. Where the lexer stops at a
character no terminal matches, lexing resumes after it: an opening triple quote makes a
triple-quoted string to the end of the text, a `"` a string to the end of its
line (what the user is typing), anything else one `other` character.

Invariants: never raises; tokens are sorted, do not overlap and cover every
character that is not a space or a tab.
"""

from __future__ import annotations

import functools
from dataclasses import dataclass

from lark.exceptions import UnexpectedCharacters
from lark.lexer import BasicLexer, LexerThread

from gop.compiler.syntax.parser import _lark

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
    return _lark()._build_lexer(dont_ignore=True)


def tokens(text: str) -> list[Token]:
    """All tokens of `text` but spaces (see the module doc)."""
    out: list[Token] = []
    start = 0
    while start < len(text):
        try:
            for token in LexerThread.from_text(_lexer(), text[start:] if start else text).lex(None):
                made = _token(token.type, token.value, start + token.start_pos)
                if made is not None:
                    out.append(made)
            break
        except UnexpectedCharacters as error:
            stuck = start + error.pos_in_stream
            if out and out[-1].text == '""' and out[-1].end == stuck and text.startswith('"', stuck):
                stuck = out.pop().start  # an unterminated `"""`: the lexer took its first two quotes for `""`
            out.append(_unlexable(text, stuck))
            start = out[-1].end
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
