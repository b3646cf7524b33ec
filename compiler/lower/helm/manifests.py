"""What `helm template` prints for an app's chart, computed in Python without helm.

Input: an `AppModel`, plain values (already merged; Flux-level fields may be present and are
ignored), a release name and a namespace; or, for a caller that renders many releases of one
app, the chart's effective values merged over `chart_values(app)` (`helm_template_merged`).
Output: the Kubernetes objects, in the order `helm template` prints them (Helm's install order
by kind; within a kind, by template path and position in the file; the hooks, a Job, last).

Invariants:
- Mirrors templates.py line by line: same objects, same fields, same conditions, same string
  forms (labels, names, values.json and checksums byte for byte). The parity tests run real
  helm on many value combinations and compare the parsed documents with these.
- The chart's default values (values.yaml) are merged under `values` the way Helm merges
  values files: maps key by key, everything else replaced.
- Values are assumed to satisfy values.schema.json (gopc's type checker guarantees it; helm
  would refuse the install otherwise).
- The workload is made from the values without `NOT_WORKLOAD_FIELDS`, which its templates never
  read either (the parity tests with real helm set them and leave them out), so it cannot depend on them.
"""

from __future__ import annotations

import copy
import hashlib
import re
from collections.abc import Callable
from typing import Any

from gop.compiler.fleet.model import AppModel
from gop.compiler.lower.helm.caches import HelmCaches
from gop.compiler.values import merge, plain
from gop.compiler.lower.helm.chart import chart_version
from gop.compiler.lower.helm.parts import ABSENT_DEFAULTS, helm_values, kinds_of, scaled_kind
from gop.compiler.language import (DEFAULT_WORKLOAD, PROBE_FIELDS, WORKLOAD_PARTS, AppField, WorkloadField,
                                   chart_fullname, cpu_utilization)

Doc = dict[str, Any]

# The values no workload template reads (the Ingress's and the routes'): the workload is made without
# them, so releases that differ only there (a cluster's own host) can share it (`workload_source`).
NOT_WORKLOAD_FIELDS = frozenset({AppField.INGRESS, "routes"})
# Helm's install order of the kinds a chart can contain (pkg/release/util/kind_sorter.go).
INSTALL_ORDER = ("PodDisruptionBudget", "ServiceAccount", "ConfigMap", "Service", "DaemonSet", "Pod", "Deployment",
                 "HorizontalPodAutoscaler", "StatefulSet", "Job", "CronJob", "Ingress")
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
                         caches: HelmCaches | None = None, shared: SharedObjects | None = None,
                         workload_source: tuple[str, ...] | None = None) -> list[Doc]:
    """`helm_template` for values already merged over `chart_values(app)`. The objects hold
    sub-trees of `effective` itself (a Deployment's `resources`), so neither may be changed
    while the other is in use. `shared`: the objects of other releases by what they are made from,
    for a caller that renders many releases and only reads them: an object whose inputs an earlier
    release had (most releases of an app have the same Service and ServiceAccount) is that
    release's object, not a copy. `workload_source`, with `shared`: texts that tell apart what the
    values a workload reads (all but `NOT_WORKLOAD_FIELDS`) were merged from, among the app's
    releases that use `shared` (equal sources, equal values): the workload is then shared too."""
    caches = caches or HelmCaches()
    release = _Release(app.name, chart_version(app, caches), release_name, namespace, effective, caches, shared)
    parts = caches.chart_parts(app)
    docs: list[tuple[str, Doc]] = []  # (template path, object), in template path order
    if "config" in parts:
        docs.append(("configmap.yaml", release.made_once("config", (effective["config"],), release.config_map)))
    if "values" in parts:
        docs.append(("configmap.yaml", release.made_once("values", (effective["values"],), release.values_map)))
    kind = effective.get(WorkloadField.WORKLOAD, DEFAULT_WORKLOAD)
    if WORKLOAD_PARTS.get(kind) not in parts:  # a kind the chart has no template for
        kind = kinds_of(parts)[0]

    def workload() -> Doc:
        return release.without(NOT_WORKLOAD_FIELDS).workload(kind, parts)

    docs.append((f"{kind.lower()}.yaml", workload() if workload_source is None
                 else release.made_once("workload", workload_source, workload)))
    if kind == "StatefulSet" and not (effective.get(WorkloadField.STATEFUL_SET) or {}).get("serviceName"):
        docs.append(("statefulset.yaml", release.made_once("headless", (effective.get("ports"),), release.headless_service)))
    if "disruptionBudget" in parts and release.needs_budget():
        docs.append(("pdb.yaml", release.made_once("pdb", (release.budget,), release.disruption_budget)))
    if "autoscaling" in parts and effective.get("autoscaling"):
        docs.append(("hpa.yaml", release.hpa(parts)))
    if "ingress" in parts and effective.get("ingress") and effective["ports"]:
        docs.append(("ingress.yaml", release.made_once("ingress", (effective["ingress"], effective["ports"]),
                                                       release.ingress)))
    if "routes" in parts and effective.get("routes") and effective["ports"]:
        docs.append(("routes.yaml", release.routes()))
    if "service" in parts and effective["ports"]:
        docs.append(("service.yaml", release.made_once("service", (effective["ports"],), release.service)))
    if release.account()["create"]:
        docs.append(("serviceaccount.yaml", release.made_once("serviceAccount", (release.account(),),
                                                              release.service_account)))
    if "test" in parts and effective["ports"]:
        docs.append(("tests/test-connection.yaml", release.test_pod()))
    # helm template prints the hooks (a Job, the `helm test` pod) after every other object
    ordered = sorted(enumerate(docs), key=lambda item: (_is_hook(item[1][1]), *_install_rank(item[1][1]["kind"]),
                                                        item[1][0], item[0]))
    return [doc for _, (_, doc) in ordered]


