"""`gopc build PATH... -o DIR`: write the GitOps repository, and the atomic output writing
`gopc render -o` shares.

Input: the PATHs, `-o DIR`, `--force`. Output: the tree in DIR (`emit.tree.write_tree`: replaced
atomically, files of the user's kept) and a one-line summary on stderr; the program's
diagnostics, a lowering problem or an image tag automation committed (E0704), and a tree that
cannot be written (E0702, span-less) through the reporter, exit 1.
"""

from __future__ import annotations

import sys

from gop.compiler.commands.report import EXIT_ERRORS, EXIT_OK, Reporter, checked
from gop.compiler.diagnostics import codes


def run(args, reporter: Reporter) -> int:
    from gop.compiler.lower.repository import automated_tags, image_tag_notes, repository

    analysis = checked(args.paths, reporter)
    if analysis is None:
        return EXIT_ERRORS
    files, problems = repository(analysis)
    if not problems and not args.force:
        problems = automated_tags(analysis, args.out)
    if problems:
        reporter.report(problems, analysis.program.sources)
        return EXIT_ERRORS
    return write_output(files, f"{len(files)} files", args, reporter, notes=image_tag_notes(analysis.fleet))


def write_output(files: dict[str, str | bytes], what: str, args, reporter: Reporter, notes=None) -> int:
    """Write `files` to `args.out` as `emit.tree.write_tree` does, and say what happened on stderr."""
    from gop.compiler.emit.tree import EmitError, write_tree

    try:
        report = write_tree(files, args.out, force=args.force, notes=notes)
    except EmitError as error:
        return reporter.fail(codes.CANNOT_WRITE_OUTPUT, str(error), EXIT_ERRORS)
    print(f"{reporter.origin}: {what} in {args.out} ({len(report.written)} written, {len(report.unchanged)} unchanged, "
          f"{len(report.removed)} removed, {len(report.kept)} of yours kept)", file=sys.stderr)
    return EXIT_OK
