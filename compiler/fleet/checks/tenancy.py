"""Tenant isolation, proven before Git: what a tenant could reach beyond its own namespaces.

Input: a `Fleet` and the `Resolution` (each tenant's declaration, for the spans of what it lists).
Output: `tenancy_diagnostics(fleet, resolution)`, each problem once however many clusters share it:
- TENANT_FOREIGN_NAMESPACE: a tenant's app, release or resource in a namespace it does not own;
- TENANT_SYSTEM_NAMESPACE: a system namespace owned by a tenant, or holding a tenant's unit;
- TENANT_CLUSTER_SCOPED: a tenant's resource of a cluster-scoped kind;
- TENANT_CROSS_NAMESPACE_REF: a reference from a tenant's app to another namespace (a dependency
  in another namespace, a chart read from flux-system's GitRepository, a ClusterSecretStore);
- TENANT_SHARED_NAMESPACE, TENANT_SHARED_UNIT, TENANT_ACCOUNT_CLASH: a namespace, a unit or an
  account claimed by two tenants (or an account named as a Flux controller's);
- TENANT_NOT_ON_CLUSTER: a tenant's unit on a cluster where the tenant is not placed;
- TENANT_UNKNOWN_ENV: a `git.paths` key naming no env;
- TENANT_WITH_FLEET_ACCOUNT: tenants beside `delivery.serviceAccountName` (one model or the other);
- LOCKDOWN_REFUSES: under `delivery.lockdown`, what the locked-down controllers would refuse.

Invariants: deterministic order (tenants, units and clusters sorted); a fleet without tenants and
without lockdown costs nothing here. The namespaces and owners are `fleet.tenancy`'s, which the
lowering reads too.
"""

from __future__ import annotations

from collections.abc import Iterator

from gop.compiler.core.span import Span
from gop.compiler.diagnostics import Diagnostic, Related, codes, diagnostic
from gop.compiler.fleet import tenancy
from gop.compiler.fleet.checks.effective import SYSTEM_NAMESPACES
from gop.compiler.fleet.checks.versions import clusters_text
from gop.compiler.fleet.model import Fleet, Instance, Settings
from gop.compiler.language import AppField
from gop.compiler.syntax import ast

# The service accounts of Flux's controllers in flux-system (a tenant's releases impersonate its
# account there).
FLUX_ACCOUNTS = ("helm-controller", "image-automation-controller", "image-reflector-controller", "kustomize-controller",
                 "notification-controller", "source-controller")
SECRET_STORE = "SecretStore"  # the namespaced store kind; a ClusterSecretStore serves every namespace


def tenancy_diagnostics(fleet: Fleet, resolution) -> list[Diagnostic]:
    if not fleet.tenants and not fleet.delivery.values.get("lockdown"):
        return []
    decls = resolution.resources["tenant"]
    found: dict[tuple, Diagnostic] = {}
    delivery = resolution.singletons.get("delivery")
    owners = tenancy.unit_owners(fleet)
    groups = [_claims(fleet, decls), _lockdown(fleet, resolution, delivery, owners)]
    if delivery is not None and fleet.tenants:
        groups.append(_fleet_account(fleet, delivery, decls))
    for name, tenant in fleet.tenants.items():
        groups += [_declaration(fleet, tenant, decls[name]), _on_clusters(_placed_units(fleet, tenant, decls[name], owners))]
    for group in groups:
        for diag in group:
            found.setdefault((diag.code, diag.span, diag.message), diag)
    return list(found.values())


# ---- the declarations -----------------------------------------------------------------------------

def _declaration(fleet: Fleet, tenant: Settings, decl: ast.ResourceDecl) -> Iterator[Diagnostic]:
    for namespace, span in _listed(decl, "namespaces"):
        if namespace in SYSTEM_NAMESPACES:
            yield diagnostic(codes.TENANT_SYSTEM_NAMESPACE, span, f"tenant `{tenant.name}` cannot own the system namespace `{namespace}`",
                             notes=("Kubernetes and Flux run there: its admin could take over the cluster; "
                                    "give the tenant namespaces of its own",))
    account = tenancy.account(tenant)
    if account in FLUX_ACCOUNTS:
        yield diagnostic(codes.TENANT_ACCOUNT_CLASH, _field_span(decl, ("serviceAccount",)),
                         f"tenant `{tenant.name}` would impersonate `{account}`, the service account of a Flux controller",
                         notes=(f'name its account after the tenant (`serviceAccount = "{tenant.name}"`)',))
    git = tenant.values.get("git")
    for env, span in _map_keys(decl, ("git", "paths")) if git else ():
        if env not in fleet.envs:
            yield diagnostic(codes.TENANT_UNKNOWN_ENV, span, f"tenant `{tenant.name}`: `git.paths` names `{env}`, which is no env",
                             notes=(f"envs: {', '.join(sorted(fleet.envs)) or 'none declared'}",))


