"""A release's chart rendered with its values: what `gopc render` shows for a `release`.

Input: the fleet's root, the releases on one cluster (`releases.ClusterRelease`) and the fleet's
`RenderedCharts` (`LoweringCaches.rendered_charts`, which keep each distinct rendering). Output: the objects `helm template` prints
for the vendored chart package with the release's effective `values`, its Helm release name and
namespace: `vendor/charts/<chart>/<version>/<chart>-<version>.tgz` (what `gopc chart add` stores),
the version charts.lock resolves the release's `chart.version` to (a chart from Git: the highest
vendored version that satisfies it).

Flags as helm-controller installs: CRDs unless `install.crds = "Skip"` (`--include-crds`); no
test hooks (`--skip-tests`: Flux runs tests only when asked). helm is `GOPC_HELM`, else `helm` on
PATH. A chart that is not vendored, or a helm that is missing or fails, is a `FluxLoweringError`
(E0855, E0904): render only, `gopc build` never needs the chart.

Invariants: each distinct (package, release name, namespace, values, crds) runs `helm template` at
most once per fleet (a failure too: it is kept for the fleet's life, never on disk); a cluster's
distinct renderings run side by side (at most `HELM_WORKERS` helm processes), their objects and the
error reported in the releases' order, as one-by-one rendering would give them. `render_ahead`
runs the distinct renderings of many clusters side by side before any cluster is rendered
(`gopc render --all-clusters`: a cluster alone has only a few to share the workers).
With the session's disk cache, helm's output is kept across runs, keyed also by `helm version`
and the package's SHA-256; failures are never kept there.
"""

from __future__ import annotations

import copy
import hashlib
import json
import os
import shutil
import subprocess
import tempfile
from pathlib import Path
from typing import Any

from gop.compiler.core.diskcache import DiskCache
from gop.compiler.diagnostics import codes
from gop.compiler.fleet.model import Fleet
from gop.compiler.lower.flux.errors import FluxLoweringError
from gop.compiler.lower.flux.releases import ClusterRelease, release_name
from gop.compiler.semantic.charts import ChartStoreError, locked_chart, read_lock
from gop.compiler.semantic.semver_range import semver
from gop.compiler.values import plain

VENDOR_CHARTS = Path("vendor") / "charts"
HELM_TIMEOUT = 120  # seconds
HELM_WORKERS = 4  # helm processes at a time (each is multi-threaded itself)


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


RenderKey = tuple[str, str, str, str, bool]  # (chart package, release name, namespace, values JSON, crds)


class RenderedCharts:
    """What `helm template` printed, by `RenderKey`, for one fleet (`LoweringCaches.rendered_charts`),
    read from and kept in the session's disk cache when it has one (keyed also by helm's version
    and the package's SHA-256, so another helm or a re-vendored package is a miss). Helm's
    failures are kept for this object's life only: another run asks helm again."""

    def __init__(self, disk: DiskCache | None = None) -> None:
        self.disk = disk
        self._objects: dict[RenderKey, list[dict[str, Any]]] = {}
        self._failures: dict[RenderKey, FluxLoweringError] = {}
        self._helm_version: bytes | None = None
        self._package_digests: dict[str, bytes] = {}
        self._packages: dict[str, Path | None] = {}  # the chart settings (JSON) -> `vendored_package`
        self._keys: dict[tuple[str, int], tuple[dict[str, Any], RenderKey]] = {}  # see `key`: entries keep their values alive

    def key(self, fleet: Fleet, release: ClusterRelease) -> RenderKey:
        """The release's `RenderKey` (`_render_key`), worked out once per release and values object:
        clusters share their instances (and so their values), and the key is read for each cluster."""
        entry = (release.name, id(release.values))
        known = self._keys.get(entry)
        if known is None or known[0] is not release.values:
            known = self._keys[entry] = (release.values, _render_key(fleet, release, self))
        return known[1]

    def package(self, root: Path, chart: dict[str, Any]) -> Path | None:
        """`vendored_package(root, chart)`, worked out once per chart settings (charts.lock is read
        once, not per release and cluster)."""
        key = json.dumps(chart, sort_keys=True)
        if key not in self._packages:
            self._packages[key] = vendored_package(root, chart)
        return self._packages[key]

    def render(self, keys: list[RenderKey]) -> list[list[dict[str, Any]] | FluxLoweringError]:
        """Each key's objects (shared: copy before changing them), or helm's error for it; the keys
        neither kept nor on disk are rendered side by side, at most `HELM_WORKERS` at a time."""
        missing = sorted({key for key in keys
                          if key not in self._objects and key not in self._failures and not self._from_disk(key)})
        if missing:
            from concurrent.futures import ThreadPoolExecutor  # only a render of releases needs it: not at start

            workers = min(HELM_WORKERS, os.cpu_count() or 1, len(missing))
            with ThreadPoolExecutor(max_workers=workers) as pool:  # helm runs in its own process: threads suffice
                for key, result in zip(missing, pool.map(_helm_template_or_error, missing)):
                    if isinstance(result, FluxLoweringError):
                        self._failures[key] = result
                    else:
                        self._keep(key, result)
        return [self._objects[key] if key in self._objects else self._failures[key] for key in keys]

    def _from_disk(self, key: RenderKey) -> bool:
        if self.disk is None:
            return False
        found = self.disk.get("helm-template", self._disk_key(key))
        if isinstance(found, list):
            self._objects[key] = found
        return isinstance(found, list)

    def _keep(self, key: RenderKey, objects: list[dict[str, Any]]) -> None:
        self._objects[key] = objects
        if self.disk is not None:
            self.disk.put("helm-template", self._disk_key(key), objects)

    def _disk_key(self, key: RenderKey) -> str:
        package, name, namespace, values, crds = key
        return self.disk.key("helm-template", self._helm_identity(), self._package_digest(package), name.encode(),
                             namespace.encode(), values.encode(), b"crds" if crds else b"")

    def _helm_identity(self) -> bytes:
        """`helm version --short` (with its commit): output of another helm is never served. A helm
        that cannot say is keyed by nothing it could share, so it misses."""
        if self._helm_version is None:
            try:
                done = subprocess.run([_helm(), "version", "--short"], capture_output=True, timeout=HELM_TIMEOUT,
                                      stdin=subprocess.DEVNULL)
                self._helm_version = done.stdout.strip() if done.returncode == 0 and done.stdout.strip() else os.urandom(16)
            except (OSError, subprocess.TimeoutExpired, FluxLoweringError):
                self._helm_version = os.urandom(16)
        return self._helm_version

    def _package_digest(self, package: str) -> bytes:
        digest = self._package_digests.get(package)
        if digest is None:
            digest = self._package_digests[package] = hashlib.sha256(Path(package).read_bytes()).digest()
        return digest


