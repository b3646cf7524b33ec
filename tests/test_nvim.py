"""Headless Neovim 0.7 drives `gopc lsp` through its built-in client (vim.lsp.start_client).

tests/nvim/lsp_smoke.lua opens the shop example, records diagnostics, a hover and a completion,
breaks a field and records the diagnostics again, and writes it all to a JSON file. The
diagnostics after the edit are compared with `gopc check --format json` on the edited text.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

from test_lsp import REPO, gopc_check

SCRIPT = Path(__file__).parent / "nvim" / "lsp_smoke.lua"


def gopc_executable() -> str:
    found = shutil.which("gopc", path=os.pathsep.join([os.environ.get("PATH", ""), str(Path(sys.executable).parent)]))
    assert found, "gopc is not installed (make venv)"
    return found


def test_neovim_sees_diagnostics_hover_and_completion(tmp_path: Path):
    nvim = shutil.which("nvim")
    assert nvim, "Neovim is missing (make system-deps installs it)"
    root = tmp_path / "shop"
    shutil.copytree(REPO / "examples" / "shop", root)
    out = tmp_path / "result.json"
    env = dict(os.environ, GOP_ROOT=str(root), GOP_OUT=str(out), GOPC=gopc_executable(),
               XDG_CONFIG_HOME=str(tmp_path / "config"), XDG_DATA_HOME=str(tmp_path / "data"),
               XDG_STATE_HOME=str(tmp_path / "state"), XDG_CACHE_HOME=str(tmp_path / "cache"))
    subprocess.run([nvim, "--headless", "--clean", "-n", "-c", f"luafile {SCRIPT}"], env=env, cwd=tmp_path,
                   stdin=subprocess.DEVNULL, capture_output=True, timeout=180)
    assert out.exists(), "Neovim wrote no result"
    result = json.loads(out.read_text())
    assert "failed" not in result, f"step failed: {result['failed']} (done: {result['steps']})"

    assert result["initial"] == []
    assert "replicas: int(0..1000) = 1" in result["hover"] and "cluster `prod-eu-1`: `8`" in result["hover"]
    assert set(result["completion"]) == {"repository", "tag", "pullPolicy"}

    (root / "apps.gop").write_text(result["text"])
    expected = sorted((d["code"], d["message"], d["line"] - 1, d["column"] - 1) for d in gopc_check(root) if d["file"] == "apps.gop")
    seen = sorted((d["code"], d["message"], d["range"]["start"]["line"], d["range"]["start"]["character"]) for d in result["after"])
    assert seen == expected and any(code == "E0301" for code, *_ in seen)
    assert result["shown"] == len(expected)
