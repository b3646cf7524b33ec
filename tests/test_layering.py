"""The import layering of gop.compiler and gop.lsp (docs/architecture.md draws it).

Each package has a layer; a module imports only modules of its own layer or lower ones, so the
passes stay a pipeline: analysis never reaches for lowering, lowering never for a command, the
language server never for the CLI. The module import graph (lazy imports inside functions
included) has no cycle, and the language server uses no `_private` compiler name.
"""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

import gop.compiler
import gop.lsp

COMPILER_DIR = Path(gop.compiler.__file__).parent
LSP_DIR = Path(gop.lsp.__file__).parent

# Lowest first. A module's layer is that of the longest prefix of its name listed here.
LAYERS = [
    ("gop.compiler.core", "gop.compiler.language", "gop.compiler"),
    ("gop.compiler.diagnostics",),
    ("gop.compiler.syntax",),
    ("gop.compiler.semantic",),
    ("gop.compiler.values",),  # plain() knows the semantic value types (Duration, Quantity, references)
    ("gop.compiler.fleet",),
    ("gop.compiler.emit",),
    ("gop.compiler.lower",),
    ("gop.compiler.session",),
    ("gop.compiler.commands", "gop.lsp"),
    ("gop.compiler.cli",),
]


def layer_of(module: str) -> int:
    best, best_length = None, -1
    for layer, prefixes in enumerate(LAYERS):
        for prefix in prefixes:
            if (module == prefix or module.startswith(prefix + ".")) and len(prefix) > best_length:
                best, best_length = layer, len(prefix)
    assert best is not None, f"{module} has no layer: add its package to LAYERS"
    return best


def _modules() -> dict[str, Path]:
    found = {}
    for package, directory in (("gop.compiler", COMPILER_DIR), ("gop.lsp", LSP_DIR)):
        for path in sorted(directory.rglob("*.py")):
            parts = list(path.relative_to(directory).with_suffix("").parts)
            if parts[-1] == "__init__":
                parts.pop()
            found[".".join([package, *parts])] = path
    return found


MODULES = _modules()


def _imports(module: str, path: Path) -> list[tuple[str, str, int]]:
    """(imported module, imported name or "", line) for every import of gop code in the module."""
    package = module if path.name == "__init__.py" else module.rpartition(".")[0]
    found = []
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Import):
            found += [(alias.name, "", node.lineno) for alias in node.names if alias.name.startswith("gop.")]
        elif isinstance(node, ast.ImportFrom):
            source = node.module or ""
            if node.level:
                base = package.split(".")[: len(package.split(".")) - node.level + 1]
                source = ".".join(base + ([node.module] if node.module else []))
            if not source.startswith("gop."):
                continue
            for alias in node.names:
                submodule = f"{source}.{alias.name}"
                found.append((submodule, "", node.lineno) if submodule in MODULES else (source, alias.name, node.lineno))
    return found


GRAPH = {module: _imports(module, path) for module, path in MODULES.items()}


def test_every_module_has_a_layer():
    assert "gop.compiler.semantic.check" in MODULES  # the walks themselves work
    assert "gop.compiler.syntax.parser" in {target for target, _, _ in GRAPH["gop.compiler.semantic.loader"]}
    assert layer_of("gop.compiler.cli") > layer_of("gop.lsp.server") > layer_of("gop.compiler.session")
    for module in MODULES:
        layer_of(module)


@pytest.mark.parametrize("module", sorted(MODULES))
def test_imports_go_down_the_layers(module):
    upward = [f"line {line}: {target}" for target, _, line in GRAPH[module]
              if target in MODULES and layer_of(target) > layer_of(module)]
    assert upward == [], f"{module} (layer {layer_of(module)}) imports a higher layer"


def test_no_import_cycles():
    edges = {module: sorted({target for target, _, _ in imports if target in MODULES and target != module})
             for module, imports in GRAPH.items()}
    cycles = [component for component in _strongly_connected(edges) if len(component) > 1]
    assert cycles == []


def test_the_language_server_uses_no_private_compiler_name():
    private = [(module, f"{target}.{name}", line) for module, imports in GRAPH.items() if module.startswith("gop.lsp")
               for target, name, line in imports
               if target.startswith("gop.compiler") and (name.startswith("_") or target.rpartition(".")[2].startswith("_"))]
    assert private == []


def test_the_cycle_finder_finds_cycles():
    edges = {"a": ["b"], "b": ["c"], "c": ["a"], "d": ["a"]}
    assert sorted(_strongly_connected(edges)) == [["a", "b", "c"], ["d"]]


def _strongly_connected(edges: dict[str, list[str]]) -> list[list[str]]:
    """Tarjan's algorithm, iterative (the graph is small, but recursion limits are not ours to rely on)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    components = []
    for root in edges:
        if root in index:
            continue
        work = [(root, iter(edges[root]))]
        index[root] = low[root] = len(index)
        stack.append(root)
        on_stack.add(root)
        while work:
            node, children = work[-1]
            child = next(children, None)
            if child is None:
                work.pop()
                if work:
                    low[work[-1][0]] = min(low[work[-1][0]], low[node])
                if low[node] == index[node]:
                    component = []
                    while True:
                        member = stack.pop()
                        on_stack.discard(member)
                        component.append(member)
                        if member == node:
                            break
                    components.append(sorted(component))
            elif child not in index:
                index[child] = low[child] = len(index)
                stack.append(child)
                on_stack.add(child)
                work.append((child, iter(edges[child])))
            elif child in on_stack:
                low[node] = min(low[node], index[child])
    return components
