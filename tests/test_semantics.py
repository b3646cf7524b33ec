"""Semantics of the shop example: resolve -> typecheck -> evaluate (the `Fleet` model).

- examples/shop checks with no error and no warning;
- facts of its fleet: layered values, where apps run, and where each value came from;
- deliberately broken copies of examples/shop (one edit each) give the expected code at
  the expected line and column, with a hint;
- properties (hypothesis): the order of the declarations - shuffled within and across
  files - changes neither the evaluated fleet (plain values, origins' layers and sources)
  nor the diagnostics, and a conflict is reported whichever declaration comes first.
"""

from __future__ import annotations

import functools
import shutil
import tempfile
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from gop.compiler.syntax import ast
from gop.compiler.diagnostics import Severity
from gop.compiler.session import analyse
from gop.compiler.fleet.model import Layer
from gop.compiler.values import plain
from gop.compiler.syntax.parser import parse
from gop.compiler.diagnostics.formats import render_text

REPO = Path(__file__).resolve().parent.parent
SHOP = REPO / "examples" / "shop"
PROD_OUTSIDE_CHINA = ("prod-eu-1", "prod-us-1")


@pytest.fixture(scope="module")
def shop():
    return analyse([SHOP])


def line_of(path: Path, needle: str) -> int:
    """The 1-based line of the only occurrence of `needle` in the file."""
    text = path.read_text(encoding="utf-8")
    assert text.count(needle) == 1, f"{needle!r} is not unique in {path.name}"
    return text[: text.index(needle)].count("\n") + 1


def origin_line(analysis, origin) -> int:
    return analysis.program.sources[origin.span.file].position(origin.span.start).line + 1


# ---- the example is clean ---------------------------------------------------------------------


def test_the_shop_checks_without_errors_or_warnings(shop):
    assert shop.diagnostics == []
    assert shop.fleet is not None


def test_the_shop_clusters_are_bound_to_their_envs(shop):
    fleet = shop.fleet
    assert {name: env.clusters for name, env in fleet.envs.items()} == {
        "dev": ("dev-us-1",),
        "prod": ("prod-cn-1", "prod-eu-1", "prod-us-1"),
        "staging": ("staging-cn-1", "staging-eu-1"),
    }
    assert {name: cluster.env for name, cluster in fleet.clusters.items()} == {
        "dev-us-1": "dev", "staging-eu-1": "staging", "staging-cn-1": "staging",
        "prod-us-1": "prod", "prod-eu-1": "prod", "prod-cn-1": "prod",
    }
    assert fleet.clusters["prod-cn-1"].labels == {"environment": "prod", "region": "cn-north-1", "tier": "silver"}


# ---- facts of the fleet -----------------------------------------------------------------------


def test_a_cluster_override_beats_the_env(shop):
    instance = shop.fleet.clusters["prod-eu-1"].instances["checkout"]
    assert instance.values["replicas"] == 8
    origin = instance.origins[("replicas",)]
    assert (origin.layer, origin.source) == (Layer.CLUSTER, "cluster prod-eu-1")
    assert origin_line(shop, origin) == line_of(SHOP / "clusters.gop", "app checkout { replicas = 8 }")
    assert instance.cluster_values == {"replicas": 8}
    other = shop.fleet.clusters["prod-us-1"].instances["checkout"]
    assert other.values["replicas"] == 6 and other.origins[("replicas",)].source == "env prod"


def test_a_selector_overlay_changes_the_ingress_class_in_china_only(shop):
    clusters = shop.fleet.clusters
    cn = clusters["prod-cn-1"].instances["web"]
    assert cn.values["ingress"]["className"] == "nginx-cn"
    origin = cn.origins[("ingress", "className")]
    assert (origin.layer, origin.source) == (Layer.SELECTOR, "overlay cn-ingress")
    assert origin_line(shop, origin) == line_of(SHOP / "envs.gop", 'ingress.className = "nginx-cn"')
    assert clusters["staging-cn-1"].instances["web"].values["ingress"]["className"] == "nginx-cn"
    for name in ("prod-eu-1", "prod-us-1", "staging-eu-1", "dev-us-1"):
        web = clusters[name].instances["web"]
        assert web.values["ingress"]["className"] == "nginx"
        assert web.origins[("ingress", "className")].layer is Layer.APP


