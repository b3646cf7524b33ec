"""The YAML text of a cluster's render (`ClusterRenderer`, what `gopc render` prints) is the
text of its objects (`render_cluster`) byte for byte, however many clusters one renderer has
rendered before; and the helpers it is fast with agree with the slow forms they replace."""

from __future__ import annotations

import dataclasses
from pathlib import Path

import pytest
from fleet_fixtures import OVERLAYS_PROGRAM, VARIANTS, shop_fleet, write_shop_root
from hypothesis import given
from hypothesis import strategies as st

from gop.compiler.lower.flux import ClusterRenderer, render_cluster
from gop.compiler.emit.gojson import go_string
from gop.compiler.values import merge, plain, plain_merge
from gop.compiler.semantic.types import Duration, Quantity, SecretRef
from gop.compiler.emit.yaml import dump_all
from gop.compiler.session import analyse

EXAMPLES = Path(__file__).resolve().parent.parent / "examples"


@pytest.fixture(scope="module")
def program(tmp_path_factory) -> Path:
    return write_shop_root(tmp_path_factory.mktemp("program"))


@pytest.mark.parametrize("variant", sorted(VARIANTS))
def test_one_renderer_for_every_cluster_prints_each_clusters_objects(program, variant):
    fleet = shop_fleet(program, **VARIANTS[variant])
    renderer = ClusterRenderer(fleet)
    for include_flux in (False, True):
        for cluster in [*fleet.clusters, *reversed(fleet.clusters)]:
            expected = dump_all(render_cluster(fleet, cluster, include_flux=include_flux))
            assert renderer.text(cluster, include_flux=include_flux) == expected, (cluster, include_flux)


def test_one_renderer_for_every_cluster_prints_each_clusters_network_policies():
    fleet = analyse([EXAMPLES / "networking"]).fleet
    renderer = ClusterRenderer(fleet)
    for cluster in [*fleet.clusters, *reversed(fleet.clusters)]:
        objects = render_cluster(fleet, cluster)
        assert any(doc["kind"] == "NetworkPolicy" for doc in objects)
        assert renderer.text(cluster) == dump_all(objects), cluster


def test_the_stream_is_the_text_in_utf8_one_bytes_object_for_clusters_that_list_the_same_objects(tmp_path):
    (tmp_path / "fleet.gop").write_text(OVERLAYS_PROGRAM + 'cluster eu-3 { labels { region = "eu" } }\n', encoding="utf-8")
    fleet = analyse([tmp_path]).fleet
    renderer = ClusterRenderer(fleet)
    streams = {cluster: renderer.stream(cluster) for cluster in fleet.clusters}
    assert streams == {cluster: renderer.text(cluster).encode() for cluster in fleet.clusters}
    assert streams["eu-3"] is streams["eu-1"] and len(set(streams.values())) == len(streams) - 1
    with_flux = {cluster: renderer.stream(cluster, include_flux=True) for cluster in fleet.clusters}
    assert with_flux == {cluster: renderer.text(cluster, include_flux=True).encode() for cluster in fleet.clusters}
    assert with_flux["eu-3"] != with_flux["eu-1"]  # their syncs name them


def test_patches_that_compare_equal_but_print_differently_are_rendered_apart(program):
    """100m and 0.1 CPU are equal quantities, 1 and True equal numbers: each cluster still
    gets the text of its own values."""
    fleet = shop_fleet(program)
    shared = sorted(set.intersection(*(set(model.instances) for model in fleet.clusters.values())))[0]
    patches = [{"resources": {"requests": {"cpu": Quantity.parse("100m")}}},
               {"resources": {"requests": {"cpu": Quantity.parse("0.1")}}}, {"replicas": 1}, {"replicas": True}]
    clusters = sorted(fleet.clusters)[:len(patches)]
    for cluster, patch in zip(clusters, patches):
        instances = fleet.clusters[cluster].instances
        instances[shared] = dataclasses.replace(instances[shared], cluster_values=patch)
    renderer = ClusterRenderer(fleet)
    texts = [renderer.text(cluster) for cluster in clusters]
    assert texts == [dump_all(render_cluster(fleet, cluster)) for cluster in clusters]
    assert "cpu: 100m" in texts[0] and "cpu: '0.1'" in texts[1]


_LEAVES = st.one_of(st.integers(), st.booleans(), st.text(max_size=3), st.floats(allow_nan=False),
                    st.builds(Duration, st.fractions(min_value=0, max_value=10**6)),
                    st.sampled_from([Quantity.parse(text) for text in ("100m", "0.1", "1Gi")]),
                    st.builds(SecretRef, st.just("sops"), st.text(max_size=3), st.text(max_size=3)))
_TREES = st.recursive(_LEAVES, lambda inner: st.one_of(st.lists(inner, max_size=3), st.tuples(inner),
                                                       st.dictionaries(st.sampled_from("abc"), inner, max_size=3)),
                      max_leaves=12)


