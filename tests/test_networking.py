"""examples/networking: derived NetworkPolicies, app release settings and image policies, with the
real tools.

- The NetworkPolicies a cluster gets allow exactly what the app graph says: a small evaluator of
  NetworkPolicy semantics (isolation per direction, peers by namespace and pod selector, named
  ports) decides every (source pod, destination pod, port) of the cluster, strangers included.
- `gopc build` writes a tree whose cluster directories `kubectl kustomize` builds; the Flux objects
  (HelmReleases with install/upgrade/drift/test settings, ImagePolicies with filterTags and
  alphabetical/numerical orders) pass the Flux schemas, the rest kubernetes-validate strict; the
  NetworkPolicies kustomize builds are those `gopc render` shows.
- Each chart passes `helm lint --strict`; `helm template` (hooks included) equals gopc's own
  rendering for the HelmRelease's release name; `gopc render` leaves the test hook out.
- `routes` render an Ingress of several hosts and paths, or an HTTPRoute valid by the vendored
  Gateway API CRD (standard channel), as helm does.
- Go regexp checks agree with what RE2 accepts and refuses.
"""

from __future__ import annotations

import ipaddress
import re
import shutil
import subprocess
import sys
from pathlib import Path

import jsonschema
import pytest
import yaml

import realtools as rt
from gop.compiler.fleet.checks import route_paths
from gop.compiler.lower.flux import network
from gop.compiler.lower.flux.render import render_cluster
from gop.compiler.lower.helm import chart_files, chart_parts, helm_template
from gop.compiler.semantic.go_regexp import group_names, pattern_problem, template_problems
from gop.compiler.session import analyse
from gop.compiler.values import plain

GOPC = Path(sys.executable).with_name("gopc")
EXAMPLE = rt.REPO_ROOT / "examples" / "networking"
CLUSTERS = ("dev-1", "prod-1")


@pytest.fixture(scope="module")
def fleet():
    analysis = analyse([str(EXAMPLE)])
    assert not analysis.diagnostics, analysis.diagnostics
    return analysis.evaluation.fleet


@pytest.fixture(scope="module")
def built(tmp_path_factory) -> Path:
    out = tmp_path_factory.mktemp("networking") / "tree"
    subprocess.run([GOPC, "build", str(EXAMPLE), "-o", str(out), "-q"], check=True)
    return out


# ---------------------------------------------------------------- a NetworkPolicy evaluator

def _matches(selector: dict, labels: dict) -> bool:
    return all(labels.get(key) == value for key, value in (selector.get("matchLabels") or {}).items())


def _peer_matches(peer: dict, policy_namespace: str, pod: dict) -> bool:
    if "ipBlock" in peer:  # an endpoint outside the cluster: `pod` has an "ip"
        block = peer["ipBlock"]
        return "ip" in pod and (ipaddress.ip_address(pod["ip"]) in ipaddress.ip_network(block["cidr"])
                                and not any(ipaddress.ip_address(pod["ip"]) in ipaddress.ip_network(excluded)
                                            for excluded in block.get("except", [])))
    if "ip" in pod:
        return False  # namespace and pod selectors select pods only
    if "namespaceSelector" in peer:
        namespace_ok = _matches(peer["namespaceSelector"], {"kubernetes.io/metadata.name": pod["namespace"]})
    else:
        namespace_ok = pod["namespace"] == policy_namespace
    return namespace_ok and _matches(peer.get("podSelector", {}), pod["labels"])


def _port_matches(rule: dict, destination: dict, port: str, protocol: str) -> bool:
    number = destination["ports"][port]
    return any(entry.get("protocol", "TCP") == protocol and entry["port"] in (port, number)
               for entry in rule.get("ports") or [{"port": port, "protocol": protocol}])


def _direction_allows(policies, direction: str, pod: dict, other: dict, destination: dict, port: str, protocol: str):
    """Whether `pod`'s policies of `direction` ("Ingress" or "Egress") let it talk with `other`."""
    selecting = [p for p in policies if p["metadata"]["namespace"] == pod.get("namespace")
                 and direction in p["spec"]["policyTypes"] and _matches(p["spec"]["podSelector"], pod["labels"])]
    if not selecting:
        return True  # not isolated in this direction
    peers_key = "from" if direction == "Ingress" else "to"
    return any((not rule.get(peers_key) or any(_peer_matches(peer, p["metadata"]["namespace"], other)
                                               for peer in rule[peers_key]))
               and _port_matches(rule, destination, port, protocol)
               for p in selecting for rule in p["spec"].get(direction.lower(), []))


