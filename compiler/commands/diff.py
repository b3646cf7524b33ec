"""`gopc diff`: what a change does to each cluster, object by object.

Input: the program (PATHs) and what it is compared with - the same program at a git
revision (`--against-rev`), another program (`--against`), or a tree `gopc build` wrote
(`--against-build`) - and optionally the clusters to compare. Output on stdout: per cluster,
the objects added, removed and changed, keyed by apiVersion, kind, namespace and name, each
with the paths of the fields that changed and a unified diff of its YAML; a summary on
stderr. The comparison is "before" = what it is compared with, "after" = the program.

What is compared is everything Flux applies on a cluster: `gopc render --cluster C
--include-flux` for a program. For a built tree it is computed as the controllers would,
with the real tools (kubectl and helm on PATH, or GOPC_KUBECTL / GOPC_HELM):
`kubectl kustomize clusters/<C>` (bootstrap's gotk-components.yaml left out), then the
path of every Flux Kustomization found there (with its targetNamespace), then `helm
template` of every HelmRelease with its values, the chart taken from charts/ of the tree.

Invariants: objects are compared as data (both sides are read back from YAML text, so key
order and quoting never show as a difference); the exit code is 0 when nothing differs, 1
when something does, 2 on a usage error, an unreadable side or a program with errors (the
usual 1 would read as "differs"). Every trouble is a `DiffError` with its diagnostic code
(E0903 an unknown --cluster, E0904 git/kubectl/helm, E0901 a missing PATH, else E0905),
reported span-less; a side with errors brings its own diagnostics, reported after it.
"""

from __future__ import annotations

import dataclasses
import io
import json
import shutil
import subprocess
import sys
import tarfile
import tempfile
from collections.abc import Callable, Iterator, Sequence
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from ruamel.yaml import YAML
from ruamel.yaml.error import YAMLError

from gop.compiler.commands.diff_report import (
    MARKS, ClusterDelta, compare_objects, json_report, markdown_report, text_report,
)
from gop.compiler.commands.publish import PublishError, find_tool, run_tool
from gop.compiler.commands.report import Reporter
from gop.compiler.core.span import Span
from gop.compiler.diagnostics import Diagnostic, codes, command_error
from gop.compiler.emit.yaml import dump_all
from gop.compiler.lower.kinds import (
    CLUSTER_SCOPED, GIT_REPOSITORY, HELM_RELEASE, KUSTOMIZATION, OCI_REPOSITORY, ObjectKey, object_key,
)

EXIT_SAME, EXIT_DIFFERENT, EXIT_TROUBLE = 0, 1, 2
BOOTSTRAP_STAND_IN = {"apiVersion": "v1", "kind": "ConfigMap",
                      "metadata": {"name": "gopc-diff-bootstrap-stand-in", "namespace": "flux-system"}}

Doc = dict[str, Any]


class DiffError(Exception):
    """A side cannot be read: a bad revision, a program with errors, a missing tool. `code` is
    the diagnostic code it is reported with; a program with errors brings its `diagnostics`
    (and the `sources` they point into)."""

    def __init__(self, message: str, code: str = codes.CANNOT_READ_DIFF_SIDE, *,
                 diagnostics: Sequence[Diagnostic] = (), sources: dict | None = None) -> None:
        super().__init__(message)
        self.code = code
        self.diagnostics = tuple(diagnostics)
        self.sources = sources or {}


@dataclass(slots=True)
class Side:
    label: str
    clusters: set[str]
    objects: Callable[[str], dict[ObjectKey, Doc]]  # everything Flux applies on a cluster


# ---------------------------------------------------------------- entry point

def run(args, reporter: Reporter) -> int:
    reporter.result_on_stdout = True
    return run_diff(args.paths, reporter, against_rev=args.against_rev, against_build=args.against_build,
                    against=args.against, clusters=args.cluster, output=args.format)


def run_diff(paths: Sequence[str], reporter: Reporter, *, against_rev: str | None, against_build: str | None,
             against: Sequence[str] | None, clusters: Sequence[str], output: str = "text") -> int:
    """`output`: the report's format - text (also with --format sarif, whose log goes to stderr), markdown or json."""
    try:
        with _before_side(paths, against_rev, against_build, against) as before:
            after = program_side(paths, " ".join(paths))
            selected = _selected_clusters(before, after, clusters)
            return _report(before, after, selected, output, reporter)
    except DiffError as error:
        reporter.report([command_error(error.code, str(error)), *error.diagnostics], error.sources)
        return EXIT_TROUBLE


