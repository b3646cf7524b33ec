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

from dataclasses import dataclass, field, fields
from typing import Iterator, Union

from .span import Span


@dataclass(frozen=True, slots=True)
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


@dataclass(frozen=True, slots=True)
class Name(Node):
    text: str


@dataclass(frozen=True, slots=True)
class Key(Node):
    """One segment of an assignment path: a name, or a quoted string key."""

    text: str
    quoted: bool = False


@dataclass(frozen=True, slots=True)
class Path(Node):
    keys: tuple[Key, ...]

    @property
    def dotted(self) -> str:
        return ".".join(k.text for k in self.keys)


@dataclass(frozen=True, slots=True)
class Comment(Node):
    text: str

    @property
    def is_doc(self) -> bool:
        return self.text.startswith("///")


# ---- expressions ---------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Missing(Node):
    """A value the user has not written yet (from error recovery)."""


@dataclass(frozen=True, slots=True)
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


@dataclass(frozen=True, slots=True)
class Interpolation(Node):
    expr: Expr


@dataclass(frozen=True, slots=True)
class IntLit(Node):
    value: int


@dataclass(frozen=True, slots=True)
class FloatLit(Node):
    value: float
    text: str


@dataclass(frozen=True, slots=True)
class UnitLit(Node):
    """A number with a unit suffix: a duration (`1h30m`) or a quantity (`250m`, `1.5Gi`).

    Which one is decided by the expected type; `m` alone is minutes for a duration
    and milli for a quantity.
    """

    text: str


@dataclass(frozen=True, slots=True)
class BoolLit(Node):
    value: bool


@dataclass(frozen=True, slots=True)
class ListLit(Node):
    items: tuple[Expr, ...]


@dataclass(frozen=True, slots=True)
class MapLit(Node):
    body: Body


@dataclass(frozen=True, slots=True)
class Ref(Node):
    names: tuple[Name, ...]

    @property
    def dotted(self) -> str:
        return ".".join(n.text for n in self.names)


@dataclass(frozen=True, slots=True)
class Arg(Node):
    name: Name | None
    value: Expr


@dataclass(frozen=True, slots=True)
class Call(Node):
    func: Name
    args: tuple[Arg, ...]


@dataclass(frozen=True, slots=True)
class Binary(Node):
    op: str
    left: Expr
    right: Expr


@dataclass(frozen=True, slots=True)
class Negate(Node):
    operand: Expr


Expr = Union[Missing, StringLit, IntLit, FloatLit, UnitLit, BoolLit, ListLit, MapLit, Ref, Call, Binary, Negate]
Literal = Union[StringLit, IntLit, FloatLit, UnitLit, BoolLit]


# ---- types ---------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class TypeName(Node):
    names: tuple[Name, ...]

    @property
    def dotted(self) -> str:
        return ".".join(n.text for n in self.names)


@dataclass(frozen=True, slots=True)
class Range(Node):
    low: Expr | None
    high: Expr | None


@dataclass(frozen=True, slots=True)
class RefineArg(Node):
    """`1..50`, `len: 1..63`, `pattern: "^[a-z]+$"`."""

    name: Name | None
    value: Range | Expr


@dataclass(frozen=True, slots=True)
class NamedType(Node):
    name: TypeName
    refinements: tuple[RefineArg, ...] = ()


@dataclass(frozen=True, slots=True)
class ListType(Node):
    element: TypeExpr
    refinements: tuple[RefineArg, ...] = ()


@dataclass(frozen=True, slots=True)
class MapType(Node):
    key: TypeExpr
    value: TypeExpr


@dataclass(frozen=True, slots=True)
class LiteralType(Node):
    value: Literal


@dataclass(frozen=True, slots=True)
class UnionType(Node):
    members: tuple[TypeExpr, ...]


TypeExpr = Union[NamedType, ListType, MapType, LiteralType, UnionType]


# ---- selectors -------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class SelCompare(Node):
    label: Name
    op: str  # "==" or "!="
    value: Expr


@dataclass(frozen=True, slots=True)
class SelIn(Node):
    label: Name
    values: ListLit
    negated: bool = False


@dataclass(frozen=True, slots=True)
class SelExists(Node):
    label: Name


@dataclass(frozen=True, slots=True)
class SelAnd(Node):
    left: Selector
    right: Selector


@dataclass(frozen=True, slots=True)
class SelOr(Node):
    left: Selector
    right: Selector


@dataclass(frozen=True, slots=True)
class SelNot(Node):
    operand: Selector


Selector = Union[SelCompare, SelIn, SelExists, SelAnd, SelOr, SelNot]


# ---- bodies ------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Assign(Node):
    path: Path
    value: Expr


@dataclass(frozen=True, slots=True)
class Block(Node):
    path: Path
    annotation: TypeName | None
    body: Body


@dataclass(frozen=True, slots=True)
class AppTarget(Node):
    """`app NAME { ... }` inside an env, overlay or cluster: values for one app."""

    name: Name
    body: Body


@dataclass(frozen=True, slots=True)
class AllTarget(Node):
    """`all { ... }` inside an env, overlay or cluster: values for every app."""

    body: Body


Stmt = Union[Assign, Block, AppTarget, AllTarget]


@dataclass(frozen=True, slots=True)
class Body(Node):
    stmts: tuple[Stmt, ...]


# ---- declarations --------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class PackageDecl(Node):
    name: Name


@dataclass(frozen=True, slots=True)
class ImportDecl(Node):
    path: StringLit
    alias: Name | None


@dataclass(frozen=True, slots=True)
class TypeDecl(Node):
    name: Name
    type: TypeExpr
    doc: str | None = field(default=None, compare=False)


@dataclass(frozen=True, slots=True)
class FieldDecl(Node):
    name: Name
    optional: bool
    type: TypeExpr
    default: Expr | None
    doc: str | None = field(default=None, compare=False)


@dataclass(frozen=True, slots=True)
class SchemaDecl(Node):
    name: Name
    fields: tuple[FieldDecl, ...]
    doc: str | None = field(default=None, compare=False)


@dataclass(frozen=True, slots=True)
class LabelsDecl(Node):
    fields: tuple[FieldDecl, ...]
    doc: str | None = field(default=None, compare=False)


@dataclass(frozen=True, slots=True)
class LetDecl(Node):
    name: Name
    type: TypeExpr | None
    value: Expr
    doc: str | None = field(default=None, compare=False)


@dataclass(frozen=True, slots=True)
class ResourceDecl(Node):
    """app, env, cluster, overlay, source, registry, receiver, provider, alert, automation, delivery."""

    kind: str
    name: Name | None
    selector: Selector | None
    body: Body
    doc: str | None = field(default=None, compare=False)


@dataclass(frozen=True, slots=True)
class BadDecl(Node):
    """Text the parser could not make into a declaration."""


Decl = Union[PackageDecl, ImportDecl, TypeDecl, SchemaDecl, LabelsDecl, LetDecl, ResourceDecl, BadDecl]


@dataclass(frozen=True, slots=True)
class File(Node):
    decls: tuple[Decl, ...]
    comments: tuple[Comment, ...] = field(default=(), compare=False)

    @property
    def package(self) -> PackageDecl | None:
        return next((d for d in self.decls if isinstance(d, PackageDecl)), None)

    @property
    def imports(self) -> tuple[ImportDecl, ...]:
        return tuple(d for d in self.decls if isinstance(d, ImportDecl))
