"""The syntax tree of a .gop file.

Nodes are frozen, slotted dataclasses named after grammar rules. Every node has a
`span` (file + offsets) that is excluded from equality, so two parses of the same
text laid out differently compare equal. Children are tuples. The tree is never
mutated after parsing: later passes keep their facts in side tables keyed by node
identity (`id(node)`) or by span.

`Missing` and `BadDecl` come from error recovery: the parser always returns a tree,
with these standing where the text could not be understood.
"""

from __future__ import annotations

from dataclasses import field, fields
from typing import Iterator, Union

from gop.compiler.core.frozen import frozen
from gop.compiler.core.span import Span


@frozen
class Node:
    span: Span = field(compare=False, repr=False)

    def children(self) -> Iterator[Node]:
        for f in fields(self):
            if f.name == "span":
                continue
            value = getattr(self, f.name)
            if isinstance(value, Node):
                yield value
            elif isinstance(value, tuple):
                for item in value:
                    if isinstance(item, Node):
                        yield item

    def walk(self) -> Iterator[Node]:
        stack: list[Node] = [self]
        while stack:
            node = stack.pop()
            yield node
            stack.extend(reversed(list(node.children())))


# ---- names -------------------------------------------------------------------


@frozen
class Name(Node):
    text: str


@frozen
class Key(Node):
    """One segment of an assignment path: a name, or a quoted string key."""

    text: str
    quoted: bool = False


@frozen
class Path(Node):
    keys: tuple[Key, ...]

    @property
    def dotted(self) -> str:
        return ".".join(k.text for k in self.keys)


@frozen
class Comment(Node):
    text: str

    @property
    def is_doc(self) -> bool:
        return self.text.startswith("///")


# ---- expressions ---------------------------------------------------------------


@frozen
class Missing(Node):
    """A value the user has not written yet (from error recovery)."""


@frozen
class StringLit(Node):
    """A string; `parts` alternate literal text (str) and `Interpolation`s."""

    parts: tuple[Union[str, "Interpolation"], ...]
    triple: bool = False

    @property
    def is_plain(self) -> bool:
        return all(isinstance(p, str) for p in self.parts)

    @property
    def plain_value(self) -> str:
        return "".join(p for p in self.parts if isinstance(p, str))


@frozen
class Interpolation(Node):
    expr: Expr


@frozen
class IntLit(Node):
    value: int


@frozen
class FloatLit(Node):
    value: float
    text: str


@frozen
class UnitLit(Node):
    """A number with a unit suffix: a duration (`1h30m`) or a quantity (`250m`, `1.5Gi`).

    Which one is decided by the expected type; `m` alone is minutes for a duration
    and milli for a quantity.
    """

    text: str


@frozen
class BoolLit(Node):
    value: bool


@frozen
class ListLit(Node):
    items: tuple[Expr, ...]


@frozen
class MapLit(Node):
    body: Body


@frozen
class Ref(Node):
    names: tuple[Name, ...]

    @property
    def dotted(self) -> str:
        return ".".join(n.text for n in self.names)


@frozen
class Arg(Node):
    name: Name | None
    value: Expr


@frozen
class Call(Node):
    func: Name
    args: tuple[Arg, ...]


@frozen
class Binary(Node):
    op: str
    left: Expr
    right: Expr


@frozen
class Negate(Node):
    operand: Expr


@frozen
class Fallback(Node):
    """`value ?? fallback`: `fallback` where `value` is an optional value that is absent
    (an optional cluster label in a context interpolation)."""

    value: Expr
    fallback: Expr


Expr = Union[Missing, StringLit, IntLit, FloatLit, UnitLit, BoolLit, ListLit, MapLit, Ref, Call, Binary, Negate, Fallback]
Literal = Union[StringLit, IntLit, FloatLit, UnitLit, BoolLit]


# ---- types ---------------------------------------------------------------------


@frozen
class TypeName(Node):
    names: tuple[Name, ...]

    @property
    def dotted(self) -> str:
        return ".".join(n.text for n in self.names)


@frozen
class Range(Node):
    low: Expr | None
    high: Expr | None


@frozen
class RefineArg(Node):
    """`1..50`, `len: 1..63`, `pattern: "^[a-z]+$"`."""

    name: Name | None
    value: Range | Expr


@frozen
class NamedType(Node):
    name: TypeName
    refinements: tuple[RefineArg, ...] = ()


@frozen
class ListType(Node):
    element: TypeExpr
    refinements: tuple[RefineArg, ...] = ()


@frozen
class MapType(Node):
    key: TypeExpr
    value: TypeExpr


@frozen
class LiteralType(Node):
    value: Literal


@frozen
class UnionType(Node):
    members: tuple[TypeExpr, ...]


TypeExpr = Union[NamedType, ListType, MapType, LiteralType, UnionType]


# ---- selectors -------------------------------------------------------------------


@frozen
class SelCompare(Node):
    label: Name
    op: str  # "==" or "!="
    value: Expr


@frozen
class SelIn(Node):
    label: Name
    values: ListLit
    negated: bool = False


@frozen
class SelExists(Node):
    label: Name


