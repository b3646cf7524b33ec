"""Evaluate pass: checked declarations -> the `Fleet` (cluster x app x env matrix).

Input: `Program`, `Resolution`, and a `Checker` (which keeps collecting diagnostics). Output: an
`Evaluation`: the `model.Fleet`, the label schema, what each selector matched, and every layer's
checked leaves (for `gopc explain` and hover).

Steps: place the clusters (`checks.placement`: typed labels, selectors, one env per cluster);
check every app body, and every env, overlay and cluster body per app it targets; build each
declaration's base from the fleet's defaults and the templates it uses (`templates`); then, for
every (cluster, app), merge the layers schema default < defaults < template < app < env < selector
overlay < cluster override (`layers`: provenance of every leaf, conflicts inside one layer). The model is built complete:
an `AppModel` knows its clusters and chart features when it is made, an `EnvModel` what its layer
sets; nothing in the fleet changes afterwards. Last, `checks.fleet_diagnostics` reports what the
API server, Helm or Flux would refuse in the fleet (its diagnostics join the checker's).

Context interpolation (`${cluster.labels.region}`, see fleet/context.py): unit bodies are checked
with the checker's `unit_context` set, so their strings may read the context; a pair whose leaves
read it is evaluated with them resolved for its cluster, the values it reads in its key. The base
(chart values) and each env's values hold the values resolved for the first cluster (by name)
they reach; a pair that resolves its app or env layer otherwise adds the difference to its
`cluster_values`, so base < env < cluster values are its effective values on every cluster.

Diagnostics: the checker's are never removed. An `all { }` body is checked once per values schema,
so its diagnostics can repeat; the analysis (`session`) keeps each (code, span, message) once. The one diagnostic re-worded is a label value outside its enum
(`checks.placement._as_label_diagnostic`).

Invariants: identical inputs give identical models (all maps sorted or in declaration order);
evaluation of a (cluster, app) pair depends only on its env, the overlays matching the cluster and
the cluster's own overrides, so pairs with the same key share one computation (and one `Instance`).
"""

from __future__ import annotations

import dataclasses
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from gop.compiler.diagnostics import codes, diagnostic
from gop.compiler.diagnostics.suggest import did_you_mean
from gop.compiler.fleet.chart_values import ChartValues
from gop.compiler.fleet.context import Contexts
from gop.compiler.fleet.checks import fleet_diagnostics
from gop.compiler.fleet.checks.placement import Placement, place
from gop.compiler.fleet.checks.versions import Version, clusters_text, instance_versions
from gop.compiler.fleet.layers import Targeted, Winners, apply_leaves, fill_defaults, layer_patch, winning_leaves
from gop.compiler.fleet.resources import ResourceKinds
from gop.compiler.fleet.templates import Base, BaseLayers, BaseSource, touches_values
from gop.compiler.fleet.model import AppModel, ClusterModel, EnvModel, Fleet, Instance, Layer, Origin, Settings, UnitModel
from gop.compiler.language import (APP_SCHEMA, CLUSTER_LABELS, MAP_PART_FIELDS, PRELUDE_MODULE, SELECTOR_KINDS,
                                   SETTINGS_SCHEMAS, TEMPLATE_FIELDS, UNIT_KINDS, UNIT_SCHEMAS, AppField, unit_key)
from gop.compiler.language import DEFAULT_WORKLOAD, WORKLOAD_PARTS, WorkloadField
from gop.compiler.semantic.charts import locked_crds
from gop.compiler.semantic.check import PRESENT, Checker, Leaf, Scope, build_tree
from gop.compiler.semantic.context import UnitContext, reads_of
from gop.compiler.semantic.resolve import Resolution
from gop.compiler.semantic.types import Field, MapType, RecordType
from gop.compiler.values import merge, patch
from gop.compiler.syntax import ast


@dataclass(slots=True)
class Evaluation:
    fleet: Fleet
    labels_type: RecordType | MapType
    selector_matches: dict[int, tuple[str, ...]] = field(default_factory=dict)  # id(decl) -> clusters
    # Every layer's checked leaves, kept so `gopc explain` and hover can show the whole chain of a value;
    # by `unit_key` (apps by name, then "release NAME", "resource NAME").
    app_leaves: dict[str, list[Leaf]] = field(default_factory=dict)
    # The leaves of the defaults and templates below each declaration (by `unit_key`), lowest first.
    base_leaves: dict[str, list[tuple[Origin, Leaf]]] = field(default_factory=dict)
    layer_leaves: dict[Layer, dict[str, dict[str, list[Targeted]]]] = field(default_factory=dict)
    overlay_clusters: dict[str, tuple[str, ...]] = field(default_factory=dict)

    def chain(self, cluster: str, app: str, path: tuple[str, ...]) -> list[tuple[Origin, tuple[str, ...], Any, bool]]:
        """Every assignment to `path` (or below it) for `app` (a `unit_key`: an app's name, or
        "release NAME", "resource NAME") on `cluster`, lowest layer first, each with its value and
        whether it is the effective one."""
        instance = cluster_instance(self.fleet.clusters[cluster], app)
        found: list[tuple[Origin, Any]] = [(origin, leaf) for origin, leaf in self.base_leaves.get(app, [])
                                           if leaf.path[: len(path)] == path]
        for leaf in self.app_leaves.get(app, []):
            if leaf.path[: len(path)] == path:
                found.append((Origin(Layer.APP, leaf.span, _declared_in(app)), leaf))
        sources = {
            Layer.ENV: [instance.env],
            Layer.SELECTOR: [name for name, per_app in self.layer_leaves.get(Layer.SELECTOR, {}).items()
                             if cluster in self.overlay_clusters.get(name, ())],
            Layer.CLUSTER: [cluster],
        }
        for layer, names in sources.items():
            for name in names:
                for group in self.layer_leaves.get(layer, {}).get(name, {}).get(app, []):
                    for leaf in group.leaves:
                        if leaf.path[: len(path)] == path:
                            found.append((Origin(layer, leaf.span, group.source, not group.specific), leaf))
        effective = {(p, origin.span) for p, origin in instance.origins.items() if p[: len(path)] == path}
        return [(origin, leaf.path, leaf.value, (leaf.path, origin.span) in effective)
                for origin, leaf in found if leaf.value is not PRESENT]


