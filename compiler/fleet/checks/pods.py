"""Pods: what the API server refuses of an app's node affinity and lifecycle hooks (issue 13).

Input: one `versions.Version` and a `Findings`. Output: reports into the `Findings`, each at the line
that set the offending value:
- a node selector requirement (`affinity.nodes`) whose values do not fit its operator
  (NODE_SELECTOR_VALUES): "In" and "NotIn" take at least one value, "Exists" and "DoesNotExist"
  none, "Gt" and "Lt" exactly one integer;
- a lifecycle hook with both a command and a sleep (LIFECYCLE_HOOK_HANDLERS: a handler is exactly one
  action), and a sleep longer than the pod's termination grace period (SLEEP_OVER_GRACE_PERIOD).

Invariants: reads the values only; values from defaults alone are never reported (they pass every
rule). Records inside lists carry no origins of their own, so a requirement is reported at its list.
"""

from __future__ import annotations

from gop.compiler.diagnostics import codes
from gop.compiler.fleet.checks.versions import Findings, Version, later, located

AFFINITY, NODES = "affinity", "nodes"
LIFECYCLE, GRACE_PERIOD = "lifecycle", "terminationGracePeriodSeconds"
HOOKS = ("postStart", "preStop")
DEFAULT_GRACE_PERIOD = 30  # the API server's default of terminationGracePeriodSeconds
# How many values each operator of a node selector requirement takes: (fewest, most); Gt/Lt an integer.
OPERATOR_VALUES = {"In": (1, None), "NotIn": (1, None), "Exists": (0, 0), "DoesNotExist": (0, 0),
                   "Gt": (1, 1), "Lt": (1, 1)}


def check_version(version: Version, findings: Findings) -> None:
    _node_requirements(version, findings)
    _lifecycle(version, findings)


def _node_requirements(version: Version, findings: Findings) -> None:
    affinity = version.values.get(AFFINITY)
    nodes = affinity.get(NODES) if affinity else None
    if not nodes:
        return
    for group in ("required", "preferred"):
        for index, term in enumerate(nodes.get(group) or ()):
            for requirement in term.get("matchExpressions") or ():
                operator = requirement.get("operator")  # absent: the type checker reports it
                problem = operator in OPERATOR_VALUES and requirement_problem(operator, list(requirement.get("values") or ()))
                if problem:
                    findings.report(version, codes.NODE_SELECTOR_VALUES,
                                    f"node affinity term {index + 1} of `affinity.nodes.{group}` of app `{version.app}`: "
                                    f"`{requirement.get('key')}` {operator} {problem}; {_FIXES[operator]}",
                                    ("the API server's rule: In and NotIn take at least one value, Exists and "
                                     "DoesNotExist none, Gt and Lt exactly one integer",),
                                    located(version.origins, (AFFINITY, NODES, group), (AFFINITY, NODES), (AFFINITY,)))


def requirement_problem(operator: str, values: list[str]) -> str | None:
    """Why the API server refuses a node selector requirement, or None."""
    fewest, most = OPERATOR_VALUES[operator]
    if len(values) < fewest or (most is not None and len(values) > most):
        wanted = {(0, 0): "no values", (1, 1): "exactly one value", (1, None): "at least one value"}[(fewest, most)]
        return f"takes {wanted}, not {len(values)}"
    if operator in ("Gt", "Lt") and not _is_integer(values[0]):
        return f"compares with an integer, not {values[0]!r}"
    return None


_FIXES = {
    "In": 'list the label values the node may have, e.g. `values = ["a", "b"]`',
    "NotIn": 'list the label values the node must not have, e.g. `values = ["gpu"]`',
    "Exists": "remove `values`: the label only has to be there",
    "DoesNotExist": "remove `values`: the label only has to be absent",
    "Gt": 'give one integer the label value must exceed, e.g. `values = ["4"]`',
    "Lt": 'give one integer the label value must stay below, e.g. `values = ["4"]`',
}


def _is_integer(text: str) -> bool:
    """What Go's strconv.ParseInt(text, 10, 64) accepts (the API server's test)."""
    digits = text[1:] if text[:1] in ("+", "-") else text
    return digits.isascii() and digits.isdigit() and -2**63 <= int(text) < 2**63


def _lifecycle(version: Version, findings: Findings) -> None:
    lifecycle = version.values.get(LIFECYCLE)
    if not lifecycle:
        return
    origins = version.origins
    grace = version.values.get(GRACE_PERIOD, DEFAULT_GRACE_PERIOD)
    for hook in HOOKS:
        sleep = lifecycle.get(f"{hook}Sleep")
        if sleep is None:
            continue
        if lifecycle.get(hook):
            primary, other = later(origins.get((LIFECYCLE, hook)), origins.get((LIFECYCLE, f"{hook}Sleep")))
            findings.report(version, codes.LIFECYCLE_HOOK_HANDLERS,
                            f"the {hook} hook of app `{version.app}` has both a command (`{hook}`) and a sleep "
                            f"(`{hook}Sleep`)",
                            ("a hook runs exactly one handler, which the API server checks: keep the command or the sleep",),
                            primary, other)
        if sleep.get("seconds", 0) > grace:
            primary, other = later(located(origins, (LIFECYCLE, f"{hook}Sleep", "seconds"), (LIFECYCLE, f"{hook}Sleep")),
                                   origins.get((GRACE_PERIOD,)))
            findings.report(version, codes.SLEEP_OVER_GRACE_PERIOD,
                            f"the {hook} sleep of app `{version.app}` lasts {sleep['seconds']} s, longer than its "
                            f"termination grace period of {grace} s",
                            ("the API server refuses a sleep longer than `terminationGracePeriodSeconds` (30 when unset); "
                             "sleep less or raise the grace period",),
                            primary, other)
