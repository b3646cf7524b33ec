"""`release` declarations lowered to Flux and rendered, proven with the real tools.

The program has releases from a Helm repository (https), an OCI registry (an OCIRepository with a
semver range) and a Git source (a path), one whose env moves it from a Helm repository to an OCI
registry, a dependency, and values set by the declaration, an env, a selector overlay and a
cluster. Its vendored charts are `helm create` + `helm package` packages under vendor/charts/.

- every Flux object of the tree passes the Flux schemas, every other object kubernetes-validate;
- `kubectl kustomize` builds each cluster's stage paths, and the HelmReleases it builds are the
  ones `gopc render --include-flux` shows (the patches carry exactly the layers);
- a release's render is `helm template` of its vendored package with the values of the
  HelmRelease kustomize built, and of the chart pulled from a Helm repository (index.yaml over
  HTTP) and from an OCI registry (Debian's docker-registry) on loopback, as Flux would pull it;
- build and render are byte-identical under two hash seeds;
- `gopc explain` names a release's layers, `gopc render --release` renders one, hover on a
  release field shows its effective value per env and cluster.
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

import realtools as rt
from gop.compiler import cli
from gop.compiler.diagnostics import codes
from chart_fixtures import make_chart
from gop.compiler.commands.chart import vendor_package
from gop.compiler.semantic.charts import read_lock
from gop.compiler.lower.flux.charts import vendored_package
from gop.compiler.lower.flux.render import release_objects, render_cluster
from gop.compiler.lower.repository import repository
from gop.compiler.session import analyse

GOPC = Path(sys.executable).with_name("gopc")

PROGRAM = '''package fleet

labels { environment: "staging" | "prod", size?: "big" }

source flux-system { url = "https://github.com/acme/fleet" }
source charts { url = "https://github.com/acme/charts", branch = "main" }

app web {
  image { repository = "ghcr.io/acme/web", tag = "1.0.0" }
}

release podinfo {
  chart { repository = "https://stefanprodan.github.io/podinfo", name = "podinfo", version = "6.x" }
  values {
    replicaCount = 1
    podAnnotations { team = "web" }
  }
}

release redis {
  chart { repository = "oci://registry.example.com/charts", name = "redis", version = "1.2.x" }
  namespace = "cache"
  dependsOn = [podinfo]
  install.crds = "CreateReplace"
  values.service.port = 6379
}

release tools where environment == "prod" {
  chart { git = charts, path = "./charts/tools", name = "tools" }
  install.createNamespace = true
  timeout = 10m
}

release switch {
  chart { repository = "https://charts.example.com", name = "switch", secretName = "charts-auth" }
}

env staging where environment == "staging" {}

env prod where environment == "prod" {
  release podinfo {
    values.replicaCount = 2
    upgrade { remediation = "uninstall", retries = 5, strategy = "RetryOnFailure" }
    test.enable = true
  }
  release switch { chart.repository = "oci://registry.example.com/charts", chart.version = "0.1.0" }
}

overlay big where size == "big" {
  release podinfo { values.replicaCount = 3 }
}

cluster staging-1 { labels { environment = "staging" } }
cluster prod-1 { labels { environment = "prod" } }
cluster prod-2 {
  labels { environment = "prod", size = "big" }
  release podinfo { values.podAnnotations { tier = "gold" } }
  release redis { values.service.port = 6380, releaseName = "cache" }
}
cluster prod-3 {
  labels { environment = "prod", size = "big" }
  release podinfo { values.replicaCount = 4 }
}
'''

CHARTS = {"podinfo": ("6.4.0", "6.5.0", "7.0.0"), "redis": ("1.2.3",), "tools": ("0.1.0",), "switch": ("0.1.0",)}


def line_of(needle: str) -> int:
    """The 1-based line of PROGRAM where `needle` first occurs."""
    return PROGRAM[:PROGRAM.index(needle)].count("\n") + 1


# Where each chart is pulled from (`gopc chart add` locks it per repository); `tools` comes from Git.
REPOSITORIES = {"podinfo": ("https://stefanprodan.github.io/podinfo",), "redis": ("oci://registry.example.com/charts",),
                "switch": ("https://charts.example.com", "oci://registry.example.com/charts"), "tools": ()}


def vendor_charts(program: Path, scratch: Path) -> None:
    """Vendors every chart as `gopc chart add` does (the chart from Git under vendor/charts/ by hand)."""
    for chart, versions in CHARTS.items():
        for version in versions:
            package = rt.helm_package(make_chart(scratch, chart, version), scratch / f"{chart}-{version}")
            for repository in REPOSITORIES[chart]:
                vendor_package(program, repository, chart, package.read_bytes(), read_lock(program))
            if not REPOSITORIES[chart]:
                target = program / "vendor" / "charts" / chart / version
                target.mkdir(parents=True)
                shutil.copy(package, target)


def with_charts(program: Path, target: Path, text: str) -> Path:
    """A program of `text` at `target` with the charts (charts.lock and vendor/) of `program`."""
    target.mkdir(parents=True, exist_ok=True)
    (target / "main.gop").write_text(text, encoding="utf-8")
    shutil.copy(program / "charts.lock", target / "charts.lock")
    shutil.copytree(program / "vendor", target / "vendor")
    return target


@pytest.fixture(scope="module")
def program(tmp_path_factory) -> Path:
    root = tmp_path_factory.mktemp("releases")
    program = root / "fleet"
    program.mkdir()
    (program / "main.gop").write_text(PROGRAM, encoding="utf-8")
    vendor_charts(program, tmp_path_factory.mktemp("chart-sources"))
    return program


@pytest.fixture(scope="module")
def analysis(program):
    analysis = analyse([program])
    assert [d.message for d in analysis.diagnostics] == []
    return analysis


@pytest.fixture(scope="module")
def tree(analysis, tmp_path_factory) -> Path:
    files, problems = repository(analysis)
    assert problems == []
    out = tmp_path_factory.mktemp("tree")
    for path, text in files.items():
        (out / path).parent.mkdir(parents=True, exist_ok=True)
        (out / path).write_text(text, encoding="utf-8")
    (out / "files.json").write_text(json.dumps(sorted(files)))
    return out


def kustomize_stages(tree: Path, cluster: str) -> list[dict]:
    return [doc for stage in ("infrastructure", "apps") for doc in rt.kubectl_kustomize(tree / "clusters" / cluster / stage)]


def releases_of(docs: list[dict]) -> dict[str, dict]:
    return {doc["metadata"]["name"]: doc for doc in docs
            if doc["kind"] == "HelmRelease" and doc["metadata"]["namespace"] == "flux-system"}


def test_the_tree_has_a_base_per_release_an_overlay_per_env_and_the_cluster_patches(tree):
    files = set(json.loads((tree / "files.json").read_text()))
    assert {"releases/base/podinfo/release.yaml", "releases/prod/podinfo/podinfo-values.yaml",
            "releases/prod/kustomization.yaml", "clusters/prod-2/infrastructure/releases/podinfo-values.yaml",
            "clusters/prod-2/infrastructure/releases/redis-values.yaml", "components/big/releases/kustomization.yaml",
            "components/big/releases/podinfo-values.yaml"} <= files
    # the overlay's value once, in its component; each cluster's patch has only what the cluster sets
    component = yaml.safe_load((tree / "components/big/releases/podinfo-values.yaml").read_text())
    assert component["spec"] == {"values": {"replicaCount": 3}}
    own = {cluster: yaml.safe_load((tree / f"clusters/{cluster}/infrastructure/releases/podinfo-values.yaml").read_text())
           for cluster in ("prod-2", "prod-3")}
    assert own["prod-2"]["spec"] == {"values": {"podAnnotations": {"tier": "gold"}}}
    assert own["prod-3"]["spec"] == {"values": {"replicaCount": 4}}
    listing = {cluster: yaml.safe_load((tree / f"clusters/{cluster}/infrastructure/kustomization.yaml").read_text())
               for cluster in ("prod-2", "prod-3")}
    assert listing["prod-2"]["components"] == ["../../../components/big/releases"]
    assert "components" not in listing["prod-3"]  # its own value overrides all the overlay sets there
    assert "releases/staging/tools/kustomization.yaml" not in files  # tools runs in prod only
    assert "releases/staging/podinfo/podinfo-values.yaml" not in files  # staging sets nothing
    infrastructure = yaml.safe_load((tree / "clusters/prod-1/infrastructure/kustomization.yaml").read_text())
    assert infrastructure["resources"] == [
        "../../../infrastructure/namespaces/cache", "../../../infrastructure/namespaces/podinfo",
        "../../../infrastructure/namespaces/switch", "../../../infrastructure/namespaces/web",
        "../../../releases/prod/podinfo", "../../../releases/prod/redis", "../../../releases/prod/switch",
        "../../../releases/prod/tools"]  # no Namespace for tools: Helm creates it (createNamespace)
    sources = rt.parse_docs((tree / "clusters/prod-1/sources.yaml").read_text())
    assert [(doc["kind"], doc["metadata"]["name"]) for doc in sources] == [
        ("GitRepository", "charts"), ("HelmRepository", "stefanprodan-github-io-podinfo"),
        ("OCIRepository", "redis"), ("OCIRepository", "switch")]
    assert sources[2]["spec"]["ref"] == {"semver": "1.2.x"} and sources[3]["spec"]["ref"] == {"tag": "0.1.0"}
    staging = rt.parse_docs((tree / "clusters/staging-1/sources.yaml").read_text())
    assert [doc["metadata"]["name"] for doc in staging] == [
        "charts", "charts-example-com", "stefanprodan-github-io-podinfo", "redis"]
    assert staging[1]["spec"]["secretRef"] == {"name": "charts-auth"}


def test_every_object_passes_the_flux_schemas_and_kubernetes_validate(tree):
    files = json.loads((tree / "files.json").read_text())
    whole = [doc for path in files if path.endswith(".yaml") and not path.endswith("-values.yaml")  # not patches
             and not path.startswith("charts/")
             for doc in rt.parse_docs((tree / path).read_text())]
    assert rt.flux_validate(whole, allow_non_flux=True) >= 20
    for cluster in ("staging-1", "prod-1", "prod-2", "prod-3"):
        built = kustomize_stages(tree, cluster)
        rt.flux_validate(built, allow_non_flux=True)
        rt.kubernetes_validate_strict([doc for doc in built if not rt.is_flux_doc(doc)])


@pytest.mark.parametrize("cluster", ["staging-1", "prod-1", "prod-2", "prod-3"])
def test_kustomize_builds_the_helm_releases_render_shows(tree, analysis, cluster):
    built = releases_of(kustomize_stages(tree, cluster))
    rendered = releases_of(render_cluster(analysis.fleet, cluster, include_flux=True, caches=analysis.lowering))
    assert built == json.loads(json.dumps(rendered))
    assert set(built) == ({"podinfo", "redis", "switch", "tools"} if cluster != "staging-1" else {"podinfo", "redis", "switch"})
    podinfo = built["podinfo"]["spec"]
    assert podinfo["values"] == {"replicaCount": {"staging-1": 1, "prod-1": 2, "prod-2": 3, "prod-3": 4}[cluster],
                                 "podAnnotations": {"team": "web", **({"tier": "gold"} if cluster == "prod-2" else {})}}
    if cluster != "staging-1":
        assert podinfo["upgrade"] == {"crds": "Skip", "strategy": {"name": "RetryOnFailure"},
                                      "remediation": {"retries": 5, "strategy": "uninstall"}}
        assert podinfo["test"] == {"enable": True}
        assert built["switch"]["spec"]["chartRef"]["kind"] == "OCIRepository" and "chart" not in built["switch"]["spec"]
        assert built["tools"]["spec"]["chart"]["spec"]["sourceRef"] == {
            "kind": "GitRepository", "name": "charts", "namespace": "flux-system"}
    redis = built["redis"]["spec"]
    assert redis["dependsOn"] == [{"name": "podinfo"}] and redis["install"]["crds"] == "CreateReplace"
    assert (redis["targetNamespace"], redis["storageNamespace"]) == ("cache", "cache")
    assert redis["releaseName"] == ("cache" if cluster == "prod-2" else "redis")


@pytest.mark.parametrize("cluster", ["staging-1", "prod-2"])
def test_render_is_helm_template_of_the_vendored_chart_with_the_built_values(tree, analysis, program, cluster, tmp_path):
    built = releases_of(kustomize_stages(tree, cluster))
    for name, release in sorted(built.items()):
        spec = release["spec"]
        values = tmp_path / f"{name}.json"
        values.write_text(json.dumps(spec.get("values", {})))
        chart = analysis.fleet.clusters[cluster].releases[name].values["chart"]
        package = vendored_package(program, chart)
        expected = rt.helm_template(package, [values], release=spec["releaseName"], namespace=spec["targetNamespace"],
                                    extra_args=["--skip-tests", "--include-crds"])
        objects = release_objects(analysis.fleet, cluster, name, caches=analysis.lowering)
        key = lambda doc: (doc["kind"], doc["metadata"]["name"])  # noqa: E731
        assert sorted(objects, key=key) == sorted(expected, key=key), name
        rt.kubernetes_validate_strict(objects)
    podinfo = {"repository": "https://stefanprodan.github.io/podinfo", "name": "podinfo", "version": "6.x"}
    assert vendored_package(program, podinfo).name == "podinfo-6.5.0.tgz"  # the highest that satisfies


def test_build_and_render_are_byte_identical_under_two_hash_seeds(program, tmp_path):
    digests = []
    for seed in ("1", "2"):
        out, renders = tmp_path / f"tree-{seed}", tmp_path / f"render-{seed}"
        environment = {**rt.tool_env(), "PYTHONHASHSEED": seed, "PATH": f"{rt.TOOLS_BIN}:/usr/bin:/bin"}
        for args in (["build", program, "-o", out], ["render", program, "--all-clusters", "--include-flux", "-o", renders]):
            done = subprocess.run([str(GOPC), *map(str, args)], capture_output=True, text=True, env=environment,
                                  stdin=subprocess.DEVNULL, timeout=300)
            assert done.returncode == 0, done.stderr
        digests.append({path.relative_to(base).as_posix(): hashlib.sha256(path.read_bytes()).hexdigest()
                        for base in (out, renders) for path in sorted(base.rglob("*")) if path.is_file()})
    assert digests[0] == digests[1] and len(digests[0]) > 40


def test_oci_charts_through_a_helm_repository_of_type_oci(program, tmp_path):
    analysis = analyse([with_charts(program, tmp_path / "fleet", PROGRAM + 'delivery { ociSource = "HelmRepository" }\n')])
    assert [d.message for d in analysis.diagnostics] == []
    files, _ = repository(analysis)
    sources = rt.parse_docs(files["clusters/prod-1/sources.yaml"])
    oci = [doc for doc in sources if doc["spec"].get("type") == "oci"]
    # switch reads the registry with a Secret, redis without: two sources of one URL, each named with a hash
    by_secret = {doc["spec"].get("secretRef", {}).get("name"): doc["metadata"]["name"] for doc in oci}
    assert {doc["spec"]["url"] for doc in oci} == {"oci://registry.example.com/charts"}
    assert set(by_secret) == {None, "charts-auth"} and len(set(by_secret.values())) == 2
    rt.flux_validate(sources)
    out = tmp_path / "tree"
    for path, text in files.items():
        (out / path).parent.mkdir(parents=True, exist_ok=True)
        (out / path).write_text(text)
    built = releases_of(rt.kubectl_kustomize(out / "clusters/prod-1/infrastructure"))
    rt.flux_validate(list(built.values()))
    assert built["redis"]["spec"]["chart"]["spec"] == {
        "chart": "redis", "interval": "1h", "version": "1.2.x",
        "sourceRef": {"kind": "HelmRepository", "name": by_secret[None], "namespace": "flux-system"}}
    assert built["switch"]["spec"]["chart"]["spec"]["sourceRef"]["name"] == by_secret["charts-auth"]


def test_sources_sharing_a_name_get_a_hash_of_their_settings(program, tmp_path):
    root = with_charts(program, tmp_path / "fleet", PROGRAM.replace('name = "switch", secretName = "charts-auth"', 'name = "switch"')
                       + 'release other {\n  chart { repository = "https://charts.example.com", '
                         'name = "other", secretName = "other-auth" }\n}\n')
    other = rt.helm_package(make_chart(tmp_path, "other", "0.1.0"), tmp_path)
    vendor_package(root, "https://charts.example.com", "other", other.read_bytes(), read_lock(root))
    analysis = analyse([root])
    assert [d.message for d in analysis.diagnostics] == []
    files, _ = repository(analysis)
    sources = {doc["spec"].get("secretRef", {}).get("name"): doc["metadata"]["name"]
               for doc in rt.parse_docs(files["clusters/staging-1/sources.yaml"]) if "charts.example.com" in doc["spec"]["url"]}
    assert set(sources) == {None, "other-auth"} and len(set(sources.values())) == 2
    assert all(name.startswith("charts-example-com-") and len(name) == len("charts-example-com-") + 8
               for name in sources.values())
    other = yaml.safe_load(files["releases/base/other/release.yaml"])
    assert other["spec"]["chart"]["spec"]["sourceRef"]["name"] == sources["other-auth"]


def test_explain_names_each_layer_of_a_release_value(program, capsys):
    assert cli.main(["explain", "--cluster", "prod-2", "release/podinfo.values.replicaCount", str(program)]) == 0
    out = capsys.readouterr().out.splitlines()
    assert out[0] == "release/podinfo.values.replicaCount on cluster prod-2 (env prod) = 3"
    assert [(line[:22].strip(), line[22:50].strip(), line[50:].split()[0].rsplit("/", 1)[1], line.split()[-1])
            for line in out[1:]] == [
        ("release", "release podinfo", f"main.gop:{line_of('replicaCount = 1')}:5", "1"),
        ("env overlay", "env prod", f"main.gop:{line_of('replicaCount = 2')}:5", "2"),
        ("* selector overlay", "overlay big", f"main.gop:{line_of('replicaCount = 3')}:21", "3")]
    assert cli.main(["explain", "--cluster", "prod-2", "release/podinf.values", str(program)]) == cli.EXIT_USAGE
    assert "release `podinf` is not on cluster `prod-2`; did you mean `release/podinfo`?" in capsys.readouterr().err


def test_render_one_release(program, capsys, monkeypatch):
    monkeypatch.setenv("GOPC_HELM", str(rt.helm_bin()))
    assert cli.main(["render", str(program), "--cluster", "prod-2", "--release", "redis", "--include-flux"]) == 0
    docs = rt.parse_docs(capsys.readouterr().out)
    assert {(doc["kind"], doc["metadata"]["name"]) for doc in docs} == {
        ("Deployment", "cache-redis"), ("Service", "cache-redis"), ("ServiceAccount", "cache-redis"),
        ("HelmRelease", "redis")}
    assert cli.main(["render", str(program), "--cluster", "staging-1", "--release", "tools"]) == cli.EXIT_USAGE
    assert "release `tools` does not run on cluster `staging-1`" in capsys.readouterr().err


def test_a_chart_that_is_not_vendored_stops_the_render_not_the_build(program, tmp_path, capsys, monkeypatch):
    """A chart from Git has no lock entry (check cannot ask for one): only render needs its package."""
    monkeypatch.setenv("GOPC_HELM", str(rt.helm_bin()))
    bare = with_charts(program, tmp_path / "bare", PROGRAM)
    shutil.rmtree(bare / "vendor" / "charts" / "tools")
    assert cli.main(["build", str(bare), "-o", str(tmp_path / "out")]) == 0
    capsys.readouterr()
    assert cli.main(["render", str(bare), "--cluster", "prod-1"]) == cli.EXIT_ERRORS
    err = capsys.readouterr().err
    assert f"error[{codes.RELEASE_CHART_NOT_VENDORED}]" in err and "gopc chart add" in err


@pytest.mark.asyncio
async def test_hover_on_a_release_field_shows_its_doc_and_effective_values(tmp_path):
    from test_lsp import Session, hover_at

    (tmp_path / "main.gop").write_text(PROGRAM, encoding="utf-8")
    session = await Session.start(tmp_path)
    try:
        uri = session.open("main.gop")
        await session.diagnostics(uri, what="analysis")
        text = await hover_at(session, uri, 'remediation = "uninstall"', 3)
        assert "What a failed upgrade is undone by." in text
        assert "**Effective `upgrade.remediation` of release `podinfo`:**" in text
        assert '- env `staging`: `"rollback"`' in text
        assert f'- env `prod`: `"uninstall"` — `env prod` (env overlay, main.gop:{line_of("uninstall")})' in text
        text = await hover_at(session, uri, "  install.crds", 11)
        assert "What to do with the chart's CustomResourceDefinitions." in text
        assert f'- env `prod`: `"CreateReplace"` — `release redis` (release, main.gop:{line_of("CreateReplace")})' in text
    finally:
        await session.stop()


def test_alerts_watch_the_releases_and_their_sources_in_flux_system(tmp_path):
    (tmp_path / "main.gop").write_text(PROGRAM + 'provider slack { type = "slack" }\n'
                                       'alert failures { provider = slack, kinds = ["HelmRelease", "OCIRepository"] }\n',
                                       encoding="utf-8")
    files, _ = repository(analyse([tmp_path]))
    alert = rt.parse_docs(files["clusters/prod-1/notifications.yaml"])[1]
    assert alert["spec"]["eventSources"] == [
        {"kind": "HelmRelease", "name": "*", "namespace": "flux-system"},
        {"kind": "HelmRelease", "name": "*", "namespace": "web"},
        {"kind": "OCIRepository", "name": "*", "namespace": "flux-system"}]
    rt.flux_validate([alert])


def test_an_app_and_a_release_of_one_name_layer_apart(tmp_path):
    cache = rt.helm_package(make_chart(tmp_path / "charts", "cache", "0.1.0"), tmp_path)
    vendor_package(tmp_path, "https://charts.example.com", "cache", cache.read_bytes(), [])
    (tmp_path / "main.gop").write_text('''
source flux-system { url = "https://github.com/acme/fleet" }
app cache { image { repository = "ghcr.io/acme/cache", tag = "1.0.0" } }
release cache { chart { repository = "https://charts.example.com", name = "cache" } }
env prod where environment == "prod" {
  app cache { replicas = 3 }
  release cache { values.replicaCount = 5 }
}
cluster prod-1 { labels { environment = "prod" } }
''', encoding="utf-8")
    analysis = analyse([tmp_path])
    assert [d.message for d in analysis.diagnostics] == []
    cluster = analysis.fleet.clusters["prod-1"]
    assert cluster.instances["cache"].values["replicas"] == 3
    assert cluster.releases["cache"].values["values"] == {"replicaCount": 5}


@pytest.fixture
def chart_repository(program, tmp_path):
    """The vendored podinfo packages served as a Helm repository (index.yaml) on 127.0.0.1."""
    import functools
    import http.server
    import shutil
    import threading

    served = tmp_path / "repository"
    served.mkdir()
    for package in sorted((program / "vendor" / "charts" / "podinfo").glob("*/*.tgz")):
        shutil.copy(package, served)
    port = rt.free_port()
    rt.run_tool([rt.helm_bin(), "repo", "index", served, "--url", f"http://127.0.0.1:{port}"])
    handler = functools.partial(http.server.SimpleHTTPRequestHandler, directory=str(served))
    server = http.server.ThreadingHTTPServer(("127.0.0.1", port), handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        server.shutdown()
        server.server_close()


def test_render_equals_helm_template_of_the_charts_pulled_from_a_repository_and_a_registry(
        tree, analysis, program, chart_repository, oci_registry, tmp_path):
    """What Flux would pull (the newest podinfo matching 6.x from a Helm repository; redis 1.2.x
    from an OCI registry) templated with the HelmRelease's values is what render shows."""
    package = next((program / "vendor" / "charts" / "redis").glob("*/*.tgz"))
    rt.helm_push(package, oci_registry.url("charts"))
    built = releases_of(kustomize_stages(tree, "prod-2"))
    pulled = {"podinfo": ("podinfo", ["--repo", chart_repository, "--version", "6.x"]),
              "redis": (f"{oci_registry.url('charts')}/redis", ["--version", "1.2.x", "--plain-http"])}
    for name, (chart, flags) in pulled.items():
        spec = built[name]["spec"]
        values = tmp_path / f"{name}.json"
        values.write_text(json.dumps(spec.get("values", {})))
        expected = rt.helm_template(chart, [values], release=spec["releaseName"], namespace=spec["targetNamespace"],
                                    extra_args=["--skip-tests", "--include-crds", *flags])
        key = lambda doc: (doc["kind"], doc["metadata"]["name"])  # noqa: E731
        rendered = release_objects(analysis.fleet, "prod-2", name, caches=analysis.lowering)
        assert sorted(rendered, key=key) == sorted(expected, key=key), name
        assert any(doc["metadata"].get("labels", {}).get("helm.sh/chart") == {"podinfo": "podinfo-6.5.0",
                                                                              "redis": "redis-1.2.3"}[name]
                   for doc in rendered)


