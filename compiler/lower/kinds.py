"""The Kubernetes and Flux object kinds that more than one module names, and an object's identity.

Input: none (constants) and plain object dicts (`object_key`).
Output: kind names, the set of cluster-scoped kinds, the key that identifies an object in a
cluster: (apiVersion, kind, namespace, name), and `install_key`, the order Helm installs objects in.

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


# The order Helm installs (and `helm template` prints) objects in, by kind: Helm v4's `InstallOrder`
# (helm.sh/helm/v4 pkg/release/v1/util/kind_sorter.go; v3's pkg/releaseutil/kind_sorter.go lacks
# the webhook configurations). Kinds it does not list come after, by kind name; tests/test_render_order.py
# holds it to what the real helm prints.
INSTALL_ORDER = (
    "PriorityClass", "Namespace", "NetworkPolicy", "ResourceQuota", "LimitRange", "PodSecurityPolicy",
    "PodDisruptionBudget", "ServiceAccount", "Secret", "SecretList", "ConfigMap", "StorageClass", "PersistentVolume",
    "PersistentVolumeClaim", "CustomResourceDefinition", "ClusterRole", "ClusterRoleList", "ClusterRoleBinding",
    "ClusterRoleBindingList", "Role", "RoleList", "RoleBinding", "RoleBindingList", "Service", "DaemonSet", "Pod",
    "ReplicationController", "ReplicaSet", "Deployment", "HorizontalPodAutoscaler", "StatefulSet", "Job", "CronJob",
    "IngressClass", "Ingress", "APIService", "MutatingWebhookConfiguration", "ValidatingWebhookConfiguration",
)
_INSTALL_RANK = {kind: rank for rank, kind in enumerate(INSTALL_ORDER)}

InstallKey = tuple[int, str, ObjectKey]


def install_key(doc: dict[str, Any]) -> InstallKey:
    """The order `gopc render` lists objects in: Helm's install order of their kinds (unlisted kinds
    after, by name), then `object_key` (Helm keeps the template order there; this order is stable)."""
    key = object_key(doc)
    return _INSTALL_RANK.get(key[1], len(INSTALL_ORDER)), key[1], key


def object_key(doc: dict[str, Any]) -> ObjectKey:
    """What tells one object in a cluster from another (`gopc diff` compares objects by it)."""
    metadata = doc.get("metadata") or {}
    return (str(doc.get("apiVersion") or ""), str(doc.get("kind") or ""), str(metadata.get("namespace") or ""),
            str(metadata.get("name") or ""))
