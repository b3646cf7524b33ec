"""Benchmark runner: wall time and peak memory of `gopc` commands on generated fleets.

    python bench/run.py [--sizes 10,3,6 100,3,30 1000,3,60] [--repeat 3] [--commands check build rebuild render]
                        [--templated]

Each size (apps, envs, clusters) is generated with bench/fleetgen.py into a temp
dir; each command runs as a subprocess, `build` and `render` into a new directory
each time, `rebuild` over a tree built before it is timed (a build that changes nothing); the
table shows the best wall time of the repeats and the peak RSS (from wait4).

With `--templated` each size is also generated with a template and comprehensions
(`fleetgen.py --templated`), measured in the same run, and a line per command gives the
templated fleet's best time against the hand-written one's; the goal is within 10% (`> 10%` marks
a line over it, and the exit status is 1).
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
    "check": lambda fleet, out: ["check", "--no-cache", str(fleet)],
    "build": lambda fleet, out: ["build", "--no-cache", str(fleet), "-o", str(out)],
    "rebuild": lambda fleet, out: ["build", "--no-cache", str(fleet), "-o", str(out.with_name("rebuilt"))],
    "render": lambda fleet, out: ["render", "--no-cache", str(fleet), "--all-clusters", "-o", str(out)],
}


def measure(argv: list[str]) -> tuple[float, float, int]:
    start = time.perf_counter()
    process = subprocess.Popen(argv, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    _, status, usage = os.wait4(process.pid, 0)
    elapsed = time.perf_counter() - start
    return elapsed, usage.ru_maxrss / 1024, os.waitstatus_to_exitcode(status)


TOLERANCE = 0.10  # the templated fleet's best time may exceed the hand-written one's by this much


def measure_fleet(fleet: Path, work: Path, commands: list[str], repeat: int, label: str) -> dict[str, tuple[float, int]]:
    """Print a row per command and return its best wall time and exit status."""
    best_times = {}
    for name in commands:
        if name == "rebuild":
            subprocess.run(GOPC + COMMANDS[name](fleet, work / name), check=True, capture_output=True)
        runs = [measure(GOPC + COMMANDS[name](fleet, work / f"{name}-{run}")) for run in range(repeat)]
        best = min(runs)
        best_times[name] = best[0], best[2]
        print(f"{label:>30} {name:>8} {best[0]:>8.2f} {max(r[1] for r in runs):>8.0f} {best[2]:>5}")
    return best_times


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", nargs="+", default=["10,3,6", "100,3,30", "1000,3,60"])
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--commands", nargs="+", default=["check"], choices=list(COMMANDS))
    parser.add_argument("--templated", action="store_true", help="also measure the fleet written with templates and compare")
    args = parser.parse_args()
    print(f"{'apps,envs,clusters':>30} {'command':>8} {'best s':>8} {'peak MB':>8} {'exit':>5}")
    over = False
    for size in args.sizes:
        apps, envs, clusters = (int(part) for part in size.split(","))
        with tempfile.TemporaryDirectory() as tmp:
            variants = {"": False, " templated": True} if args.templated else {"": False}
            times = {}
            for suffix, templated in variants.items():
                fleet = Path(tmp) / f"fleet{suffix.strip()}"
                generate(fleet, apps, envs, clusters, templated=templated)
                work = Path(tmp) / f"out{suffix.strip()}"
                work.mkdir()
                times[suffix] = measure_fleet(fleet, work, args.commands, args.repeat, size + suffix)
            if args.templated:
                for name in args.commands:
                    (templated, failed), (written, failed_too) = times[" templated"][name], times[""][name]
                    ratio = templated / written - 1
                    over |= ratio > TOLERANCE or bool(failed or failed_too)
                    mark = "  failed" if failed or failed_too else f"  > {TOLERANCE:.0%}" if ratio > TOLERANCE else ""
                    print(f"{size + ' templated vs written':>30} {name:>8} {ratio:>+8.1%}{mark}")
    return 1 if over else 0


if __name__ == "__main__":
    sys.exit(main())
