"""JSON Schema (draft-07) of chart values, derived from the semantic types.

Input: a `RecordType` (for a chart: the app's values type and its chart parts).
Output: a JSON-ready dict; `values.schema.json` is `json.dumps(chart_schema(app), indent=2)`.

Draft-07 because every Helm that Flux may embed reads it (Helm 3 before 3.18 reads nothing
newer) and Helm 4 validates it; nothing here needs a later draft.

Invariants:
- Records are closed (`additionalProperties: false`) unless the type is open; every field
  that is not optional is `required`, defaults included: Helm never fills in schema defaults,
  so a values tree without them would render nulls (the default is still shown as `default`).
- Constraints carry over: int/float ranges, string pattern and length, enums, list lengths,
  map key patterns (`propertyNames`). Durations are strings in Go's duration syntax, quantities
  strings in Kubernetes quantity syntax or numbers; their ranges are checked by gopc only.
- Records are written inline; a record inside itself becomes a `$ref` into `definitions`.
- `chart_schema_text` is `json.dumps(chart_schema(app), indent=2)` byte for byte. A field's
  schema depends on its type, default and doc only, and every chart has the same fields (the
  prelude's, and mostly the same `values` schemas), so it is built and printed once and kept,
  with its text, in the program's `HelmCaches`; the schemas handed out are copies, so nobody can
  change a kept one. A schema that refers to a recursive record depends on where it is: never kept.
- The text is printed as its UTF-8 bytes, from the kept bytes of its fields, and decoded once; the
  program's `HelmCaches` keep the bytes with it (`HelmCaches.utf8`) for the version's digest and
  the build. Every chart's text holds the duration pattern's `µ` and `μ`, so Python stores it two
  bytes a character, and encoding that 53 KB text again for each chart costs more than printing it.
"""

from __future__ import annotations

import copy
import json
from typing import Any

from gop.compiler.fleet.model import AppModel
from gop.compiler.values import plain
from gop.compiler.semantic.types import (
    AnyType, BoolType, DurationType, EnumType, Field, FloatType, IntType, ListType, MapType, QuantityType,
    RecordType, ResourceRefType, SecretType, StringType, Type, UnionType, DATA_KEY, SECRET_NAME,
)
from gop.compiler.lower.helm.caches import HelmCaches
from gop.compiler.language import MAP_PART_FIELDS, WorkloadField
from gop.compiler.lower.helm.parts import chart_parts, hidden_fields, kinds_of

SCHEMA_DRAFT = "http://json-schema.org/draft-07/schema#"
GO_DURATION_PATTERN = r"^[-+]?(0|(([0-9]+(\.[0-9]*)?|\.[0-9]+)(ns|us|µs|μs|ms|s|m|h))+)$"
QUANTITY_PATTERN = r"^[+-]?([0-9]+(\.[0-9]*)?|\.[0-9]+)([KMGTPE]i|[numkMGTPE]|[eE][+-]?[0-9]+)?$"


def _secret_ref_schema() -> dict[str, Any]:
    """A secret reference as the chart reads it: typed like the secret functions' arguments."""
    return {
        "description": "A key of a Kubernetes Secret.",
        "type": "object",
        "properties": {
            "secret": {"description": "The Secret's name.", **_string(SECRET_NAME)},
            "key": {"description": "The key in the Secret.", **_string(DATA_KEY)},
        },
        "required": ["secret", "key"],
        "additionalProperties": False,
    }


def values_schema(record: RecordType) -> dict[str, Any]:
    """A standalone JSON Schema document for values of `record`."""
    return copy.deepcopy(_values_schema(record, HelmCaches()))


def chart_schema(app: AppModel) -> dict[str, Any]:
    """values.schema.json of an app's chart: its values type without the Flux-level fields and
    without the parts the chart does not have."""
    return copy.deepcopy(_chart_schema(app, HelmCaches()))


def chart_schema_text(app: AppModel, caches: HelmCaches | None = None) -> str:
    """The text of values.schema.json: `json.dumps(chart_schema(app), indent=2, ensure_ascii=False)`.
    `caches`: the program's, to build and print each field's schema once for all its charts (and
    which then hold the text's UTF-8 bytes, `HelmCaches.utf8`)."""
    caches = caches or HelmCaches()
    data = _json(_chart_schema(app, caches), 0, caches) + b"\n"
    text = data.decode("utf-8")
    caches.remember_utf8(text, data)
    return text


def _values_schema(record: RecordType, caches: HelmCaches) -> dict[str, Any]:
    builder = _Builder(caches)
    body = builder.record(record)
    document: dict[str, Any] = {"$schema": SCHEMA_DRAFT, "title": record.name, **body}
    if builder.definitions:
        document["definitions"] = dict(sorted(builder.definitions.items()))
    return document


