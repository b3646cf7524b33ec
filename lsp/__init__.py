"""The gop language server (`gopc lsp`): a thin layer over the compiler's cached analyses.

Modules: `server` (protocol handlers, `main()`), `project` (roots, overlays, snapshots,
parse cache, diagnostics), `symbols` (the position-queryable symbol index), `complete`
(completion and signature help), `hover` (hover text, effective values, inlay hints),
`tokens` (semantic tokens and outline), `convert` (spans, URIs and diagnostics to LSP).
"""
