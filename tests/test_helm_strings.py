"""User strings are data, never template code: hostile strings reach the rendered objects
unchanged, through values.yaml (base values) and through a user's values file, with real helm
and with helm_template, and every chart and output stays valid."""

from __future__ import annotations

import json

import pytest

import helm_fixtures as fx
import realtools
from gop.compiler.lower.helm import chart_files, helm_template
from gop.compiler.values import plain

HOSTILE = [
    "{{ .Release.Name }}", '{{ fail "x" }}', "{{- /* c */ -}}", "{{ .Values | toYaml }}", "{{", "}}",
    "line one\nline two", "trailing newline\n", "two trailing\n\n", "\n\nleading newlines", "  indented\n  block\n",
    "with 'single' and \"double\" quotes", "key: value", "# not a comment", "a #b", "ends with colon:",
    "x" * 20000, "ünïcødé ✓ 日本語 🚀 ́combining", "\ttab\tseparated", "  padded  ", "",
    "yes", "No", "on", "null", "~", "true", "0x1F", "1e3", "012", "1_000", ".inf", "2001-12-14", "=", "<<",
    "- item", "[a, b]", "{a: b}", "&anchor", "*alias", "!tag", "%TAG", "@at", "`tick`", "|", ">", "?", ",",
    "\x7f del \x85 nel \u2028 ls \u2029 ps \ufeff bom \xa0 nbsp", "\x00 nul \x01 \x1b esc \b \f \v \r cr",
    "<script>alert('&amp;')</script>", "back\\slash \\n not a newline", "${domain} $(HOME) $$", "---", "...",
    "\ud7ff\ue000\ufffd\U0010ffff",
]


def hostile_app():
    env = {f"V{i}": text for i, text in enumerate(HOSTILE)}
    config = {f"f{i}.txt": text for i, text in enumerate(HOSTILE)}
    annotations = {f"example.com/a{i}": text for i, text in enumerate(HOSTILE)}
    values = {"features": {text: i % 2 == 0 for i, text in enumerate(HOSTILE)}, "list": HOSTILE,
              "nested": {"s": HOSTILE[0]}}
    return fx.make_app(
        "strings", doc="Doc with {{ .Chart.Name }}, 'quotes', \"more\",\n# a hash and\u2028a line separator.",
        values_record=None, ports={"http": 8080}, env=env, config=config, values=values,
        ingress={"host": "a.example.com", "annotations": annotations},
        serviceAccount={"annotations": annotations})


def check_strings(docs: list[dict], app) -> None:
    kinds = {(doc["kind"], doc["metadata"]["name"]): doc for doc in docs}
    container = kinds[("Deployment", "strings")]["spec"]["template"]["spec"]["containers"][0]
    assert {e["name"]: e["value"] for e in container["env"]} == app.base["env"]
    assert kinds[("ConfigMap", "strings-config")]["data"] == app.base["config"]
    assert json.loads(kinds[("ConfigMap", "strings-values")]["data"]["values.json"]) == plain(app.base["values"])
    assert kinds[("Ingress", "strings")]["metadata"]["annotations"] == app.base["ingress"]["annotations"]
    assert kinds[("ServiceAccount", "strings")]["metadata"]["annotations"] == app.base["serviceAccount"]["annotations"]


def test_hostile_strings_in_base_values_render_literally(tmp_path):
    app = hostile_app()
    chart_dir = fx.write_chart(app, tmp_path)
    output = fx.helm_lint_many([chart_dir])
    assert "[WARNING]" not in output and "0 chart(s) failed" in output
    (helm_docs,) = fx.helm_template_many([fx.TemplateCase(chart_dir, release="strings")], tmp_path)
    check_strings(helm_docs, app)
    assert helm_template(app, plain(app.base), release_name="strings", namespace="shop") == helm_docs
    realtools.kubernetes_validate_strict(fx.distinct_shapes(helm_docs))


def test_hostile_strings_in_a_users_values_file_render_literally(tmp_path):
    app = hostile_app()
    plain_app = fx.make_app("strings", values_record=None, ports={"http": 8080},
                            also=[{"config": 1, "values": 1, "ingress": 1, "serviceAccount": 1}])
    chart_dir = fx.write_chart(plain_app, tmp_path)
    values = fx.instance_values(app)
    (helm_docs,) = fx.helm_template_many([fx.TemplateCase(chart_dir, values, release="strings")], tmp_path)
    check_strings(helm_docs, app)
    assert helm_template(plain_app, values, release_name="strings", namespace="shop") == helm_docs


def test_no_user_text_in_templates():
    app = hostile_app()
    files = chart_files(app)
    templates = "".join(text for path, text in files.items() if path.startswith("templates/"))
    assert "strings" not in templates and "example.com" not in templates and "Release.Name }}," not in templates
    assert templates == "".join(text for path, text in chart_files(
        fx.make_app("other", ports={"http": 1}, values={"logLevel": "warn"},
                    also=[{"config": 1, "ingress": 1, "serviceAccount": 1}])).items()
        if path.startswith("templates/"))


@pytest.mark.parametrize("text", HOSTILE, ids=range(len(HOSTILE)))
def test_values_yaml_reads_back_every_string(text):
    from ruamel.yaml import YAML
    import yaml

    app = fx.make_app("strings", values_record=None, env={"V": text}, values={text: [text], "k": {"x": text}})
    source = chart_files(app)["values.yaml"]
    expected = fx.instance_values(app)
    assert YAML(typ="safe", pure=True).load(source) == json.loads(json.dumps(expected))
    assert yaml.safe_load(source) == json.loads(json.dumps(expected))
