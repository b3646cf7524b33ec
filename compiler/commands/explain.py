"""`gopc explain CODE`, `gopc explain --cluster C APP.FIELD.PATH` (or `resource/NAME.FIELD.PATH`,
`release/NAME.FIELD.PATH`) and `gopc show --cluster C`.

Input: a code, or the analysis of a program without errors. Output on stdout: the code's page;
the effective value and the chain of layers that assigned it (explain); with `--format json`
either as a document (`schemas.ExplainCodeDocument`, `schemas.ExplainValueDocument`); the effective model of
one cluster as YAML, or as JSON made by `schemas.ShowDocument` (show). An unknown cluster, app,
release or path is an `ExplainError`, reported as E0903 (span-less, exit 2); an unknown code is a usage
error.
"""

from __future__ import annotations

import json
import sys
from dataclasses import dataclass
from typing import Any

from gop.compiler.commands.report import EXIT_ERRORS, EXIT_OK, EXIT_USAGE, Reporter, UsageError, checked
from gop.compiler.diagnostics import codes
from gop.compiler.diagnostics.codes import lookup as code_page, registry
from gop.compiler.emit.yaml import dump_yaml
from gop.compiler.fleet.model import Layer
from gop.compiler.language import DEFAULT_WORKLOAD, KIND_FIELDS, UNIT_KINDS, WorkloadField, unit_key
from gop.compiler.semantic.context import ContextText, reads_of
from gop.compiler.values import lookup, plain
from gop.compiler.diagnostics.suggest import did_you_mean


class ExplainError(Exception):
    """A user mistake in the command's arguments (exit 2)."""


def _where(analysis, span) -> str:
    if span is None:
        return ""
    source = analysis.program.sources.get(span.file)
    if source is None:
        return span.file
    position = source.position(span.start)
    return f"{span.file}:{position.line + 1}:{position.column + 1}"


def cluster_model(analysis, name: str):
    clusters = analysis.fleet.clusters
    if name not in clusters:
        hint = did_you_mean(name, clusters)
        raise ExplainError(f"no cluster `{name}`" + (f"; did you mean `{hint}`?" if hint else f" (clusters: {', '.join(clusters)})"))
    return clusters[name]


def instance_on(analysis, cluster: str, app: str):
    """The app's instance on the cluster; ExplainError (with a did-you-mean) when it does not run there."""
    return _unit_on(analysis, cluster, "app", app)


def release_on(analysis, cluster: str, release: str):
    """The release's instance on the cluster; ExplainError (with a did-you-mean) when it does not run there."""
    return _unit_on(analysis, cluster, "release", release)


def _unit_on(analysis, cluster: str, kind: str, name: str):
    model = cluster_model(analysis, cluster)
    units = model.instances if kind == "app" else model.releases
    if name not in units:
        hint = did_you_mean(name, units)
        raise ExplainError(f"{kind} `{name}` does not run on cluster `{cluster}`" + (f"; did you mean `{hint}`?" if hint else
                           f" (it runs: {', '.join(units) or 'nothing'})"))
    return units[name]


def unit_on(analysis, cluster: str, head: str):
    """(`unit_key`, instance) of `head` on the cluster: an app's name, or `release/NAME`, `resource/NAME`."""
    kind, slash, name = head.partition("/")
    if not slash or kind not in UNIT_KINDS[1:]:
        return head, instance_on(analysis, cluster, head)
    placed = getattr(cluster_model(analysis, cluster), kind + "s")
    if name not in placed:
        hint = did_you_mean(name, placed)
        raise ExplainError(f"{kind} `{name}` is not on cluster `{cluster}`" + (f"; did you mean `{kind}/{hint}`?" if hint else
                           f" ({kind}s there: {', '.join(placed) or 'none'})"))
    return unit_key(kind, name), placed[name]


