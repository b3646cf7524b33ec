"""Type check pass: type expressions -> `types.Type`, expressions -> checked values.

Input: the `Program` and its `Resolution`. Output (side tables on the `Checker`):
the semantic type of every type declaration and schema, the value of every
`let`, and, on request, the checked leaves of a body against a record type.
Bodies flatten to `Leaf`s: a path of keys, a runtime value and the span that set
it; a block with an empty body leaves a `PRESENT` marker so that an optional
record can be switched on with its defaults (`serviceAccount {}`).

Invariants: a value returned is of its expected type and satisfies every
refinement; anything else yields a diagnostic and `INVALID`, never an exception.
While `unit_context` is set (the evaluator checks a unit body), a string that reads the context
(`"${cluster.labels.region}"`) is a `context.ContextText` typed by where it stands (E1025 an
unknown context value, E1027 a `??` with nothing to fall back from), resolved per cluster later.
Side tables for the symbol table (`symbols`): `references` (use span -> declaration) and
`field_owners` (each record field -> the schema that declares it).
Caches: the checker's own tables live as long as the checker (one analysis); the two
process-wide ones (`_unit_value`, `_compiled`) are pure functions of literal texts and hold no
program object (the list of process-wide caches is in compiler/session.py).
"""

from __future__ import annotations

import dataclasses
import functools
import math
import re
from dataclasses import dataclass, field
from fractions import Fraction
from typing import Any

from gop.compiler.syntax import ast
from gop.compiler.diagnostics import Diagnostic, Fix, Related, diagnostic
from gop.compiler.core.frozen import frozen
from gop.compiler.semantic.context import ContextRef, ContextText, UnitContext, label_may_be_absent
from gop.compiler.semantic.loader import Program
from gop.compiler.semantic.narrowing import widening
from gop.compiler.semantic.quantity_hints import unit_hint
from gop.compiler.semantic.resolve import Resolution
from gop.compiler.core.span import Span
from gop.compiler.diagnostics.suggest import did_you_mean
from gop.compiler.semantic.types import (
    AnyType, BoolType, Duration, DurationType, EnumType, Field, FloatType, IntType, ListType, MapType, Quantity,
    QuantityType, RecordType, ResourceRefType, ResourceRef, SecretRef, SecretType, StringType, Type, UnionType, DATA_KEY,
    SECRET_NAME, compile_pattern, describe_value, go_unsupported,
)
from gop.compiler.diagnostics import codes
from gop.compiler.language import CONTEXT_NAMES, PRELUDE_MODULE, SECRET_FUNCTIONS, SECRET_PARAMETERS

INVALID = object()

# The largest value a `let` or a field may hold (E0332), in characters of strings plus items of
# lists and maps: a megabyte, what one Kubernetes object may hold at most. Without a bound,
# thirty `let`s each doubling the last made a gigabyte, in the compiler and the language server.
MAX_VALUE_SIZE = 1 << 20
# How many `let`s and type declarations may be under evaluation inside one another (E0330):
# each level is a few frames of recursion.
MAX_REFERENCE_DEPTH = 100
INT_MIN, INT_MAX = -(2**63 - 1), 2**63 - 1  # as the parser's literals (E0331)


class _Present:
    """Marks a record or map made present by a block, with nothing assigned inside."""

    def __repr__(self) -> str:
        return "PRESENT"


PRESENT = _Present()

# The reports about a value against its field's type, which name the field (`Checker._name_value`).
_FIELD_VALUE_CODES = frozenset({codes.TYPE_MISMATCH, codes.OUT_OF_RANGE, codes.REFINEMENT_NOT_MET, codes.VALUE_NOT_ALLOWED})

BUILTIN_TYPES: dict[str, Type] = {
    "int": IntType(), "float": FloatType(), "bool": BoolType(), "string": StringType(),
    "duration": DurationType(), "quantity": QuantityType(), "secret": SecretType(), "any": AnyType(),
    "app": ResourceRefType("app"), "source": ResourceRefType("source"),
    "registry": ResourceRefType("registry"), "provider": ResourceRefType("provider"),
    "release": ResourceRefType("release"), "stage": ResourceRefType("stage"),
    "namespace": ResourceRefType("namespace"), "resource": ResourceRefType("resource"),
}
# The types of the secret functions' arguments: the Secret's name and key are those the chart's schema
# takes for a secret reference (lower/helm/schema.py builds it from the same types).
SECRET_ARGUMENT_TYPES = {"secret": SECRET_NAME, "key": DATA_KEY}
# `external(...)`'s optional arguments: the kind of the store `store` names (an ExternalSecret's
# `secretStoreRef.kind`; one ClusterSecretStore serves every namespace of the fleet's apps) and
# the property of the remote value to read (a field of a JSON secret, `remoteRef.property`).
DEFAULT_STORE_KIND = "ClusterSecretStore"
EXTERNAL_OPTIONAL: dict[str, Type] = {"storeKind": EnumType(("ClusterSecretStore", "SecretStore")),
                                      "property": StringType(min_length=1)}


@frozen
class Leaf:
    path: tuple[str, ...]
    value: Any
    span: Span  # the assignment that set it


@dataclass(slots=True)
class Scope:
    """Where names in an expression or type are looked up."""

    module: str
    file: str


