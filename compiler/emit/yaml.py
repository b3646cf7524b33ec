"""The one YAML emitter: deterministic block-style text for every YAML file and stream gopc writes.

Input: documents as plain data (dicts or other mappings, lists or tuples, str, int, float, bool,
None) in the key order they should appear in; a `Quoting` for strings; optional `Comments` per
document and a header comment.
Output: YAML text; several documents are separated by `---` lines (`dump_all`: a stream that
starts with one).

Invariants:
- Same input -> same bytes: key order is the insertion order, no anchors or aliases (a shared
  sub-tree is written out in full each time), no line wrapping, no flow collections but `{}`/`[]`.
- Every string reads back as the same string in YAML 1.1 (Helm's go-yaml, kubectl, PyYAML) and
  YAML 1.2 (kustomize's kyaml, ruamel.yaml). tests/test_yaml_emitter.py checks this for any
  text, keys and nested values, with both readers. One rule, whatever the `Quoting`:
  - multi-line text that YAML can hold unescaped is a literal block (`|`) with the chomping
    indicator that keeps its trailing newlines, and an indentation indicator (`|2`) whenever
    a reader could not infer the indentation (the first line with content starts with a space
    or a tab, or a line of spaces comes before it);
  - text with a line break, a tab or a character outside YAML's printable set (controls, line
    and paragraph separators, BOM, surrogates) is double-quoted with escapes (`quoted`);
  - other text is plain or quoted as the `Quoting` says.
- `Quoting` is the only thing two kinds of file differ in (both kinds are in the goldens, so
  neither can change):
  - `MINIMAL` (Kustomize, Flux and Kubernetes objects, `gopc render`/`diff` streams): plain
    unless a YAML 1.1 or 1.2 resolver would read it as something else (`yes`, `on`, `0755`,
    `12:30`, `0o17`, `1e3`, `~`) or it holds YAML syntax (`: `, ` #`, a leading indicator);
    then single-quoted.
  - `WORDS` (Helm chart files: Chart.yaml, values.yaml): plain only for word-like text (a
    letter first, no YAML 1.1 boolean or null word); everything else double-quoted, the way
    chart authors write versions (`"3.1.0"`); every block carries its indentation (`|2`).
- A key is a one-line scalar of the same `Quoting` (a multi-line key is double-quoted); a key
  written longer than `MAX_IMPLICIT_KEY` takes the explicit `? key` form.
- Floats always have a `.` in the mantissa (`1.0e-06`), so YAML 1.1 readers see floats.
- Comments never change the data: their text is one line each, and a character that a reader
  might take for a line break is spelt `<U+XXXX>`.
"""

from __future__ import annotations

import enum
import functools
import math
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any


ValuePath = tuple[str, ...]  # keys from the document root; a list item's position is str(position)


class Quoting(enum.Enum):
    """How a one-line string that needs no escapes is written, and whether every block states
    its indentation (see the module docstring)."""

    MINIMAL = "minimal"
    WORDS = "words"


@dataclass(slots=True)
class Comments:
    """Comments of one document, addressed by value path."""

    before: dict[ValuePath, list[str]] = field(default_factory=dict)  # own lines before the key at the path
    after: dict[ValuePath, list[str]] = field(default_factory=dict)  # own lines at the end of the mapping at the path
    line: dict[ValuePath, str] = field(default_factory=dict)  # after the scalar at the path, on its line


MAX_IMPLICIT_KEY = 500  # characters; well below YAML's limit of 1024 (which some parsers count in bytes)
_STR_TAG = "tag:yaml.org,2002:str"
# A plain scalar may not start with these (YAML indicators), nor contain ": " or " #".
_INDICATORS = frozenset("-?:,[]{}#&*!|>'\"%@`")
# Letters first (never a number, bool or null in YAML 1.1 or 1.2); `:` only inside a word and a
# space only before a word character, so neither ": " nor " #" nor a trailing space can occur.
_WORD = re.compile(r"[A-Za-z_/](?:[A-Za-z0-9_./,()+@=%-]|:(?=[A-Za-z0-9_./])| (?=[A-Za-z0-9_./(]))*")
_RESERVED_WORDS = frozenset({"y", "n", "yes", "no", "on", "off", "true", "false", "null"})
_SHORT_ESCAPES = {"\0": "\\0", "\a": "\\a", "\b": "\\b", "\t": "\\t", "\n": "\\n", "\v": "\\v",
                  "\f": "\\f", "\r": "\\r", "\x1b": "\\e", '"': '\\"', "\\": "\\\\"}
