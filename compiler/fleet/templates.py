"""The layers below a declaration's own body: the fleet's defaults and the templates it uses.

Input: the `Resolution` (templates by name, `defaults` blocks by kind), the `Checker` (it keeps
collecting diagnostics), and `check_body(source, kind, record)`: the checked leaves of a template's
or defaults block's body for a unit of that record (the evaluator's, so an app body's schema and
memo rules apply to them unchanged).
Output: `BaseLayers.base(kind, decl, record, own_leaves)`: a `Base` (the winning leaves of the
DEFAULTS and TEMPLATE layers with their origins, lowest first: the declaration's own leaves go on
top; every leaf of those layers, for `gopc explain` and hover; the checked leaf lists it was made
from; the paths their bodies assign), or None for a declaration that uses no template of a kind
without defaults (its base is then its own body, exactly as before templates existed).

Rules (DESIGN-14, "Layering"):
- `uses` names templates of the declaration's kind: an unknown name, a template of another kind
  and a cycle are errors, and the offending name is left out. Only apps, releases and resources
  use templates.
- The templates a declaration uses are linearised depth-first, bases before the template that
  uses them, in `uses` order, each once. A template beats every template it reaches through
  `uses`; two templates neither of which reaches the other are peers, and different values for
  one path from peers, where no template above both and not the declaration itself sets it, is
  TEMPLATE_CONFLICT at the declaration's `uses` (the first value in that order stays).
- All `defaults for KIND` blocks form one layer: two blocks setting one path differently is
  CONFLICTING_ASSIGNMENTS naming both.

Invariants: each problem is reported once however many declarations share it; results depend
only on file order and `uses` order.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Callable

from gop.compiler.diagnostics import Related, codes, diagnostic
from gop.compiler.diagnostics.suggest import did_you_mean
from gop.compiler.fleet.layers import Targeted, Winners, winning_leaves
from gop.compiler.fleet.model import Layer, Origin
from gop.compiler.language import UNIT_KINDS
from gop.compiler.semantic.check import PRESENT, Checker, Leaf
from gop.compiler.semantic.resolve import Resolution
from gop.compiler.semantic.types import RecordType, describe_value
from gop.compiler.syntax import ast
from gop.compiler.values import same

BaseSource = ast.TemplateDecl | ast.DefaultsDecl
BodyCheck = Callable[[BaseSource, str, RecordType], list[Leaf]]

DEFAULTS_SOURCE = "defaults"


@dataclass(slots=True)
class Base:
    winners: Winners  # the leaves that make the base below the declaration's own, lowest first
    chain: list[tuple[Origin, Leaf]]  # every leaf of both layers, lowest first
    inputs: tuple[list[Leaf], ...]  # the checked leaf lists it was made from (compare by identity)
    assigned: frozenset[tuple]  # the paths the template and defaults bodies assign
    complete: bool  # False when a name in `uses` was refused: what it would have set is unknown


def template_source(template: ast.TemplateDecl) -> str:
    """The `Origin.source` of a template's leaves."""
    return f"template {template.name.text}"


def _kind_words(kind: str) -> str:
    return {"app": "apps", "release": "releases", "resource": "resources"}.get(kind, kind + "s")