def allowed(policies, source: dict, destination: dict, port: str, protocol: str = "TCP") -> bool:
    return (_direction_allows(policies, "Egress", source, destination, destination, port, protocol)
            and _direction_allows(policies, "Ingress", destination, source, destination, port, protocol))


def _pod(name: str, namespace: str, ports: dict | None = None) -> dict:
    return {"name": name, "namespace": namespace, "labels": {"app.kubernetes.io/name": name}, "ports": ports or {}}


@pytest.mark.parametrize("cluster", CLUSTERS)
def test_policies_allow_exactly_the_graph(fleet, cluster):
    docs = render_cluster(fleet, cluster)
    policies = [doc for doc in docs if doc["kind"] == "NetworkPolicy"]
    instances = fleet.clusters[cluster].instances
    apps = {name: _pod(name, instance.values.get("namespace", fleet.apps[name].namespace), instance.values["ports"])
            for name, instance in instances.items()}
    stranger = _pod("stranger", "serving", {"http": 8080})  # another workload in an app namespace
    controller = _pod("ingress-nginx", "ingress-nginx")
    dns = _pod("kube-dns", "kube-system", {"dns": 53})
    graph = {name: set(network.callees(fleet, name)) for name in apps}
    assert graph == {"gateway": {"model"}, "model": {"features"}, "features": set(), "trainer": {"features"}}

    for source in apps.values():
        for destination in apps.values():
            for port in destination["ports"]:
                expected = destination["name"] in graph[source["name"]]
                assert allowed(policies, source, destination, port) == expected, (source["name"], destination["name"], port)
        assert allowed(policies, source, dns, "dns", "UDP") and allowed(policies, source, dns, "dns", "TCP")
        assert not allowed(policies, source, stranger, "http")
        assert not allowed(policies, stranger, source, next(iter(source["ports"]), "http")) if source["ports"] else True
    gateway_proxy = _pod("envoy", "gateways")
    for proxy in (controller, gateway_proxy):  # the ports of ingresses and routes, from the listed namespaces
        assert allowed(policies, proxy, apps["gateway"], "http") and allowed(policies, proxy, apps["model"], "http")
        assert not allowed(policies, proxy, apps["features"], "grpc")
    assert not allowed(policies, _pod("ingress-nginx", "elsewhere"), apps["gateway"], "http")
    assert not allowed(policies, stranger, dns, "dns", "UDP")  # default-deny covers the namespace's other pods
    _assert_test_pods_reach_only_their_app(fleet, policies, apps, dns)


def _test_pod(app: dict) -> dict:
    """The `helm test` pod of an app, labelled as helm template labels it."""
    labels = {"app.kubernetes.io/component": "test", "app.kubernetes.io/part-of": app["name"]}
    return {"name": f"{app['name']}-test", "namespace": app["namespace"], "labels": labels, "ports": {}}


def _assert_test_pods_reach_only_their_app(fleet, policies, apps, dns):
    """With chart.test, the test pod reaches DNS and the port it tests on its app, nothing else; no pod reaches it."""
    tested = {name for name, app in fleet.apps.items() if (plain(app.base).get("chart") or {}).get("test")}
    assert tested == {"gateway", "model"}
    for name, app in apps.items():
        test_pod = _test_pod(app)
        for other in apps.values():
            for port in other["ports"]:
                assert allowed(policies, test_pod, other, port) == (other is app and name in tested), (name, other["name"], port)
            assert not allowed(policies, other, test_pod | {"ports": {"http": 80}}, "http")
    for name in tested:
        assert allowed(policies, _test_pod(apps[name]), dns, "dns", "UDP")
        assert allowed(policies, _test_pod(apps[name]), dns, "dns", "TCP")
        impostor = _test_pod(apps[name]) | {"namespace": "elsewhere"}  # the labels in another namespace
        assert not allowed(policies, impostor, apps[name], "http")


def test_without_default_deny_only_the_apps_are_isolated(tmp_path):
    program = tmp_path / "networking"
    shutil.copytree(EXAMPLE, program)
    fleet_file = program / "fleet.gop"
    fleet_file.write_text(fleet_file.read_text().replace("defaultDeny = true", "defaultDeny = false"))
    analysis = analyse([str(program)])
    assert not analysis.diagnostics
    docs = render_cluster(analysis.evaluation.fleet, "dev-1")
    policies = [doc for doc in docs if doc["kind"] == "NetworkPolicy"]
    assert "default-deny" not in {doc["metadata"]["name"] for doc in policies}
    stranger, dns = _pod("stranger", "serving", {"http": 1}), _pod("kube-dns", "kube-system", {"dns": 53})
    model = _pod("model", "serving", {"http": 9000})
    assert allowed(policies, stranger, dns, "dns", "UDP")
    assert not allowed(policies, stranger, model, "http")


