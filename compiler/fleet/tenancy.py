"""Tenants: who owns which app, release, resource and namespace, and as whom Flux applies them.

Input: a `Fleet` (its `tenants`, `Settings` typed by the prelude's `Tenant`, each placed on the
clusters its selector chooses). Output: plain answers that the isolation checks
(`checks.tenancy`) and the Flux lowering (`lower.flux.tenants`) both read, so the rule checked and
the RBAC written cannot disagree (docs/tenancy.md).

Invariants: a unit or a namespace listed by two tenants belongs to the first by name (the
checks report the second listing); nothing here changes the fleet.
"""

from __future__ import annotations

from typing import Any

from gop.compiler.fleet.model import Fleet, Instance, Settings
from gop.compiler.fleet.resources import object_namespace

# The namespace of a unit's object that has none: a cluster-scoped object (`resource_namespaces`).
CLUSTER_SCOPED = None
# The unit kinds a tenant lists, by the field that lists them.
UNIT_FIELDS = {"app": "apps", "release": "releases", "resource": "resources"}


def account(tenant: Settings) -> str:
    """The service account Flux impersonates for the tenant: its `serviceAccount`, else its name."""
    return tenant.values.get("serviceAccount") or tenant.name


def namespaces(tenant: Settings) -> tuple[str, ...]:
    """The namespaces it owns, as listed (the first holds its Git sync); none when the list did not
    type-check (its error is reported)."""
    return tuple(tenant.values.get("namespaces", ()))


def units(tenant: Settings, kind: str) -> list[str]:
    """The names of its apps, releases or resources, as listed (none when the list did not type-check)."""
    return [ref.name for ref in tenant.values.get(UNIT_FIELDS[kind], ())]


def owner(fleet: Fleet, kind: str, name: str) -> Settings | None:
    """The tenant an app, release or resource belongs to (None: the platform's); one question
    (`unit_owners` answers all at once)."""
    for tenant in fleet.tenants.values():
        if name in units(tenant, kind):
            return tenant
    return None


def unit_owners(fleet: Fleet) -> dict[tuple[str, str], Settings]:
    """(kind, name) of every unit a tenant lists -> its tenant (the first to list it, as `owner`
    answers), for a pass that asks about many units."""
    owners: dict[tuple[str, str], Settings] = {}
    for tenant in fleet.tenants.values():
        for kind in UNIT_FIELDS:
            for name in units(tenant, kind):
                owners.setdefault((kind, name), tenant)
    return owners


def namespace_owners(fleet: Fleet) -> dict[str, Settings]:
    """Namespace -> the tenant owning it, sorted by namespace."""
    owners: dict[str, Settings] = {}
    for tenant in fleet.tenants.values():
        for namespace in namespaces(tenant):
            owners.setdefault(namespace, tenant)
    return dict(sorted(owners.items()))


def cluster_tenants(fleet: Fleet, cluster: str) -> list[Settings]:
    """The tenants placed on the cluster, by name."""
    return [tenant for tenant in fleet.tenants.values() if cluster in tenant.clusters]


def git_path(tenant: Settings, env: str) -> str:
    """The directory of its own repository applied on the clusters of `env`."""
    git = tenant.values["git"]
    return git["paths"].get(env, git["path"])


def app_namespace(fleet: Fleet, instance: Instance) -> str:
    """The namespace of an app on one cluster, whichever layer set it."""
    return instance.values.get("namespace", fleet.apps[instance.app].namespace)


def resource_namespaces(fleet: Fleet, name: str, instance: Instance) -> list[str | None]:
    """The namespaces of a resource's objects on one cluster (`CLUSTER_SCOPED` for a cluster-scoped
    one): a written object's `namespace` (the evaluation requires one exactly for namespaced kinds),
    a file's objects their own or, for namespaced ones naming none, the resource's."""
    own = object_namespace(instance.values)
    unit = fleet.resources[name]
    if not unit.objects:
        return [own]
    return [(_metadata_namespace(doc) or own) if namespaced else CLUSTER_SCOPED for doc, namespaced in unit.objects]


def _metadata_namespace(values: dict[str, Any]) -> str | None:
    metadata = values.get("metadata")
    namespace = metadata.get("namespace") if isinstance(metadata, dict) else None
    return namespace if isinstance(namespace, str) else None
