"""Benchmark runner: wall time and peak memory of `gopc` commands on generated fleets.

    python bench/run.py [--sizes 10,3,6 100,3,30 1000,3,60] [--repeat 3] [--commands check build rebuild render]
                        [--templated] [--with releases resources tenants]

Each size (apps, envs, clusters) is generated with bench/fleetgen.py into a temp
dir; each command runs as a subprocess, `build` and `render` into a new directory
each time, `rebuild` over a tree built before it is timed (a build that changes nothing); the
table shows the best wall time of the repeats, the CPU seconds (user + system, the command's
own and its children's: helm for releases) of that run, and the peak RSS (from wait4).

With `--templated` each size is also generated with a template and comprehensions
(`fleetgen.py --templated`), measured in the same run, and a line per command gives the
templated fleet's best time against the hand-written one's; the goal is within 10% (`> 10%` marks
a line over it, and the exit status is 1).

With `--with FEATURE ...` (releases, resources, tenants: `fleetgen.py --with`) each size is also
generated with each feature (the same number of units, a share of them releases or resources, or
the same apps with tenants), and a line per command gives its best CPU seconds against the plain
fleet's: the budget is no per-unit blow-up, within 10% as well. `render` of releases runs helm
(`.tools/bin` is put on PATH): one `helm template` per release and distinct values.
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
from fleetgen import FEATURES, generate  # noqa: E402

GOPC = [sys.executable, "-m", "gop.compiler.cli"]
TOOLS = Path(__file__).resolve().parent.parent / ".tools" / "bin"  # helm, for rendering releases
# out: a directory of its own for each run; `rebuild` runs over one tree built before it is timed (nothing changes)
COMMANDS = {
    "check": lambda fleet, out: ["check", "--no-cache", str(fleet)],
    "build": lambda fleet, out: ["build", "--no-cache", str(fleet), "-o", str(out)],
    "rebuild": lambda fleet, out: ["build", "--no-cache", str(fleet), "-o", str(out.with_name("rebuilt"))],
    "render": lambda fleet, out: ["render", "--no-cache", str(fleet), "--all-clusters", "-o", str(out)],
}


ENV = dict(os.environ, PATH=f"{TOOLS}{os.pathsep}{os.environ.get('PATH', '')}")


def measure(argv: list[str]) -> tuple[float, float, int, float]:
    """Wall seconds, peak MB, exit status and CPU seconds of one run."""
    start = time.perf_counter()
    process = subprocess.Popen(argv, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, env=ENV)
    _, status, usage = os.wait4(process.pid, 0)
    elapsed = time.perf_counter() - start
    return elapsed, usage.ru_maxrss / 1024, os.waitstatus_to_exitcode(status), usage.ru_utime + usage.ru_stime


TOLERANCE = 0.10  # the templated fleet's best time may exceed the hand-written one's by this much


def measure_fleet(fleet: Path, work: Path, commands: list[str], repeat: int, label: str) -> dict[str, tuple[float, int, float]]:
    """Print a row per command and return its best wall time, exit status and that run's CPU seconds."""
    best_times = {}
    for name in commands:
        if name == "rebuild":
            subprocess.run(GOPC + COMMANDS[name](fleet, work / name), check=True, capture_output=True, env=ENV)
        runs = [measure(GOPC + COMMANDS[name](fleet, work / f"{name}-{run}")) for run in range(repeat)]
        best = min(runs)
        best_times[name] = best[0], best[2], best[3]
        print(f"{label:>30} {name:>8} {best[0]:>8.2f} {best[3]:>8.2f} {max(r[1] for r in runs):>8.0f} {best[2]:>5}",
              flush=True)
    return best_times


def compare(times: dict, variant: str, commands: list[str], size: str, index: int) -> bool:
    """Print the variant's figure (0: wall, 2: CPU seconds) against the plain fleet's per command;
    True when one is over TOLERANCE or failed."""
    over = False
    for name in commands:
        measured, plain = times[variant][name], times[""][name]  # (wall, exit status, CPU seconds)
        ratio = measured[index] / plain[index] - 1
        failed, failed_too = measured[1], plain[1]
        over |= ratio > TOLERANCE or bool(failed or failed_too)
        mark = "  failed" if failed or failed_too else f"  > {TOLERANCE:.0%}" if ratio > TOLERANCE else ""
        print(f"{size + variant + ' vs plain':>30} {name:>8} {ratio:>+8.1%}{mark}")
    return over


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", nargs="+", default=["10,3,6", "100,3,30", "1000,3,60"])
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--commands", nargs="+", default=["check"], choices=list(COMMANDS))
    parser.add_argument("--templated", action="store_true", help="also measure the fleet written with templates and compare")
    parser.add_argument("--with", dest="features", nargs="+", default=[], choices=FEATURES,
                        help="also measure the fleet with each of these features and compare its CPU seconds")
    args = parser.parse_args()
    print(f"# load average {os.getloadavg()[0]:.2f}, {os.cpu_count()} cores")
    print(f"{'apps,envs,clusters':>30} {'command':>8} {'best s':>8} {'cpu s':>8} {'peak MB':>8} {'exit':>5}")
    variants = {"": {}}  # label suffix: fleetgen.generate's keyword arguments
    if args.templated:
        variants[" templated"] = {"templated": True}
    for feature in args.features:
        variants[f" {feature}"] = {"features": frozenset([feature])}
    over = False
    for size in args.sizes:
        apps, envs, clusters = (int(part) for part in size.split(","))
        with tempfile.TemporaryDirectory() as tmp:
            times = {}
            for suffix, options in variants.items():
                fleet = Path(tmp) / f"fleet{suffix.strip()}"
                generate(fleet, apps, envs, clusters, **options)
                work = Path(tmp) / f"out{suffix.strip()}"
                work.mkdir()
                times[suffix] = measure_fleet(fleet, work, args.commands, args.repeat, size + suffix)
            for suffix in variants:
                if suffix:  # the templated fleet by wall time (its goal since #14), the features by CPU time
                    over |= compare(times, suffix, args.commands, size, 0 if suffix == " templated" else 2)
    return 1 if over else 0


if __name__ == "__main__":
    sys.exit(main())
