"""Building a written repository tree the way Flux does, with the real tools.

Shared by test_flux_tools.py (hand-built fixture fleets) and test_build.py (the trees
`gopc build` writes). A tree is taken as `flux bootstrap` leaves it: bootstrap's
gotk-components.yaml is stood in for by the Namespace it starts with.

- `kustomize_all`: `kubectl kustomize` of every directory that has a kustomization.yaml.
- `build_cluster`: clusters/<cluster>, then the path of every Flux Kustomization found
  there (with its targetNamespace applied), then `helm template` of every HelmRelease from
  the chart its source points at, with the HelmRelease's values.
- `canonical`, `object_id`: compare object streams without caring about order.
"""

from __future__ import annotations

import copy
import json
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml
from helm_fixtures import TemplateCase, helm_template_many

import realtools as rt

Doc = dict[str, Any]
BOOTSTRAP_STAND_IN = {"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": "flux-system"}}


def write_bootstrap_stand_ins(tree: Path, clusters) -> None:
    """What `flux bootstrap` adds next to the tree: clusters/<c>/flux-system/gotk-components.yaml."""
    for cluster in clusters:
        (tree / "clusters" / cluster / "flux-system" / "gotk-components.yaml").write_text(
            yaml.safe_dump(BOOTSTRAP_STAND_IN), encoding="utf-8")


@dataclass
class Written:
    fleet: Any
    tree: Path
    files: dict[str, str]
    builds: dict[str, list[Doc]]  # `kubectl kustomize` of every kustomization directory, by path

    def build(self, directory: str) -> list[Doc]:
        """A fresh copy of a directory's build (callers change namespaces)."""
        return copy.deepcopy(self.builds[str(Path(directory))])


def kustomize_all(tree: Path, files) -> dict[str, list[Doc]]:
    directories = sorted({str(Path(path).parent) for path in files if Path(path).name == "kustomization.yaml"})
    with ThreadPoolExecutor(max_workers=4) as pool:
        return dict(zip(directories, pool.map(lambda d: rt.kubectl_kustomize(tree / d), directories)))


def canonical(docs: list[Doc]) -> list[str]:
    return sorted(json.dumps(doc, sort_keys=True, default=str) for doc in docs)


def object_id(doc: Doc) -> tuple[str, str, str, str]:
    metadata = doc.get("metadata") or {}
    return (doc["apiVersion"].split("/")[0], doc["kind"], metadata.get("namespace", ""), metadata["name"])


def find(docs: list[Doc], kind: str, name: str, namespace: str | None) -> Doc:
    found = [d for d in docs if d["kind"] == kind and d["metadata"]["name"] == name
             and d["metadata"].get("namespace") == namespace]
    assert len(found) == 1, f"{kind} {namespace}/{name}: found {len(found)}"
    return found[0]


@dataclass
class ClusterBuild:
    root: list[Doc]  # clusters/<cluster>, without bootstrap's components
    layers: dict[str, list[Doc]]  # Flux Kustomization name -> what it applies
    rendered: list[Doc]  # helm template of every HelmRelease

    @property
    def everything(self) -> list[Doc]:
        return self.root + [doc for docs in self.layers.values() for doc in docs] + self.rendered


def chart_dir(tree: Path, release: Doc, docs: list[Doc]) -> Path:
    """The chart a HelmRelease installs, as source-controller would fetch it: from the Git
    tree, or from the registry (the chart `gopc publish` pushes is charts/<name> of the tree)."""
    namespace = release["metadata"]["namespace"]
    if "chartRef" in release["spec"]:
        ref = release["spec"]["chartRef"]
        source = find(docs, ref["kind"], ref["name"], namespace)
        chart = tree / "charts" / source["spec"]["url"].rsplit("/", 1)[1]
        version = source["spec"]["ref"]["tag"]
    else:
        spec = release["spec"]["chart"]["spec"]
        ref = spec["sourceRef"]
        source = find(docs, ref["kind"], ref["name"], ref.get("namespace", namespace))
        if ref["kind"] == "GitRepository":
            return tree / spec["chart"]
        chart, version = tree / "charts" / spec["chart"], spec["version"]
    assert yaml.safe_load((chart / "Chart.yaml").read_text())["version"] == version
    return chart


def build_cluster(written: Written, cluster: str, workdir: Path) -> ClusterBuild:
    root = [doc for doc in written.build(f"clusters/{cluster}") if doc != BOOTSTRAP_STAND_IN]
    layers = {}
    for kustomization in root:
        if kustomization["kind"] != "Kustomization" or kustomization["metadata"]["name"] == "flux-system":
            continue
        spec = kustomization["spec"]
        docs = written.build(spec["path"])
        for doc in docs:
            if "targetNamespace" in spec:
                doc["metadata"]["namespace"] = spec["targetNamespace"]
        layers[kustomization["metadata"]["name"]] = docs
    applied = root + [doc for docs in layers.values() for doc in docs]
    releases = [doc for doc in applied if doc["kind"] == "HelmRelease"]
    cases = [TemplateCase(chart_dir(written.tree, release, applied), release["spec"].get("values"),
                          release["spec"]["releaseName"],
                          release["spec"].get("targetNamespace", release["metadata"]["namespace"]))
             for release in releases]
    rendered = [doc for docs in helm_template_many(cases, workdir) for doc in docs]
    return ClusterBuild(root, layers, rendered)
