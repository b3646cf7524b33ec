"""The registry of diagnostic codes: one Markdown page per code in diagnostics/pages/.

Each page starts with `# CODE: title` and a `severity: error|warning|info|hint`
line, then explains the problem with an example and the fix. The pages are the
single source of truth: `gopc explain CODE` prints one, `severity_of` reads the
severity, and a test checks that every code the compiler emits has a page.
"""

from __future__ import annotations

import functools
import importlib.resources
import enum
import re
from dataclasses import dataclass


class Severity(enum.IntEnum):
    ERROR = 1
    WARNING = 2
    INFO = 3
    HINT = 4

    @property
    def label(self) -> str:
        return self.name.lower()


_HEADER = re.compile(r"^# (?P<code>[EW]\d{4}): (?P<title>.+)\nseverity: (?P<severity>\w+)\n")


@dataclass(frozen=True, slots=True)
class CodeInfo:
    code: str
    title: str
    severity: Severity
    doc: str


@functools.cache
def registry() -> dict[str, CodeInfo]:
    codes: dict[str, CodeInfo] = {}
    for entry in importlib.resources.files("gop.compiler.diagnostics").joinpath("pages").iterdir():
        if not entry.name.endswith(".md"):
            continue
        text = entry.read_text(encoding="utf-8")
        match = _HEADER.match(text)
        if match is None:
            raise ValueError(f"code page {entry.name} lacks the '# CODE: title' / 'severity:' header")
        code = match["code"]
        codes[code] = CodeInfo(code, match["title"], Severity[match["severity"].upper()], text)
    return dict(sorted(codes.items()))


def severity_of(code: str) -> Severity:
    return registry()[code].severity


def lookup(code: str) -> CodeInfo | None:
    return registry().get(code.upper())
