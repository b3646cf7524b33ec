"""`gopc test PATH... [--run TEXT] [--junit FILE]`: run the program's `test` declarations.

Input: the PATHs (the program; .gop files alone: the tests in them, each run within its whole
program as `gopc check FILE` does), `--run` (only the tests whose name contains TEXT), `--junit FILE`.
Output: one line per test on stderr (`ok` or `FAIL`, then a summary; `-q` keeps only failures),
each failure an E1310 diagnostic through the reporter (text, or one JSON/SARIF document on
stdout), and with `--junit` a JUnit XML report (one `testcase` per test, its failures as
`failure` elements with the diagnostics' text). Exit 0 when every test passes, 1 when one fails
or the program has errors (no test runs then), 2 for a usage or I/O error.

The tests' semantics are `fleet.assertions`; this module renders each cluster's objects (with
Flux's own, as `render --include-flux` prints them) once, only for tests that read objects.
"""

from __future__ import annotations

import functools
import os
from pathlib import Path
from xml.etree import ElementTree

from gop.compiler.commands.report import EXIT_ERRORS, EXIT_OK, Reporter, checked
from gop.compiler.diagnostics import Diagnostic, codes
from gop.compiler.diagnostics.formats import render


def run(args, reporter: Reporter) -> int:
    from gop.compiler.fleet.assertions import run_test
    from gop.compiler.lower.repository import cluster_objects

    paths, files = _program_of(args.paths)
    analysis = checked(paths, reporter)
    if analysis is None:
        return EXIT_ERRORS
    tests = [t for t in analysis.tests.tests
             if (args.only is None or args.only in t.name.plain_value) and (files is None or t.span.file in files)]
    problems: list[Diagnostic] = []

    @functools.cache
    def objects(cluster: str) -> list[dict]:
        found, lowering_problems = cluster_objects(analysis, cluster, include_flux=True)
        problems.extend(lowering_problems)
        return found

    sources = analysis.program.sources
    results = []
    for test in tests:
        failures = run_test(analysis.tests, test, analysis.fleet, objects, sources)
        if problems:
            reporter.report(problems, sources)
            return EXIT_ERRORS
        results.append((test, failures))
        if failures:
            reporter.say(f"FAIL  {test.name.plain_value}")
            reporter.report(failures, sources)
        else:
            reporter.say(f"ok    {test.name.plain_value}")
    failed = sum(1 for _, failures in results if failures)
    where = " in the files named" if files is not None else " in the program"
    reporter.say(_summary(len(results), failed) if results else
                 "no tests" + (f" match --run {args.only!r}" if args.only is not None else where))
    if args.junit is not None:
        try:
            _write_junit(Path(args.junit), results, analysis)
        except OSError as error:
            return reporter.fail(codes.CANNOT_WRITE_OUTPUT, f"cannot write the JUnit report {args.junit}: {error.strerror or error}")
    return EXIT_ERRORS if failed else EXIT_OK


def _program_of(paths: list[str]) -> tuple[list, set[str] | None]:
    """What to analyse, and whose tests to run: files alone (what an editor or a hook passes) are
    run within the whole program each belongs to, as `gopc check FILE` checks them; else every test."""
    from gop.compiler.semantic.loader import display_path, enclosing_program

    if not all(os.path.isfile(path) for path in paths):
        return list(paths), None
    files = [Path(path).resolve() for path in paths]
    programs = sorted({enclosing_program(file) for file in files})
    return [*programs, *files], {display_path(file) for file in files}


def _summary(total: int, failed: int) -> str:
    return f"{total} test{'s' if total != 1 else ''}: {total - failed} passed, {failed} failed"


def _write_junit(path: Path, results, analysis) -> None:
    """JUnit XML as CI servers read it (Jenkins, GitLab, GitHub test reporters): one suite, a
    `testcase` per test named by the test and classed by its file, a `failure` per failing test."""
    from gop.compiler.semantic.loader import display_path

    failed = sum(1 for _, failures in results if failures)
    suites = ElementTree.Element("testsuites", name="gopc test", tests=str(len(results)), failures=str(failed), errors="0")
    suite = ElementTree.SubElement(suites, "testsuite", name=display_path(analysis.program.root), tests=str(len(results)),
                                   failures=str(failed), errors="0", skipped="0")
    sources = analysis.program.sources
    for test, failures in results:
        line = sources[test.span.file].position(test.span.start).line + 1
        case = ElementTree.SubElement(suite, "testcase", name=test.name.plain_value, classname=test.span.file,
                                      file=test.span.file, line=str(line))
        if failures:
            failure = ElementTree.SubElement(case, "failure", type=codes.TEST_FAILED,
                                             message=f"{len(failures)} assertion{'s' if len(failures) != 1 else ''} failed: "
                                                     + failures[0].message)
            failure.text = render("text", failures, sources, colour=False, origin="gopc test")
    ElementTree.indent(suites)
    path.write_bytes(ElementTree.tostring(suites, encoding="utf-8", xml_declaration=True) + b"\n")
