"""`gopc chart add REPOSITORY CHART [--version V]`: vendor a chart gopc did not write.

Input: a Helm repository URL (https://..., or http:// on a test network) or an OCI registry
(oci://HOST/PATH), a chart name, an optional version or semver range (default: the latest
version), the program's root directory (`--root`, default `.`), and helm (`GOPC_HELM`, else `helm`
on PATH), which pulls the chart - the highest version the range matches - with the user's
credentials. Output: `vendor/charts/<chart>/<version>/` (the package, and the files check reads
from it: Chart.yaml, values.yaml, values.schema.json, crds/) and the chart's entry in
`charts.lock` (semantic/charts.py describes both); one line on stdout.

Invariants: a version already locked is never replaced: the same package again is a no-op (its
vendored files are restored), another package under that version is E0805 and nothing is
written; the vendored directory is replaced in one rename and the lock file written beside and
renamed, so a failed run leaves the program as it was; every failure is one span-less error
(E0904 no helm, E0804 helm could not pull, E0805, E0806, E0803, E0702, E0903), exit 2.
"""

from __future__ import annotations

import os
import shutil
import tempfile
from pathlib import Path

from gop.compiler.commands.publish import PublishError, find_tool, run_tool
from gop.compiler.commands.report import EXIT_OK, Reporter
from gop.compiler.diagnostics import codes
from gop.compiler.emit.yaml import dump_yaml
from gop.compiler.semantic.charts import (LOCK_FILE, LOCK_HEADER, MAX_PACKAGE_BYTES, ChartStoreError, LockEntry,
                                          chart_metadata, chart_name_problem, lock_document, normal_repository,
                                          package_digest, package_files, read_lock, repository_problem,
                                          vendored_chart)


def run(args, reporter: Reporter) -> int:
    """`gopc chart add ...`: one line on stdout naming the chart locked."""
    reporter.result_on_stdout = True
    try:
        entry, added = add_chart(Path(args.root), args.repository, args.chart, args.version, plain_http=args.plain_http)
    except ChartStoreError as error:
        return reporter.fail(error.code, error.message)
    except PublishError as error:  # find_tool: no helm
        return reporter.fail(error.code, str(error))
    state = "locked" if added else "already locked"
    print(f"{state}: {entry.chart} {entry.version} from {entry.repository} ({entry.digest}) in {entry.directory}")
    return EXIT_OK


def add_chart(root: Path, repository: str, chart: str, version: str | None, *,
              plain_http: bool = False) -> tuple[LockEntry, bool]:
    """Pull, then `vendor_package`."""
    repository = normal_repository(repository)
    problem = repository_problem(repository) or chart_name_problem(chart)
    if problem:
        raise ChartStoreError(codes.BAD_COMMAND_ARGUMENT, problem)
    if not root.is_dir():
        raise ChartStoreError(codes.BAD_COMMAND_ARGUMENT, f"the program's root directory `{root}` does not exist")
    entries = read_lock(root)  # a broken lock stops the command before the network is asked
    helm = find_tool("helm", "GOPC_HELM")
    return vendor_package(root, repository, chart, _pull(helm, repository, chart, version, plain_http), entries)


def vendor_package(root: Path, repository: str, chart: str, data: bytes,
                   entries: list[LockEntry]) -> tuple[LockEntry, bool]:
    """Check a pulled package against the lock's `entries`, vendor and lock it; the entry, and
    whether the lock changed."""
    what = f"the package of chart `{chart}` from {repository}"
    files = package_files(data, what)
    name, pulled_version = chart_metadata(files, what)
    if name != chart:
        raise ChartStoreError(codes.CHART_PACKAGE_INVALID, f"{what} is chart `{name}`, not `{chart}`")
    entry = LockEntry(repository, chart, pulled_version, package_digest(data))
    _check_against_lock(entry, entries)
    added = entry not in entries
    lock_text = dump_yaml([lock_document(entries + [entry])], header=LOCK_HEADER) if added else None
    try:
        _vendor(root, entry, data, files)
        if lock_text is not None:
            _write_lock(root, lock_text)
    except OSError as error:
        where = f" ({error.filename})" if error.filename else ""
        raise ChartStoreError(codes.CANNOT_WRITE_OUTPUT, f"cannot vendor {chart} {pulled_version}: "
                                                       f"{error.strerror or error}{where}") from None
    vendored_chart(root, entry)  # what check will read: the package and its files, as locked
    return entry, added


