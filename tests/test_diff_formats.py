"""`gopc diff --format markdown` (a pull-request comment) and `--format json` (docs/schemas/diff.json).

- Markdown, rendered by GitHub's own renderer (cmark-gfm): a heading naming both sides, a table
  of the clusters that change with their counts, per cluster each changed object with its fields
  (`path`: before → after), and the YAML diffs folded in <details>; no change says so. A comment
  too large for GitHub drops the diffs, then the objects, and says so. Values holding backticks
  stay inside their code spans.
- JSON validates against the published schema and the model, lists every compared cluster with
  the same counts as the text report, and the field values on both sides.
- Exit codes: 0 no difference, 1 differences, 2 trouble (whatever the format).
"""

from __future__ import annotations

import json
import re
import shutil
import subprocess
import sys
from pathlib import Path

import cmarkgfm
import jsonschema
import pytest

import realtools as rt
from gop.compiler.commands import diff_report
from gop.compiler.commands.diff_report import ClusterDelta, ObjectDelta, markdown_report
from gop.compiler.commands.schemas import DiffDocument

EXAMPLE = rt.REPO_ROOT / "examples" / "shop"
GOPC = Path(sys.executable).with_name("gopc")
PROD = ["prod-cn-1", "prod-eu-1", "prod-us-1"]


def gopc(*args) -> subprocess.CompletedProcess:
    done = subprocess.run([str(GOPC), *map(str, args)], capture_output=True, text=True, stdin=subprocess.DEVNULL,
                          env=rt.tool_env(), timeout=300)
    assert "Traceback" not in done.stderr
    return done


@pytest.fixture(scope="module")
def changed(tmp_path_factory) -> Path:
    """The example with prod's replicas 6 -> 7 and a new label on web's image pull policy."""
    program = tmp_path_factory.mktemp("changed") / "shop"
    shutil.copytree(EXAMPLE, program)
    envs = program / "envs.gop"
    envs.write_text(envs.read_text(encoding="utf-8").replace("replicas = 6", "replicas = 7", 1), encoding="utf-8")
    return program


def render(markdown: str) -> str:
    """HTML as GitHub renders a comment (raw HTML kept: GitHub's sanitizer keeps <details>)."""
    return cmarkgfm.github_flavored_markdown_to_html(markdown, options=cmarkgfm.Options.CMARK_OPT_UNSAFE)


def test_markdown_is_a_comment_github_renders(changed):
    done = gopc("diff", changed, "--against", EXAMPLE, "--format", "markdown")
    assert done.returncode == 1, done.stderr
    text = done.stdout
    assert text.startswith(f"## gopc diff: `{EXAMPLE}` → `{changed}`\n")
    html = render(text)
    rows = re.findall(r"<tr>\n<td><code>([^<]+)</code></td>\n<td align=\"right\">(\d+)</td>", html)
    assert [cluster for cluster, _ in rows] == PROD
    assert all(int(count) > 0 for _, count in rows)
    assert "<li><strong>changed</strong> <code>apps/v1 Deployment shop/cart</code>" in html
    assert "<li><code>spec.replicas</code>: <code>6</code> → <code>7</code></li>" in html
    assert html.count("<details><summary>YAML diff of ") == 3
    assert '<pre lang="diff"><code>--- ' in html or '<pre><code class="language-diff">--- ' in html
    assert "-  replicas: 6\n+  replicas: 7" in text


def test_markdown_without_changes_says_so():
    done = gopc("diff", EXAMPLE, "--against", EXAMPLE, "--format", "markdown", "--cluster", "prod-eu-1")
    assert done.returncode == 0
    assert done.stdout.endswith("No changes on the 1 cluster(s) compared.\n")


def test_json_validates_and_agrees_with_the_text_report(changed):
    done = gopc("diff", changed, "--against", EXAMPLE, "--format", "json")
    assert done.returncode == 1, done.stderr
    data = json.loads(done.stdout)
    schema = json.loads((rt.REPO_ROOT / "docs" / "schemas" / "diff.json").read_text(encoding="utf-8"))
    jsonschema.validate(data, schema)
    DiffDocument.model_validate(data)
    assert data["differs"] is True and data["before"] == str(EXAMPLE) and data["after"] == str(changed)
    assert [c["cluster"] for c in data["clusters"]] == sorted(c["cluster"] for c in data["clusters"])
    text = gopc("diff", changed, "--against", EXAMPLE).stdout
    headers = dict(re.findall(r"^=== cluster (\S+): (\d+ changed, \d+ added, \d+ removed)$", text, re.M))
    from_json = {c["cluster"]: f"{c['changed']} changed, {c['added']} added, {c['removed']} removed"
                 for c in data["clusters"] if c["objects"]}
    assert from_json == headers and sorted(headers) == PROD
    cart = next(o for c in data["clusters"] if c["cluster"] == "prod-eu-1" for o in c["objects"]
                if (o["kind"], o["name"]) == ("Deployment", "cart"))
    assert cart["fields"] == [{"path": "spec.replicas", "change": "changed", "before": 6, "after": 7}]
    summary, _, document = done.stderr.partition("\n")  # the summary line, then the diagnostics beside the report
    assert summary.startswith("gopc diff: 3 of ") and json.loads(document) == {"diagnostics": [], "errors": 0}


def test_json_of_identical_programs_and_of_trouble():
    same = gopc("diff", EXAMPLE, "--against", EXAMPLE, "--format", "json", "--cluster", "dev-us-1")
    assert same.returncode == 0
    assert json.loads(same.stdout)["differs"] is False
    trouble = gopc("diff", EXAMPLE, "--against", EXAMPLE, "--format", "json", "--cluster", "nowhere")
    assert trouble.returncode == 2 and trouble.stdout == ""
    assert json.loads(trouble.stderr)["diagnostics"][0]["code"] == "E0903"


def _delta(cluster: str, count: int, value: str) -> ClusterDelta:
    objects = [ObjectDelta(("v1", "ConfigMap", "ns", f"cm-{i}"), {"data": {"k": "old"}}, {"data": {"k": value}})
               for i in range(count)]
    return ClusterDelta(cluster, objects)


def test_a_comment_too_large_for_github_leaves_out_the_diffs_then_the_objects():
    medium = markdown_report([_delta("c1", 300, "x" * 100)], "a", "b")
    assert len(medium) <= diff_report.MARKDOWN_LIMIT and "<details>" not in medium
    assert "The YAML diffs are left out" in medium and "`data.k`" in medium
    huge = markdown_report([_delta(f"c{n}", 600, "y" * 100) for n in range(3)], "a", "b")
    assert len(huge) <= diff_report.MARKDOWN_LIMIT and "The objects are left out" in huge
    assert "| `c2` | 600 | 0 | 0 |" in huge


def test_backticks_in_values_stay_in_their_code_span():
    text = markdown_report([_delta("c1", 1, "a ``` b `")], "a", "b")
    html = render(text)
    assert "<code>&quot;a ``` b `&quot;</code>" in html
    assert html.count("<details>") == 1 and html.count("</details>") == 1
