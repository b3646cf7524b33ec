"""Resources and namespace declarations, from .gop to the Flux tree, checked with the real tools.

A program with core objects (a ResourceQuota layered per env and per cluster, a LimitRange per
env, a ClusterRole), a Flux object (a HelmRepository), a custom object whose CRD a resource file
brings (a ClusterIssuer), a file of objects taking the resource's namespace, a namespace
declaration with labels shared with an app's namespace:
- it checks clean, and its repository builds: `kubectl kustomize` of every directory, and of each
  cluster's infrastructure stage equals what `gopc render --cluster` lists for it;
- every object passes kubernetes-validate --strict (core), the Flux schemas (Flux) or its CRD's
  schema (custom);
- the layout: one directory per form of a resource, the env's common form and a cluster's own;
- `gopc explain` names each layer that set a resource's value.
"""

from __future__ import annotations

import json
import os
from pathlib import Path

import jsonschema
import pytest
import yaml

import realtools as rt
from test_kubeschema import CRD_TEXT
from gop.compiler import cli
from gop.compiler.lower.flux import repository_files
from gop.compiler.lower.flux.caches import LoweringCaches
from gop.compiler.lower.flux.render import infrastructure_objects
from gop.compiler.lower.kinds import object_key
from gop.compiler.session import analyse

PROGRAM = '''package fleet

source flux-system { url = "https://github.com/acme/fleet" }

namespace shop {
  labels { "pod-security.kubernetes.io/enforce" = "restricted", team = "shop" }
  annotations { owner = "shop@acme.example" }
}

app web {
  image { repository = "ghcr.io/acme/web", tag = "1.0.0" }
  namespace = "shop"
  ports { http = 8080 }
}

resource quota where environment == "prod" {
  apiVersion = "v1"
  kind = "ResourceQuota"
  namespace = "shop"
  spec.hard { cpu = "10", memory = 32Gi, pods = 50 }
}

resource limits {
  apiVersion = "v1"
  kind = "LimitRange"
  namespace = "shop"
  spec.limits = [{ type = "Container", default { cpu = 250m, memory = 256Mi } }]
}

resource reader {
  apiVersion = "rbac.authorization.k8s.io/v1"
  kind = "ClusterRole"
  metadata.labels { team = "shop" }
  rules = [{ apiGroups = [""], resources = ["pods", "services"], verbs = ["get", "list", "watch"] }]
}

resource podinfo-repo {
  apiVersion = "source.toolkit.fluxcd.io/v1"
  kind = "HelmRepository"
  namespace = "flux-system"
  metadata.name = "podinfo"
  spec { interval = 1h, url = "https://stefanprodan.github.io/podinfo" }
}

resource issuer-crds { file = "crds/issuers.yaml" }
resource letsencrypt {
  apiVersion = "cert-manager.io/v1"
  kind = "ClusterIssuer"
  spec.acme { server = "https://acme-staging-v02.api.letsencrypt.org/directory", email = "ops@acme.example" }
}
resource policies { file = "k8s/policies.yaml", namespace = "shop" }

env prod where environment == "prod" {
  resource limits { spec.limits = [{ type = "Container", default { cpu = 1, memory = 1Gi } }] }
  resource letsencrypt { spec.acme.server = "https://acme-v02.api.letsencrypt.org/directory" }
}
env dev where environment == "dev" {}

cluster prod-1 { labels { environment = "prod" } }
cluster prod-2 {
  labels { environment = "prod" }
  resource quota { spec.hard.pods = 100 }
}
cluster prod-3 { labels { environment = "prod" } }
cluster dev-1 { labels { environment = "dev" } }
'''

CRDS = CRD_TEXT  # a ClusterIssuer's CRD (cert-manager's, cut down)

POLICIES = '''apiVersion: networking.k8s.io/v1
kind: NetworkPolicy
metadata: {name: default-deny}
spec:
  podSelector: {}
  policyTypes: [Ingress]
---
apiVersion: rbac.authorization.k8s.io/v1
kind: ClusterRoleBinding
metadata: {name: readers}
roleRef: {apiGroup: rbac.authorization.k8s.io, kind: ClusterRole, name: reader}
subjects: [{kind: Group, name: shop-readers, apiGroup: rbac.authorization.k8s.io}]
'''


