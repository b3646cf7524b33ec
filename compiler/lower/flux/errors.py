"""The one error the Flux lowering raises.

A checked `Fleet` can still be impossible to lower: a SOPS file that is missing or not
encrypted, a fleet without a Git source, `charts = "oci"` without a registry. The
lowering raises `FluxLoweringError` with a one-line message and, when the model knows
it, the span of the declaration or value at fault; `lower.repository` turns it into a diagnostic
(E0701, or the more specific `code` it carries). `validate.lowering_problems` returns every
one the lowering would raise, so `gopc check` reports them first.
"""

from __future__ import annotations

from gop.compiler.core.span import Span
from gop.compiler.diagnostics import codes


class FluxLoweringError(Exception):
    def __init__(self, message: str, span: Span | None = None, *, code: str = codes.CANNOT_LOWER,
                 notes: tuple[str, ...] = ()):
        super().__init__(message)
        self.message = message
        self.span = span
        self.code = code
        self.notes = notes
