"""Tests written in .gop (`test "name" { ... }`): checked against the evaluated fleet, then run.

Input of `check_tests`: the `Checker` (which collects the diagnostics), the `Resolution` and the
`Evaluation`. Output: a `TestSuite`: the test declarations of the program's own files (not of
imported modules) in source order, which of them type-checked, the value of every expected
expression and the clusters each `every|no cluster` quantifier selects.

Input of `run_test`: the suite, one test, the fleet, and `objects(cluster)` (the objects Flux
applies on a cluster: the caller renders them, the lowering sits above this layer). Output: the
test's failures, E1310 diagnostics at the assertion that failed, each saying where (cluster,
object, list item), the actual values and, for an app's value, the layer and line that set it.

Meaning: a test's body ranges over every cluster. On a cluster a path starts with an app's name
(`web.replicas`: app `web`'s effective value there; `web exists`: web runs there) and follows its
schema; `every|no cluster [where SELECTOR] { }` (at the top of a test only) picks clusters by
label as an env does; `every|no object [where CONDITION] { }` ranges over the objects rendered for
the cluster, `every|no PATH [where CONDITION] { }` over the items of the list at PATH, and inside
either a path reads that object or item (untyped: any path is accepted). `every` holds when its
body holds for every match (none is fine, but a cluster selector that matches no cluster is
W1305); `no` holds when its body fails for every match (an empty body: when nothing matches).

Invariants: tests are not part of the fleet: nothing here changes the evaluation, and nothing of
it reaches the lowering or the output. Results are in source order, clusters and objects sorted.
"""

from __future__ import annotations

import enum
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from gop.compiler.diagnostics import Diagnostic, Related, codes, diagnostic
from gop.compiler.diagnostics.suggest import did_you_mean
from gop.compiler.fleet.checks.placement import select_clusters
from gop.compiler.fleet.evaluate import Evaluation
from gop.compiler.fleet.model import Fleet, Origin
from gop.compiler.semantic.check import INVALID, Checker, Scope
from gop.compiler.semantic.resolve import Resolution
from gop.compiler.semantic.types import (AnyType, DurationType, EnumType, FloatType, IntType, ListType, MapType,
                                         QuantityType, RecordType, Type, UnionType, describe_value)
from gop.compiler.syntax import ast
from gop.compiler.values import MISSING, lookup, plain, same

ORDER_OPERATORS = ("<", "<=", ">", ">=")
_ORDERED_TYPES = (IntType, FloatType, QuantityType, DurationType)


class _Where(enum.Enum):
    """What the paths of a body read."""

    TOP = "top"  # a test's own body: every cluster, app values (and `every cluster` may stand here)
    CLUSTER = "cluster"  # inside `every cluster`: app values
    OBJECT = "object"  # inside `every object`: one rendered object
    ITEM = "item"  # inside `every PATH`: one item of a list


@dataclass(slots=True)
class TestSuite:
    tests: list[ast.TestDecl] = field(default_factory=list)
    values: dict[int, Any] = field(default_factory=dict)  # id(expression) -> its checked value
    clusters: dict[int, tuple[str, ...]] = field(default_factory=dict)  # id(cluster quantifier) -> the clusters


def check_tests(checker: Checker, resolution: Resolution, evaluation: Evaluation) -> TestSuite:
    """Type-check every test of the program's own files; diagnostics go to the checker's."""
    return _TestChecker(checker, resolution, evaluation).run()


