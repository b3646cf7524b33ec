"""Objects read from a YAML file of the program (compiler/semantic/objectfile.py): plain values,
the position of every key and item, and one error with its position for what is no object."""

from __future__ import annotations

import pytest

from gop.compiler.semantic.objectfile import YamlFileError, yaml_objects

TEXT = """\
apiVersion: v1
kind: ResourceQuota
metadata:
  name: q
  creationTimestamp: 2024-01-02
spec:
  hard:
    cpu: "20"
    memry: 1Gi
    pods: 10
  scopes: [a, b]
---
# an empty document is no object
---
apiVersion: v1
kind: LimitRange
metadata: {name: l}
"""


def test_documents_become_plain_objects_in_order():
    objects = yaml_objects(TEXT)
    assert [o.value["kind"] for o in objects] == ["ResourceQuota", "LimitRange"]
    quota = objects[0].value
    assert quota["spec"] == {"hard": {"cpu": "20", "memry": "1Gi", "pods": 10}, "scopes": ["a", "b"]}
    assert type(quota["spec"]["hard"]["pods"]) is int and type(quota) is dict and type(quota["spec"]["scopes"]) is list
    assert quota["metadata"]["creationTimestamp"] == "2024-01-02"


def test_a_path_is_found_at_its_deepest_written_key_or_item():
    quota, limits = yaml_objects(TEXT)
    assert quota.position(("spec", "hard", "memry")) == (8, 4)
    assert quota.position(("spec", "scopes", 1)) == (10, 14)
    assert quota.position(("spec", "missing", "x")) == (5, 0)
    assert quota.position(()) == (0, 0)
    assert limits.position(("metadata", "name")) == (16, 11)


@pytest.mark.parametrize(("text", "message", "where"), [
    ("a: [\n", "not valid YAML", (1, 0)),
    ("- a\n", "not a Kubernetes object", (0, 0)),
    ("a: 1\n---\njust text\n", "not a Kubernetes object", (0, 0)),
])
def test_what_is_no_object_is_one_error_with_its_place(text, message, where):
    with pytest.raises(YamlFileError) as raised:
        yaml_objects(text)
    assert message in raised.value.message
    assert (raised.value.line, raised.value.column) == where