def test_dev_clusters_run_two_replicas_that_log_debug(shop):
    dev = [c for c in shop.fleet.clusters.values() if c.env == "dev"]
    assert dev
    for cluster in dev:
        assert cluster.instances
        for instance in cluster.instances.values():
            assert instance.values["replicas"] == 2
            assert instance.values["values"]["logLevel"] == "debug"
            assert instance.values["image"]["pullPolicy"] == "IfNotPresent"
            for path in (("replicas",), ("values", "logLevel")):
                origin = instance.origins[path]
                assert (origin.layer, origin.source) == (Layer.ENV, "env dev")
    assert shop.fleet.clusters["dev-us-1"].instances["web"].origins[("replicas",)].span.file.endswith("envs.gop")


def test_recommendations_run_only_on_prod_clusters_outside_china(shop):
    fleet = shop.fleet
    assert fleet.apps["recommendations"].clusters == PROD_OUTSIDE_CHINA
    for name, cluster in fleet.clusters.items():
        expected = cluster.labels["environment"] == "prod" and cluster.labels["region"] != "cn-north-1"
        assert ("recommendations" in cluster.instances) == expected, name
        assert {"cart", "checkout", "web"} <= set(cluster.instances)


def test_env_values_apply_to_every_app_of_the_env(shop):
    for cluster in shop.fleet.clusters.values():
        if cluster.env != "prod":
            continue
        for instance in cluster.instances.values():
            values = plain(instance.values)
            assert values["image"]["pullPolicy"] == "Always"
            assert values["resources"] == {"requests": {"cpu": "250m", "memory": "256Mi"}, "limits": {"cpu": "1", "memory": "512Mi"}}
            assert values["values"]["logLevel"] == "warn"
    web = plain(shop.fleet.clusters["prod-us-1"].instances["web"].values)
    assert web["autoscaling"] == {"min": 6, "max": 20, "cpu": 70}
    assert web["ingress"]["tls"] is True and web["ingress"]["tlsSecret"] == "web-tls"
    assert "autoscaling" not in shop.fleet.clusters["staging-eu-1"].instances["web"].values


def test_origins_name_the_layer_and_the_line(shop):
    checkout = shop.fleet.clusters["prod-us-1"].instances["checkout"]
    timeout = checkout.origins[("values", "paymentTimeout")]
    assert (timeout.layer, timeout.source) == (Layer.APP, "app checkout")
    assert origin_line(shop, timeout) == line_of(SHOP / "apps.gop", "paymentTimeout = 20s")
    assert str(checkout.values["values"]["paymentTimeout"]) == "20s"
    provider = checkout.origins[("values", "paymentProvider")]
    assert (provider.layer, provider.span, provider.source) == (Layer.DEFAULT, None, "CheckoutValues.paymentProvider")
    assert checkout.values["values"]["paymentProvider"] == "stripe"
    interval = checkout.origins[("delivery", "interval")]
    assert (interval.layer, interval.source) == (Layer.DEFAULT, "Delivery.interval")
    replicas = checkout.origins[("replicas",)]
    assert (replicas.layer, replicas.source) == (Layer.ENV, "env prod")
    assert origin_line(shop, replicas) == line_of(SHOP / "envs.gop", "replicas = 6")
    autoscaling = shop.fleet.clusters["prod-us-1"].instances["web"].origins[("autoscaling", "max")]
    assert (autoscaling.layer, autoscaling.source) == (Layer.ENV, "env prod")
    assert origin_line(shop, autoscaling) == line_of(SHOP / "envs.gop", "autoscaling { min = 6, max = 20, cpu = 70 }")


def test_app_values_are_evaluated(shop):
    checkout = plain(shop.fleet.apps["checkout"].base)
    assert checkout["env"] == {"ORDERS_URL": "https://orders.shop.example.com/v1"}
    assert checkout["secretEnv"] == {"DB_PASSWORD": {"secret": "checkout-db", "key": "password"}}
    assert checkout["delivery"]["dependsOn"] == ["cart"]
    assert checkout["namespace"] == "shop"
    web = plain(shop.fleet.apps["web"].base)
    assert web["config"] == {"robots.txt": "User-agent: *\nDisallow: /checkout"}
    assert web["ingress"] == {"host": "shop.example.com", "path": "/", "className": "nginx", "tls": False, "annotations": {}}
    assert {"service", "ingress", "autoscaling", "config"} <= shop.fleet.apps["web"].features
    assert not {"serviceAccount", "secretEnv"} & shop.fleet.apps["web"].features
    assert plain(shop.fleet.delivery.values)["registry"] == "charts"


