"""Comprehensions and context interpolation, end to end.

- A `for` over a table builds the same repository as the declarations written out by hand.
- Context values (`${app.name}`, `${env.name}`, `${cluster.name}`, `${cluster.labels.KEY}`, `??`)
  at every layer (the app's own body, an env's `all` and `app` blocks, a selector overlay, a
  cluster's `app` block), and in a resource, resolve per cluster: each instance's effective values are what the
  labels say (an oracle written here, not the evaluator's), the values the lowering gives each
  HelmRelease (chart values < env < components < cluster patch) are exactly those, and with the
  real tools (`kubectl kustomize` of the tree, `helm template` of its charts) every cluster builds
  to `gopc render`'s objects, whose Deployments carry those values.
- `gopc explain` names the generating `for` and row, and shows a context string with its value.
"""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest
from e2e import Written, build_cluster, canonical, find, kustomize_all
from test_flux_tools import write_repository

from gop.compiler.commands.explain import explain_json, explain_text
from gop.compiler.lower.flux import plan, render_cluster, repository_files
from gop.compiler.lower.flux.render import release_values
from gop.compiler.lower.helm import chart_files
from gop.compiler.session import analyse
from gop.compiler.values import plain

HEADER = """\
labels { environment: string, region: string, zone?: string }
source flux-system { url = "https://github.com/acme/fleet", branch = "main" }
env prod where environment == "prod" {
  all { env.STAGE = "${env.name}" }
  app cart { env.ENV_CART = "${env.name}-${app.name}" }
  app solo { env.SOLO = "${cluster.labels.region}" }
}
env dev where environment == "dev" { }
cluster eu-1 { labels { environment = "prod", region = "eu", zone = "b" } }
cluster eu-2 {
  labels { environment = "prod", region = "eu" }
  app cart { env.OWN = "${cluster.name}-${app.name}" }
}
cluster us-1 { labels { environment = "prod", region = "us" } }
cluster dev-1 { labels { environment = "dev", region = "us", zone = "c" } }
overlay mirror where region == "us" {
  all { image.repository = "mirror.example.com/${app.name}" }
}
app solo {
  image { repository = "ghcr.io/acme/solo", tag = "3.0" }
}
"""

CONTEXT = HEADER + """\
let services = { cart = { port = 8080 }, web = { port = 8081 } }
for name, svc in services {
  app "${name}" {
    image { repository = "ghcr.io/acme/${app.name}", tag = "1.0" }
    ports { http = svc.port }
    env.REGION = "${cluster.labels.region}"
    env.ZONE = "${cluster.labels.zone ?? "a"}"
    env.WHERE = "${cluster.name}/${env.name}"
  }
}
app api {
  image { repository = "ghcr.io/acme/api", tag = "2.0" }
  env.REGION = "${cluster.labels.region}"
}
resource cfg {
  apiVersion = "v1"
  kind = "ConfigMap"
  namespace = "default"
  data.WHERE = "${resource.name}@${cluster.name}"
}
"""


def expected_env(app: str, cluster: str, labels: dict, env: str) -> dict:
    """What the program above says an app's environment variables are on a cluster."""
    values = {"REGION": labels["region"]} if app != "solo" else {}
    if app not in ("api", "solo"):
        values |= {"ZONE": labels.get("zone", "a"), "WHERE": f"{cluster}/{env}"}
    if env == "prod":
        values["STAGE"] = "prod"
    if env == "prod" and app == "cart":
        values["ENV_CART"] = "prod-cart"
    if env == "prod" and app == "solo":
        values["SOLO"] = labels["region"]
    if cluster == "eu-2" and app == "cart":
        values["OWN"] = "eu-2-cart"
    return values


def analysed(directory: Path, text: str):
    directory.mkdir(parents=True, exist_ok=True)
    (directory / "main.gop").write_text(text, encoding="utf-8")
    analysis = analyse([directory])
    assert [d.message for d in analysis.diagnostics if d.severity.label == "error"] == []
    return analysis


@pytest.fixture(scope="module")
def analysis(tmp_path_factory):
    return analysed(tmp_path_factory.mktemp("context"), CONTEXT)


def test_effective_values_follow_each_clusters_context(analysis):
    fleet = analysis.fleet
    seen = 0
    for cluster, model in fleet.clusters.items():
        for app, instance in model.instances.items():
            assert plain(instance.values)["env"] == expected_env(app, cluster, model.labels, model.env), (cluster, app)
            mirrored = model.labels["region"] == "us"
            assert instance.values["image"]["repository"] == ("mirror.example.com/" if mirrored else "ghcr.io/acme/") + app
            seen += 1
    assert seen == 16


def test_the_chart_holds_the_first_clusters_values(analysis):
    """The base (the chart's values.yaml) is resolved for the first cluster by name (dev-1)."""
    assert plain(analysis.fleet.apps["cart"].base)["env"] == {"REGION": "us", "ZONE": "c", "WHERE": "dev-1/dev"}
    assert "REGION: us" in chart_files(analysis.fleet.apps["cart"])["values.yaml"]


def test_every_release_gets_exactly_the_effective_values(analysis):
    fleet = analysis.fleet
    for cluster in fleet.clusters:
        releases = plan.releases(fleet, cluster)
        assert len(releases) == 4
        for release in releases:
            instance = fleet.clusters[cluster].instances[release.app.name]
            assert plain(release_values(release)) == plain(instance.values), (cluster, release.app.name)


