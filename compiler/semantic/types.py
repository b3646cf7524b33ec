"""Semantic types: what the type checker resolves type expressions to.

These are the types that values are checked against and that lowering reads
(for example to derive a chart's values.schema.json). They are immutable and
hashable; a `RecordType` is identified by its qualified name.

Runtime representation of values of each type (used in the evaluated model):
- int -> int, float -> float, bool -> bool, string/enum of strings -> str
- duration -> `Duration` (seconds as a Fraction; `str()` gives the Go form, e.g. "1h30m")
- quantity -> `Quantity` (exact decimal; `str()` gives the Kubernetes form, e.g. "250m", "1Gi")
- list -> tuple, map/record -> dict (insertion ordered, keys str)
- secret -> `SecretRef`; reference to a declared resource -> `ResourceRef`
"""

from __future__ import annotations

import re
import threading
import warnings
from dataclasses import dataclass, field
from fractions import Fraction
from collections.abc import Iterator
from typing import Any


class Type:
    """Base of all semantic types."""

    def describe(self) -> str:
        raise NotImplementedError


@dataclass(frozen=True, slots=True)
class IntType(Type):
    minimum: int | None = None
    maximum: int | None = None

    def describe(self) -> str:
        return "int" + _range_text(self.minimum, self.maximum)


@dataclass(frozen=True, slots=True)
class FloatType(Type):
    minimum: float | None = None
    maximum: float | None = None

    def describe(self) -> str:
        return "float" + _range_text(self.minimum, self.maximum)


@dataclass(frozen=True, slots=True)
class BoolType(Type):
    def describe(self) -> str:
        return "bool"


@dataclass(frozen=True, slots=True)
class StringType(Type):
    pattern: str | None = None
    min_length: int | None = None
    max_length: int | None = None
    message: str | None = None  # what the pattern expects, in words: "a DNS label: ..., e.g. `web-1`"

    def describe(self) -> str:
        args = []
        if self.min_length is not None or self.max_length is not None:
            args.append("len: " + _range_text(self.min_length, self.max_length)[1:-1])
        if self.pattern is not None:
            args.append(f"pattern: {self.pattern!r}")
        return "string" + (f"({', '.join(args)})" if args else "")


def compile_pattern(pattern: str) -> re.Pattern:
    """A string type's pattern as the chart's values.schema.json applies it (Helm validates with Go's
    RE2 syntax): `$` matches only at the very end (Python's also before a final newline), and
    `\\d`, `\\w`, `\\s`, `\\b` match ASCII only. Raises re.error for an invalid pattern."""
    # "Possible nested set" warns of a future reading of a user's pattern; Go reads it as today.
    # warnings' filters are process-wide: one thread at a time (the server analyses roots in parallel).
    with _QUIET_COMPILE, warnings.catch_warnings():
        warnings.simplefilter("ignore", FutureWarning)
        return re.compile(_end_anchors_as_go_reads_them(pattern), re.ASCII)


_QUIET_COMPILE = threading.Lock()


def _end_anchors_as_go_reads_them(pattern: str) -> str:
    """`pattern` with every `$` anchor (unescaped, outside a character class) written `\\Z`, in one
    pass (a regular expression that finds them backtracks exponentially on some patterns)."""
    return "".join("\\Z" if piece == "$" and not in_class else piece for _, piece, in_class in _pieces(pattern))


def go_unsupported(pattern: str) -> str | None:
    """What in a pattern Python's `re` reads but Go's RE2 (Helm's schema validation) refuses, or None:
    such a pattern in values.schema.json would make Helm refuse the chart."""
    for index, piece, in_class in _pieces(pattern):
        if piece.startswith("\\"):
            escaped = piece[1:]
            if escaped in _PYTHON_ONLY_ESCAPES:
                return f"the escape `\\{escaped}`"
            if not in_class and escaped.isdigit() and escaped != "0":
                return f"the backreference `\\{escaped}`"
        elif in_class:
            continue
        elif piece == "(" and pattern.startswith("?", index + 1) and not _GO_GROUP.match(pattern, index + 2):
            return (f"`(?{pattern[index + 2:index + 4]}` (Go has no lookahead, lookbehind, atomic groups, comments, "
                    "named backreferences, nor flags other than i, m, s and U)")
        elif piece in ("*", "+", "?", "}") and pattern.startswith("+", index + 1):
            return f"the possessive quantifier `{piece}+`"
    return None


