"""`gopc chart add`, run as users run it, against a real Helm repository and a real OCI registry on
loopback, and the vendored store it writes (compiler/semantic/charts.py), read offline.

- Charts made with `helm create` (one with an edited values.schema.json and a CRD, one without a
  schema), packaged with `helm package`, served with the `index.yaml` of `helm repo index` by an
  HTTP server on 127.0.0.1 and pushed with `helm push` to Debian's docker-registry.
- `gopc chart add` pulls the highest version a range matches from either, vendors the package and
  its files, and locks (repository, chart, version, sha256 of the package) in a sorted charts.lock.
- Adding it again changes nothing; a chart republished under a locked version is E0805 and
  nothing is written; no helm, an unreachable repository, an unknown chart or version, a bad URL,
  a broken lock: exit 2 with one clear error, never a traceback.
- The store is read without any server: the package's digest and every vendored file are checked
  against the lock (E0802), the values type is inferred from values.yaml with its comments as docs.
"""

from __future__ import annotations

import functools
import hashlib
import http.server
import json
import shutil
import subprocess
import sys
import threading
from pathlib import Path

import pytest
import yaml

import realtools as rt
from chart_fixtures import make_chart
from gop.compiler.diagnostics import codes
from gop.compiler.semantic import charts, semver_range
from gop.compiler.semantic.types import BoolType, IntType, ListType, MapType, RecordType, StringType

GOPC = Path(sys.executable).with_name("gopc")
SCHEMA = {
    "$schema": "http://json-schema.org/draft-07/schema#",
    "type": "object",
    "additionalProperties": False,
    "properties": {
        "replicaCount": {"type": "integer", "minimum": 1, "description": "How many pods run the app."},
        "image": {"type": "object", "properties": {"repository": {"type": "string"}, "tag": {"type": "string"}}},
    },
}
CRD = """\
apiVersion: apiextensions.k8s.io/v1
kind: CustomResourceDefinition
metadata:
  name: widgets.example.com
spec:
  group: example.com
  names: {kind: Widget, plural: widgets, singular: widget, listKind: WidgetList}
  scope: Namespaced
  versions:
    - name: v1
      served: true
      storage: true
      schema:
        openAPIV3Schema:
          type: object
          properties:
            spec: {type: object, properties: {size: {type: integer}}}
"""


def gopc(*args, env: dict[str, str] | None = None) -> subprocess.CompletedProcess:
    done = subprocess.run([str(GOPC), *map(str, args)], capture_output=True, text=True, stdin=subprocess.DEVNULL,
                          env=env or {**rt.tool_env(), "GOPC_HELM": str(rt.helm_bin())}, timeout=300)
    assert "Traceback" not in done.stderr
    return done


class ChartServer:
    """A classic Helm repository: packages and `helm repo index`'s index.yaml over HTTP on loopback."""

    def __init__(self, directory: Path) -> None:
        self.directory = directory
        handler = functools.partial(_QuietHandler, directory=str(directory))
        self.server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}"
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()

    def publish(self, chart: Path) -> Path:
        """Package the chart into the repository (replacing a package of the same version) and index it."""
        _packaged(chart, self.directory).unlink(missing_ok=True)
        package = rt.helm_package(chart, self.directory)
        rt.run_tool([rt.helm_bin(), "repo", "index", self.directory, "--url", self.url])
        return package

    def stop(self) -> None:
        self.server.shutdown()
        self.server.server_close()


class _QuietHandler(http.server.SimpleHTTPRequestHandler):
    def log_message(self, *args) -> None:
        pass


def _packaged(chart: Path, directory: Path) -> Path:
    metadata = yaml.safe_load((chart / "Chart.yaml").read_text())
    return directory / f"{metadata['name']}-{metadata['version']}.tgz"


@pytest.fixture(scope="module")
def sources(tmp_path_factory) -> Path:
    return tmp_path_factory.mktemp("chart-sources")


@pytest.fixture(scope="module")
def repository(tmp_path_factory, sources):
    server = ChartServer(tmp_path_factory.mktemp("chart-repository"))
    for version in ("1.0.0", "1.1.0", "2.0.0"):
        server.publish(make_chart(sources, "typed", version, schema=SCHEMA, crd=CRD))
    server.publish(make_chart(sources, "plain", "0.1.0"))
    try:
        yield server
    finally:
        server.stop()


