"""Workloads: what the API server refuses of an app's workload kind, its pod and its containers.

Input: one `versions.Version` (an app's distinct effective values) and a `Findings`. Output: reports
into the `Findings`, each at the line that set the offending value:
- a field that does not apply to the app's workload kind (FIELD_NOT_FOR_KIND: `replicas` on a
  DaemonSet, `cronJob` on a Deployment; `language.KIND_FIELDS` says which kinds each one fits);
  a line written for every app (`all { }`, `defaults for app { }`) is one only where it fits no
  app it reaches (`FieldsForEveryApp`, fed by every version, reports once all are seen);
- a CronJob without `cronJob` settings (CRON_JOB_WITHOUT_SCHEDULE), a schedule the CronJob
  controller cannot parse (CRON_SCHEDULE_INVALID: five fields or a macro, checked with croniter),
  a time zone that is no IANA name (CRON_TIME_ZONE_UNKNOWN, checked with zoneinfo);
- a volume with no source or several (VOLUME_SOURCE_COUNT), a volume name used twice or taken by
  gopc's own volumes (VOLUME_NAME_TAKEN), a mount naming no volume (MOUNT_NAMES_NO_VOLUME, with
  the closest names), a mount path taken by gopc's own mounts (MOUNT_PATH_TAKEN);
- a container name used twice in the pod (CONTAINER_NAME_TAKEN);
- a CronJob or StatefulSet named over 52 characters (WORKLOAD_NAME_TOO_LONG, the chart's object name); CAP_SYS_ADMIN added
  with privilege escalation off (ESCALATION_WITH_SYS_ADMIN); user 0 with runAsNonRoot (NON_ROOT_RUNS_AS_ROOT);
  a toleration the API server refuses (TOLERATION_INVALID); a claim template with ReadWriteOncePod beside
  other modes (ACCESS_MODES_INVALID) or named like gopc's volumes (VOLUME_NAME_TAKEN);
- a PodDisruptionBudget that can never be met (DISRUPTION_BUDGET_NEVER_MET: minAvailable at least
  the replicas) or that sets both minAvailable and maxUnavailable (DISRUPTION_BUDGET_BOTH).

Invariants: reads the values only; a rule needs a line of the program to point at, so values that
come from defaults alone are never reported (the defaults themselves pass every rule).
"""

from __future__ import annotations

import re

from gop.compiler.diagnostics import codes
from gop.compiler.diagnostics.suggest import best_matches
from gop.compiler.fleet.checks.versions import Findings, Version, later, located
from gop.compiler.fleet.model import Origin
from gop.compiler.language import (DEFAULT_WORKLOAD, KIND_FIELDS, MAX_CONTROLLER_NAME, RELEASE_NAME, RESERVED_VOLUMES,
                                   TOLERATIONS, WORKLOAD_PARTS, AppField, WorkloadField, chart_fullname)

# The schedule macros the CronJob controller accepts (robfig/cron's descriptors).
CRON_MACROS = ("@yearly", "@annually", "@monthly", "@weekly", "@daily", "@midnight", "@hourly")
# The kinds whose name is limited below the 253 characters of an object name: the limit and why.
NAME_LIMITS = {
    "CronJob": (MAX_CONTROLLER_NAME, "the API server accepts a CronJob name of"),
    "StatefulSet": (MAX_CONTROLLER_NAME, "the StatefulSet controller cannot create its pods (their `controller-revision-hash` "
                                         "label is the name and 11 characters) unless the name has"),
}
# CAP_SYS_ADMIN as the API server compares it, and as runtimes take it (they add the `CAP_` prefix).
SYS_ADMIN = ("CAP_SYS_ADMIN", "SYS_ADMIN")
VOLUME_SOURCES = ("configMap", "secret", "emptyDir", "persistentVolumeClaim", "projected")
_TIME_ZONE_IN_SCHEDULE = re.compile(r"^\s*(CRON_)?TZ=")
# The kind fields that do not apply to each workload kind (all of them to a kind the type checker refused).
FIELDS_NOT_FOR = {kind: tuple(field for field, kinds in KIND_FIELDS.items() if kind not in kinds) for kind in WORKLOAD_PARTS}


