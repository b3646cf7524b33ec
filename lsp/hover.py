"""Hover text and inlay hints: what a name means and what value a field ends up with.

Input: a `Snapshot` (its symbol table's facts: declarations, types, docs, values;
and its analysis's fleet: placement, provenance), an `Occurrence` (or a file's
tree for inlay hints) and the project root (to show short file names). Output: Markdown for hovers; for inlay
hints, the (offset, label) pairs of overridden fields.

For a field of an app the hover lists its effective value per env and per
cluster, with the layer and the file:line that set it, read from
`fleet.clusters[c].instances[app].origins` (the evaluation's provenance). A
cluster whose value differs from the rest of its env is listed under the env.

Invariants: pure functions of their inputs; values are shown as `.gop` source
would write them (`describe_value`).
"""

from __future__ import annotations

from collections import Counter
from pathlib import Path

from gop.compiler.syntax import ast
from gop.compiler.fleet.evaluate import cluster_instance
from gop.compiler.fleet.model import Layer, Origin
from gop.compiler.semantic.check import INVALID
from gop.compiler.semantic.types import RecordType, describe_value

from gop.compiler.language import BUILTIN_DOCS
from gop.compiler.semantic.symbols import Occurrence, Symbol
from gop.compiler.values import MISSING, lookup

from .project import Snapshot

_MAX_VALUE = 60
_MAX_USERS = 10  # a template's hover names this many of the declarations using it


def hover_markdown(snapshot: Snapshot, occurrence: Occurrence, root: Path) -> str | None:
    parts = [_describe(snapshot, symbol, occurrence) for symbol in occurrence.symbols]
    parts = [p for p in dict.fromkeys(parts) if p]
    if occurrence.app is not None and occurrence.path and any(s.kind == "field" for s in occurrence.symbols):
        values = effective_values(snapshot, occurrence.app, occurrence.path, root)
        if values:
            parts.append(values)
    return "\n\n---\n\n".join(parts) if parts else None


def _describe(snapshot: Snapshot, symbol: Symbol, occurrence: Occurrence) -> str | None:
    describe = _DESCRIBERS.get(symbol.kind, _resource)
    return describe(snapshot, symbol, occurrence)


def _code(text: str) -> str:
    return f"```gop\n{text}\n```"


def _with_doc(head: str, doc: str | None, *more: str) -> str:
    return "\n\n".join([_code(head)] + ([doc] if doc else []) + [m for m in more if m])


def _field(snapshot: Snapshot, symbol: Symbol, occurrence: Occurrence) -> str | None:
    info = snapshot.symbols.field(symbol)
    if info is None:
        return None
    head = f"{symbol.member}{'?' if info.optional else ''}: {info.type.describe()}"
    if info.has_default:
        head += f" = {_show(info.default)}"
    if not symbol.module:  # a record no .gop schema declares: a release's values typed by its chart
        return _with_doc(head, info.doc, f"field of `{symbol.name}`")
    return _with_doc(head, info.doc, f"field of schema `{symbol.name}` ({_module_name(symbol.module)})")


def _label(snapshot: Snapshot, symbol: Symbol, occurrence: Occurrence) -> str | None:
    info = snapshot.symbols.field(symbol)
    if info is None:
        return None
    head = f"label {symbol.name}{'?' if info.optional else ''}: {info.type.describe()}"
    fleet = snapshot.analysis.fleet
    by_value: dict[str, list[str]] = {}
    for name, cluster in (fleet.clusters.items() if fleet else ()):
        if symbol.name in cluster.labels:
            by_value.setdefault(_show(cluster.labels[symbol.name]), []).append(name)
    lines = [f"- `{value}`: {', '.join(clusters)}" for value, clusters in sorted(by_value.items())]
    return _with_doc(head, info.doc, "Clusters:\n" + "\n".join(lines) if lines else "")


def _schema(snapshot: Snapshot, symbol: Symbol, occurrence: Occurrence) -> str | None:
    record = snapshot.symbols.named_type(symbol)
    if not isinstance(record, RecordType):
        return None
    fields = "\n".join(f"  {f.name}{'?' if f.optional else ''}: {f.type.describe()}" for f in record.fields.values())
    return _with_doc(f"schema {symbol.name} {{\n{fields}\n}}", record.doc, _module_name(symbol.module))


def _type(snapshot: Snapshot, symbol: Symbol, occurrence: Occurrence) -> str | None:
    resolved = snapshot.symbols.named_type(symbol)
    decl = snapshot.symbols.decl(symbol)
    if resolved is None or decl is None:
        return None
    return _with_doc(f"type {symbol.name} = {resolved.describe()}", decl.doc, _module_name(symbol.module))


