"""Helm lowering: one chart per app (charts/<app>/), and the objects it renders.

Input: an `AppModel` of the evaluated fleet (compiler/fleet/model.py).
Output: the chart's files (`chart_files`), its version (`chart_version`), the JSON Schema of
values of a record type (`values_schema`) and, without helm, the Kubernetes objects
`helm template` would print for given values (`helm_template`).

Modules: caches (chart versions and field schemas, once per program), parts (which templates a
chart has), schema (values.schema.json), values_file (values.yaml), templates (Go templates), chart
(assembly and version policy), manifests (the Python twin of the templates). Text goes out through
compiler/emit: yaml (Chart.yaml and values.yaml, `Quoting.WORDS`) and gojson (Go's JSON text, for
values.json and checksums).
See docs/helm.md for the chart layout and the version policy.
"""

from gop.compiler.lower.helm.chart import chart_content_digest, chart_files, chart_version, chosen_chart_version
from gop.compiler.lower.helm.parts import FLUX_ONLY_FIELDS, chart_parts, helm_values
from gop.compiler.lower.helm.manifests import helm_template
from gop.compiler.lower.helm.schema import values_schema

__all__ = ["FLUX_ONLY_FIELDS", "chart_content_digest", "chart_files", "chart_parts", "chart_version", "chosen_chart_version", "helm_template", "helm_values",
           "values_schema"]
