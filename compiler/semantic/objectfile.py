"""Kubernetes objects read from a YAML file of the program (`resource NAME { file = "k8s/x.yaml" }`).

Input: the text of a YAML file (one or more documents). Output: `YamlObject`s, one per document
that is not empty: the object as plain values (dict, list, str, int, float, bool, None) and where
each key and list item is written (0-based line and column), so that a problem at a path of the
object is reported at its place in the file; or a `YamlFileError` (the text is no YAML, or a
document is no mapping) with its position.

Invariants: pure; plain values only (a YAML timestamp becomes its text, as Kubernetes reads a
time); the position of a path is that of its deepest key or item the file writes.

Speed: files of CRDs run to megabytes, so the values come from the safe loader (C, with
ruamel.yaml.clib) and the positions from a round-trip parse (pure Python, ten times slower),
made only when a position is asked for (a problem to report), once per file.
"""

from __future__ import annotations

import datetime
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from ruamel.yaml.comments import CommentedMap

# ruamel.yaml is imported where a file is read: a program without YAML files (most checks) never loads it.


class YamlFileError(Exception):
    def __init__(self, message: str, line: int = 0, column: int = 0):
        super().__init__(message)
        self.message, self.line, self.column = message, line, column


@dataclass(slots=True, eq=False)
class _Positions:
    """The round-trip parse of a file's text, made the first time one of its objects is asked for a position."""

    text: str
    documents: list[CommentedMap] | None = field(default=None)

    def node(self, index: int) -> CommentedMap:
        if self.documents is None:
            from ruamel.yaml import YAML

            self.documents = [document for document in YAML(typ="rt").load_all(self.text) if document is not None]
        return self.documents[index]


@dataclass(frozen=True, slots=True, eq=False)
class YamlObject:
    value: dict[str, Any]
    _positions: _Positions
    _index: int  # of the object among the file's non-empty documents

    def position(self, path: tuple) -> tuple[int, int]:
        """(line, column) of the deepest key or list item of `path` the file writes."""
        from ruamel.yaml.comments import CommentedMap, CommentedSeq

        node: Any = self._positions.node(self._index)
        where = (node.lc.line, node.lc.col)
        for key in path:
            if isinstance(node, CommentedMap) and key in node:
                where = node.lc.key(key)
            elif isinstance(node, CommentedSeq) and isinstance(key, int) and 0 <= key < len(node):
                where = node.lc.item(key)
            else:
                break
            node = node[key]
        return where


def yaml_objects(text: str) -> list[YamlObject]:
    """The objects of a YAML file, in order; raises YamlFileError."""
    from ruamel.yaml import YAML
    from ruamel.yaml.error import MarkedYAMLError, YAMLError

    reader = YAML(typ="safe")
    try:
        documents = list(reader.load_all(text))
    except MarkedYAMLError as error:
        mark = error.problem_mark or error.context_mark
        raise YamlFileError(f"not valid YAML: {error.problem or error.context}",
                            mark.line if mark else 0, mark.column if mark else 0) from None
    except YAMLError as error:
        raise YamlFileError(f"not valid YAML: {error}") from None
    positions = _Positions(text)
    objects = []
    for document in (document for document in documents if document is not None):
        if not isinstance(document, dict):
            raise YamlFileError("a document is not a Kubernetes object (a mapping with apiVersion, kind and metadata)")
        objects.append(YamlObject(_plain(document), positions, len(objects)))
    return objects


def _plain(node: Any) -> Any:
    if isinstance(node, dict):
        return {str(key): _plain(value) for key, value in node.items()}
    if isinstance(node, list):
        return [_plain(value) for value in node]
    if isinstance(node, bool) or node is None:
        return node
    if isinstance(node, int):
        return int(node)
    if isinstance(node, float):
        return float(node)
    if isinstance(node, (datetime.date, datetime.datetime)):
        return node.isoformat()
    return str(node)
