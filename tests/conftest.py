"""Shared pytest fixtures. Helpers for the real tools live in tests/realtools.py.

Fixtures:
  helm, kubectl     paths of .tools/bin/helm and .tools/bin/kubectl (error, not skip, if missing)
  oci_registry      session-wide OCI registry (Debian docker-registry): an `OciRegistry`,
                    `.host` is "127.0.0.1:PORT", `.url("charts")` is "oci://127.0.0.1:PORT/charts"
  repo_root         the repository root (Path)
"""

from __future__ import annotations

import os
import shutil
from pathlib import Path

import pytest
from hypothesis import HealthCheck, settings

import realtools

# ---------------------------------------------------------------- hypothesis profiles
# CI: no per-example deadline (2 shared cores make timings noisy), derandomized for stable runs.
settings.register_profile("ci", deadline=None, derandomize=True, print_blob=True,
                          suppress_health_check=[HealthCheck.too_slow])
settings.register_profile("dev", deadline=None)
settings.load_profile(os.environ.get("HYPOTHESIS_PROFILE") or ("ci" if os.environ.get("CI") else "dev"))

# A build server the developer runs (`gopc serve`) must not serve the suite's builds: an in-process
# build would bypass what a test patched. tests/test_serve.py starts its own, for its own cache.
os.environ["GOPC_NO_SERVER"] = "1"


# ---------------------------------------------------------------- fixtures
@pytest.fixture(scope="session")
def repo_root() -> Path:
    return realtools.REPO_ROOT


@pytest.fixture
def shop(tmp_path: Path) -> Path:
    """A writable copy of examples/shop (modules that need another shape define their own `shop`)."""
    root = tmp_path / "shop"
    shutil.copytree(realtools.REPO_ROOT / "examples" / "shop", root)
    return root


@pytest.fixture(scope="session")
def helm() -> Path:
    return realtools.helm_bin()


@pytest.fixture(scope="session")
def kubectl() -> Path:
    return realtools.kubectl_bin()


@pytest.fixture(scope="session")
def oci_registry(tmp_path_factory: pytest.TempPathFactory):
    """A real OCI registry on 127.0.0.1 for the whole session (one per xdist worker)."""
    reg = realtools.start_oci_registry(tmp_path_factory.mktemp("oci-registry"))
    try:
        yield reg
    finally:
        reg.stop()
