"""Fleet to files: Helm charts (`lower.helm`), the Flux/Kustomize tree (`lower.flux`) and the join of
both into one repository (`lower.repository`)."""
