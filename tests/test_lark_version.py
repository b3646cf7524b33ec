"""Lark is one of the versions the fast loop (compiler/syntax/fastloop.py) is tested with.

The fast loop reads Lark's private parse tables and lexers; a Lark release may change them.
Each version below passed tests/test_parser_loop.py, test_fastloop_fallback.py,
test_parser.py, test_parse_golden.py, test_robustness.py and test_fmt.py, and pyproject.toml
admits exactly the range they span.

To admit a new Lark: install it in a throwaway venv, run those tests against it, add it here
and widen pyproject.toml's bound.
"""

from __future__ import annotations

import tomllib
from pathlib import Path

import lark
from packaging.requirements import Requirement
from packaging.version import Version

TESTED_LARK_VERSIONS = ("1.2.2", "1.3.0", "1.3.1")

PYPROJECT = Path(__file__).resolve().parent.parent / "pyproject.toml"


def lark_requirement() -> Requirement:
    dependencies = tomllib.loads(PYPROJECT.read_text(encoding="utf-8"))["project"]["dependencies"]
    return next(Requirement(d) for d in map(str, dependencies) if Requirement(d).name == "lark")


def test_the_installed_lark_is_one_the_fast_loop_is_tested_with():
    assert lark.__version__ in TESTED_LARK_VERSIONS, (
        f"lark {lark.__version__} is installed, but compiler/syntax/fastloop.py is tested only with "
        f"{', '.join(TESTED_LARK_VERSIONS)}: install one of those, or test this one as "
        "tests/test_lark_version.py describes"
    )


def test_pyproject_admits_exactly_the_tested_range():
    specifier = lark_requirement().specifier
    tested = sorted(map(Version, TESTED_LARK_VERSIONS))
    assert all(specifier.contains(version) for version in tested)
    assert {(s.operator, Version(s.version)) for s in specifier} == {(">=", tested[0]), ("<=", tested[-1])}
