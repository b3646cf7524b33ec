"""Workload settings the API server accepts but that can never work, checked on effective values.

Input: one `versions.Version` (an app's distinct effective values) and a `Findings`. Output:
warnings into the `Findings`, each at the line that set the offending value:
- a cpu or memory Utilization target of the HorizontalPodAutoscaler (`autoscaling.cpu`, its
  default, or a Resource `scalingMetrics` entry) while a container the HPA counts (the app's and
  each sidecar) neither requests nor limits that resource (UTILIZATION_WITHOUT_REQUEST): the
  controller computes utilisation against the requests and reports FailedGetResourceMetric;
- a CronJob schedule that parses but can never fire (SCHEDULE_NEVER_FIRES: `0 0 30 2 *`), read
  as the CronJob controller (robfig/cron) reads it;
- a percentage `minAvailable` that, rounded up, is every pod of the replicas (or of the
  autoscaler's minimum): `"100%"`, `"90%"` of 3 (DISRUPTION_BUDGET_BLOCKS_EVICTION): valid, but no
  pod may be evicted, so a node drain waits (a count is workloads' DISRUPTION_BUDGET_NEVER_MET).

Invariants: reads the values only. Apps deployed nowhere are checked as written; apps deployed
somewhere are checked per cluster version only (the app as written may lack what every env adds).
"""

from __future__ import annotations

from gop.compiler.diagnostics import codes
from gop.compiler.fleet.checks.versions import Findings, Version, located
from gop.compiler.fleet.model import Fleet
from gop.compiler.language import (DEFAULT_WORKLOAD, KIND_FIELDS, SCALING_METRICS, AppField, WorkloadField,
                                   cpu_utilization)

# The most days each month has (February: in a leap year; robfig/cron searches five years ahead).
MONTH_DAYS = {1: 31, 2: 29, 3: 31, 4: 30, 5: 31, 6: 30, 7: 31, 8: 31, 9: 30, 10: 31, 11: 30, 12: 31}
MONTH_NAMES = ("January", "February", "March", "April", "May", "June", "July", "August", "September", "October",
               "November", "December")


def check_version(fleet: Fleet, version: Version, findings: Findings) -> None:
    if not version.clusters and fleet.apps[version.app].clusters:
        return
    kind = version.values.get(WorkloadField.WORKLOAD, DEFAULT_WORKLOAD)
    if kind in KIND_FIELDS[AppField.AUTOSCALING] and version.values.get(AppField.AUTOSCALING):
        _utilization_requests(version, findings)
    if kind == "CronJob":
        _schedule_fires(version, findings)
    if kind in KIND_FIELDS[WorkloadField.DISRUPTION_BUDGET]:
        _budget_blocks_eviction(version, findings)


def _utilization_targets(version: Version) -> list[tuple[str, tuple]]:
    """(resource, the path of the line that asks for it) of each Utilization target of the HPA."""
    values = version.values
    metrics = values.get(SCALING_METRICS) or ()
    targets = []
    if cpu_utilization(values[AppField.AUTOSCALING], metrics) is not None:
        targets.append(("cpu", (AppField.AUTOSCALING, "cpu")))
    targets += [(metric["name"], (SCALING_METRICS,)) for metric in metrics
                if metric["type"] == "Resource" and metric["name"] in ("cpu", "memory") and "averageUtilization" in metric
                and not {"averageValue", "value"} & set(metric)]  # (else SCALING_METRIC_INVALID's)
    return targets