# ---- deliberately broken copies of the example ------------------------------------------------


def broken_shop(tmp_path: Path, monkeypatch, file: str, old: str, new: str):
    """Copy examples/shop to tmp_path/shop with one edit; analyse it from tmp_path."""
    copy = tmp_path / "shop"
    shutil.copytree(SHOP, copy)
    target = copy / file
    text = target.read_text(encoding="utf-8")
    assert text.count(old) == 1, f"{old!r} is not unique in {file}"
    target.write_text(text.replace(old, new), encoding="utf-8")
    monkeypatch.chdir(tmp_path)
    return analyse(["shop"]), f"shop/{file}", target.read_text(encoding="utf-8")


def position(text: str, needle: str) -> tuple[int, int]:
    offset = text.index(needle)
    return text[:offset].count("\n") + 1, offset - text.rfind("\n", 0, offset)


BROKEN = {
    "misspelt-region-value": dict(
        file="clusters.gop", old='region = "cn-north-1", tier = "silver"', new='region = "cn-nort-1", tier = "silver"',
        at='"cn-nort-1"', code="E0402", note='did you mean "cn-north-1"?', fix='"cn-north-1"'),
    "replicas-out-of-range": dict(
        file="apps.gop", old="  replicas = 3\n", new="  replicas = 3000\n",
        at="3000", code="E0302", note="allowed: from 0 to 1000", fix=None),
    "unknown-field": dict(
        file="apps.gop", old="  replicas = 1\n", new="  replicaz = 1\n",
        at="replicaz", code="E0304", note="did you mean `replicas`?", fix="replicas"),
    "conflicting-overlays": dict(
        file="envs.gop", old='  app web { ingress.className = "nginx-cn" }\n}\n',
        new='  app web { ingress.className = "nginx-cn" }\n}\n\n'
            'overlay cn-ingress-alt where region == "cn-north-1" {\n  app web { ingress.className = "traefik" }\n}\n',
        at='ingress.className = "traefik"', code="E0501", note="more specific layer", fix=None),
    "bad-duration": dict(
        file="fleet.gop", old="  interval = 1m\n", new="  interval = 1m1h\n",
        at="1m1h", code="E0107", note="from larger to smaller", fix=None),
    "selector-with-undeclared-label": dict(
        file="envs.gop", old='overlay cn-ingress where region ==', new='overlay cn-ingress where regoin ==',
        at="regoin", code="E0401", note="did you mean `region`?", fix="region"),
    "import-cycle": dict(
        file="lib/types.gop", old="package lib\n", new='package lib\n\nimport ".."\n',
        at='import ".."', code="E0204", note="move the shared declarations", fix=None),
}


@pytest.mark.parametrize("case", sorted(BROKEN))
def test_a_broken_copy_of_the_shop_reports_the_edit(case, tmp_path, monkeypatch):
    spec = BROKEN[case]
    analysis, file, text = broken_shop(tmp_path, monkeypatch, spec["file"], spec["old"], spec["new"])
    line, col = position(text, spec["at"])
    sources = analysis.program.sources

    def where(diag):
        pos = sources[diag.span.file].position(diag.span.start)
        return diag.span.file, pos.line + 1, pos.column + 1

    matching = [d for d in analysis.diagnostics if d.code == spec["code"]]
    assert [where(d) for d in matching] == [(file, line, col)], render_text(analysis.diagnostics, sources)
    diag = matching[0]
    assert any(spec["note"] in note for note in diag.notes), diag.notes
    if spec["fix"] is not None:
        assert [f.replacement for f in diag.fixes] == [spec["fix"]]
    assert f"{file}:{line}:{col}: error[{spec['code']}]" in render_text(analysis.diagnostics, sources)
    # Nothing else goes wrong elsewhere: every other error stands on the edited line.
    assert {where(d)[:2] for d in analysis.diagnostics if d.is_error} == {(file, line)}


