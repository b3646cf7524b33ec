"""Pydantic models of the JSON `gopc` prints besides diagnostics, and the list of published schemas.

Input: none (models). Output: `ShowDocument`, the model `gopc show --format json` prints (its
`model_dump()` is the printed object, keys in field order), and `PUBLISHED`: the file name under
docs/schemas/ of each model's JSON Schema. `python -m gop.compiler.commands.schemas DIR` writes
them; tests/test_reporting.py checks the files are up to date and that real outputs validate.

Invariants: imported only on a JSON path (pydantic is not loaded by text-format runs).
"""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Any

from pydantic import BaseModel, ConfigDict, Field

from gop.compiler.diagnostics.jsonmodel import DiagnosticsDocument


class ShowDocument(BaseModel):
    """The effective model of one cluster: `gopc show --cluster C --format json`."""

    model_config = ConfigDict(extra="forbid", frozen=True, title="gopc show")

    cluster: str = Field(description="the cluster's name")
    env: str = Field(description="the env whose selector matches the cluster")
    labels: dict[str, Any] = Field(description="the cluster's labels")
    apps: dict[str, dict[str, Any]] = Field(description="each app running on the cluster: its effective values, every layer merged")


PUBLISHED: dict[str, type[BaseModel]] = {"diagnostics.json": DiagnosticsDocument, "show.json": ShowDocument}


def schema_text(model: type[BaseModel]) -> str:
    return json.dumps(model.model_json_schema(by_alias=True), indent=2, ensure_ascii=False) + "\n"


def write_schemas(directory: Path) -> None:
    directory.mkdir(parents=True, exist_ok=True)
    for name, model in PUBLISHED.items():
        (directory / name).write_text(schema_text(model), encoding="utf-8")


if __name__ == "__main__":
    write_schemas(Path(sys.argv[1] if len(sys.argv) > 1 else "docs/schemas"))