# YAML's printable characters without the line breaks (\n \r \x85 \u2028 \u2029) and the BOM.
# YAML's printable characters are \x20-\x7e \xa0-\u2027 \u202a-\ud7ff \ue000-\ufefe \uff00-\ufffd and
# \U00010000-\U0010ffff; the patterns name the few others (compiling the printable ranges themselves
# costs more than a small program's check).
_NOT_PRINTABLE = "\x7f-\x9f\u2028\u2029\ud800-\udfff\ufeff\ufffe\uffff"
_UNSAFE_CHAR = re.compile(f"[\x00-\x08\x0a-\x1f{_NOT_PRINTABLE}]")  # escaped inside double quotes and comments
_NOT_LINE_TEXT = re.compile(f"[\x00-\x1f{_NOT_PRINTABLE}]")  # none: plain or single-quoted (no tab, no escapes)
_NOT_BLOCK_TEXT = re.compile(f"[\x00-\x08\x0b-\x1f{_NOT_PRINTABLE}]")  # none: a literal block can hold it exactly


def quoted(text: str) -> str:
    """A double-quoted YAML scalar that reads back as `text` exactly."""
    chunks = ['"']
    for char in text:
        if char in _SHORT_ESCAPES:
            chunks.append(_SHORT_ESCAPES[char])
        elif not _UNSAFE_CHAR.match(char):
            chunks.append(char)
        elif ord(char) <= 0xFF:
            chunks.append(f"\\x{ord(char):02x}")
        elif ord(char) <= 0xFFFF:
            chunks.append(f"\\u{ord(char):04x}")
        else:
            chunks.append(f"\\U{ord(char):08x}")
    chunks.append('"')
    return "".join(chunks)


@functools.lru_cache(maxsize=65536)  # keys and most values repeat from file to file
def _minimal(text: str) -> str:
    """`text` as a one-line scalar, quoted only when a reader would take it for something else."""
    if _NOT_LINE_TEXT.search(text):
        return quoted(text)
    return text if _plain_safe(text) else "'" + text.replace("'", "''") + "'"


def _plain_safe(text: str) -> bool:
    return (
        text != ""
        and text[0] not in _INDICATORS
        and text == text.strip()
        and ": " not in text
        and " #" not in text
        and not text.endswith(":")
        and _read_as_text(text)
    )


def _read_as_text(text: str) -> bool:
    """Whether YAML 1.1 and 1.2 resolvers both read the plain scalar as a string: at once when
    neither has an implicit resolver for its first character (most names and paths), as theirs
    would find none and say string."""
    node, resolvers, first_characters = _resolvers()
    if first_characters is not None and text[:1] not in first_characters:
        return True
    return all(str(resolver.resolve(node, text, (True, False))) == _STR_TAG for resolver in resolvers)


@functools.cache
def _resolvers():
    """ruamel's ScalarNode, its YAML 1.1 and 1.2 resolvers, and the first characters of a plain
    scalar that some implicit resolver of either looks at (None: any may be looked at, when one
    resolves scalars whatever their first character or by their path); made on first use: a check
    that writes no YAML never loads ruamel."""
    from ruamel.yaml.nodes import ScalarNode
    from ruamel.yaml.resolver import VersionedResolver

    resolvers = (VersionedResolver(version=(1, 1)), VersionedResolver(version=(1, 2)))
    first_characters = {first for resolver in resolvers for first in resolver.versioned_resolver}
    if None in first_characters or any(resolver.yaml_path_resolvers for resolver in resolvers):
        first_characters = None
    return ScalarNode, resolvers, first_characters


@functools.lru_cache(maxsize=65536)
def _words(text: str) -> str:
    """`text` as a one-line scalar, plain only when it is plainly a word."""
    if _WORD.fullmatch(text) and text.lower() not in _RESERVED_WORDS:
        return text
    return quoted(text)


# A string value: the text after `key: ` (first element) and any block lines after it.
@functools.lru_cache(maxsize=65536)
def _minimal_value(text: str, indent: int) -> tuple[str, ...]:
    return ("\n" in text and _literal_block(text, indent, always_indented=False)) or (_minimal(text),)


@functools.lru_cache(maxsize=65536)
def _words_value(text: str, indent: int) -> tuple[str, ...]:
    return ("\n" in text and _literal_block(text, indent, always_indented=True)) or (_words(text),)



def _literal_block(text: str, indent: int, always_indented: bool) -> tuple[str, ...] | None:
    """The header (`|`, `|2`, chomping) and the lines of a literal block whose content starts
    `indent` + 2 columns in, or None when a block cannot hold `text` exactly (one line only,
    only newlines, or characters to escape)."""
    if "\n" not in text or text.strip("\n") == "" or _NOT_BLOCK_TEXT.search(text):
        return None
    body = text.rstrip("\n")
    trailing = len(text) - len(body)
    chomp = "-" if trailing == 0 else ("" if trailing == 1 else "+")
    lines = body.split("\n")
    first = next(line for line in lines if line)  # a reader infers the indentation from it
    indicator = "2" if always_indented or first[0] in " \t" else ""
    pad = " " * (indent + 2)
    return (f"|{indicator}{chomp}", *[pad + line if line else "" for line in lines], *[""] * (trailing - 1))


