"""What `gopc diff` found, and its reports: text, `--format markdown` and `--format json`.

Input: the objects of a cluster on both sides (commands/diff.py reads them), then the
`ClusterDelta`s of every compared cluster and the labels of the two sides. Output: the deltas
(`compare_objects`: per object added, removed or changed, with the fields that changed and their
values on both sides), and text for stdout -
- text (`text_report`, per cluster): `=== cluster C: ...`, per object its change, the changed
  fields' paths and a unified diff of its YAML (keys sorted);
- markdown: a pull-request comment - a summary line and a table of the clusters that change, then
  per cluster each object added, removed or changed with its changed fields (`path`: before →
  after), and the YAML diffs folded in `<details>` while the comment stays under GitHub's size
  limit (`MARKDOWN_LIMIT`; past it the diffs, then the objects, are left out and the comment says so);
- json: the `DiffDocument` (commands/schemas.py; schema docs/schemas/diff.json), every compared
  cluster with its objects and field changes.

Invariants: every report is deterministic (clusters, objects and fields in key order; values printed as
JSON with sorted keys); nothing in a value can break out of its code span.
"""

from __future__ import annotations

import difflib
import json
import re
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

from gop.compiler.emit.yaml import dump_all
from gop.compiler.lower.kinds import ObjectKey
from gop.compiler.values.diff import Position, changed_paths
from gop.compiler.values.lookup import MISSING

Doc = dict[str, Any]

MARKS = {"changed": "~", "added": "+", "removed": "-"}


@dataclass(slots=True)
class FieldDelta:
    """One leaf (or a whole list of another length) that differs; `MISSING` on the side that lacks it."""

    path: tuple
    before: Any
    after: Any

    @property
    def change(self) -> str:
        return "added" if self.before is MISSING else "removed" if self.after is MISSING else "changed"

    @property
    def path_text(self) -> str:
        return _path_text(self.path)


@dataclass(slots=True)
class ObjectDelta:
    key: ObjectKey
    before: Doc | None  # None: added
    after: Doc | None  # None: removed

    @property
    def change(self) -> str:
        return "added" if self.before is None else "removed" if self.after is None else "changed"

    def fields(self) -> list[FieldDelta]:
        """The fields that changed (none for an added or removed object)."""
        if self.before is None or self.after is None:
            return []
        return [FieldDelta(path, _value_at(self.before, path), _value_at(self.after, path))
                for path in changed_paths(self.before, self.after)]


@dataclass(slots=True)
class ClusterDelta:
    cluster: str
    objects: list[ObjectDelta]  # in key order; empty when the cluster is the same on both sides

    def count(self, change: str) -> int:
        return sum(1 for delta in self.objects if delta.change == change)


def compare_objects(old: dict[ObjectKey, Doc], new: dict[ObjectKey, Doc]) -> list[ObjectDelta]:
    return [ObjectDelta(key, old.get(key), new.get(key)) for key in sorted(old.keys() | new.keys())
            if old.get(key) != new.get(key)]


def text_report(delta: ClusterDelta, before: str, after: str) -> str:
    """The text report of one cluster ('' when equal): per object its change, fields and a unified diff of its YAML."""
    if not delta.objects:
        return ""
    parts = [f"=== cluster {delta.cluster}: {delta.count('changed')} changed, {delta.count('added')} added, "
             f"{delta.count('removed')} removed\n"]
    for item in delta.objects:
        fields = ", ".join(field.path_text for field in item.fields())
        name = object_name(item.key)
        parts.append(f"{MARKS[item.change]} {item.change} {name}" + (f": {fields}" if fields else "") + "\n")
        parts.extend(yaml_diff(item, f"{before}: {delta.cluster}: {name}", f"{after}: {delta.cluster}: {name}"))
    return "".join(parts)


def yaml_diff(item: ObjectDelta, before: str, after: str) -> Iterator[str]:
    """A unified diff of the object's YAML (keys sorted) from before to after."""
    return difflib.unified_diff(_yaml_lines(item.before), _yaml_lines(item.after), before, after)


def _value_at(doc: Any, path: tuple) -> Any:
    """The value at a path of `changed_paths` (map keys and list `Position`s), or `MISSING`."""
    for step in path:
        if isinstance(step, Position) and isinstance(doc, list) and step < len(doc):
            doc = doc[step]
        elif not isinstance(step, Position) and isinstance(doc, dict) and step in doc:
            doc = doc[step]
        else:
            return MISSING
    return doc


def object_name(key: ObjectKey) -> str:
    api_version, kind, namespace, name = key
    return f"{api_version} {kind} {namespace + '/' if namespace else ''}{name}"


_PLAIN_KEY = re.compile(r"^[A-Za-z_][A-Za-z0-9_-]*$")


def _path_text(path: tuple) -> str:
    text = ""
    for step in path:
        if isinstance(step, Position):
            text += f"[{int(step)}]"
        elif _PLAIN_KEY.match(str(step)):
            text = f"{text}.{step}" if text else str(step)
        else:
            text += f"[{json.dumps(str(step))}]"
    return text or "."


