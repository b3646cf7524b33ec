"""Object names derived from `delivery.releaseName` (issue 13): `gopc check` reports E1130/E1111
for exactly the apps whose chart, rendered by the real `helm template` with that release name,
makes a Service that is no DNS-1035 label or a StatefulSet/CronJob named over 52 characters.

The oracle is the API server's rules (apimachinery's IsDNS1035Label; the StatefulSet's
controller-revision-hash label and the CronJob's Job names, each `<name>-<suffix>` within 63),
applied to helm's own output, so the chart's `gop.fullname` and the check's `chart_fullname`
cannot drift apart unnoticed.
"""

from __future__ import annotations

import re
import textwrap

import realtools as rt
import helm_fixtures as fx
from gop.compiler.language import chart_fullname
from gop.compiler.session import analyse

DNS_1035 = re.compile(r"[a-z]([-a-z0-9]*[a-z0-9])?\Z")
FLEET = """\
labels { environment: "dev" }
env dev where environment == "dev" {}
cluster dev-1 { labels { environment = "dev" } }
source flux-system { url = "https://github.com/acme/fleet" }
"""
# (app, workload, release name): valid ones beside each edge of each rule
CASES = [
    ("api", "Deployment", "shop.v2"),
    ("api2", "Deployment", "shop-v2"),
    ("api3", "Deployment", "api3-canary"),  # contains the app's name: the Service is the release name
    ("db", "StatefulSet", "a" * 51),  # 51 + "-db" = 54: over 52
    ("db2", "StatefulSet", "a" * 48),  # 48 + "-db2" = 52: the limit
    ("db3", "StatefulSet", "b" * 53),  # headless over 63, StatefulSet over 52
    ("job", "CronJob", "c" * 49),  # 53
    ("job2", "CronJob", "c" * 47),  # 52
    ("job3", "Deployment", "d" * 53),  # a Deployment may have 57: fine
]


def _program(tmp_path):
    apps = []
    for name, kind, release in CASES:
        cron = '\n  cronJob { schedule = "@daily" }' if kind == "CronJob" else ""
        apps.append(textwrap.dedent(f"""\
            app {name} {{
              image {{ repository = "ghcr.io/acme/{name}", tag = "1.0.0" }}
              workload = "{kind}"
              ports {{ http = 8080 }}
              delivery {{ releaseName = "{release}" }}{cron}
            }}
            """))
    tmp_path.mkdir()
    (tmp_path / "fleet.gop").write_text(FLEET)
    (tmp_path / "apps.gop").write_text("\n".join(apps))
    return tmp_path


def _refused(docs) -> bool:
    for doc in docs:
        name = doc["metadata"]["name"]
        if doc["kind"] == "Service" and not (len(name) <= 63 and DNS_1035.match(name)):
            return True
        if doc["kind"] in ("StatefulSet", "CronJob") and len(name) > 52:
            return True
    return False


def test_check_reports_exactly_the_names_the_api_refuses(tmp_path):
    analysis = analyse([str(_program(tmp_path / "program"))])
    reported = {}
    for diag in analysis.diagnostics:
        assert diag.code in ("E1130", "E1111"), diag
        app = re.search(r"app `([^`]+)`", diag.message).group(1)
        reported.setdefault(app, set()).add(diag.code)
    fleet = analysis.evaluation.fleet
    refused = set()
    for name, kind, release in CASES:
        docs = rt.helm_template(fx.write_chart(fleet.apps[name], tmp_path / "charts"), release=release, namespace="ns")
        assert {doc["kind"] for doc in docs} >= {"Service", kind}
        assert {doc["metadata"]["name"] for doc in docs if doc["kind"] == kind} == {chart_fullname(name, release)}
        if _refused(docs):
            refused.add(name)
    assert set(reported) == refused == {"api", "db", "db3", "job"}
    assert reported["db3"] == {"E1130", "E1111"} and reported["api"] == {"E1130"} and reported["job"] == {"E1111"}
