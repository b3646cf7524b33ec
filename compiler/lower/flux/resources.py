"""Where the objects of `resource` and `namespace` declarations go in the Flux tree.

Input: a `Fleet`. Output: a `ResourcePlan`: for each cluster, the resources placed on it (their
stage, their directory in the repository and their objects), and the Namespace objects the
cluster needs for them and for its `namespace` declarations.

Layout: a resource's objects are written once per distinct form in a shared base directory,
`infrastructure/resources/<name>/` when every cluster it lands on gets the same objects; else
`infrastructure/resources/<name>/<env>/` for the form most clusters of an env share, and
`.../<env>/<cluster>/` for a cluster whose form differs from it. Each holds
`objects.yaml` and its kustomization.yaml; the stage's kustomization of each cluster
(`clusters/<cluster>/infrastructure/` with the implicit stages) lists the directory.

Objects: a resource written in .gop is one object: apiVersion, kind, metadata (its name the
declaration's unless `metadata.name` says otherwise; its namespace the resource's `namespace`),
then the other fields of the body as layered on the cluster. A resource read from a file is the
file's objects, each namespaced one that names no namespace given the resource's.

Invariants: a pure function of the fleet; every directory holds one form of the objects; the
objects' plain values are what render shows and kustomize builds; no object twice on a cluster
(two resources making one, or a resource making a Namespace gopc makes, is a `FluxLoweringError`,
E0826, which `validate` asks for).
"""

from __future__ import annotations

import copy
from dataclasses import dataclass, field
from typing import Any

from gop.compiler.diagnostics import codes
from gop.compiler.fleet.model import Fleet, Instance
from gop.compiler.fleet.resources import BUILTIN_NAMESPACES, OWN_FIELDS, object_namespace
from gop.compiler.fleet.stages import stage_of
from gop.compiler.lower.flux.errors import FluxLoweringError
from gop.compiler.lower.flux.secrets import instance_namespace
from gop.compiler.lower.kinds import object_key
from gop.compiler.values import plain

RESOURCES_DIR = "infrastructure/resources"
OBJECTS_FILE = "objects.yaml"
DEFAULT_STAGE = "infrastructure"  # of resources and namespaces (the implicit stage, or the declared one)


@dataclass(frozen=True, slots=True)
class PlacedResource:
    name: str
    stage: str
    directory: str  # relative to the repository's root
    docs: tuple[dict[str, Any], ...]


@dataclass(slots=True)
class ResourcePlan:
    clusters: dict[str, list[PlacedResource]] = field(default_factory=dict)  # sorted by resource name
    namespaces: dict[str, list[str]] = field(default_factory=dict)  # cluster -> namespaces its resources need

    def directories(self) -> dict[str, tuple[dict[str, Any], ...]]:
        """Every resource directory of the repository with its objects."""
        return {placed.directory: placed.docs for placed in sorted(
            (placed for placed_list in self.clusters.values() for placed in placed_list), key=lambda p: p.directory)}


def resource_plan(fleet: Fleet) -> ResourcePlan:
    """Raises the first of `duplicate_objects` (validate reports them all)."""
    result = placed_resources(fleet)
    duplicates = duplicate_objects(fleet, result)
    if duplicates:
        raise duplicates[0]
    return result


def placed_resources(fleet: Fleet) -> ResourcePlan:
    result = ResourcePlan({cluster: [] for cluster in fleet.clusters}, {cluster: [] for cluster in fleet.clusters})
    for name in sorted(fleet.resources):
        forms = {cluster: objects_of(fleet, name, fleet.clusters[cluster].resources[name])
                 for cluster in fleet.resources[name].clusters}
        directories = _directories(fleet, name, forms)
        for cluster, docs in forms.items():
            instance = fleet.clusters[cluster].resources[name]
            stage = stage_of(fleet, "resource", instance.values) or DEFAULT_STAGE  # None: E0841 reported
            result.clusters[cluster].append(PlacedResource(name, stage, directories[cluster], tuple(docs)))
            spaces = {doc["metadata"].get("namespace") for doc in docs} - {None} - BUILTIN_NAMESPACES
            result.namespaces[cluster] = sorted(set(result.namespaces[cluster]) | spaces)
    return result


