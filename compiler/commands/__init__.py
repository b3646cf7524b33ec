"""One module per `gopc` command (check, build, render, fmt, explain + show, diff, publish, init,
lsp), each with `run(args, reporter) -> exit code`; `cli.py` parses arguments and dispatches here,
importing only the module of the command that runs. `report` is the one reporting path they all
use; `schemas` holds the pydantic models of the JSON they print besides diagnostics.

The exit codes, `UsageError` and the names of the diagnostic formats are here, not in `report`
or `diagnostics.formats`, so that `cli.py` can name them without loading the diagnostics (`gopc
--version` loads nothing else, and a replayed run (`runmemo`) of a clean program needs them not)."""

EXIT_OK, EXIT_ERRORS, EXIT_USAGE = 0, 1, 2
FORMATS = ("text", "json", "sarif")  # what `diagnostics.formats.render` writes


class UsageError(Exception):
    """A mistake in the command line itself: printed as one line, exit 2."""
