"""The files of the Flux lowering: layout, contents by declaration, golden trees, errors.

The files are read back with PyYAML (not the emitter that wrote them). What the real tools
say about the same trees is in test_flux_tools.py.
"""

from __future__ import annotations

import dataclasses
import difflib
import posixpath
import re
from pathlib import Path

import pytest
import yaml
from fleet_fixtures import CHECKOUT_DB_SOPS, SECRET_FILE, SHOP, VARIANTS, overlays_fleet, shop_fleet, write_shop_root

import txtar
from gop.compiler.lower.flux import FluxLoweringError, render_cluster, repository_files
from gop.compiler.lower.flux.objects import helm_release, release_patch
from gop.compiler.lower.helm import chart_version, helm_values
from gop.compiler.fleet.model import Settings
from gop.compiler.values import merge, plain
from gop.compiler.semantic.types import Duration, ResourceRef

GOLDEN = Path(__file__).parent / "golden" / "flux"
SERVED_FLUX_APIS = {"source.toolkit.fluxcd.io/v1", "kustomize.toolkit.fluxcd.io/v1", "helm.toolkit.fluxcd.io/v2",
                    "notification.toolkit.fluxcd.io/v1", "notification.toolkit.fluxcd.io/v1beta3",
                    "image.toolkit.fluxcd.io/v1"}


@pytest.fixture(scope="module")
def program(tmp_path_factory) -> Path:
    return write_shop_root(tmp_path_factory.mktemp("program"))


@pytest.fixture(scope="module")
def trees(program) -> dict[str, tuple[object, dict[str, str]]]:
    out = {}
    for name, options in VARIANTS.items():
        fleet = shop_fleet(program, **options)
        out[name] = (fleet, repository_files(fleet))
    return out


def docs(files: dict[str, str], path: str) -> list[dict]:
    return [doc for doc in yaml.safe_load_all(files[path]) if doc is not None]


def doc(files: dict[str, str], path: str) -> dict:
    (only,) = docs(files, path)
    return only


# ---------------------------------------------------------------- golden trees

@pytest.mark.parametrize("variant", sorted(VARIANTS))
def test_golden_tree(trees, variant):
    path = GOLDEN / f"{variant}.txtar"
    comment = (f"repository_files() of fleet_fixtures.shop_fleet(**VARIANTS[{variant!r}]).\n"
               "Regenerate with GOP_UPDATE_GOLDEN=1 and review the diff.\n")
    actual = txtar.format(txtar.Archive(comment, list(trees[variant][1].items())))
    expected = path.read_text(encoding="utf-8") if path.exists() else None
    if expected == actual:
        return
    if txtar.update_requested():
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(actual, encoding="utf-8")
        return
    assert expected is not None, f"{path} is missing (GOP_UPDATE_GOLDEN=1 writes it)"
    diff = "".join(difflib.unified_diff(expected.splitlines(True), actual.splitlines(True), str(path), "actual"))
    raise AssertionError(f"the tree differs from {path.name} (GOP_UPDATE_GOLDEN=1 rewrites it):\n{diff}")


def test_output_is_deterministic_and_independent_of_dict_order(program, trees):
    fleet, files = trees["shop"]
    assert repository_files(shop_fleet(program)) == files
    shuffled = dataclasses.replace(
        fleet, apps=dict(reversed(fleet.apps.items())), envs=dict(reversed(fleet.envs.items())),
        clusters={name: dataclasses.replace(cluster, instances=dict(reversed(cluster.instances.items())))
                  for name, cluster in reversed(fleet.clusters.items())})
    assert repository_files(shuffled) == files
    assert list(files) == sorted(files)


# ---------------------------------------------------------------- layout and contents

@pytest.mark.parametrize("variant", sorted(VARIANTS))
def test_only_served_flux_apis(trees, variant):
    _, files = trees[variant]
    apis = {d["apiVersion"] for path in files if path.endswith(".yaml") for d in docs(files, path)}
    flux = {api for api in apis if ".fluxcd.io/" in api}
    assert flux <= SERVED_FLUX_APIS and "helm.toolkit.fluxcd.io/v2" in flux


