"""The Flux tree's files kept across runs (compiler/lower/flux/treestore.py, disk cache kinds
`flux-apps` and `flux-fleet`).

- Files read back are exactly the files made afresh: every example, through a store filled by one
  run and read by another.
- Only what an edit changes is made again: across a sequence of edits of a generated fleet (an
  app's replicas, an env layer, a cluster's labels, a lib value many apps read, the delivery and
  registry settings, a dependency, an app deleted and renamed) the incremental build writes
  exactly the tree a `--no-cache` build into a new directory writes, adding the entries counted
  (one per group of apps holding a changed app's files, `treestore.app_groups`).
- The fleet's files read none of `CHART_ONLY_FIELDS` an app does not show them (changed everywhere
  in every example, they make the same files).
- An entry of the wrong shape, a damaged one, or another gopc's (fingerprint) is not read;
  `--no-cache` neither reads nor writes one; runs side by side on one cache build the same tree.
"""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

import realtools as rt
from gop.compiler.core.diskcache import DiskCache
from gop.compiler.lower.flux import tree, treestore
from gop.compiler.lower.flux.caches import LoweringCaches
from gop.compiler.lower.flux.treestore import TreeStore
from gop.compiler.lower.memo import LoweringMemo
from gop.compiler.session import analyse
from test_incremental import Builds, gopc, tree_bytes
from test_runmemo import edit

sys.path.insert(0, str(rt.REPO_ROOT / "bench"))
from fleetgen import generate  # noqa: E402

EXAMPLES = sorted(path.name for path in (rt.REPO_ROOT / "examples").iterdir() if (path / "fleet.gop").exists())


def groups(*apps: str) -> int:
    """How many entries keep the files of `apps`."""
    return len({treestore.group_of(app) for app in apps})


APPS = [f"app{index:04}" for index in range(12)]  # of `generate(program, 12, ...)`


def entries(cache: Path, kind: str) -> set[Path]:
    return {path for path in (cache / "gopc" / "objects" / kind).rglob("*") if path.is_file()}


def lowered(example: str, disk: DiskCache | None) -> tuple[dict[str, str], LoweringCaches]:
    analysis = analyse([rt.REPO_ROOT / "examples" / example])
    caches = LoweringCaches(analysis.fleet, disk=disk)
    return tree.repository_files(analysis.fleet, caches), caches


@pytest.fixture
def made(monkeypatch):
    """What the store made (rather than read): "fleet", or the app's name, in order."""
    names: list[str] = []
    app_files, fleet_files = tree.app_files, tree.fleet_files

    def counting_app(fleet, name, envs, caches):
        names.append(name)
        return app_files(fleet, name, envs, caches)

    def counting_fleet(fleet, caches, envs_apps):
        names.append("fleet")
        return fleet_files(fleet, caches, envs_apps)

    monkeypatch.setattr(tree, "app_files", counting_app)
    monkeypatch.setattr(tree, "fleet_files", counting_fleet)
    return names


@pytest.mark.parametrize("example", EXAMPLES)
def test_files_read_back_are_the_files_made_afresh(example, tmp_path, made):
    fresh, caches = lowered(example, None)
    apps = [app for group in treestore.app_groups(caches.fleet) for app in group]
    assert sorted(apps) == sorted(caches.fleet.apps)
    assert made == [*apps, "fleet"]
    disk = DiskCache(tmp_path, b"gopc")
    assert lowered(example, disk)[0] == fresh
    assert lowered(example, disk)[0] == fresh
    assert made == [*apps, "fleet"] * 2  # the second store read everything


