"""Map keys that kustomize cannot carry through a HelmRelease patch (E0703).

Input: a `Fleet` (and the session's memo of each instance's keys, or None). Output: (span, message) for every key an env, a selector overlay or a cluster
sets that kustomize would fail on, and every key of a release's own values (its base HelmRelease
carries them), one per assignment.

Kustomize (kyaml) re-reads every object it patches as YAML from its JSON form, where a key is an
implicit key: YAML allows those up to 1024 characters, so a key whose JSON form (Go's escaping,
quotes included) is longer fails `kubectl kustomize` whatever form the file wrote it in. The app
layer's values go to the chart's values.yaml, which only Helm reads: no limit there.
"""

from __future__ import annotations

import itertools

from gop.compiler.core.identity import RoundMemo
from gop.compiler.core.span import Span
from gop.compiler.emit.gojson import go_string
from gop.compiler.fleet.model import Fleet

IMPLICIT_KEY_LIMIT = 1024  # characters of a YAML implicit key


def go_json_length(key: str) -> int:
    """The length of `key` as Go's encoding/json writes it, quotes included."""
    return len(go_string(key))


def overlong_keys(fleet: Fleet, kept: RoundMemo | None = None) -> list[tuple[Span | None, str]]:
    """`kept`: each instance's overlong keys by the instance (the session's `LoweringMemo.overlong`:
    an analysis after an edit walks only the instances it made anew), or None."""
    found: dict[tuple, tuple[Span | None, str]] = {}
    keys = [key for release in fleet.releases.values()
            for key in _overlong(release.base, release.base_origins, "a release's own values go into its HelmRelease")]
    every = list(itertools.chain.from_iterable((*cluster.instances.values(), *cluster.releases.values())
                                               for cluster in fleet.clusters.values()))
    for instance in dict(zip(map(id, every), every)).values():
        known = kept.get(instance) if kept is not None else None
        if known is None:
            known = tuple(key for tree in (instance.env_values, instance.cluster_values)
                          for key in _overlong(tree, instance.origins, _LAYERS_GO_INTO_PATCHES))
            if kept is not None:
                kept.put(instance, known)
        keys += known
    for span, path, why in keys:
        message = (f"the key `{path[-1][:40]}...` ({len(path[-1])} characters) is too long for "
                   f"kustomize, which allows {IMPLICIT_KEY_LIMIT} characters for a key in JSON form "
                   f"(quotes and escapes included); {why}")
        found.setdefault((span, path), (span, message))
    return list(found.values())


_LAYERS_GO_INTO_PATCHES = "what an env, overlay or cluster sets goes into a HelmRelease patch"


def _overlong(tree: dict, origins: dict, why: str) -> list[tuple[Span | None, tuple[str, ...], str]]:
    """(where it was set, path, why) of every overlong key of `tree`."""
    paths: list[tuple[str, ...]] = []
    if tree:  # most instances' env and cluster values: none
        _overlong_paths(tree, (), paths)
    return [(_span_of(origins, path), path, why) for path in paths]


def _overlong_paths(tree: dict, path: tuple[str, ...], found: list[tuple[str, ...]]) -> None:
    """Append to `found` the path of every overlong key in `tree` (not below one)."""
    for key, value in tree.items():
        # Go writes a character in at most 6: a shorter key cannot be too long (most keys, cheaply).
        if isinstance(key, str) and len(key) * 6 + 2 > IMPLICIT_KEY_LIMIT and go_json_length(key) > IMPLICIT_KEY_LIMIT:
            found.append(path + (key,))
        elif isinstance(value, dict) and value:  # most values are leaves: no call for them
            _overlong_paths(value, path + (key,), found)


def _span_of(origins: dict, path: tuple[str, ...]) -> Span | None:
    """Where the value at `path` (or the nearest record around it) was set."""
    for end in range(len(path), 0, -1):
        origin = origins.get(path[:end])
        if origin is not None and origin.span is not None:
            return origin.span
    return None
