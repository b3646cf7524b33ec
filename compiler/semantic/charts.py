"""The charts a program vendors: `charts.lock` and `vendor/charts/`, as `gopc chart add` writes them.

Input: the program's root directory. Output: the lock's entries (`read_lock`), the entry that a
release's chart (repository, name, version or range) resolves to (`locked_chart`: the highest
locked version the range matches), a vendored chart read from its package and checked against the
lock (`vendored_chart`), the type of its values (`values_type`: from the chart's values.schema.json,
or inferred from its values.yaml) and the CRDs every locked chart ships (`locked_crds`).

Layout (docs/charts.md): `charts.lock` at the root lists, sorted by repository, chart and version,
each (repository, chart, version) with `digest`, the sha256 of the chart's package; the package
and the files read from it live in `vendor/charts/<chart>/<version>/`: `<chart>-<version>.tgz`,
`Chart.yaml`, `values.yaml`, `values.schema.json` (when the chart has one) and `crds/` (when it
ships CRDs).

Invariants: nothing here touches the network; a vendored chart is used only when its package has
the locked digest and every vendored file equals the package's copy (so a hand-edited
values.schema.json cannot loosen the check); only charts.lock and files inside `vendor/charts/`
are read, regular files of bounded size; every problem is a `ChartStoreError` (code and one-line message), never
another exception. Functions of the files; the one thing kept is the schema inferred from a
values.yaml, in the user cache directory by the text's digest (a large values.yaml takes a second
to read); the session keeps the values types.
"""

from __future__ import annotations

import dataclasses
import functools
import gzip
import hashlib
import io
import json
import os
import re
import tarfile
import threading
import zlib
from dataclasses import dataclass
from pathlib import Path, PurePosixPath
from typing import Any


from gop.compiler.core.cachedir import user_cache_dir
from gop.compiler.diagnostics import codes
from gop.compiler.semantic.jsonschema import SchemaConverter
from gop.compiler.semantic.semver_range import highest_matching, semver
from gop.compiler.semantic.types import ListType, MapType, RecordType, Type, UnionType
from gop.compiler.syntax.readfile import UnreadableFile, read_program_file

LOCK_FILE = "charts.lock"
VENDOR_DIR = PurePosixPath("vendor", "charts")
LOCK_HEADER = ("Charts vendored in vendor/charts/, written by `gopc chart add`; check reads them offline.\n"
               "digest: the sha256 of the chart's package. To drop a chart, delete its entry and its directory.")
MAX_PACKAGE_BYTES = 16 << 20  # cert-manager's package is ~100 KiB; a bound against a hostile archive
MAX_MEMBER_BYTES = 16 << 20
MAX_LOCK_BYTES = 4 << 20
INFERENCE_VERSION = "1"  # of `inferred_schema`: a change of what it infers must not read old cached schemas
# The files of a package kept beside it (relative to the chart's directory in the archive).
STORED_FILES = ("Chart.yaml", "values.yaml", "values.schema.json")
CRDS_DIR = "crds"
SUBCHARTS_DIR = "charts"  # a dependency's CRDs (charts/<dependency>/crds/...) are installed with the chart's


def is_crd_file(parts: tuple[str, ...]) -> bool:
    """Whether a file (path parts relative to the chart's directory) is one of the CRDs Helm installs
    with the chart: under its crds/ or a bundled dependency's."""
    return (len(parts) > 1 and parts[0] == CRDS_DIR) or (
        len(parts) > 3 and parts[0] == SUBCHARTS_DIR and parts[2] == CRDS_DIR)

_SEMVER_ORDER = functools.cmp_to_key(lambda a, b: semver().compare(a, b, False))
_DIGEST = re.compile(r"sha256:[0-9a-f]{64}")
# Helm's chart names: lowercase letters, digits, dashes (and, in the wild, dots and underscores).
_CHART_NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9._-]{0,252}")
_REPOSITORY = re.compile(r"(https?|oci)://[^\s/]+(/\S*)?")


