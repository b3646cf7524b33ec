"""JSON Schema -> gop types (compiler/semantic/jsonschema.py), and values checked against them.

- the conversion of each keyword: $ref, type lists and null, enum/const, objects (closed when
  strict, open otherwise), maps, arrays, string/number refinements, oneOf/anyOf, allOf,
  x-kubernetes-int-or-string, x-kubernetes-preserve-unknown-fields, Quantity, durations, docs;
- recursive schemas terminate; record names are deterministic;
- .gop values checked by the real checker against converted types: unions take the first member
  that fits and report the member of the value's kind; open records type their known fields.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from gop.compiler.diagnostics import codes
from gop.compiler.semantic.check import INVALID
from gop.compiler.semantic.jsonschema import QUANTITY_PATTERN, SchemaConverter
from gop.compiler.semantic.types import (
    AnyType, BoolType, Duration, DurationType, EnumType, FloatType, IntType, ListType, MapType, Quantity,
    QuantityType, RecordType, StringType, UnionType,
)
from gop.compiler.session import analyse
from gop.compiler.syntax import ast


def convert(schema, *, strict: bool = True, name: str = "Root"):
    return SchemaConverter(schema, name, strict=strict).root()


# ---- conversion ---------------------------------------------------------------------------------


def test_scalars_and_their_refinements():
    assert convert({"type": "integer", "minimum": 1, "exclusiveMaximum": 10}) == IntType(1, 9)
    assert convert({"type": "integer", "format": "int32"}) == IntType(-(2**31), 2**31 - 1)
    assert convert({"type": "integer", "minimum": 0, "exclusiveMinimum": True}) == IntType(1, None)
    assert convert({"type": "integer", "minimum": 1.0, "maximum": 9.5}) == IntType(1, 9)  # a CRD's bounds are numbers
    assert convert({"type": "number", "maximum": 1.5}) == FloatType(None, 1.5)
    assert convert({"type": "boolean"}) == BoolType()
    assert convert({"type": "string", "pattern": "^a", "minLength": 1, "maxLength": 3}) == StringType("^a", 1, 3)
    assert convert({"type": ["string", "null"]}) == StringType()
    assert convert({"type": "string", "nullable": True}) == StringType()


def test_a_pattern_python_cannot_read_is_dropped_not_raised():
    assert convert({"type": "string", "pattern": "(unclosed"}) == StringType()


def test_enum_and_const_become_literal_unions_without_null():
    assert convert({"type": ["string", "null"], "enum": ["v1", None]}) == EnumType(("v1",))
    assert convert({"const": "ClusterIssuer"}) == EnumType(("ClusterIssuer",))
    assert convert({"enum": [1, 2, 2]}) == EnumType((1, 2))
    assert convert({"enum": [{"a": 1}]}) == AnyType()


def test_objects_are_records_with_optional_fields_outside_required_and_their_docs():
    record = convert({"type": "object", "description": " A thing. ", "required": ["name"],
                      "properties": {"name": {"type": "string", "description": "Its name."}, "size": {"type": "integer"}}})
    assert isinstance(record, RecordType) and record.name == "Root" and record.doc == "A thing."
    assert list(record.fields) == ["name", "size"]
    assert not record.fields["name"].optional and record.fields["size"].optional
    assert record.fields["name"].doc == "Its name."
    assert not record.fields["name"].has_default


def test_strictness_decides_whether_a_record_without_additional_properties_is_open():
    schema = {"type": "object", "properties": {"a": {"type": "string"}}}
    assert not convert(schema).open
    assert convert(schema, strict=False).open
    assert not convert({**schema, "additionalProperties": False}, strict=False).open
    assert convert({**schema, "additionalProperties": True}).open
    assert convert({**schema, "x-kubernetes-preserve-unknown-fields": True}).open


def test_maps_arrays_and_untyped_objects():
    assert convert({"type": "object", "additionalProperties": {"type": "string"}}) == MapType(StringType(), StringType())
    assert convert({"type": "object"}) == MapType(StringType(), AnyType())
    assert convert({"type": "object", "x-kubernetes-preserve-unknown-fields": True}) == AnyType()
    assert convert({"type": "array", "items": {"type": "integer"}, "minItems": 1}) == ListType(IntType(), 1, None)
    assert convert({"type": "array"}) == ListType(AnyType())
    assert convert({}) == AnyType()


def test_inline_records_are_named_by_their_path():
    record = convert({"type": "object", "properties": {
        "spec": {"type": "object", "properties": {"rules": {"type": "array", "items": {"type": "object", "properties": {"x": {"type": "string"}}}}}},
        "labels": {"type": "object", "additionalProperties": {"type": "object", "properties": {"y": {"type": "string"}}}}}},
        name="Thing")
    spec = record.fields["spec"].type
    assert spec.name == "Thing.spec"
    assert spec.fields["rules"].type.element.name == "Thing.spec.rules[]"
    assert record.fields["labels"].type.value.name == "Thing.labels.*"


def test_unions_of_scalars_and_int_or_string():
    assert convert({"oneOf": [{"type": "string"}, {"type": "integer"}]}) == UnionType((StringType(), IntType()))
    assert convert({"anyOf": [{"type": "integer"}, {"type": "string"}], "x-kubernetes-int-or-string": True}) == UnionType((IntType(), StringType()))
    assert convert({"type": ["integer", "string"]}) == UnionType((IntType(), StringType()))
    assert convert({"type": ["integer", "number"]}) == FloatType()
    # alternatives that are objects cannot be told apart by the checker: any
    assert convert({"oneOf": [{"type": "object", "properties": {"a": {"type": "string"}}}, {"type": "string"}]}) == AnyType()


def test_quantities_and_durations_take_both_the_unit_and_the_string_form():
    quantity = UnionType((QuantityType(), StringType(QUANTITY_PATTERN, message="a quantity, e.g. `500m`, `2` or `1Gi`")), "quantity")
    assert convert({"x-kubernetes-int-or-string": True, "pattern": QUANTITY_PATTERN, "anyOf": [{"type": "integer"}, {"type": "string"}]}) == quantity
    kubernetes = {"$defs": {"io.k8s.apimachinery.pkg.api.resource.Quantity": {"oneOf": [{"type": "string"}, {"type": "number"}]}},
                  "type": "object", "properties": {"cpu": {"$ref": "#/$defs/io.k8s.apimachinery.pkg.api.resource.Quantity"}}}
    assert convert(kubernetes).fields["cpu"].type == quantity
    flux_interval = {"type": "string", "pattern": r"^([0-9]+(\.[0-9]+)?(ms|s|m|h))+$"}
    assert convert(flux_interval) == UnionType((DurationType(), StringType(flux_interval["pattern"], message="a duration, e.g. `30s`, `5m` or `1h30m`")), "duration")
    assert convert({"type": "string", "format": "duration"}) == UnionType((DurationType(), StringType()), "duration")
    assert convert(flux_interval).describe() == "duration" and quantity.describe() == "quantity"
    assert convert({"type": "string", "pattern": "^[a-z]+$"}) == StringType("^[a-z]+$")


def test_all_of_merges_properties_and_ignores_pure_constraints():
    record = convert({"$defs": {"Base": {"type": "object", "properties": {"a": {"type": "string"}}, "required": ["a"]}},
                      "allOf": [{"$ref": "#/$defs/Base"}, {"properties": {"b": {"type": "integer"}}, "type": "object"},
                                {"oneOf": [{"required": ["a"]}, {"required": ["b"]}]}]})
    assert list(record.fields) == ["a", "b"] and not record.fields["a"].optional and record.fields["b"].optional


def test_refs_share_one_record_and_recursion_terminates():
    schema = {"definitions": {"Node": {"type": "object", "properties": {"child": {"$ref": "#/definitions/Node"},
                                                                        "children": {"type": "array", "items": {"$ref": "#/definitions/Node"}}}},
                              "Loop": {"$ref": "#/definitions/Loop"}},
              "type": "object", "properties": {"node": {"$ref": "#/definitions/Node"}, "loop": {"$ref": "#/definitions/Loop"}}}
    root = convert(schema)
    node = root.fields["node"].type
    assert node.name == "Node"
    assert node.fields["child"].type is node and node.fields["children"].type.element is node
    assert root.fields["loop"].type == AnyType()


def test_definition_names_are_the_shortest_unique_suffix_and_external_refs_are_any():
    schema = {"$defs": {"io.k8s.api.resource.v1.DeviceClaim": {"type": "object", "properties": {"a": {"type": "string"}}},
                        "io.k8s.api.resource.v1beta1.DeviceClaim": {"type": "object", "properties": {"a": {"type": "string"}}},
                        "io.k8s.api.core.v1.PodSpec": {"type": "object", "properties": {"a": {"type": "string"}}},
                        "a/b~c": {"type": "object", "properties": {"a": {"type": "string"}}}}}
    converter = SchemaConverter(schema, "K8s")
    assert converter.definition("io.k8s.api.core.v1.PodSpec").name == "PodSpec"
    assert converter.definition("io.k8s.api.resource.v1.DeviceClaim").name == "v1.DeviceClaim"
    assert converter.definition("io.k8s.api.resource.v1beta1.DeviceClaim").name == "v1beta1.DeviceClaim"
    assert converter.definition("a/b~c").name == "a/b~c"
    assert converter.definition("missing") == AnyType()
    assert converter.type_of({"$ref": "other.json#/x"}, "X") == AnyType()


def test_the_kubernetes_pod_schema_converts(tmp_path):
    """The whole of a real, large, recursive document converts (CRD's JSONSchemaProps refers to itself)."""
    import json
    import kubernetes_validate

    folder = Path(kubernetes_validate.__file__).parent / "kubernetes-json-schema" / "v1.35.0-local-strict"
    document = json.loads((folder / "_definitions.json").read_text())
    converter = SchemaConverter(document, "k8s")
    deployment = converter.definition("io.k8s.api.apps.v1.Deployment")
    pod = deployment.fields["spec"].type.fields["template"].type.fields["spec"].type
    assert pod.name == "PodSpec" and not pod.open
    container = pod.fields["containers"].type.element
    assert not container.fields["name"].optional
    assert container.fields["resources"].type.fields["limits"].type.value.describe() == "quantity"
    assert container.fields["ports"].type.element.fields["containerPort"].type == IntType(-(2**31), 2**31 - 1)
    crd = converter.definition("io.k8s.apiextensions-apiserver.pkg.apis.apiextensions.v1.JSONSchemaProps")
    assert crd.fields["properties"].type.value is crd


# ---- values checked against converted types -------------------------------------------------------


@pytest.fixture
def check_value(tmp_path):
    """check_value(schema, "gop expression") -> (value, diagnostics) by the real checker."""
    def run(schema, text: str, strict: bool = True):
        (tmp_path / "main.gop").write_text(f"let x = {text}\n", encoding="utf-8")
        analysis = analyse([tmp_path])
        assert analysis.diagnostics == []
        checker = analysis.checker
        decl = next(d for f in analysis.program.files.values() for d in f.decls if isinstance(d, ast.LetDecl) and d.name.text == "x")
        checker.diagnostics.clear()
        value = checker.value(decl.value, convert(schema, strict=strict), checker.scope_of(decl))
        return value, [(d.code, d.message) for d in checker.diagnostics]
    return run


INT_OR_STRING = {"x-kubernetes-int-or-string": True}
QUANTITY = {"x-kubernetes-int-or-string": True, "pattern": QUANTITY_PATTERN}


def test_a_union_takes_the_member_the_value_fits(check_value):
    assert check_value(INT_OR_STRING, "8080") == (8080, [])
    assert check_value(INT_OR_STRING, '"http"') == ("http", [])
    assert check_value(QUANTITY, "500m") == (Quantity.parse("500m"), [])
    assert check_value(QUANTITY, '"500m"') == ("500m", [])
    assert check_value({"type": "string", "format": "duration"}, "10m") == (Duration.parse("10m"), [])


def test_a_value_of_no_member_reports_the_member_of_its_kind_or_a_mismatch(check_value):
    value, diagnostics = check_value(QUANTITY, '"lots"')
    assert value is INVALID
    assert diagnostics == [(codes.REFINEMENT_NOT_MET, '"lots" is not a quantity, e.g. `500m`, `2` or `1Gi`')]
    value, diagnostics = check_value(INT_OR_STRING, "true")
    assert value is INVALID and diagnostics == [(codes.TYPE_MISMATCH, "expected an `int | string`, found true")]


def test_a_closed_record_rejects_an_unknown_field_with_a_suggestion(check_value):
    schema = {"type": "object", "properties": {"replicas": {"type": "integer"}}}
    value, diagnostics = check_value(schema, "{ replica = 2 }")
    assert value == {}  # the field left out, the rest checked
    assert diagnostics == [(codes.UNKNOWN_FIELD, "`Root` has no field `replica`")]


def test_an_open_record_types_its_known_fields_and_takes_others(check_value):
    schema = {"type": "object", "properties": {"replicas": {"type": "integer"}}}
    assert check_value(schema, "{ replicas = 2, extra { a = 1 } }", strict=False) == ({"replicas": 2, "extra": {"a": 1}}, [])
    value, diagnostics = check_value(schema, '{ replicas = "two" }', strict=False)
    assert diagnostics == [(codes.TYPE_MISMATCH, '`replicas`: expected an `int`, found "two"')]
