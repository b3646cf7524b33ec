"""Semantic tokens (full document) and the outline (document and workspace symbols).

Input: a buffer's text, its tree and its occurrences (the compiler's symbol table). Output: the
LSP's relative-encoded token array, `DocumentSymbol` trees, and
`SymbolInformation` for workspace-wide search.

Tokens come from two layers: the parser's lexer (`syntax.tokens`) gives comments, strings,
numbers and keywords; occurrences classify names (fields, schemas, types,
lets, labels, apps, modules), and win over the lexer where both speak (a field
named `delivery` is not the keyword). Strings are split around the names of
their `${...}` interpolations, and tokens that span lines are cut per line.

Invariants: tokens are sorted, never overlap, and never contain a newline.
"""

from __future__ import annotations

from lsprotocol import types as lsp

from gop.compiler.core.span import SourceFile
from gop.compiler.language import EXPRESSION_KEYWORDS, HEADER_KEYWORDS, SECRET_FUNCTIONS, TOP_LEVEL_KEYWORDS
from gop.compiler.semantic.symbols import Occurrence
from gop.compiler.syntax import ast
from gop.compiler.syntax.tokens import tokens

from .convert import range_of, utf16_length

TOKEN_TYPES = ["namespace", "type", "struct", "property", "variable", "function", "keyword", "string", "number",
               "comment", "class", "enumMember"]
TOKEN_MODIFIERS = ["declaration", "documentation", "defaultLibrary", "readonly"]
LEGEND = lsp.SemanticTokensLegend(token_types=TOKEN_TYPES, token_modifiers=TOKEN_MODIFIERS)
KEYWORDS = TOP_LEVEL_KEYWORDS | EXPRESSION_KEYWORDS | HEADER_KEYWORDS
_SYMBOL_TYPES = {
    "field": "property", "label": "property", "schema": "struct", "type": "type", "builtin": "type",
    "let": "variable", "module": "namespace", "app": "class", "template": "class", "loop": "variable",
}


def _modifiers(*names: str) -> int:
    return sum(1 << TOKEN_MODIFIERS.index(n) for n in names)


def semantic_tokens(text: str, source: SourceFile, occurrences: list[Occurrence]) -> list[int]:
    named = {(o.span.start, o.span.end): o for o in occurrences}
    spans: list[tuple[int, int, str, int]] = []
    lexed = tokens(text)
    for index, token in enumerate(lexed):
        if token.kind == "comment":
            spans.append((token.start, token.end, "comment", _modifiers("documentation") if token.text.startswith("///") else 0))
        elif token.kind in ("string", "triple"):
            spans.extend(_string_pieces(token.start, token.end, occurrences))
        elif token.kind == "number":
            spans.append((token.start, token.end, "number", 0))
        elif token.kind == "name" and (token.start, token.end) not in named:
            following = lexed[index + 1] if index + 1 < len(lexed) else None
            if token.text in SECRET_FUNCTIONS and following is not None and following.text == "(":
                spans.append((token.start, token.end, "function", _modifiers("defaultLibrary")))
            elif token.text in KEYWORDS:
                spans.append((token.start, token.end, "keyword", 0))
    for occurrence in occurrences:
        symbol = occurrence.symbols[0]
        kind = _SYMBOL_TYPES.get(symbol.kind, "variable")
        modifiers = []
        if occurrence.definition:
            modifiers.append("declaration")
        if symbol.is_std:
            modifiers.append("defaultLibrary")
        if symbol.kind == "let":
            modifiers.append("readonly")
        spans.append((occurrence.span.start, occurrence.span.end, kind, _modifiers(*modifiers)))
    return _encode(text, source, spans)


def _string_pieces(start: int, end: int, occurrences: list[Occurrence]):
    cursor = start
    for occurrence in occurrences:
        if start <= occurrence.span.start and occurrence.span.end <= end:
            if occurrence.span.start > cursor:
                yield (cursor, occurrence.span.start, "string", 0)
            cursor = occurrence.span.end
    if cursor < end:
        yield (cursor, end, "string", 0)


def _encode(text: str, source: SourceFile, spans) -> list[int]:
    data: list[int] = []
    previous_line = previous_start = 0
    last_end = -1
    for start, end, kind, modifiers in sorted(spans):
        if start < last_end or end <= start:
            continue
        last_end = end
        for piece_start, piece_end in _lines(text, start, end):
            where = source.utf16_position(piece_start)
            length = utf16_length(text[piece_start:piece_end])
            if length == 0:
                continue
            delta_line = where.line - previous_line
            delta_start = where.column - previous_start if delta_line == 0 else where.column
            data.extend((delta_line, delta_start, length, TOKEN_TYPES.index(kind), modifiers))
            previous_line, previous_start = where.line, where.column
    return data


def _lines(text: str, start: int, end: int):
    while start < end:
        newline = text.find("\n", start, end)
        if newline == -1:
            yield start, end
            return
        piece_end = newline - 1 if newline > start and text[newline - 1] == "\r" else newline
        yield start, piece_end
        start = newline + 1


# ---- outline ------------------------------------------------------------------------------------------

_DECL_KINDS = {
    "app": lsp.SymbolKind.Class, "env": lsp.SymbolKind.Namespace, "overlay": lsp.SymbolKind.Namespace,
    "cluster": lsp.SymbolKind.Object,
}


def document_symbols(tree: ast.File, source: SourceFile) -> list[lsp.DocumentSymbol]:
    out = []
    for decl in tree.decls:
        symbol = _decl_symbol(decl, source)
        if symbol is not None:
            out.append(symbol)
    return out