class ChartStoreError(Exception):
    """A problem with the vendored charts: `code` is its diagnostic code, `fix` what to run."""

    def __init__(self, code: str, message: str, fix: str | None = None) -> None:
        super().__init__(message)
        self.code = code
        self.message = message
        self.fix = fix


@dataclass(frozen=True, slots=True, order=True)
class LockEntry:
    repository: str
    chart: str
    version: str
    digest: str  # "sha256:<64 hex digits>"

    @property
    def directory(self) -> PurePosixPath:
        """Relative to the program's root."""
        return VENDOR_DIR / self.chart / self.version

    @property
    def package(self) -> PurePosixPath:
        return self.directory / f"{self.chart}-{self.version}.tgz"

    def sort_key(self) -> tuple:
        return self.repository, self.chart, _SEMVER_ORDER(self.version)


@dataclass(frozen=True, slots=True)
class VendoredChart:
    """A locked chart whose package and vendored files were checked against the lock."""

    entry: LockEntry
    files: dict[str, bytes]  # STORED_FILES and the CRD files present in the package, by relative name

    @property
    def crds(self) -> dict[str, bytes]:
        return {name: data for name, data in sorted(self.files.items()) if is_crd_file(PurePosixPath(name).parts)}


@dataclass(frozen=True, slots=True)
class CrdFile:
    entry: LockEntry
    path: PurePosixPath  # relative to the program's root: vendor/charts/<chart>/<version>/crds/...
    text: str


# ---- the lock ------------------------------------------------------------------------------

def normal_repository(url: str) -> str:
    """The spelling a repository is locked under (a trailing slash is no other repository)."""
    return url.strip().rstrip("/")


def repository_problem(url: str) -> str | None:
    if not _REPOSITORY.fullmatch(url):
        return f"`{url}` is not a chart repository URL: https://HOST/PATH (a Helm repository) or oci://HOST/PATH"
    return None


def chart_name_problem(name: str) -> str | None:
    if not _CHART_NAME.fullmatch(name) or name in (".", ".."):
        return f"`{name}` is not a chart name (letters, digits, `-`, `_` and `.`)"
    return None


def read_lock(root: Path) -> list[LockEntry]:
    """The entries of `root/charts.lock`, sorted; none when there is no lock file."""
    path = root / LOCK_FILE
    if not path.exists():
        return []
    try:
        text = read_program_file(path, LOCK_FILE, inside=root, limit=MAX_LOCK_BYTES).decode("utf-8")
        document = _yaml_load(text)
    except (UnreadableFile, UnicodeDecodeError, _yaml_error()) as error:
        raise ChartStoreError(codes.CHART_LOCK_INVALID, f"{LOCK_FILE} cannot be read: {_one_line(error)}") from None
    rows = document.get("charts") if isinstance(document, dict) else None
    if document is not None and not isinstance(rows, list):
        raise ChartStoreError(codes.CHART_LOCK_INVALID, f"{LOCK_FILE} is not a lock file: it needs a list `charts`")
    entries = [_lock_entry(index, row) for index, row in enumerate(rows or ())]
    seen: set[tuple[str, str, str]] = set()
    for entry in entries:
        key = (entry.repository, entry.chart, entry.version)
        if key in seen:
            raise ChartStoreError(codes.CHART_LOCK_INVALID, f"{LOCK_FILE} locks {entry.chart} {entry.version} "
                                                            f"from {entry.repository} twice")
        seen.add(key)
    return sorted(entries, key=LockEntry.sort_key)


def lock_document(entries: list[LockEntry]) -> dict[str, Any]:
    """The lock file's data, sorted (the command writes it with the YAML emitter)."""
    return {"charts": [{"repository": e.repository, "chart": e.chart, "version": e.version, "digest": e.digest}
                       for e in sorted(entries, key=LockEntry.sort_key)]}