def built_release(files: dict[str, str], cluster: str, app: str, env: str) -> dict:
    """The app's HelmRelease on the cluster as kustomize builds it from the files: the base
    release, the env's patches, the patches of the cluster's components in order, its own."""
    release = doc(files, f"apps/base/{app}/release.yaml")
    apps = doc(files, f"clusters/{cluster}/apps/kustomization.yaml")
    components = [posixpath.normpath(f"clusters/{cluster}/apps/{path}") for path in apps.get("components", [])]
    for directory in [f"apps/{env}/{app}", *components, f"clusters/{cluster}/apps"]:
        for patch in doc(files, f"{directory}/kustomization.yaml").get("patches", []):
            if patch["target"].get("name", app) == app:  # a target without a name is every release
                release = merge(release, {"spec": doc(files, f"{directory}/{patch['path']}")["spec"]})
    return release


def check_every_release(fleet, files) -> None:
    """Each cluster takes exactly its apps, and each app's HelmRelease, merged over the chart's
    values as Helm merges them, holds exactly the instance's values and delivery settings."""
    for name, cluster in fleet.clusters.items():
        overlay = doc(files, f"clusters/{name}/apps/kustomization.yaml")
        app_dirs = [r for r in overlay["resources"] if "/apps/" in r]
        assert app_dirs == [f"../../../apps/{cluster.env}/{app}" for app in sorted(cluster.instances)]
        for app, instance in cluster.instances.items():
            model = fleet.apps[app]
            built = built_release(files, name, app, cluster.env)
            chart_values = helm_values(plain(model.base))
            assert merge(chart_values, built["spec"].get("values", {})) == helm_values(plain(instance.values)), (name, app)
            env_values = fleet.envs[cluster.env].app_values.get(app, {})
            layered = helm_release(fleet, model)
            for values in (env_values, instance.cluster_values):
                layered = merge(layered, release_patch(fleet, model, values) or {})
            assert {**built["spec"], "values": None} == {**layered["spec"], "values": None}, (name, app)
            assert built["metadata"] == layered["metadata"]
            # ... and the layers of the model add up to the instance too
            assert plain(merge(merge(model.base, env_values), instance.cluster_values)) == plain(instance.values)


@pytest.mark.parametrize("variant", sorted(VARIANTS))
def test_cluster_takes_exactly_its_apps_with_their_values(trees, variant):
    check_every_release(*trees[variant])


def test_selector_overlays_become_components_every_release_gets_exactly_right(tmp_path):
    fleet = overlays_fleet(tmp_path)
    files = repository_files(fleet)
    check_every_release(fleet, files)
    listed = {cluster: doc(files, f"clusters/{cluster}/apps/kustomization.yaml").get("components", [])
              for cluster in fleet.clusters}
    assert listed == {"eu-1": [], "eu-2": ["../../../components/gold"], "cn-1": ["../../../components/cn"],
                      "cn-2": ["../../../components/cn", "../../../components/gold"],
                      "cn-3": ["../../../components/cn", "../../../components/silver"]}
    components = {path for path in files if path.startswith("components/")}
    assert components == {f"components/{overlay}/{name}" for overlay, names in [
        ("cn", ["values.yaml", "api-values.yaml", "web-values.yaml"]), ("gold", ["values.yaml", "api-values.yaml"]),
        ("silver", ["values.yaml", "web-values.yaml"])] for name in ["kustomization.yaml", *names]}
    every_release = doc(files, "components/cn/kustomization.yaml")["patches"][0]
    assert every_release == {"path": "values.yaml", "target": {"group": "helm.toolkit.fluxcd.io", "version": "v2",
                                                               "kind": "HelmRelease"}}
    assert doc(files, "components/cn/values.yaml")["spec"] == {"values": {"image": {"pullPolicy": "Always"},
                                                                          "replicas": 5}}
    assert doc(files, "components/cn/api-values.yaml")["spec"] == {"values": {"image": {"pullPolicy": "Never"}}}
    assert doc(files, "components/gold/values.yaml")["spec"] == {"values": {"autoscaling": {"min": 1, "max": 9}}}
    assert doc(files, "components/silver/web-values.yaml")["spec"] == {"dependsOn": [{"name": "api", "namespace": "api"}]}
    own = {path for path in files if re.fullmatch(r"clusters/[^/]+/apps/[^/]+-values\.yaml", path)}
    assert own == {"clusters/cn-2/apps/web-values.yaml", "clusters/cn-3/apps/api-values.yaml"}
    assert doc(files, "clusters/cn-2/apps/web-values.yaml")["spec"] == {"values": {"replicas": 1}}
    assert doc(files, "clusters/cn-3/apps/api-values.yaml")["spec"] == {"values": {"env": {"MODE": "cluster"}}}