def _scalar(value: Any) -> str:
    """A YAML scalar for a non-string leaf."""
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int):
        return str(value)
    if isinstance(value, float):
        return _float(value)
    raise TypeError(f"not a YAML scalar: {value!r}")


def _float(number: float) -> str:
    if not math.isfinite(number):
        raise ValueError(f"cannot write {number!r} as YAML")
    text = repr(number)
    if "e" in text and "." not in text.split("e")[0]:
        mantissa, exponent = text.split("e")
        text = f"{mantissa}.0e{exponent}"
    return text


def _key_head(prefix: str, key: str, indent: int) -> str:
    """`prefix`, the written `key` and its `:` (the value follows). YAML limits implicit keys to
    1024 characters, so a key over MAX_IMPLICIT_KEY takes the explicit form: `? key` with `:` on
    the next line at column `indent`."""
    if len(key) <= MAX_IMPLICIT_KEY:
        return f"{prefix}{key}:"
    return f"{prefix}? {key}\n{' ' * indent}:"


# `prefix`, a string key and its `:` (`_key_head` of the key's text), by quoting: a document's
# keys are few and repeat in every object of its kind, and working out a key's quoting is most
# of a key's time.
@functools.lru_cache(maxsize=65536)
def _minimal_head(prefix: str, key: str, indent: int) -> str:
    return _key_head(prefix, _minimal(key), indent)


@functools.lru_cache(maxsize=65536)
def _words_head(prefix: str, key: str, indent: int) -> str:
    return _key_head(prefix, _words(key), indent)


@functools.lru_cache(maxsize=4096)  # the same field docs are in every chart
def _comment_lines(texts: tuple[str, ...], indent: int) -> tuple[str, ...]:
    pad = " " * indent
    return tuple(f"{pad}# {_comment_text(line)}".rstrip() for text in texts for line in text.split("\n"))


def _comment_text(line: str) -> str:
    """A comment cannot escape anything, so characters YAML might read as a line break are spelt out."""
    return "".join(f"<U+{ord(c):04X}>" if _UNSAFE_CHAR.match(c) else c for c in line)


# Leaves are most of a document and never a mapping or a sequence: they go straight to
# `scalar`, past the (slow) abstract-class checks.
_LEAVES = (str, int, float, bool, type(None))
_NO_COMMENTS = Comments()