def _lock_entry(index: int, row: Any) -> LockEntry:
    where = f"{LOCK_FILE}: entry {index + 1}"
    if not isinstance(row, dict) or sorted(row) != ["chart", "digest", "repository", "version"] \
            or not all(isinstance(value, str) for value in row.values()):
        raise ChartStoreError(codes.CHART_LOCK_INVALID, f"{where} needs exactly the strings repository, chart, "
                                                        "version and digest")
    entry = LockEntry(normal_repository(row["repository"]), row["chart"], row["version"], row["digest"])
    problem = (repository_problem(entry.repository) or chart_name_problem(entry.chart)
               or (None if semver().valid(entry.version, False) else f"`{entry.version}` is not a semantic version")
               or (None if _DIGEST.fullmatch(entry.digest) else f"`{entry.digest}` is not sha256:<64 hex digits>"))
    if problem:
        raise ChartStoreError(codes.CHART_LOCK_INVALID, f"{where}: {problem}")
    return entry


def locked_chart(entries: list[LockEntry], repository: str, chart: str, version: str | None) -> LockEntry:
    """The entry a release's chart resolves to: the highest locked version its range (None: any
    version) matches. A `ChartStoreError` saying what to run when there is none."""
    repository = normal_repository(repository)
    versions = [e.version for e in entries if (e.repository, e.chart) == (repository, chart)]
    wanted = version or "*"
    chosen = highest_matching(versions, wanted)
    if chosen is not None:
        return next(e for e in entries if (e.repository, e.chart, e.version) == (repository, chart, chosen))
    command = f"gopc chart add {repository} {chart}" + (f" --version '{version}'" if version else "")
    if versions:
        message = (f"no version of chart `{chart}` locked in {LOCK_FILE} matches `{wanted}` "
                   f"(locked: {', '.join(versions)})")
    else:
        message = f"chart `{chart}` from {repository} is not in {LOCK_FILE}"
    raise ChartStoreError(codes.CHART_NOT_LOCKED, message, fix=f"run `{command}` in the program's root directory")


# ---- packages -------------------------------------------------------------------------------

def package_digest(data: bytes) -> str:
    return "sha256:" + hashlib.sha256(data).hexdigest()


def package_files(data: bytes, what: str) -> dict[str, bytes]:
    """The files of a chart package kept beside it (STORED_FILES and its CRD files), by name relative
    to the chart's directory in the archive. `what` names the package in messages."""
    files: dict[str, bytes] = {}
    top: str | None = None
    try:
        with tarfile.open(fileobj=io.BytesIO(data), mode="r:gz") as archive:
            for member in archive:
                parts = PurePosixPath(member.name).parts
                if len(parts) < 2 or ".." in parts or not member.isfile():
                    continue
                if top is None and parts[1:] == ("Chart.yaml",):
                    top = parts[0]
                relative = "/".join(parts[1:])
                if relative in STORED_FILES or is_crd_file(parts[1:]):
                    if member.size > MAX_MEMBER_BYTES:
                        raise ChartStoreError(codes.CHART_PACKAGE_INVALID, f"{what}: {member.name} is larger than 16 MiB")
                    extracted = archive.extractfile(member)
                    files["/".join(parts)] = extracted.read() if extracted else b""
    except (tarfile.TarError, gzip.BadGzipFile, EOFError, OSError, zlib.error) as error:
        raise ChartStoreError(codes.CHART_PACKAGE_INVALID, f"{what} is not a chart package: {_one_line(error)}") from None
    if top is None:
        raise ChartStoreError(codes.CHART_PACKAGE_INVALID, f"{what} is not a chart package: it has no Chart.yaml")
    prefix = top + "/"
    return {name[len(prefix):]: content for name, content in sorted(files.items()) if name.startswith(prefix)}


