"""The evaluated fleet: the model (apps, envs, clusters, layers with provenance), the evaluation of a
checked program into it, and the checks that need the whole fleet (placement, API and Flux rules).
Imports the layers below (`core`, `diagnostics`, `syntax`, `semantic`)."""
