"""Tenants and lockdown in the tree, beside the example's end-to-end test (test_example_multi_tenancy.py):
- a tenant's namespaces keep their `namespace` declaration's labels beside the tenant label, and a
  tenant without its own repository or releases gets no tenants/ directory;
- with declared stages, a tenant's directory goes to the stage of its first namespace, which then
  runs with Flux's rights;
- lockdown in the single-tenant form (`delivery.serviceAccountName`): the apps stage still
  impersonates the fleet's account, the stage creating namespaces runs as kustomize-controller,
  and a platform release as helm-controller; every cluster gets the patches;
- a program without tenants or lockdown writes no tenants/ directory and no patch.
"""

from __future__ import annotations

import yaml

from gop.compiler.lower.flux import repository_files
from gop.compiler.session import analyse

BASE = '''
env dev where environment == "dev" {}
cluster dev-1 { labels { environment = "dev" } }
source flux-system { url = "https://github.com/acme/fleet" }
source charts { url = "https://github.com/acme/charts" }
registry oci { url = "oci://ghcr.io/acme/charts" }
app web {
  image { repository = "ghcr.io/acme/web", tag = "1.0.0" }
  namespace = "team-a"
}
'''


def build(tmp_path, text: str) -> dict[str, str]:
    (tmp_path / "a.gop").write_text(BASE + text, encoding="utf-8")
    analysis = analyse([tmp_path])
    assert [d.message for d in analysis.diagnostics if d.is_error] == []
    return repository_files(analysis.fleet, analysis.lowering)


def doc(files: dict[str, str], path: str) -> dict:
    return yaml.safe_load(files[path])


def test_a_tenant_namespace_keeps_its_declared_labels_and_needs_no_directory(tmp_path):
    files = build(tmp_path, '''
delivery { charts = "oci", registry = oci }
namespace team-a { labels { "pod-security.kubernetes.io/enforce" = "restricted" } }
tenant team-a { namespaces = ["team-a"], apps = [web], role = "view" }
''')
    assert doc(files, "infrastructure/namespaces/team-a/namespace.yaml")["metadata"]["labels"] == {
        "pod-security.kubernetes.io/enforce": "restricted", "toolkit.fluxcd.io/tenant": "team-a"}
    binding = yaml.safe_load_all(files["infrastructure/namespaces/team-a/rbac.yaml"])
    assert [(d["kind"], d.get("roleRef", {}).get("name")) for d in binding] == [("ServiceAccount", None), ("RoleBinding", "view")]
    assert not [path for path in files if path.startswith("tenants/")]
    assert doc(files, "apps/base/web/release.yaml")["spec"]["serviceAccountName"] == "team-a"


def test_with_stages_a_tenant_directory_goes_with_its_first_namespace(tmp_path):
    files = build(tmp_path, '''
delivery { charts = "oci", registry = oci }
stage platform {}
stage apps { dependsOn = [platform] }
namespace team-a { stage = platform }
tenant team-a {
  namespaces = ["team-a"]
  apps = [web]
  git { url = "https://github.com/acme/team-a" }
}
''')
    platform = doc(files, "clusters/dev-1/platform/kustomization.yaml")["resources"]
    assert "../../../tenants/team-a/dev" in platform and "../../../infrastructure/namespaces/team-a" in platform
    assert "serviceAccountName" not in doc(files, "clusters/dev-1/platform.yaml")["spec"]  # Flux's own rights
    repository, sync = yaml.safe_load_all(files["tenants/team-a/dev/sync.yaml"])
    assert (repository["kind"], sync["spec"]["path"], sync["metadata"]["namespace"]) == ("GitRepository", "./", "team-a")


def test_lockdown_in_the_single_tenant_form(tmp_path):
    files = build(tmp_path, '''
delivery { charts = "oci", registry = oci, serviceAccountName = "deployer", lockdown = true }
release podinfo { chart { git = charts, path = "./charts/podinfo", name = "podinfo" } }
''')
    assert doc(files, "clusters/dev-1/infrastructure.yaml")["spec"]["serviceAccountName"] == "kustomize-controller"
    assert doc(files, "clusters/dev-1/apps.yaml")["spec"]["serviceAccountName"] == "deployer"
    assert doc(files, "releases/base/podinfo/release.yaml")["spec"]["serviceAccountName"] == "helm-controller"
    patches = doc(files, "clusters/dev-1/flux-system/kustomization.yaml")["patches"]
    assert [patch["target"]["name"] for patch in patches] == [
        "(kustomize-controller|helm-controller|notification-controller|image-reflector-controller|image-automation-controller)",
        "kustomize-controller", "(kustomize-controller|helm-controller)", "flux-system"]


def test_without_tenants_or_lockdown_nothing_changes(tmp_path):
    files = build(tmp_path, 'release podinfo { chart { git = charts, path = "./charts/podinfo", name = "podinfo" } }\n')
    assert not [path for path in files if path.startswith("tenants/")]
    assert "patches" not in doc(files, "clusters/dev-1/flux-system/kustomization.yaml")
    assert "serviceAccountName" not in files["releases/base/podinfo/release.yaml"] + files["clusters/dev-1/infrastructure.yaml"]
    assert "labels" not in doc(files, "infrastructure/namespaces/team-a/namespace.yaml")["metadata"]


def test_a_dependency_that_moves_on_one_cluster_is_reported_there_only(tmp_path):
    """web's instance is one on all three clusters, its dependency's is not: the check, which works
    out a unit's problems once per distinct set of instances, tells the clusters apart."""
    (tmp_path / "a.gop").write_text('''
env dev where environment == "dev" {}
cluster dev-1 { labels { environment = "dev" } }
cluster dev-2 {
  labels { environment = "dev" }
  app api { namespace = "team-b" }
}
cluster dev-3 { labels { environment = "dev" } }
source flux-system { url = "https://github.com/acme/fleet" }
registry oci { url = "oci://ghcr.io/acme/charts" }
delivery { charts = "oci", registry = oci }
app web {
  image { repository = "ghcr.io/acme/web", tag = "1.0.0" }
  namespace = "team-a"
  delivery.dependsOn = [api]
}
app api {
  image { repository = "ghcr.io/acme/api", tag = "1.0.0" }
  namespace = "team-a"
}
tenant team-a {
  namespaces = ["team-a"]
  apps = [web, api]
  git.url = "https://github.com/acme/team-a"
}
''', encoding="utf-8")
    analysis = analyse([tmp_path])
    clusters = analysis.fleet.clusters
    assert clusters["dev-1"].instances["web"] is clusters["dev-2"].instances["web"] is clusters["dev-3"].instances["web"]
    assert sorted(d.message for d in analysis.diagnostics if d.is_error) == [
        "app `api` of tenant `team-a` is in namespace `team-b`, which the tenant does not own (on cluster dev-2)",
        "app `web` of tenant `team-a` depends on app `api` in namespace `team-b` (on cluster dev-2)"]
