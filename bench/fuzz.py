"""A mutating fuzzer for the compiler: mutated programs through `gopc check`'s and `gopc fmt`'s code.

    python bench/fuzz.py [-n 100000] [--seed 1] [--timeout 5] [--out out/fuzz]

Seeds are the bundled example (examples/), the standard library (stdlib/) and every `.gop`
section of the golden tests (tests/golden/). Each input is a seed with one to three
mutations: characters replaced (ASCII and not), tokens deleted, duplicated or inserted,
a piece of another seed spliced in, deep nesting (brackets, braces, parentheses, unary
minus, string interpolations), huge numbers and quantities, unicode runs.

Each input runs, in one worker process, through what the command line runs: the analysis
of `gopc check` (the mutated file stands at the seed's own path, so imports resolve) and
`gopc fmt`'s `format_source`, whose output must parse without errors and be formatted
already. An input is counted as
  crash      an exception escaped, or a diagnostic says "internal error" (E0902)
  recursion  a RecursionError escaped
  fmt        fmt's output does not parse, or formatting it again changes it
  slow       it took more than --timeout seconds of CPU time, or three times that on the clock
             (then the worker is killed and restarted): CPU time, so that a busy machine
             does not make inputs slow
and saved to --out/<class>/<index>.gop, with the error in <index>.txt. At the end a
summary line per class; exit 1 when anything was found. Input `i` of a seed is the same on
every run (`--only i` runs one input again, in this process, with its traceback).

`tests/test_fuzz.py` runs the same mutations under Hypothesis for a few seconds per suite run.
"""

from __future__ import annotations

import argparse
import multiprocessing
import random
import re
import sys
import time
import traceback
from dataclasses import dataclass
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO / "tests"))

CLASSES = ("crash", "recursion", "fmt", "slow")


# ---- seeds ------------------------------------------------------------------------------


@dataclass(frozen=True)
class Seed:
    path: Path  # where the mutated text stands (imports resolve from its directory)
    text: str


def seeds() -> list[Seed]:
    import txtar

    found = [Seed(p, p.read_text(encoding="utf-8")) for p in sorted((REPO / "examples").rglob("*.gop"))]
    found += [Seed(REPO / "fuzz" / p.name, p.read_text(encoding="utf-8")) for p in sorted((REPO / "stdlib").glob("*.gop"))]
    for archive_path in sorted((REPO / "tests" / "golden").rglob("*.txtar")):
        archive = txtar.read(archive_path)
        for name, data in archive.sections:
            if name.endswith(".gop"):
                found.append(Seed(REPO / "fuzz" / archive_path.stem / name, data))
    return found


# ---- mutations --------------------------------------------------------------------------

_TOKEN = re.compile(r'"""[\s\S]*?"""|"[^"\n]*"|[A-Za-z_][A-Za-z0-9_-]*|\d[\w.]*|\S')
_FRAGMENTS = (
    "{", "}", "(", ")", "[", "]", ",", "=", ":", ".", "..", "?", "|", "+", "-", "*", "/", "%", "==", "!=",
    "\n", " ", "let ", "app ", "env ", "cluster ", "overlay ", "schema ", "type ", "where ", "not ", "in ",
    "and ", "or ", "exists ", "list[", "map[", "true", "false", '"', '"""', "${", "//", "///", "@", "0",
    "1", "-1", "1.5", "500m", "2Gi", "30s", "1h30m", "x", "web", "replicas", "image", "ports", "all",
)
_UNICODE = "\u00e9\u00df\u0301\u200b\u200d\u202e\ufeff\u2028\u3000\U0001f600\u0000\u0007\x7f\ufffd\u00a0\u0661"


def mutate(rng: random.Random, text: str, pool: list[Seed]) -> str:
    for _ in range(rng.randint(1, 3)):
        text = rng.choice(_MUTATIONS)(rng, text, pool)
    return text


def _at(rng: random.Random, text: str) -> int:
    return rng.randint(0, len(text))


def _replace_characters(rng, text, pool):
    chars = list(text)
    for _ in range(rng.randint(1, 8)):
        if not chars:
            break
        index = rng.randrange(len(chars))
        chars[index] = chr(rng.randint(0, 127)) if rng.random() < 0.8 else rng.choice(_UNICODE)
    return "".join(chars)


