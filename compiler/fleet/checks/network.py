"""What an app's routes and the NetworkPolicies derived from the app graph need of the program.

Input: the fleet, and one `versions.Version` with a `Findings`. Output: an app that `calls` an app
without a port, where no traffic could be allowed (CALLEE_WITHOUT_PORT); with policies on, a layer
that moves an app to another namespace (NETWORK_POLICY_NAMESPACE_LAYERED: every policy that names
the app selects it by the namespace of its body). That `calls` names apps of the program is the
type checker's (`list[app]`). Of `routes`, after layering: a path to a port the app does not declare,
or routes with no port at all (PORT_NOT_DECLARED), several ports and none named `http` for a path
that names none (INGRESS_PORT_AMBIGUOUS), an HTTPRoute without its Gateway (ROUTE_WITHOUT_GATEWAY),
`routes` beside `ingress` (ROUTES_BESIDE_INGRESS: both would be the Ingress named after the app).

Invariants: each problem once, at the line that caused it.
"""

from __future__ import annotations

from collections.abc import Iterator

from gop.compiler.diagnostics import Diagnostic, codes, diagnostic
from gop.compiler.fleet.checks.versions import Findings, Version, later, located
from gop.compiler.fleet.model import Fleet, Layer
from gop.compiler.language import CALLS, NETWORK_POLICIES, ROUTES, AppField


def callee_diagnostics(fleet: Fleet) -> Iterator[Diagnostic]:
    with_ports = {name for name, app in fleet.apps.items()
                  if app.base.get(AppField.PORTS) or any(cluster.instances[name].values.get(AppField.PORTS)
                                                         for cluster in fleet.clusters.values() if name in cluster.instances)}
    for name, app in fleet.apps.items():
        origin = app.base_origins.get((CALLS,))
        for ref in app.base.get(CALLS) or ():
            if ref.name in fleet.apps and ref.name not in with_ports and origin is not None and origin.span is not None:
                yield diagnostic(codes.CALLEE_WITHOUT_PORT, origin.span,
                                 f"app `{name}` calls app `{ref.name}`, which declares no port anywhere",
                                 notes=(f"declare the ports `{ref.name}` listens on (`ports {{ http = 8080 }}`), "
                                        f"or remove `{ref.name}` from `calls`",))


def check_routes(version: Version, findings: Findings) -> None:
    routes = version.values.get(ROUTES)
    if not isinstance(routes, dict):
        return
    name, origins = version.app, version.origins
    ports = version.values.get(AppField.PORTS) or {}
    here = located(origins, (ROUTES,), (ROUTES, "paths"), (ROUTES, "hosts"))
    if AppField.INGRESS in version.values:
        primary, other = later(here, located(origins, (AppField.INGRESS,), (AppField.INGRESS, AppField.HOST)))
        findings.report(version, codes.ROUTES_BESIDE_INGRESS, f"app `{name}` has both `ingress` and `routes`",
                        ("`routes` is an Ingress of several hosts and paths (or an HTTPRoute): move the ingress's host "
                         "and path into `routes` and remove `ingress`",), primary, other)
    if routes.get("api") == "HTTPRoute" and "gateway" not in routes:
        findings.report(version, codes.ROUTE_WITHOUT_GATEWAY, f"the HTTPRoute of app `{name}` names no Gateway",
                        ('an HTTPRoute attaches to a Gateway: add `gateway { name = "public", namespace = "gateways" }`',),
                        located(origins, (ROUTES, "api"), (ROUTES,)))
    if not ports:
        findings.report(version, codes.PORT_NOT_DECLARED, f"app `{name}` has routes but no port for them to route to",
                        ('add `ports { http = 8080 }` (a path routes to its `port`, else to the port named "http")',), here)
        return
    for path in routes.get("paths") or ():
        port = path.get(AppField.PORT)
        if port is not None and port not in ports:
            findings.report(version, codes.PORT_NOT_DECLARED, f"a path of app `{name}`'s routes goes to port `{port}`, "
                            "which the app does not declare",
                            (f"declared ports: {', '.join(ports)}; add `ports {{ {port} = ... }}` or change the path's `port`",),
                            located(origins, (ROUTES, "paths"), (ROUTES,)))
        elif port is None and "http" not in ports and len(ports) > 1:
            findings.report(version, codes.INGRESS_PORT_AMBIGUOUS, f"app `{name}` has several ports ({', '.join(sorted(ports))}) "
                            f"and none is named `http`: which one does the path `{path.get('path')}` route to?",
                            (f'set the path\'s `port`, e.g. `port = "{sorted(ports)[0]}"`',),
                            located(origins, (ROUTES, "paths"), (ROUTES,)))


def check_version(fleet: Fleet, version: Version, findings: Findings) -> None:
    check_routes(version, findings)
    if not isinstance(fleet.delivery.values.get(NETWORK_POLICIES), dict):
        return
    origin = version.origins.get((AppField.NAMESPACE,))
    if origin is not None and origin.layer > Layer.APP:
        findings.report(version, codes.NETWORK_POLICY_NAMESPACE_LAYERED,
                        f"{origin.source} moves app `{version.app}` to namespace `{version.values[AppField.NAMESPACE]}`, "
                        "but the derived NetworkPolicies select each app in the namespace of its body",
                        ("set the app's namespace in its body, or declare another app for the other namespace",), origin)
