"""What the NetworkPolicies derived from the app graph need of the program (`delivery.networkPolicies`).

Input: the fleet, and one `versions.Version` with a `Findings`. Output: an app that `calls` an app
without a port, where no traffic could be allowed (CALLEE_WITHOUT_PORT); with policies on, a layer
that moves an app to another namespace (NETWORK_POLICY_NAMESPACE_LAYERED: every policy that names
the app selects it by the namespace of its body). That `calls` names apps of the program is the
type checker's (`list[app]`).

Invariants: each problem once, at the line that caused it.
"""

from __future__ import annotations

from collections.abc import Iterator

from gop.compiler.diagnostics import Diagnostic, codes, diagnostic
from gop.compiler.fleet.checks.versions import Findings, Version
from gop.compiler.fleet.model import Fleet, Layer
from gop.compiler.language import CALLS, NETWORK_POLICIES, AppField


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


def check_version(fleet: Fleet, version: Version, findings: Findings) -> None:
    if not isinstance(fleet.delivery.values.get(NETWORK_POLICIES), dict):
        return
    origin = version.origins.get((AppField.NAMESPACE,))
    if origin is not None and origin.layer > Layer.APP:
        findings.report(version, codes.NETWORK_POLICY_NAMESPACE_LAYERED,
                        f"{origin.source} moves app `{version.app}` to namespace `{version.values[AppField.NAMESPACE]}`, "
                        "but the derived NetworkPolicies select each app in the namespace of its body",
                        ("set the app's namespace in its body, or declare another app for the other namespace",), origin)
