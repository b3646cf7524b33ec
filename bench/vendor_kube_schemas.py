"""Regenerate the Kubernetes and Flux schemas gopc checks resources against (`make vendor-kube-schemas`).

Writes compiler/semantic/kubernetes/ (package data, read by compiler/semantic/kubeschema.py):
- `kubernetes-1.35.json`: every kind of Kubernetes 1.35 a GitOps repository can apply (its
  apiVersion, kind, whether it is namespaced, its definition) and the definitions they use, from
  the PyPI package kubernetes-validate (`kubernetes-json-schema/v1.35.0-local-strict/_definitions.json`,
  a dev dependency: gopc itself never imports it);
- `flux.json`: the kinds of Flux's CRDs (/work/shared/schemas/flux/crds, or FLUX_CRDS), read by the
  same function that reads a program's and a chart's CRDs (`kubeschema.crd_kinds`).
The output is deterministic (sorted keys, no timestamps): running it twice changes nothing.

Namespaced or cluster-scoped: the schemas do not say. CLUSTER_SCOPED below is the set of kinds whose
discovery document in kubernetes/kubernetes (`api/discovery/api__v1.json`, `apis__<group>__<version>.json`,
as served by a 1.35 API server) says `"namespaced": false`; every other kind is namespaced.
"""

from __future__ import annotations

import json
import os
from pathlib import Path

import yaml

from gop.compiler.semantic.kubeschema import VENDORED, crd_kinds

REPO = Path(__file__).resolve().parent.parent

KUBERNETES_VERSION = "1.35"
FLUX_CRDS = Path(os.environ.get("FLUX_CRDS") or REPO.parent / "shared" / "schemas" / "flux" / "crds")

# (group, kind) of the cluster-scoped kinds; "" is the core group.
CLUSTER_SCOPED = {
    ("", "Namespace"), ("", "Node"), ("", "PersistentVolume"), ("", "ComponentStatus"),
    ("admissionregistration.k8s.io", "MutatingWebhookConfiguration"),
    ("admissionregistration.k8s.io", "ValidatingWebhookConfiguration"),
    ("admissionregistration.k8s.io", "ValidatingAdmissionPolicy"),
    ("admissionregistration.k8s.io", "ValidatingAdmissionPolicyBinding"),
    ("admissionregistration.k8s.io", "MutatingAdmissionPolicy"),
    ("admissionregistration.k8s.io", "MutatingAdmissionPolicyBinding"),
    ("apiextensions.k8s.io", "CustomResourceDefinition"),
    ("apiregistration.k8s.io", "APIService"),
    ("certificates.k8s.io", "CertificateSigningRequest"), ("certificates.k8s.io", "ClusterTrustBundle"),
    ("flowcontrol.apiserver.k8s.io", "FlowSchema"), ("flowcontrol.apiserver.k8s.io", "PriorityLevelConfiguration"),
    ("internal.apiserver.k8s.io", "StorageVersion"),
    ("networking.k8s.io", "IngressClass"), ("networking.k8s.io", "IPAddress"), ("networking.k8s.io", "ServiceCIDR"),
    ("node.k8s.io", "RuntimeClass"),
    ("rbac.authorization.k8s.io", "ClusterRole"), ("rbac.authorization.k8s.io", "ClusterRoleBinding"),
    ("resource.k8s.io", "DeviceClass"), ("resource.k8s.io", "ResourceSlice"), ("resource.k8s.io", "DeviceTaintRule"),
    ("scheduling.k8s.io", "PriorityClass"),
    ("storage.k8s.io", "CSIDriver"), ("storage.k8s.io", "CSINode"), ("storage.k8s.io", "StorageClass"),
    ("storage.k8s.io", "VolumeAttachment"), ("storage.k8s.io", "VolumeAttributesClass"),
    ("storagemigration.k8s.io", "StorageVersionMigration"),
}
# Kinds with a schema that are no objects one applies: sub-resources, reviews the API server
# answers without storing, and read-only status.
NOT_APPLIED = {"Binding", "ComponentStatus", "Eviction", "LocalSubjectAccessReview", "Scale", "SelfSubjectAccessReview",
               "SelfSubjectReview", "SelfSubjectRulesReview", "Status", "SubjectAccessReview", "TokenRequest", "TokenReview"}
