"""The VS Code extension in editors/vscode, checked with the real tools of its npm dev dependencies.

- vscode-tmgrammar-test runs the grammar tests in editors/vscode/tests/*.gop;
- vscode-textmate (the engine VS Code highlights with, via editors/vscode/tests/tokenize.js)
  tokenizes every .gop file of the repository;
- vsce builds the .vsix, into a temporary directory so that nothing lands in the work tree, and
  node loads the runtime dependencies from the unpacked package as VS Code would.

`make -C editors/vscode install` runs `npm ci` once (again only when package-lock.json changes).
A missing node or npm is an error, never a skip: CI must not go green without these checks.
"""

from __future__ import annotations

import fcntl
import hashlib
import json
import re
import shutil
import subprocess
import tempfile
import zipfile
from pathlib import Path

import pytest

from gop.compiler.language import RESOURCE_KINDS

REPO_ROOT = Path(__file__).resolve().parents[1]
EXTENSION = REPO_ROOT / "editors" / "vscode"
GRAMMAR_TESTS = sorted((EXTENSION / "tests").glob("*.gop"))
DECLARATION_KEYWORDS = ("package", "import", "type", "schema", "labels", "let", "template", "defaults", "narrow", "for") + RESOURCE_KINDS

# Every token class the grammar promises, each asserted somewhere in the grammar tests.
TOKEN_CLASSES = (
    "comment.line.double-slash.gop", "comment.line.documentation.gop",
    "string.quoted.double.gop", "string.quoted.triple.gop", "constant.character.escape.gop",
    "meta.interpolation.gop", "punctuation.section.interpolation.begin.gop", "meta.embedded.line.gop",
    "constant.numeric.integer.gop", "constant.numeric.float.gop", "constant.numeric.unit.gop",
    "keyword.other.unit.gop", "constant.language.boolean.gop",
    "keyword.other.package.gop", "keyword.control.import.gop", "storage.type.type.gop", "storage.type.schema.gop",
    "storage.type.labels.gop", "storage.type.let.gop", "storage.type.resource.gop",
    "keyword.other.where.gop", "keyword.other.all.gop",
    "keyword.operator.comparison.gop", "keyword.operator.in.gop", "keyword.operator.not-in.gop",
    "keyword.operator.exists.gop", "keyword.operator.logical.gop",
    "support.type.builtin.gop", "entity.name.type.gop", "entity.name.namespace.gop", "entity.name.variable.gop",
    "entity.name.variable.resource.gop", "variable.other.property.gop", "variable.other.label.gop",
    "support.function.builtin.gop", "entity.name.function.gop", "variable.parameter.gop",
    "storage.type.template.gop", "storage.type.defaults.gop", "storage.type.narrow.gop", "entity.name.type.template.gop",
    "keyword.other.for.gop", "keyword.other.uses.gop", "keyword.control.for.gop", "keyword.control.in.gop",
    "variable.parameter.loop.gop", "keyword.operator.fallback.gop",
)
BUILTIN_TYPES = ("int", "float", "bool", "string", "duration", "quantity", "secret", "any", "list", "map")


def _run(args: list[str], timeout: float, cwd: Path = EXTENSION) -> subprocess.CompletedProcess:
    return subprocess.run(args, cwd=cwd, capture_output=True, text=True, timeout=timeout, stdin=subprocess.DEVNULL)


def _make(*targets: str, timeout: float = 120) -> subprocess.CompletedProcess:
    return _run(["make", "--no-print-directory", "-C", str(EXTENSION), *targets], timeout)


