"""examples/shop through the real compiler: every app's chart passes `helm lint --strict`, and on
every cluster `helm template` with that instance's values equals helm_template and passes
kubernetes-validate (strict)."""

from __future__ import annotations

import pytest

import helm_fixtures as fx
import realtools
from gop.compiler.session import analyse
from gop.compiler.lower.helm import chart_version, helm_values, helm_template
from gop.compiler.values import plain


@pytest.fixture(scope="module")
def fleet(repo_root):
    analysis = analyse([repo_root / "examples" / "shop"])
    assert not analysis.diagnostics, [d.message for d in analysis.diagnostics]
    return analysis.fleet


def test_shop_charts_lint_and_render_like_helm_on_every_cluster(fleet, tmp_path):
    dirs = {name: fx.write_chart(app, tmp_path / "charts") for name, app in fleet.apps.items()}
    output = fx.helm_lint_many(list(dirs.values()))
    assert output.count("==> Linting") == len(dirs) == 4
    assert "[WARNING]" not in output and "[ERROR]" not in output

    instances = [(cluster, instance) for cluster in fleet.clusters.values()
                 for instance in cluster.instances.values()]
    cases = [fx.TemplateCase(dirs[i.app], helm_values(plain(i.values)), i.app, fleet.apps[i.app].namespace)
             for _, i in instances]
    rendered = fx.helm_template_many(cases, tmp_path)
    for (cluster, instance), helm_docs in zip(instances, rendered):
        app = fleet.apps[instance.app]
        ours = helm_template(app, plain(instance.values), release_name=app.name, namespace=app.namespace)
        assert ours == helm_docs, (cluster.name, app.name)
    realtools.kubernetes_validate_strict(fx.distinct_shapes(doc for docs in rendered for doc in docs))

    by_cluster = {(c.name, i.app): docs for (c, i), docs in zip(instances, rendered)}
    web_prod = {doc["kind"]: doc for doc in by_cluster[("prod-eu-1", "web")]}
    assert web_prod["HorizontalPodAutoscaler"]["spec"]["maxReplicas"] == 20
    assert "replicas" not in web_prod["Deployment"]["spec"]
    assert web_prod["Ingress"]["spec"]["tls"] == [{"hosts": ["shop.example.com"], "secretName": "web-tls"}]
    web_cn = {doc["kind"]: doc for doc in by_cluster[("prod-cn-1", "web")]}
    assert web_cn["Ingress"]["spec"]["ingressClassName"] == "nginx-cn"
    checkout_eu = {doc["kind"]: doc for doc in by_cluster[("prod-eu-1", "checkout")]}
    assert checkout_eu["Deployment"]["spec"]["replicas"] == 8
    assert checkout_eu["Deployment"]["metadata"]["labels"]["helm.sh/chart"] == (
        f"checkout-{chart_version(fleet.apps['checkout'])}")