def test_the_conflict_names_the_other_overlay(tmp_path, monkeypatch):
    spec = BROKEN["conflicting-overlays"]
    analysis, file, text = broken_shop(tmp_path, monkeypatch, spec["file"], spec["old"], spec["new"])
    (conflict,) = [d for d in analysis.diagnostics if d.code == "E0501"]
    assert conflict.message == ('`ingress.className` is set twice at the selector overlay layer, to "nginx-cn" and "traefik", '
                                'on clusters prod-cn-1, staging-cn-1 (matched by overlay cn-ingress and overlay cn-ingress-alt)')
    (related,) = conflict.related
    assert related.span.file == file
    assert text[related.span.start : related.span.end] == 'ingress.className = "nginx-cn"'


# ---- cascades and known semantic bugs -----------------------------------------------------------


def test_an_invalid_label_value_is_not_also_a_missing_label(tmp_path, monkeypatch):
    (tmp_path / "a.gop").write_text(
        'labels { environment: "dev" | "prod" }\ncluster c1 {\n  labels { environment = "dve" }\n}\n', encoding="utf-8"
    )
    monkeypatch.chdir(tmp_path)
    assert [d.code for d in analyse(["."]).diagnostics] == ["E0402"]


AGREEING_OVERLAYS = (
    'labels {\n  environment: "dev"\n  region: "eu"\n}\n'
    'app web {\n  image { repository = "ghcr.io/acme/web", tag = "1.0" }\n}\n'
    'env dev where environment == "dev" { }\n'
    'cluster c1 {\n  labels { environment = "dev", region = "eu" }\n}\n'
    'source flux-system { url = "https://github.com/acme/fleet" }\n'
)
OVERLAY_A = 'overlay a where region == "eu" { app web { replicas = 4 } }\n'
OVERLAY_B = 'overlay b where environment == "dev" { app web { replicas = 4 } }\n'


def test_the_origin_of_a_value_two_overlays_agree_on_does_not_depend_on_their_order(tmp_path, monkeypatch):
    sources = []
    for index, order in enumerate((OVERLAY_A + OVERLAY_B, OVERLAY_B + OVERLAY_A)):
        directory = tmp_path / f"order{index}"
        directory.mkdir()
        (directory / "a.gop").write_text(AGREEING_OVERLAYS + order, encoding="utf-8")
        analysis = analyse([directory])
        assert analysis.diagnostics == []
        sources.append(analysis.fleet.clusters["c1"].instances["web"].origins[("replicas",)].source)
    assert sources[0] == sources[1]


# ---- properties: declaration order does not matter ----------------------------------------------

ROOT_FILES = ("apps.gop", "clusters.gop", "envs.gop", "fleet.gop")
HEADER = 'package shop\n\nimport "./lib"\n\n'


def declaration_chunks(text: str) -> list[str]:
    """The text of each declaration but `package` and `import`, with the doc comment above it.

    A declaration runs from its doc comment to the doc comment or start of the next one (its
    own span is not used for the end: the chunks must not depend on the parser's spans)."""
    decls = parse("x.gop", text).file.decls
    starts = [_doc_start(text, decl.span.start) for decl in decls] + [len(text)]
    return [
        text[start:end].strip()
        for decl, start, end in zip(decls, starts, starts[1:])
        if not isinstance(decl, (ast.PackageDecl, ast.ImportDecl))
    ]


def _doc_start(text: str, start: int) -> int:
    """Move `start` up over the `///` lines right above it."""
    while start > 0:
        previous_line = text.rfind("\n", 0, start - 1) + 1
        if not text[previous_line:start].lstrip().startswith("///"):
            break
        start = previous_line
    return start


SHOP_CHUNKS = [chunk for name in ROOT_FILES for chunk in declaration_chunks((SHOP / name).read_text(encoding="utf-8"))]
CONFLICTING_OVERLAY = 'overlay cn-ingress-alt where region == "cn-north-1" {\n  app web { ingress.className = "traefik" }\n}'
BROKEN_CHUNKS = [
    CONFLICTING_OVERLAY,
    'app extra {\n  image { repository = "ghcr.io/acme/extra", tag = "1.0" }\n  replicaz = 2\n}',
    'overlay nowhere where region == "us-east-1" and environment == "staging" { }',
    'env also-prod where environment == "prod" and region == "us-east-1" { }',
]
# Clusters whose values depend on which of two conflicting declarations wins.
CONFLICTED_CLUSTERS = ("prod-cn-1", "staging-cn-1", "prod-us-1")
# Messages that list the two sides in declaration or file order; their spans identify them.
ORDERED_MESSAGES = ("E0404", "E0501")


