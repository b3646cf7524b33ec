"""The driver: runs the passes in order over explicit inputs.

load+parse -> resolve -> typecheck -> evaluate (with its fleet checks), then the
plaintext-secret pass over the syntax trees and, on a program without errors, what the
lowering would refuse (`lower_flux.validate`), so check reports all that build would.
Each pass gets the outputs of the previous ones and returns new side tables; lowering runs
only on a program without errors (see `gop.compiler.lower.repository`). The `Analysis` is what the
CLI and the language server share.
"""

from __future__ import annotations

import gc
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import Path

from gop.compiler.semantic import plaintext
from gop.compiler.diagnostics import Diagnostic, has_errors
from gop.compiler.fleet.evaluate import Evaluation, evaluate
from gop.compiler.semantic.loader import Program, load
from gop.compiler.syntax.parser import ParseResult, parse
from gop.compiler.semantic.resolve import Resolution, resolve
from gop.compiler.semantic.check import Checker


@dataclass(slots=True)
class Analysis:
    program: Program
    diagnostics: list[Diagnostic] = field(default_factory=list)
    resolution: Resolution | None = None
    checker: Checker | None = None
    evaluation: Evaluation | None = None

    @property
    def fleet(self):
        return self.evaluation.fleet if self.evaluation is not None else None


def analyse(paths: Iterable[str | Path], overlays: Mapping[str, str] | None = None, *,
            parse: Callable[[str, str], ParseResult] = parse) -> Analysis:
    program = load(paths, overlays, parse=parse)
    resolution, resolve_diagnostics = resolve(program)
    checker = Checker(program, resolution)
    for module in resolution.module_symbols.values():
        for decl in module.values():
            _check_declaration(checker, decl)
    evaluation = evaluate(program, resolution, checker, program.root)
    diagnostics = program.diagnostics + resolve_diagnostics + checker.diagnostics + plaintext.check(program)
    if not has_errors(diagnostics):
        diagnostics += _lowering_checks(program, evaluation)
    return Analysis(program, _sorted(diagnostics), resolution, checker, evaluation)


def analyse_and_keep(paths: Iterable[str | Path]) -> Analysis:
    """`analyse` for a process that keeps the analysis until it exits (the command line).

    An analysis allocates about a million objects and makes almost no cycles: the cyclic
    collector, left on, would scan them several times over (a tenth of `gopc check`). It is off
    while they are built, and they are frozen afterwards, so the collections during lowering
    never scan them again."""
    enabled = gc.isenabled()
    gc.disable()
    try:
        return analyse(paths)
    finally:
        gc.freeze()
        if enabled:
            gc.enable()


def _lowering_checks(program: Program, evaluation: Evaluation) -> list[Diagnostic]:
    """What the lowering would refuse (no sync source, SOPS files, ExternalSecrets ...), reported by `check` too."""
    from gop.compiler.lower.repository import program_lowering_diagnostic
    from gop.compiler.lower.flux.validate import lowering_problems

    return [program_lowering_diagnostic(error, program) for error in lowering_problems(evaluation.fleet)]


def _check_declaration(checker: Checker, decl) -> None:
    from gop.compiler.syntax import ast

    if isinstance(decl, ast.LetDecl):
        checker.let_value(decl)
    else:
        checker.named_type(decl)


def _sorted(diagnostics: list[Diagnostic]) -> list[Diagnostic]:
    unique = {(d.code, d.span, d.message): d for d in diagnostics}
    return sorted(unique.values(), key=Diagnostic.sort_key)
