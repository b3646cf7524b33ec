"""Resources typed by their kind: the schema of each `resource` body, its file's objects, and the
checks of namespaces on every cluster.

Input: the program, its resolution, the checker, the program's root and the prelude's `Resource`
record. Output (during evaluation): `record(decl)`, the type a resource body is checked against
(its kind's schema with the declaration's own fields: apiVersion, kind, namespace, stage);
`file_objects(name)`, the objects of a resource read from a file (`file = "k8s/x.yaml"`), each
checked against its kind's schema with file:line:col inside the YAML; and `check_instances(...)`,
the namespace of each object on each cluster (a namespaced kind needs one, a cluster-scoped kind
refuses one). Diagnostics go to the checker's list.

Where a kind's schema comes from (`semantic.kubeschema.SchemaIndex`): Kubernetes 1.35, Flux, the
CRD files of the vendored charts (`chart_crds`), the CustomResourceDefinitions the program writes as
resources, and those in the program's resource files (read before any resource is typed,
so a file's custom objects may come before or after their CRD). A kind with no schema is E0820,
never a guess; the body is then checked loosely (the prelude's `Resource`), so one mistake makes
one error.

Invariants: every file is read once per analysis; record types are made once per (apiVersion,
kind) per analysis (the vendored kinds' types are shared by every analysis, see kubeschema).
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path, PurePosixPath
from typing import Any, Callable, Iterable

from gop.compiler.core.span import SourceFile, Span
from gop.compiler.diagnostics import Diagnostic, Fix, codes, diagnostic
from gop.compiler.fleet.model import ClusterModel, Instance
from gop.compiler.semantic.check import Checker, build_tree
from gop.compiler.semantic.kubeschema import KindSchema, SchemaIndex, plain_problems
from gop.compiler.semantic.loader import MAX_SOURCE_BYTES
from gop.compiler.semantic.objectfile import YamlFileError, YamlObject, yaml_objects
from gop.compiler.semantic.resolve import Resolution
from gop.compiler.semantic.types import EnumType, Field, RecordType
from gop.compiler.syntax import ast
from gop.compiler.syntax.readfile import UnreadableFile, read_program_file
from gop.compiler.values import plain

# The declaration's own fields; the others are the object's.
OWN_FIELDS = ("apiVersion", "kind", "namespace", "stage", "file")
# What the API server writes: never part of a declared object.
SERVER_FIELDS = ("status",)
# Namespaces every cluster has: gopc never makes (nor could Flux prune) a Namespace object for them.
BUILTIN_NAMESPACES = frozenset({"default", "kube-system", "kube-public", "kube-node-lease", "flux-system"})
CRD_HINT = ('declare the kind\'s CustomResourceDefinition: a resource read from its file '
            '(`resource NAME { file = "crds/NAME.yaml" }`) or the CRDs of a vendored chart (`gopc chart add`)')


@dataclass(frozen=True, slots=True, eq=False)
class FileObject:
    """An object of a resource file, checked: the plain object and its kind's schema."""

    value: dict[str, Any]
    kind: KindSchema


