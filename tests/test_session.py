"""The session owns the caches, and no cache outlives the program it came from.

- `gopc diff` builds each program's overlay plan once (two programs, two plans), however many
  clusters it compares: the plan travels with each program's analysis.
- A render, a build and the check of one analysis share one plan.
- The language server's project keeps one session; after a re-analysis the old analysis, its
  fleet and its lowering caches can be collected (weak references die).
- The session reuses the previous analyses' checked app bodies, and forgets those of a program
  it no longer analyses.
- The collector policy: off while an analysis runs, back on afterwards; a command-line session
  freezes what it built.
- A session of one analysis (the command line's) keeps no memo for a next one, and reports the same.
"""

from __future__ import annotations

import asyncio
import contextlib
import gc
import io
import shutil
import weakref
from pathlib import Path

import pytest

from gop.compiler import session as sessions
from gop.compiler.lower.flux import overlays

EXAMPLE = Path(__file__).resolve().parent.parent / "examples" / "shop"


@pytest.fixture
def plans_built(monkeypatch) -> list:
    """The fleets an overlay plan is built for, one entry per construction."""
    built = []
    real = overlays.overlay_plan

    def counting(fleet):
        built.append(fleet)
        return real(fleet)

    monkeypatch.setattr(overlays, "overlay_plan", counting)
    return built


def test_diff_builds_each_programs_plan_once(plans_built, tmp_path):
    from gop.compiler.commands.diff import run_diff
    from gop.compiler.commands.report import Reporter

    changed = tmp_path / "shop"
    shutil.copytree(EXAMPLE, changed)
    envs = changed / "envs.gop"
    envs.write_text(envs.read_text(encoding="utf-8").replace("replicas = 6", "replicas = 7", 1), encoding="utf-8")
    with contextlib.redirect_stdout(io.StringIO()) as out, contextlib.redirect_stderr(io.StringIO()):
        code = run_diff([str(changed)], Reporter("diff"), against_rev=None, against_build=None, against=[str(EXAMPLE)], clusters=[])
    assert code == 1 and "=== cluster prod-eu-1" in out.getvalue()  # six clusters compared, in turn
    assert len(plans_built) == 2
    assert plans_built[0] is not plans_built[1]


def test_check_build_and_render_of_one_analysis_share_one_plan(plans_built):
    from gop.compiler.lower.repository import cluster_renderer, cluster_text, repository

    analysis = sessions.analyse_and_keep([EXAMPLE])
    files, problems = repository(analysis)
    assert files and not problems
    renderer = cluster_renderer(analysis)
    for cluster in analysis.fleet.clusters:
        assert cluster_text(analysis, cluster, include_flux=True, renderer=renderer)[0]
    assert plans_built == [analysis.fleet]


def _project_analyses(root: Path, rounds: int, between=lambda: None):
    """Analyses of `root` by a language-server project, each after `between()`; yields each
    round's snapshot while the project holds it."""
    from gop.lsp.project import Host, ParseCache, Project

    async def run():
        failures = []
        host = Host(paths=None, buffers_under=lambda _root: [], publish=lambda project, snapshot: None,
                    analysis_failed=lambda project, error: failures.append(error), parses=ParseCache())
        project = Project(root, host)
        snapshots = []
        for _ in range(rounds):
            between()
            project.changed(0)
            snapshot = await project.settled(60)
            assert not failures and snapshot is not None and snapshot.analysis.fleet is not None
            snapshots.append(_weak(snapshot))
        return project, snapshots

    return asyncio.run(run())


def test_the_language_servers_imports_are_not_collected_and_then_frozen():
    from gop.compiler.core.collector import imports_kept

    frozen_before = gc.get_freeze_count()
    try:
        with imports_kept():
            assert not gc.isenabled()
            made = [[index] for index in range(1000)]  # what importing a module makes
        assert gc.isenabled()
        assert gc.get_freeze_count() >= frozen_before + len(made)
        gc.disable()
        with imports_kept():
            pass
        assert not gc.isenabled()  # left as it was
    finally:
        gc.enable()
        gc.unfreeze()


def test_the_language_server_collects_only_once_the_diagnostics_are_out(tmp_path):
    """The young objects an analysis leaves are collected after its diagnostics are published, not
    before (a collection takes tens of milliseconds: it would delay them)."""
    from gop.lsp.project import Host, ParseCache, Project

    root = tmp_path / "shop"
    shutil.copytree(EXAMPLE, root)
    collector_on_at_publish = []

    async def run():
        host = Host(paths=None, buffers_under=lambda _root: [],
                    publish=lambda project, snapshot: collector_on_at_publish.append(gc.isenabled()),
                    analysis_failed=lambda project, error: None, parses=ParseCache())
        project = Project(root, host)
        for _ in range(2):
            project.changed(0)
            await project.settled(60)
        return gc.isenabled()

    assert gc.isenabled()
    assert asyncio.run(run()) is True  # on again once they are out
    assert collector_on_at_publish == [False, False]


