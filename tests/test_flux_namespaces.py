"""A namespace set by an env, a selector overlay or a cluster reaches every object on the cluster.

The compiled example, with: env dev moving every app to `dev` (checkout then reads a SOPS file
in `dev`), the cn-ingress overlay moving web to `web-cn`, and prod-eu-1 moving cart to `cart-eu`
(so checkout's dependency on cart names `cart-eu` there). For every cluster, `gopc show`'s
namespace of each app is where its HelmRelease, chart source, rendered objects and Secrets are,
in `gopc render` and in the built tree (kubectl kustomize of clusters/<c> and of each Flux
Kustomization's path, helm template of every HelmRelease); the two agree object for object and
validate (Flux schemas, kubernetes-validate --strict); the Namespaces on a cluster are exactly
its apps'. Both with charts from OCI and from Git with tenant isolation.
"""

from __future__ import annotations

import copy
import json
import shutil
from pathlib import Path

import pytest
from e2e import Written, build_cluster, canonical, kustomize_all, object_id, write_bootstrap_stand_ins

import realtools as rt
from gop.compiler.session import analyse
from test_build import EXAMPLE, gopc, owned_files

MOVES = {  # file -> (text, replacement)
    "envs.gop": ('    replicas = 2\n    image.pullPolicy = "IfNotPresent"',
                 '    replicas = 2\n    namespace = "dev"\n    image.pullPolicy = "IfNotPresent"\n  }\n  app checkout {\n'
                 '    secretEnv.DB_PASSWORD = sops("secrets/checkout-db-dev.enc.yaml", secret = "checkout-db", '
                 'key = "password")'),
    "clusters.gop": ("  app checkout { replicas = 8 }", '  app checkout { replicas = 8 }\n  app cart { namespace = "cart-eu" }'),
}
OVERLAY_MOVE = '\noverlay cn-web where region == "cn-north-1" {\n  app web { namespace = "web-cn" }\n}\n'
TENANT = ('  retries = 3\n', '  retries = 3\n  serviceAccountName = "shop-deployer"\n')
GIT_CHARTS = ('  charts = "oci"\n  registry = charts\n', '  charts = "git"\n')


def edit(path: Path, old: str, new: str) -> None:
    text = path.read_text(encoding="utf-8")
    assert text.count(old) == 1, f"{old!r} in {path}"
    path.write_text(text.replace(old, new), encoding="utf-8")


def write_program(root: Path, variant: str) -> Path:
    program = root / "shop"
    shutil.copytree(EXAMPLE, program)
    for file, (old, new) in MOVES.items():
        edit(program / file, old, new)
    with (program / "envs.gop").open("a", encoding="utf-8") as file:
        file.write(OVERLAY_MOVE)
    secret = (program / "secrets" / "checkout-db.enc.yaml").read_text(encoding="utf-8")
    (program / "secrets" / "checkout-db-dev.enc.yaml").write_text(secret.replace("namespace: shop", "namespace: dev"))
    if variant == "git-tenant":
        edit(program / "fleet.gop", *TENANT)
        edit(program / "fleet.gop", *GIT_CHARTS)
    return program


@pytest.fixture(scope="module", params=["oci", "git-tenant"])
def moved(request, tmp_path_factory):
    root = tmp_path_factory.mktemp(request.param)
    program = write_program(root, request.param)
    analysis = analyse([program])
    assert not analysis.diagnostics, [d.message for d in analysis.diagnostics]
    tree = root / "tree"
    gopc("build", program, "-o", tree)
    files = {path: (tree / path).read_text(encoding="utf-8") for path in owned_files(tree)}
    write_bootstrap_stand_ins(tree, analysis.fleet.clusters)
    written = Written(analysis.fleet, tree, files, kustomize_all(tree, files))
    return program, analysis.fleet, written, root


def shown_namespaces(program: Path, cluster: str) -> dict[str, str]:
    """App -> namespace, as `gopc show --cluster` prints it."""
    shown = json.loads(gopc("show", program, "--cluster", cluster, "--format", "json").stdout)
    return {name: values["namespace"] for name, values in shown["apps"].items()}


