"""What `helm template` prints for an app's chart, computed in Python without helm.

Input: an `AppModel`, plain values (already merged; Flux-level fields may be present and are
ignored), a release name and a namespace; or, for a caller that renders many releases of one
app, the chart's effective values merged over `chart_values(app)` (`helm_template_merged`).
Output: the Kubernetes objects, in the order `helm template` prints them (Helm's install order
by kind; within a kind, by template path and position in the file).

Invariants:
- Mirrors templates.py line by line: same objects, same fields, same conditions, same string
  forms (labels, names, values.json and checksums byte for byte). The parity tests run real
  helm on many value combinations and compare the parsed documents with these.
- The chart's default values (values.yaml) are merged under `values` the way Helm merges
  values files: maps key by key, everything else replaced.
- Values are assumed to satisfy values.schema.json (gopc's type checker guarantees it; helm
  would refuse the install otherwise).
"""

from __future__ import annotations

import hashlib
import re
from typing import Any

from gop.compiler.fleet.model import AppModel
from gop.compiler.lower.helm.caches import HelmCaches
from gop.compiler.values import merge, plain
from gop.compiler.lower.helm.chart import chart_version
from gop.compiler.emit.gojson import go_json
from gop.compiler.lower.helm.parts import chart_parts, helm_values

Doc = dict[str, Any]

# Helm's install order of the kinds a chart can contain (pkg/release/util/kind_sorter.go).
INSTALL_ORDER = ("ServiceAccount", "ConfigMap", "Service", "Deployment", "HorizontalPodAutoscaler", "Ingress")
TEST_IMAGE = "busybox:1.37.0"  # the `helm test` pod's (templates.TEST_CONNECTION)
_LABEL_EDGES = re.compile(r"^[^A-Za-z0-9]+|[^A-Za-z0-9]+$")


def helm_template(app: AppModel, values: dict[str, Any], *, release_name: str, namespace: str,
                  caches: HelmCaches | None = None) -> list[Doc]:
    """The objects of `helm template <release_name> charts/<app> -n <namespace> -f <values>`.
    `caches`: the program's Helm caches (the chart's version, in the labels)."""
    effective = merge(chart_values(app), helm_values(plain(values)))
    return helm_template_merged(app, effective, release_name=release_name, namespace=namespace, caches=caches)


def chart_values(app: AppModel) -> dict[str, Any]:
    """The chart's values.yaml as Helm reads it: plain, without the Flux-level fields."""
    return helm_values(plain(app.base))


def helm_template_merged(app: AppModel, effective: dict[str, Any], *, release_name: str, namespace: str,
                         caches: HelmCaches | None = None) -> list[Doc]:
    """`helm_template` for values already merged over `chart_values(app)`. The objects hold
    sub-trees of `effective` itself (a Deployment's `resources`), so neither may be changed
    while the other is in use."""
    release = _Release(app.name, chart_version(app, caches), release_name, namespace, effective)
    parts = chart_parts(app)
    docs: list[tuple[str, Doc]] = []  # (template path, object), in template path order
    if "config" in parts:
        docs.append(("configmap.yaml", release.config_map()))
    if "values" in parts:
        docs.append(("configmap.yaml", release.values_map()))
    docs.append(("deployment.yaml", release.deployment(parts)))
    if "autoscaling" in parts and effective.get("autoscaling"):
        docs.append(("hpa.yaml", release.hpa(parts)))
    if "ingress" in parts and effective.get("ingress") and effective["ports"]:
        docs.append(("ingress.yaml", release.ingress()))
    if "routes" in parts and effective.get("routes") and effective["ports"]:
        docs.append(("routes.yaml", release.routes()))
    if "service" in parts and effective["ports"]:
        docs.append(("service.yaml", release.service()))
    account = effective.get("serviceAccount")
    if "serviceAccount" in parts and account and account["create"]:
        docs.append(("serviceaccount.yaml", release.service_account()))
    ordered = sorted(enumerate(docs), key=lambda item: (*_install_rank(item[1][1]["kind"]), item[1][0], item[0]))
    hooks = [release.test_pod()] if "test" in parts and effective["ports"] else []  # helm prints hooks last
    return [doc for _, (_, doc) in ordered] + hooks


