"""The evaluated fleet model: the output of evaluation, the input of every lowering.

For every cluster: which env it belongs to, which apps it runs, and each app's
effective values with the origin (layer + span) of every leaf. Lowerings (Helm,
Kustomize, Flux) and the language server read this model; nothing here refers
back to the syntax tree except through spans.

Value trees use the runtime representation of `gop.compiler.semantic.types`;
`gop.compiler.values` looks them up, diffs, merges them and makes them plain.

Releases and resources layer exactly like apps (the APP layer is then the release's or
resource's own body); clusters hold their instances beside the apps'.

Layering is total: DEFAULT (schema) < DEFAULTS (`defaults for KIND { }`) < TEMPLATE (the
templates a declaration `uses`) < APP < ENV < SELECTOR < CLUSTER. Maps and records
merge key by key at every layer; lists are replaced whole (as Helm and Kustomize
merge values).

Invariants: evaluation builds every object complete and nothing changes it
afterwards (lowerings share the trees between clusters and key caches by them).
"""

from __future__ import annotations

import enum
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from gop.compiler.core.frozen import frozen
from gop.compiler.core.span import Span
from gop.compiler.language import AppField, unit_key
from gop.compiler.semantic.types import RecordType, SecretRef

ValuePath = tuple[str, ...]


class Layer(enum.IntEnum):
    DEFAULT = 0  # the schema's defaults
    DEFAULTS = 1  # the fleet's `defaults for KIND { }` blocks
    TEMPLATE = 2  # the templates a declaration `uses`
    APP = 3
    ENV = 4
    SELECTOR = 5
    CLUSTER = 6

    @property
    def label(self) -> str:
        return _LAYER_LABELS[self]


_LAYER_LABELS = {Layer.DEFAULT: "schema default", Layer.DEFAULTS: "defaults", Layer.TEMPLATE: "template", Layer.APP: "app",
                 Layer.ENV: "env overlay", Layer.SELECTOR: "selector overlay", Layer.CLUSTER: "cluster override"}


@frozen
class Origin:
    """Which layer and which line set a value. `source` names the declaration: "app web",
    "env prod", "overlay cn-ingress", "cluster prod-eu-1", "template web-service", "defaults",
    or "App.replicas" for a schema default. `all_apps`: written in an `all { }` block, for every
    app the layer reaches rather than for this one by name."""

    layer: Layer
    span: Span | None
    source: str
    all_apps: bool = False

    @property
    def for_every_app(self) -> bool:
        """Written for every app it reaches (an `all { }` block or a `defaults for App { }` block),
        not for this app by name: a field some workload kinds lack applies to the apps it fits."""
        return self.all_apps or self.layer is Layer.DEFAULTS

    @property
    def label(self) -> str:
        """The layer's name; a declaration's own layer by its kind ("app", "release", "resource")."""
        return self.source.split(" ", 1)[0] if self.layer is Layer.APP else self.layer.label


@dataclass(slots=True)
class AppModel:
    name: str
    span: Span
    doc: str | None
    namespace: str
    values_type: RecordType  # the App schema with this app's `values` schema in place
    base: dict[str, Any]  # schema defaults + defaults + templates + app layer: the chart's values.yaml
    base_origins: dict[ValuePath, Origin]
    # Chart parts this app needs anywhere in the fleet (at any layer, on any cluster):
    # "service", "ingress", "autoscaling", "serviceAccount", "config", "secretEnv", "values".
    features: frozenset[str]
    clusters: tuple[str, ...] = ()  # where it is deployed, sorted


@dataclass(slots=True)
class UnitModel:
    """A release or a resource: a declaration whose fields layer like an app's."""

    name: str
    kind: str  # "release" | "resource"
    span: Span
    doc: str | None
    record: RecordType  # the schema its body is checked against (per declaration)
    base: dict[str, Any]  # defaults + the declaration's own body
    base_origins: dict[ValuePath, Origin]
    clusters: tuple[str, ...] = ()  # where it is deployed, sorted
    # A resource read from a file: its objects (plain), in file order, each with whether its kind is
    # namespaced (the resource's `namespace` is given to those that name none).
    objects: tuple[tuple[dict[str, Any], bool], ...] = ()


@dataclass(slots=True)
class Instance:
    """One app on a cluster; clusters whose layers give the app the same values share one."""

    app: str
    env: str
    values: dict[str, Any]  # effective values, all layers merged
    origins: dict[ValuePath, Origin]
    env_values: dict[str, Any]  # what the env layer sets (a partial tree)
    cluster_values: dict[str, Any]  # what selector overlays and the cluster set (a partial tree)

    def sops_refs(self) -> list[tuple[str, SecretRef]]:
        """(variable, reference) of every secret it reads from a SOPS-encrypted file in the repository."""
        return self.secret_refs("sops")

    def secret_refs(self, kind: str) -> list[tuple[str, SecretRef]]:
        """(variable, reference) of every secret of a kind ("sops", "secret", "external") it reads."""
        return [(variable, ref) for variable, ref in self.values.get(AppField.SECRET_ENV, {}).items()
                if isinstance(ref, SecretRef) and ref.kind == kind]


@dataclass(slots=True)
class ClusterModel:
    name: str
    span: Span
    doc: str | None
    labels: dict[str, Any]
    env: str
    instances: dict[str, Instance]  # by app name, sorted
    releases: dict[str, Instance] = field(default_factory=dict)  # by release name, sorted
    resources: dict[str, Instance] = field(default_factory=dict)  # by resource name, sorted


@dataclass(slots=True)
class EnvModel:
    name: str
    span: Span
    doc: str | None
    clusters: tuple[str, ...]
    # What the env layer sets for each app deployed in it (partial trees).
    app_values: dict[str, dict[str, Any]] = field(default_factory=dict)
    # The same for each release and resource, by `unit_key` ("release podinfo").
    unit_values: dict[str, dict[str, Any]] = field(default_factory=dict)


@dataclass(slots=True)
class Settings:
    """A declared source, registry, receiver, provider, alert, automation, stage, namespace, tenant
    or the delivery block."""

    kind: str
    name: str
    span: Span
    doc: str | None
    values: dict[str, Any]
    clusters: tuple[str, ...] = ()  # for a namespace or a tenant: the clusters it is placed on, sorted


@dataclass(slots=True, weakref_slot=True)  # weakly referable: tests prove an old fleet is collected
class Fleet:
    package: str
    root: Path  # the directory the program was loaded from (relative paths in it resolve here)
    apps: dict[str, AppModel]
    envs: dict[str, EnvModel]
    clusters: dict[str, ClusterModel]
    sources: dict[str, Settings]
    registries: dict[str, Settings]
    delivery: Settings
    receivers: dict[str, Settings]
    providers: dict[str, Settings]
    alerts: dict[str, Settings]
    automations: dict[str, Settings]
    releases: dict[str, UnitModel] = field(default_factory=dict)
    resources: dict[str, UnitModel] = field(default_factory=dict)
    stages: dict[str, Settings] = field(default_factory=dict)  # declared stages (none: the implicit two)
    namespaces: dict[str, Settings] = field(default_factory=dict)
    tenants: dict[str, Settings] = field(default_factory=dict)  # each placed on `Settings.clusters` (docs/tenancy.md)

    def unit_records(self) -> dict[str, RecordType]:
        """The record each app, release and resource body is checked against, by `unit_key`."""
        records = {name: app.values_type for name, app in self.apps.items()}
        for unit in (*self.releases.values(), *self.resources.values()):
            records[unit_key(unit.kind, unit.name)] = unit.record
        return records
