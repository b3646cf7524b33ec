"""One module per `gopc` command (check, build, render, fmt, explain + show, diff, publish, init,
lsp), each with `run(args, reporter) -> exit code`; `cli.py` parses arguments and dispatches here,
importing only the module of the command that runs. `report` is the one reporting path they all
use; `schemas` holds the pydantic models of the JSON they print besides diagnostics."""
