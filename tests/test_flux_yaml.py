"""The Flux lowering's YAML emitter reads back as what it was given, in YAML 1.1 and 1.2.

PyYAML stands for the YAML 1.1 readers (Helm's sigs.k8s.io/yaml), ruamel.yaml in its default
1.2 mode for kustomize's kyaml. test_flux_tools.py sends the same kinds of strings through
the real kubectl kustomize and helm.
"""

from __future__ import annotations

import io

import yaml
from hypothesis import given
from hypothesis import strategies as st
from ruamel.yaml import YAML

from gop.compiler.emit.yaml import dump_yaml

# Text YAML can carry at all: no surrogates, no C0/C1 controls other than tab and newline
# (YAML has no escape-free form for them, and our values never contain them).
TEXT = st.text(st.characters(blacklist_categories=("Cs",), blacklist_characters="\x00\x85\u2028\u2029\ufeff",
                             min_codepoint=0x09), max_size=30).filter(lambda t: "\r" not in t)
SCALARS = st.one_of(TEXT, st.integers(-2**53, 2**53), st.booleans(), st.floats(allow_nan=False, allow_infinity=False))
VALUES = st.recursive(SCALARS, lambda inner: st.one_of(st.lists(inner, max_size=4),
                                                       st.dictionaries(TEXT, inner, max_size=4)), max_leaves=12)


def read_12(text: str):
    return list(YAML(typ="safe", pure=True).load_all(io.StringIO(text)))


@given(st.lists(st.dictionaries(TEXT, VALUES, min_size=1, max_size=5), min_size=1, max_size=3))
def test_documents_read_back_equal_in_yaml_1_1_and_1_2(documents):
    text = dump_yaml(documents)
    assert list(yaml.safe_load_all(text)) == documents
    assert read_12(text) == documents


def test_line_comments_and_headers_are_comments_only():
    documents = [{"spec": {"values": {"image": {"tag": "1.4.2"}}}}, {"kind": "Other"}]
    marker = '{"$imagepolicy": "flux-system:checkout:tag"}'
    text = dump_yaml(documents, line_comments={(0, ("spec", "values", "image", "tag")): marker},
                     header="Generated.\nSecond line.")
    assert text.startswith("# Generated.\n# Second line.\n---\n")
    assert f"tag: 1.4.2  # {marker}\n" in text
    assert list(yaml.safe_load_all(text)) == documents


def test_a_shared_subtree_is_written_out_twice_not_aliased():
    shared = {"name": "infrastructure"}
    text = dump_yaml([{"a": shared, "b": shared}])
    assert "&" not in text and "*" not in text
    assert yaml.safe_load(text) == {"a": shared, "b": shared}
