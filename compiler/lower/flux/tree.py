"""The repository files of the Flux lowering (everything but charts/).

Input: a `Fleet`. Output: relative path -> file text, sorted by path. Made in two parts, each
app's own files (`app_files`, by groups of apps) and the rest (`fleet_files`), through the fleet's
`LoweringCaches.tree_parts` (`treestore`: kept across runs in the disk cache).

Layout (after fluxcd/flux2-kustomize-helm-example; docs/flux.md explains each file):
    apps/base/<app>/                    kustomization.yaml, release.yaml (HelmRelease),
                                        repository.yaml (OCIRepository/HelmRepository, charts from OCI),
                                        network-policy.yaml (`delivery.networkPolicies`)
    apps/<env>/kustomization.yaml       every app of the env (for inspection; clusters do not use it)
    apps/<env>/<app>/                   kustomization.yaml (+ <app>-values.yaml: the env's patch)
    infrastructure/namespaces/<ns>/     kustomization.yaml, namespace.yaml (+ tenant RBAC): the namespaces of
                                        apps, of `namespace` declarations and of resources
    infrastructure/resources/<name>/    kustomization.yaml, objects.yaml: a `resource`'s objects (one
                                        directory per form: .../<env>/, .../<env>/<cluster>/ when they differ)
    infrastructure/tenant/              the service account the apps Kustomization impersonates
    tenants/<tenant>/<env>/             a `tenant`'s own Git sync (sync.yaml) and its releases' account
                                        (account.yaml), listed by the stage of its first namespace
    releases/base/<release>/            kustomization.yaml, release.yaml (a `release`'s HelmRelease)
    releases/<env>/<release>/           kustomization.yaml (+ <release>-values.yaml: the env's patch)
    secrets/<path without .yaml>/       kustomization.yaml + a SOPS-encrypted Secret, copied verbatim
    components/<overlay>/               a Kustomize Component per selector overlay: kustomization.yaml,
                                        values.yaml (every release) and <app>-values.yaml patches
    clusters/<cluster>/                 kustomization.yaml, flux-system/ (bootstrap's sync),
                                        <stage>.yaml per delivery stage (Flux Kustomizations;
                                        infrastructure.yaml + apps.yaml when none is declared),
                                        sources.yaml (+ the releases' chart sources), notifications.yaml,
                                        image-automation.yaml, <stage>/ (what each Kustomization
                                        applies: its namespaces, its releases with
                                        releases/<release>-values.yaml, what overlays and the cluster
                                        set, its resources, its apps, the components of the overlays selecting the
                                        cluster, <app>-values.yaml patches with what it sets, and
                                        external-secrets.yaml: the ExternalSecrets of its apps;
                                        the apps' part in <stage>/apps/ when releases share the stage)

Invariants:
- Every directory with a kustomization.yaml builds with `kubectl kustomize`, and no build
  holds one object twice. clusters/<cluster>/ has an explicit kustomization.yaml, so its
  stage sub-trees are applied only by their own Flux Kustomizations.
- The output is a pure function of the fleet (and the SOPS files it names).
- What the clusters share (the overlay plan, the SOPS secrets, the charts' versions) is read from
  the fleet's `LoweringCaches`; the one process-wide cache here, `_kustomization_of`, is a pure
  function of file names (no program object).
"""

from __future__ import annotations

import functools
from dataclasses import dataclass
from typing import Any

from gop.compiler.fleet.model import Fleet
from gop.compiler.fleet.stages import stage_of
from gop.compiler.lower.flux import network, objects, plan, releases, tenants, treestore
from gop.compiler.lower.flux.errors import FluxLoweringError
from gop.compiler.lower.flux.objects import (
    IMAGE_TAG_PATH, every_release_patch, helm_release, kustomize_component, kustomize_config, namespace_moves,
    release_patch, release_patch_target,
)
from gop.compiler.lower.flux.caches import LoweringCaches, caches_for
from gop.compiler.lower.flux.overlays import Component
from gop.compiler.lower.flux.resources import OBJECTS_FILE
from gop.compiler.lower.flux.secrets import SopsSecret
from gop.compiler.emit.yaml import Comments, dump_yaml

BOOTSTRAP_COMPONENTS = "gotk-components.yaml"
SYNC_HEADER = ("Flux syncs this cluster from here. `flux bootstrap` writes the same objects, and adds\n"
               f"{BOOTSTRAP_COMPONENTS} (the Flux controllers) beside this file.")
