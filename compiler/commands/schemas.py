"""Pydantic models of the JSON `gopc` prints besides diagnostics, and the list of published schemas.

Input: none (models). Output: `ShowDocument`, the model `gopc show --format json` prints,
`RenderDocument` (`gopc render --format json`), `ExplainValueDocument` and `ExplainCodeDocument`
(`gopc explain --format json`), and `DiffDocument`, the one `gopc diff --format json` prints (their `model_dump(by_alias=True)` is the
printed object, keys in field order), and `PUBLISHED`: the file name under
docs/schemas/ of each model's JSON Schema. `python -m gop.compiler.commands.schemas DIR` writes
them; tests/test_reporting.py checks the files are up to date and that real outputs validate.

Invariants: imported only on a JSON path (pydantic is not loaded by text-format runs).
"""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field

from gop.compiler.diagnostics.jsonmodel import DiagnosticsDocument


class ShowDocument(BaseModel):
    """The effective model of one cluster: `gopc show --cluster C --format json`."""

    model_config = ConfigDict(extra="forbid", frozen=True, title="gopc show")

    cluster: str = Field(description="the cluster's name")
    env: str = Field(description="the env whose selector matches the cluster")
    labels: dict[str, Any] = Field(description="the cluster's labels")
    apps: dict[str, dict[str, Any]] = Field(description="each app running on the cluster: its effective values, every layer merged")


class FieldChangeJSON(BaseModel):
    """A field of an object that differs: a leaf, or a whole list whose length changed."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    path: str = Field(description="the field's path, e.g. spec.template.spec.containers[0].image")
    change: Literal["changed", "added", "removed"] = Field(description="added: absent before; removed: absent after")
    before: Any = Field(description="the value before (null when the change is `added`)")
    after: Any = Field(description="the value after (null when the change is `removed`)")


class ObjectChangeJSON(BaseModel):
    """An object of a cluster that is added, removed or changed."""

    model_config = ConfigDict(extra="forbid", frozen=True, populate_by_name=True)

    change: Literal["changed", "added", "removed"]
    api_version: str = Field(alias="apiVersion")
    kind: str
    namespace: str | None = Field(description="null for a cluster-scoped object")
    name: str
    fields: list[FieldChangeJSON] = Field(description="the fields that differ; empty for an added or removed object")


class ClusterDiffJSON(BaseModel):
    """One compared cluster: how many objects change, and which."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    cluster: str
    changed: int = Field(ge=0)
    added: int = Field(ge=0)
    removed: int = Field(ge=0)
    objects: list[ObjectChangeJSON] = Field(description="in apiVersion, kind, namespace, name order; empty: no change")


class DiffDocument(BaseModel):
    """What `gopc diff --format json` prints on stdout (exit 0: no difference, 1: differences)."""

    model_config = ConfigDict(extra="forbid", frozen=True, title="gopc diff")

    before: str = Field(description="what the program is compared with: a revision, a program's paths or a built tree")
    after: str = Field(description="the program's paths")
    differs: bool = Field(description="true when any cluster changes (the exit code is then 1)")
    clusters: list[ClusterDiffJSON] = Field(description="every compared cluster, in name order")


class RenderDocument(BaseModel):
    """What `gopc render --cluster C --format json` prints (and `-o DIR` writes as DIR/<cluster>.json)."""

    model_config = ConfigDict(extra="forbid", frozen=True, title="gopc render")

    cluster: str = Field(description="the cluster's name")
    objects: list[dict[str, Any]] = Field(
        description="the objects Flux applies on the cluster, in the order Helm installs them: by kind as Helm's "
                    "InstallOrder lists kinds (PriorityClass, Namespace, ... CustomResourceDefinition, ... Deployment, ...), "
                    "unlisted kinds after by name, then by apiVersion, namespace and name")


class ExplainLayerJSON(BaseModel):
    """One assignment to the value explained (or below it), lowest layer first."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    layer: str = Field(description='"schema default", "app" (or "release", "resource"), "env overlay", "selector overlay" or "cluster override"')
    source: str = Field(description='the declaration: "env prod", "overlay cn-ingress", "cluster prod-eu-1", "App.replicas" for a default')
    file: str | None = Field(description="the file of the assignment (null for a schema default)")
    line: int | None = Field(ge=1, description="1-based")
    column: int | None = Field(ge=1, description="1-based, in characters")
    path: str = Field(description="the path assigned below the value explained, dotted; empty: the value itself")
    value: Any = Field(description="the value assigned")
    effective: bool = Field(description="whether this assignment is the one in effect")


class ExplainValueDocument(BaseModel):
    """What `gopc explain --cluster C APP.FIELD.PATH --format json` prints."""

    model_config = ConfigDict(extra="forbid", frozen=True, title="gopc explain --cluster")

    cluster: str
    env: str
    path: str = Field(description="the value explained, as given: APP.FIELD.PATH or release/NAME.FIELD.PATH")
    value: Any = Field(description="its effective value")
    layers: list[ExplainLayerJSON]


class ExplainCodeDocument(BaseModel):
    """What `gopc explain CODE --format json` prints."""

    model_config = ConfigDict(extra="forbid", frozen=True, title="gopc explain CODE")

    code: str = Field(pattern=r"^[EW]\d{4}$")
    title: str
    severity: Literal["error", "warning"]
    page: str = Field(description="the code's page, Markdown")


PUBLISHED: dict[str, type[BaseModel]] = {"diagnostics.json": DiagnosticsDocument, "show.json": ShowDocument,
                                         "diff.json": DiffDocument, "render.json": RenderDocument,
                                         "explain-value.json": ExplainValueDocument,
                                         "explain-code.json": ExplainCodeDocument}


def schema_text(model: type[BaseModel]) -> str:
    return json.dumps(model.model_json_schema(by_alias=True), indent=2, ensure_ascii=False) + "\n"


def write_schemas(directory: Path) -> None:
    directory.mkdir(parents=True, exist_ok=True)
    for name, model in PUBLISHED.items():
        (directory / name).write_text(schema_text(model), encoding="utf-8")


if __name__ == "__main__":
    write_schemas(Path(sys.argv[1] if len(sys.argv) > 1 else "docs/schemas"))
