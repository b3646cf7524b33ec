"""Builders of the Kubernetes and Flux objects, one function per object kind and role.

Input: the `Fleet` (apps, settings declarations) and the names a builder needs.
Output: plain dicts (apiVersion, kind, metadata, spec in that order) ready for YAML or
for comparison; no object refers to a file layout except through `path` arguments.

Invariants:
- Only served Flux APIs: source.toolkit.fluxcd.io/v1, kustomize.toolkit.fluxcd.io/v1,
  helm.toolkit.fluxcd.io/v2, notification.toolkit.fluxcd.io/v1 (Receiver) and
  v1beta3 (Provider, Alert), image.toolkit.fluxcd.io/v1.
- Every Flux object names its namespace. Sources, Kustomizations, notifications and
  image automation live in `flux-system`; an app's HelmRelease and its chart source live
  in the app's namespace (so a tenant's service account can own them): the app's own in
  apps/base, moved by `namespace_moves` where an env, overlay or cluster sets another.
- A field the program leaves at its schema default is taken from the fleet `delivery`
  declaration where that declaration has a default for it (interval, timeout, retries).
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from types import MappingProxyType
from typing import Any

from gop.compiler.lower.helm import chart_version, helm_values
from gop.compiler.lower.helm.caches import HelmCaches
from gop.compiler.fleet import tenancy
from gop.compiler.fleet.model import AppModel, Fleet, Layer, Settings
from gop.compiler.values import plain
from gop.compiler.semantic.types import ResourceRef
from gop.compiler.lower.flux.errors import FluxLoweringError
from gop.compiler.diagnostics import codes
from gop.compiler.lower.kinds import GIT_REPOSITORY, HELM_RELEASE, HELM_REPOSITORY, KUSTOMIZATION, OCI_REPOSITORY
from gop.compiler.language import APP_CHART, IMAGE_POLICY_ORDERS, RELEASE_NAME, TAG_FILTER

FLUX_NAMESPACE = "flux-system"
SYNC_NAME = "flux-system"  # `flux bootstrap` names the GitRepository and Kustomization after the namespace
SOURCE_API = "source.toolkit.fluxcd.io/v1"
KUSTOMIZE_API = "kustomize.toolkit.fluxcd.io/v1"
HELM_API = "helm.toolkit.fluxcd.io/v2"
NOTIFICATION_API = "notification.toolkit.fluxcd.io/v1"
NOTIFICATION_BETA_API = "notification.toolkit.fluxcd.io/v1beta3"
IMAGE_API = "image.toolkit.fluxcd.io/v1"
KUSTOMIZE_CONFIG_API = "kustomize.config.k8s.io/v1beta1"
KUSTOMIZE_COMPONENT_API = "kustomize.config.k8s.io/v1alpha1"

# Settings the program has no field for (yet): see docs/flux.md.
RETRY_INTERVAL = "1m"  # of the implicit stages; a declared stage has its own (`Stage.retryInterval`)
SOPS_KEY_SECRET = "sops-age"
TENANT_CLUSTER_ROLE = "cluster-admin"  # bound per namespace by a RoleBinding, as in fluxcd/flux2-multi-tenancy
HELM_CHART_LAYER = "application/vnd.cncf.helm.chart.content.v1.tar+gzip"
IMAGE_UPDATE_PATH = "./apps/base"  # where the image-tag setter markers are
IMAGE_TAG_PATH = ("spec", "values", "image", "tag")  # the marked line in a base HelmRelease
EMPTY_NAMESPACES: Mapping[str, str] = MappingProxyType({})


def kube_object(api_version: str, kind: str, name: str, namespace: str | None, spec: dict[str, Any] | None = None,
                **top: Any) -> dict[str, Any]:
    """An object: apiVersion, kind, metadata (name, namespace unless None), spec, then `top` fields."""
    metadata: dict[str, Any] = {"name": name}
    if namespace is not None:
        metadata["namespace"] = namespace
    doc: dict[str, Any] = {"apiVersion": api_version, "kind": kind, "metadata": metadata}
    if spec is not None:
        doc["spec"] = spec
    doc.update(top)
    return doc


def _secret_ref(values: dict[str, Any], spec: dict[str, Any]) -> dict[str, Any]:
    if values.get("secretName"):
        spec["secretRef"] = {"name": values["secretName"]}
    return spec


def kustomize_config(resources: list[str], patches: list[dict[str, Any]] | None = None,
                     components: list[str] | None = None) -> dict[str, Any]:
    """A kustomization.yaml (kustomize's own Kustomization, not Flux's). Kustomize applies the
    resources' own patches, then the components in order, then `patches`."""
    doc: dict[str, Any] = {"apiVersion": KUSTOMIZE_CONFIG_API, "kind": KUSTOMIZATION, "resources": resources}
    if components:
        doc["components"] = components
    if patches:
        doc["patches"] = patches
    return doc


