"""Source text and spans.

A `Span` is a file plus start/end character offsets into that file's text. Lines
and columns are derived only when printing (1-based columns in characters) or
when answering the LSP (0-based, UTF-16 code units), from a `SourceFile`.
"""

from __future__ import annotations

import bisect
from dataclasses import dataclass, field

from gop.compiler.core.frozen import frozen


@frozen
class Span:
    file: str
    start: int
    end: int

    def contains(self, other: Span) -> bool:
        return self.file == other.file and self.start <= other.start and other.end <= self.end

    def cover(self, other: Span) -> Span:
        return Span(self.file, min(self.start, other.start), max(self.end, other.end))


@dataclass(frozen=True, slots=True)
class Position:
    line: int  # 0-based
    column: int  # 0-based, in characters


@dataclass(slots=True)
class SourceFile:
    """The text of one file with a line index for offset <-> position conversion."""

    path: str
    text: str
    _line_starts: list[int] = field(init=False, repr=False)

    def __post_init__(self) -> None:
        starts = [0]
        find = self.text.find
        i = find("\n")
        while i != -1:
            starts.append(i + 1)
            i = find("\n", i + 1)
        self._line_starts = starts

    def position(self, offset: int) -> Position:
        offset = max(0, min(offset, len(self.text)))
        line = bisect.bisect_right(self._line_starts, offset) - 1
        return Position(line, offset - self._line_starts[line])

    def offset(self, line: int, column: int) -> int:
        if line >= len(self._line_starts):
            return len(self.text)
        start = self._line_starts[max(line, 0)]
        return min(start + max(column, 0), self.line_end(line))

    def line_end(self, line: int) -> int:
        if line + 1 < len(self._line_starts):
            return self._line_starts[line + 1] - 1
        return len(self.text)

    def line_text(self, line: int) -> str:
        return self.text[self._line_starts[line] : self.line_end(line)].rstrip("\r")

    def utf16_position(self, offset: int) -> Position:
        pos = self.position(offset)
        prefix = self.text[self._line_starts[pos.line] : self._line_starts[pos.line] + pos.column]
        return Position(pos.line, _utf16_len(prefix))

    def offset_from_utf16(self, line: int, character: int) -> int:
        if line >= len(self._line_starts):
            return len(self.text)
        start = self._line_starts[line]
        end = self.line_end(line)
        units = 0
        for i in range(start, end):
            if units >= character:
                return i
            units += 2 if ord(self.text[i]) > 0xFFFF else 1
        return end


def _utf16_len(text: str) -> int:
    return len(text) + sum(1 for ch in text if ord(ch) > 0xFFFF)
