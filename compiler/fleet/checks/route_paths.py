"""Paths of an app's `ingress` and `routes` that the API server refuses.

Input: one `versions.Version` and a `Findings`. Output: ROUTE_PATH_INVALID at the line that set the
path, for a path the Ingress API (pathType Prefix and Exact) and the Gateway API's HTTPPathMatch
(its CEL rules for Exact and PathPrefix, in the vendored CRD) both refuse: containing `//`, `/./`,
`/../`, `%2f` or `%2F`, or ending with `/.` or `/..`; and containing `#`, which HTTPPathMatch
refuses and which never reaches a server in a request path anyway.

Invariants: reads the values only; gopc writes only Prefix/Exact matches, so every rule applies.
"""

from __future__ import annotations

import re

from gop.compiler.diagnostics import codes
from gop.compiler.fleet.checks.versions import Findings, Version, located
from gop.compiler.language import ROUTES, AppField

REFUSED_PARTS = ("//", "/./", "/../", "%2f", "%2F", "#")
REFUSED_ENDINGS = ("/..", "/.")
# Any of the two above (one search instead of eight tests of each path that has none).
_REFUSED = re.compile("|".join([*map(re.escape, REFUSED_PARTS), *(re.escape(ending) + r"\Z" for ending in REFUSED_ENDINGS)]))


def path_problem(path: str) -> str | None:
    """Why the Ingress or HTTPRoute API refuses `path` (None when it accepts it)."""
    if _REFUSED.search(path) is None:
        return None
    for part in REFUSED_PARTS:
        if part in path:
            return f"it contains `{part}`"
    for ending in REFUSED_ENDINGS:
        if path.endswith(ending):
            return f"it ends with `{ending}`"
    return None


def check_version(version: Version, findings: Findings) -> None:
    ingress, routes = version.values.get(AppField.INGRESS), version.values.get(ROUTES)
    written = []  # (what, path, where it is set)
    if isinstance(ingress, dict) and ingress.get("path"):
        written.append(("ingress", ingress["path"], ((AppField.INGRESS, "path"),)))
    if isinstance(routes, dict):
        written += [(routes.get("api", "Ingress"), entry.get("path"), ((ROUTES, "paths"), (ROUTES,)))
                    for entry in routes.get("paths") or ()]
    for what, path, where in written:
        problem = path_problem(path) if isinstance(path, str) else None  # (a path of the wrong type is E0303)
        if problem is not None:
            findings.report(version, codes.ROUTE_PATH_INVALID,
                            f"the {what} path `{path}` of app `{version.app}` is refused by the API server: {problem}",
                            ("Ingress paths and HTTPRoute path matches must be normalized: no `//`, `/./`, `/../`, "
                             "encoded `/` (`%2f`), `#`, nor a trailing `/.` or `/..`; write the path as a client "
                             "sends it after normalization, e.g. `/a/b`",), located(version.origins, *where))
