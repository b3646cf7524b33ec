"""`gopc fmt PATH... [--check] [--diff]`: rewrite .gop files in the canonical layout.

Input: files and directories (searched recursively). Output: each file that changes replaced
atomically (a symlink stays one), `formatted F` on stderr; `--check` changes nothing and says
`F: not formatted`; `--diff` prints unified diffs on stdout. `-` (alone) formats standard input,
named `<stdin>`, to standard output (with --check or --diff it prints only what they print). A path that names nothing or a
file that cannot be read is E0901, a file that cannot be written E0702 (both span-less), a
file with syntax errors is reported with them and left alone. Exit 2 for a missing path, else
1 for any failure (or, with --check, any unformatted file), else 0.
"""

from __future__ import annotations

import os
import sys

from gop.compiler.commands.report import EXIT_ERRORS, EXIT_OK, EXIT_USAGE, Reporter, UsageError
from gop.compiler.diagnostics import codes


def run(args, reporter: Reporter) -> int:
    import difflib

    from gop.compiler.core.span import SourceFile
    from gop.compiler.semantic.loader import MAX_SOURCE_BYTES, display_path
    from gop.compiler.syntax.formatter import format_source
    from gop.compiler.syntax.readfile import UnreadableFile, read_program_file

    if args.diff and reporter.format != "text":
        raise UsageError(f"gopc fmt: --diff prints the diffs on stdout: it goes with --format text, not {args.format}")
    if "-" in args.paths:
        return _format_stdin(args, reporter)
    reporter.result_on_stdout = args.diff
    files, missing = _gop_files(args.paths)
    for path in missing:
        reporter.fail(codes.CANNOT_READ_FILE, f"no such file or directory: {path}")
    unformatted = failed = 0
    for path, inside in files:
        shown = display_path(path)
        try:
            text = read_program_file(path, f"`{shown}`", inside=inside, limit=MAX_SOURCE_BYTES).decode("utf-8")
        except (UnreadableFile, UnicodeDecodeError) as error:
            problem = error.message if isinstance(error, UnreadableFile) else f"`{shown}` is not UTF-8 text (byte {error.start})"
            reporter.fail(codes.CANNOT_READ_FILE, problem)
            failed += 1
            continue
        result = format_source(shown, text)
        if result.text is None:
            reporter.report(list(result.diagnostics), {shown: SourceFile(shown, text)})
            failed += 1
            continue
        if result.text == text:
            continue
        unformatted += 1
        if args.diff:
            sys.stdout.writelines(difflib.unified_diff(text.splitlines(True), result.text.splitlines(True), shown, shown))
        if args.check:
            print(f"{shown}: not formatted", file=sys.stderr)
        elif not args.diff:
            try:
                _write_atomically(path, result.text)
            except OSError as error:
                reporter.fail(codes.CANNOT_WRITE_OUTPUT, f"cannot write {shown}: {error.strerror or error}")
                failed += 1
                continue
            reporter.say(f"formatted {shown}")
    if missing or failed:
        return EXIT_USAGE if missing else EXIT_ERRORS
    return EXIT_ERRORS if (args.check and unformatted) else EXIT_OK


def _format_stdin(args, reporter: Reporter) -> int:
    import difflib

    from gop.compiler.commands.check import STDIN_NAME
    from gop.compiler.core.span import SourceFile
    from gop.compiler.syntax.formatter import format_source

    if len(args.paths) != 1:
        raise UsageError("gopc fmt: - formats standard input: give it alone")
    reporter.result_on_stdout = not args.check or args.diff
    text = sys.stdin.read()
    result = format_source(STDIN_NAME, text)
    if result.text is None:
        reporter.report(list(result.diagnostics), {STDIN_NAME: SourceFile(STDIN_NAME, text)})
        return EXIT_ERRORS
    if args.diff:
        sys.stdout.writelines(difflib.unified_diff(text.splitlines(True), result.text.splitlines(True), STDIN_NAME, STDIN_NAME))
    elif not args.check:
        sys.stdout.write(result.text)
    if args.check and result.text != text:
        print(f"{STDIN_NAME}: not formatted", file=sys.stderr)
        return EXIT_ERRORS
    return EXIT_OK


def _gop_files(paths):
    """(file, the directory it was found in or None), and the paths that name nothing."""
    from pathlib import Path

    from gop.compiler.semantic.loader import gop_files

    files, missing = [], []
    for name in paths:
        path = Path(name)
        if path.is_dir():
            files.extend((file, path) for file in gop_files(path))
        elif os.path.lexists(path):
            files.append((path, None))
        else:
            missing.append(name)
    return files, missing


def _write_atomically(path, text: str) -> None:
    """Replace the file's text in one rename; a symlink stays a symlink (its target is replaced)."""
    import tempfile
    from pathlib import Path

    path = Path(os.path.realpath(path))
    handle, temporary = tempfile.mkstemp(prefix=f".{path.name}.", dir=path.parent)
    try:
        with os.fdopen(handle, "w", encoding="utf-8") as stream:
            stream.write(text)
        os.chmod(temporary, path.stat().st_mode & 0o7777)
        os.replace(temporary, path)
    except BaseException:
        if os.path.exists(temporary):
            os.unlink(temporary)
        raise
