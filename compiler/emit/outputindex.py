"""The output index: the files a build found holding its bytes in its output tree, each with its
status and the digest of those bytes, kept in the disk cache for the next build into the same
directory; that build compares a file whose status is the recorded one by digest, without opening
it (as git's index spares git reading a file whose status it knows).

Input: the disk cache (`core.diskcache`) and the output directory's real path; then, during a
build, each file of the tree with the build's bytes for it, and the status of each file the build
read and found holding them (`keep_read`). Output: `same`, for each file, whether it holds the
build's bytes, told by its record when its status is the one recorded (None otherwise: the caller
reads the file, as without an index); `store` keeps this build's records for the next (those it
used, and those of the files it read).

In a process that builds again (the build server), an index is handed to the next build into the
same directory (`write_tree`'s `indexes`): the records come from memory, with the bytes each was
checked against, and a file whose status is its record's and whose bytes are those very objects
is not hashed either (the lowering's memo hands an unchanged file's bytes over again): a served
build after a one-line edit at (1000,3,60) hashes about 130 files, not 21,475 (0.05 s less). There
the index also carries the tree's watch (`emit.treewatch`, `watch`): a status it vouches for is
not taken again.

Measured at (1000,3,60) (21,475 files, 86 MB), one-line-change builds: with the tree's pages in
memory a status and a digest cost about what opening and reading the file did (SHA-256 of the
build's bytes, 53 ms; the statuses, 56 ms), so the index saves little there (sys 0.37 -> 0.33 s);
with them dropped, it spares reading the tree back from disk (CPU 2.7 -> 2.3 s, wall 4.5 -> 3.6 s).

Invariants:
- A record is (device, inode, size, modification and change times in ns, SHA-256 of the bytes) of
  a regular file, kept only when that status was settled (`core.settling`) when it was taken: a
  write after it, even one that keeps the size and puts the modification time back, gives the
  file another change time (a file replaced, another inode), so its status no longer matches and
  it is read. A record is a fact about an inode, true whoever wrote the file and whenever: a stale
  record costs a read, never a wrong answer.
- On disk (kind `output-index`) by gopc's fingerprint and the output's real path, outside the
  output. A damaged or foreign entry (another shape, records of the wrong size) is taken for none;
  a concurrent run never reads a half-written one (the disk cache writes beside and renames); an
  entry is rewritten only when its records change. Without a disk cache (`--no-cache`) there is
  no index: every file is read.
"""

from __future__ import annotations

import hashlib
import os
import stat
import struct
import time
from collections import namedtuple

from gop.compiler.core.settling import is_settled, settling_windows

KIND = "output-index"
_STATUS = struct.Struct("<QQQqq")  # device, inode, size, modification and change times (ns)
_DIGEST_SIZE = 32
_RECORD_SIZE = _STATUS.size + _DIGEST_SIZE  # a status, then the SHA-256 of the bytes


class _Stored(namedtuple("_Stored", "paths records")):
    """The records as kept: the relative paths joined by NUL (one string pickles and loads far faster
    than thousands) and their records (`_RECORD_SIZE` bytes each), in the same order."""

    __slots__ = ()


def content_digest(data: bytes) -> bytes:
    """What a record keeps of a file's bytes. SHA-256: as fast as SHA-1 where the CPU computes both
    (SHA-NI, ARMv8), faster than BLAKE2b there (53 vs 74 ms for the 86 MB of a (1000,3,60) tree)."""
    return hashlib.sha256(data).digest()