COMPONENTS_DIR = "components"
STAGE_APPS_DIR = "apps"  # clusters/<cluster>/<stage>/apps/: the apps of a stage that also applies releases
RELEASES_DIR = "releases"
EXTERNAL_SECRETS_FILE = "external-secrets.yaml"  # never an app's patch file: those end in -values.yaml
COMMON_PATCH = "values.yaml"  # never an app's patch file: those end in -values.yaml
COMMON_PATCH_NAME = "every-release"  # kustomize puts each target's name in its place
COMMON_PATCH_HEADER = ("Patched into every HelmRelease of each cluster that lists this component (the target in\n"
                       "kustomization.yaml names no release; kustomize puts each release's name in place of this one).")


def repository_files(fleet: Fleet, caches: LoweringCaches | None = None) -> dict[str, str]:
    caches = caches_for(fleet, caches)
    apps = envs_apps(fleet)
    envs: dict[str, list[str]] = {app: [] for app in fleet.apps}  # app -> the envs it is deployed in
    for env, names in apps.items():
        for app in names:
            envs[app].append(env)
    files: dict[str, str] = {}
    for group in treestore.app_groups(fleet):
        files.update(caches.tree_parts.apps_files(fleet, group, envs, caches,
                                                  make=lambda group=group: _apps_files(fleet, group, envs, caches)))
    files.update(caches.tree_parts.fleet_files(fleet, caches, make=lambda: fleet_files(fleet, caches, apps)))
    return dict(sorted(files.items()))


def envs_apps(fleet: Fleet) -> dict[str, list[str]]:
    """Env -> its apps (`plan.env_apps`), by env."""
    return {env: plan.env_apps(fleet, env) for env in sorted(fleet.envs)}


def _apps_files(fleet: Fleet, apps: list[str], envs: dict[str, list[str]], caches: LoweringCaches) -> dict[str, str]:
    return {path: text for name in apps for path, text in app_files(fleet, name, envs[name], caches).items()}


def app_files(fleet: Fleet, name: str, envs: list[str], caches: LoweringCaches) -> dict[str, str]:
    """The files of one app: apps/base/<app>/ and apps/<env>/<app>/ for each of its `envs`
    (`treestore` keeps them by what they read)."""
    files: dict[str, str] = {}
    _app_base(fleet, name, caches, files)
    for env in envs:
        _env_app(fleet, env, name, caches, files)
    return files


def fleet_files(fleet: Fleet, caches: LoweringCaches, envs_apps: dict[str, list[str]]) -> dict[str, str]:
    """Every file but the apps' own (`app_files`): the envs' lists of apps (`envs_apps`), releases,
    overlays' components, namespaces, resources, tenants, SOPS secrets and clusters."""
    files: dict[str, str] = {}
    for env, apps in envs_apps.items():
        files[f"apps/{env}/kustomization.yaml"] = dump_yaml([kustomize_config(apps)])
    for name in sorted(fleet.releases):
        _release_base(fleet, name, caches, files)
    for env in sorted(fleet.envs):
        _env_releases(fleet, env, caches, files)
    for overlay in caches.release_components().trees:
        _release_component(fleet, overlay, caches, files)
    for namespace in plan.all_namespaces(fleet, caches):
        _unit(files, f"infrastructure/namespaces/{namespace}", plan.namespace_files(fleet, namespace))
    for directory, docs in caches.resource_plan().directories().items():
        _unit(files, directory, {OBJECTS_FILE: list(docs)})
    if plan.tenant_objects(fleet):
        _unit(files, "infrastructure/tenant", {"serviceaccount.yaml": plan.tenant_objects(fleet)})
    for env in sorted(fleet.envs):
        for tenant in sorted({tenant.name for cluster in fleet.envs[env].clusters for tenant in tenants.cluster_tenants(fleet, cluster)}):
            _unit(files, tenants.tenant_directory(tenant, env), tenants.tenant_files(fleet, fleet.tenants[tenant], env))
    _secrets(fleet, caches, files)
    overlays = caches.overlay_plan()
    patching = {component.name for component in overlays.components.values() if _component(fleet, component, files)}
    for cluster in sorted(fleet.clusters):
        _cluster(fleet, cluster, caches, patching, files)
    return files


def _secrets(fleet: Fleet, caches: LoweringCaches, files: dict[str, str]) -> None:
    for secret in sops_secrets(fleet, caches):
        files[f"{secret.directory}/{secret.file_name}"] = secret.text
        files[f"{secret.directory}/kustomization.yaml"] = dump_yaml([kustomize_config([secret.file_name])])


