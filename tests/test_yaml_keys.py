"""Long and odd mapping keys read back as written, from both YAML writers and from `gopc build`.

YAML limits implicit keys to 1024 characters; the one YAML emitter (compiler/emit/yaml.py) writes
longer keys in the explicit `? key` form, in chart files (`Quoting.WORDS`) and Flux files alike. PyYAML stands for the YAML 1.1 readers, ruamel.yaml for the 1.2 ones;
kubectl kustomize reads a built patch that carries such a key; a key it cannot read back (over
1024 characters in JSON form) is E0703 at `gopc check`.
"""

from __future__ import annotations

import io
import shutil
from pathlib import Path

import pytest

import yaml
from hypothesis import given, settings
from hypothesis import strategies as st
from ruamel.yaml import YAML

import realtools as rt
from gop.compiler.session import analyse
from gop.compiler.lower.flux.keys import IMPLICIT_KEY_LIMIT, go_json_length
from gop.compiler.emit.yaml import Comments, Quoting, dump_yaml
from test_build import EXAMPLE, gopc

TEXT = st.text(st.characters(blacklist_categories=("Cs",), blacklist_characters="\x00\x85\u2028\u2029\ufeff",
                             min_codepoint=0x09), max_size=12).filter(lambda t: "\r" not in t)
LONG = st.builds(lambda part, length: ((part or "k") * length)[:length], TEXT, st.integers(480, 1400))
KEYS = st.one_of(TEXT, LONG, st.sampled_from(["? x", ": y", "- z", "a: b", "#c", "yes", "0o17", "~", "'q'", '"d"']))
LEAVES = st.one_of(TEXT, st.integers(), st.booleans())
VALUES = st.recursive(LEAVES, lambda inner: st.one_of(st.lists(inner, min_size=1, max_size=3),
                                                      st.dictionaries(KEYS, inner, min_size=1, max_size=3)),
                      max_leaves=6)
DOCUMENTS = st.dictionaries(KEYS, VALUES, min_size=1, max_size=4)


def read_both(text: str):
    """The document as PyYAML (YAML 1.1) and ruamel.yaml (1.2) read it."""
    return yaml.safe_load(text), YAML(typ="safe", pure=True).load(io.StringIO(text))


@settings(max_examples=150, deadline=None)
@given(DOCUMENTS)
def test_flux_writer_reads_back_long_and_odd_keys(document):
    assert read_both(dump_yaml([document])) == (document, document)


@settings(max_examples=150, deadline=None)
@given(DOCUMENTS)
def test_chart_writer_reads_back_long_and_odd_keys(document):
    assert read_both(dump_yaml([document], quoting=Quoting.WORDS)) == (document, document)


def test_a_long_key_in_a_list_item_and_under_a_line_comment():
    key = "k" * 1100
    document = {"spec": {"items": [{key: {"a": 1}, "b": [key]}], "values": {key: "x", "tag": "1.0"}}}
    text = dump_yaml([document], comments={0: Comments(line={("spec", "values", "tag"): "marker"})})
    assert read_both(text) == (document, document)
    assert "tag: '1.0'  # marker" in text


def _with_env_key(tmp_path, key: str):
    program = tmp_path / "shop"
    shutil.copytree(EXAMPLE, program)
    envs = program / "envs.gop"
    text = envs.read_text()
    envs.write_text(text.replace('values.logLevel = "debug"', f'values.logLevel = "debug"\n    values.features {{ "{key}" = true }}'))
    line = text[:text.index('values.logLevel = "debug"')].count("\n") + 2
    return program, line


def test_a_long_key_an_env_sets_reaches_the_built_patch_and_kustomize(tmp_path):
    key = "flag-<&>" + "x" * 999  # written as `? key`; 1024 characters in Go's JSON, the most kustomize reads
    assert go_json_length(key) == IMPLICIT_KEY_LIMIT
    program, _ = _with_env_key(tmp_path, key)
    assert not analyse([program]).diagnostics
    tree = tmp_path / "tree"
    gopc("build", program, "-o", tree)
    patch = (tree / "apps" / "dev" / "web" / "web-values.yaml").read_text()
    assert "? " in patch
    for read in read_both(patch):
        assert read["spec"]["values"]["values"]["features"] == {key: True}
    built = rt.kubectl_kustomize(tree / "apps" / "dev" / "web")
    assert [doc["spec"]["values"]["values"]["features"] for doc in built if doc["kind"] == "HelmRelease"] == [{key: True}]


def test_a_key_kustomize_cannot_read_back_is_e0703_where_it_is_set(tmp_path):
    key = "flag-<&>" + "x" * 1000
    program, line = _with_env_key(tmp_path, key)
    diagnostics = analyse([program]).diagnostics
    assert [(d.code, Path(d.span.file).name) for d in diagnostics] == [("E0703", "envs.gop")]
    source = (program / "envs.gop").read_text()
    assert source[:diagnostics[0].span.start].count("\n") + 1 == line
    assert source[diagnostics[0].span.start:].startswith(f'"{key}"')
    done = gopc("build", program, "-o", tmp_path / "tree", check=False)
    assert done.returncode == 1 and "E0703" in done.stderr and not (tmp_path / "tree").exists()
    tree = tmp_path / "kustomize"
    (tree / "patch").mkdir(parents=True)
    (tree / "patch" / "cm.yaml").write_text(dump_yaml([{"apiVersion": "v1", "kind": "ConfigMap",
                                                        "metadata": {"name": "a"}, "data": {key: "v"}}]))
    (tree / "patch" / "kustomization.yaml").write_text("resources: [cm.yaml]\n")
    with pytest.raises(rt.ToolError):  # the limit is kustomize's own
        rt.kubectl_kustomize(tree / "patch")
