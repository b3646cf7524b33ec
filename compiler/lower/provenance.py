"""The generated repository explains itself: each file says that gopc wrote it and from which .gop
file, and the tree's root has a README.md that describes the tree and how to change it.

Input: each lowered file (relative path, text), the `Fleet`, where each overlay is declared
(overlays are no part of the fleet model) and whether the file is copied verbatim; then the whole
tree. Output: each file headed by a comment where its format has comments (`as_written`, one file
at a time, as text or as the UTF-8 bytes `gopc build` writes), then the tree with `README.md`
(`readme_file`, from the paths of all the others):

- YAML files and `.helmignore`: `#` lines;
- a chart's templates (`charts/<app>/templates/*`): a Go template comment with its whitespace
  trimmed (`{{- /* ... */ -}}`), which renders to nothing, so `helm template` prints the same;
- JSON (`values.schema.json`) has no comments and is left alone, as are the files copied
  verbatim: the SOPS files under `secrets/`, the user's own and encrypted.

The .gop file is the one declaring what the file is made from, by its place in the tree
(`charts/web/...` and `apps/base/web/...`: app `web`; `apps/prod/...`: env `prod`;
`components/cn-ingress/...`: overlay `cn-ingress`; `clusters/prod-eu-1/...`: cluster `prod-eu-1`; `tenants/team-a/...`: tenant `team-a`;
`releases/base/podinfo/...`, `infrastructure/resources/quota/...`, `infrastructure/namespaces/shop/...`),
else the program as a whole. A chart's templates and `.helmignore` are gopc's own text, the same in
every chart with the same parts: they say so (`BUILT_IN`) instead of naming the app. Paths are relative to the program's root, so the text depends on the
program alone (not on the working directory); chart versions are computed before the headers.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Mapping

from gop.compiler.core.span import Span
from gop.compiler.fleet.model import Fleet

README = "README.md"
_DO_NOT_EDIT = "Do not edit: change the .gop program and run `gopc build` (README.md at the root of this tree)."
# A chart's templates and .helmignore are gopc's own text, chosen by which parts the chart has and
# never by an app's settings (those reach them through values.yaml): saying so, rather than naming
# the app, keeps them byte-identical across charts, so `gopc build` writes each once and links the rest.
BUILT_IN = "its built-in chart templates (the app's settings are in values.yaml)"


def as_written(path: str, text: str, fleet: Fleet, overlays: Mapping[str, Span], *, verbatim: bool = False,
               encoded: bool = False, paths: dict[str, str] | None = None,
               built_in: dict[tuple[str, str], str | bytes] | None = None, origin: str | None = None,
               utf8: Callable[[str], bytes] = str.encode) -> str | bytes:
    """A file of the tree as it is written: with its header (unless copied `verbatim`), and with
    `encoded` as its UTF-8 bytes. Made one file at a time, so a large tree (100s of MB) is never
    held both with and without its headers. `paths`: each source file's path from the root,
    worked out once per source for all the files of a build (`LoweringCaches.source_paths`).
    `built_in`: the written form of each of a chart's built-in files by (path under the chart,
    text), so the 1000 charts of a fleet hold one copy of each template, not one each. `origin`:
    the file's `origin_of`, when the caller has it. `utf8`: a text's UTF-8 bytes (`HelmCaches.utf8`
    has those of the chart's schema, which is written as it is)."""
    if built_in is not None and _built_in(path):
        key = (path.split("/", 2)[2], text)
        if key not in built_in:
            built_in[key] = as_written(path, text, fleet, overlays, verbatim=verbatim, encoded=encoded)
        return built_in[key]
    if not verbatim:
        text = headed(path, text, origin if origin is not None else origin_of(path, fleet, overlays, paths))
    return utf8(text) if encoded else text


def readme_file(files: list[str], fleet: Fleet, *, encoded: bool = False,
                paths: dict[str, str] | None = None) -> str | bytes:
    """The root's README.md that describes the tree of these files (their paths), as written."""
    text = readme(fleet, files, paths)
    return text.encode("utf-8") if encoded else text


def origin_of(path: str, fleet: Fleet, overlays: Mapping[str, Span], paths: dict[str, str] | None = None,
              places: dict[tuple[str, str] | None, str] | None = None) -> str:
    """What a file's header says it is made from: "app `web` in apps.gop" (`source_of`), else
    "the .gop program"; `BUILT_IN` for a chart's templates and .helmignore. The header of a file is a
    function of its path, its text and this. `places`: the origins found, by the declaration their
    place in the tree names (all that `source_of` reads), for the files of one build."""
    if path.startswith("charts/") and _built_in(path):
        return BUILT_IN
    candidate = _candidate(path)
    if places is None:
        return _origin(candidate, fleet, overlays, paths)
    known = places.get(candidate)
    if known is None:
        known = places[candidate] = _origin(candidate, fleet, overlays, paths)
    return known


def _origin(candidate: tuple[str, str] | None, fleet: Fleet, overlays: Mapping[str, Span],
            paths: dict[str, str] | None) -> str:
    source = None if candidate is None else _source(candidate, fleet, overlays)
    return "the .gop program" if source is None else f"{source[0]} in {_relative(source[1].file, fleet, paths)}"


def headed(path: str, text: str, origin: str) -> str:
    """`text` with the comment saying where it comes from (`origin_of`), where its format has comments."""
    if path.endswith(".json"):
        return text
    first = f"Generated by gopc from {origin}."
    if _in_chart_templates(path.split("/")):
        return "{{- /* " + first + "\n" + _DO_NOT_EDIT + " */ -}}\n" + text
    return f"# {first}\n# {_DO_NOT_EDIT}\n" + text


def _built_in(path: str) -> bool:
    parts = path.split("/")
    return _in_chart_templates(parts) or (len(parts) == 3 and parts[0] == "charts" and parts[2] == ".helmignore")


def _in_chart_templates(parts: list[str]) -> bool:
    """charts/<app>/templates/... (an app may be named `templates`: its other files are not)."""
    return len(parts) > 3 and parts[0] == "charts" and parts[2] == "templates"


def source_of(path: str, fleet: Fleet, overlays: Mapping[str, Span]) -> tuple[str, Span] | None:
    """(what, where it is declared) that a file of the tree is made from; None for the program at large."""
    candidate = _candidate(path)
    return None if candidate is None else _source(candidate, fleet, overlays)


def _candidate(path: str) -> tuple[str, str] | None:
    """The (kind, name) of the declaration a file's place in the tree names, if any."""
    parts = path.split("/", 3)
    if len(parts) < 3:
        return None
    top, first, second = parts[0], parts[1], parts[2]
    if top == "apps":
        return ("app", second) if first == "base" else ("env", first)
    if top == "releases":
        return ("release", second) if first == "base" else ("env", first)
    if top == "infrastructure":
        return ("resource", second) if first == "resources" else ("namespace", second)
    kind = {"charts": "app", "components": "overlay", "clusters": "cluster", "tenants": "tenant"}.get(top)
    return None if kind is None else (kind, first)


def _source(candidate: tuple[str, str], fleet: Fleet, overlays: Mapping[str, Span]) -> tuple[str, Span] | None:
    kind, name = candidate
    span = _declared(fleet, overlays, kind, name)
    return None if span is None else (f"{kind} `{name}`", span)


def _declared(fleet: Fleet, overlays: Mapping[str, Span], kind: str, name: str) -> Span | None:
    if kind == "overlay":
        return overlays.get(name)
    declarations = {"app": fleet.apps, "env": fleet.envs, "cluster": fleet.clusters, "release": fleet.releases,
                    "resource": fleet.resources, "namespace": fleet.namespaces, "tenant": fleet.tenants}[kind]
    declared = declarations.get(name)
    return None if declared is None else declared.span


def _relative(file: str, fleet: Fleet, paths: dict[str, str] | None) -> str:
    """A source file's path from the program's root (as written when it lies outside it), kept in
    `paths` when given."""
    known = None if paths is None else paths.get(file)
    if known is None:
        relative = os.path.relpath(os.path.abspath(file), os.path.abspath(fleet.root))
        known = file if relative.startswith("..") else relative.replace(os.sep, "/")
        if paths is not None:
            paths[file] = known
    return known


def readme(fleet: Fleet, files: list[str], paths: dict[str, str] | None = None) -> str:
    """What the tree holds (`files`: its paths, in any order), where each part comes from, and how to change it."""
    tops = sorted({path.split("/", 1)[0] for path in files if "/" in path})
    lines = [
        "<!-- Generated by gopc from the .gop program.",
        f"{_DO_NOT_EDIT} -->",
        "",
        f"# The GitOps repository of `{fleet.package}`",
        "",
        "gopc wrote this tree from a `.gop` program; Flux v2 applies it to the clusters below. Every",
        "file says which `.gop` file it is made from. To change what runs, change the program (not these",
        "files) and build again; `gopc build PROGRAM -o THIS-DIRECTORY --check` tells whether the tree is",
        "up to date. Files of your own here are kept (gopc lists its files in `.gopc-manifest.json`).",
        "",
        "| directory | what it holds |",
        "|---|---|",
    ]
    lines += [f"| `{top}/` | {_TOPS[top]} |" for top in tops if top in _TOPS]
    lines += ["", "## Clusters", "", "| cluster | env | apps | declared in |", "|---|---|---|---|"]
    for name, cluster in sorted(fleet.clusters.items()):
        apps = ", ".join(map("`{}`".format, cluster.instances)) or "none"
        lines.append(f"| `{name}` | `{cluster.env}` | {apps} | `{_relative(cluster.span.file, fleet, paths)}` |")
    lines += ["", "Each cluster is bootstrapped with `flux bootstrap ... --path=clusters/CLUSTER`: Flux syncs",
              "`clusters/CLUSTER/`, which names everything else the cluster runs.", ""]
    return "\n".join(lines)


_TOPS = {
    "apps": "per app, the HelmRelease and its chart source (`base/APP/`); per env, the patches of the env's values (`ENV/`)",
    "charts": "the Helm chart of every app (`gopc publish` pushes them to the delivery's registry)",
    "clusters": "per cluster, what Flux syncs: its Kustomizations, the cluster's own patches, sources and notifications",
    "components": "per selector overlay, a Kustomize Component that patches the clusters it selects",
    "infrastructure": "namespaces, and the objects of `resource` declarations, shared by the clusters that run them",
    "releases": "charts gopc did not write: per release its HelmRelease (`base/NAME/`), per env its patches",
    "secrets": "SOPS-encrypted Secret manifests, copied from the program byte for byte",
    "tenants": "per tenant and env, the tenant's own Git sync and its releases' account (docs/tenancy.md)",
}
