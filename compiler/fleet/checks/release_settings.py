"""An app's Helm release settings that Flux or the API server would refuse, or that cannot mean
what they say.

Input: the `Evaluation` (every layer's checked leaves) for `body_only_diagnostics`; one
`versions.Version` and a `Findings` for `check_version`; the fleet for `chart_test_diagnostics`.
Output: `chart` set by an env, overlay or cluster (CHART_SETTING_LAYERED: one chart serves every
cluster), `calls` or `network` set there (NETWORK_SETTING_LAYERED: one NetworkPolicy per app), a
`retryInterval` without the "RetryOnFailure" strategy it belongs to (the HelmRelease CRD's own rule;
RETRY_INTERVAL_WITHOUT_RETRY), `chart.test` on an app whose body declares no port for the test to
connect to (TEST_WITHOUT_PORT).

Invariants: each problem once, at the line that caused it.
"""

from __future__ import annotations

from collections.abc import Iterator

from gop.compiler.diagnostics import Diagnostic, codes, diagnostic
from gop.compiler.fleet.checks.versions import Findings, Version, later
from gop.compiler.fleet.model import Fleet
from gop.compiler.language import APP_CHART, CALLS, NETWORK_ALLOW, AppField


# The App fields only an app's body sets, because what they make is one for every cluster: the code,
# what is one, and the note.
BODY_ONLY_FIELDS = {
    APP_CHART: (codes.CHART_SETTING_LAYERED, "an app's chart is one for every cluster",
                "move the setting into the app's body; to run the chart's tests on some clusters only, there is no "
                "per-cluster switch"),
    CALLS: (codes.NETWORK_SETTING_LAYERED, "an app's NetworkPolicy is one for every cluster",
            "move it into the app's body (the union of what every cluster needs)"),
    NETWORK_ALLOW: (codes.NETWORK_SETTING_LAYERED, "an app's NetworkPolicy is one for every cluster",
                    "move it into the app's body (the union of what every cluster needs)"),
}


def body_only_diagnostics(evaluation) -> Iterator[Diagnostic]:
    """`chart`, `calls` and `network` set by an env, overlay or cluster body: refused, not dropped."""
    apps = evaluation.fleet.apps
    seen: list = []
    read: set[tuple] = set()  # (id of a list of leaves, its source): an `all` body's leaves reach every app
    for per_declaration in evaluation.layer_leaves.values():
        for per_app in per_declaration.values():
            for app, groups in per_app.items():
                if app not in apps:
                    continue
                for group in groups:
                    if (id(group.leaves), group.source) in read:
                        continue
                    read.add((id(group.leaves), group.source))
                    for leaf in group.leaves:
                        if leaf.path[0] in BODY_ONLY_FIELDS and not any(_within(leaf.span, span) for span in seen):
                            seen.append(leaf.span)  # (`network { to = ... }` is a leaf and holds one: said once)
                            code, one, note = BODY_ONLY_FIELDS[leaf.path[0]]
                            yield diagnostic(code, leaf.span, f"`{'.'.join(leaf.path)}` is set by {group.source}, but "
                                             f"{one}: only the app's body sets `{leaf.path[0]}`", notes=(note,))


def _within(inner, outer) -> bool:
    return inner.file == outer.file and outer.start <= inner.start and inner.end <= outer.end


def check_version(version: Version, findings: Findings) -> None:
    delivery = version.values.get(AppField.DELIVERY)
    if not delivery:
        return
    for action in ("install", "upgrade"):
        settings = delivery.get(action)
        if settings and "retryInterval" in settings and settings.get("strategy") != "RetryOnFailure":
            primary, other = later(version.origins.get((AppField.DELIVERY, action, "retryInterval")),
                                   version.origins.get((AppField.DELIVERY, action, "strategy")))
            findings.report(version, codes.RETRY_INTERVAL_WITHOUT_RETRY,
                            f"app `{version.app}` sets `delivery.{action}.retryInterval` without "
                            f'`strategy = "RetryOnFailure"`',
                            ("the HelmRelease API accepts a retry interval only with the RetryOnFailure strategy; "
                             f'add `strategy = "RetryOnFailure"` to `delivery.{action}` or drop the interval',),
                            primary, other)


def chart_test_diagnostics(fleet: Fleet) -> Iterator[Diagnostic]:
    for name, app in fleet.apps.items():
        if (app.base.get(APP_CHART) or {}).get("test") and not app.base.get(AppField.PORTS):
            origin = app.base_origins.get((APP_CHART, "test"))
            if origin is not None and origin.span is not None:
                yield diagnostic(codes.TEST_WITHOUT_PORT, origin.span,
                                 f"app `{name}` has `chart.test` but its body declares no port for the test to connect to",
                                 notes=("the test pod GETs the readiness (else liveness, else `/`) path through the "
                                        "app's Service; declare `ports { http = 8080 }` in the app's body",))
