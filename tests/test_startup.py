"""Start-up: `gopc --version` loads nothing but the command line; the version is the package's;
a `gopc check` of a 1-app program loads only what its path needs (a replay of its run memo: no
analysis, no diagnostics, not even `dataclasses`; a run whose parses are cached: no Lark; a
check in text: never pydantic).

(The time itself is measured by bench/targets.py, never here: see bench/README.md.)
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

import gop.compiler
from gop.compiler import cli

GOPC = Path(sys.executable).with_name("gopc")


def test_version_is_printed_without_loading_the_compiler():
    probe = ("import sys; from gop.compiler import cli; code = cli.main(['--version']); "
             "print(code, sorted(m for m in sys.modules if m.startswith('gop.') and m not in "
             "('gop.compiler', 'gop.compiler.cli', 'gop.compiler.commands', 'gop.compiler.core', 'gop.compiler.core.collector')))")
    done = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, timeout=60, check=True)
    assert done.stdout == f"gopc {gop.compiler.VERSION}\n0 []\n"


def test_the_executable_and_argparse_print_the_same_version(capsys):
    done = subprocess.run([str(GOPC), "--version"], capture_output=True, text=True, timeout=60, check=True)
    assert done.stdout == f"gopc {gop.compiler.VERSION}\n"
    with pytest.raises(SystemExit) as exit:  # the parser's own --version, in any other position
        cli._build_parser().parse_args(["--version", "check"])
    assert exit.value.code == 0 and capsys.readouterr().out == done.stdout


# Run as the executable runs; prints the modules loaded, one a line, after the run's exit code.
IMPORTS = ("import sys\nfrom gop.compiler import cli\ncode = cli.main(sys.argv[1:])\nsys.stderr.flush()\n"
           "print(code)\nprint('\\n'.join(sorted(sys.modules)))\n")
NEVER_ON_A_REPLAY = ("gop.compiler.session", "gop.compiler.semantic", "gop.compiler.syntax.ast", "gop.compiler.fleet",
                     "gop.compiler.lower", "gop.compiler.emit.tree", "gop.compiler.diagnostics", "lark", "ruamel",
                     "pydantic", "dataclasses", "typing", "json", "importlib.resources")


def loaded(*args, cache: Path) -> tuple[int, set[str]]:
    env = dict(os.environ, XDG_CACHE_HOME=str(cache))
    done = subprocess.run([sys.executable, "-c", IMPORTS, *map(str, args)], capture_output=True, text=True,
                          env=env, stdin=subprocess.DEVNULL, timeout=300)
    assert "Traceback" not in done.stderr, done.stderr
    code, *modules = done.stdout.splitlines()
    return int(code), set(modules)


def under(modules: set[str], package: str) -> list[str]:
    return sorted(m for m in modules if m == package or m.startswith(package + "."))


@pytest.fixture
def starter(tmp_path) -> Path:
    program = tmp_path / "starter"
    assert cli.main(["init", str(program), "-q"]) == 0
    return program


def test_a_replayed_check_of_one_app_loads_no_analysis(starter, tmp_path):
    cache = tmp_path / "cache"
    code, first = loaded("check", starter, cache=cache)
    assert code == 0 and "gop.compiler.session" in first  # the first run analyses (and checks what it should)
    code, replayed = loaded("check", starter, cache=cache)
    assert code == 0
    assert [m for package in NEVER_ON_A_REPLAY for m in under(replayed, package)] == []


def test_a_check_whose_parses_are_cached_loads_no_lark(starter, tmp_path):
    cache = tmp_path / "cache"
    assert loaded("check", starter, cache=cache)[0] == 0
    code, modules = loaded("check", starter / "apps.gop", cache=cache)  # another run memo, the same parses
    assert code == 0 and "gop.compiler.session" in modules
    assert under(modules, "lark") == [] and under(modules, "pydantic") == [] and under(modules, "ruamel") == []


def test_a_check_after_an_edit_loads_lark_but_no_pydantic(starter, tmp_path):
    cache = tmp_path / "cache"
    assert loaded("check", starter, cache=cache)[0] == 0
    apps = starter / "apps.gop"
    apps.write_text(apps.read_text(encoding="utf-8").replace('"/healthz"', '"/health"'), encoding="utf-8")
    code, modules = loaded("check", starter, cache=cache)
    assert code == 0 and "lark" in modules  # the edited file is parsed
    assert under(modules, "pydantic") == []  # the JSON reports' models are not needed for text
    assert under(modules, "ruamel") == []  # read only for YAML files, lock files, charts, and to write YAML


def test_the_installed_metadata_has_the_version_the_package_says():
    from importlib.metadata import version

    assert version("gopc") == gop.compiler.VERSION
