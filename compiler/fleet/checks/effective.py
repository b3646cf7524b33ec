"""Values the API server rejects together, checked on every app's effective values.

Input: one `versions.Version` (an app's distinct effective values) and a `Findings`; the fleet's
delivery settings for the tenant rule. Output: reports into the `Findings`: requests above limits
(REQUEST_ABOVE_LIMIT, of every container), autoscaling `min` above `max` (AUTOSCALING_MIN_ABOVE_MAX), `replicas`
written for an app that autoscales, which its chart leaves out (REPLICAS_UNDER_AUTOSCALING, a warning), an app in a
system namespace while Flux impersonates a tenant (SYSTEM_NAMESPACE_UNDER_TENANT), an image policy
with no tag order or several (IMAGE_POLICY_ORDER), an `extract` naming a group its tag pattern
lacks (UNKNOWN_CAPTURE_GROUP), a scaling metric whose target or object its type does not take
(SCALING_METRIC_INVALID). Each is
reported at the line that set the offending value (the higher layer of the two), with the other
as a related span.
"""

from __future__ import annotations

from gop.compiler.diagnostics import codes
from gop.compiler.fleet.checks.versions import Findings, Version, later
from gop.compiler.fleet.model import Fleet, Layer
from gop.compiler.language import IMAGE_POLICY_ORDERS, SCALING_METRICS, TAG_FILTER, AppField, WorkloadField
from gop.compiler.semantic.go_regexp import group_names, pattern_problem, template_problems
from gop.compiler.semantic.types import Quantity

# Namespaces of Kubernetes and of Flux itself: the tenant RBAC gopc writes per app namespace
# would define flux-system's impersonated ServiceAccount twice, or make a tenant cluster-admin
# of kube-system.
SYSTEM_NAMESPACES = ("flux-system", "kube-system", "kube-public", "kube-node-lease")


def check_version(fleet: Fleet, version: Version, findings: Findings) -> None:
    _requests_and_limits(version, findings)
    _autoscaling(version, findings)
    _replicas_under_autoscaling(version, findings)
    _image_policy(version, findings)
    _scaling_metrics(fleet, version, findings)
    account = fleet.delivery.values.get("serviceAccountName")
    if account:
        _system_namespace(fleet, version, findings, account)


def _requests_and_limits(version: Version, findings: Findings) -> None:
    """Of the app's container and of each init container and sidecar."""
    values = version.values
    containers = [((), None, values)]
    for group in (WorkloadField.INIT_CONTAINERS, WorkloadField.SIDECARS):
        if group in values:
            containers += [((group, name), name, container) for name, container in sorted(values[group].items())]
    for prefix, name, container in containers:
        resources = container.get(AppField.RESOURCES) or {}
        for kind in ("cpu", "memory"):
            request = (resources.get("requests") or {}).get(kind)
            limit = (resources.get("limits") or {}).get(kind)
            if isinstance(request, Quantity) and isinstance(limit, Quantity) and request > limit:
                primary, other = later(version.origins.get((*prefix, AppField.RESOURCES, "requests", kind)),
                                       version.origins.get((*prefix, AppField.RESOURCES, "limits", kind)))
                who = f"container `{name}` of app `{version.app}`" if name else f"app `{version.app}`"
                findings.report(version, codes.REQUEST_ABOVE_LIMIT, f"{who} requests {request} {kind} but is limited to {limit}",
                                ("a container's request must not exceed its limit: the API server rejects the pod",), primary, other)


def _autoscaling(version: Version, findings: Findings) -> None:
    scaling = version.values.get(AppField.AUTOSCALING)
    if isinstance(scaling, dict) and scaling["min"] > scaling["max"]:  # both have defaults
        primary, other = later(version.origins.get((AppField.AUTOSCALING, "min")), version.origins.get((AppField.AUTOSCALING, "max")))
        findings.report(version, codes.AUTOSCALING_MIN_ABOVE_MAX, f"app `{version.app}` autoscales between min {scaling['min']} and max "
                        f"{scaling['max']}",
                        ("the API server rejects a HorizontalPodAutoscaler whose minReplicas is above maxReplicas",), primary, other)


def _replicas_under_autoscaling(version: Version, findings: Findings) -> None:
    """`replicas` written for this app by name at the layer that turned autoscaling on, or above it
    (a cluster's `replicas` under an env's autoscaling). Below it, `replicas` is what the clusters
    that do not autoscale run; written for every app, it is meant for those that do not autoscale."""
    scaling = version.values.get(AppField.AUTOSCALING)
    written = version.origins.get((WorkloadField.REPLICAS,))
    if not isinstance(scaling, dict) or written is None or written.all_apps or written.layer < Layer.APP:
        return
    enabled = min((origin for path, origin in version.origins.items()
                   if path[0] == AppField.AUTOSCALING and origin.layer > Layer.DEFAULT),
                  key=lambda origin: origin.layer, default=None)
    if enabled is None or written.layer < enabled.layer:
        return
    findings.report(version, codes.REPLICAS_UNDER_AUTOSCALING,
                    f"app `{version.app}`: `replicas = {version.values[WorkloadField.REPLICAS]}` is not used: the app "
                    f"autoscales between {scaling['min']} and {scaling['max']} replicas",
                    ("the chart leaves `replicas` out of the workload while the HorizontalPodAutoscaler sets it; set "
                     "`autoscaling { min = ... }` instead",),
                    written, enabled, other_note="autoscaling is turned on here")


