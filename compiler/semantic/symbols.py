"""The symbol table: what every name in a file stands for, and what may be written where.

Input: the compiler's own analysis of a program (the loader's `Program`, the `Resolution`,
the `Checker` with its types and values) and, from the fleet's evaluation, each app's
values record and the cluster labels' type (`SymbolTable(...)` takes them as plain data, so
this module stays below the fleet). Queries take a file key, that file's syntax tree (which
may be newer than the analysis: an unsaved or half-typed buffer) and an offset.

Output:
- `Occurrence`s: a span with the `Symbol`s it names, marked when it is the declaration
  itself. Definitions are every declaration (type, schema, let, schema fields, labels, the
  fleet's resources app/env/cluster/...); references are every use: names in types and
  expressions (through import aliases too), import paths, record keys in bodies, resource
  names (`dependsOn = [cart]`, `app web { }` in targets), selectors' label keys;
- `definitions_at`, `references_at`, `rename` (the edits, or `RenameRefused` with the reason),
  `type_at`, the names visible in a file (`scope`, `visible_declarations`), and the facts
  hover shows (`decl`, `named_type`, `field`, `let_value`);
- `completions_at` / `signature_at`: what may be typed at an offset of a text (the expected
  type there and the names visible there), read with the parser's lexer
  (`syntax.tokens`) since a half-typed line does not parse.

Symbols are keys by name, not syntax nodes: `Symbol("schema", "std/prelude", "Image")`,
`Symbol("field", "shop/lib", "CheckoutValues", "logLevel")`, `Symbol("app", name="web")`,
`Symbol("label", name="region")`. A tree parsed after the analysis therefore resolves
against it, and occurrences from different versions of a file compare equal. Names are
looked up by the checker (`Checker.lookup`), types are the checker's (`named_type`), and a
body's keys descend records as the checker does: records by field, maps by key, `any` and
open records stop; `values: Schema { }` switches to the annotated schema; an `app NAME { }`
block in an env, overlay or cluster uses that app's record, `all { }` every app's (so one key
there may name the same field of several schemas).

Invariants: never raises on a partial tree (`Missing`, `BadDecl`) or on any text; spans of
occurrences lie inside their file; a name that resolves to nothing gives no occurrence; the
table holds no state but caches of its own answers (the occurrences of the latest tree of
each file).
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from pathlib import Path

from gop.compiler.core.span import Span
from gop.compiler.language import (
    BUILTIN_DOCS, DECLARATION_KINDS, NAMED_KINDS, PRELUDE_MODULE, RESOURCE_KINDS, SECRET_DOCS, SELECTOR_KINDS,
    SELECTOR_OPERATORS, SETTINGS_SCHEMAS, STD_PREFIX, TARGET_KEYWORDS, TARGET_KINDS, TOP_LEVEL_KEYWORDS,
    TYPE_CONSTRUCTORS, UNIT_KINDS, UNIT_SCHEMAS, unit_key,
)
from gop.compiler.semantic.check import BUILTIN_TYPES, Checker
from gop.compiler.semantic.loader import Program, display_path, is_std_file
from gop.compiler.semantic.resolve import DNS_LABEL, Resolution
from gop.compiler.semantic.types import (
    AnyType, BoolType, EnumType, Field, ListType, MapType, RecordType, ResourceRefType, SecretType, Type,
)
from gop.compiler.syntax import ast
from gop.compiler.syntax.tokens import Token, tokens

IDENTIFIER = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")


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


class RenameRefused(Exception):
    """A rename that cannot be carried out safely; the message says why, for the user."""


def descend(types: tuple[Type, ...], key: str) -> tuple[Type, ...]:
    """The types under `key` of each of `types`, as the checker descends a body."""
    out: list[Type] = []
    for type_ in types:
        if isinstance(type_, RecordType) and (not type_.open or key in type_.fields):
            if key in type_.fields:
                out.append(type_.fields[key].type)
        elif isinstance(type_, MapType):
            out.append(type_.value)
        elif isinstance(type_, (AnyType, RecordType)):
            out.append(AnyType())
    return _unique(out)


def _unique(items) -> tuple:
    return tuple(dict.fromkeys(items))


class SymbolTable:
    """Name lookups and position queries over one analysis; shared by every query on it."""

    def __init__(self, program: Program, resolution: Resolution | None, checker: Checker | None,
                 app_records: dict[str, RecordType] | None = None, labels_type: RecordType | MapType | None = None,
                 cluster_labels: dict[str, dict] | None = None) -> None:
        self.program = program
        self.resolution = resolution if resolution is not None else Resolution()
        self.checker = checker if checker is not None else Checker(program, self.resolution)
        self.app_records = app_records or {}  # by `unit_key`: apps by name, "release NAME", "resource NAME"
        self.labels_type = labels_type
        self.cluster_labels = cluster_labels or {}  # cluster -> its labels' values
        self._occurrences: dict[str, tuple[ast.File, list[Occurrence]]] = {}
        self._records_without_schema: dict[str, RecordType] | None = None

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
        if len(names) > 2:
            return None
        decl = self.checker.lookup(names, scope.module, scope.imports)
        if decl is None:
            return None
        return _declaration_symbol(self.resolution.symbol_module.get(id(decl), scope.module), decl)

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
        return self.resolution.singletons.get(symbol.kind)

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
            return self.labels_type.fields.get(symbol.name) if isinstance(self.labels_type, RecordType) else None
        if symbol.kind != "field":
            return None
        if not symbol.module:
            record = self.records_without_schema().get(symbol.name)
            return record.fields.get(symbol.member) if record is not None else None
        record = self.named_type(Symbol("schema", symbol.module, symbol.name))
        return record.fields.get(symbol.member) if isinstance(record, RecordType) else None

    def let_value(self, symbol: Symbol):
        """The value of a `let` (`INVALID` when it has none)."""
        decl = self.decl(symbol)
        return self.checker.let_value(decl) if isinstance(decl, ast.LetDecl) else None

    def resources(self, kind: str) -> dict[str, ast.ResourceDecl]:
        return self.resolution.resources.get(kind, {})

    def visible_declarations(self, scope: Scope):
        """(name, declaration) of the types, schemas and lets a bare name can reach from `scope`."""
        for module in dict.fromkeys((scope.module, PRELUDE_MODULE)):
            yield from self.resolution.module_symbols.get(module, {}).items()

    # ---- records at the roots of bodies ------------------------------------------------------

    @property
    def generic_app(self) -> RecordType:
        return self.named_type(Symbol("schema", PRELUDE_MODULE, "App"))

    def app_record(self, app: str) -> RecordType:
        return self.app_records.get(app) or self.generic_app

    def unit_record(self, kind: str, name: str) -> RecordType | None:
        """The record of an app's, release's or resource's body (the prelude's when the fleet has none)."""
        if kind == "app":
            return self.app_record(name)
        found = self.app_records.get(unit_key(kind, name))
        return found or self.named_type(Symbol("schema", PRELUDE_MODULE, UNIT_SCHEMAS[kind]))

    def all_app_records(self) -> tuple[RecordType, ...]:
        return tuple(self.app_records.values()) or (self.generic_app,)

    def settings_record(self, kind: str) -> RecordType | None:
        name = SETTINGS_SCHEMAS.get(kind)
        found = self.named_type(Symbol("schema", PRELUDE_MODULE, name)) if name else None
        return found if isinstance(found, RecordType) else None

    def label_field(self, name: str) -> Field | None:
        return self.labels_type.fields.get(name) if isinstance(self.labels_type, RecordType) else None

    def field_symbol(self, record: RecordType, name: str) -> Symbol | None:
        """The declaration of `record`'s field `name`, as the checker recorded it when it built the record."""
        field_ = record.fields.get(name)
        if field_ is None:
            return None
        if id(field_) not in self.checker.field_owners:
            if record.name.startswith("App("):
                return Symbol("field", PRELUDE_MODULE, "App", name)
            if self.records_without_schema().get(record.name) is record:
                return Symbol("field", "", record.name, name)
            return None
        schema = self.checker.field_owners[id(field_)]
        if schema is None:
            return self.label_symbol(name) if self.label_field(name) is field_ else None
        return Symbol("field", self.resolution.symbol_module.get(id(schema), ""), schema.name.text, name)

    def records_without_schema(self) -> dict[str, RecordType]:
        """The records of the fleet's bodies that no `schema` declares (a release's values typed by
        its chart), by name: their fields are symbols of module "" (no .gop declaration to go to
        or rename)."""
        if self._records_without_schema is None:
            found: dict[str, RecordType] = {}
            pending = [field_.type for record in self.app_records.values() for field_ in record.fields.values()]
            while pending:
                type_ = pending.pop()
                if isinstance(type_, RecordType) and type_.name not in found and not type_.name.startswith("App("):
                    if not any(id(field_) in self.checker.field_owners for field_ in type_.fields.values()):
                        found[type_.name] = type_
                    pending.extend(field_.type for field_ in type_.fields.values())
                elif isinstance(type_, ListType):
                    pending.append(type_.element)
                elif isinstance(type_, MapType):
                    pending.append(type_.value)
            self._records_without_schema = found
        return self._records_without_schema

    def label_symbol(self, name: str) -> Symbol | None:
        if self.label_field(name) is not None and self.resolution.labels is not None:
            return Symbol("label", "", name)
        return None

    # ---- occurrences ------------------------------------------------------------------------------

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

    def type_at(self, key: str, tree: ast.File, offset: int) -> tuple[Type, ...]:
        """The type(s) of what the name at `offset` denotes: a key's or label's field type, a type or schema."""
        occurrence = self.at(key, tree, offset)
        if occurrence is None:
            return ()
        if occurrence.types:
            return occurrence.types
        found = [self.named_type(symbol) or getattr(self.field(symbol), "type", None) for symbol in occurrence.symbols]
        return _unique(t for t in found if t is not None)

    def definitions_at(self, key: str, tree: ast.File, offset: int) -> list[Span]:
        """Where the names at `offset` are declared; a declaration in `tree` itself at its current position."""
        occurrence = self.at(key, tree, offset)
        if occurrence is None:
            return []
        here = {s: o.span for o in self.occurrences(key, tree) if o.definition for s in o.symbols}
        spans = [here.get(symbol) or self.definition(symbol) for symbol in occurrence.symbols]
        return [span for span in spans if span is not None]

    def references(self, symbols, files: dict[str, ast.File]):
        """(file, occurrence) of every occurrence naming one of `symbols` in `files` (key -> current tree)."""
        wanted = set(symbols)
        for key, tree in files.items():
            for occurrence in self.occurrences(key, tree):
                if wanted.intersection(occurrence.symbols):
                    yield key, occurrence

    def references_at(self, key: str, tree: ast.File, offset: int, files: dict[str, ast.File]) -> list[tuple[str, Occurrence]]:
        """(file, occurrence) of every occurrence in `files` of what the name at `offset` names, declarations included."""
        occurrence = self.at(key, tree, offset)
        return list(self.references(occurrence.symbols, files)) if occurrence is not None else []

    def renamable(self, key: str, tree: ast.File, offset: int) -> tuple[Occurrence, Symbol]:
        """The occurrence and the one symbol a rename at `offset` would rename (or RenameRefused)."""
        occurrence = self.at(key, tree, offset)
        if occurrence is None:
            raise RenameRefused("nothing to rename here")
        if len(occurrence.symbols) > 1:
            names = ", ".join(f"`{s.display}`" for s in occurrence.symbols)
            raise RenameRefused(f"this name stands for several declarations ({names}); rename it at its declaration")
        symbol = occurrence.symbols[0]
        if symbol.is_std or symbol.kind in ("module", "builtin"):
            raise RenameRefused(f"`{symbol.display}` belongs to the standard library and cannot be renamed")
        if symbol.kind == "field" and not symbol.module:
            raise RenameRefused(f"`{symbol.member}` is a key of `{symbol.name}`, which no .gop schema declares; it cannot be renamed")
        return occurrence, symbol

    def rename(self, key: str, tree: ast.File, offset: int, new_name: str, files: dict[str, ast.File]) -> dict[str, list[Span]]:
        """The spans, per file, that a rename of the name at `offset` to `new_name` rewrites (or RenameRefused)."""
        _, symbol = self.renamable(key, tree, offset)
        self._check_new_name(symbol, new_name)
        edits: dict[str, list[Span]] = {}
        for file, occurrence in self.references({symbol}, files):
            if len(occurrence.symbols) > 1:
                raise RenameRefused(f"`{symbol.display}` cannot be renamed safely: "
                                    f"{Path(file).name}:{self._line(file, occurrence.span.start)} names "
                                    + " and ".join(f"`{s.display}`" for s in occurrence.symbols) + " at once")
            edits.setdefault(file, []).append(occurrence.span)
        return edits

    def _line(self, file: str, offset: int) -> int:
        source = self.program.sources.get(file)
        return source.position(offset).line + 1 if source is not None else 0

    def _check_new_name(self, symbol: Symbol, new_name: str) -> None:
        if symbol.kind in NAMED_KINDS:
            if not DNS_LABEL.match(new_name) or len(new_name) > 63:
                raise RenameRefused(f"`{new_name}` is not a valid name for {symbol.kind}: lower-case letters, digits and `-`")
            taken = new_name in self.resources(symbol.kind)
        else:
            if not IDENTIFIER.match(new_name):
                raise RenameRefused(f"`{new_name}` is not a valid name: letters, digits and `_`, not starting with a digit")
            if symbol.kind in DECLARATION_KINDS:
                taken = new_name in self.resolution.module_symbols.get(symbol.module, {})
            elif symbol.kind == "field":
                schema = self.named_type(Symbol("schema", symbol.module, symbol.name))
                taken = schema is not None and new_name in schema.fields
            else:
                taken = self.label_symbol(new_name) is not None
        if taken and new_name != symbol.short_name:
            raise RenameRefused(f"`{new_name}` is already declared")


