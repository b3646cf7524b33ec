"""Value trees (`gop.compiler.values`): a patch merged over the lower tree gives the upper one,
lookup finds what merge put there, and changed paths name exactly the leaves that differ."""

from __future__ import annotations

from fractions import Fraction

from hypothesis import given
from hypothesis import strategies as st

from gop.compiler.semantic.types import Duration
from gop.compiler.values import MISSING, changed_paths, lookup, merge, patch, same
from gop.compiler.values.diff import Position

_KEYS = st.sampled_from(["a", "b", "c"])
_LEAVES = st.one_of(st.integers(-3, 3), st.booleans(), st.sampled_from(["x", "y"]), st.lists(st.integers(0, 2), max_size=2))
_TREES = st.recursive(_LEAVES, lambda inner: st.dictionaries(_KEYS, inner, min_size=1, max_size=3), max_leaves=12)
_MAPS = st.dictionaries(_KEYS, _TREES, max_size=3)


@given(_MAPS, _MAPS)
def test_the_patch_of_a_merge_merged_over_the_lower_tree_gives_the_merge(lower, higher):
    upper = merge(lower, higher)
    assert same(merge(lower, patch(upper, lower)), upper)


@given(_MAPS)
def test_a_tree_is_no_patch_of_itself(tree):
    assert patch(tree, tree) == {}
    assert list(changed_paths(tree, tree)) == []


def test_patch_keeps_what_changed_type_and_skips_shared_subtrees():
    shared = {"port": 80}
    assert patch({"a": 1, "b": shared, "c": {"d": True}}, {"a": 1.0, "b": shared, "c": {"d": 1}}) == {"a": 1, "c": {"d": True}}


def test_lookup_reads_a_path_and_tells_a_missing_one():
    tree = {"image": {"tag": "1.2"}, "none": None}
    assert lookup(tree, ("image", "tag")) == "1.2"
    assert lookup(tree, ("none",)) is None
    assert lookup(tree, ("image", "tag", "more")) is MISSING
    assert lookup(tree, ("absent",)) is MISSING
    assert lookup(tree, ()) is tree


def test_changed_paths_name_keys_and_list_positions():
    old = {"spec": {"replicas": 1, "ports": [80, 443], "args": [1]}, "gone": 1}
    new = {"spec": {"replicas": 2, "ports": [80, 8443], "args": [1, 2]}, "new": 1}
    paths = list(changed_paths(old, new))
    assert paths == [("gone",), ("new",), ("spec", "args"), ("spec", "ports", 1), ("spec", "replicas")]
    assert isinstance(paths[3][2], Position)


@given(st.integers(min_value=1, max_value=(2**63 - 1) // 10**9), st.sampled_from([1, 2, 10, 1000, 10**6, 10**9]),
       st.integers(min_value=0, max_value=10**9 - 1))
def test_duration_text_is_gos_form_for_whole_and_fractional_seconds(seconds, denominator, fraction):
    """Whole seconds take the int arithmetic, the rest Fraction's: both print Go's form, hours, minutes,
    seconds, each only when not zero."""
    total = Fraction(seconds) + Fraction(fraction % denominator, denominator)
    hours, rest = divmod(total, 3600)
    minutes, rest = divmod(rest, 60)
    expected = (f"{int(hours)}h" if hours else "") + (f"{int(minutes)}m" if minutes else "") + (
        (f"{rest.numerator}s" if rest.denominator == 1 else f"{float(rest):g}s") if rest else "")
    assert str(Duration(total)) == expected
    assert str(Duration.parse("1h30m")) == "1h30m" and str(Duration.parse("90s")) == "1m30s"
    assert str(Duration.parse("2h45m30.5s")) == "2h45m30.5s" and str(Duration.parse("3600s")) == "1h"
