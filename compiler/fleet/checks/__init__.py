"""Checks of the evaluated fleet: what the API server, Helm or Flux would reject later.

Input: the `Evaluation` (the fleet, with every layer's checked leaves), the `Resolution` (cluster
declarations, for the spans of their labels) and the program's sources (for fixes). Output:
`fleet_diagnostics(...)`, a list of diagnostics, each problem once; nothing is changed.

By topic: `placement` (labels, selectors, envs and clusters; its `place` runs during evaluation,
as the model needs it), `assignments` (values wrong wherever they are written), `effective`
(values wrong together after layering), `ports`, `dependencies`, `names`, `stages`, `releases` (what Flux
or Helm would refuse of a `release`), `tenancy` (tenant isolation), `workloads` (the workload kind, its pod and
containers), `workload_edges` (what is accepted but never works), `pods` (node affinity and lifecycle hooks), `pod_security` (an app's security settings against
its namespace's Pod Security level), `annotation_sizes` (the API server's 256 KiB of annotations), `release_settings` (of an app's own release and chart), `network` (of routes and the derived
NetworkPolicies). Every check of values
after layering walks `versions.versions(...)`, each distinct tree of an app once (the distinct
instances are found once, by evaluation, which completes each `AppModel` with them too).

Invariants: deterministic order (the session sorts); each problem once, however many clusters
share it. A per-version check (`_check_version`) reads only the version, its own `AppModel` (span,
namespace, features) and `fleet.delivery`, and reports only through `Findings`, `PortProblems` and
`FieldsForEveryApp`: `VersionTapes` (the language server's session) replays what it found in an
unchanged version on that ground; a check that reads more must add it to `VersionTapes`' facts.
"""

from __future__ import annotations

from gop.compiler.diagnostics import Diagnostic
from gop.compiler.fleet.checks import (annotation_sizes, effective, file_mounts, names, network, pod_security, pods,
                                       release_settings, route_paths, workload_edges, workloads)
from gop.compiler.fleet.checks.assignments import assignment_diagnostics
from gop.compiler.fleet.checks.dependencies import dependency_diagnostics
from gop.compiler.fleet.checks.names import name_diagnostics
from gop.compiler.fleet.checks.placement import cluster_label_diagnostics, placement_warnings
from gop.compiler.fleet.checks.ports import PortProblems
from gop.compiler.fleet.checks.stages import stage_diagnostics
from gop.compiler.fleet.checks.releases import release_diagnostics
from gop.compiler.fleet.checks.tenancy import tenancy_diagnostics
from gop.compiler.fleet.checks.versions import Findings, Version, versions


def fleet_diagnostics(evaluation, resolution, sources: dict, instances: list[Version], memo=None) -> list[Diagnostic]:
    """`instances`: `versions.instance_versions(evaluation.fleet.clusters)`, which evaluation has made already;
    `memo`: the session's `EvaluationMemo` (the calls of the previous analyses' checks, see `VersionTapes`,
    and what each app body's assignments gave), or None."""
    fleet = evaluation.fleet
    findings, ports = Findings(), PortProblems(sources)
    for_every_app = workloads.FieldsForEveryApp()
    security_levels = pod_security.enforced_levels(fleet)
    tapes = VersionTapes(fleet, sources, memo) if memo is not None else None
    for version in versions(fleet, instances):
        if tapes is None:
            _check_version(fleet, version, findings, ports, for_every_app)
        else:
            tapes.of(version).replay(version, findings, ports, for_every_app)
        _check_placed_version(fleet, version, findings, security_levels)
    for_every_app.report(findings)
    found: dict[tuple, Diagnostic] = {}
    for group in (assignment_diagnostics(evaluation, memo.assignments if memo is not None else None), cluster_label_diagnostics(fleet, resolution), findings.diagnostics(),
                  ports.diagnostics, dependency_diagnostics(fleet, instances), placement_warnings(fleet), name_diagnostics(fleet),
                  stage_diagnostics(fleet, resolution),
                  release_diagnostics(fleet, resolution), tenancy_diagnostics(fleet, resolution),
                  release_settings.body_only_diagnostics(evaluation), release_settings.chart_test_diagnostics(fleet),
                  network.callee_diagnostics(fleet), annotation_sizes.namespace_diagnostics(fleet)):
        for diag in group:
            found.setdefault((diag.code, diag.span, diag.message), diag)
    return list(found.values())