def _declaration_symbol(module: str, decl) -> Symbol:
    kind = "schema" if isinstance(decl, ast.SchemaDecl) else "let" if isinstance(decl, ast.LetDecl) else "type"
    return Symbol(kind, module, decl.name.text)


class _Indexer:
    """Walks one file's tree and records every name that resolves."""

    def __init__(self, table: SymbolTable, scope: Scope) -> None:
        self.table = table
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
        module = self.table.import_target(self.scope.file, decl)
        if module is not None:
            symbol = Symbol("module", module, decl.alias.text if decl.alias else "")
            self.add(Span(decl.path.span.file, decl.path.span.start + 1, decl.path.span.end - 1), [symbol])

    def _TypeDecl(self, decl: ast.TypeDecl) -> None:
        self.add(decl.name.span, [Symbol("type", self.scope.module, decl.name.text)], definition=True)
        self.type_expr(decl.type)

    def _SchemaDecl(self, decl: ast.SchemaDecl) -> None:
        module = self.scope.module
        self.add(decl.name.span, [Symbol("schema", module, decl.name.text)], definition=True)
        record = self.table.named_type(Symbol("schema", module, decl.name.text))
        for field in decl.fields:
            info = record.fields.get(field.name.text) if isinstance(record, RecordType) else None
            types = (info.type,) if info is not None else ()
            self.add(field.name.span, [Symbol("field", module, decl.name.text, field.name.text)], definition=True, types=types)
            self.type_expr(field.type)
            if field.default is not None:
                self.expr(field.default, types)

    def _NarrowDecl(self, decl: ast.NarrowDecl) -> None:
        """`narrow S { f: T }`: a use of the schema S, of its field f, and the names in T."""
        self.type_name(decl.target)
        target = self.table.lookup(tuple(n.text for n in decl.target.names), self.scope)
        for field in decl.fields:
            if target is not None and target.kind == "schema":
                self.add(field.name.span, [Symbol("field", target.module, target.name, field.name.text)])
            self.type_expr(field.type)

    def _LabelsDecl(self, decl: ast.LabelsDecl) -> None:
        for field in decl.fields:
            info = self.table.label_field(field.name.text)
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
            self.body(decl.body, (self.table.app_record(decl.name.text),), (), app=decl.name.text)
        elif decl.kind in UNIT_KINDS and decl.name is not None:
            self.body(decl.body, (self.table.unit_record(decl.kind, decl.name.text),), (),
                      app=unit_key(decl.kind, decl.name.text))
        elif decl.kind in ("env", "overlay", "cluster"):
            self._targets(decl)
        else:
            record = self.table.settings_record(decl.kind)
            if record is not None:
                self.body(decl.body, (record,), ())

    def _targets(self, decl: ast.ResourceDecl) -> None:
        for stmt in decl.body.stmts:
            if isinstance(stmt, ast.AppTarget) and stmt.kind == "app":
                name = stmt.name.text
                if name in self.table.resources("app"):
                    self.add(stmt.name.span, [Symbol("app", "", name)])
                self.body(stmt.body, (self.table.app_record(name),), (), app=name)
            elif isinstance(stmt, ast.AppTarget):
                name = stmt.name.text
                if name in self.table.resources(stmt.kind):
                    self.add(stmt.name.span, [Symbol(stmt.kind, "", name)])
                self.body(stmt.body, (self.table.unit_record(stmt.kind, name),), (), app=unit_key(stmt.kind, name))
            elif isinstance(stmt, ast.AllTarget):
                self.body(stmt.body, self.table.all_app_records(), ())
            elif decl.kind == "cluster" and isinstance(stmt, ast.Block) and stmt.path.dotted == "labels":
                self.cluster_labels(stmt.body)

    def cluster_labels(self, body: ast.Body) -> None:
        for stmt in body.stmts:
            if not isinstance(stmt, ast.Assign) or len(stmt.path.keys) != 1:
                continue
            key = stmt.path.keys[0]
            symbol = self.table.label_symbol(key.text)
            info = self.table.label_field(key.text)
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
        symbol = self.table.label_symbol(selector.label.text)
        info = self.table.label_field(selector.label.text)
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
        symbols = [self.table.field_symbol(t, key) for t in types if isinstance(t, RecordType) and not t.open]
        return descend(types, key), [s for s in symbols if s is not None]

    # ---- expressions and types ------------------------------------------------------------------

    def expr(self, expr, types: tuple[Type, ...]) -> None:
        if isinstance(expr, ast.Ref):
            self.ref(expr, types)
        elif isinstance(expr, ast.StringLit):
            kinds = [t.kind for t in types if isinstance(t, ResourceRefType)]
            if kinds and expr.is_plain:
                inner = Span(expr.span.file, expr.span.start + 1, expr.span.end - 1)
                self.add(inner, [Symbol(k, "", expr.plain_value) for k in kinds if expr.plain_value in self.table.resources(k)])
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
            found = [Symbol(k, "", names[0]) for k in kinds if names[0] in self.table.resources(k)]
            if found:
                self.add(expr.span, found)
                return
        self.qualified(expr.names)

    def qualified(self, names: tuple[ast.Name, ...]) -> None:
        symbol = self.table.lookup(tuple(n.text for n in names), self.scope)
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
        symbol = self.table.lookup(texts, self.scope)
        return self.table.named_type(symbol) if symbol is not None else None

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


