"""The evaluated fleet: `model` (apps, envs, clusters, layers with provenance), `evaluate` (a checked
program into the model), `layers` (the layer-merge engine) and `checks` (placement, and what the API
server, Helm or Flux would reject in the whole fleet). Imports the layers below (`core`, `language`,
`diagnostics`, `syntax`, `semantic`, `values`)."""