@frozen
class SelAnd(Node):
    left: Selector
    right: Selector


@frozen
class SelOr(Node):
    left: Selector
    right: Selector


@frozen
class SelNot(Node):
    operand: Selector


Selector = Union[SelCompare, SelIn, SelExists, SelAnd, SelOr, SelNot]


# ---- bodies ------------------------------------------------------------------------


@frozen
class Assign(Node):
    path: Path
    value: Expr


@frozen
class Block(Node):
    path: Path
    annotation: TypeName | None
    body: Body


@frozen
class AppTarget(Node):
    """`app NAME { ... }` (or `release NAME`, `resource NAME`) inside an env, overlay or cluster:
    values for one declaration of that kind."""

    name: Name
    body: Body
    kind: str = "app"


@frozen
class AllTarget(Node):
    """`all { ... }` inside an env, overlay or cluster: values for every app."""

    body: Body


Stmt = Union[Assign, Block, AppTarget, AllTarget]


@frozen
class Body(Node):
    stmts: tuple[Stmt, ...]


# ---- declarations --------------------------------------------------------------------


@frozen
class PackageDecl(Node):
    name: Name


@frozen
class ImportDecl(Node):
    path: StringLit
    alias: Name | None


@frozen
class TypeDecl(Node):
    name: Name
    type: TypeExpr
    doc: str | None = field(default=None, compare=False)


@frozen
class FieldDecl(Node):
    name: Name
    optional: bool
    type: TypeExpr
    default: Expr | None
    doc: str | None = field(default=None, compare=False)


@frozen
class SchemaDecl(Node):
    name: Name
    fields: tuple[FieldDecl, ...]
    doc: str | None = field(default=None, compare=False)


@frozen
class LabelsDecl(Node):
    fields: tuple[FieldDecl, ...]
    doc: str | None = field(default=None, compare=False)


@frozen
class LetDecl(Node):
    name: Name
    type: TypeExpr | None
    value: Expr
    doc: str | None = field(default=None, compare=False)


@frozen
class ResourceDecl(Node):
    """app, env, cluster, overlay, source, registry, receiver, provider, alert, automation, delivery,
    release, resource, stage, namespace.

    `uses`: the templates it builds on, in the order written (`app web uses a, b { }`). `name` is
    a `StringLit` (possibly interpolated) only for a declaration inside a `for` (`ForDecl.decls`);
    everywhere else it is a `Name` or None."""

    kind: str
    name: Name | None
    selector: Selector | None
    body: Body
    doc: str | None = field(default=None, compare=False)
    uses: tuple[Name, ...] = ()


@frozen
class TemplateDecl(Node):
    """`template NAME for KIND uses A, B { ... }`: a named partial body of an app, release or
    resource (`kind`, "app" when not written) that declarations of that kind build on."""

    name: Name
    kind: str
    uses: tuple[Name, ...]
    body: Body
    doc: str | None = field(default=None, compare=False)


@frozen
class DefaultsDecl(Node):
    """`defaults for KIND { ... }`: fleet-wide values below every declaration of `kind` ("app"
    when not written) and its templates."""

    kind: str
    body: Body
    doc: str | None = field(default=None, compare=False)


@frozen
class NarrowDecl(Node):
    """`narrow App { replicas: int(1..10) }`: tighter types for some fields of a schema, fleet-wide."""

    target: TypeName
    fields: tuple[FieldDecl, ...]
    doc: str | None = field(default=None, compare=False)


@frozen
class ForDecl(Node):
    """`for key, value in EXPR { DECLS }`: `decls` once per entry of a list (`for item in list`)
    or a map (`for key, value in map`). The declarations' names are strings (`app "${key}"`)."""

    names: tuple[Name, ...]
    iterable: Expr
    decls: tuple[ResourceDecl, ...]
    doc: str | None = field(default=None, compare=False)


@frozen
class BadDecl(Node):
    """Text the parser could not make into a declaration."""


Decl = Union[PackageDecl, ImportDecl, TypeDecl, SchemaDecl, LabelsDecl, LetDecl, ResourceDecl, TemplateDecl,
             DefaultsDecl, NarrowDecl, ForDecl, BadDecl]


@frozen
class File(Node):
    decls: tuple[Decl, ...]
    comments: tuple[Comment, ...] = field(default=(), compare=False)

    @property
    def package(self) -> PackageDecl | None:
        return next((d for d in self.decls if isinstance(d, PackageDecl)), None)

    @property
    def imports(self) -> tuple[ImportDecl, ...]:
        return tuple(d for d in self.decls if isinstance(d, ImportDecl))


def assigned_paths(body: Body, prefix: tuple = ()) -> set[tuple]:
    """Every path a body assigns, whether or not the value type-checked."""
    paths: set[tuple] = set()
    for stmt in body.stmts:
        if isinstance(stmt, (Assign, Block)):
            path = prefix + tuple(key.text for key in stmt.path.keys)
            paths.add(path)
            if isinstance(stmt, Block):
                paths |= assigned_paths(stmt.body, path)
            elif isinstance(stmt.value, MapLit):
                paths |= assigned_paths(stmt.value.body, path)
    return paths
