"""The examples of README.md and docs/*.md do what the text says they do.

The README's taste example builds; its Neovim snippet, used as written as Neovim 0.7's
init.lua, attaches `gopc lsp` to .gop buffers (tests/nvim/readme_snippet.lua drives it); and
docs/helm.md quotes helm's own words for a value its chart's schema refuses. Every field of a
prelude schema is named in docs/language.md or the page of its area.

Every ```gop block is a program that `gopc check` accepts and that is in `gopc fmt` layout,
unless a ```text block right after it shows the diagnostics it gives: then `gopc check`
prints exactly those first lines (`example.gop:LINE:COL: error[CODE]: message`), in that
order. A block whose first line is `// file: PATH` is one file of a program made of all such
blocks of its page, checked together from one directory. A block with a syntax error (E01xx)
is not laid out (fmt refuses what does not parse).
"""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
from dataclasses import dataclass
from pathlib import Path

import helm_fixtures as fx
import pytest
import realtools
from test_nvim import gopc_executable

from gop.compiler import cli

REPO = Path(__file__).resolve().parent.parent
NVIM_SCRIPT = Path(__file__).parent / "nvim" / "readme_snippet.lua"
BROKEN = 'app web {\n  image { repository = "ghcr.io/acme/web", tag = "1.0" }\n  replicas = "three"\n}\n'
PAGES = [REPO / "README.md", *sorted((REPO / "docs").glob("*.md"))]
EXAMPLE_FILE = "example.gop"

_FENCE = re.compile(r"^```(?P<info>\S*)(?P<rest>[^\n]*)\n(?P<body>.*?)^```[ \t]*$", re.M | re.S)
# A ```gop excerpt block shows lines of a bundled example (which its own tests check), not a
# program of its own: the page names the example's directory, and every line is one of its lines.
_EXCERPT = "excerpt"
_EXAMPLE_LINK = re.compile(r"\]\((?:\.\./)*(examples/[\w-]+)/?\)")
_DIAGNOSTIC = re.compile(r"^\S+\.gop:\d+:\d+: (?:error|warning)\[[EW]\d{4}\]: .*$", re.M)
_FILE_HEADER = re.compile(r"^// file: (?P<path>\S+)\n")


@dataclass(frozen=True)
class Example:
    page: Path
    line: int
    text: str
    expected: tuple[str, ...]  # the diagnostics the text after it shows

    @property
    def name(self) -> str:
        return f"{self.page.name}:{self.line}"

    @property
    def file(self) -> str | None:
        header = _FILE_HEADER.match(self.text)
        return header["path"] if header else None


def examples(page: Path) -> list[Example]:
    text = page.read_text(encoding="utf-8")
    fences = list(_FENCE.finditer(text))
    found = []
    for index, fence in enumerate(fences):
        if fence["info"] != "gop" or fence["rest"].strip() == _EXCERPT:
            continue
        following = fences[index + 1] if index + 1 < len(fences) else None
        shown: tuple[str, ...] = ()
        if following is not None and following["info"] == "text" and not text[fence.end():following.start()].strip():
            shown = tuple(_DIAGNOSTIC.findall(following["body"]))
        found.append(Example(page, text.count("\n", 0, fence.start()) + 1, fence["body"], shown))
    return found


EXAMPLES = [example for page in PAGES for example in examples(page)]
EXCERPT_PAGES = [page for page in PAGES if f"```gop {_EXCERPT}" in page.read_text(encoding="utf-8")]


@pytest.mark.parametrize("page", EXCERPT_PAGES, ids=lambda page: page.name)
def test_excerpts_are_lines_of_the_example_the_page_names(page):
    text = page.read_text(encoding="utf-8")
    directories = set(_EXAMPLE_LINK.findall(text))
    assert len(directories) == 1, f"{page.name} must link the one example its excerpts come from: {directories}"
    source = {line.strip() for path in (REPO / directories.pop()).rglob("*.gop")
              for line in path.read_text(encoding="utf-8").splitlines()}
    excerpts = [fence["body"] for fence in _FENCE.finditer(text) if fence["info"] == "gop" and fence["rest"].strip() == _EXCERPT]
    assert excerpts
    for body in excerpts:
        missing = [line for line in body.splitlines() if line.strip() and line.strip() not in source]
        assert not missing, f"{page.name}: not lines of the example: {missing}"
SINGLE = [example for example in EXAMPLES if example.file is None]
MULTI_FILE = sorted({example.page for example in EXAMPLES if example.file is not None})


def gopc(args: list[str], capsys) -> tuple[int, str]:
    capsys.readouterr()
    code = cli.main(args)
    captured = capsys.readouterr()
    return code, captured.out + captured.err


def shown_diagnostics(output: str) -> list[str]:
    return _DIAGNOSTIC.findall(output)


def test_the_pages_have_examples():
    # The parser of this file finds them (a change of fence style must not make this test empty).
    assert len(SINGLE) >= 25 and MULTI_FILE and any(example.expected for example in SINGLE)