@pytest.fixture(scope="module")
def registry(oci_registry, tmp_path_factory, sources) -> str:
    packages = tmp_path_factory.mktemp("oci-packages")
    url = oci_registry.url("charts")
    for version in ("1.0.0", "1.1.0", "2.0.0"):
        rt.helm_push(rt.helm_package(make_chart(sources / "oci", "typed", version, schema=SCHEMA, crd=CRD), packages), url)
    return url


def lock_of(root: Path) -> list[dict]:
    return yaml.safe_load((root / "charts.lock").read_text())["charts"]


def sha256(path: Path) -> str:
    return "sha256:" + hashlib.sha256(path.read_bytes()).hexdigest()


def test_add_from_a_helm_repository_vendors_the_highest_match_and_locks_its_digest(repository, tmp_path):
    done = gopc("chart", "add", repository.url, "typed", "--version", "1.x", "--root", tmp_path)
    assert done.returncode == 0, done.stderr
    directory = tmp_path / "vendor" / "charts" / "typed" / "1.1.0"
    assert done.stdout == (f"locked: typed 1.1.0 from {repository.url} ({sha256(directory / 'typed-1.1.0.tgz')}) "
                           "in vendor/charts/typed/1.1.0\n")
    package = repository.directory / "typed-1.1.0.tgz"
    assert (directory / "typed-1.1.0.tgz").read_bytes() == package.read_bytes()
    index = yaml.safe_load((repository.directory / "index.yaml").read_text())
    published = next(e["digest"] for e in index["entries"]["typed"] if e["version"] == "1.1.0")
    assert lock_of(tmp_path) == [{"repository": repository.url, "chart": "typed", "version": "1.1.0",
                                  "digest": f"sha256:{published}"}]
    assert sorted(p.relative_to(directory).as_posix() for p in directory.rglob("*") if p.is_file()) == [
        "Chart.yaml", "crds/widgets.yaml", "typed-1.1.0.tgz", "values.schema.json", "values.yaml"]
    assert json.loads((directory / "values.schema.json").read_text()) == SCHEMA
    assert (directory / "crds" / "widgets.yaml").read_text() == CRD


def test_add_from_an_oci_registry_resolves_the_range_as_helm_does(registry, tmp_path):
    done = gopc("chart", "add", registry, "typed", "--version", ">=1.0.0 <2.0.0", "--plain-http", "--root", tmp_path)
    assert done.returncode == 0, done.stderr
    [entry] = lock_of(tmp_path)
    assert entry["repository"] == registry and entry["version"] == "1.1.0"
    assert entry["digest"] == sha256(tmp_path / "vendor/charts/typed/1.1.0/typed-1.1.0.tgz")
    latest = gopc("chart", "add", registry + "/", "typed", "--plain-http", "--root", tmp_path)
    assert latest.returncode == 0, latest.stderr
    assert [(e["repository"], e["version"]) for e in lock_of(tmp_path)] == [(registry, "1.1.0"), (registry, "2.0.0")]


def test_the_lock_is_sorted_and_the_same_whatever_the_order_of_adding(repository, tmp_path):
    orders = [("2.0.0", "1.0.0", "plain"), ("plain", "1.0.0", "2.0.0")]
    texts = []
    for index, order in enumerate(orders):
        root = tmp_path / str(index)
        root.mkdir()
        for item in order:
            args = ("plain",) if item == "plain" else ("typed", "--version", item)
            assert gopc("chart", "add", repository.url, *args, "--root", root).returncode == 0
        texts.append((root / "charts.lock").read_text())
    assert texts[0] == texts[1]
    assert [(e["chart"], e["version"]) for e in yaml.safe_load(texts[0])["charts"]] == [
        ("plain", "0.1.0"), ("typed", "1.0.0"), ("typed", "2.0.0")]


def test_adding_again_changes_nothing_and_restores_the_vendored_files(repository, tmp_path):
    assert gopc("chart", "add", repository.url, "typed", "--version", "1.0.0", "--root", tmp_path).returncode == 0
    lock = (tmp_path / "charts.lock").read_text()
    values = tmp_path / "vendor/charts/typed/1.0.0/values.yaml"
    values.write_text("replicaCount: 3\n")
    done = gopc("chart", "add", repository.url, "typed", "--version", "1.0.0", "--root", tmp_path)
    assert done.returncode == 0 and done.stdout.startswith("already locked: typed 1.0.0")
    assert (tmp_path / "charts.lock").read_text() == lock
    assert "replicaCount: 1" in values.read_text()


