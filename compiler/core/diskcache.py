"""A content-addressed store of computed values on disk, under the cache directory (`cachedir`).

Input: a kind ("parse", ...), the bytes a value is a pure function of, and the value to keep.
Output: the value kept for the same kind and bytes by an earlier run of the same gopc, or None.

Invariants:
- Keyed by content: an entry's name is the SHA-256 of the store's fingerprint, the kind and the
  bytes. The fingerprint covers everything else a value may depend on: gopc's version, Python's,
  the grammar's and the standard library's text, and the size and modification time of every
  module of gopc and of Lark (so a changed compiler, grammar or prelude, an upgraded Lark or a
  developer's edit is never served a value an older one made).
- Safe to share: an entry is written beside its final name and renamed into place, so a run
  never reads a half-written one; it carries its own key and a digest of its payload, so a
  truncated, corrupt or foreign file (another key's, another program's) is ignored, and so is
  a payload that cannot be unpickled. Nothing here raises for a broken or unwritable directory:
  the value is computed again.
- Only gopc's own values are stored (the cache directory is the user's own, as trusted as their
  code).
- Bounded by use: an entry read is marked used (its modification time, at most once a day), and
  once a day the first run removes the entries nobody used for `UNUSED_DAYS` days and what killed
  runs left half written.
"""

from __future__ import annotations

import contextlib
import hashlib
import os
import pickle
import sys
import threading
import time
from pathlib import Path

from gop.compiler.core.cachedir import writable_cache_dir

_MAGIC = b"gopc-cache 1\n"
_DIGEST_SIZE = 16
_DAY = 24 * 3600
UNUSED_DAYS = 30
_PRUNED = "pruned"  # its modification time: when the entries were last pruned


class DiskCache:
    """Values by (kind, content) in `directory`; see the module doc."""

    def __init__(self, directory: Path, fingerprint: bytes) -> None:
        self.directory = directory
        self._fingerprint = fingerprint
        self._written = 0

    def key(self, kind: str, *parts: bytes) -> str:
        digest = hashlib.sha256(self._fingerprint)
        for part in (kind.encode(), *parts):
            digest.update(len(part).to_bytes(8, "little"))
            digest.update(part)
        return digest.hexdigest()

    def get(self, kind: str, key: str):
        path = self._path(kind, key)
        try:
            with open(path, "rb") as entry:
                data = entry.read()
                used = os.fstat(entry.fileno()).st_mtime
        except OSError:
            return None
        if time.time() - used > _DAY:
            with contextlib.suppress(OSError):  # marked used (a file pruned meanwhile is simply gone)
                os.utime(path)
        header = _MAGIC + key.encode()
        payload = memoryview(data)[len(header) + _DIGEST_SIZE:]
        if not data.startswith(header) or data[len(header):len(header) + _DIGEST_SIZE] != _digest(payload):
            return None
        try:
            return pickle.loads(payload)
        except Exception:  # made by code that no longer exists under that name: computed again
            return None

    def has(self, kind: str, key: str) -> bool:
        """Whether an entry is there (not whether it is sound: `get` checks that)."""
        return self._path(kind, key).is_file()

    def put(self, kind: str, key: str, value) -> None:
        try:
            payload = pickle.dumps(value, protocol=pickle.HIGHEST_PROTOCOL)
        except Exception:  # not picklable: simply not kept
            return
        path = self._path(kind, key)
        self._written += 1
        partial = f"{path}.{os.getpid()}-{threading.get_ident()}-{self._written}.partial"
        try:
            path.parent.mkdir(parents=True, exist_ok=True)
            with open(partial, "xb") as entry:
                entry.write(_MAGIC + key.encode() + _digest(payload) + payload)
            os.replace(partial, path)
        except OSError:
            _remove_quietly(partial)

    def _path(self, kind: str, key: str) -> Path:
        return self.directory / kind / key[:2] / key[2:]


def open_disk_cache() -> DiskCache | None:
    """The store in the user's cache directory, or None where there is no writable one."""
    directory = writable_cache_dir("objects")
    if directory is None:
        return None
    prune_daily(directory)
    return DiskCache(directory, gopc_fingerprint())


def prune_daily(directory: Path, now: float | None = None) -> None:
    """Once a day (by the stamp's modification time): remove the entries unused for `UNUSED_DAYS`
    days, and the partial files of runs killed a day ago or more. The stamp is renewed first, so
    runs starting together do not all walk the directory."""
    now = time.time() if now is None else now
    stamp = directory / _PRUNED
    try:
        if now - stamp.stat().st_mtime < _DAY:
            return
    except OSError:
        pass
    try:
        stamp.touch()
        os.utime(stamp, (now, now))
    except OSError:
        return
    for root, _, files in os.walk(directory):
        for name in files:
            path = os.path.join(root, name)
            limit = _DAY if name.endswith(".partial") else UNUSED_DAYS * _DAY
            try:
                if name != _PRUNED and now - os.stat(path).st_mtime > limit:
                    os.unlink(path)
            except OSError:
                pass



def gopc_fingerprint() -> bytes:
    """What every stored value depends on besides its own inputs (see the module doc)."""
    from gop import compiler

    return fingerprint(compiler.gopc_version(), [Path(compiler.__file__).parent, _package_dir("lark")],
                       [_package_dir("gop.grammar"), _package_dir("gop.stdlib")])


def fingerprint(version: str, code: list[Path | None], data: list[Path | None]) -> bytes:
    """A digest of gopc's version, Python's, the size and modification time of every file under
    the `code` directories (reading them all would cost more than a small program's check) and
    the text of the grammar and `.gop` files of the `data` directories."""
    digest = hashlib.sha256(f"{version}\n{sys.version}\n".encode())
    for root in filter(None, code):
        prefix = len(str(root))
        for directory, subdirectories, files in os.walk(root):
            subdirectories[:] = sorted(name for name in subdirectories if name != "__pycache__")
            for name in sorted(files):
                path = os.path.join(directory, name)
                status = os.stat(path)
                digest.update(f"{path[prefix:]}\0{status.st_size}\0{status.st_mtime_ns}\n".encode("utf-8", "surrogateescape"))
    for directory in filter(None, data):
        for path in sorted(directory.iterdir()):
            if path.suffix in (".lark", ".gop"):
                digest.update(f"{path.name}\0".encode() + hashlib.sha256(path.read_bytes()).digest())
    return digest.digest()


def _package_dir(name: str) -> Path | None:
    """A package's directory, found without importing it (Lark's import is not cheap)."""
    from importlib.util import find_spec

    try:
        spec = find_spec(name)
    except (ImportError, ValueError):
        return None
    if spec is None or not spec.submodule_search_locations:
        return None
    return Path(next(iter(spec.submodule_search_locations)))


def _digest(payload) -> bytes:
    return hashlib.blake2b(payload, digest_size=_DIGEST_SIZE).digest()


def _remove_quietly(path: str) -> None:
    try:
        os.unlink(path)
    except OSError:
        pass
