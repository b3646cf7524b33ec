"""Delivery stages: what would make Flux apply a stage never, or not as written.

Input: a `Fleet` and the `Resolution` (the stage and namespace declarations, for the spans of
their names). Output: `stage_diagnostics(fleet, resolution)`:
- STAGE_CYCLE: stages whose `dependsOn` go round (each cycle once, at the first stage's name);
- RESERVED_STAGE_NAME: a stage named like the Kustomization or a file gopc writes beside the stages;
- HEALTH_CHECKS_IGNORED: `healthChecks` on a stage that says `wait = true` (Flux ignores them);
- NO_STAGE: stages are declared, and an app, release, resource or namespace names none while its
  default stage (`fleet.stages.DEFAULT_STAGES`) is not declared (at its name, once);
- DEPENDENCY_IN_LATER_STAGE: an app (a release) depending on an app (a release) that its cluster
  applies in a stage that waits for the first one's stage (a deadlock), at the line that set
  `dependsOn`.

Invariants: deterministic order (stages by name, then objects by name, then spans); each
problem once, however many clusters share it. Every stage question goes to `fleet.stages`.
"""

from __future__ import annotations

from gop.compiler.diagnostics import Diagnostic, codes, diagnostic
from gop.compiler.fleet.checks.dependencies import cycles
from gop.compiler.fleet.checks.versions import clusters_text
from gop.compiler.fleet.model import Fleet
from gop.compiler.fleet.stages import DEFAULT_STAGES, direct_dependencies, stage_dependencies, stage_names, stage_of
from gop.compiler.language import AppField
from gop.compiler.syntax import ast
from gop.compiler.values import lookup

# Files and objects gopc writes beside the stages of clusters/<cluster>/ (and bootstrap's Kustomization).
RESERVED_STAGE_NAMES = ("flux-system", "image-automation", "kustomization", "notifications", "sources")
_DEPENDS_ON = (AppField.DELIVERY, AppField.DEPENDS_ON)


def stage_diagnostics(fleet: Fleet, resolution) -> list[Diagnostic]:
    if not fleet.stages:
        return []
    names = {name: decl.name.span for name, decl in resolution.resources["stage"].items()}
    found = _stage_cycles(fleet, names)
    for name, stage in sorted(fleet.stages.items()):
        if name in RESERVED_STAGE_NAMES:
            found.append(diagnostic(codes.RESERVED_STAGE_NAME, names[name], f"`{name}` cannot name a stage: "
                                    f"clusters/<cluster>/ already has the {'Kustomization' if name == 'flux-system' else 'file'} "
                                    f"`{name}`", notes=(f"rename the stage, e.g. `infra-{name}`",)))
        if stage.values["healthChecks"] and stage.values.get("wait") is True:
            found.append(diagnostic(codes.HEALTH_CHECKS_IGNORED, names[name],
                                    f"stage `{name}` sets `healthChecks` and `wait = true`: Flux ignores the health checks",
                                    notes=("leave `wait` out (a stage with health checks waits for those), "
                                           "or remove `healthChecks`",)))
    return found + _without_stage(fleet, resolution) + _later_dependencies(fleet)


def _stage_cycles(fleet: Fleet, names: dict) -> list[Diagnostic]:
    edges = {name: {dependency: names[name] for dependency in direct_dependencies(fleet, name)} for name in fleet.stages}
    return [diagnostic(codes.STAGE_CYCLE, span, "stage cycle: " + " -> ".join(cycle),
                       notes=("Flux would apply none of these stages; remove one `dependsOn` entry",))
            for cycle, span in cycles(edges)]


def _without_stage(fleet: Fleet, resolution) -> list[Diagnostic]:
    """Objects with no stage on some cluster: apps, releases and resources per instance (an env or
    cluster may set the stage), declared namespaces by their own body."""
    declared = ", ".join(f"`{name}`" for name in stage_names(fleet))
    spans: dict[tuple[str, str], object] = {}  # (kind, name) -> the span of its name
    for model in fleet.clusters.values():
        for kind, instances in (("app", model.instances), ("release", model.releases), ("resource", model.resources)):
            for name, instance in instances.items():
                if stage_of(fleet, kind, instance.values) is None:
                    spans[kind, name] = (fleet.apps[name] if kind == "app" else
                                         (fleet.releases if kind == "release" else fleet.resources)[name]).span
    for name, namespace in fleet.namespaces.items():
        if stage_of(fleet, "namespace", namespace.values) is None:
            spans["namespace", name] = resolution.resources["namespace"][name].name.span
    found = []
    for (kind, name), span in sorted(spans.items()):
        field = "delivery.stage" if kind == "app" else "stage"
        if tuple(field.split(".")) in ast.assigned_paths(resolution.resources[kind][name].body):
            continue  # it names a stage that is not declared: E0201 says so, with the stage meant
        found.append(diagnostic(codes.NO_STAGE, span, f"{kind} `{name}` names no stage, and there is no stage "
                                f"`{DEFAULT_STAGES[kind]}` to put it in",
                                notes=(f"set `{field}` to one of the declared stages ({declared}), "
                                       f"or declare the stage `{DEFAULT_STAGES[kind]}`",)))
    return found


def _later_dependencies(fleet: Fleet) -> list[Diagnostic]:
    """Apps (`delivery.dependsOn`) and releases (`dependsOn`) depending on one of their kind that
    the cluster applies in a stage waiting for theirs."""
    waits_for = stage_dependencies(fleet)
    found: dict[tuple, list[str]] = {}  # (kind, name, its stage, dependency, its stage, span) -> clusters
    for cluster, model in sorted(fleet.clusters.items()):
        for kind, instances, path in (("app", model.instances, _DEPENDS_ON), ("release", model.releases, ("dependsOn",))):
            for name, instance in instances.items():
                origin = instance.origins.get(path)
                if origin is None or origin.span is None:
                    continue
                stage = stage_of(fleet, kind, instance.values)
                for ref in lookup(instance.values, path):
                    other = instances.get(str(ref))
                    later = None if other is None else stage_of(fleet, kind, other.values)
                    if later != stage and stage in waits_for.get(later, ()):
                        found.setdefault((kind, name, stage, str(ref), later, origin.span), []).append(cluster)
    return [diagnostic(codes.DEPENDENCY_IN_LATER_STAGE, span,
                       f"{kind} `{name}` (stage `{stage}`) depends on `{dependency}`, which is in the later stage `{later}` "
                       f"on {clusters_text(clusters)}",
                       notes=(f"stage `{later}` waits for `{stage}`, which waits for `{name}`, which waits for "
                              f"`{dependency}`: Flux would deadlock; put `{dependency}` in `{stage}` or an earlier stage, "
                              "or drop the dependency",))
            for (kind, name, stage, dependency, later, span), clusters in sorted(
                found.items(), key=lambda item: (item[0][5].file, item[0][5].start, item[0][3]))]