def test_a_chart_republished_under_a_locked_version_is_refused(tmp_path_factory, sources, tmp_path):
    server = ChartServer(tmp_path_factory.mktemp("changing-repository"))
    try:
        server.publish(make_chart(sources / "changing", "typed", "1.0.0"))
        assert gopc("chart", "add", server.url, "typed", "--root", tmp_path).returncode == 0
        before = {p: p.read_bytes() for p in tmp_path.rglob("*") if p.is_file()}
        server.publish(make_chart(sources / "changing", "typed", "1.0.0", replicas=5))
        done = gopc("chart", "add", server.url, "typed", "--root", tmp_path)
    finally:
        server.stop()
    assert done.returncode == 2
    assert "error[E0805]: typed 1.0.0 from" in done.stderr and "the published chart changed" in done.stderr
    assert {p: p.read_bytes() for p in tmp_path.rglob("*") if p.is_file()} == before


def test_a_changed_oci_chart_under_a_locked_tag_is_refused(registry, sources, tmp_path, tmp_path_factory):
    assert gopc("chart", "add", registry, "typed", "--version", "1.0.0", "--plain-http", "--root", tmp_path).returncode == 0
    other = rt.helm_package(make_chart(sources / "oci-changed", "typed", "1.0.0", replicas=7), tmp_path_factory.mktemp("p"))
    rt.helm_push(other, registry)
    done = gopc("chart", "add", registry, "typed", "--version", "1.0.0", "--plain-http", "--root", tmp_path)
    assert done.returncode == 2 and "error[E0805]" in done.stderr


@pytest.mark.parametrize("case", ["no-helm", "unreachable", "unknown-chart", "unknown-version", "bad-url", "bad-lock",
                                  "not-a-directory"])
def test_every_failure_is_one_clear_error(repository, tmp_path, case):
    env = {**rt.tool_env(), "GOPC_HELM": str(rt.helm_bin())}
    url, chart, extra = repository.url, "typed", []
    if case == "no-helm":
        env = {**rt.tool_env(), "PATH": str(tmp_path)}
        env.pop("GOPC_HELM", None)
    elif case == "unreachable":
        url = f"http://127.0.0.1:{rt.free_port()}"
    elif case == "unknown-chart":
        chart = "nosuch"
    elif case == "unknown-version":
        extra = ["--version", "9.x"]
    elif case == "bad-url":
        url = "ftp://example.com/charts"
    elif case == "bad-lock":
        (tmp_path / "charts.lock").write_text("charts:\n  - repository: x\n")
    root = tmp_path / "missing" if case == "not-a-directory" else tmp_path
    done = gopc("chart", "add", url, chart, *extra, "--root", root, env=env)
    expected = {"no-helm": "E0904", "unreachable": "E0804", "unknown-chart": "E0804", "unknown-version": "E0804",
                "bad-url": "E0903", "bad-lock": "E0803", "not-a-directory": "E0903"}[case]
    lines = done.stderr.strip().splitlines()
    assert done.returncode == 2 and lines[-1] == "1 error", done.stderr
    assert lines[-2].startswith(f"gopc chart add: error[{expected}]: "), done.stderr
    assert not (tmp_path / "vendor").exists()
    if case in ("unknown-chart", "unknown-version", "unreachable"):
        assert f"cannot pull chart `{chart}` from {url}: " in lines[-2] and ": Error:" not in lines[-2]


def test_json_format_reports_the_error_as_a_document(tmp_path):
    done = gopc("chart", "add", "ftp://x", "typed", "--root", tmp_path, "--format", "json")
    assert done.returncode == 2 and done.stdout == ""
    document = json.loads(done.stderr)
    assert [d["code"] for d in document["diagnostics"]] == ["E0903"]


# ---- the store, read offline -----------------------------------------------------------------

