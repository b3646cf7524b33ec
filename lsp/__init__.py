"""The gop language server (`gopc lsp`): a thin protocol layer over the compiler's cached analyses.

Modules: `server` (protocol handlers, `main()`), `project` (roots, overlays, snapshots,
parse cache, diagnostics), `complete` (completion items and signature help), `hover` (hover
text, effective values, inlay hints), `tokens` (semantic tokens and outline), `convert`
(spans, URIs and diagnostics to LSP). What names mean, what may be typed where and what a
rename rewrites are answered by the compiler's symbol table (`gop.compiler.semantic.symbols`).
"""
