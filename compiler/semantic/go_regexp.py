"""Go regular expressions (RE2 syntax, Go's `regexp` package) as Flux reads them, checked without Go.

Input: the text of a pattern (an image policy's `filterTags.pattern`) and of a replacement
template (`filterTags.extract`, which Flux expands with Go's `Regexp.ReplaceAllString`).
Output: `pattern_problem(text)`, why Go's `regexp.Compile` refuses a pattern (None when it
accepts it), `group_names(text)` and `template_problems(template, names, count)`, the references
of a template that name no group of its pattern (Go expands them to nothing, silently).

Invariants: never raises. A pattern is read once, character by character: what RE2 lacks and
Python has (look-around, back-references, possessive and atomic groups, conditionals, `\\Z`,
comments) is refused with the reason; what RE2 has and Python spells otherwise (`\\z`, `\\pL`,
`\\p{Greek}`, `[[:alpha:]]`, `\\x{263a}`, `\\Q...\\E`, `(?<name>`) is translated; the result must then
compile with Python's `re`, which catches what the two share (unbalanced brackets, bad repeats).
"""

from __future__ import annotations

import re

_GROUP_NAME = re.compile(r"[A-Za-z0-9_]+")
_FLAGS = re.compile(r"([imsU]*)(?:-([imsU]*))?([):])")
_COUNTED = re.compile(r"\{[0-9]+(,[0-9]*)?\}$")
# Escapes RE2 knows that Python's `re` spells otherwise or not at all, with a stand-in of the same shape.
_RE2_ESCAPES = {"z": r"\Z", "C": "."}
# Constructs after `(?` that RE2 refuses, by their first characters.
_UNSUPPORTED_GROUPS = (("=", "look-ahead"), ("!", "negative look-ahead"), ("<=", "look-behind"),
                       ("<!", "negative look-behind"), (">", "an atomic group"), ("(", "a conditional"),
                       ("#", "a comment group"), ("P=", "a back-reference"))
# Template references: $$, $name, ${name} (Go's Regexp.Expand); any other `$` is text.
_TEMPLATE_REFERENCE = re.compile(r"\$(\$|\{([^}]*)\}|([A-Za-z0-9_]+))|\$")


def pattern_problem(text: str) -> str | None:
    """Why Go's regexp.Compile refuses `text`; None when it accepts it."""
    translated = _translate(text)
    if isinstance(translated, _Problem):
        return translated.reason
    try:
        re.compile(translated)
    except re.error as error:
        return str(error.msg)
    except (RecursionError, OverflowError):
        return "it nests too deeply"
    return None


def group_names(text: str) -> tuple[tuple[str, ...], int]:
    """(the named groups, the number of groups) of a pattern `pattern_problem` accepts."""
    compiled = re.compile(_translate(text))  # type: ignore[arg-type]
    return tuple(compiled.groupindex), compiled.groups


def template_problems(template: str, names: tuple[str, ...], count: int) -> list[str]:
    """Each reference of `template` that names no group of a pattern with these `names` and `count`
    groups, in words (Go replaces such a reference with nothing)."""
    problems = []
    for match in _TEMPLATE_REFERENCE.finditer(template):
        whole, braced, bare = match.group(0), match.group(2), match.group(3)
        if whole == "$$":
            continue
        name = braced if braced is not None else bare
        if name is None or not _GROUP_NAME.fullmatch(name):
            continue  # not a reference: Go writes it as it is
        if name.isdigit():
            if int(name) > count:
                problems.append(f"`{whole}` names group {int(name)}, but the pattern has {count} group"
                                f"{'' if count == 1 else 's'}")
        elif name not in names:
            hint = _digits_then_text(name)
            problems.append(f"`{whole}` names no group of the pattern" + (f" (Go reads `{name}` as one name; "
                            f"write `${{{hint[0]}}}{hint[1]}`)" if hint else ""))
    return problems


def _digits_then_text(name: str) -> tuple[str, str] | None:
    digits = re.match(r"[0-9]+", name)
    return (digits.group(0), name[digits.end():]) if digits else None


class _Problem:
    def __init__(self, reason: str) -> None:
        self.reason = reason


