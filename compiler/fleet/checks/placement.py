"""Placement: cluster labels, selectors, and which env and apps each cluster gets.

Input: the `Resolution` and the `Checker` (which types label values and collects the
diagnostics). Output of `place(...)`: a `Placement`: the label schema, every cluster's typed
labels, the clusters each env, overlay and app selector matches, and each cluster's env.
Reported on the way: unknown, missing and invalid labels (UNKNOWN_LABEL, MISSING_LABEL,
INVALID_LABEL_VALUE), an env without a selector (ENV_WITHOUT_SELECTOR), a selector that matches
nothing (SELECTOR_MATCHES_NOTHING), a cluster in several envs or in none (CLUSTER_IN_SEVERAL_ENVS,
CLUSTER_IN_NO_ENV; not for a cluster whose labels are wrong already).

On the evaluated fleet: `cluster_label_diagnostics` (label values Kubernetes rejects,
INVALID_KUBERNETES_LABEL_VALUE) and `placement_warnings` (an app on no cluster, a cluster with no
app: APP_DEPLOYED_NOWHERE, CLUSTER_RUNS_NO_APP).

Invariants: clusters in sorted order; selectors are matched against typed label values.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from dataclasses import dataclass, replace
from typing import Any

from gop.compiler.diagnostics import Diagnostic, Fix, Related, codes, diagnostic
from gop.compiler.diagnostics.suggest import did_you_mean
from gop.compiler.fleet.checks.assignments import LABEL_VALUE_MAX
from gop.compiler.fleet.model import Fleet
from gop.compiler.language import CLUSTER_LABELS, SELECTOR_KINDS
from gop.compiler.semantic.check import INVALID, PRESENT, Checker, Leaf, Scope, build_tree
from gop.compiler.semantic.resolve import Resolution
from gop.compiler.semantic.types import MapType, RecordType, StringType, Type
from gop.compiler.syntax import ast

_LABEL_VALUE = re.compile(r"(([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9])?")


@dataclass(slots=True)
class Placement:
    labels_type: RecordType | MapType
    cluster_labels: dict[str, dict[str, Any]]  # by cluster, sorted
    matches: dict[int, tuple[str, ...]]  # id(declaration of a SELECTOR_KINDS kind) -> the clusters it selects
    cluster_env: dict[str, str]  # clusters bound to an env ("" when there are no envs at all)


def place(checker: Checker, resolution: Resolution) -> Placement:
    return _Placer(checker, resolution).run()


class _Placer:
    def __init__(self, checker: Checker, resolution: Resolution) -> None:
        self.checker = checker
        self.resolution = resolution
        self.mislabelled: set[str] = set()  # clusters with a label error: env binding is moot for them
        self.selector_values: dict[int, Any] = {}  # id(expr) -> its value, for matching

    def error(self, code: str, span, message: str, **extra) -> None:
        self.checker.diagnostics.append(diagnostic(code, span, message, **extra))

    def run(self) -> Placement:
        labels_type = self._labels_type()
        clusters = self._cluster_labels(labels_type)
        matches = {id(decl): self._select(decl, labels_type, clusters)
                   for kind in SELECTOR_KINDS for decl in self.resolution.resources[kind].values()}
        return Placement(labels_type, clusters, matches, self._bind_envs(clusters, matches))

    # ---- labels ----------------------------------------------------------------------------

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
            blocks = [s for s in decl.body.stmts if isinstance(s, ast.Block) and s.path.dotted == CLUSTER_LABELS]
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
        """The value of a label (in a cluster's labels or a selector), typed by the checker; the
        checker's diagnostics about it are worded for a label (`_as_label_diagnostic`)."""
        before = len(self.checker.diagnostics)
        value = self.checker.value(expr, label_type, scope)
        found = self.checker.diagnostics
        found[before:] = [_as_label_diagnostic(d, key) for d in found[before:]]
        return value

    # ---- selectors -------------------------------------------------------------------------

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

    # ---- envs ------------------------------------------------------------------------------

    def _bind_envs(self, clusters, matches: dict[int, tuple[str, ...]]) -> dict[str, str]:
        cluster_env: dict[str, str] = {}
        envs = self.resolution.resources["env"]
        for cluster in clusters:
            chosen = sorted(name for name, decl in envs.items() if cluster in matches.get(id(decl), ()))
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


def select_clusters(checker: Checker, resolution: Resolution, selector, scope: Scope, labels_type,
                    cluster_labels: dict[str, dict[str, Any]]) -> tuple[str, ...] | None:
    """The clusters a selector written outside a declaration (a test's `every cluster where ...`)
    matches, typed and matched as a declaration's are; None after reporting its errors."""
    placer = _Placer(checker, resolution)
    if not placer._check_selector(selector, labels_type, scope):
        return None
    return tuple(name for name, labels in cluster_labels.items() if _matches(selector, labels, placer.selector_values))


def _as_label_diagnostic(found: Diagnostic, key: str) -> Diagnostic:
    """The one rule by which the fleet re-words a checker diagnostic: a label value outside its
    enum is INVALID_LABEL_VALUE naming the label, where a field's would be VALUE_NOT_ALLOWED."""
    if found.code != codes.VALUE_NOT_ALLOWED:
        return found
    return replace(found, code=codes.INVALID_LABEL_VALUE, message=f"invalid value for label `{key}`: {found.message}")


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


# ---- on the evaluated fleet ------------------------------------------------------------------

def cluster_label_diagnostics(fleet: Fleet, resolution: Resolution) -> Iterator[Diagnostic]:
    """Cluster label values are Kubernetes label values (Flux and tools select clusters by them)."""
    for name, decl in resolution.resources["cluster"].items():
        model = fleet.clusters.get(name)
        for block in decl.body.stmts:
            if model is None or not (isinstance(block, ast.Block) and block.path.dotted == CLUSTER_LABELS):
                continue
            for stmt in block.body.stmts:
                value = model.labels.get(stmt.path.dotted) if isinstance(stmt, ast.Assign) else None
                problem = label_value_problem(value) if isinstance(value, str) else None
                if problem is not None:
                    yield diagnostic(codes.INVALID_KUBERNETES_LABEL_VALUE, stmt.value.span,
                                     f"the value of label `{stmt.path.dotted}` is not a Kubernetes label value: {problem}")


def label_value_problem(value: str) -> str | None:
    if len(value) > LABEL_VALUE_MAX:
        return f"it has {len(value)} characters (at most {LABEL_VALUE_MAX})"
    if not _LABEL_VALUE.fullmatch(value):
        return 'only letters, digits, "-", "_" and "." are allowed, starting and ending with a letter or digit'
    return None


def placement_warnings(fleet: Fleet) -> Iterator[Diagnostic]:
    for name, app in fleet.apps.items():
        if not app.clusters and fleet.clusters:
            yield diagnostic(codes.APP_DEPLOYED_NOWHERE, app.span, f"app `{name}` is deployed on no cluster")
    for name, model in fleet.clusters.items():
        if not model.instances and fleet.apps and model.env:
            yield diagnostic(codes.CLUSTER_RUNS_NO_APP, model.span, f"cluster `{name}` runs no app")