def check_version(version: Version, findings: Findings, for_every_app: FieldsForEveryApp) -> None:
    kind = version.values.get(WorkloadField.WORKLOAD, DEFAULT_WORKLOAD)
    _fields_for_kind(version, findings, kind)
    for_every_app.add(version, kind)
    if kind == "CronJob":
        _cron_job(version, findings)
    if kind in NAME_LIMITS:
        _workload_name(version, findings, kind)
    _volumes(version, findings, kind)
    _security(version, findings)
    _root_user(version, findings)
    _tolerations(version, findings)
    if kind == "StatefulSet":
        _claims(version, findings)
    _container_names(version, findings)
    if kind in KIND_FIELDS[WorkloadField.DISRUPTION_BUDGET]:
        _disruption_budget(version, findings)


def _fields_for_kind(version: Version, findings: Findings, kind: str) -> None:
    """Lines written for this app by name; those written for every app are `FieldsForEveryApp`'s."""
    for field in FIELDS_NOT_FOR.get(kind, tuple(KIND_FIELDS)):
        if field not in version.values:  # (an optional field that is absent was set nowhere)
            continue
        origin = _first_written(version, field, by_name=True)
        if origin is not None:
            findings.report(version, codes.FIELD_NOT_FOR_KIND,
                            f"`{field}` does not apply to app `{version.app}`, a {kind}",
                            (f"`{field}` only applies to {_kinds_text(KIND_FIELDS[field])}; remove this line or change "
                             "`workload`",),
                            origin, version.origins.get((WorkloadField.WORKLOAD,)))


def _kinds_text(kinds: tuple[str, ...]) -> str:
    named = [f"a {each}" for each in kinds]
    return " and ".join(named) if len(named) < 3 else f"{', '.join(named[:-1])} and {named[-1]}"


class FieldsForEveryApp:
    """Kind fields written for every app (`all { replicas = 3 }`, `defaults for App { }`): such a
    line applies to the apps whose kind has the field and is ignored by the others; it is
    FIELD_NOT_FOR_KIND only when it fits no app it reaches (then it is a mistake, not a default).
    Whether a line fits some app is asked only of the lines that misfit one (`report`): most
    programs have none, and their versions are not walked again."""

    def __init__(self) -> None:
        self.versions: list[tuple[Version, str]] = []  # every version added, with its kind
        self.misfits: dict[tuple, list[tuple[Version, str, Origin]]] = {}  # (field, span) -> where it misfits

    def add(self, version: Version, kind: str) -> None:
        self.versions.append((version, kind))
        for field in FIELDS_NOT_FOR.get(kind, tuple(KIND_FIELDS)):
            if field in version.values:
                origin = _first_for_every_app(version, field)
                if origin is not None:
                    self.misfits.setdefault((field, origin.span), []).append((version, kind, origin))

    def report(self, findings: Findings) -> None:
        if not self.misfits:
            return
        fields = {field for field, _ in self.misfits}
        fits = set()  # (field, span) of the lines that some app they reach has the field of
        for version, kind in self.versions:
            for field in fields:
                if kind in KIND_FIELDS[field] and field in version.values:
                    origin = _first_for_every_app(version, field)
                    if origin is not None:
                        fits.add((field, origin.span))
        for key, found in sorted(self.misfits.items(), key=lambda item: (item[0][1].file, item[0][1].start, item[0][0])):
            if key in fits:
                continue
            field = key[0]
            apps = ", ".join(sorted({f"`{version.app}` (a {kind})" for version, kind, _ in found}))
            message = f"`{field}` is set for every app, but applies to none it reaches: {apps}"
            for version, _, origin in found:
                findings.report(version, codes.FIELD_NOT_FOR_KIND, message,
                                (f"`{field}` only applies to {_kinds_text(KIND_FIELDS[field])}; remove this line or "
                                 "set it in `app NAME { }` blocks of the apps it fits",), origin)


