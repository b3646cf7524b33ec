"""`gopc build` never undoes a tag Flux's image automation committed (E0704).

The automation's commit is simulated by editing the value on the setter-marked line of
apps/base/checkout/release.yaml in a built tree. The next build stops with E0704 at the
program's tag (with the fix), writes nothing and keeps the manifest; taking the tag into the
program (the fix applied), the build succeeds and keeps it, still on the marked line, and the
base builds with kubectl kustomize and passes the Flux schemas; with --force the program's tag is
written back. The program's own tag changes go through, and a tree without notes (an older gopc's)
is taken as it is.
"""

from __future__ import annotations

import json
import re

import realtools as rt
from gop.compiler.lower.repository import automated_tags
from gop.compiler.session import analyse
from gop.compiler.emit.tree import MANIFEST
from test_build import copy_example, edit, gopc, tree_state

RELEASE = "apps/base/checkout/release.yaml"
MARKER = '# {"$imagepolicy": "flux-system:checkout:tag"}'


def marked_tag(tree) -> str:
    lines = [line for line in (tree / RELEASE).read_text().splitlines() if MARKER in line]
    assert len(lines) == 1
    return re.fullmatch(r"\s*tag: '?([^' ]+)'?  " + re.escape(MARKER), lines[0]).group(1)


def automation_commits(tree, tag: str) -> None:
    text = (tree / RELEASE).read_text()
    (tree / RELEASE).write_text(re.sub(r"tag: \S+(  " + re.escape(MARKER) + ")", rf"tag: {tag}\1", text))


def test_a_committed_tag_stops_the_build_until_the_program_takes_it(tmp_path):
    program, tree = copy_example(tmp_path), tmp_path / "tree"
    gopc("build", program, "-o", tree)
    assert marked_tag(tree) == "1.4.2"
    assert json.loads((tree / MANIFEST).read_text())["imageTags"] == {RELEASE: "1.4.2", "apps/base/cart/release.yaml": "2.0.1"}
    automation_commits(tree, "1.5.0")
    before = tree_state(tree)

    refused = gopc("build", program, "-o", tree, "--format", "json", check=False)
    assert refused.returncode == 1
    [problem] = json.loads(refused.stdout)["diagnostics"]
    assert problem["code"] == "E0704" and "1.5.0" in problem["message"] and "--force" in problem["message"]
    assert problem["file"].endswith("apps.gop") and (problem["line"], problem["column"]) == (9, 5)
    assert tree_state(tree) == before  # nothing written, the manifest too

    analysis = analyse([program])
    diagnostics = automated_tags(analysis, tree)
    [fix] = diagnostics[0].fixes
    source = (program / "apps.gop").read_text()
    assert source[fix.span.start:fix.span.end] == '"1.4.2"' and fix.replacement == '"1.5.0"'
    (program / "apps.gop").write_text(source[:fix.span.start] + fix.replacement + source[fix.span.end:])

    gopc("build", program, "-o", tree)
    assert marked_tag(tree) == "1.5.0"
    assert json.loads((tree / MANIFEST).read_text())["imageTags"][RELEASE] == "1.5.0"
    built = rt.kubectl_kustomize(tree / "apps" / "base" / "checkout")
    assert rt.flux_validate(built) == len(built) == 2
    assert [doc["spec"]["values"]["image"]["tag"] for doc in built if doc["kind"] == "HelmRelease"] == ["1.5.0"]


def test_force_writes_the_programs_tag_back(tmp_path):
    program, tree = copy_example(tmp_path), tmp_path / "tree"
    gopc("build", program, "-o", tree)
    automation_commits(tree, "1.5.0")
    gopc("build", program, "-o", tree, "--force")
    assert marked_tag(tree) == "1.4.2"
    gopc("build", program, "-o", tree)  # and the next build has nothing to say


def test_the_programs_own_tag_changes_and_notes_of_an_older_build(tmp_path):
    program, tree = copy_example(tmp_path), tmp_path / "tree"
    gopc("build", program, "-o", tree)
    edit(program / "apps.gop", 'tag = "1.4.2"', 'tag = "1.6.0"')
    gopc("build", program, "-o", tree)
    assert marked_tag(tree) == "1.6.0"
    automation_commits(tree, "1.6.1")
    edit(program / "apps.gop", 'tag = "1.6.0"', 'tag = "1.6.1"')  # the program already took it
    gopc("build", program, "-o", tree)
    assert marked_tag(tree) == "1.6.1"
    manifest = json.loads((tree / MANIFEST).read_text())
    (tree / MANIFEST).write_text(json.dumps({"generator": "gopc", "files": manifest["files"]}))
    automation_commits(tree, "9.9.9")
    gopc("build", program, "-o", tree)  # no note: nothing is known to have changed
    assert marked_tag(tree) == "1.6.1"