@dataclass(slots=True)
class Checker:
    program: Program
    resolution: Resolution
    diagnostics: list[Diagnostic] = field(default_factory=list)
    references: list[tuple[Span, Any]] = field(default_factory=list)  # (use span, declaration node)
    # id(Field) -> the SchemaDecl that declares it (None for the labels' fields)
    field_owners: dict[int, ast.SchemaDecl | None] = field(default_factory=dict)
    _type_cache: dict[int, Type] = field(default_factory=dict)
    _in_progress: set[int] = field(default_factory=set)
    _let_values: dict[int, Any] = field(default_factory=dict)
    _sizes: dict[int, tuple[Any, int]] = field(default_factory=dict)  # id(list or map) -> (it, its size)
    # The unit whose body is being checked (set by the evaluator): strings may then read the
    # context (`${app.name}`, `${cluster.labels.region}`) and are `ContextText`s.
    unit_context: UnitContext | None = None
    reads_context: bool = False  # whether any checked string read the context
    _narrowed: dict[int, list] | None = None  # id(SchemaDecl) -> [(NarrowDecl, FieldDecl)]; see `_narrowings`

    # ---- diagnostics ---------------------------------------------------------------

    def error(self, code: str, span: Span, message: str, **extra) -> None:
        self.diagnostics.append(diagnostic(code, span, message, **extra))

    # ---- scopes and names -------------------------------------------------------------

    def scope_of(self, decl) -> Scope:
        file = self.resolution.decl_file[id(decl)]
        return Scope(self.program.module_of[file], file)

    def declaration_named(self, names: tuple[ast.Name, ...], scope: Scope):
        """`lookup` of a (possibly qualified) name as written in `scope`."""
        return self.lookup(tuple(n.text for n in names), scope.module, self.resolution.file_imports.get(scope.file, {}))

    def lookup(self, names: tuple[str, ...], module: str, imports: dict[str, str]):
        """The type/schema/let `names` denotes: `X` in `module` or the prelude, or `alias.X` in the
        module `imports[alias]`; None if there is none. (The symbol table asks the same question.)"""
        if len(names) == 1:
            for scope_module in (module, PRELUDE_MODULE):
                decl = self.resolution.module_symbols.get(scope_module, {}).get(names[0])
                if decl is not None:
                    return decl
            return None
        target = imports.get(names[0])
        if target is None:
            return None
        return self.resolution.module_symbols.get(target, {}).get(names[1])

    def _unknown(self, names: tuple[ast.Name, ...], scope: Scope, what: str, extra: list[str] = ()) -> None:
        dotted = ".".join(n.text for n in names)
        span = names[0].span.cover(names[-1].span)
        candidates = list(extra)
        if len(names) == 1:
            candidates += list(self.resolution.module_symbols.get(scope.module, {}))
            candidates += list(self.resolution.module_symbols.get(PRELUDE_MODULE, {}))
            candidates += list(self.resolution.file_imports.get(scope.file, {}))
        else:
            module = self.resolution.file_imports.get(scope.file, {}).get(names[0].text)
            if module is None:
                hint = did_you_mean(names[0].text, self.resolution.file_imports.get(scope.file, {}))
                self._unknown_name(names[0].span, names[0].text, "module", hint)
                return
            candidates = [f"{names[0].text}.{n}" for n in self.resolution.module_symbols.get(module, {})]
        self._unknown_name(span, dotted, what, did_you_mean(dotted, candidates))

    def _unknown_name(self, span: Span, name: str, what: str, hint: str | None) -> None:
        notes, fixes = [], []
        if hint:
            notes.append(f"did you mean `{hint}`?")
            fixes.append(Fix(span, hint, f"change to `{hint}`"))
        self.error(codes.UNKNOWN_NAME, span, f"unknown {what} `{name}`", notes=notes, fixes=fixes)

    # ---- types -----------------------------------------------------------------------------

    def named_type(self, decl: ast.TypeDecl | ast.SchemaDecl) -> Type:
        key = id(decl)
        if key in self._type_cache:
            return self._type_cache[key]
        scope = self.scope_of(decl)
        if isinstance(decl, ast.SchemaDecl):
            record = RecordType(decl.name.text, {}, decl.doc)
            self._type_cache[key] = record
            record.fields.update(self.fields(decl.fields, scope, owner=decl))
            for narrow, field_decl in self._narrowings().get(key, ()):
                self._narrow(record, decl, narrow, field_decl)
            return record
        if key in self._in_progress:
            self.error(codes.CIRCULAR_DEFINITION, decl.name.span, f"type `{decl.name.text}` is defined in terms of itself")
            return AnyType()
        if self._too_deep(decl):
            return AnyType()
        self._in_progress.add(key)
        try:
            resolved = self.type_of(decl.type, scope)
        finally:
            self._in_progress.discard(key)
        self._type_cache[key] = resolved
        return resolved

    def _narrowings(self) -> dict[int, list]:
        """The fleet's `narrow` declarations by the schema they narrow (every use of the schema,
        from any module, sees them). Made once, reporting a target that is no schema, a default,
        and a field narrowed twice."""
        if self._narrowed is not None:
            return self._narrowed
        self._narrowed = {}
        first: dict[tuple[int, str], ast.FieldDecl] = {}
        for narrow in self.resolution.narrowings:
            scope = self.scope_of(narrow)
            target = self.declaration_named(narrow.target.names, scope)
            if target is None:
                self._unknown(narrow.target.names, scope, "schema")
                continue
            if not isinstance(target, ast.SchemaDecl):
                self.error(codes.NARROWING_NOT_A_SCHEMA, narrow.target.span, f"`{narrow.target.dotted}` is not a schema; `narrow` tightens a schema's fields",
                           related=[Related(target.name.span, f"`{narrow.target.dotted}` is declared here")])
                continue
            for field_decl in narrow.fields:
                if field_decl.default is not None:
                    self.error(codes.NARROWING_WITH_DEFAULT, field_decl.default.span, "a narrowing sets no value",
                               notes=(f"set a fleet-wide value in `defaults for app {{ {field_decl.name.text} = ... }}`"
                                      if target.name.text == "App" else "set the value where the schema is used",))
                previous = first.setdefault((id(target), field_decl.name.text), field_decl)
                if previous is not field_decl:
                    self.error(codes.NARROWED_TWICE, field_decl.name.span, f"`{target.name.text}.{field_decl.name.text}` is narrowed twice",
                               related=[Related(previous.name.span, "the other narrowing")],
                               notes=("keep one, with the tightest type you mean",))
                    continue
                self._narrowed.setdefault(id(target), []).append((narrow, field_decl))
        return self._narrowed

    def _narrow(self, record: RecordType, schema: ast.SchemaDecl, narrow: ast.NarrowDecl, field_decl: ast.FieldDecl) -> None:
        """Replace a field of `record` by its narrowed version, when the narrowing is one."""
        name = field_decl.name.text
        original = record.fields.get(name)
        if original is None:
            self._unknown_field(field_decl.name, record)
            return
        narrowed = self.type_of(field_decl.type, self.scope_of(narrow))
        where = f"`{record.name}.{name}`, which is {'optional ' if original.optional else ''}`{original.type.describe()}`"
        reason = widening(narrowed, original.type)
        if reason is None and field_decl.optional and not original.optional:
            reason = "it makes a required field optional"
        if reason is None and original.has_default and self._quietly(lambda: self.conform(original.default, narrowed, field_decl.type.span)) is INVALID:
            reason = f"it refuses the field's default, {describe_value(original.default)}"
        if reason is not None:
            self.error(codes.NARROWING_WIDENS, field_decl.type.span, f"this does not narrow {where}: {reason}",
                       related=[Related(original_span, f"`{record.name}.{name}` is declared here")
                                for original_span in self._field_span(schema, name)],
                       notes=("a narrowing may only tighten a field: a range inside the original one, a subset of its values, "
                              "a pattern where it has none, optional to required",))
            return
        made = record.fields[name] = Field(name, narrowed, field_decl.optional, original.default, original.has_default,
                                           field_decl.doc or original.doc)
        self.field_owners[id(made)] = schema

    @staticmethod
    def _field_span(schema: ast.SchemaDecl, name: str) -> list[Span]:
        return [decl.name.span for decl in schema.fields if decl.name.text == name][:1]

    def _too_deep(self, decl) -> bool:
        """Report `decl` when evaluating it would go MAX_REFERENCE_DEPTH declarations deep."""
        if len(self._in_progress) < MAX_REFERENCE_DEPTH:
            return False
        self.error(codes.NESTED_TOO_DEEPLY, decl.name.span,
                   f"`{decl.name.text}` is reached through more than {MAX_REFERENCE_DEPTH} declarations that refer to one another",
                   notes=("shorten the chain: refer to the declaration at its start rather than through each link",))
        return True

    def fields(self, decls: tuple[ast.FieldDecl, ...], scope: Scope, owner: ast.SchemaDecl | None = None) -> dict[str, Field]:
        """The fields of a schema (`owner`) or of the labels; each is recorded in `field_owners`."""
        fields: dict[str, Field] = {}
        for decl in decls:
            if decl.name.text in fields:
                self.error(codes.DUPLICATE_DECLARATION, decl.name.span, f"field `{decl.name.text}` is declared twice")
                continue
            type_ = self.type_of(decl.type, scope)
            default, has_default = None, False
            if decl.default is not None:
                default = self.value(decl.default, type_, scope)
                has_default = default is not INVALID
                if not has_default:
                    default = None
                if decl.optional:
                    self.error(
                        codes.OPTIONAL_FIELD_WITH_DEFAULT, decl.name.span,
                        f"field `{decl.name.text}` is marked optional and has a default",
                        notes=("the default always applies, so the field is never absent; drop the `?` or the default",),
                    )
            made = fields[decl.name.text] = Field(decl.name.text, type_, decl.optional, default, has_default, decl.doc)
            self.field_owners[id(made)] = owner
        return fields

    def type_of(self, node, scope: Scope) -> Type:
        if isinstance(node, ast.NamedType):
            return self._refine(self._named(node.name, scope), node.refinements, node)
        if isinstance(node, ast.ListType):
            element = self.type_of(node.element, scope)
            low, high = self._length(node.refinements, node, "list")
            return ListType(element, low, high)
        if isinstance(node, ast.MapType):
            key = self.type_of(node.key, scope)
            if not isinstance(key, (StringType, EnumType)) or (isinstance(key, EnumType) and not all(isinstance(v, str) for v in key.values)):
                self.error(codes.TYPE_MISMATCH, node.key.span, f"map keys must be strings, not `{key.describe()}`")
                key = StringType()
            return MapType(key, self.type_of(node.value, scope))
        if isinstance(node, ast.LiteralType):
            value = self._literal(node.value)
            return EnumType((value,)) if value is not INVALID else AnyType()
        if isinstance(node, ast.UnionType):
            return self._union(node, scope)
        return AnyType()

    def _named(self, name: ast.TypeName, scope: Scope) -> Type:
        if len(name.names) == 1 and name.names[0].text in BUILTIN_TYPES:
            return BUILTIN_TYPES[name.names[0].text]
        decl = self.declaration_named(name.names, scope)
        if decl is None or isinstance(decl, ast.LetDecl):
            self._unknown(name.names, scope, "type", extra=list(BUILTIN_TYPES))
            return AnyType()
        self.references.append((name.span, decl))
        return self.named_type(decl)

    def _union(self, node: ast.UnionType, scope: Scope) -> Type:
        """Literals make an enum; literals beside one int and one string type (Kubernetes'
        IntOrString: `int(0..) | string(pattern: "^[0-9]+%$")`) make a union, tried in order."""
        values: list = []
        scalars: list[Type] = []
        for member in node.members:
            member_type = self.type_of(member, scope)
            if isinstance(member_type, EnumType):
                values.extend(v for v in member_type.values if not any(v == w and type(v) is type(w) for w in values))
            elif isinstance(member_type, (IntType, StringType)) and not any(type(t) is type(member_type) for t in scalars):
                scalars.append(member_type)
            else:
                self.error(
                    codes.INVALID_TYPE, member.span, "a union may only combine literal values, one int type and one string type",
                    notes=('write the allowed values: `"dev" | "staging" | "prod"`, or e.g. `int(0..) | string(pattern: "^[0-9]+%$")`',),
                )
                return AnyType()
        if not scalars:
            return EnumType(tuple(values))
        return UnionType(((EnumType(tuple(values)),) if values else ()) + tuple(scalars))

    def _length(self, refinements, node, what: str) -> tuple[int | None, int | None]:
        low = high = None
        for arg in refinements:
            if arg.name is not None and arg.name.text == "len" and isinstance(arg.value, ast.Range):
                low, high = self._bounds(arg.value, IntType())
            else:
                self.error(codes.INVALID_TYPE, arg.span, f"a {what} type takes only `len: MIN..MAX`")
        return low, high

    def _bounds(self, range_: ast.Range, bound_type: Type, scope: Scope | None = None):
        scope = scope or Scope(PRELUDE_MODULE, "")
        low = self.value(range_.low, bound_type, scope) if range_.low is not None else None
        high = self.value(range_.high, bound_type, scope) if range_.high is not None else None
        low = None if low is INVALID else low
        high = None if high is INVALID else high
        if low is not None and high is not None and low > high:
            self.error(codes.INVALID_TYPE, range_.span, f"the range is empty: {low} is more than {high}")
        return low, high

    def _refine(self, base: Type, refinements: tuple[ast.RefineArg, ...], node) -> Type:
        if not refinements:
            return base
        if isinstance(base, (IntType, FloatType, DurationType, QuantityType)):
            if len(refinements) != 1 or refinements[0].name is not None or not isinstance(refinements[0].value, ast.Range):
                self.error(codes.INVALID_TYPE, node.span, f"`{base.describe()}` takes one range, e.g. `{base.describe()}(1..10)`")
                return base
            low, high = self._bounds(refinements[0].value, type(base)())
            return type(base)(low, high)
        if isinstance(base, StringType):
            return self._refine_string(refinements)
        self.error(codes.INVALID_TYPE, node.span, f"`{base.describe()}` cannot be refined")
        return base

    def _refine_string(self, refinements) -> StringType:
        pattern, low, high, message = None, None, None, None
        for arg in refinements:
            name = arg.name.text if arg.name is not None else None
            if name == "len" and isinstance(arg.value, ast.Range):
                low, high = self._bounds(arg.value, IntType())
            elif name == "pattern" and isinstance(arg.value, ast.StringLit) and arg.value.is_plain:
                pattern = arg.value.plain_value
                try:
                    compile_pattern(pattern)
                    unsupported = go_unsupported(pattern)
                except (re.error, OverflowError, RecursionError) as error:  # a repeat count or nesting re refuses
                    self.error(codes.INVALID_TYPE, arg.value.span, f"invalid pattern: {error}")
                    pattern = None
                else:
                    if unsupported is not None:
                        self.error(codes.INVALID_TYPE, arg.value.span, f"the pattern uses {unsupported}, which Helm's "
                                   "regular expressions (Go's RE2) do not have; the chart could not be installed")
                        pattern = None
            elif name == "message" and isinstance(arg.value, ast.StringLit) and arg.value.is_plain:
                message = arg.value.plain_value
            else:
                self.error(codes.INVALID_TYPE, arg.span, 'a string takes `len: MIN..MAX`, `pattern: "regex"` and '
                           '`message: "what the pattern expects, e.g. an example"`')
        return StringType(pattern, low, high, message)

    # ---- values ----------------------------------------------------------------------------

    def let_value(self, decl: ast.LetDecl) -> Any:
        key = id(decl)
        if key in self._let_values:
            return self._let_values[key]
        if key in self._in_progress:
            self.error(codes.CIRCULAR_DEFINITION, decl.name.span, f"`{decl.name.text}` is defined in terms of itself")
            return INVALID
        if self._too_deep(decl):
            return INVALID
        self._in_progress.add(key)
        scope = self.scope_of(decl)
        unit_context, self.unit_context = self.unit_context, None  # a let has one value, whatever reads it
        try:
            expected = self.type_of(decl.type, scope) if decl.type is not None else AnyType()
            value = self.value(decl.value, expected, scope)
        finally:
            self._in_progress.discard(key)
            self.unit_context = unit_context
        self._let_values[key] = value
        return value

    def value(self, expr, expected: Type, scope: Scope) -> Any:
        """Check `expr` against `expected` and return its runtime value (or INVALID)."""
        if isinstance(expr, ast.Missing):
            return INVALID  # the parser reported it
        if isinstance(expected, ResourceRefType):
            return self._resource_ref(expr, expected)
        if isinstance(expected, UnionType):
            return self._union_value(expr, expected, scope)
        if isinstance(expected, SecretType):
            return self._secret(expr, scope)
        if isinstance(expr, ast.Call):
            return self._call_elsewhere(expr)
        if isinstance(expr, ast.MapLit):
            return self._map_literal(expr, expected, scope)
        if isinstance(expr, ast.ListLit):
            return self._list(expr, expected, scope)
        if isinstance(expr, ast.Ref) and self._unquoted_text(expr, expected, scope):
            return INVALID
        raw = self._compute(expr, expected, scope)
        if raw is INVALID:
            return INVALID
        return self.conform(raw, expected, expr.span)

    def _union_value(self, expr, expected: UnionType, scope: Scope) -> Any:
        """The value of `expr` as the first member of the union it fits; when it fits none, the
        diagnostics of the member of its own kind (a string's pattern), or a mismatch."""
        for member in expected.members:
            value = self._quietly(lambda: self.value(expr, member, scope))
            if value is not INVALID:
                return value
        found = self._quietly(lambda: self.value(expr, AnyType(), scope))
        if found is INVALID:
            return self.value(expr, AnyType(), scope)  # reports why it has no value
        for member in expected.members:
            if _of_kind(found, member):
                return self.value(expr, member, scope)
        return self._mismatch(expected, found, expr.span)

    def _quietly(self, attempt) -> Any:
        """The result of `attempt()`; when INVALID, without the diagnostics and references it made."""
        diagnostics, references = len(self.diagnostics), len(self.references)
        value = attempt()
        if value is INVALID:
            del self.diagnostics[diagnostics:], self.references[references:]
        return value

    def _compute(self, expr, expected: Type, scope: Scope) -> Any:
        """The value of a scalar expression, before checking it against the expected type."""
        if isinstance(expr, ast.UnitLit):
            return self._unit(expr, expected)
        if isinstance(expr, (ast.IntLit, ast.FloatLit, ast.BoolLit)):
            return expr.value
        if isinstance(expr, ast.StringLit):
            return self._string(expr, scope)
        if isinstance(expr, ast.Ref):
            return self._ref(expr, scope)
        if isinstance(expr, ast.Negate):
            operand = self._compute(expr.operand, expected, scope)
            if isinstance(operand, (int, float)) and not isinstance(operand, bool):
                return -operand
            if operand is not INVALID:
                self.error(codes.TYPE_MISMATCH, expr.span, f"cannot negate {describe_value(operand)}")
            return INVALID
        if isinstance(expr, ast.Binary):
            return self._binary(expr, expected, scope)
        if isinstance(expr, (ast.ListLit, ast.MapLit)):
            return self.value(expr, AnyType(), scope)
        if isinstance(expr, ast.Call):
            return self._call_elsewhere(expr)
        if isinstance(expr, ast.Fallback):
            self.error(codes.FALLBACK_OUTSIDE_CONTEXT, expr.span, "nothing here can be absent: `??` gives a fallback for an optional cluster label",
                       notes=('e.g. `"${cluster.labels.zone ?? "a"}"`; here drop `?? ...`',),
                       fixes=(Fix(expr.span, self._text(expr.value), "drop the fallback"),))
            return INVALID
        return INVALID

    def _text(self, node) -> str:
        source = self.program.sources.get(node.span.file)
        return source.text[node.span.start:node.span.end] if source is not None else ""

    def _literal(self, node) -> Any:
        if isinstance(node, ast.StringLit):
            if not node.is_plain:
                self.error(codes.INVALID_TYPE, node.span, "a literal type cannot hold an interpolation")
                return INVALID
            return node.plain_value
        if isinstance(node, (ast.IntLit, ast.FloatLit, ast.BoolLit)):
            return node.value
        self.error(codes.INVALID_TYPE, node.span, "only strings, numbers and booleans can be literal types")
        return INVALID

    def _unit(self, expr: ast.UnitLit, expected: Type) -> Any:
        text = expr.text
        wants_quantity = isinstance(expected, QuantityType)
        wants_duration = isinstance(expected, DurationType)
        if not wants_quantity and not wants_duration:
            if re.fullmatch(r"\d+(\.\d+)?(Ki|Mi|Gi|Ti|Pi|Ei|k|M|G|T|P|E|n|u)", text):
                wants_quantity = True
            else:
                wants_duration = True
        try:
            return _unit_value(text, wants_quantity)
        except ValueError as error:
            kind = "quantity" if wants_quantity else "duration"
            notes = ("durations use ms, s, m, h from larger to smaller (`1h30m`); quantities use m, k, M, G, Ki, Mi, Gi ... (`250m`, `1.5Gi`)",)
            self.error(codes.INVALID_LITERAL, expr.span, f"`{text}` is not a valid {kind}: {error}", notes=notes)
            return INVALID

    def _string(self, expr: ast.StringLit, scope: Scope) -> Any:
        pieces = []
        deferred = False
        for part in expr.parts:
            if isinstance(part, str):
                pieces.append(part)
                continue
            if self._reads_context(part.expr, scope):
                ref = self._context_ref(part, scope)
                if ref is INVALID:
                    return INVALID
                pieces.append(ref)
                deferred = True
                continue
            value = self._compute(part.expr, AnyType(), scope)
            if value is INVALID:
                return INVALID
            if isinstance(value, (dict, list, tuple, SecretRef)):
                what = "a secret reference" if isinstance(value, SecretRef) else "a list or map"
                self.error(codes.TYPE_MISMATCH, part.span, f"cannot interpolate {what} into a string")
                return INVALID
            pieces.append(interpolated_text(value))
        if deferred:
            self.reads_context = True
            return ContextText(_joined(pieces), AnyType(), expr.span)
        if sum(map(len, pieces)) > MAX_VALUE_SIZE:
            return self._too_large(expr.span, "this string")
        return "".join(pieces)

    # ---- context interpolation ------------------------------------------------------------

    def _reads_context(self, expr, scope: Scope) -> bool:
        """`${cluster.name}`, `${cluster.labels.zone ?? "a"}`: a dotted name whose first name is a
        context root and not an import alias."""
        ref = expr.value if isinstance(expr, ast.Fallback) else expr
        return (isinstance(ref, ast.Ref) and len(ref.names) > 1 and ref.names[0].text in CONTEXT_NAMES
                and ref.names[0].text not in self.resolution.file_imports.get(scope.file, {}))

    def _context_ref(self, part: ast.Interpolation, scope: Scope) -> Any:
        """The typed reference of a context interpolation, or INVALID after E1025."""
        fallback_expr = part.expr.fallback if isinstance(part.expr, ast.Fallback) else None
        ref: ast.Ref = part.expr.value if fallback_expr is not None else part.expr
        path = tuple(name.text for name in ref.names)
        context = self.unit_context
        if context is None:
            self.error(codes.UNKNOWN_CONTEXT_VALUE, ref.span, f"`{ref.dotted}` has no value here",
                       notes=("context values exist in the bodies of apps, releases and resources (at any layer), "
                              "where a value is resolved per cluster: not in a `let`, labels or settings",))
            return INVALID
        known = {(context.kind, "name"), ("env", "name"), ("cluster", "name")}
        if path[:2] == ("cluster", "labels") and len(path) == 3:
            labels = context.labels
            if isinstance(labels, RecordType) and path[2] not in labels.fields:
                hint = did_you_mean(path[2], labels.fields)
                notes = ([f"did you mean `{hint}`?"] if hint else []) + [f"declared labels: {', '.join(labels.fields) or 'none'}"]
                fixes = (Fix(ref.names[2].span, hint, f"change to `{hint}`"),) if hint else ()
                self.error(codes.UNKNOWN_CONTEXT_VALUE, ref.names[2].span, f"`{path[2]}` is not a declared cluster label",
                           notes=notes, fixes=fixes)
                return INVALID
            absent = label_may_be_absent(labels, path[2])
        elif path in known:
            absent = False
        else:
            written = ".".join(path)
            choices = sorted(".".join(p) for p in known) + ["cluster.labels.KEY"]
            hint = did_you_mean(written, choices[:-1])
            notes = [f"did you mean `{hint}`?"] if hint else []
            if path[0] in ("app", "release", "resource") and path[0] != context.kind and path[1:] == ("name",):
                notes = [f"this body is {'an' if context.kind == 'app' else 'a'} {context.kind}'s: `${{{context.kind}.name}}`"]
            self.error(codes.UNKNOWN_CONTEXT_VALUE, ref.span, f"`{written}` is not a context value",
                       notes=(*notes, "context values: " + ", ".join(f"`{c}`" for c in choices)))
            return INVALID
        fallback = None
        if fallback_expr is not None:
            if not absent:
                what = f"the label `{path[2]}` is required" if path[1] == "labels" else f"`{ref.dotted}` always has a value"
                self.error(codes.FALLBACK_OUTSIDE_CONTEXT, part.expr.span, f"{what}: the fallback is never used",
                           fixes=(Fix(part.expr.span, self._text(ref), "drop the fallback"),))
                return INVALID
            value = self._compute(fallback_expr, AnyType(), scope)
            if value is INVALID:
                return INVALID
            if isinstance(value, (dict, list, tuple, SecretRef, ContextText)):
                self.error(codes.TYPE_MISMATCH, fallback_expr.span, "a fallback is text, a number or a boolean")
                return INVALID
            fallback = interpolated_text(value)
        return ContextRef(path, fallback, part.span)

    def _ref(self, expr: ast.Ref, scope: Scope) -> Any:
        decl = self.declaration_named(expr.names, scope)
        if decl is None or not isinstance(decl, ast.LetDecl):
            if decl is not None:
                self.error(codes.TYPE_MISMATCH, expr.span, f"`{expr.dotted}` is a type, not a value")
            else:
                self._unknown(expr.names, scope, "name")
            return INVALID
        self.references.append((expr.span, decl))
        return self.let_value(decl)

    def _unquoted_text(self, expr: ast.Ref, expected: Type, scope: Scope) -> bool:
        """A value that is an unknown bare word where text is expected (`environment = prod`,
        `host = shop.example.com`) is most likely a string without its quotes: report it with the
        quoted word (or the closest allowed value) as the fix. False when the name is known, does
        not look like text for `expected`, or looks like a misspelt name."""
        word = expr.dotted
        if self.declaration_named(expr.names, scope) is not None or expr.names[0].text in self.resolution.file_imports.get(scope.file, {}):
            return False
        if isinstance(expected, StringType):
            declared = [*self.resolution.module_symbols.get(scope.module, {}), *self.resolution.module_symbols.get(PRELUDE_MODULE, {})]
            if did_you_mean(word, declared):
                return False
            quoted = word
        elif isinstance(expected, EnumType):
            allowed = [v for v in expected.values if isinstance(v, str)]
            quoted = word if word in allowed else did_you_mean(word, allowed)
            if quoted is None:
                return False
        else:
            return False
        self.error(codes.UNKNOWN_NAME, expr.span, f"unknown name `{word}`",
                   notes=(f'text is written in quotes: did you mean "{quoted}"?',),
                   fixes=(Fix(expr.span, f'"{quoted}"', f'change to "{quoted}"'),))
        return True

    def _binary(self, expr: ast.Binary, expected: Type, scope: Scope) -> Any:
        left = self._compute(expr.left, expected, scope)
        right = self._compute(expr.right, expected, scope)
        if left is INVALID or right is INVALID:
            return INVALID
        op = expr.op
        numbers = all(isinstance(v, (int, float)) and not isinstance(v, bool) for v in (left, right))
        try:
            if numbers:
                return self._in_range(self._arithmetic(op, left, right), expr)
            if op == "+" and isinstance(left, str) and isinstance(right, str):
                if len(left) + len(right) > MAX_VALUE_SIZE:
                    return self._too_large(expr.span, "this string")
                return left + right
            if op in "+-" and isinstance(left, Duration) and isinstance(right, Duration):
                return Duration(left.seconds + right.seconds if op == "+" else left.seconds - right.seconds)
        except ZeroDivisionError:
            self.error(codes.TYPE_MISMATCH, expr.span, "division by zero")
            return INVALID
        except OverflowError:  # a quotient beyond floating point
            return self._in_range(math.inf, expr)
        self.error(codes.TYPE_MISMATCH, expr.span, f"cannot apply `{op}` to {describe_value(left)} and {describe_value(right)}")
        return INVALID

    @staticmethod
    def _arithmetic(op: str, left, right):
        if op == "/":
            result = Fraction(left) / Fraction(right)
            return int(result) if result.denominator == 1 and all(isinstance(v, int) for v in (left, right)) else float(result)
        return {"+": lambda: left + right, "-": lambda: left - right, "*": lambda: left * right, "%": lambda: left % right}[op]()

    def _in_range(self, result, expr: ast.Binary) -> Any:
        """`result`, if a 64-bit int or a finite float (what the parser accepts as a literal)."""
        if isinstance(result, int) and INT_MIN <= result <= INT_MAX or isinstance(result, float) and math.isfinite(result):
            return result
        self.error(codes.NUMBER_OUT_OF_RANGE, expr.span, f"the result of `{expr.op}` is out of range: numbers are 64-bit integers or floating point")
        return INVALID

    def _too_large(self, span: Span, what: str) -> Any:
        self.error(codes.VALUE_TOO_LARGE, span, f"{what} would be larger than {MAX_VALUE_SIZE:,} characters and items",
                   notes=("one Kubernetes object holds at most about a megabyte",))
        return INVALID

    def _sized(self, value, size: int, span: Span) -> Any:
        """`value` (a list or map of `size`), remembered for the sizes of the values built from it."""
        if size > MAX_VALUE_SIZE:
            return self._too_large(span, "this value")
        self._sizes[id(value)] = (value, size)
        return value

    def _size(self, value) -> int:
        if isinstance(value, str):
            return len(value)
        known = self._sizes.get(id(value))
        return known[1] if known is not None else 1

    def _resource_ref(self, expr, expected: ResourceRefType) -> Any:
        if isinstance(expr, ast.StringLit) and expr.is_plain:
            name, span = expr.plain_value, expr.span
        elif isinstance(expr, ast.Ref) and len(expr.names) == 1:
            name, span = expr.names[0].text, expr.span
        else:
            self.error(codes.TYPE_MISMATCH, expr.span, f"expected the name of a declared {expected.kind}")
            return INVALID
        declared = self.resolution.resources.get(expected.kind, {})
        decl = declared.get(name)
        if decl is None:
            self._unknown_name(span, name, expected.kind, did_you_mean(name, declared))
            return INVALID
        self.references.append((span, decl))
        return ResourceRef(expected.kind, name)

    def _secret(self, expr, scope: Scope) -> Any:
        if isinstance(expr, ast.Call) and expr.func.text in SECRET_FUNCTIONS:
            return self._secret_call(expr, scope)
        if isinstance(expr, ast.Ref):
            value = self._ref(expr, scope)
            if value is INVALID or isinstance(value, SecretRef):
                return value
        if isinstance(expr, (ast.StringLit, ast.Ref, ast.Binary, ast.IntLit)):
            self.error(
                codes.PLAINTEXT_SECRET, expr.span, "a plaintext value where a secret reference is required",
                notes=('secrets never appear in the program; reference them: `sops("secrets/db.enc.yaml", secret = "db", key = "password")`, '
                       '`secretRef(secret = "db", key = "password")` or `external(store = "vault", remote = "shop/db", secret = "db", key = "password")`',),
            )
            return INVALID
        if isinstance(expr, ast.Call):
            self._unknown_name(expr.func.span, expr.func.text, "function", did_you_mean(expr.func.text, SECRET_FUNCTIONS))
            return INVALID
        self.error(codes.TYPE_MISMATCH, expr.span, "expected a secret reference: sops(...), secretRef(...) or external(...)")
        return INVALID

    def _secret_call(self, call: ast.Call, scope: Scope) -> Any:
        params = SECRET_PARAMETERS[call.func.text]
        optional = EXTERNAL_OPTIONAL if call.func.text == "external" else {}
        args = self._call_args(call, params, scope, optional)
        if args is None:
            return INVALID
        kind = {"sops": "sops", "secretRef": "secret", "external": "external"}[call.func.text]
        if kind == "external":
            return SecretRef(kind, args["secret"], args["key"], store=args["store"], remote=args["remote"],
                             store_kind=args.get("storeKind", DEFAULT_STORE_KIND), property=args.get("property"))
        return SecretRef(kind, args["secret"], args["key"], file=args.get("file"))

    def _call_args(self, call: ast.Call, params: tuple[str, ...], scope: Scope,
                   optional: dict[str, Type] | None = None) -> dict[str, str] | None:
        optional = optional or {}
        values: dict[str, str] = {}
        ok = True
        for index, arg in enumerate(call.args):
            if arg.name is None:
                if values or index >= len(params):
                    self.error(codes.TYPE_MISMATCH, arg.span, f"`{call.func.text}` takes named arguments after the first: {', '.join(params)}")
                    ok = False
                    continue
                name = params[index]
            else:
                name = arg.name.text
                if name not in params and name not in optional:
                    hint = did_you_mean(name, (*params, *optional))
                    self._unknown_name(arg.name.span, name, f"argument of `{call.func.text}`", hint)
                    ok = False
                    continue
            value = self.value(arg.value, optional.get(name) or SECRET_ARGUMENT_TYPES.get(name, StringType(min_length=1)), scope)
            if value is INVALID:
                ok = False
            values[name] = value
        missing = [p for p in params if p not in values]
        if missing and ok:
            self.error(codes.MISSING_FIELD, call.span, f"`{call.func.text}` is missing {', '.join(f'`{m}`' for m in missing)}",
                       notes=(f"`{call.func.text}({', '.join(f'{p} = ...' for p in params)})`",))
            return None
        return values if ok else None

    def _call_elsewhere(self, call: ast.Call) -> Any:
        if call.func.text in SECRET_FUNCTIONS:
            self.error(codes.TYPE_MISMATCH, call.span, f"`{call.func.text}(...)` makes a secret reference; it fits only where a `secret` is expected",
                       notes=("use it in `secretEnv`, e.g. `secretEnv { DB_PASSWORD = sops(...) }`",))
        else:
            self._unknown_name(call.func.span, call.func.text, "function", did_you_mean(call.func.text, SECRET_FUNCTIONS))
        return INVALID

    def _list(self, expr: ast.ListLit, expected: Type, scope: Scope) -> Any:
        if isinstance(expected, AnyType):
            element = AnyType()
        elif isinstance(expected, ListType):
            element = expected.element
        else:
            self.error(codes.TYPE_MISMATCH, expr.span, f"expected {_a(expected)}, found a list")
            return INVALID
        items = [self.value(item, element, scope) for item in expr.items]
        if any(item is INVALID for item in items):
            return INVALID
        if isinstance(expected, ListType):
            self._check_length(len(items), expected.min_length, expected.max_length, expr.span, "items")
        return self._sized(tuple(items), 1 + sum(map(self._size, items)), expr.span)

    def _map_literal(self, expr: ast.MapLit, expected: Type, scope: Scope) -> Any:
        if not isinstance(expected, (RecordType, MapType, AnyType)):
            self.error(codes.TYPE_MISMATCH, expr.span, f"expected {_a(expected)}, found a map")
            return INVALID
        leaves = self.body(expr.body, expected, scope)
        size = 1 + sum(len(leaf.path) + self._size(leaf.value) for leaf in leaves)
        if size > MAX_VALUE_SIZE:
            return self._too_large(expr.span, "this value")
        return self._sized(build_tree(leaves), size, expr.span)

    # ---- conformance of computed values ----------------------------------------------------

    def conform(self, value: Any, expected: Type, span: Span) -> Any:
        """Check a computed scalar against a type; convert where the language allows (int -> float, quantity)."""
        if isinstance(expected, AnyType):
            return value
        if isinstance(expected, BoolType):
            return value if isinstance(value, bool) else self._mismatch(expected, value, span)
        if isinstance(expected, IntType):
            if isinstance(value, bool) or not isinstance(value, int):
                return self._mismatch(expected, value, span)
            return self._check_range(value, expected.minimum, expected.maximum, span)
        if isinstance(expected, FloatType):
            if isinstance(value, bool) or not isinstance(value, (int, float)):
                return self._mismatch(expected, value, span)
            return self._check_range(float(value), expected.minimum, expected.maximum, span)
        if isinstance(expected, StringType):
            if isinstance(value, str):
                return self._check_string(value, expected, span)
            return self._deferred(value, expected, span)
        if isinstance(expected, DurationType):
            if not isinstance(value, Duration):
                return self._mismatch(expected, value, span, hint="write a duration such as `30s`, `5m` or `1h30m`")
            return self._check_range(value, expected.minimum, expected.maximum, span)
        if isinstance(expected, QuantityType):
            if isinstance(value, (int, float)) and not isinstance(value, bool):
                hint = unit_hint(value, expected, span)
                if hint is not None:
                    self.diagnostics.append(hint)
                value = Quantity(Fraction(value), str(value))
            if not isinstance(value, Quantity):
                return self._mismatch(expected, value, span, hint="write a quantity such as `250m`, `1` or `512Mi`")
            return self._check_range(value, expected.minimum, expected.maximum, span)
        if isinstance(expected, EnumType):
            return self._check_enum(value, expected, span) if not isinstance(value, ContextText) else self._deferred(value, expected, span)
        return self._mismatch(expected, value, span)

    def _deferred(self, value: Any, expected: StringType | EnumType, span: Span) -> Any:
        """A string that reads the context, to be checked against `expected` once resolved."""
        if isinstance(value, ContextText):
            return ContextText(value.parts, expected, value.span)
        return self._mismatch(expected, value, span)

    def _mismatch(self, expected: Type, value: Any, span: Span, hint: str | None = None) -> Any:
        notes = (hint,) if hint else ()
        self.error(codes.TYPE_MISMATCH, span, f"expected {_a(expected)}, found {describe_value(value)}", notes=notes)
        return INVALID

    def _check_range(self, value, low, high, span: Span) -> Any:
        if (low is not None and value < low) or (high is not None and value > high):
            bounds = f"{'' if low is None else low}..{'' if high is None else high}"
            self.error(codes.OUT_OF_RANGE, span, f"{describe_value(value)} is out of range {bounds}",
                       notes=(f"allowed: {_range_words(low, high)}",))
            return INVALID
        return value

    def _check_length(self, length: int, low, high, span: Span, unit: str) -> bool:
        if (low is not None and length < low) or (high is not None and length > high):
            self.error(codes.REFINEMENT_NOT_MET, span, f"has {length} {unit}; allowed: {_range_words(low, high)}")
            return False
        return True

    def _check_string(self, value: str, expected: StringType, span: Span) -> Any:
        if not self._check_length(len(value), expected.min_length, expected.max_length, span, "characters"):
            return INVALID
        if expected.pattern is not None and _compiled(expected.pattern).search(value) is None:
            if expected.message is not None:
                self.error(codes.REFINEMENT_NOT_MET, span, f"{describe_value(value)} is not {expected.message}",
                           notes=(f"the pattern is `{expected.pattern}`",))
            else:
                self.error(codes.REFINEMENT_NOT_MET, span, f"{describe_value(value)} does not match the pattern `{expected.pattern}`")
            return INVALID
        return value

    def _check_enum(self, value: Any, expected: EnumType, span: Span) -> Any:
        if any(value == allowed and type(value) is type(allowed) for allowed in expected.values):
            return value
        allowed = ", ".join(describe_value(v) for v in expected.values)
        notes, fixes = [f"allowed: {allowed}"], []
        if isinstance(value, str):
            hint = did_you_mean(value, [v for v in expected.values if isinstance(v, str)])
            if hint:
                notes.insert(0, f'did you mean "{hint}"?')
                fixes.append(Fix(span, f'"{hint}"', f'change to "{hint}"'))
        self.error(codes.VALUE_NOT_ALLOWED, span, f"{describe_value(value)} is not one of the allowed values", notes=notes, fixes=fixes)
        return INVALID

    # ---- bodies ------------------------------------------------------------------------------

    def body(self, body: ast.Body, expected: Type, scope: Scope, prefix: tuple[str, ...] = (),
             annotations: dict | None = None) -> list[Leaf]:
        """Flatten a body of assignments and blocks into leaves checked against `expected`.

        `annotations` (when given) receives `path -> RecordType` for `values: Schema { ... }` blocks.
        """
        leaves: list[Leaf] = []
        for stmt in body.stmts:
            if isinstance(stmt, (ast.AppTarget, ast.AllTarget)):
                what = f"{stmt.kind} NAME {{ ... }}" if isinstance(stmt, ast.AppTarget) else "all { ... }"
                self.error(codes.MISPLACED_STATEMENT, stmt.span, f"`{what}` may appear only directly inside an env, overlay or cluster")
                continue
            target = self._descend(stmt.path, expected, scope, annotations, prefix)
            if target is None:
                continue
            path, type_ = target
            if isinstance(stmt, ast.Block):
                type_ = self._annotated(stmt, type_, scope, prefix + path, annotations)
                if type_ is None:
                    continue
                if not isinstance(type_, (RecordType, MapType, AnyType)):
                    self.error(codes.TYPE_MISMATCH, stmt.path.span, f"`{stmt.path.dotted}` is {_a(type_)}; a block `{{ ... }}` fits only a record or map",
                               notes=(f"write `{stmt.path.dotted} = ...`",))
                    continue
                leaves.append(Leaf(prefix + path, PRESENT, stmt.span))
                leaves.extend(self.body(stmt.body, type_, scope, prefix + path, annotations))
            else:
                leaves.extend(self._assign(stmt, prefix + path, type_, scope, annotations))
        return leaves

    def _assign(self, stmt: ast.Assign, path, type_: Type, scope: Scope, annotations) -> list[Leaf]:
        if isinstance(stmt.value, ast.MapLit) and isinstance(type_, (RecordType, MapType)):
            return [Leaf(path, PRESENT, stmt.span)] + self.body(stmt.value.body, type_, scope, path, annotations)
        first = len(self.diagnostics)
        value = self.value(stmt.value, type_, scope)
        if path:
            self._name_value(first, stmt.value.span, f"`{'.'.join(path)}`")
        if value is INVALID:
            return []
        return [Leaf(path, value, stmt.span)]

    def _name_value(self, first: int, span: Span, what: str) -> None:
        """Reports since `first` about the value written at `span` say what it is for (`job.completions`:
        0 is out of range 1..; a key of `ports`: has 21 characters): the caret points at the value alone."""
        for index in range(first, len(self.diagnostics)):
            found = self.diagnostics[index]
            if found.span == span and found.code in _FIELD_VALUE_CODES:
                self.diagnostics[index] = dataclasses.replace(found, message=f"{what}: {found.message}")

    def _annotated(self, stmt: ast.Block, declared: Type, scope: Scope, path, annotations) -> Type | None:
        if stmt.annotation is None:
            return declared
        named = self._named(stmt.annotation, scope)
        if not isinstance(named, RecordType):
            if not isinstance(named, AnyType):
                self.error(codes.TYPE_MISMATCH, stmt.annotation.span, f"`{stmt.annotation.dotted}` is not a schema")
            return None
        if isinstance(declared, AnyType):
            if annotations is not None:
                annotations[path] = named
            return named
        if declared != named:
            self.error(codes.TYPE_MISMATCH, stmt.annotation.span, f"`{stmt.path.dotted}` is {_a(declared)}, not `{named.name}`")
            return None
        return named

    def _descend(self, path: ast.Path, expected: Type, scope: Scope, annotations, prefix) -> tuple[tuple[str, ...], Type] | None:
        keys: list[str] = []
        current = expected
        for key in path.keys:
            if key.span.start == key.span.end:
                return None  # a name error recovery made up (`chart.` at the end of a line): the syntax error says it
            if annotations is not None and (prefix + tuple(keys)) in annotations:
                current = annotations[prefix + tuple(keys)]
            if isinstance(current, RecordType) and (not current.open or key.text in current.fields):
                field_ = current.fields.get(key.text)
                if field_ is None:
                    self._unknown_field(key, current)
                    if not current.warn_unknown:
                        return None
                current = AnyType() if field_ is None else field_.type
            elif isinstance(current, MapType):
                first = len(self.diagnostics)
                if self.conform(key.text, current.key, key.span) is INVALID:
                    if prefix or keys:
                        self._name_value(first, key.span, f"a key of `{'.'.join(prefix + tuple(keys))}`")
                    return None
                current = current.value
            elif isinstance(current, AnyType) or (isinstance(current, RecordType) and current.open):
                current = AnyType()
            else:
                self.error(codes.TYPE_MISMATCH, key.span, f"`{'.'.join(keys)}` is {_a(current)}; it has no field `{key.text}`")
                return None
            keys.append(key.text)
        return tuple(keys), current

    def _unknown_field(self, key: ast.Key, record: RecordType) -> None:
        hint = did_you_mean(key.text, record.fields)
        notes, fixes = [], []
        if hint:
            notes.append(f"did you mean `{hint}`?")
            fixes.append(Fix(key.span, hint, f"change to `{hint}`"))
        name = record.name.split("(")[0]  # `App(web)` is every app's `App`: one message for an `all` body
        notes.append(f"fields of {name}: {', '.join(record.fields)}")
        if record.warn_unknown:  # a chart's values: Helm passes other keys on, its templates may read them
            notes.append("the chart does not list this key; Helm passes it on as written")
            self.error(codes.UNKNOWN_CHART_VALUE, key.span, f"`{name}` has no field `{key.text}`", notes=notes, fixes=fixes)
            return
        self.error(codes.UNKNOWN_FIELD, key.span, f"`{name}` has no field `{key.text}`", notes=notes, fixes=fixes)