def _first_for_every_app(version: Version, field: str) -> Origin | None:
    """The first line written for every app that sets `field` or a value inside it."""
    written = [origin for origin in map(version.origins.get, _paths_in(version.values[field], (field,)))
               if origin is not None and origin.span is not None and origin.for_every_app]
    return min(written, key=lambda each: (each.span.file, each.span.start), default=None)


def _paths_in(value, path: tuple):
    """`path` and the path of every value inside `value` (a record or map: key by key)."""
    yield path
    if isinstance(value, dict):
        for key, inner in value.items():
            yield from _paths_in(inner, (*path, key))


def _first_written(version: Version, *prefix: str, by_name: bool = False):
    """The origin of the first line (by position) that set the value at `prefix` or one inside it;
    `by_name`: only lines written for this app by name, not for every app."""
    written = [origin for path, origin in version.origins.items()
               if path[:len(prefix)] == prefix and origin is not None and origin.span is not None
               and not (by_name and origin.for_every_app)]
    return min(written, key=lambda origin: (origin.span.file, origin.span.start), default=None)


def _cron_job(version: Version, findings: Findings) -> None:
    settings = version.values.get(WorkloadField.CRON_JOB)
    if not settings:
        findings.report(version, codes.CRON_JOB_WITHOUT_SCHEDULE, f"app `{version.app}` is a CronJob with no schedule",
                        ('add `cronJob { schedule = "0 3 * * *" }` (five cron fields, or a macro such as "@daily")',),
                        version.origins.get((WorkloadField.WORKLOAD,)))
        return
    schedule = settings.get(WorkloadField.SCHEDULE)  # absent: the type checker reports the missing field
    problem = schedule_problem(schedule) if schedule is not None else None
    if problem:
        findings.report(version, codes.CRON_SCHEDULE_INVALID,
                        f"the schedule {schedule!r} of app `{version.app}` does not parse: {problem}",
                        ('write five fields, minute hour day-of-month month day-of-week (e.g. "*/15 * * * *"), or one of '
                         + ", ".join(CRON_MACROS),),
                        version.origins.get((WorkloadField.CRON_JOB, WorkloadField.SCHEDULE)))
    zone = settings.get(WorkloadField.TIME_ZONE)
    if zone is not None and not time_zone_known(zone):
        findings.report(version, codes.CRON_TIME_ZONE_UNKNOWN,
                        f"the time zone {zone!r} of app `{version.app}` is not an IANA time zone name",
                        ('use a name of the tz database, e.g. "Europe/Paris" or "Etc/UTC"',),
                        version.origins.get((WorkloadField.CRON_JOB, WorkloadField.TIME_ZONE)))


def _workload_name(version: Version, findings: Findings, kind: str) -> None:
    release_path = (AppField.DELIVERY, RELEASE_NAME)
    release = (version.values.get(AppField.DELIVERY) or {}).get(RELEASE_NAME) or version.app
    name = chart_fullname(version.app, release)
    limit, why = NAME_LIMITS[kind]
    if len(name) <= limit:
        return
    named_by = "its release name" if release != version.app else "its name"
    fix = (f"rename the app, or set `delivery {{ releaseName = \"...\" }}` to at most {limit} characters that "
           f"contain `{version.app}` (else the app's name is appended)" if len(version.app) <= limit
           else f"rename the app to at most {limit} characters")
    findings.report(version, codes.WORKLOAD_NAME_TOO_LONG,
                    f"the {kind} of app `{version.app}` is named `{name}` ({len(name)} characters, from {named_by}); "
                    f"{why} at most {limit}",
                    (fix,), located(version.origins, release_path, (WorkloadField.WORKLOAD,)))


