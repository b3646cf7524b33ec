"""Package discovery for the `gop` namespace (metadata lives in pyproject.toml).

`gop` has no directory of its own: `gop.compiler` is compiler/, `gop.lsp` is lsp/, `gop.grammar`
is grammar/ and `gop.stdlib` is stdlib/ (see [tool.setuptools] package-dir). This file only lists
every sub-package below those roots, so new sub-packages ship without editing pyproject.toml.
"""

import os

from setuptools import find_namespace_packages, setup

ROOTS = {"gop.compiler": "compiler", "gop.lsp": "lsp", "gop.grammar": "grammar", "gop.stdlib": "stdlib"}
EXCLUDE = ["*__pycache__*", "tests", "tests.*", "*.egg-info"]

packages = []
for name, folder in ROOTS.items():
    if not os.path.isdir(folder):
        continue
    packages.append(name)
    packages += [f"{name}.{sub}" for sub in find_namespace_packages(where=folder, exclude=EXCLUDE)]

setup(packages=packages)