def _claims(fleet: Fleet, decls: dict[str, ast.ResourceDecl]) -> Iterator[Diagnostic]:
    """Namespaces, units and accounts claimed twice, reported at the later tenant (by name)."""
    namespaces: dict[str, tuple[str, Span]] = {}
    units: dict[tuple[str, str], tuple[str, Span]] = {}
    accounts: dict[str, str] = {}
    for name, tenant in fleet.tenants.items():
        decl = decls[name]
        for namespace, span in _listed(decl, "namespaces"):
            first = namespaces.setdefault(namespace, (name, span))
            if first[0] != name:
                yield diagnostic(codes.TENANT_SHARED_NAMESPACE, span, f"namespace `{namespace}` is owned by tenant `{first[0]}` "
                                 f"and by tenant `{name}`", related=[Related(first[1], f"tenant `{first[0]}` owns it")],
                                 notes=("a namespace is one tenant's: its RBAC, its Git sync; give each tenant its own",))
        for kind, field in tenancy.UNIT_FIELDS.items():
            for unit, span in _listed(decl, field):
                first = units.setdefault((kind, unit), (name, span))
                if first[0] != name:
                    yield diagnostic(codes.TENANT_SHARED_UNIT, span, f"{kind} `{unit}` belongs to tenant `{first[0]}` and to "
                                     f"tenant `{name}`", related=[Related(first[1], f"tenant `{first[0]}` lists it")],
                                     notes=(f"list the {kind} in one tenant only",))
        account = tenancy.account(tenant)
        other = accounts.setdefault(account, name)
        if other != name:
            yield diagnostic(codes.TENANT_ACCOUNT_CLASH, _field_span(decl, ("serviceAccount",)),
                             f"tenants `{other}` and `{name}` would share the service account `{account}`",
                             related=[Related(_field_span(decls[other], ("serviceAccount",)), f"tenant `{other}`'s account")],
                             notes=("an account is a tenant's identity: Flux impersonates it; give each tenant its own",))


def _fleet_account(fleet: Fleet, delivery: ast.ResourceDecl, decls: dict[str, ast.ResourceDecl]) -> Iterator[Diagnostic]:
    account = fleet.delivery.values.get("serviceAccountName")
    if account:
        first = next(iter(fleet.tenants))
        yield diagnostic(codes.TENANT_WITH_FLEET_ACCOUNT, _field_span(delivery, ("serviceAccountName",)),
                         f"the program declares tenants and `delivery.serviceAccountName = \"{account}\"`",
                         related=[Related(decls[first].name.span, f"tenant `{first}`")],
                         notes=("`delivery.serviceAccountName` makes every app one tenant's; with `tenant` declarations each "
                                "tenant has its own account: remove `serviceAccountName` and list the apps in tenants",))


def _lockdown(fleet: Fleet, resolution, decl: ast.ResourceDecl | None,
              owners: dict[tuple[str, str], Settings]) -> Iterator[Diagnostic]:
    """What controllers run with --no-cross-namespace-refs and --default-service-account would refuse."""
    delivery = fleet.delivery
    if not delivery.values.get("lockdown") or decl is None:
        return
    if delivery.values["charts"] == "git" and fleet.apps:
        yield diagnostic(codes.LOCKDOWN_REFUSES, _field_span(decl, ("lockdown",)),
                         'under `lockdown`, apps cannot read their charts from Git (`charts = "git"`)',
                         notes=("each HelmRelease would read flux-system's GitRepository from its own namespace, which "
                                '--no-cross-namespace-refs refuses; push the charts to a registry: `charts = "oci"`',))
    in_app_namespaces = {"HelmRelease"} | ({delivery.values["ociSource"]} if delivery.values["charts"] == "oci" else set())
    for name, alert in fleet.alerts.items():
        watched = sorted(in_app_namespaces & set(alert.values["kinds"]))
        if watched and fleet.apps:
            yield diagnostic(codes.LOCKDOWN_REFUSES, resolution.resources["alert"][name].name.span,
                             f"under `lockdown`, alert `{name}` would watch {' and '.join(watched)} objects in the apps' namespaces",
                             notes=("an Alert in flux-system may name event sources of flux-system only "
                                    "(--no-cross-namespace-refs); keep `kinds` to Kustomization and GitRepository",))
    if delivery.values.get("serviceAccountName"):
        return
    for name, app in fleet.apps.items():
        if ("app", name) not in owners and app.clusters:
            yield diagnostic(codes.LOCKDOWN_REFUSES, app.span,
                             f"under `lockdown`, app `{name}` would be installed as the `default` service account of its namespace",
                             notes=("--default-service-account=default leaves an app of no tenant without rights; "
                                    "list it in a tenant's `apps`",))