def sops_secrets(fleet: Fleet, caches: LoweringCaches) -> list[SopsSecret]:
    """Every cluster's SOPS files, each once, sorted by path; two that would be copied to one
    directory of the repository are an error."""
    secrets = {secret.file: secret for cluster in fleet.clusters for secret in caches.sops_secrets(cluster)}
    directories: dict[str, str] = {}
    for _, secret in sorted(secrets.items()):
        other = directories.setdefault(secret.directory, secret.file)
        if other != secret.file:
            raise FluxLoweringError(f"SOPS files {other} and {secret.file} would share the directory "
                                    f"{secret.directory}/ of the repository; rename one")
    return [secret for _, secret in sorted(secrets.items())]


def _unit(files: dict[str, str], directory: str, contents: dict[str, list[dict[str, Any]]]) -> None:
    """A kustomization directory whose resources are the given files."""
    for name, docs in contents.items():
        files[f"{directory}/{name}"] = dump_yaml(docs)
    files[f"{directory}/kustomization.yaml"] = dump_yaml([kustomize_config(list(contents))])


def base_release_file(app: str) -> str:
    """The app's base HelmRelease: where image automation commits new tags (`IMAGE_TAG_PATH`)."""
    return f"apps/base/{app}/release.yaml"


def _app_base(fleet: Fleet, name: str, caches: LoweringCaches, files: dict[str, str]) -> None:
    app = fleet.apps[name]
    directory = f"apps/base/{name}"
    release = helm_release(fleet, app, caches.helm)
    comments = {0: Comments(line={IMAGE_TAG_PATH: objects.image_marker(app)})} if "imagePolicy" in app.base else None
    files[base_release_file(name)] = dump_yaml([release], comments=comments)
    resources = ["release.yaml"]
    policies = caches.network_policies().get(name)
    if policies:
        files[f"{directory}/{network.POLICY_FILE}"] = dump_yaml(policies)
        resources.append(network.POLICY_FILE)
    source = objects.chart_source(fleet, app, caches.helm)
    if source is not None:
        files[f"{directory}/repository.yaml"] = dump_yaml([source])
        resources.append("repository.yaml")
    files[f"{directory}/kustomization.yaml"] = _kustomization_of(tuple(sorted(resources)))


# Process-wide (see compiler/session.py): a pure function of file names, holding no program object;
# every app's base has the same one.
@functools.lru_cache(maxsize=64)
def _kustomization_of(resources: tuple[str, ...]) -> str:
    return dump_yaml([kustomize_config(list(resources))])


def _patched(files: dict[str, str], directory: str, resources: list[str],
             patches: list[tuple[str, dict[str, Any], dict[str, Any]]], components: list[str] | None = None,
             moves: list[dict[str, Any]] | None = None) -> None:
    """A kustomization of `resources` and `components` with strategic-merge patches (file name,
    patch, target), then the inline `patches` entries that move releases to other namespaces."""
    entries = _patch_files(files, directory, patches) + (moves or [])
    files[f"{directory}/kustomization.yaml"] = dump_yaml([kustomize_config(resources, entries, components)])


def _patch_files(files: dict[str, str], directory: str,
                 patches: list[tuple[str, dict[str, Any], dict[str, Any]]]) -> list[dict[str, Any]]:
    """Writes the patch files; returns their `patches` entries."""
    entries = []
    for file_name, patch, target in patches:
        files[f"{directory}/{file_name}"] = dump_yaml([patch])
        entries.append({"path": file_name, "target": target})
    return entries


def _component(fleet: Fleet, component: Component, files: dict[str, str]) -> bool:
    """components/<overlay>/: what a selector overlay sets, for every cluster it selects. Nothing,
    and False, when no release sees it (an overlay that only moves namespaces: kustomize refuses
    a component without patches, and the clusters move the releases themselves)."""
    directory = f"{COMPONENTS_DIR}/{component.name}"
    entries = []
    common = every_release_patch(fleet, component.common, COMMON_PATCH_NAME) if component.common else None
    if common:
        files[f"{directory}/{COMMON_PATCH}"] = dump_yaml([common], header=COMMON_PATCH_HEADER)
        entries.append({"path": COMMON_PATCH, "target": release_patch_target(None)})
    patches = []
    for name, tree in component.per_app.items():
        patch = release_patch(fleet, fleet.apps[name], tree)
        if patch:
            patches.append((f"{name}-values.yaml", patch, release_patch_target(fleet.apps[name])))
    entries += _patch_files(files, directory, patches)
    if not entries:
        return False
    files[f"{directory}/kustomization.yaml"] = dump_yaml([kustomize_component(entries)])
    return True