def duplicate_objects(fleet: Fleet, placed: ResourcePlan) -> list[FluxLoweringError]:
    """Every object made twice on a cluster (kustomize refuses to build it), once: by two resources,
    or a Namespace that gopc makes for the cluster's apps, namespace declarations and resources."""
    problems: dict[tuple, FluxLoweringError] = {}
    for cluster, placed_list in sorted(placed.clusters.items()):
        made = {*placed.namespaces[cluster], *declared_namespaces(fleet, cluster),
                *(instance_namespace(fleet, instance) for instance in fleet.clusters[cluster].instances.values())}
        seen: dict[tuple, str] = {}
        for resource in placed_list:
            span = fleet.resources[resource.name].span
            for doc in resource.docs:
                key = object_key(doc)
                shown = f"{doc['kind']} `{'/'.join(part for part in key[2:] if part)}`"
                other = seen.setdefault(key, resource.name)
                if other != resource.name and (other, resource.name, key) not in problems:
                    problems[(other, resource.name, key)] = FluxLoweringError(
                        f"resources `{other}` and `{resource.name}` both make {shown} on cluster {cluster}", span,
                        code=codes.DUPLICATE_OBJECT)
                if key[:2] == ("v1", "Namespace") and key[3] in made and (resource.name, key) not in problems:
                    problems[(resource.name, key)] = FluxLoweringError(
                        f"resource `{resource.name}` makes {shown}, which gopc makes already on cluster {cluster}", span,
                        code=codes.DUPLICATE_OBJECT, notes=(f"declare it with `namespace {key[3]} {{ labels {{ ... }} }}` instead",))
    return list(problems.values())


def objects_of(fleet: Fleet, name: str, instance: Instance) -> list[dict[str, Any]]:
    """The objects of a resource on a cluster (new plain dicts)."""
    values = plain(instance.values)
    namespace = object_namespace(values)
    unit = fleet.resources[name]
    if unit.objects:
        docs = []
        for found, namespaced in unit.objects:
            doc = copy.deepcopy(found)
            if namespaced and namespace is not None and not doc.get("metadata", {}).get("namespace"):
                doc["metadata"] = {**doc["metadata"], "namespace": namespace}
            docs.append(doc)
        return docs
    metadata = {**values.get("metadata", {})}
    metadata["name"] = metadata.get("name") or name
    if namespace is not None:
        metadata["namespace"] = namespace
    doc = {"apiVersion": values["apiVersion"], "kind": values["kind"], "metadata": _metadata_order(metadata)}
    doc.update((key, value) for key, value in values.items() if key not in OWN_FIELDS and key != "metadata")
    return [doc]


def _metadata_order(metadata: dict[str, Any]) -> dict[str, Any]:
    """name and namespace first, as every object gopc writes has them."""
    return {key: metadata[key] for key in ("name", "namespace") if key in metadata} | {
        key: value for key, value in metadata.items() if key not in ("name", "namespace")}


def _directories(fleet: Fleet, name: str, forms: dict[str, list[dict[str, Any]]]) -> dict[str, str]:
    """cluster -> the directory of its form of the resource (see the module's doc)."""
    base = f"{RESOURCES_DIR}/{name}"
    shapes = {cluster: repr(docs) for cluster, docs in forms.items()}
    if len(set(shapes.values())) <= 1:
        return {cluster: base for cluster in forms}
    by_env: dict[str, list[str]] = {}
    for cluster in sorted(forms):
        by_env.setdefault(fleet.clusters[cluster].env, []).append(shapes[cluster])
    # The form most of an env's clusters share (the first cluster's on a tie) is the env's.
    common = {env: max(found, key=found.count) for env, found in by_env.items()}
    return {cluster: f"{base}/{env}" if shapes[cluster] == common[env] else f"{base}/{env}/{cluster}"
            for cluster in forms for env in [fleet.clusters[cluster].env]}


def namespace_object_fields(fleet: Fleet, name: str) -> dict[str, Any]:
    """The labels and annotations a `namespace` declaration gives its Namespace ({} if none)."""
    declared = fleet.namespaces.get(name)
    if declared is None:
        return {}
    values = plain(declared.values)
    return {key: dict(sorted(values[key].items())) for key in ("labels", "annotations") if values.get(key)}


def declared_namespaces(fleet: Fleet, cluster: str) -> list[str]:
    """The `namespace` declarations placed on the cluster."""
    return sorted(name for name, declared in fleet.namespaces.items() if cluster in declared.clusters)
