"""Everything the Flux lowering can refuse, asked before anything is lowered.

Input: a `Fleet` from a program without errors. Output: `lowering_problems(fleet)`, the
`FluxLoweringError`s that `repository_files` and `render_cluster` would raise for it (clusters
may repeat one; the session keeps one of each), and E0703 for keys kustomize cannot carry (the
lowering writes them, `kubectl kustomize` would fail on them). It calls the very functions the lowering calls (the sync source, the chart registry,
each cluster's SOPS files and ExternalSecrets, the resources' objects, the directories the SOPS files are copied to, the
keys of env, overlay and cluster values that kustomize can carry), so `gopc check` reports
exactly what `gopc build` would stop on, and nothing the lowering accepts.

The one other error of the lowering, a render asked for a cluster the fleet does not have
(`render.infrastructure_objects`), is about the command line, not the program. A test
(tests/test_fleet_checks.py) lists every place the lowering raises.
"""

from __future__ import annotations

import itertools
from collections.abc import Callable

from gop.compiler.fleet.model import Fleet, Instance
from gop.compiler.language import AppField
from gop.compiler.lower.flux import objects, resources
from gop.compiler.lower.flux.errors import FluxLoweringError
from gop.compiler.lower.flux.keys import overlong_keys
from gop.compiler.lower.flux.caches import LoweringCaches, caches_for
from gop.compiler.lower.flux.secrets import cluster_external_secrets
from gop.compiler.lower.flux.tree import sops_secrets
from gop.compiler.diagnostics import codes


def lowering_problems(fleet: Fleet, caches: LoweringCaches | None = None) -> list[FluxLoweringError]:
    caches = caches_for(fleet, caches)
    checks: list[Callable[[], object]] = []
    if fleet.clusters:  # every cluster's sync objects name the source
        checks.append(lambda: objects.sync_source(fleet))
    if fleet.apps and fleet.delivery.values["charts"] == "oci":  # every app's chart source names the registry
        checks.append(lambda: objects.chart_registry(fleet))
    reading = _clusters_reading_secrets(fleet)
    with_sops, with_external = reading["sops"], reading["external"]
    checks += [lambda cluster=cluster: caches.sops_secrets(cluster) for cluster in with_sops]
    checks += [lambda cluster=cluster: cluster_external_secrets(fleet, cluster, caches.sops_secrets) for cluster in with_external]
    problems: list[FluxLoweringError] = []
    for check in checks:
        try:
            check()
        except FluxLoweringError as error:
            problems.append(error)
    if with_sops and not problems:  # the directories, once every file could be read
        try:
            sops_secrets(fleet, caches)
        except FluxLoweringError as error:
            problems.append(error)
    problems += [FluxLoweringError(message, span, code=codes.KEY_TOO_LONG)
                 for span, message in overlong_keys(fleet, caches.memo.overlong)]
    if fleet.resources:  # no object twice on a cluster (what `caches.resource_plan` raises the first of)
        problems += resources.duplicate_objects(fleet, resources.placed_resources(fleet))
    return problems


def _clusters_reading_secrets(fleet: Fleet) -> dict[str, list[str]]:
    """The clusters (in the fleet's order) with an app instance that reads a secret of each kind
    ("sops", "external"; `Instance.secret_refs`): each instance looked at once, as clusters share them."""
    every = list(itertools.chain.from_iterable(model.instances.values() for model in fleet.clusters.values()))
    kinds_of = {key: _secret_kinds(instance) for key, instance in dict(zip(map(id, every), every)).items()}
    reading: dict[str, list[str]] = {"sops": [], "external": []}
    for name, model in fleet.clusters.items():
        for kind in sorted(set().union(*map(kinds_of.__getitem__, map(id, model.instances.values())))):
            reading[kind].append(name)
    return reading


_NO_KINDS: frozenset[str] = frozenset()


def _secret_kinds(instance: Instance) -> frozenset[str]:
    if not instance.values.get(AppField.SECRET_ENV):  # most instances read no secret: no lists made for them
        return _NO_KINDS
    return frozenset(kind for kind in ("sops", "external") if instance.secret_refs(kind))
