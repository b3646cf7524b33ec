"""The objects of tenants and of the Flux lockdown (docs/tenancy.md).

Input: a `Fleet` whose `tenants` passed the isolation checks (`fleet.checks.tenancy`), and the
owners `fleet.tenancy` answers. Output: plain objects and kustomize patch entries:
- per tenant namespace (`infrastructure/namespaces/<ns>/`): the label `toolkit.fluxcd.io/tenant`,
  the tenant's ServiceAccount and a RoleBinding of its built-in role (`admin`, `edit` or `view`:
  never `cluster-admin`, never a ClusterRoleBinding) to the tenant's accounts;
- per tenant and env (`tenants/<tenant>/<env>/`): the GitRepository and Flux Kustomization of its
  own repository, in its first namespace, impersonating its account with `targetNamespace`; and
  the account its releases impersonate in flux-system, when it has releases;
- under `delivery.lockdown`: the patches of `clusters/<cluster>/flux-system/kustomization.yaml`
  that run the controllers as fluxcd/flux2-multi-tenancy does, and the accounts the platform's
  own Kustomizations and HelmReleases then name.

Invariants: a fleet without tenants and without lockdown gets nothing here (its tree is as
before tenants existed); the tree and the render read these same builders.
"""

from __future__ import annotations

import json
from typing import Any

from gop.compiler.fleet import tenancy
from gop.compiler.fleet.model import Fleet, Settings
from gop.compiler.lower.flux.objects import FLUX_NAMESPACE, KUSTOMIZE_API, SOURCE_API, kube_object
from gop.compiler.lower.kinds import GIT_REPOSITORY, KUSTOMIZATION

TENANT_LABEL = "toolkit.fluxcd.io/tenant"  # as fluxcd/flux2-multi-tenancy labels a tenant's objects
TENANTS_DIR = "tenants"
SYNC_FILE = "sync.yaml"
ACCOUNT_FILE = "account.yaml"
RBAC_API = "rbac.authorization.k8s.io/v1"
# Under lockdown, the accounts the platform's own objects name (the controllers' own: Flux's rights).
PLATFORM_KUSTOMIZE_ACCOUNT = "kustomize-controller"
PLATFORM_HELM_ACCOUNT = "helm-controller"
LOCKDOWN_DEFAULT_ACCOUNT = "default"
# The controllers each flag goes to (the Deployments of bootstrap's gotk-components.yaml).
CROSS_NAMESPACE_CONTROLLERS = ("kustomize-controller", "helm-controller", "notification-controller",
                               "image-reflector-controller", "image-automation-controller")
IMPERSONATING_CONTROLLERS = ("kustomize-controller", "helm-controller")


# ---- namespaces -------------------------------------------------------------------------------------

def namespace_labels(fleet: Fleet, namespace: str) -> dict[str, str]:
    """The tenant label of a tenant's namespace ({} for any other)."""
    owner = tenancy.namespace_owners(fleet).get(namespace)
    return {TENANT_LABEL: owner.name} if owner is not None else {}


def namespace_rbac(fleet: Fleet, namespace: str) -> list[dict[str, Any]]:
    """A tenant namespace's ServiceAccount and RoleBinding ([] for any other namespace)."""
    owner = tenancy.namespace_owners(fleet).get(namespace)
    if owner is None:
        return []
    account = tenancy.account(owner)
    first = tenancy.namespaces(owner)[0]
    # Its Git sync (in its first namespace), its apps' HelmReleases (in this one) and its releases'
    # (in flux-system) impersonate the account; each only here and in its other namespaces.
    subjects = [_subject(account, space) for space in dict.fromkeys((first, namespace))]
    if tenancy.units(owner, "release"):
        subjects.append(_subject(account, FLUX_NAMESPACE))
    role = {"apiGroup": "rbac.authorization.k8s.io", "kind": "ClusterRole", "name": owner.values["role"]}
    binding = kube_object(RBAC_API, "RoleBinding", f"{account}-reconciler", namespace, roleRef=role, subjects=subjects)
    return [_labelled(service_account(account, namespace), owner), _labelled(binding, owner)]


def service_account(name: str, namespace: str) -> dict[str, Any]:
    return kube_object("v1", "ServiceAccount", name, namespace)


def _subject(account: str, namespace: str) -> dict[str, str]:
    return {"kind": "ServiceAccount", "name": account, "namespace": namespace}


def _labelled(doc: dict[str, Any], tenant: Settings) -> dict[str, Any]:
    doc["metadata"]["labels"] = {TENANT_LABEL: tenant.name}
    return doc


def cluster_namespaces(fleet: Fleet, cluster: str) -> list[str]:
    """The namespaces of the tenants placed on the cluster."""
    return sorted({space for tenant in tenancy.cluster_tenants(fleet, cluster) for space in tenancy.namespaces(tenant)})


# ---- tenants/<tenant>/<env>/ ---------------------------------------------------------------------------

