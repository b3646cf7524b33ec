"""Render every cluster of a program in one process (what `gopc render --cluster C` does, for all C).

    python bench/render_all.py PROGRAM_DIR
"""

from __future__ import annotations

import sys

from gop.compiler.build import cluster_objects
from gop.compiler.driver import analyse
from gop.compiler.yamlstream import dump_all


def main() -> int:
    analysis = analyse(sys.argv[1:2])
    if any(d.is_error for d in analysis.diagnostics):
        return 1
    for cluster in analysis.fleet.clusters:
        objects, problems = cluster_objects(analysis, cluster, include_flux=False)
        if problems:
            return 1
        dump_all(objects)
    return 0


if __name__ == "__main__":
    sys.exit(main())