def _chart_schema(app: AppModel, caches: HelmCaches) -> dict[str, Any]:
    """chart_schema, sharing the kept schemas of the fields (not to be changed)."""
    document = _values_schema(app.values_type, caches)
    document["title"] = app.name
    if app.doc:
        document["description"] = app.doc
    properties: dict[str, Any] = dict(document.get("properties", {}))
    document["properties"] = properties
    parts = chart_parts(app)
    for name in hidden_fields(parts):
        properties.pop(name, None)
    if WorkloadField.WORKLOAD in properties:  # only the kinds the chart has templates for
        workload = properties[WorkloadField.WORKLOAD]
        kinds = kinds_of(parts)
        properties[WorkloadField.WORKLOAD] = caches.kept_schema(
            (WorkloadField.WORKLOAD, id(workload), *kinds), workload, lambda: {**workload, "enum": kinds})
    for name in MAP_PART_FIELDS:
        if name not in parts and name in properties:
            properties[name] = caches.kept_schema((name,), None, lambda: {
                "description": f"Unused: this chart has no {name}.", "type": "object", "maxProperties": 0})
    if "required" in document:
        document["required"] = [name for name in document["required"] if name in properties]
    return document


_json_string = json.encoder.encode_basestring  # what json.dumps(text, ensure_ascii=False) writes


class _Builder:
    def __init__(self, caches: HelmCaches) -> None:
        self.caches = caches
        self.definitions: dict[str, Any] = {}
        self._open_records: list[str] = []
        self._referred: set[str] = set()  # open records referred to from inside themselves
        self._refs = 0  # $refs written so far: a schema built without one does not depend on where it is

    def record(self, record: RecordType) -> dict[str, Any]:
        if record.name in self._open_records:  # recursion: refer to one shared definition
            self._referred.add(record.name)
            return self._ref(record.name)
        self._open_records.append(record.name)
        schema: dict[str, Any] = {"type": "object"}
        if record.doc:
            schema = {"description": record.doc, **schema}
        schema["properties"] = {name: self.field(field) for name, field in record.fields.items()}
        required = [name for name, field in record.fields.items() if not field.optional]
        if required:
            schema["required"] = required
        if not record.open:
            schema["additionalProperties"] = False
        self._open_records.pop()
        if record.name in self._referred:
            self._referred.discard(record.name)
            self.definitions[record.name] = schema
            return self._ref(record.name)
        return schema

    def _ref(self, name: str) -> dict[str, Any]:
        self._refs += 1
        return {"$ref": "#/definitions/" + _pointer_escape(name)}

    def field(self, field: Field) -> dict[str, Any]:
        same_field = self.caches.field_schemas.get(id(field))  # most charts' fields are the very same objects
        if same_field is not None and same_field[0] is field:
            return same_field[1]
        key = (id(field.type), field.optional, field.has_default, repr(field.default), field.doc)
        kept = self.caches.field_schemas.get(key)
        if kept is not None and kept[0] is field.type:
            self.caches.field_schemas[id(field)] = (field, kept[1])
            return kept[1]
        refs = self._refs
        schema = dict(self.type(field.type))
        if field.doc:
            schema = {"description": field.doc, **{k: v for k, v in schema.items() if k != "description"}}
        if field.has_default:
            schema["default"] = plain(field.default)
        if self._refs == refs:
            self.caches.field_schemas[key] = (field.type, schema)
            self.caches.field_schemas[id(field)] = (field, schema)
            self.caches.schema_texts[id(schema)] = (schema, {})
        return schema

    def type(self, type_: Type) -> dict[str, Any]:
        if isinstance(type_, RecordType):
            return self.record(type_)
        if isinstance(type_, IntType):
            return _bounded({"type": "integer"}, type_.minimum, type_.maximum)
        if isinstance(type_, FloatType):
            return _bounded({"type": "number"}, type_.minimum, type_.maximum)
        if isinstance(type_, BoolType):
            return {"type": "boolean"}
        if isinstance(type_, StringType):
            return _string(type_)
        if isinstance(type_, EnumType):
            return _enum(type_)
        if isinstance(type_, UnionType):
            return {"anyOf": [self.type(member) for member in type_.members]}
        if isinstance(type_, DurationType):
            return {"type": "string", "pattern": GO_DURATION_PATTERN}
        if isinstance(type_, QuantityType):
            return {"type": ["string", "number"], "pattern": QUANTITY_PATTERN}
        if isinstance(type_, ListType):
            schema: dict[str, Any] = {"type": "array", "items": self.type(type_.element)}
            if type_.min_length is not None:
                schema["minItems"] = type_.min_length
            if type_.max_length is not None:
                schema["maxItems"] = type_.max_length
            return schema
        if isinstance(type_, MapType):
            schema = {"type": "object"}
            names = _key_schema(type_.key)
            if names:
                schema["propertyNames"] = names
            schema["additionalProperties"] = self.type(type_.value)
            return schema
        if isinstance(type_, SecretType):
            return _secret_ref_schema()
        if isinstance(type_, ResourceRefType):
            return {"type": "string"}
        if isinstance(type_, AnyType):
            return {}
        raise TypeError(f"no JSON Schema for {type_!r}")


