"""Checks of the evaluated fleet for what the API server or Flux would reject later.

Input: the `Evaluation` (the fleet, with every layer's checked leaves) and the `Resolution`
(cluster declarations, for the spans of their labels). Output: `fleet_diagnostics(...)`, a
list of diagnostics; nothing is changed.

Two kinds of checks:
- a value that is wrong wherever it is written (an image policy's semver range, an ingress
  host, a cluster label value) is checked at every assignment of every layer, and reported
  there;
- values that are wrong together (requests above limits, autoscaling `min` above `max`, two
  ports with one number, an app in a system namespace while Flux impersonates a tenant) are
  checked on the effective values of every (cluster, app) after layering, and reported at the
  line that set the offending value (the higher layer of the two), with the other as a related
  span and the clusters it concerns when a layer above the app made it so.

Invariants: deterministic order (the driver sorts); each problem once, however many clusters
share it.
"""

from __future__ import annotations

import ipaddress
import re
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

from gop.compiler.diagnostics import Diagnostic, Related, diagnostic
from gop.compiler.semantic.resolve import DNS_LABEL
from gop.compiler.fleet.model import Layer, Origin
from gop.compiler.semantic.semver_range import range_problem
from gop.compiler.core.span import Span
from gop.compiler.semantic.check import PRESENT, Leaf
from gop.compiler.semantic.types import Quantity, describe_value
from gop.compiler.diagnostics import codes

# Namespaces of Kubernetes and of Flux itself: the tenant RBAC gopc writes per app namespace
# would define flux-system's impersonated ServiceAccount twice, or make a tenant cluster-admin
# of kube-system.
SYSTEM_NAMESPACES = ("flux-system", "kube-system", "kube-public", "kube-node-lease")
_LABEL_VALUE = re.compile(r"(([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9])?")
LABEL_VALUE_MAX = 63


def fleet_diagnostics(evaluation, resolution) -> list[Diagnostic]:
    found: dict[tuple, Diagnostic] = {}
    for leaf in _written_leaves(evaluation):
        for diag in _value_problems(leaf):
            found.setdefault((diag.code, diag.span, diag.message), diag)
    for diag in _cluster_label_problems(evaluation, resolution):
        found.setdefault((diag.code, diag.span, diag.message), diag)
    for diag in _Combinations(evaluation.fleet).diagnostics():
        found.setdefault((diag.code, diag.span, diag.message), diag)
    return list(found.values())


# ---- values wrong wherever they are written ------------------------------------------------

def _written_leaves(evaluation) -> Iterator[Leaf]:
    """Every assignment of every layer, each list once (an `all` body's leaves are shared)."""
    seen: set[int] = set()
    groups = [leaves for leaves in evaluation.app_leaves.values()]
    groups += [group.leaves for declared in evaluation.layer_leaves.values() for per_app in declared.values()
               for targeted in per_app.values() for group in targeted]
    for leaves in groups:
        if id(leaves) not in seen:
            seen.add(id(leaves))
            yield from leaves


def _value_problems(leaf: Leaf) -> Iterator[Diagnostic]:
    for path, value in _flattened(leaf.path, leaf.value):
        check = _VALUE_CHECKS.get(path)
        if check is not None and isinstance(value, str):
            yield from check(value, leaf.span)


def _flattened(path: tuple[str, ...], value: Any) -> Iterator[tuple[tuple[str, ...], Any]]:
    """A leaf whose value is a record (`ingress = someLet`) as the leaves below it."""
    if isinstance(value, dict):
        for key, item in value.items():
            yield from _flattened(path + (key,), item)
    elif value is not PRESENT:
        yield path, value


def _semver_range(text: str, span: Span) -> Iterator[Diagnostic]:
    problem = range_problem(text)
    if problem is not None:
        yield diagnostic(codes.UNPARSABLE_SEMVER_RANGE, span, f"Flux cannot parse the semver range {describe_value(text)}: {problem}",
                         notes=('write a range such as ">=1.4.0 <2.0.0", "^2.0.0", "~1.2" or "1.x"',))


