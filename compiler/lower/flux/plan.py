"""What each cluster gets: the selection shared by the file tree and the in-process render.

Input: a `Fleet`, a cluster name and the fleet's `LoweringCaches` (its overlay plan and SOPS
secrets, worked out once for all clusters, and each cluster's app namespaces, once per cluster).
Output: the cluster's releases (app, namespace, env patch, cluster patch: `own_patch`,
`LoweringCaches.cluster_namespaces`), the HelmRelease patches
that reach each release in the tree, namespaces, SOPS secrets, what each delivery stage applies
(`cluster_stages`) and the Flux objects of `clusters/<cluster>/` grouped by the file that
carries them.

Invariants:
- A cluster gets exactly the apps of `ClusterModel.instances`, each with its env's patch
  (`EnvModel.app_values`) and what selector overlays and the cluster set
  (`Instance.cluster_values`); merged over the chart's values (`AppModel.base`) they give the
  instance's effective values. The tree carries the second part as the overlays' components
  and the cluster's own patch (`overlays`); `release_patches` lists them as kustomize applies them.
- Every namespace and every encrypted Secret appears once per cluster, however many apps
  share it, so no kustomize build holds a duplicate object.
- An app's namespace on a cluster is the instance's (`instance_namespace`: whichever layer set
  it); its HelmRelease, chart source, chart objects, Namespace and Secrets are there, and its
  dependencies name the namespaces of that cluster.
- Every object is in exactly one stage per cluster, the one `fleet.stages.stage_of` names.
- `repository_files` and `render_cluster` both read this module, so the objects in the
  files and the objects rendered in-process cannot drift apart.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from gop.compiler.fleet import tenancy
from gop.compiler.fleet.model import AppModel, Fleet
from gop.compiler.fleet.stages import direct_dependencies, earliest_stage, stage_names, stage_of
from gop.compiler.language import AppField
from gop.compiler.values import merge
from gop.compiler.lower.flux import network, objects, resources, tenants
from gop.compiler.lower.flux.releases import cluster_sources, created_namespaces, release_namespace, source_key
from gop.compiler.lower.flux.objects import FLUX_NAMESPACE
from gop.compiler.lower.flux.caches import LoweringCaches
from gop.compiler.lower.flux.secrets import SopsSecret, cluster_external_secrets, cluster_namespaces, instance_namespace
from gop.compiler.lower.kinds import GIT_REPOSITORY, HELM_RELEASE, KUSTOMIZATION


@dataclass(frozen=True, slots=True)
class Release:
    """One app on one cluster, as its layers of the tree carry it."""

    app: AppModel
    env_values: dict[str, Any]  # apps/<env>/<app>/: what the env sets
    cluster_values: dict[str, Any]  # what selector overlays and the cluster set (components/, clusters/<cluster>/apps/)
    namespace: str  # of the HelmRelease, its chart source and the chart's objects on this cluster


def releases(fleet: Fleet, cluster: str) -> list[Release]:
    model = fleet.clusters[cluster]
    env = fleet.envs[model.env]
    return [Release(fleet.apps[name], env.app_values.get(name, {}), instance.cluster_values,
                    instance_namespace(fleet, instance))
            for name, instance in sorted(model.instances.items())]


def release_patches(fleet: Fleet, cluster: str, caches: LoweringCaches) -> dict[str, list[dict[str, Any]]]:
    """App -> the HelmRelease patches kustomize applies to the app's base release on the
    cluster, in order: the env's, the selector overlays' components', the cluster's own."""
    overlays = caches.overlay_plan()
    spaces = caches.cluster_namespaces(cluster)
    patches = {}
    for release in releases(fleet, cluster):
        name = release.app.name
        layers = [release.env_values, *overlays.layers(cluster, name)]
        patches[name] = [patch for tree in layers if (patch := objects.release_patch(fleet, release.app, tree))]
        own = own_patch(fleet, cluster, name, spaces, caches)
        if own:
            patches[name].append(own)
    return patches


def own_patch(fleet: Fleet, cluster: str, app: str, spaces: dict[str, str],
              caches: LoweringCaches) -> dict[str, Any] | None:
    """The cluster's own patch of the app's HelmRelease: what the components do not give, and the
    dependencies again when the namespaces on this cluster (`spaces`) make them read otherwise
    than the layers before wrote them (with the apps' own namespaces)."""
    tree = caches.overlay_plan().residual(cluster, app)
    model = fleet.apps[app]
    refs = fleet.clusters[cluster].instances[app].values.get("delivery", {}).get("dependsOn") or []
    if refs and objects.dependencies(fleet, model, refs, spaces) != objects.dependencies(fleet, model, refs):
        tree = merge(tree, {"delivery": {"dependsOn": refs}})
    return objects.release_patch(fleet, model, tree, spaces) if tree else None


def env_apps(fleet: Fleet, env: str) -> list[str]:
    """Apps deployed on at least one cluster of the env."""
    return sorted({app for cluster in fleet.envs[env].clusters for app in fleet.clusters[cluster].instances})


def namespaces(fleet: Fleet, cluster: str, caches: LoweringCaches | None = None) -> list[str]:
    """The namespaces of the cluster's apps."""
    spaces = caches.cluster_namespaces(cluster) if caches is not None else cluster_namespaces(fleet, cluster)
    return sorted(set(spaces.values()))


def infrastructure_namespaces(fleet: Fleet, cluster: str, caches: LoweringCaches) -> list[str]:
    """The Namespace objects the cluster gets: its apps', its releases' (those gopc creates), its `namespace`
    declarations' and those its resources live in (but those every cluster has)."""
    return sorted({*namespaces(fleet, cluster, caches), *resources.declared_namespaces(fleet, cluster),
                   *caches.resource_plan().namespaces[cluster], *created_namespaces(fleet, cluster),
                   *tenants.cluster_namespaces(fleet, cluster)})


def all_namespaces(fleet: Fleet, caches: LoweringCaches) -> list[str]:
    return sorted({namespace for cluster in fleet.clusters for namespace in infrastructure_namespaces(fleet, cluster, caches)})


def stage_resources(fleet: Fleet, cluster: str, caches: LoweringCaches) -> dict[str, list[str]]:
    """Stage -> the resource directories (relative to the repository's root) its kustomization on
    the cluster lists."""
    by_stage: dict[str, list[str]] = {}
    for placed in caches.resource_plan().clusters[cluster]:
        by_stage.setdefault(placed.stage, []).append(placed.directory)
    return by_stage


@dataclass(slots=True)
class ClusterStage:
    """What one delivery stage applies on one cluster (`clusters/<cluster>/<stage>/`), each list
    sorted: the namespaces gopc creates there, the tenant's service account, the directories of
    `tenant` declarations (`tenants/<tenant>/<env>/`, by tenant name), the apps, releases and
    resources (by name), and the Secrets (SOPS files, ExternalSecrets) of the apps that read them."""

    name: str
    depends_on: tuple[str, ...]
    namespaces: list[str] = field(default_factory=list)
    tenant: bool = False
    tenant_dirs: list[str] = field(default_factory=list)
    apps: list[str] = field(default_factory=list)
    releases: list[str] = field(default_factory=list)
    resources: list[str] = field(default_factory=list)
    sops: list[SopsSecret] = field(default_factory=list)
    external: list[dict[str, Any]] = field(default_factory=list)

    def needs_flux_rights(self) -> bool:
        """Whether it applies what a tenant may not (namespaces, the tenant's own account, charts
        and objects of the platform): such a stage never impersonates the tenant."""
        return bool(self.namespaces or self.releases or self.resources or self.tenant_dirs) or self.tenant


def cluster_stages(fleet: Fleet, cluster: str, caches: LoweringCaches) -> list[ClusterStage]:
    """Every stage on the cluster, each after the stages it depends on, with what it applies.
    Each object's stage is `fleet.stages.stage_of`'s answer: an app's own (`delivery.stage`), a
    release's or resource's own (`stage`); a namespace's, from its declaration or, for one gopc
    creates, the earliest of its apps' stages. The tenant's account goes with the first
    namespace, a Secret to the earliest stage of the apps reading it."""
    stages = {name: ClusterStage(name, direct_dependencies(fleet, name)) for name in stage_names(fleet)}
    model = fleet.clusters[cluster]
    instances = model.instances
    app_stages = {name: stage_of(fleet, "app", instance.values) for name, instance in sorted(instances.items())}
    for name, stage in app_stages.items():
        stages[stage].apps.append(name)
    for name, instance in model.releases.items():
        stages[stage_of(fleet, "release", instance.values)].releases.append(name)
    for name, instance in model.resources.items():
        stages[stage_of(fleet, "resource", instance.values)].resources.append(name)
    spaces = caches.cluster_namespaces(cluster)
    users: dict[str, list[str]] = {}  # namespace -> the stages of the apps, releases and resources in it
    for app, space in spaces.items():
        users.setdefault(space, []).append(app_stages[app])
    for placed in caches.resource_plan().clusters[cluster]:
        for space in {doc["metadata"].get("namespace") for doc in placed.docs} & set(caches.resource_plan().namespaces[cluster]):
            users.setdefault(space, []).append(placed.stage)
    created = set(created_namespaces(fleet, cluster))
    for name, instance in model.releases.items():
        space = release_namespace(name, instance.values)
        if space in created:
            users.setdefault(space, []).append(stage_of(fleet, "release", instance.values))
    for declared in resources.declared_namespaces(fleet, cluster) + tenants.cluster_namespaces(fleet, cluster):
        users.setdefault(declared, [])
    for namespace, used_in in sorted(users.items()):
        declared = fleet.namespaces.get(namespace)
        stages[stage_of(fleet, "namespace", declared.values if declared else None, used_in)].namespaces.append(namespace)
    if tenant_objects(fleet):
        stages[earliest_stage(fleet, [stage.name for stage in stages.values() if stage.namespaces] or list(stages))].tenant = True
    for tenant in tenants.cluster_tenants(fleet, cluster):  # with its first namespace, which holds its sync
        first = tenancy.namespaces(tenant)[0]
        next(stage for stage in stages.values() if first in stage.namespaces).tenant_dirs.append(tenant.name)
    readers: dict[tuple[str, str], list[str]] = {}  # (namespace, Secret) -> the stages of the apps reading it
    for name, instance in instances.items():
        if instance.values.get(AppField.SECRET_ENV):
            for _, ref in instance.sops_refs() + instance.secret_refs("external"):
                readers.setdefault((spaces[name], ref.secret), []).append(app_stages[name])
    for secret in caches.sops_secrets(cluster):
        stages[earliest_stage(fleet, readers[secret.namespace, secret.name])].sops.append(secret)
    for doc in cluster_external_secrets(fleet, cluster, caches.sops_secrets):
        metadata = doc["metadata"]
        stages[earliest_stage(fleet, readers[metadata["namespace"], metadata["name"]])].external.append(doc)
    return list(stages.values())


def tenant_target_namespace(fleet: Fleet, cluster: str, stage: ClusterStage) -> str | None:
    """The targetNamespace of a stage that impersonates the tenant: the one namespace of its apps."""
    spaces = cluster_namespaces(fleet, cluster)
    used = {spaces[app] for app in stage.apps}
    return used.pop() if len(used) == 1 else None


def image_apps(fleet: Fleet, cluster: str) -> list[AppModel]:
    """The cluster's apps whose image tags Flux updates (the policy of the app layer)."""
    apps = (fleet.apps[name] for name in sorted(fleet.clusters[cluster].instances))
    return [app for app in apps if "imagePolicy" in app.base]


# ---------------------------------------------------------------- objects by file

def namespace_files(fleet: Fleet, namespace: str) -> dict[str, list[dict[str, Any]]]:
    """infrastructure/namespaces/<namespace>/: the namespace (with its declaration's labels and
    annotations), its `default-deny` NetworkPolicy (`networkPolicies.defaultDeny`) and, for tenants, its RBAC
    where apps live (not in a namespace only releases, resources or a declaration ask for); a `tenant`'s
    namespace has its label and RBAC (`tenants`)."""
    fields = resources.namespace_object_fields(fleet, namespace)
    labels = tenants.namespace_labels(fleet, namespace)
    if labels:
        fields = {**fields, "labels": dict(sorted({**fields.get("labels", {}), **labels}.items()))}
    files = {"namespace.yaml": [objects.namespace(namespace, fields)]}
    deny = network.namespace_policies(fleet, namespace)
    if deny:
        files[network.POLICY_FILE] = deny
    rbac = tenants.namespace_rbac(fleet, namespace)
    if rbac:
        files["rbac.yaml"] = rbac
    account = objects.tenant_service_account(fleet)
    if account and any(namespace in namespaces(fleet, cluster) for cluster in fleet.clusters):  # an app's only
        files["rbac.yaml"] = [objects.service_account(account, namespace), objects.tenant_role_binding(account, namespace)]
    return files


def tenant_objects(fleet: Fleet) -> list[dict[str, Any]]:
    """infrastructure/tenant/: the service account the apps Kustomization impersonates."""
    account = objects.tenant_service_account(fleet)
    return [objects.service_account(account, FLUX_NAMESPACE)] if account else []


def sync_objects(fleet: Fleet, cluster: str) -> list[dict[str, Any]]:
    """clusters/<cluster>/flux-system/gotk-sync.yaml."""
    return [objects.git_repository(fleet, objects.sync_source(fleet)), objects.sync_kustomization(fleet, cluster)]


def source_objects(fleet: Fleet) -> list[dict[str, Any]]:
    """clusters/<cluster>/sources.yaml: Git sources besides the one Flux syncs from."""
    sync = objects.sync_source(fleet)
    return [objects.git_repository(fleet, source) for name, source in sorted(fleet.sources.items()) if source is not sync]


def cluster_source_objects(fleet: Fleet, cluster: str, caches: LoweringCaches) -> list[dict[str, Any]]:
    """clusters/<cluster>/sources.yaml: the Git sources, then the chart sources of its releases."""
    return source_objects(fleet) + cluster_sources(fleet, caches.chart_sources(), cluster)


def kustomization_objects(fleet: Fleet, cluster: str, stages: list[ClusterStage]) -> dict[str, dict[str, Any]]:
    """clusters/<cluster>/<stage>.yaml for every stage of `cluster_stages` (`infrastructure.yaml`
    and `apps.yaml` when the program declares none): a stage decrypts when it applies SOPS files,
    and impersonates a tenant when it needs no rights of Flux's own."""
    found = {}
    for stage in stages:
        tenant = None if stage.needs_flux_rights() else objects.tenant_service_account(fleet)
        found[f"{stage.name}.yaml"] = objects.flux_kustomization(
            fleet, stage.name, f"./clusters/{cluster}/{stage.name}", depends_on=stage.depends_on,
            decrypt=bool(stage.sops), service_account=tenant or tenants.platform_kustomize_account(fleet),
            target_namespace=tenant_target_namespace(fleet, cluster, stage) if tenant else None)
    return found


def _alert_sources(fleet: Fleet, cluster: str, caches: LoweringCaches | None) -> dict[str, list[str]]:
    """Kind -> namespaces where this cluster has Flux objects of that kind."""
    app_namespaces = namespaces(fleet, cluster, caches)
    by_kind = {KUSTOMIZATION: [FLUX_NAMESPACE], GIT_REPOSITORY: [FLUX_NAMESPACE], HELM_RELEASE: app_namespaces}
    delivery = fleet.delivery.values
    if delivery["charts"] == "oci":
        by_kind[delivery["ociSource"]] = app_namespaces
    model = fleet.clusters[cluster]
    if model.releases:  # a release's HelmRelease and chart source are in flux-system
        kinds = {HELM_RELEASE} | {key.kind for release in model.releases.values()
                                  if (key := source_key(fleet, release.values["chart"])) is not None}
        for kind in kinds:
            by_kind[kind] = sorted({*by_kind.get(kind, ()), FLUX_NAMESPACE})
    return by_kind


def notification_objects(fleet: Fleet, cluster: str, caches: LoweringCaches | None = None) -> list[dict[str, Any]]:
    """clusters/<cluster>/notifications.yaml: providers, alerts, receivers."""
    docs = [objects.provider(declaration) for _, declaration in sorted(fleet.providers.items())]
    sources = _alert_sources(fleet, cluster, caches)
    alerts = (objects.alert(declaration, sources) for _, declaration in sorted(fleet.alerts.items()))
    docs += [doc for doc in alerts if doc is not None]
    docs += [objects.receiver(fleet, declaration) for _, declaration in sorted(fleet.receivers.items())]
    return docs


def image_automation_objects(fleet: Fleet, cluster: str) -> list[dict[str, Any]]:
    """clusters/<cluster>/image-automation.yaml: a repository and a policy per app with an
    image policy on this cluster, and the update automations when there is any policy."""
    apps = image_apps(fleet, cluster)
    docs = [doc for app in apps for doc in (objects.image_repository(app), objects.image_policy(app))]
    if apps:
        docs += [objects.image_update_automation(fleet, declaration)
                 for _, declaration in sorted(fleet.automations.items())]
    return docs
