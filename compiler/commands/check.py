"""`gopc check PATH...`: analyse a program and report its diagnostics.

Input: the PATHs. Output: the diagnostics through the run's reporter (nothing else); exit 0
clean or warnings only, 1 errors, 2 a file that cannot be read (E09xx).
"""

from __future__ import annotations

from gop.compiler.commands.report import Reporter, exit_code


def run(args, reporter: Reporter) -> int:
    from gop.compiler.session import analyse_and_keep

    analysis = analyse_and_keep(args.paths)
    reporter.report(analysis.diagnostics, analysis.program.sources)
    return exit_code(analysis.diagnostics)
