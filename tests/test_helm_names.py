"""Names derived from an app's name are accepted by Helm, Flux and Kubernetes whenever check
passes: an app name is a release name, so at most 53 characters (E0321); at 53 the release,
every object of the chart (with its `-config`, `-values` and `-tls` names) and the HelmRelease
are valid."""

from __future__ import annotations

import pytest

import helm_fixtures as fx
import realtools
from gop.compiler.session import analyse
from gop.compiler.lower.flux.objects import helm_release
from gop.compiler.lower.helm import helm_template
from gop.compiler.values import plain

LONGEST = "a" + "-bcdefghij" * 5 + "kl"  # 53 characters
PROGRAM = '''\
app %s {
  image { repository = "ghcr.io/acme/long", tag = "1.0.0" }
  ports { http = 8080 }
  ingress { host = "long.example.com", tls = true }
  resources { requests { cpu = 100m } }
  autoscaling { max = 4 }
  serviceAccount {}
  config { "app.conf" = "a = 1" }
  values { level = "debug" }
}
'''


def analysed(tmp_path, name: str):
    (tmp_path / "apps.gop").write_text(PROGRAM % name, encoding="utf-8")
    return analyse([tmp_path / "apps.gop"])


@pytest.mark.parametrize("length", [54, 63])
def test_an_app_name_longer_than_a_release_name_is_reported_at_the_name(length, tmp_path):
    name = (LONGEST + "x" * 10)[:length]
    analysis = analysed(tmp_path, name)
    (error,) = [d for d in analysis.diagnostics if d.is_error]
    assert error.code == "E0321"
    assert (error.span.start, error.span.end) == (4, 4 + length)
    assert f"has {length} characters" in error.message


def test_helm_refuses_what_check_reports(tmp_path):
    app = fx.make_app("a" * 54, values_record=None, ports={"http": 8080})
    with pytest.raises(realtools.ToolError, match="53"):
        realtools.helm_template(fx.write_chart(app, tmp_path), release=app.name, namespace="ns")


def test_the_longest_app_name_check_accepts_renders_and_validates(tmp_path):
    assert len(LONGEST) == 53
    analysis = analysed(tmp_path, LONGEST)
    assert not analysis.diagnostics
    app = analysis.fleet.apps[LONGEST]
    (docs,) = fx.helm_template_many([fx.TemplateCase(fx.write_chart(app, tmp_path / "charts"), release=LONGEST,
                                                     namespace=app.namespace)], tmp_path)
    assert docs == helm_template(app, plain(app.base), release_name=LONGEST, namespace=app.namespace)
    assert {doc["metadata"]["name"] for doc in docs} >= {LONGEST, LONGEST + "-config", LONGEST + "-values"}
    realtools.kubernetes_validate_strict(docs)
    assert realtools.flux_validate([helm_release(analysis.fleet, app)]) == 1