@pytest.fixture(scope="module")
def program(tmp_path_factory) -> Path:
    root = tmp_path_factory.mktemp("resources")
    (root / "main.gop").write_text(PROGRAM, encoding="utf-8")
    for path, text in (("crds/issuers.yaml", CRDS), ("k8s/policies.yaml", POLICIES)):
        (root / path).parent.mkdir(parents=True, exist_ok=True)
        (root / path).write_text(text, encoding="utf-8")
    return root


@pytest.fixture(scope="module")
def analysis(program):
    return analyse([program])


@pytest.fixture(scope="module")
def tree(analysis, tmp_path_factory) -> Path:
    root = tmp_path_factory.mktemp("tree")
    for path, text in repository_files(analysis.fleet).items():
        (root / path).parent.mkdir(parents=True, exist_ok=True)
        (root / path).write_text(text, encoding="utf-8")
    return root


def test_the_program_checks_clean(analysis):
    assert [d.message for d in analysis.diagnostics] == []


def test_every_directory_builds_and_each_cluster_stage_is_what_render_lists(analysis, tree):
    for kustomization in sorted(tree.rglob("kustomization.yaml")):
        if "flux-system" not in kustomization.parts and "clusters" != kustomization.parent.parent.name:
            rt.kubectl_kustomize(kustomization.parent)
    caches = LoweringCaches(analysis.fleet)
    for cluster in sorted(analysis.fleet.clusters):
        built = rt.kubectl_kustomize(tree / "clusters" / cluster / "infrastructure")
        assert sorted(built, key=object_key) == sorted(infrastructure_objects(analysis.fleet, cluster, caches), key=object_key)


def _all_objects(analysis) -> list[dict]:
    caches = LoweringCaches(analysis.fleet)
    return [doc for cluster in sorted(analysis.fleet.clusters) for doc in infrastructure_objects(analysis.fleet, cluster, caches)]


def test_every_object_passes_its_real_schema(analysis):
    docs = _all_objects(analysis)
    custom = [doc for doc in docs if doc["apiVersion"] == "cert-manager.io/v1"]
    flux = [doc for doc in docs if rt.is_flux_doc(doc)]
    core = [doc for doc in docs if doc not in custom and doc not in flux]
    assert rt.kubernetes_validate_strict(core) == len(core) > 0
    assert rt.flux_validate(flux) == len(flux) == 4  # one per cluster
    schema = yaml.safe_load(CRDS)["spec"]["versions"][0]["schema"]["openAPIV3Schema"]
    for doc in custom:
        jsonschema.validate(doc, schema)
    assert [doc["spec"]["acme"]["server"] for doc in custom] == [
        "https://acme-staging-v02.api.letsencrypt.org/directory"] + ["https://acme-v02.api.letsencrypt.org/directory"] * 3


def test_one_directory_per_form_of_a_resource(analysis, tree):
    files = repository_files(analysis.fleet)
    quota = sorted(path for path in files if path.startswith("infrastructure/resources/quota/"))
    assert quota == ["infrastructure/resources/quota/prod/kustomization.yaml", "infrastructure/resources/quota/prod/objects.yaml",
                     "infrastructure/resources/quota/prod/prod-2/kustomization.yaml",
                     "infrastructure/resources/quota/prod/prod-2/objects.yaml"]
    assert yaml.safe_load(files["infrastructure/resources/quota/prod/prod-2/objects.yaml"])["spec"]["hard"] == {
        "cpu": "10", "memory": "32Gi", "pods": "100"}
    assert "infrastructure/resources/reader/objects.yaml" in files  # the same everywhere: one directory
    listed = yaml.safe_load(files["clusters/prod-2/infrastructure/kustomization.yaml"])["resources"]
    assert "../../../infrastructure/resources/quota/prod/prod-2" in listed
    assert "../../../infrastructure/resources/limits/prod" in listed
    dev = yaml.safe_load(files["clusters/dev-1/infrastructure/kustomization.yaml"])["resources"]
    assert not any("quota" in entry for entry in dev)