def _yaml_lines(doc: Doc | None) -> list[str]:
    if doc is None:
        return []
    text = dump_all([_sorted(doc)])
    return text.removeprefix("---\n").splitlines(keepends=True)


def _sorted(value: Any) -> Any:
    if isinstance(value, dict):
        return {key: _sorted(value[key]) for key in sorted(value, key=str)}
    if isinstance(value, list):
        return [_sorted(item) for item in value]
    return value


# ---------------------------------------------------------------- markdown and json

MARKDOWN_LIMIT = 60_000  # characters; GitHub refuses a comment over 65,536
_VALUE_WIDTH = 80


def markdown_report(deltas: list[ClusterDelta], before: str, after: str) -> str:
    differing = [delta for delta in deltas if delta.objects]
    head = [f"## gopc diff: {_code(before)} → {_code(after)}\n\n"]
    if not differing:
        return "".join(head) + f"No changes on the {len(deltas)} cluster(s) compared.\n"
    counts = {change: sum(delta.count(change) for delta in differing) for change in ("changed", "added", "removed")}
    head.append(f"**{len(differing)} of {len(deltas)} cluster(s) change**: {counts['changed']} object(s) changed, "
                f"{counts['added']} added, {counts['removed']} removed.\n\n")
    head.append("| cluster | changed | added | removed |\n| --- | ---: | ---: | ---: |\n")
    head.extend(f"| {_code(d.cluster)} | {d.count('changed')} | {d.count('added')} | {d.count('removed')} |\n"
                for d in differing)
    sections = [_cluster_section(delta) for delta in differing]
    details = [_yaml_details(delta, before, after) for delta in differing]
    full = "".join(head) + "".join(section + detail for section, detail in zip(sections, details))
    if len(full) <= MARKDOWN_LIMIT:
        return full
    without_diffs = "".join(head) + "".join(sections)
    note = "\n*The YAML diffs are left out to keep this comment under GitHub's size limit: run `gopc diff` to see them.*\n"
    if len(without_diffs) + len(note) <= MARKDOWN_LIMIT:
        return without_diffs + note
    note = "\n*The objects are left out to keep this comment under GitHub's size limit: run `gopc diff` to see them.*\n"
    return "".join(head) + note


def _cluster_section(delta: ClusterDelta) -> str:
    lines = [f"\n### {_code(delta.cluster)}\n\n"]
    for item in delta.objects:
        lines.append(f"- **{item.change}** {_code(object_name(item.key))}\n")
        lines.extend(f"  - {_code(field.path_text)}: {_value(field.before)} → {_value(field.after)}\n"
                     for field in item.fields())
    return "".join(lines)


def _yaml_details(delta: ClusterDelta, before: str, after: str) -> str:
    diff = "".join(line for item in delta.objects
                   for line in yaml_diff(item, f"{before}: {object_name(item.key)}", f"{after}: {object_name(item.key)}"))
    fence = "`" * max(3, _longest_run(diff, "`") + 1)
    return (f"\n<details><summary>YAML diff of {_html(delta.cluster)}</summary>\n\n"
            f"{fence}diff\n{diff}{'' if diff.endswith(chr(10)) else chr(10)}{fence}\n\n</details>\n")


def _value(value: Any) -> str:
    if value is MISSING:
        return "*(absent)*"
    text = json.dumps(value, ensure_ascii=False, sort_keys=True, separators=(", ", ": "))
    if len(text) > _VALUE_WIDTH:
        text = text[:_VALUE_WIDTH - 1] + "…"
    return _code(text)


def _code(text: str) -> str:
    """`text` as a Markdown code span, whatever backticks it holds (and on one line)."""
    text = text.replace("\n", "\\n")
    ticks = "`" * (_longest_run(text, "`") + 1)
    pad = " " if text.startswith("`") or text.endswith("`") else ""
    return f"{ticks}{pad}{text}{pad}{ticks}"


def _longest_run(text: str, char: str) -> int:
    longest = run = 0
    for c in text:
        run = run + 1 if c == char else 0
        longest = max(longest, run)
    return longest


def _html(text: str) -> str:
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


def json_report(deltas: list[ClusterDelta], before: str, after: str) -> str:
    from gop.compiler.commands.schemas import DiffDocument

    document = DiffDocument(
        before=before, after=after, differs=any(delta.objects for delta in deltas),
        clusters=[{"cluster": delta.cluster, "changed": delta.count("changed"), "added": delta.count("added"),
                   "removed": delta.count("removed"), "objects": [_object_json(item) for item in delta.objects]}
                  for delta in deltas])
    return json.dumps(document.model_dump(by_alias=True), indent=2, ensure_ascii=False) + "\n"


def _object_json(item: ObjectDelta) -> dict[str, Any]:
    api_version, kind, namespace, name = item.key
    return {"change": item.change, "apiVersion": api_version, "kind": kind, "namespace": namespace or None, "name": name,
            "fields": [{"path": field.path_text, "change": field.change,
                        "before": None if field.before is MISSING else field.before,
                        "after": None if field.after is MISSING else field.after} for field in item.fields()]}
