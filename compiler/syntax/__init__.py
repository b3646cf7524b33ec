"""Text to syntax trees and back. Imports `core`, `language` and `diagnostics` only.

- `parser`: `parse(path, text) -> ParseResult`, the entry point of the pass;
- `scanner`: chunks, comments, the newline and bracket rules both parse loops apply;
- `grammar`: grammar/gop.lark analysed by Lark (built once, cached on disk);
- `fastloop`: the LALR loop over Lark's tables for text without syntax errors;
- `recovery`: Lark's loop with error recovery, for the text the fast loop declines;
- `builder`: reductions -> `ast` nodes (strings, interpolations, doc comments);
- `limits`: the bounds on recovery, nesting and numbers; `report`: a file's syntax diagnostics;
- `ast`, the tree; `formatter`, the canonical formatter; `readfile`, the reader of program files.
"""