@pytest.fixture(scope="module")
def npm_packages() -> Path:
    """editors/vscode/node_modules, installed by `make install`; a lock keeps xdist workers from racing."""
    for tool in ("node", "npm", "make"):
        if shutil.which(tool) is None:
            pytest.fail(f"{tool} is not on PATH; the VS Code extension tests need it (`make system-deps` installs npm)")
    lock_path = Path(tempfile.gettempdir()) / f"gop-vscode-install-{hashlib.sha256(bytes(EXTENSION)).hexdigest()[:16]}.lock"
    with open(lock_path, "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        result = _make("install", timeout=900)
    assert result.returncode == 0, f"make install failed:\n{result.stdout}\n{result.stderr}"
    return EXTENSION / "node_modules"


def _asserted_scopes(test_file: Path) -> set[str]:
    scopes: set[str] = set()
    for line in test_file.read_text().splitlines():
        assertion = re.match(r"^\s*//\s*(?:<-+|<~+-+|\^+)\s*(.*)$", line)
        if assertion:
            required = assertion.group(1).split(" - ")[0]
            scopes.update(required.split())
    return scopes


def _tokenize(paths: list[Path]) -> list[dict]:
    result = _run(["node", "tests/tokenize.js", *map(str, paths)], timeout=120)
    assert result.returncode == 0, result.stderr
    return json.loads(result.stdout)


def test_grammar_tests_pass(npm_packages: Path) -> None:
    assert len(GRAMMAR_TESTS) >= 7, GRAMMAR_TESTS
    result = _make("test-grammar")
    output = result.stdout + result.stderr
    assert result.returncode == 0, output
    for test_file in GRAMMAR_TESTS:
        assert f"✓ tests/{test_file.name} run successfuly" in output, output


def test_the_extension_finds_gopc_in_the_workspace_venv_and_on_path() -> None:
    """`make test-unit`: locate.js, which resolves gop.server.command's program (tests/locate.test.js)."""
    result = _make("test-unit", timeout=120)
    assert result.returncode == 0, result.stdout + result.stderr
    assert "# pass 5" in result.stdout and "# fail 0" in result.stdout


def test_grammar_tests_fail_on_a_wrong_scope(npm_packages: Path, tmp_path: Path) -> None:
    source = (EXTENSION / "tests" / "numbers.gop").read_text()
    broken = tmp_path / "broken.gop"
    broken.write_text(source.replace("constant.numeric.float.gop", "constant.numeric.integer.gop", 1))
    result = _run([str(npm_packages / ".bin" / "vscode-tmgrammar-test"), "--grammar",
                   "syntaxes/gop.tmLanguage.json", str(broken)], timeout=120)
    assert result.returncode != 0, result.stdout
    assert "missing required scopes: constant.numeric.integer.gop" in result.stdout


def test_grammar_tests_cover_every_token_class() -> None:
    asserted = set().union(*map(_asserted_scopes, GRAMMAR_TESTS))
    assert sorted(set(TOKEN_CLASSES) - asserted) == []
    types_test = (EXTENSION / "tests" / "types.gop").read_text()
    for builtin in BUILTIN_TYPES:
        assert re.search(rf"\b{builtin}\b", types_test), builtin


def test_repository_sources_tokenize_cleanly(npm_packages: Path) -> None:
    sources = sorted({*REPO_ROOT.glob("examples/**/*.gop"), *REPO_ROOT.glob("stdlib/**/*.gop")})
    assert sources, "no .gop sources found in examples/ and stdlib/"
    problems = []
    for tokenized in _tokenize(sources):
        name = Path(tokenized["file"]).relative_to(REPO_ROOT)
        if tokenized["endDepth"] != 1:
            problems.append(f"{name}: a region is still open at the end (rule stack depth {tokenized['endDepth']})")
        for number, tokens in enumerate(tokenized["lines"], 1):
            problems.extend(f"{name}:{number}: {problem}" for problem in _line_problems(tokens))
    assert problems == []


def _line_problems(tokens: list[dict]) -> list[str]:
    """What is wrong with the scopes of one line of a well-formed, conventionally indented file."""
    problems = [f"{token['text']!r} is marked invalid: {token['scopes']}"
                for token in tokens if any(scope.startswith("invalid.") for scope in token["scopes"])]
    text = "".join(token["text"] for token in tokens)
    words = [token for token in tokens if token["text"].strip()]
    if not words or any(scope.startswith("string.quoted.triple") for scope in words[0]["scopes"]):
        return problems
    first = words[0]
    if re.match(rf"({'|'.join(DECLARATION_KEYWORDS)})(\s|{{|$)", text):  # top level: column 0
        if not first["scopes"][-1].startswith(("keyword.", "storage.type.")):
            problems.append(f"declaration keyword {first['text']!r} has {first['scopes']}")
    elif re.match(r"\s+[A-Za-z_][-\w]*(\s*\.\s*[A-Za-z_][-\w]*)*\s*(=(?!=)|\??:)", text):  # a field
        # ... or an argument of a refinement laid out one per line (`  len: 1..63,`)
        argument = "meta.refinement.gop" in first["scopes"] and first["scopes"][-1] == "variable.parameter.gop"
        if first["scopes"][-1] != "variable.other.property.gop" and not argument:
            problems.append(f"field name {first['text']!r} has {first['scopes']}")
    return problems


def test_package_contains_the_extension_and_its_runtime_dependencies(npm_packages: Path, tmp_path: Path) -> None:
    vsix = tmp_path / "gop.vsix"
    result = _make("package", f"VSIX={vsix}", timeout=300)
    assert result.returncode == 0, f"{result.stdout}\n{result.stderr}"
    assert zipfile.is_zipfile(vsix)
    with zipfile.ZipFile(vsix) as archive:
        names = set(archive.namelist())
        archive.extractall(tmp_path / "unpacked")
    extension = tmp_path / "unpacked" / "extension"
    manifest = json.loads((extension / "package.json").read_text())
    contributed = [manifest["main"], *(grammar["path"] for grammar in manifest["contributes"]["grammars"]),
                   *(language["configuration"] for language in manifest["contributes"]["languages"])]
    for relative in ["extension.js", "locate.js", "syntaxes/gop.tmLanguage.json", "package.json",
                     "node_modules/vscode-languageclient/package.json", *contributed]:
        assert "extension/" + str(Path(relative)) in names, relative
    for excluded in ("node_modules/@vscode/vsce/", "node_modules/vscode-tmgrammar-test/", "tests/", "Makefile"):
        assert not any(name.startswith("extension/" + excluded) for name in names), excluded

    checked = _run(["node", "--check", str(extension / "extension.js")], timeout=60)
    assert checked.returncode == 0, checked.stderr
    # Loads what vscode-languageclient/node requires at run time, from the unpacked package only
    # (only `vscode` itself is missing outside VS Code).
    load = (
        "const { createRequire } = require('module');"
        "const client = createRequire(require.resolve('./node_modules/vscode-languageclient/package.json'));"
        "const deps = Object.keys(client('./package.json').dependencies);"
        "deps.forEach((dep) => client(dep));"
        "client('vscode-languageserver-protocol/node');"
        "console.log(deps.join(' '));"
    )
    loaded = _run(["node", "-e", load], timeout=60, cwd=extension)
    assert loaded.returncode == 0, loaded.stderr
    assert "vscode-languageserver-protocol" in loaded.stdout.split()