def _token_edit(rng, text, pool):
    tokens = list(_TOKEN.finditer(text))
    if not tokens:
        return text + rng.choice(_FRAGMENTS)
    token = rng.choice(tokens)
    start, end = token.span()
    choice = rng.randrange(4)
    if choice == 0:  # delete
        return text[:start] + text[end:]
    if choice == 1:  # duplicate
        return text[:end] + " " + token.group() + text[end:]
    if choice == 2:  # replace by a fragment
        return text[:start] + rng.choice(_FRAGMENTS) + text[end:]
    other = rng.choice(tokens)  # swap with another token's text
    return text[:start] + other.group() + text[end:]


def _splice(rng, text, pool):
    other = rng.choice(pool).text
    a, b = sorted((_at(rng, other), _at(rng, other)))
    at = _at(rng, text)
    if rng.random() < 0.5:  # replace a piece
        end = min(len(text), at + rng.randint(0, 200))
        return text[:at] + other[a:b] + text[end:]
    return text[:at] + other[a:b] + text[at:]


_NESTINGS = (
    ("(", ")"), ("[", "]"), ("{ a = ", " }"), ("-", ""), ("not ", ""), ("list[", "]"), ("map[string, ", "]"),
    ('"${', '}"'), ("a {\n", "\n}"), ("1 + (", ")"), ("x.", ""),
)


def _deep_nesting(rng, text, pool):
    opener, closer = rng.choice(_NESTINGS)
    depth = rng.choice((50, 200, 600, 1000, 3000))
    core = rng.choice(("1", "x", '"s"', "[]", ""))
    nested = opener * depth + core + (closer * depth if rng.random() < 0.9 else "")
    place = rng.random()
    if place < 0.5:
        return text + f"\nlet deep = {nested}\n"
    at = _at(rng, text)
    return text[:at] + nested + text[at:]


def _huge_number(rng, text, pool):
    digits = "".join(rng.choice("0123456789") for _ in range(rng.choice((19, 20, 40, 400, 4301, 5000, 20000))))
    digits = digits.lstrip("0") or "1"
    suffix = rng.choice(("", "", ".5", "e308", "e99999", "Gi", "m", "s", "h", "Ki", "E", "ms"))
    number = rng.choice(("", "-")) + digits + suffix
    tokens = [m for m in _TOKEN.finditer(text) if m.group()[0].isdigit()]
    if tokens and rng.random() < 0.7:
        start, end = rng.choice(tokens).span()
        return text[:start] + number + text[end:]
    return text + f"\nlet big = {number}\n"


def _unicode(rng, text, pool):
    run = "".join(rng.choice(_UNICODE) for _ in range(rng.randint(1, 10)))
    at = _at(rng, text)
    return text[:at] + run + text[at:]


def _repeat(rng, text, pool):
    """A piece of the text many times over (long lists, many declarations, long lines)."""
    a, b = sorted((_at(rng, text), _at(rng, text)))
    piece = text[a:min(b, a + 200)] or rng.choice(_FRAGMENTS)
    return text[:b] + piece * rng.choice((10, 30, 100)) + text[b:]


_MUTATIONS = (_replace_characters, _token_edit, _token_edit, _splice, _deep_nesting, _huge_number, _unicode, _repeat)


def case(pool: list[Seed], seed: int, index: int) -> tuple[Seed, str]:
    """Input `index` of a run: the same on every run with the same seed and seed files."""
    rng = random.Random(f"{seed}:{index}")
    base = rng.choice(pool)
    return base, mutate(rng, base.text, pool)


# ---- one input ------------------------------------------------------------------------------


def run_one(seed: Seed, text: str) -> tuple[str, str] | None:
    """(class, detail) when the input finds a problem, else None."""
    try:
        problem = _check(seed, text) or _fmt(seed, text)
    except RecursionError:
        return "recursion", traceback.format_exc(limit=-8)
    except Exception:
        return "crash", traceback.format_exc(limit=-8)
    return problem


def _check(seed: Seed, text: str) -> tuple[str, str] | None:
    from gop.compiler.session import analyse

    analysis = analyse([seed.path], {str(seed.path): text}, parse=_cached_parse)
    return _internal_errors(analysis.diagnostics)


def _fmt(seed: Seed, text: str) -> tuple[str, str] | None:
    from gop.compiler.diagnostics import has_errors
    from gop.compiler.syntax.formatter import format_source
    from gop.compiler.syntax.parser import parse

    result = format_source(seed.path.name, text)
    if result.text is None:
        return _internal_errors(result.diagnostics)
    reparsed = parse(seed.path.name, result.text)
    if has_errors(reparsed.diagnostics):
        return "fmt", "fmt's output does not parse:\n" + "\n".join(d.message for d in reparsed.diagnostics)
    again = format_source(seed.path.name, result.text)
    if again.text != result.text:
        return "fmt", "formatting fmt's output changes it"
    return None


