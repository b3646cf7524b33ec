"""The canonical formatter: a .gop file's text -> the same program in canonical layout.

Input: a file's path and text (`format_source`), or a tree that parsed without errors
plus its text (`format_ast`). Output: the formatted text; `format_source` returns None
instead when the file has syntax errors (a file that does not parse cleanly is never
touched), together with the parse diagnostics.

Invariants:
- meaning is preserved: parsing the output gives a tree equal to the input's (spans,
  doc strings and comments aside), so declarations are never reordered;
- every comment is kept, in the same order, with trailing spaces removed;
- formatting is idempotent: formatting the output again changes nothing;
- no exception escapes `format_source` for any text.

Layout rules:
- 2-space indentation; one statement, field or declaration per line; `{` ends the header line.
- A `{ }` body stays on one line (`{ a = 1, b = 2 }`) only if it was on one line in the
  source, holds no other non-empty `{ }`, and fits in 100 columns; otherwise it is expanded
  with one statement per line. Empty bodies print as `{}`.
- Top level: one blank line between declarations, except that consecutive imports keep
  the user's choice (none or one). In bodies, one blank line is kept where the user had one
  or more between statements or comments; none after `{` or before `}`.
- Lists, call arguments and refinements (`[...]`, `f(...)`, `string(...)`) stay on one line
  when they fit in 100 columns and hold no comment; otherwise one item per line, with a
  trailing comma.
- Spaces around `=`, `|`, `==`, `!=` and binary operators; `name: Type = default` in schemas;
  `, ` between items; no space inside `[]`, `()` or around `.` and `..`.
- Parentheses are printed where precedence needs them, and nowhere else.
- Strings, numbers and units are printed as written. A triple-quoted string whose first
  line is empty is re-indented by shifting all its lines by the same amount (which keeps
  its dedented value): its least-indented line goes 2 columns right of the line it starts on.
- Comments: an own-line comment stays on its own line before what follows it; a comment at
  the end of a line stays at the end of the line that holds what precedes it. A comment inside
  an expression that is not in brackets in the output gets parentheses around the whole
  value, so that the line break after the comment stays legal.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Callable, Sequence, Union

from gop.compiler.syntax import ast
from gop.compiler.diagnostics import Diagnostic, diagnostic, has_errors
from gop.compiler.syntax.parser import parse
from gop.compiler.syntax.scanner import STRING_OR_COMMENT
from gop.compiler.core.span import Span
from gop.compiler.diagnostics import codes

WIDTH = 100
INDENT = 2


@dataclass(frozen=True, slots=True)
class FormatResult:
    text: str | None  # None when the file has syntax errors
    diagnostics: tuple[Diagnostic, ...]


def format_source(path: str, text: str) -> FormatResult:
    """Format one file; a file with syntax errors is left alone (text is None)."""
    try:
        parsed = parse(path, text)
        if has_errors(parsed.diagnostics):
            return FormatResult(None, parsed.diagnostics)
        return FormatResult(format_ast(parsed.file, text), parsed.diagnostics)
    except RecursionError:
        # The parser and this module recurse once per nesting level.
        too_deep = diagnostic(codes.UNEXPECTED_TOKEN, Span(path, 0, 0), "this file is nested too deeply to format")
        return FormatResult(None, (too_deep,))
    except Exception as error:  # a bug must not cost the user a traceback or the file
        message = f"internal error while formatting this file: {type(error).__name__}: {error}"
        return FormatResult(None, (diagnostic(codes.INTERNAL_ERROR, Span(path, 0, 0), message),))


def format_ast(file: ast.File, text: str) -> str:
    """Format a tree that parsed without errors; `text` is the source it was parsed from."""
    return _render(_Builder(file, text).file(file))


# ---- documents: what to print, with the places where lines may break ---------------------


class _Line:
    """A place where the printer may break the line: SOFT prints nothing, LINE one space
    when their group fits on one line; HARD always breaks."""

    def __init__(self, flat: str, hard: bool) -> None:
        self.flat = flat
        self.hard = hard


SOFT = _Line("", hard=False)
LINE = _Line(" ", hard=False)
HARD = _Line("", hard=True)


class _BreakParent:
    """Forces every enclosing group to break (a comment that must end its line is inside)."""


BREAK_PARENT = _BreakParent()


@dataclass(frozen=True, slots=True)
class _Indent:
    contents: "Doc"


@dataclass(frozen=True, slots=True)
class _Group:
    """Contents printed on one line if they fit (and `breakable`), else with broken lines."""

    contents: "Doc"
    breakable: bool
    forced: bool  # holds a HARD line or BREAK_PARENT: can never be flat


@dataclass(frozen=True, slots=True)
class _IfBreak:
    broken: str
    flat: str


@dataclass(frozen=True, slots=True)
class _LineSuffix:
    """A comment printed at the end of the current line, just before the next line break."""

    text: str


@dataclass(frozen=True, slots=True)
class _Triple:
    """A triple-quoted string spanning lines, re-indented where it is printed."""

    raw: str


Doc = Union[str, list, _Line, _BreakParent, _Indent, _Group, _IfBreak, _LineSuffix, _Triple]


def _group(contents: Doc, breakable: bool = True) -> _Group:
    return _Group(contents, breakable, _forces_break(contents))


def _forces_break(doc: Doc) -> bool:
    stack = [doc]
    while stack:
        item = stack.pop()
        if isinstance(item, list):
            stack.extend(item)
        elif isinstance(item, _Indent):
            stack.append(item.contents)
        elif isinstance(item, _Group):
            if item.forced:
                return True
        elif item is BREAK_PARENT or (isinstance(item, _Line) and item.hard):
            return True
    return False


# ---- the printer -----------------------------------------------------------------------------

_FLAT, _BREAK = "flat", "break"


class _Printer:
    """Wadler/Prettier-style printer: a group is flat if it fits in the rest of the line."""

    def __init__(self) -> None:
        self.out: list[str] = []
        self.column = 0
        self.line_indent = 0  # indentation of the current output line
        self.line_empty = True  # nothing printed on the current line yet
        self.suffixes: list[str] = []

    def run(self, doc: Doc) -> str:
        commands: list[tuple[int, str, Doc]] = [(0, _BREAK, doc)]
        while commands:
            indent, mode, item = commands.pop()
            if isinstance(item, str):
                self.text(item)
            elif isinstance(item, list):
                commands.extend((indent, mode, child) for child in reversed(item))
            elif isinstance(item, _Line):
                if mode == _FLAT and not item.hard:
                    self.text(item.flat)
                else:
                    self.newline(indent)
            elif isinstance(item, _Indent):
                commands.append((indent + INDENT, mode, item.contents))
            elif isinstance(item, _Group):
                commands.append((indent, self._group_mode(item, indent, mode, commands), item.contents))
            elif isinstance(item, _IfBreak):
                self.text(item.broken if mode == _BREAK else item.flat)
            elif isinstance(item, _LineSuffix):
                self.suffixes.append(item.text)
            elif isinstance(item, _Triple):
                self.triple(item.raw)
        self.flush_suffixes()
        return "".join(self.out)

    def _group_mode(self, group: _Group, indent: int, mode: str, rest) -> str:
        if group.forced:
            return _BREAK
        if mode == _FLAT or not group.breakable:
            return _FLAT
        return _FLAT if _fits((indent, _FLAT, group.contents), rest, WIDTH - self.column) else _BREAK

    def text(self, text: str) -> None:
        if not text:
            return
        if self.line_empty:
            self.out.append(" " * self.line_indent)
            self.line_empty = False
        self.out.append(text)
        self.column += len(text)

    def newline(self, indent: int) -> None:
        self.flush_suffixes()
        self.trim_spaces()
        self.out.append("\n")
        self.column = self.line_indent = indent
        self.line_empty = True

    def flush_suffixes(self) -> None:
        for suffix in self.suffixes:
            if not self.line_empty:
                self.trim_spaces()
                suffix = " " + suffix
            self.text(suffix)
        self.suffixes.clear()

    def trim_spaces(self) -> None:
        """Drop the spaces a flat LINE, an operator or an indentation left at the line's end."""
        while self.out:
            stripped = self.out[-1].rstrip(" ")
            if stripped:
                self.out[-1] = stripped
                return
            self.out.pop()

    def triple(self, raw: str) -> None:
        lines = _reindent_triple(raw, self.line_indent + INDENT).split("\n")
        self.text(lines[0])
        for line in lines[1:]:
            self.out.append("\n" + line)
        last = lines[-1]
        self.column = len(last)
        self.line_indent = len(last) - len(last.lstrip(" \t"))