# Process-wide (see compiler/session.py): a pure function of a literal's text, holding no program object.
@functools.lru_cache(maxsize=4096)
def _unit_value(text: str, quantity: bool) -> Quantity | Duration:
    """Fleets repeat a few literals (`100m`, `128Mi`, `5s`) thousands of times; the values are immutable."""
    return Quantity.parse(text) if quantity else Duration.parse(text)


def string_fits(value: str, expected: StringType) -> bool:
    """Whether `value` has the length and matches the pattern `expected` asks for."""
    return ((expected.min_length is None or len(value) >= expected.min_length)
            and (expected.max_length is None or len(value) <= expected.max_length)
            and (expected.pattern is None or _compiled(expected.pattern).search(value) is not None))


# Process-wide (see compiler/session.py): a pure function of a pattern's text, holding no program object.
@functools.lru_cache(maxsize=1024)
def _compiled(pattern: str) -> re.Pattern:
    return compile_pattern(pattern)


def build_tree(leaves: list[Leaf]) -> dict:
    """Nest leaves into a dict tree; later leaves win; PRESENT makes an empty map. A map a leaf
    holds as its value (`values = { a = 1 }`) is copied before a later leaf adds to it: leaves
    are shared (by the apps using one template, and across analyses), never changed."""
    tree: dict = {}
    made = {id(tree)}  # the dicts made here, which may be filled in place
    for leaf in leaves:
        node = tree
        for key in leaf.path[:-1]:
            child = node.get(key)
            if not isinstance(child, dict) or id(child) not in made:
                child = dict(child) if isinstance(child, dict) else {}
                made.add(id(child))
                node[key] = child
            node = child
        last = leaf.path[-1]
        if leaf.value is PRESENT:
            if not isinstance(node.get(last), dict):
                node[last] = {}
                made.add(id(node[last]))
        else:
            node[last] = leaf.value
    return tree