# ---- completion: what may be typed at the cursor ---------------------------------------------------
#
# A buffer being typed in rarely parses, so completion reads the text before the cursor with the
# parser's lexer, tracking braces, brackets and the statement being typed. Contexts, innermost
# first: a string or value after `=` (enum values, booleans, declared resources such as
# `dependsOn = [cart]`, lets, secret functions); the arguments of `sops(`/`secretRef(`/`external(`;
# a type after `:` in schemas, labels, lets and `values:` annotations; a `where` selector (label
# keys, then their allowed values); a key in a body (fields of the record at that path, as the
# checker descends it; label keys in a cluster's `labels { }`); `app NAME` in env, overlay and
# cluster bodies; keywords at the top level and in bodies.


def completions_at(table: SymbolTable | None, key: str, tree: ast.File, text: str, offset: int) -> tuple[int, list[Completion]]:
    """The offset where the partial word at `offset` starts, and what may replace it."""
    cursor = scan(text, offset)
    scope = table.scope(key, tree) if table is not None else Scope(key, "", {})
    return cursor.word_start, _Completer(table, scope, cursor).run()


@dataclass(slots=True)
class Frame:
    header: list[Token]  # the statement before the `{`


@dataclass(slots=True)
class Cursor:
    """Where the cursor is, as far as the text before it tells."""

    frames: list[Frame] = field(default_factory=list)  # open braces, outermost first
    statement: list[Token] = field(default_factory=list)  # the statement being typed (at the innermost level)
    brackets: list[tuple[Token, int]] = field(default_factory=list)  # open ( and [ with their index in `statement`
    word: str = ""  # the partial name or string before the cursor
    word_start: int = 0
    in_string: bool = False