def test_the_chunks_cover_the_shop():
    assert len(SHOP_CHUNKS) == 23
    assert any(chunk.startswith("/// Takes payments and places orders.\napp checkout {") for chunk in SHOP_CHUNKS)
    assert all(parse("c.gop", chunk).diagnostics == () for chunk in SHOP_CHUNKS + BROKEN_CHUNKS)


@st.composite
def layouts(draw, chunks: list[str]) -> dict[str, list[str]]:
    """The chunks shuffled and dealt into 1-4 files."""
    order = draw(st.permutations(chunks))
    files = draw(st.integers(1, 4))
    owners = draw(st.lists(st.integers(0, files - 1), min_size=len(order), max_size=len(order)))
    layout: dict[str, list[str]] = {}
    for chunk, owner in zip(order, owners):
        layout.setdefault(f"part{owner}.gop", []).append(chunk)
    return layout


def _root_sources(folder: str, names: list[str]) -> list[str]:
    """For copytree: everything of the shop but its own .gop files (lib/, secrets/ stay)."""
    return [name for name in names if Path(folder) == SHOP and name.endswith(".gop")]


def analyse_layout(layout: dict[str, list[str]]):
    with tempfile.TemporaryDirectory() as directory:
        root = Path(directory) / "shop"
        shutil.copytree(SHOP, root, ignore=_root_sources)
        for name, chunks in layout.items():
            (root / name).write_text(HEADER + "\n\n".join(chunks) + "\n", encoding="utf-8")
        analysis = analyse([root])
        return fleet_summary(analysis), diagnostic_summary(analysis)


def _origins(origins) -> dict:
    return {path: (origin.layer, origin.source) for path, origin in origins.items()}


def fleet_summary(analysis) -> dict:
    fleet = analysis.fleet
    return {
        "apps": {name: (plain(app.base), _origins(app.base_origins), app.clusters, app.features, app.namespace)
                 for name, app in fleet.apps.items()},
        "envs": {name: (env.clusters, plain(env.app_values)) for name, env in fleet.envs.items()},
        "clusters": {
            name: (cluster.env, plain(cluster.labels), {
                app: (plain(i.values), _origins(i.origins), plain(i.env_values), plain(i.cluster_values))
                for app, i in cluster.instances.items()
            })
            for name, cluster in fleet.clusters.items()
        },
        "settings": [plain(s.values) for group in (fleet.sources, fleet.registries, fleet.receivers, fleet.providers,
                                                   fleet.alerts, fleet.automations) for s in group.values()]
                    + [plain(fleet.delivery.values)],
    }


def diagnostic_summary(analysis) -> list:
    """Each diagnostic by code, severity, message and the text of its spans (their places move);
    a sorted list, so that a problem reported twice shows."""
    def snippet(span):
        return analysis.program.sources[span.file].text[span.start : span.end]

    return sorted(
        ((d.code, d.severity, None if d.code in ORDERED_MESSAGES else d.message,
          frozenset([snippet(d.span)] + [snippet(r.span) for r in d.related]))
         for d in analysis.diagnostics),
        key=repr,
    )


@functools.cache
def original() -> tuple[dict, list]:
    """The shop as written, regrouped into its own files: what every shuffle must equal."""
    return analyse_layout({name: declaration_chunks((SHOP / name).read_text(encoding="utf-8")) for name in ROOT_FILES})


@functools.cache
def broken_original() -> tuple[dict, list]:
    return analyse_layout({"part0.gop": SHOP_CHUNKS + BROKEN_CHUNKS})


def test_the_regrouped_shop_is_the_shop(shop):
    assert original()[1] == []
    assert original()[0] == fleet_summary(shop)


@given(layouts(SHOP_CHUNKS))
@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.too_slow])
def test_declaration_order_does_not_change_the_fleet(layout):
    fleet, diagnostics = analyse_layout(layout)
    assert diagnostics == []
    assert fleet == original()[0]


def test_the_broken_shop_reports_each_problem_once():
    codes = sorted((code, severity) for code, severity, _, _ in broken_original()[1])
    assert codes == [("E0304", Severity.ERROR), ("E0404", Severity.ERROR), ("E0501", Severity.ERROR), ("W0406", Severity.WARNING)]
    spans = {code: spans for code, _, _, spans in broken_original()[1]}
    assert spans["E0501"] == {'ingress.className = "nginx-cn"', 'ingress.className = "traefik"'}
    assert spans["E0404"] == {"prod-us-1", 'environment == "prod"', 'environment == "prod" and region == "us-east-1"'}


