"""The schemas of Kubernetes kinds: (apiVersion, kind) -> its type and whether it is namespaced.

Input: the vendored Kubernetes 1.35 and Flux schemas (package data in `kubernetes/`, written by
bench/vendor_kube_schemas.py from kubernetes-validate and Flux's CRDs), and CustomResourceDefinitions
a program adds (its own CRD files, the CRDs of its vendored charts). Output: a `KindSchema` per
(apiVersion, kind), its record type (jsonschema.py converts it, strict: an unknown field is an error),
and `plain_problems`, which checks a plain value read from YAML against a type.

A kind with no schema has no entry: the caller reports it, it never guesses. Every kind's
`metadata` is Kubernetes' ObjectMeta (a CRD's schema leaves it untyped).

Caches: the vendored documents and their converted types are process-wide (`_vendored`; pure
functions of package data; listed in compiler/session.py); a converter is used under its lock
(the language server analyses roots in parallel). A `SchemaIndex` and the types of the CRDs
added to it live as long as the analysis that made it.
"""

from __future__ import annotations

import functools
import json
import threading
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

from gop.compiler.core.frozen import frozen
from gop.compiler.diagnostics.suggest import did_you_mean
from gop.compiler.semantic.check import string_fits
from gop.compiler.semantic.jsonschema import SchemaConverter
from gop.compiler.semantic.types import (
    AnyType, BoolType, Duration, DurationType, EnumType, Field, FloatType, IntType, ListType, MapType, Quantity,
    QuantityType, RecordType, StringType, Type, UnionType, describe_value,
)

VENDORED = Path(__file__).resolve().parent / "kubernetes"
KUBERNETES_VERSION = "1.35"
OBJECT_META = "io.k8s.apimachinery.pkg.apis.meta.v1.ObjectMeta"
CRD_API_VERSION = "apiextensions.k8s.io/v1"


@frozen
class KindSchema:
    api_version: str
    kind: str
    namespaced: bool
    origin: str  # where its schema comes from, for messages: "Kubernetes 1.35", "Flux", "crds/widgets.yaml"


@dataclass
class _Converted:
    """Kinds whose types one converter makes, under its lock (a converter is not safe across threads)."""

    converter: SchemaConverter | None
    definitions: dict[tuple[str, str], Any]  # (apiVersion, kind) -> definition key, or a CRD's schema
    lock: threading.RLock = field(default_factory=threading.RLock)
    records: dict[tuple[str, str], RecordType] = field(default_factory=dict)


def crd_kinds(document: Any) -> list[dict]:
    """The kinds a CustomResourceDefinition defines, one per served version: apiVersion, kind,
    namespaced, schema (its openAPIV3Schema). [] for anything else."""
    if not isinstance(document, dict) or document.get("kind") != "CustomResourceDefinition":
        return []
    spec = document.get("spec") if isinstance(document.get("spec"), dict) else {}
    names = spec.get("names") if isinstance(spec.get("names"), dict) else {}
    group, kind = spec.get("group"), names.get("kind")
    if not isinstance(group, str) or not isinstance(kind, str):
        return []
    kinds = []
    for version in spec.get("versions") or ():
        if not isinstance(version, dict) or not isinstance(version.get("name"), str) or version.get("served") is False:
            continue
        schema = (version.get("schema") or {}).get("openAPIV3Schema") if isinstance(version.get("schema"), dict) else None
        kinds.append({"apiVersion": f"{group}/{version['name']}", "kind": kind, "namespaced": spec.get("scope") != "Cluster",
                      "schema": schema if isinstance(schema, dict) else {"type": "object", "x-kubernetes-preserve-unknown-fields": True}})
    return kinds


# Process-wide (see compiler/session.py): pure functions of the package data.
@functools.lru_cache(maxsize=1)
def _vendored() -> tuple[dict[tuple[str, str], KindSchema], _Converted, _Converted]:
    kubernetes = json.loads((VENDORED / f"kubernetes-{KUBERNETES_VERSION}.json").read_text(encoding="utf-8"))
    flux = json.loads((VENDORED / "flux.json").read_text(encoding="utf-8"))
    kinds: dict[tuple[str, str], KindSchema] = {}
    for entry in kubernetes["kinds"]:
        kinds[(entry["apiVersion"], entry["kind"])] = KindSchema(entry["apiVersion"], entry["kind"], entry["namespaced"], f"Kubernetes {KUBERNETES_VERSION}")
    for entry in flux["kinds"]:
        kinds[(entry["apiVersion"], entry["kind"])] = KindSchema(entry["apiVersion"], entry["kind"], entry["namespaced"], "Flux")
    core = _Converted(SchemaConverter({"$defs": kubernetes["$defs"]}, "Kubernetes"),
                      {(entry["apiVersion"], entry["kind"]): entry["definition"] for entry in kubernetes["kinds"]})
    crds = _Converted(None, {(entry["apiVersion"], entry["kind"]): entry["schema"] for entry in flux["kinds"]})
    return kinds, core, crds


