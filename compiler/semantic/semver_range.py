"""Does Flux accept this semver range? (the `range` of an ImagePolicy's semver policy) Which
versions does it match? (the `version` of a release's chart, against the versions charts.lock holds)

Input: the text of `imagePolicy.semver` or of a chart's version. Output: `range_problem(text)`,
None when Flux's image-reflector-controller parses it, else a short reason; `highest_matching(
versions, text)`, the highest of the versions the range matches (as Helm picks a chart), or None.

Flux parses the range with Go's Masterminds/semver v3 (`semver.NewConstraint`). Its syntax is
npm's range syntax with a few additions, so the text goes through `nodesemver` (a port of npm's
node-semver) after `_as_npm_range` rewrites what only Masterminds accepts. The rewrite only has
to keep the answer to "does it parse", not the meaning of the range.
"""

from __future__ import annotations

import functools
import re
from collections.abc import Iterable


# An operator Masterminds has and npm lacks, just before a version: `=>` and `=<` spell `>=` and
# `<=`; `!=` takes a version as `>` does.
_MASTERMINDS_OPERATOR = re.compile(r"(?<![<>=!~^])(=>|=<|!=)(?=\s*[vV]?[0-9xX*])")
_NPM_OPERATOR = {"=>": ">=", "=<": "<=", "!=": ">"}
# Masterminds completes a partial version that has a pre-release or build (`1.1-alpha` is
# `1.1.0-alpha`, `*-0` is `0.0.0-0`); npm accepts those only on a whole version.
_PARTIAL_WITH_SUFFIX = re.compile(
    r"(?<![\w.-])v?(?P<numbers>[0-9xX*]+(?:\.[0-9xX*]+)?)(?![\w.])(?P<suffix>[-+][0-9A-Za-z.+-]+)")


def semver():
    """The `nodesemver` module, imported on first use: compiling its patterns costs a tenth of
    checking a small program, and most programs pin no chart version range."""
    import nodesemver

    return nodesemver


def range_problem(text: str) -> str | None:
    alternatives = text.split("||")
    if any(not alternative.strip() for alternative in alternatives):
        return "an alternative of `||` is empty" if len(alternatives) > 1 else "it is empty"
    try:
        semver().Range(_as_npm_range(text), loose=False)
    except (ValueError, TypeError) as error:
        return str(error)
    return None


def highest_matching(versions: Iterable[str], text: str) -> str | None:
    """The highest version that the range matches, as Masterminds/semver reads it (pre-releases
    only when the range names one); None when none does or the range does not parse."""
    matching = [version for version in versions if _matches(version, text)]
    return max(matching, key=functools.cmp_to_key(lambda a, b: semver().compare(a, b, False))) if matching else None


def _matches(version: str, text: str) -> bool:
    if range_problem(text) is not None or semver().valid(version, False) is None:
        return False
    return any(_matches_alternative(version, alternative) for alternative in text.split("||"))


def _matches_alternative(version: str, alternative: str) -> bool:
    # `!=V` has no npm spelling that keeps its meaning: taken out and checked by itself.
    excluded = [_completed_version(match[1]) for match in _EXCLUDED.finditer(alternative)]
    rest = _EXCLUDED.sub(" ", alternative).strip(" ,") or "*"
    if any(semver().eq(version, other, False) for other in excluded):
        return False
    return semver().satisfies(version, _as_npm_range(rest), False)


_EXCLUDED = re.compile(r"!=\s*v?([0-9][0-9A-Za-z.+-]*)")


def _completed_version(text: str) -> str:
    numbers, suffix = re.match(r"([0-9.]*)(.*)", text).groups()
    parts = [part for part in numbers.split(".") if part][:3]
    return ".".join(parts + ["0"] * (3 - len(parts))) + suffix


def _as_npm_range(text: str) -> str:
    """Masterminds' spelling of a range in npm's: a comma between constraints means AND, as a
    space does; its extra operators and partial versions with a suffix as above."""
    text = re.sub(r"\s*,\s*", " ", text)
    text = _MASTERMINDS_OPERATOR.sub(lambda match: _NPM_OPERATOR[match[1]], text)
    return _PARTIAL_WITH_SUFFIX.sub(_completed, text)


def _completed(match: re.Match) -> str:
    parts = match["numbers"].split(".")
    if any(part in ("x", "X", "*") for part in parts):
        parts = ["0", "0", "0"]  # as Masterminds does: a wildcard with a suffix starts at 0.0.0
    return ".".join(parts + ["0"] * (3 - len(parts))) + match["suffix"]