def _env_app(fleet: Fleet, env: str, name: str, caches: LoweringCaches, files: dict[str, str]) -> None:
    """apps/<env>/<app>/: the base with the env's patch, moved to the env's namespace."""
    app = fleet.apps[name]
    patch = release_patch(fleet, app, fleet.envs[env].app_values.get(name, {}))
    patches = [(f"{name}-values.yaml", patch, release_patch_target(app))] if patch else []
    namespace = caches.env_namespaces(env)[name]
    moves = namespace_moves(fleet, app, namespace, caches.helm) if namespace != app.namespace else []
    _patched(files, f"apps/{env}/{name}", [f"../../base/{name}"], patches, moves=moves)


def _cluster(fleet: Fleet, cluster: str, caches: LoweringCaches, patching: set[str], files: dict[str, str]) -> None:
    directory = f"clusters/{cluster}"
    resources = ["flux-system"]
    stages = plan.cluster_stages(fleet, cluster, caches)
    files[f"{directory}/flux-system/gotk-sync.yaml"] = dump_yaml(plan.sync_objects(fleet, cluster), header=SYNC_HEADER)
    files[f"{directory}/flux-system/kustomization.yaml"] = dump_yaml(
        [kustomize_config([BOOTSTRAP_COMPONENTS, "gotk-sync.yaml"], tenants.lockdown_patches(fleet))])
    groups = {"sources.yaml": plan.cluster_source_objects(fleet, cluster, caches),
              **{name: [doc] for name, doc in plan.kustomization_objects(fleet, cluster, stages).items()},
              "notifications.yaml": plan.notification_objects(fleet, cluster, caches),
              "image-automation.yaml": plan.image_automation_objects(fleet, cluster)}
    for name, docs in groups.items():
        if docs:
            files[f"{directory}/{name}"] = dump_yaml(docs)
            resources.append(name)
    files[f"{directory}/kustomization.yaml"] = dump_yaml([kustomize_config(resources)])
    for stage in stages:
        _cluster_stage(fleet, cluster, stage, caches, patching, files)


def _cluster_stage(fleet: Fleet, cluster: str, stage: plan.ClusterStage, caches: LoweringCaches, patching: set[str],
                   files: dict[str, str]) -> None:
    """clusters/<cluster>/<stage>/: what the stage applies there (its namespaces, the tenant's
    account, its apps with what the cluster patches and the components of the selector overlays
    selecting the cluster, and their Secrets). The components patch every HelmRelease of the
    kustomization that lists them, so in a stage that also applies releases the apps' part is a
    kustomization of its own, `<stage>/apps/`, that the stage lists."""
    directory = f"clusters/{cluster}/{stage.name}"
    resources = [f"../../../infrastructure/namespaces/{namespace}" for namespace in stage.namespaces]
    if stage.tenant:
        resources.append("../../../infrastructure/tenant")
    env = fleet.clusters[cluster].env
    resources += [f"../../../{tenants.tenant_directory(tenant, env)}" for tenant in stage.tenant_dirs]
    if stage.apps and stage.releases:
        _patched(files, f"{directory}/{STAGE_APPS_DIR}", *_stage_apps(fleet, cluster, stage, caches, patching, "../../../../"))
        resources.append(STAGE_APPS_DIR)
        apps, patches, components, moves = [], [], [], []
    else:
        apps, patches, components, moves = _stage_apps(fleet, cluster, stage, caches, patching, "../../../")
    resources += [f"../../../{directory}" for directory in plan.stage_resources(fleet, cluster, caches).get(stage.name, ())]
    released = _stage_releases(fleet, cluster, stage.name, caches)
    resources += released.resources + apps + [f"../../../{secret.directory}" for secret in stage.sops]
    if stage.external:
        files[f"{directory}/{EXTERNAL_SECRETS_FILE}"] = dump_yaml(stage.external)
        resources.append(EXTERNAL_SECRETS_FILE)
    _patched(files, directory, resources, released.patches + patches, released.components + components, moves)


# ---------------------------------------------------------------- releases (docs/flux.md)

