"""Checks of the evaluated fleet: what the API server, Helm or Flux would reject later.

Input: the `Evaluation` (the fleet, with every layer's checked leaves), the `Resolution` (cluster
declarations, for the spans of their labels) and the program's sources (for fixes). Output:
`fleet_diagnostics(...)`, a list of diagnostics, each problem once; nothing is changed.

By topic: `placement` (labels, selectors, envs and clusters; its `place` runs during evaluation,
as the model needs it), `assignments` (values wrong wherever they are written), `effective`
(values wrong together after layering), `ports`, `dependencies`, `names`, `stages`, `releases` (what Flux
or Helm would refuse of a `release`), `tenancy` (tenant isolation), `workloads` (the workload kind, its pod and
containers), `workload_edges` (what is accepted but never works), `pods` (node affinity and lifecycle hooks), `pod_security` (an app's security settings against
its namespace's Pod Security level), `release_settings` (of an app's own release and chart), `network` (of routes and the derived
NetworkPolicies). Every check of values
after layering walks `versions.versions(...)`, each distinct tree of an app once (the distinct
instances are found once, by evaluation, which completes each `AppModel` with them too).

Invariants: deterministic order (the session sorts); each problem once, however many clusters
share it.
"""

from __future__ import annotations

from gop.compiler.diagnostics import Diagnostic
from gop.compiler.fleet.checks import (effective, file_mounts, names, network, pod_security, pods, release_settings,
                                       route_paths, workload_edges, workloads)
from gop.compiler.fleet.checks.assignments import assignment_diagnostics
from gop.compiler.fleet.checks.dependencies import dependency_diagnostics
from gop.compiler.fleet.checks.names import name_diagnostics
from gop.compiler.fleet.checks.placement import cluster_label_diagnostics, placement_warnings
from gop.compiler.fleet.checks.ports import PortProblems
from gop.compiler.fleet.checks.stages import stage_diagnostics
from gop.compiler.fleet.checks.releases import release_diagnostics
from gop.compiler.fleet.checks.tenancy import tenancy_diagnostics
from gop.compiler.fleet.checks.versions import Findings, Version, versions


def fleet_diagnostics(evaluation, resolution, sources: dict, instances: list[Version]) -> list[Diagnostic]:
    """`instances`: `versions.instance_versions(evaluation.fleet.clusters)`, which evaluation has made already."""
    fleet = evaluation.fleet
    findings, ports = Findings(), PortProblems(sources)
    for_every_app = workloads.FieldsForEveryApp()
    security_levels = pod_security.enforced_levels(fleet)
    for version in versions(fleet, instances):
        effective.check_version(fleet, version, findings)
        ports.check_version(version, findings)
        workloads.check_version(version, findings, for_every_app)
        pods.check_version(version, findings)
        release_settings.check_version(version, findings)
        network.check_version(fleet, version, findings)
        names.check_version(fleet, version, findings)
        file_mounts.check_version(fleet, version, findings)
        route_paths.check_version(version, findings)
        pod_security.check_version(fleet, version, findings, security_levels)
        workload_edges.check_version(fleet, version, findings)
    for_every_app.report(findings)
    found: dict[tuple, Diagnostic] = {}
    for group in (assignment_diagnostics(evaluation), cluster_label_diagnostics(fleet, resolution), findings.diagnostics(),
                  ports.diagnostics, dependency_diagnostics(fleet), placement_warnings(fleet), name_diagnostics(fleet),
                  stage_diagnostics(fleet, resolution),
                  release_diagnostics(fleet, resolution), tenancy_diagnostics(fleet, resolution),
                  release_settings.body_only_diagnostics(evaluation), release_settings.chart_test_diagnostics(fleet),
                  network.callee_diagnostics(fleet)):
        for diag in group:
            found.setdefault((diag.code, diag.span, diag.message), diag)
    return list(found.values())