def _weak(snapshot) -> dict[str, weakref.ref]:
    analysis = snapshot.analysis
    analysis.lowering.overlay_plan()  # what a render or a code lens would have made
    return {"fleet": weakref.ref(analysis.fleet), "lowering": weakref.ref(analysis.lowering)}


def test_the_language_server_drops_an_old_fleet_after_reanalysis(tmp_path):
    root = tmp_path / "shop"
    shutil.copytree(EXAMPLE, root)
    apps = root / "apps.gop"
    edits = iter(["replicas = 3", "replicas = 4", "replicas = 5"])
    previous = next(edits)

    def edit():
        nonlocal previous
        current = next(edits, None)
        if current is not None and current != previous:
            apps.write_text(apps.read_text(encoding="utf-8").replace(previous, current, 1), encoding="utf-8")
            previous = current

    project, rounds = _project_analyses(root, 3, edit)
    gc.collect()
    for old in rounds[:-1]:
        assert old["fleet"]() is None and old["lowering"]() is None
    assert rounds[-1]["fleet"]() is project.latest.analysis.fleet  # the one it serves from is kept


def test_the_session_reuses_the_previous_analysis_and_forgets_older_ones(tmp_path, monkeypatch):
    from gop.compiler.fleet import evaluate as evaluation

    root = tmp_path / "shop"
    shutil.copytree(EXAMPLE, root)
    session = sessions.Session(parses=sessions.ParseCache())
    checked = []
    real = evaluation._Evaluator._checked_body

    def counting(self, body, *args, **kwargs):
        checked.append(body)
        return real(self, body, *args, **kwargs)

    monkeypatch.setattr(evaluation._Evaluator, "_checked_body", counting)
    first = session.analyse([root])
    apps = len(first.fleet.apps)
    first_round = len(checked)
    assert first_round >= apps
    again = session.analyse([root])  # the same texts: the same trees, every app body reused
    assert [d.code for d in again.diagnostics] == [d.code for d in first.diagnostics]
    assert len(checked) - first_round == first_round - apps
    assert len(session.evaluation_memo.app_checks) == apps
    shutil.rmtree(root)
    (tmp_path / "other").mkdir()
    (tmp_path / "other" / "a.gop").write_text("let a = 1\n", encoding="utf-8")
    for _ in range(sessions.ParseCache.VERSIONS_PER_FILE - 1):
        session.analyse([tmp_path / "other"])
        assert len(session.evaluation_memo.app_checks) == apps  # kept as long as the parse cache keeps the texts
    session.analyse([tmp_path / "other"])
    assert len(session.evaluation_memo.app_checks) == 0  # then nothing of the shop's is kept


def test_the_collector_is_off_during_an_analysis_and_on_after(monkeypatch):
    seen = []
    real = sessions.load

    def load(*args, **kwargs):
        seen.append(gc.isenabled())
        return real(*args, **kwargs)

    monkeypatch.setattr(sessions, "load", load)
    frozen = []
    monkeypatch.setattr(gc, "freeze", lambda: frozen.append(True))
    assert gc.isenabled()
    sessions.analyse([EXAMPLE])
    assert seen == [False] and gc.isenabled() and not frozen
    sessions.analyse_and_keep([EXAMPLE])
    assert seen == [False, False] and gc.isenabled() and frozen == [True]


CHECK_GOLDENS = sorted((Path(__file__).parent / "golden" / "check").glob("*.txtar"))


@pytest.mark.parametrize("path", CHECK_GOLDENS, ids=lambda p: p.stem)
def test_a_single_analysis_session_keeps_no_memo_and_reports_the_same(path: Path, tmp_path, monkeypatch):
    """The command line's sessions analyse once and keep no `EvaluationMemo` (nothing would read
    it); without it, the evaluation and the fleet checks run live and report exactly what a
    session that keeps one reports (the checks' tapes included)."""
    import txtar

    txtar.write_files(txtar.read(path), tmp_path)
    monkeypatch.chdir(tmp_path)
    single = sessions.Session(single_analysis=True)
    reported = [session.analyse(["."]).diagnostics for session in (sessions.Session(), single)]
    assert single.evaluation_memo is None
    assert reported[0] == reported[1]
    assert sessions.command_line_session(cache=False).evaluation_memo is None
