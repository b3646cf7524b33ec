"""Where gopc keeps what it can compute again: $XDG_CACHE_HOME/gopc, else ~/.cache/gopc.

A relative XDG_CACHE_HOME is ignored (as the XDG spec says), and without a home directory
there is no cache directory at all (None), rather than one in the working directory.
"""

from __future__ import annotations

import os
from pathlib import Path


def user_cache_dir() -> Path | None:
    root = os.environ.get("XDG_CACHE_HOME", "")
    if not os.path.isabs(root):
        root = os.path.join(os.path.expanduser("~"), ".cache")
    return Path(root) / "gopc" if os.path.isabs(root) else None
