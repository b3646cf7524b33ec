"""The parser's bounds: how much error recovery, nesting and number a file may hold.

Input: counts kept by the parse, a declaration's tree, a number literal's text. Output: whether
a bound is passed, and the diagnostic text that says so (E0330 nesting, E0331 numbers).

Why bounds: every later pass (checker, evaluator, formatter, language server) walks trees
recursively, a few frames per level, and error recovery may cost as much as a declaration's
text per recovery; without bounds hostile text costs quadratic time or the stack.

Invariants: pure functions and constants; `node_below` is iterative (the tree it looks at may
be too deep to recurse).
"""

from __future__ import annotations

import dataclasses
import functools

from gop.compiler.syntax import ast

MAX_ERRORS_PER_FILE = 50
# Recoveries one declaration may take (reported or not: errors close together are reported
# once). Each may cost as much as the declaration's text, so without a bound a long
# declaration full of errors took quadratic time; past it the declaration is given up.
MAX_RECOVERIES_PER_CHUNK = 200
# and a file: past it, as past MAX_ERRORS_PER_FILE, the rest of the file is not parsed.
MAX_RECOVERIES_PER_FILE = 500
# How deep a declaration's tree may be (E0330); real programs stay under 20 levels.
# Left-associative chains (`1 + 1 + ...`) count too.
MAX_NESTING = 100
# Number literals (E0331): ints are 64-bit, as in Kubernetes and Helm.
INT_MAX = 2**63 - 1

TOO_DEEP_MESSAGE = f"this declaration is nested more than {MAX_NESTING} levels deep"
TOO_DEEP_NOTES = ("name the inner parts with `let` declarations",)
INT_LIMIT = f"an integer is at most {INT_MAX} (64 bits)"
FLOAT_LIMIT = "a decimal is at most about 1.8e308 (64-bit floating point)"


def int_in_range(digits: str) -> bool:
    """Whether a decimal literal (no sign, leading zeros removed) fits in 64 bits."""
    # Compared as text first: Python refuses to convert more than 4,300 digits.
    return len(digits) <= len(str(INT_MAX)) and int(digits) <= INT_MAX


def node_below(root: ast.Node, depth_limit: int = MAX_NESTING) -> ast.Node | None:
    """The first node found deeper than `depth_limit` under `root`, or None."""
    stack = [(root, 1)]
    while stack:
        node, depth = stack.pop()
        if depth > depth_limit:
            return node
        for name in _child_fields(node.__class__):
            value = getattr(node, name)
            if isinstance(value, ast.Node):
                stack.append((value, depth + 1))
            elif value.__class__ is tuple:
                stack.extend((item, depth + 1) for item in value if isinstance(item, ast.Node))
    return None


@functools.cache
def _child_fields(node_class: type) -> tuple[str, ...]:
    return tuple(f.name for f in dataclasses.fields(node_class) if f.name != "span")
