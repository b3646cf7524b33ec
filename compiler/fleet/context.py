"""Context values resolved per (unit, env, cluster): the evaluator's side of context interpolation.

Input: the placement (each cluster's typed labels and env) and the checked leaves of every layer,
whose strings may be `semantic.context.ContextText`s. Output: `Contexts`, asked by the evaluator
for what a group of leaves reads (`reads`), the `Context` of a unit on a cluster, the part of it
a unit's leaves read (`key`: what instance sharing must tell apart), and the leaves with every
such string resolved there (`resolve`), each distinct resolution once.

A resolved string is checked against the type it was written for (its pattern, length or enum)
at the string's span, with a note naming the unit and cluster (each distinct text once). An
optional label without a default that a cluster lacks, read without `??`, is E1026 at the
interpolation naming those clusters (`report`). Where there is no cluster (the base of an app
placed nowhere) a cluster or env value stays as written, `${cluster.name}`.

Invariants: leaves that read nothing are returned as they are (the same list); resolved lists are
kept for the evaluation (the evaluator keys caches by their identity); deterministic.
"""

from __future__ import annotations

import dataclasses
from typing import Any

from gop.compiler.diagnostics import codes, diagnostic
from gop.compiler.fleet.checks.placement import Placement
from gop.compiler.fleet.checks.versions import clusters_text
from gop.compiler.semantic.check import INVALID, Checker, Leaf, interpolated_text
from gop.compiler.semantic.context import Context, ContextPath, ContextRef, ContextText, reads_of
from gop.compiler.semantic.types import describe_value


class Contexts:
    def __init__(self, placement: Placement, checker: Checker) -> None:
        self.placement = placement
        self.checker = checker
        self._reads: dict[int, tuple[list[Leaf], frozenset[ContextPath]]] = {}
        self._resolved: dict[tuple, list[Leaf]] = {}
        self._checked: set[tuple] = set()  # (span, text) of resolved strings checked
        self._absent: dict[ContextRef, set[str]] = {}  # a label read without `??` -> clusters that lack it
        self._clusters: dict[str, Context] = {}  # the context values of each cluster

    def reads(self, leaves: list[Leaf]) -> frozenset[ContextPath]:
        known = self._reads.get(id(leaves))
        if known is None:
            found: set[ContextPath] = set()
            for leaf in leaves:
                found.update(reads_of(leaf.value))
            known = self._reads[id(leaves)] = (leaves, frozenset(found))
        return known[1]

    def context(self, kind: str, name: str, env: str | None, cluster: str | None) -> Context:
        """Every context value of a unit on a cluster (a label it lacks: absent, read as None);
        only the unit's name when there is no cluster."""
        if cluster is None:
            return {(kind, "name"): name}
        return self._cluster_context(env, cluster) | {(kind, "name"): name}

    def _cluster_context(self, env: str | None, cluster: str) -> Context:
        shared = self._clusters.get(cluster)
        if shared is None:
            shared = self._clusters[cluster] = {("env", "name"): env or "", ("cluster", "name"): cluster} | {
                ("cluster", "labels", key): interpolated_text(value)
                for key, value in self.placement.cluster_labels.get(cluster, {}).items()}
        return shared

    @staticmethod
    def key(reads: frozenset[ContextPath], context: Context) -> tuple:
        """The values of `context` that `reads` reads (those that tell instances apart)."""
        return tuple(sorted((path, context.get(path, "\0")) for path in reads))

    def key_on(self, reads: frozenset[ContextPath], kind: str, name: str, env: str, cluster: str) -> tuple:
        """`key(reads, context(kind, name, env, cluster))`, without making the context."""
        shared = self._cluster_context(env, cluster)
        return tuple(sorted((path, name if path == (kind, "name") else shared.get(path, "\0")) for path in reads))

    def resolve(self, leaves: list[Leaf], context: Context, where: str) -> list[Leaf]:
        """`leaves` with each string that reads the context resolved in `context` (`where`: the
        unit and cluster, for messages)."""
        reads = self.reads(leaves)
        if not reads:
            return leaves
        cache_key = (id(leaves), self.key(reads, context))
        resolved = self._resolved.get(cache_key)
        if resolved is None:
            resolved = self._resolved[cache_key] = [
                leaf if not reads_of(leaf.value) else Leaf(leaf.path, self._value(leaf.value, context, where), leaf.span)
                for leaf in leaves]
            self._reads[id(resolved)] = (resolved, frozenset())
        return resolved

    def _value(self, value: Any, context: Context, where: str) -> Any:
        if isinstance(value, ContextText):
            return self._text(value, context, where)
        if isinstance(value, dict):
            return {key: self._value(item, context, where) for key, item in value.items()}
        if isinstance(value, tuple):
            return tuple(self._value(item, context, where) for item in value)
        if isinstance(value, list):
            return [self._value(item, context, where) for item in value]
        return value

    def _text(self, text: ContextText, context: Context, where: str) -> str:
        pieces = []
        for part in text.parts:
            if isinstance(part, str):
                pieces.append(part)
            elif ("cluster", "name") not in context:  # no cluster: as written
                pieces.append(str(part))
            elif (value := context.get(part.path)) is not None or (value := part.fallback) is not None:
                pieces.append(value)
            else:
                self._absent.setdefault(part, set()).add(context["cluster", "name"])
        resolved = "".join(pieces)
        if len(context) > 1 and (text.span, resolved) not in self._checked:
            self._checked.add((text.span, resolved))
            before = len(self.checker.diagnostics)
            if self.checker.conform(resolved, text.expected, text.span) is INVALID:
                for index in range(before, len(self.checker.diagnostics)):
                    found = self.checker.diagnostics[index]
                    note = f"{text} is {describe_value(resolved)} for {where}"
                    self.checker.diagnostics[index] = dataclasses.replace(found, notes=(note, *found.notes))
        return resolved

    def report(self) -> None:
        """E1026 for each optional label read without `??` where clusters lack it."""
        for ref, clusters in sorted(self._absent.items(), key=lambda item: (item[0].span.file, item[0].span.start)):
            label = ref.path[-1]
            self.checker.diagnostics.append(diagnostic(
                codes.LABEL_MAY_BE_ABSENT, ref.span, f"the label `{label}` is optional and {clusters_text(sorted(clusters))} "
                f"{'do' if len(clusters) > 1 else 'does'} not set it",
                notes=(f'give a fallback: `${{{".".join(ref.path)} ?? "..."}}`, or a default to the label',)))

