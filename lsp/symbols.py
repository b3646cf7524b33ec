"""The symbol index: which declaration every name in a file stands for.

Input: an `Analysis` (its resolution, checker and evaluation) and the syntax
tree of one file, which may be newer than the analysis (an unsaved buffer).
Output: `Occurrence`s, each a span with the `Symbol`s it names, marked when it
is the declaration itself. Hover, definition, references, rename, semantic
tokens and inlay hints are all queries over these.

Symbols are keys by name, not syntax nodes: `Symbol("schema", "std/prelude",
"Image")`, `Symbol("field", "shop/lib", "CheckoutValues", "logLevel")`,
`Symbol("app", name="web")`, `Symbol("label", name="region")`. A tree parsed
after the analysis therefore resolves against it, and occurrences from
different versions of a file compare equal.

Which schema applies at a path follows the type checker (`Checker.body` and
`_descend`): records descend by field, maps by key, `any` and open records stop;
`values: Schema { }` switches to the annotated schema; an `app NAME { }` block
in an env, overlay or cluster uses that app's record, `all { }` every app's
(so one key there may name the same field of several schemas).

Invariants: never raises on a partial tree (`Missing`, `BadDecl`); spans of
occurrences lie inside the file; a name that resolves to nothing gives no
occurrence.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from gop.compiler.syntax import ast
from gop.compiler.session import Analysis
from gop.compiler.fleet.evaluate import SETTINGS_SCHEMAS
from gop.compiler.semantic.loader import STD_PREFIX, display_path, is_std_file
from gop.compiler.semantic.resolve import NAMED_KINDS
from gop.compiler.core.span import Span
from gop.compiler.semantic.check import BUILTIN_TYPES, PRELUDE_MODULE
from gop.compiler.semantic.types import AnyType, Field, ListType, MapType, RecordType, ResourceRefType, Type

DECLARATION_KINDS = ("type", "schema", "let")


@dataclass(frozen=True, slots=True)
class Symbol:
    kind: str  # "type" | "schema" | "let" | "field" | "label" | "builtin" | "module" | a resource kind
    module: str = ""  # module key of types, schemas, lets and fields; "" for fleet-wide names
    name: str = ""  # the declared name; for a field, its schema's name
    member: str = ""  # for a field, the field's name

    @property
    def is_std(self) -> bool:
        return self.kind == "builtin" or self.module.startswith(STD_PREFIX)

    @property
    def display(self) -> str:
        if self.kind == "field":
            return f"{self.name}.{self.member}"
        if self.kind == "module":
            return self.name or self.module
        return self.name

    @property
    def short_name(self) -> str:
        """The text a rename replaces."""
        return self.member if self.kind == "field" else self.name


@dataclass(frozen=True, slots=True)
class Occurrence:
    span: Span
    symbols: tuple[Symbol, ...]
    definition: bool = False
    app: str | None = None  # a field set for one app: its name
    path: tuple[str, ...] = ()  # a field: the value path from the app (or settings) root
    types: tuple[Type, ...] = ()  # a field or label: its type(s)


@dataclass(frozen=True, slots=True)
class Scope:
    file: str
    module: str
    imports: dict[str, str]  # alias -> module key


class Model:
    """Name lookups over one analysis; shared by every query on it."""

    def __init__(self, analysis: Analysis) -> None:
        self.analysis = analysis
        self.program = analysis.program
        self.resolution = analysis.resolution
        self.checker = analysis.checker
        self.evaluation = analysis.evaluation
        self._owners: dict[int, Symbol] | None = None
        self._occurrences: dict[str, tuple[ast.File, list[Occurrence]]] = {}

    # ---- scopes --------------------------------------------------------------------

    def module_of(self, key: str) -> str:
        known = self.program.module_of.get(key)
        if known is not None:
            return known
        if is_std_file(key):
            return STD_PREFIX + Path(key).stem
        return display_path(Path(key).parent)

    def scope(self, key: str, tree: ast.File) -> Scope:
        if self.program.files.get(key) is tree:
            return Scope(key, self.module_of(key), self.resolution.file_imports.get(key, {}))
        imports = {}
        for decl in tree.imports:
            module = self.import_target(key, decl)
            if module is not None:
                imports[decl.alias.text if decl.alias else self.program.package_of(module)] = module
        return Scope(key, self.module_of(key), imports)

    def import_target(self, key: str, decl: ast.ImportDecl) -> str | None:
        known = self.program.imports.get(id(decl))
        if known is not None:
            return known
        target = decl.path.plain_value
        if target.startswith(STD_PREFIX):
            return target if target in self.program.modules else None
        if is_std_file(key) or not target:
            return None
        module = display_path((Path(key).parent / target).resolve())
        return module if module in self.program.modules else None

    # ---- declarations by name --------------------------------------------------------------

    def lookup(self, names: tuple[str, ...], scope: Scope) -> Symbol | None:
        """A type, schema or let: `X` in the module or the prelude, `alias.X` in an imported module."""
        if len(names) == 1:
            for module in (scope.module, PRELUDE_MODULE):
                decl = self.resolution.module_symbols.get(module, {}).get(names[0])
                if decl is not None:
                    return _declaration_symbol(module, decl)
            return None
        module = scope.imports.get(names[0])
        if module is None or len(names) != 2:
            return None
        decl = self.resolution.module_symbols.get(module, {}).get(names[1])
        return _declaration_symbol(module, decl) if decl is not None else None

    def decl(self, symbol: Symbol):
        """The syntax node that declares `symbol` (FieldDecl for fields and labels), or None."""
        if symbol.kind in DECLARATION_KINDS:
            return self.resolution.module_symbols.get(symbol.module, {}).get(symbol.name)
        if symbol.kind == "field":
            schema = self.resolution.module_symbols.get(symbol.module, {}).get(symbol.name)
            if isinstance(schema, ast.SchemaDecl):
                return next((f for f in schema.fields if f.name.text == symbol.member), None)
            return None
        if symbol.kind == "label":
            labels = self.resolution.labels
            return next((f for f in labels.fields if f.name.text == symbol.name), None) if labels else None
        if symbol.kind in NAMED_KINDS:
            return self.resolution.resources.get(symbol.kind, {}).get(symbol.name)
        if symbol.kind == "delivery":
            return self.resolution.singletons.get("delivery")
        return None

    def definition(self, symbol: Symbol) -> Span | None:
        if symbol.kind == "module":
            module = self.program.modules.get(symbol.module)
            return Span(module.files[0], 0, 0) if module and module.files else None
        node = self.decl(symbol)
        if node is None:
            return None
        name = getattr(node, "name", None)
        return name.span if isinstance(name, ast.Name) else node.span

    def named_type(self, symbol: Symbol) -> Type | None:
        decl = self.decl(symbol)
        if isinstance(decl, (ast.TypeDecl, ast.SchemaDecl)):
            return self.checker.named_type(decl)
        return None

    def field(self, symbol: Symbol) -> Field | None:
        if symbol.kind == "label":
            labels = self.labels_type
            return labels.fields.get(symbol.name) if isinstance(labels, RecordType) else None
        if symbol.kind != "field":
            return None
        record = self.named_type(Symbol("schema", symbol.module, symbol.name))
        return record.fields.get(symbol.member) if isinstance(record, RecordType) else None

    def let_value(self, symbol: Symbol):
        decl = self.decl(symbol)
        return self.checker.let_value(decl) if isinstance(decl, ast.LetDecl) else None

    def resources(self, kind: str) -> dict[str, ast.ResourceDecl]:
        return self.resolution.resources.get(kind, {})

    # ---- records at the roots of bodies ------------------------------------------------------

    @property
    def generic_app(self) -> RecordType:
        return self.named_type(Symbol("schema", PRELUDE_MODULE, "App"))

    def app_record(self, app: str) -> RecordType:
        fleet = self.analysis.fleet
        model = fleet.apps.get(app) if fleet is not None else None
        return model.values_type if model is not None else self.generic_app

    def all_app_records(self) -> tuple[RecordType, ...]:
        fleet = self.analysis.fleet
        records = tuple(app.values_type for app in fleet.apps.values()) if fleet is not None else ()
        return records or (self.generic_app,)

    def settings_record(self, kind: str) -> RecordType | None:
        name = SETTINGS_SCHEMAS.get(kind)
        found = self.named_type(Symbol("schema", PRELUDE_MODULE, name)) if name else None
        return found if isinstance(found, RecordType) else None

    @property
    def labels_type(self) -> RecordType | MapType | None:
        return self.evaluation.labels_type if self.evaluation is not None else None

    def field_symbol(self, record: RecordType, name: str) -> Symbol | None:
        field = record.fields.get(name)
        if field is None:
            return None
        owner = self._field_owners().get(id(field))
        if owner is None and record.name.startswith("App("):
            owner = Symbol("field", PRELUDE_MODULE, "App", name)
        return owner

    def _field_owners(self) -> dict[int, Symbol]:
        if self._owners is None:
            owners: dict[int, Symbol] = {}
            for module, symbols in self.resolution.module_symbols.items():
                for name, decl in symbols.items():
                    if isinstance(decl, ast.SchemaDecl):
                        record = self.checker.named_type(decl)
                        for field in record.fields.values():
                            owners[id(field)] = Symbol("field", module, name, field.name)
            labels = self.labels_type
            if isinstance(labels, RecordType) and self.resolution.labels is not None:
                for field in labels.fields.values():
                    owners[id(field)] = Symbol("label", "", field.name)
            self._owners = owners
        return self._owners

    def label_symbol(self, name: str) -> Symbol | None:
        labels = self.labels_type
        if isinstance(labels, RecordType) and name in labels.fields and self.resolution.labels is not None:
            return Symbol("label", "", name)
        return None

    # ---- the index ------------------------------------------------------------------------------

    def occurrences(self, key: str, tree: ast.File) -> list[Occurrence]:
        """Occurrences in one file's tree; the latest tree of each file is cached (one text parses to one tree)."""
        found = self._occurrences.get(key)
        if found is None or found[0] is not tree:
            found = (tree, _Indexer(self, self.scope(key, tree)).file(tree))
            self._occurrences[key] = found
        return found[1]

    def at(self, key: str, tree: ast.File, offset: int) -> Occurrence | None:
        """The innermost occurrence at `offset` (a cursor right after a name still touches it)."""
        best = None
        for occurrence in self.occurrences(key, tree):
            span = occurrence.span
            if span.start <= offset <= span.end and (best is None or span.end - span.start < best.span.end - best.span.start):
                best = occurrence
        return best


