"""Charts gopc did not write, for tests: made with `helm create`, packaged with `helm package`,
and vendored into a program exactly as `gopc chart add` vendors what it pulls
(`commands.chart.vendor_package`), so a program can declare releases of them without a network.
"""

from __future__ import annotations

import json
from pathlib import Path

import realtools as rt
from gop.compiler.commands.chart import vendor_package
from gop.compiler.semantic.charts import LockEntry, read_lock


def make_chart(parent: Path, name: str, version: str, *, schema: dict | None = None, crd: str | None = None,
               replicas: int = 1, extra_values: str = "") -> Path:
    """`helm create` a chart in a fresh directory under `parent`; set its version, its default
    replicas and more values.yaml text; add a values.schema.json or a CRD."""
    directory = parent / f"{name}-{version}-{replicas}"
    directory.mkdir(parents=True)
    chart = rt.helm_create(name, directory)
    chart_yaml = chart / "Chart.yaml"
    chart_yaml.write_text(chart_yaml.read_text().replace("version: 0.1.0", f"version: {version}"))
    values = chart / "values.yaml"
    values.write_text(values.read_text().replace("replicaCount: 1", f"replicaCount: {replicas}") + extra_values)
    if schema is not None:
        (chart / "values.schema.json").write_text(json.dumps(schema, indent=2))
    if crd is not None:
        (chart / "crds").mkdir()
        (chart / "crds" / "widgets.yaml").write_text(crd)
    return chart


def vendor_chart(root: Path, repository: str, chart: Path) -> LockEntry:
    """Package `chart` and vendor it into the program at `root` as pulled from `repository`."""
    package = rt.helm_package(chart, chart.parent)
    entry, _ = vendor_package(root, repository, chart.name, package.read_bytes(), read_lock(root))
    return entry
