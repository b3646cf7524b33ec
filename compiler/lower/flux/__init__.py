"""Kustomize + Flux lowering: the evaluated `Fleet` -> a Flux v2 GitOps repository.

Input: a `model.Fleet` from a program without errors (and the SOPS files it names,
read from `fleet.root`). Output:
- `repository_files(fleet)`: relative path -> text of every file except charts/ (the Helm
  lowering writes charts/<app>/); the layout is described in `tree` and docs/flux.md.
- `render_cluster(fleet, cluster, include_flux=False)`: the objects Flux would apply on
  one cluster, computed in-process; `ClusterRenderer(fleet).text(cluster, ...)`: their YAML
  stream, sharing work between the clusters one renderer renders.
All raise `FluxLoweringError` (message + span) when the fleet cannot be lowered.

Invariants: deterministic (same fleet -> same bytes, no timestamps); only served Flux
APIs; a plaintext secret never reaches the output; a cluster gets exactly the apps of
its `ClusterModel.instances` with exactly their effective values.

Every entry point takes the fleet's `caches.LoweringCaches` (the overlay plan, each cluster's SOPS
secrets, the Helm caches), or makes its own for a bare fleet: an `Analysis` carries one.

Modules: `plan` (what each cluster gets), `caches` (what is worked out once per fleet),
`overlays` (selector overlays as Kustomize Components, and each cluster's own patch), `objects` (object builders),
`releases` (a `release`'s HelmRelease, patches and chart sources), `charts` (a release's vendored chart
templated by helm, for render), `secrets` (SOPS
files, ExternalSecrets, an app's namespace on a cluster), `tree` (files), `render`
(in-process render), `validate` (everything the lowering would refuse, for `gopc check`),
`keys` (map keys kustomize cannot carry, E0703). Text goes out through compiler/emit/yaml.py.
"""

from gop.compiler.lower.flux.errors import FluxLoweringError
from gop.compiler.lower.flux.render import ClusterRenderer, render_cluster
from gop.compiler.lower.flux.tree import repository_files

__all__ = ["ClusterRenderer", "FluxLoweringError", "render_cluster", "repository_files"]
