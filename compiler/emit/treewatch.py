"""The watched output tree: in a process that builds into the same directory again (the build
server), the kernel's notifications (Linux inotify) tell which entries of the tree changed since
the last build looked, so the next build neither lists its 6,300 directories again nor takes the
status of its 21,475 files (at (1000,3,60): about 0.1 s of a served build's 0.5 s); it lists and
takes the status of what changed, as watchman and git's fsmonitor spare git its scans.

Input: the output directory's real path (`start`, at the end of the first build into it in the
process: `emit.tree` calls it, about 0.4 s at (1000,3,60)); then, at the start of each later build
into it, the events queued since (`refresh`). Output: the tree's listing as `emit.tree`
takes it (`listing`), and the status of each regular file (`status`) that nothing touched since a
build (or `start`) took it, after it was watched; None for any other file: the caller takes it
(`observe` keeps what it took).

Invariants:
- Every directory of the tree is watched for what changes its entries (a creation, a removal, a
  rename, in or out), before it is listed; every regular file's inode is watched for what changes
  its bytes or attributes (a write, a truncation, a change of times, modes or links), through
  whichever of its names, in the tree or out of it (gopc links twins: a write into one changes all),
  before its status is taken. So an entry the notifications do not name is as it was when listed,
  and a file they do not name has the status last taken.
- When the watch cannot vouch for the tree, it says so (`refresh` is False) and the caller lists
  and takes statuses as without one: events lost (the kernel's queue overflowed), the output
  directory removed, moved, replaced or unmounted, a directory that cannot be listed, a watch
  refused. It is not started where notifications are not complete: off Linux, on a file system
  that is not local (NFS, SMB, FUSE: changes made by another machine are not notified), or when
  the tree needs more than an eighth of the user's watches (`fs.inotify.max_user_watches`:
  others' tools need theirs).
- What notifications never tell: a write through a shared memory mapping (`mmap`), and a file
  system mounted over a directory of the tree. gopc never writes so; `docs/cli.md` says it.
- The watch holds a descriptor and kernel watches: `close` releases them, as does dropping it.
- `.gopc-staging` (the build's own) is neither listed nor watched; the manifest and journal are
  not entries, as `emit.tree._scan` has it.
"""

from __future__ import annotations

import ctypes
import errno
import os
import re
import struct
import sys
import weakref

from gop.compiler.emit import JOURNAL, MANIFEST, STAGING
from gop.compiler.emit.outputindex import regular_status

_NOT_ENTRIES = (MANIFEST, JOURNAL)  # not entries of the tree, at the output's root

_IN_MODIFY, _IN_ATTRIB = 0x2, 0x4
_IN_MOVED_FROM, _IN_MOVED_TO, _IN_CREATE, _IN_DELETE = 0x40, 0x80, 0x100, 0x200
_IN_DELETE_SELF, _IN_MOVE_SELF, _IN_UNMOUNT, _IN_Q_OVERFLOW, _IN_IGNORED = 0x400, 0x800, 0x2000, 0x4000, 0x8000
_IN_ONLYDIR, _IN_DONT_FOLLOW = 0x1000000, 0x2000000
_DIRECTORY_EVENTS = (_IN_MOVED_FROM | _IN_MOVED_TO | _IN_CREATE | _IN_DELETE | _IN_DELETE_SELF | _IN_MOVE_SELF
                     | _IN_ONLYDIR | _IN_DONT_FOLLOW)
_FILE_EVENTS = _IN_MODIFY | _IN_ATTRIB | _IN_DELETE_SELF | _IN_MOVE_SELF | _IN_DONT_FOLLOW
_EVENT = struct.Struct("iIII")  # struct inotify_event: wd, mask, cookie, len (then the name, NUL-padded)
# Where changes are made by this machine's kernel, so inotify hears of every one.
LOCAL_FILE_SYSTEMS = frozenset({"ext2", "ext3", "ext4", "xfs", "btrfs", "tmpfs", "f2fs", "zfs", "overlay",
                                "bcachefs", "jfs", "reiserfs", "nilfs2"})
# A tree may take at most this fraction of the user's watches: a build server keeps at most 4 trees
# (`emit.tree.OUTPUTS_KEPT` of `commands.serve.PROGRAMS_KEPT` programs), half of them; others' tools need theirs.
_SHARE_OF_WATCHES = 8
_OCTAL_ESCAPE = re.compile(r"\\([0-7]{3})")  # how the mount table writes a space, tab, newline or backslash


class Unwatched(Exception):
    """The tree cannot be watched (why, in words)."""