def chart_metadata(files: dict[str, bytes], what: str) -> tuple[str, str]:
    """The name and version its Chart.yaml gives."""
    try:
        metadata = _yaml_load(files["Chart.yaml"].decode("utf-8"))
    except (_yaml_error(), UnicodeDecodeError) as error:
        raise ChartStoreError(codes.CHART_PACKAGE_INVALID, f"{what}: Chart.yaml cannot be read: {_one_line(error)}") from None
    name = metadata.get("name") if isinstance(metadata, dict) else None
    version = metadata.get("version") if isinstance(metadata, dict) else None
    if not isinstance(name, str) or chart_name_problem(name) or not isinstance(version, str) \
            or not semver().valid(version, False):
        raise ChartStoreError(codes.CHART_PACKAGE_INVALID, f"{what}: Chart.yaml needs a chart `name` and a "
                                                           "semantic `version`")
    return name, version


def vendored_chart(root: Path, entry: LockEntry) -> VendoredChart:
    """The locked chart, read from its package after checking the package's digest and that every
    vendored file equals the package's copy."""
    fix = f"run `gopc chart add {entry.repository} {entry.chart} --version {entry.version}` to vendor it again"
    package = root / entry.package
    try:
        data = read_program_file(package, str(entry.package), inside=root, limit=MAX_PACKAGE_BYTES)
    except UnreadableFile as error:
        raise ChartStoreError(codes.VENDORED_CHART_CHANGED, f"the package of chart {entry.chart} {entry.version} "
                                                            f"locked in {LOCK_FILE}: {error.message}", fix) from None
    digest = package_digest(data)
    if digest != entry.digest:
        raise ChartStoreError(codes.VENDORED_CHART_CHANGED, f"{entry.package} has digest {digest}, not the {entry.digest} "
                                                            f"{LOCK_FILE} locks", fix)
    files = package_files(data, str(entry.package))
    on_disk = vendored_files(root, entry)
    for name in sorted(set(files) | set(on_disk)):
        shown = entry.directory / name
        if name not in files:
            raise ChartStoreError(codes.VENDORED_CHART_CHANGED, f"{shown} is not in the chart's package", fix)
        if name not in on_disk or _read(root, root / shown) != files[name]:
            raise ChartStoreError(codes.VENDORED_CHART_CHANGED, f"{shown} differs from the chart's package "
                                                                f"({'missing' if name not in on_disk else 'changed'})", fix)
    return VendoredChart(entry, files)


def vendored_files(root: Path, entry: LockEntry) -> set[str]:
    """The names, relative to the chart's vendored directory, of the files kept beside the package."""
    directory = root / entry.directory
    names = {name for name in STORED_FILES if (directory / name).is_file()}
    for crds in [directory / CRDS_DIR, *(directory / SUBCHARTS_DIR).glob(f"*/{CRDS_DIR}")]:
        if crds.is_dir() and not crds.is_symlink():
            names |= {path.relative_to(directory).as_posix() for path in crds.rglob("*") if not path.is_dir()}
    return names


def locked_crds(root: Path) -> list[CrdFile]:
    """The CRD files of every chart charts.lock holds, sorted by path. A broken lock, or a chart
    whose vendored files do not match it, adds none: the releases of that chart report why
    (E0803, E0802), and a resource of a kind only it defines is then of an unknown kind."""
    found = []
    try:
        entries = read_lock(root)
    except ChartStoreError:
        return []
    for entry in entries:
        try:
            crds = [(entry.directory / name, _text(data, entry.directory / name))
                    for name, data in vendored_chart(root, entry).crds.items()]
        except ChartStoreError:
            continue
        found.extend(CrdFile(entry, path, text) for path, text in crds)
    return sorted(found, key=lambda crd: crd.path)


def _read(root: Path, path: Path) -> bytes:
    try:
        return read_program_file(path, str(path.relative_to(root)), inside=root, limit=MAX_MEMBER_BYTES)
    except UnreadableFile as error:
        raise ChartStoreError(codes.VENDORED_CHART_CHANGED, error.message) from None


