"""Sharp edges of issue 13 (session 8) beyond the golden diagnostics (tests/golden/check/workload_edges.txtar):
the HPA's CPU metric is one among others, Job numbers and disruption budgets take what the API
server takes, and the charts that render them pass `helm lint --strict`, render as gopc renders
them, and pass kubernetes-validate strict. `never_fires` reads schedules as robfig/cron does.
"""

from __future__ import annotations

import pytest

import helm_fixtures as fx
import realtools as rt
from gop.compiler.fleet.checks.workload_edges import never_fires
from gop.compiler.language import DEFAULT_CPU_UTILIZATION, cpu_utilization
from gop.compiler.lower.helm import chart_files, helm_template

MEMORY = {"type": "Resource", "name": "memory", "averageUtilization": 75}
QUEUE = {"type": "External", "name": "queue_messages_ready", "averageValue": 30}


def _rendered(app, tmp_path, values_yaml: str | None = None) -> list[dict]:
    """`helm template` of the app's chart (lint-clean), checked equal to gopc's own rendering and
    valid for the API server."""
    chart = fx.write_chart(app, tmp_path)
    assert "[WARNING]" not in rt.helm_lint_strict(chart)
    files = []
    if values_yaml is not None:
        (tmp_path / "values.yaml").write_text(values_yaml, encoding="utf-8")
        files = [tmp_path / "values.yaml"]
    docs = rt.helm_template(chart, files, release=app.name, namespace="ns")
    overrides = {} if values_yaml is None else rt.parse_docs(values_yaml)[0]
    assert docs == helm_template(app, overrides, release_name=app.name, namespace="ns")
    rt.kubernetes_validate_strict(docs)
    return docs


def _metrics(docs: list[dict]) -> list[tuple[str, str, dict]]:
    """(type, the resource or metric name, target) of each metric of the one HPA."""
    (hpa,) = [doc for doc in docs if doc["kind"] == "HorizontalPodAutoscaler"]
    found = []
    for metric in hpa["spec"]["metrics"]:
        body = metric[metric["type"].lower()]
        found.append((metric["type"], body["name"] if metric["type"] == "Resource" else body["metric"]["name"], body["target"]))
    return found


def _scaling_app(autoscaling: dict, metrics: list[dict] | None, also: list[dict] = ()):
    layer = {} if metrics is None else {"scalingMetrics": [fx.complete(fx.SCALING_METRIC, metric) for metric in metrics]}
    return fx.make_app("web", values_record=None, autoscaling=fx.complete(fx.AUTOSCALING, autoscaling), also=also,
                       **layer)


@pytest.mark.parametrize(("autoscaling", "metrics", "expected"), [
    ({"max": 10}, [MEMORY], [("Resource", "memory", {"type": "Utilization", "averageUtilization": 75})]),
    ({"max": 10}, [QUEUE], [("External", "queue_messages_ready", {"type": "AverageValue", "averageValue": "30"})]),
    ({"max": 10, "cpu": 70}, [MEMORY], [("Resource", "cpu", {"type": "Utilization", "averageUtilization": 70}),
                                        ("Resource", "memory", {"type": "Utilization", "averageUtilization": 75})]),
    ({"max": 10}, None, [("Resource", "cpu", {"type": "Utilization", "averageUtilization": DEFAULT_CPU_UTILIZATION})]),
], ids=["memory-only", "custom-only", "cpu-and-memory", "cpu-by-default"])
def test_cpu_is_one_metric_among_others(tmp_path, autoscaling, metrics, expected):
    from gop.compiler.semantic.types import Quantity

    metrics = None if metrics is None else [{**metric, **({"averageValue": Quantity.parse("30")} if "averageValue" in metric
                                                           else {})} for metric in metrics]
    docs = _rendered(_scaling_app(autoscaling, metrics), tmp_path)
    assert _metrics(docs) == expected


def test_a_chart_with_metrics_elsewhere_scales_on_cpu_where_none_are_set(tmp_path):
    """The chart has the metrics' template (another layer sets them); this instance sets none."""
    app = _scaling_app({"max": 4}, None, also=[{"scalingMetrics": [MEMORY]}])
    assert "scalingMetrics" in chart_files(app)["templates/hpa.yaml"]
    assert _metrics(_rendered(app, tmp_path)) == [("Resource", "cpu", {"type": "Utilization", "averageUtilization": 80})]
    memory_only = "scalingMetrics:\n  - {type: Resource, name: memory, selector: {}, averageUtilization: 60}\n"
    assert [name for _, name, _ in _metrics(_rendered(app, tmp_path, memory_only))] == ["memory"]


def test_cpu_utilization_follows_the_documented_default():
    assert cpu_utilization({"min": 1, "max": 3}, ()) == DEFAULT_CPU_UTILIZATION == 80
    assert cpu_utilization({"min": 1, "max": 3}, [MEMORY]) is None
    assert cpu_utilization({"min": 1, "max": 3, "cpu": 60}, [MEMORY]) == 60


def test_a_job_of_zero_completions_renders_and_validates(tmp_path):
    app = fx.make_app("migrate", values_record=None, workload="Job", job={"completions": 0, "parallelism": 0})
    (job,) = [doc for doc in _rendered(app, tmp_path) if doc["kind"] == "Job"]
    assert (job["spec"]["completions"], job["spec"]["parallelism"]) == (0, 0)


@pytest.mark.parametrize("budget", [{"minAvailable": "50%"}, {"maxUnavailable": "25%"}, {"minAvailable": 2}])
def test_disruption_budgets_in_percent_render_and_validate(tmp_path, budget):
    app = fx.make_app("web", values_record=None, replicas=3, disruptionBudget={"enabled": True, **budget})
    (pdb,) = [doc for doc in _rendered(app, tmp_path) if doc["kind"] == "PodDisruptionBudget"]
    assert {key: pdb["spec"][key] for key in budget} == budget


def test_the_chart_schema_refuses_a_percentage_above_100(tmp_path):
    app = fx.make_app("web", values_record=None, replicas=3, disruptionBudget={"enabled": True, "minAvailable": "50%"})
    chart = fx.write_chart(app, tmp_path)
    (tmp_path / "bad.yaml").write_text('disruptionBudget: {enabled: true, minAvailable: "150%"}\n', encoding="utf-8")
    with pytest.raises(rt.ToolError) as refused:
        rt.helm_template(chart, [tmp_path / "bad.yaml"], release="web", namespace="ns")
    assert "minAvailable" in refused.value.stderr


@pytest.mark.parametrize(("schedule", "reason"), [
    ("0 0 30 2 *", "no day 30 in February"),
    ("0 0 31 4,6,9,11 *", "no day 31 in April and June and September and November"),
    ("0 0 30,31 feb *", "no day 30 or 31 in February"),
    ("15 3 31 2 ?", "no day 31 in February"),
    ("0 0 29 2 *", None),  # leap years
    ("0 0 30 2 MON", None),  # either day: every Monday of February
    ("0 0 31 4,5 *", None),  # May has a 31st
    ("0 0 31 * *", None),
    ("@daily", None),
    ("0 0 * 2 *", None),
])
def test_never_fires_reads_schedules_as_the_cronjob_controller(schedule, reason):
    assert never_fires(schedule) == reason
