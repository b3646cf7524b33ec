"""What the Helm lowering of one program's apps works out once and reads many times.

Input: nothing at first; filled by the Helm lowering (`chart`, `schema`) as it goes.
Output: a `HelmCaches`: each app's chart version (asked by every HelmRelease, chart source and
render of the app) and the digest of what makes its objects (`chart_content_digest`), and each field's JSON Schema with its printed texts (every chart has the
prelude's fields, and mostly the same `values` schemas), and the last values.schema.json printed with
its UTF-8 bytes (`utf8`: encoding its text again would cost more than printing it); each app's
chart parts, and the JSON texts of the config and values trees the releases of a render mount
(most clusters share them).

Invariants:
- One object per program (`lower.flux.caches.LoweringCaches.helm`; a Helm lowering called
  without one makes its own): it lives as long as its holder, so it never outlives the program.
- Keyed by the identity of the app or type they were worked out from; an entry keeps that
  object, so an id is never reused while the entry lives. The models and types do not change
  after evaluation.
- What is kept is shared, never changed by its readers (`schema` hands out copies).
- JSON texts are keyed by the `repr` of the plain tree, which tells apart everything that prints
  differently (equal reprs, equal texts).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from gop.compiler.core.identity import by_identity
from gop.compiler.emit.gojson import go_json
from gop.compiler.fleet.model import AppModel
from gop.compiler.lower.helm.parts import chart_parts
from gop.compiler.semantic.types import Field, Type


class HelmCaches:
    def __init__(self) -> None:
        self._versions: dict[int, tuple[AppModel, str]] = {}  # id(app) -> (app, its chart version)
        # (id(type), optional, has a default, repr(default), doc) -> (type, schema): what a field's schema depends on (not its name:
        # every app has its own `values` field, of the same schema type); and id(field) -> (field, schema)
        self.field_schemas: dict[tuple | int, tuple[Type | Field, dict[str, Any]]] = {}
        self.schema_texts: dict[int, tuple[dict[str, Any], dict[int, bytes]]] = {}  # id(schema) -> (schema, indent -> UTF-8 text)
        # (what it is made from) -> (what it is made from, schema): a chart's own property schemas, kept like the fields'
        self.chart_property_schemas: dict[tuple, tuple[Any, dict[str, Any]]] = {}
        # (indent, "{", name, id(kept schema), ...) or (indent, "[", text, ...) -> UTF-8 text: objects of kept schemas, lists of strings
        self.composed_texts: dict[tuple, bytes] = {}
        self._utf8: tuple[str, bytes] | None = None  # the last values.schema.json text printed, and its UTF-8
        self._contents: dict[int, tuple[AppModel, str]] = {}  # id(app) -> (app, digest of what makes its objects)
        self._parts: dict[int, tuple[AppModel, frozenset[str]]] = {}  # id(app) -> (app, chart_parts(app))
        self._json: dict[tuple[str, bool], str] = {}  # (repr(plain tree), pretty) -> go_json(tree, pretty=pretty)

    def chart_version(self, app: AppModel) -> str | None:
        known = self._versions.get(id(app))
        return known[1] if known is not None and known[0] is app else None

    def remember_chart_version(self, app: AppModel, version: str) -> None:
        self._versions[id(app)] = (app, version)

    def content_digest(self, app: AppModel) -> str | None:
        known = self._contents.get(id(app))
        return known[1] if known is not None and known[0] is app else None

    def remember_content_digest(self, app: AppModel, digest: str) -> None:
        self._contents[id(app)] = (app, digest)

    def kept_schema(self, key: tuple, source: Any, make: Callable[[], dict[str, Any]]) -> dict[str, Any]:
        """The schema `make` gives, made once per `key` (which holds the id of `source`, the kept
        schema it is made from, if any) and kept with its texts like a field's."""
        kept = self.chart_property_schemas.get(key)
        if kept is None or kept[0] is not source:
            kept = self.chart_property_schemas[key] = (source, make())
            self.schema_texts[id(kept[1])] = (kept[1], {})
        return kept[1]

    def remember_utf8(self, text: str, data: bytes) -> None:
        self._utf8 = (text, data)

    def utf8(self, text: str) -> bytes:
        """`text.encode("utf-8")`; the bytes the schema printed its last text as when that is `text`
        (one chart's schema at a time: the chart's version and its build read them, then the next chart's)."""
        kept = self._utf8
        return kept[1] if kept is not None and kept[0] is text else text.encode("utf-8")

    def chart_parts(self, app: AppModel) -> frozenset[str]:
        """`parts.chart_parts(app)`, worked out once per app."""
        return by_identity(self._parts, app, lambda: chart_parts(app))

    def go_json(self, tree: Any, *, pretty: bool = False) -> str:
        """`gojson.go_json(tree, pretty=pretty)` of a plain tree, worked out once per distinct tree."""
        key = (repr(tree), pretty)
        text = self._json.get(key)
        if text is None:
            text = self._json[key] = go_json(tree, pretty=pretty)
        return text