def cluster_instance(cluster: ClusterModel, key: str) -> Instance:
    """The instance of an app, release or resource (by `unit_key`) on a cluster."""
    kind, _, name = key.rpartition(" ")
    return {"": cluster.instances, "release": cluster.releases, "resource": cluster.resources}[kind][name]


def evaluate(program, resolution: Resolution, checker: Checker, root: Path, *, memo=None) -> Evaluation:
    """`memo`: the session's `EvaluationMemo` (what the previous analysis checked), or None."""
    return _Evaluator(program, resolution, checker, root, memo).run()


class _Evaluator:
    def __init__(self, program, resolution: Resolution, checker: Checker, root: Path, memo=None) -> None:
        self.program = program
        self.memo = memo
        self.resolution = resolution
        self.checker = checker
        self.root = root
        self.prelude = resolution.module_symbols.get(PRELUDE_MODULE, {})
        self.app_record = self._prelude_record(APP_SCHEMA)
        self.chart_values = ChartValues(checker, root, memo.chart_types if memo is not None else {})
        self.placement: Placement | None = None
        self.contexts: Contexts | None = None  # once the placement is known
        # Units that read the context: the leaves their base was made of (own, below), by `unit_key`;
        # the units made of other resolutions of their leaves, by the resolved lists' ids; for each
        # (env, unit_key), whether the instance that made the env's values had the shared base and
        # what the app and env layers read there.
        self._context_base: dict[str, tuple[list[Leaf], list[Leaf]]] = {}
        self._resolved_units: dict[tuple[int, int], _Unit] = {}
        self._below: dict[str, tuple[Base, list[Leaf]]] = {}  # by unit_key: its base, and the leaves of its winners
        self._env_made_by: dict[tuple[str, str], tuple[bool, tuple]] = {}
        self.layer_leaves: dict[Layer, dict[str, dict[str, list[Targeted]]]] = {}
        self._env_stages: dict[tuple[str, str], tuple[dict, dict, dict]] = {}
        self._selector_winners: dict[tuple, Winners] = {}  # apps of one values schema share overlay leaves
        self._environment: tuple = ()
        # A template's or defaults block's leaves: checked against App (and whether it names its
        # values schema), and per values schema (an app's) or declaration schema (a release's, a resource's).
        self._generic_checks: dict[int, tuple[list[Leaf], bool]] = {}
        self._base_checks: dict[tuple[int, int], list[Leaf]] = {}
        self.base_layers = BaseLayers(resolution, checker, self._base_body)
        self.base_leaves: dict[str, list[tuple[Origin, Leaf]]] = {}
        self.resource_kinds = ResourceKinds(program, resolution, checker, root, self._prelude_record(UNIT_SCHEMAS["resource"]),
                                            chart_crds=lambda: [(crd.path.as_posix(), crd.text) for crd in locked_crds(root)])

    def _prelude_record(self, name: str) -> RecordType:
        return self.checker.named_type(self.prelude[name])

    def error(self, code: str, span, message: str, **extra) -> None:
        self.checker.diagnostics.append(diagnostic(code, span, message, **extra))

    # ---- the whole fleet ----------------------------------------------------------------

    def run(self) -> Evaluation:
        self.placement = placement = place(self.checker, self.resolution)
        self.contexts = Contexts(placement, self.checker)
        units = self._units()
        self._check_unused_sources()
        apps = {key: unit for key, unit in units.items() if unit.kind == "app"}
        clusters, env_values = self._instances(units)
        self.contexts.report()
        self.resource_kinds.check_instances(clusters)
        instances = instance_versions(clusters)
        decls = self.resolution.resources
        fleet = Fleet(
            package=self.resolution.package,
            root=self.root,
            apps=self._app_models(apps, instances),
            envs={name: self._env_model(name, decl, env_values.get(name, {}), units) for name, decl in sorted(decls["env"].items())},
            clusters=clusters,
            sources=self._settings("source"),
            registries=self._settings("registry"),
            delivery=self._delivery(),
            receivers=self._settings("receiver"),
            providers=self._settings("provider"),
            alerts=self._settings("alert"),
            automations=self._settings("automation"),
            releases=self._unit_models(units, "release", clusters),
            resources=self._unit_models(units, "resource", clusters),
            stages=self._settings("stage"),
            namespaces=self._settings("namespace"),
            tenants=self._settings("tenant"),
        )
        for name, unit in fleet.resources.items():
            unit.objects = tuple((found.value, found.kind.namespaced) for found in self.resource_kinds.file_objects(name))
        evaluation = Evaluation(
            fleet, placement.labels_type, placement.matches,
            app_leaves={key: unit.leaves for key, unit in units.items()},
            base_leaves=self.base_leaves,
            layer_leaves=self.layer_leaves,
            overlay_clusters={name: placement.matches.get(id(d), ()) for name, d in decls["overlay"].items()},
        )
        self.checker.diagnostics.extend(fleet_diagnostics(evaluation, self.resolution, self.program.sources, instances, self.memo))
        return evaluation

    def _env_model(self, name: str, decl: ast.ResourceDecl, values: dict[str, dict], units: dict[str, _Unit]) -> EnvModel:
        clusters = tuple(sorted(c for c, e in self.placement.cluster_env.items() if e == name))
        app_values = {key: tree for key, tree in values.items() if units[key].kind == "app"}
        unit_values = {key: tree for key, tree in values.items() if units[key].kind != "app"}
        return EnvModel(name, decl.name.span, decl.doc, clusters, app_values, unit_values)

    def _unit_models(self, units: dict[str, _Unit], kind: str, clusters: dict[str, ClusterModel]) -> dict[str, UnitModel]:
        """The releases (or resources), each with the clusters it is deployed to."""
        placed: dict[str, list[str]] = {}
        for cluster in clusters.values():
            for name in (cluster.releases if kind == "release" else cluster.resources):
                placed.setdefault(name, []).append(cluster.name)
        return {unit.name: UnitModel(unit.name, kind, unit.decl.name.span, unit.decl.doc, unit.record, unit.values,
                                     unit.origins, tuple(sorted(placed.get(unit.name, ()))))
                for unit in sorted(units.values(), key=lambda unit: unit.name) if unit.kind == kind}

    def _app_models(self, apps: dict[str, _Unit], instances: list[Version]) -> dict[str, AppModel]:
        """Each app complete: where it runs and the chart parts it needs on any of its clusters."""
        placed: dict[str, set[str]] = {name: set() for name in apps}
        trees: dict[str, list[dict]] = {name: [app.values] for name, app in apps.items()}
        for version in instances:
            placed[version.app].update(version.clusters)
            trees[version.app].append(version.values)
        models = {}
        for name in sorted(apps):
            app = apps[name]
            models[name] = AppModel(name, app.decl.name.span, app.decl.doc, app.values.get(AppField.NAMESPACE, name), app.record,
                                    app.values, app.origins, self._features(app, trees[name]), tuple(sorted(placed[name])))
        return models

    def _features(self, app: _Unit, trees: list[dict]) -> frozenset[str]:
        """`_features(trees)`, the previous analyses' when its trees are the very same objects (an
        unchanged app keeps its base and its instances, whose trees are never changed)."""
        if self.memo is None:
            return _features(trees)
        kept = self.memo.features.get(app.values)
        if kept is not None and len(kept[0]) == len(trees) and all(old is new for old, new in zip(kept[0], trees)):
            return kept[1]
        features = _features(trees)
        self.memo.features.put(app.values, (tuple(trees), features))
        return features

    def where_both_apply(self, source: str, other: str) -> str:
        """`, on cluster eu-1 (matched by overlay eu-a and overlay eu-b)`: the clusters two
        conflicting envs or overlays share, so the reader sees where the conflict bites;
        empty for the app and cluster layers, which name their one place already."""
        kinds = {"env", "overlay"}
        decls = []
        for what in dict.fromkeys((source, other)):
            kind, _, name = what.partition(" ")
            if kind not in kinds or name not in self.resolution.resources[kind]:
                return ""
            decls.append(self.resolution.resources[kind][name])
        shared = set.intersection(*(set(self.placement.matches.get(id(decl), ())) for decl in decls))
        clusters = [name for name in self.resolution.resources["cluster"] if name in shared]
        if not clusters:
            return ""
        matched_by = " and ".join(f"{decl.kind} {decl.name.text}" for decl in decls)
        return f", on {clusters_text(clusters)} (matched by {matched_by})"

    # ---- apps, releases and resources -----------------------------------------------------------

    def _units(self) -> dict[str, _Unit]:
        """Every app, release and resource as written, by `unit_key`."""
        units: dict[str, _Unit] = {}
        environment = _environment(self.program, self.resolution)
        if self.memo is not None:  # one object for equal environments: the memos compare it by identity first
            environment = self.memo.environment = self.memo.environment if self.memo.environment == environment else environment
        self._environment = environment
        self._keep_app_record(environment)
        for name, decl in self.resolution.resources["app"].items():
            scope = self.checker.scope_of(decl)
            with self._unit_context("app"):
                leaves, values_type = self._checked_app_body(decl, scope, environment)
            record = self._app_record(decl, name, values_type, environment)
            self._own_conflicts(f"app {name}", leaves)
            below = self._base("app", name, decl, record, leaves)
            if self.checker.reads_context and self._context_read_of(name, leaves, below):
                base = _written("app", name, record, *self._first_resolution("app", name, decl, leaves, below))
            else:
                # The base (schema defaults + defaults + templates + app layer) is a function of the
                # leaves of those layers and of the schema, all unchanged on reuse.
                inputs = below.inputs if below is not None else ()
                cached = self.memo.app_bases.get(leaves) if self.memo is not None else None
                if cached is not None and len(cached[0]) == len(inputs) and all(a is b for a, b in zip(cached[0], inputs)):
                    base = cached[1]
                else:
                    base = _written("app", name, record, leaves, below)
                if self.memo is not None:
                    self.memo.app_bases.put(leaves, (inputs, base))
            units[name] = _Unit("app", name, decl, record, leaves, *base)
            self._required(units[name], below)
        for kind in UNIT_KINDS[1:]:
            for name, decl in self.resolution.resources[kind].items():
                record = self._unit_record(kind, decl)
                with self._unit_context(kind):
                    leaves = self._checked_body(decl.body, record, self.checker.scope_of(decl))
                self._own_conflicts(f"{kind} {name}", leaves)
                below = self._base(kind, name, decl, record, leaves)
                own, own_below = leaves, below
                if self.checker.reads_context:
                    own, own_below = self._first_resolution(kind, name, decl, leaves, below)
                unit = units[unit_key(kind, name)] = _Unit(kind, name, decl, record, leaves, *_written(kind, name, record, own, own_below))
                self._required(unit, below)
        return units

    def _keep_app_record(self, environment: tuple) -> None:
        """The prelude's App schema of the previous analyses when the environment is the same object
        (it is checked from the same trees: the same schema, as new objects), so that the records
        made from it (`_app_record`) can be too."""
        if self.memo is None:
            return
        kept = self.memo.app_record
        if kept is not None and kept[0] is environment:
            self.app_record = kept[1]
        self.memo.app_record = (environment, self.app_record)

    def _app_record(self, decl: ast.ResourceDecl, name: str, values_type: RecordType | None,
                    environment: tuple) -> RecordType:
        """`_app_record(...)`, the previous analyses' record when the declaration and the environment
        are the same objects: its values schema is then declared by the same trees (the environment's),
        so it is the same schema. An unchanged app thus keeps its `values_type` object across analyses,
        which the lowering finds its digests by (`lower.memo`)."""
        if self.memo is None:
            return _app_record(self.app_record, name, values_type)
        kept = self.memo.app_records.get(decl)
        if kept is not None and kept[0] is environment and kept[1] is self.app_record:
            return kept[2]
        record = _app_record(self.app_record, name, values_type)
        self.memo.app_records.put(decl, (environment, self.app_record, record))
        return record

    def _own_conflicts(self, source: str, leaves: list[Leaf]) -> None:
        """Report the conflicts of a unit's own body (only those: `_written` layers its leaves).
        There are none unless two leaves set one path: most bodies make no winners at all."""
        if len({leaf.path for leaf in leaves}) < len(leaves):
            self._winners([Targeted(source, True, leaves)], Layer.APP)

    @contextmanager
    def _unit_context(self, kind: str):
        """Strings checked inside may read the context of a unit of `kind` (`${app.name}` ...)."""
        outer, self.checker.unit_context = self.checker.unit_context, UnitContext(kind, self.placement.labels_type)
        try:
            yield
        finally:
            self.checker.unit_context = outer

    def _first_resolution(self, kind: str, name: str, decl: ast.ResourceDecl, leaves: list[Leaf],
                          below: Base | None) -> tuple[list[Leaf], Base | None]:
        """A unit's own leaves and the defaults and templates below it, resolved for the first
        cluster (by name) it is placed on: its base (an app's chart values.yaml); the clusters where
        they resolve otherwise patch the difference."""
        clusters = sorted(self.placement.matches.get(id(decl), ()))
        cluster = clusters[0] if clusters else None
        env = self.placement.cluster_env.get(cluster) if cluster else None
        where = f"{kind} `{name}` on cluster `{cluster}`" if cluster else f"{kind} `{name}`"
        context = self.contexts.context(kind, name, env, cluster)
        key = unit_key(kind, name)
        below_leaves = self._below.get(key, (None, _NO_LEAVES))[1]
        own, under = self.contexts.resolve(leaves, context, where), self.contexts.resolve(below_leaves, context, where)
        self._context_base[key] = (own, under)
        return own, _resolved_below(below, below_leaves, under)

    def _context_read_of(self, key: str, leaves: list[Leaf], below: Base | None) -> frozenset:
        """What a unit's own leaves and the defaults and templates below it read of the context."""
        return self.contexts.reads(leaves) | self.contexts.reads(self._below.get(key, (None, _NO_LEAVES))[1])

    def _base(self, kind: str, name: str, decl: ast.ResourceDecl, record: RecordType, leaves: list[Leaf]) -> Base | None:
        """The defaults and templates below a declaration; their leaves are kept for explain and hover."""
        below = self.base_layers.base(kind, name, decl, record, leaves)
        if below is not None:
            self._below[unit_key(kind, name)] = (below, [leaf for leaf, _ in below.winners])
            self.base_leaves[unit_key(kind, name)] = below.chain
        return below

    def _base_body(self, source: BaseSource, kind: str, record: RecordType) -> list[Leaf]:
        """The leaves of a template's or defaults block's body for a unit of `record`. An app's
        are checked once against the prelude's App (reused across analyses like an app body's),
        and again per values schema only when the body sets `values` without naming its schema
        (as an `all { }` body is); a release's or resource's per declaration schema."""
        if kind == "app":
            if id(source) not in self._generic_checks:
                with self._unit_context(kind):
                    leaves, annotated = self._checked_app_body(source, self.checker.scope_of(source), self._environment)
                self._generic_checks[id(source)] = (leaves, annotated is not None)
            leaves, annotated = self._generic_checks[id(source)]
            values = record.fields[AppField.VALUES].type
            if annotated or values is self.app_record.fields[AppField.VALUES].type or not touches_values(source.body, AppField.VALUES):
                return leaves
            key = (id(source), id(values))
        else:
            key = (id(source), id(record))
        if key not in self._base_checks:
            with self._unit_context(kind):
                self._base_checks[key] = self._checked_body(source.body, record, self.checker.scope_of(source))
        return self._base_checks[key]

    def _check_unused_sources(self) -> None:
        """Check the templates and defaults blocks no declaration used, against their kind's
        prelude schema, so a mistake in one (a field set twice in a template too) shows before
        anything uses it."""
        checked = {key[0] for key in self._base_checks} | set(self._generic_checks)
        sources = [*self.resolution.templates.values(), *(block for blocks in self.resolution.defaults.values() for block in blocks)]
        for source in sources:
            if id(source) not in checked:
                leaves = self._base_body(source, source.kind, self._prelude_record(UNIT_SCHEMAS[source.kind]))
                if isinstance(source, ast.TemplateDecl):
                    self.base_layers.report_conflicts(source, leaves)

    def _unit_record(self, kind: str, decl: ast.ResourceDecl) -> RecordType:
        """The schema a release's or resource's body is checked against: the prelude's `Release`
        (its `values` typed by the release's vendored chart) or its kind's schema (a resource)."""
        if kind == "resource":
            return self.resource_kinds.record(decl)
        return self.chart_values.release_record(decl, self._prelude_record(UNIT_SCHEMAS[kind]))

    def _checked_app_body(self, decl: ast.ResourceDecl, scope: Scope, environment: tuple):
        """An app body's leaves and values schema.

        The language server analyses again after every edit, handing the session the very same
        trees for unchanged files. An app body whose tree and whose environment (everything else it
        can depend on) are unchanged gives the same leaves, diagnostics and references as last
        time, so they are reused (from the session's `memo`); its values schema is looked up again
        in this analysis's types."""
        cached = self.memo.app_checks.get(decl) if self.memo is not None else None
        if cached is not None and (cached[0] is environment or cached[0] == environment):
            _, leaves, annotation, diagnostics, references, reads_context = cached
            self.checker.reads_context |= reads_context
            self.checker.diagnostics.extend(diagnostics)
            self.checker.references.extend(references)
            return leaves, self._schema_of(annotation, scope)
        diagnostics_before, references_before = len(self.checker.diagnostics), len(self.checker.references)
        annotations: dict = {}
        leaves = self._checked_body(decl.body, self.app_record, scope, annotations)
        values_type = annotations.get((AppField.VALUES,))
        annotation = _values_annotation(decl.body) if values_type is not None else None
        if self.memo is not None:  # with whether its leaves read the context (which a reuse sets in the checker)
            self.memo.app_checks.put(decl, (environment, leaves, annotation, self.checker.diagnostics[diagnostics_before:],
                                            self.checker.references[references_before:],
                                            any(reads_of(leaf.value) for leaf in leaves)))
        return leaves, values_type

    def _schema_of(self, annotation: ast.TypeName | None, scope: Scope) -> RecordType | None:
        if annotation is None:
            return None
        declared = self.checker.declaration_named(annotation.names, scope)
        schema = self.checker.named_type(declared) if declared is not None else None
        return schema if isinstance(schema, RecordType) else None

    def _checked_body(self, body, record, scope, annotations=None) -> list[Leaf]:
        return self.checker.body(body, record, scope, annotations=annotations)

    def _targeted(self, decl: ast.ResourceDecl, units: dict[str, _Unit], source: str) -> dict[str, list[Targeted]]:
        """Leaves of an env, overlay or cluster body, checked per app, release or resource they
        apply to (by `unit_key`)."""
        per_app: dict[str, list[Targeted]] = {key: [] for key in units}
        scope = self.checker.scope_of(decl)
        for stmt in decl.body.stmts:
            if isinstance(stmt, ast.AppTarget):
                key = unit_key(stmt.kind, stmt.name.text)
                unit = units.get(key)
                if unit is None:
                    declared = [other.name for other in units.values() if other.kind == stmt.kind]
                    self.checker._unknown_name(stmt.name.span, stmt.name.text, stmt.kind, did_you_mean(stmt.name.text, declared))
                    continue
                self.checker.references.append((stmt.name.span, unit.decl))
                with self._unit_context(stmt.kind):
                    leaves = self._checked_body(stmt.body, unit.record, scope)
                per_app[key].append(Targeted(source, True, leaves))
            elif isinstance(stmt, ast.AllTarget):
                # Apps differ only in their `values` schema: check the body once per schema.
                by_schema: dict[int, list[Leaf]] = {}
                for app in (unit for unit in units.values() if unit.kind == "app"):
                    schema = id(app.record.fields[AppField.VALUES].type)
                    if schema not in by_schema:
                        with self._unit_context("app"):
                            by_schema[schema] = self._checked_body(stmt.body, app.record, scope)
                    per_app[app.name].append(Targeted(source, False, by_schema[schema]))
            elif not (decl.kind == "cluster" and isinstance(stmt, ast.Block) and stmt.path.dotted == CLUSTER_LABELS):
                self.error(codes.MISPLACED_STATEMENT, stmt.span, f"inside {decl.kind} `{decl.name.text}` values go in `app NAME {{ ... }}` or `all {{ ... }}`",
                           notes=(f"e.g. `all {{ {stmt.path.dotted} = ... }}`",))
        return per_app

    # ---- instances -----------------------------------------------------------------------------

    def _instances(self, apps: dict[str, _Unit]) -> tuple[dict[str, ClusterModel], dict[str, dict[str, dict]]]:
        """Every cluster with its instances of apps, releases and resources, and what each env's
        layer sets for each of them (by `unit_key`)."""
        decls = self.resolution.resources
        matches, cluster_env = self.placement.matches, self.placement.cluster_env
        env_leaves = {name: self._targeted(d, apps, f"env {name}") for name, d in decls["env"].items()}
        overlay_leaves = {name: self._targeted(d, apps, f"overlay {name}") for name, d in decls["overlay"].items()}
        cluster_leaves = {name: self._targeted(d, apps, f"cluster {name}") for name, d in decls["cluster"].items()}
        self.layer_leaves = {Layer.ENV: env_leaves, Layer.SELECTOR: overlay_leaves, Layer.CLUSTER: cluster_leaves}
        cache: dict[tuple, Instance] = {}
        kept = self._kept_instances(apps)
        reported: set = set()
        models: dict[str, ClusterModel] = {}
        env_values: dict[str, dict[str, dict]] = {}
        placed = {name: frozenset(matches.get(id(app.decl), ())) for name, app in apps.items()}
        app_names = sorted(apps)
        by_name = sorted(((apps[key].name, key, apps[key].kind) for key in app_names))  # once: the clusters' order
        touching_by_overlays: dict[tuple, dict[str, tuple]] = {}  # clusters share overlay combinations
        reads_by_key: dict[tuple, frozenset] = {}  # what the leaves of a pair read of the context
        for cluster, labels in self.placement.cluster_labels.items():
            decl = decls["cluster"][cluster]
            env = cluster_env.get(cluster)
            instances: dict[str, Instance] = {}
            if env is not None:
                overlays = tuple(name for name, d in decls["overlay"].items() if cluster in matches.get(id(d), ()))
                if overlays not in touching_by_overlays:
                    touching_by_overlays[overlays] = {
                        app_name: tuple(o for o in overlays if overlay_leaves[o][app_name]) for app_name in app_names}
                touching_of = touching_by_overlays[overlays]
                own_leaves = cluster_leaves[cluster]
                for app_name in app_names:
                    if cluster not in placed[app_name]:
                        continue
                    own = own_leaves[app_name]
                    touching = touching_of[app_name]
                    key = (app_name, env, touching, cluster if own else None)
                    read = None
                    if self.checker.reads_context:
                        read = reads_by_key.get(key)  # pairs of one key read the same leaves
                        if read is None:
                            read = reads_by_key[key] = self._context_read(
                                apps[app_name], self._layers(env_leaves, overlay_leaves, app_name, env, touching, own))
                    if read:
                        key += (self.contexts.key_on(read, apps[app_name].kind, apps[app_name].name, env, cluster),)
                    instance = cache.get(key)
                    if instance is None:
                        instance = kept.get(key)
                        if instance is None:
                            layers = self._layers(env_leaves, overlay_leaves, app_name, env, touching, own)
                            if read:
                                context = self.contexts.context(apps[app_name].kind, apps[app_name].name, env, cluster)
                                instance = self._context_instance(apps[app_name], env, layers, context, reported, env_values)
                            else:
                                instance = self._instance(apps[app_name], env, layers, reported)
                        cache[key] = instance
                        if env:
                            env_values.setdefault(env, {}).setdefault(app_name, instance.env_values)
                    instances[app_name] = instance
            models[cluster] = _cluster_model(cluster, decl, labels, env or "", instances, by_name)
        self._keep_instances(apps, cache, reported)
        return models, env_values

    # Instances reused across analyses (the language server's): an app's instance is a function of
    # its base (values and origins: the session memo's very objects), the env, overlay and cluster
    # bodies aimed at it and the placement (all in unchanged `_environment` files), and the key
    # (env, overlays, cluster). Kept only from an analysis whose instances reported nothing (no
    # conflict, no missing field; `reported` empty): what a kept instance's computation would report
    # is then nothing either, and skipping it loses no diagnostic. Never for instances that read the
    # context (their keys say what they read; their bases are made again each time).
    def _kept_instances(self, apps: dict[str, _Unit]) -> dict[tuple, Instance]:
        kept: dict[tuple, Instance] = {}
        for unit in apps.values() if self.memo is not None else ():
            entry = self.memo.instances.get(unit.values) if unit.kind == "app" else None
            if entry is not None and entry[0] is unit.origins and (entry[1] is self._environment or entry[1] == self._environment):
                kept.update(entry[2])
        return kept

    def _keep_instances(self, apps: dict[str, _Unit], cache: dict[tuple, Instance], reported: set) -> None:
        if self.memo is None or reported:
            return
        by_app: dict[str, dict[tuple, Instance]] = {}
        for key, instance in cache.items():
            if len(key) == 4:  # not resolved for a context
                by_app.setdefault(key[0], {})[key] = instance
        for name, unit in apps.items():
            if unit.kind == "app" and name in by_app:
                self.memo.instances.put(unit.values, (unit.origins, self._environment, by_app[name]))

    @staticmethod
    def _layers(env_leaves, overlay_leaves, app_name: str, env: str, touching: tuple, own: list) -> dict[Layer, list[Targeted]]:
        """The leaves of the env, the overlays and the cluster aimed at one app on one cluster."""
        return {
            Layer.ENV: env_leaves[env][app_name] if env else [],
            Layer.SELECTOR: [t for o in touching for t in overlay_leaves[o][app_name]],
            Layer.CLUSTER: own,
        }

    def _context_read(self, unit: _Unit, layers: dict[Layer, list[Targeted]]) -> frozenset:
        """The context values a unit's leaves read on a cluster, at every layer."""
        below_leaves = self._below.get(unit_key(unit.kind, unit.name), (None, _NO_LEAVES))[1]
        groups = [unit.leaves, below_leaves] + [group.leaves for targeted in layers.values() for group in targeted]
        return frozenset().union(*(self.contexts.reads(leaves) for leaves in groups))

    def _context_instance(self, unit: _Unit, env: str, layers: dict[Layer, list[Targeted]], context: dict,
                          reported: set, env_values: dict) -> Instance:
        """The instance of a unit whose leaves read the context, resolved for one cluster. Its
        `cluster_values` also patch what the app and env layers resolve to here unlike in the
        shared base and env values (those of the first cluster by name), so that base < env <
        cluster values stay its effective values on every cluster."""
        where = f"{unit.kind} `{unit.name}` on cluster `{context['cluster', 'name']}`"
        key, shared_base = unit_key(unit.kind, unit.name), unit.values
        # What the app and env layers read tells the env stages apart (not what the overlays or the cluster read).
        env_key = self.contexts.key(self._context_read(unit, {Layer.ENV: layers[Layer.ENV]}), context)
        below, below_leaves = self._below.get(key, (None, _NO_LEAVES))
        leaves, under = self.contexts.resolve(unit.leaves, context, where), self.contexts.resolve(below_leaves, context, where)
        base_own, base_under = self._context_base.get(key, (unit.leaves, below_leaves))
        same_base = leaves is base_own and under is base_under
        if not same_base:
            if (id(leaves), id(under)) not in self._resolved_units:
                self._resolved_units[id(leaves), id(under)] = _Unit(unit.kind, unit.name, unit.decl, unit.record, leaves, *_written(
                    unit.kind, unit.name, unit.record, leaves, _resolved_below(below, below_leaves, under)))
            unit = self._resolved_units[id(leaves), id(under)]
        layers = {layer: [Targeted(group.source, group.specific, self.contexts.resolve(group.leaves, context, where))
                          for group in targeted] for layer, targeted in layers.items()}
        instance = self._instance(unit, env, layers, reported, env_key)
        shared_env = env_values.get(env, {}).get(key, instance.env_values)
        made_by = self._env_made_by.setdefault((env, key), (same_base, env_key))
        if made_by == (True, env_key) and same_base:  # its base and env values are the shared ones
            return Instance(instance.app, env, instance.values, instance.origins, shared_env, instance.cluster_values)
        shared = merge(merge(shared_base, shared_env), instance.cluster_values)
        correction = patch(instance.values, shared)
        cluster_values = merge(instance.cluster_values, correction) if correction else instance.cluster_values
        return Instance(instance.app, env, instance.values, instance.origins, shared_env, cluster_values)

    def _instance(self, app: _Unit, env: str, layers: dict[Layer, list[Targeted]], reported: set, variant: tuple = ()) -> Instance:
        env_values, env_origins, env_patch = self._env_stage(app, env, layers[Layer.ENV], reported, variant)
        winners = self._selector_stage(layers[Layer.SELECTOR], reported) + self._winners(layers[Layer.CLUSTER], Layer.CLUSTER, reported)
        if not winners:
            return Instance(app.name, env, env_values, env_origins, env_patch, {})
        missing: list = []
        values, origins = apply_leaves(app.record, env_values, env_origins, winners, missing)
        self._report_missing(app, missing, reported)
        return Instance(app.name, env, values, origins, env_patch, layer_patch(values, env_values, winners))

    def _selector_stage(self, targeted: list[Targeted], reported: set) -> Winners:
        """The winning overlay leaves; the same leaves (an `all` body checked once per values
        schema) give the same winners, so they are computed once."""
        key = tuple((group.source, group.specific, id(group.leaves)) for group in targeted)
        if key not in self._selector_winners:
            self._selector_winners[key] = self._winners(targeted, Layer.SELECTOR, reported)
        return self._selector_winners[key]

    def _env_stage(self, app: _Unit, env: str, targeted: list[Targeted], reported: set, variant: tuple = ()) -> tuple[dict, dict, dict]:
        """The app's values after the env layer, their origins, and what the env changed;
        the same for every cluster of the env (with the same context values, `variant`), so computed once."""
        key = (app.kind, app.name, env, variant)  # an app and a release may share a name
        if key not in self._env_stages:
            winners = self._winners(targeted, Layer.ENV, reported)
            missing: list = []
            values, origins = apply_leaves(app.record, app.values, app.origins, winners, missing)
            self._report_missing(app, missing, reported)
            self._env_stages[key] = (values, origins, layer_patch(values, app.values, winners))
        return self._env_stages[key]

    def _report_missing(self, app: _Unit, missing: list, reported: set) -> None:
        for path, span in missing:
            if (span, path) not in reported:
                reported.add((span, path))
                self.error(codes.MISSING_FIELD, span, f"this makes `{'.'.join(path[:-1])}` of {app.kind} `{app.name}` present, "
                           f"but nothing sets its required field `{path[-1]}`")

    def _winners(self, targeted: list[Targeted], layer: Layer, reported: set | None = None) -> Winners:
        """The winning leaves of one layer; reports its conflicts (each once when `reported` is given)."""
        winners, conflicts = winning_leaves(targeted, layer)
        for conflict in conflicts:
            if reported is not None:
                if conflict.key in reported:
                    continue
                reported.add(conflict.key)
            self.checker.diagnostics.append(conflict.diagnostic(self.where_both_apply(conflict.kept_source, conflict.other_source)))
        return winners

    def _required(self, app: _Unit, below: Base | None) -> None:
        if not app.missing or self._syntax_error_in(app.decl) or (below is not None and not below.complete):
            return
        attempted = ast.assigned_paths(app.decl.body) | (below.assigned if below is not None else frozenset())
        for path in app.missing:
            if path in attempted:
                continue  # assigned, but the value was wrong: that error is reported already
            self.error(codes.MISSING_FIELD, app.decl.name.span, f"{app.kind} `{app.name}` does not set the required field `{'.'.join(path)}`")

    def _syntax_error_in(self, decl: ast.ResourceDecl) -> bool:
        """A declaration the parser had to repair may lack what the user did write: saying a field
        is missing there would only repeat the syntax error in other words."""
        return any(d.code.startswith("E01") and decl.span.contains(d.span) for d in self.program.diagnostics)

    # ---- settings declarations ------------------------------------------------------------------

    def _settings(self, kind: str) -> dict[str, Settings]:
        return {name: self._one_setting(kind, decl) for name, decl in sorted(self.resolution.resources[kind].items())}

    def _delivery(self) -> Settings:
        decl = self.resolution.singletons.get("delivery")
        if decl is None:
            record = self._prelude_record(SETTINGS_SCHEMAS["delivery"])
            values, _ = fill_defaults(record, {}, {}, ())
            return Settings("delivery", "delivery", None, None, values)
        return self._one_setting("delivery", decl)

    def _one_setting(self, kind: str, decl: ast.ResourceDecl) -> Settings:
        record = self._prelude_record(SETTINGS_SCHEMAS[kind])
        scope = self.checker.scope_of(decl)
        leaves = self._checked_body(decl.body, record, scope)
        self._winners([Targeted(kind, True, leaves)], Layer.APP)
        missing: list = []
        values, _ = fill_defaults(record, build_tree(leaves), {}, (), missing)
        attempted = ast.assigned_paths(decl.body)
        for path in missing:
            if path in attempted or self._syntax_error_in(decl):
                continue
            span = decl.name.span if decl.name else decl.span
            self.error(codes.MISSING_FIELD, span, f"{kind} does not set the required field `{'.'.join(path)}`")
        name = decl.name.text if decl.name else kind
        clusters = tuple(sorted(self.placement.matches.get(id(decl), ()))) if kind in SELECTOR_KINDS else ()
        return Settings(kind, name, decl.span, decl.doc, values, clusters)


