"""`gopc build --check`: the CI gate that keeps the committed tree and the .gop program in step.

- A tree the program just built is up to date: exit 0, nothing on stdout.
- A changed program, a file edited by hand, a file deleted, a file gopc wrote that the program no
  longer makes: exit 1, each path listed as `differs`, `missing` or `stale`; files of the user's
  (not in the manifest) are never listed. `-v` adds a unified diff of each file that differs.
- Nothing is ever written: the tree's bytes, inodes and mtimes stay, no staging directory is left,
  and a missing output directory is not created.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

import realtools as rt

GOPC = Path(sys.executable).with_name("gopc")


def gopc(*args) -> subprocess.CompletedProcess:
    done = subprocess.run([str(GOPC), *map(str, args)], capture_output=True, text=True, stdin=subprocess.DEVNULL,
                          env=rt.tool_env(), timeout=300)
    assert "Traceback" not in done.stderr
    return done


def snapshot(tree: Path) -> dict[str, tuple[int, int, bytes]]:
    return {str(p.relative_to(tree)): (p.stat().st_ino, p.stat().st_mtime_ns, p.read_bytes())
            for p in sorted(tree.rglob("*")) if p.is_file()}


def listed(stdout: str) -> dict[str, str]:
    return {path: what for what, path in (line.split(maxsplit=1) for line in stdout.splitlines())}


@pytest.fixture
def built(shop, tmp_path) -> Path:
    out = tmp_path / "out"
    assert gopc("build", shop, "-o", out).returncode == 0
    return out


def test_a_fresh_build_is_up_to_date(shop, built):
    before = snapshot(built)
    done = gopc("build", shop, "-o", built, "--check")
    assert (done.returncode, done.stdout) == (0, "")
    assert f"{built} is up to date" in done.stderr
    assert snapshot(built) == before
    assert sorted(p.name for p in built.parent.iterdir()) == ["out", "shop"]  # no staging sibling


def test_every_kind_of_difference_is_listed_and_nothing_is_written(shop, built):
    envs = shop / "envs.gop"
    envs.write_text(envs.read_text(encoding="utf-8").replace("replicas = 6", "replicas = 7", 1), encoding="utf-8")
    (built / "charts" / "web" / "values.yaml").unlink()
    (built / "charts" / "cart" / "Chart.yaml").write_text("edited by hand\n", encoding="utf-8")
    manifest = json.loads((built / ".gopc-manifest.json").read_text(encoding="utf-8"))
    manifest["files"].append("apps/removed-app.yaml")
    (built / ".gopc-manifest.json").write_text(json.dumps(manifest), encoding="utf-8")
    (built / "apps" / "removed-app.yaml").write_text("kind: old\n", encoding="utf-8")
    (built / "NOTES.md").write_text("mine\n", encoding="utf-8")  # the user's: never listed
    before = snapshot(built)

    done = gopc("build", shop, "-o", built, "--check")
    assert done.returncode == 1, done.stderr
    found = listed(done.stdout)
    assert found["charts/web/values.yaml"] == "missing"
    assert found["charts/cart/Chart.yaml"] == "differs"
    assert found["apps/removed-app.yaml"] == "stale"
    assert found["apps/prod/web/web-values.yaml"] == "differs"
    assert found[".gopc-manifest.json"] == "differs"
    assert "NOTES.md" not in found
    assert list(found) == sorted(found)
    assert "is not what the program builds" in done.stderr and f"gopc build {shop} -o {built}" in done.stderr
    assert snapshot(built) == before
    assert sorted(p.name for p in built.parent.iterdir()) == ["out", "shop"]

    # After a build, the check passes again.
    assert gopc("build", shop, "-o", built).returncode == 0
    assert gopc("build", shop, "-o", built, "--check").returncode == 0


def test_verbose_prints_the_diff_and_quiet_prints_no_summary(shop, built):
    envs = shop / "envs.gop"
    envs.write_text(envs.read_text(encoding="utf-8").replace("replicas = 6", "replicas = 7", 1), encoding="utf-8")
    verbose = gopc("build", shop, "-o", built, "--check", "-v")
    assert verbose.returncode == 1
    assert f"--- {built}/apps/prod/web/web-values.yaml\n" in verbose.stdout
    assert "\n-    replicas: 6\n+    replicas: 7\n" in verbose.stdout
    quiet = gopc("build", shop, "-o", built, "--check", "-q")
    assert (quiet.returncode, quiet.stderr) == (1, "")
    assert "differs  apps/prod/web/web-values.yaml" in quiet.stdout


def test_a_missing_tree_is_all_missing_and_stays_missing(shop, tmp_path):
    out = tmp_path / "never-built"
    done = gopc("build", shop, "-o", out, "--check")
    assert done.returncode == 1
    assert set(listed(done.stdout).values()) == {"missing", "differs"}  # the files, and the manifest
    assert not out.exists()


def test_a_program_with_errors_is_reported_not_compared(shop, built):
    (shop / "broken.gop").write_text("let x = \n", encoding="utf-8")
    done = gopc("build", shop, "-o", built, "--check")
    assert done.returncode == 1 and "error[E0102]" in done.stderr and done.stdout == ""