def _declaration_symbol(module: str, decl) -> Symbol:
    kind = "schema" if isinstance(decl, ast.SchemaDecl) else "let" if isinstance(decl, ast.LetDecl) else "type"
    return Symbol(kind, module, decl.name.text)


def _unique(items):
    return tuple(dict.fromkeys(items))


class _Indexer:
    """Walks one file's tree and records every name that resolves."""

    def __init__(self, model: Model, scope: Scope) -> None:
        self.model = model
        self.scope = scope
        self.out: list[Occurrence] = []

    def add(self, span: Span, symbols, **context) -> None:
        symbols = _unique(symbols)
        if symbols and span.end > span.start:
            self.out.append(Occurrence(span, symbols, **context))

    # ---- declarations ---------------------------------------------------------------------

    def file(self, tree: ast.File) -> list[Occurrence]:
        for decl in tree.decls:
            handler = getattr(self, "_" + type(decl).__name__, None)
            if handler is not None:
                handler(decl)
        self.out.sort(key=lambda o: (o.span.start, o.span.end))
        return self.out

    def _ImportDecl(self, decl: ast.ImportDecl) -> None:
        module = self.model.import_target(self.scope.file, decl)
        if module is not None:
            symbol = Symbol("module", module, decl.alias.text if decl.alias else "")
            self.add(Span(decl.path.span.file, decl.path.span.start + 1, decl.path.span.end - 1), [symbol])

    def _TypeDecl(self, decl: ast.TypeDecl) -> None:
        self.add(decl.name.span, [Symbol("type", self.scope.module, decl.name.text)], definition=True)
        self.type_expr(decl.type)

    def _SchemaDecl(self, decl: ast.SchemaDecl) -> None:
        module = self.scope.module
        self.add(decl.name.span, [Symbol("schema", module, decl.name.text)], definition=True)
        record = self.model.named_type(Symbol("schema", module, decl.name.text))
        for field in decl.fields:
            info = record.fields.get(field.name.text) if isinstance(record, RecordType) else None
            types = (info.type,) if info is not None else ()
            self.add(field.name.span, [Symbol("field", module, decl.name.text, field.name.text)], definition=True, types=types)
            self.type_expr(field.type)
            if field.default is not None:
                self.expr(field.default, types)

    def _LabelsDecl(self, decl: ast.LabelsDecl) -> None:
        labels = self.model.labels_type
        for field in decl.fields:
            info = labels.fields.get(field.name.text) if isinstance(labels, RecordType) else None
            self.add(field.name.span, [Symbol("label", "", field.name.text)], definition=True,
                     types=(info.type,) if info else ())
            self.type_expr(field.type)
            if field.default is not None:
                self.expr(field.default, (info.type,) if info else ())

    def _LetDecl(self, decl: ast.LetDecl) -> None:
        symbol = Symbol("let", self.scope.module, decl.name.text)
        self.add(decl.name.span, [symbol], definition=True)
        if decl.type is not None:
            self.type_expr(decl.type)
        self.expr(decl.value, ())

    def _ResourceDecl(self, decl: ast.ResourceDecl) -> None:
        if decl.name is not None:
            self.add(decl.name.span, [Symbol(decl.kind, "", decl.name.text)], definition=True)
        if decl.selector is not None:
            self.selector(decl.selector)
        if decl.kind == "app" and decl.name is not None:
            self.body(decl.body, (self.model.app_record(decl.name.text),), (), app=decl.name.text)
        elif decl.kind in ("env", "overlay", "cluster"):
            self._targets(decl)
        else:
            record = self.model.settings_record(decl.kind)
            if record is not None:
                self.body(decl.body, (record,), ())

    def _targets(self, decl: ast.ResourceDecl) -> None:
        for stmt in decl.body.stmts:
            if isinstance(stmt, ast.AppTarget):
                name = stmt.name.text
                if name in self.model.resources("app"):
                    self.add(stmt.name.span, [Symbol("app", "", name)])
                self.body(stmt.body, (self.model.app_record(name),), (), app=name)
            elif isinstance(stmt, ast.AllTarget):
                self.body(stmt.body, self.model.all_app_records(), ())
            elif decl.kind == "cluster" and isinstance(stmt, ast.Block) and stmt.path.dotted == "labels":
                self.cluster_labels(stmt.body)

    def cluster_labels(self, body: ast.Body) -> None:
        labels = self.model.labels_type
        for stmt in body.stmts:
            if not isinstance(stmt, ast.Assign) or len(stmt.path.keys) != 1:
                continue
            key = stmt.path.keys[0]
            symbol = self.model.label_symbol(key.text)
            info = labels.fields.get(key.text) if isinstance(labels, RecordType) else None
            if symbol is not None:
                self.add(key.span, [symbol], types=(info.type,) if info else ())
            self.expr(stmt.value, (info.type,) if info else ())

    # ---- selectors --------------------------------------------------------------------------

    def selector(self, selector) -> None:
        if isinstance(selector, (ast.SelAnd, ast.SelOr)):
            self.selector(selector.left)
            self.selector(selector.right)
            return
        if isinstance(selector, ast.SelNot):
            self.selector(selector.operand)
            return
        symbol = self.model.label_symbol(selector.label.text)
        labels = self.model.labels_type
        info = labels.fields.get(selector.label.text) if isinstance(labels, RecordType) else None
        if symbol is not None:
            self.add(selector.label.span, [symbol], types=(info.type,) if info else ())
        if isinstance(selector, ast.SelCompare):
            self.expr(selector.value, ())
        elif isinstance(selector, ast.SelIn):
            for item in selector.values.items:
                self.expr(item, ())

    # ---- bodies -------------------------------------------------------------------------------

    def body(self, body: ast.Body, types: tuple[Type, ...], prefix: tuple[str, ...], app: str | None = None) -> None:
        for stmt in body.stmts:
            if not isinstance(stmt, (ast.Assign, ast.Block)):
                continue
            current = types
            path = prefix
            for key in stmt.path.keys:
                current, symbols = self.descend(current, key.text)
                path = path + (key.text,)
                self.add(key.span, symbols, app=app, path=path, types=current)
            if isinstance(stmt, ast.Block):
                if stmt.annotation is not None:
                    annotated = self.type_name(stmt.annotation)
                    if isinstance(annotated, RecordType):
                        current = (annotated,)
                self.body(stmt.body, current, path, app)
            elif isinstance(stmt.value, ast.MapLit):
                self.body(stmt.value.body, current, path, app)
            else:
                self.expr(stmt.value, current)

    def descend(self, types: tuple[Type, ...], key: str) -> tuple[tuple[Type, ...], list[Symbol]]:
        next_types: list[Type] = []
        symbols: list[Symbol] = []
        for type_ in types:
            if isinstance(type_, RecordType) and not type_.open:
                field = type_.fields.get(key)
                if field is not None:
                    next_types.append(field.type)
                    symbol = self.model.field_symbol(type_, key)
                    if symbol is not None:
                        symbols.append(symbol)
            elif isinstance(type_, MapType):
                next_types.append(type_.value)
            elif isinstance(type_, AnyType) or isinstance(type_, RecordType):
                next_types.append(AnyType())
        return _unique(next_types), symbols

    # ---- expressions and types ------------------------------------------------------------------

    def expr(self, expr, types: tuple[Type, ...]) -> None:
        if isinstance(expr, ast.Ref):
            self.ref(expr, types)
        elif isinstance(expr, ast.StringLit):
            kinds = [t.kind for t in types if isinstance(t, ResourceRefType)]
            if kinds and expr.is_plain:
                inner = Span(expr.span.file, expr.span.start + 1, expr.span.end - 1)
                self.add(inner, [Symbol(k, "", expr.plain_value) for k in kinds if expr.plain_value in self.model.resources(k)])
            for part in expr.parts:
                if isinstance(part, ast.Interpolation):
                    self.expr(part.expr, ())
        elif isinstance(expr, ast.ListLit):
            elements = tuple(t.element for t in types if isinstance(t, ListType))
            for item in expr.items:
                self.expr(item, elements)
        elif isinstance(expr, ast.MapLit):
            self.body(expr.body, types, ())
        elif isinstance(expr, ast.Binary):
            self.expr(expr.left, types)
            self.expr(expr.right, types)
        elif isinstance(expr, ast.Negate):
            self.expr(expr.operand, types)
        elif isinstance(expr, ast.Call):
            for arg in expr.args:
                self.expr(arg.value, ())

    def ref(self, expr: ast.Ref, types: tuple[Type, ...]) -> None:
        names = tuple(n.text for n in expr.names)
        kinds = [t.kind for t in types if isinstance(t, ResourceRefType)]
        if kinds and len(names) == 1:
            found = [Symbol(k, "", names[0]) for k in kinds if names[0] in self.model.resources(k)]
            if found:
                self.add(expr.span, found)
                return
        self.qualified(expr.names)

    def qualified(self, names: tuple[ast.Name, ...]) -> None:
        symbol = self.model.lookup(tuple(n.text for n in names), self.scope)
        if symbol is None:
            return
        if len(names) == 2:
            module = self.scope.imports.get(names[0].text)
            self.add(names[0].span, [Symbol("module", module, names[0].text)])
        self.add(names[-1].span, [symbol])

    def type_name(self, name: ast.TypeName) -> Type | None:
        texts = tuple(n.text for n in name.names)
        if len(texts) == 1 and texts[0] in BUILTIN_TYPES:
            self.add(name.span, [Symbol("builtin", "", texts[0])])
            return BUILTIN_TYPES[texts[0]]
        self.qualified(name.names)
        symbol = self.model.lookup(texts, self.scope)
        return self.model.named_type(symbol) if symbol is not None else None

    def type_expr(self, node) -> None:
        if isinstance(node, ast.NamedType):
            self.type_name(node.name)
            for refinement in node.refinements:
                self.refinement(refinement)
        elif isinstance(node, ast.ListType):
            self.type_expr(node.element)
            for refinement in node.refinements:
                self.refinement(refinement)
        elif isinstance(node, ast.MapType):
            self.type_expr(node.key)
            self.type_expr(node.value)
        elif isinstance(node, ast.UnionType):
            for member in node.members:
                self.type_expr(member)

    def refinement(self, refinement: ast.RefineArg) -> None:
        value = refinement.value
        if isinstance(value, ast.Range):
            for bound in (value.low, value.high):
                if bound is not None:
                    self.expr(bound, ())
        else:
            self.expr(value, ())
