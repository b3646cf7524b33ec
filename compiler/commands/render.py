"""`gopc render PATH... (--cluster C [--app APP | --release NAME] | --all-clusters) [-o DIR]`: what
Flux applies on a cluster (with --release: one release's chart objects, templated by helm from the
vendored chart).

Input: the PATHs and the options. Output: one cluster's objects as a YAML stream on stdout, or
`DIR/<cluster>.yaml` for one or every cluster (written as `build` writes its tree). An unknown
cluster, or an `--app` or `--release` that is not there, is E0903 (span-less, exit 2); the program's
diagnostics and lowering problems exit 1.
"""

from __future__ import annotations

import sys

from gop.compiler.commands.build import write_output
from gop.compiler.commands.report import EXIT_ERRORS, EXIT_OK, Reporter, UsageError, checked
from gop.compiler.diagnostics import codes


def run(args, reporter: Reporter) -> int:
    from gop.compiler.commands.explain import ExplainError, cluster_model, instance_on, release_on
    from gop.compiler.emit.yaml import dump_all
    from gop.compiler.lower.repository import cluster_objects, cluster_text, release_objects

    if args.all_clusters and args.out is None:
        raise UsageError("gopc render: --all-clusters writes one file per cluster: give the directory with -o DIR")
    for option, value in (("--app", args.app), ("--release", args.release)):
        if args.all_clusters and value is not None:
            raise UsageError(f"gopc render: {option} goes with --cluster")
    if args.app is not None and args.release is not None:
        raise UsageError("gopc render: give --app or --release, not both")
    reporter.result_on_stdout = args.out is None
    analysis = checked(args.paths, reporter, cache=not args.no_cache)
    if analysis is None:
        return EXIT_ERRORS
    if args.all_clusters:
        return _render_all_clusters(analysis, args, reporter)
    try:
        cluster_model(analysis, args.cluster)
        if args.app is not None:
            instance_on(analysis, args.cluster, args.app)
        if args.release is not None:
            release_on(analysis, args.cluster, args.release)
    except ExplainError as error:
        return reporter.fail(codes.BAD_COMMAND_ARGUMENT, str(error))
    if args.release is not None:
        objects, problems = release_objects(analysis, args.cluster, args.release, include_flux=args.include_flux)
        text = dump_all(objects)
    elif args.app is None:
        text, problems = cluster_text(analysis, args.cluster, include_flux=args.include_flux)
    else:
        objects, problems = cluster_objects(analysis, args.cluster, include_flux=args.include_flux)
        text = dump_all([o for o in objects if _belongs_to(o, args.app)])
    if problems:
        reporter.report(problems, analysis.program.sources)
        return EXIT_ERRORS
    if args.out is not None:
        return _write_renders({args.cluster: text}, args, reporter)
    sys.stdout.write(text)
    return EXIT_OK


def _render_all_clusters(analysis, args, reporter: Reporter) -> int:
    from gop.compiler.lower.repository import cluster_renderer, cluster_text

    renderer = cluster_renderer(analysis)  # clusters share most of their objects: render each once
    texts: dict[str, bytes] = {}
    for cluster in analysis.fleet.clusters:
        text, problems = cluster_text(analysis, cluster, include_flux=args.include_flux, renderer=renderer)
        if problems:
            reporter.report(problems, analysis.program.sources)
            return EXIT_ERRORS
        texts[cluster] = text.encode("utf-8")  # kept once, as the bytes to write (a large fleet's renders are 100s of MB)
    return _write_renders(texts, args, reporter)


def _write_renders(texts: dict[str, str | bytes], args, reporter: Reporter) -> int:
    files = {f"{cluster}.yaml": text for cluster, text in sorted(texts.items())}
    return write_output(files, f"{len(files)} cluster{'s' if len(files) != 1 else ''}", args, reporter)


def _belongs_to(obj: dict, app: str) -> bool:
    labels = (obj.get("metadata") or {}).get("labels") or {}
    return labels.get("app.kubernetes.io/instance") == app