class SharedObjects:
    """Objects `helm_template_merged` made once for many releases (see its `shared`), kept alive by
    this holder, so their ids are theirs while it lives: a reader may key what it derives from one
    (its YAML text) by its id."""

    def __init__(self) -> None:
        self.made: dict[tuple, Doc] = {}  # (template, names and labels of the release, repr(inputs)) -> the object
        self.ids: set[int] = set()  # the ids of the objects in `made`


def _is_hook(doc: Doc) -> bool:
    return "helm.sh/hook" in (doc["metadata"].get("annotations") or {})


def _install_rank(kind: str) -> tuple[int, str]:
    """Helm's install order: the kinds it knows in its order, then the others by name (an HTTPRoute)."""
    return (INSTALL_ORDER.index(kind), "") if kind in INSTALL_ORDER else (len(INSTALL_ORDER), kind)


def label_value(text: str) -> str:
    """gop.labelValue: at most 63 characters, alphanumeric at both ends."""
    return _LABEL_EDGES.sub("", text[:63])


def _trim_dash(text: str) -> str:
    return text[:-1] if text.endswith("-") else text


class _Release:
    def __init__(self, chart: str, version: str, release_name: str, namespace: str, values: dict[str, Any],
                 caches: HelmCaches, shared: SharedObjects | None):
        self.chart, self.release_name, self.namespace, self.values = chart, release_name, namespace, values
        self.caches, self.shared = caches, shared
        self.version = version
        self.fullname = chart_fullname(chart, release_name)  # shared with the checks of derived names
        # the pod records a chart applies its defaults to when no layer sets them
        self.security = values.get(WorkloadField.SECURITY) or ABSENT_DEFAULTS["security"]
        self.budget = values.get(WorkloadField.DISRUPTION_BUDGET) or ABSENT_DEFAULTS["disruptionBudget"]
        self.selector_labels = {"app.kubernetes.io/name": _trim_dash(chart[:63]),
                                "app.kubernetes.io/instance": release_name}
        self.pod_labels = {**self.selector_labels, "app.kubernetes.io/version": label_value(values["image"]["tag"])}
        self.labels = {"helm.sh/chart": label_value(f"{chart}-{version}".replace("+", "_")), **self.pod_labels,
                       "app.kubernetes.io/managed-by": "Helm"}

    def made_once(self, template: str, inputs: tuple, make: Callable[[], Doc]) -> Doc:
        """`make()`, or the object made of the same template and `inputs` (the values it reads besides the
        release's names and labels) for an earlier release (`helm_template_merged`'s `shared`)."""
        if self.shared is None:
            return make()
        key = (template, self.chart, self.version, self.release_name, self.namespace, self.values["image"]["tag"],
               repr(inputs))
        doc = self.shared.made.get(key)
        if doc is None:
            doc = self.shared.made[key] = make()
            self.shared.ids.add(id(doc))
        return doc

    def without(self, fields: frozenset[str]) -> _Release:
        """This release, reading its values without `fields` (none of which its names and labels read):
        what it makes cannot depend on them."""
        release = copy.copy(self)
        release.values = {key: item for key, item in self.values.items() if key not in fields}
        return release

    def metadata(self, suffix: str = "") -> Doc:
        return {"name": self.fullname + suffix, "namespace": self.namespace, "labels": dict(self.labels)}

    def workload(self, kind: str, parts: frozenset[str]) -> Doc:
        """The workload object of `kind` (templates/<kind>.yaml; a StatefulSet's template also has its
        headless Service, `headless_service`)."""
        values = self.values
        metadata = self.metadata()
        if kind == "Job":
            metadata["annotations"] = dict(JOB_HOOK)
        spec: Doc = {}
        if kind in ("Deployment", "StatefulSet") and not ("autoscaling" in parts and values.get("autoscaling")):
            spec["replicas"] = values["replicas"]
        settings = values.get(WorkloadField.STATEFUL_SET) or {}
        if kind == "StatefulSet":
            spec["serviceName"] = settings.get("serviceName") or self.headless_name()
            if settings.get("podManagementPolicy"):
                spec["podManagementPolicy"] = settings["podManagementPolicy"]
        if kind in ("Deployment", "StatefulSet", "DaemonSet"):
            spec["selector"] = {"matchLabels": dict(self.selector_labels)}
            spec["template"] = self.pod(parts)
        if kind == "StatefulSet" and settings.get("volumeClaimTemplates"):
            spec["volumeClaimTemplates"] = [_claim(name, claim)
                                            for name, claim in sorted(settings["volumeClaimTemplates"].items())]
        if kind == "Job":
            spec.update(self.job_spec(parts))
        if kind == "CronJob":
            spec.update(_cron_spec(values[WorkloadField.CRON_JOB]))
            spec["jobTemplate"] = {"spec": self.job_spec(parts)}
        return {"apiVersion": _API[kind], "kind": kind, "metadata": metadata, "spec": spec}

    def headless_name(self) -> str:
        return self.fullname + "-headless"

    def headless_service(self) -> Doc:
        """The governing Service of a StatefulSet: DNS names for its pods, and SRV records for its ports."""
        spec: Doc = {"clusterIP": "None", "publishNotReadyAddresses": True, "selector": dict(self.selector_labels)}
        if self.values.get("ports"):
            spec["ports"] = self.service_ports()
        return {"apiVersion": "v1", "kind": "Service", "metadata": self.metadata("-headless"), "spec": spec}

    def job_spec(self, parts: frozenset[str]) -> Doc:
        spec: Doc = {}
        job = self.values.get(WorkloadField.JOB)
        if job:
            spec["backoffLimit"] = job["backoffLimit"]
            spec.update({key: job[key] for key in JOB_OPTIONAL if key in job})
        spec["template"] = self.pod(parts)
        return spec

    def pod(self, parts: frozenset[str]) -> Doc:
        """gop.pod: the pod template of every workload kind."""
        values = self.values
        pod_metadata: Doc = {"labels": dict(self.pod_labels)}
        files = [name for name in ("config", "values") if name in parts]
        if files:
            pod_metadata["annotations"] = {f"checksum/{name}": _sha256(self.caches.go_json(values[name]))
                                           for name in files}
        account = values.get("serviceAccount")
        pod: Doc = {"serviceAccountName": self.service_account_name(),
                    "automountServiceAccountToken": account["automountToken"] if account else False}
        if values.get(WorkloadField.WORKLOAD) in ("Job", "CronJob"):
            pod["restartPolicy"] = (values.get(WorkloadField.JOB) or {"restartPolicy": "OnFailure"})["restartPolicy"]
        security = self.security
        context: Doc = {"runAsNonRoot": security["runAsNonRoot"]}
        context.update({key: security[key] for key in ("runAsUser", "runAsGroup", "fsGroup") if key in security})
        context["seccompProfile"] = {"type": security["seccompProfile"]}
        pod["securityContext"] = context
        if values.get("imagePullSecrets"):
            pod["imagePullSecrets"] = [{"name": name} for name in values["imagePullSecrets"]]
        if "terminationGracePeriodSeconds" in values:
            pod["terminationGracePeriodSeconds"] = values["terminationGracePeriodSeconds"]
        if values.get("priorityClassName"):
            pod["priorityClassName"] = values["priorityClassName"]
        if values.get("nodeSelector"):
            pod["nodeSelector"] = dict(sorted(values["nodeSelector"].items()))
        if values.get("tolerations"):
            pod["tolerations"] = [dict(sorted(toleration.items())) for toleration in values["tolerations"]]
        affinity = self.affinity()
        if affinity:
            pod["affinity"] = affinity
        spread = self.topology_spread(parts)
        if spread:
            pod["topologySpreadConstraints"] = spread
        init = [{**self.extra_container(name, container), "restartPolicy": "Always"}
                for name, container in sorted((values.get(WorkloadField.SIDECARS) or {}).items())]
        init += [self.extra_container(name, container)
                 for name, container in sorted((values.get(WorkloadField.INIT_CONTAINERS) or {}).items())]
        if init:
            pod["initContainers"] = init
        pod["containers"] = [self.container(parts, files)]
        volumes = [{"name": name, "configMap": {"name": f"{self.fullname}-{name}"}} for name in files]
        if security[WorkloadField.TMP_VOLUME]:
            volumes.append({"name": "tmp", "emptyDir": {}})
        volumes += [{"name": name, **_volume_source(volume)}
                    for name, volume in sorted((values.get("volumes") or {}).items())]
        if volumes:
            pod["volumes"] = volumes
        return {"metadata": pod_metadata, "spec": pod}

    def affinity(self) -> Doc:
        """gop.pod's affinity: zones and `nodes` (node affinity), `podAffinity`, `spreadPods` and `podAntiAffinity`."""
        settings = self.values.get("affinity")
        if not settings:
            return {}
        affinity: Doc = {}
        nodes = settings.get("nodes") or {}
        zones = ([{"key": "topology.kubernetes.io/zone", "operator": "In", "values": list(settings["zones"])}]
                 if settings["zones"] else [])
        node_affinity: Doc = {}
        if zones or nodes.get("required"):
            terms = nodes.get("required") or [{"matchExpressions": []}]
            node_affinity["requiredDuringSchedulingIgnoredDuringExecution"] = {"nodeSelectorTerms": [
                {"matchExpressions": zones + _node_expressions(term["matchExpressions"])} for term in terms]}
        if nodes.get("preferred"):
            node_affinity["preferredDuringSchedulingIgnoredDuringExecution"] = [
                {"weight": term["weight"], "preference": {"matchExpressions": _node_expressions(term["matchExpressions"])}}
                for term in nodes["preferred"]]
        if node_affinity:
            affinity["nodeAffinity"] = node_affinity
        if settings.get("podAffinity"):
            affinity["podAffinity"] = self.pod_affinity_terms(settings["podAffinity"])
        apart = list(settings.get("podAntiAffinity") or ())
        if settings["spreadPods"] != "off":
            own = {"topologyKey": "kubernetes.io/hostname", "self": True}
            apart.insert(0, {**own, "weight": 100} if settings["spreadPods"] == "preferred" else own)
        if apart:
            affinity["podAntiAffinity"] = self.pod_affinity_terms(apart)
        return affinity

    def pod_affinity_terms(self, terms: list[Doc]) -> Doc:
        """gop.podAffinityTerms: required terms (no `weight`), then preferred ones."""
        result: Doc = {}
        required = [self.pod_affinity_term(term) for term in terms if "weight" not in term]
        preferred = [{"weight": term["weight"], "podAffinityTerm": self.pod_affinity_term(term)}
                     for term in terms if "weight" in term]
        if required:
            result["requiredDuringSchedulingIgnoredDuringExecution"] = required
        if preferred:
            result["preferredDuringSchedulingIgnoredDuringExecution"] = preferred
        return result

    def pod_affinity_term(self, term: Doc) -> Doc:
        """gop.podAffinityTerm: the app's own pods (`self`), or those of `apps` in any namespace."""
        if term.get("self"):
            return {"topologyKey": term["topologyKey"], "labelSelector": {"matchLabels": dict(self.selector_labels)}}
        expression = {"key": "app.kubernetes.io/name", "operator": "In", "values": list(term["apps"])}
        return {"topologyKey": term["topologyKey"], "labelSelector": {"matchExpressions": [expression]},
                "namespaceSelector": {}}

    def topology_spread(self, parts: frozenset[str]) -> list[Doc]:
        spread = self.values.get("topologySpread") or ABSENT_DEFAULTS["topologySpread"]
        if "daemonSet" in parts and self.values.get(WorkloadField.WORKLOAD) == "DaemonSet":
            return []
        return [{"maxSkew": spread["maxSkew"], "topologyKey": topology, "whenUnsatisfiable": spread[key],
                 "labelSelector": {"matchLabels": dict(self.selector_labels)}}
                for key, topology in SPREAD_TOPOLOGIES if spread[key] != "off"]

    def container(self, parts: frozenset[str], files: list[str]) -> Doc:
        values = self.values
        image = values["image"]
        container: Doc = {"name": self.chart, "image": f"{image['repository']}:{image['tag']}",
                          "imagePullPolicy": image["pullPolicy"]}
        for key in ("command", "args"):
            if values.get(key):
                container[key] = list(values[key])
        if values["ports"]:
            container["ports"] = [{"name": name, "containerPort": port, "protocol": "TCP"}
                                  for name, port in sorted(values["ports"].items())]
        env = [{"name": name, "value": text} for name, text in sorted(values["env"].items())]
        if "secretEnv" in parts:
            env += [{"name": name, "valueFrom": {"secretKeyRef": {"name": ref["secret"], "key": ref["key"]}}}
                    for name, ref in sorted(values["secretEnv"].items())]
        if env:
            container["env"] = env
        sources = values.get("envFrom") or {"configMaps": [], "secrets": []}
        env_from = [{"configMapRef": {"name": name}} for name in sources["configMaps"]]
        env_from += [{"secretRef": {"name": name}} for name in sources["secrets"]]
        if env_from:
            container["envFrom"] = env_from
        for field in PROBE_FIELDS:
            if values.get(field):
                container[f"{field}Probe"] = _probe(values[field])
        lifecycle = values.get("lifecycle") or {}
        hooks = {hook: handler for hook in ("postStart", "preStop") if (handler := _hook_handler(lifecycle, hook))}
        if hooks:
            container["lifecycle"] = hooks
        if values.get("resources"):
            container["resources"] = values["resources"]
        container["securityContext"] = _container_security(self.security)
        mounts = [{"name": name, "mountPath": path % self.chart, "readOnly": True}
                  for name, path in (("config", "/etc/%s"), ("values", "/etc/%s-values")) if name in files]
        mounts += self.mounts(values.get(WorkloadField.MOUNTS) or {})
        if mounts:
            container["volumeMounts"] = mounts
        return container

    def extra_container(self, name: str, settings: Doc) -> Doc:
        """gop.container: an init container or a sidecar."""
        image = settings["image"]
        container: Doc = {"name": name, "image": f"{image['repository']}:{image['tag']}",
                          "imagePullPolicy": image["pullPolicy"]}
        for key in ("command", "args"):
            if settings[key]:
                container[key] = list(settings[key])
        if settings["env"]:
            container["env"] = [{"name": key, "value": text} for key, text in sorted(settings["env"].items())]
        if settings.get("resources"):
            container["resources"] = settings["resources"]
        container["securityContext"] = _container_security(self.security)
        mounts = self.mounts(settings[WorkloadField.MOUNTS])
        if mounts:
            container["volumeMounts"] = mounts
        return container

    def mounts(self, mounts: Doc) -> list[Doc]:
        """The /tmp mount (when on) and gop.mounts."""
        result = [{"name": "tmp", "mountPath": "/tmp"}] if self.security[WorkloadField.TMP_VOLUME] else []
        for path, mount in sorted(mounts.items()):
            entry = {"name": mount["volume"], "mountPath": path, "readOnly": mount["readOnly"]}
            if mount.get("subPath"):
                entry["subPath"] = mount["subPath"]
            result.append(entry)
        return result

    def needs_budget(self) -> bool:
        values = self.values
        scaling = values.get("autoscaling")
        replicas = scaling["min"] if scaling else values["replicas"]
        return (self.budget["enabled"] and int(replicas) > 1
                and values.get(WorkloadField.WORKLOAD, DEFAULT_WORKLOAD) in ("Deployment", "StatefulSet"))

    def disruption_budget(self) -> Doc:
        budget = self.budget
        spec: Doc = ({"minAvailable": budget["minAvailable"]} if "minAvailable" in budget
                     else {"maxUnavailable": budget.get("maxUnavailable") or 1})
        spec["selector"] = {"matchLabels": dict(self.selector_labels)}
        return {"apiVersion": "policy/v1", "kind": "PodDisruptionBudget", "metadata": self.metadata(), "spec": spec}

    def service_ports(self) -> list[Doc]:
        return [{"name": name, "port": port, "targetPort": name, "protocol": "TCP"}
                for name, port in sorted(self.values["ports"].items())]

    def service(self) -> Doc:
        spec = {"type": "ClusterIP", "selector": dict(self.selector_labels), "ports": self.service_ports()}
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
            paths = [{"path": path["path"], "pathType": path["match"],
                      "backend": {"service": {"name": self.fullname, "port": {"name": port_of(path)}}}}
                     for path in routes["paths"]]
            spec["rules"] = [{"host": host, "http": {"paths": paths}} for host in routes["hosts"]]
            return {"apiVersion": "networking.k8s.io/v1", "kind": "Ingress", "metadata": metadata, "spec": spec}
        gateway = routes["gateway"]
        parent = {"name": gateway["name"], **{key: gateway[key] for key in ("namespace", "sectionName") if gateway.get(key)}}
        spec["parentRefs"] = [parent]
        spec["hostnames"] = list(routes["hosts"])
        spec["rules"] = [{"matches": [{"path": {"type": "Exact" if path["match"] == "Exact" else "PathPrefix",
                                                "value": path["path"]}}],
                          "backendRefs": [{"name": self.fullname, "port": ports[port_of(path)]}]}
                         for path in routes["paths"]]
        return {"apiVersion": "gateway.networking.k8s.io/v1", "kind": "HTTPRoute", "metadata": metadata, "spec": spec}

    def hpa(self, parts: frozenset[str]) -> Doc:
        scaling = self.values["autoscaling"]
        kind = scaled_kind(parts) or self.values.get(WorkloadField.WORKLOAD, DEFAULT_WORKLOAD)
        metrics = [_scaling_metric(metric) for metric in self.values.get("scalingMetrics") or ()] if "scalingMetrics" in parts else []
        cpu = cpu_utilization(scaling, metrics)
        if cpu is not None:
            target = {"type": "Utilization", "averageUtilization": cpu}
            metrics.insert(0, {"type": "Resource", "resource": {"name": "cpu", "target": target}})
        spec = {"scaleTargetRef": {"apiVersion": "apps/v1", "kind": kind, "name": self.fullname},
                "minReplicas": scaling["min"], "maxReplicas": scaling["max"], "metrics": metrics}
        return {"apiVersion": "autoscaling/v2", "kind": "HorizontalPodAutoscaler", "metadata": self.metadata(),
                "spec": spec}

    def account(self) -> Doc:
        """serviceAccount, or the one every app gets when it sets none."""
        return self.values.get("serviceAccount") or {"create": True, "automountToken": False}

    def test_pod(self) -> Doc:
        values = self.values
        ports = values["ports"]
        probe = values.get("readiness") or values.get("liveness") or {}
        port = probe.get("port") or ("http" if "http" in ports else sorted(ports)[0])
        url = f"http://{self.fullname}:{ports[port]}{probe.get('path') or '/'}"
        labels = {"helm.sh/chart": self.labels["helm.sh/chart"], "app.kubernetes.io/component": "test",
                  "app.kubernetes.io/part-of": self.labels["app.kubernetes.io/name"], "app.kubernetes.io/managed-by": "Helm"}
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
        return self.account().get("name") or self.fullname

    def service_account(self) -> Doc:
        account = self.account()
        metadata = {"name": self.service_account_name(), "namespace": self.namespace, "labels": dict(self.labels)}
        if account.get("annotations"):
            metadata["annotations"] = dict(account["annotations"])
        return {"apiVersion": "v1", "kind": "ServiceAccount", "metadata": metadata,
                "automountServiceAccountToken": account["automountToken"]}

    def config_map(self) -> Doc:
        doc: Doc = {"apiVersion": "v1", "kind": "ConfigMap", "metadata": self.metadata("-config")}
        if self.values["config"]:
            doc["data"] = dict(sorted(self.values["config"].items()))
        return doc

    def values_map(self) -> Doc:
        data = {"values.json": self.caches.go_json(self.values["values"], pretty=True)}
        return {"apiVersion": "v1", "kind": "ConfigMap", "metadata": self.metadata("-values"), "data": data}