def _environment(program, resolution: Resolution) -> tuple:
    """What an app body's check can depend on besides the body itself: every file that declares
    more than apps (types, schemas, lets, envs ...; by tree identity), the names of all resources,
    and every file's imports."""
    def only_apps(tree: ast.File) -> bool:
        return all(isinstance(d, (ast.PackageDecl, ast.ImportDecl)) or (isinstance(d, ast.ResourceDecl) and d.kind == "app")
                   for d in tree.decls)

    # (path, id, tree): compared by id, and the tree kept with it, so that while a memo holds this
    # environment no other tree can take that id (equal ids then mean the very same tree).
    shared = tuple((path, id(tree), tree) for path, tree in sorted(program.files.items(), key=lambda item: item[0])
                   if not only_apps(tree))
    names = tuple((kind, tuple(sorted(declared))) for kind, declared in sorted(resolution.resources.items()))
    imports = tuple(sorted((path, tuple(sorted(aliases.items()))) for path, aliases in resolution.file_imports.items()))
    return shared, names, imports


def _values_annotation(body: ast.Body) -> ast.TypeName | None:
    """The schema named by the app's `values: Schema { ... }` block."""
    for stmt in body.stmts:
        if isinstance(stmt, ast.Block) and stmt.path.dotted == AppField.VALUES and stmt.annotation is not None:
            return stmt.annotation
    return None


