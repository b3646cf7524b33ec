"""Reading the program's own files: `.gop` sources, imported modules and SOPS files.

Input: a path, the directory it must stay inside (after resolving symbolic links; None for a
file named on the command line) and a size limit. Output: the file's bytes, or an
`UnreadableFile` saying why not, in one line.

Invariants: only a regular file is read, never a FIFO, device, socket or directory (it is
opened non-blocking and checked with fstat on the descriptor it is read from, so `check`
never waits on a pipe or reads /dev/zero forever); never more than `limit` bytes; a path
with a NUL character or a loop of symlinks is an `UnreadableFile`, never an exception of
another type. A run that records its reads (`READS`) is told every path this reads or tries.
"""

from __future__ import annotations

import os
import stat
from contextvars import ContextVar
from pathlib import Path

_O_NOFOLLOW = getattr(os, "O_NOFOLLOW", 0)
_O_NONBLOCK = getattr(os, "O_NONBLOCK", 0)
_O_CLOEXEC = getattr(os, "O_CLOEXEC", 0)
_CHUNK = 1 << 20

# The resolved paths read (or tried) by the current context's run, when a whole-run memo
# (`commands.runmemo`) records them for that run; None otherwise. Per context, so the language
# server's parallel analyses record nothing and each other's nothing.
READS: ContextVar[list[str] | None] = ContextVar("gop_program_reads", default=None)

_KINDS = ((stat.S_ISDIR, "a directory"), (stat.S_ISFIFO, "a FIFO"), (stat.S_ISCHR, "a character device"),
          (stat.S_ISBLK, "a block device"), (stat.S_ISSOCK, "a socket"))


class UnreadableFile(Exception):
    """`reason` tells the callers' codes apart: "outside", "not-regular", "too-large" or "unreadable"."""

    def __init__(self, message: str, reason: str):
        super().__init__(message)
        self.message = message
        self.reason = reason


def read_program_file(path: Path | str, shown: str, *, inside: Path | None, limit: int, resolved: str | None = None,
                      resolved_inside: str | None = None) -> bytes:
    """The bytes of the regular file `path`; messages call it `shown` (e.g. "`a.gop`", "SOPS file s.yaml").
    `resolved` and `resolved_inside`: `os.path.realpath` of `path` and of `inside`, when the caller
    has them already (the loader: one directory holds many files)."""
    if "\x00" in str(path):
        raise UnreadableFile(f"{printable(shown)} is not a usable path: it contains a NUL character", "outside")
    resolved = resolved or os.path.realpath(path)
    reads = READS.get()
    if reads is not None:
        reads.append(resolved)
    if inside is not None and not _within(resolved, resolved_inside or os.path.realpath(inside)):
        raise UnreadableFile(f"{shown} leads to {resolved}, outside the directory {inside}", "outside")
    try:
        descriptor = os.open(resolved, os.O_RDONLY | _O_NONBLOCK | _O_NOFOLLOW | _O_CLOEXEC)
    except OSError as error:
        raise UnreadableFile(f"cannot read {shown}: {error.strerror or error}", "unreadable") from None
    try:
        status = os.fstat(descriptor)
        if not stat.S_ISREG(status.st_mode):
            kind = next((name for test, name in _KINDS if test(status.st_mode)), "not a file")
            raise UnreadableFile(f"{shown} is {kind}, not a regular file", "not-regular")
        data = _read_at_most(descriptor, limit, status.st_size)
    except OSError as error:
        raise UnreadableFile(f"cannot read {shown}: {error.strerror or error}", "unreadable") from None
    finally:
        os.close(descriptor)
    if data is None:
        raise UnreadableFile(f"{shown} is larger than {_size(limit)}", "too-large")
    return data


def _within(resolved: str, root: str) -> bool:
    return resolved == root or resolved.startswith(root.rstrip(os.sep) + os.sep)


def _read_at_most(descriptor: int, limit: int, size: int) -> bytes | None:
    """The file's bytes, or None when there are more than `limit` (it may grow while read)."""
    if size > limit:
        return None
    chunks, total = [], 0
    while True:
        chunk = os.read(descriptor, _CHUNK)
        if not chunk:
            return b"".join(chunks)
        total += len(chunk)
        if total > limit:
            return None
        chunks.append(chunk)


def _size(limit: int) -> str:
    return f"{limit >> 20} MiB" if limit >= 1 << 20 else f"{limit} bytes"


def printable(text: str) -> str:
    """A path as a message can show it (a NUL written `\\0`)."""
    return text.replace("\x00", "\\0")
