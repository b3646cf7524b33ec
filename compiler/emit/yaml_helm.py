"""YAML text for plain values, written by hand so that every byte is under our control.

Input: plain values (str/int/float/bool, dicts with str keys, lists) and optional comments.
Output: block-style YAML lines that any YAML 1.1 or 1.2 parser (go-yaml in Helm, PyYAML,
ruamel.yaml) reads back as exactly the same value.

Invariants:
- A string is written plain only when it cannot be read as anything else (a conservative
  pattern, never a YAML 1.1 boolean or null word); multi-line printable text becomes a literal
  block with an explicit indentation indicator; everything else is double-quoted with escapes
  for every character outside YAML's printable set.
- Floats always carry a `.` or an exponent with a `.` mantissa, so YAML 1.1 readers see floats.
- The output is a pure function of the input (no dict re-ordering: callers order keys).
"""

from __future__ import annotations

import functools
import math
import re
from dataclasses import dataclass, field
from typing import Any

# Letters first (never a number, bool or null in YAML 1.1 or 1.2); `:` only inside a word and a
# space only before a word character, so neither ": " nor " #" nor a trailing space can occur.
_PLAIN = re.compile(r"[A-Za-z_/](?:[A-Za-z0-9_./,()+@=%-]|:(?=[A-Za-z0-9_./])| (?=[A-Za-z0-9_./(]))*")
MAX_IMPLICIT_KEY = 500  # characters; well below YAML's limit of 1024 (which some parsers count in bytes)
_RESERVED_WORDS = {"y", "n", "yes", "no", "on", "off", "true", "false", "null"}
_SHORT_ESCAPES = {"\0": "\\0", "\a": "\\a", "\b": "\\b", "\t": "\\t", "\n": "\\n", "\v": "\\v",
                  "\f": "\\f", "\r": "\\r", "\x1b": "\\e", '"': '\\"', "\\": "\\\\"}
# Printable in YAML and not a line break or BOM in any YAML version.
_SAFE_CHAR = re.compile(r"[\t\x20-\x7e\xa0-\u2027\u202a-\ud7ff\ue000-\ufefe\uff00-\ufffd\U00010000-\U0010ffff]")
_BLOCK_TEXT = re.compile(r"[\n\t\x20-\x7e\xa0-\u2027\u202a-\ud7ff\ue000-\ufefe\uff00-\ufffd\U00010000-\U0010ffff]*")


def scalar(value: Any) -> str:
    """A one-line YAML scalar (plain or double-quoted) for a str/int/float/bool/None."""
    if type(value) is str:
        return _string_scalar(value)
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int):
        return str(value)
    if isinstance(value, float):
        return _float(value)
    if isinstance(value, str):
        return _string_scalar(value)
    raise TypeError(f"not a YAML scalar: {value!r}")


@functools.lru_cache(maxsize=65536)  # keys and most values repeat from chart to chart
def _string_scalar(text: str) -> str:
    if _PLAIN.fullmatch(text) and text.lower() not in _RESERVED_WORDS:
        return text
    return quoted(text)


def quoted(text: str) -> str:
    """A double-quoted YAML scalar that reads back as `text` exactly."""
    chunks = ['"']
    for char in text:
        if char in _SHORT_ESCAPES:
            chunks.append(_SHORT_ESCAPES[char])
        elif _SAFE_CHAR.fullmatch(char):
            chunks.append(char)
        elif ord(char) <= 0xFF:
            chunks.append(f"\\x{ord(char):02x}")
        elif ord(char) <= 0xFFFF:
            chunks.append(f"\\u{ord(char):04x}")
        else:
            chunks.append(f"\\U{ord(char):08x}")
    chunks.append('"')
    return "".join(chunks)


def key_head(prefix: str, key: str, indent: int) -> str:
    """`prefix`, the written `key` and its `:` (the value follows). YAML limits implicit keys to
    1024 characters, so a key over MAX_IMPLICIT_KEY takes the explicit form: `? key` with `:` on
    the next line at column `indent`. Both YAML writers use it."""
    if len(key) <= MAX_IMPLICIT_KEY:
        return f"{prefix}{key}:"
    return f"{prefix}? {key}\n{' ' * indent}:"