# ---- the units, on each cluster -------------------------------------------------------------------

# (code, span, message, notes) of a problem, and the cluster it was found on.
Problem = tuple[str, Span, str, tuple[str, ...], str]


def _on_clusters(problems: Iterator[Problem]) -> Iterator[Diagnostic]:
    """Each problem once, naming the clusters it was found on."""
    clusters: dict[tuple[str, Span, str, tuple[str, ...]], list[str]] = {}
    for code, span, message, notes, cluster in problems:
        clusters.setdefault((code, span, message, notes), []).append(cluster)
    for (code, span, message, notes), found in clusters.items():
        yield diagnostic(code, span, f"{message} (on {clusters_text(sorted(set(found)))})", notes=notes)


def _placed_units(fleet: Fleet, tenant: Settings, decl: ast.ResourceDecl,
                  owners: dict[tuple[str, str], Settings]) -> Iterator[Problem]:
    owned = set(tenancy.namespaces(tenant))
    placed = set(tenant.clusters)
    for kind, field in tenancy.UNIT_FIELDS.items():
        for name, listed in _listed(decl, field):
            model = {"app": fleet.apps, "release": fleet.releases, "resource": fleet.resources}[kind].get(name)
            if model is None or owners.get((kind, name)) is not tenant:
                continue  # unknown (the checker said so), or another tenant's (TENANT_SHARED_UNIT)
            # Clusters share instances (and their dependencies' instances): the unit's problems are
            # worked out once per distinct set, by identity (the fleet keeps them all alive).
            found: dict[tuple[int, ...], list[tuple[str, Span, str, tuple[str, ...]]]] = {}
            for cluster in model.clusters:
                if cluster not in placed:
                    yield (codes.TENANT_NOT_ON_CLUSTER, listed,
                           f"{kind} `{name}` of tenant `{tenant.name}` runs where the tenant is not placed",
                           ("the tenant's namespaces and account exist only on the clusters its `where` selects; "
                           "widen the tenant's selector or narrow the " + kind + "'s",), cluster)
                    continue
                instance = _instance(fleet, kind, cluster, name)
                key = _inputs(fleet, kind, instance, cluster)
                problems = found.get(key)
                if problems is None:
                    problems = found[key] = [problem[:4] for problem in
                                             _unit_problems(fleet, tenant, owned, kind, name, instance, cluster, listed)]
                for problem in problems:
                    yield (*problem, cluster)


def _unit_problems(fleet: Fleet, tenant: Settings, owned: set[str], kind: str, name: str, instance: Instance,
                   cluster: str, listed: Span) -> Iterator[Problem]:
    yield from _namespaces(fleet, tenant, owned, kind, name, instance, cluster, listed)
    if kind == "app":
        yield from _app_references(fleet, tenant, name, instance, cluster, listed)


def _inputs(fleet: Fleet, kind: str, instance: Instance, cluster: str) -> tuple[int, ...]:
    """What a unit's problems on a cluster are a function of: its instance and, for an app, the
    instances of its dependencies there (`_app_references` reads their namespaces)."""
    if kind != "app":
        return (id(instance),)
    instances = fleet.clusters[cluster].instances
    refs = instance.values.get(AppField.DELIVERY, {}).get(AppField.DEPENDS_ON, [])
    return (id(instance), *(id(instances.get(ref.name)) for ref in refs))


def _instance(fleet: Fleet, kind: str, cluster: str, name: str) -> Instance:
    model = fleet.clusters[cluster]
    return {"app": model.instances, "release": model.releases, "resource": model.resources}[kind][name]


def _namespaces(fleet: Fleet, tenant: Settings, owned: set[str], kind: str, name: str, instance: Instance, cluster: str,
                listed: Span) -> Iterator[Problem]:
    if kind == "app":
        spaces = [tenancy.app_namespace(fleet, instance)]
    elif kind == "release":
        spaces = [instance.values.get("namespace") or name]
    else:
        spaces = tenancy.resource_namespaces(fleet, name, instance)
    span = _origin_span(instance, ("namespace",), listed)
    for space in dict.fromkeys(spaces):
        if space is tenancy.CLUSTER_SCOPED:
            yield (codes.TENANT_CLUSTER_SCOPED, listed, f"resource `{name}` of tenant `{tenant.name}` is cluster-scoped",
                   ("a tenant's objects live in its namespaces; cluster-scoped objects (CRDs, ClusterRoles, "
                   "Namespaces ...) are the platform's: move the resource out of the tenant",), cluster)
        elif space in SYSTEM_NAMESPACES:
            yield (codes.TENANT_SYSTEM_NAMESPACE, span, f"{kind} `{name}` of tenant `{tenant.name}` is in the system "
                   f"namespace `{space}`",
                   (f"put it in one of the tenant's namespaces: {', '.join(tenancy.namespaces(tenant))}",), cluster)
        elif space not in owned:
            yield (codes.TENANT_FOREIGN_NAMESPACE, span, f"{kind} `{name}` of tenant `{tenant.name}` is in namespace "
                   f"`{space}`, which the tenant does not own",
                   (f"the tenant owns {', '.join(tenancy.namespaces(tenant))}: put it there, or add "
                   f"`{space}` to the tenant's `namespaces`",), cluster)