def _check_version(fleet, version: Version, findings, ports: PortProblems, for_every_app) -> None:
    """Every check of one version."""
    effective.check_version(fleet, version, findings)
    ports.check_version(version, findings)
    workloads.check_version(version, findings, for_every_app)
    pods.check_version(version, findings)
    release_settings.check_version(version, findings)
    network.check_version(fleet, version, findings)
    names.check_version(fleet, version, findings)
    file_mounts.check_version(fleet, version, findings)
    route_paths.check_version(version, findings)
    annotation_sizes.check_version(version, findings)


def _check_placed_version(fleet, version: Version, findings, security_levels: dict) -> None:
    """The checks that read where the version runs (its clusters, the namespaces placed there):
    never taped, as a tape is replayed for a version whose clusters may differ."""
    pod_security.check_version(fleet, version, findings, security_levels)
    workload_edges.check_version(fleet, version, findings)


class Tape:
    """What the checks of one version found: their calls into `Findings` (`report`) and
    `workloads.FieldsForEveryApp` (`add`), in order, and the ports' problems (by key); made again
    for a version with the same values (its clusters may differ)."""

    __slots__ = ("calls", "ports")

    def __init__(self) -> None:
        self.calls: list[tuple[bool, tuple, dict]] = []
        self.ports: dict[tuple, Diagnostic] = {}

    def report(self, version: Version, *args, **kwargs) -> None:
        self.calls.append((False, args, kwargs))

    def add(self, version: Version, kind: str) -> None:
        self.calls.append((True, (kind,), {}))

    def replay(self, version: Version, findings: Findings, ports: PortProblems, for_every_app) -> None:
        for every_app, args, kwargs in self.calls:
            (for_every_app.add if every_app else findings.report)(version, *args, **kwargs)
        for key, found in self.ports.items():
            ports.keep(key, found)


class VersionTapes:
    """The language server's reuse of the per-version checks across analyses. A version's checks
    read the version's values and origins, its own `AppModel` (span, namespace, features) and
    `fleet.delivery`, nothing else; the ports' check keeps its own state and always runs. So
    when the values and origins are the very objects the session's memo holds (evaluation reuses
    unchanged apps' bases and instances) and the rest is equal, the calls recorded for them
    (`Tape`s: before and after the ports' check) are made again for this version, whose
    clusters may differ; otherwise the checks run and their calls are recorded."""

    def __init__(self, fleet, sources: dict, memo) -> None:
        self.fleet = fleet
        self.sources = sources
        self.memo = memo
        self._facts: dict[str, tuple] = {}  # by app: (fleet.delivery values, the AppModel's span, namespace, features)
        self._same: dict[tuple[int, str], bool] = {}  # (id of a kept entry's facts, app) -> equal to this fleet's

    def of(self, version: Version) -> Tape:
        facts = self._facts.get(version.app)
        if facts is None:
            app = self.fleet.apps[version.app]
            facts = self._facts[version.app] = (self.fleet.delivery.values, app.span, app.namespace, app.features)
        entry = self.memo.fleet_checks.get(version.values)
        if entry is not None and entry[0] is version.origins and self._equal(entry[1], facts, version.app):
            return entry[2]
        tape, ports = Tape(), PortProblems(self.sources)
        _check_version(self.fleet, version, tape, ports, tape)
        tape.ports = ports.found
        self.memo.fleet_checks.put(version.values, (version.origins, facts, tape))
        return tape

    def _equal(self, kept: tuple, facts: tuple, app: str) -> bool:
        same = self._same.get((id(kept), app))
        if same is None:
            same = self._same[id(kept), app] = kept is facts or kept == facts
        return same
