"""`gopc explain --cluster C APP.PATH` (the chain of layers behind a value) and `gopc show --cluster C`."""

from __future__ import annotations

import json
from pathlib import Path

import yaml

from gop.compiler.cli import main

SHOP = str(Path(__file__).resolve().parent.parent / "examples" / "shop")


def run(capsys, *argv):
    code = main(list(argv))
    captured = capsys.readouterr()
    return code, captured.out, captured.err


def test_explain_names_every_layer_and_marks_the_effective_one(capsys):
    code, out, _ = run(capsys, "explain", "--cluster", "prod-eu-1", "checkout.replicas", SHOP)
    assert code == 0
    lines = out.splitlines()
    assert lines[0] == "checkout.replicas on cluster prod-eu-1 (env prod) = 8"
    rows = lines[1:]
    assert [row.split()[0] == "*" for row in rows] == [False, False, True]
    assert "app checkout" in rows[0] and "examples/shop/apps.gop:" in rows[0] and rows[0].endswith(" 3")
    assert "env prod" in rows[1] and "examples/shop/envs.gop:" in rows[1] and rows[1].endswith(" 6")
    assert "cluster prod-eu-1" in rows[2] and "examples/shop/clusters.gop:" in rows[2] and rows[2].endswith(" 8")


def test_explain_of_a_record_lists_its_leaves_with_defaults_and_the_selector_overlay(capsys):
    code, out, _ = run(capsys, "explain", "--cluster", "prod-cn-1", "web.ingress", SHOP)
    assert code == 0
    assert '"className": "nginx-cn"' in out.splitlines()[0]
    assert any("schema default" in row and 'path = "/"' in row for row in out.splitlines())
    overlay = [row for row in out.splitlines() if "overlay cn-ingress" in row]
    assert len(overlay) == 1 and overlay[0].split()[0] == "*" and 'className = "nginx-cn"' in overlay[0]
    app_row = [row for row in out.splitlines() if 'className = "nginx"' in row]
    assert len(app_row) == 1 and app_row[0].split()[0] != "*"  # overridden


def test_explain_mistakes_are_usage_errors_with_a_suggestion(capsys):
    code, _, err = run(capsys, "explain", "--cluster", "prod-eu-2", "web.replicas", SHOP)
    assert code == 2 and "did you mean `prod-eu-1`" in err
    code, _, err = run(capsys, "explain", "--cluster", "prod-cn-1", "recommendations.replicas", SHOP)
    assert code == 2 and "does not run on cluster `prod-cn-1`" in err
    code, _, err = run(capsys, "explain", "--cluster", "prod-cn-1", "web.ingres", SHOP)
    assert code == 2 and "did you mean `ingress`" in err


def test_render_names_an_app_as_explain_does(capsys):
    code, out, err = run(capsys, "render", "--cluster", "prod-eu-1", "--app", "webb", SHOP)
    assert code == 2 and out == "" and "app `webb` does not run on cluster `prod-eu-1`; did you mean `web`?" in err
    code, _, err = run(capsys, "render", "--cluster", "prod-cn-1", "--app", "recommendations", SHOP)
    assert code == 2 and "does not run on cluster `prod-cn-1` (it runs: " in err
    code, _, err = run(capsys, "explain", "--cluster", "prod-cn-1", "web.replicas")
    assert code == 2


def test_show_prints_the_effective_model_as_yaml_and_json(capsys):
    code, out, _ = run(capsys, "show", SHOP, "--cluster", "dev-us-1")
    assert code == 0
    model = yaml.safe_load(out)
    assert model["env"] == "dev" and model["labels"] == {"environment": "dev", "region": "us-east-1"}
    assert set(model["apps"]) == {"cart", "checkout", "web"}
    assert model["apps"]["web"]["replicas"] == 2 and model["apps"]["web"]["values"]["logLevel"] == "debug"
    code, out, _ = run(capsys, "show", SHOP, "--cluster", "dev-us-1", "--format", "json")
    assert code == 0 and json.loads(out) == model
