"""examples/fleet40: 40 alike services in 40 lines plus one per service, building to the same tree as the
same fleet written longhand (tests/fixtures/fleet40-handwritten), which the real tools accept.

- size: the example's lines of code (neither blank nor comment-only) are at most 40 plus one per
  service, and each service is one row of the `services` table;
- both programs check clean and are formatted (`gopc fmt --check`);
- `gopc build` of both writes the same files, byte for byte;
- the tree is what the fleet means: 40 charts, the China clusters' releases pull from the mirror,
  the others from ghcr.io; `kubectl kustomize` builds each cluster's apps and every object passes
  the Flux schemas or kubernetes-validate strict; `helm lint --strict` accepts a chart.
"""

from __future__ import annotations

import hashlib
import subprocess
import sys
from pathlib import Path

import pytest

import realtools as rt
from gop.compiler.syntax import ast
from gop.compiler.syntax.parser import parse

GOPC = Path(sys.executable).with_name("gopc")
EXAMPLE = rt.REPO_ROOT / "examples" / "fleet40"
HANDWRITTEN = rt.REPO_ROOT / "tests" / "fixtures" / "fleet40-handwritten"
CLUSTERS = ("dev-cn", "dev-us", "prod-cn", "prod-us", "staging-cn", "staging-us")


def gopc(*args) -> subprocess.CompletedProcess:
    done = subprocess.run([str(GOPC), *map(str, args)], capture_output=True, text=True, timeout=600,
                          env={**rt.tool_env(), "GOPC_HELM": str(rt.helm_bin())}, stdin=subprocess.DEVNULL)
    assert done.returncode == 0 and "Traceback" not in done.stderr, done.stdout + done.stderr
    return done


def lines_of_code(path: Path) -> int:
    return sum(1 for line in path.read_text().splitlines() if line.strip() and not line.strip().startswith("//"))


def services_table(path: Path) -> ast.MapLit:
    tree = parse(str(path), path.read_text()).file
    [table] = [d.value for d in tree.decls if isinstance(d, ast.LetDecl) and d.name.text == "services"]
    return table


def test_the_example_is_40_lines_plus_one_per_service():
    [source] = sorted(EXAMPLE.glob("*.gop"))
    rows = services_table(source).body.stmts
    assert len(rows) == 40
    assert len({source.read_text().splitlines()[_line(source, row)] for row in rows}) == 40  # one line each
    assert lines_of_code(source) <= 40 + len(rows)
    assert lines_of_code(HANDWRITTEN / "fleet.gop") > 5 * len(rows)  # what the example saves


def _line(path: Path, node) -> int:
    return path.read_text().count("\n", 0, node.span.start)


@pytest.mark.parametrize("program", [EXAMPLE, HANDWRITTEN], ids=["example", "handwritten"])
def test_checks_clean_and_is_formatted(program):
    assert gopc("check", program).stdout.strip() == ""
    gopc("fmt", "--check", program)


def digests(tree: Path) -> dict[str, str]:
    return {path.relative_to(tree).as_posix(): hashlib.sha256(path.read_bytes()).hexdigest()
            for path in sorted(tree.rglob("*")) if path.is_file()}


@pytest.fixture(scope="module")
def trees(tmp_path_factory) -> tuple[Path, Path]:
    root = tmp_path_factory.mktemp("fleet40")
    gopc("build", EXAMPLE, "-o", root / "example")
    gopc("build", HANDWRITTEN, "-o", root / "handwritten")
    return root / "example", root / "handwritten"


def test_the_example_and_its_handwritten_twin_build_the_same_tree(trees):
    example, handwritten = trees
    assert digests(example) == digests(handwritten)
    assert len([p for p in (example / "charts").iterdir() if p.is_dir()]) == 40


def test_china_pulls_from_the_mirror_and_every_object_passes_the_real_tools(trees):
    example, _ = trees
    for cluster in CLUSTERS:
        docs = rt.kubectl_kustomize(example / "clusters" / cluster / "apps")
        rt.validate_manifests(docs)
        releases = {d["metadata"]["name"]: d for d in docs if d["kind"] == "HelmRelease"}
        assert len(releases) == 40
        expected = "mirror.cn-north-1.example.cn/acme/cart" if cluster.endswith("-cn") else None
        assert releases["cart"]["spec"].get("values", {}).get("image", {}).get("repository") == expected, cluster
    assert "repository: ghcr.io/acme/cart" in (example / "charts" / "cart" / "values.yaml").read_text()
    rt.helm_lint_strict(example / "charts" / "cart")