def _bounded(schema: dict[str, Any], minimum: Any, maximum: Any) -> dict[str, Any]:
    if minimum is not None:
        schema["minimum"] = minimum
    if maximum is not None:
        schema["maximum"] = maximum
    return schema


def _string(type_: StringType) -> dict[str, Any]:
    schema: dict[str, Any] = {"type": "string"}
    if type_.min_length is not None:
        schema["minLength"] = type_.min_length
    if type_.max_length is not None:
        schema["maxLength"] = type_.max_length
    if type_.pattern is not None:
        schema["pattern"] = type_.pattern
    return schema


def _enum(type_: EnumType) -> dict[str, Any]:
    kinds = {_json_type(value) for value in type_.values}
    schema: dict[str, Any] = {}
    if len(kinds) == 1:
        schema["type"] = kinds.pop()
    elif kinds == {"integer", "number"}:
        schema["type"] = "number"
    schema["enum"] = list(type_.values)
    return schema


def _json_type(value: Any) -> str:
    if isinstance(value, bool):
        return "boolean"
    if isinstance(value, int):
        return "integer"
    if isinstance(value, float):
        return "number"
    return "string"


def _key_schema(key: Type) -> dict[str, Any]:
    """propertyNames for a map key type (an unconstrained string needs none)."""
    if isinstance(key, StringType):
        schema = _string(key)
        schema.pop("type")
        return schema
    if isinstance(key, EnumType):
        return {"enum": [str(value) for value in key.values]}
    return {}


def _pointer_escape(name: str) -> str:
    return name.replace("~", "~0").replace("/", "~1")


# ---------------------------------------------------------------- the text

def _json(value: Any, indent: int, caches: HelmCaches) -> bytes:
    """`json.dumps(value, indent=2, ensure_ascii=False)` in UTF-8, for a value that starts `indent`
    columns in. The texts of a kept schema (`HelmCaches.schema_texts`) are printed once per indent, and
    so are those of an object of kept schemas and of a list of strings (`HelmCaches.composed_texts`:
    every chart's `properties` and `required`)."""
    if type(value) is dict:
        if not value:
            return b"{}"
        kept = caches.schema_texts.get(id(value))
        if kept is None or kept[0] is not value:
            return _composed(value, indent, caches)
        texts = kept[1]
        if indent not in texts:
            texts[indent] = _json_object(value, indent, caches)
        return texts[indent]
    if type(value) in (list, tuple):
        if not value:
            return b"[]"
        if all(type(item) is str for item in value):
            key = (indent, "[", *value)
            text = caches.composed_texts.get(key)
            if text is None:
                text = caches.composed_texts[key] = _json_list(value, indent, caches)
            return text
        return _json_list(value, indent, caches)
    if type(value) is str:
        return _json_string(value).encode("utf-8")
    return json.dumps(value, ensure_ascii=False).encode("utf-8")


def _composed(value: dict[str, Any], indent: int, caches: HelmCaches) -> bytes:
    """The text of an object that is not kept; when its every entry is a kept schema, printed once
    for every object with those entries (the kept schemas live as long as `caches`: their ids stay theirs)."""
    kept_texts = caches.schema_texts
    key: list = [indent, "{"]
    for name, item in value.items():
        kept = kept_texts.get(id(item))
        if kept is None or kept[0] is not item:
            return _json_object(value, indent, caches)
        key += (name, id(item))
    key = tuple(key)
    text = caches.composed_texts.get(key)
    if text is None:
        text = caches.composed_texts[key] = _json_object(value, indent, caches)
    return text


def _json_object(value: dict[str, Any], indent: int, caches: HelmCaches) -> bytes:
    inner = b" " * (indent + 2)
    entries = (inner + _json_string(key).encode("utf-8") + b": " + _json(item, indent + 2, caches)
               for key, item in value.items())
    return b"{\n" + b",\n".join(entries) + b"\n" + b" " * indent + b"}"


def _json_list(value: list | tuple, indent: int, caches: HelmCaches) -> bytes:
    inner = b" " * (indent + 2)
    return b"[\n" + b",\n".join(inner + _json(item, indent + 2, caches) for item in value) + b"\n" + b" " * indent + b"]"
