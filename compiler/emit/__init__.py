"""Bytes out: the YAML emitter, Go's JSON encoding, and the atomic writer of output trees with its
ownership manifest. Knows nothing about fleets; lowering passes call it."""
