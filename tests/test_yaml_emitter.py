"""The one YAML emitter (compiler/emit/yaml.py) writes text that reads back as exactly what it was given.

PyYAML stands for the YAML 1.1 readers (Helm's go-yaml, kubectl), ruamel.yaml (the version we
depend on, its safe pure loader) for the YAML 1.2 ones (kustomize's kyaml). Read-back compares
types and key order too (`True == 1` in Python, so plain equality would not do). Both quotings
(`MINIMAL` for Kubernetes objects, `WORDS` for chart files) are checked with every kind of string:
YAML 1.1 booleans, octals and sexagesimals, YAML 1.2 numbers, indicators, `: ` and ` #`,
document markers, leading and trailing spaces, tabs, control characters, line separators,
unicode, and keys longer than YAML's implicit-key limit. test_flux_tools.py sends such strings
through the real kubectl kustomize and helm.
"""

from __future__ import annotations

import io

import pytest
import yaml
from hypothesis import given, settings
from hypothesis import strategies as st
from ruamel.yaml import YAML

from gop.compiler.emit.yaml import Comments, Quoting, dump_all, dump_yaml

LOOKALIKES = [
    "yes", "No", "ON", "off", "y", "N", "true", "False", "null", "Null", "~", "", " ", "0755", "0o17", "0x1F", "0b101",
    "1_000", "1e3", "1.0", "-.inf", ".NaN", "12:30", "12:30:00", "-1:20", "2001-12-14", "2001-12-14t21:59:43.10-05:00",
    "=", "<<", "---", "...", "--- a", "- a", "? a", ": a", "a: b", "a:", "a #b", "#x", "&a", "*a", "!tag", "%YAML",
    "@x", "`x", "|", ">", "'q'", '"d"', "{a}", "[a]", "a,b", " a", "a ", "\ta", "a\t", "\n", "\n\n", " \n", "\n a",
    "a\n", "a\n\n", "a\nb", " a\nb", "\r", "\r\n", "\x00", "\x07", "\x1b", "\x7f", "\x85", "\xa0", "\u2028", "\u2029",
    "\ufeff", "\ufffe", "é", "日本", "\U0001F469\u200d\U0001F4BB", "\\", "\\n",
]
# Any text a program can hold: every character but lone surrogates (not UTF-8).
TEXT = st.text(st.characters(blacklist_categories=("Cs",)), max_size=20)
STRINGS = st.one_of(TEXT, st.sampled_from(LOOKALIKES), st.lists(st.sampled_from(LOOKALIKES) | TEXT, max_size=4).map("".join))
LONG = st.builds(lambda part, length: ((part or "k") * length)[:length], STRINGS, st.integers(480, 1400))
KEYS = st.one_of(STRINGS, LONG)
LEAVES = st.one_of(STRINGS, st.integers(-2**63, 2**63), st.booleans(), st.none(),
                   st.floats(allow_nan=False, allow_infinity=False))
VALUES = st.recursive(LEAVES, lambda inner: st.one_of(st.lists(inner, max_size=4), st.dictionaries(KEYS, inner, max_size=4)),
                      max_leaves=16)
DOCUMENTS = st.dictionaries(KEYS, VALUES, max_size=5)
QUOTINGS = st.sampled_from(list(Quoting))


def typed(value):
    """`value` with each leaf's type beside it and mappings as ordered item lists."""
    if isinstance(value, dict):
        return ["map", [(typed(key), typed(item)) for key, item in value.items()]]
    if isinstance(value, list):
        return ["list", [typed(item) for item in value]]
    return [type(value).__name__, value]


def read_both(text: str) -> tuple[list, list]:
    """The documents of `text` as PyYAML (YAML 1.1) and ruamel.yaml (YAML 1.2) read them."""
    return list(yaml.safe_load_all(text)), list(YAML(typ="safe", pure=True).load_all(io.StringIO(text)))


def assert_reads_back(text: str, documents: list) -> None:
    for read in read_both(text):
        assert typed(read) == typed(documents), text


