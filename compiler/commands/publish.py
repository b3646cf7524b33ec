"""`gopc publish`: package every app's chart and push it to the fleet's OCI registry.

Input: the `Fleet` of a program without errors, the registry (the url of the `registry`
that `delivery.registry` names, or `--registry`), and helm (`GOPC_HELM`, else `helm` on
PATH; Helm 3.8 or later). Output: each chart at `<registry>/<app>:<chart version>` - the
reference the OCIRepository or HelmRepository of `gopc build` pulls - and one line per
chart on stdout.

Invariants: a chart is packaged from exactly the files `gopc build` writes to
charts/<app>/ (written to a temporary directory, removed afterwards); helm runs with the
user's environment, so `helm registry login` credentials apply; every failure (no helm,
a refused push, a temporary directory that cannot be written) is a `PublishError` naming
the chart, the registry and helm's message, with its diagnostic code (E0903 no registry, E0904
helm, E0702 the temporary directory); `run` reports it span-less, exit 2.
`find_tool` and `run_tool` are shared with `gopc diff`.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import tempfile
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path

from gop.compiler.commands.report import EXIT_ERRORS, EXIT_OK, EXIT_USAGE, Reporter, checked
from gop.compiler.diagnostics import codes
from gop.compiler.lower.helm.caches import HelmCaches
from gop.compiler.fleet.model import Fleet
from gop.compiler.lower.helm import chart_files, chart_version
from gop.compiler.lower.provenance import headed, origin_of
from gop.compiler.semantic.types import ResourceRef

TOOL_TIMEOUT = 600  # seconds; a registry that never answers must not hang the command forever
PARALLEL_PUSHES = 4


class PublishError(Exception):
    """A chart could not be published (no registry, no helm, a failed package or push); `code`
    is the diagnostic code it is reported with (by default: a tool is missing or failed)."""

    def __init__(self, message: str, code: str = codes.TOOL_FAILED) -> None:
        super().__init__(message)
        self.code = code


@dataclass(frozen=True, slots=True)
class Pushed:
    app: str
    version: str
    reference: str  # oci://HOST/PATH/<app>:<version>


def find_tool(name: str, variable: str) -> str:
    """The executable `variable` names (a path or a command), else `name` on PATH."""
    configured = os.environ.get(variable)
    if configured:
        found = shutil.which(configured)
        if found is None:
            raise PublishError(f"{variable}={configured} is not an executable")
        return found
    found = shutil.which(name)
    if found is None:
        raise PublishError(f"`{name}` not found on PATH; install it or set {variable} to its path")
    return found


def run_tool(argv: list[str], failure: str, *, cwd: Path | None = None) -> str:
    """Run a command; its stdout, or a PublishError that starts with `failure` and ends with
    the last lines the command wrote to stderr."""
    try:
        done = subprocess.run(argv, cwd=cwd, capture_output=True, text=True, timeout=TOOL_TIMEOUT,
                              stdin=subprocess.DEVNULL)
    except subprocess.TimeoutExpired:
        raise PublishError(f"{failure}: `{Path(argv[0]).name} {argv[1]}` did not finish in {TOOL_TIMEOUT}s") from None
    except OSError as error:
        raise PublishError(f"{failure}: cannot run {argv[0]}: {error.strerror or error}") from None
    if done.returncode != 0:
        message = "\n".join((done.stderr or done.stdout).strip().splitlines()[-5:])
        raise PublishError(f"{failure}: {message or f'exit status {done.returncode}'}")
    return done.stdout


def registry_url(fleet: Fleet, override: str | None) -> str:
    url = override
    if url is None:
        ref = fleet.delivery.values.get("registry")
        if not isinstance(ref, ResourceRef) or ref.name not in fleet.registries:
            raise PublishError("the program's `delivery` names no `registry`; give one with --registry oci://HOST/PATH",
                               codes.BAD_COMMAND_ARGUMENT)
        url = str(fleet.registries[ref.name].values["url"])
    if not url.startswith("oci://") or len(url) <= len("oci://"):
        raise PublishError(f"registry `{url}` is not an OCI registry URL (oci://HOST/PATH)", codes.BAD_COMMAND_ARGUMENT)
    return url.rstrip("/")


def publish_charts(fleet: Fleet, registry: str | None = None, *, plain_http: bool = False) -> list[Pushed]:
    url = registry_url(fleet, registry)
    helm = find_tool("helm", "GOPC_HELM")
    try:
        return _publish_charts(fleet, url, helm, plain_http)
    except OSError as error:  # the temporary directory: full, read-only, or no TMPDIR
        where = f" ({error.filename})" if error.filename else ""
        raise PublishError(f"cannot write the charts to package: {error.strerror or error}{where}",
                           codes.CANNOT_WRITE_OUTPUT) from None


def run(args, reporter: Reporter) -> int:
    """`gopc publish PATH... [--registry URL] [--plain-http]`: one pushed reference per line on stdout."""
    reporter.result_on_stdout = True
    analysis = checked(args.paths, reporter, cache=not args.no_cache)
    if analysis is None:
        return EXIT_ERRORS
    try:
        pushed = publish_charts(analysis.fleet, args.registry, plain_http=args.plain_http)
    except PublishError as error:
        return reporter.fail(error.code, str(error), EXIT_USAGE)
    for chart in pushed:
        print(chart.reference)
    return EXIT_OK


def _publish_charts(fleet: Fleet, url: str, helm: str, plain_http: bool) -> list[Pushed]:
    with tempfile.TemporaryDirectory(prefix="gopc-publish-") as scratch:
        work = Path(scratch)

        def publish_one(name: str) -> Pushed:
            app = fleet.apps[name]
            chart = work / "charts" / name
            caches = HelmCaches()  # the version is worked out with the files
            for relative, text in chart_files(app, caches).items():
                path = f"charts/{name}/{relative}"  # the files `gopc build` writes there, headers included
                (chart / relative).parent.mkdir(parents=True, exist_ok=True)
                (chart / relative).write_text(headed(path, text, origin_of(path, fleet, {})), encoding="utf-8")
            version = chart_version(app, caches)
            packages = work / "packages" / name
            packages.mkdir(parents=True)
            run_tool([helm, "package", str(chart), "--destination", str(packages)], f"helm package of chart `{name}` failed")
            archive = packages / f"{name}-{version}.tgz"
            push = [helm, "push", str(archive), url] + (["--plain-http"] if plain_http else [])
            run_tool(push, f"helm push of chart `{name}` {version} to {url} failed")
            return Pushed(name, version, f"{url}/{name}:{version}")

        with ThreadPoolExecutor(max_workers=PARALLEL_PUSHES) as pool:
            return list(pool.map(publish_one, sorted(fleet.apps)))
