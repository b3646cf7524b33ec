"""Expansion of comprehensions: `for` declarations -> ordinary declarations, one set per row.

Input: the `Program` and the `Resolution` with every module's lets indexed (resolve calls
`expand` at its end). Output: `Expansion`: the generated `ResourceDecl`s in order (comprehensions
in file order, rows in the order written, members in the order written), each with its
`Generated` record (the `for`, the member it was made from, the span of its row) and the file of
its `for`; and diagnostics.

Substitution, not evaluation: every reference to a loop variable (`svc.port`, `"${name}"`,
also in selectors) is replaced by the SYNTAX NODE of the row that binds it (the entry of the list
or map literal, followed through `let`s and field access), so the type checker checks the row's
own node and a diagnostic about a value points into the row that caused it. A map key is a
string at the key; a list index an int at the item. Loop variables shadow lets.

The iterable is a list or map literal, or a reference to a `let` (also `lib.name`) whose value is
one, possibly through field access (`inv.clusters`). One name iterates a list's items; two names
a map's keys and values (a list's indexes and items). A member's name is a string whose
interpolations must fold to plain text once substituted (`app "${name}-api"`).

Diagnostics: an iterable that is no list or map written in the program (E1021), loop variables
misnamed or miscounted (E1024), a row without a field the body reads (E1022), a generated name
that does not fold to text (E1023). Duplicate generated names are resolve's (E1020), which
registers the declarations.

Invariants: syntax trees are never changed; a generated declaration shares every node the
substitution leaves alone with the member it was made from; no row is read twice per reference.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass, field
from typing import NamedTuple

from gop.compiler.core.span import Span
from gop.compiler.diagnostics import Diagnostic, Related, codes, diagnostic
from gop.compiler.language import CONTEXT_NAMES
from gop.compiler.syntax import ast

# How many `let`s a reference may go through to reach a literal (a cycle is the checker's error).
_MAX_HOPS = 100


class Generated(NamedTuple):
    """Where a generated declaration comes from: its `for`, the member it was made from and the
    span of the row (the list item or map entry) that bound the loop variables."""

    comprehension: ast.ForDecl
    member: ast.ResourceDecl
    row: Span


@dataclass(slots=True)
class Expansion:
    decls: list[tuple[ast.ResourceDecl, Generated, str]] = field(default_factory=list)  # (decl, origin, file)
    diagnostics: list[Diagnostic] = field(default_factory=list)


@dataclass(frozen=True, slots=True)
class _Where:
    """The module and file a syntax node was written in (names in it are looked up there)."""

    module: str
    file: str


def expand(comprehensions: list[ast.ForDecl], decl_file: dict[int, str], module_of: dict[str, str],
           module_symbols: dict, file_imports: dict[str, dict[str, str]]) -> Expansion:
    expander = _Expander(decl_file, module_of, module_symbols, file_imports, Expansion())
    for decl in comprehensions:
        file = decl_file[id(decl)]
        expander.comprehension(decl, _Where(module_of[file], file))
    return expander.expansion


@dataclass(slots=True)
class _Expander:
    decl_file: dict[int, str]
    module_of: dict[str, str]
    module_symbols: dict
    file_imports: dict[str, dict[str, str]]
    expansion: Expansion

    def error(self, code: str, span: Span, message: str, **extra) -> None:
        self.expansion.diagnostics.append(diagnostic(code, span, message, **extra))

    def comprehension(self, decl: ast.ForDecl, where: _Where) -> None:
        if not self._names_ok(decl):
            return
        found = self._literal(decl.iterable, (), where, decl.iterable.span)
        if found is None:
            return
        iterable, rows_where = found
        rows = self._rows(decl, iterable)
        if rows is None:
            return
        for row_span, values in rows:
            binding = dict(zip((name.text for name in decl.names), values))
            for member in decl.decls:
                generated = self._member(member, binding, rows_where, where)
                if generated is not None:
                    self.expansion.decls.append((generated, Generated(decl, member, row_span), where.file))

    def _names_ok(self, decl: ast.ForDecl) -> bool:
        ok = True
        for index, name in enumerate(decl.names):
            if name.text in CONTEXT_NAMES:
                self.error(codes.INVALID_LOOP_VARIABLE, name.span, f"a loop variable cannot be named `{name.text}`",
                           notes=(f"`{name.text}` names the {name.text} a value is resolved for (`${{{name.text}.name}}`); "
                                  "choose another name",))
                ok = False
            elif any(other.text == name.text for other in decl.names[:index]):
                self.error(codes.INVALID_LOOP_VARIABLE, name.span, f"the loop variable `{name.text}` is named twice")
                ok = False
        return ok

    def _rows(self, decl: ast.ForDecl, iterable: ast.ListLit | ast.MapLit) -> list[tuple[Span, tuple]] | None:
        """(row span, the values of the loop variables) per row; None after an error."""
        two = len(decl.names) == 2
        if isinstance(iterable, ast.ListLit):
            if two:
                return [(item.span, (ast.IntLit(item.span, index), item)) for index, item in enumerate(iterable.items)]
            return [(item.span, (item,)) for item in iterable.items]
        if not two:
            self.error(codes.INVALID_LOOP_VARIABLE, decl.names[0].span, "iterating a map takes two names: its key and its value",
                       notes=(f"write `for {decl.names[0].text}, value in ...`",),
                       related=[Related(iterable.span, "the map iterated")])
            return None
        rows = []
        for stmt in iterable.body.stmts:
            key = _entry_key(stmt)
            if key is None:
                self.error(codes.INVALID_ITERABLE, stmt.span, "each entry of a map a `for` iterates is `key = value` or `key { ... }`",
                           related=[Related(decl.iterable.span, "iterated here")])
                return None
            rows.append((stmt.span, (ast.StringLit(key.span, (key.text,)), _entry_value(stmt))))
        return rows

    def _member(self, member: ast.ResourceDecl, binding: dict[str, ast.Expr], rows_where: _Where,
                where: _Where) -> ast.ResourceDecl | None:
        substitute = _Substitution(self, binding, rows_where, where)
        name_literal = substitute.node(member.name)
        name = self._folded_name(member.name, name_literal)
        selector = substitute.node(member.selector) if member.selector is not None else None
        body = substitute.node(member.body)
        if name is None or substitute.failed:
            return None
        return ast.ResourceDecl(member.span, member.kind, name, selector, body, member.doc, member.uses)

    def _folded_name(self, written: ast.StringLit, literal: ast.StringLit) -> ast.Name | None:
        """The generated name: the member's string with its interpolations substituted, as plain
        text. Its span is the row's node when one interpolation made it, else the written string."""
        pieces: list[str] = []
        for written_part, part in zip(written.parts, literal.parts):
            if isinstance(part, str):
                pieces.append(part)
                continue
            value = part.expr
            if isinstance(value, ast.StringLit) and value.is_plain:
                pieces.append(value.plain_value)
            elif isinstance(value, ast.IntLit):
                pieces.append(str(value.value))
            else:
                self.error(codes.GENERATED_NAME_NOT_TEXT, written_part.span,
                           "a generated name is made of text and the loop variables' rows (strings or ints)",
                           notes=("write the row's value as a string literal", ))
                return None
        whole = len(literal.parts) == 1 and not isinstance(literal.parts[0], str)  # `"${name}"`
        return ast.Name(literal.parts[0].expr.span if whole else written.span, "".join(pieces))

    # ---- following references to literals ----------------------------------------------------

    def _literal(self, expr: ast.Expr, fields: tuple[ast.Name, ...], where: _Where, use: Span):
        """The list or map literal `expr` denotes, following lets and the field names `fields`,
        with where it was written; None after an error at `use`."""
        node, node_where = self.follow(expr, fields, where, use, to_literal=True)
        if node is None:
            return None
        if not isinstance(node, (ast.ListLit, ast.MapLit)):
            self.error(codes.INVALID_ITERABLE, use, "a `for` iterates over a list or map written in the program",
                       notes=("write a list `[...]` or map `{ ... }` here, or name a `let` whose value is one",))
            return None
        return node, node_where

    def follow(self, expr: ast.Expr, fields: tuple[ast.Name, ...], where: _Where, use: Span, to_literal: bool = False):
        """The node `expr`'s field `fields` is (through lets, map literals and blocks), and its
        place; (None, None) after an error at `use`. A reference it ends on is followed only
        `to_literal` (else the checker resolves it, as written)."""
        node: ast.Node = expr
        for _ in range(_MAX_HOPS):
            if isinstance(node, ast.Ref) and (fields or to_literal):
                found = self._let(node, where)
                if found is None:
                    self.error(codes.INVALID_ITERABLE, node.span, f"`{node.dotted}` is not a `let` whose value is written in the program",
                               notes=("a `for` reads lists and maps as written: a literal, or a `let` whose value is one",))
                    return None, None
                node, where, rest = found
                fields = rest + fields
                continue
            if not fields:
                return node, where
            if not isinstance(node, ast.MapLit):
                self.error(codes.ROW_LACKS_FIELD, node.span, f"this has no field `{fields[0].text}`: it is not a map",
                           related=[Related(use, "read here")])
                return None, None
            entry = next((stmt for stmt in reversed(node.body.stmts) if _entry_key(stmt) is not None and _entry_key(stmt).text == fields[0].text), None)
            if entry is None:
                known = [_entry_key(stmt).text for stmt in node.body.stmts if _entry_key(stmt) is not None]
                self.error(codes.ROW_LACKS_FIELD, node.span, f"this map has no field `{fields[0].text}`",
                           notes=(f"its fields: {', '.join(known)}" if known else "it is empty",),
                           related=[Related(use, "read here")])
                return None, None
            node, fields = _entry_value(entry), fields[1:]
        self.error(codes.INVALID_ITERABLE, use, "this goes through too many `let`s")
        return None, None

    def _let(self, ref: ast.Ref, where: _Where):
        """(the value of the let `ref` names, where it was written, the field names after it)."""
        names = ref.names
        target = self.file_imports.get(where.file, {}).get(names[0].text)
        if target is not None and len(names) > 1:
            decl, rest = self.module_symbols.get(target, {}).get(names[1].text), names[2:]
        else:
            decl, rest = self.module_symbols.get(where.module, {}).get(names[0].text), names[1:]
        if not isinstance(decl, ast.LetDecl):
            return None
        file = self.decl_file[id(decl)]
        return decl.value, _Where(self.module_of[file], file), rest


