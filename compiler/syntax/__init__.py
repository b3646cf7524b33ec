"""Text to syntax trees and back: the AST, the parser (Lark's LALR tables with a fast loop and error
recovery), the canonical formatter and the reader of program files. Imports `core` and
`diagnostics` only."""
