"""Workload rules of issue 13 beyond the golden diagnostics (tests/golden/check/workloads*.txtar):
a field written for every app (`all { }`, `defaults for app { }`) that some kinds lack still
reaches the apps it fits, with its origin, and is not reported for the others.
"""

from __future__ import annotations

from gop.compiler.fleet.model import Layer
from gop.compiler.session import analyse

FLEET = """
package every
labels { environment: "prod" }
source flux-system { url = "https://github.com/acme/fleet" }
defaults for app {
  disruptionBudget { maxUnavailable = 1 }
}
app web {
  image { repository = "ghcr.io/acme/web", tag = "1.0.0" }
}
app agent {
  image { repository = "ghcr.io/acme/agent", tag = "1.0.0" }
  workload = "DaemonSet"
}
app nightly {
  image { repository = "ghcr.io/acme/nightly", tag = "1.0.0" }
  workload = "CronJob"
  cronJob { schedule = "@daily" }
}
env prod where environment == "prod" {
  all {
    replicas = 3
    job { backoffLimit = 2 }
  }
}
cluster prod-1 { labels { environment = "prod" } }
"""


def test_a_field_set_for_every_app_reaches_the_apps_it_fits(tmp_path):
    (tmp_path / "fleet.gop").write_text(FLEET)
    analysis = analyse([tmp_path])
    assert [d.code for d in analysis.diagnostics if d.is_error] == []
    instances = analysis.evaluation.fleet.clusters["prod-1"].instances
    web, nightly = instances["web"], instances["nightly"]
    assert web.values["replicas"] == 3
    assert web.origins[("replicas",)].layer is Layer.ENV and web.origins[("replicas",)].all_apps
    assert web.values["disruptionBudget"]["maxUnavailable"] == 1
    assert web.origins[("disruptionBudget", "maxUnavailable")].layer is Layer.DEFAULTS
    assert nightly.values["job"]["backoffLimit"] == 2
    assert nightly.origins[("job", "backoffLimit")].for_every_app


def test_the_same_field_for_one_app_by_name_stays_an_error(tmp_path):
    (tmp_path / "fleet.gop").write_text(FLEET.replace("  all {\n", "  app agent { replicas = 2 }\n  all {\n"))
    errors = [d for d in analyse([tmp_path]).diagnostics if d.is_error]
    assert [(d.code, d.message.split(" (on")[0]) for d in errors] == [
        ("E1100", "`replicas` does not apply to app `agent`, a DaemonSet")]


def test_explain_says_the_kind_ignores_the_value(tmp_path):
    from gop.compiler.commands.explain import explain_text

    (tmp_path / "fleet.gop").write_text(FLEET)
    analysis = analyse([tmp_path])
    assert "(`replicas` does not apply to a DaemonSet: this app ignores it)" in explain_text(analysis, "prod-1", "agent.replicas")
    assert "does not apply" not in explain_text(analysis, "prod-1", "web.replicas")