def _fits(first, rest, width: int) -> bool:
    """Whether `first` in flat mode, and what follows up to the next line break, fit in `width`."""
    stack = [first]
    next_rest = len(rest)
    while width >= 0:
        if not stack:
            if next_rest == 0:
                return True
            next_rest -= 1
            stack.append(rest[next_rest])
            continue
        indent, mode, item = stack.pop()
        if isinstance(item, str):
            width -= len(item)
        elif isinstance(item, list):
            stack.extend((indent, mode, child) for child in reversed(item))
        elif isinstance(item, _Line):
            if mode == _BREAK or item.hard:
                return True
            width -= len(item.flat)
        elif isinstance(item, _Indent):
            stack.append((indent, mode, item.contents))
        elif isinstance(item, _Group):
            stack.append((indent, _BREAK if item.forced else mode, item.contents))
        elif isinstance(item, _IfBreak):
            width -= len(item.broken if mode == _BREAK else item.flat)
        elif isinstance(item, _Triple):
            first_line, newline, _ = item.raw.partition("\n")
            width -= len(first_line)
            if newline:
                return width >= 0
    return False


def _render(doc: Doc) -> str:
    text = _Printer().run(doc)
    return text + "\n" if text else ""


def _reindent_triple(raw: str, target: int) -> str:
    """Shift a triple-quoted string's lines so its least-indented line starts at `target`.

    Mirrors the parser's dedent: the (blank) first line and a blank last line are dropped
    from the value, and the indentation common to the non-blank lines is removed, so a
    uniform shift keeps the value. Blank lines in between carry nothing and print empty.
    A string whose first line holds text is printed as written.
    """
    lines = raw.split("\n")
    content, closing = lines[1:-1], lines[-1]
    if lines[0][3:].strip():
        return raw
    closing_space = closing[: len(closing) - len(closing.lstrip(" \t"))]
    closing_is_blank = closing[len(closing_space) :] == '"""'
    body = content if closing_is_blank else content + [closing]
    indents = [len(line) - len(line.lstrip(" \t")) for line in body if line.strip()]
    if not indents:
        shifted = ["" for _ in content]
        return "\n".join(['"""', *shifted, " " * target + '"""']) if closing_is_blank else raw
    delta = target - min(indents)
    shifted = [_shift(line, delta) if line.strip() else "" for line in content]
    if closing_is_blank:
        last = " " * max(0, len(closing_space) + delta) + '"""'
    else:
        last = _shift(closing, delta)
    return "\n".join(['"""', *shifted, last])