@pytest.fixture
def vendored(repository, tmp_path) -> Path:
    for args in (("typed", "--version", "1.0.0"), ("plain",)):
        assert gopc("chart", "add", repository.url, *args, "--root", tmp_path).returncode == 0
    return tmp_path


def test_the_store_is_read_and_checked_without_any_server(vendored):
    entries = charts.read_lock(vendored)
    url = entries[0].repository
    plain = charts.locked_chart(entries, url + "/", "plain", None)
    assert (plain.chart, plain.version) == ("plain", "0.1.0")
    chart = charts.vendored_chart(vendored, charts.locked_chart(entries, url, "typed", "~1.0"))
    assert sorted(chart.files) == ["Chart.yaml", "crds/widgets.yaml", "values.schema.json", "values.yaml"]
    assert [(crd.path.as_posix(), crd.text) for crd in charts.locked_crds(vendored)] == [
        ("vendor/charts/typed/1.0.0/crds/widgets.yaml", CRD)]


def test_a_release_with_no_matching_lock_entry_names_the_command_to_run(vendored):
    entries = charts.read_lock(vendored)
    url = entries[0].repository
    with pytest.raises(charts.ChartStoreError) as missing:
        charts.locked_chart(entries, url, "typed", "2.x")
    assert missing.value.code == codes.CHART_NOT_LOCKED
    assert missing.value.message == "no version of chart `typed` locked in charts.lock matches `2.x` (locked: 1.0.0)"
    assert missing.value.fix == f"run `gopc chart add {url} typed --version '2.x'` in the program's root directory"
    with pytest.raises(charts.ChartStoreError) as other:
        charts.locked_chart(entries, "oci://ghcr.io/acme", "typed", None)
    assert other.value.message == "chart `typed` from oci://ghcr.io/acme is not in charts.lock"


@pytest.mark.parametrize("change", ["schema-edited", "file-removed", "file-added", "package-replaced", "package-removed"])
def test_vendored_files_that_do_not_match_the_lock_are_refused(vendored, change):
    directory = vendored / "vendor/charts/typed/1.0.0"
    if change == "schema-edited":
        (directory / "values.schema.json").write_text("{}")
    elif change == "file-removed":
        (directory / "crds/widgets.yaml").unlink()
    elif change == "file-added":
        (directory / "crds/extra.yaml").write_text(CRD)
    elif change == "package-replaced":
        shutil.copy(vendored / "vendor/charts/plain/0.1.0/plain-0.1.0.tgz", directory / "typed-1.0.0.tgz")
    else:
        (directory / "typed-1.0.0.tgz").unlink()
    entry = next(e for e in charts.read_lock(vendored) if e.chart == "typed")
    with pytest.raises(charts.ChartStoreError) as refused:
        charts.vendored_chart(vendored, entry)
    assert refused.value.code == codes.VENDORED_CHART_CHANGED
    assert refused.value.fix == f"run `gopc chart add {entry.repository} typed --version 1.0.0` to vendor it again"


def test_a_chart_without_a_schema_gets_one_inferred_from_its_values_yaml(vendored):
    entries = charts.read_lock(vendored)
    values = charts.values_type(charts.vendored_chart(vendored, charts.locked_chart(entries, entries[0].repository,
                                                                                     "plain", None)))
    assert values.warn_unknown and values.name == "plain 0.1.0 values"
    fields = values.fields
    assert fields["replicaCount"].type == IntType() and fields["replicaCount"].optional
    assert fields["replicaCount"].doc.startswith("This will set the replicaset count")
    image = fields["image"].type
    assert isinstance(image, RecordType) and image.warn_unknown and image.name == "plain 0.1.0 values.image"
    assert image.fields["tag"].type == StringType()
    assert image.fields["tag"].doc == "Overrides the image tag whose default is the chart appVersion."
    assert fields["serviceAccount"].type.fields["create"].type == BoolType()
    assert fields["podAnnotations"].type == MapType(StringType(), fields["podAnnotations"].type.value)
    assert fields["imagePullSecrets"].type == ListType(fields["imagePullSecrets"].type.element)
    assert fields["fullnameOverride"].doc is None  # the comment above `nameOverride` is not its


