"""YAML streams of Kubernetes objects for stdout (`gopc render`): `---`-separated, block
style, keys in the objects' own order, strings quoted only where YAML needs it."""

from __future__ import annotations

import io

from ruamel.yaml import YAML


def dump_all(objects: list[dict]) -> str:
    yaml = YAML()
    yaml.default_flow_style = False
    yaml.width = 4096
    stream = io.StringIO()
    yaml.explicit_start = True
    yaml.dump_all(objects, stream)
    return stream.getvalue()