NETWORK_ALLOWS = """\
  network {
    from = [{ namespace = "monitoring", podLabels { "app.kubernetes.io/name" = "prometheus" }, ports = ["http"] }]
    to = [
      { cidr = "0.0.0.0/0", except = ["10.0.0.0/8"], ports = [443] },
      { namespace = "observability", ports = [4317] },
    ]
  }
"""


def test_network_allows_reach_outside_the_graph(tmp_path):
    """`network`: Prometheus (by namespace and label) reaches the gateway's `http`; the gateway
    reaches public addresses on 443 but not the cluster's own 10/8, and any pod of `observability`
    on 4317. Nothing else changes: the graph's allows and denials stay as they were."""
    program = tmp_path / "networking"
    shutil.copytree(EXAMPLE, program)
    apps_file = program / "apps.gop"
    apps_file.write_text(apps_file.read_text().replace("  calls = [model]\n", "  calls = [model]\n" + NETWORK_ALLOWS, 1))
    analysis = analyse([str(program)])
    assert not analysis.diagnostics, [d.message for d in analysis.diagnostics]
    policies = [doc for doc in render_cluster(analysis.evaluation.fleet, "prod-1") if doc["kind"] == "NetworkPolicy"]
    rt.kubernetes_validate_strict(policies)
    gateway, model = _pod("gateway", "serving", {"http": 8080}), _pod("model", "serving", {"http": 9000})
    prometheus = {"name": "prometheus", "namespace": "monitoring", "labels": {"app.kubernetes.io/name": "prometheus"},
                  "ports": {}}
    grafana = {**prometheus, "labels": {"app.kubernetes.io/name": "grafana"}}
    assert allowed(policies, prometheus, gateway, "http")
    assert not allowed(policies, grafana, gateway, "http") and not allowed(policies, prometheus, model, "http")
    public, internal = ({"name": name, "ip": ip, "ports": {"https": 443, "http": 80}}
                        for name, ip in (("api.stripe.com", "203.0.113.7"), ("node", "10.1.2.3")))
    assert allowed(policies, gateway, public, "https") and not allowed(policies, gateway, public, "http")
    assert not allowed(policies, gateway, internal, "https") and not allowed(policies, model, public, "https")
    collector = _pod("otel-collector", "observability", {"otlp": 4317, "admin": 8888})
    assert allowed(policies, gateway, collector, "otlp") and not allowed(policies, gateway, collector, "admin")
    assert allowed(policies, gateway, model, "http")  # the graph's allow is still there


def test_no_setting_no_policy():
    analysis = analyse([str(rt.REPO_ROOT / "examples" / "shop")])
    assert network.settings(analysis.evaluation.fleet) is None
    assert not [doc for doc in render_cluster(analysis.evaluation.fleet, "prod-eu-1") if doc["kind"] == "NetworkPolicy"]


# ---------------------------------------------------------------- the built tree, with the real tools

