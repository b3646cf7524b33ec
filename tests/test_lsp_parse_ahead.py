"""The language server's parse-ahead helper (lsp/parse_ahead.py): the trees it leaves in the disk
cache are the ones the server's first analysis reads instead of parsing, and that analysis equals
one that parsed everything; the helper is started only where it can help, and one that cannot
start, dies or is killed changes nothing the server answers."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from gop.compiler import session as sessions
from gop.compiler.core.diskcache import open_disk_cache
from gop.compiler.syntax.parser import parse_key
from gop.lsp import parse_ahead
from gop.lsp.project import ParseCache

from test_edit_reuse import _facts


@pytest.fixture
def workspace(shop: Path, tmp_path: Path, monkeypatch) -> Path:
    """examples/shop as the working directory, with a disk cache of its own."""
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "cache"))
    monkeypatch.chdir(shop)
    return shop


def _first_analysis(root: Path, monkeypatch) -> tuple[object, list[str]]:
    """The server's first analysis of `root` (a `ParseCache` over the disk cache), and the files it parsed."""
    parsed: list[str] = []
    parse_text = sessions.parse_text

    def counting(path: str, text: str):
        parsed.append(path)
        return parse_text(path, text)

    monkeypatch.setattr(sessions, "parse_text", counting)
    analysis = sessions.Session(parses=ParseCache(disk=open_disk_cache())).analyse([str(root)])
    monkeypatch.setattr(sessions, "parse_text", parse_text)
    return analysis, parsed


def test_the_first_analysis_reads_the_helpers_trees_and_equals_one_that_parsed(workspace: Path, monkeypatch):
    assert parse_ahead.parse_into_cache(".") == len(list(workspace.rglob("*.gop"))) + 1  # and the prelude
    assert parse_ahead.parse_into_cache(".") == 0  # all there: nothing parsed again
    analysis, parsed = _first_analysis(workspace, monkeypatch)
    assert parsed == []
    assert _facts(analysis) == _facts(sessions.Session().analyse([str(workspace)]))


def test_a_file_the_helper_has_not_reached_is_parsed_by_the_server(workspace: Path, monkeypatch):
    parse_ahead.parse_into_cache(".")
    disk = open_disk_cache()
    apps = workspace / "apps.gop"
    os.remove(disk._path("parse", parse_key(disk, "apps.gop", apps.read_text(encoding="utf-8"))))
    (workspace / "fleet.gop").write_text((workspace / "fleet.gop").read_text(encoding="utf-8") + "\n", encoding="utf-8")
    entry = disk._path("parse", parse_key(disk, "envs.gop", (workspace / "envs.gop").read_text(encoding="utf-8")))
    entry.write_bytes(entry.read_bytes()[:-9])  # a corrupt entry: ignored
    analysis, parsed = _first_analysis(workspace, monkeypatch)
    assert sorted(parsed) == ["apps.gop", "envs.gop", "fleet.gop"]  # removed, corrupt, changed since
    assert _facts(analysis) == _facts(sessions.Session().analyse([str(workspace)]))


def test_the_helper_runs_only_where_it_can_help(workspace: Path, tmp_path: Path, monkeypatch):
    monkeypatch.setattr(parse_ahead, "COMMAND", [sys.executable, "-c", "pass"])
    disk = open_disk_cache()
    monkeypatch.setattr(parse_ahead, "_cores", lambda: 1)
    assert parse_ahead.start(disk) is None  # it would take the server's own core
    monkeypatch.setattr(parse_ahead, "_cores", lambda: 2)
    assert parse_ahead.start(None) is None  # no disk cache to leave the trees in
    helper = parse_ahead.start(disk)
    assert helper is not None and helper.wait(timeout=60) == 0
    parse_ahead.parse_into_cache(".")
    assert parse_ahead.start(disk) is None  # the workspace's first file is there: opened before
    monkeypatch.chdir(tmp_path)  # no .gop file here: no workspace to parse
    assert parse_ahead.start(disk) is None


def test_a_helper_that_cannot_start_or_dies_costs_nothing_but_its_parses(workspace: Path, tmp_path: Path, monkeypatch):
    monkeypatch.setattr(parse_ahead, "_cores", lambda: 2)
    monkeypatch.setattr(parse_ahead, "COMMAND", [str(tmp_path / "no-such-python")])
    assert parse_ahead.start(open_disk_cache()) is None
    monkeypatch.setattr(parse_ahead, "COMMAND", [sys.executable, "-c", "import os; os.abort()"])
    helper = parse_ahead.start(open_disk_cache())
    assert helper.wait(timeout=60) != 0
    parse_ahead.stop(helper)  # a helper that is gone already
    analysis, parsed = _first_analysis(workspace, monkeypatch)
    assert len(parsed) == len(list(workspace.rglob("*.gop"))) + 1
    assert _facts(analysis) == _facts(sessions.Session().analyse([str(workspace)]))


def test_a_helper_still_running_is_stopped(workspace: Path, monkeypatch):
    monkeypatch.setattr(parse_ahead, "_cores", lambda: 2)
    monkeypatch.setattr(parse_ahead, "COMMAND", [sys.executable, "-c", "import time; time.sleep(60)"])
    helper = parse_ahead.start(open_disk_cache())
    parse_ahead.stop(helper)
    assert helper.returncode is not None


def test_the_helper_writes_nothing_on_the_protocols_stream(workspace: Path):
    result = subprocess.run(parse_ahead.COMMAND, capture_output=True, timeout=120)
    assert (result.returncode, result.stdout) == (0, b"")
