"""The package a user installs: the wheel built offline from this tree with the real pip and setuptools.

- gop.compiler and gop.lsp ship `py.typed` (PEP 561), and the metadata says `Typing :: Typed`.
- The metadata carries the classifiers, keywords and dependencies users check before adopting
  (shtab for `gopc completion`), the console script `gopc`, the license (Apache-2.0, as an SPDX
  expression, with the LICENSE file in the wheel) and the project's URLs.
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


def test_metadata_has_classifiers_and_keywords(wheel):
    meta = metadata(wheel)
    classifiers = meta.get_all("Classifier")
    assert "Typing :: Typed" in classifiers
    assert "Topic :: Software Development :: Compilers" in classifiers
    assert any(c.startswith("Development Status ::") for c in classifiers)
    assert "Programming Language :: Python :: 3.11" in classifiers
    assert "gitops" in meta["Keywords"]
    assert meta["Requires-Python"] == ">=3.11"
    assert any(r.startswith("shtab") for r in meta.get_all("Requires-Dist"))


def test_the_license_is_apache_2_and_ships_with_the_wheel(wheel):
    meta = metadata(wheel)
    assert meta["License-Expression"] == "Apache-2.0" and meta.get_all("License-File") == ["LICENSE"]
    assert not any(c.startswith("License ::") for c in meta.get_all("Classifier"))  # PEP 639: the expression says it
    [name] = [n for n in wheel.namelist() if n.endswith(".dist-info/licenses/LICENSE")]
    text = wheel.read(name).decode("utf-8")
    assert text == (rt.REPO_ROOT / "LICENSE").read_text(encoding="utf-8")
    assert "Apache License" in text and "Version 2.0, January 2004" in text


def test_metadata_names_the_project_urls(wheel):
    urls = dict(entry.split(", ", 1) for entry in metadata(wheel).get_all("Project-URL"))
    assert sorted(urls) == ["Changelog", "Documentation", "Homepage", "Issues", "Repository"]
    assert all(url.startswith("https://github.com/gopc/gopc") for url in urls.values())


def test_the_console_script_is_gopc(wheel):
    [name] = [n for n in wheel.namelist() if n.endswith(".dist-info/entry_points.txt")]
    assert "gopc = gop.compiler.cli:run" in wheel.read(name).decode("utf-8")


def test_the_compiler_package_says_what_it_is():
    import gop.compiler

    doc = gop.compiler.__doc__
    assert "Flux v2 GitOps repository" in doc and "pipeline" in doc and "py.typed" in doc
