"""Values Flux or the API server rejects wherever they are written, checked at every assignment.

Input: the `Evaluation` (every layer's checked leaves). Output: `assignment_diagnostics(...)`:
an image policy's semver range Flux cannot parse (UNPARSABLE_SEMVER_RANGE), an ingress host that
is not a DNS name (INGRESS_HOST_NOT_DNS), an image policy's tag pattern Go cannot compile
(INVALID_TAG_PATTERN), each at the assignment that wrote it. Nothing changes.

Invariants: each list of leaves once (an `all` body's leaves are shared by its apps).
"""

from __future__ import annotations

import ipaddress
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any

from gop.compiler.diagnostics import Diagnostic, codes, diagnostic
from gop.compiler.language import TAG_FILTER, AppField
from gop.compiler.semantic.check import PRESENT, Leaf
from gop.compiler.semantic.resolve import DNS_LABEL
from gop.compiler.semantic.go_regexp import pattern_problem
from gop.compiler.semantic.semver_range import range_problem
from gop.compiler.semantic.types import describe_value

LABEL_VALUE_MAX = 63  # characters of a DNS label and of a Kubernetes label value


def assignment_diagnostics(evaluation) -> Iterator[Diagnostic]:
    for leaf in _written_leaves(evaluation):
        if leaf.path not in _CHECKED_PREFIXES:  # most leaves: nothing at or below them is checked
            continue
        for path, value in _flattened(leaf.path, leaf.value):
            rule = _VALUE_CHECKS.get(path)
            problem = rule.problem(value) if rule is not None and isinstance(value, str) else None
            if problem is not None:
                yield diagnostic(rule.code, leaf.span, f"{rule.message.format(value=describe_value(value))}: {problem}",
                                 notes=(rule.note,))


def _written_leaves(evaluation) -> Iterator[Leaf]:
    """Every assignment of every layer, each list once (an `all` body's leaves are shared)."""
    seen: set[int] = set()
    groups = list(evaluation.app_leaves.values())
    groups += [group.leaves for declared in evaluation.layer_leaves.values() for per_app in declared.values()
               for targeted in per_app.values() for group in targeted]
    for leaves in groups:
        if id(leaves) not in seen:
            seen.add(id(leaves))
            yield from leaves


def _flattened(path: tuple[str, ...], value: Any) -> Iterator[tuple[tuple[str, ...], Any]]:
    """A leaf whose value is a record (`ingress = someLet`) as the leaves below it."""
    if isinstance(value, dict):
        for key, item in value.items():
            yield from _flattened(path + (key,), item)
    elif value is not PRESENT:
        yield path, value


def host_problem(host: str) -> str | None:
    """Why Kubernetes rejects `host` as an Ingress rule's host (a DNS-1123 subdomain, not an IP, or a
    wildcard one: `*.` before a subdomain)."""
    host = host.removeprefix("*.")
    try:
        ipaddress.ip_address(host)
        return "it is an IP address"
    except ValueError:
        pass
    for label in host.split("."):
        if not label:
            return "it has an empty label (two dots in a row, or a dot at an end)"
        if len(label) > LABEL_VALUE_MAX:
            return f"its label {label[:20]!r}... has {len(label)} characters (at most {LABEL_VALUE_MAX})"
        if not DNS_LABEL.fullmatch(label):
            return f"its label {label!r} must start and end with a letter or digit"
    return None


@dataclass(frozen=True, slots=True)
class _ValueRule:
    """A value refused wherever it is written: why (`problem`, None when fine), and what is said then."""

    problem: Callable[[str], str | None]
    code: str
    message: str  # with `{value}`; the problem follows it
    note: str


_VALUE_CHECKS = {
    (AppField.IMAGE_POLICY, AppField.SEMVER): _ValueRule(
        range_problem, codes.UNPARSABLE_SEMVER_RANGE, "Flux cannot parse the semver range {value}",
        'write a range such as ">=1.4.0 <2.0.0", "^2.0.0", "~1.2" or "1.x"'),
    (AppField.INGRESS, AppField.HOST): _ValueRule(
        host_problem, codes.INGRESS_HOST_NOT_DNS, "the ingress host {value} is not a DNS name",
        'a host is DNS labels joined by dots, each 1 to 63 lower-case letters, digits and "-", '
        'starting and ending with a letter or digit, e.g. "api.acme.io"'),
    (AppField.IMAGE_POLICY, TAG_FILTER, "pattern"): _ValueRule(
        pattern_problem, codes.INVALID_TAG_PATTERN, "Flux cannot compile the tag pattern {value}",
        'the pattern is a Go regular expression (RE2 syntax), e.g. "^model-v(?P<version>[0-9]+[.][0-9]+[.][0-9]+)$"'),
}

# The paths checked, and every path above one: a leaf elsewhere holds nothing to check.
_CHECKED_PREFIXES = frozenset(path[:end] for path in _VALUE_CHECKS for end in range(len(path) + 1))