@given(st.dictionaries(st.sampled_from("abcd"), _TREES, max_size=4),
       st.dictionaries(st.sampled_from("abcd"), _TREES, max_size=4))
def test_plain_merge_is_plain_of_merge(lower, higher):
    # repr, not ==: key order and the types of equal numbers count in the rendered text
    assert repr(plain_merge(lower, plain(lower), higher)) == repr(plain(merge(lower, higher)))


def test_go_string_without_escapes_takes_the_short_way_to_the_same_text():
    for code in range(0x10000):
        char = chr(code)
        # a trailing newline sends the text through the character-by-character encoder
        assert go_string(char) == go_string(char + "\n").removesuffix('\\n"') + '"', hex(code)


def test_releases_made_of_the_same_inputs_share_their_chart_objects_and_only_those(program):
    """`SharedObjects`: a second release whose Service and ServiceAccount read the same values is
    given the first one's objects (the renderer writes each once); another namespace or other
    ports make new ones; and sharing never changes an object."""
    from gop.compiler.lower.helm.manifests import SharedObjects, chart_values, helm_template_merged

    fleet = shop_fleet(program)
    app = next(app for _, app in sorted(fleet.apps.items()) if app.base.get("ports"))
    shared = SharedObjects()
    base = chart_values(app)

    def objects(values, namespace="shop", sharing=shared):
        docs = helm_template_merged(app, values, release_name=app.name, namespace=namespace, shared=sharing)
        return {doc["kind"]: doc for doc in docs}

    first, scaled = objects(base), objects(merge(base, {"replicas": 7}))
    assert scaled["Service"] is first["Service"] and scaled["ServiceAccount"] is first["ServiceAccount"]
    assert scaled["Deployment"] is not first["Deployment"]
    elsewhere = objects(base, "elsewhere")
    assert elsewhere["Service"] is not first["Service"] and elsewhere["Service"]["metadata"]["namespace"] == "elsewhere"
    other_ports = objects(merge(base, {"ports": {"admin": 9090}}))
    assert other_ports["Service"] is not first["Service"]
    for values, namespace, got in ((base, "shop", first), (merge(base, {"replicas": 7}), "shop", scaled),
                                   (base, "elsewhere", elsewhere), (merge(base, {"ports": {"admin": 9090}}), "shop",
                                                                     other_ports)):
        assert got == objects(values, namespace, sharing=None)


def test_a_workload_is_shared_by_the_releases_whose_values_it_reads_come_from_the_same_source(program):
    """`workload_source`: the workload is made without the fields no workload reads (the ingress), so
    releases of one source that differ only there are given one workload; another source, a new one."""
    from gop.compiler.lower.helm.manifests import SharedObjects, chart_values, helm_template_merged

    fleet = shop_fleet(program)
    app = fleet.apps["web"]
    shared = SharedObjects()
    base = chart_values(app)
    elsewhere = merge(base, {"ingress": {"host": "web.example.org"}})

    def objects(values, source, sharing=shared):
        docs = helm_template_merged(app, values, release_name=app.name, namespace="shop", shared=sharing,
                                    workload_source=source)
        return {doc["kind"]: doc for doc in docs}

    first, hosted = objects(base, ("prod", "{}")), objects(elsewhere, ("prod", "{}"))
    assert hosted["Deployment"] is first["Deployment"] and hosted["Ingress"] is not first["Ingress"]
    assert hosted["Ingress"]["spec"]["rules"][0]["host"] == "web.example.org"
    assert objects(base, ("dev", "{}"))["Deployment"] is not first["Deployment"]
    assert first["Deployment"] == objects(elsewhere, None, sharing=None)["Deployment"]


def test_clusters_whose_patches_differ_only_in_what_no_workload_reads_get_their_own_objects(program):
    """The renderer's workload sources: a cluster's own ingress host (or delivery settings) leaves
    the workload shared, and every cluster still gets the text of its own values."""
    fleet = shop_fleet(program)
    clusters = sorted(cluster for cluster in fleet.clusters if cluster.startswith("prod-"))
    patches = [{"ingress": {"host": "a.example.com"}}, {"ingress": {"host": "b.example.com"}, "replicas": 3},
               {"delivery": {"releaseName": "store"}}]
    for cluster, patch in zip(clusters, patches):
        instances = fleet.clusters[cluster].instances
        instances["web"] = dataclasses.replace(instances["web"], cluster_values=patch)
    renderer = ClusterRenderer(fleet)
    texts = [renderer.text(cluster) for cluster in clusters]
    assert texts == [dump_all(render_cluster(fleet, cluster)) for cluster in clusters]
    assert "host: a.example.com" in texts[0] and "host: b.example.com" in texts[1] and "name: store" in texts[2]
