"""Bytes out: the YAML emitter, Go's JSON encoding, and the in-place writer of output trees with its
ownership manifest. Knows nothing about fleets; lowering passes call it.

The names gopc keeps for itself in an output are here, not in `tree`: a replayed build
(`commands.runmemo`), which only looks for the manifest, does not load the writer, and the tree's
watch (`treewatch`), which `tree` loads, reads them without importing it."""

MANIFEST = ".gopc-manifest.json"
JOURNAL = ".gopc-journal"  # in the output while a build changes it: the paths it is changing
STAGING = ".gopc-staging"  # in the output while a build runs: the bytes of its new files, until renamed into place
