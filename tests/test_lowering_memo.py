"""A session that analyses again lowers through its `LoweringMemo` (`lower.memo`): after each edit
its build's files are exactly those of a fresh `--no-cache` analysis, under another PYTHONHASHSEED;
what the edit left unchanged is neither made again nor read from the disk cache; an unchanged app
keeps its evaluated objects (base values, values type, instances) across analyses, by which the memo
finds them, and its keys kustomize cannot carry (`gopc check`'s lowering checks); a command-line
session keeps no memo; the collector policy of a session that builds again.
"""

from __future__ import annotations

import gc
import json
import subprocess
import sys
import weakref
from pathlib import Path

import pytest

import realtools as rt
from gop.compiler.core.collector import FULL_COLLECTION_EVERY as FULL_EVERY
from gop.compiler.lower.flux.caches import LoweringCaches
from gop.compiler.lower.flux.treestore import group_of
from gop.compiler.lower.repository import repository
from gop.compiler.session import ParseCache, Session, command_line_session
from test_runmemo import copy_example, edit

sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "bench"))
from fleetgen import generate  # noqa: E402

# Each build of a program after each edit, as the digest of its files and of its manifest notes,
# with how many charts, app groups' Flux files and fleet entries were made: in one session
# ("session", with the disk cache when "disk") or each in a new command-line session without cache
# ("fresh").
BUILDS = """
import hashlib, json, os, sys
from pathlib import Path
from gop.compiler.core.diskcache import open_disk_cache
from gop.compiler.lower import chartstore
from gop.compiler.lower.flux import tree
from gop.compiler.lower.repository import build_notes, repository
from gop.compiler.session import ParseCache, Session, command_line_session

program, mode, edits = Path(sys.argv[1]), sys.argv[2], json.loads(sys.argv[3])
made = {"charts": 0, "groups": 0, "fleet": 0}
def counted(what, function):
    def call(*args, **kwargs):
        made[what] += 1
        return function(*args, **kwargs)
    return call
chartstore.chart_files = counted("charts", chartstore.chart_files)
tree._apps_files = counted("groups", tree._apps_files)
tree.fleet_files = counted("fleet", tree.fleet_files)
disk = open_disk_cache() if mode == "session+disk" else None
session = Session(parses=ParseCache(disk=disk), disk=disk)
builds = []
for step in [None, *edits]:
    if step is not None:
        file, old, new = step
        path = program / file
        if old is None:  # moved to `new`
            path.rename(program / new)
        else:
            text = path.read_text(encoding="utf-8")
            assert old in text, (file, old)
            path.write_text(text.replace(old, new, 1), encoding="utf-8")
    for what in made:
        made[what] = 0
    analysis = (command_line_session(cache=False) if mode == "fresh" else session).analyse([program])
    files, diagnostics = repository(analysis, encoded=True)
    assert not diagnostics, diagnostics
    digest = hashlib.sha256(json.dumps(build_notes(analysis), sort_keys=True).encode())
    for path, data in files.items():
        digest.update(path.encode() + b"\\0" + data + b"\\0")
    builds.append([digest.hexdigest(), len(files), dict(made)])
print(json.dumps(builds))
"""

# (what, file, old, new): each kind of file read by an edit of some app field (charts, app groups,
# the fleet entry), edits undone (the memo's older rounds), a field every kind reads, and a file
# moved (old None; new: where to), which changes the headers but no text.
EDITS = [
    ("an app's replicas", "apps/app0003.gop", "replicas = 1", "replicas = 3"),
    ("undone", "apps/app0003.gop", "replicas = 3", "replicas = 1"),
    ("done again", "apps/app0003.gop", "replicas = 1", "replicas = 3"),
    ("an env layer", "envs.gop", "replicas = 2\n", "replicas = 5\n"),
    ("an env layer's image (the fleet's files read it)", "envs.gop", 'image.pullPolicy = "Always"',
     'image.pullPolicy = "IfNotPresent"'),
    ("a cluster's labels", "clusters.gop", 'region = "us-east-1", tier = "gold"', 'region = "us-east-1"'),
    ("a lib value many apps read", "lib/types.gop", 'let domain = "example.com"', 'let domain = "example.org"'),
    ("a dependency", "apps/app0009.gop", "dependsOn = [app0008]", "dependsOn = [app0007]"),
    ("an app's doc comment", "apps/app0002.gop", "/// Service number 2.", "/// Service number two."),
    ("an app's namespace (every kind of file reads it)", "apps/app0004.gop", 'namespace = "team04"',
     'namespace = "team99"'),
    ("an app's values", "apps/app0005.gop", "capacity = 105", "capacity = 106"),
    ("undone", "apps/app0005.gop", "capacity = 106", "capacity = 105"),
    ("an app moved to another file (its files' headers name it)", "apps/app0006.gop", None, "apps/moved.gop"),
]


def builds(program: Path, mode: str, seed: str, cache: Path) -> list[list]:
    done = subprocess.run([sys.executable, "-c", BUILDS, str(program), mode, json.dumps([edit[1:] for edit in EDITS])],
                          capture_output=True, text=True, timeout=600, stdin=subprocess.DEVNULL,
                          env=rt.tool_env() | {"PYTHONHASHSEED": seed, "XDG_CACHE_HOME": str(cache)})
    assert done.returncode == 0, done.stderr
    return json.loads(done.stdout)


