"""Which parts a chart has, and which app fields are chart values at all.

Input: an `AppModel` (its `features`, its values type and base values).
Output: the set of chart parts, and value trees with the Flux-level fields removed.

Invariants:
- The Deployment is always a part. "service" is a part when the app has ports ("service")
  or an ingress or routes (which route to the Service). "ingress", "routes", "autoscaling", "serviceAccount",
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
from gop.compiler.language import APP_CHART, CALLS, SCALING_METRICS, TEMPLATE_FIELDS, AppField
from gop.compiler.semantic.types import RecordType

FLUX_ONLY_FIELDS = (AppField.DELIVERY, AppField.IMAGE_POLICY, AppField.NAMESPACE, APP_CHART, CALLS)
FEATURE_PARTS = ("service", "ingress", "autoscaling", "serviceAccount", "config", "secretEnv", "values", "routes")
# Optional top-level fields that only exist in the chart when their part does.
OPTIONAL_PART_FIELDS = TEMPLATE_FIELDS
# Map-valued fields (default {}) whose entries only have an effect when their part exists: MAP_PART_FIELDS.


def chart_parts(app: AppModel) -> frozenset[str]:
    """"deployment" and the FEATURE_PARTS this app's chart has (rules in the module doc)."""
    parts = {"deployment"} | (set(app.features) & set(FEATURE_PARTS))
    if "ingress" in parts or "routes" in parts:
        parts.add("service")
    if _has_own_values(app):
        parts.add("values")
    if "autoscaling" in parts and SCALING_METRICS in app.features:  # they only extend the HPA
        parts.add(SCALING_METRICS)
    settings = app.base.get(APP_CHART) or {}
    parts.update(part for part in ("test", "readme") if settings.get(part))
    return frozenset(parts)


def helm_values(values: dict[str, Any]) -> dict[str, Any]:
    """An app's values tree (plain) as chart values: without the Flux-level fields."""
    return {key: item for key, item in values.items() if key not in FLUX_ONLY_FIELDS}


def _has_own_values(app: AppModel) -> bool:
    field = app.values_type.fields.get("values")
    declared = field is not None and isinstance(field.type, RecordType) and bool(field.type.fields)
    return declared or bool(app.base.get("values"))