def _let(snapshot: Snapshot, symbol: Symbol, occurrence: Occurrence) -> str | None:
    decl = snapshot.symbols.decl(symbol)
    if not isinstance(decl, ast.LetDecl):
        return None
    value = snapshot.symbols.let_value(symbol)
    shown = "(invalid)" if value is INVALID else _show(value)
    return _with_doc(f"let {symbol.name} = {shown}", decl.doc, _module_name(symbol.module))


def _builtin(snapshot: Snapshot, symbol: Symbol, occurrence: Occurrence) -> str:
    return _with_doc(symbol.name, BUILTIN_DOCS.get(symbol.name), "built-in type")


def _module(snapshot: Snapshot, symbol: Symbol, occurrence: Occurrence) -> str | None:
    module = snapshot.analysis.program.modules.get(symbol.module)
    if module is None:
        return None
    files = ", ".join(f"`{Path(f).name}`" for f in module.files)
    return _with_doc(f"module {symbol.module}", None, f"files: {files}")


def _resource(snapshot: Snapshot, symbol: Symbol, occurrence: Occurrence) -> str | None:
    decl = snapshot.symbols.decl(symbol)
    if not isinstance(decl, ast.ResourceDecl):
        return None
    fleet = snapshot.analysis.fleet
    more = ""
    if fleet is not None and symbol.kind == "app" and symbol.name in fleet.apps:
        app = fleet.apps[symbol.name]
        placed = ", ".join(f"{c} ({fleet.clusters[c].env})" for c in app.clusters)
        more = f"namespace `{app.namespace}`; deployed on: {placed or 'no cluster'}"
    elif fleet is not None and symbol.kind == "env" and symbol.name in fleet.envs:
        more = "clusters: " + (", ".join(fleet.envs[symbol.name].clusters) or "none")
    elif fleet is not None and symbol.kind == "cluster" and symbol.name in fleet.clusters:
        cluster = fleet.clusters[symbol.name]
        labels = ", ".join(f"{k} = {_show(v)}" for k, v in cluster.labels.items())
        more = f"env `{cluster.env or '-'}`; labels: {labels}; apps: {', '.join(cluster.instances) or 'none'}"
    elif symbol.kind == "overlay" and snapshot.analysis.evaluation is not None:
        matched = snapshot.analysis.evaluation.selector_matches.get(id(decl), ())
        more = "clusters: " + (", ".join(matched) or "none")
    origin = snapshot.symbols.resolution.generated.get(id(decl))
    if origin is not None:
        generated = (f"generated by the `for` at {_line_of(snapshot, origin.comprehension.span)} "
                     f"from the row at {_line_of(snapshot, origin.row)}")
        more = f"{generated}; {more}" if more else generated
    return _with_doc(f"{symbol.kind} {symbol.name}", decl.doc, more)


def _line_of(snapshot: Snapshot, span) -> str:
    source = snapshot.analysis.program.sources.get(span.file)
    return f"{Path(span.file).name}:{source.position(span.start).line + 1 if source else 0}"


def _template(snapshot: Snapshot, symbol: Symbol, occurrence: Occurrence) -> str | None:
    decl = snapshot.symbols.decl(symbol)
    if not isinstance(decl, ast.TemplateDecl):
        return None
    uses = f" uses {', '.join(n.text for n in decl.uses)}" if decl.uses else ""
    users = [f"{kind} `{name}`" for kind, name in snapshot.symbols.users_of(symbol.name)]
    shown = ", ".join(users[:_MAX_USERS]) + (f" and {len(users) - _MAX_USERS} more" if len(users) > _MAX_USERS else "")
    return _with_doc(f"template {symbol.name} for {decl.kind}{uses}", decl.doc, f"used by: {shown or 'nothing yet'}")


def _loop(snapshot: Snapshot, symbol: Symbol, occurrence: Occurrence) -> str | None:
    decl = snapshot.symbols.decl(symbol)
    if not isinstance(decl, ast.ForDecl):
        return None
    names = [n.text for n in decl.names]
    if len(names) == 2:
        meaning = "the key of each entry" if symbol.name == names[0] else "the value of each entry"
    else:
        meaning = "each item"
    source = snapshot.analysis.program.sources.get(symbol.module)
    line = source.position(decl.span.start).line + 1 if source else 0
    return _with_doc(f"for {', '.join(names)} in ...", decl.doc, f"loop variable `{symbol.name}`: {meaning} (line {line})")


_DESCRIBERS = {
    "field": _field, "label": _label, "schema": _schema, "type": _type, "let": _let,
    "builtin": _builtin, "module": _module, "template": _template, "loop": _loop,
}