_KINDS: tuple[tuple[type | tuple[type, ...], type], ...] = (
    (bool, BoolType), (str, StringType), (str, EnumType), (int, IntType), ((int, float), FloatType),
    (Duration, DurationType), (Quantity, QuantityType))


def _of_kind(value: Any, type_: Type) -> bool:
    """Whether `value` is of the kind of values `type_` holds (a string for a string type...),
    whatever its refinements."""
    if isinstance(value, bool):
        return isinstance(type_, BoolType)
    return any(isinstance(value, kind) and isinstance(type_, holder) for kind, holder in _KINDS)


def _joined(pieces: list) -> tuple:
    """Pieces of a string with adjacent texts joined."""
    joined: list = []
    for piece in pieces:
        if isinstance(piece, str) and joined and isinstance(joined[-1], str):
            joined[-1] += piece
        elif piece != "":
            joined.append(piece)
    return tuple(joined)


def interpolated_text(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    return str(value)


def _a(type_: Type) -> str:
    text = type_.describe()
    if isinstance(type_, EnumType):
        return f"one of {text}"
    return f"{'an' if text[:1] in 'aeiou' else 'a'} `{text}`" if not isinstance(type_, RecordType) else f"a `{text}` record"


def _range_words(low, high) -> str:
    if low is not None and high is not None:
        return f"from {low} to {high}"
    if low is not None:
        return f"at least {low}"
    return f"at most {high}"