@given(layouts(SHOP_CHUNKS + BROKEN_CHUNKS))
@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.too_slow])
def test_declaration_order_does_not_change_the_diagnostics(layout):
    fleet, diagnostics = analyse_layout(layout)
    assert diagnostics == broken_original()[1]
    unaffected = {name: value for name, value in fleet["clusters"].items() if name not in CONFLICTED_CLUSTERS}
    assert unaffected == {name: value for name, value in broken_original()[0]["clusters"].items() if name in unaffected}


def test_a_misspelt_field_in_an_all_block_is_reported_once_not_once_per_app(tmp_path):
    copy = tmp_path / "shop"
    shutil.copytree(REPO / "examples" / "shop", copy)
    envs = copy / "envs.gop"
    envs.write_text(envs.read_text(encoding="utf-8").replace("    replicas = 2\n", "    replica = 2\n", 1), encoding="utf-8")
    diagnostics = analyse([copy]).diagnostics
    assert [(d.code, d.message) for d in diagnostics] == [("E0304", "`App` has no field `replica`")]
    assert diagnostics[0].fixes[0].replacement == "replicas"


def test_a_declaration_with_a_syntax_error_gets_no_missing_field_errors(tmp_path):
    (tmp_path / "a.gop").write_text('app web {\n  replicas 3\n  image { repository = "r", tag = "1" }\n', encoding="utf-8")
    (tmp_path / "b.gop").write_text("app api {\n  replicas = 2\n}\n", encoding="utf-8")
    codes = [(d.code, d.span.file.rsplit("/", 1)[-1]) for d in analyse([tmp_path]).diagnostics]
    assert ("E0305", "a.gop") not in codes  # its `{` is never closed: that is the error to fix
    assert ("E0305", "b.gop") in codes  # a declaration that parsed cleanly is still checked
    assert {code for code, file in codes if file == "a.gop"} == {"E0101", "E0103"}


@pytest.mark.parametrize("layer", ["env", "overlay", "cluster"])
def test_a_delivery_setting_equal_to_the_schema_default_still_beats_the_fleet_default(tmp_path, layer):
    """The fleet's `delivery` declaration replaces the schema's defaults in the HelmReleases; a layer
    that sets the schema's value explicitly must still get it (not the fleet's)."""
    from gop.compiler.lower.flux import render_cluster

    program = tmp_path / "shop"
    shutil.copytree(REPO / "examples" / "shop", program)
    fleet_file = program / "fleet.gop"
    fleet_file.write_text(fleet_file.read_text().replace("  interval = 5m\n  timeout = 3m\n",
                                                         "  interval = 15m\n  timeout = 3m\n"), encoding="utf-8")
    block = {"env": ("envs.gop", 'env prod where environment == "prod" {\n'),
             "overlay": ("envs.gop", None), "cluster": ("clusters.gop", "cluster prod-eu-1 ")}[layer]
    if layer == "overlay":
        with (program / "envs.gop").open("a") as envs:
            envs.write('\noverlay eu-timing where region == "eu-central-1" {\n  all { delivery.interval = 5m }\n}\n')
    else:
        path = program / block[0]
        text = path.read_text()
        start = text.index(block[1])
        brace = text.index("{\n", start) + 2
        path.write_text(text[:brace] + "  all { delivery.interval = 5m }\n" + text[brace:], encoding="utf-8")
    analysis = analyse([program])
    assert not [d for d in analysis.diagnostics if d.severity is Severity.ERROR], render_text(analysis.diagnostics, analysis.program.sources)
    releases = {doc["metadata"]["name"]: doc["spec"]["interval"]
                for doc in render_cluster(analysis.fleet, "prod-eu-1", include_flux=True) if doc["kind"] == "HelmRelease"}
    assert releases and set(releases.values()) == {"5m"}, releases
    others = {doc["metadata"]["name"]: doc["spec"]["interval"]
              for doc in render_cluster(analysis.fleet, "dev-us-1", include_flux=True) if doc["kind"] == "HelmRelease"}
    assert set(others.values()) == {"15m"}, others