@pytest.mark.parametrize("cluster", CLUSTERS)
def test_cluster_directories_build_and_validate(fleet, built, cluster):
    docs = []
    for entry in sorted((built / "clusters" / cluster).iterdir()):
        if entry.is_dir() and entry.name != "flux-system":  # bootstrap's, with gotk-components.yaml
            docs += rt.kubectl_kustomize(entry)
        elif entry.suffix == ".yaml" and entry.name != "kustomization.yaml":  # the Flux objects of the cluster
            docs += [doc for doc in yaml.safe_load_all(entry.read_text()) if doc]
    rt.validate_manifests(docs)
    (route,) = [doc for doc in render_cluster(fleet, cluster) if doc["kind"] == "HTTPRoute"]  # the model chart's
    jsonschema.validate(route["spec"], _httproute_schema()["properties"]["spec"])
    assert route["spec"]["parentRefs"] == [{"name": "internal", "namespace": "gateways", "sectionName": "https"}]
    built_policies = sorted((doc for doc in docs if doc["kind"] == "NetworkPolicy"), key=lambda d: d["metadata"]["name"])
    rendered = sorted((doc for doc in render_cluster(fleet, cluster) if doc["kind"] == "NetworkPolicy"),
                      key=lambda d: d["metadata"]["name"])
    tested = [name for name in fleet.clusters[cluster].instances if (plain(fleet.apps[name].base).get("chart") or {}).get("test")]
    assert built_policies == rendered and len(rendered) == len(fleet.clusters[cluster].instances) + len(tested) + 2

    releases = {doc["metadata"]["name"]: doc["spec"] for doc in docs if doc["kind"] == "HelmRelease"}
    gateway = releases["gateway"]
    assert gateway["releaseName"] == "serving-gateway" and gateway["test"] == {"enable": True}
    assert gateway["install"] == {"strategy": {"name": "RetryOnFailure"}, "remediation": {"retries": 3}}
    if cluster == "prod-1":
        (hpa,) = [doc for doc in render_cluster(fleet, cluster) if doc["kind"] == "HorizontalPodAutoscaler"]
        assert [metric.get("resource", metric.get("pods"))["target"] for metric in hpa["spec"]["metrics"]] == [
            {"type": "Utilization", "averageUtilization": 70}, {"type": "Utilization", "averageUtilization": 80},
            {"type": "AverageValue", "averageValue": "200"}]
        assert gateway["driftDetection"] == {"mode": "enabled"}
        assert gateway["upgrade"]["strategy"] == {"name": "RetryOnFailure", "retryInterval": "2m"}
    else:
        assert "driftDetection" not in gateway
    assert gateway["upgrade"]["cleanupOnFail"] is True and gateway["upgrade"]["remediation"]["strategy"] == "rollback"

    image_policies = {doc["metadata"]["name"]: doc["spec"] for doc in docs if doc["kind"] == "ImagePolicy"}
    assert image_policies["model"]["filterTags"] == {"pattern": "^model-v(?P<version>[0-9]+[.][0-9]+[.][0-9]+)$",
                                                     "extract": "$version"}
    assert image_policies["features"]["policy"] == {"numerical": {"order": "asc"}}
    assert image_policies["trainer"]["policy"] == {"alphabetical": {"order": "asc"}}


def test_charts_lint_and_template_like_helm(fleet, built, tmp_path):
    for name, app in fleet.apps.items():
        chart = built / "charts" / name
        output = rt.helm_lint_strict(chart)
        assert "[WARNING]" not in output and "[ERROR]" not in output
        release = plain(app.base).get("delivery", {}).get("releaseName") or name
        helm_docs = rt.helm_template(chart, release=release, namespace=app.namespace)
        assert helm_docs == helm_template(app, {}, release_name=release, namespace=app.namespace)
        rt.kubernetes_validate_strict(doc for doc in helm_docs if doc["kind"] != "HTTPRoute")
    gateway = yaml.safe_load((built / "charts/gateway/Chart.yaml").read_text())
    assert gateway["version"] == "1.8.0"
    test_pod = [doc for doc in rt.helm_template(built / "charts/gateway", release="serving-gateway", namespace="serving")
                if doc["kind"] == "Pod"]
    assert test_pod[0]["spec"]["containers"][0]["args"][-1] == "http://serving-gateway:8080/ready"
    assert test_pod[0]["metadata"]["annotations"]["helm.sh/hook"] == "test"
    assert not [doc for doc in render_cluster(fleet, "dev-1") if doc["kind"] == "Pod"]  # hooks are not applied
    assert {(doc["kind"], doc["metadata"]["name"]) for doc in render_cluster(fleet, "dev-1")
            if doc["kind"] in ("Deployment", "CronJob")} == {
        ("Deployment", "serving-gateway"), ("Deployment", "model"), ("Deployment", "features"), ("CronJob", "trainer")}


def test_readme_documents_the_values(fleet):
    files = chart_files(fleet.apps["gateway"])
    readme = files["README.md"]
    assert readme.startswith("# gateway\n\nThe public API: routes requests to the model server.\n")
    assert "| `image.tag` | string | `\"1.8.0\"` | The tag to run; it is also the chart's appVersion. |" in readme
    assert "| `ingress.host` |" in readme and "`config`" not in readme  # an unused part has no row
    assert "README.md" not in chart_files(fleet.apps["model"])


# ---------------------------------------------------------------- Go regexps