def scan(text: str, offset: int) -> Cursor:
    """Where `offset` is in `text`: the open braces, the statement and brackets being typed, the partial word."""
    cursor = Cursor(word_start=offset)
    saved: list[tuple[list[Token], list]] = []
    last: Token | None = None
    for token in tokens(text[:offset]):
        last = token
        kind, value = token.kind, token.text
        if kind == "comment":
            continue
        if kind == "nl":
            if not cursor.brackets:
                cursor.statement = []
            continue
        if value == "{" and kind == "op":
            saved.append((cursor.statement, cursor.brackets))
            cursor.frames.append(Frame(cursor.statement))
            cursor.statement, cursor.brackets = [], []
        elif value == "}" and kind == "op":
            if cursor.frames:
                cursor.frames.pop()
                cursor.statement, cursor.brackets = saved.pop()
        elif value == "," and kind == "op" and not cursor.brackets:
            cursor.statement = []
        else:
            if value in ("(", "[") and kind == "op":
                cursor.brackets.append((token, len(cursor.statement)))
            elif value in (")", "]") and kind == "op" and cursor.brackets:
                cursor.brackets.pop()
            cursor.statement.append(token)
    if last is not None and last.end == offset and cursor.statement and cursor.statement[-1] is last:
        if last.kind == "name":
            cursor.statement.pop()
            cursor.word, cursor.word_start = last.text, last.start
        elif last.kind == "string" and not (len(last.text) > 1 and last.text.endswith('"')):
            cursor.statement.pop()
            cursor.word, cursor.word_start, cursor.in_string = last.text[1:], last.start, True
    if last is not None and last.kind in ("comment", "triple") and last.end == offset and not last.text.endswith('"""'):
        cursor.frames, cursor.brackets = [], []  # inside a comment or an unfinished triple-quoted string: nothing to offer
        cursor.statement = [last]
    return cursor


