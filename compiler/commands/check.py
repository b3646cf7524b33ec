"""`gopc check PATH...`: analyse a program and report its diagnostics.

Input: the PATHs, or `-` (one file's text on standard input, with `--stdin-filename FILE` the text
of FILE). Output: the diagnostics through the run's reporter (nothing else); exit 0 clean or
warnings only, 1 errors, 2 a file that cannot be read (E09xx).

- Directories (or a mix, or a path that names nothing) are one program, as every command reads PATHs.
- Existing files only (what pre-commit and editors pass): each file is checked within the whole program it
  belongs to (`loader.enclosing_program`: its package directory and those above it that hold .gop
  files), and only the named files' diagnostics (and span-less ones) are reported - a file alone
  would lack its program's labels, schemas and lets, and give false errors.
- `-`: standard input is one file, `<stdin>`, a program of its own; with `--stdin-filename FILE`
  it stands for FILE (which need not exist yet) within FILE's program, as an unsaved buffer does.
"""

from __future__ import annotations

import contextlib
import os
import sys
from pathlib import Path

from gop.compiler.commands.report import Reporter, UsageError, exit_code

STDIN_NAME = "<stdin>"


def run(args, reporter: Reporter) -> int:
    if "-" in args.paths:
        if len(args.paths) != 1:
            raise UsageError("gopc check: - reads one file from standard input: give it alone")
        return _check_stdin(args.stdin_filename, reporter, not args.no_cache)
    if args.stdin_filename is not None:
        raise UsageError("gopc check: --stdin-filename goes with - (the file's text on standard input)")
    if all(os.path.isfile(path) for path in args.paths):
        return _check_files(args.paths, reporter, not args.no_cache)
    return _report(reporter, [(args.paths, {}, None)], not args.no_cache)


def _check_stdin(filename: str | None, reporter: Reporter, cache: bool) -> int:
    from gop.compiler.semantic.loader import enclosing_program

    text = sys.stdin.read()
    if filename is None:
        file = Path.cwd() / STDIN_NAME
        return _report(reporter, [([file], {str(file): text}, {file})], cache)
    file = Path(filename).resolve()
    return _report(reporter, [([enclosing_program(file), file], {str(file): text}, {file})], cache)


def _check_files(paths: list[str], reporter: Reporter, cache: bool) -> int:
    from gop.compiler.semantic.loader import enclosing_program

    by_program: dict[Path, set[Path]] = {}
    for path in paths:
        file = Path(path).resolve()
        by_program.setdefault(enclosing_program(file), set()).add(file)
    return _report(reporter, [([program, *sorted(files)], {}, files) for program, files in sorted(by_program.items())], cache)


def _report(reporter: Reporter, runs: list[tuple[list, dict[str, str], set[Path] | None]], cache: bool) -> int:
    """Analyse each (paths, overlays, files) in one session (with the disk cache if `cache`) and
    report the diagnostics of `files` (all of them when None), and the span-less ones; the exit
    code of what was reported."""
    from gop.compiler.commands.runmemo import check_memo
    from gop.compiler.core.diskcache import open_disk_cache

    disk = open_disk_cache() if cache else None
    memo = check_memo(disk, runs)  # ---- #17: the whole run's memo (commands/runmemo.py)
    replayed = memo.replay(reporter) if memo is not None else None
    if replayed is not None:
        return replayed
    from gop.compiler.semantic.loader import display_path
    from gop.compiler.session import Session, analyse

    session = Session(keep_analyses=True, disk=disk, single_analysis=len(runs) == 1)
    reported, analyses = [], []
    with memo.record() if memo is not None else contextlib.nullcontext():
        for paths, overlays, files in runs:
            analysis = analyse(paths, overlays, session=session)
            shown = None if files is None else {display_path(file) for file in files}
            diagnostics = [d for d in analysis.diagnostics if shown is None or d.span is None or d.span.file in shown]
            if memo is not None:
                memo.report(reporter, diagnostics, analysis.program.sources)
            else:
                reporter.report(diagnostics, analysis.program.sources)
            reported += diagnostics
            analyses.append(analysis)
    if memo is not None:
        memo.store(analyses, exit_code(reported))
    return exit_code(reported)