@dataclass(slots=True)
class _Unit:
    """An app's (release's, resource's) checked body and its values as written (defaults + its
    own layer; for an app, the chart's values.yaml)."""

    kind: str
    name: str
    decl: ast.ResourceDecl
    record: RecordType
    leaves: list[Leaf]
    values: dict[str, Any]
    origins: dict[tuple, Origin]
    missing: list  # paths of the required fields it does not set


_NO_LEAVES: list[Leaf] = []  # the leaves below a unit without defaults or templates (never changed)


def _resolved_below(below: Base | None, leaves: list[Leaf], resolved: list[Leaf]) -> Base | None:
    """`below` with the leaves of its winners resolved (`resolved`, made from `leaves`)."""
    if below is None or resolved is leaves:
        return below
    return dataclasses.replace(below, winners=[(leaf, origin) for leaf, (_, origin) in zip(resolved, below.winners)])


def _written(kind: str, name: str, record: RecordType, leaves: list[Leaf], below: Base | None = None) -> tuple[dict, dict, list]:
    """(values, origins, missing) of an app (release, resource) as written: its leaves over those of
    the defaults and templates below it, over the schema's defaults. Required fields are missing
    only when no layer of the base sets them."""
    own = [(leaf, Origin(Layer.APP, leaf.span, f"{kind} {name}")) for leaf in leaves]
    layered = [*below.winners, *own] if below is not None else own
    origins = {leaf.path: origin for leaf, origin in layered}
    missing: list = []
    values, origins = fill_defaults(record, build_tree([leaf for leaf, _ in layered]), origins, (), missing)
    return values, origins, missing