def kustomize_component(patches: list[dict[str, Any]]) -> dict[str, Any]:
    """The kustomization.yaml of a Kustomize Component: patches a kustomization that lists it applies."""
    doc: dict[str, Any] = {"apiVersion": KUSTOMIZE_COMPONENT_API, "kind": "Component"}
    if patches:
        doc["patches"] = patches
    return doc


# ---------------------------------------------------------------- the Git source and the sync

def sync_source(fleet: Fleet) -> Settings:
    """The source Flux syncs the fleet from: the one named flux-system, else the only one."""
    if SYNC_NAME in fleet.sources:
        return fleet.sources[SYNC_NAME]
    if len(fleet.sources) == 1:
        return next(iter(fleet.sources.values()))
    if not fleet.sources:
        # Said at the first cluster: it is what Flux would have nothing to sync from.
        first = min(fleet.clusters.values(), key=lambda model: (model.span.file, model.span.start), default=None)
        raise FluxLoweringError(
            "no `source` is declared: Flux needs the Git repository it syncs the clusters from", 
            first.span if first else fleet.delivery.span, code=codes.NO_GIT_SOURCE,
            notes=(f'declare it, e.g. `source {SYNC_NAME} {{ url = "https://github.com/acme/fleet", branch = "main" }}`',))
    names = ", ".join(sorted(fleet.sources))
    last = max(fleet.sources.values(), key=lambda source: (source.span.file, source.span.start))
    raise FluxLoweringError(f"cannot tell which source Flux syncs the fleet from ({names})", last.span, code=codes.AMBIGUOUS_GIT_SOURCE,
                            notes=(f"name the one Flux syncs from `{SYNC_NAME}`, or declare only one source",))


def git_repository_name(fleet: Fleet, source: str) -> str:
    return SYNC_NAME if fleet.sources[source] is sync_source(fleet) else source


def git_repository(fleet: Fleet, source: Settings) -> dict[str, Any]:
    values = plain(source.values)
    spec = {"interval": values["interval"], "ref": {"branch": values["branch"]}}
    _secret_ref(values, spec)
    spec["url"] = values["url"]
    return kube_object(SOURCE_API, GIT_REPOSITORY, git_repository_name(fleet, source.name), FLUX_NAMESPACE, spec)


def _source_ref() -> dict[str, Any]:
    return {"kind": GIT_REPOSITORY, "name": SYNC_NAME}


def sync_kustomization(fleet: Fleet, cluster: str) -> dict[str, Any]:
    """The Kustomization `flux bootstrap --path=clusters/<cluster>` writes (always pruning)."""
    spec = {"interval": str(fleet.delivery.values["interval"]), "path": f"./clusters/{cluster}", "prune": True,
            "sourceRef": _source_ref()}
    return kube_object(KUSTOMIZE_API, KUSTOMIZATION, SYNC_NAME, FLUX_NAMESPACE, spec)