@settings(max_examples=300, deadline=None)
@given(st.lists(DOCUMENTS, min_size=1, max_size=3), QUOTINGS)
def test_documents_read_back_as_written_in_yaml_1_1_and_1_2(documents, quoting):
    assert_reads_back(dump_yaml(documents, quoting=quoting), documents)


@settings(max_examples=300, deadline=None)
@given(STRINGS, STRINGS, QUOTINGS)
def test_every_string_reads_back_as_key_value_and_list_item(key, value, quoting):
    document = {key: value, "list": [value, [value], {key: value}], "nested": {key: {key: [value]}}}
    assert_reads_back(dump_yaml([document], quoting=quoting), [document])


@settings(max_examples=150, deadline=None)
@given(DOCUMENTS.filter(bool), st.lists(TEXT, max_size=3), st.lists(TEXT, max_size=3), TEXT, QUOTINGS)
def test_comments_of_any_text_leave_the_data_alone(document, before, after, line, quoting):
    first = next(iter(document))
    comments = Comments(before={(first,): before}, after={(): after})
    if not isinstance(document[first], (dict, list)):
        comments.line[(first,)] = line
    text = dump_yaml([document], quoting=quoting, comments={0: comments}, header="\n".join(before) or None)
    assert_reads_back(text, [document])


def test_a_document_of_each_kind_of_string_reads_back():
    document = {text: text for text in LOOKALIKES} | {"list": LOOKALIKES}
    for quoting in Quoting:
        assert_reads_back(dump_yaml([document], quoting=quoting), [document])


@pytest.mark.parametrize("quoting", list(Quoting))
def test_a_long_key_takes_the_explicit_form(quoting):
    key = "k" * 1100
    document = {"spec": {"items": [{key: {"a": 1}, "b": [key]}], "values": {key: "x"}}}
    text = dump_yaml([document], quoting=quoting)
    assert text.count(f"? {key}\n") == 2 and f"{key}:" not in text
    assert_reads_back(text, [document])


def test_quotings_differ_in_one_line_strings_and_in_stating_every_blocks_indentation():
    document = {"tag": "3.1.0", "cpu": "1", "on": "on", "word": "nginx", "text": "a\nb\n", "lead": " a\nb"}
    assert dump_yaml([document]) == (
        "tag: 3.1.0\ncpu: '1'\n'on': 'on'\nword: nginx\ntext: |\n  a\n  b\nlead: |2-\n   a\n  b\n")
    assert dump_yaml([document], quoting=Quoting.WORDS) == (
        'tag: "3.1.0"\ncpu: "1"\n"on": "on"\nword: nginx\ntext: |2\n  a\n  b\nlead: |2-\n   a\n  b\n')


@pytest.mark.parametrize("text", ["\n ", "\n  x\ny", "\n\n \n x", "\tx\ny", " \n"])
def test_a_block_states_its_indentation_where_a_reader_could_not_infer_it(text):
    written = dump_yaml([{"a": text}])
    assert written.startswith("a: |2")
    assert_reads_back(written, [{"a": text}])


# Before the two emitters became one, the Flux writer double-quoted multi-line text with a tab
# and one-line text with what Python does not print (no-break space, soft hyphen, joiners,
# private use); the one emitter quotes only what YAML cannot hold, as the chart writer did.
# No golden holds such text; the old and the new text read back as the same data.
OLD_FLUX_TEXT = [
    'data:\n  nginx.conf: "server {\\n\\tlisten 80;\\n}\\n"\n  two: |-\n    a\n    b\n  kept: |+\n    a\n\n'
    '  lead: |2\n     x\n    y\n',
    'nbsp: "a\xa0b"\nshy: "co\xadop"\nzwj: "\U0001F469\u200d\U0001F4BB"\nprivate: "\ue000"\n',
]
NEW_TEXT = [
    "data:\n  nginx.conf: |\n    server {\n    \tlisten 80;\n    }\n  two: |-\n    a\n    b\n  kept: |+\n    a\n\n"
    "  lead: |2\n     x\n    y\n",
    "nbsp: a\xa0b\nshy: co\xadop\nzwj: \U0001F469\u200d\U0001F4BB\nprivate: \ue000\n",
]
DATA = [{"data": {"nginx.conf": "server {\n\tlisten 80;\n}\n", "two": "a\nb", "kept": "a\n\n", "lead": " x\ny\n"}},
        {"nbsp": "a\xa0b", "shy": "co\xadop", "zwj": "\U0001F469\u200d\U0001F4BB", "private": "\ue000"}]


