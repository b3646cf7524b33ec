"""Lowering driver: a checked program -> every file of the GitOps repository.

Input: an `Analysis` without errors. Output: relative path -> text (`repository`), or the same
files one at a time (`repository_stream`, what `gopc build` writes as they come: a 1000-app
fleet's charts are 80 MB, never all held at once) for charts/<app>/
(Helm lowering; each app's chart through `lower.chartstore`, kept in the disk cache across runs)
and the Kustomize/Flux tree (Flux lowering), each file headed by where it comes
from and the tree's README.md (`provenance`), or diagnostics when the
fleet cannot be lowered (E0701 and the codes `lower.flux.validate` names; `gopc check`
reports the same ones first). `gopc build` writes the result with `emit.tree.write_tree`;
`gopc render` uses the same lowerings in-process (`cluster_objects`, or `cluster_text` for
the YAML stream).

Image automation commits new tags into the setter-marked line of apps/base/<app>/release.yaml
(docs/flux.md). The tag gopc writes there is noted in the manifest (`image_tag_notes`); a
rebuild whose tree holds another tag there, one the program does not say either, would undo the
automation's commit: `automated_tags` reports it (E0704, at the program's tag, with the fix).

A chart whose version the program chooses (`chart.version`) is noted too, with a digest of what
it installs (`chart_notes`): Flux builds a chart from Git again only when its version changes, so
a rebuild that changes such a chart under the same version would never reach a cluster:
`unraised_chart_versions` reports it (E0705, at the version, with the next version as the fix).
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from pathlib import Path

from ruamel.yaml import YAML
from ruamel.yaml.error import YAMLError

from gop.compiler.diagnostics import Diagnostic, Fix, diagnostic
from gop.compiler.emit.tree import manifest_notes
from gop.compiler.lower.flux import ClusterRenderer, FluxLoweringError, render_cluster, repository_files
from gop.compiler.lower.flux.errors import program_lowering_diagnostic
from gop.compiler.lower.flux.objects import IMAGE_TAG_PATH
from gop.compiler.lower.flux.render import release_objects as flux_release_objects
from gop.compiler.lower.flux.tree import base_release_file, sops_secrets
from gop.compiler.language import APP_CHART
from gop.compiler.lower.helm import chart_content_digest, chosen_chart_version
from gop.compiler.lower.provenance import README, as_written, origin_of, readme_file
from gop.compiler.fleet.model import AppModel, Fleet
from gop.compiler.values import MISSING, lookup, plain
from gop.compiler.core.span import Span
from gop.compiler.diagnostics import codes

IMAGE_TAGS_NOTE = "imageTags"  # manifest note: release file -> the tag gopc wrote on its marked line
CHARTS_NOTE = "chartVersions"  # manifest note: app -> {"version", "digest"} of a chart whose version the program chose
_GOP_STRING_SAFE = re.compile(r"[A-Za-z0-9_.+-]+")  # a tag that is a .gop string as it stands


class LoweringFailed(Exception):
    """The fleet cannot be lowered (raised by `repository_stream`, after its charts)."""

    def __init__(self, diagnostics: list[Diagnostic]) -> None:
        super().__init__(diagnostics[0].message)
        self.diagnostics = diagnostics


def repository(analysis, *, encoded: bool = False) -> tuple[dict[str, str | bytes], list[Diagnostic]]:
    """Every file of `repository_stream`, in path order, or the diagnostics of a fleet that cannot be lowered."""
    try:
        return dict(sorted(repository_stream(analysis, encoded=encoded))), []
    except LoweringFailed as failure:
        return {}, failure.diagnostics


def repository_stream(analysis, *, encoded: bool = False) -> Iterator[tuple[str, str | bytes]]:
    """Every file of the repository as (path, its written form), lowered with the analysis's
    `LoweringCaches` (see `session`): one app's chart after another, then the Flux tree (its
    HelmReleases name the charts' versions), then README.md (it lists the other paths); with
    `encoded`, each as the UTF-8 bytes `gopc build` writes, encoded file by file (the text of a
    schema with a character beyond Latin-1, as every chart's duration pattern has, takes twice its
    bytes). Raises `LoweringFailed` when the Flux tree cannot be made."""
    fleet = analysis.fleet
    overlays = {name: decl.span for name, decl in analysis.resolution.resources["overlay"].items()}
    paths: list[str] = []
    source_paths = analysis.lowering.source_paths
    built_in: dict[tuple[str, str], str | bytes] = {}
    places: dict[tuple[str, str] | None, str] = {}  # origins by declaration (`provenance.origin_of`)
    helm = analysis.lowering.helm
    for name, app in fleet.apps.items():
        directory = f"charts/{name}"

        def written(relative: str, text: str) -> str | bytes:
            path = f"{directory}/{relative}"
            return as_written(path, text, fleet, overlays, encoded=encoded, paths=source_paths, built_in=built_in,
                              utf8=helm.utf8)

        # Every file of the chart is headed with the same origin (`provenance.headed`).
        form = f"{origin_of(directory + '/', fleet, overlays, source_paths, places)}\0{encoded}".encode()
        chart = analysis.lowering.charts.chart_files(app, helm, written=written, form=form)
        for relative, data in chart.items():
            paths.append(f"{directory}/{relative}")
            yield paths[-1], data
        del chart  # not held while the next chart is made
    try:
        flux_files = repository_files(fleet, analysis.lowering)
    except FluxLoweringError as error:
        raise LoweringFailed([program_lowering_diagnostic(error, analysis.program)]) from None
    verbatim = {f"{secret.directory}/{secret.file_name}" for secret in sops_secrets(fleet, analysis.lowering)}
    kept = analysis.lowering.memo.written  # the session's, by path and text (`lower.memo`)
    while flux_files:  # each text dropped as its written form is made
        path, text = flux_files.popitem()
        paths.append(path)
        form = (path in verbatim, encoded, origin_of(path, fleet, overlays, source_paths, places))
        known = kept.get((path, id(text))) if kept is not None else None
        if known is None or known[0] is not text or known[1] != form:
            known = (text, form, as_written(path, text, fleet, overlays, verbatim=form[0], encoded=encoded, origin=form[2]))
            if kept is not None:
                kept.put((path, id(text)), known)
        yield path, known[2]
    yield README, readme_file(paths, fleet, encoded=encoded, paths=source_paths)


def cluster_objects(analysis, cluster: str, *, include_flux: bool) -> tuple[list[dict], list[Diagnostic]]:
    try:
        return render_cluster(analysis.fleet, cluster, include_flux=include_flux, caches=analysis.lowering), []
    except FluxLoweringError as error:
        return [], [program_lowering_diagnostic(error, analysis.program)]


def release_objects(analysis, cluster: str, release: str, *, include_flux: bool) -> tuple[list[dict], list[Diagnostic]]:
    """One release's objects on the cluster (`gopc render --release`)."""
    try:
        return flux_release_objects(analysis.fleet, cluster, release, include_flux=include_flux,
                                    caches=analysis.lowering), []
    except FluxLoweringError as error:
        return [], [program_lowering_diagnostic(error, analysis.program)]


