"""A release's `values` typed by its vendored chart (docs/charts.md).

Input: a `release` declaration, the prelude's `Release` record, the checker (for the `let`s a
chart block may name) and the program's root (charts.lock and vendor/charts/). Output: the
record its body and every env, overlay and cluster `release NAME { }` body are checked against:
`Release` with `values` typed by the chart that its `chart { repository, name, version }`
resolves to in charts.lock (semantic/charts.py) - so a misspelt key is E0304 (or W0807 where
Helm takes keys the chart does not list), a wrong type E0301, and the chart's descriptions are
the fields' docs in hover and completion.

Invariants: reads only the program's own files (and the user cache, see semantic/charts.py),
never the network; a chart that is not locked
(E0801), a vendored chart that does not match the lock (E0802), a broken lock (E0803) or an
unreadable package (E0806) is one error at the release's `chart`, with the command that fixes it,
and leaves its values untyped (`any`), so nothing else is reported twice. A chart from a Git
source (`chart.git`), or a chart block whose repository or name is not a string written there
or in a `let`, leaves `values` untyped. The lock and each vendored chart are read and checked once
per evaluation, however many releases use them; a chart's type is made once per session (`kept`).
"""

from __future__ import annotations

import dataclasses
from pathlib import Path

from gop.compiler.semantic.charts import (ChartStoreError, LockEntry, locked_chart, normal_repository, read_lock,
                                          repository_problem, values_type, vendored_chart)
from gop.compiler.semantic.check import Checker, Scope
from gop.compiler.semantic.types import RecordType, Type
from gop.compiler.syntax import ast

CHART_FIELD = "chart"
VALUES_FIELD = "values"


class ChartValues:
    """The values types of one evaluation's releases."""

    def __init__(self, checker: Checker, root: Path, kept: dict[LockEntry, Type]) -> None:
        self.checker = checker
        self.root = root
        self.kept = kept  # the session's values types by lock entry (see session.EvaluationMemo)
        self._lock: list[LockEntry] | ChartStoreError | None = None
        self._checked: dict[LockEntry, ChartStoreError | None] = {}  # this evaluation's checks of the vendored files

    def release_record(self, decl: ast.ResourceDecl, base: RecordType) -> RecordType:
        """`base` (the prelude's `Release`) with `values` typed by the release's chart."""
        where, fields = _chart_fields(decl.body)
        if where is None:
            return base  # the body's check reports the missing `chart`
        scope = self.checker.scope_of(decl)
        repository, name = (self._text(fields.get(key), scope) for key in ("repository", "name"))
        version = self._text(fields.get("version"), scope) if "version" in fields else None
        if "git" in fields or repository is None or name is None or ("version" in fields and version is None) \
                or repository_problem(normal_repository(repository)):
            return base  # not vendored, or not a repository URL (the body's check says so)
        try:
            type_ = self._values_type(repository, name, version)
        except ChartStoreError as error:
            notes = (error.fix,) if error.fix else ()
            self.checker.error(error.code, where.span, f"release `{decl.name.text}`: {error.message}", notes=notes)
            return base
        values = dataclasses.replace(base.fields[VALUES_FIELD], type=type_)
        return RecordType(f"{base.name}({decl.name.text})", {**base.fields, VALUES_FIELD: values}, base.doc)

    def _values_type(self, repository: str, name: str, version: str | None) -> Type:
        if self._lock is None:
            try:
                self._lock = read_lock(self.root)
            except ChartStoreError as error:
                self._lock = error
        if isinstance(self._lock, ChartStoreError):
            raise self._lock
        entry = locked_chart(self._lock, repository, name, version)
        if entry not in self._checked:
            try:
                chart = vendored_chart(self.root, entry)
                if entry not in self.kept:
                    self.kept[entry] = values_type(chart)
                self._checked[entry] = None
            except ChartStoreError as error:
                self._checked[entry] = error
        if self._checked[entry] is not None:
            raise self._checked[entry]
        return self.kept[entry]

    def _text(self, expr, scope: Scope) -> str | None:
        """A string written as a literal or named by a `let`; None for anything else."""
        if isinstance(expr, ast.StringLit) and expr.is_plain:
            return "".join(expr.parts)
        if isinstance(expr, ast.Ref):
            declared = self.checker.declaration_named(expr.names, scope)
            if isinstance(declared, ast.LetDecl):
                value = self.checker.let_value(declared)
                return value if isinstance(value, str) else None
        return None


def _chart_fields(body: ast.Body) -> tuple[ast.Path | None, dict[str, object]]:
    """Where the release's chart is first written, and the expressions of its fields by name:
    from `chart { ... }`, `chart = { ... }` and `chart.name = ...` alike."""
    where, fields = None, {}
    for stmt in body.stmts:
        if not isinstance(stmt, (ast.Block, ast.Assign)) or not stmt.path.keys or stmt.path.keys[0].text != CHART_FIELD:
            continue
        where = where or stmt.path
        if len(stmt.path.keys) == 2 and isinstance(stmt, ast.Assign):
            fields[stmt.path.keys[1].text] = stmt.value
            continue
        inner = stmt.body if isinstance(stmt, ast.Block) else stmt.value.body if isinstance(stmt.value, ast.MapLit) else None
        for part in inner.stmts if inner is not None and len(stmt.path.keys) == 1 else ():
            if isinstance(part, ast.Assign) and len(part.path.keys) == 1:
                fields[part.path.keys[0].text] = part.value
    return where, fields