def _install_rank(kind: str) -> tuple[int, str]:
    """Helm's install order: the kinds it knows in its order, then the others by name (an HTTPRoute)."""
    return (INSTALL_ORDER.index(kind), "") if kind in INSTALL_ORDER else (len(INSTALL_ORDER), kind)


def label_value(text: str) -> str:
    """gop.labelValue: at most 63 characters, alphanumeric at both ends."""
    return _LABEL_EDGES.sub("", text[:63])


def fullname(chart: str, release_name: str) -> str:
    """gop.fullname: the release name, with the chart name appended unless it already contains it."""
    name = release_name if chart in release_name else f"{release_name}-{chart}"
    return _trim_dash(name[:63])


def _trim_dash(text: str) -> str:
    return text[:-1] if text.endswith("-") else text


class _Release:
    def __init__(self, chart: str, version: str, release_name: str, namespace: str, values: dict[str, Any]):
        self.chart, self.release_name, self.namespace, self.values = chart, release_name, namespace, values
        self.fullname = fullname(chart, release_name)
        self.selector_labels = {"app.kubernetes.io/name": _trim_dash(chart[:63]),
                                "app.kubernetes.io/instance": release_name}
        self.pod_labels = {**self.selector_labels, "app.kubernetes.io/version": label_value(values["image"]["tag"])}
        self.labels = {"helm.sh/chart": label_value(f"{chart}-{version}".replace("+", "_")), **self.pod_labels,
                       "app.kubernetes.io/managed-by": "Helm"}

    def metadata(self, suffix: str = "") -> Doc:
        return {"name": self.fullname + suffix, "namespace": self.namespace, "labels": dict(self.labels)}

    def deployment(self, parts: frozenset[str]) -> Doc:
        values = self.values
        spec: Doc = {}
        if not ("autoscaling" in parts and values.get("autoscaling")):
            spec["replicas"] = values["replicas"]
        spec["selector"] = {"matchLabels": dict(self.selector_labels)}
        pod_metadata: Doc = {"labels": dict(self.pod_labels)}
        mounts = [name for name in ("config", "values") if name in parts]
        if mounts:
            pod_metadata["annotations"] = {f"checksum/{name}": _sha256(go_json(values[name])) for name in mounts}
        pod: Doc = {}
        if "serviceAccount" in parts and values.get("serviceAccount"):
            pod["serviceAccountName"] = self.service_account_name()
        pod["containers"] = [self.container(parts, mounts)]
        if mounts:
            pod["volumes"] = [{"name": name, "configMap": {"name": f"{self.fullname}-{name}"}} for name in mounts]
        spec["template"] = {"metadata": pod_metadata, "spec": pod}
        return {"apiVersion": "apps/v1", "kind": "Deployment", "metadata": self.metadata(), "spec": spec}

    def container(self, parts: frozenset[str], mounts: list[str]) -> Doc:
        values = self.values
        image = values["image"]
        container: Doc = {"name": self.chart, "image": f"{image['repository']}:{image['tag']}",
                          "imagePullPolicy": image["pullPolicy"]}
        if values["ports"]:
            container["ports"] = [{"name": name, "containerPort": port, "protocol": "TCP"}
                                  for name, port in sorted(values["ports"].items())]
        env = [{"name": name, "value": text} for name, text in sorted(values["env"].items())]
        if "secretEnv" in parts:
            env += [{"name": name, "valueFrom": {"secretKeyRef": {"name": ref["secret"], "key": ref["key"]}}}
                    for name, ref in sorted(values["secretEnv"].items())]
        if env:
            container["env"] = env
        for field, key in (("liveness", "livenessProbe"), ("readiness", "readinessProbe")):
            if values.get(field):
                container[key] = _probe(values[field])
        if values.get("resources"):
            container["resources"] = values["resources"]
        if mounts:
            paths = {"config": f"/etc/{self.chart}", "values": f"/etc/{self.chart}-values"}
            container["volumeMounts"] = [{"name": name, "mountPath": paths[name], "readOnly": True} for name in mounts]
        return container

    def service(self) -> Doc:
        ports = [{"name": name, "port": port, "targetPort": name, "protocol": "TCP"}
                 for name, port in sorted(self.values["ports"].items())]
        spec = {"type": "ClusterIP", "selector": dict(self.selector_labels), "ports": ports}
        return {"apiVersion": "v1", "kind": "Service", "metadata": self.metadata(), "spec": spec}

    def ingress(self) -> Doc:
        ingress = self.values["ingress"]
        metadata = self.metadata()
        if ingress["annotations"]:
            metadata["annotations"] = dict(ingress["annotations"])
        spec: Doc = {}
        if ingress.get("className"):
            spec["ingressClassName"] = ingress["className"]
        if ingress["tls"]:
            secret = ingress.get("tlsSecret") or f"{self.fullname}-tls"
            spec["tls"] = [{"hosts": [ingress["host"]], "secretName": secret}]
        ports = self.values["ports"]
        port = ingress.get("port") or ("http" if "http" in ports else sorted(ports)[0])
        backend = {"service": {"name": self.fullname, "port": {"name": port}}}
        path = {"path": ingress["path"], "pathType": "Prefix", "backend": backend}
        spec["rules"] = [{"host": ingress["host"], "http": {"paths": [path]}}]
        return {"apiVersion": "networking.k8s.io/v1", "kind": "Ingress", "metadata": metadata, "spec": spec}

    def routes(self) -> Doc:
        routes, ports = self.values["routes"], self.values["ports"]
        metadata = self.metadata()
        if routes["annotations"]:
            metadata["annotations"] = dict(routes["annotations"])

        def port_of(path: dict[str, Any]) -> str:
            return path.get("port") or ("http" if "http" in ports else sorted(ports)[0])

        spec: Doc = {}
        if routes["api"] == "Ingress":
            if routes.get("className"):
                spec["ingressClassName"] = routes["className"]
            if routes["tls"]:
                spec["tls"] = [{"hosts": list(routes["hosts"]), "secretName": routes.get("tlsSecret") or f"{self.fullname}-tls"}]
            paths = [{"path": path["path"], "pathType": path.get("match") or "Prefix",
                      "backend": {"service": {"name": self.fullname, "port": {"name": port_of(path)}}}}
                     for path in routes["paths"]]
            spec["rules"] = [{"host": host, "http": {"paths": paths}} for host in routes["hosts"]]
            return {"apiVersion": "networking.k8s.io/v1", "kind": "Ingress", "metadata": metadata, "spec": spec}
        gateway = routes["gateway"]
        parent = {"name": gateway["name"], **{key: gateway[key] for key in ("namespace", "sectionName") if gateway.get(key)}}
        spec["parentRefs"] = [parent]
        spec["hostnames"] = list(routes["hosts"])
        spec["rules"] = [{"matches": [{"path": {"type": "Exact" if path.get("match") == "Exact" else "PathPrefix",
                                                "value": path["path"]}}],
                          "backendRefs": [{"name": self.fullname, "port": ports[port_of(path)]}]}
                         for path in routes["paths"]]
        return {"apiVersion": "gateway.networking.k8s.io/v1", "kind": "HTTPRoute", "metadata": metadata, "spec": spec}

    def hpa(self, parts: frozenset[str]) -> Doc:
        scaling = self.values["autoscaling"]
        target = {"type": "Utilization", "averageUtilization": scaling["cpu"]}
        spec = {"scaleTargetRef": {"apiVersion": "apps/v1", "kind": "Deployment", "name": self.fullname},
                "minReplicas": scaling["min"], "maxReplicas": scaling["max"],
                "metrics": [{"type": "Resource", "resource": {"name": "cpu", "target": target}}]}
        if "scalingMetrics" in parts:
            spec["metrics"] += [_scaling_metric(metric) for metric in self.values.get("scalingMetrics") or ()]
        return {"apiVersion": "autoscaling/v2", "kind": "HorizontalPodAutoscaler", "metadata": self.metadata(),
                "spec": spec}

    def test_pod(self) -> Doc:
        values = self.values
        ports = values["ports"]
        probe = values.get("readiness") or values.get("liveness") or {}
        port = probe.get("port") or ("http" if "http" in ports else sorted(ports)[0])
        url = f"http://{self.fullname}:{ports[port]}{probe.get('path') or '/'}"
        labels = {"helm.sh/chart": self.labels["helm.sh/chart"], "app.kubernetes.io/component": "test",
                  "app.kubernetes.io/managed-by": "Helm"}
        metadata = {"name": f"{self.fullname}-test-connection", "namespace": self.namespace, "labels": labels,
                    "annotations": {"helm.sh/hook": "test", "helm.sh/hook-delete-policy": "before-hook-creation,hook-succeeded"}}
        container = {"name": "wget", "image": TEST_IMAGE, "command": ["wget"], "args": ["-q", "-O", "/dev/null", "-T", "10", url],
                     "securityContext": {"allowPrivilegeEscalation": False, "readOnlyRootFilesystem": True,
                                         "capabilities": {"drop": ["ALL"]}},
                     "resources": {"requests": {"cpu": "10m", "memory": "16Mi"}, "limits": {"cpu": "100m", "memory": "32Mi"}}}
        spec = {"restartPolicy": "Never", "automountServiceAccountToken": False,
                "securityContext": {"runAsNonRoot": True, "runAsUser": 65534, "runAsGroup": 65534,
                                    "seccompProfile": {"type": "RuntimeDefault"}},
                "containers": [container]}
        return {"apiVersion": "v1", "kind": "Pod", "metadata": metadata, "spec": spec}

    def service_account_name(self) -> str:
        return self.values["serviceAccount"].get("name") or self.fullname

    def service_account(self) -> Doc:
        account = self.values["serviceAccount"]
        metadata = {"name": self.service_account_name(), "namespace": self.namespace, "labels": dict(self.labels)}
        if account["annotations"]:
            metadata["annotations"] = dict(account["annotations"])
        return {"apiVersion": "v1", "kind": "ServiceAccount", "metadata": metadata}

    def config_map(self) -> Doc:
        doc: Doc = {"apiVersion": "v1", "kind": "ConfigMap", "metadata": self.metadata("-config")}
        if self.values["config"]:
            doc["data"] = dict(sorted(self.values["config"].items()))
        return doc

    def values_map(self) -> Doc:
        data = {"values.json": go_json(self.values["values"], pretty=True)}
        return {"apiVersion": "v1", "kind": "ConfigMap", "metadata": self.metadata("-values"), "data": data}