_API = {"Deployment": "apps/v1", "StatefulSet": "apps/v1", "DaemonSet": "apps/v1", "Job": "batch/v1",
        "CronJob": "batch/v1"}
# A Job's pod template is immutable: the chart makes it a hook, run anew by each install and upgrade.
JOB_HOOK = {"helm.sh/hook": "post-install,post-upgrade", "helm.sh/hook-delete-policy": "before-hook-creation"}
JOB_OPTIONAL = ("completions", "parallelism", "activeDeadlineSeconds", "ttlSecondsAfterFinished")
SPREAD_TOPOLOGIES = (("zones", "topology.kubernetes.io/zone"), ("nodes", "kubernetes.io/hostname"))


def _claim(name: str, claim: dict[str, Any]) -> Doc:
    spec: Doc = {"accessModes": list(claim["accessModes"])}
    if claim.get("storageClassName"):
        spec["storageClassName"] = claim["storageClassName"]
    spec["resources"] = {"requests": {"storage": claim["size"]}}
    return {"metadata": {"name": name}, "spec": spec}


def _cron_spec(cron: dict[str, Any]) -> Doc:
    spec: Doc = {"schedule": cron["schedule"]}
    if cron.get("timeZone"):
        spec["timeZone"] = cron["timeZone"]
    spec.update({key: cron[key] for key in ("concurrencyPolicy", "successfulJobsHistoryLimit", "failedJobsHistoryLimit")})
    if cron.get("startingDeadlineSeconds"):
        spec["startingDeadlineSeconds"] = cron["startingDeadlineSeconds"]
    spec["suspend"] = cron["suspend"]
    return spec