def _text(data: bytes, shown: PurePosixPath) -> str:
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError:
        raise ChartStoreError(codes.CHART_PACKAGE_INVALID, f"{shown} is not UTF-8 text") from None


def _one_line(error: Exception) -> str:
    return " ".join(str(error).split()) or type(error).__name__


# ---- the values type --------------------------------------------------------------------------

def values_type(chart: VendoredChart) -> Type:
    """The type of a release's `values`: the chart's values.schema.json, or, for a chart without
    one, a schema inferred from its values.yaml (`inferred_schema`). Either way a key the chart
    does not list is a warning (W0807, `warn_unknown`), not an error, unless the schema closes its
    object with `additionalProperties: false`: Helm passes such keys to the templates, which may
    read them."""
    entry = chart.entry
    schema = chart.files.get("values.schema.json")
    if schema is not None:
        shown = entry.directory / "values.schema.json"
        try:
            document = json.loads(_text(schema, shown))
        except ValueError as error:
            raise ChartStoreError(codes.CHART_PACKAGE_INVALID, f"{shown} is not JSON: {_one_line(error)}") from None
    else:
        shown = entry.directory / "values.yaml"
        document = _inferred_schema_kept(_text(chart.files.get("values.yaml", b""), shown), str(shown))
    return schema_values_type(document, f"{entry.chart} {entry.version} values")


def schema_values_type(document: Any, name: str) -> Type:
    """A values.schema.json as the type of what a release writes: read as Helm reads it (an object
    without `additionalProperties` takes other keys), except that those other keys are warned
    about; and nothing is required, since Helm checks the schema against the chart's values.yaml
    merged with the release's values, and values.yaml gives most required keys."""
    loose = SchemaConverter(document, name, strict=False).root()
    closed = _closed_names(SchemaConverter(document, name, strict=True).root(), set(), set())
    return _as_release_values(loose, closed, {})


def _closed_names(type_: Type, visited: set[str], closed: set[str]) -> set[str]:
    """The names of the records of `type_` that take no other keys."""
    if isinstance(type_, RecordType):
        if type_.name in visited:
            return closed
        visited.add(type_.name)
        if not type_.open:
            closed.add(type_.name)
    for child in _children(type_):
        _closed_names(child, visited, closed)
    return closed


def _children(type_: Type) -> list[Type]:
    if isinstance(type_, RecordType):
        return [field_.type for field_ in type_.fields.values()]
    if isinstance(type_, ListType):
        return [type_.element]
    if isinstance(type_, MapType):
        return [type_.value]
    if isinstance(type_, UnionType):
        return list(type_.members)
    return []


def _as_release_values(type_: Type, closed: set[str], done: dict[str, RecordType]) -> Type:
    """`type_` with each open record whose strict reading is closed made `warn_unknown`, and every
    field optional."""
    if isinstance(type_, RecordType):
        if type_.name in done:
            return done[type_.name]
        warn = type_.open and type_.name in closed
        record = RecordType(type_.name, {}, type_.doc, open=type_.open and not warn, warn_unknown=warn)
        done[type_.name] = record  # before the fields: a recursive schema refers back to it
        for key, field_ in type_.fields.items():
            record.fields[key] = dataclasses.replace(field_, type=_as_release_values(field_.type, closed, done), optional=True)
        return record
    if isinstance(type_, ListType):
        return dataclasses.replace(type_, element=_as_release_values(type_.element, closed, done))
    if isinstance(type_, MapType):
        return dataclasses.replace(type_, value=_as_release_values(type_.value, closed, done))
    return type_