@dataclass(frozen=True, slots=True)
class Assignment:
    """One layer's assignment to a value or below it; `span` None for a schema default."""

    layer: str
    source: str
    span: Any
    below: tuple[str, ...]  # the path assigned, below the value explained
    value: Any
    effective: bool


@dataclass(frozen=True, slots=True)
class Explanation:
    """A value on a cluster: its unit (`unit_key`), its path below the unit, the unit's instance,
    the effective value and every assignment, lowest layer first."""

    unit: str
    path: tuple[str, ...]
    instance: Any
    value: Any
    assignments: list[Assignment]


def explanation(analysis, cluster: str, dotted: str) -> Explanation:
    """The explanation of `dotted` (`web.replicas`, `release/podinfo.values.x`) on `cluster`."""
    head, _, rest = dotted.partition(".")
    app, instance = unit_on(analysis, cluster, head)
    path = tuple(rest.split(".")) if rest else ()
    value = instance.values
    for key in path:
        if not isinstance(value, dict) or key not in value:
            options = list(value) if isinstance(value, dict) else []
            hint = did_you_mean(key, options)
            raise ExplainError(f"`{dotted}` has no value on cluster `{cluster}`" + (f"; did you mean `{hint}`?" if hint else ""))
        value = value[key]
    assignments = []
    defaults = sorted((p, o.source) for p, o in instance.origins.items() if p[: len(path)] == path and o.layer is Layer.DEFAULT)
    for leaf_path, source in defaults:
        if not any(p[: len(leaf_path)] == leaf_path and p != leaf_path for p, _ in defaults):
            assignments.append(Assignment("schema default", source, None, leaf_path[len(path):], lookup(instance.values, leaf_path), True))
    for origin, leaf_path, leaf_value, effective in analysis.evaluation.chain(cluster, app, path):
        assignments.append(Assignment(origin.label, origin.source, origin.span, leaf_path[len(path):], leaf_value, effective))
    return Explanation(app, path, instance, value, assignments)


def explain_text(analysis, cluster: str, dotted: str) -> str:
    found = explanation(analysis, cluster, dotted)
    instance = found.instance
    lines = [f"{dotted} on cluster {cluster} (env {instance.env}) = {_inline(found.value)}"]
    generated = _generated_by(analysis, found.unit)
    if generated:
        lines.append(f"  ({generated})")
    ignored = _not_for_kind(found)
    if ignored:
        lines.append(f"  ({ignored})")
    for row in found.assignments:
        shown = _assignment(row.below, row.value)
        if row.effective and reads_of(row.value):  # `"ghcr.io/acme/${app.name}" -> "ghcr.io/acme/cart"`
            shown += " -> " + _inline(lookup(instance.values, found.path + row.below))
        lines.append(_row(row.layer, row.source, _where(analysis, row.span), shown, row.effective))
    if len(lines) == 1:
        lines.append("  (no assignment; the value is empty)")
    return "\n".join(lines) + "\n"


def _not_for_kind(found: Explanation) -> str | None:
    """That the app ignores the value: a field its workload kind lacks (a schema default, or a line
    written for every app; `check` refuses one written for this app by name)."""
    if " " in found.unit or not found.path or found.path[0] not in KIND_FIELDS:
        return None
    kind = found.instance.values.get(WorkloadField.WORKLOAD, DEFAULT_WORKLOAD)
    if kind in KIND_FIELDS[found.path[0]]:
        return None
    return f"`{found.path[0]}` does not apply to a {kind}: this app ignores it"


def explain_json(analysis, cluster: str, dotted: str) -> str:
    from gop.compiler.commands.schemas import ExplainValueDocument

    found = explanation(analysis, cluster, dotted)
    layers = []
    for row in found.assignments:
        position = None if row.span is None else analysis.program.sources[row.span.file].position(row.span.start)
        layers.append({"layer": row.layer, "source": row.source, "file": None if row.span is None else row.span.file,
                       "line": None if position is None else position.line + 1,
                       "column": None if position is None else position.column + 1,
                       "path": ".".join(row.below), "value": _written(row.value), "effective": row.effective})
    document = ExplainValueDocument(cluster=cluster, env=found.instance.env, path=dotted, value=plain(found.value), layers=layers)
    return json.dumps(document.model_dump(), indent=2, ensure_ascii=False) + "\n"


