"""Does Flux accept this semver range? (the `range` of an ImagePolicy's semver policy)

Input: the text of `imagePolicy.semver`. Output: `range_problem(text)`, None when Flux's
image-reflector-controller parses it, else a short reason.

Flux parses the range with Go's Masterminds/semver v3 (`semver.NewConstraint`). Its syntax is
npm's range syntax with a few additions, so the text goes through `nodesemver` (a port of npm's
node-semver) after `_as_npm_range` rewrites what only Masterminds accepts. The rewrite only has
to keep the answer to "does it parse", not the meaning of the range.
"""

from __future__ import annotations

import re

import nodesemver

# An operator Masterminds has and npm lacks, just before a version: `=>` and `=<` spell `>=` and
# `<=`; `!=` takes a version as `>` does.
_MASTERMINDS_OPERATOR = re.compile(r"(?<![<>=!~^])(=>|=<|!=)(?=\s*[vV]?[0-9xX*])")
_NPM_OPERATOR = {"=>": ">=", "=<": "<=", "!=": ">"}
# Masterminds completes a partial version that has a pre-release or build (`1.1-alpha` is
# `1.1.0-alpha`, `*-0` is `0.0.0-0`); npm accepts those only on a whole version.
_PARTIAL_WITH_SUFFIX = re.compile(
    r"(?<![\w.-])v?(?P<numbers>[0-9xX*]+(?:\.[0-9xX*]+)?)(?![\w.])(?P<suffix>[-+][0-9A-Za-z.+-]+)")


def range_problem(text: str) -> str | None:
    alternatives = text.split("||")
    if any(not alternative.strip() for alternative in alternatives):
        return "an alternative of `||` is empty" if len(alternatives) > 1 else "it is empty"
    try:
        nodesemver.Range(_as_npm_range(text), loose=False)
    except (ValueError, TypeError) as error:
        return str(error)
    return None


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
