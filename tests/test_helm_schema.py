"""values.schema.json: derived from the types, accepted as draft-07, and enforced by real helm."""

from __future__ import annotations

import copy
import json
import re
from concurrent.futures import ThreadPoolExecutor

import jsonschema
import pytest

import helm_fixtures as fx
import realtools
from gop.compiler.lower.helm import FLUX_ONLY_FIELDS, values_schema
from gop.compiler.lower.helm.caches import HelmCaches
from gop.compiler.lower.helm.schema import GO_DURATION_PATTERN, QUANTITY_PATTERN, chart_schema, chart_schema_text
from gop.compiler.semantic.types import (
    AnyType, Duration, EnumType, Field, FloatType, IntType, ListType, MapType, RecordType, SecretRef, StringType,
)

RECORDS = [fx.app_type(fx.CHECKOUT_VALUES), fx.app_type(None), fx.IMAGE, fx.PROBE, fx.INGRESS, fx.AUTOSCALING,
           fx.SERVICE_ACCOUNT, fx.RESOURCES, fx.DELIVERY, fx.IMAGE_POLICY, fx.CHECKOUT_VALUES]


def validator(schema):
    jsonschema.Draft7Validator.check_schema(schema)
    return jsonschema.Draft7Validator(schema)


@pytest.mark.parametrize("record", RECORDS, ids=lambda r: r.name)
def test_values_schema_is_valid_draft7_and_closed(record):
    schema = values_schema(record)
    assert schema["$schema"] == "http://json-schema.org/draft-07/schema#"
    validator(schema)
    assert schema["additionalProperties"] is False
    assert schema.get("required", []) == [name for name, f in record.fields.items() if not f.optional]
    for name, f in record.fields.items():
        assert schema["properties"][name]["description"] == f.doc
        if f.has_default and f.default != {}:
            assert "default" in schema["properties"][name]


def test_constraints_carry_over():
    props = values_schema(fx.app_type(fx.CHECKOUT_VALUES))["properties"]
    assert props["replicas"] == {"description": props["replicas"]["description"], "type": "integer",
                                 "minimum": 0, "maximum": 1000, "default": 1}
    image = props["image"]["properties"]
    assert image["repository"]["pattern"] == "^([a-z0-9]([-a-z0-9]*[a-z0-9])?([.][a-z0-9]([-a-z0-9]*[a-z0-9])?)*(:[0-9]+)?/)?[a-z0-9]+(([._]|__|-+)[a-z0-9]+)*(/[a-z0-9]+(([._]|__|-+)[a-z0-9]+)*)*$"
    assert (image["tag"]["minLength"], image["tag"]["maxLength"]) == (1, 128)
    assert image["pullPolicy"]["enum"] == ["Always", "IfNotPresent", "Never"]
    assert image["pullPolicy"]["type"] == "string"
    assert props["ports"]["propertyNames"] == {"minLength": 1, "maxLength": 15,
                                               "pattern": "^[a-z](-?[a-z0-9])*$"}
    assert props["ports"]["additionalProperties"] == {"type": "integer", "minimum": 1, "maximum": 65535}
    assert props["secretEnv"]["additionalProperties"]["required"] == ["secret", "key"]
    assert props["resources"]["properties"]["requests"]["properties"]["cpu"]["type"] == ["string", "number"]
    assert props["values"]["properties"]["paymentTimeout"]["default"] == "30s"
    assert props["values"]["properties"]["features"]["additionalProperties"] == {"type": "boolean"}
    assert props["delivery"]["properties"]["dependsOn"] == {
        "description": "Apps that must be ready before this one is installed.", "type": "array",
        "items": {"type": "string"}, "default": []}


def test_open_values_and_any_accept_anything():
    open_app = values_schema(fx.app_type(fx.OPEN_VALUES))
    assert open_app["properties"]["values"].get("additionalProperties", True) is True
    validator(open_app).validate({**fx.workload_defaults(),
                                  "image": {"repository": "r", "tag": "t", "pullPolicy": "Always"}, "replicas": 1,
                                  "ports": {}, "env": {}, "secretEnv": {}, "config": {}, "delivery": {
                                      "interval": "5m", "timeout": "5m", "retries": 1, "dependsOn": []},
                                  "values": {"anything": [1, {"x": None}]}})
    assert values_schema(fx.app_type(None))["properties"]["values"] == {
        "description": fx.app_type(None).fields["values"].doc, "default": {}}