@dataclass(frozen=True, slots=True)
class StageEntries:
    """What a stage's kustomization (clusters/<cluster>/<stage>/) lists for the cluster's releases."""

    resources: list[str]  # ../../../releases/<env>/<release>
    components: list[str]  # ../../../components/<overlay>/releases: what selector overlays set
    patches: list[tuple[str, dict[str, Any], dict[str, Any]]]  # (file, patch, target): the rest, what the cluster sets


def _stage_releases(fleet: Fleet, cluster: str, stage: str, caches: LoweringCaches) -> StageEntries:
    """The entries of the cluster's releases applied in `stage` (`fleet.stages.stage_of`)."""
    env = fleet.clusters[cluster].env
    sources, components = caches.chart_sources(), caches.release_components()
    entries = StageEntries([], [], [])
    overlays: set[str] = set()
    for release in releases.cluster_releases(fleet, cluster):
        if stage_of(fleet, "release", release.values) != stage:
            continue
        entries.resources.append(f"../../../{RELEASES_DIR}/{env}/{release.name}")
        overlays.update(overlay for overlay in components.listed.get(cluster, ())
                        if release.name in components.trees[overlay])
        patch = releases.cluster_patch(fleet, sources, components, cluster, release)
        if patch:
            entries.patches.append((f"{RELEASES_DIR}/{release.name}-values.yaml", patch, releases.patch_target(release.name)))
    entries.components.extend(f"../../../{COMPONENTS_DIR}/{overlay}/{RELEASES_DIR}" for overlay in sorted(overlays))
    return entries


def _release_component(fleet: Fleet, overlay: str, caches: LoweringCaches, files: dict[str, str]) -> None:
    """components/<overlay>/releases/: what a selector overlay sets for releases, for every cluster it selects."""
    directory = f"{COMPONENTS_DIR}/{overlay}/{RELEASES_DIR}"
    patches = releases.component_patches(caches.chart_sources(), caches.release_components(), overlay)
    entries = _patch_files(files, directory, [(f"{name}-values.yaml", patch, releases.patch_target(name))
                                              for name, patch in patches.items()])
    files[f"{directory}/kustomization.yaml"] = dump_yaml([kustomize_component(entries)])


def _release_base(fleet: Fleet, name: str, caches: LoweringCaches, files: dict[str, str]) -> None:
    """releases/base/<release>/: the HelmRelease as the declaration writes it."""
    files[f"{RELEASES_DIR}/base/{name}/release.yaml"] = dump_yaml([releases.helm_release(fleet, caches.chart_sources(), name)])
    files[f"{RELEASES_DIR}/base/{name}/kustomization.yaml"] = _kustomization_of(("release.yaml",))


def _env_releases(fleet: Fleet, env: str, caches: LoweringCaches, files: dict[str, str]) -> None:
    """releases/<env>/<release>/: the base with what the env sets, for each release the env runs."""
    names = releases.env_releases(fleet, env)
    for name in names:
        patch = releases.env_patch(fleet, caches.chart_sources(), env, name)
        patches = [(f"{name}-values.yaml", patch, releases.patch_target(name))] if patch else []
        _patched(files, f"{RELEASES_DIR}/{env}/{name}", [f"../../base/{name}"], patches)
    if names:
        files[f"{RELEASES_DIR}/{env}/kustomization.yaml"] = dump_yaml([kustomize_config(names)])


def _stage_apps(fleet: Fleet, cluster: str, stage: plan.ClusterStage, caches: LoweringCaches, patching: set[str],
                root: str) -> tuple[list[str], list, list[str], list[dict[str, Any]]]:
    """The resources, cluster patches, components and namespace moves of the stage's apps, for a
    kustomization at `root` (the relative path up to the repository's root)."""
    if not stage.apps:
        return [], [], [], []
    model = fleet.clusters[cluster]
    spaces = caches.cluster_namespaces(cluster)
    env_spaces = caches.env_namespaces(model.env)
    resources, patches, moves = [], [], []
    for name in stage.apps:
        resources.append(f"{root}apps/{model.env}/{name}")
        patch = plan.own_patch(fleet, cluster, name, spaces, caches)
        if patch:
            patches.append((f"{name}-values.yaml", patch, release_patch_target(fleet.apps[name])))
        if spaces[name] != env_spaces[name]:
            moves += namespace_moves(fleet, fleet.apps[name], spaces[name], caches.helm)
    components = [f"{root}{COMPONENTS_DIR}/{name}" for name in caches.overlay_plan().cluster_components.get(cluster, ())
                  if name in patching]
    return resources, patches, components, moves