def _module_name(module: str) -> str:
    return "standard library" if module.startswith("std/") else f"module `{module}`"


# ---- effective values -------------------------------------------------------------------------------


def _show(value) -> str:
    if value is MISSING:
        return "not set"
    text = describe_value(value)
    return text if len(text) <= _MAX_VALUE else text[:_MAX_VALUE - 1] + "…"


def _where(snapshot: Snapshot, origin: Origin | None, root: Path) -> str:
    if origin is None:
        return ""
    if origin.span is None:
        return f"`{origin.source}` ({origin.label})"
    source = snapshot.analysis.program.sources.get(origin.span.file)
    line = source.position(origin.span.start).line + 1 if source else 0
    return f"`{origin.source}` ({origin.label}, {_short(origin.span.file, root)}:{line})"


def _short(key: str, root: Path) -> str:
    try:
        return str(Path(key).resolve().relative_to(root))
    except ValueError:
        return key


def _instances_by_env(snapshot: Snapshot, app: str):
    """{env: [(cluster, instance)]} for the clusters that run `app`, envs in declaration order."""
    fleet = snapshot.analysis.fleet
    groups: dict[str, list] = {}
    for name, cluster in (fleet.clusters.items() if fleet else ()):
        try:
            instance = cluster_instance(cluster, app)  # `app`: a `unit_key` ("web", "release podinfo")
        except KeyError:
            continue
        groups.setdefault(cluster.env or "(no env)", []).append((name, instance))
    order = list(snapshot.symbols.resources("env"))  # declaration order
    return dict(sorted(groups.items(), key=lambda item: order.index(item[0]) if item[0] in order else len(order)))


def effective_values(snapshot: Snapshot, app: str, path: tuple[str, ...], root: Path) -> str | None:
    groups = _instances_by_env(snapshot, app)
    if not groups:
        return None
    kind, _, unit = app.rpartition(" ")
    lines = [f"**Effective `{'.'.join(path)}` of {kind or 'app'} `{unit}`:**", ""]
    for env, members in groups.items():
        shown = [(name, _show(lookup(inst.values, path)), _where(snapshot, _origin(inst.origins, path), root)) for name, inst in members]
        common, _ = Counter((value, origin) for _, value, origin in shown).most_common(1)[0]
        lines.append(f"- env `{env}`: `{common[0]}`" + (f" — {common[1]}" if common[1] else ""))
        for name, value, origin in shown:
            if (value, origin) != common:
                lines.append(f"  - cluster `{name}`: `{value}`" + (f" — {origin}" if origin else ""))
    return "\n".join(lines)


def _origin(origins: dict, path: tuple[str, ...]) -> Origin | None:
    """The origin of a value: its own, or (for a record or map) the most specific one below it."""
    own = origins.get(path)
    if own is not None:
        return own
    below = [o for p, o in origins.items() if p[:len(path)] == path]
    return max(below, key=lambda o: o.layer) if below else None


# ---- inlay hints ---------------------------------------------------------------------------------------


def overridden_fields(snapshot: Snapshot, tree: ast.File) -> list[tuple[int, str]]:
    """(offset, label) for each assignment in an app body that some env, overlay or cluster overrides."""
    hints: list[tuple[int, str]] = []
    for decl in tree.decls:
        if isinstance(decl, ast.ResourceDecl) and decl.kind == "app" and decl.name is not None:
            groups = _instances_by_env(snapshot, decl.name.text)
            if groups:
                for path, assign in _assignments(decl.body, ()):
                    label = _override_label(groups, path)
                    if label:
                        hints.append((assign.span.end, label))
    return hints


def _assignments(body: ast.Body, prefix: tuple[str, ...]):
    for stmt in body.stmts:
        if isinstance(stmt, ast.Assign):
            yield prefix + tuple(k.text for k in stmt.path.keys), stmt
        elif isinstance(stmt, ast.Block):
            yield from _assignments(stmt.body, prefix + tuple(k.text for k in stmt.path.keys))


def _override_label(groups, path: tuple[str, ...]) -> str | None:
    overridden = any(
        (origin := inst.origins.get(path)) is not None and origin.layer > Layer.APP
        for members in groups.values() for _, inst in members
    )
    if not overridden:
        return None
    parts = []
    for env, members in groups.items():
        values = [(name, _show(lookup(inst.values, path))) for name, inst in members]
        common, _ = Counter(value for _, value in values).most_common(1)[0]
        odd = ", ".join(f"{name}: {value}" for name, value in values if value != common)
        parts.append(f"{env}: {common}" + (f" ({odd})" if odd else ""))
    return " · ".join(parts)
