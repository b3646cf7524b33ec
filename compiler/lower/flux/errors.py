"""The one error the Flux lowering raises.

A checked `Fleet` can still be impossible to lower: a SOPS file that is missing or not
encrypted, a fleet without a Git source, `charts = "oci"` without a registry. The
lowering raises `FluxLoweringError` with a one-line message and, when the model knows
it, the span of the declaration or value at fault; `program_lowering_diagnostic` turns it into a
diagnostic (E0701, or the more specific `code` it carries). `validate.lowering_problems` returns every
one the lowering would raise, so `gopc check` reports them first.
"""

from __future__ import annotations

from gop.compiler.core.span import Span
from gop.compiler.diagnostics import Diagnostic, codes, diagnostic


class FluxLoweringError(Exception):
    def __init__(self, message: str, span: Span | None = None, *, code: str = codes.CANNOT_LOWER,
                 notes: tuple[str, ...] = ()):
        super().__init__(message)
        self.message = message
        self.span = span
        self.code = code
        self.notes = notes


def program_lowering_diagnostic(error: FluxLoweringError, program) -> Diagnostic:
    """The diagnostic for a lowering error, from `check` (see `session`) as from `build` and `render`;
    at the start of the first file of the program when the error knows no span."""
    span = error.span
    if span is None:
        first = next(iter(program.roots), next(iter(program.sources), "<program>"))
        span = Span(first, 0, 0)
    return diagnostic(error.code, span, error.message, notes=error.notes)