@pytest.mark.parametrize("variant", sorted(VARIANTS))
def test_env_overlays_carry_the_env_values(trees, variant):
    fleet, files = trees[variant]
    for env_name, env in fleet.envs.items():
        apps = sorted({app for cluster in env.clusters for app in fleet.clusters[cluster].instances})
        assert doc(files, f"apps/{env_name}/kustomization.yaml")["resources"] == apps
        for app in apps:
            kustomization = doc(files, f"apps/{env_name}/{app}/kustomization.yaml")
            assert kustomization["resources"] == [f"../../base/{app}"]
            values = helm_values(plain(env.app_values.get(app, {})))
            patch_path = f"apps/{env_name}/{app}/{app}-values.yaml"
            if values:
                assert doc(files, patch_path)["spec"]["values"] == values
            elif "delivery" not in env.app_values.get(app, {}):
                assert patch_path not in files and "patches" not in kustomization


def test_a_namespace_is_declared_once_however_many_apps_share_it(trees):
    for variant, expected in (("shop", ["shop"]), ("shop-helmrepository", ["carts", "shop"])):
        fleet, files = trees[variant]
        namespaces = [d["metadata"]["name"] for path in files if path.startswith("infrastructure/namespaces/")
                      for d in docs(files, path) if d["kind"] == "Namespace"]
        assert namespaces == expected
        for cluster in fleet.clusters:
            assert doc(files, f"clusters/{cluster}/infrastructure/kustomization.yaml")["resources"] == [
                f"../../../infrastructure/namespaces/{namespace}" for namespace in expected]
        assert not any(d["kind"] == "Namespace" for path in files if path.startswith("apps/") for d in docs(files, path))


def test_releases_take_delivery_settings_from_the_app_or_the_fleet(trees):
    _, shop = trees["shop"]
    cart = doc(shop, "apps/base/cart/release.yaml")["spec"]
    assert (cart["interval"], cart["timeout"], cart["install"], cart["upgrade"]) == (
        "5m", "3m", {"remediation": {"retries": 3}}, {"remediation": {"retries": 3}})
    assert doc(shop, "apps/base/checkout/release.yaml")["spec"]["dependsOn"] == [{"name": "cart"}]
    assert "dependsOn" not in cart
    _, tenant = trees["shop-git-tenant"]
    checkout = doc(tenant, "apps/base/checkout/release.yaml")["spec"]
    assert (checkout["interval"], checkout["timeout"], checkout["install"]["remediation"]["retries"]) == ("2m", "3m", 5)
    web_prod = doc(tenant, "apps/prod/web/web-values.yaml")["spec"]
    assert web_prod["timeout"] == "10m" and "delivery" not in web_prod["values"]
    _, split = trees["shop-helmrepository"]
    assert doc(split, "apps/base/checkout/release.yaml")["spec"]["dependsOn"] == [{"name": "cart", "namespace": "carts"}]


