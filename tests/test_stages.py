"""Delivery stages end to end, with the real tools.

PROGRAM declares three stages (infra-controllers -> infra-configs -> apps) and runs apps in two
of them; an env moves one app to another stage on its clusters, and a selector overlay patches
apps in both stages. `gopc build` writes it; then:
- every stage is a Flux Kustomization per cluster (clusters/<c>/<stage>.yaml, listed by the
  cluster's kustomization.yaml) with the stage's settings, the `delivery` defaults and the right
  dependsOn chain; every Flux object passes the Flux schemas;
- `kubectl kustomize` builds every stage's path; each app is applied by its stage and a namespace
  by the earliest stage of its apps; built as kustomize-controller builds it, each cluster equals
  `render_cluster(include_flux=True)`;
- the tree is byte-identical under two PYTHONHASHSEEDs;
- under tenant isolation a stage impersonates the tenant only when it applies apps alone.
"""

from __future__ import annotations

import hashlib
import json
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
import yaml
from e2e import Written, build_cluster, canonical, kustomize_all, write_bootstrap_stand_ins
from fleet_fixtures import CHECKOUT_DB_SOPS

import realtools as rt
from gop.compiler.fleet.stages import stage_names, stage_of
from gop.compiler.lower.flux import plan, render_cluster, repository_files
from gop.compiler.lower.flux.caches import LoweringCaches
from gop.compiler.session import analyse

GOPC = Path(sys.executable).with_name("gopc")
STAGES = ("infra-controllers", "infra-configs", "apps")

PROGRAM = '''package demo

labels { environment: "staging" | "prod", region: string }

source flux-system { url = "https://github.com/acme/fleet" }

delivery { interval = 5m, timeout = 3m }

/// Controllers first: only the ingress controller must be ready.
stage infra-controllers {
  interval = 1h
  timeout = 10m
  healthChecks = [{ apiVersion = "apps/v1", kind = "Deployment", name = "ingress", namespace = "edge" }]
}
stage infra-configs { dependsOn = [infra-controllers], prune = false }
stage apps { dependsOn = [infra-configs], retryInterval = 2m }

app ingress {
  image { repository = "ghcr.io/acme/ingress", tag = "1.0.0" }
  namespace = "edge"
  delivery { stage = infra-controllers }
}
app metrics {
  image { repository = "ghcr.io/acme/metrics", tag = "2.0.0" }
  namespace = "shop"
  delivery.stage = infra-controllers
  secretEnv { DB_PASSWORD = sops("secrets/db.enc.yaml", secret = "checkout-db", key = "password") }
}
app web {
  image { repository = "ghcr.io/acme/web", tag = "3.0.0" }
  namespace = "shop"
  delivery.dependsOn = [ingress]
  secretEnv { DB_PASSWORD = sops("secrets/db.enc.yaml", secret = "checkout-db", key = "password") }
}
app api {
  image { repository = "ghcr.io/acme/api", tag = "4.0.0" }
  namespace = "shop"
}

env staging where environment == "staging" {
  app api { delivery.stage = infra-controllers }
}
env prod where environment == "prod" {}

overlay eu where region == "eu" {
  all { replicas = 3 }
  app web { replicas = 4 }
}

cluster staging-eu { labels { environment = "staging", region = "eu" } }
cluster prod-eu { labels { environment = "prod", region = "eu" } }
cluster prod-us { labels { environment = "prod", region = "us" } }
'''
CLUSTERS = ("prod-eu", "prod-us", "staging-eu")


def gopc(*args, seed: str = "0") -> None:
    done = subprocess.run([str(GOPC), *map(str, args)], capture_output=True, text=True,
                          env={**rt.tool_env(), "PYTHONHASHSEED": seed}, stdin=subprocess.DEVNULL, timeout=300)
    assert done.returncode == 0 and "Traceback" not in done.stderr, done.stderr


@pytest.fixture(scope="module")
def program(tmp_path_factory) -> Path:
    root = tmp_path_factory.mktemp("stages") / "program"
    root.mkdir()
    (root / "main.gop").write_text(PROGRAM, encoding="utf-8")
    (root / "secrets").mkdir()
    (root / "secrets" / "db.enc.yaml").write_text(CHECKOUT_DB_SOPS, encoding="utf-8")
    return root