def _volume_source(volume: dict[str, Any]) -> Doc:
    """A volume's source (the first one set, as the template's if/else chain reads them)."""
    if "configMap" in volume:
        return {"configMap": {"name": volume["configMap"]}}
    if "secret" in volume:
        return {"secret": {"secretName": volume["secret"]}}
    if "persistentVolumeClaim" in volume:
        return {"persistentVolumeClaim": {"claimName": volume["persistentVolumeClaim"]}}
    if "projected" in volume:
        projected = volume["projected"]
        sources = [{"configMap": {"name": name}} for name in projected["configMaps"]]
        sources += [{"secret": {"name": name}} for name in projected["secrets"]]
        if projected.get("serviceAccountToken"):
            token = projected["serviceAccountToken"]
            sources.append({"serviceAccountToken": {key: token[key] for key in ("audience", "expirationSeconds", "path")
                                                    if token.get(key)}})
        return {"projected": {"sources": sources or None}}
    directory = volume["emptyDir"]
    empty_dir: Doc = {}
    if directory["inMemory"]:
        empty_dir["medium"] = "Memory"
    if "sizeLimit" in directory:
        empty_dir["sizeLimit"] = directory["sizeLimit"]
    return {"emptyDir": empty_dir}


def _node_expressions(expressions: list[Doc]) -> list[Doc]:
    """gop.nodeExpressions: key, operator and, when there are any, values."""
    return [{"key": each["key"], "operator": each["operator"],
             **({"values": list(each["values"])} if each.get("values") else {})} for each in expressions]


def _hook_handler(lifecycle: Doc, hook: str) -> Doc | None:
    """A lifecycle hook's handler: its command, else its sleep (gopc check allows only one)."""
    if lifecycle.get(hook):
        return {"exec": {"command": list(lifecycle[hook])}}
    sleep = lifecycle.get(f"{hook}Sleep")
    return {"sleep": {"seconds": sleep["seconds"]}} if sleep else None


def _container_security(security: dict[str, Any]) -> Doc:
    context: Doc = {"allowPrivilegeEscalation": security["allowPrivilegeEscalation"],
                    "readOnlyRootFilesystem": security["readOnlyRootFilesystem"]}
    capabilities: Doc = {}
    if security["dropAllCapabilities"]:
        capabilities["drop"] = ["ALL"]
    if security["addCapabilities"]:
        capabilities["add"] = list(security["addCapabilities"])
    if capabilities:
        context["capabilities"] = capabilities
    return context


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
    if metric["selector"]:
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
