"""Which parts a chart has, and which app fields are chart values at all.

Input: an `AppModel` (its `features`, its values type and base values).
Output: the set of chart parts, and value trees with the Flux-level fields removed.

Invariants:
- The workload's template is a part for each kind the app has anywhere ("deployment",
  "statefulSet", "daemonSet", "job", "cronJob"; "deployment" when the model names none); every
  chart has "serviceAccount" (each app runs as its own service account) and, with a Deployment or a
  StatefulSet, "disruptionBudget". "service" is a part when the app has ports ("service")
  or an ingress or routes (which route to the Service). "ingress", "routes", "autoscaling",
  "config" and "secretEnv" follow `AppModel.features` one to one. "values" (the app's own
  values, mounted as values.json) is a part when the feature says so, when the app's `values`
  schema declares fields, or when the base values are not empty.
- A part that is absent has no template, and the chart's values.schema.json rejects values for
  it, so every value the chart accepts has an effect.
- "scalingMetrics" (the HPA's metrics beyond CPU) is a part when the app sets `scalingMetrics`
  anywhere and has the "autoscaling" part, whose HPA it extends.
- "test" (a `helm test` pod) and "readme" (README.md) follow `chart.test` and `chart.readme` of
  the app's body (`chart` is never layered: one chart serves every cluster).
- `delivery`, `imagePolicy`, `namespace`, `chart` and `calls` are read by the lowerings, never by the
  chart's templates.
"""

from __future__ import annotations

from typing import Any

from gop.compiler.fleet.model import AppModel
from gop.compiler.language import (APP_CHART, CALLS, KIND_FIELDS, NETWORK_ALLOW, SCALING_METRICS, TEMPLATE_FIELDS,
                                   WORKLOAD_PARTS, AppField, WorkloadField)
from gop.compiler.semantic.types import RecordType

FLUX_ONLY_FIELDS = (AppField.DELIVERY, AppField.IMAGE_POLICY, AppField.NAMESPACE, APP_CHART, CALLS, NETWORK_ALLOW)
FEATURE_PARTS = ("service", "ingress", "autoscaling", "serviceAccount", "config", "secretEnv", "values", "routes")
KIND_PARTS = tuple(WORKLOAD_PARTS.values())
# The defaults of the optional pod records (the prelude's `Security`, `TopologySpread` and
# `DisruptionBudget`), which the chart applies when no layer sets the field: an absent field costs
# nothing per app and cluster. tests/test_helm_chart.py holds them equal to the prelude's.
ABSENT_DEFAULTS = {
    "security": {"runAsNonRoot": True, "readOnlyRootFilesystem": True, "tmpVolume": True,
                 "allowPrivilegeEscalation": False, "dropAllCapabilities": True, "addCapabilities": [],
                 "seccompProfile": "RuntimeDefault"},
    "topologySpread": {"zones": "ScheduleAnyway", "nodes": "ScheduleAnyway", "maxSkew": 1},
    "disruptionBudget": {"enabled": True},
}
REPLICATED_PARTS = (WORKLOAD_PARTS["Deployment"], WORKLOAD_PARTS["StatefulSet"])
# Optional top-level fields that only exist in the chart when their part does.
OPTIONAL_PART_FIELDS = TEMPLATE_FIELDS
# Map-valued fields (default {}) whose entries only have an effect when their part exists: MAP_PART_FIELDS.


def chart_parts(app: AppModel) -> frozenset[str]:
    """The workload kinds and FEATURE_PARTS this app's chart has (rules in the module doc)."""
    parts = set(app.features) & {*FEATURE_PARTS, *KIND_PARTS}
    if not parts & set(KIND_PARTS):
        parts.add(WORKLOAD_PARTS["Deployment"])
    parts.add("serviceAccount")
    if parts & set(REPLICATED_PARTS):
        parts.add("disruptionBudget")
    if "ingress" in parts or "routes" in parts:
        parts.add("service")
    if _has_own_values(app):
        parts.add("values")
    if "autoscaling" in parts and SCALING_METRICS in app.features:  # they only extend the HPA
        parts.add(SCALING_METRICS)
    settings = app.base.get(APP_CHART) or {}
    parts.update(part for part in ("test", "readme") if settings.get(part))
    return frozenset(parts)


def kinds_of(parts: frozenset[str]) -> list[str]:
    """The workload kinds a chart with these parts can run, in the prelude's order."""
    return [kind for kind, part in WORKLOAD_PARTS.items() if part in parts]


def scaled_kind(parts: frozenset[str]) -> str | None:
    """The kind a chart's HorizontalPodAutoscaler targets when the chart runs one kind that scales;
    None when it runs both a Deployment and a StatefulSet (each instance's `workload` says which)."""
    kinds = [kind for kind in kinds_of(parts) if kind in KIND_FIELDS[AppField.AUTOSCALING]]
    return kinds[0] if len(kinds) == 1 else None


def hidden_fields(parts: frozenset[str]) -> set[str]:
    """App fields a chart with these parts has no values for: the Flux-level fields, the optional
    parts it lacks, the settings of workload kinds it cannot run."""
    kinds = kinds_of(parts)
    hidden = set(FLUX_ONLY_FIELDS) | {name for name in OPTIONAL_PART_FIELDS if name not in parts}
    hidden |= {name for name, applies in KIND_FIELDS.items()
               if name in (WorkloadField.STATEFUL_SET, WorkloadField.JOB, WorkloadField.CRON_JOB)
               and not set(applies) & set(kinds)}
    return hidden


def helm_values(values: dict[str, Any]) -> dict[str, Any]:
    """An app's values tree (plain) as chart values: without the Flux-level fields."""
    return {key: item for key, item in values.items() if key not in FLUX_ONLY_FIELDS}


def _has_own_values(app: AppModel) -> bool:
    field = app.values_type.fields.get("values")
    declared = field is not None and isinstance(field.type, RecordType) and bool(field.type.fields)
    return declared or bool(app.base.get("values"))
