"""The Kubernetes and Flux object kinds that more than one module names, and an object's identity.

Input: none (constants) and plain object dicts (`object_key`).
Output: kind names, the set of cluster-scoped kinds, and the key that identifies an object in a
cluster: (apiVersion, kind, namespace, name).

Invariants:
- The lowering builds each kind in one place (lower/flux/objects.py, lower/helm/manifests.py);
  the modules that select, order or compare objects (plan, render, `gopc diff`) name kinds
  through these constants, so a kind is spelt once.
- `object_key` is total: a missing or null field is "", every part is a string, so objects read
  back from any YAML compare and sort like the ones gopc builds.
"""

from __future__ import annotations

from typing import Any

ObjectKey = tuple[str, str, str, str]  # apiVersion, kind, namespace, name

HELM_RELEASE = "HelmRelease"
KUSTOMIZATION = "Kustomization"  # Flux's (kustomize.toolkit.fluxcd.io) and kustomize's own file share the name
GIT_REPOSITORY = "GitRepository"
OCI_REPOSITORY = "OCIRepository"
HELM_REPOSITORY = "HelmRepository"

# Kinds without a namespace: a Flux Kustomization's targetNamespace leaves them alone.
CLUSTER_SCOPED = frozenset({
    "Namespace", "ClusterRole", "ClusterRoleBinding", "CustomResourceDefinition", "PriorityClass", "StorageClass",
    "PersistentVolume", "ValidatingWebhookConfiguration", "MutatingWebhookConfiguration",
})


def object_key(doc: dict[str, Any]) -> ObjectKey:
    """What tells one object in a cluster from another; the order `gopc render` lists objects in."""
    metadata = doc.get("metadata") or {}
    return (str(doc.get("apiVersion") or ""), str(doc.get("kind") or ""), str(metadata.get("namespace") or ""),
            str(metadata.get("name") or ""))
