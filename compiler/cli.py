"""The `gopc` command line.

Exit codes: 0 clean (warnings allowed), 1 errors found in the program, 2 usage
or I/O error, or an internal error (reported in one short line, never a
traceback; set GOPC_DEBUG=1 to see it).
"""

from __future__ import annotations

import argparse
import os
import sys
import traceback
from collections.abc import Sequence

from gop.compiler.diagnostics import formats as render
from gop.compiler.diagnostics.codes import lookup, registry
from gop.compiler import gopc_version
from gop.compiler.diagnostics import Diagnostic, codes, has_errors

EXIT_OK, EXIT_ERRORS, EXIT_USAGE = 0, 1, 2


class _UsageError(Exception):
    pass


class _Parser(argparse.ArgumentParser):
    def error(self, message: str):  # argparse would exit(2) itself; we keep control
        raise _UsageError(f"{self.prog}: {message}")


def main(argv: Sequence[str] | None = None) -> int:
    from gop.compiler.session import collect_as

    collect_as("command")
    parser = _build_parser()
    try:
        args = parser.parse_args(argv)
        if not hasattr(args, "run"):
            parser.print_help(sys.stderr)
            return EXIT_USAGE
        return args.run(args)
    except _UsageError as error:
        print(error, file=sys.stderr)
        return EXIT_USAGE
    except KeyboardInterrupt:
        print("gopc: interrupted", file=sys.stderr)
        return 130
    except BrokenPipeError:
        return EXIT_OK
    except Exception as error:  # an internal error must not print a traceback at users
        if os.environ.get("GOPC_DEBUG"):
            traceback.print_exc()
        print(f"gopc: internal error: {type(error).__name__}: {error} (GOPC_DEBUG=1 shows details; please report it)", file=sys.stderr)
        return EXIT_USAGE


def _build_parser() -> argparse.ArgumentParser:
    parser = _Parser(prog="gopc", description="Compile .gop fleet descriptions into a Flux v2 GitOps repository.")
    parser.add_argument("--version", action="version", version=f"gopc {gopc_version()}")
    commands = parser.add_subparsers(title="commands", metavar="COMMAND", parser_class=_Parser)

    check = commands.add_parser("check", help="check types, constraints and selectors")
    check.add_argument("paths", nargs="+", metavar="PATH", help=".gop files or directories (searched recursively)")
    _add_format(check)
    check.set_defaults(run=_run_check)

    explain = commands.add_parser("explain", help="explain a diagnostic code, or where a value came from")
    explain.add_argument("what", metavar="CODE|APP.FIELD.PATH", help="an error code like E0101, or APP.FIELD.PATH with --cluster")
    explain.add_argument("paths", nargs="*", metavar="PATH", help="the program (with --cluster)")
    explain.add_argument("--cluster", help="explain a value's layers on this cluster")
    explain.set_defaults(run=_run_explain)

    build = commands.add_parser("build", help="write the GitOps repository (charts, Kustomize trees, Flux objects)")
    build.add_argument("paths", nargs="+", metavar="PATH")
    build.add_argument("-o", "--out", required=True, help="output directory (replaced atomically)")
    build.add_argument("--force", action="store_true",
                       help="overwrite files in the output that gopc did not write, and image tags automation committed")
    _add_format(build)
    build.set_defaults(run=_run_build)

    render_cmd = commands.add_parser("render", help="print the objects Flux would apply on a cluster (or write them for every cluster)")
    render_cmd.add_argument("paths", nargs="+", metavar="PATH")
    which = render_cmd.add_mutually_exclusive_group(required=True)
    which.add_argument("--cluster", help="the cluster whose objects are printed")
    which.add_argument("--all-clusters", action="store_true", help="every cluster, one file each: OUT/<cluster>.yaml (needs -o)")
    render_cmd.add_argument("-o", "--out", help="write OUT/<cluster>.yaml instead of printing (replaced atomically, as `build` does)")
    render_cmd.add_argument("--app", help="only this app's objects (with --cluster)")
    render_cmd.add_argument("--include-flux", action="store_true", help="also Flux's own objects (sources, Kustomizations, HelmReleases ...)")
    render_cmd.add_argument("--force", action="store_true", help="with -o: overwrite files in OUT that gopc did not write")
    render_cmd.set_defaults(run=_run_render)

    fmt = commands.add_parser("fmt", help="format .gop files in the canonical layout")
    fmt.add_argument("paths", nargs="+", metavar="PATH", help=".gop files or directories (searched recursively)")
    fmt.add_argument("--check", action="store_true", help="change nothing; exit 1 when a file is not formatted")
    fmt.add_argument("--diff", action="store_true", help="print what would change as a unified diff")
    fmt.set_defaults(run=_run_fmt)

    lsp = commands.add_parser("lsp", help="run the language server on stdin/stdout")
    lsp.set_defaults(run=_run_lsp)

    init_cmd = commands.add_parser("init", help="write a small starter program")
    init_cmd.add_argument("directory", nargs="?", default=".")
    init_cmd.set_defaults(run=_run_init)

    publish = commands.add_parser("publish", help="package every app's chart and push it to the OCI registry")
    publish.add_argument("paths", nargs="+", metavar="PATH")
    publish.add_argument("--registry", help="push here instead of the delivery's registry, e.g. oci://ghcr.io/acme/charts")
    publish.add_argument("--plain-http", action="store_true", help="talk to the registry over HTTP (a local test registry)")
    publish.set_defaults(run=_run_publish)

    diff = commands.add_parser("diff", help="what the program changes on each cluster, object by object (exit 1: it differs)")
    diff.add_argument("paths", nargs="+", metavar="PATH")
    against = diff.add_mutually_exclusive_group(required=True)
    against.add_argument("--against-rev", metavar="REV", help="the same program at this git revision")
    against.add_argument("--against-build", metavar="DIR", help="a tree written by `gopc build` (rendered with kubectl and helm)")
    against.add_argument("--against", nargs="+", metavar="PATH2", help="another program")
    diff.add_argument("--cluster", action="append", default=[], help="only this cluster (repeatable)")
    diff.set_defaults(run=_run_diff)

    show = commands.add_parser("show", help="print the effective model of one cluster")
    show.add_argument("paths", nargs="+", metavar="PATH")
    show.add_argument("--cluster", required=True)
    show.add_argument("--format", choices=("yaml", "json"), default="yaml")
    show.set_defaults(run=_run_show)
    return parser