def flux_kustomization(fleet: Fleet, name: str, path: str, *, depends_on: tuple[str, ...] = (),
                       decrypt: bool = False, service_account: str | None = None,
                       target_namespace: str | None = None) -> dict[str, Any]:
    """The Flux Kustomization of the stage `name`: its declaration's settings (none for the
    implicit stages), else the `delivery` block's interval, timeout and prune, retrying every
    `RETRY_INTERVAL`, and waiting for every object unless it has health checks."""
    delivery = plain(fleet.delivery.values)
    stage = plain(fleet.stages[name].values) if name in fleet.stages else {}
    health_checks = stage.get("healthChecks")
    spec: dict[str, Any] = {}
    if depends_on:
        spec["dependsOn"] = [{"name": dependency} for dependency in depends_on]
    spec.update(interval=stage.get("interval", delivery["interval"]), retryInterval=stage.get("retryInterval", RETRY_INTERVAL),
                timeout=stage.get("timeout", delivery["timeout"]), sourceRef=_source_ref(), path=path,
                prune=stage.get("prune", delivery["prune"]), wait=stage.get("wait", not health_checks))
    if health_checks:
        spec["healthChecks"] = health_checks
    if decrypt:
        spec["decryption"] = {"provider": "sops", "secretRef": {"name": SOPS_KEY_SECRET}}
    if service_account:
        spec["serviceAccountName"] = service_account
    if target_namespace:
        spec["targetNamespace"] = target_namespace
    return kube_object(KUSTOMIZE_API, KUSTOMIZATION, name, FLUX_NAMESPACE, spec)


def tenant_service_account(fleet: Fleet) -> str | None:
    return fleet.delivery.values.get("serviceAccountName")


def app_account(fleet: Fleet, app: str) -> str | None:
    """The account an app's HelmRelease impersonates: its tenant's (docs/tenancy.md), else the fleet's."""
    owner = tenancy.owner(fleet, "app", app)
    return tenancy.account(owner) if owner is not None else tenant_service_account(fleet)


# ---------------------------------------------------------------- namespaces and tenancy

def namespace(name: str, fields: dict[str, Any] | None = None) -> dict[str, Any]:
    """`fields`: the labels and annotations of its `namespace` declaration, if any."""
    doc = kube_object("v1", "Namespace", name, None)
    doc["metadata"].update(fields or {})
    return doc


def service_account(name: str, namespace_: str) -> dict[str, Any]:
    return kube_object("v1", "ServiceAccount", name, namespace_)


def tenant_role_binding(account: str, namespace_: str) -> dict[str, Any]:
    """Lets the apps Kustomization (impersonating flux-system/<account>) and the app's
    HelmReleases (impersonating <namespace>/<account>) manage this one namespace."""
    subjects = [{"kind": "ServiceAccount", "name": account, "namespace": FLUX_NAMESPACE},
                {"kind": "ServiceAccount", "name": account, "namespace": namespace_}]
    role = {"apiGroup": "rbac.authorization.k8s.io", "kind": "ClusterRole", "name": TENANT_CLUSTER_ROLE}
    return kube_object("rbac.authorization.k8s.io/v1", "RoleBinding", f"{account}-reconciler", namespace_,
                   roleRef=role, subjects=subjects)


# ---------------------------------------------------------------- charts and releases

def chart_registry(fleet: Fleet) -> Settings:
    """The registry `charts = "oci"` pulls every chart from."""
    ref = fleet.delivery.values.get("registry")
    if not isinstance(ref, ResourceRef) or ref.name not in fleet.registries:
        raise FluxLoweringError('delivery has charts = "oci" but names no registry', fleet.delivery.span)
    return fleet.registries[ref.name]


