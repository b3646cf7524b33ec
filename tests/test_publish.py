"""`gopc publish`, run as users run it, against a real OCI registry on loopback.

- Every app's chart is pushed as `<registry>/<app>:<chart version>`, the version being the one
  the example's OCIRepository pins; `helm template` of the pushed chart with the values a
  cluster's HelmRelease ends up with equals `gopc render` of that app on that cluster.
- No helm, a refused push, a program without a registry, a URL that is not oci://: exit 2
  with one clear line, never a traceback.
"""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
from e2e import canonical, find

import realtools as rt

EXAMPLE = rt.REPO_ROOT / "examples" / "shop"
GOPC = Path(sys.executable).with_name("gopc")
CLUSTER = "prod-eu-1"  # runs every app of the example, with env, overlay and cluster values


def gopc(*args, env: dict[str, str] | None = None) -> subprocess.CompletedProcess:
    done = subprocess.run([str(GOPC), *map(str, args)], capture_output=True, text=True, stdin=subprocess.DEVNULL,
                          env=env or {**rt.tool_env(), "GOPC_HELM": str(rt.helm_bin())}, timeout=300)
    assert "Traceback" not in done.stderr
    return done


@pytest.fixture(scope="module")
def published(oci_registry) -> tuple[str, list[str]]:
    registry = oci_registry.url("charts")
    done = gopc("publish", EXAMPLE, "--registry", registry, "--plain-http")
    assert done.returncode == 0, done.stderr
    return registry, done.stdout.splitlines()


@pytest.fixture(scope="module")
def flux_objects() -> list[dict]:
    return rt.parse_docs(gopc("render", EXAMPLE, "--cluster", CLUSTER, "--include-flux").stdout)


def test_every_chart_is_pushed_with_the_version_flux_pulls(published, flux_objects):
    registry, lines = published
    flux = flux_objects
    sources = {doc["metadata"]["name"]: doc["spec"]["ref"]["tag"] for doc in flux if doc["kind"] == "OCIRepository"}
    assert sorted(sources) == ["cart", "checkout", "recommendations", "web"]
    assert lines == [f"{registry}/{app}:{sources[app]}" for app in sorted(sources)]


@pytest.mark.parametrize("app", ["cart", "checkout", "recommendations", "web"])
def test_the_pushed_chart_renders_what_gopc_render_renders(published, flux_objects, tmp_path, app):
    registry, lines = published
    version = next(line.rsplit(":", 1)[1] for line in lines if line.startswith(f"{registry}/{app}:"))
    release = find(flux_objects, "HelmRelease", app, "shop")
    values = tmp_path / "values.yaml"
    values.write_text(json.dumps(release["spec"]["values"]))
    pulled = rt.helm_template(f"{registry}/{app}", [values], release=app, namespace="shop", version=version,
                              plain_http=True)
    rendered = rt.parse_docs(gopc("render", EXAMPLE, "--cluster", CLUSTER, "--app", app).stdout)
    assert canonical(pulled) == canonical(rendered)
    assert any(doc["kind"] == "Deployment" for doc in pulled)


def test_without_helm_publish_says_so(tmp_path):
    env = {**rt.tool_env(), "PATH": str(tmp_path)}
    env.pop("GOPC_HELM", None)
    done = gopc("publish", EXAMPLE, env=env)
    assert done.returncode == 2
    assert done.stderr.strip().splitlines()[-2:] == [
        "gopc publish: error[E0904]: `helm` not found on PATH; install it or set GOPC_HELM to its path", "1 error"]
    done = gopc("publish", EXAMPLE, env={**env, "GOPC_HELM": str(tmp_path / "no-helm")})
    assert done.returncode == 2 and "GOPC_HELM=" in done.stderr and "is not an executable" in done.stderr


def test_a_refused_push_names_the_chart_and_the_registry():
    closed = f"oci://127.0.0.1:{rt.free_port()}/charts"
    done = gopc("publish", EXAMPLE, "--registry", closed, "--plain-http")
    assert done.returncode == 2 and done.stdout == ""
    (line,) = [line for line in done.stderr.splitlines() if line.startswith("gopc publish:")]
    assert "helm push of chart `cart`" in line and closed in line and "connection refused" in done.stderr


def test_a_registry_must_be_oci(tmp_path):
    done = gopc("publish", EXAMPLE, "--registry", "https://ghcr.io/acme/charts")
    assert done.returncode == 2 and "is not an OCI registry URL" in done.stderr


def test_a_program_that_names_no_registry_needs_one(tmp_path):
    program = tmp_path / "shop"
    shutil.copytree(EXAMPLE, program)
    fleet = (program / "fleet.gop").read_text()
    start, end = fleet.index("/// Charts are pushed"), fleet.index("/// GitHub calls")
    delivery = '/// Charts come from Git.\ndelivery {\n  interval = 5m\n}\n\n'
    (program / "fleet.gop").write_text(fleet[:start] + delivery + fleet[end:])
    assert gopc("check", program).returncode == 0
    done = gopc("publish", program)
    assert done.returncode == 2 and "names no `registry`" in done.stderr and "--registry" in done.stderr