@dataclass(frozen=True, slots=True)
class Completion:
    label: str
    kind: str  # keyword, property, field, enum, function, variable, class, reference, struct, type, module
    detail: str | None = None
    doc: str | None = None  # Markdown
    insert: str = ""  # the text that replaces the partial word
    sort: str | None = None


@dataclass(slots=True)
class _Completer:
    table: SymbolTable | None
    scope: Scope
    cursor: Cursor
    items: list[Completion] = field(default_factory=list)

    def run(self) -> list[Completion]:
        statement = self.cursor.statement
        if statement and statement[-1].kind in ("comment", "triple"):
            return []
        if not self.cursor.frames:
            self.top_level()
        else:
            self.inside_declaration()
        return self.items

    # ---- items ----

    def add(self, label: str, kind: str, detail: str | None = None, doc: str | None = None,
            insert: str | None = None, sort: str | None = None) -> None:
        self.items.append(Completion(label, kind, detail, doc, insert if insert is not None else label, sort))

    def keywords(self, words) -> None:
        for word in words:
            self.add(word, "keyword")

    # ---- top level ----

    def top_level(self) -> None:
        statement = self.cursor.statement
        if not statement:
            self.keywords(sorted(TOP_LEVEL_KEYWORDS))
            return
        head = statement[0].text
        texts = [t.text for t in statement]
        if head in SELECTOR_KINDS and "where" in texts:
            self.selector(statement[texts.index("where") + 1:])
        elif head in ("let", "type") and _typing_type(statement):
            self.types()
        elif head == "let" and "=" in texts:
            self.value((AnyType(),), statement[texts.index("=") + 1:])
        elif head in SELECTOR_KINDS and len(statement) == 2 and statement[1].kind == "name":
            self.keywords(["where"])

    # ---- selectors ----

    def selector(self, tokens_after_where: list[Token]) -> None:
        texts = [t.text for t in tokens_after_where]
        open_list = self.cursor.brackets and self.cursor.brackets[-1][0].text == "["
        if open_list:
            index = texts.index("[") if "[" in texts else -1
            before = [t for t in texts[:index] if t not in ("not",)]
            if len(before) >= 2 and before[-1] == "in":
                self.label_values(before[-2])
            return
        if texts and texts[-1] in ("==", "!="):
            if len(texts) >= 2:
                self.label_values(texts[-2])
            return
        if not texts or texts[-1] in ("and", "or", "not", "("):
            self.label_keys()
        elif tokens_after_where[-1].kind == "name" and texts[-1] not in ("and", "or", "not", "in", "exists"):
            self.keywords(SELECTOR_OPERATORS)

    def label_keys(self) -> None:
        labels = self.table.labels_type if self.table else None
        if isinstance(labels, RecordType):
            for index, (name, info) in enumerate(labels.fields.items()):
                self.add(name, "property", info.type.describe(), info.doc, sort=f"{index:03d}")
        elif self.table is not None:
            seen = sorted({key for labels in self.table.cluster_labels.values() for key in labels})
            for name in seen:
                self.add(name, "property")

    def label_values(self, label: str) -> None:
        labels = self.table.labels_type if self.table else None
        if isinstance(labels, RecordType) and label in labels.fields:
            self.value_of((labels.fields[label].type,))
        elif self.table is not None:
            values = sorted({str(labels[label]) for labels in self.table.cluster_labels.values() if label in labels})
            for value in values:
                self.add(f'"{value}"', "enum", insert=f'"{value}"')

    # ---- declarations ----

    def inside_declaration(self) -> None:
        frames = self.cursor.frames
        header = frames[0].header
        if not header:
            return
        head = header[0].text
        if head in ("schema", "labels"):
            self.schema_body()
        elif head in RESOURCE_KINDS and self.table is not None:
            self.resource_body(head, header)

    def schema_body(self) -> None:
        statement = self.cursor.statement
        texts = [t.text for t in statement]
        if len(self.cursor.frames) == 1 and ":" in texts and "=" not in texts:
            self.types()

    def resource_body(self, kind: str, header: list[Token]) -> None:
        name = header[1].text if len(header) > 1 and header[1].kind == "name" and header[1].text != "where" else None
        frames = self.cursor.frames[1:]
        if kind in TARGET_KINDS:
            if not frames:
                self.target_level(kind)
                return
            target = frames[0].header
            frames = frames[1:]
            if target and target[0].text in UNIT_KINDS and len(target) > 1:
                types: tuple[Type, ...] = (self.table.unit_record(target[0].text, target[1].text),)
            elif target and target[0].text == "all":
                types = self.table.all_app_records()
            elif kind == "cluster" and [t.text for t in target] == ["labels"] and not frames:
                self.cluster_labels()
                return
            else:
                return
        elif kind in UNIT_KINDS and name is not None:
            types = (self.table.unit_record(kind, name),)
        else:
            record = self.table.settings_record(kind)
            if record is None:
                return
            types = (record,)
        for frame in frames:
            types = self.header_types(types, frame.header)
        self.statement_in_body(types)

    def target_level(self, kind: str) -> None:
        texts = [t.text for t in self.cursor.statement]
        if not texts:
            self.keywords([*TARGET_KEYWORDS] + (["labels"] if kind == "cluster" else []))
        elif len(texts) == 1 and texts[0] in UNIT_KINDS:
            self.resource_names(texts[0])

    def header_types(self, types: tuple[Type, ...], header: list[Token]) -> tuple[Type, ...]:
        """The types inside `PATH {`, `PATH: Schema {` or `PATH = {`."""
        keys, rest = _path(header)
        for key in keys:
            types = descend(types, key)
        if rest and rest[0].text == ":":
            names = [t.text for t in rest[1:] if t.kind == "name"]
            symbol = self.table.lookup(tuple(names), self.scope) if names else None
            named = self.table.named_type(symbol) if symbol is not None else None
            if isinstance(named, RecordType):
                return (named,)
        return types

    def statement_in_body(self, types: tuple[Type, ...]) -> None:
        statement = self.cursor.statement
        keys, rest = _path(statement)
        if rest and rest[0].text == "=":
            for key in keys:
                types = descend(types, key)
            self.value(types, rest[1:])
        elif rest and rest[0].text == ":":
            self.types(records_only=True, after=rest[1:])
        elif not statement or (not rest and statement[-1].text == "."):
            for key in keys:
                types = descend(types, key)
            self.fields(types)

    def fields(self, types: tuple[Type, ...]) -> None:
        seen: set[str] = set()
        for type_ in types:
            if isinstance(type_, RecordType):  # an open record's known fields too
                for index, (name, info) in enumerate(type_.fields.items()):
                    if name in seen:
                        continue
                    seen.add(name)
                    detail = info.type.describe() + ("?" if info.optional else "")
                    self.add(name, "field", detail, info.doc, sort=f"{index:03d}")
            elif isinstance(type_, MapType) and isinstance(type_.key, EnumType):
                for value in type_.key.values:
                    if str(value) not in seen:
                        seen.add(str(value))
                        self.add(str(value), "property", type_.value.describe())

    def cluster_labels(self) -> None:
        statement = self.cursor.statement
        texts = [t.text for t in statement]
        if not texts:
            self.label_keys()
        elif len(texts) == 2 and texts[1] == "=":
            self.label_values(texts[0])

    # ---- values ----

    def value(self, types: tuple[Type, ...], after: list[Token]) -> None:
        brackets = self.cursor.brackets
        if brackets and brackets[-1][0].text == "(":
            index = brackets[-1][1]
            statement = self.cursor.statement
            function = statement[index - 1].text if index > 0 else ""
            if function in SECRET_DOCS:
                self.call_arguments(function, statement[index + 1:])
            return
        depth = sum(1 for b in brackets if b[0].text == "[")
        for _ in range(depth):
            types = tuple(t.element for t in types if isinstance(t, ListType)) or (AnyType(),)
        if after and after[-1].kind in ("string", "number") and not self.cursor.in_string:
            return
        self.value_of(types)

    def value_of(self, types: tuple[Type, ...]) -> None:
        offered_lets = False
        for type_ in types:
            if isinstance(type_, EnumType):
                for value in type_.values:
                    if isinstance(value, str):
                        self.add(f'"{value}"', "enum", insert=f'"{value}"')
                    elif not self.cursor.in_string:
                        self.add(_literal(value), "enum")
            elif self.cursor.in_string:
                continue
            elif isinstance(type_, BoolType):
                self.keywords(["true", "false"])
            elif isinstance(type_, ResourceRefType):
                self.resource_names(type_.kind)
            elif isinstance(type_, SecretType):
                for name, (doc, params) in SECRET_DOCS.items():
                    signature = f"{name}({', '.join(p for p, _ in params)})"
                    self.add(name, "function", signature, doc, insert=f"{name}(")
            elif not isinstance(type_, (RecordType, MapType, ListType)) and not offered_lets:
                offered_lets = True
                self.lets()

    def lets(self) -> None:
        if self.table is None:
            return
        for name, decl in self.table.visible_declarations(self.scope):
            if isinstance(decl, ast.LetDecl):
                self.add(name, "variable", None, decl.doc)

    def resource_names(self, kind: str) -> None:
        if self.table is None:
            return
        for name, decl in sorted(self.table.resources(kind).items()):
            self.add(name, "class" if kind == "app" else "reference", kind, decl.doc)

    def call_arguments(self, function: str, arguments: list[Token]) -> None:
        params = SECRET_DOCS[function][1]
        given = {arguments[i].text for i in range(len(arguments) - 1) if arguments[i + 1].text == "=" and arguments[i].kind == "name"}
        positional = sum(1 for argument in _arguments(arguments)[:-1] if not _is_named(argument))
        given.update(name for name, _ in params[:positional])
        current = _current_argument(arguments)
        if current and current[-1].text == "=":
            return
        for name, doc in params:
            if name not in given:
                self.add(f"{name} =", "property", None, doc, insert=f"{name} = ")

    # ---- types ----

    def types(self, records_only: bool = False, after: list[Token] | None = None) -> None:
        statement = after if after is not None else self.cursor.statement
        if statement and statement[-1].text == "." and len(statement) >= 2:
            module = self.scope.imports.get(statement[-2].text) if self.table else None
            if module is not None:
                self.module_types(module, records_only)
            return
        if not records_only:
            for name in BUILTIN_TYPES:
                self.add(name, "keyword", "built-in type", BUILTIN_DOCS.get(name))
            for word in TYPE_CONSTRUCTORS:
                self.add(word, "keyword", f"{word}[...]", insert=f"{word}[")
        if self.table is None:
            return
        for module in dict.fromkeys((self.scope.module, PRELUDE_MODULE)):
            self.module_types(module, records_only)
        for alias, module in self.scope.imports.items():
            self.add(alias, "module", f"module {module}")

    def module_types(self, module: str, records_only: bool) -> None:
        for name, decl in self.table.resolution.module_symbols.get(module, {}).items():
            if isinstance(decl, ast.SchemaDecl):
                self.add(name, "struct", "schema", decl.doc)
            elif isinstance(decl, ast.TypeDecl) and not records_only:
                self.add(name, "type", "type", decl.doc)