def _ingress_host(host: str, span: Span) -> Iterator[Diagnostic]:
    problem = host_problem(host)
    if problem is not None:
        yield diagnostic(codes.INGRESS_HOST_NOT_DNS, span, f"the ingress host {describe_value(host)} is not a DNS name: {problem}",
                         notes=('a host is DNS labels joined by dots, each 1 to 63 lower-case letters, digits and "-", '
                                'starting and ending with a letter or digit, e.g. "api.acme.io"',))


def host_problem(host: str) -> str | None:
    """Why Kubernetes rejects `host` as an Ingress rule's host (a DNS-1123 subdomain, not an IP)."""
    try:
        ipaddress.ip_address(host)
        return "it is an IP address"
    except ValueError:
        pass
    for label in host.split("."):
        if not label:
            return "it has an empty label (two dots in a row, or a dot at an end)"
        if len(label) > LABEL_VALUE_MAX:
            return f"its label {label[:20]!r}... has {len(label)} characters (at most {LABEL_VALUE_MAX})"
        if not DNS_LABEL.fullmatch(label):
            return f"its label {label!r} must start and end with a letter or digit"
    return None


_VALUE_CHECKS = {("imagePolicy", "semver"): _semver_range, ("ingress", "host"): _ingress_host}


def _cluster_label_problems(evaluation, resolution) -> Iterator[Diagnostic]:
    """Cluster label values are Kubernetes label values (Flux and tools select clusters by them)."""
    from gop.compiler.syntax import ast

    for name, decl in resolution.resources["cluster"].items():
        model = evaluation.fleet.clusters.get(name)
        for block in decl.body.stmts:
            if model is None or not (isinstance(block, ast.Block) and block.path.dotted == "labels"):
                continue
            for stmt in block.body.stmts:
                value = model.labels.get(stmt.path.dotted) if isinstance(stmt, ast.Assign) else None
                problem = label_value_problem(value) if isinstance(value, str) else None
                if problem is not None:
                    yield diagnostic(codes.INVALID_KUBERNETES_LABEL_VALUE, stmt.value.span,
                                     f"the value of label `{stmt.path.dotted}` is not a Kubernetes label value: {problem}")


def label_value_problem(value: str) -> str | None:
    if len(value) > LABEL_VALUE_MAX:
        return f"it has {len(value)} characters (at most {LABEL_VALUE_MAX})"
    if not _LABEL_VALUE.fullmatch(value):
        return 'only letters, digits, "-", "_" and "." are allowed, starting and ending with a letter or digit'
    return None


# ---- values wrong together, per cluster after layering ---------------------------------------

@dataclass(slots=True)
class _Version:
    """One distinct set of effective values of an app, and the clusters that run it."""

    app: str
    values: dict[str, Any]
    origins: dict[tuple, Origin]
    clusters: list[str]