def test_an_entry_of_another_shape_or_another_gopc_is_not_read(tmp_path, made):
    disk = DiskCache(tmp_path, b"gopc")
    expected, caches = lowered("shop", disk)
    made.clear()
    [entry] = sorted(path for path in (tmp_path / treestore.FLEET_KIND).rglob("*") if path.is_file())
    key = entry.parent.name + entry.name
    assert lowered("shop", DiskCache(tmp_path, b"gopc 2"))[0] == expected  # another fingerprint
    assert made.count("fleet") == 1 and len(made) == len(caches.fleet.apps) + 1
    for wrong in ({"clusters/x": 1}, {1: "x"}, ["clusters/x", "x"], None):
        disk.put(treestore.FLEET_KIND, key, wrong)
        assert lowered("shop", disk)[0] == expected
    assert made.count("fleet") == 5
    entry.write_bytes(entry.read_bytes()[:-7])  # damaged: made again, and kept again
    assert lowered("shop", disk)[0] == expected
    assert lowered("shop", disk)[0] == expected
    assert made.count("fleet") == 6


def test_without_a_disk_cache_everything_is_made(made):
    analysis = analyse([rt.REPO_ROOT / "examples" / "shop"])
    caches = LoweringCaches(analysis.fleet)
    store = TreeStore(None)
    for _ in range(2):
        assert store.fleet_files(analysis.fleet, caches, make=lambda: {"a": "b"}) == {"a": "b"}
    assert tree.repository_files(analysis.fleet, caches) == lowered("shop", None)[0]
    assert made.count("fleet") == 2


@pytest.mark.parametrize("example", [*EXAMPLES, "generated"])
def test_the_fleets_files_read_no_hidden_chart_only_field(example, tmp_path):
    """Each `CHART_ONLY_FIELDS` field an app does not show the fleet's files, set to a value of
    its own everywhere (the app's base, its instances and the env layers), makes the same files."""
    if example == "generated":
        generate(tmp_path / "fleet", 12, 3, 6)
    program = tmp_path / "fleet" if example == "generated" else rt.REPO_ROOT / "examples" / example
    reference = analyse([program]).fleet
    expected = tree.fleet_files(reference, LoweringCaches(reference), tree.envs_apps(reference))
    fleet = analyse([program]).fleet
    instances = treestore._distinct_instances(fleet)
    patches = {key: treestore._patch(instance, LoweringMemo.one_round()) for key, instance in instances.items()}
    hidden = treestore._hidden_fields(fleet, instances, patches)
    changed = 0
    for name, app in fleet.apps.items():
        trees = [app.base, *(fleet.envs[env].app_values.get(name, {}) for env in fleet.envs),
                 *(tree for instance in instances.values() if instance.app == name
                   for tree in (instance.values, instance.env_values))]
        for field in hidden[name]:
            for values in trees:
                values[field] = f"changed {field}"
                changed += 1
    assert changed or not fleet.apps  # kustomize-helm has releases only
    assert tree.fleet_files(fleet, LoweringCaches(fleet), tree.envs_apps(fleet)) == expected