def schedule_problem(schedule: str) -> str | None:
    """Why the CronJob controller would refuse `schedule`, or None."""
    if _TIME_ZONE_IN_SCHEDULE.match(schedule):
        return "a time zone in the schedule is refused; set `cronJob.timeZone` instead"
    text = schedule.strip()
    if text.startswith("@"):
        return None if text in CRON_MACROS else f"`{text}` is not a schedule macro"
    fields = text.split()
    if len(fields) != 5:
        return f"{len(fields)} field{'s' if len(fields) != 1 else ''} where five are expected"
    from croniter import croniter  # only programs with a CronJob pay for the import
    try:
        croniter(text)
    except (ValueError, KeyError) as error:
        return str(error) or "not a cron expression"
    return None


def time_zone_known(zone: str) -> bool:
    import zoneinfo
    try:
        zoneinfo.ZoneInfo(zone)
    except (zoneinfo.ZoneInfoNotFoundError, ValueError):
        return False
    return zone != "Local"


def _volumes(version: Version, findings: Findings, kind: str) -> None:
    values, origins = version.values, version.origins
    volumes = values.get(WorkloadField.VOLUMES) or {}
    if not (volumes or values.get(WorkloadField.MOUNTS) or values.get(WorkloadField.INIT_CONTAINERS)
            or values.get(WorkloadField.SIDECARS)):
        return  # no volume and no mount: nothing to check
    claims = ((values.get(WorkloadField.STATEFUL_SET) or {}).get(WorkloadField.VOLUME_CLAIM_TEMPLATES) or {}
              if kind == "StatefulSet" else {})
    tmp = (values.get(WorkloadField.SECURITY) or {}).get(WorkloadField.TMP_VOLUME, True)  # on by default
    for name, volume in volumes.items():
        sources = [source for source in VOLUME_SOURCES if source in volume]
        if len(sources) != 1:
            findings.report(version, codes.VOLUME_SOURCE_COUNT,
                            f"volume `{name}` of app `{version.app}` has "
                            + (f"{len(sources)} sources ({', '.join(sources)})" if sources else "no source"),
                            (f"a volume has exactly one of {', '.join(VOLUME_SOURCES)}",),
                            *_last_and_first(origins, [(WorkloadField.VOLUMES, name, source) for source in sources],
                                             _first_written(version, WorkloadField.VOLUMES, name)))
        if name in RESERVED_VOLUMES or name in claims:
            taken = "a volume claim template" if name in claims else "gopc's own volumes (the app's files, values and /tmp)"
            findings.report(version, codes.VOLUME_NAME_TAKEN,
                            f"volume name `{name}` of app `{version.app}` is taken by {taken}",
                            ("the API server rejects a pod with two volumes of one name; rename this one",),
                            located(origins, *[(WorkloadField.VOLUMES, name, source) for source in sources]))
    known = set(volumes) | set(claims) | ({"tmp"} if tmp else set())
    containers = [(values, ())]
    containers += [(container, (group, name)) for group in (WorkloadField.INIT_CONTAINERS, WorkloadField.SIDECARS)
                   for name, container in (values.get(group) or {}).items()]
    for container, prefix in containers:
        for path, mount in (container.get(WorkloadField.MOUNTS) or {}).items():
            origin = located(origins, (*prefix, WorkloadField.MOUNTS, path, WorkloadField.VOLUME))
            if WorkloadField.VOLUME in mount and mount[WorkloadField.VOLUME] not in known:  # (a missing one is E0305)
                volume = mount[WorkloadField.VOLUME]
                close = best_matches(volume, known)
                hint = f"did you mean {' or '.join(f'`{each}`' for each in close)}? " if close else ""
                findings.report(version, codes.MOUNT_NAMES_NO_VOLUME,
                                f"the mount at {path} of app `{version.app}` names volume `{volume}`, which the pod does not have",
                                (f"{hint}declared volumes: {', '.join(sorted(known)) or 'none'}; add it to `volumes`"
                                 + (" or `statefulSet.volumeClaimTemplates`" if kind == "StatefulSet" else ""),),
                                origin)
            if path == "/tmp" and tmp:
                findings.report(version, codes.MOUNT_PATH_TAKEN,
                                f"the mount at /tmp of app `{version.app}` takes the path of gopc's own /tmp volume",
                                ("set `security { tmpVolume = false }` to mount your own volume at /tmp, or mount it elsewhere",),
                                origin)


