"""The `gopc` command line: argparse, dispatch, exit codes.

Input: argv. Output: an exit code - 0 clean (warnings allowed), 1 errors found in the program,
2 usage or I/O error, or an internal error (reported as E0902, never a traceback; set
GOPC_DEBUG=1 to see it). Each command is one module of `gop.compiler.commands`, imported only
when it runs; it reports through the run's `Reporter` (commands/report.py), which renders
every diagnostic - the program's and the command's own - in the run's `--format`.
"""

from __future__ import annotations

import argparse
import importlib
import os
import sys
import time
from collections.abc import Sequence

from gop.compiler import gopc_version
from gop.compiler.core.collector import collect_as
from gop.compiler.commands import EXIT_ERRORS, EXIT_OK, EXIT_USAGE, FORMATS, UsageError

__all__ = ["EXIT_ERRORS", "EXIT_OK", "EXIT_USAGE", "main", "run"]


class _Parser(argparse.ArgumentParser):
    def error(self, message: str):  # argparse would exit(2) itself; we keep control
        raise UsageError(f"{self.prog}: {message}")


def main(argv: Sequence[str] | None = None, *, resident=None) -> int:
    """Run one command. `resident`: the build server (`commands.serve.BuildServer`) running this
    build for a client, which keeps the program's session between builds; without it, a build
    asks a running server first (`commands.serve.served`)."""
    argv = sys.argv[1:] if argv is None else list(argv)
    if argv == ["--version"]:  # what scripts ask most: load nothing
        print(f"gopc {gopc_version()}")
        return EXIT_OK
    if resident is None and argv[:1] == ["build"]:
        from gop.compiler.commands.serve import served, start_for_next_builds

        code = served(argv)
        if code is not None:
            return code
        started = time.monotonic()
        code = _run(argv, resident)
        if code == EXIT_OK:
            start_for_next_builds(argv, time.monotonic() - started)
        return code
    return _run(argv, resident)


def _run(argv: list[str], resident) -> int:
    from gop.compiler.commands.report import Reporter

    collect_as("command")  # the build server's collector is off for good (`core.collector.serving_builds`)
    parser = _build_parser(argv[0] if argv and argv[0] in COMMANDS else None)
    reporter = Reporter()
    try:
        args = parser.parse_args(argv)
        if not hasattr(args, "run"):
            parser.print_help(sys.stderr)
            return EXIT_USAGE
        reporter = Reporter(args.command, getattr(args, "format", "text"), getattr(args, "color", "auto"),
                            getattr(args, "verbosity", 0))
        args.resident = resident
        args.command_line = main  # for `gopc serve`, which runs the builds it serves as this run does (below `cli` in the layers)
        module, function = args.run.split(":")
        code = getattr(importlib.import_module(f"gop.compiler.commands.{module}"), function)(args, reporter)
    except UsageError as error:
        print(error, file=sys.stderr)
        return EXIT_USAGE
    except KeyboardInterrupt:
        print("gopc: interrupted", file=sys.stderr)
        return 130
    except BrokenPipeError:
        return EXIT_OK
    except Exception as error:  # an internal error must not print a traceback at users
        if os.environ.get("GOPC_DEBUG"):
            import traceback

            traceback.print_exc()
        from gop.compiler.diagnostics import codes

        code = reporter.fail(codes.INTERNAL_ERROR, f"internal error: {type(error).__name__}: {error} "
                                                   "(GOPC_DEBUG=1 shows details; please report it)")
    try:
        reporter.finish()
    except BrokenPipeError:
        return EXIT_OK
    return code


def _build_parser(command: str | None = None) -> argparse.ArgumentParser:
    """The command line's parser. With `command` (the command the arguments name), every other
    command is listed, so `--help` and usage errors read the same, but gets no arguments:
    building them all would cost a replayed `gopc check` a tenth of its time."""
    parser = _Parser(prog="gopc", description="Compile .gop fleet descriptions into a Flux v2 GitOps repository.")
    parser.add_argument("--version", action="version", version=f"gopc {gopc_version()}")
    commands = parser.add_subparsers(title="commands", metavar="COMMAND", parser_class=_Parser, dest="command")
    for name, (help_line, add_arguments) in COMMANDS.items():
        command_parser = commands.add_parser(name, help=help_line)
        if command in (None, "completion", name):  # completion writes every command's arguments
            add_arguments(command_parser)
            _add_common_arguments(name, command_parser)
    commands.choices["completion"].set_defaults(parser=parser)
    return parser