@pytest.mark.parametrize("index", range(len(DATA)))
def test_the_old_flux_text_and_the_new_read_back_the_same(index):
    assert dump_yaml([DATA[index]]) == NEW_TEXT[index]
    assert_reads_back(OLD_FLUX_TEXT[index], [DATA[index]])
    assert_reads_back(NEW_TEXT[index], [DATA[index]])


def test_line_comments_and_headers_are_comments_only():
    documents = [{"spec": {"values": {"image": {"tag": "1.4.2"}}}}, {"kind": "Other"}]
    marker = '{"$imagepolicy": "flux-system:checkout:tag"}'
    text = dump_yaml(documents, comments={0: Comments(line={("spec", "values", "image", "tag"): marker})},
                     header="Generated.\nSecond line.")
    assert text.startswith("# Generated.\n# Second line.\n---\n")
    assert f"tag: 1.4.2  # {marker}\n" in text
    assert_reads_back(text, documents)


def test_a_line_comment_needs_a_scalar_to_stand_after():
    with pytest.raises(KeyError):
        dump_yaml([{"spec": {"values": {}}}], comments={0: Comments(line={("spec", "values"): "marker"})})


def test_own_line_comments_stand_before_their_key_and_at_the_end_of_their_mapping():
    comments = Comments(before={("image",): ["The image."], ("image", "tag"): ["The tag;\nsecond line."]},
                        after={("image",): ["pullPolicy: optional, not set"]})
    text = dump_yaml([{"image": {"tag": "1.0"}, "replicas": 2}], quoting=Quoting.WORDS, comments={0: comments})
    assert text == ('# The image.\nimage:\n  # The tag;\n  # second line.\n  tag: "1.0"\n'
                    "  # pullPolicy: optional, not set\nreplicas: 2\n")


def test_a_shared_subtree_is_written_out_twice_not_aliased():
    shared = {"name": "infrastructure"}
    text = dump_yaml([{"a": shared, "b": shared}])
    assert "&" not in text and "*" not in text
    assert yaml.safe_load(text) == {"a": shared, "b": shared}


def test_a_stream_starts_with_a_document_marker_and_no_objects_write_nothing():
    assert dump_all([{"kind": "A"}, {"kind": "B"}]) == "---\nkind: A\n---\nkind: B\n"
    assert dump_all([]) == ""


def test_a_float_always_reads_back_as_a_float():
    numbers = [1.0, 1e-06, 1e16, -0.0, 123456789.125]
    text = dump_yaml([{"numbers": numbers}])
    assert "1.0e-06" in text and "1.0e+16" in text
    assert_reads_back(text, [{"numbers": numbers}])


@settings(max_examples=300)
@given(st.sampled_from(sorted({*"!&*+-.0123456789<=FNOTYfnoty~", *"abgkmsxzAZ_/é€ 😀"})),
       st.text(alphabet="01:.-+_eExXoObBaeflnrstuyY ~", max_size=6))
def test_a_first_character_no_resolver_looks_at_reads_as_text_at_once(first, rest):
    """The shortcut of `_read_as_text` (no implicit resolver of either version for the first
    character: a string) says what ruamel's resolvers say, whatever follows the first character."""
    from gop.compiler.emit.yaml import _STR_TAG, _read_as_text, _resolvers

    node, resolvers, first_characters = _resolvers()
    text = first + rest
    assert first_characters is not None and "a" not in first_characters and "t" in first_characters
    assert _read_as_text(text) == all(str(resolver.resolve(node, text, (True, False))) == _STR_TAG
                                      for resolver in resolvers)
