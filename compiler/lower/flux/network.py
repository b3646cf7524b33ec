"""NetworkPolicies derived from the app graph (`delivery.networkPolicies`).

Input: a `Fleet`. Output: `app_policies(fleet)`, the NetworkPolicy of each app (in
apps/base/<app>/network-policy.yaml, applied with its HelmRelease), and `namespace_policies(fleet,
namespace)`, the namespace's `default-deny` (in infrastructure/namespaces/<ns>/, with
`defaultDeny`); both empty while the fleet has no `networkPolicies` setting, so a program that does
not ask for policies gets not one byte more.

The graph: app A calls app B when B is in A's `calls` or `delivery.dependsOn`. An app's policy
selects its pods (`app.kubernetes.io/name`, the chart's selector label that no release name
changes), isolates them both ways and allows exactly:
- ingress from the pods of every app that calls it, on every port it declares;
- ingress on the ports its ingress or routes go to, from `ingressNamespaces` (any namespace when
  empty: the controllers' or Gateways' pods);
- egress to DNS (UDP and TCP 53 in `dnsNamespace`) and to every app it calls, on that app's ports;
- what its `network` field adds beyond the graph: ingress from pods of other namespaces (`from`),
  egress to address blocks or to pods of other namespaces (`to`). Like `calls`, only the app's body
  sets it (NETWORK_SETTING_LAYERED), so one policy serves every cluster.
An app with `chart.test` also gets the allows its `helm test` pod needs, or every release would fail
after install/upgrade: ingress from the test pod on the port it tests, and a policy `<app>-test`
selecting the test pod (labels `app.kubernetes.io/component: test` and `app.kubernetes.io/part-of:
<app>`, which no Service selects) that lets it reach DNS and that port, and nothing else.

Invariants:
- Peers are selected by namespace name (`kubernetes.io/metadata.name`, set by the API server) and
  pod label together, never by label alone: a pod of another namespace cannot pass for an app.
- Ports are named, as the apps declare them, so a port number an env changes needs no new policy.
  An app's ports and ingress port are the union over every cluster that runs it (layers may add
  them); namespaces are the apps' own (gopc check refuses a layer that moves an app's namespace
  while policies are on, NETWORK_POLICY_NAMESPACE_LAYERED).
- Lists are sorted, so the objects do not depend on declaration order.
"""

from __future__ import annotations

import json
from typing import Any

from gop.compiler.fleet.model import Fleet
from gop.compiler.language import APP_CHART, CALLS, NETWORK_ALLOW, NETWORK_POLICIES, ROUTES, AppField
from gop.compiler.lower.flux.objects import kube_object
from gop.compiler.values import plain

NETWORK_API = "networking.k8s.io/v1"
NETWORK_POLICY = "NetworkPolicy"
APP_LABEL = "app.kubernetes.io/name"  # the chart's selector label naming the app (templates.py)
NAMESPACE_LABEL = "kubernetes.io/metadata.name"  # every Namespace has it, set by the API server
DEFAULT_DENY = "default-deny"
POLICY_FILE = "network-policy.yaml"
DNS_PORT = 53


def settings(fleet: Fleet) -> dict[str, Any] | None:
    """The fleet's `networkPolicies` setting (plain), or None when it asks for none."""
    value = fleet.delivery.values.get(NETWORK_POLICIES)
    return plain(value) if isinstance(value, dict) else None


def callees(fleet: Fleet, app: str) -> list[str]:
    """The apps `app` calls (`calls` and `delivery.dependsOn`), sorted."""
    base = fleet.apps[app].base
    refs = [*(base.get(CALLS) or ()), *(base.get(AppField.DELIVERY, {}).get(AppField.DEPENDS_ON) or ())]
    return sorted({ref.name for ref in refs if ref.name in fleet.apps})


