"""Each app's chart files kept across runs (compiler/lower/chartstore.py, disk cache kind `chart`).

- A chart read back is exactly the chart made afresh (in the form it is written in, kept by that form), and the program's Helm caches learn the same
  version (and content digest, for a chart whose version the program chose): every example.
- Only a changed app's chart is made again: an edit of one app adds one entry, of an env layer
  none; across a sequence of edits (an app, an env layer, a cluster, a lib value many apps read,
  a schema default, an app deleted, an app renamed) the incremental build writes exactly the tree
  a `--no-cache` build into a new directory writes.
- An entry of the wrong shape, a damaged one, or another gopc's (fingerprint) is not read; runs side
  by side on one cache directory build the same tree; `--no-cache` neither reads nor writes a chart.
"""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

import realtools as rt
from gop.compiler.core.diskcache import DiskCache
from gop.compiler.lower import chartstore
from gop.compiler.lower.chartstore import ChartStore
from gop.compiler.lower.helm import chart_files
from gop.compiler.lower.helm.caches import HelmCaches
from gop.compiler.session import analyse
from test_incremental import Builds, gopc
from test_runmemo import edit

sys.path.insert(0, str(rt.REPO_ROOT / "bench"))
from fleetgen import generate  # noqa: E402

EXAMPLES = sorted(path.name for path in (rt.REPO_ROOT / "examples").iterdir() if (path / "fleet.gop").exists())


def chart_entries(cache: Path) -> set[Path]:
    return {path for path in (cache / "gopc" / "objects" / "chart").rglob("*") if path.is_file()}


@pytest.fixture
def made(monkeypatch):
    """The apps whose chart the store made (rather than read), in order."""
    names: list[str] = []

    def counting(app, helm):
        names.append(app.name)
        return chart_files(app, helm)

    monkeypatch.setattr(chartstore, "chart_files", counting)
    return names


@pytest.mark.parametrize("example", EXAMPLES)
def test_a_chart_read_back_is_the_chart_made_afresh(example, tmp_path, made):
    fleet = analyse([rt.REPO_ROOT / "examples" / example]).fleet
    disk = DiskCache(tmp_path, b"gopc")
    first, again = ChartStore(disk), ChartStore(disk)
    digests = []
    for app in fleet.apps.values():
        fresh_caches, kept_caches, read_caches = HelmCaches(), HelmCaches(), HelmCaches()
        fresh = chart_files(app, fresh_caches)
        assert first.chart_files(app, kept_caches) == fresh
        assert again.chart_files(app, read_caches) == fresh
        assert read_caches.chart_version(app) == fresh_caches.chart_version(app) is not None
        assert read_caches.content_digest(app) == fresh_caches.content_digest(app)
        digests.append(read_caches.content_digest(app))
    assert made == list(fleet.apps)  # each made once, by the first store
    assert any(digests) == (example == "networking")  # its gateway's version is the program's


def test_an_entry_of_another_shape_or_another_gopc_is_not_read(tmp_path, made):
    fleet = analyse([rt.REPO_ROOT / "examples" / "shop"]).fleet
    app = next(iter(fleet.apps.values()))
    disk = DiskCache(tmp_path, b"gopc")
    expected = ChartStore(disk).chart_files(app, HelmCaches())
    [entry] = chart_entries_in(tmp_path)
    key = entry.parent.name + entry.name
    assert ChartStore(DiskCache(tmp_path, b"gopc 2")).chart_files(app, HelmCaches()) == expected  # another fingerprint
    assert len(made) == 2
    for wrong in ({"Chart.yaml": "x"}, ({"Chart.yaml": "x"}, 1, None), ("files", "v", None), None):
        disk.put(chartstore.KIND, key, wrong)
        caches = HelmCaches()
        assert ChartStore(disk).chart_files(app, caches) == expected
        assert caches.chart_version(app) is not None
    assert len(made) == 6
    entry.write_bytes(entry.read_bytes()[:-7])  # damaged: made again, and kept again
    assert ChartStore(disk).chart_files(app, HelmCaches()) == expected
    assert ChartStore(disk).chart_files(app, HelmCaches()) == expected
    assert len(made) == 7


def test_a_written_form_is_kept_by_its_form(tmp_path, made):
    fleet = analyse([rt.REPO_ROOT / "examples" / "shop"]).fleet
    app = next(iter(fleet.apps.values()))
    store = ChartStore(DiskCache(tmp_path, b"gopc"))
    for form, mark in ((b"a", "A"), (b"b", "B"), (b"a", "A")):
        files = store.chart_files(app, HelmCaches(), written=lambda path, text: mark + path + text, form=form)
        assert files == {path: mark + path + text for path, text in chart_files(app, HelmCaches()).items()}
    assert len(made) == 2


def chart_entries_in(directory: Path) -> list[Path]:
    return sorted(path for path in (directory / chartstore.KIND).rglob("*") if path.is_file())


def test_without_a_disk_cache_every_chart_is_made(made):
    fleet = analyse([rt.REPO_ROOT / "examples" / "shop"]).fleet
    store = ChartStore(None)
    for _ in range(2):
        for app in fleet.apps.values():
            assert store.chart_files(app, HelmCaches()) == chart_files(app, HelmCaches())
    assert made == list(fleet.apps) * 2


def test_each_edit_builds_what_a_build_without_cache_builds_making_only_changed_charts(tmp_path):
    program = tmp_path / "fleet"
    generate(program, 12, 3, 6)
    builds = Builds(program, tmp_path)
    assert builds.same_as_without_cache("first build") == 0
    assert len(chart_entries(builds.cache)) == 12
    assert not (tmp_path / "none" / "gopc" / "objects" / "chart").exists()  # --no-cache keeps none

    def after(what: str, file: str, old: str, new: str) -> int:
        before = chart_entries(builds.cache)
        edit(program / file, old, new)
        assert builds.same_as_without_cache(what) == 0
        return len(chart_entries(builds.cache) - before)

    assert after("an app", "apps/app0003.gop", "replicas = 1", "replicas = 3") == 1
    assert after("an env layer", "envs.gop", "replicas = 2\n", "replicas = 5\n") == 0
    assert after("a cluster", "clusters.gop", 'region = "us-east-1", tier = "gold"',
                 'region = "us-east-1"') == 0
    assert after("a lib value many apps read", "lib/types.gop", 'let domain = "example.com"',
                 'let domain = "example.org"') == 12
    assert after("a schema default", "lib/types.gop", "int(1..100000) = 100", "int(1..100000) = 120") == 12
    assert after("the edit undone", "lib/types.gop", "int(1..100000) = 120", "int(1..100000) = 100") == 0
    (program / "apps" / "app0005.gop").unlink()
    assert builds.same_as_without_cache("an app deleted") == 0
    assert not (builds.out / "charts" / "app0005").exists()
    assert after("an app renamed", "apps/app0006.gop", "app app0006", "app renamed0006") == 1
    assert (builds.out / "charts" / "renamed0006" / "Chart.yaml").exists()
    before = chart_entries(builds.cache)
    (program / "apps" / "app0007.gop").rename(program / "apps" / "moved.gop")  # every header names the file
    assert builds.same_as_without_cache("an app's file renamed") == 0
    assert len(chart_entries(builds.cache) - before) == 1
    assert "apps/moved.gop" in (builds.out / "charts" / "app0007" / "values.yaml").read_text()
