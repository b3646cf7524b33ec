"""Declarations as an editor holds them while the user types: `gopc check` (and so the language
server) reports what is missing or unfinished, and never fails with an internal error (E0902).

- every declaration kind with an empty body, alone and beside a small complete fleet;
- a field path cut off after its dot (`chart.`): the syntax error only, no made-up field `_`.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from gop.compiler.diagnostics import codes
from gop.compiler.language import NAMED_KINDS, SINGLETON_KINDS
from gop.compiler.session import analyse

FLEET = """\
labels { environment: string }
source flux-system { url = "https://github.com/acme/fleet" }
env prod where environment == "prod" {}
cluster prod-eu {
  labels { environment = "prod" }
}
app web {
  image = { repository = "ghcr.io/acme/web", tag = "1.0.0" }
}
"""


def _empty(kind: str) -> str:
    return f"{kind} {{}}\n" if kind in SINGLETON_KINDS else f"{kind} x {{}}\n"


def _check(tmp_path: Path, text: str) -> list:
    (tmp_path / "main.gop").write_text(text, encoding="utf-8")
    return analyse([tmp_path]).diagnostics


@pytest.mark.parametrize("kind", NAMED_KINDS + SINGLETON_KINDS)
@pytest.mark.parametrize("beside", ["alone", "fleet"])
def test_an_empty_declaration_is_reported_not_a_crash(tmp_path, kind, beside):
    text = _empty(kind) + (FLEET if beside == "fleet" and kind != "app" else "")
    diagnostics = _check(tmp_path, text)
    assert codes.INTERNAL_ERROR not in {d.code for d in diagnostics}, [d.message for d in diagnostics]


def test_a_release_without_its_chart_says_so(tmp_path):
    diagnostics = _check(tmp_path, FLEET + "release podinfo {\n  values { a = 1 }\n}\n")
    assert [(d.code, d.message) for d in diagnostics] == [
        (codes.MISSING_FIELD, "release `podinfo` does not set the required field `chart`")]


@pytest.mark.parametrize("kind", ["app", "release", "namespace", "cluster"])
def test_a_path_cut_after_its_dot_is_one_syntax_error(tmp_path, kind):
    diagnostics = _check(tmp_path, FLEET.replace("app web", "app other") + f"{kind} x {{\n  chart.\n}}\n")
    found = [d for d in diagnostics if d.span and d.span.file.endswith("main.gop")
             and d.span.start == len(FLEET.replace("app web", "app other")) + len(f"{kind} x {{\n  chart.")]
    assert [d.code for d in found] == [codes.UNEXPECTED_TOKEN], [(d.code, d.message) for d in found]
