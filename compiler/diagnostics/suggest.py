"""Did-you-mean, written once: the closest known names to a misspelt one."""

from __future__ import annotations

import difflib
from collections.abc import Iterable

_SHORTEST_PREFIX = 3  # "prod" for "production"; shorter prefixes ("pr") suggest too much


def best_matches(name: str, candidates: Iterable[str], limit: int = 3) -> list[str]:
    pool = sorted(set(candidates))
    if not pool:
        return []
    lowered = {c.lower(): c for c in pool}
    if name.lower() in lowered and lowered[name.lower()] != name:
        return [lowered[name.lower()]]
    close = difflib.get_close_matches(name, pool, n=limit, cutoff=0.6)
    return close or _shortened(name, pool)[:limit]


def _shortened(name: str, pool: list[str]) -> list[str]:
    """Candidates that are an abbreviation of `name` or that `name` abbreviates
    (`production` -> `prod`, `dev` -> `development`), which similarity ratios miss."""
    typed = name.lower()
    return [c for c in pool
            if min(len(c), len(typed)) >= _SHORTEST_PREFIX and c.lower() != typed
            and (typed.startswith(c.lower()) or c.lower().startswith(typed))]


def did_you_mean(name: str, candidates: Iterable[str]) -> str | None:
    matches = best_matches(name, candidates, limit=1)
    return matches[0] if matches else None
