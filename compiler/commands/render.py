"""`gopc render PATH... (--cluster C [--app APP | --release NAME] | --all-clusters) [-o DIR]`: what
Flux applies on a cluster (with --release: one release's chart objects, templated by helm from the
vendored chart).

Input: the PATHs and the options. Output: one cluster's objects as a YAML stream on stdout, or
`DIR/<cluster>.yaml` for one or every cluster (written as `build` writes its tree); with
`--format json`, a `schemas.RenderDocument` instead (`DIR/<cluster>.json`), the diagnostics as JSON
on stderr. Objects are in the order Helm installs them (`lower.kinds.install_key`). An unknown
cluster, or an `--app` or `--release` that is not there, is E0903 (span-less, exit 2); the program's
diagnostics and lowering problems exit 1.
"""

from __future__ import annotations

import json
import sys

from gop.compiler.commands.build import write_output
from gop.compiler.commands.report import EXIT_ERRORS, EXIT_OK, Reporter, UsageError, checked
from gop.compiler.diagnostics import codes


def run(args, reporter: Reporter) -> int:
    from gop.compiler.commands.explain import ExplainError, cluster_model, instance_on, release_on
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
        text = _document(args.cluster, objects, args.format)
    elif args.app is None and args.format != "json":
        text, problems = cluster_text(analysis, args.cluster, include_flux=args.include_flux)
    else:
        objects, problems = cluster_objects(analysis, args.cluster, include_flux=args.include_flux)
        text = _document(args.cluster, [o for o in objects if args.app is None or _belongs_to(o, args.app)], args.format)
    if problems:
        reporter.report(problems, analysis.program.sources)
        return EXIT_ERRORS
    if args.out is not None:
        return _write_renders({args.cluster: text}, args, reporter)
    sys.stdout.write(text)
    return EXIT_OK


def _render_all_clusters(analysis, args, reporter: Reporter) -> int:
    from gop.compiler.lower.repository import cluster_objects, cluster_renderer, cluster_stream

    renderer = cluster_renderer(analysis)  # clusters share most of their objects: render each once
    renderer.render_charts_ahead(list(analysis.fleet.clusters))
    texts: dict[str, bytes] = {}
    distinct: dict[bytes, bytes] = {}  # clusters of an env that the same overlays select render the same bytes: keep them once
    for cluster in analysis.fleet.clusters:
        # kept as the bytes to write (a large fleet's renders are 100s of MB)
        if args.format == "json":
            objects, problems = cluster_objects(analysis, cluster, include_flux=args.include_flux)
            data = _document(cluster, objects, args.format).encode("utf-8")
        else:
            data, problems = cluster_stream(analysis, cluster, include_flux=args.include_flux, renderer=renderer)
        if problems:
            reporter.report(problems, analysis.program.sources)
            return EXIT_ERRORS
        texts[cluster] = distinct.setdefault(data, data)
    return _write_renders(texts, args, reporter)


def _write_renders(texts: dict[str, str | bytes], args, reporter: Reporter) -> int:
    suffix = "json" if args.format == "json" else "yaml"
    files = {f"{cluster}.{suffix}": text for cluster, text in sorted(texts.items())}
    return write_output(files, f"{len(files)} cluster{'s' if len(files) != 1 else ''}", args, reporter)


def _document(cluster: str, objects: list[dict], fmt: str) -> str:
    """The objects as a YAML stream, or with `--format json` as a `schemas.RenderDocument`."""
    if fmt != "json":
        from gop.compiler.emit.yaml import dump_all

        return dump_all(objects)
    from gop.compiler.commands.schemas import RenderDocument

    return json.dumps(RenderDocument(cluster=cluster, objects=objects).model_dump(), indent=2, ensure_ascii=False) + "\n"


def _belongs_to(obj: dict, app: str) -> bool:
    labels = (obj.get("metadata") or {}).get("labels") or {}
    return labels.get("app.kubernetes.io/instance") == app
