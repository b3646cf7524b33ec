"""Bytes out: the YAML emitter, Go's JSON encoding, and the in-place writer of output trees with its
ownership manifest. Knows nothing about fleets; lowering passes call it.

The manifest's name is here, not in `tree`, so that a replayed build (`commands.runmemo`), which
only looks for it, does not load the writer."""

MANIFEST = ".gopc-manifest.json"