def _add_common_arguments(name: str, command: argparse.ArgumentParser) -> None:
    if name not in ("lsp", "completion"):
        _add_verbosity(command)
    if name in ANALYSING:  # ---- #17 (speed)
        command.add_argument("--no-cache", action="store_true",
                             help="neither read nor write the parsed files and run memos kept in gopc's cache directory (~/.cache/gopc)")
    if name in EXAMPLES:  # a command without examples fails tests/test_cli_habits.py, not every run
        command.formatter_class = argparse.RawDescriptionHelpFormatter
        command.epilog = "examples:\n" + "".join(f"  {line}\n" for line in EXAMPLES[name])


def _check_arguments(check: argparse.ArgumentParser) -> None:
    check.add_argument("paths", nargs="+", metavar="PATH",
                       help=".gop files or directories (searched recursively); a file alone is checked within its "
                            "whole program (its package directory); - reads one file from standard input")
    check.add_argument("--stdin-filename", metavar="FILE",
                       help="with -: the text read is FILE's, checked within FILE's program (an editor's unsaved buffer)")
    _add_format(check)
    check.set_defaults(run="check:run")


def _explain_arguments(explain: argparse.ArgumentParser) -> None:
    explain.add_argument("what", metavar="CODE|APP.FIELD.PATH",
                         help="an error code like E0101, or APP.FIELD.PATH (release/NAME.FIELD.PATH) with --cluster")
    explain.add_argument("paths", nargs="*", metavar="PATH", help="the program (with --cluster)")
    explain.add_argument("--cluster", help="explain a value's layers on this cluster")
    _add_format(explain)
    explain.set_defaults(run="explain:run")


def _build_arguments(build: argparse.ArgumentParser) -> None:
    build.add_argument("paths", nargs="+", metavar="PATH")
    build.add_argument("-o", "--out", required=True, help="output directory (replaced atomically)")
    build.add_argument("--force", action="store_true",
                       help="overwrite files in the output that gopc did not write, and image tags automation committed")
    build.add_argument("--check", action="store_true",
                       help="write nothing; list what differs between DIR and what the program builds (exit 1 when anything does)")
    _add_format(build)
    build.set_defaults(run="build:run")


def _render_arguments(render_cmd: argparse.ArgumentParser) -> None:
    render_cmd.add_argument("paths", nargs="+", metavar="PATH")
    which = render_cmd.add_mutually_exclusive_group(required=True)
    which.add_argument("--cluster", help="the cluster whose objects are printed")
    which.add_argument("--all-clusters", action="store_true", help="every cluster, one file each: OUT/<cluster>.yaml (needs -o)")
    render_cmd.add_argument("-o", "--out", help="write OUT/<cluster>.yaml instead of printing (replaced atomically, as `build` does)")
    render_cmd.add_argument("--app", help="only this app's objects (with --cluster)")
    render_cmd.add_argument("--release", help="only this release's objects (with --cluster)")
    render_cmd.add_argument("--include-flux", action="store_true", help="also Flux's own objects (sources, Kustomizations, HelmReleases ...)")
    render_cmd.add_argument("--force", action="store_true", help="with -o: overwrite files in OUT that gopc did not write")
    _add_format(render_cmd)
    render_cmd.set_defaults(run="render:run")


def _fmt_arguments(fmt: argparse.ArgumentParser) -> None:
    fmt.add_argument("paths", nargs="+", metavar="PATH",
                     help=".gop files or directories (searched recursively); - formats standard input to standard output")
    fmt.add_argument("--check", action="store_true", help="change nothing; exit 1 when a file is not formatted")
    fmt.add_argument("--diff", action="store_true", help="print what would change as a unified diff")
    _add_format(fmt)
    fmt.set_defaults(run="fmt:run")


def _lsp_arguments(lsp: argparse.ArgumentParser) -> None:
    lsp.set_defaults(run="lsp:run")


def _init_arguments(init_cmd: argparse.ArgumentParser) -> None:
    init_cmd.add_argument("directory", nargs="?", default=".")
    _add_format(init_cmd)
    init_cmd.set_defaults(run="init:run")


def _publish_arguments(publish: argparse.ArgumentParser) -> None:
    publish.add_argument("paths", nargs="+", metavar="PATH")
    publish.add_argument("--registry", help="push here instead of the delivery's registry, e.g. oci://ghcr.io/acme/charts")
    publish.add_argument("--plain-http", action="store_true", help="talk to the registry over HTTP (a local test registry)")
    _add_format(publish)
    publish.set_defaults(run="publish:run")