class TreeWatch:
    """The watches of one output tree, its listing, and the statuses taken since."""

    __slots__ = ("_out", "_descriptor", "_closing", "_libc", "_root", "_directories", "_watched", "_names", "_inodes",
                 "_statuses", "_budget", "_dirty", "_relink", "_entries", "_subdirectories", "_empty", "__weakref__")

    @classmethod
    def start(cls, out: str) -> TreeWatch:
        """A watch of the tree at `out` (a real path), listed and every file's status taken.
        Raises `Unwatched`, saying why, where notifications would not be complete or a watch was refused."""
        if not sys.platform.startswith("linux"):
            raise Unwatched("inotify is Linux's")
        kind = file_system(out)
        if kind not in LOCAL_FILE_SYSTEMS:
            raise Unwatched(f"on a file system ({kind or 'unknown'}) whose changes made elsewhere are not notified")
        try:
            libc = ctypes.CDLL(None, use_errno=True)
            libc.inotify_add_watch.argtypes = (ctypes.c_int, ctypes.c_char_p, ctypes.c_uint32)
            descriptor = libc.inotify_init1(os.O_NONBLOCK | os.O_CLOEXEC)
        except (OSError, AttributeError) as error:
            raise Unwatched(f"no inotify: {error}") from None
        if descriptor < 0:
            raise Unwatched(f"no inotify: {os.strerror(ctypes.get_errno())}")
        watch = cls(out, descriptor, libc, _watch_budget())
        try:
            watch._root = _identity(out)
            watch._list_anew("")
            if _identity(out) != watch._root:
                raise OSError(errno.ESTALE, "the output was replaced while it was listed")
            for relative in watch._names:
                watch.observe(relative, regular_status(f"{out}/{relative}"))
        except OSError as error:
            watch.close()
            raise Unwatched(error.strerror or str(error)) from None
        return watch

    def watches(self) -> int:
        """How many watches the tree takes (0 once closed)."""
        return len(self._watched) + len(self._inodes) if self._descriptor is not None else 0

    def __init__(self, out: str, descriptor: int, libc, budget: int) -> None:
        self._out = out
        self._descriptor: int | None = descriptor
        self._closing = weakref.finalize(self, os.close, descriptor)  # when dropped unclosed (a session dropped)
        self._libc = libc
        self._root: tuple[int, int] = (0, 0)
        # relative path ("" the root) -> (inode, watch, names of its entries but directories, of its directories)
        self._directories: dict[str, tuple[int, int, set[str], set[str]]] = {}
        self._watched: dict[int, str] = {}  # a directory's watch -> its relative path
        self._names: dict[str, int] = {}  # a regular file's relative path -> its inode's watch
        self._inodes: dict[int, set[str]] = {}  # a file inode's watch -> its names in the tree (twins share one)
        self._statuses: dict[str, bytes] = {}  # relative -> status packed as `OutputIndex` records it
        self._budget = budget
        self._dirty: set[str] = set()  # directories to list again
        self._relink: set[str] = set()  # names whose inode may have changed (their directory is listed again)
        # The listing as `emit.tree._scan` gives it, kept as the directories are listed: entries (all but
        # directories, and but the manifest and journal), directories and empty directories, the root none.
        self._entries: set[str] = set()
        self._subdirectories: set[str] = set()
        self._empty: set[str] = set()

    def close(self) -> None:
        """Release the descriptor and with it every watch."""
        self._descriptor = None
        self._closing()  # once: a finalizer runs at most once

    def refresh(self) -> bool:
        """Take the events queued since the last call and list again what they name. False (the
        watch then vouches for nothing: close it) when it can no longer tell what changed."""
        if self._descriptor is None:
            return False
        try:
            if _identity(self._out) != self._root:
                return self._lost()
            while self._take(self._read()):
                pass
            # Every removal first, then every addition: a directory moved within the tree is
            # forgotten (its watch removed) under its old name before it is watched under its new one.
            listed = {}
            for directory in sorted(self._dirty, key=lambda path: (path.count("/") if path else -1, path)):
                if directory in self._directories:  # not gone with a directory above it
                    listed[directory] = self._drop_gone(directory)
            for directory, children in listed.items():
                if directory in self._directories:
                    self._add_new(directory, children)
        except OSError:
            return self._lost()
        self._dirty.clear()
        self._relink.clear()
        return self._descriptor is not None

    def listing(self) -> tuple[set[str], set[str], set[str]]:
        """New sets of the tree's entries (all but directories), directories and empty directories
        (relative paths; the output's root is none of them), as `emit.tree._scan` gives them."""
        return set(self._entries), set(self._subdirectories), set(self._empty)

    def status(self, relative: str) -> bytes | None:
        """The packed status of the regular file at `relative`, taken since it was last touched; None when unknown."""
        return self._statuses.get(relative)

    def observe(self, relative: str, packed: bytes | None) -> None:
        """`packed`: the status of the regular file at `relative`, taken now (None: not a regular file)."""
        if packed is not None and relative in self._names:
            self._statuses[relative] = packed

    def _lost(self) -> bool:
        self.close()
        return False

    def _read(self) -> bytes:
        try:
            return os.read(self._descriptor, 1 << 16)
        except BlockingIOError:
            return b""

    def _take(self, events: bytes) -> bool:
        """Note what the events name; False when there were none."""
        offset = 0
        while offset < len(events):
            descriptor, mask, _, length = _EVENT.unpack_from(events, offset)
            name = events[offset + _EVENT.size:offset + _EVENT.size + length].rstrip(b"\0")
            offset += _EVENT.size + length
            if mask & (_IN_Q_OVERFLOW | _IN_UNMOUNT):
                raise OSError(errno.EOVERFLOW, "events were lost")
            self._note(descriptor, mask, os.fsdecode(name))
        return bool(events)

    def _note(self, descriptor: int, mask: int, name: str) -> None:
        directory = self._watched.get(descriptor)
        if directory is not None:
            if not name:  # the directory itself: removed or moved (its parent hears of it too) or no longer watched
                if directory == "" and mask & (_IN_DELETE_SELF | _IN_MOVE_SELF | _IN_IGNORED):
                    raise OSError(errno.ESTALE, "the output directory was removed or moved")
                if mask & _IN_IGNORED:
                    del self._watched[descriptor]
                return
            self._dirty.add(directory)
            child = f"{directory}/{name}" if directory else name
            self._statuses.pop(child, None)
            self._relink.add(child)
            return
        names = self._inodes.get(descriptor)
        if names is None:
            return
        for relative in names:  # the inode's bytes or attributes changed: under every name
            self._statuses.pop(relative, None)
        if mask & _IN_IGNORED:
            del self._inodes[descriptor]
            for relative in names:
                self._relink.add(relative)
                self._dirty.add(relative.rpartition("/")[0])

    def _list_anew(self, relative: str) -> None:
        """Watch, then list, the directory at `relative` and everything under it."""
        path = f"{self._out}/{relative}" if relative else self._out
        inode = os.stat(path, follow_symlinks=False).st_ino
        descriptor = self._add(path, _DIRECTORY_EVENTS)
        if descriptor in self._watched:  # one directory under two names (a bind mount): events would name one
            raise OSError(errno.ELOOP, f"{path} is also {self._watched[descriptor] or 'the output'}")
        self._watched[descriptor] = relative
        with os.scandir(path) as scan:
            children = list(scan)
        if os.stat(path, follow_symlinks=False).st_ino != inode:  # replaced meanwhile: which one is watched?
            raise OSError(errno.ESTALE, f"{path} was replaced while it was listed")
        files: set[str] = set()
        subdirectories: set[str] = set()
        self._directories[relative] = (inode, descriptor, files, subdirectories)
        if relative:
            self._subdirectories.add(relative)
        for child in children:
            name = child.name
            below = f"{relative}/{name}" if relative else name
            if below == STAGING:
                continue
            if child.is_dir(follow_symlinks=False):
                subdirectories.add(name)
                self._list_anew(below)
            else:
                self._add_entry(files, relative, name)
                if child.is_file(follow_symlinks=False):
                    self._watch_file(below)
        self._note_empty(relative)

    def _drop_gone(self, relative: str) -> dict:
        """List the directory at `relative` again and drop the entries gone from it (a directory
        replaced by another is gone); its listing, by name, for `_add_new`."""
        inode, _, files, subdirectories = self._directories[relative]
        path = f"{self._out}/{relative}" if relative else self._out
        with os.scandir(path) as scan:
            children = {child.name: child for child in scan if (f"{relative}/{child.name}" if relative else child.name) != STAGING}
        if os.stat(path, follow_symlinks=False).st_ino != inode:
            raise OSError(errno.ESTALE, f"{path} was replaced")
        for name in [name for name in subdirectories if not self._same_directory(relative, children.get(name))]:
            subdirectories.discard(name)
            self._forget(f"{relative}/{name}" if relative else name)
        for name in [name for name in files if name not in children or children[name].is_dir(follow_symlinks=False)]:
            files.discard(name)
            below = f"{relative}/{name}" if relative else name
            self._entries.discard(below)
            self._unname(below)
        self._note_empty(relative)
        return children

    def _add_new(self, relative: str, children: dict) -> None:
        """Watch and list what the directory at `relative` holds anew (`children`: its listing)."""
        _, _, files, subdirectories = self._directories[relative]
        for name, child in children.items():
            below = f"{relative}/{name}" if relative else name
            if child.is_dir(follow_symlinks=False):
                if name not in subdirectories:
                    subdirectories.add(name)
                    self._list_anew(below)
                continue
            self._add_entry(files, relative, name)
            if not child.is_file(follow_symlinks=False):
                self._unname(below)  # not a regular file (or no longer one: a symlink, a FIFO...)
            elif below not in self._names or below in self._relink:
                self._watch_file(below)  # new, or perhaps another inode under the same name
        self._note_empty(relative)

    def _add_entry(self, files: set[str], relative: str, name: str) -> None:
        """`name`, not a directory, is in the directory at `relative` (whose `files` it joins)."""
        files.add(name)
        if relative:
            self._entries.add(f"{relative}/{name}")
        elif name not in _NOT_ENTRIES:
            self._entries.add(name)

    def _note_empty(self, relative: str) -> None:
        _, _, files, subdirectories = self._directories[relative]
        if relative and not files and not subdirectories:
            self._empty.add(relative)
        else:
            self._empty.discard(relative)

    def _forget(self, relative: str) -> None:
        """Drop the directory at `relative` and everything under it (gone, or replaced by another)."""
        _, descriptor, files, subdirectories = self._directories.pop(relative)
        self._subdirectories.discard(relative)
        self._empty.discard(relative)
        for name in files:
            self._entries.discard(f"{relative}/{name}")
            self._unname(f"{relative}/{name}")
        for name in subdirectories:
            self._forget(f"{relative}/{name}")
        if self._watched.get(descriptor) == relative:  # not removed by the kernel already (IN_IGNORED)
            del self._watched[descriptor]
            self._remove(descriptor)

    def _watch_file(self, relative: str) -> None:
        """Watch the inode now at `relative` (a regular file), under that name."""
        try:
            descriptor = self._add(f"{self._out}/{relative}", _FILE_EVENTS)
        except OSError as error:
            if error.errno not in (errno.ENOENT, errno.ENOTDIR):
                raise
            self._unname(relative)  # gone already: its directory's events say so
            return
        if self._names.get(relative) == descriptor:
            return
        self._unname(relative)
        self._names[relative] = descriptor
        self._inodes.setdefault(descriptor, set()).add(relative)

    def _unname(self, relative: str) -> None:
        self._statuses.pop(relative, None)
        descriptor = self._names.pop(relative, None)
        if descriptor is None:
            return
        names = self._inodes.get(descriptor)
        if names is not None:
            names.discard(relative)
            if not names:
                del self._inodes[descriptor]
                self._remove(descriptor)

    def _add(self, path: str, mask: int) -> int:
        if len(self._watched) + len(self._inodes) >= self._budget:
            raise OSError(errno.ENOSPC, f"the tree needs more than {self._budget} watches (an eighth of "
                                        f"fs.inotify.max_user_watches)")
        descriptor = self._libc.inotify_add_watch(self._descriptor, os.fsencode(path), mask)
        if descriptor < 0:
            code = ctypes.get_errno()
            raise OSError(code, os.strerror(code), path)
        return descriptor

    def _remove(self, descriptor: int) -> None:
        self._libc.inotify_rm_watch(self._descriptor, descriptor)  # fails harmlessly when the kernel removed it already

    def _same_directory(self, relative: str, child) -> bool:
        """The listed `child` is the directory known by that name under `relative` (not another moved there)."""
        if child is None or not child.is_dir(follow_symlinks=False):
            return False
        return self._directories[f"{relative}/{child.name}" if relative else child.name][0] == child.inode()


