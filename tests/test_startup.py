"""Start-up: `gopc --version` loads nothing but the command line; the version is the package's.

(The time itself is measured by bench/run.py, never here: see bench/README.md.)
"""

from __future__ import annotations

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


def test_the_installed_metadata_has_the_version_the_package_says():
    from importlib.metadata import version

    assert version("gopc") == gop.compiler.VERSION