def cluster_text(analysis, cluster: str, *, include_flux: bool,
                 renderer: ClusterRenderer | None = None) -> tuple[str, list[Diagnostic]]:
    """The YAML stream of `cluster_objects`. Pass one `cluster_renderer(analysis)` for
    every cluster of the analysis to share the work between them."""
    try:
        renderer = renderer or cluster_renderer(analysis)
        return renderer.text(cluster, include_flux=include_flux), []
    except FluxLoweringError as error:
        return "", [program_lowering_diagnostic(error, analysis.program)]


def cluster_stream(analysis, cluster: str, *, include_flux: bool,
                   renderer: ClusterRenderer) -> tuple[bytes, list[Diagnostic]]:
    """`cluster_text` in UTF-8 (`ClusterRenderer.stream`: one bytes object for the clusters that list
    the same objects)."""
    try:
        return renderer.stream(cluster, include_flux=include_flux), []
    except FluxLoweringError as error:
        return b"", [program_lowering_diagnostic(error, analysis.program)]


def cluster_renderer(analysis) -> ClusterRenderer:
    """A renderer of the analysis's clusters, with the analysis's `LoweringCaches`."""
    return ClusterRenderer(analysis.fleet, analysis.lowering)


def image_tag_notes(fleet: Fleet) -> dict[str, object]:
    """The manifest note of the tags this build writes on the setter-marked lines."""
    tags = {base_release_file(name): tag for name, app in sorted(fleet.apps.items()) if (tag := _program_tag(app))}
    return {IMAGE_TAGS_NOTE: tags} if tags else {}


def build_notes(analysis) -> dict[str, object]:
    """Every note this build keeps in the manifest for the next one (image tags, chosen chart versions)."""
    return {**image_tag_notes(analysis.fleet), **chart_notes(analysis)}


def previous_build_problems(analysis, out: Path) -> list[Diagnostic]:
    """What writing over the tree the last build left at `out` would silently get wrong
    (E0704, E0705); `gopc build --force` skips these."""
    return automated_tags(analysis, out) + unraised_chart_versions(analysis, out)


def chart_notes(analysis) -> dict[str, object]:
    """The manifest note of the charts whose version the program chose: that version and the
    digest of what makes the chart's objects (`lower.helm.chart_content_digest`)."""
    charts = {name: {"version": version, "digest": chart_content_digest(app, analysis.lowering.helm)}
              for name, app in sorted(analysis.fleet.apps.items()) if (version := chosen_chart_version(app))}
    return {CHARTS_NOTE: charts} if charts else {}