@pytest.mark.parametrize("pattern", [
    r"^v(?P<n>[0-9]+)$", r"^main-[a-f0-9]{7}$", r"(?i)^RC-(?<n>\d+)\z", r"\pL+\p{Greek}[[:alpha:]]", r"(?U)a+",
    r"\Qa.b\E", r"\x{263a}", r"[\d\s]", r"a{2,}b?"])
def test_patterns_go_accepts(pattern):
    assert pattern_problem(pattern) is None


@pytest.mark.parametrize("pattern, reason", [
    (r"(?=x)", "look-ahead"), (r"(?<!x)y", "negative look-behind"), (r"(a)\1", "back-reference"),
    (r"(?P<a>x)(?P=a)", "back-reference"), (r"a++", "possessive"), (r"a{2}+", "possessive"), (r"(?>a)", "atomic"),
    (r"a\Z", r"\Z"), (r"\u0041", r"\u"), (r"[a", "unterminated"), (r"a**", "multiple repeat"), ("a\\", "lone")])
def test_patterns_go_refuses(pattern, reason):
    assert reason in pattern_problem(pattern)


def test_extract_references():
    names, count = group_names(r"^(?P<major>\d+)[.](\d+)$")
    assert (names, count) == (("major",), 2)
    assert template_problems("$major.${2} $$ $ ${x-y}", names, count) == []
    problems = template_problems("$1x $minor $3", names, count)
    assert [problem.split("`")[1] for problem in problems] == ["$1x", "$minor", "$3"]
    assert "write `${1}x`" in problems[0]


@pytest.mark.parametrize("layer, url", [
    ({"ports": {"metrics": 9100, "admin": 81}}, "http://t:81/"),
    ({"ports": {"http": 80, "grpc": 90}, "liveness": {"path": "/live", "port": "grpc"}}, "http://t:90/live"),
    ({"ports": {"http": 80}, "liveness": {"path": "/live"}, "readiness": {"path": "/ready"}}, "http://t:80/ready"),
])
def test_the_test_pod_connects_like_helm(tmp_path, layer, url):
    import helm_fixtures as fx
    values = {key: fx.complete(fx.PROBE, value) if key in ("liveness", "readiness") else value
              for key, value in layer.items()}
    app = fx.make_app("t", values_record=None, chart={"test": True}, **values)
    chart = fx.write_chart(app, tmp_path)
    helm_docs = rt.helm_template(chart, release="t", namespace="ns")
    assert helm_docs == helm_template(app, {}, release_name="t", namespace="ns")
    assert helm_docs[-1]["kind"] == "Pod" and helm_docs[-1]["spec"]["containers"][0]["args"][-1] == url


# ---------------------------------------------------------------- routes: an Ingress or an HTTPRoute

GATEWAY_API_CRD = Path(__file__).parent / "vendor" / "gateway-api" / "httproutes.yaml"


def _httproute_schema() -> dict:
    crd = yaml.safe_load(GATEWAY_API_CRD.read_text())
    (version,) = [v for v in crd["spec"]["versions"] if v["name"] == "v1"]
    return version["schema"]["openAPIV3Schema"]


@pytest.mark.parametrize("routes, ports", [
    ({"hosts": ["shop.example.com", "www.shop.example.com"], "className": "nginx", "tls": True,
      "paths": [{"path": "/"}, {"path": "/admin", "match": "Exact", "port": "admin"}]}, {"http": 8080, "admin": 9000}),
    ({"hosts": ["api.example.com"], "paths": [{"path": "/v1"}], "annotations": {"a.b/c": "d"}}, {"grpc": 9090}),
    ({"api": "HTTPRoute", "hosts": ["shop.example.com", "shop.example.org"], "gateway": {"name": "public"},
      "paths": [{"path": "/"}, {"path": "/admin", "match": "Exact", "port": "admin"}]}, {"http": 8080, "admin": 9000}),
    ({"api": "HTTPRoute", "hosts": ["api.example.com"], "paths": [{"path": "/v1"}],
      "gateway": {"name": "public", "namespace": "gateways", "sectionName": "https"}}, {"grpc": 9090}),
    # wildcard hosts, which both APIs accept (issue 13)
    ({"hosts": ["*.shop.example.com"], "paths": [{"path": "/"}]}, {"http": 8080}),
    ({"api": "HTTPRoute", "hosts": ["*.example.com"], "gateway": {"name": "public"}, "paths": [{"path": "/"}]},
     {"http": 8080}),
])
def test_routes_render_like_helm_and_validate(tmp_path, routes, ports):
    import helm_fixtures as fx

    completed = fx.complete(fx.ROUTES, {**routes, "paths": [fx.complete(fx.ROUTE_PATH, path) for path in routes["paths"]]})
    app = fx.make_app("shop", values_record=None, ports=ports, routes=completed)
    chart = fx.write_chart(app, tmp_path)
    assert "[WARNING]" not in rt.helm_lint_strict(chart)
    helm_docs = rt.helm_template(chart, release="shop", namespace="ns")
    assert helm_docs == helm_template(app, {}, release_name="shop", namespace="ns")
    (route,) = [doc for doc in helm_docs if doc["kind"] in ("Ingress", "HTTPRoute")]
    if route["kind"] == "Ingress":
        rt.kubernetes_validate_strict([route])
        assert [rule["host"] for rule in route["spec"]["rules"]] == routes["hosts"]
        assert len(route["spec"]["rules"][0]["http"]["paths"]) == len(routes["paths"])
    else:
        assert route["apiVersion"] == "gateway.networking.k8s.io/v1" and helm_docs[-1] is route  # after known kinds
        jsonschema.validate(route["spec"], _httproute_schema()["properties"]["spec"])
        assert [ref["port"] for rule in route["spec"]["rules"] for ref in rule["backendRefs"]] == [
            ports[path.get("port") or ("http" if "http" in ports else next(iter(ports)))] for path in routes["paths"]]