class BaseLayers:
    def __init__(self, resolution: Resolution, checker: Checker, check_body: BodyCheck) -> None:
        self.resolution = resolution
        self.checker = checker
        self.check_body = check_body
        self._uses: dict[int, tuple[ast.TemplateDecl, ...]] = {}  # id(template) -> what it uses (valid, acyclic)
        self._reach: dict[int, frozenset[int]] = {}
        self._reported: set = set()
        self._refused: set[int] = set()  # id(declaration or template) whose `uses` names a refused template
        for template in resolution.templates.values():
            self._uses[id(template)] = self._resolved(template, template.kind, f"template `{template.name.text}`")
        self._break_cycles()
        self._refuse_uses_elsewhere()

    # ---- `uses` ----------------------------------------------------------------------------

    def _resolved(self, decl, kind: str, user: str) -> tuple[ast.TemplateDecl, ...]:
        """The templates `decl` names in `uses`, each problem reported (and the name left out, and
        `decl` noted in `refused`)."""
        found: list[ast.TemplateDecl] = []
        for name in decl.uses:
            template = self.resolution.templates.get(name.text)
            if template is None:
                of_kind = [n for n, t in self.resolution.templates.items() if t.kind == kind]
                self.checker._unknown_name(name.span, name.text, "template", did_you_mean(name.text, of_kind))
                self._refused.add(id(decl))
            elif template.kind != kind:
                self.checker.error(codes.TEMPLATE_KIND_MISMATCH, name.span,
                                   f"template `{name.text}` is for {_kind_words(template.kind)}; {user} is {_a(kind)}",
                                   related=[Related(template.name.span, f"template `{name.text}` is declared here")],
                                   notes=(f"a template fits one kind: declare it `template {name.text} for {kind} {{ ... }}`, "
                                          "or use a template of that kind",))
                self._refused.add(id(decl))
            elif all(template is not other for other in found):
                found.append(template)
        return tuple(found)

    def _break_cycles(self) -> None:
        """Report each cycle of templates using one another at the `uses` name that closes it, and
        drop that edge, so linearising always ends."""
        state: dict[int, int] = {}  # 1: on the current path, 2: done
        path: list[ast.TemplateDecl] = []

        def visit(template: ast.TemplateDecl) -> None:
            state[id(template)] = 1
            path.append(template)
            kept = []
            for base in self._uses[id(template)]:
                if state.get(id(base)) == 1:
                    cycle = path[next(i for i, t in enumerate(path) if t is base):] + [base]
                    name = next(n for n in template.uses if n.text == base.name.text)
                    self.checker.error(codes.TEMPLATE_CYCLE, name.span,
                                       "templates use one another in a cycle: " + " -> ".join(t.name.text for t in cycle),
                                       related=[Related(t.name.span, f"template `{t.name.text}`") for t in cycle[:-1]],
                                       notes=("a template builds on the templates it uses; move what they share to a "
                                              "template both use",))
                    continue
                kept.append(base)
                if id(base) not in state:
                    visit(base)
            self._uses[id(template)] = tuple(kept)
            path.pop()
            state[id(template)] = 2

        for template in self.resolution.templates.values():
            if id(template) not in state:
                visit(template)

    def _refuse_uses_elsewhere(self) -> None:
        declared = [*self.resolution.singletons.values()]
        declared += [decl for kind, decls in self.resolution.resources.items() if kind not in UNIT_KINDS for decl in decls.values()]
        for decl in declared:
            if decl.uses:
                span = decl.uses[0].span.cover(decl.uses[-1].span)
                self.checker.error(codes.TEMPLATE_KIND_MISMATCH, span,
                                   f"{_a(decl.kind)} uses no templates; only apps, releases and resources do",
                                   notes=("remove `uses ...`",))

    def _linear(self, uses: tuple[ast.TemplateDecl, ...]) -> list[ast.TemplateDecl]:
        """Depth-first, bases before the template that uses them, in `uses` order, each once."""
        order: list[ast.TemplateDecl] = []
        seen: set[int] = set()

        def visit(template: ast.TemplateDecl) -> None:
            if id(template) in seen:
                return
            seen.add(id(template))
            for base in self._uses[id(template)]:
                visit(base)
            order.append(template)

        for template in uses:
            visit(template)
        return order

    def _reaches(self, template: ast.TemplateDecl) -> frozenset[int]:
        """The templates `template` builds on, directly or not (by id)."""
        key = id(template)
        if key not in self._reach:
            self._reach[key] = frozenset(id(t) for t in self._linear(self._uses[key]))
        return self._reach[key]

    # ---- the base of one declaration -------------------------------------------------------

    def base(self, kind: str, name: str, decl: ast.ResourceDecl, record: RecordType, own: list[Leaf]) -> Base | None:
        """`name`: the declaration's (as the resolution registered it: a generated one's too)."""
        blocks = self.resolution.defaults.get(kind, [])
        if not blocks and not decl.uses:
            return None
        templates = self._linear(self._resolved(decl, kind, f"{kind} `{name}`"))
        defaults = [self.check_body(block, kind, record) for block in blocks]
        checked = [self.check_body(template, kind, record) for template in templates]
        winners = self._report(winning_leaves([Targeted(DEFAULTS_SOURCE, True, leaves) for leaves in defaults], Layer.DEFAULTS))
        winners += self._template_winners(decl, f"{kind} `{name}`", templates, checked, own)
        chain = [(Origin(Layer.DEFAULTS, leaf.span, DEFAULTS_SOURCE), leaf) for leaves in defaults for leaf in leaves]
        chain += [(Origin(Layer.TEMPLATE, leaf.span, template_source(template)), leaf)
                  for template, leaves in zip(templates, checked) for leaf in leaves]
        assigned = frozenset().union(*(ast.assigned_paths(source.body) for source in (*blocks, *templates)))
        complete = not any(id(user) in self._refused for user in (decl, *templates))
        return Base(winners, chain, (*defaults, *checked), assigned, complete)

    def _template_winners(self, decl: ast.ResourceDecl, user: str, templates: list[ast.TemplateDecl],
                          checked: list[list[Leaf]], own: list[Leaf]) -> Winners:
        setters: dict[tuple, list[tuple[int, ast.TemplateDecl, Leaf, Origin]]] = {}
        for index, (template, leaves) in enumerate(zip(templates, checked)):
            for leaf, origin in self.report_conflicts(template, leaves):
                setters.setdefault(leaf.path, []).append((index, template, leaf, origin))
        own_paths = {leaf.path for leaf in own if leaf.value is not PRESENT}
        chosen = []
        for path, found in setters.items():
            # A template beats the templates it builds on: keep those no other setter builds on.
            top = [entry for entry in found if not any(id(entry[1]) in self._reaches(other[1]) for other in found if other is not entry)]
            kept = top[0]
            chosen.append(kept)
            if path in own_paths or kept[2].value is PRESENT:
                continue
            for other in top[1:]:
                if not same(kept[2].value, other[2].value):
                    self._template_conflict(decl, user, kept, other)
                    break
        chosen.sort(key=lambda entry: (entry[0], entry[2].span.start))
        return [(leaf, origin) for _, _, leaf, origin in chosen]

    def report_conflicts(self, template: ast.TemplateDecl, leaves: list[Leaf]) -> Winners:
        """The winning leaves of one template's body, a field it sets twice differently reported (once)."""
        return self._report(winning_leaves([Targeted(template_source(template), True, leaves)], Layer.TEMPLATE))

    def _template_conflict(self, decl: ast.ResourceDecl, user: str, kept, other) -> None:
        span = decl.uses[0].span.cover(decl.uses[-1].span)
        (_, first, first_leaf, _), (_, second, second_leaf, _) = kept, other
        key = (span, first_leaf.path)
        if key in self._reported:
            return
        self._reported.add(key)
        dotted = ".".join(first_leaf.path)
        self.checker.diagnostics.append(diagnostic(
            codes.TEMPLATE_CONFLICT, span,
            f"`{dotted}` of {user} is set by template `{first.name.text}` to {describe_value(first_leaf.value)} "
            f"and by template `{second.name.text}` to {describe_value(second_leaf.value)}, and neither builds on the other",
            related=[Related(first_leaf.span, f"set by template `{first.name.text}`"),
                     Related(second_leaf.span, f"set by template `{second.name.text}`")],
            notes=(f"set `{dotted}` in {user} itself, or in a template that uses both",),
        ))

    def _report(self, found) -> Winners:
        winners, conflicts = found
        for conflict in conflicts:
            if conflict.key not in self._reported:
                self._reported.add(conflict.key)
                self.checker.diagnostics.append(conflict.diagnostic(""))
        return winners


def touches_values(body: ast.Body, field_name: str) -> bool:
    """Whether a body assigns anything under the top-level field `field_name` (an app's `values`)."""
    return any(stmt.path.keys[0].text == field_name for stmt in body.stmts if isinstance(stmt, (ast.Assign, ast.Block)))


def _a(kind: str) -> str:
    return ("an " if kind[0] in "aeiou" else "a ") + kind
