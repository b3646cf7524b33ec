"""One module per `gopc` command (check, build, render, fmt, explain + show, diff, publish, init,
lsp), each with `run(args, reporter) -> exit code`; `cli.py` parses arguments and dispatches here,
importing only the module of the command that runs. `report` is the one reporting path they all
use; `schemas` holds the pydantic models of the JSON they print besides diagnostics.

The exit codes and `UsageError` are here, not in `report`, so that `cli.py` can name them
without loading the diagnostics (`gopc --version` loads nothing else)."""

EXIT_OK, EXIT_ERRORS, EXIT_USAGE = 0, 1, 2


class UsageError(Exception):
    """A mistake in the command line itself: printed as one line, exit 2."""