@pytest.fixture(scope="module")
def fleet(program):
    analysis = analyse([program])
    assert [d.message for d in analysis.diagnostics] == []
    return analysis.fleet


@pytest.fixture(scope="module")
def built(program, fleet, tmp_path_factory) -> Written:
    tree = tmp_path_factory.mktemp("build") / "tree"
    gopc("build", program, "-o", tree)
    files = {path.relative_to(tree).as_posix(): path.read_text(encoding="utf-8")
             for path in sorted(tree.rglob("*")) if path.is_file() and not path.name.startswith(".")}
    write_bootstrap_stand_ins(tree, CLUSTERS)
    return Written(fleet, tree, files, kustomize_all(tree, files))


def test_stages_run_in_declared_order_and_objects_find_theirs(fleet):
    assert stage_names(fleet) == STAGES
    on = {cluster: {name: stage_of(fleet, "app", instance.values) for name, instance in model.instances.items()}
          for cluster, model in fleet.clusters.items()}
    assert on["prod-eu"] == {"api": "apps", "ingress": "infra-controllers", "metrics": "infra-controllers", "web": "apps"}
    assert on["staging-eu"]["api"] == "infra-controllers"
    assert stage_of(fleet, "namespace", None, ["apps", "infra-configs"]) == "infra-configs"


def test_each_stage_is_a_flux_kustomization_per_cluster(built):
    for cluster in CLUSTERS:
        root = yaml.safe_load(built.files[f"clusters/{cluster}/kustomization.yaml"])
        assert [f"{stage}.yaml" for stage in STAGES] == [name for name in root["resources"] if name.removesuffix(".yaml") in STAGES]
        assert f"clusters/{cluster}/infrastructure.yaml" not in built.files
        specs = {stage: yaml.safe_load(built.files[f"clusters/{cluster}/{stage}.yaml"])["spec"] for stage in STAGES}
        assert {stage: [d["name"] for d in spec.get("dependsOn", [])] for stage, spec in specs.items()} == {
            "infra-controllers": [], "infra-configs": ["infra-controllers"], "apps": ["infra-configs"]}
        assert {stage: spec["path"] for stage, spec in specs.items()} == {stage: f"./clusters/{cluster}/{stage}" for stage in STAGES}
        assert {stage: (spec["interval"], spec["retryInterval"], spec["timeout"], spec["prune"], spec["wait"])
                for stage, spec in specs.items()} == {
            "infra-controllers": ("1h", "1m", "10m", True, False),  # health checks instead of waiting for all
            "infra-configs": ("5m", "1m", "3m", False, True),
            "apps": ("5m", "2m", "3m", True, True)}
        # the Secret both stages' apps read is applied (and decrypted) by the earlier one
        assert {stage: "decryption" in spec for stage, spec in specs.items()} == {
            "infra-controllers": True, "infra-configs": False, "apps": False}
        assert specs["infra-controllers"]["healthChecks"] == [
            {"apiVersion": "apps/v1", "kind": "Deployment", "name": "ingress", "namespace": "edge"}]
        assert all("healthChecks" not in specs[stage] for stage in STAGES[1:])
    flux = [yaml.safe_load(text) for path, text in built.files.items()
            if path.startswith("clusters/") and Path(path).stem in STAGES and path.endswith(".yaml") and "/" + Path(path).stem + "/" not in path]
    assert len(flux) == len(STAGES) * len(CLUSTERS)
    assert rt.flux_validate(flux) == len(flux)


def test_every_stage_path_builds_with_its_apps_and_namespaces(built):
    applied = {(cluster, stage): sorted((doc["kind"], doc["metadata"]["name"]) for doc in built.build(f"clusters/{cluster}/{stage}"))
               for cluster in CLUSTERS for stage in STAGES}
    assert applied["prod-eu", "infra-controllers"] == [
        ("HelmRelease", "ingress"), ("HelmRelease", "metrics"), ("Namespace", "edge"), ("Namespace", "shop"),
        ("Secret", "checkout-db")]
    assert applied["prod-eu", "infra-configs"] == []
    assert applied["prod-eu", "apps"] == [("HelmRelease", "api"), ("HelmRelease", "web")]
    assert applied["staging-eu", "infra-controllers"] == [
        ("HelmRelease", "api"), ("HelmRelease", "ingress"), ("HelmRelease", "metrics"), ("Namespace", "edge"),
        ("Namespace", "shop"), ("Secret", "checkout-db")]
    assert applied["staging-eu", "apps"] == [("HelmRelease", "web")]