@contextmanager
def _before_side(paths, against_rev, against_build, against) -> Iterator[Side]:
    if against_rev is not None:
        with checkout(paths, against_rev) as (old_paths, scratch):
            yield program_side(old_paths, against_rev, shown_as=(scratch, f"{against_rev}:"))
    elif against_build is not None:
        yield built_tree_side(Path(against_build))
    else:
        yield program_side(against, " ".join(against))


def _selected_clusters(before: Side, after: Side, requested: Sequence[str]) -> list[str]:
    known = before.clusters | after.clusters
    unknown = [name for name in requested if name not in known]
    if unknown:
        raise DiffError(f"no cluster `{unknown[0]}` on either side (clusters: {', '.join(sorted(known))})",
                        codes.BAD_COMMAND_ARGUMENT)
    return sorted(set(requested)) if requested else sorted(known)


def _report(before: Side, after: Side, clusters: list[str], output: str, reporter: Reporter) -> int:
    deltas = [ClusterDelta(cluster, compare_objects(before.objects(cluster) if cluster in before.clusters else {},
                                                    after.objects(cluster) if cluster in after.clusters else {}))
              for cluster in clusters]
    if output == "markdown":
        sys.stdout.write(markdown_report(deltas, before.label, after.label))
    elif output == "json":
        sys.stdout.write(json_report(deltas, before.label, after.label))
    else:
        sys.stdout.writelines(text_report(delta, before.label, after.label) for delta in deltas)
    differing = [delta for delta in deltas if delta.objects]
    if not differing:
        reporter.say(f"gopc diff: no differences on {len(clusters)} cluster(s)")
        return EXIT_SAME
    counts = {kind: sum(delta.count(kind) for delta in differing) for kind in MARKS}
    reporter.say(f"gopc diff: {len(differing)} of {len(clusters)} cluster(s) differ "
                 f"({', '.join(delta.cluster for delta in differing)}): "
                 f"{counts['changed']} changed, {counts['added']} added, {counts['removed']} removed object(s)")
    return EXIT_DIFFERENT


def keyed(docs: list[Doc]) -> dict[ObjectKey, Doc]:
    """Objects by key, read back from YAML text the way the other side is read."""
    result = {}
    for doc in docs:
        result[object_key(doc)] = doc
    return result


def load_yaml_stream(text: str, what: str) -> list[Doc]:
    """Documents of a YAML stream as JSON-like data (timestamps as the text that spelled them)."""
    try:
        docs = list(YAML(typ="safe", pure=True).load_all(text))
    except YAMLError as error:
        raise DiffError(f"{what} is not valid YAML: {error}") from None
    return [json.loads(json.dumps(doc, default=str)) for doc in docs if doc is not None]


# ---------------------------------------------------------------- a program (this one, another, a revision)

def program_side(paths: Sequence[str], label: str, *, shown_as: tuple[Path, str] | None = None) -> Side:
    from gop.compiler.lower.repository import cluster_renderer, cluster_text
    from gop.compiler.diagnostics import has_errors
    from gop.compiler.session import analyse_and_keep

    analysis = analyse_and_keep(paths, cache=False)  # programs checked out in temporary directories: not kept
    if has_errors(analysis.diagnostics):
        diagnostics, sources = analysis.diagnostics, analysis.program.sources
        if shown_as is not None:
            diagnostics, sources = _shown_as(diagnostics, sources, f"{shown_as[0]}/", shown_as[1])
        raise DiffError(f"{label} has errors", diagnostics=diagnostics, sources=sources)

    # Shared by the clusters (most run an app as others do), with the analysis's caches: the two
    # sides each keep their own overlay plan while their clusters are compared in turn.
    renderer = cluster_renderer(analysis)

    def objects(cluster: str) -> dict[ObjectKey, Doc]:
        text, problems = cluster_text(analysis, cluster, include_flux=True, renderer=renderer)
        if problems:
            raise DiffError(f"{label}: cluster {cluster}: {problems[0].message}")
        return keyed(load_yaml_stream(text, f"the render of {cluster}"))

    return Side(label, set(analysis.fleet.clusters), objects)


