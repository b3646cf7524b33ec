"""Deterministic YAML text for the Kustomize and Flux files of the repository.

Input: documents as plain data (dicts, lists, str, int, float, bool) in the key order
they should appear in, plus optional end-of-line comments addressed by path.
Output: YAML text; several documents are separated by `---` lines.

Invariants:
- Same input -> same bytes: key order is the insertion order, no anchors or aliases
  (a shared sub-tree is written out in full each time), no line wrapping.
- A string never changes type on the way through any reader the tree meets: it is
  quoted whenever a YAML 1.1 reader (Helm, PyYAML: `yes`, `on`, `0755`, `12:30`) or a
  YAML 1.2 reader (kustomize, ruamel: `0o17`, `1e3`, `true`) would resolve it to
  something else; control characters are escaped in double quotes; other multi-line
  strings use block style (`|`). Floats always have a `.` in the mantissa (`1.0e-06`).
"""

from __future__ import annotations

import io
import math
from collections.abc import Mapping, Sequence
from typing import Any

from ruamel.yaml import YAML
from ruamel.yaml.comments import CommentedMap, CommentedSeq
from ruamel.yaml.nodes import ScalarNode
from ruamel.yaml.representer import RoundTripRepresenter
from ruamel.yaml.resolver import VersionedResolver

ValuePath = tuple[str, ...]

_STR_TAG = "tag:yaml.org,2002:str"
_RESOLVERS = (VersionedResolver(version=(1, 1)), VersionedResolver(version=(1, 2)))


def _is_ambiguous(text: str) -> bool:
    """True if a plain (unquoted) scalar `text` would not read back as a string."""
    return any(str(resolver.resolve(ScalarNode, text, (True, False))) != _STR_TAG for resolver in _RESOLVERS)


class _Representer(RoundTripRepresenter):
    def ignore_aliases(self, data: Any) -> bool:
        return True


def _represent_str(representer: _Representer, text: str) -> ScalarNode:
    style = None
    if not all(char.isprintable() or char == "\n" for char in text):
        style = '"'  # escapes: control characters cannot appear raw in any other style
    elif "\n" in text:
        style = "|"
    elif _is_ambiguous(text):
        style = "'"
    return representer.represent_scalar(_STR_TAG, text, style=style)


def _represent_float(representer: _Representer, number: float) -> ScalarNode:
    """The shortest exact form, with a `.` in the mantissa: YAML 1.1 reads `1e-06` as a string."""
    if not math.isfinite(number):
        raise ValueError(f"cannot write {number!r} to the repository")
    text = repr(number)
    mantissa, exponent = text.split("e") if "e" in text else (text, None)
    if "." not in mantissa:
        mantissa += ".0"
    return representer.represent_scalar("tag:yaml.org,2002:float", mantissa + (f"e{exponent}" if exponent else ""))


_Representer.add_representer(str, _represent_str)
_Representer.add_representer(float, _represent_float)


def _yaml() -> YAML:
    yaml = YAML(typ="rt", pure=True)
    yaml.Representer = _Representer
    yaml.default_flow_style = False
    yaml.width = 1 << 30  # never fold long strings (URLs, semver ranges, annotations)
    yaml.indent(mapping=2, sequence=4, offset=2)
    return yaml


def _commented(value: Any) -> Any:
    """A fresh ruamel tree for `value` (fresh nodes also rule out aliases)."""
    if isinstance(value, Mapping):
        tree = CommentedMap()
        for key, item in value.items():
            tree[key] = _commented(item)
        return tree
    if isinstance(value, (list, tuple)):
        return CommentedSeq(_commented(item) for item in value)
    return value


def _add_comment(tree: CommentedMap, path: ValuePath, comment: str) -> None:
    *parents, key = path
    for part in parents:
        tree = tree[part]
    if key not in tree:
        raise KeyError(f"no value at {'.'.join(path)} to carry the comment {comment!r}")
    tree.yaml_add_eol_comment(comment, key)


def dump_yaml(docs: Sequence[Mapping[str, Any]], *, line_comments: Mapping[tuple[int, ValuePath], str] | None = None,
              header: str | None = None) -> str:
    """YAML text of `docs`. `line_comments[(i, path)]` is written after the value at `path`
    of document i (the text after `# `). `header` becomes leading `# ` comment lines."""
    yaml = _yaml()
    trees = [_commented(doc) for doc in docs]
    for (index, path), comment in sorted((line_comments or {}).items()):
        _add_comment(trees[index], path, comment)
    parts = []
    for tree in trees:
        stream = io.StringIO()
        yaml.dump(tree, stream)
        parts.append(stream.getvalue())
    text = "---\n".join(parts)
    if header:
        text = "".join(f"# {line}".rstrip() + "\n" for line in header.splitlines()) + ("---\n" if parts else "") + text
    return text