def _security(version: Version, findings: Findings) -> None:
    security = version.values.get(WorkloadField.SECURITY) or {}
    added = [name for name in security.get("addCapabilities") or () if name in SYS_ADMIN]
    if added and not security.get("allowPrivilegeEscalation", False):
        path = (WorkloadField.SECURITY,)
        primary, other = later(version.origins.get((*path, "addCapabilities")),
                               version.origins.get((*path, "allowPrivilegeEscalation")))
        findings.report(version, codes.ESCALATION_WITH_SYS_ADMIN,
                        f"app `{version.app}` adds {added[0]} with allowPrivilegeEscalation false",
                        ("CAP_SYS_ADMIN always lets a process gain privileges, so the API server rejects `CAP_SYS_ADMIN` "
                         "with allowPrivilegeEscalation false (and the runtime grants `SYS_ADMIN` as that capability): "
                         "remove it, or set `security { allowPrivilegeEscalation = true }`",),
                        primary, other)


def _root_user(version: Version, findings: Findings) -> None:
    security = version.values.get(WorkloadField.SECURITY) or {}
    if security.get("runAsUser") == 0 and security.get("runAsNonRoot", True):
        path = (WorkloadField.SECURITY,)
        primary, other = later(version.origins.get((*path, "runAsUser")), version.origins.get((*path, "runAsNonRoot")))
        findings.report(version, codes.NON_ROOT_RUNS_AS_ROOT,
                        f"app `{version.app}` runs as user 0 (root) while `runAsNonRoot` is true",
                        ("the kubelet refuses to start such a container (\"runAsUser breaks non-root policy\"): run as "
                         "another user, e.g. `runAsUser = 10001`, or set `runAsNonRoot = false`",),
                        primary, other)


def _tolerations(version: Version, findings: Findings) -> None:
    for number, toleration in enumerate(version.values.get(TOLERATIONS) or (), 1):
        problem = toleration_problem(toleration)
        if problem:
            findings.report(version, codes.TOLERATION_INVALID,
                            f"toleration {number} of app `{version.app}` is refused by the API server: {problem[0]}",
                            (problem[1],), version.origins.get((TOLERATIONS,)))


def toleration_problem(toleration: dict) -> tuple[str, str] | None:
    """(what the API server says of `toleration`, the fix), or None (pkg/apis/core/validation validateTolerations)."""
    operator = toleration.get("operator", "Equal")
    if "key" not in toleration and operator != "Exists":
        return ("with no `key`, the operator must be \"Exists\" (it tolerates every taint)",
                'add the taint\'s `key`, or set `operator = "Exists"` to tolerate every taint')
    if operator == "Exists" and toleration.get("value"):
        return ("with operator \"Exists\", `value` must be empty",
                'remove `value` (\"Exists\" matches any value), or use `operator = "Equal"`')
    if "tolerationSeconds" in toleration and toleration.get("effect") != "NoExecute":
        return ("`tolerationSeconds` needs effect \"NoExecute\"",
                'set `effect = "NoExecute"` (only an eviction has a delay), or remove `tolerationSeconds`')
    return None