def _translate(text: str) -> str | _Problem:
    """`text` in Python's syntax, or why RE2 refuses it."""
    out: list[str] = []
    i, in_class = 0, False
    while i < len(text):
        char = text[i]
        if char == "\\":
            if i + 1 >= len(text):
                return _Problem("it ends with a lone `\\`")
            step = _escape(text, i, in_class)
            if isinstance(step, _Problem):
                return step
            piece, i = step
            out.append(piece)
            continue
        if in_class:
            if text.startswith("[:", i):
                end = text.find(":]", i + 2)
                if end < 0:
                    return _Problem("a `[:` class is not closed by `:]`")
                out.append("a")  # a named ASCII class: any single character stands in for it
                i = end + 2
                continue
            if char == "]" and not (out and out[-1] in ("[", "[^")):
                in_class = False
            out.append(char)
            i += 1
            continue
        if char == "[":
            in_class = True
            piece = "[^" if text.startswith("[^", i) else "["
            out.append(piece)
            i += len(piece)
            continue
        if char == "(" and text.startswith("(?", i):
            rest = text[i + 2:]
            for start, what in _UNSUPPORTED_GROUPS:
                if rest.startswith(start):
                    return _Problem(f"RE2 (Go's regexp) has no {what} `(?{start}`")
            if rest.startswith("<"):
                out.append("(?P<")
                i += 3
                continue
            flags = _FLAGS.match(rest)
            if flags is not None and "U" in flags.group(0):  # RE2's ungreedy flag: Python has none
                out.append(_without_ungreedy(flags))
                i += 2 + flags.end()
                continue
        if text.startswith("+", i + 1) and (char in "*+?" or (char == "}" and _COUNTED.search(text, 0, i + 1))):
            return _Problem("RE2 (Go's regexp) has no possessive repetition (`*+`, `++`, `?+`, `{n}+`)")
        out.append(char)
        i += 1
    return "".join(out)


def _escape(text: str, i: int, in_class: bool) -> tuple[str, int] | _Problem:
    """The escape at text[i] (a backslash) in Python's syntax, and where the next piece starts."""
    letter = text[i + 1]
    if letter.isdigit() and letter != "0" and not in_class:
        return _Problem(f"RE2 (Go's regexp) has no back-reference `\\{letter}`")
    if letter == "Z":
        return _Problem("RE2 (Go's regexp) has no `\\Z`; write `\\z` (end of text) or `$`")
    if letter in _RE2_ESCAPES:
        return _RE2_ESCAPES[letter], i + 2
    if letter in "pP":
        if text.startswith("{", i + 2):
            end = text.find("}", i + 3)
            if end < 0:
                return _Problem(f"a `\\{letter}{{` class is not closed by `}}`")
            return ("a" if in_class else "\\w"), end + 1
        return ("a" if in_class else "\\w"), i + 3
    if letter == "x" and text.startswith("{", i + 2):
        end = text.find("}", i + 3)
        digits = text[i + 3:end] if end >= 0 else ""
        if not digits or not all(c in "0123456789abcdefABCDEF" for c in digits) or int(digits, 16) > 0x10FFFF:
            return _Problem("`\\x{...}` needs a hexadecimal code point of at most 10FFFF")
        return re.escape(chr(int(digits, 16))), end + 1
    if letter == "Q":
        end = text.find("\\E", i + 2)
        literal = text[i + 2:] if end < 0 else text[i + 2:end]
        return re.escape(literal), (len(text) if end < 0 else end + 2)
    if letter in "uUN":
        return _Problem(f"RE2 (Go's regexp) has no escape `\\{letter}`")
    return text[i:i + 2], i + 2


def _without_ungreedy(flags: re.Match) -> str:
    """A flags group `(?imsU-imsU)` or `(?imsU-imsU:` without U, which only changes what a match takes."""
    on, off, end = (flags.group(1) or "").replace("U", ""), (flags.group(2) or "").replace("U", ""), flags.group(3)
    if not on and not off:
        return "(?:" if end == ":" else ""
    return f"(?{on}{'-' + off if off else ''}{end}"
