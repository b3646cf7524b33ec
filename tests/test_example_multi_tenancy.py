"""examples/multi-tenancy (fluxcd/flux2-multi-tenancy in .gop) works with the real tools, and its
tenants are isolated.

For every cluster of the example (staging, production):
- `gopc check` reports nothing and `gopc fmt --check` passes; the build is byte-identical under two
  PYTHONHASHSEEDs;
- `kubectl kustomize` builds every kustomization directory; every Flux object passes the Flux
  schemas, every other object kubernetes-validate strict;
- what kustomize-controller applies (clusters/<c>, then each stage's path) is what `gopc render
  --include-flux` shows, which adds only the charts' objects;
- flux-system/kustomization.yaml locks the controllers down as upstream's does, and every
  Kustomization and HelmRelease names the account it runs as;
- an RBAC evaluator over every Role, ClusterRole, RoleBinding and ClusterRoleBinding the cluster
  gets (the built-in ClusterRoles modelled as Kubernetes defines them) answers, for each tenant
  account, every verb on a sample of resources in every namespace and at cluster scope: rights only
  in the tenant's own namespaces, and the rights its role gives there.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import pytest
from e2e import BOOTSTRAP_STAND_IN, canonical, kustomize_all, write_bootstrap_stand_ins
from test_example_kustomize_helm import digests, gopc

import realtools as rt
from gop.compiler.lower.flux.render import render_cluster
from gop.compiler.session import analyse

EXAMPLE = rt.REPO_ROOT / "examples" / "multi-tenancy"
CLUSTERS = ("production", "staging")
STAGES = ("infrastructure", "apps")
# tenant -> (its accounts' name, the namespaces it owns, its built-in role)
TENANTS = {"dev-team": ("dev-team", ("apps",), "admin"), "qa-team": ("qa-team", ("qa", "qa-runs"), "edit")}
SYSTEM = ("default", "flux-system", "kube-node-lease", "kube-public", "kube-system")
VERBS = ("get", "list", "watch", "create", "update", "patch", "delete", "deletecollection", "bind", "escalate", "impersonate")
# (API group, resource, namespaced)
RESOURCES = (("", "pods", True), ("", "secrets", True), ("", "configmaps", True), ("", "serviceaccounts", True),
             ("", "resourcequotas", True), ("apps", "deployments", True), ("rbac.authorization.k8s.io", "roles", True),
             ("rbac.authorization.k8s.io", "rolebindings", True), ("helm.toolkit.fluxcd.io", "helmreleases", True),
             ("kustomize.toolkit.fluxcd.io", "kustomizations", True), ("source.toolkit.fluxcd.io", "gitrepositories", True),
             ("", "namespaces", False), ("", "nodes", False), ("rbac.authorization.k8s.io", "clusterroles", False),
             ("rbac.authorization.k8s.io", "clusterrolebindings", False),
             ("apiextensions.k8s.io", "customresourcedefinitions", False))
FLUX_GROUPS = ("helm.toolkit.fluxcd.io", "kustomize.toolkit.fluxcd.io", "source.toolkit.fluxcd.io")
READ, WRITE = ("get", "list", "watch"), ("create", "update", "patch", "delete", "deletecollection")


@pytest.fixture(scope="module")
def analysis():
    """`gopc check`: no diagnostic, and the two tenants."""
    analysis = analyse([EXAMPLE])
    assert ([d.message for d in analysis.diagnostics], sorted(analysis.fleet.tenants)) == ([], sorted(TENANTS))
    return analysis


@pytest.fixture(scope="module")
def tree(tmp_path_factory) -> tuple[Path, dict[str, str], dict[str, list[dict]]]:
    """The tree `gopc build` writes (hash seed 1), its files' digests, and `kubectl kustomize` of each
    kustomization directory (with bootstrap's stand-ins)."""
    out = tmp_path_factory.mktemp("multi-tenancy") / "tree"
    gopc("build", EXAMPLE, "-o", out, seed="1")
    written = digests(out)
    write_bootstrap_stand_ins(out, CLUSTERS)
    files = [path.relative_to(out).as_posix() for path in out.rglob("kustomization.yaml")]
    return out, written, kustomize_all(out, files)


@pytest.fixture(scope="module")
def applied(tree) -> dict[str, list[dict]]:
    """What kustomize-controller applies on each cluster: clusters/<c> (bootstrap's stand-in
    dropped), then each stage's path, with the stage's targetNamespace."""
    builds = tree[2]
    out = {}
    for cluster in CLUSTERS:
        root = [doc for doc in builds[f"clusters/{cluster}"] if doc != BOOTSTRAP_STAND_IN]
        docs = list(root)
        for stage in (doc for doc in root if doc["kind"] == "Kustomization" and doc["metadata"]["name"] in STAGES):
            assert "targetNamespace" not in stage["spec"]
            docs += builds[stage["spec"]["path"].removeprefix("./")]
        out[cluster] = docs
    return out


@pytest.fixture(scope="module")
def rendered(analysis) -> dict[str, list[dict]]:
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("GOPC_HELM", str(rt.helm_bin()))
        return {cluster: render_cluster(analysis.fleet, cluster, include_flux=True, caches=analysis.lowering)
                for cluster in CLUSTERS}


def test_check_and_fmt_are_clean(analysis):
    gopc("fmt", "--check", EXAMPLE)


def test_the_build_is_the_same_under_another_hash_seed(tree, tmp_path):
    gopc("build", EXAMPLE, "-o", tmp_path / "again", seed="2")
    assert digests(tmp_path / "again") == tree[1]


@pytest.mark.parametrize("cluster", CLUSTERS)
def test_every_object_passes_the_flux_schemas_and_kubernetes_validate(applied, cluster):
    docs = applied[cluster]
    flux = [doc for doc in docs if rt.is_flux_doc(doc)]
    core = [doc for doc in docs if not rt.is_flux_doc(doc)]
    # sync (2), the release's HelmRepository, stages (2), tenants' syncs (4), the app's HelmRelease and OCIRepository, the release
    assert rt.flux_validate(flux) == len(flux) == 2 + 1 + 2 + 4 + 2 + 1
    # namespaces (3), the tenants' accounts and bindings (3 + 3, + qa-team's in flux-system), quotas (2), the ConfigMap
    assert rt.kubernetes_validate_strict(core) == len(core) == 3 + 7 + 2 + 1


@pytest.mark.parametrize("cluster", CLUSTERS)
def test_what_flux_applies_is_what_render_shows(applied, rendered, cluster):
    built = canonical(applied[cluster])
    shown = canonical(rendered[cluster])
    assert set(built) <= set(shown)
    charts_only = [doc for doc in rendered[cluster] if canonical([doc])[0] not in set(built)]
    assert charts_only and all(doc["metadata"].get("labels", {}).get("app.kubernetes.io/managed-by") == "Helm"
                               or doc["metadata"].get("labels", {}).get("helm.sh/chart") for doc in charts_only)


@pytest.mark.parametrize("cluster", CLUSTERS)
def test_the_controllers_are_locked_down_and_every_object_names_its_account(tree, applied, cluster):
    out = tree[0]
    text = (out / "clusters" / cluster / "flux-system" / "kustomization.yaml").read_text()
    for flag in ("--no-cross-namespace-refs=true", "--no-remote-bases=true", "--default-service-account=default"):
        assert flag in text
    accounts = {(doc["kind"], doc["metadata"]["namespace"], doc["metadata"]["name"]): doc["spec"].get("serviceAccountName")
                for doc in applied[cluster] if doc["kind"] in ("Kustomization", "HelmRelease")}
    env = cluster  # each cluster is named after its env
    assert accounts == {
        ("Kustomization", "flux-system", "flux-system"): "kustomize-controller",  # the patch, as upstream's
        ("Kustomization", "flux-system", "infrastructure"): "kustomize-controller",
        ("Kustomization", "flux-system", "apps"): "kustomize-controller",
        ("Kustomization", "apps", "dev-team"): "dev-team",
        ("Kustomization", "qa", "qa-team"): "qa-team",
        ("HelmRelease", "qa-runs", "smoke"): "qa-team",
        ("HelmRelease", "flux-system", "podinfo-qa"): "qa-team",
    }
    syncs = {doc["metadata"]["name"]: doc["spec"] for doc in applied[cluster] if doc["kind"] == "Kustomization"
             and doc["metadata"]["namespace"] != "flux-system"}
    assert syncs["dev-team"]["path"] == f"./{env}" and syncs["dev-team"]["targetNamespace"] == "apps"
    assert syncs["qa-team"]["path"] == {"staging": "./clusters", "production": "./clusters/production"}[env]


# ---------------------------------------------------------------- a small RBAC evaluator

# The built-in ClusterRoles a RoleBinding may name, as Kubernetes defines them for these resources
# (Flux's flux-edit and flux-view aggregate its kinds into admin, edit and view).
def _builtin_allows(role: str, verb: str, group: str, resource: str) -> bool:
    if role == "cluster-admin":
        return True
    rbac = group == "rbac.authorization.k8s.io"
    if role == "view":
        return verb in READ and resource not in ("secrets", "roles", "rolebindings") and group in ("", "apps", *FLUX_GROUPS)
    if role in ("edit", "admin"):
        if resource == "resourcequotas" or group == "apiextensions.k8s.io":
            return verb in READ
        if rbac:
            return role == "admin" and resource in ("roles", "rolebindings") and verb in READ + WRITE
        return verb in READ + WRITE and group in ("", "apps", *FLUX_GROUPS) and resource not in ("namespaces", "nodes")
    raise AssertionError(f"a binding names the ClusterRole {role}, which the evaluator does not know")


@dataclass(frozen=True)
class Account:
    name: str
    namespace: str

    def matches(self, subject: dict) -> bool:
        kind, name = subject["kind"], subject["name"]
        if kind == "ServiceAccount":
            return (name, subject.get("namespace")) == (self.name, self.namespace)
        if kind == "Group":
            return name in ("system:authenticated", "system:serviceaccounts", f"system:serviceaccounts:{self.namespace}")
        return kind == "User" and name == f"system:serviceaccount:{self.namespace}:{self.name}"


def _rule_allows(rule: dict, verb: str, group: str, resource: str) -> bool:
    return (any(v in ("*", verb) for v in rule.get("verbs", [])) and any(g in ("*", group) for g in rule.get("apiGroups", []))
            and any(r in ("*", resource) for r in rule.get("resources", [])))


def allowed(docs: list[dict], account: Account, verb: str, group: str, resource: str, namespace: str | None) -> bool:
    """Whether the account may `verb` the resource in `namespace` (None: at cluster scope)."""
    by_name = {(doc["kind"], doc["metadata"].get("namespace"), doc["metadata"]["name"]): doc for doc in docs}
    for binding in docs:
        if binding["kind"] not in ("RoleBinding", "ClusterRoleBinding"):
            continue
        scope = binding["metadata"].get("namespace") if binding["kind"] == "RoleBinding" else None
        if scope is not None and scope != namespace:
            continue  # a RoleBinding grants rights in its own namespace only
        if not any(account.matches(subject) for subject in binding.get("subjects", [])):
            continue
        ref = binding["roleRef"]
        role = by_name.get((ref["kind"], scope if ref["kind"] == "Role" else None, ref["name"]))
        if role is not None:
            if any(_rule_allows(rule, verb, group, resource) for rule in role.get("rules", [])):
                return True
        elif ref["kind"] == "ClusterRole" and _builtin_allows(ref["name"], verb, group, resource):
            return True
    return False


def test_the_evaluator_can_say_yes_and_no():
    binding = {"kind": "RoleBinding", "metadata": {"name": "b", "namespace": "x"},
               "roleRef": {"kind": "ClusterRole", "name": "admin"}, "subjects": [{"kind": "ServiceAccount", "name": "a", "namespace": "x"}]}
    cluster_wide = {"kind": "ClusterRoleBinding", "metadata": {"name": "c"}, "roleRef": {"kind": "ClusterRole", "name": "cluster-admin"},
                    "subjects": [{"kind": "Group", "name": "system:serviceaccounts:y"}]}
    docs = [binding, cluster_wide]
    assert allowed(docs, Account("a", "x"), "create", "apps", "deployments", "x")
    assert not allowed(docs, Account("a", "x"), "create", "apps", "deployments", "z")
    assert not allowed(docs, Account("a", "x"), "create", "", "namespaces", None)
    assert allowed(docs, Account("b", "y"), "delete", "", "nodes", None)  # the ClusterRoleBinding, through its group


def _reach(tenant: str, account: Account) -> tuple[str, ...]:
    """The namespaces where the tenant's account in `account.namespace` has its role: all the
    tenant's for the account of its Git sync (its first namespace) and of its releases (flux-system:
    qa-team only, dev-team has no releases); its own namespace for the account its apps' HelmReleases
    impersonate there."""
    _, owned, _ = TENANTS[tenant]
    if account.namespace == owned[0] or (account.namespace == "flux-system" and tenant == "qa-team"):
        return owned
    return (account.namespace,) if account.namespace in owned else ()


@pytest.mark.parametrize("cluster", CLUSTERS)
def test_each_tenant_has_rights_only_in_its_own_namespaces(rendered, cluster):
    docs = rendered[cluster]
    namespaces = sorted({doc["metadata"]["name"] for doc in docs if doc["kind"] == "Namespace"} | set(SYSTEM))
    assert not [doc for doc in docs if doc["kind"] == "ClusterRoleBinding"]
    for tenant, (name, owned, role) in TENANTS.items():
        for account in [Account(name, namespace) for namespace in (*owned, "flux-system")]:
            for group, resource, namespaced in RESOURCES:
                for verb in VERBS:
                    for namespace in (namespaces if namespaced else [None]):
                        may = allowed(docs, account, verb, group, resource, namespace)
                        expected = namespace in _reach(tenant, account) and _builtin_allows(role, verb, group, resource)
                        assert may == expected, (tenant, account, verb, group, resource, namespace)
    # and so, e.g.: qa-team may write Deployments in qa-runs and read its quota in qa, but not change it
    qa = Account("qa-team", "qa")
    assert allowed(docs, qa, "create", "apps", "deployments", "qa-runs")
    assert allowed(docs, qa, "get", "", "resourcequotas", "qa") and not allowed(docs, qa, "update", "", "resourcequotas", "qa")
    assert not allowed(docs, qa, "get", "", "secrets", "apps")