def _diff_arguments(diff: argparse.ArgumentParser) -> None:
    diff.add_argument("paths", nargs="+", metavar="PATH")
    against = diff.add_mutually_exclusive_group(required=True)
    against.add_argument("--against-rev", metavar="REV", help="the same program at this git revision")
    against.add_argument("--against-build", metavar="DIR", help="a tree written by `gopc build` (rendered with kubectl and helm)")
    against.add_argument("--against", nargs="+", metavar="PATH2", help="another program")
    diff.add_argument("--cluster", action="append", default=[], help="only this cluster (repeatable)")
    _add_format(diff, ("text", "markdown", "json", "sarif"),
                "the report: text, markdown (a pull-request comment) or json (docs/schemas/diff.json); "
                "diagnostics go to stderr (as JSON with json, as SARIF with sarif, else as text)")
    diff.set_defaults(run="diff:run")


def _chart_arguments(chart: argparse.ArgumentParser) -> None:
    chart_commands = chart.add_subparsers(title="chart commands", metavar="COMMAND", parser_class=_Parser,
                                          dest="chart_command", required=True)
    chart_add = chart_commands.add_parser("add", help="pull a chart into vendor/charts/ and lock it in charts.lock")
    chart_add.add_argument("repository", metavar="REPOSITORY", help="https://... (a Helm repository) or oci://HOST/PATH")
    chart_add.add_argument("chart", metavar="CHART", help="the chart's name in the repository")
    chart_add.add_argument("--version", help="a version or semver range (default: the latest); the highest match is pulled")
    chart_add.add_argument("--root", default=".", help="the program's root directory (default: .)")
    chart_add.add_argument("--plain-http", action="store_true", help="talk to an OCI registry over HTTP (a local test registry)")
    _add_format(chart_add)
    chart_add.set_defaults(run="chart:run", command="chart add")


def _show_arguments(show: argparse.ArgumentParser) -> None:
    show.add_argument("paths", nargs="+", metavar="PATH")
    show.add_argument("--cluster", required=True)
    show.add_argument("--format", choices=("yaml", "json"), default="yaml",
                      help="the model as YAML or JSON (docs/schemas/show.json); with json, diagnostics are JSON too")
    show.set_defaults(run="explain:run_show")


def _test_arguments(test: argparse.ArgumentParser) -> None:
    test.add_argument("paths", nargs="+", metavar="PATH")
    test.add_argument("--run", dest="only", metavar="TEXT", help="only the tests whose name contains TEXT")
    test.add_argument("--junit", metavar="FILE", help="also write a JUnit XML report to FILE (for CI test reports)")
    _add_format(test)
    test.set_defaults(run="test:run")


def _serve_arguments(serve: argparse.ArgumentParser) -> None:
    what = serve.add_mutually_exclusive_group()
    what.add_argument("--detach", action="store_true", help="start the server in the background and return once it answers")
    what.add_argument("--stop", action="store_true", help="stop the running server")
    what.add_argument("--status", action="store_true", help="say whether a server runs, and what it keeps")
    serve.add_argument("--idle-timeout", type=float, default=1800.0, metavar="SECONDS",
                       help="stop after this long without a build (default: 1800)")
    serve.add_argument("--first-build", metavar="FILE", help=argparse.SUPPRESS)  # from `serve.start_for_next_builds`
    serve.set_defaults(run="serve:run")


def _completion_arguments(completion: argparse.ArgumentParser) -> None:
    completion.add_argument("shell", choices=("bash", "zsh", "fish"))
    completion.set_defaults(run="completion:run")


COMMANDS = {  # name: (the help line in `gopc --help`, what adds its arguments)
    "check": ("check types, constraints and selectors", _check_arguments),
    "explain": ("explain a diagnostic code, or where a value came from", _explain_arguments),
    "build": ("write the GitOps repository (charts, Kustomize trees, Flux objects)", _build_arguments),
    "render": ("print the objects Flux would apply on a cluster (or write them for every cluster)", _render_arguments),
    "fmt": ("format .gop files in the canonical layout", _fmt_arguments),
    "lsp": ("run the language server on stdin/stdout", _lsp_arguments),
    "init": ("write a small starter program", _init_arguments),
    "publish": ("package every app's chart and push it to the OCI registry", _publish_arguments),
    "diff": ("what the program changes on each cluster, object by object (exit 1: it differs)", _diff_arguments),
    "chart": ("vendor charts gopc did not write (charts.lock, vendor/charts/)", _chart_arguments),
    "show": ("print the effective model of one cluster", _show_arguments),
    "test": ("run the program's `test` declarations (assertions on values and rendered objects)", _test_arguments),
    "serve": ("keep a build server running, so that `gopc build` after an edit rebuilds only what changed", _serve_arguments),
    "completion": ("print a shell completion script (bash, zsh or fish)", _completion_arguments),
}