class _TestChecker:
    def __init__(self, checker: Checker, resolution: Resolution, evaluation: Evaluation) -> None:
        self.checker = checker
        self.resolution = resolution
        self.evaluation = evaluation
        self.suite = TestSuite()

    def error(self, code: str, span, message: str, **extra) -> None:
        self.checker.diagnostics.append(diagnostic(code, span, message, **extra))

    def run(self) -> TestSuite:
        program = self.checker.program
        named: dict[str, ast.TestDecl] = {}
        for file in sorted(program.roots):
            for decl in program.files[file].decls:
                if not isinstance(decl, ast.TestDecl):
                    continue
                self._name(decl, named)
                self._body(decl.body, _Where.TOP, self.checker.scope_of(decl))
                self.suite.tests.append(decl)
        return self.suite

    def _name(self, decl: ast.TestDecl, named: dict[str, ast.TestDecl]) -> None:
        if any(isinstance(part, ast.Interpolation) for part in decl.name.parts):
            self.error(codes.TEST_NAME, decl.name.span, "a test's name is plain text: it may not interpolate `${...}`")
            return
        first = named.setdefault(decl.name.plain_value, decl)
        if first is not decl:
            self.error(codes.TEST_NAME, decl.name.span, f"two tests are named {decl.name.plain_value!r}",
                       related=[Related(first.name.span, "the first one")])

    def _body(self, body: ast.TestBody, where: _Where, scope: Scope) -> None:
        for stmt in body.stmts:
            if isinstance(stmt, ast.Expect):
                self._condition(stmt.condition, where, scope)
            elif stmt.subject == "cluster":
                self._clusters(stmt, where, scope)
            elif stmt.subject == "object":
                if where not in (_Where.TOP, _Where.CLUSTER):
                    self.error(codes.TEST_MISPLACED_QUANTIFIER, stmt.span,
                               f"`{stmt.quantifier} object` ranges over a cluster's objects: it cannot stand inside an {where.value}")
                self._condition(stmt.where, _Where.OBJECT, scope)
                self._body(stmt.body, _Where.OBJECT, scope)
            else:
                self._path_type(stmt.path, where, for_items=True)
                self._condition(stmt.where, _Where.ITEM, scope)
                self._body(stmt.body, _Where.ITEM, scope)

    def _clusters(self, stmt: ast.Quantifier, where: _Where, scope: Scope) -> None:
        if where is not _Where.TOP:
            self.error(codes.TEST_MISPLACED_QUANTIFIER, stmt.span,
                       f"`{stmt.quantifier} cluster` stands at the top of a test, not inside {'a' if where is _Where.CLUSTER else 'an'} {where.value}")
        clusters = self.evaluation.fleet.clusters
        if stmt.where is None:
            chosen: tuple[str, ...] | None = tuple(clusters)
        else:
            labels = {name: model.labels for name, model in clusters.items()}
            chosen = select_clusters(self.checker, self.resolution, stmt.where, scope, self.evaluation.labels_type, labels)
            if chosen == () and stmt.quantifier == "every":
                self.error(codes.TEST_MATCHES_NO_CLUSTER, stmt.where.span,
                           "this selector matches no cluster: the test asserts nothing here",
                           notes=("to assert that no cluster matches, write `no cluster where ... { }`",))
        self.suite.clusters[id(stmt)] = chosen or ()
        self._body(stmt.body, _Where.CLUSTER, scope)

    def _condition(self, condition, where: _Where, scope: Scope) -> None:
        if condition is None:
            return
        if isinstance(condition, (ast.SelAnd, ast.SelOr)):
            self._condition(condition.left, where, scope)
            self._condition(condition.right, where, scope)
        elif isinstance(condition, ast.SelNot):
            self._condition(condition.operand, where, scope)
        elif isinstance(condition, ast.CondExists):
            self._path_type(condition.path, where)
        else:
            found = self._path_type(condition.path, where)
            if found is INVALID:
                return
            if isinstance(condition, ast.CondCompare) and condition.op in ORDER_OPERATORS and found is not None \
                    and not _ordered(found):
                self.error(codes.TEST_NOT_COMPARABLE, condition.span,
                           f"`{condition.op}` compares numbers, quantities and durations; `{_text(condition.path)}` is {found.describe()}",
                           notes=("compare it with `==`, `!=` or `in [...]`",))
                return
            expected = AnyType() if found is None else found
            values = [condition.value] if isinstance(condition, ast.CondCompare) else list(condition.values.items)
            for value in values:
                self.suite.values[id(value)] = self.checker.value(value, expected, scope)

    def _path_type(self, path: ast.Path, where: _Where, for_items: bool = False):
        """The type of an app's value at `path` (TOP, CLUSTER), None where paths are not typed
        (objects, items, open records), INVALID after reporting an error."""
        if where in (_Where.OBJECT, _Where.ITEM):
            return None
        apps = self.evaluation.fleet.apps
        head = path.keys[0]
        if head.text not in apps:
            hint = did_you_mean(head.text, apps)
            self.error(codes.TEST_UNKNOWN_APP, head.span, f"no app `{head.text}`" + (f"; did you mean `{hint}`?" if hint else ""),
                       notes=("on a cluster a path starts with an app's name: `web.replicas`",))
            return INVALID
        found: Type = apps[head.text].values_type
        for index, key in enumerate(path.keys[1:], 1):
            if isinstance(found, RecordType):
                member = found.fields.get(key.text)
                if member is None:
                    if found.open or found.warn_unknown:
                        return None
                    hint = did_you_mean(key.text, found.fields)
                    self.error(codes.TEST_UNKNOWN_FIELD, key.span, f"`{found.name}` has no field `{key.text}`"
                               + (f"; did you mean `{hint}`?" if hint else ""))
                    return INVALID
                found = member.type
            elif isinstance(found, MapType):
                found = found.value
            elif isinstance(found, AnyType):
                return None
            elif isinstance(found, ListType):
                self.error(codes.TEST_NOT_COMPARABLE, key.span,
                           f"`{_text(path, index)}` is a list: reach its items with `every {_text(path, index)} {{ ... }}`")
                return INVALID
            else:
                self.error(codes.TEST_UNKNOWN_FIELD, key.span, f"`{_text(path, index)}` is {found.describe()}: it has no fields")
                return INVALID
        if for_items and not isinstance(found, (ListType, AnyType)):
            self.error(codes.TEST_NOT_COMPARABLE, path.span,
                       f"`every {_text(path)}` ranges over a list's items; `{_text(path)}` is {found.describe()}")
            return INVALID
        return found