def test_chart_sources_follow_the_delivery_mode(trees):
    fleet, shop = trees["shop"]
    checkout = fleet.apps["checkout"]
    assert doc(shop, "apps/base/checkout/release.yaml")["spec"]["chartRef"] == {"kind": "OCIRepository", "name": "checkout"}
    source = doc(shop, "apps/base/checkout/repository.yaml")
    assert (source["kind"], source["spec"]["url"], source["spec"]["ref"]) == (
        "OCIRepository", "oci://ghcr.io/acme/charts/checkout", {"tag": chart_version(checkout)})

    _, git = trees["shop-git-tenant"]
    assert doc(git, "apps/base/checkout/release.yaml")["spec"]["chart"]["spec"] == {
        "chart": "./charts/checkout", "sourceRef": {"kind": "GitRepository", "name": "flux-system", "namespace": "flux-system"}}
    assert "apps/base/checkout/repository.yaml" not in git

    _, helm_repository = trees["shop-helmrepository"]
    chart = doc(helm_repository, "apps/base/checkout/release.yaml")["spec"]["chart"]["spec"]
    assert (chart["chart"], chart["version"], chart["sourceRef"]) == (
        "checkout", chart_version(checkout), {"kind": "HelmRepository", "name": "checkout"})
    repository = doc(helm_repository, "apps/base/checkout/repository.yaml")
    assert (repository["kind"], repository["spec"]["type"], repository["spec"]["url"]) == (
        "HelmRepository", "oci", "oci://ghcr.io/acme/charts")


def test_clusters_sync_and_order_infrastructure_before_apps(trees):
    _, files = trees["shop"]
    assert doc(files, "clusters/prod-eu-1/kustomization.yaml")["resources"] == [
        "flux-system", "infrastructure.yaml", "apps.yaml", "notifications.yaml", "image-automation.yaml"]
    assert doc(files, "clusters/prod-eu-1/flux-system/kustomization.yaml")["resources"] == [
        "gotk-components.yaml", "gotk-sync.yaml"]
    repository, sync = docs(files, "clusters/prod-eu-1/flux-system/gotk-sync.yaml")
    assert repository["spec"] == {"interval": "1m", "ref": {"branch": "main"}, "secretRef": {"name": "flux-system"},
                                  "url": "https://github.com/acme/shop-fleet"}
    assert sync["spec"]["path"] == "./clusters/prod-eu-1"
    apps = doc(files, "clusters/prod-eu-1/apps.yaml")["spec"]
    infrastructure = doc(files, "clusters/prod-eu-1/infrastructure.yaml")["spec"]
    assert apps["dependsOn"] == [{"name": "infrastructure"}] and "dependsOn" not in infrastructure
    assert (apps["path"], infrastructure["path"]) == ("./clusters/prod-eu-1/apps", "./clusters/prod-eu-1/infrastructure")
    assert {key: apps[key] for key in ("interval", "timeout", "prune", "wait", "retryInterval")} == {
        "interval": "5m", "timeout": "3m", "prune": True, "wait": True, "retryInterval": "1m"}
    assert apps["decryption"]["provider"] == "sops" and "decryption" not in infrastructure


def test_decryption_and_secrets_only_where_a_sops_secret_is_used(program):
    fleet = shop_fleet(program)
    del fleet.clusters["dev-us-1"].instances["checkout"]
    files = repository_files(fleet)
    assert "decryption" not in doc(files, "clusters/dev-us-1/apps.yaml")["spec"]
    assert not any("secrets/" in r for r in doc(files, "clusters/dev-us-1/apps/kustomization.yaml")["resources"])
    assert "../../../secrets/secrets/checkout-db.enc" in doc(files, "clusters/prod-eu-1/apps/kustomization.yaml")["resources"]
    assert files["secrets/secrets/checkout-db.enc/checkout-db.enc.yaml"] == CHECKOUT_DB_SOPS
    assert not any(d["kind"] == "HelmRelease" and d["metadata"]["name"] == "checkout"
                   for d in render_cluster(fleet, "dev-us-1", include_flux=True))


