"""The syntax diagnostics of one file, as the parse collects them.

Input: reports from the builder (bad escapes, numbers out of range), from error recovery
(unexpected tokens and characters) and from the parser (nesting). Output: `items`, the
`Diagnostic`s in the order reported.

Invariants: a syntax error that follows the previous one within 3 tokens of the same chunk is
not reported (one mistake, one message); what was reported by a parse attempt that is thrown
away (the fast loop declining) can be taken back with `mark`/`rollback`.
"""

from __future__ import annotations

from gop.compiler.core.span import Span
from gop.compiler.diagnostics import Diagnostic, diagnostic


class SyntaxReport:
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

    def syntax(self, tokens_seen: int, code: str, start: int, end: int, message: str, notes=()) -> None:
        """Report a parse error unless it follows too closely on the previous one."""
        if self._last_error_at >= 0 and tokens_seen - self._last_error_at < 3:
            return
        self._last_error_at = tokens_seen
        self.add(code, start, end, message, notes)

    def new_chunk(self) -> None:
        self._last_error_at = -1

    def mark(self) -> tuple[int, int]:
        return len(self.items), self._last_error_at

    def rollback(self, mark: tuple[int, int]) -> None:
        """Forget what was reported since `mark` (a parse that will be done again)."""
        del self.items[mark[0]:]
        self._last_error_at = mark[1]