def test_each_edit_builds_what_a_build_without_cache_builds_making_only_what_changed(tmp_path):
    program = tmp_path / "fleet"
    generate(program, 12, 3, 6)
    builds = Builds(program, tmp_path)
    assert builds.same_as_without_cache("first build") == 0
    assert (len(entries(builds.cache, "flux-apps")), len(entries(builds.cache, "flux-fleet"))) == (groups(*APPS), 1)
    assert not (tmp_path / "none" / "gopc" / "objects" / "flux-apps").exists()  # --no-cache keeps none
    assert not (tmp_path / "none" / "gopc" / "objects" / "flux-fleet").exists()

    def after(what: str, file: str, old: str, new: str) -> tuple[int, int]:
        before = {kind: entries(builds.cache, kind) for kind in ("flux-apps", "flux-fleet")}
        edit(program / file, old, new)
        assert builds.same_as_without_cache(what) == 0
        return tuple(len(entries(builds.cache, kind) - before[kind]) for kind in ("flux-apps", "flux-fleet"))

    # An app's replicas: only its own files (no cluster sets its replicas).
    assert after("an app", "apps/app0003.gop", "replicas = 1", "replicas = 3") == (1, 0)
    # Every app of the env but app0000, whose own replicas win; nothing else: no cluster sets another's.
    assert after("an env layer", "envs.gop", "replicas = 2\n", "replicas = 5\n") == (groups(*APPS[1:]), 0)
    assert after("an env layer's image (the fleet's files read it)", "envs.gop", 'image.pullPolicy = "Always"',
                 'image.pullPolicy = "IfNotPresent"') == (groups(*APPS), 1)
    assert after("a cluster's labels", "clusters.gop", 'region = "us-east-1", tier = "gold"',
                 'region = "us-east-1"') == (0, 1)
    assert after("a lib value many apps read", "lib/types.gop", 'let domain = "example.com"',
                 'let domain = "example.org"') == (groups(*APPS), 0)
    assert after("the delivery settings", "fleet.gop", 'charts = "oci"\n', 'charts = "oci"\n  interval = 7m\n') == (groups(*APPS), 1)
    assert after("a registry", "fleet.gop", 'url = "oci://ghcr.io/acme/charts"',
                 'url = "oci://ghcr.io/acme/helm"') == (groups(*APPS), 1)
    assert after("a dependency", "apps/app0009.gop", "dependsOn = [app0008]", "dependsOn = [app0007]") == (1, 1)
    # Every app's files may name another's namespace (a dependency's): all are made again.
    assert after("an app's namespace", "apps/app0004.gop", 'namespace = "team04"', 'namespace = "team99"') == (groups(*APPS), 1)
    before = {kind: entries(builds.cache, kind) for kind in ("flux-apps", "flux-fleet")}
    (program / "apps" / "app0005.gop").unlink()
    assert builds.same_as_without_cache("an app deleted") == 0
    assert not (builds.out / "apps" / "base" / "app0005").exists()
    assert len(entries(builds.cache, "flux-fleet") - before["flux-fleet"]) == 1
    assert len(entries(builds.cache, "flux-apps") - before["flux-apps"]) == groups(*APPS[:5], *APPS[6:])  # see the namespace above
    assert after("an app renamed", "apps/app0006.gop", "app app0006", "app renamed0006") == (groups(*APPS[:5], *APPS[7:], "renamed0006"), 1)
    assert (builds.out / "apps" / "base" / "renamed0006" / "release.yaml").exists()


def test_builds_side_by_side_on_one_cache_build_the_same_tree(tmp_path):
    """Three builds filling one cache at once (the chart store's entries and the Flux tree's): each
    tree is the uncached one, and no entry is left half-written."""
    program = tmp_path / "fleet"
    generate(program, 8, 2, 4)
    cache = tmp_path / "cache"
    env = rt.tool_env() | {"XDG_CACHE_HOME": str(cache)}
    runs = [subprocess.Popen([sys.executable, "-m", "gop.compiler.cli", "build", str(program), "-o", str(tmp_path / f"out{n}")],
                             env=env | {"PYTHONHASHSEED": str(n)}, stdin=subprocess.DEVNULL,
                             stdout=subprocess.DEVNULL, stderr=subprocess.PIPE) for n in range(3)]
    assert all(run.wait(timeout=300) == 0 for run in runs)
    assert gopc("build", program, "-o", tmp_path / "warm", cache=cache, seed="7")[0] == 0
    assert gopc("build", program, "-o", tmp_path / "reference", "--no-cache", cache=tmp_path / "none", seed="8")[0] == 0
    expected = tree_bytes(tmp_path / "reference")
    for out in ("out0", "out1", "out2", "warm"):
        assert tree_bytes(tmp_path / out) == expected, out
    assert (len(entries(cache, "flux-apps")), len(entries(cache, "flux-fleet"))) == (groups(*APPS[:8]), 1)
    assert len(entries(cache, "chart")) == 8
    assert not any(path.name.endswith(".partial") for path in (cache / "gopc" / "objects").rglob("*"))
