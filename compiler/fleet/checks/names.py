"""Names of the objects an app becomes, against Helm's and Flux's limits.

Input: a `Fleet`. Output: `name_diagnostics(fleet)`: an app name longer than a Helm release name
may be (APP_NAME_TOO_LONG). An app's name (a DNS-1035 label: the grammar and E0207) is its Helm
release name and the name of its chart's objects; Helm and Flux's HelmRelease take release names
of at most 53 characters (the suffixed names, `<app>-config` and `<app>-tls`, stay within 63 then).
"""

from __future__ import annotations

from collections.abc import Iterator

from gop.compiler.diagnostics import Diagnostic, codes, diagnostic
from gop.compiler.fleet.checks.assignments import LABEL_VALUE_MAX
from gop.compiler.fleet.model import Fleet

MAX_RELEASE_NAME = 53  # Helm's limit, and the Flux HelmRelease schema's for spec.releaseName


def name_diagnostics(fleet: Fleet) -> Iterator[Diagnostic]:
    for name, app in fleet.apps.items():
        if MAX_RELEASE_NAME < len(name) <= LABEL_VALUE_MAX:  # longer is not a name at all (E0207)
            yield diagnostic(codes.APP_NAME_TOO_LONG, app.span,
                             f"app name `{name}` has {len(name)} characters; a Helm release name has at most {MAX_RELEASE_NAME}",
                             notes=("the app's name is the release name of its HelmRelease; shorten it",))
