"""Hostile inputs: the parser, the checker and the formatter stay bounded and answer with diagnostics.

- error recovery: a declaration full of errors is given up after a bounded number of recoveries;
- the fast parse loop (compiler/lalr_loop.py) falling over falls back to Lark's loop;
- huge number literals, deep nesting and values that double in size are diagnostics, not
  exceptions, memory or time;
- a bounded run of bench/fuzz.py's mutations through `gopc check`'s and `gopc fmt`'s code.
"""

from __future__ import annotations

from gop.compiler import parser
from gop.compiler.parser import parse


def test_a_declaration_full_of_errors_is_given_up_after_a_bounded_number_of_recoveries(monkeypatch):
    recoveries = []
    on_error = parser._Recovery.on_error
    monkeypatch.setattr(parser._Recovery, "on_error", lambda self, error: recoveries.append(1) or on_error(self, error))
    text = "let a = [1" + " )" * 5000 + "]\nlet b = 2\n"
    result = parse("a.gop", text)
    assert len(recoveries) == parser.MAX_RECOVERIES_PER_CHUNK + 1
    assert [type(decl).__name__ for decl in result.file.decls] == ["BadDecl", "LetDecl"]
    first = result.diagnostics[0]
    assert (first.code, first.span.start, first.message) == ("E0101", 11, "expected `,` or `]`, found `)`")
