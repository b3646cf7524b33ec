"""What an app's routes and the NetworkPolicies derived from the app graph need of the program.

Input: the fleet, and one `versions.Version` with a `Findings`. Output: an app that `calls` an app
without a port, where no traffic could be allowed (CALLEE_WITHOUT_PORT); with policies on, a layer
that moves an app to another namespace (NETWORK_POLICY_NAMESPACE_LAYERED: every policy that names
the app selects it by the namespace of its body). That `calls` names apps of the program is the
type checker's (`list[app]`). Of `routes`, after layering: a path to a port the app does not declare,
or routes with no port at all (PORT_NOT_DECLARED), several ports and none named `http` for a path
that names none (INGRESS_PORT_AMBIGUOUS), an HTTPRoute without its Gateway (ROUTE_WITHOUT_GATEWAY),
`routes` beside `ingress` (ROUTES_BESIDE_INGRESS: both would be the Ingress named after the app).
Of `network` (allows beyond the graph): a source naming a port the app does not declare
(PORT_NOT_DECLARED); a destination the API server refuses or that selects nothing sensible —
neither or both of `cidr` and `namespace`, `except` or `podLabels` with the other kind, an `except`
that is not a strict subset of `cidr` (NETWORK_DESTINATION_INVALID); `network` while the fleet
asks for no policies (NETWORK_ALLOW_UNUSED, a warning).

Invariants: each problem once, at the line that caused it.
"""

from __future__ import annotations

import ipaddress
from collections.abc import Iterator

from gop.compiler.diagnostics import Diagnostic, codes, diagnostic
from gop.compiler.fleet.checks.versions import Findings, Version, later, located
from gop.compiler.fleet.model import Fleet, Layer
from gop.compiler.language import CALLS, NETWORK_ALLOW, NETWORK_POLICIES, ROUTES, AppField


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
    policies = isinstance(fleet.delivery.values.get(NETWORK_POLICIES), dict)
    _network_allows(version, findings, policies)
    if not policies:
        return
    origin = version.origins.get((AppField.NAMESPACE,))
    if origin is not None and origin.layer > Layer.APP:
        findings.report(version, codes.NETWORK_POLICY_NAMESPACE_LAYERED,
                        f"{origin.source} moves app `{version.app}` to namespace `{version.values[AppField.NAMESPACE]}`, "
                        "but the derived NetworkPolicies select each app in the namespace of its body",
                        ("set the app's namespace in its body, or declare another app for the other namespace",), origin)


def _network_allows(version: Version, findings: Findings, policies: bool) -> None:
    allow = version.values.get(NETWORK_ALLOW)
    if not isinstance(allow, dict):
        return
    here = located(version.origins, (NETWORK_ALLOW,))
    if not policies:
        findings.report(version, codes.NETWORK_ALLOW_UNUSED, f"app `{version.app}` sets `network`, but the fleet derives "
                        "no NetworkPolicies", ("`network` adds to the derived policies: add `networkPolicies {}` to the "
                                               "`delivery` block, or remove `network`",), here)
        return
    ports = version.values.get(AppField.PORTS) or {}
    for source in allow["from"]:
        for port in source["ports"]:
            if port not in ports:
                findings.report(version, codes.PORT_NOT_DECLARED, f"app `{version.app}` lets namespace "
                                f"`{source['namespace']}` reach its port `{port}`, which the app does not declare",
                                (f"declared ports: {', '.join(sorted(ports)) or 'none'}",),
                                located(version.origins, (NETWORK_ALLOW, "from"), (NETWORK_ALLOW,)))
    for destination in allow["to"]:
        problem = destination_problem(destination)
        if problem:
            findings.report(version, codes.NETWORK_DESTINATION_INVALID, f"app `{version.app}`: a `network.to` entry {problem}",
                            ('an entry is `{ cidr = "203.0.113.0/24", ports = [443] }` or '
                             '`{ namespace = "monitoring", podLabels { ... } }`',),
                            located(version.origins, (NETWORK_ALLOW, "to"), (NETWORK_ALLOW,)))


def destination_problem(destination: dict) -> str | None:
    """What the API server refuses, or what would select nothing meant, in a `network.to` entry."""
    cidr, namespace = destination.get("cidr"), destination.get("namespace")
    if (cidr is None) == (namespace is None):
        return "needs exactly one of `cidr` (addresses) and `namespace` (pods)"
    if namespace is not None:
        return "has `except` without `cidr`" if destination["except"] else None
    if destination["podLabels"]:
        return "has `podLabels` with `cidr`: pod labels select pods of a `namespace`"
    try:
        block = ipaddress.ip_network(cidr, strict=False)
    except ValueError:
        return f"has `cidr = {cidr!r}`, which is not an address block"
    for excluded in destination["except"]:
        try:
            inner = ipaddress.ip_network(excluded, strict=False)
        except ValueError:
            return f"has `except` {excluded!r}, which is not an address block"
        if inner.version != block.version or not inner.subnet_of(block) or inner.prefixlen <= block.prefixlen:
            return f"leaves out {excluded}, which is not a strict subset of `cidr` {cidr} (the API server refuses it)"
    return None