def test_tenant_isolation(trees):
    _, files = trees["shop-git-tenant"]
    apps = doc(files, "clusters/prod-eu-1/apps.yaml")["spec"]
    assert (apps["serviceAccountName"], apps["targetNamespace"]) == ("shop-deployer", "shop")
    assert "serviceAccountName" not in doc(files, "clusters/prod-eu-1/infrastructure.yaml")["spec"]
    assert doc(files, "apps/base/web/release.yaml")["spec"]["serviceAccountName"] == "shop-deployer"
    account, binding = docs(files, "infrastructure/namespaces/shop/rbac.yaml")
    assert (account["kind"], account["metadata"]) == ("ServiceAccount", {"name": "shop-deployer", "namespace": "shop"})
    assert binding["subjects"] == [{"kind": "ServiceAccount", "name": "shop-deployer", "namespace": "flux-system"},
                                   {"kind": "ServiceAccount", "name": "shop-deployer", "namespace": "shop"}]
    assert doc(files, "infrastructure/tenant/serviceaccount.yaml")["metadata"] == {
        "name": "shop-deployer", "namespace": "flux-system"}
    assert "../../../infrastructure/tenant" in doc(files, "clusters/prod-eu-1/infrastructure/kustomization.yaml")["resources"]
    _, shop = trees["shop"]
    assert not any(path.startswith("infrastructure/tenant") or path.endswith("rbac.yaml") for path in shop)


def test_tenant_apps_in_several_namespaces_get_no_target_namespace(program):
    files = repository_files(shop_fleet(program, delivery={"serviceAccountName": "ops"}, namespaces={"cart": "carts"}))
    apps = doc(files, "clusters/prod-eu-1/apps.yaml")["spec"]
    assert apps["serviceAccountName"] == "ops" and "targetNamespace" not in apps


def test_image_automation(trees):
    fleet, files = trees["shop"]
    release = files["apps/base/checkout/release.yaml"]
    assert re.search(r'^      tag: 1\.4\.2 +# \{"\$imagepolicy": "flux-system:checkout:tag"\}$', release, re.M)
    assert "$imagepolicy" not in files["apps/base/web/release.yaml"]
    objects = docs(files, "clusters/prod-eu-1/image-automation.yaml")
    assert [(d["kind"], d["metadata"]["name"]) for d in objects] == [
        ("ImageRepository", "cart"), ("ImagePolicy", "cart"), ("ImageRepository", "checkout"),
        ("ImagePolicy", "checkout"), ("ImageUpdateAutomation", "image-updates")]
    assert objects[3]["spec"] == {"imageRepositoryRef": {"name": "checkout"}, "policy": {"semver": {"range": ">=1.4.0 <2.0.0"}}}
    assert objects[2]["spec"] == {"image": "ghcr.io/acme/checkout", "interval": "5m"}
    automation = objects[4]["spec"]
    assert automation["update"] == {"path": "./apps/base", "strategy": "Setters"}
    assert automation["git"]["push"] == {"branch": "main"} and automation["sourceRef"]["name"] == "flux-system"


def test_notifications(trees):
    _, files = trees["shop-helmrepository"]
    provider, alert, receiver = docs(files, "clusters/prod-cn-1/notifications.yaml")
    assert provider["spec"] == {"type": "slack", "channel": "shop-alerts", "secretRef": {"name": "slack-webhook-url"}}
    assert alert["spec"]["eventSources"] == [
        {"kind": "Kustomization", "name": "*", "namespace": "flux-system"},
        {"kind": "HelmRelease", "name": "*", "namespace": "carts"},
        {"kind": "HelmRelease", "name": "*", "namespace": "shop"}]
    assert (alert["spec"]["providerRef"], alert["spec"]["eventSeverity"]) == ({"name": "slack"}, "error")
    assert receiver["spec"] == {"type": "github", "events": ["ping", "push"], "secretRef": {"name": "github-webhook-token"},
                                "resources": [{"apiVersion": "source.toolkit.fluxcd.io/v1", "kind": "GitRepository",
                                               "name": "flux-system"}]}


def test_an_alert_on_source_kinds_watches_the_app_namespaces(program):
    fleet = shop_fleet(program)
    alert = fleet.alerts["shop-failures"]
    alert.values["kinds"] = ("OCIRepository", "HelmRepository", "GitRepository")
    (_, alert_doc, _) = docs(repository_files(fleet), "clusters/prod-eu-1/notifications.yaml")
    assert alert_doc["spec"]["eventSources"] == [{"kind": "OCIRepository", "name": "*", "namespace": "shop"},
                                                 {"kind": "GitRepository", "name": "*", "namespace": "flux-system"}]