def _typing_type(statement: list[Token]) -> bool:
    """`let NAME: |` or `type NAME = |`."""
    texts = [t.text for t in statement]
    if texts[0] == "type":
        return len(texts) >= 3 and texts[2] == "="
    return ":" in texts and "=" not in texts


def _path(statement: list[Token]) -> tuple[list[str], list[Token]]:
    """Split `a.b."c" = ...` into its keys and the rest (starting at `=`, `:` or anything else)."""
    keys: list[str] = []
    index = 0
    expect_key = True
    while index < len(statement):
        token = statement[index]
        if expect_key and token.kind in ("name", "string"):
            keys.append(token.text.strip('"') if token.kind == "string" else token.text)
            expect_key = False
        elif not expect_key and token.text == ".":
            expect_key = True
        else:
            break
        index += 1
    return keys, statement[index:]


def _arguments(tokens_after_paren: list[Token]) -> list[list[Token]]:
    """The arguments typed so far, split at top-level commas; the last one is being typed."""
    depth = 0
    arguments: list[list[Token]] = [[]]
    for token in tokens_after_paren:
        if token.text in ("(", "["):
            depth += 1
        elif token.text in (")", "]"):
            depth -= 1
        if token.text == "," and depth == 0:
            arguments.append([])
        else:
            arguments[-1].append(token)
    return arguments


