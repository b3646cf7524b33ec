"""A release's chart rendered with its values: what `gopc render` shows for a `release`.

Input: the fleet's root, one release on one cluster (`releases.ClusterRelease`) and the fleet's
`LoweringCaches` (which keep each distinct rendering). Output: the objects `helm template` prints
for the vendored chart package with the release's effective `values`, its Helm release name and
namespace: `vendor/charts/<chart>/<version>/<chart>-<version>.tgz` (what `gopc chart add` stores),
the version charts.lock resolves the release's `chart.version` to (a chart from Git: the highest
vendored version that satisfies it).

Flags as helm-controller installs: CRDs unless `install.crds = "Skip"` (`--include-crds`); no
test hooks (`--skip-tests`: Flux runs tests only when asked). helm is `GOPC_HELM`, else `helm` on
PATH. A chart that is not vendored, or a helm that is missing or fails, is a `FluxLoweringError`
(E0855, E0904): render only, `gopc build` never needs the chart.
"""

from __future__ import annotations

import copy
import json
import os
import shutil
import subprocess
import tempfile
from pathlib import Path
from typing import Any

from ruamel.yaml import YAML
from ruamel.yaml.error import YAMLError

from gop.compiler.diagnostics import codes
from gop.compiler.fleet.model import Fleet
from gop.compiler.lower.flux.errors import FluxLoweringError
from gop.compiler.lower.flux.releases import ClusterRelease, release_name
from gop.compiler.semantic.charts import ChartStoreError, locked_chart, read_lock
from gop.compiler.semantic.semver_range import semver
from gop.compiler.values import plain

VENDOR_CHARTS = Path("vendor") / "charts"
HELM_TIMEOUT = 120  # seconds


def vendored_package(root: Path, chart: dict[str, Any]) -> Path | None:
    """The package of a release's chart: for a chart from a repository, the one charts.lock
    resolves its version range to (`gopc chart add` stores it); for a chart from Git, the highest
    version in vendor/charts/<chart>/ satisfying the range. None when there is none."""
    if chart.get("repository"):
        try:
            entry = locked_chart(read_lock(root), chart["repository"], chart["name"], chart.get("version"))
        except ChartStoreError:
            return None
        package = Path(root) / entry.package
        return package if package.is_file() else None
    directory = Path(root) / VENDOR_CHARTS / chart["name"]
    versions = sorted(entry.name for entry in directory.iterdir()) if directory.is_dir() else []
    try:
        best = semver().max_satisfying(versions, chart.get("version") or "*", loose=True)
    except (ValueError, TypeError):
        best = None
    package = directory / str(best) / f"{chart['name']}-{best}.tgz"
    return package if best is not None and package.is_file() else None


def chart_objects(fleet: Fleet, release: ClusterRelease, rendered: dict[tuple, list[dict[str, Any]]]) -> list[dict[str, Any]]:
    """The release's chart objects on its cluster (new dicts). `rendered`: the fleet's earlier
    renderings (`LoweringCaches.rendered_charts`), which get this one."""
    values = release.values
    chart = plain(values["chart"])
    package = vendored_package(fleet.root, chart)
    if package is None:
        wanted = f" {chart['version']}" if chart.get("version") else ""
        raise FluxLoweringError(
            f"release `{release.name}`: chart {chart['name']}{wanted} is not vendored in "
            f"{VENDOR_CHARTS}/{chart['name']}/ (gopc render templates the vendored package)",
            fleet.releases[release.name].span, code=codes.RELEASE_CHART_NOT_VENDORED,
            notes=(f"vendor it: `gopc chart add {chart.get('repository', 'REPOSITORY')} {chart['name']}"
                   + (f" --version {chart['version']}`" if chart.get("version") else "`"),))
    key = (str(package), release_name(release.name, values), release.namespace,
           json.dumps(plain(values["values"]), sort_keys=True), values["install"]["crds"] != "Skip")
    if key not in rendered:
        rendered[key] = _helm_template(*key)
    return copy.deepcopy(rendered[key])


def _helm_template(package: str, name: str, namespace: str, values: str, crds: bool) -> list[dict[str, Any]]:
    helm = _helm()
    with tempfile.TemporaryDirectory(prefix="gopc-release-") as scratch:
        values_file = Path(scratch) / "values.json"
        values_file.write_text(values, encoding="utf-8")
        argv = [helm, "template", name, package, "--namespace", namespace, "--values", str(values_file), "--skip-tests"]
        if crds:
            argv.append("--include-crds")
        try:
            done = subprocess.run(argv, capture_output=True, text=True, timeout=HELM_TIMEOUT, stdin=subprocess.DEVNULL)
        except (OSError, subprocess.TimeoutExpired) as error:
            raise FluxLoweringError(f"cannot run `helm template` for release {name}: {error}", code=codes.TOOL_FAILED) from None
    if done.returncode != 0:
        last = "\n".join(done.stderr.strip().splitlines()[-5:])
        raise FluxLoweringError(f"`helm template` failed for release {name} ({Path(package).name}): {last}",
                                code=codes.TOOL_FAILED)
    try:
        return [doc for doc in YAML(typ="safe", pure=True).load_all(done.stdout) if isinstance(doc, dict)]
    except YAMLError as error:
        raise FluxLoweringError(f"`helm template` printed YAML gopc cannot read for release {name}: {error}",
                                code=codes.TOOL_FAILED) from None


def _helm() -> str:
    """helm as `gopc publish` finds it: `GOPC_HELM` (a path or a command), else `helm` on PATH."""
    configured = os.environ.get("GOPC_HELM")
    found = shutil.which(configured or "helm")
    if found is None:
        where = f"GOPC_HELM={configured} is not an executable" if configured else "`helm` not found on PATH"
        raise FluxLoweringError(f"{where}: rendering a release templates its chart with helm", code=codes.TOOL_FAILED)
    return found