class SchemaIndex:
    """The kinds a program may declare: Kubernetes 1.35's, Flux's, and the CRDs added to it."""

    def __init__(self) -> None:
        vendored, self._core, self._flux = _vendored()
        self._kinds = dict(vendored)
        self._added = _Converted(None, {})

    def add_crd(self, document: Any, origin: str) -> list[KindSchema]:
        """Add the kinds a CRD document defines (none if it is no CRD); returns them."""
        added = []
        for entry in crd_kinds(document):
            key = (entry["apiVersion"], entry["kind"])
            self._kinds[key] = KindSchema(entry["apiVersion"], entry["kind"], entry["namespaced"], origin)
            self._added.definitions[key] = entry["schema"]
            self._added.records.pop(key, None)
            added.append(self._kinds[key])
        return added

    def find(self, api_version: str, kind: str) -> KindSchema | None:
        return self._kinds.get((api_version, kind))

    def hint(self, api_version: str, kind: str) -> tuple[str, str | None] | None:
        """What the user probably meant by an unknown (apiVersion, kind): in words, with the kind to
        write instead when it is misspelt; or None."""
        served = sorted(version for version, known in self._kinds if known == kind)
        if served:
            return f"`{kind}` is served as {', '.join(f'`{version}`' for version in served)}", None
        group = api_version.rpartition("/")[0]
        guess = did_you_mean(kind, sorted({known for version, known in self._kinds if version.rpartition("/")[0] == group}))
        if guess is not None:
            versions = sorted(version for version, known in self._kinds if known == guess)
            return f"did you mean `{guess}` ({', '.join(f'`{version}`' for version in versions)})?", guess
        return None

    def record(self, schema: KindSchema) -> RecordType:
        """The type of an object of `schema`'s kind (`metadata` is ObjectMeta)."""
        key = (schema.api_version, schema.kind)
        holder = next(holder for holder in (self._added, self._core, self._flux) if key in holder.definitions)
        with holder.lock:
            if key not in holder.records:
                holder.records[key] = self._converted(holder, key)
            return holder.records[key]

    def _converted(self, holder: _Converted, key: tuple[str, str]) -> RecordType:
        if holder.converter is not None:
            converted = holder.converter.definition(holder.definitions[key])
        else:
            converted = SchemaConverter(holder.definitions[key], key[1]).root()
        if not isinstance(converted, RecordType):  # a CRD whose schema is not an object: any fields
            converted = RecordType(key[1], {}, None, open=True)
        with self._core.lock:
            meta = self._core.converter.definition(OBJECT_META)
        # Every object has these, whether or not a CRD's schema lists them.
        own = {"apiVersion": Field("apiVersion", StringType(), True), "kind": Field("kind", StringType(), True),
               "metadata": Field("metadata", meta, True)}
        for name, field_ in own.items():
            if name not in converted.fields:
                converted.fields[name] = field_
            elif name == "metadata" and converted.fields[name].type != meta:
                converted.fields[name] = replace(converted.fields[name], type=meta)
        return converted


# ---- plain values (read from YAML) against types --------------------------------------------------


def plain_problems(value: Any, type_: Type, path: tuple = ()) -> list[tuple[tuple, str]]:
    """Where a plain value (str, int, float, bool, dict, list, None, as YAML gives them) does not fit
    `type_`: (path of keys and list indexes, message) in document order; [] when it fits."""
    problems: list[tuple[tuple, str]] = []
    _check_plain(value, type_, path, problems)
    return problems


