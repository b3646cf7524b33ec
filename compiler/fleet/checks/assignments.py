"""Values Flux or the API server rejects wherever they are written, checked at every assignment.

Input: the `Evaluation` (every layer's checked leaves). Output: `assignment_diagnostics(...)`:
an image policy's semver range Flux cannot parse (UNPARSABLE_SEMVER_RANGE), an ingress host that
is not a DNS name (INGRESS_HOST_NOT_DNS), an image policy's tag pattern Go cannot compile
(INVALID_TAG_PATTERN), each at the assignment that wrote it. Nothing changes.

Invariants: each list of leaves once (an `all` body's leaves are shared by its apps); what a list
gives is a function of the list alone (leaves are never changed), so an app body's is kept by the
language server's session for its reused checks.
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


def assignment_diagnostics(evaluation, found_in=None) -> list[Diagnostic]:
    """`found_in`: what each app body's leaves gave in the previous analyses, by the leaves (the
    session memo's `assignments`: a reused app check hands back the very same list), or None."""
    found: list[Diagnostic] = []
    for leaves, app_body in _leaf_lists(evaluation):
        kept = found_in.get(leaves) if found_in is not None and app_body else None
        if kept is None:
            kept = list(_leaves_diagnostics(leaves))
            if found_in is not None and app_body:
                found_in.put(leaves, kept)
        found += kept
    return found


def _leaves_diagnostics(leaves: list[Leaf]) -> Iterator[Diagnostic]:
    for leaf in leaves:
        if leaf.path not in _CHECKED_PREFIXES:  # most leaves: nothing at or below them is checked
            continue
        for path, value in _flattened(leaf.path, leaf.value):
            rule = _VALUE_CHECKS.get(path)
            problem = rule.problem(value) if rule is not None and isinstance(value, str) else None
            if problem is not None:
                yield diagnostic(rule.code, leaf.span, f"{rule.message.format(value=describe_value(value))}: {problem}",
                                 notes=(rule.note,))


def _leaf_lists(evaluation) -> Iterator[tuple[list[Leaf], bool]]:
    """Every layer's lists of leaves, each once (an `all` body's leaves are shared), and whether
    it is an app's (or release's, resource's) own body."""
    seen: set[int] = set()
    groups = [(leaves, True) for leaves in evaluation.app_leaves.values()]
    groups += [(group.leaves, False) for declared in evaluation.layer_leaves.values() for per_app in declared.values()
               for targeted in per_app.values() for group in targeted]
    for leaves, app_body in groups:
        if id(leaves) not in seen:
            seen.add(id(leaves))
            yield leaves, app_body


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