def _image_policy(version: Version, findings: Findings) -> None:
    policy = version.values.get(AppField.IMAGE_POLICY)
    if not isinstance(policy, dict):
        return
    orders = [order for order in IMAGE_POLICY_ORDERS if order in policy]
    if len(orders) != 1:
        written = " and ".join(f"`{order}`" for order in orders) or "none"
        primary, other = (later(*(version.origins.get((AppField.IMAGE_POLICY, order)) for order in orders[:2]))
                          if len(orders) > 1 else (version.origins.get((AppField.IMAGE_POLICY,)), None))
        findings.report(version, codes.IMAGE_POLICY_ORDER, f"the image policy of app `{version.app}` sets {written} of "
                        "`semver`, `alphabetical` and `numerical`: it needs exactly one to order the tags",
                        ('keep one, e.g. `semver = ">=1.0.0"` or `numerical = "asc"`',), primary, other)
    tag_filter = policy.get(TAG_FILTER)
    if (isinstance(tag_filter, dict) and "extract" in tag_filter and "pattern" in tag_filter  # (a missing one is E0305)
            and pattern_problem(tag_filter["pattern"]) is None):
        names, count = group_names(tag_filter["pattern"])
        for problem in template_problems(tag_filter["extract"], names, count):
            primary = version.origins.get((AppField.IMAGE_POLICY, TAG_FILTER, "extract"))
            other = version.origins.get((AppField.IMAGE_POLICY, TAG_FILTER, "pattern"))
            findings.report(version, codes.UNKNOWN_CAPTURE_GROUP, f"the tag filter of app `{version.app}` extracts "
                            f"nothing: {problem}",
                            (f"the pattern's named groups: {', '.join(names) or 'none'}; Flux compares the empty text "
                             "a missing group expands to, so no tag would ever win",), primary, other)


# Which targets each kind of scaling metric takes (the HorizontalPodAutoscaler API's validation).
_METRIC_TARGETS = {"Resource": ("averageUtilization", "averageValue"), "Pods": ("averageValue",),
                   "Object": ("value", "averageValue"), "External": ("value", "averageValue")}
_TARGETS = ("averageUtilization", "averageValue", "value")


def _scaling_metrics(fleet: Fleet, version: Version, findings: Findings) -> None:
    if version.values.get(SCALING_METRICS) and AppField.AUTOSCALING not in fleet.apps[version.app].features:
        findings.report(version, codes.SCALING_METRIC_INVALID, f"app `{version.app}` has `scalingMetrics` but autoscales "
                        "on no cluster",
                        ("the metrics extend the app's HorizontalPodAutoscaler: add `autoscaling { max = ... }` where "
                         "they apply, or remove them",), version.origins.get((SCALING_METRICS,)))
    for metric in version.values.get(SCALING_METRICS) or ():
        if "type" not in metric:
            continue  # the missing field is E0305
        allowed = _METRIC_TARGETS[metric["type"]]
        targets = [target for target in _TARGETS if target in metric]
        problem = None
        if len(targets) != 1 or targets[0] not in allowed:
            problem = (f"sets {' and '.join(f'`{t}`' for t in targets) or 'no target'}; a {metric['type']} metric takes "
                       f"exactly one of {', '.join(f'`{t}`' for t in allowed)}")
        elif (metric["type"] == "Object") != ("object" in metric):
            problem = "needs `object`, the object it describes" if metric["type"] == "Object" else "has an `object`, which only an Object metric describes"
        elif metric["type"] == "Resource" and metric.get("selector"):
            problem = "has a `selector`, which a Resource metric does not take"
        if problem is not None:
            findings.report(version, codes.SCALING_METRIC_INVALID, f"the {metric['type']} scaling metric `{metric['name']}` "
                            f"of app `{version.app}` {problem}",
                            ("the API server refuses such a HorizontalPodAutoscaler; e.g. "
                             '`{ type = "Resource", name = "memory", averageUtilization = 75 }`',),
                            version.origins.get((SCALING_METRICS,)))


def _system_namespace(fleet: Fleet, version: Version, findings: Findings, account: str) -> None:
    app = fleet.apps[version.app]
    namespace = version.values.get(AppField.NAMESPACE, app.namespace)
    if namespace in SYSTEM_NAMESPACES:
        findings.report(version, codes.SYSTEM_NAMESPACE_UNDER_TENANT, f"app `{version.app}` is installed into the system namespace "
                        f"`{namespace}`, but Flux applies the apps as the tenant service account `{account}`",
                        ("with `delivery.serviceAccountName`, each app namespace gets the tenant's ServiceAccount and a "
                         "cluster-admin RoleBinding: a second definition of flux-system's, or admin rights in a system "
                         "namespace; install the app into a namespace of its own (`namespace = ...`)",),
                        version.origins.get((AppField.NAMESPACE,)), fallback=app.span)
