"""Resolve pass: syntax trees -> declarations by name, per module and fleet-wide.

Input: the loaded `Program`. Output: a `Resolution`:
- `module_symbols[module][name]`: the types, schemas and lets a module declares;
- `file_imports[file][alias]`: the module an import alias names, per file;
- `resources[kind][name]`: the fleet-wide declarations (app, env, cluster,
  overlay, source, registry, receiver, provider, alert, automation);
- `singletons[kind]` (`delivery`) and `labels`: the declarations a fleet has at most once;
- `templates[name]`, `defaults[kind]` (in file order), `narrowings` and `comprehensions` (the
  `for` declarations, in file order): the abstraction declarations, fleet-wide;
- `symbol_module` and `decl_file`: the module and the file of each declaration (by
  `id(decl)`); `package`: the package name of the root module.

Diagnostics: duplicate declarations (E0202, naming both places), conflicting
package names in one module (E0205), import cycles (E0204), resource names that
are not DNS labels (E0207), and declarations missing or having a name (E0206).
Names used inside expressions and types are resolved by the type checker,
which knows what kind of thing is expected.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field

from gop.compiler.syntax import ast
from gop.compiler.diagnostics import Diagnostic, Related, diagnostic
from gop.compiler.semantic.loader import Program
from gop.compiler.diagnostics import codes
from gop.compiler.language import NAMED_KINDS, SELECTOR_KINDS, SINGLETON_KINDS

DNS_LABEL = re.compile(r"^[a-z0-9]([-a-z0-9]*[a-z0-9])?$")


@dataclass(slots=True)
class Resolution:
    module_symbols: dict[str, dict[str, ast.TypeDecl | ast.SchemaDecl | ast.LetDecl]] = field(default_factory=dict)
    symbol_module: dict[int, str] = field(default_factory=dict)  # id(decl) -> module key
    file_imports: dict[str, dict[str, str]] = field(default_factory=dict)
    resources: dict[str, dict[str, ast.ResourceDecl]] = field(default_factory=dict)
    singletons: dict[str, ast.ResourceDecl] = field(default_factory=dict)
    labels: ast.LabelsDecl | None = None
    templates: dict[str, ast.TemplateDecl] = field(default_factory=dict)
    defaults: dict[str, list[ast.DefaultsDecl]] = field(default_factory=dict)  # unit kind -> blocks
    narrowings: list[ast.NarrowDecl] = field(default_factory=list)
    comprehensions: list[ast.ForDecl] = field(default_factory=list)
    package: str = "main"
    decl_file: dict[int, str] = field(default_factory=dict)  # id(decl) -> file


def resolve(program: Program) -> tuple[Resolution, list[Diagnostic]]:
    resolver = _Resolver(program)
    resolver.run()
    return resolver.resolution, resolver.diagnostics


class _Resolver:
    def __init__(self, program: Program) -> None:
        self.program = program
        self.resolution = Resolution(resources={kind: {} for kind in NAMED_KINDS})
        self.diagnostics: list[Diagnostic] = []

    def run(self) -> None:
        for module in self.program.modules.values():
            self._module(module.key, module.files)
        self._import_cycles()
        root_packages = [
            self.program.files[f].package.name.text for f in self.program.roots if self.program.files[f].package
        ]
        if root_packages:
            self.resolution.package = root_packages[0]

    def _module(self, key: str, files: list[str]) -> None:
        symbols = self.resolution.module_symbols.setdefault(key, {})
        package: ast.PackageDecl | None = None
        for path in files:
            tree = self.program.files[path]
            imports = self.resolution.file_imports.setdefault(path, {})
            for decl in tree.decls:
                self.resolution.decl_file[id(decl)] = path
                if isinstance(decl, ast.PackageDecl):
                    package = self._package(decl, package)
                elif isinstance(decl, ast.ImportDecl):
                    self._import(decl, imports)
                elif isinstance(decl, (ast.TypeDecl, ast.SchemaDecl, ast.LetDecl)):
                    self._declare(symbols, decl.name, decl, "name")
                    self.resolution.symbol_module[id(decl)] = key
                elif isinstance(decl, ast.LabelsDecl):
                    self._singleton_labels(decl)
                elif isinstance(decl, ast.ResourceDecl):
                    self._resource(decl)
                elif isinstance(decl, ast.TemplateDecl):
                    self._declare(self.resolution.templates, decl.name, decl, "template")
                elif isinstance(decl, ast.DefaultsDecl):
                    self.resolution.defaults.setdefault(decl.kind, []).append(decl)
                elif isinstance(decl, ast.NarrowDecl):
                    self.resolution.narrowings.append(decl)
                elif isinstance(decl, ast.ForDecl):
                    self.resolution.comprehensions.append(decl)

    def _package(self, decl: ast.PackageDecl, first: ast.PackageDecl | None) -> ast.PackageDecl:
        if first is not None and first.name.text != decl.name.text:
            self.diagnostics.append(
                diagnostic(
                    codes.PACKAGE_NAME_DIFFERS, decl.name.span,
                    f"package `{decl.name.text}` differs from package `{first.name.text}` of the same directory",
                    related=[Related(first.name.span, "the other package clause")],
                    notes=("all .gop files in one directory form one module and must name the same package",),
                )
            )
            return first
        return first or decl

    def _import(self, decl: ast.ImportDecl, imports: dict[str, str]) -> None:
        target = self.program.imports.get(id(decl))
        if target is None:
            return  # the loader reported it
        alias = decl.alias.text if decl.alias else self.program.package_of(target)
        if alias in imports:
            self.diagnostics.append(diagnostic(codes.DUPLICATE_DECLARATION, (decl.alias or decl.path).span, f"`{alias}` is imported twice in this file"))
            return
        imports[alias] = target

    def _declare(self, table: dict, name: ast.Name, decl, what: str) -> bool:
        previous = table.get(name.text)
        if previous is not None:
            self.diagnostics.append(
                diagnostic(
                    codes.DUPLICATE_DECLARATION, name.span, f"`{name.text}` is declared twice",
                    related=[Related(_name_span(previous), "first declared here")],
                )
            )
            return False
        table[name.text] = decl
        return True

    def _singleton_labels(self, decl: ast.LabelsDecl) -> None:
        if self.resolution.labels is not None:
            self.diagnostics.append(
                diagnostic(codes.DUPLICATE_DECLARATION, decl.span, "the cluster labels are declared twice",
                           related=[Related(self.resolution.labels.span, "first declared here")])
            )
            return
        self.resolution.labels = decl

    def _resource(self, decl: ast.ResourceDecl) -> None:
        if decl.kind in SINGLETON_KINDS:
            if decl.name is not None:
                self.diagnostics.append(diagnostic(codes.MISPLACED_STATEMENT, decl.name.span, f"`{decl.kind}` takes no name"))
            if decl.selector is not None:
                self.diagnostics.append(diagnostic(codes.MISPLACED_STATEMENT, decl.selector.span, f"`{decl.kind}` takes no `where` selector"))
            previous = self.resolution.singletons.get(decl.kind)
            if previous is not None:
                self.diagnostics.append(
                    diagnostic(codes.DUPLICATE_DECLARATION, decl.span, f"`{decl.kind}` is declared twice",
                               related=[Related(previous.span, "first declared here")])
                )
                return
            self.resolution.singletons[decl.kind] = decl
            return
        if decl.name is None:
            self.diagnostics.append(diagnostic(codes.MISPLACED_STATEMENT, decl.span, f"`{decl.kind}` needs a name, e.g. `{decl.kind} web {{ ... }}`"))
            return
        if decl.selector is not None and decl.kind not in SELECTOR_KINDS:
            self.diagnostics.append(
                diagnostic(codes.MISPLACED_STATEMENT, decl.selector.span, f"`{decl.kind}` takes no `where` selector",
                           notes=(f"selectors place {', '.join(k + 's' for k in SELECTOR_KINDS[:-1])} and {SELECTOR_KINDS[-1]}s on clusters",))
            )
        if not DNS_LABEL.match(decl.name.text) or len(decl.name.text) > 63:
            self.diagnostics.append(
                diagnostic(
                    codes.INVALID_RESOURCE_NAME, decl.name.span,
                    f"`{decl.name.text}` is not a valid Kubernetes name",
                    notes=("names of apps, clusters and other resources become Kubernetes object names: "
                           "lower-case letters, digits and `-`, starting and ending with a letter or digit, at most 63 characters",),
                )
            )
        self._declare(self.resolution.resources[decl.kind], decl.name, decl, decl.kind)

    def _import_cycles(self) -> None:
        edges: dict[str, list[tuple[str, ast.ImportDecl]]] = {}
        for path, tree in self.program.files.items():
            source = self.program.module_of[path]
            for decl in tree.imports:
                target = self.program.imports.get(id(decl))
                if target is not None:
                    edges.setdefault(source, []).append((target, decl))
        reported: set[frozenset[str]] = set()
        for start in sorted(edges):
            self._find_cycle(start, edges, [start], reported)

    def _find_cycle(self, node: str, edges, trail: list[str], reported: set) -> None:
        for target, decl in edges.get(node, []):
            if target in trail:
                cycle = trail[trail.index(target):] + [target]
                key = frozenset(cycle)
                if key not in reported:
                    reported.add(key)
                    self.diagnostics.append(
                        diagnostic(codes.IMPORT_CYCLE, decl.span, "import cycle: " + " -> ".join(cycle),
                                   notes=("move the shared declarations into a module that both can import",))
                    )
                continue
            if len(trail) < 50:
                self._find_cycle(target, edges, trail + [target], reported)


def _name_span(decl):
    name = getattr(decl, "name", None)
    return name.span if name is not None else decl.span
