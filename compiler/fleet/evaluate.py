"""Evaluate pass: checked declarations -> the `Fleet` (cluster x app x env matrix).

Input: `Program`, `Resolution`, and a `Checker` (which keeps collecting
diagnostics). Output: a `model.Fleet` and the label schema.

Steps: type the cluster labels against the `labels` schema; type-check every
selector against it and resolve it to a set of clusters; bind each cluster to
exactly one env; place apps; then, for every (cluster, app), merge the layers
schema default < app < env < selector overlay < cluster override. Inside one
layer an `app NAME { }` block beats an `all { }` block; two different values for
one field at the same layer and specificity are an error naming both places.
Every effective leaf keeps its `Origin`. Last, `fleet_checks` reports what the API server
or Flux would refuse in the effective values (its diagnostics join the checker's).

Invariants: identical inputs give identical models (all maps sorted or in
declaration order); evaluation of a (cluster, app) pair depends only on its env,
the overlays matching the cluster and the cluster's own overrides, so pairs with
the same key share one computation.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

from gop.compiler.syntax import ast
from gop.compiler.diagnostics import Fix, Related, diagnostic
from gop.compiler.fleet.checks import clusters_text, fleet_diagnostics
from gop.compiler.fleet.model import AppModel, ClusterModel, EnvModel, Fleet, Instance, Layer, Origin, Settings
from gop.compiler.semantic.resolve import Resolution
from gop.compiler.core.span import Span
from gop.compiler.diagnostics.suggest import did_you_mean
from gop.compiler.semantic.check import INVALID, PRESENT, Checker, Leaf, Scope, build_tree
from gop.compiler.semantic.types import AnyType, Field, MapType, RecordType, StringType, Type, describe_value
from gop.compiler.diagnostics import codes
from gop.compiler.language import SETTINGS_SCHEMAS

_TEMPLATE_FEATURES = ("ingress", "autoscaling", "serviceAccount")
MAX_RELEASE_NAME = 53  # Helm's limit, and the Flux HelmRelease schema's for spec.releaseName


@dataclass(slots=True)
class Targeted:
    """Leaves of one declaration aimed at one app (or all apps) at one layer."""

    source: str  # "env prod", "overlay cn-ingress", "cluster prod-eu-1"
    specific: bool  # `app NAME { }` (True) or `all { }` (False)
    leaves: list[Leaf]


@dataclass(slots=True)
class Evaluation:
    fleet: Fleet
    labels_type: RecordType | MapType
    selector_matches: dict[int, tuple[str, ...]] = field(default_factory=dict)  # id(decl) -> clusters
    # Every layer's checked leaves, kept so `gopc explain` and hover can show the whole chain of a value.
    app_leaves: dict[str, list[Leaf]] = field(default_factory=dict)
    layer_leaves: dict[Layer, dict[str, dict[str, list[Targeted]]]] = field(default_factory=dict)

    def chain(self, cluster: str, app: str, path: tuple[str, ...]) -> list[tuple[Origin, tuple[str, ...], Any, bool]]:
        """Every assignment to `path` (or below it) for `app` on `cluster`, lowest layer first,
        each with its value and whether it is the effective one."""
        instance = self.fleet.clusters[cluster].instances[app]
        found: list[tuple[Origin, Any]] = []
        for leaf in self.app_leaves.get(app, []):
            if leaf.path[: len(path)] == path:
                found.append((Origin(Layer.APP, leaf.span, f"app {app}"), leaf))
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
                            found.append((Origin(layer, leaf.span, group.source), leaf))
        effective = {(p, origin.span) for p, origin in instance.origins.items() if p[: len(path)] == path}
        return [(origin, leaf.path, leaf.value, (leaf.path, origin.span) in effective)
                for origin, leaf in found if leaf.value is not PRESENT]

    overlay_clusters: dict[str, tuple[str, ...]] = field(default_factory=dict)


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
        self.prelude = resolution.module_symbols.get("std/prelude", {})
        self.app_record = self._prelude_record("App")
        self.matches: dict[int, tuple[str, ...]] = {}
        self.layer_leaves: dict[Layer, dict[str, dict[str, list[Targeted]]]] = {}
        self.mislabelled: set[str] = set()  # clusters with a label error: env binding is moot for them
        self.selector_values: dict[int, Any] = {}  # id(expr) -> its value, for matching
        self._env_stages: dict[tuple[str, str], tuple[dict, tuple[dict, dict]]] = {}
        self._selector_winners: dict[tuple, list] = {}  # apps of one values schema share overlay leaves

    def _prelude_record(self, name: str) -> RecordType:
        return self.checker.named_type(self.prelude[name])

    def error(self, code: str, span, message: str, **extra) -> None:
        self.checker.diagnostics.append(diagnostic(code, span, message, **extra))

    # ---- the whole fleet ----------------------------------------------------------------

    def run(self) -> Evaluation:
        labels_type = self._labels_type()
        clusters = self._cluster_labels(labels_type)
        decls = self.resolution.resources
        for kind in ("env", "overlay", "app"):
            for decl in decls[kind].values():
                self.matches[id(decl)] = self._select(decl, labels_type, clusters)
        cluster_env = self._bind_envs(clusters)
        apps = self._apps()
        env_models = {name: EnvModel(name, d.name.span, d.doc, tuple(sorted(c for c, e in cluster_env.items() if e == name)))
                      for name, d in decls["env"].items()}
        cluster_models = self._instances(apps, clusters, cluster_env, env_models)
        self._placement_warnings(apps, cluster_models)
        self._object_names(apps)
        self._dependencies(apps, cluster_models)
        self._ports(apps, cluster_models)
        fleet = Fleet(
            package=self.resolution.package,
            root=self.root,
            apps={name: apps[name].model for name in sorted(apps)},
            envs=dict(sorted(env_models.items())),
            clusters=cluster_models,
            sources=self._settings("source"),
            registries=self._settings("registry"),
            delivery=self._delivery(),
            receivers=self._settings("receiver"),
            providers=self._settings("provider"),
            alerts=self._settings("alert"),
            automations=self._settings("automation"),
        )
        decls = self.resolution.resources
        evaluation = Evaluation(
            fleet, labels_type, self.matches,
            app_leaves={name: app.leaves for name, app in apps.items()},
            layer_leaves=self.layer_leaves,
            overlay_clusters={name: self.matches.get(id(d), ()) for name, d in decls["overlay"].items()},
        )
        self.checker.diagnostics.extend(fleet_diagnostics(evaluation, self.resolution))
        return evaluation

    # ---- labels and selectors --------------------------------------------------------------

    def _labels_type(self) -> RecordType | MapType:
        decl = self.resolution.labels
        if decl is None:
            return MapType(StringType(), StringType())
        scope = self.checker.scope_of(decl)
        return RecordType("labels", self.checker.fields(decl.fields, scope), decl.doc)

    def _cluster_labels(self, labels_type) -> dict[str, dict[str, Any]]:
        clusters: dict[str, dict[str, Any]] = {}
        for name, decl in sorted(self.resolution.resources["cluster"].items()):
            scope = self.checker.scope_of(decl)
            blocks = [s for s in decl.body.stmts if isinstance(s, ast.Block) and s.path.dotted == "labels"]
            labels: dict[str, Any] = {}
            before = len(self.checker.diagnostics)
            for block in blocks:
                leaves = self._label_leaves(block.body, labels_type, scope)
                labels.update(build_tree([leaf for leaf in leaves if leaf.value is not PRESENT]))
            if not blocks:
                self.error(codes.MISSING_LABEL, decl.name.span, f"cluster `{name}` has no labels",
                           notes=("add `labels { ... }` with the labels the `labels` declaration lists",))
            elif isinstance(labels_type, RecordType):
                written = {stmt.path.keys[0].text for block in blocks for stmt in block.body.stmts if isinstance(stmt, ast.Assign)}
                missing = [f for f, info in labels_type.fields.items()
                           if f not in labels and f not in written and not info.optional and not info.has_default]
                if missing:
                    self.error(codes.MISSING_LABEL, blocks[0].path.span, f"cluster `{name}` lacks the required label{'s' if len(missing) > 1 else ''} "
                               + ", ".join(f"`{m}`" for m in missing))
                for key, info in labels_type.fields.items():
                    if key not in labels and info.has_default:
                        labels[key] = info.default
            if len(self.checker.diagnostics) > before:
                self.mislabelled.add(name)
            clusters[name] = labels
        return clusters

    def _label_leaves(self, body: ast.Body, labels_type, scope: Scope) -> list[Leaf]:
        leaves = []
        for stmt in body.stmts:
            if not isinstance(stmt, ast.Assign) or len(stmt.path.keys) != 1:
                self.error(codes.UNKNOWN_LABEL, stmt.span, "labels are set as `key = value`")
                continue
            key = stmt.path.keys[0]
            label_type = self._label_field(key.text, key.span, labels_type)
            if label_type is None:
                continue
            value = self._label_value(stmt.value, label_type, scope, key.text)
            if value is not INVALID:
                leaves.append(Leaf((key.text,), value, stmt.span))
        return leaves

    def _label_field(self, key: str, span, labels_type) -> Type | None:
        if isinstance(labels_type, MapType):
            return labels_type.value
        info = labels_type.fields.get(key)
        if info is None:
            hint = did_you_mean(key, labels_type.fields)
            notes = [f"did you mean `{hint}`?"] if hint else []
            notes.append("declared labels: " + ", ".join(labels_type.fields))
            fixes = [Fix(span, hint, f"change to `{hint}`")] if hint else []
            self.error(codes.UNKNOWN_LABEL, span, f"unknown label `{key}`", notes=notes, fixes=fixes)
            return None
        return info.type

    def _label_value(self, expr, label_type: Type, scope: Scope, key: str) -> Any:
        before = len(self.checker.diagnostics)
        value = self.checker.value(expr, label_type, scope)
        for index in range(before, len(self.checker.diagnostics)):
            found = self.checker.diagnostics[index]
            if found.code == codes.VALUE_NOT_ALLOWED:  # an enum miss on a label has its own code
                self.checker.diagnostics[index] = replace(found, code=codes.INVALID_LABEL_VALUE, message=f"invalid value for label `{key}`: {found.message}",
                                                          severity=found.severity)
        return value

    def _select(self, decl: ast.ResourceDecl, labels_type, clusters) -> tuple[str, ...]:
        if decl.selector is None:
            if decl.kind == "env":
                self.error(codes.ENV_WITHOUT_SELECTOR, decl.name.span, f"env `{decl.name.text}` needs a `where` selector to choose its clusters",
                           notes=(f'e.g. `env {decl.name.text} where environment == "{decl.name.text}" {{ ... }}`',))
                return ()
            return tuple(clusters)
        scope = self.checker.scope_of(decl)
        if not self._check_selector(decl.selector, labels_type, scope):
            return ()
        matched = tuple(name for name, labels in clusters.items() if _matches(decl.selector, labels, self.selector_values))
        if not matched and clusters:
            self.error(codes.SELECTOR_MATCHES_NOTHING, decl.selector.span, f"the selector of {decl.kind} `{decl.name.text}` matches no cluster")
        return matched

    def _check_selector(self, selector, labels_type, scope: Scope) -> bool:
        if isinstance(selector, (ast.SelAnd, ast.SelOr)):
            left = self._check_selector(selector.left, labels_type, scope)
            return self._check_selector(selector.right, labels_type, scope) and left
        if isinstance(selector, ast.SelNot):
            return self._check_selector(selector.operand, labels_type, scope)
        label_type = self._label_field(selector.label.text, selector.label.span, labels_type)
        if label_type is None:
            return False
        if isinstance(selector, ast.SelExists):
            return True
        values = [selector.value] if isinstance(selector, ast.SelCompare) else list(selector.values.items)
        ok = True
        for value in values:
            computed = self._label_value(value, label_type, scope, selector.label.text)
            self.selector_values[id(value)] = computed
            ok = computed is not INVALID and ok
        return ok

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
        shared = set.intersection(*(set(self.matches.get(id(decl), ())) for decl in decls))
        clusters = [name for name in self.resolution.resources["cluster"] if name in shared]
        if not clusters:
            return ""
        matched_by = " and ".join(f"{decl.kind} {decl.name.text}" for decl in decls)
        return f", on {clusters_text(clusters)} (matched by {matched_by})"

    def _bind_envs(self, clusters) -> dict[str, str]:
        cluster_env: dict[str, str] = {}
        envs = self.resolution.resources["env"]
        for cluster in clusters:
            chosen = sorted(name for name, decl in envs.items() if cluster in self.matches.get(id(decl), ()))
            decl = self.resolution.resources["cluster"][cluster]
            if len(chosen) > 1:
                self.error(codes.CLUSTER_IN_SEVERAL_ENVS, decl.name.span, f"cluster `{cluster}` is chosen by several envs: {', '.join(chosen)}",
                           related=[Related(envs[e].selector.span, f"env `{e}` selects it") for e in chosen])
            elif not chosen:
                if envs and cluster not in self.mislabelled:
                    self.error(codes.CLUSTER_IN_NO_ENV, decl.name.span, f"no env selects cluster `{cluster}`",
                               notes=("every cluster belongs to exactly one env; check its labels against the envs' `where` selectors",))
                continue
            cluster_env[cluster] = chosen[0] if chosen else ""
        return cluster_env

    # ---- apps ---------------------------------------------------------------------------------

    def _apps(self) -> dict[str, _App]:
        apps: dict[str, _App] = {}
        environment = _environment(self.program, self.resolution)
        for name, decl in self.resolution.resources["app"].items():
            scope = self.checker.scope_of(decl)
            leaves, values_type = self._checked_app_body(decl, scope, environment)
            record = _app_record(self.app_record, name, values_type)
            conflicts(self, [Targeted(f"app {name}", True, leaves)], Layer.APP)
            # The base (defaults + app layer) is a function of the leaves and the schema, both unchanged on reuse.
            base = self.memo.app_bases.get(leaves) if self.memo is not None else None
            apps[name] = app = _App(name, decl, record, leaves, scope, base)
            if self.memo is not None:
                self.memo.app_bases.put(leaves, app.base)
        return apps

    def _checked_app_body(self, decl: ast.ResourceDecl, scope: Scope, environment: tuple):
        """An app body's leaves and values schema.

        The language server analyses again after every edit, handing the session the very same
        trees for unchanged files. An app body whose tree and whose environment (everything else it
        can depend on) are unchanged gives the same leaves, diagnostics and references as last
        time, so they are reused (from the session's `memo`); its values schema is looked up again
        in this analysis's types."""
        cached = self.memo.app_checks.get(decl) if self.memo is not None else None
        if cached is not None and cached[0] == environment:
            _, leaves, annotation, diagnostics, references = cached
            self.checker.diagnostics.extend(diagnostics)
            self.checker.references.extend(references)
            return leaves, self._schema_of(annotation, scope)
        diagnostics_before, references_before = len(self.checker.diagnostics), len(self.checker.references)
        annotations: dict = {}
        leaves = self._checked_body(decl.body, self.app_record, scope, annotations)
        values_type = annotations.get(("values",))
        annotation = _values_annotation(decl.body) if values_type is not None else None
        if self.memo is not None:
            self.memo.app_checks.put(decl, (environment, leaves, annotation, self.checker.diagnostics[diagnostics_before:],
                                            self.checker.references[references_before:]))
        return leaves, values_type

    def _schema_of(self, annotation: ast.TypeName | None, scope: Scope) -> RecordType | None:
        if annotation is None:
            return None
        declared = self.checker._lookup(annotation.names, scope, "type")
        schema = self.checker.named_type(declared) if declared is not None else None
        return schema if isinstance(schema, RecordType) else None

    def _checked_body(self, body, record, scope, annotations=None) -> list[Leaf]:
        return self.checker.body(body, record, scope, annotations=annotations)

    def _targeted(self, decl: ast.ResourceDecl, apps: dict[str, _App], source: str) -> dict[str, list[Targeted]]:
        """Leaves of an env, overlay or cluster body, checked per app they apply to."""
        per_app: dict[str, list[Targeted]] = {name: [] for name in apps}
        scope = self.checker.scope_of(decl)
        for stmt in decl.body.stmts:
            if isinstance(stmt, ast.AppTarget):
                app = apps.get(stmt.name.text)
                if app is None:
                    self.checker._unknown_name(stmt.name.span, stmt.name.text, "app", did_you_mean(stmt.name.text, apps))
                    continue
                self.checker.references.append((stmt.name.span, app.decl))
                leaves = self._dedup(lambda: self._checked_body(stmt.body, app.record, scope))
                per_app[app.name].append(Targeted(source, True, leaves))
            elif isinstance(stmt, ast.AllTarget):
                # Apps differ only in their `values` schema: check the body once per schema.
                by_schema: dict[int, list[Leaf]] = {}
                for app in apps.values():
                    schema = id(app.record.fields["values"].type)
                    if schema not in by_schema:
                        by_schema[schema] = self._dedup(lambda app=app: self._checked_body(stmt.body, app.record, scope))
                    per_app[app.name].append(Targeted(source, False, by_schema[schema]))
            elif not (decl.kind == "cluster" and isinstance(stmt, ast.Block) and stmt.path.dotted == "labels"):
                self.error(codes.MISPLACED_STATEMENT, stmt.span, f"inside {decl.kind} `{decl.name.text}` values go in `app NAME {{ ... }}` or `all {{ ... }}`",
                           notes=(f"e.g. `all {{ {stmt.path.dotted} = ... }}`",))
        return per_app

    def _dedup(self, check) -> list[Leaf]:
        """Run a check; drop diagnostics it repeats (an `all` body is checked once per app)."""
        before = len(self.checker.diagnostics)
        leaves = check()
        seen = {(d.code, d.span, d.message) for d in self.checker.diagnostics[:before]}
        fresh = [d for d in self.checker.diagnostics[before:] if (d.code, d.span, d.message) not in seen]
        del self.checker.diagnostics[before:]
        self.checker.diagnostics.extend(fresh)
        return leaves

    # ---- instances -----------------------------------------------------------------------------

    def _instances(self, apps, clusters, cluster_env, env_models) -> dict[str, ClusterModel]:
        decls = self.resolution.resources
        env_leaves = {name: self._targeted(d, apps, f"env {name}") for name, d in decls["env"].items()}
        overlay_leaves = {name: self._targeted(d, apps, f"overlay {name}") for name, d in decls["overlay"].items()}
        cluster_leaves = {name: self._targeted(d, apps, f"cluster {name}") for name, d in decls["cluster"].items()}
        self.layer_leaves = {Layer.ENV: env_leaves, Layer.SELECTOR: overlay_leaves, Layer.CLUSTER: cluster_leaves}
        cache: dict[tuple, Instance] = {}
        reported: set = set()
        models: dict[str, ClusterModel] = {}
        placed = {name: frozenset(self.matches.get(id(app.decl), ())) for name, app in apps.items()}
        app_names = sorted(apps)
        touching_by_overlays: dict[tuple, dict[str, tuple]] = {}  # clusters share overlay combinations
        for cluster, labels in clusters.items():
            decl = decls["cluster"][cluster]
            env = cluster_env.get(cluster)
            instances: dict[str, Instance] = {}
            if env is not None:
                overlays = tuple(name for name, d in decls["overlay"].items() if cluster in self.matches.get(id(d), ()))
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
                    if key not in cache:
                        layers = {
                            Layer.ENV: env_leaves[env][app_name] if env else [],
                            Layer.SELECTOR: [t for o in touching for t in overlay_leaves[o][app_name]],
                            Layer.CLUSTER: own,
                        }
                        cache[key] = self._instance(apps[app_name], env, layers, reported)
                        if env:
                            env_models[env].app_values.setdefault(app_name, cache[key].env_values)
                    instances[app_name] = cache[key]
            models[cluster] = ClusterModel(cluster, decl.name.span, decl.doc, labels, env or "", instances)
        return models

    def _instance(self, app: _App, env: str, layers: dict[Layer, list[Targeted]], reported: set) -> Instance:
        env_values, env_origins, env_patch = self._env_stage(app, env, layers[Layer.ENV], reported)
        winners = self._selector_stage(layers[Layer.SELECTOR], reported) + conflicts(self, layers[Layer.CLUSTER], Layer.CLUSTER, reported)
        if not winners:
            return Instance(app.name, env, env_values, env_origins, env_patch, {})
        missing: list = []
        values, origins = _apply(app.record, env_values, env_origins, winners, missing)
        self._report_missing(app, missing, reported)
        return Instance(app.name, env, values, origins, env_patch, _patch(values, env_values, winners))

    def _selector_stage(self, targeted: list[Targeted], reported: set) -> list[tuple[Leaf, Origin]]:
        """The winning overlay leaves; the same leaves (an `all` body checked once per values
        schema) give the same winners, so they are computed once."""
        key = tuple((group.source, group.specific, id(group.leaves)) for group in targeted)
        if key not in self._selector_winners:
            self._selector_winners[key] = conflicts(self, targeted, Layer.SELECTOR, reported)
        return self._selector_winners[key]

    def _env_stage(self, app: _App, env: str, targeted: list[Targeted], reported: set) -> tuple[dict, dict, dict]:
        """The app's values after the env layer, their origins, and what the env changed;
        the same for every cluster of the env, so computed once."""
        key = (app.name, env)
        if key not in self._env_stages:
            winners = conflicts(self, targeted, Layer.ENV, reported)
            missing: list = []
            values, origins = _apply(app.record, app.model.base, app.model.base_origins, winners, missing)
            self._report_missing(app, missing, reported)
            self._env_stages[key] = (values, origins, _patch(values, app.model.base, winners))
        return self._env_stages[key]

    def _report_missing(self, app: _App, missing: list, reported: set) -> None:
        for path, span in missing:
            if (span, path) not in reported:
                reported.add((span, path))
                self.error(codes.MISSING_FIELD, span, f"this makes `{'.'.join(path[:-1])}` of app `{app.name}` present, "
                           f"but nothing sets its required field `{path[-1]}`")

    def _placement_warnings(self, apps, clusters: dict[str, ClusterModel]) -> None:
        placed: dict[str, list[str]] = {name: [] for name in apps}
        versions: dict[str, dict[int, dict]] = {name: {} for name in apps}  # clusters share instances
        for cluster, model in clusters.items():
            for name, instance in model.instances.items():
                placed[name].append(cluster)
                versions[name][id(instance.values)] = instance.values
        for name, app in apps.items():
            app.model.clusters = tuple(placed[name])
            if not placed[name] and clusters:
                self.error(codes.APP_DEPLOYED_NOWHERE, app.decl.name.span, f"app `{name}` is deployed on no cluster")
            self._required(app)
            app.model.features = _features(app, list(versions[name].values()))
        for name, model in clusters.items():
            if not model.instances and apps and model.env:
                self.error(codes.CLUSTER_RUNS_NO_APP, model.span, f"cluster `{name}` runs no app")

    def _object_names(self, apps: dict[str, _App]) -> None:
        """An app's name (a DNS-1035 label: E0207 and the grammar) is its Helm release name and the
        name of its chart's objects; Helm and Flux's HelmRelease take release names of at most 53
        characters (the suffixed names, `<app>-config` and `<app>-tls`, stay within 63 then)."""
        for name, app in apps.items():
            if MAX_RELEASE_NAME < len(name) <= 63:  # longer is not a name at all (E0207)
                self.error(codes.APP_NAME_TOO_LONG, app.decl.name.span,
                           f"app name `{name}` has {len(name)} characters; a Helm release name has at most {MAX_RELEASE_NAME}",
                           notes=("the app's name is the release name of its HelmRelease; shorten it",))

    def _dependencies(self, apps: dict[str, _App], clusters: dict[str, ClusterModel]) -> None:
        """Flux waits for a HelmRelease's dependencies on the same cluster: one that is not deployed
        there, or a cycle, would hold the release back forever."""
        absent: dict[tuple, list[str]] = {}
        edges: dict[str, dict[str, Any]] = {}  # app -> dependency -> the span that set it
        for name, app in apps.items():
            self._add_edges(edges, name, app.model.base, app.model.base_origins)
        for cluster, model in clusters.items():
            for name, instance in model.instances.items():
                if not instance.values["delivery"]["dependsOn"]:
                    continue
                origin = self._add_edges(edges, name, instance.values, instance.origins)
                for dependency in instance.values["delivery"]["dependsOn"]:
                    if str(dependency) not in model.instances and origin is not None:
                        absent.setdefault((name, str(dependency), origin.span), []).append(cluster)
        for (name, dependency, span), where in sorted(absent.items(), key=lambda item: (item[0][2].file, item[0][2].start, item[0][1])):
            self.error(codes.DEPENDENCY_NOT_ON_CLUSTER, span, f"app `{name}` depends on `{dependency}`, which does not run on "
                       + clusters_text(where),
                       notes=("Flux would wait for it there forever; deploy it there too, or set `dependsOn` "
                              "for those clusters in an env, overlay or cluster block",))
        self._report_cycles(edges)

    def _ports(self, apps: dict[str, _App], clusters: dict[str, ClusterModel]) -> None:
        """Probes name a declared port, and an ingress needs a port to route to (as the app is
        written, and as every layer leaves it on each cluster)."""
        reported: set = set()
        versions = [(name, app.model.base, app.model.base_origins) for name, app in apps.items()]
        shared = {id(i): (name, i) for model in clusters.values() for name, i in model.instances.items()}  # clusters share instances
        versions += [(name, i.values, i.origins) for name, i in shared.values()]
        for name, values, origins in versions:
            ports = values.get("ports") or {}
            for probe in ("liveness", "readiness"):
                if probe in values and values[probe]["port"] not in ports:
                    port = values[probe]["port"]
                    origin = _located(origins, (probe, "port"), (probe,))
                    self._port_error(reported, origin, codes.PORT_NOT_DECLARED,
                                     f"the {probe} probe of app `{name}` checks port `{port}`, which the app does not declare",
                                     f"declared ports: {', '.join(ports) or 'none'}; add `ports {{ {port} = ... }}` or set `{probe}.port`")
            if "ingress" in values:
                self._ingress_port(reported, name, values, origins)

    def _ingress_port(self, reported: set, name: str, values: dict, origins: dict) -> None:
        """The ingress routes to `ingress.port`, else to the port named "http", else to the only port."""
        ports = values.get("ports") or {}
        chosen = values["ingress"].get("port")
        if not ports:
            self._port_error(reported, _located(origins, ("ingress",)), codes.PORT_NOT_DECLARED,
                             f"app `{name}` has an ingress but no port for it to route to",
                             'add `ports { http = 8080 }` (the ingress routes to `ingress.port`, else to the port named "http")')
        elif chosen is not None and chosen not in ports:
            self._port_error(reported, _located(origins, ("ingress", "port"), ("ingress",)), codes.PORT_NOT_DECLARED,
                             f"the ingress of app `{name}` routes to port `{chosen}`, which the app does not declare",
                             f"declared ports: {', '.join(ports)}; add `ports {{ {chosen} = ... }}` or set `ingress.port`")
        elif chosen is None and "http" not in ports and len(ports) > 1:
            origin = _located(origins, ("ingress",))
            if origin is None or origin.span is None or (origin.span, name) in reported:
                return
            reported.add((origin.span, name))
            choices = sorted(ports)
            self.error(codes.INGRESS_PORT_AMBIGUOUS, origin.span,
                       f"app `{name}` has several ports ({', '.join(choices)}) and none is named `http`: "
                       "which one does the ingress route to?",
                       notes=(f'set `ingress.port`, e.g. `port = "{choices[0]}"` in the ingress block',),
                       fixes=self._ingress_port_fixes(origin.span, choices))

    def _ingress_port_fixes(self, span, choices: list[str]) -> list[Fix]:
        """`port = "<name>"` inserted as the first statement of the `ingress { ... }` block at `span`,
        one fix per declared port (none when the ingress is not set by such a block)."""
        source = self.program.sources.get(span.file)
        text = source.text[span.start:span.end] if source is not None else ""
        block = re.match(r"ingress\s*\{([ \t]*\n?)([ \t]*)", text)
        if block is None:
            return []
        at = span.start + block.end()
        separator = "\n" + block.group(2) if block.group(1).endswith("\n") else ", "
        if text[block.end():].startswith("}"):
            separator = " "
        return [Fix(Span(span.file, at, at), f'port = "{port}"{separator}', f'route the ingress to port `{port}`')
                for port in choices]

    def _port_error(self, reported: set, origin, code: str, message: str, note: str) -> None:
        if origin is None or origin.span is None or (origin.span, message) in reported:
            return
        reported.add((origin.span, message))
        self.error(code, origin.span, message, notes=(note,))

    @staticmethod
    def _add_edges(edges: dict, name: str, values: dict, origins: dict):
        origin = origins.get(("delivery", "dependsOn"))
        if origin is None or origin.span is None:
            return None
        for dependency in values["delivery"]["dependsOn"]:
            edges.setdefault(name, {}).setdefault(str(dependency), origin.span)
        return origin

    def _report_cycles(self, edges: dict[str, dict[str, Any]]) -> None:
        reported: set[frozenset] = set()
        for start in sorted(edges):
            trail = [start]
            self._walk(edges, start, trail, reported)

    def _walk(self, edges, node: str, trail: list[str], reported: set) -> None:
        for dependency, span in sorted(edges.get(node, {}).items()):
            if dependency in trail:
                cycle = trail[trail.index(dependency):] + [dependency]
                if frozenset(cycle) not in reported:
                    reported.add(frozenset(cycle))
                    self.error(codes.DEPENDENCY_CYCLE, edges[cycle[0]][cycle[1]], "dependency cycle: " + " -> ".join(cycle),
                               notes=("Flux would install none of these apps; remove one `dependsOn` entry",))
            elif len(trail) < 100:
                self._walk(edges, dependency, trail + [dependency], reported)

    def _required(self, app: _App) -> None:
        if not app.missing or self._syntax_error_in(app.decl):
            return
        attempted = _attempted(app.decl.body)
        for path in app.missing:
            if path in attempted:
                continue  # assigned, but the value was wrong: that error is reported already
            self.error(codes.MISSING_FIELD, app.decl.name.span, f"app `{app.name}` does not set the required field `{'.'.join(path)}`")

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
            values, _ = _fill_defaults(record, {}, {}, ())
            return Settings("delivery", "delivery", None, None, values)
        return self._one_setting("delivery", decl)

    def _one_setting(self, kind: str, decl: ast.ResourceDecl) -> Settings:
        record = self._prelude_record(SETTINGS_SCHEMAS[kind])
        scope = self.checker.scope_of(decl)
        leaves = self._checked_body(decl.body, record, scope)
        conflicts(self, [Targeted(kind, True, leaves)], Layer.APP)
        missing: list = []
        values, _ = _fill_defaults(record, build_tree(leaves), {}, (), missing)
        attempted = _attempted(decl.body)
        for path in missing:
            if path in attempted or self._syntax_error_in(decl):
                continue
            span = decl.name.span if decl.name else decl.span
            self.error(codes.MISSING_FIELD, span, f"{kind} does not set the required field `{'.'.join(path)}`")
        name = decl.name.text if decl.name else kind
        return Settings(kind, name, decl.span, decl.doc, values)


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
        if isinstance(stmt, ast.Block) and stmt.path.dotted == "values" and stmt.annotation is not None:
            return stmt.annotation
    return None


@dataclass(slots=True)
class _App:
    name: str
    decl: ast.ResourceDecl
    record: RecordType
    leaves: list[Leaf]
    scope: Scope
    base: tuple | None = None  # (values, origins, missing) when already known
    model: AppModel | None = None
    missing: list = field(default_factory=list)

    def chosen(self) -> dict[tuple, tuple[Leaf, Origin]]:
        return {leaf.path: (leaf, Origin(Layer.APP, leaf.span, f"app {self.name}")) for leaf in self.leaves}

    def __post_init__(self) -> None:
        if self.base is None:
            origins = {path: origin for path, (_, origin) in self.chosen().items()}
            values, origins = _fill_defaults(self.record, build_tree(self.leaves), origins, (), self.missing)
            self.base = (values, origins, self.missing)
        values, origins, self.missing = self.base
        namespace = values.get("namespace", self.name)
        self.model = AppModel(self.name, self.decl.name.span, self.decl.doc, namespace, self.record, values, origins, frozenset())


def conflicts(evaluator: _Evaluator, targeted: list[Targeted], layer: Layer, reported: set | None = None) -> list[tuple[Leaf, Origin]]:
    """The winning leaves of one layer; reports two different values at one specificity."""
    winners: dict[tuple, tuple[Leaf, Origin, bool]] = {}
    for group in targeted:
        origin_source = group.source
        for leaf in group.leaves:
            origin = Origin(layer, leaf.span, origin_source)
            previous = winners.get(leaf.path)
            if previous is None or (group.specific and not previous[2]):
                winners[leaf.path] = (leaf, origin, group.specific)
                continue
            if previous[2] and not group.specific:
                continue
            other = previous[0]
            if other.span == leaf.span:
                continue
            if _same(other.value, leaf.value):
                # Agreeing assignments: name the same one whatever the declaration order.
                if (origin.source, _position(leaf)) < (previous[1].source, _position(other)):
                    winners[leaf.path] = (leaf, origin, group.specific)
                continue
            key = tuple(sorted([(other.span.file, other.span.start), (leaf.span.file, leaf.span.start)]))
            if reported is not None and key in reported:
                continue
            if reported is not None:
                reported.add(key)
            first, second = sorted([other, leaf], key=lambda l: (l.span.file, l.span.start))
            evaluator.error(
                codes.CONFLICTING_ASSIGNMENTS, second.span,
                f"`{'.'.join(leaf.path)}` is set twice at the {layer.label} layer, to {_show(first.value)} and {_show(second.value)}"
                + evaluator.where_both_apply(previous[1].source, origin.source),
                related=[Related(first.span, "the other assignment")],
                notes=("a cluster matched by both gets no single value; set it once, or move one assignment to a more specific layer "
                       "(app < env < selector overlay < cluster) or into an `app NAME { }` block",),
            )
    return [(leaf, origin) for leaf, origin, _ in winners.values()]


def _located(origins: dict, *paths: tuple) -> Origin | None:
    """The first of `paths` whose value a line of the program set (defaults have no line)."""
    for path in paths:
        origin = origins.get(path)
        if origin is not None and origin.span is not None:
            return origin
    return None


def _position(leaf: Leaf) -> tuple[str, int]:
    return (leaf.span.file, leaf.span.start)


def _same(a, b) -> bool:
    return a is b or (type(a) is type(b) and a == b)


def _show(value) -> str:
    return "{...}" if value is PRESENT else describe_value(value)


def _apply(record: RecordType, values: dict, origins: dict, winners: list[tuple[Leaf, Origin]],
           missing: list | None = None) -> tuple[dict, dict]:
    """`values` (complete, never mutated) with the winning leaves of higher layers applied.

    Only the dicts along the leaves' paths are copied; a record made present by a leaf gets its
    schema defaults; record keys stay in schema order, so the result does not depend on the
    order of the leaves.
    """
    if missing is None:
        missing = []
    if not winners:
        return values, origins
    values, origins = dict(values), dict(origins)
    copied: set[tuple] = {()}
    created: list[tuple[tuple, Type]] = []
    touched: list[tuple[tuple, Type]] = []
    for leaf, origin in winners:
        node, type_ = values, record
        for depth, key in enumerate(leaf.path):
            path = leaf.path[: depth + 1]
            child_type = _child_type(type_, key)
            last = depth == len(leaf.path) - 1
            if last and leaf.value is not PRESENT:
                if key not in node:
                    touched.append((leaf.path[:depth], type_))
                node[key] = leaf.value
                break
            child = node.get(key)
            if not isinstance(child, dict):
                child = {}
                created.append((path, child_type, leaf))
                touched.append((leaf.path[:depth], type_))
            elif path not in copied:
                child = dict(child)
            copied.add(path)
            node[key] = child
            node, type_ = child, child_type
        origins[leaf.path] = origin
    for path, type_, leaf in created:
        if isinstance(type_, RecordType) and not type_.open:
            node = _at(values, path)
            found: list = []
            filled, _ = _fill_defaults(type_, node, origins, path, found)
            node.clear()
            node.update(filled)
            missing.extend((lack, leaf.span) for lack in found)
    for path, type_ in touched:
        if isinstance(type_, RecordType) and not type_.open:
            node = _at(values, path)
            ordered = {name: node[name] for name in type_.fields if name in node}
            node.clear()
            node.update(ordered)
    return values, origins


# The lowering puts the fleet's `delivery` defaults where the schema's defaults stand: a timing
# a layer sets explicitly must reach its patch even when it equals the value below.
_DELIVERY_TIMINGS = frozenset({("delivery", "interval"), ("delivery", "timeout"), ("delivery", "retries")})


def _patch(values: dict, lower: dict, winners: list[tuple[Leaf, Origin]]) -> dict:
    """`_diff(values, lower)`, looking only under the top-level keys the winners touched
    (nothing else can differ), plus the delivery timings the winners set."""
    touched = {leaf.path[0] for leaf, _ in winners}
    patch = _diff({key: values[key] for key in values if key in touched}, lower)
    for leaf, _ in winners:
        if leaf.path in _DELIVERY_TIMINGS:
            field_name = leaf.path[1]
            patch["delivery"] = {**patch.get("delivery", {}), field_name: values["delivery"][field_name]}
    return patch


def _child_type(type_: Type, key: str) -> Type:
    if isinstance(type_, RecordType) and key in type_.fields:
        return type_.fields[key].type
    if isinstance(type_, MapType):
        return type_.value
    return AnyType()


def _at(values: dict, path: tuple) -> dict:
    for key in path:
        values = values[key]
    return values


def _attempted(body: ast.Body, prefix: tuple = ()) -> set[tuple]:
    """Every path a body assigns, whether or not the value type-checked."""
    paths: set[tuple] = set()
    for stmt in body.stmts:
        if isinstance(stmt, (ast.Assign, ast.Block)):
            path = prefix + tuple(key.text for key in stmt.path.keys)
            paths.add(path)
            if isinstance(stmt, ast.Block):
                paths |= _attempted(stmt.body, path)
            elif isinstance(stmt.value, ast.MapLit):
                paths |= _attempted(stmt.value.body, path)
    return paths


def _fill_defaults(record: RecordType, tree: dict, origins: dict, prefix: tuple, missing: list | None = None) -> tuple[dict, dict]:
    """Apply schema defaults to a value tree, in the schema's field order; records missing required fields."""
    result: dict = {}
    for name, info in record.fields.items():
        path = prefix + (name,)
        if name in tree:
            result[name] = _fill_value(info.type, tree[name], origins, path, missing)
        elif info.has_default:
            result[name] = _fill_value(info.type, _copy(info.default), origins, path, missing)
            origins.setdefault(path, Origin(Layer.DEFAULT, None, f"{record.name}.{name}"))
        elif not info.optional and missing is not None:
            missing.append(path)
    if record.open:
        for name, value in tree.items():
            result.setdefault(name, value)
    return result, origins


def _fill_value(type_: Type, value, origins, path, missing):
    if isinstance(type_, RecordType) and isinstance(value, dict) and not type_.open:
        return _fill_defaults(type_, value, origins, path, missing)[0]
    if isinstance(type_, MapType) and isinstance(value, dict) and isinstance(type_.value, RecordType):
        return {k: _fill_value(type_.value, v, origins, path + (k,), missing) for k, v in value.items()}
    return value


def _copy(value):
    if isinstance(value, dict):
        return {k: _copy(v) for k, v in value.items()}
    return value


def _diff(upper: dict, lower: dict) -> dict:
    """What `upper` adds to or changes in `lower` (so that merge(lower, diff) == upper)."""
    out: dict = {}
    for key, value in upper.items():
        if key not in lower:
            out[key] = value
            continue
        below = lower[key]
        if value is below:  # `_apply` shares every subtree no leaf went through
            continue
        if isinstance(value, dict) and isinstance(below, dict):
            inner = _diff(value, below)
            if inner:
                out[key] = inner
        elif not _same(value, below):
            out[key] = value
    return out


def _app_record(app_record: RecordType, name: str, values_type: RecordType | None) -> RecordType:
    """The App schema of one app: its `values` field typed by the app's own schema."""
    fields = dict(app_record.fields)
    if values_type is not None:
        base = fields["values"]
        fields["values"] = Field("values", values_type, base.optional, {}, True, values_type.doc or base.doc)
    return RecordType(f"App({name})", fields, app_record.doc)


def _features(app: _App, all_values: list[dict]) -> frozenset[str]:
    features = set()
    for values in {id(v): v for v in [app.model.base] + all_values}.values():  # instances share trees
        features.update(part for part in _TEMPLATE_FEATURES if part in values)
        features.update(part for part in ("config", "values", "secretEnv") if values.get(part))
        if values.get("ports"):
            features.add("service")
    return frozenset(features)


def _matches(selector, labels: dict[str, Any], values: dict[int, Any]) -> bool:
    if isinstance(selector, ast.SelAnd):
        return _matches(selector.left, labels, values) and _matches(selector.right, labels, values)
    if isinstance(selector, ast.SelOr):
        return _matches(selector.left, labels, values) or _matches(selector.right, labels, values)
    if isinstance(selector, ast.SelNot):
        return not _matches(selector.operand, labels, values)
    key = selector.label.text
    if isinstance(selector, ast.SelExists):
        return key in labels
    actual = labels.get(key)
    if isinstance(selector, ast.SelCompare):
        wanted = values.get(id(selector.value))
        return (actual == wanted) if selector.op == "==" else (actual != wanted)
    inside = any(actual == values.get(id(item)) for item in selector.values.items)
    return (not inside) if selector.negated else inside
