"""`gopc completion bash|zsh|fish`: a shell completion script, generated from the command line's parser.

Input: the shell, and the root parser (cli.py puts it in `args.parser`). Output: the script on
stdout (shtab writes it from the parser, so every command and option completes as it is defined,
with file names where a command takes PATHs). Exit 0.
"""

from __future__ import annotations

import argparse
import sys

from gop.compiler.commands.report import EXIT_OK, Reporter

_FILE_ARGUMENTS = {"paths", "against", "stdin_filename"}
_DIRECTORY_ARGUMENTS = {"out", "against_build", "directory"}


def run(args, reporter: Reporter) -> int:
    import shtab

    for parser in _parsers(args.parser):
        for action in parser._actions:
            if action.dest in _FILE_ARGUMENTS:
                action.complete = shtab.FILE
            elif action.dest in _DIRECTORY_ARGUMENTS:
                action.complete = shtab.DIRECTORY
    sys.stdout.write(shtab.complete(args.parser, args.shell))
    return EXIT_OK


def _parsers(root: argparse.ArgumentParser):
    """The root parser and every command's."""
    yield root
    for action in root._actions:
        if isinstance(action, argparse._SubParsersAction):
            yield from dict.fromkeys(action.choices.values())