class _Combinations:
    def __init__(self, fleet) -> None:
        self.fleet = fleet
        self.found: dict[tuple, tuple[Span, str, str, tuple, set[str], bool]] = {}

    def versions(self) -> Iterator[_Version]:
        shared: dict[int, _Version] = {}
        for cluster, model in self.fleet.clusters.items():
            for name, instance in model.instances.items():
                version = shared.get(id(instance))
                if version is None:
                    version = shared[id(instance)] = _Version(name, instance.values, instance.origins, [])
                version.clusters.append(cluster)
        for name, app in self.fleet.apps.items():
            yield _Version(name, app.base, app.base_origins, [])
        yield from shared.values()

    def diagnostics(self) -> list[Diagnostic]:
        account = self.fleet.delivery.values.get("serviceAccountName")
        for version in self.versions():
            self._requests_and_limits(version)
            self._autoscaling(version)
            self._ports(version)
            if account:
                self._system_namespace(version, account)
        result = []
        for (code, span, message, related), (clusters, above_app) in self.found.items():
            if above_app and clusters:
                message += f" (on {clusters_text(sorted(clusters))})"
            result.append(diagnostic(code, span, message, related=related, notes=_NOTES[code]))
        return result

    def report(self, version: _Version, code: str, message: str, primary: Origin | None, other: Origin | None = None,
               fallback: Span | None = None) -> None:
        """At the line that set `primary`, or `fallback` when a default did."""
        span = primary.span if primary is not None and primary.span is not None else fallback
        if span is None:
            return
        related = (Related(other.span, "the other value"),) if other is not None and other.span is not None else ()
        above_app = any(origin is not None and origin.layer > Layer.APP for origin in (primary, other))
        key = (code, span, message, related)
        clusters, was_above = self.found.get(key, (set(), False))
        self.found[key] = (clusters | set(version.clusters), was_above or above_app)

    def _requests_and_limits(self, version: _Version) -> None:
        resources = version.values.get("resources") or {}
        for kind in ("cpu", "memory"):
            request = (resources.get("requests") or {}).get(kind)
            limit = (resources.get("limits") or {}).get(kind)
            if isinstance(request, Quantity) and isinstance(limit, Quantity) and request > limit:
                primary, other = _later(version.origins.get(("resources", "requests", kind)),
                                        version.origins.get(("resources", "limits", kind)))
                self.report(version, codes.REQUEST_ABOVE_LIMIT, f"app `{version.app}` requests {request} {kind} but is limited to {limit}",
                            primary, other)

    def _autoscaling(self, version: _Version) -> None:
        scaling = version.values.get("autoscaling")
        if isinstance(scaling, dict) and scaling["min"] > scaling["max"]:  # both have defaults
            primary, other = _later(version.origins.get(("autoscaling", "min")), version.origins.get(("autoscaling", "max")))
            self.report(version, codes.AUTOSCALING_MIN_ABOVE_MAX, f"app `{version.app}` autoscales between min {scaling['min']} and max "
                        f"{scaling['max']}", primary, other)

    def _ports(self, version: _Version) -> None:
        by_number: dict[int, str] = {}
        for name, number in (version.values.get("ports") or {}).items():
            first = by_number.setdefault(number, name)
            if first != name:
                primary, other = _later(version.origins.get(("ports", first)), version.origins.get(("ports", name)))
                self.report(version, codes.DUPLICATE_PORT_NUMBER, f"ports `{first}` and `{name}` of app `{version.app}` both use number {number}",
                            primary, other)

    def _system_namespace(self, version: _Version, account: str) -> None:
        namespace = version.values.get("namespace", self.fleet.apps[version.app].namespace)
        if namespace in SYSTEM_NAMESPACES:
            self.report(version, codes.SYSTEM_NAMESPACE_UNDER_TENANT, f"app `{version.app}` is installed into the system namespace `{namespace}`, "
                        f"but Flux applies the apps as the tenant service account `{account}`",
                        version.origins.get(("namespace",)), fallback=self.fleet.apps[version.app].span)


_NOTES = {
    codes.REQUEST_ABOVE_LIMIT: ("a container's request must not exceed its limit: the API server rejects the pod",),
    codes.AUTOSCALING_MIN_ABOVE_MAX: ("the API server rejects a HorizontalPodAutoscaler whose minReplicas is above maxReplicas",),
    codes.DUPLICATE_PORT_NUMBER: ("the API server rejects a Service with two ports of one number; give each port its own number",),
    codes.SYSTEM_NAMESPACE_UNDER_TENANT: ("with `delivery.serviceAccountName`, each app namespace gets the tenant's ServiceAccount and a "
              "cluster-admin RoleBinding: a second definition of flux-system's, or admin rights in a system "
              "namespace; install the app into a namespace of its own (`namespace = ...`)",),
}


def _later(first: Origin | None, second: Origin | None) -> tuple[Origin | None, Origin | None]:
    """(the origin set last, the other): the higher layer, then the later line; defaults count lowest."""
    def rank(origin: Origin | None) -> tuple:
        if origin is None or origin.span is None:
            return (-1, "", -1)
        return (int(origin.layer), origin.span.file, origin.span.start)
    return (second, first) if rank(second) >= rank(first) else (first, second)


def clusters_text(names: list[str]) -> str:
    """At most four cluster names, in words."""
    shown = ", ".join(names[:4]) + (f" and {len(names) - 4} more" if len(names) > 4 else "")
    return f"cluster{'s' if len(names) > 1 else ''} {shown}"