def _app_references(fleet: Fleet, tenant: Settings, name: str, instance: Instance, cluster: str,
                    listed: Span) -> Iterator[Problem]:
    own = tenancy.app_namespace(fleet, instance)
    if fleet.delivery.values["charts"] == "git":
        yield (codes.TENANT_CROSS_NAMESPACE_REF, listed, f"app `{name}` of tenant `{tenant.name}` reads its chart from "
               "the GitRepository in flux-system",
               ('a tenant\'s HelmRelease reads sources of its own namespace only; push the charts to a '
               'registry (`delivery { charts = "oci", registry = ... }`)',), cluster)
    for ref in instance.values.get(AppField.DELIVERY, {}).get(AppField.DEPENDS_ON, []):
        other = fleet.clusters[cluster].instances.get(ref.name)
        space = tenancy.app_namespace(fleet, other) if other is not None else None
        if space is not None and space != own:
            yield (codes.TENANT_CROSS_NAMESPACE_REF, _origin_span(instance, (AppField.DELIVERY, AppField.DEPENDS_ON), listed),
                   f"app `{name}` of tenant `{tenant.name}` depends on app `{ref.name}` in namespace `{space}`",
                   (f"a tenant's HelmRelease may depend only on releases of its own namespace (`{own}`)",), cluster)
    for variable, ref in instance.secret_refs("external"):
        if (ref.store_kind or "ClusterSecretStore") != SECRET_STORE:
            yield (codes.TENANT_CROSS_NAMESPACE_REF, _origin_span(instance, (AppField.SECRET_ENV, variable), listed),
                   f"app `{name}` of tenant `{tenant.name}` reads `{variable}` from the ClusterSecretStore `{ref.store}`",
                   ('a ClusterSecretStore serves every namespace; read a SecretStore of the tenant\'s namespace '
                   '(`storeKind = "SecretStore"`)',), cluster)


# ---- spans ------------------------------------------------------------------------------------------

def _origin_span(instance: Instance, path: tuple[str, ...], fallback: Span) -> Span:
    origin = instance.origins.get(path)
    return origin.span if origin is not None and origin.span is not None else fallback


def _statement(body: ast.Body, path: tuple[str, ...]) -> ast.Assign | ast.Block | None:
    """The statement of `body` that writes `path` (dotted, or through nested blocks)."""
    for stmt in body.stmts:
        if not isinstance(stmt, (ast.Assign, ast.Block)):
            continue
        keys = tuple(key.text for key in stmt.path.keys)
        if keys == path:
            return stmt
        if path[: len(keys)] == keys:
            inner = stmt.body if isinstance(stmt, ast.Block) else stmt.value.body if isinstance(stmt.value, ast.MapLit) else None
            found = _statement(inner, path[len(keys):]) if inner is not None else None
            if found is not None:
                return found
    return None


def _field_span(decl: ast.ResourceDecl, path: tuple[str, ...]) -> Span:
    stmt = _statement(decl.body, path)
    if stmt is not None:
        return stmt.span
    return decl.name.span if decl.name is not None else decl.span


def _listed(decl: ast.ResourceDecl, field: str) -> list[tuple[str, Span]]:
    """The names (or strings) a list field lists, each at its own span."""
    stmt = _statement(decl.body, (field,))
    if not isinstance(stmt, ast.Assign) or not isinstance(stmt.value, ast.ListLit):
        return []
    items = []
    for item in stmt.value.items:
        if isinstance(item, ast.Ref):
            items.append((item.names[-1].text, item.span))
        elif isinstance(item, ast.StringLit) and all(isinstance(part, str) for part in item.parts):
            items.append(("".join(item.parts), item.span))
    return items


def _map_keys(decl: ast.ResourceDecl, path: tuple[str, ...]) -> list[tuple[str, Span]]:
    """The keys a map field writes, each at its span."""
    stmt = _statement(decl.body, path)
    body = stmt.body if isinstance(stmt, ast.Block) else stmt.value.body if isinstance(stmt, ast.Assign) and isinstance(stmt.value, ast.MapLit) else None
    if body is None:
        return []
    return [(".".join(key.text for key in entry.path.keys), entry.path.span) for entry in body.stmts
            if isinstance(entry, (ast.Assign, ast.Block))]
