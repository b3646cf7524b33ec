"""`gopc build` and `gopc render` write the same bytes under any PYTHONHASHSEED.

The program is the compiled example plus every layer at once: envs that set replicas, selector
overlays with `all` and `app` blocks (one moves an app to another namespace), and cluster overrides
that set several fields of one app (maps and records) on top of an overlay. The CLI runs in subprocesses with
different hash seeds; the trees and the renders must be byte-identical.
"""

from __future__ import annotations

import hashlib
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

import realtools as rt

EXAMPLE = rt.REPO_ROOT / "examples" / "shop"
GOPC = Path(sys.executable).with_name("gopc")
SEEDS = ("1", "2", "3", "4")

EVERY_LAYER = '''
overlay gold where tier == "gold" {
  all { values.logLevel = "info", config { "a.conf" = "a", "b.conf" = "b" } }
  app cart { replicas = 4, env { Z = "z", A = "a", M = "m" } }
  app web { namespace = "web-gold" }
}

cluster dev-cn-2 {
  labels { environment = "dev", region = "cn-north-1", tier = "gold" }
  app web { replicas = 5, values.logLevel = "error", image.pullPolicy = "Never" }
  app cart { env { B = "b", Y = "y" }, config { "z.conf" = "z", "c.conf" = "c" }, resources.limits.cpu = 2 }
}
'''


def write_program(root: Path) -> Path:
    program = root / "shop"
    shutil.copytree(EXAMPLE, program)
    with (program / "clusters.gop").open("a", encoding="utf-8") as file:
        file.write(EVERY_LAYER)
    return program


def run(seed: str, *args) -> None:
    environment = {**rt.tool_env(), "PYTHONHASHSEED": seed}
    done = subprocess.run([str(GOPC), *map(str, args)], capture_output=True, text=True, env=environment,
                          stdin=subprocess.DEVNULL, timeout=300)
    assert done.returncode == 0 and "Traceback" not in done.stderr, done.stderr


def digests(tree: Path) -> dict[str, str]:
    return {path.relative_to(tree).as_posix(): hashlib.sha256(path.read_bytes()).hexdigest()
            for path in sorted(tree.rglob("*")) if path.is_file()}


@pytest.mark.parametrize("command", ["build", "render"])
def test_output_is_byte_identical_under_every_hash_seed(tmp_path, command):
    program = write_program(tmp_path)
    trees = {}
    for seed in SEEDS:
        out = tmp_path / f"{command}-{seed}"
        if command == "build":
            run(seed, "build", program, "-o", out)
        else:
            run(seed, "render", program, "--all-clusters", "--include-flux", "-o", out)
        trees[seed] = digests(out)
    first = trees[SEEDS[0]]
    assert any(path.endswith("dev-cn-2/apps/web-values.yaml") or path == "dev-cn-2.yaml" for path in first)
    for seed in SEEDS[1:]:
        differing = sorted(path for path in first.keys() | trees[seed].keys() if first.get(path) != trees[seed].get(path))
        assert differing == [], f"PYTHONHASHSEED={seed} changes {differing}"
