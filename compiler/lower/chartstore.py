"""Each app's chart files across runs: `helm.chart_files` through the disk cache (`core.diskcache`,
kind `chart`), so a build after a small edit makes again only the charts of the apps it changed.

Input: an `AppModel`, the program's `HelmCaches`, the session's `DiskCache` (or None: `--no-cache`,
no cache directory), and optionally the form each file is written in (`written(path, text)`: the
build's header and encoding, `provenance.as_written`) with `form`, the bytes that tell apart
everything `written` reads besides the path and text. Output: exactly what `chart_files(app, helm)`
returns, each file in its written form, and the `HelmCaches` learn what it teaches them (the
chart's version; the content digest of a chart whose version the program chose).

The key is `form` and everything the Helm lowering of a chart reads of its app (besides gopc
itself, which the store's fingerprint covers): its name, doc comment, chart features (sorted: a set's order
changes with the hash seed) and base values, and its values type. Values and types are frozen
dataclasses, tuples, dicts and plain scalars whose `repr` shows every field in order (dict order
included, which the files follow), so equal reprs make equal charts. The apps' types share most
of their `Field`s (the prelude's App schema): the repr of each is worked out once per program.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable

from gop.compiler.core.diskcache import DiskCache
from gop.compiler.core.identity import by_identity
from gop.compiler.fleet.model import AppModel
from gop.compiler.lower.helm import chart_files
from gop.compiler.lower.helm.caches import HelmCaches
from gop.compiler.semantic.types import RecordType

KIND = "chart"


class ChartStore:
    """One program's charts through `disk`; see the module doc."""

    def __init__(self, disk: DiskCache | None) -> None:
        self._disk = disk
        self._field_reprs: dict[int, tuple[object, bytes]] = {}  # id(field) -> (field, its repr's digest)
        self._app_digests: dict[int, tuple[AppModel, bytes]] = {}  # id(app) -> (app, `app_digest`)
        self._type_digests: dict[int, tuple[AppModel, bytes]] = {}  # id(app) -> (app, `values_type_digest`)

    def chart_files(self, app: AppModel, helm: HelmCaches, *, written: Callable[[str, str], str | bytes] | None = None,
                    form: bytes = b"") -> dict[str, str | bytes]:
        if self._disk is None:
            return _written(chart_files(app, helm), written)
        key = self._disk.key(KIND, form, self.app_digest(app))
        entry = self._disk.get(KIND, key)
        if _well_formed(entry):
            files, version, content_digest = entry
            helm.remember_chart_version(app, version)
            if content_digest is not None:
                helm.remember_content_digest(app, content_digest)
            return files
        files = _written(chart_files(app, helm), written)
        self._disk.put(KIND, key, (files, helm.chart_version(app), helm.content_digest(app)))
        return files

    def app_digest(self, app: AppModel) -> bytes:
        """A digest of everything the Helm lowering of the app's chart reads (worked out once per app;
        the Flux tree's store keys an app's files by it too)."""
        return by_identity(self._app_digests, app, lambda: self._made_app_digest(app))

    def _made_app_digest(self, app: AppModel) -> bytes:
        digest = hashlib.sha256(repr((app.name, app.doc, sorted(app.features), app.base)).encode("utf-8", "surrogateescape"))
        digest.update(self.values_type_digest(app))
        return digest.digest()

    def values_type_digest(self, app: AppModel) -> bytes:
        """A digest of the app's values type (worked out once per app)."""
        return by_identity(self._type_digests, app, lambda: self._type_digest(app.values_type))

    def _type_digest(self, record: RecordType) -> bytes:
        digest = hashlib.sha256(repr((type(record).__name__, record.name, record.doc, record.open,
                                      record.warn_unknown, list(record.fields))).encode("utf-8", "surrogateescape"))
        for field in record.fields.values():
            digest.update(by_identity(self._field_reprs, field,
                                      lambda: hashlib.sha256(repr(field).encode("utf-8", "surrogateescape")).digest()))
        return digest.digest()


def _written(files: dict[str, str], written: Callable[[str, str], str | bytes] | None) -> dict[str, str | bytes]:
    return files if written is None else {path: written(path, text) for path, text in files.items()}


def _well_formed(entry) -> bool:
    return (isinstance(entry, tuple) and len(entry) == 3 and isinstance(entry[0], dict)
            and isinstance(entry[1], str) and (entry[2] is None or isinstance(entry[2], str)))