def _symbol(name: str, kind: lsp.SymbolKind, node, name_span, source: SourceFile, detail: str | None = None,
            children=None) -> lsp.DocumentSymbol:
    selection = name_span if name_span is not None else node.span
    return lsp.DocumentSymbol(
        name=name or "?", kind=kind, detail=detail,
        range=range_of(source, node.span.start, node.span.end),
        selection_range=range_of(source, selection.start, selection.end),
        children=children or None,
    )


def _decl_symbol(decl, source: SourceFile) -> lsp.DocumentSymbol | None:
    if isinstance(decl, ast.TypeDecl):
        return _symbol(decl.name.text, lsp.SymbolKind.TypeParameter, decl, decl.name.span, source, "type")
    if isinstance(decl, ast.SchemaDecl):
        return _symbol(decl.name.text, lsp.SymbolKind.Struct, decl, decl.name.span, source, "schema",
                       [_symbol(f.name.text, lsp.SymbolKind.Field, f, f.name.span, source) for f in decl.fields])
    if isinstance(decl, ast.LabelsDecl):
        return _symbol("labels", lsp.SymbolKind.Struct, decl, None, source, "labels",
                       [_symbol(f.name.text, lsp.SymbolKind.Field, f, f.name.span, source) for f in decl.fields])
    if isinstance(decl, ast.LetDecl):
        return _symbol(decl.name.text, lsp.SymbolKind.Constant, decl, decl.name.span, source, "let")
    if isinstance(decl, ast.ResourceDecl):
        name = decl.name.text if isinstance(decl.name, ast.Name) else _written(decl.name, source) if decl.name else decl.kind
        return _symbol(name, _DECL_KINDS.get(decl.kind, lsp.SymbolKind.Object), decl, decl.name.span if decl.name else None,
                       source, decl.kind, _body_symbols(decl.body, source))
    if isinstance(decl, ast.TemplateDecl):
        return _symbol(decl.name.text, lsp.SymbolKind.Interface, decl, decl.name.span, source, f"template for {decl.kind}",
                       _body_symbols(decl.body, source))
    if isinstance(decl, ast.DefaultsDecl):
        return _symbol(f"defaults for {decl.kind}", lsp.SymbolKind.Namespace, decl, None, source, "defaults",
                       _body_symbols(decl.body, source))
    if isinstance(decl, ast.NarrowDecl):
        return _symbol(f"narrow {decl.target.dotted}", lsp.SymbolKind.Struct, decl, decl.target.span, source, "narrow",
                       [_symbol(f.name.text, lsp.SymbolKind.Field, f, f.name.span, source) for f in decl.fields])
    if isinstance(decl, ast.ForDecl):
        names = ", ".join(n.text for n in decl.names)
        return _symbol(f"for {names} in {_written(decl.iterable, source)}", lsp.SymbolKind.Array, decl, None, source, "for",
                       [member for member in (_decl_symbol(d, source) for d in decl.decls) if member is not None])
    return None


def _written(node, source: SourceFile, limit: int = 40) -> str:
    """A node's text as written, on one line and cut at `limit` (a `for` member's name string, a `for`'s iterable)."""
    text = " ".join(source.text[node.span.start:node.span.end].split())
    return text if len(text) <= limit else text[:limit - 1] + "…"


def _body_symbols(body: ast.Body, source: SourceFile) -> list[lsp.DocumentSymbol]:
    out = []
    for stmt in body.stmts:
        if isinstance(stmt, ast.Assign):
            out.append(_symbol(stmt.path.dotted, lsp.SymbolKind.Property, stmt, stmt.path.span, source))
        elif isinstance(stmt, ast.Block):
            out.append(_symbol(stmt.path.dotted, lsp.SymbolKind.Object, stmt, stmt.path.span, source,
                               stmt.annotation.dotted if stmt.annotation else None, _body_symbols(stmt.body, source)))
        elif isinstance(stmt, ast.AppTarget):
            out.append(_symbol(f"{stmt.kind} {stmt.name.text}", lsp.SymbolKind.Class, stmt, stmt.name.span, source, None,
                               _body_symbols(stmt.body, source)))
        elif isinstance(stmt, ast.AllTarget):
            out.append(_symbol("all", lsp.SymbolKind.Namespace, stmt, None, source, None, _body_symbols(stmt.body, source)))
    return out


_DEFINITION_KINDS = {"type": lsp.SymbolKind.TypeParameter, "schema": lsp.SymbolKind.Struct, "let": lsp.SymbolKind.Constant,
                     "field": lsp.SymbolKind.Field, "label": lsp.SymbolKind.Field}


def declarations(occurrences: list[Occurrence]):
    """(name, kind word, symbol kind, name span, container) of a file's declarations, for workspace search."""
    for occurrence in occurrences:
        if occurrence.definition:
            symbol = occurrence.symbols[0]
            kind = _DEFINITION_KINDS.get(symbol.kind) or _DECL_KINDS.get(symbol.kind, lsp.SymbolKind.Object)
            container = symbol.name if symbol.kind == "field" else "labels" if symbol.kind == "label" else None
            yield symbol.short_name, symbol.kind, kind, occurrence.span, container


def matches_query(query: str, name: str) -> bool:
    """Case-insensitive subsequence match, as editors filter symbol lists."""
    remaining = iter(name.lower())
    return all(ch in remaining for ch in query.lower())