def app_policies(fleet: Fleet) -> dict[str, list[dict[str, Any]]]:
    """Each app's NetworkPolicies (its own, then its test pod's), by app (empty without the fleet setting)."""
    config = settings(fleet)
    if config is None:
        return {}
    graph = {app: callees(fleet, app) for app in fleet.apps}
    callers: dict[str, list[str]] = {app: [] for app in fleet.apps}
    for caller, called in graph.items():
        for callee in called:
            callers[callee].append(caller)
    ports = {app: _port_names(fleet, app) for app in fleet.apps}
    return {app: _app_policies(fleet, config, app, graph[app], sorted(callers[app]), ports) for app in sorted(fleet.apps)}


def _app_policies(fleet: Fleet, config: dict[str, Any], app: str, called: list[str], calling: list[str],
                  port_names: dict[str, list[str]]) -> list[dict[str, Any]]:
    tested = _tested_ports(fleet, app)
    policies = [_app_policy(fleet, config, app, called, calling, port_names, tested)]
    if tested:
        spec = {"podSelector": {"matchLabels": test_pod_labels(app)}, "policyTypes": ["Ingress", "Egress"],
                "ingress": [], "egress": [_dns_egress(config), {"to": [_peer(fleet, app)], "ports": _ports(tested)}]}
        policies.append(kube_object(NETWORK_API, NETWORK_POLICY, f"{app}-test", fleet.apps[app].namespace, spec))
    return policies


def test_pod_labels(app: str) -> dict[str, str]:
    """The labels that tell the app's `helm test` pod (templates.py TEST_CONNECTION) from every other pod."""
    return {"app.kubernetes.io/component": "test", "app.kubernetes.io/part-of": app}


def _app_policy(fleet: Fleet, config: dict[str, Any], app: str, called: list[str], calling: list[str],
                port_names: dict[str, list[str]], tested: list[str]) -> dict[str, Any]:
    ingress: list[dict[str, Any]] = []
    ports = port_names[app]
    if calling and ports:
        ingress.append({"from": [_peer(fleet, name) for name in calling], "ports": _ports(ports)})
    routed = _ingress_ports(fleet, app)
    if routed:
        sources = [{"namespaceSelector": _namespace_selector(name)} for name in sorted(config["ingressNamespaces"])]
        ingress.append({"from": sources or [{"namespaceSelector": {}}], "ports": _ports(routed)})
    if tested:
        test_pod = {"namespaceSelector": _namespace_selector(fleet.apps[app].namespace),
                    "podSelector": {"matchLabels": test_pod_labels(app)}}
        ingress.append({"from": [test_pod], "ports": _ports(tested)})
    allows = _allows(fleet, app)
    ingress += [{"from": [_outside_peer(source)], "ports": _ports(source["ports"] or ports)}
                for source in allows["from"] if source["ports"] or ports]
    egress = [_dns_egress(config)] + [{"to": [_peer(fleet, name)], "ports": _ports(port_names[name])} for name in called if port_names[name]]
    egress += [_outside_egress(destination) for destination in allows["to"]]
    spec = {"podSelector": {"matchLabels": {APP_LABEL: app}}, "policyTypes": ["Ingress", "Egress"],
            "ingress": ingress, "egress": egress}
    return kube_object(NETWORK_API, NETWORK_POLICY, app, fleet.apps[app].namespace, spec)


def namespace_policies(fleet: Fleet, namespace: str) -> list[dict[str, Any]]:
    """The namespace's `default-deny` policy, when the setting asks for one and apps live there."""
    config = settings(fleet)
    if config is None or not config["defaultDeny"] or not any(app.namespace == namespace for app in fleet.apps.values()):
        return []
    spec = {"podSelector": {}, "policyTypes": ["Ingress", "Egress"]}
    return [kube_object(NETWORK_API, NETWORK_POLICY, DEFAULT_DENY, namespace, spec)]


