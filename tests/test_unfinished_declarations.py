"""Declarations as an editor holds them while the user types: `gopc check` (and so the language
server) reports what is missing or unfinished, and never fails with an internal error (E0902).

- every declaration kind with an empty body, alone and beside a small complete fleet;
- a field path cut off after its dot (`chart.`): the syntax error only, no made-up field `_`;
- every list or map of records of an app given an empty record (the fleet checks read only what
  was set).
"""

from __future__ import annotations

import tempfile
from pathlib import Path

import pytest

from gop.compiler.diagnostics import codes
from gop.compiler.language import NAMED_KINDS, SINGLETON_KINDS
from gop.compiler.semantic.types import ListType, MapType, RecordType
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


def _record_collections(record: RecordType, path: tuple[str, ...] = (), depth: int = 0):
    """(path, `[{}]`, `{ a = {} }` or `{}`) for every list or map of records under `record`, and every
    record with a required field."""
    for name, field in record.fields.items():
        kind = field.type
        if isinstance(kind, ListType) and isinstance(kind.element, RecordType):
            yield (*path, name), "[{}]"
        elif isinstance(kind, MapType) and isinstance(kind.value, RecordType):
            yield (*path, name), '{ "/a" = {} }' if name == "mounts" else "{ a = {} }"
        elif isinstance(kind, RecordType) and depth < 4:
            if any(not each.optional and not each.has_default for each in kind.fields.values()):
                yield (*path, name), "{}"
            yield from _record_collections(kind, (*path, name), depth + 1)


def _app_record() -> RecordType:
    with tempfile.TemporaryDirectory() as directory:
        (Path(directory) / "main.gop").write_text(FLEET, encoding="utf-8")
        return analyse([directory]).evaluation.fleet.apps["web"].values_type


@pytest.mark.parametrize("path,empty", sorted(_record_collections(_app_record())), ids=lambda v: ".".join(v) if isinstance(v, tuple) else v)
def test_a_record_without_its_required_fields_is_reported_not_a_crash(tmp_path, path, empty):
    """Every list or map of records of an app, given one empty record: what it lacks is E0305, on every
    cluster, and no later check reads the missing fields."""
    text = FLEET + "app other {\n  image { repository = \"ghcr.io/acme/other\", tag = \"1.0\" }\n" \
        f"  {'.'.join(path)} = {empty}\n}}\n"
    diagnostics = _check(tmp_path, text)
    assert codes.INTERNAL_ERROR not in {d.code for d in diagnostics}, [d.message for d in diagnostics]