def inferred_schema(text: str, shown: str) -> dict[str, Any]:
    """The JSON Schema of a values.yaml: its keys, each typed by its value there (a string, an
    integer, a number, a bool; `{}` an object of anything, a list an array of anything, null
    anything) and described by the comment block just above it (helm-docs' `# --` dropped).
    Nothing is required and no object is closed."""
    from ruamel.yaml import YAML
    from ruamel.yaml.comments import CommentedMap

    try:
        document = YAML(typ="rt", pure=True).load(text)
    except _yaml_error() as error:
        raise ChartStoreError(codes.CHART_PACKAGE_INVALID, f"{shown} cannot be read: {_one_line(error)}") from None
    if document is not None and not isinstance(document, CommentedMap):
        raise ChartStoreError(codes.CHART_PACKAGE_INVALID, f"{shown} is not a mapping of values")
    return _object_schema(document or CommentedMap(), text.splitlines())


def _object_schema(mapping: Any, lines: list[str]) -> dict[str, Any]:
    """`mapping`: a ruamel `CommentedMap` (with the positions of its keys)."""
    properties = {}
    for key, value in mapping.items():
        line, column = mapping.lc.key(key)
        described = _value_schema(value, lines)
        doc = _comment_above(lines, line, column)
        properties[str(key)] = {**described, "description": doc} if doc else described
    return {"type": "object", "properties": properties}


def _value_schema(value: Any, lines: list[str]) -> dict[str, Any]:
    from ruamel.yaml.comments import CommentedMap, CommentedSeq

    if isinstance(value, CommentedMap):
        return _object_schema(value, lines) if value else {"type": "object"}
    if isinstance(value, (CommentedSeq, list)):
        return {"type": "array"}
    for kind, name in ((bool, "boolean"), (int, "integer"), (float, "number"), (str, "string")):
        if isinstance(value, kind):
            return {"type": name}
    return {}  # null: the chart leaves the type open


def _inferred_schema_kept(text: str, shown: str) -> dict[str, Any]:
    """`inferred_schema`, kept in the user cache directory by the text's digest: reading a large
    values.yaml with comments (a pure-Python YAML parser) takes a second, reading JSON does not."""
    directory = user_cache_dir()
    digest = hashlib.sha256(f"{INFERENCE_VERSION}\0{text}".encode()).hexdigest()[:32]
    kept = directory / "values-schemas" / f"{digest}.json" if directory is not None else None
    if kept is not None:
        try:
            document = json.loads(kept.read_text(encoding="utf-8"))
            if isinstance(document, dict):
                return document
        except (OSError, ValueError):
            pass
    document = inferred_schema(text, shown)
    if kept is not None:
        partial = kept.with_name(f"{kept.name}.{os.getpid()}.{threading.get_ident()}")
        try:
            kept.parent.mkdir(parents=True, exist_ok=True)
            partial.write_text(json.dumps(document, sort_keys=True), encoding="utf-8")
            os.replace(partial, kept)
        except OSError:
            partial.unlink(missing_ok=True)
    return document


def _comment_above(lines: list[str], line: int, column: int) -> str | None:
    """The `#` lines right above `line` (0-based) at its column, as text."""
    block = []
    index = line - 1
    while index >= 0:
        text = lines[index]
        stripped = text.lstrip(" ")
        if not stripped.startswith("#") or len(text) - len(stripped) != column:
            break
        block.append(stripped[1:])
        index -= 1
    block.reverse()
    if block and block[0].lstrip().startswith("--"):
        block[0] = block[0].lstrip()[2:]
    texts = [part[1:] if part.startswith(" ") else part for part in block]
    doc = "\n".join(texts).strip()
    return doc or None


# ruamel.yaml is loaded when a lock file, a chart or a values.yaml is read: a check of a program
# without charts.lock never loads it.
def _yaml_load(text: str) -> Any:
    from ruamel.yaml import YAML

    return YAML(typ="safe", pure=True).load(text)


def _yaml_error() -> type[Exception]:
    from ruamel.yaml.error import YAMLError

    return YAMLError