def _shift(line: str, delta: int) -> str:
    return " " * delta + line if delta >= 0 else line[-delta:]


# ---- the tree -> document builder -----------------------------------------------------------------

# Binding strength of binary operators and selector connectives (higher binds tighter).
_OPERATOR_LEVEL = {"+": 1, "-": 1, "*": 2, "/": 2, "%": 2}
_SELECTOR_LEVEL = {ast.SelOr: 1, ast.SelAnd: 2, ast.SelNot: 3}


class _Builder:
    """Builds the document of one file, placing every comment on the way.

    Comments are handed out in source order by one cursor. Containers (the file, `{ }`
    bodies, lists, call arguments, refinements) place the comments between their items
    as own-line or end-of-line comments. A comment anywhere else ("in a gap") is printed at
    the end of the line followed by a line break, which is legal only inside brackets; a
    value with such a comment outside brackets is printed in parentheses (`value`).
    Docs are built in the order they print, so the cursor hands each comment to the
    construct it is in.
    """

    def __init__(self, file: ast.File, text: str) -> None:
        self.text = text
        self.comments = sorted(file.comments, key=lambda c: c.span.start)
        self.cursor = 0
        self.depth = 0  # brackets open around the current position in the output
        self.stray = False  # a gap comment was met outside brackets

    # -- comments --

    def take_before(self, offset: int) -> list[ast.Comment]:
        taken = []
        while self.cursor < len(self.comments) and self.comments[self.cursor].span.start < offset:
            taken.append(self.comments[self.cursor])
            self.cursor += 1
        return taken

    def take_trailing(self, after: int, limit: int) -> list[ast.Comment]:
        """The next comment, if it starts before `limit` on the line where offset `after` is.

        At most one: a second comment would have to go on the same line. A comment left
        inside the node that ends at `after` counts as on its line; if a true end-of-line
        comment follows it, that one goes on its own line.
        """
        if self.cursor == len(self.comments):
            return []
        comment = self.comments[self.cursor]
        if comment.span.start >= limit or "\n" in self.text[after : comment.span.start]:
            return []
        self.cursor += 1
        return [comment]

    def gap(self, offset: int, closing: bool = False) -> list:
        """Comments before `offset` not placed by a container: each ends its line.

        `closing`: a line break follows anyway (before a closing bracket), so the last
        comment only forces it.
        """
        docs: list = []
        for comment in self.take_before(offset):
            if self.depth == 0:
                self.stray = True
            docs += [_LineSuffix(_comment_text(comment)), HARD]
        if closing and docs:
            docs[-1] = BREAK_PARENT
        return docs

    def blank_between(self, start: int, end: int) -> bool:
        return self.text.count("\n", start, end) >= 2

    # -- finding punctuation in the text: spans do not always cover closing punctuation --

    def find(self, char: str, start: int) -> int:
        """The offset of the next `char` at or after `start`, skipping strings and comments."""
        i = start
        while i < len(self.text):
            skipped = STRING_OR_COMMENT.match(self.text, i)
            if skipped:
                i = skipped.end()
            elif self.text[i] == char:
                return i
            else:
                i += 1
        return len(self.text)

    def closing(self, open_at: int) -> int:
        """The offset of the bracket that closes the one at `open_at`."""
        depth = 0
        i = open_at
        while i < len(self.text):
            skipped = STRING_OR_COMMENT.match(self.text, i)
            if skipped:
                i = skipped.end()
                continue
            if self.text[i] in "([{":
                depth += 1
            elif self.text[i] in ")]}":
                depth -= 1
                if depth == 0:
                    return i
            i += 1
        return len(self.text)

    def value_end(self, start: int) -> int:
        """Where a value or type that starts at `start` ends: at the first newline, `,`, `=`,
        unmatched `}` or comment outside brackets (a closing bracket the value's span left
        out belongs to the value)."""
        depth = 0
        i = start
        while i < len(self.text):
            char = self.text[i]
            if depth == 0 and self.text.startswith("//", i):
                return i
            skipped = STRING_OR_COMMENT.match(self.text, i)
            if skipped:
                i = skipped.end()
                continue
            if char in "([{":
                depth += 1
            elif char in ")]}":
                if depth == 0 and char == "}":
                    return i
                depth = max(depth - 1, 0)
            elif depth == 0 and char in "\n,=":
                return i
            i += 1
        return len(self.text)

    def end_of(self, item: ast.Node) -> int:
        """Where a declaration, field or statement ends, closing punctuation included."""
        if isinstance(item, (ast.SchemaDecl, ast.LabelsDecl, ast.NarrowDecl)):
            return self.closing(self.fields_open(item)) + 1
        if isinstance(item, (ast.ResourceDecl, ast.Block, ast.AppTarget, ast.AllTarget, ast.TemplateDecl, ast.DefaultsDecl)):
            return self.closing(item.body.span.start) + 1
        if isinstance(item, ast.ForDecl):
            return self.closing(self.members_open(item)) + 1
        if isinstance(item, ast.TypeDecl):
            return self.value_end(self.after("=", item.name))
        if isinstance(item, ast.Assign):
            return self.value_end(self.after("=", item.path))
        if isinstance(item, (ast.LetDecl, ast.FieldDecl)):
            return self.typed_regions(item)[-1]
        return item.span.end

    def after(self, char: str, node: ast.Node) -> int:
        """The offset just after the next `char` following `node`, where a value starts."""
        return self.find(char, node.span.end) + 1

    def typed_regions(self, item: ast.LetDecl | ast.FieldDecl) -> list[int]:
        """Where the type (if any) and the value (if any) of a let or field end."""
        ends = []
        start = self.after(":", item.name) if item.type is not None else self.after("=", item.name)
        if item.type is not None:
            ends.append(self.value_end(start))
            start = ends[-1] + 1
        value = item.value if isinstance(item, ast.LetDecl) else item.default
        if value is not None:
            ends.append(self.value_end(start))
        return ends

    def fields_open(self, decl: ast.SchemaDecl | ast.LabelsDecl | ast.NarrowDecl) -> int:
        if isinstance(decl, ast.NarrowDecl):
            after = decl.target.span.end
        else:
            after = decl.name.span.end if isinstance(decl, ast.SchemaDecl) else decl.span.start + len("labels")
        return self.find("{", after)

    def members_open(self, decl: ast.ForDecl) -> int:
        """The `{` that opens a `for`'s declarations (after its iterable, which may be a map)."""
        return self.find("{", decl.iterable.span.end)

    def raw(self, node: ast.Node) -> str:
        return self.text[node.span.start : node.span.end]

    # -- the file --

    def file(self, file: ast.File) -> Doc:
        docs: list = []
        previous_end: int | None = None
        previous_decl: ast.Decl | None = None
        for index, decl in enumerate(file.decls):
            for comment in self.take_before(decl.span.start):
                docs += self.top_separator(previous_end, comment.span.start, previous_decl, decl)
                docs.append(_comment_text(comment))
                previous_end, previous_decl = comment.span.end, None
            docs += self.top_separator(previous_end, decl.span.start, previous_decl, decl)
            docs.append(self.decl(decl))
            following = file.decls[index + 1].span.start if index + 1 < len(file.decls) else len(self.text)
            previous_end = self.end_of(decl)
            for comment in self.take_trailing(previous_end, following):
                docs.append(_LineSuffix(_comment_text(comment)))
                previous_end = comment.span.end
            previous_decl = decl
        for comment in self.take_before(len(self.text) + 1):
            docs += self.top_separator(previous_end, comment.span.start, previous_decl, None)
            docs.append(_comment_text(comment))
            previous_end, previous_decl = comment.span.end, None
        return docs

    def top_separator(self, previous_end, start, previous_decl, next_decl) -> list:
        """Line breaks before a top-level unit: one blank line after a declaration."""
        if previous_end is None:
            return []
        blank = self.blank_between(previous_end, start)
        if previous_decl is not None and next_decl is not None:
            both_imports = isinstance(previous_decl, ast.ImportDecl) and isinstance(next_decl, ast.ImportDecl)
            blank = blank or not both_imports
        return [HARD, HARD] if blank else [HARD]

    def decl(self, decl: ast.Decl) -> Doc:
        if isinstance(decl, ast.PackageDecl):
            return ["package ", self.name(decl.name)]
        if isinstance(decl, ast.ImportDecl):
            alias = [" as ", self.name(decl.alias)] if decl.alias else []
            return ["import ", self.expr(decl.path), *alias]
        if isinstance(decl, ast.TypeDecl):
            return ["type ", self.name(decl.name), " = ", self.value(decl.type, self.type, self.end_of(decl))]
        if isinstance(decl, ast.SchemaDecl):
            return ["schema ", self.name(decl.name), " ", self.fields(decl)]
        if isinstance(decl, ast.LabelsDecl):
            return ["labels ", self.fields(decl)]
        if isinstance(decl, ast.LetDecl):
            return self.let(decl)
        if isinstance(decl, ast.ResourceDecl):
            return self.resource(decl)
        if isinstance(decl, ast.TemplateDecl):
            return ["template ", self.name(decl.name), " for ", decl.kind, *self.uses(decl.uses), " ", self.body(decl.body)]
        if isinstance(decl, ast.DefaultsDecl):
            return ["defaults for ", decl.kind, " ", self.body(decl.body)]
        if isinstance(decl, ast.NarrowDecl):
            return ["narrow ", self.dotted(decl.target.names), " ", self.fields(decl)]
        if isinstance(decl, ast.ForDecl):
            return self.comprehension(decl)
        raise ValueError(f"cannot format {type(decl).__name__}: the file has syntax errors")

    def let(self, decl: ast.LetDecl) -> Doc:
        docs: list = ["let ", self.name(decl.name)]
        ends = self.typed_regions(decl)
        if decl.type is not None:
            docs += [": ", self.value(decl.type, self.type, ends[0])]
        return docs + [" = ", self.value(decl.value, self.expr, ends[-1])]

    def resource(self, decl: ast.ResourceDecl) -> Doc:
        docs: list = [decl.kind]
        if isinstance(decl.name, ast.StringLit):
            docs += [" ", self.expr(decl.name)]
        elif decl.name is not None:
            docs += [" ", self.name(decl.name)]
        docs += self.uses(decl.uses)
        if decl.selector is not None:
            docs += [" where ", self.value(decl.selector, self.selector, decl.body.span.start)]
        return docs + [" ", self.body(decl.body)]

    def uses(self, names: tuple[ast.Name, ...]) -> Doc:
        return [" uses ", *_join(", ", [self.name(name) for name in names])] if names else []

    def comprehension(self, decl: ast.ForDecl) -> Doc:
        open_at = self.members_open(decl)
        header: list = ["for ", *_join(", ", [self.name(name) for name in decl.names]), " in ",
                        self.value(decl.iterable, self.expr, open_at)]
        saved_depth, self.depth = self.depth, 0
        try:
            members = self.expanded_block(decl.decls, open_at, self.closing(open_at), self.resource)
        finally:
            self.depth = saved_depth
        return [*header, " ", members]

    def value(self, node: ast.Node, build: Callable[[ast.Node], Doc], region_end: int) -> Doc:
        """A value, type or selector that starts outside brackets and ends at `region_end`.

        If a comment falls inside it, it is printed in parentheses so that the line break
        after the comment is legal.
        """
        saved = (self.depth, self.stray)
        mark = self.cursor
        self.depth, self.stray = 0, False
        doc: Doc = [build(node), self.gap(region_end, closing=True)]
        if self.stray:
            self.cursor = mark
            doc = self.parens(lambda: [build(node), self.gap(region_end, closing=True)])
        self.depth, self.stray = saved
        return doc

    def parens(self, build: Callable[[], Doc]) -> Doc:
        self.depth += 1
        inner = build()
        self.depth -= 1
        return _group(["(", _Indent([SOFT, inner]), SOFT, ")"], breakable=False)

    # -- bodies: statements and fields between braces --

    def body(self, body: ast.Body) -> Doc:
        open_at = body.span.start
        return [*self.gap(open_at), self.block(body.stmts, open_at, self.closing(open_at), self.stmt)]

    def fields(self, decl: ast.SchemaDecl | ast.LabelsDecl) -> Doc:
        open_at = self.fields_open(decl)
        return self.block(decl.fields, open_at, self.closing(open_at), self.field)

    def block(self, items: Sequence[ast.Node], open_at: int, close_at: int, item_doc) -> Doc:
        saved_depth, self.depth = self.depth, 0
        try:
            if self.keeps_one_line(items, open_at, close_at):
                separator = [_IfBreak("", ","), LINE]
                inner = _join(separator, [item_doc(item) for item in items])
                return _group(["{", _Indent([LINE, inner]), LINE, "}"])
            return self.expanded_block(items, open_at, close_at, item_doc)
        finally:
            self.depth = saved_depth

    def keeps_one_line(self, items: Sequence[ast.Node], open_at: int, close_at: int) -> bool:
        if not items or "\n" in self.text[open_at:close_at]:
            return False
        return not any(
            isinstance(node, ast.Body) and node.stmts for item in items for node in item.walk()
        )

    def expanded_block(self, items: Sequence[ast.Node], open_at: int, close_at: int, item_doc) -> Doc:
        first_start = items[0].span.start if items else close_at
        docs: list = ["{"]
        docs += [_LineSuffix(_comment_text(c)) for c in self.take_trailing(open_at + 1, first_start)]
        inner: list = []
        previous_end: int | None = None

        def separator(start: int) -> list:
            blank = previous_end is not None and self.blank_between(previous_end, start)
            return [HARD, HARD] if blank else [HARD]

        for index, item in enumerate(items):
            for comment in self.take_before(item.span.start):
                inner += [*separator(comment.span.start), _comment_text(comment)]
                previous_end = comment.span.end
            inner += [*separator(item.span.start), item_doc(item)]
            following = items[index + 1].span.start if index + 1 < len(items) else close_at
            previous_end = self.end_of(item)
            for comment in self.take_trailing(previous_end, following):
                inner.append(_LineSuffix(_comment_text(comment)))
                previous_end = comment.span.end
        for comment in self.take_before(close_at):
            inner += [*separator(comment.span.start), _comment_text(comment)]
            previous_end = comment.span.end
        if not inner and len(docs) == 1:
            return "{}"
        return docs + [_Indent(inner), HARD, "}"]

    def stmt(self, stmt: ast.Stmt) -> Doc:
        if isinstance(stmt, ast.Assign):
            return [self.path(stmt.path), " = ", self.value(stmt.value, self.expr, self.end_of(stmt))]
        if isinstance(stmt, ast.Block):
            annotation = [": ", self.dotted(stmt.annotation.names)] if stmt.annotation else []
            return [self.path(stmt.path), *annotation, " ", self.body(stmt.body)]
        if isinstance(stmt, ast.AppTarget):
            return [stmt.kind, " ", self.name(stmt.name), " ", self.body(stmt.body)]
        if isinstance(stmt, ast.AllTarget):
            return ["all ", self.body(stmt.body)]
        raise ValueError(f"cannot format {type(stmt).__name__}")

    def field(self, field: ast.FieldDecl) -> Doc:
        docs: list = [self.name(field.name), "?" if field.optional else "", ": "]
        ends = self.typed_regions(field)
        docs.append(self.value(field.type, self.type, ends[0]))
        if field.default is None:
            return docs
        return docs + [" = ", self.value(field.default, self.expr, ends[1])]

    def path(self, path: ast.Path) -> Doc:
        return ".".join(self.raw(key) if key.quoted else key.text for key in path.keys)

    def name(self, name: ast.Name) -> Doc:
        return [*self.gap(name.span.start), name.text]

    def dotted(self, names: tuple[ast.Name, ...]) -> Doc:
        return _join(".", [self.name(name) for name in names])

    # -- bracketed sequences: lists, call arguments, refinements --

    def sequence(self, items: Sequence[ast.Node], open_at: int, close_at: int, item_doc) -> Doc:
        """`[a, b]` on one line if it fits and holds no comment, else one item per line."""
        opener, closer = self.text[open_at], self.text[close_at]
        self.depth += 1
        first_start = items[0].span.start if items else close_at
        header = [
            doc
            for comment in self.take_trailing(open_at + 1, first_start)
            for doc in (_LineSuffix(_comment_text(comment)), BREAK_PARENT)
        ]
        inner: list = []
        for index, item in enumerate(items):
            inner.append(SOFT if index == 0 else LINE)
            for comment in self.take_before(item.span.start):
                inner += [_comment_text(comment), HARD]
            inner.append(item_doc(item))
            last = index + 1 == len(items)
            inner.append(_IfBreak(",", "") if last else ",")
            following = close_at if last else items[index + 1].span.start
            for comment in self.take_trailing(item.span.end, following):
                inner += [_LineSuffix(_comment_text(comment)), BREAK_PARENT]
        for comment in self.take_before(close_at):
            inner += [HARD, _comment_text(comment)]
        self.depth -= 1
        if not inner and not header:
            return opener + closer
        return _group([opener, *header, _Indent(inner), SOFT, closer])

    def refinement(self, args: tuple[ast.RefineArg, ...], after: int) -> Doc:
        if not args:
            return []
        open_at = self.find("(", after)
        return self.sequence(args, open_at, self.closing(open_at), self.refine_arg)

    def refine_arg(self, arg: ast.RefineArg) -> Doc:
        # Built in print order: the comment cursor moves through the text as docs are built.
        docs = self.gap(arg.span.start)
        if arg.name is not None:
            docs += [self.name(arg.name), ": "]
        return docs + [self.range(arg.value) if isinstance(arg.value, ast.Range) else self.expr(arg.value)]

    def range(self, range_: ast.Range) -> Doc:
        docs = self.gap(range_.span.start)
        docs.append(self.expr(range_.low) if range_.low is not None else "")
        docs.append("..")
        return docs + [self.expr(range_.high) if range_.high is not None else ""]

    # -- expressions --

    def expr(self, expr: ast.Expr) -> Doc:
        return [*self.gap(expr.span.start), self.expr_body(expr)]

    def expr_body(self, expr: ast.Expr) -> Doc:
        if isinstance(expr, ast.StringLit):
            raw = self.raw(expr)
            return _Triple(raw) if "\n" in raw else raw
        if isinstance(expr, (ast.IntLit, ast.FloatLit, ast.UnitLit)):
            return self.raw(expr)
        if isinstance(expr, ast.BoolLit):
            return "true" if expr.value else "false"
        if isinstance(expr, ast.Ref):
            return self.dotted(expr.names)
        if isinstance(expr, ast.ListLit):
            open_at = self.find("[", expr.span.start)
            return self.sequence(expr.items, open_at, self.closing(open_at), self.expr)
        if isinstance(expr, ast.MapLit):
            return self.body(expr.body)
        if isinstance(expr, ast.Call):
            open_at = self.find("(", expr.func.span.end)
            return [self.name(expr.func), self.sequence(expr.args, open_at, self.closing(open_at), self.arg)]
        if isinstance(expr, ast.Binary):
            level = _OPERATOR_LEVEL[expr.op]
            left = self.operand(expr.left, lambda e: _level(e) < level)
            right = self.operand(expr.right, lambda e: _level(e) <= level)
            return [left, f" {expr.op} ", right]
        if isinstance(expr, ast.Negate):
            return ["-", self.operand(expr.operand, lambda e: isinstance(e, (ast.Binary, ast.Fallback)))]
        if isinstance(expr, ast.Fallback):
            # `??` binds loosest and groups to the right: `a ?? b ?? c` is `a ?? (b ?? c)`.
            left = self.operand(expr.value, lambda e: isinstance(e, ast.Fallback))
            return [left, " ?? ", self.expr(expr.fallback)]
        raise ValueError(f"cannot format {type(expr).__name__}: the file has syntax errors")

    def operand(self, node: ast.Node, needs_parens: Callable[[ast.Node], bool]) -> Doc:
        if isinstance(node, (ast.Binary, ast.Fallback)) and needs_parens(node):
            return self.parens(lambda: self.expr(node))
        return self.expr(node)

    def arg(self, arg: ast.Arg) -> Doc:
        if arg.name is None:
            return [*self.gap(arg.span.start), self.expr(arg.value)]
        return [*self.gap(arg.span.start), self.name(arg.name), " = ", self.expr(arg.value)]

    # -- types --

    def type(self, type_: ast.TypeExpr) -> Doc:
        return [*self.gap(type_.span.start), self.type_body(type_)]

    def type_body(self, type_: ast.TypeExpr) -> Doc:
        if isinstance(type_, ast.NamedType):
            name = self.dotted(type_.name.names)
            return [name, self.refinement(type_.refinements, type_.name.span.end)]
        if isinstance(type_, ast.ListType):
            element = self.bracketed("list[", lambda: self.type(type_.element))
            close_at = self.closing(self.find("[", type_.span.start))
            return [element, self.refinement(type_.refinements, close_at + 1)]
        if isinstance(type_, ast.MapType):
            key = self.bracketed("map[", lambda: self.type(type_.key))
            return [key, self.type_operand(type_.value)]
        if isinstance(type_, ast.LiteralType):
            return self.expr(type_.value)
        if isinstance(type_, ast.UnionType):
            return _join(" | ", [self.type_operand(member) for member in type_.members])
        raise ValueError(f"cannot format {type(type_).__name__}")

    def type_operand(self, type_: ast.TypeExpr) -> Doc:
        if isinstance(type_, ast.UnionType):
            return self.parens(lambda: self.type(type_))
        return self.type(type_)

    def bracketed(self, opener: str, build: Callable[[], Doc]) -> Doc:
        self.depth += 1
        inner = build()
        self.depth -= 1
        return [opener, _Indent(inner), "]"]

    # -- selectors --

    def selector(self, selector: ast.Selector) -> Doc:
        return [*self.gap(selector.span.start), self.selector_body(selector)]

    def selector_body(self, selector: ast.Selector) -> Doc:
        if isinstance(selector, ast.SelCompare):
            return [self.name(selector.label), f" {selector.op} ", self.expr(selector.value)]
        if isinstance(selector, ast.SelIn):
            keyword = " not in " if selector.negated else " in "
            return [self.name(selector.label), keyword, self.expr(selector.values)]
        if isinstance(selector, ast.SelExists):
            return [self.name(selector.label), " exists"]
        if isinstance(selector, ast.SelNot):
            return ["not ", self.selector_operand(selector.operand, _SELECTOR_LEVEL[ast.SelNot] - 1)]
        level = _SELECTOR_LEVEL[type(selector)]
        word = " or " if isinstance(selector, ast.SelOr) else " and "
        left = self.selector_operand(selector.left, level - 1)
        return [left, word, self.selector_operand(selector.right, level)]

    def selector_operand(self, selector: ast.Selector, at_most: int) -> Doc:
        """Parenthesised when it binds no tighter than `at_most`."""
        if _SELECTOR_LEVEL.get(type(selector), 9) <= at_most:
            return self.parens(lambda: self.selector(selector))
        return self.selector(selector)


def _level(expr: ast.Node) -> int:
    """How tightly an operand binds: `??` loosest, then + -, then * / %, then everything else."""
    if isinstance(expr, ast.Fallback):
        return 0
    return _OPERATOR_LEVEL.get(getattr(expr, "op", None), 9)


def _comment_text(comment: ast.Comment) -> str:
    return comment.text.rstrip()


def _join(separator: Doc, docs: list) -> list:
    joined: list = []
    for index, doc in enumerate(docs):
        if index:
            joined.append(separator)
        joined.append(doc)
    return joined