def _internal_errors(diagnostics) -> tuple[str, str] | None:
    internal = [d for d in diagnostics if d.code == "E0902" or "internal error" in d.message]
    return ("crash", internal[0].message) if internal else None


_parsed: dict = {}


def _cached_parse(path: str, text: str):
    """The standard library parsed once (as the language server's cache does); the rest every time."""
    from gop.compiler.syntax.parser import parse

    if not path.startswith("<std>/"):
        return parse(path, text)
    if (path, text) not in _parsed:
        _parsed[path, text] = parse(path, text)
    return _parsed[path, text]


# ---- the worker and the run ---------------------------------------------------------------


def _worker(connection, seed: int) -> None:
    pool = seeds()
    while True:
        index = connection.recv()
        if index is None:
            return
        base, text = case(pool, seed, index)
        started = time.process_time()
        found = run_one(base, text)
        connection.send((found, time.process_time() - started))


class _Worker:
    def __init__(self, seed: int) -> None:
        context = multiprocessing.get_context("spawn")
        self.connection, child = context.Pipe()
        self.process = context.Process(target=_worker, args=(child, seed), daemon=True)
        self.process.start()

    def run(self, index: int, timeout: float):
        """(found, CPU seconds), or None when the worker took longer than `timeout` on the clock (it is then dead)."""
        self.connection.send(index)
        if self.connection.poll(timeout):
            try:
                return self.connection.recv()
            except EOFError:
                return ("crash", f"the worker died (exit code {self.process.exitcode})"), timeout
        self.stop()
        return None

    def stop(self) -> None:
        self.process.kill()
        self.process.join()


def fuzz(count: int, seed: int, timeout: float, out: Path, first: int = 0) -> dict[str, list[int]]:
    pool = seeds()
    found: dict[str, list[int]] = {name: [] for name in CLASSES}
    worker = _Worker(seed)
    started = time.monotonic()
    try:
        for index in range(first, first + count):
            result = worker.run(index, 3 * timeout)
            if result is None:
                worker = _Worker(seed)
                finding = "slow", f"longer than {3 * timeout} s on the clock"
            else:
                problem, seconds = result
                finding = None if problem is None and seconds <= timeout else \
                    problem or ("slow", f"{seconds:.1f} s of CPU time")
            if finding is not None:
                found[finding[0]].append(index)
                _save(out, finding[0], index, case(pool, seed, index), finding[1])
            done = index - first + 1
            if done % 1000 == 0 or (finding is not None and len(found[finding[0]]) <= 3):
                _progress(done, count, found, started)
        _progress(count, count, found, started)
    finally:
        worker.connection.send(None)
        worker.process.join(5)
        if worker.process.is_alive():
            worker.stop()
    return found


def _progress(done: int, count: int, found: dict[str, list[int]], started: float) -> None:
    counts = ", ".join(f"{name} {len(found[name])}" for name in CLASSES)
    print(f"{done}/{count} inputs in {time.monotonic() - started:.0f} s: {counts}", flush=True)


def _save(out: Path, kind: str, index: int, seed_and_text: tuple[Seed, str], detail: str) -> None:
    base, text = seed_and_text
    directory = out / kind
    directory.mkdir(parents=True, exist_ok=True)
    (directory / f"{index}.gop").write_text(text, encoding="utf-8", errors="surrogatepass")
    (directory / f"{index}.txt").write_text(f"seed file: {base.path}\n{detail}\n", encoding="utf-8")


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("-n", "--count", type=int, default=100_000)
    parser.add_argument("--first", type=int, default=0, help="index of the first input")
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--timeout", type=float, default=5.0, help="CPU seconds an input may take")
    parser.add_argument("--out", type=Path, default=REPO / "out" / "fuzz")
    parser.add_argument("--only", type=int, help="run input ONLY here, printing what it finds")
    args = parser.parse_args(argv)
    if args.only is not None:
        base, text = case(seeds(), args.seed, args.only)
        print(f"seed file {base.path}, {len(text)} characters")
        started = time.perf_counter()
        print(run_one(base, text) or "nothing found", f"({time.perf_counter() - started:.2f} s)")
        return 0
    found = fuzz(args.count, args.seed, args.timeout, args.out, args.first)
    for name in CLASSES:
        print(f"{name}: {len(found[name])}" + (f" (saved in {args.out / name})" if found[name] else ""))
    return 1 if any(found.values()) else 0


if __name__ == "__main__":
    sys.exit(main())
