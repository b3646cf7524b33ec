"""The package a user installs: the wheel built offline from this tree with the real pip and setuptools.

- gop.compiler and gop.lsp ship `py.typed` (PEP 561), and the metadata says `Typing :: Typed`.
- The metadata carries the classifiers, keywords and dependencies users check before adopting
  (shtab for `gopc completion`), the console script `gopc`, and no license field (the repository
  has no LICENSE file to name).
- `gop.compiler`'s docstring describes the compiler, not only `gopc_version`.
"""

from __future__ import annotations

import subprocess
import sys
import zipfile
from email.parser import Parser
from pathlib import Path

import pytest

import realtools as rt

@pytest.fixture(scope="module")
def wheel(tmp_path_factory) -> zipfile.ZipFile:
    tree = rt.copy_package_sources(tmp_path_factory.mktemp("tree"))
    out = tmp_path_factory.mktemp("dist")
    done = subprocess.run([sys.executable, "-m", "pip", "wheel", "--no-build-isolation", "--no-deps", "--no-index",
                           "--disable-pip-version-check", "-q", "-w", str(out), str(tree)],
                          capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr
    [built] = out.glob("gopc-*.whl")
    return zipfile.ZipFile(built)


def metadata(wheel: zipfile.ZipFile):
    [name] = [n for n in wheel.namelist() if n.endswith(".dist-info/METADATA")]
    return Parser().parsestr(wheel.read(name).decode("utf-8"))


def test_both_packages_ship_py_typed(wheel):
    names = set(wheel.namelist())
    assert {"gop/compiler/py.typed", "gop/lsp/py.typed"} <= names


def test_metadata_has_classifiers_keywords_and_no_invented_license(wheel):
    meta = metadata(wheel)
    classifiers = meta.get_all("Classifier")
    assert "Typing :: Typed" in classifiers
    assert "Topic :: Software Development :: Compilers" in classifiers
    assert any(c.startswith("Development Status ::") for c in classifiers)
    assert "Programming Language :: Python :: 3.11" in classifiers
    assert "gitops" in meta["Keywords"]
    assert meta["Requires-Python"] == ">=3.11"
    assert any(r.startswith("shtab") for r in meta.get_all("Requires-Dist"))
    # No LICENSE file in the repository: nothing may claim one.
    assert not (rt.REPO_ROOT / "LICENSE").exists()
    assert meta["License"] is None and meta["License-Expression"] is None
    assert not any(c.startswith("License ::") for c in classifiers)


def test_the_console_script_is_gopc(wheel):
    [name] = [n for n in wheel.namelist() if n.endswith(".dist-info/entry_points.txt")]
    assert "gopc = gop.compiler.cli:run" in wheel.read(name).decode("utf-8")


def test_the_compiler_package_says_what_it_is():
    import gop.compiler

    doc = gop.compiler.__doc__
    assert "Flux v2 GitOps repository" in doc and "pipeline" in doc and "py.typed" in doc
