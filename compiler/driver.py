"""The driver: runs the passes in order over explicit inputs.

load+parse -> resolve -> typecheck -> evaluate. Each pass gets the outputs of
the previous ones and returns new side tables; lowering runs only on a program
without errors (see `gop.compiler.build`). The `Analysis` is what the CLI and
the language server share.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import Path

from .diagnostics import Diagnostic
from .loader import Program, load


@dataclass(slots=True)
class Analysis:
    program: Program
    diagnostics: list[Diagnostic] = field(default_factory=list)


def analyse(paths: Iterable[str | Path], overlays: Mapping[str, str] | None = None) -> Analysis:
    program = load(paths, overlays)
    diagnostics = list(program.diagnostics)
    return Analysis(program, _sorted(diagnostics))


def _sorted(diagnostics: list[Diagnostic]) -> list[Diagnostic]:
    unique = {(d.code, d.span, d.message): d for d in diagnostics}
    return sorted(unique.values(), key=Diagnostic.sort_key)