def code_json(info) -> str:
    from gop.compiler.commands.schemas import ExplainCodeDocument

    document = ExplainCodeDocument(code=info.code, title=info.title, severity=info.severity.label, page=info.doc)
    return json.dumps(document.model_dump(), indent=2, ensure_ascii=False) + "\n"


def _written(value) -> Any:
    """A value as JSON data; a string that reads the context as written (`${cluster.name}`)."""
    return str(value)[1:-1] if isinstance(value, ContextText) else plain(value)


def _assignment(below, value) -> str:
    return (".".join(below) + " = " if below else "") + _inline(value)


def _row(layer: str, source: str, where: str, value: str, effective: bool) -> str:
    mark = "*" if effective else " "
    return f"  {mark} {layer:<17} {source:<28} {where:<36} {value}"


def _inline(value) -> str:
    """A value as JSON; a string that reads the context as written (`"${cluster.name}"`)."""
    if isinstance(value, ContextText):
        return str(value)
    return json.dumps(plain(value), ensure_ascii=False, default=str)


def _generated_by(analysis, key: str) -> str:
    """`app cart is generated by the `for` at a.gop:4:1 from the row at a.gop:3:18`, or ""."""
    kind, _, name = key.rpartition(" ")
    decl = analysis.resolution.resources.get(kind or "app", {}).get(name)
    origin = analysis.resolution.generated.get(id(decl)) if decl is not None else None
    if origin is None:
        return ""
    return (f"{kind or 'app'} {name} is generated by the `for` at {_where(analysis, origin.comprehension.span)} "
            f"from the row at {_where(analysis, origin.row)}")


def show_text(analysis, cluster: str, fmt: str) -> str:
    model = cluster_model(analysis, cluster)
    data = {
        "cluster": model.name,
        "env": model.env,
        "labels": plain(model.labels),
        "apps": {name: plain(instance.values) for name, instance in model.instances.items()},
    }
    if fmt == "json":
        from gop.compiler.commands.schemas import ShowDocument

        return json.dumps(ShowDocument(**data).model_dump(), indent=2, ensure_ascii=False) + "\n"
    return dump_yaml([data])


def run(args, reporter: Reporter) -> int:
    reporter.result_on_stdout = True
    if args.cluster is None:
        info = code_page(args.what)
        if info is None:
            raise UsageError(f"gopc explain: unknown code `{args.what}` (known: {', '.join(registry())})")
        sys.stdout.write(code_json(info) if args.format == "json" else info.doc if info.doc.endswith("\n") else info.doc + "\n")
        return EXIT_OK
    if not args.paths:
        raise UsageError("gopc explain: --cluster needs the program's PATHs, e.g. `gopc explain --cluster prod-eu-1 web.replicas examples/shop`")
    explain = explain_json if args.format == "json" else explain_text
    return _print(args, reporter, lambda analysis: explain(analysis, args.cluster, args.what))


def run_show(args, reporter: Reporter) -> int:
    reporter.result_on_stdout = True
    return _print(args, reporter, lambda analysis: show_text(analysis, args.cluster, args.format))


def _print(args, reporter: Reporter, produce) -> int:
    analysis = checked(args.paths, reporter, cache=not args.no_cache)
    if analysis is None:
        return EXIT_ERRORS
    try:
        sys.stdout.write(produce(analysis))
    except ExplainError as error:
        return reporter.fail(codes.BAD_COMMAND_ARGUMENT, str(error), EXIT_USAGE)
    return EXIT_OK
