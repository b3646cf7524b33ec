"""Kubernetes objects read from a YAML file of the program (`resource NAME { file = "k8s/x.yaml" }`).

Input: the text of a YAML file (one or more documents). Output: `YamlObject`s, one per document
that is not empty: the object as plain values (dict, list, str, int, float, bool, None) and where
each key and list item is written (0-based line and column), so that a problem at a path of the
object is reported at its place in the file; or a `YamlFileError` (the text is no YAML, or a
document is no mapping) with its position.

Invariants: pure; plain values only (a YAML timestamp becomes its text, as Kubernetes reads a
time); the position of a path is that of its deepest key or item the file writes.
"""

from __future__ import annotations

import datetime
from dataclasses import dataclass
from typing import Any

from ruamel.yaml import YAML
from ruamel.yaml.comments import CommentedMap, CommentedSeq
from ruamel.yaml.error import MarkedYAMLError, YAMLError


class YamlFileError(Exception):
    def __init__(self, message: str, line: int = 0, column: int = 0):
        super().__init__(message)
        self.message, self.line, self.column = message, line, column


@dataclass(frozen=True, slots=True, eq=False)
class YamlObject:
    value: dict[str, Any]
    _node: CommentedMap

    def position(self, path: tuple) -> tuple[int, int]:
        """(line, column) of the deepest key or list item of `path` the file writes."""
        node: Any = self._node
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
    reader = YAML(typ="rt")
    try:
        documents = list(reader.load_all(text))
    except MarkedYAMLError as error:
        mark = error.problem_mark or error.context_mark
        raise YamlFileError(f"not valid YAML: {error.problem or error.context}",
                            mark.line if mark else 0, mark.column if mark else 0) from None
    except YAMLError as error:
        raise YamlFileError(f"not valid YAML: {error}") from None
    objects = []
    for document in documents:
        if document is None:
            continue
        if not isinstance(document, CommentedMap):
            raise YamlFileError("a document is not a Kubernetes object (a mapping with apiVersion, kind and metadata)")
        objects.append(YamlObject(_plain(document), document))
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