@pytest.mark.parametrize("text, problem", [
    ("charts: {}\n", "it needs a list `charts`"),
    ("charts:\n  - {repository: https://x, chart: a, version: 1.x, digest: 'sha256:" + "0" * 64 + "'}\n",
     "`1.x` is not a semantic version"),
    ("charts:\n  - {repository: https://x, chart: ../a, version: 1.0.0, digest: 'sha256:" + "0" * 64 + "'}\n",
     "`../a` is not a chart name"),
    ("charts:\n  - {repository: https://x, chart: a, version: 1.0.0, digest: md5}\n", "`md5` is not sha256"),
    ("charts: [\n", "cannot be read"),
])
def test_a_broken_lock_is_reported(tmp_path, text, problem):
    (tmp_path / "charts.lock").write_text(text)
    with pytest.raises(charts.ChartStoreError) as broken:
        charts.read_lock(tmp_path)
    assert broken.value.code == codes.CHART_LOCK_INVALID and problem in broken.value.message


def test_a_chart_with_a_schema_is_typed_by_it_other_keys_warned_where_helm_takes_them(vendored):
    entries = charts.read_lock(vendored)
    chart = charts.vendored_chart(vendored, charts.locked_chart(entries, entries[0].repository, "typed", "1.0.0"))
    values = charts.values_type(chart)
    assert isinstance(values, RecordType) and values.name == "typed 1.0.0 values"
    assert not values.open and not values.warn_unknown  # additionalProperties: false
    assert values.fields["replicaCount"].type == IntType(1, None)
    assert values.fields["replicaCount"].doc == "How many pods run the app."
    image = values.fields["image"].type
    assert image.warn_unknown and not image.open and image.fields["tag"].type == StringType()


def test_the_schema_inferred_from_values_yaml_is_kept_in_the_user_cache(vendored, tmp_path, monkeypatch):
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "cache"))
    entries = charts.read_lock(vendored)
    chart = charts.vendored_chart(vendored, charts.locked_chart(entries, entries[0].repository, "plain", None))
    first = charts.values_type(chart)
    [kept] = (tmp_path / "cache" / "gopc" / "values-schemas").glob("*.json")
    assert json.loads(kept.read_text()) == charts.inferred_schema(chart.files["values.yaml"].decode(), "values.yaml")
    kept.write_text("[damaged")
    again = charts.values_type(chart)
    assert again.fields.keys() == first.fields.keys() and json.loads(kept.read_text())["type"] == "object"


RANGE_VERSIONS = ["0.9.0", "1.0.0", "1.2.0", "1.2.5", "1.10.0", "2.0.0-rc.1", "2.0.0", "2.1.3"]


@pytest.fixture(scope="module")
def many_versions(tmp_path_factory, sources):
    server = ChartServer(tmp_path_factory.mktemp("range-repository"))
    for version in RANGE_VERSIONS:
        server.publish(make_chart(sources / "ranges", "ranges", version))
    try:
        yield server
    finally:
        server.stop()


@pytest.mark.parametrize("wanted", ["1.x", "~1.2", "^1.2.0", ">=1.0.0 <1.10.0", "!=1.10.0, 1.x", "1.2 - 1.9", "*",
                                    "2.0.0-rc.1", ">=2.0.0-0 <2.0.0", "<1.0.0", "1.2.5 || 0.9.0", "9.x"])
def test_a_release_s_range_picks_the_version_helm_picks(many_versions, wanted):
    """What check resolves a release's range to among locked versions is what `helm pull` pulls."""
    done = subprocess.run([str(rt.helm_bin()), "show", "chart", "ranges", "--repo", many_versions.url, "--version", wanted],
                          capture_output=True, text=True, env=rt.tool_env(), stdin=subprocess.DEVNULL, timeout=120)
    helm_picks = yaml.safe_load(done.stdout)["version"] if done.returncode == 0 else None
    assert semver_range.highest_matching(RANGE_VERSIONS, wanted) == helm_picks, done.stderr


def test_the_crds_of_a_chart_that_does_not_match_the_lock_are_left_out(vendored):
    assert [crd.path.name for crd in charts.locked_crds(vendored)] == ["widgets.yaml"]
    (vendored / "vendor/charts/typed/1.0.0/values.yaml").write_text("changed: true\n")
    assert charts.locked_crds(vendored) == []
    (vendored / "charts.lock").write_text("charts: [\n")
    assert charts.locked_crds(vendored) == []