def chart_source(fleet: Fleet, app: AppModel, helm: HelmCaches | None = None) -> dict[str, Any] | None:
    """The OCIRepository or HelmRepository the app's chart comes from; None for charts in Git.
    `helm`: the program's Helm caches (the chart's version)."""
    if fleet.delivery.values["charts"] != "oci":
        return None
    registry = plain(chart_registry(fleet).values)
    spec: dict[str, Any] = {"interval": registry["interval"]}
    if fleet.delivery.values["ociSource"] == OCI_REPOSITORY:
        spec.update(url=f"{registry['url'].rstrip('/')}/{app.name}", ref={"tag": chart_version(app, helm)},
                    layerSelector={"mediaType": HELM_CHART_LAYER, "operation": "copy"})
        kind = OCI_REPOSITORY
    else:
        spec.update(type="oci", url=registry["url"])
        kind = HELM_REPOSITORY
    if registry["provider"] != "generic":
        spec["provider"] = registry["provider"]
    _secret_ref(registry, spec)
    return kube_object(SOURCE_API, kind, app.name, app.namespace, spec)


def _chart_reference(fleet: Fleet, app: AppModel, helm: HelmCaches | None) -> dict[str, Any]:
    source = chart_source(fleet, app, helm)
    if source is None:
        git = {"kind": GIT_REPOSITORY, "name": SYNC_NAME, "namespace": FLUX_NAMESPACE}
        return {"chart": {"spec": {"chart": f"./charts/{app.name}", "sourceRef": git}}}
    if source["kind"] == OCI_REPOSITORY:
        return {"chartRef": {"kind": OCI_REPOSITORY, "name": app.name}}
    return {"chart": {"spec": {"chart": app.name, "version": chart_version(app, helm),
                               "sourceRef": {"kind": HELM_REPOSITORY, "name": app.name}}}}


Namespaces = Mapping[str, str]  # app -> its namespace on one cluster; an app not in it: its own (`AppModel.namespace`)


def _delivery_spec(fleet: Fleet, app: AppModel | None, delivery: dict[str, Any],
                   namespaces: Namespaces = EMPTY_NAMESPACES) -> dict[str, Any]:
    """HelmRelease spec fields for the `delivery` fields set in one layer's values."""
    spec: dict[str, Any] = {}
    for field in ("interval", "timeout"):
        if field in delivery:
            spec[field] = str(delivery[field])
    if "dependsOn" in delivery:
        spec["dependsOn"] = dependencies(fleet, app, delivery["dependsOn"], namespaces)
    if RELEASE_NAME in delivery:
        spec[RELEASE_NAME] = delivery[RELEASE_NAME]
    for action in ("install", "upgrade"):
        settings = plain(delivery.get(action) or {})
        remediation = {"retries": delivery["retries"]} if "retries" in delivery else {}
        remediation.update((target, settings[field]) for field, target in _REMEDIATION if field in settings)
        fields = {target: settings[field] for field, target in _ACTION_FIELDS if field in settings}
        strategy = {target: settings[field] for field, target in (("strategy", "name"), ("retryInterval", "retryInterval"))
                    if field in settings}
        if strategy:
            fields["strategy"] = strategy
        if remediation:
            fields["remediation"] = remediation
        if fields:
            spec[action] = fields
    if "driftDetection" in delivery:
        spec["driftDetection"] = {"mode": delivery["driftDetection"]}
    return spec


# The app's `install`/`upgrade` settings that go into a HelmRelease action's `remediation`, and beside it.
_REMEDIATION = (("remediateLastFailure", "remediateLastFailure"), ("remediation", "strategy"))
_ACTION_FIELDS = (("cleanupOnFail", "cleanupOnFail"),)


def dependencies(fleet: Fleet, app: AppModel, refs: list[ResourceRef],
                 namespaces: Namespaces = EMPTY_NAMESPACES) -> list[dict[str, Any]]:
    """The HelmRelease `dependsOn` of `app` on the named apps; a dependency names its namespace
    when it is not the app's own (`namespaces`: where the apps are on one cluster)."""
    own = namespaces.get(app.name, app.namespace)
    found = []
    for ref in refs:
        dependency = {"name": ref.name}
        namespace = namespaces.get(ref.name, fleet.apps[ref.name].namespace)
        if namespace != own:
            dependency["namespace"] = namespace
        found.append(dependency)
    return found