@pytest.mark.parametrize("mode", ["session", "session+disk"])
def test_a_session_builds_after_each_edit_what_a_fresh_analysis_without_cache_builds(mode, tmp_path):
    for name in ("memo", "fresh"):
        generate(tmp_path / name, 12, 3, 6)
    memo = builds(tmp_path / "memo", mode, "1", tmp_path / "cache")
    fresh = builds(tmp_path / "fresh", "fresh", "2", tmp_path / "none")
    assert len(memo) == len(fresh) == len(EDITS) + 1
    for (what, *_), (digest, count, _), (expected, expected_count, _) in zip([("first build",), *EDITS], memo, fresh):
        assert (digest, count) == (expected, expected_count), what
    assert all(made == {"charts": 12, "groups": made["groups"], "fleet": 1} for *_, made in fresh)
    # An app's replicas make its chart and its group's files again, no more; undone and done again,
    # nothing: the builds two and one analyses before made them (with "session", the memo alone).
    assert [made for *_, made in memo[1:4]] == [{"charts": 1, "groups": 1, "fleet": 0}] + [
        {"charts": 0, "groups": 0, "fleet": 0}] * 2


def test_an_unchanged_app_keeps_its_evaluated_objects_and_lowers_from_the_memo(tmp_path):
    program = tmp_path / "fleet"
    generate(program, 6, 2, 4)
    session = Session(parses=ParseCache())
    before = session.analyse([program])
    charts = dict(repository(before, encoded=True)[0])
    edit(program / "apps" / "app0003.gop", "replicas = 1", "replicas = 2")
    after = session.analyse([program])
    assert after.lowering.memo is before.lowering.memo is session.lowering_memo
    for name, app in after.fleet.apps.items():
        old = before.fleet.apps[name]
        same = [app.base is old.base, app.values_type is old.values_type, app.features is old.features]
        assert same == [name != "app0003"] * 3, name
    kept = [instance for cluster in after.fleet.clusters.values() for name, instance in cluster.instances.items()
            if name != "app0003" and instance is before.fleet.clusters[cluster.name].instances[name]]
    assert kept and len(kept) == sum(len(cluster.instances) - ("app0003" in cluster.instances)
                                     for cluster in after.fleet.clusters.values())
    files = dict(repository(after, encoded=True)[0])
    changed = {path for path in files if files[path] is not charts.get(path)}
    assert any(path.startswith("charts/app0003/") for path in changed)
    # The bytes of the charts and Flux files of the apps of other groups are the first build's very objects.
    others = [name for name in after.fleet.apps if group_of(name) != group_of("app0003")]
    assert others and not any(path.startswith((f"charts/{name}/", f"apps/base/{name}/"))
                              for path in changed for name in others)


def test_a_session_reports_the_keys_kustomize_cannot_carry_as_a_fresh_analysis_does(tmp_path):
    """Each instance's overlong keys are kept by the instance (`LoweringMemo.overlong`): a key
    brought in, taken out and brought in again is reported exactly when a fresh analysis reports it."""
    program = copy_example("shop", tmp_path)
    envs = program / "envs.gop"
    plain = envs.read_text(encoding="utf-8")
    key = "flag-" + "x" * 1100
    long = plain.replace('values.logLevel = "debug"', f'values.logLevel = "debug"\n    values.features {{ "{key}" = true }}')
    session = Session(parses=ParseCache())
    for text in (plain, long, plain, long):
        envs.write_text(text, encoding="utf-8")
        found = [(d.code, d.span, d.message) for d in session.analyse([program]).diagnostics]
        fresh = command_line_session(cache=False).analyse([program]).diagnostics
        assert found == [(d.code, d.span, d.message) for d in fresh]
        assert [code for code, *_ in found].count("E0703") == (text is long)


def test_a_command_line_session_keeps_no_lowering_memo():
    assert command_line_session(cache=False).lowering_memo is None
    assert Session(single_analysis=True).lowering_memo is None
    own = LoweringCaches(analyse_shop().fleet).memo
    assert own.files is None and own.written is None  # its digests only: a command-line build holds no charts


def analyse_shop():
    return command_line_session(cache=False).analyse([rt.REPO_ROOT / "examples" / "shop"])


def test_settle_freezes_what_a_build_left_and_finds_cycles_in_a_full_collection():
    class Cycle:
        pass

    session = Session()
    was_enabled = gc.isenabled()
    gc.disable()
    try:
        cycle = Cycle()
        cycle.self = cycle
        session.settle()
        assert gc.get_freeze_count() > 0
        found = []
        ref = weakref.ref(cycle, lambda _: found.append(True))
        del cycle
        for _ in range(FULL_EVERY - 2):
            session.settle()
        assert ref() is not None  # frozen: no collection scans it
        session.settle()  # the full one
        assert ref() is None and found
    finally:
        gc.unfreeze()
        if was_enabled:
            gc.enable()