def unraised_chart_versions(analysis, out: Path) -> list[Diagnostic]:
    """E0705 for each chart whose chosen version is the one the last build wrote, with other contents."""
    written = manifest_notes(out).get(CHARTS_NOTE)
    if not isinstance(written, dict):
        return []  # no tree, or none of its charts had a chosen version
    problems = []
    for name, app in sorted(analysis.fleet.apps.items()):
        before, version = written.get(name), chosen_chart_version(app)
        if isinstance(before, dict) and version and before.get("version") == version \
                and before.get("digest") != chart_content_digest(app, analysis.lowering.helm):
            problems.append(_unraised_version_diagnostic(analysis, app, version))
    return problems


def _unraised_version_diagnostic(analysis, app: AppModel, version: str) -> Diagnostic:
    origin = app.base_origins.get((APP_CHART, "version"))
    span = origin.span if origin is not None and origin.span is not None else app.span
    raised = next_chart_version(version)
    message = (f"the chart of app {app.name} changed, but its version is still {version}, the version the last "
               f"build wrote: Flux builds a chart again only when its version changes, so this change would never "
               f"reach a cluster. Raise chart.version (e.g. to {raised}), or build with --force to write it anyway")
    value = _value_span(analysis, span)
    fixes = [Fix(value, f'"{raised}"', f'raise to "{raised}"')] if value else []
    return diagnostic(codes.CHART_CHANGED_VERSION_KEPT, span, message, fixes=fixes)


def next_chart_version(version: str) -> str:
    """The next SemVer after `version`: the last numeric pre-release identifier plus one (`1.0.0-rc.1` ->
    `1.0.0-rc.2`), `.1` after a pre-release without one, else the patch plus one."""
    core, dash, prerelease = version.partition("-")
    if dash:
        identifiers = prerelease.split(".")
        if identifiers[-1].isdigit():
            return f"{core}-{'.'.join(identifiers[:-1] + [str(int(identifiers[-1]) + 1)])}"
        return f"{version}.1"
    major, minor, patch = core.split(".")
    return f"{major}.{minor}.{int(patch) + 1}"


def automated_tags(analysis, out: Path) -> list[Diagnostic]:
    """E0704 for each app whose marked tag in the tree at `out` is neither the one the last build
    wrote (noted in the manifest) nor the one the program says: a commit this build would undo."""
    written = manifest_notes(out).get(IMAGE_TAGS_NOTE)
    if not isinstance(written, dict):
        return []  # no tree, or one an older gopc built: nothing is known to have changed
    problems = []
    for name, app in sorted(analysis.fleet.apps.items()):
        wanted, path = _program_tag(app), base_release_file(name)
        before = written.get(path)
        committed = _marked_tag(Path(out) / path) if wanted and before else None
        if committed is not None and committed not in (before, wanted):
            problems.append(_automated_tag_diagnostic(analysis, app, path, committed, wanted))
    return problems


def _program_tag(app: AppModel) -> str | None:
    if "imagePolicy" not in app.base:
        return None
    return str(plain(app.base["image"]["tag"]))


def _marked_tag(path: Path) -> str | None:
    """The value at the marked line of a release file, as any YAML reader sees it (image
    automation may have rewritten the whole file); None when it is not there."""
    try:
        node = YAML(typ="safe", pure=True).load(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, YAMLError):
        return None
    node = lookup(node, IMAGE_TAG_PATH)
    return None if node is MISSING or isinstance(node, (dict, list)) or node is None else str(node)


def _automated_tag_diagnostic(analysis, app: AppModel, path: str, committed: str, wanted: str) -> Diagnostic:
    origin = app.base_origins.get(("image", "tag"))
    span = origin.span if origin is not None and origin.span is not None else app.span
    message = (f"{path} has image tag {committed} for app {app.name}, committed by image automation after gopc "
               f"wrote it; the program says {wanted}, and building would write that back. Take the new tag into "
               f"the program (image.tag = \"{committed}\"), or build with --force to write {wanted}")
    value = _value_span(analysis, span)
    fixes = [Fix(value, f'"{committed}"', f'change to "{committed}"')] if value and _GOP_STRING_SAFE.fullmatch(committed) else []
    return diagnostic(codes.AUTOMATED_TAG_UNDONE, span, message, fixes=fixes)


def _value_span(analysis, span: Span) -> Span | None:
    """The value of a `key = "..."` assignment."""
    source = analysis.program.sources.get(span.file)
    if source is None:
        return None
    text = source.text[span.start:span.end]
    match = re.search(r'=\s*("(?:[^"\\]|\\.)*")\s*$', text)
    return Span(span.file, span.start + match.start(1), span.start + match.end(1)) if match else None