def _base_delivery(fleet: Fleet, app: AppModel) -> dict[str, Any]:
    """The app's delivery settings, with schema defaults replaced by the fleet's defaults."""
    delivery = dict(app.base.get("delivery", {}))
    for field in ("interval", "timeout", "retries"):
        origin = app.base_origins.get(("delivery", field))
        if origin is None or origin.layer is Layer.DEFAULT:
            delivery[field] = fleet.delivery.values[field]
    if not delivery.get("dependsOn"):
        delivery.pop("dependsOn", None)
    return delivery


def image_marker(app: AppModel) -> str:
    """The setter comment by which image automation updates the app's tag in Git."""
    return f'{{"$imagepolicy": "{FLUX_NAMESPACE}:{app.name}:tag"}}'


def helm_release(fleet: Fleet, app: AppModel, helm: HelmCaches | None = None) -> dict[str, Any]:
    """The base HelmRelease: chart, delivery settings and, for apps with an image policy,
    the image tag (the line image automation rewrites; see `image_marker`)."""
    spec: dict[str, Any] = {RELEASE_NAME: app.name}
    spec.update(_chart_reference(fleet, app, helm))
    spec.update(_delivery_spec(fleet, app, _base_delivery(fleet, app)))
    if (app.base.get(APP_CHART) or {}).get("test"):
        spec["test"] = {"enable": True}
    account = app_account(fleet, app.name)
    if account:
        spec["serviceAccountName"] = account
    if "imagePolicy" in app.base:
        spec["values"] = {"image": {"tag": app.base["image"]["tag"]}}
    return kube_object(HELM_API, HELM_RELEASE, app.name, app.namespace, spec)


def release_patch(fleet: Fleet, app: AppModel, layer_values: dict[str, Any],
                  namespaces: Namespaces = EMPTY_NAMESPACES) -> dict[str, Any] | None:
    """A strategic-merge patch of the app's HelmRelease carrying what one layer (env, a
    selector overlay, the cluster) sets: delivery settings as spec fields, the rest as values.
    None when the layer sets nothing the release sees. (Kustomize keeps the name and namespace
    of the object it patches: `namespace_moves` changes a namespace.)"""
    spec = _patch_spec(fleet, app, layer_values, namespaces)
    return kube_object(HELM_API, HELM_RELEASE, app.name, app.namespace, spec) if spec else None


def namespace_moves(fleet: Fleet, app: AppModel, namespace: str, helm: HelmCaches | None = None) -> list[dict[str, Any]]:
    """Kustomize `patches` entries that move the app's HelmRelease and its chart source into
    `namespace` (inline JSON patches: a strategic-merge patch cannot change a namespace). Their
    targets name the app's own namespace, which kustomize matches however often it moved."""
    move = json.dumps([{"op": "replace", "path": "/metadata/namespace", "value": namespace}])
    targets = [release_patch_target(app)]
    source = chart_source(fleet, app, helm)
    if source is not None:
        group, version = source["apiVersion"].split("/")
        targets.append({"group": group, "version": version, "kind": source["kind"], "name": app.name,
                        "namespace": app.namespace})
    return [{"patch": move, "target": target} for target in targets]


def every_release_patch(fleet: Fleet, layer_values: dict[str, Any], placeholder: str) -> dict[str, Any] | None:
    """`release_patch` for the target of every HelmRelease (kustomize puts each target's name in
    place of `placeholder`). `layer_values` must set no dependencies: a dependency names its
    namespace only when it is not the app's own, so that patch differs from app to app."""
    spec = _patch_spec(fleet, None, layer_values)
    return kube_object(HELM_API, HELM_RELEASE, placeholder, None, spec) if spec else None


def _patch_spec(fleet: Fleet, app: AppModel | None, layer_values: dict[str, Any],
                namespaces: Namespaces = EMPTY_NAMESPACES) -> dict[str, Any]:
    spec = _delivery_spec(fleet, app, layer_values.get("delivery", {}), namespaces)
    values = helm_values(plain(layer_values))
    if values:
        spec["values"] = values
    return spec


