"""Names of the objects an app becomes, against Helm's, Flux's and the API server's rules.

Input: a `Fleet` for `name_diagnostics`; one `versions.Version` and a `Findings` for
`check_version`. Output:
- `name_diagnostics(fleet)`: an app name longer than a Helm release name may be
  (APP_NAME_TOO_LONG). An app's name (a DNS-1035 label: the grammar and E0207) is its Helm release
  name unless `delivery.releaseName` sets one; Helm and Flux's HelmRelease take release names of at
  most 53 characters.
- `check_version`: the derived names the API server refuses, or accepts but cannot run, on the
  effective values of each cluster (a layer may set the release name): a Service or the
  StatefulSet's headless `<fullname>-headless` whose name is no DNS-1035 label, e.g. a release name
  with dots (DERIVED_NAME_INVALID). A StatefulSet or CronJob named over 52 characters is
  `workloads`' (WORKLOAD_NAME_TOO_LONG). The names come from `language.chart_fullname`, which the
  chart's `gop.fullname` and gopc's own rendering share. The other objects
  (ServiceAccount, ConfigMap, Ingress, HPA, PDB, ...) take DNS-1123 subdomains, which every
  fullname of a valid release name is.
"""

from __future__ import annotations

import re
from collections.abc import Iterator

from gop.compiler.diagnostics import Diagnostic, codes, diagnostic
from gop.compiler.fleet.checks.assignments import LABEL_VALUE_MAX
from gop.compiler.fleet.checks.versions import Findings, Version
from gop.compiler.fleet.model import Fleet
from gop.compiler.language import DEFAULT_WORKLOAD, RELEASE_NAME, AppField, WorkloadField, chart_fullname

MAX_RELEASE_NAME = 53  # Helm's limit, and the Flux HelmRelease schema's for spec.releaseName
FULLNAME_MAX = 63  # gop.fullname cuts the name there
SERVICE_NAME = re.compile(r"[a-z]([-a-z0-9]*[a-z0-9])?\Z")  # a DNS-1035 label (of at most 63)
HEADLESS_SUFFIX = "-headless"


def name_diagnostics(fleet: Fleet) -> Iterator[Diagnostic]:
    for name, app in fleet.apps.items():
        if MAX_RELEASE_NAME < len(name) <= LABEL_VALUE_MAX:  # longer is not a name at all (E0207)
            yield diagnostic(codes.APP_NAME_TOO_LONG, app.span,
                             f"app name `{name}` has {len(name)} characters; a Helm release name has at most {MAX_RELEASE_NAME}",
                             notes=("the app's name is the release name of its HelmRelease; shorten it",))


def check_version(fleet: Fleet, version: Version, findings: Findings) -> None:
    values = version.values
    release = (values.get(AppField.DELIVERY) or {}).get(RELEASE_NAME)
    headless = (values.get(WorkloadField.WORKLOAD, DEFAULT_WORKLOAD) == "StatefulSet"
                and not (values.get(WorkloadField.STATEFUL_SET) or {}).get("serviceName"))
    if release is None and not headless and len(version.app) <= FULLNAME_MAX:
        return  # the Service is named after the app alone, which is a DNS-1035 label or E0207's
    if not SERVICE_NAME.match(version.app):
        return  # not a name at all: reported where it is written (E0207, E1022)
    release = release or version.app
    fullname = chart_fullname(version.app, release)
    services = [("Service", fullname)] if values.get(AppField.PORTS) else []
    if headless:
        services.append(("headless Service", fullname + HEADLESS_SUFFIX))
    for what, name in services:
        problem = _service_name_problem(name)
        if problem is not None:
            findings.report(version, codes.DERIVED_NAME_INVALID,
                            f"app `{version.app}`'s {what} would be named `{name}`, {problem}",
                            (f"its objects are named `<releaseName>-{version.app}` (the release name alone when it "
                             "contains the app's name); a Service name is a DNS-1035 label: lowercase letters, "
                             "digits and '-', starting with a letter, at most 63 characters",
                             _release_fix(version.app, release, len(name) - len(fullname))),
                            version.origins.get((AppField.DELIVERY, RELEASE_NAME)), fallback=fleet.apps[version.app].span)
            break


def _service_name_problem(name: str) -> str | None:
    if len(name) > FULLNAME_MAX:
        return f"{len(name)} characters, over {FULLNAME_MAX}"
    if "." in name:
        return "which has a dot"
    if not SERVICE_NAME.match(name):
        return "which is no DNS-1035 label"
    return None


def _release_fix(app: str, release: str, suffix: int, limit: int = FULLNAME_MAX) -> str:
    if "." in release:
        return f'write the release name without dots, e.g. `releaseName = "{release.replace(".", "-")}"`'
    if release == app:
        return f"shorten the app's name to at most {limit - suffix} characters, or set a shorter `delivery.releaseName`"
    room = limit - suffix - (0 if app in release else len(app) + 1)
    return (f"shorten `delivery.releaseName` to at most {room} characters" if room > 0
            else "shorten `delivery.releaseName` or the app's name")
