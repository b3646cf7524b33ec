"""One module per `gopc` command that needs more than a few lines; `cli.py` parses arguments and
dispatches here."""