def _current_argument(tokens_after_paren: list[Token]) -> list[Token]:
    return _arguments(tokens_after_paren)[-1]


def _is_named(argument: list[Token]) -> bool:
    return len(argument) >= 2 and argument[0].kind == "name" and argument[1].text == "="


def _literal(value) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    return str(value)


# ---- signature help ---------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Signature:
    function: str
    doc: str  # Markdown
    parameters: tuple[tuple[str, str], ...]  # (name, doc) in order
    active: int  # the index of the parameter being typed


def signature_at(text: str, offset: int) -> Signature | None:
    """The secret function whose arguments the cursor is in, and which argument it is at."""
    cursor = scan(text, offset)
    if not cursor.brackets or cursor.brackets[-1][0].text != "(":
        return None
    index = cursor.brackets[-1][1]
    statement = cursor.statement
    function = statement[index - 1].text if index > 0 else ""
    if function not in SECRET_DOCS:
        return None
    doc, params = SECRET_DOCS[function]
    arguments = _arguments(statement[index + 1:])
    current = arguments[-1]
    names = [p for p, _ in params]
    given = {a[0].text for a in arguments[:-1] if _is_named(a)}
    given.update(names[:sum(1 for a in arguments[:-1] if not _is_named(a))])
    unset = [n for n in names if n not in given]
    active = names.index(unset[0]) if unset else len(names) - 1
    if _is_named(current) and current[0].text in names:
        active = names.index(current[0].text)
    elif cursor.word in names and len(arguments) > 1:
        active = names.index(cursor.word)
    return Signature(function, doc, params, active)