def test_scalar_types():
    rec = RecordType("T", {
        "f": Field("f", FloatType(0.5, 2.5)), "e": Field("e", EnumType((1, 2.5))), "b": Field("b", EnumType((True,))),
        "l": Field("l", ListType(StringType(), 1, 3)), "m": Field("m", MapType(EnumType(("a", "b")), AnyType())),
        "o": Field("o", IntType(), optional=True)})
    props = values_schema(rec)["properties"]
    assert props["f"] == {"type": "number", "minimum": 0.5, "maximum": 2.5}
    assert props["e"] == {"type": "number", "enum": [1, 2.5]}
    assert props["b"] == {"type": "boolean", "enum": [True]}
    assert props["l"] == {"type": "array", "items": {"type": "string"}, "minItems": 1, "maxItems": 3}
    assert props["m"] == {"type": "object", "propertyNames": {"enum": ["a", "b"]}, "additionalProperties": {}}
    assert values_schema(rec)["required"] == ["f", "e", "b", "l", "m"]


def test_recursive_record_uses_definitions():
    fields: dict[str, Field] = {}
    node = RecordType("Node", fields, "A tree.")
    fields["children"] = Field("children", ListType(node), default=(), has_default=True)
    fields["name"] = Field("name", StringType())
    schema = values_schema(RecordType("Root", {"tree": Field("tree", node)}))
    assert schema["properties"]["tree"] == {"$ref": "#/definitions/Node"}
    assert schema["definitions"]["Node"]["properties"]["children"]["items"] == {"$ref": "#/definitions/Node"}
    check = validator(schema)
    check.validate({"tree": {"name": "a", "children": [{"name": "b", "children": []}]}})
    assert not check.is_valid({"tree": {"name": "a", "children": [{"children": []}]}})


@pytest.mark.parametrize("text, ok", [
    ("0", True), ("5m", True), ("1h30m", True), ("250ms", True), ("1.5s", True), ("2h45m30.5s", True), ("1us", True),
    ("", False), ("5", False), ("5 m", False), ("1d", False), ("m", False), ("5min", False)])
def test_duration_pattern_is_go_duration_syntax(text, ok):
    assert bool(re.search(GO_DURATION_PATTERN, text)) is ok
    if ok and text not in ("0",):
        assert str(Duration.parse(text))  # our own durations are a subset


@pytest.mark.parametrize("text, ok", [
    ("1", True), ("250m", True), ("1Gi", True), ("0.5", True), ("1e3", True), ("+1.5Mi", True), (".5", True),
    ("", False), ("1 Gi", False), ("lots", False), ("1GiB", False), ("1ki", False)])
def test_quantity_pattern_is_kubernetes_quantity_syntax(text, ok):
    assert bool(re.search(QUANTITY_PATTERN, text)) is ok


def test_chart_schema_leaves_out_flux_fields_and_absent_parts():
    app = fx.make_app("bare", values_record=None)
    schema = chart_schema(app)
    assert schema["title"] == "bare" and schema["description"] == app.doc
    for name in (*FLUX_ONLY_FIELDS, "ingress", "autoscaling", "statefulSet", "job", "cronJob"):
        assert name not in schema["properties"]
    assert "serviceAccount" in schema["properties"]  # every app runs as its own service account
    for name in ("config", "secretEnv", "values"):
        assert schema["properties"][name]["maxProperties"] == 0
    assert set(schema["required"]) == {"image", "replicas", "ports", "env", "secretEnv", "config", "values",
                                       *fx.workload_defaults()}
    full = chart_schema(fx.make_app(also=[{"ingress": 1, "autoscaling": 1, "serviceAccount": 1, "config": 1,
                                           "secretEnv": 1}]))
    assert {"ingress", "autoscaling", "serviceAccount"} <= set(full["properties"])
    assert "maxProperties" not in full["properties"]["config"]


def test_schema_text_is_json_dumps_and_its_bytes_are_kept_with_it():
    """Printed from the kept UTF-8 of its fields (shared by the charts of one `HelmCaches`), the text is
    `json.dumps`'s to the byte, and `HelmCaches.utf8` gives its encoding for the last text only."""
    apps = [fx.shop_checkout(), fx.make_app("bare", values_record=None), fx.make_app("twin", values_record=None),
            fx.make_app("full", ports={"http": 1}, ingress={"host": "h"}, autoscaling={}, serviceAccount={},
                        config={"a": "b"}, resources={"limits": {"cpu": "1"}}, liveness={}, readiness={})]
    caches = HelmCaches()
    texts = []
    for app in apps + apps:
        text = chart_schema_text(app, caches)
        assert text == json.dumps(chart_schema(app), indent=2, ensure_ascii=False) + "\n"
        assert caches.utf8(text) == text.encode("utf-8")
        texts.append(text)
    assert "µs|μs" in texts[0]  # beyond Latin-1: what makes encoding the text again cost
    same_text_again = "".join(list(texts[-1]))
    assert same_text_again == texts[-1] and caches.utf8(same_text_again) == texts[-1].encode("utf-8")
    assert caches.utf8(texts[0]) == texts[0].encode("utf-8")