def _pieces(pattern: str) -> Iterator[tuple[int, str, bool]]:
    """The pattern as Go's RE2 reads it, piece by piece: (index, piece, inside a character class).
    A piece is an escape (`\\x`), a class's opening (`[`, `[^`, with a leading `]`, which is a
    literal) or one character."""
    in_class = False
    index = 0
    while index < len(pattern):
        char = pattern[index]
        opens_class = char == "[" and not in_class
        if char == "\\":
            piece = pattern[index:index + 2]
        elif opens_class:
            piece = "[^" if pattern.startswith("^", index + 1) else "["
            if pattern.startswith("]", index + len(piece)):
                piece += "]"
        else:
            piece = char
        yield index, piece, in_class
        in_class = opens_class or (in_class and char != "]")
        index += len(piece)


_PYTHON_ONLY_ESCAPES = ("Z", "u", "U", "N")  # \\Z, \\uXXXX, \\UXXXXXXXX, \\N{name}
# What may follow `(?` in Go: a non-capturing group, a named group, or flags (i, m, s, U).
_GO_GROUP = re.compile(r"P?<[A-Za-z_][A-Za-z0-9_]*>|[imsU]*(-[imsU]*)?[:)]")

# The name of a Kubernetes Secret (a DNS-1123 subdomain), as secret references name it.
SECRET_NAME = StringType(r"^[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$", 1, 253)
# A key of a Secret or ConfigMap (Kubernetes' IsConfigMapKey: not `.` or `..`, nor starting with `..`);
# the prelude's `config` keys have the same type (a test keeps them equal).
DATA_KEY = StringType(r"^[.]?[-_a-zA-Z0-9][-._a-zA-Z0-9]*$", 1, 253)


@dataclass(frozen=True, slots=True)
class DurationType(Type):
    minimum: Duration | None = None
    maximum: Duration | None = None

    def describe(self) -> str:
        return "duration" + _range_text(self.minimum, self.maximum)


@dataclass(frozen=True, slots=True)
class QuantityType(Type):
    minimum: Quantity | None = None
    maximum: Quantity | None = None

    def describe(self) -> str:
        return "quantity" + _range_text(self.minimum, self.maximum)


@dataclass(frozen=True, slots=True)
class EnumType(Type):
    """A union of literal values (`"dev" | "prod"`, `1 | 2 | 3`)."""

    values: tuple[str | int | float | bool, ...]

    def describe(self) -> str:
        return " | ".join(_literal_text(v) for v in self.values)


@dataclass(frozen=True, slots=True)
class UnionType(Type):
    """A value of one of several scalar types (`int | string`), from a JSON Schema's `oneOf`,
    `anyOf` or `type` list; a value is checked against each in turn and takes the first it fits."""

    members: tuple[Type, ...]
    name: str | None = None  # what it is in words when it has a name ("quantity" for `quantity | string`)

    def describe(self) -> str:
        return self.name or " | ".join(member.describe() for member in self.members)


@dataclass(frozen=True, slots=True)
class ListType(Type):
    element: Type
    min_length: int | None = None
    max_length: int | None = None

    def describe(self) -> str:
        suffix = ""
        if self.min_length is not None or self.max_length is not None:
            suffix = f"(len: {_range_text(self.min_length, self.max_length)[1:-1]})"
        return f"list[{self.element.describe()}]{suffix}"