def _check_plain(value: Any, type_: Type, path: tuple, problems: list) -> None:
    if value is None or isinstance(type_, AnyType):
        return  # null: the field is as good as absent (Kubernetes reads it so)
    if isinstance(type_, RecordType):
        _check_record(value, type_, path, problems)
    elif isinstance(type_, MapType):
        if not isinstance(value, dict):
            problems.append((path, f"expected a map, found {_show(value)}"))
            return
        for key, item in value.items():
            if not isinstance(key, str) or not _fits(key, type_.key):
                problems.append((path + (key,), f"the key {_show(key)} is not {_a(type_.key)}"))
            _check_plain(item, type_.value, path + (key,), problems)
    elif isinstance(type_, ListType):
        if not isinstance(value, list):
            problems.append((path, f"expected a list, found {_show(value)}"))
            return
        if not _within(len(value), type_.min_length, type_.max_length):
            problems.append((path, f"has {len(value)} items; allowed: {_range(type_.min_length, type_.max_length)}"))
        for index, item in enumerate(value):
            _check_plain(item, type_.element, path + (index,), problems)
    elif not _fits(value, type_):
        problems.append((path, _scalar_problem(value, type_)))


def _check_record(value: Any, record: RecordType, path: tuple, problems: list) -> None:
    if not isinstance(value, dict):
        problems.append((path, f"expected a `{record.name}` object, found {_show(value)}"))
        return
    for key, item in value.items():
        known = record.fields.get(key) if isinstance(key, str) else None
        if known is not None:
            _check_plain(item, known.type, path + (key,), problems)
        elif not record.open:
            hint = did_you_mean(str(key), record.fields)
            problems.append((path + (key,), f"`{record.name}` has no field `{key}`" + (f"; did you mean `{hint}`?" if hint else "")))
    for name, known in record.fields.items():
        if not known.optional and value.get(name) is None:
            problems.append((path, f"`{record.name}` is missing its required field `{name}`"))


def _fits(value: Any, type_: Type) -> bool:
    if isinstance(type_, UnionType):
        return any(_fits(value, member) for member in type_.members)
    if isinstance(type_, BoolType):
        return isinstance(value, bool)
    if isinstance(value, bool):
        return isinstance(type_, EnumType) and any(value is allowed for allowed in type_.values)
    if isinstance(type_, IntType):
        return isinstance(value, int) and _within(value, type_.minimum, type_.maximum)
    if isinstance(type_, FloatType):
        return isinstance(value, (int, float)) and _within(value, type_.minimum, type_.maximum)
    if isinstance(type_, StringType):
        return isinstance(value, str) and string_fits(value, type_)
    if isinstance(type_, EnumType):
        return any(value == allowed and type(value) is type(allowed) for allowed in type_.values)
    if isinstance(type_, QuantityType):
        return isinstance(value, (int, float)) or isinstance(value, str) and _parses(Quantity.parse, value)
    if isinstance(type_, DurationType):
        return isinstance(value, str) and _parses(Duration.parse, value)
    return True


def _parses(parse, text: str) -> bool:
    try:
        parse(text)
    except ValueError:
        return False
    return True


def _scalar_problem(value: Any, type_: Type) -> str:
    strings = [member for member in type_.members if isinstance(member, StringType)] if isinstance(type_, UnionType) else []
    if isinstance(value, str) and len(strings) == 1:  # a string as the union's string member says it
        type_ = strings[0]
    if isinstance(type_, StringType) and isinstance(value, str):
        if not _within(len(value), type_.min_length, type_.max_length):
            return f"{_show(value)} has {len(value)} characters; allowed: {_range(type_.min_length, type_.max_length)}"
        if type_.message is not None:
            return f"{_show(value)} is not {type_.message}"
        return f"{_show(value)} does not match the pattern `{type_.pattern}`"
    if isinstance(type_, EnumType):
        hint = did_you_mean(str(value), [v for v in type_.values if isinstance(v, str)]) if isinstance(value, str) else None
        return f"{_show(value)} is not one of the allowed values: {type_.describe()}" + (f'; did you mean "{hint}"?' if hint else "")
    if isinstance(type_, (IntType, FloatType)) and isinstance(value, (int, float)) and not isinstance(value, bool):
        return f"{_show(value)} is out of range: {_range(type_.minimum, type_.maximum)}"
    return f"expected {_a(type_)}, found {_show(value)}"


def _within(number, low, high) -> bool:
    return (low is None or number >= low) and (high is None or number <= high)


def _range(low, high) -> str:
    if low is not None and high is not None:
        return f"from {low} to {high}"
    return f"at least {low}" if low is not None else f"at most {high}"


def _a(type_: Type) -> str:
    text = type_.describe()
    return f"{'an' if text[:1] in 'aeiou' else 'a'} `{text}`"


def _show(value: Any) -> str:
    if value is None:
        return "null"
    if isinstance(value, dict):
        return "a map"
    if isinstance(value, list):
        return "a list"
    return describe_value(value)
