"""Releases Flux or Helm would refuse: checked on each release's effective values on each cluster.

Input: a `Fleet` and the `Resolution` (each release's declaration, to tell a source not written
from one written but refused). Output: `release_diagnostics(fleet, resolution)`, each problem once however many clusters
share it, at the line of the layer that set the value at fault (the declaration when no layer did):
- RELEASE_CHART_SOURCE: a `chart` with both `repository` and `git`, or neither written;
- RELEASE_CHART_PATH: `path` without `git`, or `git` without `path` (a chart in Git is a directory);
- RELEASE_NAME_INVALID: a Helm release name (`releaseName`, else the declaration's name) longer
  than Helm's 53 characters or not a DNS subdomain, which `helm install` refuses;
- RELEASE_VERSION_RANGE: a `chart.version` Flux cannot parse as a semver range (HelmChart's
  `version`, OCIRepository's `ref.semver`: both Masterminds/semver constraints);
- RELEASE_DUPLICATE: two releases with one Helm release name in one namespace on one cluster
  (Helm keeps one release per name and namespace: the two would overwrite each other), or an app
  in `flux-system` named as a release (one HelmRelease object for both).
Dependencies between releases (not on the cluster, cycles) are `dependencies`' like apps'.

Invariants: deterministic order (releases and clusters sorted); a release deployed nowhere is
checked as declared.
"""

from __future__ import annotations

import re
from typing import Any

from gop.compiler.core.span import Span
from gop.compiler.diagnostics import Diagnostic, Related, codes, diagnostic
from gop.compiler.fleet.checks.versions import clusters_text
from gop.compiler.fleet.model import Fleet, Origin, UnitModel
from gop.compiler.semantic.semver_range import range_problem
from gop.compiler.syntax import ast

HELM_NAME_LIMIT = 53
FLUX_NAMESPACE = "flux-system"  # where a release's HelmRelease lives (lower/flux/releases.py)
_HELM_NAME = re.compile(r"[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*")


def release_diagnostics(fleet: Fleet, resolution) -> list[Diagnostic]:
    if not fleet.releases:
        return []  # a fleet of apps only costs nothing here
    found: dict[tuple, Diagnostic] = {}
    for name, release in sorted(fleet.releases.items()):
        seen: set[int] = set()
        versions = [(release.base, release.base_origins)] if not release.clusters else []
        for cluster in release.clusters:
            instance = fleet.clusters[cluster].releases[name]
            if id(instance) not in seen:
                seen.add(id(instance))
                versions.append((instance.values, instance.origins))
        for values, origins in versions:
            for diag in _version_problems(release, values, origins, resolution.resources["release"][name]):
                found.setdefault((diag.code, diag.span, diag.message), diag)
    for diag in _duplicates(fleet):
        found.setdefault((diag.code, diag.span, diag.message), diag)
    return list(found.values())