def tenant_directory(tenant: str, env: str) -> str:
    return f"{TENANTS_DIR}/{tenant}/{env}"


def tenant_files(fleet: Fleet, tenant: Settings, env: str) -> dict[str, list[dict[str, Any]]]:
    """tenants/<tenant>/<env>/: its own repository's sync and its releases' account ({}: nothing)."""
    files = {}
    if tenant.values.get("git"):
        files[SYNC_FILE] = sync_objects(tenant, env)
    if tenancy.units(tenant, "release"):
        files[ACCOUNT_FILE] = [_labelled(service_account(tenancy.account(tenant), FLUX_NAMESPACE), tenant)]
    return files


def sync_objects(tenant: Settings, env: str) -> list[dict[str, Any]]:
    """The GitRepository and Flux Kustomization of the tenant's own repository, in its first
    namespace: applied as its account, into that namespace (`targetNamespace`)."""
    git = tenant.values["git"]
    namespace = tenancy.namespaces(tenant)[0]
    spec: dict[str, Any] = {"interval": str(git["interval"]), "ref": {"branch": git["branch"]}}
    if git.get("secretName"):
        spec["secretRef"] = {"name": git["secretName"]}
    spec["url"] = git["url"]
    repository = kube_object(SOURCE_API, GIT_REPOSITORY, tenant.name, namespace, spec)
    sync = kube_object(KUSTOMIZE_API, KUSTOMIZATION, tenant.name, namespace, {
        "interval": str(git["syncInterval"]), "path": tenancy.git_path(tenant, env), "prune": True,
        "serviceAccountName": tenancy.account(tenant), "sourceRef": {"kind": GIT_REPOSITORY, "name": tenant.name},
        "targetNamespace": namespace,
    })
    return [_labelled(repository, tenant), _labelled(sync, tenant)]


def cluster_tenants(fleet: Fleet, cluster: str) -> list[Settings]:
    """The tenants placed on the cluster that have a directory there (a Git sync or releases)."""
    env = fleet.clusters[cluster].env
    return [tenant for tenant in tenancy.cluster_tenants(fleet, cluster) if tenant_files(fleet, tenant, env)]


# ---- whom Flux impersonates -------------------------------------------------------------------------

def release_account(fleet: Fleet, release: str) -> str | None:
    """The account a release's HelmRelease (in flux-system) impersonates: its tenant's; under
    lockdown, helm-controller's own for the platform's; else none (Flux's own rights)."""
    owner = tenancy.owner(fleet, "release", release)
    if owner is not None:
        return tenancy.account(owner)
    return PLATFORM_HELM_ACCOUNT if locked_down(fleet) else None


# ---- lockdown -----------------------------------------------------------------------------------------

def locked_down(fleet: Fleet) -> bool:
    return bool(fleet.delivery.values.get("lockdown"))


def lockdown_patches(fleet: Fleet) -> list[dict[str, Any]]:
    """The `patches` of clusters/<cluster>/flux-system/kustomization.yaml (none without lockdown):
    the controllers' flags and the sync Kustomization's account, as fluxcd/flux2-multi-tenancy
    writes them (a patch there survives `flux bootstrap`, which rewrites gotk-*.yaml only)."""
    if not locked_down(fleet):
        return []
    flags = [("--no-cross-namespace-refs=true", CROSS_NAMESPACE_CONTROLLERS), ("--no-remote-bases=true", ("kustomize-controller",)),
             (f"--default-service-account={LOCKDOWN_DEFAULT_ACCOUNT}", IMPERSONATING_CONTROLLERS)]
    patches = [{"patch": _json_patch("/spec/template/spec/containers/0/args/-", flag),
                "target": {"kind": "Deployment", "name": _names(controllers)}} for flag, controllers in flags]
    patches.append({"patch": _json_patch("/spec/serviceAccountName", PLATFORM_KUSTOMIZE_ACCOUNT),
                    "target": {"kind": KUSTOMIZATION, "name": "flux-system"}})
    return patches


def locked_sync(fleet: Fleet, docs: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """gotk-sync.yaml's objects as the lockdown patch leaves them (what the cluster applies)."""
    if not locked_down(fleet):
        return docs
    return [{**doc, "spec": {**doc["spec"], "serviceAccountName": PLATFORM_KUSTOMIZE_ACCOUNT}} if doc["kind"] == KUSTOMIZATION else doc
            for doc in docs]


def platform_kustomize_account(fleet: Fleet) -> str | None:
    """The account a stage that needs Flux's own rights names: kustomize-controller's under lockdown
    (the default account would have none), else none."""
    return PLATFORM_KUSTOMIZE_ACCOUNT if locked_down(fleet) else None


def _json_patch(path: str, value: str) -> str:
    return json.dumps([{"op": "add", "path": path, "value": value}])


def _names(controllers: tuple[str, ...]) -> str:
    return controllers[0] if len(controllers) == 1 else f"({'|'.join(controllers)})"
