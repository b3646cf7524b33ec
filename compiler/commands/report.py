"""The one reporting path of every command: exit codes, and diagnostics in the chosen format.

Input: the run's `--format` (text, json or sarif; a command without the option reports text)
and `--color`, then whatever the command finds wrong - the program's diagnostics, and its own
errors as span-less diagnostics (`Reporter.fail`). Output: text on stderr as each batch is
reported (so it interleaves with the command's progress lines), or ONE JSON/SARIF document per
run, written by `finish` when the run ends: on stdout, or on stderr when stdout carries the
command's result (`result_on_stdout`: render without -o, show, explain, publish, init, diff,
fmt --diff), so the two never mix.

Progress and summary lines (`say`) go to stderr unless the run is quiet (`-q`); details a
command prints only when asked (`-v`) check `verbose`. Diagnostics are never silenced.

Invariants: every error a command reports goes through `formats.render`; nothing here prints a
diagnostic by hand. Usage errors (a mistake in the command line itself) are `UsageError`s:
one line on stderr, exit 2, never a diagnostic. The diagnostics and their renderers are imported
when there is something to render: a replayed check of a clean program (`runmemo`) loads neither.
"""

from __future__ import annotations

import os
import sys
from collections.abc import Mapping, Sequence

from gop.compiler import gopc_version
from gop.compiler.commands import EXIT_ERRORS, EXIT_OK, EXIT_USAGE, FORMATS, UsageError  # noqa: F401 (the commands import them from here)

TYPE_CHECKING = False  # typing.TYPE_CHECKING, without importing typing
if TYPE_CHECKING:
    from gop.compiler.core.span import SourceFile
    from gop.compiler.diagnostics import Diagnostic

IO_CODE_PREFIX = "E09"  # unreadable input, internal errors: exit 2 rather than 1


class Reporter:
    """Collects and renders the diagnostics of one `gopc` run."""

    def __init__(self, command: str | None = None, fmt: str = "text", colour: str = "auto", verbosity: int = 0) -> None:
        self.origin = f"gopc {command}" if command else "gopc"
        self.format = fmt if fmt in FORMATS else "text"  # `show --format yaml` reports text
        self.colour = colour
        self.quiet, self.verbose = verbosity < 0, verbosity > 0
        self.result_on_stdout = False
        self._diagnostics: list[Diagnostic] = []
        self._sources: dict[str, SourceFile] = {}

    def report(self, diagnostics: Sequence[Diagnostic], sources: Mapping[str, SourceFile] | None = None) -> None:
        if self.format == "text":
            if not diagnostics:  # text of none is empty
                return
            from gop.compiler.diagnostics.formats import render

            sys.stderr.write(render("text", diagnostics, sources or {}, colour=use_colour(self.colour, sys.stderr),
                                    origin=self.origin))
            return
        self._diagnostics.extend(diagnostics)
        self._sources.update(sources or {})

    def fail(self, code: str, message: str, exit_code: int = EXIT_USAGE) -> int:
        """Report a command's error about no place in the program; the exit code to return."""
        from gop.compiler.diagnostics import command_error

        self.report([command_error(code, message)])
        return exit_code

    def say(self, line: str) -> None:
        """A progress or summary line on stderr (not with -q)."""
        if not self.quiet:
            print(line, file=sys.stderr)

    def finish(self) -> None:
        """Write the JSON or SARIF document of the run (text was written as it came)."""
        if self.format != "text":
            from gop.compiler.diagnostics.formats import render

            stream = sys.stderr if self.result_on_stdout else sys.stdout
            stream.write(render(self.format, self._diagnostics, self._sources, version=gopc_version()))


def use_colour(choice: str, stream) -> bool:
    """`--color always|never` decides; with `auto`, a non-empty NO_COLOR turns colour off, else a
    non-empty FORCE_COLOR turns it on (a CI log is no terminal), else a terminal that is not dumb."""
    if choice != "auto":
        return choice == "always"
    if os.environ.get("NO_COLOR"):
        return False
    if os.environ.get("FORCE_COLOR"):
        return True
    return stream.isatty() and os.environ.get("TERM") != "dumb"


def exit_code(diagnostics: Sequence[Diagnostic]) -> int:
    from gop.compiler.diagnostics import has_errors

    if any(d.code.startswith(IO_CODE_PREFIX) for d in diagnostics):
        return EXIT_USAGE
    return EXIT_ERRORS if has_errors(diagnostics) else EXIT_OK


def checked(paths: Sequence[str], reporter: Reporter, *, cache: bool = True, session=None, memo=None):
    """Analyse (in `session`, else through the disk cache unless `cache` is false) and report the
    diagnostics (kept in the run's `memo` too, when it has one); the analysis, or None when it has errors."""
    from gop.compiler.diagnostics import has_errors
    from gop.compiler.session import analyse_and_keep

    analysis = analyse_and_keep(paths, cache=cache, session=session)
    if memo is not None:
        memo.report(reporter, analysis.diagnostics, analysis.program.sources)
    else:
        reporter.report(analysis.diagnostics, analysis.program.sources)
    return None if has_errors(analysis.diagnostics) else analysis