class OutputIndex:
    """The records of one output directory: those the last build kept, and this build's."""

    __slots__ = ("_disk", "_key", "_since", "_stored", "_offsets", "_records", "_kept", "_read", "_bytes", "_checked",
                 "stored", "watch", "watch_refused", "paths_before")

    def __init__(self, disk, out: str, *, remember: bool = False, previous: OutputIndex | None = None) -> None:
        """`remember`: this index is kept for a next build into `out` in this process (the build
        server's), as that build's `previous`: its records are then taken from memory, with the
        bytes each was checked against, and a file whose status is its record's and whose bytes are
        those very objects (the lowering's memo hands an unchanged file's bytes over again) is not
        even hashed. Otherwise the records are read from the disk cache."""
        self._disk = disk  # core.diskcache.DiskCache
        self._key = disk.key(KIND, os.fsencode(out))
        self._since = time.time_ns()  # no status this build keeps was taken before
        same_output = previous is not None and previous._key == self._key
        remembered = same_output and previous.stored is not None
        stored = previous.stored if remembered else disk.get(KIND, self._key)
        self._stored = stored if _sound(stored) else None
        self._checked: dict[str, tuple[bytes, bytes]] = previous._checked_now() if remembered else {}
        self._bytes: dict[str, bytes] | None = {} if remember else None  # the bytes each kept record holds
        self.stored: _Stored | None = None  # the records `store` kept, for a next index in this process
        paths = self._stored.paths.split("\0") if self._stored is not None and self._stored.paths else []
        self._offsets = dict(zip(paths, range(0, len(paths) * _RECORD_SIZE, _RECORD_SIZE)))  # path -> its record's
        self._records = self._stored.records if self._stored is not None else b""
        self._kept: dict[str, bytes] = {}  # this build's records, in the order the files passed
        self._read: dict[str, tuple[os.stat_result, bytes]] = {}  # files read: the status and digest found
        # The output tree's watch (`emit.treewatch`), handed on from build to build in this process: the
        # statuses it vouches for are not taken again.
        self.watch = previous.watch if same_output else None
        self.watch_refused = previous.watch_refused if same_output else ""  # why it is not watched: not tried again
        # The paths of the last build into `out` in this process, found safe and normal (`emit.tree.safe_relative`).
        self.paths_before: dict[str, bool] = previous.paths_before if same_output else {}

    def same(self, out: str, files: list[tuple[str, bytes]]) -> list[bool | None]:
        """For each (relative path, bytes) of a file of the tree at `out`: whether it holds those
        bytes, told by its record when the file still has the status recorded (the record is then
        kept for the next build); None when there is no such record: the file must be read. One
        call for many files: it runs for every file of the tree."""
        told: list[bool | None] = []
        watch = self.watch
        for relative, data in files:
            offset = self._offsets.get(relative)
            if offset is None:
                told.append(None)
                continue
            status = watch.status(relative) if watch is not None else None
            if status is None:
                status = regular_status(f"{out}/{relative}")
                if watch is not None:
                    watch.observe(relative, status)
            if status is None or status != self._records[offset:offset + _STATUS.size]:
                told.append(None)
                continue
            record = self._records[offset:offset + _RECORD_SIZE]
            checked = self._checked.get(relative)
            if (checked is None or checked[1] is not data or checked[0] != record) \
                    and (len(data) != _STATUS.unpack_from(status)[2] or content_digest(data) != record[_STATUS.size:]):
                told.append(False)
                continue
            self._kept[relative] = record
            if self._bytes is not None:
                self._bytes[relative] = data
            told.append(True)
        return told

    def unchanged(self, relative: str, data: bytes) -> bool:
        """`same`'s answer True for one file, cheaply, in the one case that needs no status taken
        nor digest: `data` is the very bytes object the last build checked the file's record
        against, and the tree's watch vouches that the file still has the record's status. False
        says nothing: the file then goes through `same`."""
        checked = self._checked.get(relative)  # from the last build's kept records: this index's too
        if checked is None or checked[1] is not data:
            return False
        record = checked[0]
        if self.watch.status(relative) != record[:_STATUS.size]:
            return False
        self._kept[relative] = record
        self._bytes[relative] = data
        return True

    def keep_read(self, relative: str, data: bytes, status: os.stat_result) -> None:
        """The file at `relative`, read during this build with `status`, holds `data`."""
        self._kept[relative] = b""  # its place in the order; its record once it is known to be settled (`store`)
        self._read[relative] = (status, content_digest(data))
        if self._bytes is not None:
            self._bytes[relative] = data

    def store(self) -> None:
        """Keep this build's records for the next: those it used, and those of the files it read
        whose status was settled when taken (a file changed in its last tick is read again)."""
        windows = settling_windows(status for status, _ in self._read.values())
        for relative, (status, digest) in self._read.items():
            if is_settled(status, self._since, windows):
                self._kept[relative] = packed_status(status) + digest
            else:
                del self._kept[relative]
        if not self._kept and self._stored is None:
            return  # a new tree: its files were all written now
        stored = _Stored("\0".join(self._kept), b"".join(self._kept.values()))
        if stored != self._stored:
            self._disk.put(KIND, self._key, stored)
        self.stored = stored

    def _checked_now(self) -> dict[str, tuple[bytes, bytes]]:
        """Each record this index kept, with the bytes it was checked against (for the next index)."""
        if self._bytes is None:
            return {}
        return {relative: (record, self._bytes[relative]) for relative, record in self._kept.items()
                if relative in self._bytes}


def regular_status(path: str) -> bytes | None:
    """The status of the regular file at `path` (not followed: a symlink is not one), packed; None for anything else."""
    try:
        status = os.lstat(path)
    except OSError:
        return None
    return packed_status(status) if stat.S_ISREG(status.st_mode) else None


def packed_status(status: os.stat_result) -> bytes:
    return _STATUS.pack(status.st_dev, status.st_ino, status.st_size, status.st_mtime_ns, status.st_ctime_ns)


def _sound(stored) -> bool:
    """An entry of this shape: as many records as paths (else: another program's, or damaged)."""
    if not isinstance(stored, _Stored) or not isinstance(stored.paths, str) or not isinstance(stored.records, bytes):
        return False
    return len(stored.records) == (stored.paths.count("\0") + 1 if stored.paths else 0) * _RECORD_SIZE
