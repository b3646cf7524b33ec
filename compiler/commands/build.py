"""`gopc build PATH... -o DIR [--check]`: write the GitOps repository (or check that DIR holds it),
and the output writing `gopc render -o` shares.

Input: the PATHs, `-o DIR`, `--force`, `--check`, `-v`. Output: the tree in DIR (`emit.tree.write_tree`: updated
in place, each file atomically, files of the user's kept; the lowering's files are compared and
staged as they are made, `lower.repository.repository_stream`; a file whose status the last build
recorded in the disk cache is compared by digest, unread, `emit.outputindex`, unless `--no-cache`)
and a one-line summary on stderr; the program's
diagnostics, a lowering problem or an image tag automation committed (E0704), and a tree that
cannot be written (E0702, span-less) through the reporter, exit 1. With `--check` nothing is
written (`emit.tree.compare_tree`): each path that differs from what the build would write is
listed on stdout (`differs`, `missing`, `stale`; with -v a unified diff of each text file that
differs), exit 1 when any does, 0 when DIR is up to date.
"""

from __future__ import annotations

import contextlib
import difflib
import sys
from collections.abc import Callable, Iterator
from pathlib import Path

from gop.compiler.commands.report import EXIT_ERRORS, EXIT_OK, Reporter, checked
from gop.compiler.diagnostics import codes


def run(args, reporter: Reporter) -> int:
    # ---- #17: a build whose inputs, and output tree, are as a successful build left them replays
    # its reports (commands/runmemo.py); `--check` and `--no-cache` always run in full.
    from gop.compiler.commands.runmemo import build_memo
    from gop.compiler.core.diskcache import open_disk_cache

    disk = None if args.no_cache else open_disk_cache()
    memo = None if args.check else build_memo(disk, args.paths, args.out, args.force)
    replayed = memo.replay(reporter) if memo is not None else None
    if replayed is not None:
        return replayed
    with memo.record() if memo is not None else contextlib.nullcontext():
        return _build(args, reporter, disk, memo)


def _build(args, reporter: Reporter, disk, memo) -> int:
    from gop.compiler.lower.repository import LoweringFailed, build_notes, previous_build_problems, repository_stream
    from gop.compiler.session import Session

    resident = args.resident  # the build server (commands/serve.py), which keeps the session between builds
    session = resident.session_for(args.paths, disk) if resident is not None and disk is not None \
        else Session(keep_analyses=True, disk=disk, single_analysis=True)
    analysis = checked(args.paths, reporter, session=session, memo=memo)
    if analysis is None:
        return EXIT_ERRORS
    paths: list[str] = []

    def files() -> Iterator[tuple[str, bytes]]:
        for path, data in repository_stream(analysis, encoded=True):
            paths.append(path)
            yield path, data

    def notes() -> dict[str, object]:
        """Once every file has passed (the lowering's problems first, as `gopc check` reports them), before anything changes."""
        problems = [] if args.force else previous_build_problems(analysis, args.out)
        if problems:
            raise LoweringFailed(problems)
        return build_notes(analysis)

    try:
        if args.check:
            return check_output(files(), args, reporter, notes=notes, disk=disk)
        code = write_output(files(), lambda: f"{len(paths)} files", args, reporter, notes=notes, disk=disk,
                            indexes=session.output_indexes if resident is not None else None)
    except LoweringFailed as failure:
        reporter.report(failure.diagnostics, analysis.program.sources)
        return EXIT_ERRORS
    if memo is not None and code == EXIT_OK:
        def store() -> None:
            memo.store_build(analysis, paths, f"{reporter.origin}: {len(paths)} files in {args.out}")

        if resident is None:
            store()
        else:  # recording walks the whole output tree: the build server does it once no client waits
            resident.when_idle(store)
    return code


def check_output(files, args, reporter: Reporter, notes=None, disk=None) -> int:
    """List on stdout what `write_output` would change in `args.out`; exit 1 when anything would.
    `files`, `notes` and `disk` as `emit.tree.compare_tree` takes them."""
    from gop.compiler.emit.tree import MANIFEST, EmitError, compare_tree

    reporter.result_on_stdout = True
    try:
        differences = compare_tree(files, args.out, notes=notes, keep_differing=reporter.verbose, disk=disk)
    except EmitError as error:
        return reporter.fail(codes.CANNOT_WRITE_OUTPUT, str(error), EXIT_ERRORS)
    if not differences:
        reporter.say(f"{reporter.origin}: {args.out} is up to date ({differences.files} files)")
        return EXIT_OK
    listed = [("differs", p) for p in differences.differs] + [("missing", p) for p in differences.missing] \
        + [("stale", p) for p in differences.stale] + ([("differs", MANIFEST)] if differences.manifest else [])
    for what, path in sorted(listed, key=lambda pair: pair[1]):
        print(f"{what:8} {path}")
    if reporter.verbose:
        for path in differences.differs:
            _print_file_diff(Path(args.out) / path, differences.wanted[path])
    reporter.say(f"{reporter.origin}: {args.out} is not what the program builds: {len(differences.differs)} differ, "
                 f"{len(differences.missing)} missing, {len(differences.stale)} stale"
                 f"{', the manifest differs' if differences.manifest else ''}; "
                 f"run `gopc build {' '.join(args.paths)} -o {args.out}`")
    return EXIT_ERRORS


def _print_file_diff(path: Path, wanted: str | bytes) -> None:
    """A unified diff from the file in the tree to what the build writes (text files only)."""
    try:
        old = path.read_text(encoding="utf-8")
        new = wanted.decode("utf-8") if isinstance(wanted, bytes) else wanted
    except (OSError, UnicodeDecodeError):
        print(f"Binary or unreadable: {path}")
        return
    sys.stdout.writelines(difflib.unified_diff(old.splitlines(True), new.splitlines(True), f"{path}", f"{path} (built)"))


def write_output(files, what: str | Callable[[], str], args, reporter: Reporter, notes=None, disk=None,
                 indexes: dict | None = None) -> int:
    """Write `files` to `args.out` as `emit.tree.write_tree` does (`files`, `notes`, `disk` and
    `indexes` as it takes them), and say what happened on stderr (`what` was written: a function when the files are
    counted as they pass)."""
    from gop.compiler.emit.tree import EmitError, write_tree

    try:
        report = write_tree(files, args.out, force=args.force, notes=notes, disk=disk, indexes=indexes)
    except EmitError as error:
        return reporter.fail(codes.CANNOT_WRITE_OUTPUT, str(error), EXIT_ERRORS)
    if reporter.verbose:
        for path in report.written:
            print(f"wrote {Path(args.out) / path}", file=sys.stderr)
        for path in report.removed:
            print(f"removed {Path(args.out) / path}", file=sys.stderr)
    what = what() if callable(what) else what
    reporter.say(f"{reporter.origin}: {what} in {args.out} ({len(report.written)} written, {len(report.unchanged)} unchanged, "
                 f"{len(report.removed)} removed, {len(report.kept)} of yours kept)")
    return EXIT_OK