def _utilization_requests(version: Version, findings: Findings) -> None:
    values = version.values
    containers = [(version.app, (), values)]
    containers += [(name, (WorkloadField.SIDECARS, name), sidecar)
                   for name, sidecar in sorted((values.get(WorkloadField.SIDECARS) or {}).items())]
    for resource, path in dict.fromkeys(_utilization_targets(version)):
        for name, prefix, container in containers:
            amounts = container.get(AppField.RESOURCES) or {}
            if any(resource in (amounts.get(kind) or {}) for kind in ("requests", "limits")):
                continue  # (a limit without a request is the request too: the API server copies it)
            setting = f"{'.'.join(prefix) + '.' if prefix else ''}resources.requests.{resource}"
            findings.report(version, codes.UTILIZATION_WITHOUT_REQUEST,
                            f"app `{version.app}` autoscales on {resource} utilisation, but container `{name}` requests no "
                            f"{resource}: the HPA controller cannot compute it (FailedGetResourceMetric) and does not "
                            "scale, unless a LimitRange of the namespace gives the container a default request",
                            (f"set `{setting}`; utilisation is a percentage of the requests of every container of the "
                             "pod",), located(version.origins, path, (AppField.AUTOSCALING,)))


def never_fires(schedule: str) -> str | None:
    """Why a schedule that parses never fires, or None: a day of the month that no month it names
    has, while the day of the week is `*` (robfig/cron then needs both; else either)."""
    fields = schedule.split()
    if len(fields) != 5 or not _is_star(fields[4]) or _is_star(fields[2]):
        return None
    from croniter import croniter  # only programs with a CronJob pay for the import
    try:
        _, _, days, months, _ = croniter(schedule).expanded
    except (ValueError, KeyError):
        return None  # CRON_SCHEDULE_INVALID's
    if not all(isinstance(day, int) for day in days):
        return None
    months = list(MONTH_DAYS) if months == ["*"] else months
    if min(days) <= max(MONTH_DAYS[month] for month in months):
        return None
    named = " and ".join(MONTH_NAMES[month - 1] for month in months)
    return f"no day {' or '.join(map(str, days))} in {named}"


def _is_star(field: str) -> bool:
    """A field robfig/cron marks as `*` (every value, no step): `*` or `?`, alone or in a list."""
    return any(part in ("*", "?", "*/1", "?/1") for part in field.split(","))


def _schedule_fires(version: Version, findings: Findings) -> None:
    schedule = (version.values.get(WorkloadField.CRON_JOB) or {}).get(WorkloadField.SCHEDULE)
    reason = never_fires(schedule) if isinstance(schedule, str) else None
    if reason is not None:
        findings.report(version, codes.SCHEDULE_NEVER_FIRES,
                        f"the schedule {schedule!r} of app `{version.app}` never fires: {reason}",
                        ('pick a day that each month it names has, e.g. "0 0 28 2 *"; the CronJob is accepted but never '
                         'runs a Job',),
                        version.origins.get((WorkloadField.CRON_JOB, WorkloadField.SCHEDULE)))


def _budget_blocks_eviction(version: Version, findings: Findings) -> None:
    """A percentage `minAvailable` whose count (rounded up, as the disruption controller does)
    is every pod; a count is DISRUPTION_BUDGET_NEVER_MET's."""
    values = version.values
    budget = values.get(WorkloadField.DISRUPTION_BUDGET) or {}
    minimum = budget.get("minAvailable")
    if not budget.get("enabled") or not isinstance(minimum, str) or "maxUnavailable" in budget:
        return
    scaling = values.get(AppField.AUTOSCALING)
    replicas, counted = (scaling["min"], "the autoscaler's minimum of") if scaling else (values[WorkloadField.REPLICAS], "")
    if replicas < 2:
        return  # (no budget is written)
    required = -(-int(minimum[:-1]) * replicas // 100)
    if required >= replicas:
        findings.report(version, codes.DISRUPTION_BUDGET_BLOCKS_EVICTION,
                        f"the disruption budget of app `{version.app}` keeps {minimum} of its pods available, {required} "
                        f"of {counted or 'its'} {replicas} (rounded up): no pod can be evicted, so a node drain waits for ever",
                        ('allow one pod down: `disruptionBudget { maxUnavailable = 1 }`, or a lower percentage, e.g. '
                         f'`minAvailable = "{100 * (replicas - 1) // replicas}%"`',),
                        version.origins.get((WorkloadField.DISRUPTION_BUDGET, "minAvailable")))