def _ordered(found: Type) -> bool:
    if isinstance(found, UnionType):
        return any(_ordered(member) for member in found.members)
    if isinstance(found, EnumType):
        return all(isinstance(v, (int, float)) and not isinstance(v, bool) for v in found.values)
    return isinstance(found, (*_ORDERED_TYPES, AnyType))


def _text(path: ast.Path, upto: int | None = None) -> str:
    keys = path.keys if upto is None else path.keys[:upto]
    return ".".join(f'"{key.text}"' if key.quoted else key.text for key in keys)


# ---- running --------------------------------------------------------------------------------------

Objects = Callable[[str], list[dict]]


@dataclass(frozen=True, slots=True)
class _Context:
    cluster: str
    place: str  # "on cluster prod-eu-1", "on cluster prod-eu-1, Deployment shop/web"
    subject: Any = None  # None: app values; else the object or item the paths read


@dataclass(frozen=True, slots=True)
class _Observation:
    """What a path read: its text, the value (MISSING when absent), why it is absent, and who set it."""

    path: str
    value: Any
    absent: str = ""
    origin: Origin | None = None


def run_test(suite: TestSuite, test: ast.TestDecl, fleet: Fleet, objects: Objects, sources: dict) -> list[Diagnostic]:
    """The failures of one checked test (empty: it passed)."""
    return _Runner(suite, fleet, objects, sources).body(test.body, None)


