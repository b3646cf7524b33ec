"""Completion and signature help: what may be typed at the cursor.

Input: the current text of a buffer (usually half-typed, so it is not parsed:
a small lexer reads the text up to the cursor and tracks braces, brackets and
the statement being typed), the cursor offset, and a `Model` of the last good
analysis for the schemas, names and labels. Output: LSP completion items, or a
signature for the secret functions.

Contexts, innermost first: a string or value after `=` (enum values, booleans,
declared resources such as `dependsOn = [cart]`, lets, secret functions); the
arguments of `sops(`/`secretRef(`/`external(`; a type after `:` in schemas,
labels, lets and `values:` annotations; a `where` selector (label keys, then
their allowed values); a key in a body (fields of the record at that path, as
`typecheck` descends it; label keys in a cluster's `labels { }`); `app NAME`
in env, overlay and cluster bodies; keywords at the top level and in bodies.

Invariants: pure functions of (text, offset, model); never raises on any text.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field

from lsprotocol import types as lsp

from gop.compiler.syntax import ast
from gop.compiler.syntax.parser import TOP_LEVEL_KEYWORDS
from gop.compiler.semantic.check import BUILTIN_TYPES, PRELUDE_MODULE
from gop.compiler.semantic.types import (
    AnyType, BoolType, EnumType, ListType, MapType, RecordType, ResourceRefType, SecretType, Type,
)

from .symbols import Model, Scope

# The secret functions of the type checker (`typecheck.SECRET_FUNCTIONS`), their parameters in order, and what each means.
SECRET_SIGNATURES: dict[str, tuple[str, tuple[tuple[str, str], ...]]] = {
    "sops": ("A secret in a SOPS-encrypted Secret manifest in the repository.", (
        ("file", "Path of the encrypted manifest, relative to the program root."),
        ("secret", "Name of the Kubernetes Secret the workload reads."),
        ("key", "The key inside that Secret."),
    )),
    "secretRef": ("A Secret that already exists in the cluster.", (
        ("secret", "Name of the Kubernetes Secret."),
        ("key", "The key inside that Secret."),
    )),
    "external": ("A secret kept in an external store, synced into a Secret.", (
        ("store", "The name of the external secret store."),
        ("remote", "The key in the store."),
        ("secret", "Name of the Kubernetes Secret the workload reads."),
        ("key", "The key inside that Secret."),
        ("storeKind", 'Optional: "ClusterSecretStore" (the default) or "SecretStore".'),
        ("property", "Optional: the field of the remote value to read."),
    )),
}
RESOURCE_KINDS = ("app", "env", "cluster", "overlay", "source", "registry", "receiver", "provider", "alert", "automation", "delivery")
TARGET_KINDS = ("env", "overlay", "cluster")
SELECTOR_KINDS = ("app", "env", "overlay")
BUILTIN_DOCS = {
    "int": "A whole number; refine with a range: `int(1..10)`.",
    "float": "A number with a fraction; refine with a range: `float(0..1)`.",
    "bool": "`true` or `false`.",
    "string": 'Text; refine with `string(len: 1..63, pattern: "^[a-z]+$")`.',
    "duration": "A duration such as `30s`, `5m` or `1h30m`.",
    "quantity": "A Kubernetes quantity such as `250m`, `1` or `512Mi`.",
    "secret": "A reference to a secret: `sops(...)`, `secretRef(...)` or `external(...)`; never a plaintext value.",
    "any": "Any value; not checked.",
    "app": "The name of a declared app.",
    "source": "The name of a declared source.",
    "registry": "The name of a declared registry.",
    "provider": "The name of a declared provider.",
}

_TOKEN = re.compile(
    r'(?P<triple>"""(?:[^"\\]|\\[\s\S]|"(?!""))*(?:"""|\Z))'
    r'|(?P<string>"(?:[^"\\\n]|\\.)*(?:"|(?=\n)|\Z))'
    r"|(?P<comment>//[^\n]*)"
    r"|(?P<nl>\n)"
    r"|(?P<name>[A-Za-z_][A-Za-z0-9_]*(?:-+[A-Za-z0-9_]+)*)"
    r"|(?P<number>\d+(?:\.\d+)?(?:[A-Za-z]+(?:\d+(?:\.\d+)?[A-Za-z]+)*)?)"
    r"|(?P<op>==|!=|\.\.|[{}()\[\]=:,.|?+\-*/%<>!])"
    r"|(?P<space>[ \t\r\f]+)"
    r"|(?P<other>.)",
    re.S,
)


@dataclass(frozen=True, slots=True)
class Token:
    kind: str  # name, string, triple, number, op, other
    text: str
    start: int
    end: int


def tokens(text: str):
    """All tokens of `text` but spaces (comments and newlines included), never failing."""
    for match in _TOKEN.finditer(text):
        kind = match.lastgroup
        if kind != "space":
            yield Token(kind, match.group(), match.start(), match.end())


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


# ---- completion -----------------------------------------------------------------------------------


@dataclass(slots=True)
class Completer:
    model: Model | None
    scope: Scope
    cursor: Cursor
    source_range: lsp.Range  # the range the partial word covers
    items: list[lsp.CompletionItem] = field(default_factory=list)

    def run(self) -> list[lsp.CompletionItem]:
        statement = self.cursor.statement
        if statement and statement[-1].kind in ("comment", "triple"):
            return []
        if not self.cursor.frames:
            self.top_level()
        else:
            self.inside_declaration()
        return self.items

    # ---- items ----

    def add(self, label: str, kind: lsp.CompletionItemKind, detail: str | None = None, doc: str | None = None,
            insert: str | None = None, sort: str | None = None) -> None:
        text = insert if insert is not None else label
        self.items.append(lsp.CompletionItem(
            label=label, kind=kind, detail=detail,
            documentation=lsp.MarkupContent(kind=lsp.MarkupKind.Markdown, value=doc) if doc else None,
            text_edit=lsp.TextEdit(range=self.source_range, new_text=text),
            sort_text=sort,
        ))

    def keywords(self, words) -> None:
        for word in words:
            self.add(word, lsp.CompletionItemKind.Keyword)

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
            self.keywords(["in", "not", "exists"])

    def label_keys(self) -> None:
        labels = self.model.labels_type if self.model else None
        if isinstance(labels, RecordType):
            for index, (name, info) in enumerate(labels.fields.items()):
                self.add(name, lsp.CompletionItemKind.Property, info.type.describe(), info.doc, sort=f"{index:03d}")
        elif self.model is not None and self.model.analysis.fleet is not None:
            seen = sorted({key for c in self.model.analysis.fleet.clusters.values() for key in c.labels})
            for name in seen:
                self.add(name, lsp.CompletionItemKind.Property)

    def label_values(self, label: str) -> None:
        labels = self.model.labels_type if self.model else None
        if isinstance(labels, RecordType) and label in labels.fields:
            self.value_of((labels.fields[label].type,))
        elif self.model is not None and self.model.analysis.fleet is not None:
            values = sorted({str(c.labels[label]) for c in self.model.analysis.fleet.clusters.values() if label in c.labels})
            for value in values:
                self.add(f'"{value}"', lsp.CompletionItemKind.EnumMember, insert=f'"{value}"')

    # ---- declarations ----

    def inside_declaration(self) -> None:
        frames = self.cursor.frames
        header = frames[0].header
        if not header:
            return
        head = header[0].text
        if head in ("schema", "labels"):
            self.schema_body()
        elif head in RESOURCE_KINDS and self.model is not None:
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
            if target and target[0].text == "app" and len(target) > 1:
                types: tuple[Type, ...] = (self.model.app_record(target[1].text),)
            elif target and target[0].text == "all":
                types = self.model.all_app_records()
            elif kind == "cluster" and [t.text for t in target] == ["labels"] and not frames:
                self.cluster_labels()
                return
            else:
                return
        elif kind == "app" and name is not None:
            types = (self.model.app_record(name),)
        else:
            record = self.model.settings_record(kind)
            if record is None:
                return
            types = (record,)
        for frame in frames:
            types = self.header_types(types, frame.header)
        self.statement_in_body(types)

    def target_level(self, kind: str) -> None:
        texts = [t.text for t in self.cursor.statement]
        if not texts:
            self.keywords(["app", "all"] + (["labels"] if kind == "cluster" else []))
        elif texts == ["app"]:
            self.resource_names("app")

    def header_types(self, types: tuple[Type, ...], header: list[Token]) -> tuple[Type, ...]:
        """The types inside `PATH {`, `PATH: Schema {` or `PATH = {`."""
        keys, rest = _path(header)
        for key in keys:
            types = _descend(types, key)
        if rest and rest[0].text == ":":
            names = [t.text for t in rest[1:] if t.kind == "name"]
            symbol = self.model.lookup(tuple(names), self.scope) if names else None
            named = self.model.named_type(symbol) if symbol is not None else None
            if isinstance(named, RecordType):
                return (named,)
        return types

    def statement_in_body(self, types: tuple[Type, ...]) -> None:
        statement = self.cursor.statement
        keys, rest = _path(statement)
        if rest and rest[0].text == "=":
            for key in keys:
                types = _descend(types, key)
            self.value(types, rest[1:])
        elif rest and rest[0].text == ":":
            self.types(records_only=True, after=rest[1:])
        elif not statement or (not rest and statement[-1].text == "."):
            for key in keys:
                types = _descend(types, key)
            self.fields(types)

    def fields(self, types: tuple[Type, ...]) -> None:
        seen: set[str] = set()
        for type_ in types:
            if isinstance(type_, RecordType) and not type_.open:
                for index, (name, info) in enumerate(type_.fields.items()):
                    if name in seen:
                        continue
                    seen.add(name)
                    detail = info.type.describe() + ("?" if info.optional else "")
                    self.add(name, lsp.CompletionItemKind.Field, detail, info.doc, sort=f"{index:03d}")
            elif isinstance(type_, MapType) and isinstance(type_.key, EnumType):
                for value in type_.key.values:
                    if str(value) not in seen:
                        seen.add(str(value))
                        self.add(str(value), lsp.CompletionItemKind.Property, type_.value.describe())

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
            if function in SECRET_SIGNATURES:
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
                        self.add(f'"{value}"', lsp.CompletionItemKind.EnumMember, insert=f'"{value}"')
                    elif not self.cursor.in_string:
                        self.add(_literal(value), lsp.CompletionItemKind.EnumMember)
            elif self.cursor.in_string:
                continue
            elif isinstance(type_, BoolType):
                self.keywords(["true", "false"])
            elif isinstance(type_, ResourceRefType):
                self.resource_names(type_.kind)
            elif isinstance(type_, SecretType):
                for name, (doc, params) in SECRET_SIGNATURES.items():
                    signature = f"{name}({', '.join(p for p, _ in params)})"
                    self.add(name, lsp.CompletionItemKind.Function, signature, doc, insert=f"{name}(")
            elif not isinstance(type_, (RecordType, MapType, ListType)) and not offered_lets:
                offered_lets = True
                self.lets()

    def lets(self) -> None:
        if self.model is None:
            return
        for module in (self.scope.module, PRELUDE_MODULE):
            for name, decl in self.model.resolution.module_symbols.get(module, {}).items():
                if isinstance(decl, ast.LetDecl):
                    self.add(name, lsp.CompletionItemKind.Variable, None, decl.doc)

    def resource_names(self, kind: str) -> None:
        if self.model is None:
            return
        for name, decl in sorted(self.model.resources(kind).items()):
            self.add(name, lsp.CompletionItemKind.Class if kind == "app" else lsp.CompletionItemKind.Reference, kind, decl.doc)

    def call_arguments(self, function: str, arguments: list[Token]) -> None:
        params = SECRET_SIGNATURES[function][1]
        given = {arguments[i].text for i in range(len(arguments) - 1) if arguments[i + 1].text == "=" and arguments[i].kind == "name"}
        positional = sum(1 for argument in _arguments(arguments)[:-1] if not _is_named(argument))
        given.update(name for name, _ in params[:positional])
        current = _current_argument(arguments)
        if current and current[-1].text == "=":
            return
        for name, doc in params:
            if name not in given:
                self.add(f"{name} =", lsp.CompletionItemKind.Property, None, doc, insert=f"{name} = ")

    # ---- types ----

    def types(self, records_only: bool = False, after: list[Token] | None = None) -> None:
        statement = after if after is not None else self.cursor.statement
        if statement and statement[-1].text == "." and len(statement) >= 2:
            module = self.scope.imports.get(statement[-2].text) if self.model else None
            if module is not None:
                self.module_types(module, records_only)
            return
        if not records_only:
            for name in BUILTIN_TYPES:
                self.add(name, lsp.CompletionItemKind.Keyword, "built-in type", BUILTIN_DOCS.get(name))
            for word in ("list", "map"):
                self.add(word, lsp.CompletionItemKind.Keyword, f"{word}[...]", insert=f"{word}[")
        if self.model is None:
            return
        for module in dict.fromkeys((self.scope.module, PRELUDE_MODULE)):
            self.module_types(module, records_only)
        for alias, module in self.scope.imports.items():
            self.add(alias, lsp.CompletionItemKind.Module, f"module {module}")

    def module_types(self, module: str, records_only: bool) -> None:
        for name, decl in self.model.resolution.module_symbols.get(module, {}).items():
            if isinstance(decl, ast.SchemaDecl):
                self.add(name, lsp.CompletionItemKind.Struct, "schema", decl.doc)
            elif isinstance(decl, ast.TypeDecl) and not records_only:
                self.add(name, lsp.CompletionItemKind.TypeParameter, "type", decl.doc)


def _typing_type(statement: list[Token]) -> bool:
    """`let NAME: |` or `type NAME = |`."""
    texts = [t.text for t in statement]
    if texts[0] == "type":
        return len(texts) >= 3 and texts[2] == "="
    return ":" in texts and "=" not in texts


def _descend(types: tuple[Type, ...], key: str) -> tuple[Type, ...]:
    out: list[Type] = []
    for type_ in types:
        if isinstance(type_, RecordType) and not type_.open:
            if key in type_.fields:
                out.append(type_.fields[key].type)
        elif isinstance(type_, MapType):
            out.append(type_.value)
        elif isinstance(type_, (AnyType, RecordType)):
            out.append(AnyType())
    return tuple(dict.fromkeys(out))


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


def signature_help(cursor: Cursor) -> lsp.SignatureHelp | None:
    if not cursor.brackets or cursor.brackets[-1][0].text != "(":
        return None
    index = cursor.brackets[-1][1]
    statement = cursor.statement
    function = statement[index - 1].text if index > 0 else ""
    if function not in SECRET_SIGNATURES:
        return None
    doc, params = SECRET_SIGNATURES[function]
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
    label = f"{function}({', '.join(f'{p} = ...' if i else p for i, p in enumerate(names))})"
    return lsp.SignatureHelp(
        signatures=[lsp.SignatureInformation(
            label=label,
            documentation=lsp.MarkupContent(kind=lsp.MarkupKind.Markdown, value=doc),
            parameters=[lsp.ParameterInformation(label=p, documentation=d) for p, d in params],
        )],
        active_signature=0,
        active_parameter=active,
    )