class ResourceKinds:
    def __init__(self, program, resolution: Resolution, checker: Checker, root: Path, loose: RecordType,
                 chart_crds: Callable[[], Iterable[tuple[str, str]]] | None = None):
        """`chart_crds()`: (path from the root, text) of the CRD files of the vendored charts, asked
        for only when the program declares a resource."""
        self.program = program
        self.chart_crds = chart_crds
        self.resolution = resolution
        self.root = root
        self.loose = loose  # the prelude's `Resource`: a body whose kind is unknown
        self.checker = checker
        self.report: Callable[[Diagnostic], None] = checker.diagnostics.append
        self._index: SchemaIndex | None = None
        self._records: dict[tuple[str, str], RecordType] = {}
        self._files: dict[str, list[tuple[YamlObject, str]] | None] = {}  # path -> (object, file key) or unreadable
        self._objects: dict[str, tuple[FileObject, ...]] = {}
        self._kinds: dict[str, KindSchema] = {}  # resource -> the kind of its body

    # ---- the type of a body ---------------------------------------------------------------------

    def record(self, decl: ast.ResourceDecl) -> RecordType:
        index = self._prepared()
        name = decl.name.text
        if _literal(decl.body, "file") is not None:
            return self._file_record()
        api_version, kind = _literal(decl.body, "apiVersion"), _literal(decl.body, "kind")
        if api_version is None or kind is None:
            self.report(diagnostic(codes.RESOURCE_KIND_MISSING, decl.name.span,
                                   f"resource `{name}` does not say what object it is: it needs `apiVersion` and `kind` written "
                                   "as strings (or a `file` of objects)",
                                   notes=('e.g. `apiVersion = "v1"` and `kind = "ResourceQuota"`',)))
            return self.loose
        found = index.find(api_version[0], kind[0])
        if found is None:
            self._unknown_kind(api_version[0], kind[0], kind[1], literal=True)
            return self.loose
        self._kinds[name] = found
        return self._typed(found)

    def file_objects(self, resource: str) -> tuple[FileObject, ...]:
        return self._objects.get(resource, ())

    def _typed(self, kind: KindSchema) -> RecordType:
        key = (kind.api_version, kind.kind)
        if key not in self._records:
            schema = self._prepared().record(kind)
            fields = {"apiVersion": Field("apiVersion", EnumType((kind.api_version,)), True, doc=self.loose.fields["apiVersion"].doc),
                      "kind": Field("kind", EnumType((kind.kind,)), True, doc=self.loose.fields["kind"].doc)}
            fields["namespace"] = self.loose.fields["namespace"]
            fields["stage"] = self.loose.fields["stage"]
            for name, field in schema.fields.items():
                if name not in fields and name not in SERVER_FIELDS:
                    fields[name] = field if name != "metadata" else Field(name, field.type, True, doc=self.loose.fields["metadata"].doc)
            # Named by kind; the apiVersion after `(` keeps HorizontalPodAutoscaler v1 and v2 apart, and
            # messages print the kind alone.
            self._records[key] = RecordType(f"{kind.kind}({kind.api_version})", fields, schema.doc)
        return self._records[key]

    def _file_record(self) -> RecordType:
        key = ("", "file")
        if key not in self._records:
            fields = {name: self.loose.fields[name] for name in ("namespace", "stage", "file")}
            self._records[key] = RecordType("Resource(file)", fields, self.loose.doc)
        return self._records[key]

    def _unknown_kind(self, api_version: str, kind: str, span: Span, literal: bool) -> None:
        """`literal`: `span` is the kind's string in .gop (a misspelt one gets a fix)."""
        hint = self._prepared().hint(api_version, kind)
        notes = [hint[0]] if hint else []
        notes.append(f"gopc knows the kinds of Kubernetes 1.35, of Flux, and of the CRDs it is given; {CRD_HINT}")
        fixes = [Fix(span, f'"{hint[1]}"', f'change to "{hint[1]}"')] if hint and hint[1] and literal else []
        self.report(diagnostic(codes.UNKNOWN_KIND, span, f"no schema for `{kind}` of `{api_version}`: an object of a kind "
                                                       "gopc does not know cannot be checked", notes=notes, fixes=fixes))

    # ---- files --------------------------------------------------------------------------------

    def _prepared(self) -> SchemaIndex:
        """The index, once every resource file is read and its CRDs added; the files' objects checked."""
        if self._index is None:
            self._index = SchemaIndex()
            for path, text in self.chart_crds() if self.chart_crds else ():
                for found in _documents(text):
                    self._index.add_crd(found, path)
            declared = sorted(self.resolution.resources.get("resource", {}).items())
            for name, decl in declared:
                if (_literal(decl.body, "kind") or ("",))[0] == "CustomResourceDefinition":
                    self._add_written_crd(name, decl)
            files = [(name, decl, path) for name, decl in declared if (path := _literal(decl.body, "file")) is not None]
            for _, decl, path in files:
                for found, key in self._read(path) or ():
                    self._index.add_crd(found.value, key)
            for name, decl, path in files:
                self._objects[name] = tuple(self._checked(found, key) for found, key in self._read(path) or ()
                                            if self._known(found, key))
        return self._index

    def _add_written_crd(self, name: str, decl: ast.ResourceDecl) -> None:
        """The kinds of a CRD written in .gop (its own body; env layers do not change what kinds
        exist), known to every resource."""
        api_version = _literal(decl.body, "apiVersion")
        kind = self._index.find(api_version[0], "CustomResourceDefinition") if api_version else None
        if kind is None:
            return  # reported when the resource itself is typed
        diagnostics, references = len(self.checker.diagnostics), len(self.checker.references)
        leaves = self.checker.body(decl.body, self._typed(kind), self.checker.scope_of(decl))
        del self.checker.diagnostics[diagnostics:], self.checker.references[references:]  # the body is checked again as a resource
        self._index.add_crd(plain(build_tree(leaves)), f"resource {name}")

    def _read(self, path: tuple[str, Span]) -> list[tuple[YamlObject, str]] | None:
        written, span = path
        if written not in self._files:
            self._files[written] = self._parsed(written, span)
        return self._files[written]

    def _parsed(self, written: str, span: Span) -> list[tuple[YamlObject, str]] | None:
        key = PurePosixPath(written).as_posix()
        if PurePosixPath(written).is_absolute() or not written.endswith((".yaml", ".yml")):
            self.report(diagnostic(codes.RESOURCE_FILE_UNREADABLE, span, f"`{written}` is not a YAML file of the program",
                                   notes=("name a .yaml file by its path from the program's root, e.g. `k8s/quota.yaml`",)))
            return None
        try:
            data = read_program_file(self.root / written, f"`{written}`", inside=self.root, limit=MAX_SOURCE_BYTES)
            text = data.decode("utf-8")
        except UnreadableFile as error:
            self.report(diagnostic(codes.RESOURCE_FILE_UNREADABLE, span, error.message))
            return None
        except UnicodeDecodeError as error:
            self.report(diagnostic(codes.RESOURCE_FILE_UNREADABLE, span, f"`{written}` is not UTF-8 text (byte {error.start})"))
            return None
        source = self.program.sources.setdefault(key, SourceFile(key, text))
        try:
            objects = yaml_objects(text)
        except YamlFileError as error:
            self.report(diagnostic(codes.RESOURCE_FILE_UNREADABLE, _at(source, key, error.line, error.column), error.message))
            return None
        return [(found, key) for found in objects]

    def _known(self, found: YamlObject, key: str) -> bool:
        """Whether an object of a file says its apiVersion and kind, and gopc knows them (else reported)."""
        api_version, kind = found.value.get("apiVersion"), found.value.get("kind")
        source = self.program.sources[key]
        if not isinstance(api_version, str) or not isinstance(kind, str):
            self.report(diagnostic(codes.OBJECT_NOT_VALID, _at(source, key, *found.position(())),
                                   "this object does not say what it is: it needs `apiVersion` and `kind`"))
            return False
        if self._index.find(api_version, kind) is None:
            self._unknown_kind(api_version, kind, _at(source, key, *found.position(("kind",))), literal=False)
            return False
        return True

    def _checked(self, found: YamlObject, key: str) -> FileObject:
        kind = self._index.find(found.value["apiVersion"], found.value["kind"])
        source = self.program.sources[key]
        problems = plain_problems(found.value, self._index.record(kind))
        metadata = found.value.get("metadata")
        if not isinstance(metadata, dict) or not isinstance(metadata.get("name"), str):
            problems.append((("metadata",), "an object needs `metadata.name`"))
        elif not kind.namespaced and metadata.get("namespace") is not None:
            problems.append((("metadata", "namespace"), f"`{kind.kind}` is cluster-scoped: it has no namespace"))
        for path, message in problems:
            self.report(diagnostic(codes.OBJECT_NOT_VALID, _at(source, key, *found.position(path)),
                                   f"{message} ({kind.kind} {kind.api_version}, schema of {kind.origin})"))
        return FileObject(found.value, kind)

    # ---- namespaces on each cluster ---------------------------------------------------------------

    def check_instances(self, clusters: dict[str, ClusterModel]) -> None:
        """Each object's namespace on each cluster: a namespaced kind needs one, a cluster-scoped kind
        refuses one. Each problem once, however many clusters share it."""
        reported: set = set()
        for cluster_name, cluster in sorted(clusters.items()):
            for name, instance in cluster.resources.items():
                decl = self.resolution.resources["resource"][name]
                for problem in self._namespace_problems(name, decl, instance):
                    if problem[:2] not in reported:
                        reported.add(problem[:2])
                        code, span, message, notes = problem
                        self.report(diagnostic(code, span, f"{message} (on {cluster_name})", notes=notes))

    def _namespace_problems(self, name: str, decl: ast.ResourceDecl, instance: Instance) -> list[tuple]:
        namespace = object_namespace(instance.values)
        if name not in self._kinds:  # a file's objects: the resource's namespace goes to the namespaced ones naming none
            unnamed = [found.kind for found in self.file_objects(name)
                       if found.kind.namespaced and not found.value.get("metadata", {}).get("namespace")]
            if not unnamed or namespace is not None:
                return []
            return [(codes.NAMESPACE_REQUIRED, decl.name.span,
                     f"resource `{name}` reads a `{unnamed[0].kind}` that names no namespace, and the resource has none",
                     ('add `namespace = "..."` to the resource, or `metadata.namespace` to the object',))]
        kind = self._kinds[name]
        if kind.namespaced and namespace is None:
            return [(codes.NAMESPACE_REQUIRED, decl.name.span,
                     f"resource `{name}` is a `{kind.kind}`, which lives in a namespace, and has none",
                     (f'add `namespace = "..."` to the resource (or to its env\'s `resource {name} {{ }}`)',))]
        if not kind.namespaced and namespace is not None:
            origin = instance.origins.get(("namespace",)) or instance.origins.get(("metadata", "namespace"))
            return [(codes.NAMESPACE_NOT_ALLOWED, origin.span if origin and origin.span else decl.name.span,
                     f"`{kind.kind}` is cluster-scoped: resource `{name}` cannot have a namespace", ("remove `namespace`",))]
        return []


def object_namespace(values: dict[str, Any]) -> str | None:
    """The namespace of a resource's object(s) on a cluster: its `namespace`, else its metadata's."""
    namespace = values.get("namespace") or values.get("metadata", {}).get("namespace")
    return namespace if isinstance(namespace, str) else None


def _literal(body: ast.Body, key: str) -> tuple[str, Span] | None:
    """The string a body assigns to `key` as a literal (`kind = "ResourceQuota"`), with its span."""
    for stmt in body.stmts:
        if (isinstance(stmt, ast.Assign) and [k.text for k in stmt.path.keys] == [key]
                and isinstance(stmt.value, ast.StringLit) and stmt.value.is_plain):
            return stmt.value.plain_value, stmt.value.span
    return None


def _documents(text: str) -> list[dict[str, Any]]:
    """The objects of a chart's CRD file (one that is no YAML is the chart's own problem: none)."""
    try:
        return [found.value for found in yaml_objects(text)]
    except YamlFileError:
        return []


def _at(source: SourceFile, key: str, line: int, column: int) -> Span:
    offset = source.offset(line, column)
    end = source.text.find("\n", offset)
    return Span(key, offset, len(source.text) if end < 0 else end)