# Annotations the converter does not read (the list and patch strategies of server-side apply).
DROPPED = {"x-kubernetes-group-version-kind", "x-kubernetes-list-map-keys", "x-kubernetes-list-type",
           "x-kubernetes-map-type", "x-kubernetes-patch-merge-key", "x-kubernetes-patch-strategy", "x-kubernetes-unions"}


def kubernetes() -> dict:
    import kubernetes_validate

    folder = Path(kubernetes_validate.__file__).parent / "kubernetes-json-schema" / f"v{KUBERNETES_VERSION}.0-local-strict"
    definitions = json.loads((folder / "_definitions.json").read_text(encoding="utf-8"))["$defs"]
    kinds = []
    for key, schema in definitions.items():
        properties = schema.get("properties", {})
        if key.endswith("List") or not {"apiVersion", "kind", "metadata"} <= set(properties):
            continue
        for gvk in schema.get("x-kubernetes-group-version-kind", ()):
            if gvk["kind"] in NOT_APPLIED:
                continue
            api_version = f"{gvk['group']}/{gvk['version']}" if gvk["group"] else gvk["version"]
            kinds.append({"apiVersion": api_version, "kind": gvk["kind"], "definition": key,
                          "namespaced": (gvk["group"], gvk["kind"]) not in CLUSTER_SCOPED})
    used = _reachable(definitions, [kind["definition"] for kind in kinds])
    return {
        "source": f"kubernetes-validate {kubernetes_validate.__version__}: v{KUBERNETES_VERSION}.0-local-strict/_definitions.json",
        "kinds": sorted(kinds, key=lambda kind: (kind["apiVersion"], kind["kind"])),
        "$defs": {key: _compact(definitions[key]) for key in sorted(used)},
    }


def _reachable(definitions: dict, roots: list[str]) -> set[str]:
    seen: set[str] = set()
    pending = list(roots)
    while pending:
        key = pending.pop()
        if key in seen:
            continue
        seen.add(key)
        pending.extend(_refs(definitions[key]))
    return seen


def _refs(node) -> list[str]:
    if isinstance(node, dict):
        found = [node["$ref"].rsplit("/", 1)[1]] if isinstance(node.get("$ref"), str) else []
        return found + [ref for value in node.values() for ref in _refs(value)]
    if isinstance(node, list):
        return [ref for value in node for ref in _refs(value)]
    return []


def _compact(node, names: bool = False):
    """`node` without the DROPPED annotations; `names`: the node maps property names to schemas
    (a field may be called like an annotation: a CRD's schema has a field `x-kubernetes-list-type`)."""
    if isinstance(node, dict):
        return {key: _compact(value, not names and key == "properties") for key, value in node.items()
                if names or key not in DROPPED}
    if isinstance(node, list):
        return [_compact(value) for value in node]
    return node


def flux() -> dict:
    kinds = []
    for path in sorted(FLUX_CRDS.glob("*.yaml")):
        for document in yaml.safe_load_all(path.read_text(encoding="utf-8")):
            kinds.extend(crd_kinds(document))
    return {"source": "Flux CRDs (fluxcd/*-controller config/crd/bases, see /work/shared/schemas/flux/README.md)",
            "kinds": sorted(kinds, key=lambda kind: (kind["apiVersion"], kind["kind"]))}


def write(name: str, data: dict) -> None:
    VENDORED.mkdir(parents=True, exist_ok=True)
    text = json.dumps(data, sort_keys=True, separators=(",", ":"), ensure_ascii=False) + "\n"
    (VENDORED / name).write_text(text, encoding="utf-8")
    print(f"{VENDORED / name}: {len(data['kinds'])} kinds, {len(text):,} bytes")


if __name__ == "__main__":
    write(f"kubernetes-{KUBERNETES_VERSION}.json", kubernetes())
    write("flux.json", flux())
