"""`gopc lsp`: run the language server on stdin/stdout (gop.lsp.server) until the client exits."""

from __future__ import annotations

from gop.compiler.commands.report import EXIT_OK, Reporter


def run(args, reporter: Reporter) -> int:
    from gop.compiler.core.collector import imports_kept
    from gop.compiler.core.diskcache import open_disk_cache
    from gop.lsp import parse_ahead

    disk = open_disk_cache()
    # First of all: a second process parses the workspace into the disk cache while this one imports.
    helper = parse_ahead.start(disk)
    try:
        with imports_kept():
            from gop.lsp.attrs_code import import_protocol

            import_protocol(disk)  # first, with attrs's compiles kept on disk: the server's start is a sixth faster
            from gop.lsp.server import main as serve

        serve()
    finally:
        parse_ahead.stop(helper)
    return EXIT_OK
