"""Each app's chart files across runs: `helm.chart_files` through the disk cache (`core.diskcache`,
kind `chart`), so a build after a small edit makes again only the charts of the apps it changed.

Input: an `AppModel`, the program's `HelmCaches`, the session's `DiskCache` (or None: `--no-cache`,
no cache directory) and `LoweringMemo` (`lower.memo`: in a session that analyses again, the charts
of the last analyses by their key, and the digests by the identity of what they digest), and optionally the form each file is written in (`written(path, text)`: the
build's header and encoding, `provenance.as_written`) with `form`, the bytes that tell apart
everything `written` reads besides the path and text. Output: exactly what `chart_files(app, helm)`
returns, each file in its written form, and the `HelmCaches` learn what it teaches them (the
chart's version; the content digest of a chart whose version the program chose).

The key is `form` and everything the Helm lowering of a chart reads of its app (besides gopc
itself, which the store's fingerprint covers): its name, doc comment, chart features (sorted: a set's order
changes with the hash seed) and base values, and its values type. Values and types are frozen
dataclasses, tuples, dicts and plain scalars whose `repr` shows every field in order (dict order
included, which the files follow), so equal reprs make equal charts. The apps' types share most
of their `Field`s (the prelude's App schema): the repr of each is worked out once per `Field` object;
an app whose base values and values type are the very objects of the last analysis (the session's
`EvaluationMemo` hands them back) has its digest, and its files, found by their identity.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable

from gop.compiler.core.diskcache import DiskCache
from gop.compiler.fleet.model import AppModel
from gop.compiler.lower.helm import chart_files
from gop.compiler.lower.helm.caches import HelmCaches
from gop.compiler.lower.memo import LoweringMemo
from gop.compiler.semantic.types import RecordType

KIND = "chart"


class ChartStore:
    """One program's charts through `disk` and `memo` (`lower.memo`); see the module doc."""

    def __init__(self, disk: DiskCache | None, memo: LoweringMemo | None = None) -> None:
        self._disk = disk
        self._memo = memo if memo is not None else LoweringMemo.one_round()

    def chart_files(self, app: AppModel, helm: HelmCaches, *, written: Callable[[str, str], str | bytes] | None = None,
                    form: bytes = b"") -> dict[str, str | bytes]:
        kept = self._memo.files
        if self._disk is None and kept is None:
            return _written(chart_files(app, helm), written)
        parts = (form, self.app_digest(app))
        entry = kept.get((KIND, *parts)) if kept is not None else None
        if entry is None and self._disk is not None:
            found = self._disk.get(KIND, self._disk.key(KIND, *parts))
            entry = found if _well_formed(found) else None
        if entry is None:
            files = _written(chart_files(app, helm), written)
            entry = (files, helm.chart_version(app), helm.content_digest(app))
            if self._disk is not None:
                self._disk.put(KIND, self._disk.key(KIND, *parts), entry)
        else:
            files, version, content_digest = entry
            helm.remember_chart_version(app, version)
            if content_digest is not None:
                helm.remember_content_digest(app, content_digest)
        if kept is not None:
            entry = ({path: self._memo.built_in(data) if _is_built_in(path) else data for path, data in entry[0].items()},
                     *entry[1:])
            kept.put((KIND, *parts), entry)
        return entry[0]

    def app_digest(self, app: AppModel) -> bytes:
        """A digest of everything the Helm lowering of the app's chart reads (worked out once per app
        base and values type; the Flux tree's store keys an app's files by it too)."""
        kept = self._memo.app_digests.get(app.base)
        if (kept is not None and kept[0] == app.name and kept[1] == app.doc and kept[2] == app.features
                and kept[3] is app.values_type):
            return kept[4]
        digest = hashlib.sha256(repr((app.name, app.doc, sorted(app.features), app.base)).encode("utf-8", "surrogateescape"))
        digest.update(self.values_type_digest(app))
        self._memo.app_digests.put(app.base, (app.name, app.doc, app.features, app.values_type, digest.digest()))
        return digest.digest()

    def values_type_digest(self, app: AppModel) -> bytes:
        """A digest of the app's values type (worked out once per type)."""
        known = self._memo.type_digests.get(app.values_type)
        if known is None:
            known = self._type_digest(app.values_type)
            self._memo.type_digests.put(app.values_type, known)
        return known

    def _type_digest(self, record: RecordType) -> bytes:
        digest = hashlib.sha256(repr((type(record).__name__, record.name, record.doc, record.open,
                                      record.warn_unknown, list(record.fields))).encode("utf-8", "surrogateescape"))
        for field in record.fields.values():
            known = self._memo.field_digests.get(field)
            if known is None:
                known = hashlib.sha256(repr(field).encode("utf-8", "surrogateescape")).digest()
                self._memo.field_digests.put(field, known)
            digest.update(known)
        return digest.digest()


def _is_built_in(path: str) -> bool:
    """A chart's built-in file (gopc's own text, the same in every chart with the same parts; see `provenance`)."""
    return path.startswith("templates/") or path == ".helmignore"


def _written(files: dict[str, str], written: Callable[[str, str], str | bytes] | None) -> dict[str, str | bytes]:
    return files if written is None else {path: written(path, text) for path, text in files.items()}


def _well_formed(entry) -> bool:
    return (isinstance(entry, tuple) and len(entry) == 3 and isinstance(entry[0], dict)
            and isinstance(entry[1], str) and (entry[2] is None or isinstance(entry[2], str)))