def _add_format(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--format", choices=("text", "json", "sarif"), default="text", help="diagnostic output format")
    parser.add_argument("--color", choices=("auto", "always", "never"), default="auto", help="colour text output")


def print_diagnostics(diagnostics: list[Diagnostic], sources, args) -> None:
    """Write diagnostics in the chosen format: text to stderr, JSON and SARIF to stdout."""
    fmt = getattr(args, "format", "text")
    if fmt == "json":
        sys.stdout.write(render.render_json(diagnostics, sources))
    elif fmt == "sarif":
        sys.stdout.write(render.render_sarif(diagnostics, sources, version=gopc_version()))
    elif diagnostics:
        colour = _use_colour(getattr(args, "color", "auto"), sys.stderr)
        sys.stderr.write(render.render_text(diagnostics, sources, colour=colour))


def _use_colour(choice: str, stream) -> bool:
    if choice != "auto":
        return choice == "always"
    return stream.isatty() and "NO_COLOR" not in os.environ and os.environ.get("TERM") != "dumb"


def exit_code(diagnostics: list[Diagnostic]) -> int:
    if any(d.code.startswith("E09") for d in diagnostics):
        return EXIT_USAGE
    return EXIT_ERRORS if has_errors(diagnostics) else EXIT_OK


def _run_check(args) -> int:
    from gop.compiler.session import analyse_and_keep

    analysis = analyse_and_keep(args.paths)
    print_diagnostics(analysis.diagnostics, analysis.program.sources, args)
    return exit_code(analysis.diagnostics)


def _run_explain(args) -> int:
    if args.cluster is None:
        info = lookup(args.what)
        if info is None:
            known = ", ".join(registry())
            raise _UsageError(f"gopc explain: unknown code `{args.what}` (known: {known})")
        sys.stdout.write(info.doc if info.doc.endswith("\n") else info.doc + "\n")
        return EXIT_OK
    if not args.paths:
        raise _UsageError("gopc explain: --cluster needs the program's PATHs, e.g. `gopc explain --cluster prod-eu-1 web.replicas examples/shop`")
    analysis = _checked(args.paths)
    if analysis is None:
        return EXIT_ERRORS
    from gop.compiler.commands.explain import run_explain_value

    return run_explain_value(analysis, args.cluster, args.what)


def _checked(paths):
    """Analyse; print diagnostics; the analysis only when it has no errors."""
    from gop.compiler.session import analyse_and_keep

    analysis = analyse_and_keep(paths)
    if analysis.diagnostics:
        sys.stderr.write(render.render_text(analysis.diagnostics, analysis.program.sources, colour=_use_colour("auto", sys.stderr)))
    if has_errors(analysis.diagnostics):
        return None
    return analysis


def _run_build(args) -> int:
    from gop.compiler.lower.repository import automated_tags, image_tag_notes, repository

    analysis = _checked(args.paths)
    if analysis is None:
        return EXIT_ERRORS
    files, problems = repository(analysis)
    if not problems and not args.force:
        problems = automated_tags(analysis, args.out)
    if problems:
        print_diagnostics(problems, analysis.program.sources, args)
        return EXIT_ERRORS
    return _write_output("build", files, f"{len(files)} files", args, notes=image_tag_notes(analysis.fleet))


def _run_render(args) -> int:
    from gop.compiler.lower.repository import cluster_objects, cluster_text
    from gop.compiler.commands.explain import ExplainError, cluster_model
    from gop.compiler.emit.yamlstream import dump_all

    if args.all_clusters and args.out is None:
        raise _UsageError("gopc render: --all-clusters writes one file per cluster: give the directory with -o DIR")
    if args.all_clusters and args.app is not None:
        raise _UsageError("gopc render: --app goes with --cluster")
    analysis = _checked(args.paths)
    if analysis is None:
        return EXIT_ERRORS
    if args.all_clusters:
        return _render_all_clusters(analysis, args)
    try:
        model = cluster_model(analysis, args.cluster)
    except ExplainError as error:
        print(f"gopc render: {error}", file=sys.stderr)
        return EXIT_USAGE
    if args.app is not None and args.app not in model.instances:
        print(f"gopc render: app `{args.app}` does not run on cluster `{args.cluster}` (it runs: {', '.join(model.instances) or 'nothing'})", file=sys.stderr)
        return EXIT_USAGE
    if args.app is None:
        text, problems = cluster_text(analysis, args.cluster, include_flux=args.include_flux)
    else:
        objects, problems = cluster_objects(analysis, args.cluster, include_flux=args.include_flux)
        text = dump_all([o for o in objects if _belongs_to(o, args.app, model.instances[args.app])])
    if problems:
        print_diagnostics(problems, analysis.program.sources, args)
        return EXIT_ERRORS
    if args.out is not None:
        return _write_renders({args.cluster: text}, args)
    sys.stdout.write(text)
    return EXIT_OK


def _render_all_clusters(analysis, args) -> int:
    from gop.compiler.lower.repository import cluster_renderer, cluster_text

    renderer = cluster_renderer(analysis)  # clusters share most of their objects: render each once
    texts: dict[str, bytes] = {}
    for cluster in analysis.fleet.clusters:
        text, problems = cluster_text(analysis, cluster, include_flux=args.include_flux, renderer=renderer)
        if problems:
            print_diagnostics(problems, analysis.program.sources, args)
            return EXIT_ERRORS
        texts[cluster] = text.encode("utf-8")  # kept once, as the bytes to write (a large fleet's renders are 100s of MB)
    return _write_renders(texts, args)


def _write_renders(texts: dict[str, str | bytes], args) -> int:
    files = {f"{cluster}.yaml": text for cluster, text in sorted(texts.items())}
    return _write_output("render", files, f"{len(files)} cluster{'s' if len(files) != 1 else ''}", args)


def _write_output(command: str, files: dict[str, str | bytes], what: str, args, notes=None) -> int:
    """Write `files` to `args.out` as `emit.write_tree` does, and say what happened on stderr."""
    from gop.compiler.emit.tree import EmitError, write_tree

    try:
        report = write_tree(files, args.out, force=args.force, notes=notes)
    except EmitError as error:
        print(f"gopc {command}: error[{codes.CANNOT_WRITE_OUTPUT}]: {error}", file=sys.stderr)
        return EXIT_ERRORS
    print(f"gopc {command}: {what} in {args.out} ({len(report.written)} written, {len(report.unchanged)} unchanged, "
          f"{len(report.removed)} removed, {len(report.kept)} of yours kept)", file=sys.stderr)
    return EXIT_OK


def _belongs_to(obj: dict, app: str, instance) -> bool:
    labels = (obj.get("metadata") or {}).get("labels") or {}
    return labels.get("app.kubernetes.io/instance") == app


def _run_fmt(args) -> int:
    import difflib

    from gop.compiler.syntax.formatter import format_source
    from gop.compiler.semantic.loader import MAX_SOURCE_BYTES, display_path
    from gop.compiler.syntax.readfile import UnreadableFile, read_program_file
    from gop.compiler.core.span import SourceFile

    files, missing = _gop_files(args.paths)
    for path in missing:
        print(f"gopc fmt: no such file or directory: {path}", file=sys.stderr)
    unformatted = failed = 0
    for path, inside in files:
        shown = display_path(path)
        try:
            text = read_program_file(path, f"`{shown}`", inside=inside, limit=MAX_SOURCE_BYTES).decode("utf-8")
        except (UnreadableFile, UnicodeDecodeError) as error:
            problem = error.message if isinstance(error, UnreadableFile) else f"`{shown}` is not UTF-8 text (byte {error.start})"
            print(f"gopc fmt: error[E0901]: {problem}", file=sys.stderr)
            failed += 1
            continue
        result = format_source(shown, text)
        if result.text is None:
            sys.stderr.write(render.render_text(list(result.diagnostics), {shown: SourceFile(shown, text)},
                                                colour=_use_colour("auto", sys.stderr)))
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
                print(f"gopc fmt: error[{codes.CANNOT_WRITE_OUTPUT}]: cannot write {shown}: {error.strerror or error}", file=sys.stderr)
                failed += 1
                continue
            print(f"formatted {shown}", file=sys.stderr)
    if missing or failed:
        return EXIT_USAGE if missing else EXIT_ERRORS
    return EXIT_ERRORS if (args.check and unformatted) else EXIT_OK


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


def _run_lsp(args) -> int:
    from gop.lsp.server import main as serve

    serve()
    return EXIT_OK


def _run_init(args) -> int:
    from pathlib import Path

    from gop.compiler.commands.init import init

    try:
        written = init(Path(args.directory))
    except FileExistsError as error:
        print(f"gopc init: {error} exists; not overwriting anything", file=sys.stderr)
        return EXIT_USAGE
    except OSError as error:
        print(f"gopc init: error[{codes.CANNOT_WRITE_OUTPUT}]: cannot write {args.directory}: {error.strerror or error}", file=sys.stderr)
        return EXIT_USAGE
    for path in written:
        print(f"wrote {path}")
    print(f"next: gopc check {args.directory} && gopc build {args.directory} -o out")
    return EXIT_OK


def _run_publish(args) -> int:
    from gop.compiler.commands.publish import PublishError, publish_charts

    analysis = _checked(args.paths)
    if analysis is None:
        return EXIT_ERRORS
    try:
        pushed = publish_charts(analysis.fleet, args.registry, plain_http=args.plain_http)
    except PublishError as error:
        print(f"gopc publish: {error}", file=sys.stderr)
        return EXIT_USAGE
    for chart in pushed:
        print(chart.reference)
    return EXIT_OK


def _run_diff(args) -> int:
    from gop.compiler.commands.diff import run_diff

    return run_diff(args.paths, against_rev=args.against_rev, against_build=args.against_build, against=args.against,
                    clusters=args.cluster)


def _run_show(args) -> int:
    analysis = _checked(args.paths)
    if analysis is None:
        return EXIT_ERRORS
    from gop.compiler.commands.explain import run_show

    return run_show(analysis, args.cluster, args.format)


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
