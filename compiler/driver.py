"""The driver: runs the passes in order over explicit inputs.

load+parse -> resolve -> typecheck -> evaluate. Each pass gets the outputs of
the previous ones and returns new side tables; lowering runs only on a program
without errors (see `gop.compiler.build`). The `Analysis` is what the CLI and
the language server share.
"""

from __future__ import annotations

import gc
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import Path

from .diagnostics import Diagnostic, diagnostic, has_errors
from .span import Span
from .evaluate import Evaluation, evaluate
from .loader import Program, load
from .model import ClusterModel
from .parser import ParseResult, parse
from .resolve import Resolution, resolve
from .typecheck import Checker


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
    diagnostics = program.diagnostics + resolve_diagnostics + checker.diagnostics
    if not has_errors(diagnostics):
        diagnostics += _lowering_checks(evaluation)
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


def _lowering_checks(evaluation: Evaluation) -> list[Diagnostic]:
    """What only the lowering can see (SOPS files on disk, keys kustomize cannot carry), reported by `check` too."""
    from .lower_flux.keys import overlong_keys

    fallback = Span(str(evaluation.fleet.root), 0, 0)
    found = [diagnostic("E0703", span or fallback, message) for span, message in overlong_keys(evaluation.fleet)]
    return found + _sops_checks(evaluation)


def _sops_checks(evaluation: Evaluation) -> list[Diagnostic]:
    with_sops = [name for name, model in evaluation.fleet.clusters.items() if _uses_sops(model)]
    if not with_sops:
        return []  # and the SOPS files need not be read
    from .lower_flux import FluxLoweringError
    from .lower_flux.secrets import cluster_sops_secrets

    found: dict[tuple, Diagnostic] = {}
    for cluster in with_sops:
        try:
            cluster_sops_secrets(evaluation.fleet, cluster)
        except FluxLoweringError as error:
            span = error.span or Span(str(evaluation.fleet.root), 0, 0)
            found.setdefault((span, error.message), diagnostic("E0701", span, error.message))
    return list(found.values())


def _uses_sops(cluster: ClusterModel) -> bool:
    return any(instance.sops_refs() for instance in cluster.instances.values())


def _check_declaration(checker: Checker, decl) -> None:
    from . import ast

    if isinstance(decl, ast.LetDecl):
        checker.let_value(decl)
    else:
        checker.named_type(decl)


def _sorted(diagnostics: list[Diagnostic]) -> list[Diagnostic]:
    unique = {(d.code, d.span, d.message): d for d in diagnostics}
    return sorted(unique.values(), key=Diagnostic.sort_key)