@dataclass(frozen=True, slots=True)
class MapType(Type):
    """A map with string keys (the key type may refine or enumerate them)."""

    key: Type
    value: Type

    def describe(self) -> str:
        return f"map[{self.key.describe()}]{self.value.describe()}"


@dataclass(frozen=True, slots=True)
class Field:
    name: str
    type: Type
    optional: bool = False
    default: Any = None  # a runtime value (see module doc); None when there is none
    has_default: bool = False
    doc: str | None = None


@dataclass(frozen=True, slots=True, eq=False)
class RecordType(Type):
    """A schema. `open` records (the `values` of an app without annotation) take any fields;
    `warn_unknown` records (a chart's values inferred from its values.yaml) take a field they do
    not list with a warning, typed `any`."""

    name: str
    fields: dict[str, Field] = field(default_factory=dict)
    doc: str | None = None
    open: bool = False
    warn_unknown: bool = False

    def __eq__(self, other: object) -> bool:
        return isinstance(other, RecordType) and other.name == self.name

    def __hash__(self) -> int:
        return hash(("record", self.name))

    def describe(self) -> str:
        return self.name


@dataclass(frozen=True, slots=True)
class SecretType(Type):
    """A reference to a secret; plaintext strings are rejected."""

    def describe(self) -> str:
        return "secret"


@dataclass(frozen=True, slots=True)
class ResourceRefType(Type):
    """A reference to a declared resource of one kind: `app`, `registry`, `source`, `provider`."""

    kind: str

    def describe(self) -> str:
        return self.kind


@dataclass(frozen=True, slots=True)
class AnyType(Type):
    def describe(self) -> str:
        return "any"


# ---- runtime values of durations, quantities, secrets and references ----------------------

_DURATION_UNITS = {"ns": Fraction(1, 10**9), "us": Fraction(1, 10**6), "ms": Fraction(1, 1000), "s": 1, "m": 60, "h": 3600}
_DURATION_PART = re.compile(r"(\d+(?:\.\d+)?)(ns|us|ms|s|m|h)")
_MAX_DURATION = Fraction(2**63 - 1, 10**9)  # Go's time.Duration: int64 nanoseconds
_MAX_DIGITS = 40


def _check_digits(number: str) -> None:
    if len(number) > _MAX_DIGITS:
        raise ValueError(f"out of range: a number of more than {_MAX_DIGITS} digits")


@dataclass(frozen=True, slots=True, order=True)
class Duration:
    seconds: Fraction

    @staticmethod
    def parse(text: str) -> Duration:
        """Parse `1h30m`, `250ms`, `1.5s`. Raises ValueError when malformed."""
        position = 0
        total = Fraction(0)
        last_rank = None
        order = list(_DURATION_UNITS)
        # Part after part from where the last ended (searching instead made a long run of
        # digits quadratic); the number of a part is bounded before Fraction reads it.
        while (match := _DURATION_PART.match(text, position)) is not None:
            _check_digits(match.group(1))
            rank = order.index(match.group(2))
            if last_rank is not None and rank >= last_rank:
                raise ValueError(f"units of {text!r} must go from larger to smaller, each once")
            last_rank = rank
            total += Fraction(match.group(1)) * _DURATION_UNITS[match.group(2)]
            position = match.end()
        if position != len(text) or position == 0:
            raise ValueError(f"malformed duration {text!r}")
        if total > _MAX_DURATION:
            raise ValueError("out of range: Go's durations, which Flux and Kubernetes read, end at 2562047h47m16.854775807s")
        return Duration(total)

    def __str__(self) -> str:
        """Go's time.Duration form, which Flux and Kubernetes accept: 1h30m0s -> "1h30m"."""
        total = self.seconds
        if total == 0:
            return "0s"
        if total < 1:
            for unit in ("ms", "us", "ns"):
                amount = total / _DURATION_UNITS[unit]
                if amount.denominator == 1:
                    return f"{amount.numerator}{unit}"
            return f"{int(total * 10**9)}ns"
        if total.denominator == 1:  # whole seconds, as most are: in ints (a Fraction's divmod costs ten times more)
            hours, rest = divmod(total.numerator, 3600)
            minutes, seconds = divmod(rest, 60)
            return (f"{hours}h" if hours else "") + (f"{minutes}m" if minutes else "") + (f"{seconds}s" if seconds else "")
        hours, rest = divmod(total, 3600)
        minutes, seconds = divmod(rest, 60)
        text = ""
        if hours:
            text += f"{int(hours)}h"
        if minutes:
            text += f"{int(minutes)}m"
        if seconds:
            text += f"{_decimal(seconds)}s"
        return text