def test_overlay_components_reach_the_apps_of_every_stage(built):
    replicas = {stage: {doc["metadata"]["name"]: doc["spec"]["values"]["replicas"]
                        for doc in built.build(f"clusters/prod-eu/{stage}") if doc["kind"] == "HelmRelease"}
                for stage in ("infra-controllers", "apps")}
    assert replicas == {"infra-controllers": {"ingress": 3, "metrics": 3}, "apps": {"api": 3, "web": 4}}


@pytest.mark.parametrize("cluster", CLUSTERS)
def test_cluster_build_equals_render_and_validates(built, fleet, cluster, tmp_path):
    build = build_cluster(built, cluster, tmp_path)
    assert set(build.layers) == set(STAGES)
    assert canonical(build.everything) == canonical(render_cluster(fleet, cluster, include_flux=True))
    flux = [doc for doc in build.everything if rt.is_flux_doc(doc)]
    assert rt.flux_validate(flux) == len(flux)
    # kustomize-controller decrypts and drops the SOPS metadata
    core = [{key: value for key, value in doc.items() if key != "sops"} for doc in build.everything if not rt.is_flux_doc(doc)]
    assert rt.kubernetes_validate_strict(core) == len(core)


def test_output_is_byte_identical_under_two_hash_seeds(program, tmp_path):
    digests = []
    for seed in ("1", "4242"):
        out = tmp_path / seed
        gopc("build", program, "-o", out, seed=seed)
        digests.append(json.dumps({path.relative_to(out).as_posix(): hashlib.sha256(path.read_bytes()).hexdigest()
                                   for path in sorted(out.rglob("*")) if path.is_file()}))
    assert digests[0] == digests[1]


def test_under_tenant_isolation_only_stages_of_apps_alone_impersonate(program, tmp_path):
    tenant = tmp_path / "tenant"
    shutil.copytree(program, tenant)
    main = tenant / "main.gop"
    main.write_text(main.read_text().replace("delivery { interval = 5m, timeout = 3m }",
                                             'delivery { interval = 5m, timeout = 3m, serviceAccountName = "tenant" }'))
    analysis = analyse([tenant])
    assert [d.message for d in analysis.diagnostics] == []
    files = repository_files(analysis.fleet)
    specs = {stage: yaml.safe_load(files[f"clusters/prod-eu/{stage}.yaml"])["spec"] for stage in STAGES}
    # infra-controllers creates the namespaces and the tenant's account: Flux's own rights
    assert {stage: (spec.get("serviceAccountName"), spec.get("targetNamespace")) for stage, spec in specs.items()} == {
        "infra-controllers": (None, None), "infra-configs": ("tenant", None), "apps": ("tenant", "shop")}
    assert "../../../infrastructure/tenant" in yaml.safe_load(files["clusters/prod-eu/infra-controllers/kustomization.yaml"])["resources"]


def test_releases_and_resources_go_to_their_stage_or_infrastructure(tmp_path):
    (tmp_path / "main.gop").write_text('''package demo
source flux-system { url = "https://github.com/acme/fleet" }
stage infrastructure {}
stage infra-configs { dependsOn = [infrastructure] }
stage apps { dependsOn = [infra-configs] }
release podinfo {
  chart { repository = "https://stefanprodan.github.io/podinfo", name = "podinfo", version = "6.x" }
}
resource quota {
  apiVersion = "v1"
  kind = "ResourceQuota"
  namespace = "podinfo"
  stage = infra-configs
  spec { hard { cpu = "4" } }
}
env prod where environment == "prod" {}
cluster p1 { labels { environment = "prod" } }
''', encoding="utf-8")
    analysis = analyse([tmp_path])
    assert not [d for d in analysis.diagnostics if d.code.startswith("E084")]
    placed = {stage.name: (stage.releases, stage.resources, stage.needs_flux_rights())
              for stage in plan.cluster_stages(analysis.fleet, "p1", LoweringCaches(analysis.fleet))}
    assert placed == {"infrastructure": (["podinfo"], [], True), "infra-configs": ([], ["quota"], True),
                      "apps": ([], [], False)}


