"""The Ingress routes to the port the program chose: `ingress.port`, else `http`, else the only
port. With several ports and no choice, check asks (E0320); each of its fixes makes a program
whose chart, in real helm and in helm_template, routes to the port the fix names."""

from __future__ import annotations

import pytest

import helm_fixtures as fx
from gop.compiler.session import analyse
from gop.compiler.lower.helm import helm_template
from gop.compiler.values import plain

PROGRAM = '''\
app web {
  image { repository = "ghcr.io/acme/web", tag = "1.0.0" }
  ports { web = 8080, metrics = 9100 }
  ingress%s
}
'''
ONE_LINE = ' { host = "web.example.com" }'
BLOCK = ' {\n    host = "web.example.com"\n    tls = true\n  }'


def backend_port(docs) -> str:
    (ingress,) = [doc for doc in docs if doc["kind"] == "Ingress"]
    return ingress["spec"]["rules"][0]["http"]["paths"][0]["backend"]["service"]["port"]["name"]


def analysed(tmp_path, text: str):
    (tmp_path / "apps.gop").write_text(text, encoding="utf-8")
    return analyse([tmp_path / "apps.gop"])


@pytest.mark.parametrize("body", [ONE_LINE, BLOCK], ids=["one-line", "block"])
def test_each_fix_of_an_unchosen_port_routes_to_that_port(body, tmp_path):
    text = PROGRAM % body
    (asked,) = [d for d in analysed(tmp_path, text).diagnostics if d.is_error]
    assert asked.code == "E0320"
    assert text[asked.span.start:asked.span.end] == "ingress" + body
    assert [fix.title for fix in asked.fixes] == ["route the ingress to port `metrics`",
                                                  "route the ingress to port `web`"]
    charts = tmp_path / "charts"
    cases = []
    for fix, port in zip(asked.fixes, ["metrics", "web"]):
        fixed = text[:fix.span.start] + fix.replacement + text[fix.span.end:]
        workdir = tmp_path / port
        workdir.mkdir()
        analysis = analysed(workdir, fixed)
        assert not analysis.diagnostics, fixed
        app = analysis.evaluation.fleet.apps["web"]
        assert helm_template(app, {}, release_name="web", namespace="web") and app.base["ingress"]["port"] == port
        cases.append((app, fx.write_chart(app, charts / port)))
    rendered = fx.helm_template_many([fx.TemplateCase(d, release="web", namespace="web") for _, d in cases], tmp_path)
    for (app, _), helm_docs, port in zip(cases, rendered, ["metrics", "web"]):
        assert backend_port(helm_docs) == port
        assert helm_template(app, plain(app.base), release_name="web", namespace="web") == helm_docs


@pytest.mark.parametrize("ports, chosen, expected", [
    ({"web": 8080}, None, "web"), ({"http": 8080, "admin": 8081}, None, "http"),
    ({"http": 8080, "admin": 8081}, "admin", "admin"), ({"web": 8080, "metrics": 9100}, "web", "web")])
def test_helm_template_routes_to_the_chosen_port(ports, chosen, expected):
    ingress = {"host": "a.example.com"} | ({"port": chosen} if chosen else {})
    app = fx.make_app("shop", values_record=None, ports=ports, ingress=ingress)
    assert backend_port(helm_template(app, plain(app.base), release_name="shop", namespace="x")) == expected
