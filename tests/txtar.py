"""A tiny txtar reader and writer for golden tests (the format of golang.org/x/tools/txtar).

An archive is a free-text comment followed by sections, each opened by a marker line
`-- NAME --` and holding the lines up to the next marker. Every section's data ends with
a newline when written. Tests name the sections they understand; any other name fails
the test (as cue's cuetxtar does), so a typo in a marker cannot silently skip a check.

Set GOP_UPDATE_GOLDEN=1 to rewrite expected sections with what the compiler now says
instead of failing; review the diff before committing it.
"""

from __future__ import annotations

import base64
import difflib
import os
import re
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

_MARKER = re.compile(r"^-- (?P<name>.+?) --$")


def update_requested() -> bool:
    return os.environ.get("GOP_UPDATE_GOLDEN", "") == "1"


@dataclass
class Archive:
    comment: str = ""
    sections: list[tuple[str, str]] = field(default_factory=list)

    def names(self) -> list[str]:
        return [name for name, _ in self.sections]

    def get(self, name: str) -> str | None:
        return next((data for n, data in self.sections if n == name), None)

    def set(self, name: str, data: str) -> None:
        """Replace a section's data, or append the section when it is new."""
        for index, (existing, _) in enumerate(self.sections):
            if existing == name:
                self.sections[index] = (name, data)
                return
        self.sections.append((name, data))


def parse(text: str) -> Archive:
    archive = Archive()
    current: str | None = None
    lines: list[str] = []
    for line in text.splitlines(keepends=True):
        marker = _MARKER.match(line.rstrip("\r\n"))
        if marker is None:
            lines.append(line)
            continue
        _close(archive, current, lines)
        current, lines = marker["name"].strip(), []
    _close(archive, current, lines)
    return archive


def _close(archive: Archive, name: str | None, lines: list[str]) -> None:
    data = "".join(lines)
    if name is None:
        archive.comment = data
        return
    if name in archive.names():
        raise ValueError(f"section `{name}` appears twice")
    archive.sections.append((name, data))


def format(archive: Archive) -> str:
    out = [_with_newline(archive.comment)]
    for name, data in archive.sections:
        out.append(f"-- {name} --\n")
        out.append(_with_newline(data))
    return "".join(out)


def _with_newline(text: str) -> str:
    return text if text == "" or text.endswith("\n") else text + "\n"


def read(path: Path) -> Archive:
    return parse(path.read_text(encoding="utf-8"))


def write_files(archive: Archive, directory: Path) -> None:
    """Each section as a file below `directory`; a section `NAME.base64` is the file NAME's bytes, base64-encoded."""
    for name, text in archive.sections:
        target = directory / name.removesuffix(".base64")
        target.parent.mkdir(parents=True, exist_ok=True)
        if name.endswith(".base64"):
            target.write_bytes(base64.b64decode(text))
        else:
            target.write_text(text, encoding="utf-8")


def check_sections(archive: Archive, known: Callable[[str], bool], what: str) -> None:
    """Fail on a section name the test does not understand; `what` says which names it does."""
    unknown = [name for name in archive.names() if not known(name)]
    if unknown:
        raise AssertionError(f"unknown txtar section(s) {unknown}; this kind of golden file holds {what}")


def expect_section(path: Path, archive: Archive, name: str, actual: str) -> None:
    """Compare section `name` with `actual`; under GOP_UPDATE_GOLDEN=1 rewrite the file instead."""
    actual = _with_newline(actual)
    expected = archive.get(name)
    if expected == actual:
        return
    if update_requested():
        archive.set(name, actual)
        path.write_text(format(archive), encoding="utf-8")
        return
    if expected is None:
        raise AssertionError(f"{path.name}: no `-- {name} --` section (GOP_UPDATE_GOLDEN=1 writes it)")
    diff = "".join(difflib.unified_diff(expected.splitlines(True), actual.splitlines(True), "expected", "actual"))
    raise AssertionError(f"{path.name}: section `{name}` differs (GOP_UPDATE_GOLDEN=1 rewrites it):\n{diff}")