def _shown_as(diagnostics: Sequence[Diagnostic], sources: dict, prefix: str, label: str) -> tuple[list[Diagnostic], dict]:
    """The diagnostics and sources of a checked-out program with `prefix` (its temporary
    directory) written as `label` (`REV:`) in file names and messages."""
    def shown(text: str) -> str:
        return text.replace(prefix, label)

    def moved(span: Span | None) -> Span | None:
        return None if span is None else dataclasses.replace(span, file=shown(span.file))

    relabelled = [dataclasses.replace(
        diag, span=moved(diag.span), message=shown(diag.message), notes=tuple(map(shown, diag.notes)),
        related=tuple(dataclasses.replace(r, span=moved(r.span), message=shown(r.message)) for r in diag.related),
        fixes=tuple(dataclasses.replace(f, span=moved(f.span)) for f in diag.fixes)) for diag in diagnostics]
    return relabelled, {shown(key): source for key, source in sources.items()}


@contextmanager
def checkout(paths: Sequence[str], revision: str) -> Iterator[tuple[list[str], Path]]:
    """The program's directory (and any other PATH) as they were at a git revision, in a
    temporary directory: the paths to load there, and the directory."""
    git = shutil.which("git")
    if git is None:
        raise DiffError("--against-rev needs `git` on PATH", codes.TOOL_FAILED)
    resolved = [Path(path).resolve() for path in paths]
    missing = [path for path, real in zip(paths, resolved) if not real.exists()]
    if missing:
        raise DiffError(f"no such file or directory: `{missing[0]}`", codes.CANNOT_READ_FILE)
    root = resolved[0] if resolved[0].is_dir() else resolved[0].parent  # the loader's program root
    top = Path(_git(git, root, ["rev-parse", "--show-toplevel"], "not in a git repository").strip()).resolve()
    inside = []
    for shown, real in [(paths[0], root), *zip(paths, resolved)]:
        try:
            inside.append(real.relative_to(top))
        except ValueError:
            raise DiffError(f"`{shown}` is outside the git repository {top}") from None
    with tempfile.TemporaryDirectory(prefix="gopc-diff-") as scratch:
        archive = _git_bytes(git, top, ["archive", "--format=tar", revision, "--", *sorted({p.as_posix() for p in inside})],
                             f"cannot read {', '.join(paths)} at revision `{revision}`")
        with tarfile.open(fileobj=io.BytesIO(archive)) as tar:
            if hasattr(tarfile, "data_filter"):  # Python 3.11.4 and later
                tar.extractall(scratch, filter="data")
            else:
                tar.extractall(scratch)
        base = Path(scratch).resolve()
        yield [str(base / real.relative_to(top)) for real in resolved], base


def _git(git: str, cwd: Path, args: list[str], failure: str) -> str:
    return _git_bytes(git, cwd, args, failure).decode("utf-8", "replace")


def _git_bytes(git: str, cwd: Path, args: list[str], failure: str) -> bytes:
    done = subprocess.run([git, "-C", str(cwd), *args], capture_output=True, stdin=subprocess.DEVNULL)
    if done.returncode != 0:
        message = done.stderr.decode("utf-8", "replace").strip().splitlines()
        raise DiffError(f"{failure}: {message[-1] if message else f'git exited {done.returncode}'}", codes.TOOL_FAILED)
    return done.stdout


# ---------------------------------------------------------------- a tree `gopc build` wrote

def built_tree_side(tree: Path) -> Side:
    if not (tree / "clusters").is_dir():
        raise DiffError(f"{tree} is not a tree written by `gopc build` (it has no clusters/ directory)")
    try:
        tools = _Tools(find_tool("kubectl", "GOPC_KUBECTL"), find_tool("helm", "GOPC_HELM"))
    except PublishError as error:
        raise DiffError(f"--against-build renders the tree with the real tools: {error}", error.code) from None
    clusters = {path.parent.name for path in (tree / "clusters").glob("*/kustomization.yaml")}
    return Side(str(tree), clusters, lambda cluster: keyed(tools.cluster(tree, cluster)))


