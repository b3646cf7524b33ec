"""Parse ahead: a second process parses the workspace's files into the disk cache while the
language server starts, so that its first analysis reads their trees instead of parsing them.

Input: the server's working directory (an editor starts the server in the workspace folder) and
the disk cache (`core.diskcache`). Output: nothing but disk-cache entries, `session.parse_through`'s
own (kind "parse", keyed by the file's display path and text), which the server's `ParseCache`
looks up before it parses a first text. `start(disk)` runs in the server's process before it
imports the protocol (a third of a second) and most of the compiler (it imports the loader and
the parser, to look the workspace's first file up); the helper (`python -m gop.lsp.parse_ahead`)
imports only those, and parses the prelude, then the files from the last to the first, so the
server, which loads the prelude and then the files from the first, meets it in the middle of a
workspace it has not finished (and, when it finished, never loads Lark).

Nothing depends on the helper: the server never waits for it nor reads from it; a file it has
not written yet the server parses itself (an entry is renamed into place whole, so a half-written
one is never read). It is started only where it can help: a working directory that holds `.gop`
files whose first is not in the disk cache yet (a workspace opened before is not read again), and
more than one core; it runs at a lower priority, so a busy machine's cores go to the server
first. A helper that fails to start, dies or is killed costs the server nothing but the parses it
would have saved; one still running when the server exits is stopped. Its stdin, stdout and
stderr are closed: stdout is the protocol's.
"""
from __future__ import annotations

import os
import subprocess
import sys

COMMAND = [sys.executable, "-m", "gop.lsp.parse_ahead"]


def start(disk) -> subprocess.Popen | None:
    """The helper parsing the working directory's program ahead, or None where it cannot help: no
    disk cache (`core.diskcache`), one core, no `.gop` file in the working directory, or the first
    file the server will load there in the cache already (the server was started on it before:
    the rest most likely is there too, and the helper would only read it all again)."""
    if disk is None or _cores() < 2:  # with one core it would only take the server's own
        return None
    try:
        if not any(name.endswith(".gop") for name in os.listdir(".")):
            return None
    except OSError:
        return None
    if _first_file_kept(disk):
        return None
    try:
        return subprocess.Popen(COMMAND, stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL,
                                stderr=subprocess.DEVNULL, close_fds=True)
    except OSError:
        return None


def stop(helper: subprocess.Popen | None) -> None:
    """Stop the helper if it still runs (the server is exiting)."""
    if helper is not None and helper.poll() is None:
        helper.kill()
        helper.wait()


def _cores() -> int:
    try:
        return len(os.sched_getaffinity(0))
    except AttributeError:  # not on Linux
        return os.cpu_count() or 1


def parse_into_cache(directory: str) -> int:
    """Parse into the disk cache what it lacks of the prelude (every analysis loads it first) and
    of the `.gop` files below `directory`, from the last to the first; returns how many were parsed."""
    from gop.compiler.core.diskcache import open_disk_cache
    from gop.compiler.semantic.loader import PRELUDE_NAME, prelude_text
    from gop.compiler.syntax.parser import parse, parse_key

    disk = open_disk_cache()
    if disk is None:
        return 0
    parsed = 0
    for display, text in [(PRELUDE_NAME, prelude_text()), *reversed(list(_sources(directory)))]:
        key = parse_key(disk, display, text)
        if not disk.has("parse", key):
            disk.put("parse", key, parse(display, text))
            parsed += 1
    return parsed


def _first_file_kept(disk) -> bool:
    from gop.compiler.syntax.parser import parse_key

    first = next(_sources("."), None)
    return first is not None and disk.has("parse", parse_key(disk, *first))


def _sources(directory: str):
    """(display path, text) of each readable `.gop` file below `directory`, in the loader's order
    and named as it names them (display paths from the working directory)."""
    from pathlib import Path

    from gop.compiler.semantic.loader import MAX_SOURCE_BYTES, display_path, gop_files
    from gop.compiler.syntax.readfile import UnreadableFile, read_program_file

    root = Path(os.path.abspath(directory))
    cwd = os.path.abspath(os.getcwd())
    for path in gop_files(root):
        display = display_path(path, cwd)
        try:
            yield display, read_program_file(path, display, inside=root, limit=MAX_SOURCE_BYTES).decode("utf-8")
        except (UnreadableFile, UnicodeDecodeError):
            continue  # the server reports it


def main() -> None:
    """The helper: at a lower priority, so that on a busy machine it takes no core the server could use."""
    try:
        os.nice(10)
    except (AttributeError, OSError):  # not on this system: at the server's priority
        pass
    parse_into_cache(".")


if __name__ == "__main__":
    main()