def release_patch_target(app: AppModel | None) -> dict[str, Any]:
    """The patch target of the app's HelmRelease; with no app, of every HelmRelease."""
    group, version = HELM_API.split("/")
    target = {"group": group, "version": version, "kind": HELM_RELEASE}
    if app is not None:
        target.update(name=app.name, namespace=app.namespace)
    return target


# ---------------------------------------------------------------- notifications

def provider(declaration: Settings) -> dict[str, Any]:
    values = plain(declaration.values)
    spec = {"type": values["type"]}
    if values.get("channel"):
        spec["channel"] = values["channel"]
    _secret_ref(values, spec)
    return kube_object(NOTIFICATION_BETA_API, "Provider", declaration.name, FLUX_NAMESPACE, spec)


def alert(declaration: Settings, sources_by_kind: dict[str, list[str]]) -> dict[str, Any] | None:
    """An Alert on every object of the declared kinds, in the namespaces where this cluster
    has such objects (`sources_by_kind`: kind -> namespaces). None when there are none."""
    values = plain(declaration.values)
    event_sources = [{"kind": kind, "name": "*", "namespace": namespace_}
                     for kind in values["kinds"] for namespace_ in sources_by_kind.get(kind, [])]
    if not event_sources:
        return None
    spec = {"providerRef": {"name": values["provider"]}, "eventSeverity": values["severity"],
            "eventSources": event_sources}
    return kube_object(NOTIFICATION_BETA_API, "Alert", declaration.name, FLUX_NAMESPACE, spec)


def receiver(fleet: Fleet, declaration: Settings) -> dict[str, Any]:
    values = plain(declaration.values)
    spec: dict[str, Any] = {"type": values["type"]}
    if values["events"]:
        spec["events"] = values["events"]
    spec["secretRef"] = {"name": values["secretName"]}
    spec["resources"] = [{"apiVersion": SOURCE_API, "kind": GIT_REPOSITORY, "name": git_repository_name(fleet, name)}
                         for name in values["resources"]]
    return kube_object(NOTIFICATION_API, "Receiver", declaration.name, FLUX_NAMESPACE, spec)


# ---------------------------------------------------------------- image automation

def image_repository(app: AppModel) -> dict[str, Any]:
    spec = {"image": app.base["image"]["repository"], "interval": str(app.base["imagePolicy"]["interval"])}
    return kube_object(IMAGE_API, "ImageRepository", app.name, FLUX_NAMESPACE, spec)


def image_policy(app: AppModel) -> dict[str, Any]:
    """The app's ImagePolicy: its tag filter, if any, and its one order (gopc check makes sure of one)."""
    policy = plain(app.base["imagePolicy"])
    spec: dict[str, Any] = {"imageRepositoryRef": {"name": app.name}}
    if TAG_FILTER in policy:
        spec["filterTags"] = dict(policy[TAG_FILTER])
    if "semver" in policy:
        spec["policy"] = {"semver": {"range": policy["semver"]}}
    else:
        order = next(order for order in IMAGE_POLICY_ORDERS if order in policy)
        spec["policy"] = {order: {"order": policy[order]}}
    return kube_object(IMAGE_API, "ImagePolicy", app.name, FLUX_NAMESPACE, spec)


def image_update_automation(fleet: Fleet, declaration: Settings) -> dict[str, Any]:
    values = plain(declaration.values)
    source = plain(sync_source(fleet).values)
    spec = {
        "interval": values["interval"],
        "sourceRef": _source_ref(),
        "git": {"checkout": {"ref": {"branch": source["branch"]}},
                "commit": {"author": {"name": values["authorName"], "email": values["authorEmail"]}},
                "push": {"branch": values["branch"]}},
        "update": {"path": IMAGE_UPDATE_PATH, "strategy": "Setters"},
    }
    return kube_object(IMAGE_API, "ImageUpdateAutomation", declaration.name, FLUX_NAMESPACE, spec)