def test_objects_take_names_namespaces_and_the_namespace_declaration(analysis):
    docs = {object_key(doc): doc for doc in _all_objects(analysis)}
    assert docs[("v1", "Namespace", "", "shop")]["metadata"] == {
        "name": "shop", "labels": {"pod-security.kubernetes.io/enforce": "restricted", "team": "shop"},
        "annotations": {"owner": "shop@acme.example"}}
    assert ("source.toolkit.fluxcd.io/v1", "HelmRepository", "flux-system", "podinfo") in docs
    assert ("v1", "Namespace", "", "flux-system") not in docs  # every cluster has it
    assert ("networking.k8s.io/v1", "NetworkPolicy", "shop", "default-deny") in docs
    assert ("rbac.authorization.k8s.io/v1", "ClusterRoleBinding", "", "readers") in docs
    assert docs[("rbac.authorization.k8s.io/v1", "ClusterRole", "", "reader")]["metadata"] == {"name": "reader", "labels": {"team": "shop"}}


def test_explain_names_every_layer_of_a_resource_value(program, capsys):
    assert cli.main(["explain", "--cluster", "prod-2", "resource/quota.spec.hard.pods", str(program)]) == cli.EXIT_OK
    lines = capsys.readouterr().out.splitlines()
    assert lines[0] == 'resource/quota.spec.hard.pods on cluster prod-2 (env prod) = "100"'
    assert [line.split()[0:3] for line in lines[1:]] == [["resource", "resource", "quota"], ["*", "cluster", "override"]]


def test_the_crds_of_vendored_charts_make_their_kinds_known(tmp_path):
    """What evaluation passes as `chart_crds` (the charts' crds/ files): their kinds type resources."""
    from gop.compiler.fleet.resources import ResourceKinds

    (tmp_path / "main.gop").write_text(
        'resource le {\n  apiVersion = "cert-manager.io/v1"\n  kind = "ClusterIssuer"\n  spec.acme.sever = "x"\n}\n', encoding="utf-8")
    analysis = analyse([tmp_path])
    assert [d.code for d in analysis.diagnostics] == ["E0820"]
    decl = analysis.resolution.resources["resource"]["le"]
    loose = analysis.fleet.resources["le"].record
    analysis.checker.diagnostics.clear()
    kinds = ResourceKinds(analysis.program, analysis.resolution, analysis.checker, tmp_path, loose,
                          chart_crds=lambda: [("vendor/charts/cert-manager/1.16.2/crds/issuers.yaml", CRDS), ("broken.yaml", "a: [")])
    record = kinds.record(decl)
    assert record.name == "ClusterIssuer(cert-manager.io/v1)" and analysis.checker.diagnostics == []
    assert "server" in record.fields["spec"].type.fields["acme"].type.fields


def test_completion_offers_the_kind_schema_fields_with_their_descriptions(program):
    from gop.compiler.semantic.symbols import completions_at
    from gop.compiler.syntax.parser import parse
    from gop.lsp.project import Snapshot

    table = Snapshot(analyse([str(program)]), 0, {}, 0.0).symbols
    key = next(k for k in table.program.files if k.endswith("main.gop"))
    text = table.program.sources[key].text.replace('  spec.hard { cpu = "10"', '  spec.\n  spec.hard { cpu = "10"')
    offset = text.index("  spec.\n") + len("  spec.")
    _, items = completions_at(table, key, parse(key, text).file, text, offset)
    labels = {item.label: item for item in items}
    assert {"hard", "scopeSelector", "scopes"} == set(labels)
    assert "hard is the set of desired hard limits" in labels["hard"].doc


def test_a_crd_written_in_gop_makes_its_kind_known(tmp_path):
    (tmp_path / "main.gop").write_text('''
resource widgets {
  apiVersion = "apiextensions.k8s.io/v1"
  kind = "CustomResourceDefinition"
  metadata.name = "widgets.acme.example"
  spec {
    group = "acme.example"
    names { kind = "Widget", plural = "widgets" }
    scope = "Namespaced"
    versions = [
      {
        name = "v1"
        served = true
        storage = true
        schema.openAPIV3Schema {
          type = "object"
          properties.spec {
            type = "object"
            properties.size { type = "integer", minimum = 1 }
          }
        }
      },
    ]
  }
}

resource big {
  apiVersion = "acme.example/v1"
  kind = "Widget"
  namespace = "shop"
  spec.size = 0
  spec.colour = "red"
}
''', encoding="utf-8")
    assert sorted((d.code, d.message) for d in analyse([tmp_path]).diagnostics) == [
        ("E0302", "`spec.size`: 0 is out of range 1.."), ("E0304", "`Widget.spec` has no field `colour`")]