def test_instances_are_shared_only_where_the_context_agrees(analysis):
    """`api` reads only the region: eu-1 and eu-2 share its instance, us-1 has its own."""
    clusters = analysis.fleet.clusters
    assert clusters["eu-1"].instances["api"] is clusters["eu-2"].instances["api"]
    assert clusters["eu-1"].instances["api"] is not clusters["us-1"].instances["api"]
    assert clusters["eu-1"].instances["web"] is not clusters["eu-2"].instances["web"]  # cluster.name


def test_the_tree_builds_to_the_rendered_objects_on_every_cluster(analysis, tmp_path):
    fleet = analysis.fleet
    files = write_repository(fleet, tmp_path)
    written = Written(fleet, tmp_path, files, kustomize_all(tmp_path, files))
    for cluster, model in sorted(fleet.clusters.items()):
        workdir = tmp_path / f"work-{cluster}"
        workdir.mkdir()
        build = build_cluster(written, cluster, workdir)
        assert canonical(build.everything) == canonical(render_cluster(fleet, cluster, include_flux=True)), cluster
        for app in model.instances:
            deployment = find(build.rendered, "Deployment", app, app)
            variables = {item["name"]: item["value"] for item in deployment["spec"]["template"]["spec"]["containers"][0].get("env", [])}
            assert variables == expected_env(app, cluster, model.labels, model.env), (cluster, app)
        assert find(build.everything, "ConfigMap", "cfg", "default")["data"] == {"WHERE": f"cfg@{cluster}"}


def test_explain_names_the_for_and_row_and_resolves_context(analysis):
    text = explain_text(analysis, "eu-2", "cart.env")
    assert re.search(r"\(app cart is generated by the `for` at \S*main\.gop:23:1 from the row at \S*main\.gop:22:18\)", text)
    assert '"${cluster.name}-${app.name}" -> "eu-2-cart"' in text
    assert "generated" not in explain_text(analysis, "eu-2", "api.env")


def test_explain_json_gives_a_context_string_as_written_and_its_value(analysis):
    document = json.loads(explain_json(analysis, "eu-2", "cart.env.OWN"))
    assert document["value"] == "eu-2-cart"
    assert [layer["value"] for layer in document["layers"] if layer["effective"]] == ["${cluster.name}-${app.name}"]


HAND_WRITTEN = HEADER + """\
app cart {
  image { repository = "ghcr.io/acme/cart", tag = "1.0" }
  ports { http = 8080 }
}
app web {
  image { repository = "ghcr.io/acme/web", tag = "1.0" }
  ports { http = 8081 }
}
"""

GENERATED = HEADER + """\
let services = [{ name = "cart", port = 8080 }, { name = "web", port = 8081 }]
for svc in services {
  app "${svc.name}" {
    image { repository = "ghcr.io/acme/${svc.name}", tag = "1.0" }
    ports { http = svc.port }
  }
}
"""


def test_a_for_builds_the_same_repository_as_the_declarations_it_generates(tmp_path):
    def files(name: str, text: str) -> dict[str, str]:
        fleet = analysed(tmp_path / name, text).fleet
        charts = {f"charts/{app.name}/{path}": text for app in fleet.apps.values() for path, text in chart_files(app).items()}
        return repository_files(fleet) | charts

    hand, generated = files("hand", HAND_WRITTEN), files("generated", GENERATED)
    assert len(hand) > 20 and hand == generated


def test_a_generated_declaration_records_its_for_member_and_row(analysis):
    resolution = analysis.resolution
    cart = resolution.resources["app"]["cart"]
    comprehension, member, row = resolution.generated[id(cart)]
    assert comprehension in resolution.comprehensions and member in comprehension.decls
    assert CONTEXT[row.start:row.end] == "cart = { port = 8080 }"
    assert id(resolution.resources["app"]["api"]) not in resolution.generated
    assert list(resolution.resources["app"]) == ["solo", "cart", "web", "api"]  # where the `for` stands


TEMPLATED = HEADER + """\
defaults for app {
  env.REGION = "${cluster.labels.region}"
}
template web-service for app {
  image { repository = "ghcr.io/acme/${app.name}", tag = "1.0" }
  env.WHERE = "${cluster.name}/${env.name}"
}
let services = { cart = { port = 8080 }, web = { port = 8081 } }
for name, svc in services {
  app "${name}" uses web-service {
    ports { http = svc.port }
  }
}
"""


def test_templates_and_defaults_read_the_context_of_each_app_and_cluster(tmp_path):
    fleet = analysed(tmp_path / "templated", TEMPLATED).fleet
    assert plain(fleet.apps["web"].base)["image"]["repository"] == "ghcr.io/acme/web"
    for cluster, model in fleet.clusters.items():
        for release in plan.releases(fleet, cluster):
            app, instance = release.app.name, model.instances[release.app.name]
            values = plain(instance.values)
            assert plain(release_values(release)) == values, (cluster, app)
            if app in ("cart", "web"):
                mirrored = model.labels["region"] == "us"
                assert values["image"]["repository"] == ("mirror.example.com/" if mirrored else "ghcr.io/acme/") + app
                assert values["env"]["REGION"] == model.labels["region"]
                assert values["env"]["WHERE"] == f"{cluster}/{model.env}"
