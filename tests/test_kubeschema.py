"""The schema index of Kubernetes kinds (compiler/semantic/kubeschema.py) and its vendored data.

- the vendored files are exactly what bench/vendor_kube_schemas.py makes from kubernetes-validate
  and Flux's CRDs (up to date and deterministic); its table of cluster-scoped kinds names real kinds;
- lookups: core kinds, Flux kinds, namespaced or not, hints for a wrong apiVersion or a misspelt kind,
  CRDs added from a document; no entry for a kind without a schema;
- `plain_problems` agrees with the real validators: objects kubernetes-validate --strict accepts
  pass, and each broken copy fails both; every valid Flux sample passes.
"""

from __future__ import annotations

import copy
import importlib.util
import json
from pathlib import Path

import pytest
import yaml

import realtools as rt
from gop.compiler.semantic.kubeschema import VENDORED, SchemaIndex, crd_kinds, plain_problems

REPO = Path(__file__).resolve().parent.parent


def _script():
    spec = importlib.util.spec_from_file_location("vendor_kube_schemas", REPO / "bench" / "vendor_kube_schemas.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


@pytest.fixture(scope="module")
def index():
    return SchemaIndex()


def test_the_vendored_schemas_are_what_the_script_makes():
    script = _script()
    for name, data in ((f"kubernetes-{script.KUBERNETES_VERSION}.json", script.kubernetes()), ("flux.json", script.flux())):
        expected = json.dumps(data, sort_keys=True, separators=(",", ":"), ensure_ascii=False) + "\n"
        assert (VENDORED / name).read_text(encoding="utf-8") == expected, f"run `make vendor-kube-schemas` ({name})"


def test_every_cluster_scoped_kind_of_the_table_is_a_kind_of_kubernetes(index):
    script = _script()
    data = json.loads((VENDORED / f"kubernetes-{script.KUBERNETES_VERSION}.json").read_text(encoding="utf-8"))
    groups_kinds = {(entry["apiVersion"].rpartition("/")[0], entry["kind"]) for entry in data["kinds"]}
    assert script.CLUSTER_SCOPED - {("", "ComponentStatus")} <= groups_kinds


@pytest.mark.parametrize(("api_version", "kind", "namespaced", "origin"), [
    ("v1", "ResourceQuota", True, "Kubernetes 1.35"),
    ("v1", "LimitRange", True, "Kubernetes 1.35"),
    ("networking.k8s.io/v1", "NetworkPolicy", True, "Kubernetes 1.35"),
    ("v1", "Namespace", False, "Kubernetes 1.35"),
    ("rbac.authorization.k8s.io/v1", "ClusterRole", False, "Kubernetes 1.35"),
    ("storage.k8s.io/v1", "StorageClass", False, "Kubernetes 1.35"),
    ("helm.toolkit.fluxcd.io/v2", "HelmRelease", True, "Flux"),
    ("kustomize.toolkit.fluxcd.io/v1", "Kustomization", True, "Flux"),
])
def test_known_kinds_and_their_scope(index, api_version, kind, namespaced, origin):
    found = index.find(api_version, kind)
    assert (found.namespaced, found.origin) == (namespaced, origin)
    record = index.record(found)
    assert record.fields["metadata"].type.name == "ObjectMeta"


def test_unknown_kinds_have_no_entry_and_a_hint(index):
    assert index.find("cert-manager.io/v1", "ClusterIssuer") is None
    assert index.find("v1", "Status") is None and index.find("v1", "Binding") is None  # not applied objects
    assert index.find("extensions/v1beta1", "Ingress") is None
    assert index.hint("extensions/v1beta1", "Ingress") == ("`Ingress` is served as `networking.k8s.io/v1`", None)
    assert index.hint("v1", "ResourceQuotta") == ("did you mean `ResourceQuota` (`v1`)?", "ResourceQuota")
    assert index.hint("cert-manager.io/v1", "ClusterIssuer") is None


CRD_TEXT = """\
apiVersion: apiextensions.k8s.io/v1
kind: CustomResourceDefinition
metadata: {name: clusterissuers.cert-manager.io}
spec:
  group: cert-manager.io
  names: {kind: ClusterIssuer, listKind: ClusterIssuerList, plural: clusterissuers, singular: clusterissuer}
  scope: Cluster
  versions:
  - name: v1
    served: true
    storage: true
    schema:
      openAPIV3Schema:
        type: object
        properties:
          apiVersion: {type: string}
          kind: {type: string}
          metadata: {type: object}
          spec:
            type: object
            properties:
              acme:
                type: object
                required: [server]
                properties:
                  server: {type: string, description: The ACME server URL.}
                  email: {type: string}
  - name: v1alpha1
    served: false
    storage: false
"""
CRD = yaml.safe_load(CRD_TEXT)


def test_a_crd_adds_its_served_versions_to_one_index_only():
    index = SchemaIndex()
    assert [kind["apiVersion"] for kind in crd_kinds(CRD)] == ["cert-manager.io/v1"]
    added = index.add_crd(CRD, "crds/cert-manager.yaml")
    assert [(k.api_version, k.kind, k.namespaced, k.origin) for k in added] == [("cert-manager.io/v1", "ClusterIssuer", False, "crds/cert-manager.yaml")]
    record = index.record(index.find("cert-manager.io/v1", "ClusterIssuer"))
    assert record.fields["spec"].type.fields["acme"].type.fields["server"].doc == "The ACME server URL."
    assert record.fields["metadata"].type.name == "ObjectMeta"
    assert SchemaIndex().find("cert-manager.io/v1", "ClusterIssuer") is None
    assert crd_kinds({"kind": "ConfigMap"}) == []
    issuer = {"apiVersion": "cert-manager.io/v1", "kind": "ClusterIssuer", "metadata": {"name": "le"}, "spec": {"acme": {"sever": "x"}}}
    assert plain_problems(issuer, record) == [
        (("spec", "acme", "sever"), "`ClusterIssuer.spec.acme` has no field `sever`; did you mean `server`?"),
        (("spec", "acme"), "`ClusterIssuer.spec.acme` is missing its required field `server`"),
    ]


GOOD = yaml.safe_load_all("""
apiVersion: v1
kind: ResourceQuota
metadata: {name: shop, namespace: shop}
spec:
  hard: {cpu: "20", memory: 64Gi, pods: 100}
---
apiVersion: v1
kind: LimitRange
metadata: {name: shop, namespace: shop}
spec:
  limits:
  - type: Container
    default: {cpu: 500m, memory: 512Mi}
    defaultRequest: {cpu: 100m}
---
apiVersion: networking.k8s.io/v1
kind: NetworkPolicy
metadata: {name: deny, namespace: shop}
spec:
  podSelector: {}
  policyTypes: [Ingress]
  ingress:
  - ports: [{port: 8080, protocol: TCP}, {port: http}]
---
apiVersion: apps/v1
kind: Deployment
metadata: {name: web, namespace: shop, labels: {app: web}}
spec:
  replicas: 2
  selector: {matchLabels: {app: web}}
  template:
    metadata: {labels: {app: web}}
    spec:
      containers:
      - name: web
        image: nginx:1.27
        ports: [{containerPort: 80}]
        resources: {limits: {cpu: 1, memory: 1Gi}}
""")
GOOD = list(GOOD)
# (document index, path to set, value): each makes the object invalid for kubernetes-validate too
BROKEN = [
    (0, ("spec", "hardd"), {}),
    (1, ("spec", "limits"), "Container"),
    (2, ("spec", "ingress", 0, "ports", 0, "port"), True),
    (3, ("spec", "replicas"), "two"),
    (3, ("spec", "template", "spec", "containers", 0, "imagee"), "x"),
]


def test_valid_core_objects_pass_here_and_in_kubernetes_validate(index):
    rt.kubernetes_validate_strict(GOOD)
    for doc in GOOD:
        assert plain_problems(doc, index.record(index.find(doc["apiVersion"], doc["kind"]))) == [], doc["kind"]


@pytest.mark.parametrize(("which", "path", "value"), BROKEN)
def test_broken_core_objects_fail_here_and_in_kubernetes_validate(index, which, path, value):
    doc = copy.deepcopy(GOOD[which])
    node = doc
    for key in path[:-1]:
        node = node[key]
    node[path[-1]] = value
    with pytest.raises(rt.ValidationFailed):
        rt.kubernetes_validate_strict([doc])
    problems = plain_problems(doc, index.record(index.find(doc["apiVersion"], doc["kind"])))
    assert [problem_path for problem_path, _ in problems] == [path]


def test_every_valid_flux_sample_passes(index):
    samples = sorted((rt.FLUX_SCHEMAS / "samples" / "valid").glob("*.yaml"))
    assert samples
    for sample in samples:
        for doc in yaml.safe_load_all(sample.read_text(encoding="utf-8")):
            found = index.find(doc["apiVersion"], doc["kind"])
            assert plain_problems(doc, index.record(found)) == [], sample.name


def test_a_crd_using_the_list_and_map_annotations_passes_here_and_in_kubernetes_validate(index):
    """`x-kubernetes-list-type` and friends are fields of a CRD's schema (JSONSchemaProps), not
    annotations of the vendored schemas to drop (cert-manager's CRDs use them)."""
    schema = {"type": "object", "properties": {
        "hosts": {"type": "array", "items": {"type": "string"}, "x-kubernetes-list-type": "atomic"},
        "ports": {"type": "array", "x-kubernetes-list-type": "map", "x-kubernetes-list-map-keys": ["name"],
                  "items": {"type": "object", "required": ["name"], "properties": {"name": {"type": "string"}}}},
        "selector": {"type": "object", "x-kubernetes-map-type": "atomic"}}}
    crd = {"apiVersion": "apiextensions.k8s.io/v1", "kind": "CustomResourceDefinition",
           "metadata": {"name": "widgets.example.com"},
           "spec": {"group": "example.com", "scope": "Namespaced",
                    "names": {"kind": "Widget", "plural": "widgets", "singular": "widget", "listKind": "WidgetList"},
                    "versions": [{"name": "v1", "served": True, "storage": True,
                                  "schema": {"openAPIV3Schema": {"type": "object", "properties": {"spec": schema}}}}]}}
    rt.kubernetes_validate_strict([crd])
    found = index.find(crd["apiVersion"], crd["kind"])
    assert plain_problems(crd, index.record(found)) == []