@dataclass(slots=True)
class _Tools:
    kubectl: str
    helm: str

    def cluster(self, tree: Path, cluster: str) -> list[Doc]:
        with tempfile.TemporaryDirectory(prefix="gopc-diff-") as scratch:
            work = Path(scratch)
            root = [doc for doc in self.kustomize(_with_bootstrap_stand_in(tree, cluster, work / "tree"))
                    if doc != BOOTSTRAP_STAND_IN]
            applied = list(root)
            for kustomization in root:
                if kustomization.get("kind") != KUSTOMIZATION or kustomization["metadata"]["name"] == "flux-system":
                    continue
                spec = kustomization.get("spec") or {}
                docs = self.kustomize(tree / spec.get("path", "."))
                if spec.get("targetNamespace"):
                    for doc in docs:
                        if doc.get("kind") not in CLUSTER_SCOPED:
                            doc.setdefault("metadata", {})["namespace"] = spec["targetNamespace"]
                applied += docs
            releases = [doc for doc in applied if doc.get("kind") == HELM_RELEASE]
            with ThreadPoolExecutor(max_workers=4) as pool:
                rendered = pool.map(lambda pair: self.template(tree, pair[1], applied, work / f"values-{pair[0]}.json"),
                                    enumerate(releases))
                return applied + [doc for docs in rendered for doc in docs]

    def kustomize(self, directory: Path) -> list[Doc]:
        text = self._run([self.kubectl, "kustomize", str(directory)], f"`kubectl kustomize {directory}` failed")
        return load_yaml_stream(text, f"the build of {directory}")

    def template(self, tree: Path, release: Doc, applied: list[Doc], values_file: Path) -> list[Doc]:
        spec, metadata = release["spec"], release["metadata"]
        chart = _chart_of(tree, release, applied)
        values_file.write_text(json.dumps(spec.get("values") or {}), encoding="utf-8")
        name = spec.get("releaseName", metadata["name"])
        namespace = spec.get("targetNamespace", metadata.get("namespace", "default"))
        text = self._run([self.helm, "template", name, str(chart), "--namespace", namespace, "--values", str(values_file)],
                         f"`helm template` of HelmRelease {metadata.get('namespace')}/{metadata['name']} failed")
        return load_yaml_stream(text, f"the chart of HelmRelease {metadata['name']}")

    @staticmethod
    def _run(argv: list[str], failure: str) -> str:
        try:
            return run_tool(argv, failure)
        except PublishError as error:
            raise DiffError(str(error), error.code) from None


def _with_bootstrap_stand_in(tree: Path, cluster: str, work: Path) -> Path:
    """clusters/<cluster> as kustomize-controller builds it, without bootstrap's controllers:
    a copy whose gotk-components.yaml is one stand-in object, beside links to the rest of the tree."""
    work.mkdir(parents=True)
    for entry in tree.iterdir():
        if entry.name != "clusters":
            (work / entry.name).symlink_to(entry.resolve())
    copy = work / "clusters" / cluster
    shutil.copytree(tree / "clusters" / cluster, copy, symlinks=True)
    components = copy / "flux-system" / "gotk-components.yaml"
    if components.parent.is_dir():
        components.unlink(missing_ok=True)
        components.write_text(dump_all([BOOTSTRAP_STAND_IN]), encoding="utf-8")
    return copy


def _chart_of(tree: Path, release: Doc, applied: list[Doc]) -> Path:
    """The chart a HelmRelease installs, from charts/ of the tree (the charts `gopc publish`
    pushes), checked against the version the release pins."""
    spec, namespace = release["spec"], release["metadata"].get("namespace")
    if "chartRef" in spec:
        ref = spec["chartRef"]
        source = _source(applied, ref, namespace)
        if ref.get("kind") != OCI_REPOSITORY:
            raise DiffError(f"HelmRelease {release['metadata']['name']}: charts from a {ref.get('kind')} are not rendered")
        chart = tree / "charts" / source["spec"]["url"].rstrip("/").rsplit("/", 1)[-1]
        version = source["spec"].get("ref", {}).get("tag")
    else:
        chart_spec = spec["chart"]["spec"]
        source = _source(applied, chart_spec["sourceRef"], namespace)
        if source["kind"] == GIT_REPOSITORY:
            return tree / chart_spec["chart"]
        chart, version = tree / "charts" / chart_spec["chart"], chart_spec.get("version")
    actual = _chart_version(chart)
    if version is not None and actual != version:
        raise DiffError(f"{chart} has version {actual} but HelmRelease {release['metadata']['name']} wants {version}: "
                        "the tree was not written by one `gopc build`")
    return chart


def _source(applied: list[Doc], ref: Doc, namespace: str | None) -> Doc:
    wanted = (ref.get("kind"), ref.get("name"), ref.get("namespace", namespace))
    for doc in applied:
        if (doc.get("kind"), doc["metadata"].get("name"), doc["metadata"].get("namespace")) == wanted:
            return doc
    raise DiffError(f"the cluster has no {wanted[0]} {wanted[2]}/{wanted[1]}")


def _chart_version(chart: Path) -> str | None:
    try:
        return (YAML(typ="safe", pure=True).load((chart / "Chart.yaml").read_text(encoding="utf-8")) or {}).get("version")
    except (OSError, YAMLError) as error:
        raise DiffError(f"cannot read the chart {chart}: {error}") from None
