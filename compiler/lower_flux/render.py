"""Everything Flux would apply on one cluster, computed in-process (`gopc render --cluster`).

Input: a `Fleet`, a cluster name, and whether to include the Flux objects themselves.
Output: a list of Kubernetes objects (plain dicts) sorted by (apiVersion, kind, namespace,
name): the namespaces (and tenant RBAC), the SOPS-encrypted Secret manifests as they are
in the repository, and the objects of every app's chart rendered with the values the
cluster's HelmRelease ends up with (chart values.yaml = `AppModel.base`, then the env
patch, then the cluster patch, merged as Helm and Kustomize merge them: maps key by key,
lists whole). With `include_flux`, also the GitRepository and Kustomizations of the sync,
the `infrastructure` and `apps` Kustomizations, each HelmRelease as the patches leave it,
the chart sources, notifications and image automation.

Invariants:
- Equal to building the repository as kustomize-controller does (`clusters/<cluster>`,
  then each Flux Kustomization's path) and rendering every HelmRelease with `helm
  template`, except for what Flux adds at run time (bootstrap's gotk-components.yaml,
  the decryption of secrets, and the ownership labels the controllers set).
- Reads the same selection (`plan`) and builders (`objects`) as the file tree.
"""

from __future__ import annotations

import copy
from typing import Any

from ..lower_helm import render_app
from ..model import Fleet, merge, plain
from . import objects, plan
from .errors import FluxLoweringError
from .secrets import cluster_sops_secrets


def render_cluster(fleet: Fleet, cluster: str, *, include_flux: bool = False) -> list[dict[str, Any]]:
    if cluster not in fleet.clusters:
        raise FluxLoweringError(f"no cluster named {cluster!r}; the clusters are {', '.join(sorted(fleet.clusters))}")
    docs = [doc for namespace in plan.namespaces(fleet, cluster)
            for files in [plan.namespace_files(fleet, namespace)] for file_docs in files.values() for doc in file_docs]
    docs += plan.tenant_objects(fleet)
    docs += [copy.deepcopy(secret.manifest) for secret in cluster_sops_secrets(fleet, cluster)]
    for release in plan.releases(fleet, cluster):
        values = merge(merge(release.app.base, release.env_values), release.cluster_values)
        docs += render_app(release.app, plain(values), release_name=release.app.name, namespace=release.app.namespace)
    if include_flux:
        docs += flux_objects(fleet, cluster)
    return sorted(docs, key=object_key)


def flux_objects(fleet: Fleet, cluster: str) -> list[dict[str, Any]]:
    """The Flux objects on the cluster, each as the kustomize build of the repository leaves it."""
    docs = plan.sync_objects(fleet, cluster) + plan.source_objects(fleet)
    docs += plan.kustomization_objects(fleet, cluster).values()
    docs += plan.notification_objects(fleet, cluster) + plan.image_automation_objects(fleet, cluster)
    for release in plan.releases(fleet, cluster):
        source = objects.chart_source(fleet, release.app)
        if source is not None:
            docs.append(source)
        helm_release = objects.helm_release(fleet, release.app)
        for layer in (release.env_values, release.cluster_values):
            helm_release = merge(helm_release, objects.release_patch(fleet, release.app, layer) or {})
        docs.append(helm_release)
    return docs


def object_key(doc: dict[str, Any]) -> tuple[str, str, str, str]:
    metadata = doc.get("metadata") or {}
    return (doc.get("apiVersion", ""), doc.get("kind", ""), metadata.get("namespace", ""), metadata.get("name", ""))