def _float(number: float) -> str:
    if not math.isfinite(number):
        raise ValueError(f"cannot write {number!r} as YAML")
    text = repr(number)
    if "e" in text and "." not in text.split("e")[0]:
        mantissa, exponent = text.split("e")
        text = f"{mantissa}.0e{exponent}"
    return text


def _literal_block(text: str, indent: int) -> list[str] | None:
    """A `|` block for multi-line printable text, or None when a block cannot hold it exactly."""
    if "\n" not in text or not _BLOCK_TEXT.fullmatch(text) or text.strip("\n") == "":
        return None
    body = text.rstrip("\n")
    trailing = len(text) - len(body)
    chomp = "-" if trailing == 0 else ("" if trailing == 1 else "+")
    pad = " " * indent
    lines = [f"|{2}{chomp}"] + [pad + line if line else "" for line in body.split("\n")]
    lines += [""] * (trailing - 1 if trailing > 1 else 0)
    return lines


@dataclass(slots=True)
class Comments:
    """Comment lines to put before keys, addressed by the key path from the root."""

    before: dict[tuple[str, ...], list[str]] = field(default_factory=dict)
    after: dict[tuple[str, ...], list[str]] = field(default_factory=dict)  # at the end of a mapping


def dump(value: dict[str, Any], comments: Comments | None = None) -> str:
    """A mapping as block YAML, keys in the given order, with comments (`# ` lines) added."""
    lines: list[str] = []
    _mapping(value, (), 0, comments or Comments(), lines)
    return "\n".join(lines) + "\n"


@functools.lru_cache(maxsize=4096)  # the same field docs are in every chart
def _comment_lines(texts: tuple[str, ...], indent: int) -> tuple[str, ...]:
    pad = " " * indent
    return tuple(f"{pad}# {_comment_text(line)}".rstrip() for text in texts for line in text.split("\n"))


def _comment_text(line: str) -> str:
    """A comment cannot escape anything, so characters YAML might read as a line break are spelt out."""
    return "".join(c if _SAFE_CHAR.fullmatch(c) else f"<U+{ord(c):04X}>" for c in line)


def _mapping(value: dict[str, Any], path: tuple[str, ...], indent: int, comments: Comments,
             lines: list[str]) -> None:
    pad = " " * indent
    for key, item in value.items():
        here = path + (key,)
        before = comments.before.get(here)
        if before:
            lines += _comment_lines(tuple(before), indent)
        _entry(key_head(pad, scalar(key), indent), item, here, indent, comments, lines)
    after = comments.after.get(path)
    if after:
        lines += _comment_lines(tuple(after), indent)


def _entry(head: str, item: Any, path: tuple[str, ...], indent: int, comments: Comments,
           lines: list[str]) -> None:
    """`head` is "key:" or "-"; writes the item after it (inline or as a nested block)."""
    if isinstance(item, dict) and item:
        if head.endswith("-"):
            nested: list[str] = []
            _mapping(item, path, indent + 2, comments, nested)
            lines.append(head + " " + nested[0].lstrip())
            lines += nested[1:]
        else:
            lines.append(head)
            _mapping(item, path, indent + 2, comments, lines)
    elif isinstance(item, (list, tuple)) and item:
        lines.append(head)
        for element in item:  # list elements get no comments: they would repeat for every element
            _entry(" " * (indent + 2) + "-", element, path, indent + 2, Comments(), lines)
    elif isinstance(item, dict):
        lines.append(head + " {}")
    elif isinstance(item, (list, tuple)):
        lines.append(head + " []")
    elif isinstance(item, str) and (block := _literal_block(item, indent + 2)):
        lines.append(f"{head} {block[0]}")
        lines += block[1:]
    else:
        lines.append(f"{head} {scalar(item)}")
