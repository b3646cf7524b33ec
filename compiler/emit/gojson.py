"""Go's encoding/json output, byte for byte, as Helm's `toJson` and `toPrettyJson` print it.

Input: a plain value tree (dict/list/str/int/float/bool/None), as Helm sees chart values.
Output: the exact text Helm's template functions produce for it.

Invariants (each one mirrors Helm, and the parity tests check them against real helm):
- Helm reads values files through JSON, so every number is a float64: ints are converted to
  float and printed the way Go prints a float64 (1 -> "1", 1e21 -> "1e+21", 1e-7 -> "1e-7").
- Map keys are sorted by their UTF-8 bytes (the same order as Python's code-point order).
- Strings escape `"`, `\\`, control characters (\\b \\f \\n \\r \\t short forms, others \\u00XX),
  the HTML characters < > & and U+2028/U+2029; everything else is kept as is.
- `pretty=True` is json.MarshalIndent(value, "", "  "): empty maps and lists stay `{}` / `[]`.
"""

from __future__ import annotations

import math
import re
from decimal import Decimal
from typing import Any

_SHORT_ESCAPES = {'"': '\\"', "\\": "\\\\", "\b": "\\b", "\f": "\\f", "\n": "\\n", "\r": "\\r", "\t": "\\t"}
_HTML_ESCAPES = {"<": "\\u003c", ">": "\\u003e", "&": "\\u0026", "\u2028": "\\u2028", "\u2029": "\\u2029"}
_ESCAPED = re.compile("[\x00-\x1f\"\\\\<>&\u2028\u2029]")  # every character go_string changes


def go_json(value: Any, *, pretty: bool = False) -> str:
    """The text of Helm's `toJson` (or `toPrettyJson` when pretty) for a plain value."""
    parts: list[str] = []
    _encode(value, parts, "\n" if pretty else "")
    return "".join(parts)


def _encode(value: Any, out: list[str], newline: str) -> None:
    if value is None:
        out.append("null")
    elif isinstance(value, bool):
        out.append("true" if value else "false")
    elif isinstance(value, (int, float)):
        out.append(go_float(float(value)))
    elif isinstance(value, str):
        out.append(go_string(value))
    elif isinstance(value, dict):
        _encode_items([(go_string(k), value[k]) for k in sorted(value)], "{", "}", out, newline)
    elif isinstance(value, (list, tuple)):
        _encode_items([(None, item) for item in value], "[", "]", out, newline)
    else:
        raise TypeError(f"not a plain value: {value!r}")


def _encode_items(items: list[tuple[str | None, Any]], open_: str, close: str, out: list[str],
                  newline: str) -> None:
    if not items:
        out.append(open_ + close)
        return
    inner = newline + "  " if newline else ""
    out.append(open_)
    for index, (key, item) in enumerate(items):
        if index:
            out.append(",")
        out.append(inner)
        if key is not None:
            out.append(key + (": " if newline else ":"))
        _encode(item, out, inner)
    out.append(newline + close)


def go_string(text: str) -> str:
    """A JSON string literal as Go's encoder writes it (HTML-safe escaping)."""
    if _ESCAPED.search(text) is None:  # most strings: nothing to escape
        return '"' + text + '"'
    chunks = ['"']
    for char in text:
        if char in _SHORT_ESCAPES:
            chunks.append(_SHORT_ESCAPES[char])
        elif char < " ":
            chunks.append(f"\\u{ord(char):04x}")
        elif char in _HTML_ESCAPES:
            chunks.append(_HTML_ESCAPES[char])
        else:
            chunks.append(char)
    chunks.append('"')
    return "".join(chunks)


def go_float(number: float) -> str:
    """strconv.AppendFloat(f, 'f' or 'e', -1, 64) as encoding/json chooses it."""
    if not math.isfinite(number):
        raise ValueError(f"JSON cannot hold {number!r}")
    if number == 0:
        return "-0" if math.copysign(1, number) < 0 else "0"
    shortest = Decimal(repr(number))  # repr is the shortest text that round-trips, as in Go
    if 1e-6 <= abs(number) < 1e21:
        text = format(shortest, "f")
        return text.rstrip("0").rstrip(".") if "." in text else text
    sign, digits, exponent = shortest.as_tuple()
    mantissa = str(digits[0]) + ("." + "".join(map(str, digits[1:])) if len(digits) > 1 else "")
    power = exponent + len(digits) - 1
    # Go writes at least two exponent digits, then encoding/json trims "e-09" to "e-9".
    suffix = f"e+{power:02d}" if power >= 0 else f"e-{-power}"
    return ("-" if sign else "") + mantissa + suffix