def test_a_second_source_is_synced_too_and_receivers_can_name_it(program):
    fleet = shop_fleet(program)
    fleet.sources["config"] = Settings("source", "config", fleet.delivery.span, None, {
        "url": "ssh://git@github.com/acme/config", "branch": "live", "interval": Duration.parse("5m")})
    fleet.receivers["github"].values["resources"] = (ResourceRef("source", "flux-system"), ResourceRef("source", "config"))
    files = repository_files(fleet)
    assert doc(files, "clusters/dev-us-1/sources.yaml")["metadata"] == {"name": "config", "namespace": "flux-system"}
    assert "sources.yaml" in doc(files, "clusters/dev-us-1/kustomization.yaml")["resources"]
    receiver = docs(files, "clusters/dev-us-1/notifications.yaml")[2]
    assert [r["name"] for r in receiver["spec"]["resources"]] == ["flux-system", "config"]


# ---------------------------------------------------------------- what cannot be lowered

def _with_secret(root: Path, text: str | None, file: str = SECRET_FILE):
    write_shop_root(root)
    if text is not None:
        (root / SECRET_FILE).write_text(text, encoding="utf-8")
    fleet = shop_fleet(root)
    if file != SECRET_FILE:
        for model in [fleet.apps["checkout"].base, *(c.instances["checkout"].values for c in fleet.clusters.values())]:
            model["secretEnv"] = {"DB_PASSWORD": dataclasses.replace(model["secretEnv"]["DB_PASSWORD"], file=file)}
    return fleet


PLAINTEXT = "hunter2-plaintext"
BAD_SECRETS = {
    "not encrypted at all": (f"apiVersion: v1\nkind: Secret\nmetadata:\n  name: checkout-db\n  namespace: shop\n"
                             f"stringData:\n  password: {PLAINTEXT}\n", "is not SOPS-encrypted"),
    "one value in plaintext": (CHECKOUT_DB_SOPS.replace("stringData:\n", f"stringData:\n    user: {PLAINTEXT}\n"),
                               "stringData.user is not encrypted"),
    "no namespace": (CHECKOUT_DB_SOPS.replace("    namespace: shop\n", ""), "must set metadata.namespace: shop"),
    "another secret": (CHECKOUT_DB_SOPS.replace("name: checkout-db", "name: orders-db"), "declares Secret 'orders-db'"),
    "no such key": (CHECKOUT_DB_SOPS.replace("password: ENC", "passphrase: ENC"), "has no key 'password'"),
    "not a secret": (CHECKOUT_DB_SOPS.replace("kind: Secret", "kind: ConfigMap"), "must be a v1 Secret"),
    "not yaml": ("password: [unclosed\n", "is not YAML"),
}


@pytest.mark.parametrize("case", sorted(BAD_SECRETS))
def test_a_bad_sops_file_is_an_error_that_never_shows_the_secret(tmp_path, case):
    text, message = BAD_SECRETS[case]
    fleet = _with_secret(tmp_path, text)
    with pytest.raises(FluxLoweringError, match=re.escape(message)) as raised:
        repository_files(fleet)
    assert PLAINTEXT not in raised.value.message
    with pytest.raises(FluxLoweringError):
        render_cluster(fleet, "prod-eu-1")


@pytest.mark.parametrize("file,message", [("../outside.enc.yaml", "must be a relative path inside the program"),
                                          ("/etc/shadow", "must be a relative path inside the program"),
                                          ("secrets/missing.enc.yaml", "cannot read SOPS file secrets/missing.enc.yaml")])
def test_a_sops_file_outside_the_program_or_missing_is_an_error(tmp_path, file, message):
    with pytest.raises(FluxLoweringError, match=re.escape(message)):
        repository_files(_with_secret(tmp_path, None, file))