def test_refused_paths_are_the_gateway_apis():
    """route_paths refuses what the vendored CRD's CEL rules refuse of an Exact/PathPrefix path match."""
    text = GATEWAY_API_CRD.read_text()
    contains = set(re.findall(r"!self\.value\.contains\(''([^']+)''\)", text))
    endings = set(re.findall(r"!self\.value\.endsWith\(''([^']+)''\)", text))
    assert contains == set(route_paths.REFUSED_PARTS) and endings == set(route_paths.REFUSED_ENDINGS)
    assert route_paths.path_problem("/a/b.c/..d") is None and route_paths.path_problem("/a/..") == "it ends with `/..`"


# ---------------------------------------------------------------- autoscaling beyond CPU

def test_scaling_metrics_render_like_helm_and_validate(tmp_path):
    import helm_fixtures as fx
    from gop.compiler.semantic.types import Quantity

    metrics = [
        {"type": "Resource", "name": "memory", "averageUtilization": 75},
        {"type": "Resource", "name": "cpu", "averageValue": Quantity.parse("500m")},
        {"type": "Pods", "name": "http_requests_per_second", "averageValue": Quantity.parse("100"),
         "selector": {"route": "/api", "code": "2xx"}},
        {"type": "Object", "name": "requests_per_second", "value": Quantity.parse("2k"),
         "object": {"apiVersion": "networking.k8s.io/v1", "kind": "Ingress", "name": "web"}},
        {"type": "External", "name": "queue_messages_ready", "selector": {"queue": "orders"},
         "averageValue": Quantity.parse("30")},
    ]
    app = fx.make_app("web", values_record=None, autoscaling=fx.complete(fx.AUTOSCALING, {"max": 10}),
                      scalingMetrics=[fx.complete(fx.SCALING_METRIC, metric) for metric in metrics])
    assert "scalingMetrics" in chart_parts(app)
    chart = fx.write_chart(app, tmp_path)
    assert "[WARNING]" not in rt.helm_lint_strict(chart)
    helm_docs = rt.helm_template(chart, release="web", namespace="ns")
    assert helm_docs == helm_template(app, {}, release_name="web", namespace="ns")
    rt.kubernetes_validate_strict(helm_docs)
    (hpa,) = [doc for doc in helm_docs if doc["kind"] == "HorizontalPodAutoscaler"]
    # No `autoscaling.cpu`: the metrics replace the CPU utilisation the HPA has by default.
    assert [metric["type"] for metric in hpa["spec"]["metrics"]] == ["Resource", "Resource", "Pods", "Object", "External"]
    assert hpa["spec"]["metrics"][2]["pods"]["metric"]["selector"] == {"matchLabels": {"code": "2xx", "route": "/api"}}
    # Without the part (no app sets scalingMetrics), the HPA template has the CPU metric alone.
    plain_app = fx.make_app("web", values_record=None, autoscaling=fx.complete(fx.AUTOSCALING, {"max": 10}))
    assert "scalingMetrics" not in chart_parts(plain_app)
    assert "scalingMetrics" not in chart_files(plain_app)["templates/hpa.yaml"]