ANALYSING = ("check", "explain", "build", "render", "publish", "show")  # the commands that use the disk cache

EXAMPLES = {  # `gopc COMMAND --help` ends with these (tests/test_cli_habits.py parses each one)
    "check": ["gopc check examples/shop", "gopc check examples/shop/envs.gop      # that file's diagnostics, in its program",
              "gopc check - --stdin-filename envs.gop < buffer.gop",
              "gopc check examples/shop --format sarif > gopc.sarif"],
    "explain": ["gopc explain E0301", "gopc explain web.replicas examples/shop --cluster prod-eu-1"],
    "build": ["gopc build examples/shop -o out/shop", "gopc build examples/shop -o out/shop --check   # CI: is out/shop up to date?",
              "gopc build examples/shop -o out/shop -v        # also list each file written"],
    "render": ["gopc render examples/shop --cluster prod-eu-1", "gopc render examples/shop --cluster prod-eu-1 --app web",
               "gopc render examples/shop --all-clusters -o rendered"],
    "fmt": ["gopc fmt examples/shop", "gopc fmt --check examples/shop        # CI: exit 1 when a file is not formatted",
            "gopc fmt --diff examples/shop/envs.gop", "gopc fmt - < envs.gop > formatted.gop"],
    "lsp": ["gopc lsp          # started by an editor, speaks LSP on stdin/stdout"],
    "init": ["gopc init fleet", "gopc init"],
    "publish": ["gopc publish examples/shop", "gopc publish examples/shop --registry oci://127.0.0.1:5000/charts --plain-http"],
    "diff": ["gopc diff examples/shop --against-rev origin/main",
             "gopc diff examples/shop --against-rev origin/main --format markdown > comment.md",
             "gopc diff examples/shop --against-build out/shop --format json",
             "gopc diff examples/shop --against ../old/shop --cluster prod-eu-1"],
    "chart": ["gopc chart add https://charts.jetstack.io cert-manager --version 1.16.x",
              "gopc chart add oci://ghcr.io/stefanprodan/charts podinfo --version '6.x' --root fleet"],
    "show": ["gopc show examples/shop --cluster prod-eu-1", "gopc show examples/shop --cluster prod-eu-1 --format json"],
    "test": ["gopc test examples/shop", "gopc test examples/shop --run prod      # only tests whose name contains `prod`",
             "gopc test examples/shop --junit gopc-tests.xml   # CI: a JUnit report too"],
    "serve": ["gopc serve --detach     # then: gopc build examples/shop -o out/shop (served)",
              "gopc serve --status", "gopc serve --stop", "gopc serve                # in a terminal of its own, logging each build"],
    "completion": ["gopc completion bash > ~/.local/share/bash-completion/completions/gopc",
                   "gopc completion zsh > \"${fpath[1]}/_gopc\"", "gopc completion fish > ~/.config/fish/completions/gopc.fish"],
}


def _add_verbosity(parser: argparse.ArgumentParser) -> None:
    loudness = parser.add_mutually_exclusive_group()
    loudness.add_argument("-q", "--quiet", dest="verbosity", action="store_const", const=-1, default=0,
                          help="no progress or summary lines (diagnostics are still reported)")
    loudness.add_argument("-v", "--verbose", dest="verbosity", action="store_const", const=1,
                          help="say more: the files written, the diffs of files that differ")
# ---- end #16


def _add_format(parser: argparse.ArgumentParser, choices: Sequence[str] | None = None,
                description: str = "diagnostic output format") -> None:
    parser.add_argument("--format", choices=choices or FORMATS, default="text", help=description)
    parser.add_argument("--color", choices=("auto", "always", "never"), default="auto",
                        help="colour text output (auto: on a terminal, unless NO_COLOR is set; FORCE_COLOR forces it)")


def run() -> None:
    """The `gopc` executable: `main`, then exit without tearing the heap down object by object
    (freeing a large program's trees one by one takes longer than a small program's whole run)."""
    code = main()
    try:
        sys.stdout.flush()
        sys.stderr.flush()
    except (BrokenPipeError, ValueError):  # the reader went away, or `gopc lsp` closed the stream on exit
        pass
    os._exit(code)


if __name__ == "__main__":
    run()