def test_two_files_with_one_secret_on_a_cluster_is_an_error(tmp_path):
    fleet = shop_fleet(write_shop_root(tmp_path))
    (tmp_path / "secrets" / "copy.enc.yaml").write_text(CHECKOUT_DB_SOPS, encoding="utf-8")
    cart = fleet.clusters["prod-eu-1"].instances["cart"]
    cart.values = {**cart.values, "secretEnv": {"DB": dataclasses.replace(
        fleet.apps["checkout"].base["secretEnv"]["DB_PASSWORD"], file="secrets/copy.enc.yaml")}}
    with pytest.raises(FluxLoweringError, match="would get Secret shop/checkout-db twice"):
        repository_files(fleet)


def test_a_fleet_without_a_clear_sync_source_or_registry_is_an_error(program):
    fleet = shop_fleet(program)
    fleet.sources = {}
    with pytest.raises(FluxLoweringError, match="no `source` is declared") as raised:
        repository_files(fleet)
    assert raised.value.code == "E0505" and raised.value.span is not None
    fleet.sources = {name: dataclasses.replace(shop_fleet(program).sources["flux-system"], name=name) for name in "ab"}
    with pytest.raises(FluxLoweringError, match=r"cannot tell which source Flux syncs the fleet from \(a, b\)") as raised:
        repository_files(fleet)
    assert raised.value.code == "E0506"
    fleet = shop_fleet(program)
    fleet.registries = {}
    with pytest.raises(FluxLoweringError, match='charts = "oci" but names no registry'):
        repository_files(fleet)
    with pytest.raises(FluxLoweringError, match="no cluster named 'prod-mars-1'"):
        render_cluster(fleet, "prod-mars-1")


# ---------------------------------------------------------------- the fixture against the compiler

def test_fixture_mirrors_the_compiled_example(program):
    """fleet_fixtures.shop_fleet is what evaluating examples/shop gives (values of every layer,
    placement, settings), so the lowering tests test the real example."""
    from gop.compiler.session import analyse

    analysis = analyse([SHOP])
    assert not [d for d in analysis.diagnostics if d.is_error]
    compiled, fixture = analysis.fleet, shop_fleet(program)
    for name, app in compiled.apps.items():
        assert (plain(app.base), app.namespace, app.clusters) == (
            plain(fixture.apps[name].base), fixture.apps[name].namespace, fixture.apps[name].clusters), name
    for name, cluster in compiled.clusters.items():
        assert (cluster.env, cluster.labels, list(cluster.instances)) == (
            fixture.clusters[name].env, fixture.clusters[name].labels, list(fixture.clusters[name].instances))
        for app, instance in cluster.instances.items():
            theirs = fixture.clusters[name].instances[app]
            assert [plain(x) for x in (instance.values, instance.env_values, instance.cluster_values)] == [
                plain(x) for x in (theirs.values, theirs.env_values, theirs.cluster_values)], (name, app)
    assert {n: (e.clusters, plain(e.app_values)) for n, e in compiled.envs.items()} == {
        n: (e.clusters, plain(e.app_values)) for n, e in fixture.envs.items()}
    for kind in ("sources", "registries", "receivers", "providers", "alerts", "automations"):
        assert {n: s.values for n, s in getattr(compiled, kind).items()} == {
            n: s.values for n, s in getattr(fixture, kind).items()}, kind
    assert compiled.delivery.values == fixture.delivery.values


def test_two_sops_files_that_would_share_a_directory_is_an_error(tmp_path):
    fleet = shop_fleet(write_shop_root(tmp_path))
    (tmp_path / "secrets" / "checkout-db.enc.yml").write_text(
        CHECKOUT_DB_SOPS.replace("name: checkout-db", "name: cart-db"), encoding="utf-8")
    cart = fleet.clusters["dev-us-1"].instances["cart"]
    cart.values = {**cart.values, "secretEnv": {"DB": dataclasses.replace(
        fleet.apps["checkout"].base["secretEnv"]["DB_PASSWORD"], secret="cart-db", file="secrets/checkout-db.enc.yml")}}
    with pytest.raises(FluxLoweringError, match="would share the directory secrets/secrets/checkout-db.enc/"):
        repository_files(fleet)
