"""`gopc explain --cluster C APP.FIELD.PATH` and `gopc show --cluster C`.

Input: the analysis of a program without errors. Output: text on stdout: the
effective value and the chain of layers that assigned it (explain), or the
effective model of one cluster as YAML or JSON (show).
"""

from __future__ import annotations

import json
import sys

from gop.compiler.emit.yaml import dump_yaml
from gop.compiler.fleet.model import Layer
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


def explain_text(analysis, cluster: str, dotted: str) -> str:
    model = cluster_model(analysis, cluster)
    app, _, rest = dotted.partition(".")
    if app not in model.instances:
        hint = did_you_mean(app, model.instances)
        raise ExplainError(f"app `{app}` does not run on cluster `{cluster}`" + (f"; did you mean `{hint}`?" if hint else
                           f" (it runs: {', '.join(model.instances) or 'nothing'})"))
    instance = model.instances[app]
    path = tuple(rest.split(".")) if rest else ()
    value = instance.values
    for key in path:
        if not isinstance(value, dict) or key not in value:
            options = list(value) if isinstance(value, dict) else []
            hint = did_you_mean(key, options)
            raise ExplainError(f"`{dotted}` has no value on cluster `{cluster}`" + (f"; did you mean `{hint}`?" if hint else ""))
        value = value[key]
    lines = [f"{dotted} on cluster {cluster} (env {instance.env}) = {_inline(value)}"]
    chain = analysis.evaluation.chain(cluster, app, path)
    defaults = sorted((p, o.source) for p, o in instance.origins.items() if p[: len(path)] == path and o.layer is Layer.DEFAULT)
    for leaf_path, source in defaults:
        if not any(p[: len(leaf_path)] == leaf_path and p != leaf_path for p, _ in defaults):
            lines.append(_row("schema default", source, "", _assignment(leaf_path, path, lookup(instance.values, leaf_path)), True))
    for origin, leaf_path, leaf_value, effective in chain:
        lines.append(_row(origin.layer.label, origin.source, _where(analysis, origin.span), _assignment(leaf_path, path, leaf_value), effective))
    if len(lines) == 1:
        lines.append("  (no assignment; the value is empty)")
    return "\n".join(lines) + "\n"


def _assignment(leaf_path, path, value) -> str:
    below = leaf_path[len(path):]
    return (".".join(below) + " = " if below else "") + _inline(value)


def _row(layer: str, source: str, where: str, value: str, effective: bool) -> str:
    mark = "*" if effective else " "
    return f"  {mark} {layer:<17} {source:<28} {where:<36} {value}"


def _inline(value) -> str:
    return json.dumps(plain(value), ensure_ascii=False)


def show_text(analysis, cluster: str, fmt: str) -> str:
    model = cluster_model(analysis, cluster)
    data = {
        "cluster": model.name,
        "env": model.env,
        "labels": plain(model.labels),
        "apps": {name: plain(instance.values) for name, instance in model.instances.items()},
    }
    if fmt == "json":
        return json.dumps(data, indent=2, ensure_ascii=False) + "\n"
    return dump_yaml([data])


def run_explain_value(analysis, cluster: str, dotted: str) -> int:
    return _print("explain", lambda: explain_text(analysis, cluster, dotted))


def run_show(analysis, cluster: str, fmt: str) -> int:
    return _print("show", lambda: show_text(analysis, cluster, fmt))


def _print(command: str, produce) -> int:
    try:
        sys.stdout.write(produce())
    except ExplainError as error:
        print(f"gopc {command}: {error}", file=sys.stderr)
        return 2
    return 0