def test_a_key_kustomize_cannot_read_in_a_release_own_values_is_e0703(program, tmp_path):
    key = "flag-<&>" + "x" * 1000  # 1025 characters in Go's JSON: kustomize reads at most 1024
    root = with_charts(program, tmp_path / "fleet", PROGRAM.replace("podAnnotations { team = \"web\" }",
                                                                    f'podAnnotations {{ team = "web", "{key}" = "x" }}'))
    diagnostics = analyse([root]).diagnostics
    assert [d.code for d in diagnostics] == [codes.KEY_TOO_LONG]
    assert "a release's own values go into its HelmRelease" in diagnostics[0].message
    assert (root / "main.gop").read_text()[diagnostics[0].span.start:].startswith(f'"{key}"')


def test_under_tenant_isolation_a_release_namespace_gets_no_tenant_rbac(program, tmp_path):
    analysis = analyse([with_charts(program, tmp_path / "fleet", PROGRAM + 'delivery { serviceAccountName = "tenant" }\n')])
    assert [d.message for d in analysis.diagnostics] == []
    files, _ = repository(analysis)
    assert "infrastructure/namespaces/web/rbac.yaml" in files  # the app's
    assert "infrastructure/namespaces/cache/namespace.yaml" in files and "infrastructure/namespaces/cache/rbac.yaml" not in files
    release = yaml.safe_load(files["releases/base/redis/release.yaml"])
    assert "serviceAccountName" not in release["spec"]  # applied with Flux's own rights, not the tenant's


def test_the_renderer_text_is_the_yaml_of_render_cluster(analysis):
    from gop.compiler.emit.yaml import dump_all
    from gop.compiler.lower.flux import ClusterRenderer

    renderer = ClusterRenderer(analysis.fleet, analysis.lowering)
    for cluster in sorted(analysis.fleet.clusters):
        objects = render_cluster(analysis.fleet, cluster, include_flux=True, caches=analysis.lowering)
        assert renderer.text(cluster, include_flux=True) == dump_all(objects)
        assert sum(doc["kind"] == "Deployment" for doc in objects) == len(analysis.fleet.clusters[cluster].releases) + 1
