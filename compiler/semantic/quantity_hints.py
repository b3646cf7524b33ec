"""Quantities written without a unit that are almost surely a mistake (warnings with a fix).

Input: a bare number written where a quantity is expected, the quantity type and the span of
the number. Output: `unit_hint(...)`, a warning with a quick fix, or None.

The type says what the quantity counts, through the unit of its minimum (as the prelude's
`ResourceAmounts` does: `cpu: quantity(1m..)`, `memory: quantity(1Mi..)`):
- bytes (a binary unit, `Ki` .. `Ei`): a bare number is bytes, and one below the minimum
  (`memory = 512`: 512 bytes) almost surely lacks the minimum's unit (`512Mi`);
- cores (milli, `m`): a bare number of a hundred or more (`cpu = 2000`: 2000 cores) almost
  surely means millicores (`2000m`).
"""

from __future__ import annotations

from fractions import Fraction

from gop.compiler.diagnostics import Diagnostic, Fix, diagnostic
from gop.compiler.core.span import Span
from gop.compiler.semantic.types import Quantity, QuantityType
from gop.compiler.diagnostics import codes

BINARY_UNITS = ("Ki", "Mi", "Gi", "Ti", "Pi", "Ei")
MANY_CORES = 100  # no container asks for a hundred cores; a hundred millicores is common


def unit_hint(number: int | float, expected: QuantityType, span: Span) -> Diagnostic | None:
    minimum = expected.minimum
    if minimum is None or isinstance(number, bool) or not number > 0:  # a sign or NaN is no missing unit
        return None
    unit = minimum.text.lstrip("0123456789.")
    if unit in BINARY_UNITS and Fraction(number) < minimum.amount:
        suggestion = f"{number}{unit}"
        if _at_least(suggestion, minimum):
            return diagnostic(codes.MEMORY_WITHOUT_UNIT, span, f"`{number}` has no unit, so it means {number} bytes; did you mean `{suggestion}`?",
                              fixes=(Fix(span, suggestion, f"change to `{suggestion}`"),))
    if unit == "m" and number >= MANY_CORES:
        suggestion = f"{number}m"
        return diagnostic(codes.HUNDRED_CPU_CORES, span, f"`{number}` means {number} CPU cores; did you mean `{suggestion}` ({number} millicores)?",
                          fixes=(Fix(span, suggestion, f"change to `{suggestion}`"),))
    return None


def _at_least(text: str, minimum: Quantity) -> bool:
    """Whether `text` is a quantity of at least `minimum` (a float Python writes as `1e+300` is none)."""
    try:
        return Quantity.parse(text) >= minimum
    except ValueError:
        return False