class _Runner:
    def __init__(self, suite: TestSuite, fleet: Fleet, objects: Objects, sources: dict) -> None:
        self.suite = suite
        self.fleet = fleet
        self.objects = objects
        self.sources = sources

    def body(self, body: ast.TestBody, context: _Context | None) -> list[Diagnostic]:
        failures: list[Diagnostic] = []
        for stmt in body.stmts:
            if isinstance(stmt, ast.Quantifier) and stmt.subject == "cluster":
                contexts = [_Context(name, f"on cluster {name}") for name in self.suite.clusters.get(id(stmt), ())]
                failures += self.quantified(stmt, contexts)
            elif context is None:  # a test's own body: on every cluster
                for name in self.fleet.clusters:
                    failures += self.statement(stmt, _Context(name, f"on cluster {name}"))
            else:
                failures += self.statement(stmt, context)
        return failures

    def statement(self, stmt, context: _Context) -> list[Diagnostic]:
        if isinstance(stmt, ast.Expect):
            holds, seen = self.condition(stmt.condition, context)
            if holds:
                return []
            return [self.failure(stmt.span, f"{context.place}: `{self.source(stmt.condition)}` does not hold", seen)]
        if stmt.subject == "object":
            contexts = [_Context(context.cluster, f"{context.place}, {_object_name(obj)}", obj)
                        for obj in sorted(self.objects(context.cluster), key=_object_name)]
        else:
            items = self.read(stmt.path, context).value
            items = items if isinstance(items, (list, tuple)) else []
            contexts = [_Context(context.cluster, f"{context.place}, {_text(stmt.path)}[{index}]", item)
                        for index, item in enumerate(items)]
        return self.quantified(stmt, contexts)

    def quantified(self, stmt: ast.Quantifier, contexts: list[_Context]) -> list[Diagnostic]:
        failures: list[Diagnostic] = []
        for context in contexts:
            if stmt.where is not None and stmt.subject != "cluster" and not self.condition(stmt.where, context)[0]:
                continue
            found = self.body(stmt.body, context)
            if stmt.quantifier == "every":
                failures += found
            elif not found:
                failures.append(self.counterexample(stmt, context))
        return failures

    def counterexample(self, stmt: ast.Quantifier, context: _Context) -> Diagnostic:
        """A match of `no ...` for which its whole body holds."""
        expects = [expect for expect in stmt.body.stmts if isinstance(expect, ast.Expect)]
        seen = [s for expect in expects for s in self.condition(expect.condition, context)[1]]
        held = " and ".join(f"`{self.source(expect.condition)}`" for expect in expects)
        message = f"{context.place}: matches `no {self.head(stmt)}`" + (f", and {held} holds" if held else "")
        return self.failure(stmt.span, message, seen)

    def head(self, stmt: ast.Quantifier) -> str:
        """The quantifier's text up to its body: `no cluster where region == "cn-north-1"`."""
        return " ".join(self.sources[stmt.span.file].text[stmt.span.start + len(stmt.quantifier) : stmt.body.span.start].split())

    def condition(self, condition, context: _Context) -> tuple[bool, list[_Observation]]:
        if isinstance(condition, (ast.SelAnd, ast.SelOr)):
            left, seen = self.condition(condition.left, context)
            if isinstance(condition, ast.SelAnd) != left:  # `false and ...`, `true or ...`
                return left, seen
            right, more = self.condition(condition.right, context)
            return right, seen + more
        if isinstance(condition, ast.SelNot):
            holds, seen = self.condition(condition.operand, context)
            return not holds, seen
        seen = self.read(condition.path, context)
        if isinstance(condition, ast.CondExists):
            return seen.value is not MISSING, [seen]
        if seen.value is MISSING:
            return False, [seen]
        if isinstance(condition, ast.CondIn):
            inside = any(_equal(seen.value, self.suite.values.get(id(item))) for item in condition.values.items)
            return inside != condition.negated, [seen]
        return _compare(condition.op, seen.value, self.suite.values.get(id(condition.value))), [seen]

    def read(self, path: ast.Path, context: _Context) -> _Observation:
        keys = tuple(key.text for key in path.keys)
        text = _text(path)
        if context.subject is not None:
            value = lookup(context.subject, keys)
            return _Observation(text, value, "is not set" if value is MISSING else "")
        instance = self.fleet.clusters[context.cluster].instances.get(keys[0])
        if instance is None:
            return _Observation(text, MISSING, f"`{keys[0]}` does not run on cluster {context.cluster}")
        value = lookup(instance.values, keys[1:])
        return _Observation(text, value, "is not set" if value is MISSING else "", instance.origins.get(keys[1:]))

    def failure(self, span, message: str, seen: list[_Observation]) -> Diagnostic:
        notes, related = [], []
        for observation in seen:
            if observation.value is MISSING:
                notes.append(observation.absent if observation.absent.startswith("`") else f"{observation.path} {observation.absent}")
                continue
            note = f"{observation.path} is {_brief(observation.value)}"
            origin = observation.origin
            if origin is not None:
                note += f", set by {origin.label} `{origin.source}`" + (f" ({self.where(origin.span)})" if origin.span else "")
                if origin.span is not None:
                    related.append(Related(origin.span, f"{observation.path} = {_brief(observation.value)} here ({origin.label})"))
            notes.append(note)
        return diagnostic(codes.TEST_FAILED, span, message, notes=list(dict.fromkeys(notes)), related=related)

    def source(self, node: ast.Node) -> str:
        return " ".join(self.sources[node.span.file].text[node.span.start : node.span.end].split())

    def where(self, span) -> str:
        position = self.sources[span.file].position(span.start)
        return f"{span.file}:{position.line + 1}:{position.column + 1}"


def _brief(value: Any, width: int = 80) -> str:
    """A value as .gop writes it, cut short: a whole app's values would drown the message."""
    text = describe_value(plain(value))
    return text if len(text) <= width else text[: width - 1] + "…"


def _object_name(obj: dict) -> str:
    metadata = obj.get("metadata") or {}
    name = f"{metadata.get('namespace')}/{metadata.get('name')}" if metadata.get("namespace") else str(metadata.get("name"))
    return f"{obj.get('kind')} {name}"


def _equal(actual: Any, expected: Any) -> bool:
    if same(actual, expected):
        return True
    left, right = plain(actual), plain(expected)
    numbers = all(isinstance(v, (int, float)) and not isinstance(v, bool) for v in (left, right))
    return left == right if numbers or type(left) is type(right) else False


def _compare(op: str, actual: Any, expected: Any) -> bool:
    if op == "==":
        return _equal(actual, expected)
    if op == "!=":
        return not _equal(actual, expected)
    try:
        left = type(expected).parse(actual) if isinstance(actual, str) and hasattr(type(expected), "parse") else actual
        if isinstance(left, bool) or isinstance(expected, bool):
            return False
        if op == "<":
            return left < expected
        if op == "<=":
            return left <= expected
        return expected < left if op == ">" else expected <= left
    except (TypeError, ValueError):  # an object's value of another kind than the one compared with
        return False
