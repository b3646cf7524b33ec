"""`gopc lsp`: run the language server on stdin/stdout (gop.lsp.server) until the client exits."""

from __future__ import annotations

from gop.compiler.commands.report import EXIT_OK, Reporter


def run(args, reporter: Reporter) -> int:
    from gop.lsp.server import main as serve

    serve()
    return EXIT_OK
