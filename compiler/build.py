"""Lowering driver: a checked program -> every file of the GitOps repository.

Input: an `Analysis` without errors. Output: relative path -> text for charts/<app>/
(Helm lowering) and the Kustomize/Flux tree (Flux lowering), or diagnostics when the
fleet cannot be lowered (E0701). `gopc build` writes the result with `emit.write_tree`;
`gopc render` uses the same lowerings in-process (`cluster_objects`, or `cluster_text` for
the YAML stream).
"""

from __future__ import annotations

from .diagnostics import Diagnostic, diagnostic
from .lower_flux import ClusterRenderer, FluxLoweringError, render_cluster, repository_files
from .lower_helm import chart_files
from .span import Span


def repository(analysis) -> tuple[dict[str, str], list[Diagnostic]]:
    fleet = analysis.fleet
    files: dict[str, str] = {}
    for name, app in fleet.apps.items():
        for relative, text in chart_files(app).items():
            files[f"charts/{name}/{relative}"] = text
    try:
        files.update(repository_files(fleet))
    except FluxLoweringError as error:
        return {}, [lowering_diagnostic(error, analysis)]
    return dict(sorted(files.items())), []


def cluster_objects(analysis, cluster: str, *, include_flux: bool) -> tuple[list[dict], list[Diagnostic]]:
    try:
        return render_cluster(analysis.fleet, cluster, include_flux=include_flux), []
    except FluxLoweringError as error:
        return [], [lowering_diagnostic(error, analysis)]


def cluster_text(analysis, cluster: str, *, include_flux: bool,
                 renderer: ClusterRenderer | None = None) -> tuple[str, list[Diagnostic]]:
    """The YAML stream of `cluster_objects`. Pass one `ClusterRenderer(analysis.fleet)` for
    every cluster of the analysis to share the work between them."""
    try:
        renderer = renderer or ClusterRenderer(analysis.fleet)
        return renderer.text(cluster, include_flux=include_flux), []
    except FluxLoweringError as error:
        return "", [lowering_diagnostic(error, analysis)]


def lowering_diagnostic(error: FluxLoweringError, analysis) -> Diagnostic:
    span = error.span
    if span is None:
        first = next(iter(analysis.program.roots), next(iter(analysis.program.sources), "<program>"))
        span = Span(first, 0, 0)
    return diagnostic(error.code, span, error.message)
