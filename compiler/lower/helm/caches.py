"""What the Helm lowering of one program's apps works out once and reads many times.

Input: nothing at first; filled by the Helm lowering (`chart`, `schema`) as it goes.
Output: a `HelmCaches`: each app's chart version (asked by every HelmRelease, chart source and
render of the app) and the digest of what makes its objects (`chart_content_digest`), and each field's JSON Schema with its printed texts (every chart has the
prelude's fields, and mostly the same `values` schemas).

Invariants:
- One object per program (`lower.flux.caches.LoweringCaches.helm`; a Helm lowering called
  without one makes its own): it lives as long as its holder, so it never outlives the program.
- Keyed by the identity of the app or type they were worked out from; an entry keeps that
  object, so an id is never reused while the entry lives. The models and types do not change
  after evaluation.
- What is kept is shared, never changed by its readers (`schema` hands out copies).
"""

from __future__ import annotations

from typing import Any

from gop.compiler.fleet.model import AppModel
from gop.compiler.semantic.types import Type


class HelmCaches:
    def __init__(self) -> None:
        self._versions: dict[int, tuple[AppModel, str]] = {}  # id(app) -> (app, its chart version)
        # (id(type), optional, has a default, repr(default), doc) -> (type, schema): what a field's schema depends on (not its name:
        # every app has its own `values` field, of the same schema type)
        self.field_schemas: dict[tuple, tuple[Type, dict[str, Any]]] = {}
        self.schema_texts: dict[int, tuple[dict[str, Any], dict[int, str]]] = {}  # id(schema) -> (schema, indent -> text)
        self._contents: dict[int, tuple[AppModel, str]] = {}  # id(app) -> (app, digest of what makes its objects)

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