def _identity(path: str) -> tuple[int, int]:
    status = os.stat(path, follow_symlinks=False)
    return status.st_dev, status.st_ino


def file_system(path: str, mounts: str = "/proc/self/mountinfo") -> str | None:
    """The type of the file system `path` (a real path) is on, from the mount table; None when unknown."""
    try:
        with open(mounts, encoding="utf-8", errors="surrogateescape") as table:
            lines = table.read().splitlines()
    except OSError:
        return None
    found, deepest = None, -1
    for line in lines:
        fields, _, rest = line.partition(" - ")
        parts, kind = fields.split(" "), rest.split(" ")[0]
        if len(parts) < 5:
            continue
        point = _OCTAL_ESCAPE.sub(lambda escape: chr(int(escape.group(1), 8)), parts[4])  # the kernel's \040 for a space
        inside = path == point or path.startswith(point.rstrip("/") + "/")
        if inside and len(point) >= deepest:  # the last of equal mounts is the one on top
            found, deepest = kind, len(point)
    return found


def _watch_budget() -> int:
    try:
        with open("/proc/sys/fs/inotify/max_user_watches", encoding="ascii") as limit:
            return int(limit.read()) // _SHARE_OF_WATCHES
    except (OSError, ValueError):
        return 8192 // _SHARE_OF_WATCHES  # the kernel's old default