def _pull(helm: str, repository: str, chart: str, version: str | None, plain_http: bool) -> bytes:
    with tempfile.TemporaryDirectory(prefix="gopc-chart-") as scratch:
        if repository.startswith("oci://"):
            argv = [helm, "pull", f"{repository}/{chart}"] + (["--plain-http"] if plain_http else [])
        else:
            argv = [helm, "pull", chart, "--repo", repository]
        argv += (["--version", version] if version else []) + ["--destination", scratch]
        try:
            run_tool(argv, f"cannot pull chart `{chart}` from {repository}")
        except PublishError as error:  # helm's own "Error: " prefix would follow ours
            raise ChartStoreError(codes.CHART_PULL_FAILED, str(error).replace(": Error: ", ": ", 1)) from None
        packages = sorted(Path(scratch).glob("*.tgz"))
        if len(packages) != 1:
            raise ChartStoreError(codes.CHART_PULL_FAILED, f"helm pull of chart `{chart}` from {repository} wrote "
                                                         f"{len(packages)} packages, not one")
        if packages[0].stat().st_size > MAX_PACKAGE_BYTES:
            raise ChartStoreError(codes.CHART_PACKAGE_INVALID, f"the package of chart `{chart}` is larger than 16 MiB")
        return packages[0].read_bytes()


def _check_against_lock(entry: LockEntry, entries: list[LockEntry]) -> None:
    for locked in entries:
        if (locked.chart, locked.version) != (entry.chart, entry.version) or locked.digest == entry.digest:
            continue
        if locked.repository == entry.repository:
            raise ChartStoreError(codes.CHART_LOCK_CONFLICT,
                                  f"{entry.chart} {entry.version} from {entry.repository} has digest {entry.digest}, "
                                  f"but {LOCK_FILE} locks {locked.digest}: the published chart changed; delete its "
                                  f"entry from {LOCK_FILE} to accept the new package")
        raise ChartStoreError(codes.CHART_LOCK_CONFLICT,
                              f"{entry.chart} {entry.version} from {entry.repository} (digest {entry.digest}) is another "
                              f"package than the {entry.chart} {entry.version} from {locked.repository} that "
                              f"{LOCK_FILE} locks in {entry.directory}")


def _vendor(root: Path, entry: LockEntry, data: bytes, files: dict[str, bytes]) -> None:
    """Write the chart's directory beside its final place, then swap it in."""
    target = root / entry.directory
    target.parent.mkdir(parents=True, exist_ok=True)
    staging = Path(tempfile.mkdtemp(prefix=f".{entry.version}.gopc-", dir=target.parent))
    try:
        staging.chmod(0o755)  # mkdtemp's 0700 would hide the chart from the rest of the team's tools
        (staging / entry.package.name).write_bytes(data)
        for name, content in files.items():
            (staging / name).parent.mkdir(parents=True, exist_ok=True)
            (staging / name).write_bytes(content)
        if target.is_dir() and not target.is_symlink():
            shutil.rmtree(target)
        os.replace(staging, target)
    finally:
        if staging.exists():
            shutil.rmtree(staging)


def _write_lock(root: Path, text: str) -> None:
    path = root / LOCK_FILE
    partial = path.with_name(f".{LOCK_FILE}.gopc-partial")
    partial.write_text(text, encoding="utf-8")
    os.replace(partial, path)
