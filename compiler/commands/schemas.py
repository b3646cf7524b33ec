"""Pydantic models of the JSON `gopc` prints besides diagnostics, and the list of published schemas.

Input: none (models). Output: `ShowDocument`, the model `gopc show --format json` prints, and
`DiffDocument`, the one `gopc diff --format json` prints (their `model_dump(by_alias=True)` is the
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


PUBLISHED: dict[str, type[BaseModel]] = {"diagnostics.json": DiagnosticsDocument, "show.json": ShowDocument,
                                         "diff.json": DiffDocument}


def schema_text(model: type[BaseModel]) -> str:
    return json.dumps(model.model_json_schema(by_alias=True), indent=2, ensure_ascii=False) + "\n"


def write_schemas(directory: Path) -> None:
    directory.mkdir(parents=True, exist_ok=True)
    for name, model in PUBLISHED.items():
        (directory / name).write_text(schema_text(model), encoding="utf-8")


if __name__ == "__main__":
    write_schemas(Path(sys.argv[1] if len(sys.argv) > 1 else "docs/schemas"))