def chart_objects(fleet: Fleet, release: ClusterRelease, rendered: RenderedCharts) -> list[dict[str, Any]]:
    """The release's chart objects on its cluster (new dicts). `rendered`: the fleet's renderings
    (`LoweringCaches.rendered_charts`), which get this one."""
    return cluster_chart_objects(fleet, [release], rendered)


def cluster_chart_objects(fleet: Fleet, cluster_releases: list[ClusterRelease], rendered: RenderedCharts, *,
                          shared: bool = False) -> list[dict[str, Any]]:
    """The chart objects of the releases, in their order (new dicts; with `shared`, the renderings'
    own, for a reader that never changes them), their distinct renderings run side by side. The
    error is the one rendering them one after the other would meet first."""
    keys: list[RenderKey] = []
    missing_chart = None
    for release in cluster_releases:
        try:
            keys.append(rendered.key(fleet, release))
        except FluxLoweringError as error:  # raised after the renderings of the releases before it
            missing_chart = error
            break
    docs = []
    for result in rendered.render(keys):
        if isinstance(result, FluxLoweringError):
            raise result
        docs += result if shared else copy.deepcopy(result)
    if missing_chart is not None:
        raise missing_chart
    return docs


def render_ahead(fleet: Fleet, cluster_releases: list[ClusterRelease], rendered: RenderedCharts) -> None:
    """Runs the releases' distinct renderings side by side, to be found by `cluster_chart_objects`;
    a release whose chart is not vendored is left for it to report."""
    keys = []
    for release in cluster_releases:
        try:
            keys.append(rendered.key(fleet, release))
        except FluxLoweringError:
            continue
    rendered.render(keys)


def _render_key(fleet: Fleet, release: ClusterRelease, rendered: RenderedCharts) -> RenderKey:
    values = release.values
    chart = plain(values["chart"])
    package = rendered.package(fleet.root, chart)
    if package is None:
        wanted = f" {chart['version']}" if chart.get("version") else ""
        raise FluxLoweringError(
            f"release `{release.name}`: chart {chart['name']}{wanted} is not vendored in "
            f"{VENDOR_CHARTS}/{chart['name']}/ (gopc render templates the vendored package)",
            fleet.releases[release.name].span, code=codes.RELEASE_CHART_NOT_VENDORED,
            notes=(f"vendor it: `gopc chart add {chart.get('repository', 'REPOSITORY')} {chart['name']}"
                   + (f" --version {chart['version']}`" if chart.get("version") else "`"),))
    return (str(package), release_name(release.name, values), release.namespace,
            json.dumps(plain(values["values"]), sort_keys=True), values["install"]["crds"] != "Skip")


def _helm_template_or_error(key: RenderKey) -> list[dict[str, Any]] | FluxLoweringError:
    try:
        return _helm_template(*key)
    except FluxLoweringError as error:
        return error


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
    from ruamel.yaml import YAML  # a render of releases only: a check never loads it
    from ruamel.yaml.error import YAMLError

    try:
        return [doc for doc in YAML(typ="safe").load_all(done.stdout) if isinstance(doc, dict)]  # the C loader: 4x faster on what helm prints
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