_QUANTITY_SUFFIXES = {
    "n": Fraction(1, 10**9), "u": Fraction(1, 10**6), "m": Fraction(1, 1000), "": 1,
    "k": 10**3, "M": 10**6, "G": 10**9, "T": 10**12, "P": 10**15, "E": 10**18,
    "Ki": 2**10, "Mi": 2**20, "Gi": 2**30, "Ti": 2**40, "Pi": 2**50, "Ei": 2**60,
}
_QUANTITY = re.compile(r"(\d+(?:\.\d+)?)(Ki|Mi|Gi|Ti|Pi|Ei|n|u|m|k|M|G|T|P|E)?")


@dataclass(frozen=True, slots=True)
class Quantity:
    """A Kubernetes quantity; `text` keeps the written form, `amount` the exact value."""

    amount: Fraction
    text: str

    @staticmethod
    def parse(text: str) -> Quantity:
        match = _QUANTITY.fullmatch(text)
        if match is None:
            raise ValueError(f"malformed quantity {text!r}")
        _check_digits(match.group(1))
        return Quantity(Fraction(match.group(1)) * _QUANTITY_SUFFIXES[match.group(2) or ""], text)

    def __eq__(self, other: object) -> bool:
        return isinstance(other, Quantity) and other.amount == self.amount

    def __hash__(self) -> int:
        return hash(self.amount)

    def __lt__(self, other: Quantity) -> bool:
        return self.amount < other.amount

    def __le__(self, other: Quantity) -> bool:
        return self.amount <= other.amount

    def __str__(self) -> str:
        return self.text


@dataclass(frozen=True, slots=True)
class SecretRef:
    """Where a secret lives. kinds: `sops` (an encrypted Secret manifest in the repo),
    `secret` (an existing Secret in the cluster), `external` (an external secret store)."""

    kind: str
    secret: str  # name of the Kubernetes Secret the workload reads
    key: str
    file: str | None = None  # sops: path of the encrypted manifest, relative to the program root
    store: str | None = None  # external: the store's name
    remote: str | None = None  # external: the key in the store
    store_kind: str | None = None  # external: "ClusterSecretStore" or "SecretStore"
    property: str | None = None  # external: the property of the remote value, if one is read


@dataclass(frozen=True, slots=True)
class ResourceRef:
    kind: str
    name: str

    def __str__(self) -> str:
        return self.name


def _decimal(value: Fraction) -> str:
    if value.denominator == 1:
        return str(value.numerator)
    return format(float(value), "g")


def _range_text(low: Any, high: Any) -> str:
    if low is None and high is None:
        return ""
    return f"({'' if low is None else low}..{'' if high is None else high})"


def _literal_text(value: Any) -> str:
    if isinstance(value, str):
        return f'"{value}"'
    if isinstance(value, bool):
        return "true" if value else "false"
    return str(value)


def describe_value(value: Any) -> str:
    """A value as a user would write it in .gop, for messages."""
    if isinstance(value, (str, bool)):
        return _literal_text(value)
    if isinstance(value, (list, tuple)):
        return "[" + ", ".join(describe_value(v) for v in value) + "]"
    if isinstance(value, dict):
        return "{" + ", ".join(f"{k} = {describe_value(v)}" for k, v in value.items()) + "}"
    return str(value)
