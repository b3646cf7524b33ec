"""Meaning of a loaded program: loading modules and imports, name resolution, semantic types, the
type checker and the checks that read syntax with types (plaintext secrets, quantity hints,
version ranges). Imports `core`, `diagnostics` and `syntax`."""