# ---------------------------------------------------------------- real helm enforces the schema

APP = fx.make_app("checkout", ports={"http": 8080}, ingress={"host": "shop.example.com"},
                  secretEnv={"DB": SecretRef("secret", "db", "password")}, also=[{"autoscaling": 1}])
WRONG = {
    "replicas below minimum": ({"replicas": -1}, "/replicas"),
    "replicas as string": ({"replicas": "3"}, "/replicas"),
    "pullPolicy not in enum": ({"image": {"pullPolicy": "Sometimes"}}, "/image/pullPolicy"),
    "port name pattern": ({"ports": {"Bad_Name": 80}}, "Bad_Name"),
    "port above maximum": ({"ports": {"http": 70000}}, "/ports/http"),
    "env name pattern": ({"env": {"1X": "a"}}, "1X"),
    "env value type": ({"env": {"A": 1}}, "/env/A"),
    "plaintext secret": ({"secretEnv": {"A": "hunter2"}}, "/secretEnv/A"),
    "quantity syntax": ({"resources": {"requests": {"cpu": "lots"}}}, "/resources/requests/cpu"),
    "unknown field": ({"replica": 3}, "replica"),
    "host pattern": ({"ingress": {"host": "Bad Host"}}, "/ingress/host"),
    "user enum": ({"values": {"logLevel": "verbose"}}, "/values/logLevel"),
    "user duration": ({"values": {"paymentTimeout": "30 seconds"}}, "/values/paymentTimeout"),
    "unknown user field": ({"values": {"retries": 3}}, "retries"),
    "flux-level field": ({"delivery": {"retries": 3}}, "delivery"),
    "absent part": ({"serviceAccount": {"create": True, "annotations": {}}}, "serviceAccount"),
    "map of an absent part": ({"config": {"a.txt": "x"}}, "/config"),
    "optional record missing a defaulted field": ({"autoscaling": {"min": 1}}, "/autoscaling"),
}


def merged_wrong(update: dict) -> dict:
    values = fx.instance_values(APP)
    for key, item in update.items():
        values[key] = {**values[key], **item} if isinstance(item, dict) and isinstance(values.get(key), dict) else item
    return values


def test_wrong_values_are_rejected_by_jsonschema_and_accepted_values_pass():
    check = validator(chart_schema(APP))
    check.validate(fx.instance_values(APP))
    for name, (update, _) in WRONG.items():
        assert not check.is_valid(merged_wrong(update)), name


def test_helm_template_and_lint_reject_wrong_values(tmp_path):
    chart_dir = fx.write_chart(APP, tmp_path)
    files = []
    for index, (update, _) in enumerate(WRONG.values()):
        files.append(tmp_path / f"wrong-{index}.yaml")
        files[-1].write_text(fx.values_file_text(update))

    def template(path):
        with pytest.raises(realtools.ToolError) as failure:
            realtools.helm_template(chart_dir, [path], release="checkout")
        return failure.value.stderr

    with ThreadPoolExecutor(max_workers=4) as pool:
        errors = list(pool.map(template, files))
    for (name, (_, where)), stderr in zip(WRONG.items(), errors):
        assert "values don't meet the specifications of the schema" in stderr, name
        assert where in stderr, (name, stderr)

    with pytest.raises(realtools.ToolError) as lint:
        realtools.helm_lint_strict(chart_dir, [files[0]])
    assert "/replicas" in lint.value.stdout
    assert "0 chart(s) failed" in realtools.helm_lint_strict(chart_dir)


def test_base_values_of_many_apps_satisfy_their_chart_schema():
    apps = [fx.shop_checkout(), fx.make_app("bare", values_record=None),
            fx.make_app("open", values_record=fx.OPEN_VALUES, values={"x": {"y": [1, "z"]}}),
            fx.make_app("full", ports={"http": 1}, ingress={"host": "h"}, autoscaling={}, serviceAccount={},
                        config={"a": "b"}, resources={"limits": {"cpu": "1"}}, liveness={}, readiness={})]
    for app in apps:
        validator(chart_schema(app)).validate(fx.instance_values(app))
    bad = copy.deepcopy(fx.instance_values(apps[-1]))
    del bad["autoscaling"]["max"]  # Helm never fills in schema defaults, so they are required
    assert not validator(chart_schema(apps[-1])).is_valid(bad)
