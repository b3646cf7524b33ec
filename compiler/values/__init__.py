"""Value trees, once: lookup by path, diff, merge and the plain (JSON/YAML-ready) form.

A value tree is what evaluation produces and lowering reads: nested `dict`s keyed by field
name, with runtime leaves (`gop.compiler.semantic.types`: durations, quantities, secret and
resource references) or plain data (after `plain`). Passes that look a value up by path, compare
two trees or layer one over another call these functions (explain's own walk also names the
step that failed, for its did-you-mean).

Imports only `semantic.types` (for the runtime leaf classes); sits below `fleet`.
"""

from gop.compiler.values.diff import changed_paths, patch, same
from gop.compiler.values.lookup import MISSING, lookup
from gop.compiler.values.merge import merge, plain, plain_merge

__all__ = ["MISSING", "changed_paths", "lookup", "merge", "patch", "plain", "plain_merge", "same"]
