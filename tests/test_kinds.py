"""Kinds are spelt once: the language's resource kinds (compiler/language.py) are the ones the
grammar accepts, and objects are identified by one key (compiler/lower/kinds.py) in `gopc render`
and `gopc diff`."""

from __future__ import annotations

import re
from pathlib import Path

from gop.compiler.commands.diff import keyed
from gop.compiler.language import RESOURCE_KINDS, TOP_LEVEL_KEYWORDS
from gop.compiler.lower.kinds import object_key

GRAMMAR = Path(__file__).resolve().parents[1] / "grammar" / "gop.lark"


def test_the_grammar_accepts_exactly_the_languages_resource_kinds():
    rule = re.search(r"^RESOURCE_KIND:((?:.|\n\s+\|)*)$", GRAMMAR.read_text(encoding="utf-8"), re.MULTILINE)
    assert rule is not None
    assert re.findall(r'"(\w+)"', rule.group(1)) == list(RESOURCE_KINDS)
    assert set(RESOURCE_KINDS) <= TOP_LEVEL_KEYWORDS


def test_an_objects_key_is_total_and_made_of_strings():
    assert object_key({"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": "shop"}}) == ("v1", "Namespace", "", "shop")
    assert object_key({"kind": "ConfigMap", "metadata": {"namespace": None, "name": 7}}) == ("", "ConfigMap", "", "7")
    assert object_key({}) == ("", "", "", "")


def test_diff_keys_objects_read_back_the_way_render_sorts_them():
    docs = [{"apiVersion": "v1", "kind": "Service", "metadata": {"name": "web", "namespace": "shop"}},
            {"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": "shop", "namespace": None}}]
    assert list(keyed(docs)) == [object_key(doc) for doc in docs] == [
        ("v1", "Service", "shop", "web"), ("v1", "Namespace", "", "shop")]
