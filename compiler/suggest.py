"""Did-you-mean, written once: the closest known names to a misspelt one."""

from __future__ import annotations

import difflib
from collections.abc import Iterable


def best_matches(name: str, candidates: Iterable[str], limit: int = 3) -> list[str]:
    pool = sorted(set(candidates))
    if not pool:
        return []
    lowered = {c.lower(): c for c in pool}
    if name.lower() in lowered and lowered[name.lower()] != name:
        return [lowered[name.lower()]]
    return difflib.get_close_matches(name, pool, n=limit, cutoff=0.6)


def did_you_mean(name: str, candidates: Iterable[str]) -> str | None:
    matches = best_matches(name, candidates, limit=1)
    return matches[0] if matches else None
