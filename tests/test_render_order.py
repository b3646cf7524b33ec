"""`gopc render` lists objects in the order Helm installs them, and `--format json` on render and
explain prints documents of the published schemas (docs/schemas/render.json, explain-*.json).

The order is held to the real helm: a chart with one template of every kind Helm orders (and some
it does not), in scrambled order, printed by `helm template`, comes out in `install_key` order.
"""

from __future__ import annotations

import json
import random
from pathlib import Path

import jsonschema
import pytest
import realtools as rt

from gop.compiler import cli
from gop.compiler.lower.kinds import INSTALL_ORDER, install_key

REPO = Path(__file__).resolve().parent.parent
SHOP = REPO / "examples" / "shop"
SCHEMAS = REPO / "docs" / "schemas"
UNLISTED = ("Zeta", "HelmRelease", "Kustomization", "Alpha")


def test_install_order_is_the_order_helm_prints(tmp_path):
    chart = tmp_path / "kinds"
    (chart / "templates").mkdir(parents=True)
    (chart / "Chart.yaml").write_text("apiVersion: v2\nname: kinds\nversion: 0.1.0\n", encoding="utf-8")
    kinds = list(INSTALL_ORDER + UNLISTED)
    random.Random(16).shuffle(kinds)
    for index, kind in enumerate(kinds):
        (chart / "templates" / f"t{index:02d}.yaml").write_text(
            f"apiVersion: v1\nkind: {kind}\nmetadata:\n  name: n{index:02d}\n", encoding="utf-8")
    printed = [doc["kind"] for doc in rt.helm_template(chart)]
    docs = [{"apiVersion": "v1", "kind": kind, "metadata": {"name": "x"}} for kind in kinds]
    ours = [doc["kind"] for doc in sorted(docs, key=install_key)]
    assert printed == ours
    assert ours[:2] == ["PriorityClass", "Namespace"] and ours[-4:] == sorted(UNLISTED)


def test_render_lists_namespaces_first_and_every_kind_in_install_order(capsys):
    assert cli.main(["render", str(SHOP), "--cluster", "prod-eu-1", "--include-flux"]) == cli.EXIT_OK
    docs = rt.parse_docs(capsys.readouterr().out)
    assert docs[0]["kind"] == "Namespace"
    assert [install_key(doc) for doc in docs] == sorted(install_key(doc) for doc in docs)
    kinds = [doc["kind"] for doc in docs]
    assert kinds.index("ConfigMap") < kinds.index("Deployment") < kinds.index("HelmRelease")


def _schema(name: str) -> dict:
    return json.loads((SCHEMAS / name).read_text(encoding="utf-8"))


def test_render_json_is_the_yaml_render_as_a_document(capsys):
    assert cli.main(["render", str(SHOP), "--cluster", "prod-eu-1", "--format", "json"]) == cli.EXIT_OK
    document = json.loads(capsys.readouterr().out)
    jsonschema.validate(document, _schema("render.json"))
    assert cli.main(["render", str(SHOP), "--cluster", "prod-eu-1"]) == cli.EXIT_OK
    assert document == {"cluster": "prod-eu-1", "objects": rt.parse_docs(capsys.readouterr().out)}


def test_render_json_of_one_app_and_of_every_cluster(tmp_path, capsys):
    assert cli.main(["render", str(SHOP), "--cluster", "prod-eu-1", "--app", "web", "--format", "json"]) == cli.EXIT_OK
    objects = json.loads(capsys.readouterr().out)["objects"]
    assert objects and {o["metadata"]["labels"]["app.kubernetes.io/instance"] for o in objects} == {"web"}
    out = tmp_path / "rendered"
    assert cli.main(["render", str(SHOP), "--all-clusters", "-o", str(out), "--format", "json"]) == cli.EXIT_OK
    capsys.readouterr()
    files = sorted(path.name for path in out.iterdir() if not path.name.startswith("."))
    assert files == [f"{cluster}.json" for cluster in ("dev-us-1", "prod-cn-1", "prod-eu-1", "prod-us-1", "staging-cn-1", "staging-eu-1")]
    document = json.loads((out / "prod-cn-1.json").read_text(encoding="utf-8"))
    jsonschema.validate(document, _schema("render.json"))
    assert document["cluster"] == "prod-cn-1"


def test_explain_json_has_the_layers_the_text_lists(capsys):
    argv = ["explain", "--cluster", "prod-eu-1", "web.replicas", str(SHOP)]
    assert cli.main([*argv, "--format", "json"]) == cli.EXIT_OK
    document = json.loads(capsys.readouterr().out)
    jsonschema.validate(document, _schema("explain-value.json"))
    assert (document["cluster"], document["env"], document["value"]) == ("prod-eu-1", "prod", 6)
    assert [(layer["layer"], layer["source"], layer["value"], layer["effective"]) for layer in document["layers"]] == [
        ("app", "app web", 2, False), ("env overlay", "env prod", 6, True)]
    assert document["layers"][1]["file"].endswith("envs.gop") and document["layers"][1]["line"] >= 1
    assert cli.main(argv) == cli.EXIT_OK
    text = capsys.readouterr().out
    assert text.count("\n") == 1 + len(document["layers"])


@pytest.mark.parametrize("code", ["E0301", "W0406"])
def test_explain_code_json(code, capsys):
    assert cli.main(["explain", code, "--format", "json"]) == cli.EXIT_OK
    document = json.loads(capsys.readouterr().out)
    jsonschema.validate(document, _schema("explain-code.json"))
    assert document["code"] == code and document["page"].startswith(f"# {code}: ")
    assert document["severity"] == ("error" if code.startswith("E") else "warning")