def _scaling_metric(metric: dict[str, Any]) -> Doc:
    """templates.SCALING_METRICS for one metric."""
    kind = metric["type"]
    for target_type, key in (("Utilization", "averageUtilization"), ("AverageValue", "averageValue"), ("Value", "value")):
        if key in metric:
            target = {"type": target_type, key: metric[key]}
            break
    if kind == "Resource":
        return {"type": kind, "resource": {"name": metric["name"], "target": target}}
    identity: Doc = {"name": metric["name"]}
    if metric.get("selector"):
        identity["selector"] = {"matchLabels": dict(sorted(metric["selector"].items()))}
    body: Doc = {"metric": identity, "target": target}
    if kind == "Object":
        described = {key: metric["object"][key] for key in ("apiVersion", "kind", "name")}
        body = {"describedObject": described, **body}
    return {"type": kind, kind.lower(): body}


def _probe(probe: dict[str, Any]) -> Doc:
    return {"httpGet": {"path": probe["path"], "port": probe["port"]},
            "initialDelaySeconds": probe["initialDelaySeconds"], "periodSeconds": probe["periodSeconds"],
            "timeoutSeconds": probe["timeoutSeconds"], "failureThreshold": probe["failureThreshold"]}


def _sha256(text: str) -> str:
    return hashlib.sha256(text.encode()).hexdigest()
