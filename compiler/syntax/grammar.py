"""grammar/gop.lark, analysed: Lark's LALR parser with its contextual lexer, built once per process.

Input: the grammar file of the `gop.grammar` package. Output: `lark_parser()`, the `Lark` object
whose tables both parse loops drive (`fastloop` directly, `recovery` through Lark's interactive
parser), and `terminal_literal`, the text of a literal terminal (for messages and for tokens that
recovery invents).

Lark's grammar analysis costs more than parsing a small program, so its result is kept in the
user's cache directory, one file per grammar, options, Lark and Python version.

Invariants: the parser is built with `keep_all_tokens` (spans include punctuation) and without a
transformer: every parse brings its own builder (see `builder.LarkCallbacks`). A cache file is
written beside and renamed, so a process reading it never sees half a file; a damaged one is
analysed again by Lark.
"""

from __future__ import annotations

import functools
import hashlib
import importlib.resources
import os
import sys
import threading
from pathlib import Path

import lark
from lark import Lark
from lark.lexer import PatternStr

from gop.compiler.core.cachedir import writable_cache_dir


class _PostLexDeclaration:
    """What Lark must know of the post-lexer to build its contextual lexer: `_NL` is accepted in
    every state. Parses apply the layout rules themselves (`scanner.Layout`, through
    `recovery.PostLexer` or the fast loop), so `Lark.lex` yields the raw tokens, every newline."""

    always_accept = ("_NL",)

    def process(self, stream):
        return stream


@functools.cache
def lark_parser() -> Lark:
    """The parser, built once."""
    grammar = importlib.resources.files("gop.grammar").joinpath("gop.lark").read_text(encoding="utf-8")
    options = dict(
        parser="lalr",
        lexer="contextual",
        keep_all_tokens=True,
        maybe_placeholders=False,
        start=["chunk", "expr"],
    )
    cache = parser_cache(grammar + repr(sorted(options.items())))
    if cache is None:
        return Lark(grammar, postlex=_PostLexDeclaration(), **options)
    if cache.exists():
        return Lark(grammar, postlex=_PostLexDeclaration(), cache=str(cache), **options)
    partial = cache.with_name(f"{cache.name}.{os.getpid()}.{threading.get_ident()}")
    parser = Lark(grammar, postlex=_PostLexDeclaration(), cache=str(partial), **options)
    try:
        os.replace(partial, cache)
    except OSError:
        pass
    return parser


def parser_cache(key: str) -> Path | None:
    """Where the analysed grammar is kept: $XDG_CACHE_HOME/gopc (or ~/.cache/gopc), one file per
    grammar, Lark and Python version (Lark also checks the grammar's hash when loading).
    None when there is no writable place."""
    directory = writable_cache_dir()
    if directory is None:
        return None
    digest = hashlib.sha256(f"{key}{lark.__version__}{sys.version_info[:2]}".encode()).hexdigest()[:20]
    return directory / f"parser-{digest}.lark"


@functools.cache
def terminal_literal(kind: str) -> str | None:
    """The text of terminal `kind` if it is a literal (`=`, `let`), else None."""
    try:
        pattern = lark_parser().get_terminal(kind).pattern
    except KeyError:
        return None
    return pattern.value if isinstance(pattern, PatternStr) else None