def _declared_in(key: str) -> str:
    """The source of a declaration's own layer (`Origin.source`) from its `unit_key`."""
    return key if " " in key else f"app {key}"


def _cluster_model(name: str, decl: ast.ResourceDecl, labels: dict, env: str, instances: dict[str, Instance],
                   by_name: list[tuple[str, str, str]]) -> ClusterModel:
    """A cluster with its instances split by kind (each by declaration name, sorted); `by_name`:
    every unit's (name, key, kind), sorted (the same for every cluster: sorted once)."""
    by_kind: dict[str, dict[str, Instance]] = {kind: {} for kind in UNIT_KINDS}
    for unit_name, key, kind in by_name:
        instance = instances.get(key)
        if instance is not None:
            by_kind[kind][unit_name] = instance
    return ClusterModel(name, decl.name.span, decl.doc, labels, env, by_kind["app"],
                        by_kind["release"], by_kind["resource"])


def _app_record(app_record: RecordType, name: str, values_type: RecordType | None) -> RecordType:
    """The App schema of one app: its `values` field typed by the app's own schema."""
    fields = dict(app_record.fields)
    if values_type is not None:
        base = fields[AppField.VALUES]
        fields[AppField.VALUES] = Field(AppField.VALUES, values_type, base.optional, {}, True, values_type.doc or base.doc)
    return RecordType(f"App({name})", fields, app_record.doc)


def _features(trees: list[dict]) -> frozenset[str]:
    """The chart parts any of an app's value trees (as written, and on each cluster) needs."""
    features = set()
    for values in {id(v): v for v in trees}.values():  # instances share trees
        features.update(part for part in TEMPLATE_FIELDS if part in values)
        features.update(part for part in MAP_PART_FIELDS if values.get(part))
        if values.get(AppField.PORTS):
            features.add("service")
        features.add(WORKLOAD_PARTS[values.get(WorkloadField.WORKLOAD, DEFAULT_WORKLOAD)])
    return frozenset(features)