EXPECTED = {"dev-us-1": {"cart": "dev", "checkout": "dev", "web": "dev"},
            "prod-eu-1": {"cart": "cart-eu", "checkout": "shop", "recommendations": "shop", "web": "shop"},
            "staging-cn-1": {"cart": "shop", "checkout": "shop", "web": "web-cn"},
            "prod-cn-1": {"cart": "shop", "checkout": "shop", "web": "web-cn"}}


@pytest.mark.parametrize("cluster", sorted(EXPECTED))
def test_every_object_of_an_app_is_in_the_namespace_show_gives(moved, cluster):
    program, fleet, written, root = moved
    assert shown_namespaces(program, cluster) == EXPECTED[cluster]
    (root / f"helm-{cluster}").mkdir(exist_ok=True)
    build = build_cluster(written, cluster, root / f"helm-{cluster}")
    rendered = rt.parse_docs(gopc("render", program, "--cluster", cluster, "--include-flux").stdout)
    assert canonical(build.everything) == canonical(rendered)
    ids = [object_id(doc) for doc in build.everything]
    assert len(ids) == len(set(ids))
    wanted = EXPECTED[cluster]
    namespaces = {doc["metadata"]["name"] for doc in build.everything if doc["kind"] == "Namespace"}
    assert namespaces == set(wanted.values()) | {"shop"}  # the shop's `namespace` declaration: on every cluster
    for doc in build.everything:
        labels = doc["metadata"].get("labels") or {}
        app = labels.get("app.kubernetes.io/instance") or (doc["metadata"]["name"] if doc["kind"] in (
            "HelmRelease", "OCIRepository", "HelmRepository") else None)
        if app in wanted:
            assert doc["metadata"]["namespace"] == wanted[app], (doc["kind"], doc["metadata"])
    secrets = [doc for doc in build.everything if doc["kind"] == "Secret"]
    assert [doc["metadata"]["namespace"] for doc in secrets] == [wanted["checkout"]]
    checkout = next(doc for doc in build.everything if doc["kind"] == "HelmRelease" and doc["metadata"]["name"] == "checkout")
    dependency = {"name": "cart"} if wanted["cart"] == wanted["checkout"] else {"name": "cart", "namespace": wanted["cart"]}
    assert checkout["spec"]["dependsOn"] == [dependency]
    flux = [doc for doc in build.everything if rt.is_flux_doc(doc)]
    assert rt.flux_validate(flux) == len(flux)
    core = [{key: value for key, value in copy.deepcopy(doc).items() if key != "sops"}
            for doc in build.everything if not rt.is_flux_doc(doc)]
    assert rt.kubernetes_validate_strict(core) == len(core)


def test_an_env_namespace_shows_in_the_env_overlay(moved):
    _, _, written, _ = moved
    for app in ("cart", "checkout", "web"):
        releases = [doc for doc in written.build(f"apps/dev/{app}") if doc["kind"] == "HelmRelease"]
        assert [doc["metadata"]["namespace"] for doc in releases] == ["dev"]
    assert {doc["metadata"]["namespace"] for doc in written.build("apps/prod") if doc["kind"] == "HelmRelease"} == {"shop"}


def test_a_sops_file_in_the_apps_namespace_elsewhere_is_e0701_where_it_is_named(tmp_path):
    program = write_program(tmp_path, "oci")
    edit(program / "envs.gop", "checkout-db-dev.enc.yaml", "checkout-db.enc.yaml")
    diagnostics = analyse([program]).diagnostics
    assert [(d.code, Path(d.span.file).name) for d in diagnostics] == [("E0701", "envs.gop")]
    assert "metadata.namespace: dev" in diagnostics[0].message
    text = (program / "envs.gop").read_text()
    assert text[diagnostics[0].span.start:].startswith("secretEnv.DB_PASSWORD")
