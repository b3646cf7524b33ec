"""The gop language server (`gopc lsp`): a thin protocol layer over the compiler's cached analyses.

Modules: `server` (protocol handlers, `main()`), `project` (roots, overlays, snapshots,
parse cache, diagnostics), `complete` (completion items and signature help), `hover` (hover
text, effective values, inlay hints), `tokens` (semantic tokens and outline), `convert`
(spans, URIs and diagnostics to LSP), `transport` (the wire), `attrs_code` (the protocol's types
imported with attrs's compiles kept on disk), `parse_ahead` (a second process parsing the workspace
into the disk cache as the server starts). What names mean, what may be typed where and what a
rename rewrites are answered by the compiler's symbol table (`gop.compiler.semantic.symbols`).
"""
