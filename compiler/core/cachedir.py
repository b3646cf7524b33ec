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


def writable_cache_dir(*parts: str) -> Path | None:
    """The cache directory (or a directory below it), made if missing; None where there is no
    cache directory or it cannot be written."""
    directory = user_cache_dir()
    if directory is None:
        return None
    directory = directory.joinpath(*parts)
    try:
        directory.mkdir(parents=True, exist_ok=True)
    except OSError:
        return None
    return directory if os.access(directory, os.W_OK) else None
