"""Deterministic YAML text for the Kustomize and Flux files of the repository.

Input: documents as plain data (dicts, lists, str, int, float, bool) in the key order
they should appear in, plus optional end-of-line comments addressed by path.
Output: YAML text; several documents are separated by `---` lines.

Invariants:
- Same input -> same bytes: key order is the insertion order, no anchors or aliases
  (a shared sub-tree is written out in full each time), no line wrapping.
- A key too long for YAML's implicit keys takes the explicit `? key` form (`key_head`, shared
  with the chart writer).
- A string never changes type on the way through any reader the tree meets: it is
  quoted whenever a YAML 1.1 reader (Helm, PyYAML: `yes`, `on`, `0755`, `12:30`) or a
  YAML 1.2 reader (kustomize, ruamel: `0o17`, `1e3`, `true`) would resolve it to
  something else; control characters are escaped in double quotes; other multi-line
  strings use block style (`|`). Floats always have a `.` in the mantissa (`1.0e-06`).
"""

from __future__ import annotations

import functools
from collections.abc import Mapping, Sequence
from typing import Any

from ruamel.yaml.nodes import ScalarNode

from ruamel.yaml.resolver import VersionedResolver

from gop.compiler.emit.yaml_helm import key_head, quoted, scalar

ValuePath = tuple[str, ...]

_STR_TAG = "tag:yaml.org,2002:str"
_RESOLVERS = (VersionedResolver(version=(1, 1)), VersionedResolver(version=(1, 2)))
# A plain scalar may not start with these (YAML indicators), nor contain ": " or " #".
_INDICATORS = frozenset("-?:,[]{}#&*!|>'\"%@`")


@functools.lru_cache(maxsize=65536)
def _is_ambiguous(text: str) -> bool:
    """True if a plain (unquoted) scalar `text` would not read back as a string."""
    return any(str(resolver.resolve(ScalarNode, text, (True, False))) != _STR_TAG for resolver in _RESOLVERS)


@functools.lru_cache(maxsize=65536)
def _plain_safe(text: str) -> bool:
    return (
        text != ""
        and text[0] not in _INDICATORS
        and text == text.strip()
        and ": " not in text
        and " #" not in text
        and not text.endswith(":")
        and "\t" not in text
        and not _is_ambiguous(text)
    )


def _needs_escapes(text: str) -> bool:
    return not text.replace("\n", "").isprintable()


def _single_quoted(text: str) -> str:
    return "'" + text.replace("'", "''") + "'"


@functools.lru_cache(maxsize=65536)
def _key(text: str) -> str:
    if not isinstance(text, str):
        return scalar(text)
    if "\n" in text or _needs_escapes(text):
        return quoted(text)
    return text if _plain_safe(text) else _single_quoted(text)


@functools.lru_cache(maxsize=65536)
def _string(text: str, indent: int) -> tuple[str, ...]:
    """A string value: the text after `key: ` (first element) and any block lines after it."""
    if _needs_escapes(text):
        return (quoted(text),)
    if "\n" in text:
        return tuple(_block(text, indent))
    return (text if _plain_safe(text) else _single_quoted(text),)


def _block(text: str, indent: int) -> list[str]:
    """A literal block scalar (`|`), with the chomping indicator that keeps the trailing newlines."""
    body = text[:-1] if text.endswith("\n") else text
    if not text.endswith("\n"):
        chomp = "-"
    elif text.endswith("\n\n") or text == "\n":
        chomp = "+"
        body = text[:-1]
    else:
        chomp = ""
    lines = body.split("\n")
    pad = " " * (indent + 2)
    header = "|" + ("2" if lines[0].startswith(" ") else "") + chomp
    return [header] + [(pad + line) if line else "" for line in lines]


# Leaves are most of a document and never a mapping or a sequence: they go straight to
# `scalar`, past the (slow) abstract-class checks.
_LEAVES = (str, int, float, bool, type(None))


class _Writer:
    def __init__(self, comments: Mapping[ValuePath, str]) -> None:
        self.lines: list[str] = []
        self.comments = comments
        self.track_paths = bool(comments)  # a value's path only serves to find its comment

    def mapping(self, value: Mapping, indent: int, path: ValuePath, first_prefix: str | None = None) -> None:
        pad = " " * indent
        prefix = pad if first_prefix is None else first_prefix
        for key, item in value.items():
            self.entry(key_head(prefix, _key(key), indent), item, indent, path + (key,) if self.track_paths else path)
            prefix = pad

    def sequence(self, value: Sequence, indent: int, path: ValuePath) -> None:
        pad = " " * (indent + 2)
        for position, item in enumerate(value):
            self.item(pad + "- ", item, indent + 4, path + (str(position),) if self.track_paths else path)

    def entry(self, head: str, item: Any, indent: int, path: ValuePath) -> None:
        if isinstance(item, _LEAVES):
            self.scalar(head + " ", item, indent, path)
        elif isinstance(item, Mapping) and item:
            self.lines.append(head)
            self.mapping(item, indent + 2, path)
        elif isinstance(item, (list, tuple)) and item:
            self.lines.append(head)
            self.sequence(item, indent, path)
        else:
            self.scalar(head + " ", item, indent, path)

    def item(self, head: str, item: Any, indent: int, path: ValuePath) -> None:
        if isinstance(item, _LEAVES):
            self.scalar(head, item, indent - 2, path)
        elif isinstance(item, Mapping) and item:
            self.mapping(item, indent, path, first_prefix=head)
        elif isinstance(item, (list, tuple)) and item:
            self.lines.append(head.rstrip())
            self.sequence(item, indent, path)
        else:
            self.scalar(head, item, indent - 2, path)

    def scalar(self, head: str, item: Any, indent: int, path: ValuePath) -> None:
        if isinstance(item, str):
            text = _string(item, indent)
        elif isinstance(item, Mapping):
            text = ["{}"]
        elif isinstance(item, (list, tuple)):
            text = ["[]"]
        else:
            text = [scalar(item)]
        comment = self.comments.get(path) if self.track_paths else None
        first = head + text[0] + (f"  # {comment}" if comment is not None else "")
        self.lines.append(first)
        self.lines.extend(text[1:])


def dump_yaml(docs: Sequence[Mapping[str, Any]], *, line_comments: Mapping[tuple[int, ValuePath], str] | None = None,
              header: str | None = None) -> str:
    """YAML text of `docs`. `line_comments[(i, path)]` is written after the value at `path`
    of document i (the text after `# `). `header` becomes leading `# ` comment lines."""
    comments: dict[int, dict[ValuePath, str]] = {}
    for (index, path), comment in (line_comments or {}).items():
        if not _has_scalar_at(docs[index], path):
            raise KeyError(f"no value at {'.'.join(path)} to carry the comment {comment!r}")
        comments.setdefault(index, {})[tuple(path)] = comment
    parts = []
    for index, doc in enumerate(docs):
        writer = _Writer(comments.get(index, {}))
        if doc:
            writer.mapping(doc, 0, ())
        else:
            writer.lines.append("{}")
        parts.append("\n".join(writer.lines) + "\n")
    text = "---\n".join(parts)
    if header:
        text = "".join(f"# {line}".rstrip() + "\n" for line in header.splitlines()) + ("---\n" if parts else "") + text
    return text


def _has_scalar_at(doc: Mapping[str, Any], path: ValuePath) -> bool:
    node: Any = doc
    for key in path:
        if not isinstance(node, Mapping) or key not in node:
            return False
        node = node[key]
    return not isinstance(node, (Mapping, list, tuple))
