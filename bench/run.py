"""Benchmark runner: wall time and peak memory of `gopc` commands on generated fleets.

    python bench/run.py [--sizes 10,3,6 100,3,30 1000,3,60] [--repeat 3] [--commands check build rebuild render]

Each size (apps, envs, clusters) is generated with bench/fleetgen.py into a temp
dir; each command runs as a subprocess, `build` and `render` into a new directory
each time, `rebuild` over a tree built before it is timed (a build that changes nothing); the
table shows the best wall time of the repeats and the peak RSS (from wait4).
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).parent))
from fleetgen import generate  # noqa: E402

GOPC = [sys.executable, "-m", "gop.compiler.cli"]
# out: a directory of its own for each run; `rebuild` runs over one tree built before it is timed (nothing changes)
COMMANDS = {
    "check": lambda fleet, out: ["check", str(fleet)],
    "build": lambda fleet, out: ["build", str(fleet), "-o", str(out)],
    "rebuild": lambda fleet, out: ["build", str(fleet), "-o", str(out.with_name("rebuilt"))],
    "render": lambda fleet, out: ["render", str(fleet), "--all-clusters", "-o", str(out)],
}


def measure(argv: list[str]) -> tuple[float, float, int]:
    start = time.perf_counter()
    process = subprocess.Popen(argv, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    _, status, usage = os.wait4(process.pid, 0)
    elapsed = time.perf_counter() - start
    return elapsed, usage.ru_maxrss / 1024, os.waitstatus_to_exitcode(status)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", nargs="+", default=["10,3,6", "100,3,30", "1000,3,60"])
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--commands", nargs="+", default=["check"], choices=list(COMMANDS))
    args = parser.parse_args()
    print(f"{'apps,envs,clusters':>20} {'command':>8} {'best s':>8} {'peak MB':>8} {'exit':>5}")
    for size in args.sizes:
        apps, envs, clusters = (int(part) for part in size.split(","))
        with tempfile.TemporaryDirectory() as tmp:
            fleet = Path(tmp) / "fleet"
            generate(fleet, apps, envs, clusters)
            for name in args.commands:
                if name == "rebuild":
                    subprocess.run(GOPC + COMMANDS[name](fleet, Path(tmp) / name), check=True, capture_output=True)
                runs = [measure(GOPC + COMMANDS[name](fleet, Path(tmp) / f"{name}-{run}")) for run in range(args.repeat)]
                best = min(runs)
                print(f"{size:>20} {name:>8} {best[0]:>8.2f} {max(r[1] for r in runs):>8.0f} {best[2]:>5}")


if __name__ == "__main__":
    main()
