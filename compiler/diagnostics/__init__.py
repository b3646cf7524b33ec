"""The one diagnostic model shared by the CLI and the language server.

A `Diagnostic` has a stable code (see `gop.compiler.diagnostics.codes`), a severity, a primary
span, a one-line message, free-text notes, related spans (each with a message) and
suggested replacements. Renderers (text, JSON, SARIF) and the LSP convert it; no
pass formats messages for a particular output.

A command's error that is about no place in the program (a missing tool, an unknown cluster
named on the command line, an output it cannot write) is a span-less diagnostic: `span` is
None, and it has no related spans or fixes. Every renderer handles it (see `formats`).
"""

from __future__ import annotations

from dataclasses import dataclass, field

from gop.compiler.core.span import Span
from gop.compiler.diagnostics.codes import Severity, severity_of


@dataclass(frozen=True, slots=True)
class Related:
    span: Span
    message: str


@dataclass(frozen=True, slots=True)
class Fix:
    """Replace the text at `span` with `replacement`; `title` is shown to the user."""

    span: Span
    replacement: str
    title: str


@dataclass(frozen=True, slots=True)
class Diagnostic:
    code: str
    severity: Severity
    span: Span | None  # None: about no place in the program (a command's error)
    message: str
    notes: tuple[str, ...] = ()
    related: tuple[Related, ...] = ()
    fixes: tuple[Fix, ...] = field(default=())

    @property
    def is_error(self) -> bool:
        return self.severity is Severity.ERROR

    def sort_key(self) -> tuple:
        where = ("", -1, -1) if self.span is None else (self.span.file, self.span.start, self.span.end)
        return (*where, self.code, self.message)


def diagnostic(
    code: str,
    span: Span,
    message: str,
    *,
    notes: tuple[str, ...] | list[str] = (),
    related: tuple[Related, ...] | list[Related] = (),
    fixes: tuple[Fix, ...] | list[Fix] = (),
) -> Diagnostic:
    """Build a diagnostic whose severity comes from the code registry."""

    return Diagnostic(code, severity_of(code), span, message, tuple(notes), tuple(related), tuple(fixes))


def command_error(code: str, message: str, *, notes: tuple[str, ...] | list[str] = ()) -> Diagnostic:
    """A span-less diagnostic: an error of a command that is about no place in the program."""

    return Diagnostic(code, severity_of(code), None, message, tuple(notes))


def has_errors(diagnostics: list[Diagnostic] | tuple[Diagnostic, ...]) -> bool:
    return any(d.is_error for d in diagnostics)