@pytest.mark.parametrize("example", SINGLE, ids=lambda example: example.name)
def test_example_checks_as_the_text_says(example: Example, tmp_path: Path, monkeypatch, capsys):
    (tmp_path / EXAMPLE_FILE).write_text(example.text, encoding="utf-8")
    monkeypatch.chdir(tmp_path)
    code, output = gopc(["check", EXAMPLE_FILE], capsys)
    assert shown_diagnostics(output) == list(example.expected), output
    assert code == (1 if any("error[" in line for line in example.expected) else 0), output
    if not any(re.search(r"\[E01\d\d\]", line) for line in example.expected):
        code, output = gopc(["fmt", "--diff", EXAMPLE_FILE], capsys)
        assert code == 0 and not output.strip(), f"not in `gopc fmt` layout:\n{output}"


@pytest.mark.parametrize("page", MULTI_FILE, ids=lambda page: page.name)
def test_multi_file_example_checks_clean(page: Path, tmp_path: Path, monkeypatch, capsys):
    for example in examples(page):
        if example.file is not None:
            assert not example.expected, f"{example.name}: a multi-file example is expected to be clean"
            path = tmp_path / example.file
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_text(example.text, encoding="utf-8")
    monkeypatch.chdir(tmp_path)
    code, output = gopc(["check", "."], capsys)
    assert code == 0 and not shown_diagnostics(output), output
    code, output = gopc(["fmt", "--diff", "."], capsys)
    assert code == 0 and not output.strip(), f"not in `gopc fmt` layout:\n{output}"


def readme_neovim_snippet() -> str:
    (snippet,) = [fence["body"] for fence in _FENCE.finditer((REPO / "README.md").read_text(encoding="utf-8"))
                  if fence["info"] == "lua"]
    return snippet


def test_the_readme_taste_builds(tmp_path: Path, monkeypatch, capsys):
    taste = examples(REPO / "README.md")[0]
    (tmp_path / EXAMPLE_FILE).write_text(taste.text, encoding="utf-8")
    monkeypatch.chdir(tmp_path)
    code, output = gopc(["build", EXAMPLE_FILE, "-o", "out"], capsys)
    assert code == 0 and (tmp_path / "out" / "clusters" / "prod-cn-1").is_dir(), output


def test_the_readme_neovim_snippet_attaches_gopc_to_gop_buffers(tmp_path: Path):
    nvim = shutil.which("nvim")
    assert nvim, "Neovim is missing (make system-deps installs it)"
    config = tmp_path / "config" / "nvim"
    config.mkdir(parents=True)
    (config / "init.lua").write_text(readme_neovim_snippet(), encoding="utf-8")
    work = tmp_path / "work"
    work.mkdir()
    (work / "broken.gop").write_text(BROKEN, encoding="utf-8")
    (work / "other.gop").write_text("", encoding="utf-8")
    out = tmp_path / "result.json"
    # The snippet runs `gopc` from PATH, as a user's shell would.
    path = os.pathsep.join([str(Path(gopc_executable()).parent), os.environ.get("PATH", "")])
    env = dict(os.environ, PATH=path, GOP_OUT=str(out), XDG_CONFIG_HOME=str(tmp_path / "config"),
               XDG_DATA_HOME=str(tmp_path / "data"), XDG_STATE_HOME=str(tmp_path / "state"),
               XDG_CACHE_HOME=str(tmp_path / "cache"))
    subprocess.run([nvim, "--headless", "-n", "broken.gop", "-c", f"luafile {NVIM_SCRIPT}"], env=env, cwd=work,
                   stdin=subprocess.DEVNULL, capture_output=True, timeout=180)
    assert out.exists(), "Neovim wrote no result"
    result = json.loads(out.read_text())
    assert result["attached"], "no language client attached to a .gop buffer"
    assert result["diagnostics"] == [{"line": 2, "column": 13, "code": "E0301",
                                      "message": '`replicas`: expected an `int(0..1000)`, found "three"'}]
    assert result["second_clients"] == result["first_clients"], "every .gop buffer shares the one server"


def test_helm_page_quotes_what_helm_prints_for_a_value_out_of_range(tmp_path: Path):
    (quoted,) = re.findall(r"`(at '/replicas': [^`]*)`", (REPO / "docs" / "helm.md").read_text(encoding="utf-8"))
    chart = fx.write_chart(fx.shop_web(), tmp_path)
    values = tmp_path / "my-values.yaml"
    values.write_text("replicas: 2000\n", encoding="utf-8")
    with pytest.raises(realtools.ToolError) as refused:
        realtools.helm_template(chart, [values])
    assert quoted in refused.value.stderr


def test_every_prelude_field_is_documented():
    """Each field of a `schema` block of stdlib/prelude.gop appears in a code span of the language pages."""
    prelude = (REPO / "stdlib" / "prelude.gop").read_text(encoding="utf-8")
    pages = "".join((REPO / "docs" / page).read_text(encoding="utf-8") for page in ("language.md", "tenancy.md"))
    fields, schema = set(), None
    for line in prelude.splitlines():
        if opening := re.match(r"schema\s+(\w+)", line):
            schema = opening.group(1)
        elif line.startswith("}"):
            schema = None
        elif schema and (declared := re.match(r"  (\w+)\??\s*:", line)):
            fields.add((schema, declared.group(1)))
    assert len(fields) > 200
    undocumented = sorted(f"{schema}.{name}" for schema, name in fields
                          if not re.search(rf"`[^`\n]*\b{name}\b[^`\n]*`", pages))
    assert undocumented == []