def _claims(version: Version, findings: Findings) -> None:
    claims = (version.values.get(WorkloadField.STATEFUL_SET) or {}).get(WorkloadField.VOLUME_CLAIM_TEMPLATES) or {}
    for name, claim in claims.items():
        path = (WorkloadField.STATEFUL_SET, WorkloadField.VOLUME_CLAIM_TEMPLATES, name)
        if name in RESERVED_VOLUMES:
            findings.report(version, codes.VOLUME_NAME_TAKEN,
                            f"volume claim template `{name}` of app `{version.app}` is taken by gopc's own volumes "
                            "(the app's files, values and /tmp)",
                            ("the API server rejects a pod with two volumes of one name; rename this one",),
                            _first_written(version, *path))
        modes = claim.get("accessModes") or ()
        if "ReadWriteOncePod" in modes and len(modes) > 1:
            findings.report(version, codes.ACCESS_MODES_INVALID,
                            f"volume claim template `{name}` of app `{version.app}` mixes ReadWriteOncePod with other access modes",
                            ('the API server rejects it: use `accessModes = ["ReadWriteOncePod"]` alone, or drop it',),
                            located(version.origins, (*path, "accessModes")))


def _last_and_first(origins: dict, paths: list[tuple], fallback):
    """(the origin of the line set last among `paths`, of the one set first); `fallback` when none."""
    written = sorted((origin for origin in map(origins.get, paths) if origin is not None and origin.span is not None),
                     key=lambda origin: (int(origin.layer), origin.span.file, origin.span.start))
    return (written[-1], written[0] if len(written) > 1 else None) if written else (fallback, None)


def _container_names(version: Version, findings: Findings) -> None:
    if not (version.values.get(WorkloadField.SIDECARS) or version.values.get(WorkloadField.INIT_CONTAINERS)):
        return  # the app's own container alone
    seen: dict[str, str | None] = {version.app: None}
    for group in (WorkloadField.SIDECARS, WorkloadField.INIT_CONTAINERS):
        for name in sorted(version.values.get(group) or {}):
            origin = _first_written(version, group, name)
            if name in seen:
                other = seen[name]
                what = "the app's own container" if other is None else f"a container of `{other}`"
                findings.report(version, codes.CONTAINER_NAME_TAKEN,
                                f"container name `{name}` of app `{version.app}` is taken by {what}",
                                ("the API server rejects a pod with two containers of one name; rename this one",),
                                origin)
            else:
                seen[name] = group


def _disruption_budget(version: Version, findings: Findings) -> None:
    values, origins = version.values, version.origins
    budget = values.get(WorkloadField.DISRUPTION_BUDGET) or {"enabled": True}
    if "minAvailable" not in budget:
        return  # both rules are about minAvailable
    path = (WorkloadField.DISRUPTION_BUDGET,)
    if "minAvailable" in budget and "maxUnavailable" in budget:
        primary, other = later(origins.get((*path, "minAvailable")), origins.get((*path, "maxUnavailable")))
        findings.report(version, codes.DISRUPTION_BUDGET_BOTH,
                        f"the disruption budget of app `{version.app}` sets both minAvailable and maxUnavailable",
                        ("the API server rejects a PodDisruptionBudget with both; keep one",), primary, other)
        return
    scaling = values.get(AppField.AUTOSCALING)
    replicas, replicas_path = ((scaling["min"], (AppField.AUTOSCALING, "min")) if scaling
                               else (values[WorkloadField.REPLICAS], (WorkloadField.REPLICAS,)))
    minimum = budget.get("minAvailable")
    if budget["enabled"] and replicas > 1 and isinstance(minimum, int) and minimum >= replicas:  # (a percentage: W1162)
        primary, other = later(origins.get((*path, "minAvailable")), origins.get(replicas_path))
        findings.report(version, codes.DISRUPTION_BUDGET_NEVER_MET,
                        f"the disruption budget of app `{version.app}` keeps {minimum} of its {replicas} pods available: "
                        "no pod can ever be evicted",
                        (f"a node drain waits for ever; set `disruptionBudget {{ minAvailable = {replicas - 1} }}` or fewer, "
                         "or `maxUnavailable = 1`",), primary, other)