class _Writer:
    __slots__ = ("lines", "value", "head", "comments", "track_paths")

    def __init__(self, quoting: Quoting, comments: Comments) -> None:
        self.lines: list[str] = []
        self.value, self.head = (_words_value, _words_head) if quoting is Quoting.WORDS else (_minimal_value, _minimal_head)
        self.comments = comments
        self.track_paths = comments is not _NO_COMMENTS  # a value's path only serves to find its comments

    def mapping(self, value: Mapping, indent: int, path: ValuePath, first_prefix: str | None = None) -> None:
        pad = " " * indent
        prefix = pad if first_prefix is None else first_prefix
        if not self.track_paths:
            self._untracked_mapping(value, indent, prefix)
            return
        key_head, entry = self.head, self.entry
        for key, item in value.items():
            here = path + (key,)
            if before := self.comments.before.get(here):
                self.lines += _comment_lines(tuple(before), indent)
            entry(key_head(prefix, key, indent) if type(key) is str else _key_head(prefix, _scalar(key), indent),
                  item, indent, here)
            prefix = pad
        if after := self.comments.after.get(path):
            self.lines += _comment_lines(tuple(after), indent)

    def _untracked_mapping(self, value: Mapping, indent: int, prefix: str) -> None:
        """`mapping` without comments: the common case, kept short (most of a document is keys,
        strings, dicts, ints and bools, which go straight to their text; anything else takes `entry`)."""
        lines, key_head, value_text = self.lines, self.head, self.value
        pad = " " * indent
        for key, item in value.items():
            head = key_head(prefix, key, indent) if type(key) is str else _key_head(prefix, _scalar(key), indent)
            prefix = pad
            kind = type(item)
            if kind is str:
                text = value_text(item, indent)
                lines.append(f"{head} {text[0]}")
                if len(text) > 1:
                    lines.extend(text[1:])
            elif kind is dict and item:
                lines.append(head)
                self._untracked_mapping(item, indent + 2, pad + "  ")
            elif kind is int:
                lines.append(f"{head} {item}")
            elif kind is bool:
                lines.append(f"{head} true" if item else f"{head} false")
            elif kind is list and item:
                lines.append(head)
                self._untracked_sequence(item, indent)
            else:
                self.entry(head, item, indent, ())

    def _untracked_sequence(self, value: list, indent: int) -> None:
        """`sequence` without comments: maps and strings straight to their text, the rest through `item`."""
        lines, value_text = self.lines, self.value
        dash = " " * (indent + 2) + "- "
        for element in value:
            kind = type(element)
            if kind is dict and element:
                self._untracked_mapping(element, indent + 4, dash)
            elif kind is str:
                text = value_text(element, indent + 2)
                lines.append(dash + text[0])
                if len(text) > 1:
                    lines.extend(text[1:])
            else:
                self.item(dash, element, indent + 4, ())

    def sequence(self, value: Sequence, indent: int, path: ValuePath) -> None:
        pad = " " * (indent + 2)
        for position, item in enumerate(value):
            self.item(pad + "- ", item, indent + 4, path + (str(position),) if self.track_paths else path)

    def entry(self, head: str, item: Any, indent: int, path: ValuePath) -> None:
        if isinstance(item, _LEAVES) or not item:
            self.scalar(head + " ", item, indent, path)
        elif type(item) is dict or isinstance(item, Mapping):
            self.lines.append(head)
            self.mapping(item, indent + 2, path)
        elif isinstance(item, (list, tuple)):
            self.lines.append(head)
            self.sequence(item, indent, path)
        else:
            self.scalar(head + " ", item, indent, path)

    def item(self, head: str, item: Any, indent: int, path: ValuePath) -> None:
        if isinstance(item, _LEAVES) or not item:
            self.scalar(head, item, indent - 2, path)
        elif type(item) is dict or isinstance(item, Mapping):
            self.mapping(item, indent, path, first_prefix=head)
        elif isinstance(item, (list, tuple)):
            self.lines.append(head.rstrip())
            self.sequence(item, indent, path)
        else:
            self.scalar(head, item, indent - 2, path)

    def scalar(self, head: str, item: Any, indent: int, path: ValuePath) -> None:
        """`head` and the value `item` after it; `indent` is the column of the key it belongs to."""
        if isinstance(item, str):
            text = self.value(item, indent)
        elif isinstance(item, _LEAVES):
            text = (_scalar(item),)
        elif isinstance(item, (list, tuple)):
            text = ("[]",)
        elif isinstance(item, Mapping):
            text = ("{}",)
        else:
            text = (_scalar(item),)  # not a YAML value: raises
        comment = self.comments.line.get(path) if self.track_paths else None
        self.lines.append(head + text[0] + (f"  # {_comment_text(comment)}" if comment is not None else ""))
        self.lines.extend(text[1:])


def dump_yaml(docs: Sequence[Mapping[Any, Any]], *, quoting: Quoting = Quoting.MINIMAL,
              comments: Mapping[int, Comments] | None = None, header: str | None = None) -> str:
    """YAML text of `docs`, strings written as `quoting` says. `comments[i]` are document i's
    comments (a line comment needs a scalar at its path). `header` becomes leading `# ` lines
    and a `---` before the first document."""
    for index, document_comments in (comments or {}).items():
        for path, comment in document_comments.line.items():
            if not _has_scalar_at(docs[index], path):
                raise KeyError(f"no value at {'.'.join(path)} to carry the comment {comment!r}")
    parts = []
    for index, doc in enumerate(docs):
        writer = _Writer(quoting, (comments or {}).get(index, _NO_COMMENTS))
        if doc:
            writer.mapping(doc, 0, ())
        else:
            writer.lines.append("{}")
        parts.append("\n".join(writer.lines) + "\n")
    text = "---\n".join(parts)
    if header:
        text = "\n".join(_comment_lines(tuple(header.splitlines()), 0)) + "\n" + ("---\n" if parts else "") + text
    return text


def dump_all(objects: Sequence[Mapping[str, Any]]) -> str:
    """A YAML stream of Kubernetes objects for stdout (`gopc render`, `gopc diff`): every document,
    the first included, after a `---` line; nothing for no objects."""
    return "---\n" + dump_yaml(objects) if objects else ""


def _has_scalar_at(doc: Mapping[str, Any], path: ValuePath) -> bool:
    node: Any = doc
    for key in path:  # not values.lookup: a document may hold any Mapping, not only dicts
        if not isinstance(node, Mapping) or key not in node:
            return False
        node = node[key]
    return not isinstance(node, (Mapping, list, tuple))
