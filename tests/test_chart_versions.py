"""`gopc build` never changes a chart under the version the program chose for it (E0705).

Flux builds a chart from Git again only when its version changes, so a chart whose `chart.version`
the program pins must get a new version with every change of what it installs. The networking
example pins the gateway's chart at 1.8.0: changing the gateway's resources changes its chart
(values.yaml), and the rebuild stops at the version with the next one as the fix, writing nothing;
with the fix applied it builds and the chart carries the new version, which passes `helm lint
--strict`. Changes that do not touch what the chart installs (its doc comment, an env value carried
by the HelmRelease) build; `--force` writes a changed chart anyway; a tree without the note (a tree
an older gopc built) is taken as it is.
"""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest

import realtools as rt
from gop.compiler.emit.tree import MANIFEST
from gop.compiler.lower.repository import next_chart_version, unraised_chart_versions
from gop.compiler.session import analyse
from test_build import edit, gopc, tree_state

EXAMPLE = Path(__file__).resolve().parents[1] / "examples" / "networking"
APPS = "apps.gop"


@pytest.fixture
def program(tmp_path) -> Path:
    copy = tmp_path / "networking"
    shutil.copytree(EXAMPLE, copy)
    return copy


def chart_version(tree: Path) -> str:
    lines = [line for line in (tree / "charts/gateway/Chart.yaml").read_text().splitlines() if line.startswith("version:")]
    return lines[0].split(":", 1)[1].strip().strip("'\"")


def test_a_changed_chart_under_the_same_version_stops_the_build_until_it_is_raised(program, tmp_path):
    tree = tmp_path / "tree"
    gopc("build", program, "-o", tree)
    assert json.loads((tree / MANIFEST).read_text())["chartVersions"]["gateway"]["version"] == "1.8.0"
    edit(program / APPS, "requests { cpu = 100m, memory = 128Mi }", "requests { cpu = 200m, memory = 128Mi }")
    before = tree_state(tree)

    refused = gopc("build", program, "-o", tree, "--format", "json", check=False)
    assert refused.returncode == 1
    [problem] = json.loads(refused.stdout)["diagnostics"]
    assert problem["code"] == "E0705" and "1.8.0" in problem["message"] and "1.8.1" in problem["message"]
    source = (program / APPS).read_text()
    assert problem["file"].endswith(APPS) and problem["line"] == source[:source.index('version = "1.8.0"')].count("\n") + 1
    assert tree_state(tree) == before  # nothing written, the manifest neither

    [diagnostic] = unraised_chart_versions(analyse([program]), tree)
    [fix] = diagnostic.fixes
    assert source[fix.span.start:fix.span.end] == '"1.8.0"' and fix.replacement == '"1.8.1"'
    (program / APPS).write_text(source[:fix.span.start] + fix.replacement + source[fix.span.end:])
    gopc("build", program, "-o", tree)
    assert chart_version(tree) == "1.8.1"
    assert "1 chart(s) linted, 0 chart(s) failed" in rt.helm_lint_strict(tree / "charts" / "gateway")


def test_what_the_chart_does_not_install_may_change_under_its_version(program, tmp_path):
    tree = tmp_path / "tree"
    gopc("build", program, "-o", tree)
    source = (program / APPS).read_text()
    doc = source[:source.index("app gateway")].rstrip().splitlines()[-1]
    assert doc.startswith("///")
    edit(program / APPS, doc, doc + " It answers on one host.")  # Chart.yaml's description and README.md
    gopc("build", program, "-o", tree)
    assert chart_version(tree) == "1.8.0"


def test_force_writes_a_changed_chart_and_an_older_tree_is_taken_as_it_is(program, tmp_path):
    tree = tmp_path / "tree"
    gopc("build", program, "-o", tree)
    edit(program / APPS, "requests { cpu = 100m, memory = 128Mi }", "requests { cpu = 200m, memory = 128Mi }")
    gopc("build", program, "-o", tree, "--force")
    assert "200m" in (tree / "charts/gateway/values.yaml").read_text() and chart_version(tree) == "1.8.0"
    gopc("build", program, "-o", tree)  # the note now holds the forced chart: nothing to say

    manifest = json.loads((tree / MANIFEST).read_text())
    del manifest["chartVersions"]
    (tree / MANIFEST).write_text(json.dumps(manifest))
    edit(program / APPS, "requests { cpu = 200m, memory = 128Mi }", "requests { cpu = 300m, memory = 128Mi }")
    gopc("build", program, "-o", tree)  # no note: nothing is known to have changed


@pytest.mark.parametrize(("version", "raised"), [("1.8.0", "1.8.1"), ("0.1.9", "0.1.10"), ("2.0.0-rc.1", "2.0.0-rc.2"),
                                                 ("2.0.0-alpha", "2.0.0-alpha.1"), ("1.0.0-rc.1.beta", "1.0.0-rc.1.beta.1")])
def test_the_next_version_is_a_higher_semver(version, raised):
    assert next_chart_version(version) == raised


def test_a_new_image_tag_of_an_automated_app_needs_no_new_chart_version(program, tmp_path):
    tree = tmp_path / "tree"
    gopc("build", program, "-o", tree)
    source = (program / APPS).read_text()
    gateway = source.index("app gateway")
    tag = source.index('tag = "1.8.0"', gateway)
    (program / APPS).write_text(source[:tag] + 'tag = "1.8.2"' + source[tag + len('tag = "1.8.0"'):])
    gopc("build", program, "-o", tree)  # the HelmRelease carries the tag: the chart installs the same
    assert chart_version(tree) == "1.8.0" and "1.8.2" in (tree / "apps/base/gateway/release.yaml").read_text()
