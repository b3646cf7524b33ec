"""`gopc fmt [--check|--diff] PATH...`: the formatter on files, as users run it."""

from __future__ import annotations

import shutil
from pathlib import Path

from gop.compiler.cli import main

REPO = Path(__file__).resolve().parent.parent
MESSY = "app   web{\n replicas=3\n    image { repository = \"r\", tag = \"1\" }\n}\n"


def test_examples_and_stdlib_are_formatted():
    assert main(["fmt", "--check", str(REPO / "examples"), str(REPO / "stdlib")]) == 0


def test_check_reports_then_fmt_rewrites_then_check_passes(tmp_path, capsys):
    target = tmp_path / "a.gop"
    target.write_text(MESSY, encoding="utf-8")
    assert main(["fmt", "--check", str(tmp_path)]) == 1
    assert target.read_text(encoding="utf-8") == MESSY  # --check changes nothing
    assert "not formatted" in capsys.readouterr().err
    assert main(["fmt", str(target)]) == 0
    formatted = target.read_text(encoding="utf-8")
    assert formatted.startswith("app web {\n  replicas = 3\n")
    assert main(["fmt", "--check", str(target)]) == 0


def test_diff_prints_a_unified_diff_and_writes_nothing(tmp_path, capsys):
    target = tmp_path / "a.gop"
    target.write_text(MESSY, encoding="utf-8")
    assert main(["fmt", "--diff", str(target)]) == 0
    out = capsys.readouterr().out
    assert out.startswith("---") and "+app web {" in out
    assert target.read_text(encoding="utf-8") == MESSY


def test_a_file_with_syntax_errors_is_reported_and_left_alone(tmp_path, capsys):
    target = tmp_path / "bad.gop"
    target.write_text("app web {\n  replicas =\n}\n", encoding="utf-8")
    assert main(["fmt", str(target)]) == 1
    assert "error[E0102]" in capsys.readouterr().err
    assert target.read_text(encoding="utf-8") == "app web {\n  replicas =\n}\n"


def test_a_missing_path_is_a_usage_error(tmp_path):
    assert main(["fmt", str(tmp_path / "nope.gop")]) == 2


def test_formatting_keeps_the_meaning_of_the_example(tmp_path):
    from gop.compiler.session import analyse
    from gop.compiler.values import plain

    copy = tmp_path / "shop"
    shutil.copytree(REPO / "examples" / "shop", copy)
    for path in copy.rglob("*.gop"):
        path.write_text("\n\n" + path.read_text(encoding="utf-8").replace("\n  ", "\n      "), encoding="utf-8")
    assert main(["fmt", str(copy)]) == 0
    before, after = analyse([REPO / "examples" / "shop"]).fleet, analyse([copy]).fleet
    assert {c: {a: plain(i.values) for a, i in m.instances.items()} for c, m in before.clusters.items()} == \
        {c: {a: plain(i.values) for a, i in m.instances.items()} for c, m in after.clusters.items()}