def test_in_a_stage_that_also_applies_releases_the_overlays_patch_only_the_apps(tmp_path):
    program = tmp_path / "program"
    program.mkdir()
    (program / "main.gop").write_text('''package demo
source flux-system { url = "https://github.com/acme/fleet" }
stage infrastructure {}
stage apps { dependsOn = [infrastructure] }
release podinfo {
  chart { repository = "https://stefanprodan.github.io/podinfo", name = "podinfo", version = "6.x" }
}
app ingress {
  image { repository = "ghcr.io/acme/ingress", tag = "1.0.0" }
  delivery.stage = infrastructure
}
app web {
  image { repository = "ghcr.io/acme/web", tag = "1.0.0" }
}
env prod where environment == "prod" {}
overlay big where size == "big" {
  all { replicas = 3 }
}
cluster p1 { labels { environment = "prod", size = "big" } }
''', encoding="utf-8")
    analysis = analyse([program])
    assert not [d for d in analysis.diagnostics if d.code.startswith("E084")]
    files = repository_files(analysis.fleet)
    tree = tmp_path / "tree"
    for path, text in files.items():
        (tree / path).parent.mkdir(parents=True, exist_ok=True)
        (tree / path).write_text(text, encoding="utf-8")
    stage = yaml.safe_load(files["clusters/p1/infrastructure/kustomization.yaml"])
    assert "components" not in stage and "apps" in stage["resources"]
    assert yaml.safe_load(files["clusters/p1/infrastructure/apps/kustomization.yaml"])["components"] == ["../../../../components/big"]
    assert "apps" not in yaml.safe_load(files["clusters/p1/apps/kustomization.yaml"])["resources"]  # no release there
    built = {doc["metadata"]["name"]: doc["spec"].get("values") for directory in ("infrastructure", "apps")
             for doc in rt.kubectl_kustomize(tree / "clusters" / "p1" / directory) if doc["kind"] == "HelmRelease"}
    assert built == {"ingress": {"replicas": 3}, "web": {"replicas": 3}, "podinfo": None}  # the release: untouched


def test_stage_order_is_dependencies_first_then_names_and_survives_cycles(tmp_path):
    (tmp_path / "main.gop").write_text('''stage z {}
stage b { dependsOn = [z] }
stage a {}
stage y { dependsOn = [x] }
stage x { dependsOn = [y] }
''', encoding="utf-8")
    analysis = analyse([tmp_path])
    assert [(d.code, d.message) for d in analysis.diagnostics] == [("E0840", "stage cycle: x -> y -> x")]
    fleet = analysis.fleet
    assert stage_names(fleet) == ("a", "z", "b", "x", "y")
    assert stage_of(fleet, "namespace", None, ["b", "z"]) == "z"
    assert stage_of(fleet, "release", {"stage": None}) is None  # no stage `infrastructure` declared


def test_a_release_depending_on_a_release_of_a_later_stage_is_an_error(tmp_path):
    (tmp_path / "main.gop").write_text('''source flux-system { url = "https://github.com/acme/fleet" }
stage infrastructure {}
stage configs { dependsOn = [infrastructure] }
stage apps { dependsOn = [configs] }
release cert-manager {
  chart { repository = "https://charts.jetstack.io", name = "cert-manager", version = "1.16.x" }
  dependsOn = [issuers]
}
release issuers {
  chart { repository = "https://charts.example.com", name = "issuers", version = "1.x" }
  stage = configs
  dependsOn = [cert-manager]
}
env prod where environment == "prod" {}
cluster p1 { labels { environment = "prod" } }
''', encoding="utf-8")
    found = [(d.code, d.message) for d in analyse([tmp_path]).diagnostics if d.code.startswith("E084")]
    assert found == [
        ("E0842", "release `cert-manager` (stage `infrastructure`) depends on `issuers`, which is in the later stage "
                  "`configs` on cluster p1")]