class _Substitution:
    """One member's substitution of one row's binding."""

    def __init__(self, expander: _Expander, binding: dict[str, ast.Expr], rows_where: _Where, where: _Where) -> None:
        self.expander = expander
        self.binding = binding
        self.rows_where = rows_where  # where the rows were written
        self.where = where  # where the `for` was written
        self.failed = False

    def node(self, node):
        """`node` with every reference to a loop variable replaced (the same object when none is)."""
        if isinstance(node, ast.Ref) and node.names[0].text in self.binding:
            found, found_where = self.expander.follow(self.binding[node.names[0].text], node.names[1:], self.rows_where, node.span)
            if found is not None and found_where.module != self.where.module and any(isinstance(n, ast.Ref) for n in found.walk()):
                self.expander.error(codes.INVALID_ITERABLE, found.span, "this row refers to names of another module, "
                                    "which the declarations a `for` generates cannot see",
                                    notes=("write the value itself in the row",), related=[Related(node.span, "read here")])
                found = None
            if found is None:
                self.failed = True
                return node
            return found
        if not isinstance(node, ast.Node):
            return node
        changes = {}
        for f in dataclasses.fields(node):
            if f.name == "span":
                continue
            value = getattr(node, f.name)
            if isinstance(value, ast.Node):
                new = self.node(value)
            elif isinstance(value, tuple):
                new = tuple(self.node(item) for item in value)
                if all(a is b for a, b in zip(new, value)):
                    new = value
            else:
                continue
            if new is not value:
                changes[f.name] = new
        return dataclasses.replace(node, **changes) if changes else node


def _entry_key(stmt) -> ast.Key | None:
    """The key of a map literal's entry written `key = value` or `key { ... }`; None otherwise."""
    if isinstance(stmt, (ast.Assign, ast.Block)) and len(stmt.path.keys) == 1 and getattr(stmt, "annotation", None) is None:
        return stmt.path.keys[0]
    return None


def _entry_value(stmt: ast.Assign | ast.Block) -> ast.Expr:
    return stmt.value if isinstance(stmt, ast.Assign) else ast.MapLit(stmt.span, stmt.body)
