"""YAML streams of Kubernetes objects for stdout (`gopc render`, `gopc diff`): `---`-separated,
keys in the objects' own order, and every string that a YAML 1.1 reader (kubectl, PyYAML)
would take for a boolean, number or date quoted, via the emitter the repository files use."""

from __future__ import annotations

from gop.compiler.emit.yaml import dump_yaml


def dump_all(objects: list[dict]) -> str:
    return "---\n" + dump_yaml(objects) if objects else ""
