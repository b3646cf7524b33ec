"""The diagnostics document of `--format json`, as pydantic models.

Input: field values the JSON renderer (`formats.render_json`) computes from `Diagnostic`s.
Output: the models, whose `model_dump(by_alias=True)` is the document `gopc` prints, and whose
JSON Schema is published as docs/schemas/diagnostics.json (tests/test_reporting.py keeps the
file equal to `DiagnosticsDocument.model_json_schema()`).

Invariants: the field order of each model is the key order of the printed JSON; a span-less
diagnostic (a command's error about no place in the program) has every location field null.
Imported only on the JSON path: `gopc check` in text format never loads pydantic.
"""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, ConfigDict, Field


class _Model(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class RelatedJSON(_Model):
    """Another place that explains the diagnostic (e.g. the first declaration of a duplicate)."""

    file: str
    start: int = Field(ge=0, description="character offset of the span's start in the file")
    end: int = Field(ge=0, description="character offset just past the span")
    message: str


class FixJSON(_Model):
    """A suggested edit: replace the span's text with `replacement`."""

    file: str
    start: int = Field(ge=0)
    end: int = Field(ge=0)
    replacement: str
    title: str


class DiagnosticJSON(_Model):
    """One diagnostic. The location fields are all null for a command's error that is about no
    place in the program (a missing tool, an output that cannot be written, an unknown cluster)."""

    code: str = Field(pattern=r"^[EW]\d{4}$", description="stable code; `gopc explain CODE` prints its page")
    severity: Literal["error", "warning", "info", "hint"]
    message: str
    file: str | None = Field(description="the file's display path; null: no place in the program")
    start: int | None = Field(ge=0, description="character offset of the span's start")
    end: int | None = Field(ge=0, description="character offset just past the span")
    line: int | None = Field(ge=1, description="1-based line of the start")
    column: int | None = Field(ge=1, description="1-based column of the start, in characters")
    end_line: int | None = Field(alias="endLine", ge=1)
    end_column: int | None = Field(alias="endColumn", ge=1)
    notes: list[str]
    related: list[RelatedJSON]
    fixes: list[FixJSON]


class DiagnosticsDocument(_Model):
    """What `gopc COMMAND --format json` prints: every diagnostic of the run, in order."""

    model_config = ConfigDict(title="gopc diagnostics")

    diagnostics: list[DiagnosticJSON]
    errors: int = Field(ge=0, description="how many of the diagnostics are errors")