def _version_problems(release: UnitModel, values: dict[str, Any], origins: dict, decl: ast.ResourceDecl) -> list[Diagnostic]:
    chart = values.get("chart")
    if chart is None:
        return []  # the missing field is reported where the release is declared
    problems = []

    def at(*paths: tuple[str, ...]) -> Span:
        return _latest(release, origins, paths)

    repository, git, path = chart.get("repository"), chart.get("git"), chart.get("path")
    if repository and git:
        problems.append(diagnostic(codes.RELEASE_CHART_SOURCE, at(("chart", "repository"), ("chart", "git")),
                                   f"release `{release.name}`: the chart comes from `repository` {repository} and from "
                                   f"`git` {git.name}; Flux reads a chart from one source",
                                   notes=("keep `repository` (a Helm repository or OCI registry) or `git` + `path`",)))
    elif not repository and not git and not {("chart", "repository"), ("chart", "git")} & ast.assigned_paths(decl.body):
        # (a source written but refused, e.g. an ftp:// URL, is reported where it is written)
        problems.append(diagnostic(codes.RELEASE_CHART_SOURCE, at(("chart",)),
                                   f"release `{release.name}`: the chart names no source",
                                   notes=('set `repository = "https://..."` (or "oci://..."), or `git = SOURCE` and '
                                          '`path = "./charts/NAME"`',)))
    if path and not git:
        problems.append(diagnostic(codes.RELEASE_CHART_PATH, at(("chart", "path")),
                                   f"release `{release.name}`: `path` is a directory in a Git source, but the chart "
                                   "names no `git` source", notes=("add `git = SOURCE`, or remove `path`",)))
    elif git and not path:
        problems.append(diagnostic(codes.RELEASE_CHART_PATH, at(("chart", "git")),
                                   f"release `{release.name}`: a chart in the Git source {git.name} needs the `path` of "
                                   "its directory", notes=('add e.g. `path = "./charts/NAME"`',)))
    version = chart.get("version")
    if repository and version:
        problem = range_problem(version)
        if problem is not None:
            problems.append(diagnostic(codes.RELEASE_VERSION_RANGE, at(("chart", "version")),
                                       f"release `{release.name}`: Flux cannot read the chart version `{version}` "
                                       f"as a semver range ({problem})",
                                       notes=('write a version ("1.16.2") or a range ("1.16.x", ">=1.16.0 <2.0.0")',)))
    name = values.get("releaseName") or release.name
    if len(name) > HELM_NAME_LIMIT or not _HELM_NAME.fullmatch(name):
        why = (f"is {len(name)} characters; Helm allows {HELM_NAME_LIMIT}" if len(name) > HELM_NAME_LIMIT
               else "is not a DNS subdomain (lower-case letters, digits, `-` and `.`)")
        problems.append(diagnostic(codes.RELEASE_NAME_INVALID, at(("releaseName",)),
                                   f"release `{release.name}`: the Helm release name `{name}` {why}",
                                   notes=('set a shorter `releaseName = "..."`',)))
    return problems


def _latest(release: UnitModel, origins: dict, paths: tuple[tuple[str, ...], ...]) -> Span:
    """The span of the highest layer (the later line in one layer) that set any of `paths`, else
    the declaration's name."""
    set_by: list[Origin] = [origin for path in paths if (origin := origins.get(path)) is not None and origin.span]
    if not set_by:
        return release.span
    latest = max(set_by, key=lambda origin: (origin.layer, origin.span.file, origin.span.start))
    return latest.span


def _duplicates(fleet: Fleet) -> list[Diagnostic]:
    """Two releases installing one Helm release (name and namespace) on a cluster."""
    clashes: dict[tuple[str, str], list[str]] = {}  # (first, second) -> clusters
    helm_names: dict[tuple[str, str], tuple[str, str]] = {}
    for cluster, model in sorted(fleet.clusters.items()):
        taken: dict[tuple[str, str], str] = {}
        for name, instance in model.releases.items():
            key = (instance.values.get("releaseName") or name, instance.values.get("namespace") or name)
            first = taken.setdefault(key, name)
            if first != name:
                clashes.setdefault((first, name), []).append(cluster)
                helm_names[first, name] = key
    found = _app_clashes(fleet)
    for (first, second), clusters in sorted(clashes.items()):
        helm_name, namespace = helm_names[first, second]
        found.append(diagnostic(
            codes.RELEASE_DUPLICATE, fleet.releases[second].span,
            f"releases `{first}` and `{second}` both install the Helm release `{helm_name}` in namespace "
            f"`{namespace}` on {clusters_text(clusters)}",
            notes=("Helm keeps one release per name and namespace: give one a `releaseName` or another `namespace`",),
            related=(Related(fleet.releases[first].span, f"release `{first}` is declared here"),)))
    return found


def _app_clashes(fleet: Fleet) -> list[Diagnostic]:
    """An app in `flux-system` named as a release: both would be the HelmRelease flux-system/NAME."""
    clashes: dict[str, list[str]] = {}
    for cluster, model in sorted(fleet.clusters.items()):
        for name, instance in model.instances.items():
            if name in model.releases and instance.values.get("namespace", fleet.apps[name].namespace) == FLUX_NAMESPACE:
                clashes.setdefault(name, []).append(cluster)
    return [diagnostic(codes.RELEASE_DUPLICATE, fleet.releases[name].span,
                       f"release `{name}` and app `{name}` would both be the HelmRelease {FLUX_NAMESPACE}/{name} on "
                       + clusters_text(clusters),
                       notes=(f"a release's HelmRelease lives in {FLUX_NAMESPACE}; rename one, or install the app "
                              "into another namespace",),
                       related=(Related(fleet.apps[name].span, f"app `{name}` is declared here"),))
            for name, clusters in sorted(clashes.items())]