def _dns_egress(config: dict[str, Any]) -> dict[str, Any]:
    return {"to": [{"namespaceSelector": _namespace_selector(config["dnsNamespace"])}],
            "ports": [{"port": DNS_PORT, "protocol": "UDP"}, {"port": DNS_PORT, "protocol": "TCP"}]}


def _peer(fleet: Fleet, app: str) -> dict[str, Any]:
    return {"namespaceSelector": _namespace_selector(fleet.apps[app].namespace),
            "podSelector": {"matchLabels": {APP_LABEL: app}}}


def _namespace_selector(namespace: str) -> dict[str, Any]:
    return {"matchLabels": {NAMESPACE_LABEL: namespace}}


def _ports(names: list[str]) -> list[dict[str, Any]]:
    return [{"port": name, "protocol": "TCP"} for name in names]


def _allows(fleet: Fleet, app: str) -> dict[str, list[dict[str, Any]]]:
    """The app's `network` sources and destinations (its body's: no layer sets them), each once, sorted."""
    allow = fleet.apps[app].base.get(NETWORK_ALLOW)
    if not isinstance(allow, dict):
        return {"from": [], "to": []}
    return {direction: [entry for _, entry in sorted({json.dumps(entry, sort_keys=True): entry
                                                      for entry in plain(allow[direction])}.items())]
            for direction in ("from", "to")}


def _outside_peer(peer: dict[str, Any]) -> dict[str, Any]:
    selected = {"namespaceSelector": _namespace_selector(peer["namespace"])}
    if peer["podLabels"]:
        selected["podSelector"] = {"matchLabels": dict(sorted(peer["podLabels"].items()))}
    return selected


def _outside_egress(destination: dict[str, Any]) -> dict[str, Any]:
    if destination.get("cidr"):
        block = {"cidr": destination["cidr"]}
        if destination["except"]:
            block["except"] = sorted(destination["except"])
        rule: dict[str, Any] = {"to": [{"ipBlock": block}]}
    else:
        rule = {"to": [_outside_peer(destination)]}
    if destination["ports"]:
        rule["ports"] = [{"port": port, "protocol": "TCP"} for port in sorted(destination["ports"])]
    return rule


def _trees(fleet: Fleet, app: str) -> list[dict[str, Any]]:
    """The app as written and on every cluster that runs it."""
    return [fleet.apps[app].base] + [cluster.instances[app].values for cluster in fleet.clusters.values()
                                     if app in cluster.instances]


def _port_names(fleet: Fleet, app: str) -> list[str]:
    return sorted({name for tree in _trees(fleet, app) for name in tree.get(AppField.PORTS) or {}})


def _ingress_ports(fleet: Fleet, app: str) -> list[str]:
    """The ports the app's ingress and routes go to, anywhere (their port, else "http", else the only port)."""
    routed = set()
    for tree in _trees(fleet, app):
        ports, ingress, routes = tree.get(AppField.PORTS) or {}, tree.get(AppField.INGRESS), tree.get(ROUTES)
        if not ports:
            continue
        default = "http" if "http" in ports else min(ports)
        if isinstance(ingress, dict):
            routed.add(ingress.get(AppField.PORT) or default)
        if isinstance(routes, dict):
            routed.update(path.get(AppField.PORT) or default for path in routes["paths"])
    return sorted(routed)


def _tested_ports(fleet: Fleet, app: str) -> list[str]:
    """The ports the app's `helm test` pod connects to anywhere (none without `chart.test`): as TEST_CONNECTION
    chooses, the readiness (else liveness) probe's port, else "http", else the first port."""
    if not (fleet.apps[app].base.get(APP_CHART) or {}).get("test"):
        return []
    tested = set()
    for tree in _trees(fleet, app):
        ports = tree.get(AppField.PORTS) or {}
        if not ports:
            continue
        probe = tree.get(AppField.READINESS) or tree.get(AppField.LIVENESS) or {}
        tested.add(probe.get(AppField.PORT) or ("http" if "http" in ports else min(ports)))
    return sorted(tested)
